//! The one rule every text the service receives obeys, whatever the field:
//! no control character but a tab and line breaks (which multi-line fields
//! such as notes hold). A NUL byte would be refused by PostgreSQL and
//! stored by SQLite; other control characters corrupt logs and exports.
//! The request readers (JSON bodies, query strings, token requests, the
//! workspace's forms) apply it before anything else reads the values, so
//! that both databases give the same answer.

use serde_json::Value;

/// What the refusal says, next to the field's name.
pub const REFUSAL: &str = "must not contain control characters (such as U+0000)";

/// Whether `c` is refused in received text.
pub fn forbidden(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Whether `text` holds a refused character.
pub fn refused(text: &str) -> bool {
    text.chars().any(forbidden)
}

/// The first name whose name or value holds a refused character, among
/// decoded pairs (a query string, a form).
pub fn first_refused_pair<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<String> {
    pairs
        .into_iter()
        .find(|(name, value)| refused(name) || refused(value))
        .map(|(name, _)| name.chars().filter(|c| !forbidden(*c)).collect())
}

/// Whether a JSON text may hold a refused character: a cheap scan of its
/// bytes (escapes `\b`, `\f`, `\u00XX`; raw DEL and C1 characters), so that
/// ordinary bodies are not parsed twice.
pub fn json_may_hold_refused(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => match bytes.get(i + 1) {
                Some(b'b' | b'f') => return true,
                Some(b'u') => {
                    let code = bytes
                        .get(i + 2..i + 6)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u32::from_str_radix(h, 16).ok());
                    if code.and_then(char::from_u32).is_some_and(forbidden) {
                        return true;
                    }
                    i += 6;
                    continue;
                }
                _ => i += 2,
            },
            0x7f => return true,
            0xc2 if bytes.get(i + 1).is_some_and(|b| (0x80..=0x9f).contains(b)) => return true,
            _ => i += 1,
        }
    }
    false
}

/// Every field (as `parent.name`, `children[0].first_name`) whose name or
/// text holds a refused character.
pub fn refused_in_json(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    walk(value, String::new(), &mut found);
    found
}

fn walk(value: &Value, path: String, found: &mut Vec<String>) {
    let here = |path: &str| {
        if path.is_empty() {
            "body".to_owned()
        } else {
            path.to_owned()
        }
    };
    match value {
        Value::String(text) if refused(text) => found.push(here(&path)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, format!("{path}[{i}]"), found);
            }
        }
        Value::Object(fields) => {
            for (name, item) in fields {
                let clean: String = name.chars().filter(|c| !forbidden(*c)).collect();
                let child = if path.is_empty() {
                    clean
                } else {
                    format!("{path}.{clean}")
                };
                if refused(name) {
                    found.push(here(&child));
                } else {
                    walk(item, child, found);
                }
            }
        }
        _ => {}
    }
}

/// serde says "missing field `x`" at the parent's path; users want the path
/// of the field itself. Positions ("at line 1 column 9") are dropped.
pub fn describe(path: &str, message: &str) -> (String, String) {
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned();
    let join = |parent: &str, child: &str| {
        if parent.is_empty() || parent == "." {
            child.to_owned()
        } else {
            format!("{parent}.{child}")
        }
    };
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        return (join(path, name), "is required".to_owned());
    }
    if message.starts_with("unknown field `") {
        // The path already ends with the unknown field's name.
        return (path.to_owned(), format!("is not a known field ({message})"));
    }
    let field = if path.is_empty() || path == "." {
        "body".to_owned()
    } else {
        path.to_owned()
    };
    (field, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_and_tabs_pass_other_controls_do_not() {
        assert!(!refused("deux lignes\r\nsuite\tfin"));
        for c in ['\0', '\u{7}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}'] {
            assert!(refused(&format!("a{c}b")), "{:?}", c);
        }
        assert!(!refused("Émilie « Zoé » — 😀"));
    }

    #[test]
    fn the_scan_finds_every_escape_of_a_control_and_nothing_else() {
        for body in [
            r#"{"a":"x\u0000"}"#,
            r#"{"a":"\u001B"}"#,
            r#"{"a":"\b"}"#,
            r#"{"a":"\f"}"#,
            "{\"a\":\"\u{7f}\"}",
            "{\"a\":\"\u{85}\"}",
            r#"{"a":"\u009f"}"#,
        ] {
            assert!(json_may_hold_refused(body.as_bytes()), "{body}");
        }
        for body in [
            r#"{"a":"x\n\t\r\\u0000\"é\u00e9"}"#,
            r#"{"a":"\\b"}"#,
            "{\"a\":\"é à ç\"}",
        ] {
            assert!(!json_may_hold_refused(body.as_bytes()), "{body}");
        }
    }

    #[test]
    fn the_walk_names_each_field_by_its_path() {
        let value: Value = serde_json::from_str(
            r#"{"parent":{"name":"a\u0000"},"children":[{"x":"ok"},{"first_name":"\u0007"}],
                "ok":"fine\n","k\u0000":"v"}"#,
        )
        .unwrap();
        let mut found = refused_in_json(&value);
        found.sort();
        assert_eq!(found, ["children[1].first_name", "k", "parent.name"]);
    }

    #[test]
    fn pairs_are_named_by_their_name() {
        let pairs = [("email", "a@b.fr"), ("next", "/app/\0")];
        assert_eq!(first_refused_pair(pairs).as_deref(), Some("next"));
        assert_eq!(first_refused_pair([("q", "x")]), None);
    }
}
