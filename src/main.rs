//! `spool`: the command line. It parses flags, sets up logging and the runtime, and hands over
//! to the libraries; everything interesting lives in `crates/server` (and `crates/spool`).
#![warn(
    missing_docs,
    rust_2018_idioms,
    unreachable_pub,
    clippy::undocumented_unsafe_blocks
)]

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use server::{Config, RuntimeKind};

/// Spool: the Async Rust chapter's system made real — an HTTP/1.1 + HTTP/2 server on an async
/// runtime. With no subcommand, `spool` runs `spool serve`.
#[derive(Debug, Parser)]
#[command(name = "spool", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// The flags of `serve`, accepted without the subcommand name too (`spool --addr ...`).
    #[command(flatten)]
    serve: Config,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP/1.1 and HTTP/2 (prior knowledge) on one port, or HTTPS with the TLS flags
    /// (the default command).
    Serve(Config),
    /// Re-run the chapter's experiments and print what was measured beside the book's figures.
    Lab(lab::LabArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve(cli.serve));
    let result = match command {
        Command::Serve(config) => serve(config),
        // The lab prints its own report and errors, and picks its own exit code.
        Command::Lab(args) => return lab::main(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // One line, no backtrace: the message already says what and why.
            eprintln!("error: {}", failure.message);
            failure.code
        }
    }
}

/// Why `serve` failed: the line to print and the exit code.
struct Failure {
    message: String,
    /// 2 for usage errors (as clap exits for a bad flag), 1 for everything else.
    code: ExitCode,
}

impl Failure {
    /// A failure that is not the user's doing: exit code 1.
    fn other(message: String) -> Self {
        Failure {
            message,
            code: ExitCode::FAILURE,
        }
    }
}

impl From<server::Error> for Failure {
    fn from(error: server::Error) -> Self {
        let code = match error {
            // Unusable TLS files or flags are the user's to fix, like any bad flag.
            server::Error::Tls(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        };
        Failure {
            message: error.to_string(),
            code,
        }
    }
}

fn serve(config: Config) -> Result<(), Failure> {
    // Kept until the host has returned: dropping it writes every line still queued.
    let _log = init_logging(&config);
    let shutdown = server::shutdown_signal()?;
    match config.runtime {
        RuntimeKind::Tokio => server::serve_on_tokio(config, shutdown, |_| {})?,
        RuntimeKind::Spool => {
            let workers = config.worker_threads();
            let runtime = spool::Runtime::builder()
                .worker_threads(workers)
                .thread_name("spool")
                .build()
                .map_err(|error| {
                    Failure::other(format!("cannot start the spool runtime: {error}"))
                })?;
            tracing::debug!(workers, "spool runtime started");
            let result = server::serve_on_spool(&runtime, config, shutdown, |_| {});
            // The connections are drained or closed already; don't let a blocking job that is
            // still spinning (`/work?mode=blocking`) hold the exit.
            runtime.shutdown_timeout(Duration::from_millis(100));
            result?
        }
    }
    Ok(())
}

/// Logs go to stderr (through the log's queue, `server::log`), so stdout stays free for
/// anything a command prints as its result.
fn init_logging(config: &Config) -> server::log::LogGuard {
    server::log::init(&config.log, config.log_format, config.log_queue_lines).unwrap_or_else(
        |error| {
            // clap has already accepted the flag; this is the one check it cannot do for us.
            clap::Error::raw(clap::error::ErrorKind::ValueValidation, error.to_string()).exit()
        },
    )
}
