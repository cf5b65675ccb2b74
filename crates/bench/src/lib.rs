//! `est-bench`'s library part: the load and soak driver shared by the
//! benchmark's `--soak` mode and the host's scaled-down soak test
//! (`crates/host/tests/soak.rs`).

#![warn(missing_docs)]

pub mod soak;
