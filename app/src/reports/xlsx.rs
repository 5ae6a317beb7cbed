//! The bilan as an XLSX: one sheet per section, its sentences, its tables
//! with typed cells (numbers stay numbers; « moins de 5 » is text) and its
//! charts as Excel's own, drawn from the sheet's cells.

use rust_xlsxwriter::{Chart, ChartType, Format, Workbook, Worksheet, XlsxError};

use super::{Bilan, ChartOf, Section, Value};

/// Writes the bilan as an XLSX.
pub fn write_xlsx(bilan: &Bilan) -> Result<Vec<u8>, String> {
    let mut book = Workbook::new();
    for (i, section) in bilan.sections.iter().enumerate() {
        let sheet = book.add_worksheet();
        write_section(sheet, bilan, section, i == 0).map_err(|e| e.to_string())?;
    }
    book.save_to_buffer().map_err(|e| e.to_string())
}

fn write_section(
    sheet: &mut Worksheet,
    bilan: &Bilan,
    section: &Section,
    first: bool,
) -> Result<(), XlsxError> {
    let title = Format::new().set_bold().set_font_size(14);
    let bold = Format::new().set_bold();
    let head = Format::new()
        .set_bold()
        .set_background_color("DCE8F4")
        .set_text_wrap();
    let italic = Format::new().set_italic();
    sheet.set_name(section.sheet)?;
    // Printed (or made a PDF) as one landscape page per section.
    sheet.set_landscape();
    sheet.set_print_fit_to_pages(1, 1);
    sheet.set_column_width(0, 46)?;
    for col in 1..4 {
        sheet.set_column_width(col, 20)?;
    }
    sheet.write_string_with_format(0, 0, section.title, &title)?;
    let mut row = 1;
    if first {
        sheet.write_string_with_format(row, 0, &bilan.scope, &bold)?;
        sheet.write_string(row + 1, 0, bilan.period_line())?;
        row += 2;
    }
    for line in &section.text {
        if section.to_fill {
            sheet.write_string_with_format(row, 0, line, &italic)?;
        } else {
            sheet.write_string(row, 0, line)?;
        }
        row += 1;
    }
    let mut placed = Vec::new();
    for table in &section.tables {
        row += 1;
        sheet.write_string_with_format(row, 0, &table.caption, &bold)?;
        row += 1;
        for (c, h) in table.head.iter().enumerate() {
            sheet.write_string_with_format(row, c as u16, h, &head)?;
        }
        let first_row = row + 1;
        for values in &table.rows {
            row += 1;
            for (c, v) in values.iter().enumerate() {
                write_value(sheet, row, c as u16, v)?;
            }
        }
        placed.push((first_row - 1, row));
    }
    for (k, chart) in section.charts.iter().enumerate() {
        let (head_row, last) = placed[chart.table];
        if last == head_row {
            continue; // nothing to draw
        }
        let native = native(section.sheet, chart, (head_row, last));
        sheet.insert_chart(2 + 16 * k as u32, 5, &native)?;
    }
    Ok(())
}

fn write_value(sheet: &mut Worksheet, row: u32, col: u16, v: &Value) -> Result<(), XlsxError> {
    let percent = Format::new().set_num_format("0.0\" %\"");
    let decimal = Format::new().set_num_format("0.0");
    match v {
        Value::Text(t) => sheet.write_string(row, col, t)?,
        Value::Count(n) => sheet.write_number(row, col, *n as f64)?,
        Value::Masked => sheet.write_string(row, col, super::MASKED)?,
        Value::Pct(Some(p)) => sheet.write_number_with_format(row, col, round(*p), &percent)?,
        Value::Num(Some(n)) => sheet.write_number_with_format(row, col, round(*n), &decimal)?,
        Value::Pct(None) | Value::Num(None) => sheet.write_string(row, col, "—")?,
    };
    Ok(())
}

/// One decimal, as the DOCX writes it.
fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// An Excel chart of a table's columns, its first column as categories.
fn native(sheet: &str, chart: &ChartOf, (head, last): (u32, u32)) -> Chart {
    let mut native = Chart::new(if chart.lines {
        ChartType::Line
    } else {
        ChartType::Column
    });
    native.title().set_name(&chart.title);
    for &col in &chart.columns {
        native
            .add_series()
            .set_name((sheet, head, col as u16))
            .set_categories((sheet, head + 1, 0, last, 0))
            .set_values((sheet, head + 1, col as u16, last, col as u16));
    }
    native.set_width(640).set_height(300);
    native
}
