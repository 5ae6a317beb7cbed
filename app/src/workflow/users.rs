//! People: the administrators create them, change them and disable them.

use avip_db::model::{CrecheId, OrganizationId, OrganizationKind, Role, UserId, to_db_time};
use avip_db::organizations::NewOrganization;
use avip_db::page::{Page, PageRequest};
use avip_db::users::{self, NewUser, User, UserChanges};
use avip_db::{DbConnection, organizations};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::access::{Action, Resource};
use crate::auth::password;
use crate::domain::{self, DomainError, Problems};
use crate::workflow::{Caller, coordinators};

/// A page of people, each with the crèches they coordinate.
pub fn list(
    conn: &mut DbConnection,
    caller: Caller<'_>,
    page: &PageRequest,
) -> Result<Page<(User, Vec<CrecheId>)>, DomainError> {
    caller.require(Action::List, Resource::Users)?;
    let page = users::list(conn, None, page)?;
    let mut items = Vec::with_capacity(page.items.len());
    for user in page.items {
        let creches = users::creche_ids(conn, &user.id)?;
        items.push((user, creches));
    }
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "c.martin@example.org", "name": "Claire Martin", "role": "coordinator",
    "organization_id": "0193a5b0-7c1e-7d2a-9b1e-000000000002", "password": "a long passphrase",
    "creche_ids": ["0193a5b0-7c1e-7d2a-9b1e-000000000001"]}))]
pub struct CreateUser {
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(max_length = 200)]
    pub name: String,
    /// Must be the role of the organisation's kind: prescriber (France
    /// Travail, CD, mission locale), coordinator (crèche operator), caf, admin.
    pub role: Role,
    #[schema(format = Uuid)]
    pub organization_id: String,
    /// At least 12 characters.
    #[schema(max_length = 1024)]
    pub password: String,
    /// Coordinators only: crèches of their operator.
    #[serde(default)]
    #[schema(max_items = 100, value_type = Vec<uuid::Uuid>)]
    pub creche_ids: Vec<String>,
}

impl std::fmt::Debug for CreateUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUser")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"active": false}))]
pub struct UpdateUser {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 254)]
    pub email: Option<String>,
    #[schema(max_length = 1024)]
    pub password: Option<String>,
    /// `false` disables the account: its tokens stop working at once.
    pub active: Option<bool>,
    /// Coordinators only: replaces their crèches.
    #[schema(max_items = 100, value_type = Option<Vec<uuid::Uuid>>)]
    pub creche_ids: Option<Vec<String>>,
}

/// Creates a person; the password is stored as an argon2id hash.
pub fn create(
    conn: &mut DbConnection,
    caller: Caller<'_>,
    body: CreateUser,
    now: DateTime<Utc>,
) -> Result<(User, Vec<CrecheId>), DomainError> {
    caller.require(Action::Create, Resource::Users)?;
    let mut problems = Problems::default();
    let email = problems.check("email", domain::email(&body.email));
    let name = problems.check("name", domain::text(&body.name, 200));
    let secret = problems.check("password", domain::password(&body.password));
    let organization_id = problems.check(
        "organization_id",
        OrganizationId::parse(&body.organization_id).ok_or_else(|| "is not an id".to_owned()),
    );
    let creche_ids = domain::ids(
        "creche_ids",
        &body.creche_ids,
        CrecheId::parse,
        &mut problems,
    );
    if let Some(org_id) = &organization_id {
        match organizations::find(conn, org_id)? {
            None => problems.push("organization_id", "no such organisation"),
            Some(org) if org.kind.member_role() != body.role => problems.push(
                "role",
                format!(
                    "members of a {} organisation have the {} role",
                    org.kind,
                    org.kind.member_role()
                ),
            ),
            Some(_) => {}
        }
    }
    problems.into_result()?;
    let (Some(email), Some(name), Some(secret), Some(organization_id)) =
        (email, name, secret, organization_id)
    else {
        unreachable!("checked above")
    };
    let id = UserId::generate();
    let assignment = coordinators::Assignment::User {
        id: &id,
        role: body.role,
        organization: &organization_id.clone(),
        creches: &creche_ids,
    };
    coordinators::check(conn, &assignment)?;
    if users::find_by_email(conn, &email)?.is_some() {
        return Err(DomainError::EmailTaken);
    }
    let now = to_db_time(now);
    let new = NewUser {
        id: id.clone(),
        organization_id,
        email,
        name,
        role: body.role,
        password_hash: password::hash(&secret)?,
        active: true,
        created_at: now,
        updated_at: now,
    };
    let user = avip_db::write_transaction(conn, |conn| {
        let user = users::insert(conn, &new)?;
        coordinators::write(conn, &assignment)?;
        Ok::<_, DomainError>(user)
    })?;
    Ok((user, creche_ids))
}

/// Changes a person: name, e-mail, password, crèches, or disables them
/// (their tokens stop working at once).
pub fn update(
    conn: &mut DbConnection,
    caller: Caller<'_>,
    id: &UserId,
    body: UpdateUser,
    now: DateTime<Utc>,
) -> Result<(User, Vec<CrecheId>), DomainError> {
    caller.require(Action::Update, Resource::Users)?;
    let mut problems = Problems::default();
    let name = body
        .name
        .and_then(|v| problems.check("name", domain::text(&v, 200)));
    let email = body
        .email
        .and_then(|v| problems.check("email", domain::email(&v)));
    let secret = body
        .password
        .and_then(|v| problems.check("password", domain::password(&v)));
    let creche_ids = body
        .creche_ids
        .as_deref()
        .map(|ids| domain::ids("creche_ids", ids, CrecheId::parse, &mut problems));
    problems.into_result()?;
    let user = users::get(conn, id)?;
    let assignment = creche_ids
        .as_deref()
        .map(|creches| coordinators::Assignment::User {
            id,
            role: user.role,
            organization: &user.organization_id,
            creches,
        });
    if let Some(assignment) = &assignment {
        coordinators::check(conn, assignment)?;
    }
    if let Some(email) = &email
        && users::find_by_email(conn, email)?.is_some_and(|other| other.id != user.id)
    {
        return Err(DomainError::EmailTaken);
    }
    let password_hash = secret.map(|s| password::hash(&s)).transpose()?;
    // A new password or a disable ends every token and session issued
    // before it; re-enabling gives none back.
    let revokes = password_hash.is_some() || body.active == Some(false);
    let changes = UserChanges {
        name,
        email,
        password_hash,
        active: body.active,
        updated_at: Some(to_db_time(now)),
    };
    let user = avip_db::write_transaction(conn, |conn| {
        if let Some(assignment) = &assignment {
            coordinators::write(conn, assignment)?;
        }
        if revokes {
            users::revoke_credentials(conn, id, to_db_time(now))?;
        }
        Ok::<_, DomainError>(users::update(conn, id, &changes)?)
    })?;
    let creches = users::creche_ids(conn, id)?;
    Ok((user, creches))
}

/// Signs a person out everywhere (admin): every access token and workspace
/// session she holds is refused from now on; her password still works.
pub fn sign_out_everywhere(
    conn: &mut DbConnection,
    caller: Caller<'_>,
    id: &UserId,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    caller.require(Action::Update, Resource::Users)?;
    avip_db::write_transaction(conn, |conn| {
        users::get(conn, id)?;
        users::revoke_credentials(conn, id, to_db_time(now))
    })?;
    Ok(())
}

/// The first administrator: the administration's organisation (made when
/// missing) and a person in it. `None` when an administrator exists: then
/// nothing changes.
pub fn bootstrap(
    conn: &mut DbConnection,
    email: String,
    password: String,
    name: String,
    now: DateTime<Utc>,
) -> Result<Option<(User, OrganizationId)>, DomainError> {
    if users::any_with_role(conn, Role::Admin)? {
        return Ok(None);
    }
    avip_db::write_transaction(conn, |conn| {
        let org = match organizations::first_of_kind(conn, OrganizationKind::Admin)? {
            Some(org) => org,
            None => {
                let at = to_db_time(now);
                organizations::insert(
                    conn,
                    &NewOrganization {
                        id: OrganizationId::generate(),
                        kind: OrganizationKind::Admin,
                        name: "Administration AVIP".into(),
                        departement: "00".into(),
                        created_at: at,
                        updated_at: at,
                        oidc_required: false,
                        siret: None,
                    },
                )?
            }
        };
        let body = CreateUser {
            email,
            name,
            role: Role::Admin,
            organization_id: org.id.to_string(),
            password,
            creche_ids: Vec::new(),
        };
        let (user, _) = create(conn, Caller::Operator, body, now)?;
        Ok(Some((user, org.id)))
    })
}
