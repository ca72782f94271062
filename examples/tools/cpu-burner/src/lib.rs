//! Adversarial: burns CPU forever. The host must stop it (fuel or deadline).

wit_bindgen::generate!({
    path: "../../../crates/ironclaw-wasm-host/wit",
    world: "tool",
});

struct CpuBurner;

impl Guest for CpuBurner {
    fn describe() -> String {
        "Burns CPU forever.".into()
    }

    fn parameters_schema() -> String {
        "{}".into()
    }

    fn execute(_params: String) -> Result<String, String> {
        let mut x: u64 = 1;
        loop {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

export!(CpuBurner);
