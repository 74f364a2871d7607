//! The files under `static/`, embedded in the binary so `cargo run` works from any directory.
//!
//! `build.rs` walks `static/` at compile time and generates a table of URL paths, content types and
//! `include_bytes!` of each file. Serving a file is then a lookup in that table: the request path never
//! reaches the filesystem, so it cannot name a file outside `static/`. The path is still checked the way a
//! filesystem server would have to (no dot segments, no encoded separators), because a path that tries
//! is an attack worth answering with 400 rather than a quiet 404.

use crate::http::{percent, HttpError};

/// An embedded file.
#[derive(Debug)]
pub struct StaticFile {
    /// The `Content-Type` to serve it with.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/static_files.rs"));

/// Looks up the file for a request path (still percent-encoded), e.g. `/` or `/pushlab.js`.
/// Paths that try to leave the web root (`..`, `%2e%2e`, `%2f`, backslashes) are refused with 400.
pub fn lookup(path: &str) -> Result<Option<&'static StaticFile>, crate::http::HttpError> {
    let mut decoded = decode_path(path)?;
    // A directory's page is its index.html: `/` is `/index.html`, `/docs/` is `/docs/index.html`.
    if decoded.ends_with('/') {
        decoded.push_str("index.html");
    }
    Ok(FILES
        .binary_search_by(|(url_path, _)| (*url_path).cmp(decoded.as_str()))
        .ok()
        .and_then(|index| FILES.get(index))
        .map(|(_, file)| file))
}

/// The URL paths of every embedded file, sorted.
pub fn paths() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(url_path, _)| *url_path)
}

/// Percent-decodes a request path and refuses every way of naming something outside the web root.
fn decode_path(path: &str) -> Result<String, HttpError> {
    if !path.starts_with('/') {
        return Err(HttpError::new(400, "path must start with /"));
    }
    // RFC 3986 §2.2: `/` is the segment delimiter; once decoded, an encoded `%2F` would be
    // indistinguishable from it, and `%5C` (backslash) is a separator on Windows. Refuse both, and raw
    // backslashes, before decoding.
    let lowercase = path.to_ascii_lowercase();
    if lowercase.contains("%2f") || lowercase.contains("%5c") || path.contains('\\') {
        return Err(HttpError::new(400, "encoded slash or backslash in path"));
    }
    let bytes = percent::decode(path.as_bytes(), false).ok_or(HttpError::new(
        400,
        "invalid percent-encoding in path (RFC 3986 §2.1)",
    ))?;
    let decoded = String::from_utf8(bytes.into_owned())
        .map_err(|_| HttpError::new(400, "path is not UTF-8"))?;
    if decoded.contains('\0') {
        return Err(HttpError::new(400, "NUL in path"));
    }
    // RFC 3986 §5.2.4: clients remove dot segments before sending; one that arrives (even as `%2e%2e`)
    // is an attempt to climb out of the web root.
    if decoded
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err(HttpError::new(400, "dot segment in path (RFC 3986 §5.2.4)"));
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(path: &str) -> u16 {
        lookup(path).err().map_or(0, |e| e.status)
    }

    #[test]
    fn root_and_directories_map_to_index_html() {
        let root = lookup("/").ok().flatten().map(|f| f.content_type);
        assert_eq!(root, Some("text/html; charset=utf-8"));
        let index = lookup("/index.html").ok().flatten().map(|f| f.bytes);
        assert_eq!(lookup("/").ok().flatten().map(|f| f.bytes), index);
        assert!(index.is_some_and(|bytes| !bytes.is_empty()));
    }

    #[test]
    fn table_is_sorted_and_matches_the_directory() {
        let paths: Vec<&str> = paths().collect();
        assert!(paths.windows(2).all(|pair| pair[0] < pair[1]), "{paths:?}");
        for path in paths {
            let on_disk = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("static")
                .join(&path[1..]);
            let file = lookup(path).ok().flatten().map(|f| f.bytes);
            assert_eq!(
                file.map(<[u8]>::to_vec),
                std::fs::read(&on_disk).ok(),
                "{path}"
            );
        }
    }

    #[test]
    fn encoded_names_are_decoded_before_lookup() {
        assert_eq!(
            lookup("/%69ndex.html").ok().flatten().map(|f| f.bytes),
            lookup("/index.html").ok().flatten().map(|f| f.bytes)
        );
    }

    #[test]
    fn unknown_files_are_none_not_errors() {
        assert!(matches!(lookup("/no-such-file.js"), Ok(None)));
        assert!(matches!(lookup("/nested/dir/"), Ok(None)));
        assert!(matches!(lookup("/index.html/"), Ok(None)));
        assert!(matches!(lookup("/.gitignore"), Ok(None)));
    }

    #[test]
    fn traversal_attempts_are_400() {
        for path in [
            "/../Cargo.toml",
            "/%2e%2e/x",
            "/%2E%2E/x",
            "/.%2e/Cargo.toml",
            "/a/../../etc/passwd",
            "/a%2fb",
            "/a%2Fb",
            "/..%5c",
            "/..%5Cwindows",
            "/a\\..\\b",
            "/./index.html",
            "/..",
            "/a/..",
        ] {
            assert_eq!(status(path), 400, "{path}");
        }
    }

    #[test]
    fn malformed_paths_are_400() {
        for path in [
            "/%",
            "/%zz",
            "/%4",
            "/%00",
            "/a%00.html",
            "/%ff",
            "relative",
            "",
        ] {
            assert_eq!(status(path), 400, "{path:?}");
        }
    }

    #[test]
    fn dots_inside_names_are_fine() {
        assert!(matches!(lookup("/..hidden"), Ok(None)));
        assert!(matches!(lookup("/a..b.js"), Ok(None)));
        assert!(matches!(lookup("/.well-known/x"), Ok(None)));
    }
}
