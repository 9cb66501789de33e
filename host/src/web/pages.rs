//! The pages: sign-in, the model registry and a model's page (with its field precision), runs,
//! and a run's clues with their evidence and the review form. Each page reads through the same
//! registry functions, with the same checks and audited refusals, as the API and the CLI.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::{Lang, Msg};
use super::layout::{error_page, head_row, page};
use super::session::{self, NoFields, Posted, Viewer, lang_of};
use crate::api::AppState;
use crate::api::error::ApiError;
use crate::registry::plugins::PluginRecord;
use crate::runs::reviews::{FieldTally, Verdict};
use crate::runs::store::{ClueOrder, StoredClue};

/// Clues per page of a run.
const CLUES_PER_PAGE: i64 = 50;

/// A refusal or failure as a page (the registry already audited a refusal).
pub(super) fn failed(viewer: &Viewer, e: ApiError) -> Response {
    error_page(viewer.lang, Some(viewer), e.status, &e.message)
}

/// `/`: the registry.
pub async fn home() -> Redirect {
    Redirect::to("/models")
}

/// The sign-in form.
pub async fn sign_in_form(headers: HeaderMap) -> Response {
    sign_in_page(lang_of(&headers), None).into_response()
}

fn sign_in_page(lang: Lang, problem: Option<Msg>) -> impl IntoResponse {
    let body = html! {
        div.card {
            @if let Some(p) = problem { p.error role="alert" { (p.text(lang)) } }
            form method="post" action="/signin" {
                p {
                    label for="token" { (Msg::Token.text(lang)) }
                    br;
                    input #token name="token" type="password" autocomplete="off" required size="48" aria-describedby="token-help";
                    br;
                    small #token-help .muted { (Msg::TokenHelp.text(lang)) }
                }
                button type="submit" { (Msg::SignIn.text(lang)) }
            }
        }
    };
    page(lang, None, Msg::SignIn.text(lang), body)
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub struct SignIn {
    token: String,
}

/// Check the token as the API would; keep it in the session cookie.
pub async fn sign_in(State(s): State<AppState>, headers: HeaderMap, Form(form): Form<SignIn>) -> Response {
    let lang = lang_of(&headers);
    // No session yet to tie a CSRF token to: a form posted from another site is told apart by
    // its Origin, which browsers send with every cross-site POST (login CSRF).
    if !same_origin(&headers) {
        return error_page(lang, None, StatusCode::FORBIDDEN, "sign in from this site's own page");
    }
    let token = form.token.trim();
    // A token is printable ASCII; anything else cannot be one and must not reach a header.
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) || token.contains(';') {
        return (StatusCode::UNAUTHORIZED, sign_in_page(lang, Some(Msg::BadToken))).into_response();
    }
    match s.registry.authenticate(Some(token)).await {
        Ok(_) => {
            let mut response = Redirect::to("/models").into_response();
            if let Ok(v) = session::session_cookie(Some(token)).parse() {
                response.headers_mut().insert(header::SET_COOKIE, v);
            }
            response
        }
        Err(e) => {
            let _ = s.registry.refused(None, "POST /signin", e).await;
            (StatusCode::UNAUTHORIZED, sign_in_page(lang, Some(Msg::BadToken))).into_response()
        }
    }
}

/// Whether the request's `Origin`, if it sent one, names the host it was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

/// Sign out: clear the cookie.
pub async fn sign_out(_: Posted<NoFields>) -> Response {
    let mut response = Redirect::to("/signin").into_response();
    if let Ok(v) = session::session_cookie(None).parse() {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// Switch the language, back to where the user was.
pub async fn switch_language(Path(code): Path<String>, headers: HeaderMap) -> Response {
    let value = if code == "en" { "en" } else { "zh" };
    // Only a path on this site: never an open redirect.
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_string()))
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or_else(|| "/".into());
    let mut response = Redirect::to(&back).into_response();
    let cookie = format!("{}={value}; Path=/; SameSite=Strict; Max-Age=31536000", session::LANG_COOKIE);
    if let Ok(v) = cookie.parse() {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// The registry's filters.
#[derive(Deserialize, Default)]
pub struct ModelFilter {
    #[serde(default)]
    q: String,
    #[serde(default)]
    task: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    starred: bool,
}

fn state_class(state: &str) -> String {
    format!("state-{state}")
}

/// A plugin state in the page's language.
fn state_label(lang: Lang, state: &str) -> &str {
    match state {
        "submitted" => Msg::StateSubmitted.text(lang),
        "approved" => Msg::StateApproved.text(lang),
        "rejected" => Msg::StateRejected.text(lang),
        "revoked" => Msg::StateRevoked.text(lang),
        other => other,
    }
}

/// `/models`: the models the viewer may see, searchable and filtered by task and state.
pub async fn models(State(s): State<AppState>, viewer: Viewer, Query(f): Query<ModelFilter>) -> Response {
    let lang = viewer.lang;
    let plugins =
        match s.act(&viewer.actor, "GET /models", s.registry.plugins_visible_to(&viewer.actor)).await {
            Ok(p) => p,
            Err(e) => return failed(&viewer, e),
        };
    let starred = s.registry.favourites(&viewer.actor).await.unwrap_or_default();
    let field = s.registry.field_precision_totals().await.unwrap_or_default();
    let needle = f.q.trim().to_lowercase();
    let mut shown: Vec<&PluginRecord> = plugins
        .iter()
        .filter(|p| !f.starred || starred.contains(&p.digest))
        .filter(|p| f.task.is_empty() || p.task == f.task)
        .filter(|p| f.state.is_empty() || p.state == f.state)
        .filter(|p| {
            needle.is_empty()
                || [&p.name, &p.task, &p.org, &p.digest, &p.notes]
                    .iter()
                    .any(|t| t.to_lowercase().contains(&needle))
                || p.info["summary"].as_str().is_some_and(|t| t.to_lowercase().contains(&needle))
        })
        .collect();
    // Favourites first, the rest as the registry lists them.
    shown.sort_by_key(|p| !starred.contains(&p.digest));
    let body = html! {
        p { a href="/models/upload" { (Msg::PublishModel.text(lang)) } }
        form.inline method="get" action="/models" role="search" {
            label for="q" { (Msg::Search.text(lang)) }
            input #q name="q" type="search" value=(f.q);
            label for="task" { (Msg::Task.text(lang)) }
            select #task name="task" {
                option value="" { (Msg::AllTasks.text(lang)) }
                @for t in crate::datasets::contract::TASKS {
                    option value=(t) selected[f.task == t] { (t) }
                }
            }
            label for="state" { (Msg::State.text(lang)) }
            select #state name="state" {
                option value="" { (Msg::AllStates.text(lang)) }
                @for st in ["submitted", "approved", "rejected", "revoked"] {
                    option value=(st) selected[f.state == st] { (state_label(lang, st)) }
                }
            }
            input #starred name="starred" type="checkbox" value="true" checked[f.starred];
            label for="starred" { (Msg::Favourites.text(lang)) }
            button type="submit" { (Msg::Filter.text(lang)) }
        }
        @if shown.is_empty() {
            p.muted { (Msg::NoModels.text(lang)) }
        } @else {
            table {
                (head_row(lang, &[Msg::Model, Msg::Task, Msg::State, Msg::Author, Msg::VettingFindings, Msg::Runs, Msg::FieldPrecision, Msg::Digest]))
                tbody {
                    @for p in &shown {
                        tr {
                            td {
                                @if starred.contains(&p.digest) { span aria-label=(Msg::Favourites.text(lang)) { "★ " } }
                                a href={ "/models/" (p.digest) } { (p.name) " " (p.version) }
                                br; small.muted { (p.info["summary"].as_str().unwrap_or("")) }
                            }
                            td { (p.task) }
                            td class=(state_class(&p.state)) { (state_label(lang, &p.state)) }
                            td { (p.org) }
                            td { (p.vetting.as_ref().map_or("—", |v| if v.passed { "✓" } else { "✗" })) }
                            td.num { (p.runs) " · " (p.orgs_using) " " (Msg::Procuratorate.text(lang)) }
                            td.num { (field.get(&p.digest).map_or_else(|| "—".to_string(), |x| format!("{x:.3}"))) }
                            td { code { (&p.digest[..p.digest.len().min(19)]) } }
                        }
                    }
                }
            }
        }
    };
    page(lang, Some(&viewer), Msg::Models.text(lang), body).into_response()
}

fn tally_row(lang: Lang, t: &FieldTally) -> Markup {
    html! {
        tr {
            td { (t.org.as_deref().unwrap_or(Msg::AllRuns.text(lang))) }
            td.num { (t.confirmed) }
            td.num { (t.dismissed) }
            td.num { (t.needs_more_data) }
            td.num { (t.precision.map_or_else(|| "-".to_string(), |p| format!("{p:.3}"))) }
        }
    }
}

/// `/models/{digest}`: a model's description, inputs, parameters, vetting, and field precision.
pub async fn model(State(s): State<AppState>, viewer: Viewer, Path(digest): Path<String>) -> Response {
    let lang = viewer.lang;
    let actor = &viewer.actor;
    let p = match s.act(actor, "GET /models/{digest}", s.registry.plugin_visible_to(actor, &digest)).await {
        Ok(p) => p,
        Err(e) => return failed(&viewer, e),
    };
    let precision =
        match s.act(actor, "GET /models/{digest}", s.registry.field_precision(actor, &p.digest)).await {
            Ok(f) => f,
            Err(e) => return failed(&viewer, e),
        };
    let starred = s.registry.favourites(actor).await.unwrap_or_default().contains(&p.digest);
    let benchmarks = s.registry.benchmark_precision(&p.digest).await.unwrap_or_default();
    let empty = Vec::new();
    let inputs = p.info["inputs"].as_array().unwrap_or(&empty);
    let params = p.info["params"].as_array().unwrap_or(&empty);
    let body = html! {
        div.inline {
            form.inline method="post" action={ "/models/" (p.digest) "/favourite" } {
                input type="hidden" name="csrf" value=(viewer.csrf);
                input type="hidden" name="favourite" value=(if starred { "false" } else { "true" });
                button.plain type="submit" aria-pressed=(starred) {
                    (if starred { "★ " } else { "☆ " }) (Msg::Favourites.text(lang))
                }
                @if p.state == "approved" { a href={ "/runs/new?plugin=" (p.digest) } { (Msg::StartRun.text(lang)) } }
            }
        }
        div.card {
            p { (p.info["summary"].as_str().unwrap_or("")) }
            dl.facts {
                dt { (Msg::Task.text(lang)) } dd { (p.task) }
                dt { (Msg::State.text(lang)) } dd class=(state_class(&p.state)) { (state_label(lang, &p.state)) }
                dt { (Msg::Author.text(lang)) } dd { (p.author) " · " (p.org) }
                dt { (Msg::Digest.text(lang)) } dd { code { (p.digest) } }
                dt { (Msg::Runs.text(lang)) } dd { (p.runs) " (" (p.orgs_using) " " (Msg::Procuratorate.text(lang)) ")" }
                @if !p.notes.is_empty() { dt { (Msg::Notes.text(lang)) } dd { (p.notes) } }
            }
        }
        @if let Some(v) = &p.vetting {
            h2 { (Msg::VettingFindings.text(lang)) " " small.muted { (v.at) } }
            ul {
                @for f in &v.findings {
                    li { (if f.passed { "✓ " } else { "✗ " }) code { (f.check) } " " (f.detail) }
                }
            }
        }
        h2 { (Msg::FieldPrecision.text(lang)) }
        p.muted { (Msg::FieldPrecisionHelp.text(lang)) }
        table {
            (head_row(lang, &[Msg::Procuratorate, Msg::Confirmed, Msg::Dismissed, Msg::NeedsMoreData, Msg::Precision]))
            tbody {
                @for t in &precision.by_org { (tally_row(lang, t)) }
                (tally_row(lang, &precision.total))
            }
        }
        @if !benchmarks.is_empty() {
            h2 { (Msg::BenchmarkPrecision.text(lang)) }
            table {
                (head_row(lang, &[Msg::Competition, Msg::Benchmark, Msg::PublicBoard, Msg::PrivateBoard]))
                tbody {
                    @for b in &benchmarks {
                        tr {
                            td { a href={ "/competitions/" (b.competition) } { (b.competition) } }
                            td { (b.benchmark) }
                            td.num { (b.public.map_or_else(|| "—".to_string(), |x| format!("{x:.3}"))) }
                            td.num { (b.private.map_or_else(|| "—".to_string(), |x| format!("{x:.3}"))) }
                        }
                    }
                }
            }
        }
        h2 { (Msg::Inputs.text(lang)) }
        ul {
            @for t in inputs {
                li {
                    code { (t["table"].as_str().unwrap_or("")) } ": "
                    @for (i, c) in t["columns"].as_array().unwrap_or(&empty).iter().enumerate() {
                        @if i > 0 { ", " }
                        (c["name"].as_str().unwrap_or("")) " " span.muted { (c["type"].as_str().unwrap_or("")) }
                    }
                }
            }
        }
        h2 { (Msg::Parameters.text(lang)) }
        table {
            (head_row(lang, &[Msg::Parameters, Msg::Default, Msg::Description]))
            tbody {
                @for param in params {
                    tr {
                        td { code { (param["name"].as_str().unwrap_or("")) } }
                        td { (param["default"].as_str().unwrap_or("")) }
                        td { (param["description"].as_str().unwrap_or("")) }
                    }
                }
            }
        }
    };
    page(lang, Some(&viewer), &format!("{} {}", p.name, p.version), body).into_response()
}

/// `/runs`: the viewer's runs (and, for an admin, their subtree's).
pub async fn runs(State(s): State<AppState>, viewer: Viewer) -> Response {
    let lang = viewer.lang;
    let runs = match s.act(&viewer.actor, "GET /runs", s.registry.runs(&viewer.actor, 200)).await {
        Ok(r) => r,
        Err(e) => return failed(&viewer, e),
    };
    let body = html! {
        p { a href="/runs/new" { (Msg::StartRun.text(lang)) } }
        @if runs.is_empty() { p.muted { (Msg::NoRuns.text(lang)) } } @else {
            table {
                (head_row(lang, &[Msg::Run, Msg::Model, Msg::Dataset, Msg::Outcome, Msg::Clues, Msg::RunBy, Msg::Started]))
                tbody {
                    @for r in &runs {
                        tr {
                            td { a href={ "/runs/" (r.id) } { "#" (r.id) } }
                            td { (r.model) }
                            td { (r.dataset) }
                            td { (r.outcome.as_deref().unwrap_or(&r.state)) }
                            td.num { (r.clues) }
                            td { (r.user) " · " (r.org) }
                            td { (r.started_at) }
                        }
                    }
                }
            }
        }
    };
    page(lang, Some(&viewer), Msg::Runs.text(lang), body).into_response()
}

/// Which page of a run's clues, of which rule.
#[derive(Deserialize, Default)]
pub struct PageQuery {
    page: Option<i64>,
    #[serde(default)]
    rule: String,
}

fn verdict_label(lang: Lang, v: Verdict) -> &'static str {
    match v {
        Verdict::Confirmed => Msg::Confirmed,
        Verdict::Dismissed => Msg::Dismissed,
        Verdict::NeedsMoreData => Msg::NeedsMoreData,
    }
    .text(lang)
}

fn clue_row(lang: Lang, viewer: &Viewer, run: i64, page_no: i64, c: &StoredClue) -> Markup {
    let evidence = crate::clues::evidence_text(&c.evidence);
    let form_id = format!("review-{}", c.seq);
    html! {
        tr id={ "clue-" (c.seq) } {
            td.num { (format!("{:.2}", c.score)) }
            td { a href={ "/runs/" (run) "/clues/" (c.seq) } { (c.subject) } }
            td { code { (c.rule) } }
            td { (c.reason) br; small.muted { (Msg::Evidence.text(lang)) ": " (evidence) } }
            td {
                @if let Some(v) = &c.verdict {
                    strong { (verdict_label(lang, v.verdict)) } " · " (v.reviewer)
                    @if !v.reason.is_empty() { br; small { (v.reason) } }
                } @else {
                    span.muted { (Msg::NotReviewed.text(lang)) }
                }
                form method="post" action={ "/runs/" (run) "/reviews" } id=(form_id) {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    input type="hidden" name="subject" value=(c.subject);
                    input type="hidden" name="page" value=(page_no);
                    label for={ (form_id) "-verdict" } { (Msg::Verdict.text(lang)) }
                    select id={ (form_id) "-verdict" } name="verdict" {
                        @for v in [Verdict::Confirmed, Verdict::Dismissed, Verdict::NeedsMoreData] {
                            option value=(v.name()) { (verdict_label(lang, v)) }
                        }
                    }
                    label for={ (form_id) "-reason" } { (Msg::Reason.text(lang)) }
                    input id={ (form_id) "-reason" } name="reason" type="text" maxlength="2000";
                    label for={ (form_id) "-note" } { (Msg::Note.text(lang)) }
                    input id={ (form_id) "-note" } name="note" type="text" maxlength="2000";
                    button type="submit" { (Msg::Save.text(lang)) }
                }
            }
        }
    }
}

/// `/runs/{id}`: the run's record and a page of its clues, strongest first, each with its
/// evidence rows and the review form.
pub async fn run(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = viewer.lang;
    let actor = &viewer.actor;
    let record = match s.act(actor, "GET /runs/{id}", s.registry.visible_run(actor, id)).await {
        Ok(r) => r,
        Err(e) => return failed(&viewer, e),
    };
    let page_no = q.page.unwrap_or(1).clamp(1, 10_000_000);
    let held = record.restricted && record.released_by.is_none();
    let rule = Some(q.rule.as_str()).filter(|r| !r.is_empty());
    let (clues, rules) = if held || record.state != "completed" {
        (Vec::new(), Vec::new())
    } else {
        let listing =
            s.registry.run_clues_of_rule(actor, id, ClueOrder::Score, page_no, CLUES_PER_PAGE, rule);
        let rules = s.registry.run_rules(actor, id);
        match (s.act(actor, "GET /runs/{id}", listing).await, s.act(actor, "GET /runs/{id}", rules).await) {
            (Ok(c), Ok(r)) => (c, r),
            (Err(e), _) | (_, Err(e)) => return failed(&viewer, e),
        }
    };
    let summary = if record.state == "completed" || record.state == "failed" {
        s.registry.run_summary(actor, id).await.ok()
    } else {
        None
    };
    let shown = rule.map_or(record.clues, |r| rules.iter().find(|(k, _)| k == r).map_or(0, |(_, n)| *n));
    let pages = (shown + CLUES_PER_PAGE - 1) / CLUES_PER_PAGE;
    let may_release =
        held && viewer.actor.has(crate::registry::Role::Admin) && record.user != viewer.actor.user.name;
    let rule_query = rule.map(|r| format!("&rule={}", crate::text::percent_encode(r))).unwrap_or_default();
    let waiting = record.state == "queued" || record.state == "running";
    let position = if record.state == "queued" { s.registry.queue_position(id).await.ok() } else { None };
    let progress = s.queue.progress(id);
    let body = html! {
        @if waiting {
            div.card role="status" {
                @if let Some(place) = position {
                    p { (Msg::Queued.text(lang)) " · " (Msg::QueuePosition.text(lang)) " " (place) }
                    progress aria-label=(Msg::Queued.text(lang)) {}
                } @else {
                    p { (Msg::Running.text(lang)) }
                    @match progress {
                        Some((done, total)) if total > 0 => {
                            progress value=(done) max=(total) aria-label=(Msg::Running.text(lang)) { (done) "/" (total) }
                            " " (done) " / " (total)
                        }
                        _ => { progress aria-label=(Msg::Running.text(lang)) {} }
                    }
                }
            }
        }
        div.card {
            dl.facts {
                dt { (Msg::Model.text(lang)) } dd { a href={ "/models/" (record.plugin) } { (record.model) } }
                dt { (Msg::Dataset.text(lang)) } dd { (record.dataset) }
                dt { (Msg::Outcome.text(lang)) } dd { (record.outcome.as_deref().unwrap_or(&record.state)) }
                dt { (Msg::Clues.text(lang)) } dd { (record.clues) }
                dt { (Msg::RunBy.text(lang)) } dd { (record.user) " · " (record.org) }
                dt { (Msg::Started.text(lang)) } dd { (record.started_at) }
                @if let Some(from) = record.reused_from {
                    dt { (Msg::ReusedFrom.text(lang)) } dd #reused-from { a href={ "/runs/" (from) } { (from) } }
                }
                @if let Some(sm) = &summary {
                    dt { (Msg::Cost.text(lang)) }
                    dd { (Msg::FuelUsed.text(lang)) " " (sm.fuel) " · " (format!("{:.1}", sm.peak_memory_bytes as f64 / 1048576.0)) " MiB · " (format!("{:.0}", sm.wall_ms)) " ms" }
                    @if !sm.detail.is_empty() { dt { (Msg::Outcome.text(lang)) } dd { (sm.detail) } }
                }
            }
        }
        @if let Some(sm) = summary.as_ref().filter(|sm| !sm.logs.is_empty() || !sm.stdout.is_empty() || !sm.stderr.is_empty()) {
            // What the model said while it ran: its log lines, and what it printed (a Python
            // traceback, console.log), each already capped by the run's limits.
            details.card #model-output open[record.state == "failed"] {
                summary { (Msg::ModelOutput.text(lang)) }
                @if !sm.logs.is_empty() {
                    h3 { (Msg::ModelLog.text(lang)) }
                    pre.output { @for l in &sm.logs { (l.level) " " (l.message) "\n" } }
                }
                @if !sm.stdout.is_empty() { h3 { (Msg::Stdout.text(lang)) } pre.output #model-stdout { (sm.stdout) } }
                @if !sm.stderr.is_empty() { h3 { (Msg::Stderr.text(lang)) } pre.output #model-stderr { (sm.stderr) } }
            }
        }
        @if held {
            p.error role="status" { (Msg::Held.text(lang)) }
            @if may_release {
                form.inline method="post" action={ "/runs/" (id) "/release" } {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    label for="release-note" { (Msg::Note.text(lang)) }
                    input #release-note name="note" type="text" maxlength="2000";
                    button type="submit" { (Msg::Release.text(lang)) }
                }
            }
        }
        @if record.state == "completed" && !held {
            form.inline method="get" action={ "/runs/" (id) } {
                label for="rule" { (Msg::Rule.text(lang)) }
                select #rule name="rule" {
                    option value="" { (Msg::AllRules.text(lang)) " (" (record.clues) ")" }
                    @for (r, n) in &rules { option value=(r) selected[rule == Some(r.as_str())] { (r) " (" (n) ")" } }
                }
                button.plain type="submit" { (Msg::Filter.text(lang)) }
                a href={ "/runs/" (id) "/export?format=csv" } { (Msg::Export.text(lang)) " CSV" }
                a href={ "/runs/" (id) "/export?format=jsonl" } { (Msg::Export.text(lang)) " JSONL" }
            }
        }
        @if !clues.is_empty() {
            table {
                (head_row(lang, &[Msg::Score, Msg::Subject, Msg::Rule, Msg::Reason, Msg::Verdict]))
                tbody { @for c in &clues { (clue_row(lang, &viewer, id, page_no, c)) } }
            }
            nav.pager aria-label="pages" {
                @if page_no > 1 { a href={ "/runs/" (id) "?page=" (page_no - 1) (rule_query) } { (Msg::Previous.text(lang)) } }
                span { (Msg::Page.text(lang)) " " (page_no) " / " (pages.max(1)) }
                @if page_no < pages { a href={ "/runs/" (id) "?page=" (page_no + 1) (rule_query) } { (Msg::Next.text(lang)) } }
            }
        }
    };
    let title = format!("{} #{id}", Msg::Run.text(lang));
    super::layout::page_refreshing(lang, Some(&viewer), &title, body, waiting.then_some(1)).into_response()
}

/// The review form's fields.
#[derive(Deserialize)]
pub struct ReviewForm {
    subject: String,
    verdict: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    page: Option<i64>,
}

/// Store a verdict from the run page, then back to the clue.
pub async fn review(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Posted { viewer, form }: Posted<ReviewForm>,
) -> Response {
    let Some(verdict) = Verdict::parse(&form.verdict) else {
        return error_page(viewer.lang, Some(&viewer), StatusCode::BAD_REQUEST, &form.verdict);
    };
    let actor = &viewer.actor;
    let stored = s.registry.review_clue(actor, id, &form.subject, verdict, &form.reason, &form.note);
    match s.act(actor, "POST /runs/{id}/reviews", stored).await {
        Ok(_) => Redirect::to(&format!("/runs/{id}?page={}", form.page.unwrap_or(1).max(1))).into_response(),
        Err(e) => failed(&viewer, e),
    }
}

/// `/runs/{id}/clues/{seq}`: one clue, its evidence as the dataset's own rows, and the review form.
pub async fn clue(State(s): State<AppState>, viewer: Viewer, Path((id, seq)): Path<(i64, i64)>) -> Response {
    let lang = viewer.lang;
    let actor = &viewer.actor;
    let found =
        match s.act(actor, "GET /runs/{id}/clues/{seq}", s.registry.clue_evidence(actor, id, seq)).await {
            Ok(f) => f,
            Err(e) => return failed(&viewer, e),
        };
    let c = &found.clue;
    let body = html! {
        p { a href={ "/runs/" (id) } { (Msg::Back.text(lang)) " #" (id) } }
        table {
            (head_row(lang, &[Msg::Score, Msg::Subject, Msg::Rule, Msg::Reason, Msg::Verdict]))
            tbody { (clue_row(lang, &viewer, id, 1, c)) }
        }
        @for t in &found.tables {
            h2 { (Msg::Evidence.text(lang)) ": " code { (t.table) } }
            div style="overflow-x:auto" {
                table {
                    thead { tr {
                        th scope="col" { "#" }
                        @for col in &t.columns { th scope="col" { (col) } }
                    } }
                    tbody {
                        @for (row, cells) in &t.rows {
                            tr {
                                td.num { (row) }
                                @for cell in cells {
                                    @match cell { Some(v) => td { (v) }, None => td.muted { "—" } }
                                }
                            }
                        }
                    }
                }
            }
            @if t.more > 0 { p.muted { "+" (t.more) } }
        }
    };
    page(lang, Some(&viewer), &format!("{} · {}", Msg::Clues.text(lang), c.subject), body).into_response()
}

/// Which model to start a run of, if chosen already.
#[derive(Deserialize, Default)]
pub struct NewRunQuery {
    #[serde(default)]
    plugin: String,
}

/// `/runs/new`: start a run: an approved model, an approved dataset, its parameters with their
/// defaults and descriptions, and the two limits people change (fuel, deadline).
pub async fn new_run(State(s): State<AppState>, viewer: Viewer, Query(q): Query<NewRunQuery>) -> Response {
    let lang = viewer.lang;
    let actor = &viewer.actor;
    let plugins = match s.act(actor, "GET /runs/new", s.registry.plugins_visible_to(actor)).await {
        Ok(p) => p.into_iter().filter(|p| p.state == "approved").collect::<Vec<_>>(),
        Err(e) => return failed(&viewer, e),
    };
    let datasets = match s.act(actor, "GET /runs/new", s.registry.datasets_visible_to(actor)).await {
        Ok(d) => d.into_iter().filter(|d| d.state == "approved").collect::<Vec<_>>(),
        Err(e) => return failed(&viewer, e),
    };
    let chosen = plugins.iter().find(|p| p.digest == q.plugin).or(plugins.first());
    let empty = Vec::new();
    let params = chosen.and_then(|p| p.info["params"].as_array()).unwrap_or(&empty);
    let body = html! {
        form.inline method="get" action="/runs/new" {
            label for="plugin-pick" { (Msg::Model.text(lang)) }
            select #plugin-pick name="plugin" {
                @for p in &plugins {
                    option value=(p.digest) selected[chosen.is_some_and(|c| c.digest == p.digest)] {
                        (p.name) " " (p.version) " (" (p.task) ")"
                    }
                }
            }
            button.plain type="submit" { (Msg::Filter.text(lang)) }
        }
        @if let Some(p) = chosen {
            form.card method="post" action="/runs" {
                input type="hidden" name="csrf" value=(viewer.csrf);
                input type="hidden" name="plugin" value=(p.digest);
                p {
                    label for="dataset" { (Msg::Dataset.text(lang)) } " "
                    select #dataset name="dataset" required {
                        @for d in datasets.iter().filter(|d| d.task == p.task) {
                            option value={ (d.name) "@" (d.version) } { (d.name) "@" (d.version) " · " (d.source) }
                        }
                    }
                }
                @if !params.is_empty() {
                    table {
                        (head_row(lang, &[Msg::Parameters, Msg::Default, Msg::Description]))
                        tbody {
                            @for param in params {
                                @let name = param["name"].as_str().unwrap_or("");
                                tr {
                                    td { label for={ "param-" (name) } { code { (name) } } }
                                    td { input id={ "param-" (name) } name={ "param." (name) } type="text" value=(param["default"].as_str().unwrap_or("")); }
                                    td { (param["description"].as_str().unwrap_or("")) }
                                }
                            }
                        }
                    }
                }
                p.inline {
                    label for="fuel" { (Msg::Fuel.text(lang)) } " "
                    input #fuel name="fuel" type="text" placeholder="1e10" size="8";
                    " "
                    label for="deadline" { (Msg::Deadline.text(lang)) } " "
                    input #deadline name="deadline" type="text" placeholder="60" size="6";
                }
                p.inline {
                    input #fresh name="fresh" type="checkbox";
                    " "
                    label for="fresh" { (Msg::RunFresh.text(lang)) }
                }
                button type="submit" { (Msg::StartRun.text(lang)) }
            }
        } @else {
            p.muted { (Msg::NoModels.text(lang)) }
        }
    };
    page(lang, Some(&viewer), Msg::StartRun.text(lang), body).into_response()
}

/// Queue the run the form describes; then its page, which follows it.
pub async fn start_run(
    State(s): State<AppState>,
    Posted { viewer, form: fields }: Posted<Vec<(String, String)>>,
) -> Response {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).unwrap_or("");
    let number = |name: &str| -> Result<Option<f64>, String> {
        match field(name) {
            "" => Ok(None),
            text => text.parse::<f64>().map(Some).map_err(|_| format!("{name}: {text:?} is not a number")),
        }
    };
    let overrides = match (number("fuel"), number("deadline")) {
        (Ok(fuel), Ok(deadline)) => {
            crate::sandbox::limits::Overrides { fuel, deadline, ..Default::default() }
        }
        (Err(m), _) | (_, Err(m)) => {
            return error_page(viewer.lang, Some(&viewer), StatusCode::BAD_REQUEST, &m);
        }
    };
    let settings: Vec<(String, String)> = fields
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("param.")?.to_string(), v.trim().to_string())))
        .collect();
    let actor = &viewer.actor;
    let policy = match s.act(actor, "POST /runs", s.registry.run_policy()).await {
        Ok(p) => p,
        Err(e) => return failed(&viewer, e),
    };
    let limits = match overrides.apply(&policy) {
        Ok(l) => l,
        Err(e) => return error_page(viewer.lang, Some(&viewer), StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let request = crate::runs::store::RunRequest {
        plugin: field("plugin"),
        dataset: field("dataset"),
        settings: &settings,
        limits: &limits,
        fresh: fields.iter().any(|(k, v)| k == "fresh" && v == "on"),
    };
    match s.act(actor, "POST /runs", s.registry.enqueue_run(actor, &request)).await {
        Ok(run) => {
            s.queue.notify();
            Redirect::to(&format!("/runs/{}", run.id)).into_response()
        }
        Err(e) => failed(&viewer, e),
    }
}

/// `/vetting`: the admins' queue: plugins waiting for a decision, each with its automated
/// findings and the approve / reject form; approved ones with the revoke form.
pub async fn vetting(State(s): State<AppState>, viewer: Viewer) -> Response {
    let lang = viewer.lang;
    let actor = &viewer.actor;
    let plugins = match s.act(actor, "GET /vetting", s.registry.plugins_visible_to(actor)).await {
        Ok(p) => p,
        Err(e) => return failed(&viewer, e),
    };
    let decide_form = |p: &PluginRecord, decisions: &[(&str, Msg)]| {
        html! {
            form.inline method="post" action={ "/vetting/" (p.digest) } {
                input type="hidden" name="csrf" value=(viewer.csrf);
                label for={ "note-" (p.digest) } { (Msg::Note.text(lang)) }
                input id={ "note-" (p.digest) } name="note" type="text" maxlength="2000";
                @for (decision, label) in decisions {
                    button type="submit" name="decision" value=(decision) { (label.text(lang)) }
                }
            }
        }
    };
    let waiting: Vec<&PluginRecord> = plugins.iter().filter(|p| p.state == "submitted").collect();
    let approved: Vec<&PluginRecord> = plugins.iter().filter(|p| p.state == "approved").collect();
    let body = html! {
        h2 { (Msg::AwaitingDecision.text(lang)) " (" (waiting.len()) ")" }
        @for p in &waiting {
            div.card {
                p { a href={ "/models/" (p.digest) } { strong { (p.name) " " (p.version) } } " · " (p.task) " · " (p.author) " · " (p.org) }
                p { code { (p.digest) } }
                @if let Some(v) = &p.vetting {
                    ul {
                        @for f in &v.findings {
                            li { (if f.passed { "✓ " } else { "✗ " }) code { (f.check) } " " (f.detail) }
                        }
                    }
                }
                (decide_form(p, &[("approve", Msg::Approve), ("reject", Msg::Reject)]))
            }
        }
        h2 { (Msg::ApprovedModels.text(lang)) }
        @for p in &approved {
            div.card {
                p { a href={ "/models/" (p.digest) } { (p.name) " " (p.version) } " · " (p.org) }
                (decide_form(p, &[("revoke", Msg::Revoke)]))
            }
        }
    };
    page(lang, Some(&viewer), Msg::Vetting.text(lang), body).into_response()
}

/// The decision form's fields.
#[derive(Deserialize)]
pub struct DecisionForm {
    decision: String,
    #[serde(default)]
    note: String,
}

/// Approve, reject or revoke a plugin (the registry decides who may: admins, never their own).
pub async fn decide(
    State(s): State<AppState>,
    Path(digest): Path<String>,
    Posted { viewer, form }: Posted<DecisionForm>,
) -> Response {
    use crate::registry::plugins::Decision;
    let decision = match form.decision.as_str() {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject,
        "revoke" => Decision::Revoke,
        other => return error_page(viewer.lang, Some(&viewer), StatusCode::BAD_REQUEST, other),
    };
    let actor = &viewer.actor;
    let decided = s.registry.decide(actor, &digest, decision, &form.note);
    match s.act(actor, "POST /vetting/{digest}", decided).await {
        Ok(_) => Redirect::to("/vetting").into_response(),
        Err(e) => failed(&viewer, e),
    }
}

/// Export format.
#[derive(Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    format: String,
}

/// Every clue of a completed run as a file (CSV, formulas neutralised, or JSON lines), with the
/// verdicts; audited as the API's export is.
pub async fn export(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<ExportQuery>,
) -> Response {
    let actor = &viewer.actor;
    let clues = match s.act(actor, "GET /runs/{id}/export", s.registry.export_clues(actor, id)).await {
        Ok(c) => c,
        Err(e) => return failed(&viewer, e),
    };
    let (kind, extension, body) = if q.format == "jsonl" {
        let lines: Result<String, _> =
            clues.iter().map(|c| serde_json::to_string(c).map(|l| l + "\n")).collect();
        ("application/x-ndjson", "jsonl", lines.map_err(|e| e.to_string()))
    } else {
        ("text/csv; charset=utf-8", "csv", crate::clues::stored_to_csv(&clues))
    };
    match body {
        Ok(body) => {
            let disposition = format!("attachment; filename=\"run-{id}-clues.{extension}\"");
            ([(header::CONTENT_TYPE, kind.to_string()), (header::CONTENT_DISPOSITION, disposition)], body)
                .into_response()
        }
        Err(e) => error_page(viewer.lang, Some(&viewer), StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

/// The release form's fields.
#[derive(Deserialize)]
pub struct ReleaseForm {
    #[serde(default)]
    note: String,
}

/// Release a restricted run's clues (an admin above the data's owner, never its runner).
pub async fn release(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Posted { viewer, form }: Posted<ReleaseForm>,
) -> Response {
    let actor = &viewer.actor;
    match s.act(actor, "POST /runs/{id}/release", s.registry.release_run(actor, id, &form.note)).await {
        Ok(_) => Redirect::to(&format!("/runs/{id}")).into_response(),
        Err(e) => failed(&viewer, e),
    }
}

/// Which audit events, and whether to verify the chain.
#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    target: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    verify: Option<String>,
    before: Option<i64>,
}

/// Audit events per page.
const AUDIT_PAGE: i64 = 200;

/// `/audit`: the newest events the admin may read, filtered by target and action, and the
/// chain's verification on request.
pub async fn audit(State(s): State<AppState>, viewer: Viewer, Query(q): Query<AuditQuery>) -> Response {
    use crate::audit::Verdict;
    let lang = viewer.lang;
    let actor = &viewer.actor;
    let target = Some(q.target.trim()).filter(|t| !t.is_empty());
    let events = match s
        .act(actor, "GET /audit", s.registry.audit_visible_to(actor, AUDIT_PAGE, target, q.before))
        .await
    {
        Ok(e) => e,
        Err(e) => return failed(&viewer, e),
    };
    // The page back starts below the oldest event read, whatever the action filter kept.
    let older = events.first().map(|e| e.seq).filter(|_| events.len() as i64 == AUDIT_PAGE);
    let action = q.action.trim();
    let events: Vec<_> =
        events.into_iter().filter(|e| action.is_empty() || e.action.contains(action)).collect();
    let verdict = match q.verify {
        Some(_) => match crate::api::audit::chain_verdict(&s, actor, None).await {
            Ok(v) => Some(v),
            Err(e) => return failed(&viewer, e),
        },
        None => None,
    };
    let body = html! {
        form.inline method="get" action="/audit" {
            label for="target" { (Msg::Target.text(lang)) }
            input #target name="target" type="text" value=(q.target);
            label for="action" { (Msg::Action.text(lang)) }
            input #action name="action" type="text" value=(q.action);
            button.plain type="submit" { (Msg::Filter.text(lang)) }
            button type="submit" name="verify" value="1" { (Msg::VerifyChain.text(lang)) }
        }
        @match &verdict {
            Some(Verdict::Intact { events, .. }) => p.card role="status" { "✓ " (Msg::ChainIntact.text(lang)) " (" (events) ")" },
            Some(Verdict::Broken { seq, reason }) => p.error role="alert" { "✗ " (Msg::ChainBroken.text(lang)) " #" (seq) ": " (reason) },
            None => {},
        }
        table {
            thead { tr {
                th scope="col" { "#" }
                th scope="col" { (Msg::Time.text(lang)) }
                th scope="col" { (Msg::Actor.text(lang)) }
                th scope="col" { (Msg::Action.text(lang)) }
                th scope="col" { (Msg::Target.text(lang)) }
                th scope="col" { (Msg::Description.text(lang)) }
            } }
            tbody {
                @for e in &events {
                    tr {
                        td.num { (e.seq) }
                        td { (e.at) }
                        td { (e.actor) }
                        td { code { (e.action) } }
                        td { (e.target) }
                        td { small { code { (crate::text::prefix(&e.detail, 300)) } } }
                    }
                }
            }
        }
        @if let Some(oldest) = older {
            nav.pager aria-label="pages" {
                a href={ "/audit?before=" (oldest) "&target=" (crate::text::percent_encode(&q.target)) "&action=" (crate::text::percent_encode(&q.action)) } { (Msg::Older.text(lang)) }
            }
        }
    };
    page(lang, Some(&viewer), Msg::Audit.text(lang), body).into_response()
}

/// `/datasets`: the dataset versions the viewer may see, with their tables, rows, source,
/// restriction, state and grants; an admin's approve, retire and grant forms.
pub async fn datasets(State(s): State<AppState>, viewer: Viewer) -> Response {
    let lang = viewer.lang;
    let actor = &viewer.actor;
    let datasets = match s.act(actor, "GET /datasets", s.registry.datasets_visible_to(actor)).await {
        Ok(d) => d,
        Err(e) => return failed(&viewer, e),
    };
    let admin = actor.has(crate::registry::Role::Admin);
    let body = html! {
        p { a href="/datasets/upload" { (Msg::ImportDataset.text(lang)) } }
        @for d in &datasets {
            @let name = format!("{}@{}", d.name, d.version);
            div.card {
                h2 { (name) " " small.muted { (d.task) } }
                dl.facts {
                    dt { (Msg::Source.text(lang)) } dd { (d.source) }
                    dt { (Msg::State.text(lang)) } dd class=(state_class(&d.state)) { (d.state) }
                    dt { (Msg::Restricted.text(lang)) } dd { (if d.restricted { "✓" } else { "—" }) }
                    dt { (Msg::Grants.text(lang)) } dd { (d.grants.join(", ")) }
                    dt { (Msg::Digest.text(lang)) } dd { code { (d.digest) } }
                }
                table {
                    (head_row(lang, &[Msg::Table, Msg::Rows, Msg::Columns]))
                    tbody {
                        @for t in &d.tables {
                            tr { td { code { (t.name) } } td.num { (t.rows) } td { small { (t.columns.join(", ")) } } }
                        }
                    }
                }
                @if admin {
                    form.inline method="post" action={ "/datasets/" (name) } {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        @if d.state == "pending" { button type="submit" name="action" value="approve" { (Msg::Approve.text(lang)) } }
                        @if d.state != "retired" { button.plain type="submit" name="action" value="retire" { (Msg::Retire.text(lang)) } }
                        label for={ "grant-" (name) } { (Msg::GrantTo.text(lang)) }
                        input id={ "grant-" (name) } name="org" type="text" size="14";
                        button.plain type="submit" name="action" value="grant" { (Msg::Grant.text(lang)) }
                    }
                }
            }
        }
    };
    page(lang, Some(&viewer), Msg::Datasets.text(lang), body).into_response()
}

/// A dataset form's fields.
#[derive(Deserialize)]
pub struct DatasetForm {
    action: String,
    #[serde(default)]
    org: String,
}

/// Approve, retire or grant a dataset version (the registry checks the admin's scope).
pub async fn dataset_action(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Posted { viewer, form }: Posted<DatasetForm>,
) -> Response {
    let actor = &viewer.actor;
    let done = match form.action.as_str() {
        "approve" => s
            .act(actor, "POST /datasets/{name}", s.registry.set_dataset_state(actor, &name, true))
            .await
            .map(|_| ()),
        "retire" => s
            .act(actor, "POST /datasets/{name}", s.registry.set_dataset_state(actor, &name, false))
            .await
            .map(|_| ()),
        "grant" => s
            .act(actor, "POST /datasets/{name}", s.registry.grant_dataset(actor, &name, form.org.trim()))
            .await
            .map(|_| ()),
        other => return error_page(viewer.lang, Some(&viewer), StatusCode::BAD_REQUEST, other),
    };
    match done {
        Ok(()) => Redirect::to("/datasets").into_response(),
        Err(e) => failed(&viewer, e),
    }
}

/// Receive an upload form for `viewer` (see [`super::upload::receive`]); a refusal, or a form
/// without the files `enough` wants, becomes the page that says so.
async fn receive_upload(
    s: &AppState,
    viewer: &Viewer,
    form: axum::extract::Multipart,
    limit: u64,
    file_name_ok: impl Fn(&str) -> bool,
    enough: impl Fn(&super::upload::Received) -> bool,
) -> Result<super::upload::Received, Box<Response>> {
    use super::upload::Refused;
    let refused =
        |status, message: &str| Err(Box::new(error_page(viewer.lang, Some(viewer), status, message)));
    match super::upload::receive(form, &s.spool, limit, |token| viewer.csrf_ok(token), file_name_ok).await {
        Ok(r) if enough(&r) => Ok(r),
        Ok(_) => refused(StatusCode::BAD_REQUEST, "the form lacks its files"),
        Err(Refused::Csrf) => refused(StatusCode::FORBIDDEN, "CSRF"),
        Err(Refused::Bad(message)) => refused(StatusCode::BAD_REQUEST, &message),
    }
}

/// `/models/upload`: publish a model component (vetted on upload, as `sieve plugin publish`).
pub async fn upload_model_form(viewer: Viewer) -> Response {
    let lang = viewer.lang;
    let body = html! {
        form.card method="post" action="/models/upload" enctype="multipart/form-data" data-progress="upload-progress" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            p {
                label for="component" { (Msg::ComponentFile.text(lang)) } br;
                input #component name="component" type="file" accept=".wasm" required;
            }
            p {
                label for="notes" { (Msg::Notes.text(lang)) } br;
                textarea #notes name="notes" rows="3" cols="60" maxlength="4000" {}
            }
            progress #upload-progress hidden value="0" max="1" aria-label=(Msg::Upload.text(lang)) {}
            p { button type="submit" { (Msg::Upload.text(lang)) } }
        }
    };
    page(lang, Some(&viewer), Msg::PublishModel.text(lang), body).into_response()
}

/// Publish the uploaded component; then its page.
pub async fn upload_model(
    State(s): State<AppState>,
    viewer: Viewer,
    form: axum::extract::Multipart,
) -> Response {
    let limit = crate::api::upload::PLUGIN_LIMIT;
    let received = match receive_upload(&s, &viewer, form, limit, |_| true, |r| r.files.len() == 1).await {
        Ok(r) => r,
        Err(page) => return *page,
    };
    let bytes = match std::fs::read(received.dir.path().join(&received.files[0])) {
        Ok(b) => b,
        Err(e) => {
            return error_page(viewer.lang, Some(&viewer), StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
        }
    };
    let actor = &viewer.actor;
    let notes = received.field("notes").to_string();
    match s.act(actor, "POST /models/upload", s.registry.publish(&s.sandbox, actor, &bytes, &notes)).await {
        Ok((plugin, _)) => Redirect::to(&format!("/models/{}", plugin.digest)).into_response(),
        Err(e) => failed(&viewer, e),
    }
}

/// `/datasets/upload`: import a dataset from its table files (checked against the task's
/// contract; nothing is recorded unless every table is good).
pub async fn upload_dataset_form(viewer: Viewer) -> Response {
    let lang = viewer.lang;
    let body = html! {
        form.card method="post" action="/datasets/upload" enctype="multipart/form-data" data-progress="upload-progress" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            p {
                label for="name" { (Msg::Dataset.text(lang)) } " "
                input #name name="name" type="text" required pattern="[a-z0-9_-]{1,64}";
                " "
                label for="task" { (Msg::Task.text(lang)) } " "
                select #task name="task" { @for t in crate::datasets::contract::TASKS { option value=(t) { (t) } } }
            }
            p {
                label for="source" { (Msg::Source.text(lang)) } " "
                input #source name="source" type="text" required;
                " "
                input #restricted name="restricted" type="checkbox" value="1";
                label for="restricted" { (Msg::Restricted.text(lang)) }
            }
            p {
                label for="tables" { (Msg::TableFiles.text(lang)) } br;
                input #tables name="tables" type="file" accept=".csv,.parquet" multiple required;
            }
            progress #upload-progress hidden value="0" max="1" aria-label=(Msg::Upload.text(lang)) {}
            p { button type="submit" { (Msg::Upload.text(lang)) } }
        }
    };
    page(lang, Some(&viewer), Msg::ImportDataset.text(lang), body).into_response()
}

/// Import the uploaded tables; then the datasets page.
pub async fn upload_dataset(
    State(s): State<AppState>,
    viewer: Viewer,
    form: axum::extract::Multipart,
) -> Response {
    let (limit, name_ok) = (crate::api::upload::DATASET_LIMIT, crate::api::upload::is_table_file_name);
    let received = match receive_upload(&s, &viewer, form, limit, name_ok, |r| !r.files.is_empty()).await {
        Ok(r) => r,
        Err(page) => return *page,
    };
    let request = crate::registry::catalog::ImportRequest {
        name: received.field("name"),
        dir: received.dir.path(),
        task: received.field("task"),
        source: received.field("source"),
        restricted: received.field("restricted") == "1",
    };
    let actor = &viewer.actor;
    let imported = s.registry.import_dataset(actor, &request, &|_, _, _| {});
    match s.act(actor, "POST /datasets/upload", imported).await {
        Ok(_) => Redirect::to("/datasets").into_response(),
        Err(e) => failed(&viewer, e),
    }
}

/// The star form's fields.
#[derive(Deserialize)]
pub struct FavouriteForm {
    favourite: bool,
}

/// Star or unstar a model, then back to its page.
pub async fn favourite(
    State(s): State<AppState>,
    Path(digest): Path<String>,
    Posted { viewer, form }: Posted<FavouriteForm>,
) -> Response {
    let actor = &viewer.actor;
    let done = s.registry.set_favourite(actor, &digest, form.favourite);
    match s.act(actor, "POST /models/{digest}/favourite", done).await {
        Ok(()) => Redirect::to(&format!("/models/{digest}")).into_response(),
        Err(e) => failed(&viewer, e),
    }
}
