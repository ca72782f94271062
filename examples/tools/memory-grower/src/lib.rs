//! Adversarial: grows its memory without bound.

wit_bindgen::generate!({
    path: "../../../crates/ironclaw-wasm-host/wit",
    world: "tool",
});

struct MemoryGrower;

impl Guest for MemoryGrower {
    fn describe() -> String {
        "Grows its memory without bound.".into()
    }

    fn parameters_schema() -> String {
        "{}".into()
    }

    fn execute(_params: String) -> Result<String, String> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut chunk = vec![0u8; 1 << 20];
            chunk[0] = hoard.len() as u8;
            hoard.push(std::hint::black_box(chunk));
        }
    }
}

export!(MemoryGrower);
