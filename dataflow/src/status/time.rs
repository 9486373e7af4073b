//! Wall-clock times as Spark's REST API writes them.

use std::time::{SystemTime, UNIX_EPOCH};

/// `t` as Spark's monitoring API writes times: `2015-02-03T16:42:59.720GMT` (UTC, to
/// the millisecond). Times before 1970 are written as the epoch.
///
/// ```
/// use neptune_dataflow::status::spark_time;
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = UNIX_EPOCH + Duration::from_millis(1_422_981_779_720);
/// assert_eq!(spark_time(t), "2015-02-03T16:42:59.720GMT");
/// assert_eq!(spark_time(UNIX_EPOCH), "1970-01-01T00:00:00.000GMT");
/// ```
pub fn spark_time(t: SystemTime) -> String {
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis().min(i64::MAX as u128) as i64);
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}GMT",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, which needs no table and no loop).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn leap_days_and_year_ends() {
        let at = |ms: u64| spark_time(UNIX_EPOCH + Duration::from_millis(ms));
        assert_eq!(at(951_782_400_000), "2000-02-29T00:00:00.000GMT");
        assert_eq!(at(1_709_251_199_999), "2024-02-29T23:59:59.999GMT");
        assert_eq!(at(1_735_689_599_000), "2024-12-31T23:59:59.000GMT");
        assert_eq!(at(4_107_542_400_000), "2100-03-01T00:00:00.000GMT");
    }
}
