//! The channel API over real sockets: sessions opened over HTTP, private queues read through the doors,
//! upstream by POST and by WebSocket, refusals, explicit close and expiry after the grace period.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;
use pushlab::server::RunningServer;

fn post(addr: std::net::SocketAddr, path: &str, body: &str) -> RawResponse {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(addr, request.as_bytes())
}

/// Opens a session of `app`; returns its id.
fn open(addr: std::net::SocketAddr, app: &str) -> String {
    let response = post(addr, &format!("/channel/{app}"), "");
    assert_eq!(response.status, 200, "{}", response.text());
    let text = response.text();
    let id = text
        .split("\"session\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert!(
        text.contains(&format!("\"topic\":\"session-{id}\"")),
        "{text}"
    );
    assert_eq!(id.len(), 32, "128 random bits as hex");
    id
}

fn private_queue(addr: std::net::SocketAddr, id: &str) -> RawResponse {
    get(addr, &format!("/poll/session-{id}?after=0"))
}

#[test]
fn private_echo_answers_only_the_sender() {
    let server = server();
    let alice = open(server.addr, "echo");
    let bob = open(server.addr, "echo");
    assert_ne!(alice, bob);
    assert_eq!(
        post(
            server.addr,
            &format!("/channel/echo/{alice}"),
            "for alice only"
        )
        .status,
        200
    );
    assert!(private_queue(server.addr, &alice)
        .text()
        .contains("\"data\":\"for alice only\""));
    assert!(
        !private_queue(server.addr, &bob).text().contains("alice"),
        "bob's queue is his own"
    );
}

#[test]
fn a_session_queue_is_reachable_through_a_held_door() {
    let server = server();
    let id = open(server.addr, "echo");
    let mut held = connect(server.addr);
    held.write_all(
        format!("GET /longpoll/session-{id} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes(),
    )
    .unwrap();
    assert!(wait_until(Duration::from_secs(5), || server
        .subscriber_count(&format!("session-{id}"))
        .unwrap()
        == 1));
    post(server.addr, &format!("/channel/echo/{id}"), "pong");
    let answer = read_response(&mut held, false);
    assert!(
        answer.text().contains("\"data\":\"pong\""),
        "{}",
        answer.text()
    );
}

#[test]
fn chat_room_fans_out_through_private_queues_and_announces_departures() {
    let server = server();
    let ann = open(server.addr, "chat");
    let ben = open(server.addr, "chat");
    post(server.addr, &format!("/channel/chat/{ben}"), "hello room");
    assert!(private_queue(server.addr, &ann)
        .text()
        .contains("hello room"));
    assert!(private_queue(server.addr, &ben)
        .text()
        .contains("hello room"));
    assert_eq!(
        post(server.addr, &format!("/channel/chat/{ann}/close"), "").status,
        200
    );
    assert!(private_queue(server.addr, &ben)
        .text()
        .contains("someone left the room"));
    assert_eq!(
        private_queue(server.addr, &ann).status,
        404,
        "a closed session's queue is gone"
    );
}

#[test]
fn a_status_query_tells_a_live_session_from_a_forgotten_one() {
    let server = server();
    let id = open(server.addr, "echo");
    let alive = get(server.addr, &format!("/channel/echo/{id}"));
    assert_eq!(alive.status, 200);
    assert!(
        alive.text().contains(&format!(
            "{{\"session\":\"{id}\",\"topic\":\"session-{id}\"}}"
        )),
        "{}",
        alive.text()
    );
    assert_eq!(
        get(server.addr, &format!("/channel/chat/{id}")).status,
        404,
        "asked under another application"
    );
    assert_eq!(
        post(server.addr, &format!("/channel/echo/{id}/close"), "").status,
        200
    );
    assert_eq!(
        get(server.addr, &format!("/channel/echo/{id}")).status,
        404,
        "closed"
    );
}

#[test]
fn refusals_have_their_status_and_cost_nothing_else() {
    let server = server();
    let id = open(server.addr, "echo");
    assert_eq!(
        post(server.addr, "/channel/nope", "").status,
        404,
        "no such application"
    );
    assert_eq!(
        post(server.addr, "/channel/echo/0123", "x").status,
        404,
        "no such session"
    );
    assert_eq!(
        post(server.addr, &format!("/channel/chat/{id}"), "x").status,
        404,
        "another app's session"
    );
    assert_eq!(
        post(server.addr, &format!("/publish/session-{id}"), "forged").status,
        403
    );
    assert_eq!(get(server.addr, "/poll/session-0123?after=0").status, 404);
    assert_eq!(
        get(server.addr, "/channel/echo").status,
        405,
        "GET needs a session"
    );
    let wrong_method = exchange(
        server.addr,
        format!(
            "DELETE /channel/echo/{id} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("Allow"), Some("GET, POST"));
    assert_eq!(
        post(server.addr, &format!("/channel/echo/{id}/reopen"), "").status,
        404
    );
    assert_still_serving(server.addr);
    assert!(!private_queue(server.addr, &id).text().contains("forged"));
}

/// A session's grace is short here, and so is the housekeeping period that looks for expired
/// sessions (`housekeeping_interval`), so the test waits tens of milliseconds, not seconds.
fn server_with_short_grace() -> RunningServer {
    server_with(|config| {
        config.session_grace = Duration::from_millis(50);
        config.housekeeping_interval = Duration::from_millis(10);
    })
}

/// Whether the server still knows session `id` of `app`: asking (`GET /channel/{app}/{id}`) is not a
/// use of the session, so it can be asked while waiting for the session to expire.
fn session_known(addr: std::net::SocketAddr, app: &str, id: &str) -> bool {
    get(addr, &format!("/channel/{app}/{id}")).status == 200
}

#[test]
fn a_session_nobody_uses_expires_after_the_grace_period() {
    let server = server_with_short_grace();
    let id = open(server.addr, "echo");
    assert!(
        wait_until(Duration::from_secs(10), || !session_known(
            server.addr,
            "echo",
            &id
        )),
        "the session did not expire"
    );
    assert_eq!(private_queue(server.addr, &id).status, 404, "expired");
    assert_eq!(
        post(server.addr, &format!("/channel/echo/{id}"), "late").status,
        404
    );
}

#[test]
fn a_connected_session_does_not_expire() {
    let server = server_with_short_grace();
    let connected = open(server.addr, "echo");
    let mut stream = connect(server.addr);
    stream
        .write_all(
            format!("GET /sse/session-{connected} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes(),
        )
        .unwrap();
    assert_eq!(read_response(&mut stream, true).status, 200);
    // A session opened after it, and never used, expires: by then the connected session's grace has
    // passed too, and housekeeping has looked at it.
    let idle = open(server.addr, "echo");
    assert!(
        wait_until(Duration::from_secs(10), || !session_known(
            server.addr,
            "echo",
            &idle
        )),
        "the idle session did not expire"
    );
    assert!(session_known(server.addr, "echo", &connected));
    assert_eq!(
        post(
            server.addr,
            &format!("/channel/echo/{connected}"),
            "still here"
        )
        .status,
        200
    );
}
