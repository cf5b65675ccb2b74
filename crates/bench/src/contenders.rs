//! The two in-process contenders, one enrollment at a time: the component
//! in the host, and the native floor (the handler's logic compiled
//! natively, over a plain Rust transport).

use crate::fixture::Fixture;
use crate::native::NativeTransport;
use anyhow::{Result, bail};
use est_ca_handler::config::Config;
use est_ca_handler::handler;
use est_ca_host::{Host, Settings};
use std::sync::Arc;

/// What each contender's enrollment needs; cheap to clone.
#[derive(Clone)]
pub struct Contenders {
    host: Arc<Host>,
    settings: Arc<Settings>,
    config: Arc<Config>,
    native: Arc<NativeTransport>,
    csr: String,
}

impl Contenders {
    /// The contenders of `fixture`, the component loaded in `host`.
    pub fn new(fixture: &Fixture, host: &Arc<Host>) -> Self {
        Self {
            host: Arc::clone(host),
            settings: Arc::clone(&fixture.settings),
            config: Arc::clone(&fixture.config),
            native: Arc::clone(&fixture.native),
            csr: fixture.csr.clone(),
        }
    }

    /// The native floor's configuration and transport.
    pub fn native_parts(&self) -> (Arc<Config>, Arc<NativeTransport>) {
        (Arc::clone(&self.config), Arc::clone(&self.native))
    }

    /// One enrollment through the component, which must be issued.
    pub fn component(&self) -> impl Future<Output = Result<()>> + Send + use<> {
        let (host, settings, csr) = (
            Arc::clone(&self.host),
            Arc::clone(&self.settings),
            self.csr.clone(),
        );
        async move {
            match host.enroll(&settings, &csr).await? {
                Ok(est_ca_host::Enrollment::Issued(_)) => Ok(()),
                other => bail!("component: {other:?}"),
            }
        }
    }

    /// One enrollment through the native floor, which must be issued.
    pub fn native(&self) -> impl Future<Output = Result<()>> + Send + use<> {
        let (config, native, csr) = (
            Arc::clone(&self.config),
            Arc::clone(&self.native),
            self.csr.clone(),
        );
        async move {
            let result = tokio::task::spawn_blocking(move || {
                handler::enroll(&config, native.as_ref(), &csr)
            })
            .await?;
            match result {
                Ok(handler::Enrollment::Issued(_)) => Ok(()),
                other => bail!("native: {other:?}"),
            }
        }
    }
}
