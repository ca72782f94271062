//! Editing `ironclaw.json` from the command line: one typed value, in place,
//! atomically, refused (file untouched) when it would make the config worse.

use std::path::Path;

use serde_json::Value;

use crate::config::{
    ConfigError, ConfigIssue, ValidationReport, parse_key, redact_value, typed_value, validate,
};
use crate::jsonc::{parse_jsonc, set_in_place};
use crate::store::{FileLock, write_atomic};

/// A config change, ready for a CONFIG_CHANGE audit record. Secret values are
/// already redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChange {
    /// The dotted key.
    pub key: String,
    /// The value before, as written in the file (`None` when absent).
    pub before: Option<Value>,
    /// The value after.
    pub after: Value,
    /// Warnings of the new config the caller must show.
    pub warnings: Vec<ConfigIssue>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ConfigError + '_ {
    move |source| ConfigError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Reads the config text; a missing file is empty (the defaults).
pub fn read_config_text(path: &Path) -> Result<String, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(io(path)(e)),
    }
}

/// Sets `key` to `value` (typed by the schema) in the config file at `path`.
///
/// The value's bytes are replaced in place (or one member inserted), so comments
/// and layout survive. The change is refused, leaving the file byte-for-byte
/// unchanged, when the key is unknown, the value has the wrong type, or the new
/// config has a validation error the old one did not have. Writers are
/// serialised with a lock file and the write is atomic.
pub fn set_config_value(path: &Path, key: &str, value: &str) -> Result<ConfigChange, ConfigError> {
    let (parts, kind) = parse_key(key)?;
    let after = typed_value(kind, key, value)?;
    let _lock = FileLock::acquire(path).map_err(io(path))?;
    let text = read_config_text(path)?;
    let syntax = |source| ConfigError::Syntax {
        path: path.to_owned(),
        source,
    };
    let old_doc = parse_jsonc(&text).map_err(syntax)?;
    let before = parts.iter().try_fold(&old_doc, |v, k| v.get(k)).cloned();
    let new_text = set_in_place(&text, &parts, &after).map_err(syntax)?;
    let new_doc = parse_jsonc(&new_text).map_err(syntax)?;
    let old_report = validate(&old_doc, None);
    let new_report = validate(&new_doc, None);
    let fresh: Vec<ConfigIssue> = new_report
        .errors
        .iter()
        .filter(|e| !old_report.errors.contains(e))
        .cloned()
        .collect();
    if !fresh.is_empty() {
        return Err(ConfigError::Invalid {
            path: path.to_owned(),
            report: ValidationReport {
                errors: fresh,
                warnings: Vec::new(),
            },
        });
    }
    if new_text != text {
        write_atomic(path, new_text.as_bytes(), 0o600).map_err(io(path))?;
    }
    Ok(ConfigChange {
        key: key.to_owned(),
        before: before.map(|b| redact_value(&parts, &b)),
        after: redact_value(&parts, &after),
        warnings: new_report.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_keeps_comments_and_refuses_bad_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ironclaw.json");
        let original = "{\n  // my gateway\n  \"gateway\": { \"port\": 3000 },\n}\n";
        std::fs::write(&path, original).unwrap();
        for (key, value) in [
            ("gateway.port", "99999"),
            ("gateway.port", "abc"),
            ("gateway.prot", "1"),
            ("security.sandbox.mode", "lax"),
            ("channels.tg.dmPolicy", "open"),
            ("channels.tg.enabled", "true"),
            ("channels.tg.allowFrom", "[\"*\"]"),
        ] {
            assert!(
                set_config_value(&path, key, value).is_err(),
                "{key}={value}"
            );
            assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
        }
        let change = set_config_value(&path, "gateway.port", "3001").unwrap();
        assert_eq!(change.before, Some(Value::from(3000)));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, original.replace("3000", "3001"));
        let change = set_config_value(&path, "gateway.token", "hunter2").unwrap();
        assert_eq!(change.after, Value::from("[redacted]"));
        let change = set_config_value(&path, "security.sandbox.mode", "audit-only").unwrap();
        assert_eq!(change.warnings.len(), 1);
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("// my gateway")
        );
    }
}
