//! The one scripted EST server of the tests: a [`ScriptedTransport`] that
//! answers each request from a script, records every batch and every
//! answer it gave, and can lose requests as a broken connection does; and
//! the answers scripts are made of.
//!
//! est-ca-handler's unit tests compile this file again against the crate
//! itself (see the kit's documentation): it names the handler only as
//! `crate::transport` and `crate::encoding`, and the kit as `super::`.

use super::{b64, certs_only};
use crate::transport::{Limits, Request, Response, Transport, TransportError};
use std::cell::RefCell;

/// The answer to one request; `None` loses it.
type Script = Box<dyn Fn(&Request) -> Option<Result<Response, TransportError>>>;

/// A transport that answers from a script and records every batch sent
/// and every answer given.
pub struct ScriptedTransport {
    script: Script,
    /// Every batch of requests sent, in order.
    pub batches: RefCell<Vec<Vec<Request>>>,
    answers: RefCell<Vec<Response>>,
}

impl ScriptedTransport {
    /// A transport that answers every request with `script`.
    pub fn new(script: impl Fn(&Request) -> Result<Response, TransportError> + 'static) -> Self {
        Self::losing(move |request| Some(script(request)))
    }

    /// A transport that answers with `script`; where the script gives
    /// `None`, the transport loses that request and every later one of
    /// its batch (it answers fewer requests than were sent).
    pub fn losing(
        script: impl Fn(&Request) -> Option<Result<Response, TransportError>> + 'static,
    ) -> Self {
        Self {
            script: Box::new(script),
            batches: RefCell::default(),
            answers: RefCell::default(),
        }
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.batches.borrow().iter().flatten().cloned().collect()
    }

    /// Every answer given (not the failures), in order.
    pub fn answers(&self) -> Vec<Response> {
        self.answers.borrow().clone()
    }
}

impl Transport for ScriptedTransport {
    fn send_all(
        &self,
        requests: Vec<Request>,
        _limits: Limits,
    ) -> Vec<Result<Response, TransportError>> {
        let mut outcomes = Vec::new();
        for request in &requests {
            let Some(outcome) = (self.script)(request) else {
                break;
            };
            if let Ok(response) = &outcome {
                self.answers.borrow_mut().push(response.clone());
            }
            outcomes.push(outcome);
        }
        self.batches.borrow_mut().push(requests);
        outcomes
    }
}

/// An answer with `status`, headers (names as given) and body.
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

/// A `200` with the headers of a certs-only answer (`Content-Type:
/// application/pkcs7-mime; smime-type=certs-only`, base64 transfer
/// encoding) and `body`, whatever it holds.
pub fn pkcs7_response(body: impl Into<Vec<u8>>) -> Response {
    Response {
        status: 200,
        headers: vec![
            (
                "content-type".into(),
                b"application/pkcs7-mime; smime-type=certs-only".to_vec(),
            ),
            ("content-transfer-encoding".into(), b"base64".to_vec()),
        ],
        body: body.into(),
    }
}

/// A `200` certs-only answer holding `certs` in this order, base64 in
/// lines as RFC 7030 says.
pub fn pkcs7_answer(certs: &[&[u8]]) -> Result<Response, TransportError> {
    Ok(pkcs7_response(b64(&certs_only(certs))))
}

/// Whether `request` is an enrollment (`/simpleenroll`).
pub fn is_enroll(request: &Request) -> bool {
    request.path.ends_with("/simpleenroll")
}

/// The DER CSR an enrollment request carries.
pub fn enrolled_csr(request: &Request) -> Vec<u8> {
    crate::encoding::decode_base64(&request.body).expect("an enrollment body that is base64")
}
