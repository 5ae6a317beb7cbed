//! `/api/v1/organizations`: admins manage organisations.

use actix_web::{HttpResponse, get, patch, post, web};
use avip_db::model::{OrganizationId, OrganizationKind};
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;

use super::page::{Cursor, List, page_request, path_id};
use crate::http::error::ApiError;
use crate::http::extract::Bearer;
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::responses::{BadRequest, Forbidden, NotFound, Unauthorized, Unprocessable};
use crate::shared::State;
use avip_app::views::OrganizationBody;
use avip_app::workflow::Caller;
use avip_app::workflow::organizations::{
    self, CreateOrganization, OidcConfigured, UpdateOrganization,
};

#[derive(Deserialize, IntoParams, Debug)]
#[into_params(parameter_in = Query)]
pub struct OrganizationFilter {
    /// Only organisations of this kind.
    pub kind: Option<OrganizationKind>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(format = Uuid)]
    pub cursor: Option<String>,
}

/// List organisations (admin).
#[utoipa::path(operation_id = "listOrganizations", tag = "organizations", params(OrganizationFilter), security(("oauth2" = [])), responses(
    (status = 200, body = List<OrganizationBody>),
    Unauthorized,
    Forbidden,
))]
#[get("/organizations")]
pub async fn list(
    Bearer(who): Bearer,
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
#[utoipa::path(operation_id = "createOrganization", tag = "organizations", request_body = CreateOrganization, security(("oauth2" = [])), responses(
    (status = 201, body = OrganizationBody),
    BadRequest,
    Forbidden,
    Unprocessable,
))]
#[post("/organizations")]
pub async fn create(
    Bearer(who): Bearer,
    state: State,
    body: ApiJson<CreateOrganization>,
) -> Result<HttpResponse, ApiError> {
    let command = body.0;
    let oidc = OidcConfigured(state.web.oidc.is_some());
    let created = state
        .run(move |conn| {
            organizations::create(conn, Caller::Identity(&who), command, oidc, Utc::now())
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/organizations/{}", created.id)))
        .json(OrganizationBody::from(created)))
}

/// One organisation (admin).
#[utoipa::path(operation_id = "getOrganization", tag = "organizations", params(("id" = String, Path, format = Uuid)), security(("oauth2" = [])), responses(
    (status = 200, body = OrganizationBody),
    NotFound,
))]
#[get("/organizations/{id}")]
pub async fn get_one(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
) -> Result<web::Json<OrganizationBody>, ApiError> {
    let id = path_id(&id, OrganizationId::parse)?;
    let org = state
        .run(move |conn| organizations::get(conn, Caller::Identity(&who), &id))
        .await?;
    Ok(web::Json(org.into()))
}

/// Change an organisation (admin): its name, its département, its SIRET, or
/// whether its people must sign in through ProConnect. Its kind is fixed.
#[utoipa::path(operation_id = "updateOrganization", tag = "organizations", params(("id" = String, Path, format = Uuid)), request_body = UpdateOrganization,
    security(("oauth2" = [])), responses(
    (status = 200, body = OrganizationBody),
    NotFound,
    Unprocessable,
))]
#[patch("/organizations/{id}")]
pub async fn update(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<UpdateOrganization>,
) -> Result<web::Json<OrganizationBody>, ApiError> {
    let id = path_id(&id, OrganizationId::parse)?;
    let body = body.0;
    let oidc = OidcConfigured(state.web.oidc.is_some());
    let org = state
        .run(move |conn| {
            organizations::update(conn, Caller::Identity(&who), &id, body, oidc, Utc::now())
        })
        .await?;
    // Who may do what changed: no identity kept from before holds.
    state.identities.forget_all();
    Ok(web::Json(org.into()))
}
