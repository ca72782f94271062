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

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;

/// Most idle connections kept per (job, address).
const MAX_IDLE_PER_KEY: usize = 16;
/// Most (job, address) keys kept; past this the pool is cleared.
const MAX_KEYS: usize = 4096;

type Sender = SendRequest<Full<Bytes>>;

#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<(String, SocketAddr), Vec<Sender>>>,
}

impl Pool {
    /// An idle connection that is not known to be closed, if any. Only connections
    /// whose last response was read to the end are in the pool; the caller waits for
    /// readiness before use.
    pub(crate) fn take(&self, job: &str, addr: SocketAddr) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let senders = idle.get_mut(&(job.to_owned(), addr))?;
        while let Some(sender) = senders.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    /// Keeps a connection whose last response was read to the end.
    pub(crate) fn put(&self, job: &str, addr: SocketAddr, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() >= MAX_KEYS {
            idle.clear();
        }
        let senders = idle.entry((job.to_owned(), addr)).or_default();
        senders.retain(|sender| !sender.is_closed());
        if senders.len() < MAX_IDLE_PER_KEY {
            senders.push(sender);
        }
    }

    /// Forgets every connection of a job (when it is removed).
    pub(crate) fn forget_job(&self, job: &str) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(|(owner, _), _| owner != job);
    }
}
