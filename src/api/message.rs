//! The API's requests and answers as plain values ([`ApiRequest`],
//! [`ApiResponse`]), and the request id that names them ([`RequestId`]).

use serde::Serialize;

/// The largest request body accepted, in bytes.
pub const MAX_REQUEST_BODY: usize = 64 * 1024;

/// An HTTP request to the API.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    /// The method, exactly as sent (methods are case-sensitive).
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The query, without `?`.
    pub query: &'a str,
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The body, at most [`MAX_REQUEST_BODY`] bytes.
    pub body: &'a [u8],
}

/// The API's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers (the content type among them).
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Warnings for the operator's log (the component writes them to
    /// stderr), such as names missing from an issued certificate.
    pub log: Vec<String>,
}

impl ApiResponse {
    pub(crate) fn json(status: u16, value: &impl Serialize) -> Self {
        Self::json_as(status, value, "application/json")
    }

    pub(crate) fn json_as(status: u16, value: &impl Serialize, content_type: &str) -> Self {
        let body = serde_json_wasm::to_vec(value).unwrap_or_default();
        Self {
            status,
            headers: vec![("content-type", content_type.into())],
            body,
            log: Vec::new(),
        }
    }

    /// Names the request this answers: the `x-request-id` header, and in a
    /// problem document the `instance` member, `urn:request:<id>`. The
    /// problem documents are JSON objects this module wrote, and a
    /// [`RequestId`] needs no escaping, so the member is added in place.
    pub fn identify(&mut self, id: &RequestId) {
        self.headers
            .push((RequestId::HEADER, id.as_str().to_owned()));
        let is_problem = self.header("content-type") == Some("application/problem+json");
        if is_problem && self.body.len() > 2 && self.body.last() == Some(&b'}') {
            self.body.pop();
            self.body.extend_from_slice(b",\"instance\":\"urn:request:");
            self.body.extend_from_slice(id.as_str().as_bytes());
            self.body.extend_from_slice(b"\"}");
        }
    }

    /// The value of header `name`, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A request's id, as the caller or the host gave it in `X-Request-Id`:
/// 1 to 64 letters, digits, `-`, `_`, `.` or `:` (safe in a header, a log
/// line, JSON and a URN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The header that carries it, both ways.
    pub const HEADER: &'static str = "x-request-id";

    /// The id in `value`, if it is usable as one.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        let usable = (1..=64).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        usable.then(|| Self(value.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
