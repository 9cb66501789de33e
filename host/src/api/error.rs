//! The API's one error type: every failure is JSON `{"error": {"code", "message"}}` with the
//! status that fits it. Refusals, bad input and limits are 4xx with the reason; a 500 is a bug
//! (or the database being down), logged with its request.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::registry::RegistryError;
use crate::storage::blobs::BlobError;

/// An error as the API reports it.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What went wrong, naming the input at fault.
    pub message: String,
}

/// The body of every error response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message of an error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable code: `bad_request`, `unauthenticated`, `forbidden`, `not_found`, `conflict`,
    /// `too_large`, `unsupported_media_type`, `hash_mismatch`, `unavailable`, `internal`.
    pub code: String,
    /// Human-readable reason.
    pub message: String,
}

impl ApiError {
    /// A 400 naming the bad input.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, code: "bad_request", message: message.into() }
    }

    /// A 413: an upload over its kind's size limit.
    pub fn too_large(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::PAYLOAD_TOO_LARGE, code: "too_large", message: message.into() }
    }

    /// A 415: the body is not of the type the route takes.
    pub fn unsupported(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_media_type",
            message: message.into(),
        }
    }

    /// A 503: the server is shutting down or its database is unreachable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::SERVICE_UNAVAILABLE, code: "unavailable", message: message.into() }
    }

    /// A 500, for what should not happen.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, code: "internal", message: message.into() }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        let message = e.to_string();
        let (status, code) = match &e {
            RegistryError::Denied(_) => (StatusCode::FORBIDDEN, "forbidden"),
            RegistryError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            RegistryError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            RegistryError::Ambiguous { .. } | RegistryError::Invalid(_) => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            RegistryError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            RegistryError::Blob(BlobError::Mismatch { .. }) => (StatusCode::CONFLICT, "hash_mismatch"),
            RegistryError::Blob(_) | RegistryError::Storage(_) | RegistryError::Worker(_) => {
                tracing::error!(error = %message, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        ApiError { status, code, message }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => ApiError::unsupported(r.body_text()),
            _ => ApiError::bad_request(format!("the JSON body: {}", r.body_text())),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(format!("the query string: {}", r.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request(format!("the path: {}", r.body_text()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message } };
        (self.status, Json(body)).into_response()
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;
