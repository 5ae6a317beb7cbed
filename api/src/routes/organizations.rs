//! `/api/v1/organizations`: admins manage organisations.

use actix_web::{HttpResponse, get, patch, post, web};
use avip_db::model::{OrganizationId, OrganizationKind};
use avip_db::organizations::{self, NewOrganization, Organization, OrganizationChanges};
use avip_db::{DbConnection, Pool, model::to_db_time};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::common::{List, PageQuery, path_id, time};
use crate::access::{Action, Resource, require};
use crate::auth::Principal;
use crate::domain::{self, Problems};
use crate::error::{ApiError, ProblemDocument};
use crate::extract::{ApiJson, ApiQuery};

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

#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "france_travail", "name": "France Travail Toulon Est", "departement": "83"}))]
pub struct CreateOrganization {
    pub kind: OrganizationKind,
    pub name: String,
    /// Département code: `01`–`95`, `2A`, `2B`, `971`–`976`.
    pub departement: String,
}

impl CreateOrganization {
    pub fn into_new(self, now: DateTime<Utc>) -> Result<NewOrganization, ApiError> {
        let mut problems = Problems::default();
        let name = problems.check("name", domain::text(&self.name, 200));
        let departement = problems.check("departement", domain::departement(&self.departement));
        problems.into_result()?;
        let (Some(name), Some(departement)) = (name, departement) else {
            unreachable!("checked above")
        };
        let now = to_db_time(now);
        Ok(NewOrganization {
            id: OrganizationId::generate(),
            kind: self.kind,
            name,
            departement,
            created_at: now,
            updated_at: now,
        })
    }
}

#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "France Travail Toulon"}))]
pub struct UpdateOrganization {
    pub name: Option<String>,
    pub departement: Option<String>,
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
    pool: web::Data<Pool>,
    query: ApiQuery<OrganizationFilter>,
) -> Result<web::Json<List<OrganizationBody>>, ApiError> {
    require(&who, Action::List, Resource::Organizations)?;
    let filter = query.0;
    let page = PageQuery {
        limit: filter.limit,
        cursor: filter.cursor,
    }
    .request()?;
    let kind = filter.kind;
    let rows = crate::db::run(&pool, move |conn| organizations::list(conn, kind, &page)).await?;
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
    pool: web::Data<Pool>,
    body: ApiJson<CreateOrganization>,
) -> Result<HttpResponse, ApiError> {
    require(&who, Action::Create, Resource::Organizations)?;
    let new = body.0.into_new(Utc::now())?;
    let created = crate::db::run(&pool, move |conn| organizations::insert(conn, &new)).await?;
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
    pool: web::Data<Pool>,
    id: web::Path<String>,
) -> Result<web::Json<OrganizationBody>, ApiError> {
    require(&who, Action::Read, Resource::Organizations)?;
    let id = path_id(&id, OrganizationId::parse)?;
    let org = crate::db::run(&pool, move |conn| organizations::get(conn, &id)).await?;
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
    pool: web::Data<Pool>,
    id: web::Path<String>,
    body: ApiJson<UpdateOrganization>,
) -> Result<web::Json<OrganizationBody>, ApiError> {
    require(&who, Action::Update, Resource::Organizations)?;
    let id = path_id(&id, OrganizationId::parse)?;
    let body = body.0;
    let org = crate::db::run(&pool, move |conn| {
        update_organization(conn, &id, body, Utc::now())
    })
    .await?;
    Ok(web::Json(org.into()))
}

/// Applies an organisation update (REST and `avip admin update-organization`).
pub fn update_organization(
    conn: &mut DbConnection,
    id: &OrganizationId,
    body: UpdateOrganization,
    now: DateTime<Utc>,
) -> Result<Organization, ApiError> {
    let mut problems = Problems::default();
    let changes = OrganizationChanges {
        name: body
            .name
            .and_then(|n| problems.check("name", domain::text(&n, 200))),
        departement: body
            .departement
            .and_then(|d| problems.check("departement", domain::departement(&d))),
        updated_at: Some(to_db_time(now)),
    };
    problems.into_result()?;
    organizations::get(conn, id)?;
    Ok(organizations::update(conn, id, &changes)?)
}
