//! A wasmtime host for CA-handler components: it loads any component that
//! exports the `acme:ca-handler/ca-handler` world (by default the embedded
//! est-ca-handler), compiles it once, pre-instantiates it, and runs each
//! call in a fresh store, as a serverless host does.
//!
//! The host gives the component exactly three things: its settings through
//! `wasi:config/store`, the environment variables its settings name, and
//! outgoing HTTP to the configured EST server only, with the host's TLS.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use est_ca_host::{Host, Settings};
//! let host = Host::embedded()?;
//! let settings = Settings::from_pairs([
//!     ("est_host", "https://est.example.com"),
//!     ("est_user", "estuser"),
//!     ("est_password_variable", "EST_PASSWORD"),
//!     ("ca_bundle", "/etc/est/ca.pem"),
//! ])?;
//! let enrollment = host.enroll(&settings, "MIIB...").await?;
//! # Ok(()) }
//! ```
//!
//! The modules, from the component outwards: [`bindings`] (the world's
//! types), [`state`] (one call's store: WASI, `wasi:config/store`, memory
//! caps, stderr), [`settings`] (the `[CAhandler]` keys and what the host
//! derives from them), [`outbound`] (the one destination allowed and the
//! `wasi:http` hook), [`client`] (pooled connections), [`tls`] (the whole
//! TLS policy), [`pem`] (splitting PEM certificates), [`report`] (what a
//! person reads: certificate summaries, chain checks, explained errors),
//! [`serve`] (the HTTP API), [`limits`] (instances, deadlines and
//! connections: what one host lets its callers use) and [`demo`].

#![warn(missing_docs)]

pub mod bindings;
pub mod client;
pub mod demo;
pub mod limits;
pub mod outbound;
pub mod pem;
pub mod report;
pub mod serve;
pub mod settings;
pub mod state;
pub mod tls;

pub use bindings::{
    Certificate, Enrollment, HandlerError, HttpFailure, Pending, PollResult, RevocationError,
    TransportCause, TransportFailure,
};
pub use limits::{LimitExceeded, Limits};
pub use pem::PemBundle;
pub use settings::Settings;
pub use state::{MAX_INSTANCE_MEMORY, State};

use anyhow::{Context, Result};
use bindings::wasi::config0_2_0_draft_2024_09_27::store;
use bindings::{CaHandler, CaHandlerPre};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config as EngineConfig, Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// The est-ca-handler component built with this crate (release, wasm32-wasip2).
pub const COMPONENT: &[u8] = include_bytes!(env!("EST_CA_HANDLER_WASM"));

/// A compiled, pre-instantiated CA-handler component.
#[derive(Clone)]
pub struct Host {
    pre: CaHandlerPre<State>,
    /// The HTTP API, when the component exports `wasi:http/incoming-handler`.
    proxy: Option<wasmtime_wasi_http::p2::bindings::ProxyPre<State>>,
    /// The largest linear memory any instance has had, in bytes.
    peak_memory: Arc<AtomicUsize>,
    /// What callers may use ([`Host::with_limits`]).
    limits: Arc<Limits>,
    /// One permit per instance that may be alive ([`Limits::max_instances`]).
    instances: Arc<tokio::sync::Semaphore>,
}

impl Host {
    /// Loads the embedded est-ca-handler component.
    pub fn embedded() -> Result<Self> {
        Self::new(COMPONENT)
    }

    /// Loads a component from a `.wasm` file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Self::new(&bytes).with_context(|| format!("{}", path.display()))
    }

    /// Compiles `component` and links it against the host's WASI.
    pub fn new(component: &[u8]) -> Result<Self> {
        Self::with_engine_config(component, EngineConfig::new())
    }

    /// Like [`Host::new`], but keeps compiled code in wasmtime's on-disk
    /// cache (its default location, `~/.cache/wasmtime`), so that later
    /// processes loading the same component start without compiling it.
    /// Without a usable cache directory it compiles as usual.
    pub fn new_cached(component: &[u8]) -> Result<Self> {
        let mut config = EngineConfig::new();
        match wasmtime::Cache::from_file(None) {
            Ok(cache) => {
                config.cache(Some(cache));
            }
            Err(e) => tracing::debug!("no compilation cache: {e}"),
        }
        Self::with_engine_config(component, config)
    }

    /// Like [`Host::new`], with the caller's engine configuration (a
    /// profiler, a compilation cache, an instance allocator, ...). Epoch
    /// interruption is turned on in it (the host-side deadline of
    /// [`limits`]), and a thread advances the engine's epoch while the
    /// engine lives. The host has the default [`Limits`]; see
    /// [`Host::with_limits`].
    pub fn with_engine_config(component: &[u8], mut config: EngineConfig) -> Result<Self> {
        limits::configure(&mut config);
        let engine = Engine::new(&config).map_err(anyhow::Error::from)?;
        limits::start_ticker(&engine);
        let component = Component::new(&engine, component)
            .map_err(anyhow::Error::from)
            .context("not a loadable component")?;
        let mut linker = Linker::<State>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        outbound::link_http_error_code(&mut linker)?;
        store::add_to_linker::<State, HasSelf<State>>(&mut linker, |state| state)?;
        let instance_pre = linker.instantiate_pre(&component)?;
        let proxy = wasmtime_wasi_http::p2::bindings::ProxyPre::new(instance_pre.clone()).ok();
        let pre = CaHandlerPre::new(instance_pre)
            .map_err(anyhow::Error::from)
            .context("the component does not implement the acme:ca-handler/ca-handler world")?;
        let limits = Limits::default();
        Ok(Self {
            pre,
            proxy,
            peak_memory: Default::default(),
            instances: Arc::new(tokio::sync::Semaphore::new(limits.max_instances)),
            limits: Arc::new(limits),
        })
    }

    /// A fresh store for one call, with `settings`, and its stderr.
    fn store(&self, settings: &Settings) -> (Store<State>, MemoryOutputPipe) {
        state::new_store(self.pre.engine(), settings, &self.peak_memory)
    }

    /// Runs `call` in a fresh instance, within the host's [`Limits`]: a
    /// place among [`Limits::max_instances`] (else
    /// [`LimitExceeded::Busy`] at once) and the host-side deadline
    /// ([`Host::call_time_limit`], else [`LimitExceeded::Timeout`], the
    /// instance dropped). The component's stderr lines are logged as
    /// warnings, also when the deadline cut the call off.
    async fn with_instance<T>(
        &self,
        settings: &Settings,
        call: impl AsyncFnOnce(&mut Store<State>, &CaHandler) -> wasmtime::Result<T>,
    ) -> Result<T> {
        let _permit = self.instance_permit()?;
        let (mut store, stderr) = self.store(settings);
        let after = self.call_time_limit(settings);
        let result = limits::run_with_deadline(&mut store, after, async |store| {
            let instance = self.pre.instantiate_async(&mut *store).await?;
            call(store, &instance).await
        })
        .await;
        drop(store);
        state::log_stderr(&stderr);
        result.map_err(|e| match e.downcast_ref::<LimitExceeded>() {
            Some(limit) => {
                tracing::warn!("{limit}");
                e
            }
            None => e.context("the component failed"),
        })
    }

    /// The largest linear memory any instance of this host has had, in bytes.
    pub fn peak_linear_memory(&self) -> usize {
        self.peak_memory.load(Ordering::Relaxed)
    }

    /// Instantiates the component in a fresh store and drops it: what every
    /// call pays before its own work (measured as the serverless cold start).
    pub async fn instantiate(&self, settings: &Settings) -> Result<()> {
        self.with_instance(settings, async |_, _| Ok(())).await
    }

    /// The engine the component was compiled with (epoch interruption on,
    /// its epoch advanced every [`limits::EPOCH_TICK`]): for other code run
    /// under the same deadline ([`limits::run_with_deadline`]).
    pub fn engine(&self) -> &Engine {
        self.pre.engine()
    }

    /// Whether the component serves the HTTP API (`wasi:http/incoming-handler`).
    pub fn serves_http(&self) -> bool {
        self.proxy.is_some()
    }

    /// `handler-check`: warnings, or the configuration error.
    pub async fn handler_check(
        &self,
        settings: &Settings,
    ) -> Result<Result<Vec<String>, HandlerError>> {
        self.with_instance(settings, async |store, h| {
            h.acme_ca_handler_handler().call_handler_check(store).await
        })
        .await
    }

    /// `ca-certs`: the CA certificates as PEM.
    pub async fn ca_certs(&self, settings: &Settings) -> Result<Result<Vec<String>, HandlerError>> {
        self.with_instance(settings, async |store, h| {
            h.acme_ca_handler_handler().call_ca_certs(store).await
        })
        .await
    }

    /// `enroll`: a certificate (or a pending answer) for `csr`.
    pub async fn enroll(
        &self,
        settings: &Settings,
        csr: &str,
    ) -> Result<Result<Enrollment, HandlerError>> {
        self.with_instance(settings, async |store, h| {
            h.acme_ca_handler_handler().call_enroll(store, csr).await
        })
        .await
    }

    /// `poll`: asks again about a pending enrollment.
    pub async fn poll(
        &self,
        settings: &Settings,
        cert_name: &str,
        poll_identifier: &str,
        csr: &str,
    ) -> Result<Result<PollResult, HandlerError>> {
        self.with_instance(settings, async |store, h| {
            h.acme_ca_handler_handler()
                .call_poll(store, cert_name, poll_identifier, csr)
                .await
        })
        .await
    }

    /// `revoke`.
    pub async fn revoke(
        &self,
        settings: &Settings,
        cert: &str,
        reason: &str,
        date: &str,
    ) -> Result<Result<(), RevocationError>> {
        self.with_instance(settings, async |store, h| {
            h.acme_ca_handler_handler()
                .call_revoke(store, cert, reason, date)
                .await
        })
        .await
    }

    /// `trigger`.
    pub async fn trigger(
        &self,
        settings: &Settings,
        payload: &str,
    ) -> Result<Result<Certificate, HandlerError>> {
        self.with_instance(settings, async |store, h| {
            h.acme_ca_handler_handler()
                .call_trigger(store, payload)
                .await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_component_is_refused_clearly() {
        let err = Host::new(b"\0asm\x01\0\0\0")
            .err()
            .expect("a core module is not a component");
        assert!(
            format!("{err:#}").contains("not a loadable component"),
            "{err:#}"
        );
    }
}
