//! The referral page's other crèches (issue 34): for a referral still open
//! before an offer, the crèches of the département that can take the
//! family on its days (the week's matching), and the form that hands the
//! family to one of them, those crèches first.

use avip_app::access::{Action, ReferralOwners, Resource, require};
use avip_app::auth::Principal;
use avip_app::domain::DomainError;
use avip_app::workflow::matching::{Wanted, matches};
use avip_app::workflow::transfers::OPEN;
use avip_db::model::TransferReason;
use avip_db::referrals::ReferralRecord;
use chrono::NaiveDate;

use crate::web::fr;
use crate::web::referral_view::{Opt, options};

/// A crèche the family may be handed to.
pub struct Destination {
    pub id: String,
    /// Its name and commune, and what it can offer on the family's days
    /// when it can.
    pub label: String,
}

/// The transfer form's choices.
pub struct TransferPanel {
    /// Those that can take the family on its days first, then the others
    /// of the département by name.
    pub creches: Vec<Destination>,
    pub reasons: Vec<Opt>,
    /// The visitor works at the crèche the family leaves, which will no
    /// longer see it.
    pub leaves: bool,
}

/// The other crèches, in words and as the transfer's choices.
#[derive(Default)]
pub struct Elsewhere {
    /// The crèches free on the family's days, best first (five at most).
    pub lines: Vec<String>,
    /// The form, for a visitor who may transfer this referral.
    pub transfer: Option<TransferPanel>,
}

/// What the page shows of the other crèches for `record`, from `start`.
pub fn elsewhere(
    conn: &mut avip_db::DbConnection,
    who: &Principal,
    record: &ReferralRecord,
    start: NaiveDate,
    zone: avip_sla_engine::policy::HolidayZone,
) -> Result<Elsewhere, DomainError> {
    let referral = &record.referral;
    let owners = Resource::Referral(Some(ReferralOwners {
        creche_id: &referral.creche_id,
        prescriber: &referral.prescriber_organization_id,
    }));
    if !OPEN.contains(&referral.status) {
        return Ok(Elsewhere::default());
    }
    let may_transfer =
        require(who, Action::Transfer, owners).is_ok() && referral.anonymised_at.is_none();
    let ranked = match &record.needs {
        Some(needs) => {
            let wanted = Wanted {
                departement: who.departement.clone(),
                start,
                days: avip_app::workflow::calendar::weekdays(needs.days),
                hours: needs.hours_from.clone().zip(needs.hours_to.clone()),
                weeks: 8,
                places: i32::try_from(record.children.len()).unwrap_or(1).max(1),
                postal_code: Some(record.family.parent_postal_code.clone()),
                commune: Some(record.family.parent_commune.clone()),
            };
            (matches(conn, who, &wanted, zone)?.into_iter())
                .filter(|m| m.creche.id != referral.creche_id && m.free_on_every_day)
                .map(|m| {
                    let offer = crate::web::ranking::offer(&m, &wanted);
                    let label = format!("{} ({}) — {offer}", m.creche.name, m.creche.commune);
                    (m.creche.id.to_string(), label)
                })
                .collect()
        }
        None => Vec::new(),
    };
    let lines = if matches!(
        who.role,
        avip_db::model::Role::Coordinator | avip_db::model::Role::Admin
    ) {
        ranked.iter().take(5).map(|(_, l)| l.clone()).collect()
    } else {
        Vec::new()
    };
    let transfer = if may_transfer {
        let mut creches: Vec<Destination> = (ranked.into_iter())
            .map(|(id, label)| Destination { id, label })
            .collect();
        for other in avip_app::workflow::creches::of_departement(conn, who)? {
            let id = other.id.to_string();
            if other.id != referral.creche_id && creches.iter().all(|c| c.id != id) {
                creches.push(Destination {
                    id,
                    label: other.name,
                });
            }
        }
        Some(TransferPanel {
            creches,
            reasons: options(
                TransferReason::ALL,
                TransferReason::as_str,
                fr::transfer_reason,
            ),
            leaves: who.role == avip_db::model::Role::Coordinator,
        })
    } else {
        None
    };
    Ok(Elsewhere { lines, transfer })
}
