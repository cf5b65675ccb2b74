//! The WebAssembly glue: exports the `handler` interface and the HTTP API,
//! and provides the EST logic with a `wasi:http` transport and a
//! `wasi:config` settings source. Nothing here interprets EST; it only moves
//! values across the component boundary.

mod incoming;
mod transport;

mod bindings {
    // Spin and this project's host: wasi:config@0.2.0-draft-2024-09-27.
    #[cfg(not(feature = "wasmtime-serve"))]
    wit_bindgen::generate!({
        world: "est-ca-handler",
        path: "wit",
        generate_all,
    });
    // `wasmtime serve`: wasi:config@0.2.0-rc.1, otherwise the same.
    #[cfg(feature = "wasmtime-serve")]
    wit_bindgen::generate!({
        world: "est-ca-handler-wasmtime-serve",
        path: "wit",
        generate_all,
    });
}

use crate::config::{Config, Settings};
use crate::error::{HandlerError, HttpFailure, TransportCause, TransportFailure};
use crate::handler::{self, Enrollment, IssuedCertificate, Pending, PollResult};
use bindings::exports::acme::ca_handler::handler as wit;
use bindings::exports::acme::ca_handler::handler::Guest;
// Both versions of wasi:config are vendored, so the bindings carry the version.
#[cfg(not(feature = "wasmtime-serve"))]
use bindings::wasi::config0_2_0_draft_2024_09_27::store;
#[cfg(feature = "wasmtime-serve")]
use bindings::wasi::config0_2_0_rc_1::store;
use std::sync::OnceLock;
use transport::WasiTransport;

struct Component;

bindings::export!(Component with_types_in bindings);

impl Guest for Component {
    fn handler_check() -> Result<Vec<String>, wit::HandlerError> {
        config().map(Config::warnings).map_err(Into::into)
    }

    fn ca_certs() -> Result<Vec<String>, wit::HandlerError> {
        let config = checked_config()?;
        handler::ca_certs(config, &WasiTransport).map_err(Into::into)
    }

    fn enroll(csr: String) -> Result<wit::Enrollment, wit::HandlerError> {
        let config = checked_config()?;
        match handler::enroll(config, &WasiTransport, &csr)? {
            Enrollment::Issued(cert) => {
                log(&cert.warnings);
                Ok(wit::Enrollment::Issued(cert.into()))
            }
            Enrollment::Pending(pending) => Ok(wit::Enrollment::Pending(pending.into())),
        }
    }

    fn poll(
        _cert_name: String,
        poll_identifier: String,
        csr: String,
    ) -> Result<wit::PollResult, wit::HandlerError> {
        let config = checked_config()?;
        match handler::poll(config, &WasiTransport, &poll_identifier, &csr)? {
            PollResult::Issued(cert) => {
                log(&cert.warnings);
                Ok(wit::PollResult::Issued(cert.into()))
            }
            PollResult::Pending(pending) => Ok(wit::PollResult::Pending(pending.into())),
            PollResult::Rejected(reason) => Ok(wit::PollResult::Rejected(reason)),
        }
    }

    fn revoke(_cert: String, _reason: String, _date: String) -> Result<(), wit::RevocationError> {
        handler::revoke().map_err(|e| wit::RevocationError {
            code: e.code,
            message: e.message,
            detail: e.detail,
        })
    }

    fn trigger(_payload: String) -> Result<wit::Certificate, wit::HandlerError> {
        handler::trigger().map(Into::into).map_err(Into::into)
    }
}

/// The configuration, read from the host once per instance.
fn loaded_config() -> &'static Result<Config, HandlerError> {
    static CONFIG: OnceLock<Result<Config, HandlerError>> = OnceLock::new();
    CONFIG.get_or_init(|| Config::load(&WasiSettings))
}

/// The configuration, or its error, for an operation.
fn config() -> Result<&'static Config, HandlerError> {
    loaded_config().as_ref().map_err(Clone::clone)
}

/// The configuration for an operation; its warnings go to stderr on every call.
fn checked_config() -> Result<&'static Config, HandlerError> {
    let config = config()?;
    log_warnings(config);
    Ok(config)
}

/// Writes the configuration's warnings to stderr, where hosts log them.
fn log_warnings(config: &Config) {
    log(&config.warnings());
}

/// Writes warnings to stderr, where hosts log them.
fn log(warnings: &[String]) {
    for warning in warnings {
        eprintln!("est-ca-handler: warning: {warning}");
    }
}

struct WasiSettings;

impl Settings for WasiSettings {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        store::get(key).map_err(|e| match e {
            store::Error::Upstream(why) => format!("upstream: {why}"),
            store::Error::Io(why) => format!("I/O: {why}"),
        })
    }

    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl From<HttpFailure> for wit::HttpFailure {
    fn from(f: HttpFailure) -> Self {
        Self {
            status: f.status,
            detail: f.detail,
        }
    }
}

impl From<HandlerError> for wit::HandlerError {
    fn from(e: HandlerError) -> Self {
        match e {
            HandlerError::Config(d) => Self::Config(d),
            HandlerError::BadCsr(d) => Self::BadCsr(d),
            HandlerError::Unauthorized(f) => Self::Unauthorized(f.into()),
            HandlerError::Rejected(f) => Self::Rejected(f.into()),
            HandlerError::ServerError(f) => Self::ServerError(f.into()),
            HandlerError::Transport(f) => Self::Transport(f.into()),
            HandlerError::MalformedAnswer(d) => Self::MalformedAnswer(d),
            HandlerError::CertificateMismatch(d) => Self::CertificateMismatch(d),
            HandlerError::NotSupported(d) => Self::NotSupported(d),
        }
    }
}

impl From<TransportFailure> for wit::TransportFailure {
    fn from(f: TransportFailure) -> Self {
        Self {
            cause: match f.cause {
                TransportCause::Dns => wit::TransportCause::Dns,
                TransportCause::ConnectionRefused => wit::TransportCause::ConnectionRefused,
                TransportCause::ConnectionReset => wit::TransportCause::ConnectionReset,
                TransportCause::TlsUntrusted => wit::TransportCause::TlsUntrusted,
                TransportCause::TlsAlert(code) => wit::TransportCause::TlsAlert(code),
                TransportCause::TlsProtocol => wit::TransportCause::TlsProtocol,
                TransportCause::DestinationDenied => wit::TransportCause::DestinationDenied,
                TransportCause::Timeout => wit::TransportCause::Timeout,
                TransportCause::Other => wit::TransportCause::Other,
            },
            detail: f.detail,
        }
    }
}

impl From<IssuedCertificate> for wit::Certificate {
    fn from(c: IssuedCertificate) -> Self {
        Self {
            cert_bundle: c.cert_bundle,
            cert_raw: c.cert_raw,
            warnings: c.warnings,
        }
    }
}

impl From<Pending> for wit::Pending {
    fn from(p: Pending) -> Self {
        Self {
            poll_identifier: p.poll_identifier,
            retry_after_seconds: p.retry_after_seconds,
        }
    }
}
