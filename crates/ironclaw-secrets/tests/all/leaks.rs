//! No error, `Debug` output or serialized record ever contains a value or
//! the master key: every failure path is provoked and its text grepped.

use std::error::Error as _;

use ironclaw_secrets::{
    CredentialLocation, CredentialMapping, Error, ExplicitKey, FileBackend, KeyChain, MasterKey,
    SecretGrant, SecretStore, SecretValue,
};

const VALUE: &str = "leak-canary-7f3a9c";
const KEY_HEX: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

fn every_text(err: &Error) -> String {
    let mut text = format!("{err}\n{err:?}\n");
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(&format!("{inner}\n{inner:?}\n"));
        source = inner.source();
    }
    text
}

fn assert_clean(text: &str) {
    assert!(!text.contains(VALUE), "value leaked: {text}");
    assert!(!text.contains(KEY_HEX), "key leaked: {text}");
    assert!(!text.contains("5e5e5e5e"), "key bytes leaked: {text}");
}

#[test]
fn no_output_contains_a_value_or_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let chain = || KeyChain::new().with(ExplicitKey::new(MasterKey::parse(KEY_HEX).unwrap()));
    let store = SecretStore::open(Box::new(FileBackend::new(dir.path())), chain()).unwrap();
    store
        .put("default", "canary", &SecretValue::from(VALUE))
        .unwrap();
    store
        .put(
            "default",
            "newline",
            &SecretValue::from(format!("{VALUE}\r\n")),
        )
        .unwrap();
    let mut errors: Vec<Error> = vec![store.get("default", "absent").unwrap_err()];
    errors.push(
        store
            .put("default", "bad/name", &SecretValue::from(VALUE))
            .unwrap_err(),
    );
    errors.push(
        SecretStore::open(
            Box::new(FileBackend::new(dir.path())),
            KeyChain::new().with(ExplicitKey::new(MasterKey::from_bytes([1; 32]))),
        )
        .unwrap_err(),
    );
    errors.push(MasterKey::parse(&KEY_HEX[..63]).unwrap_err());
    let grant = SecretGrant::new(["newline"]);
    let mapping = |name: &str, location| CredentialMapping {
        secret_name: name.to_owned(),
        location,
        host_patterns: vec!["h.example".to_owned()],
    };
    let mut request = http::Request::get("https://h.example/").body(()).unwrap();
    errors.push(
        store
            .inject(
                "default",
                &grant,
                &mapping("canary", CredentialLocation::Bearer),
                &mut request,
            )
            .unwrap_err(),
    );
    errors.push(
        store
            .inject(
                "default",
                &grant,
                &mapping("newline", CredentialLocation::Bearer),
                &mut request,
            )
            .unwrap_err(),
    );
    errors.push(
        store
            .inject(
                "default",
                &grant,
                &mapping(
                    "newline",
                    CredentialLocation::Header {
                        name: "x-key".into(),
                    },
                ),
                &mut request,
            )
            .unwrap_err(),
    );
    let mut foreign = http::Request::get("https://other.example/")
        .body(())
        .unwrap();
    errors.push(
        store
            .inject(
                "default",
                &grant,
                &mapping("newline", CredentialLocation::Bearer),
                &mut foreign,
            )
            .unwrap_err(),
    );
    // Tamper, then read.
    let path = dir.path().join("store.json");
    let original = std::fs::read_to_string(&path).unwrap();
    let mut document: serde_json::Value = serde_json::from_str(&original).unwrap();
    document["secrets"][0]["nonce"] = "AAAAAAAAAAAAAAAA".into();
    std::fs::write(&path, serde_json::to_vec(&document).unwrap()).unwrap();
    errors.push(store.get("default", "canary").unwrap_err());
    errors.push(store.all_values("default").unwrap_err());
    std::fs::write(&path, &original[..original.len() - 5]).unwrap();
    errors.push(store.get("default", "canary").unwrap_err());
    let kinds: Vec<String> = errors
        .iter()
        .map(|e| {
            format!("{e:?}")
                .split([' ', '{', '('])
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    for expected in [
        "NotFound",
        "InvalidName",
        "WrongKey",
        "InvalidMasterKey",
        "NotGranted",
        "Injection",
        "HostNotAllowed",
        "Tampered",
        "Corrupted",
    ] {
        assert!(
            kinds.iter().any(|k| k == expected),
            "{expected} not provoked: {kinds:?}"
        );
    }
    for err in &errors {
        assert_clean(&every_text(err));
    }
    std::fs::write(&path, &original).unwrap();
    // Debug of every public object that holds a value or key.
    assert_clean(&format!("{store:?}"));
    assert_clean(&format!("{:?}", store.get("default", "canary").unwrap()));
    assert_clean(&format!("{}", store.get("default", "canary").unwrap()));
    assert_clean(&format!("{:?}", store.list("default").unwrap()));
    assert_clean(&serde_json::to_string(&store.list("default").unwrap()).unwrap());
    assert_clean(&format!("{:?}", store.all_values("default").unwrap()));
    assert_clean(&format!("{:?}", chain()));
    let mut request = http::Request::get("https://h.example/").body(()).unwrap();
    let grant = SecretGrant::new(["canary"]);
    store
        .inject(
            "default",
            &grant,
            &mapping("canary", CredentialLocation::Bearer),
            &mut request,
        )
        .unwrap();
    // The header is marked sensitive, so http's own Debug hides it.
    assert_clean(&format!("{:?}", request.headers()));
}
