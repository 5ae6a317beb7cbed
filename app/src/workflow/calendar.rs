//! The crèches' calendars: a crèche is open on the weekdays of its opening
//! hours, except the public holidays of the configured zone and the
//! closures its coordinator or an administrator records. A closed day has
//! no AVIP place: availability, matching and occupancy all read this.

use std::collections::HashMap;

use avip_db::closures::{self, Closure};
use avip_db::model::FreedCause;
use avip_db::model::{ClosureId, CrecheId, to_db_time};
use avip_db::places::{Period, weekday_bit};
use avip_db::{DbConnection, QueryError, creches};
use avip_sla_engine::clock::{named_holidays, paris_date};
use avip_sla_engine::policy::HolidayZone;
use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::access::{Action, Resource, require};
use crate::auth::Principal;
use crate::domain::{self, DomainError, OpeningHours, Problems, Weekday};
use crate::labels as fr;

/// The calendars of some crèches over a period, in the order they were
/// asked for.
pub struct Calendars {
    /// Each crèche's weekly opening days (a mask) and closures.
    creches: Vec<(i32, Vec<Closure>)>,
    /// The zone's holidays of the period's years, in date order.
    holidays: Vec<(NaiveDate, &'static str)>,
}

impl Calendars {
    /// Reads the crèches' opening days and their closures that meet the
    /// period; computes the zone's holidays of its years.
    pub fn load(
        conn: &mut DbConnection,
        creches: &[CrecheId],
        period: Period,
        zone: HolidayZone,
    ) -> Result<Calendars, QueryError> {
        let hours = creches::opening_hours_of(conn, creches)?;
        Calendars::with_hours(conn, creches, &hours, period, zone)
    }

    /// The same, from opening hours already read (`(id, JSON)` pairs).
    pub fn with_hours(
        conn: &mut DbConnection,
        creches: &[CrecheId],
        hours: &[(CrecheId, String)],
        period: Period,
        zone: HolidayZone,
    ) -> Result<Calendars, QueryError> {
        let mut weekly: HashMap<&CrecheId, i32> = hours
            .iter()
            .map(|(id, json)| (id, opening_days(json)))
            .collect();
        let mut by_creche: HashMap<CrecheId, Vec<Closure>> = HashMap::new();
        for closure in closures::overlapping(conn, creches, period)? {
            by_creche
                .entry(closure.creche_id.clone())
                .or_default()
                .push(closure);
        }
        let holidays = (period.from.year()..=period.to.year())
            .flat_map(|year| named_holidays(zone, year))
            .collect();
        Ok(Calendars {
            creches: creches
                .iter()
                .map(|id| {
                    let week = weekly.remove(id).unwrap_or(WORKING_WEEK);
                    (week, by_creche.remove(id).unwrap_or_default())
                })
                .collect(),
            holidays,
        })
    }

    /// The calendars of some of these crèches (by their index), in that
    /// order.
    pub fn subset(&self, indexes: &[usize]) -> Calendars {
        Calendars {
            creches: indexes
                .iter()
                .map(|i| {
                    self.creches
                        .get(*i)
                        .cloned()
                        .unwrap_or((WORKING_WEEK, Vec::new()))
                })
                .collect(),
            holidays: self.holidays.clone(),
        }
    }

    /// Why the crèche at `at` (in the order asked for) is closed on `date`,
    /// or `None` when it is open: a closure it recorded, a public holiday,
    /// a weekday it does not open.
    pub fn closed(&self, at: usize, date: NaiveDate) -> Option<String> {
        let (weekly, closures) = self.creches.get(at)?;
        if let Some(closure) = closures
            .iter()
            .find(|c| c.starts_on <= date && date <= c.ends_on)
        {
            return Some(closure.label.clone());
        }
        if let Ok(i) = self.holidays.binary_search_by_key(&date, |(d, _)| *d) {
            return Some(self.holidays[i].1.to_owned());
        }
        if weekly & weekday_bit(date.weekday()) == 0 {
            return Some(format!(
                "Fermé le {}",
                fr::weekday(Weekday::of(date.weekday()))
            ));
        }
        None
    }
}

/// Monday to Friday: what a crèche whose hours cannot be read opens.
const WORKING_WEEK: i32 = 0b1_1111;

/// The weekly opening days of a crèche's opening hours (JSON).
fn opening_days(json: &str) -> i32 {
    serde_json::from_str::<OpeningHours>(json)
        .ok()
        .map(|hours| mask(&hours.days))
        .filter(|m| *m != 0)
        .unwrap_or(WORKING_WEEK)
}

/// A list of weekdays as a mask (Monday 1 … Sunday 64).
pub fn mask(days: &[Weekday]) -> i32 {
    days.iter().fold(0, |m, d| m | weekday_bit(d.to_chrono()))
}

/// The weekdays of a mask, Monday first.
pub fn weekdays(mask: i32) -> Vec<Weekday> {
    Weekday::ALL
        .into_iter()
        .filter(|d| mask & weekday_bit(d.to_chrono()) != 0)
        .collect()
}

/// `POST /api/v1/creches/{id}/closures`: the crèche is closed from `from`
/// to `to`, both included.
#[derive(serde::Deserialize, utoipa::ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from": "2027-08-02", "to": "2027-08-22", "label": "Fermeture estivale"}))]
pub struct ClosureRequest {
    pub from: NaiveDate,
    /// The last day closed: not before `from`, within 366 days of it.
    pub to: NaiveDate,
    /// What families and prescribers read on the planning, 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub label: String,
}

/// The crèche's closures, in the order of their first day (prescribers,
/// coordinators and admins, as availability).
pub fn list(
    conn: &mut DbConnection,
    who: &Principal,
    id: &CrecheId,
    today: NaiveDate,
) -> Result<Vec<Closure>, DomainError> {
    require(who, Action::Read, Resource::Availability)?;
    creches::get(conn, id, today)?;
    Ok(closures::of_creche(conn, id)?)
}

/// Records a closure (admins; the crèche's coordinators).
pub fn create(
    conn: &mut DbConnection,
    who: &Principal,
    id: &CrecheId,
    request: ClosureRequest,
    now: DateTime<Utc>,
) -> Result<Closure, DomainError> {
    require(who, Action::Update, Resource::Capacity(id))?;
    let mut p = Problems::default();
    for (field, date) in [("from", request.from), ("to", request.to)] {
        if let Err(why) = domain::within_years(date) {
            p.push(field, why);
        }
    }
    if request.to < request.from {
        p.push("to", "must not be before from");
    } else if (request.to - request.from).num_days() >= 366 {
        p.push("to", "the closure is longer than a year (366 days at most)");
    }
    let label = p.check("label", domain::text(&request.label, 200));
    p.into_result()?;
    let closure = Closure {
        id: ClosureId::generate(),
        creche_id: id.clone(),
        starts_on: request.from,
        ends_on: request.to,
        label: label.unwrap_or_default(),
        created_at: to_db_time(now),
        created_by: Some(who.subject.to_claim()),
    };
    avip_db::write_transaction(conn, |conn| {
        creches::get(conn, id, paris_date(now))?;
        closures::insert(conn, &closure)?;
        tracing::info!(creche = %id, from = %closure.starts_on, to = %closure.ends_on, "closure recorded");
        Ok(closure.clone())
    })
}

/// Removes a closure (admins; the crèche's coordinators): 404 when the
/// crèche has none with this id. The days it closed free their places
/// again: the waiting families are matched to them.
pub fn delete(
    conn: &mut DbConnection,
    who: &Principal,
    id: &CrecheId,
    closure: &ClosureId,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DomainError> {
    require(who, Action::Update, Resource::Capacity(id))?;
    let today = avip_sla_engine::clock::paris_date(now);
    avip_db::write_transaction(conn, |conn| {
        creches::get(conn, id, today)?;
        let removed = (closures::of_creche(conn, id)?.into_iter()).find(|c| &c.id == closure);
        match closures::delete(conn, id, closure)? {
            0 => Err(DomainError::NotFound),
            _ => {
                if let Some(c) = removed.filter(|c| c.ends_on >= today) {
                    let freed = (format!("closure:{closure}"), FreedCause::ClosureRemoved);
                    super::freed::creche_freed(conn, id, freed, c.starts_on.max(today), now)?;
                }
                tracing::info!(creche = %id, closure = %closure, "closure removed");
                Ok(())
            }
        }
    })
}
