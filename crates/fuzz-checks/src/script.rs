//! The EST server the `est_answer` and `api` targets talk to: the kit's
//! [`ScriptedTransport`], answering the i-th request it gets with the
//! i-th scripted answer (each made from two parts of the fuzz input), and,
//! once the script is used up, as a well-behaved server would from the
//! fixtures.

use crate::fixtures::{ISSUING, LEAF, LEAF_CN_ONLY, ROOT};
use est_ca_handler::error::{TransportCause, TransportFailure};
use est_ca_handler::transport::{MAX_BODY, Response, TransportError};
use est_test_kit::{ScriptedTransport, pkcs7_answer, pkcs7_response};
use std::cell::Cell;

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
            7 => Self::Failed(TransportError::BodyTooLarge { limit: MAX_BODY }),
            8 => Self::Pkcs7Body(payload.to_vec()),
            _ => Self::Lost,
        }
    }
}

/// `name: value` lines (lines without a colon are skipped); names in
/// lower case as transports give them, values as raw bytes.
fn header_lines(text: &[u8]) -> Vec<(String, Vec<u8>)> {
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
fn cause(selector: u8) -> TransportCause {
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

fn fixture_answer(fixture: Fixture, enroll: bool) -> Result<Response, TransportError> {
    match (fixture, enroll) {
        (Fixture::Standard, true) => pkcs7_answer(&[LEAF]),
        (Fixture::Standard, false) => pkcs7_answer(&[ISSUING, ROOT]),
        (Fixture::CnOnly, true) => pkcs7_answer(&[LEAF_CN_ONLY]),
        (Fixture::CnOnly, false) => pkcs7_answer(&[ROOT, ISSUING]),
        (Fixture::WithChain, true) => pkcs7_answer(&[ISSUING, LEAF, ROOT]),
        (Fixture::WithChain, false) | (Fixture::RootOnly, _) => pkcs7_answer(&[ROOT]),
    }
}

/// The scripted EST server: the i-th request (over all batches) gets
/// `script[i]`, later ones [`Fixture::Standard`].
pub(crate) fn est_server(script: Vec<Scripted>) -> ScriptedTransport {
    let next = Cell::new(0);
    ScriptedTransport::losing(move |request| {
        let scripted = script
            .get(next.get())
            .cloned()
            .unwrap_or(Scripted::Fixture(Fixture::Standard));
        next.set(next.get() + 1);
        Some(match scripted {
            Scripted::Raw(response) => Ok(response),
            Scripted::Fixture(fixture) => fixture_answer(fixture, est_test_kit::is_enroll(request)),
            Scripted::Pending(retry_after) => Ok(Response {
                status: 202,
                headers: if retry_after.is_empty() {
                    Vec::new()
                } else {
                    vec![("retry-after".into(), retry_after)]
                },
                body: Vec::new(),
            }),
            Scripted::Pkcs7Body(body) => Ok(pkcs7_response(body)),
            Scripted::Failed(error) => Err(error),
            Scripted::Lost => return None,
        })
    })
}
