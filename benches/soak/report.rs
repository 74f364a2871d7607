//! The samples the soak takes of the server, and the Markdown report it prints at the end.
//!
//! # What "flat within the budgets" means here
//!
//! The server promises bounds, not a constant (README, "Limits"): each topic's log holds at most
//! `hub.max_bytes_per_topic`, each connection's pending output at most `max_pending_output_bytes`, all
//! buffers together at most `max_buffered_bytes`. So the report adds up what those bounds allow for
//! this load (its topics, its peak number of connections) over the server's memory at the start, and
//! checks two things:
//!
//! - **within the budgets**: the peak resident memory (`VmHWM`) is at most that sum;
//! - **flat**: once every topic log and the topic table are full (a time the report computes from the
//!   publish rates and the limits), memory no longer grows: the highest sample from then on is at most
//!   4 MiB (or 5 %) above the first. Until then the server's memory grows by design, as the logs fill.
//!
//! A leak passes the first check for a while, and fails the second. A run where less than a fifth is
//! left once the hub is full (the logs fill in about 250 s) is too short to judge flatness, which is
//! why the default run is ten minutes.

use std::fmt::Write as _;
use std::io;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pushlab::Config;

use crate::doors::Door;
use crate::peers::child::BinaryChild;
use crate::tally::{Tally, Totals};
use crate::PUBLISHERS;

const MIB: f64 = 1024.0 * 1024.0;
/// The input storage a reading connection is lent (`src/server/input.rs`: "a new storage is 256 KiB").
const INPUT_BUFFER_BYTES: u64 = 256 * 1024;
/// What one junk topic (one message of one byte, its name, its entry in the table) is allowed here: an
/// estimate, not a documented limit (the topic table's own bound is `hub.max_topics`).
const JUNK_TOPIC_ALLOWANCE_BYTES: u64 = 4 * 1024;
/// Growth over the second half still called flat: this many bytes, or this fraction, whichever is more.
const FLAT_SLACK_BYTES: u64 = 4 * 1024 * 1024;
const FLAT_SLACK_FRACTION: f64 = 0.05;
/// The sparkline's levels, low to high.
const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The server and the counts at one moment.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Time since the load started.
    pub at: Duration,
    pub rss_bytes: u64,
    pub cpu_seconds: f64,
    /// The server's open descriptors: its listener, poll and standard streams, and one per connection.
    pub fds: usize,
    pub totals: Totals,
}

impl Sample {
    /// Reads the server's `/proc` entries and the tally. Fails when the server is gone (a dead child
    /// is a zombie without `VmRSS` until it is reaped).
    pub fn take(server: &BinaryChild, at: Duration, tally: &Tally) -> io::Result<Sample> {
        Ok(Sample {
            at,
            rss_bytes: server.rss_bytes()?,
            cpu_seconds: server.cpu_seconds()?,
            fds: server.open_fds()?,
            totals: tally.snapshot(),
        })
    }

    /// One line for standard error while the soak runs.
    pub fn progress_line(&self) -> String {
        format!(
            "{:>6.0} s  RSS {:>7.1} MiB  cpu {:>7.2} s  fds {:>4}  published {:>7}  delivered {:>8}  \
             misbehaving {:>6}  errors {:>4}",
            self.at.as_secs_f64(),
            self.rss_bytes as f64 / MIB,
            self.cpu_seconds,
            self.fds,
            self.totals.published,
            self.totals.delivered,
            self.totals.misbehaving,
            self.totals.errors
        )
    }
}

/// Everything the final report says.
pub struct Report {
    machine: String,
    binary: String,
    duration: Duration,
    start_fds: usize,
    samples: Vec<Sample>,
    /// A sample once the load has wound down.
    pub after_load: Option<Sample>,
    /// Why the server is thought dead, if it is.
    pub server_died: Option<String>,
    /// The kernel's peak resident set size of the server (`VmHWM`).
    pub peak_rss: Option<u64>,
    /// Subscribers still running at the give-up time.
    pub unfinished_subscribers: usize,
}

impl Report {
    pub fn new(machine: String, binary: String, duration: Duration, start_fds: usize) -> Report {
        Report {
            machine,
            binary,
            duration,
            start_fds,
            samples: Vec::new(),
            after_load: None,
            server_died: None,
            peak_rss: None,
            unfinished_subscribers: 0,
        }
    }

    pub fn add(&mut self, sample: Sample) {
        self.samples.push(sample);
    }

    /// Whether every check passed: the server lived, and no well-behaved subscriber lost, duplicated
    /// or did not finish.
    pub fn passed(&self, tally: &Tally) -> bool {
        let (lost, duplicates) = lost_and_duplicates(tally);
        self.server_died.is_none()
            && lost == 0
            && duplicates == 0
            && self.unfinished_subscribers == 0
    }

    /// Prints the report in Markdown on standard output.
    pub fn print(&self, tally: &Tally) {
        let mut out = String::new();
        self.write_header(&mut out);
        self.write_memory(&mut out);
        let budget_held = self.write_budgets(&mut out, tally);
        write_delivery(&mut out, tally);
        write_named(
            &mut out,
            "Misbehaving clients: what the server did",
            "outcome",
            &tally.outcomes(),
        );
        write_named(
            &mut out,
            "Errors of well-behaved clients and publishers",
            "error",
            &tally.errors(),
        );
        self.write_verdict(&mut out, tally, budget_held);
        print!("{out}");
    }

    fn write_header(&self, out: &mut String) {
        let date = std::process::Command::new("date")
            .args(["-u", "+%Y-%m-%d %H:%M UTC"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let arguments: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| a != "--bench")
            .collect();
        let _ = writeln!(
            out,
            "# pushlab soak, {:.1} minutes\n",
            self.duration.as_secs_f64() / 60.0
        );
        let _ = writeln!(out, "- date: {date} (end of the run)");
        let _ = writeln!(
            out,
            "- command: `cargo bench --bench soak -- {}`",
            arguments.join(" ")
        );
        let _ = writeln!(out, "- machine: {}", self.machine);
        let _ = writeln!(out, "- server: `{}` with its default limits", self.binary);
        let publishers: Vec<String> = PUBLISHERS
            .iter()
            .map(|p| {
                format!(
                    "`{}` {}/s of {}–{} B",
                    p.topic, p.per_second, p.min_bytes, p.max_bytes
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "- load: publishers {}; {} well-behaved subscribers (every door × every topic × {}); \
             misbehaving clients {:?}\n",
            publishers.join(", "),
            Door::ALL.len() * PUBLISHERS.len() * crate::SUBSCRIBERS_PER_DOOR_AND_TOPIC,
            crate::SUBSCRIBERS_PER_DOOR_AND_TOPIC,
            crate::misbehaving::Kind::ALL
        );
    }

    /// The sample at or after minute 1 (the first when the run is shorter).
    fn minute_one(&self) -> Option<&Sample> {
        self.samples
            .iter()
            .find(|s| s.at >= Duration::from_secs(60))
            .or(self.samples.first())
    }

    fn write_memory(&self, out: &mut String) {
        let _ = writeln!(out, "## Server memory over time\n");
        let _ = writeln!(
            out,
            "| time | RSS | vs minute 1 | CPU | CPU in period | connections | published | delivered | misbehaving | errors |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        let base = self.minute_one().map_or(0, |s| s.rss_bytes);
        let mut previous: Option<&Sample> = None;
        let rows = self
            .samples
            .iter()
            .map(|s| (s, ""))
            .chain(self.after_load.iter().map(|s| (s, " (after the load)")));
        for (sample, note) in rows {
            let busy = previous.map_or(String::new(), |p| {
                let wall = (sample.at - p.at).as_secs_f64().max(1e-9);
                format!(
                    "{:.0} %",
                    100.0 * (sample.cpu_seconds - p.cpu_seconds) / wall
                )
            });
            let label = format!("{:.0} s{note}", sample.at.as_secs_f64());
            let _ = writeln!(
                out,
                "| {label} | {:.1} MiB | {:+.1} MiB | {:.1} s | {busy} | {} | {} | {} | {} | {} |",
                sample.rss_bytes as f64 / MIB,
                (sample.rss_bytes as f64 - base as f64) / MIB,
                sample.cpu_seconds,
                sample.fds.saturating_sub(self.start_fds),
                sample.totals.published,
                sample.totals.delivered,
                sample.totals.misbehaving,
                sample.totals.errors
            );
            previous = Some(sample);
        }
        let rss: Vec<u64> = self.samples.iter().map(|s| s.rss_bytes).collect();
        let (low, high) = (
            rss.iter().copied().min().unwrap_or(0),
            rss.iter().copied().max().unwrap_or(0),
        );
        let _ = writeln!(
            out,
            "\nconnections: the server's open descriptors minus the {} it had at the start (listener, \
             poll, standard streams). CPU in period: 100 % is one core.\n",
            self.start_fds
        );
        let _ = writeln!(
            out,
            "RSS `{}` from {:.1} to {:.1} MiB, one mark per sample\n",
            sparkline(&rss),
            low as f64 / MIB,
            high as f64 / MIB
        );
        if let (Some(first), Some(last)) = (self.minute_one(), self.samples.last()) {
            let _ = writeln!(
                out,
                "- growth from minute 1 ({:.0} s, {:.1} MiB) to the end ({:.0} s, {:.1} MiB): {:+.1} MiB",
                first.at.as_secs_f64(),
                first.rss_bytes as f64 / MIB,
                last.at.as_secs_f64(),
                last.rss_bytes as f64 / MIB,
                (last.rss_bytes as f64 - first.rss_bytes as f64) / MIB
            );
        }
        let _ = writeln!(
            out,
            "- peak: {:.1} MiB in the samples; {} by the kernel's count (`VmHWM`)",
            high as f64 / MIB,
            self.peak_rss
                .map_or("unknown".into(), |p| format!("{:.1} MiB", p as f64 / MIB))
        );
    }

    /// The growth once the hub's bounded state is full ([`full_after`]): the highest sample from then
    /// on over the first sample at or after it, and whether that is within the flat slack. `None` when
    /// less than a fifth of the run is left after it.
    fn growth_once_full(&self) -> Option<(Duration, i64, bool)> {
        let full = full_after(&Config::default());
        if full > self.duration.mul_f64(0.8) {
            return None;
        }
        let first = self.samples.iter().find(|s| s.at >= full)?;
        let highest = self
            .samples
            .iter()
            .filter(|s| s.at >= full)
            .map(|s| s.rss_bytes)
            .max()?;
        let growth = highest as i64 - first.rss_bytes as i64;
        let slack = FLAT_SLACK_BYTES.max((first.rss_bytes as f64 * FLAT_SLACK_FRACTION) as u64);
        Some((first.at, growth, growth <= slack as i64))
    }

    /// Writes the budget table; returns whether the peak stayed within it.
    fn write_budgets(&self, out: &mut String, tally: &Tally) -> bool {
        let config = Config::default();
        let start_rss = self.samples.first().map_or(0, |s| s.rss_bytes);
        let peak_connections = self
            .samples
            .iter()
            .map(|s| s.fds.saturating_sub(self.start_fds) as u64)
            .max()
            .unwrap_or(0);
        let topics = PUBLISHERS.len() as u64;
        let retention = topics * config.hub.max_bytes_per_topic as u64;
        let junk_topics = config.hub.max_topics as u64;
        let junk = junk_topics * JUNK_TOPIC_ALLOWANCE_BYTES;
        let per_connection = config.max_pending_output_bytes as u64 + INPUT_BUFFER_BYTES;
        let buffers = (peak_connections * per_connection).min(config.max_buffered_bytes as u64);
        let bound = start_rss + retention + junk + buffers;
        let peak = self
            .peak_rss
            .unwrap_or_else(|| self.samples.iter().map(|s| s.rss_bytes).max().unwrap_or(0));
        let mib = |bytes: u64| format!("{:.1} MiB", bytes as f64 / MIB);
        let _ = writeln!(out, "\n## Budgets\n");
        let _ = writeln!(out, "| part | bound | from |");
        let _ = writeln!(out, "|---|---:|---|");
        let _ = writeln!(
            out,
            "| server at the start | {} | first sample |",
            mib(start_rss)
        );
        let _ = writeln!(
            out,
            "| topic logs | {} | {topics} topics × `hub.max_bytes_per_topic` {} (payload published: {}) |",
            mib(retention),
            mib(config.hub.max_bytes_per_topic as u64),
            mib(tally.published_bytes.load(Ordering::Relaxed))
        );
        let _ = writeln!(
            out,
            "| junk topics | {} | `hub.max_topics` {junk_topics} × {} KiB (an estimate per one-message topic) |",
            mib(junk),
            JUNK_TOPIC_ALLOWANCE_BYTES / 1024
        );
        let _ = writeln!(
            out,
            "| connection buffers | {} | peak {peak_connections} connections × (`max_pending_output_bytes` {} + input {} KiB), at most `max_buffered_bytes` {} |",
            mib(buffers),
            mib(config.max_pending_output_bytes as u64),
            INPUT_BUFFER_BYTES / 1024,
            mib(config.max_buffered_bytes as u64)
        );
        let _ = writeln!(out, "| **sum** | **{}** | |", mib(bound));
        let held = peak <= bound;
        let _ = writeln!(
            out,
            "\npeak {} {} the sum of the budgets ({}).",
            mib(peak),
            if held { "is within" } else { "EXCEEDS" },
            mib(bound)
        );
        let _ = writeln!(
            out,
            "\nThe logs and the topic table fill until about {:.0} s: {}.",
            full_after(&Config::default()).as_secs_f64(),
            fill_times(&Config::default()).join("; ")
        );
        match self.growth_once_full() {
            Some((from, growth, flat)) => {
                let _ = writeln!(
                    out,
                    "From {:.0} s to the end the highest sample is {:+.1} MiB over the one at {:.0} s: {}.",
                    from.as_secs_f64(),
                    growth as f64 / MIB,
                    from.as_secs_f64(),
                    if flat {
                        "flat (within 4 MiB or 5 %)"
                    } else {
                        "NOT flat (more than 4 MiB and 5 %)"
                    }
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "The run is too short to judge flatness: less than a fifth of it is left once the \
                     hub is full."
                );
            }
        }
        held
    }

    fn write_verdict(&self, out: &mut String, tally: &Tally, budget_held: bool) {
        let (lost, duplicates) = lost_and_duplicates(tally);
        let flat = self.growth_once_full().map(|(_, _, flat)| flat);
        let _ = writeln!(out, "\n## Verdict\n");
        let _ = writeln!(
            out,
            "- server: {}",
            self.server_died
                .as_ref()
                .map_or("alive to the end".to_string(), |why| format!(
                    "DIED ({why})"
                ))
        );
        let _ = writeln!(
            out,
            "- well-behaved subscribers: {lost} lost, {duplicates} duplicated, {} did not finish",
            self.unfinished_subscribers
        );
        let _ = writeln!(
            out,
            "- memory: {} and {}",
            if budget_held {
                "within the budgets"
            } else {
                "OVER the budgets"
            },
            match flat {
                Some(true) => "flat once the hub was full",
                Some(false) => "NOT flat once the hub was full",
                None => "not judged for flatness (run too short)",
            }
        );
        let _ = writeln!(
            out,
            "- result: {}",
            if self.passed(tally) { "PASS" } else { "FAIL" }
        );
    }
}

/// When each bounded part of the hub is full under this load, in words: each topic's log, by count
/// (`hub.max_messages_per_topic` messages) or by bytes, whichever comes first; by bytes at the latest
/// when the payload published reaches half of `hub.max_bytes_per_topic`, since the hub also counts
/// each message's JSON form, which is at least as long as the payload; and the topic table
/// (`hub.max_topics`) filled by the junk topics.
fn fill_times(config: &Config) -> Vec<String> {
    let mut times: Vec<String> = PUBLISHERS
        .iter()
        .map(|plan| {
            let (by_count, by_bytes) = topic_fill_seconds(plan, config);
            format!(
                "`{}` by count at {by_count:.0} s, by bytes at {by_bytes:.0} s at the latest",
                plan.topic
            )
        })
        .collect();
    times.push(format!(
        "the topic table ({} topics) at {:.0} s",
        config.hub.max_topics,
        junk_fill_seconds(config)
    ));
    times
}

/// When the whole bounded state of the hub is full: the latest of [`fill_times`].
fn full_after(config: &Config) -> Duration {
    let topics = PUBLISHERS.iter().map(|plan| {
        let (by_count, by_bytes) = topic_fill_seconds(plan, config);
        by_count.min(by_bytes)
    });
    let seconds = topics.fold(junk_fill_seconds(config), f64::max);
    Duration::from_secs_f64(seconds)
}

/// Seconds until the log of `plan`'s topic is full by count, and at the latest by bytes.
fn topic_fill_seconds(plan: &crate::behaved::PublisherPlan, config: &Config) -> (f64, f64) {
    let per_second = plan.per_second as f64;
    let mean_payload = (plan.min_bytes + plan.max_bytes) as f64 / 2.0;
    let by_count = config.hub.max_messages_per_topic as f64 / per_second;
    let by_bytes = config.hub.max_bytes_per_topic as f64 / 2.0 / (mean_payload * per_second);
    (by_count, by_bytes)
}

/// Seconds until the junk topics fill the topic table.
fn junk_fill_seconds(config: &Config) -> f64 {
    config.hub.max_topics as f64 * crate::misbehaving::JUNK_TOPIC_PAUSE.as_secs_f64()
}

/// Lost and duplicated messages over every door.
fn lost_and_duplicates(tally: &Tally) -> (u64, u64) {
    tally.doors.iter().fold((0, 0), |(lost, duplicates), door| {
        (
            lost + door.lost.load(Ordering::Relaxed),
            duplicates + door.duplicates.load(Ordering::Relaxed),
        )
    })
}

fn write_delivery(out: &mut String, tally: &Tally) {
    let _ = writeln!(out, "\n## Delivery per door\n");
    let _ = writeln!(
        out,
        "| door | subscribers | delivered | lost | duplicated | reconnects | errors |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    for door in Door::ALL {
        let counts = tally.door(door);
        let load = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            door.name(),
            load(&counts.subscribers),
            load(&counts.delivered),
            load(&counts.lost),
            load(&counts.duplicates),
            load(&counts.reconnects),
            load(&counts.errors)
        );
    }
    let _ = writeln!(
        out,
        "\nreconnects: held responses the server ended (the XHR and iframe streams at \
         `max_stream_bytes`), and retries after an error."
    );
}

fn write_named(
    out: &mut String,
    title: &str,
    column: &str,
    table: &std::collections::BTreeMap<String, u64>,
) {
    let _ = writeln!(out, "\n## {title}\n");
    if table.is_empty() {
        let _ = writeln!(out, "none");
        return;
    }
    let _ = writeln!(out, "| {column} | count |");
    let _ = writeln!(out, "|---|---:|");
    for (name, count) in table {
        let _ = writeln!(out, "| {name} | {count} |");
    }
}

/// One block character per value, scaled from the lowest value to the highest.
fn sparkline(values: &[u64]) -> String {
    let low = values.iter().copied().min().unwrap_or(0);
    let high = values.iter().copied().max().unwrap_or(0);
    let span = (high - low).max(1) as f64;
    values
        .iter()
        .map(|&v| {
            let level = ((v - low) as f64 / span * (LEVELS.len() - 1) as f64).round() as usize;
            LEVELS[level.min(LEVELS.len() - 1)]
        })
        .collect()
}
