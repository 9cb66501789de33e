//! The CLI end to end: gen, run, score, inspect, bundled, demo, cache integrity.

use crate::common::{fresh_dir, run, run_json, stderr, stdout, t1_data};

#[test]
fn generator_is_deterministic_by_seed() {
    let a = fresh_dir("det-a");
    let b = fresh_dir("det-b");
    let c = fresh_dir("det-c");
    for (dir, seed) in [(&a, "5"), (&b, "5"), (&c, "6")] {
        let o =
            run(&["gen", "vehicle-insurance-fraud", "--seed", seed, "--out", dir.to_str().expect("path")]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    for file in
        ["judgments.parquet", "vehicles.parquet", "employment.parquet", "businesses.parquet", "labels.csv"]
    {
        let (x, y, z) =
            (std::fs::read(a.join(file)), std::fs::read(b.join(file)), std::fs::read(c.join(file)));
        assert_eq!(x.as_ref().expect("a"), y.as_ref().expect("b"), "{file} differs for the same seed");
        assert_ne!(x.expect("a"), z.expect("c"), "{file} is the same for another seed");
    }
}

#[test]
fn every_bundled_model_meets_the_quality_bar_on_fresh_seeds() {
    let tasks = [
        "vehicle-insurance-fraud",
        "private-lending-fraud",
        "false-mediation-confirmation",
        "judicial-auction-violations",
        "restricted-debtor-travel",
        "vehicle-enforcement",
        "copyright-harvesting",
    ];
    for task in tasks {
        for seed in [11, 12] {
            let data = fresh_dir(&format!("quality-{task}-{seed}"));
            let o = run(&["gen", task, "--seed", &seed.to_string(), "--out", data.to_str().expect("path")]);
            assert!(o.status.success(), "{}", stderr(&o));
            let clues = data.join("clues.jsonl");
            let o = run(&[
                "run",
                task,
                "--data",
                data.to_str().expect("path"),
                "--out",
                clues.to_str().expect("path"),
            ]);
            assert!(o.status.success(), "{task}: {}{}", stdout(&o), stderr(&o));
            let labels = data.join("labels.csv");
            let o = run(&[
                "score",
                "--labels",
                labels.to_str().expect("p"),
                "--clues",
                clues.to_str().expect("p"),
                "--json",
            ]);
            let s: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
            for key in
                ["precision", "recall", "f1", "f0_5", "precision_at_k", "average_precision", "per_pattern"]
            {
                assert!(!s[key].is_null(), "missing {key}: {s}");
            }
            let (p, r) = (s["precision"].as_f64().expect("p"), s["recall"].as_f64().expect("r"));
            assert!(p >= 0.9 && r >= 0.8, "{task} seed {seed}: precision {p}, recall {r}");
            let labelled = s["labelled"].as_u64().expect("labelled");
            assert!(labelled > 10, "{task} seed {seed}: only {labelled} planted subjects");
        }
    }
}

#[test]
fn gen_lists_all_seven_tasks_and_refuses_unknown_ones() {
    let o = run(&["gen", "--list"]);
    let out = stdout(&o);
    for task in [
        "vehicle-insurance-fraud",
        "private-lending-fraud",
        "false-mediation-confirmation",
        "judicial-auction-violations",
        "restricted-debtor-travel",
        "vehicle-enforcement",
        "copyright-harvesting",
    ] {
        assert!(out.contains(task), "{out}");
    }
    let o = run(&["gen", "no-such-task", "--out", fresh_dir("unknown-task").to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unknown task \"no-such-task\""), "{}", stderr(&o));
}

#[test]
fn run_json_reports_the_contract_and_is_reproducible() {
    let data = t1_data("csv", 2);
    let (code, v) = run_json("vehicle-insurance-fraud", &data, &[]);
    assert_eq!(code, 0, "{v}");
    for key in ["outcome", "plugin_digest", "clues", "fuel", "peak_memory_bytes", "wall_ms", "output_digest"]
    {
        assert!(!v[key].is_null(), "missing {key}: {v}");
    }
    assert!(v["clues"].as_u64().expect("clues") > 50);
    // Same data from Parquet: same clues, same output digest.
    let (_, parquet) = run_json("vehicle-insurance-fraud", &t1_data("parquet", 2), &[]);
    assert_eq!(v["output_digest"], parquet["output_digest"]);
    // Pinning the right digest runs; parameters change the result.
    let digest = v["plugin_digest"].as_str().expect("digest").to_string();
    let (code, pinned) = run_json(
        "vehicle-insurance-fraud",
        &data,
        &["--expect-digest", &digest, "--param", "min-pair-share=0.9"],
    );
    assert_eq!(code, 0);
    assert!(pinned["clues"].as_u64() < v["clues"].as_u64());
    let (code, bad) = run_json("vehicle-insurance-fraud", &data, &["--param", "min-pair-shar=1"]);
    assert_eq!((code, bad["outcome"].as_str()), (19, Some("bad-input")));
    assert!(bad["detail"].as_str().expect("detail").contains("min-pair-shar"), "{bad}");
}

#[test]
fn inspect_and_bundled_agree_on_the_digest() {
    let o = run(&["bundled", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let entry =
        list.as_array().expect("array").iter().find(|e| e["name"] == "vehicle-insurance-fraud").expect("T1");
    let out = fresh_dir("export").join("t1.wasm");
    let o = run(&["bundled", "export", "vehicle-insurance-fraud", "--out", out.to_str().expect("path")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["inspect", out.to_str().expect("path"), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["digest"], entry["digest"]);
    assert_eq!(v["api_version"], "0.1.3");
    assert_eq!(v["model"]["task"], "vehicle-insurance-fraud");
    let imports: Vec<&str> =
        v["imports"].as_array().expect("imports").iter().filter_map(|i| i.as_str()).collect();
    assert!(imports.iter().any(|i| i.starts_with("sieve:model/host@")));
    assert!(!imports.iter().any(|i| i.starts_with("wasi:sockets") || i.starts_with("wasi:http")));
    let inputs = v["model"]["inputs"].as_array().expect("inputs");
    assert!(inputs.iter().any(|t| t["table"] == "employment"));
    let o = run(&["inspect", "no-such-model"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no-such-model"));
}

#[test]
fn corrupted_cache_entry_is_discarded_and_rebuilt() {
    let home = fresh_dir("cache-home");
    let data = t1_data("parquet", 1);
    let run_in = |home: &std::path::Path| {
        let o = crate::common::sieve()
            .env("SIEVE_HOME", home)
            .args(["run", "vehicle-insurance-fraud", "--data", data.to_str().expect("p"), "--json"])
            .output()
            .expect("run");
        serde_json::from_slice::<serde_json::Value>(&o.stdout).expect("json")
    };
    assert_eq!(run_in(&home)["compiled_code"], "compiled");
    assert_eq!(run_in(&home)["compiled_code"], "hit");
    let cache = home.join("cache/compiled");
    let artifact = std::fs::read_dir(&cache)
        .expect("cache dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .expect("an artifact");
    let mut bytes = std::fs::read(&artifact).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&artifact, bytes).expect("corrupt");
    let v = run_in(&home);
    assert_eq!(v["compiled_code"], "rebuilt");
    assert_eq!(v["outcome"], "completed");
    assert_eq!(run_in(&home)["compiled_code"], "hit");
}

#[test]
fn score_reads_hand_made_files() {
    let dir = fresh_dir("score");
    std::fs::write(dir.join("labels.csv"), "subject,pattern\na,x\nb,x\nc,y\n").expect("labels");
    std::fs::write(
        dir.join("clues.jsonl"),
        "{\"subject\":\"a\",\"score\":0.9,\"rule\":\"r\",\"reason\":\"\",\"evidence\":[]}\n{\"subject\":\"z\",\"score\":0.8}\n",
    )
    .expect("clues");
    let o = run(&[
        "score",
        "--labels",
        dir.join("labels.csv").to_str().expect("p"),
        "--clues",
        dir.join("clues.jsonl").to_str().expect("p"),
        "--json",
    ]);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(s["precision"], 0.5);
    assert!((s["recall"].as_f64().expect("recall") - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(s["per_pattern"]["y"], 0.0);
    std::fs::write(dir.join("bad.jsonl"), "{\"subject\":\"a\"}\n").expect("bad");
    let o = run(&[
        "score",
        "--labels",
        dir.join("labels.csv").to_str().expect("p"),
        "--clues",
        dir.join("bad.jsonl").to_str().expect("p"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("line 1"), "{}", stderr(&o));
}

#[test]
fn demo_runs_the_whole_loop() {
    let o = crate::common::sieve().args(["demo"]).output().expect("demo");
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("precision") && out.contains("F0.5"), "{out}");
    for task in [
        "vehicle-insurance-fraud",
        "private-lending-fraud",
        "false-mediation-confirmation",
        "judicial-auction-violations",
        "restricted-debtor-travel",
        "vehicle-enforcement",
        "copyright-harvesting",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(task) && l.split_whitespace().count() == 8),
            "no table row for {task}: {out}"
        );
    }
}

#[test]
fn a_failed_run_writes_no_clue_file() {
    let out = fresh_dir("failed-out").join("clues.jsonl");
    let data = t1_data("parquet", 1);
    let o = run(&[
        "run",
        &crate::common::guest("guest-hostile"),
        "--data",
        data.to_str().expect("path"),
        "--param",
        "mode=emit-flood",
        "--max-clues",
        "10",
        "--out",
        out.to_str().expect("path"),
    ]);
    assert_eq!(o.status.code(), Some(14), "{}", stdout(&o));
    assert!(stdout(&o).contains("output-limit"), "{}", stdout(&o));
    assert!(!out.exists(), "partial clues were written");
    let o = run(&["run", "vehicle-insurance-fraud", "--data", "/no/such/dir"]);
    assert_eq!(o.status.code(), Some(19));
    assert!(stdout(&o).contains("no such dataset directory"), "{}", stdout(&o));
}

/// `sieve … | head` closes the pipe early: `sieve` ends with 141 like `cat`, not a panic.
#[test]
fn a_closed_stdout_ends_quietly() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let o = crate::common::sieve()
        .args(["bundled", "list"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("start sieve");
    assert_eq!(o.status.code(), Some(141), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}
