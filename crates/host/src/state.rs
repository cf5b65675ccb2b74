//! The store state of one call: the component's WASI context (an
//! environment holding only the variables its settings name, a captured
//! stderr), its `wasi:http` context with the [`crate::outbound`] hooks, its
//! `wasi:config/store` values, and the caps on its memory and tables
//! (recording the largest memory any instance has had).

use crate::bindings::wasi::config0_2_0_draft_2024_09_27::store;
use crate::outbound::OutboundHooks;
use crate::settings::Settings;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The most linear memory one instance may have (the handler needs well
/// under 1 MiB; this only stops a runaway component).
pub const MAX_INSTANCE_MEMORY: usize = 64 * 1024 * 1024;

/// The most elements one instance's tables may have.
pub const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The largest amount of stderr output kept from one call.
pub const STDERR_LIMIT: usize = 64 * 1024;

/// Caps an instance's memory and tables, and records the largest memory
/// seen in a counter shared by every call of a host.
struct InstanceLimits {
    peak_memory: Arc<AtomicUsize>,
}

impl wasmtime::ResourceLimiter for InstanceLimits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_INSTANCE_MEMORY {
            return Ok(false);
        }
        self.peak_memory.fetch_max(desired, Ordering::Relaxed);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// The store data of one call.
pub struct State {
    limits: InstanceLimits,
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    outbound: OutboundHooks,
    /// What `wasi:config/store` answers: the `[CAhandler]` settings.
    config_values: Arc<BTreeMap<String, String>>,
}

/// A fresh store for one call with `settings`, its memory counted into
/// `peak_memory`, and the pipe that captures the component's stderr.
pub(crate) fn new_store(
    engine: &Engine,
    settings: &Settings,
    peak_memory: &Arc<AtomicUsize>,
    metrics: &crate::metrics::Metrics,
) -> (Store<State>, MemoryOutputPipe) {
    let stderr = MemoryOutputPipe::new(STDERR_LIMIT);
    let mut wasi = WasiCtx::builder();
    wasi.stderr(stderr.clone());
    for (name, value) in &settings.env_vars {
        wasi.env(name, value);
    }
    let state = State {
        limits: InstanceLimits {
            peak_memory: Arc::clone(peak_memory),
        },
        table: ResourceTable::new(),
        wasi: wasi.build(),
        http: WasiHttpCtx::new(),
        outbound: OutboundHooks {
            outbound: Arc::clone(&settings.outbound),
            metrics: metrics.clone(),
        },
        config_values: Arc::clone(&settings.config_values),
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limits);
    (store, stderr)
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

impl State {
    /// What `wasi:config/store` `get` answers, in either version.
    fn config_value(&self, key: &str) -> Option<String> {
        self.config_values.get(key).cloned()
    }

    /// What `wasi:config/store` `get-all` answers, in either version.
    fn config_pairs(&self) -> Vec<(String, String)> {
        self.config_values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl store::Host for State {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, store::Error>> {
        Ok(Ok(self.config_value(&key)))
    }

    fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, store::Error>> {
        Ok(Ok(self.config_pairs()))
    }
}

/// The same values under `wasi:config@0.2.0-rc.1` (the wasmtime CLI's version).
impl crate::bindings::config_rc1::store::Host for State {
    fn get(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<Option<String>, crate::bindings::config_rc1::store::Error>> {
        Ok(Ok(self.config_value(&key)))
    }

    fn get_all(
        &mut self,
    ) -> wasmtime::Result<Result<Vec<(String, String)>, crate::bindings::config_rc1::store::Error>>
    {
        Ok(Ok(self.config_pairs()))
    }
}

/// Logs what the component wrote to stderr (its warnings), line by line.
pub(crate) fn log_stderr(stderr: &MemoryOutputPipe) {
    for line in stderr_lines(&stderr.contents()) {
        tracing::warn!(target: "component", "{line}");
    }
}

/// The non-blank lines of captured stderr output.
fn stderr_lines(output: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(output)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn memory_and_tables_are_capped_and_the_peak_is_kept() {
        let peak = Arc::new(AtomicUsize::new(0));
        let mut limits = InstanceLimits {
            peak_memory: Arc::clone(&peak),
        };
        assert!(limits.memory_growing(0, 2 << 20, None).unwrap());
        assert!(limits.memory_growing(2 << 20, 1 << 20, None).unwrap());
        assert!(
            !limits
                .memory_growing(0, MAX_INSTANCE_MEMORY + 1, None)
                .unwrap()
        );
        assert_eq!(
            peak.load(Ordering::Relaxed),
            2 << 20,
            "refused growth is not counted"
        );
        assert!(limits.table_growing(0, MAX_TABLE_ELEMENTS, None).unwrap());
        assert!(
            !limits
                .table_growing(0, MAX_TABLE_ELEMENTS + 1, None)
                .unwrap()
        );
    }

    #[test]
    fn blank_stderr_lines_are_not_logged() {
        assert_eq!(
            stderr_lines(b"warning: one\n\n  \nwarning: two\n"),
            ["warning: one", "warning: two"]
        );
    }

    #[test]
    fn the_config_store_answers_the_settings() {
        let settings =
            Settings::from_pairs([("est_host", "https://est.test"), ("est_user", "u")]).unwrap();
        let engine = Engine::default();
        let (mut store, _) = new_store(&engine, &settings, &Arc::default(), &Default::default());
        let state = store.data_mut();
        let user = store::Host::get(state, "est_user".into()).unwrap().unwrap();
        assert_eq!(user.as_deref(), Some("u"));
        let password = store::Host::get(state, "est_password".into())
            .unwrap()
            .unwrap();
        assert_eq!(password, None);
        let all = store::Host::get_all(state).unwrap().unwrap();
        assert_eq!(all.len(), 2, "{all:?}");
    }
}
