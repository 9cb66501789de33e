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

use crate::common::{fresh_dir, stderr, stdout};

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
    model_file(name, "judicial-auction-violations", "auction-item", params, query)
}

/// A SQL model file with `query` under a header for `task`, whose clues name `subject`s.
fn model_file(name: &str, task: &str, subject: &str, params: &str, query: &str) -> String {
    let dir = fresh_dir(&format!("sql-{name}"));
    let path = dir.join(format!("{name}.sql"));
    let text = format!(
        "-- name: {name}\n-- version: 0.1.0\n-- task: {task}\n-- subject: {subject}\n{params}{query}\n"
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
    a_query_that_names_more_than_it_reads_runs_on_what_it_reads();
    a_text_column_only_joined_on_is_never_copied_in();
    joins_on_codes_match_exactly_what_joins_on_text_match();
    a_join_gives_the_same_rows_whichever_side_it_builds_on();
    joins_on_several_codes_match_what_joins_on_their_text_match();
    a_filter_of_nulls_under_a_join_keeps_out_what_it_filters();
    pipes_concatenate_as_concat_does_but_null_makes_null();
    coalesce_fills_nulls_as_case_does();
    a_list_ordered_in_the_query_comes_in_that_order();
    a_timestamps_day_is_the_date_it_shows();
    a_grouping_on_one_domains_codes_gives_what_the_text_gives();
    text_carried_as_codes_gives_what_the_text_gives();
    a_subquery_named_in_several_places_is_computed_once();
    expressions_of_one_coded_column_give_per_value_what_they_give_per_row();
    the_engine_run_as_an_ordinary_component_learns_nothing();
    the_bundled_sql_models_find_what_the_rust_models_find();
    a_runaway_query_ends_within_its_limits();
    a_sql_model_is_published_vetted_approved_run_and_revoked_like_a_component();
}

/// (subject, rule) of each clue.
fn pairs(clues: &[Value]) -> BTreeSet<(String, String)> {
    clues
        .iter()
        .map(|c| (c["subject"].as_str().expect("subject").into(), c["rule"].as_str().expect("rule").into()))
        .collect()
}

/// Each task's bundled SQL model (`plugins/sql/<task>.sql`) finds exactly the (subject, rule)
/// pairs the task's bundled Rust model finds, with evidence rows: on generated data of both
/// shapes (the skewed one has long numeric ids and nulls in key columns) and on the task's
/// hand-written fixture.
fn the_bundled_sql_models_find_what_the_rust_models_find() {
    for task in sieve_host::datasets::contract::TASKS {
        let mut datasets = vec![repo().join("tests/fixtures").join(task)];
        for (seed, shape) in [("11", "plain"), ("12", "skewed")] {
            let data = fresh_dir(&format!("sql-bundled-{task}-{shape}"));
            let d = data.to_str().expect("utf-8");
            let o = run(&["gen", task, "--seed", seed, "--shape", shape, "--out", d]);
            assert!(o.status.success(), "{}", stderr(&o));
            datasets.push(data);
        }
        for data in datasets {
            let model = format!("{task}.sql");
            let (code, sql, sql_clues) = run_model(&model, &data, &[]);
            assert_eq!(code, 0, "{task}: {sql}");
            assert_eq!(sql["stderr"], "", "{task}: joins and groupings on codes, nothing left on text");
            let (code, rust, rust_clues) = run_model(task, &data, &[]);
            assert_eq!(code, 0, "{task}: {rust}");
            let (ours, theirs) = (pairs(&sql_clues), pairs(&rust_clues));
            // The fixtures and the plain shape plant clues; the skewed shape may leave none.
            assert!(
                !theirs.is_empty() || data.ends_with(format!("sql-bundled-{task}-skewed")),
                "{task}: no clues"
            );
            assert_eq!(
                ours,
                theirs,
                "{task} on {}: only SQL {:?}; only Rust {:?}",
                data.display(),
                ours.difference(&theirs).take(5).collect::<Vec<_>>(),
                theirs.difference(&ours).take(5).collect::<Vec<_>>()
            );
            assert!(
                sql_clues.iter().all(|c| c["evidence"].as_array().is_some_and(|e| !e.is_empty())),
                "{task}: every clue cites rows"
            );
        }
    }
}

/// A cross join of the largest table with itself, three times over, is stopped by the run's
/// limits (fuel, memory or deadline) as a typed outcome; the host is fine afterwards.
fn a_runaway_query_ends_within_its_limits() {
    let data = fresh_dir("sql-runaway-data");
    let d = data.to_str().expect("utf-8");
    assert!(run(&["gen", "judicial-auction-violations", "--seed", "6", "--out", d]).status.success());
    let model = t4_model(
        "runaway",
        "",
        "SELECT a.item_id AS subject, 0.5 AS score, 'r' AS rule, b.item_id || c.item_id AS reason \
         FROM auctions a, auctions b, auctions c ORDER BY reason",
    );
    let (code, report) = run_json(&model, &data, &["--deadline", "60"]);
    assert_ne!(code, 0, "{report}");
    let outcome = report["outcome"].as_str().expect("outcome");
    assert!(["out-of-fuel", "memory-limit", "timeout"].contains(&outcome), "{report}");
    assert_eq!(report["clues"], 0, "{report}");
    let (code, after) = run_json(&fixture("t4-short-notice.sql"), &data, &[]);
    assert_eq!(code, 0, "the next run is unaffected: {after}");
}

/// The registry's path: a root admin installs the engine; an author publishes `model.sql`; the
/// registry pins the engine into the model's package, whose digest is the plugin's; vetting runs
/// it on a canary; a second admin approves; a stored run finds what the ad hoc run finds;
/// revoking it stops runs. A package handed in (choosing its own engine) is refused.
fn a_sql_model_is_published_vetted_approved_run_and_revoked_like_a_component() {
    use crate::registry::{Reg, approve_as_second_admin, dataset_for_all};
    let reg = Reg::sqlite("sql-models");
    share_compiled_code(reg.home());
    let admin = reg.init();
    let alice = reg.user(&admin, "alice", "province", &["author"]);
    let model = fixture("t4-short-notice.sql");

    // No engine yet: publishing says what to do.
    let o = reg.cmd(Some(&alice), &["plugin", "publish", &model]);
    assert!(!o.status.success() && stderr(&o).contains("sieve sql-engine install"), "{}", stderr(&o));
    // Only a root admin installs one: not an author, not a city's admin.
    reg.refused(&alice, &["sql-engine", "install"], "admin");
    reg.ok(&admin, &["org", "add", "city-a", "--parent", "province"]);
    let city_admin = reg.user(&admin, "city-admin", "city-a", &["admin"]);
    reg.refused(&city_admin, &["sql-engine", "install"], "root procuratorate");
    let engines = reg.json(&admin, &["sql-engine", "install"]);
    let engine = engines[0]["digest"].as_str().expect("engine digest").to_string();
    assert_eq!(engines[0]["current"], true, "{engines}");

    let published = reg.json(&alice, &["plugin", "publish", &model]);
    let digest = published["digest"].as_str().expect("digest").to_string();
    assert_eq!(published["sql_engine"], engine.as_str(), "{published}");
    let text = std::fs::read_to_string(&model).expect("model text");
    let package = format!("sieve-sql-model\n{engine}\n{text}");
    assert_eq!(digest, sieve_host::digest::digest_of(package.as_bytes()), "the digest is (engine, text)");
    assert_eq!(published["vetting"]["passed"], true, "{published}");
    let findings = published["vetting"]["findings"].to_string();
    assert!(findings.contains("a SQL model of") && findings.contains("canary-run"), "{findings}");
    assert_eq!(published["info"]["inputs"][0]["table"], "auctions", "{published}");
    // Its source, for its author or an admin reviewing it, is its text.
    let written = reg.fresh_dir("sql-source").join("model.sql");
    reg.ok(&alice, &["plugin", "source", &digest, "--out", written.to_str().expect("utf-8")]);
    assert_eq!(std::fs::read_to_string(&written).expect("source"), text);
    // Another procuratorate's author: not found before approval, refused after (below).
    reg.ok(&admin, &["org", "add", "city-b", "--parent", "province"]);
    let bob = reg.user(&admin, "bob", "city-b", &["author"]);
    let bobs = reg.fresh_dir("sql-source-bob").join("model.sql");
    let bob_source = ["plugin", "source", &digest, "--out", bobs.to_str().expect("utf-8")];
    let o = reg.cmd(Some(&bob), &bob_source);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));

    // A package handed in would choose its engine: refused.
    let forged = reg.fresh_dir("forged").join("forged.wasm");
    std::fs::write(&forged, format!("sieve-sql-model\nsha256:{}\n{text}", "0".repeat(64))).expect("write");
    let o = reg.cmd(Some(&alice), &["plugin", "publish", forged.to_str().expect("utf-8")]);
    assert!(!o.status.success() && stderr(&o).contains("registry pins the engine"), "{}", stderr(&o));

    dataset_for_all(&reg, &admin, "auctions", "judicial-auction-violations");
    let o = reg.cmd(Some(&alice), &["run", &digest, "--dataset", "auctions", "--json"]);
    assert!(!o.status.success(), "not approved yet: {}", stdout(&o));
    approve_as_second_admin(&reg, &admin, &digest);
    reg.refused(&bob, &bob_source, "admin");
    assert!(!bobs.exists(), "nothing written for bob");
    let stored = reg.json(&alice, &["run", &digest, "--dataset", "auctions"]);
    assert_eq!(stored["outcome"], "completed", "{stored}");
    assert_eq!(stored["plugin_digest"], digest.as_str(), "{stored}");
    let data = crate::registry::data("judicial-auction-violations");
    let (code, adhoc) = run_json(&model, &data, &[]);
    assert_eq!(code, 0, "{adhoc}");
    assert_eq!(stored["output_digest"], adhoc["output_digest"], "stored and ad hoc runs agree");
    assert_eq!(adhoc["plugin_digest"], digest.as_str(), "ad hoc, the same engine gives the same identity");
    a_table_read_for_its_rows_only_keeps_them(&reg, &admin, &alice, &data);
    the_engine_is_loaded_by_its_pin(&reg, &alice, &admin, &digest, &engine, &stored);

    reg.ok(&admin, &["plugin", "revoke", &digest, "--note", "test"]);
    let o = reg.cmd(Some(&alice), &["run", &digest, "--dataset", "auctions", "--json"]);
    assert!(!o.status.success(), "revoked: {}", stdout(&o));
    let log = reg.ok(&admin, &["audit", "log"]);
    assert!(log.contains("sql-engine.install") && log.contains("plugin.publish"), "{log}");
    reg.audit_intact(&admin);
}

/// A query citing a table's rows without reading any of its values declares the table without
/// columns; it is served with all its rows, stored and ad hoc (it was served with none: the host
/// took a table's row count from its first column).
fn a_table_read_for_its_rows_only_keeps_them(
    reg: &crate::registry::Reg,
    admin: &str,
    author: &str,
    data: &std::path::Path,
) {
    let model = t4_model(
        "rows-only",
        "",
        "SELECT CAST(__row AS VARCHAR) AS subject, 0.5 AS score, 'a-row' AS rule, 'a row' AS reason,
                __row AS auctions__row
         FROM auctions",
    );
    let published = reg.json(author, &["plugin", "publish", &model]);
    let digest = published["digest"].as_str().expect("digest");
    assert_eq!(published["info"]["inputs"][0]["columns"], serde_json::json!([]), "{published}");
    let approver = reg.user(admin, "rows-approver", "province", &["admin"]);
    reg.ok(&approver, &["plugin", "approve", digest, "--note", "four eyes"]);
    let shown = reg.json(admin, &["dataset", "show", "auctions"]);
    let tables = shown["tables"].as_array().expect("tables");
    let auctions = tables.iter().find(|t| t["name"] == "auctions").expect("auctions");
    let rows = auctions["rows"].as_u64().expect("rows");
    assert!(rows > 0, "{shown}");
    let stored = reg.json(author, &["run", digest, "--dataset", "auctions"]);
    assert_eq!(stored["clues"].as_u64(), Some(rows), "a clue per row, stored: {stored}");
    let (code, report, clues) = run_model(&model, data, &[]);
    assert_eq!((code, clues.len() as u64), (0, rows), "a clue per row, ad hoc: {report}");
}

/// A stored run (a new process) loads the engine its model pins by digest: from the engine's
/// verified compiled code, without reading the engine's blob, so a blob altered on disk changes
/// nothing that runs; without that code the blob is read and checked, and the altered one ends
/// the run `hash-mismatch`, audited as the engine's tampering, with no clue stored.
fn the_engine_is_loaded_by_its_pin(
    reg: &crate::registry::Reg,
    alice: &str,
    admin: &str,
    model: &str,
    engine: &str,
    stored: &Value,
) {
    let hex = engine.trim_start_matches("sha256:");
    let blob = reg.home().join("blobs").join("sha256").join(hex);
    let original = std::fs::read(&blob).expect("engine blob");
    let mut altered = original.clone();
    let middle = altered.len() / 2;
    altered[middle] ^= 0xff;
    std::fs::write(&blob, &altered).expect("alter the engine blob");

    let again = reg.json(alice, &["run", model, "--dataset", "auctions", "--fresh"]);
    assert_eq!(
        (&again["outcome"], &again["compiled_code"]),
        (&Value::from("completed"), &Value::from("hit"))
    );
    assert_eq!(again["output_digest"], stored["output_digest"], "the pinned engine's own code ran");

    // Without the engine's compiled code, the blob is read: refused.
    let cache = reg.home().join("cache").join("compiled");
    let aside = reg.fresh_dir("engine-code-aside");
    let artifacts: Vec<_> = std::fs::read_dir(&cache)
        .expect("cache")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(hex))
        .map(|e| e.file_name())
        .collect();
    assert_eq!(artifacts.len(), 2, "the engine's artifact and its MAC: {artifacts:?}");
    for name in &artifacts {
        std::fs::rename(cache.join(name), aside.join(name)).expect("move aside");
    }
    let o = reg.cmd(Some(alice), &["run", model, "--dataset", "auctions", "--json", "--fresh"]);
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).contains("hash-mismatch") || stderr(&o).contains("hash-mismatch"), "{}", stderr(&o));
    let last = &reg.json(alice, &["runs", "list"])[0];
    assert_eq!(
        (&last["state"], &last["outcome"]),
        (&Value::from("failed"), &Value::from("hash-mismatch")),
        "{last}"
    );
    assert_eq!(last["clues"], 0, "{last}");
    let log = reg.ok(admin, &["audit", "log"]);
    assert!(log.contains("sql-engine.tampered") && !log.contains("dataset.tampered"), "{log}");

    std::fs::write(&blob, &original).expect("restore the engine blob");
    for name in &artifacts {
        std::fs::rename(aside.join(name), cache.join(name)).expect("move back");
    }
}

/// Give registry home `home` the shared home's compiled code and cache key, so that the engine
/// compiled by the ad hoc runs is not compiled again (a fresh home would: minutes in a debug
/// build). The artifacts are MAC'd with that key, so they are only usable together.
fn share_compiled_code(home: &std::path::Path) {
    let shared = crate::common::fresh_dir_path("home");
    for dir in ["keys", "cache/compiled"] {
        let (from, to) = (shared.join(dir), home.join(dir));
        std::fs::create_dir_all(&to).expect("mkdir");
        for entry in std::fs::read_dir(&from).expect("shared home").flatten() {
            if dir == "keys" && entry.file_name() != "cache.key" {
                continue;
            }
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
}

/// The T4 documents check, once as the engine evaluates it per dictionary value (each expression
/// depends on `docs_published` or `kind` alone) and once per row (the same expressions, each also
/// reading `item_id` through an empty `substr`): the same rows, with the same text, nulls
/// included; evaluating per value takes less fuel. An expression that fails on the values fails
/// the run as it would row by row, naming the cast.
fn expressions_of_one_coded_column_give_per_value_what_they_give_per_row() {
    let query = |rule: &str, z: &str| {
        format!(
            "SELECT item_id AS subject, 0.5 AS score, '{rule}' AS rule,
                    coalesce(upper(docs_published{z}), 'NONE') || '|'
                    || CAST(regexp_like(';' || coalesce(docs_published{z}, '') || ';', ';\\s*tax_notice\\s*;') AS VARCHAR)
                    || '|' || CASE WHEN kind{z} = 'real_estate' THEN 'long' ELSE 'short' END AS reason,
                    __row AS auctions__row
             FROM auctions
             WHERE item_id IS NOT NULL AND (kind{z} IN ('real_estate', 'equity') OR docs_published{z} IS NULL)"
        )
    };
    let per_row = " || substr(coalesce(item_id, ''), 1, 0)";
    let data = generated_csv("sql-per-value-data", "judicial-auction-violations", "6");
    blank_every_seventh(&data.join("auctions.csv"), "docs_published");
    let (code, by_value, value_clues) = run_model(&t4_model("per-value", "", &query("x", "")), &data, &[]);
    assert_eq!(code, 0, "{by_value}");
    let (code, by_row, row_clues) = run_model(&t4_model("per-row", "", &query("x", per_row)), &data, &[]);
    assert_eq!(code, 0, "{by_row}");
    let rows = |clues: &[Value]| -> BTreeSet<(String, String)> {
        clues.iter().map(|c| (c["subject"].to_string(), c["reason"].to_string())).collect()
    };
    assert!(!value_clues.is_empty());
    assert_eq!(rows(&value_clues), rows(&row_clues), "per value, what each row gives");
    assert_eq!(value_clues.len(), row_clues.len());
    let reasons: BTreeSet<String> = value_clues.iter().map(|c| c["reason"].to_string()).collect();
    assert!(reasons.iter().any(|r| r.starts_with("\"NONE|false")), "null documents: {reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("|true|long")), "{reasons:?}");
    let fuel = |report: &Value| report["fuel"].as_u64().expect("fuel");
    assert!(
        fuel(&by_value) < fuel(&by_row),
        "per value {} against per row {}",
        fuel(&by_value),
        fuel(&by_row)
    );

    let failing = t4_model(
        "per-value-fails",
        "",
        "SELECT item_id AS subject, 0.5 AS score, 'x' AS rule, 'x' AS reason FROM auctions
         WHERE CAST(kind AS BIGINT) > 0",
    );
    let (code, report, clues) = run_model(&failing, &data, &[]);
    assert_eq!((code, &report["outcome"]), (10, &Value::from("model-error")), "{report}");
    assert!(report["detail"].as_str().is_some_and(|d| d.contains("Cast") || d.contains("cast")), "{report}");
    assert!(clues.is_empty());
}

/// Each clue of `rule` as "subject score reason", sorted.
fn of_rule(clues: &[Value], rule: &str) -> Vec<String> {
    let mut found: Vec<String> = clues
        .iter()
        .filter(|c| c["rule"] == rule)
        .map(|c| format!("{} {} {}", c["subject"], c["score"], c["reason"]))
        .collect();
    found.sort();
    found
}

/// The clues of `rule` as (evidence, subject, reason), sorted: rows of two rules computed two
/// ways pair up by the evidence each cites.
fn rows_of_rule(clues: &[Value], rule: &str) -> Vec<(String, String, String)> {
    let mut rows: Vec<_> = clues
        .iter()
        .filter(|c| c["rule"] == rule)
        .map(|c| (c["evidence"].to_string(), c["subject"].to_string(), c["reason"].to_string()))
        .collect();
    rows.sort();
    rows
}

/// A fresh directory `name` holding `task`'s data from seed `seed`, as CSV (which the tests then
/// edit).
fn generated_csv(name: &str, task: &str, seed: &str) -> PathBuf {
    let data = fresh_dir(name);
    let d = data.to_str().expect("utf-8");
    let generated = run(&["gen", task, "--seed", seed, "--format", "csv", "--out", d]);
    assert!(generated.status.success(), "{}", stderr(&generated));
    data
}

/// Give every fifth row of CSV file `path` the `column` of the row before it.
fn repeat_every_fifth(path: &std::path::Path, column: &str) {
    rewrite_column(path, column, |i, get| if i % 5 == 4 { get(i - 1, column) } else { get(i, column) });
}

/// Empty `column` (a null) in every seventh row of CSV file `path`.
fn blank_every_seventh(path: &std::path::Path, column: &str) {
    rewrite_column(path, column, |i, get| if i % 7 == 0 { String::new() } else { get(i, column) });
}

/// Give every sixth row of CSV file `path` its own `from` as its `to`.
fn copy_every_sixth(path: &std::path::Path, from: &str, to: &str) {
    rewrite_column(path, to, |i, get| if i % 6 == 0 { get(i, from) } else { get(i, to) });
}

/// Rewrite `column` of CSV file `path`: row `i` takes `value(i, get)`, where `get(j, name)` is
/// row `j`'s `name` as it was.
fn rewrite_column(
    path: &std::path::Path,
    column: &str,
    value: impl Fn(usize, &dyn Fn(usize, &str) -> String) -> String,
) {
    let mut reader = csv::Reader::from_path(path).expect("csv");
    let header = reader.headers().expect("header").clone();
    let position = |name: &str| header.iter().position(|h| h == name).expect("column");
    let at = position(column);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("record")).collect();
    let get = |j: usize, name: &str| rows[j].get(position(name)).unwrap_or("").to_string();
    let new: Vec<String> = (0..rows.len()).map(|i| value(i, &get)).collect();
    let mut writer = csv::Writer::from_path(path).expect("csv");
    writer.write_record(&header).expect("header");
    for (row, new) in rows.iter().zip(&new) {
        let fields = row.iter().enumerate().map(|(j, f)| if j == at { new.as_str() } else { f });
        writer.write_record(fields).expect("record");
    }
    writer.flush().expect("flush");
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

    // A parameter bound as a value: a larger notice requirement flags more. The engine reuses the
    // plan describe() made only for the defaults; other values are planned with those values.
    let (_, _, stricter) = run_model(&model, &data, &["--param", "movable_notice_days=40"]);
    let stricter = subjects(&stricter, None);
    assert!(stricter.is_superset(&expected) && stricter.len() > expected.len(), "{} flagged", stricter.len());
    let (_, _, same) = run_model(&model, &data, &["--param", "movable_notice_days=15"]);
    assert_eq!(subjects(&same, None), expected, "the default, given, finds what the default finds");
}

/// The optimizer drops what a query names but never uses (an aggregate nobody selects, a table
/// under `WHERE false`): those are not declared inputs, yet the query still binds and runs on
/// the columns it does read.
fn a_query_that_names_more_than_it_reads_runs_on_what_it_reads() {
    let model = t4_model(
        "names-more",
        "",
        "SELECT coalesce(a.item_id, '-') AS subject, 0.5 AS score, 'every-item' AS rule, 'an item' AS reason,
                a.__row AS auctions__row
         FROM auctions a
         JOIN (SELECT count(*) AS items, count(kind) AS kinds FROM auctions) t ON t.items > 0
         UNION ALL
         SELECT bidder_id, 0.5, 'never', 'no bid', NULL FROM bids WHERE false",
    );
    let o = run(&["inspect", &model, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let inspected: Value = serde_json::from_slice(&o.stdout).expect("json");
    let inputs = &inspected["model"]["inputs"];
    assert_eq!(inputs.as_array().map(Vec::len), Some(1), "bids is never read: {inputs}");
    assert_eq!(inputs[0]["columns"].as_array().map(Vec::len), Some(1), "only item_id: {inputs}");

    let data = generated_csv("sql-names-more-data", "judicial-auction-violations", "4");
    let (code, report, clues) = run_model(&model, &data, &[]);
    assert_eq!(code, 0, "{report}");
    let items = std::fs::read_to_string(data.join("auctions.csv")).expect("auctions").lines().count() - 1;
    assert_eq!(clues.len(), items, "a clue per auction: {report}");
}

/// A key column's dictionary comes into the engine only when a value of it is read: a query that
/// joins and counts on T7's work hashes (codes) is charged no host work for their text, one that
/// names a work hash is charged for the whole dictionary (its bytes and offsets, at a fuel a
/// byte), fetched once.
fn a_text_column_only_joined_on_is_never_copied_in() {
    let query = |subject: &str| {
        format!(
            "SELECT {subject} AS subject, CAST(count(*) AS DOUBLE) AS score, 'reused' AS rule, '' AS reason
             FROM registrations r JOIN prior_use p ON p.work_hash = r.work_hash"
        )
    };
    let joined = model_file("work-joined", "copyright-harvesting", "case", "", &query("'all works'"));
    let named = model_file("work-named", "copyright-harvesting", "case", "", &query("max(r.work_hash)"));
    let data = generated_csv("sql-work-data", "copyright-harvesting", "6");
    let (code, joined, joined_clues) = run_model(&joined, &data, &[]);
    assert_eq!(code, 0, "{joined}");
    let (code, named, named_clues) = run_model(&named, &data, &[]);
    assert_eq!(code, 0, "{named}");
    assert_eq!(joined_clues[0]["score"], named_clues[0]["score"], "the same rows joined");

    // What the named work hashes' dictionary holds at least: registrations' distinct hashes.
    let mut reader = csv::Reader::from_path(data.join("registrations.csv")).expect("csv");
    let at = reader.headers().expect("header").iter().position(|h| h == "work_hash").expect("column");
    let hashes: BTreeSet<String> = reader
        .records()
        .filter_map(|r| r.expect("record").get(at).filter(|h| !h.is_empty()).map(str::to_string))
        .collect();
    let dictionary = hashes.iter().map(|h| h.len() as u64 + 4).sum::<u64>();
    assert!(named_clues[0]["subject"].as_str().is_some_and(|h| hashes.contains(h)), "{}", named_clues[0]);
    let host_work = |report: &Value| report["host_fuel"].as_u64().expect("host_fuel");
    assert!(
        host_work(&named) >= host_work(&joined) + dictionary,
        "joined on codes: {} host fuel; naming a hash: {}; the dictionary: at least {dictionary} bytes",
        host_work(&joined),
        host_work(&named)
    );
}

/// A plan carries each text column as codes (a case number outside any domain as its row
/// number) and makes its text only where it is read. Each pair of queries below does one thing
/// on a column the plan may carry as codes, and the same on `x || ''`, which is text from the
/// scan on: a window partitioned by it, a grouping, `min()` of it per party, a join of a table
/// with itself on it, a sort, `IS NULL` and `LIKE`. Each pair finds exactly the same rows.
fn text_carried_as_codes_gives_what_the_text_gives() {
    let pair = |rule: &str, query: &dyn Fn(&str) -> String| {
        format!(
            "{} UNION ALL {}",
            query("").replace("RULE", &format!("{rule}-codes")),
            query(" || ''").replace("RULE", &format!("{rule}-text"))
        )
    };
    let queries = [
        pair("window", &|t| {
            format!(
            "SELECT case_no AS subject, CAST(min(__row) OVER (PARTITION BY case_no{t}) AS DOUBLE) AS score, 'RULE' AS rule, case_no AS reason
             FROM ip_cases WHERE case_no IS NOT NULL"
        )
        }),
        pair("grouped", &|t| {
            format!(
            "SELECT k AS subject, CAST(n AS DOUBLE) AS score, 'RULE' AS rule, 'x' AS reason
             FROM (SELECT case_no{t} AS k, count(*) AS n FROM ip_cases WHERE case_no IS NOT NULL GROUP BY case_no{t})"
        )
        }),
        pair("least", &|t| {
            format!(
                "SELECT first AS subject, CAST(n AS DOUBLE) AS score, 'RULE' AS rule, p AS reason
             FROM (SELECT plaintiff_id{t} AS p, min(case_no) AS first, count(*) AS n FROM ip_cases
                   WHERE plaintiff_id IS NOT NULL AND case_no IS NOT NULL GROUP BY plaintiff_id{t})"
            )
        }),
        pair("twice", &|t| {
            format!(
            "SELECT a.case_no AS subject, CAST(b.__row AS DOUBLE) AS score, 'RULE' AS rule, b.reg_no AS reason
             FROM ip_cases a JOIN ip_cases b ON a.case_no{t} = b.case_no{t} AND a.__row < b.__row"
        )
        }),
        pair("sorted", &|t| {
            format!(
            "SELECT * FROM (SELECT case_no AS subject, 0.5 AS score, 'RULE' AS rule, reg_no AS reason FROM ip_cases
                            WHERE case_no IS NOT NULL ORDER BY case_no{t} DESC, __row LIMIT 7)"
        )
        }),
        pair("blank", &|t| {
            format!(
            "SELECT coalesce(reg_no, '-') AS subject, CAST(__row AS DOUBLE) AS score, 'RULE' AS rule, 'x' AS reason
             FROM ip_cases WHERE plaintiff_agent{t} IS NULL"
        )
        }),
        pair("like", &|t| {
            format!(
            "SELECT case_no AS subject, CAST(__row AS DOUBLE) AS score, 'RULE' AS rule, defendant_kind AS reason
             FROM ip_cases WHERE case_no{t} LIKE '%7%'"
        )
        }),
        // Both inputs give one domain's codes (the union keeps them), or text and codes (it
        // makes text of the codes), then joined and grouped.
        pair("union", &|t| {
            format!(
            "SELECT u.k AS subject, CAST(count(*) AS DOUBLE) AS score, 'RULE' AS rule, CAST(min(c.__row) AS VARCHAR) AS reason
             FROM (SELECT plaintiff_id{t} AS k FROM ip_cases WHERE __row % 2 = 0
                   UNION ALL SELECT plaintiff_agent AS k FROM ip_cases) u
             JOIN ip_cases c ON c.plaintiff_id = u.k GROUP BY u.k"
        )
        }),
        // Inputs of three domains: one of them a column outside any, whose codes are row numbers.
        pair("union-mixed", &|t| {
            format!(
                "SELECT k AS subject, CAST(n AS DOUBLE) AS score, 'RULE' AS rule, 'x' AS reason
             FROM (SELECT k, count(*) AS n
                   FROM (SELECT plaintiff_id{t} AS k FROM ip_cases
                         UNION ALL SELECT case_no AS k FROM ip_cases WHERE __row % 4 = 0
                         UNION ALL SELECT reg_no AS k FROM ip_cases WHERE __row % 4 = 1)
                   WHERE k IS NOT NULL GROUP BY k)"
            )
        }),
    ];
    let model = model_file("codes-carried", "copyright-harvesting", "case", "", &queries.join(" UNION ALL "));
    let data = generated_csv("sql-carried-data", "copyright-harvesting", "5");
    // Case numbers repeat now and then, yet stay mostly distinct, so that the host serves them as
    // plain text: their codes are row numbers, which differ where the text is the same.
    repeat_every_fifth(&data.join("ip_cases.csv"), "case_no");
    let (code, report, clues) = run_model(&model, &data, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["stderr"], "", "the rewrite to codes applied: {report}");
    let of = |rule: &str| of_rule(&clues, rule);
    for rule in ["window", "grouped", "least", "twice", "sorted", "blank", "like", "union", "union-mixed"] {
        let codes = of(&format!("{rule}-codes"));
        assert!(!codes.is_empty(), "{rule} found nothing");
        assert_eq!(codes, of(&format!("{rule}-text")), "{rule}");
    }
}

/// A grouping keyed by one domain's codes (found by array index) gives, group for group, what
/// the same grouping keyed by the text gives, null keys and filtered aggregates included; keyed
/// by several columns of codes (one number packing them), a grouping or a join gives what it gives
/// on text; and two columns of one domain compare as codes exactly as their text does.
fn a_grouping_on_one_domains_codes_gives_what_the_text_gives() {
    let grouped = |t: &str, rule: &str| {
        format!(
            "SELECT coalesce(k, '(none)') AS subject, CAST(n AS DOUBLE) AS score, '{rule}' AS rule, r AS reason
             FROM (SELECT mediator_id{t} AS k, count(*) AS n,
                          CAST(count(party_a_id) AS VARCHAR) || '/' || CAST(min(amount) AS VARCHAR) || '/'
                          || CAST(sum(amount) AS VARCHAR) || '/' || CAST(max(agreement_on) AS VARCHAR) || '/'
                          || CAST(count(*) FILTER (WHERE amount > 20000) AS VARCHAR) || '/'
                          || min(case_no) || '/' || CAST(max(__row) AS VARCHAR) AS r
                   FROM confirmations GROUP BY mediator_id{t} HAVING count(*) > 1)"
        )
    };
    let compared = |t: &str, rule: &str| {
        format!(
            "SELECT case_no AS subject, 0.5 AS score, '{rule}' AS rule,
                    coalesce(CAST(party_a_id = (party_b_id{t}) AS VARCHAR), 'null') || '/'
                    || coalesce(CAST(party_a_id <> (party_b_id{t}) AS VARCHAR), 'null') || '/'
                    || CAST(party_a_id IS NOT DISTINCT FROM (party_b_id{t}) AS VARCHAR) AS reason
             FROM confirmations WHERE case_no IS NOT NULL"
        )
    };
    // Keyed by several columns of codes: one number packing them (nulls are keys in a grouping
    // and in a join on `IS NOT DISTINCT FROM`, and match nothing in an equi-join).
    let paired = |t: &str, rule: &str| {
        format!(
            "SELECT coalesce(m, '-') || '/' || coalesce(a, '-') || '/' || coalesce(b, '-') AS subject,
                    CAST(n AS DOUBLE) AS score, '{rule}' AS rule, 'x' AS reason
             FROM (SELECT mediator_id{t} AS m, party_a_id{t} AS a, party_b_id{t} AS b, count(*) AS n
                   FROM confirmations GROUP BY mediator_id{t}, party_a_id{t}, party_b_id{t})"
        )
    };
    let joined = |t: &str, rule: &str, equal: &str| {
        format!(
            "SELECT c.case_no AS subject, CAST(d.n AS DOUBLE) AS score, '{rule}' AS rule, CAST(c.__row AS VARCHAR) AS reason
             FROM confirmations c
             JOIN (SELECT mediator_id AS m, party_a_id AS a, party_b_id AS b, count(*) AS n
                   FROM confirmations GROUP BY mediator_id, party_a_id, party_b_id) d
               ON (d.m {equal} c.mediator_id{t}) AND (d.a {equal} c.party_b_id{t}) AND (d.b {equal} c.party_a_id{t})
             WHERE c.case_no IS NOT NULL"
        )
    };
    let query = [
        grouped("", "grouped-codes"),
        grouped(" || ''", "grouped-text"),
        compared("", "equal-codes"),
        compared(" || ''", "equal-text"),
        paired("", "paired-codes"),
        paired(" || ''", "paired-text"),
        joined("", "joined-codes", "="),
        joined(" || ''", "joined-text", "="),
        joined("", "joined-nulls-codes", "IS NOT DISTINCT FROM"),
        joined(" || ''", "joined-nulls-text", "IS NOT DISTINCT FROM"),
    ]
    .join(" UNION ALL ");
    let model = model_file("dense-grouping", "false-mediation-confirmation", "case", "", &query);
    let data = generated_csv("sql-dense-data", "false-mediation-confirmation", "7");
    let confirmations = data.join("confirmations.csv");
    blank_every_seventh(&confirmations, "mediator_id");
    copy_every_sixth(&confirmations, "party_a_id", "party_b_id");
    rewrite_column(&confirmations, "party_a_id", |i, get| {
        if i % 11 == 0 { String::new() } else { get(i, "party_a_id") }
    });
    let (code, report, clues) = run_model(&model, &data, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["stderr"], "", "the rewrite to codes applied: {report}");
    let of = |rule: &str| of_rule(&clues, rule);
    let grouped = of("grouped-codes");
    assert!(grouped.iter().any(|g| g.starts_with("\"(none)\"")), "the null key's group: {grouped:?}");
    assert!(grouped.len() > 2, "{grouped:?}");
    assert_eq!(grouped, of("grouped-text"));
    let compared = of("equal-codes");
    for outcome in ["true/false/true", "false/true/false", "null/null/false"] {
        assert!(compared.iter().any(|c| c.contains(outcome)), "{outcome}");
    }
    assert_eq!(compared, of("equal-text"));
    let paired = of("paired-codes");
    assert!(paired.iter().any(|p| p.contains("-/")), "null keys: {:?}", &paired[..3]);
    assert_eq!(paired, of("paired-text"));
    let (joined, with_nulls) = (of("joined-codes"), of("joined-nulls-codes"));
    assert!(!joined.is_empty() && joined.len() < with_nulls.len(), "{} {}", joined.len(), with_nulls.len());
    assert_eq!(joined, of("joined-text"));
    assert_eq!(with_nulls, of("joined-nulls-text"));
}

/// A subquery named in several places (a CTE used twice) is computed once, and each use reads
/// the same rows: four uses of one costly grouping cost far less than twice two uses, and find
/// what four textually different copies of it, computed one by one, find.
fn a_subquery_named_in_several_places_is_computed_once() {
    let grouping = |extra: &str| {
        format!(
            "(SELECT a.kind, count(*) AS n, min(c.__row) AS r FROM auctions a
              JOIN bids b ON b.item_id = a.item_id JOIN bids c ON c.bidder_id = b.bidder_id{extra}
              GROUP BY a.kind)"
        )
    };
    let query = |uses: &[String]| {
        let score: Vec<String> = (0..uses.len()).map(|i| format!("g{i}.n + g{i}.r")).collect();
        let joins: Vec<String> =
            uses.iter().enumerate().map(|(i, u)| format!("JOIN {u} g{i} ON g{i}.kind = a.kind")).collect();
        format!(
            "SELECT a.item_id AS subject, CAST({} AS DOUBLE) AS score, 'x' AS rule, 'x' AS reason FROM auctions a {}",
            score.join(" + "),
            joins.join(" ")
        )
    };
    let same = grouping("");
    let apart: Vec<String> = (0..4).map(|i| grouping(&" AND 1 = 1".repeat(i))).collect();
    let data = fresh_dir("sql-shared-data");
    let d = data.to_str().expect("utf-8");
    let generated = run(&["gen", "judicial-auction-violations", "--seed", "5", "--scale", "4", "--out", d]);
    assert!(generated.status.success());
    let mut runs = Vec::new();
    for (name, uses) in [("two", vec![same.clone(); 2]), ("four", vec![same.clone(); 4]), ("apart", apart)] {
        let (code, report, clues) =
            run_model(&t4_model(&format!("shared-{name}"), "", &query(&uses)), &data, &[]);
        assert_eq!(code, 0, "{report}");
        assert_eq!(report["stderr"], "", "{report}");
        let found: BTreeSet<String> =
            clues.iter().map(|c| format!("{} {}", c["subject"], c["score"])).collect();
        runs.push((report["fuel"].as_u64().expect("fuel"), found));
    }
    let [(two, _), (four, four_found), (apart, apart_found)] = &runs[..] else { unreachable!() };
    assert!(!four_found.is_empty());
    assert_eq!(four_found, apart_found, "each use reads the same rows");
    assert!(four * 2 < two * 3, "four uses {four} against two uses {two}: computed once");
    assert!(four < apart, "four uses {four} against four copies {apart}");

    // A column of the shared subquery that no use reads is not computed, so not declared either.
    let unread =
        "(SELECT a.kind, count(*) AS n, min(b.__row) AS r, max(a.court) AS court, max(b.amount) AS top
                   FROM auctions a JOIN bids b ON b.item_id = a.item_id GROUP BY a.kind)";
    let model = t4_model("shared-unread", "", &query(&[unread.to_string(), unread.to_string()]));
    let o = run(&["inspect", &model, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let inspected: Value = serde_json::from_slice(&o.stdout).expect("json");
    let declared: BTreeSet<String> = inspected["model"]["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .flat_map(|t| {
            let table = t["table"].as_str().unwrap_or("").to_string();
            t["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |c| format!("{table}.{}", c["name"].as_str().unwrap_or("")))
        })
        .collect();
    let expected: BTreeSet<String> =
        ["auctions.item_id", "auctions.kind", "bids.item_id"].into_iter().map(String::from).collect();
    assert_eq!(declared, expected, "court and amount are never read");
    let (code, report, clues) = run_model(&model, &data, &[]);
    assert_eq!(code, 0, "{report}");
    assert!(!clues.is_empty());
}

/// The engine joins and groups key columns on their dictionary codes: within one key domain that
/// finds exactly the pairs comparing the text finds (`upper()` keeps a key from being a plain
/// column, so those joins compare text), and across two domains, whose codes mean different
/// things, no more than the text does.
fn joins_on_codes_match_exactly_what_joins_on_text_match() {
    let model = t4_model(
        "codes-and-text",
        "",
        "SELECT a.item_id AS subject, 0.5 AS score, 'same-domain-codes' AS rule, 'x' AS reason
         FROM auctions a JOIN priority_claims p ON p.case_no = a.case_no
         UNION ALL
         SELECT a.item_id, 0.5, 'same-domain-text', 'x'
         FROM auctions a JOIN priority_claims p ON upper(p.case_no) = upper(a.case_no)
         UNION ALL
         SELECT a.item_id, 0.5, 'two-domains-codes', 'x'
         FROM auctions a JOIN priority_claims p ON p.case_no = a.item_id
         UNION ALL
         SELECT a.item_id, 0.5, 'two-domains-text', 'x'
         FROM auctions a JOIN priority_claims p ON upper(p.case_no) = upper(a.item_id)
         UNION ALL
         SELECT g.case_no, CAST(g.n AS DOUBLE), 'grouped-codes', 'x'
         FROM (SELECT case_no, count(*) AS n FROM priority_claims WHERE case_no IS NOT NULL GROUP BY case_no) g
         UNION ALL
         SELECT g.k, CAST(g.n AS DOUBLE), 'grouped-text', 'x'
         FROM (SELECT upper(case_no) AS k, count(*) AS n FROM priority_claims WHERE case_no IS NOT NULL GROUP BY upper(case_no)) g",
    );
    let data = fresh_dir("sql-codes-data");
    let d = data.to_str().expect("utf-8");
    assert!(run(&["gen", "judicial-auction-violations", "--seed", "5", "--out", d]).status.success());
    let (code, report, clues) = run_model(&model, &data, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["stderr"], "", "the rewrite to codes applied: {report}");
    let of = |rule: &str| {
        let mut found: Vec<(String, String)> = clues
            .iter()
            .filter(|c| c["rule"] == rule)
            .map(|c| (c["subject"].as_str().unwrap_or("").to_uppercase(), c["score"].to_string()))
            .collect();
        found.sort();
        found
    };
    assert!(!of("same-domain-codes").is_empty());
    assert_eq!(of("same-domain-codes"), of("same-domain-text"));
    assert_eq!(of("two-domains-codes"), of("two-domains-text"));
    assert!(!of("grouped-codes").is_empty());
    assert_eq!(of("grouped-codes"), of("grouped-text"));
}

/// A hash join builds on whichever side turns out to have fewer rows, swapping the sides the plan
/// chose where the other is smaller: every join type gives the same rows written either way round
/// (one of the two runs as planned, the other the other way), and a semi and an anti join split a
/// side's rows exactly. `a` (auctions of round 1) has fewer rows than `b` (bids over an amount);
/// some of each have no match on the other side.
fn a_join_gives_the_same_rows_whichever_side_it_builds_on() {
    let a = "(SELECT item_id, __row FROM auctions WHERE round = 1)";
    let b = "(SELECT item_id, __row FROM bids WHERE amount > 50000)";
    let pair = |rule: &str, x: &str, y: &str, join: &str| {
        format!(
            "SELECT coalesce(a.item_id, b.item_id, '-') AS subject, 0.5 AS score, '{rule}' AS rule,
                    coalesce(CAST(a.__row AS VARCHAR), '-') || '/' || coalesce(CAST(b.__row AS VARCHAR), '-') AS reason
             FROM {x} {join} {y} ON a.item_id = b.item_id"
        )
    };
    let side = |rule: &str, of: &str, name: &str, other: &str, other_name: &str, not: &str| {
        format!(
            "SELECT coalesce({name}.item_id, '-') AS subject, 0.5 AS score, '{rule}' AS rule, CAST({name}.__row AS VARCHAR) AS reason
             FROM {of} {name} WHERE {not} EXISTS (SELECT 1 FROM {other} {other_name} WHERE {other_name}.item_id = {name}.item_id)"
        )
    };
    let (aa, bb) = (format!("{a} a"), format!("{b} b"));
    let queries = [
        pair("inner-ab", &aa, &bb, "JOIN"),
        pair("inner-ba", &bb, &aa, "JOIN"),
        pair("left-ab", &aa, &bb, "LEFT JOIN"),
        pair("left-ba", &bb, &aa, "RIGHT JOIN"),
        pair("right-ab", &aa, &bb, "RIGHT JOIN"),
        pair("right-ba", &bb, &aa, "LEFT JOIN"),
        pair("full-ab", &aa, &bb, "FULL JOIN"),
        pair("full-ba", &bb, &aa, "FULL JOIN"),
        side("semi-a", a, "a", b, "b", ""),
        side("anti-a", a, "a", b, "b", "NOT"),
        side("semi-b", b, "b", a, "a", ""),
        side("anti-b", b, "b", a, "a", "NOT"),
        "SELECT 'all' AS subject, 0.5 AS score, 'rows-a' AS rule, CAST(__row AS VARCHAR) AS reason FROM auctions WHERE round = 1".into(),
        "SELECT 'all' AS subject, 0.5 AS score, 'rows-b' AS rule, CAST(__row AS VARCHAR) AS reason FROM bids WHERE amount > 50000".into(),
    ];
    let model = t4_model("join-sides", "", &queries.join(" UNION ALL "));
    let data = fresh_dir("sql-join-sides-data");
    let d = data.to_str().expect("utf-8");
    assert!(run(&["gen", "judicial-auction-violations", "--seed", "5", "--out", d]).status.success());
    let (code, report, clues) = run_model(&model, &data, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["stderr"], "", "{report}");
    let of = |rule: &str| of_rule(&clues, rule);
    let (rows_a, rows_b) = (of("rows-a").len(), of("rows-b").len());
    assert!(0 < rows_a && rows_a < rows_b, "a has fewer rows than b: {rows_a} and {rows_b}");
    for join in ["inner", "left", "right", "full"] {
        let (ab, ba) = (of(&format!("{join}-ab")), of(&format!("{join}-ba")));
        assert!(!ab.is_empty(), "{join} found nothing");
        assert_eq!(ab, ba, "{join}");
    }
    let unmatched =
        |rows: &[String], at: usize| rows.iter().filter(|r| r.split('/').nth(at) == Some("-\"")).count();
    assert!(
        unmatched(&of("full-ab"), 1) > 0 && of("full-ab").iter().any(|r| r.contains("\"-/")),
        "both sides have rows without a match"
    );
    for (name, rows) in [("a", rows_a), ("b", rows_b)] {
        let (semi, anti) = (of(&format!("semi-{name}")), of(&format!("anti-{name}")));
        assert!(!semi.is_empty() && !anti.is_empty(), "{name}: {} and {}", semi.len(), anti.len());
        assert_eq!(semi.len() + anti.len(), rows, "{name}'s rows, split by the semi and the anti join");
    }
}

/// A join on two codes (buyer and debtor against a relation's two people) finds its rows by the
/// code that tells the built rows apart and compares the other in its filter: it gives exactly
/// the rows the same join on the text gives (`upper()` keeps those keys text), for an inner, a
/// left and an anti join, with a tenth of the buyers null (which match nothing).
fn joins_on_several_codes_match_what_joins_on_their_text_match() {
    let on = |codes: bool, x: &str, y: &str| match codes {
        true => format!("r.{x} = a.buyer_id AND r.{y} = a.debtor_id"),
        false => format!("upper(r.{x}) = upper(a.buyer_id) AND upper(r.{y}) = upper(a.debtor_id)"),
    };
    let mut queries = Vec::new();
    for (codes, how) in [(true, "codes"), (false, "text")] {
        for (x, y) in [("person_a", "person_b"), ("person_b", "person_a")] {
            let on = on(codes, x, y);
            queries.push(format!(
                "SELECT a.item_id AS subject, 0.5 AS score, 'inner-{how}' AS rule,
                        CAST(a.__row AS VARCHAR) || '/' || CAST(r.__row AS VARCHAR) AS reason
                 FROM auctions a JOIN relations r ON {on}"
            ));
            queries.push(format!(
                "SELECT coalesce(a.item_id, '-') AS subject, 0.5 AS score, 'left-{how}' AS rule,
                        CAST(a.__row AS VARCHAR) || '/' || coalesce(CAST(r.__row AS VARCHAR), '-') AS reason
                 FROM auctions a LEFT JOIN relations r ON {on}"
            ));
            queries.push(format!(
                "SELECT coalesce(a.item_id, '-') AS subject, 0.5 AS score, 'anti-{how}' AS rule,
                        CAST(a.__row AS VARCHAR) AS reason
                 FROM auctions a WHERE NOT EXISTS (SELECT 1 FROM relations r WHERE {on})"
            ));
        }
    }
    let model = t4_model("several-codes", "", &queries.join(" UNION ALL "));
    let data = generated_csv("sql-several-codes-data", "judicial-auction-violations", "7");
    blank_every_seventh(&data.join("auctions.csv"), "buyer_id");
    let (code, report, clues) = run_model(&model, &data, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["stderr"], "", "{report}");
    let of = |rule: &str| of_rule(&clues, rule);
    assert!(!of("inner-codes").is_empty(), "related buyers found");
    for join in ["inner", "left", "anti"] {
        assert_eq!(of(&format!("{join}-codes")), of(&format!("{join}-text")), "{join}");
    }
    assert!(of("left-codes").iter().any(|r| r.ends_with("/-\"")), "auctions without a relation");
    assert!(of("anti-codes").len() > of("inner-codes").len());
}

/// A filter of `IS NOT NULL` checks alone under a join (which the engine may turn into a null join
/// key for the rows it would drop) keeps out of every kind of join exactly the rows it filters: on
/// either side of inner, left, full, semi and anti joins, against the same joins filtered by a
/// comparison that every non-null value passes; a seventh of the rounds and of the bids' times
/// null.
fn a_filter_of_nulls_under_a_join_keeps_out_what_it_filters() {
    let joins = [
        (
            "inner",
            "FROM auctions a JOIN bids b ON b.item_id = a.item_id WHERE a.round {R} AND a.starts_on {S}",
        ),
        (
            "left-filtered-right",
            "FROM auctions a LEFT JOIN (SELECT * FROM bids WHERE bid_at {B}) b ON b.item_id = a.item_id",
        ),
        (
            "left-filtered-left",
            "FROM (SELECT * FROM auctions WHERE round {R}) a LEFT JOIN bids b ON b.item_id = a.item_id",
        ),
        (
            "full",
            "FROM (SELECT * FROM auctions WHERE round {R}) a
             FULL JOIN (SELECT * FROM bids WHERE bid_at {B}) b ON b.item_id = a.item_id",
        ),
        (
            "semi",
            "FROM auctions a WHERE a.round {R}
             AND EXISTS (SELECT 1 FROM bids x WHERE x.item_id = a.item_id AND x.bid_at {B})",
        ),
        (
            "anti",
            "FROM auctions a WHERE a.round {R}
             AND NOT EXISTS (SELECT 1 FROM bids x WHERE x.item_id = a.item_id AND x.bid_at {B})",
        ),
    ];
    let checks = [
        ("nulls", ["IS NOT NULL", "IS NOT NULL", "IS NOT NULL"]),
        ("range", ["> -1000000", "> DATE '1900-01-01'", "> TIMESTAMP '1900-01-01 00:00:00'"]),
    ];
    let mut queries = Vec::new();
    for (join, from) in joins {
        // The semi and anti joins show no bid.
        let bid_row = match from.contains("EXISTS") {
            true => "'-'",
            false => "coalesce(CAST(b.__row AS VARCHAR), '-')",
        };
        for (how, [round, starts, bid]) in checks {
            let from = from.replace("{R}", round).replace("{S}", starts).replace("{B}", bid);
            queries.push(format!(
                "SELECT coalesce(a.item_id, '-') AS subject, 0.5 AS score, '{join}-{how}' AS rule,
                        coalesce(CAST(a.__row AS VARCHAR), '-') || '/' || {bid_row} AS reason
                 {from}"
            ));
        }
    }
    let model = t4_model("null-filters", "", &queries.join(" UNION ALL "));
    let data = generated_csv("sql-null-filters-data", "judicial-auction-violations", "10");
    blank_every_seventh(&data.join("auctions.csv"), "round");
    blank_every_seventh(&data.join("bids.csv"), "bid_at");
    let (code, report, clues) = run_model(&model, &data, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["stderr"], "", "{report}");
    let of = |rule: &str| of_rule(&clues, rule);
    for (join, _) in joins {
        let (nulls, range) = (of(&format!("{join}-nulls")), of(&format!("{join}-range")));
        assert!(!nulls.is_empty(), "{join}");
        assert_eq!(nulls, range, "{join}");
    }
    assert!(of("full-nulls").iter().any(|c| c.contains("\"-/")), "bids of no auction kept");
    assert!(of("left-filtered-right-nulls").iter().any(|c| c.ends_with("/-\"")), "auctions with no bid kept");
    assert!(of("anti-nulls").len() < of("left-filtered-left-nulls").len());
}

/// `a || b || c` is one call of its parts, planned once: it gives what `concat()` of the same
/// parts cast to text gives, and null where any part is null (where `concat()` would skip it):
/// text, codes, dates, numbers and a nested chain alike.
fn pipes_concatenate_as_concat_does_but_null_makes_null() {
    let parts = ["item_id", "announced_on", "start_price", "round", "buyer_id"];
    let any_null = parts.map(|p| format!("{p} IS NULL")).join(" OR ");
    let casts = parts.map(|p| format!("CAST({p} AS VARCHAR)")).join(", ':', ");
    let query = format!(
        "SELECT coalesce(item_id, '-') AS subject, 0.5 AS score, 'pipes' AS rule,
                coalesce('#' || item_id || ':' || announced_on || ':' || (start_price || ':' || round) || ':' || buyer_id, 'null')
                    || coalesce(' ' || kind || NULL, '') AS reason,
                __row AS auctions__row
         FROM auctions
         UNION ALL
         SELECT coalesce(item_id, '-'), 0.5, 'concat',
                CASE WHEN {any_null} THEN 'null' ELSE concat('#', {casts}) END, __row
         FROM auctions"
    );
    let data = generated_csv("sql-pipes-data", "judicial-auction-violations", "8");
    blank_every_seventh(&data.join("auctions.csv"), "buyer_id");
    let (code, report, clues) = run_model(&t4_model("pipes", "", &query), &data, &[]);
    assert_eq!(code, 0, "{report}");
    let (pipes, concat) = (rows_of_rule(&clues, "pipes"), rows_of_rule(&clues, "concat"));
    assert!(!pipes.is_empty());
    assert_eq!(pipes, concat);
    assert!(pipes.iter().any(|(_, _, reason)| reason == "\"null\""), "null buyers make null");
    // The part after the item: the auction's announcement as its day, `YYYY-MM-DD`.
    let a_day = |text: &str| {
        let b = text.as_bytes();
        b.len() == 10
            && b.iter()
                .enumerate()
                .all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() })
    };
    assert!(
        pipes.iter().any(|(_, _, reason)| reason.split(':').nth(1).is_some_and(a_day)),
        "{:?}",
        &pipes[..3]
    );
}

/// `coalesce(x, fill)` over numbers, dates and truth values (filled in one pass over `x`) gives
/// what the `CASE` it stands for gives, with a constant or a column as the fill: on unsold
/// auctions (null price), a seventh without a start date and a seventh without a round.
fn coalesce_fills_nulls_as_case_does() {
    let fills = [
        ("sold_price", "0"),
        ("sold_price", "start_price"),
        ("round", "-1"),
        ("starts_on", "announced_on"),
        ("starts_on", "DATE '2000-01-01'"),
        ("sold_price > valuation", "true"),
        ("sold_price > valuation", "false"),
    ];
    let texts = |of: &dyn Fn(&str, &str) -> String| {
        fills
            .iter()
            .map(|(x, fill)| format!("coalesce(CAST({} AS VARCHAR), '?')", of(x, fill)))
            .collect::<Vec<_>>()
    };
    let coalesced = texts(&|x, fill| format!("coalesce({x}, {fill})")).join(" || ';' || ");
    let cased =
        texts(&|x, fill| format!("CASE WHEN {x} IS NULL THEN {fill} ELSE {x} END")).join(" || ';' || ");
    let query = format!(
        "SELECT coalesce(item_id, '-') AS subject, 0.5 AS score, 'coalesce' AS rule, {coalesced} AS reason,
                __row AS auctions__row
         FROM auctions WHERE coalesce(sold_price, 0) >= 0
         UNION ALL
         SELECT coalesce(item_id, '-'), 0.5, 'case', {cased}, __row
         FROM auctions WHERE CASE WHEN sold_price IS NULL THEN 0 ELSE sold_price END >= 0"
    );
    let data = generated_csv("sql-coalesce-data", "judicial-auction-violations", "9");
    blank_every_seventh(&data.join("auctions.csv"), "starts_on");
    blank_every_seventh(&data.join("auctions.csv"), "round");
    let (code, report, clues) = run_model(&t4_model("coalesce", "", &query), &data, &[]);
    assert_eq!(code, 0, "{report}");
    let (coalesced, cased) = (rows_of_rule(&clues, "coalesce"), rows_of_rule(&clues, "case"));
    assert!(!coalesced.is_empty());
    assert_eq!(coalesced, cased);
    let reasons: Vec<Vec<String>> = coalesced
        .iter()
        .map(|(_, _, r)| r.trim_matches('"').split(';').map(String::from).collect())
        .collect();
    let filled = |k: usize, value: &str| reasons.iter().any(|parts| parts[k] == value);
    assert!(filled(0, "0.0") || filled(0, "0"), "unsold auctions' price filled with 0");
    assert!(filled(2, "-1"), "rounds filled");
    assert!(filled(4, "2000-01-01"), "start dates filled");
    assert!(filled(5, "true") && filled(6, "false"), "truths filled both ways");
}

/// `array_agg(x ORDER BY ...)` lists come in the order asked for, whether the engine gathers them
/// as the rows arrive (its input sorted that way) or keeps them with their sort keys: by row
/// descending, by price then row, and by row descending among the first-round auctions alone;
/// each list (the clue's first 50 evidence rows) checked against the rows listed one by one.
fn a_list_ordered_in_the_query_comes_in_that_order() {
    let list = |rule: &str, order: &str, filter: &str| {
        format!(
            "SELECT kind AS subject, 0.5 AS score, '{rule}' AS rule, 'r' AS reason,
                    array_agg(__row ORDER BY {order}) {filter} AS auctions__row
             FROM auctions WHERE kind IS NOT NULL AND start_price IS NOT NULL GROUP BY kind"
        )
    };
    let queries = [
        list("desc", "__row DESC", ""),
        list("by-price", "start_price, __row", ""),
        list("first-round", "__row DESC", "FILTER (WHERE round = 1)"),
    ];
    let lists = t4_model("ordered-lists", "", &queries.join(" UNION ALL "));
    let listing = t4_model(
        "ordered-lists-rows",
        "",
        "SELECT kind AS subject, 0.5 AS score, 'row' AS rule,
                CAST(__row AS VARCHAR) || ' ' || CAST(start_price AS VARCHAR) || ' ' || CAST(round = 1 AS VARCHAR) AS reason
         FROM auctions WHERE kind IS NOT NULL AND start_price IS NOT NULL",
    );
    let data = fresh_dir("sql-ordered-lists-data");
    let d = data.to_str().expect("utf-8");
    assert!(run(&["gen", "judicial-auction-violations", "--seed", "5", "--out", d]).status.success());
    let mut clues = Vec::new();
    for model in [lists, listing] {
        let (code, report, found) = run_model(&model, &data, &[]);
        assert_eq!(code, 0, "{report}");
        assert_eq!(report["stderr"], "", "{report}");
        clues.extend(found);
    }
    // Each kind's rows as (row, price, first round), from the plain listing.
    let mut rows: std::collections::BTreeMap<String, Vec<(u64, f64, bool)>> = Default::default();
    for clue in clues.iter().filter(|c| c["rule"] == "row") {
        let reason = clue["reason"].as_str().expect("reason");
        let mut parts = reason.split(' ');
        let row = parts.next().and_then(|r| r.parse().ok()).expect("row");
        let price = parts.next().and_then(|p| p.parse().ok()).expect("price");
        let first = parts.next() == Some("true");
        rows.entry(clue["subject"].as_str().expect("subject").to_string())
            .or_default()
            .push((row, price, first));
    }
    assert!(rows.len() > 1, "several kinds: {:?}", rows.keys());
    let evidence = |rule: &str, kind: &str| -> Vec<u64> {
        let clue = clues.iter().find(|c| c["rule"] == rule && c["subject"] == kind).expect("a list per kind");
        clue["evidence"]
            .as_array()
            .expect("evidence")
            .iter()
            .map(|e| e["row"].as_u64().expect("row"))
            .collect()
    };
    for (kind, of_kind) in &rows {
        let first_fifty = |mut listed: Vec<(u64, f64, bool)>| -> Vec<u64> {
            listed.truncate(50);
            listed.into_iter().map(|(row, _, _)| row).collect()
        };
        let mut desc = of_kind.clone();
        desc.sort_by_key(|r| std::cmp::Reverse(r.0));
        assert_eq!(evidence("desc", kind), first_fifty(desc.clone()), "{kind}: by row, descending");
        let mut by_price = of_kind.clone();
        by_price.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        assert_eq!(evidence("by-price", kind), first_fifty(by_price), "{kind}: by price, then row");
        let first_round: Vec<_> = desc.into_iter().filter(|r| r.2).collect();
        if !first_round.is_empty() {
            assert_eq!(evidence("first-round", kind), first_fifty(first_round), "{kind}: first round only");
        }
    }
}

/// `CAST(t AS DATE)` of a timestamp is the date its text shows, before 1970 too (the engine
/// divides the milliseconds, rounding down), on the generated trips and on trips moved to the
/// last second of 1969, to 1900, to 9999 and to 1970 itself.
fn a_timestamps_day_is_the_date_it_shows() {
    let data = generated_csv("sql-days-data", "restricted-debtor-travel", "3");
    let moved = ["1969-12-31T23:59:59", "1900-03-01T00:00:00", "9999-12-31T23:59:59", "1970-01-01T00:00:00"];
    rewrite_column(&data.join("travel.csv"), "departed_at", |i, get| match i % 10 {
        k @ 0..=3 => moved[k].to_string(),
        _ => get(i, "departed_at"),
    });
    let model = model_file(
        "days",
        "restricted-debtor-travel",
        "person",
        "",
        "SELECT CAST(__row AS VARCHAR) AS subject, 0.5 AS score, 'day' AS rule,
                CAST(CAST(departed_at AS DATE) AS VARCHAR) || '|' || CAST(departed_at AS VARCHAR) AS reason
         FROM travel WHERE departed_at IS NOT NULL",
    );
    let (code, report, clues) = run_model(&model, &data, &[]);
    assert_eq!(code, 0, "{report}");
    assert!(clues.len() > 100, "{report}");
    for moved in moved {
        let day = &moved[..10];
        assert!(clues.iter().any(|c| c["reason"].as_str().is_some_and(|r| r.starts_with(day))), "{day}");
    }
    for clue in &clues {
        let reason = clue["reason"].as_str().expect("reason");
        let (day, shown) = reason.split_once('|').expect("day|timestamp");
        assert_eq!(Some(day), shown.get(..10), "row {}", clue["subject"]);
    }
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
