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

/// The active identity behind `subject`, or `None`. With `issued`, also
/// `None` when what was issued then has been revoked since (see
/// [`Issued::revoked_by`]).
pub fn load(
    conn: &mut DbConnection,
    subject: Subject,
    issued: Option<Issued>,
) -> QueryResult<Option<Principal>> {
    Ok(load_records(conn, subject)?
        .filter(|loaded| !issued.is_some_and(|i| i.revoked_by(loaded.credentials())))
        .map(|loaded| loaded.principal))
}

/// A person's credentials as the database says now.
#[derive(Clone, Copy, Debug, Default)]
pub struct Credentials {
    /// When they last changed (never for an API client).
    pub changed_at: Option<chrono::NaiveDateTime>,
    /// Their number (people only).
    pub version: Option<i32>,
}

/// What a token or a session was issued under.
#[derive(Clone, Copy, Debug)]
pub struct Issued {
    /// When, in whole seconds (a token's `iat`).
    pub at: i64,
    /// The credentials' number then, when it was recorded.
    pub version: Option<i32>,
}

impl Issued {
    /// Whether the credentials changed since: another number (exact,
    /// whatever the clock), or, for what carries none, a change in a later
    /// second than the issue.
    pub fn revoked_by(self, now: Credentials) -> bool {
        let by_version =
            matches!((self.version, now.version), (Some(then), Some(now)) if then != now);
        let by_time = now
            .changed_at
            .is_some_and(|changed| self.at < changed.and_utc().timestamp());
        by_version || by_time
    }
}

/// An active identity with what was read to make it.
pub struct Loaded {
    pub principal: Principal,
    /// When the person's password last changed (never for an API client).
    pub changed_at: Option<chrono::NaiveDateTime>,
    /// The person's credentials' number (never for an API client).
    pub version: Option<i32>,
    /// A person's name or a client's label.
    pub name: String,
    /// People only.
    pub email: Option<String>,
    pub organization: Organization,
}

/// The active identity behind `subject`, or `None`.
pub fn load_records(conn: &mut DbConnection, subject: Subject) -> QueryResult<Option<Loaded>> {
    let (organization_id, role, user, credentials, name, email) = match &subject {
        Subject::User(id) => match users::find(conn, id)? {
            Some(user) if user.active => (
                user.organization_id.clone(),
                user.role,
                Some(user.id),
                Credentials {
                    changed_at: user.credentials_changed_at,
                    version: Some(user.credentials_version),
                },
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
                Credentials::default(),
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
        changed_at: credentials.changed_at,
        version: credentials.version,
        name,
        email,
        organization,
    }))
}

impl Loaded {
    pub fn credentials(&self) -> Credentials {
        Credentials {
            changed_at: self.changed_at,
            version: self.version,
        }
    }
}

/// Who is behind a token, as `/me` shows it.
#[derive(Clone)]
pub struct Identity {
    /// `user` or `api_client`.
    pub kind: &'static str,
    pub id: String,
    /// A person's name or a client's label.
    pub name: String,
    /// People only.
    pub email: Option<String>,
    pub role: Role,
    pub creche_ids: Vec<CrecheId>,
}

impl Identity {
    /// The caller as `/me` shows it, with its name (or label) and e-mail.
    pub fn of(who: &Principal, name: String, email: Option<String>) -> Identity {
        let (kind, id) = match &who.subject {
            Subject::User(id) => ("user", id.to_string()),
            Subject::Client(id) => ("api_client", id.to_string()),
        };
        Identity {
            kind,
            id,
            name,
            email,
            role: who.role,
            creche_ids: who.creche_ids.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64, millis: u32) -> chrono::NaiveDateTime {
        chrono::DateTime::from_timestamp(seconds, millis * 1_000_000)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn a_change_in_the_same_second_revokes_by_the_number() {
        let changed = Credentials {
            changed_at: Some(at(100, 900)),
            version: Some(3),
        };
        // Issued at 100.2 s, before the change at 100.9 s: same second.
        let before = Issued {
            at: 100,
            version: Some(2),
        };
        assert!(before.revoked_by(changed));
        // Issued at 100.95 s, after it: the number is the new one.
        let after = Issued {
            at: 100,
            version: Some(3),
        };
        assert!(!after.revoked_by(changed));
        // Without a number (older tokens), only a later second revokes.
        assert!(
            !Issued {
                at: 100,
                version: None
            }
            .revoked_by(changed)
        );
        assert!(
            Issued {
                at: 99,
                version: None
            }
            .revoked_by(changed)
        );
        // An API client has no credentials' number nor change.
        assert!(
            !Issued {
                at: 1,
                version: None
            }
            .revoked_by(Credentials::default())
        );
    }
}
