//! `pushlab`: the demo server. Every push technique, live, on one port.
//!
//! ```text
//! pushlab [--addr HOST:PORT] [--trace] [--refuse-websocket] [--hold-timeout-ms N]
//!         [--max-connections N] [--max-body-bytes N] [--max-message-bytes N] [--allow-origin ORIGIN]
//! ```

use std::process::ExitCode;
use std::time::Duration;

use pushlab::server::Server;
use pushlab::Config;

const USAGE: &str = "\
usage: pushlab [options]
  --addr HOST:PORT          listen address (default 127.0.0.1:8080)
  --trace                   print every request and response head as it crosses the wire
  --refuse-websocket        answer every WebSocket upgrade with 500 (watch the client fall back)
  --hold-timeout-ms N       how long a long poll is held (default 20000)
  --max-connections N       connections served at once (default 10240)
  --max-body-bytes N        largest request body (default 1048576)
  --max-message-bytes N     largest WebSocket message (default 16777216)
  --allow-origin ORIGIN     also accept WebSocket upgrades from this browser origin (repeatable)
  --help                    this text";

fn main() -> ExitCode {
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
