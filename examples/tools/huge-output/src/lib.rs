//! Adversarial: returns an output larger than the host's cap.

wit_bindgen::generate!({
    path: "../../../crates/ironclaw-wasm-host/wit",
    world: "tool",
});

struct HugeOutput;

impl Guest for HugeOutput {
    fn describe() -> String {
        "Returns a huge output.".into()
    }

    fn parameters_schema() -> String {
        r#"{"type":"object","properties":{"bytes":{"type":"integer"}}}"#.into()
    }

    fn execute(params: String) -> Result<String, String> {
        let value: serde_json::Value = serde_json::from_str(&params).unwrap_or_default();
        let bytes = value
            .get("bytes")
            .and_then(|b| b.as_u64())
            .unwrap_or(8 << 20);
        Ok("A".repeat(bytes as usize))
    }
}

export!(HugeOutput);
