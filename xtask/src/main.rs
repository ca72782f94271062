//! Developer tasks: `cargo xtask ci | dag | bench`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        _ => {
            eprintln!("usage: cargo xtask <ci|dag|bench>");
            ExitCode::from(2)
        }
    }
}
