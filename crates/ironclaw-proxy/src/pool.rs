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
    /// An open connection ready for a request, if one is idle.
    pub(crate) fn take(&self, job: &str, addr: SocketAddr) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let senders = idle.get_mut(&(job.to_owned(), addr))?;
        // Drop closed connections; keep busy ones (their response is still streaming).
        senders.retain(|sender| !sender.is_closed());
        let ready = senders.iter().position(Sender::is_ready)?;
        Some(senders.swap_remove(ready))
    }

    /// Keeps a connection for later. It may still be busy; `take` only hands out
    /// ready ones.
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
