//! TPC-H Q1 and Q6 over LINEITEM rows generated in-process by `tpchgen`, each written
//! twice: as a dataflow job, and as a straightforward single-threaded loop that serves
//! as the reference.
//!
//! Money is kept in exact fixed point (prices in cents, discounts and taxes in
//! hundredths), so sums do not depend on the order in which partitions are merged and
//! the two versions of a query must agree to the last digit.

use neptune::dataflow::cluster::Builders;
use neptune::dataflow::{Context, Dataset, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tpchgen::generators::LineItemGenerator;

/// The LINEITEM columns Q1 and Q6 read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lineitem {
    /// `l_quantity`, in units.
    pub quantity: i64,
    /// `l_extendedprice`, in cents.
    pub extendedprice: i64,
    /// `l_discount`, in hundredths.
    pub discount: i64,
    /// `l_tax`, in hundredths.
    pub tax: i64,
    /// `l_returnflag` (`A`, `N` or `R`).
    pub returnflag: u8,
    /// `l_linestatus` (`F` or `O`).
    pub linestatus: u8,
    /// `l_shipdate`, in days since 1970-01-01.
    pub shipdate: i32,
}

/// Days from 1970-01-01 to the civil date `y-m-d` (proleptic Gregorian).
pub const fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i32 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The LINEITEM table at scale factor `sf`, generated on `threads` threads (the rows
/// are the same whatever the thread count: each thread makes one of `tpchgen`'s parts,
/// concatenated in order).
pub fn generate(sf: f64, threads: usize) -> Vec<Lineitem> {
    let parts = threads.max(1);
    let chunks: Vec<Vec<Lineitem>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..parts)
            .map(|part| s.spawn(move || part_rows(sf, part, parts).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a generator thread"))
            .collect()
    });
    chunks.concat()
}

/// The rows of part `part` (from 0) of `parts` of LINEITEM at scale factor `sf`.
fn part_rows(sf: f64, part: usize, parts: usize) -> impl Iterator<Item = Lineitem> {
    LineItemGenerator::new(sf, part as i32 + 1, parts as i32)
        .iter()
        .map(|l| Lineitem {
            quantity: l.l_quantity,
            extendedprice: l.l_extendedprice.into_inner(),
            discount: l.l_discount.into_inner(),
            tax: l.l_tax.into_inner(),
            returnflag: l.l_returnflag.as_bytes()[0],
            linestatus: l.l_linestatus.as_bytes()[0],
            shipdate: l.l_shipdate.to_unix_epoch(),
        })
}

/// LINEITEM at scale factor `sf` as a dataset whose partition `p` generates part `p`
/// of `partitions` where it runs (the rows of [`generate`] with as many threads).
pub fn generated(ctx: &Context, sf: f64, partitions: usize) -> Dataset<Lineitem> {
    ctx.generate(partitions, move |p| part_rows(sf, p, partitions))
}

/// Adds the plan builders of Q1 and Q6 over generated LINEITEM (arguments: scale
/// factor and partitions) to `builders`, for cluster mode.
pub fn register(builders: Builders) -> Builders {
    builders
        .register("tpch-q1", |ctx: &Context, (sf, parts): (f64, usize)| {
            q1_plan(&generated(ctx, sf, parts))
        })
        .register("tpch-q6", |ctx: &Context, (sf, parts): (f64, usize)| {
            q6_plan(&generated(ctx, sf, parts))
        })
}

// ---------------------------------------------------------------------------------
// Q1: pricing summary report

/// `l_shipdate <= date '1998-12-01' - interval '90' day`. The queries' parameters are
/// constants, in the engine's closures as in the loops: captured as values, they were
/// loaded and compared at run time in the engine's filters, while the loops compared
/// with folded constants (Q6's two date comparisons became one).
pub const Q1_CUTOFF: i32 = days_from_civil(1998, 12, 1) - 90;

/// Q1's sums for one (return flag, line status) group, exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Q1Sums {
    /// `sum(l_quantity)`.
    pub qty: i64,
    /// `sum(l_extendedprice)`, cents.
    pub base_price: i64,
    /// `sum(l_extendedprice * (1 - l_discount))`, in 10⁻⁴.
    pub disc_price: i128,
    /// `sum(l_extendedprice * (1 - l_discount) * (1 + l_tax))`, in 10⁻⁶.
    pub charge: i128,
    /// `sum(l_discount)`, hundredths.
    pub disc: i64,
    /// `count(*)`.
    pub count: u64,
}

impl Q1Sums {
    /// One row's contribution.
    #[inline]
    pub fn of(l: &Lineitem) -> Q1Sums {
        let disc_price = l.extendedprice as i128 * (100 - l.discount) as i128;
        Q1Sums {
            qty: l.quantity,
            base_price: l.extendedprice,
            disc_price,
            charge: disc_price * (100 + l.tax) as i128,
            disc: l.discount,
            count: 1,
        }
    }

    /// Both groups' sums.
    #[inline]
    pub fn merge(self, o: Q1Sums) -> Q1Sums {
        Q1Sums {
            qty: self.qty + o.qty,
            base_price: self.base_price + o.base_price,
            disc_price: self.disc_price + o.disc_price,
            charge: self.charge + o.charge,
            disc: self.disc + o.disc,
            count: self.count + o.count,
        }
    }
}

/// One row of Q1's answer: the group, its sums, and the averages derived from them.
#[derive(Clone, Debug, PartialEq)]
pub struct Q1Row {
    /// `l_returnflag`.
    pub returnflag: char,
    /// `l_linestatus`.
    pub linestatus: char,
    /// The exact sums.
    pub sums: Q1Sums,
    /// `avg(l_quantity)`.
    pub avg_qty: f64,
    /// `avg(l_extendedprice)`.
    pub avg_price: f64,
    /// `avg(l_discount)`.
    pub avg_disc: f64,
}

fn q1_rows(groups: impl IntoIterator<Item = ((u8, u8), Q1Sums)>) -> Vec<Q1Row> {
    let sorted: BTreeMap<(u8, u8), Q1Sums> = groups.into_iter().collect();
    sorted
        .into_iter()
        .map(|((flag, status), s)| {
            let n = s.count as f64;
            Q1Row {
                returnflag: flag as char,
                linestatus: status as char,
                sums: s,
                avg_qty: s.qty as f64 / n,
                avg_price: s.base_price as f64 / 100.0 / n,
                avg_disc: s.disc as f64 / 100.0 / n,
            }
        })
        .collect()
}

/// Q1's plan: filter, key by group, combine.
pub fn q1_plan(lineitem: &Dataset<Lineitem>) -> Dataset<((u8, u8), Q1Sums)> {
    lineitem
        .filter(|l| l.shipdate <= Q1_CUTOFF)
        .map(|l| ((l.returnflag, l.linestatus), Q1Sums::of(&l)))
        .reduce_by_key(Q1Sums::merge)
}

/// Q1's answer from its plan's records, sorted by group.
pub fn q1_answer(groups: Vec<((u8, u8), Q1Sums)>) -> Vec<Q1Row> {
    q1_rows(groups)
}

/// Q1 as a dataflow job: filter, key by group, combine, collect; sorted by group.
pub fn q1_engine(lineitem: &Dataset<Lineitem>) -> Result<Vec<Q1Row>> {
    Ok(q1_rows(q1_plan(lineitem).collect()?.into_value()))
}

/// Q1 as a single-threaded loop.
pub fn q1_reference(rows: &[Lineitem]) -> Vec<Q1Row> {
    let mut groups: BTreeMap<(u8, u8), Q1Sums> = BTreeMap::new();
    for l in rows {
        if l.shipdate <= Q1_CUTOFF {
            let g = groups.entry((l.returnflag, l.linestatus)).or_default();
            *g = g.merge(Q1Sums::of(l));
        }
    }
    q1_rows(groups)
}

// ---------------------------------------------------------------------------------
// Q6: forecasting revenue change

/// Q6's predicate: shipped in 1994, discount between 0.05 and 0.07, quantity under 24.
#[inline]
pub fn q6_selects(l: &Lineitem) -> bool {
    (Q6_FROM..Q6_TO).contains(&l.shipdate) && (5..=7).contains(&l.discount) && l.quantity < 24
}

/// The shipping-date range of Q6: `[1994-01-01, 1995-01-01)`.
pub const Q6_FROM: i32 = days_from_civil(1994, 1, 1);
/// See [`Q6_FROM`].
pub const Q6_TO: i32 = days_from_civil(1995, 1, 1);

/// Q6 as a dataflow job: `sum(l_extendedprice * l_discount)` in 10⁻⁴.
pub fn q6_engine(lineitem: &Dataset<Lineitem>) -> Result<i64> {
    let revenue = lineitem
        .filter(q6_selects)
        .map(|l| l.extendedprice * l.discount)
        .reduce(|a, b| a + b)?;
    Ok(revenue.into_value().unwrap_or(0))
}

/// Q6's plan: the revenue of the selected rows, summed into one record (under the
/// unit key, so that the sum happens in the tasks wherever they run).
pub fn q6_plan(lineitem: &Dataset<Lineitem>) -> Dataset<((), i64)> {
    lineitem
        .filter(q6_selects)
        .map(|l| ((), l.extendedprice * l.discount))
        .reduce_by_key_into(1, |a, b| a + b)
}

/// Q6 as a single-threaded loop.
pub fn q6_reference(rows: &[Lineitem]) -> i64 {
    rows.iter()
        .filter(|l| q6_selects(l))
        .map(|l| l.extendedprice * l.discount)
        .sum()
}

/// The table as a dataset of `partitions` partitions.
pub fn dataset(ctx: &Context, rows: Vec<Lineitem>, partitions: usize) -> Dataset<Lineitem> {
    ctx.parallelize(rows, partitions)
}

/// Formats a fixed-point sum with `scale` decimals.
pub fn fixed(value: i128, scale: u32) -> String {
    let unit = 10i128.pow(scale);
    let sign = if value < 0 { "-" } else { "" };
    let v = value.abs();
    format!(
        "{sign}{}.{:0width$}",
        v / unit,
        v % unit,
        width = scale as usize
    )
}
