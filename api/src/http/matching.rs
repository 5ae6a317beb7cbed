//! `GET /api/v1/availability/match`: which crèches of the territory can
//! take the child on the family's days and hours, most suitable first.

use actix_web::{get, web};
use avip_db::model::CrecheId;
use avip_sla_engine::clock::paris_date;
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Bearer};
use crate::http::responses::{BadRequest, Forbidden};
use crate::shared::State;
use avip_app::domain::referral::HoursIn;
use avip_app::domain::{DomainError, Weekday, clock_time, departement};
use avip_app::workflow::matching::{self, Match, Wanted};

#[derive(Deserialize, IntoParams, Debug)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MatchQuery {
    /// Département code, e.g. `83` or `2A` (default: the caller's organisation's).
    #[param(pattern = "^(0[1-9]|1[0-9]|2[1-9AaBb]|[3-8][0-9]|9[0-5]|97[1-6])$")]
    pub departement: Option<String>,
    /// The first day the family needs the crèche (default: today in Paris).
    pub start: Option<NaiveDate>,
    /// The weekdays needed, comma-separated, each once: `mon,tue`.
    #[param(pattern = "^(mon|tue|wed|thu|fri|sat|sun)(,(mon|tue|wed|thu|fri|sat|sun)){0,6}$")]
    pub days: String,
    /// The family's first hour, `HH:MM` (with `to`).
    #[param(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub from: Option<String>,
    /// The family's last hour, `HH:MM`, after `from`.
    #[param(pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
    pub to: Option<String>,
    /// How many weeks from `start` must be free: 1 to 26 (default 8).
    #[param(minimum = 1, maximum = 26)]
    pub weeks: Option<u32>,
    /// The places needed, one per child: 1 to 6 (default 1).
    #[param(minimum = 1, maximum = 6)]
    pub places: Option<i32>,
    /// The family's postal code: crèches there come first.
    #[param(pattern = "^[0-9]{5}$")]
    pub postal_code: Option<String>,
    /// The family's commune: crèches there come next.
    #[param(max_length = 200)]
    pub commune: Option<String>,
}

/// One requested weekday's least free places over the window.
#[derive(Serialize, ToSchema, Debug)]
pub struct WeekdayFreeBody {
    pub day: Weekday,
    pub free: i32,
}

/// A crèche and how it fits the family's week.
#[derive(Serialize, ToSchema, Debug)]
pub struct MatchItem {
    #[schema(value_type = String, format = Uuid)]
    pub creche_id: CrecheId,
    pub name: String,
    pub postal_code: String,
    pub commune: String,
    /// Its opening hours (`HH:MM`) and days; `null` when unreadable.
    pub opens: Option<String>,
    pub closes: Option<String>,
    pub open_days: Vec<Weekday>,
    /// A place is free on every requested weekday of the window.
    pub free_on_every_day: bool,
    /// The first day from which a window of the same length is free
    /// (`start` when `free_on_every_day`); `null` when none within 26 weeks
    /// after the window, or when the crèche does not open a requested day.
    pub free_from: Option<NaiveDate>,
    /// The requested weekdays the crèche does not open.
    pub closed_days: Vec<Weekday>,
    /// The least free places of each requested weekday it opens, over the window.
    pub free: Vec<WeekdayFreeBody>,
    /// Its hours cover the family's; `null` when no hours were asked.
    pub hours_cover: Option<bool>,
    pub same_postal_code: bool,
    pub same_commune: bool,
}

/// The crèches of a département, most suitable first.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({"departement": "83", "start": "2027-01-04", "days": ["mon", "tue"],
    "hours": {"from": "07:00", "to": "18:30"}, "weeks": 8, "places": 1, "items": [
    {"creche_id": "0193a5b0-7c1e-7d2a-9b1e-000000000001", "name": "Les Petits Pas", "postal_code": "83000",
     "commune": "Toulon", "opens": "07:00", "closes": "19:30", "open_days": ["mon", "tue", "wed", "thu", "fri"],
     "free_on_every_day": true, "free_from": "2027-01-04", "closed_days": [],
     "free": [{"day": "mon", "free": 2}, {"day": "tue", "free": 2}], "hours_cover": true,
     "same_postal_code": true, "same_commune": true}]}))]
pub struct MatchList {
    pub departement: String,
    pub start: NaiveDate,
    pub days: Vec<Weekday>,
    pub hours: Option<HoursIn>,
    pub weeks: u32,
    pub places: i32,
    pub items: Vec<MatchItem>,
}

/// Which crèches of a département can take the child on the family's
/// weekdays from `start` (a place free on each of them, every open day of
/// the first `weeks` weeks; closed days do not count), whose hours cover
/// the family's, nearest first by postal code then commune. Prescribers,
/// coordinators and admins.
#[utoipa::path(operation_id = "matchAvailability", tag = "places", params(MatchQuery), security(("oauth2" = [])), responses(
    (status = 200, body = MatchList),
    BadRequest,
    Forbidden,
))]
#[get("/availability/match")]
pub async fn match_availability(
    Bearer(who): Bearer,
    state: State,
    query: ApiQuery<MatchQuery>,
) -> Result<web::Json<MatchList>, ApiError> {
    let wanted = wanted(query.0, &who.departement)?;
    let zone = state.zone();
    let asked = wanted.clone();
    let found = state
        .run(move |conn| matching::matches(conn, &who, &asked, zone))
        .await?;
    Ok(web::Json(MatchList {
        departement: wanted.departement,
        start: wanted.start,
        days: wanted.days,
        hours: wanted.hours.map(|(from, to)| HoursIn { from, to }),
        weeks: wanted.weeks,
        places: wanted.places,
        items: found.into_iter().map(MatchItem::from).collect(),
    }))
}

/// The query, checked: each parameter's fault named.
fn wanted(q: MatchQuery, own: &str) -> Result<Wanted, DomainError> {
    let bad = |field: &str, message: &str| DomainError::parameter(field, message);
    let departement = match q.departement {
        None => own.to_owned(),
        Some(d) => departement(&d).map_err(|m| bad("departement", &m))?,
    };
    let mut days = Vec::new();
    for code in q.days.split(',') {
        let day = Weekday::ALL
            .into_iter()
            .find(|d| d.code() == code.trim())
            .ok_or_else(|| {
                bad(
                    "days",
                    "must list weekdays among mon, tue, wed, thu, fri, sat, sun, comma-separated",
                )
            })?;
        if days.contains(&day) {
            return Err(bad("days", "a day is listed twice"));
        }
        days.push(day);
    }
    let hours = match (q.from, q.to) {
        (None, None) => None,
        (Some(from), Some(to)) => {
            let from = clock_time(&from).map_err(|m| bad("from", &m))?;
            let to = clock_time(&to).map_err(|m| bad("to", &m))?;
            if to <= from {
                return Err(bad("to", "must be after from"));
            }
            Some((from, to))
        }
        (Some(_), None) => return Err(bad("to", "is required with from")),
        (None, Some(_)) => return Err(bad("from", "is required with to")),
    };
    let weeks = q.weeks.unwrap_or(8);
    if !(1..=26).contains(&weeks) {
        return Err(bad("weeks", "must be between 1 and 26"));
    }
    let places = q.places.unwrap_or(1);
    if !(1..=6).contains(&places) {
        return Err(bad("places", "must be between 1 and 6"));
    }
    let start = q.start.unwrap_or_else(|| paris_date(Utc::now()));
    avip_app::domain::within_years(start).map_err(|m| bad("start", &m))?;
    if let Some(code) = &q.postal_code {
        avip_app::domain::postal_code(code).map_err(|m| bad("postal_code", &m))?;
    }
    if let Some(commune) = &q.commune {
        avip_app::domain::text(commune, 200).map_err(|m| bad("commune", &m))?;
    }
    Ok(Wanted {
        departement,
        start,
        days,
        hours,
        weeks,
        places,
        postal_code: q.postal_code,
        commune: q.commune,
    })
}

impl From<Match> for MatchItem {
    fn from(m: Match) -> Self {
        MatchItem {
            creche_id: m.creche.id,
            name: m.creche.name,
            postal_code: m.creche.postal_code,
            commune: m.creche.commune,
            opens: m.hours.as_ref().map(|h| h.opens.clone()),
            closes: m.hours.as_ref().map(|h| h.closes.clone()),
            open_days: m.hours.map(|h| h.days).unwrap_or_default(),
            free_on_every_day: m.free_on_every_day,
            free_from: m.free_from,
            closed_days: m.closed_days,
            free: m
                .free
                .into_iter()
                .map(|f| WeekdayFreeBody {
                    day: f.day,
                    free: f.free,
                })
                .collect(),
            hours_cover: m.hours_cover,
            same_postal_code: m.same_postal_code,
            same_commune: m.same_commune,
        }
    }
}
