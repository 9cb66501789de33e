//! Governance an insider cannot walk around: each test plays an insider with a shell account on
//! the registry's machine (or a hostile model author) and shows the attack refused.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use crate::common::{fresh_dir, stderr, stdout, t1_data};

/// `sieve ARGS` started under umask 022, as an ordinary login shell would.
fn sieve_umask_022(home: &Path, token: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg("umask 022; exec \"$0\" \"$@\"").arg(env!("CARGO_BIN_EXE_sieve")).args(args);
    cmd.env("SIEVE_HOME", home).env_remove("SIEVE_TOKEN").env_remove("SIEVE_DATABASE_URL");
    if let Some(t) = token {
        cmd.env("SIEVE_TOKEN", t);
    }
    cmd.output().expect("start sieve")
}

fn modes(dir: &Path, out: &mut Vec<(String, u32)>) {
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        let meta = std::fs::symlink_metadata(&path).expect("meta");
        out.push((path.display().to_string(), meta.permissions().mode() & 0o777));
        if meta.is_dir() {
            modes(&path, out);
        }
    }
}

#[test]
fn the_home_and_every_file_in_it_are_private() {
    let home = fresh_dir("private-home").join("home");
    let o = sieve_umask_022(&home, None, &["init", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let admin: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let admin = admin["admin_token"].as_str().expect("token").to_string();
    let data = t1_data("parquet", 1);
    let data = data.to_str().expect("utf-8");
    for args in [
        vec!["dataset", "import", "t1", data, "--task", "vehicle-insurance-fraud", "--source", "court"],
        vec!["plugin", "publish", "vehicle-insurance-fraud"],
        vec!["run", "vehicle-insurance-fraud", "--data", data],
    ] {
        let o = sieve_umask_022(&home, Some(&admin), &args);
        assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
    }
    let mode = std::fs::metadata(&home).expect("home").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the home");
    let mut all = Vec::new();
    modes(&home, &mut all);
    assert!(all.iter().any(|(p, _)| p.ends_with("sieve.db")));
    assert!(all.iter().any(|(p, _)| p.contains("compiled")));
    for (path, mode) in &all {
        let is_dir = Path::new(path).is_dir();
        let wanted = if is_dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, wanted, "{path} is {mode:o}, not {wanted:o}");
    }

    // A home opened up by hand draws a warning.
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let o = sieve_umask_022(&home, Some(&admin), &["whoami"]);
    assert!(stderr(&o).contains("open to other local accounts (mode 755)"), "{}", stderr(&o));
}
