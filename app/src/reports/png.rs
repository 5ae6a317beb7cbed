//! A chart's SVG as a PNG, for a DOCX: drawn by resvg with a font embedded
//! in the binary, so that nothing depends on the server's fonts.

use std::sync::{Arc, OnceLock};

use resvg::{tiny_skia, usvg};

/// Liberation Sans (SIL Open Font License, `app/fonts/`): the charts' text.
const FONT: &[u8] = include_bytes!("../../fonts/LiberationSans-Regular.ttf");

/// The page's chart colours (`app.css`), for a chart drawn outside a page.
const STYLE: &str = "text { font-family: 'Liberation Sans'; font-size: 13px; fill: #1b1b1b; }
.bar1, rect.line1 { fill: #0b4f8a; } .bar2 { fill: #7fb2e0; } rect.line2 { fill: #a4161a; }
polyline.line1 { stroke: #0b4f8a; fill: none; stroke-width: 2; }
polyline.line2 { stroke: #a4161a; fill: none; stroke-width: 2; stroke-dasharray: 6 4; }
.axis { stroke: #767676; }";

/// The embedded font, read once.
fn fonts() -> Arc<usvg::fontdb::Database> {
    static FONTS: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = usvg::fontdb::Database::new();
            db.load_font_data(FONT.to_vec());
            Arc::new(db)
        })
        .clone()
}

/// An SVG chart as a PNG on white, `scale` times its size in pixels.
pub fn png(svg: &str, scale: f32) -> Result<Vec<u8>, String> {
    let options = usvg::Options {
        font_family: "Liberation Sans".to_owned(),
        fontdb: fonts(),
        style_sheet: Some(STYLE.to_owned()),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| e.to_string())?;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(scale)
        .ok_or("the chart has no size")?;
    let mut pixmap =
        tiny_skia::Pixmap::new(size.width(), size.height()).ok_or("the chart has no size")?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().map_err(|e| e.to_string())
}
