//! `/api/sql-engines`: install the SQL engine SQL models run on (a root admin), list the installed.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiResult, ErrorBody};
use super::extract::Authed;
use super::upload::{ENGINE_LIMIT, upload_bytes};
use crate::registry::sql_engines::SqlEngineRecord;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, install))
}

/// The installed SQL engines, the current one first.
#[utoipa::path(get, path = "/api/sql-engines", tag = "plugins",
    responses((status = 200, body = [SqlEngineRecord]), (status = 401, body = ErrorBody)))]
async fn list(State(s): State<AppState>, Authed(actor): Authed) -> ApiResult<Json<Vec<SqlEngineRecord>>> {
    s.act(&actor, "sql-engine list", s.registry.sql_engines()).await.map(Json)
}

/// Install a SQL engine component (an admin of the root procuratorate): the body is its bytes
/// (`application/wasm`, at most 256 MiB). It is compiled now, and SQL models published from now
/// on run on it.
#[utoipa::path(post, path = "/api/sql-engines", tag = "plugins",
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses((status = 201, body = SqlEngineRecord), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
async fn install(
    State(s): State<AppState>,
    Authed(actor): Authed,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<SqlEngineRecord>)> {
    let bytes =
        upload_bytes(&headers, body, &s.spool, "application/wasm", ENGINE_LIMIT, "SQL engine").await?;
    let engine = s
        .act(&actor, "sql-engine install", s.registry.install_sql_engine(&s.sandbox, &actor, &bytes))
        .await?;
    Ok((StatusCode::CREATED, Json(engine)))
}
