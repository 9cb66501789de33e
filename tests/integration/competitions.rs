//! Competitions end to end on both databases: a benchmark with hidden labels, the bundled T2 model
//! against a weak and an over-broad entry, who sees what, quotas across a UTC midnight (with an
//! injected clock), rescoring, and finalization.

use serde_json::Value;

use crate::common::{guest, stderr, stdout};
use crate::registry::{Reg, data, import_args, publish};

crate::on_both_databases!(competition_end_to_end, quotas_reset_at_utc_midnight);

/// Everything a competition needs: orgs, an organizer, an approver, participants in two
/// cities, an approved labelled T2 dataset, and the three entries approved.
pub(crate) struct Setup {
    pub(crate) admin: String,
    pub(crate) organizer: String,
    pub(crate) alice: String,
    bob: String,
    other_admin: String,
    pub(crate) bundled: String,
    weak: String,
    broad: String,
}

pub(crate) fn setup(reg: &Reg) -> Setup {
    let admin = reg.init();
    crate::registry::two_cities(reg, &admin);
    let organizer = reg.user(&admin, "olga", "province", &["organizer"]);
    let approver = reg.user(&admin, "approver", "province", &["admin"]);
    let alice = reg.user(&admin, "alice", "city-a", &["author"]);
    let bob = reg.user(&admin, "bob", "city-b", &["author"]);
    let other_admin = reg.user(&admin, "eve", "city-b", &["admin"]);
    let dir = data("private-lending-fraud");
    reg.ok(&admin, &import_args("lend-eval", dir.to_str().expect("utf-8"), "private-lending-fraud", "court"));
    reg.ok(&admin, &["dataset", "approve", "lend-eval"]);
    let exported = reg.fresh_dir("t2").join("t2.wasm");
    let exported = exported.to_str().expect("utf-8");
    assert!(
        crate::common::run(&["bundled", "export", "private-lending-fraud", "--out", exported])
            .status
            .success()
    );
    let mut digests = Vec::new();
    for component in [exported.to_string(), guest("demo-lending-weak"), guest("demo-lending-broad")] {
        let digest = publish(reg, &alice, &component);
        reg.ok(&approver, &["plugin", "approve", &digest, "--note", "entry"]);
        digests.push(digest);
    }
    let [bundled, weak, broad] = <[String; 3]>::try_from(digests).expect("three");
    Setup { admin, organizer, alice, bob, other_admin, bundled, weak, broad }
}

fn submission(list: &Value, id: i64) -> &Value {
    list.as_array().expect("list").iter().find(|s| s["id"] == id).expect("submission listed")
}

fn competition_end_to_end(reg: &Reg) {
    let s = setup(reg);
    // Only organizers create benchmarks; labels are required.
    reg.refused(&s.alice, &["benchmark", "create", "b", "--dataset", "lend-eval"], "organizer");
    let unlabelled = reg.fresh_dir("lend-unlabelled");
    for f in ["lending_cases.parquet", "enforcement.parquet"] {
        std::fs::copy(data("private-lending-fraud").join(f), unlabelled.join(f)).expect("copy");
    }
    let u = unlabelled.to_str().expect("utf-8");
    reg.ok(&s.admin, &import_args("lend-nolabels", u, "private-lending-fraud", "court"));
    reg.ok(&s.admin, &["dataset", "approve", "lend-nolabels"]);
    let o = reg.cmd(Some(&s.organizer), &["benchmark", "create", "b", "--dataset", "lend-nolabels"]);
    assert!(!o.status.success() && stderr(&o).contains("no labels"), "{}", stderr(&o));
    // Labels naming a case the dataset does not hold are refused, and so are duplicate rows.
    for (name, extra) in [("lend-ghost", "ghost-case,professional_lender\n"), ("lend-dup", "")] {
        let dir = reg.fresh_dir(name);
        for f in ["lending_cases.parquet", "enforcement.parquet", "labels.csv"] {
            std::fs::copy(data("private-lending-fraud").join(f), dir.join(f)).expect("copy");
        }
        let mut labels = std::fs::read_to_string(dir.join("labels.csv")).expect("labels");
        let first = labels.lines().nth(1).expect("a label").to_string();
        labels.push_str(if extra.is_empty() { &first } else { extra });
        labels.push('\n');
        std::fs::write(dir.join("labels.csv"), labels).expect("write");
        reg.ok(&s.admin, &import_args(name, dir.to_str().expect("utf-8"), "private-lending-fraud", "court"));
        reg.ok(&s.admin, &["dataset", "approve", name]);
        let o = reg.cmd(Some(&s.organizer), &["benchmark", "create", "b", "--dataset", name]);
        let needle = if extra.is_empty() { "appears twice" } else { "not in lending_cases.case_no" };
        assert!(!o.status.success() && stderr(&o).contains(needle), "{name}: {}", stderr(&o));
    }

    // A practice dataset is handed out with its labels, so it may not be the evaluation data.
    let practice = reg.fresh_dir("lend-practice-gen");
    let p = practice.to_str().expect("utf-8");
    assert!(
        crate::common::run(&["gen", "private-lending-fraud", "--seed", "11", "--out", p]).status.success()
    );
    reg.ok(&s.admin, &import_args("lend-practice", p, "private-lending-fraud", "court"));
    reg.ok(&s.admin, &["dataset", "approve", "lend-practice"]);
    let o = reg.cmd(
        Some(&s.organizer),
        &["benchmark", "create", "b", "--dataset", "lend-eval", "--practice", "lend-eval"],
    );
    assert!(
        !o.status.success() && stderr(&o).contains("must not be the evaluation dataset"),
        "{}",
        stderr(&o)
    );
    let b = reg.json(
        &s.organizer,
        &[
            "benchmark",
            "create",
            "lend-bench",
            "--dataset",
            "lend-eval",
            "--split-seed",
            "7",
            "--practice",
            "lend-practice",
        ],
    );
    let out = reg.fresh_dir("practice-out");
    let _ = std::fs::remove_dir(&out);
    reg.ok(&s.bob, &["benchmark", "practice", "lend-bench", "--out", out.to_str().expect("utf-8")]);
    assert_eq!(
        std::fs::read(out.join("labels.csv")).expect("labels"),
        std::fs::read(practice.join("labels.csv")).expect("generated labels"),
        "the practice labels come out as they went in"
    );
    // ... and the practice data is not sealed: participants with a grant may run on it.
    reg.ok(&s.admin, &["dataset", "grant", "lend-practice", "province"]);
    reg.ok(&s.alice, &["run", &s.bundled, "--dataset", "lend-practice"]);
    assert!(
        b["public_subjects"].as_i64().expect("count") > 0
            && b["private_subjects"].as_i64().expect("count") > 0
    );
    // The evaluation data is sealed: a participant cannot run on it even with a grant.
    reg.ok(&s.admin, &["dataset", "grant", "lend-eval", "province"]);
    reg.refused(
        &s.alice,
        &["run", &s.bundled, "--dataset", "lend-eval"],
        "evaluation data of benchmark lend-bench",
    );

    reg.ok(
        &s.organizer,
        &["competition", "create", "lend-cup", "--benchmark", "lend-bench", "--daily-limit", "2"],
    );
    let o = reg.cmd(Some(&s.alice), &["competition", "submit", "lend-cup", &s.bundled]);
    assert!(!o.status.success() && stderr(&o).contains("is created"), "not open yet: {}", stderr(&o));
    reg.refused(&s.alice, &["competition", "open", "lend-cup"], "organizers");
    reg.ok(&s.organizer, &["competition", "open", "lend-cup"]);

    let first = reg.json(&s.alice, &["competition", "submit", "lend-cup", &s.bundled]);
    assert_eq!(first["state"], "scored", "{first}");
    assert!(
        first["private"].is_null() && first["run_id"].is_null() && first["output_digest"].is_null(),
        "{first}"
    );
    assert_eq!(first["public"]["scores"]["f0_5"], 1.0);
    let weak = reg.json(&s.bob, &["competition", "submit", "lend-cup", &s.weak]);
    let broad = reg.json(&s.alice, &["competition", "submit", "lend-cup", &s.broad]);
    assert_eq!(broad["state"], "scored");
    // The same digest again, and a third submission in one day, are refused.
    let o = reg.cmd(Some(&s.bob), &["competition", "submit", "lend-cup", &s.weak]);
    assert!(!o.status.success() && stderr(&o).contains("already submitted"), "{}", stderr(&o));
    reg.refused(&s.alice, &["competition", "submit", "lend-cup", &s.weak], "quota resets at");

    // Participants see their own procuratorate's submissions, redacted; organizers see all.
    let mine = reg.json(&s.alice, &["competition", "submissions", "lend-cup"]);
    assert_eq!(mine.as_array().expect("list").len(), 2, "{mine}");
    assert!(mine.as_array().expect("list").iter().all(|x| x["org"] == "city-a" && x["private"].is_null()));
    let fuel = submission(&mine, first["id"].as_i64().expect("id"))["fuel"].as_f64().expect("fuel");
    let all = reg.json(&s.organizer, &["competition", "submissions", "lend-cup"]);
    assert_eq!(all.as_array().expect("list").len(), 3);
    let exact = submission(&all, first["id"].as_i64().expect("id"));
    assert!(exact["private"]["scores"]["f0_5"].is_number() && exact["run_id"].is_number());
    assert_eq!(
        fuel,
        sieve_host::competition::coarse(exact["fuel"].as_f64().expect("fuel")),
        "participants see 2 digits"
    );
    // Nobody but the organizers reads a submission's run or clues, not even its author.
    let run = exact["run_id"].as_i64().expect("run").to_string();
    for (who, token) in [("author", &s.alice), ("another city's admin", &s.other_admin)] {
        for cmd in [["runs", "show", &run], ["runs", "clues", &run]] {
            let o = reg.cmd(Some(token), &cmd);
            assert_eq!(o.status.code(), Some(3), "{who} {cmd:?}: {}", stdout(&o));
        }
    }
    assert!(!reg.ok(&s.alice, &["runs", "list"]).contains("lend-eval"), "submission runs are not listed");
    reg.refused(&s.bob, &["competition", "leaderboard", "lend-cup", "--private"], "organizers");
    reg.refused(&s.other_admin, &["competition", "leaderboard", "lend-cup", "--all"], "organizers");
    let others = reg.json(&s.bob, &["competition", "submissions", "lend-cup"]);
    assert!(others.as_array().expect("list").iter().all(|x| x["org"] == "city-b"), "{others}");

    // The public board: one row per procuratorate, the bundled model first.
    let board = reg.json(&s.bob, &["competition", "leaderboard", "lend-cup"]);
    let rows = board["entries"].as_array().expect("entries");
    assert_eq!(rows.len(), 2, "{board}");
    assert_eq!(
        (rows[0]["org"].as_str(), rows[0]["model"].as_str()),
        (Some("city-a"), Some("private-lending-fraud"))
    );
    assert_eq!(rows[1]["model"], "demo-lending-weak");
    // The organizers' full private board ranks all three: bundled, weak, over-broad.
    let full = reg.json(&s.organizer, &["competition", "leaderboard", "lend-cup", "--private", "--all"]);
    let models: Vec<&str> =
        full["entries"].as_array().expect("rows").iter().map(|e| e["model"].as_str().expect("m")).collect();
    assert_eq!(models, ["private-lending-fraud", "demo-lending-weak", "demo-lending-broad"]);
    let f = |i: usize| full["entries"][i]["primary"].as_f64().expect("primary");
    assert!(f(0) > f(1) && f(1) > f(2), "{full}");
    // The weak entry is clearly behind the leader (intervals apart), the broad one far behind.
    assert_eq!(full["entries"][1]["tied_with_leader"], false);

    // Bob selects his only submission; finalization needs the competition closed.
    reg.ok(&s.bob, &["competition", "select", "lend-cup", &weak["id"].to_string()]);
    let o = reg.cmd(Some(&s.organizer), &["competition", "finalize", "lend-cup"]);
    assert!(!o.status.success() && stderr(&o).contains("close it first"), "{}", stderr(&o));
    reg.ok(&s.organizer, &["competition", "close", "lend-cup"]);
    let rescored = reg.json(&s.organizer, &["competition", "rescore", "lend-cup"]);
    assert!(rescored.as_array().expect("list").iter().all(|r| r["reproduced"] == true), "{rescored}");
    let final_board = reg.json(&s.organizer, &["competition", "finalize", "lend-cup"]);
    assert_eq!(final_board["is_final"], true);
    assert_eq!(final_board["side"], "private");
    let orgs: Vec<&str> = final_board["entries"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|e| e["org"].as_str().expect("org"))
        .collect();
    assert_eq!(orgs, ["city-a", "city-b"]);
    // After finalization everyone in the competition sees the final board and the private scores.
    assert_eq!(reg.json(&s.bob, &["competition", "leaderboard", "lend-cup"]), final_board);
    let after = reg.json(&s.bob, &["competition", "submissions", "lend-cup"]);
    assert_eq!(after.as_array().expect("list").len(), 3);
    assert!(after.as_array().expect("list").iter().all(|x| x["private"].is_object()));
    let o = reg.cmd(Some(&s.alice), &["competition", "submit", "lend-cup", &s.weak]);
    assert!(!o.status.success() && stderr(&o).contains("finalized"), "{}", stderr(&o));

    // Everything is in the audit log, refusals included, and the chain holds.
    let log = reg.ok(&s.admin, &["audit", "log", "--limit", "500"]);
    for action in [
        "benchmark.create",
        "competition.create",
        "competition.open",
        "competition.submit",
        "submission.score",
        "competition.select",
        "competition.close",
        "competition.rescore",
        "competition.finalize",
        "refused",
    ] {
        assert!(log.contains(action), "audit log lacks {action}");
    }
    reg.audit_intact(&s.admin);
}

/// Quotas by UTC day with an injected clock, through the library on the same registry: queued and
/// scored submissions count, failed ones count only against the failure cap.
fn quotas_reset_at_utc_midnight(reg: &Reg) {
    use sieve_host::registry::Registry;
    let s = setup(reg);
    reg.ok(&s.organizer, &["benchmark", "create", "lend-bench", "--dataset", "lend-eval"]);
    reg.ok(
        &s.organizer,
        &["competition", "create", "cup", "--benchmark", "lend-bench", "--daily-limit", "1"],
    );
    // A second competition whose runs cannot finish: every submission fails out of fuel.
    reg.ok(
        &s.organizer,
        &[
            "competition",
            "create",
            "starved",
            "--benchmark",
            "lend-bench",
            "--daily-limit",
            "5",
            "--failure-limit",
            "1",
            "--fuel",
            "1e6",
        ],
    );
    reg.ok(&s.organizer, &["competition", "open", "cup"]);
    reg.ok(&s.organizer, &["competition", "open", "starved"]);
    let at = |t: &str| sieve_sdk::data::parse_timestamp(t).expect("time");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let registry = Registry::open(reg.home(), reg.db()).await.expect("open");
        let alice = registry.authenticate(Some(&s.alice)).await.expect("alice");
        let before_midnight = at("2026-12-01T23:59:30");
        registry.submit(&alice, "cup", &s.bundled, before_midnight).await.expect("first of the day");
        let refused =
            registry.submit(&alice, "cup", &s.weak, before_midnight + 20_000).await.expect_err("quota");
        assert!(refused.to_string().contains("resets at 2026-12-02T00:00:00.000Z"), "{refused}");
        registry.submit(&alice, "cup", &s.weak, at("2026-12-02T00:00:05")).await.expect("a new UTC day");

        let sandbox = sieve_host::sandbox::Sandbox::new(None).expect("sandbox");
        let first = registry.submit(&alice, "starved", &s.bundled, before_midnight).await.expect("submit");
        let noop: std::sync::Arc<dyn Fn(&_) + Send + Sync> = std::sync::Arc::new(|_| {});
        registry.work_queue(&sandbox, 1, Some(first.id), noop).await.expect("work");
        let failed = registry.submission(first.id).await.expect("submission");
        assert_eq!((failed.state.as_str(), failed.outcome.as_deref()), ("failed", Some("out-of-fuel")));
        let used = registry.quota("starved", alice.user.org_id, before_midnight).await.expect("quota");
        assert_eq!((used.counted, used.failed), (0, 1), "a failure does not use the quota");
        let refused =
            registry.submit(&alice, "starved", &s.weak, before_midnight).await.expect_err("failure cap");
        assert!(refused.to_string().contains("failed submissions"), "{refused}");
        // Failing on purpose does not buy another try of the same digest either: after midnight the
        // cap resets and it may run again.
        registry.submit(&alice, "starved", &s.bundled, at("2026-12-02T00:00:01")).await.expect("new day");
        // Sign the new events as the CLI does when a command ends: the library leaves that to it.
        let key = sieve_host::audit::signing::AuditKey::load_or_create(reg.home()).expect("key");
        sieve_host::audit::signing::seal(&registry.db, &key).await.expect("seal");
        registry.db.close().await;
    });
    reg.audit_intact(&s.admin);
}
