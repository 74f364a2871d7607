//! Where a client's masking keys come from (RFC 6455 §5.3, §10.3).
//!
//! Every frame a client sends is XORed with a fresh 4-byte key. The point is not secrecy (the key travels
//! in the frame) but unpredictability: a script in a web page chooses the payload, and if it could also
//! predict the key it could choose the bytes on the wire, and make a confused proxy read them as an HTTP
//! request of its choosing (cache poisoning, §10.3). So §5.3 asks for keys "derived from a strong source of
//! entropy", a fresh one per frame.
//!
//! The sans-IO protocol cannot open files, so it asks a [`MaskKeySource`]. [`HashMaskKeys`] is the
//! default: SipHash, keyed with the per-process random keys that `std` reads from the operating system for
//! `HashMap`, applied to a counter. The blocking client ([`crate::client::ws`]) plugs in keys read from
//! `/dev/urandom` instead.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};

/// Gives a client a masking key for each frame it sends.
pub trait MaskKeySource: fmt::Debug + Send {
    /// The key for the next frame; must not be predictable from earlier keys (§5.3).
    fn next_mask_key(&mut self) -> [u8; 4];
}

/// Masking keys from SipHash keyed with OS randomness (`std`'s `RandomState`) over a counter.
///
/// SipHash with a secret key is a pseudorandom function, so the keys cannot be predicted by anybody who
/// does not know the 128-bit secret, which never leaves the process. Each hash gives two keys.
pub struct HashMaskKeys {
    secret: RandomState,
    counter: u64,
    spare: Option<[u8; 4]>,
}

impl HashMaskKeys {
    /// A source with a fresh secret.
    pub fn new() -> Self {
        HashMaskKeys {
            secret: RandomState::new(),
            counter: 0,
            spare: None,
        }
    }
}

impl Default for HashMaskKeys {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for HashMaskKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("HashMaskKeys")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl MaskKeySource for HashMaskKeys {
    fn next_mask_key(&mut self) -> [u8; 4] {
        if let Some(key) = self.spare.take() {
            return key;
        }
        let mut hasher = self.secret.build_hasher();
        hasher.write_u64(self.counter);
        self.counter = self.counter.wrapping_add(1);
        let [a, b, c, d, e, f, g, h] = hasher.finish().to_le_bytes();
        self.spare = Some([e, f, g, h]);
        [a, b, c, d]
    }
}

/// The same key every time: only for tests and for reproducing the RFC's example frames.
#[derive(Clone, Copy, Debug)]
pub struct FixedMaskKey(pub [u8; 4]);

impl MaskKeySource for FixedMaskKey {
    fn next_mask_key(&mut self) -> [u8; 4] {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn hash_keys_do_not_repeat_in_a_long_run() {
        let mut source = HashMaskKeys::new();
        let keys: HashSet<[u8; 4]> = (0..10_000).map(|_| source.next_mask_key()).collect();
        // 10,000 draws from 2^32 values collide with probability about 1%; allow a couple.
        assert!(keys.len() >= 9_998, "{} distinct keys", keys.len());
    }

    #[test]
    fn two_sources_differ() {
        let first: Vec<[u8; 4]> = (0..4)
            .map(|_| HashMaskKeys::new().next_mask_key())
            .collect();
        assert!(first.windows(2).any(|pair| pair[0] != pair[1]));
    }
}
