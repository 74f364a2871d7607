//! `pushlab lab`: the seven doors measured side by side, with one command.
//!
//! The course compares techniques; this module makes the comparison a measurement. It runs the same
//! workload through every door with the crate's own clients ([`crate::client`]) and reports, per door:
//!
//! | column | how it is measured |
//! |---|---|
//! | latency p50 / p99 / max | publish stamp in the payload to its receipt ([`swarm`], [`load`]) |
//! | requests per 1,000 messages | HTTP requests the clients sent (a WebSocket handshake is one) |
//! | connections held | the most client connections open at once ([`swarm`], or [`relay`]) |
//! | bytes per message, in / out | bytes at the clients' sockets ([`swarm`]) or at the relay's ([`relay`]), split into payload and overhead |
//! | server CPU per 1,000 deliveries | `utime + stime` of the server process ([`machine`]), and the lab's own beside it |
//! | server memory per client | resident memory after the clients connected minus before ([`machine`]) |
//! | lost, duplicated, out of order | the sequence numbers in the payloads; must all be zero |
//!
//! # Theory of operation
//!
//! A run is a list of *phases*. A phase starts its subscribers, waits until they are connected, reads
//! the server's memory, then publishes the messages at the scenario's rate straight to the target (the
//! publisher stands next to the server; only subscriber traffic crosses a relay and its delay) and waits until every subscriber has every message or the
//! phase's deadline passes. The server's CPU time is read around the publishing. Most scenarios run
//! one phase per door, one door after another, so CPU and memory belong to that door alone; the mixed
//! scenario runs every door in one phase. Unless it targets `--url`, each phase gets a fresh server
//! process, so what one door allocated never hides what the next one costs.
//!
//! # Who reads: one thread for many clients, or a thread per client
//!
//! With many clients the load generator must not be what is measured. In every scenario but `single`
//! the subscribers are one [`swarm`]: one thread, one `mio` poll, every subscriber a non-blocking
//! socket whose raw bytes are scanned for the marker each payload carries
//! ([`load::stamped_payload`]). Bytes and connections are counted at those sockets, per door, with no
//! relay hop between client and server. Where raw bytes are not enough (SockJS's `xhr` and `jsonp`
//! polling transports, a session protocol) and in the single-client scenario, each subscriber is the
//! crate's blocking client for its door on its own thread ([`load`]), behind a [`relay::Relay`] per
//! door that counts its bytes. With `--rtt` every door goes through a relay, which delays it. The
//! lab's own CPU time (the swarm or the client threads, the relays, the publisher) is read over the
//! same span as the server's and printed under each table, so a reader can tell a slow server from a
//! load that could not keep up.
//!
//! The target is the address the load goes to and, separately, the process that is measured
//! ([`target`]): by default the lab starts its own server as a child, but the front may be a relay, a
//! proxy or a peer server in front of the measured process.
//!
//! # Who serves: pushlab, pushlab behind nginx, the peers and the floor
//!
//! Every scenario runs its phases once per [`Server`]: pushlab with the clients connecting straight
//! to it; with `--proxy nginx`, pushlab behind a real nginx in each of its three buffering modes
//! ([`nginx::Buffering`]: nginx's default, which a response may turn off with `X-Accel-Buffering: no`;
//! buffering off; buffering that ignores the header); and with `--peers`, the two reference servers
//! from npm ([`peers`]), each on the doors it offers, read by the same clients (SockJS through
//! [`crate::client::sockjs`]). Every phase has its own fresh process, so each row's CPU and memory are
//! that server's on that door alone. Phases run door by door, each server in turn on the door, so that
//! the rows a ratio compares are measured seconds apart, not minutes. With `--repeat N` each door is
//! measured N times in a row, every server in turn each time: one run is one sample of a machine whose
//! speed drifts, and the report adds tables of each run's figures and their median (the mix,
//! scale-out, the slow reader behind nginx and the browser run once). With `--floor` (which `--peers`
//! implies) the [`floor`] adds rows for long poll, JSONP, XHR stream, SSE and WebSocket: a server that
//! does one `write` per delivery and nothing else, so its CPU is what the kernel charges any server for
//! a delivery on this machine.
//! Behind nginx the clients (and the relay that counts their bytes) talk to nginx while the publisher
//! posts to pushlab directly; nginx's own CPU is reported beside the server's. The Markdown then adds
//! tables that pivot the rows: every server side by side per door (p99 and CPU), every server's CPU
//! above the floor's, and what each nginx mode costs each door against the direct run.
//!
//! `--scenario scale-out` is a table of its own ([`scale`]): one fan-out over one node, one node with
//! Redis and two nodes sharing Redis, with Redis round trips per message and CPU per node.
//!
//! After the scenarios, `--proxy nginx` also runs [`backlog`] (a reader that falls behind, on each
//! stream behind each nginx mode: where buffering holds the newest message back) and `--browser` runs
//! [`browser`] (headless Chromium through `pushlab.js`).

pub mod backlog;
pub mod browser;
pub mod floor;
pub mod load;
pub mod machine;
pub mod nginx;
pub mod peers;
pub mod relay;
pub mod report;
pub mod scale;
pub mod svg;
pub mod swarm;
pub mod target;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use load::{Dialect, Door, SubscriberPlan, Tally};
use machine::Machine;
use nginx::{Buffering, Nginx};
use peers::{Peer, PeerKind};
use relay::{Relay, RelayCounters};
use report::{DoorResult, RunReport};
use target::Target;

/// The lab's `--help`.
pub const USAGE: &str = "\
usage: pushlab lab [options]
  Runs the same workload through all seven doors and reports, per door: latency p50/p99/max,
  HTTP requests per 1,000 messages, connections held, bytes per message on the wire (overhead and
  payload), server CPU per 1,000 deliveries, server memory per client, and lost/duplicated/out-of-order
  messages (any of those on pushlab, straight or behind nginx, makes the lab exit with status 1; a
  peer's are reported as its result).

  --scenario NAME     which workload (repeatable; default: fanout):
                        single   one client per door, 1 message/s, 5 messages
                        fanout   100 clients per door, 100 messages/s, 200 messages
                        idle     1,000 idle clients per door, then one broadcast
                        broadcast  1,000 clients per door, 200 messages at 50/s (the workload
                                 of chapter 14's comparison with the peers)
                        mix      --clients N clients spread over the doors, 100 messages at 50/s
                        scale-out  one fan-out over 1 node in memory, 1 node with Redis and 2
                                 nodes sharing Redis (needs redis-server; the lab starts its own
                                 on a free loopback port, persistence off): p99, Redis round
                                 trips per message, CPU per node; 10,000 SSE subscribers (or
                                 --clients, and the first --door), 10 messages at 2/s
                        all      single, fanout, idle and broadcast (and mix when --clients is
                                 given)
  --clients N         clients for the mix scenario (1..=10000; default 700); implies --scenario mix
                      unless another scenario is named; also the clients per door of idle and
                      broadcast, and the subscribers of scale-out
  --quick             a tiny run (a few seconds): 3 clients per door, 10 messages at 50/s
  --rtt DURATION      put a relay that delays each direction by half of it, e.g. 100ms
  --proxy nginx       also run every scenario behind nginx (/usr/sbin/nginx, started from a
                      generated config on a loopback port) in its three buffering modes: default
                      (X-Accel-Buffering honoured), buffering off, and buffering that ignores the
                      header; then a reader that stops for a while behind each mode, on each stream
  --peers             also run the reference servers from benches/peers/npm (Node http + ws, and
                      sockjs-node) on the doors they offer; needs node and npm (the first run does
                      `npm ci`); not in the mix scenario; implies --floor
  --floor             also run the floor (src/lab/floor.rs): a server that does one write per
                      delivery and nothing else, on long poll, JSONP, XHR stream, SSE and
                      WebSocket, and report every server's CPU above it; not in the mix scenario
  --browser           also drive headless Chromium (/usr/bin/chromium) through pushlab.js for each
                      transport: request head sizes as the browser sends them, connections per host,
                      and whether a second tab's request waits while the first holds six channels
  --door NAME         only this door (repeatable): short-poll, long-poll, jsonp, xhr-stream, iframe,
                      sse, websocket; not in the mix
  --pin               with taskset (util-linux): the lab on the last core, every measured process
                      (server, nginx, peer, the scale-out's nodes and redis-server) on core 0, so
                      the load never takes the server's core
  --url URL           target a running server (http://127.0.0.1:PORT/) instead of starting one
  --server-pid PID    with --url: the process whose CPU and memory are measured
  --seed N            seeds the payload filler and the mix's door order (default: from the clock)
  --payload-bytes N   message payload size (default 64)
  --poll-interval-ms N  pause between two short polls (default 250)
  --repeat N          measure each door N times in a row (1..=9; default 1), every server in turn each
                      time, and add tables over the runs: pushlab's p99 and CPU, its and the floor's
                      ratios to the best peer, and its CPU above the floor, run by run and the median;
                      (the ratios need --peers, the CPU above the floor --floor); the main tables
                      and the charts are the first run's; the mix, scale-out, the slow reader and
                      --browser run once; stderr says which run of which door is going on
  --out DIR           where the JSON, Markdown and SVG files go (default benches/results/lab)
  --help              this text

  The seed and the machine (CPU model, cores, kernel) are printed first; a progress line goes to
  stderr; the Markdown table to stdout.";

/// Who serves a phase's doors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// pushlab, with the clients connecting straight to it.
    Pushlab,
    /// pushlab behind nginx in one buffering mode.
    BehindNginx(Buffering),
    /// A reference server from npm.
    Peer(PeerKind),
    /// The floor ([`floor`]): one write per delivery and nothing else, the kernel's share of a push.
    Floor,
}

impl Server {
    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Server::Pushlab => "pushlab",
            Server::BehindNginx(Buffering::Default) => "pushlab / nginx-default",
            Server::BehindNginx(Buffering::Off) => "pushlab / nginx-buffering-off",
            Server::BehindNginx(Buffering::IgnoreAccelHeader) => "pushlab / nginx-ignore-accel",
            Server::Peer(PeerKind::NodeHttpWs) => "node http + ws",
            Server::Peer(PeerKind::Sockjs) => "sockjs-node",
            Server::Floor => "floor",
        }
    }

    /// A short name for topics and file names.
    pub fn slug(self) -> &'static str {
        match self {
            Server::Pushlab => "direct",
            Server::BehindNginx(Buffering::Default) => "nginx-default",
            Server::BehindNginx(Buffering::Off) => "nginx-off",
            Server::BehindNginx(Buffering::IgnoreAccelHeader) => "nginx-ignore-accel",
            Server::Peer(PeerKind::NodeHttpWs) => "node",
            Server::Peer(PeerKind::Sockjs) => "sockjs",
            Server::Floor => "floor",
        }
    }

    /// The doors it offers, in the course's order.
    pub fn doors(self) -> Vec<Door> {
        match self {
            Server::Pushlab | Server::BehindNginx(_) => Door::ALL.to_vec(),
            Server::Peer(kind) => Door::ALL
                .into_iter()
                .filter(|door| peer_door(*door).is_some_and(|d| kind.doors().contains(&d)))
                .collect(),
            Server::Floor => vec![
                Door::LongPoll,
                Door::Jsonp,
                Door::XhrStream,
                Door::Sse,
                Door::WebSocket,
            ],
        }
    }

    /// How its doors are reached.
    pub fn dialect(self) -> Dialect {
        match self {
            Server::Peer(PeerKind::Sockjs) => Dialect::Sockjs,
            _ => Dialect::Pushlab,
        }
    }

    /// What stands for `door` on this server, when it is not the door itself (SockJS's transports).
    pub fn transport_name(self, door: Door) -> Option<&'static str> {
        match self.dialect() {
            Dialect::Sockjs => Dialect::sockjs_transport(door).map(|t| t.name()),
            Dialect::Pushlab => None,
        }
    }
}

/// The peers' name for a door; neither peer has short polling.
fn peer_door(door: Door) -> Option<peers::Door> {
    Some(match door {
        Door::ShortPoll => return None,
        Door::LongPoll => peers::Door::LongPoll,
        Door::Jsonp => peers::Door::Jsonp,
        Door::XhrStream => peers::Door::XhrStream,
        Door::Iframe => peers::Door::Iframe,
        Door::Sse => peers::Door::Sse,
        Door::WebSocket => peers::Door::WebSocket,
    })
}

/// One workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// One client per door at 1 message/s.
    Single,
    /// 100 clients per door at 100 messages/s.
    Fanout,
    /// 1,000 idle clients per door and one broadcast.
    Idle,
    /// 1,000 clients per door, 200 messages at 50/s.
    Broadcast,
    /// `--clients N` spread over the doors, all at once.
    Mix,
    /// One fan-out over one node, one node with Redis, and two nodes with Redis ([`scale`]).
    ScaleOut,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Single => "single",
            Scenario::Fanout => "fanout",
            Scenario::Idle => "idle",
            Scenario::Broadcast => "broadcast",
            Scenario::Mix => "mix",
            Scenario::ScaleOut => "scale-out",
        }
    }
}

/// How many clients, messages and how fast.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// Clients per door (or in total, for the mix).
    pub clients: usize,
    /// Messages published.
    pub messages: u64,
    /// Messages per second.
    pub rate_per_s: f64,
}

/// The lab's settings, from the command line.
#[derive(Clone, Debug)]
pub struct LabOptions {
    /// The scenarios to run, in order.
    pub scenarios: Vec<Scenario>,
    /// Clients of the mix scenario.
    pub mix_clients: usize,
    /// Whether `--clients` was given: it then also sets the clients per door of `idle` and
    /// `broadcast`, and the subscribers of `scale-out`.
    pub clients_given: bool,
    /// A tiny run.
    pub quick: bool,
    /// The simulated round-trip time (zero: none, but the counting relay is still there).
    pub rtt: Duration,
    /// `--proxy nginx`: also run behind nginx in each buffering mode.
    pub proxy_nginx: bool,
    /// `--peers`: also run the reference servers from npm.
    pub peers: bool,
    /// `--floor` (implied by `--peers`): also run the floor server.
    pub floor: bool,
    /// `--browser`: also measure what headless Chromium sends through `pushlab.js`.
    pub browser: bool,
    /// `--pin`: the lab on the last core, the measured processes on core 0.
    pub pin: bool,
    /// `--door`: the doors to run (all when empty).
    pub doors: Vec<Door>,
    /// A running server to target instead of a child.
    pub url: Option<String>,
    /// The process to measure with `url`.
    pub server_pid: Option<u32>,
    /// The run's seed.
    pub seed: u64,
    /// Payload size in bytes.
    pub payload_bytes: usize,
    /// Pause between two short polls.
    pub poll_interval: Duration,
    /// `--repeat`: how many times each door is measured (each time every server in turn).
    pub repeat: usize,
    /// The output directory.
    pub out: PathBuf,
    /// The command line, for the report.
    pub command: String,
}

/// The most clients the mix scenario takes.
pub const MAX_CLIENTS: usize = 10_000;

/// The most runs `--repeat` makes of each door (each is a whole phase per server: a broadcast with the
/// peers takes about two minutes a run).
pub const MAX_REPEAT: usize = 9;

/// Reads the lab's arguments (after `lab`); `Ok(None)` means `--help`.
pub fn parse_args(args: &[String]) -> Result<Option<LabOptions>, String> {
    let mut options = LabOptions {
        scenarios: Vec::new(),
        mix_clients: 700,
        clients_given: false,
        quick: false,
        rtt: Duration::ZERO,
        proxy_nginx: false,
        peers: false,
        floor: false,
        browser: false,
        pin: false,
        doors: Vec::new(),
        url: None,
        server_pid: None,
        seed: clock_seed(),
        payload_bytes: 64,
        poll_interval: Duration::from_millis(250),
        repeat: 1,
        out: PathBuf::from("benches/results/lab"),
        command: format!("pushlab lab {}", args.join(" ")).trim().to_string(),
    };
    let mut mix_given = false;
    let mut words = args.iter();
    while let Some(arg) = words.next() {
        let mut value = |name: &str| words.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--scenario" => match value("--scenario")?.as_str() {
                "single" => options.scenarios.push(Scenario::Single),
                "fanout" => options.scenarios.push(Scenario::Fanout),
                "idle" => options.scenarios.push(Scenario::Idle),
                "broadcast" => options.scenarios.push(Scenario::Broadcast),
                "mix" => options.scenarios.push(Scenario::Mix),
                "scale-out" => options.scenarios.push(Scenario::ScaleOut),
                "all" => options.scenarios.extend([
                    Scenario::Single,
                    Scenario::Fanout,
                    Scenario::Idle,
                    Scenario::Broadcast,
                ]),
                other => return Err(format!("unknown scenario {other}")),
            },
            "--clients" => {
                options.mix_clients = usize::try_from(number(value("--clients")?)?).unwrap_or(0);
                if !(1..=MAX_CLIENTS).contains(&options.mix_clients) {
                    return Err(format!("--clients must be 1..={MAX_CLIENTS}"));
                }
                mix_given = true;
            }
            "--quick" => options.quick = true,
            "--rtt" => options.rtt = parse_duration(value("--rtt")?)?,
            "--proxy" => match value("--proxy")?.as_str() {
                "nginx" => options.proxy_nginx = true,
                other => return Err(format!("--proxy {other}: the lab knows only nginx")),
            },
            "--peers" => {
                options.peers = true;
                options.floor = true;
            }
            "--floor" => options.floor = true,
            "--browser" => options.browser = true,
            "--pin" => options.pin = true,
            "--door" => {
                let name = value("--door")?;
                let door = Door::ALL
                    .into_iter()
                    .find(|d| d.name().to_ascii_lowercase().replace(' ', "-") == *name)
                    .ok_or(format!("unknown door {name}"))?;
                options.doors.push(door);
            }
            "--url" => options.url = Some(value("--url")?.clone()),
            "--server-pid" => options.server_pid = Some(number(value("--server-pid")?)? as u32),
            "--seed" => options.seed = number(value("--seed")?)?,
            "--payload-bytes" => {
                options.payload_bytes = (number(value("--payload-bytes")?)? as usize).max(32)
            }
            "--poll-interval-ms" => {
                options.poll_interval = Duration::from_millis(number(value("--poll-interval-ms")?)?)
            }
            "--repeat" => {
                options.repeat = usize::try_from(number(value("--repeat")?)?).unwrap_or(0);
                if !(1..=MAX_REPEAT).contains(&options.repeat) {
                    return Err(format!("--repeat must be 1..={MAX_REPEAT}"));
                }
            }
            "--out" => options.out = PathBuf::from(value("--out")?),
            "--help" | "-h" => return Ok(None),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let named_all = args.iter().any(|a| a == "all");
    if mix_given && (options.scenarios.is_empty() || named_all) {
        options.scenarios.push(Scenario::Mix);
    }
    if options.scenarios.is_empty() {
        options.scenarios.push(Scenario::Fanout);
    }
    options.scenarios.dedup();
    options.clients_given = mix_given;
    Ok(Some(options))
}

/// The entry point of `pushlab lab`: returns the process exit status.
pub fn main(args: &[String]) -> u8 {
    if args.first().map(String::as_str) == Some("floor-server") {
        return floor::main();
    }
    let options = match parse_args(args) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return 0;
        }
        Err(message) => {
            eprintln!("pushlab lab: {message}\n{USAGE}");
            return 2;
        }
    };
    match run(&options) {
        Ok(report) if report.all_delivered() => 0,
        Ok(_) => {
            eprintln!("pushlab lab: messages were lost, duplicated or reordered (see the table)");
            1
        }
        Err(error) => {
            eprintln!("pushlab lab: {error}");
            1
        }
    }
}

/// The servers a run measures, in the order of its tables; an error when a tool they need is missing.
pub fn servers(options: &LabOptions) -> Result<Vec<Server>, String> {
    let mut servers = vec![Server::Pushlab];
    if options.proxy_nginx {
        if !Nginx::available() {
            return Err(
                "--proxy nginx: nginx is not installed (apt-get install nginx-light)".into(),
            );
        }
        servers.extend(Buffering::ALL.map(Server::BehindNginx));
    }
    if options.peers {
        if !Peer::available() {
            return Err("--peers: node and npm are not installed".into());
        }
        servers.extend(PeerKind::ALL.map(Server::Peer));
    }
    if options.floor {
        servers.push(Server::Floor);
    }
    Ok(servers)
}

/// The most clients the mix runs behind nginx: each client costs nginx two connections (one to the
/// client, one upstream), under the generated config's `worker_connections 16384`.
const MAX_MIX_CLIENTS_BEHIND_NGINX: usize = 5000;

/// Runs every scenario, prints the table and writes the files.
pub fn run(options: &LabOptions) -> Result<RunReport, String> {
    let servers = servers(options)?;
    if options.browser && !browser::available() {
        return Err("--browser: chromium is not installed (apt-get install chromium)".into());
    }
    let machine = Machine::read();
    if options.pin {
        machine::pin(std::process::id(), machine.cores.saturating_sub(1))
            .map_err(|e| format!("--pin: {e}"))?;
    }
    println!(
        "seed {}; machine: {}, {} cores, Linux {}",
        options.seed, machine.cpu_model, machine.cores, machine.kernel
    );
    let epoch = Instant::now();
    let mut report = RunReport::new(options, machine);
    for scenario in &options.scenarios {
        let workload = workload_for(*scenario, options);
        if *scenario == Scenario::ScaleOut {
            report.scale_out = Some(run_scale_out(options, workload)?);
            continue;
        }
        if *scenario == Scenario::Mix {
            let mut results = Vec::new();
            for &server in &servers {
                if let Some(why) = skip_in_mix(server, workload.clients) {
                    report.note(format!("mix: {} skipped: {why}", server.name()));
                    continue;
                }
                let doors = mixed_doors(workload.clients, options.seed);
                let target = phase_target(options, server)?;
                results.extend(run_phase(
                    &target, server, &doors, workload, options, epoch, "mix",
                )?);
            }
            report.add(scenario.name(), workload, results);
            continue;
        }
        // Door by door, every server in turn: the machine's speed drifts over minutes, so the rows
        // that a ratio compares (pushlab, the floor and the peers on one door) are measured seconds
        // apart rather than minutes. With `--repeat`, each door's runs follow one another too.
        let chosen = |door: &Door| options.doors.is_empty() || options.doors.contains(door);
        let mut runs: Vec<Vec<DoorResult>> = vec![Vec::new(); options.repeat];
        for door in Door::ALL.into_iter().filter(chosen) {
            for (index, run) in runs.iter_mut().enumerate() {
                if options.repeat > 1 {
                    // A line of its own, kept above the progress line: which run is going on.
                    eprintln!(
                        "\r\x1b[K[lab] {} / {}: run {} of {}",
                        scenario.name(),
                        door.name(),
                        index + 1,
                        options.repeat
                    );
                }
                for &server in servers.iter().filter(|s| s.doors().contains(&door)) {
                    let doors = vec![door; workload.clients];
                    let target = phase_target(options, server)?;
                    let phase = run_phase(
                        &target,
                        server,
                        &doors,
                        workload,
                        options,
                        epoch,
                        scenario.name(),
                    );
                    run.extend(phase?);
                }
            }
        }
        report.add_runs(scenario.name(), workload, runs);
    }
    if options.proxy_nginx {
        let progress = |what: &str| progress("slow reader", what, "backlog, then the tail");
        report.backlog = Some(backlog::run(&progress));
    }
    if options.browser {
        let progress =
            |transport: &str| progress("browser", transport, "Chromium through pushlab.js");
        report.browser = Some(browser::run(&progress)?);
    }
    eprintln!();
    print!("{}", report.markdown());
    report
        .write_files(&options.out)
        .map_err(|e| format!("cannot write to {}: {e}", options.out.display()))?;
    Ok(report)
}

/// The scale-out scenario ([`scale`]): needs `redis-server`; pinned like the other phases with
/// `--pin` (nodes and Redis on core 0). Its door is the first `--door`, or SSE.
fn run_scale_out(
    options: &LabOptions,
    workload: Workload,
) -> Result<(scale::ScaleWorkload, Vec<scale::ScaleRow>), String> {
    if !scale::available() {
        return Err(
            "--scenario scale-out: redis-server is not installed (apt-get install \
                    redis-server)"
                .into(),
        );
    }
    let binary = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let scale_workload = scale::ScaleWorkload {
        door: options.doors.first().copied().unwrap_or(Door::Sse),
        subscribers: workload.clients,
        messages: workload.messages,
        rate_per_s: workload.rate_per_s,
        payload_bytes: options.payload_bytes,
    };
    let progress = |setup: &str| {
        progress(
            "scale-out",
            setup,
            &format!("{} subscribers", workload.clients),
        )
    };
    let server_core = options.pin.then_some(0);
    let rows = scale::run(&binary, server_core, scale_workload, &progress)
        .map_err(|e| format!("scale-out: {e}"))?;
    Ok((scale_workload, rows))
}

/// Why `server` sits out the mix, if it does: the mix is pushlab's seven doors at once, which no
/// peer has, and nginx's connection limit caps it.
fn skip_in_mix(server: Server, clients: usize) -> Option<String> {
    match server {
        Server::Pushlab => None,
        Server::Peer(_) => Some("the mix uses all seven doors, which a peer does not offer".into()),
        Server::Floor => Some("the mix uses all seven doors; the floor serves five".into()),
        Server::BehindNginx(_) if clients > MAX_MIX_CLIENTS_BEHIND_NGINX => Some(format!(
            "more than {MAX_MIX_CLIENTS_BEHIND_NGINX} clients need more connections than the \
             generated nginx config allows"
        )),
        Server::BehindNginx(_) => None,
    }
}

/// The target of one phase: `--url` if given, or else a fresh server of its own, so that one door's
/// memory and CPU are never mixed with what an earlier phase left in the allocator; behind a fresh
/// nginx, or a fresh peer.
fn phase_target(options: &LabOptions, server: Server) -> Result<Target, String> {
    let target = start_target(options, server)?;
    if options.pin {
        for pid in target.server_pid.iter().chain(&target.proxy_pid) {
            machine::pin(*pid, 0).map_err(|e| format!("--pin: {e}"))?;
        }
    }
    Ok(target)
}

/// Starts (or names) the target of one phase.
fn start_target(options: &LabOptions, server: Server) -> Result<Target, String> {
    let pushlab = || match &options.url {
        Some(url) => Ok(Target::existing(
            target::parse_url(url)?,
            options.server_pid,
        )),
        None => Target::spawn_own_server().map_err(|e| format!("cannot start the server: {e}")),
    };
    match server {
        Server::Pushlab => pushlab(),
        Server::BehindNginx(buffering) => pushlab()?
            .behind_nginx(buffering)
            .map_err(|e| format!("cannot start nginx: {e}")),
        Server::Peer(kind) => {
            Target::peer(kind).map_err(|e| format!("cannot start the {} peer: {e}", kind.name()))
        }
        Server::Floor => Target::spawn_floor().map_err(|e| format!("cannot start the floor: {e}")),
    }
}

/// The workload of a scenario, shrunk by `--quick`.
fn workload_for(scenario: Scenario, options: &LabOptions) -> Workload {
    let clients_or = |default: usize| {
        if options.clients_given {
            options.mix_clients
        } else {
            default
        }
    };
    let (clients, messages, rate_per_s) = match (scenario, options.quick) {
        (Scenario::Mix, true) => (options.mix_clients.min(21), 10, 50.0),
        (Scenario::Mix, false) => (options.mix_clients, 100, 50.0),
        (Scenario::Single, true) => (1, 3, 10.0),
        (Scenario::Single, false) => (1, 5, 1.0),
        (Scenario::Idle, true) => (20, 1, 1.0),
        (Scenario::Idle, false) => (clients_or(1000), 1, 1.0),
        (Scenario::Broadcast, true) => (20, 10, 50.0),
        (Scenario::Broadcast, false) => (clients_or(1000), 200, 50.0),
        (Scenario::ScaleOut, true) => (clients_or(60).min(300), 5, 10.0),
        (Scenario::ScaleOut, false) => (clients_or(10_000), 10, 2.0),
        (Scenario::Fanout, true) => (3, 10, 50.0),
        (Scenario::Fanout, false) => (100, 200, 100.0),
    };
    Workload {
        clients,
        messages,
        rate_per_s,
    }
}

/// `clients` doors for the mix: each door once in turn, the order of each round shuffled by the seed.
fn mixed_doors(clients: usize, seed: u64) -> Vec<Door> {
    let mut random = SplitMix(seed);
    let mut doors = Vec::with_capacity(clients);
    while doors.len() < clients {
        let mut round = Door::ALL;
        for i in (1..round.len()).rev() {
            round.swap(i, (random.next() % (i as u64 + 1)) as usize);
        }
        doors.extend(round.iter().take(clients - doors.len()));
    }
    doors
}

/// One phase: the subscribers of `doors` (one entry each), then the publisher.
///
/// Who reads: in every scenario but `single`, the [`swarm`] (one thread for all subscribers it can
/// read, bytes and connections counted at its sockets); in `single`, and for the doors the swarm
/// does not read (SockJS's polling transports), one [`load`] client per thread behind a counting
/// [`Relay`]. With `--rtt` every door gets a relay, which delays each direction.
fn run_phase(
    target: &Target,
    server: Server,
    doors: &[Door],
    workload: Workload,
    options: &LabOptions,
    epoch: Instant,
    scenario: &str,
) -> Result<Vec<DoorResult>, String> {
    let present: Vec<Door> = Door::ALL
        .into_iter()
        .filter(|d| doors.contains(d))
        .collect();
    let swarmed = |door: Door| scenario != "single" && swarm::reads(server.dialect(), door);
    let relayed = |door: Door| !options.rtt.is_zero() || !swarmed(door);
    let relayed_clients = doors.iter().filter(|d| relayed(**d)).count();
    let relays: Vec<(Door, Relay)> = if relays_fit(relayed_clients) {
        present
            .iter()
            .filter(|door| relayed(**door))
            .map(|door| Ok((*door, Relay::start(target.front, options.rtt)?)))
            .collect::<std::io::Result<_>>()
            .map_err(|e| format!("cannot start a relay: {e}"))?
    } else {
        eprintln!(
            "\n[lab] {relayed_clients} clients and their relayed connections need more file \
             descriptors than this process may open: the clients connect straight to the server"
        );
        Vec::new()
    };
    let relay_of = |door: Door| relays.iter().find(|(d, _)| *d == door).map(|(_, r)| r);
    // Where a swarmed door's bytes and connections are counted: at the swarm's own sockets.
    let socket_counters: Vec<(Door, Arc<RelayCounters>)> = present
        .iter()
        .filter(|door| swarmed(**door))
        .map(|door| (*door, Arc::new(RelayCounters::default())))
        .collect();
    let counters_of = |door: Door| -> Option<&RelayCounters> {
        match socket_counters.iter().find(|(d, _)| *d == door) {
            Some((_, counters)) => Some(counters),
            None => relay_of(door).map(Relay::counters),
        }
    };
    let doors_label = if present.len() == 1 {
        present[0].name()
    } else {
        "every door"
    };
    let topic = format!(
        "lab-{}-{}-{}-{}",
        options.seed,
        scenario,
        topic_suffix(doors_label),
        server.slug()
    );
    let label = &format!("{doors_label} on {}", server.name());
    let publish_time = Duration::from_secs_f64(workload.messages as f64 / workload.rate_per_s);
    // Generous bounds: a run that goes well ends as soon as every subscriber has every message; these
    // only decide how long a broken or overloaded run may take before it reports what it has.
    let per_client = Duration::from_millis(5) * doors.len() as u32;
    let connect_time = Duration::from_secs(5) + per_client;
    let drain_time = Duration::from_secs(5)
        + publish_time * 2
        + per_client / 5
        + options.rtt * 4
        + options.poll_interval * 2;
    let deadline = Instant::now() + connect_time + publish_time + drain_time;
    let ids: swarm::Ids = Arc::new(std::sync::Mutex::new(vec![0]));

    let rss_before = target.server_pid.and_then(machine::rss_kib);
    let ready = Arc::new(AtomicUsize::new(0));
    let addr_of = |door: Door| relay_of(door).map(Relay::addr).unwrap_or(target.front);
    let mut members = Vec::new();
    let mut swarm_doors = Vec::new();
    let mut threads = Vec::new();
    for (index, door) in doors.iter().enumerate() {
        if let Some((_, counters)) = socket_counters.iter().find(|(d, _)| d == door) {
            members.push(swarm::Member {
                door: *door,
                addr: addr_of(*door),
                counters: Arc::clone(counters),
            });
            swarm_doors.push(*door);
            continue;
        }
        let plan = SubscriberPlan {
            door: *door,
            dialect: server.dialect(),
            index,
            addr: addr_of(*door),
            topic: topic.clone(),
            expected: workload.messages,
            deadline,
            epoch,
            poll_interval: options.poll_interval,
        };
        let ready = Arc::clone(&ready);
        let thread = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || (vec![(plan.door, load::run_subscriber(&plan, &ready))], None))
            .map_err(|e| format!("cannot start a client thread: {e}"))?;
        threads.push(thread);
    }
    if !members.is_empty() {
        let plan = swarm::SwarmPlan {
            members,
            dialect: server.dialect(),
            topic: topic.clone(),
            expected: workload.messages,
            deadline,
            epoch,
            poll_interval: options.poll_interval,
            ids: Arc::clone(&ids),
        };
        let ready = Arc::clone(&ready);
        let thread = std::thread::Builder::new()
            .name("swarm".into())
            .spawn(move || {
                let finished = swarm::run(&plan, &ready).unwrap_or_else(|error| {
                    // The poll itself failed: every subscriber of the swarm reports it.
                    let mut failed = Tally::new(plan.expected);
                    failed.fail(format!("the swarm's poll: {error}"));
                    swarm::Finished {
                        tallies: vec![failed; plan.members.len()],
                        connections: swarm::Connections::none(),
                    }
                });
                let tallies = swarm_doors
                    .into_iter()
                    .zip(finished.tallies)
                    .collect::<Vec<_>>();
                (tallies, Some(finished.connections))
            })
            .map_err(|e| format!("cannot start the swarm: {e}"))?;
        threads.push(thread);
    }
    let connected_by = Instant::now() + connect_time;
    wait_until_ready(&ready, doors.len(), connected_by, scenario, label);
    for (door, relay) in &relays {
        if swarmed(*door) {
            continue; // the swarm counts a held door ready once its response head arrived
        }
        let clients = doors.iter().filter(|d| *d == door).count();
        wait_until_held(*door, relay, clients, connected_by, scenario, label);
    }
    // Let the last requests cross the relay's delay and park before memory is read.
    std::thread::sleep(Duration::from_millis(200) + options.rtt * 2);
    let rss_after = target.server_pid.and_then(machine::rss_kib);
    let cpu_before = target.server_pid.and_then(machine::cpu_time_ms);
    let own_cpu_before = machine::cpu_time_ms(std::process::id());
    let proxy_cpu_before = target.proxy_pid.and_then(machine::cpu_time_ms);
    publish_all(
        target, &topic, &ids, workload, options, epoch, scenario, label,
    )?;
    let mut tallies: Vec<(Door, Tally)> = Vec::with_capacity(doors.len());
    let mut still_open = Vec::new();
    for (thread_tallies, connections) in threads.into_iter().filter_map(|t| t.join().ok()) {
        tallies.extend(thread_tallies);
        still_open.extend(connections);
    }
    let cpu_after = target.server_pid.and_then(machine::cpu_time_ms);
    let own_cpu_after = machine::cpu_time_ms(std::process::id());
    let proxy_cpu_after = target.proxy_pid.and_then(machine::cpu_time_ms);
    // Only now, with the CPU read, do the swarm's connections close.
    drop(still_open);
    let measured = report::ServerMeasure {
        cpu_ms: cpu_before.zip(cpu_after).map(|(b, a)| a.saturating_sub(b)),
        generator_cpu_ms: own_cpu_before
            .zip(own_cpu_after)
            .map(|(b, a)| a.saturating_sub(b)),
        proxy_cpu_ms: proxy_cpu_before
            .zip(proxy_cpu_after)
            .map(|(b, a)| a.saturating_sub(b)),
        rss_delta_kib: rss_before.zip(rss_after).map(|(b, a)| a as i64 - b as i64),
        clients: doors.len(),
        deliveries: tallies.iter().map(|(_, tally)| tally.received).sum(),
    };
    Ok(present
        .iter()
        .map(|door| {
            let door_tallies: Vec<&Tally> = tallies
                .iter()
                .filter(|(d, _)| d == door)
                .map(|(_, t)| t)
                .collect();
            DoorResult::new(
                *door,
                server,
                &door_tallies,
                counters_of(*door),
                workload,
                options.payload_bytes,
                &measured,
            )
        })
        .collect())
}

fn topic_suffix(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Waits (bounded by `until`) until `expected` subscribers said they are connected.
fn wait_until_ready(
    ready: &AtomicUsize,
    expected: usize,
    until: Instant,
    scenario: &str,
    label: &str,
) {
    while ready.load(Ordering::SeqCst) < expected && Instant::now() < until {
        progress(
            scenario,
            label,
            &format!(
                "{} of {expected} clients connected",
                ready.load(Ordering::SeqCst)
            ),
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every door but short polling holds one connection per client while it waits: wait (bounded by
/// `until`) until the relay has them all open, so that no message is published before its subscribers
/// are listening (they would still get it from the log, but late, and the latency would be the lab's).
fn wait_until_held(
    door: Door,
    relay: &Relay,
    clients: usize,
    until: Instant,
    scenario: &str,
    label: &str,
) {
    if door == Door::ShortPoll {
        return;
    }
    let open = || relay.counters().connections_open.load(Ordering::Relaxed) as usize;
    while open() < clients && Instant::now() < until {
        progress(
            scenario,
            label,
            &format!("{} of {clients} connections held", open()),
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// True when `clients` connections through a relay (three descriptors each: the client's socket and
/// the relay's two) fit under this process's limit on open files, with room to spare.
fn relays_fit(clients: usize) -> bool {
    let needed = 3 * clients as u64 + 256;
    machine::max_open_files().is_none_or(|limit| needed <= limit)
}

/// Publishes the workload's messages at its rate, each stamped with its sequence number and time,
/// and appends each message's id to `ids` (a reconnecting swarm subscriber resumes after it).
#[allow(clippy::too_many_arguments)]
fn publish_all(
    target: &Target,
    topic: &str,
    ids: &swarm::Ids,
    workload: Workload,
    options: &LabOptions,
    epoch: Instant,
    scenario: &str,
    label: &str,
) -> Result<(), String> {
    let filler = (b'a' + (options.seed % 26) as u8) as char;
    let start = Instant::now();
    for seq in 1..=workload.messages {
        let due = start + Duration::from_secs_f64((seq - 1) as f64 / workload.rate_per_s);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let stamp = epoch.elapsed().as_micros() as u64;
        let data = load::stamped_payload(seq, stamp, options.payload_bytes, filler);
        let id = crate::client::publish(target.publish_to, topic, &data)
            .map_err(|e| format!("publish {seq} to {topic}: {e}"))?;
        if let Ok(mut ids) = ids.lock() {
            ids.push(id);
        }
        progress(
            scenario,
            label,
            &format!("published {seq} of {}", workload.messages),
        );
    }
    Ok(())
}

/// Rewrites the progress line on stderr.
fn progress(scenario: &str, label: &str, what: &str) {
    eprint!("\r\x1b[K[lab] {scenario} / {label}: {what}");
}

/// `100ms`, `0.1s` or `2s` as a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else {
        return Err(format!("{text:?}: give a duration such as 100ms or 0.5s"));
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration"))?;
    if !(0.0..=60.0).contains(&(value * scale)) {
        return Err(format!("{text:?}: between 0 and 60 seconds"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

fn number(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a whole number"))
}

/// A seed from the clock, when none is given.
fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64 % 1_000_000_007)
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, good enough generator for a seeded shuffle.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("0.5s"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("100").is_err());
        assert!(parse_duration("1000s").is_err());
    }

    #[test]
    fn repeat_takes_one_to_nine_runs() {
        let options = |text: &str| parse_args(&args(text)).map(|o| o.map(|o| o.repeat));
        assert_eq!(options(""), Ok(Some(1)));
        assert_eq!(options("--repeat 3"), Ok(Some(3)));
        assert!(options("--repeat 0").is_err());
        assert!(options("--repeat 10").is_err());
    }

    #[test]
    fn scenarios_from_flags() {
        let options = parse_args(&args("--seed 7")).unwrap().unwrap();
        assert_eq!(options.scenarios, vec![Scenario::Fanout]);
        let options = parse_args(&args("--clients 10000")).unwrap().unwrap();
        assert_eq!(
            (options.scenarios.clone(), options.mix_clients),
            (vec![Scenario::Mix], 10000)
        );
        assert!(parse_args(&args("--clients 10001")).is_err());
        assert!(parse_args(&args("--help")).unwrap().is_none());
    }

    #[test]
    fn clients_size_idle_broadcast_and_scale_out_but_not_fanout() {
        let options = parse_args(&args(
            "--scenario scale-out --scenario fanout --clients 500",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            options.scenarios,
            vec![Scenario::ScaleOut, Scenario::Fanout]
        );
        for scenario in [Scenario::ScaleOut, Scenario::Idle, Scenario::Broadcast] {
            assert_eq!(
                workload_for(scenario, &options).clients,
                500,
                "{scenario:?}"
            );
        }
        assert_eq!(workload_for(Scenario::Fanout, &options).clients, 100);
        let defaults = parse_args(&args("--scenario scale-out")).unwrap().unwrap();
        assert_eq!(workload_for(Scenario::ScaleOut, &defaults).clients, 10_000);
    }

    #[test]
    fn the_mix_takes_every_door_in_turn() {
        let doors = mixed_doors(15, 42);
        for door in Door::ALL {
            assert!(doors.iter().filter(|d| **d == door).count() >= 2);
        }
        assert_eq!(doors, mixed_doors(15, 42));
    }
}
