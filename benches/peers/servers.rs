//! The three echo servers under comparison, each the body of a child process of the bench binary.
//!
//! Every server listens on its own ephemeral port of 127.0.0.1, answers `GET /ws/echo` (the references
//! answer any path) with a WebSocket, and sends every text and binary message back unchanged. Each runs
//! on one thread: pushlab's `mio` loop, and a `current_thread` tokio runtime for the two references, so
//! all three use one core for the same work.
//!
//! A child announces its port with one line `PORT n` on standard output and serves until its standard
//! input closes (the parent closing the pipe, or the parent dying), then exits.

use std::io::{self, BufRead, Write};
use std::net::SocketAddr;

/// The environment variable that turns the bench binary into one of the servers.
pub const ROLE_VAR: &str = "PUSHLAB_BENCH_SERVER";

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// pushlab's own server (`pushlab::server::Server`).
    Pushlab,
    /// tokio-tungstenite on a `current_thread` runtime.
    TokioTungstenite,
    /// fastwebsockets behind hyper 1 on a `current_thread` runtime.
    Fastwebsockets,
}

impl Kind {
    /// Every server, pushlab first.
    pub const ALL: [Kind; 3] = [Kind::Pushlab, Kind::TokioTungstenite, Kind::Fastwebsockets];

    /// The name used in the table and in [`ROLE_VAR`].
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pushlab => "pushlab",
            Kind::TokioTungstenite => "tokio-tungstenite",
            Kind::Fastwebsockets => "fastwebsockets",
        }
    }

    /// The server called `name`.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// Runs server `kind` in this process until standard input closes.
pub fn serve(kind: Kind) -> io::Result<()> {
    exit_when_stdin_closes()?;
    match kind {
        Kind::Pushlab => serve_pushlab(),
        Kind::TokioTungstenite => current_thread_runtime()?.block_on(tungstenite_peer::serve()),
        Kind::Fastwebsockets => current_thread_runtime()?.block_on(fastwebsockets_peer::serve()),
    }
}

fn loopback_any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Tells the parent where we listen.
fn announce(addr: SocketAddr) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "PORT {}", addr.port())?;
    stdout.flush()
}

/// A watcher thread that ends the process once the parent closes our standard input. It sleeps in a
/// blocking read the whole time, so it takes no CPU from the server.
fn exit_when_stdin_closes() -> io::Result<()> {
    std::thread::Builder::new()
        .name("stdin-watch".into())
        .spawn(|| {
            let mut line = String::new();
            while matches!(io::stdin().lock().read_line(&mut line), Ok(n) if n > 0) {
                line.clear();
            }
            std::process::exit(0);
        })?;
    Ok(())
}

fn current_thread_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
}

/// pushlab's whole server, as `cargo run` starts it, without the `clock` topic's ticks (the other two
/// servers have no timer work either), and without the per-address limits, which the other two do not
/// have and which a load from one address would meet first (5,000 idle connections in row (d)).
fn serve_pushlab() -> io::Result<()> {
    let config = pushlab::Config {
        addr: loopback_any_port(),
        clock_interval: None,
        max_connections_per_ip: usize::MAX,
        publish_rate_per_ip: 0,
        ..pushlab::Config::default()
    };
    let server = pushlab::server::Server::bind(config)?;
    announce(server.local_addr()?)?;
    server.run()
}

/// tokio-tungstenite's echo server, as its README writes it: `accept_async`, then `next` and `send`.
mod tungstenite_peer {
    use futures_util::{SinkExt, StreamExt};
    use std::io;
    use tokio::net::{TcpListener, TcpStream};

    pub async fn serve() -> io::Result<()> {
        let listener = TcpListener::bind(super::loopback_any_port()).await?;
        super::announce(listener.local_addr()?)?;
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                if let Err(error) = echo(stream).await {
                    eprintln!("tokio-tungstenite: {error}");
                }
            });
        }
    }

    async fn echo(stream: TcpStream) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        let mut websocket = tokio_tungstenite::accept_async(stream).await?;
        while let Some(message) = websocket.next().await {
            let message = message?;
            if message.is_text() || message.is_binary() {
                websocket.send(message).await?;
            }
        }
        Ok(())
    }
}

/// fastwebsockets' echo server, as its `examples/echo_server.rs` writes it: hyper 1 answers the upgrade,
/// a `FragmentCollector` reads whole messages, and each connection runs `unconstrained`.
mod fastwebsockets_peer {
    use fastwebsockets::{upgrade, FragmentCollector, OpCode, WebSocketError};
    use http_body_util::Empty;
    use hyper::body::{Bytes, Incoming};
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper::{Request, Response};
    use hyper_util::rt::TokioIo;
    use std::io;
    use tokio::net::TcpListener;

    pub async fn serve() -> io::Result<()> {
        let listener = TcpListener::bind(super::loopback_any_port()).await?;
        super::announce(listener.local_addr()?)?;
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                let connection = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(answer_upgrade))
                    .with_upgrades();
                if let Err(error) = connection.await {
                    eprintln!("fastwebsockets: {error}");
                }
            });
        }
    }

    async fn answer_upgrade(
        mut request: Request<Incoming>,
    ) -> Result<Response<Empty<Bytes>>, WebSocketError> {
        let (response, upgraded) = upgrade::upgrade(&mut request)?;
        tokio::spawn(async move {
            if let Err(error) = tokio::task::unconstrained(echo(upgraded)).await {
                eprintln!("fastwebsockets: {error}");
            }
        });
        Ok(response)
    }

    async fn echo(upgraded: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
        let mut websocket = FragmentCollector::new(upgraded.await?);
        loop {
            let frame = websocket.read_frame().await?;
            match frame.opcode {
                OpCode::Close => return Ok(()),
                OpCode::Text | OpCode::Binary => websocket.write_frame(frame).await?,
                _ => {}
            }
        }
    }
}
