//! Web security over real sockets: each attack of the course's security chapter, sent as a browser (or an
//! attacker) would send it, and the refusal that stops it.
//!
//! | attack | defence | status |
//! |---|---|---|
//! | cross-site `POST /publish` (CSRF) | `Origin` / `Sec-Fetch-Site` check on every write | 403 |
//! | cross-site `/channel/*` | the same check | 403 |
//! | DNS rebinding | `Host` allow-list before any route | 421 |
//! | one address holding every connection | `max_connections_per_ip` | 503 |
//! | one address flooding a topic | publish token bucket per address | 429 + `Retry-After`, WebSocket 1008 |
//! | anyone publishing to a deployment | `--publish-token` | 403, WebSocket 1008 |
//! | JSONP's cross-site read | `--no-jsonp` | 404 |
//!
//! Every test also checks that the refusal cost nothing else: the server keeps serving, and a refused
//! publish published nothing.

mod common;

use std::io::Write;
use std::net::SocketAddr;

use common::*;
use pushlab::client::ws::{Client, ClientOptions};
use pushlab::ws::Event;

/// `POST /publish/{topic}` with `body` and extra header lines (each ending in `\r\n`).
fn publish_with(addr: SocketAddr, topic: &str, body: &str, headers: &str) -> RawResponse {
    let request = format!(
        "POST /publish/{topic} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\n{headers}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    exchange(addr, request.as_bytes())
}

/// What a short poll from the start of `topic` returns: `{"messages":[...],"last":N}`.
fn topic_log(addr: SocketAddr, topic: &str) -> String {
    let response = get(addr, &format!("/poll/{topic}?after=0"));
    assert_eq!(response.status, 200);
    response.text()
}

// Cross-site writes (CSRF)

#[test]
fn a_cross_site_publish_is_403_and_publishes_nothing() {
    let server = server();
    // A "simple" request: any page can make a browser send it, with no preflight.
    let forged = publish_with(
        server.addr,
        "chat",
        "forged",
        "Origin: https://evil.example\r\n",
    );
    assert_eq!(forged.status, 403, "{}", forged.text());
    assert!(
        forged.text().contains("another origin"),
        "{}",
        forged.text()
    );
    let metadata = publish_with(
        server.addr,
        "chat",
        "forged",
        "Sec-Fetch-Site: cross-site\r\n",
    );
    assert_eq!(metadata.status, 403, "Sec-Fetch-Site alone gives it away");
    assert!(
        topic_log(server.addr, "chat").contains("\"messages\":[]"),
        "nothing was published"
    );
    assert_still_serving(server.addr);
}

#[test]
fn the_own_origin_and_clients_without_an_origin_may_publish() {
    let server = server();
    let own = format!(
        "Origin: http://{}\r\nSec-Fetch-Site: same-origin\r\n",
        server.addr
    );
    assert_eq!(
        publish_with(server.addr, "chat", "from the page", &own).status,
        200
    );
    assert_eq!(
        publish_with(server.addr, "chat", "from curl", "").status,
        200
    );
    assert!(topic_log(server.addr, "chat").contains("from curl"));
}

#[test]
fn allow_origin_lets_a_named_site_write() {
    let server = server_with(|config| {
        config
            .ws
            .allowed_origins
            .push("https://app.example".to_string())
    });
    let headers = "Origin: https://app.example\r\nSec-Fetch-Site: cross-site\r\n";
    assert_eq!(publish_with(server.addr, "chat", "hi", headers).status, 200);
    let other = "Origin: https://other.example\r\nSec-Fetch-Site: cross-site\r\n";
    assert_eq!(publish_with(server.addr, "chat", "hi", other).status, 403);
}

#[test]
fn a_cross_site_channel_request_is_403() {
    let server = server();
    let request = format!(
        "POST /channel/echo HTTP/1.1\r\nHost: {}\r\nOrigin: https://evil.example\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n",
        server.addr
    );
    let refused = exchange(server.addr, request.as_bytes());
    assert_eq!(refused.status, 403, "{}", refused.text());
    let opened = exchange(
        server.addr,
        format!(
            "POST /channel/echo HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            server.addr
        )
        .as_bytes(),
    );
    assert_eq!(opened.status, 200, "without an Origin it is not a forgery");
}

// DNS rebinding

#[test]
fn a_rebound_host_name_is_421_before_any_route_runs() {
    let server = server();
    let port = server.addr.port();
    for path in ["/", "/poll/chat?after=0", "/sse/chat"] {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: evil.example:{port}\r\nOrigin: http://evil.example:{port}\r\n\
             Connection: close\r\n\r\n"
        );
        let mut stream = connect(server.addr);
        stream.write_all(request.as_bytes()).unwrap();
        let head = read_line(&mut stream);
        assert_eq!(head, "HTTP/1.1 421 Misdirected Request", "{path}");
    }
    let publish = format!(
        "POST /publish/chat HTTP/1.1\r\nHost: evil.example:{port}\r\nOrigin: http://evil.example:{port}\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\nhi"
    );
    assert_eq!(exchange(server.addr, publish.as_bytes()).status, 421);
    assert!(topic_log(server.addr, "chat").contains("\"messages\":[]"));
    // The names that cannot be rebound are served.
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        assert_eq!(
            exchange(server.addr, request.as_bytes()).status,
            200,
            "{host}"
        );
    }
}

#[test]
fn allow_host_names_a_deployment() {
    let server = server_with(|config| config.allowed_hosts.push("push.example.org".to_string()));
    let request = "GET / HTTP/1.1\r\nHost: push.example.org\r\nConnection: close\r\n\r\n";
    assert_eq!(exchange(server.addr, request.as_bytes()).status, 200);
    let other = "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n";
    assert_eq!(exchange(server.addr, other.as_bytes()).status, 421);
}

// Per-client fairness

#[test]
fn one_address_cannot_hold_more_than_its_connections() {
    let server = server_with(|config| config.max_connections_per_ip = 3);
    let held: Vec<_> = (0..3).map(|_| connect(server.addr)).collect();
    // The held connections are accepted (they answer a request), so the fourth is over the limit.
    for mut stream in held.iter().map(|s| s.try_clone().unwrap()) {
        stream
            .write_all(b"GET /poll/x?after=0 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut stream, false).status, 200);
    }
    let mut fourth = connect(server.addr);
    let refused = read_response(&mut fourth, false);
    assert_eq!(refused.status, 503, "{}", refused.text());
    drop(held);
    // Once they are gone, the address may connect again.
    assert!(wait_until(std::time::Duration::from_secs(5), || {
        let mut stream = connect(server.addr);
        stream
            .write_all(
                b"GET /poll/x?after=0 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            )
            .is_ok()
            && read_response(&mut stream, false).status == 200
    }));
}

#[test]
fn a_publisher_over_its_rate_gets_429_with_retry_after() {
    let server = server_with(|config| {
        config.publish_rate_per_ip = 1;
        config.publish_burst_per_ip = 2;
    });
    assert_eq!(publish_with(server.addr, "flood", "1", "").status, 200);
    assert_eq!(publish_with(server.addr, "flood", "2", "").status, 200);
    let refused = publish_with(server.addr, "flood", "3", "");
    assert_eq!(refused.status, 429, "{}", refused.text());
    assert_eq!(refused.header("Retry-After"), Some("1"));
    assert!(!topic_log(server.addr, "flood").contains("\"3\""));
    assert_still_serving(server.addr);
}

#[test]
fn a_websocket_publisher_over_its_rate_is_closed_with_1008() {
    let server = server_with(|config| {
        config.publish_rate_per_ip = 1;
        config.publish_burst_per_ip = 2;
    });
    let mut client = Client::connect(server.addr, "/ws/flood").unwrap();
    for text in ["1", "2", "3"] {
        client.send_text(text).unwrap();
    }
    assert_eq!(close_code(&mut client), Some(1008));
    assert!(!topic_log(server.addr, "flood").contains("\"3\""));
}

// The publish token

#[test]
fn with_a_publish_token_only_its_holders_publish() {
    let server = server_with(|config| config.publish_token = Some("s3cret".to_string()));
    assert_eq!(publish_with(server.addr, "news", "anyone", "").status, 403);
    let wrong = "Authorization: Bearer guess\r\n";
    assert_eq!(
        publish_with(server.addr, "news", "guess", wrong).status,
        403
    );
    let right = "Authorization: Bearer s3cret\r\n";
    assert_eq!(
        publish_with(server.addr, "news", "holder", right).status,
        200
    );
    let log = topic_log(server.addr, "news");
    assert!(log.contains("holder") && !log.contains("anyone") && !log.contains("guess"));
}

#[test]
fn with_a_publish_token_a_websocket_without_it_reads_but_cannot_publish() {
    let server = server_with(|config| config.publish_token = Some("s3cret".to_string()));
    let mut holder = Client::connect(server.addr, "/ws/news?token=s3cret").unwrap();
    let mut reader = Client::connect(server.addr, "/ws/news").unwrap();
    holder.send_text("from the holder").unwrap();
    let Event::Text(text) = reader.recv().unwrap() else {
        panic!("the reader gets the topic's messages");
    };
    assert!(text.contains("from the holder"), "{text}");
    reader.send_text("from the reader").unwrap();
    assert_eq!(close_code(&mut reader), Some(1008));
    assert!(!topic_log(server.addr, "news").contains("from the reader"));
}

// JSONP off

#[test]
fn no_jsonp_turns_the_door_off_and_only_that_door() {
    let server = server_with(|config| config.jsonp = false);
    let refused = get(server.addr, "/jsonp/chat?after=0&callback=cb");
    assert_eq!(refused.status, 404, "{}", refused.text());
    assert!(refused.text().contains("--no-jsonp"));
    assert_still_serving(server.addr);
}

/// Reads until the server's close frame; its code.
fn close_code(client: &mut Client) -> Option<u16> {
    for _ in 0..100 {
        match client.recv() {
            Ok(Event::Close { code, .. }) => return code,
            Ok(_) => continue,
            Err(e) => panic!("no close frame: {e}"),
        }
    }
    panic!("no close frame in 100 events");
}

#[test]
fn a_websocket_upgrade_from_a_foreign_origin_is_still_403() {
    let server = server();
    let options = ClientOptions {
        headers: vec![("Origin".to_string(), "https://evil.example".to_string())],
        ..ClientOptions::default()
    };
    let refused = Client::connect_with(server.addr, "/ws/chat", &options);
    assert!(
        refused.is_err(),
        "cross-site WebSocket hijacking is refused"
    );
}
