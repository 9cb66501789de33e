//! Compiles every guest crate (`plugins/*`, `tests/guests/*`) to a `wasm32-wasip2` component,
//! in the manner of wasmtime's test-programs artifacts, and writes `guests.rs` into `OUT_DIR`:
//! the bundled models embedded as bytes, the test guests as paths.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().expect("host/ sits in the workspace root").to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    for watched in ["plugins", "tests/guests", "sdk", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let bundled = crate_names(&root.join("plugins"));
    let test_guests = crate_names(&root.join("tests/guests"));
    ensure_wasm_target();

    // A target directory of its own: the outer cargo holds the lock on the main one.
    let target_dir = find_target_dir(&out_dir).join("guests");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root).args(["build", "--release", "--target", TARGET, "--target-dir"]).arg(&target_dir);
    for (name, _) in bundled.iter().chain(&test_guests) {
        cmd.args(["-p", name]);
    }
    // The outer build's flags and wrappers (clippy, coverage, host rustflags) are not for guests.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    // Small, fast guests: full LTO, one codegen unit, no DWARF (the name section stays for backtraces).
    cmd.env("CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS", "-C target-feature=+simd128")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3");
    let status = cmd.status().expect("could not start cargo to build the guest components");
    assert!(status.success(), "building the guest components for {TARGET} failed (see the errors above)");

    let wasm_dir = target_dir.join(TARGET).join("release");
    let mut code = String::from(
        "/// Bundled models: (name, component bytes).\npub const BUNDLED: &[(&str, &[u8])] = &[\n",
    );
    for (name, lib) in &bundled {
        let path = wasm_dir.join(format!("{lib}.wasm"));
        code.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", path.display().to_string()));
    }
    code.push_str("];\n/// Test guests: (name, path of the component).\n#[allow(dead_code)]\npub const TEST_GUESTS: &[(&str, &str)] = &[\n");
    for (name, lib) in &test_guests {
        let path = wasm_dir.join(format!("{lib}.wasm"));
        code.push_str(&format!("    ({name:?}, {:?}),\n", path.display().to_string()));
    }
    // The demo's competition entries ship inside the binary, as the bundled models do.
    code.push_str("];\n/// Demo competition entries from `tests/guests/demo-*`: (name, component bytes).\npub const DEMO_ENTRIES: &[(&str, &[u8])] = &[\n");
    for (name, lib) in test_guests.iter().filter(|(n, _)| n.starts_with("demo-")) {
        let path = wasm_dir.join(format!("{lib}.wasm"));
        code.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", path.display().to_string()));
    }
    code.push_str("];\n");
    fs::write(out_dir.join("guests.rs"), code).expect("write guests.rs");
}

/// (package name, library file stem) of every crate directly under `dir`.
fn crate_names(dir: &Path) -> Vec<(String, String)> {
    let mut names = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else { return names };
    for entry in entries.flatten() {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = fs::read_to_string(&manifest) else { continue };
        let name = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = ").map(|v| v.trim_matches('"').to_string()))
            .unwrap_or_else(|| panic!("{} has no package name", manifest.display()));
        let lib = name.replace('-', "_");
        names.push((name, lib));
    }
    names.sort();
    names
}

/// The directory holding cargo's `CACHEDIR.TAG` above `OUT_DIR` (the workspace target dir).
fn find_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|p| p.join("CACHEDIR.TAG").exists())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.to_path_buf())
}

/// `rust-toolchain.toml` names the target, but rustup only installs it with a new toolchain:
/// on a machine whose toolchain predates the file, add it here rather than fail.
fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let installed = sysroot.is_some_and(|s| Path::new(&s).join("lib/rustlib").join(TARGET).exists());
    if !installed {
        let status = Command::new("rustup").args(["target", "add", TARGET]).status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "the {TARGET} target is missing and `rustup target add {TARGET}` failed"
        );
    }
}
