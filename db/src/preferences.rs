//! Notification preferences (a person's own, an organisation's default) and
//! the notices held for a daily digest.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{DeliveryMode, NoticeKind, OrganizationId, ReferralId, UserId};
use crate::schema::{digest_items, notification_preferences, users};

/// Whose preferences: a person's, or an organisation's default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    User(UserId),
    Organization(OrganizationId),
}

impl Owner {
    fn key(&self) -> String {
        match self {
            Owner::User(id) => format!("user:{id}"),
            Owner::Organization(id) => format!("organization:{id}"),
        }
    }
}

/// The choices `owner` made, by kind of notice.
pub fn chosen(
    conn: &mut DbConnection,
    owner: &Owner,
) -> QueryResult<Vec<(NoticeKind, DeliveryMode)>> {
    notification_preferences::table
        .filter(notification_preferences::owner.eq(owner.key()))
        .select((
            notification_preferences::notice,
            notification_preferences::mode,
        ))
        .order(notification_preferences::notice)
        .load(conn)
}

/// Replaces `owner`'s choices by `choices` (kinds left out: no choice).
pub fn replace(
    conn: &mut DbConnection,
    owner: &Owner,
    choices: &[(NoticeKind, DeliveryMode)],
    at: NaiveDateTime,
) -> QueryResult<()> {
    let key = owner.key();
    diesel::delete(
        notification_preferences::table.filter(notification_preferences::owner.eq(&key)),
    )
    .execute(conn)?;
    for (notice, mode) in choices {
        diesel::insert_into(notification_preferences::table)
            .values((
                notification_preferences::owner.eq(&key),
                notification_preferences::notice.eq(notice),
                notification_preferences::mode.eq(mode),
                notification_preferences::updated_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Sets some of `owner`'s choices, leaving the others.
pub fn set(
    conn: &mut DbConnection,
    owner: &Owner,
    choices: &[(NoticeKind, DeliveryMode)],
    at: NaiveDateTime,
) -> QueryResult<()> {
    let mut all = chosen(conn, owner)?;
    all.retain(|(notice, _)| !choices.iter().any(|(n, _)| n == notice));
    all.extend_from_slice(choices);
    replace(conn, owner, &all, at)
}

fn one(
    conn: &mut DbConnection,
    owner: &Owner,
    notice: NoticeKind,
) -> QueryResult<Option<DeliveryMode>> {
    notification_preferences::table
        .filter(notification_preferences::owner.eq(owner.key()))
        .filter(notification_preferences::notice.eq(notice))
        .select(notification_preferences::mode)
        .first(conn)
        .optional()
}

/// How `email` gets `notice`, if anybody chose: the active person with
/// that address, else that person's organisation, else `fallback` (the
/// organisation that named a referent without an account). `None`: nobody
/// chose.
pub fn mode_for(
    conn: &mut DbConnection,
    email: &str,
    notice: NoticeKind,
    fallback: Option<&OrganizationId>,
) -> QueryResult<Option<DeliveryMode>> {
    let person: Option<(UserId, OrganizationId)> = users::table
        .filter(users::email.eq(email.trim().to_lowercase()))
        .filter(users::active.eq(true))
        .select((users::id, users::organization_id))
        .first(conn)
        .optional()?;
    if let Some((user, organization)) = &person {
        if let Some(mode) = one(conn, &Owner::User(user.clone()), notice)? {
            return Ok(Some(mode));
        }
        if let Some(mode) = one(conn, &Owner::Organization(organization.clone()), notice)? {
            return Ok(Some(mode));
        }
    }
    match fallback {
        Some(org) if person.as_ref().is_none_or(|(_, o)| o != org) => {
            one(conn, &Owner::Organization(org.clone()), notice)
        }
        _ => Ok(None),
    }
}

/// A notice held for a daily digest.
#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = digest_items)]
pub struct DigestItem {
    pub id: String,
    /// Unique: the same notice is held once.
    pub dedup_key: String,
    pub recipient: String,
    pub notice: NoticeKind,
    pub referral_id: Option<ReferralId>,
    /// One line: what happened (French).
    pub title: String,
    pub link: String,
    pub created_at: NaiveDateTime,
    pub digest_key: Option<String>,
}

/// Holds the item unless its key is taken; `Ok(false)` then.
pub fn hold(conn: &mut DbConnection, item: &DigestItem) -> QueryResult<bool> {
    let inserted = match conn {
        DbConnection::Pg(c) => diesel::insert_into(digest_items::table)
            .values(item)
            .on_conflict(digest_items::dedup_key)
            .do_nothing()
            .execute(c)?,
        DbConnection::Sqlite(c) => diesel::insert_into(digest_items::table)
            .values(item)
            .on_conflict(digest_items::dedup_key)
            .do_nothing()
            .execute(c)?,
    };
    Ok(inserted == 1)
}

/// Items not yet gathered into a digest, by recipient, oldest first.
pub fn waiting(conn: &mut DbConnection) -> QueryResult<Vec<DigestItem>> {
    digest_items::table
        .filter(digest_items::digest_key.is_null())
        .order((
            digest_items::recipient,
            digest_items::created_at,
            digest_items::id,
        ))
        .select(DigestItem::as_select())
        .load(conn)
}

/// Marks items as gathered into the digest e-mail `key`.
pub fn gathered(conn: &mut DbConnection, ids: &[String], key: &str) -> QueryResult<()> {
    diesel::update(digest_items::table.filter(digest_items::id.eq_any(ids)))
        .set(digest_items::digest_key.eq(key))
        .execute(conn)
        .map(drop)
}
