//! Stacked bars by grade, one per row: the departments sorted by red (worst on top), and
//! the four approval stages in their order. The numbers travel beside the charts as data;
//! every bar carries its counts too, in its segments or, where one is too narrow, listed at
//! its end.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::input::{Counts, DepartmentRow, StageRow};
use super::{
    Area, ChartError, Drawing, Drawn, GRADES, LEGEND_HEIGHT, MUTED, SMALL, TEXT, TRACK, Titles,
    bold, cut, font, legend, rect, svg, text, width,
};

/// Drawn for the departments box at 1920×1080 (351×322), and for the tall one beside the
/// table on a wide wall (420×738 at 32:9, a few pixels to spare; wider at 48:9), which
/// holds 27 departments.
pub const DEPARTMENTS: [Drawing; 2] = [
    Drawing {
        file: "departments",
        size: (350, 320),
    },
    Drawing {
        file: "departments-tall",
        size: (416, 736),
    },
];
/// Drawn for the stages box at 1920×1080 (402×124); four bars need no other shape.
pub const STAGES: [Drawing; 1] = [Drawing {
    file: "stages",
    size: (400, 124),
}];
/// The least height of a row: a bar thick enough for its counts at [`SMALL`], and a gap.
const MIN_ROW: i32 = 26;
/// The room for a department's name, in ems (Chinese characters), its ellipsis included.
const NAME_EMS: f64 = 6.0;
/// Dark text on the light bar colours.
const ON_BAR: RGBColor = RGBColor(0x08, 0x14, 0x2A);
/// Between two counts listed at a bar's end, with a dot in the middle.
const LIST_GAP: i32 = 18;

fn values(c: &Counts) -> [u64; 3] {
    [c.blue, c.yellow, c.red]
}

/// A department's name without the city's "市" in front (every department has it), unless
/// the 市 begins a word of the name (市政公用服务单位, 市场监督管理局).
fn short_name(name: &str) -> &str {
    const WORDS: [&str; 5] = ["市政", "市场", "市民", "市容", "市级"];
    match name.strip_prefix('市') {
        Some(rest) if rest.starts_with('市') || !WORDS.iter().any(|w| name.starts_with(w)) => rest,
        _ => name,
    }
}

pub fn departments(rows: &[DepartmentRow], size: (u32, u32)) -> Result<String, ChartError> {
    let (width, height) = (size.0 as i32, size.1 as i32);
    // As many bars as fit at MIN_ROW; past that the last one sums the rest.
    let room = ((height - LEGEND_HEIGHT) / MIN_ROW).max(2) as usize;
    let mut shown: Vec<Bar> = rows
        .iter()
        .take(room)
        .map(|r| Bar {
            name: short_name(&r.name).to_owned(),
            full: r.name.clone(),
            counts: r.counts,
        })
        .collect();
    if rows.len() > room {
        let mut rest = Counts::default();
        for r in &rows[room - 1..] {
            rest.blue += r.counts.blue;
            rest.yellow += r.counts.yellow;
            rest.red += r.counts.red;
        }
        shown.truncate(room - 1);
        let name = format!("其他{}个", rows.len() - room + 1);
        shown.push(Bar {
            full: name.clone(),
            name,
            counts: rest,
        });
    }
    svg("departments", size, |area, titles| {
        legend(area, (8, LEGEND_HEIGHT / 2 - 2))?;
        if shown.is_empty() {
            return text(
                area,
                "暂无在办件",
                (width / 2, height / 2),
                &font(SMALL, &MUTED, HPos::Center, VPos::Center),
            );
        }
        let row_h = ((height - LEGEND_HEIGHT) / shown.len() as i32).min(34);
        let frame = Frame {
            left: 8 + width_of_names(&shown, NAME_EMS) + 6,
            right: width - 6,
            top: LEGEND_HEIGHT,
            row_h,
        };
        stacked(area, titles, &shown, NAME_EMS, &frame)
    })
}

pub fn stages(rows: &[StageRow]) -> Result<String, ChartError> {
    let size = STAGES[0].size;
    let (width, height) = (size.0 as i32, size.1 as i32);
    // The stages' first four characters name them (立项用地, 工程建设, …); the table under
    // the chart gives the whole names.
    let shown: Vec<Bar> = rows
        .iter()
        .map(|r| {
            let name: String = r.name.chars().take(4).collect();
            Bar {
                full: name.clone(),
                name,
                counts: r.counts,
            }
        })
        .collect();
    svg("stages", size, |area, titles| {
        let frame = Frame {
            left: 8 + width_of_names(&shown, 4.0) + 6,
            right: width - 6,
            top: 0,
            row_h: height / shown.len().max(1) as i32,
        };
        stacked(area, titles, &shown, 4.0, &frame)
    })
}

/// One bar: its label, the whole name (for the label's title when it is cut), its counts.
struct Bar {
    name: String,
    full: String,
    counts: Counts,
}

/// Where the bars go: names right-aligned before `left`, bars from `left` to at most
/// `right`, the first row's top at `top` and one row every `row_h`.
struct Frame {
    left: i32,
    right: i32,
    top: i32,
    row_h: i32,
}

fn width_of_names(bars: &[Bar], ems: f64) -> i32 {
    bars.iter()
        .map(|b| width(&cut(&b.name, ems), SMALL))
        .max()
        .unwrap_or(0)
}

/// Whether every segment of a bar drawn at `per` pixels an item holds its count.
fn counts_fit(c: &Counts, per: f64) -> bool {
    values(c)
        .iter()
        .all(|v| *v == 0 || *v as f64 * per >= f64::from(width(&v.to_string(), SMALL) + 6))
}

/// The width of a bar's counts listed at its end, with the space before them.
fn list_width(c: &Counts) -> i32 {
    8 + values(c)
        .iter()
        .map(|v| width(&v.to_string(), SMALL))
        .sum::<i32>()
        + 2 * LIST_GAP
}

/// Pixels per item: the longest bar fills the frame, unless a bar whose counts are listed at
/// its end would then push them past `right`. A smaller scale can make more segments too
/// narrow, each adding a bar that needs its list, so this is repeated until no bar is added
/// (at most once per bar).
fn scale(bars: &[Bar], frame: &Frame) -> f64 {
    let room = f64::from(frame.right - frame.left);
    let longest = bars.iter().map(|b| b.counts.total()).max().unwrap_or(0);
    let mut per = room / longest.max(1) as f64;
    for _ in 0..=bars.len() {
        let fitting = bars
            .iter()
            .filter(|b| b.counts.total() > 0 && !counts_fit(&b.counts, per))
            .map(|b| (room - f64::from(list_width(&b.counts))) / b.counts.total() as f64)
            .fold(per, f64::min)
            .max(0.0);
        if fitting >= per {
            break;
        }
        per = fitting;
    }
    per
}

/// Blue, then yellow, then red from the left, each row's name before it (cut, the whole
/// name as its title). Each segment carries its count where it fits; a bar with a segment
/// too narrow for it (or none at all) has its three counts listed at its end instead,
/// "4 · 8 · 5" in the grades' colours and order.
fn stacked(area: &Area, titles: &mut Titles, bars: &[Bar], ems: f64, frame: &Frame) -> Drawn {
    let per = scale(bars, frame);
    for (i, bar) in bars.iter().enumerate() {
        let y = frame.top + frame.row_h * i as i32;
        // Thick enough for a count at SMALL, with a gap to the next bar.
        let thickness = (frame.row_h - 4).min(24);
        let y0 = y + (frame.row_h - thickness) / 2;
        let y1 = y0 + thickness;
        let mid = (y0 + y1) / 2;
        titles.label(
            area,
            &bar.name,
            &bar.full,
            ems,
            (frame.left - 6, mid),
            &font(SMALL, &TEXT, HPos::Right, VPos::Center),
        )?;
        rect(area, (frame.left, y0), (frame.right, y1), &TRACK)?;
        let inside = bar.counts.total() > 0 && counts_fit(&bar.counts, per);
        let mut x = frame.left;
        for (v, (_, c, _)) in values(&bar.counts).iter().zip(GRADES.iter()) {
            let w = (*v as f64 * per).round() as i32;
            if w > 0 {
                rect(area, (x, y0), (x + w, y1), c)?;
                if inside {
                    text(
                        area,
                        v.to_string(),
                        (x + w / 2, mid),
                        &bold(SMALL, &ON_BAR, HPos::Center, VPos::Center),
                    )?;
                }
            }
            x += w;
        }
        if !inside {
            list(area, &bar.counts, (x + 8, mid))?;
        }
    }
    Ok(())
}

/// "4 · 8 · 5": the counts by grade from `at`, each in its grade's colour.
fn list(area: &Area, counts: &Counts, at: (i32, i32)) -> Drawn {
    let (mut x, y) = at;
    for (i, (v, (_, c, _))) in values(counts).iter().zip(GRADES.iter()).enumerate() {
        if i > 0 {
            text(
                area,
                "·",
                (x + LIST_GAP / 2, y),
                &bold(SMALL, &MUTED, HPos::Center, VPos::Center),
            )?;
            x += LIST_GAP;
        }
        let shown = v.to_string();
        text(
            area,
            shown.clone(),
            (x, y),
            &bold(SMALL, c, HPos::Left, VPos::Center),
        )?;
        x += width(&shown, SMALL);
    }
    Ok(())
}
