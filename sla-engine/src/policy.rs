//! The SLA policy (docs/product.md §4): which clock runs and how long each stage waits.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

/// How deadline time runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// Wall-clock hours, as the coordinators' rule book counts them.
    Calendar,
    /// Time runs on working days in Europe/Paris only.
    WorkingDays,
}

/// Which French public holidays stop the working-days clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidayZone {
    Metropole,
    /// Metropole plus Good Friday and 26 December.
    AlsaceMoselle,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("unknown value {value:?}: expected one of {expected}")]
    UnknownValue {
        value: String,
        expected: &'static str,
    },
    #[error("{0:?} is not a duration: write it like 72h, 48h, 60d or 90s")]
    BadDuration(String),
    #[error("must be longer than zero")]
    Zero,
    #[error(
        "stages must come in order: warning ({warning}) < breach ({breach}) < escalation ({escalation})"
    )]
    StagesOutOfOrder {
        warning: String,
        breach: String,
        escalation: String,
    },
}

impl FromStr for ClockKind {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, PolicyError> {
        match s.trim() {
            "calendar" => Ok(ClockKind::Calendar),
            "working_days" => Ok(ClockKind::WorkingDays),
            other => Err(PolicyError::UnknownValue {
                value: other.to_owned(),
                expected: "calendar, working_days",
            }),
        }
    }
}

impl FromStr for HolidayZone {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, PolicyError> {
        match s.trim() {
            "metropole" => Ok(HolidayZone::Metropole),
            "alsace_moselle" => Ok(HolidayZone::AlsaceMoselle),
            other => Err(PolicyError::UnknownValue {
                value: other.to_owned(),
                expected: "metropole, alsace_moselle",
            }),
        }
    }
}

impl fmt::Display for ClockKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClockKind::Calendar => "calendar",
            ClockKind::WorkingDays => "working_days",
        })
    }
}

/// A duration as the settings write it: `72h`, `48h`, `60d`, `90s`, `1h 30m`.
pub fn parse_duration(text: &str) -> Result<Duration, PolicyError> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|_| PolicyError::BadDuration(text.to_owned()))?;
    if duration.is_zero() {
        return Err(PolicyError::Zero);
    }
    Ok(duration)
}

/// The deadlines in force. Build it with [`Policy::new`], which checks that
/// the first-response stages come in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Policy {
    pub clock: ClockKind,
    pub holiday_zone: HolidayZone,
    #[serde(with = "humantime_serde_compat")]
    pub warning: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub breach: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub escalation: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub follow_up: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub contract_notice: Duration,
}

impl Policy {
    pub fn new(
        clock: ClockKind,
        holiday_zone: HolidayZone,
        [warning, breach, escalation, follow_up, contract_notice]: [Duration; 5],
    ) -> Result<Policy, PolicyError> {
        if !(warning < breach && breach < escalation) {
            return Err(PolicyError::StagesOutOfOrder {
                warning: format_duration(warning),
                breach: format_duration(breach),
                escalation: format_duration(escalation),
            });
        }
        Ok(Policy {
            clock,
            holiday_zone,
            warning,
            breach,
            escalation,
            follow_up,
            contract_notice,
        })
    }
}

impl Default for Policy {
    /// docs/product.md §4: warn at 48 h, breach at 72 h, escalate at 96 h, a follow-up
    /// every 60 days, 30 days' notice before a contract ends.
    fn default() -> Policy {
        const HOUR: u64 = 3600;
        const DAY: u64 = 24 * HOUR;
        Policy {
            clock: ClockKind::Calendar,
            holiday_zone: HolidayZone::Metropole,
            warning: Duration::from_secs(48 * HOUR),
            breach: Duration::from_secs(72 * HOUR),
            escalation: Duration::from_secs(96 * HOUR),
            follow_up: Duration::from_secs(60 * DAY),
            contract_notice: Duration::from_secs(30 * DAY),
        }
    }
}

impl Policy {
    /// A digest of every setting: the version changes exactly when it does.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let canonical = serde_json::to_string(self).unwrap_or_default();
        Sha256::digest(canonical.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The policy in force and its version number (docs/product.md §4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActivePolicy {
    pub version: i32,
    pub policy: Policy,
}

/// Checks a cron expression with six fields (seconds first), as the
/// scheduler reads it.
pub fn check_schedule(expression: &str) -> Result<(), String> {
    if expression.split_whitespace().count() != 6 {
        return Err(format!(
            "{expression:?} is not a cron expression with six fields (seconds first)"
        ));
    }
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(expression)
        .map(drop)
        .map_err(|e| format!("{expression:?} is not a valid cron expression: {e}"))
}

/// A duration as the settings write it, in its largest whole unit: `72h`,
/// `60d`, `90s` (humantime's own format reads `60d` as `1month 29days…`).
pub fn setting_text(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        0 => "0s".to_owned(),
        s if s % 86_400 == 0 && s >= 7 * 86_400 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

pub fn format_duration(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

mod humantime_serde_compat {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration(*d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_the_settings_write_them() {
        for (text, secs) in [
            ("72h", 72 * 3600),
            ("48h", 48 * 3600),
            ("60d", 60 * 86400),
            ("90s", 90),
            ("1h 30m", 5400),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        assert_eq!(
            parse_duration("72"),
            Err(PolicyError::BadDuration("72".into()))
        );
        assert_eq!(
            parse_duration("three days"),
            Err(PolicyError::BadDuration("three days".into()))
        );
        assert_eq!(parse_duration("0s"), Err(PolicyError::Zero));
    }

    #[test]
    fn durations_are_shown_as_the_settings_write_them() {
        for text in ["48h", "72h", "96h", "60d", "30d", "90s", "10m"] {
            assert_eq!(setting_text(parse_duration(text).unwrap()), text);
        }
    }

    #[test]
    fn the_default_is_the_rule_book() {
        let policy = Policy::default();
        let again = Policy::new(
            ClockKind::Calendar,
            HolidayZone::Metropole,
            [
                policy.warning,
                policy.breach,
                policy.escalation,
                policy.follow_up,
                policy.contract_notice,
            ],
        );
        assert_eq!(again, Ok(policy.clone()));
        assert_eq!(policy.breach, Duration::from_secs(72 * 3600));
    }

    #[test]
    fn stages_out_of_order_are_refused() {
        let h = |n: u64| Duration::from_secs(n * 3600);
        let err = Policy::new(
            ClockKind::Calendar,
            HolidayZone::Metropole,
            [h(72), h(48), h(96), h(1), h(1)],
        );
        assert!(matches!(err, Err(PolicyError::StagesOutOfOrder { .. })));
    }

    #[test]
    fn the_fingerprint_follows_the_settings() {
        let policy = Policy::default();
        assert_eq!(policy.fingerprint(), Policy::default().fingerprint());
        let other = Policy {
            breach: Duration::from_secs(71 * 3600),
            ..Policy::default()
        };
        assert_ne!(policy.fingerprint(), other.fingerprint());
        let other = Policy {
            clock: ClockKind::WorkingDays,
            ..Policy::default()
        };
        assert_ne!(policy.fingerprint(), other.fingerprint());
    }

    #[test]
    fn schedules_are_checked_as_the_scheduler_reads_them() {
        assert_eq!(check_schedule("0 * * * * *"), Ok(()));
        assert_eq!(check_schedule("*/5 * * * * *"), Ok(()));
        assert!(check_schedule("* * * * *").is_err());
        assert!(check_schedule("0 61 * * * *").is_err());
        assert!(check_schedule("a b c d e f").is_err());
    }

    #[test]
    fn enums_parse_their_setting_values() {
        assert_eq!("working_days".parse(), Ok(ClockKind::WorkingDays));
        assert_eq!("alsace_moselle".parse(), Ok(HolidayZone::AlsaceMoselle));
        assert!("weekdays".parse::<ClockKind>().is_err());
    }
}
