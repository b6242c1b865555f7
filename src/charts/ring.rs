//! The three-colour ring: open items by grade as arcs of a ring, the total in its middle,
//! and each grade's word, count and share beside it, with the overdue count.

use std::f64::consts::PI;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::input::Counts;
use super::{
    ChartError, Drawing, GRADES, MUTED, RED, SMALL, TEXT, TRACK, bold, font, rect, svg, text,
};

/// Drawn for the screen's ring box (402×221 at 1920×1080) only: its layout is fixed, and a
/// larger box scales it up (a round chart has no other shape to take).
pub const DRAWINGS: [Drawing; 1] = [Drawing {
    file: "ring",
    size: (400, 220),
}];

pub fn draw(counts: &Counts, overdue: u64) -> Result<String, ChartError> {
    svg("ring", DRAWINGS[0].size, |area, _| {
        let centre = (106.0, 110.0);
        let (outer, inner) = (102.0, 70.0);
        let values = [counts.blue, counts.yellow, counts.red];
        let total = counts.total();
        let (cx, cy) = (centre.0 as i32, centre.1 as i32);
        area.draw(&Circle::new((cx, cy), outer as i32, TRACK.filled()))?;
        if total > 0 {
            let mut start = -PI / 2.0;
            for (value, (_, c, _)) in values.iter().zip(GRADES.iter()) {
                if *value == 0 {
                    continue;
                }
                let sweep = 2.0 * PI * *value as f64 / total as f64;
                // A thin gap between arcs keeps neighbouring colours apart.
                // (never more than a quarter of a small arc, so it is not drawn backwards).
                let gap = if *value == total {
                    0.0
                } else {
                    (sweep / 4.0).min(0.015)
                };
                area.draw(&Polygon::new(
                    arc(centre, outer, inner, start + gap, start + sweep - gap),
                    c.filled(),
                ))?;
                start += sweep;
            }
        }
        area.draw(&Circle::new(
            (cx, cy),
            inner as i32,
            RGBColor(0x0B, 0x1D, 0x3A).filled(),
        ))?;
        text(
            area,
            total.to_string(),
            (cx, cy - 10),
            &bold(30.0, &TEXT, HPos::Center, VPos::Center),
        )?;
        text(
            area,
            "在办件",
            (cx, cy + 22),
            &font(SMALL, &MUTED, HPos::Center, VPos::Center),
        )?;

        let x = 226;
        for (i, (value, (_, c, word))) in values.iter().zip(GRADES.iter()).enumerate() {
            let y = 14 + 50 * i as i32;
            rect(area, (x, y - 7), (x + 14, y + 7), c)?;
            text(
                area,
                *word,
                (x + 20, y),
                &font(SMALL, &TEXT, HPos::Left, VPos::Center),
            )?;
            let share = if total > 0 {
                *value as f64 * 100.0 / total as f64
            } else {
                0.0
            };
            text(
                area,
                // One decimal, as the cards beside the ring show it.
                format!("{value}  {share:.1}%"),
                (x + 20, y + 22),
                &bold(SMALL, c, HPos::Left, VPos::Center),
            )?;
        }
        let y = 14 + 50 * 3;
        text(
            area,
            "逾期未办结",
            (x, y),
            &font(SMALL, &MUTED, HPos::Left, VPos::Center),
        )?;
        text(
            area,
            overdue.to_string(),
            (x, y + 24),
            &bold(22.0, &RED, HPos::Left, VPos::Center),
        )?;
        Ok(())
    })
}

/// The outline of a ring segment from angle `a` to `b` (radians, clockwise on screen).
fn arc(centre: (f64, f64), outer: f64, inner: f64, a: f64, b: f64) -> Vec<(i32, i32)> {
    let steps = (((b - a).abs() / (2.0 * PI)) * 120.0).ceil().max(2.0) as usize;
    let point = |r: f64, t: f64| {
        (
            (centre.0 + r * t.cos()).round() as i32,
            (centre.1 + r * t.sin()).round() as i32,
        )
    };
    let angles = (0..=steps).map(|i| a + (b - a) * i as f64 / steps as f64);
    let mut points: Vec<(i32, i32)> = angles.clone().map(|t| point(outer, t)).collect();
    points.extend(angles.rev().map(|t| point(inner, t)));
    points
}
