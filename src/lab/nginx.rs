//! A real reverse proxy in front of the server: Debian's `nginx`, started from a generated config.
//!
//! Every chapter warns that a proxy may buffer a held response and so break a push technique. This
//! module makes that measurable: [`Nginx::start`] writes a config into a fresh temporary directory
//! (config, pid file, error log and every temp path inside it), starts `nginx` as a child process on a
//! free 127.0.0.1 port, and stops that child by its PID when dropped. It never touches an nginx the
//! system runs.
//!
//! What the config does, and why:
//!
//! - `proxy_http_version 1.1` with an `upstream` block holding `keepalive` connections: nginx speaks
//!   HTTP/1.0 upstream by default, which has no chunked coding and no keep-alive (RFC 9112 §7.1 and
//!   §9.3 are HTTP/1.1's).
//! - `Upgrade` passed on and `Connection` mapped from it: both are hop-by-hop (RFC 9110 §7.6.1), so a
//!   proxy drops them unless told; without them the WebSocket handshake (RFC 6455 §4.1) never reaches
//!   the server. A request without `Upgrade` gets an empty `Connection`, so the upstream connection
//!   stays reusable.
//! - `Host` as the client sent it (`$http_host`) and `Origin` passed on: the server checks both (the
//!   Host allow-list accepts IP literals and `localhost`; writes from a foreign Origin get 403).
//! - Read and send timeouts of an hour: a long poll is held 20 s and a stream for as long as the
//!   client stays; nginx's default of 60 s would cut them.
//! - Response buffering, the point of the exercise, chosen by [`Buffering`].
//!
//! # Buffering, `X-Accel-Buffering`, and what actually holds a stream back
//!
//! With `proxy_buffering on` (nginx's default) nginx reads the upstream response into its buffers as
//! fast as the server sends it, whatever the client's speed, and spills to temp files when they fill.
//! A response can turn that off for itself with the header `X-Accel-Buffering: no`, which nginx
//! honours per response even with buffering on; pushlab's SSE, XHR-stream and iframe doors all send it
//! (see [`crate::transport::sse`]).
//!
//! Measured here (nginx 1.22, `tests/lab_proxy.rs`): while the client keeps up, every door delivers
//! each message at once in all three [`Buffering`] modes, even [`Buffering::IgnoreAccelHeader`], which
//! makes nginx ignore the header. The reason is the upstream's framing: over HTTP/1.1 the streams are
//! chunked (RFC 9112 §7.1), and nginx's chunked reader hands every complete chunk on as soon as it
//! has it. Buffering shows once the client falls behind: with it on, nginx drains the server whatever
//! the client's speed and spills the backlog to a temp file, and a message that arrives behind the
//! spilled bytes waits in a part-filled buffer until more bytes fill it. The client catches up with
//! the backlog and then sits without the last message. With the header honoured (nginx's default) the
//! stream stays unbuffered, the backlog stays in the server (which pauses the subscriber and resumes
//! it from the topic log as the socket drains), and the last message comes with the rest.
//!
//! A second pitfall is nginx's own default `proxy_http_version 1.0`: an HTTP/1.0 response has no
//! chunks and ends at close, so a buffering proxy would hold it until its buffers fill. pushlab
//! refuses a stream over HTTP/1.0 (`505 HTTP Version Not Supported`) rather than stream without
//! framing, so behind such a proxy the streaming doors fail outright; this config always says
//! `proxy_http_version 1.1`.

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::peers::{find_program, ChildServer};

/// Where Debian installs nginx; `PATH` is searched when it is not there.
pub const USUAL_PATH: &str = "/usr/sbin/nginx";

/// How long nginx may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts at a free port: the port is found by binding and releasing it, so another process may
/// take it before nginx binds it.
const PORT_ATTEMPTS: u32 = 3;

/// What nginx does with a response body on its way to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Buffering {
    /// nginx's default: `proxy_buffering on`, which a response can turn off for itself with
    /// `X-Accel-Buffering: no`.
    Default,
    /// `proxy_buffering off`: every byte is passed on as it arrives.
    Off,
    /// `proxy_buffering on` and `proxy_ignore_headers X-Accel-Buffering`: buffering that no response
    /// can turn off, as behind a proxy that does not know nginx's header.
    IgnoreAccelHeader,
}

impl Buffering {
    /// Every mode, for the lab's table.
    pub const ALL: [Buffering; 3] = [
        Buffering::Default,
        Buffering::Off,
        Buffering::IgnoreAccelHeader,
    ];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Buffering::Default => "nginx-default",
            Buffering::Off => "nginx-buffering-off",
            Buffering::IgnoreAccelHeader => "nginx-ignore-accel",
        }
    }

    /// The directives that set it.
    fn directives(self) -> &'static str {
        match self {
            Buffering::Default => "proxy_buffering on;",
            Buffering::Off => "proxy_buffering off;",
            Buffering::IgnoreAccelHeader => {
                "proxy_buffering on;\n            proxy_ignore_headers X-Accel-Buffering;"
            }
        }
    }
}

/// A running nginx in front of one upstream, stopped by its PID when dropped.
#[derive(Debug)]
pub struct Nginx {
    addr: SocketAddr,
    // Declared before the directory: fields drop in order, so the process stops before its files go.
    child: ChildServer,
    dir: TempDir,
}

impl Nginx {
    /// Whether an nginx binary is installed.
    pub fn available() -> bool {
        find_program("nginx", Some(USUAL_PATH)).is_some()
    }

    /// Starts nginx on a free 127.0.0.1 port, proxying every path to `upstream`, and waits until it
    /// accepts connections.
    pub fn start(upstream: SocketAddr, buffering: Buffering) -> io::Result<Nginx> {
        let program = find_program("nginx", Some(USUAL_PATH))
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "nginx is not installed"))?;
        let mut last_error = io::Error::other("no attempt");
        for _ in 0..PORT_ATTEMPTS {
            match start_once(&program, upstream, buffering) {
                Ok(nginx) => return Ok(nginx),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id (with `master_process off` the one process that serves).
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The directory holding its config, pid file, logs and temp files.
    pub fn dir(&self) -> &Path {
        &self.dir.path
    }
}

fn start_once(program: &Path, upstream: SocketAddr, buffering: Buffering) -> io::Result<Nginx> {
    let dir = TempDir::new("pushlab-nginx")?;
    let addr = SocketAddr::from(([127, 0, 0, 1], free_loopback_port()?));
    let config_path = dir.path.join("nginx.conf");
    fs::write(&config_path, config(&dir.path, addr, upstream, buffering))?;
    let mut command = Command::new(program);
    command
        .arg("-p")
        .arg(&dir.path)
        .arg("-c")
        .arg(&config_path)
        // Before it reads the config nginx opens its compiled-in error log; `-e` moves that too.
        .arg("-e")
        .arg(dir.path.join("error.log"));
    let mut child = ChildServer::spawn(command, "nginx", Stdio::null())?;
    match wait_until_accepting(&mut child, addr) {
        Ok(()) => Ok(Nginx { addr, child, dir }),
        Err(error) => {
            let log = fs::read_to_string(dir.path.join("error.log")).unwrap_or_default();
            Err(io::Error::new(
                error.kind(),
                format!("{error}; error log: {}", log.trim()),
            ))
        }
    }
}

/// Connects every 20 ms until nginx accepts, it exits, or [`START_TIMEOUT`] passes.
fn wait_until_accepting(child: &mut ChildServer, addr: SocketAddr) -> io::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if let Some(status) = child.exit_status()? {
            return Err(io::Error::other(format!("nginx exited: {status}")));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("nginx did not accept on {addr} within {START_TIMEOUT:?}"),
    ))
}

/// A port that was free a moment ago: bound to 127.0.0.1:0 and released.
fn free_loopback_port() -> io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// The whole nginx config. One process (`master_process off`), so the PID the lab holds is the one
/// that serves, and stopping it leaves no worker behind; `daemon off` keeps it our child.
pub fn config(
    dir: &Path,
    listen: SocketAddr,
    upstream: SocketAddr,
    buffering: Buffering,
) -> String {
    let dir = dir.display();
    let buffering = buffering.directives();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;

events {{
    worker_connections 16384;
}}

http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;

    # Upgrade asks for the WebSocket; no Upgrade leaves Connection empty, keeping the upstream alive.
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      '';
    }}

    upstream pushlab {{
        server {upstream};
        keepalive 64;
    }}

    server {{
        listen {listen};
        keepalive_timeout 3600s;
        send_timeout 3600s;

        location / {{
            proxy_pass http://pushlab;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header Origin $http_origin;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
            {buffering}
        }}
    }}
}}
"#
    )
}

/// A fresh directory under the system's temp directory, removed with everything in it when dropped
/// (nginx's files here, Chromium's profile in [`super::browser`]).
#[derive(Debug)]
pub(crate) struct TempDir {
    pub(crate) path: PathBuf,
}

impl TempDir {
    /// `{tmp}/{prefix}-{pid}-{n}`: the process id and a counter make it unique among concurrent labs.
    pub(crate) fn new(prefix: &str) -> io::Result<TempDir> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()));
        // A directory left by an earlier process with the same id is stale.
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path)?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_proxies_with_upgrade_and_the_chosen_buffering() {
        let listen = "127.0.0.1:8081".parse().unwrap();
        let upstream = "127.0.0.1:8080".parse().unwrap();
        let text = config(Path::new("/tmp/x"), listen, upstream, Buffering::Off);
        for line in [
            "listen 127.0.0.1:8081;",
            "server 127.0.0.1:8080;",
            "proxy_http_version 1.1;",
            "proxy_set_header Upgrade $http_upgrade;",
            "proxy_set_header Connection $connection_upgrade;",
            "proxy_set_header Host $http_host;",
            "proxy_buffering off;",
            "pid /tmp/x/nginx.pid;",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        let default = config(Path::new("/tmp/x"), listen, upstream, Buffering::Default);
        assert!(default.contains("proxy_buffering on;"));
        assert!(!default.contains("proxy_ignore_headers"));
        let forced = config(
            Path::new("/tmp/x"),
            listen,
            upstream,
            Buffering::IgnoreAccelHeader,
        );
        assert!(forced.contains("proxy_ignore_headers X-Accel-Buffering;"));
    }
}
