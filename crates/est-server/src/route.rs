//! One request to its answer: the request log, the `Basic` check, the EST
//! operation its path names, and the framing knobs applied to the answer.

use crate::answer::{Answer, text};
use crate::body::AnswerBody;
use crate::cacerts::cacerts;
use crate::config::{AuthMode, Faults, RequestRecord};
use crate::enroll::{enroll, faulty_enroll};
use crate::fault::{self, STALL_LIMIT};
use crate::state::{Peer, State, lock};
use base64ct::{Base64, Encoding};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Method, Request, StatusCode};
use std::sync::Arc;

/// The largest request body the server reads.
const MAX_REQUEST: usize = 256 * 1024;

/// The EST operation a path names, under `/.well-known/est[/label]/`.
fn operation(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/.well-known/est/")?;
    match rest.split('/').collect::<Vec<_>>()[..] {
        [op] => Some(op),
        [label, op] if !label.is_empty() => Some(op),
        _ => None,
    }
}

/// `answer` as the framing knobs of `faults` want it: errors without a
/// `Content-Type` ([`Faults::untyped_errors`]), a 202 ending at the close of
/// the connection ([`Faults::pending_until_close`]).
pub(crate) fn shaped(mut answer: Answer, faults: &Faults) -> Answer {
    let status = answer.status();
    if faults.untyped_errors && (status.is_client_error() || status.is_server_error()) {
        answer.headers_mut().remove(CONTENT_TYPE);
    }
    if faults.pending_until_close && status == StatusCode::ACCEPTED {
        // An HTTP/1.0 answer whose body has no announced length is
        // delimited by the end of the connection.
        *answer.version_mut() = hyper::Version::HTTP_10;
        return answer.map(AnswerBody::without_length);
    }
    answer
}

/// The answer to one request under `faults` (the faults as they were when
/// it arrived).
pub(crate) async fn handle(
    request: Request<Incoming>,
    state: &Arc<State>,
    peer: &Peer,
    faults: &Faults,
) -> Answer {
    let (request, body) = request.into_parts();
    let path = request.uri.path().to_owned();
    let authorization = request.headers.get(hyper::header::AUTHORIZATION).cloned();
    let transfer_encoding = request
        .headers
        .get("content-transfer-encoding")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    let record = {
        let mut log = lock(&state.log);
        log.push(RequestRecord {
            method: request.method.to_string(),
            path: path.clone(),
            had_authorization: authorization.is_some(),
            had_client_cert: peer.had_client_cert,
            tls_version: peer.tls_version.clone(),
            connection: peer.connection,
            transfer_encoding: request
                .headers
                .get(hyper::header::TRANSFER_ENCODING)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            fault: None,
        });
        log.len() - 1
    };
    if let Some(delay) = faults.delay {
        tokio::time::sleep(delay).await;
    }
    let Some(op) = operation(&path) else {
        return text(StatusCode::NOT_FOUND, format!("no EST operation at {path}"));
    };
    if matches!(state.auth, AuthMode::Basic | AuthMode::Both)
        && !basic_ok(authorization.as_ref(), &state.basic)
    {
        let mut answer = text(
            StatusCode::UNAUTHORIZED,
            "The server could not verify that you are authorized to access the URL requested.",
        );
        answer.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"estrealm\""),
        );
        return answer;
    }
    match (&request.method, op) {
        (&Method::GET, "cacerts") if faults.stall_cacerts => {
            // Dropped with the connection when the client goes away.
            tokio::time::sleep(STALL_LIMIT).await;
            text(StatusCode::SERVICE_UNAVAILABLE, "stalled for too long")
        }
        (&Method::GET, "cacerts") => cacerts(state, faults),
        (&Method::GET, "csrattrs") => text(StatusCode::NO_CONTENT, ""),
        (&Method::POST, "simpleenroll" | "simplereenroll") => {
            let body = match Limited::new(body, MAX_REQUEST).collect().await {
                Ok(body) => body.to_bytes(),
                Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
            };
            if faults.require_base64_header && transfer_encoding.as_deref() != Some("base64") {
                return text(
                    StatusCode::BAD_REQUEST,
                    "Content-Transfer-Encoding: base64 is required",
                );
            }
            if faults.require_final_newline && !body.ends_with(b"\n") {
                return text(
                    StatusCode::BAD_REQUEST,
                    "the base64 body must end with a newline",
                );
            }
            let fault = match faults.by_csr.then(|| fault::from_csr(&body)).flatten() {
                Some(Ok(fault)) => Some(fault),
                Some(Err(e)) => {
                    return text(
                        StatusCode::BAD_REQUEST,
                        format!("the CSR names no fault: {e}"),
                    );
                }
                None => faults.fault,
            };
            match fault {
                Some(fault) => {
                    lock(&state.log)[record].fault = Some(fault);
                    faulty_enroll(state, faults, &body, fault, peer, &request.headers).await
                }
                // Signing is CPU work: it runs off the async workers, so
                // that other connections' answers (a /cacerts sent at the
                // same time) are not held up behind it.
                None => {
                    let (state, faults) = (Arc::clone(state), faults.clone());
                    tokio::task::spawn_blocking(move || enroll(&state, &faults, &body))
                        .await
                        .unwrap_or_else(|e| {
                            text(
                                StatusCode::INTERNAL_SERVER_ERROR,
                                format!("signing failed: {e}"),
                            )
                        })
                }
            }
        }
        (_, "cacerts" | "csrattrs" | "simpleenroll" | "simplereenroll") => text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} is not allowed on /{op}", request.method),
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            format!("unknown EST operation /{op}"),
        ),
    }
}

/// Whether `header` carries HTTP Basic credentials `expected` (`user:password`).
fn basic_ok(header: Option<&HeaderValue>, expected: &str) -> bool {
    let Some(value) = header.and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    Base64::decode_vec(encoded.trim()).is_ok_and(|decoded| decoded == expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_found_with_or_without_a_label() {
        assert_eq!(operation("/.well-known/est/cacerts"), Some("cacerts"));
        assert_eq!(
            operation("/.well-known/est/tenant/simpleenroll"),
            Some("simpleenroll")
        );
        assert_eq!(operation("/.well-known/est/a/b/c"), None);
        assert_eq!(operation("/cacerts"), None);
    }
}
