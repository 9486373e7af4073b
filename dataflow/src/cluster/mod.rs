//! The cluster layer: what travels between a driver and its executor processes.
//!
//! - [`wire`]: every message is one frame — a version byte, a length, a postcard
//!   payload — read with a size limit and refused with a reason when it is wrong in any
//!   way, so a bad peer costs its connection and nothing else.

pub mod wire;
