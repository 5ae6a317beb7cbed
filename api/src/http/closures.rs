//! A crèche's closures: the periods it records as closed besides its
//! weekly days off and the public holidays. A closed day has no AVIP place.

use actix_web::{HttpResponse, delete, get, post, web};
use avip_db::closures::Closure;
use avip_db::model::{ClosureId, CrecheId};
use avip_sla_engine::clock::paris_date;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::page::{path_id, time};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Bearer};
use crate::http::responses::{Forbidden, NotFound, Unprocessable};
use crate::shared::State;
use avip_app::workflow::calendar::{self, ClosureRequest};

/// A period the crèche is closed, both ends included.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000020",
    "creche_id": "0193a5b0-7c1e-7d2a-9b1e-000000000001", "from": "2027-08-02", "to": "2027-08-22",
    "label": "Fermeture estivale", "created_at": "2026-12-01T09:00:00Z",
    "created_by": "user:0193a5b0-7c1e-7d2a-9b1e-000000000003"}))]
pub struct ClosureBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: ClosureId,
    #[schema(value_type = String, format = Uuid)]
    pub creche_id: CrecheId,
    pub from: NaiveDate,
    /// The last day closed.
    pub to: NaiveDate,
    #[schema(min_length = 1, max_length = 200)]
    pub label: String,
    pub created_at: DateTime<Utc>,
    /// Who recorded it (`user:<id>`, `client:<id>`).
    pub created_by: Option<String>,
}

impl From<Closure> for ClosureBody {
    fn from(c: Closure) -> Self {
        ClosureBody {
            id: c.id,
            creche_id: c.creche_id,
            from: c.starts_on,
            to: c.ends_on,
            label: c.label,
            created_at: time(c.created_at),
            created_by: c.created_by,
        }
    }
}

/// The crèche's closures, in the order of their first day.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({"creche_id": "0193a5b0-7c1e-7d2a-9b1e-000000000001", "items": [
    {"id": "0193a5b0-7c1e-7d2a-9b1e-000000000020", "creche_id": "0193a5b0-7c1e-7d2a-9b1e-000000000001",
     "from": "2027-08-02", "to": "2027-08-22", "label": "Fermeture estivale",
     "created_at": "2026-12-01T09:00:00Z", "created_by": "user:0193a5b0-7c1e-7d2a-9b1e-000000000003"}]}))]
pub struct Closures {
    #[schema(value_type = String, format = Uuid)]
    pub creche_id: CrecheId,
    pub items: Vec<ClosureBody>,
}

/// The periods the crèche records as closed (besides its weekly days off
/// and the public holidays of the configured zone, which availability
/// also closes). Prescribers, coordinators and admins.
#[utoipa::path(operation_id = "listCrecheClosures", tag = "places", params(("id" = String, Path, format = Uuid)),
    security(("oauth2" = [])), responses(
    (status = 200, body = Closures),
    Forbidden,
    NotFound,
))]
#[get("/creches/{id}/closures")]
pub async fn list(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
) -> Result<web::Json<Closures>, ApiError> {
    let id = path_id(&id, CrecheId::parse)?;
    let today = paris_date(Utc::now());
    let creche_id = id.clone();
    let items = state
        .run(move |conn| calendar::list(conn, &who, &id, today))
        .await?;
    Ok(web::Json(Closures {
        creche_id,
        items: items.into_iter().map(ClosureBody::from).collect(),
    }))
}

/// Record a closure (admins; the crèche's coordinators): on its days the
/// crèche has no AVIP place, offers and enrollments skip them and the
/// occupancy does not count them.
#[utoipa::path(operation_id = "createCrecheClosure", tag = "places", params(("id" = String, Path, format = Uuid)),
    request_body = ClosureRequest, security(("oauth2" = [])), responses(
    (status = 201, body = ClosureBody),
    Forbidden,
    NotFound,
    Unprocessable,
))]
#[post("/creches/{id}/closures")]
pub async fn create(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<ClosureRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, CrecheId::parse)?;
    let request = body.0;
    let closure = state
        .write(move |conn| calendar::create(conn, &who, &id, request, Utc::now()))
        .await?;
    Ok(HttpResponse::Created().json(ClosureBody::from(closure)))
}

/// Remove a closure (admins; the crèche's coordinators).
#[utoipa::path(operation_id = "deleteCrecheClosure", tag = "places",
    params(("id" = String, Path, format = Uuid), ("closure_id" = String, Path, format = Uuid)),
    security(("oauth2" = [])), responses(
    (status = 204, description = "Removed"), Forbidden, NotFound,
))]
#[delete("/creches/{id}/closures/{closure_id}")]
pub async fn remove(
    Bearer(who): Bearer,
    state: State,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, closure) = path.into_inner();
    let id = path_id(&id, CrecheId::parse)?;
    let closure = path_id(&closure, ClosureId::parse)?;
    let now = Utc::now();
    state
        .write(move |conn| calendar::delete(conn, &who, &id, &closure, now))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
