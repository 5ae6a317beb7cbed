//! `/api/v1/webhooks`: partners' subscriptions to referral events, signed
//! per the Standard Webhooks specification (docs/partners.md), and what
//! became of each delivery.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use avip_db::model::{DeliveryId, DeliveryStatus, WebhookEvent, WebhookId};
use avip_db::webhooks::{Delivery, Webhook};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::page::{List, PageQuery, path_id, time};
use crate::http::error::ApiError;
use crate::http::extract::Bearer;
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::responses::{Forbidden, NotFound, Unprocessable};
use crate::shared::State;
use avip_app::domain::DomainError;
use avip_app::workflow::webhooks::{self, CreateWebhook, UpdateWebhook};

/// A subscription (never its secret).
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000050",
    "organization_id": "0193a5b0-7c1e-7d2a-9b1e-000000000002",
    "url": "https://si.partenaire.example/avip/webhooks",
    "events": ["referral.status_changed", "referral.enrolled"], "active": true,
    "disabled_reason": null, "created_at": "2026-11-29T10:00:00Z", "updated_at": "2026-11-29T10:00:00Z"}))]
pub struct WebhookBody {
    #[schema(value_type = String, format = Uuid)]
    pub id: WebhookId,
    #[schema(value_type = String, format = Uuid)]
    pub organization_id: avip_db::model::OrganizationId,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    /// `false` once disabled, by its owner or by the service when a
    /// delivery failed every attempt (`disabled_reason` then says so).
    pub active: bool,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Webhook> for WebhookBody {
    fn from(w: Webhook) -> WebhookBody {
        WebhookBody {
            events: w.event_types(),
            id: w.id,
            organization_id: w.organization_id,
            url: w.url,
            active: w.active,
            disabled_reason: w.disabled_reason,
            created_at: time(w.created_at),
            updated_at: time(w.updated_at),
        }
    }
}

/// A subscription just made, with the secret that signs its deliveries:
/// shown this once.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000050",
    "organization_id": "0193a5b0-7c1e-7d2a-9b1e-000000000002",
    "url": "https://si.partenaire.example/avip/webhooks",
    "events": ["referral.status_changed"], "active": true, "disabled_reason": null,
    "created_at": "2026-11-29T10:00:00Z", "updated_at": "2026-11-29T10:00:00Z",
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}))]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookBody,
    /// `whsec_` and a base64 key: verify each delivery with it, as the
    /// Standard Webhooks libraries do.
    pub secret: String,
}

/// One event sent to one subscription, and what the receiver answered.
#[derive(Serialize, ToSchema, Debug)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-000000000060", "event_type": "referral.status_changed",
    "referral_id": "0193a5b0-7c1e-7d2a-9b1e-000000000010", "status": "pending", "attempts": 2,
    "next_attempt_at": "2026-11-29T10:35:05Z", "last_attempt_at": "2026-11-29T10:05:05Z",
    "last_status_code": 503, "last_error": "answered 503", "created_at": "2026-11-29T10:00:00Z",
    "delivered_at": null,
    "payload": {"type": "referral.status_changed", "timestamp": "2026-11-29T10:00:00Z",
        "data": {"referral_id": "0193a5b0-7c1e-7d2a-9b1e-000000000010", "reference": "AVIP-83-2026-00042",
                 "status": "contacted", "changed_at": "2026-11-29T10:00:00Z"}}}))]
pub struct DeliveryBody {
    /// Also its `webhook-id` header, the same on every attempt.
    #[schema(value_type = String, format = Uuid)]
    pub id: DeliveryId,
    pub event_type: WebhookEvent,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub referral_id: Option<avip_db::model::ReferralId>,
    /// `pending` (to be sent, or sent again after a failure), `delivered`
    /// (a 2xx answered) or `failed` (every attempt failed).
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// When it is sent next, while `pending`.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status the receiver last answered; `null` if it did not.
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The body sent.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl From<Delivery> for DeliveryBody {
    fn from(d: Delivery) -> DeliveryBody {
        DeliveryBody {
            payload: serde_json::from_str(&d.payload).unwrap_or(serde_json::Value::Null),
            next_attempt_at: (d.status == DeliveryStatus::Pending).then(|| time(d.next_attempt_at)),
            id: d.id,
            event_type: d.event_type,
            referral_id: d.referral_id,
            status: d.status,
            attempts: d.attempts,
            last_attempt_at: d.last_attempt_at.map(time),
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            created_at: time(d.created_at),
            delivered_at: d.delivered_at.map(time),
        }
    }
}

/// The targets this service accepts (production: public `https` only).
fn targets(state: &State) -> avip_app::webhooks::Targets {
    state.webhook_targets
}

async fn checked_url(state: &State, url: &str) -> Result<(), DomainError> {
    avip_app::webhooks::check_target(url, targets(state))
        .await
        .map(drop)
        .map_err(|why| DomainError::invalid("url", &why))
}

/// Subscriptions: an API client sees its organisation's, an admin all.
#[utoipa::path(operation_id = "listWebhooks", tag = "webhooks", params(PageQuery), security(("oauth2" = [])), responses(
    (status = 200, body = List<WebhookBody>), Forbidden,
))]
#[get("/webhooks")]
pub async fn list(
    Bearer(who): Bearer,
    state: State,
    query: ApiQuery<PageQuery>,
) -> Result<web::Json<List<WebhookBody>>, ApiError> {
    let page = query.0.request()?;
    let rows = state
        .run(move |conn| webhooks::list(conn, &who, &page))
        .await?;
    Ok(web::Json(List::from_page(rows, WebhookBody::from)))
}

/// Subscribe to referral events (a prescriber organisation's API clients
/// for their organisation; admins for any, naming `organization_id`). The
/// URL must be `https://` to a public address (checked again before each
/// delivery). The answer carries the signing `secret`, shown this once.
#[utoipa::path(operation_id = "createWebhook", tag = "webhooks", request_body = CreateWebhook, security(("oauth2" = [])), responses(
    (status = 201, body = CreatedWebhook), Forbidden, Unprocessable,
))]
#[post("/webhooks")]
pub async fn create(
    Bearer(who): Bearer,
    state: State,
    body: ApiJson<CreateWebhook>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    // Who may, before anything is resolved on their behalf.
    avip_app::access::require(
        &who,
        avip_app::access::Action::Create,
        avip_app::access::Resource::Webhooks(None),
    )?;
    checked_url(&state, &request.url).await?;
    let secret = avip_app::webhooks::new_secret();
    let created = state
        .write(move |conn| webhooks::create(conn, &who, request, secret, Utc::now()))
        .await?;
    let secret = created.webhook.secret.clone();
    let body = CreatedWebhook {
        webhook: created.webhook.into(),
        secret,
    };
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/webhooks/{}", body.webhook.id)))
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}

/// Change a subscription's URL, events, or whether it is active; turning
/// it on again clears `disabled_reason`.
#[utoipa::path(operation_id = "updateWebhook", tag = "webhooks", params(("id" = String, Path, format = Uuid)), request_body = UpdateWebhook,
    security(("oauth2" = [])), responses(
    (status = 200, body = WebhookBody), Forbidden, NotFound, Unprocessable,
))]
#[patch("/webhooks/{id}")]
pub async fn update(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    body: ApiJson<UpdateWebhook>,
) -> Result<web::Json<WebhookBody>, ApiError> {
    let id = path_id(&id, WebhookId::parse)?;
    let request = body.0;
    if let Some(url) = &request.url {
        checked_url(&state, url).await?;
    }
    let hook = state
        .write(move |conn| webhooks::update(conn, &who, &id, request, Utc::now()))
        .await?;
    Ok(web::Json(hook.into()))
}

/// Delete a subscription and its deliveries.
#[utoipa::path(operation_id = "deleteWebhook", tag = "webhooks", params(("id" = String, Path, format = Uuid)),
    security(("oauth2" = [])), responses(
    (status = 204, description = "Deleted"), Forbidden, NotFound,
))]
#[delete("/webhooks/{id}")]
pub async fn remove(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&id, WebhookId::parse)?;
    state
        .write(move |conn| webhooks::delete(conn, &who, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A subscription's deliveries, newest first: each event sent, its
/// attempts and the receiver's last answer.
#[utoipa::path(operation_id = "listWebhookDeliveries", tag = "webhooks", params(("id" = String, Path, format = Uuid), PageQuery),
    security(("oauth2" = [])), responses(
    (status = 200, body = List<DeliveryBody>), Forbidden, NotFound,
))]
#[get("/webhooks/{id}/deliveries")]
pub async fn deliveries(
    Bearer(who): Bearer,
    state: State,
    id: web::Path<String>,
    query: ApiQuery<PageQuery>,
) -> Result<web::Json<List<DeliveryBody>>, ApiError> {
    let id = path_id(&id, WebhookId::parse)?;
    let page = query.0.request()?;
    let rows = state
        .run(move |conn| webhooks::deliveries(conn, &who, &id, &page))
        .await?;
    Ok(web::Json(List::from_page(rows, DeliveryBody::from)))
}

/// Send a delivery again now, with the same `webhook-id`, whatever became
/// of it (its attempts count from zero again).
#[utoipa::path(operation_id = "retryWebhookDelivery", tag = "webhooks",
    params(("id" = String, Path, format = Uuid), ("delivery_id" = String, Path, format = Uuid)),
    security(("oauth2" = [])), responses(
    (status = 202, body = DeliveryBody, description = "Queued to be sent again"), Forbidden, NotFound,
))]
#[post("/webhooks/{id}/deliveries/{delivery_id}/retry")]
pub async fn retry(
    Bearer(who): Bearer,
    state: State,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery) = path.into_inner();
    let id = path_id(&id, WebhookId::parse)?;
    let delivery = path_id(&delivery, DeliveryId::parse)?;
    let queued = state
        .write(move |conn| webhooks::retry(conn, &who, &id, &delivery, Utc::now()))
        .await?;
    Ok(HttpResponse::Accepted().json(DeliveryBody::from(queued)))
}
