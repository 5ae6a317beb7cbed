//! The referral page's "Joindre la famille" panel (issue 35): how the
//! family wants to be reached, the form that writes to it from one of the
//! French templates, and the messages sent with their delivery.

use avip_app::access::{Action, ReferralOwners, Resource, require};
use avip_app::auth::Principal;
use avip_app::domain::DomainError;
use avip_app::workflow::acts;
use avip_app::workflow::family::{self, MessageOut};
use avip_app::workflow::meetings::{self, MeetingPanel, MeetingRecord, PageInvitation};
use avip_db::model::{MeetingChoice, MeetingOutcome, ReferralId};
use chrono::{NaiveDate, NaiveTime, Utc};

use crate::web::forms::{Errors, Form, Kind};
use crate::web::referral::refused;
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
    pub meeting: MeetingLines,
}

/// The panel's first meeting.
pub struct MeetingLines {
    /// The crèche's free slots to offer…
    pub free: Vec<(String, String)>,
    /// …the day the family chose, what was noted of it, whether it can be
    /// noted now (it began)…
    pub booked: Option<String>,
    pub recorded: Option<&'static str>,
    pub can_record: bool,
    /// …an invitation waiting for the family until then, or its answer.
    pub waiting_until: Option<String>,
    pub answered: Option<&'static str>,
}

/// The messages a coordinator writes (the meeting's confirmation and
/// reminder are the service's).
const WRITTEN_BY_THE_CRECHE: &[MessageTemplate] = &[
    MessageTemplate::Acknowledgment,
    MessageTemplate::MeetingInvitation,
    MessageTemplate::Reminder,
    MessageTemplate::PlaceOffer,
    MessageTemplate::Documents,
    MessageTemplate::FreeText,
];

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
    let messages = family::messages_of(conn, &r.id)?;
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
            WRITTEN_BY_THE_CRECHE,
            MessageTemplate::as_str,
            fr::message_template,
        ),
        messages: messages.into_iter().map(line).collect(),
        key: uuid::Uuid::now_v7().to_string(),
        meeting: meeting_lines(meetings::panel(conn, record, Utc::now())?),
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

/// The first meeting's lines of the panel.
fn meeting_lines(m: MeetingPanel) -> MeetingLines {
    let (booked, recorded, can_record) = match m.booked {
        Some((when, outcome_noted, began)) => (
            Some(when),
            outcome_noted.map(outcome),
            outcome_noted.is_none() && began,
        ),
        None => (None, None, false),
    };
    MeetingLines {
        free: m.free,
        booked,
        recorded,
        can_record,
        waiting_until: m.waiting_until,
        answered: m.answered.map(answered),
    }
}

/// What the panel says of the family's answer, of its booking.
pub fn answered(choice: MeetingChoice) -> &'static str {
    match choice {
        MeetingChoice::Callback => "La famille demande à être rappelée.",
        MeetingChoice::Withdraw => {
            "La famille dit ne plus avoir besoin de place : confirmez le retrait ci-dessous."
        }
        MeetingChoice::Slot => "La famille a choisi un créneau.",
    }
}

pub fn outcome(o: MeetingOutcome) -> &'static str {
    match o {
        MeetingOutcome::Held => "rendez-vous honoré",
        MeetingOutcome::NoShow => "rendez-vous non honoré",
    }
}

/// The new slots of the invitation form: `nouveau-{n}-date` and
/// `nouveau-{n}-heure`, both or neither.
fn new_slots(form: &Form, errors: &mut Errors) -> Vec<(NaiveDate, NaiveTime)> {
    let mut new = Vec::new();
    for n in 0..2 {
        let (day, time) = (
            form.get(&format!("nouveau-{n}-date")),
            form.get(&format!("nouveau-{n}-heure")),
        );
        if day.is_empty() && time.is_empty() {
            continue;
        }
        let parsed = (
            NaiveDate::parse_from_str(day, "%Y-%m-%d"),
            NaiveTime::parse_from_str(time, "%H:%M"),
        );
        match parsed {
            (Ok(d), Ok(t)) => new.push((d, t)),
            _ => errors.field(
                &format!("nouveau[{n}].starts_at"),
                "Donnez le jour et l’heure du créneau.",
            ),
        }
    }
    new
}

/// The invitation form: new slots and ticked ones, in one step.
pub async fn invitation_form(
    app: &avip_app::App,
    who: &Principal,
    id: &ReferralId,
    form: &Form,
) -> Result<Result<(), Errors>, DomainError> {
    let mut errors = Errors::default();
    let new = new_slots(form, &mut errors);
    let minutes = form.get("minutes").parse::<i32>().unwrap_or(45);
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let asked = PageInvitation {
        slot_ids: form.values("slot"),
        new,
        minutes,
    };
    let (who, id, links) = (who.clone(), id.clone(), app.public_url.clone());
    let now = Utc::now();
    refused(
        app.write(move |conn| meetings::invite_from_page(conn, &who, &id, asked, (&links, now)))
            .await,
    )
}

pub const MEETING_RECORD: &[(&str, Kind)] = &[("outcome", Kind::Required)];

/// The meeting held or not honoured.
pub async fn record_form(
    app: &avip_app::App,
    who: &Principal,
    id: &ReferralId,
    form: &Form,
) -> Result<Result<(), Errors>, DomainError> {
    let request = match form.parse::<MeetingRecord>(MEETING_RECORD) {
        Ok(request) => request,
        Err(errors) => return Ok(Err(errors)),
    };
    refused(acts::record_meeting(app, who, id, request, Utc::now()).await)
}
