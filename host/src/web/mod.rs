//! The web UI, served by `sieve serve` next to the API: server-rendered pages in Simplified
//! Chinese (English on a switch) for the people who never open a terminal. Every page goes
//! through the registry's own checks, as the API does; nothing is loaded from elsewhere.

pub mod competitions;
pub mod i18n;
pub mod layout;
pub mod pages;
pub mod session;
pub mod upload;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::api::AppState;

/// The UI's routes (outside `/api`, left out of the OpenAPI document).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/signin", get(pages::sign_in_form).post(pages::sign_in))
        .route("/signout", post(pages::sign_out))
        .route("/lang/{code}", get(pages::switch_language))
        .route("/models", get(pages::models))
        // Uploads count against their own limits as they stream (web::upload).
        .route(
            "/models/upload",
            get(pages::upload_model_form).post(pages::upload_model).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/datasets/upload",
            get(pages::upload_dataset_form).post(pages::upload_dataset).layer(DefaultBodyLimit::disable()),
        )
        .route("/models/{digest}", get(pages::model))
        .route("/models/{digest}/favourite", post(pages::favourite))
        .route("/runs", get(pages::runs).post(pages::start_run))
        .route("/runs/new", get(pages::new_run))
        .route("/runs/{id}", get(pages::run))
        .route("/runs/{id}/reviews", post(pages::review))
        .route("/runs/{id}/clues/{seq}", get(pages::clue))
        .route("/runs/{id}/export", get(pages::export))
        .route("/runs/{id}/release", post(pages::release))
        .route("/vetting", get(pages::vetting))
        .route("/audit", get(pages::audit))
        .route("/competitions", get(competitions::list))
        .route("/competitions/{name}", get(competitions::show))
        .route("/competitions/{name}/submit", post(competitions::submit))
        .route("/datasets", get(pages::datasets))
        .route("/datasets/{name}", post(pages::dataset_action))
        .route("/vetting/{digest}", post(pages::decide))
}
