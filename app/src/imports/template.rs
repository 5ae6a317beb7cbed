//! The template a crèche fills in: the columns in French with an example
//! row, and a second sheet saying what each column takes.

use rust_xlsxwriter::{Format, FormatBorder, Workbook, XlsxError};

use super::ImportKind;
use super::columns::{Kind, fields_of};

/// The template of an import of `kind`, as an XLSX workbook.
pub fn template(kind: ImportKind) -> Result<Vec<u8>, XlsxError> {
    let fields = fields_of(kind);
    let sheet = match kind {
        ImportKind::Referrals => "Orientations",
        ImportKind::Places => "Places AVIP",
    };
    let mut book = Workbook::new();
    let bold = Format::new()
        .set_bold()
        .set_border_bottom(FormatBorder::Thin);
    let wrap = Format::new().set_text_wrap();
    let rows = book.add_worksheet().set_name(sheet)?;
    for (c, f) in (0u16..).zip(fields) {
        rows.write_string_with_format(0, c, f.header, &bold)?;
        rows.write_string(1, c, f.example)?;
        rows.set_column_width(c, 22)?;
    }
    rows.set_freeze_panes(1, 0)?;
    let help = book.add_worksheet().set_name("Colonnes")?;
    for (c, title) in (0u16..).zip(["Colonne", "Ce qu’elle contient", "Valeurs possibles"]) {
        help.write_string_with_format(0, c, title, &bold)?;
    }
    help.set_column_width(0, 32)?;
    help.set_column_width(1, 60)?;
    help.set_column_width(2, 80)?;
    for (r, f) in (1u32..).zip(fields) {
        let allowed = match f.kind {
            Kind::Choice(list) => list.iter().map(|(_, l)| *l).collect::<Vec<_>>().join(" ; "),
            Kind::Date => "JJ/MM/AAAA".to_owned(),
            Kind::YesNo => "oui ; non".to_owned(),
            Kind::Days => {
                "lun ; mar ; mer ; jeu ; ven ; sam ; dim (séparés par des virgules)".to_owned()
            }
            Kind::Phone => "06 12 34 56 78".to_owned(),
            Kind::Text => String::new(),
        };
        help.write_string(r, 0, f.header)?;
        help.write_string_with_format(r, 1, f.help, &wrap)?;
        help.write_string_with_format(r, 2, &allowed, &wrap)?;
    }
    book.save_to_buffer()
}
