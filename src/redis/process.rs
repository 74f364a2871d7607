//! A `redis-server` child process on a free loopback port, with persistence off, for the tests, the
//! examples and the lab. It is stopped by its PID when dropped (never by name: other Redis servers on
//! the machine are not ours).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::resp::{encode_command, Reply, ReplyParser};

/// Where Debian installs the server.
const DEBIAN_PATH: &str = "/usr/bin/redis-server";
/// How long a started server gets to answer.
const START_TIMEOUT: Duration = Duration::from_secs(5);
/// Ports tried by [`RedisProcess::start`] before it gives up (each is free when picked, but may be
/// taken before the child binds it).
const START_ATTEMPTS: usize = 5;

/// A running `redis-server` that this process started.
#[derive(Debug)]
pub struct RedisProcess {
    child: Option<Child>,
    addr: SocketAddr,
}

impl RedisProcess {
    /// Whether `redis-server` can be started here.
    pub fn available() -> bool {
        Command::new(program())
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Starts a server on a free port of 127.0.0.1 and waits until it answers.
    ///
    /// "Free" is only true when the port is picked: between the probe that finds it and the child's
    /// own `bind`, another socket may take it (a server's listener, a connection's local end, another
    /// test's Redis). The child then exits, while something else answers on the port; so the start is
    /// confirmed only when the server that answers reports the child's PID, and another port is tried
    /// otherwise.
    pub fn start() -> io::Result<RedisProcess> {
        let mut last_error = io::Error::other("no attempt");
        for _ in 0..START_ATTEMPTS {
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let mut process = RedisProcess {
                child: None,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
            };
            match process.launch() {
                Ok(()) => return Ok(process),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The child's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server (by its PID) and waits for it: every client connection breaks, and since
    /// nothing is persisted, every key is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty. Fails (`AddrInUse`) if another socket took
    /// the port while the server was stopped.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        self.launch()
    }

    /// Runs `redis-server` on `self.addr` and waits until it answers as itself (its PID).
    fn launch(&mut self) -> io::Result<()> {
        let port = self.addr.port().to_string();
        let child = Command::new(program())
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--protected-mode", "yes", "--loglevel", "warning"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let pid = child.id();
        self.child = Some(child);
        let started = Instant::now();
        loop {
            let exited = self
                .child
                .as_mut()
                .map_or(Ok(None), Child::try_wait)?
                .is_some();
            if exited {
                self.stop();
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("redis-server could not listen on {}", self.addr),
                ));
            }
            match server_pid(self.addr) {
                Ok(answering) if answering == pid => return Ok(()),
                // Not ours: our child cannot bind the port and is about to exit (seen above).
                Ok(_) | Err(_) => {}
            }
            if started.elapsed() > START_TIMEOUT {
                self.stop();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("redis-server did not answer on {} in time", self.addr),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `redis-server` from `PATH`, or Debian's path when `PATH` lacks `/usr/bin`.
fn program() -> &'static str {
    if std::path::Path::new(DEBIAN_PATH).exists() {
        DEBIAN_PATH
    } else {
        "redis-server"
    }
}

/// The PID of the Redis server answering on `addr` (`process_id` in `INFO server`).
fn server_pid(addr: SocketAddr) -> io::Result<u32> {
    let info = command(addr, &["INFO", "server"], Duration::from_millis(500))?;
    info.as_str()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("process_id:"))
                .and_then(|pid| pid.trim().parse().ok())
        })
        .ok_or_else(|| io::Error::other("INFO server named no process_id"))
}

/// One command on a fresh blocking connection, its reply read with pushlab's own RESP parser. For the
/// tests, examples and benchmarks that look into Redis from outside; the server itself never blocks
/// on Redis (see [`super::link`]). `timeout` bounds the connect and each read.
pub fn command(addr: SocketAddr, args: &[&str], timeout: Duration) -> io::Result<Reply> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    let mut request = Vec::new();
    encode_command(args, &mut request);
    stream.write_all(&request)?;
    let (mut parser, mut buffer, mut chunk) = (ReplyParser::default(), Vec::new(), [0u8; 4096]);
    // Each pass reads at least one byte or fails, and the parser refuses a reply past its size
    // limit, so this ends.
    loop {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Err(io::Error::other("Redis closed the connection"));
        }
        buffer.extend_from_slice(chunk.get(..read).unwrap_or_default());
        let (used, reply) = parser.parse(&buffer).map_err(io::Error::other)?;
        buffer.drain(..used.min(buffer.len()));
        if let Some(reply) = reply {
            return Ok(reply);
        }
    }
}

/// How many times Redis ran each command so far, from `INFO commandstats` (lines
/// `cmdstat_<name>:calls=N,...`), without the `INFO` that asks. Commands a Lua script runs inside
/// Redis (`INCR`, `XADD`, ...) count too, beside the `EVAL` that a client sent.
pub fn command_calls(addr: SocketAddr, timeout: Duration) -> io::Result<Vec<(String, u64)>> {
    let info = command(addr, &["INFO", "commandstats"], timeout)?;
    let text = info
        .as_str()
        .ok_or_else(|| io::Error::other("INFO answered something other than text"))?;
    Ok(text
        .lines()
        .filter_map(|line| line.strip_prefix("cmdstat_")?.split_once(':'))
        .filter(|(name, _)| *name != "info")
        .map(|(name, stats)| {
            let calls = stats
                .split("calls=")
                .nth(1)
                .and_then(|rest| rest.split(',').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            (name.to_string(), calls)
        })
        .collect())
}
