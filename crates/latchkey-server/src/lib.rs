//! The `latchkey` binary: configuration, command line, application state and
//! the one place where the router is assembled.

#[cfg(test)]
mod architecture_docs;
pub mod cached;
pub mod cli;
pub mod commands;
pub mod config;
#[cfg(test)]
mod config_docs;
pub mod connections;
#[doc(hidden)]
pub mod faults;
pub mod guarded;
pub mod health;
pub mod inspect;
pub mod keys;
pub mod metered;
pub mod observe;

pub mod serve;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;

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
    return_large_blocks_to_the_os();
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

/// glibc serves a block of 128 KiB or more with its own mapping, returned to
/// the system when freed, but then raises that threshold to the size of the
/// block (up to 32 MiB): after the first 19 MiB Argon2 block is freed, later
/// ones come from the threads' heaps (up to 8 per core) and stay there when
/// freed. 32 concurrent sign-ins left the server at 350-480 MiB for good
/// (docs/performance.md, "Memory after a burst of sign-ins"). A fixed
/// threshold keeps large blocks mapped: freed, they are given back at once.
/// Before any thread starts, as `mallopt` requires; an operator's own
/// `MALLOC_MMAP_THRESHOLD_` wins.
fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: `mallopt` only changes a malloc tunable; no other thread exists yet.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        }
    }
}
