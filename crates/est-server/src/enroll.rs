//! Enrollments (`/simpleenroll`, `/simplereenroll`): issuing the CSR's
//! certificate as the fault knobs allow, and the [`EnrollFault`]s that
//! reach the transport.

use crate::answer::{
    Answer, base64_lines, echo_headers, pending_answer, pkcs7_answer, pkcs7_body, pkcs7_with_body,
    text,
};
use crate::body::{self, AnswerBody};
use crate::ca::IssueOptions;
use crate::config::Faults;
use crate::fault::{self, BodyFault, EnrollFault, STALL_LIMIT};
use crate::pkcs7;
use crate::state::{Peer, State, lock};
use base64ct::{Base64, Encoding};
use hyper::StatusCode;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use std::sync::Arc;

/// An enrollment that meets `fault`.
pub(crate) async fn faulty_enroll(
    state: &State,
    faults: &Faults,
    body: &[u8],
    fault: EnrollFault,
    peer: &Peer,
    headers: &hyper::HeaderMap,
) -> Answer {
    let mut faults = faults.clone();
    match fault {
        EnrollFault::EchoHeaders => return echo_headers(headers),
        EnrollFault::StallHeaders => {
            // Dropped with the connection when the client goes away.
            tokio::time::sleep(STALL_LIMIT).await;
            return text(StatusCode::SERVICE_UNAVAILABLE, "stalled for too long");
        }
        EnrollFault::Huge => return pkcs7_body(body::huge_body()),
        EnrollFault::Endless => {
            let mut answer = pkcs7_body(Bytes::new());
            *answer.body_mut() = AnswerBody::endless();
            return answer;
        }
        EnrollFault::PendingForever => return pending_answer(&faults),
        EnrollFault::Trickle | EnrollFault::Reset => {}
        EnrollFault::Status(code) => {
            faults.status = Some((code, format!("refused by est-server (fault {fault})")));
        }
        EnrollFault::Body(body) => faults.body = Some(body),
        EnrollFault::WrongContentType => faults.wrong_content_type = true,
        EnrollFault::OtherKey => faults.other_key = true,
        EnrollFault::DropSans => faults.drop_sans = true,
    }
    let answer = enroll(state, &faults, body);
    if answer.status() != StatusCode::OK {
        return answer;
    }
    match fault {
        EnrollFault::Trickle => answer.map(AnswerBody::trickle),
        EnrollFault::Reset => answer.map(|body| body.reset(Arc::clone(&peer.control))),
        _ => answer,
    }
}

/// The answer to the enrollment of the base64 CSR `body` under `faults`.
pub(crate) fn enroll(state: &State, faults: &Faults, body: &[u8]) -> Answer {
    if let Some((status, body)) = &faults.status {
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return text(status, body.clone());
    }
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let Ok(csr) = Base64::decode_vec(&String::from_utf8_lossy(&compact)) else {
        return text(StatusCode::BAD_REQUEST, "the request body is not base64");
    };
    if faults.require_cn && fault::common_name(&csr).is_none() {
        return text(
            StatusCode::BAD_REQUEST,
            "the CSR's subject has no common name (CN)",
        );
    }
    if faults.pending_times > 0 {
        let mut pending = lock(&state.pending);
        let seen = pending.entry(csr.clone()).or_insert(0);
        if *seen < faults.pending_times {
            *seen += 1;
            return pending_answer(faults);
        }
    }
    let options = IssueOptions {
        other_key: faults.other_key,
        drop_sans: faults.drop_sans,
    };
    let cert = match state.ca.issue(&csr, options) {
        Ok(cert) => cert,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e:#}")),
    };
    let der = match pkcs7::certs_only(&[cert]) {
        Ok(der) => der,
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")),
    };
    let mut answer = match faults.body {
        None => pkcs7_answer(&der),
        Some(BodyFault::Garbage) => pkcs7_with_body("this is not a PKCS#7 answer!\n".into()),
        Some(BodyFault::Truncated) => {
            let full = base64_lines(&der);
            pkcs7_with_body(full[..full.len() / 2].to_owned())
        }
        Some(BodyFault::Oversized) => pkcs7_with_body("QUFB".repeat(512 * 1024)),
    };
    if faults.wrong_content_type {
        answer
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    }
    answer
}
