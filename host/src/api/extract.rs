//! Request extractors whose rejections are the API's JSON errors (axum's own answer in plain
//! text), and the signed-in user taken from `Authorization: Bearer <token>`.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::registry::Actor;

/// A JSON body.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Query parameters.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// Path parameters.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Who made the request, for the request log (the observe layer reads it after the handler).
#[derive(Clone, Default)]
pub struct ActorSlot(pub std::sync::Arc<std::sync::Mutex<Option<String>>>);

/// The signed-in user. A missing, malformed or unknown token is a 401, recorded in the audit log
/// the way the CLI records it (aggregated per minute for anonymous floods).
pub struct Authed(pub Actor);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION);
        let token =
            header.and_then(|h| h.to_str().ok()).and_then(|h| h.strip_prefix("Bearer ")).map(str::trim);
        let command = super::command_of(parts);
        let result = match token.filter(|t| !t.is_empty()) {
            None => Err(crate::registry::RegistryError::Unauthenticated(
                "send the header `Authorization: Bearer <token>` with a token from `sieve init` or `sieve user token`"
                    .into(),
            )),
            Some(t) => state.registry.authenticate(Some(t)).await,
        };
        match result {
            Ok(actor) => {
                if let Some(slot) = parts.extensions.get::<ActorSlot>()
                    && let Ok(mut name) = slot.0.lock()
                {
                    *name = Some(actor.user.name.clone());
                }
                Ok(Authed(actor))
            }
            Err(e) => Err(state.registry.refused(None, &command, e).await.into()),
        }
    }
}
