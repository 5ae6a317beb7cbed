//! `/api/v1/users`: admins manage people.

use actix_web::{HttpResponse, get, patch, post, web};
use avip_db::model::{CrecheId, OrganizationId, Role, UserId};
use avip_db::users::User;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::page::{Cursor, List, PageQuery, path_id, time};
use crate::auth::Principal;
use crate::http::error::{ApiError, ProblemDocument};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::state::State;
use crate::workflow::Caller;
use crate::workflow::users::{self, CreateUser, UpdateUser};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000003", "email": "c.martin@example.org",
    "name": "Claire Martin", "role": "coordinator", "organization_id": "0193a5b0-7c1e-7d2a-9b1e-000000000002",
    "active": true, "creche_ids": ["0193a5b0-7c1e-7d2a-9b1e-000000000001"],
    "created_at": "2026-11-20T09:00:00Z", "updated_at": "2026-11-20T09:00:00Z", "last_login_at": null}))]
pub struct UserBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    #[schema(value_type = String, format = Uuid)]
    pub organization_id: OrganizationId,
    pub active: bool,
    #[schema(value_type = Vec<String>)]
    pub creche_ids: Vec<CrecheId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl UserBody {
    pub fn new(u: User, creche_ids: Vec<CrecheId>) -> Self {
        UserBody {
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            organization_id: u.organization_id,
            active: u.active,
            creche_ids,
            created_at: time(u.created_at),
            updated_at: time(u.updated_at),
            last_login_at: u.last_login_at.map(time),
        }
    }
}

/// List people (admin).
#[utoipa::path(tag = "users", params(PageQuery), security(("bearer" = [])), responses(
    (status = 200, body = List<UserBody>),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[get("/users")]
pub async fn list(
    who: Principal,
    state: State,
    query: ApiQuery<PageQuery>,
) -> Result<web::Json<List<UserBody>>, ApiError> {
    let page = query.0.request(Cursor::Id)?;
    let rows = state
        .run(move |conn| users::list(conn, Caller::Identity(&who), &page))
        .await?;
    Ok(web::Json(List::from_page(rows, |(user, creches)| {
        UserBody::new(user, creches)
    })))
}

/// Create a person (admin). The password is stored as an argon2id hash.
#[utoipa::path(tag = "users", request_body = CreateUser, security(("bearer" = [])), responses(
    (status = 201, body = UserBody),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 409, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[post("/users")]
pub async fn create(
    who: Principal,
    state: State,
    body: ApiJson<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let (user, creches) = state
        .run(move |conn| users::create(conn, Caller::Identity(&who), body, Utc::now()))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/users/{}", user.id)))
        .json(UserBody::new(user, creches)))
}

/// Change a person: name, e-mail, password, crèches, or disable them (admin).
#[utoipa::path(tag = "users", params(("id" = String, Path, format = Uuid)), request_body = UpdateUser,
    security(("bearer" = [])), responses(
    (status = 200, body = UserBody),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[patch("/users/{id}")]
pub async fn update(
    who: Principal,
    state: State,
    id: web::Path<String>,
    body: ApiJson<UpdateUser>,
) -> Result<web::Json<UserBody>, ApiError> {
    let id = path_id(&id, UserId::parse)?;
    let body = body.0;
    let (user, creches) = state
        .run(move |conn| users::update(conn, Caller::Identity(&who), &id, body, Utc::now()))
        .await?;
    Ok(web::Json(UserBody::new(user, creches)))
}
