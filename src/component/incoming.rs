//! The `wasi:http/incoming-handler` export: turns an incoming request into
//! an [`ApiRequest`](crate::api::ApiRequest), and the API's answer into the
//! outgoing response.

use super::bindings::exports::wasi::http::incoming_handler::Guest;
use super::bindings::wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use super::bindings::wasi::io::streams::StreamError;
use super::transport::WasiTransport;
use super::{Component, WasiSettings, loaded_config, log, log_warnings};
use crate::api::{self, ApiRequest, ApiResponse, MAX_REQUEST_BODY, ProblemKind, RequestId};

impl Guest for Component {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let mut response = serve(&request);
        if let Some(id) = request_id(&request) {
            response.identify(&id);
        }
        log(&response.log);
        drop(request);
        respond(response_out, &response);
    }
}

/// The request's usable `X-Request-Id` (the host's `serve` always sets one).
fn request_id(request: &IncomingRequest) -> Option<RequestId> {
    let headers = request.headers();
    let values = headers.get(RequestId::HEADER);
    let first = values.first()?;
    RequestId::parse(std::str::from_utf8(first).ok()?)
}

/// Admits the request from its head ([`api::admit`]: route and token),
/// and only then reads the body, for the routes that take one: a caller
/// without the token is answered at once, and holds this instance no
/// longer than that, however slowly it sends a body.
fn serve(request: &IncomingRequest) -> ApiResponse {
    let method = match request.method() {
        Method::Get => "GET".to_owned(),
        Method::Post => "POST".to_owned(),
        Method::Put => "PUT".to_owned(),
        Method::Delete => "DELETE".to_owned(),
        Method::Head => "HEAD".to_owned(),
        Method::Patch => "PATCH".to_owned(),
        Method::Options => "OPTIONS".to_owned(),
        Method::Connect => "CONNECT".to_owned(),
        Method::Trace => "TRACE".to_owned(),
        // Methods are case-sensitive (RFC 9110 §9.1): `post` is not `POST`.
        Method::Other(other) => other,
    };
    let target = request.path_with_query().unwrap_or_else(|| "/".into());
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let headers = request.headers();
    let header = |name: &str| {
        headers
            .get(name)
            .into_iter()
            .next()
            .and_then(|value| String::from_utf8(value).ok())
    };
    let (authorization, content_type) = (header("authorization"), header("content-type"));
    drop(headers);
    let admission = match api::admit(&method, path, authorization.as_deref(), &WasiSettings) {
        Ok(admission) => admission,
        Err(refusal) => return refusal,
    };
    let body = if admission.reads_body() {
        match read_body(request) {
            Ok(Some(body)) => body,
            Ok(None) => return api::too_large(),
            Err(why) => {
                return api::problem(400, ProblemKind::BadRequest, "Unreadable request body", why);
            }
        }
    } else {
        Vec::new()
    };
    let config = loaded_config();
    if let Ok(config) = config {
        log_warnings(config);
    }
    let request = ApiRequest {
        method: &method,
        path,
        query,
        authorization: authorization.as_deref(),
        content_type: content_type.as_deref(),
        body: &body,
    };
    api::respond(&admission, &request, config.as_ref(), &WasiTransport)
}

/// The body, or `None` when it is larger than the API accepts.
fn read_body(request: &IncomingRequest) -> Result<Option<Vec<u8>>, String> {
    let body = request
        .consume()
        .map_err(|()| "the body was already taken".to_owned())?;
    let mut data = Vec::new();
    {
        let stream = body
            .stream()
            .map_err(|()| "the body stream was already taken".to_owned())?;
        loop {
            match stream.blocking_read(16 * 1024) {
                Ok(chunk) => {
                    if data.len() + chunk.len() > MAX_REQUEST_BODY {
                        return Ok(None);
                    }
                    super::transport::append(&mut data, chunk);
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(super::transport::host_words(&e.to_debug_string()));
                }
            }
        }
    }
    drop(body);
    Ok(Some(data))
}

fn respond(out: ResponseOutparam, answer: &ApiResponse) {
    let headers = Fields::new();
    for (name, value) in &answer.headers {
        let _ = headers.append(name, value.as_bytes());
    }
    let _ = headers.append("content-length", answer.body.len().to_string().as_bytes());
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(answer.status);
    let Ok(body) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    let written = match body.write() {
        Ok(stream) => super::transport::write_all(&stream, &answer.body),
        Err(()) => return,
    };
    if written.is_ok() {
        let _ = OutgoingBody::finish(body, None);
    }
}
