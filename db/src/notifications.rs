//! The transactional outbox (docs/product.md §4): e-mails are written in the same
//! transaction as the fact they announce, then delivered by the dispatcher.
//! A row is never deleted: it stays `pending`, with its attempts and last
//! error, until the mail server accepted it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{Channel, NotificationId, NotificationKind, NotificationStatus, ReferralId};
use crate::schema::notifications;

#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = notifications)]
pub struct Notification {
    pub id: NotificationId,
    /// Unique: the same fact is never announced twice.
    pub dedup_key: String,
    pub kind: NotificationKind,
    pub referral_id: Option<ReferralId>,
    /// JSON array of addresses.
    pub recipients: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub status: NotificationStatus,
    pub attempts: i32,
    /// When the dispatcher may take it (again); also its lease while sending.
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    /// E-mail (recipients are addresses) or SMS (E.164 numbers).
    pub channel: Channel,
    /// An e-mail's calendar invitation (iCalendar), attached as `.ics`.
    pub calendar: Option<String>,
}

/// What an outbox row says: its subject and its two bodies (the SMS's
/// words are the text; its HTML is empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Notification {
    /// A row by e-mail, due at `at` for its first attempt, about no
    /// referral and with no calendar; `about` and `by` say otherwise.
    pub fn pending<S: serde::Serialize>(
        dedup_key: impl Into<String>,
        kind: NotificationKind,
        recipients: &[S],
        content: Content,
        at: NaiveDateTime,
    ) -> Self {
        Notification {
            id: NotificationId::generate(),
            dedup_key: dedup_key.into(),
            kind,
            referral_id: None,
            recipients: serde_json::to_string(recipients).unwrap_or_else(|_| "[]".into()),
            subject: content.subject,
            body_text: content.text,
            body_html: content.html,
            status: NotificationStatus::Pending,
            attempts: 0,
            next_attempt_at: at,
            last_error: None,
            created_at: at,
            sent_at: None,
            channel: Channel::Email,
            calendar: None,
        }
    }

    /// The referral the row announces something about.
    pub fn about(mut self, referral: Option<ReferralId>) -> Self {
        self.referral_id = referral;
        self
    }

    /// Sent by `channel` rather than e-mail.
    pub fn by(mut self, channel: Channel) -> Self {
        self.channel = channel;
        self
    }
}

/// Inserts the row unless its deduplication key is taken; `Ok(false)` then.
pub fn insert(conn: &mut DbConnection, notification: &Notification) -> QueryResult<bool> {
    let inserted = match conn {
        DbConnection::Pg(c) => diesel::insert_into(notifications::table)
            .values(notification)
            .on_conflict(notifications::dedup_key)
            .do_nothing()
            .execute(c)?,
        DbConnection::Sqlite(c) => diesel::insert_into(notifications::table)
            .values(notification)
            .on_conflict(notifications::dedup_key)
            .do_nothing()
            .execute(c)?,
    };
    Ok(inserted == 1)
}

pub fn find_by_key(conn: &mut DbConnection, dedup_key: &str) -> QueryResult<Option<Notification>> {
    notifications::table
        .filter(notifications::dedup_key.eq(dedup_key))
        .select(Notification::as_select())
        .first(conn)
        .optional()
}

pub fn is_taken(conn: &mut DbConnection, dedup_key: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        notifications::table.filter(notifications::dedup_key.eq(dedup_key)),
    ))
    .get_result(conn)
}

/// Claims up to `limit` pending rows due at `now` by moving their next
/// attempt to `lease_until`, so that no other dispatcher takes them while
/// they are being sent; if this one dies, they come back when the lease
/// ends. On PostgreSQL the rows are locked with `FOR UPDATE SKIP LOCKED`,
/// so concurrent dispatchers claim disjoint rows without waiting; on SQLite
/// the caller's `BEGIN IMMEDIATE` makes claims one at a time.
pub fn claim_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Notification>> {
    // `as_select` is typed by backend: one query per arm.
    macro_rules! due {
        () => {
            notifications::table
                .filter(notifications::status.eq(NotificationStatus::Pending))
                .filter(notifications::next_attempt_at.le(now))
                .order((notifications::next_attempt_at, notifications::id))
                .select(Notification::as_select())
                .limit(limit)
        };
    }
    let rows: Vec<Notification> = match conn {
        DbConnection::Pg(c) => due!().for_update().skip_locked().load(c)?,
        DbConnection::Sqlite(c) => due!().load(c)?,
    };
    if !rows.is_empty() {
        let ids: Vec<&NotificationId> = rows.iter().map(|n| &n.id).collect();
        diesel::update(notifications::table.filter(notifications::id.eq_any(ids)))
            .set(notifications::next_attempt_at.eq(lease_until))
            .execute(conn)?;
    }
    Ok(rows)
}

/// Gives back rows claimed but not tried (a dispatcher stopping): they are
/// due again at `at` instead of when their lease ends.
pub fn release(
    conn: &mut DbConnection,
    ids: &[&NotificationId],
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        notifications::table
            .filter(notifications::id.eq_any(ids))
            .filter(notifications::status.eq(NotificationStatus::Pending)),
    )
    .set(notifications::next_attempt_at.eq(at))
    .execute(conn)
}

pub fn mark_sent(
    conn: &mut DbConnection,
    id: &NotificationId,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(notifications::table.find(id))
        .set((
            notifications::status.eq(NotificationStatus::Sent),
            notifications::sent_at.eq(Some(at)),
            notifications::attempts.eq(notifications::attempts + 1),
            notifications::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .map(drop)
}

/// Records a failed attempt and when to try again.
pub fn mark_failed(
    conn: &mut DbConnection,
    id: &NotificationId,
    attempts: i32,
    retry_at: NaiveDateTime,
    error: &str,
) -> QueryResult<()> {
    diesel::update(notifications::table.find(id))
        .set((
            notifications::attempts.eq(attempts),
            notifications::next_attempt_at.eq(retry_at),
            notifications::last_error.eq(Some(error)),
        ))
        .execute(conn)
        .map(drop)
}

/// Records an attempt refused for good: the row is `failed`, never
/// claimed again.
pub fn mark_refused(
    conn: &mut DbConnection,
    id: &NotificationId,
    attempts: i32,
    at: NaiveDateTime,
    error: &str,
) -> QueryResult<()> {
    diesel::update(notifications::table.find(id))
        .set((
            notifications::status.eq(NotificationStatus::Failed),
            notifications::attempts.eq(attempts),
            notifications::next_attempt_at.eq(at),
            notifications::last_error.eq(Some(error)),
        ))
        .execute(conn)
        .map(drop)
}

/// A referral's notifications, oldest first.
pub fn for_referral(conn: &mut DbConnection, id: &ReferralId) -> QueryResult<Vec<Notification>> {
    notifications::table
        .filter(notifications::referral_id.eq(id))
        .order((notifications::created_at, notifications::id))
        .select(Notification::as_select())
        .load(conn)
}

/// How many rows wait for delivery.
pub fn pending_count(conn: &mut DbConnection) -> QueryResult<i64> {
    notifications::table
        .filter(notifications::status.eq(NotificationStatus::Pending))
        .count()
        .get_result(conn)
}

/// The outbox as the metrics show it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutboxStats {
    pub pending: i64,
    /// When the oldest row still waiting was written.
    pub oldest_pending: Option<NaiveDateTime>,
    pub sent: i64,
    /// Delivery attempts that failed, over every row.
    pub failed_attempts: i64,
}

impl OutboxStats {
    /// From an outbox's counts: rows pending (and the oldest one's creation),
    /// rows done, and the sum of every row's attempts. Each done row's last
    /// attempt succeeded; every other attempt failed.
    pub fn of(
        (pending, oldest_pending): (i64, Option<NaiveDateTime>),
        done: i64,
        attempts: Option<i64>,
    ) -> OutboxStats {
        OutboxStats {
            pending,
            oldest_pending,
            sent: done,
            failed_attempts: attempts.unwrap_or(0).saturating_sub(done).max(0),
        }
    }
}

/// The outbox of one channel (e-mail or SMS).
pub fn stats(conn: &mut DbConnection, channel: Channel) -> QueryResult<OutboxStats> {
    use diesel::dsl::{count_star, min, sum};
    let of = || notifications::table.filter(notifications::channel.eq(channel));
    let pending = of()
        .filter(notifications::status.eq(NotificationStatus::Pending))
        .select((count_star(), min(notifications::created_at)))
        .first(conn)?;
    let sent = of()
        .filter(notifications::status.eq(NotificationStatus::Sent))
        .count()
        .get_result(conn)?;
    let attempts = of().select(sum(notifications::attempts)).first(conn)?;
    Ok(OutboxStats::of(pending, sent, attempts))
}

/// Marks every pending row of `kind` as sent (the demo's made-up past,
/// whose notices went out at the time of the story).
pub fn settle_pending_of_kind(
    conn: &mut DbConnection,
    kind: NotificationKind,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        notifications::table
            .filter(notifications::kind.eq(kind))
            .filter(notifications::status.eq(NotificationStatus::Pending)),
    )
    .set((
        notifications::status.eq(NotificationStatus::Sent),
        notifications::sent_at.eq(Some(at)),
    ))
    .execute(conn)
}
