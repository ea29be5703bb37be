//! `allureconnect`: serve, manage workspaces, replay projections.

/// mimalloc: the server allocates and frees small buffers on every request
/// and every event from two threads at once, where glibc's allocator spent
/// a quarter of the runtime commit path (see `api::allocator`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    api::entry::main()
}
