//! Projects against their "3211" category targets: each project's government time used as a
//! bar in its grade's colour over a track as long as its target, with "used/target".

use plotters::style::text_anchor::{HPos, VPos};

use super::input::ProjectRow;
use super::{
    ChartError, Drawing, LEGEND_HEIGHT, MUTED, SMALL, TEXT, TRACK, bold, colour, cut, font, legend,
    rect, svg, text, width,
};

/// Drawn for the projects box at 1920×1080 (369×322): its ten rows at most fill it, and a
/// larger box scales it up.
pub const DRAWINGS: [Drawing; 1] = [Drawing {
    file: "projects",
    size: (368, 320),
}];
/// The room for a project's name, in ems (Chinese characters), its ellipsis included.
const NAME_EMS: f64 = 6.0;
/// The least height of a row, for a bar and its "used/target" at `SMALL`.
const MIN_ROW: i32 = 26;

pub fn draw(rows: &[ProjectRow]) -> Result<String, ChartError> {
    let size = DRAWINGS[0].size;
    let (width_px, height) = (size.0 as i32, size.1 as i32);
    // The rows come worst first: as many as fit.
    let rows = &rows[..rows
        .len()
        .min(((height - LEGEND_HEIGHT) / MIN_ROW) as usize)];
    let figures: Vec<String> = rows
        .iter()
        .map(|r| format!("{}/{}", r.government_days, r.target_days))
        .collect();
    svg("projects", size, |area, titles| {
        legend(area, (8, LEGEND_HEIGHT / 2 - 2))?;
        if rows.is_empty() {
            return text(
                area,
                "暂无在办项目",
                (width_px / 2, height / 2),
                &font(SMALL, &MUTED, HPos::Center, VPos::Center),
            );
        }
        let names = rows
            .iter()
            .map(|r| width(&cut(&r.name, NAME_EMS), SMALL))
            .max()
            .unwrap_or(0);
        let widest = figures.iter().map(|f| width(f, SMALL)).max().unwrap_or(0);
        let (left, right, top) = (8 + names + 6, width_px - 6 - widest - 6, LEGEND_HEIGHT);
        // The scale fits the longest of targets and used times, so a target is a visible mark.
        let max = rows
            .iter()
            .map(|r| r.government_days.max(r.target_days))
            .max()
            .unwrap_or(1)
            .max(1);
        let row_h = ((height - top) / rows.len() as i32).min(34);
        for (i, (row, figure)) in rows.iter().zip(&figures).enumerate() {
            let y = top + row_h * i as i32;
            let thickness = (row_h - 8).min(20);
            let y0 = y + (row_h - thickness) / 2;
            let y1 = y0 + thickness;
            let mid = (y0 + y1) / 2;
            let x_of = |days: u32| {
                left + (f64::from(right - left) * f64::from(days) / f64::from(max)).round() as i32
            };
            titles.label(
                area,
                &row.name,
                &row.name,
                NAME_EMS,
                (left - 6, mid),
                &font(SMALL, &TEXT, HPos::Right, VPos::Center),
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
                figure.clone(),
                (width_px - 6, mid),
                &bold(SMALL, &colour(row.grade), HPos::Right, VPos::Center),
            )?;
        }
        Ok(())
    })
}
