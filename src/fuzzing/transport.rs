//! A deterministic EST server for the targets: a [`Transport`] that
//! answers the i-th request it gets with the i-th scripted answer (each
//! made from two parts of the fuzz input), and, once the script is used
//! up, as a well-behaved server would from the fixtures. It records the
//! requests it got and the answers it gave, for the targets' checks.

use super::fixtures::{ISSUING, LEAF, LEAF_CN_ONLY, ROOT, certs_only};
use crate::error::{TransportCause, TransportFailure};
use crate::transport::{Limits, Request, Response, Transport, TransportError};
use std::cell::RefCell;

/// One scripted answer.
#[derive(Debug, Clone)]
pub(crate) enum Scripted {
    /// Exactly this answer.
    Raw(Response),
    /// A fixture answer for the endpoint asked (see [`Fixture`]).
    Fixture(Fixture),
    /// `202` with this `Retry-After` value (none when empty).
    Pending(Vec<u8>),
    /// `200`, `Content-Type: application/pkcs7-mime`, this body.
    Pkcs7Body(Vec<u8>),
    /// No answer.
    Failed(TransportError),
    /// The transport loses this request and every later one of the batch.
    Lost,
}

/// Certs-only answers from the fixtures, per endpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fixture {
    /// `/simpleenroll`: the leaf; `/cacerts`: issuing CA and root.
    Standard,
    /// `/simpleenroll`: the leaf without its SANs; `/cacerts`: root and issuing CA.
    CnOnly,
    /// `/simpleenroll`: issuing CA, leaf, root; `/cacerts`: the root alone.
    WithChain,
    /// The root alone, for either endpoint (not the CSR's key, no issuer).
    RootOnly,
}

impl Scripted {
    /// The answer described by `spec` (kind, status, cause, header lines)
    /// and `payload` (body, `Retry-After` or failure words).
    pub(crate) fn parse(spec: &[u8], payload: &[u8]) -> Self {
        let at = |i: usize| spec.get(i).copied().unwrap_or(0);
        match at(0) % 10 {
            0 => Self::Raw(Response {
                status: u16::from_be_bytes([at(1), at(2)]),
                headers: header_lines(spec.get(4..).unwrap_or_default()),
                body: payload.to_vec(),
            }),
            1 => Self::Fixture(Fixture::Standard),
            2 => Self::Fixture(Fixture::CnOnly),
            3 => Self::Fixture(Fixture::WithChain),
            4 => Self::Fixture(Fixture::RootOnly),
            5 => Self::Pending(payload.to_vec()),
            6 => Self::Failed(TransportError::Failed(TransportFailure::new(
                cause(at(3)),
                String::from_utf8_lossy(payload),
            ))),
            7 => Self::Failed(TransportError::BodyTooLarge {
                limit: crate::transport::MAX_BODY,
            }),
            8 => Self::Pkcs7Body(payload.to_vec()),
            _ => Self::Lost,
        }
    }
}

/// `name: value` lines (lines without a colon are skipped); names in
/// lower case as transports give them, values as raw bytes.
pub(crate) fn header_lines(text: &[u8]) -> Vec<(String, Vec<u8>)> {
    text.split(|b| *b == b'\n')
        .filter_map(|line| {
            let colon = line.iter().position(|b| *b == b':')?;
            let name = String::from_utf8_lossy(&line[..colon])
                .trim()
                .to_ascii_lowercase();
            Some((name, line[colon + 1..].to_vec()))
        })
        .collect()
}

/// A transport cause chosen by `selector`.
pub(crate) fn cause(selector: u8) -> TransportCause {
    match selector % 10 {
        0 => TransportCause::Dns,
        1 => TransportCause::ConnectionRefused,
        2 => TransportCause::ConnectionReset,
        3 => TransportCause::TlsUntrusted,
        4 => TransportCause::TlsAlert(Some(selector)),
        5 => TransportCause::TlsAlert(None),
        6 => TransportCause::TlsProtocol,
        7 => TransportCause::DestinationDenied,
        8 => TransportCause::Timeout,
        _ => TransportCause::Other,
    }
}

/// A `200` certs-only answer, base64 in lines as RFC 7030 says.
pub(crate) fn pkcs7_answer(certs: &[&[u8]]) -> Response {
    pkcs7_body(crate::encoding::base64_lines(&certs_only(certs)).into_bytes())
}

fn pkcs7_body(body: Vec<u8>) -> Response {
    Response {
        status: 200,
        headers: vec![
            (
                "content-type".into(),
                b"application/pkcs7-mime; smime-type=certs-only".to_vec(),
            ),
            ("content-transfer-encoding".into(), b"base64".to_vec()),
        ],
        body,
    }
}

fn fixture_answer(fixture: Fixture, enroll: bool) -> Response {
    match (fixture, enroll) {
        (Fixture::Standard, true) => pkcs7_answer(&[LEAF]),
        (Fixture::Standard, false) => pkcs7_answer(&[ISSUING, ROOT]),
        (Fixture::CnOnly, true) => pkcs7_answer(&[LEAF_CN_ONLY]),
        (Fixture::CnOnly, false) => pkcs7_answer(&[ROOT, ISSUING]),
        (Fixture::WithChain, true) => pkcs7_answer(&[ISSUING, LEAF, ROOT]),
        (Fixture::WithChain, false) | (Fixture::RootOnly, _) => pkcs7_answer(&[ROOT]),
    }
}

/// The scripted EST server.
#[derive(Debug, Default)]
pub(crate) struct ScriptedTransport {
    script: Vec<Scripted>,
    state: RefCell<State>,
}

#[derive(Debug, Default)]
struct State {
    next: usize,
    requests: Vec<Request>,
    answers: Vec<Response>,
}

impl ScriptedTransport {
    pub(crate) fn new(script: Vec<Scripted>) -> Self {
        Self {
            script,
            state: RefCell::default(),
        }
    }

    /// Every request received, in order.
    pub(crate) fn requests(&self) -> Vec<Request> {
        self.state.borrow().requests.clone()
    }

    /// Every answer given, in order.
    pub(crate) fn answers(&self) -> Vec<Response> {
        self.state.borrow().answers.clone()
    }
}

impl Transport for ScriptedTransport {
    fn send_all(
        &self,
        requests: Vec<Request>,
        _limits: Limits,
    ) -> Vec<Result<Response, TransportError>> {
        let mut state = self.state.borrow_mut();
        let mut outcomes = Vec::new();
        for request in &requests {
            let enroll = request.path.ends_with("/simpleenroll");
            let scripted = self
                .script
                .get(state.next)
                .cloned()
                .unwrap_or(Scripted::Fixture(Fixture::Standard));
            state.next += 1;
            let response = match scripted {
                Scripted::Raw(response) => response,
                Scripted::Fixture(fixture) => fixture_answer(fixture, enroll),
                Scripted::Pending(retry_after) => Response {
                    status: 202,
                    headers: if retry_after.is_empty() {
                        Vec::new()
                    } else {
                        vec![("retry-after".into(), retry_after)]
                    },
                    body: Vec::new(),
                },
                Scripted::Pkcs7Body(body) => pkcs7_body(body),
                Scripted::Failed(error) => {
                    outcomes.push(Err(error));
                    continue;
                }
                Scripted::Lost => break,
            };
            state.answers.push(response.clone());
            outcomes.push(Ok(response));
        }
        state.requests.extend(requests);
        outcomes
    }
}
