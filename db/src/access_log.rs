//! The access log: who read which family's personal data, when, how.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::DbConnection;
use crate::page::{Page, PageRequest, TimeCursor};
use crate::schema::access_log;

#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = access_log)]
pub struct Access {
    pub id: String,
    pub at: NaiveDateTime,
    /// `user` or `api_client`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub organization_id: String,
    pub referral_id: String,
    /// `get_referral`, `list_referrals`, `timeline`, `follow_ups`,
    /// `personal_data`, `erasure`.
    pub operation: String,
    pub request_id: Option<String>,
}

/// Records a batch of reads in one statement per 1,000 rows (in the
/// caller's transaction).
pub fn insert(conn: &mut DbConnection, rows: &[Access]) -> QueryResult<()> {
    for chunk in rows.chunks(1_000) {
        match conn {
            DbConnection::Pg(c) => diesel::insert_into(access_log::table)
                .values(chunk)
                .execute(c)?,
            DbConnection::Sqlite(c) => diesel::insert_into(access_log::table)
                .values(chunk)
                .execute(c)?,
        };
    }
    Ok(())
}

/// What an admin may filter the log by.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub referral_id: Option<String>,
    pub actor_id: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub before: Option<NaiveDateTime>,
}

/// One page of the log, newest first.
pub fn page(
    conn: &mut DbConnection,
    filter: &Filter,
    page: &PageRequest,
) -> QueryResult<Page<Access>> {
    let mut query = access_log::table.into_boxed();
    if let Some(id) = &filter.referral_id {
        query = query.filter(access_log::referral_id.eq(id.clone()));
    }
    if let Some(id) = &filter.actor_id {
        query = query.filter(access_log::actor_id.eq(id.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(access_log::at.ge(from));
    }
    if let Some(before) = filter.before {
        query = query.filter(access_log::at.lt(before));
    }
    if let Some(after) = page.after.as_deref().and_then(TimeCursor::parse) {
        query = query.filter(
            access_log::at
                .lt(after.at)
                .or(access_log::at.eq(after.at).and(access_log::id.lt(after.id))),
        );
    }
    let rows: Vec<Access> = query
        .order((access_log::at.desc(), access_log::id.desc()))
        .limit(page.limit + 1)
        .select(Access::as_select())
        .load(conn)?;
    Ok(Page::from_rows(rows, page.limit, |r| {
        TimeCursor {
            at: r.at,
            id: r.id.clone(),
        }
        .encode()
    }))
}

/// Deletes the rows recorded before `before`; how many.
pub fn purge(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(access_log::table.filter(access_log::at.lt(before))).execute(conn)
}

/// How many rows were recorded before `before`.
pub fn count_before(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
    access_log::table
        .filter(access_log::at.lt(before))
        .count()
        .get_result::<i64>(conn)
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}
