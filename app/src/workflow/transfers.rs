//! A referral handed to another crèche of its département (issue 34): by
//! the crèche holding it, or by the prescriber who sent it, when the
//! family's days, hours or place of life are better served elsewhere. The
//! family, its children, needs, follow-ups, history and reference go with
//! it; the first-response clock runs on (a transfer is not an answer to
//! the family); the crèche it leaves no longer sees it.

use avip_db::model::{
    CrecheId, EventKind, ReferralId, ReferralStatus, TransferReason, WebhookEvent,
};
use avip_db::referrals::{self, CrecheChange};
use avip_db::{DbConnection, creches, webhooks};
use avip_sla_engine::clock::paris_date;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::{Action, Resource, require};
use crate::auth::Principal;
use crate::domain::DomainError;
use crate::domain::referral::{TransferDraft, TransferRequest};
use crate::workflow::notices::{self, Arrival, News};
use crate::workflow::referrals::{event, load_for, refuse_a_second_claim};

/// The statuses a referral may be transferred in: it waits for an answer
/// or a place, and holds none.
pub const OPEN: [ReferralStatus; 3] = [
    ReferralStatus::Received,
    ReferralStatus::Contacted,
    ReferralStatus::Waitlisted,
];

/// What a transfer did.
#[derive(Serialize, ToSchema, Clone, Debug)]
#[schema(example = json!({"referral_id": "0193a5f2-7c4e-7d1a-9b2c-000000000001",
    "reference": "AVIP-2026-000042", "status": "received",
    "from_creche_id": "0193a5f2-7c4e-7d1a-9b2c-000000000003",
    "to_creche_id": "0193a5f2-7c4e-7d1a-9b2c-000000000004",
    "reason": "no_place_on_days", "note": null,
    "transferred_at": "2026-12-07T09:30:00Z", "sla_due_at": "2026-12-10T08:00:00Z"}))]
pub struct Transfer {
    #[schema(value_type = String, format = Uuid)]
    pub referral_id: ReferralId,
    pub reference: String,
    /// Unchanged by the transfer.
    pub status: ReferralStatus,
    #[schema(value_type = String, format = Uuid)]
    pub from_creche_id: CrecheId,
    #[schema(value_type = String, format = Uuid)]
    pub to_creche_id: CrecheId,
    pub reason: TransferReason,
    pub note: Option<String>,
    pub transferred_at: DateTime<Utc>,
    /// The first-response deadline, unchanged (none once the family was
    /// answered).
    pub sla_due_at: Option<DateTime<Utc>>,
}

/// Hands `id` to the crèche of the request, in one transaction: the
/// crèche changes with the claims on the children, a `transferred` event
/// records from and to, the new crèche's coordinators and the referent
/// are told, a `referral.transferred` webhook is queued.
pub fn transfer(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    request: TransferRequest,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<Transfer, DomainError> {
    require(who, Action::Read, Resource::Referral(None))?;
    let draft = TransferDraft::parse(request)?;
    avip_db::write_transaction(conn, |conn| {
        let referral = load_for(conn, who, id, Action::Transfer)?;
        if !OPEN.contains(&referral.status) {
            return Err(not_open(referral.status));
        }
        let (from, to) = creches_of(conn, &referral.creche_id, &draft.creche_id, now)?;
        let keys = referrals::claimed_keys(conn, id)?;
        refuse_a_second_claim(conn, who, &draft.creche_id, &keys)?;
        let at = avip_db::model::to_db_time(now);
        let change = CrecheChange {
            from: &referral.creche_id,
            to: &draft.creche_id,
            open: &OPEN,
            at,
        };
        if !referrals::change_creche(conn, id, &change)? {
            let status = referrals::get_referral(conn, id)?.status;
            return Err(not_open(status));
        }
        let mut ev = event(who, id, EventKind::Transferred, now);
        ev.reason = Some(draft.reason.as_str().to_owned());
        ev.note = draft.note.clone();
        ev.data = Some(
            serde_json::json!({
                "from_creche_id": referral.creche_id, "from_creche": from.creche.name,
                "to_creche_id": draft.creche_id, "to_creche": to.creche.name,
            })
            .to_string(),
        );
        referrals::insert_event(conn, &ev)?;
        webhooks::enqueue(conn, id, WebhookEvent::Transferred, at)?;
        let moved = referrals::get_referral(conn, id)?;
        let arrival = Arrival::Transfer {
            from: &from.creche.name,
            reason: draft.reason,
            event: &ev.id,
        };
        notices::tell_coordinators_of_arrival(conn, &moved, &arrival, public_url, now)?;
        let news = News::Transferred {
            from: &from.creche.name,
            reason: draft.reason,
            status: moved.status,
            event: &ev.id,
        };
        notices::tell_referent(conn, &moved, &news, public_url, now)?;
        tracing::info!(referral = %id, from = %referral.creche_id, to = %draft.creche_id,
            "referral transferred");
        Ok(Transfer {
            referral_id: id.clone(),
            reference: moved.reference.clone(),
            status: moved.status,
            from_creche_id: referral.creche_id.clone(),
            to_creche_id: draft.creche_id.clone(),
            reason: draft.reason,
            note: draft.note.clone(),
            transferred_at: avip_db::model::from_db_time(at),
            sla_due_at: moved
                .first_response_at
                .is_none()
                .then_some(moved.sla.due_at)
                .flatten()
                .map(|t| t.and_utc()),
        })
    })
}

/// `409 invalid_transition`: only an open referral moves.
fn not_open(status: ReferralStatus) -> DomainError {
    DomainError::InvalidTransition {
        current: status,
        requested: status,
        detail: format!(
            "a referral {status} cannot be transferred: only a referral received, contacted \
             or waitlisted moves to another crèche"
        ),
        own_step: false,
    }
}

/// The crèche the referral leaves and the one it goes to, which must be
/// another crèche of the same département (`422` naming `creche_id`).
fn creches_of(
    conn: &mut DbConnection,
    from: &CrecheId,
    to: &CrecheId,
    now: DateTime<Utc>,
) -> Result<(creches::CrecheView, creches::CrecheView), DomainError> {
    let today = paris_date(now);
    let here = creches::get(conn, from, today)?;
    let Some(there) = creches::find(conn, to, today)? else {
        return Err(DomainError::invalid(
            "creche_id",
            "is not a registered crèche",
        ));
    };
    if there.creche.id == here.creche.id {
        return Err(DomainError::invalid(
            "creche_id",
            "is the crèche the referral is already at",
        ));
    }
    if there.departement != here.departement {
        return Err(DomainError::invalid(
            "creche_id",
            format!(
                "is in département {}: a referral moves only to a crèche of its own département ({})",
                there.departement, here.departement
            ),
        ));
    }
    Ok((here, there))
}
