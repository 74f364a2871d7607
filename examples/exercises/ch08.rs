//! Your event-stream framing (chapter 8, exercises 8.1 and 8.2). Write the two functions, then check
//! them:
//!
//! ```text
//! PUSHLAB_STUDENT=1 cargo test --test exercises ch08_track
//! ```
//!
//! The checks compare your answers with what pushlab's SSE door sends, and feed your events to
//! pushlab's SSE parser to see that no payload can write a field of its own. The model answers are in
//! `examples/solutions/ch08.rs`: try first.

/// Exercise 8.1: one message as an event: `id: N`, one `data: ` line per line of `data`, a blank line.
/// Every `\n` ends a line here: `"a\nb"` is `"id: 1\ndata: a\ndata: b\n\n"`. What are the other two
/// line ends of the format, and what happens if you forget them?
pub fn sse_event(id: u64, data: &str) -> String {
    todo!("exercise 8.1: frame message {id}, {} bytes", data.len())
}

/// Exercise 8.2: where a stream resumes, given the `Last-Event-ID` header and the `after` parameter.
/// `None` means "from now".
pub fn resume_point(last_event_id: Option<&str>, after: Option<u64>) -> Option<u64> {
    todo!("exercise 8.2: header {last_event_id:?}, after {after:?}")
}
