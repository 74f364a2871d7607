//! `pushlab`: the demo server. Every push technique, live, on one port.
//!
//! ```text
//! pushlab lab [--help]     (the comparison lab: see pushlab::lab)
//! pushlab [--addr HOST:PORT] [--trace] [--refuse-websocket] [--hold-timeout-ms N]
//!         [--max-connections N] [--max-connections-per-ip N] [--publish-rate N] [--publish-burst N]
//!         [--max-body-bytes N] [--max-message-bytes N] [--allow-origin ORIGIN] [--allow-host NAME]
//!         [--publish-token SECRET] [--no-jsonp] [--no-clock] [--redis HOST:PORT]
//! ```

use std::net::ToSocketAddrs;
use std::process::ExitCode;
use std::time::Duration;

use pushlab::server::Server;
use pushlab::Config;

const USAGE: &str = "\
usage: pushlab [options]      (or: pushlab lab --help, the comparison lab)
  --addr HOST:PORT          listen address (default 127.0.0.1:8080)
  --trace                   print every request and response head as it crosses the wire
  --refuse-websocket        answer every WebSocket upgrade with 500 (watch the client fall back)
  --hold-timeout-ms N       how long a long poll is held (default 20000)
  --max-connections N       connections served at once (default 10240)
  --max-connections-per-ip N
                            connections one client address may hold (default 1024)
  --publish-rate N          publishes per second one client address may make (default 100; 0: no limit)
  --publish-burst N         publishes one client address may make at once (default 200)
  --max-body-bytes N        largest request body (default 1048576)
  --max-message-bytes N     largest WebSocket message (default 16777216)
  --allow-origin ORIGIN     also accept WebSocket upgrades and writes (publish, channel) from pages on
                            this browser origin, e.g. https://app.example (repeatable)
  --allow-host NAME         also answer to this Host name, besides IP addresses and localhost
                            (repeatable; any other name is refused with 421 against DNS rebinding)
  --publish-token SECRET    publishers must send Authorization: Bearer SECRET (or ?token= on /ws/)
  --no-jsonp                turn the JSONP door off (it lets any web site read a topic)
  --no-clock                do not publish the time to the `clock` topic every second (benchmarks
                            that count Redis commands per message turn it off)
  --redis HOST:PORT         share topics with other pushlab processes through this Redis server
                            (Redis Streams; off by default: one process, no external service)
  --help                    this text";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("lab") {
        return ExitCode::from(pushlab::lab::main(&args[1..]));
    }
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(Some(config)) => config,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("pushlab: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = match Server::bind(config.clone()) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("pushlab: cannot listen on {}: {e}", config.addr);
            return ExitCode::FAILURE;
        }
    };
    let addr = server.local_addr().unwrap_or(config.addr);
    println!("pushlab listening on http://{addr}/  (Ctrl-C stops it)");
    if addr.ip().is_unspecified() && config.allowed_hosts.is_empty() {
        println!(
            "listening on every interface: clients reach it by IP address or localhost; \
             name other host names with --allow-host NAME"
        );
    }
    if let Some(redis) = config.redis {
        println!("sharing topics through Redis at {redis} (pushlab:* keys)");
    }
    if config.refuse_websocket {
        println!("WebSocket upgrades will be refused with 500: the clients fall back to SSE or long polling");
    }
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pushlab: event loop failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the command line into a config; `Ok(None)` means `--help`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Config>, String> {
    let mut config = Config::default();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--addr" => {
                config.addr = value("--addr")?
                    .parse()
                    .map_err(|e| format!("--addr: {e}"))?
            }
            "--trace" => config.trace = true,
            "--refuse-websocket" => config.refuse_websocket = true,
            "--hold-timeout-ms" => {
                config.hold_timeout = Duration::from_millis(number(&value("--hold-timeout-ms")?)?)
            }
            "--max-connections" => {
                config.max_connections = number(&value("--max-connections")?)? as usize
            }
            "--max-connections-per-ip" => {
                config.max_connections_per_ip =
                    number(&value("--max-connections-per-ip")?)? as usize
            }
            "--publish-rate" => {
                config.publish_rate_per_ip = small_number(&value("--publish-rate")?)?
            }
            "--publish-burst" => {
                config.publish_burst_per_ip = small_number(&value("--publish-burst")?)?
            }
            "--allow-host" => config.allowed_hosts.push(value("--allow-host")?),
            "--publish-token" => config.publish_token = Some(value("--publish-token")?),
            "--no-jsonp" => config.jsonp = false,
            "--no-clock" => config.clock_interval = None,
            "--redis" => {
                let addr = value("--redis")?;
                config.redis = Some(
                    addr.to_socket_addrs()
                        .map_err(|e| format!("--redis {addr}: {e}"))?
                        .next()
                        .ok_or_else(|| format!("--redis {addr}: no address"))?,
                )
            }
            "--max-body-bytes" => {
                config.http.max_body_bytes = number(&value("--max-body-bytes")?)? as usize
            }
            "--max-message-bytes" => {
                config.ws.max_message_bytes = number(&value("--max-message-bytes")?)? as usize
            }
            "--allow-origin" => config.ws.allowed_origins.push(value("--allow-origin")?),
            "--help" | "-h" => return Ok(None),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(Some(config))
}

fn number(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a whole number"))
}

fn small_number(text: &str) -> Result<u32, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a whole number below 2^32"))
}
