//! Serving on several threads, each running a single-threaded tokio runtime of its
//! own, so that one connection's work never leaves its thread.
//!
//! One proxied request wakes several tasks: the client connection, the upstream
//! connection hyper drives on a task of its own, and the response body between them.
//! On a multi-thread runtime tokio may run these on different worker threads, and
//! each cross-thread wake-up costs more than the proxy's own work for a small
//! request. Here a connection and every task it spawns (its upstream connections,
//! its tunnels) run on the thread that serves it. Blocking work (name lookups, audit
//! writes, decompression, secret reads) still goes to that runtime's blocking threads.
//!
//! The calling thread accepts and serves too; it hands each new connection to the
//! thread that is serving the fewest (itself first when they are level). The price:
//! no work stealing, so a connection that keeps its thread busy (a large body being
//! scanned) delays the other connections of that thread.

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::error::ProxyError;
use crate::server::{Admitted, Proxy, Shared, serve_connection};

/// How long a stopping thread waits for its blocking tasks (a name lookup, an audit
/// write) before it leaves them behind.
const STOP_GRACE: Duration = Duration::from_secs(1);

impl Proxy {
    /// Serves connections from `listener` on `threads` threads, each with a
    /// single-threaded tokio runtime, until `shutdown` completes (then `Ok`) or
    /// accepting fails. Blocks the calling thread, which is one of the threads; call
    /// it outside any tokio runtime. `shutdown` is polled on the calling thread's
    /// runtime, so it may use tokio (for example `tokio::signal::ctrl_c`).
    ///
    /// A connection and everything it spawns stay on one thread, which keeps the
    /// latency a request adds low. Use [`Proxy::serve`] to run the proxy on a runtime
    /// of your own instead.
    pub fn serve_on_threads<F>(
        &self,
        listener: std::net::TcpListener,
        threads: NonZeroUsize,
        shutdown: F,
    ) -> Result<(), ProxyError>
    where
        F: Future<Output = ()>,
    {
        listener.set_nonblocking(true).map_err(ProxyError::Accept)?;
        let load: Arc<[AtomicUsize]> = (0..threads.get()).map(|_| AtomicUsize::new(0)).collect();
        let mut workers = Vec::with_capacity(threads.get() - 1);
        for index in 1..threads.get() {
            workers.push(Worker::start(index)?);
        }
        let runtime = runtime()?;
        let served = runtime.block_on(async {
            tokio::spawn(keep_a_timer_due_soon());
            let listener = TcpListener::from_std(listener).map_err(ProxyError::Accept)?;
            let acceptor = Acceptor {
                proxy: self,
                workers: &workers,
                load: &load,
            };
            tokio::select! {
                served = acceptor.run(listener) => served,
                () = shutdown => Ok(()),
            }
        });
        runtime.shutdown_timeout(STOP_GRACE);
        for worker in workers {
            worker.stop();
        }
        served
    }
}

fn runtime() -> Result<Runtime, ProxyError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ProxyError::Runtime)
}

/// How often [`keep_a_timer_due_soon`] fires: well under the header-read timeout.
const TIMER_FLOOR: Duration = Duration::from_secs(10);

/// Keeps a timer due within [`TIMER_FLOOR`] on this thread's runtime, for as long as
/// the runtime runs.
///
/// tokio wakes its own driver (an eventfd write, then one more `epoll_wait`) when a
/// timer is armed that is due before the driver's planned wake-up. Without a timer
/// due soon, the earliest one while a request waits for its upstream is the response
/// timeout (a minute by default), so the header-read timeout hyper arms again after
/// each response (30 s) is always earlier: every request paid two more system calls,
/// and the thread stayed runnable just after it had woken its client, instead of
/// going to sleep. A 10-second timer costs one wake-up per 10 seconds.
async fn keep_a_timer_due_soon() {
    let mut tick = tokio::time::interval(TIMER_FLOOR);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
    }
}

/// A connection handed from the accepting thread to the thread that serves it.
struct Handoff {
    shared: Arc<Shared>,
    stream: std::net::TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    load: Load,
}

/// A serving thread other than the calling one.
struct Worker {
    handoffs: UnboundedSender<Handoff>,
    thread: JoinHandle<()>,
}

impl Worker {
    fn start(index: usize) -> Result<Self, ProxyError> {
        let runtime = runtime()?;
        let (handoffs, received) = unbounded_channel();
        let thread = std::thread::Builder::new()
            .name(format!("ironclaw-proxy-{index}"))
            .spawn(move || {
                runtime.block_on(async {
                    tokio::spawn(keep_a_timer_due_soon());
                    serve_handoffs(received).await;
                });
                runtime.shutdown_timeout(STOP_GRACE);
            })
            .map_err(ProxyError::Runtime)?;
        Ok(Self { handoffs, thread })
    }

    /// Stops taking connections, drops the ones being served, and waits for the thread.
    fn stop(self) {
        drop(self.handoffs);
        if self.thread.join().is_err() {
            tracing::error!("a proxy serving thread panicked");
        }
    }
}

/// Serves every connection handed to this thread, until the acceptor goes away.
async fn serve_handoffs(mut received: UnboundedReceiver<Handoff>) {
    while let Some(handoff) = received.recv().await {
        serve_here(handoff);
    }
}

/// Serves a handed-off connection on the current thread's runtime.
fn serve_here(handoff: Handoff) {
    let Handoff {
        shared,
        stream,
        peer,
        permit,
        load,
    } = handoff;
    match TcpStream::from_std(stream) {
        Ok(stream) => spawn_connection(shared, stream, peer, permit, load),
        Err(err) => tracing::warn!(%peer, error = %err, "cannot serve a connection; dropped"),
    }
}

/// Serves a connection on a task of the current thread's runtime; its slot and its
/// count against the thread are released when it ends.
fn spawn_connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    load: Load,
) {
    tokio::spawn(async move {
        serve_connection(shared, stream, peer, permit).await;
        drop(load);
    });
}

/// Accepts connections and spreads them over the threads.
struct Acceptor<'a> {
    proxy: &'a Proxy,
    workers: &'a [Worker],
    load: &'a Arc<[AtomicUsize]>,
}

impl Acceptor<'_> {
    async fn run(&self, listener: TcpListener) -> Result<(), ProxyError> {
        loop {
            let (stream, peer) = listener.accept().await.map_err(ProxyError::Accept)?;
            let Some(Admitted { stream, permit }) = self.proxy.admit(stream, peer) else {
                continue;
            };
            let index = least_loaded(self.load);
            let load = Load::take(self.load, index);
            let shared = Arc::clone(self.proxy.shared());
            let Some(worker) = index.checked_sub(1).and_then(|i| self.workers.get(i)) else {
                spawn_connection(shared, stream, peer, permit, load);
                continue;
            };
            // The stream leaves this thread's reactor and joins the other thread's.
            let stream = match stream.into_std() {
                Ok(stream) => stream,
                Err(err) => {
                    tracing::warn!(%peer, error = %err, "cannot hand a connection over; dropped");
                    continue;
                }
            };
            let handoff = Handoff {
                shared,
                stream,
                peer,
                permit,
                load,
            };
            if let Err(returned) = worker.handoffs.send(handoff) {
                // That thread is gone (it can only have panicked): serve here.
                serve_here(returned.0);
            }
        }
    }
}

/// The index of the thread serving the fewest connections (the lowest on a tie).
fn least_loaded(load: &[AtomicUsize]) -> usize {
    load.iter()
        .enumerate()
        .min_by_key(|(_, count)| count.load(Ordering::Relaxed))
        .map_or(0, |(index, _)| index)
}

/// One connection counted against a thread, until it is dropped.
struct Load {
    counts: Arc<[AtomicUsize]>,
    index: usize,
}

impl Load {
    fn take(counts: &Arc<[AtomicUsize]>, index: usize) -> Self {
        if let Some(count) = counts.get(index) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        Self {
            counts: Arc::clone(counts),
            index,
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        if let Some(count) = self.counts.get(self.index) {
            count.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_go_to_the_thread_serving_the_fewest() {
        let counts: Arc<[AtomicUsize]> = (0..3).map(|_| AtomicUsize::new(0)).collect();
        let mut held = Vec::new();
        let mut chosen = Vec::new();
        for _ in 0..4 {
            let index = least_loaded(&counts);
            chosen.push(index);
            held.push(Load::take(&counts, index));
        }
        assert_eq!(chosen, [0, 1, 2, 0]);
        // The connection on thread 1 ends: thread 1 is the next one chosen.
        held.remove(1);
        assert_eq!(least_loaded(&counts), 1);
        drop(held);
        assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 0));
    }
}
