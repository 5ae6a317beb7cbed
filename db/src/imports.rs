//! Spreadsheets brought in by a crèche: the rows wait in `sheet` while the
//! person checks them; the commit keeps only the file's name and counts.

use std::collections::HashSet;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::DbConnection;
use crate::model::{CrecheId, EventKind, ReferralId};
use crate::places::Booking;
use crate::referrals::{Child, Enrollment, Event, Needs, NewReferral, Referral, search_text};
use crate::schema::{imports, referral_children, referral_events, referral_families, referrals};

#[derive(Queryable, Selectable, Insertable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = imports)]
pub struct Import {
    pub id: String,
    pub creche_id: CrecheId,
    pub kind: String,
    pub file_name: String,
    /// The headers, cells and mapping as JSON; `None` once committed.
    pub sheet: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub committed_at: Option<NaiveDateTime>,
    pub rows_total: i32,
    pub created: i32,
    pub updated: i32,
    pub unchanged: i32,
    pub skipped: i32,
}

pub fn insert(conn: &mut DbConnection, import: &Import) -> QueryResult<()> {
    diesel::insert_into(imports::table)
        .values(import)
        .execute(conn)
        .map(drop)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Import>> {
    imports::table
        .find(id)
        .select(Import::as_select())
        .first(conn)
        .optional()
}

/// Keeps the corrected sheet of an import not yet committed; `false` when
/// it was committed meanwhile.
pub fn save_sheet(conn: &mut DbConnection, id: &str, sheet: &str) -> QueryResult<bool> {
    diesel::update(imports::table.find(id))
        .filter(imports::committed_at.is_null())
        .set(imports::sheet.eq(sheet))
        .execute(conn)
        .map(|n| n == 1)
}

/// Takes the import for its commit: `false` when another commit took it
/// first (on PostgreSQL the row's lock makes a concurrent commit wait for
/// this one's end, then find it taken).
pub fn take_for_commit(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(imports::table.find(id))
        .filter(imports::committed_at.is_null())
        .set(imports::committed_at.eq(at))
        .execute(conn)
        .map(|n| n == 1)
}

/// What the commit did, `[created, updated, unchanged, skipped]`; the rows
/// are not kept.
pub fn committed(conn: &mut DbConnection, id: &str, counts: [i32; 4]) -> QueryResult<()> {
    diesel::update(imports::table.find(id))
        .set((
            imports::sheet.eq(None::<String>),
            imports::created.eq(counts[0]),
            imports::updated.eq(counts[1]),
            imports::unchanged.eq(counts[2]),
            imports::skipped.eq(counts[3]),
        ))
        .execute(conn)
        .map(drop)
}

/// A child the crèche already has a referral for: what a row is matched
/// against.
#[derive(Clone, Debug)]
pub struct Known {
    pub referral_id: ReferralId,
    pub reference: String,
    pub parent_last_name: String,
    pub child_first_name: String,
    pub birth_date: NaiveDate,
}

/// Every child of the crèche's referrals (the anonymised ones have no
/// name left and match nothing).
pub fn children_at(conn: &mut DbConnection, creche: &CrecheId) -> QueryResult<Vec<Known>> {
    let rows: Vec<(ReferralId, String, String, String, NaiveDate)> = referrals::table
        .inner_join(referral_families::table)
        .inner_join(referral_children::table)
        .filter(referrals::creche_id.eq(creche))
        .filter(referrals::anonymised_at.is_null())
        .select((
            referrals::id,
            referrals::reference,
            referral_families::parent_last_name,
            referral_children::first_name,
            referral_children::birth_date,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(referral_id, reference, last, first, birth)| Known {
            referral_id,
            reference,
            parent_last_name: last,
            child_first_name: first,
            birth_date: birth,
        })
        .collect())
}

/// Of these referrals, the ones whose whole timeline came from imports
/// (an import may rewrite them), with the fingerprint of the last row
/// imported for each.
pub fn imported_only(
    conn: &mut DbConnection,
    ids: &[ReferralId],
) -> QueryResult<std::collections::HashMap<ReferralId, Option<String>>> {
    let mut touched: HashSet<ReferralId> = HashSet::new();
    let mut last = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(ReferralId, EventKind, Option<String>, NaiveDateTime)> =
            referral_events::table
                .filter(referral_events::referral_id.eq_any(chunk))
                .select((
                    referral_events::referral_id,
                    referral_events::kind,
                    referral_events::data,
                    referral_events::occurred_at,
                ))
                .order((referral_events::occurred_at, referral_events::id))
                .load(conn)?;
        for (id, kind, data, _) in rows {
            let from_import = data
                .as_deref()
                .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                .is_some_and(|d| d.get("import").is_some());
            if !from_import {
                touched.insert(id);
            } else if kind == EventKind::Imported {
                let fingerprint = data
                    .as_deref()
                    .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                    .and_then(|d| d["fingerprint"].as_str().map(str::to_owned));
                last.insert(id, fingerprint);
            }
        }
    }
    last.retain(|id, _| !touched.contains(id));
    Ok(last)
}

/// Everything one imported row writes: the referral as intake writes it,
/// its history's events, its enrollment and the place it booked.
pub struct Written {
    pub new: NewReferral,
    pub events: Vec<Event>,
    pub enrollment: Option<(Enrollment, Booking)>,
}

/// Runs one statement on the backend's own connection (a multi-row
/// `INSERT` is written for each backend).
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            DbConnection::Pg($c) => $body,
            DbConnection::Sqlite($c) => $body,
        }
    };
}

/// Writes new referrals with their history, a few hundred rows per
/// statement: what an import commits (each row's referral is new).
pub fn insert_all(conn: &mut DbConnection, rows: &[Written]) -> QueryResult<()> {
    use crate::schema::{
        place_bookings, referral_child_claims, referral_enrollments, referral_needs,
    };
    for chunk in rows.chunks(200) {
        let referrals_: Vec<&Referral> = chunk.iter().map(|w| &w.new.referral).collect();
        on_backend!(conn, |c| diesel::insert_into(referrals::table)
            .values(referrals_)
            .execute(c))?;
        let families: Vec<_> = (chunk.iter())
            .map(|w| {
                let text = search_text(&w.new.family, &w.new.children);
                (&w.new.family, referral_families::search_text.eq(text))
            })
            .collect();
        on_backend!(conn, |c| diesel::insert_into(referral_families::table)
            .values(families)
            .execute(c))?;
        let children: Vec<&Child> = chunk.iter().flat_map(|w| &w.new.children).collect();
        on_backend!(conn, |c| diesel::insert_into(referral_children::table)
            .values(children)
            .execute(c))?;
        let needs: Vec<&Needs> = chunk.iter().filter_map(|w| w.new.needs.as_ref()).collect();
        if !needs.is_empty() {
            on_backend!(conn, |c| diesel::insert_into(referral_needs::table)
                .values(needs)
                .execute(c))?;
        }
        let claims: Vec<_> = (chunk.iter())
            .flat_map(|w| {
                w.new.child_keys.iter().map(|key| {
                    (
                        referral_child_claims::creche_id.eq(&w.new.referral.creche_id),
                        referral_child_claims::child_key.eq(key),
                        referral_child_claims::referral_id.eq(&w.new.referral.id),
                    )
                })
            })
            .collect();
        if !claims.is_empty() {
            on_backend!(conn, |c| diesel::insert_into(referral_child_claims::table)
                .values(claims)
                .execute(c))?;
        }
        let events: Vec<&Event> = (chunk.iter())
            .flat_map(|w| std::iter::once(&w.new.event).chain(&w.events))
            .collect();
        for part in events.chunks(500) {
            on_backend!(conn, |c| diesel::insert_into(referral_events::table)
                .values(part.to_vec())
                .execute(c))?;
        }
        let enrollments: Vec<&Enrollment> = chunk
            .iter()
            .filter_map(|w| w.enrollment.as_ref().map(|e| &e.0))
            .collect();
        let bookings: Vec<&Booking> = chunk
            .iter()
            .filter_map(|w| w.enrollment.as_ref().map(|e| &e.1))
            .collect();
        if !enrollments.is_empty() {
            on_backend!(conn, |c| diesel::insert_into(referral_enrollments::table)
                .values(enrollments)
                .execute(c))?;
            on_backend!(conn, |c| diesel::insert_into(place_bookings::table)
                .values(bookings)
                .execute(c))?;
        }
        for w in chunk {
            crate::tallies::changed(conn, &w.new.referral.id)?;
        }
    }
    Ok(())
}

/// Rewrites a referral an import wrote before with what the new row
/// says: its facts and family in place (same id, same reference), its
/// children, needs, claims and history replaced (the `imported` events
/// stay, one per import).
pub fn rewrite(conn: &mut DbConnection, row: &Written) -> QueryResult<()> {
    use crate::schema::{
        place_bookings, referral_child_claims, referral_enrollments, referral_needs,
    };
    let new = &row.new;
    let id = &new.referral.id;
    diesel::delete(referral_events::table)
        .filter(referral_events::referral_id.eq(id))
        .filter(referral_events::kind.ne(EventKind::Imported))
        .execute(conn)?;
    diesel::delete(referral_enrollments::table.filter(referral_enrollments::referral_id.eq(id)))
        .execute(conn)?;
    diesel::delete(place_bookings::table.filter(place_bookings::referral_id.eq(id)))
        .execute(conn)?;
    diesel::delete(referral_needs::table.filter(referral_needs::referral_id.eq(id)))
        .execute(conn)?;
    diesel::delete(referral_children::table.filter(referral_children::referral_id.eq(id)))
        .execute(conn)?;
    diesel::delete(referral_child_claims::table.filter(referral_child_claims::referral_id.eq(id)))
        .execute(conn)?;
    diesel::update(referrals::table.find(id))
        .set(&new.referral)
        .execute(conn)?;
    diesel::update(referral_families::table.find(id))
        .set((
            &new.family,
            referral_families::search_text.eq(search_text(&new.family, &new.children)),
        ))
        .execute(conn)?;
    crate::referrals::insert_parts(conn, new)?;
    for event in &row.events {
        crate::referrals::insert_event(conn, event)?;
    }
    if let Some((enrollment, booking)) = &row.enrollment {
        crate::referrals::insert_enrollment(conn, enrollment)?;
        crate::places::book(conn, booking)?;
    }
    Ok(())
}

/// Imports never committed, started before `before`: their rows (personal
/// data) are not kept waiting for ever. Deleted, or counted in a dry run.
pub fn forget_abandoned(
    conn: &mut DbConnection,
    before: NaiveDateTime,
    dry_run: bool,
) -> QueryResult<usize> {
    let abandoned = imports::table
        .filter(imports::committed_at.is_null())
        .filter(imports::created_at.lt(before));
    if dry_run {
        abandoned
            .count()
            .get_result::<i64>(conn)
            .map(|n| n as usize)
    } else {
        diesel::delete(abandoned).execute(conn)
    }
}
