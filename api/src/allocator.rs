//! The server's allocator: mimalloc, built for a small footprint.
//!
//! Declared here, so every binary that links this crate uses it: the
//! server, the e2e server and tests, the benches. On the runtime commit path glibc's malloc/free were a
//! quarter of the time; mimalloc gives back most of it (README,
//! Benchmarks). By default mimalloc commits its arenas eagerly, which
//! doubled the server's resident memory (54 MB idle and 128 MB at the peak
//! of a 200 MB import, against 33 and 48 MB with glibc). The option is read
//! when the process starts, so `.cargo/config.toml` builds mimalloc with
//! on-demand commits as its default (`MI_DEFAULT_ARENA_EAGER_COMMIT=0`).

#![allow(unsafe_code)] // one read through mimalloc's C API, with its SAFETY note

use libmimalloc_sys::{mi_option_get, mi_option_t};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_arena_eager_commit` in mimalloc 3's `mimalloc.h` (the
/// bindings' constants follow mimalloc 2's numbering).
const ARENA_EAGER_COMMIT: mi_option_t = 4;

/// Whether mimalloc commits arena memory only on demand, as this build
/// sets it to.
pub fn arenas_commit_on_demand() -> bool {
    // SAFETY: mimalloc's options are plain integers read through its own
    // API, safe to read from any thread at any time.
    unsafe { mi_option_get(ARENA_EAGER_COMMIT) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Built with `.cargo/config.toml`'s define. (Without it the option's
    /// default is 2, "eager on overcommit systems"; a wrong option number
    /// would read another option, and none of mimalloc 3's others is
    /// tied to this define.)
    #[test]
    fn mimalloc_commits_arenas_on_demand() {
        assert!(arenas_commit_on_demand());
    }
}
