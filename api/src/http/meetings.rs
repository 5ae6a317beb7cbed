//! First meetings: the crèche's slots (`/creches/{id}/meeting-slots`), the
//! invitation a family books through (`/referrals/{id}/meeting-invitations`)
//! and what became of the meeting (`/referrals/{id}/meeting`).

use actix_web::{HttpResponse, delete, get, post, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Bearer};
use crate::http::referrals::{now, referral_id};
use crate::http::responses::{Forbidden, NotFound, Unprocessable};
use crate::shared::State;
use avip_app::workflow::acts;
use avip_app::workflow::meetings::{
    self, InvitationOut, InviteRequest, MeetingRecord, ProposeSlots, SlotOut,
};

/// The crèche's slots.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({"items": [{"id": "0193a5b0-7c1e-7d2a-9b1e-000000000030",
    "starts_at": "2026-12-15T08:30:00Z", "minutes": 45, "referral_id": null, "booked_at": null, "outcome": null}]}))]
pub struct SlotList {
    pub items: Vec<SlotOut>,
}

/// Propose first-meeting slots at the crèche (its coordinators, admins):
/// each in the future, 10 to 240 minutes; 50 at once at most.
#[utoipa::path(operation_id = "proposeMeetingSlots", tag = "meetings", params(("id" = String, Path, format = Uuid)),
    request_body = ProposeSlots, security(("oauth2" = [])), responses(
    (status = 201, body = SlotList), Forbidden, NotFound, Unprocessable,
))]
#[post("/creches/{id}/meeting-slots")]
pub async fn propose(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<ProposeSlots>,
) -> Result<HttpResponse, ApiError> {
    let (id, body) = (id.into_inner(), body.0);
    let items = state
        .write(move |conn| meetings::propose(conn, &who, &id, body, now()))
        .await?;
    Ok(HttpResponse::Created().json(SlotList { items }))
}

/// The crèche's slots from today on, booked or free (its coordinators,
/// admins).
#[utoipa::path(operation_id = "listMeetingSlots", tag = "meetings", params(("id" = String, Path, format = Uuid)),
    security(("oauth2" = [])), responses(
    (status = 200, body = SlotList), Forbidden, NotFound,
))]
#[get("/creches/{id}/meeting-slots")]
pub async fn list(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
) -> Result<web::Json<SlotList>, ApiError> {
    let id = id.into_inner();
    let items = state
        .run(move |conn| meetings::slots(conn, &who, &id, now()))
        .await?;
    Ok(web::Json(SlotList { items }))
}

/// Remove a slot nobody booked (422 on a booked one).
#[utoipa::path(operation_id = "removeMeetingSlot", tag = "meetings",
    params(("id" = String, Path, format = Uuid), ("slot_id" = String, Path, format = Uuid)),
    security(("oauth2" = [])), responses(
    (status = 204, description = "Removed"), Forbidden, NotFound, Unprocessable,
))]
#[delete("/creches/{id}/meeting-slots/{slot_id}")]
pub async fn remove(
    Bearer(who): Bearer,
    state: State,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, slot) = path.into_inner();
    state
        .write(move |conn| meetings::remove_slot(conn, &who, &id, &slot))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Invite the family to book its first meeting among free slots of its
/// crèche: a link without account (valid 14 days, one answer, revocable)
/// sent by the family's channel, where the parent picks a slot, asks to be
/// called back or says she no longer needs a place. The first message to a
/// referral still `received` is its first response.
#[utoipa::path(operation_id = "inviteToMeeting", tag = "meetings", params(("id" = String, Path, format = Uuid)),
    request_body = InviteRequest, security(("oauth2" = [])), responses(
    (status = 201, body = InvitationOut), Forbidden, NotFound, Unprocessable,
))]
#[post("/referrals/{id}/meeting-invitations")]
pub async fn invite(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<InviteRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = referral_id(&id)?;
    let invitation = acts::invite_to_meeting(&state.app, &who, &id, body.0, now()).await?;
    Ok(HttpResponse::Created().json(invitation))
}

/// Revoke an invitation not answered yet: its link opens no more.
#[utoipa::path(operation_id = "revokeMeetingInvitation", tag = "meetings",
    params(("id" = String, Path, format = Uuid), ("invitation_id" = String, Path, format = Uuid)),
    security(("oauth2" = [])), responses(
    (status = 204, description = "Revoked"), Forbidden, NotFound,
))]
#[delete("/referrals/{id}/meeting-invitations/{invitation_id}")]
pub async fn revoke(
    Bearer(who): Bearer,
    state: State,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, invitation) = path.into_inner();
    let id = referral_id(&id)?;
    state
        .write(move |conn| meetings::revoke(conn, &who, &id, &invitation, now()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Record the family's booked meeting `held` or `no_show` (« rendez-vous
/// non honoré »), once it has begun.
#[utoipa::path(operation_id = "recordMeeting", tag = "meetings", params(("id" = String, Path, format = Uuid)),
    request_body = MeetingRecord, security(("oauth2" = [])), responses(
    (status = 200, body = SlotOut), Forbidden, NotFound, Unprocessable,
))]
#[post("/referrals/{id}/meeting")]
pub async fn record(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<MeetingRecord>,
) -> Result<web::Json<SlotOut>, ApiError> {
    let id = referral_id(&id)?;
    let slot = acts::record_meeting(&state.app, &who, &id, body.0, now()).await?;
    Ok(web::Json(slot))
}
