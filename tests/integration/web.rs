//! The web UI through the real router on a real registry: sign-in and its cookie, pages as each
//! role sees them, CSRF on every form, hostile text rendered inert, the language switch.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt as _;

use crate::registry::{Reg, data, import_args};
use sieve_host::api::{self, AppState};
use sieve_host::registry::Registry;

crate::on_both_databases!(web_pages_sign_in_review_and_escape);

/// A page as the browser gets it.
struct Page {
    status: StatusCode,
    location: String,
    cookie: String,
    body: String,
}

struct Web {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
}

impl Web {
    fn new(reg: &Reg) -> Web {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
        let home = reg.home().to_path_buf();
        let router = runtime.block_on(async {
            let registry = Registry::open(&home, reg.db()).await.expect("registry");
            let sandbox = sieve_host::sandbox::Sandbox::new(None).expect("sandbox");
            let (state, _) = AppState::start(registry, sandbox, 1).expect("state");
            api::router(state).0
        });
        Web { runtime, router }
    }

    /// `method path` with `cookies` and, for a POST, the form `fields`.
    fn call(&self, method: &str, path: &str, cookies: &str, fields: &[(&str, &str)]) -> Page {
        self.call_with(method, path, cookies, fields, &[])
    }

    /// As `call`, with extra request `headers`.
    fn call_with(
        &self,
        method: &str,
        path: &str,
        cookies: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if !cookies.is_empty() {
            request = request.header("cookie", cookies);
        }
        let body = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", sieve_host::text::percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = if method == "POST" {
            request.header("content-type", "application/x-www-form-urlencoded").body(Body::from(body))
        } else {
            request.body(Body::empty())
        }
        .expect("request");
        self.runtime.block_on(async {
            let response = self.router.clone().oneshot(request).await.expect("router answers");
            let header = |name: &str| {
                response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
            };
            let (status, location, cookie) = (response.status(), header("location"), header("set-cookie"));
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
            Page { status, location, cookie, body: String::from_utf8_lossy(&bytes).into_owned() }
        })
    }
}

/// The CSRF token a page's forms carry.
fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    page[at..].split('"').next().expect("token").to_string()
}

fn web_pages_sign_in_review_and_escape(reg: &Reg) {
    let admin = reg.init();
    reg.ok(&admin, &["org", "add", "city-a", "--parent", "province"]);
    reg.ok(&admin, &["org", "add", "city-b", "--parent", "province"]);
    let alice = reg.user(&admin, "alice", "city-a", &["author"]);
    let mallory = reg.user(&admin, "mallory", "city-b", &["author"]);
    let approver = reg.user(&admin, "approver", "province", &["admin"]);
    let dir = data("private-lending-fraud");
    reg.ok(&admin, &import_args("lending", dir.to_str().expect("utf-8"), "private-lending-fraud", "court"));
    reg.ok(&admin, &["dataset", "approve", "lending"]);
    reg.ok(&admin, &["dataset", "grant", "lending", "province"]);
    let hostile = "<script>alert('notes')</script>";
    let published = reg.json(&alice, &["plugin", "publish", "private-lending-fraud", "--notes", hostile]);
    let digest = published["digest"].as_str().expect("digest").to_string();
    reg.ok(&approver, &["plugin", "approve", &digest]);
    reg.ok(&alice, &["run", &digest, "--dataset", "lending"]);
    let run = reg.json(&alice, &["runs", "list"])[0]["id"].as_i64().expect("run id");

    let web = Web::new(reg);
    // Not signed in: every page sends the browser to the sign-in form.
    let p = web.call("GET", "/models", "", &[]);
    assert_eq!((p.status, p.location.as_str()), (StatusCode::SEE_OTHER, "/signin"));
    let p = web.call("GET", "/signin", "", &[]);
    assert!(p.body.contains("<label for=\"token\">"), "a labelled field: {}", p.body);
    let p = web.call("POST", "/signin", "", &[("token", "sv_not_a_token")]);
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.cookie.is_empty(), "no cookie for a bad token");
    let p = web.call("POST", "/signin", "", &[("token", &alice)]);
    assert_eq!((p.status, p.location.as_str()), (StatusCode::SEE_OTHER, "/models"));
    assert!(p.cookie.contains("HttpOnly") && p.cookie.contains("SameSite=Strict"), "{}", p.cookie);
    let session = p.cookie.split(';').next().expect("cookie").to_string();

    // The registry, in Chinese by default; the notes are text, not markup.
    let p = web.call("GET", "/models", &session, &[]);
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("lang=\"zh-CN\"") && p.body.contains("模型"), "{}", p.body);
    assert!(p.body.contains(&digest[..19]));
    let model = web.call("GET", &format!("/models/{digest}"), &session, &[]);
    assert!(model.body.contains("&lt;script&gt;alert('notes')&lt;/script&gt;"), "{}", model.body);
    assert!(!model.body.contains(hostile), "the notes were rendered as markup");
    // A star keeps the model at hand: listed first, and on its own with the filter.
    let csrf_here = csrf_of(&model.body);
    let starred = web.call(
        "POST",
        &format!("/models/{digest}/favourite"),
        &session,
        &[("csrf", &csrf_here), ("favourite", "true")],
    );
    assert_eq!(starred.status, StatusCode::SEE_OTHER, "{}", starred.body);
    let mine = web.call("GET", "/models?starred=true", &session, &[]);
    assert!(mine.body.contains("★") && mine.body.contains(&digest[..19]), "{}", mine.body);
    let theirs = web.call("POST", "/signin", "", &[("token", &mallory)]);
    let theirs = theirs.cookie.split(';').next().expect("cookie").to_string();
    assert!(
        !web.call("GET", "/models?starred=true", &theirs, &[]).body.contains(&digest[..19]),
        "stars are per user"
    );
    let p = web.call("GET", "/models?task=copyright-harvesting", &session, &[]);
    assert!(!p.body.contains(&digest[..19]), "the task filter");

    // The run page: clues with evidence, and a review form that needs its CSRF token.
    let page = web.call("GET", &format!("/runs/{run}"), &session, &[]);
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let clues = reg.json(&alice, &["runs", "clues", &run.to_string(), "--per-page", "1"]);
    let subject = clues[0]["subject"].as_str().expect("subject").to_string();
    assert!(page.body.contains(&subject));
    assert!(!page.body.contains("id=\"model-output\""), "the model printed nothing: no output card");
    let csrf = csrf_of(&page.body);
    // A clue's own page: its evidence as the rows of the dataset's tables, every column.
    let seq = clues[0]["seq"].as_i64().expect("seq");
    assert!(page.body.contains(&format!("/runs/{run}/clues/{seq}")), "the subject links to its evidence");
    let evidence = web.call("GET", &format!("/runs/{run}/clues/{seq}"), &session, &[]);
    assert_eq!(evidence.status, StatusCode::OK, "{}", evidence.body);
    assert!(evidence.body.contains("<code>lending_cases</code>"), "{}", evidence.body);
    assert!(evidence.body.contains("<th scope=\"col\">plaintiff_id</th>"), "{}", evidence.body);
    let row = clues[0]["evidence"][0]["row"].as_u64().expect("row");
    assert!(evidence.body.contains(&format!("<td class=\"num\">{row}</td>")), "the evidence row's number");
    assert!(evidence.body.contains(&subject), "the case number is in its own row");
    let missing = web.call("GET", &format!("/runs/{run}/clues/999999"), &session, &[]);
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let review = |csrf: &str, verdict: &str, reason: &str| {
        let fields =
            [("csrf", csrf), ("subject", subject.as_str()), ("verdict", verdict), ("reason", reason)];
        web.call("POST", &format!("/runs/{run}/reviews"), &session, &fields)
    };
    assert_eq!(review("forged", "confirmed", "").status, StatusCode::FORBIDDEN);
    assert_eq!(reg.json(&alice, &["runs", "reviews", &run.to_string()]).as_array().map(Vec::len), Some(0));
    let hostile_reason = "<img src=x onerror=alert(1)>";
    let p = review(&csrf, "dismissed", hostile_reason);
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let page = web.call("GET", &format!("/runs/{run}"), &session, &[]);
    assert!(page.body.contains("&lt;img src=x onerror=alert(1)&gt;"), "{}", page.body);
    assert!(!page.body.contains(hostile_reason));
    assert_eq!(reg.json(&alice, &["runs", "reviews", &run.to_string()])[0]["verdict"], "dismissed");
    let p = review(&csrf, "dismissed", "");
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "a dismissal needs a reason: {}", p.body);
    let model = web.call("GET", &format!("/models/{digest}"), &session, &[]);
    assert!(model.body.contains("city-a"), "field precision per procuratorate: {}", model.body);
    // Filtered by rule, and exported with the verdicts.
    let rule = clues[0]["rule"].as_str().expect("rule");
    let filtered = web.call("GET", &format!("/runs/{run}?rule={rule}"), &session, &[]);
    assert!(filtered.body.contains(&format!("<option value=\"{rule}\" selected>")), "{}", filtered.body);
    let none = web.call("GET", &format!("/runs/{run}?rule=no-such-rule"), &session, &[]);
    assert!(!none.body.contains(&format!("/runs/{run}/clues/")), "no clue of an unknown rule");
    let csv = web.call("GET", &format!("/runs/{run}/export?format=csv"), &session, &[]);
    assert!(csv.body.starts_with("seq,subject,score") && csv.body.contains("dismissed"), "{}", csv.body);

    // What a model logged and printed while it ran is on its run page, as text.
    let weak = reg.json(&alice, &["plugin", "publish", &crate::common::guest("demo-lending-weak")]);
    let weak = weak["digest"].as_str().expect("digest").to_string();
    reg.ok(&approver, &["plugin", "approve", &weak]);
    reg.ok(&alice, &["run", &weak, "--dataset", "lending"]);
    let runs = reg.json(&alice, &["runs", "list"]);
    let weak_run =
        runs.as_array().expect("runs").iter().filter_map(|r| r["id"].as_i64()).max().expect("a run");
    let p = web.call("GET", &format!("/runs/{weak_run}"), &session, &[]);
    assert!(p.body.contains("id=\"model-output\""), "{}", p.body);
    assert!(
        p.body.contains("info ") && p.body.contains("unlicensed plaintiffs with 30 or more suits"),
        "{}",
        p.body
    );
    assert!(p.body.contains("weak model: &lt;done counting&gt;"), "stderr, escaped: {}", p.body);
    assert!(!p.body.contains("<done counting>"));

    // Start a run from the form, then follow it: the page reloads itself until the run ends.
    let form = web.call("GET", &format!("/runs/new?plugin={digest}"), &session, &[]);
    assert!(form.body.contains("name=\"param.min-suits\""), "parameters with defaults: {}", form.body);
    let run_from_form = |fresh: &[(&str, &str)]| {
        let fields = [
            &[
                ("csrf", csrf.as_str()),
                ("plugin", &digest),
                ("dataset", "lending@1"),
                ("param.min-suits", "5"),
                ("deadline", "30"),
            ],
            fresh,
        ]
        .concat();
        let started = web.call("POST", "/runs", &session, &fields);
        assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
        let followed = started.location.clone();
        let begun = std::time::Instant::now();
        loop {
            let p = web.call("GET", &followed, &session, &[]);
            if !p.body.contains("http-equiv=\"refresh\"") {
                break (followed, p);
            }
            assert!(begun.elapsed() < std::time::Duration::from_secs(120), "the run never finished");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let (_, finished) = run_from_form(&[]);
    assert!(finished.body.contains("completed"), "{}", finished.body);
    assert!(!finished.body.contains("id=\"reused-from\""), "{}", finished.body);
    // The same again is answered from that run, and says so; ticked "run again", it runs.
    let (again_page, again) = run_from_form(&[]);
    assert!(again.body.contains("completed") && again.body.contains("id=\"reused-from\""), "{}", again.body);
    // Its clues, their rules and a clue's evidence are shown as the earlier run's are.
    let section = |body: &str, start: &str, end: &str| {
        let from = body.find(start).unwrap_or_else(|| panic!("no {start} in {body}"));
        body[from..from + body[from..].find(end).expect("end")].to_string()
    };
    assert_eq!(
        section(&again.body, "<select id=\"rule\"", "</select>"),
        section(&finished.body, "<select id=\"rule\"", "</select>")
    );
    let rows = |body: &str| body.matches("<tr id=\"clue-").count();
    assert!(rows(&again.body) > 0 && rows(&again.body) == rows(&finished.body), "{}", again.body);
    let evidence = web.call("GET", &format!("{again_page}/clues/1"), &session, &[]);
    assert_eq!(evidence.status, StatusCode::OK, "{}", evidence.body);
    let (_, fresh) = run_from_form(&[("fresh", "on")]);
    assert!(fresh.body.contains("completed") && !fresh.body.contains("id=\"reused-from\""), "{}", fresh.body);
    let bad = web.call(
        "POST",
        "/runs",
        &session,
        &[("csrf", &csrf), ("plugin", &digest), ("dataset", "lending@1"), ("fuel", "lots")],
    );
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);

    // The vetting queue: an admin approves a submitted model with a note; its author cannot.
    let second = reg.json(&alice, &["plugin", "publish", "vehicle-enforcement"])["digest"]
        .as_str()
        .expect("digest")
        .to_string();
    let p = web.call("POST", "/signin", "", &[("token", &approver)]);
    let admin_session = p.cookie.split(';').next().expect("cookie").to_string();
    let queue = web.call("GET", "/vetting", &admin_session, &[]);
    assert!(queue.body.contains(&second) && queue.body.contains("待审核"), "{}", queue.body);
    let decision = |session: &str, csrf: &str| {
        web.call(
            "POST",
            &format!("/vetting/{second}"),
            session,
            &[("csrf", csrf), ("decision", "approve"), ("note", "checked")],
        )
    };
    assert_eq!(decision(&session, &csrf).status, StatusCode::FORBIDDEN, "an author decides nothing");
    let admin_csrf = csrf_of(&queue.body);
    assert_eq!(decision(&admin_session, &admin_csrf).status, StatusCode::SEE_OTHER);
    assert_eq!(reg.json(&alice, &["plugin", "show", &second])["state"], "approved");

    // The audit log with its verification (admins), and the datasets with their forms.
    let log = web.call("GET", "/audit?action=clue.review", &admin_session, &[]);
    assert!(
        log.body.contains("<code>clue.review</code>") && !log.body.contains("<code>run.finish</code>"),
        "{}",
        log.body
    );
    let verified = web.call("GET", "/audit?verify=1", &admin_session, &[]);
    assert!(verified.body.contains("✓"), "{}", verified.body);
    assert_eq!(
        web.call("GET", "/audit", &session, &[]).status,
        StatusCode::FORBIDDEN,
        "an author reads no audit log"
    );
    let early = web.call("GET", "/audit?before=5", &admin_session, &[]);
    assert!(
        early.body.contains("<td class=\"num\">4</td>") && !early.body.contains("<td class=\"num\">5</td>"),
        "{}",
        early.body
    );
    let listed = web.call("GET", "/datasets", &session, &[]);
    assert!(
        listed.body.contains("lending@1") && listed.body.contains("<code>lending_cases</code>"),
        "{}",
        listed.body
    );
    let grant = |session: &str, csrf: &str| {
        web.call(
            "POST",
            "/datasets/lending@1",
            session,
            &[("csrf", csrf), ("action", "grant"), ("org", "city-b")],
        )
    };
    assert_eq!(grant(&session, &csrf).status, StatusCode::FORBIDDEN);
    assert_eq!(grant(&admin_session, &admin_csrf).status, StatusCode::SEE_OTHER);
    let grants = reg.json(&admin, &["dataset", "show", "lending"])["grants"].clone();
    assert!(grants.as_array().expect("grants").iter().any(|g| g == "city-b"), "{grants}");

    // A dataset imported from the browser's form: the CSRF token first, then the fields and files.
    let mut form =
        format!("--webform\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n").into_bytes();
    for (name, value) in [("name", "lending_web"), ("task", "private-lending-fraud"), ("source", "网页上传")]
    {
        form.extend(
            format!("--webform\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .bytes(),
        );
    }
    for entry in std::fs::read_dir(&dir).expect("dir") {
        let path = entry.expect("entry").path();
        let file = path.file_name().expect("name").to_string_lossy().into_owned();
        form.extend(
            format!(
                "--webform\r\nContent-Disposition: form-data; name=\"tables\"; filename=\"{file}\"\r\n\r\n"
            )
            .bytes(),
        );
        form.extend(std::fs::read(&path).expect("read"));
        form.extend(b"\r\n");
    }
    form.extend(b"--webform--\r\n");
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/datasets/upload")
        .header("cookie", &session)
        .header("content-type", "multipart/form-data; boundary=webform")
        .body(Body::from(form))
        .expect("request");
    let answer = web.runtime.block_on(async { web.router.clone().oneshot(request).await.expect("answer") });
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(reg.json(&admin, &["dataset", "show", "lending_web"])["source"], "网页上传");

    // A form of many small fields is refused before it costs the server memory.
    let mut many = format!("--webform\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n");
    for i in 0..100 {
        many.push_str(&format!("--webform\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nx\r\n"));
    }
    many.push_str("--webform--\r\n");
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/datasets/upload")
        .header("cookie", &session)
        .header("content-type", "multipart/form-data; boundary=webform")
        .body(Body::from(many))
        .expect("request");
    let status =
        web.runtime.block_on(async { web.router.clone().oneshot(request).await.expect("answer").status() });
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // An upload whose form does not start with this session's CSRF token stores nothing.
    let boundary = "sieve-web-test";
    let forged = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nforged\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"component\"; filename=\"m.wasm\"\r\n\r\nnot wasm\r\n--{boundary}--\r\n"
    );
    let before = reg.json(&admin, &["plugin", "list"]).as_array().map(Vec::len);
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/models/upload")
        .header("cookie", &session)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(forged))
        .expect("request");
    let status =
        web.runtime.block_on(async { web.router.clone().oneshot(request).await.expect("answer").status() });
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reg.json(&admin, &["plugin", "list"]).as_array().map(Vec::len), before);
    assert_eq!(
        std::fs::read_dir(reg.home().join("spool")).expect("spool").count(),
        0,
        "nothing left in the spool"
    );

    // Another city's author cannot open the run, and the refusal is audited.
    let theirs = web.call("POST", "/signin", "", &[("token", &mallory)]);
    let theirs = theirs.cookie.split(';').next().expect("cookie").to_string();
    assert_eq!(web.call("GET", &format!("/runs/{run}"), &theirs, &[]).status, StatusCode::FORBIDDEN);
    assert_eq!(
        web.call("GET", &format!("/runs/{run}/clues/{seq}"), &theirs, &[]).status,
        StatusCode::FORBIDDEN
    );
    let theirs_csrf = csrf_of(&web.call("GET", "/models", &theirs, &[]).body);
    let forged = [("subject", subject.as_str()), ("verdict", "confirmed"), ("csrf", theirs_csrf.as_str())];
    assert_eq!(
        web.call("POST", &format!("/runs/{run}/reviews"), &theirs, &forged).status,
        StatusCode::FORBIDDEN
    );

    // Every form that changes something refuses a token that is not this session's.
    for path in [
        "/signout".to_string(),
        "/runs".to_string(),
        format!("/runs/{run}/reviews"),
        format!("/runs/{run}/release"),
        format!("/vetting/{digest}"),
        "/datasets/lending@1".to_string(),
        format!("/models/{digest}/favourite"),
        "/competitions/cup/submit".to_string(),
    ] {
        let fields =
            [("csrf", theirs_csrf.as_str()), ("favourite", "true"), ("action", "grant"), ("org", "city-b")];
        let p = web.call("POST", &path, &session, &fields);
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{path}: {}", p.body);
        assert!(p.body.contains("CSRF"), "{path}");
    }
    let log = reg.json(&admin, &["audit", "log", "--limit", "300"]);
    assert!(
        log.as_array().expect("events").iter().any(|e| e["actor"] == "mallory" && e["action"] == "refused"),
        "{log}"
    );

    // English on the switch, for this browser only.
    let p = web.call("GET", "/lang/en", &session, &[]);
    assert!(p.cookie.starts_with("sieve_lang=en"), "{}", p.cookie);
    let p = web.call("GET", "/models", &format!("{session}; sieve_lang=en"), &[]);
    assert!(p.body.contains("lang=\"en\"") && p.body.contains("<h1>Models</h1>"), "{}", p.body);

    // A competition: listed with its phase, entered from its page, ranked on the public board
    // with a chart of each entry's interval.
    let olga = reg.user(&admin, "olga", "province", &["organizer"]);
    let practice = reg.fresh_dir("web-practice");
    let p_dir = practice.to_str().expect("utf-8");
    assert!(
        crate::common::run(&["gen", "private-lending-fraud", "--seed", "5", "--out", p_dir]).status.success()
    );
    reg.ok(&admin, &import_args("practice", p_dir, "private-lending-fraud", "court"));
    reg.ok(&admin, &["dataset", "approve", "practice"]);
    reg.ok(&olga, &["benchmark", "create", "bench", "--dataset", "lending", "--practice", "practice"]);
    reg.ok(&olga, &["competition", "create", "cup", "--benchmark", "bench", "--daily-limit", "3"]);
    reg.ok(&olga, &["competition", "open", "cup"]);
    let listed = web.call("GET", "/competitions", &session, &[]);
    assert!(
        listed.body.contains("href=\"/competitions/cup\"") && listed.body.contains("进行中"),
        "{}",
        listed.body
    );
    let cup = web.call("GET", "/competitions/cup", &session, &[]);
    assert!(cup.body.contains("3 / 3"), "quota left: {}", cup.body);
    let entered =
        web.call("POST", "/competitions/cup/submit", &session, &[("csrf", &csrf), ("plugin", &digest)]);
    assert_eq!(entered.status, StatusCode::SEE_OTHER, "{}", entered.body);
    let begun = std::time::Instant::now();
    let board = loop {
        let p = web.call("GET", "/competitions/cup", &session, &[]);
        if p.body.contains("<circle") {
            break p;
        }
        assert!(begun.elapsed() < std::time::Duration::from_secs(120), "never scored: {}", p.body);
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert!(board.body.contains("<svg") && board.body.contains("city-a"), "{}", board.body);
    assert!(board.body.contains("2 / 3"), "one submission used: {}", board.body);
    let model = web.call("GET", &format!("/models/{digest}"), &session, &[]);
    assert!(
        model.body.contains("基准测试准确率") && model.body.contains("href=\"/competitions/cup\""),
        "{}",
        model.body
    );
    assert!(web.call("GET", "/competitions", &session, &[]).body.contains("<td>bench</td>"));
    // A sign-in form posted from another site is refused (login CSRF).
    let mut foreign = web.call_with(
        "POST",
        "/signin",
        "",
        &[("token", &alice)],
        &[("origin", "https://evil.example"), ("host", "localhost")],
    );
    assert_eq!(foreign.status, StatusCode::FORBIDDEN, "{}", std::mem::take(&mut foreign.body));
    assert!(foreign.cookie.is_empty());

    // Evidence rows come from the model (checked when it emitted them) and then from the
    // database: a row naming the labels or lying past its table is never read, even if the
    // stored clue was altered afterwards.
    reg.sql(&format!(
        "UPDATE clues SET evidence = '[{{\"table\":\"labels\",\"row\":0}},{{\"table\":\"lending_cases\",\"row\":99999999}}]' WHERE run_id = {run} AND seq = {seq}"
    ));
    let altered = web.call("GET", &format!("/runs/{run}/clues/{seq}"), &session, &[]);
    assert_eq!(altered.status, StatusCode::OK, "{}", altered.body);
    assert!(
        !altered.body.contains("<code>labels</code>") && !altered.body.contains("<code>lending_cases</code>")
    );

    // Signing out needs the token too, and clears the cookie.
    let p = web.call("POST", "/signout", &session, &[("csrf", "forged")]);
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = web.call("POST", "/signout", &session, &[("csrf", &csrf)]);
    assert!(p.cookie.contains("Max-Age=0"), "{}", p.cookie);
}
