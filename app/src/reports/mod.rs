//! The bilan d'activité: a period's activity written for people, in
//! French, from the indicators' own figures (one computation,
//! [`crate::exports::indicators`]) and three grouped counts of the same
//! referrals ([`avip_db::reports`]). No personal data: counts only, and
//! any count from 1 to 4 is written « moins de 5 » (statistical secrecy),
//! so that the document can be sent outside.
//!
//! [`figures`] gathers the numbers, [`sections`] turns them into the
//! document's sections (sentences, tables, charts), which [`docx`] and
//! [`xlsx`] write. The charts are the workspace's: the front-end draws
//! their SVG ([`DrawChart`]), [`png`] rasterises it for the DOCX.

use avip_db::places::Period;
use chrono::{DateTime, NaiveDate, Utc};

mod docx;
mod figures;
mod png;
mod sections;
mod xlsx;

pub use docx::write_docx;
pub use figures::{Figures, Target, figures};
pub use png::png;
pub use sections::sections;
pub use xlsx::write_xlsx;

/// The smallest count written as it is; 1 to 4 are « moins de 5 ».
pub const SECRECY: i64 = 5;

/// A bilan: what it covers, and its sections in order.
#[derive(Clone, Debug)]
pub struct Bilan {
    /// « Crèche Les Lucioles », « Département 83 »…
    pub scope: String,
    /// The crèches it counts, by name.
    pub creches: Vec<String>,
    pub period: Period,
    /// The period of the same length just before, compared with.
    pub previous: Period,
    pub written_at: DateTime<Utc>,
    pub sections: Vec<Section>,
}

/// One section: a heading, sentences, tables and charts; or, for what the
/// coordinator writes herself, a heading and a prompt (`to_fill`).
#[derive(Clone, Debug)]
pub struct Section {
    pub title: &'static str,
    /// The XLSX sheet's name (31 characters at most).
    pub sheet: &'static str,
    pub text: Vec<String>,
    pub tables: Vec<Table>,
    pub charts: Vec<ChartOf>,
    pub to_fill: bool,
}

/// A table: its caption, column heads and rows of values; the first column
/// names each row.
#[derive(Clone, Debug)]
pub struct Table {
    pub caption: String,
    pub head: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// One cell of a bilan's table.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    /// A count of 0 or at least [`SECRECY`].
    Count(i64),
    /// A count from 1 to 4, written « moins de 5 ».
    Masked,
    /// A percentage; `None` when its base is under [`SECRECY`], or its part
    /// a masked count.
    Pct(Option<f64>),
    /// Hours or days, one decimal; `None` when too few to say.
    Num(Option<f64>),
}

impl Value {
    /// A count, masked from 1 to 4.
    pub fn count(n: i64) -> Value {
        if (1..SECRECY).contains(&n) {
            Value::Masked
        } else {
            Value::Count(n)
        }
    }

    /// `part / base × 100`, given only over [`SECRECY`] families or more.
    pub fn pct(part: i64, base: i64) -> Value {
        Value::Pct(rate(part, base))
    }

    /// The number a chart draws (nothing for a masked count).
    pub fn plotted(&self) -> Option<f64> {
        match self {
            Value::Count(n) => Some(*n as f64),
            Value::Pct(p) | Value::Num(p) => *p,
            Value::Text(_) | Value::Masked => None,
        }
    }

    /// The value as the document writes it, in French.
    pub fn french(&self) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::Count(n) => integer(*n),
            Value::Masked => MASKED.to_owned(),
            Value::Pct(Some(p)) => format!("{}\u{a0}%", decimal(*p)),
            Value::Num(Some(n)) => decimal(*n),
            Value::Pct(None) | Value::Num(None) => "—".to_owned(),
        }
    }
}

/// What a masked count says.
pub const MASKED: &str = "moins de 5";

/// `part / base × 100` when the base has at least [`SECRECY`] families and
/// the part is not a masked count (its share would tell it).
pub fn rate(part: i64, base: i64) -> Option<f64> {
    (base >= SECRECY && !(1..SECRECY).contains(&part)).then(|| 100.0 * part as f64 / base as f64)
}

/// A chart drawn from one table: its first column as labels, the named
/// columns as series.
#[derive(Clone, Debug)]
pub struct ChartOf {
    pub id: &'static str,
    pub title: String,
    pub description: String,
    pub table: usize,
    pub columns: Vec<usize>,
    pub lines: bool,
    pub unit: &'static str,
}

/// Draws a section's chart as SVG (the workspace's charts, which the
/// front-end renders): the chart, and the section's tables it reads.
pub type DrawChart = fn(&ChartOf, &[Table]) -> Result<String, String>;

/// `1234` as `1 234` (a no-break space between thousands).
pub fn integer(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// One decimal with a comma, none when whole: `87,5`, `90`.
pub fn decimal(v: f64) -> String {
    let rounded = (v * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        integer(rounded as i64)
    } else {
        format!("{rounded:.1}").replace('.', ",")
    }
}

impl Bilan {
    /// « Orientations reçues du … au …, comparées à celles du … au … ».
    pub fn period_line(&self) -> String {
        let day = crate::labels::date;
        format!(
            "Orientations reçues du {} au {}, comparées à celles du {} au {}.",
            day(self.period.from),
            day(self.period.to),
            day(self.previous.from),
            day(self.previous.to)
        )
    }
}

/// Whole calendar months: how many, when `period` is made of them.
fn whole_months(period: Period) -> Option<u32> {
    use chrono::Datelike;
    let next = period.to.succ_opt()?;
    (period.from.day() == 1 && next.day() == 1).then(|| {
        let months = |d: NaiveDate| d.year() * 12 + d.month0() as i32;
        (months(next) - months(period.from)) as u32
    })
}

/// The period of the same length that ends the day before `period`: as
/// many whole months for a quarter or a year, as many days otherwise.
pub fn previous(period: Period) -> Period {
    let to = period.from.pred_opt().unwrap_or(period.from);
    let from = match whole_months(period) {
        Some(n) => period.from.checked_sub_months(chrono::Months::new(n)),
        None => period
            .from
            .checked_sub_days(chrono::Days::new(period.days() as u64)),
    };
    Period {
        from: from.unwrap_or(NaiveDate::MIN),
        to,
    }
}

/// What the previous period is called: « le trimestre précédent »…
pub fn previous_name(period: Period) -> &'static str {
    match whole_months(period) {
        Some(1) => "le mois précédent",
        Some(3) => "le trimestre précédent",
        Some(6) => "le semestre précédent",
        Some(12) => "l’année précédente",
        _ => "la période précédente",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_under_five_are_masked_but_not_zero() {
        assert_eq!(Value::count(0), Value::Count(0));
        assert_eq!(Value::count(1), Value::Masked);
        assert_eq!(Value::count(4), Value::Masked);
        assert_eq!(Value::count(5), Value::Count(5));
        assert_eq!(Value::Masked.french(), "moins de 5");
        assert_eq!(Value::pct(3, 4), Value::Pct(None), "too few");
        assert_eq!(
            Value::pct(3, 10),
            Value::Pct(None),
            "30 % of 10 would tell 3"
        );
        assert_eq!(Value::pct(0, 10).french(), "0\u{a0}%");
        assert_eq!(Value::pct(8, 10).french(), "80\u{a0}%");
    }

    #[test]
    fn numbers_are_written_in_french() {
        assert_eq!(integer(1234567), "1\u{a0}234\u{a0}567");
        assert_eq!(integer(999), "999");
        assert_eq!(decimal(87.46), "87,5");
        assert_eq!(decimal(90.0), "90");
    }

    #[test]
    fn the_previous_period_has_the_same_length() {
        let p = Period {
            from: "2026-04-01".parse().unwrap(),
            to: "2026-06-30".parse().unwrap(),
        };
        let before = previous(p);
        assert_eq!(before.to, "2026-03-31".parse::<NaiveDate>().unwrap());
        assert_eq!(before.from, "2026-01-01".parse::<NaiveDate>().unwrap());
        assert_eq!(previous_name(p), "le trimestre précédent");
        let days = Period {
            from: "2026-04-10".parse().unwrap(),
            to: "2026-04-19".parse().unwrap(),
        };
        let before = previous(days);
        assert_eq!(before.days(), 10);
        assert_eq!(before.to, "2026-04-09".parse::<NaiveDate>().unwrap());
        assert_eq!(previous_name(days), "la période précédente");
    }
}
