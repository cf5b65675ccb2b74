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
//! `wasi:http` hook), [`client`] (pooled connections), [`proxy`]
//! (`proxy_server_list` and the `CONNECT` tunnel), [`tls`] (the whole
//! TLS policy), [`pem`] (splitting PEM certificates), [`report`] (what a
//! person reads: certificate summaries, chain checks, explained errors),
//! [`serve`] (the HTTP API), [`limits`] (instances, deadlines and
//! connections: what one host lets its callers use) and, with the cargo
//! feature `demo` (on by default), `demo` (`ca-handler demo`).

#![warn(missing_docs)]

pub mod bindings;
pub mod client;
#[cfg(feature = "demo")]
pub mod demo;
pub mod files;
pub mod limits;
pub mod metrics;
pub mod outbound;
pub mod pem;
pub mod proxy;
pub mod report;
pub mod request_id;
pub mod serve;
pub mod settings;
pub mod state;
pub mod tls;

pub use bindings::{
    Certificate, Enrollment, HandlerError, HttpFailure, Pending, PollResult, RevocationError,
    TransportCause, TransportFailure,
};
pub use est_ca_handler::api::ProblemKind;
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
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config as EngineConfig, Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// The est-ca-handler component built with this crate (release, wasm32-wasip2).
pub const COMPONENT: &[u8] = include_bytes!(env!("EST_CA_HANDLER_WASM"));

/// Where the build script left the same component built for `wasmtime
/// serve` (cargo feature `wasmtime-serve`: `wasi:config@0.2.0-rc.1`), on
/// the machine that built this crate; this host loads it too. For tests
/// and benchmarks that run it under both hosts.
pub const WASMTIME_SERVE_COMPONENT_PATH: &str = env!("EST_CA_HANDLER_WASMTIME_SERVE_WASM");

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
    /// What this host (and its clones) has done.
    metrics: metrics::Metrics,
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

    /// Compiles `component` and links it against the host's WASI, with
    /// [`engine_config`] for the default [`Limits::max_instances`].
    pub fn new(component: &[u8]) -> Result<Self> {
        Self::with_engine_config(component, engine_config(limits::DEFAULT_MAX_INSTANCES))
    }

    /// Like [`Host::new`], but keeps compiled code in wasmtime's on-disk
    /// cache (its default location, `~/.cache/wasmtime`), so that later
    /// processes loading the same component start without compiling it.
    /// Without a usable cache directory it compiles as usual.
    pub fn new_cached(component: &[u8]) -> Result<Self> {
        let mut config = engine_config(limits::DEFAULT_MAX_INSTANCES);
        use_disk_cache(&mut config);
        Self::with_engine_config(component, config)
    }

    /// Like [`Host::new`], with the caller's engine configuration (a
    /// profiler, a compilation cache, an instance allocator, ...). Epoch
    /// interruption is turned on in it (the host-side deadline of
    /// [`limits`]), and a thread advances the engine's epoch while the
    /// engine lives. The host has the default [`Limits`]; see
    /// [`Host::with_limits`].
    pub fn with_engine_config(component: &[u8], config: EngineConfig) -> Result<Self> {
        let engine = engine(config)?;
        let component = Component::new(&engine, component)
            .map_err(anyhow::Error::from)
            .context("not a loadable component")?;
        Self::link(component)
    }

    /// Compiles `component` ahead of time into wasmtime's precompiled
    /// component format, for [`Host::from_precompiled_file`] (`ca-handler
    /// compile`). The artifact holds native code for this machine's CPU and
    /// loads only into a host of the same wasmtime version and engine
    /// settings ([`Host::from_precompiled_file`] says when it does not).
    pub fn precompile(component: &[u8]) -> Result<Vec<u8>> {
        let engine = Engine::new(&base_config(EngineConfig::new())).map_err(anyhow::Error::from)?;
        engine
            .precompile_component(component)
            .map_err(anyhow::Error::from)
            .context("not a compilable component")
    }

    /// Whether `path` holds a precompiled artifact (from
    /// [`Host::precompile`], an ELF file) rather than a `.wasm`; whether
    /// the artifact is sound is for [`Host::from_precompiled_file`] to tell.
    pub fn is_precompiled(path: &Path) -> Result<bool> {
        use std::io::Read;
        let mut magic = [0u8; 4];
        let mut file =
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let read = file
            .read(&mut magic)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Ok(read == magic.len() && magic == *b"\x7fELF")
    }

    /// Loads a component that [`Host::precompile`] compiled, without
    /// compiling anything: the file is mapped into memory and its code runs
    /// as it is. Like [`Host::with_engine_config`] for `config`.
    ///
    /// # Safety
    ///
    /// The file must be one that [`Host::precompile`] (or `ca-handler
    /// compile`) wrote and that nobody has changed since: wasmtime checks
    /// its version and settings, not its code, which it trusts to be the
    /// compiled component and runs as native code of this process.
    #[allow(
        unsafe_code,
        reason = "wasmtime's deserialize_file runs the file as native code"
    )]
    pub unsafe fn from_precompiled_file(path: &Path, config: EngineConfig) -> Result<Self> {
        let engine = engine(config)?;
        // SAFETY: the caller vouches for the file (this function's contract).
        let component = unsafe { Component::deserialize_file(&engine, path) }
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "{} cannot be loaded; compile it again with `ca-handler compile` (an artifact \
                     loads only into the ca-handler build that wrote it, on a CPU like the one \
                     it was compiled on)",
                    path.display()
                )
            })?;
        Self::link(component)
    }

    /// Links a compiled `component` against the host's WASI and
    /// pre-instantiates it.
    fn link(component: Component) -> Result<Self> {
        let engine = component.engine();
        let mut linker = Linker::<State>::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        outbound::link_http_error_code(&mut linker)?;
        store::add_to_linker::<State, HasSelf<State>>(&mut linker, |state| state)?;
        bindings::config_rc1::store::add_to_linker::<State, HasSelf<State>>(
            &mut linker,
            |state| state,
        )?;
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
            metrics: metrics::Metrics::new(),
        })
    }

    /// A fresh store for one call, with `settings`, and its stderr.
    fn store(&self, settings: &Settings) -> (Store<State>, MemoryOutputPipe) {
        state::new_store(
            self.pre.engine(),
            settings,
            &self.peak_memory,
            &self.metrics,
        )
    }

    /// Runs `call` in a fresh instance, within the host's [`Limits`]: a
    /// place among [`Limits::max_instances`] (else
    /// [`LimitExceeded::Busy`] at once) and the host-side deadline
    /// ([`Host::call_time_limit`], else [`LimitExceeded::Timeout`], the
    /// instance dropped). The component's stderr lines are logged as
    /// warnings, also when the deadline cut the call off.
    async fn with_instance<T: proxy::ThroughProxy>(
        &self,
        settings: &Settings,
        call: impl AsyncFnOnce(&mut Store<State>, &CaHandler) -> wasmtime::Result<T>,
    ) -> Result<T> {
        let _permit = self.instance_permit()?;
        let _counted = self.metrics.instance();
        let (mut store, stderr) = self.store(settings);
        let after = self.call_time_limit(settings);
        let result = limits::run_with_deadline(&mut store, after, async |store| {
            let instance = self.pre.instantiate_async(&mut *store).await?;
            call(store, &instance).await
        })
        .await;
        drop(store);
        state::log_stderr(&stderr);
        let result = match settings.proxy() {
            Some(proxy) => result.map(|outcome| outcome.through_proxy(&proxy)),
            None => result,
        };
        result.map_err(|e| match e.downcast_ref::<LimitExceeded>() {
            Some(limit) => {
                tracing::warn!("{limit}");
                e
            }
            None => e.context("the component failed"),
        })
    }

    /// This host's metrics (shared with its clones), for
    /// [`metrics::Metrics::encode`].
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }

    /// The metrics in the Prometheus text format.
    pub fn encode_metrics(&self) -> String {
        self.metrics.encode(self.peak_linear_memory())
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

/// What callers may use: the host's [`Limits`].
impl Host {
    /// This host with `limits` (a fresh instance counter: the calls of the
    /// host it was made from do not count against it, nor its against
    /// theirs). Keep [`Limits::max_instances`] within the engine's instance
    /// pool ([`crate::engine_config`]; [`Host::new`] and
    /// [`Host::new_cached`] pool [`limits::DEFAULT_MAX_INSTANCES`]): the pool
    /// refuses instances beyond its size, and those calls fail.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.instances = Arc::new(tokio::sync::Semaphore::new(limits.max_instances));
        self.limits = Arc::new(limits);
        self
    }

    /// This host's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The host-side deadline of a call with `settings`: their
    /// `request_timeout` plus [`Limits::grace`], or [`Limits::max_call_time`]
    /// when shorter.
    pub fn call_time_limit(&self, settings: &Settings) -> Duration {
        let limit = settings.request_timeout() + self.limits.grace;
        match self.limits.max_call_time {
            Some(max) => limit.min(max),
            None => limit,
        }
    }

    /// How many component instances are alive now.
    pub fn instances_in_use(&self) -> usize {
        self.limits.max_instances - self.instances.available_permits()
    }

    /// A place for one instance, or [`LimitExceeded::Busy`].
    pub(crate) fn instance_permit(
        &self,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, LimitExceeded> {
        Arc::clone(&self.instances)
            .try_acquire_owned()
            .map_err(|_| {
                self.metrics().refused("instances");
                LimitExceeded::Busy {
                    max_instances: self.limits.max_instances,
                }
            })
    }
}

/// The engine configuration the host's own constructors use: wasmtime's
/// pooling instance allocator ([`pooling_config`]) with room for
/// `max_instances` instances at once. Give a host built with it limits
/// ([`Host::with_limits`]) of at most that many instances: the pool
/// refuses more. (`est-bench --ab-pooling` measures it against wasmtime's
/// default on-demand allocator; BENCHMARKS.md has the figures.)
pub fn engine_config(max_instances: usize) -> EngineConfig {
    let mut config = EngineConfig::new();
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(
        pooling_config(max_instances),
    ));
    config
}

/// The most memory, in bytes, a pooled instance slot keeps resident
/// between instances (see [`pooling_config`]).
pub const KEEP_RESIDENT: usize = 2 * 1024 * 1024;

/// wasmtime's pooling instance allocator sized for CA-handler components
/// and for `max_instances` of them alive at once (the host's
/// [`Limits::max_instances`]): instance slots, linear memories of at most
/// [`MAX_INSTANCE_MEMORY`] and fiber stacks are reserved once and reused,
/// memories reset from their copy-on-write image, instead of being mapped
/// and unmapped for every call. A component built with `wit-component`
/// has a handful of core instances, one memory and a few tables. The pool
/// reserves its address space up front (about 4 GiB per slot, so that
/// guest code needs no bounds checks), committing memory only as
/// instances use it.
pub fn pooling_config(max_instances: usize) -> wasmtime::PoolingAllocationConfig {
    let slots = u32::try_from(max_instances.max(1)).unwrap_or(u32::MAX);
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_component_instances(slots)
        .max_core_instances_per_component(16)
        .total_core_instances(slots.saturating_mul(16))
        .max_memories_per_component(1)
        .total_memories(slots)
        .max_tables_per_component(8)
        .total_tables(slots.saturating_mul(8))
        .total_stacks(slots)
        .max_memory_size(MAX_INSTANCE_MEMORY);
    // Where the kernel tells which pages an instance wrote (PAGEMAP_SCAN,
    // Linux 6.7+), a slot's memory is reset by rewriting just those pages
    // and stays mapped for the next instance, instead of being decommitted
    // after every call (an madvise, with a TLB shootdown on every core) and
    // faulted in again page by page. At most KEEP_RESIDENT bytes a slot
    // stay resident that way; only pages instances wrote count.
    if wasmtime::PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.pagemap_scan(wasmtime::Enabled::Yes)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT);
    }
    pool
}

/// Keeps compiled code in wasmtime's on-disk cache (its default location,
/// `~/.cache/wasmtime`) under `config`; without a usable cache directory,
/// `config` is left as it is and components are compiled as usual.
pub fn use_disk_cache(config: &mut EngineConfig) {
    match wasmtime::Cache::from_file(None) {
        Ok(cache) => {
            config.cache(Some(cache));
        }
        Err(e) => tracing::debug!("no compilation cache: {e}"),
    }
}

/// `config` with what every host engine needs, whatever the caller set:
/// epoch interruption for the host-side deadline ([`limits`]). A
/// precompiled artifact loads only into an engine configured like the one
/// that compiled it, so [`Host::precompile`] uses this too.
fn base_config(mut config: EngineConfig) -> EngineConfig {
    limits::configure(&mut config);
    config
}

/// An engine from `config` (after [`base_config`]), its epoch advanced by a
/// thread of its own while it lives.
///
/// The pooling allocator ([`engine_config`]) reserves address space for
/// its whole pool up front (about 4 GiB per instance slot, none of it
/// memory until used); where the process may not reserve that much (a
/// `ulimit -v`, valgrind, some sandboxes) the engine is made with
/// wasmtime's on-demand allocator instead, and a warning says why.
fn engine(config: EngineConfig) -> Result<Engine> {
    let engine = match Engine::new(&base_config(config.clone())) {
        Ok(engine) => engine,
        Err(refused) => {
            let mut on_demand = config;
            on_demand.allocation_strategy(wasmtime::InstanceAllocationStrategy::OnDemand);
            match Engine::new(&base_config(on_demand)) {
                Ok(engine) => {
                    tracing::warn!(
                        "the instance pool could not be set up ({refused:#}); instances are allocated on demand instead"
                    );
                    engine
                }
                Err(_) => return Err(anyhow::Error::from(refused)),
            }
        }
    };
    limits::start_ticker(&engine);
    Ok(engine)
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
