//! The registry end to end through the real binary, on both databases: every test runs on the
//! embedded SQLite, and again on PostgreSQL when `SIEVE_TEST_POSTGRES` names a server (CI starts
//! one; the URL's user needs CREATEDB: each test gets a database of its own).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::common::{fresh_dir, guest, stderr, stdout};

/// One registry under test: a home directory, and a PostgreSQL URL unless it is SQLite.
#[derive(Clone)]
pub struct Reg {
    home: PathBuf,
    db: Option<String>,
    /// Environment every command gets (the blob store's settings).
    env: Vec<(String, String)>,
}

impl Reg {
    pub fn sqlite(test: &str) -> Reg {
        Reg { home: fresh_dir(&format!("reg-sqlite-{test}")), db: None, env: Vec::new() }
    }

    /// A fresh PostgreSQL database for `test`, or `None` (with a note) when no server is configured.
    pub fn postgres(test: &str) -> Option<Reg> {
        let Ok(admin_url) = std::env::var("SIEVE_TEST_POSTGRES") else {
            eprintln!("SIEVE_TEST_POSTGRES is not set: {test} runs on SQLite only here (CI runs both)");
            return None;
        };
        let name = format!("sieve_test_{}_{}", test, std::process::id());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut conn =
                sqlx::AnyConnection::connect(&admin_url).await.expect("connect to SIEVE_TEST_POSTGRES");
            sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut conn).await.expect("drop");
            sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create database");
        });
        let (base, _) = admin_url.rsplit_once('/').expect("URL with a database");
        Some(Reg {
            home: fresh_dir(&format!("reg-pg-{test}")),
            db: Some(format!("{base}/{name}")),
            env: Vec::new(),
        })
    }

    /// This registry with `vars` set for every command.
    pub fn with_env(mut self, vars: &[(&str, &str)]) -> Reg {
        self.env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// `sieve ARGS` against this registry as the holder of `token`.
    pub fn cmd(&self, token: Option<&str>, args: &[&str]) -> Output {
        self.cmd_of(Path::new(env!("CARGO_BIN_EXE_sieve")), token, args)
    }

    /// `cmd`, run by the executable `sieve` (another build of it).
    pub fn cmd_of(&self, sieve: &Path, token: Option<&str>, args: &[&str]) -> Output {
        let mut cmd = Command::new(sieve);
        cmd.env("SIEVE_HOME", &self.home).env_remove("SIEVE_TOKEN").env_remove("SIEVE_DATABASE_URL");
        if let Some(db) = &self.db {
            cmd.env("SIEVE_DATABASE_URL", db);
        }
        if let Some(t) = token {
            cmd.env("SIEVE_TOKEN", t);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.args(args).output().expect("start sieve")
    }

    /// `sieve ARGS` against this registry, as a child process left running (a worker, a server).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sieve"));
        cmd.env("SIEVE_HOME", &self.home).env_remove("SIEVE_TOKEN").env_remove("SIEVE_DATABASE_URL");
        if let Some(db) = &self.db {
            cmd.env("SIEVE_DATABASE_URL", db);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.args(args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
        cmd.spawn().expect("start sieve")
    }

    /// Like `cmd`, but the command must succeed; returns stdout.
    pub fn ok(&self, token: &str, args: &[&str]) -> String {
        let o = self.cmd(Some(token), args);
        assert!(
            o.status.success(),
            "sieve {args:?} failed ({:?}): {}{}",
            o.status.code(),
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    }

    /// Like `ok`, with `--json` appended, parsed.
    pub fn json(&self, token: &str, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(token, &all)).expect("JSON output")
    }

    /// The command must be refused with exit status 3, naming `needle`.
    pub fn refused(&self, token: &str, args: &[&str], needle: &str) {
        let o = self.cmd(Some(token), args);
        assert_eq!(
            o.status.code(),
            Some(3),
            "sieve {args:?} should be refused: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(
            stderr(&o).contains(needle),
            "sieve {args:?}: refusal should mention {needle:?}: {}",
            stderr(&o)
        );
    }

    /// `sieve init`: the admin token.
    pub fn init(&self) -> String {
        let v: Value =
            serde_json::from_str(&stdout(&self.cmd(None, &["init", "--json"]))).expect("init JSON");
        v["admin_token"].as_str().expect("admin_token").to_string()
    }

    /// Add a user; their token.
    pub fn user(&self, admin: &str, name: &str, org: &str, roles: &[&str]) -> String {
        let mut args = vec!["user", "add", name, "--org", org];
        for r in roles {
            args.extend(["--role", r]);
        }
        self.json(admin, &args)["token"].as_str().expect("token").to_string()
    }

    /// The audit log must verify.
    pub fn audit_intact(&self, admin: &str) -> Value {
        let v = self.json(admin, &["audit", "verify"]);
        assert_eq!(v["status"], "intact", "{v}");
        v
    }

    /// The first column, as text, of every row `query` returns (`CAST(... AS TEXT)` it).
    pub fn sql_column(&self, query: &str) -> Vec<Option<String>> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            use sqlx::{Connection, Row};
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(&self.database_url()).await.expect("connect");
            let rows = sqlx::query(query).fetch_all(&mut conn).await.expect("query");
            rows.iter().map(|r| r.try_get::<Option<String>, _>(0).expect("text column")).collect()
        })
    }

    fn database_url(&self) -> String {
        match &self.db {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.home.join("sieve.db").display()),
        }
    }

    /// Run SQL on this registry's database (to play the attacker in tamper tests).
    pub fn sql(&self, statement: &str) {
        let url = self.database_url();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connect");
            sqlx::raw_sql(statement).execute(&mut conn).await.expect("statement");
        });
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The file of local blob `digest` (`sha256:<hex>`).
    pub fn blob(&self, digest: &str) -> PathBuf {
        self.home.join("blobs").join("sha256").join(digest.trim_start_matches("sha256:"))
    }

    /// An empty scratch directory for this registry's test: named after its home, because the
    /// SQLite and PostgreSQL variants of one test run at once and must not share scratch files.
    pub fn fresh_dir(&self, name: &str) -> PathBuf {
        let owner = self.home.file_name().and_then(|n| n.to_str()).expect("utf-8 home name");
        fresh_dir(&format!("{owner}-{name}"))
    }

    /// The PostgreSQL URL, or `None` for the embedded SQLite.
    pub fn db(&self) -> Option<&str> {
        self.db.as_deref()
    }

    fn url(&self) -> String {
        match &self.db {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.home.join("sieve.db").display()),
        }
    }

    /// The audit events as stored: (seq, at, actor, action, target, detail).
    fn events(&self) -> Vec<Event> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            use sqlx::{Connection, Row};
            sqlx::any::install_default_drivers();
            let mut conn = sqlx::AnyConnection::connect(&self.url()).await.expect("connect");
            let rows =
                sqlx::query("SELECT seq, at, actor, action, target, detail FROM audit_events ORDER BY seq")
                    .fetch_all(&mut conn)
                    .await
                    .expect("events");
            rows.iter()
                .map(|r| {
                    (
                        r.try_get("seq").expect("seq"),
                        r.try_get("at").expect("at"),
                        r.try_get("actor").expect("actor"),
                        r.try_get("action").expect("action"),
                        r.try_get("target").expect("target"),
                        r.try_get("detail").expect("detail"),
                    )
                })
                .collect()
        })
    }

    /// Play the insider who can write the database: replace the log with `events`, every hash
    /// recomputed so the chain itself is consistent, and the head moved to its end.
    fn rewrite_log(&self, events: &[Event]) {
        let mut sql = String::from("DELETE FROM audit_events;\n");
        let mut prev = String::new();
        let quote = |t: &str| format!("'{}'", t.replace('\'', "''"));
        for (seq, at, actor, action, target, detail) in events {
            let fields = serde_json::json!([prev, seq, at, actor, action, target, detail]);
            let hash = sieve_host::digest::sha256_hex(fields.to_string().as_bytes());
            sql.push_str(&format!(
                "INSERT INTO audit_events (seq, at, actor, action, target, detail, prev_hash, hash) \
                 VALUES ({seq}, {}, {}, {}, {}, {}, {}, {});\n",
                quote(at),
                quote(actor),
                quote(action),
                quote(target),
                quote(detail),
                quote(&prev),
                quote(&hash)
            ));
            prev = hash;
        }
        sql.push_str(&format!(
            "UPDATE audit_head SET seq = {}, hash = {} WHERE id = 1;",
            events.len(),
            quote(&prev)
        ));
        self.sql(&sql);
    }

    /// `sieve audit verify` with `extra` flags: (exit status, what it printed).
    fn verify(&self, admin: &str, extra: &[&str]) -> (Option<i32>, String) {
        let mut args = vec!["audit", "verify"];
        args.extend_from_slice(extra);
        let o = self.cmd(Some(admin), &args);
        (o.status.code(), format!("{}{}", stdout(&o), stderr(&o)))
    }
}

/// An audit event's stored fields: (seq, at, actor, action, target, detail).
type Event = (i64, String, String, String, String, String);

/// Generated data for `task` at scale 1 (seed 3), made once per test process.
pub fn data(task: &str) -> PathBuf {
    static MADE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    let name = format!("regdata-{task}");
    if !made.contains(&name) {
        let dir = fresh_dir(&name);
        let o = crate::common::run(&["gen", task, "--seed", "3", "--out", dir.to_str().expect("utf-8")]);
        assert!(o.status.success(), "gen: {}", stderr(&o));
        made.push(name.clone());
    }
    crate::common::fresh_dir_path(&name)
}

/// The arguments of `sieve dataset import NAME DIR --task TASK --source SOURCE`.
pub fn import_args<'a>(name: &'a str, dir: &'a str, task: &'a str, source: &'a str) -> Vec<&'a str> {
    vec!["dataset", "import", name, dir, "--task", task, "--source", source]
}

/// A copy of dataset directory `dir` in which the `relations` table is the CSV text `relations`.
fn copy_with_relations(reg: &Reg, dir: &Path, name: &str, relations: &str) -> PathBuf {
    let copy = reg.fresh_dir(name);
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, copy.join(path.file_name().expect("name"))).expect("copy");
    }
    std::fs::remove_file(copy.join("relations.parquet")).expect("remove");
    std::fs::write(copy.join("relations.csv"), relations).expect("write");
    copy
}

/// Publish `component` as the holder of `token`; its digest.
pub fn publish(reg: &Reg, token: &str, component: &str) -> String {
    let v = reg.json(token, &["plugin", "publish", component]);
    v["digest"].as_str().expect("digest").to_string()
}

/// Two cities under the province, a county under each: city-a > county-a1, city-b > county-b1.
pub fn two_cities(reg: &Reg, admin: &str) {
    for (org, parent) in
        [("city-a", "province"), ("county-a1", "city-a"), ("city-b", "province"), ("county-b1", "city-b")]
    {
        reg.ok(admin, &["org", "add", org, "--parent", parent]);
    }
}

/// Generated `task` data imported as dataset `name` by the root admin, approved, and granted to the
/// whole province.
pub fn dataset_for_all(reg: &Reg, admin: &str, name: &str, task: &str) {
    let dir = data(task);
    reg.ok(admin, &import_args(name, dir.to_str().expect("utf-8"), task, "court"));
    reg.ok(admin, &["dataset", "approve", name]);
    reg.ok(admin, &["dataset", "grant", name, "province"]);
}

/// Approve `digest` as a second province admin (nobody approves what they published).
pub fn approve_as_second_admin(reg: &Reg, admin: &str, digest: &str) {
    let approver = reg.user(admin, "approver", "province", &["admin"]);
    reg.ok(&approver, &["plugin", "approve", digest, "--note", "four eyes"]);
}

/// Each scenario below runs once per database (other modules use it too, as
/// `crate::on_both_databases!`).
#[macro_export]
macro_rules! on_both_databases {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[test]
            fn sqlite() {
                super::$scenario(&$crate::registry::Reg::sqlite(stringify!($scenario)));
            }

            #[test]
            fn postgres() {
                if let Some(reg) = $crate::registry::Reg::postgres(stringify!($scenario)) {
                    super::$scenario(&reg);
                }
            }
        }
    )*};
}

on_both_databases!(
    clue_review_and_field_precision,
    encoded_runs_give_the_clues_of_ad_hoc_runs,
    lifecycle,
    permission_matrix,
    tampering,
    crash_safety,
    concurrent_runs,
    sleeping_model,
    spreadsheet_safe_export,
    restricted_clues_stay_held,
    approval_is_four_eyes_and_scoped,
    audit_rewrites_are_caught,
    hand_made_schema_is_refused,
    dataset_names_keep_their_owner,
    reads_are_scoped,
    stored_runs_stay_within_policy,
    unauthenticated_floods_are_aggregated,
    look_alike_names_are_refused,
    vetting_sweeps_parameters_on_fresh_canaries,
    a_plugins_source_is_kept_for_its_reviewers,
    reruns_are_answered_from_identical_runs,
    clue_sets_are_indexed_once_by_concurrent_readers
);

/// A run's clues are stored as one clue set when it finishes, and indexed into rows when first
/// read: readers racing to read them first all get the same page, and the clues end in exactly
/// one place, each once.
fn clue_sets_are_indexed_once_by_concurrent_readers(reg: &Reg) {
    let admin = reg.init();
    let bob = reg.user(&admin, "bob", "province", &["author"]);
    dataset_for_all(reg, &admin, "auctions", "judicial-auction-violations");
    let digest = publish(reg, &bob, "judicial-auction-violations");
    reg.ok(&admin, &["plugin", "approve", &digest, "--note", "ok"]);
    let report = reg.json(&bob, &["run", &digest, "--dataset", "auctions"]);
    let clues = report["clues"].as_i64().expect("clue count");
    assert!(clues > 0, "{report}");
    let id = reg.json(&bob, &["runs", "list"])[0]["id"].to_string();
    let count = |query: &str| reg.sql_column(&format!("{query} WHERE run_id = {id}"))[0].clone();
    let (sets, in_rows) =
        ("SELECT CAST(count(*) AS TEXT) FROM clue_sets", "SELECT CAST(count(*) AS TEXT) FROM clues");
    assert_eq!((count(sets), count(in_rows)), (Some("1".to_string()), Some("0".to_string())));
    // A reader refused the run touches nothing of its clues.
    let carol = reg.user(&admin, "carol", "province", &["author"]);
    reg.refused(&carol, &["runs", "clues", &id], "reading another user's run");
    reg.refused(
        &carol,
        &["runs", "review", &id, "anyone", "--verdict", "confirmed"],
        "reading another user's run",
    );
    assert_eq!((count(sets), count(in_rows)), (Some("1".to_string()), Some("0".to_string())));
    let pages: Vec<String> = std::thread::scope(|s| {
        let readers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| reg.ok(&bob, &["runs", "clues", &id, "--per-page", "7", "--page", "2", "--json"]))
            })
            .collect();
        readers.into_iter().map(|r| r.join().expect("reader")).collect()
    });
    assert!(pages.iter().all(|p| *p == pages[0]), "{pages:?}");
    assert_eq!(serde_json::from_str::<Value>(&pages[0]).expect("JSON").as_array().map(Vec::len), Some(7));
    assert_eq!((count(sets), count(in_rows)), (Some("0".to_string()), Some(clues.to_string())));
    // What the rows give back is what the run emitted (its output digest covers every clue).
    let rerun = reg.json(&bob, &["run", &digest, "--dataset", "auctions"]);
    assert_eq!(
        (rerun["reused_from"].to_string(), &rerun["output_digest"]),
        (id.clone(), &report["output_digest"])
    );
}

/// A run is answered only from runs of the very same build: a build of the same version whose
/// host functions changed could give other clues. The other build here is this one with its GNU
/// build ID changed (the code identical), so only the build's identity tells them apart.
#[test]
fn reruns_are_answered_only_within_one_build() {
    let reg = Reg::sqlite("reruns-one-build");
    let admin = reg.init();
    let bob = reg.user(&admin, "bob", "province", &["author"]);
    dataset_for_all(&reg, &admin, "auctions", "judicial-auction-violations");
    let digest = publish(&reg, &bob, "judicial-auction-violations");
    reg.ok(&admin, &["plugin", "approve", &digest, "--note", "ok"]);
    let other_build = reg.fresh_dir("other-build").join("sieve");
    std::fs::copy(env!("CARGO_BIN_EXE_sieve"), &other_build).expect("copy the executable");
    change_build_id(&other_build);
    let run_by = |sieve: &Path| -> Value {
        let o = reg.cmd_of(sieve, Some(&bob), &["run", &digest, "--dataset", "auctions", "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str(&stdout(&o)).expect("JSON report")
    };
    let first = run_by(Path::new(env!("CARGO_BIN_EXE_sieve")));
    let on_other = run_by(&other_build);
    assert_eq!(on_other.get("reused_from"), None, "{on_other}");
    assert_eq!(on_other["output_digest"], first["output_digest"]);
    let again_on_other = run_by(&other_build);
    let on_other_id = reg.json(&bob, &["runs", "list"])[1]["id"].clone();
    assert_eq!(again_on_other["reused_from"], on_other_id, "{again_on_other}");
}

/// Change one byte of the GNU build ID note in the executable at `path` (found in its first 64
/// KiB, where linkers put it: type 3, name "GNU", a 20-byte ID).
fn change_build_id(path: &Path) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new().read(true).write(true).open(path).expect("open the copy");
    let mut head = vec![0u8; 64 * 1024];
    let read = file.read_at(&mut head, 0).expect("read the copy");
    let note: &[u8] = &[4, 0, 0, 0, 20, 0, 0, 0, 3, 0, 0, 0, b'G', b'N', b'U', 0];
    let at =
        head[..read].windows(note.len()).position(|w| w == note).expect("a GNU build ID note") + note.len();
    file.write_all_at(&[!head[at]], at as u64).expect("change the build ID");
}

/// A rerun of the same plugin on the same dataset version, with the same parameters and limits,
/// is answered from the run before it: the same outcome, output digest and clues, recorded as a
/// run of its own (its verdicts its own) that names the run it came from. Anything that differs
/// (a parameter, a limit, `--fresh`) runs the model; so does a rerun whose earlier clues were
/// altered in the database, which are never handed out.
fn reruns_are_answered_from_identical_runs(reg: &Reg) {
    let admin = reg.init();
    let bob = reg.user(&admin, "bob", "province", &["author"]);
    dataset_for_all(reg, &admin, "auctions", "judicial-auction-violations");
    let digest = publish(reg, &bob, "judicial-auction-violations");
    reg.ok(&admin, &["plugin", "approve", &digest, "--note", "ok"]);
    let newest = || reg.json(&bob, &["runs", "list"])[0].clone();
    let clues_of = |id: &str| reg.ok(&bob, &["runs", "export", id, "--format", "jsonl"]);

    let first = reg.json(&bob, &["run", &digest, "--dataset", "auctions"]);
    assert_eq!((&first["outcome"], first.get("reused_from")), (&json!("completed"), None), "{first}");
    let first_id = newest()["id"].to_string();
    let rerun = reg.json(&bob, &["run", &digest, "--dataset", "auctions"]);
    let rerun_record = newest();
    let rerun_id = rerun_record["id"].to_string();
    assert_ne!(rerun_id, first_id);
    assert_eq!(rerun["reused_from"].to_string(), first_id, "{rerun}");
    assert_eq!(rerun_record["reused_from"].to_string(), first_id, "{rerun_record}");
    assert_eq!(
        (&rerun["outcome"], &rerun["output_digest"], &rerun["clues"], &rerun["fuel"]),
        (&first["outcome"], &first["output_digest"], &first["clues"], &first["fuel"])
    );
    assert!(first["clues"].as_u64().expect("count") > 0, "{first}");
    assert_eq!(clues_of(&rerun_id), clues_of(&first_id));
    let text = reg.ok(&bob, &["run", &digest, "--dataset", "auctions"]);
    assert!(text.contains(&format!("answered from run {first_id}")), "{text}");
    let listed = reg.ok(&bob, &["runs", "list"]);
    assert!(
        listed.lines().nth(1).is_some_and(|l| l.ends_with(&format!("(answered from run {first_id})"))),
        "{listed}"
    );

    // A verdict given on the rerun's clue is the rerun's, not the earlier run's.
    let subject = reg.json(&bob, &["runs", "clues", &rerun_id, "--per-page", "1"])[0]["subject"]
        .as_str()
        .expect("subject")
        .to_string();
    reg.ok(&bob, &["runs", "review", &rerun_id, &subject, "--verdict", "confirmed"]);
    let verdict = |id: &str| reg.json(&bob, &["runs", "clues", id, "--per-page", "1"])[0]["verdict"].clone();
    assert_eq!(verdict(&rerun_id)["verdict"], "confirmed");
    assert!(verdict(&first_id).is_null(), "{}", verdict(&first_id));

    // What differs runs the model.
    let mut other_params = None;
    for differs in [vec!["--param", "futile-margin=0.2"], vec!["--fuel", "2e9"], vec!["--fresh"]] {
        let args = [vec!["run", digest.as_str(), "--dataset", "auctions"], differs.clone()].concat();
        let report = reg.json(&bob, &args);
        assert_eq!(
            (&report["outcome"], report.get("reused_from")),
            (&json!("completed"), None),
            "{differs:?}: {report}"
        );
        if other_params.is_none() {
            assert_ne!(report["output_digest"], first["output_digest"], "other clues for other parameters");
            other_params = Some(newest()["id"].to_string());
        }
    }
    let other_params = other_params.expect("the run with other parameters");
    let fresh_id = newest()["id"].to_string();
    let dir = data("judicial-auction-violations");
    let args = ["run", "judicial-auction-violations", "--data", dir.to_str().expect("utf-8"), "--fresh"];
    let o = reg.cmd(Some(&bob), &args);
    assert!(!o.status.success() && stderr(&o).contains("--fresh is for a stored run"), "{}", stderr(&o));
    assert_eq!(
        reg.json(&bob, &["run", &digest, "--dataset", "auctions"])["reused_from"].to_string(),
        fresh_id
    );

    // Clues altered in the database after the run are not handed out as a rerun's: they no longer
    // match the output digest recorded with them, so the model runs again. Whether they are still
    // in the run's clue set (nobody has read them yet) or were indexed into rows when first read.
    let sets_of = |id: &str| {
        reg.sql_column(&format!("SELECT CAST(count(*) AS TEXT) FROM clue_sets WHERE run_id = {id}"))
    };
    assert_eq!(sets_of(&fresh_id), [Some("1".to_string())], "unread clues stay in their set");
    // The set swapped for another run's (a valid set, other clues).
    reg.sql(&format!(
        "UPDATE clue_sets SET clues = (SELECT clues FROM clue_sets WHERE run_id = {other_params}) \
         WHERE run_id = {fresh_id}"
    ));
    let runs_the_model = |what: &str| {
        let report = reg.json(&bob, &["run", &digest, "--dataset", "auctions"]);
        assert_eq!(
            (report.get("reused_from"), &report["output_digest"]),
            (None, &first["output_digest"]),
            "{what}: {report}"
        );
        newest()["id"].to_string()
    };
    let id = runs_the_model("another run's clue set");
    assert_eq!(clues_of(&id), clues_of(&first_id));
    assert_eq!(sets_of(&id), [Some("0".to_string())], "read clues are indexed into rows");
    reg.sql(&format!("UPDATE clues SET subject = 'planted' WHERE run_id = {id} AND seq = 1"));
    let id = runs_the_model("a subject altered in the rows");
    assert!(!clues_of(&id).contains("planted"));
    // Clues that no longer read back at all fail nothing: the model runs. Evidence that is not
    // JSON in the rows; a set cut short.
    reg.sql(&format!("UPDATE clues SET evidence = 'not json' WHERE run_id = {id} AND seq = 1"));
    let id = runs_the_model("evidence that is not JSON");
    reg.sql(&format!("UPDATE clue_sets SET clues = substr(clues, 1, 100) WHERE run_id = {id}"));
    runs_the_model("a clue set cut short");
    let finish = reg.json(&admin, &["audit", "log", "--target", &rerun_id]);
    let finish =
        finish.as_array().expect("events").iter().find(|e| e["action"] == "run.finish").expect("run.finish");
    let detail: Value = serde_json::from_str(finish["detail"].as_str().expect("detail")).expect("JSON");
    assert_eq!(detail["reused_from"].to_string(), first_id, "{finish}");
    reg.audit_intact(&admin);
}

/// `plugin publish --source DIR` keeps the model's source (a tar of its files, build output left
/// out) and the toolchain with the digest; its author and the admins read it back, another author
/// cannot, and a second, different source for the same digest is refused.
fn a_plugins_source_is_kept_for_its_reviewers(reg: &Reg) {
    let admin = reg.init();
    two_cities(reg, &admin);
    let alice = reg.user(&admin, "alice", "city-a", &["author"]);
    let bob = reg.user(&admin, "bob", "city-b", &["author"]);
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("repository").to_path_buf();
    let source = repo.join("plugins/private-lending-fraud");
    let source = source.to_str().expect("utf-8");
    let published = reg.json(
        &alice,
        &["plugin", "publish", "private-lending-fraud", "--source", source, "--toolchain", "rustc 1.90.0"],
    );
    let digest = published["digest"].as_str().expect("digest").to_string();
    assert_eq!(published["source"]["toolchain"], "rustc 1.90.0", "{published}");
    let shown = reg.ok(&alice, &["plugin", "show", &digest]);
    assert!(shown.contains("built with rustc 1.90.0"), "{shown}");

    let out = reg.fresh_dir("source").join("source.tar");
    let out_text = out.to_str().expect("utf-8");
    reg.ok(&alice, &["plugin", "source", &digest, "--out", out_text]);
    let mut names: Vec<String> = tar::Archive::new(std::fs::File::open(&out).expect("archive"))
        .entries()
        .expect("a tar")
        .map(|e| e.expect("entry").path().expect("path").to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(
        names.contains(&"Cargo.toml".to_string()) && names.contains(&"src/lib.rs".to_string()),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.starts_with("target")), "{names:?}");
    reg.ok(&admin, &["plugin", "source", &digest, "--out", out_text]);
    // Another procuratorate's author: the plugin is not found until approved, then its source
    // stays the reviewers'.
    let o = reg.cmd(Some(&bob), &["plugin", "source", &digest, "--out", out_text]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    reg.ok(&admin, &["plugin", "approve", &digest]);
    reg.refused(&bob, &["plugin", "source", &digest, "--out", out_text], "admin");
    // Nor may another author put a source of their own on it.
    reg.refused(
        &bob,
        &["plugin", "publish", "private-lending-fraud", "--source", source, "--toolchain", "rustc 1.90.0"],
        "only the plugin's author (alice)",
    );

    let other = repo.join("plugins/vehicle-insurance-fraud");
    let o = reg.cmd(
        Some(&alice),
        &[
            "plugin",
            "publish",
            "private-lending-fraud",
            "--source",
            other.to_str().expect("utf-8"),
            "--toolchain",
            "rustc",
        ],
    );
    assert!(!o.status.success() && stderr(&o).contains("already has its source archive"), "{}", stderr(&o));
    let log = reg.json(&admin, &["audit", "log", "--limit", "1000"]);
    let sources = log.as_array().expect("log").iter().filter(|e| e["action"] == "plugin.source").count();
    assert_eq!(sources, 1, "one source attached, audited once");
}

/// Vetting tries each parameter at its edges on a canary generated fresh for that vetting: a model
/// that loops for ever at `window=0` fails vetting (and so cannot be approved), and two vettings
/// do not see the same data.
fn vetting_sweeps_parameters_on_fresh_canaries(reg: &Reg) {
    let admin = reg.init();
    let bob = reg.user(&admin, "bob", "province", &["author"]);
    let buggy = crate::attacks::patched_raw("edge-bug");
    let digest = publish(reg, &bob, buggy.to_str().expect("utf-8"));
    let shown = reg.json(&bob, &["plugin", "show", &digest]);
    let findings = shown["vetting"]["findings"].as_array().expect("findings");
    let sweep = findings.iter().find(|f| f["check"] == "parameter-sweep").expect("sweep");
    assert_eq!(sweep["passed"], false, "{shown}");
    assert!(sweep["detail"].as_str().expect("detail").contains("window=0: out-of-fuel"), "{sweep}");
    let o = reg.cmd(Some(&admin), &["plugin", "approve", &digest]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("failed vetting (parameter-sweep: window=0"), "{}", stderr(&o));

    let seed = |v: &Value| -> String {
        let findings = v["vetting"]["findings"].as_array().expect("findings");
        let canary = findings.iter().find(|f| f["check"] == "canary-run").expect("canary");
        let detail = canary["detail"].as_str().expect("detail");
        detail.split("seed ").nth(1).and_then(|s| s.split(')').next()).expect("a seed").to_string()
    };
    let first = seed(&shown);
    reg.ok(&bob, &["plugin", "vet", &digest]);
    let second = seed(&reg.json(&bob, &["plugin", "show", &digest]));
    assert_ne!(first, second, "each vetting generates its own canary");
    crate::attacks::assert_no_labels_in_canaries(reg.home());
}

/// A name that passes for another (a Cyrillic а in `аdmin`, an all-Cyrillic `сор` beside `cop`,
/// fullwidth letters) is refused, naming the name it imitates.
fn look_alike_names_are_refused(reg: &Reg) {
    let admin = reg.init();
    reg.user(&admin, "cop", "province", &["author"]);
    for (name, needle) in [
        ("аdmin", "several scripts"),
        ("сор", "looks like the existing user \"cop\""),
        ("Admin", "looks like the existing user \"admin\""),
        ("ａｄｍｉｎ", "NFKC"),
    ] {
        let o = reg.cmd(Some(&admin), &["user", "add", name, "--org", "province", "--role", "author"]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stdout(&o));
        assert!(stderr(&o).contains(needle), "{name}: {}", stderr(&o));
    }
    reg.ok(&admin, &["org", "add", "杭州市", "--parent", "province"]);
    reg.user(&admin, "王检察官", "杭州市", &["author"]);
}

/// Twenty attempts without a valid token in a row leave one audit event, not twenty; the count
/// of the rest goes into the next such event.
fn unauthenticated_floods_are_aggregated(reg: &Reg) {
    let admin = reg.init();
    let before = reg.events().len();
    for i in 0..20 {
        let token = format!("sv_guess_{i}");
        let o = reg.cmd(Some(&token), &["whoami"]);
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    }
    let after = reg.events();
    let refusals: Vec<_> = after[before..].iter().filter(|e| e.2 == "anonymous").collect();
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    // The window's count is kept for the next event: an older window makes the next attempt log it.
    reg.sql("UPDATE auth_failures SET window_start = window_start - 3600");
    reg.cmd(Some("sv_late_guess"), &["whoami"]);
    let last = reg.events().pop().expect("event");
    assert!(last.5.contains("\"attempts_since_last_event\":19"), "{last:?}");
    reg.audit_intact(&admin);
}

/// An author cannot lift the limits of a stored run (an approved model run with no fuel and a
/// day's deadline): limits above the registry's policy are refused, lower ones are fine, and only
/// a root admin moves the ceiling, in the audit log.
fn stored_runs_stay_within_policy(reg: &Reg) {
    let admin = reg.init();
    reg.ok(&admin, &["org", "add", "city-a", "--parent", "province"]);
    let alice = reg.user(&admin, "alice", "city-a", &["author"]);
    let city_admin = reg.user(&admin, "cyd", "city-a", &["admin"]);
    let task = "judicial-auction-violations";
    dataset_for_all(reg, &admin, "auctions", task);
    let digest = publish(reg, &alice, task);
    reg.ok(&admin, &["plugin", "approve", &digest]);

    reg.refused(
        &alice,
        &["run", &digest, "--dataset", "auctions", "--fuel", "0", "--deadline", "86400"],
        "run policy",
    );
    reg.ok(&alice, &["run", &digest, "--dataset", "auctions", "--fuel", "1e9", "--deadline", "30"]);
    reg.refused(&city_admin, &["policy", "set", "--fuel", "0"], "root procuratorate");
    reg.ok(&admin, &["policy", "set", "--fuel", "5e8"]);
    assert_eq!(reg.json(&alice, &["policy", "show"])["fuel"], 500_000_000);
    reg.refused(&alice, &["run", &digest, "--dataset", "auctions", "--fuel", "1e9"], "--fuel (at most 5e8");
    // Left out, the limits are the policy's.
    reg.ok(&alice, &["run", &digest, "--dataset", "auctions"]);
    let log = reg.json(&admin, &["audit", "log", "--target", "run-limits"]);
    assert_eq!(log[0]["action"], "policy.set", "{log}");
}

/// Lists and shows are scoped: another county's restricted dataset, a plugin still under review,
/// other procuratorates' users and audit trail stay out of sight.
fn reads_are_scoped(reg: &Reg) {
    let admin = reg.init();
    two_cities(reg, &admin);
    let ann = reg.user(&admin, "ann", "county-a1", &["admin", "author"]);
    let alice = reg.user(&admin, "alice", "county-a1", &["author"]);
    let bob = reg.user(&admin, "bob", "county-b1", &["author"]);
    let dir = data("judicial-auction-violations");
    let task = "judicial-auction-violations";
    reg.ok(
        &ann,
        &[import_args("sealed", dir.to_str().expect("utf-8"), task, "secret source"), vec!["--restricted"]]
            .concat(),
    );
    reg.ok(&ann, &["dataset", "approve", "sealed"]);
    reg.ok(&ann, &["dataset", "grant", "sealed", "county-a1"]);
    let digest = publish(reg, &alice, task);

    let names = |v: Value, field: &str| -> Vec<String> {
        v.as_array()
            .expect("list")
            .iter()
            .map(|x| x[field].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(
        names(reg.json(&alice, &["dataset", "list"]), "name"),
        ["sealed"],
        "granted to alice's county"
    );
    assert!(names(reg.json(&bob, &["dataset", "list"]), "name").is_empty(), "bob's county has no grant");
    assert_eq!(reg.cmd(Some(&bob), &["dataset", "show", "sealed"]).status.code(), Some(4));
    assert!(
        names(reg.json(&bob, &["plugin", "list"]), "digest").is_empty(),
        "a plugin under review is its publisher's"
    );
    assert_eq!(reg.cmd(Some(&bob), &["plugin", "show", &digest]).status.code(), Some(4));
    assert_eq!(
        names(reg.json(&ann, &["plugin", "list"]), "digest"),
        [digest.as_str()],
        "ann manages alice's county"
    );
    assert_eq!(names(reg.json(&bob, &["user", "list"]), "name"), ["bob"]);
    let mut seen = names(reg.json(&ann, &["user", "list"]), "name");
    seen.sort();
    assert_eq!(seen, ["alice", "ann"]);
    let actors = names(reg.json(&ann, &["audit", "log", "--limit", "1000"]), "actor");
    assert!(!actors.is_empty() && actors.iter().all(|a| a == "ann" || a == "alice"), "{actors:?}");
    assert!(
        names(reg.json(&admin, &["audit", "log", "--limit", "1000"]), "actor").contains(&"admin".to_string())
    );
}

/// A dataset name belongs to the procuratorate that first imported it: a new version keeps that
/// owner and stays restricted, and two procuratorates importing one new name at the same moment
/// cannot both get it (the owner is checked again under the write lock).
fn dataset_names_keep_their_owner(reg: &Reg) {
    let admin = reg.init();
    two_cities(reg, &admin);
    let ann = reg.user(&admin, "ann", "county-a1", &["admin"]);
    let ben = reg.user(&admin, "ben", "county-b1", &["admin"]);
    let dir = data("judicial-auction-violations");
    let dir_text = dir.to_str().expect("utf-8");
    let task = "judicial-auction-violations";
    reg.ok(&ann, &[import_args("sealed", dir_text, task, "court"), vec!["--restricted"]].concat());
    let changed = copy_with_relations(reg, &dir, "owner-changed", "person_a,person_b,kind\np1,p2,kin\n");
    let v2 = reg.json(&admin, &import_args("sealed", changed.to_str().expect("utf-8"), task, "court"));
    assert_eq!(v2["dataset"]["version"], 2);
    assert_eq!(v2["dataset"]["restricted"], true, "a new version inherits restricted: {v2}");
    assert_eq!(v2["dataset"]["owner"], "county-a1", "a new version keeps the name's owner: {v2}");
    reg.refused(&ben, &import_args("sealed", dir_text, task, "court"), "not above county-a1");
    // The approver sees the restriction and what changed; lifting it is a decision of its own.
    let approved = reg.ok(&ann, &["dataset", "approve", "sealed@2"]);
    assert!(approved.contains("restricted   yes"), "{approved}");
    assert!(approved.contains("changed      table relations"), "{approved}");
    reg.refused(&ben, &["dataset", "unrestrict", "sealed@2", "--note", "mine now"], "not above county-a1");
    reg.ok(&ann, &["dataset", "unrestrict", "sealed@2", "--note", "the court published it"]);
    assert_eq!(reg.json(&ann, &["dataset", "show", "sealed@2"])["restricted"], false);
    assert_eq!(reg.json(&ann, &["dataset", "show", "sealed@1"])["restricted"], true, "only that version");

    // Two counties race for one new name: exactly one gets it.
    let spawn_import = |token: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sieve"));
        cmd.env("SIEVE_HOME", reg.home()).env("SIEVE_TOKEN", token).env_remove("SIEVE_DATABASE_URL");
        if let Some(db) = &reg.db {
            cmd.env("SIEVE_DATABASE_URL", db);
        }
        cmd.args(import_args("contested", dir_text, task, "court")).output().expect("import")
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn_import(&ann));
        let b = s.spawn(|| spawn_import(&ben));
        (a.join().expect("a"), b.join().expect("b"))
    });
    let won = [a.status.success(), b.status.success()].iter().filter(|w| **w).count();
    assert_eq!(won, 1, "ann: {}; ben: {}", stderr(&a), stderr(&b));
    let shown = reg.json(&admin, &["dataset", "show", "contested"]);
    assert_eq!(shown["version"], 1, "{shown}");
}

/// A trigger that grants every new dataset (or any view, or a table of one's own) added to the
/// database by hand makes every command refuse to open the registry, naming the object.
fn hand_made_schema_is_refused(reg: &Reg) {
    let admin = reg.init();
    let trigger = if reg.db.is_some() {
        "CREATE FUNCTION autogrant() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql; \
         CREATE TRIGGER autogrant AFTER INSERT ON datasets FOR EACH ROW EXECUTE FUNCTION autogrant();"
    } else {
        "CREATE TRIGGER autogrant AFTER INSERT ON datasets BEGIN SELECT 1; END;"
    };
    reg.sql(trigger);
    let o = reg.cmd(Some(&admin), &["whoami"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("trigger autogrant"), "{}", stderr(&o));
    let drop = if reg.db.is_some() {
        "DROP TRIGGER autogrant ON datasets; DROP FUNCTION autogrant();"
    } else {
        "DROP TRIGGER autogrant;"
    };
    reg.sql(drop);
    reg.ok(&admin, &["whoami"]);
    reg.sql("CREATE VIEW all_users AS SELECT * FROM users");
    let o = reg.cmd(Some(&admin), &["whoami"]);
    assert!(stderr(&o).contains("view all_users"), "{}", stderr(&o));
}

/// An insider who can write the database rewrites the audit log, recomputing every hash so the
/// chain holds: an edit, a reordering, an event added without the key, and a truncated tail (with
/// the head moved back and the newer checkpoints removed) are each caught: the first three by the
/// registry's signed checkpoints, the last by a checkpoint kept outside the registry.
fn audit_rewrites_are_caught(reg: &Reg) {
    let o = reg.cmd(None, &["init", "--json"]);
    let init: Value = serde_json::from_slice(&o.stdout).expect("init");
    let admin = init["admin_token"].as_str().expect("token").to_string();
    let public_key = init["audit_public_key"].as_str().expect("public key").to_string();
    assert_eq!(reg.ok(&admin, &["audit", "key"]).trim(), public_key);
    reg.ok(&admin, &["org", "add", "city-a", "--parent", "province"]);
    let alice = reg.user(&admin, "alice", "city-a", &["author"]);
    reg.refused(&alice, &["audit", "checkpoint"], "admin role");
    let kept = reg.home().join("kept-checkpoint.json");
    reg.ok(&admin, &["audit", "checkpoint", "--out", kept.to_str().expect("utf-8")]);
    let kept_arg = format!("--checkpoint={}", kept.display());
    let key_arg = format!("--public-key={public_key}");
    let (code, text) = reg.verify(&admin, &[&kept_arg, &key_arg]);
    assert_eq!(code, Some(0), "{text}");
    let original = reg.events();

    // Edit: alice made admin in the log, every hash recomputed.
    let mut edited = original.clone();
    let at = edited.iter().position(|e| e.3 == "user.add").expect("user.add");
    edited[at].5 = edited[at].5.replace("author", "admin");
    reg.rewrite_log(&edited);
    let (code, text) = reg.verify(&admin, &[&key_arg]);
    assert_eq!(code, Some(5), "an edit with a recomputed chain: {text}");
    assert!(text.contains("rewritten"), "{text}");

    // Reordering: two events swap places, the chain recomputed.
    let mut reordered = original.clone();
    let (a, b) = (reordered[1].clone(), reordered[2].clone());
    reordered[1] = (a.0, b.1, b.2, b.3, b.4, b.5);
    reordered[2] = (b.0, a.1, a.2, a.3, a.4, a.5);
    reg.rewrite_log(&reordered);
    let (code, text) = reg.verify(&admin, &[&key_arg]);
    assert_eq!(code, Some(5), "a reordering: {text}");

    // An event added without the registry's key.
    let mut added = original.clone();
    let last = added.last().expect("events").clone();
    added.push((
        last.0 + 1,
        last.1.clone(),
        "mallory".into(),
        "dataset.grant".into(),
        "t1".into(),
        "{}".into(),
    ));
    reg.rewrite_log(&added);
    let (code, text) = reg.verify(&admin, &[&key_arg]);
    assert_eq!(code, Some(5), "an event added behind the key's back: {text}");
    assert!(text.contains("covered by no signed checkpoint"), "{text}");

    // Truncation to an earlier command's head, its later checkpoints gone too: the registry alone
    // cannot tell, the kept checkpoint can.
    reg.rewrite_log(&original[..original.len() - 1]);
    reg.sql(&format!("DELETE FROM audit_checkpoints WHERE seq >= {}", original.len()));
    let (code, text) = reg.verify(&admin, &[&key_arg, &kept_arg]);
    assert_eq!(code, Some(5), "a truncated tail: {text}");
    assert!(text.contains("truncated"), "{text}");
}

/// Nobody approves what they published, and an approval covers the approver's subtree: a county
/// admin's approval lets the county run the plugin, not the province; approving again from higher
/// up widens it.
fn approval_is_four_eyes_and_scoped(reg: &Reg) {
    let admin = reg.init();
    two_cities(reg, &admin);
    let author_admin = reg.user(&admin, "ada", "county-a1", &["admin", "author"]);
    let county_admin = reg.user(&admin, "cora", "county-a1", &["admin"]);
    let city_admin = reg.user(&admin, "cyd", "city-a", &["admin"]);
    let alice = reg.user(&admin, "alice", "county-a1", &["author"]);
    let bob = reg.user(&admin, "bob", "county-b1", &["author"]);
    dataset_for_all(reg, &admin, "auctions", "judicial-auction-violations");

    let digest = publish(reg, &author_admin, "judicial-auction-violations");
    reg.refused(&author_admin, &["plugin", "approve", &digest], "four eyes");
    reg.ok(&county_admin, &["plugin", "approve", &digest, "--note", "county use"]);
    assert_eq!(reg.json(&alice, &["plugin", "show", &digest])["approved_for"], "county-a1");
    reg.ok(&alice, &["run", &digest, "--dataset", "auctions"]);
    reg.refused(&bob, &["run", &digest, "--dataset", "auctions"], "approved for county-a1 only");
    let o = reg.cmd(Some(&county_admin), &["plugin", "approve", &digest]);
    assert_eq!(o.status.code(), Some(1), "the same level cannot widen: {}", stderr(&o));

    reg.ok(&city_admin, &["plugin", "approve", &digest, "--note", "city use"]);
    reg.refused(&bob, &["run", &digest, "--dataset", "auctions"], "approved for city-a only");
    reg.ok(&admin, &["plugin", "approve", &digest, "--note", "province use"]);
    reg.ok(&bob, &["run", &digest, "--dataset", "auctions"]);
    reg.audit_intact(&admin);
}

/// Every path to a restricted run's clues goes through one check: the run command's table and
/// `--out`, `runs clues`, `runs export` all hold them until an admin above the data's owner (never
/// the runner) releases them; that admin sees the runs made on the data.
fn restricted_clues_stay_held(reg: &Reg) {
    let admin = reg.init();
    two_cities(reg, &admin);
    let alice = reg.user(&admin, "alice", "county-a1", &["author"]);
    let alice_admin = reg.user(&admin, "alma", "county-a1", &["admin"]);
    let owner_admin = reg.user(&admin, "olga", "county-b1", &["admin", "author"]);
    let dir = data("judicial-auction-violations");
    let dir = dir.to_str().expect("utf-8");
    reg.ok(
        &owner_admin,
        &[import_args("sealed", dir, "judicial-auction-violations", "sealed registry"), vec!["--restricted"]]
            .concat(),
    );
    reg.ok(&owner_admin, &["dataset", "approve", "sealed"]);
    reg.ok(&owner_admin, &["dataset", "grant", "sealed", "county-a1"]);
    let digest = publish(reg, &alice, "judicial-auction-violations");
    reg.ok(&admin, &["plugin", "approve", &digest, "--note", "ok"]);

    let out_file = reg.home().join("leak.jsonl");
    let out = out_file.to_str().expect("utf-8");
    let o = reg.cmd(Some(&alice), &["run", &digest, "--dataset", "sealed", "--out", out, "--top", "1000"]);
    assert_eq!(o.status.code(), Some(3), "{}{}", stdout(&o), stderr(&o));
    assert!(!out_file.exists(), "--out wrote the held clues");
    assert!(stdout(&o).contains("held") && !stdout(&o).contains("score  subject"), "{}", stdout(&o));
    let report = reg.json(&alice, &["run", &digest, "--dataset", "sealed"]);
    assert!(report["clues"].as_u64().expect("count") > 0 && report["held"].is_string(), "{report}");
    let id = reg.json(&alice, &["runs", "list"])[0]["id"].to_string();
    reg.refused(&alice, &["runs", "clues", &id, "--per-page", "10000", "--json"], "held until");
    reg.refused(&alice, &["runs", "export", &id], "held until");
    // The runner's own admin is not the data's: no release from that side.
    reg.refused(&alice_admin, &["runs", "release", &id], "not above county-b1");
    // The data's owner sees the runs made on it, and releases them.
    let seen = reg.json(&owner_admin, &["runs", "list"]);
    assert!(
        seen.as_array().expect("runs").iter().any(|r| r["id"].to_string().as_str() == id.as_str()),
        "{seen}"
    );
    reg.ok(&owner_admin, &["runs", "release", &id, "--note", "for the case team"]);
    assert!(!reg.json(&alice, &["runs", "clues", &id]).as_array().expect("clues").is_empty());

    // A rerun answered from a released run is held all the same: a release is that run's own.
    let alices = reg.json(&alice, &["runs", "list"]);
    let executed = alices.as_array().expect("runs").last().expect("the first run")["id"].to_string();
    reg.ok(&owner_admin, &["runs", "release", &executed, "--note", "the first run only"]);
    let rerun = reg.json(&alice, &["run", &digest, "--dataset", "sealed"]);
    assert_eq!(
        (rerun["reused_from"].to_string(), rerun["held"].is_string()),
        (executed.clone(), true),
        "{rerun}"
    );
    let rerun_id = reg.json(&alice, &["runs", "list"])[0]["id"].to_string();
    reg.refused(&alice, &["runs", "clues", &rerun_id, "--json"], "held until");
    reg.refused(&alice, &["runs", "export", &rerun_id], "held until");
    // Another city's author, not granted the data, gets no rerun of it and no clues of its runs.
    let carol = reg.user(&admin, "carol", "city-b", &["author"]);
    reg.refused(&carol, &["run", &digest, "--dataset", "sealed"], "is not granted to city-b");
    reg.refused(&carol, &["runs", "clues", &executed, "--json"], "reading another user's run");

    // Nobody releases their own run, admin or not.
    reg.ok(&owner_admin, &["run", &digest, "--dataset", "sealed"]);
    let own = reg.json(&owner_admin, &["runs", "list"])[0]["id"].to_string();
    reg.refused(&owner_admin, &["runs", "release", &own], "released by another admin");
    reg.ok(&admin, &["runs", "release", &own, "--note", "province decides"]);
    reg.audit_intact(&admin);
}

/// A model's clues exported as CSV never open as formulas in a spreadsheet.
fn spreadsheet_safe_export(reg: &Reg) {
    let admin = reg.init();
    let bob = reg.user(&admin, "bob", "province", &["author"]);
    let digest = publish(reg, &bob, &guest("guest-raw"));
    reg.ok(&admin, &["plugin", "approve", &digest, "--note", "ok"]);
    dataset_for_all(reg, &admin, "t1", "vehicle-insurance-fraud");
    let report = reg.json(&bob, &["run", &digest, "--dataset", "t1", "--param", "mode=formula"]);
    assert_eq!(report["clues"], 1, "{report}");
    let id = reg.json(&bob, &["runs", "list"])[0]["id"].to_string();
    let csv = reg.ok(&bob, &["runs", "export", &id, "--format", "csv"]);
    let row = csv.lines().nth(1).expect("one clue");
    assert!(row.contains("'=cmd|") && row.contains("'+rule") && row.contains("'@SUM(1+1)"), "{row}");
    // JSON lines keep the model's text as it was.
    let jsonl = reg.ok(&bob, &["runs", "export", &id, "--format", "jsonl"]);
    assert!(jsonl.contains("\"subject\":\"=cmd|"), "{jsonl}");
}

/// A model that sleeps in describe() and in run() is published, vetted, approved and run as a
/// stored run: registry commands call the sandbox off the async runtime (it used to panic the
/// process), every sleep returns at once, and the vetting canary keeps no labels.
fn sleeping_model(reg: &Reg) {
    let admin = reg.init();
    let bob = reg.user(&admin, "bob", "province", &["author"]);
    let sleeper = crate::attacks::patched_raw("sleep");
    let digest = publish(reg, &bob, sleeper.to_str().expect("utf-8"));
    let shown = reg.json(&bob, &["plugin", "show", &digest]);
    assert_eq!(shown["vetting"]["passed"], true, "{shown}");
    crate::attacks::assert_no_labels_in_canaries(reg.home());
    reg.ok(&admin, &["plugin", "approve", &digest, "--note", "sleeps, harmlessly"]);
    dataset_for_all(reg, &admin, "t1", "vehicle-insurance-fraud");
    let o = reg.cmd(Some(&bob), &["run", &digest, "--dataset", "t1", "--param", "mode=sleep", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).expect("report");
    assert_eq!(
        (report["outcome"].as_str(), report["clues"].as_u64()),
        (Some("completed"), Some(1)),
        "{report}"
    );
    let runs = reg.json(&bob, &["runs", "list"]);
    assert_eq!(runs[0]["state"], "completed", "{runs}");
    reg.audit_intact(&admin);
}

/// init → orgs and users → import, approve, grant → publish, vet, approve → run → clues, export →
/// restricted release → new dataset version → revoke → audit verifies.
fn lifecycle(reg: &Reg) {
    let admin = reg.init();
    assert_eq!(reg.cmd(None, &["init"]).status.code(), Some(1), "a second init is refused");
    reg.ok(&admin, &["org", "add", "city-a", "--parent", "province"]);
    reg.ok(&admin, &["org", "add", "county-a1", "--parent", "city-a"]);
    let alice = reg.user(&admin, "alice", "county-a1", &["author"]);

    let dir = data("judicial-auction-violations");
    let import =
        import_args("auctions", dir.to_str().expect("utf-8"), "judicial-auction-violations", "court");
    let imported = reg.json(&admin, &import);
    assert_eq!(imported["created"], true);
    assert_eq!(imported["dataset"]["state"], "pending");
    assert_eq!(imported["dataset"]["tables"].as_array().expect("tables").len(), 4);
    let again = reg.json(&admin, &import);
    assert_eq!(again["created"], false, "identical content is not a new version");
    assert_eq!(again["dataset"]["version"], 1);

    // A bad cell fails the whole import, names file, line and column, and leaves nothing behind.
    let bad = copy_with_relations(reg, &dir, "lifecycle-bad", "person_a,person_b,kind\np1,p2,kin\n");
    std::fs::remove_file(bad.join("auctions.parquet")).expect("remove");
    std::fs::write(
        bad.join("auctions.csv"),
        "item_id,court,case_no,kind,announced_on,starts_on,round,valuation,start_price,sold_price,buyer_id,bidder_count,debtor_id,docs_published\n\
         I1,c,k1,movable,2021-03-01,2021-04-01,1,100,100,,,0,d1,valuation_report\n\
         I2,c,k2,movable,2021-13-45,2021-04-01,1,100,100,,,0,d2,valuation_report\n",
    )
    .expect("write");
    let o = reg.cmd(
        Some(&admin),
        &import_args("broken", bad.to_str().expect("utf-8"), "judicial-auction-violations", "court"),
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("auctions.csv") && err.contains("line 3") && err.contains("announced_on"), "{err}");
    let names: Vec<String> = reg
        .json(&admin, &["dataset", "list"])
        .as_array()
        .expect("list")
        .iter()
        .map(|d| d["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names, ["auctions"], "the failed import left no dataset");
    let leftovers = std::fs::read_dir(reg.home().join("tmp")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "the failed import left its work files");

    let digest = publish(reg, &alice, "judicial-auction-violations");
    let shown = reg.json(&alice, &["plugin", "show", &digest[7..19]]);
    assert_eq!(shown["state"], "submitted");
    assert_eq!(shown["vetting"]["passed"], true, "{shown}");
    let checks: Vec<&str> = shown["vetting"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["check"].as_str())
        .collect();
    assert_eq!(
        checks,
        ["valid-component", "api-version", "describe", "canary-run", "deterministic", "parameter-sweep"]
    );
    assert_eq!(publish(reg, &alice, "judicial-auction-violations"), digest, "publishing twice is idempotent");

    // Not yet approved: neither the plugin nor the dataset may run.
    reg.refused(&alice, &["run", &digest, "--dataset", "auctions"], "submitted");
    reg.ok(&admin, &["plugin", "approve", &digest[..15], "--note", "rules match the provisions"]);
    reg.refused(&alice, &["run", &digest, "--dataset", "auctions"], "no approved version");
    reg.ok(&admin, &["dataset", "approve", "auctions"]);
    reg.refused(&alice, &["run", &digest, "--dataset", "auctions"], "not granted to county-a1");
    reg.ok(&admin, &["dataset", "grant", "auctions", "city-a"]);

    let o = reg.cmd(Some(&alice), &["run", &digest, "--dataset", "auctions", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).expect("report");
    let clue_count = report["clues"].as_u64().expect("clues");
    assert!(clue_count > 10);

    let runs = reg.json(&alice, &["runs", "list"]);
    let run = &runs[0];
    assert_eq!(run["state"], "completed");
    assert_eq!(run["clues"].as_u64(), Some(clue_count));
    assert_eq!(run["output_digest"], report["output_digest"]);
    assert_eq!(run["dataset"], "auctions@1");
    assert_eq!(run["host_version"], env!("CARGO_PKG_VERSION"));
    let id = run["id"].to_string();

    let page = reg.json(&alice, &["runs", "clues", &id, "--per-page", "5", "--sort", "score"]);
    let page = page.as_array().expect("clues");
    assert_eq!(page.len(), 5);
    let scores: Vec<f64> = page.iter().map(|c| c["score"].as_f64().expect("score")).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "sorted by score: {scores:?}");
    assert!(page[0]["evidence"][0]["table"].is_string(), "clues keep their evidence");

    let jsonl = reg.ok(&alice, &["runs", "export", &id, "--format", "jsonl"]);
    assert_eq!(jsonl.lines().count() as u64, clue_count);
    let csv = reg.ok(&alice, &["runs", "export", &id, "--format", "csv"]);
    assert!(csv.starts_with("seq,subject,score,rule,reason,evidence"));

    // A restricted dataset keeps its clues on the platform until an admin releases them.
    reg.ok(
        &admin,
        &[
            import_args(
                "auctions-sealed",
                dir.to_str().expect("utf-8"),
                "judicial-auction-violations",
                "sealed registry",
            ),
            vec!["--restricted"],
        ]
        .concat(),
    );
    reg.ok(&admin, &["dataset", "approve", "auctions-sealed"]);
    reg.ok(&admin, &["dataset", "grant", "auctions-sealed", "county-a1"]);
    reg.ok(&alice, &["run", &digest, "--dataset", "auctions-sealed"]);
    let sealed = reg.json(&alice, &["runs", "list"])[0]["id"].to_string();
    reg.refused(&alice, &["runs", "export", &sealed], "releases them");
    reg.refused(&alice, &["runs", "release", &sealed], "admin role");
    reg.ok(&admin, &["runs", "release", &sealed, "--note", "for the case team"]);
    assert_eq!(reg.ok(&alice, &["runs", "export", &sealed]).lines().count() as u64, clue_count);

    // Changed content under the same name is the next version; runs default to the newest approved.
    let changed = copy_with_relations(reg, &dir, "lifecycle-changed", "person_a,person_b,kind\np1,p2,kin\n");
    let changed = changed.to_str().expect("utf-8");
    let v2 = reg.json(&admin, &import_args("auctions", changed, "judicial-auction-violations", "court"));
    assert_eq!(v2["dataset"]["version"], 2);
    assert_eq!(v2["dataset"]["state"], "pending");
    reg.ok(&alice, &["run", &digest, "--dataset", "auctions"]);
    assert_eq!(reg.json(&alice, &["runs", "list"])[0]["dataset"], "auctions@1", "v2 is not approved yet");

    let listed = reg.json(&admin, &["plugin", "show", &digest]);
    assert_eq!(listed["runs"], 3);
    assert_eq!(listed["orgs_using"], 1);

    reg.ok(&admin, &["plugin", "revoke", &digest, "--note", "superseded"]);
    reg.refused(&alice, &["run", &digest, "--dataset", "auctions"], "revoked");

    let log = reg.json(&admin, &["audit", "log", "--limit", "1000"]);
    let actions: Vec<&str> =
        log.as_array().expect("events").iter().filter_map(|e| e["action"].as_str()).collect();
    for expected in [
        "registry.init",
        "org.add",
        "user.add",
        "dataset.import",
        "plugin.publish",
        "plugin.vet",
        "plugin.approve",
        "dataset.approve",
        "dataset.grant",
        "run.start",
        "run.finish",
        "run.export",
        "run.release",
        "plugin.revoke",
        "refused",
    ] {
        assert!(actions.contains(&expected), "no {expected} event in {actions:?}");
    }
    reg.audit_intact(&admin);
}

/// Each role against each guarded command, and access across procuratorates.
fn permission_matrix(reg: &Reg) {
    let admin = reg.init();
    reg.ok(&admin, &["org", "add", "city-a", "--parent", "province"]);
    reg.ok(&admin, &["org", "add", "city-b", "--parent", "province"]);
    reg.ok(&admin, &["org", "add", "county-a1", "--parent", "city-a"]);
    let author = reg.user(&admin, "author-a", "county-a1", &["author"]);
    let organizer = reg.user(&admin, "organizer-a", "city-a", &["organizer"]);
    let city_admin = reg.user(&admin, "admin-b", "city-b", &["admin", "author"]);
    let stranger = reg.user(&admin, "author-b", "city-b", &["author"]);

    let dir = data("judicial-auction-violations");
    let dir = dir.to_str().expect("utf-8");
    let import =
        ["dataset", "import", "auctions", dir, "--task", "judicial-auction-violations", "--source", "court"];
    reg.ok(&admin, &import);
    let digest = publish(reg, &author, "judicial-auction-violations");

    // Without a token, nothing but init.
    let o = reg.cmd(None, &["plugin", "list"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let o = reg.cmd(Some("sv_not-a-token"), &["dataset", "list"]);
    assert_eq!(o.status.code(), Some(3));

    // Admin-only commands, refused to an author and an organizer, naming the role.
    for token in [&author, &organizer] {
        reg.refused(token, &["plugin", "approve", &digest], "admin role");
        reg.refused(token, &["plugin", "reject", &digest], "admin role");
        reg.refused(token, &["dataset", "approve", "auctions"], "admin role");
        reg.refused(token, &["dataset", "grant", "auctions", "city-a"], "admin role");
        reg.refused(token, &["org", "add", "county-x", "--parent", "city-a"], "admin role");
        reg.refused(token, &["user", "add", "mallory", "--org", "city-a", "--role", "admin"], "admin role");
        reg.refused(token, &["audit", "verify"], "admin role");
        reg.refused(token, &["audit", "log"], "admin role");
        reg.refused(token, &["user", "token", "admin"], "admin role");
    }
    // Author-only commands, refused to an organizer.
    reg.refused(&organizer, &["plugin", "publish", "judicial-auction-violations"], "author role");
    reg.refused(
        &organizer,
        &["dataset", "import", "x", dir, "--task", "judicial-auction-violations", "--source", "s"],
        "author role",
    );
    reg.refused(&organizer, &["run", &digest, "--dataset", "auctions"], "author role");

    // An admin acts only on their own subtree.
    reg.refused(&city_admin, &["plugin", "approve", &digest], "not above county-a1");
    reg.refused(&city_admin, &["dataset", "approve", "auctions"], "not above province");
    reg.refused(&city_admin, &["org", "add", "county-x", "--parent", "city-a"], "not above city-a");
    reg.refused(&city_admin, &["user", "token", "author-a"], "not above county-a1");
    reg.ok(&admin, &["plugin", "approve", &digest]);
    reg.ok(&admin, &["dataset", "approve", "auctions"]);

    // Cross-procuratorate dataset access: only the granted subtree (and the owner's chain).
    reg.refused(&author, &["run", &digest, "--dataset", "auctions"], "not granted to county-a1");
    reg.ok(&admin, &["dataset", "grant", "auctions", "city-a"]);
    reg.ok(&author, &["run", &digest, "--dataset", "auctions"]);
    reg.refused(&stranger, &["run", &digest, "--dataset", "auctions"], "not granted to city-b");

    // Runs are private to their runner and the admins above them.
    let id = reg.json(&author, &["runs", "list"])[0]["id"].to_string();
    reg.refused(&stranger, &["runs", "clues", &id], "admin role");
    reg.refused(&city_admin, &["runs", "show", &id], "not above county-a1");
    reg.ok(&admin, &["runs", "show", &id]);
    assert_eq!(reg.json(&stranger, &["runs", "list"]).as_array().map(Vec::len), Some(0));
    assert_eq!(
        reg.json(&city_admin, &["runs", "list"]).as_array().map(Vec::len),
        Some(0),
        "not their subtree"
    );
    assert_eq!(
        reg.json(&admin, &["runs", "list"])[0]["id"].to_string(),
        id,
        "the root admin sees the county's run"
    );

    // Every refusal was logged, and the log is intact.
    let log = reg.json(&admin, &["audit", "log", "--limit", "1000"]);
    let refusals = log.as_array().expect("events").iter().filter(|e| e["action"] == "refused").count();
    assert!(refusals >= 25, "refusals logged: {refusals}");
    reg.audit_intact(&admin);
}

/// A prosecutor's verdicts on a run's clues: stored, replaced, shown with the clues, exported,
/// audited, refused to another city, summed into the model's field precision.
fn clue_review_and_field_precision(reg: &Reg) {
    let admin = reg.init();
    two_cities(reg, &admin);
    let alice = reg.user(&admin, "alice", "city-a", &["author"]);
    let mallory = reg.user(&admin, "mallory", "city-b", &["author"]);
    dataset_for_all(reg, &admin, "lending", "private-lending-fraud");
    let digest = publish(reg, &admin, "private-lending-fraud");
    approve_as_second_admin(reg, &admin, &digest);
    reg.ok(&alice, &["run", &digest, "--dataset", "lending"]);
    let id = reg.json(&alice, &["runs", "list"])[0]["id"].as_i64().expect("id").to_string();
    let clues = reg.json(&alice, &["runs", "clues", &id, "--per-page", "3"]);
    let subject = |i: usize| clues[i]["subject"].as_str().expect("subject").to_string();
    let (first, second, third) = (subject(0), subject(1), subject(2));

    let review = |token: &str, subject: &str, extra: &[&str]| {
        let mut args = vec!["runs", "review", &id, subject];
        args.extend_from_slice(extra);
        reg.cmd(Some(token), &args)
    };
    let confirmed =
        reg.json(&alice, &["runs", "review", &id, &first, "--verdict", "confirmed", "--note", "opened"]);
    assert_eq!(
        (confirmed["verdict"].as_str(), confirmed["reviewer"].as_str()),
        (Some("confirmed"), Some("alice"))
    );
    let o = review(&alice, &second, &["--verdict", "dismissed"]);
    assert!(!o.status.success() && stderr(&o).contains("needs a reason"), "{}", stderr(&o));
    reg.ok(
        &alice,
        &["runs", "review", &id, &second, "--verdict", "dismissed", "--reason", "loans were repaid"],
    );
    reg.ok(&alice, &["runs", "review", &id, &third, "--verdict", "needs-more-data"]);
    assert_eq!(review(&alice, "no-such-case", &["--verdict", "confirmed"]).status.code(), Some(4));
    assert_eq!(review(&mallory, &first, &["--verdict", "dismissed", "--reason", "x"]).status.code(), Some(3));
    let o = review(&alice, &first, &["--verdict", "confirmed", "--note", "a\u{1b}[31m"]);
    assert!(!o.status.success() && stderr(&o).contains("control characters"), "{}", stderr(&o));
    // An admin above alice's procuratorate may correct a verdict; the log keeps both.
    reg.ok(&admin, &["runs", "review", &id, &third, "--verdict", "confirmed"]);

    let reviews = reg.json(&alice, &["runs", "reviews", &id]);
    let verdicts: Vec<(&str, &str)> = reviews
        .as_array()
        .expect("reviews")
        .iter()
        .map(|r| (r["subject"].as_str().expect("subject"), r["verdict"].as_str().expect("verdict")))
        .collect();
    let mut expected =
        vec![(first.as_str(), "confirmed"), (second.as_str(), "dismissed"), (third.as_str(), "confirmed")];
    expected.sort();
    assert_eq!(verdicts, expected);
    let shown = reg.json(&alice, &["runs", "clues", &id, "--per-page", "3"]);
    assert_eq!(shown[1]["verdict"]["reason"], "loans were repaid", "{shown}");
    let csv = reg.ok(&alice, &["runs", "export", &id, "--format", "csv"]);
    assert!(csv.lines().next().expect("header").ends_with("verdict,verdict_reason"), "{csv}");
    assert!(csv.contains("dismissed,loans were repaid"), "{csv}");
    let log = reg.json(&admin, &["audit", "log", "--limit", "500"]);
    let review_events =
        log.as_array().expect("events").iter().filter(|e| e["action"] == "clue.review").count();
    assert_eq!(review_events, 4, "every verdict, replaced ones too");

    // Two confirmed, one dismissed: 2/3. Alice sees her city's row; mallory only the total.
    let precision = reg.json(&alice, &["plugin", "precision", &digest]);
    assert_eq!(precision["total"]["confirmed"], 2, "{precision}");
    assert_eq!(precision["total"]["dismissed"], 1);
    assert!((precision["total"]["precision"].as_f64().expect("precision") - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(precision["by_org"][0]["org"], "city-a");
    let theirs = reg.json(&mallory, &["plugin", "precision", &digest]);
    assert_eq!(theirs["by_org"].as_array().map(Vec::len), Some(0), "{theirs}");
    assert_eq!(theirs["total"]["confirmed"], 2);
}

/// Every task's bundled model, run on a registered dataset (its key domains read from the
/// import-time encoding) and on the same files ad hoc (domains shared at load): the same clues.
/// A model declaring some of a domain's columns is served only their values.
fn encoded_runs_give_the_clues_of_ad_hoc_runs(reg: &Reg) {
    let admin = reg.init();
    let approver = reg.user(&admin, "approver", "province", &["admin"]);
    for task in sieve_host::datasets::contract::TASKS {
        let dir = data(task);
        let dir_text = dir.to_str().expect("utf-8");
        let name = task.replace('-', "_");
        reg.ok(&admin, &import_args(&name, dir_text, task, "court"));
        reg.ok(&admin, &["dataset", "approve", &name]);
        let shown = reg.json(&admin, &["dataset", "show", &name]);
        let domains = shown["encoding"]["domains"].as_array().expect("encoded at import");
        assert!(!domains.is_empty(), "{task}: {shown}");
        let digest = publish(reg, &admin, task);
        reg.ok(&approver, &["plugin", "approve", &digest]);
        let stored = reg.json(&admin, &["run", &digest, "--dataset", &name]);
        let o = crate::common::run(&["run", task, "--data", dir_text, "--json"]);
        let ad_hoc: Value = serde_json::from_str(&stdout(&o)).expect("report");
        assert_eq!(stored["outcome"], "completed", "{task}: {stored}");
        assert_eq!(stored["output_digest"], ad_hoc["output_digest"], "{task}");
        assert!(stored["clues"].as_u64().expect("clues") > 0, "{task}");
    }
    // A model declaring one column of a key domain (the hostile guest's `repair_shop`) finds in
    // the stored dictionary it is served that column's values and no other column's: the guest
    // fails its run otherwise.
    let hostile = publish(reg, &admin, &guest("guest-hostile"));
    reg.ok(&approver, &["plugin", "approve", &hostile]);
    let args = ["run", &hostile, "--dataset", "vehicle_insurance_fraud", "--param", "mode=dictionary-scope"];
    let scoped = reg.json(&admin, &args);
    assert_eq!(scoped["outcome"], "completed", "{scoped}");

    // A version imported before encodings existed: runs still give the same clues, and an admin
    // encodes it afterwards (an author may not).
    reg.sql("UPDATE datasets SET encoding = NULL WHERE name = 'vehicle_enforcement'");
    let digest = reg
        .json(&admin, &["plugin", "list"])
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["task"] == "vehicle-enforcement")
        .expect("T6")["digest"]
        .as_str()
        .expect("digest")
        .to_string();
    let before =
        reg.json(&admin, &["run", &digest, "--dataset", "vehicle_enforcement"])["output_digest"].clone();
    let author = reg.user(&admin, "author", "province", &["author"]);
    reg.refused(&author, &["dataset", "encode", "vehicle_enforcement"], "admin");
    reg.ok(&admin, &["dataset", "encode", "vehicle_enforcement"]);
    let shown = reg.json(&admin, &["dataset", "show", "vehicle_enforcement"]);
    assert_eq!(shown["encoding"]["domains"].as_array().map(Vec::len), Some(3), "{shown}");
    let after =
        reg.json(&admin, &["run", &digest, "--dataset", "vehicle_enforcement"])["output_digest"].clone();
    assert_eq!(before, after);
}

/// A plugin blob altered on disk, a dataset table altered on disk, a corrupted compiled-cache
/// entry, and altered or deleted audit rows.
/// Flip a byte in the middle of the file at `path`, as an attacker with the disk would; returns
/// its bytes before, to restore.
pub fn flip_middle_byte(path: &Path) -> Vec<u8> {
    let original = std::fs::read(path).expect("a blob");
    let mut altered = original.clone();
    let middle = altered.len() / 2;
    altered[middle] ^= 0xff;
    std::fs::write(path, &altered).expect("alter");
    original
}

fn tampering(reg: &Reg) {
    let admin = reg.init();
    let dir = data("judicial-auction-violations");
    let dir = dir.to_str().expect("utf-8");
    reg.ok(&admin, &import_args("auctions", dir, "judicial-auction-violations", "court"));
    reg.ok(&admin, &["dataset", "approve", "auctions"]);
    let digest = publish(reg, &admin, "judicial-auction-violations");
    approve_as_second_admin(reg, &admin, &digest);
    reg.ok(&admin, &["run", &digest, "--dataset", "auctions"]);

    // A corrupted compiled-code entry is discarded and rebuilt: the next run still completes.
    let cache = reg.home().join("cache").join("compiled");
    let mut corrupted = 0;
    for entry in std::fs::read_dir(&cache).expect("cache dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "cwasm") {
            std::fs::write(&path, b"garbage").expect("corrupt");
            corrupted += 1;
        }
    }
    assert!(corrupted > 0, "the run left compiled code in {}", cache.display());
    let o = reg.cmd(Some(&admin), &["run", &digest, "--dataset", "auctions", "--json", "--fresh"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).expect("report");
    assert_eq!(report["compiled_code"], "rebuilt");

    // A version without column files (imported before them) reads its Parquet tables: one altered
    // on disk fails the run with hash-mismatch and nothing is kept.
    let shown = reg.json(&admin, &["dataset", "show", "auctions"]);
    reg.sql("UPDATE datasets SET encoding = NULL WHERE name = 'auctions'");
    let table_blob = reg.blob(shown["tables"][0]["digest"].as_str().expect("digest"));
    let original = flip_middle_byte(&table_blob);
    let o = reg.cmd(Some(&admin), &["run", &digest, "--dataset", "auctions", "--json", "--fresh"]);
    let report: Value = serde_json::from_str(&stdout(&o)).expect("report");
    assert_eq!(report["outcome"], "hash-mismatch", "{report}");
    assert_ne!(o.status.code(), Some(0));
    assert_eq!(reg.json(&admin, &["runs", "list"])[0]["state"], "failed");
    std::fs::write(&table_blob, &original).expect("restore table");
    reg.ok(&admin, &["dataset", "encode", "auctions"]);
    assert_eq!(reg.json(&admin, &["dataset", "show", "auctions"])["encoding"], shown["encoding"]);

    // A column file, a domain dictionary or a domain column's codes altered on disk: hash-mismatch
    // too, with no clue stored and the tampering audited. (The model reads every domain, through
    // `auctions`, and not `bids`.) A date column's file still parses when altered, so the model
    // runs on it to the end: its blob is checked beside the model, and what it made is dropped.
    let encoding = &shown["encoding"];
    let blobs = [
        &encoding["columns"]["auctions"]["starts_on"],
        &encoding["domains"][0]["dictionary"],
        &encoding["columns"]["auctions"]["item_id"],
    ];
    for blob in blobs {
        let path = reg.blob(blob.as_str().expect("digest"));
        let original = flip_middle_byte(&path);
        let o = reg.cmd(Some(&admin), &["run", &digest, "--dataset", "auctions", "--json", "--fresh"]);
        let report: Value = serde_json::from_str(&stdout(&o)).expect("report");
        assert_eq!(report["outcome"], "hash-mismatch", "{blob}: {report}");
        // Held to the BLAKE3 check digest the manifest keeps beside the blob's name.
        let detail = report["detail"].as_str().expect("detail");
        assert!(
            detail.contains(encoding["checks"][blob.as_str().expect("digest")].as_str().expect("check")),
            "{detail}"
        );
        assert_eq!(report["clues"], 0, "{blob}: {report}");
        let run = &reg.json(&admin, &["runs", "list"])[0];
        assert_eq!((&run["state"], &run["clues"]), (&Value::from("failed"), &Value::from(0)), "{run}");
        let stored = reg.sql_column(&format!(
            "SELECT CAST((SELECT count(*) FROM clues WHERE run_id = {0}) + (SELECT count(*) FROM clue_sets \
             WHERE run_id = {0}) AS TEXT)",
            run["id"]
        ));
        assert_eq!(stored, [Some("0".to_string())], "{blob}: clues of a run on altered data were stored");
        let log = reg.json(&admin, &["audit", "log", "--target", "auctions@1"]);
        let tampered =
            log.as_array().expect("events").iter().filter(|e| e["action"] == "dataset.tampered").count();
        assert!(tampered > 0, "{blob}: {log}");
        std::fs::write(&path, &original).expect("restore");
    }

    // A domain dictionary's header altered to announce one entry fewer or more: its codes are
    // checked against that count before the dictionary is read (beside the model), and either way
    // the run is hash-mismatch with nothing stored.
    let path = reg.blob(encoding["domains"][0]["dictionary"].as_str().expect("digest"));
    let original = std::fs::read(&path).expect("dictionary blob");
    let entries = u64::from_le_bytes(original[16..24].try_into().expect("a header"));
    for announced in [entries - 1, entries + 1] {
        let mut altered = original.clone();
        altered[16..24].copy_from_slice(&announced.to_le_bytes());
        std::fs::write(&path, &altered).expect("alter");
        let o = reg.cmd(Some(&admin), &["run", &digest, "--dataset", "auctions", "--json", "--fresh"]);
        let report: Value = serde_json::from_str(&stdout(&o)).expect("report");
        assert_eq!(report["outcome"], "hash-mismatch", "{announced} of {entries} entries: {report}");
        assert_eq!(report["clues"], 0, "{report}");
        std::fs::write(&path, &original).expect("restore");
    }

    // A manifest written before check digests were kept: its blobs are held to their names, and a
    // column file altered on disk is hash-mismatch all the same.
    let mut older = encoding.clone();
    older.as_object_mut().expect("a manifest").remove("checks").expect("check digests");
    reg.sql(&format!("UPDATE datasets SET encoding = '{older}' WHERE name = 'auctions'"));
    reg.ok(&admin, &["run", &digest, "--dataset", "auctions", "--fresh"]);
    let column = encoding["columns"]["auctions"]["starts_on"].as_str().expect("digest");
    let path = reg.blob(column);
    let original = flip_middle_byte(&path);
    let o = reg.cmd(Some(&admin), &["run", &digest, "--dataset", "auctions", "--json", "--fresh"]);
    let report: Value = serde_json::from_str(&stdout(&o)).expect("report");
    assert_eq!(report["outcome"], "hash-mismatch", "{report}");
    assert!(report["detail"].as_str().expect("detail").contains(column), "{report}");
    assert_eq!(report["clues"], 0, "{report}");
    std::fs::write(&path, &original).expect("restore");
    reg.sql(&format!("UPDATE datasets SET encoding = '{encoding}' WHERE name = 'auctions'"));

    // The plugin blob altered on disk: the run is refused, the plugin marked tampered, an event logged.
    let blob = reg.blob(&digest);
    let mut bytes = std::fs::read(&blob).expect("blob");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&blob, &bytes).expect("alter blob");
    let o = reg.cmd(Some(&admin), &["run", &digest, "--dataset", "auctions", "--fresh"]);
    assert_eq!(o.status.code(), Some(18), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("hash-mismatch"), "{}", stderr(&o));
    assert_eq!(reg.json(&admin, &["plugin", "show", &digest])["tampered"], true);
    reg.refused(&admin, &["run", &digest, "--dataset", "auctions"], "tampered");
    let log = reg.json(&admin, &["audit", "log", "--target", &digest]);
    assert!(log.as_array().expect("events").iter().any(|e| e["action"] == "plugin.tampered"), "{log}");
    reg.audit_intact(&admin);

    // An altered audit row is found, and named.
    reg.sql("UPDATE audit_events SET actor = 'nobody' WHERE seq = 3");
    let o = reg.cmd(Some(&admin), &["audit", "verify", "--json"]);
    assert_eq!(o.status.code(), Some(5));
    let verdict: Value = serde_json::from_str(&stdout(&o)).expect("verdict");
    assert_eq!(verdict["status"], "broken");
    assert_eq!(verdict["seq"], 3);
    assert!(stdout(&o).contains("altered"), "{}", stdout(&o));

    // So is a deleted one (in the middle, and at the end).
    reg.sql("DELETE FROM audit_events WHERE seq = 5");
    let verdict: Value =
        serde_json::from_str(&stdout(&reg.cmd(Some(&admin), &["audit", "verify", "--json"])))
            .expect("verdict");
    assert_eq!(verdict["seq"], 3, "still the first bad event");
}

/// kill -9 during an import and during a run; afterwards no half-written dataset, the run is marked
/// failed, and the audit log verifies.
fn crash_safety(reg: &Reg) {
    let admin = reg.init();
    let big = reg.fresh_dir("crash-big");
    let o = crate::common::run(&[
        "gen",
        "vehicle-insurance-fraud",
        "--scale",
        "30",
        "--format",
        "csv",
        "--out",
        big.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    let mut import = spawn(
        reg,
        &admin,
        &[
            "dataset",
            "import",
            "big",
            big.to_str().expect("utf-8"),
            "--task",
            "vehicle-insurance-fraud",
            "--source",
            "s",
        ],
    );
    // Kill it once it is mid-way: its scratch directory exists and it has not finished.
    let scratch = reg.home().join("tmp");
    let started = std::time::Instant::now();
    while !std::fs::read_dir(&scratch)
        .is_ok_and(|mut d| d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("work-"))))
    {
        assert!(started.elapsed().as_secs() < 60, "the import never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(import.try_wait().expect("wait").is_none(), "the import finished before it could be killed");
    import.kill().expect("kill -9 the import");
    import.wait().expect("reap");
    let listed = reg.json(&admin, &["dataset", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "no half-written dataset: {listed}");
    let leftovers = std::fs::read_dir(&scratch).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "the next command swept the killed import's work files");
    reg.audit_intact(&admin);
    // The same import afterwards succeeds whole.
    let done =
        reg.json(&admin, &import_args("big", big.to_str().expect("utf-8"), "vehicle-insurance-fraud", "s"));
    assert_eq!(done["dataset"]["version"], 1);

    // A run killed mid-way: a model that loops until its deadline (it passed vetting in its default mode).
    reg.ok(&admin, &["dataset", "approve", "big"]);
    let hostile = guest("guest-hostile");
    let digest = publish(reg, &admin, &hostile);
    approve_as_second_admin(reg, &admin, &digest);
    // A long enough leash for the loop to be killed while it runs, within a policy that allows it.
    let leash = ["--fuel", "1e12", "--deadline", "120"];
    reg.ok(&admin, &[&["policy", "set"][..], &leash].concat());
    let mut run = spawn(
        reg,
        &admin,
        &[&["run", &digest, "--dataset", "big", "--param", "mode=loop"][..], &leash].concat(),
    );
    let mut waited = 0;
    while reg.json(&admin, &["runs", "list"]).as_array().is_none_or(|r| r.is_empty()) {
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
        assert!(waited < 300, "the run never started");
    }
    assert_eq!(reg.json(&admin, &["runs", "list"])[0]["state"], "running");
    run.kill().expect("kill -9 the run");
    run.wait().expect("reap");
    // The next command notices the dead process and marks the run failed.
    let after = reg.json(&admin, &["runs", "list"]);
    assert_eq!(after[0]["state"], "failed", "{after}");
    assert_eq!(after[0]["outcome"], "host-crash");
    assert_eq!(after[0]["clues"], 0);
    reg.audit_intact(&admin);
}

/// Several processes run models on the same home at once: every run is stored whole, and the
/// audit chain stays linear.
fn concurrent_runs(reg: &Reg) {
    let admin = reg.init();
    let dir = data("restricted-debtor-travel");
    reg.ok(
        &admin,
        &import_args("travel", dir.to_str().expect("utf-8"), "restricted-debtor-travel", "airlines"),
    );
    reg.ok(&admin, &["dataset", "approve", "travel"]);
    let digest = publish(reg, &admin, "restricted-debtor-travel");
    approve_as_second_admin(reg, &admin, &digest);
    let children: Vec<_> =
        (0..4).map(|_| spawn(reg, &admin, &["run", &digest, "--dataset", "travel", "--json"])).collect();
    let mut digests = Vec::new();
    for child in children {
        let o = child.wait_with_output().expect("wait");
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).expect("report");
        digests.push(v["output_digest"].as_str().expect("digest").to_string());
    }
    digests.dedup();
    assert_eq!(digests.len(), 1, "the same run gives the same output");
    let runs = reg.json(&admin, &["runs", "list"]);
    let runs = runs.as_array().expect("runs");
    assert_eq!(runs.len(), 4);
    assert!(runs.iter().all(|r| r["state"] == "completed" && r["clues"] == runs[0]["clues"]));
    let v = reg.audit_intact(&admin);
    assert!(v["events"].as_i64().expect("events") >= 4 + 8, "{v}");
}

fn spawn(reg: &Reg, token: &str, args: &[&str]) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sieve"));
    cmd.env("SIEVE_HOME", reg.home()).env("SIEVE_TOKEN", token).env_remove("SIEVE_DATABASE_URL");
    if let Some(db) = &reg.db {
        cmd.env("SIEVE_DATABASE_URL", db);
    }
    cmd.args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sieve")
}
