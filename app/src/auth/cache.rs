//! The identities this instance authenticated, kept in memory so that a
//! request with a known token does not go to the database to learn who
//! calls.
//!
//! What keeps them true:
//! - **This instance's changes** (a person disabled, a password changed, a
//!   crèche given to a coordinator…): the handler that made the change
//!   calls [`Identities::forget_all`] once it is committed, before it
//!   answers. A load that was under way then is not kept.
//! - **Everyone else's** (another instance, the command line): database
//!   triggers move a number, the identity epoch, on every change to
//!   people, API clients, organisations, crèches and their coordinators.
//!   A thread reads it every [`POLL`]; an identity loaded under another
//!   epoch is not used. So another process's change holds here within
//!   about [`POLL`].
//! - **No news is not good news**: when the epoch could not be read for
//!   [`TRUSTED_FOR`] (the database is away), nothing kept is used and
//!   every request reads the database, as if there were no cache.
//!
//! A token issued under other credentials (before a password change, a
//! disable, a sign-out everywhere) is refused on every request, kept or
//! not: the entry keeps the credentials' number and the time of the change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use avip_db::{DbConnection, Pool};

use super::principal::{self, Credentials, Issued, Principal, Subject};
use crate::auth::Identity;
use crate::domain::DomainError;

/// How often the identity epoch is read.
pub const POLL: Duration = Duration::from_millis(50);
/// How long a reading of the epoch is trusted.
pub const TRUSTED_FOR: Duration = Duration::from_secs(2);
/// At most this many identities are kept (then all are forgotten).
const CAPACITY: usize = 10_000;

/// An identity as loaded: who calls, and what `/me` shows of it.
pub struct Known {
    pub principal: Principal,
    pub identity: Identity,
    pub organization: avip_db::organizations::Organization,
    /// The person's credentials when loaded.
    credentials: Credentials,
    /// The identity epoch read before it was loaded.
    epoch: i64,
}

impl Known {
    /// Whether a token issued under `issued` was revoked since.
    pub fn revoked(&self, issued: Issued) -> bool {
        issued.revoked_by(self.credentials)
    }

    /// Reads the identity behind `subject`, the epoch first: an identity
    /// read after a change but tagged with the epoch before it is only
    /// thrown away, never trusted too long.
    pub fn load(conn: &mut DbConnection, subject: Subject) -> Result<Option<Known>, DomainError> {
        let epoch = avip_db::identity_epoch::current(conn)?;
        let Some(loaded) = principal::load_records(conn, subject)? else {
            return Ok(None);
        };
        let credentials = loaded.credentials();
        let principal = loaded.principal;
        let identity = Identity::of(&principal, loaded.name, loaded.email);
        Ok(Some(Known {
            principal,
            identity,
            organization: loaded.organization,
            credentials,
            epoch,
        }))
    }
}

/// What a load started under: see [`Identities::keep`].
#[derive(Clone, Copy)]
pub struct Ticket(u64);

pub struct Identities {
    kept: RwLock<Kept>,
    /// The identity epoch as last read.
    epoch: AtomicI64,
    /// When it was last read, in milliseconds since `origin` (0: never).
    read_at: AtomicU64,
    origin: Instant,
}

#[derive(Default)]
struct Kept {
    known: HashMap<Subject, Arc<Known>>,
    /// Moves on every [`Identities::forget_all`].
    generation: u64,
}

impl Default for Identities {
    fn default() -> Self {
        Identities {
            kept: RwLock::default(),
            epoch: AtomicI64::new(i64::MIN),
            read_at: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }
}

impl Identities {
    /// A cache whose epoch a thread of its own reads from `pool` every
    /// [`POLL`], until the cache is dropped.
    pub fn watched(pool: Pool) -> std::io::Result<Arc<Identities>> {
        let identities = Arc::new(Identities::default());
        let weak = Arc::downgrade(&identities);
        std::thread::Builder::new()
            .name("avip-identities".into())
            .spawn(move || watch(weak, pool))?;
        Ok(identities)
    }

    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64 + 1
    }

    fn trusted(&self) -> bool {
        let read_at = self.read_at.load(Ordering::Acquire);
        read_at != 0 && self.now_ms() - read_at < TRUSTED_FOR.as_millis() as u64
    }

    /// The epoch was read: identities loaded under another one are dropped.
    fn observe(&self, epoch: i64) {
        if self.epoch.load(Ordering::Acquire) != epoch {
            let mut kept = self.kept.write().unwrap_or_else(|e| e.into_inner());
            kept.known.clear();
            self.epoch.store(epoch, Ordering::Release);
        }
        self.read_at.store(self.now_ms(), Ordering::Release);
    }

    /// The identity kept for `subject`, if it can be trusted now.
    pub fn get(&self, subject: &Subject) -> Option<Arc<Known>> {
        if !self.trusted() {
            return None;
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let kept = self.kept.read().unwrap_or_else(|e| e.into_inner());
        kept.known
            .get(subject)
            .filter(|known| known.epoch == epoch)
            .cloned()
    }

    /// Taken before loading an identity, and given back to [`keep`](Self::keep).
    pub fn ticket(&self) -> Ticket {
        Ticket(
            self.kept
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .generation,
        )
    }

    /// Keeps an identity loaded under `ticket`, unless this instance
    /// changed an identity since (the load may have read the old one).
    pub fn keep(&self, ticket: Ticket, known: Arc<Known>) {
        let mut kept = self.kept.write().unwrap_or_else(|e| e.into_inner());
        if kept.generation != ticket.0 {
            return;
        }
        if kept.known.len() >= CAPACITY {
            kept.known.clear();
        }
        kept.known.insert(known.principal.subject.clone(), known);
    }

    /// Forgets every identity: called by whatever changed one, after the
    /// change is committed and before it answers.
    pub fn forget_all(&self) {
        let mut kept = self.kept.write().unwrap_or_else(|e| e.into_inner());
        kept.generation += 1;
        kept.known.clear();
    }
}

fn watch(identities: Weak<Identities>, pool: Pool) {
    loop {
        let Some(cache) = identities.upgrade() else {
            return;
        };
        match pool.get() {
            Ok(mut conn) => match avip_db::identity_epoch::current(&mut conn) {
                Ok(epoch) => cache.observe(epoch),
                Err(e) => tracing::debug!(error = %e, "cannot read the identity epoch"),
            },
            Err(e) => tracing::debug!(error = %e, "cannot read the identity epoch"),
        }
        drop(cache);
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(epoch: i64) -> Arc<Known> {
        let id = avip_db::model::UserId::generate();
        let organization_id = avip_db::model::OrganizationId::generate();
        let now = chrono::Utc::now().naive_utc();
        Arc::new(Known {
            principal: Principal {
                subject: Subject::User(id.clone()),
                organization_id: organization_id.clone(),
                organization_kind: avip_db::model::OrganizationKind::FranceTravail,
                departement: "83".into(),
                role: avip_db::model::Role::Prescriber,
                creche_ids: Vec::new(),
            },
            identity: Identity {
                kind: "user",
                id: id.to_string(),
                name: "P".into(),
                email: None,
                role: avip_db::model::Role::Prescriber,
                creche_ids: Vec::new(),
            },
            organization: avip_db::organizations::Organization {
                id: organization_id,
                kind: avip_db::model::OrganizationKind::FranceTravail,
                name: "FT".into(),
                departement: "83".into(),
                created_at: now,
                updated_at: now,
                oidc_required: false,
                siret: None,
            },
            credentials: Credentials {
                changed_at: Some(now),
                version: Some(4),
            },
            epoch,
        })
    }

    #[test]
    fn nothing_is_trusted_before_the_epoch_is_read() {
        let cache = Identities::default();
        let k = known(3);
        cache.keep(cache.ticket(), k.clone());
        assert!(cache.get(&k.principal.subject).is_none());
        cache.observe(3);
        assert!(
            cache.get(&k.principal.subject).is_none(),
            "dropped on the first reading"
        );
        cache.keep(cache.ticket(), k.clone());
        assert!(cache.get(&k.principal.subject).is_some());
    }

    #[test]
    fn a_moved_epoch_drops_what_was_kept() {
        let cache = Identities::default();
        cache.observe(3);
        let k = known(3);
        cache.keep(cache.ticket(), k.clone());
        cache.observe(4);
        assert!(cache.get(&k.principal.subject).is_none());
        // Loaded under an epoch not read yet: not used until it is.
        let k = known(5);
        cache.keep(cache.ticket(), k.clone());
        assert!(cache.get(&k.principal.subject).is_none());
        cache.observe(5);
        assert!(
            cache.get(&k.principal.subject).is_none(),
            "dropped on reading"
        );
    }

    #[test]
    fn a_load_under_way_during_a_local_change_is_not_kept() {
        let cache = Identities::default();
        cache.observe(1);
        let ticket = cache.ticket();
        cache.forget_all();
        let k = known(1);
        cache.keep(ticket, k.clone());
        assert!(cache.get(&k.principal.subject).is_none());
        cache.keep(cache.ticket(), k.clone());
        assert!(cache.get(&k.principal.subject).is_some());
    }

    #[test]
    fn an_old_reading_is_not_trusted() {
        let cache = Identities {
            origin: Instant::now() - 2 * TRUSTED_FOR,
            ..Identities::default()
        };
        cache.observe(1);
        let k = known(1);
        cache.keep(cache.ticket(), k.clone());
        assert!(cache.get(&k.principal.subject).is_some());
        cache.read_at.store(1, Ordering::Release);
        assert!(cache.get(&k.principal.subject).is_none());
    }

    #[test]
    fn a_token_older_than_the_password_is_refused() {
        let k = known(1);
        let changed = k.credentials.changed_at.unwrap().and_utc().timestamp();
        let issued = |at, version| Issued { at, version };
        assert!(k.revoked(issued(changed - 1, None)));
        assert!(!k.revoked(issued(changed, None)));
        assert!(
            k.revoked(issued(changed, Some(3))),
            "same second, older number"
        );
        assert!(!k.revoked(issued(changed, Some(4))));
    }
}
