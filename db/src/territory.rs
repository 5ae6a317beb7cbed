//! The territory's scheduled work (issue 34, points 3 to 5): offers whose
//! hold ends, families waiting without a move, and the places freed that
//! wait to be matched to them; the marks that make each of these happen
//! once.

use std::collections::HashSet;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{
    ActorKind, BookingKind, CrecheId, EventKind, FreedCause, ReferralId, ReferralStatus,
};
use crate::schema::{freed_places, job_marks, place_bookings, referral_events, referrals};

/// Takes `key` for good: `true` for the first caller, `false` for every
/// later one (another engine, a restart).
pub fn take_mark(conn: &mut DbConnection, key: &str, at: NaiveDateTime) -> QueryResult<bool> {
    let row = (job_marks::key.eq(key), job_marks::done_at.eq(at));
    let inserted = match conn {
        DbConnection::Pg(c) => diesel::insert_into(job_marks::table)
            .values(row)
            .on_conflict(job_marks::key)
            .do_nothing()
            .execute(c)?,
        DbConnection::Sqlite(c) => diesel::insert_into(job_marks::table)
            .values(row)
            .on_conflict(job_marks::key)
            .do_nothing()
            .execute(c)?,
    };
    Ok(inserted == 1)
}

/// Which of `keys` are taken already.
pub fn marks_taken(conn: &mut DbConnection, keys: &[String]) -> QueryResult<HashSet<String>> {
    let mut taken = HashSet::new();
    for chunk in keys.chunks(500) {
        let rows: Vec<String> = job_marks::table
            .filter(job_marks::key.eq_any(chunk))
            .select(job_marks::key)
            .load(conn)?;
        taken.extend(rows);
    }
    Ok(taken)
}

/// An open offer and the first day its hold no longer covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferEnd {
    pub referral_id: ReferralId,
    pub reference: String,
    pub creche_id: CrecheId,
    /// The first day the offer no longer holds places.
    pub ends_before: NaiveDate,
}

/// The referrals still `offered` whose hold ends on or before `until`,
/// within these crèches (`None`: everywhere), soonest first.
pub fn offers_ending(
    conn: &mut DbConnection,
    within: Option<&[CrecheId]>,
    until: NaiveDate,
) -> QueryResult<Vec<OfferEnd>> {
    let mut query = referrals::table
        .inner_join(place_bookings::table.on(place_bookings::referral_id.eq(referrals::id)))
        .filter(referrals::status.eq(ReferralStatus::Offered))
        .filter(place_bookings::kind.eq(BookingKind::Offer))
        .group_by((referrals::id, referrals::reference, referrals::creche_id))
        .select((
            referrals::id,
            referrals::reference,
            referrals::creche_id,
            diesel::dsl::max(place_bookings::ends_before),
        ))
        .into_boxed();
    if let Some(within) = within {
        query = query.filter(referrals::creche_id.eq_any(within.to_vec()));
    }
    let rows: Vec<(ReferralId, String, CrecheId, Option<NaiveDate>)> = query.load(conn)?;
    let mut ends: Vec<OfferEnd> = rows
        .into_iter()
        .filter_map(|(referral_id, reference, creche_id, end)| {
            Some(OfferEnd {
                referral_id,
                reference,
                creche_id,
                ends_before: end.filter(|e| *e <= until)?,
            })
        })
        .collect();
    ends.sort_by(|a, b| (a.ends_before, &a.referral_id).cmp(&(b.ends_before, &b.referral_id)));
    Ok(ends)
}

/// A waitlisted family and the last time a person moved its referral.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StillWaiting {
    pub referral_id: ReferralId,
    pub reference: String,
    pub creche_id: CrecheId,
    pub last_move: NaiveDateTime,
}

/// What counts as a move: a decision, a transfer, a note, the referral
/// itself, by a person or a partner's system (not the service's own
/// reminders).
const MOVES: [EventKind; 4] = [
    EventKind::Created,
    EventKind::Transition,
    EventKind::Transferred,
    EventKind::Note,
];

/// The waitlisted referrals that nobody moved since `before`, within these
/// crèches (`None`: everywhere), longest waiting first.
pub fn still_waiting(
    conn: &mut DbConnection,
    within: Option<&[CrecheId]>,
    before: NaiveDateTime,
) -> QueryResult<Vec<StillWaiting>> {
    let mut query = referrals::table
        .inner_join(referral_events::table)
        .filter(referrals::status.eq(ReferralStatus::Waitlisted))
        .filter(referral_events::kind.eq_any(MOVES))
        .filter(referral_events::actor_kind.ne(ActorKind::System))
        .group_by((referrals::id, referrals::reference, referrals::creche_id))
        .select((
            referrals::id,
            referrals::reference,
            referrals::creche_id,
            diesel::dsl::max(referral_events::occurred_at),
        ))
        .into_boxed();
    if let Some(within) = within {
        query = query.filter(referrals::creche_id.eq_any(within.to_vec()));
    }
    let rows: Vec<(ReferralId, String, CrecheId, Option<NaiveDateTime>)> = query.load(conn)?;
    let mut waiting: Vec<StillWaiting> = rows
        .into_iter()
        .filter_map(|(referral_id, reference, creche_id, at)| {
            Some(StillWaiting {
                referral_id,
                reference,
                creche_id,
                last_move: at.filter(|at| *at <= before)?,
            })
        })
        .collect();
    waiting.sort_by(|a, b| (a.last_move, &a.referral_id).cmp(&(b.last_move, &b.referral_id)));
    Ok(waiting)
}

/// A place that became free, waiting to be matched.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = freed_places)]
pub struct FreedPlace {
    /// One per booking released (`enrollment:{referral}:{day}`, …).
    pub key: String,
    pub creche_id: CrecheId,
    /// The weekdays it is free on, as a mask.
    pub days: i32,
    pub free_from: NaiveDate,
    pub cause: FreedCause,
    pub recorded_at: NaiveDateTime,
    pub matched_at: Option<NaiveDateTime>,
}

/// Records a freed place once per key; `true` when it is new.
pub fn record_freed(conn: &mut DbConnection, place: &FreedPlace) -> QueryResult<bool> {
    let inserted = match conn {
        DbConnection::Pg(c) => diesel::insert_into(freed_places::table)
            .values(place)
            .on_conflict(freed_places::key)
            .do_nothing()
            .execute(c)?,
        DbConnection::Sqlite(c) => diesel::insert_into(freed_places::table)
            .values(place)
            .on_conflict(freed_places::key)
            .do_nothing()
            .execute(c)?,
    };
    Ok(inserted == 1)
}

/// Records that the referral's booking of `kind` frees its places from
/// `from`, or from its end when it ends before (its crèche and the days of
/// its last segment), keyed by the booking and that day, so the same
/// release told twice (an exit and the contract's end) is one; nothing
/// when it has no booking. `true` when it is new.
pub fn record_booking_freed(
    conn: &mut DbConnection,
    (referral, kind): (&ReferralId, BookingKind),
    from: NaiveDate,
    cause: FreedCause,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let last: Option<(CrecheId, i32, NaiveDate)> = place_bookings::table
        .filter(place_bookings::referral_id.eq(referral))
        .filter(place_bookings::kind.eq(kind))
        .order(place_bookings::starts_on.desc())
        .select((
            place_bookings::creche_id,
            place_bookings::days,
            place_bookings::ends_before,
        ))
        .first(conn)
        .optional()?;
    let Some((creche_id, days, ends_before)) = last else {
        return Ok(false);
    };
    let from = from.min(ends_before);
    record_freed(
        conn,
        &FreedPlace {
            key: format!("{}:{referral}:{from}", kind.as_str()),
            creche_id,
            days,
            free_from: from,
            cause,
            recorded_at: at,
            matched_at: None,
        },
    )
}

/// The freed places not matched yet, oldest first.
pub fn freed_waiting(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<FreedPlace>> {
    freed_places::table
        .filter(freed_places::matched_at.is_null())
        .order((freed_places::recorded_at, freed_places::key))
        .limit(limit)
        .select(FreedPlace::as_select())
        .load(conn)
}

/// Marks a freed place matched; `false` when another run did first.
pub fn mark_matched(conn: &mut DbConnection, key: &str, at: NaiveDateTime) -> QueryResult<bool> {
    let n = diesel::update(
        freed_places::table
            .filter(freed_places::key.eq(key))
            .filter(freed_places::matched_at.is_null()),
    )
    .set(freed_places::matched_at.eq(at))
    .execute(conn)?;
    Ok(n == 1)
}
