//! `allureconnect`: serve, manage workspaces, replay projections.

fn main() -> std::process::ExitCode {
    api::entry::main()
}
