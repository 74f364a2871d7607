//! Your long-poll door (chapter 4, exercises 4.1 and 4.2). Write the two functions, then check them:
//!
//! ```text
//! PUSHLAB_STUDENT=1 cargo test --test exercises ch04_track
//! ```
//!
//! The checks compare your answers with what pushlab's long-poll door sends, on many inputs. The model
//! answers are in `examples/solutions/ch04.rs`: try first.

/// Exercise 4.1: the body of a long-poll answer, `{"messages":[{"id":N,"data":"..."},...],"last":N}`,
/// with `,"reset":true` before the closing brace when `reset` is true. Each `data` is a JSON string:
/// `pushlab::json::json_string(data)` escapes it for you (or write your own escaper: see exercise 6.1).
pub fn batch_body(messages: &[(u64, &str)], last: u64, reset: bool) -> String {
    todo!(
        "exercise 4.1: frame {} messages, last {last}, reset {reset}",
        messages.len()
    )
}

/// Exercise 4.2: whether the door answers now (true) or parks the request until a message comes or the
/// hold runs out (false).
pub fn answers_now(message_count: usize, reset: bool) -> bool {
    todo!("exercise 4.2: {message_count} messages, reset {reset}")
}
