//! The screens' charts, drawn with plotters as SVG documents from the live figures. Pure:
//! figures in, SVG text out; the live task draws each chart once per change and every
//! client receives the same text. Colours are chosen to stay apart for colour-blind
//! viewers (blue, light yellow, vermilion differ in lightness as well as hue), and every
//! colour is drawn beside its word and count, never alone.
//!
//! - `ring`: open items by grade, with the overdue count.
//! - `bars`: departments and stages as stacked bars by grade.
//! - `trend`: 30 days of yellow and red counts.
//! - `projects`: government time used against the "3211" target.

pub mod bars;
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

/// Draws on a `width`×`height` SVG and returns the document.
pub(crate) fn svg(
    chart: &'static str,
    (width, height): (u32, u32),
    draw: impl FnOnce(&Area) -> Drawn,
) -> Result<String, ChartError> {
    let mut out = String::with_capacity(16 * 1024);
    {
        let area = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        draw(&area)
            .and_then(|()| area.present())
            .map_err(|e| ChartError {
                chart,
                reason: e.to_string(),
            })?;
    }
    Ok(out)
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

/// `name` cut to `max` characters with an ellipsis: text is not measured, so long Chinese
/// names are kept to what fits.
pub(crate) fn cut(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_owned()
    } else {
        let mut s: String = name.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// A legend row: a swatch and the grade's word for each grade.
pub(crate) fn legend(area: &Area, at: (i32, i32)) -> Drawn {
    let (mut x, y) = at;
    for (_, c, word) in &GRADES {
        rect(area, (x, y - 5), (x + 10, y + 5), c)?;
        text(
            area,
            *word,
            (x + 14, y),
            &font(12.0, &TEXT, HPos::Left, VPos::Center),
        )?;
        x += 24 + 12 * word.chars().count() as i32;
    }
    Ok(())
}

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
