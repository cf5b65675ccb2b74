//! A request through the component's `wasi:http/incoming-handler`: a fresh
//! instance with its place among the instances, the host-side deadline, and
//! the body timeout.

use super::body::Arriving;
use crate::limits::{self, LimitExceeded};
use crate::state::log_stderr;
use crate::{Host, Settings};
use anyhow::{Context, Result, bail};
use hyper::body::{Body, Incoming};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::Instrument;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

impl Host {
    /// Runs `request` through a fresh instance of the component, which
    /// holds `permit` until it ends: its answer, or the host's limit it
    /// ran into ([`LimitExceeded::Timeout`], [`LimitExceeded::BodyTimeout`]).
    pub(super) async fn call_incoming_handler(
        &self,
        settings: &Settings,
        request: hyper::Request<Incoming>,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<hyper::Response<HyperOutgoingBody>> {
        let proxy = self.proxy.clone().context("no HTTP API")?;
        let after = self.call_time_limit(settings);
        let (mut store, stderr) = self.store(settings);
        let (sender, mut receiver) = tokio::sync::oneshot::channel();
        let body_timeout = self.limits.body_timeout;
        let (parts, body) = request.into_parts();
        let arrived = Arc::new(AtomicBool::new(body.is_end_stream()));
        let body = Arriving {
            body,
            arrived: Arc::clone(&arrived),
        };
        let incoming = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, hyper::Request::from_parts(parts, body))
            .map_err(anyhow::Error::from)?;
        let outparam = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(anyhow::Error::from)?;
        // The guest may go on writing the body after it has set the
        // response, so it runs in a task of its own, which keeps its place
        // among the instances, and its deadline, until it ends.
        let counted = self.metrics().instance();
        let task = tokio::spawn(
            async move {
                let _permit = permit;
                let _counted = counted;
                let result = limits::run_with_deadline(&mut store, after, async move |store| {
                    let proxy = proxy.instantiate_async(&mut *store).await?;
                    proxy
                        .wasi_http_incoming_handler()
                        .call_handle(store, incoming, outparam)
                        .await
                })
                .await;
                drop(store);
                log_stderr(&stderr);
                if let Err(e) = &result
                    && e.downcast_ref::<LimitExceeded>().is_some()
                {
                    tracing::warn!("{e}");
                }
                result
            }
            // The component's stderr lines belong to the request.
            .in_current_span(),
        );
        // A body still arriving at the body timeout ends the request, and
        // the instance waiting for it.
        let body_late = async {
            tokio::time::sleep(body_timeout).await;
            if arrived.load(Ordering::Acquire) {
                std::future::pending::<()>().await;
            }
        };
        let answered = tokio::select! {
            answered = &mut receiver => answered,
            () = body_late => {
                task.abort();
                return Err(LimitExceeded::BodyTimeout { after: body_timeout }.into());
            }
        };
        match answered {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => bail!("the component answered with error {code:?}"),
            Err(_) => match task.await {
                Ok(Ok(())) => bail!("the component never set a response"),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(e.into()),
            },
        }
    }
}
