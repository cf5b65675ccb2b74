//! The answer to a connection over a listener's cap: a `503` written
//! straight to the socket, without hyper, in a bounded task of its own.

use super::problem::overloaded_document;
use crate::limits::RETRY_AFTER_SECS;
use est_ca_handler::api::kind;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// How long answering a connection over the cap may take.
const REFUSAL_TIME: Duration = Duration::from_secs(2);

/// Answers a connection over
/// [`Limits::max_connections`] with a `503` and
/// closes it, in a task of its own bounded by [`REFUSAL_TIME`]; with
/// [`REFUSALS_AT_ONCE`] such tasks already running, closes it at once.
///
/// [`Limits::max_connections`]: crate::Limits::max_connections
/// [`REFUSALS_AT_ONCE`]: crate::limits::REFUSALS_AT_ONCE
pub(super) fn refuse(mut tcp: TcpStream, refusals: &Arc<Semaphore>) {
    let Ok(permit) = Arc::clone(refusals).try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let document =
            overloaded_document("too many connections are open; try again shortly", None);
        let body = document.text();
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n{}: {}\r\nretry-after: {RETRY_AFTER_SECS}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            kind::HEADER,
            document.kind(),
            body.len()
        );
        let _ = tokio::time::timeout(REFUSAL_TIME, async {
            // The request head first (or what fits in the buffer): a client
            // reads an answer only once it has sent its request.
            let mut buffer = [0u8; 8192];
            let mut seen = 0;
            while seen < buffer.len() && !buffer[..seen].windows(4).any(|w| w == b"\r\n\r\n") {
                match tcp.read(&mut buffer[seen..]).await? {
                    0 => break,
                    n => seen += n,
                }
            }
            tcp.write_all(answer.as_bytes()).await?;
            tcp.shutdown().await?;
            // Read what else the client sent until it closes, so that
            // closing with unread data does not reset the connection before
            // the client has read the answer.
            while tcp.read(&mut buffer).await? > 0 {}
            Ok::<_, io::Error>(())
        })
        .await;
    });
}
