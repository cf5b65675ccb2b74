//! The HTTP API ([`api::handle`]): any method, path, query, headers and
//! body, over the scripted EST server.

mod answers;

use crate::fixtures::{API_TOKEN, CSR, EST_PASSWORD, Settings};
use crate::script::{Scripted, est_server};
use crate::support::{Input, find};
use answers::{
    assert_not_shown, check_pending, check_response, check_success, fingerprint, json_object,
};
use base64::Engine;
use est_ca_handler::api::{self, ApiRequest, Route};
use est_ca_handler::config::{ApiAccess, Config, keys};
use est_ca_handler::encoding;
use serde_json::Value;

/// Target `api`. Layout: five selector bytes, then the parts method,
/// path, query, `Authorization`, `Content-Type`, body (each used only when
/// its selector says so), then pairs of parts scripting the EST server's
/// answers (as in `est_answer`; later requests get fixture answers).
///
/// - byte 0, the settings: bits 0-1 the API's access (token, `api_auth =
///   none`, no token, a bad `api_auth`), bit 2 a broken EST configuration,
///   bits 3-4 `est_names_check`, bit 5 the token through
///   `api_token_variable`;
/// - byte 1: bits 0-2 the method (`GET`, `POST`, others, or the part),
///   bits 3-5 the path (a route's, or the part), bit 6 `live=true`, bit 7
///   the query part;
/// - byte 2: bits 0-2 the `Authorization` header (none, the right token in
///   several spellings, wrong ones, or the part), bits 3-4 the
///   `Content-Type` (none, JSON, PKCS#10, or the part);
/// - byte 3: the body (the part, or the fixture CSR as PEM, base64url or
///   JSON, a poll body with the right identifier or the part's);
/// - byte 4: how many EST answers are scripted (0 to 4).
///
/// Checks: the status is one the API documents; header values hold no
/// control character; every status from 400 on is an
/// `application/problem+json` document with `type`, `title`, `status`
/// equal to the HTTP status, a clean `detail`, and only known `cause`s;
/// `200` is the PEM chain (`/cacerts`), the health document, or
/// `cert_bundle`/`cert_raw`/`warnings` whose certificates are byte ranges
/// of the EST server's answers and whose leaf certifies the CSR sent;
/// `202` is `poll_identifier` (the CSR's fingerprint) and `retry_after`
/// (within the clamps, equal to the `Retry-After` header); a request
/// without the right token gets no certificate and causes no EST request,
/// and `/health` tells it neither the warnings nor what is wrong;
/// neither the API token nor the EST password shows in an answer or its
/// log, and the API token never goes to the EST server (unless the input
/// itself holds it).
pub fn api(data: &[u8]) {
    let mut input = Input::<5>::new(data);
    let (b0, b1, b2, b3, b4) = (
        input.byte(0),
        input.byte(1),
        input.byte(2),
        input.byte(3),
        input.byte(4),
    );
    let settings = settings(b0);
    let parts: Vec<&[u8]> = (0..6).map(|_| input.part()).collect();
    let text = |i: usize| String::from_utf8_lossy(parts[i]).into_owned();
    let method = match b1 & 7 {
        0 | 5 => "GET".to_owned(),
        1 | 6 => "POST".to_owned(),
        2 => "PUT".to_owned(),
        3 => "post".to_owned(),
        _ => text(0),
    };
    let path = match (b1 >> 3) & 7 {
        i @ 0..=5 => Route::ALL[usize::from(i)].path().to_owned(),
        6 => "/enroll/".to_owned(),
        _ => text(1),
    };
    let query = match b1 >> 6 {
        0 => String::new(),
        1 => "live=true".to_owned(),
        _ => text(2),
    };
    let authorization = match b2 & 7 {
        0 => None,
        1 | 7 => Some(format!("Bearer {API_TOKEN}")),
        2 => Some(format!(" bEaReR \t{API_TOKEN}  ")),
        3 => Some(format!("Basic {API_TOKEN}")),
        4 => Some(format!("Bearer {}", text(3))),
        5 => Some(format!("Bearer {API_TOKEN}x")),
        _ => Some(text(3)),
    };
    let content_type = match (b2 >> 3) & 3 {
        0 => None,
        1 => Some("application/json".to_owned()),
        2 => Some("application/pkcs10".to_owned()),
        _ => Some(text(4)),
    };
    let body = body(b3, parts[5]);
    let mut script = Vec::new();
    for _ in 0..b4 % 5 {
        let (spec, payload) = (input.part(), input.part());
        script.push(Scripted::parse(spec, payload));
    }

    let transport = est_server(script);
    let config = Config::load(&settings);
    let request = ApiRequest {
        method: &method,
        path: &path,
        query: &query,
        authorization: authorization.as_deref(),
        content_type: content_type.as_deref(),
        body: &body,
    };
    let response = api::handle(&request, &settings, config.as_ref(), &transport);

    let holds = |secret: &str| {
        find(data, secret.as_bytes()).is_some() || find(&body, secret.as_bytes()).is_some()
    };
    for secret in [API_TOKEN, EST_PASSWORD] {
        if !holds(secret) {
            assert_not_shown(&response, secret);
        }
    }
    if !holds(API_TOKEN) {
        for sent in transport.requests() {
            let shown = format!("{:?}{}", sent.headers, String::from_utf8_lossy(&sent.body));
            assert!(
                !shown.contains(API_TOKEN),
                "the API token went to the EST server"
            );
        }
    }
    check_response(&response);

    let route = Route::resolve(&method, &path).ok();
    let authorized = authorized(&settings, authorization.as_deref());
    if !authorized {
        assert!(
            transport.requests().is_empty(),
            "a request without the token reached the EST server"
        );
        if let Some(route) = route
            && route.needs_token()
        {
            assert!(
                matches!(response.status, 401 | 500 | 503),
                "{route:?} without the token answered {}",
                response.status
            );
        }
        if route == Some(Route::Health) && response.status == 503 {
            let detail = json_object(&response)["detail"].to_string();
            assert!(
                !detail.contains("est_host"),
                "/health tells a caller without the token what is wrong: {detail}"
            );
        }
    }
    let live = query.split('&').any(|p| p == "live=true" || p == "live=1");
    match response.status {
        200 => check_success(route, &response, &transport, authorized && live, authorized),
        202 => check_pending(route, &response, &transport),
        _ => {}
    }
}

/// The API's settings from selector byte 0.
fn settings(b0: u8) -> Settings {
    let mut settings = Settings::working();
    match b0 & 3 {
        0 => {}
        1 => settings.set(keys::API_AUTH, "none"),
        2 => settings.unset(keys::API_TOKEN),
        _ => settings.set(keys::API_AUTH, "sometimes"),
    }
    if b0 & 4 != 0 {
        settings.unset(keys::EST_HOST);
    }
    match (b0 >> 3) & 3 {
        0 => {}
        1 => settings.set(keys::EST_NAMES_CHECK, "error"),
        2 => settings.set(keys::EST_NAMES_CHECK, "off"),
        _ => settings.set(keys::EST_NAMES_CHECK, "warn"),
    }
    if b0 & 0x20 != 0 && settings.value(keys::API_TOKEN).is_some() {
        settings.unset(keys::API_TOKEN);
        settings.set(keys::API_TOKEN_VARIABLE, "FUZZ_API_TOKEN");
        settings.source.set_env("FUZZ_API_TOKEN", API_TOKEN);
    }
    settings
}

/// The request body from selector byte 3 and the body part.
fn body(b3: u8, part: &[u8]) -> Vec<u8> {
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(CSR);
    let pem = encoding::pem("CERTIFICATE REQUEST", CSR);
    let fingerprint = fingerprint(CSR);
    let part_text = String::from_utf8_lossy(part);
    let json = |value: Value| value.to_string().into_bytes();
    match b3 % 8 {
        0 => part.to_vec(),
        1 => pem.into_bytes(),
        2 => url.into_bytes(),
        3 => json(serde_json::json!({ "csr": url })),
        4 => json(serde_json::json!({
            "cert_name": "fuzz",
            "poll_identifier": fingerprint,
            "csr": url,
        })),
        5 => json(serde_json::json!({ "poll_identifier": part_text, "csr": pem })),
        6 => json(serde_json::json!({ "csr": part_text })),
        _ => json(serde_json::json!({ "poll_identifier": fingerprint, "csr": part_text })),
    }
}

/// Whether `authorization` lets a request through under `settings`,
/// worked out apart from the API's own code.
fn authorized(settings: &Settings, authorization: Option<&str>) -> bool {
    match ApiAccess::load(settings) {
        Ok(ApiAccess::Open) => true,
        Ok(ApiAccess::Token(token)) => authorization
            .and_then(|value| {
                let (scheme, rest) = value.trim().split_once([' ', '\t'])?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .is_some_and(|given| given == token.expose()),
        _ => false,
    }
}
