//! Projects against their "3211" category targets: each project's government time used as a
//! bar in its grade's colour over a track as long as its target, with "used/target".

use plotters::style::text_anchor::{HPos, VPos};

use super::{ChartError, MUTED, TEXT, TRACK, bold, colour, cut, font, legend, rect, svg, text};
use crate::live::figures::ProjectRow;

/// Drawn for the screen's projects box (about 370×320 at 1920×1080).
pub const SIZE: (u32, u32) = (370, 320);

pub fn draw(rows: &[ProjectRow]) -> Result<String, ChartError> {
    let (width, height) = (SIZE.0 as i32, SIZE.1 as i32);
    svg("projects", SIZE, |area| {
        legend(area, (8, 10))?;
        let (left, right, top) = (104, width - 58, 26);
        if rows.is_empty() {
            text(
                area,
                "暂无在办项目",
                (width / 2, height / 2),
                &font(15.0, &MUTED, HPos::Center, VPos::Center),
            )?;
        }
        // The scale fits the longest of targets and used times, so a target is a visible mark.
        let max = rows
            .iter()
            .map(|r| r.government_days.max(r.target_days))
            .max()
            .unwrap_or(1)
            .max(1);
        let row_h = ((height - top) / rows.len().max(1) as i32).min(32);
        for (i, row) in rows.iter().enumerate() {
            let y = top + row_h * i as i32;
            let (y0, y1) = (y + row_h / 5, y + row_h - row_h / 5);
            let mid = (y0 + y1) / 2;
            let x_of = |days: u32| {
                left + (f64::from(right - left) * f64::from(days) / f64::from(max)).round() as i32
            };
            text(
                area,
                cut(&row.name, 7),
                (left - 6, mid),
                &font(12.0, &TEXT, HPos::Right, VPos::Center),
            )?;
            rect(area, (left, y0), (x_of(row.target_days), y1), &TRACK)?;
            rect(
                area,
                (left, y0),
                (x_of(row.government_days), y1),
                &colour(row.grade),
            )?;
            // The target as a bright tick, so an overrun shows past it.
            let tx = x_of(row.target_days);
            rect(area, (tx - 1, y0 - 3), (tx + 1, y1 + 3), &TEXT)?;
            text(
                area,
                format!("{}/{}", row.government_days, row.target_days),
                (right + 6, mid),
                &bold(12.0, &colour(row.grade), HPos::Left, VPos::Center),
            )?;
        }
        Ok(())
    })
}
