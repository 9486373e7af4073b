//! Helpers shared by the integration tests: the context they share, and (from
//! neptune-support) condition waits and temporary directories.

// Each test binary uses only some of these.
#![allow(dead_code, unused_imports)]

use neptune_dataflow::Context;
use std::sync::OnceLock;

pub use neptune_support::temp::TempDir;
pub use neptune_support::wait::wait_for;

/// A context shared by the tests of one binary: two executors of two slots each.
pub fn ctx() -> &'static Context {
    static CTX: OnceLock<Context> = OnceLock::new();
    CTX.get_or_init(|| {
        Context::builder()
            .executors(2)
            .slots_per_executor(2)
            .policy("neptune")
            .build()
            .expect("a context")
    })
}
