//! What needs the coordinators' attention now, as the SLA engine sees it.

use avip_db::DbConnection;
use avip_db::model::{ReferralId, from_db_time, to_db_time};
use avip_sla_engine::Policy;
use avip_sla_engine::attention::{self, AttentionItem, AttentionKind};
use chrono::{DateTime, Utc};

use crate::access::{Action, Resource, creche_scope, require};
use crate::auth::Principal;
use crate::domain::DomainError;

/// Unanswered families past the warning, overdue follow-ups and contracts
/// ending within the notice, most urgent first (a coordinator's crèches;
/// everything for admins); `true` when there are more after `limit`.
pub fn overdue(
    conn: &mut DbConnection,
    who: &Principal,
    policy: &Policy,
    now: DateTime<Utc>,
    after: Option<(DateTime<Utc>, ReferralId, AttentionKind)>,
    limit: usize,
) -> Result<(Vec<AttentionItem>, bool), DomainError> {
    require(who, Action::List, Resource::SlaOverdue)?;
    Ok(attention::needing_attention(
        conn,
        policy,
        creche_scope(who),
        now,
        after,
        limit,
    )?)
}

/// How far ahead the worklist shows the contracts that end: two months,
/// time enough to plan a renewal or the exit, whatever the e-mail notice.
pub const WORKLIST_CONTRACTS_AHEAD: std::time::Duration =
    std::time::Duration::from_secs(60 * 24 * 3600);

/// What the worklist shows besides the unanswered families: overdue
/// follow-ups and the contracts ending within [`WORKLIST_CONTRACTS_AHEAD`]
/// (or the policy's notice, when longer), most urgent first.
pub fn worklist(
    conn: &mut DbConnection,
    who: &Principal,
    policy: &Policy,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<AttentionItem>, DomainError> {
    require(who, Action::List, Resource::SlaOverdue)?;
    let mut ahead = policy.clone();
    ahead.contract_notice = ahead.contract_notice.max(WORKLIST_CONTRACTS_AHEAD);
    let mut items = attention::enrollments_needing_attention(conn, &ahead, creche_scope(who), now)?;
    items.sort_by(|a, b| a.key().cmp(&b.key()));
    items.truncate(limit);
    Ok(items)
}

/// The parent's name of each of these referrals, for the worklist's rows
/// (the referrals are already within what the caller may see).
pub fn families_of(
    conn: &mut DbConnection,
    ids: &[ReferralId],
) -> Result<std::collections::HashMap<ReferralId, String>, DomainError> {
    Ok(avip_db::referrals::family_names(conn, ids)?)
}

/// What the workspace's navigation counts: families still unanswered, overdue
/// follow-ups, contracts ending and decisions to take, as the worklist
/// shows them (the caller's crèches; everything for admins).
pub fn awaiting(
    conn: &mut DbConnection,
    who: &Principal,
    (policy, review): (&Policy, std::time::Duration),
    now: DateTime<Utc>,
) -> Result<usize, DomainError> {
    let unanswered = avip_db::sla::count_unanswered(conn, creche_scope(who))?;
    let others = worklist(conn, who, policy, now, usize::MAX)?.len();
    let decisions = decisions(conn, who, review, now)?.len();
    Ok(usize::try_from(unanswered).unwrap_or(0) + others + decisions)
}

/// Why a referral waits for the coordinator's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionKind {
    /// Its offer's hold ended without an answer: enroll if a place is free,
    /// offer again, waitlist or decline.
    OfferExpired,
    /// Waitlisted a whole period (`AVIP_WAITING_REVIEW`) without a move.
    LongWait,
    /// Its first meeting began and is not noted (held or not honoured).
    MeetingToNote,
    /// The family asked through its link to be called back.
    CallbackAsked,
    /// The family said through its link it no longer needs a place: the
    /// withdrawal to confirm.
    WithdrawalAsked,
}

/// A referral waiting for the coordinator's decision, since when.
#[derive(Clone, Debug)]
pub struct Decision {
    pub kind: DecisionKind,
    pub referral_id: ReferralId,
    pub reference: String,
    pub creche_id: avip_db::model::CrecheId,
    pub status: avip_db::model::ReferralStatus,
    /// The offer's first day without hold, the family's last move, the
    /// meeting's start or the family's answer.
    pub since: DateTime<Utc>,
}

/// The first meetings booked in the next two weeks (the caller's
/// crèches; everything for admins), soonest first, as decisions whose
/// `since` is the meeting's start.
pub fn upcoming_meetings(
    conn: &mut DbConnection,
    who: &Principal,
    now: DateTime<Utc>,
) -> Result<Vec<Decision>, DomainError> {
    require(who, Action::List, Resource::SlaOverdue)?;
    let window = (
        to_db_time(now),
        to_db_time(now + chrono::Duration::days(14)),
    );
    let booked = avip_db::meetings::upcoming(conn, creche_scope(who), window)?;
    Ok(booked
        .into_iter()
        .map(|m| Decision {
            kind: DecisionKind::MeetingToNote,
            referral_id: m.referral_id,
            reference: m.reference,
            creche_id: m.creche_id,
            status: m.status,
            since: from_db_time(m.since),
        })
        .collect())
}

/// The offers that expired without an answer and the families waiting
/// longer than `review` without a move (the caller's crèches; everything
/// for admins), longest waiting first.
pub fn decisions(
    conn: &mut DbConnection,
    who: &Principal,
    review: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<Vec<Decision>, DomainError> {
    require(who, Action::List, Resource::SlaOverdue)?;
    let within = creche_scope(who);
    let today = avip_sla_engine::clock::paris_date(now);
    let expired = avip_db::territory::offers_ending(conn, within, today)?;
    let mut found: Vec<Decision> = (expired.into_iter())
        .map(|o| Decision {
            kind: DecisionKind::OfferExpired,
            status: avip_db::model::ReferralStatus::Offered,
            referral_id: o.referral_id,
            reference: o.reference,
            creche_id: o.creche_id,
            since: avip_sla_engine::clock::paris_midnight(o.ends_before),
        })
        .collect();
    let before = super::territory::before(now, review);
    let waiting = avip_db::territory::still_waiting(conn, within, to_db_time(before))?;
    found.extend(waiting.into_iter().map(|w| Decision {
        kind: DecisionKind::LongWait,
        status: avip_db::model::ReferralStatus::Waitlisted,
        referral_id: w.referral_id,
        reference: w.reference,
        creche_id: w.creche_id,
        since: from_db_time(w.last_move),
    }));
    let meetings = avip_db::meetings::waiting(conn, within, to_db_time(now))?;
    found.extend(meetings.into_iter().map(|m| Decision {
        kind: match m.asked {
            None => DecisionKind::MeetingToNote,
            Some(avip_db::model::MeetingChoice::Withdraw) => DecisionKind::WithdrawalAsked,
            Some(_) => DecisionKind::CallbackAsked,
        },
        referral_id: m.referral_id,
        reference: m.reference,
        creche_id: m.creche_id,
        status: m.status,
        since: from_db_time(m.since),
    }));
    found.sort_by(|a, b| (a.since, &a.referral_id).cmp(&(b.since, &b.referral_id)));
    Ok(found)
}
