//! A fast, deterministic hasher for partitioning keys and for shuffle hash tables.
//!
//! Partitioning must not depend on a per-process random seed: the same key goes to
//! the same partition in every run (and, later, on every executor). Two seeds are used,
//! one to choose a key's partition and one for the hash tables inside a partition, so
//! that the keys of one partition still spread over all of a table's buckets.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

/// FxHash's multiply-rotate word step with a murmur3 finaliser: a few cycles per word
/// and well-mixed high and low bits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StableHasher {
    state: u64,
}

const MULTIPLIER: u64 = 0x517c_c1b7_2722_0a95;
const PARTITION_SEED: u64 = 0x9e37_79b9_7f4a_7c15;
const TABLE_SEED: u64 = 0x2545_f491_4f6c_dd1d;

impl StableHasher {
    fn with_seed(seed: u64) -> StableHasher {
        StableHasher { state: seed }
    }

    #[inline]
    fn add(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(MULTIPLIER);
    }
}

impl Hasher for StableHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // murmur3's fmix64.
        let mut h = self.state;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// Builds the hashers of shuffle hash tables.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TableHasher;

impl BuildHasher for TableHasher {
    type Hasher = StableHasher;

    #[inline]
    fn build_hasher(&self) -> StableHasher {
        StableHasher::with_seed(TABLE_SEED)
    }
}

/// A hash table keyed the shuffle's way.
pub(crate) type Table<K, V> = HashMap<K, V, TableHasher>;

/// The partition (of `n`) that `key` belongs to.
#[inline]
pub(crate) fn partition_of<K: Hash + ?Sized>(key: &K, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let mut h = StableHasher::with_seed(PARTITION_SEED);
    key.hash(&mut h);
    // Multiply-shift maps the hash onto 0..n using its high bits.
    ((h.finish() as u128 * n as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_in_range_deterministic_and_even() {
        let n = 7;
        let mut counts = [0usize; 7];
        for k in 0..70_000u64 {
            let p = partition_of(&k, n);
            assert_eq!(p, partition_of(&k, n));
            counts[p] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
        for w in ["a", "b", "hello", "a much longer string than eight bytes"] {
            assert!(partition_of(w, 3) < 3);
        }
    }

    #[test]
    fn strided_keys_spread() {
        let mut counts = [0usize; 8];
        for k in 0..8_000u64 {
            counts[partition_of(&(k << 20), 8)] += 1;
        }
        assert!(counts.iter().all(|&c| c > 500), "{counts:?}");
    }
}
