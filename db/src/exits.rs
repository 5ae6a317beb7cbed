//! Planned exits: an exit dated after today waits here, the child still
//! enrolled, until the engine records it on its day (or the coordinator
//! changes or cancels it). Callers open the transactions.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{ActorKind, ChildcareSolution, EmploymentStatus, ExitReason, ReferralId};
use crate::schema::planned_exits;

/// An exit recorded ahead of its day.
#[derive(Queryable, Selectable, Insertable, AsChangeset, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = planned_exits, treat_none_as_null = true)]
pub struct PlannedExit {
    pub referral_id: ReferralId,
    pub exit_date: NaiveDate,
    pub reason: ExitReason,
    pub employment_status: EmploymentStatus,
    pub positive: bool,
    pub childcare_solution: ChildcareSolution,
    pub note: Option<String>,
    /// Who planned it: the recorded exit's author.
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    pub planned_at: NaiveDateTime,
}

/// Plans the exit, replacing the one planned before; returns the replaced
/// plan.
pub fn plan(conn: &mut DbConnection, exit: &PlannedExit) -> QueryResult<Option<PlannedExit>> {
    let before = of(conn, &exit.referral_id)?;
    if before.is_some() {
        diesel::update(planned_exits::table.find(&exit.referral_id))
            .set(exit)
            .execute(conn)?;
    } else {
        diesel::insert_into(planned_exits::table)
            .values(exit)
            .execute(conn)?;
    }
    Ok(before)
}

pub fn of(conn: &mut DbConnection, referral: &ReferralId) -> QueryResult<Option<PlannedExit>> {
    planned_exits::table
        .find(referral)
        .select(PlannedExit::as_select())
        .first(conn)
        .optional()
}

/// The plans of these referrals (a list's page).
pub fn of_each(conn: &mut DbConnection, ids: &[ReferralId]) -> QueryResult<Vec<PlannedExit>> {
    planned_exits::table
        .filter(planned_exits::referral_id.eq_any(ids))
        .select(PlannedExit::as_select())
        .load(conn)
}

/// Deletes the plan (cancelled, or recorded); whether there was one.
pub fn remove(conn: &mut DbConnection, referral: &ReferralId) -> QueryResult<bool> {
    Ok(diesel::delete(planned_exits::table.find(referral)).execute(conn)? > 0)
}

/// The referrals whose planned exit day has come by `today`, oldest first.
pub fn due(conn: &mut DbConnection, today: NaiveDate, limit: i64) -> QueryResult<Vec<ReferralId>> {
    planned_exits::table
        .filter(planned_exits::exit_date.le(today))
        .order((planned_exits::exit_date, planned_exits::referral_id))
        .select(planned_exits::referral_id)
        .limit(limit)
        .load(conn)
}
