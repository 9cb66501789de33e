//! A hostile model written straight against the WIT (`tests/guests/raw`), as an attacker would:
//! each test reproduces one attack on the sandbox and shows it refused with its typed outcome,
//! the host's own memory untouched, and the process alive.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{fresh_dir, guest, run, run_json, sieve, stderr, stdout, t1_data};

const MARKER: &[u8] = b"SIEVE-DESCRIBE-MODE:normal______";

/// The raw guest with its `describe()` mode patched into the component bytes (a new digest, the
/// same code): one build gives a component per `describe()` attack.
pub fn patched_raw(mode: &str) -> PathBuf {
    assert!(mode.len() <= 12, "mode {mode} does not fit the marker");
    let mut bytes = std::fs::read(guest("guest-raw")).expect("raw guest");
    let at = bytes.windows(MARKER.len()).position(|w| w == MARKER).expect("marker in the data section");
    let field = format!("{mode:_<12}");
    bytes[at + 20..at + 32].copy_from_slice(field.as_bytes());
    let dir = fresh_dir(&format!("raw-describe-{mode}"));
    let path = dir.join(format!("raw-{mode}.wasm"));
    std::fs::write(&path, bytes).expect("write");
    path
}

fn raw(mode: &str, extra: &[&str]) -> (i32, Value) {
    let param = format!("mode={mode}");
    let mut args = vec!["--param", param.as_str()];
    args.extend_from_slice(extra);
    run_json(&guest("guest-raw"), &t1_data("parquet", 1), &args)
}

fn detail(v: &Value) -> &str {
    v["detail"].as_str().expect("detail")
}

/// `sieve run --data` of the raw guest in `mode`, with the child's peak resident memory (KiB):
/// the kernel's high-water mark of its own address space, sampled while it runs.
fn raw_with_peak_rss(mode: &str, extra: &[&str]) -> (i32, Value, u64) {
    let data = t1_data("parquet", 1);
    let param = format!("mode={mode}");
    let mut child = sieve()
        .args([
            "run",
            &guest("guest-raw"),
            "--data",
            data.to_str().expect("utf-8"),
            "--json",
            "--param",
            &param,
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sieve");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).expect("read");
        out
    });
    // The child's own high-water mark, sampled until it exits. (wait4's ru_maxrss would not do:
    // Linux carries the forking process's peak into the child's across exec, and this test
    // process may be large while other tests run in it.)
    let hwm_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&hwm_path)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    let out = reader.join().expect("reader");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON ({e}): {out}"));
    (status.code().unwrap_or(-1), v, peak_kib)
}

/// Run `sieve ARGS` and insist it ends within `limit` (a hang is the bug under test, not a
/// measurement: the bound is an order of magnitude above the expected time).
fn within(limit: Duration, args: &[&str]) -> (i32, String, String) {
    let mut child = sieve().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut out = String::new();
            let mut err = String::new();
            child.stdout.take().expect("stdout").read_to_string(&mut out).expect("read");
            child.stderr.take().expect("stderr").read_to_string(&mut err).expect("read");
            return (status.code().unwrap_or(-1), out, err);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("sieve {args:?} still running after {limit:?}: a host call blocked");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn table_names_are_identifiers_never_paths() {
    // A dataset directory with the labels inside and a secret beside it, plus one at an absolute path.
    let root = fresh_dir("paths");
    let data = root.join("data");
    let t1 = t1_data("csv", 1);
    std::fs::create_dir_all(&data).expect("dir");
    for entry in std::fs::read_dir(&t1).expect("t1") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, data.join(path.file_name().expect("name"))).expect("copy");
    }
    assert!(data.join("labels.csv").is_file());
    std::fs::write(root.join("outside.csv"), "secret\nbeside the dataset\n").expect("write");
    std::fs::write("/tmp/sieve-outside.csv", "secret\nanywhere on the machine\n").expect("write");
    for (mode, needle) in [
        ("labels-path", "\"./labels\" is not an identifier"),
        ("parent-path", "\"../outside\" is not an identifier"),
        ("abs-path", "\"/tmp/sieve-outside\" is not an identifier"),
        ("labels", "\"labels\" is reserved"),
    ] {
        let component = patched_raw(mode);
        let (code, v) = run_json(component.to_str().expect("utf-8"), &data, &[]);
        assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{mode}: {v}");
        assert!(detail(&v).contains(needle), "{mode}: {v}");
        assert_eq!(v["cells_read"], 0, "{mode}: nothing was read");
        let o = run(&["inspect", component.to_str().expect("utf-8")]);
        assert_eq!(o.status.code(), Some(10), "{mode}: inspect refuses it too");
    }
}

#[test]
fn blocking_wasi_calls_return_at_once() {
    let data = t1_data("parquet", 1);
    for (mode, subject) in [("sleep", "slept"), ("poll-forever", "woke")] {
        let args = [
            "run",
            &guest("guest-raw"),
            "--data",
            data.to_str().expect("utf-8"),
            "--json",
            "--deadline",
            "3",
            "--param",
            &format!("mode={mode}"),
        ];
        let (code, out, err) = within(Duration::from_secs(120), &args);
        assert_eq!(code, 0, "{mode}: {out}{err}");
        let v: Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(v["outcome"], "completed", "{mode}: {v}");
        assert_eq!(v["clues"], 1, "{mode}: the model went on after its wait");
        assert!(out.contains(subject) || v["clues"] == 1, "{mode}");
    }
}

#[test]
fn describe_has_a_small_budget_of_its_own() {
    let data = t1_data("parquet", 1);
    // A spinning describe() stops at its own 1e9 fuel, far below the run's budget.
    let spin = patched_raw("spin");
    let (code, v) = run_json(spin.to_str().expect("utf-8"), &data, &[]);
    assert_eq!((code, v["outcome"].as_str()), (11, Some("out-of-fuel")), "{v}");
    assert!(detail(&v).contains("describe()"), "{v}");
    let (code, _, err) = within(Duration::from_secs(60), &["inspect", spin.to_str().expect("utf-8")]);
    assert_eq!(code, 11, "inspect: {err}");
    // The run's deadline covers describe() too. It is one epoch tick (10 ms), well inside the
    // time the spin takes to burn describe()'s fuel (about 100 ms on a fast machine here, where
    // a 50 ms deadline let the fuel run out first).
    let (code, v) = run_json(spin.to_str().expect("utf-8"), &data, &["--deadline", "0.01"]);
    assert_eq!((code, v["outcome"].as_str()), (12, Some("deadline-exceeded")), "{v}");
    assert!(detail(&v).contains("describing"), "{v}");

    let memory = patched_raw("memory");
    let (code, v) = run_json(memory.to_str().expect("utf-8"), &data, &[]);
    assert_eq!((code, v["outcome"].as_str()), (13, Some("memory-limit")), "{v}");
    assert!(detail(&v).contains("while instantiating and describing"), "{v}");

    let huge = patched_raw("huge-summary");
    let (code, v) = run_json(huge.to_str().expect("utf-8"), &data, &[]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert!(detail(&v).contains("describe() is not sane"), "{v}");

    // A describe() that sleeps is fine: the sleep returns at once.
    let sleep = patched_raw("sleep");
    let (code, _, err) = within(Duration::from_secs(60), &["inspect", sleep.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn describe_and_run_share_one_budget() {
    let data = t1_data("parquet", 1);
    let burn = patched_raw("burn");
    let burn = burn.to_str().expect("utf-8");
    let (code, v) = run_json(burn, &data, &["--param", "mode=ok"]);
    assert_eq!(code, 0, "{v}");
    let describe_fuel = v["fuel"].as_u64().expect("fuel");
    assert!(describe_fuel > 100_000_000, "describe() burnt its fuel and the run counts it: {v}");
    // describe() and run() each burn about the same: 1.5x of one is enough for either alone,
    // not for both.
    let budget = (describe_fuel * 3 / 2).to_string();
    let (code, v) = run_json(burn, &data, &["--param", "mode=burn", "--fuel", &budget]);
    assert_eq!((code, v["outcome"].as_str()), (11, Some("out-of-fuel")), "{v}");
    let (code, v) = run_json(burn, &data, &["--param", "mode=burn"]);
    assert_eq!(code, 0, "{v}");
    assert!(v["fuel"].as_u64().expect("fuel") > 2 * describe_fuel - describe_fuel / 10, "{v}");
}

#[test]
fn host_memory_is_checked_before_the_host_copies() {
    // Peak RSS of the whole process: the baseline (engine, tables) is well under 200 MiB.
    const MIB: u64 = 1024;
    let (code, v, rss) = raw_with_peak_rss("duplicate-columns", &[]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert!(detail(&v).contains("each may be named once"), "{v}");
    assert!(rss < 300 * MIB, "one read naming a column 200,000 times: peak RSS {rss} KiB");

    let (code, v, rss) = raw_with_peak_rss("log-huge", &["--memory-mib", "1024"]);
    assert_eq!((code, v["outcome"].as_str()), (14, Some("output-limit")), "{v}");
    // The guest's own 512 MiB line is resident; the host must not hold a second copy.
    assert!(rss < (512 + 256) * MIB, "a 512 MiB log line: peak RSS {rss} KiB");
    assert!(v["host_memory_peak_bytes"].as_u64().expect("host peak") < 1 << 20, "{v}");

    let (code, v, rss) = raw_with_peak_rss("write-huge", &["--memory-mib", "1024"]);
    assert_eq!((code, v["outcome"].as_str()), (14, Some("output-limit")), "{v}");
    assert!(rss < (256 + 256) * MIB, "a 256 MiB write to stdout: peak RSS {rss} KiB");

    let (code, v, rss) = raw_with_peak_rss("evidence-flood", &["--memory-mib", "1024"]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert!(detail(&v).contains("10000000 evidence rows, over 256"), "{v}");
    assert!(rss < (400 + 256) * MIB, "ten million evidence rows: peak RSS {rss} KiB");
}

#[test]
fn every_record_counts_against_the_output_limits() {
    // Empty log lines: no message bytes, yet each counts its overhead.
    let (code, v) = raw("log-empty", &["--max-log-bytes", "100000"]);
    assert_eq!((code, v["outcome"].as_str()), (14, Some("output-limit")), "{v}");
    assert!(v["logs"].as_array().expect("logs").len() <= 100_000 / 64, "{v}");

    let (code, v) = raw("emit-huge-list", &["--max-clues", "1000"]);
    assert_eq!((code, v["outcome"].as_str()), (14, Some("output-limit")), "{v}");
    assert_eq!(v["clues"], 0, "refused before one clue was read");

    let (code, v) = raw("subject-huge", &["--memory-mib", "512"]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert!(detail(&v).len() < 300, "the refusal quotes a short prefix: {} bytes", detail(&v).len());
    assert!(detail(&v).contains("104857600 bytes"), "{v}");

    let (code, v) = raw("open-tables", &[]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert!(detail(&v).contains("256 tables open"), "{v}");

    let (code, v) = raw("poll-many", &[]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert!(detail(&v).contains("at most 4096"), "{v}");

    let (code, v) = raw("stdout-flood", &[]);
    assert_eq!((code, v["outcome"].as_str()), (14, Some("output-limit")), "{v}");
    // What was printed before the limit is in the report, and no more than the limit.
    let printed = v["stdout"].as_str().expect("stdout in the report");
    assert!(printed.starts_with("zzz") && printed.len() <= 64 << 10, "{} bytes", printed.len());

    let (code, v) = raw("random-huge", &[]);
    assert_eq!((code, v["outcome"].as_str()), (15, Some("trap")), "{v}");
    assert!(detail(&v).contains("exceeds limit 1048576"), "{v}");
}

#[test]
fn read_rows_and_dictionary_size_check_every_input_before_the_host_copies() {
    let out = fresh_dir("read-rows").join("clues.jsonl");
    let (code, v) = raw("rows-ok", &["--out", out.to_str().expect("utf-8")]);
    assert_eq!((code, v["clues"].as_u64()), (0, Some(3)), "{v}");
    let text = std::fs::read_to_string(&out).expect("clues written");
    let mut reasons: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("json line")["reason"]
                .as_str()
                .expect("reason")
                .to_string()
        })
        .collect();
    reasons.sort();
    // Rows 4, 0 and 4 again: each matches `read` at that row, and the plaintiff came as text.
    for (reason, row) in reasons.iter().zip([0, 4, 4]) {
        assert!(reason.starts_with(&format!("row {row} same true plaintiff ")), "{reasons:?}");
        assert!(!reason.contains("not decoded"), "{reasons:?}");
    }

    // The size of a dictionary, its text left where it is; a plain or undeclared column has none.
    let out = out.with_file_name("sizes.jsonl");
    let (code, v) = raw("dictionary-size", &["--out", out.to_str().expect("utf-8")]);
    assert_eq!((code, v["clues"].as_u64()), (0, Some(3)), "{v}");
    let text = std::fs::read_to_string(&out).expect("clues written");
    let reason = |subject: &str| {
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
            .find(|c| c["subject"] == subject)
            .map(|c| c["reason"].as_str().expect("reason").to_string())
            .unwrap_or_else(|| panic!("no clue {subject}: {text}"))
    };
    let sizes = reason("size");
    let (size, entries) = sizes.split_once(" of ").expect("two numbers");
    assert!(size == entries && size.parse::<u32>().expect("a size") > 0, "{sizes}");
    assert!(reason("case_no").contains("NotDictionary"), "{text}");
    assert!(reason("assessor_org").contains("UndeclaredColumn"), "{text}");

    let (code, v) = raw("rows-past-end", &[]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert!(detail(&v).contains("asked for row") && detail(&v).contains("of judgments, which has"), "{v}");
    assert_eq!(v["cells_read"], 0, "nothing was served for a call with a bad row: {v}");

    let (code, v) = raw("rows-flood", &[]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert!(detail(&v).contains("given 1048577 rows of judgments; at most 1048576 a call"), "{v}");
    assert!(
        v["host_memory_peak_bytes"].as_u64().expect("host peak") < 1 << 20,
        "refused before the copy: {v}"
    );

    let (code, v) = raw("rows-undeclared", &[]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert!(detail(&v).contains("assessor_org"), "{v}");

    let (code, v) = raw("rows-repeat", &["--max-host-mib", "8"]);
    assert_eq!((code, v["outcome"].as_str()), (13, Some("memory-limit")), "{v}");
    assert!(detail(&v).contains("a table.read-rows answer"), "{v}");
    assert_eq!(v["cells_read"], 0, "{v}");
}

#[test]
fn host_work_is_charged_in_fuel() {
    let (code, v) = raw("read-loop", &["--fuel", "200000000"]);
    assert_eq!((code, v["outcome"].as_str()), (11, Some("out-of-fuel")), "{v}");
    let fuel = v["fuel"].as_u64().expect("fuel");
    let host = v["host_fuel"].as_u64().expect("host fuel");
    assert!(host * 2 > fuel, "the host's copies are most of a read loop's cost: {host} of {fuel}");
    let (_, v) = raw("ok", &[]);
    assert!(v["host_fuel"].as_u64().expect("host fuel") > 0, "{v}");
}

#[test]
fn a_component_built_against_the_frozen_0_1_0_contract_still_runs() {
    let o = run(&["inspect", &guest("guest-raw"), "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["api_version"], "0.1.0", "{v}");
    let (code, v) = raw("ok", &[]);
    assert_eq!((code, v["clues"].as_u64()), (0, Some(1)), "{v}");
}

#[test]
fn relaxed_simd_gives_the_same_answer_on_every_host() {
    let (code, v) = raw("relaxed-nan", &[]);
    assert_eq!(code, 0, "{v}");
    // The specification's deterministic answer; x86's native one would be 0x80000000.
    assert_eq!(v["logs"][0]["message"], "relaxed-trunc(NaN) = 0x0", "{v}");
}

#[test]
fn guest_text_cannot_drive_the_terminal() {
    let (code, v) = raw("subject-escape", &[]);
    assert_eq!((code, v["outcome"].as_str()), (10, Some("model-error")), "{v}");
    assert!(detail(&v).contains("control characters") && !detail(&v).contains('\u{1b}'), "{v}");

    let data = t1_data("parquet", 1);
    let o = run(&[
        "run",
        &guest("guest-raw"),
        "--data",
        data.to_str().expect("utf-8"),
        "--param",
        "mode=text-escape",
    ]);
    assert_eq!(o.status.code(), Some(15), "{}{}", stdout(&o), stderr(&o));
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!all.contains('\u{1b}') && !all.contains('\u{7}'), "raw escapes reached the terminal: {all:?}");
    assert!(all.contains("\\u{1b}[2Jpanic text"), "the panic is shown escaped: {all}");
    assert!(all.contains("\\u{1b}[31mred log"), "the log line is shown escaped: {all}");
}

#[test]
fn limit_flags_have_ranges() {
    let data = t1_data("parquet", 1);
    let data = data.to_str().expect("utf-8");
    for (flag, value, needle) in [
        ("--deadline", "1e300", "--deadline must be between 0.01 and 86400 seconds, got 1e300"),
        ("--deadline", "0", "--deadline must be between"),
        ("--deadline", "NaN", "--deadline must be between"),
        ("--fuel", "5", "--fuel must be between"),
        ("--fuel", "1e20", "--fuel must be between"),
        ("--memory-mib", "5000", "--memory-mib must be between 1 and 4096"),
        ("--memory-mib", "0.5", "--memory-mib must be between"),
        ("--max-clues", "=-1", "--max-clues must be between"),
        ("--max-host-mib", "0", "--max-host-mib must be between"),
    ] {
        let arg =
            if let Some(v) = value.strip_prefix('=') { format!("{flag}={v}") } else { flag.to_string() };
        let mut args = vec!["run", "vehicle-insurance-fraud", "--data", data, &arg];
        if !value.starts_with('=') {
            args.push(value);
        }
        let o = run(&args);
        assert_eq!(o.status.code(), Some(1), "{flag} {value}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{flag} {value}: {}", stderr(&o));
    }
    // Scientific notation is accepted where it is a whole number in range.
    let o = run(&["run", "vehicle-insurance-fraud", "--data", data, "--fuel", "2.5e10", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// Nothing under the registry's home holds a labels file: vetting canaries are generated without.
pub fn assert_no_labels_in_canaries(home: &Path) {
    for entry in std::fs::read_dir(home).expect("home") {
        let path = entry.expect("entry").path();
        assert!(!path.ends_with("labels.csv"), "{} is a labels file under the home", path.display());
        if path.is_dir() {
            assert_no_labels_in_canaries(&path);
        }
    }
}

/// A component whose core module holds `functions` functions, each nesting `depth` ifs: cheap to
/// write, quadratic for Cranelift to compile. It exports the model interface by name (an empty
/// instance), so every check before compiling passes.
fn nested_ifs(dir: &Path, functions: usize, depth: usize) -> PathBuf {
    let func = format!(
        "(func (param i32) (result i32) {} i32.const 1 {} )",
        "local.get 0 if (result i32) ".repeat(depth),
        "else i32.const 0 end ".repeat(depth)
    );
    let wat = format!(
        "(component (core module {}) (instance $model) (export \"sieve:model/model@0.1.0\" (instance $model)))",
        func.repeat(functions)
    );
    let path = dir.join(format!("nested-{functions}x{depth}.wasm"));
    std::fs::write(&path, wat::parse_str(&wat).expect("wat")).expect("write");
    path
}

#[test]
fn compilation_is_bounded() {
    let dir = fresh_dir("compile-bounds");
    let data = t1_data("parquet", 1);
    let data = data.to_str().expect("utf-8");

    // Too deep to compile in reasonable time: refused by the scan, before any compiling.
    let deep = nested_ifs(&dir, 1, 3000);
    let (code, v) = run_json(deep.to_str().expect("utf-8"), Path::new(data), &[]);
    assert_eq!((code, v["outcome"].as_str()), (17, Some("invalid-component")), "{v}");
    assert!(detail(&v).contains("the nesting limit"), "{v}");

    // Within every shape limit, but slow in sum: the worker is stopped at the compile timeout.
    let slow = nested_ifs(&dir, 200, 1900);
    let home = fresh_dir("compile-bounds-home");
    let mut child = sieve();
    child.env("SIEVE_HOME", &home).env("SIEVE_COMPILE_TIMEOUT", "1");
    let started = Instant::now();
    let o =
        child.args(["run", slow.to_str().expect("utf-8"), "--data", data, "--json"]).output().expect("run");
    assert!(started.elapsed() < Duration::from_secs(60), "the timeout did not stop the compiler");
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!((o.status.code(), v["outcome"].as_str()), (Some(17), Some("invalid-component")), "{v}");
    assert!(detail(&v).contains("longer than 1 s (the compile time limit)"), "{v}");

    // The worker's memory is capped: too small a cap fails the compile and names the limit.
    let mut child = sieve();
    child.env("SIEVE_HOME", &home).env("SIEVE_COMPILE_MEMORY_MIB", "64");
    let o = child.args(["run", "vehicle-insurance-fraud", "--data", data, "--json"]).output().expect("run");
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["outcome"], "invalid-component", "{v}");
    assert!(detail(&v).contains("at most 64 MiB (the compile memory limit)"), "{v}");
    // An operator's setting out of range is an error, not a silent default.
    let mut child = sieve();
    child.env("SIEVE_HOME", &home).env("SIEVE_COMPILE_TIMEOUT", "0");
    let o = child.args(["run", "vehicle-insurance-fraud", "--data", data]).output().expect("run");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("SIEVE_COMPILE_TIMEOUT"), "{}", stderr(&o));
}
