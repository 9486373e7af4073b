//! Value parsers for the examples' command lines, and statistics they share.

use std::str::FromStr;

/// A clap value parser for a whole number that must be at least 1 (a count, a size, a
/// duration in milliseconds): `value_parser = at_least_one::<usize>`.
pub fn at_least_one<T>(s: &str) -> Result<T, String>
where
    T: FromStr + PartialOrd + From<u8>,
    T::Err: std::fmt::Display,
{
    match s.parse::<T>() {
        Ok(n) if n >= T::from(1) => Ok(n),
        Ok(_) => Err("must be at least 1".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// A clap value parser for a finite number greater than 0 (a rate, a duration in
/// seconds, a scale factor).
pub fn positive_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        Ok(_) => Err("must be a finite number greater than 0".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Asserts that the command line `P` refuses each of `bad` (the arguments after the
/// program's name): the examples' tests of their flags.
#[cfg(test)]
pub fn assert_refused<P: clap::Parser>(bad: &[&[&str]]) {
    for args in bad {
        let argv = std::iter::once("example").chain(args.iter().copied());
        assert!(P::try_parse_from(argv).is_err(), "{args:?} must be refused");
    }
}

/// One worker per available core.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The `q`-quantile (nearest rank) of `v`, which it sorts.
pub fn quantile(v: &mut [u64], q: f64) -> u64 {
    assert!(!v.is_empty());
    v.sort_unstable();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// The median of `v` (the upper one of the two middle values for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty());
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A duration in nanoseconds, readable (`850 ns`, `12.3 µs`, `4.56 ms`).
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
