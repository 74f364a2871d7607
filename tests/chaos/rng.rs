//! A small, seedable random number generator: SplitMix64 (Steele, Lea and Flood, "Fast splittable
//! pseudorandom number generators", 2014; the seeding generator of `java.util.SplittableRandom`).
//!
//! Every random choice of a chaos run (when a fault strikes, how many bytes a write takes, what a
//! payload holds) comes from one of these, so a seed replays a run exactly. Each actor (the network,
//! each client, the publisher) gets its own generator, split from the run's seed, so that a change in
//! how often one actor draws does not reshuffle every other actor's choices.

/// SplitMix64: a 64-bit counter run through a bijective mixing function.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// A generator of its own for one actor (`stream` names it), independent of this one's draws.
    pub fn split(seed: u64, stream: u64) -> Rng {
        let mut mixer = Rng::new(seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F));
        Rng::new(mixer.next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0). The modulo bias is below 2^-40 for the small bounds used
    /// here, far too little to matter for fault injection.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below((high - low + 1) as u64) as usize
    }

    /// True once in `one_in` draws on average.
    pub fn one_in(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    /// One of `choices`, uniformly.
    pub fn pick<'a, T>(&mut self, choices: &'a [T]) -> &'a T {
        &choices[self.below(choices.len() as u64) as usize]
    }
}

#[test]
fn splitmix64_matches_its_reference_output() {
    // The first outputs for seed 0 of the reference implementation (Vigna, splitmix64.c).
    let mut rng = Rng::new(0);
    assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
    assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
}
