//! The referral's steps seen from the crèche's AVIP places: an offer holds
//! them for `AVIP_OFFER_HOLD`, an enrollment occupies them, and enrolling
//! where no place is free needs a coordinator's reason.

use std::time::Duration;

use avip_db::DbConnection;
use avip_db::model::{BookingKind, CrecheId, ReferralId};
use avip_db::places::{self, Booking, Period};
use avip_db::referrals;
use chrono::{Days, NaiveDate};

use crate::error::{ApiError, Problem};

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
pub fn places_of(conn: &mut DbConnection, referral: &ReferralId) -> Result<i32, ApiError> {
    let children = referrals::child_count(conn, referral)?;
    Ok(i32::try_from(children).unwrap_or(i32::MAX).max(1))
}

/// The offer made `today` holds the family's places from today on.
pub fn hold(
    conn: &mut DbConnection,
    referral: &ReferralId,
    creche: &CrecheId,
    hold: OfferHold,
    today: NaiveDate,
) -> Result<(), ApiError> {
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
) -> Result<(), ApiError> {
    places::release(conn, referral, BookingKind::Offer, today)?;
    Ok(())
}

/// The day after `last`, the end of a booking whose last day is `last`.
fn day_after(last: NaiveDate) -> NaiveDate {
    last.succ_opt().unwrap_or(NaiveDate::MAX)
}

/// The enrolled child occupies places from `start` to `last`, both included.
pub fn occupy(
    conn: &mut DbConnection,
    referral: &ReferralId,
    creche: &CrecheId,
    places: i32,
    start: NaiveDate,
    last: NaiveDate,
) -> Result<(), ApiError> {
    places::book(
        conn,
        &Booking {
            referral_id: referral.clone(),
            kind: BookingKind::Enrollment,
            creche_id: creche.clone(),
            places,
            starts_on: start,
            ends_before: day_after(last),
        },
    )?;
    Ok(())
}

/// The enrolled child's last day is now `last` (a renewal, an amendment or
/// an exit).
pub fn occupy_until(
    conn: &mut DbConnection,
    referral: &ReferralId,
    last: NaiveDate,
) -> Result<(), ApiError> {
    places::set_end(conn, referral, BookingKind::Enrollment, day_after(last))?;
    Ok(())
}

/// The first day of `[from, to]` on which the crèche has fewer than
/// `places` free, not counting what `referral` itself takes. Holds the
/// crèche's lock until the transaction ends, so that two enrollments do
/// not both take the last place.
pub fn first_full_day(
    conn: &mut DbConnection,
    creche: &CrecheId,
    referral: &ReferralId,
    places: i32,
    period: Period,
) -> Result<Option<NaiveDate>, ApiError> {
    places::lock_creche(conn, creche)?;
    let days = places::availability(
        conn,
        std::slice::from_ref(creche),
        period,
        std::slice::from_ref(referral),
    )?;
    Ok(days
        .into_iter()
        .flatten()
        .find(|d| d.free < places)
        .map(|d| d.date))
}

/// 409: no place is free on `day`; forcing it needs a reason.
pub fn no_free_place(day: NaiveDate, places: i32) -> ApiError {
    let needed = if places == 1 {
        "a place".to_owned()
    } else {
        format!("{places} places")
    };
    ApiError::Conflict(
        Problem::new(
            "no_free_place",
            format!(
                "the crèche has no room for {needed} on {day}: every AVIP place is occupied or \
                 held; to enrol the child anyway, send \"force\": true with a \"force_reason\""
            ),
        )
        .with_member("first_full_day", day.to_string()),
    )
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
