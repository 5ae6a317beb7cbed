//! What needs the coordinators' attention now, as the SLA engine sees it.

use avip_db::DbConnection;
use avip_db::model::ReferralId;
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

/// What the workspace's navigation counts: families still unanswered, overdue
/// follow-ups and contracts ending (the caller's crèches; everything for
/// admins).
pub fn awaiting(
    conn: &mut DbConnection,
    who: &Principal,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<usize, DomainError> {
    let unanswered = avip_db::sla::count_unanswered(conn, creche_scope(who))?;
    let (items, _) = overdue(conn, who, policy, now, None, 1000)?;
    let others = items
        .iter()
        .filter(|i| i.kind != AttentionKind::FirstResponse)
        .count();
    Ok(usize::try_from(unanswered).unwrap_or(0) + others)
}
