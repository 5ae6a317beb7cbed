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

/// The parent's name of each of these items' referrals, for the worklist's
/// rows (the items are already within what `who` may see).
pub fn families_of(
    conn: &mut DbConnection,
    items: &[AttentionItem],
) -> Result<std::collections::HashMap<ReferralId, String>, DomainError> {
    let ids: Vec<ReferralId> = items.iter().map(|i| i.referral_id.clone()).collect();
    Ok(avip_db::referrals::family_names(conn, &ids)?)
}

/// What the workspace's navigation counts: families still unanswered, overdue
/// follow-ups and contracts ending, as the worklist shows them (the
/// caller's crèches; everything for admins).
pub fn awaiting(
    conn: &mut DbConnection,
    who: &Principal,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<usize, DomainError> {
    let unanswered = avip_db::sla::count_unanswered(conn, creche_scope(who))?;
    let others = worklist(conn, who, policy, now, usize::MAX)?.len();
    Ok(usize::try_from(unanswered).unwrap_or(0) + others)
}
