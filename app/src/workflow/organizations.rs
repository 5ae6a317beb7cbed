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
    /// Its people sign in through the OpenID Connect provider (ProConnect)
    /// only, never with a password (default `false`; needs
    /// `AVIP_OIDC_ISSUER`).
    #[serde(default)]
    pub oidc_required: bool,
    /// Its SIRET (14 digits): a person signing in through the provider must
    /// then come with this `siret`.
    #[schema(pattern = "^[0-9]{14}$", example = "13000548100010")]
    pub siret: Option<String>,
}

impl CreateOrganization {
    pub fn into_new(self, now: DateTime<Utc>) -> Result<NewOrganization, DomainError> {
        let mut problems = Problems::default();
        let name = problems.check("name", domain::text(&self.name, 200));
        let departement = problems.check("departement", domain::departement(&self.departement));
        let siret = self
            .siret
            .as_deref()
            .and_then(|s| problems.check("siret", siret(s)));
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
            oidc_required: self.oidc_required,
            siret,
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
    /// `true`: its people sign in through the OpenID Connect provider only.
    pub oidc_required: Option<bool>,
    /// Its SIRET (14 digits); `null` forgets it.
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{14}$")]
    pub siret: Option<Option<String>>,
}

/// A SIRET: 14 digits (spaces between groups are dropped).
fn siret(value: &str) -> Result<String, String> {
    let digits: String = value.chars().filter(|c| *c != ' ').collect();
    if digits.len() == 14 && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err("must be a SIRET: 14 digits".into())
    }
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

/// Whether an OpenID Connect provider is configured (`AVIP_OIDC_ISSUER`):
/// without one, no organisation may require it.
#[derive(Clone, Copy, Debug)]
pub struct OidcConfigured(pub bool);

impl OidcConfigured {
    fn allows(self, required: Option<bool>) -> Result<(), DomainError> {
        if required == Some(true) && !self.0 {
            let mut problems = Problems::default();
            problems.push(
                "oidc_required",
                "no OpenID Connect provider is configured (AVIP_OIDC_ISSUER): its people could \
                 not sign in at all",
            );
            return problems.into_result();
        }
        Ok(())
    }
}

pub fn create(
    conn: &mut DbConnection,
    caller: Caller<'_>,
    command: CreateOrganization,
    oidc: OidcConfigured,
    now: DateTime<Utc>,
) -> Result<Organization, DomainError> {
    caller.require(Action::Create, Resource::Organizations)?;
    oidc.allows(Some(command.oidc_required))?;
    let new = command.into_new(now)?;
    Ok(organizations::insert(conn, &new)?)
}

/// Renames an organisation or changes its département; its kind is fixed.
pub fn update(
    conn: &mut DbConnection,
    caller: Caller<'_>,
    id: &OrganizationId,
    body: UpdateOrganization,
    oidc: OidcConfigured,
    now: DateTime<Utc>,
) -> Result<Organization, DomainError> {
    caller.require(Action::Update, Resource::Organizations)?;
    oidc.allows(body.oidc_required)?;
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
        oidc_required: body.oidc_required,
        siret: match &body.siret {
            None => None,
            Some(None) => Some(None),
            Some(Some(s)) => problems.check("siret", siret(s)).map(Some),
        },
        updated_at: Some(to_db_time(now)),
    };
    problems.into_result()?;
    organizations::get(conn, id)?;
    if let Some(defaults) = &body.notification_defaults {
        crate::workflow::preferences::set_organization_defaults(conn, id, defaults, now)?;
    }
    Ok(organizations::update(conn, id, &changes)?)
}
