//! Charts drawn as SVG on the server (an askama template, escaped like the
//! pages): grouped bars and lines over months. Each chart has a title and
//! a description for screen readers; the page's table gives the figures.
//! The workspace shows the SVG; a bilan's DOCX carries the same chart as a
//! PNG ([`svg_of`] is what the application layer draws it from).

use askama::Template;
use avip_app::reports::{ChartOf, Table, Value};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 56.0;

/// One series: its name (in the legend), its CSS class, a value per label.
pub struct Series {
    pub name: String,
    pub class: &'static str,
    pub values: Vec<Option<f64>>,
}

pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub class: &'static str,
    pub tip: String,
}

pub struct Line {
    pub points: String,
    pub class: &'static str,
}

pub struct Tick {
    pub y: f64,
    pub label: String,
}

pub struct XLabel {
    pub x: f64,
    pub label: String,
}

pub struct Key {
    pub x: f64,
    pub name: String,
    pub class: &'static str,
}

#[derive(Template)]
#[template(path = "chart.svg", escape = "html")]
pub struct Chart {
    pub id: String,
    pub title: String,
    pub description: String,
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right_x: f64,
    pub base_y: f64,
    pub bars: Vec<Bar>,
    pub lines: Vec<Line>,
    pub ticks: Vec<Tick>,
    pub labels: Vec<XLabel>,
    pub keys: Vec<Key>,
}

/// The top of the axis: four round steps (1, 2, 2.5 or 5 times a power of
/// ten) that reach `max`.
fn nice_max(max: f64) -> f64 {
    if max <= 0.0 {
        return 4.0;
    }
    let raw = (max / 4.0).max(0.25);
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|s| s * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    step * 4.0
}

/// `2026-11` as `nov. 2026` (the usual French abbreviations); other
/// labels as they are.
fn short_month(label: &str) -> String {
    const MONTHS: [&str; 12] = [
        "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
        "déc.",
    ];
    match label.split_once('-') {
        Some((year, month)) if year.len() == 4 => match month.parse::<usize>() {
            Ok(m @ 1..=12) => format!("{} {year}", MONTHS[m - 1]),
            _ => label.to_owned(),
        },
        _ => label.to_owned(),
    }
}

fn number(v: f64) -> String {
    if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}").replace('.', ",")
    }
}

impl Chart {
    fn frame(
        id: &str,
        title: &str,
        description: &str,
        labels: &[String],
        series: &[Series],
        unit: &str,
    ) -> (Chart, f64, f64) {
        let max = series
            .iter()
            .flat_map(|s| s.values.iter().flatten())
            .fold(0.0f64, |a, b| a.max(*b));
        // Counts (no unit) rise by whole numbers.
        let top = if unit.is_empty() {
            nice_max(max).max(4.0)
        } else {
            nice_max(max)
        };
        let plot_h = HEIGHT - TOP - BOTTOM;
        let ticks = (0..=4)
            .map(|i| {
                let v = top * f64::from(i) / 4.0;
                Tick {
                    y: HEIGHT - BOTTOM - plot_h * f64::from(i) / 4.0,
                    label: format!("{}{unit}", number(v)),
                }
            })
            .collect();
        let n = labels.len().max(1) as f64;
        let group_w = (WIDTH - LEFT - RIGHT) / n;
        // At most about eight labels under the axis.
        let every = labels.len().div_ceil(8).max(1);
        let x_labels = labels
            .iter()
            .enumerate()
            .filter(|(i, _)| i % every == 0)
            .map(|(i, l)| XLabel {
                x: LEFT + group_w * (i as f64 + 0.5),
                label: short_month(l),
            })
            .collect();
        let keys = series
            .iter()
            .enumerate()
            .map(|(i, s)| Key {
                x: LEFT + 200.0 * i as f64,
                name: s.name.clone(),
                class: s.class,
            })
            .collect();
        (
            Chart {
                id: id.to_owned(),
                title: title.to_owned(),
                description: description.to_owned(),
                width: WIDTH,
                height: HEIGHT,
                left: LEFT,
                right_x: WIDTH - RIGHT,
                base_y: HEIGHT - BOTTOM,
                bars: Vec::new(),
                lines: Vec::new(),
                ticks,
                labels: x_labels,
                keys,
            },
            top,
            group_w,
        )
    }

    /// Side-by-side bars, one group per label.
    pub fn bars(
        id: &str,
        title: &str,
        description: &str,
        labels: &[String],
        series: &[Series],
        unit: &str,
    ) -> Chart {
        let (mut chart, top, group_w) = Self::frame(id, title, description, labels, series, unit);
        let plot_h = HEIGHT - TOP - BOTTOM;
        let k = series.len().max(1) as f64;
        let bar_w = group_w * 0.8 / k;
        for (j, s) in series.iter().enumerate() {
            for (i, v) in s.values.iter().enumerate() {
                let Some(v) = v else { continue };
                let h = plot_h * v / top;
                chart.bars.push(Bar {
                    x: LEFT + group_w * i as f64 + group_w * 0.1 + bar_w * j as f64,
                    y: HEIGHT - BOTTOM - h,
                    w: bar_w.max(1.0),
                    h,
                    class: s.class,
                    tip: format!("{} — {} : {}{unit}", labels[i], s.name, number(*v)),
                });
            }
        }
        chart
    }

    /// Lines through each label's value (gaps where there is none).
    pub fn lines(
        id: &str,
        title: &str,
        description: &str,
        labels: &[String],
        series: &[Series],
        unit: &str,
    ) -> Chart {
        let (mut chart, top, group_w) = Self::frame(id, title, description, labels, series, unit);
        let plot_h = HEIGHT - TOP - BOTTOM;
        for s in series {
            let points = s
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    v.map(|v| {
                        format!(
                            "{:.1},{:.1}",
                            LEFT + group_w * (i as f64 + 0.5),
                            HEIGHT - BOTTOM - plot_h * v / top
                        )
                    })
                })
                .collect::<Vec<_>>()
                .join(" ");
            chart.lines.push(Line {
                points,
                class: s.class,
            });
        }
        chart
    }
}

/// A bilan's chart of one of its section's tables, as the workspace draws
/// it.
pub fn chart_of(chart: &ChartOf, tables: &[Table]) -> Chart {
    let table = &tables[chart.table];
    // As many characters as the room under the axis holds (a chart shows
    // every label up to eight, else one in two, three…; 600 units wide,
    // about 7 units a character).
    let every = table.rows.len().div_ceil(8).max(1);
    let shown = table.rows.len().div_ceil(every).max(1);
    let room = 600 / shown / 7;
    let labels: Vec<String> = table
        .rows
        .iter()
        .map(|r| match r.first() {
            Some(Value::Text(t)) if t.chars().count() > room => {
                let cut: String = t.chars().take(room.saturating_sub(1)).collect();
                format!("{}…", cut.trim_end())
            }
            Some(Value::Text(t)) => t.clone(),
            _ => String::new(),
        })
        .collect();
    let series: Vec<Series> = chart
        .columns
        .iter()
        .enumerate()
        .map(|(k, &col)| Series {
            name: table.head[col].clone(),
            class: match (chart.lines, k) {
                (true, 0) => "line1",
                (true, _) => "line2",
                (false, 0) => "bar1",
                (false, _) => "bar2",
            },
            values: table
                .rows
                .iter()
                .map(|r| r.get(col).and_then(Value::plotted))
                .collect(),
        })
        .collect();
    let draw = if chart.lines {
        Chart::lines
    } else {
        Chart::bars
    };
    draw(
        chart.id,
        &chart.title,
        &chart.description,
        &labels,
        &series,
        chart.unit,
    )
}

/// The same chart's SVG: how the application layer draws a bilan's charts
/// ([`avip_app::reports::DrawChart`]).
pub fn svg_of(chart: &ChartOf, tables: &[Table]) -> Result<String, String> {
    chart_of(chart, tables).render().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_rises_in_four_round_steps() {
        assert_eq!(nice_max(5.0), 8.0);
        assert_eq!(nice_max(37.5), 40.0);
        assert_eq!(nice_max(100.0), 100.0);
        assert_eq!(nice_max(0.0), 4.0);
        assert_eq!(nice_max(1.0), 1.0);
        assert_eq!(nice_max(730.0), 800.0);
    }

    #[test]
    fn a_chart_is_drawn_with_its_text() {
        let chart = Chart::bars(
            "t",
            "Titre",
            "Description",
            &["2026-01".to_owned()],
            &[Series {
                name: "Reçues".to_owned(),
                class: "bar1",
                values: vec![Some(3.0)],
            }],
            "",
        );
        let png = avip_app::reports::png(&chart.render().unwrap(), 1.0).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        // The text is drawn: the same chart without it is smaller.
        let mut bare = chart;
        bare.labels.clear();
        bare.keys.clear();
        bare.ticks.clear();
        let bare = avip_app::reports::png(&bare.render().unwrap(), 1.0).unwrap();
        assert!(png.len() > bare.len() + 1000);
    }

    #[test]
    fn months_are_short_under_the_axis() {
        assert_eq!(short_month("2026-11"), "nov. 2026");
        assert_eq!(short_month("2027-01"), "janv. 2027");
        assert_eq!(short_month("Les Lucioles"), "Les Lucioles");
    }
}
