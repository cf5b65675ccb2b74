//! The one scripted EST server of the native tests: a [`ScriptedTransport`]
//! that answers from a script and records every batch, and the scripts the
//! tests share (`/cacerts` from a test CA, `/simpleenroll` issuing or
//! answering as a test says).

use super::{TestCa, b64, certs_only};
use crate::transport::{Limits, Request, Response, Transport, TransportError};
use std::cell::RefCell;
use std::rc::Rc;

type Script = Box<dyn Fn(&Request) -> Result<Response, TransportError>>;

/// A transport that answers from a script and records every batch sent.
pub struct ScriptedTransport {
    script: Script,
    pub batches: RefCell<Vec<Vec<Request>>>,
}

impl ScriptedTransport {
    pub fn new(script: impl Fn(&Request) -> Result<Response, TransportError> + 'static) -> Self {
        Self {
            script: Box::new(script),
            batches: RefCell::new(Vec::new()),
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.batches.borrow().iter().flatten().cloned().collect()
    }
}

impl Transport for ScriptedTransport {
    fn send_all(
        &self,
        requests: Vec<Request>,
        _limits: Limits,
    ) -> Vec<Result<Response, TransportError>> {
        let outcomes = requests.iter().map(|r| (self.script)(r)).collect();
        self.batches.borrow_mut().push(requests);
        outcomes
    }
}

/// An answer with `status`, headers and body.
pub fn response(
    status: u16,
    headers: &[(&str, &str)],
    body: impl Into<Vec<u8>>,
) -> Result<Response, TransportError> {
    Ok(Response {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect(),
        body: body.into(),
    })
}

/// A 200 certs-only answer, base64 as RFC 7030 says.
pub fn pkcs7_answer(certs: &[&[u8]]) -> Result<Response, TransportError> {
    response(
        200,
        &[
            (
                "content-type",
                "application/pkcs7-mime; smime-type=certs-only",
            ),
            ("content-transfer-encoding", "base64"),
        ],
        b64(&certs_only(certs)),
    )
}

/// Whether `request` is an enrollment.
pub fn is_enroll(request: &Request) -> bool {
    request.path.ends_with("/simpleenroll")
}

/// The DER CSR an enrollment request carries.
pub fn enrolled_csr(request: &Request) -> Vec<u8> {
    crate::encoding::decode_base64(&request.body).unwrap()
}

/// An EST server that publishes `ca`'s root and issuing certificates at
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
