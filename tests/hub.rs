//! The hub through its public API: the resume contract every door relies on (design §2–§3), checked
//! against a model over random histories, and a simulated event loop that subscribes, publishes and
//! reconnects.

use std::collections::BTreeMap;

use proptest::prelude::*;
use pushlab::hub::{Hub, HubError, Replay};
use pushlab::server::config::HubLimits;

fn limits(max_messages: usize, max_bytes: usize) -> HubLimits {
    HubLimits {
        max_messages_per_topic: max_messages,
        max_bytes_per_topic: max_bytes,
        max_topics: 8,
        max_publish_bytes: 64,
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
        max_bytes in 1usize..80,
        sizes in proptest::collection::vec(0usize..20, 0..40),
        after_offset in 0u64..60,
        max in 1usize..20,
    ) {
        let mut hub = Hub::new(limits(max_messages, max_bytes), id_base);
        let mut history: Vec<(u64, usize)> = Vec::new();
        for size in &sizes {
            let published = hub.publish("t", "x".repeat(*size)).unwrap();
            history.push((published.message.id, *size));
        }
        // Ids are consecutive from id_base + 1.
        let expected_ids: Vec<u64> = (1..=sizes.len() as u64).map(|i| id_base + i).collect();
        prop_assert_eq!(history.iter().map(|(id, _)| *id).collect::<Vec<_>>(), expected_ids);
        let head = id_base + sizes.len() as u64;

        // Model of retention: newest first while within both bounds; the newest always stays.
        let mut kept: Vec<u64> = Vec::new();
        let mut kept_bytes = 0;
        for (id, size) in history.iter().rev() {
            if !kept.is_empty() && (kept.len() + 1 > max_messages || kept_bytes + size > max_bytes) {
                break;
            }
            kept.push(*id);
            kept_bytes += size;
        }
        kept.reverse();
        let everything = hub.read("t", Some(0), usize::MAX).unwrap();
        prop_assert_eq!(ids(&everything), kept.clone());
        prop_assert!(!everything.reset);

        // Any `after` around the head, including ids from the future and from before id_base.
        let after = (head + 10).saturating_sub(after_offset);
        let replay = hub.read("t", Some(after), max).unwrap();
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
        let mut hub = Hub::new(HubLimits::default(), 7_000);
        for i in 0..count {
            hub.publish("t", format!("m{i}")).unwrap();
        }
        let mut seen = Vec::new();
        let mut after = 7_000;
        for _ in 0..=count {
            let replay = hub.read("t", Some(after), max).unwrap();
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

/// A tiny event loop: connections subscribe with `after`, get the replay, then every publish is handed
/// to the subscribers the hub names. Each connection must see every id after its `after` exactly once,
/// in order, whether it came by replay or live.
#[test]
fn replay_and_live_feed_join_without_gap_or_duplicate() {
    let mut hub = Hub::new(HubLimits::default(), 100);
    let mut received: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    let mut starts: BTreeMap<usize, u64> = BTreeMap::new();
    for step in 0..30usize {
        // Every third step a new connection arrives, resuming after some id it saw.
        if step % 3 == 0 {
            let token = step;
            let after = 100 + (step as u64) / 2;
            let replay = hub.subscribe("room", token, Some(after)).unwrap();
            assert!(!replay.reset);
            received.insert(token, ids(&replay));
            starts.insert(token, after);
        }
        let published = hub.publish("room", format!("step {step}")).unwrap();
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
    let mut hub = Hub::new(limits(5, 1_000), 0);
    let replay = hub.subscribe("t", 1, Some(0)).unwrap();
    assert_eq!(replay.last, 0);
    for i in 0..3 {
        hub.publish("t", format!("{i}")).unwrap();
    }
    // The connection drops after seeing id 3; meanwhile 10 more messages, only 5 are kept.
    hub.unsubscribe("t", 1);
    for i in 0..10 {
        hub.publish("t", format!("{i}")).unwrap();
    }
    let replay = hub.subscribe("t", 1, Some(3)).unwrap();
    assert!(replay.reset);
    assert_eq!(ids(&replay), vec![9, 10, 11, 12, 13]);
    assert_eq!(replay.last, 13);
    assert_eq!(hub.subscriber_count("t"), 1);
}

#[test]
fn limits_apply_through_every_entry_point() {
    let mut hub = Hub::new(limits(5, 1_000), 0);
    assert_eq!(
        hub.publish("t", "x".repeat(65)).unwrap_err(),
        HubError::TooLarge
    );
    assert_eq!(hub.publish("t", "x".repeat(64)).unwrap().message.id, 1);
    for name in ["", "a b", "a/b", &"a".repeat(65)] {
        assert_eq!(
            hub.read(name, None, 1).unwrap_err().status(),
            400,
            "{name:?}"
        );
        assert_eq!(
            hub.subscribe(name, 1, None).unwrap_err().status(),
            400,
            "{name:?}"
        );
        assert_eq!(
            hub.publish(name, String::new()).unwrap_err().status(),
            400,
            "{name:?}"
        );
    }
    for i in 1..8 {
        hub.subscribe(&format!("t{i}"), i, None).unwrap();
    }
    assert_eq!(
        hub.subscribe("one-too-many", 99, None)
            .unwrap_err()
            .status(),
        503
    );
    assert_eq!(
        hub.publish("one-too-many", "x".into())
            .unwrap_err()
            .status(),
        503
    );
    // Topics that were only subscribed to free their place when the subscriber leaves.
    hub.unsubscribe("t1", 1);
    assert!(hub.publish("one-too-many", "x".into()).is_ok());
    assert_eq!(hub.total_subscribers(), 6);
}
