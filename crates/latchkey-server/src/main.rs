fn main() -> std::process::ExitCode {
    latchkey_server::main()
}
