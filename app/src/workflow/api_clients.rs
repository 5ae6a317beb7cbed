//! API clients: the machine identities of organisations.

use avip_db::api_clients::{self, ApiClient, NewApiClient};
use avip_db::model::{ApiClientId, OrganizationId, to_db_time};
use avip_db::page::{Page, PageRequest};
use avip_db::{DbConnection, organizations};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::access::{Action, Resource};
use crate::auth::password;
use crate::domain::{self, DomainError, Problems};
use crate::workflow::Caller;

pub fn list(
    conn: &mut DbConnection,
    caller: Caller<'_>,
    page: &PageRequest,
) -> Result<Page<ApiClient>, DomainError> {
    caller.require(Action::List, Resource::ApiClients)?;
    Ok(api_clients::list(conn, page)?)
}

#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"organization_id": "0193a5b0-7c1e-7d2a-9b1e-3f4a5b6c7d8e", "label": "SI France Travail"}))]
pub struct CreateApiClient {
    #[schema(format = Uuid)]
    pub organization_id: String,
    #[schema(max_length = 200)]
    pub label: String,
}

/// A new client and its secret: shown this once, stored only as a hash.
pub struct NewClient {
    pub client: ApiClient,
    pub secret: String,
}

pub fn create(
    conn: &mut DbConnection,
    caller: Caller<'_>,
    body: CreateApiClient,
    now: DateTime<Utc>,
) -> Result<NewClient, DomainError> {
    caller.require(Action::Create, Resource::ApiClients)?;
    let mut problems = Problems::default();
    let organization_id = problems.check(
        "organization_id",
        OrganizationId::parse(&body.organization_id).ok_or_else(|| "is not an id".to_owned()),
    );
    let label = problems.check("label", domain::text(&body.label, 200));
    if let Some(id) = &organization_id
        && organizations::find(conn, id)?.is_none()
    {
        problems.push("organization_id", "no such organisation");
    }
    problems.into_result()?;
    let (Some(organization_id), Some(label)) = (organization_id, label) else {
        unreachable!("checked above")
    };
    let secret = password::random_hex(32);
    let now = to_db_time(now);
    let new = NewApiClient {
        id: ApiClientId::generate(),
        organization_id,
        client_id: format!("avip_{}", password::random_hex(8)),
        secret_hash: password::hash(&secret).map_err(DomainError::Unexpected)?,
        label,
        active: true,
        created_at: now,
        updated_at: now,
    };
    let client = api_clients::insert(conn, &new)?;
    Ok(NewClient { client, secret })
}

/// Disables an API client: its tokens stop working at once. The record
/// stays, for the audit trail.
pub fn disable(
    conn: &mut DbConnection,
    caller: Caller<'_>,
    id: &ApiClientId,
    now: DateTime<Utc>,
) -> Result<ApiClient, DomainError> {
    caller.require(Action::Disable, Resource::ApiClients)?;
    api_clients::get(conn, id)?;
    Ok(api_clients::disable(conn, id, to_db_time(now))?)
}
