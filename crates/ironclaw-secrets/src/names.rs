//! Naming rules for namespaces and secret names.
//!
//! Both are restricted to a small ASCII alphabet so that a name can never be a
//! path, an SQL fragment, a Unicode look-alike of another name, or empty.

use crate::error::{Error, Result};

/// Longest namespace, in bytes.
pub const MAX_NAMESPACE_LEN: usize = 64;
/// Longest secret name, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// The namespace used when the caller names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Checks a namespace: 1 to 64 of `a-z 0-9 _ - .`, starting with a letter or digit.
pub fn validate_namespace(namespace: &str) -> Result<()> {
    validate(namespace, "namespace", MAX_NAMESPACE_LEN, |b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
    })
}

/// Checks a secret name: 1 to 128 of `A-Z a-z 0-9 _ - .`, starting with a letter or digit.
pub fn validate_name(name: &str) -> Result<()> {
    validate(name, "secret name", MAX_NAME_LEN, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
    })
}

fn validate(value: &str, what: &'static str, max: usize, allowed: fn(u8) -> bool) -> Result<()> {
    let invalid = |reason| {
        Err(Error::InvalidName {
            what,
            name: value.chars().take(max + 8).collect(),
            reason,
        })
    };
    if value.is_empty() {
        return invalid("it is empty");
    }
    if value.len() > max {
        return invalid("it is too long");
    }
    if !value.as_bytes()[0].is_ascii_alphanumeric() {
        return invalid("it must start with a letter or digit");
    }
    if !value.bytes().all(allowed) {
        return invalid(if what == "namespace" {
            "only lowercase a-z, 0-9, '_', '-' and '.' are allowed"
        } else {
            "only A-Z, a-z, 0-9, '_', '-' and '.' are allowed"
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_ns(input: &str, ok: bool) {
        assert_eq!(validate_namespace(input).is_ok(), ok, "namespace {input:?}");
    }

    fn check_name(input: &str, ok: bool) {
        assert_eq!(validate_name(input).is_ok(), ok, "name {input:?}");
    }

    #[test]
    fn namespaces() {
        check_ns("default", true);
        check_ns("alice", true);
        check_ns("team-a.prod_1", true);
        check_ns("", false);
        check_ns("Alice", false);
        check_ns("../bob", false);
        check_ns(".hidden", false);
        check_ns("a/b", false);
        check_ns("a b", false);
        check_ns("a\0b", false);
        check_ns("аlice", false); // Cyrillic a
        check_ns(&"a".repeat(64), true);
        check_ns(&"a".repeat(65), false);
    }

    #[test]
    fn names() {
        check_name("github_token", true);
        check_name("GITHUB_TOKEN", true);
        check_name("x.y-z", true);
        check_name("", false);
        check_name("-flag", false);
        check_name("a=b", false);
        check_name("a'; drop table x; --", false);
        check_name("token\n", false);
        check_name("tökén", false);
        check_name(&"n".repeat(128), true);
        check_name(&"n".repeat(129), false);
    }
}
