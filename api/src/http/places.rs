//! AVIP places: the availability planning that prescribers read, and the
//! dated capacity that coordinators keep.

use actix_web::{HttpResponse, get, post, web};
use avip_db::model::CrecheId;
use avip_db::places::Day;
use avip_sla_engine::clock::paris_date;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::page::{path_id, time};
use crate::http::error::ApiError;
use crate::http::extract::Bearer;
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::responses::{BadRequest, Forbidden, NotFound, Unprocessable};
use crate::shared::State;
use avip_app::domain::DomainError;
use avip_app::workflow::places::{self, Capacity, CapacityRequest, CrecheDays};

#[derive(Deserialize, IntoParams, Debug)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// First day, `YYYY-MM-DD` (default: today in Paris).
    pub from: Option<NaiveDate>,
    /// Last day, included, at most 366 days after `from` counting both
    /// (default: a month after `from`, the day before).
    pub to: Option<NaiveDate>,
}

#[derive(Deserialize, IntoParams, Debug)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TerritoryQuery {
    /// Département code, e.g. `83` or `2A` (default: the caller's organisation's).
    #[param(pattern = "^(0[1-9]|1[0-9]|2[1-9AaBb]|[3-8][0-9]|9[0-5]|97[1-6])$")]
    pub departement: Option<String>,
    /// First day, `YYYY-MM-DD` (default: today in Paris).
    pub from: Option<NaiveDate>,
    /// Last day, included, at most 366 days after `from` counting both
    /// (default: a month after `from`, the day before).
    pub to: Option<NaiveDate>,
}

/// One crèche's AVIP places, day by day.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({"creche_id": "0193a5b0-7c1e-7d2a-9b1e-000000000001",
    "from": "2027-01-04", "to": "2027-01-05", "days": [
    {"date": "2027-01-04", "open": true, "capacity": 6, "occupied": 2, "held": 1, "free": 3},
    {"date": "2027-01-05", "open": true, "capacity": 6, "occupied": 3, "held": 0, "free": 3}]}))]
pub struct CrecheAvailability {
    #[schema(value_type = String, format = Uuid)]
    pub creche_id: CrecheId,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: Vec<Day>,
}

/// Free AVIP places of one crèche per day (`capacity − occupied − held`):
/// an enrolled child occupies a place from the start of the contract to its
/// end or the exit, whichever comes first; an offer holds one for
/// `AVIP_OFFER_HOLD` from the day it is made until it is taken or refused.
/// Prescribers, coordinators and admins; any crèche.
#[utoipa::path(operation_id = "getCrecheAvailability", tag = "places", params(("id" = String, Path, format = Uuid), PeriodQuery),
    security(("oauth2" = [])), responses(
    (status = 200, body = CrecheAvailability),
    BadRequest,
    Forbidden,
    NotFound,
))]
#[get("/creches/{id}/availability")]
pub async fn creche_availability(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    query: ApiQuery<PeriodQuery>,
) -> Result<web::Json<CrecheAvailability>, ApiError> {
    let id = path_id(&id, CrecheId::parse)?;
    let period = places::period(query.0.from, query.0.to, paris_date(Utc::now()))?;
    let creche_id = id.clone();
    let zone = state.zone();
    let days = state
        .run(move |conn| places::availability(conn, &who, &id, period, zone))
        .await?;
    Ok(web::Json(CrecheAvailability {
        creche_id,
        from: period.from,
        to: period.to,
        days,
    }))
}

/// One crèche of the territory and its days.
#[derive(Serialize, ToSchema, Debug)]
pub struct TerritoryItem {
    #[schema(value_type = String, format = Uuid)]
    pub creche_id: CrecheId,
    pub name: String,
    pub commune: String,
    pub days: Vec<Day>,
}

/// Every crèche of a département, by name.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({"departement": "83", "from": "2027-01-04", "to": "2027-01-04", "items": [
    {"creche_id": "0193a5b0-7c1e-7d2a-9b1e-000000000001", "name": "Les Petits Pas", "commune": "Toulon",
     "days": [{"date": "2027-01-04", "open": true, "capacity": 6, "occupied": 2, "held": 1, "free": 3}]}]}))]
pub struct TerritoryAvailability {
    pub departement: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub items: Vec<TerritoryItem>,
}

/// The same planning for every crèche of a département, so that a
/// prescriber refers families where a place can open.
#[utoipa::path(operation_id = "getTerritoryAvailability", tag = "places", params(TerritoryQuery), security(("oauth2" = [])), responses(
    (status = 200, body = TerritoryAvailability),
    BadRequest,
    Forbidden,
))]
#[get("/availability")]
pub async fn territory_availability(
    Bearer(who): Bearer,
    state: State,
    query: ApiQuery<TerritoryQuery>,
) -> Result<web::Json<TerritoryAvailability>, ApiError> {
    let query = query.0;
    let departement = match query.departement {
        None => who.departement.clone(),
        Some(d) => avip_app::domain::departement(&d)
            .map_err(|message| DomainError::parameter("departement", &message))?,
    };
    let period = places::period(query.from, query.to, paris_date(Utc::now()))?;
    let dep = departement.clone();
    let zone = state.zone();
    let items = state
        .run(move |conn| places::territory(conn, &who, &dep, period, zone))
        .await?;
    Ok(web::Json(TerritoryAvailability {
        departement,
        from: period.from,
        to: period.to,
        items: items.into_iter().map(TerritoryItem::from).collect(),
    }))
}

/// From a date on, the crèche reserves this many AVIP places.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({"from": "2027-09-01", "avip_places": 8,
    "recorded_at": "2026-11-22T09:00:00Z", "recorded_by": "user:0193a5b0-7c1e-7d2a-9b1e-000000000003"}))]
pub struct CapacityBody {
    pub from: NaiveDate,
    pub avip_places: i32,
    pub recorded_at: DateTime<Utc>,
    /// Who recorded it (`user:<id>`, `client:<id>`); `null` for the command
    /// line and data from before the history was kept.
    pub recorded_by: Option<String>,
}

/// A crèche's AVIP places over time, oldest change first.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({"creche_id": "0193a5b0-7c1e-7d2a-9b1e-000000000001", "avip_places": 6,
    "changes": [{"from": "2026-11-20", "avip_places": 6, "recorded_at": "2026-11-20T09:00:00Z", "recorded_by": null},
                {"from": "2027-09-01", "avip_places": 8, "recorded_at": "2026-11-22T09:00:00Z",
                 "recorded_by": "user:0193a5b0-7c1e-7d2a-9b1e-000000000003"}]}))]
pub struct CapacityHistory {
    #[schema(value_type = String, format = Uuid)]
    pub creche_id: CrecheId,
    /// The places reserved today.
    pub avip_places: i32,
    /// Each change takes effect on its `from` day and lasts until the next;
    /// the first also stands for the days before it.
    pub changes: Vec<CapacityBody>,
}

/// The crèche's AVIP places over time (admins; its coordinators).
#[utoipa::path(operation_id = "getCrecheCapacity", tag = "places", params(("id" = String, Path, format = Uuid)),
    security(("oauth2" = [])), responses(
    (status = 200, body = CapacityHistory),
    Forbidden,
    NotFound,
))]
#[get("/creches/{id}/capacity")]
pub async fn capacity(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
) -> Result<web::Json<CapacityHistory>, ApiError> {
    let id = path_id(&id, CrecheId::parse)?;
    let today = paris_date(Utc::now());
    let capacity = state
        .run(move |conn| places::capacity(conn, &who, &id, today))
        .await?;
    Ok(web::Json(capacity.into()))
}

/// Plan a change of the crèche's AVIP places from a date (admins; its
/// coordinators): earlier days keep their places. Answers the history.
#[utoipa::path(operation_id = "changeCrecheCapacity", tag = "places", params(("id" = String, Path, format = Uuid)), request_body = CapacityRequest,
    security(("oauth2" = [])), responses(
    (status = 201, body = CapacityHistory),
    Forbidden,
    NotFound,
    Unprocessable,
))]
#[post("/creches/{id}/capacity")]
pub async fn change_capacity(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<CapacityRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, CrecheId::parse)?;
    let request = body.0;
    let history = state
        .write(move |conn| places::change_capacity(conn, &who, &id, request, Utc::now()))
        .await?;
    Ok(HttpResponse::Created().json(CapacityHistory::from(history)))
}

impl From<CrecheDays> for TerritoryItem {
    fn from(c: CrecheDays) -> Self {
        TerritoryItem {
            creche_id: c.creche_id,
            name: c.name,
            commune: c.commune,
            days: c.days,
        }
    }
}

impl From<Capacity> for CapacityHistory {
    fn from(c: Capacity) -> Self {
        CapacityHistory {
            creche_id: c.creche_id,
            avip_places: c.avip_places,
            changes: c
                .changes
                .into_iter()
                .map(|c| CapacityBody {
                    from: c.effective_from,
                    avip_places: c.avip_places,
                    recorded_at: time(c.recorded_at),
                    recorded_by: c.recorded_by,
                })
                .collect(),
        }
    }
}
