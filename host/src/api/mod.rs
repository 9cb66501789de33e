//! The HTTP API that `sieve serve` answers: every registry capability with the CLI's permission
//! checks (they live in the registry, so both edges share them), each refusal audited, every
//! error JSON, runs queued for the server's workers, and an OpenAPI document generated from the
//! handlers themselves. One file per resource.

pub mod accounts;
pub mod audit;
pub mod competitions;
pub mod datasets;
pub mod error;
pub mod extract;
pub mod observe;
pub mod plugins;
pub mod policy;
pub mod queue;
pub mod runs;
pub mod sql_engines;
pub mod upload;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::http::request::Parts;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::registry::{Actor, Registry, RegistryError};
use crate::sandbox::Sandbox;
use error::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The registry (database, blobs, home).
    pub registry: Registry,
    /// The sandbox (engine, linker, compiled-code cache).
    pub sandbox: Sandbox,
    /// The run queue and its workers.
    pub queue: Arc<queue::RunQueue>,
    /// Request and run counters.
    pub metrics: Arc<observe::Metrics>,
    /// Where uploads are spooled before they are checked and stored.
    pub spool: PathBuf,
    /// The OpenAPI document, rendered once.
    pub openapi: Arc<OnceLock<String>>,
    /// The registry's audit signing key, loaded on first use.
    pub audit_key: Arc<OnceLock<crate::audit::signing::AuditKey>>,
    /// This process's key for the web UI's CSRF tokens (random at start: a restart only asks
    /// open forms to be sent again).
    pub web_key: Arc<[u8; 32]>,
}

/// Sign the audit log's head with the registry's key (loaded once into `key`): the server does
/// this after every request that may have written, and after every run, as the CLI does at the
/// end of each command, so a verify right after a change finds it signed.
pub async fn seal(registry: &Registry, key: &OnceLock<crate::audit::signing::AuditKey>) {
    if key.get().is_none() {
        match crate::audit::signing::AuditKey::load_or_create(&registry.home) {
            Ok(k) => {
                let _ = key.set(k);
            }
            Err(e) => tracing::error!(error = %e, "loading the audit key failed"),
        }
    }
    if let Some(k) = key.get()
        && let Err(e) = crate::audit::signing::seal(&registry.db, k).await
    {
        tracing::error!(error = %e, "signing the audit log's head failed");
    }
}

impl AppState {
    /// The state of a server on `registry` with `workers` run workers, started on the current
    /// runtime (their handles come back, to wait for while draining). Uploads spool under the
    /// registry's home.
    pub fn start(
        registry: Registry,
        sandbox: Sandbox,
        workers: usize,
    ) -> std::io::Result<(AppState, Vec<tokio::task::JoinHandle<()>>)> {
        let spool = registry.home.join("spool");
        std::fs::create_dir_all(&spool)?;
        let queue = queue::RunQueue::new(workers);
        let metrics = Arc::new(observe::Metrics::default());
        let audit_key: Arc<OnceLock<crate::audit::signing::AuditKey>> = Default::default();
        let handles = queue.start(registry.clone(), sandbox.clone(), metrics.clone(), audit_key.clone());
        let mut web_key = [0u8; 32];
        getrandom::fill(&mut web_key).map_err(|e| std::io::Error::other(e.to_string()))?;
        let state = AppState {
            registry,
            sandbox,
            queue,
            metrics,
            spool,
            openapi: Default::default(),
            audit_key,
            web_key: Arc::new(web_key),
        };
        Ok((state, handles))
    }

    /// Run `work` for `actor`; a refusal is written to the audit log before it becomes the
    /// response, as the CLI does.
    pub async fn act<T>(
        &self,
        actor: &Actor,
        command: &str,
        work: impl Future<Output = Result<T, RegistryError>>,
    ) -> Result<T, ApiError> {
        match work.await {
            Ok(v) => Ok(v),
            Err(e) => Err(self.registry.refused(Some(actor), command, e).await.into()),
        }
    }
}

/// The command a request stands for in the audit log: method and route pattern.
pub fn command_of(parts: &Parts) -> String {
    let route = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| parts.uri.path().to_string(), |m| m.as_str().to_string());
    format!("{} {route}", parts.method)
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Sieve", description = "Sandboxed community supervision models: registry, runs, competitions."),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts", description = "Procuratorates, users and tokens"),
        (name = "plugins", description = "Publishing, vetting and approving models"),
        (name = "datasets", description = "Importing, approving and granting datasets"),
        (name = "runs", description = "Queued runs, their progress and clues"),
        (name = "competitions", description = "Benchmarks, competitions, submissions, leaderboards"),
        (name = "audit", description = "The signed, hash-chained audit log"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    }
}

/// Every operation under `/api/` documents the errors any route may answer (a bad query or
/// body, no token, a refusal, an unknown name, a state conflict, a wrong content type, a server
/// draining), so a client can rely on the document for every status it may see.
struct ErrorResponses;

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let common = [
            ("400", "bad input: the message names it"),
            ("401", "no token, or an unknown one"),
            ("403", "refused: the message names the missing role or grant"),
            ("404", "no such record"),
            ("409", "the record's state does not allow it"),
            ("415", "the body is not of the type this route takes"),
            ("503", "the server is shutting down, or its database is unreachable"),
        ];
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/") || path == "/api/openapi.json" {
                continue;
            }
            let operations =
                [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch];
            for op in operations.into_iter().flatten() {
                for (code, description) in common {
                    if !op.responses.responses.contains_key(code) {
                        let content =
                            ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
                        let response = ResponseBuilder::new()
                            .description(description)
                            .content("application/json", content)
                            .build();
                        op.responses.responses.insert(code.to_string(), response.into());
                    }
                }
            }
        }
    }
}

/// The OpenAPI document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations", security(()),
    responses((status = 200, description = "this document (OpenAPI 3.1)")))]
async fn openapi_json(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> impl axum::response::IntoResponse {
    let body = state.openapi.get().cloned().unwrap_or_default();
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body)
}

/// Every route with its documentation: the router serves exactly what the document lists.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(observe::healthz))
        .routes(routes!(observe::readyz))
        .routes(routes!(observe::metrics))
        .routes(routes!(openapi_json))
        .merge(accounts::routes())
        .merge(plugins::routes())
        .merge(datasets::routes())
        .merge(runs::routes())
        .merge(competitions::routes())
        .merge(audit::routes())
        .merge(policy::routes())
        .merge(sql_engines::routes())
}

/// The router for `state`, with the request-tracking layer, and its OpenAPI document.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, mut doc) = api_routes().split_for_parts();
    // After the routes are in: the modifier walks every operation.
    utoipa::Modify::modify(&ErrorResponses, &mut doc);
    let _ = state.openapi.set(doc.to_json().unwrap_or_default());
    let router = router
        .merge(crate::web::routes())
        .fallback(|| async {
            ApiError {
                status: axum::http::StatusCode::NOT_FOUND,
                code: "not_found",
                message: "no such route".into(),
            }
        })
        .method_not_allowed_fallback(|| async {
            ApiError {
                status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
                code: "method_not_allowed",
                message: "this route does not take that method".into(),
            }
        })
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe::track))
        .with_state(state);
    (router, doc)
}
