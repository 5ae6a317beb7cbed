//! `/api/v1/api-clients`: machine identities; the secret is shown once.

use actix_web::{HttpResponse, delete, get, post, web};
use avip_db::api_clients::{self, ApiClient, NewApiClient};
use avip_db::model::{ApiClientId, OrganizationId, to_db_time};
use avip_db::{DbConnection, Pool, organizations};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{List, PageQuery, path_id, time};
use crate::access::{Action, Resource, require};
use crate::auth::{Principal, password};
use crate::domain::{self, Problems};
use crate::error::{ApiError, ProblemDocument};
use crate::extract::{ApiJson, ApiQuery};

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

#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"organization_id": "0193a5b0-7c1e-7d2a-9b1e-3f4a5b6c7d8e", "label": "SI France Travail"}))]
pub struct CreateApiClient {
    pub organization_id: String,
    pub label: String,
}

/// Creates a client (shared by the API and `avip admin create-api-client`).
pub fn create_client(
    conn: &mut DbConnection,
    body: CreateApiClient,
    now: DateTime<Utc>,
) -> Result<CreatedApiClient, ApiError> {
    let mut problems = Problems::default();
    let organization_id = problems.check(
        "organization_id",
        OrganizationId::parse(&body.organization_id).ok_or_else(|| "is not an id".to_owned()),
    );
    let label = problems.check("label", domain::text(&body.label, 200));
    if let Some(id) = &organization_id
        && organizations::find(conn, id)?.is_none()
    {
        problems.push("organization_id", "no such organisation");
    }
    problems.into_result()?;
    let (Some(organization_id), Some(label)) = (organization_id, label) else {
        unreachable!("checked above")
    };
    let secret = password::random_hex(32);
    let now = to_db_time(now);
    let new = NewApiClient {
        id: ApiClientId::generate(),
        organization_id,
        client_id: format!("avip_{}", password::random_hex(8)),
        secret_hash: password::hash(&secret)?,
        label,
        active: true,
        created_at: now,
        updated_at: now,
    };
    let client = api_clients::insert(conn, &new)?;
    Ok(CreatedApiClient {
        client: client.into(),
        client_secret: secret,
    })
}

/// List API clients (admin).
#[utoipa::path(tag = "api-clients", params(PageQuery), security(("bearer" = [])), responses(
    (status = 200, body = List<ApiClientBody>),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[get("/api-clients")]
pub async fn list(
    who: Principal,
    pool: web::Data<Pool>,
    query: ApiQuery<PageQuery>,
) -> Result<web::Json<List<ApiClientBody>>, ApiError> {
    require(&who, Action::List, Resource::ApiClients)?;
    let page = query.0.request()?;
    let rows = crate::db::run(&pool, move |conn| api_clients::list(conn, &page)).await?;
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
    pool: web::Data<Pool>,
    body: ApiJson<CreateApiClient>,
) -> Result<HttpResponse, ApiError> {
    require(&who, Action::Create, Resource::ApiClients)?;
    let body = body.0;
    let created = crate::db::run(&pool, move |conn| create_client(conn, body, Utc::now())).await?;
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
    pool: web::Data<Pool>,
    id: web::Path<String>,
) -> Result<web::Json<ApiClientBody>, ApiError> {
    require(&who, Action::Disable, Resource::ApiClients)?;
    let id = path_id(&id, ApiClientId::parse)?;
    let client = crate::db::run(&pool, move |conn| disable_client(conn, &id, Utc::now())).await?;
    Ok(web::Json(client.into()))
}

/// Disables an API client (REST and `avip admin disable-api-client`).
pub fn disable_client(
    conn: &mut DbConnection,
    id: &ApiClientId,
    now: DateTime<Utc>,
) -> Result<ApiClient, ApiError> {
    api_clients::get(conn, id)?;
    Ok(api_clients::disable(conn, id, to_db_time(now))?)
}
