//! A first meeting the parent books from her phone (issue 35, point 4).
//! The crèche's coordinators propose slots at the crèche; a family is
//! invited to some of them by a message carrying a link that needs no
//! account (signed for that invitation, valid 14 days, revocable, good
//! for one answer). Through it the parent picks a slot, asks to be called
//! back, or says she no longer needs a place. The booking is confirmed by
//! the family's channel (with an `.ics` by e-mail) and reminded the day
//! before; the coordinator records the meeting held or not honoured.

use avip_db::meetings::{self, Invitation, Slot};
use avip_db::model::{
    ActorKind, Channel, CrecheId, EventKind, MeetingChoice, MeetingOutcome, MessageTemplate,
    ReferralId, ReferralStatus, Role, to_db_time,
};
use avip_db::referrals::{self, ReferralRecord};
use avip_db::{DbConnection, QueryError};
use avip_sla_engine::clock::paris_date;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{Action, Resource, require};
use crate::auth::Principal;
use crate::domain::DomainError;
use crate::domain::referral::phone_as_written;
use crate::labels as fr;
use crate::workflow::family::{self, Asked, Extra, MessageOut};
use crate::workflow::links::LinkKey;
use crate::workflow::referrals::{actor, event, event_by, load_for};

/// How long an invitation's link answers.
pub const LINK_DAYS: i64 = 14;
const KEY_NAME: &str = "meeting_link_key";
/// Slots proposed at once, and offered to one family.
const MAX_SLOTS: usize = 50;
const MAX_OFFERED: usize = 20;

/// A slot as proposed: when, for how long.
#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct SlotIn {
    /// RFC 3339; in the future.
    pub starts_at: DateTime<Utc>,
    /// 10 to 240.
    #[schema(minimum = 10, maximum = 240)]
    pub minutes: i32,
}

/// `POST /api/v1/creches/{id}/meeting-slots`.
#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"slots": [{"starts_at": "2026-12-15T08:30:00Z", "minutes": 45},
    {"starts_at": "2026-12-16T13:00:00Z", "minutes": 45}]}))]
pub struct ProposeSlots {
    #[schema(min_items = 1, max_items = 50)]
    pub slots: Vec<SlotIn>,
}

/// A slot of the crèche.
#[derive(Serialize, ToSchema, Clone, Debug)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000030", "starts_at": "2026-12-15T08:30:00Z",
    "minutes": 45, "referral_id": "0193a5b0-7c1e-7d2a-9b1e-000000000010",
    "booked_at": "2026-12-08T19:02:00Z", "outcome": null}))]
pub struct SlotOut {
    pub id: String,
    pub starts_at: DateTime<Utc>,
    pub minutes: i32,
    /// The family that booked it (its referral), if one did.
    #[schema(value_type = Option<uuid::Uuid>)]
    pub referral_id: Option<ReferralId>,
    pub booked_at: Option<DateTime<Utc>>,
    /// `held` or `no_show`, once the coordinator recorded it.
    pub outcome: Option<MeetingOutcome>,
}

impl From<Slot> for SlotOut {
    fn from(s: Slot) -> SlotOut {
        SlotOut {
            id: s.id,
            starts_at: s.starts_at.and_utc(),
            minutes: s.minutes,
            referral_id: s.referral_id,
            booked_at: s.booked_at.map(|t| t.and_utc()),
            outcome: s.outcome,
        }
    }
}

/// `POST /api/v1/referrals/{id}/meeting-invitations`.
#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"slot_ids": ["0193a5b0-7c1e-7d2a-9b1e-000000000030"]}))]
pub struct InviteRequest {
    /// Free slots of the referral's crèche, in the future.
    #[schema(min_items = 1, max_items = 20, value_type = Vec<uuid::Uuid>)]
    pub slot_ids: Vec<String>,
    /// The family's contact preference when left out, and it must be that.
    pub channel: Option<Channel>,
}

/// An invitation sent.
#[derive(Serialize, ToSchema, Clone, Debug)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000040", "expires_at": "2026-12-21T16:05:00Z",
    "link": "https://avip.example.org/app/rendez-vous/0193a5b0-7c1e-7d2a-9b1e-000000000040/1797882265.9b95…",
    "slots": [{"id": "0193a5b0-7c1e-7d2a-9b1e-000000000030", "starts_at": "2026-12-15T08:30:00Z",
        "minutes": 45, "referral_id": null, "booked_at": null, "outcome": null}],
    "message": {"id": "0193a5b0-7c1e-7d2a-9b1e-000000000020", "template": "meeting_invitation",
        "channel": "sms", "status": "pending", "text": "Bonjour Amina, la crèche Les Petits Pas vous invite…",
        "segments": 2, "attempts": 0, "last_error": null, "queued_at": "2026-12-07T16:05:00Z", "sent_at": null}}))]
pub struct InvitationOut {
    pub id: String,
    pub expires_at: DateTime<Utc>,
    /// The page the family opens (also in the message).
    pub link: String,
    pub slots: Vec<SlotOut>,
    pub message: MessageOut,
}

/// `POST /api/v1/referrals/{id}/meeting`.
#[derive(Deserialize, Serialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"outcome": "no_show"}))]
pub struct MeetingRecord {
    pub outcome: MeetingOutcome,
}

fn creche_id(raw: &str) -> Result<CrecheId, DomainError> {
    CrecheId::parse(raw).ok_or(DomainError::NotFound)
}

/// Proposes slots at the crèche (its coordinators, admins).
pub fn propose(
    conn: &mut DbConnection,
    who: &Principal,
    creche: &str,
    body: ProposeSlots,
    now: DateTime<Utc>,
) -> Result<Vec<SlotOut>, DomainError> {
    let creche = creche_id(creche)?;
    require(who, Action::Update, Resource::Creche(Some(&creche)))?;
    let mut problems = crate::domain::Problems::default();
    if body.slots.is_empty() || body.slots.len() > MAX_SLOTS {
        problems.push("slots", format!("must list 1 to {MAX_SLOTS} slots"));
    }
    for (i, slot) in body.slots.iter().enumerate() {
        if slot.starts_at <= now {
            problems.push(format!("slots[{i}].starts_at"), "must be in the future");
        }
        if !(10..=240).contains(&slot.minutes) {
            problems.push(format!("slots[{i}].minutes"), "must be between 10 and 240");
        }
    }
    problems.into_result()?;
    let by = crate::workflow::referrals::actor(who).1;
    let rows: Vec<Slot> = (body.slots.iter())
        .map(|s| Slot {
            id: uuid::Uuid::now_v7().to_string(),
            creche_id: creche.clone(),
            starts_at: to_db_time(s.starts_at),
            minutes: s.minutes,
            created_by: by.clone(),
            created_at: to_db_time(now),
            referral_id: None,
            booked_at: None,
            outcome: None,
            outcome_at: None,
        })
        .collect();
    avip_db::write_transaction(conn, |conn| {
        avip_db::creches::get(conn, &creche, paris_date(now))?;
        meetings::insert_slots(conn, &rows)?;
        Ok::<_, DomainError>(())
    })?;
    Ok(rows.into_iter().map(SlotOut::from).collect())
}

/// The crèche's slots from today on.
pub fn slots(
    conn: &mut DbConnection,
    who: &Principal,
    creche: &str,
    now: DateTime<Utc>,
) -> Result<Vec<SlotOut>, DomainError> {
    let creche = creche_id(creche)?;
    require(who, Action::Read, Resource::Creche(Some(&creche)))?;
    let today = paris_date(now).and_time(NaiveTime::MIN);
    Ok(
        meetings::slots_of(conn, &creche, today - Duration::hours(2))?
            .into_iter()
            .map(SlotOut::from)
            .collect(),
    )
}

/// Removes a slot nobody booked.
pub fn remove_slot(
    conn: &mut DbConnection,
    who: &Principal,
    creche: &str,
    slot: &str,
) -> Result<(), DomainError> {
    let creche = creche_id(creche)?;
    require(who, Action::Update, Resource::Creche(Some(&creche)))?;
    avip_db::write_transaction(conn, |conn| match meetings::find_slot(conn, slot)? {
        Some(s) if s.creche_id == creche && s.referral_id.is_some() => Err(DomainError::invalid(
            "slot_id",
            "is booked by a family: record the meeting instead",
        )),
        Some(s) if s.creche_id == creche => {
            meetings::remove_free_slot(conn, &creche, slot)?;
            Ok(())
        }
        _ => Err(DomainError::NotFound),
    })
}

/// Where the family's link leads.
fn link(public_url: &str, key: &LinkKey, invitation: &Invitation) -> String {
    let expires = invitation.expires_at.and_utc().timestamp();
    let token = key.sign(&format!("meeting:{}", invitation.id), expires);
    format!(
        "{}/app/rendez-vous/{}/{token}",
        public_url.trim_end_matches('/'),
        invitation.id
    )
}

/// The slots offered, checked: the referral's crèche's, free, to come.
fn offered(
    conn: &mut DbConnection,
    record: &ReferralRecord,
    ids: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<Slot>, DomainError> {
    if ids.is_empty() || ids.len() > MAX_OFFERED {
        return Err(DomainError::invalid(
            "slot_ids",
            format!("must list 1 to {MAX_OFFERED} slots"),
        ));
    }
    let slots = meetings::slots_by_id(conn, ids)?;
    for (i, id) in ids.iter().enumerate() {
        let fits = slots.iter().find(|s| &s.id == id).is_some_and(|s| {
            s.creche_id == record.referral.creche_id
                && s.referral_id.is_none()
                && s.starts_at.and_utc() > now
        });
        if !fits {
            return Err(DomainError::invalid(
                format!("slot_ids[{i}]"),
                "is not a free slot to come at the referral's crèche",
            ));
        }
    }
    Ok(slots)
}

/// Invites the family to book one of the slots: the invitation, its link,
/// the message that carries it (the first response when it is the first).
pub fn invite(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    body: InviteRequest,
    (public_url, now): (&str, DateTime<Utc>),
) -> Result<InvitationOut, DomainError> {
    avip_db::write_transaction(conn, |conn| {
        let referral = load_for(conn, who, id, Action::Act)?;
        let record = referrals::record(conn, referral)?;
        let slots = offered(conn, &record, &body.slot_ids, now)?;
        let invitation = Invitation {
            id: uuid::Uuid::now_v7().to_string(),
            referral_id: id.clone(),
            slot_ids: serde_json::to_string(&body.slot_ids).unwrap_or_else(|_| "[]".into()),
            created_by: actor(who).1,
            created_at: to_db_time(now),
            expires_at: to_db_time(now + Duration::days(LINK_DAYS)),
            revoked_at: None,
            used_at: None,
            choice: None,
            slot_id: None,
        };
        meetings::insert_invitation(conn, &invitation)?;
        let key = LinkKey::load(conn, KEY_NAME, now)?;
        let link = link(public_url, &key, &invitation);
        let request = Asked {
            template: MessageTemplate::MeetingInvitation,
            channel: body.channel,
            text: None,
        };
        let extra = Extra {
            link: Some(&link),
            ..Extra::default()
        };
        let dedup_key = format!("meeting_invitation:{}", invitation.id);
        let row = family::queue(conn, &record, &request, extra, &dedup_key, actor(who), now)?
            .ok_or_else(|| {
                DomainError::Unexpected(anyhow::anyhow!("an invitation's key was taken"))
            })?;
        let mut ev = event(who, id, EventKind::MeetingInvited, now);
        ev.data = Some(
            serde_json::json!({
                "invitation": invitation.id,
                "slots": slots.iter().map(|s| s.starts_at.and_utc()).collect::<Vec<_>>(),
                "expires_at": invitation.expires_at.and_utc(),
            })
            .to_string(),
        );
        referrals::insert_event(conn, &ev)?;
        if record.referral.status == ReferralStatus::Received && who.role == Role::Coordinator {
            let said = (MessageTemplate::MeetingInvitation, row.channel);
            family::first_response(conn, who, &record, said, public_url, now)?;
        }
        Ok(InvitationOut {
            id: invitation.id.clone(),
            expires_at: invitation.expires_at.and_utc(),
            link,
            slots: slots.into_iter().map(SlotOut::from).collect(),
            message: family::out(row, Some(MessageTemplate::MeetingInvitation)),
        })
    })
}

/// Revokes an invitation not answered yet: its link no longer opens.
pub fn revoke(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    invitation: &str,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    avip_db::write_transaction(conn, |conn| {
        load_for(conn, who, id, Action::Act)?;
        if !meetings::revoke(conn, id, invitation, to_db_time(now))? {
            return Err(DomainError::NotFound);
        }
        let mut ev = event(who, id, EventKind::MeetingInvitationRevoked, now);
        ev.data = Some(serde_json::json!({"invitation": invitation}).to_string());
        referrals::insert_event(conn, &ev)?;
        Ok(())
    })
}

/// Records the booked meeting held or not honoured, once it has begun.
pub fn record(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    body: MeetingRecord,
    now: DateTime<Utc>,
) -> Result<SlotOut, DomainError> {
    avip_db::write_transaction(conn, |conn| {
        let referral = load_for(conn, who, id, Action::Act)?;
        let Some(slot) = meetings::booking_of(conn, id)? else {
            return Err(DomainError::invalid(
                "outcome",
                "the family has booked no meeting",
            ));
        };
        if slot.starts_at.and_utc() > now {
            return Err(DomainError::invalid(
                "outcome",
                "the meeting has not begun yet",
            ));
        }
        if !meetings::record_outcome(conn, &slot.id, body.outcome, to_db_time(now))? {
            return Err(DomainError::invalid(
                "outcome",
                "the meeting is recorded already",
            ));
        }
        let mut ev = event(who, id, EventKind::MeetingRecorded, now);
        let waited = (slot.starts_at - referral.received_at).num_days();
        ev.data = Some(
            serde_json::json!({
                "outcome": body.outcome,
                "slot": slot.id,
                "starts_at": slot.starts_at.and_utc(),
                "days_from_referral": waited,
            })
            .to_string(),
        );
        referrals::insert_event(conn, &ev)?;
        referrals::touch(conn, id, to_db_time(now))?;
        meetings::find_slot(conn, &slot.id)?
            .map(SlotOut::from)
            .ok_or(DomainError::NotFound)
    })
}

/// What the family's page shows: her first name and the child's, the
/// crèche, the documents to bring, the free slots offered.
#[derive(Clone, Debug)]
pub struct LinkView {
    pub parent: String,
    pub child: String,
    pub creche: String,
    pub address: String,
    pub phone: String,
    /// The phone as a `tel:` link dials it.
    pub dial: String,
    /// (slot id, `mardi 15/12/2026 à 09 h 30`) of the slots still free.
    pub slots: Vec<(String, String)>,
}

/// What the family chose, as the page confirms it.
#[derive(Clone, Debug)]
pub enum Answered {
    Booked { when: String },
    Callback,
    Withdraw,
}

/// The invitation a link opens, if the link is good now: signed for it,
/// not expired, revoked or used, its referral open. Anything else is
/// `NotFound`, whatever the reason.
fn open(
    conn: &mut DbConnection,
    id: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(Invitation, ReferralRecord), DomainError> {
    let key = LinkKey::stored(conn, KEY_NAME)?.ok_or(DomainError::NotFound)?;
    if !key.verify(&format!("meeting:{id}"), token, now) {
        return Err(DomainError::NotFound);
    }
    let invitation = meetings::find_invitation(conn, id)?
        .filter(|i| i.revoked_at.is_none() && i.used_at.is_none())
        .filter(|i| i.expires_at.and_utc() >= now)
        .ok_or(DomainError::NotFound)?;
    let referral = referrals::get_referral(conn, &invitation.referral_id)?;
    if referral.status.is_closed() || referral.anonymised_at.is_some() {
        return Err(DomainError::NotFound);
    }
    Ok((invitation, referrals::record(conn, referral)?))
}

/// `9 h 30, mardi 15/12/2026` in Paris.
fn moment(t: DateTime<Utc>) -> String {
    fr::datetime(t)
}

fn view(
    conn: &mut DbConnection,
    invitation: &Invitation,
    record: &ReferralRecord,
    now: DateTime<Utc>,
) -> Result<LinkView, DomainError> {
    let creche = avip_db::creches::get(conn, &record.referral.creche_id, paris_date(now))?.creche;
    let slots = meetings::slots_by_id(conn, &invitation.slots())?
        .into_iter()
        .filter(|s| s.referral_id.is_none() && s.starts_at.and_utc() > now)
        .map(|s| (s.id, moment(s.starts_at.and_utc())))
        .collect();
    Ok(LinkView {
        parent: record.family.parent_first_name.clone(),
        child: (record.children.first())
            .map(|c| c.first_name.clone())
            .unwrap_or_default(),
        creche: creche.name,
        address: format!(
            "{}, {} {}",
            creche.address, creche.postal_code, creche.commune
        ),
        phone: creche
            .phone
            .as_deref()
            .map(phone_as_written)
            .unwrap_or_default(),
        dial: creche.phone.unwrap_or_default(),
        slots,
    })
}

/// `GET /app/rendez-vous/{id}/{token}`.
pub fn read_link(
    conn: &mut DbConnection,
    id: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<LinkView, DomainError> {
    let (invitation, record) = open(conn, id, token, now)?;
    view(conn, &invitation, &record, now)
}

/// The family's choice through its link, once, and what the page still
/// shows (the crèche); a slot taken meanwhile is refused on `slot` and the
/// link still answers.
pub fn answer_link(
    conn: &mut DbConnection,
    (id, token): (&str, &str),
    (choice, slot): (MeetingChoice, Option<&str>),
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<(LinkView, Answered), DomainError> {
    avip_db::write_transaction(conn, |conn| {
        let (invitation, record) = open(conn, id, token, now)?;
        let shown = LinkView {
            slots: Vec::new(),
            ..view(conn, &invitation, &record, now)?
        };
        let referral = &record.referral.id;
        let at = to_db_time(now);
        let system = (ActorKind::System, None);
        let slot = match (choice, slot) {
            (MeetingChoice::Slot, Some(slot)) => {
                let free = meetings::find_slot(conn, slot)?
                    .filter(|s| invitation.slots().contains(&s.id) && s.starts_at.and_utc() > now);
                match free {
                    Some(s) if meetings::book(conn, &s.id, referral, at)? => Some(s),
                    _ => {
                        return Err(DomainError::invalid(
                            "slot",
                            "this slot was just taken: choose another one",
                        ));
                    }
                }
            }
            (MeetingChoice::Slot, None) => {
                return Err(DomainError::invalid("slot", "choose a slot"));
            }
            _ => None,
        };
        if !meetings::answer(conn, id, (choice, slot.as_ref().map(|s| s.id.as_str())), at)? {
            return Err(DomainError::NotFound);
        }
        let answered = match slot {
            Some(slot) => booked(conn, (&record, id), &slot, public_url, now)?,
            None => {
                let kind = if choice == MeetingChoice::Callback {
                    EventKind::CallbackRequested
                } else {
                    EventKind::WithdrawalRequested
                };
                let mut ev = event_by(system, referral, kind, now);
                ev.data = Some(serde_json::json!({"invitation": id}).to_string());
                referrals::insert_event(conn, &ev)?;
                tell_coordinators(conn, (&record, id), kind, public_url, now)?;
                if choice == MeetingChoice::Callback {
                    Answered::Callback
                } else {
                    Answered::Withdraw
                }
            }
        };
        referrals::touch(conn, referral, at)?;
        Ok((shown, answered))
    })
}

/// The booking: on the timeline, confirmed to the family (an `.ics` by
/// e-mail), the coordinators told.
fn booked(
    conn: &mut DbConnection,
    (record, invitation): (&ReferralRecord, &str),
    slot: &Slot,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<Answered, DomainError> {
    let referral = &record.referral.id;
    let starts = slot.starts_at.and_utc();
    let mut ev = event_by(
        (ActorKind::System, None),
        referral,
        EventKind::MeetingBooked,
        now,
    );
    ev.data = Some(
        serde_json::json!({"slot": slot.id, "starts_at": starts, "minutes": slot.minutes})
            .to_string(),
    );
    referrals::insert_event(conn, &ev)?;
    let when = moment(starts);
    tell_family(
        conn,
        record,
        slot,
        MessageTemplate::MeetingConfirmation,
        now,
    )?;
    tell_coordinators(
        conn,
        (record, invitation),
        EventKind::MeetingBooked,
        public_url,
        now,
    )?;
    Ok(Answered::Booked { when })
}

/// Confirms or reminds the meeting by the family's channel; a family that
/// can no longer be written to (it changed its preference) is not, and
/// the coordinator sees the meeting on her worklist.
fn tell_family(
    conn: &mut DbConnection,
    record: &ReferralRecord,
    slot: &Slot,
    template: MessageTemplate,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let starts = slot.starts_at.and_utc();
    let when = moment(starts);
    let creche = avip_db::creches::get(conn, &slot.creche_id, paris_date(now))?.creche;
    let calendar = calendar(slot, &creche, now);
    let request = Asked {
        template,
        channel: None,
        text: None,
    };
    let extra = Extra {
        when: Some(&when),
        calendar: Some(calendar),
        ..Extra::default()
    };
    let key = format!("{template}:{}", slot.id);
    match family::queue(
        conn,
        record,
        &request,
        extra,
        &key,
        (ActorKind::System, None),
        now,
    ) {
        Err(DomainError::Invalid(_)) => {
            tracing::info!(referral = %record.referral.id, %template, "no message sent: the family cannot be written to");
            Ok(())
        }
        other => other.map(drop),
    }
}

/// The meeting as a calendar event (`.ics`).
fn calendar(slot: &Slot, creche: &avip_db::creches::Creche, now: DateTime<Utc>) -> String {
    use icalendar::{Calendar, Component, Event, EventLike};
    let starts = slot.starts_at.and_utc();
    let event = Event::new()
        .uid(&format!("{}@avip", slot.id))
        .timestamp(now)
        .summary(&format!("Premier rendez-vous à la crèche {}", creche.name))
        .location(&format!(
            "{}, {} {}",
            creche.address, creche.postal_code, creche.commune
        ))
        .starts(starts)
        .ends(starts + Duration::minutes(i64::from(slot.minutes)))
        .done();
    Calendar::new().push(event).done().to_string()
}

/// The crèche's coordinators hear what the family chose, once per answer
/// (an invitation is answered once).
fn tell_coordinators(
    conn: &mut DbConnection,
    (record, invitation): (&ReferralRecord, &str),
    kind: EventKind,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<(), QueryError> {
    let r = &record.referral;
    let (title, intro) = match kind {
        EventKind::MeetingBooked => (
            "rendez-vous choisi par la famille",
            "La famille a choisi son premier rendez-vous par le lien reçu.",
        ),
        EventKind::CallbackRequested => (
            "la famille demande à être rappelée",
            "La famille demande, par le lien reçu, que la crèche la rappelle.",
        ),
        _ => (
            "la famille n’a plus besoin de place",
            "La famille dit, par le lien reçu, ne plus avoir besoin de place : confirmez le retrait de l’orientation.",
        ),
    };
    let notice = avip_sla_engine::mail::Notice {
        reference: r.reference.clone(),
        title: format!("Orientation {} : {title}", r.reference),
        intro: intro.to_owned(),
        rows: Vec::new(),
        link: format!(
            "{}/app/orientations/{}",
            public_url.trim_end_matches('/'),
            r.id
        ),
        why: avip_sla_engine::mail::AS_COORDINATOR,
    };
    let key = format!("meeting_notice:{invitation}:{kind}");
    crate::workflow::notices::tell_coordinators(
        conn,
        (&r.creche_id, Some(&r.id)),
        &key,
        &notice,
        now,
    )?;
    Ok(())
}

/// The day before each booked meeting, its reminder to the family: once
/// per meeting (a mark taken with it), checked by a read first so a tick
/// with nothing to remind takes no writer's turn.
pub fn run_due(
    pool: &avip_db::Pool,
    gate: &avip_db::WriteGate,
    now: DateTime<Utc>,
) -> Result<usize, DomainError> {
    let tomorrow = paris_date(now) + Duration::days(1);
    let from = avip_sla_engine::clock::paris_midnight(tomorrow);
    let to = avip_sla_engine::clock::paris_midnight(tomorrow + Duration::days(1));
    let mut conn = avip_db::blocking::checkout(pool)?;
    let booked = meetings::booked_between(&mut conn, to_db_time(from), to_db_time(to))?;
    let keys: Vec<String> = booked.iter().map(reminder_key).collect();
    let taken = avip_db::territory::marks_taken(&mut conn, &keys)?;
    drop(conn);
    let due: Vec<Slot> = (booked.into_iter())
        .filter(|s| !taken.contains(&reminder_key(s)))
        .collect();
    if due.is_empty() {
        return Ok(0);
    }
    avip_db::blocking::write_blocking(pool, gate, move |conn| {
        let mut reminded = 0;
        for slot in &due {
            avip_db::write_transaction(conn, |conn| remind(conn, slot, now))?;
            reminded += 1;
        }
        Ok(reminded)
    })
}

fn reminder_key(slot: &Slot) -> String {
    format!("meeting_reminder:{}", slot.id)
}

fn remind(conn: &mut DbConnection, slot: &Slot, now: DateTime<Utc>) -> Result<(), DomainError> {
    if !avip_db::territory::take_mark(conn, &reminder_key(slot), to_db_time(now))? {
        return Ok(());
    }
    let Some(referral) = &slot.referral_id else {
        return Ok(());
    };
    let referral = referrals::get_referral(conn, referral)?;
    if referral.status.is_closed() || referral.anonymised_at.is_some() {
        return Ok(());
    }
    let record = referrals::record(conn, referral)?;
    tell_family(conn, &record, slot, MessageTemplate::MeetingReminder, now)
}

/// The referral page's view of the first meeting.
#[derive(Clone, Debug, Default)]
pub struct MeetingPanel {
    /// The crèche's free slots to come: (id, `15/12/2026 à 09 h 30`).
    pub free: Vec<(String, String)>,
    /// The family's booking: when, what was recorded, whether it began.
    pub booked: Option<(String, Option<MeetingOutcome>, bool)>,
    /// An invitation waiting for the family's answer: until when.
    pub waiting_until: Option<String>,
    /// What the family answered last, when it did not book.
    pub answered: Option<MeetingChoice>,
}

/// What the page shows of the first meeting (the crèche's coordinators).
pub fn panel(
    conn: &mut DbConnection,
    record: &ReferralRecord,
    now: DateTime<Utc>,
) -> Result<MeetingPanel, DomainError> {
    let r = &record.referral;
    let free = meetings::slots_of(conn, &r.creche_id, to_db_time(now))?
        .into_iter()
        .filter(|s| s.referral_id.is_none())
        .map(|s| (s.id, moment(s.starts_at.and_utc())))
        .collect();
    let booked = meetings::booking_of(conn, &r.id)?.map(|s| {
        let starts = s.starts_at.and_utc();
        (moment(starts), s.outcome, starts <= now)
    });
    let invitations = meetings::invitations_of(conn, &r.id)?;
    let last = invitations.last();
    let waiting_until = last
        .filter(|i| i.used_at.is_none() && i.revoked_at.is_none())
        .filter(|i| i.expires_at.and_utc() > now)
        .map(|i| fr::datetime(i.expires_at.and_utc()));
    let answered = last
        .and_then(|i| i.choice)
        .filter(|c| *c != MeetingChoice::Slot);
    Ok(MeetingPanel {
        free,
        booked,
        waiting_until,
        answered,
    })
}

/// The page's invitation: new slots (Paris dates and times) proposed with
/// it, and the crèche's free ones ticked, in one step.
pub struct PageInvitation {
    pub slot_ids: Vec<String>,
    pub new: Vec<(chrono::NaiveDate, NaiveTime)>,
    pub minutes: i32,
}

/// Proposes the new slots and invites the family to them and the ticked
/// ones, in one transaction.
pub fn invite_from_page(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    asked: PageInvitation,
    (public_url, now): (&str, DateTime<Utc>),
) -> Result<InvitationOut, DomainError> {
    avip_db::write_transaction(conn, |conn| {
        let referral = load_for(conn, who, id, Action::Act)?;
        let mut slot_ids = asked.slot_ids;
        if !asked.new.is_empty() {
            let slots = (asked.new.iter())
                .map(|(day, time)| SlotIn {
                    starts_at: paris_time(*day, *time),
                    minutes: asked.minutes,
                })
                .collect();
            let made = propose(
                conn,
                who,
                referral.creche_id.as_str(),
                ProposeSlots { slots },
                now,
            )
            .map_err(|e| renamed(e, "slots", "nouveau"))?;
            slot_ids.extend(made.into_iter().map(|s| s.id));
        }
        let body = InviteRequest {
            slot_ids,
            channel: None,
        };
        invite(conn, who, id, body, (public_url, now))
    })
}

/// A day and an hour in Paris, as an instant (the earlier one when the
/// clocks go back; after the hour that does not exist when they go forward).
fn paris_time(day: chrono::NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    use chrono::TimeZone;
    let local = day.and_time(time);
    chrono_tz::Europe::Paris
        .from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            chrono_tz::Europe::Paris
                .from_local_datetime(&(local + Duration::hours(1)))
                .earliest()
        })
        .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
}

/// A refusal of the slots' fields named as the page's fields.
fn renamed(e: DomainError, from: &str, to: &str) -> DomainError {
    match e {
        DomainError::Invalid(mut fields) => {
            for f in &mut fields {
                if let Some(rest) = f.field.strip_prefix(from) {
                    f.field = format!("{to}{rest}");
                }
            }
            DomainError::Invalid(fields)
        }
        other => other,
    }
}

/// An invitation as the family's access answer shows it.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct InvitationRecord {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub used_at: Option<DateTime<Utc>>,
    /// What the family chose through the link.
    pub choice: Option<MeetingChoice>,
}

/// The family's first meetings: the invitations sent and the slots it
/// booked, for its access answer.
pub(crate) fn of_family(
    conn: &mut DbConnection,
    id: &ReferralId,
) -> Result<(Vec<InvitationRecord>, Vec<SlotOut>), QueryError> {
    let invitations = (meetings::invitations_of(conn, id)?.into_iter())
        .map(|i| InvitationRecord {
            id: i.id,
            created_at: i.created_at.and_utc(),
            expires_at: i.expires_at.and_utc(),
            revoked_at: i.revoked_at.map(|t| t.and_utc()),
            used_at: i.used_at.map(|t| t.and_utc()),
            choice: i.choice,
        })
        .collect();
    let booked = (meetings::booked_by(conn, id)?.into_iter())
        .map(SlotOut::from)
        .collect();
    Ok((invitations, booked))
}
