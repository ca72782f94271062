//! `ironclaw config`, run as a binary in a temporary home.

use std::path::Path;
use std::process::Command;

fn ironclaw(home: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ironclaw"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("IRONCLAW_TEST_TOKEN")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

const COMMENTED: &str = "{\n  // keep me\n  \"gateway\": { \"port\": 3000 /* inline */ },\n  \"security\": { \"sandbox\": { \"mode\": \"strict\" } },\n}\n";

#[test]
fn get_prints_defaults_and_written_values() {
    let home = tempfile::tempdir().unwrap();
    assert_eq!(
        ironclaw(home.path(), &["config", "get", "security.sandbox.mode"]).1,
        "strict\n"
    );
    assert_eq!(
        ironclaw(
            home.path(),
            &["config", "get", "security.injectionDefense.mode"]
        )
        .1,
        "flag\n"
    );
    assert_eq!(
        ironclaw(
            home.path(),
            &["config", "get", "security.autoSuspend.violationsPerWindow"]
        )
        .1,
        "5\n"
    );
    assert_eq!(
        ironclaw(home.path(), &["config", "get", "gateway.bind"]).1,
        "127.0.0.1\n"
    );
    std::fs::write(home.path().join("ironclaw.json"), COMMENTED).unwrap();
    assert_eq!(
        ironclaw(home.path(), &["config", "get", "gateway.port"]).1,
        "3000\n"
    );
    let (code, _, err) = ironclaw(home.path(), &["config", "get", "gateway.prot"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean gateway.port"), "{err}");
}

#[test]
fn invalid_set_leaves_the_file_byte_for_byte() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("ironclaw.json");
    std::fs::write(&file, COMMENTED).unwrap();
    for (key, value) in [
        ("gateway.port", "0"),
        ("gateway.port", "3000x"),
        ("security.sandbox.mode", "open"),
        ("security.sandboxx.mode", "strict"),
        ("channels.telegram.dmPolicy", "open"),
        ("channels.telegram.allowFrom", "[\"*\"]"),
        ("channels.telegram.allowFrom", "12*"),
        ("channels.telegram.enabled", "true"),
        ("security.autoSuspend.enabled", "yes"),
        ("gateway.port.x", "1"),
    ] {
        let (code, _, err) = ironclaw(home.path(), &["config", "set", key, value]);
        assert_eq!(code, 2, "{key}={value}: {err}");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            COMMENTED,
            "{key}={value}"
        );
    }
    assert!(
        !home.path().join("audit.log").exists()
            || std::fs::read_to_string(home.path().join("audit.log"))
                .unwrap()
                .is_empty()
    );
}

#[test]
fn valid_set_keeps_comments_and_is_audited_with_secrets_redacted() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("ironclaw.json");
    std::fs::write(&file, COMMENTED).unwrap();
    let (code, _, err) = ironclaw(home.path(), &["config", "set", "gateway.port", "3100"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        COMMENTED.replace("3000", "3100")
    );
    let (code, _, _) = ironclaw(
        home.path(),
        &["config", "set", "gateway.token", "hunter2hunter2"],
    );
    assert_eq!(code, 0);
    let (code, _, err) = ironclaw(
        home.path(),
        &["config", "set", "security.sandbox.mode", "audit-only"],
    );
    assert_eq!(code, 0);
    assert!(err.contains("warning"), "{err}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("// keep me") && text.contains("/* inline */"));
    let log = std::fs::read_to_string(home.path().join("audit.log")).unwrap();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e["event"] == "CONFIG_CHANGE"));
    assert_eq!(events[0]["before"], 3000);
    assert_eq!(events[0]["after"], 3100);
    assert_eq!(events[1]["after"], "[redacted]");
    assert!(!log.contains("hunter2"));
    assert_eq!(events[2]["before"], "strict");
    let (_, out, _) = ironclaw(home.path(), &["config", "get", "gateway.token"]);
    assert!(!out.contains("hunter2"));
}

#[test]
fn validate_reports_everything_at_once() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("bad.json");
    std::fs::write(
        &file,
        r#"{ "channels": { "tg": { "enabled": true, "dmPolicy": "open", "allowFrom": ["*"] } },
             "securty": {}, "gateway": { "port": 99999 } }"#,
    )
    .unwrap();
    let (code, out, _) = ironclaw(home.path(), &["config", "validate", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    for needle in [
        "channels.tg.dmPolicy",
        "channels.tg.allowFrom[0]",
        "securty: unknown key (did you mean security?)",
        "gateway.port: 99999 is out of range",
    ] {
        assert!(out.contains(needle), "missing {needle} in {out}");
    }
    let (code, out, _) = ironclaw(
        home.path(),
        &["config", "validate", "--json", file.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["valid"], false);
    assert!(report["errors"].as_array().unwrap().len() >= 4);
}

#[cfg(unix)]
#[test]
fn dotenv_must_be_private_and_expands() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("ironclaw.json"),
        r#"{"gateway": {"token": "${IRONCLAW_TEST_TOKEN}"}}"#,
    )
    .unwrap();
    let env = home.path().join(".env");
    std::fs::write(&env, "IRONCLAW_TEST_TOKEN=abc\n").unwrap();
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = ironclaw(home.path(), &["config", "validate"]);
    assert_eq!(code, 2);
    assert!(err.contains("chmod 600"), "{err}");
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, out, _) = ironclaw(home.path(), &["config", "validate"]);
    assert_eq!(code, 0, "{out}");
    std::fs::write(&env, "OTHER=1\n").unwrap();
    let (code, out, _) = ironclaw(home.path(), &["config", "validate"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("gateway.token: variable IRONCLAW_TEST_TOKEN is not set"),
        "{out}"
    );
}
