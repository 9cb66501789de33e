//! `/api/runs`: queue a run (202 at once), its status with queue position and progress (polled,
//! or as server-sent events), clues paged and sorted, export as CSV or JSON lines, release, and
//! the prosecutors' verdicts on clues.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, Authed};
use crate::runs::RunSummary;
use crate::runs::evidence::ClueEvidence;
use crate::runs::reviews::{Review, Verdict};
use crate::runs::store::{ClueOrder, RunRecord, RunRequest, StoredClue};
use crate::sandbox::limits::Overrides;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, start))
        .routes(routes!(status))
        .routes(routes!(events))
        .routes(routes!(clues))
        .routes(routes!(export))
        .routes(routes!(release))
        .routes(routes!(reviews))
        .routes(routes!(review))
        .routes(routes!(evidence))
}

/// A run to queue.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewRun {
    /// Plugin digest or unambiguous prefix (approved).
    plugin: String,
    /// Dataset `NAME[@VERSION]` (approved, granted).
    dataset: String,
    /// Parameter settings.
    #[serde(default)]
    params: std::collections::BTreeMap<String, String>,
    /// Limits (default: the registry's run policy, which they may not exceed).
    #[serde(default)]
    limits: Overrides,
    /// Run the model even if an identical run (same component, dataset version, settings,
    /// limits and host build) completed before; by default that run's outcome and clues answer.
    #[serde(default)]
    fresh: bool,
}

/// A queued run.
#[derive(Serialize, ToSchema)]
struct Queued {
    /// Run id.
    id: i64,
    /// Where to follow it.
    status_url: String,
}

/// Queue a run; answers 202 with its id at once (the same checks as `sieve run --dataset`
/// happen first: role, policy, approval, grant).
#[utoipa::path(post, path = "/api/runs", tag = "runs", request_body = NewRun,
    responses((status = 202, body = Queued), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn start(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiJson(body): ApiJson<NewRun>,
) -> ApiResult<(StatusCode, Json<Queued>)> {
    if s.queue.draining() {
        return Err(ApiError::unavailable("the server is shutting down: queue the run elsewhere or later"));
    }
    let policy = s.act(&actor, "run", s.registry.run_policy()).await?;
    let limits = body.limits.apply(&policy).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let settings: Vec<(String, String)> = body.params.into_iter().collect();
    let request = RunRequest {
        plugin: &body.plugin,
        dataset: &body.dataset,
        settings: &settings,
        limits: &limits,
        fresh: body.fresh,
    };
    let run = s.act(&actor, "run", s.registry.enqueue_run(&actor, &request)).await?;
    s.queue.notify();
    Ok((StatusCode::ACCEPTED, Json(Queued { id: run.id, status_url: format!("/api/runs/{}", run.id) })))
}

/// Paging of a list.
#[derive(Deserialize, IntoParams)]
struct ListQuery {
    /// How many, newest first (1 to 1000, default 50).
    limit: Option<i64>,
}

/// The runs the caller may see.
#[utoipa::path(get, path = "/api/runs", tag = "runs", params(ListQuery),
    responses((status = 200, body = [RunRecord]), (status = 400, body = ErrorBody)))]
async fn list(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Vec<RunRecord>>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit must be between 1 and 1000, got {limit}")));
    }
    s.act(&actor, "runs list", s.registry.runs(&actor, limit)).await.map(Json)
}

/// A run with where it stands.
#[derive(Serialize, ToSchema)]
struct RunStatus {
    /// The stored record.
    run: RunRecord,
    /// Place in the queue (1 = next), while queued.
    queue_position: Option<i64>,
    /// The model's last progress report `(done, total)`, while it runs on this server.
    progress: Option<(u64, u64)>,
    /// Once it has finished: what it reported (the `sieve run --json` object).
    report: Option<RunSummary>,
}

async fn run_status(s: &AppState, actor: &crate::registry::Actor, id: i64) -> ApiResult<RunStatus> {
    let run = s.act(actor, "runs show", s.registry.visible_run(actor, id)).await?;
    let queue_position =
        if run.state == "queued" { Some(s.registry.queue_position(id).await?) } else { None };
    let finished = run.state == "completed" || run.state == "failed";
    let report = if finished { Some(s.registry.run_summary(actor, id).await?) } else { None };
    Ok(RunStatus { progress: s.queue.progress(id), queue_position, report, run })
}

/// A run's record, queue position and progress.
#[utoipa::path(get, path = "/api/runs/{id}", tag = "runs", params(("id" = i64, Path, description = "run id")),
    responses((status = 200, body = RunStatus), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn status(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<RunStatus>> {
    run_status(&s, &actor, id).await.map(Json)
}

/// A run's status as server-sent events (`status`, every half second while it changes), ending
/// once the run has finished.
#[utoipa::path(get, path = "/api/runs/{id}/events", tag = "runs", params(("id" = i64, Path, description = "run id")),
    responses((status = 200, description = "text/event-stream of RunStatus"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn events(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    // Checked once up front: a refused caller gets the JSON error, not an empty stream.
    run_status(&s, &actor, id).await?;
    let stream = async_stream(s, actor, id);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

fn async_stream(
    s: AppState,
    actor: crate::registry::Actor,
    id: i64,
) -> impl futures_core::Stream<Item = Result<Event, Infallible>> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let mut last = String::new();
        loop {
            let Ok(now) = run_status(&s, &actor, id).await else { break };
            let done = now.run.state == "completed" || now.run.state == "failed";
            let text = serde_json::to_string(&now).unwrap_or_default();
            if text != last {
                if tx.send(Ok(Event::default().event("status").data(&text))).await.is_err() {
                    break;
                }
                last = text;
            }
            if done {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    tokio_stream(rx)
}

/// A receiver as a stream (without pulling in a stream utility crate).
fn tokio_stream<T>(rx: tokio::sync::mpsc::Receiver<T>) -> impl futures_core::Stream<Item = T> {
    struct Rx<T>(tokio::sync::mpsc::Receiver<T>);
    impl<T> futures_core::Stream for Rx<T> {
        type Item = T;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<T>> {
            self.0.poll_recv(cx)
        }
    }
    Rx(rx)
}

/// A page of clues.
#[derive(Deserialize, IntoParams)]
struct CluesQuery {
    /// Page, from 1.
    page: Option<i64>,
    /// Clues per page (1 to 1000, default 50).
    per_page: Option<i64>,
    /// `score` (highest first, the default) or `seq` (emission order).
    sort: Option<String>,
    /// Only the clues of this rule.
    rule: Option<String>,
}

/// A page of a run's clues with their evidence (held clues of a restricted dataset are refused).
#[utoipa::path(get, path = "/api/runs/{id}/clues", tag = "runs", params(("id" = i64, Path, description = "run id"), CluesQuery),
    responses((status = 200, body = [StoredClue]), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn clues(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<CluesQuery>,
) -> ApiResult<Json<Vec<StoredClue>>> {
    let page = q.page.unwrap_or(1);
    let per_page = q.per_page.unwrap_or(50);
    if !(1..=10_000_000).contains(&page) {
        return Err(ApiError::bad_request(format!("page must be between 1 and 10000000, got {page}")));
    }
    if !(1..=1000).contains(&per_page) {
        return Err(ApiError::bad_request(format!("per_page must be between 1 and 1000, got {per_page}")));
    }
    let order = match q.sort.as_deref() {
        None | Some("score") => ClueOrder::Score,
        Some("seq") => ClueOrder::Seq,
        Some(other) => {
            return Err(ApiError::bad_request(format!("sort must be score or seq, got {other:?}")));
        }
    };
    let listing = s.registry.run_clues_of_rule(&actor, id, order, page, per_page, q.rule.as_deref());
    s.act(&actor, "runs clues", listing).await.map(Json)
}

/// Export format.
#[derive(Deserialize, IntoParams)]
struct ExportQuery {
    /// `jsonl` (default) or `csv`.
    format: Option<String>,
}

/// Every clue of a completed run, as JSON lines or CSV (cells that could become spreadsheet
/// formulas are neutralised).
#[utoipa::path(get, path = "/api/runs/{id}/export", tag = "runs", params(("id" = i64, Path, description = "run id"), ExportQuery),
    responses((status = 200, description = "application/x-ndjson or text/csv"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn export(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let format = q.format.unwrap_or_else(|| "jsonl".into());
    if format != "jsonl" && format != "csv" {
        return Err(ApiError::bad_request(format!("format must be jsonl or csv, got {format:?}")));
    }
    let clues = s.act(&actor, "runs export", s.registry.export_clues(&actor, id)).await?;
    let (kind, body) = if format == "csv" {
        ("text/csv", crate::clues::stored_to_csv(&clues).map_err(ApiError::internal)?)
    } else {
        let mut out = String::new();
        for c in &clues {
            out.push_str(&serde_json::to_string(c).map_err(|e| ApiError::internal(e.to_string()))?);
            out.push('\n');
        }
        ("application/x-ndjson", out)
    };
    Ok(([(header::CONTENT_TYPE, kind)], body).into_response())
}

/// Why a run's clues are released.
#[derive(Deserialize, ToSchema, Default)]
struct ReleaseNote {
    /// Why.
    #[serde(default)]
    note: String,
}

/// Release a restricted run's clues for export (an admin above the data's owner, never its runner).
#[utoipa::path(post, path = "/api/runs/{id}/release", tag = "runs", request_body = ReleaseNote, params(("id" = i64, Path, description = "run id")),
    responses((status = 200, body = RunRecord), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn release(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ReleaseNote>,
) -> ApiResult<Json<RunRecord>> {
    s.act(&actor, "runs release", s.registry.release_run(&actor, id, &b.note)).await.map(Json)
}

/// A verdict on a clue.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewReview {
    /// `confirmed`, `dismissed` or `needs-more-data`.
    verdict: Verdict,
    /// Why (required for `dismissed`).
    #[serde(default)]
    reason: String,
    /// A note for colleagues.
    #[serde(default)]
    note: String,
}

/// The verdicts on a run's clues, by subject.
#[utoipa::path(get, path = "/api/runs/{id}/reviews", tag = "runs", params(("id" = i64, Path, description = "run id")),
    responses((status = 200, body = [Review]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn reviews(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<Review>>> {
    s.act(&actor, "runs reviews", s.registry.run_reviews(&actor, id)).await.map(Json)
}

/// Record a verdict on the clue(s) about `subject` in run `id`, replacing an earlier one (the
/// audit log keeps every verdict).
#[utoipa::path(put, path = "/api/runs/{id}/reviews/{subject}", tag = "runs", request_body = NewReview,
    params(("id" = i64, Path, description = "run id"), ("subject" = String, Path, description = "the clue's subject")),
    responses((status = 200, body = Review), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn review(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath((id, subject)): ApiPath<(i64, String)>,
    ApiJson(b): ApiJson<NewReview>,
) -> ApiResult<Json<Review>> {
    let stored = s.registry.review_clue(&actor, id, &subject, b.verdict, &b.reason, &b.note);
    s.act(&actor, "runs review", stored).await.map(Json)
}

/// One clue with its evidence as the dataset's own rows (all contract columns of each table).
#[utoipa::path(get, path = "/api/runs/{id}/clues/{seq}", tag = "runs",
    params(("id" = i64, Path, description = "run id"), ("seq" = i64, Path, description = "the clue's place in emission order, from 1")),
    responses((status = 200, body = ClueEvidence), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn evidence(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath((id, seq)): ApiPath<(i64, i64)>,
) -> ApiResult<Json<ClueEvidence>> {
    s.act(&actor, "runs evidence", s.registry.clue_evidence(&actor, id, seq)).await.map(Json)
}
