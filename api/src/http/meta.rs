//! Liveness, readiness and the API's own description.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use avip_db::Backend;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::error::{ApiError, Problem, ProblemDocument};
use crate::shared::State;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ok", "version": "0.1.0"}))]
pub struct Health {
    /// Always `ok` when the process answers.
    pub status: &'static str,
    pub version: &'static str,
}

/// Liveness: the process is up and answering. Touches nothing else.
#[utoipa::path(operation_id = "getHealth", tag = "meta", responses((status = 200, description = "The process answers", body = Health)))]
#[get("/health")]
pub async fn health() -> web::Json<Health> {
    web::Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ready", "database": "sqlite", "migrations": "up_to_date"}))]
pub struct Readiness {
    /// `ready`.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
    /// `up_to_date` when every migration this build embeds is applied.
    pub migrations: &'static str,
}

/// Readiness: the database answers and every migration is applied. A load
/// balancer sends traffic only to instances that answer 200.
#[utoipa::path(operation_id = "getReadiness", tag = "meta", responses(
    (status = 200, description = "Ready to serve", body = Readiness),
    (status = 503, description = "Database unreachable or migrations pending", body = ProblemDocument,
        content_type = "application/problem+json"),
))]
#[get("/ready")]
pub async fn ready(state: State) -> Result<web::Json<Readiness>, ApiError> {
    let (backend, pending) = state.run(avip_app::process::migrations_pending).await?;
    if pending {
        return Err(ApiError::Unavailable(Problem::new(
            "migrations_pending",
            "the database lacks migrations of this version: run `avip migrate`",
        )));
    }
    let database = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    Ok(web::Json(Readiness {
        status: "ready",
        database,
        migrations: "up_to_date",
    }))
}

/// This API's OpenAPI 3.1 description (the same document as
/// `openapi/openapi.json` in the repository).
#[utoipa::path(operation_id = "getOpenApiDocument", tag = "meta", responses(
    (status = 200, description = "The OpenAPI document", content_type = "application/json",
        body = Object, example = json!({"openapi": "3.1.0", "info": {"title": "AVIP referral tracking"}})),
))]
#[get("/openapi.json")]
pub async fn openapi_json(state: State) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi.clone())
}

/// The interactive documentation (Swagger UI, served from the binary so it
/// works offline) lives at `/docs/`; this redirects there.
#[utoipa::path(operation_id = "openDocs", tag = "meta", responses(
    (status = 308, description = "Redirect to `/docs/`", headers(("Location" = String, description = "`/docs/`"))),
))]
#[get("/docs")]
pub async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

/// Prometheus metrics, in the text exposition format: HTTP requests by
/// route template, method and status (with latencies), referrals received
/// and moved, the outbox, SLA sweeps and open breaches, the SQLite writer,
/// the connection pool, the build. No label carries an id or personal data.
/// With `AVIP_METRICS_BIND` set, it is served only there, and this address
/// answers 404.
#[utoipa::path(operation_id = "getMetrics", tag = "meta", responses(
    (status = 200, description = "The metrics (`text/plain; version=0.0.4`)", content_type = "text/plain",
        body = String, example = json!("# HELP avip_build_info The running build: always 1, its version in a label.\n# TYPE avip_build_info gauge\navip_build_info{version=\"0.1.0\"} 1\n")),
    (status = 404, description = "Served on `AVIP_METRICS_BIND` instead", body = ProblemDocument,
        content_type = "application/problem+json"),
))]
#[get("/metrics")]
pub async fn metrics(state: State) -> Result<HttpResponse, ApiError> {
    if state.metrics_elsewhere {
        return Err(ApiError::NotFound(Problem::new(
            "not_found",
            "the metrics are served on AVIP_METRICS_BIND",
        )));
    }
    Ok(metrics_answer(&state).await)
}

/// The exposition, read off the async threads (it queries the database).
pub async fn metrics_answer(state: &State) -> HttpResponse {
    let (pool, gate) = (state.pool.clone(), state.gate.clone());
    let body = web::block(move || avip_app::metrics::render(&pool, &gate))
        .await
        .unwrap_or_default();
    HttpResponse::Ok()
        .content_type(avip_app::metrics::content_type())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}
