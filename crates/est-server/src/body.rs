//! The body of every answer ([`AnswerBody`]): all at once, or misbehaving
//! as a fault asks (trickling, breaking off with a reset, never ending, or
//! without its length announced), with the filler those faults send.

use crate::conn::ConnControl;
use crate::fault::{ENDLESS_CAP, ENDLESS_CHUNK, HUGE_BODY_LEN, STALL_LIMIT, TRICKLE_INTERVAL};
use hyper::body::{Body, Bytes, Frame, SizeHint};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use tokio::time::{Instant, Sleep};

/// Base64 filler in 64-column lines, `len` bytes long (the last byte a
/// newline when `len` allows).
fn filler(len: usize) -> Bytes {
    let line = format!("{}\n", "QUFB".repeat(16));
    let mut text = line.repeat(len / line.len() + 1).into_bytes();
    text.truncate(len);
    if let Some(last) = text.last_mut() {
        *last = b'\n';
    }
    Bytes::from(text)
}

/// The body of [`EnrollFault::Huge`](crate::EnrollFault::Huge) answers, made once.
pub(crate) fn huge_body() -> Bytes {
    static HUGE: OnceLock<Bytes> = OnceLock::new();
    HUGE.get_or_init(|| filler(HUGE_BODY_LEN)).clone()
}

fn endless_chunk() -> Bytes {
    static CHUNK: OnceLock<Bytes> = OnceLock::new();
    CHUNK.get_or_init(|| filler(ENDLESS_CHUNK)).clone()
}

/// The body of every answer: all at once, or misbehaving.
pub(crate) struct AnswerBody(Kind);

enum Kind {
    Full(Option<Bytes>),
    Trickle {
        data: Bytes,
        at: usize,
        tick: Option<Pin<Box<Sleep>>>,
    },
    Reset {
        data: Bytes,
        half_sent: bool,
        conn: Arc<ConnControl>,
    },
    Endless {
        sent: u64,
        until: Instant,
    },
    /// Like `Full`, without announcing its length.
    Unsized(Option<Bytes>),
}

impl AnswerBody {
    /// `data`, all at once.
    pub(crate) fn full(data: impl Into<Bytes>) -> Self {
        Self(Kind::Full(Some(data.into())))
    }

    /// Chunks of base64 filler until the client goes away.
    pub(crate) fn endless() -> Self {
        Self(Kind::Endless {
            sent: 0,
            until: Instant::now() + STALL_LIMIT,
        })
    }

    /// This body's bytes, one every [`TRICKLE_INTERVAL`] (the first at once).
    pub(crate) fn trickle(self) -> Self {
        match self.0 {
            Kind::Full(data) => Self(Kind::Trickle {
                data: data.unwrap_or_default(),
                at: 0,
                tick: None,
            }),
            other => Self(other),
        }
    }

    /// This body without its length announced (`Full` bodies only).
    pub(crate) fn without_length(self) -> Self {
        match self.0 {
            Kind::Full(data) => Self(Kind::Unsized(data)),
            other => Self(other),
        }
    }

    /// The first half of this body, then an abort of `conn`; the length
    /// announced stays the whole body's.
    pub(crate) fn reset(self, conn: Arc<ConnControl>) -> Self {
        match self.0 {
            Kind::Full(data) => Self(Kind::Reset {
                data: data.unwrap_or_default(),
                half_sent: false,
                conn,
            }),
            other => Self(other),
        }
    }
}

impl Body for AnswerBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let data = match &mut self.get_mut().0 {
            Kind::Full(data) | Kind::Unsized(data) => data.take().filter(|d| !d.is_empty()),
            Kind::Trickle { data, at, tick } => {
                if *at >= data.len() {
                    return Poll::Ready(None);
                }
                if let Some(tick) = tick {
                    ready!(tick.as_mut().poll(cx));
                }
                *tick = Some(Box::pin(tokio::time::sleep(TRICKLE_INTERVAL)));
                *at += 1;
                Some(data.slice(*at - 1..*at))
            }
            Kind::Reset {
                data,
                half_sent,
                conn,
            } => {
                if *half_sent {
                    // The connection's task lets hyper flush the half, then
                    // drops the connection; this body is never polled again.
                    conn.abort();
                    return Poll::Pending;
                }
                *half_sent = true;
                Some(data.slice(..data.len() / 2))
            }
            Kind::Endless { sent, until } => {
                if *sent >= ENDLESS_CAP || Instant::now() >= *until {
                    return Poll::Ready(None);
                }
                let chunk = endless_chunk();
                *sent += chunk.len() as u64;
                Some(chunk)
            }
        };
        Poll::Ready(data.map(|d| Ok(Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Full(data) => data.as_ref().is_none_or(Bytes::is_empty),
            _ => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Full(data) => SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64)),
            Kind::Trickle { data, at, .. } => SizeHint::with_exact((data.len() - at) as u64),
            Kind::Reset {
                data, half_sent, ..
            } => {
                let sent = if *half_sent { data.len() / 2 } else { 0 };
                SizeHint::with_exact((data.len() - sent) as u64)
            }
            Kind::Endless { .. } | Kind::Unsized(_) => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filler_has_the_length_asked_and_ends_with_a_newline() {
        let huge = huge_body();
        assert_eq!(huge.len(), HUGE_BODY_LEN);
        assert!(huge.ends_with(b"\n"));
        assert!(huge.split(|b| *b == b'\n').all(|l| l.len() <= 64));
        assert_eq!(endless_chunk().len(), ENDLESS_CHUNK);
    }
}
