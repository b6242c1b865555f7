//! The 30-day trend: yellow and red open items at the end of each day, as two lines over a
//! grid, with today's values written at the right end.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{ChartError, GRID, MUTED, RED, TEXT, YELLOW, axis_steps, bold, font, rect, svg, text};
use crate::live::figures::TrendDay;

/// Drawn for the screen's trend box (about 570×285 at 1920×1080).
pub const SIZE: (u32, u32) = (570, 285);

/// A line: its colour, its word, and the count it draws.
type Series = (RGBColor, &'static str, fn(&TrendDay) -> u64);

pub fn draw(days: &[TrendDay]) -> Result<String, ChartError> {
    let (width, height) = (SIZE.0 as i32, SIZE.1 as i32);
    svg("trend", SIZE, |area| {
        let (left, right, top, bottom) = (44, width - 44, 34, height - 24);
        let max = days.iter().map(|d| d.yellow.max(d.red)).max().unwrap_or(0);
        let (step, scale_top) = axis_steps(max);
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
                &font(12.0, &MUTED, HPos::Right, VPos::Center),
            )?;
            tick += step;
        }
        for (i, day) in days.iter().enumerate() {
            if i % 5 == (days.len() - 1) % 5 {
                text(
                    area,
                    day.date.format("%m-%d").to_string(),
                    (x_of(i), bottom + 14),
                    &font(12.0, &MUTED, HPos::Center, VPos::Center),
                )?;
            }
        }
        let series: [Series; 2] = [
            (YELLOW, "黄 正常", |d| d.yellow),
            (RED, "红 超期", |d| d.red),
        ];
        for (k, (colour, word, value)) in series.iter().enumerate() {
            let points: Vec<(i32, i32)> = days
                .iter()
                .enumerate()
                .map(|(i, d)| (x_of(i), y_of(value(d))))
                .collect();
            area.draw(&PathElement::new(points.clone(), colour.stroke_width(2)))?;
            for p in &points {
                area.draw(&Circle::new(*p, 2, colour.filled()))?;
            }
            let lx = left + 110 * k as i32;
            rect(area, (lx, 10), (lx + 18, 13), colour)?;
            text(
                area,
                *word,
                (lx + 24, 12),
                &font(13.0, &TEXT, HPos::Left, VPos::Center),
            )?;
            if let (Some(last), Some(day)) = (points.last(), days.last()) {
                text(
                    area,
                    value(day).to_string(),
                    (last.0 + 8, last.1),
                    &bold(14.0, colour, HPos::Left, VPos::Center),
                )?;
            }
        }
        Ok(())
    })
}
