//! The REST API (`/api/v1`, JSON) and `/metrics`, as an axum router over the server's
//! state. Writes (POST, DELETE; not the read-only `POST /sql`) need the server's bearer
//! token when it has one; reads are open. Bodies are size-limited, and a body that cannot be read (malformed YAML or
//! JSON, unknown fields) gets a 400 saying why.

mod jobs;
mod sql;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::error::ServerError;
use crate::registry::Jobs;
use crate::sessions::SessionPool;

/// The largest request body accepted (a job file, a query).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What every handler sees.
#[derive(Debug)]
pub struct AppState {
    pub jobs: Arc<Jobs>,
    /// Query sessions over the lake, with the limits of each statement (as `weir sql`'s).
    pub sessions: SessionPool,
    /// The bearer token writes need; `None` when the server has none.
    pub token: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "weir server",
        description = "Jobs, SQL and tables of a weir lake"
    ),
    paths(
        jobs::submit,
        jobs::list,
        jobs::show,
        jobs::stop,
        jobs::cancel,
        jobs::resume,
        jobs::delete,
        jobs::checkpoints,
        jobs::start_backfill,
        jobs::backfills,
        sql::query,
        sql::tables,
        sql::table,
    )
)]
struct ApiDoc;

/// The OpenAPI document of the API, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn openapi_json() -> Response {
    Json(openapi()).into_response()
}

/// Equal strings, compared in time that does not depend on where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Refuses writes without the server's token. A query (`POST /api/v1/sql`) reads.
async fn authorize(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) && request.uri().path() != "/api/v1/sql";
    if let (true, Some(token)) = (writes, &state.token) {
        let sent = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !sent.is_some_and(|sent| same_secret(sent.trim(), token)) {
            return ServerError::Unauthorized.into_response();
        }
    }
    next.run(request).await
}

/// The server's routes.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/jobs", get(jobs::list).post(jobs::submit))
        .route("/jobs/{id}", get(jobs::show).delete(jobs::delete))
        .route("/jobs/{id}/stop", post(jobs::stop))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/jobs/{id}/resume", post(jobs::resume))
        .route("/jobs/{id}/checkpoints", get(jobs::checkpoints))
        .route(
            "/jobs/{id}/backfills",
            get(jobs::backfills).post(jobs::start_backfill),
        )
        .route("/sql", post(sql::query))
        .route("/tables", get(sql::tables))
        .route("/tables/{name}", get(sql::table))
        .route("/openapi.json", get(openapi_json));
    Router::new()
        .nest("/api/v1", api)
        .merge(crate::prometheus::router(state.jobs.clone()))
        .merge(crate::console::router())
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}
