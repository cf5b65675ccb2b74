//! The host's limits under a hostile world: `serve` with CA faults among
//! good enrollments, idle and slowloris connections, the caps on instances
//! and connections, and the host-side deadline (a guest that loops, a CA
//! that trickles past the component's own deadline). Everything binds
//! 127.0.0.1 and ends by itself; deadlines are a few seconds.

mod common;

use common::{Answer, csr_pem};
use est_ca_host::{Host, LimitExceeded, Limits, Settings};
use est_server::{EnrollFault, EstServer, Faults, ServerConfig};
use hyper::body::Bytes;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "limits-Api-Token";
const PASSWORD: &str = "limits-Est-Passw0rd";

/// The component's own `request_timeout` in these tests, in seconds.
const REQUEST_TIMEOUT: u64 = 3;

/// The embedded component, compiled once for this test binary.
fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| Host::embedded().expect("the embedded component loads"))
}

/// Held by the tests that load the machine with hundreds of hostile
/// clients, and by the one that watches answer times, so that they do not
/// run at once in this process.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn est_server(faults: Faults, tls_stall: bool) -> EstServer {
    EstServer::start(ServerConfig {
        password: PASSWORD.into(),
        faults,
        tls_stall_port: tls_stall.then_some(0),
        ..ServerConfig::default()
    })
    .await
    .unwrap()
}

/// Settings for `est`, reaching it at `est_host` (its HTTPS URL unless
/// given), with `extra` on top.
fn settings(est: &EstServer, est_host: Option<String>, extra: &[(&str, &str)]) -> Arc<Settings> {
    let anchor = std::env::temp_dir().join(format!(
        "limits-root-{}-{}.pem",
        std::process::id(),
        est.https_addr().port()
    ));
    std::fs::write(&anchor, est.trust_anchor_pem()).unwrap();
    let timeout = REQUEST_TIMEOUT.to_string();
    let mut pairs: Vec<(String, String)> = vec![
        (
            "est_host".into(),
            est_host.unwrap_or_else(|| est.https_url()),
        ),
        ("est_user".into(), "estuser".into()),
        ("est_password".into(), PASSWORD.into()),
        ("ca_bundle".into(), anchor.display().to_string()),
        ("api_token".into(), TOKEN.into()),
        ("request_timeout".into(), timeout),
    ];
    for (k, v) in extra {
        pairs.retain(|(key, _)| key != k);
        pairs.push((k.to_string(), v.to_string()));
    }
    Arc::new(Settings::from_pairs(pairs).unwrap())
}

/// `serve` running in this process; stopped when dropped.
struct Served {
    addr: SocketAddr,
    host: Host,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Served {
    async fn start(limits: Limits, settings: Arc<Settings>) -> Self {
        let host = host().clone().with_limits(limits);
        let listener = est_ca_host::serve::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = host.clone();
        tokio::spawn(async move {
            serving
                .serve(settings, listener, async {
                    let _ = stopped.await;
                })
                .await
        });
        Self {
            addr,
            host,
            stop: Some(stop),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An answer and how long it took to arrive.
struct Timed {
    answer: Answer,
    took: Duration,
}

impl std::ops::Deref for Timed {
    type Target = Answer;

    fn deref(&self) -> &Answer {
        &self.answer
    }
}

/// One request with the API token on a new connection, timed.
async fn http(addr: SocketAddr, method: &str, path: &str, body: impl Into<Bytes>) -> Timed {
    let start = Instant::now();
    let answer = common::http(addr, method, path, Some(TOKEN), body).await;
    Timed {
        answer,
        took: start.elapsed(),
    }
}

fn assert_issued(answer: &Answer, est: &EstServer) {
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let bundle = answer.json()["cert_bundle"].as_str().unwrap().to_owned();
    assert_eq!(bundle.matches("-----BEGIN CERTIFICATE-----").count(), 3);
    est_ca_host::report::verify_chain(&bundle, &est.trust_anchor_pem()).unwrap();
}

/// Polls `/health` every 200 ms until `done`, returning each answer's
/// status and time.
async fn watch_health(addr: SocketAddr, done: Arc<tokio::sync::Notify>) -> Vec<(u16, Duration)> {
    let mut seen = Vec::new();
    loop {
        let answer = tokio::time::timeout(Duration::from_secs(5), http(addr, "GET", "/health", ""))
            .await
            .expect("/health answers");
        seen.push((answer.status, answer.took));
        tokio::select! {
            () = done.notified() => return seen,
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_under_concurrency_each_get_their_problem_document_in_time() {
    let _heavy = HEAVY.lock().await;
    let est = est_server(
        Faults {
            by_csr: true,
            ..Faults::default()
        },
        true,
    )
    .await;
    let api = Served::start(Limits::default(), settings(&est, None, &[])).await;
    let stalled_tls =
        Served::start(Limits::default(), settings(&est, est.tls_stall_url(), &[])).await;
    let done = Arc::new(tokio::sync::Notify::new());
    let health = tokio::spawn(watch_health(api.addr, Arc::clone(&done)));

    let mut good = Vec::new();
    for i in 0..32 {
        let pem = csr_pem(&format!("good-{i}.example.test"));
        good.push(tokio::spawn(http(api.addr, "POST", "/enroll", pem)));
    }
    // Every fault that breaks the exchange; a new one fails below until
    // its expected answer is written down.
    let kinds = EnrollFault::ALL
        .iter()
        .filter(|fault| fault.breaks_the_exchange())
        .map(ToString::to_string);
    let mut faulty = Vec::new();
    for kind in kinds {
        let pem = csr_pem(&format!("fault-{kind}.example.test"));
        faulty.push((kind, tokio::spawn(http(api.addr, "POST", "/enroll", pem))));
    }
    let pem = csr_pem("tls-stall.example.test");
    faulty.push((
        "tls-stall".to_owned(),
        tokio::spawn(http(stalled_tls.addr, "POST", "/enroll", pem)),
    ));

    let bound = Duration::from_secs(REQUEST_TIMEOUT + 1);
    let mut slowest_good = Duration::ZERO;
    for answer in good {
        let answer = answer.await.unwrap();
        assert_issued(&answer, &est);
        slowest_good = slowest_good.max(answer.took);
    }
    for (kind, answer) in faulty {
        let answer = answer.await.unwrap();
        assert!(answer.took <= bound, "{kind}: {:?}", answer.took);
        match kind.as_str() {
            "stall-headers" | "trickle" | "tls-stall" => {
                let doc = answer.problem(504, "timeout");
                assert_eq!(doc["cause"], "timeout", "{kind}: {doc}");
            }
            "reset" => {
                let doc = answer.problem(502, "transport");
                assert_eq!(doc["cause"], "connection-reset", "{doc}");
            }
            "huge" => {
                let doc = answer.problem(502, "malformed-answer");
                assert!(
                    doc["detail"].as_str().unwrap().contains("larger than"),
                    "{doc}"
                );
            }
            "endless" => {
                if answer.status == 504 {
                    answer.problem(504, "timeout");
                } else {
                    answer.problem(502, "malformed-answer");
                }
            }
            "pending-forever" => {
                assert_eq!(
                    answer.status,
                    202,
                    "{}",
                    String::from_utf8_lossy(&answer.body)
                );
                let id = answer.json()["poll_identifier"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                assert!(id.starts_with("sha256:"), "{id}");
            }
            other => unreachable!("{other}"),
        }
        eprintln!("{kind}: {} in {:?}", answer.status, answer.took);
    }
    done.notify_one();
    let health = health.await.unwrap();
    eprintln!(
        "slowest good enrollment {slowest_good:?}; /health answered {} times, slowest {:?}",
        health.len(),
        health.iter().map(|(_, t)| *t).max().unwrap()
    );
    assert!(health.len() >= 3, "{health:?}");
    assert!(
        health
            .iter()
            .all(|(status, took)| *status == 200 && *took < Duration::from_secs(1)),
        "{health:?}"
    );
    assert!(est.stalled_handshakes() >= 1);
    // Nothing is left running in the component.
    let deadline = Instant::now() + Duration::from_secs(5);
    while api.host.instances_in_use() + stalled_tls.host.instances_in_use() > 0 {
        assert!(Instant::now() < deadline, "instances still alive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Opens a connection that sends nothing (`trickle` false) or a request
/// head one byte every 300 ms that never ends, counting itself in
/// `connected` once connected; resolves with how long `serve` kept it
/// open.
async fn hostile_connection(
    addr: SocketAddr,
    trickle: bool,
    connected: Arc<std::sync::atomic::AtomicUsize>,
) -> Duration {
    let start = Instant::now();
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    connected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let head = b"POST /enroll HTTP/1.1\r\nHost: slow\r\nX-Slow: "
        .iter()
        .chain(std::iter::repeat(&b'a'));
    let mut head = head.copied();
    let mut buffer = [0u8; 512];
    let mut tick = tokio::time::interval(Duration::from_millis(300));
    let give_up = tokio::time::sleep(Duration::from_secs(20));
    tokio::pin!(give_up);
    loop {
        tokio::select! {
            read = tcp.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return start.elapsed(),
                Ok(_) => {}
            },
            _ = tick.tick(), if trickle => {
                let byte = [head.next().unwrap()];
                if tcp.write_all(&byte).await.is_err() {
                    return start.elapsed();
                }
            }
            () = &mut give_up => return start.elapsed(),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_slowloris_connections_neither_block_nor_stay() {
    let est = est_server(Faults::default(), false).await;
    let header_timeout = Duration::from_secs(3);
    let api = Served::start(
        Limits {
            header_timeout,
            ..Limits::default()
        },
        settings(&est, None, &[]),
    )
    .await;
    let mut hostile = Vec::new();
    let connected = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for i in 0..500 {
        let connected = Arc::clone(&connected);
        hostile.push(tokio::spawn(hostile_connection(
            api.addr,
            i % 2 == 1,
            connected,
        )));
    }
    eventually("the 500 hostile connections are open", || {
        connected.load(std::sync::atomic::Ordering::Relaxed) == 500
    })
    .await;
    let answer = http(api.addr, "POST", "/enroll", csr_pem("normal.example.test")).await;
    assert_issued(&answer, &est);
    eprintln!(
        "enrollment among 500 hostile connections: {:?}",
        answer.took
    );
    assert!(answer.took < Duration::from_secs(REQUEST_TIMEOUT));
    let mut longest = Duration::ZERO;
    for connection in hostile {
        let held = connection.await.unwrap();
        assert!(
            held >= header_timeout - Duration::from_millis(100)
                && held < header_timeout + Duration::from_secs(3),
            "a hostile connection was held {held:?}"
        );
        longest = longest.max(held);
    }
    eprintln!("500 hostile connections closed by serve, the last after {longest:?}");
    // And serve still answers.
    assert_eq!(http(api.addr, "GET", "/health", "").await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_alive_connection_outlives_the_header_timeout_until_idle() {
    let est = est_server(Faults::default(), false).await;
    let api = Served::start(
        Limits {
            header_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(3),
            ..Limits::default()
        },
        settings(&est, None, &[]),
    )
    .await;
    let mut tcp = TcpStream::connect(api.addr).await.unwrap();
    let request = b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut buffer = vec![0u8; 4096];
    for pause in [Duration::ZERO, Duration::from_secs(2)] {
        tokio::time::sleep(pause).await;
        tcp.write_all(request).await.unwrap();
        let n = tcp.read(&mut buffer).await.unwrap();
        assert!(
            buffer[..n].starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&buffer[..n])
        );
    }
    let start = Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(6), tcp.read(&mut buffer))
        .await
        .expect("closed within the idle timeout")
        .unwrap_or(0);
    assert_eq!(n, 0);
    let idle = start.elapsed();
    assert!(
        idle > Duration::from_millis(2500) && idle < Duration::from_secs(5),
        "{idle:?}"
    );
}

/// Waits until `check` holds, for at most 5 s.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn over_the_instance_cap_a_request_gets_503_at_once() {
    let est = est_server(
        Faults {
            by_csr: true,
            ..Faults::default()
        },
        false,
    )
    .await;
    let api = Served::start(
        Limits {
            max_instances: 2,
            ..Limits::default()
        },
        settings(&est, None, &[]),
    )
    .await;
    let stalls: Vec<_> = (0..2)
        .map(|i| {
            let pem = csr_pem(&format!("fault-stall-headers.{i}.example.test"));
            tokio::spawn(http(api.addr, "POST", "/enroll", pem))
        })
        .collect();
    eventually("two instances busy", || api.host.instances_in_use() == 2).await;
    let refused = http(api.addr, "GET", "/health", "").await;
    let doc = refused.problem(503, "overloaded");
    assert_eq!(
        refused
            .headers
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap(),
        "1"
    );
    assert!(refused.took < Duration::from_secs(1), "{:?}", refused.took);
    assert!(
        doc["detail"].as_str().unwrap().contains("at most 2"),
        "{doc}"
    );
    for stall in stalls {
        stall.await.unwrap().problem(504, "timeout");
    }
    eventually("the instances are gone", || {
        api.host.instances_in_use() == 0
    })
    .await;
    assert_eq!(http(api.addr, "GET", "/health", "").await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn over_the_connection_cap_a_connection_gets_503_then_room_again() {
    let est = est_server(Faults::default(), false).await;
    let api = Served::start(
        Limits {
            max_connections: 2,
            ..Limits::default()
        },
        settings(&est, None, &[]),
    )
    .await;
    let idle: Vec<TcpStream> = vec![
        TcpStream::connect(api.addr).await.unwrap(),
        TcpStream::connect(api.addr).await.unwrap(),
    ];
    // Once serve has taken both from its accept queue, one more is over
    // the cap.
    let deadline = Instant::now() + Duration::from_secs(5);
    let refused = loop {
        let answer = http(api.addr, "GET", "/health", "").await;
        if answer.status != 200 || Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    refused.problem(503, "overloaded");
    assert_eq!(
        refused
            .headers
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap(),
        "1"
    );
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = http(api.addr, "GET", "/health", "").await;
        if answer.status == 200 {
            break;
        }
        answer.problem(503, "overloaded");
        assert!(
            Instant::now() < deadline,
            "no room after the connections closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_host_deadline_cuts_off_a_trickling_ca_past_the_components_own_timeout() {
    let est = est_server(
        Faults {
            by_csr: true,
            ..Faults::default()
        },
        false,
    )
    .await;
    // The component would wait 30 s; the host allows 2.
    let settings = settings(&est, None, &[("request_timeout", "30")]);
    let limits = Limits {
        max_call_time: Some(Duration::from_secs(2)),
        max_instances: 1,
        ..Limits::default()
    };
    let api = Served::start(limits.clone(), Arc::clone(&settings)).await;
    let answer = http(
        api.addr,
        "POST",
        "/enroll",
        csr_pem("fault-trickle.serve.example.test"),
    )
    .await;
    let doc = answer.problem(504, "timeout");
    assert_eq!(doc["cause"], "timeout", "{doc}");
    assert!(
        doc["detail"].as_str().unwrap().contains("within 2 s"),
        "{doc}"
    );
    assert!(
        answer.took >= Duration::from_secs(2) && answer.took < Duration::from_secs(3),
        "{:?}",
        answer.took
    );
    eventually("the instance is gone", || api.host.instances_in_use() == 0).await;

    // The embedded API: the same deadline, and the same cap.
    let embedded = host().clone().with_limits(limits);
    let start = Instant::now();
    let first = {
        let (host, settings) = (embedded.clone(), Arc::clone(&settings));
        tokio::spawn(async move {
            host.enroll(&settings, &csr_pem("fault-trickle.api.example.test"))
                .await
        })
    };
    eventually("the call runs", || embedded.instances_in_use() == 1).await;
    let busy = embedded
        .handler_check(&settings)
        .await
        .expect_err("over the cap");
    assert_eq!(
        busy.downcast_ref::<LimitExceeded>(),
        Some(&LimitExceeded::Busy { max_instances: 1 }),
        "{busy:#}"
    );
    let late = first.await.unwrap().expect_err("cut off");
    assert_eq!(
        late.downcast_ref::<LimitExceeded>(),
        Some(&LimitExceeded::Timeout {
            after: Duration::from_secs(2)
        }),
        "{late:#}"
    );
    assert!(
        late.to_string().contains("did not finish within 2 s"),
        "{late}"
    );
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(embedded.handler_check(&settings).await.unwrap().is_ok());
}

/// A guest that computes forever: the real component cannot be made to,
/// so a core module on the host's engine runs under the host's deadline
/// (the same epoch ticker, store callback and timeout as every call).
#[tokio::test(flavor = "current_thread")]
async fn a_guest_that_loops_is_stopped_and_does_not_hold_the_thread() {
    let engine = host().engine();
    let module = wasmtime::Module::new(
        engine,
        r#"(module (func (export "spin") (loop $l (br $l))))"#,
    )
    .unwrap();
    // On this single-threaded runtime, a task that ticks only runs while
    // the guest yields.
    let ticks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let ticker = {
        let ticks = Arc::clone(&ticks);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };

    // Through run_with_deadline (what every call uses).
    let mut store = wasmtime::Store::new(engine, ());
    let start = Instant::now();
    let err =
        est_ca_host::limits::run_with_deadline(&mut store, Duration::from_secs(1), async |store| {
            let instance = wasmtime::Instance::new_async(&mut *store, &module, &[]).await?;
            let spin = instance.get_typed_func::<(), ()>(&mut *store, "spin")?;
            spin.call_async(store, ()).await
        })
        .await
        .expect_err("the loop is stopped");
    let took = start.elapsed();
    assert_eq!(
        err.downcast_ref::<LimitExceeded>(),
        Some(&LimitExceeded::Timeout {
            after: Duration::from_secs(1)
        })
    );
    assert!(took < Duration::from_millis(1500), "{took:?}");
    let seen = ticks.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        seen >= 2,
        "the runtime ran other tasks meanwhile: {seen} ticks"
    );

    // The epoch trap alone, without the timeout around it.
    let mut store = wasmtime::Store::new(engine, ());
    let after = Duration::from_millis(500);
    est_ca_host::limits::arm_deadline(&mut store, Instant::now() + after, after);
    let instance = wasmtime::Instance::new_async(&mut store, &module, &[])
        .await
        .unwrap();
    let spin = instance
        .get_typed_func::<(), ()>(&mut store, "spin")
        .unwrap();
    let start = Instant::now();
    let trap = spin.call_async(&mut store, ()).await.expect_err("trapped");
    assert!(trap.downcast_ref::<LimitExceeded>().is_some(), "{trap:?}");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    ticker.abort();
}

/// The head of a request that promises a 100,000-byte body.
const SLOW_HEAD: &str = "POST /enroll HTTP/1.1\r\nHost: attacker\r\nContent-Type: application/pkcs10\r\nContent-Length: 100000\r\n\r\n";

/// A client without the token that sends [`SLOW_HEAD`] and then one body
/// byte a second; when answered (or closed) it waits that second and
/// connects again, until `stop`; the statuses it was answered go to `seen`.
/// It counts itself in `started` once it has sent its first head.
async fn slow_body_client(
    addr: SocketAddr,
    start: Duration,
    stop: Instant,
    seen: Arc<std::sync::Mutex<Vec<u16>>>,
    started: Arc<std::sync::atomic::AtomicUsize>,
) {
    let mut counted = false;
    tokio::time::sleep(start).await;
    while Instant::now() < stop {
        let Ok(mut tcp) = TcpStream::connect(addr).await else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        if tcp.write_all(SLOW_HEAD.as_bytes()).await.is_err() {
            continue;
        }
        if !counted {
            counted = true;
            started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut answer = Vec::new();
        let mut buffer = [0u8; 1024];
        loop {
            tokio::select! {
                read = tcp.read(&mut buffer) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        answer.extend_from_slice(&buffer[..n]);
                        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                },
                _ = tick.tick() => {
                    if tcp.write_all(b"a").await.is_err() {
                        break;
                    }
                }
                () = tokio::time::sleep_until(stop.into()) => break,
            }
        }
        if let Some(status) = String::from_utf8_lossy(&answer)
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
        {
            seen.lock().unwrap().push(status);
        }
        drop(tcp);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_unauthenticated_bodies_hold_no_instance_and_enrollments_go_on() {
    let _heavy = HEAVY.lock().await;
    const ATTACKERS: usize = 256;
    const ENROLLMENTS: usize = 20;
    let est = est_server(Faults::default(), false).await;
    // Far fewer instances than attackers, and room for all their
    // connections and the honest ones: what could run out is instances.
    let limits = Limits {
        max_instances: 32,
        max_connections: 1024,
        ..Limits::default()
    };
    assert!(limits.max_connections > ATTACKERS + ENROLLMENTS);
    // The EST server runs in this process, among the attackers and the
    // other tests: room for it to be slow. What is asserted is instances.
    let api = Served::start(limits, settings(&est, None, &[("request_timeout", "20")])).await;
    let stop = Instant::now() + Duration::from_secs(60);
    // They start spread over a second, as independent clients would.
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let attackers: Vec<_> = (0..ATTACKERS)
        .map(|i| {
            let start = Duration::from_secs(1) * i as u32 / ATTACKERS as u32;
            let (seen, started) = (Arc::clone(&seen), Arc::clone(&started));
            tokio::spawn(slow_body_client(api.addr, start, stop, seen, started))
        })
        .collect();
    eventually("every attacker has sent its head", || {
        started.load(std::sync::atomic::Ordering::Relaxed) == ATTACKERS
    })
    .await;
    let mut took = Vec::new();
    for i in 0..ENROLLMENTS {
        let answer = http(
            api.addr,
            "POST",
            "/enroll",
            csr_pem(&format!("under-attack-{i}.example.test")),
        )
        .await;
        assert_issued(&answer, &est);
        took.push(answer.took);
    }
    let busiest = api.host.instances_in_use();
    for attacker in &attackers {
        attacker.abort();
    }
    took.sort();
    let at = |q: f64| took[((took.len() as f64 * q).ceil() as usize).clamp(1, took.len()) - 1];
    eprintln!(
        "{ENROLLMENTS} enrollments among {ATTACKERS} slow unauthenticated bodies: p50 {:?}, p99 {:?}, max {:?}; {busiest} instances in use at the end",
        at(0.50),
        at(0.99),
        took.last().unwrap()
    );
    // The attackers were answered 401, from their heads, over and over.
    for attacker in attackers {
        let _ = attacker.await;
    }
    let statuses = seen.lock().unwrap().clone();
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    eprintln!(
        "the attackers were answered {} times, {unauthorized} of them 401",
        statuses.len()
    );
    assert!(unauthorized >= ATTACKERS, "{statuses:?}");
    eventually("the instances are gone", || {
        api.host.instances_in_use() == 0
    })
    .await;
}

/// Sends `POST /enroll` with the token and `sent` of a 1,000-byte body,
/// then a byte every 300 ms; the answer's head and body as text, and how
/// long it took.
async fn slow_authenticated_body(addr: SocketAddr, sent: &[u8]) -> (String, Duration) {
    let start = Instant::now();
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /enroll HTTP/1.1\r\nHost: slow\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 1000\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(sent).await.unwrap();
    let mut tick = tokio::time::interval(Duration::from_millis(300));
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let give_up = tokio::time::sleep(Duration::from_secs(20));
    tokio::pin!(give_up);
    loop {
        tokio::select! {
            read = tcp.read(&mut buffer) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            },
            _ = tick.tick() => {
                let _ = tcp.write_all(b"a").await;
            }
            () = &mut give_up => break,
        }
    }
    (
        String::from_utf8_lossy(&answer).into_owned(),
        start.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_authenticated_body_is_cut_at_the_body_timeout_with_408() {
    let est = est_server(Faults::default(), false).await;
    let body_timeout = Duration::from_secs(2);
    let api = Served::start(
        Limits {
            body_timeout,
            // One instance: the next enrollment needs the one the slow
            // body held.
            max_instances: 1,
            ..Limits::default()
        },
        settings(&est, None, &[]),
    )
    .await;
    let (answer, took) = slow_authenticated_body(api.addr, b"-----BEGIN").await;
    eprintln!("slow body answered after {took:?}: {answer}");
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    let doc: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        doc["type"], "urn:est-ca-handler:problem:body-timeout",
        "{doc}"
    );
    assert_eq!(doc["status"], 408);
    assert!(
        doc["detail"].as_str().unwrap().contains("within 2 s"),
        "{doc}"
    );
    assert!(took >= body_timeout, "{took:?}");
    eventually("the instance is freed", || api.host.instances_in_use() == 0).await;
    let answer = http(api.addr, "POST", "/enroll", csr_pem("after.example.test")).await;
    assert_issued(&answer, &est);
    // A body that comes whole within the timeout is served as usual.
    let quick = http(api.addr, "POST", "/enroll", csr_pem("quick.example.test")).await;
    assert_issued(&quick, &est);
}

/// Connects to `addr` and sends nothing; resolves with how long the
/// connection stayed open (up to 20 s).
async fn idle_connection(addr: SocketAddr) -> Duration {
    let start = Instant::now();
    let Ok(mut tcp) = TcpStream::connect(addr).await else {
        return Duration::ZERO;
    };
    let mut buffer = [0u8; 1024];
    let read = async {
        loop {
            match tcp.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(20), read).await;
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_metrics_listener_caps_its_connections_and_closes_idle_ones() {
    let _heavy = HEAVY.lock().await;
    const IDLE: usize = 300;
    let est = est_server(Faults::default(), false).await;
    let header_timeout = Duration::from_secs(4);
    let limits = Limits {
        header_timeout,
        max_metrics_connections: 8,
        ..Limits::default()
    };
    let api = Served::start(limits, settings(&est, None, &[])).await;
    let metrics = est_ca_host::serve::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let metrics_addr = metrics.local_addr().unwrap();
    let serving = api.host.clone();
    let metrics_task = tokio::spawn(async move { serving.serve_metrics(metrics).await });
    let idle: Vec<_> = (0..IDLE)
        .map(|_| tokio::spawn(idle_connection(metrics_addr)))
        .collect();
    // Every idle connection has reached the listener once all but the 8
    // it keeps are counted as refused.
    eventually("the idle connections have reached the listener", || {
        metrics_refused(&api.host.encode_metrics()) >= (IDLE - 8) as f64
    })
    .await;
    for i in 0..5 {
        let answer = http(
            api.addr,
            "POST",
            "/enroll",
            csr_pem(&format!("beside-metrics-{i}.example.test")),
        )
        .await;
        assert_issued(&answer, &est);
    }
    let mut held = Vec::new();
    for connection in idle {
        held.push(connection.await.unwrap());
    }
    held.sort();
    // Over the cap, a connection gets a 503 (or is closed at once) within
    // 2 s; the ones under it are closed at the header timeout.
    let kept = held
        .iter()
        .filter(|h| **h >= Duration::from_secs(3))
        .count();
    eprintln!(
        "{IDLE} idle metrics connections: {kept} kept past 3 s, the last closed after {:?}",
        held.last().unwrap()
    );
    assert!(kept <= 8, "{kept} connections kept over a cap of 8");
    assert!(
        *held.last().unwrap() < header_timeout + Duration::from_secs(3),
        "an idle metrics connection was held {:?}",
        held.last().unwrap()
    );
    // The scraper gets through once they are gone, and sees the refusals.
    let scrape = common::http(metrics_addr, "GET", "/metrics", None, "").await;
    assert_eq!(scrape.status, 200);
    let text = String::from_utf8(scrape.body).unwrap();
    let refused = metrics_refused(&text);
    assert!(refused >= (IDLE - 8) as f64, "{refused} refused\n{text}");
    metrics_task.abort();
}

/// The metrics listener's refusals in a Prometheus text `scrape`.
fn metrics_refused(scrape: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix("ca_handler_refused_total{reason=\"metrics-connections\"} "))
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(0.0)
}

#[test]
fn serve_refuses_caps_that_do_not_fit_in_the_file_descriptors() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ca-handler"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--max-connections",
            "2000000000",
        ])
        .env_remove("RUST_LOG")
        .output()
        .expect("ca-handler runs");
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{text}");
    for part in [
        "file descriptors",
        "2000000000 connections",
        "16 metrics connections",
        "128 instances",
        "RLIMIT_NOFILE",
    ] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }
    assert!(!String::from_utf8_lossy(&output.stdout).contains("serving"));
}
