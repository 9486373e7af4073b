//! Summaries of measurements.

/// The `q`-quantile (nearest rank) of `v`, which it sorts. Panics on an empty `v`.
pub fn quantile(v: &mut [u64], q: f64) -> u64 {
    v.sort_unstable();
    quantile_sorted(v, q).expect("the quantile of no values")
}

/// The `q`-quantile (nearest rank) of `sorted`, which is sorted already; `None` when
/// it is empty.
pub fn quantile_sorted(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// The median of `v` (the upper one of the two middle values for an even count).
/// Panics on an empty `v`.
pub fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty(), "the median of no values");
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The median of `v`, the mean of the two middle values for an even count; `None`
/// when `v` is empty.
pub fn median_interpolated(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// `x` rounded to `places` decimals: the precision a report prints a figure with.
pub fn round(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
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
        assert_eq!(quantile_sorted(&[1, 2, 3, 4], 0.99), Some(4));
        assert_eq!(quantile_sorted(&[], 0.5), None);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 3.0);
        assert_eq!(median_interpolated(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median_interpolated(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median_interpolated(Vec::new()), None);
        assert_eq!(human_ns(850.0), "850 ns");
        assert_eq!(human_ns(12_300.0), "12.3 µs");
        assert_eq!(human_ns(4_560_000.0), "4.56 ms");
        assert_eq!(human_ns(1.2e9), "1.20 s");
        assert_eq!(round(2.345_67, 3), 2.346);
        assert_eq!(round(812.345, 1), 812.3);
        assert_eq!(round(-0.05, 0), -0.0);
    }
}
