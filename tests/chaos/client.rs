//! A fake browser client: it opens its door, reads what comes in random amounts, checks every message
//! against its [`Ledger`], and when the connection ends (or it drops it on purpose) reconnects with its
//! cursor, the way `static/pushlab.js` does.
//!
//! Its own faults, drawn from its own [`Rng`] while faults are on: it hangs up at random (a FIN, a
//! reset, or for a WebSocket a close frame first), and it stops reading for a while (a busy tab), long
//! enough, with the clock jumping, for the server to give up on it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::doors::{BodyDecoder, Door, Seen, WsReader};
use super::http::{Part, ResponseReader};
use super::ledger::{Ledger, Published};
use super::net::{ConnId, Net, Recv};
use super::rng::Rng;

/// How many of a client's last events a failure report shows.
const TRACE_LENGTH: usize = 24;

/// A held response or socket that has said nothing for this long is dropped and reopened (the browser
/// client's watchdog: twice the heartbeat interval, or a long poll's hold with room to spare).
const WATCHDOG: Duration = Duration::from_secs(45);

/// Most response parts one read may complete (a head, a body and an end per response).
const MAX_PARTS_PER_READ: usize = 100_000;

/// How often each of the client's own faults strikes while faults are on (one in N turns).
const HANG_UP_ONE_IN: u64 = 150;
const STALL_ONE_IN: u64 = 250;

/// Where a connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between two requests on a keep-alive connection.
    Idle,
    /// A request went out; its response is being read.
    Response,
    /// A WebSocket after its `101`.
    Socket,
}

/// One open connection of a client.
struct Conn {
    id: ConnId,
    phase: Phase,
    reader: ResponseReader,
    decoder: BodyDecoder,
    ws: Option<WsReader>,
    /// When the connection last brought anything.
    heard_at: Instant,
}

/// What a piece of input did to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Nothing that changes the connection.
    Reading,
    /// A response ended: the connection is free for the next request.
    Answered,
    /// A status a browser retries (503, 408): reconnect.
    Refused(u16),
    /// The server's WebSocket close frame: its end of the TCP connection follows.
    SocketClosed,
}

impl Conn {
    /// Feeds bytes from the server to the door's parsers; what they learned goes to `seen`, what the
    /// WebSocket protocol must answer to `answers`.
    fn take_in(
        &mut self,
        door: Door,
        bytes: &[u8],
        now: Instant,
        answers: &mut Vec<u8>,
        seen: &mut Vec<Seen>,
    ) -> Result<Outcome, String> {
        if let Some(ws) = self.ws.as_mut() {
            ws.feed(bytes, now, answers, seen)?;
            return Ok(if ws.closed_by_server {
                Outcome::SocketClosed
            } else {
                Outcome::Reading
            });
        }
        self.reader.feed(bytes);
        let mut outcome = Outcome::Reading;
        for _ in 0..MAX_PARTS_PER_READ {
            let Some(part) = self.reader.next_part()? else {
                return Ok(outcome);
            };
            match part {
                Part::Head(head) if !door.check_head(&head)? => {
                    return Ok(Outcome::Refused(head.status))
                }
                Part::Head(head) if head.status == 101 => {
                    let mut ws = WsReader::new(head.header("sec-websocket-accept"), now)?;
                    ws.feed(&self.reader.take_rest(), now, answers, seen)?;
                    self.ws = Some(ws);
                    self.phase = Phase::Socket;
                    return Ok(Outcome::Reading);
                }
                Part::Head(_) => {}
                Part::Body(body) => self.decoder.body(&body, seen)?,
                Part::End => {
                    self.decoder.end(seen)?;
                    self.decoder = BodyDecoder::new(door);
                    self.phase = Phase::Idle;
                    outcome = Outcome::Answered;
                }
            }
        }
        Err(format!(
            "more than {MAX_PARTS_PER_READ} response parts in one read"
        ))
    }
}

/// Counters printed after a run.
#[derive(Debug, Default, Clone, Copy)]
pub struct ClientStats {
    /// Connections opened.
    pub connects: usize,
    /// Requests sent.
    pub requests: usize,
    /// Hang-ups by the client's own choice.
    pub hang_ups: usize,
    /// Stalls (periods without reading).
    pub stalls: usize,
    /// Connections the server ended (EOF or reset).
    pub ended_by_server: usize,
    /// Connections dropped by the watchdog.
    pub watchdog: usize,
    /// Answers a browser retries (408 for a request that arrived too slowly, 503).
    pub refused: usize,
}

/// A fake client of one door (see the module docs).
pub struct Client {
    /// Its number in the run, for reports.
    pub index: usize,
    door: Door,
    rng: Rng,
    /// Its cursor and the exactly-once rule.
    pub ledger: Ledger,
    first_after: u64,
    /// Added to the cursor in every request once a message has arrived: 0 in a real run; +1 or -1
    /// in the runs that show the ledger catches a door that skips or repeats a message.
    resume_offset: i64,
    conn: Option<Conn>,
    /// Turn before which it does not reconnect (its backoff) or send its next short poll.
    wait_until_turn: u64,
    /// Turn before which it reads nothing.
    stalled_until_turn: u64,
    /// Its last events, newest last.
    pub trace: VecDeque<String>,
    /// What it went through.
    pub stats: ClientStats,
}

impl Client {
    /// A client of `door` whose first request asks for the messages after `first_after`.
    pub fn new(index: usize, door: Door, rng: Rng, first_after: u64, resets_allowed: bool) -> Self {
        Client {
            index,
            door,
            rng,
            ledger: Ledger::new(first_after, resets_allowed, door == Door::Sse),
            first_after,
            resume_offset: 0,
            conn: None,
            wait_until_turn: 0,
            stalled_until_turn: 0,
            trace: VecDeque::new(),
            stats: ClientStats::default(),
        }
    }

    /// Makes the client resume `offset` ids away from its cursor, to prove the checks can fail.
    pub fn sabotage(&mut self, offset: i64) {
        self.resume_offset = offset;
    }

    /// The client's part of one turn: reconnect, its own faults, read and check, ask again.
    pub fn step(&mut self, net: &mut Net, published: &Published, turn: u64) -> Result<(), String> {
        if self.conn.is_none() {
            if turn >= self.wait_until_turn {
                self.open(net, turn);
            }
            return Ok(());
        }
        if net.faults.is_some() {
            if self.rng.one_in(HANG_UP_ONE_IN) {
                self.stats.hang_ups += 1;
                self.hang_up(net, turn, "hangs up on purpose");
                return Ok(());
            }
            if self.rng.one_in(STALL_ONE_IN) {
                self.stats.stalls += 1;
                self.stalled_until_turn = turn + self.rng.between(1, 120) as u64;
                self.note(
                    net,
                    format!("stops reading until turn {}", self.stalled_until_turn),
                );
            }
        }
        if turn < self.stalled_until_turn {
            return Ok(());
        }
        self.read(net, published, turn)?;
        self.ask_again(net, turn);
        self.watch(net, turn)
    }

    /// The run is over: the client hangs up for good.
    pub fn leave(&mut self, net: &mut Net, turn: u64) {
        self.hang_up(net, turn, "leaves");
    }

    /// Opens a connection and sends the door's request with the cursor.
    fn open(&mut self, net: &mut Net, turn: u64) {
        let Some(id) = net.connect() else {
            self.note(net, "refused at accept".into());
            self.wait_until_turn = turn + 5;
            return;
        };
        self.stats.connects += 1;
        self.conn = Some(Conn {
            id,
            phase: Phase::Idle,
            reader: ResponseReader::default(),
            decoder: BodyDecoder::new(self.door),
            ws: None,
            heard_at: net.now,
        });
        self.send_request(net);
    }

    fn send_request(&mut self, net: &mut Net) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let cursor = match self.ledger.last > self.first_after {
            true => self.ledger.last.saturating_add_signed(self.resume_offset),
            false => self.ledger.last,
        };
        let request = self.door.request(self.first_after, cursor);
        conn.phase = Phase::Response;
        conn.heard_at = net.now;
        net.send(conn.id, &request);
        self.stats.requests += 1;
        let id = conn.id;
        let line = String::from_utf8_lossy(&request);
        let line = line.lines().next().unwrap_or_default().to_string();
        self.note(net, format!("conn {id}: {line}"));
    }

    /// Reads a random amount, as a browser's read of a busy socket would.
    fn read(&mut self, net: &mut Net, published: &Published, turn: u64) -> Result<(), String> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let window = *self.rng.pick(&[1, 7, 100, 1_500, 16 * 1024, 1 << 20]);
        match net.recv(conn.id, window) {
            Recv::Bytes(bytes) => {
                conn.heard_at = net.now;
                self.bytes(net, &bytes, published, turn)
            }
            Recv::Nothing => Ok(()),
            Recv::Eof | Recv::Reset => {
                self.stats.ended_by_server += 1;
                self.hang_up(net, turn, "the server ended the connection");
                Ok(())
            }
        }
    }

    /// Bytes from the server: checked (what arrived before any error first, so that the trace shows
    /// it), then acted on.
    fn bytes(
        &mut self,
        net: &mut Net,
        bytes: &[u8],
        published: &Published,
        turn: u64,
    ) -> Result<(), String> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let (mut seen, mut answers) = (Vec::new(), Vec::new());
        let outcome = conn.take_in(self.door, bytes, net.now, &mut answers, &mut seen);
        net.send(conn.id, &answers);
        self.learn(net, seen, published)?;
        match outcome? {
            Outcome::Reading => {}
            Outcome::Answered if self.door == Door::ShortPoll => {
                // The next short poll waits for its timer.
                self.wait_until_turn = turn + self.rng.between(0, 8) as u64;
            }
            Outcome::Answered => {}
            Outcome::Refused(status) => {
                self.stats.refused += 1;
                self.hang_up(net, turn, &format!("answered {status}"));
            }
            Outcome::SocketClosed => self.note(net, "the server closed the WebSocket".into()),
        }
        Ok(())
    }

    /// Checks what arrived against the ledger, in order.
    fn learn(&mut self, net: &Net, seen: Vec<Seen>, published: &Published) -> Result<(), String> {
        for item in seen {
            let checked = match &item {
                Seen::Message { id, data } => self.ledger.message(*id, data, published),
                Seen::Reset { last } => self.ledger.reset(*last),
                Seen::Batch(batch) => self.ledger.batch(batch, published),
            };
            let summary = match &item {
                Seen::Message { id, data } => format!("message {id} ({} bytes)", data.len()),
                Seen::Reset { last } => format!("reset, last {last}"),
                Seen::Batch(batch) => format!(
                    "batch of {} ({:?}..), last {}, reset {}",
                    batch.messages.len(),
                    batch.messages.first().map(|m| m.id),
                    batch.last,
                    batch.reset
                ),
            };
            self.note(net, summary);
            checked?;
        }
        Ok(())
    }

    /// After a complete response on a keep-alive connection: the next request (a short poll waits
    /// for its timer; the others ask again at once, as the browser client does).
    fn ask_again(&mut self, net: &mut Net, turn: u64) {
        let idle = self
            .conn
            .as_ref()
            .is_some_and(|conn| conn.phase == Phase::Idle);
        if idle && turn >= self.wait_until_turn {
            self.send_request(net);
        }
    }

    /// The watchdog: a connection silent for too long is dropped and reopened. While faults strike,
    /// a clock jump can make any connection look silent for a moment; once they have stopped, every
    /// open connection brings a message, a heartbeat, a ping or an answer well within the watchdog's
    /// time, so silence then is a stall, and fails the run.
    fn watch(&mut self, net: &mut Net, turn: u64) -> Result<(), String> {
        let Some(conn) = self.conn.as_ref().filter(|conn| conn.phase != Phase::Idle) else {
            return Ok(());
        };
        let since = conn.heard_at.max(net.calm_since.unwrap_or(conn.heard_at));
        if net.now - since <= WATCHDOG {
            return Ok(());
        }
        if net.calm_since.is_some() {
            return Err(format!(
                "STALLED: the connection brought nothing for {} s with the faults over",
                WATCHDOG.as_secs()
            ));
        }
        self.stats.watchdog += 1;
        self.hang_up(net, turn, "watchdog: silent too long");
        Ok(())
    }

    /// Closes the connection (gracefully, abruptly, or for a WebSocket with a close frame first) and
    /// reconnects after a short backoff.
    fn hang_up(&mut self, net: &mut Net, turn: u64, why: &str) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let abort = self.rng.one_in(3);
        if let Some(ws) = conn.ws.as_mut().filter(|_| !abort) {
            let mut out = Vec::new();
            ws.close(&mut out, net.now);
            net.send(conn.id, &out);
        }
        net.hang_up(conn.id, abort);
        self.wait_until_turn = turn + self.rng.between(0, 6) as u64;
        let how = if abort { "reset" } else { "FIN" };
        self.note(net, format!("conn {}: {why} ({how})", conn.id));
    }

    fn note(&mut self, net: &Net, event: String) {
        if self.trace.len() == TRACE_LENGTH {
            self.trace.pop_front();
        }
        let at = net.elapsed().as_secs_f64();
        self.trace.push_back(format!("t={at:.3}s {event}"));
    }
}
