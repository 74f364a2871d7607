//! Chapter 17: scaling out. Two pushlab nodes share their topics through Redis Streams.
//!
//! ```text
//! cargo run --release --example 17_scaling_out                    # the scenes, then the measurement
//! cargo run --release --example 17_scaling_out -- --serve         # then keep two nodes up for a browser
//! cargo run --release --example 17_scaling_out -- --clients 400 --messages 200
//! ```
//!
//! It starts its own `redis-server` on a free loopback port (persistence off, stopped by its PID when the
//! example ends), or uses `--redis HOST:PORT`. Then:
//!
//! 1. two nodes on two ports, both started with `config.redis`; a message published on A is read on B;
//! 2. the ids: one sequence per topic across nodes, and what Redis holds (`XRANGE`, the counter);
//! 3. the measurement: SSE subscribers spread over the nodes, a publisher on node A, and for one node
//!    without Redis, one node with Redis and two nodes with Redis: the delivery latency (p50, p99), the
//!    Redis round trips and commands per message (from `INFO commandstats`) and the CPU time of each node's event loop.
//!
//! With `--serve` the two nodes stay up: open `/chat.html` on each port, one tab on each, and talk.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pushlab::client::sse::SseClient;
use pushlab::client::{door_path, poll, publish};
use pushlab::lab::load::{read_stamp, stamped_payload};
use pushlab::redis::process::{command, command_calls, RedisProcess};
use pushlab::redis::resp::Reply;
use pushlab::server::{spawn, RunningServer};
use pushlab::Config;

struct Options {
    redis: Option<SocketAddr>,
    serve: bool,
    clients: usize,
    messages: usize,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        redis: None,
        serve: false,
        clients: 200,
        messages: 100,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--redis" => {
                options.redis = Some(value("--redis")?.parse().map_err(|e| format!("{e}"))?)
            }
            "--serve" => options.serve = true,
            "--clients" => {
                options.clients = value("--clients")?.parse().map_err(|e| format!("{e}"))?
            }
            "--messages" => {
                options.messages = value("--messages")?.parse().map_err(|e| format!("{e}"))?
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

// ANCHOR: nodes
/// A node: an ordinary pushlab server whose hub is a mirror of the topics kept in Redis.
fn node(redis: Option<SocketAddr>) -> io::Result<RunningServer> {
    let config = Config {
        addr: "127.0.0.1:0".parse().expect("a loopback address"),
        redis,
        clock_interval: None,
        // The measurement publishes from one address faster than a browser would.
        publish_rate_per_ip: 0,
        ..Config::default()
    };
    let server = spawn(config)?;
    // The node can store a publish once its two connections to Redis are up.
    let deadline = Instant::now() + Duration::from_secs(5);
    while publish(server.addr, "warmup", "x").is_err() {
        if Instant::now() > deadline {
            return Err(io::Error::other("the node did not reach Redis"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(server)
}
// ANCHOR_END: nodes

/// How long a look into Redis may wait for its connection and for each read.
const REDIS_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> io::Result<()> {
    let options = options().map_err(io::Error::other)?;
    let mut own_redis = None;
    let redis_addr = match options.redis {
        Some(addr) => addr,
        None => {
            let process = RedisProcess::start()?;
            let addr = process.addr();
            println!("redis-server (pid {:?}) on {addr}", process.pid());
            own_redis = Some(process);
            addr
        }
    };

    // ANCHOR: demo
    let a = node(Some(redis_addr))?;
    let b = node(Some(redis_addr))?;
    println!("node A on http://{}/  node B on http://{}/", a.addr, b.addr);
    let first = publish(a.addr, "demo", "published on A")?;
    let second = publish(b.addr, "demo", "published on B")?;
    // B's mirror follows the shared feed; give it the moment the feed takes.
    let deadline = Instant::now() + Duration::from_secs(5);
    let on_b = loop {
        let batch = poll::short_poll(b.addr, "demo", Some(first - 1))?;
        if batch.messages.len() == 2 || Instant::now() > deadline {
            break batch;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    for message in &on_b.messages {
        println!("read on B: id {} {:?}", message.id, message.data);
    }
    // ANCHOR_END: demo
    assert_eq!(second, first + 1, "one sequence per topic across the nodes");

    // ANCHOR: redis
    let entries = redis_command(redis_addr, &["XRANGE", "pushlab:topic:demo", "-", "+"])?;
    println!("XRANGE pushlab:topic:demo - + = {}", show(&entries));
    let counter = redis_command(redis_addr, &["GET", "pushlab:next:demo"])?;
    println!("GET pushlab:next:demo = {}", show(&counter));
    // ANCHOR_END: redis

    println!(
        "\nfan-out: {} SSE clients, {} messages published on the first node, 100 per second",
        options.clients, options.messages
    );
    println!(
        "| setup | p50 ms | p99 ms | lost | Redis round trips (commands run) per message | loop CPU ms per node |"
    );
    println!("|---|---|---|---|---|---|");
    drop((a, b));
    measure("1 node, in memory", 1, None, &options)?;
    measure("1 node, Redis", 1, Some(redis_addr), &options)?;
    measure("2 nodes, Redis", 2, Some(redis_addr), &options)?;

    if options.serve {
        let a = node(Some(redis_addr))?;
        let b = node(Some(redis_addr))?;
        println!(
            "\nnode A: http://{}/chat.html   node B: http://{}/chat.html",
            a.addr, b.addr
        );
        println!("(Ctrl-C stops both nodes and the redis-server this example started)");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    drop(own_redis);
    Ok(())
}

// ANCHOR: measure
/// One run: `clients` SSE subscribers spread over `nodes` nodes, `messages` stamped messages published
/// on the first node; prints one table row.
fn measure(
    setup: &str,
    nodes: usize,
    redis: Option<SocketAddr>,
    options: &Options,
) -> io::Result<()> {
    let servers: Vec<RunningServer> = (0..nodes).map(|_| node(redis)).collect::<Result<_, _>>()?;
    let topic = format!("fanout{nodes}{}", redis.is_some());
    let epoch = Instant::now();
    let connected = Arc::new(AtomicUsize::new(0));
    let subscribers: Vec<_> = (0..options.clients)
        .map(|i| {
            let addr = servers[i % nodes].addr;
            let (topic, connected, expected) =
                (topic.clone(), Arc::clone(&connected), options.messages);
            std::thread::spawn(move || subscribe(addr, &topic, expected, epoch, &connected))
        })
        .collect();
    while connected.load(Ordering::SeqCst) < options.clients {
        std::thread::sleep(Duration::from_millis(10));
    }
    let commands_before = redis.map(redis_calls).transpose()?.unwrap_or((0, 0));
    let cpu_before = loop_cpu_ms()?;
    for seq in 1..=options.messages as u64 {
        let stamp = u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        publish(
            servers[0].addr,
            &topic,
            &stamped_payload(seq, stamp, 64, '.'),
        )?;
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut latencies_us = Vec::new();
    let mut lost = 0;
    for subscriber in subscribers {
        let got = subscriber
            .join()
            .map_err(|_| io::Error::other("a subscriber panicked"))?;
        lost += options.messages - got.len();
        latencies_us.extend(got);
    }
    let cpu_after = loop_cpu_ms()?;
    let commands_after = redis.map(redis_calls).transpose()?.unwrap_or((0, 0));
    let per_message = |n: u64| n as f64 / options.messages as f64;
    let round_trips = per_message(commands_after.0 - commands_before.0);
    let commands_run = per_message(commands_after.1 - commands_before.1);
    latencies_us.sort_unstable();
    let percentile = |p: usize| {
        let index = (latencies_us.len() * p / 100).min(latencies_us.len().saturating_sub(1));
        latencies_us
            .get(index)
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    // The loops of earlier runs have stopped; the newest `nodes` threads are this run's.
    let cpu: Vec<String> = cpu_after
        .iter()
        .rev()
        .take(nodes)
        .map(|(tid, ms)| {
            let before = cpu_before
                .iter()
                .find(|(t, _)| t == tid)
                .map_or(0, |(_, ms)| *ms);
            format!("{}", ms - before)
        })
        .collect();
    println!(
        "| {setup} | {:.2} | {:.2} | {lost} | {} | {} |",
        percentile(50),
        percentile(99),
        if redis.is_some() {
            format!("{round_trips:.2} ({commands_run:.2})")
        } else {
            "-".into()
        },
        cpu.join(" / ")
    );
    Ok(())
}

/// One SSE subscriber: the latency of every message, in microseconds.
fn subscribe(
    addr: SocketAddr,
    topic: &str,
    expected: usize,
    epoch: Instant,
    connected: &AtomicUsize,
) -> Vec<u64> {
    let mut latencies = Vec::new();
    let Ok(mut client) = SseClient::connect(
        addr,
        &door_path("sse", topic, None, &[]),
        None,
        Duration::from_secs(30),
    ) else {
        connected.fetch_add(1, Ordering::SeqCst);
        return latencies;
    };
    connected.fetch_add(1, Ordering::SeqCst);
    while latencies.len() < expected {
        let Ok(Some(event)) = client.next_event() else {
            break;
        };
        if let Some((_, stamp)) = read_stamp(&event.data) {
            let now = u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
            latencies.push(now.saturating_sub(stamp));
        }
    }
    latencies
}
// ANCHOR_END: measure

/// CPU time (user + system, in ms) of every event-loop thread of this process, by thread id, oldest
/// first: Linux's `/proc/self/task/<tid>/stat`, fields 14 and 15, in clock ticks of 10 ms.
fn loop_cpu_ms() -> io::Result<Vec<(u64, u64)>> {
    let mut loops = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task")? {
        let path = entry?.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if name.trim() != "pushlab-loop" {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat"))?;
        // The fields after the command name, which is in parentheses and may contain spaces.
        let after_name = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
        let fields: Vec<u64> = after_name
            .split(' ')
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
        let tid = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        loops.push((tid, ticks * 10));
    }
    loops.sort_unstable();
    Ok(loops)
}

/// What Redis has done so far (`INFO commandstats`): the commands clients sent (each one network
/// round trip: `EVAL`, `XREAD`, `XRANGE`, ...) and every command run, including those the publish
/// script runs inside Redis (`INCR`, `XADD`, ...).
fn redis_calls(redis: SocketAddr) -> io::Result<(u64, u64)> {
    const SENT_BY_NODES: [&str; 5] = ["eval", "xread", "xrange", "xrevrange", "zrevrange"];
    let calls = command_calls(redis, REDIS_TIMEOUT)?;
    let run = calls.iter().map(|(_, n)| n).sum();
    let sent = calls
        .iter()
        .filter(|(name, _)| SENT_BY_NODES.contains(&name.as_str()))
        .map(|(_, n)| n)
        .sum();
    Ok((sent, run))
}

/// One command to Redis, as `redis-cli` would send it.
fn redis_command(redis: SocketAddr, args: &[&str]) -> io::Result<Reply> {
    command(redis, args, REDIS_TIMEOUT)
}

/// A reply in one line, the way `redis-cli` would print it.
fn show(reply: &Reply) -> String {
    match reply {
        Reply::Array(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        Reply::Integer(n) => n.to_string(),
        Reply::Null => "(nil)".into(),
        Reply::Error(e) => format!("(error) {e}"),
        other => format!("{:?}", other.as_str().unwrap_or("?")),
    }
}
