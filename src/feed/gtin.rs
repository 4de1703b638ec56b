//! GS1 GTIN recognition: which merchant barcodes are real GTIN-8/12/13/14
//! codes (length plus the mod-10 check digit).
//!
//! Pure functions over strings; this module does not decide where a barcode
//! goes in a feed, only whether it is a valid GTIN.

/// The GTIN lengths GS1 defines (GTIN-8, UPC-A/GTIN-12, EAN/GTIN-13, GTIN-14).
const GTIN_LENGTHS: [usize; 4] = [8, 12, 13, 14];

/// Whether `code` is exactly 8, 12, 13 or 14 ASCII digits whose last digit is
/// the correct GS1 mod-10 check digit.
pub fn is_valid_gtin(code: &str) -> bool {
    let bytes = code.as_bytes();
    if !GTIN_LENGTHS.contains(&bytes.len()) || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let (body, check) = bytes.split_at(bytes.len() - 1);
    gs1_check_digit(body) == check[0] - b'0'
}

/// The GS1 check digit for `body` (all digits but the last): weights 3 and 1
/// alternate starting with 3 at the digit next to the check digit.
fn gs1_check_digit(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let digit = u32::from(b - b'0');
            if i % 2 == 0 { digit * 3 } else { digit }
        })
        .sum();
    // `sum % 10` is below 10, so the result always fits a u8.
    ((10 - sum % 10) % 10) as u8
}

/// The GTIN inside a merchant barcode, if it is one: surrounding whitespace
/// and inner spaces or dashes (`0 12345 67890 5`, `978-0-306-40615-7`) are
/// removed, and the remaining digits must pass [`is_valid_gtin`].
pub fn gtin_from_barcode(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    if is_valid_gtin(trimmed) {
        return Some(trimmed.to_owned());
    }
    let compact: String = trimmed.chars().filter(|c| *c != ' ' && *c != '-').collect();
    is_valid_gtin(&compact).then_some(compact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_gtins_with_a_valid_length_digits_and_check_digit() {
        let cases = [
            // (code, valid, why)
            ("96385074", true, "GTIN-8"),
            ("96385075", false, "GTIN-8 with wrong check digit"),
            ("036000291452", true, "UPC-A / GTIN-12"),
            ("036000291453", false, "GTIN-12 with wrong check digit"),
            ("4006381333931", true, "EAN-13 / GTIN-13"),
            ("9780306406157", true, "ISBN-13"),
            ("4006381333932", false, "GTIN-13 with wrong check digit"),
            ("00012345600012", true, "GTIN-14 from the ACP example"),
            ("10012345678902", true, "GTIN-14"),
            ("10012345678903", false, "GTIN-14 with wrong check digit"),
            ("00000000", true, "all zeros has check digit 0"),
            ("", false, "empty"),
            ("1234567", false, "7 digits"),
            ("123456789", false, "9 digits"),
            ("12345678901", false, "11 digits"),
            ("123456789012345", false, "15 digits"),
            ("03600029145X", false, "non-digit"),
            ("0360002914 2", false, "inner space"),
            ("٣٦٠٠٠٢٩١٤٥٢", false, "non-ASCII digits"),
        ];
        for (code, valid, why) in cases {
            assert_eq!(is_valid_gtin(code), valid, "{why}: {code:?}");
        }
    }

    #[test]
    fn barcodes_are_normalised_before_the_gtin_check() {
        assert_eq!(
            gtin_from_barcode(" 036000291452 ").as_deref(),
            Some("036000291452")
        );
        assert_eq!(
            gtin_from_barcode("0 36000 29145 2").as_deref(),
            Some("036000291452")
        );
        assert_eq!(
            gtin_from_barcode("978-0-306-40615-7").as_deref(),
            Some("9780306406157")
        );
        assert_eq!(gtin_from_barcode("978-0-306-40615-8"), None);
        assert_eq!(gtin_from_barcode("SKU-123"), None);
        assert_eq!(gtin_from_barcode(""), None);
    }
}
