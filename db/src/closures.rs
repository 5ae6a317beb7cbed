//! The days a crèche is closed besides its weekly days and the public
//! holidays: periods its coordinator or an administrator records (three
//! weeks in August, Christmas week), both ends included.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{ClosureId, CrecheId};
use crate::places::Period;
use crate::schema::creche_closures;

#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = creche_closures)]
pub struct Closure {
    pub id: ClosureId,
    pub creche_id: CrecheId,
    pub starts_on: NaiveDate,
    /// The last day closed.
    pub ends_on: NaiveDate,
    pub label: String,
    pub created_at: NaiveDateTime,
    /// The subject claim of who recorded it (`user:…`, `client:…`).
    pub created_by: Option<String>,
}

pub fn insert(conn: &mut DbConnection, closure: &Closure) -> QueryResult<()> {
    diesel::insert_into(creche_closures::table)
        .values(closure)
        .execute(conn)
        .map(drop)
}

/// A crèche's closures, in the order of their first day.
pub fn of_creche(conn: &mut DbConnection, creche: &CrecheId) -> QueryResult<Vec<Closure>> {
    creche_closures::table
        .filter(creche_closures::creche_id.eq(creche))
        .order((creche_closures::starts_on, creche_closures::id))
        .select(Closure::as_select())
        .load(conn)
}

/// Removes one of the crèche's closures; the number removed (0 or 1).
pub fn delete(conn: &mut DbConnection, creche: &CrecheId, id: &ClosureId) -> QueryResult<usize> {
    diesel::delete(
        creche_closures::table
            .filter(creche_closures::creche_id.eq(creche))
            .filter(creche_closures::id.eq(id)),
    )
    .execute(conn)
}

/// The closures of these crèches that meet the period (index on the end).
pub fn overlapping(
    conn: &mut DbConnection,
    creches: &[CrecheId],
    period: Period,
) -> QueryResult<Vec<Closure>> {
    creche_closures::table
        .filter(creche_closures::creche_id.eq_any(creches.to_vec()))
        .filter(creche_closures::ends_on.ge(period.from))
        .filter(creche_closures::starts_on.le(period.to))
        .select(Closure::as_select())
        .load(conn)
}
