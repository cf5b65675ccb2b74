//! A connection's timeouts as a small state machine ([`Watch`]): waiting
//! for a request head ([`Limits::header_timeout`]), idle between requests
//! ([`Limits::idle_timeout`]), or with a request in flight ([`InFlight`],
//! no timeout but the request's own deadline).

use crate::limits::Limits;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// What one connection is doing, for its timeouts: a request in the
/// component (no timeout but the request's own deadline), waiting for a
/// request head ([`Limits::header_timeout`]), or idle
/// ([`Limits::idle_timeout`]).
pub(super) struct Watch {
    header_timeout: Duration,
    idle_timeout: Duration,
    state: Mutex<WatchState>,
    /// Woken when the deadline may have moved earlier.
    changed: Notify,
}

struct WatchState {
    /// Requests whose answers are not yet wholly handed to hyper.
    in_flight: usize,
    phase: Phase,
    /// When the phase began.
    since: Instant,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the connection's first request head (since accepting it).
    FirstHead,
    /// An answer is done and no byte of the next request has come.
    Idle,
    /// Bytes of the next request head have come, not yet all of it.
    Head,
}

impl Watch {
    pub(super) fn new(limits: &Limits) -> Self {
        Self {
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
            state: Mutex::new(WatchState {
                in_flight: 0,
                phase: Phase::FirstHead,
                since: Instant::now(),
            }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The client sent bytes.
    pub(super) fn read(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.phase == Phase::Idle {
            state.phase = Phase::Head;
            state.since = Instant::now();
            drop(state);
            self.changed.notify_one();
        }
    }

    /// Bytes went out to the client (the end of an answer).
    pub(super) fn wrote(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.phase == Phase::Idle {
            state.since = Instant::now();
        }
    }

    /// A request head is complete: no timeout until its answer is done.
    pub(super) fn request_started(self: &Arc<Self>) -> InFlight {
        self.state().in_flight += 1;
        InFlight(Arc::clone(self))
    }

    /// When the connection is to be closed, `None` while a request is in
    /// progress.
    fn deadline(&self) -> Option<(Instant, &'static str)> {
        let state = self.state();
        if state.in_flight > 0 {
            return None;
        }
        Some(match state.phase {
            Phase::FirstHead | Phase::Head => (
                state.since + self.header_timeout,
                "no complete request head within the header timeout",
            ),
            Phase::Idle => (
                state.since + self.idle_timeout,
                "idle past the idle timeout",
            ),
        })
    }

    /// Resolves when the connection has overstayed, with the reason.
    pub(super) async fn expired(&self) -> &'static str {
        loop {
            let changed = self.changed.notified();
            match self.deadline() {
                Some((at, why)) if Instant::now() >= at => return why,
                Some((at, _)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }
}

/// A request in progress on a connection; dropped with its answer's body.
pub(super) struct InFlight(Arc<Watch>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight -= 1;
        if state.in_flight == 0 {
            state.phase = Phase::Idle;
            state.since = Instant::now();
        }
        drop(state);
        self.0.changed.notify_one();
    }
}
