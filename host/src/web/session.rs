//! Who is looking at a page: the token kept in an HttpOnly, SameSite=Strict cookie (checked on
//! every request, exactly as the API checks a bearer token), the language cookie, and the CSRF
//! token every form carries, an HMAC of the session token under a key only this process holds.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;

use super::i18n::Lang;
use crate::api::AppState;
use crate::digest::{constant_time_eq, hmac_sha256};
use crate::registry::Actor;

/// The session cookie.
pub const SESSION_COOKIE: &str = "sieve_session";
/// The language cookie.
pub const LANG_COOKIE: &str = "sieve_lang";

/// The value of cookie `name`, if the request sent it.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The CSRF token of session token `token`.
pub fn csrf_token(state: &AppState, token: &str) -> String {
    hex::encode(hmac_sha256(&state.web_key[..], &[b"csrf\0", token.as_bytes()]))
}

/// A `Set-Cookie` value for the session (`None`: clear it).
pub fn session_cookie(token: Option<&str>) -> String {
    match token {
        Some(t) => format!("{SESSION_COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict"),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    }
}

/// The language a request asked for.
pub fn lang_of(headers: &HeaderMap) -> Lang {
    Lang::from_cookie(cookie(headers, LANG_COOKIE))
}

/// A signed-in user viewing a page: who, in which language, with the CSRF token for forms.
pub struct Viewer {
    /// The user.
    pub actor: Actor,
    /// The page language.
    pub lang: Lang,
    /// The token forms carry back.
    pub csrf: String,
}

impl Viewer {
    /// Whether `submitted` is this session's CSRF token.
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        constant_time_eq(self.csrf.as_bytes(), submitted.as_bytes())
    }
}

/// Not signed in (or no longer): off to the sign-in page.
pub struct SignInFirst;

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        let mut response = Redirect::to("/signin").into_response();
        if let Ok(v) = session_cookie(None).parse() {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
        response
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = SignInFirst;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty()).ok_or(SignInFirst)?;
        let actor = state.registry.authenticate(Some(token)).await.map_err(|_| SignInFirst)?;
        Ok(Viewer { csrf: csrf_token(state, token), lang: lang_of(&parts.headers), actor })
    }
}

/// A form with no fields but its CSRF token.
#[derive(serde::Deserialize)]
pub struct NoFields {}

/// Largest form body accepted (the upload forms are multipart and read elsewhere).
const FORM_LIMIT: usize = 2 << 20;

/// A form posted by a signed-in viewer, whose `csrf` field matched the session: every POST
/// handler but the uploads takes its form this way, so none can forget the check.
pub struct Posted<T> {
    /// Who posted it.
    pub viewer: Viewer,
    /// The form's other fields.
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let viewer =
            Viewer::from_request_parts(&mut parts, state).await.map_err(IntoResponse::into_response)?;
        let refuse =
            |status, message: &str| super::layout::error_page(viewer.lang, Some(&viewer), status, message);
        let bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
            Ok(b) => b,
            Err(e) => return Err(refuse(StatusCode::BAD_REQUEST, &format!("the form: {e}"))),
        };
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
        let token = fields.iter().find(|(k, _)| k == "csrf").map_or("", |(_, v)| v.as_str());
        if !viewer.csrf_ok(token) {
            return Err(refuse(StatusCode::FORBIDDEN, "CSRF"));
        }
        match serde_urlencoded::from_bytes(&bytes) {
            Ok(form) => Ok(Posted { viewer, form }),
            Err(e) => Err(refuse(StatusCode::BAD_REQUEST, &format!("the form: {e}"))),
        }
    }
}
