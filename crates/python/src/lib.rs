//! `est_ca_handler._native`: the est-ca-handler component in-process for
//! Python, through the embeddable host ([`est_ca_host::Host`]): the same
//! sandbox, instance cap and deadline as `ca-handler serve`, without a
//! second service.
//!
//! A [`Handler`] holds a configuration's key/value pairs only. Everything
//! that takes time to build is kept per process ([`process`]): one tokio
//! runtime, the compiled component, and each configuration's settings
//! (TLS material and pooled connections), so that making a `Handler` for
//! every operation, as acme2certifier does, compiles nothing. Calls run on
//! the runtime with the GIL released, from as many Python threads as call.

#![allow(
    rustdoc::private_intra_doc_links,
    reason = "an extension module has no Rust API: its docs are its maintainers'"
)]

mod errors;
mod process;

use errors::Failure;
use est_ca_host::{Certificate, Enrollment, Host, PollResult, Settings};
use pyo3::prelude::*;
use pyo3::types::PyType;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// An issued certificate.
#[pyclass(module = "est_ca_handler", frozen, get_all)]
pub struct Issued {
    /// The certificate as PEM, followed by its issuing chain as PEM,
    /// nearest issuer first.
    cert_bundle: String,
    /// The certificate alone: base64 of its DER on one line.
    cert_raw: String,
    /// What the operator should know about the certificate (names the CA
    /// left out, when `est_names_check` is `warn`); empty when all is well.
    warnings: Vec<String>,
}

#[pymethods]
impl Issued {
    fn __repr__(&self) -> String {
        format!(
            "Issued(cert_raw='{}...', chain={}, warnings={:?})",
            self.cert_raw.chars().take(16).collect::<String>(),
            self.cert_bundle
                .matches("-----BEGIN CERTIFICATE-----")
                .count(),
            self.warnings
        )
    }
}

impl From<Certificate> for Issued {
    fn from(c: Certificate) -> Self {
        Self {
            cert_bundle: c.cert_bundle,
            cert_raw: c.cert_raw,
            warnings: c.warnings,
        }
    }
}

/// The CA accepted the request but has not issued yet: call `poll` later.
#[pyclass(module = "est_ca_handler", frozen, get_all)]
pub struct Pending {
    /// What to hand back to `poll`.
    poll_identifier: String,
    /// How long the CA asked to wait before asking again, in seconds.
    retry_after: u32,
}

#[pymethods]
impl Pending {
    fn __repr__(&self) -> String {
        format!(
            "Pending(poll_identifier={:?}, retry_after={})",
            self.poll_identifier, self.retry_after
        )
    }
}

/// The CA refused a pending request for good (a `poll` answer, not an
/// error: the request was valid, the CA decided against it).
#[pyclass(module = "est_ca_handler", frozen, get_all)]
pub struct PollRejected {
    /// The CA's reason.
    reason: String,
}

#[pymethods]
impl PollRejected {
    fn __repr__(&self) -> String {
        format!("PollRejected(reason={:?})", self.reason)
    }
}

/// The est-ca-handler component for one configuration: the `[CAhandler]`
/// keys of acme2certifier (`est_host`, `est_user`, `est_password`, ...).
#[pyclass(module = "est_ca_handler", frozen, subclass)]
pub struct Handler {
    pairs: Vec<(String, String)>,
}

impl Handler {
    /// Runs `call` with the GIL released, on the calling thread within the
    /// process's runtime (as a Rust caller of the host would: no hand-over
    /// to a worker thread and back), and waits for it.
    fn run<T, F, Fut>(&self, py: Python<'_>, call: F) -> Result<T, Failure>
    where
        T: Send,
        F: FnOnce(Host, Arc<Settings>) -> Fut + Send,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        let pairs = &self.pairs;
        py.detach(move || {
            let process = process::current().map_err(Failure::of_host)?;
            let settings = process
                .settings(pairs)
                .map_err(|e| Failure::Config(format!("{e:#}")))?;
            let call = call(process.host.clone(), settings);
            // A panic in the host is this call's failure, not the caller's.
            match std::panic::catch_unwind(AssertUnwindSafe(|| process.runtime.block_on(call))) {
                Ok(result) => result.map_err(Failure::of_host),
                Err(_) => Err(Failure::Host("the call failed: the host panicked".into())),
            }
        })
    }
}

/// The text of `value`, or a `TypeError` naming `what`.
fn text(value: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    value.extract::<String>().map_err(|_| {
        let type_name = value
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "?".into());
        pyo3::exceptions::PyTypeError::new_err(format!("{what} must be a str, not {type_name}"))
    })
}

#[pymethods]
impl Handler {
    /// A handler for `settings`, a mapping of `[CAhandler]` keys to string
    /// values. Raises `ConfigError` when TLS files it names cannot be read;
    /// other configuration errors are the component's to report (`check`).
    #[new]
    fn new(py: Python<'_>, settings: &Bound<'_, PyAny>) -> PyResult<Self> {
        let mut pairs = Vec::new();
        for item in settings.call_method0("items")?.try_iter()? {
            let (key, value): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
            let key = text(&key, "a settings key")?;
            let value = text(&value, &format!("settings[{key:?}]"))?;
            pairs.push((key, value));
        }
        let pairs_ref = &pairs;
        py.detach(move || {
            let process = process::current().map_err(Failure::of_host)?;
            process
                .settings(pairs_ref)
                .map(drop)
                .map_err(|e| Failure::Config(format!("{e:#}")))
        })
        .map_err(|f| f.into_pyerr(py))?;
        Ok(Self { pairs })
    }

    /// A handler for the `section` of an acme2certifier `acme_srv.cfg`
    /// (INI, read as acme2certifier reads it): the handler's keys of that
    /// section, and the `[DEFAULT]` keys the host reads
    /// (`proxy_server_list`).
    #[classmethod]
    #[pyo3(signature = (path, section = "CAhandler"))]
    fn from_acme_srv_cfg<'py>(
        cls: &Bound<'py, PyType>,
        path: &Bound<'py, PyAny>,
        section: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = cls.py();
        let settings = py
            .import("est_ca_handler._config")?
            .call_method1("acme_srv_cfg_settings", (path, section))?;
        cls.call1((settings,))
    }

    /// Checks the configuration without contacting the CA: the warnings an
    /// operator should see. Raises `ConfigError`.
    fn check(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.run(py, |host, settings| async move {
            host.handler_check(&settings).await
        })
        .and_then(|r| r.map_err(Failure::Handler))
        .map_err(|f| f.into_pyerr(py))
    }

    /// The CA's certificates, each one PEM certificate, as the CA sent them.
    fn ca_certs(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.run(py, |host, settings| async move {
            host.ca_certs(&settings).await
        })
        .and_then(|r| r.map_err(Failure::Handler))
        .map_err(|f| f.into_pyerr(py))
    }

    /// Requests a certificate for `csr` (PEM, base64 or base64url DER):
    /// `Issued` or `Pending`.
    fn enroll(&self, py: Python<'_>, csr: String) -> PyResult<Py<PyAny>> {
        let enrollment = self
            .run(py, move |host, settings| async move {
                host.enroll(&settings, &csr).await
            })
            .and_then(|r| r.map_err(Failure::Handler))
            .map_err(|f| f.into_pyerr(py))?;
        Ok(match enrollment {
            Enrollment::Issued(c) => Py::new(py, Issued::from(c))?.into_any(),
            Enrollment::Pending(p) => pending(py, p)?,
        })
    }

    /// Asks again about a request `enroll` left pending: `Issued`,
    /// `Pending` or `PollRejected`.
    #[pyo3(signature = (poll_identifier, csr, cert_name = None))]
    fn poll(
        &self,
        py: Python<'_>,
        poll_identifier: String,
        csr: String,
        cert_name: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let cert_name = cert_name.unwrap_or_default();
        let result = self
            .run(py, move |host, settings| async move {
                host.poll(&settings, &cert_name, &poll_identifier, &csr)
                    .await
            })
            .and_then(|r| r.map_err(Failure::Handler))
            .map_err(|f| f.into_pyerr(py))?;
        Ok(match result {
            PollResult::Issued(c) => Py::new(py, Issued::from(c))?.into_any(),
            PollResult::Pending(p) => pending(py, p)?,
            PollResult::Rejected(reason) => Py::new(py, PollRejected { reason })?.into_any(),
        })
    }

    /// Revokes `cert` for `reason` as of `date` (RFC 3339). Raises
    /// `RevocationError` (`code`, `message`, `detail`) when the CA does
    /// not (EST has no revocation).
    #[pyo3(signature = (cert, reason = "unspecified".to_owned(), date = String::new()))]
    fn revoke(&self, py: Python<'_>, cert: String, reason: String, date: String) -> PyResult<()> {
        self.run(py, move |host, settings| async move {
            host.revoke(&settings, &cert, &reason, &date).await
        })
        .and_then(|r| r.map_err(Failure::Revocation))
        .map_err(|f| f.into_pyerr(py))
    }

    /// Handles a notification the CA pushed: the certificate it announces.
    /// EST servers push nothing: raises `NotSupported`.
    fn trigger(&self, py: Python<'_>, payload: String) -> PyResult<Issued> {
        self.run(py, move |host, settings| async move {
            host.trigger(&settings, &payload).await
        })
        .and_then(|r| r.map_err(Failure::Handler))
        .map(Issued::from)
        .map_err(|f| f.into_pyerr(py))
    }

    fn __repr__(&self) -> String {
        let host = self
            .pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("est_host"))
            .map(|(_, v)| v.as_str())
            .unwrap_or("?");
        format!("Handler(est_host={host:?})")
    }
}

fn pending(py: Python<'_>, p: est_ca_host::Pending) -> PyResult<Py<PyAny>> {
    Ok(Py::new(
        py,
        Pending {
            poll_identifier: p.poll_identifier,
            retry_after: p.retry_after_seconds,
        },
    )?
    .into_any())
}

/// What this process has built, for the tests: `engine_pid`, the id of
/// the process whose runtime and compiled component are in use (`None`
/// before the first `Handler`); `engines_built` and `settings_built`, how
/// many of each were built (counted on from the parent in a forked child).
#[pyfunction]
fn _process_stats(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let (engines, settings) = process::builds();
    let stats = pyo3::types::PyDict::new(py);
    stats.set_item("engine_pid", process::built_by())?;
    stats.set_item("engines_built", engines)?;
    stats.set_item("settings_built", settings)?;
    Ok(stats)
}

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Handler>()?;
    m.add_class::<Issued>()?;
    m.add_class::<Pending>()?;
    m.add_class::<PollRejected>()?;
    errors::register(m)?;
    let keys: Vec<&str> = est_ca_handler::config::keys::ALL
        .iter()
        .copied()
        .filter(|k| !k.starts_with("api_"))
        .collect();
    m.add("SETTINGS_KEYS", keys)?;
    let kinds: Vec<&str> = est_ca_host::ProblemKind::ALL
        .iter()
        .map(|kind| kind.name())
        .collect();
    m.add("PROBLEM_KINDS", kinds)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(_process_stats, m)?)?;
    Ok(())
}
