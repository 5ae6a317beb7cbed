//! When each stage of each clock fires, as plain functions of the policy and
//! a referral's dates: the intake, the workflow, the sweep and a policy
//! change all compute their timers here.
//!
//! First-response stages count on the policy's clock (calendar or working
//! days). The follow-up and contract-end notices are counted in calendar
//! days from midnight in Paris: they are written in days (`60d`, `30d`) and
//! a contract ends on a date, not at an hour.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use avip_db::model::SlaStage;

use crate::clock::{deadline, paris_midnight};
use crate::policy::Policy;

/// How long after receipt `stage` fires.
pub fn stage_delay(policy: &Policy, stage: SlaStage) -> std::time::Duration {
    match stage {
        SlaStage::Warning => policy.warning,
        SlaStage::Breach => policy.breach,
        SlaStage::Escalation => policy.escalation,
    }
}

/// The instant `stage` fires for a referral received at `received`.
pub fn stage_at(policy: &Policy, received: DateTime<Utc>, stage: SlaStage) -> DateTime<Utc> {
    deadline(
        policy.clock,
        policy.holiday_zone,
        received,
        stage_delay(policy, stage),
    )
}

/// The first-response deadline: the breach.
pub fn due_at(policy: &Policy, received: DateTime<Utc>) -> DateTime<Utc> {
    stage_at(policy, received, SlaStage::Breach)
}

/// When the stage after `reached` fires; `None` once escalated.
pub fn next_at(
    policy: &Policy,
    received: DateTime<Utc>,
    reached: Option<SlaStage>,
) -> Option<DateTime<Utc>> {
    SlaStage::after(reached).map(|stage| stage_at(policy, received, stage))
}

/// The furthest stage that has fired by `at`.
pub fn reached_by(policy: &Policy, received: DateTime<Utc>, at: DateTime<Utc>) -> Option<SlaStage> {
    [SlaStage::Escalation, SlaStage::Breach, SlaStage::Warning]
        .into_iter()
        .find(|stage| stage_at(policy, received, *stage) <= at)
}

/// When an enrolled family's follow-up becomes overdue: the policy's gap
/// after the latest follow-up (or the enrollment's start).
pub fn follow_up_due(
    policy: &Policy,
    start: NaiveDate,
    last_follow_up: Option<NaiveDate>,
) -> DateTime<Utc> {
    let from = last_follow_up.map_or(start, |last| last.max(start));
    add(paris_midnight(from), policy.follow_up)
}

/// When the notice before the contract's end is due.
pub fn contract_notice_at(policy: &Policy, contract_end: NaiveDate) -> DateTime<Utc> {
    let end = paris_midnight(contract_end);
    let notice =
        chrono::Duration::from_std(policy.contract_notice).unwrap_or(chrono::Duration::MAX);
    end.checked_sub_signed(notice).unwrap_or(end)
}

fn add(t: DateTime<Utc>, d: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(t)
}

/// Database times are UTC without a zone.
pub fn to_db(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

pub fn from_db(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{ClockKind, HolidayZone};
    use chrono::TimeZone;
    use std::time::Duration;

    fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn stages_fire_in_order_and_the_furthest_one_counts() {
        let policy = Policy::default();
        let received = utc(2026, 11, 2, 9);
        assert_eq!(reached_by(&policy, received, utc(2026, 11, 4, 8)), None);
        assert_eq!(
            reached_by(&policy, received, utc(2026, 11, 4, 9)),
            Some(SlaStage::Warning)
        );
        assert_eq!(
            reached_by(&policy, received, utc(2026, 11, 5, 9)),
            Some(SlaStage::Breach)
        );
        assert_eq!(
            reached_by(&policy, received, utc(2026, 11, 30, 0)),
            Some(SlaStage::Escalation)
        );
        assert_eq!(next_at(&policy, received, None), Some(utc(2026, 11, 4, 9)));
        assert_eq!(
            next_at(&policy, received, Some(SlaStage::Breach)),
            Some(utc(2026, 11, 6, 9))
        );
        assert_eq!(next_at(&policy, received, Some(SlaStage::Escalation)), None);
        assert_eq!(due_at(&policy, received), utc(2026, 11, 5, 9));
    }

    #[test]
    fn working_days_stages_skip_the_weekend() {
        let policy = Policy {
            clock: ClockKind::WorkingDays,
            holiday_zone: HolidayZone::Metropole,
            ..Policy::default()
        };
        // Friday 20 November 2026, 17:00 in Paris (16:00 UTC): due Wednesday 17:00.
        let received = utc(2026, 11, 20, 16);
        assert_eq!(due_at(&policy, received), utc(2026, 11, 25, 16));
        assert_eq!(
            stage_at(&policy, received, SlaStage::Warning),
            utc(2026, 11, 24, 16)
        );
    }

    #[test]
    fn enrollment_notices_count_days_from_paris_midnight() {
        let policy = Policy {
            follow_up: Duration::from_secs(60 * 86400),
            contract_notice: Duration::from_secs(30 * 86400),
            ..Policy::default()
        };
        let start = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        // 1 December 2026 00:00 Paris is 23:00 UTC the day before; + 60 days.
        assert_eq!(follow_up_due(&policy, start, None), utc(2027, 1, 29, 23));
        let later = NaiveDate::from_ymd_opt(2027, 1, 15).unwrap();
        assert_eq!(
            follow_up_due(&policy, start, Some(later)),
            utc(2027, 3, 15, 23)
        );
        // A follow-up dated before the start does not move the clock back.
        let before = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        assert_eq!(
            follow_up_due(&policy, start, Some(before)),
            follow_up_due(&policy, start, None)
        );
        // 31 May 2027 00:00 Paris (summer time) is 30 May 22:00 UTC; 30 days before.
        let end = NaiveDate::from_ymd_opt(2027, 5, 31).unwrap();
        assert_eq!(contract_notice_at(&policy, end), utc(2027, 4, 30, 22));
    }
}
