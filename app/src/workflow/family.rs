//! Reaching the family: how it wants to be reached, and the messages its
//! crèche sends it by SMS or e-mail. A message is written to the outbox
//! in the transaction that records it on the timeline (and, for the first
//! message to a referral just received, its first response), then
//! delivered by the dispatcher with retries; a provider's refusal is shown
//! on the timeline. The words are French, short and plain, and give the
//! crèche's name, address and phone.

use avip_db::model::{
    ActorKind, Channel, ContactPreference, EventKind, MessageTemplate, NotificationId,
    NotificationKind, NotificationStatus, ReferralId, ReferralStatus, Role, to_db_time,
};
use avip_db::notifications::{self, Content, Notification};
use avip_db::referrals::{self, ReferralRecord};
use avip_db::{DbConnection, QueryError};
use avip_sla_engine::clock::paris_date;
use avip_sla_engine::mail::{FamilyMessage, render_family};
use avip_sla_engine::sms::{MAX_SEGMENTS, SmsText};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{Action, Resource};
use crate::auth::Principal;
use crate::domain::referral::{Via, phone_as_written, plan_move, reachable};
use crate::domain::{self, DomainError};
use crate::labels as fr;
use crate::workflow::notices::{self, News};
use crate::workflow::referrals::{actor, apply_move, event, event_by, load_for};

/// The longest free text a coordinator writes to a family.
pub const MAX_FREE_TEXT: usize = 480;

/// What a coordinator writes to a family (the service's own messages,
/// the meeting's confirmation and reminder, are not among them).
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    Acknowledgment,
    MeetingInvitation,
    Reminder,
    PlaceOffer,
    Documents,
    FreeText,
}

impl From<Template> for MessageTemplate {
    fn from(t: Template) -> MessageTemplate {
        match t {
            Template::Acknowledgment => MessageTemplate::Acknowledgment,
            Template::MeetingInvitation => MessageTemplate::MeetingInvitation,
            Template::Reminder => MessageTemplate::Reminder,
            Template::PlaceOffer => MessageTemplate::PlaceOffer,
            Template::Documents => MessageTemplate::Documents,
            Template::FreeText => MessageTemplate::FreeText,
        }
    }
}

/// `POST /api/v1/referrals/{id}/messages`.
#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"template": "meeting_invitation", "channel": "sms"}))]
pub struct MessageRequest {
    pub template: Template,
    /// `sms` or `email`; the family's contact preference when left out,
    /// and it must be that one.
    pub channel: Option<Channel>,
    /// The coordinator's words: required with `free_text`, refused
    /// otherwise. An SMS may take at most 3 segments.
    #[schema(max_length = 480)]
    pub text: Option<String>,
}

/// A message to write: a coordinator's request, or one the service sends.
pub(crate) struct Asked {
    pub template: MessageTemplate,
    pub channel: Option<Channel>,
    pub text: Option<String>,
}

impl From<MessageRequest> for Asked {
    fn from(r: MessageRequest) -> Asked {
        Asked {
            template: r.template.into(),
            channel: r.channel,
            text: r.text,
        }
    }
}

/// `PUT /api/v1/referrals/{id}/contact-preference`.
#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"contact_preference": "sms"}))]
pub struct ContactPreferenceRequest {
    /// `null`: nobody knows; the family gets no message.
    pub contact_preference: Option<ContactPreference>,
}

/// A message to the family, as the outbox holds it.
#[derive(Serialize, ToSchema, Clone, Debug)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000020", "template": "meeting_invitation",
    "channel": "sms", "status": "sent", "text": "Bonjour Amina, la creche Les Petits Pas vous invite…",
    "segments": 2, "attempts": 1, "last_error": null,
    "queued_at": "2026-11-22T16:05:00Z", "sent_at": "2026-11-22T16:05:02Z"}))]
pub struct MessageOut {
    #[schema(value_type = uuid::Uuid)]
    pub id: NotificationId,
    pub template: Option<MessageTemplate>,
    pub channel: Channel,
    /// `pending` until the provider or mail server accepted it, `sent`,
    /// or `failed` when the provider refused it for good.
    pub status: NotificationStatus,
    /// What the family receives (empty once its data is erased).
    pub text: String,
    /// SMS segments (1 for an e-mail).
    pub segments: usize,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub queued_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// What a message is sent with.
pub struct Sending<'a> {
    /// The `Idempotency-Key` (or the form's): the same key sends once.
    pub key: Option<&'a str>,
    pub public_url: &'a str,
    pub now: DateTime<Utc>,
}

/// Sends a message to the family (the crèche's coordinators, admins):
/// checked, written to the outbox and the timeline; the first one to a
/// referral still `received` is its first response (`contacted`). Returns
/// the message and whether it was new (a key sent again returns the first).
pub fn send(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    request: MessageRequest,
    sending: Sending<'_>,
) -> Result<(MessageOut, bool), DomainError> {
    let Sending {
        key,
        public_url,
        now,
    } = sending;
    let key = key
        .map(crate::domain::referral::idempotency_key)
        .transpose()
        .map_err(|why| DomainError::invalid("Idempotency-Key", why))?;
    let request = Asked::from(request);
    let dedup_key = format!(
        "family_message:{id}:{}",
        key.unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
    );
    avip_db::write_transaction(conn, |conn| {
        let referral = load_for(conn, who, id, Action::Act)?;
        if let Some(existing) = notifications::find_by_key(conn, &dedup_key)? {
            return Ok((out(existing, Some(request.template)), false));
        }
        let record = referrals::record(conn, referral)?;
        let row = queue(
            conn,
            &record,
            &request,
            Extra::default(),
            &dedup_key,
            actor(who),
            now,
        )?
        .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("the message's key was taken")))?;
        if record.referral.status == ReferralStatus::Received && who.role == Role::Coordinator {
            first_response(
                conn,
                who,
                &record,
                (request.template, row.channel),
                public_url,
                now,
            )?;
        }
        Ok((out(row, Some(request.template)), true))
    })
}

/// What a message of the service adds to its template: the booking link,
/// the meeting's time, its calendar invitation (e-mail).
#[derive(Default)]
pub(crate) struct Extra<'a> {
    pub link: Option<&'a str>,
    pub when: Option<&'a str>,
    pub calendar: Option<String>,
}

/// Writes the message to the outbox and the timeline (as `actor`), once
/// per `dedup_key`: `None` when the key was taken.
pub(crate) fn queue(
    conn: &mut DbConnection,
    record: &ReferralRecord,
    request: &Asked,
    extra: Extra<'_>,
    dedup_key: &str,
    actor: (ActorKind, Option<String>),
    now: DateTime<Utc>,
) -> Result<Option<Notification>, DomainError> {
    let id = &record.referral.id;
    let composed = compose(conn, record, request, &extra, now)?;
    let mut row = composed.row(id, dedup_key, now);
    if row.channel == Channel::Email {
        row.calendar = extra.calendar;
    }
    if !notifications::insert(conn, &row)? {
        return Ok(None);
    }
    let mut ev = event_by(actor, id, EventKind::FamilyMessage, now);
    ev.data = Some(
        serde_json::json!({
            "notification": dedup_key,
            "template": request.template,
            "channel": composed.channel,
            "segments": composed.segments,
        })
        .to_string(),
    );
    referrals::insert_event(conn, &ev)?;
    tracing::info!(referral = %id, template = %request.template, channel = %composed.channel, "message to the family queued");
    crate::metrics::family_message(composed.channel, request.template);
    Ok(Some(row))
}

/// The first message to a family just referred answers it: `received →
/// contacted`, as a transition would, with the referent told.
pub(crate) fn first_response(
    conn: &mut DbConnection,
    who: &Principal,
    record: &ReferralRecord,
    (template, channel): (MessageTemplate, Channel),
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let id = &record.referral.id;
    let step = plan_move(
        ReferralStatus::Received,
        ReferralStatus::Contacted,
        Via::Transitions,
    )?;
    let mut ev = event(who, id, EventKind::Transition, now);
    ev.note = Some(format!(
        "{} envoyé à la famille par {}",
        fr::message_template(template),
        fr::channel(channel)
    ));
    apply_move(conn, id, step, None, ev)?;
    let news = News::Decision {
        to: ReferralStatus::Contacted,
        reason: None,
    };
    notices::tell_referent(conn, &record.referral, &news, public_url, now)?;
    Ok(())
}

/// A message ready for the outbox.
struct Composed {
    channel: Channel,
    recipient: String,
    subject: String,
    text: String,
    html: String,
    segments: usize,
}

impl Composed {
    fn row(&self, id: &ReferralId, dedup_key: &str, now: DateTime<Utc>) -> Notification {
        let content = Content {
            subject: self.subject.clone(),
            text: self.text.clone(),
            html: self.html.clone(),
        };
        Notification::pending(
            dedup_key,
            NotificationKind::FamilyMessage,
            &[&self.recipient],
            content,
            to_db_time(now),
        )
        .about(Some(id.clone()))
        .by(self.channel)
    }
}

/// Checks that the family can be reached as asked and writes the message.
fn compose(
    conn: &mut DbConnection,
    record: &ReferralRecord,
    request: &Asked,
    extra: &Extra<'_>,
    now: DateTime<Utc>,
) -> Result<Composed, DomainError> {
    let r = &record.referral;
    if r.anonymised_at.is_some() {
        return Err(DomainError::AlreadyAnonymised);
    }
    if r.status.is_closed() {
        return Err(DomainError::invalid(
            "template",
            format!(
                "the referral is {}: the family gets no more messages",
                r.status
            ),
        ));
    }
    let channel = channel_for(record, request.channel)?;
    let creche = avip_db::creches::get(conn, &r.creche_id, paris_date(now))?.creche;
    let Some(creche_phone) = creche.phone.as_deref() else {
        return Err(DomainError::invalid(
            "template",
            "the crèche has no phone number for the family to call back: add it to the crèche first",
        ));
    };
    let free = free_text(request)?;
    if request.template == MessageTemplate::PlaceOffer && r.status != ReferralStatus::Offered {
        return Err(DomainError::invalid(
            "template",
            "place_offer is for a referral with an offer (status offered)",
        ));
    }
    let words = Words {
        parent: &record.family.parent_first_name,
        child: record
            .children
            .first()
            .map_or("votre enfant", |c| c.first_name.as_str()),
        creche: &creche.name,
        phone: &phone_as_written(creche_phone),
        address: &format!(
            "{}, {} {}",
            creche.address, creche.postal_code, creche.commune
        ),
        link: extra.link,
        when: extra.when.unwrap_or_default(),
    };
    let (subject, lines) = words.of(request.template, free.as_deref());
    let signature = vec![
        format!("Crèche {}", creche.name),
        words.address.to_owned(),
        format!("Tél. : {}", words.phone),
    ];
    let message = FamilyMessage {
        subject,
        lines,
        signature,
    };
    match channel {
        Channel::Sms => sms(record, &message),
        Channel::Email => {
            let rendered = render_family(&message);
            Ok(Composed {
                channel,
                recipient: record.family.parent_email.clone().unwrap_or_default(),
                subject: rendered.subject,
                text: rendered.text,
                html: rendered.html,
                segments: 1,
            })
        }
    }
}

/// The coordinator's words: with `free_text` only, bounded.
fn free_text(request: &Asked) -> Result<Option<String>, DomainError> {
    Ok(match (&request.text, request.template) {
        (None, MessageTemplate::FreeText) => {
            return Err(DomainError::invalid("text", "is required with free_text"));
        }
        (Some(_), t) if t != MessageTemplate::FreeText => {
            return Err(DomainError::invalid("text", "is only for free_text"));
        }
        (Some(text), _) => Some(
            domain::text(text, MAX_FREE_TEXT).map_err(|why| DomainError::invalid("text", why))?,
        ),
        (None, _) => None,
    })
}

/// The SMS: the lines and the crèche's phone, in at most 3 segments.
fn sms(record: &ReferralRecord, message: &FamilyMessage) -> Result<Composed, DomainError> {
    let mut text = message.lines.join(" ");
    // The crèche's phone closes the SMS, unless the words gave it already.
    let phone = message.signature.last().map_or("", String::as_str);
    let number = phone.rsplit(": ").next().unwrap_or(phone);
    if !text.contains(number) {
        text.push_str(&format!(" {phone}"));
    }
    let prepared = SmsText::prepare(&text);
    if prepared.segments > MAX_SEGMENTS {
        let field = if message.lines.len() == 1 {
            "text"
        } else {
            "template"
        };
        return Err(DomainError::invalid(
            field,
            format!(
                "the SMS would take {} segments ({}, {} characters); at most {MAX_SEGMENTS}: shorten the text",
                prepared.segments,
                if prepared.unicode { "UCS-2" } else { "GSM-7" },
                prepared.text.chars().count()
            ),
        ));
    }
    Ok(Composed {
        channel: Channel::Sms,
        recipient: record.family.parent_phone.clone().unwrap_or_default(),
        subject: message.subject.clone(),
        text: prepared.text,
        html: String::new(),
        segments: prepared.segments,
    })
}

/// The channel asked for, checked against the family's preference and
/// what it gave (a mobile phone, an address).
fn channel_for(record: &ReferralRecord, asked: Option<Channel>) -> Result<Channel, DomainError> {
    let f = &record.family;
    let preferred = match f.parent_contact {
        None => {
            return Err(DomainError::invalid(
                "channel",
                "the family has not said how it wants to be reached: record its contact preference first",
            ));
        }
        Some(ContactPreference::PhoneCall) => {
            return Err(DomainError::invalid(
                "channel",
                "the family asked to be reached by a phone call only",
            ));
        }
        Some(ContactPreference::Referent) => {
            return Err(DomainError::invalid(
                "channel",
                "the family asked to be reached through its referent",
            ));
        }
        Some(ContactPreference::Sms) => Channel::Sms,
        Some(ContactPreference::Email) => Channel::Email,
    };
    if asked.is_some_and(|a| a != preferred) {
        let why = match preferred {
            Channel::Sms => "the family asked to be reached by sms",
            Channel::Email => "the family asked to be reached by email",
        };
        return Err(DomainError::invalid("channel", why));
    }
    let preference = f.parent_contact.unwrap_or(ContactPreference::PhoneCall);
    reachable(
        preference,
        f.parent_phone.as_deref(),
        f.parent_email.as_deref(),
    )
    .map_err(|why| DomainError::invalid("channel", why))?;
    Ok(preferred)
}

/// What the messages name.
struct Words<'a> {
    parent: &'a str,
    child: &'a str,
    creche: &'a str,
    phone: &'a str,
    address: &'a str,
    /// The booking page's link, for an invitation.
    link: Option<&'a str>,
    /// The meeting's day and hour, for its confirmation and reminder.
    when: &'a str,
}

impl Words<'_> {
    /// The subject (e-mail) and the lines of a template: short sentences,
    /// no administrative words.
    fn of(&self, template: MessageTemplate, free: Option<&str>) -> (String, Vec<String>) {
        let Words {
            parent,
            child,
            creche,
            phone,
            address,
            link,
            ..
        } = self;
        let hello = format!("Bonjour {parent},");
        let (subject, lines) = match template {
            MessageTemplate::Acknowledgment => (
                "votre demande de place",
                vec![
                    hello,
                    format!("la crèche {creche} a bien reçu votre demande de place pour {child}."),
                    "Nous vous appelons dans les 3 jours.".to_owned(),
                ],
            ),
            MessageTemplate::MeetingInvitation => (
                "un premier rendez-vous",
                vec![
                    hello,
                    format!(
                        "la crèche {creche} vous invite à un premier rendez-vous pour parler de l’accueil de {child}."
                    ),
                    match link {
                        Some(link) => format!("Choisissez le jour ici : {link}"),
                        None => format!("Appelez-nous pour choisir le jour : {phone}."),
                    },
                    format!("Adresse : {address}."),
                ],
            ),
            MessageTemplate::MeetingConfirmation | MessageTemplate::MeetingReminder => {
                self.meeting(template, hello)
            }
            MessageTemplate::Reminder => (
                "nous attendons votre appel",
                vec![
                    hello,
                    format!(
                        "nous attendons votre appel pour le premier rendez-vous à la crèche {creche}."
                    ),
                    format!("Appelez-nous au {phone}."),
                ],
            ),
            MessageTemplate::PlaceOffer => (
                "une place pour votre enfant",
                vec![
                    hello,
                    format!("bonne nouvelle : la crèche {creche} a une place pour {child}."),
                    format!("Appelez-nous vite pour la garder : {phone}."),
                ],
            ),
            MessageTemplate::Documents => (
                "les papiers à apporter",
                vec![
                    hello,
                    format!("pour le premier rendez-vous à la crèche {creche}, apportez :"),
                    format!(
                        "votre numéro CAF, le carnet de santé de {child}, une preuve de votre formation ou de votre entretien, un justificatif de domicile."
                    ),
                ],
            ),
            MessageTemplate::FreeText => ("un message", vec![free.unwrap_or_default().to_owned()]),
        };
        (format!("Crèche {creche} : {subject}"), lines)
    }
    /// The service's messages about the booked meeting.
    fn meeting(&self, template: MessageTemplate, hello: String) -> (&'static str, Vec<String>) {
        let Words {
            creche,
            phone,
            address,
            when,
            ..
        } = self;
        match template {
            MessageTemplate::MeetingConfirmation => (
                "votre rendez-vous",
                vec![
                    hello,
                    format!("votre rendez-vous à la crèche {creche} est le {when}."),
                    format!("Adresse : {address}."),
                    "Apportez votre numéro CAF et le carnet de santé de l’enfant.".to_owned(),
                ],
            ),
            _ => (
                "votre rendez-vous demain",
                vec![
                    hello,
                    format!("nous vous attendons demain, le {when}, à la crèche {creche}."),
                    format!("Adresse : {address}."),
                    format!("Un empêchement ? Appelez-nous : {phone}."),
                ],
            ),
        }
    }
}

/// The referral's messages to the family, oldest first (the crèche's
/// coordinators, admins; each read is in the access log).
pub fn messages(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
) -> Result<Vec<MessageOut>, DomainError> {
    load_for(conn, who, id, Action::Act)?;
    Ok(messages_of(conn, id)?)
}

/// The referral's messages to the family, oldest first, for a caller who
/// has checked that the person may act on the referral (the page has).
pub fn messages_of(
    conn: &mut DbConnection,
    id: &ReferralId,
) -> Result<Vec<MessageOut>, QueryError> {
    let templates = templates_of(conn, id)?;
    Ok(notifications::for_referral(conn, id)?
        .into_iter()
        .filter(|n| n.kind == NotificationKind::FamilyMessage)
        .map(|n| {
            let template = templates.get(&n.dedup_key).copied();
            out(n, template)
        })
        .collect())
}

/// Each message's template, from its timeline entry.
fn templates_of(
    conn: &mut DbConnection,
    id: &ReferralId,
) -> Result<std::collections::HashMap<String, MessageTemplate>, QueryError> {
    Ok(
        referrals::events_of_kind(conn, id, EventKind::FamilyMessage)?
            .into_iter()
            .filter_map(|e| {
                let data: serde_json::Value = serde_json::from_str(e.data.as_deref()?).ok()?;
                let key = data.get("notification")?.as_str()?.to_owned();
                let template = data.get("template")?.as_str()?.parse().ok()?;
                Some((key, template))
            })
            .collect(),
    )
}

pub(crate) fn out(n: Notification, template: Option<MessageTemplate>) -> MessageOut {
    let segments = match n.channel {
        Channel::Sms if !n.body_text.is_empty() => SmsText::prepare(&n.body_text).segments,
        _ => 1,
    };
    MessageOut {
        id: n.id,
        template,
        channel: n.channel,
        status: n.status,
        text: n.body_text,
        segments,
        attempts: n.attempts,
        last_error: n.last_error,
        queued_at: n.created_at.and_utc(),
        sent_at: n.sent_at.map(|t| t.and_utc()),
    }
}

/// Records how the family wants to be reached (the crèche's coordinators
/// and the prescriber who referred it): checked against what it gave, on
/// the timeline.
pub fn set_contact_preference(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    request: ContactPreferenceRequest,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, DomainError> {
    crate::access::require(who, Action::Read, Resource::Referral(None))?;
    avip_db::write_transaction(conn, |conn| {
        let referral = load_for(conn, who, id, Action::Annotate)?;
        if referral.anonymised_at.is_some() {
            return Err(DomainError::AlreadyAnonymised);
        }
        let record = referrals::record(conn, referral)?;
        let f = &record.family;
        if let Some(preference) = request.contact_preference {
            reachable(
                preference,
                f.parent_phone.as_deref(),
                f.parent_email.as_deref(),
            )
            .map_err(|why| DomainError::invalid("contact_preference", why))?;
        }
        if f.parent_contact == request.contact_preference {
            return Ok(record);
        }
        referrals::set_contact(conn, id, request.contact_preference, to_db_time(now))?;
        let mut ev = event(who, id, EventKind::ContactPreferenceChanged, now);
        ev.data = Some(
            serde_json::json!({
                "from": f.parent_contact,
                "to": request.contact_preference,
            })
            .to_string(),
        );
        referrals::insert_event(conn, &ev)?;
        Ok(referrals::get(conn, id)?)
    })
}

/// The acknowledgment a crèche may send at intake (its
/// `auto_acknowledgment`), to a family that asked for SMS or e-mail: in the
/// intake's transaction, by the service itself, and not a first response.
pub(crate) fn acknowledge_at_intake(
    conn: &mut DbConnection,
    record: &ReferralRecord,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let r = &record.referral;
    let creche = avip_db::creches::get(conn, &r.creche_id, paris_date(now))?.creche;
    if !creche.auto_acknowledgment || creche.phone.is_none() {
        return Ok(());
    }
    if !matches!(
        record.family.parent_contact,
        Some(ContactPreference::Sms | ContactPreference::Email)
    ) {
        return Ok(());
    }
    let request = Asked {
        template: MessageTemplate::Acknowledgment,
        channel: None,
        text: None,
    };
    let dedup_key = format!("family_message:{}:acknowledgment", r.id);
    // A family that cannot be written to as it asked (an SMS too long for
    // a long name…) is answered by a person; the intake goes on.
    let system = (ActorKind::System, None);
    match queue(
        conn,
        record,
        &request,
        Extra::default(),
        &dedup_key,
        system,
        now,
    ) {
        Err(DomainError::Invalid(fields)) => {
            let fields: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
            tracing::warn!(referral = %r.id, ?fields, "no acknowledgment at intake");
            Ok(())
        }
        other => other.map(drop),
    }
}
