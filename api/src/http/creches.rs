//! `/api/v1/creches`: admins manage crèches; coordinators read and edit
//! their own.

use actix_web::{HttpResponse, get, patch, post, web};
use avip_db::model::CrecheId;
use avip_sla_engine::clock::paris_date;
use chrono::Utc;

use super::page::{List, PageQuery, path_id};
use crate::http::error::ApiError;
use crate::http::extract::Bearer;
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::responses::{Forbidden, NotFound, Unprocessable};
use crate::shared::State;
use avip_app::views::CrecheBody;
use avip_app::workflow::Caller;
use avip_app::workflow::creches::{self, CreateCreche, UpdateCreche};

#[utoipa::path(operation_id = "listCreches", tag = "creches", params(PageQuery), security(("oauth2" = [])), responses(
    (status = 200, body = List<CrecheBody>),
    Forbidden,
))]
#[get("/creches")]
pub async fn list(
    Bearer(who): Bearer,
    state: State,
    query: ApiQuery<PageQuery>,
) -> Result<web::Json<List<CrecheBody>>, ApiError> {
    let page = query.0.request()?;
    let today = paris_date(Utc::now());
    let rows = state
        .run(move |conn| creches::list(conn, &who, &page, today))
        .await?;
    Ok(web::Json(List::from_page(rows, CrecheBody::from)))
}

/// Create a crèche (admin).
#[utoipa::path(operation_id = "createCreche", tag = "creches", request_body = CreateCreche, security(("oauth2" = [])), responses(
    (status = 201, body = CrecheBody),
    Forbidden,
    Unprocessable,
))]
#[post("/creches")]
pub async fn create(
    Bearer(who): Bearer,
    state: State,
    body: ApiJson<CreateCreche>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let created = state
        .run(move |conn| creches::create(conn, Caller::Identity(&who), body, Utc::now()))
        .await?;
    // Who may do what changed: no identity kept from before holds.
    state.identities.forget_all();
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/creches/{}", created.creche.id)))
        .json(CrecheBody::from(created)))
}

/// One crèche (admin; coordinators their own).
#[utoipa::path(operation_id = "getCreche", tag = "creches", params(("id" = String, Path, format = Uuid)), security(("oauth2" = [])), responses(
    (status = 200, body = CrecheBody),
    NotFound,
))]
#[get("/creches/{id}")]
pub async fn get_one(
    Bearer(who): Bearer,
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

/// Edit a crèche: its places, hours or address (admin; coordinators their
/// own). Only admins change its coordinators and its escalation address.
#[utoipa::path(operation_id = "updateCreche", tag = "creches", params(("id" = String, Path, format = Uuid)), request_body = UpdateCreche,
    security(("oauth2" = [])), responses(
    (status = 200, body = CrecheBody),
    Forbidden,
    NotFound,
    Unprocessable,
))]
#[patch("/creches/{id}")]
pub async fn update(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<UpdateCreche>,
) -> Result<web::Json<CrecheBody>, ApiError> {
    let id = path_id(&id, CrecheId::parse)?;
    let body = body.0;
    let view = state
        .run(move |conn| creches::update(conn, Caller::Identity(&who), &id, body, Utc::now()))
        .await?;
    // Who may do what changed: no identity kept from before holds.
    state.identities.forget_all();
    Ok(web::Json(view.into()))
}
