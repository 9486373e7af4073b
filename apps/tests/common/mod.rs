//! Helpers shared by the tests that run the `neptune` binary.

// Each test binary uses only some of these.
#![allow(dead_code, unused_imports)]

pub mod cluster;
pub mod live;

pub use neptune_support::temp::TempDir;

/// Process output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
