//! A crèche's AVIP places history: from which day, how many places. Each
//! row is a change of the crèche's capacity (what the planning and the
//! occupancy indicators read); the past may be written here, as it was.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

use avip_db::DbConnection;
use avip_db::imports::Import;
use avip_db::model::to_db_time;
use avip_db::places::{self, CapacityChange};

use super::columns;
use super::rows::Values;
use super::{Assessed, Parsed, RowStatus, Sheet, cell_errors, values_of};
use crate::auth::Principal;
use crate::domain::{DomainError, FieldError, Problems};

/// One row: the crèche has `places` AVIP places from `from` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaceRow {
    pub from: NaiveDate,
    pub places: i32,
}

/// The most AVIP places a crèche may have (as the API's capacity change).
const MAX_PLACES: i32 = crate::workflow::places::MAX_PLACES;

pub fn check(values: &Values) -> Result<PlaceRow, Vec<FieldError>> {
    let mut p = Problems::default();
    let text = |id: &str| {
        values
            .get(id)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let from = match text("places.from") {
        v if v.is_empty() => {
            p.push("places.from", "is required");
            None
        }
        v => p.check(
            "places.from",
            columns::date(&v).and_then(|d| crate::domain::within_years(d).map(|()| d)),
        ),
    };
    let places = match text("places.avip_places") {
        v if v.is_empty() => {
            p.push("places.avip_places", "is required");
            None
        }
        v => p.check(
            "places.avip_places",
            (v.parse::<i32>().ok())
                .filter(|n| (0..=MAX_PLACES).contains(n))
                .ok_or_else(|| format!("must be between 0 and {MAX_PLACES}")),
        ),
    };
    match (from, places) {
        (Some(from), Some(places)) => Ok(PlaceRow { from, places }),
        _ => Err(p.0),
    }
}

/// Every row checked and matched against the crèche's recorded changes:
/// a day already recorded with the same number is unchanged, with
/// another an update; a day twice in the file, a duplicate.
pub(super) fn assess(
    conn: &mut DbConnection,
    import: &Import,
    sheet: &Sheet,
) -> Result<Assessed, DomainError> {
    let recorded: HashMap<NaiveDate, i32> = places::capacity_history(conn, &import.creche_id)?
        .into_iter()
        .map(|c| (c.effective_from, c.avip_places))
        .collect();
    let mut in_file: HashMap<NaiveDate, usize> = HashMap::new();
    let mut out = Assessed {
        rows: Vec::with_capacity(sheet.table.rows.len()),
        targets: HashMap::new(),
    };
    for (i, cells) in sheet.table.rows.iter().enumerate() {
        let values = values_of(sheet, cells);
        let checked = check(&values).map_err(|errors| cell_errors(sheet, &values, errors));
        let (status, detail) = match (&checked, sheet.removed.contains(&i)) {
            (_, true) => (RowStatus::Removed, None),
            (Err(_), false) => (RowStatus::Invalid, None),
            (Ok(row), false) => {
                let first = *in_file.entry(row.from).or_insert(i);
                match recorded.get(&row.from) {
                    _ if first != i => (RowStatus::Duplicate, Some(format!("row {}", first + 2))),
                    Some(n) if *n == row.places => (RowStatus::Unchanged, None),
                    Some(n) => (RowStatus::Update, Some(format!("{n} places"))),
                    None => (RowStatus::Ready, None),
                }
            }
        };
        out.rows.push((status, detail, checked.map(Parsed::Places)));
    }
    Ok(out)
}

/// Records each ready or updated change, as the person who imported:
/// `[created, updated, unchanged, skipped]`.
pub(super) fn write(
    conn: &mut DbConnection,
    who: &Principal,
    (import, assessed): (&Import, &Assessed),
    now: DateTime<Utc>,
) -> Result<[i32; 4], DomainError> {
    let mut counts = [0; 4];
    for (status, _, parsed) in &assessed.rows {
        let slot = match status {
            RowStatus::Ready => 0,
            RowStatus::Update => 1,
            RowStatus::Unchanged => 2,
            _ => 3,
        };
        counts[slot] += 1;
        if let (Ok(Parsed::Places(row)), 0 | 1) = (parsed, slot) {
            places::record_capacity(
                conn,
                &CapacityChange {
                    creche_id: import.creche_id.clone(),
                    effective_from: row.from,
                    avip_places: row.places,
                    recorded_at: to_db_time(now),
                    recorded_by: Some(who.subject.to_claim()),
                },
            )?;
        }
    }
    Ok(counts)
}
