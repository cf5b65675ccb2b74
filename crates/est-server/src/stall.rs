//! A listener on 127.0.0.1 that accepts TCP connections and never answers:
//! a TLS client's handshake never completes (the ClientHello is read and
//! dropped, and no ServerHello ever comes).

use crate::fault::STALL_LIMIT;
use crate::gauge::Gauge;
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running stalling listener; dropping it (or
/// [`StallingListener::shutdown`]) closes the port and every connection it
/// holds. Each connection is held until the client closes it, the listener
/// stops, or [`STALL_LIMIT`] passes.
pub struct StallingListener {
    addr: SocketAddr,
    gauge: Arc<Gauge>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl StallingListener {
    /// Binds `port` on 127.0.0.1 (0: any free port) and starts accepting.
    pub async fn start(port: u16) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .context("binding the stalling port")?;
        let addr = listener.local_addr()?;
        let gauge = Arc::new(Gauge::default());
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept(listener, Arc::clone(&gauge), stopped));
        Ok(Self {
            addr,
            gauge,
            stop,
            task: Some(task),
        })
    }

    /// The listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://localhost:PORT`, for an `est_host` whose handshake stalls.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// How many connections it has accepted so far.
    pub fn accepted(&self) -> u64 {
        self.gauge.accepted()
    }

    /// How many connections it holds now.
    pub fn open_connections(&self) -> usize {
        self.gauge.open()
    }

    /// Stops accepting, lets go of every connection and waits (at most a
    /// few seconds) until they are closed.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.gauge.wait_idle().await;
    }
}

impl Drop for StallingListener {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn accept(listener: TcpListener, gauge: Arc<Gauge>, mut stopped: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let Ok((tcp, _)) = accepted else { continue };
        let guard = gauge.enter();
        let stopped = stopped.clone();
        tokio::spawn(async move {
            let _guard = guard;
            hold(tcp, stopped).await;
        });
    }
}

/// Reads and drops whatever the client sends, never writes, and returns when
/// the client closes, the listener stops or [`STALL_LIMIT`] passes.
async fn hold(mut tcp: TcpStream, mut stopped: watch::Receiver<bool>) {
    let limit = tokio::time::sleep(STALL_LIMIT);
    tokio::pin!(limit);
    let mut buffer = [0u8; 4096];
    loop {
        tokio::select! {
            read = tcp.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = &mut limit => return,
            _ = stopped.changed() => return,
        }
    }
}
