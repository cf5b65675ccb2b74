//! What one process shares among all its `Handler`s: the tokio runtime, the
//! compiled component (a [`Host`]) and the TLS material of each
//! configuration ([`Settings`]).
//!
//! A child made by `os.fork()` (gunicorn's or uwsgi's preloading) inherits
//! the parent's memory but none of its threads: neither the runtime's
//! workers nor the thread that advances the engine's epoch (the host-side
//! deadline) exist there, and the parent's pooled TLS connections are the
//! parent's. So the state is tagged with the id of the process that built
//! it, and a process that finds another process's state builds its own and
//! leaves the inherited one alone: it is never used, nor dropped (dropping
//! a runtime joins worker threads that the child does not have).
//!
//! The state is published through an atomic pointer, not a lock: a lock
//! held by another thread of the parent at the moment of the fork would
//! stay locked in the child for ever.

use anyhow::{Context, Result};
use est_ca_host::{Host, Settings};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The most configurations whose settings one process keeps; past it the
/// cache starts afresh (a configuration whose files keep changing adds an
/// entry each time).
const MAX_CACHED_SETTINGS: usize = 64;

/// The keys whose values name files the host reads into its TLS set-up:
/// their size and modification time are part of a configuration's
/// identity, so that a renewed client certificate or trust bundle is
/// read again.
const FILE_KEYS: &[&str] = &["est_client_cert", "est_client_key", "ca_bundle"];

/// One process's runtime, host and settings.
pub struct Process {
    /// The process that built this state.
    pid: u32,
    /// Drives every call: a Python thread runs its call within it
    /// (`block_on`), with the GIL released.
    pub runtime: tokio::runtime::Runtime,
    /// The compiled, pre-instantiated component, with the host's limits.
    pub host: Host,
    /// Each configuration's settings (its TLS material and connection
    /// pool), built once.
    settings: Mutex<HashMap<Key, Arc<Settings>>>,
}

/// The state of this process, if it has been built.
static CURRENT: AtomicPtr<Process> = AtomicPtr::new(std::ptr::null_mut());

/// The process that is building its state now (0: none).
static BUILDER: AtomicU32 = AtomicU32::new(0);

/// How many states this process (and, before a fork, its parent) built.
static STATES_BUILT: AtomicU32 = AtomicU32::new(0);

/// How many configurations' settings this process (and, before a fork,
/// its parent) built.
static SETTINGS_BUILT: AtomicU32 = AtomicU32::new(0);

/// (states built, settings built): for the tests that check that a
/// `Handler` per operation builds nothing and that a forked child builds
/// its own state.
pub fn builds() -> (u32, u32) {
    (
        STATES_BUILT.load(Ordering::Relaxed),
        SETTINGS_BUILT.load(Ordering::Relaxed),
    )
}

/// The id of the process whose state is in use (`None` before the first
/// `Handler`): for the tests that check that a forked child builds its own.
#[allow(
    unsafe_code,
    reason = "reads the state through the atomic pointer it is published by"
)]
pub fn built_by() -> Option<u32> {
    let current = CURRENT.load(Ordering::Acquire);
    // SAFETY: a published state is leaked, so it lives for ever.
    (!current.is_null()).then(|| unsafe { (*current).pid })
}

/// This process's state, built on first use and again in a forked child.
/// Call it without the GIL: building compiles the component (or loads it
/// from wasmtime's disk cache).
#[allow(
    unsafe_code,
    reason = "reads the state through the atomic pointer it is published by"
)]
pub fn current() -> Result<&'static Process> {
    let pid = std::process::id();
    loop {
        let published = CURRENT.load(Ordering::Acquire);
        // SAFETY: a published state is leaked, so it lives for ever.
        if let Some(process) = unsafe { published.as_ref() }
            && process.pid == pid
        {
            return Ok(process);
        }
        // One thread builds; the others of this process wait for it. The
        // builder mark of a parent that forked while building is another
        // pid, and is taken over.
        let builder = BUILDER.load(Ordering::Acquire);
        if builder != pid
            && BUILDER
                .compare_exchange(builder, pid, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            let _done = ClearBuilder;
            let process = Box::new(Process::new(pid)?);
            // The inherited state, if any, is left as it is (see the module's doc).
            let leaked: &'static Process = Box::leak(process);
            CURRENT.store(std::ptr::from_ref(leaked).cast_mut(), Ordering::Release);
            return Ok(leaked);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Clears [`BUILDER`] when the build ends, also by an error.
struct ClearBuilder;

impl Drop for ClearBuilder {
    fn drop(&mut self) {
        BUILDER.store(0, Ordering::Release);
    }
}

impl Process {
    fn new(pid: u32) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("est-ca-handler")
            .build()
            .context("cannot start the runtime")?;
        let host = Host::new_cached(est_ca_host::COMPONENT).context("cannot load the component")?;
        STATES_BUILT.fetch_add(1, Ordering::Relaxed);
        Ok(Self {
            pid,
            runtime,
            host,
            settings: Mutex::new(HashMap::new()),
        })
    }

    /// The settings for `pairs`, built once per configuration: the same
    /// keys and values, the same values of the environment variables the
    /// `*_variable` keys name, and the same files.
    pub fn settings(&self, pairs: &[(String, String)]) -> Result<Arc<Settings>> {
        let key = Key::of(pairs);
        if let Some(settings) = self.cache().get(&key) {
            return Ok(settings.clone());
        }
        // Outside the lock: reading TLS material takes a while. (Two
        // threads may both build the same settings the first time; one wins.)
        let settings = {
            let _runtime = self.runtime.enter();
            Arc::new(Settings::from_pairs(pairs.iter().cloned())?)
        };
        SETTINGS_BUILT.fetch_add(1, Ordering::Relaxed);
        let mut cache = self.cache();
        if cache.len() >= MAX_CACHED_SETTINGS {
            cache.clear();
        }
        Ok(cache.entry(key).or_insert(settings).clone())
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<Settings>>> {
        // A panic while the lock was held leaves a map that is still whole.
        self.settings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What makes two configurations the same.
#[derive(PartialEq, Eq, Hash)]
struct Key {
    /// The pairs, keys in lower case (as [`Settings`] reads them), sorted.
    pairs: Vec<(String, String)>,
    /// The values of the variables that `*_variable` keys name.
    env: Vec<Option<String>>,
    /// Size and modification time of the files [`FILE_KEYS`] name.
    files: Vec<Option<(u64, Option<SystemTime>)>>,
}

impl Key {
    fn of(pairs: &[(String, String)]) -> Self {
        let mut pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        pairs.sort();
        let env = pairs
            .iter()
            .filter(|(k, _)| k.ends_with("_variable"))
            .map(|(_, name)| std::env::var(name.trim()).ok())
            .collect();
        let files = pairs
            .iter()
            .filter(|(k, _)| FILE_KEYS.contains(&k.as_str()))
            .map(|(_, path)| {
                let meta = std::fs::metadata(path.trim()).ok()?;
                Some((meta.len(), meta.modified().ok()))
            })
            .collect();
        Self { pairs, env, files }
    }
}
