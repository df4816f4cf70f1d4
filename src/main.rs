//! The `smartsweep` binary: parse the command line, set up logging, run the
//! command, and turn its outcome into an exit code (see `commands::exit`).

use clap::Parser;
use smartsweep::cli::{Cli, LogFormat};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap prints help and version to stdout (exit 0) and usage
            // errors to stderr; usage errors are exit 2 like a bad pipeline.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(smartsweep::commands::exit::USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let default_level = match (cli.global.quiet, cli.global.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    // RUST_LOG wins when set; our own crates log at the chosen level and the
    // HTTP stack stays at warn unless asked.
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,smartsweep={default_level}")));
    // Colour only on a terminal: in a scheduler's log, escape codes are
    // noise (and a record id can never bring its own: ids are escaped).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    match cli.global.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(smartsweep::commands::exit::ABORTED);
        }
    };
    runtime.block_on(smartsweep::commands::execute(cli))
}
