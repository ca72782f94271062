//! Loading, calling, metadata, errors, the cache.

use ironclaw_wasm_host::{EngineConfig, ToolError, WasmEngine};

use crate::support::{Fixture, tool_wasm};

#[test]
fn echo_returns_its_message() {
    let f = Fixture::new();
    f.register("echo", "echo", "{}");
    assert_eq!(
        f.host.call("echo", r#"{"message":"hello"}"#).unwrap(),
        "hello"
    );
    assert_eq!(f.host.tools(), vec!["echo".to_owned()]);
}

#[test]
fn every_call_gets_a_fresh_instance() {
    let f = Fixture::new();
    f.register("echo", "echo", "{}");
    for i in 0..200 {
        let msg = format!("call {i}");
        let out = f
            .host
            .call("echo", &serde_json::json!({ "message": msg }).to_string())
            .unwrap();
        assert_eq!(out, msg);
    }
}

#[test]
fn metadata_exports() {
    let f = Fixture::new();
    f.register("echo", "echo", "{}");
    assert!(f.host.describe("echo").unwrap().contains("message"));
    let schema: serde_json::Value =
        serde_json::from_str(&f.host.parameters_schema("echo").unwrap()).unwrap();
    assert_eq!(schema["required"][0], "message");
}

#[test]
fn a_tool_error_is_typed() {
    let f = Fixture::new();
    f.register("echo", "echo", "{}");
    match f.host.call("echo", r#"{"msg":1}"#) {
        Err(ToolError::Failed { tool, message }) => {
            assert_eq!(tool, "echo");
            assert!(message.contains("message"), "{message}");
        }
        other => panic!("expected a tool failure, got {other:?}"),
    }
    f.assert_healthy();
}

#[test]
fn unknown_tool_is_refused() {
    let f = Fixture::new();
    assert!(matches!(
        f.host.call("nope", "{}"),
        Err(ToolError::UnknownTool(name)) if name == "nope"
    ));
}

#[test]
fn garbage_is_not_a_component() {
    let engine = crate::support::engine();
    let err = engine
        .load_bytes("junk.wasm".as_ref(), b"\0asm not really")
        .unwrap_err();
    assert!(matches!(err, ToolError::Load { .. }), "{err:?}");
    assert!(err.to_string().contains("junk.wasm"));
}

#[test]
fn a_component_importing_wasi_filesystem_is_refused() {
    // A hand-assembled component that imports `wasi:filesystem/preopens`: the host does not link it, so loading fails and
    // names the import.
    let name = b"wasi:filesystem/preopens@0.2.0";
    let mut bytes = vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
    // Type section: one instance type exporting `get-directories: func()`.
    let export = b"get-directories";
    let mut ty = vec![0x01, 0x42, 0x02, 0x01, 0x40, 0x00, 0x01, 0x00, 0x04, 0x00];
    ty.push(export.len() as u8);
    ty.extend_from_slice(export);
    ty.extend([0x01, 0x00]);
    bytes.push(0x07);
    bytes.push(ty.len() as u8);
    bytes.extend(ty);
    let mut import = vec![0x01, 0x00, name.len() as u8];
    import.extend_from_slice(name);
    import.extend([0x05, 0x00]); // an instance of type 0
    bytes.push(0x0a);
    bytes.push(import.len() as u8);
    bytes.extend(import);
    let err = crate::support::engine()
        .load_bytes("fs.wasm".as_ref(), &bytes)
        .unwrap_err();
    assert!(matches!(err, ToolError::Load { .. }), "{err:?}");
    let chain = format!("{:?}", err);
    assert!(chain.contains("wasi:filesystem/preopens"), "{chain}");
}

#[test]
fn limits_beyond_the_engine_ceiling_are_refused() {
    let f = Fixture::new();
    let caps =
        ironclaw_policy::Capabilities::from_json(r#"{"limits":{"memory_mb":100000}}"#).unwrap();
    let spec = ironclaw_wasm_host::ToolSpec::new(
        "big",
        crate::support::component("echo"),
        caps,
        Default::default(),
    );
    let err = f.host.register(spec).unwrap_err();
    assert!(err.to_string().contains("memory"), "{err}");
    assert!(f.host.tools().is_empty());
}

#[test]
fn a_cached_component_loads_in_a_new_engine() {
    let cache = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        cache_dir: Some(cache.path().to_owned()),
        ..EngineConfig::default()
    };
    let first = WasmEngine::new(config.clone()).unwrap();
    first.load(&tool_wasm("echo")).unwrap();
    drop(first);
    let files = walk(cache.path());
    assert!(
        !files.is_empty(),
        "the cache directory holds the compiled component"
    );
    let second = WasmEngine::new(config).unwrap();
    second.load(&tool_wasm("echo")).unwrap();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn no_state_survives_between_calls() {
    let f = Fixture::new();
    f.register("prober", "prober", "{}");
    for _ in 0..3 {
        assert_eq!(
            f.probe("prober", serde_json::json!({"count": true})),
            serde_json::json!({"ok": 1})
        );
    }
}
