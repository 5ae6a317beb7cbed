//! The referral's use cases: intake, the coordinator's moves, the
//! enrollment and its contract, the exit, notes, follow-ups, and the reads
//! of a referral and its timeline. Each runs in one transaction on the
//! connection it is given; the rules it applies live in
//! `crate::domain::referral`, the permissions in `crate::access`, the
//! SLA timers in `avip_sla_engine::lifecycle`.

use avip_db::model::{
    ActorKind, BookingKind, ChildId, EventId, EventKind, FollowUpId, FreedCause, ReferralId,
    ReferralStatus, Role, WebhookEvent, from_db_time, to_db_time,
};
use avip_db::page::{Page, PageRequest};
use avip_db::places::Period;
use avip_db::referrals::{
    self, Child, Enrollment, Event, Family, FollowUp, Needs, NewReferral, Referral, ReferralFilter,
    ReferralRecord, StatusChange,
};
use avip_db::{DbConnection, creches, timeline, webhooks};
use avip_sla_engine::clock::paris_date;
use avip_sla_engine::{ActivePolicy, Policy, lifecycle};
use chrono::{DateTime, Datelike, Utc};

use crate::access::{Action, ReferralOwners, Resource, require};
use crate::auth::{Principal, Subject};
use crate::domain::referral::{
    Contract, ContractChange, EnrollmentChange, EnrollmentRequest, FollowUpRequest, HoursIn, Move,
    NoteRequest, ReferralDraft, ReferralRequest, TransitionDraft, TransitionRequest, Via,
    invalid_transition, plan_move,
};
use crate::domain::{DomainError, Weekday};
use crate::workflow::notices::{self, News};
use crate::workflow::places::{self, Rules};
use crate::workflow::{calendar, freed};

pub(crate) fn actor(who: &Principal) -> (ActorKind, Option<String>) {
    match &who.subject {
        Subject::User(id) => (ActorKind::User, Some(id.to_string())),
        Subject::Client(id) => (ActorKind::ApiClient, Some(id.to_string())),
    }
}

pub(crate) fn event(
    who: &Principal,
    referral: &ReferralId,
    kind: EventKind,
    at: DateTime<Utc>,
) -> Event {
    event_by(actor(who), referral, kind, at)
}

/// An event of `kind` on `referral` by this actor (a person, a client, or
/// the service itself), its details left for the caller.
pub(crate) fn event_by(
    (actor_kind, actor_id): (ActorKind, Option<String>),
    referral: &ReferralId,
    kind: EventKind,
    at: DateTime<Utc>,
) -> Event {
    Event {
        id: EventId::generate(),
        referral_id: referral.clone(),
        kind,
        occurred_at: to_db_time(at),
        actor_kind,
        actor_id,
        from_status: None,
        to_status: None,
        reason: None,
        note: None,
        data: None,
    }
}

/// Writes an event of `kind` by the service itself on `referral`, with
/// its details (`data`).
pub(crate) fn record_system_event(
    conn: &mut DbConnection,
    referral: &ReferralId,
    kind: EventKind,
    data: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<(), avip_db::QueryError> {
    let mut ev = event_by((ActorKind::System, None), referral, kind, at);
    ev.data = Some(data.to_string());
    referrals::insert_event(conn, &ev)
}

/// What intake answers: the referral, and whether it already existed under
/// the same `Idempotency-Key`.
pub struct Intake {
    pub record: ReferralRecord,
    pub replayed: bool,
}

/// A prescriber posts a referral: the one entry point of the API and the
/// workspace. Every field is checked first (an invalid request spends
/// nothing of the organisation's intake rate), then the rate, then
/// [`intake`] writes it. `key`: the `Idempotency-Key` (or the form's).
pub async fn create(
    app: &crate::App,
    who: &Principal,
    request: ReferralRequest,
    key: Option<String>,
    now: DateTime<Utc>,
) -> Result<Intake, DomainError> {
    let draft = prepare(who, request, now)?;
    app.limits.intake(&who.organization_id)?;
    let (who, policy, links) = (who.clone(), app.policy.clone(), app.public_url.clone());
    app.write(move |conn| intake(conn, &who, &draft, (key.as_deref(), &links), &policy, now))
        .await
}

/// Checks that the caller may post referrals, then every field of the
/// request (outside the write, which [`intake`] then does).
pub fn prepare(
    who: &Principal,
    request: ReferralRequest,
    now: DateTime<Utc>,
) -> Result<ReferralDraft, DomainError> {
    require(who, Action::Create, Resource::Referral(None))?;
    ReferralDraft::parse(request, paris_date(now))
}

/// Stores a posted referral in one transaction: idempotency, the crèche's
/// visibility, the active-referral check, a gapless reference, the row, the
/// family, the children and the `created` event; the crèche's coordinators
/// told at once (`referral_received`).
pub fn intake(
    conn: &mut DbConnection,
    who: &Principal,
    draft: &ReferralDraft,
    (key, public_url): (Option<&str>, &str),
    policy: &ActivePolicy,
    now: DateTime<Utc>,
) -> Result<Intake, DomainError> {
    let attempt = |conn: &mut DbConnection| {
        avip_db::write_transaction(conn, |conn| {
            let intake = insert_referral(conn, who, draft, key, policy, now)?;
            if !intake.replayed {
                crate::workflow::notices::tell_coordinators_of_arrival(
                    conn,
                    &intake.record.referral,
                    &crate::workflow::notices::Arrival::Intake,
                    public_url,
                    now,
                )?;
                crate::workflow::family::acknowledge_at_intake(conn, &intake.record, now)?;
            }
            Ok(intake)
        })
    };
    let outcome = match attempt(conn) {
        // A concurrent request with the same key or the same child won the
        // race on another connection (a unique index refused this one): the
        // second look finds what it wrote.
        Err(DomainError::Duplicate { constraint }) => {
            tracing::debug!(%constraint, "intake lost a race; looking again");
            attempt(conn)
        }
        other => other,
    };
    if matches!(&outcome, Ok(intake) if !intake.replayed) {
        crate::metrics::referral_received();
    }
    outcome
}

fn insert_referral(
    conn: &mut DbConnection,
    who: &Principal,
    draft: &ReferralDraft,
    key: Option<&str>,
    policy: &ActivePolicy,
    now: DateTime<Utc>,
) -> Result<Intake, DomainError> {
    if let Some(key) = key
        && let Some(replayed) = replay(conn, who, draft, key)?
    {
        return Ok(replayed);
    }
    let creche = creches::find(conn, &draft.creche_id, paris_date(now))?
        .filter(|c| who.role == Role::Admin || c.departement == who.departement)
        .ok_or_else(|| DomainError::invalid("creche_id", "no such crèche in your département"))?;
    let child_keys = draft.child_keys();
    refuse_a_second_claim(conn, who, &creche.creche.id, &child_keys)?;
    let year = paris_date(now).year();
    let number = referrals::next_reference_number(conn, &creche.departement, year)?;
    let id = ReferralId::generate();
    let at = to_db_time(now);
    let referral = Referral {
        idempotency_key: key.map(str::to_owned),
        request_fingerprint: Some(draft.fingerprint.clone()),
        sla: lifecycle::on_intake(policy, now),
        ..referral_of(
            draft,
            (
                &id,
                format!("AVIP-{}-{year}-{number:05}", creche.departement),
            ),
            (who.organization_id.clone(), who.subject.to_claim()),
            at,
        )
    };
    let family = family_of(draft, &id);
    let children = children_of(draft, &id);
    let needs = needs_of(draft, &id);
    let mut created = event(who, &id, EventKind::Created, now);
    created.to_status = Some(ReferralStatus::Received);
    let new = NewReferral {
        referral,
        family,
        children,
        needs,
        child_keys,
        event: created,
    };
    referrals::insert(conn, &new)?;
    webhooks::enqueue(conn, &id, WebhookEvent::ReferralCreated, to_db_time(now))?;
    tracing::info!(referral = %id, reference = %new.referral.reference, "referral received");
    Ok(Intake {
        record: ReferralRecord {
            referral: new.referral,
            family: new.family,
            children: new.children,
            enrollment: None,
            needs: new.needs,
            planned_exit: None,
        },
        replayed: false,
    })
}

/// The referral an idempotency key already created, when the same request
/// comes again; a different request with the key is refused.
fn replay(
    conn: &mut DbConnection,
    who: &Principal,
    draft: &ReferralDraft,
    key: &str,
) -> Result<Option<Intake>, DomainError> {
    let Some((id, fingerprint)) =
        referrals::find_by_idempotency_key(conn, &who.organization_id, key)?
    else {
        return Ok(None);
    };
    if fingerprint.as_deref() != Some(draft.fingerprint.as_str()) {
        return Err(DomainError::IdempotencyKeyReused);
    }
    Ok(Some(Intake {
        record: referrals::get(conn, &id)?,
        replayed: true,
    }))
}

/// A new referral's row from its checked request: received at `at` by
/// `prescriber`, written by `created_by`, waiting for its first response,
/// its clock not armed (intake arms it; an import computes it).
pub(crate) fn referral_of(
    draft: &ReferralDraft,
    (id, reference): (&ReferralId, String),
    (prescriber, created_by): (avip_db::model::OrganizationId, String),
    at: chrono::NaiveDateTime,
) -> Referral {
    Referral {
        id: id.clone(),
        reference,
        prescriber_organization_id: prescriber,
        creche_id: draft.creche_id.clone(),
        created_by,
        idempotency_key: None,
        request_fingerprint: None,
        referent_name: draft.referent_name.clone(),
        referent_email: draft.referent_email.clone(),
        referent_phone: draft.referent_phone.clone(),
        parent_situation: draft.situation,
        single_parent: draft.single_parent,
        qpv_resident: draft.qpv_resident,
        desired_start_date: Some(draft.desired_start_date),
        days_per_week: draft.days_per_week,
        atypical_hours: draft.atypical_hours,
        insertion_project_kind: draft.project_kind,
        consent_given: true,
        consent_date: draft.consent_date,
        status: ReferralStatus::Received,
        received_at: at,
        first_response_at: None,
        closed_at: None,
        updated_at: at,
        anonymised_at: None,
        closing_reason: None,
        sla: Default::default(),
    }
}

/// The family's personal data, kept apart from the referral's facts.
pub(crate) fn family_of(draft: &ReferralDraft, id: &ReferralId) -> Family {
    Family {
        referral_id: id.clone(),
        parent_first_name: draft.parent_first_name.clone(),
        parent_last_name: draft.parent_last_name.clone(),
        parent_phone: draft.parent_phone.clone(),
        parent_contact: draft.parent_contact,
        parent_email: draft.parent_email.clone(),
        parent_postal_code: draft.parent_postal_code.clone(),
        parent_commune: draft.parent_commune.clone(),
        france_travail_id: draft.france_travail_id.clone(),
        needs_notes: draft.needs_notes.clone(),
        insertion_project_description: draft.project_description.clone(),
        pseudonym: None,
        age_bracket: None,
    }
}

/// `409 duplicate_referral` when an active referral at the crèche already
/// claims one of the children (its id only if it is the caller's own).
pub(crate) fn refuse_a_second_claim(
    conn: &mut DbConnection,
    who: &Principal,
    creche: &avip_db::model::CrecheId,
    child_keys: &[String],
) -> Result<(), DomainError> {
    if let Some(existing) = referrals::find_claim(conn, creche, child_keys)? {
        // Another organisation's referral is not this caller's to read.
        let holder = referrals::get_referral(conn, &existing)?.prescriber_organization_id;
        let existing = (holder == who.organization_id).then_some(existing);
        return Err(DomainError::DuplicateReferral { existing });
    }
    Ok(())
}

/// The weekdays and hours the family needs, when the prescriber named them.
pub(crate) fn needs_of(draft: &ReferralDraft, id: &ReferralId) -> Option<Needs> {
    draft.days.map(|days| Needs {
        referral_id: id.clone(),
        days,
        hours_from: draft.hours.as_ref().map(|h| h.from.clone()),
        hours_to: draft.hours.as_ref().map(|h| h.to.clone()),
    })
}

/// The children, in the order the prescriber gave them.
pub(crate) fn children_of(draft: &ReferralDraft, id: &ReferralId) -> Vec<Child> {
    draft
        .children
        .iter()
        .zip(0..)
        .map(|((name, birth), position)| Child {
            id: ChildId::generate(),
            referral_id: id.clone(),
            position,
            first_name: name.clone(),
            birth_date: *birth,
        })
        .collect()
}

/// Loads a referral and checks that `who` may do `action` to it (404 when
/// it is not theirs to see).
pub fn load_for(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    action: Action,
) -> Result<Referral, DomainError> {
    let referral = referrals::get_referral(conn, id)?;
    require(who, Action::Read, owners(&referral))?;
    require(who, action, owners(&referral))?;
    Ok(referral)
}

fn owners(r: &Referral) -> Resource<'_> {
    Resource::Referral(Some(ReferralOwners {
        creche_id: &r.creche_id,
        prescriber: &r.prescriber_organization_id,
    }))
}

/// Applies a permitted move: the status (only if nobody moved it first),
/// the claim on the children when it closes, and the timeline event.
pub(crate) fn apply_move(
    conn: &mut DbConnection,
    referral: &ReferralId,
    step: Move,
    closing_reason: Option<String>,
    mut ev: Event,
) -> Result<(), DomainError> {
    let at = ev.occurred_at;
    let moved = referrals::change_status(
        conn,
        referral,
        &StatusChange {
            from: step.from,
            to: step.to,
            at,
            first_response: step.first_response,
            closing_reason: closing_reason.clone(),
            stop_first_response_clock: lifecycle::on_move(step.from),
        },
    )?;
    if !moved {
        let now = referrals::get_referral(conn, referral)?.status;
        return Err(invalid_transition(
            now,
            step.to,
            format!("the referral was just moved to {now} by someone else"),
        ));
    }
    if step.to.is_closed() {
        referrals::release_claims(conn, referral)?;
    }
    ev.from_status = Some(step.from);
    ev.to_status = Some(step.to);
    ev.reason = ev.reason.or(closing_reason);
    referrals::insert_event(conn, &ev)?;
    webhooks::enqueue(conn, referral, WebhookEvent::StatusChanged, at)?;
    match step.to {
        ReferralStatus::Enrolled => {
            webhooks::enqueue(conn, referral, WebhookEvent::Enrolled, at)?;
        }
        ReferralStatus::Exited => {
            webhooks::enqueue(conn, referral, WebhookEvent::Exited, at)?;
        }
        _ => {}
    }
    crate::metrics::referral_moved(step.to);
    Ok(())
}

/// Moves a referral through `/transitions`. An offer holds the family's
/// places on the weekdays it needs for `rules.hold` (refused where one of
/// those days is full, unless forced); answering it (declined, withdrawn)
/// releases them.
pub fn transition(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    request: TransitionRequest,
    rules: Rules,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, DomainError> {
    require(who, Action::Read, Resource::Referral(None))?;
    let draft = &TransitionDraft::parse(request)?;
    avip_db::write_transaction(conn, |conn| {
        let action = if draft.to == ReferralStatus::Withdrawn {
            Action::Withdraw
        } else {
            Action::Act
        };
        let referral = load_for(conn, who, id, action)?;
        let step = plan_move(referral.status, draft.to, Via::Transitions)?;
        let mut ev = event(who, id, EventKind::Transition, now);
        ev.note = draft.note.clone();
        apply_move(conn, id, step, draft.reason.clone(), ev)?;
        let today = paris_date(now);
        if step.from == ReferralStatus::Offered && step.to == ReferralStatus::Offered {
            offer_ended(conn, &referral, today)?;
        }
        if step.from == ReferralStatus::Offered {
            // Offered again, the old hold gives way to the new one; answered
            // otherwise, the place frees for the waiting families.
            if step.to != ReferralStatus::Offered {
                let freed = (id, BookingKind::Offer);
                freed::booking_freed(conn, freed, today, FreedCause::OfferRefused, now)?;
            }
            places::release_offer(conn, id, today)?;
        }
        if step.to == ReferralStatus::Offered {
            let days = needed_days(conn, id)?;
            let needed = places::places_of(conn, id)?;
            let period = places::hold_period(rules.hold, today);
            let room = Room {
                places: needed,
                days,
                period,
                zone: rules.zone,
            };
            make_room(conn, who, &referral, room, draft.force_reason.as_ref(), now)?;
            places::hold(conn, id, &referral.creche_id, (rules.hold, days), today)?;
        }
        if action == Action::Act {
            let news = News::Decision {
                to: step.to,
                reason: draft.reason.as_deref(),
            };
            notices::tell_referent(conn, &referral, &news, public_url, now)?;
        }
        tracing::info!(referral = %id, from = %step.from, to = %step.to, "referral moved");
        Ok(referrals::get(conn, id)?)
    })
}

/// An offer is made again only once its hold has ended: a decision sent
/// twice is refused the second time.
fn offer_ended(
    conn: &mut DbConnection,
    referral: &Referral,
    today: chrono::NaiveDate,
) -> Result<(), DomainError> {
    let end = avip_db::places::booking_end(conn, &referral.id, BookingKind::Offer)?;
    match end {
        Some(end) if end > today => Err(invalid_transition(
            ReferralStatus::Offered,
            ReferralStatus::Offered,
            format!(
                "the offer still holds its places until {}: it can be made again once it has expired",
                end.pred_opt().unwrap_or(end)
            ),
        )),
        _ => Ok(()),
    }
}

/// Withdraws an open referral for an erasure request (the caller checked
/// the right to erase): `409 invalid_transition` for an enrolled child,
/// whose exit is recorded first.
pub(crate) fn withdraw_for_erasure(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    avip_db::write_transaction(conn, |conn| {
        let referral = referrals::get_referral(conn, id)?;
        let step = plan_move(referral.status, ReferralStatus::Withdrawn, Via::Transitions)?;
        let ev = event(who, id, EventKind::Transition, now);
        apply_move(conn, id, step, Some("other".to_owned()), ev)?;
        if step.from == ReferralStatus::Offered {
            places::release_offer(conn, id, paris_date(now))?;
        }
        tracing::info!(referral = %id, from = %step.from, "referral withdrawn for an erasure request");
        Ok(())
    })
}

fn contract_json(contract: &Contract) -> serde_json::Value {
    serde_json::json!({
        "start_date": contract.start_date,
        "contract_end_date": contract.contract_end_date,
        "days": contract.days,
        "hours": contract.hours,
    })
}

/// The weekdays the family needs, as a mask: every day for a referral that
/// named a number of days a week only.
fn needed_days(conn: &mut DbConnection, id: &ReferralId) -> Result<i32, DomainError> {
    Ok(referrals::needs_of(conn, id)?.map_or(avip_db::places::EVERY_DAY, |n| n.days))
}

/// What a step asks of the crèche's places: this many, on these weekdays
/// (a mask), over the period, by the crèche's calendar.
struct Room {
    places: i32,
    days: i32,
    period: Period,
    zone: avip_sla_engine::policy::HolidayZone,
}

/// Checks that the crèche has room for the referral's children on each
/// open day of the period that falls on one of `room.days`; when it has
/// not, the coordinator's reason to go over capacity goes on the timeline,
/// and without one it is `409`.
fn make_room(
    conn: &mut DbConnection,
    who: &Principal,
    referral: &Referral,
    room: Room,
    force_reason: Option<&String>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let id = &referral.id;
    let Room {
        places: needed,
        days,
        period,
        zone,
    } = room;
    let at = (&referral.creche_id, id);
    let Some(day) = places::first_full_day(conn, at, (needed, days), period, zone)? else {
        return Ok(());
    };
    let Some(reason) = force_reason else {
        return Err(DomainError::NoFreePlace {
            first_full_day: day,
            places: needed,
        });
    };
    let mut ev = event(who, id, EventKind::CapacityOverride, now);
    ev.note = Some(reason.clone());
    ev.data = Some(
        serde_json::json!({"first_full_day": day, "places": needed,
            "from": period.from, "to": period.to, "days": calendar::weekdays(days)})
        .to_string(),
    );
    referrals::insert_event(conn, &ev)?;
    tracing::warn!(referral = %id, first_full_day = %day, "over capacity");
    Ok(())
}

/// `offered → enrolled`: the contract, the place it occupies (refused where
/// none is free unless forced), the end of the offer's hold and the timers.
pub fn enroll(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    request: EnrollmentRequest,
    policy: &Policy,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, DomainError> {
    require(who, Action::Read, Resource::Referral(None))?;
    let draft = &request.parse(paris_date(now))?;
    let contract = &draft.contract;
    avip_db::write_transaction(conn, |conn| {
        let referral = load_for(conn, who, id, Action::Act)?;
        let step = plan_move(referral.status, ReferralStatus::Enrolled, Via::Enrollment)?;
        let needed = places::places_of(conn, id)?;
        let days = calendar::mask(&contract.days);
        let room = Room {
            places: needed,
            days,
            period: Period {
                from: contract.start_date,
                to: contract.contract_end_date,
            },
            zone: policy.holiday_zone,
        };
        // The family's own offer no longer holds once the child is enrolled.
        places::release_offer(conn, id, paris_date(now))?;
        make_room(conn, who, &referral, room, draft.force_reason.as_ref(), now)?;
        places::occupy(
            conn,
            id,
            &referral.creche_id,
            (needed, days),
            contract.start_date,
            contract.contract_end_date,
        )?;
        let at = to_db_time(now);
        referrals::insert_enrollment(
            conn,
            &Enrollment {
                referral_id: id.clone(),
                start_date: contract.start_date,
                contract_end_date: contract.contract_end_date,
                days: serde_json::to_string(&contract.days).unwrap_or_default(),
                hours_from: contract.hours.as_ref().map(|h| h.from.clone()),
                hours_to: contract.hours.as_ref().map(|h| h.to.clone()),
                renewals: 0,
                exit_date: None,
                exit_reason: None,
                exit_employment_status: None,
                positive_exit: None,
                childcare_solution: None,
                exit_note: None,
                created_at: at,
                updated_at: at,
            },
        )?;
        let mut ev = event(who, id, EventKind::Enrollment, now);
        ev.note = draft.note.clone();
        ev.data = Some(contract_json(contract).to_string());
        apply_move(conn, id, step, None, ev)?;
        let news = News::Enrolled {
            start: contract.start_date,
        };
        notices::tell_referent(conn, &referral, &news, public_url, now)?;
        lifecycle::on_enrollment(
            conn,
            policy,
            id,
            contract.start_date,
            contract.contract_end_date,
        )?;
        Ok(referrals::get(conn, id)?)
    })
}

/// The contract an enrollment row holds.
pub fn contract_of(e: &Enrollment) -> Contract {
    Contract {
        start_date: e.start_date,
        contract_end_date: e.contract_end_date,
        days: days_of(&e.days),
        hours: match (&e.hours_from, &e.hours_to) {
            (Some(from), Some(to)) => Some(HoursIn {
                from: from.clone(),
                to: to.clone(),
            }),
            _ => None,
        },
    }
}

pub(crate) fn not_enrolled(status: ReferralStatus) -> DomainError {
    invalid_transition(
        status,
        ReferralStatus::Enrolled,
        format!("the referral is {status}: only an enrolled child's contract can change"),
    )
}

/// A contract change asks for room on the weekdays it adds (from their
/// first day to the end of the current contract) and on every weekday of
/// the days it adds at the end.
fn make_room_for_change(
    conn: &mut DbConnection,
    who: &Principal,
    referral: &Referral,
    (before, change): (&Contract, &ContractChange),
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let id = &referral.id;
    let zone = policy.holiday_zone;
    let needed = places::places_of(conn, id)?;
    let c = &change.contract;
    let (old_days, new_days) = (calendar::mask(&before.days), calendar::mask(&c.days));
    let force = change.force_reason.as_ref();
    let last_day = before.contract_end_date.min(c.contract_end_date);
    if new_days & !old_days != 0 && change.days_from <= last_day {
        let room = Room {
            places: needed,
            days: new_days & !old_days,
            period: Period {
                from: change.days_from,
                to: last_day,
            },
            zone,
        };
        make_room(conn, who, referral, room, force, now)?;
    }
    if c.contract_end_date > before.contract_end_date {
        let room = Room {
            places: needed,
            days: new_days,
            period: Period {
                from: before.contract_end_date + chrono::Days::new(1),
                to: c.contract_end_date,
            },
            zone,
        };
        make_room(conn, who, referral, room, force, now)?;
    }
    Ok(())
}

pub fn change_enrollment(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    change: EnrollmentChange,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, DomainError> {
    require(who, Action::Read, Resource::Referral(None))?;
    avip_db::write_transaction(conn, |conn| {
        let referral = load_for(conn, who, id, Action::Act)?;
        if referral.status != ReferralStatus::Enrolled {
            return Err(not_enrolled(referral.status));
        }
        let mut enrollment =
            referrals::enrollment(conn, id)?.ok_or_else(|| not_enrolled(referral.status))?;
        let before = contract_of(&enrollment);
        let change = change.apply(before.clone(), paris_date(now))?;
        let c = &change.contract;
        make_room_for_change(conn, who, &referral, (&before, &change), policy, now)?;
        let (old_days, new_days) = (calendar::mask(&before.days), calendar::mask(&c.days));
        // A planned exit still ends the booking on its day.
        let last = avip_db::exits::of(conn, id)?.map_or(c.contract_end_date, |plan| {
            plan.exit_date.min(c.contract_end_date)
        });
        if c.contract_end_date != before.contract_end_date {
            places::occupy_until(conn, id, last, now)?;
        }
        if new_days != old_days {
            places::occupy_days(conn, id, change.days_from, new_days)?;
        }
        enrollment.contract_end_date = c.contract_end_date;
        enrollment.days = serde_json::to_string(&c.days).unwrap_or_default();
        enrollment.hours_from = c.hours.as_ref().map(|h| h.from.clone());
        enrollment.hours_to = c.hours.as_ref().map(|h| h.to.clone());
        if change.renewal {
            enrollment.renewals += 1;
        }
        enrollment.updated_at = to_db_time(now);
        referrals::save_enrollment(conn, &enrollment)?;
        if c.contract_end_date != before.contract_end_date {
            lifecycle::on_contract_change(conn, policy, id, c.contract_end_date)?;
        }
        let kind = if change.renewal {
            EventKind::Renewal
        } else {
            EventKind::EnrollmentAmended
        };
        let mut ev = event(who, id, kind, now);
        ev.note = change.note;
        ev.data = Some(
            serde_json::json!({"before": contract_json(&before), "after": contract_json(c)})
                .to_string(),
        );
        referrals::insert_event(conn, &ev)?;
        referrals::touch(conn, id, to_db_time(now))?;
        Ok(referrals::get(conn, id)?)
    })
}

pub fn add_note(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    request: NoteRequest,
    now: DateTime<Utc>,
) -> Result<Event, DomainError> {
    require(who, Action::Read, Resource::Referral(None))?;
    let note = request.parse()?;
    avip_db::write_transaction(conn, |conn| {
        load_for(conn, who, id, Action::Annotate)?;
        let mut ev = event(who, id, EventKind::Note, now);
        ev.note = Some(note);
        referrals::insert_event(conn, &ev)?;
        referrals::touch(conn, id, to_db_time(now))?;
        Ok(ev)
    })
}

pub fn add_follow_up(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    request: FollowUpRequest,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<FollowUp, DomainError> {
    require(who, Action::Read, Resource::Referral(None))?;
    avip_db::write_transaction(conn, |conn| {
        let referral = load_for(conn, who, id, Action::Annotate)?;
        let received = paris_date(from_db_time(referral.received_at));
        let request = request.check(received, paris_date(now))?;
        let (actor_kind, actor_id) = actor(who);
        let follow_up = FollowUp {
            id: FollowUpId::generate(),
            referral_id: id.clone(),
            date: request.date,
            participants: serde_json::to_string(&request.participants).unwrap_or_default(),
            employment_status: request.employment_status,
            next_steps: request.next_steps.clone(),
            next_date: request.next_date,
            actor_kind,
            actor_id,
            created_at: to_db_time(now),
        };
        referrals::insert_follow_up(conn, &follow_up)?;
        if referral.status == ReferralStatus::Enrolled
            && let Some(enrollment) = referrals::enrollment(conn, id)?
        {
            lifecycle::on_follow_up(conn, policy, id, enrollment.start_date)?;
        }
        let mut ev = event(who, id, EventKind::FollowUp, now);
        ev.note = request.next_steps.clone();
        ev.data = Some(
            serde_json::json!({
                "follow_up_id": follow_up.id,
                "date": request.date,
                "participants": request.participants,
                "employment_status": request.employment_status,
                "next_date": request.next_date,
            })
            .to_string(),
        );
        referrals::insert_event(conn, &ev)?;
        referrals::touch(conn, id, to_db_time(now))?;
        webhooks::enqueue(conn, id, WebhookEvent::FollowUpAdded, to_db_time(now))?;
        Ok(follow_up)
    })
}

/// One referral, if the caller may see it.
pub fn get(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
) -> Result<ReferralRecord, DomainError> {
    require(who, Action::Read, Resource::Referral(None))?;
    let record = referrals::get(conn, id)?;
    require(who, Action::Read, owners(&record.referral))?;
    Ok(record)
}

/// A page of the referrals the caller may see (a prescriber its
/// organisation's, a coordinator those addressed to its crèches, an admin
/// all) that pass `filter`.
pub fn list(
    conn: &mut DbConnection,
    who: &Principal,
    mut filter: ReferralFilter,
    page: &PageRequest,
) -> Result<Page<ReferralRecord>, DomainError> {
    require(who, Action::List, Resource::Referral(None))?;
    filter = visible_to(who, filter);
    Ok(referrals::list(conn, &filter, page)?)
}

/// A page of the change feed: the referrals the caller may see (as for
/// [`list`]), in the order of their last change, after `after`.
pub fn changes(
    conn: &mut DbConnection,
    who: &Principal,
    after: referrals::ChangePosition,
    limit: i64,
) -> Result<referrals::Changes, DomainError> {
    require(who, Action::List, Resource::Referral(None))?;
    let scope = visible_to(who, ReferralFilter::default());
    Ok(referrals::changes(conn, &scope, after, limit)?)
}

/// `filter` narrowed to what `who` may list: a coordinator its crèches', a
/// prescriber its organisation's.
fn visible_to(who: &Principal, filter: ReferralFilter) -> ReferralFilter {
    ReferralFilter {
        within_creches: (who.role == Role::Coordinator).then(|| who.creche_ids.clone()),
        within_prescriber: (who.role == Role::Prescriber).then(|| who.organization_id.clone()),
        ..filter
    }
}

/// A page of the referral's timeline.
pub fn timeline(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    page: &PageRequest,
) -> Result<Page<Event>, DomainError> {
    require(who, Action::Read, Resource::Referral(None))?;
    let referral = load_for(conn, who, id, Action::Read)?;
    Ok(timeline::page(conn, &referral, page)?)
}

/// A page of the follow-ups of the parent's path, by date.
pub fn follow_ups(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    page: &PageRequest,
) -> Result<Page<FollowUp>, DomainError> {
    require(who, Action::Read, Resource::Referral(None))?;
    load_for(conn, who, id, Action::Annotate)?;
    Ok(referrals::follow_ups(conn, id, page)?)
}

/// Everything held about a referral's family, for an access request (RGPD
/// art. 15): admins, and the coordinators of its crèche.
pub struct PersonalData {
    pub record: ReferralRecord,
    pub timeline: Vec<Event>,
    pub follow_ups: Vec<FollowUp>,
    pub messages: Vec<crate::workflow::family::MessageOut>,
    pub invitations: Vec<crate::workflow::meetings::InvitationRecord>,
    pub meetings: Vec<crate::workflow::meetings::SlotOut>,
}

pub fn personal_data(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
) -> Result<PersonalData, DomainError> {
    let referral = referrals::get_referral(conn, id)?;
    require(
        who,
        Action::Read,
        Resource::PersonalData(ReferralOwners {
            creche_id: &referral.creche_id,
            prescriber: &referral.prescriber_organization_id,
        }),
    )?;
    let all = PageRequest {
        after: None,
        limit: 100_000,
    };
    let timeline = timeline::page(conn, &referral, &all)?.items;
    let follow_ups = referrals::follow_ups(conn, id, &all)?.items;
    let (invitations, meetings) = crate::workflow::meetings::of_family(conn, id)?;
    Ok(PersonalData {
        record: referrals::record(conn, referral)?,
        timeline,
        follow_ups,
        messages: crate::workflow::family::messages_of(conn, id)?,
        invitations,
        meetings,
    })
}

/// The days of a contract as stored (a JSON array).
pub fn days_of(json: &str) -> Vec<Weekday> {
    serde_json::from_str(json).unwrap_or_default()
}
