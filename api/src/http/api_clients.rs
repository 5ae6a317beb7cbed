//! `/api/v1/api-clients`: machine identities; the secret is shown once.

use actix_web::{HttpResponse, delete, get, post, web};
use avip_db::model::ApiClientId;
use chrono::Utc;

use super::page::{List, PageQuery, path_id};
use crate::http::error::ApiError;
use crate::http::extract::Bearer;
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::responses::{Forbidden, NotFound, Unprocessable};
use crate::shared::State;
use avip_app::views::{ApiClientBody, CreatedApiClient};
use avip_app::workflow::Caller;
use avip_app::workflow::api_clients::{self, CreateApiClient};

/// List API clients (admin).
#[utoipa::path(operation_id = "listApiClients", tag = "api-clients", params(PageQuery), security(("oauth2" = [])), responses(
    (status = 200, body = List<ApiClientBody>),
    Forbidden,
))]
#[get("/api-clients")]
pub async fn list(
    Bearer(who): Bearer,
    state: State,
    query: ApiQuery<PageQuery>,
) -> Result<web::Json<List<ApiClientBody>>, ApiError> {
    let page = query.0.request()?;
    let rows = state
        .run(move |conn| api_clients::list(conn, Caller::Identity(&who), &page))
        .await?;
    Ok(web::Json(List::from_page(rows, ApiClientBody::from)))
}

/// Create an API client for an organisation (admin). The answer carries the
/// secret, which is never shown again.
#[utoipa::path(operation_id = "createApiClient", tag = "api-clients", request_body = CreateApiClient, security(("oauth2" = [])), responses(
    (status = 201, body = CreatedApiClient),
    Forbidden,
    Unprocessable,
))]
#[post("/api-clients")]
pub async fn create(
    Bearer(who): Bearer,
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
#[utoipa::path(operation_id = "disableApiClient", tag = "api-clients", params(("id" = String, Path, format = Uuid)), security(("oauth2" = [])), responses(
    (status = 200, body = ApiClientBody),
    NotFound,
))]
#[delete("/api-clients/{id}")]
pub async fn disable(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
) -> Result<web::Json<ApiClientBody>, ApiError> {
    let id = path_id(&id, ApiClientId::parse)?;
    let client = state
        .run(move |conn| api_clients::disable(conn, Caller::Identity(&who), &id, Utc::now()))
        .await?;
    // Who may do what changed: no identity kept from before holds.
    state.identities.forget_all();
    Ok(web::Json(client.into()))
}
