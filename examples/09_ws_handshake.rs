//! Example 09: the WebSocket opening handshake's accept key, step by step (RFC 6455 §1.3, §4.2.2).
//!
//! ```text
//! cargo run --example 09_ws_handshake                              # the RFC's own key
//! cargo run --example 09_ws_handshake -- x3JJHMbDL1EzLkh9GBhXDw==   # a key from a browser
//! ```
//!
//! A browser opening `new WebSocket(url)` sends a random `Sec-WebSocket-Key`. The server proves it
//! speaks WebSocket by answering `Sec-WebSocket-Accept: base64(SHA-1(key + GUID))`. This program does
//! the computation one step at a time, then checks it against the library's `accept_key`.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha1::{Digest, Sha1};

use pushlab::http::request::Header;
use pushlab::http::Request;
use pushlab::ws::handshake::{accept_key, check_upgrade, switching_protocols, WEBSOCKET_GUID};
use pushlab::ws::WsConfig;

/// The example key from RFC 6455 §1.3.
const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let key = std::env::args()
        .nth(1)
        .unwrap_or_else(|| RFC_KEY.to_string());

    // ANCHOR: nonce
    // Step 1: the key is 16 random bytes in base64 (§4.1). The server only checks that it decodes to
    // exactly 16 bytes; it never uses the decoded bytes.
    println!("1. Sec-WebSocket-Key      {key}");
    match BASE64.decode(&key) {
        Ok(nonce) if nonce.len() == 16 => println!("   decodes to 16 bytes    {}", hex(&nonce)),
        Ok(nonce) => println!(
            "   decodes to {} bytes, not 16: a server answers 400",
            nonce.len()
        ),
        Err(error) => println!("   is not base64 ({error}): a server answers 400"),
    }
    // ANCHOR_END: nonce

    // ANCHOR: concatenate
    // Step 2: append the GUID that every WebSocket server knows (§1.3). The key is used as text, as it
    // arrived, not decoded.
    let concatenated = format!("{key}{WEBSOCKET_GUID}");
    println!("2. key + GUID             {concatenated}");
    // ANCHOR_END: concatenate

    // ANCHOR: sha1
    // Step 3: SHA-1 of those ASCII bytes: a 20-byte digest.
    let digest = Sha1::digest(concatenated.as_bytes());
    println!("3. SHA-1 (20 bytes)       {}", hex(&digest));
    // ANCHOR_END: sha1

    // ANCHOR: base64
    // Step 4: base64 of the digest is the Sec-WebSocket-Accept value.
    let accept = BASE64.encode(digest);
    println!("4. Sec-WebSocket-Accept   {accept}");
    // ANCHOR_END: base64

    // ANCHOR: library
    // The library does the same in one call; the server's 101 response carries it.
    assert_eq!(accept, accept_key(&key));
    if key == RFC_KEY {
        assert_eq!(
            accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
            "the value printed in RFC 6455 §1.3"
        );
    }
    let request = Request {
        method: "GET".to_string(),
        path: "/ws/echo".to_string(),
        query: String::new(),
        version: 1,
        headers: [
            ("Host", "127.0.0.1:8080"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key.as_str()),
            ("Sec-WebSocket-Version", "13"),
        ]
        .iter()
        .map(|(name, value)| Header {
            name: name.to_string(),
            value: value.as_bytes().to_vec(),
        })
        .collect(),
        body: Vec::new(),
    };
    match check_upgrade(&request, &WsConfig::default()) {
        Ok(upgrade) => {
            let response = switching_protocols(&upgrade);
            println!(
                "\nThe server's answer:\nHTTP/1.1 {} Switching Protocols",
                response.status
            );
            for (name, value) in &response.headers {
                println!("{name}: {value}");
            }
        }
        Err(response) => println!(
            "\nThe server refuses the handshake with {}",
            response.status
        ),
    }
    // ANCHOR_END: library
}
