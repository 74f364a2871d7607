//! The soak: the demo server under an ordinary mixed load, with misbehaving clients among it, for ten
//! minutes; does its memory stay flat, and does every well-behaved client get every message?
//!
//! ```sh
//! cargo bench --bench soak                       # 10 minutes
//! cargo bench --bench soak -- --minutes 1        # shorter (fractions too: --minutes 0.5)
//! cargo bench --bench soak -- --sample-seconds 5 # a sample every 5 s instead of 10
//! PUSHLAB_BIN=/path/to/pushlab cargo bench --bench soak   # another build of the server
//! ```
//!
//! # Why a soak
//!
//! `edges` pushes the server past one limit at a time for a few seconds. A leak shows only over time
//! and only under a mix: a buffer kept by a connection that ended in an odd way, a topic never freed,
//! a timer never removed. So the soak runs everything at once, for long, at a modest rate, and watches
//! the server's resident memory (`VmRSS`) rather than its speed.
//!
//! # The load
//!
//! - **Publishers**: two topics, each on a keep-alive connection: `soak-a`, 20 messages a second of
//!   64 B to 8 KiB (its log reaches the 16 MiB retention in about 100 s, after which the oldest
//!   messages are dropped as new ones come), and `soak-b`, 40 a second of 16 to 256 B (its log reaches
//!   10,000 messages at 250 s).
//! - **Well-behaved subscribers**: two per door and topic (28), on all seven doors, each checking that
//!   it gets every message once and in order (`soak/behaved.rs`).
//! - **Misbehaving clients** in a loop (`soak/misbehaving.rs`): slow and stalled readers, abrupt
//!   resets mid-response and mid-frame, oversized WebSocket frames and bodies, junk topics, slowloris,
//!   garbage.
//!
//! The whole load stays under about 70 publishes a second and under 100 connections, a realistic load
//! for one client address under the server's default limits.
//!
//! # What is measured
//!
//! Every sample period: the server's RSS, its CPU time (`utime + stime` of `/proc/PID/stat`), its open
//! descriptors (one per connection, plus a few of its own), and the counts so far. At the end a Markdown
//! report (on standard output; progress goes to standard error): the RSS over time with a sparkline,
//! its peak (the kernel's `VmHWM`, which also sees between samples), its growth from minute 1 to the
//! end, the documented budgets it must stay within, delivery per door and what the server did with each
//! misbehaving client. The bench exits with 1 if a well-behaved subscriber lost or duplicated a
//! message, did not reach the end, or the server died.
//!
//! Every socket is on 127.0.0.1; every loop is bounded in time; the only process ended is the server
//! child, by its PID.

// Each bench uses the part of the shared modules it needs: this one the server child and the door list.
#[allow(dead_code)]
mod peers;

#[allow(dead_code)]
#[path = "edges/doors.rs"]
mod doors;

#[path = "soak/behaved.rs"]
mod behaved;
#[path = "soak/misbehaving.rs"]
mod misbehaving;
#[path = "soak/report.rs"]
mod report;
#[path = "soak/tally.rs"]
mod tally;

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use behaved::{PublisherPlan, Subscriber};
use doors::Door;
use peers::child::{pushlab_binary, BinaryChild};
use report::{Report, Sample};
use tally::Tally;

/// The publishers: together 60 messages a second. `soak-b`'s rate fills its log (10,000 messages)
/// in 250 s, so that a ten-minute run has more than half its time with every log full.
const PUBLISHERS: [PublisherPlan; 2] = [
    PublisherPlan {
        topic: misbehaving::REPLAY_TOPIC,
        per_second: 20,
        min_bytes: 64,
        max_bytes: 8 * 1024,
    },
    PublisherPlan {
        topic: "soak-b",
        per_second: 40,
        min_bytes: 16,
        max_bytes: 256,
    },
];
/// Well-behaved subscribers per door and topic.
const SUBSCRIBERS_PER_DOOR_AND_TOPIC: usize = 2;
/// After the load stops, the subscribers have this long to receive the end messages.
const DRAIN_TIME: Duration = Duration::from_secs(30);
/// After the load stops, the misbehaving clients have this long to finish their attempt (a stalled
/// reader's is the longest, 40 s).
const MISBEHAVING_WIND_DOWN: Duration = Duration::from_secs(45);

/// The command line.
struct Options {
    duration: Duration,
    sample_period: Duration,
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if arguments.is_empty() {
        // `cargo bench` passes `--bench`; `cargo test --benches` (or `--all-targets`) passes nothing,
        // and a ten-minute soak has no place in a test run.
        println!("soak: not run (no arguments); run it with `cargo bench --bench soak`");
        return;
    }
    let options = match parse_args(arguments.into_iter()) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("soak: {message}\nusage: soak [--minutes M] [--sample-seconds S]");
            std::process::exit(2);
        }
    };
    match run(&options) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(error) => {
            eprintln!("soak failed: {error}");
            std::process::exit(1);
        }
    }
}

/// Reads `--minutes M` (default 10) and `--sample-seconds S` (default 10); `cargo bench` adds `--bench`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        duration: Duration::from_secs(600),
        sample_period: Duration::from_secs(10),
    };
    while let Some(arg) = args.next() {
        let mut seconds = |name: &str, scale: f64| -> Result<Duration, String> {
            let value = args.next().ok_or(format!("{name} needs a value"))?;
            match value.parse::<f64>() {
                Ok(number) if number > 0.0 && number * scale <= 86_400.0 => {
                    Ok(Duration::from_secs_f64(number * scale))
                }
                _ => Err(format!("{name}: {value:?} is not a number of up to a day")),
            }
        };
        match arg.as_str() {
            "--minutes" => options.duration = seconds("--minutes", 60.0)?,
            "--sample-seconds" => options.sample_period = seconds("--sample-seconds", 1.0)?,
            "--bench" => {}
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

/// Runs the soak and prints its report. Returns whether every check passed.
fn run(options: &Options) -> io::Result<bool> {
    let binary = pushlab_binary()?;
    let server = BinaryChild::start(&binary, None)?;
    std::thread::sleep(Duration::from_millis(300));
    let addr = server.addr;
    let tally = Arc::new(Tally::new());
    let start_fds = server.open_fds()?;

    let mut primers = Vec::new();
    for plan in &PUBLISHERS {
        primers.push(behaved::publish_primer(addr, plan.topic)?);
    }
    let start = Instant::now();
    let mut report = Report::new(
        peers::child::machine_summary(std::thread::available_parallelism().map_or(1, |n| n.get())),
        binary.display().to_string(),
        options.duration,
        start_fds,
    );
    report.add(Sample::take(&server, Duration::ZERO, &tally)?);

    let publishers: Vec<JoinHandle<u64>> = PUBLISHERS
        .iter()
        .map(|plan| {
            let (plan, tally) = (plan.clone(), Arc::clone(&tally));
            std::thread::spawn(move || behaved::publish_steadily(addr, &plan, &tally))
        })
        .collect();
    let give_up_at = start + options.duration + DRAIN_TIME;
    let mut subscribers: Vec<(Door, usize, JoinHandle<u64>)> = Vec::new();
    for door in Door::ALL {
        for (topic_index, (plan, primer)) in PUBLISHERS.iter().zip(&primers).enumerate() {
            for _ in 0..SUBSCRIBERS_PER_DOOR_AND_TOPIC {
                let subscriber = Subscriber::new(door, plan.topic, addr, *primer);
                let tally = Arc::clone(&tally);
                let thread = std::thread::spawn(move || subscriber.follow(&tally, give_up_at));
                subscribers.push((door, topic_index, thread));
            }
        }
    }
    let misbehaving: Vec<JoinHandle<()>> = misbehaving::Kind::ALL
        .into_iter()
        .map(|kind| {
            let tally = Arc::clone(&tally);
            std::thread::spawn(move || misbehaving::misbehave(kind, addr, &tally))
        })
        .collect();

    // Sample until the time is up or the server dies.
    let mut next_sample = options.sample_period;
    while next_sample <= options.duration {
        std::thread::sleep((start + next_sample).saturating_duration_since(Instant::now()));
        match Sample::take(&server, next_sample, &tally) {
            Ok(sample) => {
                eprintln!("{}", sample.progress_line());
                report.add(sample);
            }
            Err(error) => {
                report.server_died = Some(format!("at {next_sample:?}: {error}"));
                break;
            }
        }
        next_sample += options.sample_period;
    }
    tally.stopping.store(true, Ordering::Relaxed);
    eprintln!("load stopped; waiting for the end messages and the misbehaving clients");

    let finals: Vec<u64> = publishers
        .into_iter()
        .map(|thread| thread.join().unwrap_or(0))
        .collect();
    let mut unfinished = 0;
    for (door, topic_index, thread) in subscribers {
        while !thread.is_finished() && Instant::now() < give_up_at {
            std::thread::sleep(Duration::from_millis(100));
        }
        if !thread.is_finished() {
            unfinished += 1;
            tally.door_error(
                door,
                "still waiting for the end message at the give-up time",
            );
            continue; // left behind: the process ends without it
        }
        let next_number = thread.join().unwrap_or(0);
        let end_number = finals[topic_index];
        if next_number <= end_number {
            // The tail it never got: it did not see the end message.
            let tail = end_number + 1 - next_number;
            tally.door(door).lost.fetch_add(tail, Ordering::Relaxed);
            tally.door_error(door, "did not reach the end message");
        }
    }
    report.unfinished_subscribers = unfinished;
    let wind_down_until = Instant::now() + MISBEHAVING_WIND_DOWN;
    for thread in misbehaving {
        while !thread.is_finished() && Instant::now() < wind_down_until {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    if report.server_died.is_none() {
        match Sample::take(&server, start.elapsed(), &tally) {
            Ok(sample) => report.after_load = Some(sample),
            Err(error) => report.server_died = Some(format!("after the load: {error}")),
        }
        report.peak_rss = peers_status_kib(server.pid(), "VmHWM:").map(|kib| kib * 1024);
    }
    report.print(&tally);
    Ok(report.passed(&tally))
}

/// A `kB` field of `/proc/<pid>/status`, e.g. `VmHWM:` (the peak resident set size).
fn peers_status_kib(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
