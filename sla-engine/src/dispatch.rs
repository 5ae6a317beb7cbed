//! The dispatcher: delivers the outbox. A row is claimed under a lease (on
//! PostgreSQL with `FOR UPDATE SKIP LOCKED`, so that several instances share
//! the work without sending a row twice), sent without holding any lock,
//! then marked sent, or given its next attempt with exponential backoff. A
//! row is never dropped: it stays pending until the server accepts it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use avip_db::model::{ActorKind, Channel, EventId, EventKind, NotificationKind};
use avip_db::notifications::{self, Notification};
use avip_db::referrals::{self, Event};
use avip_db::{Pool, QueryError, WriteGate};

use crate::error::EngineError;
use crate::mail::Mailer;
use crate::sms::{Sms, SmsFailure, SmsText, Texter};
use crate::timers::to_db;

/// What carries the outbox's rows: e-mails and SMS.
#[derive(Clone, Debug)]
pub struct Carriers {
    pub mail: Mailer,
    pub sms: Texter,
}

/// How one attempt went.
#[derive(Debug)]
enum Attempt {
    Sent,
    /// Tried again after the backoff.
    Retry(String),
    /// Refused for good: the row is `failed`, never tried again.
    Refused(String),
}

impl Carriers {
    async fn carry(&self, row: &Notification) -> Attempt {
        match row.channel {
            Channel::Email => match self.mail.send(row).await {
                Ok(()) => Attempt::Sent,
                Err(error) => Attempt::Retry(error),
            },
            Channel::Sms => {
                let Ok([to]) = serde_json::from_str::<[String; 1]>(&row.recipients) else {
                    return Attempt::Refused("an SMS has one recipient".to_owned());
                };
                let text = SmsText::prepare(&row.body_text);
                let sms = Sms {
                    key: &row.dedup_key,
                    to: &to,
                    text: &text,
                };
                match self.sms.send(&sms).await {
                    Ok(()) => Attempt::Sent,
                    Err(SmsFailure::Transient(error)) => Attempt::Retry(error),
                    Err(SmsFailure::Permanent(error)) => Attempt::Refused(error),
                }
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct DispatchOptions {
    /// How long a claimed row is reserved for the dispatcher sending it; if
    /// that process dies, another takes the row when the lease ends.
    pub lease: Duration,
    /// The wait before the first retry; it doubles at each failure…
    pub retry_base: Duration,
    /// …up to this.
    pub retry_max: Duration,
    /// Rows claimed at a time.
    pub batch: i64,
}

impl Default for DispatchOptions {
    fn default() -> Self {
        DispatchOptions {
            lease: Duration::from_secs(300),
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(3600),
            batch: 50,
        }
    }
}

impl DispatchOptions {
    /// The wait after the `attempts`-th failure.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let doublings = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        self.retry_base
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.retry_max)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DispatchReport {
    pub sent: usize,
    pub failed: usize,
}

/// Sends everything due now; returns when nothing due is left, or once
/// `stopping` is set: then the e-mail being sent is finished, what was sent
/// is recorded, and the rows claimed but not tried are given back.
pub async fn dispatch(
    pool: &Pool,
    gate: &WriteGate,
    carriers: &Carriers,
    options: &DispatchOptions,
    stopping: &AtomicBool,
) -> Result<DispatchReport, EngineError> {
    let mut report = DispatchReport::default();
    while !stopping.load(Ordering::SeqCst) {
        let now = Utc::now();
        let lease_until = add(now, options.lease);
        let limit = options.batch;
        let claimed = avip_db::blocking::in_turn(pool, gate, move |conn| {
            avip_db::write_transaction(conn, |conn| {
                notifications::claim_due(conn, to_db(now), to_db(lease_until), limit)
            })
        })
        .await?;
        if claimed.is_empty() {
            return Ok(report);
        }
        let mut outcomes = Vec::with_capacity(claimed.len());
        let mut untried = Vec::new();
        for row in claimed {
            if stopping.load(Ordering::SeqCst) {
                untried.push(row.id);
                continue;
            }
            let outcome = carriers.carry(&row).await;
            // Never the recipients: a family's number stays out of the logs.
            match &outcome {
                Attempt::Sent => {
                    report.sent += 1;
                    tracing::info!(notification = %row.id, kind = %row.kind, channel = %row.channel, "message sent");
                }
                Attempt::Retry(error) => {
                    report.failed += 1;
                    tracing::warn!(notification = %row.id, kind = %row.kind, channel = %row.channel, attempts = row.attempts + 1, %error, "message not sent; it will be retried");
                }
                Attempt::Refused(error) => {
                    report.failed += 1;
                    tracing::warn!(notification = %row.id, kind = %row.kind, channel = %row.channel, %error, "message refused for good; it will not be retried");
                }
            }
            outcomes.push((row, outcome));
        }
        let options = options.clone();
        avip_db::blocking::in_turn(pool, gate, move |conn| {
            avip_db::write_transaction(conn, |conn| {
                record(conn, &options, outcomes)?;
                if !untried.is_empty() {
                    let ids: Vec<_> = untried.iter().collect();
                    notifications::release(conn, &ids, to_db(Utc::now()))?;
                }
                Ok::<_, QueryError>(())
            })
        })
        .await?;
    }
    Ok(report)
}

fn record(
    conn: &mut avip_db::DbConnection,
    options: &DispatchOptions,
    outcomes: Vec<(Notification, Attempt)>,
) -> Result<(), QueryError> {
    let now = Utc::now();
    for (row, outcome) in outcomes {
        let attempts = row.attempts + 1;
        match outcome {
            Attempt::Sent => {
                notifications::mark_sent(conn, &row.id, to_db(now))?;
                if let Some(referral) = &row.referral_id {
                    let (kind, data) = if row.kind == NotificationKind::FamilyMessage {
                        // The number or address is on the referral already.
                        let data = serde_json::json!({
                            "notification": row.dedup_key,
                            "channel": row.channel,
                            "attempts": attempts,
                        });
                        (EventKind::FamilyMessageSent, data)
                    } else {
                        let data = serde_json::json!({
                            "notification": row.dedup_key,
                            "kind": row.kind,
                            "attempts": attempts,
                            // To whom, for the timeline (blanked with the
                            // family's data).
                            "to": serde_json::from_str::<serde_json::Value>(&row.recipients)
                                .unwrap_or_default(),
                        });
                        (EventKind::EmailSent, data)
                    };
                    system_event(conn, referral, kind, None, data, now)?;
                }
            }
            Attempt::Retry(error) => {
                let retry_at = add(now, options.backoff(attempts));
                let error: String = error.chars().take(500).collect();
                notifications::mark_failed(conn, &row.id, attempts, to_db(retry_at), &error)?;
            }
            Attempt::Refused(error) => {
                let error: String = error.chars().take(500).collect();
                notifications::mark_refused(conn, &row.id, attempts, to_db(now), &error)?;
                if let Some(referral) = &row.referral_id {
                    let data = serde_json::json!({
                        "notification": row.dedup_key,
                        "channel": row.channel,
                        "attempts": attempts,
                    });
                    system_event(
                        conn,
                        referral,
                        EventKind::FamilyMessageFailed,
                        Some(error),
                        data,
                        now,
                    )?;
                }
            }
        }
    }
    Ok(())
}

fn system_event(
    conn: &mut avip_db::DbConnection,
    referral: &avip_db::model::ReferralId,
    kind: EventKind,
    reason: Option<String>,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), QueryError> {
    referrals::insert_event(
        conn,
        &Event {
            id: EventId::generate(),
            referral_id: referral.clone(),
            kind,
            occurred_at: to_db(now),
            actor_kind: ActorKind::System,
            actor_id: None,
            from_status: None,
            to_status: None,
            reason,
            note: None,
            data: Some(data.to_string()),
        },
    )
}

fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_ceiling() {
        let options = DispatchOptions {
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(3600),
            ..DispatchOptions::default()
        };
        let waits: Vec<u64> = (1..=9).map(|n| options.backoff(n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(options.backoff(i32::MAX).as_secs(), 3600);
    }
}
