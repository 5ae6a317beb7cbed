//! The exit: recorded now or planned for a later day, a plan cancelled, a
//! recorded exit corrected with its reason; the parent's situation 3 and 6
//! months after.

use actix_web::{HttpResponse, delete, get, post, web};
use avip_app::domain::exit::ExitCorrection;
use avip_app::domain::referral::ExitRequest;
use avip_app::views::referral::ReferralBody;
use avip_app::workflow::acts;
use avip_app::workflow::outcomes::{self, OutcomeBody, OutcomeRequest};

use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Bearer};
use crate::http::referrals::{now, referral_id};
use crate::http::responses::{Conflict, Forbidden, NotFound, Unprocessable};
use crate::shared::State;

/// The child leaves: `enrolled → exited` with the reason, the parent's
/// situation (whether the exit is positive follows from it) and the lasting
/// childcare solution. An exit dated after today is planned instead: the
/// answer shows it in `planned_exit`, the status stays `enrolled` and the
/// place booked until that day, when the engine records the exit; posting
/// again replaces the plan.
#[utoipa::path(operation_id = "recordExit", tag = "referrals", params(("id" = String, Path, format = Uuid)), request_body = ExitRequest,
    security(("oauth2" = [])), responses(
    (status = 200, body = ReferralBody), Forbidden, NotFound, Conflict, Unprocessable,
))]
#[post("/referrals/{id}/exit")]
pub async fn create_exit(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<ExitRequest>,
) -> Result<web::Json<ReferralBody>, ApiError> {
    let id = referral_id(&id)?;
    let now = now();
    let record = acts::exit(&state.app, &who, &id, body.0, now).await?;
    Ok(web::Json(ReferralBody::new(
        record,
        &state.policy.policy,
        now,
    )))
}

/// Cancels the planned exit before its day: the child stays enrolled to
/// the end of her contract (409 `invalid_transition` when none is planned).
#[utoipa::path(operation_id = "cancelPlannedExit", tag = "referrals", params(("id" = String, Path, format = Uuid)),
    security(("oauth2" = [])), responses(
    (status = 200, body = ReferralBody), Forbidden, NotFound, Conflict,
))]
#[delete("/referrals/{id}/exit")]
pub async fn cancel_exit(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
) -> Result<web::Json<ReferralBody>, ApiError> {
    let id = referral_id(&id)?;
    let now = now();
    let record = acts::cancel_planned_exit(&state.app, &who, &id, now).await?;
    Ok(web::Json(ReferralBody::new(
        record,
        &state.policy.policy,
        now,
    )))
}

/// Corrects a recorded exit (the crèche's coordinators within 60 days of
/// the exit date, administrators at any time): the fields given replace
/// the recorded ones under the exit's rules, the timeline keeps before,
/// after and why (`exit_corrected`), the referent is told, and the exports
/// and indicators count the corrected exit.
#[utoipa::path(operation_id = "correctExit", tag = "referrals", params(("id" = String, Path, format = Uuid)), request_body = ExitCorrection,
    security(("oauth2" = [])), responses(
    (status = 200, body = ReferralBody), Forbidden, NotFound, Conflict, Unprocessable,
))]
#[post("/referrals/{id}/exit/corrections")]
pub async fn correct_exit(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<ExitCorrection>,
) -> Result<web::Json<ReferralBody>, ApiError> {
    let id = referral_id(&id)?;
    let now = now();
    let record = acts::correct_exit(&state.app, &who, &id, body.0, now).await?;
    Ok(web::Json(ReferralBody::new(
        record,
        &state.policy.policy,
        now,
    )))
}

/// The parent's situation 3 and 6 months after the exit, for the
/// prescriber organisation that sent the referral (told by the webhook
/// `referral.outcome_requested`), from its due day on, once (`409` before
/// or after). `unknown` when the referent cannot say.
#[utoipa::path(operation_id = "recordOutcome", tag = "referrals", params(("id" = String, Path, format = Uuid)), request_body = OutcomeRequest,
    security(("oauth2" = [])), responses(
    (status = 201, body = OutcomeBody), Forbidden, NotFound, Conflict, Unprocessable,
))]
#[post("/referrals/{id}/outcomes")]
pub async fn record_outcome(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<OutcomeRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = referral_id(&id)?;
    let request = body.0;
    let outcome = state
        .write(move |conn| outcomes::answer_api(conn, &who, &id, request, now()))
        .await?;
    Ok(HttpResponse::Created().json(OutcomeBody::from(outcome)))
}

/// The referral's situations after the exit: when each is due, asked and
/// answered (none before the exit is recorded).
#[utoipa::path(operation_id = "listOutcomes", tag = "referrals", params(("id" = String, Path, format = Uuid)),
    security(("oauth2" = [])), responses(
    (status = 200, body = OutcomeList), Forbidden, NotFound,
))]
#[get("/referrals/{id}/outcomes")]
pub async fn list_outcomes(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
) -> Result<web::Json<OutcomeList>, ApiError> {
    let id = referral_id(&id)?;
    let items = state
        .run(move |conn| outcomes::list(conn, &who, &id))
        .await?;
    Ok(web::Json(OutcomeList {
        items: items.into_iter().map(OutcomeBody::from).collect(),
    }))
}

/// The situations after the exit.
#[derive(serde::Serialize, utoipa::ToSchema, Debug)]
pub struct OutcomeList {
    pub items: Vec<OutcomeBody>,
}
