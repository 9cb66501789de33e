//! `/api/plugins`: publish by upload, list, show, vet, approve, reject, revoke; field precision.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, Authed};
use super::upload::{PLUGIN_LIMIT, upload_bytes};
use crate::registry::plugins::{Decision, PluginRecord};
use crate::runs::reviews::FieldPrecision;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, publish))
        .routes(routes!(show))
        .routes(routes!(attach_source, source))
        .routes(routes!(field_precision))
        .routes(routes!(vet))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(revoke))
}

/// The plugins the caller may see.
#[utoipa::path(get, path = "/api/plugins", tag = "plugins",
    responses((status = 200, body = [PluginRecord]), (status = 401, body = ErrorBody)))]
async fn list(State(s): State<AppState>, Authed(actor): Authed) -> ApiResult<Json<Vec<PluginRecord>>> {
    s.act(&actor, "plugin list", s.registry.plugins_visible_to(&actor)).await.map(Json)
}

/// One plugin by digest or unambiguous prefix.
#[utoipa::path(get, path = "/api/plugins/{digest}", tag = "plugins",
    params(("digest" = String, Path, description = "digest or a prefix of at least 4 hex digits")),
    responses((status = 200, body = PluginRecord), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn show(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(digest): ApiPath<String>,
) -> ApiResult<Json<PluginRecord>> {
    s.act(&actor, "plugin show", s.registry.plugin_visible_to(&actor, &digest)).await.map(Json)
}

/// A model's field precision: confirmed / reviewed over its stored runs, in total and per
/// procuratorate within the caller's subtree.
#[utoipa::path(get, path = "/api/plugins/{digest}/field-precision", tag = "plugins",
    params(("digest" = String, Path, description = "digest or a prefix of at least 4 hex digits")),
    responses((status = 200, body = FieldPrecision), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn field_precision(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(digest): ApiPath<String>,
) -> ApiResult<Json<FieldPrecision>> {
    s.act(&actor, "plugin precision", s.registry.field_precision(&actor, &digest)).await.map(Json)
}

/// Publishing options.
#[derive(Deserialize, IntoParams)]
struct PublishQuery {
    /// The publisher's notes.
    notes: Option<String>,
}

/// What publishing did.
#[derive(Serialize, ToSchema)]
struct Published {
    /// The plugin.
    plugin: PluginRecord,
    /// False when these bytes were already published (nothing changed).
    created: bool,
}

/// Publish a component: the body is its bytes (`application/wasm`, at most 64 MiB). It is
/// stored by digest, described and vetted.
#[utoipa::path(post, path = "/api/plugins", tag = "plugins", params(PublishQuery),
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses((status = 201, body = Published), (status = 200, body = Published, description = "already published"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
async fn publish(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiQuery(q): ApiQuery<PublishQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Published>)> {
    let bytes = upload_bytes(&headers, body, &s.spool, "application/wasm", PLUGIN_LIMIT, "component").await?;
    let notes = q.notes.unwrap_or_default();
    let (plugin, created) =
        s.act(&actor, "plugin publish", s.registry.publish(&s.sandbox, &actor, &bytes, &notes)).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(Published { plugin, created })))
}

/// Source-archive options.
#[derive(Deserialize, IntoParams)]
struct SourceQuery {
    /// The toolchain that built the component (`componentize-py 0.25.1`).
    toolchain: String,
}

/// Attach the plugin's source archive (its author, once): the body is a tar of the model's
/// source (`application/x-tar`, at most 64 MiB), kept for the reviewers with the toolchain named.
#[utoipa::path(put, path = "/api/plugins/{digest}/source", tag = "plugins", params(
        ("digest" = String, Path, description = "digest or prefix"), SourceQuery),
    request_body(content = Vec<u8>, content_type = "application/x-tar"),
    responses((status = 200, body = PluginRecord), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)))]
async fn attach_source(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(digest): ApiPath<String>,
    ApiQuery(q): ApiQuery<SourceQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<PluginRecord>> {
    let archive =
        upload_bytes(&headers, body, &s.spool, "application/x-tar", PLUGIN_LIMIT, "source archive").await?;
    let attach = s.registry.attach_source(&actor, &digest, &archive, &q.toolchain);
    s.act(&actor, "plugin source", attach).await.map(Json)
}

/// The plugin's source archive (a tar), or a SQL model's text, for its author or an admin; the
/// toolchain that built the component is in the `x-sieve-toolchain` header.
#[utoipa::path(get, path = "/api/plugins/{digest}/source", tag = "plugins",
    params(("digest" = String, Path, description = "digest or prefix")),
    responses((status = 200, body = Vec<u8>, content_type = "application/x-tar"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn source(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(digest): ApiPath<String>,
) -> ApiResult<([(&'static str, String); 2], Vec<u8>)> {
    let (record, archive) = s.act(&actor, "plugin source", s.registry.plugin_source(&actor, &digest)).await?;
    let content_type =
        if record.sql_engine.is_some() { "text/plain; charset=utf-8" } else { "application/x-tar" };
    let toolchain = record.source.map(|src| src.toolchain).unwrap_or_default();
    // The header carries printable ASCII only; a toolchain named in other characters is in the record.
    let toolchain: String = toolchain.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').collect();
    Ok(([("content-type", content_type.to_string()), ("x-sieve-toolchain", toolchain)], archive))
}

/// Vet a plugin again (admins).
#[utoipa::path(post, path = "/api/plugins/{digest}/vet", tag = "plugins",
    params(("digest" = String, Path, description = "digest or prefix")),
    responses((status = 200, body = PluginRecord), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn vet(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(digest): ApiPath<String>,
) -> ApiResult<Json<PluginRecord>> {
    s.act(&actor, "plugin vet", s.registry.vet(&s.sandbox, &actor, &digest)).await.map(Json)
}

/// An admin's note on a decision.
#[derive(Deserialize, ToSchema, Default)]
struct DecisionNote {
    /// Why.
    #[serde(default)]
    note: String,
}

async fn decide(
    s: AppState,
    actor: crate::registry::Actor,
    digest: String,
    decision: Decision,
    note: String,
    command: &str,
) -> ApiResult<Json<PluginRecord>> {
    s.act(&actor, command, s.registry.decide(&actor, &digest, decision, &note)).await.map(Json)
}

/// Approve a submitted plugin for the approving admin's subtree (never one's own).
#[utoipa::path(post, path = "/api/plugins/{digest}/approve", tag = "plugins", request_body = DecisionNote,
    params(("digest" = String, Path, description = "digest or prefix")),
    responses((status = 200, body = PluginRecord), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn approve(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(digest): ApiPath<String>,
    ApiJson(b): ApiJson<DecisionNote>,
) -> ApiResult<Json<PluginRecord>> {
    decide(s, actor, digest, Decision::Approve, b.note, "plugin approve").await
}

/// Reject a submitted plugin.
#[utoipa::path(post, path = "/api/plugins/{digest}/reject", tag = "plugins", request_body = DecisionNote,
    params(("digest" = String, Path, description = "digest or prefix")),
    responses((status = 200, body = PluginRecord), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn reject(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(digest): ApiPath<String>,
    ApiJson(b): ApiJson<DecisionNote>,
) -> ApiResult<Json<PluginRecord>> {
    decide(s, actor, digest, Decision::Reject, b.note, "plugin reject").await
}

/// Revoke an approved plugin: it never starts again.
#[utoipa::path(post, path = "/api/plugins/{digest}/revoke", tag = "plugins", request_body = DecisionNote,
    params(("digest" = String, Path, description = "digest or prefix")),
    responses((status = 200, body = PluginRecord), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn revoke(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(digest): ApiPath<String>,
    ApiJson(b): ApiJson<DecisionNote>,
) -> ApiResult<Json<PluginRecord>> {
    decide(s, actor, digest, Decision::Revoke, b.note, "plugin revoke").await
}
