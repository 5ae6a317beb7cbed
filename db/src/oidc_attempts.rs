//! Sign-ins sent to the OpenID Connect provider and not yet back: what the
//! answer is checked against (`nonce`, PKCE verifier) and where to go next,
//! keyed by the SHA-256 of their `state`. An attempt is taken once.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::DbConnection;
use crate::schema::oidc_attempts;

#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = oidc_attempts)]
pub struct OidcAttempt {
    pub state_hash: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub next: String,
    pub expires_at: NaiveDateTime,
}

/// Records an attempt, forgetting those expired at `now`.
pub fn insert(
    conn: &mut DbConnection,
    attempt: &OidcAttempt,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(oidc_attempts::table.filter(oidc_attempts::expires_at.le(now))).execute(conn)?;
    diesel::insert_into(oidc_attempts::table)
        .values(attempt)
        .execute(conn)
        .map(drop)
}

/// Takes the attempt of this `state` (removing it), if it has not expired at
/// `now`: a second answer with the same `state` finds nothing.
pub fn take(
    conn: &mut DbConnection,
    state_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<OidcAttempt>> {
    let found = oidc_attempts::table
        .find(state_hash)
        .select(OidcAttempt::as_select())
        .first(conn)
        .optional()?;
    let removed = diesel::delete(oidc_attempts::table.find(state_hash)).execute(conn)?;
    // Two answers racing for one attempt: only the one that removed it goes on.
    Ok(found.filter(|a| removed == 1 && a.expires_at > now))
}
