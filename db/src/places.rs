//! AVIP places: each crèche's capacity over time, the places that offers
//! hold and enrollments occupy, and the availability per day derived from
//! them. Availability is read from the days the places taken change (the
//! bookings' first and last days, kept by the database in `place_steps`), so
//! its cost follows the days and the crèches asked for, not how many
//! enrollments are stored.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{BookingKind, CrecheId, ReferralId};
use crate::schema::{creche_capacity, creches, place_bookings, place_steps};

/// From `effective_from` on, the crèche reserves `avip_places` AVIP places.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = creche_capacity)]
pub struct CapacityChange {
    pub creche_id: CrecheId,
    pub effective_from: NaiveDate,
    pub avip_places: i32,
    pub recorded_at: NaiveDateTime,
    /// The subject claim of who recorded it (`user:…`, `client:…`), or
    /// `None` for the command line and migrated data.
    pub recorded_by: Option<String>,
}

/// Records a capacity change; a second change for the same day replaces
/// that day's value (a correction of the plan), never another day's.
pub fn record_capacity(conn: &mut DbConnection, change: &CapacityChange) -> QueryResult<()> {
    use creche_capacity as cc;
    let set = (
        cc::avip_places.eq(change.avip_places),
        cc::recorded_at.eq(change.recorded_at),
        cc::recorded_by.eq(change.recorded_by.clone()),
    );
    match conn {
        DbConnection::Pg(c) => diesel::insert_into(cc::table)
            .values(change)
            .on_conflict((cc::creche_id, cc::effective_from))
            .do_update()
            .set(set)
            .execute(c),
        DbConnection::Sqlite(c) => diesel::insert_into(cc::table)
            .values(change)
            .on_conflict((cc::creche_id, cc::effective_from))
            .do_update()
            .set(set)
            .execute(c),
    }
    .map(drop)
}

/// A crèche's capacity changes, oldest first.
pub fn capacity_history(
    conn: &mut DbConnection,
    creche: &CrecheId,
) -> QueryResult<Vec<CapacityChange>> {
    creche_capacity::table
        .filter(creche_capacity::creche_id.eq(creche))
        .order(creche_capacity::effective_from)
        .select(CapacityChange::as_select())
        .load(conn)
}

/// A crèche's places day by day, from its changes (sorted by date).
#[derive(Clone, Debug, Default)]
pub struct Capacity(Vec<(NaiveDate, i32)>);

impl Capacity {
    pub fn new(mut changes: Vec<(NaiveDate, i32)>) -> Capacity {
        changes.sort();
        Capacity(changes)
    }

    /// The places on `day`: the latest change on or before it; before the
    /// first change, the first change's places (what the crèche declared
    /// when it was registered also stands for the days before); 0 without
    /// any change.
    pub fn on(&self, day: NaiveDate) -> i32 {
        let after = self.0.partition_point(|(from, _)| *from <= day);
        match after {
            0 => self.0.first().map_or(0, |c| c.1),
            n => self.0[n - 1].1,
        }
    }
}

/// The capacities of these crèches (every change: a handful per crèche).
pub fn capacities(
    conn: &mut DbConnection,
    creches: &[CrecheId],
) -> QueryResult<HashMap<CrecheId, Capacity>> {
    let rows: Vec<(CrecheId, NaiveDate, i32)> = creche_capacity::table
        .filter(creche_capacity::creche_id.eq_any(creches.to_vec()))
        .select((
            creche_capacity::creche_id,
            creche_capacity::effective_from,
            creche_capacity::avip_places,
        ))
        .load(conn)?;
    let mut by_creche: HashMap<CrecheId, Vec<(NaiveDate, i32)>> = HashMap::new();
    for (creche, from, places) in rows {
        by_creche.entry(creche).or_default().push((from, places));
    }
    Ok(by_creche
        .into_iter()
        .map(|(creche, changes)| (creche, Capacity::new(changes)))
        .collect())
}

/// The places a referral takes at its crèche over `[starts_on, ends_before)`.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = place_bookings)]
pub struct Booking {
    pub referral_id: ReferralId,
    pub kind: BookingKind,
    pub creche_id: CrecheId,
    pub places: i32,
    pub starts_on: NaiveDate,
    /// The first day it no longer takes them.
    pub ends_before: NaiveDate,
    /// The weekdays it takes them on, as a mask (see [`weekday_bit`]).
    pub days: i32,
}

/// Every day of the week, as a mask.
pub const EVERY_DAY: i32 = 127;

/// A weekday's bit in a mask: Monday 1, Tuesday 2, … Sunday 64.
pub fn weekday_bit(day: chrono::Weekday) -> i32 {
    1 << day.num_days_from_monday()
}

/// Stores a booking, replacing the referral's booking of the same kind
/// (every segment of it).
pub fn book(conn: &mut DbConnection, booking: &Booking) -> QueryResult<()> {
    diesel::delete(
        place_bookings::table
            .filter(place_bookings::referral_id.eq(&booking.referral_id))
            .filter(place_bookings::kind.eq(booking.kind)),
    )
    .execute(conn)?;
    diesel::insert_into(place_bookings::table)
        .values(booking)
        .execute(conn)
        .map(drop)
}

/// The segments of the referral's booking of this kind, oldest first.
fn segments(
    conn: &mut DbConnection,
    referral: &ReferralId,
    kind: BookingKind,
) -> QueryResult<Vec<Booking>> {
    place_bookings::table
        .filter(place_bookings::referral_id.eq(referral))
        .filter(place_bookings::kind.eq(kind))
        .order(place_bookings::starts_on)
        .select(Booking::as_select())
        .load(conn)
}

/// The first day the referral's booking of this kind no longer takes
/// places (its last segment's end), if it has one.
pub fn booking_end(
    conn: &mut DbConnection,
    referral: &ReferralId,
    kind: BookingKind,
) -> QueryResult<Option<NaiveDate>> {
    place_bookings::table
        .filter(place_bookings::referral_id.eq(referral))
        .filter(place_bookings::kind.eq(kind))
        .select(diesel::dsl::max(place_bookings::ends_before))
        .first(conn)
}

/// Sets when the referral's booking of this kind stops taking places: the
/// segments starting on or after that day go (but the first), the last
/// one left ends then.
pub fn set_end(
    conn: &mut DbConnection,
    referral: &ReferralId,
    kind: BookingKind,
    ends_before: NaiveDate,
) -> QueryResult<usize> {
    use place_bookings as pb;
    let segments = segments(conn, referral, kind)?;
    let Some(first) = segments.first() else {
        return Ok(0);
    };
    diesel::delete(
        pb::table
            .filter(pb::referral_id.eq(referral))
            .filter(pb::kind.eq(kind))
            .filter(pb::starts_on.gt(first.starts_on))
            .filter(pb::starts_on.ge(ends_before)),
    )
    .execute(conn)?;
    let last = segments
        .iter()
        .rev()
        .find(|s| s.starts_on == first.starts_on || s.starts_on < ends_before)
        .unwrap_or(first);
    diesel::update(
        pb::table
            .filter(pb::referral_id.eq(referral))
            .filter(pb::kind.eq(kind))
            .filter(pb::starts_on.eq(last.starts_on)),
    )
    .set(pb::ends_before.eq(ends_before))
    .execute(conn)
}

/// From `from` on, the referral's booking of this kind takes its places on
/// `days` (a change of the contract's days): the segment running that day
/// ends the day before and a new one starts; later segments take the new
/// days too.
pub fn change_days(
    conn: &mut DbConnection,
    referral: &ReferralId,
    kind: BookingKind,
    from: NaiveDate,
    days: i32,
) -> QueryResult<()> {
    use place_bookings as pb;
    let keyed = |start: NaiveDate| {
        pb::table
            .filter(pb::referral_id.eq(referral.clone()))
            .filter(pb::kind.eq(kind))
            .filter(pb::starts_on.eq(start))
    };
    for segment in segments(conn, referral, kind)? {
        if segment.starts_on >= from {
            diesel::update(keyed(segment.starts_on))
                .set(pb::days.eq(days))
                .execute(conn)?;
        } else if segment.ends_before > from && segment.days != days {
            diesel::update(keyed(segment.starts_on))
                .set(pb::ends_before.eq(from))
                .execute(conn)?;
            let next = Booking {
                starts_on: from,
                days,
                ..segment
            };
            diesel::insert_into(pb::table).values(&next).execute(conn)?;
        }
    }
    Ok(())
}

/// Ends the referral's booking of this kind on `day` if it would still
/// run then (an offer answered before it expired).
pub fn release(
    conn: &mut DbConnection,
    referral: &ReferralId,
    kind: BookingKind,
    day: NaiveDate,
) -> QueryResult<usize> {
    diesel::update(
        place_bookings::table
            .filter(place_bookings::referral_id.eq(referral))
            .filter(place_bookings::kind.eq(kind))
            .filter(place_bookings::ends_before.gt(day)),
    )
    .set(place_bookings::ends_before.eq(day))
    .execute(conn)
}

/// One day of a crèche's AVIP places.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(example = json!({"date": "2027-01-04", "open": true,
    "capacity": 6, "occupied": 2, "held": 1, "free": 3}))]
pub struct Day {
    pub date: NaiveDate,
    /// `false` on a day the crèche is closed (its weekly days off, a public
    /// holiday, a closure it recorded): no place is free then.
    pub open: bool,
    /// Why it is closed (`"Noël"`, `"Fermeture estivale"`, `"Fermé le
    /// samedi"`); absent on an open day.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub closure: Option<String>,
    /// The AVIP places the crèche reserves that day (0 when it is closed).
    pub capacity: i32,
    /// Places taken by enrolled children whose contract names this
    /// weekday (0 when it is closed).
    pub occupied: i32,
    /// Places held by offers not yet answered nor expired, on the weekdays
    /// the family needs (0 when it is closed).
    pub held: i32,
    /// `capacity − occupied − held`, never below 0.
    pub free: i32,
}

/// A period of days, both ends included, `from <= to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    pub fn days(self) -> usize {
        usize::try_from((self.to - self.from).num_days() + 1).unwrap_or(0)
    }

    fn index(self, day: NaiveDate) -> usize {
        usize::try_from((day - self.from).num_days()).unwrap_or(0)
    }
}

/// Per crèche, kind and weekday, how the places taken change from day to
/// day: `[kind][weekday][day index]`.
struct Deltas {
    len: usize,
    by_creche: HashMap<CrecheId, [[Vec<i64>; 7]; 2]>,
}

impl Deltas {
    fn new(period: Period) -> Deltas {
        Deltas {
            len: period.days(),
            by_creche: HashMap::new(),
        }
    }

    fn series(&mut self, creche: CrecheId) -> &mut [[Vec<i64>; 7]; 2] {
        let len = self.len;
        self.by_creche
            .entry(creche)
            .or_insert_with(|| std::array::from_fn(|_| std::array::from_fn(|_| vec![0; len + 1])))
    }

    /// A stored step: every weekday and kind changes at `index`.
    fn add_step(&mut self, creche: CrecheId, index: usize, step: Step) {
        for (series, changes) in self.series(creche).iter_mut().zip(step) {
            for (series, change) in series.iter_mut().zip(changes) {
                if let Some(slot) = series.get_mut(index) {
                    *slot += change;
                }
            }
        }
    }

    fn add(
        &mut self,
        creche: CrecheId,
        (kind, days): (BookingKind, i32),
        index: usize,
        places: i64,
    ) {
        let k = usize::from(kind == BookingKind::Enrollment);
        for (weekday, series) in self.series(creche)[k].iter_mut().enumerate() {
            if days & (1 << weekday) != 0
                && let Some(slot) = series.get_mut(index)
            {
                *slot += places;
            }
        }
    }
}

/// Why the crèche at this index of the list asked for is closed on a day
/// (`None`: open), as its calendar says.
pub type Closed<'a> = &'a dyn Fn(usize, NaiveDate) -> Option<String>;

/// Day-by-day capacity, occupied, held and free places of each crèche over
/// the period, in the order of `creches`. A booking takes its places on
/// its weekdays only; on a day `closed` names, the crèche has no capacity
/// and nothing is taken. `except`: bookings of these referrals do not
/// count (a referral checking room for itself).
///
/// The places taken change only on the days the bookings start and end:
/// without `except`, they are read from those changes as the database keeps
/// them (`place_steps`, written by triggers with every booking), one sum per
/// crèche for what came before the period and the steps of its days; with
/// `except`, from the bookings themselves ([`availability_by_bookings`]).
pub fn availability(
    conn: &mut DbConnection,
    creches: &[CrecheId],
    period: Period,
    except: &[ReferralId],
    closed: Closed<'_>,
) -> QueryResult<Vec<Vec<Day>>> {
    if !except.is_empty() {
        return availability_by_bookings(conn, creches, period, except, closed);
    }
    let deltas = steps(conn, creches, period)?;
    days_from(conn, creches, period, &deltas, closed)
}

/// The same as [`availability`], from every booking that meets the period
/// (what the steps are checked against, and the way a referral checking
/// room for itself leaves its own bookings out).
pub fn availability_by_bookings(
    conn: &mut DbConnection,
    creches: &[CrecheId],
    period: Period,
    except: &[ReferralId],
    closed: Closed<'_>,
) -> QueryResult<Vec<Vec<Day>>> {
    let deltas = booking_deltas(conn, creches, period, except)?;
    days_from(conn, creches, period, &deltas, closed)
}

fn days_from(
    conn: &mut DbConnection,
    creches: &[CrecheId],
    period: Period,
    deltas: &Deltas,
    closed: Closed<'_>,
) -> QueryResult<Vec<Vec<Day>>> {
    let capacities = capacities(conn, creches)?;
    Ok(creches
        .iter()
        .enumerate()
        .map(|(at, creche)| days_of((at, creche), deltas, &capacities, period, closed))
        .collect())
}

/// One step row's changes, `[kind][weekday]` (kind 0: held by offers, 1:
/// occupied by enrollments).
type Step = [[i64; 7]; 2];

fn step_of(values: [i64; 14]) -> Step {
    let mut step = [[0; 7]; 2];
    for (i, v) in values.into_iter().enumerate() {
        step[i / 7][i % 7] = v;
    }
    step
}

/// One day's stored steps at a crèche.
#[derive(Queryable, Selectable)]
#[diesel(table_name = place_steps)]
struct StepRow {
    creche_id: CrecheId,
    day: NaiveDate,
    held_mon: i32,
    held_tue: i32,
    held_wed: i32,
    held_thu: i32,
    held_fri: i32,
    held_sat: i32,
    held_sun: i32,
    occupied_mon: i32,
    occupied_tue: i32,
    occupied_wed: i32,
    occupied_thu: i32,
    occupied_fri: i32,
    occupied_sat: i32,
    occupied_sun: i32,
}

impl StepRow {
    fn step(&self) -> Step {
        step_of(
            [
                self.held_mon,
                self.held_tue,
                self.held_wed,
                self.held_thu,
                self.held_fri,
                self.held_sat,
                self.held_sun,
                self.occupied_mon,
                self.occupied_tue,
                self.occupied_wed,
                self.occupied_thu,
                self.occupied_fri,
                self.occupied_sat,
                self.occupied_sun,
            ]
            .map(i64::from),
        )
    }
}

/// The changes of the places taken at these crèches over the period, from
/// the stored steps: those up to its first day summed by the database (what
/// is taken on that day), then each of its days' own.
fn steps(conn: &mut DbConnection, creches: &[CrecheId], period: Period) -> QueryResult<Deltas> {
    use place_steps as ps;
    let mut deltas = Deltas::new(period);
    for (creche, step) in steps_before(conn, creches, period.from)? {
        deltas.add_step(creche, 0, step);
    }
    let within: Vec<StepRow> = ps::table
        .filter(ps::creche_id.eq_any(creches.to_vec()))
        .filter(ps::day.gt(period.from))
        .filter(ps::day.le(period.to))
        .select(StepRow::as_select())
        .load(conn)?;
    for row in within {
        let step = row.step();
        deltas.add_step(row.creche_id, period.index(row.day), step);
    }
    Ok(deltas)
}

/// Each crèche's steps up to `day`, summed by the database: the places taken
/// on that day.
fn steps_before(
    conn: &mut DbConnection,
    creches: &[CrecheId],
    day: NaiveDate,
) -> QueryResult<Vec<(CrecheId, Step)>> {
    use diesel::dsl::sum;
    use place_steps as ps;
    type Week = (
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let rows: Vec<(CrecheId, Week, Week)> = ps::table
        .filter(ps::creche_id.eq_any(creches.to_vec()))
        .filter(ps::day.le(day))
        .group_by(ps::creche_id)
        .select((
            ps::creche_id,
            (
                sum(ps::held_mon),
                sum(ps::held_tue),
                sum(ps::held_wed),
                sum(ps::held_thu),
                sum(ps::held_fri),
                sum(ps::held_sat),
                sum(ps::held_sun),
            ),
            (
                sum(ps::occupied_mon),
                sum(ps::occupied_tue),
                sum(ps::occupied_wed),
                sum(ps::occupied_thu),
                sum(ps::occupied_fri),
                sum(ps::occupied_sat),
                sum(ps::occupied_sun),
            ),
        ))
        .load(conn)?;
    let week = |(a, b, c, d, e, f, g): Week| [a, b, c, d, e, f, g].map(Option::unwrap_or_default);
    Ok(rows
        .into_iter()
        .map(|(creche, held, occupied)| (creche, [week(held), week(occupied)]))
        .collect())
}

/// The changes of the places taken, from the bookings that meet the period
/// (one pass; an index holds every column read): each adds its places from
/// its first day (or the period's) and takes them away on the day after its
/// last, when that is in the period.
fn booking_deltas(
    conn: &mut DbConnection,
    creches: &[CrecheId],
    period: Period,
    except: &[ReferralId],
) -> QueryResult<Deltas> {
    use place_bookings as pb;
    let ids = creches.to_vec();
    let except = except.to_vec();
    let (from, to) = (period.from, period.to);
    let mut deltas = Deltas::new(period);
    type Read = (CrecheId, BookingKind, i32, NaiveDate, NaiveDate, i32);
    let bookings: Vec<Read> = pb::table
        .filter(pb::creche_id.eq_any(ids))
        .filter(pb::ends_before.gt(from))
        .filter(pb::starts_on.le(to))
        .filter(pb::ends_before.gt(pb::starts_on))
        .filter(pb::referral_id.ne_all(except))
        .select((
            pb::creche_id,
            pb::kind,
            pb::days,
            pb::starts_on,
            pb::ends_before,
            pb::places,
        ))
        .load(conn)?;
    for (creche, kind, days, starts_on, ends_before, places) in bookings {
        let places = i64::from(places);
        let start = if starts_on <= from {
            0
        } else {
            period.index(starts_on)
        };
        if ends_before <= to {
            deltas.add(
                creche.clone(),
                (kind, days),
                period.index(ends_before),
                -places,
            );
        }
        deltas.add(creche, (kind, days), start, places);
    }
    Ok(deltas)
}

/// One crèche's days: the running sums of its deltas for each day's
/// weekday, against its capacity and its calendar.
fn days_of(
    (at, creche): (usize, &CrecheId),
    deltas: &Deltas,
    capacities: &HashMap<CrecheId, Capacity>,
    period: Period,
    closed: Closed<'_>,
) -> Vec<Day> {
    let empty = Capacity::default();
    let capacity = capacities.get(creche).unwrap_or(&empty);
    let series = deltas.by_creche.get(creche);
    // Running sums per kind and weekday: every weekday's sum moves every
    // day, since a booking may start or end on any day of the week.
    let mut taken = [[0i64; 7]; 2];
    (0..period.days())
        .map(|i| {
            let date = period.from + chrono::Days::new(i as u64);
            if let Some(series) = series {
                for (k, kind) in series.iter().enumerate() {
                    for (w, deltas) in kind.iter().enumerate() {
                        taken[k][w] += deltas[i];
                    }
                }
            }
            let weekday = date.weekday().num_days_from_monday() as usize;
            let closure = closed(at, date);
            if closure.is_some() {
                return Day {
                    date,
                    open: false,
                    closure,
                    capacity: 0,
                    occupied: 0,
                    held: 0,
                    free: 0,
                };
            }
            let capacity = capacity.on(date);
            let held = i32::try_from(taken[0][weekday]).unwrap_or(i32::MAX);
            let occupied = i32::try_from(taken[1][weekday]).unwrap_or(i32::MAX);
            Day {
                date,
                open: true,
                closure: None,
                capacity,
                occupied,
                held,
                free: capacity
                    .saturating_sub(occupied)
                    .saturating_sub(held)
                    .max(0),
            }
        })
        .collect()
}

/// Occupied and available place-days of `days` (Σ occupied, Σ capacity):
/// what the exports' occupancy rate divides.
pub fn place_days<'a>(days: impl IntoIterator<Item = &'a Day>) -> (i64, i64) {
    days.into_iter().fold((0, 0), |(occupied, available), d| {
        (
            occupied + i64::from(d.occupied),
            available + i64::from(d.capacity),
        )
    })
}

/// Takes the crèche's row lock for the rest of the transaction (PostgreSQL;
/// SQLite's write transaction already holds the database), so that two
/// enrollments checking the same crèche's room run one after the other.
pub fn lock_creche(conn: &mut DbConnection, creche: &CrecheId) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(c) => creches::table
            .filter(creches::id.eq(creche))
            .select(creches::id)
            .for_update()
            .load::<CrecheId>(c)
            .map(drop),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn capacity_is_the_latest_change_on_or_before_the_day() {
        let c = Capacity::new(vec![(d("2027-09-01"), 8), (d("2026-11-01"), 6)]);
        assert_eq!(c.on(d("2026-01-01")), 6, "before the first change");
        assert_eq!(c.on(d("2026-11-01")), 6);
        assert_eq!(c.on(d("2027-08-31")), 6);
        assert_eq!(c.on(d("2027-09-01")), 8);
        assert_eq!(c.on(d("2030-01-01")), 8);
        assert_eq!(Capacity::default().on(d("2027-01-01")), 0);
    }

    #[test]
    fn a_period_counts_both_ends_and_leap_days() {
        let p = Period {
            from: d("2028-02-27"),
            to: d("2028-03-01"),
        };
        assert_eq!(p.days(), 4);
        assert_eq!(p.index(d("2028-02-29")), 2);
    }
}
