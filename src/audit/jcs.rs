//! RFC 8785 JSON Canonicalization Scheme (JCS), restricted to what audit
//! records hold: objects, arrays, strings, booleans, null and integers.
//!
//! The canonical bytes are what gets signed, so they must be the same on
//! every machine and in every version: object members sorted by the UTF-16
//! code units of their names, no whitespace, strings escaped exactly as
//! ECMAScript's `JSON.stringify` does. Floats are refused rather than
//! formatted (ECMAScript number formatting is easy to get subtly wrong and
//! the record has no use for it), and so are integers outside the range a
//! JavaScript number holds exactly, which another JCS implementation could
//! not round-trip.

use serde_json::Value;

use super::AuditError;

/// The largest integer an IEEE 754 double holds exactly (2^53 - 1).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The canonical JSON text of `value`.
pub fn canonicalize(value: &Value) -> Result<String, AuditError> {
    let mut out = String::new();
    write_value(value, &mut out)?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut String) -> Result<(), AuditError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            let safe = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u <= MAX_SAFE_INTEGER,
                (None, Some(i)) => i.unsigned_abs() <= MAX_SAFE_INTEGER,
                (None, None) => false,
            };
            if !safe {
                return Err(AuditError::Number {
                    number: n.to_string(),
                });
            }
            // Integers print the same in Rust and ECMAScript; `-0` cannot
            // occur because it only exists as a float.
            out.push_str(&n.to_string());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            // JCS sorts by UTF-16 code units, not by UTF-8 bytes or code
            // points: they differ for characters above U+FFFF against
            // U+E000..U+FFFF.
            members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_value(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Escapes a string as ECMAScript's `JSON.stringify` does (RFC 8785 3.2.2.2).
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            // Everything else, including U+007F, U+2028 and non-BMP
            // characters, is written as itself (in UTF-8).
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(text: &str) -> String {
        canonicalize(&serde_json::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn sorts_keys_by_utf16_code_units() {
        // RFC 8785 section 3.2.3: the emoji (surrogate pair D83D DE00) sorts
        // before U+FB33 in UTF-16 although it is after it in code points.
        let input = r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#;
        let out = canon(input);
        let expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\"\u{1F600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
        assert_eq!(out, expected);
    }

    #[test]
    fn sorts_nested_objects_and_keeps_array_order() {
        let out = canon(r#"{ "b": [3, {"z": 1, "a": 2}], "a": {"y": null, "x": true} }"#);
        assert_eq!(out, r#"{"a":{"x":true,"y":null},"b":[3,{"a":2,"z":1}]}"#);
    }

    #[test]
    fn escapes_like_json_stringify() {
        let s: String = (0u8..0x20).map(char::from).collect();
        let out = canonicalize(&json!(s)).unwrap();
        assert_eq!(
            out,
            "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\""
        );
        // Quote and backslash are escaped; solidus, DEL, U+2028 and
        // non-ASCII are not.
        let out = canonicalize(&json!("\"\\/\u{7f}\u{2028}é€😀")).unwrap();
        assert_eq!(out, "\"\\\"\\\\/\u{7f}\u{2028}é€😀\"");
    }

    #[test]
    fn rfc8785_string_vector() {
        // From RFC 8785 section 3.2.2.2 (minus the number members).
        let out = canon(r#"{"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"}"#);
        assert_eq!(
            out,
            "{\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
        );
    }

    #[test]
    fn integers_only() {
        assert_eq!(
            canon("[0,-1,9007199254740991,-9007199254740991]"),
            "[0,-1,9007199254740991,-9007199254740991]"
        );
        for bad in ["1.5", "1.0", "1e2", "9007199254740992", "-9007199254740992"] {
            let v: Value = serde_json::from_str(bad).unwrap();
            assert!(
                matches!(canonicalize(&v), Err(AuditError::Number { .. })),
                "{bad} should be refused"
            );
        }
    }
}
