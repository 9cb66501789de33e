//! Competition pages: the competitions with their phase and time left, and one competition's
//! quota, submission form, public leaderboard (the private one once finalized) and a chart of
//! each entry's score with its bootstrap interval, drawn here as SVG.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::i18n::{Lang, Msg};
use super::layout::{head_row, page};
use super::pages::failed;
use super::session::{Posted, Viewer};
use crate::api::AppState;
use crate::competition::leaderboard::Board;
use crate::storage::now_ms;

fn phase_label(lang: Lang, phase: &str) -> String {
    let msg = match phase {
        "open" => Msg::PhaseOpen,
        "closed" => Msg::PhaseClosed,
        "finalized" => Msg::PhaseFinalized,
        "scheduled" => Msg::PhaseScheduled,
        _ => Msg::PhaseCreated,
    };
    msg.text(lang).to_string()
}

/// Time left until `closes` (epoch ms), as days and hours; `None` once past or unset.
fn time_left(closes: Option<i64>, now: i64) -> Option<String> {
    let left = (closes? - now) / 1000;
    (left > 0).then(|| format!("{}d {}h", left / 86_400, left % 86_400 / 3_600))
}

/// `/competitions`: every competition with its task, metric, phase and time left.
pub async fn list(State(s): State<AppState>, viewer: Viewer) -> Response {
    let lang = viewer.lang;
    let all = match s.act(&viewer.actor, "GET /competitions", s.registry.competitions()).await {
        Ok(c) => c,
        Err(e) => return failed(&viewer, e),
    };
    let benchmarks = s.registry.benchmarks().await.unwrap_or_default();
    let now = now_ms();
    let body = html! {
        table {
            (head_row(lang, &[Msg::Competition, Msg::Task, Msg::Metric, Msg::Phase, Msg::TimeLeft, Msg::Organizer]))
            tbody {
                @for c in &all {
                    tr {
                        td { a href={ "/competitions/" (c.name) } { (c.name) } }
                        td { (c.task) }
                        td { (c.metric) }
                        td { (phase_label(lang, c.phase(now).as_str())) }
                        td { (time_left(c.closes_ms(), now).unwrap_or_else(|| "—".into())) }
                        td { (c.org) }
                    }
                }
            }
        }
        h2 { (Msg::Benchmarks.text(lang)) }
        table {
            (head_row(lang, &[Msg::Benchmark, Msg::Task, Msg::Metric, Msg::ReviewBudget, Msg::Subjects, Msg::Dataset]))
            tbody {
                @for b in &benchmarks {
                    tr {
                        td { (b.name) }
                        td { (b.task) }
                        td { (b.metric) }
                        td.num { (b.review_budget) }
                        td.num { (b.public_subjects) " / " (b.private_subjects) }
                        td { (b.practice.as_deref().unwrap_or("—")) }
                    }
                }
            }
        }
    };
    page(lang, Some(&viewer), Msg::Competitions.text(lang), body).into_response()
}

/// `text` cut to `chars` characters, with an ellipsis when cut.
fn short(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Each entry's score as a dot and its 95% interval as a bar, on a 0-1 scale.
fn chart(board: &Board) -> Markup {
    let rows: Vec<_> = board.entries.iter().filter(|e| e.primary.is_some()).take(30).collect();
    let (left, width, row_h) = (280.0, 400.0, 22.0);
    let height = 30.0 + row_h * rows.len() as f64;
    let x = |v: f64| left + width * v.clamp(0.0, 1.0);
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width="720" height=(height) role="img"
            aria-label={ (board.metric) " by entry, with 95% intervals" } {
            @for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
                line x1=(x(tick)) x2=(x(tick)) y1="0" y2=(height - 20.0) stroke="#d8dde6" {}
                text x=(x(tick)) y=(height - 5.0) font-size="11" text-anchor="middle" fill="#5b6575" { (tick) }
            }
            @for (i, e) in rows.iter().enumerate() {
                @let y = 15.0 + row_h * i as f64;
                text x="0" y=(y + 4.0) font-size="12" fill="#1d2430" {
                    (e.rank.map_or_else(|| "-".to_string(), |r| r.to_string())) ". " (e.org) " · " (short(&e.model, 22))
                }
                @if let Some(iv) = &e.interval {
                    line x1=(x(iv.low)) x2=(x(iv.high)) y1=(y) y2=(y) stroke="#9b1c1c" stroke-width="3" stroke-opacity="0.35" {}
                }
                circle cx=(x(e.primary.unwrap_or(0.0))) cy=(y) r="4" fill="#9b1c1c" {}
            }
        }
    }
}

/// `/competitions/{name}`: phase, quota left, the submission form, the leaderboard and chart.
pub async fn show(State(s): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> Response {
    let lang = viewer.lang;
    let actor = &viewer.actor;
    let now = now_ms();
    let status = match s
        .act(actor, "GET /competitions/{name}", s.registry.competition_status(actor, &name, now))
        .await
    {
        Ok(st) => st,
        Err(e) => return failed(&viewer, e),
    };
    let finalized = status.phase == "finalized";
    let board = match s
        .act(actor, "GET /competitions/{name}", s.registry.leaderboard(actor, &name, false, false, now))
        .await
    {
        Ok(b) => b,
        Err(e) => return failed(&viewer, e),
    };
    let plugins = s.registry.plugins_visible_to(actor).await.unwrap_or_default();
    let entries: Vec<_> =
        plugins.iter().filter(|p| p.state == "approved" && p.task == status.competition.task).collect();
    let c = &status.competition;
    let board_title = if finalized { Msg::PrivateBoard } else { Msg::PublicBoard };
    let body = html! {
        div.card {
            dl.facts {
                dt { (Msg::Task.text(lang)) } dd { (c.task) " · " (c.benchmark) }
                dt { (Msg::Metric.text(lang)) } dd { (c.metric) }
                dt { (Msg::Phase.text(lang)) } dd { (phase_label(lang, &status.phase)) }
                dt { (Msg::TimeLeft.text(lang)) } dd { (time_left(c.closes_ms(), now).unwrap_or_else(|| "—".into())) }
                dt { (Msg::QuotaLeft.text(lang)) } dd { (status.left_today) " / " (c.daily_limit) " (" (status.resets_at) ")" }
            }
        }
        @if status.phase == "open" {
            form.card.inline method="post" action={ "/competitions/" (c.name) "/submit" } {
                input type="hidden" name="csrf" value=(viewer.csrf);
                label for="entry" { (Msg::Model.text(lang)) }
                select #entry name="plugin" required {
                    @for p in &entries { option value=(p.digest) { (p.name) " " (p.version) " · " (p.org) } }
                }
                button type="submit" { (Msg::Submit.text(lang)) }
            }
        }
        h2 { (board_title.text(lang)) }
        (chart(&board))
        table {
            thead { tr {
                th scope="col" { "#" }
                th scope="col" { (Msg::Procuratorate.text(lang)) }
                th scope="col" { (Msg::Model.text(lang)) }
                th scope="col" { (c.metric) }
                th scope="col" { "95%" }
                th scope="col" { (Msg::Outcome.text(lang)) }
            } }
            tbody {
                @for e in &board.entries {
                    tr {
                        td.num { (e.rank.map_or_else(|| "—".to_string(), |r| r.to_string())) }
                        td { (e.org) }
                        td { (e.model) }
                        td.num { (e.primary.map_or_else(|| "—".to_string(), |v| format!("{v:.3}"))) }
                        td { (e.interval.as_ref().map_or_else(|| "—".to_string(), |i| format!("{:.3} – {:.3}", i.low, i.high))) }
                        td { (e.outcome.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    };
    page(lang, Some(&viewer), &c.name, body).into_response()
}

/// The submission form's fields.
#[derive(Deserialize)]
pub struct SubmitForm {
    plugin: String,
}

/// Enter a model (the registry checks phase, quota, approval and scope).
pub async fn submit(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Posted { viewer, form }: Posted<SubmitForm>,
) -> Response {
    let actor = &viewer.actor;
    match s
        .act(
            actor,
            "POST /competitions/{name}/submit",
            s.registry.submit(actor, &name, &form.plugin, now_ms()),
        )
        .await
    {
        Ok(_) => {
            s.queue.notify();
            Redirect::to(&format!("/competitions/{name}")).into_response()
        }
        Err(e) => failed(&viewer, e),
    }
}
