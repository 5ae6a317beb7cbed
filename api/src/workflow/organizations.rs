//! Organisations: the administrators create and change them.

use avip_db::DbConnection;
use avip_db::model::{OrganizationId, OrganizationKind, to_db_time};
use avip_db::organizations::{self, NewOrganization, Organization, OrganizationChanges};
use avip_db::page::{Page, PageRequest};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::access::{Action, Resource};
use crate::domain::{self, DomainError, Problems};
use crate::workflow::Caller;

#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "france_travail", "name": "France Travail Toulon Est", "departement": "83"}))]
pub struct CreateOrganization {
    pub kind: OrganizationKind,
    #[schema(max_length = 200)]
    pub name: String,
    /// Département code: `01`–`95`, `2A`, `2B`, `971`–`976`.
    #[schema(max_length = 3)]
    pub departement: String,
}

impl CreateOrganization {
    pub fn into_new(self, now: DateTime<Utc>) -> Result<NewOrganization, DomainError> {
        let mut problems = Problems::default();
        let name = problems.check("name", domain::text(&self.name, 200));
        let departement = problems.check("departement", domain::departement(&self.departement));
        problems.into_result()?;
        let (Some(name), Some(departement)) = (name, departement) else {
            unreachable!("checked above")
        };
        let now = to_db_time(now);
        Ok(NewOrganization {
            id: OrganizationId::generate(),
            kind: self.kind,
            name,
            departement,
            created_at: now,
            updated_at: now,
        })
    }
}

#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "France Travail Toulon"}))]
pub struct UpdateOrganization {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 3)]
    pub departement: Option<String>,
    /// The organisation's default notification preferences, for its people
    /// and for the referents it names without an account; kinds left out
    /// keep their default.
    pub notification_defaults: Option<crate::workflow::preferences::Choices>,
}

pub fn list(
    conn: &mut DbConnection,
    caller: Caller<'_>,
    kind: Option<OrganizationKind>,
    page: &PageRequest,
) -> Result<Page<Organization>, DomainError> {
    caller.require(Action::List, Resource::Organizations)?;
    Ok(organizations::list(conn, kind, page)?)
}

pub fn get(
    conn: &mut DbConnection,
    caller: Caller<'_>,
    id: &OrganizationId,
) -> Result<Organization, DomainError> {
    caller.require(Action::Read, Resource::Organizations)?;
    Ok(organizations::get(conn, id)?)
}

pub fn create(
    conn: &mut DbConnection,
    caller: Caller<'_>,
    command: CreateOrganization,
    now: DateTime<Utc>,
) -> Result<Organization, DomainError> {
    caller.require(Action::Create, Resource::Organizations)?;
    let new = command.into_new(now)?;
    Ok(organizations::insert(conn, &new)?)
}

/// Renames an organisation or changes its département; its kind is fixed.
pub fn update(
    conn: &mut DbConnection,
    caller: Caller<'_>,
    id: &OrganizationId,
    body: UpdateOrganization,
    now: DateTime<Utc>,
) -> Result<Organization, DomainError> {
    caller.require(Action::Update, Resource::Organizations)?;
    let mut problems = Problems::default();
    let changes = OrganizationChanges {
        name: body
            .name
            .as_ref()
            .and_then(|n| problems.check("name", domain::text(n, 200))),
        departement: body
            .departement
            .as_ref()
            .and_then(|d| problems.check("departement", domain::departement(d))),
        updated_at: Some(to_db_time(now)),
    };
    problems.into_result()?;
    organizations::get(conn, id)?;
    if let Some(defaults) = &body.notification_defaults {
        crate::workflow::preferences::set_organization_defaults(conn, id, defaults, now)?;
    }
    Ok(organizations::update(conn, id, &changes)?)
}
