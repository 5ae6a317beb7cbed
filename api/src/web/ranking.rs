//! The crèche choice of the referral form, ranked for the family's week:
//! the territory's crèches in the order `avip_app::workflow::matching`
//! gives, each with what it can offer in words ("2 places libres lundi et
//! mardi dès le 04/01").

use avip_app::domain::Weekday;
use avip_app::workflow::matching::{Match, Wanted};
use chrono::{Datelike, NaiveDate};

use crate::web::forms::Form;
use crate::web::fr;

/// What the family needs, read from the form as it stands; `None` until
/// it names a start date and at least one day.
pub fn wanted(form: &Form, departement: &str) -> Option<Wanted> {
    let start = NaiveDate::parse_from_str(form.get("needs.desired_start_date"), "%Y-%m-%d").ok()?;
    let days: Vec<Weekday> = Weekday::ALL
        .into_iter()
        .filter(|d| form.has("needs.days", d.code()))
        .collect();
    if days.is_empty() || avip_app::domain::within_years(start).is_err() {
        return None;
    }
    let time = |field: &str| avip_app::domain::clock_time(form.get(field)).ok();
    let hours = match (time("needs.hours.from"), time("needs.hours.to")) {
        (Some(from), Some(to)) if from < to => Some((from, to)),
        _ => None,
    };
    let postal_code = Some(form.get("parent.postal_code").trim().to_owned())
        .filter(|c| avip_app::domain::postal_code(c).is_ok());
    let commune = Some(form.get("parent.commune").trim().to_owned()).filter(|c| !c.is_empty());
    Some(Wanted {
        departement: departement.to_owned(),
        start,
        days,
        hours,
        weeks: 8,
        places: 1,
        postal_code,
        commune: commune.filter(|c| c.chars().count() <= 200),
    })
}

fn short(date: NaiveDate) -> String {
    format!("{:02}/{:02}", date.day(), date.month())
}

/// What a crèche can offer the family, in words.
pub fn offer(m: &Match, wanted: &Wanted) -> String {
    let days = fr::days(&wanted.days);
    let mut text = if !m.closed_days.is_empty() {
        format!("fermée le {}", fr::days(&m.closed_days))
    } else if m.free_on_every_day {
        let least = m.free.iter().map(|f| f.free).min().unwrap_or(0);
        let places = if least > 1 {
            format!("{least} places libres")
        } else {
            "1 place libre".to_owned()
        };
        format!("{places} {days} dès le {}", short(wanted.start))
    } else if let Some(from) = m.free_from {
        format!("pas de place {days} avant le {}", short(from))
    } else {
        format!("pas de place {days} dans les six mois")
    };
    if m.hours_cover == Some(false) {
        text.push_str(" ; horaires non couverts");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_read_as_a_french_list() {
        assert_eq!(fr::days(&[Weekday::Mon]), "lundi");
        assert_eq!(fr::days(&[Weekday::Mon, Weekday::Tue]), "lundi et mardi");
        assert_eq!(
            fr::days(&[Weekday::Mon, Weekday::Tue, Weekday::Thu]),
            "lundi, mardi et jeudi"
        );
    }
}
