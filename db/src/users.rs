//! People: an e-mail, a role, one organisation; coordinators have crèches.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{CrecheId, OrganizationId, Role, UserId};
use crate::page::{Page, PageRequest};
use crate::schema::{creche_coordinators, users};

#[derive(Queryable, Selectable, Identifiable, Clone)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub organization_id: OrganizationId,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// argon2id PHC string; never leaves the server.
    pub password_hash: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
    /// When the password last changed: tokens issued before are refused.
    pub credentials_changed_at: Option<NaiveDateTime>,
    /// Moves on every password change, disable and sign-out everywhere:
    /// tokens and sessions issued under another number are refused.
    pub credentials_version: i32,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("active", &self.active)
            .finish()
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub id: UserId,
    pub organization_id: OrganizationId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub name: Option<String>,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub active: Option<bool>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConnection, new: &NewUser) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values(new)
        .execute(conn)?;
    get(conn, &new.id)
}

pub fn get(conn: &mut DbConnection, id: &UserId) -> QueryResult<User> {
    users::table.find(id).select(User::as_select()).first(conn)
}

pub fn find(conn: &mut DbConnection, id: &UserId) -> QueryResult<Option<User>> {
    get(conn, id).optional()
}

/// E-mails are stored lower-case, so the lookup is exact.
pub fn find_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email.to_lowercase()))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn list(
    conn: &mut DbConnection,
    organization: Option<&OrganizationId>,
    page: &PageRequest,
) -> QueryResult<Page<User>> {
    let mut query = users::table
        .select(User::as_select())
        .order(users::id)
        .into_boxed();
    if let Some(org) = organization {
        query = query.filter(users::organization_id.eq(org.clone()));
    }
    if let Some(after) = &page.after {
        query = query.filter(users::id.gt(after.clone()));
    }
    let rows = query.limit(page.limit + 1).load(conn)?;
    Ok(Page::from_rows(rows, page.limit, |u| u.id.to_string()))
}

pub fn update(conn: &mut DbConnection, id: &UserId, changes: &UserChanges) -> QueryResult<User> {
    diesel::update(users::table.find(id))
        .set(changes)
        .execute(conn)?;
    get(conn, id)
}

/// Ends every token and session of the person: her credentials' number
/// moves (and the time of the change is recorded), and her workspace
/// sessions are deleted. Run inside the change's transaction.
pub fn revoke_credentials(
    conn: &mut DbConnection,
    id: &UserId,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((
            users::credentials_version.eq(users::credentials_version + 1),
            users::credentials_changed_at.eq(at),
        ))
        .execute(conn)?;
    crate::web_sessions::delete_for_user(conn, id).map(drop)
}

pub fn touch_login(conn: &mut DbConnection, id: &UserId, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::last_login_at.eq(at))
        .execute(conn)
        .map(drop)
}

pub fn creche_ids(conn: &mut DbConnection, id: &UserId) -> QueryResult<Vec<CrecheId>> {
    creche_coordinators::table
        .filter(creche_coordinators::user_id.eq(id))
        .select(creche_coordinators::creche_id)
        .order(creche_coordinators::creche_id)
        .load(conn)
}

pub fn any_with_role(conn: &mut DbConnection, role: Role) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::role.eq(role)),
    ))
    .get_result(conn)
}

/// The addresses of an organisation's active people, sorted.
pub fn active_emails_of(
    conn: &mut DbConnection,
    organization: &crate::model::OrganizationId,
) -> QueryResult<Vec<String>> {
    users::table
        .filter(users::organization_id.eq(organization))
        .filter(users::active.eq(true))
        .select(users::email)
        .order(users::email)
        .load(conn)
}
