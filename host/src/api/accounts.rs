//! `/api/whoami`, `/api/orgs`, `/api/users`: procuratorates, users and their tokens.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, Authed};
use crate::registry::Role;
use crate::registry::accounts::{Org, User};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(whoami))
        .routes(routes!(list_orgs, add_org))
        .routes(routes!(list_users, add_user))
        .routes(routes!(new_token))
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/whoami", tag = "accounts",
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
async fn whoami(Authed(actor): Authed) -> Json<User> {
    Json(actor.user)
}

/// Every procuratorate.
#[utoipa::path(get, path = "/api/orgs", tag = "accounts",
    responses((status = 200, body = [Org]), (status = 401, body = ErrorBody)))]
async fn list_orgs(State(s): State<AppState>, Authed(actor): Authed) -> ApiResult<Json<Vec<Org>>> {
    s.act(&actor, "org list", s.registry.orgs()).await.map(Json)
}

/// A new procuratorate.
#[derive(Deserialize, ToSchema)]
struct NewOrg {
    /// Its unique name.
    name: String,
    /// The procuratorate above it.
    parent: String,
}

/// Add a procuratorate below `parent` (an admin above `parent`).
#[utoipa::path(post, path = "/api/orgs", tag = "accounts", request_body = NewOrg,
    responses((status = 201, body = Org), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn add_org(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiJson(body): ApiJson<NewOrg>,
) -> ApiResult<(StatusCode, Json<Org>)> {
    let org = s.act(&actor, "org add", s.registry.add_org(&actor, &body.name, &body.parent)).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

/// The users the caller may see: themselves, and for an admin everyone in their subtree.
#[utoipa::path(get, path = "/api/users", tag = "accounts",
    responses((status = 200, body = [User]), (status = 401, body = ErrorBody)))]
async fn list_users(State(s): State<AppState>, Authed(actor): Authed) -> ApiResult<Json<Vec<User>>> {
    s.act(&actor, "user list", s.registry.users_visible_to(&actor)).await.map(Json)
}

/// A new user.
#[derive(Deserialize, ToSchema)]
struct NewUser {
    /// Unique name.
    name: String,
    /// Their procuratorate.
    org: String,
    /// Their roles.
    roles: Vec<Role>,
}

/// A user with the token they sign in with (shown once).
#[derive(Serialize, ToSchema)]
struct UserWithToken {
    /// The user.
    user: User,
    /// Their token: stored only as a hash, never shown again.
    token: String,
}

/// Add a user (an admin above their procuratorate).
#[utoipa::path(post, path = "/api/users", tag = "accounts", request_body = NewUser,
    responses((status = 201, body = UserWithToken), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn add_user(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiJson(body): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<UserWithToken>)> {
    let (user, token) =
        s.act(&actor, "user add", s.registry.add_user(&actor, &body.name, &body.org, &body.roles)).await?;
    Ok((StatusCode::CREATED, Json(UserWithToken { user, token })))
}

/// Options of a new token.
#[derive(Deserialize, ToSchema, Default)]
struct NewToken {
    /// Revoke the user's earlier tokens.
    #[serde(default)]
    revoke_others: bool,
}

/// A new token.
#[derive(Serialize, ToSchema)]
struct Token {
    /// The token, shown once.
    token: String,
}

/// A new token for user `name` (themselves, or an admin above them).
#[utoipa::path(post, path = "/api/users/{name}/tokens", tag = "accounts", request_body = NewToken,
    params(("name" = String, Path, description = "user name")),
    responses((status = 201, body = Token), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn new_token(
    State(s): State<AppState>,
    Authed(actor): Authed,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<Token>)> {
    let token = s.act(&actor, "user token", s.registry.new_token(&actor, &name, body.revoke_others)).await?;
    Ok((StatusCode::CREATED, Json(Token { token })))
}
