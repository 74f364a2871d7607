//! pushlab's WebSocket echo server, side by side with tokio-tungstenite and fastwebsockets, over real
//! sockets on 127.0.0.1.
//!
//! Run with `cargo bench --bench ws_echo` (about 3 minutes: the rows, then the pipeline scenario). It
//! needs 5,000 more file descriptors than usual for row (d); where `ulimit -n` is lower, run
//! `bash -c 'ulimit -n 65536 && cargo bench --bench ws_echo'`.
//!
//! # What runs where
//!
//! Each server is a child process of this binary (the same executable, with `PUSHLAB_BENCH_SERVER`
//! naming the server), on its own ephemeral port, serving on one thread: pushlab's `mio` loop, or a
//! `current_thread` tokio runtime. On a machine with two cores or more, every server is pinned to core 0
//! and this process, the load generator, to core 1 (with `taskset`), so the server has a core of its own.
//! The load generator is the same for all three servers (see `peers/load.rs`).
//!
//! # Rows
//!
//! - (a) round trips per second, 1 connection, 32-byte binary messages, one in flight;
//! - (b) round trips per second, 100 connections × 32 B, one in flight on each, driven by 4 threads;
//! - (c) echoed payload in GB/s (10⁹ bytes), 64 KiB binary messages, 16 in flight on one connection;
//! - (d) growth of the server's resident memory per idle WebSocket connection, 5,000 connections
//!   opened on a fresh server process (handshake done, nothing sent), then (d′) after one 32-byte echo
//!   on each.
//!
//! Every throughput figure is the median of 3 runs of 2 seconds, the servers taking turns (the first
//! server changes from run to run); each row starts with an untimed warm-up run per server. Next to the
//! throughput rows the bench prints how busy the server process was (CPU seconds per wall second): near
//! 100 % the server is the bottleneck; well below, the load generator or the kernel is.
//!
//! # The pipeline scenario
//!
//! Row (c) keeps 16 messages in flight on one connection. The pipeline scenario pushes harder where a
//! server's output buffering and backpressure are tested: 10 connections, each keeping 16, 32 or 64
//! binary messages of 64 KiB in flight (up to 40 MiB echoing at once), 8 seconds per cell, one fresh
//! server process per cell. It reports echoed MB/s (10⁶ bytes per second), the connections that failed
//! and those that waited more than 5 s for an echo ("timeout waiting for echo"), and pushlab's ratio to
//! the better peer. A connection that fails stops; the others go on.
//!
//! A server that is not busy is either asleep (waiting in `epoll_wait` for the client) or runnable but
//! preempted by other work on the machine (the run queue's wait in `/proc/<pid>/task/*/schedstat`).
//! Each cell's line on stderr gives both, and how busy the load generator was: a server asleep while
//! the load generator is near 100 % is limited by its client, not by itself.
//!
//! `cargo bench --bench ws_echo` runs the rows and then the pipeline scenario (about 2.5 minutes);
//! `cargo bench --bench ws_echo -- pipeline` runs the pipeline scenario alone (about 75 seconds),
//! `cargo bench --bench ws_echo -- rows` the rows alone, and `-- memory` rows (d) and (d′) alone.

// Each bench uses the part of the shared module it needs: this one not the `pushlab` binary child.
#[allow(dead_code)]
mod peers;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use peers::child::{can_pin, pin_this_process, ServerChild};
use peers::load;
use peers::servers::{self, Kind, ROLE_VAR};

const RUNS: usize = 3;
const MEASURE_TIME: Duration = Duration::from_secs(2);
const WARM_UP_TIME: Duration = Duration::from_millis(300);
const SMALL_MESSAGE_BYTES: usize = 32;
const MANY_CONNECTIONS: usize = 100;
const LOAD_THREADS: usize = 4;
const LARGE_MESSAGE_BYTES: usize = 64 * 1024;
const WINDOW_MESSAGES: usize = 16;
const IDLE_CONNECTIONS: usize = 5_000;
/// How long a server gets to finish its work before its memory is read.
const SETTLE_TIME: Duration = Duration::from_millis(300);
/// Set to `HOST:PORT`, the bench only drives load (rows a–c, one run each) at a server started
/// elsewhere, for example under `perf record`; `PUSHLAB_BENCH_ROWS` (e.g. `c`) picks rows, and `p` adds
/// the pipeline scenario's 64-in-flight cell.
const TARGET_VAR: &str = "PUSHLAB_BENCH_TARGET";
const ROWS_VAR: &str = "PUSHLAB_BENCH_ROWS";
/// With `p` in `PUSHLAB_BENCH_ROWS`: the messages in flight of the one pipeline cell (64 unless set).
const WINDOW_VAR: &str = "PUSHLAB_BENCH_WINDOW";
const SERVER_CORE: usize = 0;
const LOAD_CORE: usize = 1;
/// The pipeline scenario: connections, messages in flight on each (one cell per value), time per cell.
const PIPELINE_CONNECTIONS: usize = 10;
const PIPELINE_WINDOWS: [usize; 3] = [16, 32, 64];
const PIPELINE_TIME: Duration = Duration::from_secs(8);
/// A connection with messages in flight and no echo for this long has stalled.
const ECHO_TIMEOUT: Duration = Duration::from_secs(5);

fn main() {
    if let Ok(name) = std::env::var(ROLE_VAR) {
        let Some(kind) = Kind::from_name(&name) else {
            eprintln!("unknown server {name:?}");
            std::process::exit(2);
        };
        if let Err(error) = servers::serve(kind) {
            eprintln!("{name}: {error}");
            std::process::exit(1);
        }
        return;
    }
    if let Ok(addr) = std::env::var(TARGET_VAR) {
        if let Err(error) = load_only(&addr) {
            eprintln!("ws_echo load failed: {error}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(error) = run() {
        eprintln!("ws_echo bench failed: {error}");
        std::process::exit(1);
    }
}

/// What one row holds: per server, the value and the server's CPU use of each run.
struct Row {
    label: &'static str,
    unit: &'static str,
    higher_is_better: bool,
    values: [Vec<f64>; 3],
    server_busy: [Vec<f64>; 3],
    /// Server CPU microseconds per echoed message, run by run.
    server_us_per_message: [Vec<f64>; 3],
}

impl Row {
    fn new(label: &'static str, unit: &'static str, higher_is_better: bool) -> Row {
        Row {
            label,
            unit,
            higher_is_better,
            values: Default::default(),
            server_busy: Default::default(),
            server_us_per_message: Default::default(),
        }
    }

    fn median(&self, kind: usize) -> Option<f64> {
        median(&self.values[kind])
    }

    /// pushlab ÷ the better of the two peers (the faster, or for memory the smaller).
    fn ratio(&self) -> Option<f64> {
        let ours = self.median(0)?;
        let peers = [self.median(1)?, self.median(2)?];
        let best = if self.higher_is_better {
            peers[0].max(peers[1])
        } else {
            peers[0].min(peers[1])
        };
        Some(ours / best)
    }
}

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied()
}

fn run() -> io::Result<()> {
    // Counted before pinning, which narrows what this process may use to one core.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pinned = can_pin() && pin_this_process(LOAD_CORE).is_ok();
    let server_core = pinned.then_some(SERVER_CORE);
    print_machine(cores, pinned);

    // `cargo bench` adds `--bench` to the arguments; the words that choose a part are ours.
    let words: Vec<String> = std::env::args().skip(1).collect();
    let chosen = |word: &str| words.iter().any(|w| w == word);
    let (rows, memory, pipeline) = match (chosen("rows"), chosen("memory"), chosen("pipeline")) {
        (false, false, false) => (true, false, true),
        chosen => chosen,
    };
    if rows {
        let mut rows = throughput_rows(server_core)?;
        rows.extend(memory_rows(server_core)?);
        print_table(&rows);
    } else if memory {
        print_table(&memory_rows(server_core)?);
    }
    if pipeline {
        pipeline_scenario(server_core)?;
    }
    Ok(())
}

/// Seconds the threads of process `pid` have spent runnable but waiting for a CPU (the second field
/// of `/proc/<pid>/task/*/schedstat`, in nanoseconds). A server that is not busy is either asleep in
/// `epoll_wait` (nothing to do: the client is slow, or the server waits for an event) or preempted
/// by other work on the machine; only the first says something about the server.
fn runqueue_wait_seconds(pid: u32) -> io::Result<f64> {
    let mut waited_ns: u64 = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let schedstat = std::fs::read_to_string(task?.path().join("schedstat"))?;
        let field = schedstat.split_whitespace().nth(1);
        waited_ns += field.and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    }
    Ok(waited_ns as f64 / 1e9)
}

/// One cell of the pipeline scenario: one server, one window.
struct PipelineCell {
    outcome: load::PipelineOutcome,
    /// The server's CPU seconds per wall second during the cell.
    busy: f64,
}

impl PipelineCell {
    fn megabytes_per_second(&self) -> f64 {
        self.outcome.bytes_per_second() / 1e6
    }

    /// Server CPU milliseconds per echoed MB: the figure to compare when the machine is busy with
    /// other work and no server gets its core to itself (throughput then measures the scheduler).
    fn cpu_ms_per_megabyte(&self) -> f64 {
        self.busy * 1000.0 / self.megabytes_per_second()
    }
}

/// The pipeline scenario: for each window, each server in a fresh process (a server that stalled in
/// one cell must not slow the next), 10 connections × `window` × 64 KiB in flight.
fn pipeline_scenario(server_core: Option<usize>) -> io::Result<()> {
    let mut table: Vec<(usize, Vec<PipelineCell>)> = Vec::new();
    for window in PIPELINE_WINDOWS {
        let mut cells = Vec::new();
        for kind in Kind::ALL {
            let server = ServerChild::start(kind, server_core)?;
            let cpu_before = server.cpu_seconds()?;
            let waited_before = runqueue_wait_seconds(server.pid());
            let load_cpu_before = peers::child::cpu_seconds(std::process::id())?;
            let start = Instant::now();
            let outcome = load::pipelined(
                server.addr,
                PIPELINE_CONNECTIONS,
                LARGE_MESSAGE_BYTES,
                window,
                PIPELINE_TIME,
                ECHO_TIMEOUT,
            )?;
            let elapsed = start.elapsed().as_secs_f64();
            let busy = (server.cpu_seconds()? - cpu_before) / elapsed;
            let load_busy =
                (peers::child::cpu_seconds(std::process::id())? - load_cpu_before) / elapsed;
            // Idle is not always asleep: a server preempted by other work waits in the run queue.
            let waiting = match (waited_before, runqueue_wait_seconds(server.pid())) {
                (Ok(before), Ok(after)) => format!("{:.0} %", (after - before) / elapsed * 100.0),
                _ => "?".into(),
            };
            let cell = PipelineCell { outcome, busy };
            eprintln!(
                "pipeline {window} in flight: {:<17} {:.1} MB/s, {} errors, {} timeouts (server busy {:.0} %, \
                 waiting for a CPU {waiting}, asleep the rest; load generator busy {:.0} %){}",
                kind.name(),
                cell.megabytes_per_second(),
                cell.outcome.errors,
                cell.outcome.timeouts,
                busy * 100.0,
                load_busy * 100.0,
                cell.outcome
                    .first_failure
                    .as_deref()
                    .map_or(String::new(), |why| format!("; first: {why}")),
            );
            cells.push(cell);
        }
        table.push((window, cells));
    }
    print_pipeline_table(&table);
    Ok(())
}

fn print_pipeline_table(table: &[(usize, Vec<PipelineCell>)]) {
    println!();
    println!(
        "pipeline: {PIPELINE_CONNECTIONS} connections × N binary messages of {} KiB in flight, {} s per cell, \
         echo timeout {} s; MB/s = 10⁶ payload bytes echoed per second",
        LARGE_MESSAGE_BYTES / 1024,
        PIPELINE_TIME.as_secs(),
        ECHO_TIMEOUT.as_secs()
    );
    println!(
        "each cell: MB/s, connections failed (err) and stalled (t/o), server busy, server CPU ms per \
         echoed MB; the last column is the best peer's CPU per MB ÷ pushlab's (above 1: pushlab uses less)"
    );
    println!(
        "| {:>9} | {:>40} | {:>40} | {:>40} | {:>14} | {:>14} |",
        "in flight",
        "pushlab",
        "tokio-tungstenite",
        "fastwebsockets",
        "pushlab ÷ best",
        "CPU/MB ratio"
    );
    println!(
        "|{:->11}|{:->42}|{:->42}|{:->42}|{:->16}|{:->16}|",
        ":", ":", ":", ":", ":", ":"
    );
    for (window, cells) in table {
        let text = |cell: &PipelineCell| {
            format!(
                "{:.1} MB/s · {} err · {} t/o · {:.0} % · {:.2} ms/MB",
                cell.megabytes_per_second(),
                cell.outcome.errors,
                cell.outcome.timeouts,
                cell.busy * 100.0,
                cell.cpu_ms_per_megabyte()
            )
        };
        let best_peer = cells[1..]
            .iter()
            .map(PipelineCell::megabytes_per_second)
            .fold(0.0, f64::max);
        let leanest_peer = cells[1..]
            .iter()
            .map(PipelineCell::cpu_ms_per_megabyte)
            .fold(f64::INFINITY, f64::min);
        println!(
            "| {:>9} | {:>40} | {:>40} | {:>40} | {:>14.2} | {:>14.2} |",
            window,
            text(&cells[0]),
            text(&cells[1]),
            text(&cells[2]),
            cells[0].megabytes_per_second() / best_peer,
            leanest_peer / cells[0].cpu_ms_per_megabyte()
        );
    }
    for (window, cells) in table {
        for (kind, cell) in Kind::ALL.iter().zip(cells) {
            if let Some(why) = &cell.outcome.first_failure {
                println!(
                    "  {window} in flight, {}: first failure: {why}",
                    kind.name()
                );
            }
        }
    }
}

fn print_machine(cores: usize, pinned: bool) {
    println!("ws_echo: {}", peers::child::machine_summary(cores));
    if pinned {
        println!(
            "servers pinned to core {SERVER_CORE}, load generator to core {LOAD_CORE} (taskset)"
        );
    } else {
        println!("not pinned (needs 2 cores and taskset): servers and load share the cores");
    }
}

/// Drives load at an external server: each chosen throughput row once, printed as it goes.
fn load_only(addr: &str) -> io::Result<()> {
    let addr: SocketAddr = addr
        .parse()
        .map_err(|_| io::Error::other(format!("{TARGET_VAR} must be HOST:PORT")))?;
    let chosen = std::env::var(ROWS_VAR).unwrap_or_else(|_| "abc".into());
    for (row, workload, scale) in workloads() {
        let letter = row.label.chars().nth(1).unwrap_or(' ');
        if chosen.contains(letter) {
            let value = workload(addr, MEASURE_TIME)? * scale;
            println!(
                "{}: {} {}",
                row.label,
                format_value(value, row.unit),
                row.unit
            );
        }
    }
    if chosen.contains('p') {
        // The pipeline scenario's hardest cell by default, once: what to profile when it is the slow
        // one. `PUSHLAB_BENCH_WINDOW` picks another number in flight.
        let window = std::env::var(WINDOW_VAR)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(PIPELINE_WINDOWS[PIPELINE_WINDOWS.len() - 1]);
        let outcome = load::pipelined(
            addr,
            PIPELINE_CONNECTIONS,
            LARGE_MESSAGE_BYTES,
            window,
            PIPELINE_TIME,
            ECHO_TIMEOUT,
        )?;
        println!(
            "pipeline {window} in flight: {:.1} MB/s, {} errors, {} timeouts",
            outcome.bytes_per_second() / 1e6,
            outcome.errors,
            outcome.timeouts
        );
    }
    Ok(())
}

type Workload = fn(SocketAddr, Duration) -> io::Result<f64>;

/// Rows (a)–(c): each with its workload and the factor that turns its result into the row's unit.
/// Every workload returns messages per second except (c), which returns bytes per second.
fn workloads() -> [(Row, Workload, f64); 3] {
    [
        (
            Row::new("(a) echo 1 conn × 32 B", "round trips/s", true),
            |addr, time| load::round_trips_one(addr, SMALL_MESSAGE_BYTES, time),
            1.0,
        ),
        (
            Row::new("(b) echo 100 conns × 32 B", "round trips/s", true),
            |addr, time| {
                load::round_trips_many(
                    addr,
                    MANY_CONNECTIONS,
                    LOAD_THREADS,
                    SMALL_MESSAGE_BYTES,
                    time,
                )
            },
            1.0,
        ),
        (
            Row::new("(c) 64 KiB × 16 in flight", "GB/s", true),
            |addr, time| {
                load::pipelined_throughput(addr, LARGE_MESSAGE_BYTES, WINDOW_MESSAGES, time)
            },
            1e-9,
        ),
    ]
}

fn throughput_rows(server_core: Option<usize>) -> io::Result<Vec<Row>> {
    let servers = Kind::ALL
        .into_iter()
        .map(|kind| ServerChild::start(kind, server_core))
        .collect::<io::Result<Vec<_>>>()?;
    let mut rows = Vec::new();
    for (mut row, workload, scale) in workloads() {
        for server in &servers {
            workload(server.addr, WARM_UP_TIME)?;
        }
        for run in 0..RUNS {
            for turn in 0..servers.len() {
                let index = (run + turn) % servers.len();
                let server = &servers[index];
                let (value, busy) = measure(server, |addr| workload(addr, MEASURE_TIME))?;
                eprintln!(
                    "{} run {}: {:<17} {} {} (server busy {:.0} %)",
                    row.label,
                    run + 1,
                    server.kind.name(),
                    format_value(value * scale, row.unit),
                    row.unit,
                    busy * 100.0
                );
                let messages_per_second = if row.unit == "GB/s" {
                    value / LARGE_MESSAGE_BYTES as f64
                } else {
                    value
                };
                row.values[index].push(value * scale);
                row.server_busy[index].push(busy);
                row.server_us_per_message[index].push(busy * 1e6 / messages_per_second);
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Runs `work` against `server`; returns its result and the server's CPU seconds per wall second.
fn measure(
    server: &ServerChild,
    work: impl FnOnce(SocketAddr) -> io::Result<f64>,
) -> io::Result<(f64, f64)> {
    let cpu_before = server.cpu_seconds()?;
    let start = Instant::now();
    let value = work(server.addr)?;
    let wall = start.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds()? - cpu_before;
    Ok((value, cpu / wall))
}

/// Rows (d) and (d′): a fresh server per run, so earlier rows' buffers do not hide the growth.
fn memory_rows(server_core: Option<usize>) -> io::Result<Vec<Row>> {
    let mut idle = Row::new("(d) memory per idle conn", "KiB", false);
    let mut after_echo = Row::new("(d′) same, after 1 echo each", "KiB", false);
    let needed = IDLE_CONNECTIONS as u64 + 200;
    match open_files_limit() {
        Some(limit) if limit >= needed => {}
        limit => {
            eprintln!(
                "(d) skipped: needs {needed} open files, `ulimit -n` is {limit:?}; \
                 run `bash -c 'ulimit -n 65536 && cargo bench --bench ws_echo'`"
            );
            return Ok(vec![idle, after_echo]);
        }
    }
    for run in 0..RUNS {
        for turn in 0..Kind::ALL.len() {
            let index = (run + turn) % Kind::ALL.len();
            let kind = Kind::ALL[index];
            let (idle_kib, echoed_kib) = memory_per_connection(kind, server_core)?;
            eprintln!(
                "(d) run {}: {:<17} {idle_kib:.2} KiB idle, {echoed_kib:.2} KiB after one echo",
                run + 1,
                kind.name()
            );
            idle.values[index].push(idle_kib);
            after_echo.values[index].push(echoed_kib);
        }
    }
    Ok(vec![idle, after_echo])
}

/// KiB of server RSS growth per connection: idle after the handshake, then after one echo each.
fn memory_per_connection(kind: Kind, server_core: Option<usize>) -> io::Result<(f64, f64)> {
    let server = ServerChild::start(kind, server_core)?;
    // One whole connection first, so that what every server sets up once is in the baseline.
    drop(load::EchoClient::connect(server.addr, SMALL_MESSAGE_BYTES)?);
    std::thread::sleep(SETTLE_TIME);
    let baseline = server.rss_bytes()?;
    let mut clients = load::open_idle(server.addr, IDLE_CONNECTIONS)?;
    std::thread::sleep(SETTLE_TIME);
    let idle = server.rss_bytes()?;
    load::echo_once_each(&mut clients, SMALL_MESSAGE_BYTES)?;
    std::thread::sleep(SETTLE_TIME);
    let echoed = server.rss_bytes()?;
    // The server goes first, so its side of each connection closes first and the load generator's
    // ports do not linger in TIME_WAIT.
    drop(server);
    drop(clients);
    let per_connection_kib =
        |rss: u64| (rss as f64 - baseline as f64) / IDLE_CONNECTIONS as f64 / 1024.0;
    Ok((per_connection_kib(idle), per_connection_kib(echoed)))
}

/// The soft limit on open files of this process (and so of its children).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn format_value(value: f64, unit: &str) -> String {
    match unit {
        "GB/s" => format!("{value:.2}"),
        "KiB" => format!("{value:.2}"),
        _ => {
            let whole = value.round() as u64;
            let digits = whole.to_string();
            let mut grouped = String::new();
            for (i, digit) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i).is_multiple_of(3) {
                    grouped.push(',');
                }
                grouped.push(digit);
            }
            grouped
        }
    }
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "median of {RUNS} runs; throughput rows {} s each",
        MEASURE_TIME.as_secs()
    );
    println!(
        "| {:<32} | {:>13} | {:>17} | {:>14} | {:>13} |",
        "row", "pushlab", "tokio-tungstenite", "fastwebsockets", "pushlab ÷ best"
    );
    println!(
        "|{:-<34}|{:->15}|{:->19}|{:->16}|{:->15}|",
        ":", ":", ":", ":", ":"
    );
    for row in rows {
        let cell = |kind: usize| {
            row.median(kind).map_or("—".to_string(), |value| {
                format!("{} {}", format_value(value, row.unit), short_unit(row.unit))
            })
        };
        let ratio = row
            .ratio()
            .map_or("—".to_string(), |ratio| format!("{ratio:.2}"));
        println!(
            "| {:<32} | {:>13} | {:>17} | {:>14} | {:>13} |",
            row.label,
            cell(0),
            cell(1),
            cell(2),
            ratio
        );
    }
    println!();
    println!("server process CPU during the throughput rows (median of the runs):");
    println!(
        "  {:<32} {:>17} | {:>17} | {:>17}",
        "busy (100 % = one core), µs/msg", "pushlab", "tokio-tungstenite", "fastwebsockets"
    );
    for row in rows.iter().filter(|row| row.higher_is_better) {
        let cells: Vec<String> = (0..3)
            .map(|kind| {
                let busy = median(&row.server_busy[kind]);
                let us = median(&row.server_us_per_message[kind]);
                match (busy, us) {
                    (Some(busy), Some(us)) => format!("{:>5.0} % {us:>7.2} µs", busy * 100.0),
                    _ => "—".into(),
                }
            })
            .collect();
        println!("  {:<32} {}", row.label, cells.join(" | "));
    }
    println!("memory rows: lower is better, so pushlab ÷ best compares with the smaller peer");
}

fn short_unit(unit: &str) -> &str {
    match unit {
        "round trips/s" => "rt/s",
        other => other,
    }
}
