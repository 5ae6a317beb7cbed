//! The parent's situation 3 and 6 months after the exit: when each is due,
//! asked, reminded and answered. Every change is a compare-and-set on the
//! row as it was, so two engines ask once. Callers open the transactions.

use chrono::{Months, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{OutcomeAt, OutcomeSituation, ReferralId};
use crate::schema::exit_outcomes as eo;

#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = eo)]
pub struct Outcome {
    pub referral_id: ReferralId,
    pub at: OutcomeAt,
    pub due_on: NaiveDate,
    pub requested_at: Option<NaiveDateTime>,
    pub reminded_at: Option<NaiveDateTime>,
    pub answered_at: Option<NaiveDateTime>,
    pub situation: Option<OutcomeSituation>,
    /// `link` (the referent's page) or `api`.
    pub answered_via: Option<String>,
}

/// When `at` falls after an exit on `exit_date`.
pub fn due_on(exit_date: NaiveDate, at: OutcomeAt) -> NaiveDate {
    let months = match at {
        OutcomeAt::ThreeMonths => 3,
        OutcomeAt::SixMonths => 6,
    };
    exit_date
        .checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// The exit was recorded (or its date corrected) on `exit_date`: both
/// requests are due from it; one already sent keeps its day.
pub fn schedule(
    conn: &mut DbConnection,
    referral: &ReferralId,
    exit_date: NaiveDate,
) -> QueryResult<()> {
    for at in OutcomeAt::ALL {
        let due = due_on(exit_date, *at);
        let moved = diesel::update(
            eo::table
                .filter(eo::referral_id.eq(referral))
                .filter(eo::at.eq(at))
                .filter(eo::requested_at.is_null()),
        )
        .set(eo::due_on.eq(due))
        .execute(conn)?;
        if moved == 0 && get(conn, referral, *at)?.is_none() {
            diesel::insert_into(eo::table)
                .values(&Outcome {
                    referral_id: referral.clone(),
                    at: *at,
                    due_on: due,
                    requested_at: None,
                    reminded_at: None,
                    answered_at: None,
                    situation: None,
                    answered_via: None,
                })
                .execute(conn)?;
        }
    }
    Ok(())
}

pub fn get(
    conn: &mut DbConnection,
    referral: &ReferralId,
    at: OutcomeAt,
) -> QueryResult<Option<Outcome>> {
    eo::table
        .find((referral, at))
        .select(Outcome::as_select())
        .first(conn)
        .optional()
}

pub fn of_referral(conn: &mut DbConnection, referral: &ReferralId) -> QueryResult<Vec<Outcome>> {
    eo::table
        .filter(eo::referral_id.eq(referral))
        .order(eo::due_on)
        .select(Outcome::as_select())
        .load(conn)
}

/// The requests due by `today` and not sent.
pub fn due_requests(
    conn: &mut DbConnection,
    today: NaiveDate,
    limit: i64,
) -> QueryResult<Vec<(ReferralId, OutcomeAt)>> {
    eo::table
        .filter(eo::requested_at.is_null())
        .filter(eo::due_on.le(today))
        .order((eo::due_on, eo::referral_id))
        .select((eo::referral_id, eo::at))
        .limit(limit)
        .load(conn)
}

/// The requests sent by `sent_by`, unanswered and not reminded.
pub fn due_reminders(
    conn: &mut DbConnection,
    sent_by: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<(ReferralId, OutcomeAt)>> {
    eo::table
        .filter(eo::answered_at.is_null())
        .filter(eo::reminded_at.is_null())
        .filter(eo::requested_at.le(sent_by))
        .order((eo::requested_at, eo::referral_id))
        .select((eo::referral_id, eo::at))
        .limit(limit)
        .load(conn)
}

/// Marks the request sent; `false` when another engine did first.
pub fn mark_requested(
    conn: &mut DbConnection,
    referral: &ReferralId,
    at: OutcomeAt,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let marked = diesel::update(
        eo::table
            .find((referral, at))
            .filter(eo::requested_at.is_null()),
    )
    .set(eo::requested_at.eq(now))
    .execute(conn)?;
    crate::tallies::changed(conn, referral)?;
    Ok(marked == 1)
}

/// Marks the reminder sent; `false` when answered or reminded meanwhile.
pub fn mark_reminded(
    conn: &mut DbConnection,
    referral: &ReferralId,
    at: OutcomeAt,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    Ok(diesel::update(
        eo::table
            .find((referral, at))
            .filter(eo::reminded_at.is_null())
            .filter(eo::answered_at.is_null()),
    )
    .set(eo::reminded_at.eq(now))
    .execute(conn)?
        == 1)
}

/// Records the answer; `false` when it was answered already.
pub fn answer(
    conn: &mut DbConnection,
    referral: &ReferralId,
    at: OutcomeAt,
    situation: OutcomeSituation,
    via: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let answered = diesel::update(
        eo::table
            .find((referral, at))
            .filter(eo::answered_at.is_null()),
    )
    .set((
        eo::answered_at.eq(now),
        eo::situation.eq(situation),
        eo::answered_via.eq(via),
    ))
    .execute(conn)?;
    crate::tallies::changed(conn, referral)?;
    Ok(answered == 1)
}
