//! What a failed tunnel says: the proxy (never its credentials), the
//! target, what went wrong, and the `wasi:http` error code the component
//! gets for it.

use std::fmt;
use wasmtime_wasi_http::Error as HttpError;

/// What a [`ProxyConnector`](super::ProxyConnector) connection fails with.
pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a connection through the proxy failed; it names the proxy (never
/// its credentials) and, for a refusal, the status the proxy answered.
#[derive(Debug)]
pub struct ProxyError {
    pub(super) proxy: String,
    pub(super) target: String,
    pub(super) kind: ProxyErrorKind,
}

/// What went wrong with the proxy.
#[derive(Debug)]
pub(super) enum ProxyErrorKind {
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
    /// The failure of a connection to `target` through `proxy`, logged
    /// once here (the proxy's name never holds its credentials).
    pub(super) fn logged(proxy: &impl fmt::Display, target: &str, kind: ProxyErrorKind) -> Self {
        let err = Self {
            proxy: proxy.to_string(),
            target: target.to_owned(),
            kind,
        };
        tracing::warn!(target: "proxy", "{err}");
        err
    }

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

#[cfg(test)]
mod tests {
    use super::*;

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
