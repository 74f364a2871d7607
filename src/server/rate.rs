//! Per-client fairness: a token bucket of publishes for each client address.
//!
//! A bucket holds at most `burst` tokens and refills at `rate` tokens a second. Each publish takes one;
//! an empty bucket means "too many, too fast": `POST /publish` answers 429 (Too Many Requests, RFC 6585
//! §4) with `Retry-After` saying when the next token arrives, and a WebSocket publisher is closed with
//! 1008. A client that publishes at a steady `rate` never notices the limit; one that floods gets
//! `burst` messages through and then one per `1/rate` seconds, so the hub and every subscriber of the
//! topic are protected from it.
//!
//! Tokens are counted in thousandths, in integers, so the arithmetic is exact and needs no clock but
//! the `Instant`s the core passes in. A bucket that has refilled completely holds no information, so
//! [`PublishBuckets::forget_full`] drops those: the table holds only the clients that published
//! recently, however many addresses have come and gone.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Thousandths of a token: one publish costs this many.
const MILLI: u64 = 1_000;

/// One client's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens left, in thousandths.
    milli_tokens: u64,
    /// When `milli_tokens` was last brought up to date.
    updated: Instant,
}

/// The publish buckets of every client address (see the module docs).
#[derive(Debug)]
pub struct PublishBuckets {
    /// Tokens added per second; 0 means no limit.
    rate: u64,
    /// A bucket's size, in thousandths of a token.
    capacity_milli: u64,
    buckets: HashMap<IpAddr, Bucket>,
}

impl PublishBuckets {
    /// Buckets refilled at `rate` tokens a second, holding at most `burst` (at least one).
    pub fn new(rate: u32, burst: u32) -> PublishBuckets {
        PublishBuckets {
            rate: u64::from(rate),
            capacity_milli: u64::from(burst.max(1)) * MILLI,
            buckets: HashMap::new(),
        }
    }

    /// Takes one token from `client`'s bucket, or says how long until one is there.
    pub fn take(&mut self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.rate == 0 {
            return Ok(());
        }
        let bucket = self.refilled(client, now);
        if bucket.milli_tokens >= MILLI {
            bucket.milli_tokens -= MILLI;
            return Ok(());
        }
        // `rate` tokens a second is `rate` thousandths a millisecond.
        let missing_milli = MILLI - bucket.milli_tokens;
        Err(Duration::from_millis(missing_milli.div_ceil(self.rate)))
    }

    /// Drops the buckets that are full again: they remember nothing a fresh bucket would not.
    pub fn forget_full(&mut self, now: Instant) {
        let (rate, capacity) = (self.rate, self.capacity_milli);
        self.buckets
            .retain(|_, bucket| level_at(bucket, rate, capacity, now) < capacity);
    }

    /// How many client addresses have a bucket that is not full.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no client has published recently.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// `client`'s bucket, brought up to date (a new client's starts full).
    fn refilled(&mut self, client: IpAddr, now: Instant) -> &mut Bucket {
        let (rate, capacity) = (self.rate, self.capacity_milli);
        let bucket = self.buckets.entry(client).or_insert(Bucket {
            milli_tokens: capacity,
            updated: now,
        });
        bucket.milli_tokens = level_at(bucket, rate, capacity, now);
        bucket.updated = now;
        bucket
    }
}

/// The bucket's level at `now`: what it held, plus the refill since, up to its size.
fn level_at(bucket: &Bucket, rate: u64, capacity_milli: u64, now: Instant) -> u64 {
    let elapsed_ms = now.saturating_duration_since(bucket.updated).as_millis();
    let refill = u64::try_from(elapsed_ms)
        .unwrap_or(u64::MAX)
        .saturating_mul(rate);
    bucket
        .milli_tokens
        .saturating_add(refill)
        .min(capacity_milli)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn a_burst_passes_then_the_rate_applies() {
        let start = Instant::now();
        let mut buckets = PublishBuckets::new(10, 3);
        for _ in 0..3 {
            assert_eq!(buckets.take(CLIENT, start), Ok(()));
        }
        // Empty: the next token comes after 1/10 s.
        assert_eq!(buckets.take(CLIENT, start), Err(Duration::from_millis(100)));
        assert_eq!(
            buckets.take(CLIENT, start + Duration::from_millis(40)),
            Err(Duration::from_millis(60))
        );
        assert_eq!(
            buckets.take(CLIENT, start + Duration::from_millis(100)),
            Ok(())
        );
    }

    #[test]
    fn clients_have_their_own_buckets() {
        let now = Instant::now();
        let mut buckets = PublishBuckets::new(1, 1);
        let other = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
        assert!(buckets.take(CLIENT, now).is_ok());
        assert!(buckets.take(CLIENT, now).is_err());
        assert!(buckets.take(other, now).is_ok());
    }

    #[test]
    fn full_buckets_are_forgotten_and_rate_zero_means_no_limit() {
        let start = Instant::now();
        let mut buckets = PublishBuckets::new(10, 2);
        buckets.take(CLIENT, start).unwrap();
        buckets.forget_full(start + Duration::from_millis(50));
        assert_eq!(buckets.len(), 1, "half a token short: remembered");
        buckets.forget_full(start + Duration::from_millis(100));
        assert!(buckets.is_empty(), "full again: forgotten");

        let mut unlimited = PublishBuckets::new(0, 1);
        for _ in 0..10_000 {
            assert!(unlimited.take(CLIENT, start).is_ok());
        }
        assert!(unlimited.is_empty());
    }
}
