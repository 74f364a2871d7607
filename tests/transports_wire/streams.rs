//! XHR streaming and iframe streaming: one held chunked response, one piece per message.

use super::*;

#[test]
fn xhr_stream_replays_then_pushes_live_in_order() {
    let server = start(test_config());
    let ids = publish_many(server.addr, "t", "old", 3);
    let mut client = XhrStreamClient::connect(server.addr, "t", Some(ids[0]), TIMEOUT).unwrap();
    let head = &client.response().head;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    assert_eq!(head.header("x-accel-buffering"), Some("no"));
    let mut next = || client.next_event();
    assert_eq!(message_of(next_push(&mut next)).id, ids[1]);
    assert_eq!(message_of(next_push(&mut next)).id, ids[2]);
    let live = publish_many(server.addr, "t", "new", 3);
    for id in live {
        assert_eq!(message_of(next_push(&mut next)).id, id);
    }
}

#[test]
fn xhr_stream_starts_with_two_kib_of_padding_without_id() {
    let server = start(test_config());
    let mut stream = http::open_stream(server.addr, "/stream/t?after=0", &[], TIMEOUT).unwrap();
    let mut first_line = Vec::new();
    while !first_line.contains(&b'\n') {
        first_line.extend(stream.next_chunk().unwrap().expect("open"));
    }
    let end = first_line.iter().position(|&b| b == b'\n').unwrap();
    let line = std::str::from_utf8(&first_line[..end]).unwrap();
    assert!(line.len() >= 2048, "padding line of {} bytes", line.len());
    let value = pushlab::client::json::parse(line).unwrap();
    assert!(value.get("id").is_none());
}

#[test]
fn xhr_stream_reset_and_hostile_data() {
    let server = start_with_short_log();
    let ids = publish_many(server.addr, "t", "m", 10);
    let mut client = XhrStreamClient::connect(server.addr, "t", Some(ids[0]), TIMEOUT).unwrap();
    let mut next = || client.next_event();
    assert_eq!(next_push(&mut next), PushEvent::Reset { last: ids[4] });
    for id in &ids[5..] {
        assert_eq!(message_of(next_push(&mut next)).id, *id);
    }
    let id = publish(server.addr, "t", HOSTILE).unwrap();
    assert_eq!(
        message_of(next_push(&mut next)),
        ReceivedMessage {
            id,
            data: HOSTILE.to_string()
        }
    );
}

#[test]
fn xhr_stream_heartbeat() {
    let mut config = test_config();
    config.heartbeat_interval = Duration::from_millis(200);
    let server = start(config);
    let mut client = XhrStreamClient::connect(server.addr, "t", None, TIMEOUT).unwrap();
    assert_eq!(client.next_event().unwrap(), Some(PushEvent::Heartbeat));
}

/// A function that opens a stream after an id and returns its "next event" reader.
type OpenStream = fn(SocketAddr, u64) -> Box<dyn FnMut() -> io::Result<Option<PushEvent>>>;

/// A client reads a stream while another thread publishes 40 messages of 200 bytes. The server ends
/// each response after `max_stream_bytes` (4 KiB here); the client reconnects after the last id it
/// saw, as the browser code does, and must see every message exactly once, in order.
fn check_stream_resumes_across_reconnects(open: OpenStream) {
    let mut config = test_config();
    config.max_stream_bytes = 4 * 1024;
    let server = start(config);
    let first = head(server.addr, "t");
    let final_id = first + 40;
    let addr = server.addr;
    let mut next = open(addr, first);
    wait_for_subscribers(&server, "t", 1);
    let publisher = thread::spawn(move || {
        for i in 0..40 {
            publish(addr, "t", &format!("{i:0>200}")).expect("publish");
        }
    });
    let mut seen = Vec::new();
    let mut after = first;
    let mut connections = 1;
    loop {
        match next().expect("stream read") {
            Some(PushEvent::Message(message)) => {
                after = message.id;
                seen.push(message.id);
                if after == final_id {
                    break;
                }
            }
            Some(PushEvent::Reset { last }) => panic!("unexpected reset to {last}"),
            Some(PushEvent::Heartbeat) => {}
            None => {
                connections += 1;
                assert!(connections <= 100, "too many reconnects");
                next = open(addr, after);
            }
        }
    }
    publisher.join().expect("publisher");
    assert_eq!(seen, (first + 1..=final_id).collect::<Vec<_>>());
    assert!(
        connections > 1,
        "the stream should have ended at least once"
    );
}

#[test]
fn xhr_stream_ends_after_max_stream_bytes_and_resumes_without_loss() {
    check_stream_resumes_across_reconnects(|addr, after| {
        let mut client =
            XhrStreamClient::connect(addr, "t", Some(after), TIMEOUT).expect("connect");
        Box::new(move || client.next_event())
    });
}

#[test]
fn xhr_stream_disconnect_removes_the_subscriber() {
    let server = start(test_config());
    let client = XhrStreamClient::connect(server.addr, "t", None, TIMEOUT).unwrap();
    wait_for_subscribers(&server, "t", 1);
    drop(client);
    wait_for_subscribers(&server, "t", 0);
}

#[test]
fn iframe_stream_delivers_scripts_after_a_prelude() {
    let server = start(test_config());
    let ids = publish_many(server.addr, "t", "m", 2);
    let mut client = IframeClient::connect(server.addr, "t", Some(0), "app.push", TIMEOUT).unwrap();
    assert_eq!(
        client.response().head.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let first = message_of(next_push(&mut || client.next_event()));
    assert_eq!(
        first,
        ReceivedMessage {
            id: ids[0],
            data: "m 0".into()
        }
    );
    assert!(
        client.prelude_bytes() >= 1024,
        "prelude of {} bytes",
        client.prelude_bytes()
    );
    assert_eq!(
        message_of(next_push(&mut || client.next_event())).id,
        ids[1]
    );
    let id = publish(server.addr, "t", HOSTILE).unwrap();
    assert_eq!(
        message_of(next_push(&mut || client.next_event())),
        ReceivedMessage {
            id,
            data: HOSTILE.into()
        }
    );
}

#[test]
fn iframe_hostile_data_cannot_leave_its_script() {
    let server = start(test_config());
    let id = publish(server.addr, "t", HOSTILE).unwrap();
    let path = door_path("iframe", "t", Some(id - 1), &[("callback", "f")]);
    let page = iframe_page_through_first_script(server.addr, &path);
    let script_start = page.find("<script>").unwrap();
    let script = &page[script_start..page.find("</script>").unwrap()];
    assert!(script.starts_with("<script>parent.f({\"id\":"), "{script}");
    for raw in ["<!--", "-->", "\u{2028}", "\u{2029}", "\n", "\r"] {
        assert!(
            !script.contains(raw),
            "raw {raw:?} inside the script: {script}"
        );
    }
    assert_eq!(
        script.matches('<').count(),
        1,
        "only the opening tag: {script}"
    );
}

#[test]
fn iframe_refuses_unsafe_callbacks() {
    let server = start(test_config());
    let too_long = "x".repeat(65);
    for bad in ["alert(1)", "a..b", "x;y", "", too_long.as_str()] {
        let response = http::get(
            server.addr,
            &door_path("iframe", "t", None, &[("callback", bad)]),
        )
        .unwrap();
        assert_eq!(response.status, 400, "callback {bad:?}");
    }
}

#[test]
fn iframe_reset_then_oldest_kept() {
    let server = start_with_short_log();
    let ids = publish_many(server.addr, "t", "m", 10);
    let mut client = IframeClient::connect(server.addr, "t", Some(ids[1]), "f", TIMEOUT).unwrap();
    assert_eq!(
        next_push(&mut || client.next_event()),
        PushEvent::Reset { last: ids[4] }
    );
    for id in &ids[5..] {
        assert_eq!(message_of(next_push(&mut || client.next_event())).id, *id);
    }
}

#[test]
fn iframe_stream_ends_after_max_stream_bytes_and_resumes_without_loss() {
    check_stream_resumes_across_reconnects(|addr, after| {
        let mut client =
            IframeClient::connect(addr, "t", Some(after), "f", TIMEOUT).expect("connect");
        Box::new(move || client.next_event())
    });
}

#[test]
fn iframe_disconnect_removes_the_subscriber() {
    let server = start(test_config());
    let client = IframeClient::connect(server.addr, "t", None, "f", TIMEOUT).unwrap();
    wait_for_subscribers(&server, "t", 1);
    drop(client);
    wait_for_subscribers(&server, "t", 0);
}

/// The iframe page's bytes up to and including its first `</script>`.
fn iframe_page_through_first_script(addr: SocketAddr, path: &str) -> String {
    let mut stream = http::open_stream(addr, path, &[], TIMEOUT).unwrap();
    assert_eq!(stream.head.status, 200);
    let mut page = Vec::new();
    while !page.windows(9).any(|w| w == b"</script>") {
        page.extend(stream.next_chunk().unwrap().expect("open"));
    }
    String::from_utf8(page).unwrap()
}

#[test]
fn iframe_post_message_mode_names_our_own_origin_exactly() {
    let server = start(test_config());
    let id = publish(server.addr, "t", HOSTILE).unwrap();
    let own = format!("http://{}", server.addr);
    let path = door_path("iframe", "t", Some(id - 1), &[("origin", &own)]);
    let page = iframe_page_through_first_script(server.addr, &path);
    let script = &page[page.find("<script>").unwrap()..];
    assert_eq!(
        script,
        format!(
            "<script>parent.postMessage({}, \"{own}\");</script>\n",
            pushlab::json::message_json(id, HOSTILE)
        )
    );
    // The same escaping rules as the callback mode: nothing leaves the script.
    for raw in ["<!--", "-->", "\u{2028}", "\u{2029}", "\r"] {
        assert!(!script.contains(raw), "raw {raw:?} in {script}");
    }
    assert_eq!(
        script.matches('<').count(),
        2,
        "<script> and </script> only"
    );
    assert!(!page.contains("\"*\""));
    // The crate's client reads the same stream in this mode.
    let handoff = Handoff::PostMessage(own);
    let mut client =
        IframeClient::connect_with(server.addr, "t", Some(id - 1), &handoff, TIMEOUT).unwrap();
    assert_eq!(
        message_of(next_push(&mut || client.next_event())),
        ReceivedMessage {
            id,
            data: HOSTILE.into()
        }
    );
}

#[test]
fn iframe_post_message_to_a_configured_origin() {
    let mut config = test_config();
    config.ws.allowed_origins = vec!["https://app.example".to_string()];
    let server = start(config);
    let id = publish(server.addr, "t", "hi").unwrap();
    let path = door_path(
        "iframe",
        "t",
        Some(id - 1),
        &[("origin", "https://app.example")],
    );
    let page = iframe_page_through_first_script(server.addr, &path);
    assert!(
        page.ends_with(&format!(
            "<script>parent.postMessage({{\"id\":{id},\"data\":\"hi\"}}, \"https://app.example\");</script>\n"
        )),
        "{page}"
    );
}

#[test]
fn iframe_refuses_a_foreign_target_origin_and_ambiguous_requests() {
    let mut config = test_config();
    config.ws.allowed_origins = vec!["https://app.example".to_string()];
    let server = start(config);
    let own = format!("http://{}", server.addr);
    let other_port = format!("http://127.0.0.1:{}", server.addr.port() ^ 1);
    for foreign in [
        "*",
        "http://evil.example",
        "https://app.example.evil.example",
        other_port.as_str(),
        "null",
        "",
    ] {
        let response = http::get(
            server.addr,
            &door_path("iframe", "t", None, &[("origin", foreign)]),
        )
        .unwrap();
        assert_eq!(response.status, 403, "origin {foreign:?}");
    }
    let both = door_path("iframe", "t", None, &[("callback", "f"), ("origin", &own)]);
    assert_eq!(http::get(server.addr, &both).unwrap().status, 400);
    let neither = door_path("iframe", "t", None, &[]);
    assert_eq!(http::get(server.addr, &neither).unwrap().status, 400);
    let refused = IframeClient::connect_with(
        server.addr,
        "t",
        None,
        &Handoff::PostMessage("http://evil.example".into()),
        TIMEOUT,
    )
    .unwrap_err();
    assert!(refused.to_string().contains("403"), "{refused}");
}
