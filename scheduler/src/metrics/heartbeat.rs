//! `Heartbeat`: what an executor reports about itself, and its byte encoding.
//!
//! The encoding is fixed-size and versioned: one version byte, then every field in
//! declaration order as little-endian integers ([`Heartbeat::ENCODED_LEN`] bytes in
//! all). A decoder rejects other versions, so a later layout can bump the version.

use crate::ExecutorId;
use std::fmt;

/// One report of an executor's state, sent periodically to whoever places tasks.
///
/// ```
/// use neptune_scheduler::metrics::Heartbeat;
/// use neptune_scheduler::ExecutorId;
///
/// let hb = Heartbeat { executor: ExecutorId(7), slots: 4, memory_in_use: 1 << 20, ..Default::default() };
/// let bytes = hb.encode();
/// assert_eq!(bytes.len(), Heartbeat::ENCODED_LEN);
/// assert_eq!(Heartbeat::decode(&bytes).unwrap(), hb);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Heartbeat {
    /// Who reports.
    pub executor: ExecutorId,
    /// When, in milliseconds since the Unix epoch (the sender's clock).
    pub timestamp_ms: u64,
    /// Slots of the executor's runtime.
    pub slots: u32,
    /// Live tasks per class (indexed by `Class::index`) that are not suspended: queued,
    /// being polled, or waiting for a wake.
    pub running: [u32; 2],
    /// Tasks parked in the slots' suspended queues.
    pub suspended: u32,
    /// Running Batch tasks that the executor's policy would pause for Stream work.
    pub pausable_batch: u32,
    /// Bytes in use (from the counting allocator; 0 without one).
    pub memory_in_use: u64,
    /// Bytes spilled to storage so far (reported by the application; 0 if it does not).
    pub bytes_spilled: u64,
    /// Allocation churn: bytes allocated per second since the previous heartbeat.
    pub alloc_churn: u64,
    /// Estimated bytes held by suspended tasks (see
    /// [`suspended_bytes_estimate`](super::suspended_bytes_estimate)).
    pub suspended_bytes: u64,
}

/// Why bytes are not a heartbeat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer or more bytes than [`Heartbeat::ENCODED_LEN`].
    Length(usize),
    /// An encoding version this code does not know.
    Version(u8),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Length(n) => write!(
                f,
                "a heartbeat is {} bytes, got {n}",
                Heartbeat::ENCODED_LEN
            ),
            DecodeError::Version(v) => write!(
                f,
                "heartbeat encoding version {v} is not {}",
                Heartbeat::VERSION
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

impl Heartbeat {
    /// The encoding version written by [`encode`](Self::encode).
    pub const VERSION: u8 = 1;

    /// Bytes in an encoded heartbeat.
    pub const ENCODED_LEN: usize = 1 + 4 + 8 + 4 + 2 * 4 + 4 + 4 + 4 * 8;

    /// Live tasks that are not suspended, both classes together.
    pub fn running_total(&self) -> u64 {
        self.running[0] as u64 + self.running[1] as u64
    }

    /// Appends the encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(Self::ENCODED_LEN);
        out.push(Self::VERSION);
        out.extend_from_slice(&self.executor.0.to_le_bytes());
        out.extend_from_slice(&self.timestamp_ms.to_le_bytes());
        out.extend_from_slice(&self.slots.to_le_bytes());
        for r in self.running {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&self.suspended.to_le_bytes());
        out.extend_from_slice(&self.pausable_batch.to_le_bytes());
        for v in [
            self.memory_in_use,
            self.bytes_spilled,
            self.alloc_churn,
            self.suspended_bytes,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// The encoding, [`ENCODED_LEN`](Self::ENCODED_LEN) bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::ENCODED_LEN);
        self.encode_into(&mut out);
        out
    }

    /// Decodes what [`encode`](Self::encode) wrote.
    pub fn decode(bytes: &[u8]) -> Result<Heartbeat, DecodeError> {
        if bytes.len() != Self::ENCODED_LEN {
            return Err(DecodeError::Length(bytes.len()));
        }
        if bytes[0] != Self::VERSION {
            return Err(DecodeError::Version(bytes[0]));
        }
        let mut r = Reader { bytes, at: 1 };
        Ok(Heartbeat {
            executor: ExecutorId(r.u32()),
            timestamp_ms: r.u64(),
            slots: r.u32(),
            running: [r.u32(), r.u32()],
            suspended: r.u32(),
            pausable_batch: r.u32(),
            memory_in_use: r.u64(),
            bytes_spilled: r.u64(),
            alloc_churn: r.u64(),
            suspended_bytes: r.u64(),
        })
    }
}

/// Reads little-endian integers from a slice whose length was checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0; N];
        a.copy_from_slice(&self.bytes[self.at..self.at + N]);
        self.at += N;
        a
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn encoding_round_trips(
            e in any::<u32>(), ts in any::<u64>(), slots in any::<u32>(),
            r0 in any::<u32>(), r1 in any::<u32>(), sus in any::<u32>(), pb in any::<u32>(),
            m in any::<u64>(), sp in any::<u64>(), ch in any::<u64>(), sb in any::<u64>(),
        ) {
            let hb = Heartbeat {
                executor: ExecutorId(e), timestamp_ms: ts, slots, running: [r0, r1],
                suspended: sus, pausable_batch: pb, memory_in_use: m, bytes_spilled: sp,
                alloc_churn: ch, suspended_bytes: sb,
            };
            let bytes = hb.encode();
            prop_assert_eq!(bytes.len(), Heartbeat::ENCODED_LEN);
            prop_assert_eq!(Heartbeat::decode(&bytes).unwrap(), hb);
        }
    }

    #[test]
    fn bad_bytes_are_rejected() {
        let mut bytes = Heartbeat::default().encode();
        assert_eq!(
            Heartbeat::decode(&bytes[1..]),
            Err(DecodeError::Length(Heartbeat::ENCODED_LEN - 1))
        );
        bytes[0] = 9;
        assert_eq!(Heartbeat::decode(&bytes), Err(DecodeError::Version(9)));
        assert!(DecodeError::Version(9).to_string().contains("version 9"));
    }
}
