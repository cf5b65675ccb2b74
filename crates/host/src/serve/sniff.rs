//! Counting enrollments by outcome from the answers on their way out.

use crate::metrics::{Metrics, outcome_of};
use hyper::body::{Body, Bytes, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// The most of an enrollment answer's body kept to read its outcome (a
/// problem document is far smaller; a certificate answer needs only its
/// status).
const SNIFF_LIMIT: usize = 4096;

/// An enrollment answer's body on its way to the client, counted in
/// [`Metrics`] by outcome once it has gone (or been dropped): the status
/// says issued or pending, a problem document's `type` the error kind (and
/// whether it was the API's refusal, which is no enrollment: see
/// [`outcome_of`]).
pub(super) struct Sniffed {
    pub(super) body: HyperOutgoingBody,
    pub(super) status: u16,
    pub(super) seen: Vec<u8>,
    pub(super) metrics: Metrics,
}

impl Body for Sniffed {
    type Data = Bytes;
    type Error = <HyperOutgoingBody as Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
            && self.status >= 300
        {
            let room = SNIFF_LIMIT.saturating_sub(self.seen.len());
            let take = data.len().min(room);
            self.seen.extend_from_slice(&data[..take]);
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

impl Drop for Sniffed {
    fn drop(&mut self) {
        if let Some(outcome) = outcome_of(self.status, &self.seen) {
            self.metrics.enrollment(outcome);
        }
    }
}
