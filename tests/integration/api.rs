//! The HTTP API through the real router on a real registry (SQLite, and PostgreSQL when CI gives
//! one), and `sieve serve` as a process: draining on SIGTERM, and a restart after kill -9.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::common::stderr;
use crate::registry::{Reg, data};
use sieve_host::api::{self, AppState};
use sieve_host::registry::Registry;

crate::on_both_databases!(api_end_to_end, openapi_lists_every_route, api_permission_matrix);

/// A router on `reg`'s registry with one worker, driven by its own runtime.
struct Api {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    registry: Registry,
    home: std::path::PathBuf,
}

/// A response: status, content type and body.
struct Answer {
    status: StatusCode,
    kind: String,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The error code of a JSON error body.
    fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_string()
    }
}

impl Api {
    fn new(reg: &Reg) -> Api {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let home = reg.home().to_path_buf();
        let (router, registry) = runtime.block_on(async {
            let registry = Registry::open(&home, reg.db()).await.expect("registry");
            let sandbox = sieve_host::sandbox::Sandbox::new(None).expect("sandbox");
            let (state, _) = AppState::start(registry.clone(), sandbox, 1).expect("state");
            (api::router(state).0, registry)
        });
        Api { runtime, router, registry, home }
    }

    fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<(&str, Vec<u8>)>) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            request = request.header("authorization", format!("Bearer {t}"));
        }
        let request = match body {
            Some((kind, bytes)) => request.header("content-type", kind).body(Body::from(bytes)),
            None => request.body(Body::empty()),
        }
        .expect("request");
        self.runtime.block_on(async {
            let response = self.router.clone().oneshot(request).await.expect("router answers");
            let status = response.status();
            let kind = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body").to_vec();
            Answer { status, kind, body }
        })
    }

    fn get(&self, path: &str, token: &str) -> Answer {
        self.call("GET", path, Some(token), None)
    }

    fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call("POST", path, Some(token), Some(("application/json", body.to_string().into_bytes())))
    }

    /// Sign the audit log's head as the server does every few seconds.
    fn seal(&self) {
        self.runtime.block_on(async {
            let key = sieve_host::audit::signing::AuditKey::load_or_create(&self.home).expect("key");
            sieve_host::audit::signing::seal(&self.registry.db, &key).await.expect("seal");
        });
    }

    /// Poll run `id` until it is finished; its status.
    fn wait(&self, id: i64, token: &str) -> Value {
        let started = Instant::now();
        loop {
            let status = self.get(&format!("/api/runs/{id}"), token).json();
            if status["run"]["state"] == "completed" || status["run"]["state"] == "failed" {
                return status;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "run {id} never finished: {status}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A tar archive of the files in `dir`.
fn tar_of(dir: &Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        builder.append_path_with_name(&path, path.file_name().expect("name")).expect("append");
    }
    builder.into_inner().expect("tar")
}

/// A `multipart/form-data` body (and its content type) with one part per `(file name, bytes)`;
/// a part without a file name is a plain form field.
fn multipart(parts: &[(Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "sieve-test-boundary-7d1f";
    let mut body = Vec::new();
    for (i, (file, bytes)) in parts.iter().enumerate() {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = match file {
            Some(f) => format!("Content-Disposition: form-data; name=\"tables\"; filename=\"{f}\"\r\n"),
            None => format!("Content-Disposition: form-data; name=\"field{i}\"\r\n"),
        };
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"Content-Type: application/octet-stream\r\n\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A tar archive holding one entry named `name`.
fn tar_with_entry(name: &str) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.set_size(3);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    // Written by hand: tar's own setters refuse `..`, an attacker's archive does not.
    let bytes = name.as_bytes();
    header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
    header.set_cksum();
    let mut out = Vec::new();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(b"a,b");
    out.resize(out.len() + 509, 0);
    out.resize(out.len() + 1024, 0);
    out
}

fn api_end_to_end(reg: &Reg) {
    let admin = reg.init();
    let api = Api::new(reg);
    // Unauthenticated and bad tokens: 401 JSON, logged.
    let a = api.call("GET", "/api/whoami", None, None);
    assert_eq!((a.status, a.code().as_str()), (StatusCode::UNAUTHORIZED, "unauthenticated"));
    assert!(a.kind.starts_with("application/json"));
    assert_eq!(api.get("/api/whoami", "sv_nonsense").status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.get("/api/whoami", &admin).json()["name"], "admin");

    // Accounts.
    for city in ["city-a", "city-b"] {
        let a = api.post("/api/orgs", &admin, json!({"name": city, "parent": "province"}));
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    }
    let user = |name: &str, org: &str, roles: &[&str]| {
        let a = api.post("/api/users", &admin, json!({"name": name, "org": org, "roles": roles}));
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
        a.json()["token"].as_str().expect("token").to_string()
    };
    let alice = user("alice", "city-a", &["author"]);
    let approver = user("approver", "province", &["admin"]);
    let mallory = user("mallory", "city-b", &["author"]);
    let a = api.post("/api/users", &alice, json!({"name": "x", "org": "city-a", "roles": ["admin"]}));
    assert_eq!((a.status, a.code().as_str()), (StatusCode::FORBIDDEN, "forbidden"), "{}", a.text());
    // Bad JSON, wrong type, unknown fields: 4xx with the reason, never a 500.
    let a = api.call("POST", "/api/orgs", Some(&admin), Some(("application/json", b"{\"name\": ".to_vec())));
    assert_eq!((a.status, a.code().as_str()), (StatusCode::BAD_REQUEST, "bad_request"), "{}", a.text());
    let a = api.call("POST", "/api/orgs", Some(&admin), Some(("text/plain", b"{}".to_vec())));
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", a.text());
    assert_eq!(api.post("/api/orgs", &admin, json!({"name": 5})).status, StatusCode::BAD_REQUEST);

    // Plugins by upload.
    let t2 = sieve_host::bundled::get("private-lending-fraud").expect("bundled").to_vec();
    let a = api.call("POST", "/api/plugins", Some(&alice), Some(("application/wasm", t2.clone())));
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let digest = a.json()["plugin"]["digest"].as_str().expect("digest").to_string();
    let again = api.call("POST", "/api/plugins", Some(&alice), Some(("application/wasm", t2)));
    assert_eq!((again.status, again.json()["created"].as_bool()), (StatusCode::OK, Some(false)));
    assert_eq!(
        api.call("POST", "/api/plugins", Some(&alice), Some(("text/plain", b"x".to_vec()))).status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        api.call("POST", "/api/plugins", Some(&alice), Some(("application/wasm", Vec::new()))).status,
        StatusCode::BAD_REQUEST
    );
    let junk =
        api.call("POST", "/api/plugins", Some(&alice), Some(("application/wasm", b"\0asm garbage".to_vec())));
    assert_eq!(junk.status, StatusCode::BAD_REQUEST, "{}", junk.text());
    let huge =
        api.call("POST", "/api/plugins", Some(&alice), Some(("application/wasm", vec![0u8; (64 << 20) + 1])));
    assert_eq!((huge.status, huge.code().as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "too_large"));
    assert_eq!(
        std::fs::read_dir(api.home.join("spool")).expect("spool").count(),
        0,
        "no upload is left behind"
    );
    let own = api.post(&format!("/api/plugins/{digest}/approve"), &alice, json!({"note": "mine"}));
    assert_eq!(own.status, StatusCode::FORBIDDEN);
    let ok = api.post(&format!("/api/plugins/{digest}/approve"), &approver, json!({"note": "four eyes"}));
    assert_eq!((ok.status, ok.json()["state"].as_str()), (StatusCode::OK, Some("approved")), "{}", ok.text());
    assert_eq!(api.get("/api/plugins/ffff", &alice).status, StatusCode::NOT_FOUND);

    // Datasets by tar upload; an archive reaching outside its directory is refused whole.
    let tar = tar_of(&data("private-lending-fraud"));
    let import = "/api/datasets?name=lending&task=private-lending-fraud&source=court";
    let a = api.call("POST", import, Some(&admin), Some(("application/x-tar", tar)));
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    for evil in ["../escape.csv", "sub/dir.csv", "lending_cases.exe"] {
        let a = api.call(
            "POST",
            "/api/datasets?name=evil&task=private-lending-fraud&source=x",
            Some(&admin),
            Some(("application/x-tar", tar_with_entry(evil))),
        );
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{evil}: {}", a.text());
    }
    assert!(!api.home.join("spool").join("..").join("escape.csv").exists());
    let a = api.call(
        "POST",
        "/api/datasets?name=evil&task=private-lending-fraud&source=x",
        Some(&admin),
        Some(("application/x-tar", b"not a tar at all".to_vec())),
    );
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    assert_eq!(
        api.call("POST", "/api/datasets?name=x", Some(&admin), Some(("application/x-tar", b"x".to_vec())))
            .status,
        StatusCode::BAD_REQUEST,
        "task and source are required"
    );
    // The same tables as a multipart set of files, as a browser sends them: the same content.
    let files: Vec<(String, Vec<u8>)> = std::fs::read_dir(data("private-lending-fraud"))
        .expect("dir")
        .map(|e| {
            let path = e.expect("entry").path();
            (
                path.file_name().expect("name").to_string_lossy().into_owned(),
                std::fs::read(&path).expect("read"),
            )
        })
        .collect();
    let parts: Vec<(Option<&str>, &[u8])> =
        files.iter().map(|(n, b)| (Some(n.as_str()), b.as_slice())).collect();
    let (kind, body) = multipart(&parts);
    let again = api.call("POST", import, Some(&admin), Some((&kind, body)));
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    let again = again.json();
    assert_eq!((&again["created"], &again["dataset"]["version"]), (&json!(false), &json!(1)), "{again}");
    let evil_forms: [&[(Option<&str>, &[u8])]; 4] = [
        &[(Some("../escape.csv"), b"a,b")],
        &[(Some("lending_cases.exe"), b"a,b")],
        &[(None, b"not a file")],
        &[(Some("debts.csv"), b"a,b"), (Some("debts.csv"), b"a,b")],
    ];
    for form in evil_forms {
        let (kind, body) = multipart(form);
        let evil = "/api/datasets?name=evil&task=private-lending-fraud&source=x";
        let r = api.call("POST", evil, Some(&admin), Some((&kind, body)));
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{form:?}: {}", r.text());
    }
    let r = api.call("POST", import, Some(&admin), Some(("multipart/form-data", b"--x\r\n".to_vec())));
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "no boundary: {}", r.text());
    assert_eq!(std::fs::read_dir(api.home.join("spool")).expect("spool").count(), 0, "nothing left behind");
    assert_eq!(api.post("/api/datasets/lending/approve", &admin, json!({})).status, StatusCode::OK);
    assert_eq!(
        api.post("/api/datasets/lending/grants", &admin, json!({"org": "city-a"})).status,
        StatusCode::OK
    );

    // A run: 202 at once, then status until it finishes; clues paged; export.
    let a = api.post(
        "/api/runs",
        &alice,
        json!({"plugin": digest, "dataset": "lending", "params": {"min-suits": "15"}}),
    );
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text());
    let id = a.json()["id"].as_i64().expect("id");
    let status = api.wait(id, &alice);
    assert_eq!(status["run"]["outcome"], "completed", "{status}");
    let page = api.get(&format!("/api/runs/{id}/clues?per_page=5&sort=score"), &alice).json();
    assert_eq!(page.as_array().expect("clues").len(), 5);
    for bad in ["per_page=100000", "page=-1", "page=0", "sort=bogus", "per_page=abc"] {
        let a = api.get(&format!("/api/runs/{id}/clues?{bad}"), &alice);
        assert_eq!(
            (a.status, a.code().as_str()),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{bad}: {}",
            a.text()
        );
    }
    let csv = api.get(&format!("/api/runs/{id}/export?format=csv"), &alice);
    assert!(csv.kind.starts_with("text/csv") && csv.text().starts_with("seq,subject,score"), "{}", csv.kind);
    let jsonl = api.get(&format!("/api/runs/{id}/export"), &alice);
    assert_eq!(jsonl.text().lines().count() as i64, status["run"]["clues"].as_i64().expect("clues"));
    // Others' runs, unknown runs, policy, and bad requests.
    assert_eq!(api.get(&format!("/api/runs/{id}"), &mallory).status, StatusCode::FORBIDDEN);
    assert_eq!(api.get("/api/runs/999999", &alice).status, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/api/runs/abc", &alice).status, StatusCode::BAD_REQUEST);
    let a = api.post("/api/runs", &mallory, json!({"plugin": digest, "dataset": "lending"}));
    assert_eq!(a.status, StatusCode::FORBIDDEN, "not granted: {}", a.text());
    let a = api.post(
        "/api/runs",
        &alice,
        json!({"plugin": digest, "dataset": "lending", "limits": {"fuel": 1e15}}),
    );
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    let a = api.post("/api/runs", &alice, json!({"plugin": digest, "dataset": "lending", "colour": "red"}));
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "unknown fields are refused: {}", a.text());
    // Server-sent events end with the finished status.
    let events = api.get(&format!("/api/runs/{id}/events"), &alice);
    assert!(events.kind.starts_with("text/event-stream"), "{}", events.kind);
    assert!(
        events.text().contains("event: status") && events.text().contains("\"completed\""),
        "{}",
        events.text()
    );

    // Unknown routes and methods are JSON errors too.
    assert_eq!(api.get("/api/nothing-here", &alice).code(), "not_found");
    assert_eq!(api.call("DELETE", "/api/runs", Some(&alice), None).status, StatusCode::METHOD_NOT_ALLOWED);

    // Metrics and the audit log (refusals included), which verifies.
    let metrics = api.call("GET", "/metrics", None, None).text();
    assert!(
        metrics.contains("sieve_http_requests_total{method=\"POST\",route=\"/api/runs\",status=\"202\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("sieve_runs_total{outcome=\"completed\"} 1"), "{metrics}");
    assert!(
        metrics.contains("sieve_http_request_duration_seconds_bucket{route=\"/api/whoami\""),
        "{metrics}"
    );
    let log = api.get("/api/audit?limit=500", &admin).json();
    let actions: Vec<&str> =
        log.as_array().expect("events").iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["run.queue", "run.finish", "plugin.approve", "refused"] {
        assert!(actions.contains(&action), "no {action} in {actions:?}");
    }
    assert_eq!(api.get("/api/audit?limit=0", &admin).status, StatusCode::BAD_REQUEST);
    assert_eq!(api.get("/api/audit", &alice).status, StatusCode::FORBIDDEN);
    api.seal();
    assert_eq!(api.get("/api/audit/verify", &admin).json()["status"], "intact");
    assert!(api.call("GET", "/readyz", None, None).status.is_success());
}

/// Every operation the OpenAPI document lists is served (never the router's fallbacks), and
/// every route the router serves is in the document: the router is built from the documented
/// handlers, so an undocumented path falls through to the JSON 404.
fn openapi_lists_every_route(reg: &Reg) {
    let admin = reg.init();
    let api = Api::new(reg);
    let doc = api.call("GET", "/api/openapi.json", None, None).json();
    assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"), "{}", doc["openapi"]);
    let paths = doc["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        for method in ["get", "post", "put", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            operations += 1;
            let concrete = path.replace("{digest}", "abcd").replace("{name}", "nothing").replace("{id}", "1");
            let body = (method != "get").then(|| ("application/json", b"{}".to_vec()));
            let a = api.call(&method.to_uppercase(), &concrete, Some(&admin), body);
            assert!(
                a.status != StatusCode::METHOD_NOT_ALLOWED
                    && !(a.status == StatusCode::NOT_FOUND && a.text().contains("no such route")),
                "{method} {path} is documented but not served: {} {}",
                a.status,
                a.text()
            );
            assert_ne!(a.status, StatusCode::INTERNAL_SERVER_ERROR, "{method} {path}: {}", a.text());
        }
    }
    assert!(operations >= 40, "only {operations} operations documented");
    let a = api.get("/api/undocumented", &admin);
    assert_eq!((a.status, a.code().as_str()), (StatusCode::NOT_FOUND, "not_found"));
}

/// `sieve serve` as a process on a free port; its base URL.
/// (`workers`: how many runs it executes at once.)
pub fn spawn_server(home: &Path, workers: &str) -> (Child, String) {
    spawn_server_with(home, workers, &[])
}

/// [`spawn_server`] with `env` set for the server.
fn spawn_server_with(home: &Path, workers: &str, env: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sieve"))
        .args(["serve", "--addr", "127.0.0.1:0", "--workers", workers, "--grace", "30"])
        .env("SIEVE_HOME", home)
        .env_remove("SIEVE_DATABASE_URL")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start sieve serve");
    let url = server_url(&mut child);
    (child, url)
}

/// The base URL a `sieve serve` child (its stderr piped) says it listens on; its log is then
/// drained on a thread so it never blocks on a full pipe.
pub fn server_url(child: &mut Child) -> String {
    let mut err = child.stderr.take().expect("stderr");
    let mut seen = Vec::new();
    let started = Instant::now();
    let url = loop {
        let mut byte = [0u8; 1];
        if err.read(&mut byte).expect("read") == 0 {
            panic!("sieve serve ended: {}", String::from_utf8_lossy(&seen));
        }
        seen.push(byte[0]);
        let text = String::from_utf8_lossy(&seen);
        if let Some(line) =
            text.lines().find(|l| l.starts_with("sieve serve: http://") && text.ends_with('\n'))
        {
            break line
                .trim_start_matches("sieve serve: ")
                .split_whitespace()
                .next()
                .expect("url")
                .to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no address: {text}");
    };
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = err.read_to_end(&mut sink);
    });
    url
}

/// A minimal HTTP/1.1 client: status and body.
pub fn http(url: &str, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, String) {
    let host = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("receive");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

pub fn sigterm(child: &Child) {
    // SAFETY: kill only sends a signal to our own child process.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
}

/// A registry with dataset `t1` for everyone and the patched raw guest (which spins in mode
/// `spin`) published by bob and approved: (registry, admin token, bob's token, plugin digest).
fn spinning_registry(name: &str) -> (Reg, String, String, String) {
    let reg = Reg::sqlite(name);
    let admin = reg.init();
    let bob = reg.user(&admin, "bob", "province", &["author"]);
    let approver = reg.user(&admin, "approver", "province", &["admin"]);
    let spinner = crate::attacks::patched_raw("sleep");
    let digest = crate::registry::publish(&reg, &bob, spinner.to_str().expect("utf-8"));
    reg.ok(&approver, &["plugin", "approve", &digest, "--note", "test"]);
    let dir = data("vehicle-insurance-fraud");
    reg.ok(
        &admin,
        &crate::registry::import_args("t1", dir.to_str().expect("utf-8"), "vehicle-insurance-fraud", "court"),
    );
    reg.ok(&admin, &["dataset", "approve", "t1"]);
    reg.ok(&admin, &["dataset", "grant", "t1", "province"]);
    (reg, admin, bob, digest)
}

/// Queue a run (`POST /api/runs`, which must answer 202); its id.
fn queue_run(url: &str, token: &str, run: Value) -> i64 {
    let (status, body) = http(url, "POST", "/api/runs", token, Some(run));
    assert_eq!(status, 202, "{body}");
    serde_json::from_str::<Value>(&body).expect("json")["id"].as_i64().expect("id")
}

/// Wait (up to 30 s) until run `id` is running; when the wait began.
fn wait_running(url: &str, token: &str, id: i64) -> Instant {
    let started = Instant::now();
    while !http(url, "GET", &format!("/api/runs/{id}"), token, None).1.contains("\"running\"") {
        assert!(started.elapsed() < Duration::from_secs(30), "run {id} never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    started
}

/// Wait (up to a minute from `since`) until run `id` is neither running nor queued; its status.
fn run_ended(url: &str, token: &str, id: i64, since: Instant) -> String {
    loop {
        let (_, body) = http(url, "GET", &format!("/api/runs/{id}"), token, None);
        if !body.contains("\"running\"") && !body.contains("\"queued\"") {
            return body;
        }
        assert!(since.elapsed() < Duration::from_secs(60), "run {id} never ended: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Queue `run` and wait for it to end; its record.
fn finished_run(url: &str, token: &str, run: &Value) -> Value {
    let id = queue_run(url, token, run.clone());
    let ended: Value = serde_json::from_str(&run_ended(url, token, id, Instant::now())).expect("run JSON");
    ended["run"].clone()
}

/// SIGTERM `server`, which must exit cleanly, and verify the audit log.
fn stop_and_verify(mut server: Child, reg: &Reg, admin: &str) {
    sigterm(&server);
    assert!(server.wait().expect("wait").success());
    let o = reg.cmd(Some(admin), &["audit", "verify"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The actions of the audit events about run `id`.
fn run_events(reg: &Reg, admin: &str, id: i64) -> Vec<String> {
    let log = reg.json(admin, &["audit", "log", "--target", &id.to_string()]);
    log.as_array().expect("events").iter().filter_map(|e| e["action"].as_str().map(String::from)).collect()
}

/// A worker whose lease was taken over mid-run (as when it stalls past its lease and another
/// worker takes the run) has its result discarded: the run goes back to the queue, runs again,
/// and has exactly one stored result.
#[test]
fn a_result_from_a_worker_that_lost_its_lease_is_discarded() {
    let (reg, admin, bob, digest) = spinning_registry("lost_lease");
    // Spinning until its deadline, whatever the machine's speed (the root admin allows the fuel).
    reg.ok(&admin, &["policy", "set", "--fuel", "1e13"]);
    let (server, url) = spawn_server_with(reg.home(), "1", &[("SIEVE_LEASE_SECONDS", "2")]);
    let spin = json!({"plugin": digest, "dataset": "t1", "params": {"mode": "spin"}, "limits": {"deadline": 4, "fuel": 1e13}});
    let id = queue_run(&url, &bob, spin);
    let started = wait_running(&url, &bob, id);
    reg.sql(&format!("UPDATE runs SET lease_owner = 'another-host:1:0' WHERE id = {id}"));
    let run = run_ended(&url, &bob, id, started);
    // Run again, it ends by its deadline (or, on a machine so loaded that its worker cannot renew
    // its lease in time, host-crash after its attempts): either way one result, the last one.
    assert!(run.contains("deadline-exceeded") || run.contains("host-crash"), "{run}");
    let events = run_events(&reg, &admin, id);
    assert!(events.iter().any(|a| a == "run.requeue"), "{events:?}");
    let ends = events.iter().filter(|a| *a == "run.finish" || *a == "run.fail").count();
    assert_eq!(ends, 1, "one stored result: {events:?}");
    stop_and_verify(server, &reg, &admin);
}

/// SIGTERM lets the running run finish (within the grace period) and the server exit 0; kill -9
/// leaves a running and a queued run, and the restarted server runs both: the first again, as
/// its lease ended with the killed server.
#[test]
fn serve_drains_on_sigterm_and_recovers_after_kill() {
    let (reg, admin, bob, digest) = spinning_registry("serve_process");
    // Spinning until its deadline, whatever the machine's speed: on a fast one the default fuel
    // ran out first (the root admin allows the fuel).
    reg.ok(&admin, &["policy", "set", "--fuel", "1e13"]);
    let spin = |deadline: f64| json!({"plugin": digest, "dataset": "t1", "params": {"mode": "spin"}, "limits": {"deadline": deadline, "fuel": 1e13}});

    // SIGTERM while a run spins: it ends by its own deadline, then the server exits cleanly.
    let (mut server, url) = spawn_server(reg.home(), "1");
    // A client that hangs up mid-upload leaves nothing: no plugin, no file in the spool.
    {
        let mut stream = std::net::TcpStream::connect(url.trim_start_matches("http://")).expect("connect");
        let head = format!(
            "POST /api/plugins HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {bob}\r\nContent-Type: application/wasm\r\nContent-Length: 5000000\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).expect("send");
        stream.write_all(&[0u8; 100_000]).expect("send part");
    }
    std::thread::sleep(Duration::from_millis(300));
    let (_, plugins) = http(&url, "GET", "/api/plugins", &bob, None);
    assert_eq!(
        serde_json::from_str::<Value>(&plugins).expect("json").as_array().map(Vec::len),
        Some(1),
        "{plugins}"
    );
    let spool = std::fs::read_dir(reg.home().join("spool")).expect("spool").count();
    assert_eq!(spool, 0, "the abandoned upload left a file in the spool");
    let id = queue_run(&url, &bob, spin(1.5));
    wait_running(&url, &bob, id);
    sigterm(&server);
    let exit = server.wait().expect("wait");
    assert!(exit.success(), "sieve serve exited {exit:?}");
    let run = reg.json(&admin, &["runs", "show", &id.to_string()]);
    assert_eq!(run["outcome"], "deadline-exceeded", "the run finished during the drain: {run}");

    // kill -9 with one run spinning and one queued behind it.
    let (mut server, url) = spawn_server(reg.home(), "1");
    // A short deadline: after the restart the killed run is run again, and spins until it.
    let blocked = json!({"plugin": digest, "dataset": "t1", "params": {"mode": "spin"}, "limits": {"deadline": 5, "fuel": 1e13}});
    let running = queue_run(&url, &bob, blocked);
    let queued =
        queue_run(&url, &bob, json!({"plugin": digest, "dataset": "t1", "params": {"mode": "sleep"}}));
    wait_running(&url, &bob, running);
    let (_, waiting) = http(&url, "GET", &format!("/api/runs/{queued}"), &bob, None);
    assert!(waiting.contains("\"queue_position\":1"), "{waiting}");
    server.kill().expect("kill -9");
    let _ = server.wait();
    let (server, url) = spawn_server(reg.home(), "1");
    let started = Instant::now();
    loop {
        let (_, body) = http(&url, "GET", &format!("/api/runs/{queued}"), &bob, None);
        if body.contains("\"completed\"") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the queued run was not picked up: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The run the killed server was executing held a lease: it went back to the queue and is run
    // again, ending as its limits say, once.
    let again = run_ended(&url, &bob, running, started);
    assert!(again.contains("deadline-exceeded"), "{again}");
    let actions = run_events(&reg, &admin, running);
    assert_eq!(actions.iter().filter(|a| *a == "run.requeue").count(), 1, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "run.finish").count(), 1, "{actions:?}");
    stop_and_verify(server, &reg, &admin);
}

/// One CLI scenario, run the same way locally and through `sieve serve` by a client whose home
/// directory cannot even be created: the same exit codes and the same records, and the remote
/// client never touches a file of the registry.
#[test]
fn the_cli_works_the_same_through_a_server() {
    // What `sieve run --dataset` printed, as text and as JSON, local then remote.
    let mut run_outputs: Vec<(String, Value)> = Vec::new();
    for remote in [false, true] {
        let reg = Reg::sqlite(if remote { "cli_remote" } else { "cli_local" });
        let admin = reg.init();
        reg.ok(&admin, &["org", "add", "city-a", "--parent", "province"]);
        reg.ok(&admin, &["org", "add", "city-b", "--parent", "province"]);
        let alice = reg.user(&admin, "alice", "city-a", &["author"]);
        let approver = reg.user(&admin, "approver", "province", &["admin"]);
        let mallory = reg.user(&admin, "mallory", "city-b", &["author"]);
        let olga = reg.user(&admin, "olga", "province", &["organizer"]);
        let (child, url) = match remote.then(|| spawn_server(reg.home(), "1")) {
            Some((child, url)) => (Some(child), Some(url)),
            None => (None, None),
        };
        // The client: no access to the registry's home (a path that cannot be created).
        let locked = crate::common::fresh_dir(&format!("locked-{remote}"));
        let client_home = locked.join("home");
        std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o500))
            .expect("chmod");
        let sieve = |token: &str, args: &[&str]| -> std::process::Output {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_sieve"));
            cmd.env_remove("SIEVE_DATABASE_URL").env("SIEVE_TOKEN", token);
            match &url {
                Some(url) => cmd.env("SIEVE_HOME", &client_home).env("SIEVE_SERVER", url),
                None => cmd.env("SIEVE_HOME", reg.home()).env_remove("SIEVE_SERVER"),
            };
            cmd.args(args).output().expect("start sieve")
        };
        let ok = |token: &str, args: &[&str]| -> String {
            let o = sieve(token, args);
            assert!(
                o.status.success(),
                "remote={remote} sieve {args:?}: {}{}",
                crate::common::stdout(&o),
                stderr(&o)
            );
            crate::common::stdout(&o)
        };
        let status = |token: &str, args: &[&str]| sieve(token, args).status.code();

        assert!(ok(&alice, &["whoami"]).contains("alice of city-a (author)"));
        let t2 = crate::common::fresh_dir(&format!("cli-t2-{remote}")).join("t2.wasm");
        assert!(
            crate::common::run(&[
                "bundled",
                "export",
                "private-lending-fraud",
                "--out",
                t2.to_str().expect("utf-8")
            ])
            .status
            .success()
        );
        let source =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/private-lending-fraud");
        let published: Value = serde_json::from_str(&ok(
            &alice,
            &[
                "plugin",
                "publish",
                t2.to_str().expect("utf-8"),
                "--source",
                source.to_str().expect("utf-8"),
                "--toolchain",
                "rustc 1.90.0",
                "--json",
            ],
        ))
        .expect("json");
        let digest = published["digest"].as_str().expect("digest").to_string();
        assert_eq!(published["vetting"]["passed"], true);
        assert_eq!(published["source"]["toolchain"], "rustc 1.90.0", "{published}");
        // Its source, for its author (and admins); another procuratorate's author does not even
        // see the plugin before it is approved.
        let archive = t2.with_file_name("source.tar");
        let archive_text = archive.to_str().expect("utf-8");
        assert!(ok(&alice, &["plugin", "source", &digest, "--out", archive_text]).contains("rustc 1.90.0"));
        assert!(std::fs::metadata(&archive).expect("archive").len() > 1024);
        assert_eq!(status(&mallory, &["plugin", "source", &digest, "--out", archive_text]), Some(4));
        assert_eq!(status(&alice, &["plugin", "approve", &digest]), Some(3), "nobody approves their own");
        assert!(ok(&approver, &["plugin", "approve", &digest, "--note", "ok"]).contains("is now approved"));
        assert_eq!(status(&alice, &["plugin", "show", "ffff"]), Some(4));
        let dir = data("private-lending-fraud");
        ok(
            &admin,
            &[
                "dataset",
                "import",
                "lending",
                dir.to_str().expect("utf-8"),
                "--task",
                "private-lending-fraud",
                "--source",
                "court",
            ],
        );
        ok(&admin, &["dataset", "approve", "lending"]);
        ok(&admin, &["dataset", "grant", "lending", "city-a"]);
        let listed: Value = serde_json::from_str(&ok(&alice, &["dataset", "list", "--json"])).expect("json");
        assert_eq!(listed[0]["name"], "lending");

        let o = sieve(&alice, &["run", &digest, "--dataset", "lending", "--json"]);
        assert_eq!(o.status.code(), Some(0), "remote={remote}: {}", stderr(&o));
        let report: Value = serde_json::from_str(&crate::common::stdout(&o)).expect("run --json");
        let text = ok(&alice, &["run", &digest, "--dataset", "lending", "--top", "4"]);
        run_outputs.push((text, report));
        let runs: Value = serde_json::from_str(&ok(&alice, &["runs", "list", "--json"])).expect("json");
        let id = runs[0]["id"].as_i64().expect("id").to_string();
        assert_eq!(runs[0]["outcome"], "completed");
        let clues: Value =
            serde_json::from_str(&ok(&alice, &["runs", "clues", &id, "--per-page", "3", "--json"]))
                .expect("json");
        assert_eq!(clues.as_array().map(Vec::len), Some(3));
        assert!(ok(&alice, &["runs", "export", &id, "--format", "csv"]).starts_with("seq,subject,score"));
        // A verdict, by subject (Chinese case numbers travel percent-encoded in the path).
        let subject = clues[0]["subject"].as_str().expect("subject");
        let reviewed: Value = serde_json::from_str(&ok(
            &alice,
            &["runs", "review", &id, subject, "--verdict", "dismissed", "--reason", "已核实", "--json"],
        ))
        .expect("json");
        assert_eq!(
            (reviewed["subject"].as_str(), reviewed["reason"].as_str()),
            (Some(subject), Some("已核实"))
        );
        assert_eq!(status(&mallory, &["runs", "review", &id, subject, "--verdict", "confirmed"]), Some(3));
        let precision: Value =
            serde_json::from_str(&ok(&alice, &["plugin", "precision", &digest, "--json"])).expect("json");
        assert_eq!(precision["total"]["dismissed"], 1, "{precision}");
        assert_eq!(status(&mallory, &["runs", "show", &id]), Some(3), "another city's author");
        assert_eq!(
            status(&mallory, &["run", &digest, "--dataset", "lending"]),
            Some(3),
            "not granted to city-b"
        );
        assert_eq!(status("sv_wrong", &["whoami"]), Some(3));
        // Accounts, policy and the audit log work the same way.
        assert!(
            ok(&admin, &["org", "add", "city-c", "--parent", "province"])
                .contains("added city-c (city, under province)")
        );
        let added: Value = serde_json::from_str(&ok(
            &admin,
            &["user", "add", "carol", "--org", "city-c", "--role", "author", "--json"],
        ))
        .expect("json");
        let carol = added["token"].as_str().expect("token").to_string();
        assert!(ok(&carol, &["whoami"]).contains("carol of city-c (author)"));
        assert!(ok(&admin, &["user", "list"]).contains("carol"));
        assert_eq!(status(&alice, &["user", "add", "x", "--org", "city-a", "--role", "admin"]), Some(3));
        assert!(ok(&admin, &["policy", "show"]).contains("fuel"));
        assert_eq!(status(&alice, &["policy", "set", "--fuel", "1e9"]), Some(3));
        assert!(ok(&admin, &["audit", "log", "--limit", "200"]).contains("run.finish"));
        assert!(ok(&admin, &["audit", "verify"]).contains("intact"), "signed right after each change");
        let kept = crate::common::fresh_dir(&format!("cli-kept-{remote}")).join("checkpoint.json");
        let kept = kept.to_str().expect("utf-8");
        ok(&admin, &["audit", "checkpoint", "--out", kept]);
        assert!(ok(&admin, &["audit", "verify", "--checkpoint", kept]).contains("intact"));
        assert_eq!(status(&alice, &["audit", "log"]), Some(3));
        // A competition, organized, entered and downloaded from the same command lines.
        let practice = crate::common::fresh_dir(&format!("cli-practice-{remote}"));
        let p = practice.to_str().expect("utf-8");
        assert!(
            crate::common::run(&["gen", "private-lending-fraud", "--seed", "5", "--out", p]).status.success()
        );
        ok(
            &admin,
            &["dataset", "import", "practice", p, "--task", "private-lending-fraud", "--source", "court"],
        );
        ok(&admin, &["dataset", "approve", "practice"]);
        ok(&olga, &["benchmark", "create", "bench", "--dataset", "lending", "--practice", "practice"]);
        ok(&olga, &["competition", "create", "cup", "--benchmark", "bench", "--daily-limit", "3"]);
        ok(&olga, &["competition", "open", "cup"]);
        let submitted: Value =
            serde_json::from_str(&ok(&alice, &["competition", "submit", "cup", &digest, "--json"]))
                .expect("json");
        assert_eq!(submitted["state"], "scored", "{submitted}");
        assert!(submitted["private"].is_null(), "participants never see the private side");
        assert!(ok(&alice, &["competition", "leaderboard", "cup"]).contains("city-a"));
        assert_eq!(status(&alice, &["competition", "leaderboard", "cup", "--private"]), Some(3));
        let out = crate::common::fresh_dir_path(&format!("cli-practice-out-{remote}"));
        let _ = std::fs::remove_dir_all(&out);
        ok(&alice, &["benchmark", "practice", "bench", "--out", out.to_str().expect("utf-8")]);
        assert_eq!(
            std::fs::read(out.join("labels.csv")).expect("labels"),
            std::fs::read(practice.join("labels.csv")).expect("generated")
        );
        assert_eq!(
            status(&alice, &["run", &digest, "--dataset", "lending"]),
            Some(3),
            "the evaluation data is sealed"
        );
        if let Some(mut child) = child {
            assert_eq!(status(&admin, &["init"]), Some(1), "local-only commands refuse --server");
            sigterm(&child);
            assert!(child.wait().expect("wait").success());
            assert!(!client_home.exists(), "the remote client created {}", client_home.display());
        }
        std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .expect("chmod");
    }
    // The run through the server reports what the local run reported: the same JSON fields and
    // values (times and the compiled-code source aside), the same top clues and summary lines.
    let [(local_text, local), (remote_text, remote)] = &run_outputs[..] else { panic!("two runs") };
    let machine_dependent = ["wall_ms", "compile_ms", "load_ms", "compiled_code"];
    let stable = |v: &Value| -> Value {
        let mut v = v.clone();
        for key in machine_dependent {
            v.as_object_mut().expect("object").remove(key);
        }
        v
    };
    assert_eq!(stable(local), stable(remote));
    assert!(local["clues"].as_u64().expect("clues") > 4, "{local}");
    let lines = |text: &str| -> Vec<String> {
        let skip = ["stored as run", "wall "];
        text.lines().filter(|l| !skip.iter().any(|s| l.starts_with(s))).map(str::to_string).collect()
    };
    assert_eq!(lines(local_text), lines(remote_text));
    assert!(local_text.contains("... and "), "{local_text}");
}

/// Each role against each kind of route, across procuratorates: the statuses a caller gets are
/// the registry's decisions, the same as on the command line.
fn api_permission_matrix(reg: &Reg) {
    let root = reg.init();
    let api = Api::new(reg);
    for city in ["city-a", "city-b"] {
        assert_eq!(
            api.post("/api/orgs", &root, json!({"name": city, "parent": "province"})).status,
            StatusCode::CREATED
        );
    }
    let user = |name: &str, org: &str, roles: &[&str]| {
        let a = api.post("/api/users", &root, json!({"name": name, "org": org, "roles": roles}));
        a.json()["token"].as_str().expect("token").to_string()
    };
    let author_a = user("author-a", "city-a", &["author"]);
    let author_b = user("author-b", "city-b", &["author"]);
    let admin_b = user("admin-b", "city-b", &["admin"]);
    let organizer = user("olga", "city-a", &["organizer"]);
    let t2 = sieve_host::bundled::get("private-lending-fraud").expect("bundled").to_vec();
    let digest = api.call("POST", "/api/plugins", Some(&author_a), Some(("application/wasm", t2))).json()["plugin"]["digest"]
        .as_str()
        .expect("digest")
        .to_string();
    assert_eq!(api.post(&format!("/api/plugins/{digest}/approve"), &root, json!({})).status, StatusCode::OK);
    let tar = tar_of(&data("private-lending-fraud"));
    let import = "/api/datasets?name=lending&task=private-lending-fraud&source=court";
    assert_eq!(
        api.call("POST", import, Some(&root), Some(("application/x-tar", tar))).status,
        StatusCode::CREATED
    );
    assert_eq!(api.post("/api/datasets/lending/approve", &root, json!({})).status, StatusCode::OK);
    assert_eq!(
        api.post("/api/datasets/lending/grants", &root, json!({"org": "city-a"})).status,
        StatusCode::OK
    );
    let queued = api.post("/api/runs", &author_a, json!({"plugin": digest, "dataset": "lending"}));
    let run = queued.json()["id"].as_i64().expect("id");
    api.wait(run, &author_a);
    // A second labelled dataset, for a benchmark's practice data.
    let practice = reg.fresh_dir("practice");
    let p = practice.to_str().expect("utf-8");
    assert!(
        crate::common::run(&["gen", "private-lending-fraud", "--seed", "9", "--out", p]).status.success()
    );
    let import = "/api/datasets?name=practice&task=private-lending-fraud&source=court";
    assert_eq!(
        api.call("POST", import, Some(&root), Some(("application/x-tar", tar_of(&practice)))).status,
        StatusCode::CREATED
    );
    assert_eq!(api.post("/api/datasets/practice/approve", &root, json!({})).status, StatusCode::OK);
    assert_eq!(
        api.post("/api/datasets/practice/grants", &root, json!({"org": "city-a"})).status,
        StatusCode::OK
    );

    // Columns: no token, author in city-a (the runner), author in city-b, admin of city-b,
    // organizer of city-a, and the first admin of the province (`sieve init` gives it every
    // role: it runs, organizes, and is staff over the sealed data).
    let callers: [Option<&str>; 6] =
        [None, Some(&author_a), Some(&author_b), Some(&admin_b), Some(&organizer), Some(&root)];
    let mut wrong = Vec::new();
    let mut expect = |what: &str, method: &str, path: &str, body: Option<Value>, statuses: [u16; 6]| {
        for (caller, want) in callers.iter().zip(statuses) {
            let body = body.as_ref().map(|b| ("application/json", b.to_string().into_bytes()));
            let got = api.call(method, path, *caller, body);
            if got.status.as_u16() != want {
                let who = ["anonymous", "author-a", "author-b", "admin-b", "organizer", "root"]
                    [callers.iter().position(|c| c == caller).unwrap_or(0)];
                wrong.push(format!("{what}: {who} got {} (want {want}): {}", got.status, got.text()));
            }
        }
    };
    expect("whoami", "GET", "/api/whoami", None, [401, 200, 200, 200, 200, 200]);
    expect("read a run", "GET", &format!("/api/runs/{run}"), None, [401, 200, 403, 403, 403, 200]);
    expect("read its clues", "GET", &format!("/api/runs/{run}/clues"), None, [401, 200, 403, 403, 403, 200]);
    expect("export them", "GET", &format!("/api/runs/{run}/export"), None, [401, 200, 403, 403, 403, 200]);
    expect("see the dataset", "GET", "/api/datasets/lending", None, [401, 200, 404, 404, 200, 200]);
    expect(
        "queue a run",
        "POST",
        "/api/runs",
        Some(json!({"plugin": digest, "dataset": "lending"})),
        [401, 202, 403, 403, 403, 202],
    );
    expect(
        "add an org under city-b",
        "POST",
        "/api/orgs",
        Some(json!({"name": "county-b9", "parent": "city-b"})),
        [401, 403, 403, 201, 403, 409],
    );
    expect("read the audit log", "GET", "/api/audit", None, [401, 403, 403, 200, 403, 200]);
    expect(
        "set the run policy",
        "PUT",
        "/api/policy",
        Some(json!({"deadline": 30})),
        [401, 403, 403, 403, 403, 200],
    );
    expect(
        "release a run",
        "POST",
        &format!("/api/runs/{run}/release"),
        Some(json!({"note": "x"})),
        [401, 403, 403, 403, 403, 200],
    );
    expect(
        "create a benchmark",
        "POST",
        "/api/benchmarks",
        Some(json!({"name": "bench", "dataset": "lending", "practice": "practice"})),
        [401, 403, 403, 403, 201, 409],
    );
    // Practice data goes to the benchmark's procuratorate (city-a) and below, nobody else.
    expect(
        "download practice data",
        "GET",
        "/api/benchmarks/bench/practice",
        None,
        [401, 200, 403, 403, 200, 403],
    );
    // Sealed now: even the runner, with a grant, no longer runs on it; its organizers still do.
    expect(
        "queue a run on sealed data",
        "POST",
        "/api/runs",
        Some(json!({"plugin": digest, "dataset": "lending"})),
        [401, 403, 403, 403, 403, 202],
    );
    expect(
        "revoke the plugin",
        "POST",
        &format!("/api/plugins/{digest}/revoke"),
        Some(json!({"note": "x"})),
        [401, 403, 403, 403, 403, 200],
    );
    // The server ran it on this dataset above, so it holds the component loaded and the tables
    // decoded: a run of the revoked plugin is refused all the same, for everyone.
    expect(
        "queue a run of the revoked plugin",
        "POST",
        "/api/runs",
        Some(json!({"plugin": digest, "dataset": "lending"})),
        [401, 403, 403, 403, 403, 403],
    );
    expect("sign an audit checkpoint", "POST", "/api/audit/checkpoint", None, [401, 403, 403, 200, 403, 200]);
    expect("verify the audit log", "GET", "/api/audit/verify", None, [401, 403, 403, 200, 403, 200]);
    expect(
        "lift a dataset's restriction",
        "POST",
        "/api/datasets/lending/unrestrict",
        Some(json!({"note": "x"})),
        [401, 403, 403, 403, 403, 409],
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A long-lived server keeps the groupings a run's `table.group` calls made (T1 groups plates,
/// people and repair shops of three tables) with the tables it keeps decoded: the runs after the
/// first take them as kept, find the same clues and are charged the same fuel, as a fresh
/// process computing everything again is.
#[test]
fn kept_groupings_give_later_runs_the_same_clues_and_fuel() {
    let reg = Reg::sqlite("kept_groupings");
    let admin = reg.init();
    let task = "vehicle-insurance-fraud";
    let dir = data(task);
    reg.ok(&admin, &crate::registry::import_args("claims", dir.to_str().expect("utf-8"), task, "court"));
    reg.ok(&admin, &["dataset", "approve", "claims"]);
    let digest = crate::registry::publish(&reg, &admin, task);
    crate::registry::approve_as_second_admin(&reg, &admin, &digest);
    let alone = reg.json(&admin, &["run", &digest, "--dataset", "claims"]);
    assert_eq!(alone["outcome"], "completed", "{alone}");

    let (server, url) = spawn_server(reg.home(), "1");
    // Each run runs the model (`fresh`), rather than being answered from the one before it.
    let run = json!({"plugin": digest, "dataset": "claims", "fresh": true});
    for attempt in ["first", "second", "third"] {
        let ended = finished_run(&url, &admin, &run);
        assert_eq!(
            (&ended["outcome"], &ended["output_digest"], &ended["fuel"]),
            (&alone["outcome"], &alone["output_digest"], &alone["fuel"]),
            "{attempt} run on the server: {ended}"
        );
    }
    stop_and_verify(server, &reg, &admin);
}

/// A long-lived server keeps the tables it served decoded for later runs, but never tables whose
/// column file failed its digest check: altered on disk (a date column, which still parses, so
/// the model runs to the end on it), every run is `hash-mismatch`, the second one too; restored,
/// the next run gives the clean run's output.
#[test]
fn a_server_keeps_no_tables_that_failed_their_check() {
    let reg = Reg::sqlite("tampered_not_kept");
    let admin = reg.init();
    let dir = data("judicial-auction-violations");
    let dir = dir.to_str().expect("utf-8");
    reg.ok(&admin, &crate::registry::import_args("auctions", dir, "judicial-auction-violations", "court"));
    reg.ok(&admin, &["dataset", "approve", "auctions"]);
    let digest = crate::registry::publish(&reg, &admin, "judicial-auction-violations");
    crate::registry::approve_as_second_admin(&reg, &admin, &digest);
    let clean = reg.json(&admin, &["run", &digest, "--dataset", "auctions"])["output_digest"].clone();

    let shown = reg.json(&admin, &["dataset", "show", "auctions"]);
    let blob = shown["encoding"]["columns"]["auctions"]["starts_on"].as_str().expect("digest");
    let path = reg.blob(blob);
    let original = crate::registry::flip_middle_byte(&path);

    let (server, url) = spawn_server(reg.home(), "1");
    let run = json!({"plugin": digest, "dataset": "auctions", "fresh": true});
    for attempt in ["first", "second"] {
        let ended = finished_run(&url, &admin, &run);
        assert_eq!(ended["outcome"], "hash-mismatch", "{attempt} run on the altered file: {ended}");
    }
    std::fs::write(&path, &original).expect("restore");
    let ended = finished_run(&url, &admin, &run);
    assert_eq!((&ended["outcome"], &ended["output_digest"]), (&json!("completed"), &clean), "{ended}");
    stop_and_verify(server, &reg, &admin);
}
