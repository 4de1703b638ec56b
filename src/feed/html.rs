//! HTML → plain text for feed descriptions.
//!
//! A small, dependency-free, single-pass converter for the merchant HTML that
//! platforms store as product descriptions. It is not an HTML parser and does
//! not try to be one: it never fails, never panics on malformed input, and
//! produces readable text:
//!
//! - tags are dropped; `<script>`, `<style>`, `<template>`, `<noscript>`
//!   and comments are dropped with their content;
//! - block elements (`p`, `div`, `br`, `li`, `h1`–`h6`, `tr`, lists, tables,
//!   …) become line breaks, list items become `- ` bullets indented by two
//!   spaces per nesting level, table cells are separated by a space;
//! - named entities (a common set) and numeric entities (`&#8217;`,
//!   `&#x2019;`) are decoded; unknown or malformed ones stay as written;
//! - whitespace runs collapse to one space, blank lines collapse to one line
//!   break, and the result is trimmed;
//! - a `<` that does not start a tag (`a < b`, `<3`) is kept as text.

/// Elements whose content is not text and is dropped entirely.
const RAW_TEXT_ELEMENTS: [&str; 4] = ["script", "style", "template", "noscript"];

/// Converts an HTML fragment to plain text (see the module docs for the rules).
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    html_to_text_into(html, &mut out);
    out
}

/// Like [`html_to_text`], appending to `out` so callers can reuse a buffer.
pub fn html_to_text_into(html: &str, out: &mut String) {
    let mut text = TextSink::new(out);
    let bytes = html.as_bytes();
    let mut i = 0;
    let mut list_depth: usize = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => {
                let Some(tag) = parse_tag(html, i) else {
                    text.push_char('<');
                    i += 1;
                    continue;
                };
                i = tag.end;
                match tag.kind {
                    TagKind::Comment => {}
                    TagKind::Element { name, closing } => {
                        if !closing && is_raw_text_element(name) {
                            i = skip_raw_text(html, i, name);
                            continue;
                        }
                        apply_element(&mut text, name, closing, &mut list_depth);
                    }
                }
            }
            b'&' => {
                let (decoded, consumed) = decode_entity(&html[i..]);
                match decoded {
                    Some(c) => text.push_char(c),
                    None => text.push_char('&'),
                }
                i += consumed;
            }
            _ => {
                // Copy the run of plain text up to the next markup character.
                let start = i;
                while i < bytes.len() && bytes[i] != b'<' && bytes[i] != b'&' {
                    i += 1;
                }
                // `<` and `&` are ASCII, so `start..i` is on char boundaries.
                text.push_str(&html[start..i]);
            }
        }
    }
    text.finish();
}

fn apply_element(text: &mut TextSink<'_>, name: &str, closing: bool, list_depth: &mut usize) {
    let lower = |candidates: &[&str]| candidates.iter().any(|c| name.eq_ignore_ascii_case(c));
    if lower(&["ul", "ol"]) {
        if closing {
            *list_depth = list_depth.saturating_sub(1);
        } else {
            *list_depth += 1;
        }
        text.line_break();
    } else if lower(&["li"]) {
        if closing {
            text.end_item();
        } else {
            text.bullet(list_depth.saturating_sub(1));
        }
    } else if lower(&["td", "th"]) {
        text.space();
    } else if lower(&[
        "br",
        "p",
        "div",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "caption",
        "blockquote",
        "pre",
        "hr",
        "section",
        "article",
        "aside",
        "header",
        "footer",
        "nav",
        "main",
        "figure",
        "figcaption",
        "address",
        "dl",
        "dt",
        "dd",
        "details",
        "summary",
    ]) {
        text.line_break();
    }
    // Inline elements (`b`, `span`, `a`, …) leave no trace.
}

fn is_raw_text_element(name: &str) -> bool {
    RAW_TEXT_ELEMENTS
        .iter()
        .any(|e| name.eq_ignore_ascii_case(e))
}

/// Position after the `</name …>` that closes a raw-text element, or the end
/// of input when it is never closed.
fn skip_raw_text(html: &str, from: usize, name: &str) -> usize {
    let bytes = html.as_bytes();
    let mut i = from;
    while let Some(offset) = memchr_lt(&bytes[i..]) {
        let lt = i + offset;
        let name_start = lt + 2;
        let name_end = name_start + name.len();
        if bytes.get(lt + 1) == Some(&b'/')
            && name_end <= bytes.len()
            && bytes[name_start..name_end].eq_ignore_ascii_case(name.as_bytes())
            && bytes
                .get(name_end)
                .is_none_or(|b| !b.is_ascii_alphanumeric())
        {
            return match bytes[name_end..].iter().position(|b| *b == b'>') {
                Some(gt) => name_end + gt + 1,
                None => bytes.len(),
            };
        }
        i = lt + 1;
    }
    bytes.len()
}

fn memchr_lt(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| *b == b'<')
}

enum TagKind<'a> {
    Comment,
    Element { name: &'a str, closing: bool },
}

struct Tag<'a> {
    kind: TagKind<'a>,
    /// Byte index just past the tag.
    end: usize,
}

/// Parses the markup starting at `html[start] == '<'`. Returns `None` when the
/// `<` does not start markup and should be shown as text. A tag that is never
/// closed with `>` runs to the end of the input (it is dropped, as browsers do).
fn parse_tag(html: &str, start: usize) -> Option<Tag<'_>> {
    let bytes = html.as_bytes();
    let next = *bytes.get(start + 1)?;
    if next == b'!' || next == b'?' {
        // Comment, doctype, CDATA or processing instruction.
        let end = if html[start..].starts_with("<!--") {
            html[start + 4..]
                .find("-->")
                .map_or(bytes.len(), |p| start + 4 + p + 3)
        } else {
            find_tag_end(bytes, start + 2)
        };
        return Some(Tag {
            kind: TagKind::Comment,
            end,
        });
    }
    let (closing, name_start) = if next == b'/' {
        (true, start + 2)
    } else {
        (false, start + 1)
    };
    if !bytes.get(name_start)?.is_ascii_alphabetic() {
        return None;
    }
    let name_len = bytes[name_start..]
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'-'))
        .unwrap_or(bytes.len() - name_start);
    let name = &html[name_start..name_start + name_len];
    Some(Tag {
        kind: TagKind::Element { name, closing },
        end: find_tag_end(bytes, name_start + name_len),
    })
}

/// Index after the `>` that ends a tag, skipping `>` inside quoted attribute
/// values; the end of input if there is none.
fn find_tag_end(bytes: &[u8], from: usize) -> usize {
    let mut quote: Option<u8> = None;
    let mut i = from;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => return i + 1,
            None => {}
        }
        i += 1;
    }
    bytes.len()
}

/// Decodes the entity at the start of `s` (which begins with `&`). Returns the
/// character and the number of bytes consumed, or `(None, 1)` when `s` does
/// not start with a complete, known entity.
fn decode_entity(s: &str) -> (Option<char>, usize) {
    const NOT_AN_ENTITY: (Option<char>, usize) = (None, 1);
    // The longest entity we decode (`&#x10FFFF;`, `&hellip;`) is short; a `;`
    // further away means this `&` is just text.
    let window = &s.as_bytes()[..s.len().min(12)];
    let Some(semi) = window.iter().position(|b| *b == b';') else {
        return NOT_AN_ENTITY;
    };
    let body = &s[1..semi];
    let consumed = semi + 1;
    if let Some(num) = body.strip_prefix('#') {
        let (digits, radix) = match num.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (num, 10),
        };
        // Checked by hand because `from_str_radix` would also accept a sign.
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return NOT_AN_ENTITY;
        }
        return match u32::from_str_radix(digits, radix) {
            Ok(code) if code != 0 => (
                Some(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)),
                consumed,
            ),
            _ => (Some(char::REPLACEMENT_CHARACTER), consumed),
        };
    }
    match named_entity(body) {
        Some(c) => (Some(c), consumed),
        None => NOT_AN_ENTITY,
    }
}

/// The named entities merchants actually use: markup escapes, typography,
/// common symbols and the whole Latin-1 set (accented letters).
fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "ensp" => '\u{2002}',
        "emsp" => '\u{2003}',
        "thinsp" => '\u{2009}',
        "shy" => '\u{ad}',
        "zwj" => '\u{200d}',
        "zwnj" => '\u{200c}',
        "mdash" => '—',
        "ndash" => '–',
        "minus" => '−',
        "hellip" => '…',
        "rsquo" => '’',
        "lsquo" => '‘',
        "rdquo" => '”',
        "ldquo" => '“',
        "sbquo" => '‚',
        "bdquo" => '„',
        "lsaquo" => '‹',
        "rsaquo" => '›',
        "bull" => '•',
        "prime" => '′',
        "Prime" => '″',
        "dagger" => '†',
        "Dagger" => '‡',
        "permil" => '‰',
        "trade" => '™',
        "euro" => '€',
        "larr" => '←',
        "rarr" => '→',
        "uarr" => '↑',
        "darr" => '↓',
        "harr" => '↔',
        "le" => '≤',
        "ge" => '≥',
        "ne" => '≠',
        "asymp" => '≈',
        "infin" => '∞',
        "check" => '✓',
        "star" => '☆',
        "hearts" => '♥',
        // Latin-1 (U+00A1–U+00FF).
        "iexcl" => '¡',
        "cent" => '¢',
        "pound" => '£',
        "curren" => '¤',
        "yen" => '¥',
        "brvbar" => '¦',
        "sect" => '§',
        "uml" => '¨',
        "copy" => '©',
        "ordf" => 'ª',
        "laquo" => '«',
        "not" => '¬',
        "reg" => '®',
        "macr" => '¯',
        "deg" => '°',
        "plusmn" => '±',
        "sup2" => '²',
        "sup3" => '³',
        "acute" => '´',
        "micro" => 'µ',
        "para" => '¶',
        "middot" => '·',
        "cedil" => '¸',
        "sup1" => '¹',
        "ordm" => 'º',
        "raquo" => '»',
        "frac14" => '¼',
        "frac12" => '½',
        "frac34" => '¾',
        "iquest" => '¿',
        "Agrave" => 'À',
        "Aacute" => 'Á',
        "Acirc" => 'Â',
        "Atilde" => 'Ã',
        "Auml" => 'Ä',
        "Aring" => 'Å',
        "AElig" => 'Æ',
        "Ccedil" => 'Ç',
        "Egrave" => 'È',
        "Eacute" => 'É',
        "Ecirc" => 'Ê',
        "Euml" => 'Ë',
        "Igrave" => 'Ì',
        "Iacute" => 'Í',
        "Icirc" => 'Î',
        "Iuml" => 'Ï',
        "ETH" => 'Ð',
        "Ntilde" => 'Ñ',
        "Ograve" => 'Ò',
        "Oacute" => 'Ó',
        "Ocirc" => 'Ô',
        "Otilde" => 'Õ',
        "Ouml" => 'Ö',
        "times" => '×',
        "Oslash" => 'Ø',
        "Ugrave" => 'Ù',
        "Uacute" => 'Ú',
        "Ucirc" => 'Û',
        "Uuml" => 'Ü',
        "Yacute" => 'Ý',
        "THORN" => 'Þ',
        "szlig" => 'ß',
        "agrave" => 'à',
        "aacute" => 'á',
        "acirc" => 'â',
        "atilde" => 'ã',
        "auml" => 'ä',
        "aring" => 'å',
        "aelig" => 'æ',
        "ccedil" => 'ç',
        "egrave" => 'è',
        "eacute" => 'é',
        "ecirc" => 'ê',
        "euml" => 'ë',
        "igrave" => 'ì',
        "iacute" => 'í',
        "icirc" => 'î',
        "iuml" => 'ï',
        "eth" => 'ð',
        "ntilde" => 'ñ',
        "ograve" => 'ò',
        "oacute" => 'ó',
        "ocirc" => 'ô',
        "otilde" => 'õ',
        "ouml" => 'ö',
        "divide" => '÷',
        "oslash" => 'ø',
        "ugrave" => 'ù',
        "uacute" => 'ú',
        "ucirc" => 'û',
        "uuml" => 'ü',
        "yacute" => 'ý',
        "thorn" => 'þ',
        "yuml" => 'ÿ',
        "OElig" => 'Œ',
        "oelig" => 'œ',
        "Scaron" => 'Š',
        "scaron" => 'š',
        _ => return None,
    })
}

/// Accumulates text while collapsing whitespace: runs of spaces become one
/// space, line breaks absorb surrounding spaces and collapse to one, and
/// nothing is emitted before the first or after the last visible character.
struct TextSink<'a> {
    out: &'a mut String,
    /// Length of `out` when we started, so leading separators are suppressed
    /// for this conversion even when appending to a non-empty buffer.
    start: usize,
    pending: Pending,
    /// A bullet prefix to write before the next visible character.
    bullet_indent: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Pending {
    Nothing,
    Space,
    LineBreak,
}

impl<'a> TextSink<'a> {
    fn new(out: &'a mut String) -> Self {
        let start = out.len();
        TextSink {
            out,
            start,
            pending: Pending::Nothing,
            bullet_indent: None,
        }
    }

    fn space(&mut self) {
        self.pending = self.pending.max(Pending::Space);
    }

    fn line_break(&mut self) {
        self.pending = Pending::LineBreak;
    }

    /// Ends a list item: a bullet that got no text (`<li></li>`) is dropped.
    fn end_item(&mut self) {
        self.pending = Pending::LineBreak;
        self.bullet_indent = None;
    }

    fn bullet(&mut self, indent: usize) {
        self.pending = Pending::LineBreak;
        self.bullet_indent = Some(indent);
    }

    fn push_str(&mut self, s: &str) {
        for c in s.chars() {
            self.push_char(c);
        }
    }

    fn push_char(&mut self, c: char) {
        if c.is_whitespace() {
            // Includes U+00A0 (`&nbsp;`): plain text has no non-breaking layout.
            self.space();
            return;
        }
        let at_start = self.out.len() == self.start;
        if !at_start {
            match self.pending {
                Pending::Nothing => {}
                Pending::Space => self.out.push(' '),
                Pending::LineBreak => self.out.push('\n'),
            }
        }
        if let Some(indent) = self.bullet_indent.take() {
            for _ in 0..indent {
                self.out.push_str("  ");
            }
            self.out.push_str("- ");
        }
        self.pending = Pending::Nothing;
        self.out.push(c);
    }

    fn finish(self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_tricky_html_to_readable_text() {
        let cases: &[(&str, &str, &str)] = &[
            ("plain text stays", "Hello world", "Hello world"),
            (
                "tags are dropped",
                "<p>Soft <b>cotton</b> tee</p>",
                "Soft cotton tee",
            ),
            (
                "paragraphs become lines",
                "<p>One</p><p>Two</p>",
                "One\nTwo",
            ),
            (
                "br becomes a line break",
                "a<br>b<br/>c<BR />d",
                "a\nb\nc\nd",
            ),
            (
                "headings are lines",
                "<h2>Care</h2>Machine wash",
                "Care\nMachine wash",
            ),
            (
                "whitespace collapses and trims",
                "  <div>\n\t Lots   of \n  space </div>  ",
                "Lots of space",
            ),
            (
                "blank lines collapse",
                "<div><p>A</p>\n\n<p></p><br><br><p>B</p></div>",
                "A\nB",
            ),
            (
                "script and style content is dropped",
                "<style>p{color:red}</style>Text<script>if (a<b) alert('x')</script> end",
                "Text end",
            ),
            (
                "raw text close tag is case-insensitive",
                "<SCRIPT type=\"x\">var s = '</scriptx>';</Script >after",
                "after",
            ),
            (
                "unclosed script drops the rest",
                "before<script>never closed",
                "before",
            ),
            ("comments are dropped", "a<!-- <p>hidden</p> -->b", "ab"),
            ("unclosed comment drops the rest", "a<!-- open", "a"),
            ("doctype is dropped", "<!DOCTYPE html><p>x</p>", "x"),
            (
                "less-than in text is kept",
                "a < b and 3<4, <3",
                "a < b and 3<4, <3",
            ),
            ("unclosed tag at the end is dropped", "Hello <b", "Hello"),
            (
                "unclosed elements are fine",
                "<p>Hello <b>world",
                "Hello world",
            ),
            (
                "greater-than inside attribute values",
                "<a title=\"a > b\" href='x>y'>link</a> text",
                "link text",
            ),
            (
                "list items become bullets",
                "<ul><li>Cotton</li><li>Wool</li></ul>",
                "- Cotton\n- Wool",
            ),
            (
                "nested lists are indented",
                "<ul><li>Fabric<ul><li>Cotton</li><li>Wool</li></ul></li><li>Care</li></ul>",
                "- Fabric\n  - Cotton\n  - Wool\n- Care",
            ),
            (
                "block elements inside list items keep the bullet",
                "<ul><li><p>Soft</p></li><li></li><li><span>Warm</span></li></ul>",
                "- Soft\n- Warm",
            ),
            (
                "list after text",
                "<p>Features:</p><ol><li>Light</li><li>Warm</li></ol>Done",
                "Features:\n- Light\n- Warm\nDone",
            ),
            (
                "table rows are lines and cells are spaced",
                "<table><tr><th>Size</th><th>Chest</th></tr><tr><td>S</td><td>36</td></tr></table>",
                "Size Chest\nS 36",
            ),
            (
                "named entities are decoded",
                "Tom &amp; Jerry &lt;3 &quot;hi&quot; &apos;x&apos; &copy; &reg; &trade;",
                "Tom & Jerry <3 \"hi\" 'x' © ® ™",
            ),
            (
                "typographic entities are decoded",
                "It&rsquo;s &ldquo;great&rdquo; &mdash; really&hellip; 5&ndash;7",
                "It’s “great” — really… 5–7",
            ),
            (
                "numeric entities are decoded",
                "It&#8217;s &#x2019;quoted&#X2019; &#65;",
                "It’s ’quoted’ A",
            ),
            ("nbsp is a space", "a&nbsp;&nbsp;b", "a b"),
            (
                "unknown and malformed entities stay as text",
                "&bogus; &amp &#xZZ; &#; AT&T & co &#+65;",
                "&bogus; &amp &#xZZ; &#; AT&T & co &#+65;",
            ),
            (
                "invalid code points become replacement",
                "&#0;&#xD800;&#x110000;",
                "\u{fffd}\u{fffd}\u{fffd}",
            ),
            (
                "entities do not create tags",
                "&lt;b&gt;bold&lt;/b&gt;",
                "<b>bold</b>",
            ),
            (
                "multibyte text survives",
                "<p>Größe: Ü — 日本</p>",
                "Größe: Ü — 日本",
            ),
            ("empty input", "", ""),
            ("only markup", "<div><br></div>", ""),
        ];
        for (why, html, want) in cases {
            assert_eq!(html_to_text(html), *want, "{why}: {html:?}");
        }
    }

    #[test]
    fn appending_keeps_existing_buffer_content() {
        let mut buf = String::from("prefix:");
        html_to_text_into("<p> x </p>", &mut buf);
        assert_eq!(buf, "prefix:x");
    }

    #[test]
    fn converts_a_realistic_shopify_description() {
        let html = include_str!("../../tests/fixtures/feed/description.html");
        let want = include_str!("../../tests/fixtures/feed/description.txt");
        assert_eq!(html_to_text(html), want.trim_end());
    }

    #[test]
    fn never_panics_on_truncated_markup() {
        let html = "<p>Caf&eacute; <a href=\"x\">l&#8217;or</a> &amp; <ul><li>x</li></ul><!-- c --> <script>s</script>";
        for end in (0..=html.len()).filter(|i| html.is_char_boundary(*i)) {
            let _ = html_to_text(&html[..end]);
        }
        assert_eq!(html_to_text(html), "Café l’or &\n- x");
    }
}
