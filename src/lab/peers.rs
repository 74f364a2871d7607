//! Reference servers from npm, run beside pushlab so the lab can measure what a user would pick
//! instead, in the same run and with the same clients.
//!
//! Two peers live in `benches/peers/npm/`, pinned by `package.json` and `package-lock.json`:
//!
//! | peer | file | doors |
//! |---|---|---|
//! | [`PeerKind::NodeHttpWs`] | `http_ws.js`: Node's `http` module and the `ws` package | long poll, SSE, XHR stream, WebSocket, all on pushlab's URL contract |
//! | [`PeerKind::Sockjs`] | `sockjs.js`: the `sockjs` server | its transports, mapped to pushlab's doors (see the file's header) |
//!
//! Both publish with pushlab's `POST /publish/{topic}` and carry each message as pushlab's JSON object
//! `{"id":N,"data":".."}`, so a client tells the servers apart only by where a door is and, for SockJS,
//! by its session framing.
//!
//! [`Peer::start`] runs `npm ci` once (when `node_modules` is missing), starts `node FILE 0`, reads the
//! address from the first line the server prints (`listening on 127.0.0.1:PORT`), and stops the child
//! by its PID when dropped. [`Peer::pid`] is for reading its CPU time and memory from `/proc`.
//!
//! The child-process helpers at the end ([`find_program`], [`ChildServer`]) are shared with
//! [`super::nginx`].

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The npm project of the peers.
pub const NPM_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peers/npm");

/// How long a peer may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How long `npm ci` may take (it fetches from the registry when its cache is cold).
const NPM_CI_TIMEOUT: Duration = Duration::from_secs(300);

/// One `npm ci` at a time, so tests starting peers in parallel do not install over each other.
static NPM_CI: Mutex<()> = Mutex::new(());

/// A pushlab door, as far as the peers are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Door {
    /// `GET /longpoll/{topic}`; on SockJS the `xhr` polling transport.
    LongPoll,
    /// `GET /stream/{topic}`; on SockJS `xhr_streaming`.
    XhrStream,
    /// `GET /iframe/{topic}`; on SockJS `htmlfile`.
    Iframe,
    /// `GET /jsonp/{topic}`; on SockJS `jsonp`.
    Jsonp,
    /// `GET /sse/{topic}`; on SockJS `eventsource`.
    Sse,
    /// `GET /ws/{topic}`; on SockJS the raw WebSocket at `/sockjs/websocket`.
    WebSocket,
}

/// Which reference server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeerKind {
    /// Node's `http` module with the `ws` package (`http_ws.js`).
    NodeHttpWs,
    /// The `sockjs` server (`sockjs.js`).
    Sockjs,
}

impl PeerKind {
    /// Both peers.
    pub const ALL: [PeerKind; 2] = [PeerKind::NodeHttpWs, PeerKind::Sockjs];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            PeerKind::NodeHttpWs => "node-http-ws",
            PeerKind::Sockjs => "sockjs",
        }
    }

    /// The doors it offers, each tested in `tests/lab_peers.rs`. SockJS has no short poll (its `xhr`
    /// transport holds the request, so it stands in for long polling).
    pub fn doors(self) -> &'static [Door] {
        match self {
            PeerKind::NodeHttpWs => &[Door::LongPoll, Door::XhrStream, Door::Sse, Door::WebSocket],
            PeerKind::Sockjs => &[
                Door::LongPoll,
                Door::XhrStream,
                Door::Iframe,
                Door::Jsonp,
                Door::Sse,
                Door::WebSocket,
            ],
        }
    }

    /// The server's file in [`NPM_DIR`].
    fn script(self) -> &'static str {
        match self {
            PeerKind::NodeHttpWs => "http_ws.js",
            PeerKind::Sockjs => "sockjs.js",
        }
    }
}

/// A running reference server, stopped by its PID when dropped.
#[derive(Debug)]
pub struct Peer {
    kind: PeerKind,
    addr: SocketAddr,
    child: ChildServer,
}

impl Peer {
    /// Whether `node` and `npm` are installed.
    pub fn available() -> bool {
        find_program("node", None).is_some() && find_program("npm", None).is_some()
    }

    /// Installs the pinned packages if needed, starts the peer on a free loopback port and waits for
    /// its address.
    pub fn start(kind: PeerKind) -> io::Result<Peer> {
        install_packages()?;
        let node = find_program("node", None).ok_or_else(|| not_found("node"))?;
        let mut command = Command::new(node);
        command.current_dir(NPM_DIR).args([kind.script(), "0"]);
        let mut child = ChildServer::spawn(command, kind.name(), Stdio::piped())?;
        let addr = child.read_announced_addr(START_TIMEOUT)?;
        Ok(Peer { kind, addr, child })
    }

    /// Which peer this is.
    pub fn kind(&self) -> PeerKind {
        self.kind
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id, for `/proc/{pid}/stat` (CPU time) and `/proc/{pid}/status` (RSS).
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }
}

/// Runs `npm ci` in [`NPM_DIR`] when `node_modules` is missing: it installs exactly what
/// `package-lock.json` pins, or fails if the lock and `package.json` disagree.
fn install_packages() -> io::Result<()> {
    let _one_at_a_time = NPM_CI
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if Path::new(NPM_DIR).join("node_modules").is_dir() {
        return Ok(());
    }
    let npm = find_program("npm", None).ok_or_else(|| not_found("npm"))?;
    let mut command = Command::new(npm);
    command
        .current_dir(NPM_DIR)
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]);
    let mut child = ChildServer::spawn(command, "npm ci", Stdio::null())?;
    let status = child.wait(NPM_CI_TIMEOUT)?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("npm ci failed: {status}")))
    }
}

fn not_found(program: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{program} is not installed"),
    )
}

/// The program at `usual_path` if it exists there, else the first `name` on `PATH`.
pub fn find_program(name: &str, usual_path: Option<&str>) -> Option<PathBuf> {
    let usual = usual_path.map(PathBuf::from).filter(|path| path.is_file());
    usual.or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// A child process this crate started: killed by its own PID and reaped when dropped, never looked up
/// by name. Its stdin is a pipe held open, so a child that exits when its stdin closes (the peers do)
/// also goes when this process dies without dropping it.
#[derive(Debug)]
pub struct ChildServer {
    child: Child,
    stdin: Option<ChildStdin>,
    name: &'static str,
}

impl ChildServer {
    /// Starts `command` with stdin piped, stdout as given (piped to read the address, or null for a
    /// program whose output nobody reads, which could otherwise fill the pipe and block) and stderr
    /// discarded.
    pub fn spawn(
        mut command: Command,
        name: &'static str,
        stdout: Stdio,
    ) -> io::Result<ChildServer> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take();
        Ok(ChildServer { child, stdin, name })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited, and how.
    pub fn exit_status(&mut self) -> io::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait()
    }

    /// Waits at most `timeout` for it to exit (polling every 50 ms); kills it if it has not.
    pub fn wait(&mut self, timeout: Duration) -> io::Result<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stop();
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{} did not finish in {timeout:?}", self.name),
        ))
    }

    /// Reads stdout's first line, `listening on HOST:PORT`, within `timeout`. The read runs on a
    /// thread so that a child that prints nothing cannot hang the caller.
    pub fn read_announced_addr(&mut self, timeout: Duration) -> io::Result<SocketAddr> {
        let stdout = self
            .child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("stdout already taken"))?;
        let (line_sender, line_receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            let _ = line_sender.send(read);
        });
        let line = match line_receiver.recv_timeout(timeout) {
            Ok(read) => read?,
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{} printed no address in {timeout:?}", self.name),
                ))
            }
        };
        line.trim()
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok())
            .ok_or_else(|| {
                io::Error::other(format!("{}: unexpected first line {line:?}", self.name))
            })
    }

    /// Kills it (SIGKILL to its PID) and reaps it; nothing if it already exited.
    pub fn stop(&mut self) {
        self.stdin.take();
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        self.stop();
    }
}
