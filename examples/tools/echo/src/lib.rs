//! `echo`: returns its `message` parameter.

wit_bindgen::generate!({
    path: "../../../crates/ironclaw-wasm-host/wit",
    world: "tool",
});

struct Echo;

impl Guest for Echo {
    fn describe() -> String {
        "Returns its `message` parameter.".into()
    }

    fn parameters_schema() -> String {
        r#"{"type":"object","properties":{"message":{"type":"string"}},"required":["message"]}"#
            .into()
    }

    fn execute(params: String) -> Result<String, String> {
        let value: serde_json::Value =
            serde_json::from_str(&params).map_err(|e| format!("params: {e}"))?;
        match value.get("message").and_then(|m| m.as_str()) {
            Some(message) => Ok(message.to_owned()),
            None => Err("params: `message` (a string) is required".into()),
        }
    }
}

export!(Echo);
