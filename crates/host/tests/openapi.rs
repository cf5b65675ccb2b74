//! `docs/openapi.yaml` against the API as it answers: the document parses
//! as OpenAPI 3.1, names exactly the router's routes and methods, every
//! answer the scenarios below draw from the real component under `serve`
//! is documented for its route, and every documented answer is one of them.

use est_ca_handler::api::{ProblemKind, Route, kind};
use est_server::Faults;
use hyper::body::Bytes;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

mod common;

use common::{Api, TOKEN, csr_pem, http};

/// (method, path, status)
type Answer = (String, String, u16);

fn spec_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi.yaml"
    ))
    .unwrap()
}

fn spec() -> oas3::OpenApiV3Spec {
    oas3::from_yaml(spec_text()).expect("docs/openapi.yaml is an OpenAPI document")
}

/// The names of `ProblemKind::ALL`, sorted.
fn kind_names() -> Vec<String> {
    let mut names: Vec<String> = ProblemKind::ALL.iter().map(|k| k.name().into()).collect();
    names.sort();
    names
}

/// The strings of a JSON array, sorted.
fn sorted_strings(array: &serde_json::Value) -> Vec<String> {
    let mut strings: Vec<String> = array
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect();
    strings.sort();
    strings
}

#[test]
fn the_documented_problem_kinds_are_the_codes_one_list() {
    let doc: serde_json::Value = yaml_serde::from_str(&spec_text()).unwrap();
    let components = &doc["components"];
    assert_eq!(
        sorted_strings(&components["headers"]["ProblemKind"]["schema"]["enum"]),
        kind_names(),
        "the Problem-Kind header's enum"
    );
    let uris: Vec<String> = kind_names()
        .iter()
        .map(|name| format!("{}{name}", kind::URN_PREFIX))
        .collect();
    assert_eq!(
        sorted_strings(&components["schemas"]["Problem"]["properties"]["type"]["anyOf"][0]["enum"]),
        uris,
        "the Problem type's enum"
    );
    // Every problem answer documents the header, and between them their
    // descriptions (with the API's own) say where each kind comes from.
    let mut described = doc["info"]["description"].as_str().unwrap().to_owned();
    let responses = components["responses"].as_object().unwrap();
    for (name, response) in responses {
        if response["content"]
            .get("application/problem+json")
            .is_none()
        {
            continue;
        }
        assert_eq!(
            response["headers"]["Problem-Kind"]["$ref"], "#/components/headers/ProblemKind",
            "{name}"
        );
        described.push_str(response["description"].as_str().unwrap());
    }
    for (_, item) in doc["paths"].as_object().unwrap() {
        for (_, operation) in item.as_object().unwrap() {
            for (_, response) in operation["responses"].as_object().into_iter().flatten() {
                if let Some(text) = response["description"].as_str() {
                    described.push_str(text);
                }
            }
        }
    }
    for name in kind_names() {
        assert!(
            described.contains(&format!("`{name}`")),
            "{name} is described nowhere"
        );
    }
}

/// Every (method, path, status) the document promises.
fn documented(spec: &oas3::OpenApiV3Spec) -> BTreeSet<Answer> {
    let mut answers = BTreeSet::new();
    for (path, item) in spec.paths.as_ref().expect("paths") {
        for (method, operation) in item.methods() {
            for status in operation.responses.as_ref().expect("responses").keys() {
                answers.insert((
                    method.to_string(),
                    path.clone(),
                    status.parse().expect("numeric statuses only"),
                ));
            }
        }
    }
    answers
}

/// A `/poll` body for `csr`, with its own poll identifier.
fn poll_body(csr: &str) -> String {
    let identifier = est_ca_handler::x509::csr::Csr::parse(csr)
        .unwrap()
        .fingerprint();
    serde_json::json!({"poll_identifier": identifier, "csr": csr}).to_string()
}

/// Sends requests and keeps what was answered.
struct Recorder {
    seen: BTreeSet<Answer>,
    /// The problem kinds answered.
    kinds: BTreeSet<String>,
}

impl Recorder {
    async fn call(
        &mut self,
        addr: SocketAddr,
        method: &str,
        target: &str,
        token: bool,
        body: impl Into<Bytes>,
    ) -> (u16, serde_json::Value) {
        let token = token.then_some(TOKEN);
        let answer = http(addr, method, target, token, body).await;
        let (status, body) = (answer.status, answer.body);
        let path = target.split('?').next().unwrap().to_owned();
        // A route's 405 (to any other method) is documented on the route's
        // own operation, which OpenAPI keys by method.
        let method = match Route::ALL.iter().find(|r| r.path() == path) {
            Some(route) if status == 405 => route.method(),
            _ => method,
        };
        self.seen.insert((method.to_owned(), path, status));
        let document: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        // A problem of this API names its kind in the head as in `type`.
        if let Some(kind) = document["type"]
            .as_str()
            .and_then(|t| t.strip_prefix(kind::URN_PREFIX))
        {
            assert!(ProblemKind::from_name(kind).is_some(), "{kind}");
            let header = answer
                .headers
                .get(kind::HEADER)
                .map(|v| v.to_str().unwrap());
            assert_eq!(header, Some(kind), "{method} {target} -> {status}");
            self.kinds.insert(kind.to_owned());
        }
        (status, document)
    }

    /// `POST path` with the token and a body that stops after its first
    /// bytes: the host's body timeout answers it.
    async fn slow_body(&mut self, addr: SocketAddr, path: &str) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: openapi\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 1000\r\n\r\n{{\"csr\": "
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer))
            .await
            .expect("answered in time")
            .unwrap();
        let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
        let named = format!("{}: {}\r\n", kind::HEADER, ProblemKind::BodyTimeout);
        assert!(text.contains(&named), "{text}");
        self.kinds
            .insert(ProblemKind::BodyTimeout.name().to_owned());
        let status: u16 = String::from_utf8_lossy(&answer)
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        self.seen
            .insert(("POST".to_owned(), path.to_owned(), status));
        status
    }

    /// Each route with the `token`, its own method and `body`.
    async fn every_route(&mut self, addr: SocketAddr, token: bool, body: &str) {
        for route in Route::ALL {
            self.call(addr, route.method(), route.path(), token, body.to_owned())
                .await;
        }
    }
}

#[test]
fn the_http_modules_problem_kinds_are_of_the_one_list() {
    // integrations/acme2certifier/est_component_ca_handler.py keeps the
    // kinds it acts on as `*_KIND = "<kind>"` constants.
    let module = include_str!("../../../integrations/acme2certifier/est_component_ca_handler.py");
    let prefix = format!("PROBLEM_TYPE_PREFIX = \"{}\"", kind::URN_PREFIX);
    assert!(module.contains(&prefix), "the module's type prefix");
    let kinds: Vec<&str> = module
        .lines()
        .filter_map(|line| line.split_once("_KIND = \""))
        .map(|(_, rest)| rest.trim_end_matches('"'))
        .collect();
    assert!(!kinds.is_empty(), "the module names no kinds");
    for name in kinds {
        assert!(ProblemKind::from_name(name).is_some(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_matches_what_the_api_answers() {
    let spec = spec();
    assert!(spec.openapi.starts_with("3.1."), "{}", spec.openapi);
    let documented = documented(&spec);

    // The router's routes and methods, no more, no fewer.
    let routes: BTreeSet<(String, String)> = Route::ALL
        .iter()
        .map(|r| (r.method().to_owned(), r.path().to_owned()))
        .collect();
    let in_document: BTreeSet<(String, String)> = documented
        .iter()
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect();
    assert_eq!(routes, in_document);

    let mut recorder = Recorder {
        seen: BTreeSet::new(),
        kinds: BTreeSet::new(),
    };
    let big = "x".repeat(64 * 1024 + 1);

    // A working CA.
    let api = Api::start(Faults::default(), &[]).await;
    let csr = csr_pem("openapi.example.test");
    let (status, _) = recorder
        .call(api.addr, "POST", "/enroll", true, csr.clone())
        .await;
    assert_eq!(status, 200);
    recorder
        .call(api.addr, "POST", "/enroll", true, "not a CSR")
        .await;
    recorder
        .call(api.addr, "POST", "/poll", true, "{not json")
        .await;
    recorder.call(api.addr, "GET", "/health", true, "").await;
    recorder
        .call(api.addr, "GET", "/health?live=true", false, "")
        .await;
    recorder.every_route(api.addr, true, "").await;
    recorder.every_route(api.addr, false, "").await;
    recorder.every_route(api.addr, true, &big).await;
    for route in Route::ALL {
        let other = if route.method() == "GET" {
            "POST"
        } else {
            "GET"
        };
        recorder.call(api.addr, other, route.path(), true, "").await;
    }
    // Pending twice, then issued on the second poll.
    api.est.set_faults(Faults {
        pending_times: 2,
        retry_after: Some("3".into()),
        ..Faults::default()
    });
    let later = csr_pem("later.example.test");
    let (status, pending) = recorder
        .call(api.addr, "POST", "/enroll", true, later.clone())
        .await;
    assert_eq!(status, 202);
    let poll = serde_json::json!({"poll_identifier": pending["poll_identifier"], "csr": later})
        .to_string();
    let (status, _) = recorder
        .call(api.addr, "POST", "/poll", true, poll.clone())
        .await;
    assert_eq!(status, 202);
    let (status, _) = recorder.call(api.addr, "POST", "/poll", true, poll).await;
    assert_eq!(status, 200);
    // Refused by the CA: 502 for /enroll, 403 (rejected for good) for /poll.
    api.est.set_faults(Faults {
        status: Some((400, "no".into())),
        ..Faults::default()
    });
    let refused = csr_pem("refused.example.test");
    recorder
        .call(api.addr, "POST", "/enroll", true, refused.clone())
        .await;
    let poll = serde_json::json!({"poll_identifier": "x", "csr": refused}).to_string();
    recorder.call(api.addr, "POST", "/poll", true, poll).await;
    let fingerprint = {
        api.est.set_faults(Faults {
            pending_times: 1,
            ..Faults::default()
        });
        let (_, doc) = recorder
            .call(api.addr, "POST", "/enroll", true, refused.clone())
            .await;
        doc["poll_identifier"].as_str().unwrap().to_owned()
    };
    api.est.set_faults(Faults {
        status: Some((400, "no".into())),
        ..Faults::default()
    });
    let poll = serde_json::json!({"poll_identifier": fingerprint, "csr": refused}).to_string();
    let (status, _) = recorder.call(api.addr, "POST", "/poll", true, poll).await;
    assert_eq!(status, 403);
    api.shutdown().await;

    // The CA refuses the handler's credentials: 502 wherever the CA is asked.
    let api = Api::start(Faults::default(), &[("est_password", "wrong")]).await;
    recorder.every_route(api.addr, true, "").await;
    let poll = poll_body(&csr);
    recorder.call(api.addr, "POST", "/poll", true, poll).await;
    recorder
        .call(api.addr, "POST", "/enroll", true, csr.clone())
        .await;
    api.shutdown().await;

    // A configuration that does not load.
    let api = Api::start(Faults::default(), &[("request_timeout", "soon")]).await;
    recorder.every_route(api.addr, true, "").await;
    recorder.every_route(api.addr, false, "").await;
    api.shutdown().await;

    // No API token configured; an unusable api_auth.
    for extra in [("api_token", ""), ("api_auth", "maybe")] {
        let api = Api::start(Faults::default(), &[extra]).await;
        recorder.every_route(api.addr, true, "").await;
        recorder
            .call(api.addr, "GET", "/health?live=true", true, "")
            .await;
        api.shutdown().await;
    }

    // A CA slower than request_timeout: the component's own 504; the live
    // probe says 503.
    let slow = Faults {
        delay: Some(Duration::from_secs(3)),
        ..Faults::default()
    };
    let api = Api::start(slow.clone(), &[("request_timeout", "1")]).await;
    let poll = poll_body(&csr);
    recorder.call(api.addr, "POST", "/poll", true, poll).await;
    recorder
        .call(api.addr, "POST", "/enroll", true, csr.clone())
        .await;
    recorder.call(api.addr, "GET", "/cacerts", true, "").await;
    recorder
        .call(api.addr, "GET", "/health?live=true", true, "")
        .await;
    api.shutdown().await;

    // The host's own answers: a body that does not arrive (408)...
    let api = Api::start_with_limits(
        Faults::default(),
        &[],
        est_ca_host::Limits {
            body_timeout: Duration::from_secs(1),
            ..est_ca_host::Limits::default()
        },
    )
    .await;
    for path in ["/enroll", "/poll"] {
        assert_eq!(recorder.slow_body(api.addr, path).await, 408, "{path}");
    }
    api.shutdown().await;

    // ...its deadline (504) and a full house (503).
    let api = Api::start_with_limits(
        slow.clone(),
        &[],
        est_ca_host::Limits {
            max_call_time: Some(Duration::from_secs(1)),
            max_instances: 1,
            ..est_ca_host::Limits::default()
        },
    )
    .await;
    let addr = api.addr;
    let csr_for_slow = csr.clone();
    let asked = api.est.requests().len();
    let occupy = tokio::spawn(async move {
        let mut other = Recorder {
            seen: BTreeSet::new(),
            kinds: BTreeSet::new(),
        };
        other.call(addr, "GET", "/health?live=true", true, "").await;
        other
            .call(addr, "POST", "/enroll", true, csr_for_slow)
            .await;
        other.call(addr, "GET", "/cacerts", true, "").await;
        let poll = serde_json::json!({"poll_identifier": "x", "csr": "y"}).to_string();
        other.call(addr, "POST", "/poll", true, poll).await;
        other.seen
    });
    // Once the live probe has reached the (slow) CA, it holds the one
    // instance until the host's deadline: everything else is turned away.
    let waited = std::time::Instant::now();
    while api.est.requests().len() == asked {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "the live probe never reached the CA"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    recorder.every_route(addr, true, "").await;
    let held = occupy.await.unwrap();
    assert!(
        held.contains(&("GET".to_owned(), "/health".to_owned(), 504)),
        "the live probe outlived the host's deadline: {held:?}"
    );
    recorder.seen.extend(held);
    api.shutdown().await;

    let undocumented: Vec<_> = recorder.seen.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "answered but not in docs/openapi.yaml: {undocumented:?}"
    );
    let unanswered: Vec<_> = documented.difference(&recorder.seen).collect();
    assert!(
        unanswered.is_empty(),
        "in docs/openapi.yaml but never answered: {unanswered:?}"
    );
}
