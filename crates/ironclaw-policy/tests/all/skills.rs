//! A skill's life: installed, refused, granted, updated, violating, suspended.

use ironclaw_policy::{
    Allowlist, Authorization, AutoSuspendConfig, DenyEvent, HomeLayout, InstalledSkill,
    SkillPolicy, SuspensionState, Verdict, load_json, update_json,
};

fn install(home: &HomeLayout, caps: &str) -> InstalledSkill {
    let dir = home.skill_dir("github");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("skill.json"),
        r#"{"name": "github", "version": "1.0.0", "kind": "wasm", "entry": "github.wasm", "description": "repos"}"#,
    )
    .unwrap();
    std::fs::write(dir.join("capabilities.json"), caps).unwrap();
    InstalledSkill::load(&dir).unwrap()
}

fn authorize(home: &HomeLayout, skill: &InstalledSkill, now: u64) -> Authorization {
    let list: Allowlist = load_json(&home.allowlist()).unwrap();
    let state: SuspensionState = load_json(&home.suspensions()).unwrap();
    let requested = skill.capabilities.requested().unwrap();
    list.authorize(
        &skill.manifest.name,
        Some(&skill.digest),
        &requested,
        state.suspended_until(&skill.manifest.name, now),
    )
}

#[test]
fn lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let home = HomeLayout::new(dir.path());
    let caps = r#"{"http": {"allowlist": [{"host": "api.github.com", "path_prefix": "/repos/"}]},
                   "env": ["GITHUB_USER"]}"#;
    let skill = install(&home, caps);

    // Default deny.
    match authorize(&home, &skill, 0) {
        Authorization::Denied { event, .. } => assert_eq!(event, DenyEvent::AllowlistDeny),
        other => panic!("{other:?}"),
    }

    // Granted what it asks.
    let grants = skill.capabilities.requested().unwrap();
    update_json(&home.allowlist(), |list: &mut Allowlist| {
        list.grant("github", &grants, Some(skill.digest.clone()))
    })
    .unwrap();
    let Authorization::Authorized {
        effective,
        not_granted,
        digest_changed,
    } = authorize(&home, &skill, 0)
    else {
        panic!("not authorised");
    };
    assert!(not_granted.is_empty() && !digest_changed);
    let policy = SkillPolicy::new(&home, "github", *effective);
    assert!(policy.check_network("api.github.com", 443).is_allowed());
    assert!(policy.check_env("GITHUB_USER").is_allowed());

    // An update asks for more and gets nothing more.
    let updated = install(
        &home,
        r#"{"http": {"allowlist": [{"host": "api.github.com"}, {"host": "exfil.example"}]},
            "env": ["GITHUB_USER", "GITHUB_TOKEN"], "shell": true}"#,
    );
    let Authorization::Authorized {
        effective,
        not_granted,
        digest_changed,
    } = authorize(&home, &updated, 0)
    else {
        panic!("not authorised");
    };
    assert!(digest_changed);
    assert_eq!(
        not_granted.describe(),
        ["network:exfil.example", "env:GITHUB_TOKEN", "shell"]
    );
    let policy = SkillPolicy::new(&home, "github", *effective);
    let verdicts = [
        policy.check_network("exfil.example", 443),
        policy.check_env("GITHUB_TOKEN"),
        policy.check_shell(),
        policy.check_secret("github_token"),
    ];
    let cfg = AutoSuspendConfig::default();
    let mut suspended = None;
    for (i, verdict) in verdicts.iter().cycle().take(5).enumerate() {
        let Verdict::Deny { event, .. } = verdict else {
            panic!("{verdict:?} should be refused");
        };
        assert!(event.is_violation());
        suspended =
            SuspensionState::record_in_file(&home.suspensions(), &cfg, "github", i as u64 * 1000)
                .unwrap();
    }
    let suspension = suspended.expect("five violations in ten minutes suspend");
    assert_eq!(suspension.until_ms, 4000 + 60 * 60_000);

    // Suspended is treated as not authorised, across a "restart" (state reloaded).
    match authorize(&home, &updated, 10_000) {
        Authorization::Denied { event, .. } => assert_eq!(event, DenyEvent::SkillSuspended),
        other => panic!("{other:?}"),
    }
    // Until it expires or is lifted.
    assert!(matches!(
        authorize(&home, &updated, suspension.until_ms),
        Authorization::Authorized { .. }
    ));
    update_json(&home.suspensions(), |s: &mut SuspensionState| {
        Ok::<_, ironclaw_policy::StoreError>(s.unsuspend("github"))
    })
    .unwrap();
    assert!(matches!(
        authorize(&home, &updated, 10_000),
        Authorization::Authorized { .. }
    ));

    // Removed: never runs again.
    update_json(&home.allowlist(), |list: &mut Allowlist| {
        list.remove("github")
    })
    .unwrap();
    assert!(matches!(
        authorize(&home, &updated, 0),
        Authorization::Denied { .. }
    ));
}
