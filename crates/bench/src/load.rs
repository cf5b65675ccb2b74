//! The load driver shared by the soak and the host comparison: distinct
//! CSRs, and keep-alive `POST /enroll`s by a number of workers.

use anyhow::{Context, Result};
use est_server::KeyType;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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

/// The drivers' HTTP client.
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
