//! The `allureconnect` binary, for the process-level tests of this crate
//! (with the same allocator, `api::allocator`'s).

fn main() -> std::process::ExitCode {
    api::entry::main()
}
