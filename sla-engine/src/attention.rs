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
    let item = |kind,
                id: &ReferralId,
                reference: &str,
                creche: &CrecheId,
                received,
                stage,
                due: DateTime<Utc>| AttentionItem {
        kind,
        referral_id: id.clone(),
        reference: reference.to_owned(),
        creche_id: creche.clone(),
        received_at: from_db(received),
        stage,
        due_at: due,
        seconds_left: (due - now).num_seconds(),
    };
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
        Some(item(
            AttentionKind::FirstResponse,
            &c.id,
            &c.reference,
            &c.creche_id,
            c.received_at,
            c.sla_stage,
            due,
        ))
    })
    .collect();
    for e in sla::running_enrollments(conn, within)? {
        let follow_up = timers::follow_up_due(policy, e.start_date, e.last_follow_up);
        if follow_up <= now {
            items.push(item(
                AttentionKind::FollowUp,
                &e.referral_id,
                &e.reference,
                &e.creche_id,
                e.received_at,
                None,
                follow_up,
            ));
        }
        if timers::contract_notice_at(policy, e.contract_end_date) <= now {
            let end = crate::clock::paris_midnight(e.contract_end_date);
            items.push(item(
                AttentionKind::ContractEnd,
                &e.referral_id,
                &e.reference,
                &e.creche_id,
                e.received_at,
                None,
                end,
            ));
        }
    }
    if let Some((t, id, kind)) = &after {
        items.retain(|i| i.key() > (*t, id, *kind));
    }
    items.sort_by(|a, b| a.key().cmp(&b.key()));
    let more = items.len() > limit;
    items.truncate(limit);
    Ok((items, more))
}
