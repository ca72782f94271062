//! Every resource limit stops an adversarial tool with a typed error naming the
//! limit, and the host keeps serving good calls.

use std::time::{Duration, Instant};

use ironclaw_policy::Capabilities;
use ironclaw_wasm_host::{Limit, ToolError, ToolLimits};

use crate::support::Fixture;

fn register_limited(f: &Fixture, name: &str, tool: &str, limits: ToolLimits) {
    f.register_with(
        name,
        tool,
        Capabilities::default(),
        Default::default(),
        |mut spec| {
            spec.limits = Some(limits);
            spec
        },
    );
}

fn expect_limit(result: Result<String, ToolError>, limit: Limit, tool: &str) {
    match result {
        Err(ToolError::LimitExceeded {
            tool: t, limit: l, ..
        }) => {
            assert_eq!(l, limit);
            assert_eq!(t, tool);
        }
        other => panic!("expected the {limit} limit, got {other:?}"),
    }
}

#[test]
fn cpu_burner_runs_out_of_fuel() {
    let f = Fixture::new();
    register_limited(
        &f,
        "cpu-burner",
        "cpu-burner",
        ToolLimits {
            fuel: 20_000_000,
            ..ToolLimits::default()
        },
    );
    let err = f.host.call("cpu-burner", "{}").unwrap_err();
    assert!(err.to_string().contains("fuel limit of 20000000"), "{err}");
    expect_limit(Err(err), Limit::Fuel, "cpu-burner");
    f.assert_healthy();
}

#[test]
fn cpu_burner_hits_the_wall_clock_deadline() {
    let f = Fixture::new();
    register_limited(
        &f,
        "cpu-burner",
        "cpu-burner",
        ToolLimits {
            fuel: u64::MAX / 2,
            timeout: Duration::from_millis(200),
            ..ToolLimits::default()
        },
    );
    let started = Instant::now();
    expect_limit(
        f.host.call("cpu-burner", "{}"),
        Limit::WallClock,
        "cpu-burner",
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    f.assert_healthy();
}

#[test]
fn the_capabilities_timeout_applies() {
    let f = Fixture::new();
    let caps = Capabilities::from_json(r#"{"limits":{"timeout_ms":100}}"#).unwrap();
    f.register_with("cpu-burner", "cpu-burner", caps, Default::default(), |s| s);
    // The default fuel (2e9) lasts longer than 100 ms on any machine this runs on
    // only if the deadline works; either way the call must stop with a limit.
    let err = f.host.call("cpu-burner", "{}").unwrap_err();
    assert!(
        matches!(err.limit(), Some(Limit::WallClock | Limit::Fuel)),
        "{err:?}"
    );
    f.assert_healthy();
}

#[test]
fn memory_grower_is_stopped_at_its_memory_limit() {
    let f = Fixture::new();
    // capabilities.json of the example asks for 16 MiB.
    let caps = Capabilities::from_json(r#"{"limits":{"memory_mb":16}}"#).unwrap();
    f.register_with(
        "memory-grower",
        "memory-grower",
        caps,
        Default::default(),
        |s| s,
    );
    let err = f.host.call("memory-grower", "{}").unwrap_err();
    assert!(
        matches!(
            err,
            ToolError::LimitExceeded {
                limit: Limit::Memory,
                max,
                ..
            } if max == 16 << 20
        ),
        "{err:?}"
    );
    // Repeatedly: the pool slots are returned.
    for _ in 0..5 {
        assert_eq!(
            f.host.call("memory-grower", "{}").unwrap_err().limit(),
            Some(Limit::Memory)
        );
    }
    f.assert_healthy();
}

#[test]
fn huge_output_is_refused_over_the_cap() {
    let f = Fixture::new();
    register_limited(
        &f,
        "huge-output",
        "huge-output",
        ToolLimits {
            max_output_bytes: 1024,
            ..ToolLimits::default()
        },
    );
    assert_eq!(
        f.host
            .call("huge-output", r#"{"bytes":1024}"#)
            .unwrap()
            .len(),
        1024
    );
    expect_limit(
        f.host.call("huge-output", r#"{"bytes":1025}"#),
        Limit::Output,
        "huge-output",
    );
    f.assert_healthy();
}

#[test]
fn huge_output_beyond_memory_is_a_memory_stop() {
    let f = Fixture::new();
    f.register(
        "huge-output",
        "huge-output",
        r#"{"limits":{"memory_mb":8}}"#,
    );
    // 64 MiB of output cannot even be built in 8 MiB of memory.
    expect_limit(
        f.host.call("huge-output", r#"{"bytes":67108864}"#),
        Limit::Memory,
        "huge-output",
    );
    f.assert_healthy();
}

#[test]
fn many_adversarial_calls_in_parallel_leave_the_host_healthy() {
    let f = Fixture::new();
    register_limited(
        &f,
        "cpu-burner",
        "cpu-burner",
        ToolLimits {
            fuel: 5_000_000,
            ..ToolLimits::default()
        },
    );
    f.register(
        "memory-grower",
        "memory-grower",
        r#"{"limits":{"memory_mb":8}}"#,
    );
    f.register("echo", "echo", "{}");
    std::thread::scope(|s| {
        for i in 0..4 {
            let host = &f.host;
            s.spawn(move || {
                for _ in 0..5 {
                    let tool = if i % 2 == 0 {
                        "cpu-burner"
                    } else {
                        "memory-grower"
                    };
                    assert!(host.call(tool, "{}").unwrap_err().limit().is_some());
                    assert_eq!(host.call("echo", r#"{"message":"ok"}"#).unwrap(), "ok");
                }
            });
        }
    });
    f.assert_healthy();
}

#[test]
fn running_out_of_instance_slots_is_a_typed_limit() {
    use std::path::Path;
    use std::sync::Arc;

    use ironclaw_audit::{AuditConfig, AuditLog};
    use ironclaw_wasm_host::{EngineConfig, ToolHost, ToolSpec, WasmEngine};

    // One slot: a tool that invokes another needs two at once.
    let engine = WasmEngine::new(EngineConfig {
        max_instances: 1,
        cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasm-host-cache")),
        ..EngineConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let audit = Arc::new(AuditLog::open(AuditConfig::new(dir.path().join("audit.log"))).unwrap());
    let host = ToolHost::builder(engine.clone(), audit).build().unwrap();
    let load = |name: &str| engine.load(&crate::support::tool_wasm(name)).unwrap();
    host.register(ToolSpec::new(
        "echo",
        load("echo"),
        Capabilities::default(),
        Default::default(),
    ))
    .unwrap();
    let caps = Capabilities::from_json(r#"{"tool_invoke":{"allowed":["echo"]}}"#).unwrap();
    let grants = caps.requested().unwrap();
    host.register(ToolSpec::new("prober", load("prober"), caps, grants))
        .unwrap();
    let out = host
        .call(
            "prober",
            r#"{"invoke":"echo","params":"{\"message\":\"x\"}"}"#,
        )
        .unwrap();
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["error"], "failed", "{out}");
    assert!(
        out["detail"]
            .as_str()
            .unwrap()
            .contains("instances limit of 1"),
        "{out}"
    );
    // The slot is free again once the outer call ends.
    assert_eq!(host.call("echo", r#"{"message":"ok"}"#).unwrap(), "ok");
}
