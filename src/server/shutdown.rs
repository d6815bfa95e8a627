//! Graceful shutdown: stop accepting, let in-flight requests finish (axum
//! does that for HTTP), and close every websocket with 1001 "going away"
//! (axum cannot: upgraded connections are detached from the server).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// The shutdown signal shared by the server and its websocket tasks.
#[derive(Clone)]
pub struct Shutdown {
    signal: Arc<watch::Sender<bool>>,
    open_sockets: Arc<AtomicUsize>,
    drained: Arc<Notify>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A signal not yet triggered.
    pub fn new() -> Self {
        Self {
            signal: Arc::new(watch::channel(false).0),
            open_sockets: Arc::new(AtomicUsize::new(0)),
            drained: Arc::new(Notify::new()),
        }
    }

    /// Starts the shutdown.
    pub fn trigger(&self) {
        self.signal.send_replace(true);
    }

    /// Resolves once the shutdown has started.
    pub async fn triggered(&self) {
        let mut rx = self.signal.subscribe();
        let _ = rx.wait_for(|started| *started).await;
    }

    /// Registers an open websocket until the guard drops.
    pub fn socket_guard(&self) -> SocketGuard {
        self.open_sockets.fetch_add(1, Ordering::SeqCst);
        SocketGuard(self.clone())
    }

    /// Waits until every websocket has closed, at most `timeout`.
    pub async fn drained(&self, timeout: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.drained.notified();
                if self.open_sockets.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}

/// Counts one open websocket.
pub struct SocketGuard(Shutdown);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        if self.0.open_sockets.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.drained.notify_waiters();
        }
    }
}
