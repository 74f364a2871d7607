//! Unit tests of the hub: ids, retention, replay and reset, subscribers, errors.

use std::time::{Duration, Instant};

use super::*;

fn limits(max_messages: usize, max_bytes: usize) -> HubLimits {
    HubLimits {
        max_messages_per_topic: max_messages,
        max_bytes_per_topic: max_bytes,
        max_topics: 4,
        max_publish_bytes: 100,
        topic_idle_timeout: Duration::from_secs(60),
        ..HubLimits::default()
    }
}

fn publish_n(hub: &mut Hub, topic: &str, count: usize, now: Instant) -> Vec<u64> {
    (0..count)
        .map(|i| {
            hub.publish(topic, format!("m{i}"), now)
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
    let now = Instant::now();
    let mut hub = Hub::new(HubLimits::default(), 500);
    assert_eq!(hub.head("t"), 500);
    assert_eq!(publish_n(&mut hub, "t", 3, now), vec![501, 502, 503]);
    assert_eq!(hub.head("t"), 503);
    // Topics count independently.
    assert_eq!(publish_n(&mut hub, "other", 1, now), vec![501]);
}

#[test]
fn message_json_is_built_at_publish() {
    let now = Instant::now();
    let mut hub = Hub::new(HubLimits::default(), 0);
    let published = hub
        .publish("t", "</script><!--\u{2028}\"\\".to_string(), now)
        .unwrap();
    assert_eq!(published.message.data, "</script><!--\u{2028}\"\\");
    assert_eq!(
        published.message.json,
        r#"{"id":1,"data":"\u003c/script\u003e\u003c!--\u2028\"\\"}"#
    );
}

#[test]
fn subscribers_of_a_topic_share_the_hubs_copy_of_its_name() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(10, 1000), 0);
    hub.subscribe("news", 1, None, now).unwrap();
    let first = hub.shared_name("news");
    let second = hub.shared_name("news");
    assert!(
        Rc::ptr_eq(&first, &second),
        "one string for every subscriber"
    );
    assert_eq!(&*first, "news");
    // A name the hub does not hold is a string of its own, and creates nothing.
    let unknown = hub.shared_name("elsewhere");
    assert_eq!(&*unknown, "elsewhere");
    assert_eq!(hub.topic_count(), 1);
    // Reading a held topic skips the name check (it was checked when the topic was added); an
    // unknown name is still checked.
    assert!(hub.read_into("news", Some(0), 10, now, Vec::new()).is_ok());
    assert_eq!(
        hub.read_into("bad name", Some(0), 10, now, Vec::new())
            .unwrap_err(),
        HubError::BadTopic
    );
}

#[test]
fn errors_and_their_statuses() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(10, 1000), 0);
    assert_eq!(
        hub.publish("bad topic", "x".into(), now).unwrap_err(),
        HubError::BadTopic
    );
    assert_eq!(hub.read("", None, 10, now).unwrap_err(), HubError::BadTopic);
    assert_eq!(
        hub.subscribe("a/b", 1, None, now).unwrap_err(),
        HubError::BadTopic
    );
    assert!(hub.publish("t", "x".repeat(100), now).is_ok());
    assert_eq!(
        hub.publish("t", "x".repeat(101), now).unwrap_err(),
        HubError::TooLarge
    );
    // Fill the table with topics that all have a subscriber: none can make room for a new one.
    hub.subscribe("t", 1, None, now).unwrap();
    for topic in ["b", "c", "d"] {
        assert!(hub.subscribe(topic, 1, None, now).is_ok());
    }
    assert_eq!(
        hub.publish("e", "x".into(), now).unwrap_err(),
        HubError::TooManyTopics
    );
    assert_eq!(
        hub.subscribe("e", 1, None, now).unwrap_err(),
        HubError::TooManyTopics
    );
    // Existing topics still work at the bound.
    assert!(hub.publish("t", "x".into(), now).is_ok());
    assert_eq!(HubError::BadTopic.status(), 400);
    assert_eq!(HubError::TooLarge.status(), 413);
    assert_eq!(HubError::TooManyTopics.status(), 503);
    assert!(HubError::BadTopic.to_string().contains("1 to 64"));
    assert!(HubError::TooLarge.to_string().contains("larger"));
    assert!(HubError::TooManyTopics.to_string().contains("topics"));
}

#[test]
fn retention_by_count_drops_the_oldest() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(3, 1_000_000), 0);
    publish_n(&mut hub, "t", 5, now);
    let all = hub.read("t", Some(0), 100, now).unwrap();
    assert_eq!(ids(&all), vec![3, 4, 5]);
    assert!(!all.reset);
}

#[test]
fn retention_by_bytes_drops_the_oldest() {
    let now = Instant::now();
    // Each of these messages stores 4 payload bytes, 22 bytes of JSON and the fixed overhead.
    let each = 4 + r#"{"id":1,"data":"aaaa"}"#.len() + Message::OVERHEAD_BYTES;
    let mut hub = Hub::new(limits(100, 2 * each + each / 2), 0);
    for data in ["aaaa", "bbbb", "cccc"] {
        hub.publish("t", data.to_string(), now).unwrap();
    }
    // Three would pass the bound: the first goes, two stay.
    let all = hub.read("t", Some(0), 100, now).unwrap();
    assert_eq!(ids(&all), vec![2, 3]);
    assert_eq!(hub.stored_bytes("t"), 2 * each);
}

#[test]
fn the_newest_message_is_kept_even_when_alone_over_the_byte_bound() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(100, 4), 0);
    hub.publish("t", "0123456789".to_string(), now).unwrap();
    let replay = hub.read("t", Some(0), 100, now).unwrap();
    assert_eq!(ids(&replay), vec![1]);
}

#[test]
fn after_none_means_from_now() {
    let now = Instant::now();
    let mut hub = Hub::new(HubLimits::default(), 0);
    publish_n(&mut hub, "t", 3, now);
    let replay = hub.read("t", None, 100, now).unwrap();
    assert_eq!(
        replay,
        Replay {
            reset: false,
            messages: vec![],
            last: 3
        }
    );
    let replay = hub.subscribe("t", 1, None, now).unwrap();
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
    let now = Instant::now();
    let mut hub = Hub::new(limits(2, 1_000_000), 1000);
    publish_n(&mut hub, "t", 5, now);
    let replay = hub.read("t", Some(0), 100, now).unwrap();
    assert_eq!(
        (ids(&replay), replay.last, replay.reset),
        (vec![1004, 1005], 1005, false)
    );
    // On an empty topic too.
    let replay = hub.read("empty", Some(0), 100, now).unwrap();
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
    let now = Instant::now();
    let mut hub = Hub::new(limits(10, 1_000_000), 0);
    publish_n(&mut hub, "t", 6, now);
    let replay = hub.read("t", Some(3), 100, now).unwrap();
    assert_eq!(
        (ids(&replay), replay.last, replay.reset),
        (vec![4, 5, 6], 6, false)
    );
    let replay = hub.read("t", Some(6), 100, now).unwrap();
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
    let now = Instant::now();
    let mut hub = Hub::new(limits(3, 1_000_000), 0);
    publish_n(&mut hub, "t", 5, now); // keeps 3, 4, 5
    let replay = hub.read("t", Some(2), 100, now).unwrap();
    assert_eq!((ids(&replay), replay.reset), (vec![3, 4, 5], false));
}

#[test]
fn resume_behind_the_log_is_a_reset_from_the_oldest_kept() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(3, 1_000_000), 0);
    publish_n(&mut hub, "t", 5, now); // keeps 3, 4, 5; 1 and 2 are gone
    let replay = hub.read("t", Some(1), 100, now).unwrap();
    assert_eq!(
        (ids(&replay), replay.last, replay.reset),
        (vec![3, 4, 5], 5, true)
    );
}

#[test]
fn an_id_from_the_future_is_a_reset() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(10, 1_000_000), 0);
    publish_n(&mut hub, "t", 3, now);
    let replay = hub.read("t", Some(99), 100, now).unwrap();
    assert_eq!(
        (ids(&replay), replay.last, replay.reset),
        (vec![1, 2, 3], 3, true)
    );
    // Also when the topic has nothing.
    let replay = hub.read("empty", Some(99), 100, now).unwrap();
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
    let now = Instant::now();
    // First run: started at t=1000 ms.
    let mut first_run = Hub::new(HubLimits::default(), 1000);
    publish_n(&mut first_run, "t", 3, now); // 1001..=1003
    let seen = first_run.read("t", Some(0), 100, now).unwrap().last;
    assert_eq!(seen, 1003);
    // Second run, started later with a larger base: the log is empty and the old id is behind the head.
    let mut second_run = Hub::new(HubLimits::default(), 5000);
    let replay = second_run.read("t", Some(seen), 100, now).unwrap();
    assert_eq!(
        replay,
        Replay {
            reset: true,
            messages: vec![],
            last: 5000
        }
    );
    publish_n(&mut second_run, "t", 2, now); // 5001, 5002: no id of the first run repeats
    let replay = second_run.read("t", Some(seen), 100, now).unwrap();
    assert_eq!(
        (ids(&replay), replay.last, replay.reset),
        (vec![5001, 5002], 5002, true)
    );
    // A client of this run resuming normally is not reset.
    let replay = second_run.read("t", Some(5000), 100, now).unwrap();
    assert_eq!((ids(&replay), replay.reset), (vec![5001, 5002], false));
}

#[test]
fn read_caps_and_last_continues_without_gap() {
    let now = Instant::now();
    let mut hub = Hub::new(HubLimits::default(), 0);
    publish_n(&mut hub, "t", 7, now);
    let first = hub.read("t", Some(0), 3, now).unwrap();
    assert_eq!((ids(&first), first.last), (vec![1, 2, 3], 3));
    let second = hub.read("t", Some(first.last), 3, now).unwrap();
    assert_eq!((ids(&second), second.last), (vec![4, 5, 6], 6));
    let third = hub.read("t", Some(second.last), 3, now).unwrap();
    assert_eq!((ids(&third), third.last), (vec![7], 7));
    // `max = 0` returns nothing and does not skip.
    let none = hub.read("t", Some(2), 0, now).unwrap();
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
    let now = Instant::now();
    let mut hub = Hub::new(limits(4, 1_000_000), 0);
    publish_n(&mut hub, "t", 10, now); // keeps 7..=10
    let replay = hub.read("t", Some(1), 2, now).unwrap();
    assert_eq!(
        (ids(&replay), replay.last, replay.reset),
        (vec![7, 8], 8, true)
    );
    let none = hub.read("t", Some(1), 0, now).unwrap();
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
    let now = Instant::now();
    let mut hub = Hub::new(HubLimits::default(), 42);
    let replay = hub.read("nobody", Some(42), 10, now).unwrap();
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
    let now = Instant::now();
    let mut hub = Hub::new(HubLimits::default(), 0);
    publish_n(&mut hub, "t", 250, now);
    let replay = hub.subscribe("t", 9, Some(0), now).unwrap();
    assert_eq!(replay.messages.len(), 250);
    assert_eq!(replay.last, 250);
    let published = hub.publish("t", "live".into(), now).unwrap();
    assert_eq!(published.message.id, 251);
    assert_eq!(published.subscribers, vec![9]);
}

#[test]
fn subscribers_are_counted_and_removed() {
    let now = Instant::now();
    let mut hub = Hub::new(HubLimits::default(), 0);
    hub.subscribe("a", 1, None, now).unwrap();
    hub.subscribe("a", 2, None, now).unwrap();
    hub.subscribe("a", 2, None, now).unwrap(); // twice is once
    hub.subscribe("b", 1, None, now).unwrap();
    assert_eq!(hub.subscriber_count("a"), 2);
    assert_eq!(hub.subscriber_count("b"), 1);
    assert_eq!(hub.subscriber_count("none"), 0);
    assert_eq!(hub.total_subscribers(), 3);
    assert_eq!(
        hub.publish("a", "x".into(), now).unwrap().subscribers,
        vec![1, 2]
    );
    hub.unsubscribe("a", 1, now);
    hub.unsubscribe("a", 1, now); // no-op
    hub.unsubscribe("none", 1, now); // no-op
    assert_eq!(
        hub.publish("a", "y".into(), now).unwrap().subscribers,
        vec![2]
    );
    hub.unsubscribe("a", 2, now);
    hub.unsubscribe("b", 1, now);
    assert_eq!(hub.total_subscribers(), 0);
    assert!(hub
        .publish("a", "z".into(), now)
        .unwrap()
        .subscribers
        .is_empty());
}

#[test]
fn topics_only_subscribed_to_go_away_with_their_last_subscriber() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(10, 1000), 0);
    hub.subscribe("visit", 1, None, now).unwrap();
    assert_eq!(hub.topic_count(), 1);
    hub.unsubscribe("visit", 1, now);
    assert_eq!(hub.topic_count(), 0);
    // A topic with messages stays, head and all.
    hub.publish("kept", "x".into(), now).unwrap();
    hub.subscribe("kept", 1, None, now).unwrap();
    hub.unsubscribe("kept", 1, now);
    assert_eq!(hub.topic_count(), 1);
    assert_eq!(hub.head("kept"), 1);
}

// ---- What retention counts ----

#[test]
fn stored_bytes_counts_payload_json_and_overhead() {
    let mut hub = Hub::new(HubLimits::default(), 0);
    let message = hub
        .publish("t", "a<b".to_string(), Instant::now())
        .unwrap()
        .message;
    assert_eq!(message.json, r#"{"id":1,"data":"a\u003cb"}"#);
    assert_eq!(
        message.stored_bytes(),
        3 + message.json.len() + Message::OVERHEAD_BYTES
    );
    // The `Message` itself, the `Rc` counters and the log slot.
    assert!(Message::OVERHEAD_BYTES >= std::mem::size_of::<Message>() + 3 * 8);
    assert_eq!(hub.stored_bytes("t"), message.stored_bytes());
}

/// 64 KiB of `<` and control characters becomes about 384 KiB of JSON. Counting only the payload kept
/// all 16 messages here (16 x 64 KiB = the 1 MiB bound) while they held about 7 MiB.
#[test]
fn retention_counts_the_escaped_json_form() {
    let now = Instant::now();
    let max_bytes_per_topic = 1024 * 1024;
    let mut hub = Hub::new(
        HubLimits {
            max_bytes_per_topic,
            max_publish_bytes: 64 * 1024,
            ..HubLimits::default()
        },
        0,
    );
    for i in 0..16 {
        let escapes_heavily = if i % 2 == 0 { "<" } else { "\u{1}" };
        hub.publish("t", escapes_heavily.repeat(64 * 1024), now)
            .unwrap();
        let kept = hub.read("t", Some(0), usize::MAX, now).unwrap().messages;
        // What the strings and the messages really hold, added up independently of the hub's counter.
        let held: usize = kept
            .iter()
            .map(|m| m.data.len() + m.json.len() + std::mem::size_of::<Message>())
            .sum();
        assert!(kept.iter().all(|m| m.json.len() > 6 * 64 * 1024));
        assert!(
            held <= max_bytes_per_topic || kept.len() == 1,
            "after {} publishes {} messages hold {held} bytes",
            i + 1,
            kept.len()
        );
        assert!(hub.stored_bytes("t") <= max_bytes_per_topic);
    }
    // About 448 KiB each: two fit in 1 MiB.
    assert_eq!(
        hub.read("t", Some(0), usize::MAX, now)
            .unwrap()
            .messages
            .len(),
        2
    );
}

// ---- Topic table bounds: eviction ----

fn exists(hub: &Hub, topic: &str) -> bool {
    hub.topics.contains_key(topic)
}

#[test]
fn a_full_table_evicts_the_least_recently_used_topic() {
    let t0 = Instant::now();
    let second = Duration::from_secs(1);
    let mut hub = Hub::new(limits(10, 1_000_000), 0); // max_topics: 4
    for (i, topic) in ["a", "b", "c", "d"].into_iter().enumerate() {
        hub.publish(topic, "x".into(), t0 + second * i as u32)
            .unwrap();
    }
    // A read is a use: "a" is now the most recently used.
    hub.read("a", Some(0), 10, t0 + second * 4).unwrap();
    hub.publish("e", "x".into(), t0 + second * 5).unwrap();
    assert!(!exists(&hub, "b"), "b was the least recently used");
    hub.publish("f", "x".into(), t0 + second * 6).unwrap();
    assert!(!exists(&hub, "c"));
    assert_eq!(hub.topic_count(), 4);
    for topic in ["a", "d", "e", "f"] {
        assert!(exists(&hub, topic), "{topic}");
    }
}

#[test]
fn uses_at_the_same_instant_are_still_ordered() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(10, 1_000_000), 0);
    for topic in ["a", "b", "c", "d"] {
        hub.publish(topic, "x".into(), now).unwrap();
    }
    hub.publish("a", "again".into(), now).unwrap();
    hub.publish("e", "x".into(), now).unwrap();
    assert!(!exists(&hub, "b"));
    assert!(exists(&hub, "a"));
}

/// The lockout this prevents: junk topics filling the table made every new topic answer 503 forever.
#[test]
fn junk_topics_never_lock_out_new_ones() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(10, 1_000_000), 0);
    for i in 0..1_100 {
        hub.publish(&format!("junk{i}"), "x".into(), now).unwrap();
    }
    assert_eq!(hub.topic_count(), 4);
    assert!(hub.publish("real", "hello".into(), now).is_ok());
    assert!(hub.subscribe("listened", 1, None, now).is_ok());
}

#[test]
fn topics_with_subscribers_are_never_evicted() {
    let t0 = Instant::now();
    let much_later = t0 + Duration::from_secs(24 * 60 * 60);
    let mut hub = Hub::new(limits(10, 1_000_000), 0);
    for (subscriber, topic) in [(1, "a"), (2, "b"), (3, "c")] {
        hub.publish(topic, "x".into(), t0).unwrap();
        hub.subscribe(topic, subscriber, None, t0).unwrap();
    }
    hub.publish("d", "x".into(), much_later).unwrap();
    // "d" is the most recently used, but the only one nobody listens to.
    hub.publish("e", "x".into(), much_later).unwrap();
    assert!(!exists(&hub, "d"));
    assert_eq!(hub.evict_idle(much_later), 0);
    hub.subscribe("e", 4, None, much_later).unwrap();
    // Every topic has a subscriber now: a new one is refused, and idleness evicts nothing.
    assert_eq!(
        hub.publish("f", "x".into(), much_later).unwrap_err(),
        HubError::TooManyTopics
    );
    assert_eq!(hub.evict_idle(much_later + Duration::from_secs(3600)), 0);
    assert_eq!(hub.next_eviction(), None);
    // One subscriber leaves: its topic can make room again.
    hub.unsubscribe("a", 1, much_later);
    assert!(hub.publish("f", "x".into(), much_later).is_ok());
    assert!(!exists(&hub, "a"));
}

#[test]
fn idle_topics_are_evicted_after_the_timeout() {
    let t0 = Instant::now();
    let idle = Duration::from_secs(60); // `limits()`'s topic_idle_timeout
    let mut hub = Hub::new(limits(10, 1_000_000), 0);
    assert_eq!(hub.next_eviction(), None);
    hub.publish("quiet", "x".into(), t0).unwrap();
    hub.publish("polled", "x".into(), t0).unwrap();
    hub.publish("listened", "x".into(), t0).unwrap();
    hub.subscribe("listened", 1, None, t0).unwrap();
    assert_eq!(hub.next_eviction(), Some(t0 + idle));

    // Someone polls "polled" half-way through: its idle time starts again.
    hub.read("polled", Some(0), 10, t0 + idle / 2).unwrap();
    assert_eq!(hub.evict_idle(t0 + idle - Duration::from_millis(1)), 0);
    assert_eq!(hub.evict_idle(t0 + idle), 1);
    assert!(!exists(&hub, "quiet"));
    assert_eq!(hub.next_eviction(), Some(t0 + idle / 2 + idle));
    assert_eq!(hub.evict_idle(t0 + 10 * idle), 1);
    assert!(!exists(&hub, "polled"));

    // A subscribed topic stays however long; its idle time starts when its last subscriber leaves.
    assert_eq!(hub.next_eviction(), None);
    assert!(exists(&hub, "listened"));
    let left = t0 + 100 * idle;
    hub.unsubscribe("listened", 1, left);
    assert_eq!(hub.evict_idle(left), 0);
    assert_eq!(hub.next_eviction(), Some(left + idle));
    assert_eq!(hub.evict_idle(left + idle), 1);
    assert_eq!(hub.topic_count(), 0);
}

// ---- Ids never repeat after an eviction ----

#[test]
fn a_recreated_topic_continues_after_the_evicted_head() {
    let t0 = Instant::now();
    let after_idle = t0 + Duration::from_secs(60);
    let mut hub = Hub::new(limits(10, 1_000_000), 1000);
    assert_eq!(
        publish_n(&mut hub, "t", 5, t0),
        vec![1001, 1002, 1003, 1004, 1005]
    );
    assert_eq!(hub.evict_idle(after_idle), 1);
    assert_eq!(hub.topic_count(), 0);
    // The head survives the topic: a reader that saw everything resumes cleanly...
    assert_eq!(hub.head("t"), 1005);
    let caught_up = hub.read("t", Some(1005), 10, after_idle).unwrap();
    assert_eq!(
        caught_up,
        Replay {
            reset: false,
            messages: vec![],
            last: 1005
        }
    );
    // ...and one that had not seen 1004 and 1005 is told it missed them.
    let behind = hub.read("t", Some(1003), 10, after_idle).unwrap();
    assert_eq!((behind.reset, behind.last), (true, 1005));

    // Recreated, the topic hands out 1006, never 1001 again.
    assert_eq!(publish_n(&mut hub, "t", 1, after_idle), vec![1006]);
    let caught_up = hub.read("t", Some(1005), 10, after_idle).unwrap();
    assert_eq!((ids(&caught_up), caught_up.reset), (vec![1006], false));
    let behind = hub.read("t", Some(1003), 10, after_idle).unwrap();
    assert_eq!((ids(&behind), behind.reset), (vec![1006], true));
}

#[test]
fn the_high_water_mark_covers_every_way_a_topic_goes() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(10, 1_000_000), 0);
    // Evicted to make room in a full table.
    publish_n(&mut hub, "big", 50, now);
    for topic in ["b", "c", "d", "e"] {
        publish_n(&mut hub, topic, 1, now);
    }
    assert!(!exists(&hub, "big"));
    assert_eq!(hub.head("big"), 50);
    assert_eq!(publish_n(&mut hub, "big", 1, now), vec![51]);
    // Removed on purpose.
    publish_n(&mut hub, "big", 20, now); // head 71
    hub.remove_topic("big");
    assert_eq!(publish_n(&mut hub, "big", 1, now), vec![72]);
    // One mark for the whole hub: a smaller topic that goes later does not lower it, and any topic
    // created afterwards starts above it.
    assert_eq!(hub.head("c"), 1);
    hub.remove_topic("c");
    assert_eq!(hub.head("never-seen"), 71);
    assert_eq!(publish_n(&mut hub, "b", 1, now), vec![72]);
}

// ---- What a read costs ----

/// The cursor pull the server does for every subscriber on every message: "after my cursor, at most
/// this many". Each read starts at a computed index (`VecDeque::range`) and returns one message, so
/// 1,000 such reads on a 10,000-message log are 1,000 steps, not 10,000,000 (see `topic.rs`).
#[test]
fn a_cursor_read_starts_at_the_cursor() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(10_000, usize::MAX), 0);
    publish_n(&mut hub, "t", 10_000, now);
    for cursor in (0..10_000).step_by(10) {
        let replay = hub.read("t", Some(cursor), 1, now).unwrap();
        assert_eq!((ids(&replay), replay.last), (vec![cursor + 1], cursor + 1));
    }
    // At the head, past the end of the log, and with `max = 0`: nothing, no panic on the range.
    assert!(hub
        .read("t", Some(10_000), 5, now)
        .unwrap()
        .messages
        .is_empty());
    assert_eq!(hub.read("t", Some(10_000), 0, now).unwrap().last, 10_000);
    assert!(hub.read("t", Some(u64::MAX), 0, now).unwrap().reset);
}

// ---- Subscriber ids ----

#[test]
fn a_resubscription_is_a_new_subscriber() {
    let now = Instant::now();
    let mut hub = Hub::new(HubLimits::default(), 0);
    hub.subscribe("t", 41, None, now).unwrap();
    hub.subscribe("t", 40, None, now).unwrap();
    // The same connection ends subscription 41 and subscribes again: the server gives it number 42.
    hub.unsubscribe("t", 41, now);
    hub.subscribe("t", 42, None, now).unwrap();
    // Handed out in subscription-number order.
    assert_eq!(
        hub.publish("t", "x".into(), now).unwrap().subscribers,
        vec![40, 42]
    );
    hub.subscribe("t", u64::MAX, None, now).unwrap();
    assert_eq!(hub.subscriber_count("t"), 3);
}

// ---- Layering ----

/// The hub owns its limits and knows nothing of the server (design §2: each layer owns its limits).
#[test]
fn the_hub_imports_nothing_from_the_server() {
    for (file, source) in [
        ("mod.rs", include_str!("mod.rs")),
        ("topic.rs", include_str!("topic.rs")),
        ("limits.rs", include_str!("limits.rs")),
    ] {
        assert!(!source.contains("crate::server"), "src/hub/{file}");
    }
}

/// The Redis backend numbers messages in the shared log; the hub takes them only in order.
#[test]
fn messages_numbered_elsewhere_are_appended_only_in_order() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(10, 1 << 20), 1000);
    assert_eq!(
        hub.append_at("t", 5001, "x".into(), now),
        Ok(Appended::Unknown),
        "no topic is created by a message from elsewhere"
    );
    hub.rebase("t", 5000, 5000, now).unwrap();
    hub.subscribe("t", 1, None, now).unwrap();
    let Ok(Appended::Published(published)) = hub.append_at("t", 5001, "a".into(), now) else {
        panic!("5001 follows 5000");
    };
    assert_eq!(published.message.json, r#"{"id":5001,"data":"a"}"#);
    assert_eq!(published.subscribers, vec![1]);
    assert_eq!(
        hub.append_at("t", 5001, "a".into(), now),
        Ok(Appended::Duplicate)
    );
    assert_eq!(
        hub.append_at("t", 5003, "c".into(), now),
        Ok(Appended::Gap { head: 5001 })
    );
    assert_eq!(hub.head("t"), 5001, "a gap changes nothing");
    assert_eq!(
        hub.append_at("bad name", 1, "x".into(), now),
        Err(HubError::BadTopic)
    );
}

/// A rebase on a topic that had messages is a gap for its readers; on a topic that never had one,
/// readers at the old head missed nothing.
#[test]
fn a_rebase_resets_readers_who_missed_messages_and_carries_those_who_did_not() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(10, 1 << 20), 1000);
    // A subscriber "from now" on a topic this node has never seen: its cursor is the local head.
    let cursor = hub.subscribe("fresh", 1, None, now).unwrap().last;
    assert_eq!(cursor, 1000);
    hub.rebase("fresh", 7000, 7000, now).unwrap();
    hub.append_at("fresh", 7001, "first".into(), now).unwrap();
    let replay = hub.read("fresh", Some(cursor), 10, now).unwrap();
    assert_eq!((replay.reset, ids(&replay)), (false, vec![7001]));

    // Nobody waiting: nothing is carried, because the old head (this hub's own number) may also be
    // an id of the shared log that a reader legitimately resumes after.
    hub.rebase("quiet", 999, 1003, now).unwrap();
    for id in 1000..=1003 {
        hub.append_at("quiet", id, format!("q{id}"), now).unwrap();
    }
    let replay = hub.read("quiet", Some(1000), 10, now).unwrap();
    assert_eq!(
        (replay.reset, ids(&replay)),
        (false, vec![1001, 1002, 1003])
    );

    // A topic that had messages: readers after its old head did miss the ones in the jump.
    publish_n(&mut hub, "old", 2, now);
    hub.rebase("old", 9000, 9000, now).unwrap();
    hub.append_at("old", 9001, "later".into(), now).unwrap();
    let replay = hub.read("old", Some(1002), 10, now).unwrap();
    assert_eq!((replay.reset, ids(&replay)), (true, vec![9001]));
}

#[test]
fn readers_of_a_loading_topic_wait_at_their_cursor_then_read_the_loaded_log() {
    let now = Instant::now();
    let mut hub = Hub::new(HubLimits::default(), 1000);
    hub.hold_unknown_topics(true);
    // after=1000: where this hub's own numbering would start, and also an id of the shared log.
    let waiting = hub.subscribe("t", 1, Some(1000), now).unwrap();
    assert_eq!(
        (waiting.reset, waiting.messages.len(), waiting.last),
        (false, 0, 1000),
        "no verdict before the load"
    );
    let from_now = hub.subscribe("t", 2, None, now).unwrap();
    assert_eq!(from_now.last, PENDING_HEAD);
    assert_eq!(hub.head("t"), 1000, "the pending head is never reported");
    assert!(hub.is_loading("never-seen"));

    // The load: the shared log holds 998..=1002.
    hub.rebase("t", 997, 1002, now).unwrap();
    for id in 998..=1002 {
        hub.append_at("t", id, format!("m{id}"), now).unwrap();
    }
    let early = hub.read("t", Some(1000), 10, now).unwrap();
    assert!(early.messages.is_empty() && !early.reset, "still loading");
    hub.hold_unknown_topics(false);
    assert_eq!(hub.loaded("t"), vec![1, 2], "both are woken");
    assert!(!hub.is_loading("t") && !hub.is_loading("never-seen"));

    let resumed = hub.read("t", Some(1000), 10, now).unwrap();
    assert_eq!((ids(&resumed), resumed.reset), (vec![1001, 1002], false));
    let from_now = hub.read("t", Some(PENDING_HEAD), 10, now).unwrap();
    assert_eq!(
        (ids(&from_now), from_now.reset, from_now.last),
        (vec![], false, 1002),
        "from now: after the loaded history"
    );
}

#[test]
fn a_loading_topic_the_shared_log_does_not_have_starts_like_a_new_one() {
    let now = Instant::now();
    let mut hub = Hub::new(HubLimits::default(), 1000);
    hub.set_loading("empty");
    let from_now = hub.subscribe("empty", 1, None, now).unwrap();
    assert_eq!(from_now.last, PENDING_HEAD);
    assert_eq!(hub.loaded("empty"), vec![1]);
    assert_eq!(hub.head("empty"), 1000);
    let read = hub.read("empty", Some(PENDING_HEAD), 10, now).unwrap();
    assert_eq!((read.reset, read.last), (false, 1000));
    // Leaving it raises no base: new topics still start after 1000, far below the pending head.
    hub.unsubscribe("empty", 1, now);
    assert_eq!(
        hub.publish("other", "x".into(), now).unwrap().message.id,
        1001
    );
}

#[test]
fn a_keyed_publish_is_stored_once_and_its_retry_gets_the_first_id() {
    let now = Instant::now();
    let limits = HubLimits {
        publish_key_ttl: Duration::from_secs(60),
        max_publish_keys: 2,
        ..HubLimits::default()
    };
    let mut hub = Hub::new(limits, 1000);
    let Ok(Once::Published(first)) = hub.publish_once("t", "k1", "hello".into(), now) else {
        panic!("a new key publishes");
    };
    assert_eq!(first.message.id, 1001);
    assert_eq!(
        hub.publish_once("t", "k1", "hello".into(), now),
        Ok(Once::Repeated { id: 1001 }),
        "the retry gets the first id"
    );
    assert_eq!(hub.head("t"), 1001, "and stores nothing");
    assert_eq!(
        hub.publish_once("t", "k1", "something else".into(), now),
        Err(HubError::KeyReused)
    );
    assert_eq!(HubError::KeyReused.status(), 422);
    // Keys are per topic.
    assert!(matches!(
        hub.publish_once("u", "k1", "hello".into(), now),
        Ok(Once::Published(_))
    ));
    // Bounded in number: a third key makes the oldest forgotten, and its retry publishes again.
    assert!(matches!(
        hub.publish_once("t", "k3", "x".into(), now),
        Ok(Once::Published(_))
    ));
    assert_eq!(hub.publish_key_count(), 2);
    assert!(matches!(
        hub.publish_once("t", "k1", "hello".into(), now),
        Ok(Once::Published(_))
    ));
    // And in time: past the TTL every key is forgotten.
    let later = now + Duration::from_secs(61);
    let Ok(Once::Published(again)) = hub.publish_once("t", "k3", "x".into(), later) else {
        panic!("an expired key publishes again");
    };
    assert!(again.message.id > 1003);
}

#[test]
fn topics_in_use_are_those_with_subscribers_or_used_since() {
    let start = Instant::now();
    let mut hub = Hub::new(HubLimits::default(), 1000);
    hub.publish("quiet", "x".into(), start).unwrap();
    hub.publish("listened", "x".into(), start).unwrap();
    hub.subscribe("listened", 1, None, start).unwrap();
    let later = start + Duration::from_secs(10);
    hub.publish("busy", "x".into(), later).unwrap();
    let mut every = hub.topics_in_use(None);
    every.sort();
    assert_eq!(every, vec!["busy", "listened", "quiet"]);
    let mut recent = hub.topics_in_use(Some(later));
    recent.sort();
    assert_eq!(recent, vec!["busy", "listened"]);
}

#[test]
fn a_hub_not_asked_to_name_first_subscribers_names_none() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(10, 10_000), 1000);
    hub.publish("news", "x".into(), now).unwrap();
    hub.subscribe("news", 1, None, now).unwrap();
    assert!(
        hub.take_first_subscribed().is_empty(),
        "without a shared log to tell, nothing is recorded"
    );
}

#[test]
fn a_topic_is_named_once_when_it_gains_its_first_subscriber_and_again_after_its_last_left() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(10, 10_000), 1000);
    hub.name_first_subscribed(true);
    hub.publish("news", "x".into(), now).unwrap();
    assert!(
        hub.take_first_subscribed().is_empty(),
        "a publish is not a subscriber"
    );
    hub.subscribe("news", 1, None, now).unwrap();
    hub.subscribe("news", 2, None, now).unwrap();
    hub.subscribe("solo", 3, None, now).unwrap();
    let mut first = hub.take_first_subscribed();
    first.sort();
    assert_eq!(
        first,
        vec!["news", "solo"],
        "each topic once, however many subscribe"
    );
    assert!(hub.take_first_subscribed().is_empty(), "taken means taken");

    hub.unsubscribe("news", 1, now);
    hub.subscribe("news", 4, None, now).unwrap();
    assert!(
        hub.take_first_subscribed().is_empty(),
        "news never lost every subscriber"
    );
    hub.unsubscribe("news", 2, now);
    hub.unsubscribe("news", 4, now);
    hub.subscribe("news", 5, None, now).unwrap();
    assert_eq!(hub.take_first_subscribed(), vec!["news"], "in use again");

    // A topic removed before anyone took its name is not named: the list holds only held topics.
    hub.subscribe("gone", 6, None, now).unwrap();
    hub.unsubscribe("gone", 6, now); // never published to: it goes with its last subscriber
    assert!(hub.take_first_subscribed().is_empty());
}
