//! Webhook subscriptions: a prescriber organisation's API clients manage
//! their own organisation's, admins any organisation's. The secret is shown
//! once, when the subscription is made.

use avip_db::model::{DeliveryId, OrganizationId, WebhookEvent, WebhookId, to_db_time};
use avip_db::page::{Page, PageRequest};
use avip_db::webhooks::{self, Delivery, Webhook, WebhookChanges};
use avip_db::{DbConnection, organizations};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::access::{Action, Resource, require};
use crate::auth::Principal;
use crate::domain::{DomainError, Problems};

/// A new subscription.
#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://si.partenaire.example/avip/webhooks",
    "events": ["referral.status_changed", "referral.enrolled"]}))]
pub struct CreateWebhook {
    /// Where deliveries are POSTed: `https://` to a public address.
    #[schema(max_length = 2000)]
    pub url: String,
    /// One or more of `referral.created`, `referral.status_changed`,
    /// `referral.enrolled`, `referral.exited`, `referral.follow_up_added`,
    /// `referral.sla_breached`, `referral.outcome_requested`.
    #[schema(min_items = 1, max_items = 7, value_type = Vec<WebhookEvent>)]
    pub events: Vec<String>,
    /// Admins only: whose subscription it is. An API client's is its own
    /// organisation's.
    #[schema(format = Uuid)]
    pub organization_id: Option<String>,
}

/// Changes to a subscription; `"active": true` turns a disabled one on again.
#[derive(Deserialize, ToSchema, Debug, Default)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"active": true}))]
pub struct UpdateWebhook {
    #[schema(max_length = 2000)]
    pub url: Option<String>,
    #[schema(min_items = 1, max_items = 7, value_type = Option<Vec<WebhookEvent>>)]
    pub events: Option<Vec<String>>,
    pub active: Option<bool>,
}

/// The events, checked: known, at least one, no repeat.
fn events_json(field: &str, events: &[String], p: &mut Problems) -> Option<String> {
    if events.is_empty() {
        p.push(field, "must name at least one event");
        return None;
    }
    let mut parsed: Vec<WebhookEvent> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        match e.parse::<WebhookEvent>() {
            Ok(e) if !parsed.contains(&e) => parsed.push(e),
            Ok(_) => p.push(format!("{field}[{i}]"), "is named twice"),
            Err(m) => p.push(format!("{field}[{i}]"), m),
        }
    }
    let names: Vec<&str> = parsed.iter().map(|e| e.as_str()).collect();
    serde_json::to_string(&names).ok()
}

fn url_checked(url: &str, p: &mut Problems) -> Option<String> {
    if url.len() > 2000 {
        p.push("url", "must be at most 2000 characters");
        return None;
    }
    Some(url.to_owned())
}

/// A subscription made, with its secret (shown this once).
pub struct Created {
    pub webhook: Webhook,
}

/// `target` is the URL as checked by `crate::webhooks::check_target`
/// (scheme and addresses), done by the caller before the transaction.
pub fn create(
    conn: &mut DbConnection,
    who: &Principal,
    request: CreateWebhook,
    secret: String,
    now: DateTime<Utc>,
) -> Result<Created, DomainError> {
    require(who, Action::Create, Resource::Webhooks(None))?;
    let mut p = Problems::default();
    let url = url_checked(&request.url, &mut p);
    let events = events_json("events", &request.events, &mut p);
    let organization_id = match (&request.organization_id, who.role) {
        (Some(raw), avip_db::model::Role::Admin) => match OrganizationId::parse(raw) {
            Some(id) => Some(id),
            None => {
                p.push("organization_id", "is not an id");
                None
            }
        },
        (None, avip_db::model::Role::Admin) => {
            p.push("organization_id", "is required for an admin");
            None
        }
        (Some(_), _) => {
            p.push("organization_id", "is set by your token: leave it out");
            None
        }
        (None, _) => Some(who.organization_id.clone()),
    };
    p.into_result()?;
    let (Some(url), Some(events), Some(organization_id)) = (url, events, organization_id) else {
        return Err(DomainError::invalid("url", "is invalid"));
    };
    if organizations::find(conn, &organization_id)?.is_none() {
        return Err(DomainError::invalid(
            "organization_id",
            "names no organisation",
        ));
    }
    let at = to_db_time(now);
    let webhook = Webhook {
        id: WebhookId::generate(),
        organization_id,
        url,
        events,
        secret,
        active: true,
        disabled_reason: None,
        created_at: at,
        updated_at: at,
    };
    webhooks::insert(conn, &webhook)?;
    Ok(Created { webhook })
}

/// The subscription, if the caller may see it (404 otherwise).
pub fn get(
    conn: &mut DbConnection,
    who: &Principal,
    id: &WebhookId,
) -> Result<Webhook, DomainError> {
    reach(conn, who, id, Action::Read)
}

/// The subscription, if the caller may do `action` to it: 403 for a role
/// that never may, 404 for another organisation's.
fn reach(
    conn: &mut DbConnection,
    who: &Principal,
    id: &WebhookId,
    action: Action,
) -> Result<Webhook, DomainError> {
    require(who, action, Resource::Webhooks(None))?;
    let hook = webhooks::get(conn, id)?;
    require(who, action, Resource::Webhooks(Some(&hook.organization_id)))?;
    Ok(hook)
}

pub fn list(
    conn: &mut DbConnection,
    who: &Principal,
    page: &PageRequest,
) -> Result<Page<Webhook>, DomainError> {
    require(who, Action::List, Resource::Webhooks(None))?;
    let only = (who.role != avip_db::model::Role::Admin).then_some(&who.organization_id);
    Ok(webhooks::list(conn, only, page)?)
}

pub fn update(
    conn: &mut DbConnection,
    who: &Principal,
    id: &WebhookId,
    request: UpdateWebhook,
    now: DateTime<Utc>,
) -> Result<Webhook, DomainError> {
    reach(conn, who, id, Action::Update)?;
    let mut p = Problems::default();
    let url = request.url.as_deref().and_then(|u| url_checked(u, &mut p));
    let events = request
        .events
        .as_deref()
        .and_then(|e| events_json("events", e, &mut p));
    p.into_result()?;
    let reactivated = request.active == Some(true);
    webhooks::update(
        conn,
        id,
        &WebhookChanges {
            url,
            events,
            active: request.active,
            disabled_reason: reactivated.then_some(None),
            updated_at: Some(to_db_time(now)),
        },
    )?;
    Ok(webhooks::get(conn, id)?)
}

pub fn delete(conn: &mut DbConnection, who: &Principal, id: &WebhookId) -> Result<(), DomainError> {
    reach(conn, who, id, Action::Update)?;
    Ok(webhooks::delete(conn, id)?)
}

pub fn deliveries(
    conn: &mut DbConnection,
    who: &Principal,
    id: &WebhookId,
    page: &PageRequest,
) -> Result<Page<Delivery>, DomainError> {
    get(conn, who, id)?;
    Ok(webhooks::deliveries(conn, id, page)?)
}

/// Sends a delivery again now (its attempts count from zero again).
pub fn retry(
    conn: &mut DbConnection,
    who: &Principal,
    id: &WebhookId,
    delivery: &DeliveryId,
    now: DateTime<Utc>,
) -> Result<Delivery, DomainError> {
    reach(conn, who, id, Action::Update)?;
    webhooks::delivery(conn, id, delivery)?;
    webhooks::retry(conn, delivery, to_db_time(now))?;
    Ok(webhooks::delivery(conn, id, delivery)?)
}
