//! Hostile and malformed guests: each gets its typed outcome and exit code; the host survives.

use std::sync::Arc;

use crate::common::{fresh_dir, guest, run_json, t1_data};
use sieve_host::datasets;
use sieve_host::sandbox::{Limits, Outcome, Sandbox};

fn hostile(mode: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let data = t1_data("parquet", 1);
    let mode = format!("mode={mode}");
    let mut args = vec!["--param", mode.as_str()];
    args.extend_from_slice(extra);
    run_json(&guest("guest-hostile"), &data, &args)
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let (code, v) = hostile("loop", &["--fuel", "50000000"]);
    assert_eq!((code, v["outcome"].as_str()), (11, Some("out-of-fuel")), "{v}");
    assert!(v["fuel"].as_u64().expect("fuel") >= 50_000_000 - 10_000);
}

#[test]
fn infinite_loop_without_fuel_hits_the_deadline() {
    let (code, v) = hostile("loop", &["--fuel", "0", "--deadline", "0.5"]);
    assert_eq!((code, v["outcome"].as_str()), (12, Some("deadline-exceeded")), "{v}");
}

#[test]
fn unbounded_memory_growth_hits_the_memory_limit() {
    let (code, v) = hostile("memory", &["--memory-mib", "64"]);
    assert_eq!((code, v["outcome"].as_str()), (13, Some("memory-limit")), "{v}");
    assert!(v["peak_memory_bytes"].as_u64().expect("peak") <= 64 << 20);
}

#[test]
fn deep_recursion_traps_with_a_backtrace() {
    let (code, v) = hostile("recursion", &[]);
    assert_eq!((code, v["outcome"].as_str()), (15, Some("trap")), "{v}");
    let frames = v["backtrace"].as_array().expect("backtrace");
    assert!(frames.iter().any(|f| f.as_str().is_some_and(|f| f.contains("recurse"))), "{v}");
}

#[test]
fn emit_flood_hits_the_output_limit() {
    let (code, v) = hostile("emit-flood", &["--max-clues", "1000"]);
    assert_eq!((code, v["outcome"].as_str()), (14, Some("output-limit")), "{v}");
    assert!(v["detail"].as_str().expect("detail").contains("1000 clues"), "{v}");
}

#[test]
fn log_flood_hits_the_output_limit() {
    let (code, v) = hostile("log-flood", &["--max-log-bytes", "100000"]);
    assert_eq!((code, v["outcome"].as_str()), (14, Some("output-limit")), "{v}");
    assert!(v["detail"].as_str().expect("detail").contains("logged more than 100000 bytes"), "{v}");
}

#[test]
fn guest_panic_surfaces_its_message() {
    let (code, v) = hostile("panic", &[]);
    assert_eq!((code, v["outcome"].as_str()), (15, Some("trap")), "{v}");
    assert!(v["detail"].as_str().expect("detail").contains("hostile guest panicked on purpose"), "{v}");
}

#[test]
fn labels_and_undeclared_columns_are_out_of_reach() {
    let (code, v) = hostile("labels", &[]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert!(v["detail"].as_str().expect("detail").contains("\"labels\""), "{v}");
    let (code, v) = hostile("undeclared-column", &[]);
    assert_eq!(code, 10, "{v}");
    assert!(v["detail"].as_str().expect("detail").contains("judgments.plaintiff_id"), "{v}");
}

#[test]
fn a_dictionary_holds_only_the_declared_columns_values() {
    // The hostile guest fails the run if `repair_shop`'s dictionary holds a value of another
    // column of its key domain (plaintiffs, owners, employers), or if it is not coded at all.
    let (code, v) = hostile("dictionary-scope", &[]);
    assert_eq!((code, v["outcome"].as_str()), (0, Some("completed")), "{v}");
}

#[test]
fn evidence_past_the_table_is_an_invalid_clue() {
    let (code, v) = hostile("bad-evidence", &[]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert!(v["detail"].as_str().expect("detail").contains("invalid clue"), "{v}");
    assert_eq!(v["clues"], 0);
}

#[test]
fn sockets_are_linked_but_every_attempt_is_denied() {
    // The guest's standard library imports wasi:sockets: it loads, and a connection, a name
    // lookup and a UDP bind each fail as a refused permission, reported by the model itself.
    let (code, v) = run_json(&guest("guest-sockets"), &t1_data("parquet", 1), &[]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    let detail = v["detail"].as_str().expect("detail");
    assert!(
        detail.contains("connect: Some(PermissionDenied)")
            && detail.contains("udp bind: Some(PermissionDenied)"),
        "{detail}"
    );
    assert!(detail.contains("lookup: Some("), "the lookup failed too: {detail}");
    let inspected = crate::common::run(&["inspect", &guest("guest-sockets")]);
    let text = crate::common::stdout(&inspected);
    assert!(text.contains("wasi:sockets/tcp") && text.contains("linked, denied"), "{text}");
}

#[test]
fn http_import_is_refused_naming_it() {
    let dir = fresh_dir("http-guest");
    let wasm = wat::parse_str(
        r#"(component
            (import "wasi:http/types@0.2.0" (instance))
            (import "wasi:sockets/tcp@0.2.0" (instance))
            (import "wasi:http/outgoing-handler@0.2.0" (instance)))"#,
    )
    .expect("wat");
    let path = dir.join("http.wasm");
    std::fs::write(&path, wasm).expect("write");
    let (code, v) = run_json(path.to_str().expect("path"), &t1_data("parquet", 1), &[]);
    assert_eq!((code, v["outcome"].as_str()), (16, Some("link-error")), "{v}");
    // Every refused import is named, with the usual toolchain's fix; the socket one is allowed.
    let detail = v["detail"].as_str().expect("detail");
    for named in ["wasi:http/types@0.2.0", "wasi:http/outgoing-handler@0.2.0", "-d http fetch-event"] {
        assert!(detail.contains(named), "{named}: {detail}");
    }
    assert!(!detail.contains("wasi:sockets/tcp"), "{detail}");
}

#[test]
fn truncated_and_core_module_files_are_invalid_components() {
    let dir = fresh_dir("invalid");
    let bytes = sieve_host::bundled::get("vehicle-insurance-fraud").expect("bundled");
    let truncated = dir.join("truncated.wasm");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let (code, v) = run_json(truncated.to_str().expect("path"), &t1_data("parquet", 1), &[]);
    assert_eq!((code, v["outcome"].as_str()), (17, Some("invalid-component")), "{v}");

    let core = dir.join("core.wasm");
    std::fs::write(&core, wat::parse_str("(module (func (export \"run\")))").expect("wat")).expect("write");
    let (code, v) = run_json(core.to_str().expect("path"), &t1_data("parquet", 1), &[]);
    assert_eq!(code, 17, "{v}");
    assert!(v["detail"].as_str().expect("detail").contains("core WebAssembly module"), "{v}");
}

#[test]
fn wrong_digest_is_refused_before_compiling() {
    let dir = fresh_dir("digest");
    // Not even WebAssembly: the hash check must come first, so the outcome is hash-mismatch.
    let junk = dir.join("junk.wasm");
    std::fs::write(&junk, b"definitely not wasm").expect("write");
    let pinned = format!("sha256:{}", "0".repeat(64));
    let (code, v) =
        run_json(junk.to_str().expect("path"), &t1_data("parquet", 1), &["--expect-digest", &pinned]);
    assert_eq!((code, v["outcome"].as_str()), (18, Some("hash-mismatch")), "{v}");
    assert!(v["detail"].as_str().expect("detail").contains(&pinned), "{v}");
}

/// The hostile guest loaded in a sandbox of this process, with the T1 tables it declares.
fn hostile_in_process()
-> (Sandbox, sieve_host::sandbox::Plugin, sieve_sdk::ModelInfo, Arc<[datasets::ServedTable]>) {
    let sandbox = Sandbox::new(None).expect("sandbox");
    let bytes = std::fs::read(guest("guest-hostile")).expect("guest");
    let plugin = sandbox.load(&bytes, None).expect("loads");
    let info = sandbox.describe(&plugin).expect("describes");
    let tables = Arc::from(datasets::load_for_model(&t1_data("parquet", 1), &info).expect("data"));
    (sandbox, plugin, info, tables)
}

#[test]
fn one_sandbox_survives_every_hostile_mode() {
    let (sandbox, plugin, info, tables) = hostile_in_process();
    let limits = Limits {
        fuel: Some(200_000_000),
        fuel_per_row: 0,
        memory_bytes: 64 << 20,
        max_clues: 100,
        max_log_bytes: 10_000,
        deadline: std::time::Duration::from_secs(20),
        ..Limits::default()
    };
    let run = |mode: &str| {
        let params = info.resolve_params(&[("mode".into(), mode.into())]).expect("params");
        sandbox.execute(&plugin, tables.clone(), &params, &limits, [7; 32], None)
    };
    for (mode, code) in [
        ("loop", "out-of-fuel"),
        ("memory", "memory-limit"),
        ("recursion", "trap"),
        ("emit-flood", "output-limit"),
        ("log-flood", "output-limit"),
        ("stdout-flood", "output-limit"),
        ("panic", "trap"),
        ("model-error", "model-error"),
    ] {
        assert_eq!(run(mode).outcome.code(), code, "mode {mode}");
    }
    let ok = run("ok");
    assert_eq!(ok.outcome, Outcome::Completed);
    assert_eq!(ok.clues.len(), 5);
}

#[test]
fn the_fuel_budget_grows_with_the_rows_the_model_declared() {
    // An interpreted model needs far more fuel per row than a compiled one: the default budget
    // is the larger of a fixed amount and a grant per row of the declared tables.
    let (sandbox, plugin, info, tables) = hostile_in_process();
    let rows: u64 = tables.iter().map(|t| t.rows as u64).sum();
    let params = info.resolve_params(&[("mode".into(), "loop".into())]).expect("params");
    let spin = |limits: &Limits| sandbox.execute(&plugin, tables.clone(), &params, limits, [7; 32], None);
    let fixed = 50_000_000;
    let grown = spin(&Limits { fuel: Some(fixed), fuel_per_row: 10_000, ..Limits::default() });
    assert_eq!(grown.outcome.code(), "out-of-fuel");
    assert!(10_000 * rows > fixed, "the data is large enough for the grant to matter");
    assert!(grown.fuel_consumed >= 10_000 * rows - 10_000, "{} of {}", grown.fuel_consumed, 10_000 * rows);
    assert!(
        grown.outcome.detail().contains(&format!("{:e}", (10_000 * rows) as f64)),
        "{}",
        grown.outcome.detail()
    );
    let exact = spin(&Limits { fuel: Some(fixed), fuel_per_row: 0, ..Limits::default() });
    assert!(exact.fuel_consumed < fixed + 10_000, "an explicit budget is exact: {}", exact.fuel_consumed);
}

#[test]
fn a_table_read_in_small_batches_matches_the_whole_table() {
    // Batches that start at row 0 are lowered from the host's own offsets; the others are
    // rebased. Odd batch sizes put batch edges everywhere; the scan guest emits a clue for each
    // column whose batched values differ from one whole read.
    for format in ["parquet", "csv"] {
        let data = t1_data(format, 1);
        let (code, v) = run_json(&guest("guest-scan"), &data, &["--param", "check-batch-rows=777"]);
        assert_eq!((code, v["outcome"].as_str()), (0, Some("completed")), "{format}: {v}");
        assert_eq!(v["clues"], 0, "{format}: {v}");
    }
}
