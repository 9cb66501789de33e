//! `/api/policy`: the most a stored run may consume (set by an admin of the root procuratorate).

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, Authed};
use crate::registry::policy::policy_json;
use crate::sandbox::Limits;
use crate::sandbox::limits::Overrides;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show, set))
}

/// The run policy: fuel, deadline and memory ceilings, as JSON.
#[utoipa::path(get, path = "/api/policy", tag = "accounts",
    responses((status = 200, description = "the ceilings"), (status = 401, body = ErrorBody)))]
async fn show(State(s): State<AppState>, Authed(actor): Authed) -> ApiResult<Json<serde_json::Value>> {
    let policy = s.act(&actor, "policy show", s.registry.run_policy()).await?;
    Ok(Json(policy_json(&policy)))
}

/// Set the run policy (an admin of the root procuratorate); limits left out take the defaults.
#[utoipa::path(put, path = "/api/policy", tag = "accounts", request_body = Overrides,
    responses((status = 200, description = "the new ceilings"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn set(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiJson(body): ApiJson<Overrides>,
) -> ApiResult<Json<serde_json::Value>> {
    let limits = body.apply(&Limits::default()).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let policy = s.act(&actor, "policy set", s.registry.set_run_policy(&actor, &limits)).await?;
    Ok(Json(policy_json(&policy)))
}
