//! The web UI in a real browser: headless Chromium (Debian's package) driven through
//! chromedriver's WebDriver protocol against a real `sieve serve`. An author uploads a model; an
//! admin approves it in the vetting queue; the author runs it from the form, follows the run,
//! opens a clue's evidence rows, confirms it, and sees the model's field precision change. Each step leaves a screenshot
//! under `target/browser-screenshots/` (look at them).
//!
//! Runs where chromedriver is installed; `.ci/run` installs it and sets `SIEVE_TEST_BROWSER=1`,
//! which makes a missing browser a failure instead of a skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::registry::{Reg, data, import_args};

/// A WebDriver session.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    shots: PathBuf,
    step: usize,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = ureq::delete(&format!("{}/session/{}", self.base, self.session)).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port")
}

impl Browser {
    fn start(shots: PathBuf) -> Option<Browser> {
        let driver_path = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let Some(driver_path) = driver_path else {
            assert!(
                std::env::var_os("SIEVE_TEST_BROWSER").is_none(),
                "SIEVE_TEST_BROWSER is set but chromedriver is missing"
            );
            eprintln!("skipped: no chromedriver (apt-get install chromium chromium-driver)");
            return None;
        };
        let port = free_port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "chromedriver never answered");
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900", "--lang=zh-CN"],
        }}}});
        let answer: Value = ureq::post(&format!("{base}/session"))
            .send_json(&capabilities)
            .expect("new session")
            .body_mut()
            .read_json()
            .expect("json");
        let session = answer["value"]["sessionId"].as_str().expect("session id").to_string();
        std::fs::create_dir_all(&shots).expect("screenshot folder");
        Some(Browser { driver, base, session, shots, step: 0 })
    }

    fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let response = match method {
            "GET" => ureq::get(&url).call(),
            _ => ureq::post(&url).send_json(&body),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let answer: Value = response.body_mut().read_json().expect("json");
        answer["value"].clone()
    }

    fn go(&self, url: &str) {
        self.command("POST", "/url", json!({ "url": url }));
    }

    fn find(&self, css: &str) -> String {
        let found = self.command("POST", "/element", json!({"using": "css selector", "value": css}));
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.command("POST", &format!("/element/{element}/value"), json!({ "text": text }));
    }

    fn click(&self, css: &str) {
        let element = self.find(css);
        self.command("POST", &format!("/element/{element}/click"), json!({}));
    }

    fn source(&self) -> String {
        self.command("GET", "/source", json!({})).as_str().unwrap_or_default().to_string()
    }

    /// Wait (up to 30 s) until the page's source satisfies `ready`: a click that submits a form
    /// returns before the next page has loaded.
    fn wait_for(&self, what: &str, ready: impl Fn(&str, &str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let (source, url) = (self.source(), self.url());
            if ready(&source, &url) {
                return source;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "waited for {what}: {url}\n{source}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn url(&self) -> String {
        self.command("GET", "/url", json!({})).as_str().unwrap_or_default().to_string()
    }

    /// Save a screenshot named after the step.
    fn shot(&mut self, name: &str) {
        let png = self.command("GET", "/screenshot", json!({}));
        let bytes = base64_decode(png.as_str().expect("base64 png"));
        assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
        self.step += 1;
        std::fs::write(self.shots.join(format!("{:02}-{name}.png", self.step)), bytes)
            .expect("write screenshot");
    }
}

/// Standard base64, as WebDriver sends screenshots.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &c)| n | (u32::from(value(c)) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn a_prosecutor_runs_a_model_and_confirms_a_clue_in_a_real_browser() {
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../browser-screenshots");
    let Some(mut browser) = Browser::start(shots) else { return };
    let reg = Reg::sqlite("browser");
    let admin = reg.init();
    reg.ok(&admin, &["org", "add", "hangzhou", "--parent", "province"]);
    let author = reg.user(&admin, "li", "hangzhou", &["author"]);
    let approver = reg.user(&admin, "wang", "province", &["admin"]);
    let dir = data("private-lending-fraud");
    reg.ok(&admin, &import_args("lending", dir.to_str().expect("utf-8"), "private-lending-fraud", "court"));
    reg.ok(&admin, &["dataset", "approve", "lending"]);
    reg.ok(&admin, &["dataset", "grant", "lending", "province"]);
    let component = crate::common::fresh_dir("browser-component").join("lending.wasm");
    let o = crate::common::run(&[
        "bundled",
        "export",
        "private-lending-fraud",
        "--out",
        component.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success());
    let (mut server, url) = crate::api::spawn_server(reg.home(), "1");

    let sign_in = |browser: &mut Browser, token: &str, who: &str| {
        browser.go(&format!("{url}/signin"));
        browser.type_into("#token", token);
        browser.shot(&format!("sign-in-{who}"));
        browser.click("button[type=submit]");
        browser.wait_for("the registry after signing in", |_, url| url.ends_with("/models"));
    };
    let sign_out = |browser: &mut Browser| {
        browser.click("header form button");
        browser.wait_for("signing out", |_, url| url.ends_with("/signin"));
    };

    // The author publishes the model by uploading it (the progress bar's script sends it).
    sign_in(&mut browser, &author, "author");
    browser.go(&format!("{url}/models/upload"));
    browser.type_into("#component", component.to_str().expect("utf-8"));
    browser.type_into("#notes", "民间借贷虚假诉讼模型");
    browser.shot("upload-model");
    browser.click("form.card button[type=submit]");
    let page = browser.wait_for("the published model's page", |source, url| {
        url.contains("/models/sha256:") && source.contains("<h2>")
    });
    let digest = browser.url().rsplit('/').next().expect("digest").to_string();
    assert!(page.contains("民间借贷虚假诉讼模型") && page.contains("待审核"), "{page}");
    browser.shot("published");
    sign_out(&mut browser);

    // The admin approves the model in the vetting queue.
    sign_in(&mut browser, &approver, "admin");
    browser.go(&format!("{url}/vetting"));
    browser.wait_for("the vetting queue", |source, _| source.contains(&digest));
    browser.shot("vetting-queue");
    browser.type_into(&format!("input[id='note-{digest}']"), "已审核");
    browser.click(&format!("form[action='/vetting/{digest}'] button[value=approve]"));
    browser.wait_for("the approval", |source, _| {
        source.contains("button type=\"submit\" name=\"decision\" value=\"revoke\"")
    });
    sign_out(&mut browser);

    // The author runs it from the form and follows the run to its end.
    sign_in(&mut browser, &author, "author-again");
    browser.shot("models");
    browser.go(&format!("{url}/runs/new?plugin={digest}"));
    browser.shot("run-form");
    browser.click("form.card button[type=submit]");
    browser.wait_for("the run page", |_, url| url.contains("/runs/") && !url.contains("/new"));
    let started = Instant::now();
    while browser.source().contains("http-equiv=\"refresh\"") {
        assert!(started.elapsed() < Duration::from_secs(120), "the run never finished");
        std::thread::sleep(Duration::from_millis(300));
    }
    let run_page = browser.url();
    assert!(browser.source().contains("completed"), "{}", browser.source());
    browser.shot("run-clues");

    // Open the strongest clue: its evidence rows, then confirm it.
    browser.click("tbody tr td a");
    browser.wait_for("the evidence rows", |source, _| source.contains("lending_cases"));
    browser.shot("clue-evidence");
    browser.type_into("tbody form input[name=note]", "已立案监督");
    browser.click("tbody form button[type=submit]");
    browser.wait_for("the verdict on the run page", |source, url| {
        url.starts_with(&run_page) && source.contains("<strong>确认</strong>")
    });
    browser.shot("clue-confirmed");

    // The model's field precision now counts it.
    // Waited for, not read at once: on a busy machine the page may not have loaded yet.
    browser.go(&format!("{url}/models/{digest}"));
    let page = browser.wait_for("the model's page", |source, _| source.contains("hangzhou"));
    assert!(page.contains("1.000"), "{page}");
    browser.shot("field-precision");

    // Enter it in a competition and read the leaderboard, with its chart.
    let organizer = reg.user(&admin, "zhao", "province", &["organizer"]);
    let practice = crate::common::fresh_dir("browser-practice");
    let p_dir = practice.to_str().expect("utf-8");
    assert!(
        crate::common::run(&["gen", "private-lending-fraud", "--seed", "5", "--out", p_dir]).status.success()
    );
    reg.ok(&admin, &import_args("practice", p_dir, "private-lending-fraud", "court"));
    reg.ok(&admin, &["dataset", "approve", "practice"]);
    reg.ok(
        &organizer,
        &["benchmark", "create", "lending-bench", "--dataset", "lending", "--practice", "practice"],
    );
    reg.ok(&organizer, &["competition", "create", "lending-cup", "--benchmark", "lending-bench"]);
    reg.ok(&organizer, &["competition", "open", "lending-cup"]);
    browser.go(&format!("{url}/competitions"));
    browser.shot("competitions");
    browser.click("a[href='/competitions/lending-cup']");
    browser.wait_for("the competition page", |source, _| source.contains("提交参赛"));
    browser.click("form.card button[type=submit]");
    let started = Instant::now();
    loop {
        browser.go(&format!("{url}/competitions/lending-cup"));
        if browser.source().contains("<circle") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the entry was never scored");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(browser.source().contains("hangzhou"));
    browser.shot("leaderboard");

    // English on the switch.
    browser.click("header .who a");
    browser.wait_for("the English page", |source, _| source.contains("Public leaderboard"));
    browser.shot("english");
    let _ = server.kill();
    let _ = server.wait();
}
