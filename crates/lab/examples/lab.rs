//! `spool lab` without the `spool` binary: parses [`lab::LabArgs`] and runs the lab.
//!
//! ```text
//! cargo run -p spool-lab --example lab -- --scale 0.05 --timeline /tmp/tl
//! ```

use clap::Parser;

/// The lab's command line, standing alone.
#[derive(Debug, Parser)]
#[command(name = "lab", about = "Run the Async Rust chapter's experiments")]
struct Cli {
    #[command(flatten)]
    args: lab::LabArgs,
}

fn main() -> std::process::ExitCode {
    lab::main(Cli::parse().args)
}
