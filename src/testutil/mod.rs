//! Fixtures for the unit tests, from `est-test-kit` (`crates/test-kit`):
//! a real test CA, CSRs, certs-only messages and base64 as the kit makes
//! them, and the kit's one scripted EST server.
//!
//! The kit's scripted server is compiled here again from the kit's own
//! source files: the kit depends on this crate, so its compiled copy
//! implements the `Transport` of a second copy of this crate, not the one
//! these tests call. Its files name the handler as `crate::transport` and
//! `crate::encoding`, and the kit's helpers as `super::`, which resolve to
//! this crate and to the re-exports below here.

#[allow(
    dead_code,
    reason = "not every test uses every helper of the kit's server"
)]
#[path = "../../crates/test-kit/src/ca_server.rs"]
mod ca_server;
#[allow(
    dead_code,
    reason = "not every test uses every helper of the kit's server"
)]
#[path = "../../crates/test-kit/src/scripted.rs"]
mod scripted;

pub use ca_server::{enroll_answers, est_server, issuing, issuing_with};
pub use est_test_kit::{TestCa, b64, b64url, certs_only, make_csr, make_csr_with, tlv};
pub use scripted::{ScriptedTransport, enrolled_csr, is_enroll, pkcs7_answer, response};
