//! Webhook subscriptions and their deliveries (the outbox of webhooks): a
//! delivery row is written in the transaction of the fact it announces, for
//! each active subscription of the referral's organisations that asked for
//! that event, then sent by the dispatcher until a 2xx answers.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{
    DeliveryId, DeliveryStatus, OrganizationId, ReferralId, WebhookEvent, WebhookId,
};
use crate::page::{Page, PageRequest};
use crate::schema::{creches, referrals, webhook_deliveries, webhooks};

#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = webhooks)]
pub struct Webhook {
    pub id: WebhookId,
    pub organization_id: OrganizationId,
    pub url: String,
    /// JSON array of event types.
    pub events: String,
    /// `whsec_…`: the key deliveries are signed with.
    pub secret: String,
    pub active: bool,
    /// Why the service disabled it (its deliveries kept failing).
    pub disabled_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Webhook {
    pub fn event_types(&self) -> Vec<WebhookEvent> {
        serde_json::from_str::<Vec<String>>(&self.events)
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e.parse().ok())
            .collect()
    }
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    /// Also the `webhook-id` header, the same on every attempt.
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub event_type: WebhookEvent,
    pub referral_id: Option<ReferralId>,
    /// The body, fixed when the event happened.
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_attempt_at: Option<NaiveDateTime>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConnection, webhook: &Webhook) -> QueryResult<()> {
    diesel::insert_into(webhooks::table)
        .values(webhook)
        .execute(conn)
        .map(drop)
}

pub fn get(conn: &mut DbConnection, id: &WebhookId) -> QueryResult<Webhook> {
    webhooks::table
        .find(id)
        .select(Webhook::as_select())
        .first(conn)
}

/// Subscriptions in id order; `only` restricts to one organisation's.
pub fn list(
    conn: &mut DbConnection,
    only: Option<&OrganizationId>,
    page: &PageRequest,
) -> QueryResult<Page<Webhook>> {
    let mut query = webhooks::table
        .select(Webhook::as_select())
        .order(webhooks::id)
        .limit(page.limit + 1)
        .into_boxed();
    if let Some(org) = only {
        query = query.filter(webhooks::organization_id.eq(org.clone()));
    }
    if let Some(after) = &page.after {
        query = query.filter(webhooks::id.gt(after.clone()));
    }
    let rows = query.load(conn)?;
    Ok(Page::from_rows(rows, page.limit, |w| w.id.to_string()))
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = webhooks)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub events: Option<String>,
    pub active: Option<bool>,
    pub disabled_reason: Option<Option<String>>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn update(
    conn: &mut DbConnection,
    id: &WebhookId,
    changes: &WebhookChanges,
) -> QueryResult<()> {
    diesel::update(webhooks::table.find(id))
        .set(changes)
        .execute(conn)
        .map(drop)
}

/// Deletes the subscription and its deliveries.
pub fn delete(conn: &mut DbConnection, id: &WebhookId) -> QueryResult<()> {
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::webhook_id.eq(id)))
        .execute(conn)?;
    diesel::delete(webhooks::table.find(id))
        .execute(conn)
        .map(drop)
}

/// Writes a delivery of `event` for each active subscription that asked
/// for it, of the referral's prescriber organisation or of its crèche's
/// operator, with the body the receiver will get: the event, the referral's
/// id, reference and status as they are in this transaction, and the time.
/// No personal data: the receiver reads the rest with its token. Returns
/// how many were written.
pub fn enqueue(
    conn: &mut DbConnection,
    referral: &ReferralId,
    event: WebhookEvent,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    // One query, which finds nothing when neither organisation subscribes
    // (the common case: intake pays one indexed lookup).
    let found: Vec<(Webhook, String, String)> = referrals::table
        .inner_join(creches::table)
        .inner_join(
            webhooks::table.on(webhooks::organization_id
                .eq(referrals::prescriber_organization_id)
                .or(webhooks::organization_id.eq(creches::operator_id))),
        )
        .filter(referrals::id.eq(referral))
        .filter(webhooks::active.eq(true))
        .select((
            Webhook::as_select(),
            referrals::reference,
            referrals::status,
        ))
        .load(conn)?;
    let Some((reference, status)) = found.first().map(|(_, r, s)| (r.clone(), s.clone())) else {
        return Ok(0);
    };
    let subscriptions: Vec<Webhook> = found.into_iter().map(|(w, _, _)| w).collect();
    let timestamp = at
        .and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let payload = serde_json::json!({
        "type": event.as_str(),
        "timestamp": timestamp,
        "data": {
            "referral_id": referral,
            "reference": reference,
            "status": status,
            "changed_at": timestamp,
        },
    })
    .to_string();
    let rows: Vec<Delivery> = subscriptions
        .iter()
        .filter(|w| w.event_types().contains(&event))
        .map(|w| Delivery {
            id: DeliveryId::generate(),
            webhook_id: w.id.clone(),
            event_type: event,
            referral_id: Some(referral.clone()),
            payload: payload.clone(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: at,
            last_attempt_at: None,
            last_status_code: None,
            last_error: None,
            created_at: at,
            delivered_at: None,
        })
        .collect();
    // One statement per row: a multi-row insert does not compile over both
    // backends, and a referral has few subscriptions.
    for row in &rows {
        diesel::insert_into(webhook_deliveries::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(rows.len())
}

/// Deliveries due at `now` of active subscriptions, oldest first, with their subscription; their
/// next attempt moves to `lease_until` so that no other dispatcher takes
/// them meanwhile (on PostgreSQL, rows locked by another are skipped).
pub fn claim_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<(Delivery, Webhook)>> {
    macro_rules! due {
        () => {
            webhook_deliveries::table
                .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
                .filter(webhook_deliveries::next_attempt_at.le(now))
                // A disabled subscription's deliveries wait until it is on again.
                .filter(
                    webhook_deliveries::webhook_id.eq_any(
                        webhooks::table
                            .filter(webhooks::active.eq(true))
                            .select(webhooks::id),
                    ),
                )
                .order((webhook_deliveries::next_attempt_at, webhook_deliveries::id))
                .select(Delivery::as_select())
                .limit(limit)
        };
    }
    let rows: Vec<Delivery> = match conn {
        DbConnection::Pg(c) => due!().for_update().skip_locked().load(c)?,
        DbConnection::Sqlite(c) => due!().load(c)?,
    };
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&DeliveryId> = rows.iter().map(|d| &d.id).collect();
    diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids)))
        .set(webhook_deliveries::next_attempt_at.eq(lease_until))
        .execute(conn)?;
    let hook_ids: Vec<&WebhookId> = rows.iter().map(|d| &d.webhook_id).collect();
    let hooks: Vec<Webhook> = webhooks::table
        .filter(webhooks::id.eq_any(hook_ids))
        .select(Webhook::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|d| {
            let hook = hooks.iter().find(|w| w.id == d.webhook_id)?.clone();
            Some((d, hook))
        })
        .collect())
}

/// What one attempt got.
pub struct Attempt {
    pub at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// `None`: delivered (a 2xx). `Some(Some(t))`: try again at `t`.
    /// `Some(None)`: no attempt left, the delivery failed.
    pub retry: Option<Option<NaiveDateTime>>,
}

pub fn record_attempt(
    conn: &mut DbConnection,
    id: &DeliveryId,
    attempt: &Attempt,
) -> QueryResult<()> {
    let (status, next, delivered) = match attempt.retry {
        None => (DeliveryStatus::Delivered, attempt.at, Some(attempt.at)),
        Some(Some(next)) => (DeliveryStatus::Pending, next, None),
        Some(None) => (DeliveryStatus::Failed, attempt.at, None),
    };
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(status),
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
            webhook_deliveries::next_attempt_at.eq(next),
            webhook_deliveries::last_attempt_at.eq(Some(attempt.at)),
            webhook_deliveries::last_status_code.eq(attempt.status_code),
            webhook_deliveries::last_error.eq(attempt.error.as_deref()),
            webhook_deliveries::delivered_at.eq(delivered),
        ))
        .execute(conn)
        .map(drop)
}

/// A subscription's deliveries, newest first.
pub fn deliveries(
    conn: &mut DbConnection,
    webhook: &WebhookId,
    page: &PageRequest,
) -> QueryResult<Page<Delivery>> {
    let mut query = webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook))
        .select(Delivery::as_select())
        .order(webhook_deliveries::id.desc())
        .limit(page.limit + 1)
        .into_boxed();
    if let Some(before) = &page.after {
        query = query.filter(webhook_deliveries::id.lt(before.clone()));
    }
    let rows = query.load(conn)?;
    Ok(Page::from_rows(rows, page.limit, |d| d.id.to_string()))
}

pub fn delivery(
    conn: &mut DbConnection,
    webhook: &WebhookId,
    id: &DeliveryId,
) -> QueryResult<Delivery> {
    webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook))
        .filter(webhook_deliveries::id.eq(id))
        .select(Delivery::as_select())
        .first(conn)
}

/// Sends the delivery again at `at`, whatever it became; its attempts are
/// counted again from zero.
pub fn retry(conn: &mut DbConnection, id: &DeliveryId, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(DeliveryStatus::Pending),
            webhook_deliveries::attempts.eq(0),
            webhook_deliveries::next_attempt_at.eq(at),
        ))
        .execute(conn)
        .map(drop)
}

/// The webhook outbox as the metrics show it.
pub fn stats(conn: &mut DbConnection) -> QueryResult<crate::notifications::OutboxStats> {
    use diesel::dsl::{count_star, min, sum};
    let pending = webhook_deliveries::table
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
        .select((count_star(), min(webhook_deliveries::created_at)))
        .first(conn)?;
    let delivered = webhook_deliveries::table
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Delivered))
        .count()
        .get_result(conn)?;
    let attempts = webhook_deliveries::table
        .select(sum(webhook_deliveries::attempts))
        .first(conn)?;
    Ok(crate::notifications::OutboxStats::of(
        pending, delivered, attempts,
    ))
}
