//! Several hosts on one PostgreSQL database and one S3 bucket, each process with a home of its
//! own (as on separate machines): two `sieve serve --workers 0` front ends take 30 runs, three
//! `sieve worker`s run them; one worker is killed (SIGKILL) mid-run and another stopped with
//! SIGTERM. Every run ends exactly once, no clue is stored twice, the audit chain written by five
//! processes verifies, and a plugin revoked on one host never starts on any. Runs when both
//! `SIEVE_TEST_POSTGRES` and `SIEVE_TEST_S3` name servers (CI starts both).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::{http, server_url, sigterm};
use crate::registry::{Reg, approve_as_second_admin, dataset_for_all, publish};

/// A process of the deployment, with the home it was given (its keys and code cache).
struct Host {
    child: Child,
    home: PathBuf,
}

/// A home for another host: its own directory, holding only the registry's audit key (what an
/// operator copies to each host it adds).
impl Drop for Host {
    /// A failed assertion must not leave the deployment running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn host_home(reg: &Reg, name: &str) -> PathBuf {
    let home = reg.fresh_dir(name);
    std::fs::create_dir_all(home.join("keys")).expect("keys dir");
    std::fs::copy(reg.home().join("keys/audit.key"), home.join("keys/audit.key"))
        .expect("copy the audit key");
    home
}

fn start(reg: &Reg, name: &str, args: &[&str]) -> Host {
    let home = host_home(reg, name);
    let home_text = home.to_str().expect("utf-8").to_string();
    let child = reg.clone().with_env(&[("SIEVE_HOME", &home_text)]).spawn(args);
    Host { child, home }
}

/// Keep reading a child's log so it never blocks on a full pipe.
fn drain(child: &mut Child) {
    if let Some(mut err) = child.stderr.take() {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut err, &mut std::io::sink());
        });
    }
}

/// Run `id`'s record, through front end `url`.
fn run_state(url: &str, token: &str, id: i64) -> Value {
    let (status, body) = http(url, "GET", &format!("/api/runs/{id}"), token, None);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).expect("json")["run"].clone()
}

/// The pid in run `id`'s lease, while a worker holds it.
fn lease_pid(reg: &Reg, id: i64) -> Option<u32> {
    let owner =
        reg.sql_column(&format!("SELECT lease_owner FROM runs WHERE id = {id} AND state = 'running'"));
    owner.into_iter().flatten().next().and_then(|o| o.split(':').nth(1).and_then(|p| p.parse().ok()))
}

/// Wait until one of `ids` runs under a lease held by one of `workers`; that worker's index.
fn running_on(reg: &Reg, ids: &[i64], workers: &[Host], alive: &[bool]) -> (usize, i64) {
    let started = Instant::now();
    loop {
        for id in ids {
            if let Some(pid) = lease_pid(reg, *id)
                && let Some(w) = workers.iter().position(|h| h.child.id() == pid)
                && alive[w]
            {
                return (w, *id);
            }
        }
        assert!(started.elapsed() < Duration::from_secs(60), "none of {ids:?} started on a live worker");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn count(reg: &Reg, query: &str) -> i64 {
    reg.sql_column(query)[0].as_deref().expect("a count").parse().expect("a number")
}

fn no_blobs_under(home: &Path) {
    assert!(!home.join("blobs").exists(), "{} holds blobs: they belong in the bucket", home.display());
}

#[test]
fn two_front_ends_and_three_workers_end_every_run_once() {
    let Ok(endpoint) = std::env::var("SIEVE_TEST_S3") else {
        eprintln!("SIEVE_TEST_S3 is not set: the multi-host scenario does not run here (CI starts it)");
        return;
    };
    let Some(reg) = Reg::postgres("multi_host") else { return };
    let blobs = format!("s3://sieve-test/multi-host-{}", std::process::id());
    let mut env = vec![
        ("SIEVE_BLOBS", blobs.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("SIEVE_LEASE_SECONDS", "3"),
    ];
    env.extend(crate::blob_store::KEYS);
    let reg = reg.with_env(&env);

    let admin = reg.init();
    let bob = reg.user(&admin, "bob", "province", &["author"]);
    dataset_for_all(&reg, &admin, "auctions", "judicial-auction-violations");
    dataset_for_all(&reg, &admin, "t1", "vehicle-insurance-fraud");
    let model = reg.fresh_dir("model").join("t4.wasm");
    let model = model.to_str().expect("utf-8");
    reg.ok(&admin, &["bundled", "export", "judicial-auction-violations", "--out", model]);
    let quick = publish(&reg, &bob, model);
    approve_as_second_admin(&reg, &admin, &quick);
    let spinner = crate::attacks::patched_raw("sleep");
    let slow = publish(&reg, &bob, spinner.to_str().expect("utf-8"));
    let approver = reg.user(&admin, "approver2", "province", &["admin"]);
    reg.ok(&approver, &["plugin", "approve", &slow, "--note", "spins until its deadline"]);
    reg.ok(&admin, &["policy", "set", "--fuel", "1e13"]);
    // The reference result of the quick model, run once here.
    let reference = reg.json(&bob, &["run", &quick, "--dataset", "auctions"]);
    assert_eq!(reference["outcome"], "completed", "{reference}");
    let reference_id = reg.json(&bob, &["runs", "list"])[0]["id"].as_i64().expect("run id");

    let mut front_ends: Vec<(Host, String)> = (0..2)
        .map(|i| {
            let mut h =
                start(&reg, &format!("front-{i}"), &["serve", "--addr", "127.0.0.1:0", "--workers", "0"]);
            let url = server_url(&mut h.child);
            (h, url)
        })
        .collect();
    let mut workers: Vec<Host> = (0..3)
        .map(|i| {
            let mut h =
                start(&reg, &format!("worker-{i}"), &["worker", "--concurrency", "1", "--grace", "30"]);
            drain(&mut h.child);
            h
        })
        .collect();
    let mut alive = [true; 3];

    // 30 runs through both front ends: every fifth spins until its 3 s deadline.
    let mut ids = Vec::new();
    let mut spinning = Vec::new();
    for i in 0..30 {
        let url = &front_ends[i % 2].1;
        let body = if i % 5 == 0 {
            json!({"plugin": slow, "dataset": "t1", "params": {"mode": "spin"}, "limits": {"deadline": 3, "fuel": 1e13}})
        } else {
            json!({"plugin": quick, "dataset": "auctions", "fresh": true})
        };
        let (status, answer) = http(url, "POST", "/api/runs", &bob, Some(body));
        assert_eq!(status, 202, "{answer}");
        let id = serde_json::from_str::<Value>(&answer).expect("json")["id"].as_i64().expect("id");
        if i % 5 == 0 {
            spinning.push(id);
        }
        ids.push(id);
    }

    // One worker killed mid-run: its run goes back to the queue when its lease runs out.
    let (killed, killed_run) = running_on(&reg, &spinning, &workers, &alive);
    workers[killed].child.kill().expect("kill -9");
    let _ = workers[killed].child.wait();
    alive[killed] = false;
    // Another stopped with SIGTERM mid-run: it finishes that run and exits cleanly.
    let (stopped, stopped_run) = running_on(&reg, &ids, &workers, &alive);
    sigterm(&workers[stopped].child);
    let status = workers[stopped].child.wait().expect("wait");
    assert!(status.success(), "a worker stopped with SIGTERM exits cleanly: {status}");
    alive[stopped] = false;
    let after_sigterm = run_state(&front_ends[0].1, &bob, stopped_run);
    assert!(
        after_sigterm["state"] == "completed" || after_sigterm["state"] == "failed",
        "the SIGTERMed worker finished its run before exiting: {after_sigterm}"
    );

    // Every run ends, read through either front end.
    let started = Instant::now();
    let mut ended: HashMap<i64, Value> = HashMap::new();
    while ended.len() < ids.len() {
        for (n, id) in ids.iter().enumerate() {
            if ended.contains_key(id) {
                continue;
            }
            let run = run_state(&front_ends[n % 2].1, &bob, *id);
            if run["state"] != "queued" && run["state"] != "running" {
                ended.insert(*id, run);
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "runs still going: {} of 30 ended",
            ended.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for (id, run) in &ended {
        if spinning.contains(id) {
            assert_eq!(run["outcome"], "deadline-exceeded", "run {id}: {run}");
        } else {
            assert_eq!(run["state"], "completed", "run {id}: {run}");
            assert_eq!(
                run["output_digest"], reference["output_digest"],
                "run {id}: the same clues on every host"
            );
        }
    }
    let finishes = |id: i64| {
        count(
            &reg,
            &format!(
                "SELECT CAST(COUNT(*) AS TEXT) FROM audit_events WHERE action = 'run.finish' AND target = '{id}'"
            ),
        )
    };
    for id in &ids {
        assert_eq!(finishes(*id), 1, "run {id} has exactly one result");
    }
    let requeued = count(
        &reg,
        &format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM audit_events WHERE action = 'run.requeue' AND target = '{killed_run}'"
        ),
    );
    assert_eq!(requeued, 1, "the killed worker's run went back to the queue once");
    // A run's clues wait in its clue set until first read: read every completed run's (which
    // indexes them into rows), then count the rows.
    for id in ids.iter().filter(|id| !spinning.contains(id)).chain([&reference_id]) {
        reg.ok(&bob, &["runs", "export", &id.to_string()]);
    }
    assert_eq!(count(&reg, "SELECT CAST(COUNT(*) AS TEXT) FROM clue_sets"), 0, "every set read is indexed");
    let stored = count(&reg, "SELECT CAST(COUNT(*) AS TEXT) FROM clues");
    let counted = count(&reg, "SELECT CAST(COALESCE(SUM(clue_count), 0) AS TEXT) FROM runs");
    assert_eq!(stored, counted, "no clue stored twice, none lost");
    let per_run = reference["clues"].as_i64().expect("clue count");
    assert_eq!(
        stored,
        per_run * 25,
        "each of the 24 queued quick runs and the reference run stored its clues once"
    );

    // A revocation committed on one host stops queued runs on every host: queue with no worker
    // left, revoke, then start workers on two more hosts.
    let survivor = alive.iter().position(|a| *a).expect("one worker left");
    sigterm(&workers[survivor].child);
    assert!(workers[survivor].child.wait().expect("wait").success());
    let mut late = Vec::new();
    for i in 0..4 {
        let (status, answer) = http(
            &front_ends[i % 2].1,
            "POST",
            "/api/runs",
            &bob,
            Some(json!({"plugin": quick, "dataset": "auctions"})),
        );
        assert_eq!(status, 202, "{answer}");
        late.push(serde_json::from_str::<Value>(&answer).expect("json")["id"].as_i64().expect("id"));
    }
    reg.ok(&approver, &["plugin", "revoke", &quick, "--note", "withdrawn by its author's office"]);
    for i in 3..5 {
        let mut h = start(&reg, &format!("worker-{i}"), &["worker", "--concurrency", "2"]);
        drain(&mut h.child);
        workers.push(h);
    }
    for (n, id) in late.iter().enumerate() {
        let started = Instant::now();
        let run = loop {
            let run = run_state(&front_ends[n % 2].1, &bob, *id);
            if run["state"] != "queued" && run["state"] != "running" {
                break run;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "run {id} never ended: {run}");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(run["state"], "failed", "a revoked plugin does not run: {run}");
        assert!(run["detail"].as_str().is_some_and(|d| d.contains("revoked")), "{run}");
        assert_eq!(run["fuel"].as_f64().unwrap_or(0.0), 0.0, "it never started: {run}");
    }

    for h in workers.iter_mut().skip(3) {
        sigterm(&h.child);
        assert!(h.child.wait().expect("wait").success());
    }
    for (h, _) in &mut front_ends {
        sigterm(&h.child);
        assert!(h.child.wait().expect("wait").success());
    }
    // Five processes on five homes appended to one chain, each signing with the registry's key.
    let verified = reg.audit_intact(&admin);
    assert!(verified["checkpoints"].as_u64().is_some_and(|n| n > 1), "{verified}");
    for h in front_ends.iter().map(|(h, _)| h).chain(workers.iter()) {
        no_blobs_under(&h.home);
    }
}

/// A host whose home holds an audit key of its own (a fresh home) refuses to start, naming the
/// key to copy: its checkpoints would not verify against the registry's.
#[test]
fn a_host_without_the_registry_audit_key_refuses_to_start() {
    let Some(reg) = Reg::postgres("foreign_key_host") else { return };
    let admin = reg.init();
    reg.ok(&admin, &["audit", "verify"]);
    let fresh = reg.fresh_dir("fresh-host");
    let fresh = fresh.to_str().expect("utf-8");
    let o = reg.clone().with_env(&[("SIEVE_HOME", fresh)]).cmd(None, &["worker", "--concurrency", "1"]);
    assert!(!o.status.success());
    let err = crate::common::stderr(&o);
    assert!(err.contains("keys/audit.key") && err.contains("copy"), "{err}");
}
