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

use crate::bindings::{HandlerError, RevocationError};
use base64ct::{Base64, Encoding};
use hyper::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use regex::Regex;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmtime_wasi_http::Error as HttpError;

/// The setting's key, under `[DEFAULT]` of an acme_srv.cfg or beside the
/// `[CAhandler]` keys.
pub const KEY: &str = "proxy_server_list";

/// The most bytes of a proxy's answer to `CONNECT` read before giving up.
pub const MAX_CONNECT_ANSWER: usize = 16 * 1024;

/// The proxy URL schemes acme2certifier knows (`requests` with PySocks).
const KNOWN_SCHEMES: &[&str] = &["http", "https", "socks4", "socks4a", "socks5", "socks5h"];

/// A parsed `proxy_server_list`.
#[derive(Debug)]
pub struct ProxyList {
    /// The patterns other than `*`, in the order they are tried.
    entries: Vec<Entry>,
    /// The `*` entry's proxy, when there is one (`Some(None)`: it names none).
    wildcard: Option<Option<Target>>,
}

/// One pattern and what it selects.
#[derive(Debug)]
struct Entry {
    pattern: String,
    regex: Regex,
    target: Option<Target>,
}

/// A proxy URL as written, checked; usable only when its scheme is `http`.
#[derive(Debug, Clone)]
struct Target {
    scheme: String,
    proxy: Proxy,
}

impl ProxyList {
    /// Parses the setting's value. Invalid JSON, a value that is not an
    /// object, a pattern that is not a regular expression, a proxy that is
    /// neither a string nor `null`, or a proxy URL that cannot be read or
    /// has a scheme acme2certifier does not know, is an error naming
    /// [`KEY`] and the pattern, never the proxy URL (it may hold a password).
    pub fn parse(text: &str) -> Result<Self, String> {
        let Entries(pairs) = serde_json::from_str(text)
            .map_err(|e| format!("{KEY} is not a JSON object of pattern to proxy URL: {e}"))?;
        // Python's dict keeps a repeated key at its first place with its last value...
        let mut unique: Vec<(String, serde_json::Value)> = Vec::new();
        for (key, value) in pairs {
            match unique.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => unique.push((key, value)),
            }
        }
        // ...and `{k.replace("*.", ""): v ...}` lets a later key win a collision.
        let mut patterns: Vec<(String, Option<Target>)> = Vec::new();
        for (key, value) in unique {
            let target = match value {
                serde_json::Value::Null => None,
                serde_json::Value::String(url) if url.is_empty() => None,
                serde_json::Value::String(url) => Some(
                    Target::parse(&url)
                        .map_err(|why| format!("{KEY}: the proxy for {key:?} {why}"))?,
                ),
                _ => {
                    return Err(format!(
                        "{KEY}: the proxy for {key:?} is not a string (a proxy URL) or null"
                    ));
                }
            };
            let pattern = key.replace("*.", "");
            patterns.retain(|(p, _)| *p != pattern);
            patterns.push((pattern, target));
        }
        let mut wildcard = None;
        let mut entries = Vec::new();
        for (pattern, target) in patterns {
            if pattern == "*" {
                wildcard = Some(target);
                continue;
            }
            let regex = Regex::new(&pattern).map_err(|e| {
                format!("{KEY}: the pattern {pattern:?} is not a usable regular expression: {e}")
            })?;
            entries.push(Entry {
                pattern,
                regex,
                target,
            });
        }
        entries.sort_by(|a, b| b.pattern.cmp(&a.pattern));
        Ok(Self { entries, wildcard })
    }

    /// The proxy for connections to `host` (as written in `est_host`,
    /// without the port; an IPv6 address without brackets), or `None` to
    /// connect directly. An error when the chosen proxy is one this host
    /// cannot use (`https://`, `socks4://`, `socks4a://`).
    pub fn select(&self, host: &str) -> Result<Option<Proxy>, String> {
        let mut chosen: Option<(&str, &Target)> = None;
        for entry in &self.entries {
            if entry.regex.is_match(host) {
                tracing::debug!(target: "proxy", "{host} matches {KEY} pattern {:?}", entry.pattern);
                chosen = entry.target.as_ref().map(|t| (entry.pattern.as_str(), t));
                break;
            }
        }
        if chosen.is_none()
            && let Some(Some(target)) = &self.wildcard
        {
            chosen = Some(("*", target));
        }
        let Some((pattern, target)) = chosen else {
            return Ok(None);
        };
        if !matches!(target.scheme.as_str(), "http" | "socks5" | "socks5h") {
            return Err(format!(
                "{KEY}: the proxy chosen for {host} (pattern {pattern:?}) is a {}:// proxy, which this host does not support: only http:// (HTTP CONNECT), socks5:// and socks5h:// proxies are",
                target.scheme
            ));
        }
        Ok(Some(target.proxy.clone()))
    }
}

/// The JSON object's members in document order, repeated keys included.
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry()? {
                    pairs.push(pair);
                }
                Ok(Entries(pairs))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

impl Target {
    /// Reads a proxy URL; the error says what is wrong without quoting it.
    fn parse(url: &str) -> Result<Self, String> {
        // `requests` puts `http://` before a proxy given without a scheme.
        let with_scheme = if url.contains("://") {
            url.to_owned()
        } else {
            format!("http://{url}")
        };
        let parsed =
            url::Url::parse(&with_scheme).map_err(|e| format!("is not a usable URL ({e})"))?;
        let scheme = parsed.scheme().to_owned();
        if !KNOWN_SCHEMES.contains(&scheme.as_str()) {
            return Err(format!(
                "has the scheme {scheme:?}, which is not a proxy scheme (http, https, socks4, socks4a, socks5, socks5h)"
            ));
        }
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("names no proxy host")?
            .to_owned();
        let port = parsed
            .port_or_known_default()
            .unwrap_or(if scheme.starts_with("socks") {
                1080
            } else {
                80
            });
        // As `requests` does: credentials when the URL has a user name,
        // both parts percent-decoded.
        let credentials = (!parsed.username().is_empty()).then(|| {
            let decode =
                |part: &str| -> Vec<u8> { percent_encoding::percent_decode_str(part).collect() };
            (
                decode(parsed.username()),
                decode(parsed.password().unwrap_or("")),
            )
        });
        let kind = match scheme.as_str() {
            "http" => Some(ProxyKind::Http),
            "socks5" => Some(ProxyKind::Socks5 { remote_dns: false }),
            "socks5h" => Some(ProxyKind::Socks5 { remote_dns: true }),
            _ => None,
        };
        let authorization = match (&kind, credentials) {
            (Some(ProxyKind::Http), Some((user, password))) => {
                let mut basic = user;
                basic.push(b':');
                basic.extend(password);
                Some(Credentials::Basic(Secret(format!(
                    "Basic {}",
                    Base64::encode_string(&basic)
                ))))
            }
            (Some(ProxyKind::Socks5 { .. }), Some((user, password))) => {
                if user.len() > 255 || password.len() > 255 {
                    return Err(
                        "has a user name or password longer than SOCKS5 allows (255 bytes)".into(),
                    );
                }
                Some(Credentials::UserPass(
                    Secret(String::from_utf8_lossy(&user).into_owned()),
                    Secret(String::from_utf8_lossy(&password).into_owned()),
                ))
            }
            _ => None,
        };
        // Where the TCP connection goes; a host the HTTP stack cannot take
        // (an opaque socks host may hold more than a DNS name) is refused here.
        let uri = Uri::builder()
            .scheme("http")
            .authority(format!("{host}:{port}"))
            .path_and_query("/")
            .build()
            .map_err(|_| "names a proxy host that cannot be connected to".to_owned())?;
        Ok(Self {
            scheme,
            proxy: Proxy {
                kind: kind.unwrap_or(ProxyKind::Http),
                host,
                port,
                uri,
                authorization,
            },
        })
    }
}

/// A proxy that tunnels connections: an `http://` one with `CONNECT`, or a
/// SOCKS5 one. It displays as `scheme://host:port`, never with its
/// credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    kind: ProxyKind,
    /// As in the URL (an IPv6 address in brackets).
    host: String,
    port: u16,
    /// `http://host:port/`, where the TCP connection goes.
    uri: Uri,
    /// From the URL's user name and password.
    authorization: Option<Credentials>,
}

/// How a [`Proxy`] is asked for a tunnel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ProxyKind {
    /// HTTP `CONNECT`.
    Http,
    /// SOCKS5 (RFC 1928); `socks5h://` lets the proxy resolve the name,
    /// `socks5://` resolves it here, as PySocks does.
    Socks5 { remote_dns: bool },
}

/// A proxy's credentials.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Credentials {
    /// The `Proxy-Authorization` value of an HTTP proxy.
    Basic(Secret),
    /// SOCKS5 user name and password (RFC 1929).
    UserPass(Secret, Secret),
}

/// A value never shown.
#[derive(Clone, PartialEq, Eq)]
struct Secret(String);

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
    fn uri(&self) -> Uri {
        self.uri.clone()
    }
}

/// The host of an `est_host` authority (`host[:port]`, IPv6 literals in
/// brackets), as `proxy_server_list` patterns are matched against it.
pub fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.split(':').next().unwrap_or(authority)
}

/// Why a connection through the proxy failed; it names the proxy (never
/// its credentials) and, for a refusal, the status the proxy answered.
#[derive(Debug)]
pub struct ProxyError {
    proxy: String,
    target: String,
    kind: ProxyErrorKind,
}

/// What went wrong with the proxy.
#[derive(Debug)]
enum ProxyErrorKind {
    /// The TCP connection to the proxy failed.
    Unreachable(Box<dyn std::error::Error + Send + Sync>),
    /// Reading or writing the `CONNECT` exchange failed.
    Io(std::io::Error),
    /// The proxy closed the connection before its answer was complete.
    Closed,
    /// The proxy did not answer within the connect timeout.
    Timeout,
    /// The proxy answered with a status other than 2xx.
    Refused { status: u16, reason: String },
    /// The SOCKS5 proxy refused, in hyper-util's words.
    SocksRefused(String),
    /// The answer was not HTTP, or too long.
    Malformed(String),
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (proxy, target) = (&self.proxy, &self.target);
        match &self.kind {
            ProxyErrorKind::Unreachable(e) => {
                write!(f, "the proxy {proxy} could not be reached: {}", chain(&**e))
            }
            ProxyErrorKind::Io(e) => {
                write!(f, "the proxy {proxy} failed during CONNECT {target}: {e}")
            }
            ProxyErrorKind::Closed => write!(
                f,
                "the proxy {proxy} closed the connection before answering CONNECT {target}"
            ),
            ProxyErrorKind::Timeout => write!(
                f,
                "the proxy {proxy} did not answer CONNECT {target} in time"
            ),
            ProxyErrorKind::Refused { status, reason } => {
                write!(
                    f,
                    "the proxy {proxy} refused CONNECT {target}: it answered {status} {reason}"
                )?;
                if matches!(status, 401 | 407) {
                    f.write_str(
                        " (check the proxy's user name and password in proxy_server_list)",
                    )?;
                }
                Ok(())
            }
            ProxyErrorKind::SocksRefused(why) => {
                write!(f, "the proxy {proxy} refused the tunnel to {target}: {why}")
            }
            ProxyErrorKind::Malformed(why) => write!(
                f,
                "the proxy {proxy} gave an unusable answer for {target}: {why}"
            ),
        }
    }
}

impl std::error::Error for ProxyError {}

/// An error and its sources, as one line.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut words = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        words.push_str(": ");
        words.push_str(&e.to_string());
        source = e.source();
    }
    words
}

impl ProxyError {
    /// The `wasi:http` error code the component gets: the cause of an
    /// unreachable proxy as for an unreachable server (connection refused,
    /// DNS, timeout), and for a refusal or a broken answer an internal error
    /// whose words name the proxy and its answer.
    pub(crate) fn error_code(&self) -> HttpError {
        use std::io::ErrorKind as K;
        let io_code = |err: &std::io::Error| match err.kind() {
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                HttpError::ConnectionTerminated
            }
            K::TimedOut => HttpError::ConnectionTimeout,
            K::HostUnreachable | K::NetworkUnreachable => HttpError::DestinationUnavailable,
            _ => HttpError::ConnectionRefused,
        };
        match &self.kind {
            ProxyErrorKind::Unreachable(e) => {
                if e.to_string() == "dns error" {
                    return HttpError::DnsError {
                        rcode: e.source().map(|e| format!("proxy {}: {e}", self.proxy)),
                        info_code: None,
                    };
                }
                let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&**e);
                while let Some(current) = source {
                    if let Some(io) = current.downcast_ref::<std::io::Error>() {
                        return io_code(io);
                    }
                    source = current.source();
                }
                HttpError::ConnectionRefused
            }
            ProxyErrorKind::Timeout => HttpError::ConnectionTimeout,
            ProxyErrorKind::Closed
            | ProxyErrorKind::Io(_)
            | ProxyErrorKind::Refused { .. }
            | ProxyErrorKind::SocksRefused(_)
            | ProxyErrorKind::Malformed(_) => HttpError::InternalError(Some(self.to_string())),
        }
    }
}

/// The connector under the host's TLS: a TCP connection straight to the
/// destination, or, with a proxy, a TCP connection to the proxy turned
/// into a tunnel to the destination by `CONNECT`. Either way it returns a
/// TCP stream to run TLS (or plain HTTP) over, so the client pools
/// tunnelled connections like direct ones.
#[derive(Clone)]
pub struct ProxyConnector {
    tcp: HttpConnector,
    proxy: Option<Arc<Proxy>>,
    /// Bounds the `CONNECT` exchange (the TCP connect has the connector's own).
    timeout: Duration,
}

impl ProxyConnector {
    /// Connects through `proxy` (directly without one) with `tcp`; the
    /// proxy's answer to `CONNECT` must arrive within `timeout`.
    pub fn new(tcp: HttpConnector, proxy: Option<Proxy>, timeout: Duration) -> Self {
        Self {
            tcp,
            proxy: proxy.map(Arc::new),
            timeout,
        }
    }
}

/// What a [`ProxyConnector`] connection fails with.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        tower_service::Service::<Uri>::poll_ready(&mut self.tcp, cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let Some(proxy) = self.proxy.clone() else {
            let connecting = self.tcp.call(dst);
            return Box::pin(async move { connecting.await.map_err(Into::into) });
        };
        if let ProxyKind::Socks5 { remote_dns } = proxy.kind {
            return Box::pin(socks5(
                self.tcp.clone(),
                proxy,
                remote_dns,
                dst,
                self.timeout,
            ));
        }
        let connecting = self.tcp.call(proxy.uri());
        let timeout = self.timeout;
        Box::pin(async move {
            let target = connect_target(&dst).ok_or("the destination has no host")?;
            let fail = |kind| {
                let err = ProxyError {
                    proxy: proxy.to_string(),
                    target: target.clone(),
                    kind,
                };
                tracing::warn!(target: "proxy", "{err}");
                err
            };
            let tcp = connecting
                .await
                .map_err(|e| fail(ProxyErrorKind::Unreachable(e.into())))?
                .into_inner();
            let tunnel = tokio::time::timeout(timeout, tunnel(tcp, &proxy, &target))
                .await
                .map_err(|_| fail(ProxyErrorKind::Timeout))?
                .map_err(fail)?;
            tracing::debug!(target: "proxy", "tunnel to {target} through {proxy}");
            Ok(TokioIo::new(tunnel))
        })
    }
}

/// A tunnel to `dst` through the SOCKS5 `proxy`: the TCP connection made
/// here (so that an unreachable proxy keeps its cause), the SOCKS5
/// exchange by hyper-util; with `remote_dns` false the name is resolved
/// here first, as PySocks does for `socks5://`.
async fn socks5(
    mut tcp: HttpConnector,
    proxy: Arc<Proxy>,
    remote_dns: bool,
    dst: Uri,
    timeout: Duration,
) -> Result<TokioIo<TcpStream>, BoxError> {
    use hyper_util::client::legacy::connect::proxy::SocksV5;
    use tower_service::Service;
    let target = connect_target(&dst).ok_or("the destination has no host")?;
    let fail = |kind| {
        let err = ProxyError {
            proxy: proxy.to_string(),
            target: target.clone(),
            kind,
        };
        tracing::warn!(target: "proxy", "{err}");
        err
    };
    let dst = if remote_dns {
        dst
    } else {
        // An IPv4 address first, as PySocks's gethostbyname gives.
        let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host(&target)
            .await
            .map(Iterator::collect)
            .unwrap_or_default();
        let address = found
            .iter()
            .find(|a| a.is_ipv4())
            .or(found.first())
            .copied()
            .ok_or_else(|| {
                fail(ProxyErrorKind::Malformed(format!(
                    "{target} does not resolve here (socks5:// resolves names locally; socks5h:// lets the proxy do it)"
                )))
            })?;
        Uri::builder()
            .scheme("http")
            .authority(address.to_string())
            .path_and_query("/")
            .build()?
    };
    let stream = tcp
        .call(proxy.uri())
        .await
        .map_err(|e| fail(ProxyErrorKind::Unreachable(e.into())))?;
    let mut socks = SocksV5::new(proxy.uri(), Connected(Some(stream))).local_dns(false);
    if let Some(Credentials::UserPass(Secret(user), Secret(password))) = &proxy.authorization {
        socks = socks.with_auth(user.clone(), password.clone());
    }
    let tunnel = tokio::time::timeout(timeout, socks.call(dst))
        .await
        .map_err(|_| fail(ProxyErrorKind::Timeout))?
        .map_err(|e| {
            let words = e.to_string();
            let words = words.strip_prefix("SOCKS error: ").unwrap_or(&words);
            fail(ProxyErrorKind::SocksRefused(
                if words.contains("credentials not accepted") {
                    format!(
                        "{words} (check the proxy's user name and password in proxy_server_list)"
                    )
                } else {
                    words.to_owned()
                },
            ))
        })?;
    tracing::debug!(target: "proxy", "tunnel to {target} through {proxy}");
    Ok(tunnel)
}

/// A connector that hands out one connection made already.
struct Connected(Option<TokioIo<TcpStream>>);

impl tower_service::Service<Uri> for Connected {
    type Response = TokioIo<TcpStream>;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _proxy: Uri) -> Self::Future {
        std::future::ready(
            self.0
                .take()
                .ok_or_else(|| std::io::Error::other("the connection was used already")),
        )
    }
}

/// `host:port` of a destination, for `CONNECT` (an IPv6 address in brackets).
fn connect_target(dst: &Uri) -> Option<String> {
    let host = dst.host()?;
    let port = dst
        .port_u16()
        .unwrap_or(if dst.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    Some(format!("{host}:{port}"))
}

/// Asks the proxy on `tcp` for a tunnel to `target` and reads its answer
/// head (at most [`MAX_CONNECT_ANSWER`] bytes); the stream, once the proxy
/// answered 2xx, is the tunnel.
async fn tunnel(
    mut tcp: TcpStream,
    proxy: &Proxy,
    target: &str,
) -> Result<TcpStream, ProxyErrorKind> {
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(Credentials::Basic(Secret(authorization))) = &proxy.authorization {
        request.push_str("Proxy-Authorization: ");
        request.push_str(authorization);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .map_err(ProxyErrorKind::Io)?;
    drop(request);
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let room = (MAX_CONNECT_ANSWER - head.len()).min(chunk.len());
        let read = tcp
            .read(&mut chunk[..room])
            .await
            .map_err(ProxyErrorKind::Io)?;
        if read == 0 {
            return Err(ProxyErrorKind::Closed);
        }
        head.extend_from_slice(&chunk[..read]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut answer = httparse::Response::new(&mut headers);
        match answer.parse(&head) {
            Ok(httparse::Status::Complete(length)) => {
                let status = answer.code.unwrap_or(0);
                if !(200..300).contains(&status) {
                    let reason = printable(answer.reason.unwrap_or(""));
                    return Err(ProxyErrorKind::Refused { status, reason });
                }
                if length != head.len() {
                    // The EST server speaks only after the client's TLS hello.
                    return Err(ProxyErrorKind::Malformed(
                        "it sent data before the tunnel was used".into(),
                    ));
                }
                return Ok(tcp);
            }
            Ok(httparse::Status::Partial) if head.len() >= MAX_CONNECT_ANSWER => {
                return Err(ProxyErrorKind::Malformed(format!(
                    "its answer head is longer than {MAX_CONNECT_ANSWER} bytes"
                )));
            }
            Ok(httparse::Status::Partial) => {}
            Err(e) => {
                return Err(ProxyErrorKind::Malformed(format!(
                    "it is not an HTTP answer ({e})"
                )));
            }
        }
    }
}

/// `text` with only printable ASCII, at most 100 characters.
fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(100)
        .collect()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn select(list: &str, host: &str) -> Result<Option<String>, String> {
        Ok(ProxyList::parse(list)?.select(host)?.map(|p| p.to_string()))
    }

    #[test]
    fn patterns_are_searched_in_reverse_order_with_star_as_fallback() {
        let list = r#"{"bar.local$": "http://bar-proxy:1", "foo\\..*$": "http://foo-proxy:2",
                       "*": "http://fallback:3", "a": "http://a-proxy:4"}"#;
        // Tried in reverse order: "foo\..*$", "bar.local$", then "a"; each
        // searched anywhere in the name (re.search), so "a" takes whatever
        // contains an a and neither before it matched. (The expectations
        // are what acme2certifier 0.46.3's proxy_check answers.)
        assert_eq!(
            select(list, "www.foo.example").unwrap().as_deref(),
            Some("http://foo-proxy:2")
        );
        assert_eq!(
            select(list, "est.bar.local").unwrap().as_deref(),
            Some("http://bar-proxy:1")
        );
        assert_eq!(
            select(list, "bar.local").unwrap().as_deref(),
            Some("http://bar-proxy:1")
        );
        assert_eq!(
            select(list, "est.example").unwrap().as_deref(),
            Some("http://a-proxy:4")
        );
        assert_eq!(
            select(list, "est.test").unwrap().as_deref(),
            Some("http://fallback:3")
        );
        let no_star = r#"{"^est\\.corp$": "proxy.corp:3128"}"#;
        assert_eq!(select(no_star, "est.test").unwrap(), None);
        // Without a scheme, http:// (as requests reads it); port 80 by default.
        assert_eq!(
            select(no_star, "est.corp").unwrap().as_deref(),
            Some("http://proxy.corp:3128")
        );
        assert_eq!(
            select(r#"{"*": "http://p"}"#, "x").unwrap().as_deref(),
            Some("http://p:80")
        );
    }

    #[test]
    fn star_dot_is_removed_everywhere_and_later_keys_win() {
        // "*.example.com" becomes "example.com" (a regex: "." is any character).
        let list = r#"{"*.example.com": "http://one:1"}"#;
        assert_eq!(
            select(list, "est.example.com").unwrap().as_deref(),
            Some("http://one:1")
        );
        assert_eq!(
            select(list, "exampleXcom").unwrap().as_deref(),
            Some("http://one:1")
        );
        let collide = r#"{"*.a.test": "http://first:1", "a.test": "http://second:2"}"#;
        assert_eq!(
            select(collide, "a.test").unwrap().as_deref(),
            Some("http://second:2")
        );
        // A repeated key keeps its first place but its last value.
        let repeated =
            r#"{"*.a.test": "http://x:1", "a.test": "http://y:2", "*.a.test": "http://z:3"}"#;
        assert_eq!(
            select(repeated, "a.test").unwrap().as_deref(),
            Some("http://y:2")
        );
    }

    #[test]
    fn a_match_without_a_proxy_falls_back_to_star_or_goes_direct() {
        let list = r#"{"internal$": null, "*": "http://fallback:3"}"#;
        assert_eq!(
            select(list, "est.internal").unwrap().as_deref(),
            Some("http://fallback:3")
        );
        let direct = r#"{"internal$": "", "*": null}"#;
        assert_eq!(select(direct, "est.internal").unwrap(), None);
        assert_eq!(select("{}", "est.test").unwrap(), None);
    }

    #[test]
    fn matching_is_case_sensitive_like_python() {
        let list = r#"{"^est\\.test$": "http://p:1"}"#;
        assert_eq!(select(list, "EST.test").unwrap(), None);
        assert!(select(list, "est.test").unwrap().is_some());
    }

    #[test]
    fn bad_settings_are_errors_naming_the_key_but_not_the_url() {
        let secret = "s3cr3t-Pr0xy";
        for (list, words) in [
            ("not json", "is not a JSON object"),
            (r#"["http://p:1"]"#, "is not a JSON object"),
            (
                r#"{"(unclosed": "http://p:1"}"#,
                "\"(unclosed\" is not a usable regular expression",
            ),
            (
                r#"{"(?=look)": "http://p:1"}"#,
                "is not a usable regular expression",
            ),
            (r#"{"a": 3128}"#, "is not a string"),
            (
                &format!(r#"{{"a": "ftp://u:{secret}@p:1"}}"#),
                "has the scheme \"ftp\"",
            ),
            (
                &format!(r#"{{"a": "http://u:{secret}@:1"}}"#),
                "is not a usable URL",
            ),
            (
                &format!(r#"{{"a": "http://u:{secret}@p:99999"}}"#),
                "is not a usable URL",
            ),
        ] {
            let err = ProxyList::parse(list).unwrap_err();
            assert!(err.starts_with(KEY), "{list}: {err}");
            assert!(err.contains(words), "{list}: {err}");
            assert!(!err.contains(secret), "{list}: {err}");
        }
    }

    #[test]
    fn only_a_chosen_socks4_or_https_proxy_is_refused() {
        let list = r#"{"bar.local$": "socks4://u:pw@proxy.local:5555", "foo$": "https://p:443"}"#;
        let parsed = ProxyList::parse(list).unwrap();
        assert!(parsed.select("est.test").unwrap().is_none());
        let socks = parsed.select("est.bar.local").unwrap_err();
        assert!(
            socks.contains("socks4:// proxy") && socks.contains("only http://"),
            "{socks}"
        );
        assert!(!socks.contains("pw"), "{socks}");
        let socks5 = ProxyList::parse(r#"{"*": "socks5h://u:pw@proxy.local"}"#)
            .unwrap()
            .select("est.test")
            .unwrap()
            .unwrap();
        assert_eq!(socks5.to_string(), "socks5h://proxy.local:1080");
        assert!(!format!("{socks5:?}").contains("pw"));
        let https = parsed.select("est.foo").unwrap_err();
        assert!(https.contains("https:// proxy"), "{https}");
    }

    #[test]
    fn credentials_are_percent_decoded_and_never_shown() {
        let list = r#"{"*": "http://us%65r:p%40ss%3Aw0rd@proxy.test:8080"}"#;
        let proxy = ProxyList::parse(list)
            .unwrap()
            .select("est.test")
            .unwrap()
            .unwrap();
        assert_eq!(
            proxy.authorization,
            Some(Credentials::Basic(Secret(format!(
                "Basic {}",
                Base64::encode_string(b"user:p@ss:w0rd")
            ))))
        );
        assert!(proxy.has_credentials());
        assert_eq!(proxy.to_string(), "http://proxy.test:8080");
        let debug = format!("{proxy:?} {:?}", ProxyList::parse(list).unwrap());
        assert!(
            !debug.contains("p%40ss") && !debug.contains("dXNlcjpw"),
            "{debug}"
        );
        let anonymous = ProxyList::parse(r#"{"*": "http://proxy.test:8080"}"#)
            .unwrap()
            .select("x")
            .unwrap()
            .unwrap();
        assert!(!anonymous.has_credentials());
    }

    #[test]
    fn odd_proxy_hosts_are_refused_or_usable_never_a_panic() {
        for host in [
            "a%zzb",
            "a^b",
            "a|b",
            "a\"b",
            "a{b}",
            "[::1]",
            "[fe80::1%25eth0]",
            "a`b",
            "1.2.3",
            "xn--nxasmq6b",
            "a..b",
            "-a-",
            "%41",
        ] {
            for scheme in ["http", "socks5", "socks5h"] {
                let list = serde_json::json!({ "*": format!("{scheme}://u:pw@{host}:1080") });
                match ProxyList::parse(&list.to_string()) {
                    Ok(parsed) => {
                        let proxy = parsed.select("x").unwrap().unwrap();
                        assert_eq!(proxy.uri().port_u16(), Some(1080), "{host}");
                    }
                    Err(why) => assert!(why.starts_with(KEY) && !why.contains("pw"), "{why}"),
                }
            }
        }
    }

    #[test]
    fn hosts_are_matched_without_port_or_brackets() {
        assert_eq!(host_of("est.test:8443"), "est.test");
        assert_eq!(host_of("est.test"), "est.test");
        assert_eq!(host_of("[::1]:8443"), "::1");
        assert_eq!(host_of("[::1]"), "::1");
    }

    /// A one-shot proxy on 127.0.0.1 that answers `answer` to whatever it
    /// reads first, and hands back what it read.
    async fn fake_proxy(answer: &'static [u8]) -> (Proxy, tokio::task::JoinHandle<Vec<u8>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = vec![0u8; 4096];
            let n = socket.read(&mut seen).await.unwrap();
            seen.truncate(n);
            socket.write_all(answer).await.unwrap();
            seen
        });
        let list = format!(r#"{{"*": "http://u:pw@127.0.0.1:{port}"}}"#);
        let proxy = ProxyList::parse(&list)
            .unwrap()
            .select("x")
            .unwrap()
            .unwrap();
        (proxy, task)
    }

    async fn connect(proxy: &Proxy) -> Result<TcpStream, ProxyErrorKind> {
        let tcp = TcpStream::connect((proxy.host.as_str(), proxy.port))
            .await
            .unwrap();
        tunnel(tcp, proxy, "est.test:443").await
    }

    #[tokio::test]
    async fn connect_sends_the_target_and_basic_credentials() {
        let (proxy, seen) = fake_proxy(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
        connect(&proxy).await.unwrap();
        let seen = String::from_utf8(seen.await.unwrap()).unwrap();
        assert_eq!(
            seen,
            format!(
                "CONNECT est.test:443 HTTP/1.1\r\nHost: est.test:443\r\nProxy-Authorization: Basic {}\r\n\r\n",
                Base64::encode_string(b"u:pw")
            )
        );
    }

    #[tokio::test]
    async fn refusals_and_broken_answers_are_named() {
        let (proxy, _) = fake_proxy(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n").await;
        let err = connect(&proxy).await.unwrap_err();
        assert!(
            matches!(&err, ProxyErrorKind::Refused { status: 403, reason } if reason == "Forbidden"),
            "{err:?}"
        );
        let (proxy, _) = fake_proxy(b"SSH-2.0-OpenSSH_9.2\r\n").await;
        assert!(matches!(
            connect(&proxy).await.unwrap_err(),
            ProxyErrorKind::Malformed(_)
        ));
        let (proxy, _) = fake_proxy(b"HTTP/1.1 200 OK\r\n\r\nearly").await;
        assert!(matches!(
            connect(&proxy).await.unwrap_err(),
            ProxyErrorKind::Malformed(_)
        ));
        let (proxy, _) = fake_proxy(b"HTTP/1.1 200 OK\r\n").await;
        assert!(matches!(
            connect(&proxy).await.unwrap_err(),
            ProxyErrorKind::Closed
        ));
    }

    #[tokio::test]
    async fn an_endless_answer_head_is_cut_off() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let _ = socket.write_all(b"HTTP/1.1 200 OK\r\nX-Filler: ").await;
            let filler = [b'a'; 64];
            for _ in 0..(2 * MAX_CONNECT_ANSWER / filler.len()) {
                if socket.write_all(&filler).await.is_err() {
                    break;
                }
            }
        });
        let proxy = ProxyList::parse(&format!(r#"{{"*": "127.0.0.1:{port}"}}"#))
            .unwrap()
            .select("x")
            .unwrap()
            .unwrap();
        let err = connect(&proxy).await.unwrap_err();
        assert!(
            matches!(&err, ProxyErrorKind::Malformed(why) if why.contains("longer than")),
            "{err:?}"
        );
    }

    #[test]
    fn error_codes_and_words_name_the_proxy_and_status() {
        let err = ProxyError {
            proxy: "http://127.0.0.1:3128".into(),
            target: "est.test:443".into(),
            kind: ProxyErrorKind::Refused {
                status: 407,
                reason: "Proxy Authentication Required".into(),
            },
        };
        match err.error_code() {
            HttpError::InternalError(Some(words)) => {
                assert!(words.contains("http://127.0.0.1:3128"), "{words}");
                assert!(
                    words.contains("407 Proxy Authentication Required"),
                    "{words}"
                );
            }
            other => panic!("{other:?}"),
        }
        let unreachable = ProxyError {
            proxy: "http://127.0.0.1:9".into(),
            target: "est.test:443".into(),
            kind: ProxyErrorKind::Unreachable(Box::new(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused,
            ))),
        };
        assert!(matches!(
            unreachable.error_code(),
            HttpError::ConnectionRefused
        ));
        assert!(
            unreachable
                .to_string()
                .contains("http://127.0.0.1:9 could not be reached")
        );
    }
}
