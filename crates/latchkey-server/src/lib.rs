//! The `latchkey` binary: configuration, command line, application state and
//! the one place where the router is assembled.

pub mod admin_ops;
pub mod cached;
pub mod cli;
pub mod commands;
pub mod config;
pub mod connections;
mod delegate;
#[doc(hidden)]
pub mod faults;
pub mod guarded;
pub mod health;
pub mod keys;
pub mod metered;
pub mod observe;

pub mod serve;
pub mod state;

use std::process::ExitCode;

use clap::Parser;

/// A wrapper around the store (see [`Hooks::wrap_store`]).
pub type StoreLayer = fn(std::sync::Arc<dyn latchkey_store::Store>) -> std::sync::Arc<dyn latchkey_store::Store>;

/// What a binary adds to `serve` beyond the configuration. The `latchkey`
/// binary adds nothing; the end-to-end tests' binary wraps the store in
/// [`faults::FailingStore`] when its test asks for injected failures.
#[derive(Default, Clone, Copy)]
pub struct Hooks {
    /// Wraps the store right above the backends (below metrics, health and caches).
    pub wrap_store: Option<StoreLayer>,
}

/// Entry point of the `latchkey` binary.
pub fn main() -> ExitCode {
    main_with(Hooks::default())
}

/// Entry point with hooks (the end-to-end tests' binary).
pub fn main_with(hooks: Hooks) -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli, hooks)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
