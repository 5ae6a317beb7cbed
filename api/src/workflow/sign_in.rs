//! Signing in: a person with an e-mail and a password, or an API client
//! with its id and secret. Both go through one throttle: repeated failures
//! for an account slow down, then lock it for a while.

use std::time::Duration;

use avip_db::model::{CrecheId, OrganizationId, Role, to_db_time};
use avip_db::organizations::Organization;
use avip_db::{DbConnection, api_clients, organizations, throttle, users};
use chrono::{DateTime, Utc};

use crate::auth::{Principal, Subject, password, throttle as policy};
use crate::domain::DomainError;

/// What a sign-in attempt gives.
#[derive(Debug)]
pub enum Outcome {
    /// The identity, its organisation and its role, for a token or a session.
    Granted {
        subject: Subject,
        organization_id: OrganizationId,
        role: Role,
    },
    /// Wrong credentials: answer after `delay`, so that guessing is slow.
    Refused { delay: Duration },
    /// Too many failures: the account is locked for this many seconds.
    Locked { seconds: u64 },
}

/// The `password` grant: a person's e-mail (any case) and password.
pub fn password(
    conn: &mut DbConnection,
    email: &str,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Outcome, DomainError> {
    let email = email.trim().to_lowercase();
    let throttle_key = format!("user:{email}");
    attempt(conn, &throttle_key, secret, now, |conn| {
        Ok(users::find_by_email(conn, &email)?
            .filter(|u| u.active)
            .map(|u| Found {
                subject: Subject::User(u.id),
                organization_id: u.organization_id,
                role: Some(u.role),
                hash: u.password_hash,
            }))
    })
}

/// The `client_credentials` grant: an API client's id and secret.
pub fn client_credentials(
    conn: &mut DbConnection,
    client_id: &str,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Outcome, DomainError> {
    let throttle_key = format!("client:{client_id}");
    attempt(conn, &throttle_key, secret, now, |conn| {
        Ok(api_clients::find_by_client_id(conn, client_id)?
            .filter(|c| c.active)
            .map(|c| Found {
                subject: Subject::Client(c.id),
                organization_id: c.organization_id,
                role: None,
                hash: c.secret_hash,
            }))
    })
}

struct Found {
    subject: Subject,
    organization_id: OrganizationId,
    /// A person's role; an API client holds its organisation's members'.
    role: Option<Role>,
    hash: String,
}

fn attempt(
    conn: &mut DbConnection,
    throttle_key: &str,
    secret: &str,
    now: DateTime<Utc>,
    find: impl FnOnce(&mut DbConnection) -> Result<Option<Found>, DomainError>,
) -> Result<Outcome, DomainError> {
    if let Some(seconds) = policy::locked_for(throttle::find(conn, throttle_key)?.as_ref(), now) {
        return Ok(Outcome::Locked { seconds });
    }
    let found = find(conn)?;
    let verified = match &found {
        Some(found) => password::verify(secret, &found.hash),
        None => {
            password::verify_nothing(secret);
            false
        }
    };
    match (verified, found) {
        (true, Some(found)) => {
            throttle::clear(conn, throttle_key)?;
            let org = organizations::get(conn, &found.organization_id)?;
            let at = to_db_time(now);
            match &found.subject {
                Subject::User(id) => users::touch_login(conn, id, at)?,
                Subject::Client(id) => api_clients::touch_used(conn, id, at)?,
            }
            Ok(Outcome::Granted {
                subject: found.subject,
                organization_id: org.id,
                role: found.role.unwrap_or(org.kind.member_role()),
            })
        }
        _ => {
            let (state, delay) =
                policy::after_failure(throttle_key, throttle::find(conn, throttle_key)?, now);
            throttle::save(conn, &state)?;
            Ok(Outcome::Refused { delay })
        }
    }
}

/// Who is behind a token, as `/me` shows it.
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

/// The caller and its organisation.
pub fn me(
    conn: &mut DbConnection,
    who: &Principal,
) -> Result<(Identity, Organization), DomainError> {
    let org = organizations::get(conn, &who.organization_id)?;
    let (kind, id, name, email) = match &who.subject {
        Subject::User(id) => {
            let u = users::get(conn, id)?;
            ("user", u.id.to_string(), u.name, Some(u.email))
        }
        Subject::Client(id) => {
            let c = api_clients::get(conn, id)?;
            ("api_client", c.id.to_string(), c.label, None)
        }
    };
    let identity = Identity {
        kind,
        id,
        name,
        email,
        role: who.role,
        creche_ids: who.creche_ids.clone(),
    };
    Ok((identity, org))
}

/// An identity as the operator names it at the command line.
pub enum Named<'a> {
    Email(&'a str),
    ClientId(&'a str),
}

/// The identity an operator names, as a token carries it (`avip admin
/// token`): not found when nobody has this e-mail or client id, `None` when
/// it is disabled.
pub fn named(conn: &mut DbConnection, who: Named<'_>) -> Result<Option<Principal>, DomainError> {
    let subject = match who {
        Named::Email(email) => users::find_by_email(conn, email)?.map(|u| Subject::User(u.id)),
        Named::ClientId(id) => {
            api_clients::find_by_client_id(conn, id)?.map(|c| Subject::Client(c.id))
        }
    };
    let subject = subject.ok_or(DomainError::NotFound)?;
    Ok(crate::auth::principal::load(conn, subject)?)
}
