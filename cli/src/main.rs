//! `etcdgw`: an etcdctl over etcd's JSON/HTTP gateway.
//!
//! A thin layer on the `etcdgw` library: every request goes through [`etcdgw::Client`], and
//! this binary only parses etcdctl's arguments and prints etcd's answers the way etcdctl 3.5
//! prints them (`simple`, `json`, `fields` and, where etcdctl has it, `table`).
//!
//! Layout:
//! - `args`: the command line (clap), with etcdctl's verbs and flags;
//! - `commands/`: one module per group of verbs, each a few calls to the library;
//! - `output/`: the printers, one module per output format, and Go's formatting helpers;
//! - `txn`: etcdctl's transaction syntax;
//! - `connect`: the client from the global flags (TLS files, user and password prompt);
//! - `srv`: DNS SRV discovery of the endpoints (`--discovery-srv`);
//! - `error`: etcdctl's exit codes and how library errors map to them.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod args;
mod commands;
mod connect;
mod error;
mod output;
mod parse;
mod requests;
mod srv;
mod txn;

use std::process::ExitCode;

use clap::FromArgMatches;

use crate::args::Cli;
use crate::error::exit;

fn main() -> ExitCode {
    let parsed = args::command()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches).map(|cli| (matches, cli)));
    let cli = match parsed {
        Ok((matches, mut cli)) => {
            // The connection settings of the environment, read by the library as etcdctl
            // reads them; a value it cannot use is refused, as etcdctl does.
            if let Err(err) = args::resolve_environment(&matches, &mut cli.global) {
                output::warn(&format!("Error: {err}"));
                return exit_code(error::code_of(&err));
            }
            cli
        }
        Err(err) => {
            // Help and version are not errors; everything clap refuses is a usage error, which
            // etcdctl (cobra) reports with exit code 1. The commands' own checks of their
            // arguments use ExitBadArgs (128), as etcdctl's do.
            let code = match err.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => exit::ERROR,
            };
            let _ = err.print();
            return exit_code(code);
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::warn(&format!("Error: cannot start the async runtime: {e}"));
            return exit_code(exit::ERROR);
        }
    };
    let result = runtime.block_on(commands::run(cli));
    // Background work (lease keep-alives, closing watches) has no business delaying the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if !err.message.is_empty() {
                output::warn(&format!("Error: {}", err.message));
            }
            exit_code(err.code)
        }
    }
}

fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
