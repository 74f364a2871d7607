//! Chapter 6, the iframe forever frame: model answers.

/// Exercise 6.1: a JSON string literal that is also safe inside an HTML `<script>`: the JSON escapes
/// (`"`, `\`, control characters), plus `<`, `>` and `&` as `\u003c`, `\u003e`, `\u0026` (so data can
/// neither close the script nor open a comment), and U+2028/U+2029 (line ends for older JavaScript).
pub fn script_safe_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Exercise 6.2: the `<script>` block that hands one message to the parent page's function `callback`,
/// as the iframe door sends it: `<script>parent.F({"id":N,"data":"..."});</script>` and a line end.
pub fn script_block(callback: &str, id: u64, data: &str) -> String {
    format!(
        "<script>parent.{callback}({{\"id\":{id},\"data\":{}}});</script>\n",
        script_safe_json_string(data)
    )
}
