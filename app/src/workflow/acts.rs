//! The actions on a referral as both front-ends call them (the API's
//! handlers and the workspace's forms): each takes the application, the
//! caller, the referral, the parsed request and `now`, and runs its use case
//! of [`super::referrals`] in one transaction through the writer. The
//! front-end only reads its input and renders what comes back.

use avip_db::model::ReferralId;
use avip_db::referrals::{Event, FollowUp, ReferralRecord};
use chrono::{DateTime, Utc};

use crate::App;
use crate::auth::Principal;
use crate::domain::DomainError;
use crate::domain::exit::ExitCorrection;
use crate::domain::referral::{
    EnrollmentChange, EnrollmentRequest, ExitRequest, FollowUpRequest, NoteRequest,
    TransitionRequest,
};
use crate::workflow::{exits, family, meetings, referrals};

/// A move through the lifecycle (`/transitions`, the page's move and
/// withdrawal forms).
pub async fn transition(
    app: &App,
    who: &Principal,
    id: &ReferralId,
    request: TransitionRequest,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, DomainError> {
    let (who, id, rules, links) = (who.clone(), id.clone(), app.rules(), app.public_url.clone());
    app.write(move |conn| referrals::transition(conn, &who, &id, request, rules, &links, now))
        .await
}

/// `offered → enrolled`, with the contract.
pub async fn enroll(
    app: &App,
    who: &Principal,
    id: &ReferralId,
    request: EnrollmentRequest,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, DomainError> {
    let (who, id, links) = (who.clone(), id.clone(), app.public_url.clone());
    let policy = app.policy.policy.clone();
    app.write(move |conn| referrals::enroll(conn, &who, &id, request, &policy, &links, now))
        .await
}

/// A renewal or a change of the contract.
pub async fn change_enrollment(
    app: &App,
    who: &Principal,
    id: &ReferralId,
    change: EnrollmentChange,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, DomainError> {
    let (who, id, policy) = (who.clone(), id.clone(), app.policy.policy.clone());
    app.write(move |conn| referrals::change_enrollment(conn, &who, &id, change, &policy, now))
        .await
}

/// The exit, with its outcome.
pub async fn exit(
    app: &App,
    who: &Principal,
    id: &ReferralId,
    request: ExitRequest,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, DomainError> {
    let (who, id, links) = (who.clone(), id.clone(), app.public_url.clone());
    app.write(move |conn| exits::exit(conn, &who, &id, request, &links, now))
        .await
}

/// What an exit would record, checked, nothing written.
pub async fn preview_exit(
    app: &App,
    who: &Principal,
    id: &ReferralId,
    request: ExitRequest,
    now: DateTime<Utc>,
) -> Result<ExitRequest, DomainError> {
    let (who, id) = (who.clone(), id.clone());
    app.run(move |conn| exits::preview(conn, &who, &id, request, now))
        .await
}

/// A planned exit cancelled before its day.
pub async fn cancel_planned_exit(
    app: &App,
    who: &Principal,
    id: &ReferralId,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, DomainError> {
    let (who, id) = (who.clone(), id.clone());
    app.write(move |conn| exits::cancel_planned(conn, &who, &id, now))
        .await
}

/// A recorded exit corrected, with why.
pub async fn correct_exit(
    app: &App,
    who: &Principal,
    id: &ReferralId,
    correction: ExitCorrection,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, DomainError> {
    let (who, id, links) = (who.clone(), id.clone(), app.public_url.clone());
    app.write(move |conn| exits::correct(conn, &who, &id, correction, &links, now))
        .await
}

/// A note on the timeline.
pub async fn add_note(
    app: &App,
    who: &Principal,
    id: &ReferralId,
    request: NoteRequest,
    now: DateTime<Utc>,
) -> Result<Event, DomainError> {
    let (who, id) = (who.clone(), id.clone());
    app.write(move |conn| referrals::add_note(conn, &who, &id, request, now))
        .await
}

/// A follow-up of the parent's path.
pub async fn add_follow_up(
    app: &App,
    who: &Principal,
    id: &ReferralId,
    request: FollowUpRequest,
    now: DateTime<Utc>,
) -> Result<FollowUp, DomainError> {
    let (who, id, policy) = (who.clone(), id.clone(), app.policy.policy.clone());
    app.write(move |conn| referrals::add_follow_up(conn, &who, &id, request, &policy, now))
        .await
}

/// The referral handed to another crèche of its département.
pub async fn transfer(
    app: &App,
    who: &Principal,
    id: &ReferralId,
    request: crate::domain::referral::TransferRequest,
    now: DateTime<Utc>,
) -> Result<crate::workflow::transfers::Transfer, DomainError> {
    let (who, id, links) = (who.clone(), id.clone(), app.public_url.clone());
    app.write(move |conn| {
        crate::workflow::transfers::transfer(conn, &who, &id, request, &links, now)
    })
    .await
}

/// A message to the family (`/messages`, the page's form); `key`: the
/// `Idempotency-Key` or the form's, so a message is sent once. Returns the
/// message and whether it is new.
pub async fn send_message(
    app: &App,
    who: &Principal,
    id: &ReferralId,
    request: family::MessageRequest,
    key: Option<String>,
    now: DateTime<Utc>,
) -> Result<(family::MessageOut, bool), DomainError> {
    let (who, id, links) = (who.clone(), id.clone(), app.public_url.clone());
    app.write(move |conn| {
        let sending = family::Sending {
            key: key.as_deref(),
            public_url: &links,
            now,
        };
        family::send(conn, &who, &id, request, sending)
    })
    .await
}

/// How the family wants to be reached.
pub async fn set_contact_preference(
    app: &App,
    who: &Principal,
    id: &ReferralId,
    request: family::ContactPreferenceRequest,
    now: DateTime<Utc>,
) -> Result<ReferralRecord, DomainError> {
    let (who, id) = (who.clone(), id.clone());
    app.write(move |conn| family::set_contact_preference(conn, &who, &id, request, now))
        .await
}

/// Invites the family to book its first meeting.
pub async fn invite_to_meeting(
    app: &App,
    who: &Principal,
    id: &ReferralId,
    request: meetings::InviteRequest,
    now: DateTime<Utc>,
) -> Result<meetings::InvitationOut, DomainError> {
    let (who, id, links) = (who.clone(), id.clone(), app.public_url.clone());
    app.write(move |conn| meetings::invite(conn, &who, &id, request, (&links, now)))
        .await
}

/// The first meeting held, or not honoured.
pub async fn record_meeting(
    app: &App,
    who: &Principal,
    id: &ReferralId,
    request: meetings::MeetingRecord,
    now: DateTime<Utc>,
) -> Result<meetings::SlotOut, DomainError> {
    let (who, id) = (who.clone(), id.clone());
    app.write(move |conn| meetings::record(conn, &who, &id, request, now))
        .await
}
