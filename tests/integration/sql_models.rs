//! SQL models run by the SQL engine component (`engines/sql-engine`, built by
//! `scripts/build-sql-engine.sh`): the inputs a query declares are exactly the columns its plan
//! reads; the T4 short-notice rule in SQL finds the Rust model's subjects; a query that reaches
//! for labels, the catalog or a file is refused, and a parameter is a value, never SQL.
//!
//! The engine takes minutes to build: without it these tests say so and pass, unless
//! `SIEVE_TEST_SQL_ENGINE` is set (`.ci/run` builds it and sets it), where a missing engine fails.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

use crate::common::{fresh_dir, stderr};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ sits in the repository").to_path_buf()
}

/// Whether the engine is built; a missing one fails where CI says it must be there.
fn engine_built(test: &str) -> bool {
    let engine = std::env::var_os("SIEVE_SQL_ENGINE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("engines/sql-engine/sql-engine.wasm"));
    if engine.exists() {
        return true;
    }
    assert!(
        std::env::var_os("SIEVE_TEST_SQL_ENGINE").is_none(),
        "SIEVE_TEST_SQL_ENGINE is set but {} is missing (scripts/build-sql-engine.sh builds it)",
        engine.display()
    );
    eprintln!("the SQL engine is not built: {test} does not run here (CI builds it)");
    false
}

fn fixture(name: &str) -> String {
    repo().join("tests/sql-models").join(name).to_str().expect("utf-8").to_string()
}

/// A SQL model file with `query` under a T4 header (and `params`, header lines).
fn t4_model(name: &str, params: &str, query: &str) -> String {
    let dir = fresh_dir(&format!("sql-{name}"));
    let path = dir.join(format!("{name}.sql"));
    let text = format!(
        "-- name: {name}\n-- version: 0.1.0\n-- task: judicial-auction-violations\n-- subject: auction-item\n{params}{query}\n"
    );
    std::fs::write(&path, text).expect("write");
    path.to_str().expect("utf-8").to_string()
}

/// `sieve run MODEL --data DATA EXTRA --json --out FILE`: exit code, report, clues.
fn run_model(model: &str, data: &std::path::Path, extra: &[&str]) -> (i32, Value, Vec<Value>) {
    let out = fresh_dir("sql-clues").join("clues.jsonl");
    let mut args = vec!["--out", out.to_str().expect("utf-8")];
    args.extend_from_slice(extra);
    let (code, report) = run_json(model, data, &args);
    let clues = std::fs::read_to_string(&out)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a clue"))
        .collect();
    (code, report, clues)
}

fn subjects(clues: &[Value], rule: Option<&str>) -> BTreeSet<String> {
    clues
        .iter()
        .filter(|c| rule.is_none_or(|r| c["rule"] == r))
        .map(|c| c["subject"].as_str().expect("subject").to_string())
        .collect()
}

/// One test, so that the engine (100 MB of DataFusion) is compiled once into the shared cache:
/// the operator's compile timeout is raised for it, as `SIEVE_COMPILE_TIMEOUT` lets them.
#[test]
fn sql_models_end_to_end() {
    if !engine_built("the SQL model test") {
        return;
    }
    a_sql_model_declares_what_its_query_reads_and_finds_what_the_rust_rule_finds();
    a_query_that_reaches_outside_its_task_is_refused_and_parameters_are_values();
    the_engine_run_as_an_ordinary_component_learns_nothing();
}

/// `sieve:sql/source` is linked for every component but answers only a run the host attached a
/// SQL model to: a component importing it (here the engine itself, given as a plain component)
/// gets no text and no contract; its `describe()` fails and nothing runs.
fn the_engine_run_as_an_ordinary_component_learns_nothing() {
    let engine = std::env::var("SIEVE_SQL_ENGINE").unwrap_or_else(|_| {
        repo().join("engines/sql-engine/sql-engine.wasm").to_str().expect("utf-8").to_string()
    });
    let data = fresh_dir("sql-plain-engine");
    let d = data.to_str().expect("utf-8");
    assert!(run(&["gen", "judicial-auction-violations", "--seed", "5", "--out", d]).status.success());
    let (code, report) = run_json(&engine, &data, &[]);
    assert_eq!(code, 10, "{report}");
    assert_eq!(report["outcome"], "model-error", "{report}");
    assert!(report["detail"].as_str().is_some_and(|m| m.contains("describe()")), "{report}");
    assert_eq!(report["clues"], 0, "{report}");
}

/// `sieve ARGS` with the shared home and a compile timeout that fits the engine.
fn run(args: &[&str]) -> std::process::Output {
    crate::common::sieve().env("SIEVE_COMPILE_TIMEOUT", "1800").args(args).output().expect("start sieve")
}

/// `sieve run MODEL --data DATA --json EXTRA`: exit code and report.
fn run_json(model: &str, data: &std::path::Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["run", model, "--data", data.to_str().expect("utf-8"), "--json"];
    args.extend_from_slice(extra);
    let o = run(&args);
    let report =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", stderr(&o)));
    (o.status.code().expect("exit code"), report)
}

fn a_sql_model_declares_what_its_query_reads_and_finds_what_the_rust_rule_finds() {
    let model = fixture("t4-short-notice.sql");
    let o = run(&["inspect", &model, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let inspected: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(inspected["sql_model"].as_str().is_some_and(|d| d.starts_with("sha256:")), "{inspected}");
    let inputs = &inspected["model"]["inputs"];
    assert_eq!(inputs.as_array().map(Vec::len), Some(1), "{inputs}");
    assert_eq!(inputs[0]["table"], "auctions");
    let columns: Vec<&str> =
        inputs[0]["columns"].as_array().expect("columns").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(
        columns,
        ["item_id", "kind", "announced_on", "starts_on"],
        "exactly the columns the plan reads"
    );

    let data = fresh_dir("sql-t4-data");
    let d = data.to_str().expect("utf-8");
    assert!(run(&["gen", "judicial-auction-violations", "--seed", "3", "--out", d]).status.success());
    let (code, sql, sql_clues) = run_model(&model, &data, &[]);
    assert_eq!(code, 0, "{sql}");
    assert_eq!(sql["plugin_digest"], inspected["sql_model"], "the run names the SQL model");
    let (code, rust, rust_clues) = run_model("judicial-auction-violations", &data, &[]);
    assert_eq!(code, 0, "{rust}");
    let expected = subjects(&rust_clues, Some("short_notice"));
    assert!(!expected.is_empty());
    assert_eq!(subjects(&sql_clues, None), expected, "the same subjects as the Rust model's rule");
    assert_eq!(sql_clues[0]["evidence"][0]["table"], "auctions", "{}", sql_clues[0]);

    // A parameter bound as a value: a larger notice requirement flags at least as many.
    let (_, _, stricter) = run_model(&model, &data, &["--param", "movable_notice_days=40"]);
    assert!(subjects(&stricter, None).is_superset(&expected));
}

fn a_query_that_reaches_outside_its_task_is_refused_and_parameters_are_values() {
    let data = fresh_dir("sql-t4-refusals");
    let d = data.to_str().expect("utf-8");
    assert!(run(&["gen", "judicial-auction-violations", "--seed", "4", "--out", d]).status.success());
    for (name, query, needle) in [
        ("labels", "SELECT subject, 1.0 AS score, 'r' AS rule, '' AS reason FROM labels", "labels"),
        (
            "catalog",
            "SELECT table_name AS subject, 1.0 AS score, 'r' AS rule, '' AS reason FROM information_schema.tables",
            "information_schema",
        ),
        ("path", "SELECT * FROM '/etc/passwd'", "/etc/passwd"),
    ] {
        let model = t4_model(name, "", query);
        let o = run(&["inspect", &model]);
        assert!(!o.status.success(), "{name}: refused");
        let err = stderr(&o);
        assert!(err.contains("cannot be planned") && err.contains(needle), "{name}: {err}");
    }
    // A result without the contract's columns is a model error naming the missing one.
    let model =
        t4_model("no-score", "", "SELECT item_id AS subject, 'r' AS rule, '' AS reason FROM auctions");
    let (code, report) = run_json(&model, &data, &[]);
    assert_ne!(code, 0);
    assert!(report["detail"].as_str().is_some_and(|d| d.contains("`score`")), "{report}");
    // Text that looks like SQL, given as a parameter, is compared as a value: no row matches it.
    let model = t4_model(
        "injection",
        "-- param: kind text movable The kind to flag\n",
        "SELECT item_id AS subject, 0.5 AS score, 'kind' AS rule, kind AS reason FROM auctions WHERE kind = $kind",
    );
    let (code, report) = run_json(&model, &data, &["--param", "kind=movable' OR '1'='1"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["clues"], 0, "{report}");
    let (_, plain) = run_json(&model, &data, &[]);
    assert!(plain["clues"].as_u64().is_some_and(|n| n > 0), "{plain}");
}
