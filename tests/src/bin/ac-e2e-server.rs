//! The `allureconnect` binary, for the process-level tests of this crate.

/// The allocator of the real binary (`api/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    api::entry::main()
}
