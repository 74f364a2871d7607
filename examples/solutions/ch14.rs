//! Chapter 14, the comparison lab: model answers.

/// Exercise 14.1: the `percent`-th percentile of sorted samples by nearest rank, as the lab reports
/// its latencies: the smallest sample that at least `percent`% of the samples are less than or equal
/// to. `None` without samples.
pub fn percentile(sorted: &[u64], percent: usize) -> Option<u64> {
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank.min(sorted.len()).checked_sub(1)?).copied()
}

/// What a subscriber's sequence of received message numbers says about a door.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Messages 1..=sent that never arrived.
    pub lost: usize,
    /// Arrivals of a message already received.
    pub duplicated: usize,
    /// Arrivals of a message lower than one received before it.
    pub out_of_order: usize,
}

/// Exercise 14.2: checks a delivery: `received` are the sequence numbers (1..=sent) in the order they
/// arrived.
pub fn tally(received: &[u64], sent: u64) -> Tally {
    let mut seen = std::collections::HashSet::new();
    let mut tally = Tally::default();
    let mut highest = 0;
    for &seq in received {
        if !seen.insert(seq) {
            tally.duplicated += 1;
            continue;
        }
        if seq < highest {
            tally.out_of_order += 1;
        }
        highest = highest.max(seq);
    }
    tally.lost = (1..=sent).filter(|seq| !seen.contains(seq)).count();
    tally
}
