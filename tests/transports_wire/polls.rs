//! Short polling, long polling and JSONP: one request, one JSON batch.

use super::*;

#[test]
fn short_poll_delivers_in_order_and_resumes_exactly() {
    let server = start(test_config());
    let ids = publish_many(server.addr, "t", "m", 6);
    let all = short_poll(server.addr, "t", Some(0)).unwrap();
    assert_eq!(ids_of(&all.messages), ids);
    assert_eq!(all.messages[3].data, "m 3");
    assert_eq!((all.last, all.reset), (ids[5], false));
    let rest = short_poll(server.addr, "t", Some(ids[2])).unwrap();
    assert_eq!(ids_of(&rest.messages), ids[3..].to_vec());
    let none = short_poll(server.addr, "t", Some(ids[5])).unwrap();
    assert_eq!((none.messages.len(), none.last), (0, ids[5]));
}

#[test]
fn short_poll_without_after_is_from_now() {
    let server = start(test_config());
    let ids = publish_many(server.addr, "t", "m", 2);
    let batch = short_poll(server.addr, "t", None).unwrap();
    assert!(batch.messages.is_empty());
    assert_eq!(batch.last, ids[1]);
}

#[test]
fn short_poll_head_fields() {
    let server = start(test_config());
    let response = http::get(server.addr, "/poll/t?after=0").unwrap();
    assert_eq!(response.status, 200);
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    assert!(response.header("content-length").is_some());
}

#[test]
fn short_poll_reset_when_asking_behind_the_log() {
    let server = start_with_short_log();
    let ids = publish_many(server.addr, "t", "m", 10);
    let batch = short_poll(server.addr, "t", Some(ids[0])).unwrap();
    assert!(batch.reset);
    assert_eq!(ids_of(&batch.messages), ids[5..].to_vec());
    // Just before the oldest kept is a clean resume.
    let batch = short_poll(server.addr, "t", Some(ids[4])).unwrap();
    assert!(!batch.reset);
    assert_eq!(ids_of(&batch.messages), ids[5..].to_vec());
}

#[test]
fn short_poll_batches_are_capped_and_last_pages_on() {
    let mut config = test_config();
    config.max_batch_messages = 4;
    let server = start(config);
    let ids = publish_many(server.addr, "t", "m", 10);
    let mut seen = Vec::new();
    let mut after = Some(0);
    for _ in 0..10 {
        let batch = short_poll(server.addr, "t", after).unwrap();
        assert!(batch.messages.len() <= 4);
        if batch.messages.is_empty() {
            break;
        }
        seen.extend(ids_of(&batch.messages));
        after = Some(batch.last);
    }
    assert_eq!(seen, ids);
}

#[test]
fn hostile_data_round_trips_through_a_poll() {
    let server = start(test_config());
    let id = publish(server.addr, "t", HOSTILE).unwrap();
    let response = http::get(server.addr, &door_path("poll", "t", Some(id - 1), &[])).unwrap();
    let body = response.text().unwrap();
    for raw in ["<", ">", "\u{2028}", "\u{2029}", "\r", "\n", "\0"] {
        assert!(!body.contains(raw), "raw {raw:?} in {body}");
    }
    let batch = poll::batch_from_response(&response).unwrap();
    assert_eq!(
        batch.messages,
        vec![ReceivedMessage {
            id,
            data: HOSTILE.to_string()
        }]
    );
}

#[test]
fn long_poll_answers_at_once_when_messages_exist() {
    let server = start(test_config());
    let ids = publish_many(server.addr, "t", "m", 3);
    let batch = long_poll(server.addr, "t", Some(ids[0]), TIMEOUT).unwrap();
    assert_eq!(ids_of(&batch.messages), ids[1..].to_vec());
}

#[test]
fn long_poll_is_answered_by_the_next_publish() {
    let server = start(test_config());
    let after = head(server.addr, "t");
    let addr = server.addr;
    let waiter = thread::spawn(move || long_poll(addr, "t", Some(after), TIMEOUT));
    wait_for_subscribers(&server, "t", 1);
    let id = publish(server.addr, "t", "wake up").unwrap();
    let batch = waiter.join().unwrap().unwrap();
    assert_eq!(
        batch.messages,
        vec![ReceivedMessage {
            id,
            data: "wake up".into()
        }]
    );
    assert_eq!(batch.last, id);
    wait_for_subscribers(&server, "t", 0);
}

#[test]
fn long_poll_hold_timeout_answers_an_empty_list() {
    let mut config = test_config();
    config.hold_timeout = Duration::from_millis(300);
    let server = start(config);
    let ids = publish_many(server.addr, "t", "m", 1);
    let batch = long_poll(server.addr, "t", Some(ids[0]), TIMEOUT).unwrap();
    assert!(batch.messages.is_empty());
    assert_eq!((batch.last, batch.reset), (ids[0], false));
    let batch = long_poll(server.addr, "t", None, TIMEOUT).unwrap();
    assert!(batch.messages.is_empty());
    assert_eq!(batch.last, ids[0]);
    wait_for_subscribers(&server, "t", 0);
}

#[test]
fn long_poll_loop_loses_nothing_published_between_requests() {
    let server = start(test_config());
    let mut after = head(server.addr, "t");
    let mut expected = Vec::new();
    let mut seen = Vec::new();
    for round in 0..5 {
        // Published while no request is waiting: the next request asks after `last` and gets them.
        expected.extend(publish_many(
            server.addr,
            "t",
            &format!("round {round}"),
            round + 1,
        ));
        let batch = long_poll(server.addr, "t", Some(after), TIMEOUT).unwrap();
        assert!(!batch.reset);
        seen.extend(ids_of(&batch.messages));
        after = batch.last;
    }
    assert_eq!(seen, expected);
}

#[test]
fn long_poll_reset_is_answered_at_once() {
    let server = start_with_short_log();
    let ids = publish_many(server.addr, "t", "m", 10);
    let batch = long_poll(server.addr, "t", Some(ids[1]), TIMEOUT).unwrap();
    assert!(batch.reset);
    assert_eq!(ids_of(&batch.messages), ids[5..].to_vec());
    // An id from the future (another run of the server) is a reset too, even with nothing to send.
    let batch = long_poll(server.addr, "t", Some(ids[9] + 1_000), TIMEOUT).unwrap();
    assert!(batch.reset);
}

#[test]
fn long_poll_disconnect_removes_the_subscriber() {
    held_request_disconnect_removes_the_subscriber("longpoll", &[]);
}

#[test]
fn jsonp_disconnect_removes_the_subscriber() {
    // A JSONP request with nothing new is held like a long poll, so it is a subscriber until it ends.
    held_request_disconnect_removes_the_subscriber("jsonp", &[("callback", "cb")]);
}

/// A request held on `door` counts as a subscriber while it waits, and no more once its client hangs up.
fn held_request_disconnect_removes_the_subscriber(door: &str, params: &[(&str, &str)]) {
    let server = start(test_config());
    let after = head(server.addr, "t");
    let mut connection = HttpConnection::connect(server.addr, TIMEOUT).unwrap();
    connection
        .send_request("GET", &door_path(door, "t", Some(after), params), &[], b"")
        .unwrap();
    wait_for_subscribers(&server, "t", 1);
    drop(connection);
    wait_for_subscribers(&server, "t", 0);
}

/// How many client sockets the many-clients test opens: 1,000, unless the open-file limit would not
/// allow client and server sockets of this one process together.
fn many_clients_count() -> usize {
    let soft_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits
                .lines()
                .find(|line| line.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse::<usize>().ok()
        });
    match soft_limit {
        Some(limit) if limit < 2_200 => {
            let count = limit.saturating_sub(200) / 2;
            eprintln!("open-file limit {limit}: using {count} clients instead of 1000");
            count
        }
        _ => 1_000,
    }
}

#[test]
fn one_publish_releases_a_thousand_long_polls() {
    let server = start(test_config());
    let count = many_clients_count();
    let after = head(server.addr, "crowd");
    let path = door_path("longpoll", "crowd", Some(after), &[]);
    let mut connections = Vec::with_capacity(count);
    for _ in 0..count {
        let mut connection = HttpConnection::connect(server.addr, Duration::from_secs(30)).unwrap();
        connection.send_request("GET", &path, &[], b"").unwrap();
        connections.push(connection);
    }
    wait_until("every long poll parked", || {
        server.subscriber_count("crowd").ok() == Some(count)
    });
    let id = publish(server.addr, "crowd", "for everyone").unwrap();
    for connection in &mut connections {
        let response = connection.read_response().unwrap();
        let batch = poll::batch_from_response(&response).unwrap();
        assert_eq!(
            batch.messages,
            vec![ReceivedMessage {
                id,
                data: "for everyone".into()
            }]
        );
    }
    wait_for_subscribers(&server, "crowd", 0);
}

#[test]
fn jsonp_delivers_through_the_callback() {
    let server = start(test_config());
    let ids = publish_many(server.addr, "t", "m", 3);
    let path = door_path("jsonp", "t", Some(ids[0]), &[("callback", "app.receive")]);
    let response = http::get(server.addr, &path).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let body = response.text().unwrap();
    assert!(body.starts_with("/**/app.receive({"), "{body}");
    let batch = parse_jsonp(body, "app.receive").unwrap();
    assert_eq!(ids_of(&batch.messages), ids[1..].to_vec());
}

#[test]
fn jsonp_refuses_unsafe_callbacks() {
    let server = start(test_config());
    let too_long = "x".repeat(65);
    for bad in [
        "alert(1)",
        "a..b",
        "x;y",
        "",
        "a b",
        "</script>",
        "1a",
        too_long.as_str(),
    ] {
        let path = door_path("jsonp", "t", Some(0), &[("callback", bad)]);
        let response = http::get(server.addr, &path).unwrap();
        assert_eq!(response.status, 400, "callback {bad:?}");
    }
    let id = publish(server.addr, "t", "m").unwrap();
    for good in ["a.b", "$x.y_z", "cb"] {
        let batch = jsonp_poll(server.addr, "t", Some(0), good, TIMEOUT).unwrap();
        assert_eq!(ids_of(&batch.messages), vec![id], "callback {good:?}");
    }
}

#[test]
fn jsonp_hold_timeout_and_hostile_data() {
    let mut config = test_config();
    config.hold_timeout = Duration::from_millis(300);
    let server = start(config);
    let id = publish(server.addr, "t", HOSTILE).unwrap();
    let batch = jsonp_poll(server.addr, "t", Some(id), "f", TIMEOUT).unwrap();
    assert_eq!((batch.messages.len(), batch.last), (0, id));
    let response = http::get(
        server.addr,
        &door_path("jsonp", "t", Some(id - 1), &[("callback", "f")]),
    )
    .unwrap();
    let body = response.text().unwrap();
    assert!(
        !body.contains("</script") && !body.contains("<!--") && !body.contains('\u{2028}'),
        "{body}"
    );
    let batch = parse_jsonp(body, "f").unwrap();
    assert_eq!(
        batch.messages,
        vec![ReceivedMessage {
            id,
            data: HOSTILE.to_string()
        }]
    );
}

#[test]
fn jsonp_reset() {
    let server = start_with_short_log();
    let ids = publish_many(server.addr, "t", "m", 10);
    let batch: Batch = jsonp_poll(server.addr, "t", Some(ids[0]), "f", TIMEOUT).unwrap();
    assert!(batch.reset);
    assert_eq!(ids_of(&batch.messages), ids[5..].to_vec());
}
