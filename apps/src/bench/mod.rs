//! The benchmarks of `neptune bench`: the runtime against tokio on tokio's own
//! scheduler workloads ([`vs_tokio`]), how fast a pause and a resume take effect
//! ([`pause_latency`]), quinn on the runtime against quinn on tokio ([`quic`]), and
//! cluster mode's figures ([`cluster`]), and what the live UI costs the unified
//! application ([`ui_cost`]). Each prints a table, or JSON lines with
//! `--json`; each has an example of its old name (`vs_tokio`, `pause_latency`,
//! `quic_bench`, `cluster_bench`) that runs it too.

pub mod cluster;
pub mod pause_latency;
pub mod quic;
pub mod ui_cost;
pub mod vs_tokio;
pub mod workloads;
