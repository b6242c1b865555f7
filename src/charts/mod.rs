//! The screens' charts, drawn with plotters as SVG documents from the live figures. Pure:
//! figures in, SVG text out; the live task draws each chart once per change and every
//! client receives the same text. Each is drawn at the size of its box on the 1920×1080
//! stage (or a little smaller), and some also for the other shape their box takes on a wide
//! wall (see [`Drawing`]): the page places the drawing that fills its box without shrinking
//! it, so a size in the drawing is at least that size on the stage, and no text is smaller
//! than [`SMALL`]. Where labels do not fit they are thinned out (fewer ticks and dates,
//! names cut with the full name in a `<title>`, the last bars summed), never shrunk.
//! Colours are chosen to stay apart for colour-blind viewers (blue, light yellow, vermilion
//! differ in lightness as well as hue), and every colour is drawn beside its word and
//! count, never alone.
//!
//! - `input`: the figures drawn (counts and rows), as the live task counts them.
//! - `ring`: open items by grade, with the overdue count.
//! - `bars`: departments and stages as stacked bars by grade.
//! - `trend`: 30 days of yellow and red counts.
//! - `projects`: government time used against the "3211" target.
//! - `png`: one department's items by grade as a PNG for the email, in a CJK font file.

pub mod bars;
pub mod input;
pub mod png;
pub mod projects;
pub mod ring;
pub mod trend;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::grading::Grade;

pub const BLUE: RGBColor = RGBColor(0x4A, 0xA3, 0xF0);
pub const YELLOW: RGBColor = RGBColor(0xF5, 0xD0, 0x33);
pub const RED: RGBColor = RGBColor(0xE8, 0x48, 0x3F);
pub const TEXT: RGBColor = RGBColor(0xDC, 0xE6, 0xF5);
pub const MUTED: RGBColor = RGBColor(0x8A, 0x9B, 0xB8);
pub const GRID: RGBColor = RGBColor(0x24, 0x3B, 0x5E);
pub const TRACK: RGBColor = RGBColor(0x13, 0x27, 0x47);

/// Chinese-capable fonts a screen's browser is likely to have, best first.
const FONTS: &str =
    "Microsoft YaHei, PingFang SC, Noto Sans CJK SC, WenQuanYi Micro Hei, sans-serif";

/// The three grades in order, with their colours and words.
pub const GRADES: [(Grade, RGBColor, &str); 3] = [
    (Grade::Blue, BLUE, "蓝 超前"),
    (Grade::Yellow, YELLOW, "黄 正常"),
    (Grade::Red, RED, "红 超期"),
];

pub fn colour(grade: Grade) -> RGBColor {
    match grade {
        Grade::Blue => BLUE,
        Grade::Yellow => YELLOW,
        Grade::Red => RED,
    }
}

#[derive(Debug, thiserror::Error)]
#[error("drawing the {chart} chart failed: {reason}")]
pub struct ChartError {
    chart: &'static str,
    reason: String,
}

pub(crate) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
pub(crate) type Drawn = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// The smallest text on a chart, in pixels of the drawing and so of the stage: a hall
/// screen is read from 5–10 m.
pub(crate) const SMALL: f64 = 18.0;

/// One drawing of a chart: its file's name (`/live/charts/{file}.svg`) and the box, in
/// stage pixels, it is drawn for. A chart's first drawing is for its box on the 1920×1080
/// stage; another is for a box of another shape on a wide wall, where the first would be
/// scaled up to its height or width and leave the rest of the box empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drawing {
    pub file: &'static str,
    pub size: (u32, u32),
}

/// Draws on a `width`×`height` SVG and returns the document, with the full names of the
/// labels that were cut as their `<title>`s.
pub(crate) fn svg(
    chart: &'static str,
    (width, height): (u32, u32),
    draw: impl FnOnce(&Area, &mut Titles) -> Drawn,
) -> Result<String, ChartError> {
    let mut out = String::with_capacity(16 * 1024);
    let mut titles = Titles::default();
    {
        let area = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        draw(&area, &mut titles)
            .and_then(|()| area.present())
            .map_err(|e| ChartError {
                chart,
                reason: e.to_string(),
            })?;
    }
    Ok(titles.write_into(&out))
}

/// The labels cut to fit, with their full names, in the order drawn. plotters writes no
/// `<title>`, so they are put into the finished document: each after the next `<text>` that
/// holds its cut label (plotters writes a text as `>\n{escaped}\n</text>`).
#[derive(Default)]
pub(crate) struct Titles(Vec<(String, String)>);

impl Titles {
    /// Draws `name` cut to `max` ems; when it was cut, `full` (the whole name, which
    /// may be longer still) becomes the label's `<title>`, a tooltip where the screen is
    /// opened on a PC.
    pub(crate) fn label(
        &mut self,
        area: &Area,
        name: &str,
        full: &str,
        max: f64,
        at: (i32, i32),
        style: &TextStyle,
    ) -> Drawn {
        let shown = cut(name, max);
        if shown != name {
            self.0.push((shown.clone(), full.to_owned()));
        }
        text(area, shown, at, style)
    }

    fn write_into(&self, svg: &str) -> String {
        let mut out = String::with_capacity(svg.len() + 64 * self.0.len());
        let mut rest = svg;
        for (shown, full) in &self.0 {
            let drawn = format!(">\n{}\n", escape(shown));
            let Some(at) = rest.find(&format!("{drawn}</text>")) else {
                continue;
            };
            let (before, after) = rest.split_at(at + drawn.len());
            out.push_str(before);
            out.push_str(&format!("<title>{}</title>\n", escape(full)));
            rest = after;
        }
        out.push_str(rest);
        out
    }
}

/// `s` escaped for SVG text as plotters escapes it.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The width `s` takes at `px` pixels, estimated (text is not measured): a Chinese
/// character is 1 em, a digit, Latin letter or sign at most 0.62 em in the fonts a screen
/// has (bold included).
pub(crate) fn width(s: &str, px: f64) -> i32 {
    (ems(s) * px).ceil() as i32
}

fn ems(s: &str) -> f64 {
    s.chars().map(em).sum()
}

fn em(c: char) -> f64 {
    if c.is_ascii() { 0.62 } else { 1.0 }
}

/// A text style: plotters writes `size / 1.24` as the SVG font size, so this takes the
/// pixel size wanted and scales it back.
pub(crate) fn font<'a>(px: f64, colour: &'a RGBColor, h: HPos, v: VPos) -> TextStyle<'a> {
    TextStyle::from((FONTS, px * 1.24).into_font())
        .color(colour)
        .pos(Pos::new(h, v))
}

pub(crate) fn bold<'a>(px: f64, colour: &'a RGBColor, h: HPos, v: VPos) -> TextStyle<'a> {
    TextStyle::from((FONTS, px * 1.24, FontStyle::Bold).into_font())
        .color(colour)
        .pos(Pos::new(h, v))
}

pub(crate) fn text(area: &Area, s: impl Into<String>, at: (i32, i32), style: &TextStyle) -> Drawn {
    area.draw(&Text::new(s.into(), at, style.clone()))
}

pub(crate) fn rect(area: &Area, from: (i32, i32), to: (i32, i32), colour: &RGBColor) -> Drawn {
    area.draw(&Rectangle::new([from, to], colour.filled()))
}

/// `name` cut with an ellipsis to at most `max` ems (a Chinese character is one: see
/// [`width`]); text is not measured, so long names are kept to what fits.
pub(crate) fn cut(name: &str, max: f64) -> String {
    if ems(name) <= max {
        return name.to_owned();
    }
    let mut s = String::new();
    let mut used = 1.0; // the ellipsis
    for c in name.chars() {
        used += em(c);
        if used > max {
            break;
        }
        s.push(c);
    }
    s.push('…');
    s
}

/// A legend row: a swatch and the grade's word for each grade, centred on `at.1`.
pub(crate) fn legend(area: &Area, at: (i32, i32)) -> Drawn {
    let (mut x, y) = at;
    for (_, c, word) in &GRADES {
        rect(area, (x, y - 7), (x + 14, y + 7), c)?;
        text(
            area,
            *word,
            (x + 20, y),
            &font(SMALL, &TEXT, HPos::Left, VPos::Center),
        )?;
        x += 20 + width(word, SMALL) + 18;
    }
    Ok(())
}

/// The height a [`legend`] row takes at the top of a chart, with the gap below it.
pub(crate) const LEGEND_HEIGHT: i32 = 30;

/// Round numbers for an axis from 0 to at least `max`: (step, top).
pub(crate) fn axis_steps(max: u64) -> (u64, u64) {
    let max = max.max(1);
    let raw = max.div_ceil(4);
    let magnitude = 10u64.pow(raw.ilog10());
    let step = [1, 2, 5, 10]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10 * magnitude);
    (step, max.div_ceil(step) * step)
}

#[cfg(test)]
mod tests;
