//! `proxy_server_list`: which proxy, if any, carries the host's connections
//! to the EST server, chosen as acme2certifier 0.46.3 chooses it, and the
//! tunnel through that proxy ([`ProxyConnector`]): HTTP `CONNECT` for an
//! `http://` proxy, SOCKS5 (hyper-util's client) for `socks5://` and
//! `socks5h://`.
//!
//! The setting is a JSON object mapping a host pattern to a proxy URL, e.g.
//! `{"bar.local$": "socks5://proxy.local:5555", "foo\\..*$":
//! "http://user:pw@proxy.foo.local:8080"}`. As acme2certifier's
//! `proxy_check` does, every `*.` is removed from the patterns, the
//! patterns other than `*` are tried in reverse code-point order, each as an
//! unanchored regular expression searched in the EST server's host name
//! (Python's `re.search`), the first that matches wins, and `*` is the
//! fallback when none matched (or the match named no proxy). A value
//! without `://` is an `http://` proxy, as `requests` reads it.
//!
//! Patterns are compiled by the `regex` crate, whose syntax matches
//! Python's `re` for what host patterns use (literals, `.`, classes,
//! anchors, alternation, repetition); it has no look-around and no
//! back-references (such a pattern is a configuration error here).
//!
//! The proxy is the host's business: the component never sees the setting,
//! and its sandbox still lets it reach `est_host` only. TLS runs end to end
//! through the tunnel, to the EST server's name, with the same trust anchors
//! and client certificate as without a proxy. A proxy's credentials are
//! never shown: [`Proxy`] displays as `scheme://host:port`.

//!
//! The parts: `list` (the setting and which proxy it chooses), `endpoint`
//! (a chosen [`Proxy`] and its credentials), `connector` (the
//! [`ProxyConnector`] the pooled client connects through), `connect` (the
//! HTTP `CONNECT` tunnel), `socks5` (the SOCKS5 one), `error` (what a
//! failed tunnel says, [`ProxyError`]) and `through` ([`ThroughProxy`]:
//! naming the proxy in the component's transport failures).

mod connect;
mod connector;
mod endpoint;
mod error;
mod list;
mod socks5;
mod through;

pub use connect::MAX_CONNECT_ANSWER;
pub use connector::ProxyConnector;
pub use endpoint::Proxy;
pub use error::ProxyError;
pub use list::{KEY, ProxyList, host_of};
pub use through::ThroughProxy;
