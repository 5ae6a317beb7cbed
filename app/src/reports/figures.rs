//! The numbers of a bilan: the indicators of the period (by month and by
//! prescriber kind) and of the period before, summed; the place-days by
//! weekday from the same days the occupancy reads; and the grouped counts
//! of the cohort's exits, outcomes and profiles.

use std::collections::BTreeMap;

use avip_db::DbConnection;
use avip_db::model::{CrecheId, to_db_time};
use avip_db::places::Period;
use avip_db::reports::{ExitCount, OutcomeCount, ProfileCount};
use avip_sla_engine::clock::paris_date;
use avip_sla_engine::policy::HolidayZone;
use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::exports::{Cancel, ExportError, GroupBy, Tally};

/// What a bilan counts: the crèches, the period.
pub struct Target {
    pub creches: Vec<CrecheId>,
    pub period: Period,
}

/// Every number a bilan writes.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    /// The whole period, and the period before.
    pub total: Tally,
    pub before: Tally,
    /// By month of reception (every month of the period, even empty).
    pub months: BTreeMap<String, Tally>,
    /// By prescriber kind, labelled in French.
    pub kinds: BTreeMap<String, Tally>,
    pub exits: Vec<ExitCount>,
    pub outcomes: Vec<OutcomeCount>,
    pub profiles: Vec<ProfileCount>,
    /// Occupied and available place-days, Monday first, days lived only.
    pub weekdays: [(i64, i64); 7],
    /// The AVIP places reserved on the period's last open day (each crèche).
    pub places: i64,
}

/// Reads a bilan's numbers.
pub fn figures(
    conn: &mut DbConnection,
    target: &Target,
    (now, zone): (DateTime<Utc>, HolidayZone),
    cancel: &Cancel,
) -> Result<Figures, ExportError> {
    let when = (to_db_time(now), zone);
    let Target { creches, period } = target;
    let scope_of = |period| crate::workflow::exports::scope(period, creches.to_vec());
    let scope = scope_of(*period);
    let indicators = |conn: &mut DbConnection, period: Period, group_by| {
        let scope = scope_of(period);
        crate::exports::indicators(conn, &scope, creches, period, group_by, when, cancel)
    };
    let months = indicators(conn, *period, GroupBy::Month)?;
    let kinds = indicators(conn, *period, GroupBy::PrescriberKind)?;
    let before = sum(indicators(conn, super::previous(*period), GroupBy::Month)?.values());
    let (weekdays, places) = week(conn, target, paris_date(now), zone)?;
    Ok(Figures {
        total: sum(months.values()),
        before,
        kinds: kinds.into_values().map(|t| (t.label.clone(), t)).collect(),
        months,
        exits: avip_db::reports::exits(conn, &scope)?,
        outcomes: avip_db::reports::outcomes(conn, &scope)?,
        profiles: avip_db::reports::profiles(conn, &scope)?,
        weekdays,
        places,
    })
}

/// The groups added up: counts, waits, hours, place-days, transfers and
/// meetings (percentiles are then over all the hours).
pub fn sum<'a>(groups: impl IntoIterator<Item = &'a Tally>) -> Tally {
    let mut total = Tally::default();
    let add = |a: Option<(i64, i64)>, b: Option<(i64, i64)>| match (a, b) {
        (Some(a), Some(b)) => Some((a.0 + b.0, a.1 + b.1)),
        (a, b) => a.or(b),
    };
    for t in groups {
        total.counts.add(&t.counts, 1);
        total.pending += t.pending;
        total.hours.extend_from_slice(&t.hours);
        total.place_days = add(total.place_days, t.place_days);
        total.transfers = add(total.transfers, t.transfers);
        total.meetings = (
            total.meetings.0 + t.meetings.0,
            total.meetings.1 + t.meetings.1,
        );
        total.meeting_days.extend_from_slice(&t.meeting_days);
    }
    total
}

/// The place-days by weekday over the days lived (as the occupancy counts
/// them), and the places reserved on each crèche's last open day.
fn week(
    conn: &mut DbConnection,
    Target { creches, period }: &Target,
    today: NaiveDate,
    zone: HolidayZone,
) -> Result<([(i64, i64); 7], i64), ExportError> {
    let days = crate::workflow::places::days(conn, creches, *period, &[], zone)?;
    let mut weekdays = [(0i64, 0i64); 7];
    let mut places = 0i64;
    for creche in &days {
        for day in creche.iter().filter(|d| d.date <= today) {
            let slot = &mut weekdays[day.date.weekday().num_days_from_monday() as usize];
            *slot = (
                slot.0 + i64::from(day.occupied),
                slot.1 + i64::from(day.capacity),
            );
        }
        if let Some(last) = creche.iter().rev().find(|d| d.open) {
            places += i64::from(last.capacity);
        }
    }
    Ok((weekdays, places))
}
