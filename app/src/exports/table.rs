//! A table: typed cells, columns, and one writer per format (CSV for a
//! French Excel, JSON, XLSX), flushing as it goes.

use super::*;

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
    /// A code and its French label: the code in JSON and in the scripts'
    /// CSV, the label in XLSX and in the French CSV (`headers=fr`).
    Code(String, String),
    /// A month, by its first day: that date in JSON and the scripts' CSV,
    /// `janvier 2026` in the French files (in XLSX a date shown so).
    Month(NaiveDate),
    /// A percentage (`71.4` for 71.4 %), one decimal; in XLSX a percentage
    /// cell.
    Pct(f64),
}

impl Cell {
    pub(super) fn text(value: impl ToString) -> Cell {
        Cell::Text(value.to_string())
    }

    pub(super) fn opt<T>(value: Option<T>, f: impl FnOnce(T) -> Cell) -> Cell {
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
            Cell::Date(d) | Cell::Month(d) => Value::String(d.to_string()),
            Cell::Time(t) => Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            Cell::Code(code, _) => Value::String(code.clone()),
            Cell::Pct(x) => Cell::Num(*x, 1).json(),
        }
    }

    /// The cell in a French CSV (`headers=fr`): labels, French months and
    /// dates; numbers as for the scripts.
    fn french_csv(&self, decimal_comma: bool) -> String {
        match self {
            Cell::Code(_, label) => neutralised(label),
            Cell::Month(d) => crate::labels::month(d.year(), d.month()),
            Cell::Date(d) => crate::labels::date(*d),
            other => other.csv(decimal_comma),
        }
    }

    fn csv(&self, decimal_comma: bool) -> String {
        match self {
            Cell::Code(code, _) => neutralised(code),
            Cell::Month(d) => d.to_string(),
            Cell::Pct(x) => Cell::Num(*x, 1).csv(decimal_comma),
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

/// A column: its name (the JSON key and the header), its XLSX width, and
/// what its cells hold, from which the row's OpenAPI schema is made
/// ([`schema`]): the file and its description cannot differ.
pub struct Column {
    pub name: &'static str,
    pub width: f64,
    pub kind: Kind,
    /// Whether a cell may be empty (`null` in JSON).
    pub nullable: bool,
    /// What the column means, for the OpenAPI document.
    pub doc: &'static str,
}

/// What a column's cells hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Number,
    Boolean,
    Date,
}

/// A column whose every cell has a value.
pub(super) const fn column(
    name: &'static str,
    width: f64,
    kind: Kind,
    doc: &'static str,
) -> Column {
    Column {
        name,
        width,
        kind,
        nullable: false,
        doc,
    }
}

/// A column whose cells may be empty.
pub(super) const fn nullable(
    name: &'static str,
    width: f64,
    kind: Kind,
    doc: &'static str,
) -> Column {
    Column {
        name,
        width,
        kind,
        nullable: true,
        doc,
    }
}

/// The JSON Schema of one row of `columns`: an object with a property per
/// column, every column that cannot be empty required.
pub fn schema(
    columns: &[Column],
    description: &str,
    example: serde_json::Value,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};
    // `example`, as the derived schemas of the document write it (utoipa
    // deprecates it for `examples`, which the document does not use).
    #[allow(deprecated)]
    let mut object = ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Object))
        .description(Some(description))
        .example(Some(example));
    for c in columns {
        let (ty, format) = match c.kind {
            Kind::Text => (Type::String, None),
            Kind::Integer => (Type::Integer, Some(KnownFormat::Int64)),
            Kind::Number => (Type::Number, Some(KnownFormat::Double)),
            Kind::Boolean => (Type::Boolean, None),
            Kind::Date => (Type::String, Some(KnownFormat::Date)),
        };
        let schema_type = if c.nullable {
            SchemaType::from_iter([ty, Type::Null])
        } else {
            SchemaType::Type(ty)
        };
        let property = ObjectBuilder::new()
            .schema_type(schema_type)
            .format(format.map(SchemaFormat::KnownFormat))
            .description((!c.doc.is_empty()).then_some(c.doc));
        object = object.property(c.name, property);
        if !c.nullable {
            object = object.required(c.name);
        }
    }
    utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(object.build()))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `comma`: `,` and decimal points instead of `;` and commas;
    /// `french`: French headers and labels instead of the codes.
    Csv {
        comma: bool,
        french: bool,
    },
    Json,
    /// Always French: headers, labels, months, percentages.
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
    /// French month names whatever the reader's locale (`[$-40C]`).
    month: rust_xlsxwriter::Format,
    percent: rust_xlsxwriter::Format,
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
            Format::Csv { comma, french } => {
                // A BOM, so that Excel reads UTF-8.
                w.buffer.extend_from_slice("\u{feff}".as_bytes());
                w.delimiter = if comma { b',' } else { b';' };
                let names: Vec<&str> = columns
                    .iter()
                    .map(|c| if french { header(c.name) } else { c.name })
                    .collect();
                w.csv_record(&names)?;
            }
            Format::Json => w.buffer.push(b'['),
            Format::Xlsx => {
                use rust_xlsxwriter::{Format as F, Workbook};
                let mut book = Workbook::new();
                let formats = XlsxFormats {
                    header: F::new().set_bold(),
                    date: F::new().set_num_format("dd/mm/yyyy"),
                    time: F::new().set_num_format("dd/mm/yyyy hh:mm:ss"),
                    decimal: F::new().set_num_format("0.0"),
                    month: F::new().set_num_format("[$-40C]mmmm yyyy"),
                    percent: F::new().set_num_format("0.0 %"),
                };
                let sheet = book
                    .add_worksheet_with_constant_memory()
                    .map_err(xlsx_error)?;
                sheet.set_name("AVIP").map_err(xlsx_error)?;
                for (i, c) in columns.iter().enumerate() {
                    let i = i as u16;
                    sheet.set_column_width(i, c.width).map_err(xlsx_error)?;
                    sheet
                        .write_string_with_format(0, i, header(c.name), &formats.header)
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
            Format::Csv { comma, french } => {
                let fields: Vec<String> = cells
                    .iter()
                    .map(|c| {
                        if french {
                            c.french_csv(!comma)
                        } else {
                            c.csv(!comma)
                        }
                    })
                    .collect();
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
                        Cell::Code(_, label) => sheet.write_string(r, i, label),
                        Cell::Month(d) => sheet.write_datetime_with_format(
                            r,
                            i,
                            d.and_time(chrono::NaiveTime::MIN),
                            &f.month,
                        ),
                        Cell::Pct(x) => sheet.write_number_with_format(r, i, x / 100.0, &f.percent),
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
