//! `/api/datasets`: import by upload (CSV/Parquet tables and labels.csv, as a tar or a multipart
//! form), list, show,
//! approve, retire, grant.

use axum::Json;
use axum::extract::{DefaultBodyLimit, FromRequest as _, Multipart, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, Authed};
use super::upload::{DATASET_LIMIT, receive_tables, spool, unpack_dataset};
use crate::registry::catalog::{DatasetRecord, ImportReport, ImportRequest};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        // A dataset's tables may be large: the upload counts them against its own limit.
        .merge(OpenApiRouter::new().routes(routes!(list, import)).layer(DefaultBodyLimit::disable()))
        .routes(routes!(show))
        .routes(routes!(approve))
        .routes(routes!(retire))
        .routes(routes!(grant))
        .routes(routes!(unrestrict))
        .routes(routes!(encode))
}

/// The dataset versions the caller may see.
#[utoipa::path(get, path = "/api/datasets", tag = "datasets",
    responses((status = 200, body = [DatasetRecord]), (status = 401, body = ErrorBody)))]
async fn list(State(s): State<AppState>, Authed(actor): Authed) -> ApiResult<Json<Vec<DatasetRecord>>> {
    s.act(&actor, "dataset list", s.registry.datasets_visible_to(&actor)).await.map(Json)
}

/// One dataset: `NAME` (newest version) or `NAME@VERSION`.
#[utoipa::path(get, path = "/api/datasets/{name}", tag = "datasets",
    params(("name" = String, Path, description = "NAME or NAME@VERSION")),
    responses((status = 200, body = DatasetRecord), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn show(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<DatasetRecord>> {
    s.act(&actor, "dataset show", s.registry.dataset_visible_to(&actor, &name)).await.map(Json)
}

/// What to import.
#[derive(Deserialize, IntoParams)]
struct ImportQuery {
    /// Dataset name.
    name: String,
    /// Task whose contract the tables follow.
    task: String,
    /// The agency the data came from.
    source: String,
    /// Clues from it need an admin's release before export.
    #[serde(default)]
    restricted: bool,
}

/// Import a dataset: one CSV or Parquet file per contract table, plus `labels.csv` if it has
/// ground truth, sent as a tar archive (`application/x-tar`) or as a `multipart/form-data` set
/// of files named by their file names (at most 4 GiB either way). Checked against the task's
/// contract; nothing is recorded unless every table is good.
#[utoipa::path(post, path = "/api/datasets", tag = "datasets", params(ImportQuery),
    request_body(content((Vec<u8> = "application/x-tar"), (Vec<u8> = "multipart/form-data"))),
    responses((status = 201, body = ImportReport), (status = 200, body = ImportReport, description = "same content as the latest version"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
async fn import(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiQuery(q): ApiQuery<ImportQuery>,
    request: Request,
) -> ApiResult<(StatusCode, Json<ImportReport>)> {
    let kind = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let unpacked = if kind == "application/x-tar" {
        let spooled = spool(request.into_body(), &s.spool, DATASET_LIMIT, "dataset archive").await?;
        let spool_dir = s.spool.clone();
        let archive = spooled.file.path().to_path_buf();
        tokio::task::spawn_blocking(move || unpack_dataset(&archive, &spool_dir))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??
    } else if kind.starts_with("multipart/form-data") {
        let form = Multipart::from_request(request, &())
            .await
            .map_err(|e| ApiError::bad_request(format!("the multipart body: {}", e.body_text())))?;
        receive_tables(form, &s.spool, DATASET_LIMIT).await?
    } else {
        return Err(ApiError::unsupported(format!(
            "send the tables as an application/x-tar archive or a multipart/form-data set of files, not {kind:?}"
        )));
    };
    let request = ImportRequest {
        name: &q.name,
        dir: unpacked.path(),
        task: &q.task,
        source: &q.source,
        restricted: q.restricted,
    };
    let report =
        s.act(&actor, "dataset import", s.registry.import_dataset(&actor, &request, &|_, _, _| {})).await?;
    Ok((if report.created { StatusCode::CREATED } else { StatusCode::OK }, Json(report)))
}

/// Approve a dataset version (admins above its owner).
#[utoipa::path(post, path = "/api/datasets/{name}/approve", tag = "datasets",
    params(("name" = String, Path, description = "NAME or NAME@VERSION")),
    responses((status = 200, body = DatasetRecord), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn approve(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<DatasetRecord>> {
    s.act(&actor, "dataset approve", s.registry.set_dataset_state(&actor, &name, true)).await.map(Json)
}

/// Retire a dataset version: no new runs on it.
#[utoipa::path(post, path = "/api/datasets/{name}/retire", tag = "datasets",
    params(("name" = String, Path, description = "NAME or NAME@VERSION")),
    responses((status = 200, body = DatasetRecord), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn retire(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<DatasetRecord>> {
    s.act(&actor, "dataset retire", s.registry.set_dataset_state(&actor, &name, false)).await.map(Json)
}

/// A grant.
#[derive(Deserialize, ToSchema)]
struct Grant {
    /// The procuratorate (with its subtree) that may use the dataset.
    org: String,
}

/// Grant a procuratorate and its subtree use of every version of a dataset.
#[utoipa::path(post, path = "/api/datasets/{name}/grants", tag = "datasets", request_body = Grant,
    params(("name" = String, Path, description = "dataset name")),
    responses((status = 200, body = DatasetRecord), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn grant(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
    ApiJson(g): ApiJson<Grant>,
) -> ApiResult<Json<DatasetRecord>> {
    s.act(&actor, "dataset grant", s.registry.grant_dataset(&actor, &name, &g.org)).await.map(Json)
}

/// Why a restriction is lifted.
#[derive(Deserialize, ToSchema)]
struct Unrestrict {
    /// The reason, required (it goes to the audit log).
    note: String,
}

/// Lift a dataset version's restriction (an admin above its owner, with a reason).
#[utoipa::path(post, path = "/api/datasets/{name}/unrestrict", tag = "datasets", request_body = Unrestrict,
    params(("name" = String, Path, description = "NAME or NAME@VERSION")),
    responses((status = 200, body = DatasetRecord), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn unrestrict(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
    ApiJson(b): ApiJson<Unrestrict>,
) -> ApiResult<Json<DatasetRecord>> {
    s.act(&actor, "dataset unrestrict", s.registry.unrestrict_dataset(&actor, &name, &b.note)).await.map(Json)
}

/// Encode a version imported before column files, or in an older layout (admins above its
/// owner): its column files, key-domain dictionaries and codes; a version already encoded is
/// returned as it is.
#[utoipa::path(post, path = "/api/datasets/{name}/encode", tag = "datasets",
    params(("name" = String, Path, description = "NAME or NAME@VERSION")),
    responses((status = 200, body = DatasetRecord), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn encode(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<DatasetRecord>> {
    s.act(&actor, "dataset encode", s.registry.encode_dataset(&actor, &name)).await.map(Json)
}
