//! `sieve worker` and leases, through the real binary on both databases: a run or competition
//! submission whose worker died (its lease expired) is taken again by another worker and ends
//! once; one whose leases keep expiring ends `host-crash`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::registry::{Reg, approve_as_second_admin, dataset_for_all, publish};

crate::on_both_databases!(
    a_run_whose_worker_died_is_run_again_by_another,
    a_submission_whose_worker_died_is_scored_by_another
);

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
    reg.sql(&format!("DELETE FROM clue_sets WHERE run_id = {id}"));
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

/// How many audit events of `action` name `target`.
fn events(reg: &Reg, admin: &str, target: &str, action: &str) -> usize {
    let log = reg.json(admin, &["audit", "log", "--target", target]);
    log.as_array().expect("events").iter().filter(|e| e["action"] == action).count()
}

fn a_submission_whose_worker_died_is_scored_by_another(reg: &Reg) {
    let s = crate::competitions::setup(reg);
    reg.ok(&s.organizer, &["benchmark", "create", "lend-bench", "--dataset", "lend-eval"]);
    reg.ok(&s.organizer, &["competition", "create", "lend-cup", "--benchmark", "lend-bench"]);
    reg.ok(&s.organizer, &["competition", "open", "lend-cup"]);
    let queued = reg.json(&s.alice, &["competition", "submit", "lend-cup", &s.bundled, "--no-wait"]);
    let id = queued["id"].as_i64().expect("submission id");
    // Taken by a worker on another host that died with it: running, its lease run out.
    let left_by_a_dead_worker = |attempts: i64| {
        reg.sql(&format!(
            "UPDATE submissions SET state = 'running', host = 'a-dead-host', pid = 1, lease_owner = 'a-dead-host:1:0', \
             lease_until_ms = 1, attempts = {attempts} WHERE id = {id}"
        ))
    };
    left_by_a_dead_worker(1);
    let ended = || {
        let started = Instant::now();
        loop {
            let list = reg.json(&s.organizer, &["competition", "submissions", "lend-cup"]);
            let sub = list.as_array().expect("list").iter().find(|x| x["id"] == id).expect("listed").clone();
            if sub["state"] != "running" && sub["state"] != "queued" {
                return sub;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "submission {id} never ended: {sub}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };

    let mut worker = reg.spawn(&["worker", "--concurrency", "1"]);
    let sub = ended();
    assert_eq!(sub["state"], "scored", "{sub}");
    assert_eq!(events(reg, &s.admin, "lend-cup", "submission.requeue"), 1);
    assert_eq!(events(reg, &s.admin, "lend-cup", "submission.score"), 1, "scored once");

    // With its attempts used up it ends host-crash, which no participant is charged for.
    left_by_a_dead_worker(3);
    let sub = ended();
    assert_eq!(
        (sub["state"].as_str(), sub["outcome"].as_str()),
        (Some("failed"), Some("host-crash")),
        "{sub}"
    );
    assert_eq!(events(reg, &s.admin, "lend-cup", "submission.fail"), 1);
    let _ = worker.kill();
    let _ = worker.wait();
    reg.audit_intact(&s.admin);
}
