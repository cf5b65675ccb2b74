//! The WebAssembly glue: exports the `handler` interface (here) and the
//! HTTP API ([`incoming`]), and gives the EST logic a `wasi:http` transport
//! ([`transport`]) and a `wasi:config` settings source ([`settings`]);
//! [`convert`] maps values onto the WIT types. Nothing here interprets EST;
//! it only moves values across the component boundary, and writes warnings
//! to stderr (where hosts log them) at the exports, in one place.

// A global allocator and the canonical ABI's `cabi_realloc` are unsafe by
// their contracts; each unsafe block in it says why it holds.
#[allow(unsafe_code, reason = "the global allocator and cabi_realloc")]
mod allocator;
// wit-bindgen's generated glue reads and writes the canonical ABI's memory
// by pointer and leaks buffers the host is to free.
#[allow(
    unsafe_code,
    clippy::mem_forget,
    reason = "wit-bindgen's generated code"
)]
mod bindings;
mod convert;
mod incoming;
mod settings;
mod transport;

use crate::config::Config;
use crate::error::HandlerError;
use crate::handler::{self, Enrollment, PollResult};
use bindings::exports::acme::ca_handler::handler as wit;
use bindings::exports::acme::ca_handler::handler::Guest;
use settings::WasiSettings;
use std::sync::OnceLock;
use transport::WasiTransport;

struct Component;

// The exports are wit-bindgen's `#[export_name]` functions over the
// canonical ABI, in a module of their own for the lint's sake.
#[allow(unsafe_code, reason = "wit-bindgen's generated exports")]
mod exports {
    use super::{Component, bindings};
    bindings::export!(Component with_types_in bindings);
}

impl Guest for Component {
    fn handler_check() -> Result<Vec<String>, wit::HandlerError> {
        let warnings = config().map(Config::warnings)?;
        // The HTTP API's own settings: a broken api_auth locks every
        // caller out of it.
        crate::api::check_settings(&WasiSettings).map_err(HandlerError::Config)?;
        Ok(warnings)
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
    // Configuration errors are `Config`'s only: copying just that variant
    // keeps the clone of every other kind of error out of the component.
    loaded_config().as_ref().map_err(|error| match error {
        HandlerError::Config(why) => HandlerError::Config(why.clone()),
        other => HandlerError::Config(other.to_string()),
    })
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
