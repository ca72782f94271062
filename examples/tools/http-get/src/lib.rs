//! `http-get`: fetches an allowlisted URL. The host injects the bearer
//! credential declared in capabilities.json; this code never sees it.

wit_bindgen::generate!({
    path: "../../../crates/ironclaw-wasm-host/wit",
    world: "tool",
});

use ironclaw::tool::host::{self, Request};

struct HttpGet;

impl Guest for HttpGet {
    fn describe() -> String {
        "Fetches an allowlisted URL (GET) and returns the response body.".into()
    }

    fn parameters_schema() -> String {
        r#"{"type":"object","properties":{"url":{"type":"string"}},"required":["url"]}"#.into()
    }

    fn execute(params: String) -> Result<String, String> {
        let value: serde_json::Value =
            serde_json::from_str(&params).map_err(|e| format!("params: {e}"))?;
        let url = value
            .get("url")
            .and_then(|u| u.as_str())
            .ok_or("params: `url` (a string) is required")?;
        let response = host::http_request(&Request {
            method: "GET".into(),
            url: url.into(),
            headers: vec![("accept".into(), "*/*".into())],
            body: None,
            timeout_ms: None,
        })
        .map_err(|e| format!("{e:?}"))?;
        if !(200..300).contains(&response.status) {
            return Err(format!("status {}", response.status));
        }
        String::from_utf8(response.body).map_err(|_| "the body is not UTF-8".into())
    }
}

export!(HttpGet);
