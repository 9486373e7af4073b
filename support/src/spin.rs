//! Units of CPU work for demos and benchmarks: a calibrated spin of about one
//! microsecond, the "record" of workload MW-1.

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Instant;

/// Spins `iters` rounds of a cheap integer hash; returns the hash so the optimiser
/// cannot drop the work.
#[inline]
pub fn spin(iters: u64) -> u64 {
    let mut x = black_box(0x9E37_79B9_7F4A_7C15u64);
    for _ in 0..iters {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    black_box(x)
}

/// How many `spin` rounds take about one microsecond on this machine, measured once
/// per process (the best of several trials, so a busy machine does not inflate it).
pub fn iters_per_micro() -> u64 {
    static CAL: OnceLock<u64> = OnceLock::new();
    *CAL.get_or_init(|| {
        let probe = 200_000u64;
        let mut best = f64::MAX;
        for _ in 0..7 {
            let t = Instant::now();
            spin(probe);
            best = best.min(t.elapsed().as_secs_f64());
        }
        ((probe as f64 / (best * 1e6)).round() as u64).max(1)
    })
}

/// One unit of work of about `micros` microseconds.
#[inline]
pub fn unit(micros: f64) -> u64 {
    spin((iters_per_micro() as f64 * micros).max(1.0) as u64)
}
