//! The hub through its public API: the resume contract every door relies on (design §2–§3), checked
//! against a model over random histories, and a simulated event loop that subscribes, publishes and
//! reconnects.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use pushlab::hub::HubLimits;
use pushlab::hub::{Hub, HubError, Message, Replay, SubscriberId};

fn limits(max_messages: usize, max_bytes: usize) -> HubLimits {
    HubLimits {
        max_messages_per_topic: max_messages,
        max_bytes_per_topic: max_bytes,
        max_topics: 8,
        max_publish_bytes: 64,
        topic_idle_timeout: Duration::from_secs(60),
        ..HubLimits::default()
    }
}

fn ids(replay: &Replay) -> Vec<u64> {
    replay.messages.iter().map(|m| m.id).collect()
}

proptest! {
    /// For any history and any `after`, `read` returns exactly what the model says: the kept ids
    /// after `after`, or everything kept with `reset` when `after` is behind the log or ahead of the
    /// head; and what is kept respects both bounds.
    #[test]
    fn read_matches_the_model(
        id_base in 0u64..1_000_000,
        max_messages in 1usize..12,
        // Every message costs its payload, its JSON form and `Message::OVERHEAD_BYTES`: about 100
        // to 150 bytes here, so this range keeps anything from one to about a dozen messages.
        max_bytes in 1usize..1_500,
        sizes in proptest::collection::vec(0usize..20, 0..40),
        after_offset in 0u64..60,
        max in 1usize..20,
    ) {
        let now = Instant::now();
        let mut hub = Hub::new(limits(max_messages, max_bytes), id_base);
        // (id, bytes the message stores) for each publish.
        let mut history: Vec<(u64, usize)> = Vec::new();
        for size in &sizes {
            let published = hub.publish("t", "x".repeat(*size), now).unwrap();
            let message = &published.message;
            prop_assert_eq!(
                message.stored_bytes(),
                message.data.len() + message.json.len() + Message::OVERHEAD_BYTES
            );
            history.push((message.id, message.stored_bytes()));
        }
        // Ids are consecutive from id_base + 1.
        let expected_ids: Vec<u64> = (1..=sizes.len() as u64).map(|i| id_base + i).collect();
        prop_assert_eq!(history.iter().map(|(id, _)| *id).collect::<Vec<_>>(), expected_ids);
        let head = id_base + sizes.len() as u64;

        // Model of retention: newest first while within both bounds; the newest always stays.
        let mut kept: Vec<u64> = Vec::new();
        let mut kept_bytes = 0;
        for (id, stored) in history.iter().rev() {
            if !kept.is_empty() && (kept.len() + 1 > max_messages || kept_bytes + stored > max_bytes) {
                break;
            }
            kept.push(*id);
            kept_bytes += stored;
        }
        kept.reverse();
        prop_assert_eq!(hub.stored_bytes("t"), kept_bytes);
        prop_assert!(kept_bytes <= max_bytes || kept.len() == 1);
        let everything = hub.read("t", Some(0), usize::MAX, now).unwrap();
        prop_assert_eq!(ids(&everything), kept.clone());
        prop_assert!(!everything.reset);

        // Any `after` around the head, including ids from the future and from before id_base.
        let after = (head + 10).saturating_sub(after_offset);
        let replay = hub.read("t", Some(after), max, now).unwrap();
        let oldest_minus_one = kept.first().map_or(head, |first| first - 1);
        let reset = after != 0 && (after > head || after < oldest_minus_one);
        let from: Vec<u64> = if reset || after == 0 {
            kept.clone()
        } else {
            kept.iter().copied().filter(|id| *id > after).collect()
        };
        let expected: Vec<u64> = from.into_iter().take(max).collect();
        prop_assert_eq!(replay.reset, reset);
        prop_assert_eq!(ids(&replay), expected.clone());
        prop_assert_eq!(replay.last, expected.last().copied().unwrap_or(head));
    }

    /// A client that keeps asking "after last" with a small cap reads every kept message exactly once,
    /// in order, and ends at the head.
    #[test]
    fn paging_with_last_reads_everything_once(count in 0usize..60, max in 1usize..7) {
        let now = Instant::now();
        let mut hub = Hub::new(HubLimits::default(), 7_000);
        for i in 0..count {
            hub.publish("t", format!("m{i}"), now).unwrap();
        }
        let mut seen = Vec::new();
        let mut after = 7_000;
        for _ in 0..=count {
            let replay = hub.read("t", Some(after), max, now).unwrap();
            prop_assert!(!replay.reset);
            if replay.messages.is_empty() {
                break;
            }
            seen.extend(ids(&replay));
            after = replay.last;
        }
        prop_assert_eq!(seen, (7_001..=7_000 + count as u64).collect::<Vec<_>>());
        prop_assert_eq!(after, 7_000 + count as u64);
    }
}

/// One step of a history for [`the_shortcut_for_a_caught_up_reader_is_exactly_what_a_read_returns`].
#[derive(Debug, Clone)]
enum Step {
    Publish(usize),
    AppendAt(usize, u64),
    Rebase(usize, u64),
    SetLoading(usize),
    Loaded(usize),
    Remove(usize),
    Subscribe(usize),
    EvictIdle,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0usize..2).prop_map(Step::Publish),
        2 => (0usize..2, 0u64..4).prop_map(|(t, skip)| Step::AppendAt(t, skip)),
        1 => (0usize..2, 0u64..30).prop_map(|(t, head)| Step::Rebase(t, head)),
        1 => (0usize..2).prop_map(Step::SetLoading),
        1 => (0usize..2).prop_map(Step::Loaded),
        1 => (0usize..2).prop_map(Step::Remove),
        1 => (0usize..2).prop_map(Step::Subscribe),
        1 => Just(Step::EvictIdle),
    ]
}

proptest! {
    /// `Hub::just_appended_for` is the broadcast's shortcut past `read`: whenever it names a
    /// message for a reader at some cursor, reading after that cursor returns that message alone and
    /// no reset, whatever happened to the hub before (appends numbered elsewhere, rebases, loads,
    /// removals, evictions). And right after a publish it names the message for the reader just
    /// before it exactly when that reader would read the message alone, so the shortcut is taken
    /// whenever it is safe.
    #[test]
    fn the_shortcut_for_a_caught_up_reader_is_exactly_what_a_read_returns(
        steps in proptest::collection::vec(step(), 1..40),
        max_messages in 1usize..4,
    ) {
        let topics = ["a", "b"];
        let start = Instant::now();
        let mut hub = Hub::new(limits(max_messages, 10_000), 100);
        let mut subscriber: SubscriberId = 0;
        for (number, step) in steps.iter().enumerate() {
            let now = start + Duration::from_secs(30 * number as u64);
            match *step {
                Step::Publish(t) => {
                    let message = hub.publish(topics[t], format!("m{number}"), now).unwrap().message;
                    let name = hub.shared_name(topics[t]);
                    let named = hub.just_appended_for(&name, message.id - 1).is_some();
                    // Taken whenever a read just before the message returns it alone (not while
                    // the topic loads, nor when a rebase's alias moves that reader elsewhere).
                    let replay = hub.read(topics[t], Some(message.id - 1), 64, now).unwrap();
                    let exact = !replay.reset && ids(&replay) == vec![message.id];
                    prop_assert_eq!(named, exact, "the shortcut is taken exactly when it is safe");
                }
                Step::AppendAt(t, skip) => {
                    let id = hub.head(topics[t]) + 1 + skip;
                    let _ = hub.append_at(topics[t], id, format!("m{number}"), now);
                }
                Step::Rebase(t, head) => hub.rebase(topics[t], 100 + head, 100 + head, now).unwrap(),
                Step::SetLoading(t) => hub.set_loading(topics[t]),
                Step::Loaded(t) => {
                    hub.loaded(topics[t]);
                }
                Step::Remove(t) => {
                    hub.remove_topic(topics[t]);
                }
                Step::Subscribe(t) => {
                    subscriber += 1;
                    hub.subscribe(topics[t], subscriber, None, now).unwrap();
                }
                Step::EvictIdle => {
                    hub.evict_idle(now);
                }
            }
            for topic in topics {
                let name = hub.shared_name(topic);
                let head = hub.head(topic);
                for cursor in head.saturating_sub(3)..=head + 1 {
                    let Some(message) = hub.just_appended_for(&name, cursor).cloned() else {
                        continue;
                    };
                    let replay = hub.read(topic, Some(cursor), 64, now).unwrap();
                    prop_assert!(!replay.reset);
                    prop_assert_eq!(ids(&replay), vec![message.id]);
                    prop_assert_eq!(&replay.messages[0].json, &message.json);
                }
                // A copy of the name that is not the hub's own never takes the shortcut.
                let copy: std::rc::Rc<str> = std::rc::Rc::from(topic);
                prop_assert!(hub.just_appended_for(&copy, head - 1).is_none());
            }
        }
    }
}

/// The shortcut is not taken where a rebase's alias moves the reader just before the message
/// elsewhere: two rebases of a topic that never had a message, then two publishes. (Found by the
/// property test above; kept as a fixed history.)
#[test]
fn the_shortcut_is_not_taken_where_an_alias_moves_the_reader() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(4, 10_000), 100);
    hub.subscribe("a", 1, None, now).unwrap();
    hub.rebase("a", 101, 101, now).unwrap();
    hub.rebase("a", 100, 100, now).unwrap();
    let name = hub.shared_name("a");
    let first = hub.publish("a", "one".into(), now).unwrap().message;
    assert_eq!(first.id, 101);
    assert!(hub.just_appended_for(&name, 100).is_some());
    let second = hub.publish("a", "two".into(), now).unwrap().message;
    assert!(
        hub.just_appended_for(&name, second.id - 1).is_none(),
        "the alias moves a reader at {} elsewhere: it reads the log",
        second.id - 1
    );
}

/// A tiny event loop: connections subscribe with `after`, get the replay, then every publish is handed
/// to the subscribers the hub names. Each connection must see every id after its `after` exactly once,
/// in order, whether it came by replay or live.
#[test]
fn replay_and_live_feed_join_without_gap_or_duplicate() {
    let now = Instant::now();
    let mut hub = Hub::new(HubLimits::default(), 100);
    let mut received: BTreeMap<SubscriberId, Vec<u64>> = BTreeMap::new();
    let mut starts: BTreeMap<SubscriberId, u64> = BTreeMap::new();
    for step in 0..30u64 {
        // Every third step a new connection arrives, resuming after some id it saw.
        if step % 3 == 0 {
            let token = step;
            let after = 100 + step / 2;
            let replay = hub.subscribe("room", token, Some(after), now).unwrap();
            assert!(!replay.reset);
            received.insert(token, ids(&replay));
            starts.insert(token, after);
        }
        let published = hub.publish("room", format!("step {step}"), now).unwrap();
        for token in published.subscribers {
            received
                .entry(token)
                .or_default()
                .push(published.message.id);
        }
    }
    let head = hub.head("room");
    for (token, got) in &received {
        let after = starts[token];
        assert_eq!(
            got,
            &(after + 1..=head).collect::<Vec<_>>(),
            "connection {token}"
        );
    }
}

#[test]
fn a_reconnect_after_the_log_moved_on_is_told() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(5, 1_000), 0);
    let replay = hub.subscribe("t", 1, Some(0), now).unwrap();
    assert_eq!(replay.last, 0);
    for i in 0..3 {
        hub.publish("t", format!("{i}"), now).unwrap();
    }
    // The connection drops after seeing id 3; meanwhile 10 more messages, only 5 are kept.
    hub.unsubscribe("t", 1, now);
    for i in 0..10 {
        hub.publish("t", format!("{i}"), now).unwrap();
    }
    let replay = hub.subscribe("t", 1, Some(3), now).unwrap();
    assert!(replay.reset);
    assert_eq!(ids(&replay), vec![9, 10, 11, 12, 13]);
    assert_eq!(replay.last, 13);
    assert_eq!(hub.subscriber_count("t"), 1);
}

#[test]
fn limits_apply_through_every_entry_point() {
    let now = Instant::now();
    let mut hub = Hub::new(limits(5, 1_000), 0);
    assert_eq!(
        hub.publish("t", "x".repeat(65), now).unwrap_err(),
        HubError::TooLarge
    );
    assert_eq!(hub.publish("t", "x".repeat(64), now).unwrap().message.id, 1);
    for name in ["", "a b", "a/b", &"a".repeat(65)] {
        assert_eq!(
            hub.read(name, None, 1, now).unwrap_err().status(),
            400,
            "{name:?}"
        );
        assert_eq!(
            hub.subscribe(name, 1, None, now).unwrap_err().status(),
            400,
            "{name:?}"
        );
        assert_eq!(
            hub.publish(name, String::new(), now).unwrap_err().status(),
            400,
            "{name:?}"
        );
    }
    // A full table where every topic has a subscriber: nothing can make room.
    hub.subscribe("t", 8, None, now).unwrap();
    for i in 1..8 {
        hub.subscribe(&format!("t{i}"), i, None, now).unwrap();
    }
    assert_eq!(
        hub.subscribe("one-too-many", 99, None, now)
            .unwrap_err()
            .status(),
        503
    );
    assert_eq!(
        hub.publish("one-too-many", "x".into(), now)
            .unwrap_err()
            .status(),
        503
    );
    // Topics that were only subscribed to free their place when the subscriber leaves.
    hub.unsubscribe("t1", 1, now);
    assert!(hub.publish("one-too-many", "x".into(), now).is_ok());
    assert_eq!(hub.total_subscribers(), 7);
}
