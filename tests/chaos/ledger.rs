//! What "nothing lost" means, checked on every message a client receives.
//!
//! The run keeps every published payload by id ([`Published`]). Each client keeps a [`Ledger`]: the
//! last id it was given (its cursor, the `after` of its next request). The rule is one comparison:
//! the next message must carry exactly `last + 1`, with exactly the payload published under that id.
//! A repeat (an id at or below `last`), a gap (above `last + 1`) or a wrong payload is a failure,
//! reported with what was expected and what came.
//!
//! The only way forward past a gap is an explicit reset (`{"reset":true,"last":N}`, SSE's
//! `event: reset`, a poll answer with `"reset":true`), and only in a run that allows resets (a
//! retention made too small on purpose). A reset may only move the cursor forward (`N >= last`): a
//! reset backwards would replay messages the client already has, which is a repeat.

use pushlab::client::poll::Batch;

/// Every message published in a run, by id.
#[derive(Debug)]
pub struct Published {
    first_id: u64,
    payloads: Vec<String>,
}

impl Published {
    /// An empty log whose first message will have `first_id`.
    pub fn new(first_id: u64) -> Published {
        Published {
            first_id,
            payloads: Vec::new(),
        }
    }

    /// Records the message the hub just published as `id`; ids must come one after another.
    pub fn record(&mut self, id: u64, payload: String) {
        assert_eq!(
            id,
            self.first_id + self.payloads.len() as u64,
            "the hub's ids must increase by one per message"
        );
        self.payloads.push(payload);
    }

    /// How many messages were published.
    pub fn count(&self) -> usize {
        self.payloads.len()
    }

    /// The id of the newest message (`first_id - 1` before the first).
    pub fn last_id(&self) -> u64 {
        self.first_id + self.payloads.len() as u64 - 1
    }

    fn payload(&self, id: u64) -> Option<&str> {
        let index = id.checked_sub(self.first_id)?;
        self.payloads.get(index as usize).map(String::as_str)
    }
}

/// One client's cursor and the rule it enforces (see the module docs).
#[derive(Debug)]
pub struct Ledger {
    /// The last id the client was given, or the point a reset moved it to.
    pub last: u64,
    resets_allowed: bool,
    /// SSE turns every line end of a payload into LF (WHATWG: `data:` lines are joined with LF).
    line_ends_become_lf: bool,
    /// Resets seen.
    pub resets: usize,
    /// Messages accepted.
    pub delivered: usize,
}

impl Ledger {
    /// A cursor at `start` (the `after` of the first request).
    pub fn new(start: u64, resets_allowed: bool, line_ends_become_lf: bool) -> Ledger {
        Ledger {
            last: start,
            resets_allowed,
            line_ends_become_lf,
            resets: 0,
            delivered: 0,
        }
    }

    /// A message arrived.
    pub fn message(&mut self, id: u64, data: &str, published: &Published) -> Result<(), String> {
        let expected = self.last + 1;
        if id <= self.last {
            return Err(format!(
                "DUPLICATE: got id {id} again (last was {})",
                self.last
            ));
        }
        if id > expected {
            return Err(format!(
                "LOST: got id {id} but expected {expected} ({} missing, no reset)",
                id - expected
            ));
        }
        let Some(payload) = published.payload(id) else {
            return Err(format!("id {id} was never published"));
        };
        let wanted = if self.line_ends_become_lf {
            payload.replace("\r\n", "\n").replace('\r', "\n")
        } else {
            payload.to_string()
        };
        if data != wanted {
            return Err(format!(
                "WRONG PAYLOAD for id {id}: got {data:?}, published {wanted:?}"
            ));
        }
        self.last = id;
        self.delivered += 1;
        Ok(())
    }

    /// A reset arrived: the server continues after `last`.
    pub fn reset(&mut self, last: u64) -> Result<(), String> {
        if !self.resets_allowed {
            return Err(format!(
                "UNEXPECTED RESET to {last} (cursor {}) while the log keeps everything",
                self.last
            ));
        }
        if last < self.last {
            return Err(format!(
                "RESET BACKWARDS to {last} from {}: it would repeat messages",
                self.last
            ));
        }
        self.last = last;
        self.resets += 1;
        Ok(())
    }

    /// A poll, long-poll or JSONP answer: a reset first if it says so (the stream continues just
    /// before its first message, as `pushlab.js` reads it), its messages, and then its `last`, which
    /// must be exactly where the client now stands: a `last` ahead of the messages would skip some.
    pub fn batch(&mut self, batch: &Batch, published: &Published) -> Result<(), String> {
        if batch.reset {
            let point = batch
                .messages
                .first()
                .map_or(batch.last, |first| first.id - 1);
            self.reset(point)?;
        }
        for message in &batch.messages {
            self.message(message.id, &message.data, published)?;
        }
        if batch.last != self.last {
            return Err(format!(
                "BATCH LAST {} does not match the client's last id {} ({} messages in the batch)",
                batch.last,
                self.last,
                batch.messages.len()
            ));
        }
        Ok(())
    }
}

#[test]
fn the_ledger_refuses_repeats_gaps_wrong_payloads_and_resets_it_was_not_promised() {
    let mut published = Published::new(11);
    for payload in ["a", "b\r\nc", "d"] {
        let id = published.last_id() + 1;
        published.record(id, payload.to_string());
    }
    let mut strict = Ledger::new(10, false, false);
    assert!(strict.message(11, "a", &published).is_ok());
    assert!(strict
        .message(11, "a", &published)
        .unwrap_err()
        .contains("DUPLICATE"));
    assert!(strict
        .message(13, "d", &published)
        .unwrap_err()
        .contains("LOST"));
    assert!(strict
        .message(12, "b\nc", &published)
        .unwrap_err()
        .contains("WRONG"));
    assert!(strict.reset(12).unwrap_err().contains("UNEXPECTED"));
    let mut sse = Ledger::new(11, false, true);
    assert!(sse.message(12, "b\nc", &published).is_ok());
    let mut lenient = Ledger::new(10, true, false);
    assert!(lenient.reset(12).is_ok());
    assert!(lenient.reset(11).unwrap_err().contains("BACKWARDS"));
    assert!(lenient.message(13, "d", &published).is_ok());
}
