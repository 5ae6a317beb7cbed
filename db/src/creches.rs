//! Crèches, their operator and their coordinators.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{CrecheId, OrganizationId, UserId};
use crate::page::{Page, PageRequest};
use crate::places::{self, CapacityChange};
use crate::schema::{creche_coordinators, creches, organizations};

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = creches)]
pub struct Creche {
    pub id: CrecheId,
    pub operator_id: OrganizationId,
    pub name: String,
    pub address: String,
    pub postal_code: String,
    pub commune: String,
    /// JSON: `{"opens": "07:00", "closes": "19:30", "days": ["mon", …]}`.
    pub opening_hours: String,
    pub escalation_email: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The crèche's phone (E.164), which the family's messages give.
    pub phone: Option<String>,
    /// Whether a family that can be reached is acknowledged at intake.
    pub auto_acknowledgment: bool,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = creches)]
pub struct NewCreche {
    pub id: CrecheId,
    pub operator_id: OrganizationId,
    pub name: String,
    pub address: String,
    pub postal_code: String,
    pub commune: String,
    pub opening_hours: String,
    pub escalation_email: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The crèche's phone (E.164), which the family's messages give.
    pub phone: Option<String>,
    /// Whether a family that can be reached is acknowledged at intake.
    pub auto_acknowledgment: bool,
}

#[derive(AsChangeset, Debug, Default)]
#[diesel(table_name = creches)]
pub struct CrecheChanges {
    pub name: Option<String>,
    pub address: Option<String>,
    pub postal_code: Option<String>,
    pub commune: Option<String>,
    pub opening_hours: Option<String>,
    pub escalation_email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub auto_acknowledgment: Option<bool>,
    pub updated_at: Option<NaiveDateTime>,
}

/// A crèche with what access decisions and responses need besides its row.
#[derive(Clone, Debug)]
pub struct CrecheView {
    pub creche: Creche,
    /// The operator's département.
    pub departement: String,
    pub coordinator_ids: Vec<UserId>,
    /// The AVIP places reserved today (Paris); changes are dated, see
    /// [`places::capacity_history`].
    pub avip_places: i32,
}

/// Insert the crèche with its AVIP places from `today` (the day it is
/// registered, in Paris), in the caller's transaction; its coordinators
/// are assigned by [`crate::coordinators`].
pub fn insert(
    conn: &mut DbConnection,
    new: &NewCreche,
    today: NaiveDate,
    avip_places: i32,
    recorded_by: Option<String>,
) -> QueryResult<()> {
    diesel::insert_into(creches::table)
        .values(new)
        .execute(conn)?;
    places::record_capacity(
        conn,
        &CapacityChange {
            creche_id: new.id.clone(),
            effective_from: today,
            avip_places,
            recorded_at: new.created_at,
            recorded_by,
        },
    )?;
    Ok(())
}

fn places_on(conn: &mut DbConnection, ids: &[CrecheId], today: NaiveDate) -> QueryResult<Vec<i32>> {
    let capacities = places::capacities(conn, ids)?;
    Ok(ids
        .iter()
        .map(|id| capacities.get(id).map_or(0, |c| c.on(today)))
        .collect())
}

/// The crèche, with its AVIP places on `today` (Paris).
pub fn get(conn: &mut DbConnection, id: &CrecheId, today: NaiveDate) -> QueryResult<CrecheView> {
    let (creche, departement) = creches::table
        .inner_join(organizations::table)
        .filter(creches::id.eq(id))
        .select((Creche::as_select(), organizations::departement))
        .first(conn)?;
    let coordinator_ids = coordinators(conn, id)?;
    let avip_places = places_on(conn, std::slice::from_ref(id), today)?
        .first()
        .copied()
        .unwrap_or(0);
    Ok(CrecheView {
        creche,
        departement,
        coordinator_ids,
        avip_places,
    })
}

pub fn find(
    conn: &mut DbConnection,
    id: &CrecheId,
    today: NaiveDate,
) -> QueryResult<Option<CrecheView>> {
    get(conn, id, today).optional()
}

/// Crèches in id order; `only` restricts to a set (a coordinator's own).
pub fn list(
    conn: &mut DbConnection,
    only: Option<&[CrecheId]>,
    page: &PageRequest,
    today: NaiveDate,
) -> QueryResult<Page<CrecheView>> {
    let mut query = creches::table
        .inner_join(organizations::table)
        .select((Creche::as_select(), organizations::departement))
        .order(creches::id)
        .into_boxed();
    if let Some(ids) = only {
        query = query.filter(creches::id.eq_any(ids.to_vec()));
    }
    if let Some(after) = &page.after {
        query = query.filter(creches::id.gt(after.clone()));
    }
    let rows: Vec<(Creche, String)> = query.limit(page.limit + 1).load(conn)?;
    let page = Page::from_rows(rows, page.limit, |(c, _)| c.id.to_string());
    let ids: Vec<CrecheId> = page.items.iter().map(|(c, _)| c.id.clone()).collect();
    let places = places_on(conn, &ids, today)?;
    let mut items = Vec::with_capacity(page.items.len());
    for ((creche, departement), avip_places) in page.items.into_iter().zip(places) {
        let coordinator_ids = coordinators(conn, &creche.id)?;
        items.push(CrecheView {
            creche,
            departement,
            coordinator_ids,
            avip_places,
        });
    }
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

pub fn update(
    conn: &mut DbConnection,
    id: &CrecheId,
    changes: &CrecheChanges,
    today: NaiveDate,
) -> QueryResult<CrecheView> {
    diesel::update(creches::table.find(id))
        .set(changes)
        .execute(conn)?;
    get(conn, id, today)
}

pub fn coordinators(conn: &mut DbConnection, id: &CrecheId) -> QueryResult<Vec<UserId>> {
    creche_coordinators::table
        .filter(creche_coordinators::creche_id.eq(id))
        .select(creche_coordinators::user_id)
        .order(creche_coordinators::user_id)
        .load(conn)
}

/// The crèches of these ids that the operator runs.
pub fn of_operator(
    conn: &mut DbConnection,
    operator: &OrganizationId,
    ids: &[CrecheId],
) -> QueryResult<Vec<CrecheId>> {
    creches::table
        .filter(creches::operator_id.eq(operator))
        .filter(creches::id.eq_any(ids.to_vec()))
        .select(creches::id)
        .load(conn)
}

/// The operator of each of these crèches that exists.
pub fn operators(
    conn: &mut DbConnection,
    ids: &[CrecheId],
) -> QueryResult<Vec<(CrecheId, OrganizationId)>> {
    creches::table
        .filter(creches::id.eq_any(ids.to_vec()))
        .select((creches::id, creches::operator_id))
        .load(conn)
}

/// Every crèche the operator runs.
pub fn ids_of_operator(
    conn: &mut DbConnection,
    operator: &OrganizationId,
) -> QueryResult<Vec<CrecheId>> {
    creches::table
        .filter(creches::operator_id.eq(operator))
        .select(creches::id)
        .order(creches::id)
        .load(conn)
}

/// A crèche as the availability planning names it.
#[derive(Queryable, Clone, Debug)]
pub struct CrecheName {
    pub id: CrecheId,
    pub name: String,
    pub commune: String,
}

/// The crèches whose operator is in the département, by name.
pub fn in_departement(conn: &mut DbConnection, departement: &str) -> QueryResult<Vec<CrecheName>> {
    creches::table
        .inner_join(organizations::table)
        .filter(organizations::departement.eq(departement))
        .select((creches::id, creches::name, creches::commune))
        .order((creches::name, creches::id))
        .load(conn)
}

/// The crèches whose operator is in the département, whole, by name.
pub fn rows_in_departement(conn: &mut DbConnection, departement: &str) -> QueryResult<Vec<Creche>> {
    creches::table
        .inner_join(organizations::table)
        .filter(organizations::departement.eq(departement))
        .select(Creche::as_select())
        .order((creches::name, creches::id))
        .load(conn)
}

/// Every crèche with its operator's département, in id order (what is
/// published to data·inclusion).
pub fn all_with_departement(conn: &mut DbConnection) -> QueryResult<Vec<(Creche, String)>> {
    creches::table
        .inner_join(organizations::table)
        .select((Creche::as_select(), organizations::departement))
        .order(creches::id)
        .load(conn)
}

/// The crèche's name.
pub fn name_of(conn: &mut DbConnection, id: &CrecheId) -> QueryResult<String> {
    creches::table.find(id).select(creches::name).first(conn)
}

/// The opening hours (JSON, see [`Creche::opening_hours`]) of these crèches.
pub fn opening_hours_of(
    conn: &mut DbConnection,
    ids: &[CrecheId],
) -> QueryResult<Vec<(CrecheId, String)>> {
    creches::table
        .filter(creches::id.eq_any(ids.to_vec()))
        .select((creches::id, creches::opening_hours))
        .load(conn)
}
