//! What one host lets its callers use: how many component instances run
//! at once, how long one call may take, and, for [`Host::serve`], how many
//! connections are open and how long a connection may wait for a request
//! head or sit idle.
//!
//! Every call (the embedded API's and each HTTP request of `serve`) runs
//! under a host-side wall-clock deadline of the settings' `request_timeout`
//! plus [`Limits::grace`] (or [`Limits::max_call_time`], when shorter). Two
//! mechanisms enforce it:
//!
//! - the engine has epoch interruption on, a background thread advances
//!   the epoch every [`EPOCH_TICK`], and every store yields to the executor
//!   at each tick and traps once its deadline has passed, so that a guest
//!   stuck in a compute loop neither holds an executor thread nor runs on;
//! - the whole call (instantiation, the call, and for `serve` the writing of
//!   the answer's body) runs under a `tokio` timeout, which drops the
//!   instance of a guest blocked on I/O (a CA that trickles bytes).
//!
//! A call over either limit fails with a [`LimitExceeded`] error (inside the
//! `anyhow::Error` the [`Host`] methods return; find it with
//! `error.downcast_ref::<LimitExceeded>()`); `serve` answers it with a `503`
//! (`Retry-After`) or `504` problem document.
//!
//! [`Host`]: crate::Host
//! [`Host::serve`]: crate::Host::serve

use std::fmt;
use std::time::{Duration, Instant};
use wasmtime::{Engine, EngineWeak, Store, UpdateDeadline};

/// How often the epoch advances: the granularity of the host-side deadline
/// for a guest that computes, and how often such a guest yields.
pub const EPOCH_TICK: Duration = Duration::from_millis(100);

/// Default [`Limits::max_instances`].
pub const DEFAULT_MAX_INSTANCES: usize = 128;
/// Default [`Limits::grace`].
pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);
/// Default [`Limits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default [`Limits::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`Limits::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default [`Limits::body_timeout`].
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`Limits::max_metrics_connections`].
pub const DEFAULT_MAX_METRICS_CONNECTIONS: usize = 16;
/// File descriptors kept for what is neither a connection nor an outgoing
/// EST connection: the listeners, standard streams, the trust anchors and
/// files the host reads, the engine's own.
pub const FD_RESERVE: usize = 64;
/// The `Retry-After` (seconds) of `serve`'s `503` answers when it is full.
pub const RETRY_AFTER_SECS: u32 = 1;

/// The limits of one [`Host`] (see [`Host::with_limits`]); the defaults
/// suit a host that serves one CA's enrollments from a small machine.
///
/// [`Host`]: crate::Host
/// [`Host::with_limits`]: crate::Host::with_limits
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The most component instances alive at once, over every call of the
    /// host and its clones (embedded calls and `serve`'s requests alike).
    /// A call over the cap is refused at once ([`LimitExceeded::Busy`];
    /// `serve`: `503` with `Retry-After`), never queued. Default 128: an
    /// instance spends nearly all its time waiting on the EST server, so
    /// the cap bounds memory (an instance uses about a megabyte, at most
    /// [`crate::MAX_INSTANCE_MEMORY`] of linear memory) and connections to
    /// the CA rather than CPU; 128 is twice the benchmark's highest
    /// concurrency.
    pub max_instances: usize,
    /// How long a call may run past the settings' `request_timeout` (the
    /// component's own deadline for the EST server) before the host drops
    /// its instance. Default 2 s.
    pub grace: Duration,
    /// A fixed bound on every call, whatever `request_timeout` says: the
    /// host-side deadline is the shorter of this and `request_timeout` +
    /// [`Limits::grace`]. Default none.
    pub max_call_time: Option<Duration>,
    /// `serve`: the most connections open at once. One more gets a `503`
    /// problem document with `Retry-After` and is closed (or is closed at
    /// once when even that cannot be afforded). Default 1024.
    pub max_connections: usize,
    /// `serve`: how long a client may take to send a complete request head,
    /// counted from the connection's start for its first request and from
    /// the request's first byte for later ones (slowloris). Default 10 s.
    pub header_timeout: Duration,
    /// `serve`: how long a kept-alive connection may wait for its next
    /// request, or sit with nothing moving once its answer is written.
    /// Default 60 s.
    pub idle_timeout: Duration,
    /// `serve`: how long a request's body may take to arrive, counted from
    /// the end of its head. A body not complete by then ends the request
    /// with a `408` problem document (the connection is closed) and frees
    /// its instance. Default 10 s (a body is at most 64 KiB).
    pub body_timeout: Duration,
    /// `serve_metrics`: the most connections open at once to the metrics
    /// listener (it has the same header and idle timeouts as the API's).
    /// One more gets a `503` and is closed. Default 16: a scraper needs one.
    pub max_metrics_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_instances: DEFAULT_MAX_INSTANCES,
            grace: DEFAULT_GRACE,
            max_call_time: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_metrics_connections: DEFAULT_MAX_METRICS_CONNECTIONS,
        }
    }
}

/// How many connections over a cap may be getting their `503` at once
/// (each holds a file descriptor for up to 2 s); past that, they are
/// closed without an answer.
pub const REFUSALS_AT_ONCE: usize = 64;

impl Limits {
    /// The file descriptors `serve` may hold at once with these limits:
    /// every API connection, the metrics listener's when `metrics` (each
    /// with [`REFUSALS_AT_ONCE`] being refused over its cap), one outgoing
    /// EST connection per instance, and [`FD_RESERVE`].
    pub fn file_descriptors(&self, metrics: bool) -> usize {
        let metrics = if metrics {
            self.max_metrics_connections + REFUSALS_AT_ONCE
        } else {
            0
        };
        self.max_connections + REFUSALS_AT_ONCE + metrics + self.max_instances + FD_RESERVE
    }

    /// Whether these limits fit in `available` file descriptors (the soft
    /// `RLIMIT_NOFILE`); the error names each part of the budget.
    pub fn fit_file_descriptors(&self, metrics: bool, available: u64) -> Result<(), String> {
        let needed = self.file_descriptors(metrics);
        if needed as u64 <= available {
            return Ok(());
        }
        let metrics_part = if metrics {
            format!(
                " + {} metrics connections + {REFUSALS_AT_ONCE} being refused",
                self.max_metrics_connections
            )
        } else {
            String::new()
        };
        Err(format!(
            "the limits need {needed} file descriptors but the process may open {available} (RLIMIT_NOFILE): {} connections + {REFUSALS_AT_ONCE} being refused{metrics_part} + {} instances' EST connections + {FD_RESERVE} reserved; lower --max-connections or --max-instances, or raise the limit (ulimit -n)",
            self.max_connections, self.max_instances
        ))
    }

    /// The most API connections that fit in `available` file descriptors
    /// with the rest of these limits, if any do.
    pub fn connections_that_fit(&self, metrics: bool, available: u64) -> Option<usize> {
        let others = self.file_descriptors(metrics) - self.max_connections;
        let room = usize::try_from(available).unwrap_or(usize::MAX);
        room.checked_sub(others).filter(|n| *n > 0)
    }
}

/// A call that the host's [`Limits`] stopped or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitExceeded {
    /// [`Limits::max_instances`] instances were already running: the call
    /// was refused without starting; try again shortly.
    Busy {
        /// The cap.
        max_instances: usize,
    },
    /// The component did not finish within the host-side deadline; its
    /// instance was dropped.
    Timeout {
        /// The deadline, from the call's start.
        after: Duration,
    },
    /// `serve`: the request's body did not arrive within
    /// [`Limits::body_timeout`]; its instance was dropped.
    BodyTimeout {
        /// The body timeout.
        after: Duration,
    },
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Busy { max_instances } => write!(
                f,
                "too many calls in progress (the host runs at most {max_instances} component instances at once); try again shortly"
            ),
            Self::Timeout { after } => write!(
                f,
                "the component did not finish within {} (request_timeout plus the host's grace); its instance was dropped",
                seconds(*after)
            ),
            Self::BodyTimeout { after } => write!(
                f,
                "the request body did not arrive within {} (the body timeout); the request was ended",
                seconds(*after)
            ),
        }
    }
}

impl std::error::Error for LimitExceeded {}

/// `2 s`, `2.5 s`.
pub(crate) fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{secs:.0} s")
    } else {
        format!("{secs:.1} s")
    }
}

/// Turns epoch interruption on in an engine configuration (before the
/// engine is built; [`start_ticker`] then drives it).
pub(crate) fn configure(config: &mut wasmtime::Config) {
    config.epoch_interruption(true);
}

/// Advances `engine`'s epoch every [`EPOCH_TICK`] on a thread of its own,
/// until the engine is dropped.
pub(crate) fn start_ticker(engine: &Engine) {
    let weak: EngineWeak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(
            "cannot start the epoch ticker: guests that compute forever are stopped only at their next I/O ({e})"
        );
    }
}

/// Makes `store` yield to the executor at every epoch tick and trap with
/// [`LimitExceeded::Timeout`] once `deadline` has passed. Every store of an
/// engine with epoch interruption needs this (or its own epoch deadline),
/// else it traps at the first tick.
pub fn arm_deadline<T>(store: &mut Store<T>, deadline: Instant, after: Duration) {
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Err(wasmtime::Error::new(LimitExceeded::Timeout { after }))
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
}

/// Runs `call` under the host-side deadline `after` (counted from now),
/// with `store` armed by [`arm_deadline`]: the result, or
/// [`LimitExceeded::Timeout`] when the deadline passed first (the future,
/// and with it the guest's work, is dropped) or the guest trapped on it.
pub async fn run_with_deadline<T, R>(
    store: &mut Store<T>,
    after: Duration,
    call: impl AsyncFnOnce(&mut Store<T>) -> wasmtime::Result<R>,
) -> anyhow::Result<R> {
    let deadline = Instant::now() + after;
    arm_deadline(store, deadline, after);
    match tokio::time::timeout(after, call(store)).await {
        Err(_) => Err(LimitExceeded::Timeout { after }.into()),
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(limit_or(e)),
    }
}

/// The [`LimitExceeded`] a wasmtime error carries (a trap at the epoch
/// deadline), or the error itself.
pub(crate) fn limit_or(e: wasmtime::Error) -> anyhow::Error {
    match e.downcast_ref::<LimitExceeded>() {
        Some(limit) => (*limit).into(),
        None => anyhow::Error::from(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_say_what_happened() {
        let busy = LimitExceeded::Busy { max_instances: 3 }.to_string();
        assert!(busy.starts_with("too many calls in progress"), "{busy}");
        assert!(busy.contains("at most 3"), "{busy}");
        let late = LimitExceeded::Timeout {
            after: Duration::from_millis(22_000),
        }
        .to_string();
        assert!(late.contains("did not finish within 22 s"), "{late}");
        assert_eq!(seconds(Duration::from_millis(2500)), "2.5 s");
        let slow = LimitExceeded::BodyTimeout {
            after: Duration::from_secs(10),
        }
        .to_string();
        assert!(slow.contains("did not arrive within 10 s"), "{slow}");
    }

    #[test]
    fn the_file_descriptor_budget_counts_both_listeners_and_names_its_parts() {
        let limits = Limits::default();
        let api_only = limits.file_descriptors(false);
        assert_eq!(
            api_only,
            DEFAULT_MAX_CONNECTIONS + REFUSALS_AT_ONCE + DEFAULT_MAX_INSTANCES + FD_RESERVE
        );
        assert_eq!(
            limits.file_descriptors(true),
            api_only + DEFAULT_MAX_METRICS_CONNECTIONS + REFUSALS_AT_ONCE
        );
        assert!(limits.fit_file_descriptors(true, 1 << 20).is_ok());
        let needed = limits.file_descriptors(true) as u64;
        assert!(limits.fit_file_descriptors(true, needed).is_ok());
        let why = limits.fit_file_descriptors(true, 1024).unwrap_err();
        for part in [
            format!("need {needed} file descriptors"),
            "may open 1024".to_owned(),
            "1024 connections".to_owned(),
            "16 metrics connections".to_owned(),
            "128 instances".to_owned(),
        ] {
            assert!(why.contains(&part), "{part:?} not in {why}");
        }
        // What fits instead: the rest of the budget, or nothing.
        let fit = limits.connections_that_fit(true, 1024).unwrap();
        assert_eq!(
            Limits {
                max_connections: fit,
                ..limits.clone()
            }
            .file_descriptors(true),
            1024
        );
        assert_eq!(limits.connections_that_fit(true, 100), None);
    }
}
