//! Load and soak through the real `ca-handler serve`: a keep-alive HTTP
//! client posts distinct CSRs to `POST /enroll` at a fixed concurrency;
//! `serve` runs the component, which enrolls against the local EST server
//! (ECDSA P-256 CA, HTTP Basic, TLS) on 127.0.0.1.
//!
//! [`run`] starts the EST server, writes an `acme_srv.cfg` and the trust
//! anchor into a scratch directory, and spawns the `ca-handler` binary it
//! is given as a child process (the EST password and the API token reach it
//! through environment variables named by `*_variable` keys, never on its
//! command line). It pre-generates every CSR before the clock starts, runs
//! the enrollments in shares ([`SoakOptions::rss_points`]: by default 10%,
//! 25%, 50%, 75% and 100% of them), reads the child's resident set size
//! (`VmRSS` in `/proc/<pid>/status`) after each, and stops the child (which
//! is also killed if the driver fails or panics).
//!
//! A leak shows as a steady rise of the RSS; the warm-up of the allocator,
//! the connection pools and wasmtime's instance memory as a rise that
//! levels off. So the RSS is judged by its trend over the second half of
//! the run ([`SoakReport::rss_trend`], a least-squares slope over the
//! readings from half-way on), not by one reading against another.

use anyhow::{Context, Result, bail};
use est_server::{EstServer, KeyType, ServerConfig};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    /// The `ca-handler` binary to run as `ca-handler serve`.
    pub ca_handler: PathBuf,
    /// Enrollments in all, warm-up included.
    pub total: usize,
    /// Enrollments in flight at once.
    pub concurrency: usize,
    /// When to read `serve`'s RSS: after these percentages of `total` are
    /// done (from 1 to 100; 100 is always read).
    pub rss_points: Vec<u32>,
    /// The longest `serve` may take to answer `GET /health` (it compiles the
    /// component first unless wasmtime's cache has it).
    pub startup_timeout: Duration,
    /// The longest one enrollment may take before it counts as failed.
    pub request_timeout: Duration,
}

impl SoakOptions {
    /// `total` enrollments at `concurrency`, the RSS read after 10%, 25%,
    /// 50%, 75% and 100% of them.
    pub fn new(ca_handler: impl Into<PathBuf>, total: usize, concurrency: usize) -> Self {
        Self {
            ca_handler: ca_handler.into(),
            total,
            concurrency,
            rss_points: vec![10, 25, 50, 75, 100],
            startup_timeout: Duration::from_secs(300),
            request_timeout: Duration::from_secs(120),
        }
    }

    /// The enrollment counts after which the RSS is read, ascending, the
    /// last one `total`.
    fn rss_ends(&self) -> Vec<usize> {
        let mut ends: Vec<usize> = self
            .rss_points
            .iter()
            .filter(|p| (1..=100).contains(*p))
            .map(|p| (self.total * *p as usize).div_ceil(100))
            .filter(|end| *end > 0)
            .chain([self.total])
            .collect();
        ends.sort_unstable();
        ends.dedup();
        ends
    }
}

/// One reading of `serve`'s resident set size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RssSample {
    /// Enrollments done when it was read.
    pub enrollments: usize,
    /// `VmRSS`, KiB.
    pub kib: u64,
}

/// The RSS trend over the second half of a run: the least-squares line
/// through the readings from half-way on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RssTrend {
    /// Enrollments done at the first reading of the fit.
    pub from: usize,
    /// Enrollments done at the last.
    pub to: usize,
    /// The RSS read at `from`, KiB.
    pub from_kib: u64,
    /// The slope, KiB per 1000 enrollments.
    pub kib_per_1000: f64,
}

impl RssTrend {
    /// The growth the slope amounts to from `from` to `to`, in percent of
    /// the RSS at `from`.
    pub fn growth_percent(&self) -> f64 {
        self.kib_per_1000 * (self.to - self.from) as f64 / 1000.0 * 100.0 / self.from_kib as f64
    }
}

/// The least-squares trend of the `samples` taken at half of `total` or
/// later; `None` with fewer than two of them.
pub fn rss_trend(samples: &[RssSample], total: usize) -> Option<RssTrend> {
    let later: Vec<&RssSample> = samples
        .iter()
        .filter(|s| s.enrollments * 2 >= total)
        .collect();
    let (first, last) = (later.first()?, later.last()?);
    if later.len() < 2 || first.kib == 0 {
        return None;
    }
    let n = later.len() as f64;
    let mean_x = later.iter().map(|s| s.enrollments as f64).sum::<f64>() / n;
    let mean_y = later.iter().map(|s| s.kib as f64).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for s in &later {
        let dx = s.enrollments as f64 - mean_x;
        sxy += dx * (s.kib as f64 - mean_y);
        sxx += dx * dx;
    }
    Some(RssTrend {
        from: first.enrollments,
        to: last.enrollments,
        from_kib: first.kib,
        kib_per_1000: sxy / sxx * 1000.0,
    })
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct SoakReport {
    /// Enrollments attempted.
    pub total: usize,
    /// Enrollments in flight at once.
    pub concurrency: usize,
    /// Enrollments that did not end in `200` with a `cert_bundle`.
    pub failures: usize,
    /// The failures by kind (`HTTP 502 urn:...:transport`, `timeout`, ...).
    pub failure_kinds: BTreeMap<String, usize>,
    /// `/simpleenroll` requests the EST server saw.
    pub est_enrollments: usize,
    /// Median latency of one enrollment (all enrollments).
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// The slowest enrollment.
    pub max: Duration,
    /// Wall time of all enrollments (warm-up included).
    pub wall: Duration,
    /// `serve`'s resident set size after each share of the enrollments
    /// ([`SoakOptions::rss_points`]), the last after all of them.
    pub rss_samples: Vec<RssSample>,
    /// The largest resident set size sampled (every 100 ms) during the run, KiB.
    pub rss_peak_kib: u64,
}

impl SoakReport {
    /// Enrollments per second over the whole run.
    pub fn throughput(&self) -> f64 {
        self.total as f64 / self.wall.as_secs_f64()
    }

    /// `serve`'s resident set size after the last enrollment, KiB.
    pub fn rss_end_kib(&self) -> u64 {
        self.rss_samples.last().map_or(0, |s| s.kib)
    }

    /// The RSS trend over the second half of the run ([`rss_trend`]);
    /// `None` with fewer than two readings from half-way on.
    pub fn rss_trend(&self) -> Option<RssTrend> {
        rss_trend(&self.rss_samples, self.total)
    }

    /// Each RSS reading in words: `250 (50%): 34000 KiB`.
    fn rss_readings(&self) -> Vec<String> {
        self.rss_samples
            .iter()
            .map(|s| {
                format!(
                    "{} ({:.0}%): {} KiB",
                    s.enrollments,
                    s.enrollments as f64 * 100.0 / self.total as f64,
                    s.kib
                )
            })
            .collect()
    }

    /// The trend in words.
    fn trend_words(&self) -> String {
        match self.rss_trend() {
            Some(t) => format!(
                "{:+.1} KiB per 1000 enrollments from {} to {} (least squares), {:+.2}% of the RSS at {} over those {}",
                t.kib_per_1000,
                t.from,
                t.to,
                t.growth_percent(),
                t.from,
                t.to - t.from
            ),
            None => "not measured (fewer than two readings from half-way on)".to_owned(),
        }
    }

    /// The lines the benchmark prints.
    pub fn lines(&self) -> Vec<String> {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mut lines = vec![
            format!(
                "soak: {} enrollments at concurrency {} through `ca-handler serve` (keep-alive HTTP client -> serve -> component -> est-server over TLS, HTTP Basic, ECDSA P-256)",
                self.total, self.concurrency
            ),
            format!(
                "failures: {} (EST server saw {} enrollments)",
                self.failures, self.est_enrollments
            ),
        ];
        for (kind, count) in &self.failure_kinds {
            lines.push(format!("  {count} x {kind}"));
        }
        lines.push(format!(
            "latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        ));
        lines.push(format!(
            "throughput: {:.1} enrollments/s ({} in {:.2} s)",
            self.throughput(),
            self.total,
            self.wall.as_secs_f64()
        ));
        lines.push(format!(
            "serve RSS after enrollments: {}; peak {} KiB",
            self.rss_readings().join(", "),
            self.rss_peak_kib
        ));
        lines.push(format!(
            "serve RSS trend over the second half: {}",
            self.trend_words()
        ));
        lines
    }

    /// The figures as a Markdown table.
    pub fn markdown(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mut rows = vec![
            "| figure | value |".to_owned(),
            "| --- | --- |".to_owned(),
            format!(
                "| enrollments, concurrency | {}, {} |",
                self.total, self.concurrency
            ),
            format!("| failures | {} |", self.failures),
        ];
        for (kind, count) in &self.failure_kinds {
            rows.push(format!("| failure: {kind} | {count} |"));
        }
        rows.extend([
            format!(
                "| latency p50 / p99 / max | {:.2} ms / {:.2} ms / {:.2} ms |",
                ms(self.p50),
                ms(self.p99),
                ms(self.max)
            ),
            format!(
                "| throughput | {:.1} enrollments/s ({:.2} s) |",
                self.throughput(),
                self.wall.as_secs_f64()
            ),
        ]);
        for reading in self.rss_readings() {
            let (after, kib) = reading.split_once(": ").unwrap_or((&reading, ""));
            rows.push(format!("| serve RSS after {after} enrollments | {kib} |"));
        }
        rows.extend([
            format!(
                "| serve RSS trend over the second half | {} |",
                self.trend_words()
            ),
            format!("| serve peak RSS (sampled) | {} KiB |", self.rss_peak_kib),
        ]);
        rows.join("\n")
    }
}

/// `ca-handler serve`, killed when dropped.
pub(crate) struct Served {
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
}

impl Served {
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A random hex string (std's randomly keyed hasher).
pub(crate) fn random_hex() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{:016x}", hasher.finish())
}

/// A process's resident set size in KiB (`VmRSS`, Linux).
pub fn rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// `count` distinct CSRs (PEM, fresh ECDSA P-256 keys), `soak-<i>.example.test`.
pub(crate) fn csrs(count: usize) -> Result<Vec<Bytes>> {
    (0..count)
        .map(|i| {
            let name = format!("soak-{i}.example.test");
            let key = KeyType::EcdsaP256.generate()?;
            let mut params = rcgen::CertificateParams::new(vec![name.clone()])?;
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            Ok(Bytes::from(params.serialize_request(&key)?.pem()?))
        })
        .collect()
}

pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// One `POST /enroll`: `Ok` for `200` with a `cert_bundle`, else the kind of failure.
pub(crate) async fn enroll_once(
    client: &HttpClient,
    url: &str,
    token: &str,
    csr: Bytes,
    limit: Duration,
) -> Result<(), String> {
    let request = hyper::Request::post(url)
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(csr))
        .map_err(|e| format!("request: {e}"))?;
    let answer = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("client: {e}"))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("client (body): {e}"))?
            .to_bytes();
        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if status != 200 {
            return Err(format!(
                "HTTP {status} {}",
                doc["type"].as_str().unwrap_or("(no problem type)")
            ));
        }
        match doc["cert_bundle"].as_str() {
            Some(bundle) if bundle.starts_with("-----BEGIN CERTIFICATE-----") => Ok(()),
            _ => Err("HTTP 200 without a cert_bundle".to_owned()),
        }
    };
    tokio::time::timeout(limit, answer)
        .await
        .unwrap_or_else(|_| Err(format!("no answer in {} s", limit.as_secs())))
}

/// Shared by the workers of one run (CSRs taken in turn, round and round).
pub(crate) struct Load {
    pub(crate) client: HttpClient,
    pub(crate) url: String,
    pub(crate) token: String,
    pub(crate) csrs: Vec<Bytes>,
    pub(crate) next: AtomicUsize,
    pub(crate) limit: Duration,
}

/// Enrollments `next..end` by `concurrency` workers: (latency, outcome) each.
pub(crate) async fn phase(
    load: &Arc<Load>,
    end: usize,
    concurrency: usize,
) -> Result<Vec<(Duration, Result<(), String>)>> {
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let load = Arc::clone(load);
        workers.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = load.next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    break;
                }
                let start = Instant::now();
                let outcome = enroll_once(
                    &load.client,
                    &load.url,
                    &load.token,
                    load.csrs[i % load.csrs.len()].clone(),
                    load.limit,
                )
                .await;
                done.push((start.elapsed(), outcome));
            }
            done
        }));
    }
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.context("a soak worker panicked")?);
    }
    load.next.store(end, Ordering::Relaxed);
    Ok(all)
}

/// Starts `ca-handler serve` for `server` in `dir`, waits for `/health`.
async fn start_serve(
    options: &SoakOptions,
    server: &EstServer,
    dir: &Path,
    password: &str,
    token: &str,
    client: &HttpClient,
) -> Result<(Served, String)> {
    let anchor = dir.join("est-root.pem");
    std::fs::write(&anchor, server.trust_anchor_pem())?;
    let config = dir.join("acme_srv.cfg");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\ndebug: False\n\n[CAhandler]\nest_host: {}\nest_user: estuser\n\
             est_password_variable: SOAK_EST_PASSWORD\napi_token_variable: SOAK_API_TOKEN\n\
             ca_bundle: {}\nrequest_timeout: 60\n",
            server.https_url(),
            anchor.display()
        ),
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let log = dir.join("serve.log");
    let file = std::fs::File::create(&log)?;
    let child = Command::new(&options.ca_handler)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env_remove("RUST_LOG")
        .env("SOAK_EST_PASSWORD", password)
        .env("SOAK_API_TOKEN", token)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .with_context(|| format!("cannot run {}", options.ca_handler.display()))?;
    let mut served = Served { child, log };
    let deadline = Instant::now() + options.startup_timeout;
    loop {
        if let Some(status) = served.child.try_wait()? {
            bail!(
                "ca-handler serve exited ({status}) before answering:\n{}",
                served.log_tail()
            );
        }
        let health = hyper::Request::get(format!("{base}/health")).body(Full::default())?;
        if let Ok(Ok(answer)) =
            tokio::time::timeout(Duration::from_secs(5), client.request(health)).await
        {
            if answer.status() == 200 {
                break;
            }
            bail!(
                "ca-handler serve's /health answered {}:\n{}",
                answer.status(),
                served.log_tail()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "ca-handler serve did not answer /health in {:?}:\n{}",
                options.startup_timeout,
                served.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((served, base))
}

/// Runs the soak (see the module's documentation). Call it inside a
/// multi-threaded tokio runtime.
pub async fn run(options: SoakOptions) -> Result<SoakReport> {
    if options.total == 0 || options.concurrency == 0 {
        bail!("the soak needs at least one enrollment and a concurrency of at least 1");
    }
    let dir =
        std::env::temp_dir().join(format!("est-soak-{}-{}", std::process::id(), random_hex()));
    std::fs::create_dir_all(&dir)?;
    let password = format!("SoakPw-{}", random_hex());
    let token = format!("SoakTok-{}", random_hex());
    let server = EstServer::start(ServerConfig {
        key_type: KeyType::EcdsaP256,
        password: password.clone(),
        ..ServerConfig::default()
    })
    .await?;
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(options.concurrency)
        .pool_idle_timeout(Duration::from_secs(60))
        .build_http();
    let outcome = async {
        let (served, base) =
            start_serve(&options, &server, &dir, &password, &token, &client).await?;
        let total = options.total;
        let csrs = tokio::task::spawn_blocking(move || csrs(total)).await??;
        let load = Arc::new(Load {
            client: client.clone(),
            url: format!("{base}/enroll"),
            token: token.clone(),
            csrs,
            next: AtomicUsize::new(0),
            limit: options.request_timeout,
        });
        let pid = served.child.id();
        let peak = Arc::new(AtomicU64::new(0));
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = {
            let (peak, sampling) = (Arc::clone(&peak), Arc::clone(&sampling));
            tokio::spawn(async move {
                while sampling.load(Ordering::Relaxed) {
                    if let Some(rss) = rss_kib(pid) {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        let start = Instant::now();
        let mut results = Vec::with_capacity(options.total);
        let mut rss_samples = Vec::new();
        let mut wall = Duration::ZERO;
        for end in options.rss_ends() {
            results.extend(phase(&load, end, options.concurrency).await?);
            wall = start.elapsed();
            rss_samples.push(RssSample {
                enrollments: end,
                kib: rss_kib(pid).context("reading serve's VmRSS")?,
            });
        }
        let rss_end_kib = rss_samples.last().map_or(0, |s| s.kib);
        sampling.store(false, Ordering::Relaxed);
        let _ = sampler.await;
        let mut served = served;
        if let Some(status) = served.child.try_wait()? {
            bail!(
                "ca-handler serve exited during the soak ({status}):\n{}",
                served.log_tail()
            );
        }
        drop(served);

        let mut failure_kinds = BTreeMap::new();
        let mut latencies = Vec::with_capacity(results.len());
        for (took, outcome) in results {
            latencies.push(took);
            if let Err(kind) = outcome {
                *failure_kinds.entry(kind).or_insert(0) += 1;
            }
        }
        latencies.sort();
        let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
        let est_enrollments = server
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/simpleenroll"))
            .count();
        Ok(SoakReport {
            total: options.total,
            concurrency: options.concurrency,
            failures: failure_kinds.values().sum(),
            failure_kinds,
            est_enrollments,
            p50: at(0.5),
            p99: at(0.99),
            max: at(1.0),
            wall,
            rss_samples,
            rss_peak_kib: peak.load(Ordering::Relaxed).max(rss_end_kib),
        })
    }
    .await;
    server.shutdown().await;
    if outcome.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(points: &[(usize, u64)]) -> Vec<RssSample> {
        points
            .iter()
            .map(|&(enrollments, kib)| RssSample { enrollments, kib })
            .collect()
    }

    #[test]
    fn the_rss_is_read_after_each_share_and_at_the_end() {
        let mut options = SoakOptions::new("ca-handler", 500, 32);
        assert_eq!(options.rss_ends(), vec![50, 125, 250, 375, 500]);
        options.rss_points = vec![50, 0, 10, 50, 101];
        assert_eq!(options.rss_ends(), vec![50, 250, 500]);
        let tiny = SoakOptions::new("ca-handler", 3, 1);
        assert_eq!(tiny.rss_ends(), vec![1, 2, 3]);
    }

    #[test]
    fn a_warm_up_that_levels_off_is_no_trend_but_a_steady_rise_is() {
        // Warm-up: a steep rise in the first half, flat (with noise) after.
        let warm = samples(&[
            (50, 20_000),
            (100, 26_000),
            (150, 29_000),
            (200, 30_500),
            (250, 31_000),
            (300, 31_200),
            (350, 30_900),
            (400, 31_100),
            (450, 31_300),
            (500, 31_000),
        ]);
        let trend = rss_trend(&warm, 500).unwrap();
        assert_eq!((trend.from, trend.to, trend.from_kib), (250, 500, 31_000));
        assert!(trend.growth_percent().abs() < 1.0, "{trend:?}");
        // The end against an early reading calls this 55% growth.
        let (early, end) = (warm[0].kib as f64, warm[9].kib as f64);
        assert!((end - early) / early > 0.5);

        // A leak: 40 KiB per enrollment, on and on.
        let leak: Vec<RssSample> = (1..=10)
            .map(|i| RssSample {
                enrollments: i * 50,
                kib: 30_000 + 40 * (i as u64 * 50),
            })
            .collect();
        let trend = rss_trend(&leak, 500).unwrap();
        assert!((trend.kib_per_1000 - 40_000.0).abs() < 1e-6, "{trend:?}");
        // 40 KiB x 250 enrollments over the 40,000 KiB at 250.
        assert!((trend.growth_percent() - 25.0).abs() < 1e-9, "{trend:?}");
    }

    #[test]
    fn no_trend_without_two_readings_from_half_way_on() {
        assert_eq!(rss_trend(&samples(&[(100, 1), (500, 2)]), 1000), None);
        assert_eq!(rss_trend(&[], 10), None);
        assert!(rss_trend(&samples(&[(500, 10), (1000, 20)]), 1000).is_some());
    }
}
