//! `/api/audit`: the audit log as the caller may read it, and its verification.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiQuery, Authed};
use crate::audit::{self, Event, Verdict};
use crate::registry::Role;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(log))
        .routes(routes!(verify, verify_against))
        .routes(routes!(key))
        .routes(routes!(checkpoint))
}

/// Which events.
#[derive(Deserialize, IntoParams)]
struct LogQuery {
    /// How many of the newest (1 to 10000, default 50).
    limit: Option<i64>,
    /// Only events about this target.
    target: Option<String>,
    /// Only events before this one (the next page back).
    before: Option<i64>,
}

/// The newest audit events the caller may read (admins: the root's see all, others their subtree's users').
#[utoipa::path(get, path = "/api/audit", tag = "audit", params(LogQuery),
    responses((status = 200, body = [Event]), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn log(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> ApiResult<Json<Vec<Event>>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit must be between 1 and 10000, got {limit}")));
    }
    s.act(&actor, "audit log", s.registry.audit_visible_to(&actor, limit, q.target.as_deref(), q.before))
        .await
        .map(Json)
}

/// The verdict on the whole chain.
#[derive(Serialize, ToSchema)]
struct VerifyReport {
    /// `intact` or `broken`.
    status: String,
    /// Events checked (intact).
    events: Option<i64>,
    /// The first bad event (broken).
    seq: Option<i64>,
    /// Why (broken).
    reason: Option<String>,
}

/// Verify the hash chain and the signed checkpoints (admins).
#[utoipa::path(get, path = "/api/audit/verify", tag = "audit",
    responses((status = 200, body = VerifyReport), (status = 403, body = ErrorBody)))]
async fn verify(State(s): State<AppState>, Authed(actor): Authed) -> ApiResult<Json<VerifyReport>> {
    verified(&s, &actor, None).await
}

/// A checkpoint kept outside the registry.
#[derive(Deserialize, ToSchema)]
struct Kept {
    /// As `POST /api/audit/checkpoint` (or `sieve audit checkpoint`) produced it.
    checkpoint: audit::signing::Checkpoint,
}

/// Verify as `GET` does, and also against a checkpoint kept outside the registry: a log
/// rewritten or cut back since that checkpoint is caught even if its own checkpoints were too.
#[utoipa::path(post, path = "/api/audit/verify", tag = "audit", request_body = Kept,
    responses((status = 200, body = VerifyReport), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn verify_against(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiJson(kept): ApiJson<Kept>,
) -> ApiResult<Json<VerifyReport>> {
    verified(&s, &actor, Some(&kept.checkpoint)).await
}

/// The verdict on the chain and its signed checkpoints (and `kept`, when given), for an admin:
/// the one check behind the API, the web page and the CLI's remote form.
pub(crate) async fn chain_verdict(
    s: &AppState,
    actor: &crate::registry::Actor,
    kept: Option<&audit::signing::Checkpoint>,
) -> ApiResult<Verdict> {
    let registry = s.registry.clone();
    s.act(actor, "audit verify", async {
        actor.require(Role::Admin, "verifying the audit log")?;
        let key = audit::signing::AuditKey::load_or_create(&registry.home)
            .map_err(|e| crate::registry::RegistryError::Invalid(e.to_string()))?;
        let public =
            audit::signing::public_key(&key.public_hex()).map_err(crate::registry::RegistryError::Invalid)?;
        Ok(audit::verify(&registry.db, &public, kept).await?)
    })
    .await
}

async fn verified(
    s: &AppState,
    actor: &crate::registry::Actor,
    kept: Option<&audit::signing::Checkpoint>,
) -> ApiResult<Json<VerifyReport>> {
    Ok(Json(match chain_verdict(s, actor, kept).await? {
        Verdict::Intact { events, .. } => {
            VerifyReport { status: "intact".into(), events: Some(events), seq: None, reason: None }
        }
        Verdict::Broken { seq, reason } => {
            VerifyReport { status: "broken".into(), events: None, seq: Some(seq), reason: Some(reason) }
        }
    }))
}

/// Sign the log's head now and return the checkpoint, to keep outside the registry (admins).
#[utoipa::path(post, path = "/api/audit/checkpoint", tag = "audit",
    responses((status = 200, body = audit::signing::Checkpoint), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn checkpoint(
    State(s): State<AppState>,
    Authed(actor): Authed,
) -> ApiResult<Json<audit::signing::Checkpoint>> {
    let registry = s.registry.clone();
    s.act(&actor, "audit checkpoint", async {
        actor.require(Role::Admin, "signing an audit checkpoint")?;
        let key = audit::signing::AuditKey::load_or_create(&registry.home)
            .map_err(|e| crate::registry::RegistryError::Invalid(e.to_string()))?;
        let sealed = audit::signing::seal(&registry.db, &key).await?;
        sealed.ok_or_else(|| crate::registry::RegistryError::Conflict("the audit log is empty".into()))
    })
    .await
    .map(Json)
}

/// The registry's public key (hex).
#[derive(Serialize, ToSchema)]
struct PublicKey {
    /// ed25519 public key, hex: keep it outside the registry to verify checkpoints with.
    public_key: String,
}

/// The key the audit checkpoints are signed with.
#[utoipa::path(get, path = "/api/audit/key", tag = "audit", responses((status = 200, body = PublicKey), (status = 401, body = ErrorBody)))]
async fn key(State(s): State<AppState>, Authed(actor): Authed) -> ApiResult<Json<PublicKey>> {
    let home = s.registry.home.clone();
    let public_key = s
        .act(&actor, "audit key", async move {
            let key = audit::signing::AuditKey::load_or_create(&home)
                .map_err(|e| crate::registry::RegistryError::Invalid(e.to_string()))?;
            Ok(key.public_hex())
        })
        .await?;
    Ok(Json(PublicKey { public_key }))
}
