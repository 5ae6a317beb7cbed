//! Sign-in attempts per key (a hash of the account name and the client's
//! address), shared by every instance.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::DbConnection;
use crate::schema::login_throttle;

#[derive(Queryable, Selectable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = login_throttle)]
pub struct Throttle {
    pub account: String,
    /// Attempts counted since `first_failure_at` (a successful one clears them).
    pub failures: i32,
    pub first_failure_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
}

/// Counts one more attempt for `key` at `now`, in one statement (two
/// concurrent attempts never read the same count), and returns the state
/// after it. Rows whose window started at `window_start` or before and that
/// are not locked any more are purged first, this key's and everyone's, so
/// that the table holds only the attempts of the last window.
pub fn count_attempt(
    conn: &mut DbConnection,
    key: &str,
    now: NaiveDateTime,
    window_start: NaiveDateTime,
) -> QueryResult<Throttle> {
    use login_throttle::dsl as t;
    diesel::delete(
        t::login_throttle
            .filter(t::first_failure_at.le(window_start))
            .filter(t::locked_until.is_null().or(t::locked_until.le(now))),
    )
    .execute(conn)?;
    let row = (
        t::account.eq(key),
        t::failures.eq(1),
        t::first_failure_at.eq(now),
        t::locked_until.eq(None::<NaiveDateTime>),
    );
    let returned = (
        t::account,
        t::failures,
        t::first_failure_at,
        t::locked_until,
    );
    match conn {
        DbConnection::Pg(c) => diesel::insert_into(t::login_throttle)
            .values(row)
            .on_conflict(t::account)
            .do_update()
            .set(t::failures.eq(t::failures + 1))
            .returning(returned)
            .get_result(c),
        DbConnection::Sqlite(c) => diesel::insert_into(t::login_throttle)
            .values(row)
            .on_conflict(t::account)
            .do_update()
            .set(t::failures.eq(t::failures + 1))
            .returning(returned)
            .get_result(c),
    }
    .map(
        |(account, failures, first_failure_at, locked_until)| Throttle {
            account,
            failures,
            first_failure_at,
            locked_until,
        },
    )
}

/// Locks `key` until `until` (unless a lock is already in force).
pub fn lock(conn: &mut DbConnection, key: &str, until: NaiveDateTime) -> QueryResult<()> {
    use login_throttle::dsl as t;
    diesel::update(t::login_throttle.find(key))
        .filter(t::locked_until.is_null())
        .set(t::locked_until.eq(until))
        .execute(conn)
        .map(drop)
}

pub fn clear(conn: &mut DbConnection, key: &str) -> QueryResult<()> {
    diesel::delete(login_throttle::table.find(key))
        .execute(conn)
        .map(drop)
}

/// How many keys are counted (tests and the operator's curiosity).
pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    login_throttle::table.count().get_result(conn)
}
