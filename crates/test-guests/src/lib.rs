//! Where the WebAssembly guests the tests run are: the example hooks and the fixtures in
//! `tests/guests`, compiled for wasm32 by this crate's `build.rs` (as `scripts/build-hooks.sh`
//! does) whenever their sources change. The root package has this crate as a dev-dependency,
//! so `cargo test` builds the guests before the tests that load them.
//!
//! The layout is the script's: `<DIR>/<target>/release/<name>.wasm`.

use std::path::PathBuf;

/// The directory the guests are built into (`<cargo target dir>/guests`).
pub const DIR: &str = env!("SIGIL_TEST_GUESTS_DIR");

/// The target of hooks (and of most fixtures).
pub const HOOK_TARGET: &str = "wasm32-unknown-unknown";

/// The target of the WASI fixture.
pub const WASI_TARGET: &str = "wasm32-wasip2";

/// The path of guest `name` (its crate name with `_` for `-`) built for `target`.
pub fn path(target: &str, name: &str) -> PathBuf {
    [DIR, target, "release", &format!("{name}.wasm")]
        .iter()
        .collect()
}

/// The path of example hook (or the no-op guest) `name` built against contract 0.1.0
/// (`--features contract-0-1`).
pub fn path_0_1(name: &str) -> PathBuf {
    [
        DIR,
        "contract-0.1.0",
        HOOK_TARGET,
        "release",
        &format!("{name}.wasm"),
    ]
    .iter()
    .collect()
}
