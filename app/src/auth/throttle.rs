//! Slows down, then locks out, repeated failed sign-ins for one account
//! name **from one client address** (known account or not, so that the
//! answer says nothing about which exist). Keyed by address as well, so
//! that a stranger elsewhere cannot keep a known person out; the per-address
//! and global rate limits of the token endpoint bound the guesses one
//! address can spread over many accounts.
//!
//! Every attempt is counted before the password is checked, in one
//! statement: concurrent attempts cannot slip past the count, and at most
//! [`MAX_FAILURES`] passwords are checked per key and window.

use std::time::Duration;

use avip_db::throttle::Throttle;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Failures before each further one is answered more slowly.
pub const FREE_FAILURES: i32 = 2;
/// Failures within [`WINDOW`] that lock the key for [`LOCKOUT`].
pub const MAX_FAILURES: i32 = 5;
pub const WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(15);
pub const LOCKOUT: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// The stored key: a hash, so that the table holds neither what was typed
/// nor where from, and every key has the same small size.
pub fn key(kind: &str, account: &str, address: &str) -> String {
    let digest = Sha256::new()
        .chain_update(kind)
        .chain_update([0])
        .chain_update(account)
        .chain_update([0])
        .chain_update(address)
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What to do with an attempt once counted.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Refuse without checking the password, for this many seconds.
    Locked { seconds: u64 },
    /// Check the password: this is the key's `attempt`-th in the window.
    Check { attempt: i32 },
}

/// The verdict on an attempt, given the key's state after counting it.
pub fn verdict(state: &Throttle, now: DateTime<Utc>) -> Verdict {
    if let Some(until) = state.locked_until.map(|u| u.and_utc())
        && until > now
    {
        return Verdict::Locked {
            seconds: seconds_until(until, now),
        };
    }
    if state.failures > MAX_FAILURES {
        // Counted past the limit while the lock was being set.
        return Verdict::Locked {
            seconds: seconds_until(now + LOCKOUT, now),
        };
    }
    Verdict::Check {
        attempt: state.failures,
    }
}

fn seconds_until(until: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    u64::try_from((until - now).num_seconds().max(1)).unwrap_or(1)
}

/// Whether a failed `attempt` locks the key.
pub fn locks(attempt: i32) -> bool {
    attempt >= MAX_FAILURES
}

/// How long to wait before answering a failed `attempt`.
pub fn delay(attempt: i32) -> Duration {
    let extra = (attempt - FREE_FAILURES).clamp(0, 4) as u32;
    if extra == 0 {
        Duration::ZERO
    } else {
        Duration::from_millis(250 << (extra - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(failures: i32, locked_until: Option<DateTime<Utc>>) -> Throttle {
        Throttle {
            account: "k".into(),
            failures,
            first_failure_at: avip_db::model::to_db_time(Utc::now()),
            locked_until: locked_until.map(avip_db::model::to_db_time),
        }
    }

    #[test]
    fn failures_slow_down_then_lock_out() {
        let delays: Vec<u128> = (1..=MAX_FAILURES).map(|a| delay(a).as_millis()).collect();
        assert_eq!(delays, [0, 0, 250, 500, 1000]);
        assert!(!locks(MAX_FAILURES - 1));
        assert!(locks(MAX_FAILURES));
        let now = Utc::now();
        assert_eq!(verdict(&state(3, None), now), Verdict::Check { attempt: 3 });
        assert!(matches!(
            verdict(&state(6, None), now),
            Verdict::Locked { seconds } if seconds > 800
        ));
        let lock = now + LOCKOUT;
        assert!(matches!(
            verdict(&state(5, Some(lock)), now),
            Verdict::Locked { seconds } if seconds > 800
        ));
    }

    #[test]
    fn keys_are_hashes_of_account_and_address() {
        let a = key("user", "c.martin@example.org", "192.0.2.1");
        assert_eq!(a.len(), 64);
        assert!(!a.contains("martin"));
        assert_ne!(a, key("user", "c.martin@example.org", "192.0.2.2"));
        assert_ne!(a, key("client", "c.martin@example.org", "192.0.2.1"));
    }
}
