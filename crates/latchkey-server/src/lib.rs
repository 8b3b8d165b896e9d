//! The `latchkey` binary: configuration, command line, application state and
//! the one place where the router is assembled.

pub mod admin_ops;
pub mod cached;
pub mod cli;
pub mod commands;
pub mod config;
#[cfg(test)]
mod config_docs;
pub mod config_file;
mod delegate;
pub mod inspect;
pub mod keys;
pub mod metered;
pub mod observe;

pub mod serve;
pub mod state;

use std::process::ExitCode;

use clap::Parser;

/// Entry point shared by the `latchkey` binary and the end-to-end tests' copy of it.
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
