//! `/api/v1/api-clients`: machine identities; the secret is shown once.

use actix_web::{HttpResponse, delete, get, post, web};
use avip_db::api_clients::ApiClient;
use avip_db::model::{ApiClientId, OrganizationId};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::page::{Cursor, List, PageQuery, path_id, time};
use crate::auth::Principal;
use crate::http::error::{ApiError, ProblemDocument};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::state::State;
use crate::workflow::Caller;
use crate::workflow::api_clients::{self, CreateApiClient};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000004", "client_id": "avip_4f1c2e9a7b3d5f60",
    "label": "SI France Travail", "organization_id": "0193a5b0-7c1e-7d2a-9b1e-3f4a5b6c7d8e", "active": true,
    "created_at": "2026-11-20T09:00:00Z", "last_used_at": null}))]
pub struct ApiClientBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: ApiClientId,
    pub client_id: String,
    pub label: String,
    #[schema(value_type = String, format = Uuid)]
    pub organization_id: OrganizationId,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<ApiClient> for ApiClientBody {
    fn from(c: ApiClient) -> Self {
        ApiClientBody {
            id: c.id,
            client_id: c.client_id,
            label: c.label,
            organization_id: c.organization_id,
            active: c.active,
            created_at: time(c.created_at),
            last_used_at: c.last_used_at.map(time),
        }
    }
}

/// The new client with its secret: shown this once, stored only as a hash.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000004", "client_id": "avip_4f1c2e9a7b3d5f60",
    "client_secret": "9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a39c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3",
    "label": "SI France Travail", "organization_id": "0193a5b0-7c1e-7d2a-9b1e-3f4a5b6c7d8e", "active": true,
    "created_at": "2026-11-20T09:00:00Z", "last_used_at": null}))]
pub struct CreatedApiClient {
    #[serde(flatten)]
    pub client: ApiClientBody,
    pub client_secret: String,
}

/// List API clients (admin).
#[utoipa::path(tag = "api-clients", params(PageQuery), security(("bearer" = [])), responses(
    (status = 200, body = List<ApiClientBody>),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[get("/api-clients")]
pub async fn list(
    who: Principal,
    state: State,
    query: ApiQuery<PageQuery>,
) -> Result<web::Json<List<ApiClientBody>>, ApiError> {
    let page = query.0.request(Cursor::Id)?;
    let rows = state
        .run(move |conn| api_clients::list(conn, Caller::Identity(&who), &page))
        .await?;
    Ok(web::Json(List::from_page(rows, ApiClientBody::from)))
}

/// Create an API client for an organisation (admin). The answer carries the
/// secret, which is never shown again.
#[utoipa::path(tag = "api-clients", request_body = CreateApiClient, security(("bearer" = [])), responses(
    (status = 201, body = CreatedApiClient),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[post("/api-clients")]
pub async fn create(
    who: Principal,
    state: State,
    body: ApiJson<CreateApiClient>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let created = state
        .run(move |conn| api_clients::create(conn, Caller::Identity(&who), body, Utc::now()))
        .await?;
    let created = CreatedApiClient {
        client: created.client.into(),
        client_secret: created.secret,
    };
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!("/api/v1/api-clients/{}", created.client.id),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .json(created))
}

/// Disable an API client (admin): its tokens stop working at once. The
/// record stays, for the audit trail.
#[utoipa::path(tag = "api-clients", params(("id" = String, Path, format = Uuid)), security(("bearer" = [])), responses(
    (status = 200, body = ApiClientBody),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[delete("/api-clients/{id}")]
pub async fn disable(
    who: Principal,
    state: State,
    id: web::Path<String>,
) -> Result<web::Json<ApiClientBody>, ApiError> {
    let id = path_id(&id, ApiClientId::parse)?;
    let client = state
        .run(move |conn| api_clients::disable(conn, Caller::Identity(&who), &id, Utc::now()))
        .await?;
    Ok(web::Json(client.into()))
}
