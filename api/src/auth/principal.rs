//! Who is calling: the identity behind a token, loaded as the database says
//! now (a disabled person or client loses access at once, not when its
//! token expires). The HTTP layer's extractor
//! authenticates each request with it.

use avip_db::model::{ApiClientId, CrecheId, OrganizationId, OrganizationKind, Role, UserId};
use avip_db::organizations::Organization;
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
    Ok(load_records(conn, subject)?
        .filter(|loaded| !revoked(issued_at, loaded.changed_at))
        .map(|loaded| loaded.principal))
}

/// An active identity with what was read to make it.
pub struct Loaded {
    pub principal: Principal,
    /// When the person's password last changed (never for an API client).
    pub changed_at: Option<chrono::NaiveDateTime>,
    /// A person's name or a client's label.
    pub name: String,
    /// People only.
    pub email: Option<String>,
    pub organization: Organization,
}

/// The active identity behind `subject`, or `None`.
pub fn load_records(conn: &mut DbConnection, subject: Subject) -> QueryResult<Option<Loaded>> {
    let (organization_id, role, user, changed_at, name, email) = match &subject {
        Subject::User(id) => match users::find(conn, id)? {
            Some(user) if user.active => (
                user.organization_id.clone(),
                user.role,
                Some(user.id),
                user.credentials_changed_at,
                user.name,
                Some(user.email),
            ),
            _ => return Ok(None),
        },
        Subject::Client(id) => match api_clients::find(conn, id)? {
            Some(client) if client.active => (
                client.organization_id,
                Role::Admin,
                None,
                None,
                client.label,
                None,
            ),
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
        organization_id: organization.id.clone(),
        organization_kind: organization.kind,
        departement: organization.departement.clone(),
        role,
        creche_ids,
    };
    Ok(Some(Loaded {
        principal,
        changed_at,
        name,
        email,
        organization,
    }))
}

/// Whether a token issued at `issued_at` predates the credentials' change
/// (compared in whole seconds, as a token's `iat` is).
pub fn revoked(issued_at: Option<i64>, changed_at: Option<chrono::NaiveDateTime>) -> bool {
    match (issued_at, changed_at) {
        (Some(iat), Some(changed)) => iat < changed.and_utc().timestamp(),
        _ => false,
    }
}
