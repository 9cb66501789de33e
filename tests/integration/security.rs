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

/// The compiled artifact and MAC files of the component with digest `digest` in `home`'s cache.
fn artifact_files(home: &Path, digest: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let hex = digest.trim_start_matches("sha256:");
    let dir = home.join("cache").join("compiled");
    let stem = std::fs::read_dir(&dir)
        .expect("cache")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm") && p.to_string_lossy().contains(hex))
        .unwrap_or_else(|| panic!("no artifact for {digest}"));
    (stem.clone(), stem.with_extension("mac"))
}

#[test]
fn the_code_cache_loads_only_what_this_registry_compiled_for_that_digest() {
    let home = fresh_dir("cache-swap");
    let data = t1_data("parquet", 1);
    let data = data.to_str().expect("utf-8");
    let run = |component: &str| -> serde_json::Value {
        let o = Command::new(env!("CARGO_BIN_EXE_sieve"))
            .env("SIEVE_HOME", &home)
            .args(["run", component, "--data", data, "--json", "--param", "mode=ok"])
            .output()
            .expect("run");
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)))
    };
    let approved = crate::common::guest("guest-hostile");
    let other = crate::common::guest("guest-raw");
    let first = run(&approved);
    let second = run(&other);
    assert_eq!(
        (first["outcome"].as_str(), second["outcome"].as_str()),
        (Some("completed"), Some("completed"))
    );
    assert_ne!(first["output_digest"], second["output_digest"], "the two models differ in what they emit");
    let digest = first["plugin_digest"].as_str().expect("digest");
    let (code, mac) = artifact_files(&home, digest);
    let (other_code, other_mac) = artifact_files(&home, second["plugin_digest"].as_str().expect("digest"));

    // Swap: the other component's artifact and MAC under this component's name.
    std::fs::copy(&other_code, &code).expect("copy");
    std::fs::copy(&other_mac, &mac).expect("copy");
    let swapped = run(&approved);
    assert_eq!(swapped["compiled_code"], "rebuilt", "{swapped}");
    assert_eq!(swapped["output_digest"], first["output_digest"], "the pinned component's own code ran");

    // Forgery: any bytes, with a MAC under a key the forger does not hold.
    std::fs::write(&code, b"\x7fELF forged native code").expect("write");
    std::fs::write(&mac, "0".repeat(64)).expect("write");
    let forged = run(&approved);
    assert_eq!(forged["compiled_code"], "rebuilt", "{forged}");
    assert_eq!(forged["output_digest"], first["output_digest"]);
    // And the rebuilt artifact is trusted again.
    assert_eq!(run(&approved)["compiled_code"], "hit");

    // An artifact that others may write is never mapped, though its MAC matches: whoever changed
    // it between the check and the use would run their own code. It is rebuilt, for this account.
    std::fs::set_permissions(&code, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let opened = run(&approved);
    assert_eq!(opened["compiled_code"], "rebuilt", "{opened}");
    assert_eq!(opened["output_digest"], first["output_digest"]);
    let mode = std::fs::metadata(&code).expect("artifact").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the rebuilt artifact is this account's alone");
    assert_eq!(run(&approved)["compiled_code"], "hit");
    let key = std::fs::metadata(home.join("keys").join("cache.key")).expect("key");
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
}

/// A fresh copy of dataset directory `source` called `name`.
fn copy_of(source: &Path, name: &str) -> std::path::PathBuf {
    let dir = fresh_dir(name);
    for entry in std::fs::read_dir(source).expect("source") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, dir.join(path.file_name().expect("name"))).expect("copy");
    }
    dir
}

#[test]
fn imports_read_plain_files_only() {
    let home = fresh_dir("import-links");
    let sieve = |token: Option<&str>, args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sieve"));
        cmd.env("SIEVE_HOME", &home).env_remove("SIEVE_TOKEN").env_remove("SIEVE_DATABASE_URL");
        if let Some(t) = token {
            cmd.env("SIEVE_TOKEN", t);
        }
        cmd.args(args).output().expect("sieve")
    };
    let init: serde_json::Value =
        serde_json::from_slice(&sieve(None, &["init", "--json"]).stdout).expect("init");
    let admin = init["admin_token"].as_str().expect("token").to_string();
    let source = t1_data("csv", 1);
    let secret = fresh_dir("import-links-secret").join("secret.csv");
    std::fs::write(&secret, "case_no,plaintiff_id\nTOP-SECRET-LINE,x\n").expect("write");
    for (name, plant) in [("link", "symlink"), ("fifo", "fifo")] {
        let dir = copy_of(&source, &format!("import-links-{name}"));
        let judgments = dir.join("judgments.csv");
        std::fs::remove_file(&judgments).expect("remove");
        match plant {
            "symlink" => std::os::unix::fs::symlink(&secret, &judgments).expect("symlink"),
            _ => {
                let status = Command::new("mkfifo").arg(&judgments).status().expect("mkfifo");
                assert!(status.success());
            }
        }
        let o = sieve(
            Some(&admin),
            &[
                "dataset",
                "import",
                name,
                dir.to_str().expect("utf-8"),
                "--task",
                "vehicle-insurance-fraud",
                "--source",
                "court",
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{plant}: {}", stderr(&o));
        let err = stderr(&o);
        let what = if plant == "symlink" { "is a symbolic link" } else { "is not a plain file" };
        assert!(err.contains("judgments.csv") && err.contains(what), "{plant}: {err}");
        assert!(!err.contains("TOP-SECRET"), "{plant}: the error quotes the linked file: {err}");
    }

    // A bad cell: the error names file, line and column, never the cell's content.
    let dir = copy_of(&source, "import-bad-cell");
    let judgments = dir.join("judgments.csv");
    let text = std::fs::read_to_string(&judgments).expect("read");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut cells: Vec<String> = lines[2].split(',').map(str::to_string).collect();
    cells[2] = "SECRET-VALUE".into(); // filed_on, a date
    lines[2] = cells.join(",");
    std::fs::write(&judgments, lines.join("\n") + "\n").expect("write");
    let o = sieve(
        Some(&admin),
        &[
            "dataset",
            "import",
            "bad",
            dir.to_str().expect("utf-8"),
            "--task",
            "vehicle-insurance-fraud",
            "--source",
            "court",
        ],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("judgments.csv line 3, column filed_on"), "{err}");
    assert!(!err.contains("SECRET"), "the error quotes the cell: {err}");
}

#[test]
fn secrets_stay_off_the_command_line() {
    let outside = fresh_dir("secrets");
    let home = outside.join("home");
    let sieve = |args: &[&str], env_token: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sieve"));
        cmd.env("SIEVE_HOME", &home).env_remove("SIEVE_TOKEN").env_remove("SIEVE_DATABASE_URL");
        if let Some(t) = env_token {
            cmd.env("SIEVE_TOKEN", t);
        }
        cmd.args(args).output().expect("sieve")
    };
    let init: serde_json::Value =
        serde_json::from_slice(&sieve(&["init", "--json"], None).stdout).expect("init");
    let token = init["admin_token"].as_str().expect("token").to_string();

    // A token file readable only by its owner: no warning, signed in.
    let file = outside.join("token");
    std::fs::write(&file, format!("{token}\n")).expect("write");
    let o = sieve(&["whoami", "--token-file", file.to_str().expect("utf-8")], None);
    assert!(o.status.success() && stdout(&o).contains("admin"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    let o = sieve(&["whoami"], Some(&token));
    assert!(o.status.success() && !stderr(&o).contains("warning"), "{}", stderr(&o));

    // On the command line it works, with a warning that names the safer ways.
    let o = sieve(&["whoami", "--token", &token], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--token on the command line is visible") && stderr(&o).contains("--token-file")
    );
    let o = sieve(&["whoami", "--db=postgres://sieve:secret@localhost/none"], Some(&token));
    assert!(stderr(&o).contains("--db on the command line is visible"), "{}", stderr(&o));
    let o = sieve(&["whoami", "--db=postgres://sieve@localhost/none"], Some(&token));
    assert!(!stderr(&o).contains("visible"), "a URL without a password is no secret: {}", stderr(&o));
}
