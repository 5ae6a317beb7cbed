//! The access log: who read which families' personal data, when, how. One
//! row per read. A read of one referral (the referral, its timeline,
//! follow-ups, personal data, an erasure) also writes one key for the search
//! by referral; a list page does not (50 keys a page cost lists a quarter
//! of their throughput: BENCHMARKS.md, session 7), and the search finds it
//! in the page's `referral_ids` instead, within the period asked.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::DbConnection;
use crate::page::{Page, PageRequest, TimeCursor};
use crate::schema::{access_log, access_log_referrals};

#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = access_log)]
pub struct Access {
    pub id: String,
    pub at: NaiveDateTime,
    /// `user` or `api_client`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub organization_id: String,
    /// `get_referral`, `list_referrals`, `search_referrals`, `timeline`, `follow_ups`,
    /// `personal_data`, `erasure`.
    pub operation: String,
    pub request_id: Option<String>,
    /// The referrals read, comma-separated, in the order shown.
    pub referral_ids: String,
}

impl Access {
    pub fn referrals(&self) -> impl Iterator<Item = &str> {
        self.referral_ids.split(',').filter(|id| !id.is_empty())
    }
}

/// The operation of a list page, whose referrals are not keyed.
pub const LIST: &str = "list_referrals";

#[derive(Insertable)]
#[diesel(table_name = access_log_referrals)]
struct Named<'a> {
    referral_id: &'a str,
    access_id: &'a str,
}

/// Records a batch of reads (in the caller's transaction), a few statements
/// for the whole batch.
pub fn insert(conn: &mut DbConnection, rows: &[Access]) -> QueryResult<()> {
    let named: Vec<Named<'_>> = rows
        .iter()
        .filter(|row| row.operation != LIST)
        .flat_map(|row| {
            row.referrals().map(|referral_id| Named {
                referral_id,
                access_id: &row.id,
            })
        })
        .collect();
    macro_rules! batch {
        ($c:expr) => {{
            for chunk in rows.chunks(500) {
                diesel::insert_into(access_log::table)
                    .values(chunk)
                    .execute($c)?;
            }
            for chunk in named.chunks(2_000) {
                diesel::insert_into(access_log_referrals::table)
                    .values(chunk)
                    .execute($c)?;
            }
        }};
    }
    match conn {
        DbConnection::Pg(c) => batch!(c),
        DbConnection::Sqlite(c) => batch!(c),
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
        // An id is a UUID: no `%` or `_` to escape.
        query = query.filter(
            access_log::id
                .eq_any(
                    access_log_referrals::table
                        .filter(access_log_referrals::referral_id.eq(id.clone()))
                        .select(access_log_referrals::access_id),
                )
                .or(access_log::operation
                    .eq(LIST)
                    .and(access_log::referral_ids.like(format!("%{id}%")))),
        );
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

/// Deletes the reads recorded before `before`; how many.
pub fn purge(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
    let old = access_log::table
        .filter(access_log::at.lt(before))
        .select(access_log::id);
    diesel::delete(access_log_referrals::table.filter(access_log_referrals::access_id.eq_any(old)))
        .execute(conn)?;
    diesel::delete(access_log::table.filter(access_log::at.lt(before))).execute(conn)
}

/// How many reads were recorded before `before`.
pub fn count_before(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
    access_log::table
        .filter(access_log::at.lt(before))
        .count()
        .get_result::<i64>(conn)
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}
