//! Injection through the store: grants, hosts, replacement.

use ironclaw_secrets::{
    CredentialLocation, CredentialMapping, Error, FileBackend, SecretGrant, SecretStore,
    SecretValue,
};

use crate::explicit;

fn store(dir: &std::path::Path) -> SecretStore {
    let store = SecretStore::open(Box::new(FileBackend::new(dir)), explicit(1)).unwrap();
    store
        .put(
            "default",
            "github_token",
            &SecretValue::from("ghp_injected_value"),
        )
        .unwrap();
    store
        .put(
            "default",
            "other_token",
            &SecretValue::from("other_injected_value"),
        )
        .unwrap();
    store
        .put(
            "team",
            "github_token",
            &SecretValue::from("team_injected_value"),
        )
        .unwrap();
    store
}

fn mapping(name: &str, location: CredentialLocation) -> CredentialMapping {
    CredentialMapping {
        secret_name: name.to_owned(),
        location,
        host_patterns: vec![
            "api.github.com".to_owned(),
            "*.githubusercontent.com".to_owned(),
        ],
    }
}

#[test]
fn injects_granted_secret_and_replaces_tool_values() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let grant = SecretGrant::new(["github_token"]);
    let mut request = http::Request::get("https://api.github.com/user?access_token=tool&x=1")
        .header("authorization", "Bearer tool-forged")
        .header("Authorization", "Basic dG9vbA==")
        .body(())
        .unwrap();
    store
        .inject(
            "default",
            &grant,
            &mapping("github_token", CredentialLocation::Bearer),
            &mut request,
        )
        .unwrap();
    let values: Vec<_> = request.headers().get_all("authorization").iter().collect();
    assert_eq!(values, ["Bearer ghp_injected_value"]);
    assert!(request.headers()["authorization"].is_sensitive());
    store
        .inject(
            "default",
            &grant,
            &mapping(
                "github_token",
                CredentialLocation::Query {
                    param: "access_token".into(),
                },
            ),
            &mut request,
        )
        .unwrap();
    assert_eq!(
        request.uri().query(),
        Some("x=1&access_token=ghp_injected_value")
    );
    // The namespace decides which value is injected.
    let mut request = http::Request::get("https://raw.githubusercontent.com/x")
        .body(())
        .unwrap();
    store
        .inject(
            "team",
            &grant,
            &mapping(
                "github_token",
                CredentialLocation::Header {
                    name: "X-Token".into(),
                },
            ),
            &mut request,
        )
        .unwrap();
    assert_eq!(request.headers()["x-token"], "team_injected_value");
}

#[test]
fn refuses_ungranted_names_and_foreign_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let grant = SecretGrant::new(["github_token"]);
    let cases: &[(&str, &str, &str)] = &[
        ("other_token", "https://api.github.com/", "not in the grant"),
        (
            "GITHUB_TOKEN",
            "https://api.github.com/",
            "not in the grant",
        ),
        (
            "github_token",
            "https://evil.example/",
            "may not be sent to host \"evil.example\"",
        ),
        (
            "github_token",
            "https://api.github.com.evil.example/",
            "may not be sent",
        ),
        (
            "github_token",
            "https://githubusercontent.com/",
            "may not be sent",
        ),
        ("github_token", "/relative/only", "may not be sent"),
    ];
    for (name, uri, fragment) in cases {
        let mut request = http::Request::get(*uri).body(()).unwrap();
        let err = store
            .inject(
                "default",
                &grant,
                &mapping(name, CredentialLocation::Bearer),
                &mut request,
            )
            .unwrap_err();
        assert!(matches!(
            err,
            Error::NotGranted { .. } | Error::HostNotAllowed { .. }
        ));
        let message = err.to_string();
        assert!(message.contains(fragment), "{message}");
        assert!(message.contains(name), "{message}");
        assert!(!message.contains("injected_value"), "{message}");
        assert!(request.headers().is_empty());
    }
    // A granted but missing secret is a clear not-found error.
    let grant = SecretGrant::new(["absent"]);
    let mut request = http::Request::get("https://api.github.com/")
        .body(())
        .unwrap();
    let err = store
        .inject(
            "default",
            &grant,
            &mapping("absent", CredentialLocation::Bearer),
            &mut request,
        )
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}
