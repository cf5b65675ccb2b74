//! Scripted EST servers backed by a [`TestCa`]: `/cacerts` from its
//! certificates, `/simpleenroll` issuing or answering as a test says.
//!
//! Compiled again by est-ca-handler's unit tests, like `scripted.rs`.

use super::{ScriptedTransport, TestCa, enrolled_csr, is_enroll, pkcs7_answer};
use crate::transport::{Request, Response, TransportError};
use std::rc::Rc;

/// An EST server that publishes `ca`'s issuing and root certificates at
/// `/cacerts` and answers `/simpleenroll` with `enroll`.
pub fn est_server(
    ca: &Rc<TestCa>,
    enroll: impl Fn(&Request) -> Result<Response, TransportError> + 'static,
) -> ScriptedTransport {
    let ca = Rc::clone(ca);
    ScriptedTransport::new(move |request| {
        if is_enroll(request) {
            enroll(request)
        } else {
            pkcs7_answer(&[&ca.root_der(), &ca.intermediate_der()])
        }
    })
}

/// A well-behaved EST server backed by `ca`.
pub fn issuing(ca: &Rc<TestCa>) -> ScriptedTransport {
    issuing_with(ca, TestCa::issue)
}

/// An EST server that issues with `issue` (for example
/// [`TestCa::issue_without_sans`]) and publishes `ca`'s certificates.
pub fn issuing_with(ca: &Rc<TestCa>, issue: fn(&TestCa, &[u8]) -> Vec<u8>) -> ScriptedTransport {
    let issuer = Rc::clone(ca);
    est_server(ca, move |request| {
        pkcs7_answer(&[&issue(&issuer, &enrolled_csr(request))])
    })
}

/// An EST server that answers every `/simpleenroll` with `answer`, and
/// `/cacerts` as [`est_server`] does.
pub fn enroll_answers(
    ca: &Rc<TestCa>,
    answer: impl Fn() -> Result<Response, TransportError> + 'static,
) -> ScriptedTransport {
    est_server(ca, move |_| answer())
}
