//! The scale-out scenario: one fan-out, on one node or two, with or without Redis in between.
//!
//! `pushlab lab --scenario scale-out` answers the question chapter 17 asks of a cluster: what does it
//! cost to share topics through Redis Streams (`pushlab --redis`), and what does a second node buy?
//! The same fan-out runs three ways, each with fresh processes:
//!
//! | setup | what runs |
//! |---|---|
//! | 1 node, in memory | one `pushlab`, its in-memory hub (the default) |
//! | 1 node, Redis | one `pushlab --redis`, and one `redis-server` |
//! | 2 nodes, Redis | two `pushlab --redis` sharing one `redis-server` |
//!
//! The subscribers, all on one door, are spread over the nodes (subscriber `i` on node `i % n`) and
//! driven by the [`super::swarm`] in one thread; the publisher posts every message to the first node,
//! so with two nodes half the deliveries cross Redis: published on node 1, read by node 2's `XREAD`,
//! written to node 2's subscribers.
//!
//! Each `redis-server` is started by [`crate::redis::process::RedisProcess`] on a free loopback port
//! with persistence off and stopped by its PID; every node runs with `--no-clock`, so the only
//! commands Redis sees are the measured messages' own. The row reports:
//!
//! - delivery latency p50 / p99 / max, publish to receipt (the swarm's markers);
//! - **Redis round trips per message**: the commands the nodes sent (`EVAL` to publish, `XREAD` to
//!   deliver, `XRANGE` / `XREVRANGE` / `SMEMBERS` to resume), counted by Redis itself (`INFO
//!   commandstats`, via [`crate::redis::process::command_calls`]) from the first publish to the end of
//!   delivery, divided by the messages; in brackets every command run, including those the publish
//!   script runs inside Redis;
//! - **server CPU per node**, `utime + stime` over the same span, and Redis's and the generator's;
//! - lost and duplicated deliveries, which must be zero.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::load::Door;
use super::machine;
use super::swarm::{self, FanOut};
use super::target::Target;
use crate::redis::process::{command_calls, RedisProcess};

/// The commands a node sends to Redis, each one request and one reply: what "round trips" counts.
pub const COMMANDS_SENT_BY_NODES: [&str; 5] = ["eval", "xread", "xrange", "xrevrange", "smembers"];
/// A node started with `--redis` stores a publish once its connections to Redis are up; it gets this
/// long to get there.
pub const REDIS_LINK_TIMEOUT: Duration = Duration::from_secs(10);
/// The timeout of each `INFO commandstats`.
const REDIS_QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// One setup: how many nodes, and whether they share a Redis server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Its name in the table.
    pub name: &'static str,
    /// Nodes.
    pub nodes: usize,
    /// Whether the nodes run with `--redis`.
    pub redis: bool,
}

/// The three setups, in the table's order.
pub const SETUPS: [Setup; 3] = [
    Setup {
        name: "1 node, in memory",
        nodes: 1,
        redis: false,
    },
    Setup {
        name: "1 node, Redis",
        nodes: 1,
        redis: true,
    },
    Setup {
        name: "2 nodes, Redis",
        nodes: 2,
        redis: true,
    },
];

/// The workload of every setup.
#[derive(Clone, Copy, Debug)]
pub struct ScaleWorkload {
    /// The door.
    pub door: Door,
    /// Subscribers in all, spread over the nodes.
    pub subscribers: usize,
    /// Messages.
    pub messages: u64,
    /// Messages per second.
    pub rate_per_s: f64,
    /// Payload bytes.
    pub payload_bytes: usize,
}

/// One setup's measurements.
#[derive(Clone, Debug)]
pub struct ScaleRow {
    /// The setup.
    pub setup: Setup,
    /// Subscribers.
    pub subscribers: usize,
    /// (subscriber, message) pairs delivered, and expected.
    pub delivered: u64,
    /// Expected deliveries.
    pub expected: u64,
    /// Repeated receipts.
    pub duplicated: u64,
    /// p50, p99 and max, ms.
    pub latency_ms: [f64; 3],
    /// Commands the nodes sent per message, and every command run per message (`None` in memory).
    pub redis_per_message: Option<(f64, f64)>,
    /// Each node's CPU ms over the measured span.
    pub node_cpu_ms: Vec<u64>,
    /// Redis's CPU ms.
    pub redis_cpu_ms: Option<u64>,
    /// The generator's CPU ms (this process).
    pub generator_cpu_ms: Option<u64>,
    /// Connecting and subscribing everyone, s.
    pub setup_s: f64,
    /// Failures and the first one's text.
    pub errors: (u64, Option<String>),
}

/// Whether the scale-out scenario can run here.
pub fn available() -> bool {
    RedisProcess::available()
}

/// Runs every setup with `binary` as the nodes (pinned to `server_core` when given).
pub fn run(
    binary: &Path,
    server_core: Option<usize>,
    workload: ScaleWorkload,
    progress: &dyn Fn(&str),
) -> io::Result<Vec<ScaleRow>> {
    SETUPS
        .iter()
        .map(|setup| {
            progress(setup.name);
            run_setup(binary, server_core, workload, *setup)
        })
        .collect()
}

/// Starts the setup's Redis and nodes, runs the fan-out over them and measures it. Everything it
/// started is stopped by PID when it returns (the children's `Drop`).
fn run_setup(
    binary: &Path,
    server_core: Option<usize>,
    workload: ScaleWorkload,
    setup: Setup,
) -> io::Result<ScaleRow> {
    let redis = if setup.redis {
        Some(RedisProcess::start()?)
    } else {
        None
    };
    let redis_addr = redis.as_ref().map(|r| r.addr().to_string());
    let mut extra = vec!["--no-clock"];
    if let Some(addr) = &redis_addr {
        extra.extend(["--redis", addr.as_str()]);
    }
    let nodes: Vec<Target> = (0..setup.nodes)
        .map(|_| Target::spawn_server(binary, &extra))
        .collect::<io::Result<_>>()?;
    let pids: Vec<u32> = nodes.iter().filter_map(|n| n.server_pid).collect();
    if let Some(core) = server_core {
        for pid in pids
            .iter()
            .chain(redis.as_ref().and_then(RedisProcess::pid).iter())
        {
            machine::pin(*pid, core).map_err(io::Error::other)?;
        }
    }
    for node in &nodes {
        wait_until_publish_stored(node.front)?;
    }
    let redis_pid = redis.as_ref().and_then(RedisProcess::pid);
    let redis_server = redis.as_ref().map(RedisProcess::addr);
    // The gauges: each node's CPU ms, then Redis's CPU ms, the commands the nodes sent and every
    // command run (zeros without Redis).
    let gauges = || -> io::Result<Vec<f64>> {
        let mut readings: Vec<f64> = pids
            .iter()
            .map(|pid| machine::cpu_time_ms(*pid).unwrap_or(0) as f64)
            .collect();
        let redis_cpu = redis_pid.and_then(machine::cpu_time_ms).unwrap_or(0);
        let (sent, run) = redis_server
            .map(redis_commands)
            .transpose()?
            .unwrap_or((0, 0));
        readings.extend([redis_cpu as f64, sent as f64, run as f64]);
        Ok(readings)
    };
    let plan = FanOut {
        door: workload.door,
        nodes: nodes.iter().map(|n| n.front).collect(),
        subscribers: workload.subscribers,
        messages: workload.messages,
        rate_per_s: workload.rate_per_s,
        payload_bytes: workload.payload_bytes,
        poll_interval: Duration::from_millis(1000),
        topic: format!("scale-{}-{}", setup.nodes, u8::from(setup.redis)),
    };
    let outcome = swarm::fan_out(&plan, &gauges)?;
    let latencies = outcome.latencies_us();
    let ms = |q: f64| {
        let rank = ((latencies.len().max(1) - 1) as f64 * q).round() as usize;
        latencies.get(rank).map_or(0.0, |us| *us as f64 / 1000.0)
    };
    let reading = |i: usize| outcome.gauges.get(i).copied().unwrap_or(0.0);
    let messages = workload.messages.max(1) as f64;
    Ok(ScaleRow {
        setup,
        subscribers: workload.subscribers,
        delivered: outcome.delivered(),
        expected: workload.subscribers as u64 * workload.messages,
        duplicated: outcome.duplicated(),
        latency_ms: [ms(0.5), ms(0.99), ms(1.0)],
        redis_per_message: setup.redis.then(|| {
            (
                reading(setup.nodes + 1) / messages,
                reading(setup.nodes + 2) / messages,
            )
        }),
        node_cpu_ms: (0..setup.nodes).map(|i| reading(i) as u64).collect(),
        redis_cpu_ms: setup.redis.then(|| reading(setup.nodes) as u64),
        generator_cpu_ms: outcome.generator_cpu_ms,
        setup_s: outcome.setup.as_secs_f64(),
        errors: outcome.errors(),
    })
}

/// Publishes to a warm-up topic until the node answers 200: a node with `--redis` answers 503 until
/// its connections to Redis are up, and nothing measured should wait for that.
fn wait_until_publish_stored(addr: SocketAddr) -> io::Result<()> {
    let deadline = Instant::now() + REDIS_LINK_TIMEOUT;
    loop {
        match crate::client::publish(addr, "warmup", "x") {
            Ok(_) => return Ok(()),
            Err(error) if Instant::now() > deadline => {
                return Err(io::Error::other(format!(
                    "node {addr} cannot store a publish after {} s: {error}",
                    REDIS_LINK_TIMEOUT.as_secs()
                )))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// What Redis has done so far: the commands the nodes sent, and every command run (the publish
/// script's `INCR` and `XADD` too).
fn redis_commands(redis: SocketAddr) -> io::Result<(u64, u64)> {
    let calls = command_calls(redis, REDIS_QUERY_TIMEOUT)?;
    let run = calls.iter().map(|(_, n)| n).sum();
    let sent = calls
        .iter()
        .filter(|(name, _)| COMMANDS_SENT_BY_NODES.contains(&name.as_str()))
        .map(|(_, n)| n)
        .sum();
    Ok((sent, run))
}

/// The rows as a Markdown table, with the workload above it and what the columns mean below.
pub fn markdown(workload: &ScaleWorkload, rows: &[ScaleRow]) -> String {
    let mut out = format!(
        "\n### scale-out: {} {} subscribers spread over the nodes, {} messages of {} B at {}/s, \
         published on the first node\n\n",
        workload.subscribers,
        workload.door.name(),
        workload.messages,
        workload.payload_bytes,
        workload.rate_per_s
    );
    out.push_str(
        "| setup | delivered | lost | dup | p50 ms | p99 ms | max ms | Redis round trips / msg \
         (commands run) | server CPU ms per node | Redis CPU ms | generator CPU ms | setup s |\n",
    );
    out.push_str("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for row in rows {
        let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let round_trips = row
            .redis_per_message
            .map_or("-".to_string(), |(sent, run)| {
                format!("{sent:.1} ({run:.1})")
            });
        let node_cpu: Vec<String> = row.node_cpu_ms.iter().map(u64::to_string).collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {round_trips} | {} | {} | {} | {:.1} |\n",
            row.setup.name,
            row.delivered,
            row.expected.saturating_sub(row.delivered),
            row.duplicated,
            super::svg::number(row.latency_ms[0]),
            super::svg::number(row.latency_ms[1]),
            super::svg::number(row.latency_ms[2]),
            node_cpu.join(" / "),
            opt(row.redis_cpu_ms),
            opt(row.generator_cpu_ms),
            row.setup_s
        ));
        if let (count, Some(first)) = &row.errors {
            out.push_str(&format!(
                "\n{}: {count} errors, the first: {first}\n",
                row.setup.name
            ));
        }
    }
    out.push_str(
        "\nCPU is user + system time from the first publish to the end of delivery: each node's \
         process, the redis-server process, and the lab itself (the swarm and the publisher). Round \
         trips are the commands the nodes sent to Redis (INFO commandstats) over the same time, per \
         message.\n",
    );
    out
}

/// The rows as JSON.
pub fn json(workload: &ScaleWorkload, rows: &[ScaleRow]) -> String {
    let rows: Vec<String> = rows
        .iter()
        .map(|row| {
            let opt = |v: Option<u64>| v.map_or("null".to_string(), |v| v.to_string());
            let (sent, run) = row.redis_per_message.map_or(
                ("null".to_string(), "null".to_string()),
                |(s, r)| (format!("{s:.3}"), format!("{r:.3}")),
            );
            let node_cpu: Vec<String> = row.node_cpu_ms.iter().map(u64::to_string).collect();
            format!(
                "{{\"setup\":\"{}\",\"nodes\":{},\"redis\":{},\"subscribers\":{},\"delivered\":{},\
                 \"expected\":{},\"duplicated\":{},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3},\
                 \"redis_round_trips_per_message\":{sent},\"redis_commands_per_message\":{run},\
                 \"node_cpu_ms\":[{}],\"redis_cpu_ms\":{},\"generator_cpu_ms\":{},\"errors\":{}}}",
                row.setup.name,
                row.setup.nodes,
                row.setup.redis,
                row.subscribers,
                row.delivered,
                row.expected,
                row.duplicated,
                row.latency_ms[0],
                row.latency_ms[1],
                row.latency_ms[2],
                node_cpu.join(","),
                opt(row.redis_cpu_ms),
                opt(row.generator_cpu_ms),
                row.errors.0
            )
        })
        .collect();
    format!(
        "{{\"door\":\"{}\",\"subscribers\":{},\"messages\":{},\"rate_per_s\":{},\"payload_bytes\":{},\
         \"setups\":[\n{}\n]}}",
        workload.door.name(),
        workload.subscribers,
        workload.messages,
        workload.rate_per_s,
        workload.payload_bytes,
        rows.join(",\n")
    )
}
