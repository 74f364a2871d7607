//! Chapter 12, automatic fallback: model answers.

/// The order auto mode tries the doors in, as `static/pushlab.js` has it: the most capable first, the
/// one that passes everything last.
pub const AUTO_ORDER: [&str; 3] = ["websocket", "sse", "longpoll"];

/// Exercise 12.1: the door to try next: the first of `order` that has not failed yet, or `None` when
/// all have.
pub fn next_transport<'a>(order: &[&'a str], failed: &[&str]) -> Option<&'a str> {
    order.iter().copied().find(|door| !failed.contains(door))
}

/// Exercise 12.2: the delay before reconnect number `attempt` (0-based), with "equal jitter": the
/// ceiling doubles from `base_ms` up to `max_ms`, and the delay is a point in its upper half chosen by
/// `random` (0.0 to 1.0). Never instant, still growing, and clients that failed together spread out.
pub fn backoff_delay_ms(attempt: u32, base_ms: u64, max_ms: u64, random: f64) -> u64 {
    let ceiling = base_ms.saturating_mul(1 << attempt.min(30)).min(max_ms) as f64;
    (ceiling / 2.0 + random.clamp(0.0, 1.0) * ceiling / 2.0).round() as u64
}

/// How long a connection must have stayed open before its close counts as a drop rather than a failure
/// of the same kind as before: then the backoff starts again from the beginning.
pub const STABLE_OPEN_MS: u64 = 5_000;

/// Exercise 12.3: the reconnect attempt after a connection closed, having stayed open `open_ms`. A
/// connection that was open for at least [`STABLE_OPEN_MS`] resets the backoff (attempt 0); one that a
/// server closed soon after opening counts as one more failure, so a server that accepts and drops
/// every connection is not hammered at the base delay.
pub fn attempt_after_close(attempt: u32, open_ms: u64) -> u32 {
    match open_ms >= STABLE_OPEN_MS {
        true => 0,
        false => attempt.saturating_add(1),
    }
}
