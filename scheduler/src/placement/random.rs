//! RANDOM: each task to a live executor chosen uniformly at random.

use super::{check_live, Placement, PlacementError, TaskRequest};
use crate::placement::ExecutorView;
use crate::ExecutorId;

/// RANDOM: each task goes to a live executor drawn uniformly, from a seeded
/// xorshift64* generator, so that a seed replays the same placements.
///
/// ```
/// use neptune_scheduler::placement::{ExecutorView, Placement, Random, TaskRequest};
/// use neptune_scheduler::ExecutorId;
///
/// let executors: Vec<_> = (0..3).map(|i| ExecutorView::new(ExecutorId(i), 2)).collect();
/// let tasks = vec![TaskRequest::batch(); 5];
/// let a = Random::new(7).place(&tasks, &executors).unwrap();
/// let b = Random::new(7).place(&tasks, &executors).unwrap();
/// assert_eq!(a, b);
/// ```
#[derive(Clone, Debug)]
pub struct Random {
    state: u64,
}

impl Default for Random {
    /// A fixed seed.
    fn default() -> Random {
        Random::new(0)
    }
}

impl Random {
    /// A generator seeded with `seed` (any value, zero included).
    pub fn new(seed: u64) -> Random {
        let state = splitmix64(seed);
        Random {
            state: if state == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                state
            },
        }
    }

    /// The next 64 random bits (xorshift64*).
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`), by multiply-shift (bias below 2^-64 · n).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// SplitMix64's output function: spreads a seed's bits over the whole state.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Placement for Random {
    fn name(&self) -> &str {
        "random"
    }

    fn place(
        &mut self,
        tasks: &[TaskRequest],
        executors: &[ExecutorView],
    ) -> Result<Vec<ExecutorId>, PlacementError> {
        check_live(tasks, executors)?;
        let live: Vec<ExecutorId> = executors.iter().filter(|e| e.alive).map(|e| e.id).collect();
        Ok(tasks.iter().map(|_| live[self.below(live.len())]).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_cover_the_range_roughly_evenly() {
        let mut r = Random::new(42);
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[r.below(4)] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
        assert_ne!(Random::new(1).next_u64(), Random::new(2).next_u64());
    }
}
