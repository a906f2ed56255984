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

    #[command(flatten)]
    inspect: InspectArgs,
}

/// The inspector's flags (on `serve`).
#[derive(Debug, Clone, clap::Args)]
struct InspectArgs {
    /// Serve the live inspector (a web page of the runtime's workers, tasks and detector hits)
    /// on its own listener at IP:PORT; off by default. Needs `--runtime spool`, and not
    /// `--per-core` (it watches one runtime).
    #[arg(long, env = "SPOOL_INSPECT", value_name = "IP:PORT")]
    inspect: Option<std::net::SocketAddr>,

    /// Allow `--inspect` on a non-loopback address (the page shows source paths and task
    /// internals to whoever can reach it).
    #[arg(long)]
    inspect_allow_remote: bool,
}

/// `serve`'s flags: the server's and the inspector's.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    config: Config,
    #[command(flatten)]
    inspect: InspectArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP/1.1 and HTTP/2 (prior knowledge) on one port, or HTTPS with the TLS flags
    /// (the default command).
    Serve(ServeArgs),
    /// Re-run the chapter's experiments and print what was measured beside the book's figures.
    Lab(lab::LabArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs {
        config: cli.serve,
        inspect: cli.inspect,
    }));
    let result = match command {
        Command::Serve(args) => serve(args.config, args.inspect),
        Command::Lab(args) => match args.serve {
            Some(addr) => serve_lab(addr),
            // The lab prints its own report and errors, and picks its own exit code.
            None => return lab::main(args),
        },
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
    /// A usage error: exit code 2.
    fn usage(message: String) -> Self {
        Failure {
            message,
            code: ExitCode::from(2),
        }
    }

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
            server::Error::Tls(_) | server::Error::Usage(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        };
        Failure {
            message: error.to_string(),
            code,
        }
    }
}

/// `spool lab --serve ADDR`: the lab as a web page, until stopped.
fn serve_lab(addr: std::net::SocketAddr) -> Result<(), Failure> {
    inspect::check_addr(addr, false, "a loopback address").map_err(Failure::usage)?;
    inspect::lab::serve(addr, |local| {
        println!("spool lab: open http://{local}/");
    })
    .map_err(|error| Failure::other(format!("cannot serve the lab on {addr}: {error}")))
}

fn serve(config: Config, inspect: InspectArgs) -> Result<(), Failure> {
    // The inspector's flags are checked before anything starts: a refusal is one line, exit 2.
    if let Some(addr) = inspect.inspect {
        if config.runtime != RuntimeKind::Spool {
            return Err(Failure::usage(
                "--inspect needs --runtime spool: tokio's stable metrics do not name tasks, \
                 spawn sites or polls, which is what the inspector shows"
                    .to_owned(),
            ));
        }
        if config.per_core {
            return Err(Failure::usage(
                "--inspect cannot be used with --per-core: the inspector watches one runtime, \
                 and --per-core runs one per worker; inspect the same load without --per-core"
                    .to_owned(),
            ));
        }
        inspect::check_addr(addr, inspect.inspect_allow_remote, "--inspect-allow-remote")
            .map_err(Failure::usage)?;
    }
    // Kept until the host has returned: dropping it writes every line still queued.
    let _log = init_logging(&config);
    match config.runtime {
        RuntimeKind::Tokio => {
            let shutdown = server::shutdown_signal()?;
            server::serve_on_tokio(config, shutdown, |_| {})?
        }
        RuntimeKind::Spool if config.per_core => {
            let cores = (0..config.worker_threads())
                .map(|_| {
                    spool::Builder::new_current_thread()
                        .thread_name("spool")
                        .build()
                        .map_err(|error| {
                            Failure::other(format!("cannot start the spool runtimes: {error}"))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            tracing::debug!(cores = cores.len(), "spool per-core runtimes started");
            // On the first core's reactor: that core's thread awaits it.
            let shutdown = {
                let _context = cores[0].handle().enter();
                server::shutdown_signal()?
            };
            server::serve_per_core_on_spool(cores, config, shutdown, |_| {})?
        }
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
            let _inspector = match inspect.inspect {
                Some(addr) => {
                    let inspector =
                        inspect::inspector::start(runtime.handle(), addr).map_err(|error| {
                            Failure::other(format!("cannot serve the inspector on {addr}: {error}"))
                        })?;
                    tracing::info!("inspector on http://{}/", inspector.local_addr());
                    Some(inspector)
                }
                None => None,
            };
            // Inside the runtime's context: the signals come through its reactor (no tokio).
            let shutdown = {
                let _context = runtime.handle().enter();
                server::shutdown_signal()?
            };
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
