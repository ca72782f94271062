//! Developer tasks: `cargo xtask ci | dag | bench`.

mod bench_audit;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bench") if args.get(1).map(String::as_str) == Some("audit") => bench_audit::run(),
        _ => {
            eprintln!("usage: cargo xtask <ci|dag|bench>");
            ExitCode::from(2)
        }
    }
}
