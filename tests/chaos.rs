//! Chaos with nothing lost: every door, under faults, delivers every message exactly once, in order.
//!
//! # What the harness does
//!
//! There are no sockets and no sleeping. A fake event loop ([`net`]) drives the sans-IO server core
//! (`pushlab::server::core::Core`) the way `server::event_loop` drives it with mio: bytes go in through
//! `Core::receive`, come out through `Core::transmit`, deadlines fire in `Core::on_timers` on a fake
//! clock, and the core's actions (write, read again, half-close, close) are carried out. Around it,
//! four fake browser clients ([`client`]) use one door each, while 2,000 messages are published at
//! random moments; every message a client receives is checked at once against what was published
//! ([`ledger`]): the id must be exactly one more than the last one it got, and the payload exactly the
//! one published under that id.
//!
//! # The faults
//!
//! Between publishes, and drawn from a seeded generator ([`rng`]):
//!
//! - the server closes connections at random moments (`Core::close`; sometimes every connection at
//!   once, `Core::drop_connections`), and the bytes it had already written either still arrive (a
//!   FIN) or are lost (a reset); a read fails with `ConnectionReset`;
//! - writes are cut short: the transmit closure takes a random prefix of what the core offers,
//!   sometimes nothing (`WouldBlock`), sometimes one byte, never more than a small send buffer holds;
//!   reads and writes are sometimes `Interrupted`;
//! - the client's requests and frames arrive in random splits, down to one byte;
//! - the clock jumps, past long-poll holds (20 s), heartbeats (15 s), pings (30 s), the header timeout
//!   (10 s) and the keep-alive timeout (60 s);
//! - the clients hang up at random (a FIN, a reset, a WebSocket close frame), stop reading for a
//!   while (until the server drops them as subscribers that do not read), read in random amounts, and
//!   reconnect with their last id exactly as the browser client does: `?after=N` for the polls, JSONP
//!   and the streams, `Last-Event-ID` for SSE, `?after=N` in the WebSocket's upgrade request.
//!
//! After the last publish the faults stop, and every client must catch up to the last id within a
//! bounded number of turns.
//!
//! # Why each door survives them: the id cursor
//!
//! Nothing in a door depends on a connection surviving. Every message has an id, increasing by one per
//! topic; the hub keeps a log of recent messages; and a client only ever advances its cursor past a
//! message it has *parsed whole*. Whatever a fault destroys (a response cut in half, a chunk lost with
//! a reset, a frame never written), the client's cursor still says the last message it really has,
//! and its next request asks for exactly what follows: "after N". On the server side the same holds
//! for a subscriber: its cursor moves only past a message queued whole on its connection, so a
//! message that does not fit the output budget waits in the log, not in a buffer that a close would
//! destroy. A poll's answer says where to continue (`last`); a stream's objects and SSE's `id:` lines
//! carry the id with each message; the WebSocket's text frames carry the same JSON object.
//!
//! The only way to lose messages is for the log to forget them before the client asks; then the
//! server says so (a reset: `{"reset":true,...}`, SSE's `event: reset`, a poll's `"reset":true`), and
//! the client continues after the point it names. The `..._when_the_log_is_too_short` tests make the
//! log tiny on purpose and check exactly that: a reset, never a silent gap, and every message after
//! it exactly once. And the checks are checked: in
//! `the_checks_catch_a_door_that_skips_or_repeats_a_message`, clients that resume one id off must
//! fail, on every door.
//!
//! # Replaying a failure
//!
//! Each test runs a few fixed seeds and prints each run's seed and counters (shown with
//! `cargo test --test chaos -- --nocapture`: connections, hang-ups, stalls, server kills, clock
//! jumps, cut writes, refusals, resets, messages delivered). A failure names the seed,
//! the door, the client, what it expected and what came, and the client's last events;
//! `CHAOS_SEED=N cargo test --test chaos` replays seed N alone in every test (the run is
//! deterministic: same seed, same run).

mod chaos {
    pub mod client;
    pub mod doors;
    pub mod http;
    pub mod ledger;
    pub mod net;
    pub mod rng;
}

use std::time::Duration;

use chaos::client::Client;
use chaos::doors::{Door, TOPIC};
use chaos::ledger::Published;
use chaos::net::Net;
use chaos::rng::Rng;
use pushlab::Config;

/// Topic ids start after this (the server passes its start time in milliseconds; any base will do).
const ID_BASE: u64 = 1_000;

/// Fake clients per run.
const CLIENTS: usize = 4;

/// Messages published per run.
const MESSAGES: usize = 2_000;

/// The seeds every test runs when `CHAOS_SEED` does not name one.
const SEEDS: [u64; 3] = [0x5EED_0001, 0x5EED_0002, 0x5EED_0003];

/// Turns a run may take to publish everything, and then to let every client catch up: a run that
/// needs more has stalled, and fails loudly.
const MAX_PUBLISH_TURNS: u64 = 20_000;
const MAX_DRAIN_TURNS: u64 = 5_000;

/// Turns the server may take to close every connection once the clients have gone: about six
/// seconds of fake time, three times the lingering close.
const MAX_LEAVE_TURNS: u64 = 200;

/// How much the log keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retention {
    /// Far more than a run publishes: no client may ever see a reset.
    Everything,
    /// Eight messages: clients that fall behind must get a reset, never a silent gap.
    Tiny,
}

/// The one place where the core under test is configured.
///
/// Limits are made small where a small limit makes a door's rare paths common: streams end every
/// 16 KiB (the XHR and iframe clients reconnect with their last id), a connection may hold 16 KiB of
/// output (subscribers wait in the log while their socket is full), batches carry at most 25
/// messages (the client asks again at once), at most eight connections are open (a ninth is refused
/// at accept, while hung-up connections are still being closed), and all buffers together may hold
/// 160 KiB (past it, requests get 503 and the subscriber with the most unsent output is dropped).
/// Idle topics are never evicted, so that a clock jump cannot throw the log away, and there is no
/// `clock` topic.
///
/// All fake clients connect from 127.0.0.1, so the per-address limits are set here, far above what
/// four clients use: the connection limit per address to the total, and the publish rate off (the
/// messages are published by the harness, not through a door, but on a fake clock a token bucket
/// would not refill as it does in real time).
fn chaos_config(retention: Retention) -> Config {
    let mut config = Config {
        max_connections: 2 * CLIENTS,
        max_connections_per_ip: 2 * CLIENTS,
        publish_rate_per_ip: 0,
        max_buffered_bytes: 160 * 1024,
        max_stream_bytes: 16 * 1024,
        max_pending_output_bytes: 16 * 1024,
        max_batch_messages: 25,
        clock_interval: None,
        ..Config::default()
    };
    config.hub.topic_idle_timeout = Duration::from_secs(365 * 24 * 3600);
    config.hub.max_messages_per_topic = match retention {
        Retention::Everything => 2 * MESSAGES,
        Retention::Tiny => 8,
    };
    config
}

/// One run: a door, a seed, and how much the log keeps.
struct Scenario {
    door: Door,
    seed: u64,
    retention: Retention,
    /// 0, except in the runs that prove the checks can fail (see [`Client::sabotage`]).
    resume_offset: i64,
}

/// What a successful run went through.
#[derive(Debug)]
struct Summary {
    turns: u64,
    resets: usize,
    text: String,
}

/// Runs a scenario to its end: publishing under faults, then catching up without them.
fn run(scenario: &Scenario) -> Result<Summary, String> {
    let resets_allowed = scenario.retention == Retention::Tiny;
    let config = chaos_config(scenario.retention);
    let mut net = Net::new(config, ID_BASE, Rng::split(scenario.seed, 0));
    let mut publisher = Rng::split(scenario.seed, 1);
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|index| {
            let rng = Rng::split(scenario.seed, 2 + index as u64);
            let mut client = Client::new(index, scenario.door, rng, ID_BASE, resets_allowed);
            client.sabotage(scenario.resume_offset);
            client
        })
        .collect();
    let mut published = Published::new(ID_BASE + 1);
    let max_burst = match scenario.retention {
        Retention::Everything => 4,
        Retention::Tiny => 24,
    };
    let max_turns = MAX_PUBLISH_TURNS + MAX_DRAIN_TURNS;
    for turn in 0..max_turns {
        if published.count() < MESSAGES && publisher.one_in(2) {
            let burst = publisher
                .between(1, max_burst)
                .min(MESSAGES - published.count());
            for _ in 0..burst {
                let payload = random_payload(&mut publisher);
                let id = net
                    .publish(TOPIC, &payload)
                    .map_err(|e| format!("publish refused: {e}"))?;
                published.record(id, payload);
            }
        }
        if published.count() == MESSAGES {
            net.stop_faults();
        } else if turn >= MAX_PUBLISH_TURNS {
            return Err(format!(
                "only {} messages published in {turn} turns",
                published.count()
            ));
        }
        net.turn();
        for client in &mut clients {
            if let Err(what) = client.step(&mut net, &published, turn) {
                return Err(failure(scenario, client, &what));
            }
        }
        let caught_up = |client: &Client| client.ledger.last == published.last_id();
        if net.faults.is_none() && clients.iter().all(caught_up) {
            every_client_leaves(&mut net, &mut clients, turn)
                .map_err(|what| format!("{}: {what}", name(scenario)))?;
            return Ok(summary(scenario, turn, &net, &clients));
        }
    }
    let behind = clients
        .iter()
        .find(|client| client.ledger.last != published.last_id())
        .expect("a client that has not caught up");
    let what = format!(
        "STALLED: at id {} of {} after {max_turns} turns ({} s of fake time)",
        behind.ledger.last,
        published.last_id(),
        net.elapsed().as_secs()
    );
    Err(failure(scenario, behind, &what))
}

/// The end of a run: every client hangs up, and within a few seconds of fake time the server must
/// have closed every connection (none leaks, whatever state the faults left it in).
fn every_client_leaves(net: &mut Net, clients: &mut [Client], turn: u64) -> Result<(), String> {
    for client in clients.iter_mut() {
        client.leave(net, turn);
    }
    for _ in 0..MAX_LEAVE_TURNS {
        if net.core.connection_count() == 0 {
            return Ok(());
        }
        net.turn();
    }
    Err(format!(
        "LEAK: {} connections still open {MAX_LEAVE_TURNS} turns after every client hung up:\n  {}",
        net.core.connection_count(),
        net.describe_open_connections().join("\n  ")
    ))
}

/// The failure message: seed, door, client, what went wrong, and the client's last events.
fn failure(scenario: &Scenario, client: &Client, what: &str) -> String {
    let trace: Vec<&str> = client.trace.iter().map(String::as_str).collect();
    format!(
        "{}, client {}: {what}\nits last events:\n  {}",
        name(scenario),
        client.index,
        trace.join("\n  ")
    )
}

/// Seed, door and retention: what names a run.
fn name(scenario: &Scenario) -> String {
    format!(
        "seed {seed:#x} (replay: CHAOS_SEED={seed}), door {door:?}, {retention:?}",
        seed = scenario.seed,
        door = scenario.door,
        retention = scenario.retention,
    )
}

fn summary(scenario: &Scenario, turns: u64, net: &Net, clients: &[Client]) -> Summary {
    let resets = clients.iter().map(|client| client.ledger.resets).sum();
    let total = |pick: fn(&Client) -> usize| clients.iter().map(pick).sum::<usize>();
    let text = format!(
        "seed {:#x} {:?} {:?}: {turns} turns, {} s fake time; server: {:?}; clients: {} connects, \
         {} requests, {} hang-ups, {} stalls, {} ended by the server, {} watchdog, {} refused (408/503), {} resets, \
         {} messages delivered",
        scenario.seed,
        scenario.door,
        scenario.retention,
        net.elapsed().as_secs(),
        net.stats,
        total(|c| c.stats.connects),
        total(|c| c.stats.requests),
        total(|c| c.stats.hang_ups),
        total(|c| c.stats.stalls),
        total(|c| c.stats.ended_by_server),
        total(|c| c.stats.watchdog),
        total(|c| c.stats.refused),
        resets,
        total(|c| c.ledger.delivered),
    );
    Summary {
        turns,
        resets,
        text,
    }
}

/// A payload that tests each door's escaping: quotes, backslashes, `<`, `</script>`, line ends of
/// every kind, text that looks like SSE fields, non-ASCII, U+2028, and now and then up to 48 KiB of
/// JSON.
fn random_payload(rng: &mut Rng) -> String {
    const PIECES: [&str; 14] = [
        "plain",
        " ",
        "\"",
        "\\",
        "<",
        "</script>",
        "&amp;",
        "\n",
        "\r\n",
        "\r",
        "data: x\nid: 9",
        "é€😀",
        "\u{2028}",
        "{\"id\":1}",
    ];
    if rng.one_in(200) {
        // Larger than a stream's size limit and, escaped (`<` is six bytes in JSON), than a
        // connection's output budget: such a message must still go, alone.
        let piece = *rng.pick(&["k", "<"]);
        return piece.repeat(rng.between(1_000, 8_000));
    }
    let pieces = rng.between(0, 12);
    (0..pieces).map(|_| *rng.pick(&PIECES)).collect()
}

/// The seeds to run: `CHAOS_SEED=N` (decimal or 0x hex) alone, else the fixed ones.
fn seeds() -> Vec<u64> {
    let Ok(text) = std::env::var("CHAOS_SEED") else {
        return SEEDS.to_vec();
    };
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    vec![parsed.unwrap_or_else(|_| panic!("CHAOS_SEED={text:?} is not a number"))]
}

/// Runs every seed for `door`; in a run with a tiny log, some client must have seen a reset (else
/// the test proved nothing about resets).
fn check(door: Door, retention: Retention) {
    for seed in seeds() {
        let scenario = Scenario {
            door,
            seed,
            retention,
            resume_offset: 0,
        };
        match run(&scenario) {
            Ok(summary) => {
                println!("{}", summary.text);
                assert!(summary.turns > 0);
                if retention == Retention::Tiny {
                    assert!(summary.resets > 0, "no reset happened: {}", summary.text);
                }
            }
            Err(failure) => panic!("{failure}"),
        }
    }
}

#[test]
fn short_poll_loses_nothing_under_chaos() {
    check(Door::ShortPoll, Retention::Everything);
}

#[test]
fn long_poll_loses_nothing_under_chaos() {
    check(Door::LongPoll, Retention::Everything);
}

#[test]
fn jsonp_loses_nothing_under_chaos() {
    check(Door::Jsonp, Retention::Everything);
}

#[test]
fn xhr_stream_loses_nothing_under_chaos() {
    check(Door::XhrStream, Retention::Everything);
}

#[test]
fn iframe_loses_nothing_under_chaos() {
    check(Door::Iframe, Retention::Everything);
}

#[test]
fn sse_loses_nothing_under_chaos() {
    check(Door::Sse, Retention::Everything);
}

#[test]
fn websocket_loses_nothing_under_chaos() {
    check(Door::WebSocket, Retention::Everything);
}

#[test]
fn batch_doors_reset_explicitly_when_the_log_is_too_short() {
    for door in [Door::ShortPoll, Door::LongPoll, Door::Jsonp] {
        check(door, Retention::Tiny);
    }
}

#[test]
fn stream_doors_reset_explicitly_when_the_log_is_too_short() {
    for door in [Door::XhrStream, Door::Iframe, Door::Sse] {
        check(door, Retention::Tiny);
    }
}

#[test]
fn websocket_resets_explicitly_when_the_log_is_too_short() {
    check(Door::WebSocket, Retention::Tiny);
}

/// The checks can fail: on every door, a client that resumes one id too far is caught losing a
/// message (or asking for an id the server never gave, which it answers with a reset), and one that
/// resumes one id too early is caught getting a message twice.
#[test]
fn the_checks_catch_a_door_that_skips_or_repeats_a_message() {
    for door in Door::ALL {
        for (offset, verdicts) in [(1, &["LOST", "UNEXPECTED RESET"][..]), (-1, &["DUPLICATE"])] {
            let scenario = Scenario {
                door,
                seed: SEEDS[0],
                retention: Retention::Everything,
                resume_offset: offset,
            };
            let failure = run(&scenario).expect_err("a client resuming at the wrong id must fail");
            assert!(
                verdicts.iter().any(|verdict| failure.contains(verdict)),
                "{door:?} resuming {offset:+}: {failure}"
            );
        }
    }
}
