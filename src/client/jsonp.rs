//! The JSONP client: what a page does with `<script src=...>`, minus running the script.
//!
//! A browser would execute the answer. A test must not run code it received; it checks the answer has
//! exactly the expected shape, `/**/F(` + a JSON batch + `);`, and reads the batch.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::http;
use super::poll::{parse_batch, Batch};
use super::{door_path, invalid_data, status_error};

/// Reads a JSONP body `/**/F({...});` (the leading comment optional) called on `callback`.
pub fn parse_jsonp(body: &str, callback: &str) -> io::Result<Batch> {
    let call = body.trim();
    let call = call.strip_prefix("/**/").unwrap_or(call);
    let arguments = call
        .strip_prefix(callback)
        .and_then(|rest| rest.strip_prefix('('))
        .and_then(|rest| rest.strip_suffix(';').unwrap_or(rest).strip_suffix(')'))
        .ok_or_else(|| invalid_data("not a call of the callback"))?;
    parse_batch(arguments)
}

/// `GET /jsonp/{topic}?after=N&callback=F`, held like a long poll; `timeout` must exceed the hold.
pub fn jsonp_poll(
    addr: SocketAddr,
    topic: &str,
    after: Option<u64>,
    callback: &str,
    timeout: Duration,
) -> io::Result<Batch> {
    let path = door_path("jsonp", topic, after, &[("callback", callback)]);
    let response = http::request(addr, "GET", &path, &[], b"", timeout)?;
    if response.status != 200 {
        return Err(status_error(&response));
    }
    parse_jsonp(response.text()?, callback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_call() {
        let batch = parse_jsonp(
            r#"/**/app.on({"messages":[{"id":4,"data":"a"}],"last":4});"#,
            "app.on",
        )
        .unwrap();
        assert_eq!((batch.messages.len(), batch.last), (1, 4));
        assert!(parse_jsonp(r#"f({"messages":[],"last":1})"#, "f").is_ok());
        assert!(parse_jsonp(r#"/**/g({"messages":[],"last":1});"#, "f").is_err());
        assert!(parse_jsonp(r#"/**/f({"messages":[],"last":1});alert(1)"#, "f").is_err());
    }
}
