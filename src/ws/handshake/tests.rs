//! Handshake tests: the RFC §1.3 vector and every way a request can be refused.

use super::*;
use crate::http::request::Header;

const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn request(headers: &[(&str, &str)]) -> Request {
    Request {
        method: "GET".to_string(),
        path: "/ws/echo".to_string(),
        query: String::new(),
        version: 1,
        headers: headers
            .iter()
            .map(|(name, value)| Header {
                name: name.to_string(),
                value: value.as_bytes().to_vec(),
            })
            .collect(),
        body: Vec::new(),
    }
}

/// The handshake a browser on the server's own page sends.
fn browser_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Host", "127.0.0.1:8080"),
        ("Upgrade", "websocket"),
        ("Connection", "keep-alive, Upgrade"),
        ("Sec-WebSocket-Key", RFC_KEY),
        ("Sec-WebSocket-Version", "13"),
        ("Origin", "http://127.0.0.1:8080"),
        (
            "Sec-WebSocket-Extensions",
            "permessage-deflate; client_max_window_bits",
        ),
    ]
}

/// The browser handshake with header `name` replaced by `value`, or removed when `value` is `None`.
fn with(name: &str, value: Option<&'static str>) -> Request {
    let mut headers: Vec<(&str, &str)> = browser_headers()
        .into_iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case(name))
        .collect();
    if let Some(value) = value {
        headers.push((name, value));
    }
    request(&headers)
}

fn status_of(request: &Request, config: &WsConfig) -> u16 {
    match check_upgrade(request, config) {
        Ok(_) => 101,
        Err(response) => response.status,
    }
}

fn header_value<'r>(response: &'r Response, name: &str) -> Option<&'r str> {
    response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn rfc_accept_key_vector() {
    assert_eq!(accept_key(RFC_KEY), RFC_ACCEPT);
}

#[test]
fn browser_handshake_is_accepted_without_extensions() {
    let upgrade = check_upgrade(&request(&browser_headers()), &WsConfig::default());
    let upgrade = upgrade.expect("valid handshake");
    assert_eq!(
        upgrade,
        Upgrade {
            accept: RFC_ACCEPT.to_string(),
            subprotocol: None
        }
    );
    let response = switching_protocols(&upgrade);
    assert_eq!(response.status, 101);
    assert_eq!(header_value(&response, "Upgrade"), Some("websocket"));
    assert_eq!(header_value(&response, "Connection"), Some("Upgrade"));
    assert_eq!(
        header_value(&response, "Sec-WebSocket-Accept"),
        Some(RFC_ACCEPT)
    );
    assert_eq!(header_value(&response, "Sec-WebSocket-Protocol"), None);
    // permessage-deflate was offered and is not taken.
    assert_eq!(header_value(&response, "Sec-WebSocket-Extensions"), None);
    assert!(response.body.is_empty());
}

#[test]
fn header_names_and_tokens_are_case_insensitive() {
    let request = request(&[
        ("host", "example.com"),
        ("UPGRADE", "WebSocket"),
        ("connection", "UPGRADE"),
        ("sec-websocket-key", RFC_KEY),
        ("SEC-WEBSOCKET-VERSION", "13"),
    ]);
    assert!(is_upgrade_request(&request));
    assert_eq!(status_of(&request, &WsConfig::default()), 101);
}

#[test]
fn tokens_may_come_in_lists_and_in_repeated_fields() {
    let request = request(&[
        ("Host", "example.com"),
        ("Upgrade", "h2c, websocket"),
        ("Connection", "keep-alive"),
        ("Connection", " upgrade "),
        ("Sec-WebSocket-Key", RFC_KEY),
        ("Sec-WebSocket-Version", "13"),
    ]);
    assert_eq!(status_of(&request, &WsConfig::default()), 101);
}

#[test]
fn is_upgrade_request_looks_for_the_websocket_token() {
    assert!(is_upgrade_request(&request(&browser_headers())));
    assert!(!is_upgrade_request(&with("Upgrade", None)));
    assert!(!is_upgrade_request(&with("Upgrade", Some("h2c"))));
    // A substring is not a token.
    assert!(!is_upgrade_request(&with("Upgrade", Some("websockets"))));
}

#[test]
fn method_other_than_get_is_405_with_allow() {
    let mut post = request(&browser_headers());
    post.method = "POST".to_string();
    let response = check_upgrade(&post, &WsConfig::default()).unwrap_err();
    assert_eq!(response.status, 405);
    assert_eq!(header_value(&response, "Allow"), Some("GET"));
}

#[test]
fn http_1_0_is_400() {
    let mut old = request(&browser_headers());
    old.version = 0;
    assert_eq!(status_of(&old, &WsConfig::default()), 400);
}

#[test]
fn malformed_handshakes_are_400() {
    let config = WsConfig::default();
    let cases = [
        ("Host", None),
        ("Upgrade", None),
        ("Upgrade", Some("websockets")),
        ("Connection", None),
        ("Connection", Some("keep-alive")),
        ("Sec-WebSocket-Key", None),
        ("Sec-WebSocket-Key", Some("")),
        ("Sec-WebSocket-Key", Some("not base64!")),
        // 15 and 17 bytes once decoded.
        ("Sec-WebSocket-Key", Some("AAAAAAAAAAAAAAAAAAAA")),
        ("Sec-WebSocket-Key", Some("AAAAAAAAAAAAAAAAAAAAAAA=")),
    ];
    for (name, value) in cases {
        assert_eq!(
            status_of(&with(name, value), &config),
            400,
            "{name}: {value:?}"
        );
    }
}

#[test]
fn repeated_key_is_400() {
    let mut headers = browser_headers();
    headers.push(("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4PEA=="));
    assert_eq!(status_of(&request(&headers), &WsConfig::default()), 400);
}

#[test]
fn wrong_or_missing_version_is_426_naming_13() {
    for version in [
        None,
        Some("8"),
        Some("12"),
        Some("14"),
        Some("13, 8"),
        Some(""),
    ] {
        let response = check_upgrade(
            &with("Sec-WebSocket-Version", version),
            &WsConfig::default(),
        );
        let response = response.unwrap_err();
        assert_eq!(response.status, 426, "version {version:?}");
        assert_eq!(header_value(&response, "Sec-WebSocket-Version"), Some("13"));
        // RFC 9110 §15.5.22: a 426 names the protocol to upgrade to.
        assert_eq!(header_value(&response, "Upgrade"), Some("websocket"));
    }
}

#[test]
fn origins() {
    let config = WsConfig {
        allowed_origins: vec!["https://app.example".to_string()],
        ..WsConfig::default()
    };
    let cases = [
        (None, 101),
        (Some("http://127.0.0.1:8080"), 101),
        (Some("https://127.0.0.1:8080"), 101),
        (Some("HTTP://127.0.0.1:8080"), 101),
        (Some("https://app.example"), 101),
        (Some("https://evil.example"), 403),
        (Some("http://127.0.0.1:8081"), 403),
        (Some("http://127.0.0.1"), 403),
        (Some("null"), 403),
        (Some("127.0.0.1:8080"), 403),
        (Some("https://app.example.evil"), 403),
    ];
    for (origin, status) in cases {
        assert_eq!(
            status_of(&with("Origin", origin), &config),
            status,
            "origin {origin:?}"
        );
    }
}

#[test]
fn subprotocol_is_the_servers_first_choice_among_the_offered() {
    let config = WsConfig {
        subprotocols: vec!["pushlab.v2".to_string(), "pushlab.v1".to_string()],
        ..WsConfig::default()
    };
    let cases = [
        (None, None),
        (Some("chat"), None),
        (Some("pushlab.v1"), Some("pushlab.v1")),
        (Some("pushlab.v1, pushlab.v2"), Some("pushlab.v2")),
        (Some("chat,pushlab.v1"), Some("pushlab.v1")),
        (Some("PUSHLAB.V1"), None),
    ];
    for (offer, chosen) in cases {
        let upgrade =
            check_upgrade(&with("Sec-WebSocket-Protocol", offer), &config).expect("valid");
        assert_eq!(upgrade.subprotocol.as_deref(), chosen, "offer {offer:?}");
        let response = switching_protocols(&upgrade);
        assert_eq!(header_value(&response, "Sec-WebSocket-Protocol"), chosen);
    }
}

#[test]
fn server_without_subprotocols_picks_none() {
    let upgrade = check_upgrade(
        &with("Sec-WebSocket-Protocol", Some("chat")),
        &WsConfig::default(),
    );
    assert_eq!(upgrade.map(|u| u.subprotocol).ok(), Some(None));
}
