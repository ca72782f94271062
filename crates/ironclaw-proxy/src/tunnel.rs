//! Byte pumping for CONNECT tunnels, with an idle timeout, a maximum lifetime and byte
//! counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, sleep_until};

/// How a tunnel ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TunnelEnd {
    /// One side closed and the other side's remaining bytes were delivered.
    Closed,
    /// Nothing moved in either direction for the idle timeout.
    Idle,
    /// The tunnel reached its maximum lifetime.
    MaxLifetime,
    /// A read or write failed.
    Error,
    /// The job was removed.
    JobRemoved,
}

/// Bytes moved through one tunnel, shared with the job's counters.
#[derive(Debug, Default)]
pub(crate) struct TunnelBytes {
    /// Client to upstream.
    pub(crate) up: AtomicU64,
    /// Upstream to client.
    pub(crate) down: AtomicU64,
}

/// The buffer each direction of a tunnel uses. Two per tunnel; they are only allocated
/// while data moves (see [`pump`]), so an idle tunnel holds no buffer.
const CHUNK: usize = 16 * 1024;

/// Copies bytes both ways until both directions are closed, nothing moves for `idle`,
/// or `max_lifetime` passes.
pub(crate) async fn pump<A, B>(
    client: A,
    upstream: B,
    idle: Duration,
    max_lifetime: Duration,
    bytes: Arc<TunnelBytes>,
) -> TunnelEnd
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut upstream_read, mut upstream_write) = tokio::io::split(upstream);
    let deadline = Instant::now() + max_lifetime;
    let last_activity = Arc::new(std::sync::Mutex::new(Instant::now()));

    let up = copy_half(
        &mut client_read,
        &mut upstream_write,
        &bytes.up,
        Arc::clone(&last_activity),
    );
    let down = copy_half(
        &mut upstream_read,
        &mut client_write,
        &bytes.down,
        Arc::clone(&last_activity),
    );
    let both = async {
        let (a, b) = tokio::join!(up, down);
        if a.is_err() || b.is_err() {
            TunnelEnd::Error
        } else {
            TunnelEnd::Closed
        }
    };
    let watchdog = async {
        loop {
            let idle_at = *last_activity.lock().unwrap_or_else(|e| e.into_inner()) + idle;
            let next = idle_at.min(deadline);
            sleep_until(next).await;
            let now = Instant::now();
            if now >= deadline {
                return TunnelEnd::MaxLifetime;
            }
            let idle_at = *last_activity.lock().unwrap_or_else(|e| e.into_inner()) + idle;
            if now >= idle_at {
                return TunnelEnd::Idle;
            }
        }
    };
    tokio::select! {
        end = both => end,
        end = watchdog => end,
    }
}

/// Copies one direction. The buffer is allocated per read burst and released when the
/// direction waits, so idle tunnels cost only their task and socket state.
async fn copy_half<R, W>(
    reader: &mut R,
    writer: &mut W,
    counter: &AtomicU64,
    last_activity: Arc<std::sync::Mutex<Instant>>,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        // Wait for readability with a one-byte probe so no large buffer is held while
        // the tunnel is idle.
        let mut first = [0u8; 1];
        let n = reader.read(&mut first).await?;
        if n == 0 {
            writer.shutdown().await.ok();
            return Ok(());
        }
        let mut buf = vec![0u8; CHUNK];
        buf[0] = first[0];
        let mut filled = 1;
        // Drain what is immediately available, up to one chunk.
        while filled < CHUNK {
            match tokio::time::timeout(Duration::ZERO, reader.read(&mut buf[filled..])).await {
                Ok(Ok(0)) | Err(_) => break,
                Ok(Ok(more)) => filled += more,
                Ok(Err(err)) => return Err(err),
            }
        }
        writer.write_all(&buf[..filled]).await?;
        writer.flush().await?;
        counter.fetch_add(filled as u64, Ordering::Relaxed);
        *last_activity.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    #[tokio::test]
    async fn moves_bytes_both_ways_and_counts_them() {
        let (client, mut client_peer) = duplex(64);
        let (upstream, mut upstream_peer) = duplex(64);
        let bytes = Arc::new(TunnelBytes::default());
        let task = tokio::spawn(pump(
            client,
            upstream,
            Duration::from_secs(5),
            Duration::from_secs(60),
            Arc::clone(&bytes),
        ));
        client_peer.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        upstream_peer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        upstream_peer.write_all(b"world!").await.unwrap();
        let mut buf = [0u8; 6];
        client_peer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"world!");
        drop(client_peer);
        drop(upstream_peer);
        assert_eq!(task.await.unwrap(), TunnelEnd::Closed);
        assert_eq!(bytes.up.load(Ordering::Relaxed), 5);
        assert_eq!(bytes.down.load(Ordering::Relaxed), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_tunnel_is_closed() {
        let (client, _client_peer) = duplex(64);
        let (upstream, _upstream_peer) = duplex(64);
        let end = pump(
            client,
            upstream,
            Duration::from_secs(30),
            Duration::from_secs(1800),
            Arc::default(),
        )
        .await;
        assert_eq!(end, TunnelEnd::Idle);
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_tunnel_still_ends_at_its_maximum_lifetime() {
        let (client, mut client_peer) = duplex(1 << 16);
        let (upstream, mut upstream_peer) = duplex(1 << 16);
        let pump_task = tokio::spawn(pump(
            client,
            upstream,
            Duration::from_secs(30),
            Duration::from_secs(1800),
            Arc::default(),
        ));
        let chatter = tokio::spawn(async move {
            let mut sink = vec![0u8; 1024];
            loop {
                if client_peer.write_all(b"ping").await.is_err() {
                    break;
                }
                if upstream_peer.read(&mut sink).await.unwrap_or(0) == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        });
        assert_eq!(pump_task.await.unwrap(), TunnelEnd::MaxLifetime);
        chatter.abort();
    }
}
