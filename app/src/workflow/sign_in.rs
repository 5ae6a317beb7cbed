//! Signing in: a person with an e-mail and a password, or an API client
//! with its id and secret. Both go through one throttle: repeated failures
//! for an account from one address slow down, then lock that pair for a
//! while. Three steps, so that the password is checked holding no database
//! connection: [`begin`] (a write), [`Check::verify`], [`finish`] (a write).

use std::time::Duration;

use avip_db::model::{OrganizationId, Role, to_db_time};
use avip_db::organizations::Organization;
use avip_db::{DbConnection, api_clients, organizations, throttle, users};
use chrono::{DateTime, Utc};

use crate::auth::{Identity, Principal, Subject, password, throttle as policy};
use crate::domain::DomainError;

/// What a sign-in attempt gives.
#[derive(Debug)]
pub enum Outcome {
    /// The identity, its organisation and its role, for a token or a session.
    Granted {
        subject: Subject,
        organization_id: OrganizationId,
        role: Role,
        /// A person's credentials' number, read with the hash that was
        /// checked: what is issued from this grant carries it, so that a
        /// change made meanwhile revokes it too.
        version: Option<i32>,
    },
    /// Wrong credentials: answer after `delay`, so that guessing is slow.
    Refused { delay: Duration },
    /// Too many failures: the account is locked for this many seconds.
    Locked { seconds: u64 },
    /// The right password, but the person's organisation requires sign-in
    /// through the OpenID Connect provider.
    OidcRequired,
}

/// Who is signing in: a person by e-mail, or an API client by its id.
#[derive(Clone, Debug)]
pub enum Account {
    Person { email: String },
    Client { client_id: String },
}

impl Account {
    fn throttle_key(&self, address: &str) -> String {
        match self {
            Account::Person { email } => policy::key("user", email, address),
            Account::Client { client_id } => policy::key("client", client_id, address),
        }
    }
}

/// A sign-in after its first step.
pub enum Begun {
    /// Too many failures from this address for this account.
    Locked { seconds: u64 },
    /// The secret is to be checked (with [`Check::verify`], off the
    /// database), then the attempt finished with [`finish`].
    Check(Check),
}

/// An attempt counted, with what the secret is checked against.
pub struct Check {
    key: String,
    attempt: i32,
    found: Option<Found>,
}

struct Found {
    subject: Subject,
    organization_id: OrganizationId,
    /// A person's role; an API client holds its organisation's members'.
    role: Option<Role>,
    hash: String,
    version: Option<i32>,
}

/// The first step of a sign-in (a write): counts the attempt for this
/// account from this `address` and, unless that is over the limit, finds
/// the active identity. No password is checked here, so that no database
/// connection waits on the hash.
pub fn begin(
    conn: &mut DbConnection,
    account: &Account,
    address: &str,
    now: DateTime<Utc>,
) -> Result<Begun, DomainError> {
    let key = account.throttle_key(address);
    let state = throttle::count_attempt(
        conn,
        &key,
        to_db_time(now),
        to_db_time(now - policy::WINDOW),
    )?;
    let attempt = match policy::verdict(&state, now) {
        policy::Verdict::Locked { seconds } => return Ok(Begun::Locked { seconds }),
        policy::Verdict::Check { attempt } => attempt,
    };
    let found =
        match account {
            Account::Person { email } => users::find_by_email(conn, email)?
                .filter(|u| u.active)
                .map(|u| Found {
                    subject: Subject::User(u.id),
                    organization_id: u.organization_id,
                    role: Some(u.role),
                    hash: u.password_hash,
                    version: Some(u.credentials_version),
                }),
            Account::Client { client_id } => api_clients::find_by_client_id(conn, client_id)?
                .filter(|c| c.active)
                .map(|c| Found {
                    subject: Subject::Client(c.id),
                    organization_id: c.organization_id,
                    role: None,
                    hash: c.secret_hash,
                    version: None,
                }),
        };
    Ok(Begun::Check(Check {
        key,
        attempt,
        found,
    }))
}

impl Check {
    /// Checks the secret (the costly part: run it off the async threads,
    /// holding no database connection). An unknown account costs the same.
    pub fn verify(&self, secret: &str) -> bool {
        match &self.found {
            Some(found) => password::verify(secret, &found.hash),
            None => {
                password::verify_nothing(secret);
                false
            }
        }
    }
}

/// The last step (a write): a success clears the count and grants; a
/// failure answers after a delay that grows, and the last allowed one locks
/// the key.
pub fn finish(
    conn: &mut DbConnection,
    check: Check,
    verified: bool,
    now: DateTime<Utc>,
) -> Result<Outcome, DomainError> {
    match (verified, check.found) {
        (true, Some(found)) => {
            throttle::clear(conn, &check.key)?;
            let org = organizations::get(conn, &found.organization_id)?;
            if org.oidc_required && matches!(found.subject, Subject::User(_)) {
                return Ok(Outcome::OidcRequired);
            }
            let at = to_db_time(now);
            match &found.subject {
                Subject::User(id) => users::touch_login(conn, id, at)?,
                Subject::Client(id) => api_clients::touch_used(conn, id, at)?,
            }
            Ok(Outcome::Granted {
                subject: found.subject,
                organization_id: org.id,
                role: found.role.unwrap_or(org.kind.member_role()),
                version: found.version,
            })
        }
        _ => {
            if policy::locks(check.attempt) {
                throttle::lock(conn, &check.key, to_db_time(now + policy::LOCKOUT))?;
            }
            Ok(Outcome::Refused {
                delay: policy::delay(check.attempt),
            })
        }
    }
}

/// A sign-in's three steps, shared by the token endpoint and the
/// workspace's sign-in form: the attempt counted (atomically, before the
/// secret is looked at), the secret checked off the database connection on
/// a bounded number of threads, the outcome recorded. A refusal answers
/// only after its delay.
pub async fn check(
    app: &crate::App,
    address: std::net::IpAddr,
    account: Account,
    secret: String,
) -> Result<Outcome, DomainError> {
    let now = Utc::now();
    let from = address.to_string();
    let begun = app
        .write(move |conn| begin(conn, &account, &from, now))
        .await?;
    let check = match begun {
        Begun::Locked { seconds } => return Ok(Outcome::Locked { seconds }),
        Begun::Check(check) => check,
    };
    let turn = app.limits.hashing_turn().await?;
    let (check, verified) = tokio::task::spawn_blocking(move || {
        let verified = check.verify(&secret);
        (check, verified)
    })
    .await
    .map_err(|e| DomainError::Unexpected(anyhow::anyhow!("password check failed: {e}")))?;
    drop(turn);
    let outcome = app
        .write(move |conn| finish(conn, check, verified, Utc::now()))
        .await?;
    if let Outcome::Refused { delay } = &outcome {
        tokio::time::sleep(*delay).await;
    }
    Ok(outcome)
}

/// How long ProConnect may take to send the browser back.
pub const ATTEMPT_TTL: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// Keeps a ProConnect sign-in under way (its nonce, PKCE verifier and the
/// page to go back to) under the SHA-256 of its `state`, until it is taken
/// or [`ATTEMPT_TTL`] has passed.
pub fn remember_attempt(
    conn: &mut DbConnection,
    state: &str,
    (nonce, pkce_verifier): (String, String),
    next: String,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let attempt = avip_db::oidc_attempts::OidcAttempt {
        state_hash: crate::auth::sessions::digest(state),
        nonce,
        pkce_verifier,
        next,
        expires_at: to_db_time(now + ATTEMPT_TTL),
    };
    Ok(avip_db::oidc_attempts::insert(
        conn,
        &attempt,
        to_db_time(now),
    )?)
}

/// Takes the attempt of this `state`, once: `None` when it is unknown,
/// expired or already taken (an answer meant for another browser, replayed
/// or late).
pub fn take_attempt(
    conn: &mut DbConnection,
    state: &str,
    now: DateTime<Utc>,
) -> Result<Option<avip_db::oidc_attempts::OidcAttempt>, DomainError> {
    let hash = crate::auth::sessions::digest(state);
    Ok(avip_db::oidc_attempts::take(conn, &hash, to_db_time(now))?)
}

/// The caller and its organisation.
pub fn me(
    conn: &mut DbConnection,
    who: &Principal,
) -> Result<(Identity, Organization), DomainError> {
    let org = organizations::get(conn, &who.organization_id)?;
    let (name, email) = match &who.subject {
        Subject::User(id) => {
            let u = users::get(conn, id)?;
            (u.name, Some(u.email))
        }
        Subject::Client(id) => (api_clients::get(conn, id)?.label, None),
    };
    Ok((Identity::of(who, name, email), org))
}

/// An identity as the operator names it at the command line.
pub enum Named<'a> {
    Email(&'a str),
    ClientId(&'a str),
}

/// The identity an operator names, as a token carries it (`avip admin
/// token`): not found when nobody has this e-mail or client id, `None` when
/// it is disabled.
/// With the person's credentials' number, which the token carries.
pub fn named(
    conn: &mut DbConnection,
    who: Named<'_>,
) -> Result<Option<(Principal, Option<i32>)>, DomainError> {
    let subject = match who {
        Named::Email(email) => users::find_by_email(conn, email)?.map(|u| Subject::User(u.id)),
        Named::ClientId(id) => {
            api_clients::find_by_client_id(conn, id)?.map(|c| Subject::Client(c.id))
        }
    };
    let subject = subject.ok_or(DomainError::NotFound)?;
    Ok(crate::auth::principal::load_records(conn, subject)?
        .map(|loaded| (loaded.principal, loaded.version)))
}

/// Why an identity the OpenID Connect provider verified gets no session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unmatched {
    /// No active person of this service has this e-mail.
    NoPerson,
    /// The person's organisation records a SIRET, and the provider gave
    /// another.
    OtherSiret,
}

impl Unmatched {
    /// For the log: no personal data.
    pub fn reason(self) -> &'static str {
        match self {
            Unmatched::NoPerson => "no active person has this e-mail",
            Unmatched::OtherSiret => "the SIRET is not the one the organisation records",
        }
    }
}

/// The person an identity verified by the OpenID Connect provider is: the
/// active person with this `email`, whose organisation's SIRET, when it
/// records one, is the provider's `siret` when it gives one. Nobody is
/// created. Records the sign-in on the person. With her credentials'
/// number, which the session records.
pub fn person_of(
    conn: &mut DbConnection,
    email: &str,
    siret: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Result<(avip_db::model::UserId, i32), Unmatched>, DomainError> {
    let Some(user) = users::find_by_email(conn, email)?.filter(|u| u.active) else {
        return Ok(Err(Unmatched::NoPerson));
    };
    let org = organizations::get(conn, &user.organization_id)?;
    if let (Some(recorded), Some(given)) = (org.siret.as_deref(), siret)
        && recorded != given.replace(' ', "")
    {
        return Ok(Err(Unmatched::OtherSiret));
    }
    users::touch_login(conn, &user.id, to_db_time(now))?;
    Ok(Ok((user.id, user.credentials_version)))
}
