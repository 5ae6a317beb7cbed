//! The crèches' AVIP places: the referral's steps seen from them (an offer
//! holds them for `AVIP_OFFER_HOLD`, an enrollment occupies them, and
//! enrolling where no place is free needs a coordinator's reason), their
//! availability day by day, and the dated changes of their number.

use std::time::Duration;

use avip_db::model::{BookingKind, CrecheId, FreedCause, ReferralId, to_db_time};
use avip_db::places::{self, Booking, CapacityChange, Day, Period};
use avip_db::{DbConnection, creches, referrals};
use avip_sla_engine::clock::paris_date;
use avip_sla_engine::policy::HolidayZone;
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};

use super::calendar::Calendars;

use crate::access::{Action, Resource, require};
use crate::auth::Principal;
use crate::domain::{DomainError, Problems};

/// How many days an offer holds its places (`AVIP_OFFER_HOLD`, whole days,
/// rounded up: `36h` holds two days).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfferHold {
    pub days: u32,
}

impl OfferHold {
    pub fn new(duration: Duration) -> OfferHold {
        let days = duration.as_secs().div_ceil(86_400);
        OfferHold {
            days: u32::try_from(days).unwrap_or(u32::MAX),
        }
    }
}

/// The places a referral takes: one per child.
pub fn places_of(conn: &mut DbConnection, referral: &ReferralId) -> Result<i32, DomainError> {
    let children = referrals::child_count(conn, referral)?;
    Ok(i32::try_from(children).unwrap_or(i32::MAX).max(1))
}

/// What an offer needs to know of places: how long it holds them, and
/// the public holidays' zone the crèches' calendars follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    pub hold: OfferHold,
    pub zone: HolidayZone,
}

/// The days an offer made `today` holds: from today, for the hold.
pub fn hold_period(hold: OfferHold, today: NaiveDate) -> Period {
    let end = today
        .checked_add_days(Days::new(u64::from(hold.days.max(1))))
        .unwrap_or(NaiveDate::MAX);
    Period {
        from: today,
        to: end.pred_opt().unwrap_or(today),
    }
}

/// The offer made `today` holds the family's places from today on, on the
/// weekdays it needs (`days`, a mask).
pub fn hold(
    conn: &mut DbConnection,
    referral: &ReferralId,
    creche: &CrecheId,
    (hold, days): (OfferHold, i32),
    today: NaiveDate,
) -> Result<(), DomainError> {
    let places = places_of(conn, referral)?;
    places::book(
        conn,
        &Booking {
            referral_id: referral.clone(),
            kind: BookingKind::Offer,
            creche_id: creche.clone(),
            places,
            starts_on: today,
            ends_before: today
                .checked_add_days(Days::new(u64::from(hold.days)))
                .unwrap_or(NaiveDate::MAX),
            days,
        },
    )?;
    Ok(())
}

/// The offer was answered (taken, declined, withdrawn) today: it stops
/// holding places from today.
pub fn release_offer(
    conn: &mut DbConnection,
    referral: &ReferralId,
    today: NaiveDate,
) -> Result<(), DomainError> {
    places::release(conn, referral, BookingKind::Offer, today)?;
    Ok(())
}

/// The day after `last`, the end of a booking whose last day is `last`.
fn day_after(last: NaiveDate) -> NaiveDate {
    last.succ_opt().unwrap_or(NaiveDate::MAX)
}

/// The enrolled child occupies places from `start` to `last`, both
/// included, on the weekdays of the contract (`days`, a mask).
pub fn occupy(
    conn: &mut DbConnection,
    referral: &ReferralId,
    creche: &CrecheId,
    (places, days): (i32, i32),
    start: NaiveDate,
    last: NaiveDate,
) -> Result<(), DomainError> {
    places::book(
        conn,
        &Booking {
            referral_id: referral.clone(),
            kind: BookingKind::Enrollment,
            creche_id: creche.clone(),
            places,
            starts_on: start,
            ends_before: day_after(last),
            days,
        },
    )?;
    Ok(())
}

/// The enrolled child's last day is now `last` (a renewal, an amendment or
/// an exit): an earlier one frees the place from the day after, and the
/// waiting families are matched to it.
pub fn occupy_until(
    conn: &mut DbConnection,
    referral: &ReferralId,
    last: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let freed = (referral, BookingKind::Enrollment);
    super::freed::booking_freed(conn, freed, day_after(last), FreedCause::Exit, now)?;
    places::set_end(conn, referral, BookingKind::Enrollment, day_after(last))?;
    Ok(())
}

/// From `from` on, the enrolled child comes on `days` (a mask).
pub fn occupy_days(
    conn: &mut DbConnection,
    referral: &ReferralId,
    from: NaiveDate,
    days: i32,
) -> Result<(), DomainError> {
    places::change_days(conn, referral, BookingKind::Enrollment, from, days)?;
    Ok(())
}

/// The crèches' days over the period as their calendars say (a closed day
/// has no place), not counting the bookings of `except`.
pub fn days(
    conn: &mut DbConnection,
    creches: &[CrecheId],
    period: Period,
    except: &[ReferralId],
    zone: HolidayZone,
) -> Result<Vec<Vec<Day>>, avip_db::QueryError> {
    let calendars = Calendars::load(conn, creches, period, zone)?;
    days_with(conn, creches, period, except, &calendars)
}

/// The same, with the crèches' calendars already read (in their order).
pub fn days_with(
    conn: &mut DbConnection,
    creches: &[CrecheId],
    period: Period,
    except: &[ReferralId],
    calendars: &Calendars,
) -> Result<Vec<Vec<Day>>, avip_db::QueryError> {
    let closed = |at: usize, date| calendars.closed(at, date);
    places::availability(conn, creches, period, except, &closed)
}

/// The first open day of `[from, to]`, on one of the weekdays of `days` (a
/// mask), on which the crèche has fewer than `places` free, not counting
/// what `referral` itself takes. Holds the crèche's lock until the
/// transaction ends, so that two enrollments do not both take the last
/// place.
pub fn first_full_day(
    conn: &mut DbConnection,
    (creche, referral): (&CrecheId, &ReferralId),
    (places, days): (i32, i32),
    period: Period,
    zone: HolidayZone,
) -> Result<Option<NaiveDate>, DomainError> {
    places::lock_creche(conn, creche)?;
    let found = self::days(
        conn,
        std::slice::from_ref(creche),
        period,
        std::slice::from_ref(referral),
        zone,
    )?;
    Ok(found
        .into_iter()
        .flatten()
        .find(|d| d.open && days & places::weekday_bit(d.date.weekday()) != 0 && d.free < places)
        .map(|d| d.date))
}

/// The longest period one request may ask for: a year, leap day included.
pub const MAX_DAYS: usize = 366;

/// The most AVIP places a crèche may reserve.
pub const MAX_PLACES: i32 = 500;

/// The period asked for, checked: `to` not before `from`, a year at most;
/// by default a month from `today`.
pub fn period(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<Period, DomainError> {
    let from = from.unwrap_or(today);
    let to = match to {
        Some(to) => to,
        None => from
            .checked_add_months(Months::new(1))
            .and_then(|d| d.pred_opt())
            .unwrap_or(from),
    };
    if to < from {
        return Err(DomainError::parameter("to", "must not be before from"));
    }
    let period = Period { from, to };
    if period.days() > MAX_DAYS {
        return Err(DomainError::parameter(
            "to",
            "the period is longer than a year (366 days at most)",
        ));
    }
    Ok(period)
}

/// One crèche's free places day by day.
pub fn availability(
    conn: &mut DbConnection,
    who: &Principal,
    id: &CrecheId,
    period: Period,
    zone: HolidayZone,
) -> Result<Vec<Day>, DomainError> {
    require(who, Action::Read, Resource::Availability)?;
    creches::get(conn, id, period.from)?;
    let days = days(conn, std::slice::from_ref(id), period, &[], zone)?;
    Ok(days.into_iter().flatten().collect())
}

/// For each weekday, the least free places over the open days of `days`
/// that fall on it; `None` when the crèche is closed on every one of them.
pub fn weekday_summary(days: &[Day]) -> Vec<(crate::domain::Weekday, Option<i32>)> {
    crate::domain::Weekday::ALL
        .into_iter()
        .map(|weekday| {
            let least = days
                .iter()
                .filter(|d| d.open && d.date.weekday() == weekday.to_chrono())
                .map(|d| d.free)
                .min();
            (weekday, least)
        })
        .collect()
}

/// A crèche of a territory and its days.
pub struct CrecheDays {
    pub creche_id: CrecheId,
    pub name: String,
    pub commune: String,
    pub days: Vec<Day>,
}

/// Every crèche of a département (the caller's by default) and its days.
pub fn territory(
    conn: &mut DbConnection,
    who: &Principal,
    departement: &str,
    period: Period,
    zone: HolidayZone,
) -> Result<Vec<CrecheDays>, DomainError> {
    require(who, Action::Read, Resource::Availability)?;
    let names = creches::in_departement(conn, departement)?;
    let ids: Vec<CrecheId> = names.iter().map(|c| c.id.clone()).collect();
    let days = days(conn, &ids, period, &[], zone)?;
    Ok(names
        .into_iter()
        .zip(days)
        .map(|(c, days)| CrecheDays {
            creche_id: c.id,
            name: c.name,
            commune: c.commune,
            days,
        })
        .collect())
}

/// A crèche's AVIP places today and their dated changes, oldest first.
pub struct Capacity {
    pub creche_id: CrecheId,
    pub avip_places: i32,
    pub changes: Vec<CapacityChange>,
}

pub fn capacity(
    conn: &mut DbConnection,
    who: &Principal,
    id: &CrecheId,
    today: NaiveDate,
) -> Result<Capacity, DomainError> {
    require(who, Action::Read, Resource::Capacity(id))?;
    let view = creches::get(conn, id, today)?;
    Ok(Capacity {
        creche_id: id.clone(),
        avip_places: view.avip_places,
        changes: places::capacity_history(conn, id)?,
    })
}

/// A planned change of a crèche's AVIP places.
#[derive(serde::Deserialize, utoipa::ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from": "2027-09-01", "avip_places": 8}))]
pub struct CapacityRequest {
    /// The first day of the new number, today or later (the past stays as it
    /// was recorded). A second change for the same day replaces it.
    pub from: NaiveDate,
    /// 0 to 500.
    pub avip_places: i32,
}

/// The crèche reserves `avip_places` from `from` on; earlier days keep
/// theirs. Answers the history.
pub fn change_capacity(
    conn: &mut DbConnection,
    who: &Principal,
    id: &CrecheId,
    request: CapacityRequest,
    now: DateTime<Utc>,
) -> Result<Capacity, DomainError> {
    require(who, Action::Update, Resource::Capacity(id))?;
    let today = paris_date(now);
    let mut p = Problems::default();
    if let Err(why) = crate::domain::within_years(request.from) {
        p.push("from", why);
    } else if request.from < today {
        p.push(
            "from",
            "is in the past: only today or a later day can change",
        );
    }
    if !(0..=MAX_PLACES).contains(&request.avip_places) {
        p.push("avip_places", format!("must be between 0 and {MAX_PLACES}"));
    }
    p.into_result()?;
    avip_db::write_transaction(conn, |conn| {
        creches::get(conn, id, today)?;
        let before = places::capacities(conn, std::slice::from_ref(id))?
            .get(id)
            .map_or(0, |c| c.on(request.from));
        if request.avip_places > before {
            let key = format!("capacity:{id}:{}:{}", request.from, request.avip_places);
            let freed = (key, FreedCause::Capacity);
            super::freed::creche_freed(conn, id, freed, request.from, now)?;
        }
        places::record_capacity(
            conn,
            &CapacityChange {
                creche_id: id.clone(),
                effective_from: request.from,
                avip_places: request.avip_places,
                recorded_at: to_db_time(now),
                recorded_by: Some(who.subject.to_claim()),
            },
        )?;
        tracing::info!(creche = %id, from = %request.from, places = request.avip_places, "AVIP places changed");
        capacity(conn, who, id, today)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offer_holds_whole_days_rounded_up() {
        let day = 86_400;
        assert_eq!(OfferHold::new(Duration::from_secs(7 * day)).days, 7);
        assert_eq!(OfferHold::new(Duration::from_secs(36 * 3600)).days, 2);
        assert_eq!(OfferHold::new(Duration::ZERO).days, 0);
    }
}
