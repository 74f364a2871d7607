//! Unit tests of the hub: ids, retention, replay and reset, subscribers, errors.

use super::*;

fn limits(max_messages: usize, max_bytes: usize) -> HubLimits {
    HubLimits {
        max_messages_per_topic: max_messages,
        max_bytes_per_topic: max_bytes,
        max_topics: 4,
        max_publish_bytes: 100,
    }
}

fn publish_n(hub: &mut Hub, topic: &str, count: usize) -> Vec<u64> {
    (0..count)
        .map(|i| {
            hub.publish(topic, format!("m{i}"))
                .map(|p| p.message.id)
                .unwrap_or(0)
        })
        .collect()
}

fn ids(replay: &Replay) -> Vec<u64> {
    replay.messages.iter().map(|m| m.id).collect()
}

#[test]
fn topic_names() {
    assert!(Hub::valid_topic("a"));
    assert!(Hub::valid_topic("Chat_room-42"));
    assert!(Hub::valid_topic(&"x".repeat(64)));
    assert!(!Hub::valid_topic(&"x".repeat(65)));
    assert!(!Hub::valid_topic(""));
    for bad in ["a b", "a/b", "a.b", "é", "a%20", "..", "a?b"] {
        assert!(!Hub::valid_topic(bad), "{bad:?}");
    }
}

#[test]
fn ids_start_after_the_base_and_increase_by_one() {
    let mut hub = Hub::new(HubLimits::default(), 500);
    assert_eq!(hub.head("t"), 500);
    assert_eq!(publish_n(&mut hub, "t", 3), vec![501, 502, 503]);
    assert_eq!(hub.head("t"), 503);
    // Topics count independently.
    assert_eq!(publish_n(&mut hub, "other", 1), vec![501]);
}

#[test]
fn message_json_is_built_at_publish() {
    let mut hub = Hub::new(HubLimits::default(), 0);
    let published = hub
        .publish("t", "</script><!--\u{2028}\"\\".to_string())
        .unwrap();
    assert_eq!(published.message.data, "</script><!--\u{2028}\"\\");
    assert_eq!(
        published.message.json,
        r#"{"id":1,"data":"\u003c/script\u003e\u003c!--\u2028\"\\"}"#
    );
}

#[test]
fn errors_and_their_statuses() {
    let mut hub = Hub::new(limits(10, 1000), 0);
    assert_eq!(
        hub.publish("bad topic", "x".into()).unwrap_err(),
        HubError::BadTopic
    );
    assert_eq!(hub.read("", None, 10).unwrap_err(), HubError::BadTopic);
    assert_eq!(
        hub.subscribe("a/b", 1, None).unwrap_err(),
        HubError::BadTopic
    );
    assert!(hub.publish("t", "x".repeat(100)).is_ok());
    assert_eq!(
        hub.publish("t", "x".repeat(101)).unwrap_err(),
        HubError::TooLarge
    );
    for topic in ["b", "c", "d"] {
        assert!(hub.publish(topic, "x".into()).is_ok());
    }
    assert_eq!(
        hub.publish("e", "x".into()).unwrap_err(),
        HubError::TooManyTopics
    );
    assert_eq!(
        hub.subscribe("e", 1, None).unwrap_err(),
        HubError::TooManyTopics
    );
    // Existing topics still work at the bound.
    assert!(hub.publish("t", "x".into()).is_ok());
    assert_eq!(HubError::BadTopic.status(), 400);
    assert_eq!(HubError::TooLarge.status(), 413);
    assert_eq!(HubError::TooManyTopics.status(), 503);
    assert!(HubError::BadTopic.to_string().contains("1 to 64"));
    assert!(HubError::TooLarge.to_string().contains("larger"));
    assert!(HubError::TooManyTopics.to_string().contains("topics"));
}

#[test]
fn retention_by_count_drops_the_oldest() {
    let mut hub = Hub::new(limits(3, 1_000_000), 0);
    publish_n(&mut hub, "t", 5);
    let all = hub.read("t", Some(0), 100).unwrap();
    assert_eq!(ids(&all), vec![3, 4, 5]);
    assert!(!all.reset);
}

#[test]
fn retention_by_bytes_drops_the_oldest() {
    let mut hub = Hub::new(limits(100, 10), 0);
    for data in ["aaaa", "bbbb", "cccc"] {
        hub.publish("t", data.to_string()).unwrap();
    }
    // 12 bytes > 10: the first message goes, 8 bytes stay.
    let all = hub.read("t", Some(0), 100).unwrap();
    assert_eq!(ids(&all), vec![2, 3]);
    hub.publish("t", "0123456789".to_string()).unwrap();
    assert_eq!(ids(&hub.read("t", Some(0), 100).unwrap()), vec![4]);
}

#[test]
fn the_newest_message_is_kept_even_when_alone_over_the_byte_bound() {
    let mut hub = Hub::new(limits(100, 4), 0);
    hub.publish("t", "0123456789".to_string()).unwrap();
    let replay = hub.read("t", Some(0), 100).unwrap();
    assert_eq!(ids(&replay), vec![1]);
}

#[test]
fn after_none_means_from_now() {
    let mut hub = Hub::new(HubLimits::default(), 0);
    publish_n(&mut hub, "t", 3);
    let replay = hub.read("t", None, 100).unwrap();
    assert_eq!(
        replay,
        Replay {
            reset: false,
            messages: vec![],
            last: 3
        }
    );
    let replay = hub.subscribe("t", 1, None).unwrap();
    assert_eq!(
        replay,
        Replay {
            reset: false,
            messages: vec![],
            last: 3
        }
    );
}

#[test]
fn after_zero_means_everything_kept_without_reset() {
    let mut hub = Hub::new(limits(2, 1_000_000), 1000);
    publish_n(&mut hub, "t", 5);
    let replay = hub.read("t", Some(0), 100).unwrap();
    assert_eq!(
        (ids(&replay), replay.last, replay.reset),
        (vec![1004, 1005], 1005, false)
    );
    // On an empty topic too.
    let replay = hub.read("empty", Some(0), 100).unwrap();
    assert_eq!(
        replay,
        Replay {
            reset: false,
            messages: vec![],
            last: 1000
        }
    );
}

#[test]
fn resume_inside_the_log_is_exact() {
    let mut hub = Hub::new(limits(10, 1_000_000), 0);
    publish_n(&mut hub, "t", 6);
    let replay = hub.read("t", Some(3), 100).unwrap();
    assert_eq!(
        (ids(&replay), replay.last, replay.reset),
        (vec![4, 5, 6], 6, false)
    );
    let replay = hub.read("t", Some(6), 100).unwrap();
    assert_eq!(
        replay,
        Replay {
            reset: false,
            messages: vec![],
            last: 6
        }
    );
}

#[test]
fn resume_just_before_the_oldest_kept_is_not_a_reset() {
    let mut hub = Hub::new(limits(3, 1_000_000), 0);
    publish_n(&mut hub, "t", 5); // keeps 3, 4, 5
    let replay = hub.read("t", Some(2), 100).unwrap();
    assert_eq!((ids(&replay), replay.reset), (vec![3, 4, 5], false));
}

#[test]
fn resume_behind_the_log_is_a_reset_from_the_oldest_kept() {
    let mut hub = Hub::new(limits(3, 1_000_000), 0);
    publish_n(&mut hub, "t", 5); // keeps 3, 4, 5; 1 and 2 are gone
    let replay = hub.read("t", Some(1), 100).unwrap();
    assert_eq!(
        (ids(&replay), replay.last, replay.reset),
        (vec![3, 4, 5], 5, true)
    );
}

#[test]
fn an_id_from_the_future_is_a_reset() {
    let mut hub = Hub::new(limits(10, 1_000_000), 0);
    publish_n(&mut hub, "t", 3);
    let replay = hub.read("t", Some(99), 100).unwrap();
    assert_eq!(
        (ids(&replay), replay.last, replay.reset),
        (vec![1, 2, 3], 3, true)
    );
    // Also when the topic has nothing.
    let replay = hub.read("empty", Some(99), 100).unwrap();
    assert_eq!(
        replay,
        Replay {
            reset: true,
            messages: vec![],
            last: 0
        }
    );
}

#[test]
fn ids_across_a_restart_make_old_clients_reset() {
    // First run: started at t=1000 ms.
    let mut first_run = Hub::new(HubLimits::default(), 1000);
    publish_n(&mut first_run, "t", 3); // 1001..=1003
    let seen = first_run.read("t", Some(0), 100).unwrap().last;
    assert_eq!(seen, 1003);
    // Second run, started later with a larger base: the log is empty and the old id is behind the head.
    let mut second_run = Hub::new(HubLimits::default(), 5000);
    let replay = second_run.read("t", Some(seen), 100).unwrap();
    assert_eq!(
        replay,
        Replay {
            reset: true,
            messages: vec![],
            last: 5000
        }
    );
    publish_n(&mut second_run, "t", 2); // 5001, 5002: no id of the first run repeats
    let replay = second_run.read("t", Some(seen), 100).unwrap();
    assert_eq!(
        (ids(&replay), replay.last, replay.reset),
        (vec![5001, 5002], 5002, true)
    );
    // A client of this run resuming normally is not reset.
    let replay = second_run.read("t", Some(5000), 100).unwrap();
    assert_eq!((ids(&replay), replay.reset), (vec![5001, 5002], false));
}

#[test]
fn read_caps_and_last_continues_without_gap() {
    let mut hub = Hub::new(HubLimits::default(), 0);
    publish_n(&mut hub, "t", 7);
    let first = hub.read("t", Some(0), 3).unwrap();
    assert_eq!((ids(&first), first.last), (vec![1, 2, 3], 3));
    let second = hub.read("t", Some(first.last), 3).unwrap();
    assert_eq!((ids(&second), second.last), (vec![4, 5, 6], 6));
    let third = hub.read("t", Some(second.last), 3).unwrap();
    assert_eq!((ids(&third), third.last), (vec![7], 7));
    // `max = 0` returns nothing and does not skip.
    let none = hub.read("t", Some(2), 0).unwrap();
    assert_eq!(
        none,
        Replay {
            reset: false,
            messages: vec![],
            last: 2
        }
    );
}

#[test]
fn a_capped_reset_resumes_from_the_oldest_kept() {
    let mut hub = Hub::new(limits(4, 1_000_000), 0);
    publish_n(&mut hub, "t", 10); // keeps 7..=10
    let replay = hub.read("t", Some(1), 2).unwrap();
    assert_eq!(
        (ids(&replay), replay.last, replay.reset),
        (vec![7, 8], 8, true)
    );
    let none = hub.read("t", Some(1), 0).unwrap();
    assert_eq!(
        none,
        Replay {
            reset: true,
            messages: vec![],
            last: 6
        }
    );
}

#[test]
fn read_creates_nothing() {
    let hub = Hub::new(HubLimits::default(), 42);
    let replay = hub.read("nobody", Some(42), 10).unwrap();
    assert_eq!(
        replay,
        Replay {
            reset: false,
            messages: vec![],
            last: 42
        }
    );
    assert_eq!(hub.topic_count(), 0);
}

#[test]
fn subscribe_replays_without_cap_and_then_receives() {
    let mut hub = Hub::new(HubLimits::default(), 0);
    publish_n(&mut hub, "t", 250);
    let replay = hub.subscribe("t", 9, Some(0)).unwrap();
    assert_eq!(replay.messages.len(), 250);
    assert_eq!(replay.last, 250);
    let published = hub.publish("t", "live".into()).unwrap();
    assert_eq!(published.message.id, 251);
    assert_eq!(published.subscribers, vec![9]);
}

#[test]
fn subscribers_are_counted_and_removed() {
    let mut hub = Hub::new(HubLimits::default(), 0);
    hub.subscribe("a", 1, None).unwrap();
    hub.subscribe("a", 2, None).unwrap();
    hub.subscribe("a", 2, None).unwrap(); // twice is once
    hub.subscribe("b", 1, None).unwrap();
    assert_eq!(hub.subscriber_count("a"), 2);
    assert_eq!(hub.subscriber_count("b"), 1);
    assert_eq!(hub.subscriber_count("none"), 0);
    assert_eq!(hub.total_subscribers(), 3);
    assert_eq!(
        hub.publish("a", "x".into()).unwrap().subscribers,
        vec![1, 2]
    );
    hub.unsubscribe("a", 1);
    hub.unsubscribe("a", 1); // no-op
    hub.unsubscribe("none", 1); // no-op
    assert_eq!(hub.publish("a", "y".into()).unwrap().subscribers, vec![2]);
    hub.unsubscribe("a", 2);
    hub.unsubscribe("b", 1);
    assert_eq!(hub.total_subscribers(), 0);
    assert!(hub.publish("a", "z".into()).unwrap().subscribers.is_empty());
}

#[test]
fn topics_only_subscribed_to_go_away_with_their_last_subscriber() {
    let mut hub = Hub::new(limits(10, 1000), 0);
    hub.subscribe("visit", 1, None).unwrap();
    assert_eq!(hub.topic_count(), 1);
    hub.unsubscribe("visit", 1);
    assert_eq!(hub.topic_count(), 0);
    // A topic with messages stays, head and all.
    hub.publish("kept", "x".into()).unwrap();
    hub.subscribe("kept", 1, None).unwrap();
    hub.unsubscribe("kept", 1);
    assert_eq!(hub.topic_count(), 1);
    assert_eq!(hub.head("kept"), 1);
}
