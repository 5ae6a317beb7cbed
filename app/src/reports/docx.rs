//! The bilan as a DOCX to edit in Word or LibreOffice: Word's built-in
//! heading styles (so that the table of contents works), a table of
//! contents to update, tables, the charts as images, page numbers.

use docx_rs::{
    AlignmentType, Docx, Footer, PageNum, Paragraph, Pic, Run, RunFonts, Shading, Style, StyleType,
    Table as DocxTable, TableCell, TableOfContents, TableRow, WidthType,
};

use super::{Bilan, DrawChart, Section, Table, png};

/// Twentieths of a point across the text (A4, 2 cm margins): 17 cm.
const TEXT_WIDTH: usize = 9_638;
/// A chart's width on the page, in EMU (16 cm).
const CHART_EMU: u32 = 5_760_000;

/// Writes the bilan as a DOCX, its charts drawn by `draw` (as SVG).
pub fn write_docx(bilan: &Bilan, draw: DrawChart) -> Result<Vec<u8>, String> {
    let mut doc = styled(Docx::new())
        .footer(
            Footer::new().add_paragraph(
                Paragraph::new()
                    .align(AlignmentType::Center)
                    .add_run(Run::new().add_text("Page "))
                    .add_page_num(PageNum::new()),
            ),
        )
        .add_paragraph(styled_text("Title", "Bilan d’activité AVIP"))
        .add_paragraph(styled_text("Subtitle", &bilan.scope))
        .add_paragraph(plain(&bilan.period_line()));
    if bilan.creches.len() > 1 {
        doc = doc.add_paragraph(plain(&format!("Crèches : {}.", bilan.creches.join(", "))));
    }
    doc = doc
        .add_paragraph(plain(&format!(
            "Établi le {} par le service de suivi des orientations AVIP.",
            crate::labels::datetime(bilan.written_at)
        )))
        .add_paragraph(styled_text("TOCHeading", "Sommaire"))
        .add_table_of_contents(
            // A field marked dirty, which Word fills when the document
            // opens, LibreOffice on « Mettre à jour l’index ». Outside a
            // content control, and empty: LibreOffice otherwise shows the
            // field's code.
            TableOfContents::new()
                .heading_styles_range(1, 2)
                .without_sdt()
                .add_after_paragraph(plain(
                    "(Le sommaire se remplit à l’ouverture dans Word ; dans LibreOffice : clic \
                     droit, « Mettre à jour l’index ».)",
                )),
        );
    for section in &bilan.sections {
        doc = write_section(doc, section, draw)?;
    }
    let mut bytes = std::io::Cursor::new(Vec::new());
    doc.build().pack(&mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes.into_inner())
}

/// Word's built-in styles by their internal names, so that Word and
/// LibreOffice both know the headings (and build the table of contents).
fn styled(doc: Docx) -> Docx {
    let heading = |id: &str, name: &str, size: usize, level: usize| {
        Style::new(id, StyleType::Paragraph)
            .name(name)
            .based_on("Normal")
            .next("Normal")
            .q_format(true)
            .size(size)
            .bold()
            .color("0B4F8A")
            .outline_lvl(level)
    };
    // Arial: Word has it; LibreOffice draws it with Liberation Sans, whose
    // letters take the same room.
    doc.default_fonts(RunFonts::new().ascii("Arial").hi_ansi("Arial").cs("Arial"))
        .default_size(21)
        .add_style(heading("Title", "Title", 44, 9).outline_lvl(9))
        .add_style(
            Style::new("Subtitle", StyleType::Paragraph)
                .name("Subtitle")
                .size(28),
        )
        .add_style(heading("Heading1", "heading 1", 32, 0))
        .add_style(heading("Heading2", "heading 2", 24, 1))
        .add_style(
            Style::new("Caption", StyleType::Paragraph)
                .name("caption")
                .italic()
                .size(18),
        )
        .add_style(
            Style::new("TOCHeading", StyleType::Paragraph)
                .name("TOC Heading")
                .bold()
                .size(28),
        )
}

fn styled_text(style: &str, text: &str) -> Paragraph {
    Paragraph::new()
        .style(style)
        .add_run(Run::new().add_text(text))
}

/// A paragraph of body text, in the `Normal` style by name (docx-rs cannot
/// mark a style as the default one, so readers would see none).
fn plain(text: &str) -> Paragraph {
    styled_text("Normal", text)
}

fn write_section(mut doc: Docx, section: &Section, draw: DrawChart) -> Result<Docx, String> {
    doc = doc.add_paragraph(styled_text("Heading1", section.title).page_break_before(true));
    for line in &section.text {
        let p = plain(line);
        doc = doc.add_paragraph(if section.to_fill { p.italic() } else { p });
    }
    if section.to_fill {
        // Room for the coordinator's paragraphs.
        doc = doc.add_paragraph(plain("")).add_paragraph(plain(""));
    }
    for table in &section.tables {
        doc = doc
            .add_paragraph(styled_text("Heading2", &table.caption).keep_next(true))
            .add_table(write_table(table));
    }
    for chart in &section.charts {
        let png = draw(chart, &section.tables)
            .and_then(|svg| png(&svg, 2.0))
            .map_err(|e| format!("chart {}: {e}", chart.id))?;
        let height = CHART_EMU / 640 * 260;
        doc = doc
            .add_paragraph(
                (Paragraph::new().style("Normal"))
                    .keep_next(true)
                    .add_run(Run::new().add_image(Pic::new(&png).size(CHART_EMU, height))),
            )
            .add_paragraph(styled_text("Caption", &chart.title));
    }
    Ok(doc)
}

fn write_table(table: &Table) -> DocxTable {
    let columns = table.head.len().max(1);
    let first = TEXT_WIDTH * 2 / 5;
    let other = (TEXT_WIDTH - first) / (columns - 1).max(1);
    let width = |i: usize| if i == 0 { first } else { other };
    let cell = |i: usize, text: &str, head: bool| {
        let run = Run::new().add_text(text);
        let mut p = (Paragraph::new().style("Normal")).add_run(if head { run.bold() } else { run });
        if i > 0 {
            p = p.align(AlignmentType::Right);
        }
        let c = TableCell::new()
            .add_paragraph(p)
            .width(width(i), WidthType::Dxa);
        if head {
            c.shading(Shading::new().fill("DCE8F4"))
        } else {
            c
        }
    };
    let head = TableRow::new(
        (table.head.iter().enumerate())
            .map(|(i, h)| cell(i, h, true))
            .collect(),
    );
    let rows = table.rows.iter().map(|row| {
        TableRow::new(
            (row.iter().enumerate())
                .map(|(i, v)| cell(i, &v.french(), false))
                .collect(),
        )
    });
    DocxTable::new(std::iter::once(head).chain(rows).collect())
        .set_grid((0..columns).map(width).collect())
        .width(TEXT_WIDTH, WidthType::Dxa)
}
