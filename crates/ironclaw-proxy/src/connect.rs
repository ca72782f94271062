//! CONNECT tunnels (HTTPS): allowlist by host and port, resolve and check once, connect
//! to the checked address, then pump bytes with an idle timeout and a maximum lifetime.
//! Tunnelled bytes are encrypted end to end, so they are neither scanned nor given
//! credentials, by design.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::OwnedSemaphorePermit;

use crate::job::{JobState, normalized};
use crate::server::{
    ProxyBody, Shared, allowed_rule, audit_block, audit_leak, audit_resource, authority_port,
    connect_checked, deny, deny_resolution, deny_violation, proxy_auth_required, resolve,
    text_response, violation,
};
use crate::tunnel::{TunnelBytes, TunnelEnd, pump};

pub(crate) async fn handle(
    shared: &Arc<Shared>,
    job: &Arc<JobState>,
    request: Request<Incoming>,
    request_slot: OwnedSemaphorePermit,
) -> Response<ProxyBody> {
    let Some(authority) = request.uri().authority().cloned() else {
        return deny(
            shared,
            job,
            "-",
            StatusCode::BAD_REQUEST,
            "connect target must be host:port",
        )
        .await;
    };
    let resource = audit_resource(request.uri());
    let port = match authority_port(&authority) {
        Ok(Some(port)) => port,
        Ok(None) => {
            let reason = "connect target must name a port";
            return deny(shared, job, &resource, StatusCode::BAD_REQUEST, reason).await;
        }
        Err(why) => return deny(shared, job, &resource, StatusCode::BAD_REQUEST, why).await,
    };
    let Some(host) = normalized(authority.host()) else {
        return deny(
            shared,
            job,
            &resource,
            StatusCode::BAD_REQUEST,
            "invalid host",
        )
        .await;
    };
    if allowed_rule(shared, job, &host, port, 443).is_none() {
        let reason = if job.grant.network.is_empty() && shared.global.is_empty() {
            "no hosts are allowed for this job (empty allowlist)"
        } else {
            "host and port not in the job's allowlist"
        };
        return deny_violation(shared, job, &resource, StatusCode::FORBIDDEN, reason).await;
    }
    // The name is about to be looked up: a secret in it would leave through DNS.
    if let Some(kinds) = leaks_in_target(shared, authority.as_str()) {
        job.count_denied();
        audit_leak(shared, job, &resource, "request", &kinds).await;
        violation(shared, job).await;
        return text_response(
            StatusCode::FORBIDDEN,
            "ironclaw proxy: request blocked: it contains a secret\n",
        );
    }
    let Ok(tunnel_slot) = Arc::clone(&job.tunnels).try_acquire_owned() else {
        return deny(
            shared,
            job,
            &resource,
            StatusCode::TOO_MANY_REQUESTS,
            "too many open tunnels",
        )
        .await;
    };
    let addrs = match resolve(shared, &host, port).await {
        Ok(addrs) => addrs,
        Err(resolution) => return deny_resolution(shared, job, &resource, resolution).await,
    };
    let (upstream, _addr) = match connect_checked(shared, &addrs).await {
        Ok(connected) => connected,
        Err(why) => return deny(shared, job, &resource, StatusCode::BAD_GATEWAY, &why).await,
    };
    if job.is_removed() {
        audit_block(shared, Some(job), &resource, "job removed").await;
        return proxy_auth_required();
    }
    job.count_allowed();
    let job = Arc::clone(job);
    let removal = job.removal();
    let timeouts = shared.config.timeouts.clone();
    tokio::spawn(async move {
        let _slots = (tunnel_slot, request_slot);
        let Ok(upgraded) = hyper::upgrade::on(request).await else {
            return;
        };
        let bytes = Arc::new(TunnelBytes::default());
        let tunnel = pump(
            TokioIo::new(upgraded),
            upstream,
            timeouts.tunnel_idle,
            timeouts.tunnel_max,
            Arc::clone(&bytes),
        );
        // Removing the job closes its tunnels (both sockets are dropped).
        let end = tokio::select! {
            end = tunnel => end,
            () = removal => TunnelEnd::JobRemoved,
        };
        job.bytes_up
            .fetch_add(bytes.up.load(Ordering::Relaxed), Ordering::Relaxed);
        job.bytes_down
            .fetch_add(bytes.down.load(Ordering::Relaxed), Ordering::Relaxed);
        if end != TunnelEnd::Closed {
            tracing::debug!(job = job.id(), ?end, "tunnel ended");
        }
    });
    text_response(StatusCode::OK, "")
}

/// The kinds of leak in a CONNECT target, as written and upper-cased (credential
/// patterns are mostly upper case, and a host name's case is the client's choice).
fn leaks_in_target(shared: &Shared, target: &str) -> Option<String> {
    let detector = Arc::clone(&shared.leaks.read().unwrap_or_else(|e| e.into_inner()));
    let mut kinds: Vec<String> = [target.to_owned(), target.to_ascii_uppercase()]
        .iter()
        .flat_map(|text| detector.scan(text.as_bytes()))
        .map(|finding| finding.kind().to_owned())
        .collect();
    kinds.sort();
    kinds.dedup();
    (!kinds.is_empty()).then(|| kinds.join(","))
}
