//! Aborting a connection: an answer asks for it ([`ConnControl`]), and the
//! connection's stream ([`Tcp`]) then ends with a reset instead of a close.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// What a connection's task must know about it from the requests it
/// serves: whether an answer asked for the connection to be aborted.
#[derive(Debug, Default)]
pub(crate) struct ConnControl {
    aborted: AtomicBool,
    abort: Notify,
}

impl ConnControl {
    /// Asks the connection's task to drop the connection with a RST.
    pub(crate) fn abort(&self) {
        if !self.aborted.swap(true, Ordering::SeqCst) {
            self.abort.notify_one();
        }
    }

    /// Whether [`ConnControl::abort`] was called.
    pub(crate) fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::SeqCst)
    }

    /// Resolves once [`ConnControl::abort`] is called.
    pub(crate) async fn aborted(&self) {
        self.abort.notified().await;
    }
}

/// An accepted TCP connection. When an answer asked for an abort, dropping
/// it resets the connection (`SO_LINGER` 0) instead of closing it.
pub(crate) struct Tcp {
    pub(crate) stream: TcpStream,
    pub(crate) control: Arc<ConnControl>,
}

impl Drop for Tcp {
    fn drop(&mut self) {
        if self.control.is_aborted() {
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for Tcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
