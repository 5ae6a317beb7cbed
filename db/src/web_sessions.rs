//! Sessions of the web workspace: a row per signed-in browser, keyed by the
//! SHA-256 of the cookie's secret.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::UserId;
use crate::schema::web_sessions;

#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = web_sessions)]
pub struct WebSession {
    pub id_hash: String,
    pub user_id: UserId,
    pub csrf: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// The provider's id_token, when the session was opened through
    /// OpenID Connect (the hint of the sign-out at the provider).
    pub id_token: Option<String>,
    /// The person's credentials' number when the session opened: another
    /// number now means it was revoked.
    pub credentials_version: i32,
}

pub fn insert(conn: &mut DbConnection, session: &WebSession) -> QueryResult<()> {
    diesel::insert_into(web_sessions::table)
        .values(session)
        .execute(conn)
        .map(drop)
}

/// The session, if it has not expired at `now`.
pub fn find(
    conn: &mut DbConnection,
    id_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<WebSession>> {
    web_sessions::table
        .find(id_hash)
        .filter(web_sessions::expires_at.gt(now))
        .select(WebSession::as_select())
        .first(conn)
        .optional()
}

/// Moves the session's expiry (a sliding window), at most once a minute.
pub fn touch(
    conn: &mut DbConnection,
    id_hash: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(web_sessions::table.find(id_hash))
        .set((
            web_sessions::last_seen_at.eq(now),
            web_sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(drop)
}

pub fn delete(conn: &mut DbConnection, id_hash: &str) -> QueryResult<()> {
    diesel::delete(web_sessions::table.find(id_hash))
        .execute(conn)
        .map(drop)
}

/// Ends every session of a person (disabled, or a new password).
pub fn delete_for_user(conn: &mut DbConnection, user: &UserId) -> QueryResult<usize> {
    diesel::delete(web_sessions::table.filter(web_sessions::user_id.eq(user))).execute(conn)
}

/// Forgets sessions expired at `now`.
pub fn purge(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(web_sessions::table.filter(web_sessions::expires_at.le(now))).execute(conn)
}
