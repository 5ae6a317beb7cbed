//! Machine identities of organisations (a prescriber's information system,
//! the CAF's export job).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{ApiClientId, OrganizationId};
use crate::page::{Page, PageRequest};
use crate::schema::api_clients;

#[derive(Queryable, Selectable, Identifiable, Clone)]
#[diesel(table_name = api_clients)]
pub struct ApiClient {
    pub id: ApiClientId,
    pub organization_id: OrganizationId,
    /// The public half of the credentials, sent as `client_id`.
    pub client_id: String,
    /// argon2id PHC string of the secret; the secret itself is shown once.
    pub secret_hash: String,
    pub label: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .finish()
    }
}

#[derive(Insertable)]
#[diesel(table_name = api_clients)]
pub struct NewApiClient {
    pub id: ApiClientId,
    pub organization_id: OrganizationId,
    pub client_id: String,
    pub secret_hash: String,
    pub label: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, new: &NewApiClient) -> QueryResult<ApiClient> {
    diesel::insert_into(api_clients::table)
        .values(new)
        .execute(conn)?;
    get(conn, &new.id)
}

pub fn get(conn: &mut DbConnection, id: &ApiClientId) -> QueryResult<ApiClient> {
    api_clients::table
        .find(id)
        .select(ApiClient::as_select())
        .first(conn)
}

pub fn find(conn: &mut DbConnection, id: &ApiClientId) -> QueryResult<Option<ApiClient>> {
    get(conn, id).optional()
}

pub fn find_by_client_id(
    conn: &mut DbConnection,
    client_id: &str,
) -> QueryResult<Option<ApiClient>> {
    api_clients::table
        .filter(api_clients::client_id.eq(client_id))
        .select(ApiClient::as_select())
        .first(conn)
        .optional()
}

pub fn list(conn: &mut DbConnection, page: &PageRequest) -> QueryResult<Page<ApiClient>> {
    let mut query = api_clients::table
        .select(ApiClient::as_select())
        .order(api_clients::id)
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(api_clients::id.gt(after.clone()));
    }
    let rows = query.limit(page.limit + 1).load(conn)?;
    Ok(Page::from_rows(rows, page.limit, |c| c.id.to_string()))
}

/// Disables the client: its tokens stop working at the next request.
pub fn disable(
    conn: &mut DbConnection,
    id: &ApiClientId,
    at: NaiveDateTime,
) -> QueryResult<ApiClient> {
    diesel::update(api_clients::table.find(id))
        .set((
            api_clients::active.eq(false),
            api_clients::updated_at.eq(at),
        ))
        .execute(conn)?;
    get(conn, id)
}

pub fn touch_used(conn: &mut DbConnection, id: &ApiClientId, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(api_clients::table.find(id))
        .set(api_clients::last_used_at.eq(at))
        .execute(conn)
        .map(drop)
}
