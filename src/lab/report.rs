//! The lab's results, and the three forms they take: a Markdown table, a JSON file, SVG charts.
//!
//! Bytes per message are the relay's counts divided by the deliveries (messages received, summed over
//! the door's clients). The *payload* part is the message's data, the same for every door; the rest
//! of what the client received is *overhead*: status lines and headers, chunk sizes, JSON or
//! `<script>` wrapping, `data:` fields, frame headers, padding, heartbeats. Everything the client sent
//! (requests, WebSocket handshakes and close frames) is overhead too.
//!
//! Each row names its server ([`super::Server`]): pushlab, pushlab behind an nginx mode, or a peer.
//! When a scenario has more than one server, the Markdown adds two pivots of the same rows:
//!
//! - **side by side**: one line per door, one column per server, each cell `p99 ms / CPU ms per 1k`,
//!   the comparison with the peers from one run;
//! - **above the floor** (when the floor ran, [`super::floor`]): one line per door, one column per
//!   server, each cell the server's CPU per 1,000 deliveries minus the floor's on the same door (what
//!   the server's own code costs, beyond the one write per delivery the kernel charges everyone),
//!   and the floor's share of the server's CPU;
//! - **against the best peer** (when the floor and a peer ran): one line per door a peer offers,
//!   pushlab's p99 and CPU, the best peer's (the lowest p99 and the lowest CPU among the peers' complete
//!   rows, each from whichever peer had it), the floor's, and pushlab's and the floor's ratios to the
//!   best peer: whether pushlab is at most half of the best peer, and whether any server could be;
//!   then the requests per 1,000 messages of pushlab and of the peer with the lowest CPU, because a
//!   polling peer that falls behind answers several messages per request and so spends less per
//!   delivery;
//! - **behind nginx**: one line per door, pushlab direct against each nginx mode, with what the proxy
//!   adds to p99 and whether the door still delivers in real time ([`real_time_behind`]);
//! - **over the runs** (with `--repeat N`): pushlab's p99 and CPU, its and the floor's ratios to the best
//!   peer, and its CPU above the floor, each run's value and the median; the tables above and the
//!   charts are the first run's.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::backlog::{self, BacklogRow, Tail};
use super::browser::{self, BrowserReport, BrowserRow, SecondTab};
use super::load::{Door, Tally};
use super::machine::Machine;
use super::nginx::Buffering;
use super::relay::RelayCounters;
use super::svg::{self, Bar, Curve};
use super::{LabOptions, Server, Workload};
use crate::json::json_string;

/// What was read from the server process around a phase.
pub struct ServerMeasure {
    /// CPU time during the publishing and delivery, in milliseconds.
    pub cpu_ms: Option<u64>,
    /// CPU time of the lab itself (clients, relays, publisher) over the same span, in milliseconds.
    pub generator_cpu_ms: Option<u64>,
    /// CPU time of the proxy in front of the server, if any, over the same span, in milliseconds.
    pub proxy_cpu_ms: Option<u64>,
    /// Resident memory after the clients connected minus before, in KiB.
    pub rss_delta_kib: Option<i64>,
    /// Clients connected during the phase (all doors).
    pub clients: usize,
    /// Messages delivered during the phase (all doors): CPU is shared out per delivery.
    pub deliveries: u64,
}

impl ServerMeasure {
    /// `ms` of CPU per 1,000 of the phase's deliveries.
    fn per_1k_deliveries(&self, ms: u64) -> f64 {
        1000.0 * ms as f64 / self.deliveries.max(1) as f64
    }
}

/// One door's row.
#[derive(Clone, Debug)]
pub struct DoorResult {
    /// The door's name.
    pub door: &'static str,
    /// Who served it.
    pub server: Server,
    /// The server's name for what stands for the door, when it has its own (SockJS's transports).
    pub transport: Option<&'static str>,
    /// Its clients.
    pub clients: usize,
    /// Messages delivered (distinct, summed over clients).
    pub deliveries: u64,
    /// Latency percentiles 0, 5, ..., 100 in milliseconds (21 points), then the 99th.
    pub percentiles_ms: Vec<f64>,
    /// HTTP requests per 1,000 deliveries.
    pub requests_per_1k: f64,
    /// The most client connections open at once (`None` without a relay).
    pub connections_peak: Option<u64>,
    /// Bytes received per delivery that were not payload (`None` without a relay).
    pub overhead_in_per_message: Option<f64>,
    /// Payload bytes per message.
    pub payload_per_message: f64,
    /// Bytes sent per delivery, all overhead (`None` without a relay).
    pub bytes_out_per_message: Option<f64>,
    /// Server CPU per 1,000 deliveries, in milliseconds (for the mix: over all doors' deliveries).
    pub cpu_ms_per_1k: Option<f64>,
    /// The lab's own CPU per 1,000 deliveries over the same span (the load generator's cost, which
    /// bounds what the lab can measure), in milliseconds.
    pub generator_cpu_ms_per_1k: Option<f64>,
    /// The proxy's CPU per 1,000 deliveries, in milliseconds (rows behind nginx).
    pub proxy_cpu_ms_per_1k: Option<f64>,
    /// Server CPU per 1,000 deliveries minus the floor's on the same door in the same scenario, in
    /// milliseconds (set by [`RunReport::add`] when the floor ran).
    pub cpu_above_floor_ms_per_1k: Option<f64>,
    /// Server memory per connected client, in KiB.
    pub rss_kib_per_client: Option<f64>,
    /// Messages never received, summed over clients.
    pub lost: u64,
    /// Messages received twice.
    pub duplicated: u64,
    /// Messages received after a later one.
    pub out_of_order: u64,
    /// Client failures, and the first one's text.
    pub errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
}

impl DoorResult {
    /// Sums the door's tallies and reads its relay.
    pub fn new(
        door: Door,
        served_by: Server,
        tallies: &[&Tally],
        counters: Option<&RelayCounters>,
        workload: Workload,
        payload_bytes: usize,
        server: &ServerMeasure,
    ) -> DoorResult {
        let sum = |f: fn(&Tally) -> u64| tallies.iter().map(|t| f(t)).sum::<u64>();
        let deliveries = sum(|t| t.received);
        let per_delivery = |total: u64| total as f64 / deliveries.max(1) as f64;
        let mut latencies: Vec<u64> = tallies
            .iter()
            .flat_map(|t| t.latencies_us.iter().copied())
            .collect();
        latencies.sort_unstable();
        let load = |read: fn(&RelayCounters) -> &AtomicU64| {
            counters.map(|c| read(c).load(Ordering::Relaxed))
        };
        let bytes_in = load(|c| &c.bytes_to_client);
        let bytes_out = load(|c| &c.bytes_to_server);
        DoorResult {
            door: door.name(),
            server: served_by,
            transport: served_by.transport_name(door),
            clients: tallies.len(),
            deliveries,
            percentiles_ms: (0..=20)
                .map(|i| i * 5)
                .chain([99])
                .map(|percent| percentile_ms(&latencies, percent))
                .collect(),
            requests_per_1k: 1000.0 * per_delivery(sum(|t| t.requests)),
            connections_peak: load(|c| &c.connections_peak),
            overhead_in_per_message: bytes_in.map(|b| per_delivery(b) - payload_bytes as f64),
            payload_per_message: payload_bytes as f64,
            bytes_out_per_message: bytes_out.map(per_delivery),
            cpu_ms_per_1k: server.cpu_ms.map(|ms| server.per_1k_deliveries(ms)),
            generator_cpu_ms_per_1k: server
                .generator_cpu_ms
                .map(|ms| server.per_1k_deliveries(ms)),
            proxy_cpu_ms_per_1k: server.proxy_cpu_ms.map(|ms| server.per_1k_deliveries(ms)),
            cpu_above_floor_ms_per_1k: None,
            rss_kib_per_client: server
                .rss_delta_kib
                .map(|kib| kib as f64 / server.clients.max(1) as f64),
            lost: (workload.messages * tallies.len() as u64).saturating_sub(deliveries),
            duplicated: sum(|t| t.duplicated),
            out_of_order: sum(|t| t.out_of_order),
            errors: sum(|t| t.errors),
            first_error: tallies.iter().find_map(|t| t.first_error.clone()),
        }
    }

    fn p50(&self) -> f64 {
        self.percentiles_ms[10]
    }

    fn p99(&self) -> f64 {
        self.percentiles_ms[21]
    }

    fn max(&self) -> f64 {
        self.percentiles_ms[20]
    }

    fn delivered_cleanly(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.out_of_order == 0 && self.errors == 0
    }

    /// The server column: its name, and the transport that stands for the door when it has one.
    pub fn server_label(&self) -> String {
        match self.transport {
            Some(transport) => format!("{} ({transport})", self.server.name()),
            None => self.server.name().to_string(),
        }
    }
}

/// How much later than the direct run a door's slowest message may arrive behind a proxy and still
/// count as real time: twice the direct maximum plus this margin. A proxy that buffers holds a
/// message until its buffer fills or the response ends, which costs seconds or forever, far beyond
/// this; one more hop on loopback, even on a busy machine, costs well under it.
pub const REAL_TIME_MARGIN_MS: f64 = 500.0;

/// Whether `behind` (a row behind a proxy) still delivers in real time, judged against `direct` (the
/// same door, same scenario, no proxy): every message arrived, and the slowest within twice direct's
/// slowest plus [`REAL_TIME_MARGIN_MS`].
pub fn real_time_behind(direct: &DoorResult, behind: &DoorResult) -> bool {
    behind.delivered_cleanly() && behind.max() <= 2.0 * direct.max() + REAL_TIME_MARGIN_MS
}

/// The `percent`-th percentile (nearest rank) of sorted microseconds, in milliseconds.
fn percentile_ms(sorted_us: &[u64], percent: usize) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = (percent * sorted_us.len()).div_ceil(100).max(1) - 1;
    sorted_us[rank.min(sorted_us.len() - 1)] as f64 / 1000.0
}

/// Sets each row's CPU above the floor's row on the same door, when the floor ran.
fn set_cpu_above_floor(rows: &mut [DoorResult]) {
    let floor_cpu: Vec<(&'static str, f64)> = rows
        .iter()
        .filter(|r| r.server == Server::Floor)
        .filter_map(|r| Some((r.door, r.cpu_ms_per_1k?)))
        .collect();
    for row in rows.iter_mut() {
        let floor = floor_cpu.iter().find(|(door, _)| *door == row.door);
        row.cpu_above_floor_ms_per_1k = floor.and_then(|(_, f)| Some(row.cpu_ms_per_1k? - f));
    }
}

/// One scenario's rows.
pub struct ScenarioReport {
    /// Its name.
    pub name: &'static str,
    /// Its workload.
    pub workload: Workload,
    /// One row per door and server: the first run's.
    pub rows: Vec<DoorResult>,
    /// With `--repeat N`, every run's rows, the first included, in the order they ran (empty after a
    /// single run). The tables over the runs are made from these.
    pub runs: Vec<Vec<DoorResult>>,
}

/// Everything one run measured.
pub struct RunReport {
    command: String,
    notes: Vec<String>,
    seed: u64,
    rtt_ms: f64,
    machine: Machine,
    /// The scenarios, in the order they ran.
    pub scenarios: Vec<ScenarioReport>,
    /// What the slow reader behind nginx saw (with `--proxy nginx`).
    pub backlog: Option<Vec<BacklogRow>>,
    /// What `--browser` measured.
    pub browser: Option<BrowserReport>,
    /// The scale-out scenario's workload and rows.
    pub scale_out: Option<(super::scale::ScaleWorkload, Vec<super::scale::ScaleRow>)>,
}

impl RunReport {
    /// An empty report for a run with `options` on `machine`.
    pub fn new(options: &LabOptions, machine: Machine) -> RunReport {
        RunReport {
            command: options.command.clone(),
            notes: Vec::new(),
            backlog: None,
            browser: None,
            scale_out: None,
            seed: options.seed,
            rtt_ms: options.rtt.as_secs_f64() * 1000.0,
            machine,
            scenarios: Vec::new(),
        }
    }

    /// Adds a scenario's rows, measured once.
    pub fn add(&mut self, name: &'static str, workload: Workload, rows: Vec<DoorResult>) {
        self.add_runs(name, workload, vec![rows]);
    }

    /// Adds a scenario measured `runs.len()` times (`--repeat`): the first run's rows make its
    /// tables and charts, and every run's make the tables over the runs.
    pub fn add_runs(&mut self, name: &'static str, workload: Workload, runs: Vec<Vec<DoorResult>>) {
        let mut runs = runs;
        for rows in &mut runs {
            set_cpu_above_floor(rows);
        }
        // One run: its rows are the scenario's, and there is nothing to put side by side.
        let (rows, runs) = if runs.len() > 1 {
            (runs.first().cloned().unwrap_or_default(), runs)
        } else {
            (runs.pop().unwrap_or_default(), Vec::new())
        };
        self.scenarios.push(ScenarioReport {
            name,
            workload,
            rows,
            runs,
        });
    }

    /// Adds a line that the Markdown prints after the tables (a server that sat a scenario out).
    pub fn note(&mut self, line: String) {
        self.notes.push(line);
    }

    /// True when pushlab (straight or behind nginx) lost, duplicated or reordered no message, no
    /// client of it failed, and the browser received everything. A peer's incomplete row is reported
    /// in its table (`incomplete` in the side-by-side view) but is the peer's result, not the lab's
    /// failure.
    pub fn all_delivered(&self) -> bool {
        let browser_delivered = self
            .browser
            .iter()
            .flat_map(|b| &b.rows)
            .all(|row| row.received == row.messages);
        let scale_out_delivered =
            self.scale_out.iter().flat_map(|(_, rows)| rows).all(|row| {
                row.delivered == row.expected && row.duplicated == 0 && row.errors.0 == 0
            });
        browser_delivered
            && scale_out_delivered
            && self
                .scenarios
                .iter()
                .flat_map(|s| &s.rows)
                .filter(|row| !matches!(row.server, Server::Peer(_)))
                .all(DoorResult::delivered_cleanly)
    }

    /// The run as Markdown: the command, the seed, the machine, one table per scenario.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "`{}`: seed {}, rtt {} ms; {} ({} cores), Linux {}\n",
            self.command,
            self.seed,
            svg::number(self.rtt_ms),
            self.machine.cpu_model,
            self.machine.cores,
            self.machine.kernel
        );
        for scenario in &self.scenarios {
            let w = scenario.workload;
            out.push_str(&format!(
                "\n### {}: {} clients{}, {} message{} at {}/s\n\n",
                scenario.name,
                w.clients,
                if scenario.name == "mix" {
                    " over all doors"
                } else {
                    " per door"
                },
                w.messages,
                if w.messages == 1 { "" } else { "s" },
                svg::number(w.rate_per_s)
            ));
            out.push_str(
                "| door | server | clients | delivered | p50 ms | p99 ms | max ms | requests / 1k msg | \
                 connections held | bytes in / msg (overhead + payload) | bytes out / msg | \
                 server CPU ms / 1k | server KiB / client | lost | dup | out of order |\n",
            );
            out.push_str(
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            );
            for row in &scenario.rows {
                out.push_str(&table_row(row));
            }
            let lab_cpu: Vec<String> = scenario
                .rows
                .iter()
                .map(|r| {
                    format!(
                        "{}{} {}",
                        r.door,
                        server_suffix(r),
                        optional(r.generator_cpu_ms_per_1k)
                    )
                })
                .collect();
            out.push_str(&format!(
                "\nThe lab's own CPU (its clients, relays and publisher), ms per 1k deliveries: {}.\n",
                lab_cpu.join(", ")
            ));
            let proxy_cpu: Vec<String> = scenario
                .rows
                .iter()
                .filter_map(|r| {
                    let ms = r.proxy_cpu_ms_per_1k?;
                    Some(format!(
                        "{}{} {}",
                        r.door,
                        server_suffix(r),
                        svg::number(ms)
                    ))
                })
                .collect();
            if !proxy_cpu.is_empty() {
                out.push_str(&format!(
                    "\nnginx's own CPU, ms per 1k deliveries: {}.\n",
                    proxy_cpu.join(", ")
                ));
            }
            for row in scenario.rows.iter().filter(|r| r.errors > 0) {
                out.push_str(&format!(
                    "\n{}{}: {} client errors, the first: {}\n",
                    row.door,
                    server_suffix(row),
                    row.errors,
                    row.first_error.as_deref().unwrap_or("?")
                ));
            }
            out.push_str(&side_by_side(scenario));
            out.push_str(&above_the_floor(scenario));
            out.push_str(&against_the_best_peer(scenario));
            out.push_str(&behind_nginx(scenario));
            out.push_str(&over_the_runs(scenario));
        }
        if let Some((workload, rows)) = &self.scale_out {
            out.push_str(&super::scale::markdown(workload, rows));
        }
        if let Some(rows) = &self.backlog {
            out.push_str(&backlog_markdown(rows));
        }
        if let Some(browser) = &self.browser {
            out.push_str(&browser_markdown(browser));
        }
        for note in &self.notes {
            out.push_str(&format!("\n{note}\n"));
        }
        out
    }

    /// The run as JSON: one object with the run's facts and a row object per door per scenario.
    pub fn json(&self) -> String {
        let scenarios: Vec<String> = self.scenarios.iter().map(scenario_json).collect();
        format!(
            "{{\"command\":{},\"seed\":{},\"rtt_ms\":{},\"machine\":{{\"cpu_model\":{},\"cores\":{},\"kernel\":{}}},\"scenarios\":[\n{}\n],\"scale_out\":{},\"slow_reader_behind_nginx\":{},\"browser\":{}}}\n",
            json_string(&self.command),
            self.seed,
            self.rtt_ms,
            json_string(&self.machine.cpu_model),
            self.machine.cores,
            json_string(&self.machine.kernel),
            scenarios.join(",\n"),
            self.scale_out
                .as_ref()
                .map_or("null".to_string(), |(w, rows)| super::scale::json(w, rows)),
            self.backlog
                .as_ref()
                .map_or("null".to_string(), |rows| backlog_json(rows)),
            self.browser
                .as_ref()
                .map_or("null".to_string(), browser_json)
        )
    }

    /// Writes `{scenarios}[-rttNms].json` and `.md` (e.g. `fanout-rtt100ms.json`), and three charts per
    /// scenario, `{scenario}[-rttNms]-{latency,bytes,requests}.svg`, into `dir`.
    pub fn write_files(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)?;
        let rtt = if self.rtt_ms > 0.0 {
            format!("-rtt{}ms", self.rtt_ms.round())
        } else {
            String::new()
        };
        let mut names: Vec<&str> = self.scenarios.iter().map(|s| s.name).collect();
        if self.scale_out.is_some() {
            names.push("scale-out");
        }
        let stem = format!("{}{rtt}", names.join("-"));
        fs::write(dir.join(format!("{stem}.json")), self.json())?;
        fs::write(dir.join(format!("{stem}.md")), self.markdown())?;
        for scenario in &self.scenarios {
            for server in servers_of(scenario) {
                let rows: Vec<&DoorResult> = scenario
                    .rows
                    .iter()
                    .filter(|r| r.server == server)
                    .collect();
                let (part, title) = match server {
                    Server::Pushlab => (String::new(), scenario.name.to_string()),
                    _ => (
                        format!("-{}", server.slug()),
                        format!("{} on {}", scenario.name, server.name()),
                    ),
                };
                for (kind, chart) in charts(&title, &rows, self.rtt_ms) {
                    let name = format!("{}{rtt}{part}-{kind}.svg", scenario.name);
                    fs::write(dir.join(name), chart)?;
                }
            }
            if servers_of(scenario).len() > 1 {
                let name = format!("{}{rtt}-p99.svg", scenario.name);
                fs::write(dir.join(name), p99_chart(scenario, self.rtt_ms))?;
            }
        }
        Ok(())
    }
}

/// The slow reader's table: one line per streaming door, one column per nginx mode.
fn backlog_markdown(rows: &[BacklogRow]) -> String {
    let mut out = format!(
        "\n### a slow reader behind nginx: {} messages of {} KiB while the client reads nothing, then \
         the tail\n\n| door | {} |\n|---|{}\n",
        backlog::BACKLOG_MESSAGES,
        backlog::MESSAGE_BYTES / 1024,
        Buffering::ALL.map(|b| b.name()).join(" | "),
        "---|".repeat(Buffering::ALL.len())
    );
    for door in backlog::DOORS {
        let cells: Vec<String> = Buffering::ALL
            .iter()
            .map(|mode| {
                rows.iter()
                    .find(|r| r.door == door && r.buffering == *mode)
                    .map_or("-".to_string(), |r| tail_text(&r.tail))
            })
            .collect();
        out.push_str(&format!("| {} | {} |\n", door.name(), cells.join(" | ")));
    }
    out.push_str(&format!(
        "\nA tail not read within {} s of the backlog is held back; {} more messages are then published, \
         and the time is from them to the tail.\n",
        backlog::TAIL_WAIT.as_secs(),
        backlog::FILLER_MESSAGES
    ));
    out
}

fn tail_text(tail: &Tail) -> String {
    match tail {
        Tail::WithTheBacklog(ms) => format!("with the backlog ({} ms after it)", svg::number(*ms)),
        Tail::HeldUntilMoreBytes(ms) => format!(
            "held back until more bytes came ({} ms after them)",
            svg::number(*ms)
        ),
        Tail::Failed(why) => format!("failed: {why}"),
    }
}

fn backlog_json(rows: &[BacklogRow]) -> String {
    let rows: Vec<String> = rows
        .iter()
        .map(|row| {
            let (outcome, ms, error) = match &row.tail {
                Tail::WithTheBacklog(ms) => ("with_the_backlog", Some(*ms), None),
                Tail::HeldUntilMoreBytes(ms) => ("held_until_more_bytes", Some(*ms), None),
                Tail::Failed(why) => ("failed", None, Some(why.as_str())),
            };
            format!(
                "{{\"door\":{},\"nginx\":{},\"tail\":{},\"ms\":{},\"error\":{}}}",
                json_string(row.door.name()),
                json_string(row.buffering.name()),
                json_string(outcome),
                json_number(ms),
                error.map_or("null".to_string(), json_string)
            )
        })
        .collect();
    format!("[{}]", rows.join(","))
}

/// The `--browser` table: one line per transport of `pushlab.js`.
fn browser_markdown(browser: &BrowserReport) -> String {
    let mut out = format!(
        "\n### browser: {} through pushlab.js, one channel per transport, {} messages\n\n\
         | transport | door | delivered | door requests | request head B (browser) | \
         request head B (lab client) | bytes sent / msg | connections used | channels open of {} | \
         sockets to the host while held | a second tab's request while {} are held |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
        browser.version,
        browser::BROWSER_MESSAGES,
        browser::HELD_CHANNELS,
        browser::HELD_CHANNELS
    );
    for row in &browser.rows {
        out.push_str(&format!(
            "| {} | {} | {} of {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.transport,
            row.door.name(),
            row.received,
            row.messages,
            row.door_requests,
            optional(row.request_head_bytes),
            optional(row.lab_client_head_bytes),
            svg::number(row.bytes_sent_per_message),
            row.connections,
            row.held_open,
            row.sockets_while_held,
            second_tab_text(row.second_tab)
        ));
    }
    out.push_str(&format!(
        "\nA second tab's request is blocked when it is not answered within {} s; it is then answered \
         once the first tab closes its channels.\n",
        browser::SECOND_TAB_WAIT.as_secs()
    ));
    out
}

fn second_tab_text(second_tab: SecondTab) -> String {
    match second_tab {
        SecondTab::Answered(ms) => format!("answered in {} ms", svg::number(ms)),
        SecondTab::Blocked(Some(ms)) => {
            format!(
                "blocked; answered after {} ms, once the first tab let go",
                svg::number(ms)
            )
        }
        SecondTab::Blocked(None) => "blocked, never answered".to_string(),
    }
}

fn browser_json(browser: &BrowserReport) -> String {
    let rows: Vec<String> = browser.rows.iter().map(browser_row_json).collect();
    format!(
        "{{\"version\":{},\"transports\":[\n{}\n]}}",
        json_string(&browser.version),
        rows.join(",\n")
    )
}

fn browser_row_json(row: &BrowserRow) -> String {
    let (blocked, second_tab_ms) = match row.second_tab {
        SecondTab::Answered(ms) => (false, Some(ms)),
        SecondTab::Blocked(ms) => (true, ms),
    };
    format!(
        "{{\"transport\":{},\"door\":{},\"messages\":{},\"received\":{},\"door_requests\":{},\
         \"request_head_bytes\":{},\"lab_client_head_bytes\":{},\"bytes_sent_per_msg\":{:.3},\
         \"connections\":{},\"held_open\":{},\"sockets_while_held\":{},\
         \"second_tab_blocked\":{blocked},\"second_tab_ms\":{}}}",
        json_string(row.transport),
        json_string(row.door.name()),
        row.messages,
        row.received,
        row.door_requests,
        json_number(row.request_head_bytes),
        json_number(row.lab_client_head_bytes),
        row.bytes_sent_per_message,
        row.connections,
        row.held_open,
        row.sockets_while_held,
        json_number(second_tab_ms)
    )
}

fn optional(value: Option<f64>) -> String {
    value.map_or("n/a".to_string(), svg::number)
}

/// ` (server)` after a door's name, except for pushlab direct.
fn server_suffix(row: &DoorResult) -> String {
    match row.server {
        Server::Pushlab => String::new(),
        _ => format!(" ({})", row.server_label()),
    }
}

/// The servers of a scenario, in the order they ran.
fn servers_of(scenario: &ScenarioReport) -> Vec<Server> {
    let mut servers: Vec<Server> = Vec::new();
    for row in &scenario.rows {
        if !servers.contains(&row.server) {
            servers.push(row.server);
        }
    }
    servers
}

/// The doors of a scenario, in the course's order.
fn doors_of(scenario: &ScenarioReport) -> Vec<&'static str> {
    Door::ALL
        .iter()
        .map(|d| d.name())
        .filter(|name| scenario.rows.iter().any(|r| r.door == *name))
        .collect()
}

/// The row of `server` on `door` among `rows` (one run's).
fn row_of<'a>(rows: &'a [DoorResult], door: &str, server: Server) -> Option<&'a DoorResult> {
    rows.iter().find(|r| r.door == door && r.server == server)
}

/// Every server side by side, one line per door: `p99 ms / server CPU ms per 1k deliveries`, and `-`
/// where a server has no such door. Empty when only one server ran.
fn side_by_side(scenario: &ScenarioReport) -> String {
    let servers = servers_of(scenario);
    if servers.len() < 2 {
        return String::new();
    }
    let names: Vec<&str> = servers.iter().map(|s| s.name()).collect();
    let mut out = format!(
        "\n#### {}: side by side, p99 ms / server CPU ms per 1k deliveries\n\n| door | {} |\n|---|{}\n",
        scenario.name,
        names.join(" | "),
        "---:|".repeat(servers.len())
    );
    for door in doors_of(scenario) {
        let cells: Vec<String> = servers
            .iter()
            .map(|server| match row_of(&scenario.rows, door, *server) {
                Some(row) => {
                    let transport = row.transport.map(|t| format!(" ({t})")).unwrap_or_default();
                    let flag = if row.delivered_cleanly() {
                        ""
                    } else {
                        " (incomplete)"
                    };
                    format!(
                        "{} / {}{transport}{flag}",
                        svg::number(row.p99()),
                        optional(row.cpu_ms_per_1k)
                    )
                }
                None => "-".to_string(),
            })
            .collect();
        out.push_str(&format!("| {door} | {} |\n", cells.join(" | ")));
    }
    out
}

/// Every server's CPU above the floor's, one line per door: `CPU above the floor ms per 1k (the
/// floor's share of the server's CPU)`. Empty when the floor did not run.
fn above_the_floor(scenario: &ScenarioReport) -> String {
    let servers: Vec<Server> = servers_of(scenario)
        .into_iter()
        .filter(|s| *s != Server::Floor)
        .collect();
    let floor_ran = scenario.rows.iter().any(|r| r.server == Server::Floor);
    if !floor_ran || servers.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = servers.iter().map(|s| s.name()).collect();
    let mut out = format!(
        "\n#### {}: server CPU above the floor, ms per 1k deliveries (the floor's share of it)\n\n\
         | door | floor | {} |\n|---|---:|{}\n",
        scenario.name,
        names.join(" | "),
        "---:|".repeat(servers.len())
    );
    for door in doors_of(scenario) {
        let Some(floor) = row_of(&scenario.rows, door, Server::Floor).and_then(|r| r.cpu_ms_per_1k)
        else {
            continue;
        };
        let cells: Vec<String> = servers
            .iter()
            .map(|server| {
                let Some(row) = row_of(&scenario.rows, door, *server) else {
                    return "-".to_string();
                };
                match (row.cpu_above_floor_ms_per_1k, row.cpu_ms_per_1k) {
                    (Some(above), Some(cpu)) if cpu > 0.0 => format!(
                        "{} ({}%)",
                        svg::number(above),
                        (100.0 * floor / cpu).round()
                    ),
                    (Some(above), _) => format!("{} (n/a)", svg::number(above)),
                    _ => "n/a".to_string(),
                }
            })
            .collect();
        out.push_str(&format!(
            "| {door} | {} | {} |\n",
            svg::number(floor),
            cells.join(" | ")
        ));
    }
    out
}

/// The best of the peers on one door (see [`best_peer`]).
#[derive(Clone, Copy, Debug)]
struct BestPeer {
    p99: f64,
    cpu: f64,
    /// The requests per 1,000 messages of the peer whose CPU is `cpu`: a polling peer that answers
    /// several messages at once spends less per delivery because it makes fewer requests.
    cheapest_requests_per_1k: f64,
}

/// The lowest p99 and the lowest CPU among the peers' complete rows on `door`, and the requests per
/// 1,000 messages of the row with that CPU.
fn best_peer(rows: &[DoorResult], door: &str) -> Option<BestPeer> {
    let peers = rows
        .iter()
        .filter(|r| r.door == door && matches!(r.server, Server::Peer(_)) && r.delivered_cleanly());
    peers.fold(None, |best: Option<BestPeer>, row| {
        let cpu = row.cpu_ms_per_1k?;
        let this = BestPeer {
            p99: row.p99(),
            cpu,
            cheapest_requests_per_1k: row.requests_per_1k,
        };
        Some(match best {
            None => this,
            Some(best) if cpu < best.cpu => BestPeer {
                p99: this.p99.min(best.p99),
                ..this
            },
            Some(best) => BestPeer {
                p99: this.p99.min(best.p99),
                ..best
            },
        })
    })
}

/// `a ÷ b` to two decimals, or `n/a`.
fn ratio(a: f64, b: f64) -> String {
    divide(a, b).map_or("n/a".to_string(), two_decimals)
}

/// `a ÷ b`, when `b` is above zero.
fn divide(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

/// A ratio as the tables print it.
fn two_decimals(ratio: f64) -> String {
    format!("{ratio:.2}")
}

/// pushlab and the floor against the best peer, one line per door where a peer delivered everything:
/// `p99 ms / CPU ms per 1k` for each, then the ratios `p99 ÷ best p99 / CPU ÷ best CPU`, then the
/// requests per 1,000 messages of pushlab and of the cheapest peer. Empty unless the floor and at least
/// one peer ran.
fn against_the_best_peer(scenario: &ScenarioReport) -> String {
    let floor_ran = scenario.rows.iter().any(|r| r.server == Server::Floor);
    let peer_ran = scenario
        .rows
        .iter()
        .any(|r| matches!(r.server, Server::Peer(_)));
    if !floor_ran || !peer_ran {
        return String::new();
    }
    let mut out = format!(
        "\n#### {}: against the best peer, p99 ms / server CPU ms per 1k deliveries, and ÷ the best \
         peer's\n\n| door | pushlab | best peer | floor | pushlab ÷ best peer | floor ÷ best peer | \
         requests / 1k msg: pushlab · cheapest peer |\n|---|---:|---:|---:|---:|---:|---:|\n",
        scenario.name
    );
    let cell = |row: Option<&DoorResult>| {
        row.map_or("-".to_string(), |r| {
            format!("{} / {}", svg::number(r.p99()), optional(r.cpu_ms_per_1k))
        })
    };
    let ratios = |row: Option<&DoorResult>, best: BestPeer| {
        row.map_or("-".to_string(), |r| {
            let cpu = r
                .cpu_ms_per_1k
                .map_or("n/a".to_string(), |c| ratio(c, best.cpu));
            format!("{} / {cpu}", ratio(r.p99(), best.p99))
        })
    };
    for door in doors_of(scenario) {
        let Some(best) = best_peer(&scenario.rows, door) else {
            continue;
        };
        let pushlab = row_of(&scenario.rows, door, Server::Pushlab);
        let floor = row_of(&scenario.rows, door, Server::Floor);
        let requests = pushlab.map_or("-".to_string(), |r| svg::number(r.requests_per_1k));
        out.push_str(&format!(
            "| {door} | {} | {} / {} | {} | {} | {} | {requests} · {} |\n",
            cell(pushlab),
            svg::number(best.p99),
            svg::number(best.cpu),
            cell(floor),
            ratios(pushlab, best),
            ratios(floor, best),
            svg::number(best.cheapest_requests_per_1k)
        ));
    }
    out
}

/// The median of the values present (the mean of the middle two when their count is even).
fn median(values: &[Option<f64>]) -> Option<f64> {
    let mut present: Vec<f64> = values.iter().flatten().copied().collect();
    present.sort_by(f64::total_cmp);
    let middle = present.len() / 2;
    if present.len() % 2 == 1 {
        return present.get(middle).copied();
    }
    Some((present.get(middle.checked_sub(1)?)? + present.get(middle)?) / 2.0)
}

/// One figure of one door over the runs: its value in each run (`None` where a run had none), and
/// how it is printed.
struct Figure {
    values: Vec<Option<f64>>,
    show: fn(f64) -> String,
}

/// One line of a table over the runs: the door, then for each figure its value run by run and the
/// median. `None` when no run had the first figure.
fn line_over_the_runs(door: &str, figures: &[Figure]) -> Option<String> {
    if figures.first()?.values.iter().all(Option::is_none) {
        return None;
    }
    let cells: Vec<String> = figures
        .iter()
        .map(|Figure { values, show }| {
            let runs: Vec<String> = values
                .iter()
                .map(|v| v.map_or("-".to_string(), show))
                .collect();
            let middle = median(values).map_or("-".to_string(), show);
            format!("{} | {middle}", runs.join(" · "))
        })
        .collect();
    Some(format!("| {door} | {} |\n", cells.join(" | ")))
}

/// With `--repeat N`, the same figures over the N runs, each run's value and the median: pushlab's
/// p99 and CPU; pushlab's and the floor's ratios to the best peer (when they ran); and pushlab's CPU
/// above the floor. One run is one sample of a machine whose speed drifts, so a ratio is read over
/// several. Empty after a single run.
fn over_the_runs(scenario: &ScenarioReport) -> String {
    let count = scenario.runs.len();
    if count < 2 {
        return String::new();
    }
    let runs = &scenario.runs;
    let labels: Vec<String> = (1..=count).map(|n| n.to_string()).collect();
    let labels = labels.join(" · ");
    // A figure read from each run, printed as a number or as a ratio.
    let number = |value: &dyn Fn(&[DoorResult]) -> Option<f64>| Figure {
        values: runs.iter().map(|rows| value(rows)).collect(),
        show: svg::number,
    };
    let ratio = |value: &dyn Fn(&[DoorResult]) -> Option<f64>| Figure {
        values: runs.iter().map(|rows| value(rows)).collect(),
        show: two_decimals,
    };
    let mut out = format!(
        "\n#### {}: {count} runs, pushlab's p99 ms and server CPU ms per 1k deliveries, and the \
         median\n\n| door | p99, runs {labels} | median | CPU, runs {labels} | median |\n|---|---|---:|---|---:|\n",
        scenario.name
    );
    for door in doors_of(scenario) {
        let p99 = number(&|run| row_of(run, door, Server::Pushlab).map(DoorResult::p99));
        let cpu = number(&|run| row_of(run, door, Server::Pushlab)?.cpu_ms_per_1k);
        out.extend(line_over_the_runs(door, &[p99, cpu]));
    }
    let floor_ran = scenario.rows.iter().any(|r| r.server == Server::Floor);
    let peer_ran = scenario
        .rows
        .iter()
        .any(|r| matches!(r.server, Server::Peer(_)));
    if floor_ran && peer_ran {
        for server in [Server::Pushlab, Server::Floor] {
            out.push_str(&format!(
                "\n#### {}: {count} runs, {} ÷ the best peer\n\n| door | p99 ÷ best peer, runs {labels} | \
                 median | CPU ÷ best peer, runs {labels} | median |\n|---|---|---:|---|---:|\n",
                scenario.name,
                server.name()
            ));
            for door in doors_of(scenario) {
                let ratio_of =
                    |run: &[DoorResult], figure: fn(&DoorResult, BestPeer) -> Option<f64>| {
                        let best = best_peer(run, door)?;
                        figure(row_of(run, door, server)?, best)
                    };
                let p99 = ratio(&|run| ratio_of(run, |r, best| divide(r.p99(), best.p99)));
                let cpu = ratio(&|run| ratio_of(run, |r, best| divide(r.cpu_ms_per_1k?, best.cpu)));
                out.extend(line_over_the_runs(door, &[p99, cpu]));
            }
        }
    }
    if floor_ran {
        out.push_str(&format!(
            "\n#### {}: {count} runs, pushlab's server CPU above the floor, ms per 1k deliveries\n\n\
             | door | floor, runs {labels} | median | pushlab above it, runs {labels} | median |\n\
             |---|---|---:|---|---:|\n",
            scenario.name
        ));
        for door in doors_of(scenario) {
            let floor = number(&|run| row_of(run, door, Server::Floor)?.cpu_ms_per_1k);
            let above =
                number(&|run| row_of(run, door, Server::Pushlab)?.cpu_above_floor_ms_per_1k);
            out.extend(line_over_the_runs(door, &[floor, above]));
        }
    }
    out
}

/// pushlab direct against each nginx mode that ran: p99 and what the proxy added, then the verdict.
/// Empty when no nginx mode ran.
fn behind_nginx(scenario: &ScenarioReport) -> String {
    let modes: Vec<Server> = servers_of(scenario)
        .into_iter()
        .filter(|s| matches!(s, Server::BehindNginx(_)))
        .collect();
    if modes.is_empty() {
        return String::new();
    }
    let names: Vec<String> = modes
        .iter()
        .map(|m| format!("{} p99 ms (+ added)", nginx_mode(*m)))
        .collect();
    let mut out = format!(
        "\n#### {}: behind nginx (real time: every message, the slowest within 2 × direct's + {} ms)\n\n\
         | door | direct p99 ms | {} | real time behind |\n|---|---:|{}---|\n",
        scenario.name,
        svg::number(REAL_TIME_MARGIN_MS),
        names.join(" | "),
        "---:|".repeat(modes.len())
    );
    for door in doors_of(scenario) {
        let Some(direct) = row_of(&scenario.rows, door, Server::Pushlab) else {
            continue;
        };
        let mut cells = Vec::new();
        let mut real_time = Vec::new();
        for mode in &modes {
            let Some(row) = row_of(&scenario.rows, door, *mode) else {
                cells.push("-".to_string());
                continue;
            };
            let lost = if row.lost > 0 {
                format!(", {} lost", row.lost)
            } else {
                String::new()
            };
            cells.push(format!(
                "{} ({:+.1}{lost})",
                svg::number(row.p99()),
                row.p99() - direct.p99()
            ));
            if real_time_behind(direct, row) {
                real_time.push(nginx_mode(*mode));
            }
        }
        let verdict = if real_time.len() == modes.len() {
            "every mode".to_string()
        } else if real_time.is_empty() {
            "none".to_string()
        } else {
            real_time.join(", ")
        };
        out.push_str(&format!(
            "| {door} | {} | {} | {verdict} |\n",
            svg::number(direct.p99()),
            cells.join(" | ")
        ));
    }
    out
}

/// An nginx mode's short name.
fn nginx_mode(server: Server) -> &'static str {
    match server {
        Server::BehindNginx(Buffering::Default) => "default",
        Server::BehindNginx(Buffering::Off) => "buffering off",
        Server::BehindNginx(Buffering::IgnoreAccelHeader) => "header ignored",
        other => other.name(),
    }
}

fn table_row(row: &DoorResult) -> String {
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        row.door,
        row.server_label(),
        row.clients,
        row.deliveries,
        svg::number(row.p50()),
        svg::number(row.p99()),
        svg::number(row.max()),
        svg::number(row.requests_per_1k),
        row.connections_peak
            .map_or("n/a".to_string(), |n| n.to_string()),
        row.overhead_in_per_message
            .map_or("n/a".to_string(), |overhead| format!(
                "{} ({} + {})",
                svg::number(overhead + row.payload_per_message),
                svg::number(overhead),
                svg::number(row.payload_per_message)
            )),
        optional(row.bytes_out_per_message),
        optional(row.cpu_ms_per_1k),
        optional(row.rss_kib_per_client),
        row.lost,
        row.duplicated,
        row.out_of_order
    )
}

fn json_number(value: Option<f64>) -> String {
    value.map_or("null".to_string(), |v| format!("{v:.3}"))
}

/// A scenario as JSON: its workload, the first run's rows as `doors`, and with `--repeat` every run's
/// rows as `runs` (an array of such arrays; empty after a single run).
fn scenario_json(scenario: &ScenarioReport) -> String {
    let rows: Vec<String> = scenario.rows.iter().map(row_json).collect();
    let runs: Vec<String> = scenario
        .runs
        .iter()
        .map(|rows| {
            let rows: Vec<String> = rows.iter().map(row_json).collect();
            format!("[\n{}\n]", rows.join(",\n"))
        })
        .collect();
    let w = scenario.workload;
    format!(
        "{{\"name\":{},\"clients\":{},\"messages\":{},\"rate_per_s\":{},\"doors\":[\n{}\n],\"runs\":[{}]}}",
        json_string(scenario.name),
        w.clients,
        w.messages,
        w.rate_per_s,
        rows.join(",\n"),
        runs.join(",\n")
    )
}

fn row_json(row: &DoorResult) -> String {
    let percentiles: Vec<String> = row
        .percentiles_ms
        .iter()
        .map(|p| format!("{p:.3}"))
        .collect();
    format!(
        "{{\"door\":{},\"server\":{},\"transport\":{},\"clients\":{},\"deliveries\":{},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3},\
         \"percentiles_ms\":[{}],\"requests_per_1k\":{:.3},\"connections_held\":{},\
         \"bytes_in_overhead_per_msg\":{},\"bytes_in_payload_per_msg\":{:.3},\"bytes_out_per_msg\":{},\
         \"server_cpu_ms_per_1k\":{},\"lab_cpu_ms_per_1k\":{},\"proxy_cpu_ms_per_1k\":{},\"cpu_above_floor_ms_per_1k\":{},\"server_kib_per_client\":{},\"lost\":{},\"duplicated\":{},\
         \"out_of_order\":{},\"errors\":{}}}",
        json_string(row.door),
        json_string(row.server.name()),
        row.transport.map_or("null".to_string(), json_string),
        row.clients,
        row.deliveries,
        row.p50(),
        row.p99(),
        row.max(),
        percentiles.join(","),
        row.requests_per_1k,
        json_number(row.connections_peak.map(|n| n as f64)),
        json_number(row.overhead_in_per_message),
        row.payload_per_message,
        json_number(row.bytes_out_per_message),
        json_number(row.cpu_ms_per_1k),
        json_number(row.generator_cpu_ms_per_1k),
        json_number(row.proxy_cpu_ms_per_1k),
        json_number(row.cpu_above_floor_ms_per_1k),
        json_number(row.rss_kib_per_client),
        row.lost,
        row.duplicated,
        row.out_of_order,
        row.errors
    )
}

/// The three charts of a scenario: latency distribution, bytes per message, requests per message.
/// p99 of every row of a scenario, grouped by door, one bar per server: the side-by-side table drawn.
fn p99_chart(scenario: &ScenarioReport, rtt_ms: f64) -> String {
    let mut bars = Vec::new();
    for door in doors_of(scenario) {
        for row in scenario.rows.iter().filter(|r| r.door == door) {
            bars.push(Bar {
                label: format!("{} · {}", row.door, row.server_label()),
                segments: vec![row.p99()],
            });
        }
    }
    svg::bar_chart(
        &format!(
            "p99 delivery latency per door and server ({}, rtt {} ms)",
            scenario.name,
            svg::number(rtt_ms)
        ),
        "ms",
        &["p99"],
        &bars,
    )
}

fn charts(title: &str, rows: &[&DoorResult], rtt_ms: f64) -> Vec<(&'static str, String)> {
    let suffix = format!("{title}, rtt {} ms", svg::number(rtt_ms));
    let curves: Vec<Curve> = rows
        .iter()
        .map(|row| Curve {
            label: row.door.to_string(),
            points: row.percentiles_ms[..21]
                .iter()
                .enumerate()
                .map(|(i, ms)| (*ms, i as f64 / 20.0))
                .collect(),
        })
        .collect();
    let bytes: Vec<Bar> = rows
        .iter()
        .map(|row| Bar {
            label: row.door.to_string(),
            segments: vec![
                row.overhead_in_per_message.unwrap_or(0.0).max(0.0),
                row.payload_per_message,
                row.bytes_out_per_message.unwrap_or(0.0),
            ],
        })
        .collect();
    let requests: Vec<Bar> = rows
        .iter()
        .map(|row| Bar {
            label: row.door.to_string(),
            segments: vec![row.requests_per_1k / 1000.0],
        })
        .collect();
    vec![
        (
            "latency",
            svg::cdf_chart(
                &format!("Delivery latency, share of messages within x ({suffix})"),
                &curves,
            ),
        ),
        (
            "bytes",
            svg::bar_chart(
                &format!("Bytes on the wire per message ({suffix})"),
                "B",
                &[
                    "received: overhead",
                    "received: payload",
                    "sent: requests, frames",
                ],
                &bytes,
            ),
        ),
        (
            "requests",
            svg::bar_chart(
                &format!("HTTP requests per message delivered ({suffix})"),
                "",
                &["requests per message"],
                &requests,
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::peers::PeerKind;

    #[test]
    fn nearest_rank_percentiles() {
        let us: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&us, 50), 50.0);
        assert_eq!(percentile_ms(&us, 99), 99.0);
        assert_eq!(percentile_ms(&us, 100), 100.0);
        assert_eq!(percentile_ms(&us, 0), 1.0);
        assert_eq!(percentile_ms(&[], 50), 0.0);
    }

    fn row(
        server: Server,
        p99: f64,
        cpu: f64,
        requests_per_1k: f64,
        duplicated: u64,
    ) -> DoorResult {
        let mut percentiles_ms = vec![1.0; 22];
        percentiles_ms[21] = p99;
        DoorResult {
            door: "long poll",
            server,
            transport: None,
            clients: 10,
            deliveries: 1000,
            percentiles_ms,
            requests_per_1k,
            connections_peak: None,
            overhead_in_per_message: None,
            payload_per_message: 64.0,
            bytes_out_per_message: None,
            cpu_ms_per_1k: Some(cpu),
            generator_cpu_ms_per_1k: None,
            proxy_cpu_ms_per_1k: None,
            cpu_above_floor_ms_per_1k: None,
            rss_kib_per_client: None,
            lost: 0,
            duplicated,
            out_of_order: 0,
            errors: 0,
            first_error: None,
        }
    }

    #[test]
    fn the_best_peer_takes_each_figure_from_whichever_complete_row_had_it() {
        let node = Server::Peer(PeerKind::NodeHttpWs);
        let sockjs = Server::Peer(PeerKind::Sockjs);
        let scenario = ScenarioReport {
            name: "broadcast",
            workload: Workload {
                clients: 10,
                messages: 100,
                rate_per_s: 50.0,
            },
            rows: vec![
                row(Server::Pushlab, 10.0, 12.0, 1000.0, 0),
                row(Server::Floor, 9.0, 10.0, 1000.0, 0),
                // Quick and costly: one request per message.
                row(node, 80.0, 50.0, 1000.0, 0),
                // Seconds late, cheap per delivery, a tenth of the requests.
                row(sockjs, 2000.0, 20.0, 100.0, 0),
                // Cheaper still, but it delivered twice: not a complete row.
                row(sockjs, 1.0, 1.0, 10.0, 3),
            ],
            runs: Vec::new(),
        };
        let best = best_peer(&scenario.rows, "long poll").expect("a complete peer row");
        assert_eq!((best.p99, best.cpu), (80.0, 20.0));
        assert_eq!(best.cheapest_requests_per_1k, 100.0);
        let table = against_the_best_peer(&scenario);
        assert!(
            table.contains("| long poll | 10 / 12 | 80 / 20 | 9 / 10 | 0.12 / 0.60 | 0.11 / 0.50 | 1000 · 100 |"),
            "{table}"
        );
    }

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_middle_two() {
        assert_eq!(median(&[Some(3.0), None, Some(1.0), Some(2.0)]), Some(2.0));
        assert_eq!(
            median(&[Some(4.0), Some(1.0), Some(2.0), Some(3.0)]),
            Some(2.5)
        );
        assert_eq!(median(&[None, None]), None);
    }

    #[test]
    fn the_tables_over_the_runs_give_each_run_and_the_median() {
        let node = Server::Peer(PeerKind::NodeHttpWs);
        // Three runs: pushlab 12, 9, 15 against a best peer of 20, 30, 20; the floor 10, 6, 10.
        let run = |pushlab: f64, floor: f64, peer: f64| {
            vec![
                row(Server::Pushlab, 10.0, pushlab, 1000.0, 0),
                row(Server::Floor, 8.0, floor, 1000.0, 0),
                row(node, 40.0, peer, 1000.0, 0),
            ]
        };
        let mut report = RunReport::new(
            &crate::lab::parse_args(&[]).unwrap().unwrap(),
            Machine::read(),
        );
        let workload = Workload {
            clients: 10,
            messages: 100,
            rate_per_s: 50.0,
        };
        report.add_runs(
            "broadcast",
            workload,
            vec![
                run(12.0, 10.0, 20.0),
                run(9.0, 6.0, 30.0),
                run(15.0, 10.0, 20.0),
            ],
        );
        let scenario = &report.scenarios[0];
        assert_eq!(scenario.rows.len(), 3, "the first run's rows");
        assert_eq!(scenario.rows[0].cpu_ms_per_1k, Some(12.0));
        let tables = over_the_runs(scenario);
        for line in [
            "| long poll | 10 · 10 · 10 | 10 | 12 · 9 · 15 | 12 |",
            "| long poll | 0.25 · 0.25 · 0.25 | 0.25 | 0.60 · 0.30 · 0.75 | 0.60 |",
            "| long poll | 0.20 · 0.20 · 0.20 | 0.20 | 0.50 · 0.20 · 0.50 | 0.50 |",
            "| long poll | 10 · 6 · 10 | 10 | 2 · 3 · 5 | 3 |",
        ] {
            assert!(tables.contains(line), "no {line:?} in\n{tables}");
        }
        let mut single = RunReport::new(
            &crate::lab::parse_args(&[]).unwrap().unwrap(),
            Machine::read(),
        );
        single.add_runs("broadcast", workload, vec![run(12.0, 10.0, 20.0)]);
        assert_eq!(
            over_the_runs(&single.scenarios[0]),
            "",
            "one run: no tables over the runs"
        );
        assert!(single.scenarios[0].runs.is_empty());
    }
}
