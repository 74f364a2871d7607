//! Chapter 7, XHR streaming: model answers.

/// Exercise 7.1: what the page's `progress` handler does with `responseText`: it gets the text so far,
/// takes the complete lines it has not seen, and keeps an incomplete last line for the next call.
/// `seen` is how many bytes of `text` were already handled; it is advanced past the lines returned.
pub fn new_lines(text: &str, seen: &mut usize) -> Vec<String> {
    let Some(unseen) = text.get(*seen..) else {
        return Vec::new();
    };
    let complete = unseen.rfind('\n').map_or(0, |at| at + 1);
    *seen += complete;
    unseen[..complete]
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

/// Exercise 7.2: whether a streaming response should end after this message so that the browser's
/// memory for it stays bounded: once the body has reached `max_stream_bytes` (128 KiB in pushlab).
/// The client then reconnects with the last id it saw.
pub fn ends_after(body_bytes_sent: usize, message_bytes: usize, max_stream_bytes: usize) -> bool {
    body_bytes_sent + message_bytes >= max_stream_bytes
}
