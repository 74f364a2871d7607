//! Server-Sent Events: `id:` and `data:` lines, `Last-Event-ID`, `event: heartbeat`.

use super::*;

fn next_sse(client: &mut SseClient) -> SseEvent {
    client
        .next_event()
        .expect("sse read")
        .expect("sse stream open")
}

#[test]
fn sse_delivers_ids_and_data_and_asks_for_retry() {
    let mut config = test_config();
    config.sse_retry_ms = 1234;
    let server = start(config);
    let mut client = SseClient::connect(server.addr, "/sse/t", None, TIMEOUT).unwrap();
    let head = &client.response().head;
    assert_eq!(head.header("cache-control"), Some("no-cache"));
    assert_eq!(head.header("x-accel-buffering"), Some("no"));
    wait_for_subscribers(&server, "t", 1);
    let ids = publish_many(server.addr, "t", "m", 3);
    for (i, id) in ids.iter().enumerate() {
        let event = next_sse(&mut client);
        assert_eq!(event.event_type, "message");
        assert_eq!(event.data, format!("m {i}"));
        assert_eq!(event.last_event_id, id.to_string());
    }
    assert_eq!(client.parser().reconnection_time_ms(), Some(1234));
}

#[test]
fn sse_last_event_id_wins_over_after() {
    let server = start(test_config());
    let ids = publish_many(server.addr, "t", "m", 5);
    let path = door_path("sse", "t", Some(0), &[]);
    let last = ids[2].to_string();
    let mut client = SseClient::connect(server.addr, &path, Some(&last), TIMEOUT).unwrap();
    assert_eq!(next_sse(&mut client).last_event_id, ids[3].to_string());
    assert_eq!(next_sse(&mut client).last_event_id, ids[4].to_string());
    // Without the header, `after` applies.
    let path = door_path("sse", "t", Some(ids[3]), &[]);
    let mut client = SseClient::connect(server.addr, &path, None, TIMEOUT).unwrap();
    assert_eq!(next_sse(&mut client).last_event_id, ids[4].to_string());
}

#[test]
fn sse_reconnect_with_last_event_id_loses_nothing() {
    let server = start(test_config());
    let before = head(server.addr, "t");
    let mut client = SseClient::connect(
        server.addr,
        &door_path("sse", "t", Some(before), &[]),
        None,
        TIMEOUT,
    )
    .unwrap();
    let ids = publish_many(server.addr, "t", "a", 3);
    let mut seen: Vec<u64> = (0..3)
        .map(|_| next_sse(&mut client).last_event_id.parse().unwrap())
        .collect();
    let last = client.parser().last_event_id().to_string();
    drop(client);
    // Published while disconnected.
    let more = publish_many(server.addr, "t", "b", 3);
    let mut client = SseClient::connect(
        server.addr,
        &door_path("sse", "t", Some(before), &[]),
        Some(&last),
        TIMEOUT,
    )
    .unwrap();
    seen.extend((0..3).map(|_| next_sse(&mut client).last_event_id.parse::<u64>().unwrap()));
    assert_eq!(seen, [ids, more].concat());
}

#[test]
fn sse_reset_event_carries_the_resume_id() {
    let server = start_with_short_log();
    let ids = publish_many(server.addr, "t", "m", 10);
    let mut client =
        SseClient::connect(server.addr, "/sse/t", Some(&ids[0].to_string()), TIMEOUT).unwrap();
    let reset = next_sse(&mut client);
    assert_eq!(reset.event_type, "reset");
    assert_eq!(
        reset.data,
        format!("{{\"reset\":true,\"last\":{}}}", ids[4])
    );
    assert_eq!(reset.last_event_id, ids[4].to_string());
    for id in &ids[5..] {
        assert_eq!(next_sse(&mut client).last_event_id, id.to_string());
    }
}

#[test]
fn sse_payload_cannot_inject_fields_or_events() {
    let server = start(test_config());
    let mut client = SseClient::connect(server.addr, "/sse/t", None, TIMEOUT).unwrap();
    wait_for_subscribers(&server, "t", 1);
    let injected = "x\r\nid: 999\ndata: fake\revent: reset\n\nretry: 1\n: comment";
    let id = publish(server.addr, "t", injected).unwrap();
    let follow = publish(server.addr, "t", "after").unwrap();
    let event = next_sse(&mut client);
    assert_eq!(event.event_type, "message");
    assert_eq!(event.last_event_id, id.to_string());
    // SSE carries lines: every line end arrives as LF, nothing else changes.
    assert_eq!(
        event.data,
        "x\nid: 999\ndata: fake\nevent: reset\n\nretry: 1\n: comment"
    );
    let next = next_sse(&mut client);
    assert_eq!(
        (next.data.as_str(), next.last_event_id),
        ("after", follow.to_string())
    );
    assert_eq!(
        client.parser().reconnection_time_ms(),
        Some(Config::default().sse_retry_ms)
    );
    // Hostile HTML means nothing here, but must arrive intact (line ends aside).
    let id = publish(server.addr, "t", HOSTILE).unwrap();
    let event = next_sse(&mut client);
    assert_eq!(
        (event.data, event.last_event_id),
        (HOSTILE.replace("\r\n", "\n"), id.to_string())
    );
}

#[test]
fn sse_heartbeat_is_an_event_a_page_can_see() {
    let mut config = test_config();
    config.heartbeat_interval = Duration::from_millis(200);
    let server = start(config);
    let before = publish(server.addr, "t", "last message").unwrap();
    let path = door_path("sse", "t", Some(before - 1), &[]);
    let mut stream = http::open_stream(
        server.addr,
        &path,
        &[("Accept", "text/event-stream")],
        TIMEOUT,
    )
    .unwrap();
    // The exact bytes on the wire: the prelude (the retry time and the resume point as the last event
    // id), the message, then the heartbeat event after 200 ms of silence (each in its own chunk).
    let mut body = Vec::new();
    let heartbeat = b"event: heartbeat\ndata:\n\n";
    while !body.windows(heartbeat.len()).any(|w| w == heartbeat) {
        body.extend(stream.next_chunk().unwrap().expect("open"));
    }
    let retry = Config::default().sse_retry_ms;
    assert_eq!(
        String::from_utf8(body.clone()).unwrap(),
        format!(
            "retry: {retry}\nid: {resume}\n\nid: {before}\ndata: last message\n\n\
             event: heartbeat\ndata:\n\n",
            resume = before - 1
        )
    );
    // As a browser parses it: a `heartbeat` event with empty data that keeps the last event id.
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    parser.feed(&body, &mut events).unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events[1].is_heartbeat());
    assert_eq!(events[1].data, "");
    assert_eq!(events[1].last_event_id, before.to_string());
    assert_eq!(parser.last_event_id(), before.to_string());
    assert_eq!(parser.comments_seen(), 0, "no comment lines any more");
}

#[test]
fn sse_disconnect_removes_the_subscriber() {
    let server = start(test_config());
    let client = SseClient::connect(server.addr, "/sse/t", None, TIMEOUT).unwrap();
    wait_for_subscribers(&server, "t", 1);
    drop(client);
    wait_for_subscribers(&server, "t", 0);
}
