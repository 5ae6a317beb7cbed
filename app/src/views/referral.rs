//! The shapes of a referral, its timeline and its follow-ups on the wire.

use avip_db::model::{
    ActorKind, ChildcareSolution, CrecheId, EmploymentStatus, EventId, EventKind, ExitReason,
    FollowUpId, OrganizationId, Participant, ReferralId, ReferralStatus, SlaStage,
};
use avip_db::referrals::{Event, FollowUp, Referral, ReferralRecord};
use avip_sla_engine::{Policy, lifecycle};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::Weekday;
use crate::domain::referral::{
    ChildIn, ConsentIn, HoursIn, NeedsIn, ParentIn, ProjectIn, ReferentIn,
};
use crate::workflow::referrals::contract_of;
use avip_db::model::from_db_time as time;

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
    "referent": {"name": "Paul Durand", "email": "p.durand@example.org", "phone": "+33494000000"},
    "parent": {"first_name": "Amina", "last_name": "Benali", "phone": "+33612345678",
               "email": "amina.b@example.org", "postal_code": "83000", "commune": "Toulon",
               "situation": "job_seeker", "single_parent": true, "qpv_resident": false,
               "france_travail_id": "1234567A", "contact_preference": "sms"},
    "children": [{"first_name": "Yanis", "birth_date": "2025-03-14"}],
    "needs": {"desired_start_date": "2026-12-01", "days_per_week": 4,
              "days": ["mon", "tue", "thu", "fri"], "hours": {"from": "08:30", "to": "17:30"},
              "atypical_hours": false, "notes": "formation de 9h à 17h"},
    "insertion_project": {"kind": "training", "description": "CAP petite enfance"},
    "consent": {"given": true, "date": "2026-11-20"},
    "received_at": "2026-11-22T16:00:00Z", "first_response_at": null, "updated_at": "2026-11-22T16:00:00Z",
    "closed_at": null, "closing_reason": null, "anonymised_at": null,
    "sla": {"clock": "calendar", "policy_version": null, "due_at": "2026-11-25T16:00:00Z",
            "stage": null, "met": null, "seconds_left": 259200},
    "enrollment": null, "exit": null, "planned_exit": null}))]
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
    /// When the family's personal data was blanked (retention or erasure):
    /// names, contacts, address, free texts are empty from then on.
    pub anonymised_at: Option<DateTime<Utc>>,
    pub sla: SlaBlock,
    pub enrollment: Option<EnrollmentOut>,
    pub exit: Option<ExitOut>,
    /// An exit dated after today, recorded on that day: until then the
    /// child is enrolled, and the plan can be posted again or cancelled
    /// (`DELETE /referrals/{id}/exit`).
    pub planned_exit: Option<ExitOut>,
}

impl SlaBlock {
    /// The engine's view of the referral's clock, as clients read it.
    pub fn new(referral: &Referral, policy: &Policy, now: DateTime<Utc>) -> SlaBlock {
        let status = lifecycle::status(referral, policy, now);
        SlaBlock {
            clock: status.clock.to_string(),
            policy_version: status.policy_version,
            due_at: status.due_at,
            stage: status.stage,
            met: status.met,
            seconds_left: status.seconds_left,
        }
    }
}

impl ExitOut {
    /// The exit recorded on the enrollment, if the child has left.
    fn of(e: &avip_db::referrals::Enrollment) -> Option<ExitOut> {
        Some(ExitOut {
            date: e.exit_date?,
            reason: e.exit_reason?,
            employment_status: e.exit_employment_status?,
            positive: e.positive_exit?,
            childcare_solution: e.childcare_solution?,
            note: e.exit_note.clone(),
        })
    }

    fn planned(p: avip_db::exits::PlannedExit) -> ExitOut {
        ExitOut {
            date: p.exit_date,
            reason: p.reason,
            employment_status: p.employment_status,
            positive: p.positive,
            childcare_solution: p.childcare_solution,
            note: p.note,
        }
    }
}

impl EnrollmentOut {
    fn of(e: &avip_db::referrals::Enrollment) -> EnrollmentOut {
        let contract = contract_of(e);
        EnrollmentOut {
            start_date: contract.start_date,
            contract_end_date: contract.contract_end_date,
            days: contract.days,
            hours: contract.hours,
            renewals: e.renewals,
        }
    }
}

impl ReferralBody {
    pub fn new(record: ReferralRecord, policy: &Policy, now: DateTime<Utc>) -> ReferralBody {
        let ReferralRecord {
            referral: r,
            family: f,
            children,
            enrollment,
            needs,
            planned_exit,
        } = record;
        let exit = enrollment.as_ref().and_then(ExitOut::of);
        let planned_exit = planned_exit.map(ExitOut::planned);
        let enrollment = enrollment.as_ref().map(EnrollmentOut::of);
        ReferralBody {
            sla: SlaBlock::new(&r, policy, now),
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
                contact_preference: f.parent_contact,
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
                days: needs
                    .as_ref()
                    .map(|n| crate::workflow::calendar::weekdays(n.days)),
                hours: needs.and_then(|n| match (n.hours_from, n.hours_to) {
                    (Some(from), Some(to)) => Some(HoursIn { from, to }),
                    _ => None,
                }),
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
            anonymised_at: r.anonymised_at.map(time),
            enrollment,
            exit,
            planned_exit,
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

/// Whether the referral's latest offer expired without an answer: of the
/// timeline's offers and expiries, the latest is an expiry.
pub fn offer_expired(timeline: &[EventBody]) -> bool {
    (timeline.iter())
        .filter(|e| {
            e.kind == EventKind::OfferExpired || e.to_status == Some(ReferralStatus::Offered)
        })
        .max_by_key(|e| e.occurred_at)
        .is_some_and(|e| e.kind == EventKind::OfferExpired)
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
