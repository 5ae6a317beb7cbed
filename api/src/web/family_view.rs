//! The referral page's "Joindre la famille" panel (issue 35): how the
//! family wants to be reached, the form that writes to it from one of the
//! French templates, and the messages sent with their delivery.

use avip_app::access::{Action, ReferralOwners, Resource, require};
use avip_app::auth::Principal;
use avip_app::domain::DomainError;
use avip_app::workflow::family::{self, MessageOut};
use avip_db::model::{Channel, ContactPreference, MessageTemplate, NotificationStatus};
use avip_db::referrals::ReferralRecord;

use crate::web::fr;
use crate::web::referral_view::{Opt, options};

/// One message as the page lists it.
pub struct MessageLine {
    pub when: String,
    pub what: String,
    pub status: &'static str,
    /// `sent`, `pending`, `failed`: the badge's class.
    pub status_code: &'static str,
    pub text: String,
}

/// The panel, for those who may write to the family.
pub struct FamilyPanel {
    /// `par SMS`…, or `non renseigné`.
    pub preference: &'static str,
    /// The preference's code, to select it in the form (empty: none).
    pub preference_code: &'static str,
    pub preferences: Vec<Opt>,
    /// Whether the family can be written to now (SMS or e-mail asked).
    pub can_write: bool,
    pub templates: Vec<Opt>,
    pub messages: Vec<MessageLine>,
    /// A key for this form, so a message sent twice (a double click) goes
    /// once.
    pub key: String,
}

/// The panel for the crèche's coordinators and admins; `None` for the
/// others (a prescriber follows the family, the crèche writes to it).
pub fn panel(
    conn: &mut avip_db::DbConnection,
    who: &Principal,
    record: &ReferralRecord,
) -> Result<Option<FamilyPanel>, DomainError> {
    let r = &record.referral;
    let owners = Resource::Referral(Some(ReferralOwners {
        creche_id: &r.creche_id,
        prescriber: &r.prescriber_organization_id,
    }));
    if require(who, Action::Act, owners).is_err() || r.anonymised_at.is_some() {
        return Ok(None);
    }
    let preference = record.family.parent_contact;
    let messages = family::messages(conn, who, &r.id)?;
    Ok(Some(FamilyPanel {
        preference: preference.map_or("non renseigné", fr::contact_preference),
        preference_code: preference.map_or("", ContactPreference::as_str),
        preferences: options(
            ContactPreference::ALL,
            ContactPreference::as_str,
            fr::contact_preference,
        ),
        can_write: matches!(
            preference,
            Some(ContactPreference::Sms | ContactPreference::Email)
        ) && !r.status.is_closed(),
        templates: options(
            MessageTemplate::ALL,
            MessageTemplate::as_str,
            fr::message_template,
        ),
        messages: messages.into_iter().map(line).collect(),
        key: uuid::Uuid::now_v7().to_string(),
    }))
}

fn line(m: MessageOut) -> MessageLine {
    let (status, status_code) = match m.status {
        NotificationStatus::Pending => ("en cours d’envoi", "pending"),
        NotificationStatus::Sent => ("envoyé", "sent"),
        NotificationStatus::Failed => ("refusé", "failed"),
    };
    let template = m.template.map_or("Message", fr::message_template);
    let channel = match m.channel {
        Channel::Sms => "par SMS",
        Channel::Email => "par e-mail",
    };
    MessageLine {
        when: fr::datetime(m.queued_at),
        what: format!("{template} {channel}"),
        status,
        status_code,
        text: m.text,
    }
}
