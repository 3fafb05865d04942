//! Builds the example hooks and the test fixtures for wasm32, as `scripts/build-hooks.sh` does,
//! into `<cargo target dir>/guests`, and tells `src/lib.rs` where (`SIGIL_TEST_GUESTS_DIR`).
//!
//! The nested cargo builds the guests' own workspaces with their own target directory (never
//! the one the outer cargo holds a lock on), with the outer cargo's jobserver, and without the
//! outer build's compiler wrappers and flags (`cargo clippy` must not lint the guests, and the
//! host's flags are not the guests').

use std::path::{Path, PathBuf};
use std::process::Command;

/// The guest workspaces, relative to the repository root, and the crates each builds for the
/// WASI target too.
const WORKSPACES: [(&str, &[&str]); 2] =
    [("example-hooks", &[]), ("tests/guests", &["wasi-guest"])];

const HOOK_TARGET: &str = "wasm32-unknown-unknown";
/// Where the example hooks built against contract 0.1.0 go, under the guests' directory.
const V0_1_DIR: &str = "contract-0.1.0";
const WASI_TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest
        .ancestors()
        .nth(2)
        .expect("crates/test-guests is two levels below the root")
        .to_path_buf();
    for watched in ["example-hooks", "tests/guests", "hooks-sdk", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=SIGIL_TEST_GUESTS_DIR");

    let out = guest_dir();
    println!("cargo:rustc-env=SIGIL_TEST_GUESTS_DIR={}", out.display());
    check_targets();
    for (workspace, wasi) in WORKSPACES {
        let manifest = root.join(workspace).join("Cargo.toml");
        cargo_build(&manifest, &out, HOOK_TARGET, &[]);
        for krate in wasi {
            cargo_build(&manifest, &out, WASI_TARGET, &["-p", krate]);
        }
    }
    // The example hooks (and the no-op guest) once more, against contract 0.1.0, as the 0.1.0
    // SDK built them: the compatibility tests run them beside 0.2.0 hooks, and the benchmark
    // measures both versions.
    cargo_build(
        &root.join("example-hooks/Cargo.toml"),
        &out.join(V0_1_DIR),
        HOOK_TARGET,
        &[
            "--workspace",
            // A user-store hook exists only in 0.2.0.
            "--exclude",
            "legacy-login",
            "--no-default-features",
            "--features",
            "contract-0-1",
        ],
    );
    cargo_build(
        &root.join("tests/guests/Cargo.toml"),
        &out.join(V0_1_DIR),
        HOOK_TARGET,
        &[
            "-p",
            "noop",
            "--no-default-features",
            "--features",
            "contract-0-1",
        ],
    );
}

/// `$SIGIL_TEST_GUESTS_DIR` if set, else `guests` in the cargo target directory (found above
/// `OUT_DIR`, which is `<target dir>[/<triple>]/<profile>/build/<crate>-<hash>/out`), the
/// directory `scripts/build-hooks.sh` uses by default.
fn guest_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SIGIL_TEST_GUESTS_DIR") {
        return PathBuf::from(dir);
    }
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(|build| build.parent()?.parent())
        .map(|target| target.join("guests"))
        .unwrap_or_else(|| out_dir.join("guests"))
}

/// Fails with the fix when a wasm32 standard library is missing.
fn check_targets() {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("running rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    let missing: Vec<&str> = [HOOK_TARGET, WASI_TARGET]
        .into_iter()
        .filter(|t| !sysroot.join("lib/rustlib").join(t).join("lib").is_dir())
        .collect();
    assert!(
        missing.is_empty(),
        "the test guests need the {} standard library; install it with:\n\n    \
         rustup target add wasm32-unknown-unknown wasm32-wasip2\n",
        missing.join(" and ")
    );
}

/// `cargo build --release --target <target>` of a guest workspace into `out`.
fn cargo_build(manifest: &Path, out: &Path, target: &str, extra: &[&str]) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--release", "--target", target])
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(out)
        .args(extra);
    // The outer build's settings are not the guests': its wrappers (clippy-driver under
    // `cargo clippy`), its flags, its target.
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    let done = cmd
        .output()
        .unwrap_or_else(|e| panic!("running cargo for {}: {e}", manifest.display()));
    assert!(
        done.status.success(),
        "building the guests of {} for {target} failed:\n{}",
        manifest.display(),
        String::from_utf8_lossy(&done.stderr)
    );
}
