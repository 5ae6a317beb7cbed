//! `/api/v1/referrals/{id}/messages` and `/contact-preference`: reaching
//! the family by SMS or e-mail, as it asked.

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Bearer};
use crate::http::referrals::{key_of, now, referral_id};
use crate::http::responses::{Forbidden, NotFound, Unprocessable};
use crate::shared::{State, record_read};
use avip_app::views::referral::ReferralBody;
use avip_app::workflow::acts;
use avip_app::workflow::family::{self, ContactPreferenceRequest, MessageOut, MessageRequest};

/// Send a message to the family (the crèche's coordinators, admins), by
/// the channel it asked for: one of the French templates, or a free text.
/// Queued in the outbox and delivered with retries; on the timeline with
/// its delivery. The first message to a referral still `received` is its
/// first response (`contacted`). 422 naming `channel` when the family has
/// not asked for this channel (or for none), `text` when an SMS would take
/// more than 3 segments. The same `Idempotency-Key` sends once (200 then).
#[utoipa::path(operation_id = "sendFamilyMessage", tag = "referrals", params(("id" = String, Path, format = Uuid),
    ("Idempotency-Key" = Option<String>, Header, max_length = 255, description = "Any string up to 255 visible ASCII characters; the same key sends the message once.")),
    request_body = MessageRequest, security(("oauth2" = [])), responses(
    (status = 201, body = MessageOut, description = "Queued"),
    (status = 200, body = MessageOut, description = "Already sent under this Idempotency-Key"),
    Forbidden, NotFound, Unprocessable,
))]
#[post("/referrals/{id}/messages")]
pub async fn send(
    req: HttpRequest,
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<MessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = referral_id(&id)?;
    let key = key_of(&req)?;
    let (message, new) = acts::send_message(&state.app, &who, &id, body.0, key, now()).await?;
    let mut response = if new {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(message))
}

/// The messages sent to the family.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({"items": [{"id": "0193a5b0-7c1e-7d2a-9b1e-000000000020", "template": "acknowledgment",
    "channel": "sms", "status": "sent", "text": "Bonjour Amina, la crèche Les Petits Pas a bien recu votre demande…",
    "segments": 1, "attempts": 1, "last_error": null, "queued_at": "2026-11-22T16:05:00Z",
    "sent_at": "2026-11-22T16:05:02Z"}]}))]
pub struct MessageList {
    pub items: Vec<MessageOut>,
}

/// The messages sent to the family, oldest first, with their delivery
/// (the crèche's coordinators, admins). Each read is in the access log.
#[utoipa::path(operation_id = "listFamilyMessages", tag = "referrals", params(("id" = String, Path, format = Uuid)),
    security(("oauth2" = [])), responses(
    (status = 200, body = MessageList), Forbidden, NotFound,
))]
#[get("/referrals/{id}/messages")]
pub async fn list(
    req: HttpRequest,
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
) -> Result<web::Json<MessageList>, ApiError> {
    let id = referral_id(&id)?;
    let (reader, read) = (who.clone(), id.clone());
    let items = state
        .run(move |conn| family::messages(conn, &reader, &read))
        .await?;
    if !items.is_empty() {
        record_read(&req, &state, &who, [&id], "family_messages");
    }
    Ok(web::Json(MessageList { items }))
}

/// Record how the family wants to be reached (the crèche's coordinators,
/// the prescriber organisation that sent it): `sms` needs a mobile phone,
/// `email` an address; `null` when nobody knows. On the timeline.
#[utoipa::path(operation_id = "setContactPreference", tag = "referrals", params(("id" = String, Path, format = Uuid)),
    request_body = ContactPreferenceRequest, security(("oauth2" = [])), responses(
    (status = 200, body = ReferralBody), Forbidden, NotFound, Unprocessable,
))]
#[put("/referrals/{id}/contact-preference")]
pub async fn contact_preference(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<ContactPreferenceRequest>,
) -> Result<web::Json<ReferralBody>, ApiError> {
    let id = referral_id(&id)?;
    let now = now();
    let record = acts::set_contact_preference(&state.app, &who, &id, body.0, now).await?;
    Ok(web::Json(ReferralBody::new(
        record,
        &state.policy.policy,
        now,
    )))
}
