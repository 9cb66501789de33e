//! Models in other languages: the Python T2 in `plugins/private-lending-fraud-py`, built with
//! `sieve build` (componentize-py) and run by the same host, gives the Rust model's clues byte for
//! byte; its SDK's local runner gives the fixture's clues in plain CPython, and its own unit tests
//! (`sdk/python/tests`) pass. A probe model (`tests/guests/python-probe`) checks what a Python
//! model sees (every type read raw, host grouping) and how the host's limits meet it.
//!
//! The JavaScript T5 in `plugins/restricted-debtor-travel-js` (componentize-js) does the same against
//! the Rust T5, with its probe (`tests/guests/js-probe`), local runner and SDK tests.
//!
//! They need the toolchains: without them the tests say so and pass, unless
//! `SIEVE_TEST_LANGUAGES` is set (`.ci/run` sets it after installing them), where a missing
//! toolchain fails.

use std::path::PathBuf;
use std::process::Command;

use crate::common::{fresh_dir, run, run_json, stderr, stdout};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ sits in the repository").to_path_buf()
}

/// The ports' directories.
const T2_PY: &str = "plugins/private-lending-fraud-py";
const T5_JS: &str = "plugins/restricted-debtor-travel-js";

/// The Python SDK's local runner on the `app.py` in `dir` (relative to the repository), with
/// the CSV files in `data` and `extra` arguments.
fn python_local(dir: &str, data: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new("python3")
        .args(["-m", "sieve_sdk.local", "app.py"])
        .arg(data)
        .args(extra)
        .current_dir(repo().join(dir))
        .env("PYTHONPATH", repo().join("sdk/python"))
        .output()
        .expect("start python3")
}

/// The JavaScript SDK's local runner (Node) on the `app.js` in `dir`, as `python_local`.
fn js_local(dir: &str, data: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new("node")
        .arg(repo().join("sdk/js/local.mjs"))
        .arg("app.js")
        .arg(data)
        .args(extra)
        .current_dir(repo().join(dir))
        .output()
        .expect("start node")
}

/// The subjects of a local run's clues (JSON lines), in the order printed.
fn subjects_of(o: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            v["subject"].as_str().expect("subject").to_string()
        })
        .collect()
}

/// Whether `tool` runs here; a missing one fails the test only where it must be installed.
fn have(tool: &str) -> bool {
    if Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    assert!(
        std::env::var_os("SIEVE_TEST_LANGUAGES").is_none(),
        "{tool} is not installed, and SIEVE_TEST_LANGUAGES says it must be (.ci/run installs it)"
    );
    eprintln!("note: {tool} is not installed; skipping (see .ci/run for how it is installed)");
    false
}

#[test]
fn the_python_t2_gives_the_rust_models_clues() {
    if !have("componentize-py") {
        return;
    }
    let component = build(T2_PY, "t2-python");
    let component = component.as_str();
    same_clues_as_rust(component, "private-lending-fraud");

    // A bad parameter is the model's error, with its Python message; the runtime's socket
    // imports are linked and denied, and `inspect` says so.
    let data = crate::common::fresh_dir_path("private-lending-fraud-data-1");
    let (code, v) = run_json(component, &data, &["--param", "min-suits=-1"]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert!(v["detail"].as_str().expect("detail").contains("min-suits must not be negative"), "{v}");
    let inspected = run(&["inspect", component]);
    let text = stdout(&inspected);
    assert!(
        text.contains("private-lending-fraud-py") && text.contains("sockets      linked, denied"),
        "{text}"
    );
}

/// Runs a probe component (`tests/guests/*-probe`) with `--param mode=MODE` on the probes' data:
/// the run's report, and its clues as JSON lines.
fn probe(component: &str, mode: &str, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let data = repo().join("tests/guests/python-probe/data");
    let name = std::path::Path::new(component).file_stem().expect("a file").to_string_lossy().into_owned();
    let clues = fresh_dir(&format!("{name}-{mode}")).join("clues.jsonl");
    let mode = format!("mode={mode}");
    let mut args = vec!["--param", &mode, "--out", clues.to_str().expect("utf-8")];
    args.extend_from_slice(extra);
    let (code, v) = run_json(component, &data, &args);
    (code, v, std::fs::read_to_string(&clues).unwrap_or_default())
}

#[test]
fn python_models_see_every_value_as_written_and_meet_the_hosts_limits() {
    if !have("componentize-py") {
        return;
    }
    let model = repo().join("tests/guests/python-probe");
    let component = build("tests/guests/python-probe", "python-probe");
    let component = component.as_str();

    // Every type, nulls, extremes and non-ASCII text, read raw (memoryviews over the host's
    // bytes): the clues spell out each value, and the local runner (plain lists) agrees.
    let (code, v, clues) = probe(component, "values", &[]);
    assert_eq!((code, v["outcome"].as_str()), (0, Some("completed")), "{v}");
    let local = python_local("tests/guests/python-probe", &model.join("data"), &["--param", "mode=values"]);
    assert!(local.status.success(), "{}", String::from_utf8_lossy(&local.stderr));
    assert_eq!(clues, String::from_utf8_lossy(&local.stdout));
    for seen in [
        "who='(2017)浙0102民初49号' | amount=-9223372036854775808 | score=0.1 | flag=True | day=0 | at=0",
        "amount=9223372036854775807 | score=-0.0 | flag=False | day=19782 | at=1709251199000",
        "who=None | amount=None | score=None | flag=None | day=None | at=None",
        "score=1e+300 | flag=True | day=-1 | at=-1000",
    ] {
        assert!(clues.contains(seen), "{seen} not in {clues}");
    }

    // Grouped by the host: groups in order of first row, rows ascending, nulls in none, and
    // min-rows leaves out the small ones.
    let (_, _, clues) = probe(component, "group", &["--param", "min-rows=2"]);
    let groups: Vec<(String, String)> = clues
        .lines()
        .map(|l| {
            let c: serde_json::Value = serde_json::from_str(l).expect("a clue");
            (c["subject"].as_str().expect("subject").into(), c["reason"].as_str().expect("reason").into())
        })
        .collect();
    let expected = [("(2017)浙0102民初49号", "0 5"), ("alice", "1 3 6")];
    assert_eq!(groups, expected.map(|(a, b)| (a.to_string(), b.to_string())));

    // Flagged by the host: rows 0, 1, 3, 5 and 6 hold alice or the case number, row 2 is null.
    let (_, _, clues) = probe(component, "matches", &[]);
    assert!(clues.contains(r#""reason":"1 1 0 1 0 1 1""#), "{clues}");
    let (code, v, _) = probe(component, "matches-int", &[]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert!(v["detail"].as_str().expect("detail").contains("works on text columns; events.amount"), "{v}");

    // A Python exception is the model's error, its traceback in the report; print reaches it too.
    let (code, v, _) = probe(component, "raise", &[]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert!(v["detail"].as_str().expect("detail").contains("KeyError"), "{v}");
    let trace = v["stderr"].as_str().expect("stderr");
    assert!(trace.contains("Traceback") && trace.contains("app.py"), "{v}");
    let (_, v, _) = probe(component, "print", &[]);
    assert_eq!(v["stdout"], "hello from python\n", "{v}");

    // A socket is denied as Python knows it; an undeclared column is refused by name; a model
    // that groups forever runs out of the fuel its host calls are charged.
    let (_, _, clues) = probe(component, "socket", &[]);
    assert!(clues.contains("\"reason\":\"PermissionError\""), "{clues}");
    for mode in ["undeclared-read", "undeclared-dictionary", "undeclared-group", "undeclared-matches"] {
        let (code, v, _) = probe(component, mode, &[]);
        assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{mode}: {v}");
        assert!(
            v["detail"].as_str().expect("detail").contains("UndeclaredColumn: events.secret"),
            "{mode}: {v}"
        );
    }
    let (_, v, _) = probe(component, "group-forever", &["--fuel", "2000000000"]);
    assert_eq!(v["outcome"], "out-of-fuel", "{v}");
    assert!(v["host_fuel"].as_u64().expect("host fuel") > 0, "{v}");

    // Clue columns the host must refuse, each named, and no clue kept.
    for (mode, says) in [
        ("columns-index", "evidence names table 1; emit-columns was given 1"),
        ("columns-odd", "not whole pairs"),
        ("columns-undeclared", "evidence names table \"labels\", which the model did not declare"),
        ("columns-row", "evidence row 7 of events is past its 7 rows"),
        ("columns-offsets", "clue 0: subject offsets 0..99 are out of order or past 1 bytes"),
        ("columns-utf8", "clue 0: subject is not UTF-8"),
    ] {
        let (code, v, clues) = probe(component, mode, &[]);
        assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{mode}: {v}");
        assert!(v["detail"].as_str().expect("detail").contains(says), "{mode}: {v}");
        assert_eq!((v["clues"].as_u64(), clues.as_str()), (Some(0), ""), "{mode}");
    }
}

#[test]
fn the_python_sdk_runs_a_model_locally_on_csv_fixtures() {
    if !have("python3") {
        return;
    }
    let fixtures = repo().join("tests/fixtures/private-lending-fraud");
    let o = python_local(T2_PY, &fixtures, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut subjects = subjects_of(&o);
    subjects.sort();
    let expected = std::fs::read_to_string(fixtures.join("expected.txt")).expect("expected.txt");
    assert_eq!(subjects, expected.lines().collect::<Vec<_>>());

    // The fixture's near misses move across the boundaries as the parameters do, as in the Rust
    // model's tests: 14 suits at min-suits=14, defendants absent in exactly half at 0.49.
    for (param, lender, suits) in [("min-suits=14", "FOURTEEN-", 14), ("absent-share=0.49", "HALF-", 16)] {
        let o = python_local(T2_PY, &fixtures, &["--param", param]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let found = String::from_utf8_lossy(&o.stdout).matches(&format!("\"subject\":\"{lender}")).count();
        assert_eq!(found, suits, "{param}");
    }

    // An undeclared parameter is refused, naming it.
    let o = python_local(T2_PY, &fixtures, &["--param", "min-cases=3"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("min-cases"));

    // The SDK's own tests: batched reads, nulls, UTF-8 offsets, grouping order, bad cells.
    let o = Command::new("python3")
        .args(["-m", "unittest", "discover", "-s"])
        .arg(repo().join("sdk/python/tests"))
        .output()
        .expect("start python3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Generates `task`'s data at scales 1 and 10 and checks that `component` gives the bundled Rust
/// model's clues on it, byte for byte (the same output digest).
fn same_clues_as_rust(component: &str, task: &str) {
    for (scale, seed) in [("1", "1"), ("10", "2")] {
        let data = fresh_dir(&format!("{task}-data-{scale}"));
        let made =
            run(&["gen", task, "--scale", scale, "--seed", seed, "--out", data.to_str().expect("utf-8")]);
        assert!(made.status.success(), "gen: {}", stderr(&made));
        let (code, port) = run_json(component, &data, &[]);
        assert_eq!((code, port["outcome"].as_str()), (0, Some("completed")), "{port}");
        let (_, rust) = run_json(task, &data, &[]);
        assert!(port["clues"].as_u64().expect("clues") > 0, "{port}");
        assert_eq!(port["clues"], rust["clues"], "scale {scale}");
        assert_eq!(port["output_digest"], rust["output_digest"], "{task} at scale {scale}: clues differ");
    }
}

/// Builds the model in `dir` with `sieve build` to `name.wasm` in a fresh directory.
fn build(dir: &str, name: &str) -> String {
    let model = repo().join(dir);
    let out = fresh_dir(name).join(format!("{name}.wasm"));
    let built =
        run(&["build", model.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8"), "--json"]);
    assert!(built.status.success(), "sieve build {dir}: {}", stderr(&built));
    let built: serde_json::Value = serde_json::from_slice(&built.stdout).expect("build JSON");
    assert!(built["toolchain"].as_str().expect("toolchain").starts_with("componentize-"), "{built}");
    out.to_str().expect("utf-8").to_string()
}

#[test]
fn the_javascript_t5_gives_the_rust_models_clues() {
    if !have("componentize-js") {
        return;
    }
    let component = build(T5_JS, "t5-js");
    same_clues_as_rust(&component, "restricted-debtor-travel");
    // The hand-written fixture's boundaries, and a bad parameter as the model's error.
    let fixtures = repo().join("tests/fixtures/restricted-debtor-travel");
    let (_, js) = run_json(&component, &fixtures, &[]);
    let (_, rust) = run_json("restricted-debtor-travel", &fixtures, &[]);
    assert_eq!(js["output_digest"], rust["output_digest"], "{js}");
    let (code, v) = run_json(&component, &fixtures, &["--param", "min-trips=-1"]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert!(v["detail"].as_str().expect("detail").contains("min-trips must not be negative"), "{v}");
}

#[test]
fn javascript_models_see_every_value_as_written_and_meet_the_hosts_limits() {
    if !have("componentize-js") {
        return;
    }
    let component = build("tests/guests/js-probe", "js-probe");
    let component = component.as_str();

    // A syntax error is named by its line in app.js, before componentize-js runs.
    let broken = fresh_dir("js-broken");
    std::fs::write(
        broken.join("app.js"),
        "import { Model, exportModel } from \"sieve-sdk\";\nclass M extends Model {\n  static run(ctx) { let x = ; }\n}\nexport const model = exportModel(M);\n",
    )
    .expect("write app.js");
    let o = run(&[
        "build",
        broken.to_str().expect("utf-8"),
        "--out",
        broken.join("m.wasm").to_str().expect("utf-8"),
    ]);
    let why = stderr(&o);
    assert!(!o.status.success() && why.contains("app.js:3") && why.contains("Unexpected token"), "{why}");

    // Every type read raw into typed arrays: the local runner (Node, typed arrays it makes itself)
    // agrees clue for clue, and int64 values keep all 64 bits as BigInts.
    let (code, v, clues) = probe(component, "values", &[]);
    assert_eq!((code, v["outcome"].as_str()), (0, Some("completed")), "{v}");
    let data = repo().join("tests/guests/python-probe/data");
    let local = js_local("tests/guests/js-probe", &data, &["--param", "mode=values"]);
    assert!(local.status.success(), "{}", String::from_utf8_lossy(&local.stderr));
    assert_eq!(clues, String::from_utf8_lossy(&local.stdout));
    for seen in [
        r#"who=\"(2017)浙0102民初49号\" | amount=-9223372036854775808n | score=0.1 | flag=true | day=0 | at=0"#,
        "amount=9223372036854775807n | score=-0 | flag=false | day=19782 | at=1709251199000",
        "who=null | amount=null | score=null | flag=null | day=null | at=null",
    ] {
        assert!(clues.contains(seen), "{seen} not in {clues}");
    }

    let (_, _, clues) = probe(component, "group", &["--param", "min-rows=2"]);
    assert_eq!(clues.lines().count(), 2, "{clues}");
    assert!(clues.contains(r#""reason":"1 3 6","rule":"group","score":0.5,"subject":"alice""#), "{clues}");

    let (code, v, _) = probe(component, "raise", &[]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert_eq!(v["detail"], "TypeError: no such thing", "{v}");
    assert!(v["stderr"].as_str().expect("stderr").contains("bundle.js"), "the stack reaches the report: {v}");
    let (_, v, _) = probe(component, "print", &[]);
    assert_eq!(v["stdout"], "hello from javascript\n", "{v}");
    let (code, v, _) = probe(component, "undeclared", &[]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert!(v["detail"].as_str().expect("detail").contains("events.secret"), "{v}");
    let (_, v, _) = probe(component, "group-forever", &["--fuel", "2000000000"]);
    assert_eq!(v["outcome"], "out-of-fuel", "{v}");
}

#[test]
fn the_javascript_sdk_runs_a_model_locally_and_passes_its_own_tests() {
    if !have("node") {
        return;
    }
    let fixtures = repo().join("tests/fixtures/restricted-debtor-travel");
    let o = js_local(T5_JS, &fixtures, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let subjects = subjects_of(&o);
    let expected = std::fs::read_to_string(fixtures.join("expected.txt")).expect("expected.txt");
    assert_eq!(subjects, expected.lines().collect::<Vec<_>>());

    // min-trips=2 leaves only D1 (two trips); an undeclared parameter is refused by name.
    let o = js_local(T5_JS, &fixtures, &["--param", "min-trips=2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).matches("\"subject\":").count(), 1);
    let o = js_local(T5_JS, &fixtures, &["--param", "min-cases=3"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("min-cases"));

    // The SDK's own tests: batched reads, nulls, grouping, code point order, clue checks.
    let o = Command::new("node").arg("--test").arg(repo().join("sdk/js/tests")).output().expect("start node");
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
