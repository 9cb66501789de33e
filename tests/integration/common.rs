//! Shared fixtures: the binary, a home with a compiled-code cache, generated datasets, test guests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// A directory that lives as long as the test process: `sieve-tests-PID` in the temp directory.
/// Statics are never dropped, so nothing removes it when the process ends; the next test process
/// removes those whose process is gone (hundreds of MiB each: datasets, homes, components).
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let temp = std::env::temp_dir();
        remove_scratch_of_ended_processes(&temp);
        let dir = temp.join(format!("{SCRATCH_PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        dir
    })
}

const SCRATCH_PREFIX: &str = "sieve-tests-";

/// Remove the scratch directories of test processes that have ended (where `/proc` tells).
fn remove_scratch_of_ended_processes(temp: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(temp) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(SCRATCH_PREFIX).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A fresh directory under the scratch area.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = scratch().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create dir");
    dir
}

/// The path `fresh_dir(name)` made, without emptying it.
pub fn fresh_dir_path(name: &str) -> PathBuf {
    scratch().join(name)
}

/// `sieve` with a shared home (so compiled code is cached across tests).
pub fn sieve() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sieve"));
    cmd.env("SIEVE_HOME", scratch().join("home"));
    cmd
}

/// Run `sieve` with `args`; returns the output.
pub fn run(args: &[&str]) -> Output {
    sieve().args(args).output().expect("start sieve")
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A T1 dataset at scale 1 generated once per format and seed.
pub fn t1_data(format: &str, seed: u64) -> PathBuf {
    static DONE: OnceLock<std::sync::Mutex<Vec<PathBuf>>> = OnceLock::new();
    let done = DONE.get_or_init(Default::default);
    let mut done = done.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch().join(format!("t1-{format}-{seed}"));
    if !done.contains(&dir) {
        let o = run(&[
            "gen",
            "vehicle-insurance-fraud",
            "--scale",
            "1",
            "--seed",
            &seed.to_string(),
            "--format",
            format,
            "--out",
            dir.to_str().expect("utf-8 path"),
        ]);
        assert!(o.status.success(), "gen failed: {}", stderr(&o));
        done.push(dir.clone());
    }
    dir
}

/// Path of a test guest component built from `tests/guests/<name>`.
pub fn guest(name: &str) -> String {
    sieve_host::bundled::TEST_GUESTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| p.to_string())
        .unwrap_or_else(|| panic!("no test guest {name}"))
}

/// `sieve run COMPONENT --data DIR --json EXTRA...`, parsed.
pub fn run_json(component: &str, data: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["run", component, "--data", data.to_str().expect("utf-8 path"), "--json"];
    args.extend_from_slice(extra);
    let o = run(&args);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}\nstderr: {}", stdout(&o), stderr(&o)));
    (o.status.code().expect("exit code"), v)
}
