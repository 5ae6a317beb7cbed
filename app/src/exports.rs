//! The CAF's evaluation exports (docs/product.md §7): pseudonymised rows and
//! indicators, written as CSV for a French Excel, JSON or XLSX.
//!
//! A table is columns and rows of typed [`Cell`]s; one writer per format
//! turns them into bytes. Rows are read from the database a chunk at a time
//! and sent through a small channel to the response, so memory holds a
//! chunk, not the export, and a client that goes away stops the reading.

use std::collections::BTreeMap;
use std::io::{Read, Seek};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use avip_db::blocking::checkout;
use avip_db::exports::{self, ExportRow, ExportScope, TallyRow};
use avip_db::model::{
    CrecheId, OrganizationId, OrganizationKind, ReferralId, ReferralStatus, from_db_time,
};
use avip_db::places::{self, Period};
use avip_db::{DbConnection, Pool, QueryError};
use avip_sla_engine::clock::paris_date;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;

/// How many referrals one database read brings.
pub const CHUNK: i64 = 1_000;
/// Bytes gathered before they are sent on.
const FLUSH: usize = 64 * 1024;

// ----- Pseudonymisation -----

/// The key of the keyed hash behind family ids (`AVIP_PSEUDONYM_KEY`, or a
/// random key drawn once per database in development).
#[derive(Clone)]
pub struct PseudonymKey(Vec<u8>);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(***)")
    }
}

impl PseudonymKey {
    pub fn new(bytes: impl Into<Vec<u8>>) -> PseudonymKey {
        PseudonymKey(bytes.into())
    }

    /// The configured key, or the database's own (drawn on first use).
    pub fn load(
        conn: &mut DbConnection,
        configured: Option<&secrecy::SecretString>,
    ) -> Result<PseudonymKey, QueryError> {
        if let Some(key) = configured {
            return Ok(PseudonymKey::new(key.expose_secret().as_bytes()));
        }
        let drawn = exports::service_key(
            conn,
            "pseudonym_key",
            || {
                let mut bytes = [0u8; 32];
                getrandom::fill(&mut bytes).expect("the system has a random source");
                bytes.iter().map(|b| format!("{b:02x}")).collect()
            },
            avip_db::model::to_db_time(Utc::now()),
        )?;
        Ok(PseudonymKey::new(drawn.into_bytes()))
    }

    /// HMAC-SHA-256 of `material` under the key, as 32 hex digits: the same
    /// input gives the same id, and without the key no one can compute it
    /// from a known name.
    pub fn id(&self, material: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(material.as_bytes());
        mac.finalize().into_bytes()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

fn normal(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// What identifies a family across referrals: its France Travail
/// identifier when it has one, otherwise the parent's names with the phone
/// (or e-mail).
pub fn family_material(row: &ExportRow) -> String {
    let f = &row.family;
    match &f.france_travail_id {
        Some(id) => format!("ft:{}", normal(id)),
        None => format!(
            "parent:{}|{}|{}",
            normal(&f.parent_last_name),
            normal(&f.parent_first_name),
            normal(
                f.parent_phone
                    .as_deref()
                    .or(f.parent_email.as_deref())
                    .unwrap_or("")
            )
        ),
    }
}

/// The family's pseudonymous id: the one fixed when its personal data was
/// blanked, else the keyed hash of [`family_material`].
pub fn family_id(row: &ExportRow, key: &PseudonymKey) -> String {
    match &row.family.pseudonym {
        Some(kept) => kept.clone(),
        None => key.id(&family_material(row)),
    }
}

/// The first child's age bracket when referred (`received`, Paris): the
/// one kept when the personal data was blanked, else from the birth date.
pub fn child_age_bracket(row: &ExportRow, received: NaiveDate) -> Option<String> {
    match &row.family.age_bracket {
        Some(kept) => Some(kept.clone()),
        None => row
            .first_birth_date
            .map(|b| age_bracket(b, received).to_owned()),
    }
}

/// The child's age when the family was referred, as a bracket.
pub fn age_bracket(birth: NaiveDate, at: NaiveDate) -> &'static str {
    let months = (at.year() - birth.year()) * 12 + at.month() as i32
        - birth.month() as i32
        - i32::from(at.day() < birth.day());
    match months {
        ..12 => "under_1",
        12..24 => "1_to_2",
        24..36 => "2_to_3",
        _ => "3_and_over",
    }
}

// ----- Tables -----

/// One typed value.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Int(i64),
    /// A number shown with this many decimals in CSV.
    Num(f64, usize),
    Bool(bool),
    Date(NaiveDate),
    /// UTC.
    Time(DateTime<Utc>),
}

impl Cell {
    fn text(value: impl ToString) -> Cell {
        Cell::Text(value.to_string())
    }

    fn opt<T>(value: Option<T>, f: impl FnOnce(T) -> Cell) -> Cell {
        value.map_or(Cell::Empty, f)
    }

    fn json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Cell::Empty => Value::Null,
            Cell::Text(s) => Value::String(s.clone()),
            Cell::Int(n) => Value::from(*n),
            Cell::Num(x, decimals) => {
                let factor = 10f64.powi(*decimals as i32);
                Value::from((x * factor).round() / factor)
            }
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Date(d) => Value::String(d.to_string()),
            Cell::Time(t) => Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        }
    }

    fn csv(&self, decimal_comma: bool) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => neutralised(s),
            Cell::Int(n) => n.to_string(),
            Cell::Num(x, decimals) => {
                let text = format!("{x:.decimals$}");
                if decimal_comma {
                    text.replace('.', ",")
                } else {
                    text
                }
            }
            // What a spreadsheet of the separator's locale reads as a
            // boolean: VRAI/FAUX in French (`;`), TRUE/FALSE otherwise.
            Cell::Bool(b) => match (b, decimal_comma) {
                (true, true) => "VRAI".to_owned(),
                (false, true) => "FAUX".to_owned(),
                (true, false) => "TRUE".to_owned(),
                (false, false) => "FALSE".to_owned(),
            },
            Cell::Date(d) => d.to_string(),
            Cell::Time(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        }
    }
}

/// A text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, a
/// tab or a carriage return first: a crèche named `=HYPERLINK(…)`) is
/// written with a leading `'`, which spreadsheets show as text (OWASP's
/// advice against CSV injection).
fn neutralised(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// A column: its name (the JSON key and the header) and its XLSX width.
pub struct Column {
    pub name: &'static str,
    pub width: f64,
}

const fn col(name: &'static str, width: f64) -> Column {
    Column { name, width }
}

// ----- Formats -----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv { comma: bool },
    Json,
    Xlsx,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv { .. } => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv { .. } => "csv",
            Format::Json => "json",
            Format::Xlsx => "xlsx",
        }
    }
}

/// Where bytes go: the response's channel. `Err` means the client left.
pub trait Out {
    fn send(&mut self, bytes: Vec<u8>) -> Result<(), Gone>;
}

/// The client is gone: stop working.
#[derive(Debug)]
pub struct Gone;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the client disconnected")]
    Gone,
    #[error("database: {0}")]
    Query(#[from] QueryError),
    #[error("writing the file: {0}")]
    Write(String),
}

impl From<Gone> for ExportError {
    fn from(_: Gone) -> Self {
        ExportError::Gone
    }
}

/// Writes a table in a format, row by row.
pub struct Writer<'a, O: Out> {
    format: Format,
    out: &'a mut O,
    columns: &'a [Column],
    buffer: Vec<u8>,
    rows: u32,
    /// The CSV delimiter, when writing CSV.
    delimiter: u8,
    xlsx: Option<(rust_xlsxwriter::Workbook, XlsxFormats)>,
}

struct XlsxFormats {
    header: rust_xlsxwriter::Format,
    date: rust_xlsxwriter::Format,
    time: rust_xlsxwriter::Format,
    decimal: rust_xlsxwriter::Format,
}

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> ExportError {
    ExportError::Write(e.to_string())
}

impl<'a, O: Out> Writer<'a, O> {
    pub fn start(
        format: Format,
        columns: &'a [Column],
        out: &'a mut O,
    ) -> Result<Self, ExportError> {
        let mut w = Writer {
            format,
            out,
            columns,
            buffer: Vec::with_capacity(FLUSH + 4096),
            rows: 0,
            delimiter: b';',
            xlsx: None,
        };
        match format {
            Format::Csv { comma } => {
                // A BOM, so that Excel reads UTF-8.
                w.buffer.extend_from_slice("\u{feff}".as_bytes());
                w.delimiter = if comma { b',' } else { b';' };
                let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
                w.csv_record(&names)?;
            }
            Format::Json => w.buffer.push(b'['),
            Format::Xlsx => {
                use rust_xlsxwriter::{Format as F, Workbook};
                let mut book = Workbook::new();
                let formats = XlsxFormats {
                    header: F::new().set_bold(),
                    date: F::new().set_num_format("yyyy-mm-dd"),
                    time: F::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
                    decimal: F::new().set_num_format("0.0"),
                };
                let sheet = book
                    .add_worksheet_with_constant_memory()
                    .map_err(xlsx_error)?;
                sheet.set_name("AVIP").map_err(xlsx_error)?;
                for (i, c) in columns.iter().enumerate() {
                    let i = i as u16;
                    sheet.set_column_width(i, c.width).map_err(xlsx_error)?;
                    sheet
                        .write_string_with_format(0, i, c.name, &formats.header)
                        .map_err(xlsx_error)?;
                }
                sheet.set_freeze_panes(1, 0).map_err(xlsx_error)?;
                w.xlsx = Some((book, formats));
            }
        }
        Ok(w)
    }

    /// One CSV record, quoted by the csv crate, appended to the buffer.
    fn csv_record<T: AsRef<[u8]>>(&mut self, fields: &[T]) -> Result<(), ExportError> {
        let mut csv = csv::WriterBuilder::new()
            .delimiter(self.delimiter)
            .terminator(csv::Terminator::CRLF)
            .buffer_capacity(1024)
            .from_writer(&mut self.buffer);
        csv.write_record(fields)
            .and_then(|()| csv.flush().map_err(csv::Error::from))
            .map_err(|e| ExportError::Write(e.to_string()))
    }

    pub fn row(&mut self, cells: &[Cell]) -> Result<(), ExportError> {
        self.rows += 1;
        match self.format {
            Format::Csv { comma } => {
                let fields: Vec<String> = cells.iter().map(|c| c.csv(!comma)).collect();
                self.csv_record(&fields)?;
            }
            Format::Json => {
                if self.rows > 1 {
                    self.buffer.push(b',');
                }
                let object: serde_json::Map<String, serde_json::Value> = self
                    .columns
                    .iter()
                    .zip(cells)
                    .map(|(c, v)| (c.name.to_owned(), v.json()))
                    .collect();
                serde_json::to_writer(&mut self.buffer, &object)
                    .map_err(|e| ExportError::Write(e.to_string()))?;
            }
            Format::Xlsx => {
                let (book, f) = self.xlsx.as_mut().expect("started as XLSX");
                let sheet = book.worksheet_from_index(0).map_err(xlsx_error)?;
                let r = self.rows;
                for (i, cell) in cells.iter().enumerate() {
                    let i = i as u16;
                    match cell {
                        Cell::Empty => continue,
                        Cell::Text(s) => sheet.write_string(r, i, s),
                        Cell::Int(n) => sheet.write_number(r, i, *n as f64),
                        Cell::Num(x, _) => sheet.write_number_with_format(r, i, *x, &f.decimal),
                        Cell::Bool(b) => sheet.write_boolean(r, i, *b),
                        Cell::Date(d) => sheet.write_datetime_with_format(
                            r,
                            i,
                            d.and_time(chrono::NaiveTime::MIN),
                            &f.date,
                        ),
                        Cell::Time(t) => {
                            sheet.write_datetime_with_format(r, i, t.naive_utc(), &f.time)
                        }
                    }
                    .map_err(xlsx_error)?;
                }
            }
        }
        if self.buffer.len() >= FLUSH {
            self.out.send(std::mem::take(&mut self.buffer))?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<(), ExportError> {
        match self.format {
            Format::Csv { .. } => {}
            Format::Json => self.buffer.push(b']'),
            Format::Xlsx => {
                let (mut book, _) = self.xlsx.take().expect("started as XLSX");
                // The zip is written at the end: into a temporary file, then
                // sent on in pieces.
                let mut file =
                    tempfile::tempfile().map_err(|e| ExportError::Write(e.to_string()))?;
                book.save_to_writer(&mut file).map_err(xlsx_error)?;
                file.rewind()
                    .map_err(|e| ExportError::Write(e.to_string()))?;
                loop {
                    let mut piece = vec![0; FLUSH];
                    let n = file
                        .read(&mut piece)
                        .map_err(|e| ExportError::Write(e.to_string()))?;
                    if n == 0 {
                        break;
                    }
                    piece.truncate(n);
                    self.out.send(piece)?;
                }
            }
        }
        if !self.buffer.is_empty() {
            self.out.send(std::mem::take(&mut self.buffer))?;
        }
        Ok(())
    }
}

// ----- Referral rows -----

/// The columns of the CAF's rows: what the evaluation needs and no more
/// (docs/data-protection.md, "The CAF's rows"): no prescriber agency, no
/// instant, no exact date; months, durations and categories.
pub const ROW_COLUMNS: &[Column] = &[
    col("referral_key", 34.0),
    col("family_id", 34.0),
    col("prescriber_kind", 22.0),
    col("creche_id", 38.0),
    col("creche_name", 26.0),
    col("departement", 12.0),
    col("received_month", 12.0),
    col("hours_to_first_response", 12.0),
    col("answered_within_deadline", 12.0),
    col("status", 12.0),
    col("outcome", 14.0),
    col("refusal_reason", 24.0),
    col("withdrawal_reason", 24.0),
    col("enrollment_start_month", 12.0),
    col("contract_days", 10.0),
    col("renewals", 10.0),
    col("days_enrolled", 10.0),
    col("exit_reason", 20.0),
    col("exit_employment_status", 20.0),
    col("positive_exit", 10.0),
    col("childcare_solution", 22.0),
    col("parent_situation", 16.0),
    col("single_parent", 10.0),
    col("qpv_resident", 10.0),
    col("child_age_bracket", 12.0),
    col("children", 10.0),
    col("insertion_project_kind", 18.0),
];

/// What the rows need besides the database row.
pub struct Names {
    pub creches: BTreeMap<CrecheId, (String, String)>,
    pub organizations: std::collections::HashMap<OrganizationId, (OrganizationKind, String)>,
}

fn hours_between(from: NaiveDateTime, to: NaiveDateTime) -> f64 {
    (to - from).num_seconds() as f64 / 3600.0
}

/// `enrolled`, `exited`, `declined`, `withdrawn`, or `in_progress`.
pub fn outcome(row: &ExportRow) -> &'static str {
    match (row.referral.status, &row.enrollment) {
        (ReferralStatus::Declined, _) => "declined",
        (ReferralStatus::Withdrawn, _) => "withdrawn",
        (_, Some(e)) if e.exit_date.is_some() => "exited",
        (_, Some(_)) => "enrolled",
        _ => "in_progress",
    }
}

/// Whether the first response came by the deadline; `None` while it has
/// not come (or never will: withdrawn unanswered).
pub fn within_deadline(
    first_response_at: Option<NaiveDateTime>,
    due_at: Option<NaiveDateTime>,
) -> Option<bool> {
    match (first_response_at, due_at) {
        (Some(at), Some(due)) => Some(at <= due),
        _ => None,
    }
}

/// The first day of `date`'s month: what the rows say of a date.
fn month_of(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// Days from `from` to `to`, both counted.
fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days() + 1
}

pub fn row_cells(row: &ExportRow, key: &PseudonymKey, names: &Names) -> Vec<Cell> {
    let r = &row.referral;
    let e = row.enrollment.as_ref();
    let (creche_name, departement) = names.creches.get(&r.creche_id).cloned().unwrap_or_default();
    let kind = names
        .organizations
        .get(&r.prescriber_organization_id)
        .map(|(k, _)| k.as_str().to_owned())
        .unwrap_or_default();
    let received = paris_date(from_db_time(r.received_at));
    let reason = |status| {
        Cell::opt(
            (r.status == status)
                .then(|| r.closing_reason.clone())
                .flatten(),
            Cell::Text,
        )
    };
    vec![
        Cell::Text(key.id(&format!("referral:{}", r.id))),
        Cell::Text(family_id(row, key)),
        Cell::Text(kind),
        Cell::text(&r.creche_id),
        Cell::Text(creche_name),
        Cell::Text(departement),
        Cell::Date(month_of(received)),
        Cell::opt(r.first_response_at, |t| {
            Cell::Num(hours_between(r.received_at, t), 1)
        }),
        Cell::opt(
            within_deadline(r.first_response_at, r.sla.due_at),
            Cell::Bool,
        ),
        Cell::text(r.status),
        Cell::text(outcome(row)),
        reason(ReferralStatus::Declined),
        reason(ReferralStatus::Withdrawn),
        Cell::opt(e.map(|e| month_of(e.start_date)), Cell::Date),
        Cell::opt(
            e.map(|e| days_between(e.start_date, e.contract_end_date)),
            Cell::Int,
        ),
        Cell::opt(e.map(|e| i64::from(e.renewals)), Cell::Int),
        Cell::opt(
            e.and_then(|e| e.exit_date.map(|x| days_between(e.start_date, x))),
            Cell::Int,
        ),
        Cell::opt(e.and_then(|e| e.exit_reason), Cell::text),
        Cell::opt(e.and_then(|e| e.exit_employment_status), Cell::text),
        Cell::opt(e.and_then(|e| e.positive_exit), Cell::Bool),
        Cell::opt(e.and_then(|e| e.childcare_solution), Cell::text),
        Cell::text(r.parent_situation),
        Cell::Bool(r.single_parent),
        Cell::Bool(r.qpv_resident),
        Cell::opt(child_age_bracket(row, received), Cell::Text),
        Cell::Int(row.children),
        Cell::text(r.insertion_project_kind),
    ]
}

/// Reads every referral of the scope, a chunk at a time, in received order,
/// each chunk on a connection of its own: no connection is held while `f`
/// runs (it may be waiting on a slow reader).
pub fn each_row(
    pool: &Pool,
    scope: &ExportScope,
    f: impl FnMut(&ExportRow) -> Result<(), ExportError>,
) -> Result<u64, ExportError> {
    in_chunks(
        |after| exports::chunk(&mut *checkout(pool)?, scope, after, CHUNK),
        |row| (row.referral.received_at, row.referral.id.clone()),
        f,
    )
}

/// Pages through `fetch` by keyset, `CHUNK` rows at a time, calling `f` on
/// each row; returns how many there were.
fn in_chunks<R>(
    mut fetch: impl FnMut(Option<&(NaiveDateTime, ReferralId)>) -> Result<Vec<R>, QueryError>,
    key: impl Fn(&R) -> (NaiveDateTime, ReferralId),
    mut f: impl FnMut(&R) -> Result<(), ExportError>,
) -> Result<u64, ExportError> {
    let mut after = None;
    let mut count = 0;
    loop {
        let rows = fetch(after.as_ref())?;
        for row in &rows {
            f(row)?;
            count += 1;
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == CHUNK => after = Some(key(last)),
            _ => return Ok(count),
        }
    }
}

/// Set once whoever asked for the work has gone (its request dropped): the
/// indicators stop at the next referral instead of finishing for no one.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// A guard that cancels the work when dropped: keep it in the future
    /// that awaits the work.
    pub fn guard(&self) -> CancelOnDrop {
        CancelOnDrop(self.clone())
    }
}

/// See [`Cancel::guard`].
pub struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.0.store(true, Ordering::Relaxed);
    }
}

/// Loads the names the rows show.
pub fn names(conn: &mut DbConnection) -> Result<Names, QueryError> {
    Ok(Names {
        creches: exports::creches(conn)?
            .into_iter()
            .map(|c| (c.id, (c.name, c.departement)))
            .collect(),
        organizations: exports::organizations(conn)?,
    })
}

/// The referral rows of the scope, written to `out` (see [`each_row`]).
pub fn write_rows<O: Out>(
    pool: &Pool,
    names: &Names,
    scope: &ExportScope,
    key: &PseudonymKey,
    format: Format,
    out: &mut O,
) -> Result<u64, ExportError> {
    let mut writer = Writer::start(format, ROW_COLUMNS, out)?;
    let count = each_row(pool, scope, |row| writer.row(&row_cells(row, key, names)))?;
    writer.finish()?;
    Ok(count)
}

// ----- Indicators -----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Month,
    Creche,
    PrescriberKind,
    Prescriber,
}

pub const INDICATOR_COLUMNS: &[Column] = &[
    col("group", 38.0),
    col("label", 30.0),
    col("received", 10.0),
    col("answered", 10.0),
    col("answered_within_deadline", 12.0),
    col("answered_within_deadline_pct", 12.0),
    col("median_hours_to_first_response", 12.0),
    col("p90_hours_to_first_response", 12.0),
    col("offers", 10.0),
    col("enrollments", 10.0),
    col("exits", 10.0),
    col("positive_exits", 10.0),
    col("positive_exit_pct", 12.0),
    col("lasting_solutions", 10.0),
    col("occupied_place_days", 12.0),
    col("available_place_days", 12.0),
    col("occupancy_pct", 12.0),
];

/// The counts of one group.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub label: String,
    pub received: i64,
    pub answered: i64,
    pub within_deadline: i64,
    pub hours: Vec<f64>,
    pub offers: i64,
    pub enrollments: i64,
    pub exits: i64,
    pub positive_exits: i64,
    pub lasting_solutions: i64,
    /// Occupied and available place-days (crèche and month groups).
    pub place_days: Option<(i64, i64)>,
}

impl Tally {
    pub fn add(&mut self, r: &TallyRow) {
        self.received += 1;
        if let Some(at) = r.first_response_at {
            self.answered += 1;
            self.hours.push(hours_between(r.received_at, at));
        }
        if within_deadline(r.first_response_at, r.sla_due_at) == Some(true) {
            self.within_deadline += 1;
        }
        if r.offered {
            self.offers += 1;
        }
        if r.enrolled {
            self.enrollments += 1;
            if r.exit_date.is_some() {
                self.exits += 1;
                if r.positive_exit == Some(true) {
                    self.positive_exits += 1;
                }
                if r.childcare_solution
                    .is_some_and(|s| s != avip_db::model::ChildcareSolution::None)
                {
                    self.lasting_solutions += 1;
                }
            }
        }
    }

    pub fn cells(&self, group: &str) -> Vec<Cell> {
        let pct = |n: i64, d: i64| {
            if d > 0 {
                Cell::Num(100.0 * n as f64 / d as f64, 1)
            } else {
                Cell::Empty
            }
        };
        let mut hours = self.hours.clone();
        hours.sort_by(f64::total_cmp);
        let (occupied, available) = match self.place_days {
            Some((o, a)) => (Cell::Int(o), Cell::Int(a)),
            None => (Cell::Empty, Cell::Empty),
        };
        vec![
            Cell::text(group),
            Cell::Text(self.label.clone()),
            Cell::Int(self.received),
            Cell::Int(self.answered),
            Cell::Int(self.within_deadline),
            pct(self.within_deadline, self.received),
            Cell::opt(percentile(&hours, 0.5), |h| Cell::Num(h, 1)),
            Cell::opt(percentile(&hours, 0.9), |h| Cell::Num(h, 1)),
            Cell::Int(self.offers),
            Cell::Int(self.enrollments),
            Cell::Int(self.exits),
            Cell::Int(self.positive_exits),
            pct(self.positive_exits, self.exits),
            Cell::Int(self.lasting_solutions),
            occupied,
            available,
            match self.place_days {
                Some((o, a)) => pct(o, a),
                None => Cell::Empty,
            },
        ]
    }
}

/// The p-th percentile of sorted values, interpolated between the closest
/// ranks as a spreadsheet's PERCENTILE.INC and MEDIAN do.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = p * last as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64))
}

/// The months `period` touches, each cut to the period.
fn months(period: Period) -> Vec<(String, Period)> {
    let mut out = Vec::new();
    let mut start = period.from;
    while start <= period.to {
        let next = start
            .with_day(1)
            .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
            .unwrap_or(NaiveDate::MAX);
        let end = next.pred_opt().unwrap_or(next).min(period.to);
        out.push((
            start.format("%Y-%m").to_string(),
            Period {
                from: start,
                to: end,
            },
        ));
        if next == NaiveDate::MAX {
            break;
        }
        start = next;
    }
    out
}

/// The indicators of the scope's referrals received in `period`, by group.
pub fn indicators(
    conn: &mut DbConnection,
    scope: &ExportScope,
    creches: &[CrecheId],
    period: Period,
    group_by: GroupBy,
    today: NaiveDate,
    cancel: &Cancel,
) -> Result<BTreeMap<String, Tally>, ExportError> {
    let names = names(conn)?;
    let mut groups: BTreeMap<String, Tally> = BTreeMap::new();
    // Occupancy counts the days that have happened: up to today (Paris).
    let lived = |conn: &mut DbConnection| -> Result<Vec<Vec<places::Day>>, ExportError> {
        if period.from > today {
            return Ok(vec![Vec::new(); creches.len()]);
        }
        let past = Period {
            from: period.from,
            to: period.to.min(today),
        };
        Ok(places::availability(conn, creches, past, &[])?)
    };
    // Every month and crèche shows, even without referrals.
    match group_by {
        GroupBy::Month => {
            // One read of the whole period, each day added to its month
            // once: the work grows with the period, not with its square.
            let months = months(period);
            let mut sums = vec![(0i64, 0i64); months.len()];
            let first = period.from.year() * 12 + period.from.month0() as i32;
            for day in lived(conn)?.iter().flatten() {
                let index = (day.date.year() * 12 + day.date.month0() as i32 - first) as usize;
                if let Some(sum) = sums.get_mut(index) {
                    let (occupied, available) = places::place_days([day]);
                    *sum = (sum.0 + occupied, sum.1 + available);
                }
            }
            for ((month, _), sum) in months.into_iter().zip(sums) {
                let tally = groups.entry(month.clone()).or_default();
                tally.label = month;
                tally.place_days = Some(sum);
            }
        }
        GroupBy::Creche => {
            let days = lived(conn)?;
            for (creche, days) in creches.iter().zip(&days) {
                let tally = groups.entry(creche.to_string()).or_default();
                tally.label = names
                    .creches
                    .get(creche)
                    .map(|c| c.0.clone())
                    .unwrap_or_default();
                tally.place_days = Some(places::place_days(days));
            }
        }
        GroupBy::PrescriberKind | GroupBy::Prescriber => {}
    }
    in_chunks(
        |after| exports::tally_chunk(conn, scope, after, CHUNK),
        |r| (r.received_at, r.id.clone()),
        |r| {
            if cancel.is_cancelled() {
                return Err(ExportError::Gone);
            }
            let (key, label) = match group_by {
                GroupBy::Month => {
                    let m = paris_date(from_db_time(r.received_at))
                        .format("%Y-%m")
                        .to_string();
                    (m.clone(), m)
                }
                GroupBy::Creche => (r.creche_id.to_string(), String::new()),
                GroupBy::PrescriberKind => {
                    let kind = names
                        .organizations
                        .get(&r.prescriber_organization_id)
                        .map(|o| o.0.as_str())
                        .unwrap_or_default();
                    (kind.to_owned(), kind.to_owned())
                }
                GroupBy::Prescriber => (
                    r.prescriber_organization_id.to_string(),
                    names
                        .organizations
                        .get(&r.prescriber_organization_id)
                        .map(|o| o.1.clone())
                        .unwrap_or_default(),
                ),
            };
            let tally = groups.entry(key).or_default();
            if tally.label.is_empty() {
                tally.label = label;
            }
            tally.add(r);
            Ok(())
        },
    )?;
    Ok(groups)
}

/// Writes indicator groups as a table.
pub fn write_indicators<O: Out>(
    groups: &BTreeMap<String, Tally>,
    format: Format,
    out: &mut O,
) -> Result<(), ExportError> {
    let mut writer = Writer::start(format, INDICATOR_COLUMNS, out)?;
    for (group, tally) in groups {
        writer.row(&tally.cells(group))?;
    }
    writer.finish()
}

#[cfg(test)]
mod injection {
    use super::*;

    #[test]
    fn text_a_spreadsheet_would_run_is_written_as_text() {
        for (text, written) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+33", "'+33"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("Les Petits Pas", "Les Petits Pas"),
        ] {
            assert_eq!(Cell::Text(text.into()).csv(true), written);
        }
        // Numbers keep their sign: they are numbers, not text.
        assert_eq!(Cell::Int(-1).csv(true), "-1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_a_spreadsheet() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.5), Some(2.5));
        assert!((percentile(&v, 0.9).unwrap() - 3.7).abs() < 1e-9);
        assert_eq!(percentile(&[5.0], 0.9), Some(5.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn age_brackets_count_whole_months() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(age_bracket(d("2025-11-23"), d("2026-11-22")), "under_1");
        assert_eq!(age_bracket(d("2025-11-22"), d("2026-11-22")), "1_to_2");
        assert_eq!(age_bracket(d("2024-02-29"), d("2026-02-28")), "1_to_2");
        assert_eq!(age_bracket(d("2023-11-22"), d("2026-11-22")), "3_and_over");
    }

    #[test]
    fn a_dropped_request_cancels_its_work() {
        let cancel = Cancel::default();
        let guard = cancel.guard();
        assert!(!cancel.is_cancelled());
        drop(guard);
        assert!(cancel.is_cancelled());
    }

    #[test]
    fn months_cut_the_period() {
        let p = Period {
            from: "2026-01-15".parse().unwrap(),
            to: "2026-03-02".parse().unwrap(),
        };
        let m: Vec<(String, u32)> = months(p)
            .into_iter()
            .map(|(k, p)| (k, p.days() as u32))
            .collect();
        assert_eq!(
            m,
            [
                ("2026-01".into(), 17),
                ("2026-02".into(), 28),
                ("2026-03".into(), 2)
            ]
        );
    }

    #[test]
    fn family_ids_depend_on_the_key() {
        let a = PseudonymKey::new("key one".as_bytes());
        let b = PseudonymKey::new("key two".as_bytes());
        assert_eq!(a.id("ft:1234567a"), a.id("ft:1234567a"));
        assert_ne!(a.id("ft:1234567a"), b.id("ft:1234567a"));
        assert_eq!(a.id("x").len(), 32);
    }
}
