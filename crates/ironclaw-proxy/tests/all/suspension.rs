//! Auto-suspension: a skill's violations suspend it for every job of the skill, in a
//! file the CLI shares.

use ironclaw_policy::{StoreError, SuspensionState, update_json};

use super::*;

fn config() -> AutoSuspendConfig {
    AutoSuspendConfig {
        enabled: true,
        violations_per_window: 3,
        window_minutes: 10,
        suspend_duration_minutes: 60,
    }
}

async fn status(h: &Harness, token: &JobToken, url: &str) -> u16 {
    let request = format!(
        "GET {url} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Bearer {}\r\nConnection: close\r\n\r\n",
        token.expose()
    );
    raw_response(h.addr, request.as_bytes()).await.status
}

fn block_reasons(h: &Harness) -> Vec<String> {
    h.audited("NETWORK_BLOCK")
        .iter()
        .map(|b| b["reason"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn violations_suspend_the_skill_for_all_its_jobs_until_lifted() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let state_dir = tempfile::tempdir().unwrap();
    let path = state_dir.path().join("suspensions.json");
    let grants = vec![format!("api.test:{}", up_addr.port())];
    let h = start(Options {
        grants: grants.clone(),
        auto_suspend: Some((path.clone(), config())),
        ..Options::default()
    })
    .await;
    // A second job of the same skill, and one of another skill.
    let sibling = JobToken::generate().unwrap();
    let mut grant = JobGrant::new("job-2");
    grant.skill = Some("fetcher".to_owned());
    grant.network = NetworkAllowlist::new(&grants).unwrap();
    h.proxy.add_job(&sibling, grant);
    let stranger = JobToken::generate().unwrap();
    let mut grant = JobGrant::new("job-3");
    grant.skill = Some("other-skill".to_owned());
    grant.network = NetworkAllowlist::new(&grants).unwrap();
    h.proxy.add_job(&stranger, grant);

    let allowed = format!("http://api.test:{}/", up_addr.port());
    let denied = format!("http://other.test:{}/", up_addr.port());
    assert_eq!(status(&h, &h.token, &allowed).await, 200);
    // Three violations: two allowlist denials and a leak.
    assert_eq!(status(&h, &h.token, &denied).await, 403);
    assert_eq!(status(&h, &sibling, &denied).await, 403);
    assert!(h.audited("SKILL_SUSPENDED").is_empty());
    let leak = format!("{allowed}?k=AKIAIOSFODNN7EXAMPL3");
    assert_eq!(status(&h, &h.token, &leak).await, 403);
    let suspended = h.audited("SKILL_SUSPENDED");
    assert_eq!(suspended.len(), 1, "{suspended:?}");
    assert_eq!(suspended[0]["skill"], "fetcher");
    assert_eq!(suspended[0]["violations"], 3);
    assert_eq!(suspended[0]["by"], "auto");

    // Every job of the skill is refused, even where its grant allows; others are not.
    assert_eq!(status(&h, &h.token, &allowed).await, 403);
    assert_eq!(status(&h, &sibling, &allowed).await, 403);
    assert_eq!(status(&h, &stranger, &allowed).await, 200);
    assert_eq!(upstream.hits(), 2);
    let reasons = block_reasons(&h);
    assert_eq!(
        reasons.iter().filter(|r| *r == "skill suspended").count(),
        2,
        "{reasons:?}"
    );
    // Refusals while suspended are not violations: still one suspension.
    assert_eq!(h.audited("SKILL_SUSPENDED").len(), 1);

    // The state is in the file: a new proxy on the same file refuses at once.
    let restarted = start(Options {
        grants: grants.clone(),
        auto_suspend: Some((path.clone(), config())),
        ..Options::default()
    })
    .await;
    assert_eq!(status(&restarted, &restarted.token, &allowed).await, 403);

    // What `ironclaw allowlist unsuspend fetcher` does; it takes effect at the next
    // request, in both proxies.
    let lifted = update_json(&path, |state: &mut SuspensionState| {
        Ok::<_, StoreError>(state.unsuspend("fetcher"))
    })
    .unwrap();
    assert!(lifted);
    assert_eq!(status(&h, &h.token, &allowed).await, 200);
    assert_eq!(status(&h, &sibling, &allowed).await, 200);
    assert_eq!(status(&restarted, &restarted.token, &allowed).await, 200);
    assert_eq!(upstream.hits(), 5);
}

#[tokio::test]
async fn an_operator_suspension_or_an_unreadable_file_refuses_the_skill() {
    let (up_addr, upstream) = spawn_http_upstream(Ipv4Addr::LOCALHOST).await;
    let state_dir = tempfile::tempdir().unwrap();
    let path = state_dir.path().join("suspensions.json");
    let h = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        auto_suspend: Some((path.clone(), config())),
        ..Options::default()
    })
    .await;
    let allowed = format!("http://api.test:{}/", up_addr.port());
    assert_eq!(status(&h, &h.token, &allowed).await, 200);
    // What `ironclaw allowlist suspend fetcher` does while the proxy runs: noticed
    // within the proxy's poll interval (a second).
    update_json(&path, |state: &mut SuspensionState| {
        state
            .skills
            .entry("fetcher".to_owned())
            .or_default()
            .suspended_until = Some(u64::MAX);
        Ok::<_, StoreError>(())
    })
    .unwrap();
    let mut last = 0;
    for _ in 0..40 {
        last = status(&h, &h.token, &allowed).await;
        if last == 403 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last, 403);
    // A file that cannot be parsed fails closed, and a repaired one opens again.
    let before = upstream.hits();
    std::fs::write(&path, "{ this is not json").unwrap();
    let restarted = start(Options {
        grants: vec![format!("api.test:{}", up_addr.port())],
        auto_suspend: Some((path.clone(), config())),
        ..Options::default()
    })
    .await;
    assert_eq!(status(&restarted, &restarted.token, &allowed).await, 403);
    assert!(
        block_reasons(&restarted)
            .iter()
            .any(|r| r.contains("cannot be read")),
        "{:?}",
        block_reasons(&restarted)
    );
    std::fs::write(&path, "{}").unwrap();
    assert_eq!(status(&restarted, &restarted.token, &allowed).await, 200);
    assert_eq!(upstream.hits(), before + 1);
}
