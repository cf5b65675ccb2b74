//! The tunnel through an HTTP proxy: `CONNECT`, and the proxy's answer
//! head read within bounds.

use super::endpoint::{Credentials, Proxy, Secret};
use super::error::ProxyErrorKind;
use hyper::Uri;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The most bytes of a proxy's answer to `CONNECT` read before giving up.
pub const MAX_CONNECT_ANSWER: usize = 16 * 1024;

/// `host:port` of a destination, for `CONNECT` (an IPv6 address in brackets).
pub(super) fn connect_target(dst: &Uri) -> Option<String> {
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
pub(super) async fn tunnel(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::ProxyList;
    use base64ct::{Base64, Encoding};

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
}
