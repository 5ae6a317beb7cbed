//! Matching a family's week to the territory's free places: for each
//! crèche of a département, whether a place is free on every weekday the
//! family needs over the first weeks from the start (and if not, from
//! which day it is), whether its hours cover the family's, and whether it
//! is in the family's postal code or commune. Most suitable first.

use std::cmp::Reverse;

use avip_db::DbConnection;
use avip_db::creches::{self, Creche};
use avip_db::model::CrecheId;
use avip_db::places::{Day, Period, weekday_bit};
use avip_sla_engine::policy::HolidayZone;
use chrono::{Datelike, Days, NaiveDate};

use super::calendar::{Calendars, mask, weekdays};
use super::places::days_with;
use crate::access::{Action, Resource, require};
use crate::auth::Principal;
use crate::domain::{DomainError, OpeningHours, Weekday};

/// How far past the window a later free start is looked for.
const LOOK_AHEAD_DAYS: u64 = 182;

/// What the family needs.
#[derive(Clone, Debug)]
pub struct Wanted {
    pub departement: String,
    pub start: NaiveDate,
    pub days: Vec<Weekday>,
    /// `HH:MM`, both or neither.
    pub hours: Option<(String, String)>,
    /// 1 to 26.
    pub weeks: u32,
    /// The places needed (one per child).
    pub places: i32,
    pub postal_code: Option<String>,
    pub commune: Option<String>,
}

/// One weekday's least free places over the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeekdayFree {
    pub day: Weekday,
    pub free: i32,
}

/// A crèche and how well it fits.
#[derive(Clone, Debug)]
pub struct Match {
    pub creche: Creche,
    pub hours: Option<OpeningHours>,
    /// A place is free on every requested weekday of the window.
    pub free_on_every_day: bool,
    /// The first day from which a window of the same length is free on
    /// every requested weekday: the start itself when `free_on_every_day`;
    /// `None` when none is found within the look-ahead.
    pub free_from: Option<NaiveDate>,
    /// The requested weekdays the crèche does not open.
    pub closed_days: Vec<Weekday>,
    /// The least free places of each requested weekday over the window.
    pub free: Vec<WeekdayFree>,
    /// Its hours cover the family's (`None` when the family gave none).
    pub hours_cover: Option<bool>,
    pub same_postal_code: bool,
    pub same_commune: bool,
}

impl Match {
    /// Most suitable first: free now, the right days and hours, nearest,
    /// soonest, most room.
    fn key(&self) -> impl Ord + use<> {
        let least = self.free.iter().map(|f| f.free).min().unwrap_or(0);
        (
            Reverse(self.free_on_every_day),
            self.closed_days.len(),
            Reverse(self.hours_cover != Some(false)),
            Reverse(self.same_postal_code),
            Reverse(self.same_commune),
            self.free_from.unwrap_or(NaiveDate::MAX),
            Reverse(least),
            self.creche.name.clone(),
        )
    }
}

/// The crèches of the département ranked for the family's week.
/// Prescribers, coordinators and admins.
pub fn matches(
    conn: &mut DbConnection,
    who: &Principal,
    wanted: &Wanted,
    zone: HolidayZone,
) -> Result<Vec<Match>, DomainError> {
    require(who, Action::Read, Resource::Availability)?;
    let rows = creches::rows_in_departement(conn, &wanted.departement)?;
    let ids: Vec<CrecheId> = rows.iter().map(|c| c.id.clone()).collect();
    let window = u64::from(wanted.weeks) * 7;
    let first = Period {
        from: wanted.start,
        to: wanted.start + Days::new(window - 1),
    };
    let horizon = Period {
        from: wanted.start,
        to: wanted.start + Days::new(window + LOOK_AHEAD_DAYS - 1),
    };
    // One read of the calendars, over the whole horizon, for both passes.
    let hours: Vec<(CrecheId, String)> = rows
        .iter()
        .map(|c| (c.id.clone(), c.opening_hours.clone()))
        .collect();
    let calendars = Calendars::with_hours(conn, &ids, &hours, horizon, zone)?;
    let wanted_mask = mask(&wanted.days);
    let in_window = days_with(conn, &ids, first, &[], &calendars)?;
    let mut found: Vec<Match> = rows
        .into_iter()
        .zip(in_window)
        .map(|(creche, days)| fit(creche, &days, wanted, wanted_mask, window as usize))
        .collect();
    // Those with a full day in the window: from when would it be free? Read
    // further for them only.
    let later: Vec<usize> = (0..found.len())
        .filter(|i| !found[*i].free_on_every_day && found[*i].closed_days.is_empty())
        .collect();
    if !later.is_empty() {
        let ids: Vec<CrecheId> = later.iter().map(|i| found[*i].creche.id.clone()).collect();
        let further = days_with(conn, &ids, horizon, &[], &calendars.subset(&later))?;
        let full = full_day(wanted, wanted_mask);
        for (i, days) in later.into_iter().zip(further) {
            found[i].free_from = first_free_window(&days, window as usize, &full);
        }
    }
    found.sort_by_cached_key(Match::key);
    Ok(found)
}

/// Whether `creche` can take the family: a place on every one of its
/// weekdays over the window from its start, open on each, its hours
/// covered when the family gave them. For the service's own matching of
/// freed places (no caller to check).
pub fn fits_at(
    conn: &mut DbConnection,
    creche: Creche,
    wanted: &Wanted,
    zone: HolidayZone,
) -> Result<bool, DomainError> {
    let ids = [creche.id.clone()];
    let window = u64::from(wanted.weeks.max(1)) * 7;
    let period = Period {
        from: wanted.start,
        to: wanted.start + Days::new(window - 1),
    };
    let hours = [(creche.id.clone(), creche.opening_hours.clone())];
    let calendars = Calendars::with_hours(conn, &ids, &hours, period, zone)?;
    let days = days_with(conn, &ids, period, &[], &calendars)?;
    let days = days.into_iter().next().unwrap_or_default();
    let found = fit(creche, &days, wanted, mask(&wanted.days), window as usize);
    Ok(found.free_on_every_day && found.closed_days.is_empty() && found.hours_cover != Some(false))
}

/// A day that has not the places the family needs, on a weekday it asks for.
fn full_day(wanted: &Wanted, wanted_mask: i32) -> impl Fn(&Day) -> bool + '_ {
    move |d: &Day| {
        d.open && wanted_mask & weekday_bit(d.date.weekday()) != 0 && d.free < wanted.places
    }
}

/// How one crèche fits, from its days over the horizon.
fn fit(creche: Creche, days: &[Day], wanted: &Wanted, wanted_mask: i32, window: usize) -> Match {
    let hours = serde_json::from_str::<OpeningHours>(&creche.opening_hours).ok();
    let open = hours.as_ref().map_or(0b1_1111, |h| mask(&h.days));
    let closed_days = weekdays(wanted_mask & !open);
    let full = full_day(wanted, wanted_mask);
    let in_window = &days[..window.min(days.len())];
    let free = weekdays(wanted_mask & open)
        .into_iter()
        .map(|day| WeekdayFree {
            day,
            free: in_window
                .iter()
                .filter(|d| d.open && d.date.weekday() == day.to_chrono())
                .map(|d| d.free)
                .min()
                .unwrap_or(0),
        })
        .collect();
    let free_from = if closed_days.is_empty() {
        first_free_window(days, window, &full)
    } else {
        None
    };
    let hours_cover = wanted.hours.as_ref().map(|(from, to)| {
        hours
            .as_ref()
            .is_some_and(|h| h.opens.as_str() <= from.as_str() && h.closes.as_str() >= to.as_str())
    });
    let same = |a: &Option<String>, b: &str| {
        a.as_deref()
            .is_some_and(|a| a.trim().eq_ignore_ascii_case(b.trim()))
    };
    Match {
        free_on_every_day: free_from == Some(wanted.start),
        free_from,
        closed_days,
        free,
        hours_cover,
        same_postal_code: same(&wanted.postal_code, &creche.postal_code),
        same_commune: same(&wanted.commune, &creche.commune),
        hours,
        creche,
    }
}

/// The first day from which `window` days hold no full day, if the
/// horizon has one.
fn first_free_window(
    days: &[Day],
    window: usize,
    full: impl Fn(&Day) -> bool,
) -> Option<NaiveDate> {
    let mut start = 0;
    for (i, day) in days.iter().enumerate() {
        if i >= start + window {
            break;
        }
        if full(day) {
            start = i + 1;
        }
    }
    (start + window <= days.len()).then(|| days[start].date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(date: NaiveDate, free: i32) -> Day {
        Day {
            date,
            open: true,
            closure: None,
            capacity: 2,
            occupied: 2 - free,
            held: 0,
            free,
        }
    }

    #[test]
    fn a_window_starts_after_the_last_full_day_it_would_hold() {
        let first = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap();
        let days: Vec<Day> = (0..20)
            .map(|i| day(first + Days::new(i), if i == 3 || i == 8 { 0 } else { 1 }))
            .collect();
        let full = |d: &Day| d.free < 1;
        assert_eq!(first_free_window(&days, 3, full), Some(first));
        assert_eq!(
            first_free_window(&days, 5, full),
            Some(first + Days::new(9))
        );
        assert_eq!(first_free_window(&days, 12, full), None, "past the horizon");
    }
}
