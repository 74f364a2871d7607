//! What the lab measures: an address clients connect to (the front) and, when known, the process
//! whose CPU and memory are read (the server).
//!
//! The two are separate on purpose. By default the lab starts the server itself, as a child process of
//! the same binary, and both are that child. A run can instead target `--url` (a server started by
//! hand, a reverse proxy in front of one, a peer implementation) and name the measured process with
//! `--server-pid`; without it the CPU and memory columns say `n/a`.
//!
//! Two fronts the lab starts itself: nginx in front of the server ([`Target::behind_nginx`]: the
//! clients go through the proxy, the publisher still posts straight to the server, and nginx's own
//! CPU is read beside the server's), and a reference peer from npm ([`Target::peer`]: the peer is
//! both the front and the measured process).

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use super::nginx::{Buffering, Nginx};
use super::peers::{Peer, PeerKind};

/// The server's argument list when the lab starts it: a free loopback port, and the per-address limits
/// lifted, since every lab client comes from 127.0.0.1 (the limits protect against one address taking
/// the server; here that one address is the whole load).
pub const CHILD_ARGS: [&str; 8] = [
    "--addr",
    "127.0.0.1:0",
    "--publish-rate",
    "0",
    "--max-connections-per-ip",
    "1000000",
    "--max-connections",
    "30000",
];

/// The line the server prints once it listens: `pushlab listening on http://ADDR/`.
const LISTENING: &str = "pushlab listening on http://";

/// Where the load goes and what is measured.
pub struct Target {
    /// The address the clients connect to.
    pub front: SocketAddr,
    /// The address the publisher posts to: the server itself, even when a proxy is the front.
    pub publish_to: SocketAddr,
    /// The process whose CPU time and resident memory are read, if known.
    pub server_pid: Option<u32>,
    /// A proxy between the clients and the server, whose CPU time is read too.
    pub proxy_pid: Option<u32>,
    /// The proxy the lab started, stopped before the server.
    proxy: Option<Nginx>,
    /// The peer the lab started, stopped by its PID when the target is dropped.
    peer: Option<Peer>,
    /// The child the lab started, killed when the target is dropped.
    child: Option<Child>,
}

impl Target {
    /// An address that is already serving, optionally with the PID of the process to measure.
    pub fn existing(front: SocketAddr, server_pid: Option<u32>) -> Target {
        Target {
            front,
            publish_to: front,
            server_pid,
            proxy_pid: None,
            proxy: None,
            peer: None,
            child: None,
        }
    }

    /// This target with nginx in front of it ([`Nginx::start`] on a free loopback port): the clients
    /// connect to nginx, the publisher still posts to the server.
    pub fn behind_nginx(mut self, buffering: Buffering) -> io::Result<Target> {
        let nginx = Nginx::start(self.front, buffering)?;
        self.front = nginx.addr();
        self.proxy_pid = Some(nginx.pid());
        self.proxy = Some(nginx);
        Ok(self)
    }

    /// A reference peer ([`Peer::start`]), which is both the front and the measured process.
    pub fn peer(kind: PeerKind) -> io::Result<Target> {
        let peer = Peer::start(kind)?;
        let mut target = Target::existing(peer.addr(), Some(peer.pid()));
        target.peer = Some(peer);
        Ok(target)
    }

    /// Starts this binary as the server (see [`CHILD_ARGS`]) and waits for its listening line.
    pub fn spawn_own_server() -> io::Result<Target> {
        Target::spawn_server(&std::env::current_exe()?, &[])
    }

    /// Starts this binary as the floor server ([`super::floor`], `pushlab lab floor-server`) and
    /// waits for its listening line. Its stdin stays a pipe held by the child handle: the floor exits
    /// when it closes, so it never outlives the lab.
    pub fn spawn_floor() -> io::Result<Target> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["lab", "floor-server"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        Target::adopt(&mut child, super::floor::LISTENING).map(|mut target| {
            target.child = Some(child);
            target
        })
    }

    /// Reads the listening line `prefix` of a child just started; kills it if it never comes.
    fn adopt(child: &mut Child, prefix: &str) -> io::Result<Target> {
        let pid = child.id();
        match child
            .stdout
            .take()
            .map(|out| read_listening_addr(out, prefix))
        {
            Some(Ok(addr)) => Ok(Target::existing(addr, Some(pid))),
            Some(Err(error)) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(error)
            }
            None => Err(io::Error::other("the server's stdout is not a pipe")),
        }
    }

    /// Starts `binary` (a `pushlab` build) as the server with [`CHILD_ARGS`] and `extra` (e.g.
    /// `--redis ADDR`), and waits for its listening line.
    pub fn spawn_server(binary: &std::path::Path, extra: &[&str]) -> io::Result<Target> {
        let mut child = Command::new(binary)
            .args(CHILD_ARGS)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let mut target = Target::adopt(&mut child, LISTENING)?;
        target.child = Some(child);
        Ok(target)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // The proxy goes first, so it never sees its upstream vanish under held connections.
        self.proxy.take();
        self.peer.take();
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads the server's stdout up to its listening line (at most a few lines) and returns the address;
/// the rest of its output is drained on a thread so the pipe never fills.
fn read_listening_addr(stdout: std::process::ChildStdout, prefix: &str) -> io::Result<SocketAddr> {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    for _ in 0..20 {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        if let Some(rest) = line.trim().strip_prefix(prefix) {
            let addr = rest.split('/').next().unwrap_or_default();
            let addr = addr
                .parse()
                .map_err(|e| io::Error::other(format!("{addr}: {e}")))?;
            std::thread::spawn(move || io::copy(&mut reader, &mut io::sink()));
            return Ok(addr);
        }
    }
    Err(io::Error::other("the server never said where it listens"))
}

/// `http://HOST:PORT/` (or `HOST:PORT`) as a socket address; loopback only.
pub fn parse_url(url: &str) -> Result<SocketAddr, String> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let host_port = rest.split('/').next().unwrap_or_default();
    let addr: SocketAddr = host_port
        .replace("localhost", "127.0.0.1")
        .parse()
        .map_err(|e| format!("--url {url}: {e} (give http://127.0.0.1:PORT/)"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("--url {url}: the lab runs over loopback only"));
    }
    Ok(addr)
}
