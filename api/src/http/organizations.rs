//! `/api/v1/organizations`: admins manage organisations.

use actix_web::{HttpResponse, get, patch, post, web};
use avip_db::model::{OrganizationId, OrganizationKind};
use avip_db::organizations::Organization;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::page::{Cursor, List, page_request, path_id, time};
use crate::auth::Principal;
use crate::http::error::{ApiError, ProblemDocument};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::state::State;
use crate::workflow::Caller;
use crate::workflow::organizations::{self, CreateOrganization, UpdateOrganization};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-3f4a5b6c7d8e", "kind": "france_travail",
    "name": "France Travail Toulon Est", "departement": "83",
    "created_at": "2026-11-20T09:00:00Z", "updated_at": "2026-11-20T09:00:00Z"}))]
pub struct OrganizationBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: OrganizationId,
    pub kind: OrganizationKind,
    pub name: String,
    pub departement: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Organization> for OrganizationBody {
    fn from(o: Organization) -> Self {
        OrganizationBody {
            id: o.id,
            kind: o.kind,
            name: o.name,
            departement: o.departement,
            created_at: time(o.created_at),
            updated_at: time(o.updated_at),
        }
    }
}

#[derive(Deserialize, IntoParams, Debug)]
#[into_params(parameter_in = Query)]
pub struct OrganizationFilter {
    /// Only organisations of this kind.
    pub kind: Option<OrganizationKind>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List organisations (admin).
#[utoipa::path(tag = "organizations", params(OrganizationFilter), security(("bearer" = [])), responses(
    (status = 200, body = List<OrganizationBody>),
    (status = 401, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[get("/organizations")]
pub async fn list(
    who: Principal,
    state: State,
    query: ApiQuery<OrganizationFilter>,
) -> Result<web::Json<List<OrganizationBody>>, ApiError> {
    let filter = query.0;
    let page = page_request(filter.limit, filter.cursor.as_deref(), Cursor::Id)?;
    let kind = filter.kind;
    let rows = state
        .run(move |conn| organizations::list(conn, Caller::Identity(&who), kind, &page))
        .await?;
    Ok(web::Json(List::from_page(rows, OrganizationBody::from)))
}

/// Create an organisation (admin).
#[utoipa::path(tag = "organizations", request_body = CreateOrganization, security(("bearer" = [])), responses(
    (status = 201, body = OrganizationBody),
    (status = 400, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[post("/organizations")]
pub async fn create(
    who: Principal,
    state: State,
    body: ApiJson<CreateOrganization>,
) -> Result<HttpResponse, ApiError> {
    let command = body.0;
    let created = state
        .run(move |conn| organizations::create(conn, Caller::Identity(&who), command, Utc::now()))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/organizations/{}", created.id)))
        .json(OrganizationBody::from(created)))
}

/// One organisation (admin).
#[utoipa::path(tag = "organizations", params(("id" = String, Path, format = Uuid)), security(("bearer" = [])), responses(
    (status = 200, body = OrganizationBody),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[get("/organizations/{id}")]
pub async fn get_one(
    who: Principal,
    state: State,
    id: web::Path<String>,
) -> Result<web::Json<OrganizationBody>, ApiError> {
    let id = path_id(&id, OrganizationId::parse)?;
    let org = state
        .run(move |conn| organizations::get(conn, Caller::Identity(&who), &id))
        .await?;
    Ok(web::Json(org.into()))
}

/// Rename an organisation or change its département (admin). Its kind is fixed.
#[utoipa::path(tag = "organizations", params(("id" = String, Path, format = Uuid)), request_body = UpdateOrganization,
    security(("bearer" = [])), responses(
    (status = 200, body = OrganizationBody),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[patch("/organizations/{id}")]
pub async fn update(
    who: Principal,
    state: State,
    id: web::Path<String>,
    body: ApiJson<UpdateOrganization>,
) -> Result<web::Json<OrganizationBody>, ApiError> {
    let id = path_id(&id, OrganizationId::parse)?;
    let body = body.0;
    let org = state
        .run(move |conn| organizations::update(conn, Caller::Identity(&who), &id, body, Utc::now()))
        .await?;
    Ok(web::Json(org.into()))
}
