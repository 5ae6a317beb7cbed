//! Failed sign-ins per account name, shared by every instance.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::DbConnection;
use crate::schema::login_throttle;

#[derive(Queryable, Selectable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = login_throttle)]
pub struct Throttle {
    pub account: String,
    pub failures: i32,
    pub first_failure_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
}

pub fn find(conn: &mut DbConnection, account: &str) -> QueryResult<Option<Throttle>> {
    login_throttle::table
        .find(account)
        .select(Throttle::as_select())
        .first(conn)
        .optional()
}

/// Stores the account's new state (in the caller's transaction).
pub fn save(conn: &mut DbConnection, state: &Throttle) -> QueryResult<()> {
    let updated = diesel::update(login_throttle::table.find(&state.account))
        .set((
            login_throttle::failures.eq(state.failures),
            login_throttle::first_failure_at.eq(state.first_failure_at),
            login_throttle::locked_until.eq(state.locked_until),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(login_throttle::table)
            .values((
                login_throttle::account.eq(&state.account),
                login_throttle::failures.eq(state.failures),
                login_throttle::first_failure_at.eq(state.first_failure_at),
                login_throttle::locked_until.eq(state.locked_until),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn clear(conn: &mut DbConnection, account: &str) -> QueryResult<()> {
    diesel::delete(login_throttle::table.find(account))
        .execute(conn)
        .map(drop)
}
