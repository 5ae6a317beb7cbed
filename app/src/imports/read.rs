//! Reading a spreadsheet as French offices write them: a CSV in UTF-8 or
//! Windows-1252 with `;` or `,` (both detected and said), an XLSX, an ODS
//! or an old XLS. The first sheet with content is read; its first row is
//! the headers. What cannot be read is refused with the reason, naming
//! `file`.

use std::io::Cursor;

use calamine::{Data, DataType, Reader, Sheets, open_workbook_auto_from_rs};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::DomainError;

/// The largest file read (10 MB).
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// The most rows read, headers apart.
pub const MAX_ROWS: usize = 20_000;

/// How the file was read, so that the person sees it was not guessed.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, PartialEq, Eq)]
pub struct Format {
    /// `csv`, `xlsx`, `ods` or `xls`.
    #[schema(max_length = 4)]
    pub kind: String,
    /// A CSV's encoding: `utf-8` or `windows-1252`.
    #[schema(max_length = 12)]
    pub encoding: Option<String>,
    /// A CSV's separator: `;`, `,` or a tab.
    #[schema(max_length = 1)]
    pub separator: Option<String>,
    /// A workbook's sheet that was read.
    #[schema(max_length = 100)]
    pub sheet: Option<String>,
}

/// The headers and the rows' cells, as text.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub format: Format,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

fn bad(reason: impl Into<String>) -> DomainError {
    DomainError::invalid("file", reason)
}

/// Reads the file's first sheet with content.
pub fn read(bytes: &[u8]) -> Result<Table, DomainError> {
    if bytes.len() > MAX_BYTES {
        return Err(bad("is larger than 10 MB"));
    }
    if bytes.is_empty() {
        return Err(bad("is empty"));
    }
    let table = if bytes.starts_with(b"PK\x03\x04") || is_ole(bytes) {
        workbook(bytes)?
    } else {
        csv_table(bytes)?
    };
    if table.headers.iter().all(|h| h.is_empty()) {
        return Err(bad("has no header row: its first row is empty"));
    }
    if table.rows.is_empty() {
        return Err(bad("has headers but no rows"));
    }
    if table.rows.len() > MAX_ROWS {
        return Err(bad("has more than 20000 rows"));
    }
    Ok(table)
}

const OLE: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

fn is_ole(bytes: &[u8]) -> bool {
    bytes.starts_with(OLE)
}

/// An Office file saved with a password is an OLE container holding an
/// `EncryptionInfo` stream (its name in UTF-16).
fn is_encrypted(bytes: &[u8]) -> bool {
    let name: Vec<u8> = "EncryptionInfo"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    is_ole(bytes) && bytes.windows(name.len()).any(|w| w == name.as_slice())
}

fn workbook(bytes: &[u8]) -> Result<Table, DomainError> {
    if is_encrypted(bytes) {
        return Err(bad("is protected by a password"));
    }
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|_| bad("is not a spreadsheet that can be read (CSV, XLSX, ODS or XLS)"))?;
    let kind = match &book {
        Sheets::Xlsx(_) => "xlsx",
        Sheets::Ods(_) => "ods",
        Sheets::Xls(_) => "xls",
        Sheets::Xlsb(_) => "xlsb",
    };
    let names = book.sheet_names();
    for name in names {
        let Ok(range) = book.worksheet_range(&name) else {
            continue;
        };
        if range.used_cells().next().is_none() {
            continue;
        }
        refuse_formulas(&mut book, &name)?;
        refuse_merged_headers(&mut book, &name, range.start())?;
        let mut rows = range
            .rows()
            .map(|r| r.iter().map(cell).collect::<Vec<String>>());
        let headers: Vec<String> = rows.next().unwrap_or_default();
        let rows: Vec<Vec<String>> = rows.filter(|r| r.iter().any(|c| !c.is_empty())).collect();
        return Ok(Table {
            format: Format {
                kind: kind.into(),
                encoding: None,
                separator: None,
                sheet: Some(name),
            },
            headers: headers.into_iter().map(|h| h.trim().to_owned()).collect(),
            rows,
        });
    }
    Err(bad("has no sheet with content"))
}

fn refuse_formulas(book: &mut Sheets<Cursor<&[u8]>>, name: &str) -> Result<(), DomainError> {
    let Ok(formulas) = book.worksheet_formula(name) else {
        return Ok(());
    };
    if let Some((row, col, _)) = formulas.used_cells().find(|(_, _, f)| !f.is_empty()) {
        let (r0, c0) = formulas.start().unwrap_or((0, 0));
        return Err(bad(format!(
            "has formulas (cell {}): paste their values instead",
            cell_name(r0 + row as u32, c0 + col as u32)
        )));
    }
    Ok(())
}

fn refuse_merged_headers(
    book: &mut Sheets<Cursor<&[u8]>>,
    name: &str,
    start: Option<(u32, u32)>,
) -> Result<(), DomainError> {
    let Sheets::Xlsx(xlsx) = book else {
        return Ok(());
    };
    let Ok(merged) = xlsx.merge_cells_by_sheet_name(name) else {
        return Ok(());
    };
    let header_row = start.map_or(0, |s| s.0);
    let first = (merged.iter())
        .filter(|d| d.start.0 <= header_row)
        .min_by_key(|d| (d.start.0, d.start.1));
    if let Some(d) = first {
        return Err(bad(format!(
            "has merged header cells ({}:{}): give each column its own header",
            cell_name(d.start.0, d.start.1),
            cell_name(d.end.0, d.end.1)
        )));
    }
    Ok(())
}

/// `A1`-style name of a cell (0-based row and column).
fn cell_name(row: u32, col: u32) -> String {
    let mut letters = String::new();
    let mut c = col + 1;
    while c > 0 {
        let rem = (c - 1) % 26;
        letters.insert(0, char::from(b'A' + rem as u8));
        c = (c - 1) / 26;
    }
    format!("{letters}{}", row + 1)
}

/// A cell as text: dates as `YYYY-MM-DD` (a time after it if it has
/// one), whole numbers without decimals.
fn cell(data: &Data) -> String {
    match data {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) => s.trim().to_owned(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "oui" } else { "non" }.to_owned(),
        Data::DateTime(_) => match data.as_datetime() {
            Some(dt) if dt.time() == chrono::NaiveTime::MIN => dt.date().to_string(),
            Some(dt) => dt.format("%Y-%m-%d %H:%M").to_string(),
            None => String::new(),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
    }
}

fn csv_table(bytes: &[u8]) -> Result<Table, DomainError> {
    if bytes.contains(&0) {
        return Err(bad(
            "is not a spreadsheet that can be read (CSV, XLSX, ODS or XLS)",
        ));
    }
    let (text, encoding) = decode(bytes);
    let first_line = text.lines().next().unwrap_or_default();
    let separator = [b';', b',', b'\t']
        .into_iter()
        .max_by_key(|s| first_line.bytes().filter(|b| b == s).count())
        .unwrap_or(b';');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(format!("line {} cannot be read: {e}", i + 1)))?;
        records.push(
            record
                .iter()
                .map(|c| c.trim().to_owned())
                .collect::<Vec<_>>(),
        );
        if records.len() > MAX_ROWS + 1 {
            return Err(bad("has more than 20000 rows"));
        }
    }
    let mut records = records.into_iter();
    let headers = records.next().unwrap_or_default();
    Ok(Table {
        format: Format {
            kind: "csv".into(),
            encoding: Some(encoding.into()),
            separator: Some(char::from(separator).to_string()),
            sheet: None,
        },
        headers,
        rows: records
            .filter(|r| r.iter().any(|c| !c.is_empty()))
            .collect(),
    })
}

/// UTF-8 (its mark dropped) when the bytes are valid UTF-8, else
/// Windows-1252, as Excel in French writes "CSV (séparateur: point-virgule)".
fn decode(bytes: &[u8]) -> (String, &'static str) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), "utf-8"),
        Err(_) => {
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            (text.into_owned(), "windows-1252")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_windows_1252_csv_with_semicolons_is_detected() {
        let t = read(b"Nom;Pr\xe9nom\nBenali;Amina\n").unwrap();
        assert_eq!(t.headers, ["Nom", "Prénom"]);
        assert_eq!(t.format.encoding.as_deref(), Some("windows-1252"));
        assert_eq!(t.format.separator.as_deref(), Some(";"));
        let t = read("\u{feff}Nom,Prénom\n\"Benali, A\",Amina\n".as_bytes()).unwrap();
        assert_eq!(t.rows, [["Benali, A", "Amina"]]);
        assert_eq!(t.format.encoding.as_deref(), Some("utf-8"));
        assert_eq!(t.format.separator.as_deref(), Some(","));
    }

    #[test]
    fn what_is_not_a_table_is_refused_on_file() {
        for bytes in [&b""[..], b"\x00\x01binary", b"Nom;Prenom\n", OLE] {
            let err = read(bytes).unwrap_err();
            assert!(
                matches!(err, DomainError::Invalid(ref p) if p[0].field == "file"),
                "{err:?}"
            );
        }
    }

    #[test]
    fn cells_are_named_as_a_spreadsheet_names_them() {
        assert_eq!(cell_name(0, 0), "A1");
        assert_eq!(cell_name(3, 27), "AB4");
    }
}
