//! What needs a coordinator's attention now, most urgent first: unanswered
//! referrals past their warning, overdue follow-ups, contracts about to end.

use chrono::{DateTime, Utc};
use serde::Serialize;

use avip_db::model::{CrecheId, ReferralId, SlaStage};
use avip_db::sla;
use avip_db::{DbConnection, QueryError};

use crate::policy::Policy;
use crate::timers::{self, from_db, to_db};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionKind {
    FirstResponse,
    FollowUp,
    ContractEnd,
}

#[derive(Clone, Debug, Serialize)]
pub struct AttentionItem {
    pub kind: AttentionKind,
    pub referral_id: ReferralId,
    pub reference: String,
    pub creche_id: CrecheId,
    pub received_at: DateTime<Utc>,
    /// The first-response stage reached (first responses only).
    pub stage: Option<SlaStage>,
    /// The first-response deadline, the day the follow-up was due, or the
    /// contract's end.
    pub due_at: DateTime<Utc>,
    /// Seconds until `due_at`; negative once it has passed.
    pub seconds_left: i64,
}

impl AttentionItem {
    /// The order of the list: by `due_at`, then referral, then kind.
    pub fn key(&self) -> (DateTime<Utc>, &ReferralId, AttentionKind) {
        (self.due_at, &self.referral_id, self.kind)
    }
}

impl AttentionItem {
    fn new(
        (kind, due_at, now): (AttentionKind, DateTime<Utc>, DateTime<Utc>),
        id: &ReferralId,
        reference: &str,
        creche: &CrecheId,
        received: chrono::NaiveDateTime,
        stage: Option<SlaStage>,
    ) -> AttentionItem {
        AttentionItem {
            kind,
            referral_id: id.clone(),
            reference: reference.to_owned(),
            creche_id: creche.clone(),
            received_at: from_db(received),
            stage,
            due_at,
            seconds_left: (due_at - now).num_seconds(),
        }
    }
}

/// The overdue follow-ups and the contracts within their notice, within a
/// coordinator's crèches (`None`: everywhere), in no order: what the
/// worklist and the navigation's count read besides the first responses.
pub fn enrollments_needing_attention(
    conn: &mut DbConnection,
    policy: &Policy,
    within: Option<&[CrecheId]>,
    now: DateTime<Utc>,
) -> Result<Vec<AttentionItem>, QueryError> {
    let mut items = Vec::new();
    for e in sla::running_enrollments(conn, within)? {
        let mut push = |kind, due| {
            items.push(AttentionItem::new(
                (kind, due, now),
                &e.referral_id,
                &e.reference,
                &e.creche_id,
                e.received_at,
                None,
            ))
        };
        let follow_up = timers::follow_up_due(policy, e.start_date, e.last_follow_up);
        if follow_up <= now {
            push(AttentionKind::FollowUp, follow_up);
        }
        if timers::contract_notice_at(policy, e.contract_end_date) <= now {
            push(
                AttentionKind::ContractEnd,
                crate::clock::paris_midnight(e.contract_end_date),
            );
        }
    }
    Ok(items)
}

/// Up to `limit` items after `after` (a previous item's key), most urgent
/// first, within a coordinator's crèches (`None`: everywhere). The second
/// value says whether more follow.
pub fn needing_attention(
    conn: &mut DbConnection,
    policy: &Policy,
    within: Option<&[CrecheId]>,
    now: DateTime<Utc>,
    after: Option<(DateTime<Utc>, ReferralId, AttentionKind)>,
    limit: usize,
) -> Result<(Vec<AttentionItem>, bool), QueryError> {
    let since = after.as_ref().map(|(t, _, _)| to_db(*t));
    let mut items: Vec<AttentionItem> = sla::first_responses_needing_attention(
        conn,
        within,
        to_db(now),
        since,
        i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(2),
    )?
    .into_iter()
    .filter_map(|c| {
        let due = from_db(c.sla_due_at?);
        Some(AttentionItem::new(
            (AttentionKind::FirstResponse, due, now),
            &c.id,
            &c.reference,
            &c.creche_id,
            c.received_at,
            c.sla_stage,
        ))
    })
    .collect();
    items.extend(enrollments_needing_attention(conn, policy, within, now)?);
    if let Some((t, id, kind)) = &after {
        items.retain(|i| i.key() > (*t, id, *kind));
    }
    items.sort_by(|a, b| a.key().cmp(&b.key()));
    let more = items.len() > limit;
    items.truncate(limit);
    Ok((items, more))
}
