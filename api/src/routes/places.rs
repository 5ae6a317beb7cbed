//! AVIP places: the availability planning that prescribers read, and the
//! dated capacity that coordinators keep.

use actix_web::{HttpResponse, get, post, web};
use avip_db::creches;
use avip_db::model::{CrecheId, paris_date, to_db_time};
use avip_db::places::{self, CapacityChange, Day, Period};
use avip_db::{DbConnection, Pool, QueryError};
use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::common::{path_id, time};
use super::creches::MAX_PLACES;
use crate::access::{Action, Resource, require};
use crate::auth::Principal;
use crate::domain::Problems;
use crate::error::{ApiError, ProblemDocument};
use crate::extract::{ApiJson, ApiQuery};
use crate::routes::referrals::bad_query;

/// The longest period one request may ask for: a year, leap day included.
pub const MAX_DAYS: usize = 366;

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
    pub departement: Option<String>,
    /// First day, `YYYY-MM-DD` (default: today in Paris).
    pub from: Option<NaiveDate>,
    /// Last day, included, at most 366 days after `from` counting both
    /// (default: a month after `from`, the day before).
    pub to: Option<NaiveDate>,
}

/// The period asked for, checked: `to` not before `from`, a year at most.
pub fn period(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<Period, ApiError> {
    let from = from.unwrap_or(today);
    let to = match to {
        Some(to) => to,
        None => from
            .checked_add_months(Months::new(1))
            .and_then(|d| d.pred_opt())
            .unwrap_or(from),
    };
    if to < from {
        return Err(bad_query("to", "must not be before from"));
    }
    let period = Period { from, to };
    if period.days() > MAX_DAYS {
        return Err(bad_query(
            "to",
            "the period is longer than a year (366 days at most)",
        ));
    }
    Ok(period)
}

/// One crèche's AVIP places, day by day.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({"creche_id": "0193a5b0-7c1e-7d2a-9b1e-000000000001",
    "from": "2027-01-04", "to": "2027-01-05", "days": [
    {"date": "2027-01-04", "capacity": 6, "occupied": 2, "held": 1, "free": 3},
    {"date": "2027-01-05", "capacity": 6, "occupied": 3, "held": 0, "free": 3}]}))]
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
#[utoipa::path(tag = "places", params(("id" = String, Path, format = Uuid), PeriodQuery),
    security(("bearer" = [])), responses(
    (status = 200, body = CrecheAvailability),
    (status = 400, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[get("/creches/{id}/availability")]
pub async fn creche_availability(
    who: Principal,
    pool: web::Data<Pool>,
    id: web::Path<String>,
    query: ApiQuery<PeriodQuery>,
) -> Result<web::Json<CrecheAvailability>, ApiError> {
    require(&who, Action::Read, Resource::Availability)?;
    let id = path_id(&id, CrecheId::parse)?;
    let period = period(query.0.from, query.0.to, paris_date(Utc::now()))?;
    let days = crate::db::run(&pool, move |conn| -> Result<_, ApiError> {
        creches::get(conn, &id)?;
        let days = places::availability(conn, std::slice::from_ref(&id), period, &[])?;
        Ok((id, days))
    })
    .await?;
    let (creche_id, days) = days;
    Ok(web::Json(CrecheAvailability {
        creche_id,
        from: period.from,
        to: period.to,
        days: days.into_iter().flatten().collect(),
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
     "days": [{"date": "2027-01-04", "capacity": 6, "occupied": 2, "held": 1, "free": 3}]}]}))]
pub struct TerritoryAvailability {
    pub departement: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub items: Vec<TerritoryItem>,
}

/// The same planning for every crèche of a département, so that a
/// prescriber refers families where a place can open.
#[utoipa::path(tag = "places", params(TerritoryQuery), security(("bearer" = [])), responses(
    (status = 200, body = TerritoryAvailability),
    (status = 400, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[get("/availability")]
pub async fn territory_availability(
    who: Principal,
    pool: web::Data<Pool>,
    query: ApiQuery<TerritoryQuery>,
) -> Result<web::Json<TerritoryAvailability>, ApiError> {
    require(&who, Action::Read, Resource::Availability)?;
    let query = query.0;
    let departement = match query.departement {
        None => who.departement.clone(),
        Some(d) => {
            crate::domain::departement(&d).map_err(|message| bad_query("departement", &message))?
        }
    };
    let period = period(query.from, query.to, paris_date(Utc::now()))?;
    let dep = departement.clone();
    let items = crate::db::run(&pool, move |conn| territory(conn, &dep, period)).await?;
    Ok(web::Json(TerritoryAvailability {
        departement,
        from: period.from,
        to: period.to,
        items,
    }))
}

/// The département's crèches and their days over the period.
pub fn territory(
    conn: &mut DbConnection,
    departement: &str,
    period: Period,
) -> Result<Vec<TerritoryItem>, QueryError> {
    let names = creches::in_departement(conn, departement)?;
    let ids: Vec<CrecheId> = names.iter().map(|c| c.id.clone()).collect();
    let days = places::availability(conn, &ids, period, &[])?;
    Ok(names
        .into_iter()
        .zip(days)
        .map(|(c, days)| TerritoryItem {
            creche_id: c.id,
            name: c.name,
            commune: c.commune,
            days,
        })
        .collect())
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

fn history(conn: &mut DbConnection, id: &CrecheId) -> Result<CapacityHistory, ApiError> {
    let view = creches::get(conn, id)?;
    let changes = places::capacity_history(conn, id)?
        .into_iter()
        .map(|c| CapacityBody {
            from: c.effective_from,
            avip_places: c.avip_places,
            recorded_at: time(c.recorded_at),
            recorded_by: c.recorded_by,
        })
        .collect();
    Ok(CapacityHistory {
        creche_id: id.clone(),
        avip_places: view.avip_places,
        changes,
    })
}

/// The crèche's AVIP places over time (admins; its coordinators).
#[utoipa::path(tag = "places", params(("id" = String, Path, format = Uuid)),
    security(("bearer" = [])), responses(
    (status = 200, body = CapacityHistory),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[get("/creches/{id}/capacity")]
pub async fn capacity(
    who: Principal,
    pool: web::Data<Pool>,
    id: web::Path<String>,
) -> Result<web::Json<CapacityHistory>, ApiError> {
    let id = path_id(&id, CrecheId::parse)?;
    require(&who, Action::Read, Resource::Capacity(&id))?;
    let body = crate::db::run(&pool, move |conn| history(conn, &id)).await?;
    Ok(web::Json(body))
}

/// `POST /api/v1/creches/{id}/capacity`.
#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from": "2027-09-01", "avip_places": 8}))]
pub struct CapacityRequest {
    /// The first day of the new number, today or later (the past stays as it
    /// was recorded). A second change for the same day replaces it.
    pub from: NaiveDate,
    /// 0 to 500.
    pub avip_places: i32,
}

/// Plan a change of the crèche's AVIP places from a date (admins; its
/// coordinators): earlier days keep their places. Answers the history.
#[utoipa::path(tag = "places", params(("id" = String, Path, format = Uuid)), request_body = CapacityRequest,
    security(("bearer" = [])), responses(
    (status = 201, body = CapacityHistory),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[post("/creches/{id}/capacity")]
pub async fn change_capacity(
    who: Principal,
    pool: web::Data<Pool>,
    gate: web::Data<crate::db::WriteGate>,
    id: web::Path<String>,
    body: ApiJson<CapacityRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, CrecheId::parse)?;
    require(&who, Action::Update, Resource::Capacity(&id))?;
    let now = Utc::now();
    let body = body.0;
    let mut p = Problems::default();
    if body.from < paris_date(now) {
        p.push(
            "from",
            "is in the past: only today or a later day can change",
        );
    }
    if !(0..=MAX_PLACES).contains(&body.avip_places) {
        p.push("avip_places", format!("must be between 0 and {MAX_PLACES}"));
    }
    p.into_result()?;
    let by = who.subject.to_claim();
    let history = crate::db::write(&pool, &gate, move |conn| {
        avip_db::write_transaction(conn, |conn| {
            creches::get(conn, &id)?;
            places::record_capacity(
                conn,
                &CapacityChange {
                    creche_id: id.clone(),
                    effective_from: body.from,
                    avip_places: body.avip_places,
                    recorded_at: to_db_time(now),
                    recorded_by: Some(by),
                },
            )?;
            tracing::info!(creche = %id, from = %body.from, places = body.avip_places, "AVIP places changed");
            history(conn, &id)
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(history))
}
