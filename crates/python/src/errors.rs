//! The Python exceptions: one class for each case of the WIT
//! `handler-error`, under a common [`HandlerError`], plus the revocation
//! error and the host's own failures. Every instance has `detail`,
//! `status`, `cause`, `tls_alert`, `hint` and `kind` (the failure's
//! problem kind, named as the HTTP API names it; `None` where they do not
//! apply); its text is the host's one-line explanation
//! ([`est_ca_host::report::explain`]).

use est_ca_host::{HandlerError as Wit, ProblemKind, report};
use est_ca_host::{
    LimitExceeded as HostLimit, RevocationError as WitRevocationError, TransportCause,
};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyType;
use pyo3::{PyTypeInfo, create_exception};

create_exception!(
    est_ca_handler,
    HandlerError,
    PyException,
    "Why a call failed: the base of every exception this package raises."
);
create_exception!(
    est_ca_handler,
    ConfigError,
    HandlerError,
    "The configuration is missing a value, holds a bad one, or names TLS files that cannot be read."
);
create_exception!(
    est_ca_handler,
    BadCsr,
    HandlerError,
    "The CSR is not a well-formed PKCS#10 request."
);
create_exception!(
    est_ca_handler,
    Unauthorized,
    HandlerError,
    "The CA refused the credentials (HTTP 401 or 403; `status`)."
);
create_exception!(
    est_ca_handler,
    Rejected,
    HandlerError,
    "The CA rejected the request (any other HTTP 4xx; `status`)."
);
create_exception!(
    est_ca_handler,
    ServerError,
    HandlerError,
    "The CA failed (HTTP 5xx) or answered with an unexpected status (`status`)."
);
create_exception!(
    est_ca_handler,
    TransportError,
    HandlerError,
    "The request got no answer: `cause` says why (\"dns\", \"connection-refused\", \"tls-alert\", ...)."
);
create_exception!(
    est_ca_handler,
    MalformedAnswer,
    HandlerError,
    "The CA answered, but the answer could not be understood."
);
create_exception!(
    est_ca_handler,
    CertificateMismatch,
    HandlerError,
    "The issued certificate does not match the request; it was not returned."
);
create_exception!(
    est_ca_handler,
    NotSupported,
    HandlerError,
    "The handler does not offer the operation."
);
create_exception!(
    est_ca_handler,
    RevocationError,
    HandlerError,
    "A failed revocation, in acme2certifier's shape: `code`, `message` (an ACME error URN), `detail`."
);
create_exception!(
    est_ca_handler,
    HostError,
    HandlerError,
    "The host could not run the call (the component failed or could not be loaded)."
);
create_exception!(
    est_ca_handler,
    LimitExceeded,
    HostError,
    "The host's limits stopped the call: too many calls at once, or past the deadline (request_timeout plus the host's grace)."
);

/// Why a call failed, before it becomes a Python exception (built where
/// the GIL is held).
pub enum Failure {
    /// The component's answer.
    Handler(Wit),
    /// The component's answer to `revoke`.
    Revocation(WitRevocationError),
    /// The settings could not be built (TLS files).
    Config(String),
    /// The host's limits.
    Limit(HostLimit),
    /// Anything else the host reported.
    Host(String),
}

impl Failure {
    /// A failure the host reported while running a call.
    pub fn of_host(error: anyhow::Error) -> Self {
        match error.downcast_ref::<HostLimit>() {
            Some(limit) => Self::Limit(*limit),
            None => Self::Host(format!("{error:#}")),
        }
    }
}

/// The text of a transport cause, as the WIT names it.
fn cause_name(cause: TransportCause) -> &'static str {
    match cause {
        TransportCause::Dns => "dns",
        TransportCause::ConnectionRefused => "connection-refused",
        TransportCause::ConnectionReset => "connection-reset",
        TransportCause::TlsUntrusted => "tls-untrusted",
        TransportCause::TlsAlert(_) => "tls-alert",
        TransportCause::TlsProtocol => "tls-protocol",
        TransportCause::DestinationDenied => "destination-denied",
        TransportCause::Timeout => "timeout",
        TransportCause::Other => "other",
    }
}

/// The attributes of an exception besides its text.
#[derive(Default)]
struct Fields {
    detail: String,
    status: Option<u16>,
    cause: Option<&'static str>,
    tls_alert: Option<u8>,
    hint: Option<String>,
    code: Option<u16>,
    message: Option<String>,
    /// The failure's problem kind, as the HTTP API names it.
    kind: Option<&'static str>,
}

const UNAUTHORIZED_HINT: &str =
    "check est_user/est_password, or that the EST server trusts the client certificate";

impl Failure {
    /// The Python exception.
    pub fn into_pyerr(self, py: Python<'_>) -> PyErr {
        let (class, text, fields) = match self {
            Failure::Handler(error) => {
                let text = report::explain(&error);
                let kind = Some(report::problem_kind(&error).name());
                let (class, fields) = match error {
                    Wit::Config(detail) => (ConfigError::type_object(py), plain(detail)),
                    Wit::BadCsr(detail) => (BadCsr::type_object(py), plain(detail)),
                    Wit::Unauthorized(f) => (
                        Unauthorized::type_object(py),
                        Fields {
                            detail: f.detail,
                            status: Some(f.status),
                            hint: Some(UNAUTHORIZED_HINT.into()),
                            ..Fields::default()
                        },
                    ),
                    Wit::Rejected(f) => (Rejected::type_object(py), http(f)),
                    Wit::ServerError(f) => (ServerError::type_object(py), http(f)),
                    Wit::Transport(t) => (
                        TransportError::type_object(py),
                        Fields {
                            detail: t.detail,
                            cause: Some(cause_name(t.cause)),
                            tls_alert: match t.cause {
                                TransportCause::TlsAlert(code) => code,
                                _ => None,
                            },
                            hint: report::transport_hint(t.cause),
                            ..Fields::default()
                        },
                    ),
                    Wit::MalformedAnswer(detail) => {
                        (MalformedAnswer::type_object(py), plain(detail))
                    }
                    Wit::CertificateMismatch(detail) => {
                        (CertificateMismatch::type_object(py), plain(detail))
                    }
                    Wit::NotSupported(detail) => (NotSupported::type_object(py), plain(detail)),
                };
                (class, text, Fields { kind, ..fields })
            }
            Failure::Revocation(e) => (
                RevocationError::type_object(py),
                format!(
                    "revocation failed ({}, {}): {}",
                    e.code, e.message, e.detail
                ),
                Fields {
                    detail: e.detail,
                    status: Some(e.code),
                    code: Some(e.code),
                    message: Some(e.message),
                    ..Fields::default()
                },
            ),
            Failure::Config(detail) => (
                ConfigError::type_object(py),
                format!("configuration error: {detail}"),
                Fields {
                    kind: Some(ProblemKind::Config.name()),
                    ..plain(detail)
                },
            ),
            Failure::Limit(limit) => {
                let detail = limit.to_string();
                let hint = match limit {
                    HostLimit::Busy { .. } => None,
                    HostLimit::Timeout { .. } => Some("see request_timeout".to_owned()),
                    // Only `serve` reads request bodies; a handler call has none.
                    HostLimit::BodyTimeout { .. } => None,
                };
                (
                    LimitExceeded::type_object(py),
                    detail.clone(),
                    Fields {
                        detail,
                        hint,
                        ..Fields::default()
                    },
                )
            }
            Failure::Host(detail) => (HostError::type_object(py), detail.clone(), plain(detail)),
        };
        build(&class, text, fields)
    }
}

fn plain(detail: String) -> Fields {
    Fields {
        detail,
        ..Fields::default()
    }
}

fn http(f: est_ca_host::HttpFailure) -> Fields {
    Fields {
        detail: f.detail,
        status: Some(f.status),
        ..Fields::default()
    }
}

/// An instance of `class` with `text` and `fields`; if that fails (it
/// does not, short of memory), the failure itself.
fn build(class: &Bound<'_, PyType>, text: String, fields: Fields) -> PyErr {
    let made = (|| -> PyResult<PyErr> {
        let value = class.call1((text,))?;
        value.setattr("detail", fields.detail)?;
        value.setattr("status", fields.status)?;
        value.setattr("cause", fields.cause)?;
        value.setattr("tls_alert", fields.tls_alert)?;
        value.setattr("hint", fields.hint)?;
        value.setattr("kind", fields.kind)?;
        if fields.code.is_some() {
            value.setattr("code", fields.code)?;
            value.setattr("message", fields.message)?;
        }
        Ok(PyErr::from_value(value))
    })();
    made.unwrap_or_else(|e| e)
}

/// Adds the classes to the module, each with `None` defaults for the
/// attributes (so that an exception made in Python has them too).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let base = HandlerError::type_object(py);
    for attribute in ["detail", "status", "cause", "tls_alert", "hint", "kind"] {
        base.setattr(attribute, py.None())?;
    }
    let revocation = RevocationError::type_object(py);
    revocation.setattr("code", py.None())?;
    revocation.setattr("message", py.None())?;
    m.add("HandlerError", base)?;
    m.add("ConfigError", ConfigError::type_object(py))?;
    m.add("BadCsr", BadCsr::type_object(py))?;
    m.add("Unauthorized", Unauthorized::type_object(py))?;
    m.add("Rejected", Rejected::type_object(py))?;
    m.add("ServerError", ServerError::type_object(py))?;
    m.add("TransportError", TransportError::type_object(py))?;
    m.add("MalformedAnswer", MalformedAnswer::type_object(py))?;
    m.add("CertificateMismatch", CertificateMismatch::type_object(py))?;
    m.add("NotSupported", NotSupported::type_object(py))?;
    m.add("RevocationError", revocation)?;
    m.add("HostError", HostError::type_object(py))?;
    m.add("LimitExceeded", LimitExceeded::type_object(py))?;
    Ok(())
}
