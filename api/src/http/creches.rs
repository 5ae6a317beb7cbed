//! `/api/v1/creches`: admins manage crèches; coordinators read and edit
//! their own.

use actix_web::{HttpResponse, get, patch, post, web};
use avip_db::creches::CrecheView;
use avip_db::model::{CrecheId, OrganizationId, UserId};
use avip_sla_engine::clock::paris_date;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::page::{Cursor, List, PageQuery, path_id, time};
use crate::auth::Principal;
use crate::domain::OpeningHours;
use crate::http::error::{ApiError, ProblemDocument};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::state::State;
use crate::workflow::Caller;
use crate::workflow::creches::{self, CreateCreche, UpdateCreche};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000001",
    "operator_id": "0193a5b0-7c1e-7d2a-9b1e-000000000002", "name": "Les Petits Pas",
    "address": "12 rue Victor Hugo", "postal_code": "83000", "commune": "Toulon", "departement": "83",
    "avip_places": 6, "opening_hours": {"opens": "07:00", "closes": "19:30", "days": ["mon","tue","wed","thu","fri"]},
    "escalation_email": "direction.petite-enfance@example.org",
    "coordinator_ids": ["0193a5b0-7c1e-7d2a-9b1e-000000000003"],
    "created_at": "2026-11-20T09:00:00Z", "updated_at": "2026-11-20T09:00:00Z"}))]
pub struct CrecheBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: CrecheId,
    #[schema(value_type = String, format = Uuid)]
    pub operator_id: OrganizationId,
    pub name: String,
    pub address: String,
    pub postal_code: String,
    pub commune: String,
    /// The operator's département.
    pub departement: String,
    /// The AVIP places reserved today; dated changes are under
    /// `/creches/{id}/capacity`.
    pub avip_places: i32,
    pub opening_hours: OpeningHours,
    pub escalation_email: Option<String>,
    #[schema(value_type = Vec<String>)]
    pub coordinator_ids: Vec<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CrecheView> for CrecheBody {
    fn from(v: CrecheView) -> Self {
        let c = v.creche;
        let opening_hours = serde_json::from_str(&c.opening_hours).unwrap_or(OpeningHours {
            opens: String::new(),
            closes: String::new(),
            days: Vec::new(),
        });
        CrecheBody {
            id: c.id,
            operator_id: c.operator_id,
            name: c.name,
            address: c.address,
            postal_code: c.postal_code,
            commune: c.commune,
            departement: v.departement,
            avip_places: v.avip_places,
            opening_hours,
            escalation_email: c.escalation_email,
            coordinator_ids: v.coordinator_ids,
            created_at: time(c.created_at),
            updated_at: time(c.updated_at),
        }
    }
}

#[utoipa::path(tag = "creches", params(PageQuery), security(("bearer" = [])), responses(
    (status = 200, body = List<CrecheBody>),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[get("/creches")]
pub async fn list(
    who: Principal,
    state: State,
    query: ApiQuery<PageQuery>,
) -> Result<web::Json<List<CrecheBody>>, ApiError> {
    let page = query.0.request(Cursor::Id)?;
    let today = paris_date(Utc::now());
    let rows = state
        .run(move |conn| creches::list(conn, &who, &page, today))
        .await?;
    Ok(web::Json(List::from_page(rows, CrecheBody::from)))
}

/// Create a crèche (admin).
#[utoipa::path(tag = "creches", request_body = CreateCreche, security(("bearer" = [])), responses(
    (status = 201, body = CrecheBody),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[post("/creches")]
pub async fn create(
    who: Principal,
    state: State,
    body: ApiJson<CreateCreche>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let created = state
        .run(move |conn| creches::create(conn, Caller::Identity(&who), body, Utc::now()))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/creches/{}", created.creche.id)))
        .json(CrecheBody::from(created)))
}

/// One crèche (admin; coordinators their own).
#[utoipa::path(tag = "creches", params(("id" = String, Path, format = Uuid)), security(("bearer" = [])), responses(
    (status = 200, body = CrecheBody),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[get("/creches/{id}")]
pub async fn get_one(
    who: Principal,
    state: State,
    id: web::Path<String>,
) -> Result<web::Json<CrecheBody>, ApiError> {
    let id = path_id(&id, CrecheId::parse)?;
    let today = paris_date(Utc::now());
    let view = state
        .run(move |conn| creches::get(conn, &who, &id, today))
        .await?;
    Ok(web::Json(view.into()))
}

/// Edit a crèche: its places, hours, address or escalation address
/// (admin; coordinators their own). Only admins change its coordinators.
#[utoipa::path(tag = "creches", params(("id" = String, Path, format = Uuid)), request_body = UpdateCreche,
    security(("bearer" = [])), responses(
    (status = 200, body = CrecheBody),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[patch("/creches/{id}")]
pub async fn update(
    who: Principal,
    state: State,
    id: web::Path<String>,
    body: ApiJson<UpdateCreche>,
) -> Result<web::Json<CrecheBody>, ApiError> {
    let id = path_id(&id, CrecheId::parse)?;
    let body = body.0;
    let view = state
        .run(move |conn| creches::update(conn, Caller::Identity(&who), &id, body, Utc::now()))
        .await?;
    Ok(web::Json(view.into()))
}
