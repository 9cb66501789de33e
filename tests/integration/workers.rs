//! `sieve worker` and run leases, through the real binary on both databases: a run whose worker
//! died (its lease expired) is taken again by another worker and ends once; a run whose leases
//! keep expiring ends `host-crash`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::registry::{Reg, approve_as_second_admin, dataset_for_all, publish};

crate::on_both_databases!(a_run_whose_worker_died_is_run_again_by_another);

/// A completed stored run of the bundled T4 model, made to look as if a worker that has since
/// died had taken it: `running`, no clues, a lease that expired, `attempts` starts. Its id.
fn run_left_by_a_dead_worker(reg: &Reg, admin: &str, attempts: i64) -> String {
    let model = reg.fresh_dir("model").join("model.wasm");
    reg.ok(
        admin,
        &["bundled", "export", "judicial-auction-violations", "--out", model.to_str().expect("utf-8")],
    );
    let digest = publish(reg, admin, model.to_str().expect("utf-8"));
    approve_as_second_admin(reg, admin, &digest);
    let report = reg.json(admin, &["run", &digest, "--dataset", "auctions"]);
    assert_eq!(report["outcome"], "completed", "{report}");
    let id = reg.json(admin, &["runs", "list"])[0]["id"].as_i64().expect("run id").to_string();
    reg.sql(&format!("DELETE FROM clues WHERE run_id = {id}"));
    reg.sql(&format!(
        "UPDATE runs SET state = 'running', outcome = NULL, output_digest = NULL, clue_count = 0, finished_at = NULL, \
         lease_owner = 'a-dead-host:1:0', lease_until_ms = 1, attempts = {attempts} WHERE id = {id}"
    ));
    id
}

/// Wait until run `id` is no longer `running` or `queued`; its record.
fn ended(reg: &Reg, admin: &str, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let run = reg.json(admin, &["runs", "show", id]);
        if run["state"] != "running" && run["state"] != "queued" {
            return run;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "run {id} never ended: {run}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn a_run_whose_worker_died_is_run_again_by_another(reg: &Reg) {
    let admin = reg.init();
    dataset_for_all(reg, &admin, "auctions", "judicial-auction-violations");
    let id = run_left_by_a_dead_worker(reg, &admin, 1);
    let finishes = |reg: &Reg| {
        let log = reg.json(&admin, &["audit", "log", "--target", &id]);
        log.as_array().expect("events").iter().filter(|e| e["action"] == "run.finish").count()
    };
    let before = finishes(reg);

    let mut worker = reg.spawn(&["worker", "--concurrency", "1"]);
    let run = ended(reg, &admin, &id);
    assert_eq!(run["state"], "completed", "{run}");
    assert!(run["clues"].as_i64().is_some_and(|n| n > 0), "{run}");
    assert_eq!(finishes(reg), before + 1, "the run ended once more, and once");

    // A run whose leases expired as often as a run may start ends host-crash instead.
    reg.sql(&format!(
        "UPDATE runs SET state = 'running', lease_owner = 'a-dead-host:1:0', lease_until_ms = 1, attempts = 3 WHERE id = {id}"
    ));
    let run = ended(reg, &admin, &id);
    assert_eq!(
        (run["state"].as_str(), run["outcome"].as_str()),
        (Some("failed"), Some("host-crash")),
        "{run}"
    );
    let _ = worker.kill();
    let _ = worker.wait();
    reg.audit_intact(&admin);
}
