//! Bringing a crèche's spreadsheet in (docs/imports.md): upload, mapping,
//! preview, corrections, then one all-or-nothing commit. Nothing is
//! written to the referrals before the commit; the file itself is never
//! kept (its rows wait, read, until the commit blanks them).

pub mod columns;
mod places;
pub mod read;
mod rows;
pub mod template;
mod write;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use avip_db::DbConnection;
use avip_db::imports::{self as stored, Import};
use avip_db::model::{CrecheId, ReferralId, to_db_time};

use crate::access::{Action, Resource, require};
use crate::auth::Principal;
use crate::domain::DomainError;
use crate::labels;

pub use read::Format;
use rows::{Checked, Context, Values};

/// What the rows are.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// Referrals with their history (one child per row).
    Referrals,
    /// The crèche's AVIP places over time (one change per row).
    Places,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Referrals => "referrals",
            ImportKind::Places => "places",
        }
    }

    fn of(import: &Import) -> ImportKind {
        if import.kind == "places" {
            ImportKind::Places
        } else {
            ImportKind::Referrals
        }
    }
}

/// The rows as read, the mapping and what was removed: kept until the
/// commit.
#[derive(Serialize, Deserialize, Clone, Debug)]
struct Sheet {
    table: read::Table,
    /// The field each column holds, by position.
    mapping: Vec<Option<String>>,
    /// Rows left out by the person (0-based).
    removed: Vec<usize>,
}

/// Where a row stands.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    /// A new referral.
    Ready,
    /// A referral an earlier import wrote, with changes: rewritten.
    Update,
    /// A referral an earlier import wrote, without change.
    Unchanged,
    /// The crèche has this child already (entered in the service), or the
    /// file has it on an earlier row: not written.
    Duplicate,
    /// A cell breaks a rule: corrected or removed before the commit.
    Invalid,
    /// Left out by the person.
    Removed,
}

/// One invalid cell.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct CellError {
    /// The field, as the mapping and corrections name it.
    #[schema(max_length = 40, example = "child.birth_date")]
    pub field: String,
    /// The file's header of the column holding it; `null` if no column does.
    #[schema(max_length = 200)]
    pub column: Option<String>,
    #[schema(max_length = 2000)]
    pub value: String,
    /// The API's rule, in English.
    #[schema(max_length = 300, example = "is not a date: write it as DD/MM/YYYY")]
    pub reason: String,
    /// The same, in French, for the person.
    #[schema(max_length = 300)]
    pub message: String,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct RowView {
    /// The row's number in the spreadsheet (the headers are row 1).
    pub row: usize,
    pub status: RowStatus,
    /// The referral it updates or duplicates, or the row it repeats.
    #[schema(max_length = 300)]
    pub detail: Option<String>,
    #[schema(max_items = 40)]
    pub errors: Vec<CellError>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct ColumnView {
    #[schema(max_length = 200)]
    pub header: String,
    /// The field it holds; `null`: ignored.
    #[schema(max_length = 40)]
    pub field: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default, PartialEq, Eq)]
pub struct RowCounts {
    pub total: usize,
    pub ready: usize,
    pub update: usize,
    pub unchanged: usize,
    pub duplicate: usize,
    pub invalid: usize,
    pub removed: usize,
}

/// What a commit did.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
pub struct CommitResult {
    pub created: i32,
    pub updated: i32,
    pub unchanged: i32,
    /// Duplicates and removed rows, not written.
    pub skipped: i32,
}

/// An import: before the commit its preview, after it what it did.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
#[schema(example = json!({"id": "0193a5b0-7c1e-7d2a-9b1e-0000000000aa",
    "creche_id": "0193a5b0-7c1e-7d2a-9b1e-000000000003", "kind": "referrals",
    "file_name": "orientations-2025.xlsx",
    "format": {"kind": "xlsx", "encoding": null, "separator": null, "sheet": "Feuil1"},
    "created_at": "2026-12-07T10:00:00Z", "committed_at": null,
    "columns": [{"header": "Nom de la mère", "field": "parent.last_name"}],
    "counts": {"total": 2, "ready": 1, "update": 0, "unchanged": 0, "duplicate": 0, "invalid": 1, "removed": 0},
    "rows": [{"row": 2, "status": "ready", "detail": null, "errors": []},
             {"row": 3, "status": "invalid", "detail": null, "errors": [{"field": "child.birth_date",
              "column": "Date de naissance", "value": "31/02/2024",
              "reason": "is not a date: write it as DD/MM/YYYY",
              "message": "Ce n’est pas une date : écrivez-la JJ/MM/AAAA."}]}],
    "result": null}))]
pub struct ImportView {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(value_type = String, format = Uuid)]
    pub creche_id: CrecheId,
    pub kind: ImportKind,
    #[schema(max_length = 255)]
    pub file_name: String,
    /// How the file was read; `null` once committed.
    pub format: Option<Format>,
    pub created_at: DateTime<Utc>,
    pub committed_at: Option<DateTime<Utc>>,
    #[schema(max_items = 200)]
    pub columns: Vec<ColumnView>,
    pub counts: RowCounts,
    /// Every row but the ready ones (those the commit will write as they
    /// are), in the file's order; empty once committed.
    #[schema(max_items = 20000)]
    pub rows: Vec<RowView>,
    pub result: Option<CommitResult>,
}

/// `PUT /api/v1/imports/{id}/mapping`: the field of each column, by
/// position (`null`: ignore the column).
#[derive(Deserialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"columns": ["parent.last_name", null, "child.birth_date"]}))]
pub struct MappingRequest {
    #[schema(schema_with = mapping_schema)]
    pub columns: Vec<Option<String>>,
}

/// One field name (or `null`) per column: the fields an import knows.
fn mapping_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    let mut names: Vec<serde_json::Value> = (columns::fields().iter())
        .chain(columns::place_fields())
        .map(|f| serde_json::Value::from(f.id))
        .collect();
    names.push(serde_json::Value::Null);
    let item = ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(names))
        .max_length(Some(40));
    ArrayBuilder::new().items(item).max_items(Some(200)).build()
}

/// `PATCH /api/v1/imports/{id}/rows/{row}`: new values for some cells of
/// one row (by field), or the row left out (`removed: true`) or back in.
#[derive(Deserialize, ToSchema, Clone, Debug)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"cells": {"child.birth_date": "28/02/2024"}}))]
pub struct CorrectionRequest {
    #[serde(default)]
    #[schema(value_type = Object)]
    pub cells: BTreeMap<String, String>,
    #[serde(default)]
    pub removed: Option<bool>,
}

fn import_id(raw: &str) -> Result<uuid::Uuid, DomainError> {
    uuid::Uuid::parse_str(raw).map_err(|_| DomainError::NotFound)
}

/// The import, if `who` may see it (its crèche's coordinators, admins).
fn load(conn: &mut DbConnection, who: &Principal, id: &str) -> Result<Import, DomainError> {
    import_id(id)?;
    let import = stored::find(conn, id)?.ok_or(DomainError::NotFound)?;
    require(
        who,
        Action::Update,
        Resource::Creche(Some(&import.creche_id)),
    )
    .map_err(|_| DomainError::NotFound)?;
    Ok(import)
}

fn sheet_of(import: &Import) -> Result<Sheet, DomainError> {
    let Some(sheet) = &import.sheet else {
        return Err(DomainError::invalid(
            "id",
            "the import is committed already",
        ));
    };
    serde_json::from_str(sheet).map_err(|e| DomainError::Unexpected(e.into()))
}

/// `POST /api/v1/imports`: reads the file and answers its preview.
pub fn upload(
    conn: &mut DbConnection,
    who: &Principal,
    (creche, kind): (&str, ImportKind),
    (file_name, bytes): (&str, &[u8]),
    now: DateTime<Utc>,
) -> Result<ImportView, DomainError> {
    let creche_id =
        CrecheId::parse(creche).ok_or_else(|| DomainError::invalid("creche_id", "is not an id"))?;
    // The file is read before the crèche is looked up: a file that cannot
    // be read is refused on `file` whatever else the form says.
    let file_name = crate::domain::text(file_name, 255)
        .map_err(|_| DomainError::invalid("file", "its name is empty or too long"))?;
    let table = read::read(bytes)?;
    require(who, Action::Update, Resource::Creche(Some(&creche_id)))
        .map_err(|_| DomainError::invalid("creche_id", "no such crèche among yours"))?;
    avip_db::creches::find(conn, &creche_id, avip_sla_engine::clock::paris_date(now))?
        .ok_or_else(|| DomainError::invalid("creche_id", "no such crèche among yours"))?;
    let mapping = table
        .headers
        .iter()
        .map(|h| columns::guess(h, kind).map(str::to_owned))
        .collect::<Vec<_>>();
    let mapping = without_repeats(mapping);
    let sheet = Sheet {
        table,
        mapping,
        removed: Vec::new(),
    };
    let import = Import {
        id: uuid::Uuid::now_v7().to_string(),
        creche_id,
        kind: kind.as_str().into(),
        file_name,
        sheet: Some(serde_json::to_string(&sheet).map_err(|e| DomainError::Unexpected(e.into()))?),
        created_by: crate::workflow::referrals::actor(who).1.unwrap_or_default(),
        created_at: to_db_time(now),
        committed_at: None,
        rows_total: i32::try_from(sheet.table.rows.len()).unwrap_or(i32::MAX),
        created: 0,
        updated: 0,
        unchanged: 0,
        skipped: 0,
    };
    stored::insert(conn, &import)?;
    preview(conn, &import, &sheet, now)
}

/// A field named by two columns is kept on the first.
fn without_repeats(mapping: Vec<Option<String>>) -> Vec<Option<String>> {
    let mut seen = std::collections::HashSet::new();
    mapping
        .into_iter()
        .map(|m| m.filter(|f| seen.insert(f.clone())))
        .collect()
}

/// `GET /api/v1/imports/{id}`.
pub fn get(
    conn: &mut DbConnection,
    who: &Principal,
    id: &str,
    now: DateTime<Utc>,
) -> Result<ImportView, DomainError> {
    let import = load(conn, who, id)?;
    match &import.sheet {
        Some(_) => preview(conn, &import, &sheet_of(&import)?, now),
        None => Ok(done(&import)),
    }
}

/// `PUT /api/v1/imports/{id}/mapping`.
pub fn remap(
    conn: &mut DbConnection,
    who: &Principal,
    id: &str,
    request: MappingRequest,
    now: DateTime<Utc>,
) -> Result<ImportView, DomainError> {
    avip_db::write_transaction(conn, |conn| {
        let import = load(conn, who, id)?;
        let mut sheet = sheet_of(&import)?;
        let mut p = crate::domain::Problems::default();
        if request.columns.len() != sheet.table.headers.len() {
            p.push(
                "columns",
                format!(
                    "must list {} columns, one per header",
                    sheet.table.headers.len()
                ),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, field) in request.columns.iter().enumerate() {
            if let Some(f) = field {
                let kind = ImportKind::of(&import);
                if !columns::fields_of(kind).iter().any(|k| k.id == f) {
                    p.push(format!("columns[{i}]"), "is not a field an import knows");
                } else if !seen.insert(f.clone()) {
                    p.push(
                        format!("columns[{i}]"),
                        "is given to another column already",
                    );
                }
            }
        }
        p.into_result()?;
        sheet.mapping = request.columns;
        keep(conn, &import, &sheet)?;
        preview(conn, &import, &sheet, now)
    })
}

/// `PATCH /api/v1/imports/{id}/rows/{row}`.
pub fn correct(
    conn: &mut DbConnection,
    who: &Principal,
    (id, row): (&str, usize),
    request: CorrectionRequest,
    now: DateTime<Utc>,
) -> Result<ImportView, DomainError> {
    avip_db::write_transaction(conn, |conn| {
        let import = load(conn, who, id)?;
        let mut sheet = sheet_of(&import)?;
        let index = row
            .checked_sub(2)
            .filter(|i| *i < sheet.table.rows.len())
            .ok_or(DomainError::NotFound)?;
        let mut p = crate::domain::Problems::default();
        let known = columns::fields_of(ImportKind::of(&import));
        for (field, value) in &request.cells {
            if !known.iter().any(|k| k.id == field) {
                p.push(format!("cells.{field}"), "is not a field an import knows");
            } else if value.chars().count() > 2000 {
                p.push(format!("cells.{field}"), "must be at most 2000 characters");
            }
        }
        p.into_result()?;
        for (field, value) in request.cells {
            set_cell(&mut sheet, index, &field, value);
        }
        match request.removed {
            Some(true) if !sheet.removed.contains(&index) => sheet.removed.push(index),
            Some(false) => sheet.removed.retain(|r| *r != index),
            _ => {}
        }
        keep(conn, &import, &sheet)?;
        preview(conn, &import, &sheet, now)
    })
}

/// Writes `value` in the row's cell of `field`; a field no column holds
/// gets a column of its own (its header the template's).
fn set_cell(sheet: &mut Sheet, index: usize, field: &str, value: String) {
    let column = match sheet
        .mapping
        .iter()
        .position(|m| m.as_deref() == Some(field))
    {
        Some(c) => c,
        None => {
            let header = columns::field(field).map_or(field, |f| f.header);
            sheet.table.headers.push(header.to_owned());
            sheet.mapping.push(Some(field.to_owned()));
            sheet.table.headers.len() - 1
        }
    };
    let cells = &mut sheet.table.rows[index];
    if cells.len() <= column {
        cells.resize(column + 1, String::new());
    }
    cells[column] = value;
}

fn keep(conn: &mut DbConnection, import: &Import, sheet: &Sheet) -> Result<(), DomainError> {
    let json = serde_json::to_string(sheet).map_err(|e| DomainError::Unexpected(e.into()))?;
    if !stored::save_sheet(conn, &import.id, &json)? {
        return Err(DomainError::invalid(
            "id",
            "the import is committed already",
        ));
    }
    Ok(())
}

/// A row as checked, by kind.
#[derive(Clone, Debug)]
enum Parsed {
    Referral(Box<Checked>),
    Places(places::PlaceRow),
}

/// A row's standing, what it matches, and the row checked.
type Assessment = (RowStatus, Option<String>, Result<Parsed, Vec<CellError>>);

/// Every row checked and matched.
struct Assessed {
    rows: Vec<Assessment>,
    /// The referral each update rewrites, by row.
    targets: HashMap<usize, (ReferralId, String)>,
}

fn values_of(sheet: &Sheet, cells: &[String]) -> Values {
    let mut values = Values::new();
    for (field, value) in sheet.mapping.iter().zip(cells) {
        if let Some(f) = field.as_deref().and_then(columns::field) {
            values.insert(f.id, value.clone());
        }
    }
    values
}

fn assess(
    conn: &mut DbConnection,
    import: &Import,
    sheet: &Sheet,
    now: DateTime<Utc>,
) -> Result<Assessed, DomainError> {
    match ImportKind::of(import) {
        ImportKind::Referrals => assess_referrals(conn, import, sheet, now),
        ImportKind::Places => places::assess(conn, import, sheet),
    }
}

/// What a referral's row is checked against: the crèche, the
/// département's prescribers, today.
fn context(
    conn: &mut DbConnection,
    import: &Import,
    now: DateTime<Utc>,
) -> Result<Context, DomainError> {
    let creche = avip_db::creches::find(
        conn,
        &import.creche_id,
        avip_sla_engine::clock::paris_date(now),
    )?
    .ok_or(DomainError::NotFound)?;
    let prescribers = avip_db::organizations::prescribers_in(conn, &creche.departement)?;
    Ok(Context {
        creche_id: import.creche_id.clone(),
        prescribers: prescribers
            .into_iter()
            .map(|o| (o.id, o.name, o.kind))
            .collect(),
        today: avip_sla_engine::clock::paris_date(now),
    })
}

fn assess_referrals(
    conn: &mut DbConnection,
    import: &Import,
    sheet: &Sheet,
    now: DateTime<Utc>,
) -> Result<Assessed, DomainError> {
    let ctx = context(conn, import, now)?;
    let known = stored::children_at(conn, &import.creche_id)?;
    let ids: Vec<ReferralId> = known.iter().map(|k| k.referral_id.clone()).collect();
    let imported = stored::imported_only(conn, &ids)?;
    let by_child: HashMap<String, &stored::Known> = known
        .iter()
        .map(|k| {
            (
                rows::child_key(&k.child_first_name, k.birth_date, &k.parent_last_name),
                k,
            )
        })
        .collect();
    let by_reference: HashMap<&str, &stored::Known> =
        known.iter().map(|k| (k.reference.as_str(), k)).collect();
    let mut in_file: HashMap<String, usize> = HashMap::new();
    let mut out = Assessed {
        rows: Vec::with_capacity(sheet.table.rows.len()),
        targets: HashMap::new(),
    };
    for (i, cells) in sheet.table.rows.iter().enumerate() {
        let values = values_of(sheet, cells);
        let checked =
            rows::check(&values, &ctx).map_err(|errors| cell_errors(sheet, &values, errors));
        let (status, detail) = match (&checked, sheet.removed.contains(&i)) {
            (_, true) => (RowStatus::Removed, None),
            (Err(_), false) => (RowStatus::Invalid, None),
            (Ok(c), false) => {
                let first = in_file.entry(c.child.clone()).or_insert(i);
                let existing = c
                    .reference
                    .as_deref()
                    .and_then(|r| by_reference.get(r))
                    .or_else(|| by_child.get(&c.child));
                if *first != i {
                    (RowStatus::Duplicate, Some(format!("row {}", *first + 2)))
                } else if let Some(k) = existing {
                    match imported.get(&k.referral_id) {
                        Some(last) if last.as_deref() == Some(c.fingerprint.as_str()) => {
                            (RowStatus::Unchanged, Some(k.reference.clone()))
                        }
                        Some(_) => {
                            out.targets
                                .insert(i, (k.referral_id.clone(), k.reference.clone()));
                            (RowStatus::Update, Some(k.reference.clone()))
                        }
                        None => (RowStatus::Duplicate, Some(k.reference.clone())),
                    }
                } else {
                    (RowStatus::Ready, None)
                }
            }
        };
        out.rows.push((
            status,
            detail,
            checked.map(|c| Parsed::Referral(Box::new(c))),
        ));
    }
    Ok(out)
}

fn cell_errors(
    sheet: &Sheet,
    values: &Values,
    errors: Vec<crate::domain::FieldError>,
) -> Vec<CellError> {
    errors
        .into_iter()
        .map(|e| {
            let column = sheet
                .mapping
                .iter()
                .position(|m| m.as_deref() == Some(e.field.as_str()))
                .and_then(|c| sheet.table.headers.get(c).cloned());
            CellError {
                value: values.get(e.field.as_str()).cloned().unwrap_or_default(),
                message: labels::message(&e.message),
                column,
                field: e.field,
                reason: e.message,
            }
        })
        .collect()
}

fn preview(
    conn: &mut DbConnection,
    import: &Import,
    sheet: &Sheet,
    now: DateTime<Utc>,
) -> Result<ImportView, DomainError> {
    let assessed = assess(conn, import, sheet, now)?;
    let mut counts = RowCounts {
        total: assessed.rows.len(),
        ..RowCounts::default()
    };
    let mut rows = Vec::new();
    for (i, (status, detail, checked)) in assessed.rows.into_iter().enumerate() {
        *match status {
            RowStatus::Ready => &mut counts.ready,
            RowStatus::Update => &mut counts.update,
            RowStatus::Unchanged => &mut counts.unchanged,
            RowStatus::Duplicate => &mut counts.duplicate,
            RowStatus::Invalid => &mut counts.invalid,
            RowStatus::Removed => &mut counts.removed,
        } += 1;
        if status != RowStatus::Ready {
            rows.push(RowView {
                row: i + 2,
                status,
                detail,
                errors: checked.err().unwrap_or_default(),
            });
        }
    }
    Ok(ImportView {
        format: Some(sheet.table.format.clone()),
        columns: sheet
            .table
            .headers
            .iter()
            .zip(&sheet.mapping)
            .map(|(header, field)| ColumnView {
                header: header.clone(),
                field: field.clone(),
            })
            .collect(),
        counts,
        rows,
        ..done(import)
    })
}

/// A committed import: its name, counts and result.
fn done(import: &Import) -> ImportView {
    ImportView {
        id: import.id.clone(),
        creche_id: import.creche_id.clone(),
        kind: ImportKind::of(import),
        file_name: import.file_name.clone(),
        format: None,
        created_at: import.created_at.and_utc(),
        committed_at: import.committed_at.map(|t| t.and_utc()),
        columns: Vec::new(),
        counts: RowCounts {
            total: usize::try_from(import.rows_total).unwrap_or(0),
            ..RowCounts::default()
        },
        rows: Vec::new(),
        result: import.committed_at.map(|_| CommitResult {
            created: import.created,
            updated: import.updated,
            unchanged: import.unchanged,
            skipped: import.skipped,
        }),
    }
}

/// `POST /api/v1/imports/{id}/commit`: every row written in one
/// transaction, or none (an invalid row refuses the commit).
pub fn commit(
    conn: &mut DbConnection,
    who: &Principal,
    id: &str,
    policy: &avip_sla_engine::ActivePolicy,
    now: DateTime<Utc>,
) -> Result<ImportView, DomainError> {
    avip_db::write_transaction(conn, |conn| {
        let import = load(conn, who, id)?;
        let sheet = sheet_of(&import)?;
        if !stored::take_for_commit(conn, &import.id, to_db_time(now))? {
            return Err(DomainError::invalid(
                "id",
                "the import is committed already",
            ));
        }
        let assessed = assess(conn, &import, &sheet, now)?;
        let invalid: Vec<usize> = (assessed.rows.iter().enumerate())
            .filter(|(_, r)| r.0 == RowStatus::Invalid)
            .map(|(i, _)| i + 2)
            .collect();
        if !invalid.is_empty() {
            return Err(DomainError::invalid(
                "rows",
                format!(
                    "{} rows are invalid (first: row {}): correct or remove them",
                    invalid.len(),
                    invalid[0]
                ),
            ));
        }
        let counts = match ImportKind::of(&import) {
            ImportKind::Referrals => write::all(conn, who, (&import, &assessed), policy, now)?,
            ImportKind::Places => places::write(conn, who, (&import, &assessed), now)?,
        };
        stored::committed(conn, &import.id, counts)?;
        tracing::info!(import = %import.id, created = counts[0], updated = counts[1], "import committed");
        let import = stored::find(conn, &import.id)?.ok_or(DomainError::NotFound)?;
        Ok(done(&import))
    })
}
