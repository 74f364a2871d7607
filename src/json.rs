//! The shared JSON text writer: one escaper and the message object `{"id":N,"data":"..."}`.
//!
//! This is a leaf module: it imports nothing from the crate, so every layer may use it without pulling in
//! another. The hub builds each message's JSON with [`message_json`] when it is published; the doors in
//! [`crate::transport`] add what is theirs (batch bodies, the reset object) in [`crate::transport::json`].
//!
//! # One escaper for two contexts
//!
//! A message is turned into `{"id":N,"data":"..."}` once, when it is published
//! ([`crate::hub::Message::json`]), and then sent as is through every door. Two of those doors put the
//! object inside an HTML `<script>` (the iframe stream) or run it as JavaScript (JSONP), so the escaper
//! must produce text that is valid JSON (RFC 8259 §7) **and** harmless in those places:
//!
//! | character                  | written as              | why                                                |
//! |----------------------------|-------------------------|----------------------------------------------------|
//! | `"` and `\`                | `\"` and `\\`           | RFC 8259 §7: they must be escaped                  |
//! | U+0000–U+001F              | `\n` `\r` `\t` `\b` `\f` or `\u00XX` | RFC 8259 §7: control characters must be escaped |
//! | `<`                        | `\u003c`                | `</script>` would end the script element; `<!--` would open an HTML comment inside it (HTML "script data escaped" state) |
//! | `>`                        | `\u003e`                | the other half of `-->` and `<!-- ... -->` tricks  |
//! | `&`                        | `\u0026`                | harmless in a script, but not in XHTML or attributes; costs nothing |
//! | U+2028, U+2029             | `\u2028`, `\u2029`      | line terminators in JavaScript before ES2019: a raw one inside a string literal is a syntax error in older engines |
//!
//! Every one of these `\uHHHH` forms is ordinary JSON: a JSON parser reads back exactly the original
//! string. Everything else, including all other non-ASCII characters, is copied unchanged as UTF-8.
//!
//! The hostile string `</script><!--` + U+2028 + `"\` becomes
//! `\u003c/script\u003e\u003c!--\u2028\"\\`: no `<`, no raw line terminator, no unbalanced quote.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::string_slice,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::cast_possible_truncation,
    )
)]

/// Appends `s` to `out` as a JSON string literal, quotes included, escaped so the result is also safe
/// inside an HTML `<script>` element and a JavaScript source file (see the module docs for the table).
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            // RFC 8259 §7: quotation mark and reverse solidus must be escaped.
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            // RFC 8259 §7: control characters U+0000 through U+001F must be escaped; the short forms
            // where JSON has them, `\u00XX` otherwise.
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => push_unicode_escape(out, c),
            // HTML script context: `<` could start `</script>` or `<!--`; `>` and `&` for good measure.
            '<' | '>' | '&' => push_unicode_escape(out, ch),
            // JavaScript before ES2019 treats these as line terminators inside string literals.
            '\u{2028}' | '\u{2029}' => push_unicode_escape(out, ch),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `\uHHHH` for a character of the Basic Multilingual Plane.
fn push_unicode_escape(out: &mut String, ch: char) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let code = ch as u32;
    out.push_str("\\u");
    for shift in [12u32, 8, 4, 0] {
        let nibble = ((code >> shift) & 0xF) as usize;
        // `nibble` is masked to 0..=15, so `get` always finds a digit.
        if let Some(&digit) = HEX.get(nibble) {
            out.push(char::from(digit));
        }
    }
}

/// `s` as a JSON string literal (see [`push_json_string`]).
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_json_string(&mut out, s);
    out
}

/// The wire form of one message: `{"id":N,"data":"..."}`.
pub fn message_json(id: u64, data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 32);
    out.push_str("{\"id\":");
    out.push_str(&id.to_string());
    out.push_str(",\"data\":");
    push_json_string(&mut out, data);
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_copied() {
        assert_eq!(json_string("hello, wörld ✓ 😀"), "\"hello, wörld ✓ 😀\"");
    }

    #[test]
    fn rfc8259_required_escapes() {
        assert_eq!(json_string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(json_string("\n\r\t\u{08}\u{0C}"), r#""\n\r\t\b\f""#);
        assert_eq!(json_string("\u{0}\u{1}\u{1f}"), r#""\u0000\u0001\u001f""#);
        // DEL (0x7F) is not a JSON control character and is copied.
        assert_eq!(json_string("\u{7f}"), "\"\u{7f}\"");
    }

    #[test]
    fn html_and_javascript_hazards_are_escaped() {
        let hostile = "</script><!--\u{2028}\u{2029}\"\\&-->";
        let out = json_string(hostile);
        assert_eq!(
            out,
            r#""\u003c/script\u003e\u003c!--\u2028\u2029\"\\\u0026--\u003e""#
        );
        for forbidden in ['<', '>', '&', '\u{2028}', '\u{2029}'] {
            assert!(!out.contains(forbidden), "{forbidden:?} left in {out}");
        }
    }

    #[test]
    fn message_objects() {
        assert_eq!(message_json(7, "hi"), r#"{"id":7,"data":"hi"}"#);
        assert_eq!(message_json(0, ""), r#"{"id":0,"data":""}"#);
        assert_eq!(
            message_json(3, "</script>"),
            r#"{"id":3,"data":"\u003c/script\u003e"}"#
        );
    }
}
