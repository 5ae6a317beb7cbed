//! What the SLA engine reads and writes: policy versions, the timers on
//! referrals and enrollments, and who is told at each crèche. Every query
//! that finds due work reads one index on the timer column, so a sweep costs
//! what is due, not what is stored. Callers open the transactions.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{CrecheId, OrganizationId, ReferralId, ReferralStatus, Role, SlaStage};
use crate::schema::{
    creche_coordinators, creches, referral_enrollments, referral_follow_ups, referrals,
    sla_policies, users,
};

/// One version of the policy, as it was in force.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = sla_policies)]
pub struct PolicyVersion {
    pub version: i32,
    /// A digest of the policy's settings: equal digests, equal policies.
    pub fingerprint: String,
    /// The policy as JSON, for the record.
    pub policy: String,
    pub activated_at: NaiveDateTime,
}

pub fn latest_policy(conn: &mut DbConnection) -> QueryResult<Option<PolicyVersion>> {
    sla_policies::table
        .order(sla_policies::version.desc())
        .select(PolicyVersion::as_select())
        .first(conn)
        .optional()
}

pub fn insert_policy(conn: &mut DbConnection, version: &PolicyVersion) -> QueryResult<()> {
    diesel::insert_into(sla_policies::table)
        .values(version)
        .execute(conn)
        .map(drop)
}

/// A referral whose first-response clock runs.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = referrals)]
pub struct OpenClock {
    pub id: ReferralId,
    pub reference: String,
    pub creche_id: CrecheId,
    pub received_at: NaiveDateTime,
    pub sla_due_at: Option<NaiveDateTime>,
    pub sla_stage: Option<SlaStage>,
    pub sla_next_at: Option<NaiveDateTime>,
    /// Who sent the referral: told of a breach.
    pub referent_email: String,
    /// The referent's organisation (its default, for a referent without
    /// an account).
    pub prescriber_organization_id: OrganizationId,
}

/// Clocks whose next stage is due at `at`, most overdue first, after the
/// `(next_at, id)` of the previous batch.
pub fn first_responses_due(
    conn: &mut DbConnection,
    at: NaiveDateTime,
    after: Option<&(NaiveDateTime, ReferralId)>,
    limit: i64,
) -> QueryResult<Vec<OpenClock>> {
    let mut query = referrals::table
        .filter(referrals::sla_next_at.le(at))
        .order((referrals::sla_next_at, referrals::id))
        .select(OpenClock::as_select())
        .limit(limit)
        .into_boxed();
    if let Some((next_at, id)) = after {
        query = query.filter(
            referrals::sla_next_at
                .gt(*next_at)
                .or(referrals::sla_next_at
                    .eq(*next_at)
                    .and(referrals::id.gt(id.clone()))),
        );
    }
    query.load(conn)
}

/// Every running clock after `after` (by id), for recomputing deadlines when
/// the policy changes.
pub fn open_clocks(
    conn: &mut DbConnection,
    after: Option<&ReferralId>,
    limit: i64,
) -> QueryResult<Vec<OpenClock>> {
    let mut query = referrals::table
        .filter(referrals::sla_next_at.is_not_null())
        .order(referrals::id)
        .select(OpenClock::as_select())
        .limit(limit)
        .into_boxed();
    if let Some(id) = after {
        query = query.filter(referrals::id.gt(id.clone()));
    }
    query.load(conn)
}

/// Records that `stage` was reached, only if the clock still stands where
/// the sweep read it (`expected_next_at`, still unanswered): of two engines,
/// or of an engine and a coordinator answering, exactly one wins.
pub fn record_stage(
    conn: &mut DbConnection,
    id: &ReferralId,
    expected_next_at: NaiveDateTime,
    stage: SlaStage,
    next_at: Option<NaiveDateTime>,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    let target = referrals::table
        .filter(referrals::id.eq(id))
        .filter(referrals::status.eq(ReferralStatus::Received))
        .filter(referrals::sla_next_at.eq(expected_next_at));
    let updated = diesel::update(target)
        .set((
            referrals::sla_stage.eq(stage),
            referrals::sla_next_at.eq(next_at),
            referrals::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Moves a clock's next stage, if it is still where it was read.
pub fn move_clock(
    conn: &mut DbConnection,
    id: &ReferralId,
    expected_next_at: NaiveDateTime,
    next_at: Option<NaiveDateTime>,
) -> QueryResult<bool> {
    let target = referrals::table
        .filter(referrals::id.eq(id))
        .filter(referrals::sla_next_at.eq(expected_next_at));
    let updated = diesel::update(target)
        .set(referrals::sla_next_at.eq(next_at))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Moves a running clock to a new policy version.
pub fn reschedule(
    conn: &mut DbConnection,
    id: &ReferralId,
    due_at: Option<NaiveDateTime>,
    next_at: Option<NaiveDateTime>,
    version: i32,
) -> QueryResult<()> {
    diesel::update(
        referrals::table
            .filter(referrals::id.eq(id))
            .filter(referrals::sla_next_at.is_not_null()),
    )
    .set((
        referrals::sla_due_at.eq(due_at),
        referrals::sla_next_at.eq(next_at),
        referrals::sla_policy_version.eq(version),
    ))
    .execute(conn)
    .map(drop)
}

/// Which enrollment timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnrollmentTimer {
    FollowUp,
    ContractNotice,
}

/// An enrollment whose timer is due.
#[derive(Clone, Debug)]
pub struct EnrollmentDue {
    pub referral_id: ReferralId,
    pub reference: String,
    pub creche_id: CrecheId,
    pub received_at: NaiveDateTime,
    pub start_date: NaiveDate,
    pub contract_end_date: NaiveDate,
    /// The timer's instant, as read (the compare-and-set value).
    pub due_at: NaiveDateTime,
}

type EnrollmentRow = (
    ReferralId,
    String,
    CrecheId,
    NaiveDateTime,
    NaiveDate,
    NaiveDate,
    Option<NaiveDateTime>,
);

/// Enrollments whose timer is due at `at`, oldest first, after the previous
/// batch's `(due_at, id)`.
pub fn enrollments_due(
    conn: &mut DbConnection,
    timer: EnrollmentTimer,
    at: NaiveDateTime,
    after: Option<&(NaiveDateTime, ReferralId)>,
    limit: i64,
) -> QueryResult<Vec<EnrollmentDue>> {
    // The two timers differ only in their column.
    macro_rules! due_by {
        ($column:expr) => {{
            let column = $column;
            let mut query = referral_enrollments::table
                .inner_join(referrals::table)
                .select((
                    referrals::id,
                    referrals::reference,
                    referrals::creche_id,
                    referrals::received_at,
                    referral_enrollments::start_date,
                    referral_enrollments::contract_end_date,
                    column,
                ))
                .filter(column.le(at))
                .order((column, referral_enrollments::referral_id))
                .limit(limit)
                .into_boxed();
            if let Some((t, id)) = after {
                query = query.filter(
                    column.gt(*t).or(column
                        .eq(*t)
                        .and(referral_enrollments::referral_id.gt(id.clone()))),
                );
            }
            query.load::<EnrollmentRow>(conn)?
        }};
    }
    let rows = match timer {
        EnrollmentTimer::FollowUp => due_by!(referral_enrollments::follow_up_notice_at),
        EnrollmentTimer::ContractNotice => due_by!(referral_enrollments::contract_notice_at),
    };
    Ok(rows
        .into_iter()
        .filter_map(|(id, reference, creche_id, received_at, start, end, due)| {
            Some(EnrollmentDue {
                referral_id: id,
                reference,
                creche_id,
                received_at,
                start_date: start,
                contract_end_date: end,
                due_at: due?,
            })
        })
        .collect())
}

/// Clears a timer that fired, only if it still holds the instant the sweep
/// read (a follow-up recorded meanwhile has moved it).
pub fn clear_enrollment_timer(
    conn: &mut DbConnection,
    timer: EnrollmentTimer,
    id: &ReferralId,
    expected: NaiveDateTime,
) -> QueryResult<bool> {
    let target = referral_enrollments::table.filter(referral_enrollments::referral_id.eq(id));
    let updated = match timer {
        EnrollmentTimer::FollowUp => {
            diesel::update(target.filter(referral_enrollments::follow_up_notice_at.eq(expected)))
                .set(referral_enrollments::follow_up_notice_at.eq(None::<NaiveDateTime>))
                .execute(conn)?
        }
        EnrollmentTimer::ContractNotice => {
            diesel::update(target.filter(referral_enrollments::contract_notice_at.eq(expected)))
                .set(referral_enrollments::contract_notice_at.eq(None::<NaiveDateTime>))
                .execute(conn)?
        }
    };
    Ok(updated == 1)
}

/// Sets both enrollment timers (`None` stops one).
pub fn set_enrollment_timers(
    conn: &mut DbConnection,
    id: &ReferralId,
    follow_up_notice_at: Option<NaiveDateTime>,
    contract_notice_at: Option<NaiveDateTime>,
) -> QueryResult<()> {
    diesel::update(referral_enrollments::table.find(id))
        .set((
            referral_enrollments::follow_up_notice_at.eq(follow_up_notice_at),
            referral_enrollments::contract_notice_at.eq(contract_notice_at),
        ))
        .execute(conn)
        .map(drop)
}

/// The date of the latest follow-up of a referral.
pub fn last_follow_up(conn: &mut DbConnection, id: &ReferralId) -> QueryResult<Option<NaiveDate>> {
    referral_follow_ups::table
        .filter(referral_follow_ups::referral_id.eq(id))
        .select(diesel::dsl::max(referral_follow_ups::date))
        .first(conn)
}

/// Who hears about a crèche's referrals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrecheContacts {
    pub name: String,
    pub escalation_email: Option<String>,
    /// The active coordinators' addresses, sorted.
    pub coordinators: Vec<String>,
}

/// The contacts of each crèche in `ids`.
pub fn creche_contacts(
    conn: &mut DbConnection,
    ids: &[CrecheId],
) -> QueryResult<HashMap<CrecheId, CrecheContacts>> {
    let mut contacts: HashMap<CrecheId, CrecheContacts> = creches::table
        .filter(creches::id.eq_any(ids))
        .select((creches::id, creches::name, creches::escalation_email))
        .load::<(CrecheId, String, Option<String>)>(conn)?
        .into_iter()
        .map(|(id, name, escalation_email)| {
            (
                id,
                CrecheContacts {
                    name,
                    escalation_email,
                    coordinators: Vec::new(),
                },
            )
        })
        .collect();
    let coordinators: Vec<(CrecheId, String)> = creche_coordinators::table
        .inner_join(users::table)
        .filter(creche_coordinators::creche_id.eq_any(ids))
        .filter(users::active.eq(true))
        .filter(users::role.eq(Role::Coordinator))
        .select((creche_coordinators::creche_id, users::email))
        .order(users::email)
        .load(conn)?;
    for (creche, email) in coordinators {
        if let Some(c) = contacts.get_mut(&creche) {
            c.coordinators.push(email);
        }
    }
    Ok(contacts)
}

/// Unanswered referrals past their warning (stage reached, or a stage due
/// that the next sweep will record), by deadline.
pub fn first_responses_needing_attention(
    conn: &mut DbConnection,
    within: Option<&[CrecheId]>,
    now: NaiveDateTime,
    due_since: Option<NaiveDateTime>,
    limit: i64,
) -> QueryResult<Vec<OpenClock>> {
    let mut query = referrals::table
        .filter(referrals::status.eq(ReferralStatus::Received))
        .filter(
            referrals::sla_stage
                .is_not_null()
                .or(referrals::sla_next_at.le(now)),
        )
        .filter(referrals::sla_due_at.is_not_null())
        .order((referrals::sla_due_at, referrals::id))
        .select(OpenClock::as_select())
        .limit(limit)
        .into_boxed();
    if let Some(ids) = within {
        query = query.filter(referrals::creche_id.eq_any(ids.to_vec()));
    }
    if let Some(t) = due_since {
        query = query.filter(referrals::sla_due_at.ge(t));
    }
    query.load(conn)
}

/// Arms (or with `None` stops) the follow-up timer only.
pub fn set_follow_up_notice(
    conn: &mut DbConnection,
    id: &ReferralId,
    at: Option<NaiveDateTime>,
) -> QueryResult<()> {
    diesel::update(referral_enrollments::table.find(id))
        .set(referral_enrollments::follow_up_notice_at.eq(at))
        .execute(conn)
        .map(drop)
}

/// Arms (or with `None` stops) the contract-end notice only.
pub fn set_contract_notice(
    conn: &mut DbConnection,
    id: &ReferralId,
    at: Option<NaiveDateTime>,
) -> QueryResult<()> {
    diesel::update(referral_enrollments::table.find(id))
        .set(referral_enrollments::contract_notice_at.eq(at))
        .execute(conn)
        .map(drop)
}

/// An enrollment without an exit, with what its timers are computed from.
#[derive(Clone, Debug)]
pub struct RunningEnrollment {
    pub referral_id: ReferralId,
    pub reference: String,
    pub creche_id: CrecheId,
    pub received_at: NaiveDateTime,
    pub start_date: NaiveDate,
    pub contract_end_date: NaiveDate,
    pub last_follow_up: Option<NaiveDate>,
    pub follow_up_notice_at: Option<NaiveDateTime>,
    pub contract_notice_at: Option<NaiveDateTime>,
}

/// Every enrollment without an exit within a scope (`None`: everywhere).
pub fn running_enrollments(
    conn: &mut DbConnection,
    within: Option<&[CrecheId]>,
) -> QueryResult<Vec<RunningEnrollment>> {
    let mut query = referral_enrollments::table
        .inner_join(referrals::table)
        .filter(referral_enrollments::exit_date.is_null())
        .filter(referrals::status.eq(ReferralStatus::Enrolled))
        .select((
            referrals::id,
            referrals::reference,
            referrals::creche_id,
            referrals::received_at,
            referral_enrollments::start_date,
            referral_enrollments::contract_end_date,
            referral_enrollments::follow_up_notice_at,
            referral_enrollments::contract_notice_at,
        ))
        .into_boxed();
    if let Some(ids) = within {
        query = query.filter(referrals::creche_id.eq_any(ids.to_vec()));
    }
    type Row = (
        ReferralId,
        String,
        CrecheId,
        NaiveDateTime,
        NaiveDate,
        NaiveDate,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
    );
    let rows: Vec<Row> = query.load(conn)?;
    let mut latest = latest_follow_ups(conn, within)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, reference, creche_id, received_at, start, end, follow, notice)| {
                RunningEnrollment {
                    follow_up_notice_at: follow,
                    contract_notice_at: notice,
                    last_follow_up: latest.remove(&id),
                    referral_id: id,
                    reference,
                    creche_id,
                    received_at,
                    start_date: start,
                    contract_end_date: end,
                }
            },
        )
        .collect())
}

/// The latest follow-up of each enrolled referral within a scope, in one
/// grouped read (one read per enrollment cost the worklist a round trip
/// each on PostgreSQL: BENCHMARKS.md, session 21).
fn latest_follow_ups(
    conn: &mut DbConnection,
    within: Option<&[CrecheId]>,
) -> QueryResult<HashMap<ReferralId, NaiveDate>> {
    let mut query = referral_follow_ups::table
        .inner_join(referrals::table)
        .filter(referrals::status.eq(ReferralStatus::Enrolled))
        .group_by(referral_follow_ups::referral_id)
        .select((
            referral_follow_ups::referral_id,
            diesel::dsl::max(referral_follow_ups::date),
        ))
        .into_boxed();
    if let Some(ids) = within {
        query = query.filter(referrals::creche_id.eq_any(ids.to_vec()));
    }
    let rows: Vec<(ReferralId, Option<NaiveDate>)> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, date)| Some((id, date?)))
        .collect())
}

/// How many referrals await their first response (within these crèches;
/// `None`: everywhere).
pub fn count_unanswered(conn: &mut DbConnection, within: Option<&[CrecheId]>) -> QueryResult<i64> {
    let mut query = referrals::table
        .filter(referrals::status.eq(ReferralStatus::Received))
        .count()
        .into_boxed();
    if let Some(ids) = within {
        query = query.filter(referrals::creche_id.eq_any(ids.to_vec()));
    }
    query.get_result(conn)
}

/// How many unanswered referrals are past their deadline (breached or
/// escalated).
pub fn open_breaches(conn: &mut DbConnection) -> QueryResult<i64> {
    referrals::table
        .filter(referrals::status.eq(ReferralStatus::Received))
        .filter(referrals::sla_stage.eq_any([SlaStage::Breach, SlaStage::Escalation]))
        .count()
        .get_result(conn)
}
