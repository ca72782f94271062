//! Adversarial: invokes itself (a cycle the host must refuse).

wit_bindgen::generate!({
    path: "../../../crates/ironclaw-wasm-host/wit",
    world: "tool",
});

use ironclaw::tool::host;

struct SelfInvoker;

impl Guest for SelfInvoker {
    fn describe() -> String {
        "Invokes itself.".into()
    }

    fn parameters_schema() -> String {
        "{}".into()
    }

    fn execute(params: String) -> Result<String, String> {
        match host::tool_invoke("self-invoker", &params) {
            Ok(out) => Ok(out),
            Err(e) => Err(format!("{e:?}")),
        }
    }
}

export!(SelfInvoker);
