//! Notification preferences: each person's own choice per kind of notice,
//! and an organisation's default for its people and for the referents it
//! names without an account. Nobody chose: at once (for the coordinators'
//! SLA e-mails, as `AVIP_SLA_DIGEST` says).

use avip_db::DbConnection;
use avip_db::model::{DeliveryMode, NoticeKind, OrganizationId, to_db_time};
use avip_db::preferences::{self, Owner};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Principal, Subject};
use crate::domain::DomainError;

/// A choice per kind of notice; a kind left out has no choice of its own.
#[derive(Deserialize, Serialize, ToSchema, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"referral_decision": "immediate", "referral_enrollment": "daily_digest",
    "referral_exit": "daily_digest", "referral_sla_breach": "off", "sla_alert": "daily_digest",
    "referral_received": "immediate"}))]
pub struct Choices {
    /// A decision of the crèche on a referral you sent.
    pub referral_decision: Option<DeliveryMode>,
    /// The child of a family you referred is enrolled.
    pub referral_enrollment: Option<DeliveryMode>,
    /// The child of a family you referred left the AVIP place.
    pub referral_exit: Option<DeliveryMode>,
    /// The crèche did not answer a family you referred in time.
    pub referral_sla_breach: Option<DeliveryMode>,
    /// The parent's situation 3 and 6 months after the exit is asked.
    pub outcome_request: Option<DeliveryMode>,
    /// Coordinators: the SLA engine's e-mails about your crèches.
    pub sla_alert: Option<DeliveryMode>,
    /// Coordinators: a family was just referred to one of your crèches.
    pub referral_received: Option<DeliveryMode>,
}

impl Choices {
    fn pairs(&self) -> Vec<(NoticeKind, DeliveryMode)> {
        [
            (NoticeKind::ReferralDecision, self.referral_decision),
            (NoticeKind::ReferralEnrollment, self.referral_enrollment),
            (NoticeKind::ReferralExit, self.referral_exit),
            (NoticeKind::ReferralSlaBreach, self.referral_sla_breach),
            (NoticeKind::OutcomeRequest, self.outcome_request),
            (NoticeKind::SlaAlert, self.sla_alert),
            (NoticeKind::ReferralReceived, self.referral_received),
        ]
        .into_iter()
        .filter_map(|(k, m)| m.map(|m| (k, m)))
        .collect()
    }

    fn from_pairs(pairs: &[(NoticeKind, DeliveryMode)]) -> Choices {
        let get = |kind| pairs.iter().find(|(k, _)| *k == kind).map(|(_, m)| *m);
        Choices {
            referral_decision: get(NoticeKind::ReferralDecision),
            referral_enrollment: get(NoticeKind::ReferralEnrollment),
            referral_exit: get(NoticeKind::ReferralExit),
            referral_sla_breach: get(NoticeKind::ReferralSlaBreach),
            outcome_request: get(NoticeKind::OutcomeRequest),
            sla_alert: get(NoticeKind::SlaAlert),
            referral_received: get(NoticeKind::ReferralReceived),
        }
    }
}

/// How one kind of notice reaches the person now, and who chose it.
#[derive(Serialize, ToSchema, Debug)]
pub struct Preference {
    pub notice: NoticeKind,
    /// `immediate`, `daily_digest`, `off`; `sweep_digest` for `sla_alert`
    /// when nobody chose and the service sends one digest per sweep
    /// (`AVIP_SLA_DIGEST`).
    #[schema(example = "daily_digest")]
    pub mode: String,
    /// `you`, `organization` (its default) or `service` (nobody chose).
    #[schema(example = "you")]
    pub chosen_by: String,
}

/// What `GET /me/notification-preferences` answers.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({"items": [
    {"notice": "referral_decision", "mode": "immediate", "chosen_by": "service"},
    {"notice": "referral_enrollment", "mode": "daily_digest", "chosen_by": "you"},
    {"notice": "referral_exit", "mode": "daily_digest", "chosen_by": "organization"},
    {"notice": "referral_sla_breach", "mode": "off", "chosen_by": "you"},
    {"notice": "sla_alert", "mode": "immediate", "chosen_by": "service"},
    {"notice": "referral_received", "mode": "immediate", "chosen_by": "service"}],
    "yours": {"referral_enrollment": "daily_digest", "referral_sla_breach": "off"},
    "organization": {"referral_exit": "daily_digest"}}))]
pub struct Preferences {
    /// Every kind of notice, as it reaches you now.
    pub items: Vec<Preference>,
    /// Your own choices.
    pub yours: Choices,
    /// Your organisation's defaults (set by an admin).
    pub organization: Choices,
}

fn person(who: &Principal) -> Result<avip_db::model::UserId, DomainError> {
    match &who.subject {
        Subject::User(id) => Ok(id.clone()),
        Subject::Client(_) => Err(DomainError::Forbidden { role: who.role }),
    }
}

pub fn read(
    conn: &mut DbConnection,
    who: &Principal,
    sla_digest: bool,
) -> Result<Preferences, DomainError> {
    let user = person(who)?;
    let yours = preferences::chosen(conn, &Owner::User(user))?;
    let organization =
        preferences::chosen(conn, &Owner::Organization(who.organization_id.clone()))?;
    let items = NoticeKind::ALL
        .iter()
        .map(|kind| {
            let find = |pairs: &[(NoticeKind, DeliveryMode)]| {
                pairs.iter().find(|(k, _)| k == kind).map(|(_, m)| *m)
            };
            let (mode, chosen_by) = match (find(&yours), find(&organization)) {
                (Some(m), _) => (m.as_str(), "you"),
                (None, Some(m)) => (m.as_str(), "organization"),
                (None, None) if *kind == NoticeKind::SlaAlert && sla_digest => {
                    ("sweep_digest", "service")
                }
                (None, None) => (DeliveryMode::Immediate.as_str(), "service"),
            };
            Preference {
                notice: *kind,
                mode: mode.to_owned(),
                chosen_by: chosen_by.to_owned(),
            }
        })
        .collect();
    Ok(Preferences {
        items,
        yours: Choices::from_pairs(&yours),
        organization: Choices::from_pairs(&organization),
    })
}

/// Replaces the person's own choices.
pub fn replace(
    conn: &mut DbConnection,
    who: &Principal,
    choices: &Choices,
    sla_digest: bool,
    now: DateTime<Utc>,
) -> Result<Preferences, DomainError> {
    let user = person(who)?;
    preferences::replace(conn, &Owner::User(user), &choices.pairs(), to_db_time(now))?;
    read(conn, who, sla_digest)
}

/// Sets an organisation's defaults (the caller checked it may).
pub fn set_organization_defaults(
    conn: &mut DbConnection,
    organization: &OrganizationId,
    choices: &Choices,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    preferences::set(
        conn,
        &Owner::Organization(organization.clone()),
        &choices.pairs(),
        to_db_time(now),
    )?;
    Ok(())
}

/// An organisation's defaults.
pub fn organization_defaults(
    conn: &mut DbConnection,
    organization: &OrganizationId,
) -> Result<Choices, DomainError> {
    Ok(Choices::from_pairs(&preferences::chosen(
        conn,
        &Owner::Organization(organization.clone()),
    )?))
}
