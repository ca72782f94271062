//! Host imports: log, clock, secret-exists, tool-invoke, workspace.

use std::sync::Arc;

use ironclaw_policy::{Access, Capabilities};
use ironclaw_secrets::{SecretStore, SecretValue};
use ironclaw_wasm_host::WorkspaceGrant;
use serde_json::json;

use crate::support::Fixture;

#[test]
fn log_and_clock() {
    let f = Fixture::new();
    f.register("prober", "prober", "{}");
    assert_eq!(
        f.probe("prober", json!({"log": "hello"})),
        json!({"ok": true})
    );
    let now = f.probe("prober", json!({"now": true}))["ok"]
        .as_u64()
        .unwrap();
    let host_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(now.abs_diff(host_now) < 60_000);
}

fn secrets_fixture() -> Fixture {
    let store_dir = tempfile::tempdir().unwrap();
    let store = SecretStore::open_dir(&store_dir.path().join("secrets"), None).unwrap();
    store
        .put(
            "default",
            "github_token",
            &SecretValue::from("ghp_exampleexampleexample"),
        )
        .unwrap();
    store
        .put(
            "default",
            "other_token",
            &SecretValue::from("other-value-123456"),
        )
        .unwrap();
    let store = Arc::new(store);
    // Keep the store's directory alive for the whole test process.
    let mut f = Fixture::with(|b| b.secrets(store, "default"));
    f.keep.push(store_dir);
    f
}

#[test]
fn secret_exists_only_for_declared_and_granted_names() {
    let f = secrets_fixture();
    let caps = Capabilities::from_json(
        r#"{"secrets":{"allowed_names":["github_token","missing_token","ungranted_token"]}}"#,
    )
    .unwrap();
    let mut grants = caps.requested().unwrap();
    grants.secrets.remove("ungranted_token");
    f.register_with("prober", "prober", caps, grants, |s| s);

    assert_eq!(
        f.probe("prober", json!({"secret": "github_token"})),
        json!({"ok": true})
    );
    assert_eq!(
        f.probe("prober", json!({"secret": "missing_token"})),
        json!({"ok": false})
    );
    // Exists in the store, but not declared: the tool learns nothing.
    assert_eq!(
        f.probe("prober", json!({"secret": "other_token"})),
        json!({"ok": false})
    );
    // Declared but not granted.
    assert_eq!(
        f.probe("prober", json!({"secret": "ungranted_token"})),
        json!({"ok": false})
    );

    let violations = f.audited("ALLOWLIST_VIOLATION");
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert_eq!(violations[0]["resource"], "secret:other_token");
    assert_eq!(
        violations[0]["reason"],
        "secret not declared in capabilities.json"
    );
    assert_eq!(violations[1]["reason"], "secret not granted");
    assert!(
        violations
            .iter()
            .all(|v| v["blocked"] == true && v["skill"] == "prober")
    );
}

#[test]
fn a_tool_invoking_itself_is_refused_as_a_cycle() {
    let f = Fixture::new();
    f.register(
        "self-invoker",
        "self-invoker",
        r#"{"tool_invoke":{"allowed":["self-invoker"]}}"#,
    );
    let err = f.host.call("self-invoker", "{}").unwrap_err().to_string();
    assert!(err.contains("Cycle"), "{err}");
    assert!(err.contains("self-invoker -> self-invoker"), "{err}");
    let v = f.audited("ALLOWLIST_VIOLATION");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["reason"], "circular invocation");
    assert!(f.audited("SKILL_CALL").is_empty(), "the cycle never ran");
    f.assert_healthy();
}

#[test]
fn invoke_reaches_allowed_tools_only() {
    let f = Fixture::new();
    f.register("echo", "echo", "{}");
    f.register("cpu-burner", "cpu-burner", "{}");
    f.register(
        "prober",
        "prober",
        r#"{"tool_invoke":{"allowed":["echo"]}}"#,
    );
    let ok = f.probe(
        "prober",
        json!({"invoke": "echo", "params": r#"{"message":"via prober"}"#}),
    );
    assert_eq!(ok, json!({"ok": "via prober"}));
    let calls = f.audited("SKILL_CALL");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["skill"], "echo");
    assert_eq!(calls[0]["resource"], "tool:prober");

    let denied = f.probe("prober", json!({"invoke": "cpu-burner"}));
    assert_eq!(denied["error"], "not-allowed", "{denied}");
    let v = f.audited("ALLOWLIST_VIOLATION");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["resource"], "tool:cpu-burner");
}

#[test]
fn invoke_needs_the_grant_as_well_as_the_declaration() {
    let f = Fixture::new();
    f.register("echo", "echo", "{}");
    let caps = Capabilities::from_json(r#"{"tool_invoke":{"allowed":["echo"]}}"#).unwrap();
    f.register_with("prober", "prober", caps, Default::default(), |s| s);
    let denied = f.probe("prober", json!({"invoke": "echo", "params": "{}"}));
    assert_eq!(denied["error"], "not-allowed");
    assert!(denied["detail"].as_str().unwrap().contains("not granted"));
}

#[test]
fn indirect_cycles_and_depth_are_bounded() {
    let f = Fixture::with(|b| b.max_depth(3));
    // p1 -> p2 -> p3 -> p4: the fourth level is beyond the limit of 3.
    for (name, next) in [("p1", "p2"), ("p2", "p3"), ("p3", "p4"), ("p4", "p1")] {
        f.register(
            name,
            "prober",
            &format!(r#"{{"tool_invoke":{{"allowed":["{next}"]}}}}"#),
        );
    }
    let inner = json!({"invoke": "p4", "params": "{}"}).to_string();
    let middle = json!({"invoke": "p3", "params": inner}).to_string();
    let out = f.probe("p1", json!({"invoke": "p2", "params": middle}));
    // p1 gets p2's answer, which carries p3's answer: its call of p4 was refused.
    let p2: serde_json::Value = serde_json::from_str(out["ok"].as_str().unwrap()).unwrap();
    let p3: serde_json::Value = serde_json::from_str(p2["ok"].as_str().unwrap()).unwrap();
    assert_eq!(p3["error"], "depth-exceeded", "{p3}");
    assert_eq!(p3["detail"], "3");

    // p2 -> p3 -> p4 -> p1 -> p2 would be a cycle; with a deep enough limit the
    // host names it.
    let g = Fixture::with(|b| b.max_depth(10));
    for (name, next) in [("p1", "p2"), ("p2", "p1")] {
        g.register(
            name,
            "prober",
            &format!(r#"{{"tool_invoke":{{"allowed":["{next}"]}}}}"#),
        );
    }
    let back = json!({"invoke": "p1", "params": "{}"}).to_string();
    let out = g.probe("p1", json!({"invoke": "p2", "params": back}));
    let p2: serde_json::Value = serde_json::from_str(out["ok"].as_str().unwrap()).unwrap();
    assert_eq!(p2["error"], "cycle", "{p2}");
    assert_eq!(p2["detail"], "p1 -> p2 -> p1");
}

fn workspace_fixture(access: Option<Access>) -> (Fixture, std::path::PathBuf) {
    let f = Fixture::new();
    let ws = f.dir.path().join("workspace").join("skills").join("prober");
    let grant = access.map(|access| WorkspaceGrant {
        dir: ws.clone(),
        access,
    });
    f.register_with(
        "prober",
        "prober",
        Capabilities::default(),
        Default::default(),
        |mut s| {
            s.workspace = grant;
            s
        },
    );
    (f, ws)
}

#[test]
fn workspace_needs_a_grant() {
    let (f, _) = workspace_fixture(None);
    let r = f.probe("prober", json!({"write": "notes.txt", "data": "x"}));
    assert_eq!(r["error"], "not-allowed");
    let r = f.probe("prober", json!({"read": "notes.txt"}));
    assert_eq!(r["error"], "not-allowed");
    assert_eq!(f.audited("FILESYSTEM_BLOCK").len(), 2);
}

#[test]
fn workspace_read_write_inside_the_grant() {
    let (f, ws) = workspace_fixture(Some(Access::Rw));
    assert_eq!(
        f.probe("prober", json!({"write": "notes.txt", "data": "kept"})),
        json!({"ok": true})
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("notes.txt")).unwrap(),
        "kept"
    );
    assert_eq!(
        f.probe("prober", json!({"read": "notes.txt"})),
        json!({"ok": "kept"})
    );
    assert!(f.audited("FILESYSTEM_BLOCK").is_empty());
}

#[test]
fn workspace_read_only_grant_refuses_writes() {
    let (f, ws) = workspace_fixture(Some(Access::Ro));
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("in.txt"), "given").unwrap();
    assert_eq!(
        f.probe("prober", json!({"read": "in.txt"})),
        json!({"ok": "given"})
    );
    let r = f.probe("prober", json!({"write": "in.txt", "data": "changed"}));
    assert_eq!(r["error"], "not-allowed");
    assert_eq!(std::fs::read_to_string(ws.join("in.txt")).unwrap(), "given");
}

#[test]
fn workspace_path_traversal_is_refused() {
    let (f, ws) = workspace_fixture(Some(Access::Rw));
    std::fs::create_dir_all(&ws).unwrap();
    let secret = f.dir.path().join("outside.txt");
    std::fs::write(&secret, "outside").unwrap();
    std::os::unix::fs::symlink(f.dir.path(), ws.join("escape")).unwrap();
    std::os::unix::fs::symlink(&secret, ws.join("link.txt")).unwrap();
    let attempts = [
        "../outside.txt",
        "../../outside.txt",
        "a/../../outside.txt",
        "./../outside.txt",
        "/etc/passwd",
        &secret.display().to_string(),
        "escape/outside.txt",
        "link.txt",
        "",
        "a//b",
        "..\\outside.txt",
        "notes\0.txt",
    ];
    for path in attempts {
        let r = f.probe("prober", json!({"read": path}));
        assert!(
            r["error"] == "not-allowed" || r["error"] == "failed",
            "read {path:?}: {r}"
        );
        assert_ne!(r["ok"], "outside", "read {path:?} escaped");
        let w = f.probe("prober", json!({"write": path, "data": "pwned"}));
        assert!(w.get("ok").is_none(), "write {path:?}: {w}");
    }
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "outside");
    assert!(f.audited("FILESYSTEM_BLOCK").len() >= attempts.len());
}
