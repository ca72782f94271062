//! Idle upstream connections for plain HTTP, kept per job and per checked address so
//! a keep-alive client does not pay a TCP handshake per request.
//!
//! A connection is only ever reused for the same job and the same checked socket
//! address it was opened to, so pooling never skips a policy check: every request is
//! still authorised, resolved (or read from its literal) and checked before a pooled
//! connection to that address is taken.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::thread::ThreadId;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;

use crate::job::JobState;

/// Most idle connections kept per (job, address).
const MAX_IDLE_PER_KEY: usize = 16;
/// Most (job, address) keys kept; past this the pool is cleared.
const MAX_KEYS: usize = 4096;

/// A client connection to an upstream, and the thread it was opened on.
///
/// hyper drives the connection on a task spawned where it was opened; on a
/// single-threaded runtime ([`crate::Proxy::serve_on_threads`]) that task stays on that
/// thread, so a request from the same thread uses it without waking another thread.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub(crate) sender: SendRequest<Full<Bytes>>,
    home: ThreadId,
}

impl Upstream {
    /// A connection whose task was just spawned on the current thread.
    pub(crate) fn new(sender: SendRequest<Full<Bytes>>) -> Self {
        Self {
            sender,
            home: std::thread::current().id(),
        }
    }
}

/// Idle connections by job instance ([`JobState::instance`]) and checked address.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<(u64, SocketAddr), Vec<Upstream>>>,
}

impl Pool {
    /// An idle connection that is not known to be closed, if any: the most recently
    /// released one opened on the calling thread, else the most recently released
    /// one. Only connections whose last response was read to the end are in the
    /// pool; the caller waits for readiness before use.
    pub(crate) fn take(&self, job: &JobState, addr: SocketAddr) -> Option<Upstream> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let upstreams = idle.get_mut(&(job.instance, addr))?;
        upstreams.retain(|upstream| !upstream.sender.is_closed());
        let here = std::thread::current().id();
        let at = upstreams
            .iter()
            .rposition(|upstream| upstream.home == here)
            .or_else(|| upstreams.len().checked_sub(1))?;
        Some(upstreams.remove(at))
    }

    /// Keeps a connection whose last response was read to the end, unless its job
    /// has been removed (checked under the lock [`Pool::forget_job`] takes, so a
    /// connection released while its job is removed is dropped, not kept).
    pub(crate) fn put(&self, job: &JobState, addr: SocketAddr, upstream: Upstream) {
        if upstream.sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if job.is_removed() {
            return;
        }
        if idle.len() >= MAX_KEYS {
            idle.clear();
        }
        let upstreams = idle.entry((job.instance, addr)).or_default();
        upstreams.retain(|upstream| !upstream.sender.is_closed());
        if upstreams.len() < MAX_IDLE_PER_KEY {
            upstreams.push(upstream);
        }
    }

    /// Drops every idle connection of a removed job (which closes them).
    pub(crate) fn forget_job(&self, job: &JobState) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(|(owner, _), _| *owner != job.instance);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Limits;
    use crate::job::JobGrant;

    /// A client connection over an in-memory pipe; the returned guard keeps it open.
    async fn upstream(home: ThreadId) -> (Upstream, impl Sized) {
        let (client, server) = tokio::io::duplex(1024);
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(client))
                .await
                .unwrap();
        (Upstream { sender, home }, (connection, server))
    }

    #[tokio::test]
    async fn a_connection_opened_on_the_calling_thread_is_taken_first() {
        let pool = Pool::default();
        let job = JobState::new(JobGrant::new("job"), &Limits::default());
        let addr: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let here = std::thread::current().id();
        let elsewhere = std::thread::spawn(|| std::thread::current().id())
            .join()
            .unwrap();
        let (local, _local) = upstream(here).await;
        let (remote, _remote) = upstream(elsewhere).await;
        pool.put(&job, addr, local);
        pool.put(&job, addr, remote);
        // The other thread's connection was released last, but this thread's is taken.
        assert_eq!(pool.take(&job, addr).unwrap().home, here);
        // With none of this thread's left, another thread's connection still serves.
        assert_eq!(pool.take(&job, addr).unwrap().home, elsewhere);
        assert!(pool.take(&job, addr).is_none());
    }
}
