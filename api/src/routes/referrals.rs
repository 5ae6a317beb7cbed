//! `/api/v1/referrals`: intake from prescribers, the coordinator's workflow
//! and the timeline. Handlers parse, ask `access`, and call the functions
//! below inside one transaction; the rules live in `crate::referral`.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use avip_db::model::{
    ActorKind, ChildId, ChildcareSolution, CrecheId, EmploymentStatus, EventId, EventKind,
    ExitReason, FollowUpId, OrganizationId, Participant, ReferralId, ReferralStatus, Role,
    SlaStage, from_db_time, to_db_time,
};
use avip_db::page::PageRequest;
use avip_db::places::Period;
use avip_db::referrals::{
    self, Child, Enrollment, Event, Family, FollowUp, NewReferral, Referral, ReferralFilter,
    ReferralRecord, StatusChange,
};
use avip_db::sla;
use avip_db::{DbConnection, Pool, creches};
use avip_sla_engine::clock::{paris_date, paris_midnight};
use avip_sla_engine::{ActivePolicy, Policy, timers};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::common::{List, PageQuery, path_id, time};
use super::creches::Weekday;
use crate::access::{Action, ReferralOwners, Resource, require};
use crate::auth::{Principal, Subject};
use crate::error::{ApiError, FieldError, Problem, ProblemDocument};
use crate::extract::{ApiJson, ApiQuery};
use crate::places::{self, OfferHold};
use crate::referral::{
    ChildIn, ConsentIn, Contract, EnrollmentChange, EnrollmentDraft, EnrollmentRequest,
    ExitRequest, FollowUpRequest, HoursIn, Move, NeedsIn, NoteRequest, ParentIn, ProjectIn,
    ReferentIn, ReferralDraft, ReferralRequest, TransitionDraft, TransitionRequest, Via,
    idempotency_key, invalid_transition, plan_move,
};

// ----- Response shapes -----

/// The first-response deadline and where the referral stands against it.
#[derive(Serialize, ToSchema, Clone, Debug)]
#[schema(example = json!({"clock": "calendar", "policy_version": null, "due_at": "2026-11-25T16:00:00Z",
    "stage": null, "met": null, "seconds_left": 4100}))]
pub struct SlaBlock {
    /// `calendar` or `working_days`.
    pub clock: String,
    /// The policy version the deadline was computed under (set by the SLA engine).
    pub policy_version: Option<i32>,
    pub due_at: Option<DateTime<Utc>>,
    /// The last stage the SLA engine reached: `warning`, `breach`, `escalation`.
    pub stage: Option<SlaStage>,
    /// Whether the family was answered by the deadline; `null` while it is
    /// still open, or when the referral was withdrawn unanswered.
    pub met: Option<bool>,
    /// Seconds until the deadline (negative: over it) while unanswered.
    pub seconds_left: Option<i64>,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct EnrollmentOut {
    pub start_date: NaiveDate,
    pub contract_end_date: NaiveDate,
    pub days: Vec<Weekday>,
    pub hours: Option<HoursIn>,
    /// How many times the contract was renewed.
    pub renewals: i32,
}

#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct ExitOut {
    pub date: NaiveDate,
    pub reason: ExitReason,
    pub employment_status: EmploymentStatus,
    pub positive: bool,
    pub childcare_solution: ChildcareSolution,
    pub note: Option<String>,
}

/// A referral: what was posted, where it stands, and its deadline.
#[derive(Serialize, ToSchema, Clone, Debug)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000010", "reference": "AVIP-83-2026-00042",
    "status": "received", "creche_id": "0193a5b0-7c1e-7d2a-9b1e-000000000003",
    "prescriber_organization_id": "0193a5b0-7c1e-7d2a-9b1e-000000000001",
    "referent": {"name": "Paul Durand", "email": "p.durand@example.org", "phone": "0494000000"},
    "parent": {"first_name": "Amina", "last_name": "Benali", "phone": "0612345678",
               "email": "amina.b@example.org", "postal_code": "83000", "commune": "Toulon",
               "situation": "job_seeker", "single_parent": true, "qpv_resident": false,
               "france_travail_id": "1234567A"},
    "children": [{"first_name": "Yanis", "birth_date": "2025-03-14"}],
    "needs": {"desired_start_date": "2026-12-01", "days_per_week": 4, "atypical_hours": false,
              "notes": "formation de 9h à 17h"},
    "insertion_project": {"kind": "training", "description": "CAP petite enfance"},
    "consent": {"given": true, "date": "2026-11-20"},
    "received_at": "2026-11-22T16:00:00Z", "first_response_at": null, "updated_at": "2026-11-22T16:00:00Z",
    "closed_at": null, "closing_reason": null,
    "sla": {"clock": "calendar", "policy_version": null, "due_at": "2026-11-25T16:00:00Z",
            "stage": null, "met": null, "seconds_left": 259200},
    "enrollment": null, "exit": null}))]
pub struct ReferralBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: ReferralId,
    /// Read over the phone: `AVIP-<département>-<year>-<number>`.
    pub reference: String,
    pub status: ReferralStatus,
    #[schema(value_type = String, format = Uuid)]
    pub creche_id: CrecheId,
    #[schema(value_type = String, format = Uuid)]
    pub prescriber_organization_id: OrganizationId,
    pub referent: ReferentIn,
    pub parent: ParentIn,
    pub children: Vec<ChildIn>,
    pub needs: NeedsIn,
    pub insertion_project: ProjectIn,
    pub consent: ConsentIn,
    pub received_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Why it was declined, withdrawn or exited.
    pub closing_reason: Option<String>,
    pub sla: SlaBlock,
    pub enrollment: Option<EnrollmentOut>,
    pub exit: Option<ExitOut>,
}

pub fn sla_block(referral: &Referral, policy: &Policy, now: DateTime<Utc>) -> SlaBlock {
    let due = referral.sla_due_at.map(from_db_time);
    let answered = referral.first_response_at.map(from_db_time);
    let (met, seconds_left) = match (due, answered, referral.status) {
        (Some(due), Some(at), _) => (Some(at <= due), None),
        (_, None, ReferralStatus::Withdrawn) => (None, None),
        (Some(due), None, _) => (
            (now > due).then_some(false),
            Some((due - now).num_seconds()),
        ),
        (None, _, _) => (None, None),
    };
    SlaBlock {
        clock: policy.clock.to_string(),
        policy_version: referral.sla_policy_version,
        due_at: due,
        stage: referral.sla_stage,
        met,
        seconds_left,
    }
}

fn days_of(json: &str) -> Vec<Weekday> {
    serde_json::from_str(json).unwrap_or_default()
}

impl ReferralBody {
    pub fn new(record: ReferralRecord, policy: &Policy, now: DateTime<Utc>) -> ReferralBody {
        let ReferralRecord {
            referral: r,
            family: f,
            children,
            enrollment,
        } = record;
        let exit = enrollment.as_ref().and_then(|e| {
            Some(ExitOut {
                date: e.exit_date?,
                reason: e.exit_reason?,
                employment_status: e.exit_employment_status?,
                positive: e.positive_exit?,
                childcare_solution: e.childcare_solution?,
                note: e.exit_note.clone(),
            })
        });
        let enrollment = enrollment.map(|e| {
            let contract = contract_of(&e);
            EnrollmentOut {
                start_date: contract.start_date,
                contract_end_date: contract.contract_end_date,
                days: contract.days,
                hours: contract.hours,
                renewals: e.renewals,
            }
        });
        ReferralBody {
            sla: sla_block(&r, policy, now),
            id: r.id,
            reference: r.reference,
            status: r.status,
            creche_id: r.creche_id,
            prescriber_organization_id: r.prescriber_organization_id,
            referent: ReferentIn {
                name: r.referent_name,
                email: r.referent_email,
                phone: r.referent_phone,
            },
            parent: ParentIn {
                first_name: f.parent_first_name,
                last_name: f.parent_last_name,
                phone: f.parent_phone,
                email: f.parent_email,
                postal_code: f.parent_postal_code,
                commune: f.parent_commune,
                situation: r.parent_situation,
                single_parent: r.single_parent,
                qpv_resident: r.qpv_resident,
                france_travail_id: f.france_travail_id,
            },
            children: children
                .into_iter()
                .map(|c| ChildIn {
                    first_name: c.first_name,
                    birth_date: c.birth_date,
                })
                .collect(),
            needs: NeedsIn {
                desired_start_date: r.desired_start_date.unwrap_or(r.consent_date),
                days_per_week: r.days_per_week,
                atypical_hours: r.atypical_hours,
                notes: f.needs_notes,
            },
            insertion_project: ProjectIn {
                kind: r.insertion_project_kind,
                description: f.insertion_project_description,
            },
            consent: ConsentIn {
                given: r.consent_given,
                date: r.consent_date,
            },
            received_at: time(r.received_at),
            first_response_at: r.first_response_at.map(time),
            updated_at: time(r.updated_at),
            closed_at: r.closed_at.map(time),
            closing_reason: r.closing_reason,
            enrollment,
            exit,
        }
    }
}

/// Who did something on the timeline.
#[derive(Serialize, ToSchema, Clone, Debug)]
pub struct Actor {
    /// `user`, `api_client` or `system`.
    pub kind: ActorKind,
    pub id: Option<String>,
}

/// One line of the timeline.
#[derive(Serialize, ToSchema, Clone, Debug)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000020", "kind": "transition",
    "occurred_at": "2026-11-23T09:12:00Z", "actor": {"kind": "user", "id": "0193a5b0-7c1e-7d2a-9b1e-000000000005"},
    "from_status": "received", "to_status": "contacted", "reason": null,
    "note": "appel à la mère, rendez-vous le 25/11", "data": null}))]
pub struct EventBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: EventId,
    pub kind: EventKind,
    pub occurred_at: DateTime<Utc>,
    pub actor: Actor,
    pub from_status: Option<ReferralStatus>,
    pub to_status: Option<ReferralStatus>,
    pub reason: Option<String>,
    pub note: Option<String>,
    /// Details: the follow-up, the contract, the exit, the export.
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
}

impl From<Event> for EventBody {
    fn from(e: Event) -> Self {
        EventBody {
            id: e.id,
            kind: e.kind,
            occurred_at: time(e.occurred_at),
            actor: Actor {
                kind: e.actor_kind,
                id: e.actor_id,
            },
            from_status: e.from_status,
            to_status: e.to_status,
            reason: e.reason,
            note: e.note,
            data: e.data.and_then(|d| serde_json::from_str(&d).ok()),
        }
    }
}

#[derive(Serialize, ToSchema, Clone, Debug)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000030", "date": "2027-01-15",
    "participants": ["coordinator", "referent"], "employment_status": "training",
    "next_steps": "point à mi-formation", "next_date": "2027-03-15",
    "actor": {"kind": "user", "id": "0193a5b0-7c1e-7d2a-9b1e-000000000005"},
    "created_at": "2027-01-15T14:00:00Z"}))]
pub struct FollowUpBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: FollowUpId,
    pub date: NaiveDate,
    pub participants: Vec<Participant>,
    pub employment_status: EmploymentStatus,
    pub next_steps: Option<String>,
    pub next_date: Option<NaiveDate>,
    pub actor: Actor,
    pub created_at: DateTime<Utc>,
}

impl From<FollowUp> for FollowUpBody {
    fn from(f: FollowUp) -> Self {
        FollowUpBody {
            id: f.id,
            date: f.date,
            participants: serde_json::from_str(&f.participants).unwrap_or_default(),
            employment_status: f.employment_status,
            next_steps: f.next_steps,
            next_date: f.next_date,
            actor: Actor {
                kind: f.actor_kind,
                id: f.actor_id,
            },
            created_at: time(f.created_at),
        }
    }
}

// ----- Shared functions (handlers, `avip demo`) -----

pub(crate) fn actor(who: &Principal) -> (ActorKind, Option<String>) {
    match &who.subject {
        Subject::User(id) => (ActorKind::User, Some(id.to_string())),
        Subject::Client(id) => (ActorKind::ApiClient, Some(id.to_string())),
    }
}

fn event(who: &Principal, referral: &ReferralId, kind: EventKind, at: DateTime<Utc>) -> Event {
    let (actor_kind, actor_id) = actor(who);
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

/// What intake answers: the referral, and whether it already existed under
/// the same `Idempotency-Key`.
pub struct Intake {
    pub record: ReferralRecord,
    pub replayed: bool,
}

fn duplicate(existing: &ReferralId) -> ApiError {
    ApiError::Conflict(
        Problem::new(
            "duplicate_referral",
            format!("this child already has an active referral at this crèche: {existing}"),
        )
        .with_member("existing_referral_id", existing.as_str()),
    )
}

fn idempotency_mismatch() -> ApiError {
    ApiError::Unprocessable(
        Problem::new(
            "idempotency_key_reused",
            "this Idempotency-Key was used for another request body",
        )
        .with_errors(vec![FieldError::new(
            "Idempotency-Key",
            "was already used with a different body",
        )]),
    )
}

/// Stores a posted referral in one transaction: idempotency, the crèche's
/// visibility, the active-referral check, a gapless reference, the row, the
/// family, the children and the `created` event.
pub fn create_referral(
    conn: &mut DbConnection,
    who: &Principal,
    draft: &ReferralDraft,
    key: Option<&str>,
    policy: &ActivePolicy,
    now: DateTime<Utc>,
) -> Result<Intake, ApiError> {
    let attempt = |conn: &mut DbConnection| {
        avip_db::write_transaction(conn, |conn| {
            insert_referral(conn, who, draft, key, policy, now)
        })
    };
    match attempt(conn) {
        // A concurrent request with the same key or the same child won the
        // race on another connection: the second look finds what it wrote.
        Err(ApiError::Conflict(p)) if p.code == "conflict" => attempt(conn),
        other => other,
    }
}

fn insert_referral(
    conn: &mut DbConnection,
    who: &Principal,
    draft: &ReferralDraft,
    key: Option<&str>,
    policy: &ActivePolicy,
    now: DateTime<Utc>,
) -> Result<Intake, ApiError> {
    if let Some(key) = key
        && let Some((id, fingerprint)) =
            referrals::find_by_idempotency_key(conn, &who.organization_id, key)?
    {
        if fingerprint.as_deref() != Some(draft.fingerprint.as_str()) {
            return Err(idempotency_mismatch());
        }
        return Ok(Intake {
            record: referrals::get(conn, &id)?,
            replayed: true,
        });
    }
    let creche = creches::find(conn, &draft.creche_id)?
        .filter(|c| who.role == Role::Admin || c.departement == who.departement)
        .ok_or_else(|| {
            ApiError::validation(vec![FieldError::new(
                "creche_id",
                "no such crèche in your département",
            )])
        })?;
    let child_keys = draft.child_keys();
    if let Some(existing) = referrals::find_claim(conn, &creche.creche.id, &child_keys)? {
        return Err(duplicate(&existing));
    }
    let year = paris_date(now).year();
    let number = referrals::next_reference_number(conn, &creche.departement, year)?;
    let id = ReferralId::generate();
    let at = to_db_time(now);
    let due = timers::due_at(&policy.policy, now);
    let referral = Referral {
        id: id.clone(),
        reference: format!("AVIP-{}-{year}-{number:05}", creche.departement),
        prescriber_organization_id: who.organization_id.clone(),
        creche_id: creche.creche.id.clone(),
        created_by: who.subject.to_claim(),
        idempotency_key: key.map(str::to_owned),
        request_fingerprint: Some(draft.fingerprint.clone()),
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
        sla_due_at: Some(to_db_time(due)),
        sla_stage: None,
        sla_policy_version: Some(policy.version),
        anonymised_at: None,
        closing_reason: None,
        sla_next_at: timers::next_at(&policy.policy, now, None).map(to_db_time),
    };
    let family = Family {
        referral_id: id.clone(),
        parent_first_name: draft.parent_first_name.clone(),
        parent_last_name: draft.parent_last_name.clone(),
        parent_phone: draft.parent_phone.clone(),
        parent_email: draft.parent_email.clone(),
        parent_postal_code: draft.parent_postal_code.clone(),
        parent_commune: draft.parent_commune.clone(),
        france_travail_id: draft.france_travail_id.clone(),
        needs_notes: draft.needs_notes.clone(),
        insertion_project_description: draft.project_description.clone(),
    };
    let children = draft
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
        .collect();
    let mut created = event(who, &id, EventKind::Created, now);
    created.to_status = Some(ReferralStatus::Received);
    let new = NewReferral {
        referral,
        family,
        children,
        child_keys,
        event: created,
    };
    referrals::insert(conn, &new)?;
    tracing::info!(referral = %id, reference = %new.referral.reference, "referral received");
    Ok(Intake {
        record: ReferralRecord {
            referral: new.referral,
            family: new.family,
            children: new.children,
            enrollment: None,
        },
        replayed: false,
    })
}

/// Loads a referral and checks that `who` may do `action` to it (404 when
/// it is not theirs to see).
fn load_for(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    action: Action,
) -> Result<Referral, ApiError> {
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
fn apply_move(
    conn: &mut DbConnection,
    referral: &ReferralId,
    step: Move,
    closing_reason: Option<String>,
    mut ev: Event,
) -> Result<(), ApiError> {
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
    Ok(())
}

/// Moves a referral through `/transitions`. An offer holds the family's
/// places for `hold`; answering it (declined, withdrawn) releases them.
pub fn transition(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    draft: &TransitionDraft,
    hold: OfferHold,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, ApiError> {
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
        if step.to == ReferralStatus::Offered {
            places::hold(conn, id, &referral.creche_id, hold, today)?;
        }
        if step.from == ReferralStatus::Offered {
            places::release_offer(conn, id, today)?;
        }
        tracing::info!(referral = %id, from = %step.from, to = %step.to, "referral moved");
        Ok(referrals::get(conn, id)?)
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

/// Checks that the crèche has room for the referral's children on every
/// day of `[from, to]`; when it has not, the coordinator's reason to go
/// over capacity goes on the timeline, and without one it is `409`.
#[allow(clippy::too_many_arguments)]
fn make_room(
    conn: &mut DbConnection,
    who: &Principal,
    referral: &Referral,
    places_needed: i32,
    period: Period,
    force_reason: Option<&String>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let id = &referral.id;
    let Some(day) = places::first_full_day(conn, &referral.creche_id, id, places_needed, period)?
    else {
        return Ok(());
    };
    let Some(reason) = force_reason else {
        return Err(places::no_free_place(day, places_needed));
    };
    let mut ev = event(who, id, EventKind::CapacityOverride, now);
    ev.note = Some(reason.clone());
    ev.data = Some(
        serde_json::json!({"first_full_day": day, "places": places_needed,
            "from": period.from, "to": period.to})
        .to_string(),
    );
    referrals::insert_event(conn, &ev)?;
    tracing::warn!(referral = %id, first_full_day = %day, "enrolled over capacity");
    Ok(())
}

/// `offered → enrolled`: the contract, the place it occupies (refused where
/// none is free unless forced), the end of the offer's hold and the timers.
pub fn enroll(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    draft: &EnrollmentDraft,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, ApiError> {
    let contract = &draft.contract;
    avip_db::write_transaction(conn, |conn| {
        let referral = load_for(conn, who, id, Action::Act)?;
        let step = plan_move(referral.status, ReferralStatus::Enrolled, Via::Enrollment)?;
        let needed = places::places_of(conn, id)?;
        let period = Period {
            from: contract.start_date,
            to: contract.contract_end_date,
        };
        make_room(
            conn,
            who,
            &referral,
            needed,
            period,
            draft.force_reason.as_ref(),
            now,
        )?;
        places::release_offer(conn, id, paris_date(now))?;
        places::occupy(
            conn,
            id,
            &referral.creche_id,
            needed,
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
        let follow_up = timers::follow_up_due(policy, contract.start_date, None);
        sla::set_follow_up_notice(conn, id, Some(to_db_time(follow_up)))?;
        let notice = timers::contract_notice_at(policy, contract.contract_end_date);
        sla::set_contract_notice(conn, id, Some(to_db_time(notice)))?;
        Ok(referrals::get(conn, id)?)
    })
}

fn contract_of(e: &Enrollment) -> Contract {
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

fn not_enrolled(status: ReferralStatus) -> ApiError {
    invalid_transition(
        status,
        ReferralStatus::Enrolled,
        format!("the referral is {status}: only an enrolled child's contract can change"),
    )
}

pub fn change_enrollment(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    change: EnrollmentChange,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, ApiError> {
    avip_db::write_transaction(conn, |conn| {
        let referral = load_for(conn, who, id, Action::Act)?;
        if referral.status != ReferralStatus::Enrolled {
            return Err(not_enrolled(referral.status));
        }
        let mut enrollment =
            referrals::enrollment(conn, id)?.ok_or_else(|| not_enrolled(referral.status))?;
        let before = contract_of(&enrollment);
        let change = change.apply(before.clone())?;
        let c = &change.contract;
        if c.contract_end_date > before.contract_end_date {
            let needed = places::places_of(conn, id)?;
            let added = Period {
                from: before.contract_end_date + chrono::Days::new(1),
                to: c.contract_end_date,
            };
            make_room(
                conn,
                who,
                &referral,
                needed,
                added,
                change.force_reason.as_ref(),
                now,
            )?;
        }
        if c.contract_end_date != before.contract_end_date {
            places::occupy_until(conn, id, c.contract_end_date)?;
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
            let notice = timers::contract_notice_at(policy, c.contract_end_date);
            sla::set_contract_notice(conn, id, Some(to_db_time(notice)))?;
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

pub fn exit(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    request: ExitRequest,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, ApiError> {
    avip_db::write_transaction(conn, |conn| {
        let referral = load_for(conn, who, id, Action::Act)?;
        let step = plan_move(referral.status, ReferralStatus::Exited, Via::Exit)?;
        let mut enrollment =
            referrals::enrollment(conn, id)?.ok_or_else(|| not_enrolled(referral.status))?;
        let request = request.check(enrollment.start_date, paris_date(now))?;
        enrollment.exit_date = Some(request.date);
        enrollment.exit_reason = Some(request.reason);
        enrollment.exit_employment_status = Some(request.employment_status);
        enrollment.positive_exit = Some(request.positive);
        enrollment.childcare_solution = Some(request.childcare_solution);
        enrollment.exit_note = request.note.clone();
        enrollment.updated_at = to_db_time(now);
        referrals::save_enrollment(conn, &enrollment)?;
        places::occupy_until(conn, id, request.date.min(enrollment.contract_end_date))?;
        // The child has left: no follow-up or contract notice any more.
        sla::set_follow_up_notice(conn, id, None)?;
        sla::set_contract_notice(conn, id, None)?;
        let mut ev = event(who, id, EventKind::Exit, now);
        ev.note = request.note.clone();
        ev.data = Some(
            serde_json::json!({
                "date": request.date,
                "employment_status": request.employment_status,
                "positive": request.positive,
                "childcare_solution": request.childcare_solution,
            })
            .to_string(),
        );
        apply_move(conn, id, step, Some(request.reason.as_str().to_owned()), ev)?;
        Ok(referrals::get(conn, id)?)
    })
}

pub fn add_note(
    conn: &mut DbConnection,
    who: &Principal,
    id: &ReferralId,
    note: String,
    now: DateTime<Utc>,
) -> Result<Event, ApiError> {
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
) -> Result<FollowUp, ApiError> {
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
        // While the child is enrolled, the next follow-up is due a full gap
        // after the latest one.
        if referral.status == ReferralStatus::Enrolled
            && let Some(enrollment) = referrals::enrollment(conn, id)?
        {
            let last = sla::last_follow_up(conn, id)?;
            let due = timers::follow_up_due(policy, enrollment.start_date, last);
            sla::set_follow_up_notice(conn, id, Some(to_db_time(due)))?;
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
        Ok(follow_up)
    })
}

// ----- Handlers -----

fn now() -> DateTime<Utc> {
    Utc::now()
}

/// Post a referral (prescribers). The same `Idempotency-Key` with the same
/// body returns the referral already created (200); with another body, 422.
#[utoipa::path(tag = "referrals", request_body = ReferralRequest, security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Any string up to 255 visible ASCII characters; a retry with the same key and body returns the same referral.")),
    responses(
    (status = 201, body = ReferralBody, description = "Created"),
    (status = 200, body = ReferralBody, description = "Already created under this Idempotency-Key"),
    (status = 400, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 401, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 409, body = ProblemDocument, content_type = "application/problem+json",
        description = "An active referral exists for this child at this crèche: `existing_referral_id`"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[post("/referrals")]
pub async fn create(
    req: HttpRequest,
    who: Principal,
    pool: web::Data<Pool>,
    gate: web::Data<crate::db::WriteGate>,
    policy: web::Data<ActivePolicy>,
    body: ApiJson<ReferralRequest>,
) -> Result<HttpResponse, ApiError> {
    require(&who, Action::Create, Resource::Referral(None))?;
    let key = match req.headers().get("idempotency-key") {
        None => None,
        Some(value) => {
            let text = value.to_str().unwrap_or("\u{0}");
            Some(idempotency_key(text).map_err(|message| {
                ApiError::validation(vec![FieldError::new("Idempotency-Key", message)])
            })?)
        }
    };
    let now = now();
    let draft = ReferralDraft::parse(body.0, paris_date(now))?;
    let policy = policy.into_inner();
    let p = policy.clone();
    let intake = crate::db::write(&pool, &gate, move |conn| {
        create_referral(conn, &who, &draft, key.as_deref(), &p, now)
    })
    .await?;
    let id = intake.record.referral.id.clone();
    let body = ReferralBody::new(intake.record, &policy.policy, now);
    let mut response = if intake.replayed {
        let mut r = HttpResponse::Ok();
        r.insert_header(("Idempotent-Replayed", "true"));
        r
    } else {
        HttpResponse::Created()
    };
    Ok(response
        .insert_header(("Location", format!("/api/v1/referrals/{id}")))
        .json(body))
}

#[derive(Deserialize, IntoParams, Debug, Default)]
#[into_params(parameter_in = Query)]
pub struct ReferralQuery {
    /// One status or several separated by commas: `received,contacted`.
    pub status: Option<String>,
    pub creche_id: Option<String>,
    pub prescriber_organization_id: Option<String>,
    /// Received on or after this day (Paris), `YYYY-MM-DD`.
    pub received_from: Option<NaiveDate>,
    /// Received on or before this day (Paris), `YYYY-MM-DD`.
    pub received_to: Option<NaiveDate>,
    /// `true`: only unanswered referrals past their first-response deadline.
    pub overdue: Option<bool>,
    /// Changed at or after this instant (RFC 3339): for partner systems that poll.
    pub updated_after: Option<DateTime<Utc>>,
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

pub fn bad_query(field: &str, message: &str) -> ApiError {
    ApiError::BadRequest(
        Problem::new("invalid_query", format!("{field}: {message}"))
            .with_errors(vec![FieldError::new(field, message)]),
    )
}

/// A page of a list ordered by (time, id): the limit, and the cursor checked.
fn time_page(limit: Option<i64>, cursor: Option<&str>) -> Result<PageRequest, ApiError> {
    let page = PageQuery {
        limit,
        cursor: None,
    }
    .request()?;
    let after = cursor
        .map(|c| {
            avip_db::page::TimeCursor::parse(c)
                .map(|c| c.encode())
                .ok_or_else(|| bad_query("cursor", "is not a cursor this service gave"))
        })
        .transpose()?;
    Ok(PageRequest { after, ..page })
}

impl ReferralQuery {
    fn parse(
        self,
        who: &Principal,
        now: DateTime<Utc>,
    ) -> Result<(ReferralFilter, PageRequest), ApiError> {
        let page = time_page(self.limit, self.cursor.as_deref())?;
        let mut statuses = Vec::new();
        for part in self.status.iter().flat_map(|s| s.split(',')) {
            statuses.push(
                part.trim()
                    .parse::<ReferralStatus>()
                    .map_err(|m| bad_query("status", &m))?,
            );
        }
        let creche_id = self
            .creche_id
            .map(|c| CrecheId::parse(&c).ok_or_else(|| bad_query("creche_id", "is not an id")))
            .transpose()?;
        let prescriber = self
            .prescriber_organization_id
            .map(|c| {
                OrganizationId::parse(&c)
                    .ok_or_else(|| bad_query("prescriber_organization_id", "is not an id"))
            })
            .transpose()?;
        if let (Some(from), Some(to)) = (self.received_from, self.received_to)
            && to < from
        {
            return Err(bad_query("received_to", "is before received_from"));
        }
        let filter = ReferralFilter {
            within_creches: (who.role == Role::Coordinator).then(|| who.creche_ids.clone()),
            within_prescriber: (who.role == Role::Prescriber).then(|| who.organization_id.clone()),
            statuses,
            creche_id,
            prescriber_organization_id: prescriber,
            received_from: self.received_from.map(|d| to_db_time(paris_midnight(d))),
            received_before: self
                .received_to
                .and_then(|d| d.succ_opt())
                .map(|d| to_db_time(paris_midnight(d))),
            overdue_at: self.overdue.unwrap_or(false).then(|| to_db_time(now)),
            updated_after: self.updated_after.map(to_db_time),
        };
        Ok((filter, page))
    }
}

/// List referrals: a prescriber sees its organisation's, a coordinator those
/// addressed to its crèches, an admin all. Oldest first; the cursor neither
/// skips nor repeats while new referrals arrive.
#[utoipa::path(tag = "referrals", params(ReferralQuery), security(("bearer" = [])), responses(
    (status = 200, body = List<ReferralBody>),
    (status = 400, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 401, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[get("/referrals")]
pub async fn list(
    who: Principal,
    pool: web::Data<Pool>,
    policy: web::Data<ActivePolicy>,
    query: ApiQuery<ReferralQuery>,
) -> Result<web::Json<List<ReferralBody>>, ApiError> {
    require(&who, Action::List, Resource::Referral(None))?;
    let now = now();
    let (filter, page) = query.0.parse(&who, now)?;
    let rows = crate::db::run(&pool, move |conn| referrals::list(conn, &filter, &page)).await?;
    Ok(web::Json(List::from_page(rows, |r| {
        ReferralBody::new(r, &policy.policy, now)
    })))
}

/// One referral with its SLA state.
#[utoipa::path(tag = "referrals", params(("id" = String, Path, format = Uuid)), security(("bearer" = [])), responses(
    (status = 200, body = ReferralBody),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[get("/referrals/{id}")]
pub async fn get_one(
    who: Principal,
    pool: web::Data<Pool>,
    policy: web::Data<ActivePolicy>,
    id: web::Path<String>,
) -> Result<web::Json<ReferralBody>, ApiError> {
    require(&who, Action::Read, Resource::Referral(None))?;
    let id = path_id(&id, ReferralId::parse)?;
    let record = crate::db::run(&pool, move |conn| {
        load_for(conn, &who, &id, Action::Read)?;
        Ok::<_, ApiError>(referrals::get(conn, &id)?)
    })
    .await?;
    Ok(web::Json(ReferralBody::new(record, &policy.policy, now())))
}

/// Move a referral along its lifecycle (coordinators; prescribers may only
/// withdraw). A move the lifecycle does not allow is 409 with
/// `allowed_next_states`.
#[utoipa::path(tag = "referrals", params(("id" = String, Path, format = Uuid)), request_body = TransitionRequest,
    security(("bearer" = [])), responses(
    (status = 200, body = ReferralBody),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 409, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[post("/referrals/{id}/transitions")]
pub async fn transitions(
    who: Principal,
    pool: web::Data<Pool>,
    gate: web::Data<crate::db::WriteGate>,
    policy: web::Data<ActivePolicy>,
    hold: web::Data<OfferHold>,
    id: web::Path<String>,
    body: ApiJson<TransitionRequest>,
) -> Result<web::Json<ReferralBody>, ApiError> {
    require(&who, Action::Read, Resource::Referral(None))?;
    let id = path_id(&id, ReferralId::parse)?;
    let draft = TransitionDraft::parse(body.0)?;
    let now = now();
    let hold = **hold;
    let record = crate::db::write(&pool, &gate, move |conn| {
        transition(conn, &who, &id, &draft, hold, now)
    })
    .await?;
    Ok(web::Json(ReferralBody::new(record, &policy.policy, now)))
}

/// The timeline, in the order things happened, with who and when. It
/// includes an `exported` entry for each download of evaluation rows
/// (`GET /exports/referrals`) that included the referral: its id is the
/// export's, `data` gives the format and the period exported.
#[utoipa::path(tag = "referrals", params(("id" = String, Path, format = Uuid), PageQuery), security(("bearer" = [])), responses(
    (status = 200, body = List<EventBody>),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[get("/referrals/{id}/events")]
pub async fn events(
    who: Principal,
    pool: web::Data<Pool>,
    id: web::Path<String>,
    query: ApiQuery<PageQuery>,
) -> Result<web::Json<List<EventBody>>, ApiError> {
    require(&who, Action::Read, Resource::Referral(None))?;
    let id = path_id(&id, ReferralId::parse)?;
    let page = time_page(query.0.limit, query.0.cursor.as_deref())?;
    let rows = crate::db::run(&pool, move |conn| {
        let referral = load_for(conn, &who, &id, Action::Read)?;
        Ok::<_, ApiError>(referrals::events(conn, &referral, &page)?)
    })
    .await?;
    Ok(web::Json(List::from_page(rows, EventBody::from)))
}

/// Add a note to the timeline (coordinators and prescribers).
#[utoipa::path(tag = "referrals", params(("id" = String, Path, format = Uuid)), request_body = NoteRequest,
    security(("bearer" = [])), responses(
    (status = 201, body = EventBody),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[post("/referrals/{id}/notes")]
pub async fn notes(
    who: Principal,
    pool: web::Data<Pool>,
    gate: web::Data<crate::db::WriteGate>,
    id: web::Path<String>,
    body: ApiJson<NoteRequest>,
) -> Result<HttpResponse, ApiError> {
    require(&who, Action::Read, Resource::Referral(None))?;
    let id = path_id(&id, ReferralId::parse)?;
    let note = body.0.parse()?;
    let ev = crate::db::write(&pool, &gate, move |conn| {
        add_note(conn, &who, &id, note, now())
    })
    .await?;
    Ok(HttpResponse::Created().json(EventBody::from(ev)))
}

/// The follow-ups of the parent's path, by date.
#[utoipa::path(tag = "referrals", params(("id" = String, Path, format = Uuid)), security(("bearer" = [])), responses(
    (status = 200, body = List<FollowUpBody>),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[get("/referrals/{id}/follow-ups")]
pub async fn follow_ups(
    who: Principal,
    pool: web::Data<Pool>,
    id: web::Path<String>,
) -> Result<web::Json<List<FollowUpBody>>, ApiError> {
    require(&who, Action::Read, Resource::Referral(None))?;
    let id = path_id(&id, ReferralId::parse)?;
    let rows = crate::db::run(&pool, move |conn| {
        load_for(conn, &who, &id, Action::Annotate)?;
        Ok::<_, ApiError>(referrals::follow_ups(conn, &id)?)
    })
    .await?;
    Ok(web::Json(List {
        items: rows.into_iter().map(FollowUpBody::from).collect(),
        next_cursor: None,
    }))
}

/// Record an exchange with the prescriber's referent about the parent's path.
#[utoipa::path(tag = "referrals", params(("id" = String, Path, format = Uuid)), request_body = FollowUpRequest,
    security(("bearer" = [])), responses(
    (status = 201, body = FollowUpBody),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[post("/referrals/{id}/follow-ups")]
pub async fn create_follow_up(
    who: Principal,
    pool: web::Data<Pool>,
    gate: web::Data<crate::db::WriteGate>,
    policy: web::Data<ActivePolicy>,
    id: web::Path<String>,
    body: ApiJson<FollowUpRequest>,
) -> Result<HttpResponse, ApiError> {
    require(&who, Action::Read, Resource::Referral(None))?;
    let id = path_id(&id, ReferralId::parse)?;
    let request = body.0;
    let f = crate::db::write(&pool, &gate, move |conn| {
        add_follow_up(conn, &who, &id, request, &policy.policy, now())
    })
    .await?;
    Ok(HttpResponse::Created().json(FollowUpBody::from(f)))
}

/// Enroll the child: `offered → enrolled` with the contract (six months by default).
#[utoipa::path(tag = "referrals", params(("id" = String, Path, format = Uuid)), request_body = EnrollmentRequest,
    security(("bearer" = [])), responses(
    (status = 201, body = ReferralBody),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 409, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[post("/referrals/{id}/enrollment")]
pub async fn create_enrollment(
    who: Principal,
    pool: web::Data<Pool>,
    gate: web::Data<crate::db::WriteGate>,
    policy: web::Data<ActivePolicy>,
    id: web::Path<String>,
    body: ApiJson<EnrollmentRequest>,
) -> Result<HttpResponse, ApiError> {
    require(&who, Action::Read, Resource::Referral(None))?;
    let id = path_id(&id, ReferralId::parse)?;
    let now = now();
    let draft = body.0.parse(paris_date(now))?;
    let p = policy.clone();
    let record = crate::db::write(&pool, &gate, move |conn| {
        enroll(conn, &who, &id, &draft, &p.policy, now)
    })
    .await?;
    Ok(HttpResponse::Created().json(ReferralBody::new(record, &policy.policy, now)))
}

/// Renew (`{"renew": true}` or a later `contract_end_date`) or amend the contract.
#[utoipa::path(tag = "referrals", params(("id" = String, Path, format = Uuid)), request_body = EnrollmentChange,
    security(("bearer" = [])), responses(
    (status = 200, body = ReferralBody),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 409, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[patch("/referrals/{id}/enrollment")]
pub async fn update_enrollment(
    who: Principal,
    pool: web::Data<Pool>,
    gate: web::Data<crate::db::WriteGate>,
    policy: web::Data<ActivePolicy>,
    id: web::Path<String>,
    body: ApiJson<EnrollmentChange>,
) -> Result<web::Json<ReferralBody>, ApiError> {
    require(&who, Action::Read, Resource::Referral(None))?;
    let id = path_id(&id, ReferralId::parse)?;
    let now = now();
    let change = body.0;
    let p = policy.clone();
    let record = crate::db::write(&pool, &gate, move |conn| {
        change_enrollment(conn, &who, &id, change, &p.policy, now)
    })
    .await?;
    Ok(web::Json(ReferralBody::new(record, &policy.policy, now)))
}

/// The child leaves: `enrolled → exited` with the reason, the parent's
/// situation and the lasting childcare solution.
#[utoipa::path(tag = "referrals", params(("id" = String, Path, format = Uuid)), request_body = ExitRequest,
    security(("bearer" = [])), responses(
    (status = 200, body = ReferralBody),
    (status = 403, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 404, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 409, body = ProblemDocument, content_type = "application/problem+json"),
    (status = 422, body = ProblemDocument, content_type = "application/problem+json"),
))]
#[post("/referrals/{id}/exit")]
pub async fn create_exit(
    who: Principal,
    pool: web::Data<Pool>,
    gate: web::Data<crate::db::WriteGate>,
    policy: web::Data<ActivePolicy>,
    id: web::Path<String>,
    body: ApiJson<ExitRequest>,
) -> Result<web::Json<ReferralBody>, ApiError> {
    require(&who, Action::Read, Resource::Referral(None))?;
    let id = path_id(&id, ReferralId::parse)?;
    let now = now();
    let request = body.0;
    let record = crate::db::write(&pool, &gate, move |conn| {
        exit(conn, &who, &id, request, now)
    })
    .await?;
    Ok(web::Json(ReferralBody::new(record, &policy.policy, now)))
}
