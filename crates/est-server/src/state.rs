//! What a running server shares among its connections ([`State`]: the CA,
//! the credentials, the fault knobs, the request log) and what it knows
//! about one connection ([`Peer`]).

use crate::ca::Ca;
use crate::config::{AuthMode, Faults, RequestRecord};
use crate::conn::ConnControl;
use hyper::body::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the server knows about a connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Peer {
    pub(crate) had_client_cert: bool,
    pub(crate) tls_version: Option<String>,
    pub(crate) connection: u64,
    pub(crate) control: Arc<ConnControl>,
}

/// The shared state of one server.
pub(crate) struct State {
    pub(crate) ca: Ca,
    /// The canonical `/cacerts` answer (DER), built once: the CA does not change.
    pub(crate) cacerts: Bytes,
    pub(crate) extra_cert: Vec<u8>,
    pub(crate) auth: AuthMode,
    pub(crate) basic: String,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) pending: Mutex<HashMap<Vec<u8>, u32>>,
    pub(crate) log: Mutex<Vec<RequestRecord>>,
}

/// The guarded value, also after a panic elsewhere.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
