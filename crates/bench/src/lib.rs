//! `est-bench`'s library part: the load and soak driver shared by the
//! benchmark's `--soak` mode and the host's scaled-down soak test
//! (`crates/host/tests/soak.rs`), and the drivers that run the component
//! under other hosts and time `serve`'s cold start ([`hosts`]).

#![warn(missing_docs)]

pub mod hosts;
pub mod soak;

mod load;
mod served;
