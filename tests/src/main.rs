//! The binary under test: the very `latchkey` entry point.
fn main() -> std::process::ExitCode {
    latchkey_server::main()
}
