//! `ironclaw skill install|inspect|list` and `ironclaw run`, run as a binary in a
//! temporary home, with the example tools of `examples/tools` (built by
//! `cargo xtask tools`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn ironclaw(home: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ironclaw"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env("HOME", home)
        .env_remove("IRONCLAW_MASTER_KEY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// An example tool's directory; fails with the command to run when its
/// component has not been built.
fn example(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/tools")
        .join(name);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("skill.json")).unwrap()).unwrap();
    let entry = dir.join(manifest["entry"].as_str().unwrap());
    assert!(
        entry.is_file(),
        "{} is missing: build the example tools first with `cargo xtask tools`",
        entry.display()
    );
    dir
}

fn install(home: &Path, name: &str) -> String {
    let dir = example(name);
    let (code, out, err) = ironclaw(home, &["skill", "install", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    out
}

fn audit_events(home: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(home.join("audit.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn events(home: &Path, event: &str) -> Vec<serde_json::Value> {
    audit_events(home)
        .into_iter()
        .filter(|e| e["event"] == event)
        .collect()
}

#[test]
fn install_shows_the_requests_and_grants_nothing() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let out = install(h, "http-get");
    assert!(out.contains("installed http-get 0.1.0"), "{out}");
    assert!(out.contains("network:api.github.com"), "{out}");
    assert!(out.contains("secret:github_token"), "{out}");
    assert!(out.contains("nothing is granted"), "{out}");
    assert!(h.join("skills/http-get/http_get.wasm").is_file());
    assert!(h.join("skills/http-get/capabilities.json").is_file());
    let (code, out, _) = ironclaw(h, &["allowlist", "list", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        serde_json::json!([])
    );
}

#[test]
fn install_refuses_bad_skills_and_changes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let src = tempfile::tempdir().unwrap();
    let s = src.path();
    let check = |what: &str, needle: &str| {
        let (code, _, err) = ironclaw(h, &["skill", "install", s.to_str().unwrap()]);
        assert_eq!(code, 2, "{what}: {err}");
        assert!(err.contains(needle), "{what}: {err}");
        assert!(
            !h.join("skills").exists() || std::fs::read_dir(h.join("skills")).unwrap().count() == 0
        );
    };
    check("no manifest", "skill.json");
    std::fs::write(
        s.join("skill.json"),
        r#"{"name":"../x","version":"1","kind":"wasm","entry":"x.wasm"}"#,
    )
    .unwrap();
    check("bad name", "name");
    std::fs::write(
        s.join("skill.json"),
        r#"{"name":"x","version":"1","kind":"wasm","entry":"x.wasm"}"#,
    )
    .unwrap();
    check("missing entry", "x.wasm");
    std::fs::write(s.join("x.wasm"), b"\0asm junk").unwrap();
    check("not a component", "not a usable tool component");
    std::fs::copy(example("echo").join("echo.wasm"), s.join("x.wasm")).unwrap();
    std::fs::write(s.join("capabilities.json"), r#"{"htp": {}}"#).unwrap();
    check("unknown capability", "capabilities.json");
    std::fs::write(
        s.join("skill.json"),
        r#"{"name":"x","version":"1","kind":"wasm","entry":"../x.wasm"}"#,
    )
    .unwrap();
    std::fs::write(s.join("capabilities.json"), "{}").unwrap();
    check("entry outside", "entry");
}

#[test]
fn list_and_inspect() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let (code, out, _) = ironclaw(h, &["skill", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("no skills installed"));
    install(h, "echo");
    install(h, "http-get");
    let (code, out, _) = ironclaw(h, &["skill", "list", "--json"]);
    assert_eq!(code, 0);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[0]["name"], "echo");
    assert_eq!(rows[1]["name"], "http-get");
    assert_eq!(rows[0]["authorised"], false);

    let (code, out, _) = ironclaw(h, &["skill", "inspect", "http-get"]);
    assert_eq!(code, 0);
    assert!(out.contains("http-get 0.1.0 (wasm)"), "{out}");
    assert!(out.contains("not authorised"), "{out}");
    let (code, _, _) = ironclaw(
        h,
        &[
            "allowlist",
            "grant",
            "http-get",
            "--network",
            "api.github.com",
        ],
    );
    assert_eq!(code, 0);
    let (code, out, _) = ironclaw(h, &["skill", "inspect", "http-get", "--json"]);
    assert_eq!(code, 0);
    let d: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(d["authorised"], true);
    assert_eq!(
        d["effective"],
        serde_json::json!(["network:api.github.com"])
    );
    assert_eq!(d["notGranted"], serde_json::json!(["secret:github_token"]));
    assert!(d["digest"].as_str().unwrap().starts_with("sha256:"));

    let (code, _, err) = ironclaw(h, &["skill", "inspect", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("not installed"), "{err}");
}

#[test]
fn run_refuses_a_skill_that_is_not_allowlisted() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    install(h, "echo");
    let (code, out, err) = ironclaw(h, &["run", "echo", "--params", r#"{"message":"hi"}"#]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("not in the allowlist"), "{err}");
    let denied = events(h, "ALLOWLIST_DENY");
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["skill"], "echo");
    assert_eq!(denied[0]["blocked"], true);
    assert!(events(h, "SKILL_CALL").is_empty());
}

#[test]
fn run_runs_an_allowlisted_skill_and_audits_it() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    install(h, "echo");
    assert_eq!(ironclaw(h, &["allowlist", "grant", "echo"]).0, 0);
    let (code, out, err) = ironclaw(h, &["run", "echo", "--params", r#"{"message":"hi there"}"#]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "hi there\n");
    let calls = events(h, "SKILL_CALL");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["skill"], "echo");
    assert_eq!(calls[0]["blocked"], false);
    let results = events(h, "TOOL_RESULT");
    assert_eq!(results[0]["outcome"], "ok");
    // The message itself is never in the audit log.
    assert!(
        !std::fs::read_to_string(h.join("audit.log"))
            .unwrap()
            .contains("hi there")
    );
    // A second run uses the compiled-component cache in the home.
    assert!(h.join("cache/wasm").is_dir());
    assert_eq!(
        ironclaw(h, &["run", "echo", "--params", r#"{"message":"again"}"#]).1,
        "again\n"
    );
}

#[test]
fn run_rejects_bad_params_and_unknown_skills() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    install(h, "echo");
    let (code, _, err) = ironclaw(h, &["run", "echo", "--params", "{not json"]);
    assert_eq!(code, 2);
    assert!(err.contains("--params"), "{err}");
    let (code, _, err) = ironclaw(h, &["run", "ghost"]);
    assert_eq!(code, 2);
    assert!(err.contains("ghost is not installed"), "{err}");
}

#[test]
fn run_stops_an_adversarial_skill() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    install(h, "memory-grower");
    assert_eq!(ironclaw(h, &["allowlist", "grant", "memory-grower"]).0, 0);
    let (code, _, err) = ironclaw(h, &["run", "memory-grower"]);
    assert_eq!(code, 2);
    assert!(err.contains("memory limit of 16777216 exceeded"), "{err}");
    assert_eq!(events(h, "TOOL_RESULT")[0]["outcome"], "limit:memory");
}

#[test]
fn run_grants_tool_invoke_only_through_the_allowlist() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    install(h, "self-invoker");
    assert_eq!(
        ironclaw(
            h,
            &[
                "allowlist",
                "grant",
                "self-invoker",
                "--tool",
                "self-invoker"
            ]
        )
        .0,
        0
    );
    let (code, _, err) = ironclaw(h, &["run", "self-invoker"]);
    assert_eq!(code, 2);
    assert!(err.contains("Cycle"), "{err}");
    let v = events(h, "ALLOWLIST_VIOLATION");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["reason"], "circular invocation");
}

#[test]
fn violations_lead_to_auto_suspension() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    std::fs::write(
        h.join("ironclaw.json"),
        r#"{"security":{"autoSuspend":{"violationsPerWindow":2}}}"#,
    )
    .unwrap();
    install(h, "prober");
    assert_eq!(ironclaw(h, &["allowlist", "grant", "prober"]).0, 0);
    // Asking about a secret it never declared is a violation.
    let probe = r#"{"secret":"someone_elses_token"}"#;
    let (code, out, err) = ironclaw(h, &["run", "prober", "--params", probe]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), r#"{"ok":false}"#);
    let (code, _, err) = ironclaw(h, &["run", "prober", "--params", probe]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("prober suspended"), "{err}");
    assert_eq!(events(h, "ALLOWLIST_VIOLATION").len(), 2);
    let suspended = events(h, "SKILL_SUSPENDED");
    assert_eq!(suspended.len(), 1);
    assert_eq!(suspended[0]["by"], "auto");
    // Now it does not run at all.
    let (code, _, err) = ironclaw(h, &["run", "prober", "--params", r#"{"now":true}"#]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("suspended"), "{err}");
    assert_eq!(events(h, "SKILL_SUSPENDED").len(), 2);
}
