//! Slows down, then locks out, repeated failed sign-ins for one account name
//! (known or not, so that the answer says nothing about which exist).

use std::time::Duration;

use avip_db::throttle::Throttle;
use chrono::{DateTime, Utc};

/// Failures before each further one is answered more slowly.
pub const FREE_FAILURES: i32 = 2;
/// Failures within [`WINDOW`] that lock the account name for [`LOCKOUT`].
pub const MAX_FAILURES: i32 = 5;
pub const WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(15);
pub const LOCKOUT: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// Seconds left of a lock-out in force at `now`.
pub fn locked_for(state: Option<&Throttle>, now: DateTime<Utc>) -> Option<u64> {
    let until = state?.locked_until?.and_utc();
    (until > now).then(|| u64::try_from((until - now).num_seconds().max(1)).unwrap_or(1))
}

/// The state after one more failure at `now`, and how long to wait before
/// answering it.
pub fn after_failure(
    account: &str,
    state: Option<Throttle>,
    now: DateTime<Utc>,
) -> (Throttle, Duration) {
    let naive = avip_db::model::to_db_time(now);
    let mut state = match state {
        Some(s)
            if s.first_failure_at.and_utc() + WINDOW > now
                && s.locked_until.is_none_or(|u| u.and_utc() > now) =>
        {
            s
        }
        _ => Throttle {
            account: account.to_owned(),
            failures: 0,
            first_failure_at: naive,
            locked_until: None,
        },
    };
    state.failures += 1;
    if state.failures >= MAX_FAILURES {
        state.locked_until = Some(avip_db::model::to_db_time(now + LOCKOUT));
    }
    let extra = (state.failures - FREE_FAILURES).clamp(0, 4) as u32;
    let delay = if extra == 0 {
        Duration::ZERO
    } else {
        Duration::from_millis(250 << (extra - 1))
    };
    (state, delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_slow_down_then_lock_out_then_expire() {
        let t0 = Utc::now();
        let mut state = None;
        let mut delays = Vec::new();
        for _ in 0..MAX_FAILURES {
            let (s, d) = after_failure("a@example.org", state.take(), t0);
            delays.push(d.as_millis());
            state = Some(s);
        }
        assert_eq!(delays, [0, 0, 250, 500, 1000]);
        assert!(locked_for(state.as_ref(), t0).is_some_and(|s| s > 800));
        assert_eq!(
            locked_for(state.as_ref(), t0 + LOCKOUT + chrono::TimeDelta::seconds(1)),
            None
        );
        // After the lock-out the count starts again.
        let (s, _) = after_failure(
            "a@example.org",
            state,
            t0 + LOCKOUT + chrono::TimeDelta::seconds(1),
        );
        assert_eq!(s.failures, 1);
    }
}
