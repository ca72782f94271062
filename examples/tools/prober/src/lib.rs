//! Adversarial: tries what it was not given. Parameters pick the attempt:
//!
//! - `{"http": {"method": "GET", "url": "...", "headers": [["k","v"]], "body": "..."}}`
//! - `{"secret": "name"}` (secret-exists)
//! - `{"read": "path"}`, `{"write": "path", "data": "..."}` (workspace)
//! - `{"invoke": "tool", "params": "{...}"}` (tool-invoke)
//! - `{"log": "text"}`, `{"now": true}`, `{"count": true}` (calls seen by this instance)
//!
//! The output is JSON: `{"ok": ...}` or `{"error": "<host-error case>", "detail": "..."}`.

wit_bindgen::generate!({
    path: "../../../crates/ironclaw-wasm-host/wit",
    world: "tool",
});

use ironclaw::tool::host::{self, HostError, LogLevel, Request};
use serde_json::{Value, json};

struct Prober;

fn error(e: HostError) -> Value {
    let (case, detail) = match e {
        HostError::NotAllowed(d) => ("not-allowed", d),
        HostError::NetworkBlocked(d) => ("network-blocked", d),
        HostError::LeakBlocked(d) => ("leak-blocked", d),
        HostError::RateLimited => ("rate-limited", String::new()),
        HostError::Timeout => ("timeout", String::new()),
        HostError::TooLarge(n) => ("too-large", n.to_string()),
        HostError::Cycle(d) => ("cycle", d),
        HostError::DepthExceeded(n) => ("depth-exceeded", n.to_string()),
        HostError::Invalid(d) => ("invalid", d),
        HostError::Failed(d) => ("failed", d),
    };
    json!({ "error": case, "detail": detail })
}

fn run(p: &Value) -> Value {
    if let Some(h) = p.get("http") {
        let headers = h
            .get("headers")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|pair| {
                        Some((
                            pair.get(0)?.as_str()?.to_owned(),
                            pair.get(1)?.as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let request = Request {
            method: h
                .get("method")
                .and_then(|m| m.as_str())
                .unwrap_or("GET")
                .into(),
            url: h.get("url").and_then(|u| u.as_str()).unwrap_or("").into(),
            headers,
            body: h
                .get("body")
                .and_then(|b| b.as_str())
                .map(|b| b.as_bytes().to_vec()),
            timeout_ms: h
                .get("timeout_ms")
                .and_then(|t| t.as_u64())
                .map(|t| t as u32),
        };
        return match host::http_request(&request) {
            Ok(r) => json!({ "ok": {
                "status": r.status,
                "headers": r.headers,
                "body": String::from_utf8_lossy(&r.body),
            }}),
            Err(e) => error(e),
        };
    }
    if let Some(name) = p.get("secret").and_then(|s| s.as_str()) {
        return json!({ "ok": host::secret_exists(name) });
    }
    if let Some(path) = p.get("read").and_then(|s| s.as_str()) {
        return match host::workspace_read(path) {
            Ok(data) => json!({ "ok": String::from_utf8_lossy(&data) }),
            Err(e) => error(e),
        };
    }
    if let Some(path) = p.get("write").and_then(|s| s.as_str()) {
        let data = p.get("data").and_then(|d| d.as_str()).unwrap_or("");
        return match host::workspace_write(path, data.as_bytes()) {
            Ok(()) => json!({ "ok": true }),
            Err(e) => error(e),
        };
    }
    if let Some(tool) = p.get("invoke").and_then(|s| s.as_str()) {
        let params = p.get("params").and_then(|s| s.as_str()).unwrap_or("{}");
        return match host::tool_invoke(tool, params) {
            Ok(out) => json!({ "ok": out }),
            Err(e) => error(e),
        };
    }
    if let Some(text) = p.get("log").and_then(|s| s.as_str()) {
        host::log(LogLevel::Info, text);
        return json!({ "ok": true });
    }
    if p.get("count").is_some() {
        // A fresh instance per call: this is 1 every time.
        static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        return json!({ "ok": n });
    }
    if p.get("now").is_some() {
        return json!({ "ok": host::now_millis() });
    }
    json!({ "error": "usage", "detail": "unknown attempt" })
}

impl Guest for Prober {
    fn describe() -> String {
        "Tries hosts, addresses, secrets, paths and tools it was not given.".into()
    }

    fn parameters_schema() -> String {
        r#"{"type":"object"}"#.into()
    }

    fn execute(params: String) -> Result<String, String> {
        let p: Value = serde_json::from_str(&params).map_err(|e| format!("params: {e}"))?;
        Ok(run(&p).to_string())
    }
}

export!(Prober);
