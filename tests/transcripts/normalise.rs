//! What changes from one run of an example to the next, and how it is made to stand still.
//!
//! A transcript shows real bytes, but some of them belong to the run, not to the code:
//!
//! | value | example | becomes |
//! |---|---|---|
//! | an HTTP date (RFC 9110 §5.6.7, IMF-fixdate) | `Thu, 03 Dec 2026 16:28:31 GMT` | [`FIXED_DATE`] |
//! | a loopback port the system picked | `127.0.0.1:44051` | 36201, 36202, ... in order of first appearance |
//! | a message id (the hub starts each run's ids at the process start time in ms) | `1796315310609` | [`FIXED_FIRST_ID`] plus its distance from the run's smallest id |
//! | a random session id (32 hex digits) and its 8-digit short form | `03e2e7eb5e8ad3ec...` | a fixed value per session, in order of first appearance |
//!
//! Each replacement has the same length as what it replaces, so the byte counts that the examples print
//! (`---- response, 223 bytes ----`, `Content-Length: 73`) stay true. Durations are measurements: they are
//! left as measured, and [`mask_durations`] hides them only for the comparison.

use std::collections::HashMap;

/// The date every `Date:` header is given (29 bytes, like every IMF-fixdate).
pub const FIXED_DATE: &str = "Sun, 22 Nov 2026 03:10:47 GMT";
/// The id the smallest message id of a run becomes (13 digits, like every id of this century).
pub const FIXED_FIRST_ID: u64 = 1_795_317_046_847;
/// The first port a run's loopback addresses are given; the next ones count up from it.
pub const FIXED_FIRST_PORT: u16 = 36201;
/// Message ids are milliseconds since 1970 when their topic was created: between 2020 and 2049.
const ID_RANGE: std::ops::RangeInclusive<u64> = 1_577_836_800_000..=2_524_608_000_000;
const LOOPBACK: &str = "127.0.0.1:";
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Makes one whole run's output independent of the run: dates, ports, ids, session ids.
pub fn normalise(output: &str) -> String {
    let text = replace_dates(output);
    let text = replace_ports(&text);
    let text = replace_ids(&text);
    replace_sessions(&text)
}

/// Hides every duration (`1.00s`, `301.3ms`, `152.2µs`, `11.159008ms`) and the padding before it, for
/// comparing two runs: how long something took is measured, not specified.
pub fn mask_durations(text: &str) -> String {
    let mut masked = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let (before, from_digit) = rest.split_at(start);
        match duration_len(from_digit).filter(|_| !ends_in_word(before)) {
            Some(len) => {
                masked.push_str(before.trim_end_matches(' '));
                masked.push_str(" <duration>");
                rest = &from_digit[len..];
            }
            None => {
                let digits = from_digit
                    .find(|c: char| !c.is_ascii_alphanumeric() && c != '.')
                    .unwrap_or(from_digit.len());
                masked.push_str(before);
                masked.push_str(&from_digit[..digits]);
                rest = &from_digit[digits..];
            }
        }
    }
    masked.push_str(rest);
    masked
}

/// The durations of a text, in order, each with the padding before it (for carrying measured values
/// over into a rewritten block whose shape did not change).
pub fn durations(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let (before, from_digit) = rest.split_at(start);
        match duration_len(from_digit).filter(|_| !ends_in_word(before)) {
            Some(len) => {
                let padding = before.len() - before.trim_end_matches(' ').len();
                found.push(format!("{}{}", " ".repeat(padding), &from_digit[..len]));
                rest = &from_digit[len..];
            }
            None => {
                let digits = from_digit
                    .find(|c: char| !c.is_ascii_alphanumeric() && c != '.')
                    .unwrap_or(from_digit.len());
                rest = &from_digit[digits..];
            }
        }
    }
    found
}

/// Replaces the durations of `text`, in order, by `values` (as returned by [`durations`]).
pub fn with_durations(text: &str, values: &[String]) -> String {
    let mut parts = mask_durations(text)
        .split(" <duration>")
        .map(str::to_string)
        .collect::<Vec<_>>();
    let mut out = parts.remove(0);
    for (part, value) in parts.iter().zip(values) {
        out.push_str(value);
        out.push_str(part);
    }
    out
}

/// The length of a duration at the start of `text` (digits, an optional fraction, a unit that ends
/// there), if there is one.
fn duration_len(text: &str) -> Option<usize> {
    let int = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let mut len = int;
    if let Some(fraction) = text[len..].strip_prefix('.') {
        let digits = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if digits == 0 {
            return None;
        }
        len += 1 + digits;
    }
    let unit = ["ns", "µs", "ms", "s"]
        .into_iter()
        .find(|unit| text[len..].starts_with(unit))?;
    len += unit.len();
    let ends_there = text[len..]
        .chars()
        .next()
        .is_none_or(|c| !c.is_alphanumeric() && c != '_');
    ends_there.then_some(len)
}

/// Whether `before` ends inside a word (`x25ms` is not a duration, nor the `2s` in `h2s`).
fn ends_in_word(before: &str) -> bool {
    before
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
}

fn replace_dates(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = DAYS
        .iter()
        .filter_map(|day| rest.find(&format!("{day}, ")))
        .min()
    {
        let candidate = &rest[at..];
        let len = FIXED_DATE.len();
        if candidate.len() >= len && is_http_date(&candidate[..len]) {
            out.push_str(&rest[..at]);
            out.push_str(FIXED_DATE);
            rest = &candidate[len..];
        } else {
            out.push_str(&rest[..at + 1]);
            rest = &candidate[1..];
        }
    }
    out.push_str(rest);
    out
}

/// `Sun, 22 Nov 2026 03:10:47 GMT`, field by field.
fn is_http_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    text.is_char_boundary(29)
        && DAYS.contains(&&text[..3])
        && &text[3..5] == ", "
        && digits(5..7)
        && MONTHS.contains(&&text[8..11])
        && digits(12..16)
        && digits(17..19)
        && digits(20..22)
        && digits(23..25)
        && &text[25..] == " GMT"
}

fn replace_ports(text: &str) -> String {
    let mut ports: HashMap<String, u16> = HashMap::new();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(LOOPBACK) {
        let after = &rest[at + LOOPBACK.len()..];
        let digits = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        out.push_str(&rest[..at + LOOPBACK.len()]);
        let port = &after[..digits];
        // Only ports the system picked (32768 and up on Linux) vary; a fixed port is the code's.
        if port.len() == 5 && port.parse::<u16>().is_ok_and(|p| p >= 32768) {
            let next = FIXED_FIRST_PORT + ports.len() as u16;
            out.push_str(&ports.entry(port.to_string()).or_insert(next).to_string());
        } else {
            out.push_str(port);
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// Each whole number of exactly 13 digits in [`ID_RANGE`], with where it starts.
fn id_positions(text: &str) -> Vec<(usize, u64)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let inside_word =
            |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'.');
        let standalone = !inside_word(start.checked_sub(1).and_then(|s| bytes.get(s)))
            && !inside_word(bytes.get(i));
        if i - start == 13 && standalone {
            if let Some(id) = text[start..i]
                .parse()
                .ok()
                .filter(|id| ID_RANGE.contains(id))
            {
                found.push((start, id));
            }
        }
    }
    found
}

fn replace_ids(text: &str) -> String {
    let positions = id_positions(text);
    let Some(smallest) = positions.iter().map(|&(_, id)| id).min() else {
        return text.to_string();
    };
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, id) in positions {
        out.push_str(&text[copied..start]);
        out.push_str(&(FIXED_FIRST_ID + (id - smallest)).to_string());
        copied = start + 13;
    }
    out.push_str(&text[copied..]);
    out
}

/// Session ids are 32 lowercase hex digits; their first 8 stand for them in paths. Each session of a
/// run becomes a fixed value, chosen so that it still looks like one.
fn replace_sessions(text: &str) -> String {
    let mut sessions: Vec<(String, String)> = Vec::new();
    let mut text = text.to_string();
    for token in hex_tokens(&text, 32) {
        if !sessions.iter().any(|(real, _)| *real == token) {
            let fixed = fixed_session(sessions.len() as u64);
            sessions.push((token, fixed));
        }
    }
    for (real, fixed) in &sessions {
        text = text.replace(real.as_str(), fixed);
        text = replace_hex_token(&text, &real[..8], &fixed[..8]);
    }
    text
}

/// Whole tokens of exactly `len` lowercase hex digits, in order.
fn hex_tokens(text: &str, len: usize) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| {
            word.len() == len
                && word
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        .map(str::to_string)
        .collect()
}

fn replace_hex_token(text: &str, token: &str, by: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(token) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + token.len()..].chars().next();
        let whole = !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric());
        out.push_str(&rest[..at]);
        out.push_str(if whole { by } else { token });
        rest = &rest[at + token.len()..];
    }
    out.push_str(rest);
    out
}

/// The `index`-th fixed session id: 128 bits of splitmix64 output, so that it reads like a random id.
fn fixed_session(index: u64) -> String {
    let mut state = 0x5e55_1011_u64.wrapping_add(index.wrapping_mul(2));
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    format!("{:016x}{:016x}", next(), next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_become_the_fixed_date_and_nothing_else_changes() {
        let text = "Date: Thu, 03 Dec 2026 16:28:31 GMT\r\nNot a date: Thu, 3 Dec\n";
        assert_eq!(
            normalise(text),
            "Date: Sun, 22 Nov 2026 03:10:47 GMT\r\nNot a date: Thu, 3 Dec\n"
        );
    }

    #[test]
    fn picked_ports_are_numbered_by_first_appearance_and_fixed_ports_stay() {
        let text =
            "http://127.0.0.1:44051/ from 127.0.0.1:51000 to 127.0.0.1:44051, demo 127.0.0.1:8081";
        assert_eq!(
            normalise(text),
            "http://127.0.0.1:36201/ from 127.0.0.1:36202 to 127.0.0.1:36201, demo 127.0.0.1:8081"
        );
    }

    #[test]
    fn ids_keep_their_distances_from_the_smallest_one() {
        let text =
            r#"{"messages":[{"id":1796315310610,"data":"x"}],"last":1796315310609} 12345678901234"#;
        assert_eq!(
            normalise(text),
            r#"{"messages":[{"id":1795317046848,"data":"x"}],"last":1795317046847} 12345678901234"#
        );
    }

    #[test]
    fn a_session_and_its_short_form_get_the_same_fixed_value() {
        let real = "03e2e7eb5e8ad3ec59886bd7a3cdfb1d";
        let text =
            format!("{{\"session\":\"{real}\"}} POST /channel/tally/03e2e7eb/close; 03e2e7ebff");
        let fixed = fixed_session(0);
        assert_eq!(
            normalise(&text),
            format!(
                "{{\"session\":\"{fixed}\"}} POST /channel/tally/{}/close; 03e2e7ebff",
                &fixed[..8]
            )
        );
        assert_ne!(fixed, fixed_session(1));
    }

    #[test]
    fn durations_are_masked_with_their_padding_and_other_numbers_are_not() {
        let text = "held  301.3ms -> x, held 152.2µs, in 1.00s, 5 bytes, h2s, x25ms, v1.5s";
        assert_eq!(
            mask_durations(text),
            "held <duration> -> x, held <duration>, in <duration>, 5 bytes, h2s, x25ms, v1.5s"
        );
        assert_eq!(durations(text), ["  301.3ms", " 152.2µs", " 1.00s"]);
    }

    #[test]
    fn measured_durations_carry_over_into_a_new_text_of_the_same_shape() {
        let old = durations("held  300.6ms and 451.0µs");
        assert_eq!(
            with_durations("held 301.3ms and 152.2µs", &old),
            "held  300.6ms and 451.0µs"
        );
    }
}
