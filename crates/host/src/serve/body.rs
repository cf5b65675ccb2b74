//! The body wrappers of the API's connections: an answer's body that holds
//! its request in flight for the connection's timeouts ([`Guarded`]), and a
//! request's body that says when all of it has arrived ([`Arriving`]).

use super::timeouts::InFlight;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context as TaskContext, Poll};

/// An answer's body that keeps its request [`InFlight`] until hyper has
/// taken all of it (or dropped it).
pub(super) struct Guarded<B> {
    pub(super) body: B,
    pub(super) _in_flight: InFlight,
}

impl<B: Body + Unpin> Body for Guarded<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request's body on its way to the component, which says when all of it
/// has arrived (or it failed: nothing more is coming), for
/// [`Limits::body_timeout`].
///
/// [`Limits::body_timeout`]: crate::Limits::body_timeout
pub(super) struct Arriving {
    pub(super) body: Incoming,
    pub(super) arrived: Arc<AtomicBool>,
}

impl Body for Arriving {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(None | Some(Err(_))) => true,
            Poll::Ready(Some(Ok(_))) => self.body.is_end_stream(),
            Poll::Pending => false,
        };
        if ended {
            self.arrived.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
