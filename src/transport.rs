//! The boundary between the EST logic and whatever carries HTTP: requests
//! and answers as plain values, and a [`Transport`] that sends a batch of
//! requests concurrently. The component's transport is `wasi:http`; tests
//! use a scripted one.

use crate::config::Scheme;
use crate::error::{TransportCause, TransportFailure};

/// The largest answer body read from the server, in bytes.
pub const MAX_BODY: usize = 1024 * 1024;

/// An HTTP method EST uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
}

/// One outgoing request. Its `Debug` output leaves out the value of the
/// `authorization` header, which holds the Basic credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET` or `POST`.
    pub method: Method,
    /// `https` or `http`.
    pub scheme: Scheme,
    /// `host[:port]`.
    pub authority: String,
    /// Absolute path.
    pub path: String,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body (empty for `GET`).
    pub body: Vec<u8>,
}

impl core::fmt::Debug for Request {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let shown = if name.eq_ignore_ascii_case("authorization") {
                    "***"
                } else {
                    value.as_str()
                };
                (name.as_str(), shown)
            })
            .collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("scheme", &self.scheme)
            .field("authority", &self.authority)
            .field("path", &self.path)
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// One answer, with its body read in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Header names (lower case) and raw values.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, at most the transport's limit.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (lower case), if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| core::str::from_utf8(v).ok())
            .map(str::trim)
    }
}

/// Why a request got no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// No answer: DNS, connection, TLS, a destination the host refused, or
    /// the time limit.
    Failed(TransportFailure),
    /// The answer's body was larger than the limit.
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
}

impl TransportError {
    /// A failure of `cause`, described by `detail`.
    pub fn failed(cause: TransportCause, detail: impl Into<String>) -> Self {
        Self::Failed(TransportFailure::new(cause, detail))
    }
}

/// Limits applied to every request of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Seconds the exchange may take in all: connecting, the answers' heads
    /// and their bodies.
    pub timeout_secs: u32,
    /// The largest body read, in bytes.
    pub max_body: usize,
}

/// Something that sends HTTP requests.
pub trait Transport {
    /// Sends every request at once and returns their outcomes in the same order.
    fn send_all(
        &self,
        requests: Vec<Request>,
        limits: Limits,
    ) -> Vec<Result<Response, TransportError>>;

    /// The clock the exchanges' time limits run on: the caller measures
    /// what is left of its own time with it (tests move it on at will).
    fn now(&self) -> std::time::Instant {
        std::time::Instant::now()
    }

    /// Sends every request at once and hands each outcome to `arrived`
    /// with its request's index, every request exactly once. A transport
    /// that can hands each over as soon as it is complete, so that the
    /// caller reads one answer while the server still works on another;
    /// by default they come together, in order, from [`Self::send_all`].
    fn exchange(
        &self,
        requests: Vec<Request>,
        limits: Limits,
        arrived: &mut dyn FnMut(usize, Result<Response, TransportError>),
    ) {
        for (index, outcome) in self.send_all(requests, limits).into_iter().enumerate() {
            arrived(index, outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_credentials() {
        let request = Request {
            method: Method::Post,
            scheme: Scheme::Https,
            authority: "est.test".into(),
            path: "/.well-known/est/simpleenroll".into(),
            headers: vec![
                ("authorization".into(), "Basic dXNlcjpzM2NyZXQ=".into()),
                ("content-type".into(), "application/pkcs10".into()),
            ],
            body: b"MII...".to_vec(),
        };
        let shown = format!("{request:?}");
        assert!(!shown.contains("dXNlcjpzM2NyZXQ="), "{shown}");
        assert!(
            shown.contains("application/pkcs10") && shown.contains("***"),
            "{shown}"
        );
    }

    /// Answers each request with its path as the body, or fails it.
    struct Echo;

    impl Transport for Echo {
        fn send_all(
            &self,
            requests: Vec<Request>,
            _limits: Limits,
        ) -> Vec<Result<Response, TransportError>> {
            requests
                .into_iter()
                .map(|r| match r.path.as_str() {
                    "/fail" => Err(TransportError::BodyTooLarge { limit: 1 }),
                    path => Ok(Response {
                        status: 200,
                        headers: Vec::new(),
                        body: path.as_bytes().to_vec(),
                    }),
                })
                .collect()
        }
    }

    #[test]
    fn by_default_every_outcome_is_handed_over_once_with_its_index() {
        let request = |path: &str| Request {
            method: Method::Get,
            scheme: Scheme::Https,
            authority: "est.test".into(),
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        let limits = Limits {
            timeout_secs: 1,
            max_body: MAX_BODY,
        };
        let mut seen = Vec::new();
        Echo.exchange(
            vec![request("/a"), request("/fail"), request("/c")],
            limits,
            &mut |index, outcome| seen.push((index, outcome.map(|r| r.body))),
        );
        assert_eq!(
            seen,
            vec![
                (0, Ok(b"/a".to_vec())),
                (1, Err(TransportError::BodyTooLarge { limit: 1 })),
                (2, Ok(b"/c".to_vec())),
            ]
        );
    }
}
