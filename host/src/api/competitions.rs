//! `/api/benchmarks` and `/api/competitions`: create, open, close, submit (queued, 202),
//! submissions, selection, leaderboards, finalize, rescore, and a benchmark's practice data (a tar
//! of its tables and labels).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, Authed};
use crate::competition::competitions::Transition;
use crate::competition::rescore::Rescored;
use crate::competition::submissions::CompetitionStatus;
use crate::competition::{
    BenchmarkRecord, BenchmarkRequest, Board, CompetitionRecord, CompetitionRequest, SubmissionRecord,
};
use crate::sandbox::limits::Overrides;
use crate::scoring::Metric;
use crate::storage::now_ms;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_benchmarks, create_benchmark))
        .routes(routes!(show_benchmark))
        .routes(routes!(practice))
        .routes(routes!(list_competitions, create_competition))
        .routes(routes!(show_competition))
        .routes(routes!(open))
        .routes(routes!(close))
        .routes(routes!(submissions, submit))
        .routes(routes!(select))
        .routes(routes!(leaderboard))
        .routes(routes!(finalize))
        .routes(routes!(rescore))
}

/// Every benchmark.
#[utoipa::path(get, path = "/api/benchmarks", tag = "competitions",
    responses((status = 200, body = [BenchmarkRecord]), (status = 401, body = ErrorBody)))]
async fn list_benchmarks(
    State(s): State<AppState>,
    Authed(actor): Authed,
) -> ApiResult<Json<Vec<BenchmarkRecord>>> {
    s.act(&actor, "benchmark list", s.registry.benchmarks()).await.map(Json)
}

/// One benchmark.
#[utoipa::path(get, path = "/api/benchmarks/{name}", tag = "competitions", params(("name" = String, Path, description = "benchmark name")),
    responses((status = 200, body = BenchmarkRecord), (status = 404, body = ErrorBody)))]
async fn show_benchmark(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<BenchmarkRecord>> {
    s.act(&actor, "benchmark show", s.registry.benchmark(&name)).await.map(Json)
}

/// A new benchmark.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewBenchmark {
    /// Name.
    name: String,
    /// Evaluation dataset `NAME[@VERSION]` (approved, labelled).
    dataset: String,
    /// `f0_5` (default), `precision`, `precision_at_k`, `ap`, `f1` or `recall`.
    metric: Option<String>,
    /// Review budget k (default: every labelled subject).
    review_budget: Option<usize>,
    /// Share of subjects on the public side (default 0.3).
    public_fraction: Option<f64>,
    /// Seed of the split (default 1).
    split_seed: Option<u64>,
    /// Practice dataset handed out with its labels.
    practice: Option<String>,
}

/// Create a benchmark (organizers).
#[utoipa::path(post, path = "/api/benchmarks", tag = "competitions", request_body = NewBenchmark,
    responses((status = 201, body = BenchmarkRecord), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_benchmark(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiJson(b): ApiJson<NewBenchmark>,
) -> ApiResult<(StatusCode, Json<BenchmarkRecord>)> {
    let mut request = BenchmarkRequest::new(&b.name, &b.dataset);
    if let Some(m) = &b.metric {
        request.metric = Metric::parse(m).map_err(ApiError::bad_request)?;
    }
    request.review_budget = b.review_budget;
    request.public_fraction = b.public_fraction.unwrap_or(request.public_fraction);
    request.split_seed = b.split_seed.unwrap_or(request.split_seed);
    request.practice = b.practice.as_deref();
    let record = s.act(&actor, "benchmark create", s.registry.create_benchmark(&actor, &request)).await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// Every competition.
#[utoipa::path(get, path = "/api/competitions", tag = "competitions",
    responses((status = 200, body = [CompetitionRecord]), (status = 401, body = ErrorBody)))]
async fn list_competitions(
    State(s): State<AppState>,
    Authed(actor): Authed,
) -> ApiResult<Json<Vec<CompetitionRecord>>> {
    s.act(&actor, "competition list", s.registry.competitions()).await.map(Json)
}

/// One competition, the caller's quota, when it resets, and the queue.
#[utoipa::path(get, path = "/api/competitions/{name}", tag = "competitions", params(("name" = String, Path, description = "competition name")),
    responses((status = 200, body = CompetitionStatus), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn show_competition(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<CompetitionStatus>> {
    s.act(&actor, "competition show", s.registry.competition_status(&actor, &name, now_ms())).await.map(Json)
}

/// A new competition.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewCompetition {
    /// Name.
    name: String,
    /// Benchmark.
    benchmark: String,
    /// Opening time (`YYYY-MM-DDTHH:MM:SSZ`).
    opens_at: Option<String>,
    /// Closing time.
    closes_at: Option<String>,
    /// Submissions per procuratorate per UTC day (default 5).
    daily_limit: Option<u32>,
    /// Failed submissions per procuratorate per UTC day (default 10).
    failure_limit: Option<u32>,
    /// Selections for the final ranking (default 2).
    final_selections: Option<u32>,
    /// Limits of every submission (default: the run policy).
    #[serde(default)]
    limits: Overrides,
}

fn time(given: &Option<String>, field: &str) -> ApiResult<Option<i64>> {
    given
        .as_deref()
        .map(|t| {
            sieve_sdk::data::parse_timestamp(t).ok_or_else(|| {
                ApiError::bad_request(format!("{field} must look like 2026-12-01T08:00:00Z, got {t:?}"))
            })
        })
        .transpose()
}

/// Create a competition (organizers above the benchmark).
#[utoipa::path(post, path = "/api/competitions", tag = "competitions", request_body = NewCompetition,
    responses((status = 201, body = CompetitionRecord), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_competition(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiJson(b): ApiJson<NewCompetition>,
) -> ApiResult<(StatusCode, Json<CompetitionRecord>)> {
    let policy = s.act(&actor, "competition create", s.registry.run_policy()).await?;
    let mut request = CompetitionRequest::new(&b.name, &b.benchmark);
    request.opens_at = time(&b.opens_at, "opens_at")?;
    request.closes_at = time(&b.closes_at, "closes_at")?;
    request.daily_limit = b.daily_limit.unwrap_or(request.daily_limit);
    request.failure_limit = b.failure_limit.unwrap_or(request.failure_limit);
    request.final_selections = b.final_selections.unwrap_or(request.final_selections);
    request.limits = b.limits.apply(&policy).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let record = s.act(&actor, "competition create", s.registry.create_competition(&actor, &request)).await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// Start accepting submissions (organizers).
#[utoipa::path(post, path = "/api/competitions/{name}/open", tag = "competitions", params(("name" = String, Path, description = "competition name")),
    responses((status = 200, body = CompetitionRecord), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn open(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<CompetitionRecord>> {
    s.act(&actor, "competition open", s.registry.change_competition(&actor, &name, Transition::Open))
        .await
        .map(Json)
}

/// Stop accepting submissions (organizers).
#[utoipa::path(post, path = "/api/competitions/{name}/close", tag = "competitions", params(("name" = String, Path, description = "competition name")),
    responses((status = 200, body = CompetitionRecord), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn close(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<CompetitionRecord>> {
    s.act(&actor, "competition close", s.registry.change_competition(&actor, &name, Transition::Close))
        .await
        .map(Json)
}

/// A submission.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewSubmission {
    /// Plugin digest or prefix (approved, of the benchmark's task).
    plugin: String,
}

/// Submit a plugin: queued at once (202); the workers run and score it.
#[utoipa::path(post, path = "/api/competitions/{name}/submissions", tag = "competitions", request_body = NewSubmission,
    params(("name" = String, Path, description = "competition name")),
    responses((status = 202, body = SubmissionRecord), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn submit(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
    ApiJson(b): ApiJson<NewSubmission>,
) -> ApiResult<(StatusCode, Json<SubmissionRecord>)> {
    let record =
        s.act(&actor, "competition submit", s.registry.submit(&actor, &name, &b.plugin, now_ms())).await?;
    s.queue.notify();
    Ok((StatusCode::ACCEPTED, Json(record.for_participant(false))))
}

/// The submissions the caller may see (theirs; organizers all; everyone's after finalization).
#[utoipa::path(get, path = "/api/competitions/{name}/submissions", tag = "competitions", params(("name" = String, Path, description = "competition name")),
    responses((status = 200, body = [SubmissionRecord]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn submissions(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Vec<SubmissionRecord>>> {
    s.act(&actor, "competition submissions", s.registry.submissions(&actor, &name)).await.map(Json)
}

/// A selection for the final ranking.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Selection {
    /// Submission ids of the caller's procuratorate.
    submissions: Vec<i64>,
}

/// Select submissions for the final ranking (replaces an earlier selection).
#[utoipa::path(put, path = "/api/competitions/{name}/selection", tag = "competitions", request_body = Selection,
    params(("name" = String, Path, description = "competition name")),
    responses((status = 200, body = Vec<i64>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn select(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
    ApiJson(b): ApiJson<Selection>,
) -> ApiResult<Json<Vec<i64>>> {
    s.act(&actor, "competition select", s.registry.select_submissions(&actor, &name, &b.submissions))
        .await
        .map(Json)
}

/// Which board.
#[derive(Deserialize, IntoParams)]
struct BoardQuery {
    /// The private side (organizers, before finalization).
    #[serde(default)]
    private: bool,
    /// Every submission, not each procuratorate's best (organizers).
    #[serde(default)]
    all: bool,
}

/// The leaderboard (the stored final ranking once finalized).
#[utoipa::path(get, path = "/api/competitions/{name}/leaderboard", tag = "competitions",
    params(("name" = String, Path, description = "competition name"), BoardQuery),
    responses((status = 200, body = Board), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn leaderboard(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<BoardQuery>,
) -> ApiResult<Json<Board>> {
    s.act(
        &actor,
        "competition leaderboard",
        s.registry.leaderboard(&actor, &name, q.private, q.all, now_ms()),
    )
    .await
    .map(Json)
}

/// Finalize: rank the private side and store the board (organizers; closed, nothing queued).
#[utoipa::path(post, path = "/api/competitions/{name}/finalize", tag = "competitions", params(("name" = String, Path, description = "competition name")),
    responses((status = 200, body = Board), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn finalize(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Board>> {
    s.act(&actor, "competition finalize", s.registry.finalize(&actor, &name, now_ms())).await.map(Json)
}

/// Rerun every scored submission and compare bit for bit (organizers; runs in the request).
#[utoipa::path(post, path = "/api/competitions/{name}/rescore", tag = "competitions", params(("name" = String, Path, description = "competition name")),
    responses((status = 200, body = [Rescored]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rescore(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Vec<Rescored>>> {
    s.act(&actor, "competition rescore", s.registry.rescore(&s.sandbox, &actor, &name)).await.map(Json)
}

/// A benchmark's practice dataset with its labels, as a tar of `<table>.parquet` and `labels.csv`
/// (anyone within the benchmark's procuratorate).
#[utoipa::path(get, path = "/api/benchmarks/{name}/practice", tag = "competitions", params(("name" = String, Path, description = "benchmark name")),
    responses((status = 200, description = "application/x-tar"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn practice(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse as _;
    let files = s.act(&actor, "benchmark practice", s.registry.practice_files(&actor, &name)).await?;
    let mut archive = tar::Builder::new(Vec::new());
    for (file, bytes) in &files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        archive
            .append_data(&mut header, file, bytes.as_slice())
            .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    let body = archive.into_inner().map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/x-tar")], body).into_response())
}
