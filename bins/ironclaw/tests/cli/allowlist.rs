//! `ironclaw allowlist`, run as a binary in a temporary home.

use std::path::Path;
use std::process::{Command, Stdio};

fn cmd(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ironclaw"));
    c.arg("--home")
        .arg(home)
        .args(args)
        .env("HOME", home)
        .stdin(Stdio::null());
    c
}

fn ironclaw(home: &Path, args: &[&str]) -> (i32, String, String) {
    let out = cmd(home, args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn list_json(home: &Path) -> serde_json::Value {
    let (code, out, err) = ironclaw(home, &["allowlist", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn audit_events(home: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(home.join("audit.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn grant_without_flags_authorises_the_workspace_only() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("skills/github")).unwrap();
    std::fs::write(home.path().join("skills/github/skill.json"), "{}").unwrap();
    let (code, out, _) = ironclaw(home.path(), &["allowlist", "grant", "github"]);
    assert_eq!(code, 0);
    assert!(out.contains("own workspace only"));
    let list = list_json(home.path());
    assert_eq!(list[0]["skill"], "github");
    assert_eq!(list[0]["grants"], serde_json::json!({}));
    assert!(list[0]["digest"].as_str().unwrap().starts_with("sha256:"));
    let events = audit_events(home.path());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event"], "ALLOWLIST_CHANGE");
    assert_eq!(events[0]["action"], "grant");
}

#[test]
fn grants_revokes_and_removal_are_recorded() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let (code, _, err) = ironclaw(
        h,
        &[
            "allowlist",
            "grant",
            "himalaya",
            "--network",
            "imap.gmail.com:993",
            "--network",
            "smtp.gmail.com:587",
            "--filesystem",
            "~/.ironclaw/workspace/shared:ro",
            "--env",
            "IMAP_USER",
            "--secret",
            "gmail_password",
            "--tool",
            "summarize",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let list = list_json(h);
    let grants = &list[0]["grants"];
    assert_eq!(
        grants["network"],
        serde_json::json!(["imap.gmail.com:993", "smtp.gmail.com:587"])
    );
    let shared = format!("{}/.ironclaw/workspace/shared:ro", h.display());
    assert_eq!(grants["filesystem"], serde_json::json!([shared]));
    let (code, _, _) = ironclaw(
        h,
        &[
            "allowlist",
            "revoke",
            "himalaya",
            "--network",
            "smtp.gmail.com:587",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(
        list_json(h)[0]["grants"]["network"],
        serde_json::json!(["imap.gmail.com:993"])
    );
    assert_eq!(ironclaw(h, &["allowlist", "remove", "himalaya"]).0, 0);
    assert_eq!(list_json(h), serde_json::json!([]));
    assert_eq!(ironclaw(h, &["allowlist", "remove", "himalaya"]).0, 2);
    assert_eq!(
        ironclaw(h, &["allowlist", "revoke", "nobody", "--env", "X"]).0,
        2
    );
    let actions: Vec<String> = audit_events(h)
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["grant", "revoke", "remove"]);
}

#[test]
fn invalid_grants_are_refused_and_change_nothing() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for args in [
        &["allowlist", "grant", "x", "--network", "*"][..],
        &["allowlist", "grant", "x", "--network", "*.com"],
        &["allowlist", "grant", "x", "--network", "a.com:70000"],
        &["allowlist", "grant", "x", "--filesystem", "/etc"],
        &["allowlist", "grant", "x", "--filesystem", "/a/../etc:ro"],
        &["allowlist", "grant", "x", "--filesystem", "relative:ro"],
        &["allowlist", "grant", "x", "--env", "A-B"],
        &["allowlist", "grant", "../evil"],
        &["allowlist", "grant", "x", "--env", "OPENAI_API_KEY"],
        &["allowlist", "grant", "x", "--env", "GITHUB_TOKEN"],
    ] {
        let (code, _, err) = ironclaw(h, args);
        assert_eq!(code, 2, "{args:?}: {err}");
    }
    assert_eq!(list_json(h), serde_json::json!([]));
    assert!(audit_events(h).is_empty());
    let (_, _, err) = ironclaw(h, &["allowlist", "grant", "x", "--env", "GITHUB_TOKEN"]);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(
        ironclaw(
            h,
            &["allowlist", "grant", "x", "--env", "GITHUB_TOKEN", "--yes"]
        )
        .0,
        0
    );
}

#[test]
fn suspension_persists_until_unsuspended() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    assert_eq!(ironclaw(h, &["allowlist", "grant", "github"]).0, 0);
    assert_eq!(
        ironclaw(h, &["allowlist", "suspend", "github", "--minutes", "30"]).0,
        0
    );
    assert!(list_json(h)[0]["suspendedUntilMs"].is_u64());
    let (_, out, _) = ironclaw(h, &["allowlist", "list"]);
    assert!(out.contains("SUSPENDED"), "{out}");
    assert_eq!(ironclaw(h, &["allowlist", "unsuspend", "github"]).0, 0);
    assert!(list_json(h)[0]["suspendedUntilMs"].is_null());
    let events = audit_events(h);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["ALLOWLIST_CHANGE", "SKILL_SUSPENDED", "ALLOWLIST_CHANGE"]
    );
    assert_eq!(events[2]["action"], "unsuspend");
}

#[test]
fn concurrent_grants_from_many_processes_are_all_kept() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let children: Vec<_> = (0..12)
        .map(|i| {
            let var = format!("VAR_{i}");
            cmd(h, &["allowlist", "grant", "racer", "--env", &var])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let env = list_json(h)[0]["grants"]["env"].as_array().unwrap().len();
    assert_eq!(env, 12);
    assert_eq!(audit_events(h).len(), 12);
    // The twelve records from twelve processes form one unbroken chain.
    let (code, out, err) = ironclaw(h, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn an_updated_skill_keeps_old_grants_and_list_says_what_it_lacks() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let dir = h.join("skills/github");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("skill.json"),
        r#"{"name": "github", "version": "1.0.0", "kind": "wasm", "entry": "github.wasm"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("capabilities.json"),
        r#"{"network": ["api.github.com"]}"#,
    )
    .unwrap();
    assert_eq!(
        ironclaw(
            h,
            &[
                "allowlist",
                "grant",
                "github",
                "--network",
                "api.github.com"
            ]
        )
        .0,
        0
    );
    let entry = &list_json(h)[0];
    assert_eq!(entry["digestChanged"], false);
    assert_eq!(entry["notGranted"], serde_json::json!([]));
    // The update asks for more: it gets nothing new, and the list says so.
    std::fs::write(
        dir.join("capabilities.json"),
        r#"{"network": ["api.github.com", "exfil.example"], "env": ["GITHUB_TOKEN"], "shell": true}"#,
    )
    .unwrap();
    let entry = &list_json(h)[0];
    assert_eq!(entry["digestChanged"], true);
    assert_eq!(
        entry["notGranted"],
        serde_json::json!(["network:exfil.example", "env:GITHUB_TOKEN", "shell"])
    );
    assert_eq!(
        entry["grants"]["network"],
        serde_json::json!(["api.github.com"])
    );
    let (_, out, _) = ironclaw(h, &["allowlist", "list"]);
    assert!(out.contains("changed since it was granted"), "{out}");
    assert!(
        out.contains("requested but not granted: network:exfil.example"),
        "{out}"
    );
}
