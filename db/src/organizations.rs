//! Organisations: prescribers, the CAF, crèche operators and the admins.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{OrganizationId, OrganizationKind};
use crate::page::{Page, PageRequest};
use crate::schema::organizations;

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: OrganizationId,
    pub kind: OrganizationKind,
    pub name: String,
    pub departement: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Its people sign in through the OpenID Connect provider only.
    pub oidc_required: bool,
    /// Its SIRET: the provider's `siret` claim must then be this one.
    pub siret: Option<String>,
}

#[derive(Insertable, Debug)]
#[diesel(table_name = organizations)]
pub struct NewOrganization {
    pub id: OrganizationId,
    pub kind: OrganizationKind,
    pub name: String,
    pub departement: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Its people sign in through the OpenID Connect provider only.
    pub oidc_required: bool,
    /// Its SIRET: the provider's `siret` claim must then be this one.
    pub siret: Option<String>,
}

#[derive(AsChangeset, Debug, Default)]
#[diesel(table_name = organizations)]
pub struct OrganizationChanges {
    pub name: Option<String>,
    pub departement: Option<String>,
    pub oidc_required: Option<bool>,
    /// `Some(None)` forgets the SIRET.
    pub siret: Option<Option<String>>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConnection, new: &NewOrganization) -> QueryResult<Organization> {
    diesel::insert_into(organizations::table)
        .values(new)
        .execute(conn)?;
    get(conn, &new.id)
}

pub fn get(conn: &mut DbConnection, id: &OrganizationId) -> QueryResult<Organization> {
    organizations::table
        .find(id)
        .select(Organization::as_select())
        .first(conn)
}

pub fn find(conn: &mut DbConnection, id: &OrganizationId) -> QueryResult<Option<Organization>> {
    get(conn, id).optional()
}

pub fn list(
    conn: &mut DbConnection,
    kind: Option<OrganizationKind>,
    page: &PageRequest,
) -> QueryResult<Page<Organization>> {
    let mut query = organizations::table
        .select(Organization::as_select())
        .order(organizations::id)
        .into_boxed();
    if let Some(kind) = kind {
        query = query.filter(organizations::kind.eq(kind));
    }
    if let Some(after) = &page.after {
        query = query.filter(organizations::id.gt(after.clone()));
    }
    let rows = query.limit(page.limit + 1).load(conn)?;
    Ok(Page::from_rows(rows, page.limit, |o| o.id.to_string()))
}

pub fn update(
    conn: &mut DbConnection,
    id: &OrganizationId,
    changes: &OrganizationChanges,
) -> QueryResult<Organization> {
    diesel::update(organizations::table.find(id))
        .set(changes)
        .execute(conn)?;
    get(conn, id)
}

pub fn any_of_kind(conn: &mut DbConnection, kind: OrganizationKind) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        organizations::table.filter(organizations::kind.eq(kind)),
    ))
    .get_result(conn)
}

pub fn first_of_kind(
    conn: &mut DbConnection,
    kind: OrganizationKind,
) -> QueryResult<Option<Organization>> {
    organizations::table
        .filter(organizations::kind.eq(kind))
        .order(organizations::id)
        .select(Organization::as_select())
        .first(conn)
        .optional()
}

/// Whether the database holds any organisation at all (an empty territory).
pub fn is_empty(conn: &mut DbConnection) -> QueryResult<bool> {
    let any: Option<OrganizationId> = organizations::table
        .select(organizations::id)
        .first(conn)
        .optional()?;
    Ok(any.is_none())
}

/// The prescribing organisations of a département (France Travail, the
/// Conseil départemental, the missions locales), by name.
pub fn prescribers_in(
    conn: &mut DbConnection,
    departement: &str,
) -> QueryResult<Vec<Organization>> {
    organizations::table
        .filter(organizations::departement.eq(departement))
        .filter(organizations::kind.eq_any([
            OrganizationKind::FranceTravail,
            OrganizationKind::ConseilDepartemental,
            OrganizationKind::MissionLocale,
        ]))
        .order(organizations::name)
        .select(Organization::as_select())
        .load(conn)
}
