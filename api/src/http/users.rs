//! `/api/v1/users`: admins manage people.

use actix_web::{HttpResponse, get, patch, post, web};
use avip_db::model::UserId;
use chrono::Utc;

use super::page::{List, PageQuery, path_id};
use crate::http::error::ApiError;
use crate::http::extract::Bearer;
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::responses::{Conflict, Forbidden, NotFound, Unprocessable};
use crate::shared::State;
use avip_app::views::UserBody;
use avip_app::workflow::Caller;
use avip_app::workflow::users::{self, CreateUser, UpdateUser};

/// List people (admin).
#[utoipa::path(operation_id = "listUsers", tag = "users", params(PageQuery), security(("oauth2" = [])), responses(
    (status = 200, body = List<UserBody>),
    Forbidden,
))]
#[get("/users")]
pub async fn list(
    Bearer(who): Bearer,
    state: State,
    query: ApiQuery<PageQuery>,
) -> Result<web::Json<List<UserBody>>, ApiError> {
    let page = query.0.request()?;
    let rows = state
        .run(move |conn| users::list(conn, Caller::Identity(&who), &page))
        .await?;
    Ok(web::Json(List::from_page(rows, |(user, creches)| {
        UserBody::new(user, creches)
    })))
}

/// Create a person (admin). The password is stored as an argon2id hash.
#[utoipa::path(operation_id = "createUser", tag = "users", request_body = CreateUser, security(("oauth2" = [])), responses(
    (status = 201, body = UserBody),
    Forbidden,
    Conflict,
    Unprocessable,
))]
#[post("/users")]
pub async fn create(
    Bearer(who): Bearer,
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
#[utoipa::path(operation_id = "updateUser", tag = "users", params(("id" = String, Path, format = Uuid)), request_body = UpdateUser,
    security(("oauth2" = [])), responses(
    (status = 200, body = UserBody),
    NotFound,
    Conflict,
    Unprocessable,
))]
#[patch("/users/{id}")]
pub async fn update(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<UpdateUser>,
) -> Result<web::Json<UserBody>, ApiError> {
    let id = path_id(&id, UserId::parse)?;
    let body = body.0;
    let (user, creches) = state
        .run(move |conn| users::update(conn, Caller::Identity(&who), &id, body, Utc::now()))
        .await?;
    // Who may do what changed: no identity kept from before holds.
    state.identities.forget_all();
    Ok(web::Json(UserBody::new(user, creches)))
}

/// Sign a person out everywhere (admin): every access token and workspace
/// session issued to her until now is refused, on every instance; her
/// password is unchanged, so she can sign in again.
#[utoipa::path(operation_id = "signUserOutEverywhere", tag = "users", params(("id" = String, Path, format = Uuid)),
    security(("oauth2" = [])), responses(
    (status = 204, description = "Her tokens and sessions are revoked"),
    Forbidden,
    NotFound,
))]
#[post("/users/{id}/sign-out")]
pub async fn sign_out_everywhere(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, UserId::parse)?;
    state
        .run(move |conn| users::sign_out_everywhere(conn, Caller::Identity(&who), &id, Utc::now()))
        .await?;
    state.identities.forget_all();
    Ok(HttpResponse::NoContent().finish())
}
