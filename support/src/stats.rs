//! Summaries of measurements.

/// The `q`-quantile (nearest rank) of `v`, which it sorts. Panics on an empty `v`.
pub fn quantile(v: &mut [u64], q: f64) -> u64 {
    assert!(!v.is_empty(), "the quantile of no values");
    v.sort_unstable();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// The median of `v` (the upper one of the two middle values for an even count).
/// Panics on an empty `v`.
pub fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty(), "the median of no values");
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A duration in nanoseconds, readable (`850 ns`, `12.3 µs`, `4.56 ms`, `1.20 s`).
pub fn human_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_medians_and_durations() {
        let mut v = vec![5, 1, 4, 2, 3];
        assert_eq!(quantile(&mut v, 0.5), 3);
        assert_eq!(quantile(&mut v, 0.0), 1);
        assert_eq!(quantile(&mut v, 1.0), 5);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 3.0);
        assert_eq!(human_ns(850.0), "850 ns");
        assert_eq!(human_ns(12_300.0), "12.3 µs");
        assert_eq!(human_ns(4_560_000.0), "4.56 ms");
        assert_eq!(human_ns(1.2e9), "1.20 s");
    }
}
