//! Deadline arithmetic: when a duration that started at an instant runs out,
//! on the calendar clock (wall-clock time) or on the working-days clock (time
//! runs only on working days in Europe/Paris).

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Europe::Paris;

use crate::policy::{ClockKind, HolidayZone};

/// The French public holidays of `year` in `zone`, in date order. Easter
/// and the holidays that follow it are computed for the year.
pub fn holidays(zone: HolidayZone, year: i32) -> Vec<NaiveDate> {
    named_holidays(zone, year)
        .into_iter()
        .map(|(d, _)| d)
        .collect()
}

/// The zone's public holidays of `year` with their French names, in date
/// order (the Easter-based ones computed).
pub fn named_holidays(zone: HolidayZone, year: i32) -> Vec<(NaiveDate, &'static str)> {
    let day = |month, day| NaiveDate::from_ymd_opt(year, month, day);
    let easter = computus::gregorian_naive(year).ok();
    let after_easter = |days: i64| easter.map(|e| e + chrono::Duration::days(days));
    let mut list: Vec<(NaiveDate, &'static str)> = [
        (day(1, 1), "Jour de l’an"),
        (after_easter(1), "Lundi de Pâques"),
        (day(5, 1), "Fête du Travail"),
        (day(5, 8), "Victoire 1945"),
        (after_easter(39), "Ascension"),
        (after_easter(50), "Lundi de Pentecôte"),
        (day(7, 14), "Fête nationale"),
        (day(8, 15), "Assomption"),
        (day(11, 1), "Toussaint"),
        (day(11, 11), "Armistice 1918"),
        (day(12, 25), "Noël"),
    ]
    .into_iter()
    .filter_map(|(d, name)| d.map(|d| (d, name)))
    .collect();
    if zone == HolidayZone::AlsaceMoselle {
        list.extend(after_easter(-2).map(|d| (d, "Vendredi saint")));
        list.extend(day(12, 26).map(|d| (d, "Saint-Étienne")));
    }
    list.sort();
    list
}

/// Monday to Friday, except the zone's public holidays.
pub fn is_working_day(zone: HolidayZone, date: NaiveDate) -> bool {
    is_working_day_among(&holidays(zone, date.year()), date)
}

fn is_working_day_among(holidays: &[NaiveDate], date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !holidays.contains(&date)
}

/// The instant at which `duration`, started at `start`, runs out.
pub fn deadline(
    clock: ClockKind,
    zone: HolidayZone,
    start: DateTime<Utc>,
    duration: Duration,
) -> DateTime<Utc> {
    let duration = chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX);
    match clock {
        ClockKind::Calendar => start.checked_add_signed(duration).unwrap_or(start),
        ClockKind::WorkingDays => working_deadline(zone, start, duration),
    }
}

/// The date in Paris at instant `t`: the day a French user lives in.
pub fn paris_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&Paris).date_naive()
}

/// Midnight starting `date` in Paris, as an instant. Paris changes its clocks
/// at 02:00 or 03:00, so midnight always exists once.
pub fn paris_midnight(date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    Paris
        .from_local_datetime(&midnight)
        .earliest()
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

fn working_deadline(
    zone: HolidayZone,
    start: DateTime<Utc>,
    mut remaining: chrono::Duration,
) -> DateTime<Utc> {
    let mut at = start;
    let mut date = start.with_timezone(&Paris).date_naive();
    let mut holidays_of = (date.year(), holidays(zone, date.year()));
    loop {
        let Some(next_date) = date.succ_opt() else {
            return at;
        };
        let day_end = paris_midnight(next_date);
        if holidays_of.0 != date.year() {
            holidays_of = (date.year(), holidays(zone, date.year()));
        }
        if is_working_day_among(&holidays_of.1, date) {
            let available = day_end - at;
            if remaining <= available {
                return at + remaining;
            }
            remaining -= available;
        }
        at = day_end;
        date = next_date;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    /// Paris local time → instant.
    fn paris(text: &str) -> DateTime<Utc> {
        let local: chrono::NaiveDateTime = text.parse().unwrap();
        Paris
            .from_local_datetime(&local)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    const HOUR: u64 = 3600;

    #[test]
    fn holidays_2024_to_2030_in_both_zones() {
        // (year, Good Friday, Easter Monday, Ascension, Whit Monday), from the
        // official calendars.
        let easter_based = [
            (2024, "2024-03-29", "2024-04-01", "2024-05-09", "2024-05-20"),
            (2025, "2025-04-18", "2025-04-21", "2025-05-29", "2025-06-09"),
            (2026, "2026-04-03", "2026-04-06", "2026-05-14", "2026-05-25"),
            (2027, "2027-03-26", "2027-03-29", "2027-05-06", "2027-05-17"),
            (2028, "2028-04-14", "2028-04-17", "2028-05-25", "2028-06-05"),
            (2029, "2029-03-30", "2029-04-02", "2029-05-10", "2029-05-21"),
            (2030, "2030-04-19", "2030-04-22", "2030-05-30", "2030-06-10"),
        ];
        for (year, good_friday, easter_monday, ascension, whit_monday) in easter_based {
            let fixed = |md: &str| date(&format!("{year}-{md}"));
            let mut metropole = vec![
                fixed("01-01"),
                date(easter_monday),
                fixed("05-01"),
                fixed("05-08"),
                date(ascension),
                date(whit_monday),
                fixed("07-14"),
                fixed("08-15"),
                fixed("11-01"),
                fixed("11-11"),
                fixed("12-25"),
            ];
            metropole.sort();
            assert_eq!(holidays(HolidayZone::Metropole, year), metropole, "{year}");
            let mut alsace = metropole.clone();
            alsace.push(date(good_friday));
            alsace.push(fixed("12-26"));
            alsace.sort();
            assert_eq!(holidays(HolidayZone::AlsaceMoselle, year), alsace, "{year}");
        }
    }

    #[test]
    fn working_day_deadlines() {
        use HolidayZone::*;
        let h = |n: u64| Duration::from_secs(n * HOUR);
        // (zone, received in Paris, duration, due in Paris)
        let cases = [
            // The rule book's example: Friday 17:00 + 72 h → Wednesday 17:00.
            (
                Metropole,
                "2026-11-20T17:00:00",
                h(72),
                "2026-11-25T17:00:00",
            ),
            // Received on a Saturday: the clock starts on Monday at midnight.
            (
                Metropole,
                "2026-11-21T10:00:00",
                h(72),
                "2026-11-26T00:00:00",
            ),
            (
                Metropole,
                "2026-11-23T09:00:00",
                h(48),
                "2026-11-25T09:00:00",
            ),
            // Pont de l'Ascension 2026: Thursday 14 May is off, Friday is not.
            (
                Metropole,
                "2026-05-13T12:00:00",
                h(48),
                "2026-05-18T12:00:00",
            ),
            // 11 November 2026 is a Wednesday.
            (
                Metropole,
                "2026-11-10T08:00:00",
                h(24),
                "2026-11-12T08:00:00",
            ),
            // Easter 2027: Monday 29 March off everywhere, Good Friday 26 March
            // off in Alsace-Moselle only.
            (
                Metropole,
                "2027-03-25T15:00:00",
                h(72),
                "2027-03-31T15:00:00",
            ),
            (
                AlsaceMoselle,
                "2027-03-25T15:00:00",
                h(72),
                "2027-04-01T15:00:00",
            ),
            // Christmas 2026 (Friday) and, in Alsace-Moselle, 26 December (Saturday anyway).
            (
                Metropole,
                "2026-12-24T12:00:00",
                h(24),
                "2026-12-28T12:00:00",
            ),
            // Christmas 2028 is a Monday; 26 December is off in Alsace-Moselle.
            (
                Metropole,
                "2028-12-22T10:00:00",
                h(24),
                "2028-12-26T10:00:00",
            ),
            (
                AlsaceMoselle,
                "2028-12-22T10:00:00",
                h(24),
                "2028-12-27T10:00:00",
            ),
            // New Year 2027 (Friday).
            (
                Metropole,
                "2026-12-31T18:00:00",
                h(24),
                "2027-01-04T18:00:00",
            ),
            // DST starts on Sunday 29 March 2026 (23-hour day) and ends on
            // Sunday 25 October 2026 (25-hour day): both are weekends, so a
            // working-day deadline across them keeps the local hour.
            (
                Metropole,
                "2026-03-27T17:00:00",
                h(72),
                "2026-04-01T17:00:00",
            ),
            (
                Metropole,
                "2026-10-23T17:00:00",
                h(72),
                "2026-10-28T17:00:00",
            ),
        ];
        for (zone, received, duration, due) in cases {
            assert_eq!(
                deadline(ClockKind::WorkingDays, zone, paris(received), duration),
                paris(due),
                "{zone:?} {received} + {duration:?}"
            );
        }
    }

    #[test]
    fn calendar_deadlines_count_real_hours_across_dst() {
        let h = |n: u64| Duration::from_secs(n * HOUR);
        let z = HolidayZone::Metropole;
        // 72 real hours from Friday 17:00 before the spring change end at
        // 18:00 local on Monday; before the autumn change at 16:00.
        assert_eq!(
            deadline(ClockKind::Calendar, z, paris("2026-03-27T17:00:00"), h(72)),
            paris("2026-03-30T18:00:00")
        );
        assert_eq!(
            deadline(ClockKind::Calendar, z, paris("2026-10-23T17:00:00"), h(72)),
            paris("2026-10-26T16:00:00")
        );
        assert_eq!(
            deadline(ClockKind::Calendar, z, paris("2026-11-20T17:00:00"), h(72)),
            paris("2026-11-23T17:00:00")
        );
    }

    #[test]
    fn working_days_and_weekends() {
        let z = HolidayZone::Metropole;
        assert!(is_working_day(z, date("2026-11-20")));
        assert!(!is_working_day(z, date("2026-11-21")));
        assert!(!is_working_day(z, date("2026-11-22")));
        assert!(!is_working_day(z, date("2026-11-11")));
        assert!(!is_working_day(z, date("2026-12-26")), "a Saturday");
        assert!(is_working_day(z, date("2028-12-26")));
        assert!(!is_working_day(
            HolidayZone::AlsaceMoselle,
            date("2028-12-26")
        ));
    }
}
