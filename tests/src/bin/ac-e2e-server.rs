//! The `allureconnect` binary, for the process-level tests of this crate.

fn main() -> std::process::ExitCode {
    api::entry::main()
}
