//! A chosen proxy: where it is, how it is asked for a tunnel, and its
//! credentials, which it never shows.

use hyper::Uri;
use std::fmt;

/// A proxy that tunnels connections: an `http://` one with `CONNECT`, or a
/// SOCKS5 one. It displays as `scheme://host:port`, never with its
/// credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub(super) kind: ProxyKind,
    /// As in the URL (an IPv6 address in brackets).
    pub(super) host: String,
    pub(super) port: u16,
    /// `http://host:port/`, where the TCP connection goes.
    pub(super) uri: Uri,
    /// From the URL's user name and password.
    pub(super) authorization: Option<Credentials>,
}

/// How a [`Proxy`] is asked for a tunnel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum ProxyKind {
    /// HTTP `CONNECT`.
    Http,
    /// SOCKS5 (RFC 1928); `socks5h://` lets the proxy resolve the name,
    /// `socks5://` resolves it here, as PySocks does.
    Socks5 { remote_dns: bool },
}

/// A proxy's credentials.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(super) enum Credentials {
    /// The `Proxy-Authorization` value of an HTTP proxy.
    Basic(Secret),
    /// SOCKS5 user name and password (RFC 1929).
    UserPass(Secret, Secret),
}

/// A value never shown.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Secret(pub(super) String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.kind {
            ProxyKind::Http => "http",
            ProxyKind::Socks5 { remote_dns: false } => "socks5",
            ProxyKind::Socks5 { remote_dns: true } => "socks5h",
        };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("url", &self.to_string())
            .field("credentials", &self.authorization.is_some())
            .finish()
    }
}

impl Proxy {
    /// Whether the proxy URL carried credentials.
    pub fn has_credentials(&self) -> bool {
        self.authorization.is_some()
    }

    /// Where to open the TCP connection.
    pub(super) fn uri(&self) -> Uri {
        self.uri.clone()
    }
}
