//! Exponential backoff with jitter, as a pure value: the random state is a seed passed in,
//! so tests are deterministic and the shell decides where randomness comes from.
//!
//! Delay for attempt n (from 0): a uniform pick in [base/2, base] where base is
//! `initial_ms × 2^n` capped at `max_ms` ("equal jitter": never less than half the
//! exponential step, so a flapping port cannot be hammered, and never in lockstep with other
//! nodes restarting after the same power cut).

/// Backoff state.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial_ms: u64,
    max_ms: u64,
    attempt: u32,
    state: u64,
}

/// Doublings before the cap always applies (2^20 × any sane initial is past any cap).
const DOUBLINGS_MAX: u32 = 20;

impl Backoff {
    /// A backoff starting at `initial_ms`, capped at `max_ms`, with random seed `seed`.
    pub(crate) fn new(initial_ms: u64, max_ms: u64, seed: u64) -> Self {
        Backoff {
            initial_ms: initial_ms.max(1),
            max_ms: max_ms.max(initial_ms.max(1)),
            attempt: 0,
            // xorshift state must not be zero.
            state: seed | 1,
        }
    }

    /// The delay before the next attempt.
    pub(crate) fn next_delay_ms(&mut self) -> u64 {
        let base = self
            .initial_ms
            .saturating_mul(1u64 << self.attempt.min(DOUBLINGS_MAX))
            .min(self.max_ms);
        self.attempt = self.attempt.saturating_add(1);
        let half = base / 2;
        half + self.next_random() % (base - half + 1)
    }

    /// A uniform pick in [base/2, base]: jitter for a delay the caller computed.
    pub(crate) fn spread(&mut self, base_ms: u64) -> u64 {
        let half = base_ms / 2;
        half + self.next_random() % (base_ms - half + 1)
    }

    /// After a success: the next delay is short again.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_within_bounds_and_resets() {
        let mut backoff = Backoff::new(100, 1000, 42);
        let delays: Vec<u64> = (0..8).map(|_| backoff.next_delay_ms()).collect();
        for (attempt, delay) in delays.iter().enumerate() {
            let base = (100u64 << attempt).min(1000);
            assert!((base / 2..=base).contains(delay), "{attempt}: {delay}");
        }
        backoff.reset();
        assert!(backoff.next_delay_ms() <= 100);
    }
}
