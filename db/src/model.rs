//! Id newtypes and the closed sets of the domain, stored as text on both
//! backends.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

/// An id newtype over a UUID v7 in its canonical text form (sortable by
/// creation time, which cursor pagination relies on).
macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident),* $(,)?) => {$(
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
                 serde::Serialize, serde::Deserialize, diesel::AsExpression, diesel::FromSqlRow)]
        #[serde(transparent)]
        #[diesel(sql_type = Text)]
        pub struct $name(String);

        impl $name {
            /// A new id: a UUID v7 drawn now.
            pub fn generate() -> Self {
                $name(uuid::Uuid::now_v7().to_string())
            }

            /// Reads an id as a client writes it; `None` unless it is a UUID.
            pub fn parse(text: &str) -> Option<Self> {
                uuid::Uuid::parse_str(text.trim()).ok().map(|u| $name(u.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<DB: Backend> ToSql<Text, DB> for $name
        where
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                <str as ToSql<Text, DB>>::to_sql(self.0.as_str(), out)
            }
        }

        impl<DB: Backend> FromSql<Text, DB> for $name
        where
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                String::from_sql(bytes).map($name)
            }
        }
    )*};
}

id_type!(
    OrganizationId,
    CrecheId,
    UserId,
    ApiClientId,
    ReferralId,
    EventId,
    FollowUpId,
    ChildId,
    NotificationId,
    WebhookId,
    DeliveryId,
    ClosureId
);

/// A closed set stored as its snake_case name.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:tt),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
                 serde::Serialize, serde::Deserialize, utoipa::ToSchema,
                 diesel::AsExpression, diesel::FromSqlRow)]
        #[diesel(sql_type = Text)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)*
                    other => Err(format!(
                        "unknown value {other:?}, expected one of: {}",
                        [$($text),*].join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<DB: Backend> ToSql<Text, DB> for $name
        where
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                <str as ToSql<Text, DB>>::to_sql(self.as_str(), out)
            }
        }

        impl<DB: Backend> FromSql<Text, DB> for $name
        where
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let text = String::from_sql(bytes)?;
                text.parse().map_err(|e: String| e.into())
            }
        }
    };
}

text_enum!(
    /// What an organisation is (docs/product.md §2).
    OrganizationKind {
        FranceTravail => "france_travail",
        ConseilDepartemental => "conseil_departemental",
        MissionLocale => "mission_locale",
        Caf => "caf",
        CrecheOperator => "creche_operator",
        Admin => "admin",
    }
);

text_enum!(
    /// What a person or an API client may do (docs/product.md §5).
    Role {
        Prescriber => "prescriber",
        Coordinator => "coordinator",
        Caf => "caf",
        Admin => "admin",
    }
);

text_enum!(
    /// Where a referral stands (docs/product.md §3).
    ReferralStatus {
        Received => "received",
        Contacted => "contacted",
        Offered => "offered",
        Waitlisted => "waitlisted",
        Enrolled => "enrolled",
        Declined => "declined",
        Withdrawn => "withdrawn",
        Exited => "exited",
    }
);

text_enum!(
    /// The parent's situation when referred.
    ParentSituation {
        JobSeeker => "job_seeker",
        Rsa => "rsa",
        YoungUnder26 => "young_under_26",
        Training => "training",
        Other => "other",
    }
);

text_enum!(
    /// The parent's insertion project.
    ProjectKind {
        JobSearch => "job_search",
        Training => "training",
        JobInterview => "job_interview",
        BusinessCreation => "business_creation",
        Other => "other",
    }
);

text_enum!(
    /// The parent's employment status at a follow-up or at exit.
    EmploymentStatus {
        JobSearch => "job_search",
        Training => "training",
        EmployedFixedTerm => "employed_fixed_term",
        EmployedPermanent => "employed_permanent",
        TempWork => "temp_work",
        BusinessCreation => "business_creation",
        Other => "other",
    }
);

text_enum!(
    /// When the parent's situation is asked after the exit.
    OutcomeAt {
        ThreeMonths => "3_months",
        SixMonths => "6_months",
    }
);

text_enum!(
    /// The parent's situation some months after the exit: the follow-up's
    /// employment statuses, or `unknown` when the referent cannot say.
    OutcomeSituation {
        JobSearch => "job_search",
        Training => "training",
        EmployedFixedTerm => "employed_fixed_term",
        EmployedPermanent => "employed_permanent",
        TempWork => "temp_work",
        BusinessCreation => "business_creation",
        Other => "other",
        Unknown => "unknown",
    }
);

text_enum!(
    /// Why a referral is handed to another crèche.
    TransferReason {
        /// No place on the weekdays the family needs.
        NoPlaceOnDays => "no_place_on_days",
        /// The crèche's hours do not cover the family's.
        HoursNotCovered => "hours_not_covered",
        /// The other crèche is closer to home or work.
        CloserToHomeOrWork => "closer_to_home_or_work",
        FamilyRequest => "family_request",
        /// Explained in the note.
        Other => "other",
    }
);

text_enum!(
    /// Why a crèche declines a referral.
    DeclineReason {
        NoPlaceAvailable => "no_place_available",
        NoPlaceMatchingHours => "no_place_matching_hours",
        OutsideCatchmentArea => "outside_catchment_area",
        ChildAgeNotEligible => "child_age_not_eligible",
        NotEligible => "not_eligible",
        FamilyUnreachable => "family_unreachable",
        FamilyRefusedOffer => "family_refused_offer",
        Other => "other",
    }
);

text_enum!(
    /// Why a prescriber or the family withdraws a referral.
    WithdrawReason {
        OtherChildcareFound => "other_childcare_found",
        FamilyMoved => "family_moved",
        ProjectAbandoned => "project_abandoned",
        FamilyNoLongerInterested => "family_no_longer_interested",
        ReferralError => "referral_error",
        Other => "other",
    }
);

text_enum!(
    /// Why an enrolled child leaves the AVIP place.
    ExitReason {
        Employment => "employment",
        Training => "training",
        ContractEnd => "contract_end",
        ChildEntersSchool => "child_enters_school",
        FamilyMoved => "family_moved",
        FamilyChoice => "family_choice",
        Other => "other",
    }
);

text_enum!(
    /// The lasting childcare solution found at exit.
    ChildcareSolution {
        SameCreche => "same_creche",
        OtherEaje => "other_eaje",
        AssistanteMaternelle => "assistante_maternelle",
        RelaisPetiteEnfance => "relais_petite_enfance",
        None => "none",
        Other => "other",
    }
);

text_enum!(
    /// Who took part in a follow-up.
    Participant {
        Coordinator => "coordinator",
        Referent => "referent",
        Parent => "parent",
        Other => "other",
    }
);

text_enum!(
    /// What a timeline event records.
    EventKind {
        Created => "created",
        Transition => "transition",
        Note => "note",
        FollowUp => "follow_up",
        Enrollment => "enrollment",
        Renewal => "renewal",
        EnrollmentAmended => "enrollment_amended",
        Exit => "exit",
        /// An exit dated after today was planned (or its plan changed).
        ExitPlanned => "exit_planned",
        /// A planned exit was cancelled before its day.
        ExitPlanCancelled => "exit_plan_cancelled",
        /// A recorded exit was corrected (before and after in `data`).
        ExitCorrected => "exit_corrected",
        /// The referent was asked the parent's situation 3 or 6 months
        /// after the exit (or reminded).
        OutcomeRequested => "outcome_requested",
        /// The parent's situation 3 or 6 months after the exit.
        OutcomeRecorded => "outcome_recorded",
        SlaWarning => "sla_warning",
        SlaBreach => "sla_breach",
        SlaEscalation => "sla_escalation",
        FollowUpOverdue => "follow_up_overdue",
        ContractEnding => "contract_ending",
        EmailSent => "email_sent",
        Exported => "exported",
        /// A coordinator enrolled a child although no place was free.
        CapacityOverride => "capacity_override",
        /// The family's personal data was blanked (retention or erasure).
        Anonymised => "anonymised",
        /// The referral was handed to another crèche (from and to in
        /// `data`, the reason in `reason`).
        Transferred => "transferred",
        /// An offer's hold ended without an answer (its last day in `data`).
        OfferExpired => "offer_expired",
        /// A family waited a whole period on the list without a move: the
        /// coordinators were reminded, the referent told.
        WaitingReminder => "waiting_reminder",
        /// A message to the family was queued (`data`: template, channel,
        /// the outbox key); its delivery follows.
        FamilyMessage => "family_message",
        /// The provider or mail server accepted a message to the family.
        FamilyMessageSent => "family_message_sent",
        /// The provider refused a message to the family for good.
        FamilyMessageFailed => "family_message_failed",
        /// How the family wants to be reached changed.
        ContactPreferenceChanged => "contact_preference_changed",
        /// The family was invited to book a first meeting (`data`: the
        /// invitation, its slots, until when).
        MeetingInvited => "meeting_invited",
        /// An invitation was revoked.
        MeetingInvitationRevoked => "meeting_invitation_revoked",
        /// The family booked a slot (`data`: when).
        MeetingBooked => "meeting_booked",
        /// The family asked to be called back.
        CallbackRequested => "callback_requested",
        /// The family said it no longer needs a place.
        WithdrawalRequested => "withdrawal_requested",
        /// The coordinator recorded the meeting held or not honoured.
        MeetingRecorded => "meeting_recorded",
        /// The referral came from a spreadsheet (`data`: the file, the
        /// row, the import, whether it was created or updated).
        Imported => "imported",
    }
);

text_enum!(
    /// How far a referral's first-response clock has gone (docs/product.md §4).
    SlaStage {
        /// The deadline is near: the crèche's coordinators are warned.
        Warning => "warning",
        /// The deadline has passed: escalation level 1, the coordinators.
        Breach => "breach",
        /// Level 2: the coordinators and the crèche's escalation address.
        Escalation => "escalation",
    }
);

text_enum!(
    /// What an outbox e-mail announces.
    NotificationKind {
        FirstResponseWarning => "first_response_warning",
        FirstResponseBreach => "first_response_breach",
        FirstResponseEscalation => "first_response_escalation",
        FollowUpOverdue => "follow_up_overdue",
        ContractEnding => "contract_ending",
        /// Everything that needs one coordinator's attention after a sweep.
        Digest => "digest",
        /// What became of a referral, to its referent: a decision of the
        /// crèche, the enrollment, the exit, an SLA breach.
        ReferentNotice => "referent_notice",
        /// A family was just referred: to each coordinator of the crèche.
        ArrivalNotice => "arrival_notice",
        /// An organisation's webhook subscription was disabled.
        WebhookDisabled => "webhook_disabled",
        /// To a crèche's coordinators: an offer ends tomorrow or has
        /// expired, a place freed fits waiting families, a family has
        /// waited a whole period.
        CoordinatorNotice => "coordinator_notice",
        /// A message to the family, by SMS or e-mail, from its crèche.
        FamilyMessage => "family_message",
    }
);

text_enum!(
    /// Why a place became free.
    FreedCause {
        /// The child left (the exit's or the planned exit's day).
        Exit => "exit",
        /// The contract ends and the engine gave its notice.
        ContractEnd => "contract_end",
        /// The family refused the offer, withdrew or went on the list.
        OfferRefused => "offer_refused",
        /// The offer's hold ended without an answer.
        OfferExpired => "offer_expired",
        /// The crèche reserves more AVIP places.
        Capacity => "capacity",
        /// A closure of the crèche was removed.
        ClosureRemoved => "closure_removed",
    }
);

text_enum!(
    /// Where an outbox e-mail stands: `pending` until the server accepted it.
    NotificationStatus {
        Pending => "pending",
        Sent => "sent",
        /// Refused for good (an SMS provider's 4xx): never tried again.
        Failed => "failed",
    }
);

text_enum!(
    /// How an outbox row leaves.
    Channel {
        Email => "email",
        Sms => "sms",
    }
);

text_enum!(
    /// How the family wants to be reached (asked at intake or later).
    ContactPreference {
        Sms => "sms",
        Email => "email",
        /// A phone call only: no written message.
        PhoneCall => "phone_call",
        /// Only through its referent.
        Referent => "referent",
    }
);

text_enum!(
    /// What a message to the family says.
    MessageTemplate {
        /// The crèche received the request and will call.
        Acknowledgment => "acknowledgment",
        /// An invitation to a first meeting at the crèche.
        MeetingInvitation => "meeting_invitation",
        /// A reminder of the invitation.
        Reminder => "reminder",
        /// A place is offered.
        PlaceOffer => "place_offer",
        /// What to bring to the first meeting.
        Documents => "documents",
        /// The coordinator's own words.
        FreeText => "free_text",
        /// The service confirms the meeting the family booked.
        MeetingConfirmation => "meeting_confirmation",
        /// The service reminds the family of its meeting, the day before.
        MeetingReminder => "meeting_reminder",
    }
);

text_enum!(
    /// What the family chose through its invitation's link.
    MeetingChoice {
        /// One of the slots offered.
        Slot => "slot",
        /// To be called back.
        Callback => "callback",
        /// It no longer needs a place (the coordinator confirms).
        Withdraw => "withdraw",
    }
);

text_enum!(
    /// What became of a booked meeting.
    MeetingOutcome {
        Held => "held",
        /// « Rendez-vous non honoré ».
        NoShow => "no_show",
    }
);

text_enum!(
    /// Why a referral takes places at its crèche.
    BookingKind {
        /// An offer holds places until it is taken, refused or expires.
        Offer => "offer",
        /// An enrolled child occupies a place.
        Enrollment => "enrollment",
    }
);

text_enum!(
    /// Who acted: a person, an API client or the service itself.
    ActorKind {
        User => "user",
        ApiClient => "api_client",
        System => "system",
    }
);

impl SlaStage {
    /// The stage after this one, if any.
    pub fn next(self) -> Option<SlaStage> {
        match self {
            SlaStage::Warning => Some(SlaStage::Breach),
            SlaStage::Breach => Some(SlaStage::Escalation),
            SlaStage::Escalation => None,
        }
    }

    /// The stage that comes first after `reached` (`None`: nothing reached yet).
    pub fn after(reached: Option<SlaStage>) -> Option<SlaStage> {
        match reached {
            None => Some(SlaStage::Warning),
            Some(stage) => stage.next(),
        }
    }

    /// Breach and escalation mean the deadline was missed.
    pub fn is_breached(self) -> bool {
        matches!(self, SlaStage::Breach | SlaStage::Escalation)
    }
}

impl ReferralStatus {
    /// Declined, withdrawn and exited referrals are closed for good.
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Declined | Self::Withdrawn | Self::Exited)
    }
}

impl OrganizationKind {
    pub fn is_prescriber(self) -> bool {
        matches!(
            self,
            Self::FranceTravail | Self::ConseilDepartemental | Self::MissionLocale
        )
    }

    /// The one role that members (people and API clients) of such an
    /// organisation hold.
    pub fn member_role(self) -> Role {
        match self {
            Self::FranceTravail | Self::ConseilDepartemental | Self::MissionLocale => {
                Role::Prescriber
            }
            Self::CrecheOperator => Role::Coordinator,
            Self::Caf => Role::Caf,
            Self::Admin => Role::Admin,
        }
    }
}

/// Times are stored as UTC without a zone on both backends, truncated to the
/// microsecond PostgreSQL keeps so that both return what was written.
pub fn to_db_time(t: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
    use chrono::{SubsecRound, Timelike};
    let t = t.naive_utc();
    t.with_nanosecond(t.nanosecond() / 1000 * 1000)
        .unwrap_or_else(|| t.trunc_subsecs(0))
}

pub fn from_db_time(t: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    t.and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_canonical_uuids() {
        let id = OrganizationId::parse("0190F0E4-0000-7000-8000-000000000001").unwrap();
        assert_eq!(id.as_str(), "0190f0e4-0000-7000-8000-000000000001");
        assert!(OrganizationId::parse("42").is_none());
    }

    #[test]
    fn every_enum_value_round_trips_through_text() {
        for kind in OrganizationKind::ALL {
            assert_eq!(kind.as_str().parse::<OrganizationKind>(), Ok(*kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert!(
            "pole_emploi"
                .parse::<OrganizationKind>()
                .unwrap_err()
                .contains("france_travail")
        );
    }
}

text_enum!(
    /// What a webhook announces (Standard Webhooks' `type`).
    WebhookEvent {
        ReferralCreated => "referral.created",
        StatusChanged => "referral.status_changed",
        Enrolled => "referral.enrolled",
        Exited => "referral.exited",
        FollowUpAdded => "referral.follow_up_added",
        SlaBreached => "referral.sla_breached",
        /// The parent's situation after the exit is asked: answer with
        /// `POST /referrals/{id}/outcomes`.
        OutcomeRequested => "referral.outcome_requested",
        /// The referral was handed to another crèche.
        Transferred => "referral.transferred",
    }
);

text_enum!(
    /// Where a webhook delivery stands: `pending` until a 2xx answers or
    /// its attempts run out (`failed`).
    DeliveryStatus {
        Pending => "pending",
        Delivered => "delivered",
        Failed => "failed",
    }
);

text_enum!(
    /// The kinds of notice a person chooses how to receive.
    NoticeKind {
        /// To a referent: a decision of the crèche (contacted, offered,
        /// waitlisted, declined).
        ReferralDecision => "referral_decision",
        /// To a referent: the child is enrolled.
        ReferralEnrollment => "referral_enrollment",
        /// To a referent: the child left the AVIP place.
        ReferralExit => "referral_exit",
        /// To a referent: the crèche did not answer in time.
        ReferralSlaBreach => "referral_sla_breach",
        /// To a referent: the parent's situation 3 and 6 months after the
        /// exit is asked.
        OutcomeRequest => "outcome_request",
        /// To a crèche's coordinators: the SLA engine's e-mails (deadlines,
        /// follow-ups, contract ends).
        SlaAlert => "sla_alert",
        /// To a crèche's coordinators: a family was just referred to it.
        ReferralReceived => "referral_received",
    }
);

text_enum!(
    /// How a kind of notice reaches a person.
    DeliveryMode {
        Immediate => "immediate",
        DailyDigest => "daily_digest",
        Off => "off",
    }
);
