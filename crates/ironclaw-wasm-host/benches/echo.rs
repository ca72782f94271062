//! Per-call overhead of the WASM host with the `echo` tool, against a plain
//! wasmtime baseline that instantiates the same component without our host
//! (default engine config, imports defined as traps, no limits, no checks).
//!
//! Prints, before the criterion groups: p50 and p99 of single warm calls,
//! calls per second on one thread, and the cold load of a cached component in a
//! new engine (a process restart). Needs `cargo xtask tools` first.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, black_box};
use ironclaw_audit::{AuditConfig, AuditLog};
use ironclaw_policy::{Capabilities, Permissions};
use ironclaw_wasm_host::{EngineConfig, ToolHost, ToolSpec, WasmEngine};
use wasmtime::component::{Component, Linker, TypedFunc};
use wasmtime::{Engine, Store};

const PARAMS: &str = r#"{"message":"hello, bench"}"#;

fn echo_wasm() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tools/echo/echo.wasm");
    assert!(
        path.is_file(),
        "{} is missing: build the example tools first with `cargo xtask tools`",
        path.display()
    );
    path
}

/// Our host, warm: engine built, component loaded, tool registered.
fn ironclaw_host(cache: &Path, audit_dir: &Path) -> ToolHost {
    let engine = WasmEngine::new(EngineConfig {
        cache_dir: Some(cache.to_owned()),
        ..EngineConfig::default()
    })
    .unwrap();
    let audit = Arc::new(AuditLog::open(AuditConfig::new(audit_dir.join("audit.log"))).unwrap());
    let host = ToolHost::builder(engine.clone(), audit).build().unwrap();
    let echo = engine.load(&echo_wasm()).unwrap();
    host.register(ToolSpec::new(
        "echo",
        echo,
        Capabilities::default(),
        Permissions::default(),
    ))
    .unwrap();
    host
}

type Execute = TypedFunc<(String,), (Result<String, String>,)>;

/// Plain wasmtime: the same component, instantiated per call, no host.
struct Baseline {
    engine: Engine,
    pre: wasmtime::component::InstancePre<()>,
}

impl Baseline {
    fn new() -> Self {
        let engine = Engine::default();
        let component = Component::from_file(&engine, echo_wasm()).unwrap();
        let mut linker = Linker::<()>::new(&engine);
        linker.define_unknown_imports_as_traps(&component).unwrap();
        let pre = linker.instantiate_pre(&component).unwrap();
        Self { engine, pre }
    }

    fn call(&self) -> String {
        let mut store = Store::new(&self.engine, ());
        let instance = self.pre.instantiate(&mut store).unwrap();
        let execute: Execute = instance.get_typed_func(&mut store, "execute").unwrap();
        let (result,) = execute.call(&mut store, (PARAMS.to_owned(),)).unwrap();
        result.unwrap()
    }
}

fn percentiles(name: &str, mut f: impl FnMut()) -> (Duration, Duration, f64) {
    for _ in 0..2_000 {
        f();
    }
    let n = 20_000;
    let mut samples = Vec::with_capacity(n);
    let started = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
    }
    let total = started.elapsed();
    samples.sort();
    let p50 = samples[n / 2];
    let p99 = samples[n * 99 / 100];
    let per_sec = n as f64 / total.as_secs_f64();
    println!("{name:<28} p50 {p50:>9.1?}  p99 {p99:>9.1?}  {per_sec:>9.0} calls/s (one thread)");
    (p50, p99, per_sec)
}

fn report(cache: &Path, audit_dir: &Path) {
    println!("== echo per-call overhead, warm (fresh instance per call)");
    let host = ironclaw_host(cache, audit_dir);
    let ours = percentiles("ironclaw-wasm-host", || {
        black_box(host.call("echo", PARAMS).unwrap());
    });
    let baseline = Baseline::new();
    let plain = percentiles("plain wasmtime baseline", || {
        black_box(baseline.call());
    });
    println!(
        "ratio ironclaw/plain: p50 {:.2}x  throughput {:.2}x",
        ours.0.as_secs_f64() / plain.0.as_secs_f64(),
        plain.2 / ours.2
    );

    println!("== cold load of a cached component after a restart (new engine + load)");
    // Warm the on-disk cache once, then time new engines loading from it.
    drop(ironclaw_host(cache, audit_dir));
    let mut loads = Vec::new();
    let mut engines = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let engine = WasmEngine::new(EngineConfig {
            cache_dir: Some(cache.to_owned()),
            ..EngineConfig::default()
        })
        .unwrap();
        let engine_ready = t.elapsed();
        let component = engine.load(&echo_wasm()).unwrap();
        loads.push((engine_ready, t.elapsed()));
        engines.push((engine, component));
    }
    loads.sort_by_key(|l| l.1);
    let (engine_p50, total_p50) = loads[loads.len() / 2];
    println!(
        "cached cold load             p50 {total_p50:>9.1?}  (engine {engine_p50:.1?}, component {:.1?})",
        total_p50.saturating_sub(engine_p50)
    );
    let t = Instant::now();
    let engine = Engine::default();
    let _ = Component::from_file(&engine, echo_wasm()).unwrap();
    println!("uncached compile (baseline)  {:>9.1?}", t.elapsed());
}

fn main() {
    let cache = tempfile::tempdir().unwrap();
    let audit_dir = tempfile::tempdir().unwrap();
    report(cache.path(), audit_dir.path());

    let mut c = Criterion::default().configure_from_args();
    let host = ironclaw_host(cache.path(), audit_dir.path());
    let baseline = Baseline::new();
    let mut group = c.benchmark_group("echo");
    group.bench_function("ironclaw_host_call", |b| {
        b.iter(|| black_box(host.call("echo", PARAMS).unwrap()))
    });
    group.bench_function("plain_wasmtime_call", |b| {
        b.iter(|| black_box(baseline.call()))
    });
    group.bench_function("cached_cold_load", |b| {
        b.iter(|| {
            let engine = WasmEngine::new(EngineConfig {
                cache_dir: Some(cache.path().to_owned()),
                ..EngineConfig::default()
            })
            .unwrap();
            black_box(engine.load(&echo_wasm()).unwrap())
        })
    });
    group.finish();
    c.final_summary();
}
