//! Chapter 12: the channel API, an application that talks to one client whatever its transport.
//!
//! ```text
//! cargo run --example 12_channel                       # the scenes below, then exit
//! cargo run --example 12_channel -- --serve            # then keep serving: open the printed page
//! cargo run --example 12_channel -- --serve --refuse-websocket   # and watch auto mode fall back
//! ```
//!
//! The application is `Tally`, twenty lines of Rust that never mention HTTP or WebSocket: it greets each
//! client privately, answers each message privately with that client's own count, and publishes the room's
//! total to the public topic `tally`. Four scenes against an in-process server:
//! 1. Alice opens a session with `POST /channel/tally` and reads her private queue by long polling.
//! 2. Alice sends by `POST /channel/tally/{id}`; Bob opens a session and talks over a WebSocket on his
//!    private topic. Each hears only his or her own answers.
//! 3. The public topic `tally`, read by a short poll, has what the application published for everyone.
//! 4. Alice closes her session: `on_close` runs, and the server forgets her (`GET` on the session: 404).
//!
//! With `--serve` the server stays up and `/channel.html?app=tally` is the same application in a browser,
//! through `pushlab.session("tally", {transport})` and any of the seven transports.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use pushlab::channel::{ChannelHandler, ClientId, Outbox};
use pushlab::client::ws::Client;
use pushlab::client::{http, json, poll};
use pushlab::ws::Event;
use pushlab::Config;

// ANCHOR: tally
/// Counts messages per client and in total. All it knows of the network is a client id and an outbox.
#[derive(Default)]
struct Tally {
    /// Messages received from each client with an open session.
    per_client: HashMap<ClientId, u64>,
    total: u64,
}

impl ChannelHandler for Tally {
    fn on_open(&mut self, client: &ClientId, outbox: &mut Outbox) {
        self.per_client.insert(client.clone(), 0);
        outbox.send(
            client,
            format!("hello; clients here now: {}", self.per_client.len()),
        );
    }

    fn on_message(&mut self, client: &ClientId, data: &str, outbox: &mut Outbox) {
        let count = self.per_client.entry(client.clone()).or_insert(0);
        *count += 1;
        self.total += 1;
        // To this client alone (its private queue, `session-<id>`)...
        outbox.send(client, format!("your message #{count}: {data:?}"));
        // ...and to everyone subscribed to a public topic.
        outbox.publish("tally", format!("messages so far: {}", self.total));
    }

    fn on_close(&mut self, client: &ClientId, outbox: &mut Outbox) {
        self.per_client.remove(client);
        outbox.publish(
            "tally",
            format!("a client left, {} remain", self.per_client.len()),
        );
    }
}
// ANCHOR_END: tally

fn main() -> io::Result<()> {
    let options = Options::from_args()?;
    let config = Config {
        addr: options.addr,
        clock_interval: None,
        refuse_websocket: options.refuse_websocket,
        ..Config::default()
    };
    // ANCHOR: register
    // Handlers live on the server's own thread, so they are registered there, before it starts serving.
    let server = pushlab::server::spawn_with(config, |server| {
        server.register_channel("tally", Box::new(Tally::default()));
    })?;
    // ANCHOR_END: register
    let addr = server.addr;
    println!("pushlab listening on http://{addr}/\n");

    // ANCHOR: open
    // Scene 1. A session is opened by a POST; the answer names the session and its private topic.
    let alice = open_session(addr, "alice")?;
    // The private queue is a topic like any other: any door reads it. `after=0` because the greeting was
    // queued before we asked.
    let greeting = poll::long_poll(addr, &alice.topic, Some(0), poll::LONG_POLL_TIMEOUT)?;
    show("alice's queue by long poll", &greeting);
    // ANCHOR_END: open

    // ANCHOR: send
    // Scene 2. Upstream over HTTP: the body goes to the application's on_message, not to a topic.
    for text in ["one", "two"] {
        let answer = http::post(
            addr,
            &format!("/channel/tally/{}", alice.id),
            text.as_bytes(),
        )?;
        println!(
            "POST /channel/tally/{} {text:?} -> {}",
            short(&alice.id),
            answer.status
        );
    }
    let answers = poll::long_poll(
        addr,
        &alice.topic,
        Some(greeting.last),
        poll::LONG_POLL_TIMEOUT,
    )?;
    show("alice's answers", &answers);

    // Bob uses the WebSocket door on his private topic. A text frame there goes to the application too.
    let bob = open_session(addr, "bob")?;
    if options.refuse_websocket {
        println!("(--refuse-websocket: Bob's WebSocket scene is skipped)\n");
    } else {
        let mut socket = Client::connect(addr, &format!("/ws/{}?after=0", bob.topic))?;
        socket.set_read_timeout(Some(Duration::from_secs(5)))?;
        socket.send_text("hi from bob")?;
        for _ in 0..2 {
            if let Event::Text(frame) = socket.recv()? {
                println!("bob's socket <- {frame}");
            }
        }
        socket.close_normal()?;
        println!();
    }
    // ANCHOR_END: send

    // ANCHOR: public
    // Scene 3. What the application published for everyone.
    let public = poll::short_poll(addr, "tally", Some(0))?;
    show("the public topic tally", &public);
    // ANCHOR_END: public

    // ANCHOR: close
    // Scene 4. Closing runs on_close at once; without it the session would end after the grace period
    // (30 s by default) with nobody connected.
    let closed = http::post(addr, &format!("/channel/tally/{}/close", alice.id), b"")?;
    println!(
        "POST /channel/tally/{}/close -> {}",
        short(&alice.id),
        closed.status
    );
    let status = http::get(addr, &format!("/channel/tally/{}", alice.id))?;
    println!(
        "GET /channel/tally/{} -> {} (forgotten)",
        short(&alice.id),
        status.status
    );
    let public = poll::short_poll(addr, "tally", Some(public.last))?;
    show("the public topic, after", &public);
    // ANCHOR_END: close

    if options.serve {
        println!("serving: open http://{addr}/channel.html?app=tally (Ctrl-C stops it)");
        loop {
            std::thread::park();
        }
    }
    Ok(())
}

/// A session: its id and its private topic.
struct Session {
    id: String,
    topic: String,
}

/// `POST /channel/tally`, printing the answer.
fn open_session(addr: SocketAddr, who: &str) -> io::Result<Session> {
    let answer = http::post(addr, "/channel/tally", b"")?;
    let body = answer.text()?;
    println!("{who}: POST /channel/tally -> {} {body}", answer.status);
    let parsed = json::parse(body).map_err(io::Error::other)?;
    let field = |name: &str| {
        parsed
            .get(name)
            .and_then(|value| value.as_str())
            .map(str::to_string)
            .ok_or_else(|| io::Error::other(format!("no {name} in {body}")))
    };
    Ok(Session {
        id: field("session")?,
        topic: field("topic")?,
    })
}

fn show(what: &str, batch: &poll::Batch) {
    println!("{what}:");
    for message in &batch.messages {
        println!("  #{} {}", message.id, message.data);
    }
    println!();
}

/// The first 8 hex digits of a session id: enough to tell sessions apart on screen.
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn usage() -> io::Error {
    io::Error::other("usage: [--addr HOST:PORT] [--serve] [--refuse-websocket]")
}

struct Options {
    addr: SocketAddr,
    serve: bool,
    refuse_websocket: bool,
}

impl Options {
    fn from_args() -> io::Result<Options> {
        let mut options = Options {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            serve: false,
            refuse_websocket: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--addr" => {
                    let addr = args.next().ok_or_else(usage)?;
                    options.addr = addr.parse().map_err(io::Error::other)?;
                }
                "--serve" => options.serve = true,
                "--refuse-websocket" => options.refuse_websocket = true,
                _ => return Err(usage()),
            }
        }
        Ok(options)
    }
}
