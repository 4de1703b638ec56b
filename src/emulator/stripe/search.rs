//! `GET /v1/payment_intents/search`: a subset of Stripe's search query
//! language and the `search_result` object.
//!
//! Supported: clauses `field:value` on `metadata['key']` (or
//! `metadata["key"]`), `status`, `currency` (quoted strings) and `amount`,
//! `created` (numbers, also with `>`, `<`, `>=`, `<=`); negation with `-`;
//! clauses joined by spaces or `AND`, or all by `OR` (never both). Anything
//! else, such as substring `~` matching or unknown fields, is rejected with
//! an `invalid_request_error` on `query`. New PaymentIntents only become
//! searchable after the configured index delay.

use serde_json::{Value, json};

use super::endpoint::Ctx;
use super::error::ApiError;
use super::form::{Allowed, Params};
use super::state::{Account, Intent};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Metadata(String),
    Status,
    Currency,
    Amount,
    Created,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Gt,
    Lt,
    Ge,
    Le,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    Str(String),
    Num(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    negated: bool,
    field: Field,
    op: Op,
    value: Val,
}

/// A parsed query: clauses that must all match, or any of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    clauses: Vec<Clause>,
    any: bool,
}

/// A validated search request.
#[derive(Debug, Clone)]
pub(crate) struct Search {
    query: Query,
    limit: usize,
    offset: usize,
    total_count: bool,
}

fn bad(reason: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("Invalid search query: {reason}. See https://stripe.com/docs/search#search-query-language for the syntax."))
        .param("query")
}

struct Lexer<'q> {
    chars: std::iter::Peekable<std::str::CharIndices<'q>>,
}

impl Lexer<'_> {
    fn skip_ws(&mut self) -> bool {
        let mut skipped = false;
        while self.chars.next_if(|(_, c)| c.is_whitespace()).is_some() {
            skipped = true;
        }
        skipped
    }

    fn word(&mut self) -> String {
        let mut out = String::new();
        while let Some((_, c)) = self
            .chars
            .next_if(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
        {
            out.push(c);
        }
        out
    }

    fn quoted(&mut self) -> Result<String, ApiError> {
        let Some((_, quote)) = self.chars.next_if(|(_, c)| *c == '\'' || *c == '"') else {
            return Err(bad("string values must be quoted"));
        };
        let mut out = String::new();
        loop {
            match self.chars.next() {
                None => return Err(bad("unterminated string")),
                Some((_, '\\')) => match self.chars.next() {
                    Some((_, c)) => out.push(c),
                    None => return Err(bad("unterminated string")),
                },
                Some((_, c)) if c == quote => return Ok(out),
                Some((_, c)) => out.push(c),
            }
        }
    }

    fn expect(&mut self, wanted: char) -> Result<(), ApiError> {
        match self.chars.next() {
            Some((_, c)) if c == wanted => Ok(()),
            Some((at, c)) => Err(bad(format_args!("unexpected `{c}` at position {at}"))),
            None => Err(bad(format_args!("expected `{wanted}`"))),
        }
    }

    fn clause(&mut self) -> Result<Clause, ApiError> {
        let negated = self.chars.next_if(|(_, c)| *c == '-').is_some();
        let name = self.word();
        let field = match name.as_str() {
            "metadata" => {
                self.expect('[')?;
                let key = self.quoted()?;
                self.expect(']')?;
                Field::Metadata(key)
            }
            "status" => Field::Status,
            "currency" => Field::Currency,
            "amount" => Field::Amount,
            "created" => Field::Created,
            "" => return Err(bad("expected a field name")),
            other => {
                return Err(bad(format_args!(
                    "`{other}` is not a supported search field for payment_intents"
                )));
            }
        };
        let op = match self.chars.next() {
            Some((_, ':')) => Op::Eq,
            Some((_, '>')) => {
                if self.chars.next_if(|(_, c)| *c == '=').is_some() {
                    Op::Ge
                } else {
                    Op::Gt
                }
            }
            Some((_, '<')) => {
                if self.chars.next_if(|(_, c)| *c == '=').is_some() {
                    Op::Le
                } else {
                    Op::Lt
                }
            }
            Some((_, '~')) => return Err(bad("substring matching (`~`) is not supported here")),
            _ => return Err(bad("expected an operator after the field")),
        };
        let numeric = matches!(field, Field::Amount | Field::Created);
        let value = if numeric {
            let digits = self.word();
            Val::Num(
                digits
                    .parse()
                    .map_err(|_| bad(format_args!("`{digits}` is not a number")))?,
            )
        } else {
            if op != Op::Eq {
                return Err(bad("comparison operators only apply to numeric fields"));
            }
            Val::Str(self.quoted()?)
        };
        Ok(Clause {
            negated,
            field,
            op,
            value,
        })
    }
}

/// Parses a query string.
pub(crate) fn parse(text: &str) -> Result<Query, ApiError> {
    let mut lexer = Lexer {
        chars: text.char_indices().peekable(),
    };
    let mut clauses = Vec::new();
    let mut joiner: Option<bool> = None;
    lexer.skip_ws();
    loop {
        clauses.push(lexer.clause()?);
        let spaced = lexer.skip_ws();
        if lexer.chars.peek().is_none() {
            break;
        }
        if !spaced {
            return Err(bad("clauses must be separated by spaces, AND or OR"));
        }
        let checkpoint = lexer.chars.clone();
        let word = lexer.word();
        let any = match word.to_ascii_uppercase().as_str() {
            "AND" if lexer.skip_ws() => Some(false),
            "OR" if lexer.skip_ws() => Some(true),
            _ => {
                lexer.chars = checkpoint;
                None
            }
        };
        let any = any.unwrap_or(false);
        match joiner {
            Some(previous) if previous != any => {
                return Err(bad("AND and OR cannot be combined in one query"));
            }
            _ => joiner = Some(any),
        }
    }
    Ok(Query {
        clauses,
        any: joiner.unwrap_or(false),
    })
}

fn matches(clause: &Clause, intent: &Intent) -> bool {
    let hit = match (&clause.field, &clause.value) {
        (Field::Metadata(key), Val::Str(v)) => intent.metadata.get(key) == Some(v),
        (Field::Status, Val::Str(v)) => intent.status == v,
        (Field::Currency, Val::Str(v)) => intent.currency.eq_ignore_ascii_case(v),
        (Field::Amount, Val::Num(n)) => compare(intent.amount, clause.op, *n),
        (Field::Created, Val::Num(n)) => compare(intent.created, clause.op, *n),
        _ => false,
    };
    hit != clause.negated
}

fn compare(left: i64, op: Op, right: i64) -> bool {
    match op {
        Op::Eq => left == right,
        Op::Gt => left > right,
        Op::Lt => left < right,
        Op::Ge => left >= right,
        Op::Le => left <= right,
    }
}

impl Query {
    fn accepts(&self, intent: &Intent) -> bool {
        if self.any {
            self.clauses.iter().any(|c| matches(c, intent))
        } else {
            self.clauses.iter().all(|c| matches(c, intent))
        }
    }
}

pub(crate) fn prepare(params: &Params) -> Result<Search, ApiError> {
    params.check_known(&[
        Allowed::Key("query"),
        Allowed::Key("limit"),
        Allowed::Key("page"),
        Allowed::List("expand"),
    ])?;
    let query = parse(params.required_str("query")?)?;
    let limit = params.opt_i64("limit")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("Invalid limit: must be between 1 and 100").param("limit"));
    }
    let offset = match params.opt_str("page") {
        None => 0,
        Some(page) => page
            .strip_prefix("page_")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                ApiError::invalid("Invalid page: not a valid search cursor").param("page")
            })?,
    };
    let total_count = (0..)
        .map_while(|i| params.raw(&format!("expand[{i}]")))
        .chain(params.raw("expand[]"))
        .any(|e| e == "total_count");
    Ok(Search {
        query,
        limit: usize::try_from(limit).unwrap_or(10),
        offset,
        total_count,
    })
}

pub(crate) fn run(search: &Search, account: &Account, ctx: &Ctx) -> Value {
    let mut hits: Vec<&Intent> = account
        .intents
        .iter()
        .filter(|i| i.searchable_at <= ctx.instant && search.query.accepts(i))
        .collect();
    hits.reverse();
    hits.sort_by_key(|i| std::cmp::Reverse(i.created));
    let total = hits.len();
    let page: Vec<Value> = hits
        .iter()
        .skip(search.offset)
        .take(search.limit)
        .map(|i| i.to_json(ctx.livemode))
        .collect();
    let end = search.offset + page.len();
    let has_more = end < total;
    let mut result = json!({
        "object": "search_result",
        "url": "/v1/payment_intents/search",
        "has_more": has_more,
        "data": page,
        "next_page": has_more.then(|| format!("page_{end}")),
    });
    if search.total_count {
        result["total_count"] = json!(total);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_equality_with_either_quote_parses() {
        let q = parse("metadata['checkout_session_id']:'cs_1'").unwrap();
        assert_eq!(q.clauses.len(), 1);
        assert_eq!(
            q.clauses[0].field,
            Field::Metadata("checkout_session_id".into())
        );
        assert_eq!(q.clauses[0].value, Val::Str("cs_1".into()));
        let q = parse(r#"metadata["k"]:"it\"s""#).unwrap();
        assert_eq!(q.clauses[0].value, Val::Str("it\"s".into()));
    }

    #[test]
    fn clauses_join_by_space_and_or_but_not_both() {
        let q = parse("status:'succeeded' AND amount>=100 currency:'usd'").unwrap();
        assert!(!q.any);
        assert_eq!(q.clauses.len(), 3);
        let q = parse("status:'succeeded' or status:'canceled'").unwrap();
        assert!(q.any);
        assert!(parse("status:'a' AND status:'b' OR status:'c'").is_err());
    }

    #[test]
    fn unsupported_syntax_is_rejected_on_the_query_param() {
        for bad in [
            "email:'x'",
            "metadata['k']~'x'",
            "status:succeeded",
            "amount:'10'",
            "status>'a'",
            "metadata['k':'v'",
            "",
            "status:'a'status:'b'",
        ] {
            let err = parse(bad).expect_err(bad);
            assert_eq!(err.param.as_deref(), Some("query"), "{bad}");
        }
    }
}
