//! The page shell every page shares: header with navigation, the signed-in user and the language
//! switch, and the stylesheet, served inline (nothing is loaded from elsewhere). Every value is
//! put into the page through maud, which escapes it.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::i18n::{Lang, Msg};
use super::session::Viewer;

/// The stylesheet: system fonts (CJK first), readable tables, visible focus for the keyboard.
const STYLE: &str = r#"
:root { --ink:#1d2430; --muted:#5b6575; --line:#d8dde6; --accent:#9b1c1c; --bg:#f6f7f9; --ok:#1c6b3a; --warn:#8a5a00; }
* { box-sizing: border-box; }
body { margin:0; font-family: "PingFang SC","Noto Sans CJK SC","Microsoft YaHei","WenQuanYi Micro Hei",system-ui,sans-serif; color:var(--ink); background:var(--bg); line-height:1.5; }
header { background:#fff; border-bottom:3px solid var(--accent); padding:.6rem 1.5rem; display:flex; gap:1.5rem; align-items:center; flex-wrap:wrap; }
header .brand { font-weight:700; color:var(--accent); text-decoration:none; }
nav a { margin-right:1rem; color:var(--ink); text-decoration:none; }
nav a:hover, nav a:focus { text-decoration:underline; }
progress { width:24rem; height:1.2rem; }
td form { display:grid; grid-template-columns:max-content minmax(8rem,1fr); gap:.3rem .5rem; align-items:center; margin-top:.4rem; }
td form button { grid-column:2; justify-self:start; }
header .who { margin-left:auto; color:var(--muted); display:flex; gap:.8rem; align-items:center; }
main { max-width:1200px; margin:1.5rem auto; padding:0 1.5rem; }
h1 { font-size:1.4rem; margin:.2rem 0 1rem; }
h2 { font-size:1.1rem; margin:1.5rem 0 .5rem; }
table { border-collapse:collapse; width:100%; background:#fff; border:1px solid var(--line); }
th, td { padding:.45rem .6rem; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
th { background:#eef1f5; font-weight:600; }
td.num { text-align:right; font-variant-numeric:tabular-nums; }
code, .digest { font-family: ui-monospace,Menlo,Consolas,monospace; font-size:.85em; word-break:break-all; }
.muted { color:var(--muted); }
.state-approved { color:var(--ok); font-weight:600; } .state-submitted { color:var(--warn); } .state-rejected, .state-revoked { color:var(--accent); }
form.inline { display:flex; gap:.4rem; flex-wrap:wrap; align-items:center; }
label { font-weight:600; }
input, select, textarea, button { font:inherit; padding:.3rem .5rem; border:1px solid var(--line); border-radius:4px; }
button { background:var(--accent); color:#fff; border-color:var(--accent); cursor:pointer; }
button.plain { background:#fff; color:var(--ink); border-color:var(--line); }
:focus-visible { outline:3px solid #2f6fde; outline-offset:2px; }
.card { background:#fff; border:1px solid var(--line); padding:1rem 1.2rem; margin-bottom:1rem; }
pre.output { white-space:pre-wrap; overflow-wrap:anywhere; max-height:24rem; overflow:auto; background:#f6f6f4; padding:.6rem; font-size:.85rem; }
.error { background:#fdecec; border:1px solid #f1b5b5; padding:.8rem 1rem; }
.pager { margin:.8rem 0; display:flex; gap:1rem; align-items:center; }
dl.facts { display:grid; grid-template-columns: max-content 1fr; gap:.2rem 1rem; margin:0; }
dl.facts dt { color:var(--muted); }
"#;

/// A whole page for `viewer` (`None` on the sign-in page) titled `title`.
pub fn page(lang: Lang, viewer: Option<&Viewer>, title: &str, body: Markup) -> Html<String> {
    page_refreshing(lang, viewer, title, body, None)
}

/// A table's header row: a column header for each label, in order.
pub fn head_row(lang: Lang, columns: &[Msg]) -> Markup {
    html! { thead { tr { @for column in columns { th scope="col" { (column.text(lang)) } } } } }
}

/// A page that reloads itself every `refresh` seconds (a run being followed), with no script.
pub fn page_refreshing(
    lang: Lang,
    viewer: Option<&Viewer>,
    title: &str,
    body: Markup,
    refresh: Option<u32>,
) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(seconds) = refresh { meta http-equiv="refresh" content=(seconds); }
                title { (title) " · " (Msg::AppName.text(lang)) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    a.brand href="/" { (Msg::AppName.text(lang)) }
                    @if let Some(v) = viewer {
                        nav aria-label="main" {
                            a href="/models" { (Msg::Models.text(lang)) }
                            a href="/runs" { (Msg::Runs.text(lang)) }
                            a href="/datasets" { (Msg::Datasets.text(lang)) }
                            a href="/competitions" { (Msg::Competitions.text(lang)) }
                            @if v.actor.has(crate::registry::Role::Admin) {
                                a href="/vetting" { (Msg::Vetting.text(lang)) }
                                a href="/audit" { (Msg::Audit.text(lang)) }
                            }
                        }
                    }
                    div.who {
                        @if let Some(v) = viewer {
                            span { (Msg::SignedInAs.text(lang)) " " strong { (v.actor.user.name) } " · " (v.actor.user.org) }
                            form.inline method="post" action="/signout" {
                                input type="hidden" name="csrf" value=(v.csrf);
                                button.plain type="submit" { (Msg::SignOut.text(lang)) }
                            }
                        }
                        a href={ "/lang/" (match lang.other() { Lang::En => "en", Lang::Zh => "zh" }) } { (Msg::LanguageName.text(lang)) }
                    }
                }
                main { h1 { (title) } (body) }
                script { (PreEscaped(super::upload::PROGRESS_SCRIPT)) }
            }
        }
    };
    Html(markup.into_string())
}

/// An error page with `status`.
pub fn error_page(lang: Lang, viewer: Option<&Viewer>, status: StatusCode, message: &str) -> Response {
    let title = match status {
        StatusCode::FORBIDDEN => Msg::Forbidden,
        StatusCode::NOT_FOUND => Msg::NotFound,
        StatusCode::BAD_REQUEST => Msg::BadRequest,
        _ => Msg::Error,
    }
    .text(lang);
    let body = html! { p.error role="alert" { (message) } p { a href="/" { (Msg::Back.text(lang)) } } };
    (status, page(lang, viewer, title, body)).into_response()
}
