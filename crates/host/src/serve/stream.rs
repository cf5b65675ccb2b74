//! A connection's TCP stream that tells its timeouts when bytes move, and
//! lingers when closed.

use super::timeouts::Watch;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How long a connection closed with a request body unread (an answer
/// given from the head: a refusal, or a route that takes no body) goes on
/// reading and dropping what the client sends, so that closing does not
/// reset the connection before the client has read the answer.
const LINGER: Duration = Duration::from_secs(2);

/// The most bytes dropped that way.
const LINGER_BYTES: usize = 256 * 1024;

/// A connection's TCP stream that tells its [`Watch`] when bytes move,
/// and lingers when closed ([`LINGER`]).
pub(super) struct Watched {
    tcp: TcpStream,
    watch: Arc<Watch>,
    /// Set once the write side is shut: the end of the linger.
    linger: Option<Pin<Box<tokio::time::Sleep>>>,
    dropped: usize,
}

impl Watched {
    pub(super) fn new(tcp: TcpStream, watch: Arc<Watch>) -> Self {
        Self {
            tcp,
            watch,
            linger: None,
            dropped: 0,
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.watch.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    /// Shuts the write side, then reads and drops what the client still
    /// sends until it closes, [`LINGER`] has passed or [`LINGER_BYTES`]
    /// have come.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.linger.is_none() {
            std::task::ready!(Pin::new(&mut this.tcp).poll_shutdown(cx))?;
            this.linger = Some(Box::pin(tokio::time::sleep(LINGER)));
        }
        let mut scratch = [0u8; 4096];
        loop {
            let over = this
                .linger
                .as_mut()
                .is_none_or(|linger| linger.as_mut().poll(cx).is_ready());
            if over || this.dropped >= LINGER_BYTES {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.tcp).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    this.dropped += buf.filled().len();
                }
                Poll::Ready(_) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
