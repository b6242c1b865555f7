//! Stacked bars by grade: the departments as horizontal bars sorted by red (worst on top),
//! and the four approval stages as columns in their order, arrow to arrow. The numbers
//! travel beside the charts as data; the bars carry the counts that fit in them.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{
    ChartError, GRADES, MUTED, TEXT, TRACK, axis_steps, bold, cut, font, legend, rect, svg, text,
};
use crate::live::figures::{Counts, DepartmentRow, StageRow};

/// Drawn for the screen's boxes at 1920×1080 (departments about 350×320, stages 400×125).
pub const DEPARTMENTS_SIZE: (u32, u32) = (350, 320);
pub const STAGES_SIZE: (u32, u32) = (400, 125);
/// Departments shown; the rest are summed into one row.
const DEPARTMENT_ROWS: usize = 14;
/// Dark text on the light bar colours.
const ON_BAR: RGBColor = RGBColor(0x08, 0x14, 0x2A);

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

pub fn departments(rows: &[DepartmentRow]) -> Result<String, ChartError> {
    let mut shown: Vec<(String, Counts)> = rows
        .iter()
        .take(DEPARTMENT_ROWS)
        .map(|r| (cut(short_name(&r.name), 6), r.counts))
        .collect();
    if rows.len() > DEPARTMENT_ROWS {
        let mut rest = Counts::default();
        for r in &rows[DEPARTMENT_ROWS - 1..] {
            rest.blue += r.counts.blue;
            rest.yellow += r.counts.yellow;
            rest.red += r.counts.red;
        }
        shown.truncate(DEPARTMENT_ROWS - 1);
        shown.push((format!("其他{}个", rows.len() - DEPARTMENT_ROWS + 1), rest));
    }
    let (width, height) = (DEPARTMENTS_SIZE.0 as i32, DEPARTMENTS_SIZE.1 as i32);
    svg("departments", DEPARTMENTS_SIZE, |area| {
        legend(area, (8, 10))?;
        let (left, right, top) = (92, width - 8, 26);
        if shown.is_empty() {
            text(
                area,
                "暂无在办件",
                (width / 2, height / 2),
                &font(15.0, &MUTED, HPos::Center, VPos::Center),
            )?;
        }
        let max = shown.iter().map(|(_, c)| c.total()).max().unwrap_or(0);
        let (_, scale_top) = axis_steps(max);
        let row_h = ((height - top) / shown.len().max(1) as i32).min(30);
        for (i, (name, counts)) in shown.iter().enumerate() {
            let y = top + row_h * i as i32;
            let (y0, y1) = (y + row_h / 6, y + row_h - row_h / 6);
            let mid = (y0 + y1) / 2;
            text(
                area,
                name.clone(),
                (left - 6, mid),
                &font(12.0, &TEXT, HPos::Right, VPos::Center),
            )?;
            rect(area, (left, y0), (right, y1), &TRACK)?;
            let mut x = left;
            for (v, (_, c, _)) in values(counts).iter().zip(GRADES.iter()) {
                let w = (*v as f64 / scale_top as f64 * f64::from(right - left)).round() as i32;
                if w > 0 {
                    rect(area, (x, y0), (x + w, y1), c)?;
                    if w >= 22 {
                        text(
                            area,
                            v.to_string(),
                            (x + w / 2, mid),
                            &bold(11.0, &ON_BAR, HPos::Center, VPos::Center),
                        )?;
                    }
                }
                x += w;
            }
        }
        Ok(())
    })
}

pub fn stages(rows: &[StageRow]) -> Result<String, ChartError> {
    let (width, height) = (STAGES_SIZE.0 as i32, STAGES_SIZE.1 as i32);
    svg("stages", STAGES_SIZE, |area| {
        let (top, bottom) = (22, height - 22);
        let max = rows.iter().map(|r| r.counts.total()).max().unwrap_or(0);
        let (_, scale_top) = axis_steps(max);
        let col_w = width / rows.len().max(1) as i32;
        for (i, row) in rows.iter().enumerate() {
            let cx = col_w * i as i32 + col_w / 2;
            let (x0, x1) = (cx - 22, cx + 22);
            let mut y = bottom;
            for (v, (_, c, _)) in values(&row.counts).iter().zip(GRADES.iter()) {
                let h = (*v as f64 / scale_top as f64 * f64::from(bottom - top)).round() as i32;
                if h > 0 {
                    rect(area, (x0, y - h), (x1, y), c)?;
                }
                y -= h;
            }
            text(
                area,
                row.counts.total().to_string(),
                (cx, y - 10),
                &bold(14.0, &TEXT, HPos::Center, VPos::Center),
            )?;
            text(
                area,
                // The stages' first four characters name them (立项用地, 工程建设, …).
                row.name.chars().take(4).collect::<String>(),
                (cx, bottom + 12),
                &font(12.0, &MUTED, HPos::Center, VPos::Center),
            )?;
            if i + 1 < rows.len() {
                let ax = col_w * (i as i32 + 1);
                let ay = bottom - 14;
                area.draw(&Polygon::new(
                    vec![(ax - 5, ay - 6), (ax + 5, ay), (ax - 5, ay + 6)],
                    MUTED.filled(),
                ))?;
            }
        }
        Ok(())
    })
}
