//! Naming the proxy in the component's transport failures.

use crate::bindings::{HandlerError, RevocationError};

/// A call's outcome, whose transport failure can say which proxy the
/// connection went through (the component's words for an unreachable
/// proxy are those for an unreachable server: "connection refused").
pub trait ThroughProxy {
    /// Adds "(through the proxy `proxy`)" to a transport failure's detail
    /// that does not name the proxy already.
    fn through_proxy(self, proxy: &str) -> Self;
}

impl<T> ThroughProxy for Result<T, HandlerError> {
    fn through_proxy(mut self, proxy: &str) -> Self {
        if let Err(HandlerError::Transport(failure)) = &mut self
            && !failure.detail.contains(proxy)
        {
            failure
                .detail
                .push_str(&format!(" (through the proxy {proxy})"));
        }
        self
    }
}

impl ThroughProxy for Result<(), RevocationError> {
    fn through_proxy(self, _proxy: &str) -> Self {
        self
    }
}

impl ThroughProxy for () {
    fn through_proxy(self, _proxy: &str) -> Self {}
}
