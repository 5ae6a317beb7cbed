//! The crèches' AVIP places as the inclusion offer publishes them
//! (data·inclusion): public facts only, and the places free today.

use avip_db::DbConnection;
use avip_db::creches::{self, Creche};
use avip_db::places::{self, Period};
use chrono::NaiveDate;

use crate::domain::{DomainError, OpeningHours, Weekday};

/// One crèche as published.
pub struct Published {
    pub creche: Creche,
    pub departement: String,
    /// The crèche's hours, parsed (`None`: unreadable, not published).
    pub hours: Option<OpeningHours>,
    /// AVIP places reserved and free on `today`.
    pub capacity: i32,
    pub free: i32,
}

/// Every crèche, with its AVIP places on `today`.
pub fn published(conn: &mut DbConnection, today: NaiveDate) -> Result<Vec<Published>, DomainError> {
    let rows = creches::all_with_departement(conn)?;
    let ids: Vec<_> = rows.iter().map(|(c, _)| c.id.clone()).collect();
    let days = places::availability(
        conn,
        &ids,
        Period {
            from: today,
            to: today,
        },
        &[],
        // What the crèche reserves, open today or not: the catalogue
        // publishes the places, not today's calendar.
        &|_: usize, _| None,
    )?;
    Ok(rows
        .into_iter()
        .zip(days)
        .map(|((creche, departement), days)| {
            let (capacity, free) = days.first().map_or((0, 0), |d| (d.capacity, d.free));
            Published {
                hours: serde_json::from_str(&creche.opening_hours).ok(),
                creche,
                departement,
                capacity,
                free,
            }
        })
        .collect())
}

/// The hours in OpenStreetMap's `opening_hours` syntax, closed on public
/// holidays: `Mo-Fr 07:00-19:00; PH off`. Runs of consecutive days are
/// written as ranges.
pub fn osm_opening_hours(hours: &OpeningHours) -> Option<String> {
    const ORDER: [(Weekday, &str); 7] = [
        (Weekday::Mon, "Mo"),
        (Weekday::Tue, "Tu"),
        (Weekday::Wed, "We"),
        (Weekday::Thu, "Th"),
        (Weekday::Fri, "Fr"),
        (Weekday::Sat, "Sa"),
        (Weekday::Sun, "Su"),
    ];
    let open: Vec<bool> = ORDER.iter().map(|(d, _)| hours.days.contains(d)).collect();
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < ORDER.len() {
        if !open[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i + 1 < ORDER.len() && open[i + 1] {
            i += 1;
        }
        ranges.push(if start == i {
            ORDER[i].1.to_owned()
        } else {
            format!("{}-{}", ORDER[start].1, ORDER[i].1)
        });
        i += 1;
    }
    (!ranges.is_empty()).then(|| {
        format!(
            "{} {}-{}; PH off",
            ranges.join(","),
            hours.opens,
            hours.closes
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(days: &[Weekday]) -> OpeningHours {
        OpeningHours {
            opens: "07:30".into(),
            closes: "18:45".into(),
            days: days.to_vec(),
        }
    }

    #[test]
    fn days_become_ranges_in_the_week_order() {
        use Weekday::*;
        for (days, expected) in [
            (
                vec![Mon, Tue, Wed, Thu, Fri],
                Some("Mo-Fr 07:30-18:45; PH off"),
            ),
            (vec![Fri, Mon, Tue], Some("Mo-Tu,Fr 07:30-18:45; PH off")),
            (vec![Mon, Wed, Fri], Some("Mo,We,Fr 07:30-18:45; PH off")),
            (vec![Sun, Sat, Mon], Some("Mo,Sa-Su 07:30-18:45; PH off")),
            (vec![], None),
        ] {
            assert_eq!(
                osm_opening_hours(&hours(&days)).as_deref(),
                expected,
                "{days:?}"
            );
        }
    }
}
