//! Helpers for command lines written with clap's derive API.

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

/// One worker per available core (1 when that cannot be known).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Asserts that the command line `P` refuses each of `bad` (the arguments after the
/// program's name): the tests of a command line's flags.
#[track_caller]
pub fn assert_refused<P: clap::Parser>(bad: &[&[&str]]) {
    for args in bad {
        let argv = std::iter::once("program").chain(args.iter().copied());
        assert!(P::try_parse_from(argv).is_err(), "{args:?} must be refused");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[arg(long, value_parser = at_least_one::<usize>)]
        n: Option<usize>,
        #[arg(long, value_parser = positive_f64)]
        x: Option<f64>,
    }

    #[test]
    fn parsers_refuse_what_they_should() {
        assert_eq!(at_least_one::<u32>("3"), Ok(3));
        assert!(at_least_one::<u32>("0").is_err());
        assert_eq!(positive_f64("0.5"), Ok(0.5));
        for bad in ["0", "-1", "inf", "NaN", "x"] {
            assert!(positive_f64(bad).is_err(), "{bad}");
        }
        assert!(available_cores() >= 1);
        assert_refused::<Cli>(&[&["--n", "0"], &["--x", "0"], &["--y"]]);
    }
}
