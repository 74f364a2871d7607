//! The files under `static/`, embedded in the binary so `cargo run` works from any directory.

/// An embedded file.
#[derive(Debug)]
pub struct StaticFile {
    /// The `Content-Type` to serve it with.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

/// Looks up the file for a request path (still percent-encoded), e.g. `/` or `/pushlab.js`.
/// Paths that try to leave the web root (`..`, `%2e%2e`, `%2f`, backslashes) are refused with 400.
pub fn lookup(path: &str) -> Result<Option<&'static StaticFile>, crate::http::HttpError> {
    let _ = path;
    todo!()
}
