//! `allureconnect`: serve, manage workspaces, replay projections.
//! (Its allocator is `api::allocator`'s.)

fn main() -> std::process::ExitCode {
    api::entry::main()
}
