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

use crate::job::JobState;

/// Most idle connections kept per (job, address).
const MAX_IDLE_PER_KEY: usize = 16;
/// Most (job, address) keys kept; past this the pool is cleared.
const MAX_KEYS: usize = 4096;

type Sender = SendRequest<Full<Bytes>>;

/// Idle connections by job instance ([`JobState::instance`]) and checked address.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<(u64, SocketAddr), Vec<Sender>>>,
}

impl Pool {
    /// An idle connection that is not known to be closed, if any. Only connections
    /// whose last response was read to the end are in the pool; the caller waits for
    /// readiness before use.
    pub(crate) fn take(&self, job: &JobState, addr: SocketAddr) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let senders = idle.get_mut(&(job.instance, addr))?;
        while let Some(sender) = senders.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    /// Keeps a connection whose last response was read to the end, unless its job
    /// has been removed (checked under the lock [`Pool::forget_job`] takes, so a
    /// connection released while its job is removed is dropped, not kept).
    pub(crate) fn put(&self, job: &JobState, addr: SocketAddr, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if job.is_removed() {
            return;
        }
        if idle.len() >= MAX_KEYS {
            idle.clear();
        }
        let senders = idle.entry((job.instance, addr)).or_default();
        senders.retain(|sender| !sender.is_closed());
        if senders.len() < MAX_IDLE_PER_KEY {
            senders.push(sender);
        }
    }

    /// Drops every idle connection of a removed job (which closes them).
    pub(crate) fn forget_job(&self, job: &JobState) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(|(owner, _), _| *owner != job.instance);
    }
}
