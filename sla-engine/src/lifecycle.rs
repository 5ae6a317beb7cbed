//! What the workflow tells the engine, and what the engine answers: each
//! step of a referral's life that starts, moves or stops a clock calls one
//! of these functions in its own transaction, and the `sla` status clients
//! see is computed here. Nothing outside this crate (and `avip_db`'s
//! queries) computes a deadline or writes a timer.

use avip_db::model::{ReferralId, ReferralStatus, SlaStage, from_db_time, to_db_time};
use avip_db::referrals::{FirstResponseClock, Referral};
use avip_db::{DbConnection, QueryResult, sla};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::policy::{ActivePolicy, ClockKind, Policy};
use crate::timers;

/// A referral is received at `received`: its first-response clock starts
/// under the policy in force.
pub fn on_intake(active: &ActivePolicy, received: DateTime<Utc>) -> FirstResponseClock {
    FirstResponseClock {
        due_at: Some(to_db_time(timers::due_at(&active.policy, received))),
        stage: None,
        policy_version: Some(active.version),
        next_at: timers::next_at(&active.policy, received, None).map(to_db_time),
    }
}

/// A referral moves from `from`: whether its first-response clock stops
/// (answered, or closed before any answer). The deadline and the stage
/// reached stay as they were, to tell whether it was met.
pub fn on_move(from: ReferralStatus) -> bool {
    from == ReferralStatus::Received
}

/// The child is enrolled: the follow-up and contract-end notices start.
pub fn on_enrollment(
    conn: &mut DbConnection,
    policy: &Policy,
    id: &ReferralId,
    start: NaiveDate,
    contract_end: NaiveDate,
) -> QueryResult<()> {
    let follow_up = timers::follow_up_due(policy, start, None);
    let notice = timers::contract_notice_at(policy, contract_end);
    sla::set_enrollment_timers(
        conn,
        id,
        Some(to_db_time(follow_up)),
        Some(to_db_time(notice)),
    )
}

/// The contract now ends on `contract_end`: the notice moves with it.
pub fn on_contract_change(
    conn: &mut DbConnection,
    policy: &Policy,
    id: &ReferralId,
    contract_end: NaiveDate,
) -> QueryResult<()> {
    let notice = timers::contract_notice_at(policy, contract_end);
    sla::set_contract_notice(conn, id, Some(to_db_time(notice)))
}

/// A follow-up was recorded for an enrolled child (whose enrollment started
/// on `start`): the next one is due a full gap after the latest.
pub fn on_follow_up(
    conn: &mut DbConnection,
    policy: &Policy,
    id: &ReferralId,
    start: NaiveDate,
) -> QueryResult<()> {
    let last = sla::last_follow_up(conn, id)?;
    let due = timers::follow_up_due(policy, start, last);
    sla::set_follow_up_notice(conn, id, Some(to_db_time(due)))
}

/// The child has left: no follow-up or contract notice any more.
pub fn on_exit(conn: &mut DbConnection, id: &ReferralId) -> QueryResult<()> {
    sla::set_enrollment_timers(conn, id, None, None)
}

/// Where a referral stands against its first-response deadline, as clients
/// see it (the `sla` block of a referral).
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct SlaStatus {
    pub clock: ClockKind,
    /// The policy version the deadline was computed under.
    pub policy_version: Option<i32>,
    pub due_at: Option<DateTime<Utc>>,
    /// The last stage reached: `warning`, `breach`, `escalation`.
    pub stage: Option<SlaStage>,
    /// Answered by the deadline; `None` while open, or when the referral
    /// was withdrawn unanswered.
    pub met: Option<bool>,
    /// Seconds until the deadline (negative: past it) while unanswered.
    pub seconds_left: Option<i64>,
}

pub fn status(referral: &Referral, policy: &Policy, now: DateTime<Utc>) -> SlaStatus {
    let due = referral.sla.due_at.map(from_db_time);
    let answered = referral.first_response_at.map(from_db_time);
    let (met, seconds_left) = match (due, answered, referral.status) {
        (Some(due), Some(at), _) => (Some(at <= due), None),
        (_, None, ReferralStatus::Withdrawn) => (None, None),
        (Some(due), None, _) => (
            (now > due).then_some(false),
            Some((due - now).num_seconds()),
        ),
        (None, _, _) => (None, None),
    };
    SlaStatus {
        clock: policy.clock,
        policy_version: referral.sla.policy_version,
        due_at: due,
        stage: referral.sla.stage,
        met,
        seconds_left,
    }
}
