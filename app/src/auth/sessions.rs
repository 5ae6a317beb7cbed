//! The workspace's sessions as the database keeps them: a random secret
//! the browser holds, its SHA-256 in `web_sessions`; the person behind it is
//! loaded as the database says now on every request, so that disabling a
//! person, changing her password or signing her out everywhere ends her
//! sessions at once. The cookie itself is the workspace's (`web/session.rs`).

use avip_db::DbConnection;
use avip_db::model::{UserId, from_db_time, to_db_time};
use avip_db::web_sessions::{self, WebSession};
use base64::Engine;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::auth::principal::Issued;
use crate::auth::{Principal, Subject};
use crate::domain::DomainError;

/// A session ends after this long without a request.
pub const IDLE: chrono::TimeDelta = chrono::TimeDelta::hours(8);
/// The expiry moves at most once in this interval (one write a minute, not
/// one per page).
pub const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// A random secret, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the system's random source failed");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-256 of a secret, in hexadecimal: what is stored of it.
pub fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Opens a session for `user` under her credentials' number as read when
/// her sign-in was checked; returns the secret the browser keeps.
/// `id_token` is the provider's, when she signed in through OpenID Connect.
pub fn open(
    conn: &mut DbConnection,
    (user, version): (&UserId, i32),
    id_token: Option<String>,
    now: DateTime<Utc>,
) -> Result<String, DomainError> {
    let secret = random_token();
    let at = to_db_time(now);
    web_sessions::purge(conn, at)?;
    web_sessions::insert(
        conn,
        &WebSession {
            id_hash: digest(&secret),
            user_id: user.clone(),
            csrf: random_token(),
            created_at: at,
            last_seen_at: at,
            expires_at: to_db_time(now + IDLE),
            id_token,
            credentials_version: version,
        },
    )?;
    Ok(secret)
}

/// The session of this secret's hash and the person behind it, if both
/// are still valid at `now`.
pub fn find(
    conn: &mut DbConnection,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(WebSession, Principal)>, DomainError> {
    let Some(session) = web_sessions::find(conn, hash, to_db_time(now))? else {
        return Ok(None);
    };
    let issued = Issued {
        at: from_db_time(session.created_at).timestamp(),
        version: Some(session.credentials_version),
    };
    let who =
        crate::auth::principal::load(conn, Subject::User(session.user_id.clone()), Some(issued))?;
    Ok(who.map(|who| (session, who)))
}

/// Whether the session seen last at `last_seen` moves its expiry now.
pub fn due_for_touch(last_seen: chrono::NaiveDateTime, now: DateTime<Utc>) -> bool {
    now - from_db_time(last_seen) >= TOUCH_EVERY
}

/// Moves the session's expiry to `IDLE` from now.
pub fn touch(conn: &mut DbConnection, hash: &str, now: DateTime<Utc>) -> Result<(), DomainError> {
    Ok(web_sessions::touch(
        conn,
        hash,
        to_db_time(now),
        to_db_time(now + IDLE),
    )?)
}

/// Ends the session.
pub fn close(conn: &mut DbConnection, hash: &str) -> Result<(), DomainError> {
    Ok(web_sessions::delete(conn, hash).map(drop)?)
}
