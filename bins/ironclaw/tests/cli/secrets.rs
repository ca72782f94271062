//! `ironclaw secrets` run as a binary in a temporary home. Every test greps
//! every output and every file in the home for the secret values.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const KEY_A: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const KEY_B: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A temporary home plus the secret values that must never show up.
struct Home {
    dir: tempfile::TempDir,
    values: Vec<String>,
    outputs: Vec<String>,
    extra_env: Option<(&'static str, &'static str)>,
}

impl Home {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            values: Vec::new(),
            outputs: Vec::new(),
            extra_env: None,
        }
    }

    fn secrets_dir(&self) -> PathBuf {
        self.dir.path().join("home").join("secrets")
    }

    fn run(&mut self, args: &[&str], stdin: &[u8], key: Option<&str>) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ironclaw"));
        command
            .arg("--home")
            .arg(self.dir.path().join("home"))
            .args(args)
            .env("HOME", self.dir.path())
            .env_remove("IRONCLAW_HOME")
            .env_remove("IRONCLAW_MASTER_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.env_remove("IRONCLAW_NEW_MASTER_KEY");
        if let Some(key) = key {
            command.env("IRONCLAW_MASTER_KEY", key);
        }
        if let Some((name, value)) = self.extra_env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        // The binary may exit before reading all of stdin (a usage error, an
        // oversized value): a broken pipe here is expected.
        if let Err(err) = child.stdin.take().unwrap().write_all(stdin) {
            assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe, "{err}");
        }
        let output = child.wait_with_output().unwrap();
        let result = Output {
            code: output.status.code().unwrap(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        self.outputs.push(result.stdout.clone());
        self.outputs.push(result.stderr.clone());
        result
    }

    fn set(
        &mut self,
        name: &str,
        value: &str,
        namespace: Option<&str>,
        key: Option<&str>,
    ) -> Output {
        self.values.push(value.trim_end().to_owned());
        let mut args = vec!["secrets", "set", name];
        if let Some(namespace) = namespace {
            args.extend(["--namespace", namespace]);
        }
        self.run(&args, value.as_bytes(), key)
    }

    /// No value appears in any output or any file of the home.
    fn assert_no_leak(&self) {
        for value in &self.values {
            for output in &self.outputs {
                assert!(
                    !output.contains(value.as_str()),
                    "value leaked in output: {output}"
                );
            }
            for file in files(self.dir.path()) {
                let bytes = std::fs::read(&file).unwrap();
                assert!(
                    !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
                    "value leaked in {}",
                    file.display()
                );
            }
        }
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.assert_no_leak();
        }
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn set_list_rm_round_trip() {
    let mut home = Home::new();
    let out = home.set("github_token", "ghp_cli_value_12345\n", None, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("stored secret \"github_token\" in namespace \"default\" (master key file)"),
        "{}",
        out.stderr
    );
    let key_file = home.secrets_dir().join("master.key");
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let out = home.run(&["secrets", "list"], b"", None);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("github_token"), "{}", out.stdout);
    let out = home.run(&["secrets", "list", "--json"], b"", None);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json[0]["name"], "github_token");
    assert_eq!(json[0]["namespace"], "default");
    assert_eq!(json[0]["version"], 1);
    assert!(json[0]["created"].is_string());
    assert!(json[0].get("value").is_none());

    let out = home.run(&["secrets", "verify"], b"", None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = home.run(&["secrets", "status", "--json"], b"", None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let status: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(status["provider"], "key-file");
    assert_eq!(status["key_generation"], 1);

    let out = home.run(&["secrets", "rm", "github_token"], b"", None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = home.run(&["secrets", "rm", "github_token"], b"", None);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("not found in namespace \"default\""),
        "{}",
        out.stderr
    );
    let out = home.run(&["secrets", "list", "--json"], b"", None);
    assert_eq!(out.stdout.trim(), "[]");
}

#[test]
fn read_only_commands_on_a_new_home_create_nothing() {
    let mut home = Home::new();
    for args in [
        &["secrets", "list"][..],
        &["secrets", "verify"],
        &["secrets", "status"],
    ] {
        let out = home.run(args, b"", None);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    }
    assert_eq!(home.run(&["secrets", "rm", "x"], b"", None).code, 1);
    assert!(!home.secrets_dir().exists());
}

#[test]
fn values_never_come_from_argv_and_must_not_be_empty() {
    let mut home = Home::new();
    let out = home.run(&["secrets", "set", "token", "argv-value-9876"], b"", None);
    assert_eq!(out.code, 2, "{}", out.stderr);
    for empty in ["", "\n", "\r\n"] {
        let out = home.run(&["secrets", "set", "token"], empty.as_bytes(), None);
        assert_eq!(out.code, 2);
        assert!(out.stderr.contains("is empty"), "{}", out.stderr);
    }
    let out = home.run(&["secrets", "set", "../escape"], b"value-x", None);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("invalid secret name"), "{}", out.stderr);
    let out = home.run(
        &["secrets", "set", "ok", "--namespace", "Bad/NS"],
        b"value-x",
        None,
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("invalid namespace"), "{}", out.stderr);
    let big = vec![b'x'; 64 * 1024 + 10];
    let out = home.run(&["secrets", "set", "big"], &big, None);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("longer than 64 KiB"), "{}", out.stderr);
}

#[test]
fn namespaces_are_isolated() {
    let mut home = Home::new();
    assert_eq!(
        home.set("token", "alice-cli-value", Some("alice"), None)
            .code,
        0
    );
    assert_eq!(
        home.set("token", "bob-cli-value", Some("bob"), None).code,
        0
    );
    let out = home.run(
        &["secrets", "list", "--namespace", "carol", "--json"],
        b"",
        None,
    );
    assert_eq!(out.stdout.trim(), "[]");
    assert_eq!(
        home.run(
            &["secrets", "rm", "token", "--namespace", "carol"],
            b"",
            None
        )
        .code,
        1
    );
    assert_eq!(
        home.run(
            &["secrets", "rm", "token", "--namespace", "alice"],
            b"",
            None
        )
        .code,
        0
    );
    let out = home.run(
        &["secrets", "list", "--namespace", "bob", "--json"],
        b"",
        None,
    );
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
}

#[test]
fn explicit_key_wrong_key_and_invalid_key() {
    let mut home = Home::new();
    let out = home.set("token", "explicit-cli-value", None, Some(KEY_A));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("IRONCLAW_MASTER_KEY"), "{}", out.stderr);
    assert!(!home.secrets_dir().join("master.key").exists());
    let store = home.secrets_dir().join("store.json");
    let before = std::fs::read(&store).unwrap();

    let out = home.run(&["secrets", "list"], b"", Some(KEY_B));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("IRONCLAW_MASTER_KEY does not open the secret store"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("wrong master key"), "{}", out.stderr);
    let out = home.set("token", "overwrite-attempt-value", None, Some(KEY_B));
    assert_eq!(out.code, 2);
    let out = home.run(&["secrets", "list"], b"", None);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no master key found"), "{}", out.stderr);
    for bad in ["abc", "zz", &KEY_A[..60]] {
        let out = home.run(&["secrets", "list"], b"", Some(bad));
        assert_eq!(out.code, 2);
        assert!(
            out.stderr.contains("IRONCLAW_MASTER_KEY is not usable"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains(bad), "{}", out.stderr);
    }
    assert_eq!(
        std::fs::read(&store).unwrap(),
        before,
        "failed commands changed the store"
    );
    assert!(!home.secrets_dir().join("master.key").exists());
    let out = home.run(&["secrets", "verify"], b"", Some(KEY_A));
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The store cannot replace a key it does not own: the next one must be given.
    let before = std::fs::read(&store).unwrap();
    let out = home.run(&["secrets", "rotate-key"], b"", Some(KEY_A));
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("IRONCLAW_NEW_MASTER_KEY"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&store).unwrap(), before);
    home.extra_env = Some(("IRONCLAW_NEW_MASTER_KEY", KEY_B));
    let out = home.run(&["secrets", "rotate-key"], b"", Some(KEY_A));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("from now on set IRONCLAW_MASTER_KEY"),
        "{}",
        out.stderr
    );
    home.extra_env = None;
    assert_eq!(home.run(&["secrets", "verify"], b"", Some(KEY_A)).code, 2);
    let out = home.run(&["secrets", "verify"], b"", Some(KEY_B));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn tampered_and_corrupted_stores_are_reported() {
    let mut home = Home::new();
    assert_eq!(home.set("a", "tamper-cli-value-a", None, None).code, 0);
    assert_eq!(home.set("b", "tamper-cli-value-b", None, None).code, 0);
    let store = home.secrets_dir().join("store.json");
    let original = std::fs::read_to_string(&store).unwrap();
    let mut document: serde_json::Value = serde_json::from_str(&original).unwrap();
    let ciphertext = document["secrets"][0]["ciphertext"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = if ciphertext.starts_with('A') {
        "B"
    } else {
        "A"
    };
    document["secrets"][0]["ciphertext"] = format!("{flipped}{}", &ciphertext[1..]).into();
    std::fs::write(&store, serde_json::to_string(&document).unwrap()).unwrap();
    let out = home.run(&["secrets", "verify"], b"", None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("secret \"a\" in namespace \"default\" failed authentication"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("1 of 2"), "{}", out.stderr);

    std::fs::write(&store, &original[..original.len() / 2]).unwrap();
    for args in [
        &["secrets", "list"][..],
        &["secrets", "verify"],
        &["secrets", "rm", "a"],
    ] {
        let out = home.run(args, b"", None);
        assert_eq!(out.code, 2, "{args:?}");
        assert!(
            out.stderr.contains("corrupted secret store"),
            "{}",
            out.stderr
        );
    }
    let out = home.set("c", "after-corruption-value", None, None);
    assert_eq!(out.code, 2);
    assert_eq!(
        std::fs::read_to_string(&store).unwrap(),
        &original[..original.len() / 2]
    );
}

#[test]
fn loose_key_file_mode_is_refused_with_the_fix() {
    let mut home = Home::new();
    assert_eq!(home.set("a", "mode-cli-value", None, None).code, 0);
    let key = home.secrets_dir().join("master.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = home.run(&["secrets", "list"], b"", None);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("chmod 600"), "{}", out.stderr);
}

#[test]
fn rotate_key_keeps_every_secret() {
    let mut home = Home::new();
    assert_eq!(home.set("a", "rotate-cli-value-a", None, None).code, 0);
    assert_eq!(
        home.set("b", "rotate-cli-value-b", Some("team"), None).code,
        0
    );
    let key = home.secrets_dir().join("master.key");
    let before = std::fs::read(&key).unwrap();
    let out = home.run(&["secrets", "rotate-key"], b"", None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("generation is now 2"), "{}", out.stderr);
    assert_ne!(std::fs::read(&key).unwrap(), before);
    for namespace in ["default", "team"] {
        let out = home.run(&["secrets", "verify", "--namespace", namespace], b"", None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stderr.contains("1 secrets"), "{}", out.stderr);
    }
}
