//! The rules of the product as plain functions on plain types, free of
//! HTTP and of the database: parsing of the values clients send into types
//! that cannot hold invalid data (each parser collects every problem,
//! naming the field), the referral's lifecycle, and the errors a rule or a
//! use case can answer.

pub mod error;
pub mod exit;
pub mod input;
pub mod referral;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use error::{DomainError, FieldError};

/// Collects field errors while a request is parsed.
#[derive(Default, Debug)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Keeps `Ok` values, records the message of `Err` ones under `field`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(message) => {
                self.push(field, message);
                None
            }
        }
    }

    pub fn into_result(self) -> Result<(), DomainError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(self.0))
        }
    }
}

/// The most ids one list may carry.
pub const MAX_IDS: usize = 100;

/// A list of ids sent under `field`, at most [`MAX_IDS`]: each one that is
/// not an id is recorded as `field[i]`.
pub fn ids<T: PartialEq>(
    field: &str,
    raw: &[String],
    parse: impl Fn(&str) -> Option<T>,
    problems: &mut Problems,
) -> Vec<T> {
    if raw.len() > MAX_IDS {
        problems.push(field, format!("must list at most {MAX_IDS} ids"));
        return Vec::new();
    }
    let mut ids: Vec<T> = Vec::with_capacity(raw.len());
    for (i, id) in raw.iter().enumerate() {
        let at = format!("{field}[{i}]");
        match parse(id) {
            None => problems.push(at, "is not an id"),
            // Once each (the document says `uniqueItems`).
            Some(id) if ids.contains(&id) => problems.push(at, "is listed twice"),
            Some(id) => ids.push(id),
        }
    }
    ids
}

/// The years a date the service receives may fall in (what the OpenAPI
/// document gives as the dates' bounds): chrono reads `+10000-01-01` too.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// Refuses a date outside [`YEARS`].
pub fn within_years(date: chrono::NaiveDate) -> Result<(), String> {
    use chrono::Datelike;
    if YEARS.contains(&date.year()) {
        Ok(())
    } else {
        Err(format!(
            "must be a date of the years {} to {}",
            YEARS.start(),
            YEARS.end()
        ))
    }
}

/// Refuses a value longer than `max` characters as sent (before any
/// trimming): the bound the OpenAPI document gives as `maxLength`.
pub fn at_most(value: &str, max: usize) -> Result<(), String> {
    if value.chars().count() > max {
        Err(format!("must be at most {max} characters"))
    } else {
        Ok(())
    }
}

/// A name or label: at most `max` characters as sent, trimmed, not empty,
/// no control characters.
pub fn text(value: &str, max: usize) -> Result<String, String> {
    at_most(value, max)?;
    let value = value.trim();
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(value.to_owned())
}

/// A French département code: `01`–`95` (not `20`), `2A`, `2B`, `971`–`976`.
pub fn departement(value: &str) -> Result<String, String> {
    at_most(value, 3)?;
    let value = value.trim().to_ascii_uppercase();
    let ok = match value.as_str() {
        "2A" | "2B" => true,
        // Digits only (`parse` would take a sign).
        v if !v.bytes().all(|b| b.is_ascii_digit()) => false,
        v if v.len() == 2 => v
            .parse::<u8>()
            .is_ok_and(|n| (1..=95).contains(&n) && n != 20),
        v if v.len() == 3 => v.parse::<u16>().is_ok_and(|n| (971..=976).contains(&n)),
        _ => false,
    };
    if ok {
        Ok(value)
    } else {
        Err("is not a French département code (e.g. 83, 2A, 974)".into())
    }
}

/// A French postal code: five digits.
pub fn postal_code(value: &str) -> Result<String, String> {
    at_most(value, 5)?;
    let value = value.trim();
    if value.len() == 5 && value.bytes().all(|b| b.is_ascii_digit()) && !value.starts_with("00") {
        Ok(value.to_owned())
    } else {
        Err("is not a French postal code (five digits)".into())
    }
}

/// An e-mail address, stored lower-case.
pub fn email(value: &str) -> Result<String, String> {
    at_most(value, 254)?;
    let value = value.trim().to_lowercase();
    if !(value.len() <= 254 && email_address::EmailAddress::is_valid(&value) && value.contains('.'))
    {
        return Err("is not an e-mail address".into());
    }
    let (local, domain) = value.rsplit_once('@').unwrap_or((&value, ""));
    unmistakable(local).map_err(|why| format!("its local part {why}"))?;
    // A domain's labels are judged one by one, as IDNA does.
    for label in domain.split('.') {
        unmistakable(label).map_err(|why| format!("its domain {why}"))?;
    }
    Ok(value)
}

/// Refuses a part of an address that mixes scripts (a Cyrillic `а` among
/// Latin letters) or that is written with characters other than ASCII
/// but reads as an ASCII text (Unicode's confusable skeleton, UTS #39):
/// either could pass for another person's address.
fn unmistakable(part: &str) -> Result<(), String> {
    use unicode_security::{MixedScript, skeleton};
    if !part.is_single_script() {
        return Err("mixes scripts (such as Latin and Cyrillic letters)".into());
    }
    if !part.is_ascii() && skeleton(part).all(|c| c.is_ascii()) {
        return Err("uses characters that look like other letters (confusables)".into());
    }
    Ok(())
}

pub const MIN_PASSWORD_CHARS: usize = 12;

pub fn password(value: &str) -> Result<String, String> {
    let chars = value.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Err(format!(
            "must be at least {MIN_PASSWORD_CHARS} characters long"
        ))
    } else if chars > 1024 {
        // Characters, as the OpenAPI document's maxLength counts.
        Err("must be at most 1024 characters long".into())
    } else {
        Ok(value.to_owned())
    }
}

/// `HH:MM`, 00:00 to 23:59 (24:00 allowed as a closing time).
pub fn clock_time(value: &str) -> Result<String, String> {
    let b = value.as_bytes();
    let ok = value.len() == 5
        && b[2] == b':'
        && [b[0], b[1], b[3], b[4]].iter().all(u8::is_ascii_digit)
        && match (value[..2].parse::<u8>(), value[3..].parse::<u8>()) {
            (Ok(h), Ok(m)) => (h < 24 && m < 60) || (h == 24 && m == 0),
            _ => false,
        };
    if ok {
        Ok(value.to_owned())
    } else {
        Err("is not a time of day written HH:MM".into())
    }
}

/// A day of the week, as contracts and opening hours name it.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    /// Monday to Sunday.
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    pub fn to_chrono(self) -> chrono::Weekday {
        match self {
            Weekday::Mon => chrono::Weekday::Mon,
            Weekday::Tue => chrono::Weekday::Tue,
            Weekday::Wed => chrono::Weekday::Wed,
            Weekday::Thu => chrono::Weekday::Thu,
            Weekday::Fri => chrono::Weekday::Fri,
            Weekday::Sat => chrono::Weekday::Sat,
            Weekday::Sun => chrono::Weekday::Sun,
        }
    }

    pub fn of(day: chrono::Weekday) -> Weekday {
        Weekday::ALL[day.num_days_from_monday() as usize]
    }

    /// Its code on the wire: `mon` … `sun`.
    pub fn code(self) -> &'static str {
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            [self.to_chrono().num_days_from_monday() as usize]
    }
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"opens": "07:00", "closes": "19:30", "days": ["mon", "tue", "wed", "thu", "fri"]}))]
pub struct OpeningHours {
    /// `HH:MM`; hours before 07:00 or after 19:00 are atypical hours.
    #[schema(max_length = 5)]
    pub opens: String,
    #[schema(max_length = 5)]
    pub closes: String,
    #[schema(max_items = 7)]
    pub days: Vec<Weekday>,
}

impl OpeningHours {
    pub fn check(&self, field: &str, problems: &mut Problems) {
        let opens = problems.check(&format!("{field}.opens"), clock_time(&self.opens));
        let closes = problems.check(&format!("{field}.closes"), clock_time(&self.closes));
        if let (Some(o), Some(c)) = (opens, closes)
            && o >= c
        {
            problems.push(format!("{field}.closes"), "must be after opens");
        }
        if self.days.is_empty() {
            problems.push(format!("{field}.days"), "must name at least one day");
        } else if self.days.len() > 7 {
            problems.push(format!("{field}.days"), "must name at most seven days");
        }
    }

    pub fn to_json(&self) -> String {
        let mut days = self.days.clone();
        days.sort();
        days.dedup();
        serde_json::json!({"opens": self.opens, "closes": self.closes, "days": days}).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departements() {
        for ok in ["01", "83", "2A", "2b", "95", "971", "976"] {
            assert!(departement(ok).is_ok(), "{ok}");
        }
        for bad in ["00", "20", "96", "977", "8", "830", "AB", ""] {
            assert!(departement(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_postal_codes_and_times() {
        assert_eq!(
            email(" C.Martin@Example.org ").unwrap(),
            "c.martin@example.org"
        );
        for bad in ["", "x", "a@b", "a b@example.org", "@example.org"] {
            assert!(email(bad).is_err(), "{bad}");
        }
        // Accents of one script pass; a Cyrillic letter among Latin ones,
        // or a whole part in look-alike letters, does not.
        for good in [
            "élodie.brûlé@mairie-fréjus.fr",
            "ćwikła@przykład.pl",
            "мария@пример.рф",
        ] {
            assert!(email(good).is_ok(), "{good}: {:?}", email(good));
        }
        for (bad, why) in [
            ("\u{430}dmin@example.org", "mixes scripts"),
            ("admin@ex\u{430}mple.org", "its domain mixes scripts"),
            ("\u{430}\u{435}@example.org", "look like other letters"),
            (
                "c.martin@\u{435}\u{445}\u{430}.org",
                "look like other letters",
            ),
        ] {
            let refused = email(bad).unwrap_err();
            assert!(refused.contains(why), "{bad}: {refused}");
        }
        assert!(postal_code("83000").is_ok());
        for bad in ["8300", "830000", "83 00", "00100", "ABCDE"] {
            assert!(postal_code(bad).is_err(), "{bad}");
        }
        assert!(clock_time("07:00").is_ok() && clock_time("24:00").is_ok());
        for bad in ["7:00", "24:01", "12:60", "ab:cd", "0700"] {
            assert!(clock_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn texts_and_passwords() {
        assert_eq!(text("  Les Petits Pas ", 200).unwrap(), "Les Petits Pas");
        assert!(text("   ", 200).is_err());
        assert!(text(&"x".repeat(201), 200).is_err());
        assert!(text("a\u{0}b", 200).is_err());
        assert!(password("short").is_err());
        assert!(password("correct horse battery").is_ok());
    }
}
