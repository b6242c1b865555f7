//! The 30-day trend: yellow and red open items at the end of each day, as two lines over a
//! grid, with today's values written at the right end.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::input::TrendDay;
use super::{
    ChartError, Drawing, GRID, MUTED, RED, SMALL, TEXT, YELLOW, axis_steps, bold, font, rect, svg,
    text, width,
};

/// Drawn for the trend box at 1920×1080 (572×286), and for the wider one on a 32:9 wall
/// (898×286), where the first would leave a third of the box empty.
pub const DRAWINGS: [Drawing; 2] = [
    Drawing {
        file: "trend",
        size: (570, 284),
    },
    Drawing {
        file: "trend-wide",
        size: (880, 284),
    },
];

/// A line: its colour, its word, and the count it draws.
type Series = (RGBColor, &'static str, fn(&TrendDay) -> u64);

pub fn draw(days: &[TrendDay], size: (u32, u32)) -> Result<String, ChartError> {
    let (width_px, height) = (size.0 as i32, size.1 as i32);
    let series: [Series; 2] = [
        (YELLOW, "黄 正常", |d| d.yellow),
        (RED, "红 超期", |d| d.red),
    ];
    let max = days.iter().map(|d| d.yellow.max(d.red)).max().unwrap_or(0);
    let (step, scale_top) = axis_steps(max);
    // Room for the longest tick at the left and today's values at the right.
    let left = 8 + width(&scale_top.to_string(), SMALL) + 8;
    let today = days.last().map_or(0, |d| d.yellow.max(d.red));
    let right = width_px - 8 - width(&today.to_string(), SMALL) - 8;
    svg("trend", size, |area, _| {
        let (top, bottom) = (44, height - 30);
        let y_of = |v: u64| {
            bottom - ((v as f64 / scale_top as f64) * f64::from(bottom - top)).round() as i32
        };
        let n = days.len().max(2) as i32 - 1;
        let x_of =
            |i: usize| left + (f64::from(right - left) * i as f64 / f64::from(n)).round() as i32;
        let mut tick = 0;
        while tick <= scale_top {
            let y = y_of(tick);
            area.draw(&PathElement::new(
                vec![(left, y), (right, y)],
                GRID.stroke_width(1),
            ))?;
            text(
                area,
                tick.to_string(),
                (left - 8, y),
                &font(SMALL, &MUTED, HPos::Right, VPos::Center),
            )?;
            tick += step;
        }
        // Every k-th day is labelled, counted back from today: the least k of these that
        // leaves 24 px between two labels.
        let label = width("11-25", SMALL);
        let per_day = f64::from(right - left) / f64::from(n);
        let every = [1, 5, 7, 10, 15]
            .into_iter()
            .find(|k| *k as f64 * per_day >= f64::from(label + 24))
            .unwrap_or(15);
        for (i, day) in days.iter().enumerate() {
            if i % every == (days.len() - 1) % every {
                text(
                    area,
                    day.date.format("%m-%d").to_string(),
                    (x_of(i), bottom + 16),
                    &font(SMALL, &MUTED, HPos::Center, VPos::Center),
                )?;
            }
        }
        let mut lx = left;
        let mut ends = Vec::with_capacity(series.len());
        for (colour, word, value) in &series {
            let points: Vec<(i32, i32)> = days
                .iter()
                .enumerate()
                .map(|(i, d)| (x_of(i), y_of(value(d))))
                .collect();
            area.draw(&PathElement::new(points.clone(), colour.stroke_width(3)))?;
            for p in &points {
                area.draw(&Circle::new(*p, 3, colour.filled()))?;
            }
            rect(area, (lx, 12), (lx + 22, 16), colour)?;
            text(
                area,
                *word,
                (lx + 28, 14),
                &font(SMALL, &TEXT, HPos::Left, VPos::Center),
            )?;
            lx += 28 + width(word, SMALL) + 24;
            if let (Some(last), Some(day)) = (points.last(), days.last()) {
                ends.push((*last, value(day), colour));
            }
        }
        // Today's two values, at their lines' ends, kept a line of text apart.
        if let [(a, _, _), (b, _, _)] = ends.as_mut_slice() {
            let apart = 20 - (a.1 - b.1).abs();
            if apart > 0 {
                let (upper, lower) = if a.1 <= b.1 { (a, b) } else { (b, a) };
                upper.1 -= apart / 2 + apart % 2;
                lower.1 += apart / 2;
            }
        }
        for ((x, y), count, colour) in ends {
            text(
                area,
                count.to_string(),
                (x + 8, y),
                &bold(SMALL, colour, HPos::Left, VPos::Center),
            )?;
        }
        Ok(())
    })
}
