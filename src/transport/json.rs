//! JSON as every HTTP door writes it: one escaper, one message object, one batch body.
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

use crate::hub::Replay;

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

/// The object that tells a streaming client it missed messages: `{"reset":true,"last":N}`.
/// It has no `id`, so a client never mistakes it for a message.
pub fn reset_json(last: u64) -> String {
    format!("{{\"reset\":true,\"last\":{last}}}")
}

/// The body of a poll, long-poll or JSONP answer:
/// `{"messages":[{"id":..,"data":..},...],"last":N}`, with `"reset":true` added when the reader missed
/// messages. `last` is what the client passes as `after` next time.
pub fn batch_body(replay: &Replay) -> String {
    let messages_bytes: usize = replay.messages.iter().map(|m| m.json.len() + 1).sum();
    let mut out = String::with_capacity(messages_bytes + 48);
    out.push_str("{\"messages\":[");
    for (index, message) in replay.messages.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(&message.json);
    }
    out.push_str("],\"last\":");
    out.push_str(&replay.last.to_string());
    if replay.reset {
        out.push_str(",\"reset\":true");
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Message;
    use std::rc::Rc;

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
    fn message_and_reset_objects() {
        assert_eq!(message_json(7, "hi"), r#"{"id":7,"data":"hi"}"#);
        assert_eq!(message_json(0, ""), r#"{"id":0,"data":""}"#);
        assert_eq!(reset_json(42), r#"{"reset":true,"last":42}"#);
    }

    fn message(id: u64, data: &str) -> Rc<Message> {
        Rc::new(Message {
            id,
            data: data.to_string(),
            json: message_json(id, data),
        })
    }

    #[test]
    fn batch_bodies() {
        let empty = Replay {
            reset: false,
            messages: vec![],
            last: 9,
        };
        assert_eq!(batch_body(&empty), r#"{"messages":[],"last":9}"#);
        let two = Replay {
            reset: false,
            messages: vec![message(1, "a"), message(2, "<b>")],
            last: 2,
        };
        assert_eq!(
            batch_body(&two),
            r#"{"messages":[{"id":1,"data":"a"},{"id":2,"data":"\u003cb\u003e"}],"last":2}"#
        );
        let reset = Replay {
            reset: true,
            messages: vec![message(5, "x")],
            last: 5,
        };
        assert_eq!(
            batch_body(&reset),
            r#"{"messages":[{"id":5,"data":"x"}],"last":5,"reset":true}"#
        );
    }
}
