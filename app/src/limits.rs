//! What keeps one caller from taking the service away from the others: rate
//! limits on the token endpoint (per client address) and on intake (per
//! prescriber organisation), a bound on the passwords checked at once, and
//! on the downloads one identity runs at once. Counted in this process: two
//! instances behind one address allow twice the rates.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use avip_db::model::OrganizationId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::Settings;
use crate::domain::DomainError;

/// How long a sign-in waits for its turn to check a password.
const HASHING_WAIT: Duration = Duration::from_secs(10);

/// Pages a client address may open by links without account a minute:
/// a family needs a few; guessing links needs millions.
const LINKS_PER_MINUTE: u32 = 30;

/// Keys kept by a rate limiter before the idle ones are forgotten.
const KEYS_KEPT: usize = 10_000;

pub struct Limits {
    trusted_proxies: Vec<IpAddr>,
    token: DefaultKeyedRateLimiter<IpAddr>,
    /// Pages opened by a link without account (the family's booking).
    links: DefaultKeyedRateLimiter<IpAddr>,
    intake: DefaultKeyedRateLimiter<OrganizationId>,
    /// Passwords checked at once: half the cores, so that a flood of
    /// sign-ins leaves the others to everything else.
    hashing: tokio::sync::Semaphore,
    exports: Arc<Mutex<HashMap<String, u32>>>,
    exports_per_identity: u32,
    pub write_timeout: Duration,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl Limits {
    pub fn new(settings: &Settings) -> Limits {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Limits {
            trusted_proxies: settings.trusted_proxies.clone(),
            token: RateLimiter::keyed(per_minute(settings.token_rate_limit)),
            links: RateLimiter::keyed(per_minute(LINKS_PER_MINUTE)),
            intake: RateLimiter::keyed(per_minute(settings.intake_rate_limit)),
            hashing: tokio::sync::Semaphore::new((cores / 2).max(1)),
            exports: Arc::default(),
            exports_per_identity: settings.exports_per_identity,
            write_timeout: settings.write_timeout,
        }
    }

    /// The client's address: the peer, or behind a trusted proxy the last
    /// address of `X-Forwarded-For` (`forwarded`, each header's value) that
    /// is not one of the proxies.
    pub fn client_address<'a>(
        &self,
        peer: Option<IpAddr>,
        forwarded: impl Iterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = peer.unwrap_or(IpAddr::from([127, 0, 0, 1]));
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        let forwarded: Vec<IpAddr> = forwarded
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        forwarded
            .into_iter()
            .rev()
            .find(|a| !self.trusted_proxies.contains(a))
            .unwrap_or(peer)
    }

    /// One more token request from `address`.
    pub fn token_request(&self, address: IpAddr) -> Result<(), DomainError> {
        check(&self.token, &address).map_err(|wait| {
            too_many(
                "too_many_requests",
                format!("too many token requests from this address; try again in {wait} s"),
                wait,
            )
        })
    }

    /// One more page opened by a link without account from `address`.
    pub fn link_request(&self, address: IpAddr) -> Result<(), DomainError> {
        check(&self.links, &address).map_err(|wait| {
            too_many(
                "too_many_requests",
                format!("too many pages opened from this address; try again in {wait} s"),
                wait,
            )
        })
    }

    /// One more referral from `organization`.
    pub fn intake(&self, organization: &OrganizationId) -> Result<(), DomainError> {
        check(&self.intake, organization).map_err(|wait| {
            too_many(
                "too_many_requests",
                format!(
                    "your organisation sent more referrals this minute than the service accepts; \
                     try again in {wait} s"
                ),
                wait,
            )
        })
    }

    /// Waits for a turn to check a password (the argon2 hash is the costly
    /// part of a sign-in); a sign-in that waits too long is told to retry.
    pub async fn hashing_turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, DomainError> {
        match tokio::time::timeout(HASHING_WAIT, self.hashing.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(too_many(
                "sign_in_busy",
                "too many sign-ins at once; try again in a few seconds".to_owned(),
                2,
            )),
        }
    }

    /// A slot for one more download by `identity`, released when dropped.
    pub fn export_slot(&self, identity: &str) -> Result<ExportSlot, DomainError> {
        let mut running = self.exports.lock().unwrap_or_else(|e| e.into_inner());
        let count = running.entry(identity.to_owned()).or_default();
        if *count >= self.exports_per_identity {
            return Err(too_many(
                "too_many_exports",
                format!(
                    "{} downloads of yours are still running; wait for one to end",
                    self.exports_per_identity
                ),
                5,
            ));
        }
        *count += 1;
        Ok(ExportSlot {
            identity: identity.to_owned(),
            running: self.exports.clone(),
        })
    }
}

/// Checks `key` against `limiter`; the seconds to wait when over.
fn check<K>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), u64>
where
    K: std::hash::Hash + Eq + Clone,
{
    if limiter.len() > KEYS_KEPT {
        limiter.retain_recent();
    }
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
    })
}

fn too_many(code: &'static str, detail: String, retry_after: u64) -> DomainError {
    DomainError::TooManyRequests {
        code,
        detail,
        retry_after: retry_after.max(1),
    }
}

/// A running download; the identity's count goes down when it is dropped.
pub struct ExportSlot {
    identity: String,
    running: Arc<Mutex<HashMap<String, u32>>>,
}

impl Drop for ExportSlot {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = running.get_mut(&self.identity) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                running.remove(&self.identity);
            }
        }
    }
}
