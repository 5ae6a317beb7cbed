//! Who is calling: the identity behind a token, loaded as the database says
//! now (a disabled person or client loses access at once, not when its
//! token expires). The HTTP layer's extractor
//! authenticates each request with it.

use avip_db::model::{ApiClientId, CrecheId, OrganizationId, OrganizationKind, Role, UserId};
use avip_db::{DbConnection, QueryResult, api_clients, creches, organizations, users};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    User(UserId),
    Client(ApiClientId),
}

impl Subject {
    pub fn to_claim(&self) -> String {
        match self {
            Subject::User(id) => format!("user:{id}"),
            Subject::Client(id) => format!("client:{id}"),
        }
    }

    pub fn from_claim(claim: &str) -> Option<Subject> {
        match claim.split_once(':')? {
            ("user", id) => UserId::parse(id).map(Subject::User),
            ("client", id) => ApiClientId::parse(id).map(Subject::Client),
            _ => None,
        }
    }
}

/// Who is calling, as the database says now.
#[derive(Clone, Debug)]
pub struct Principal {
    pub subject: Subject,
    pub organization_id: OrganizationId,
    pub organization_kind: OrganizationKind,
    pub departement: String,
    pub role: Role,
    /// The crèches a coordinator acts for (an operator's API client: all of
    /// the operator's crèches); empty for other roles.
    pub creche_ids: Vec<CrecheId>,
}

/// The active identity behind `subject`, or `None`. With `issued_at` (a
/// token's `iat`, in seconds), also `None` when the person's password
/// changed after the token was issued.
pub fn load(
    conn: &mut DbConnection,
    subject: Subject,
    issued_at: Option<i64>,
) -> QueryResult<Option<Principal>> {
    Ok(load_with_change(conn, subject)?
        .filter(|(_, changed_at)| !revoked(issued_at, *changed_at))
        .map(|(principal, _)| principal))
}

/// The active identity behind `subject` and when its credentials last
/// changed (a person's password; never for an API client), or `None`.
pub fn load_with_change(
    conn: &mut DbConnection,
    subject: Subject,
) -> QueryResult<Option<(Principal, Option<chrono::NaiveDateTime>)>> {
    let (organization_id, role, user, changed_at) = match &subject {
        Subject::User(id) => match users::find(conn, id)? {
            Some(user) if user.active => (
                user.organization_id.clone(),
                user.role,
                Some(user.id),
                user.credentials_changed_at,
            ),
            _ => return Ok(None),
        },
        Subject::Client(id) => match api_clients::find(conn, id)? {
            Some(client) if client.active => (client.organization_id, Role::Admin, None, None),
            _ => return Ok(None),
        },
    };
    let Some(organization) = organizations::find(conn, &organization_id)? else {
        return Ok(None);
    };
    // An API client holds the role of its organisation's members.
    let role = if user.is_some() {
        role
    } else {
        organization.kind.member_role()
    };
    let creche_ids = match (role, &user) {
        (Role::Coordinator, Some(user)) => users::creche_ids(conn, user)?,
        (Role::Coordinator, None) => creches::ids_of_operator(conn, &organization.id)?,
        _ => Vec::new(),
    };
    let principal = Principal {
        subject,
        organization_id: organization.id,
        organization_kind: organization.kind,
        departement: organization.departement,
        role,
        creche_ids,
    };
    Ok(Some((principal, changed_at)))
}

/// Whether a token issued at `issued_at` predates the credentials' change
/// (compared in whole seconds, as a token's `iat` is).
pub fn revoked(issued_at: Option<i64>, changed_at: Option<chrono::NaiveDateTime>) -> bool {
    match (issued_at, changed_at) {
        (Some(iat), Some(changed)) => iat < changed.and_utc().timestamp(),
        _ => false,
    }
}
