//! The binary under test: the very `latchkey` entry point, plus the fault
//! injection that tests turn on with `LATCHKEY_TEST_FAULTS` (the shipped
//! `latchkey` binary has no such switch).
fn main() -> std::process::ExitCode {
    latchkey_server::main_with(latchkey_server::Hooks { wrap_store: Some(latchkey_server::faults::wrap_from_env) })
}
