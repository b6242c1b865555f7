//! Stacked bars by grade: the departments as horizontal bars sorted by red (worst on top),
//! and the four approval stages as columns in their order, arrow to arrow.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{
    ChartError, GRADES, GRID, MUTED, TEXT, TRACK, axis_steps, bold, cut, font, legend, rect, svg,
    text,
};
use crate::live::figures::{Counts, DepartmentRow, StageRow};

pub const DEPARTMENTS_SIZE: (u32, u32) = (1000, 470);
pub const STAGES_SIZE: (u32, u32) = (560, 400);
/// Departments shown; the rest are summed into one row.
const DEPARTMENT_ROWS: usize = 14;

fn values(c: &Counts) -> [u64; 3] {
    [c.blue, c.yellow, c.red]
}

pub fn departments(rows: &[DepartmentRow]) -> Result<String, ChartError> {
    let mut shown: Vec<(String, Counts)> = rows
        .iter()
        .take(DEPARTMENT_ROWS)
        .map(|r| (cut(&r.name, 10), r.counts))
        .collect();
    if rows.len() > DEPARTMENT_ROWS {
        let mut rest = Counts::default();
        for r in &rows[DEPARTMENT_ROWS - 1..] {
            rest.blue += r.counts.blue;
            rest.yellow += r.counts.yellow;
            rest.red += r.counts.red;
        }
        shown.truncate(DEPARTMENT_ROWS - 1);
        shown.push((
            format!("其他 {} 个部门", rows.len() - DEPARTMENT_ROWS + 1),
            rest,
        ));
    }
    svg("departments", DEPARTMENTS_SIZE, |area| {
        legend(area, (200, 18), None)?;
        let (left, right, top) = (200, 900, 44);
        let max = shown.iter().map(|(_, c)| c.total()).max().unwrap_or(0);
        let (_, scale_top) = axis_steps(max);
        let row_h = if shown.is_empty() {
            28
        } else {
            ((470 - top - 10) / shown.len() as i32).min(40)
        };
        if shown.is_empty() {
            text(
                area,
                "暂无在办件",
                (500, 240),
                &font(20.0, &MUTED, HPos::Center, VPos::Center),
            )?;
        }
        for (i, (name, counts)) in shown.iter().enumerate() {
            let y = top + row_h * i as i32;
            let (y0, y1) = (y + row_h / 5, y + row_h - row_h / 5);
            let mid = (y0 + y1) / 2;
            text(
                area,
                name.clone(),
                (left - 12, mid),
                &font(16.0, &TEXT, HPos::Right, VPos::Center),
            )?;
            rect(area, (left, y0), (right, y1), &TRACK)?;
            let mut x = left;
            for (v, (_, c, _)) in values(counts).iter().zip(GRADES.iter()) {
                let w = (*v as f64 / scale_top as f64 * f64::from(right - left)).round() as i32;
                if w > 0 {
                    rect(area, (x, y0), (x + w, y1), c)?;
                    if w >= 30 {
                        text(
                            area,
                            v.to_string(),
                            (x + w / 2, mid),
                            &bold(
                                14.0,
                                &RGBColor(0x08, 0x14, 0x2A),
                                HPos::Center,
                                VPos::Center,
                            ),
                        )?;
                    }
                }
                x += w;
            }
            let summary = format!("红{} 黄{} 蓝{}", counts.red, counts.yellow, counts.blue);
            text(
                area,
                summary,
                (x + 8, mid),
                &font(13.0, &MUTED, HPos::Left, VPos::Center),
            )?;
        }
        Ok(())
    })
}

pub fn stages(rows: &[StageRow]) -> Result<String, ChartError> {
    svg("stages", STAGES_SIZE, |area| {
        legend(area, (24, 18), None)?;
        let (top, bottom) = (70, 300);
        let max = rows.iter().map(|r| r.counts.total()).max().unwrap_or(0);
        let (step, scale_top) = axis_steps(max);
        let col_w = 560 / rows.len().max(1) as i32;
        let mut tick = 0;
        while tick <= scale_top {
            let y = bottom - ((tick as f64 / scale_top as f64) * f64::from(bottom - top)) as i32;
            area.draw(&PathElement::new(
                vec![(20, y), (540, y)],
                GRID.stroke_width(1),
            ))?;
            tick += step;
        }
        for (i, row) in rows.iter().enumerate() {
            let cx = col_w * i as i32 + col_w / 2;
            let (x0, x1) = (cx - 34, cx + 34);
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
                (cx, y - 14),
                &bold(20.0, &TEXT, HPos::Center, VPos::Center),
            )?;
            text(
                area,
                format!("第{}阶段", ["一", "二", "三", "四"][i.min(3)]),
                (cx, bottom + 22),
                &font(14.0, &MUTED, HPos::Center, VPos::Center),
            )?;
            text(
                area,
                cut(row.name, 8),
                (cx, bottom + 46),
                &font(16.0, &TEXT, HPos::Center, VPos::Center),
            )?;
            text(
                area,
                format!(
                    "红{} 黄{} 蓝{}",
                    row.counts.red, row.counts.yellow, row.counts.blue
                ),
                (cx, bottom + 72),
                &font(13.0, &MUTED, HPos::Center, VPos::Center),
            )?;
            if i + 1 < rows.len() {
                let ax = col_w * (i as i32 + 1);
                area.draw(&Polygon::new(
                    vec![
                        (ax - 6, bottom + 38),
                        (ax + 6, bottom + 46),
                        (ax - 6, bottom + 54),
                    ],
                    MUTED.filled(),
                ))?;
            }
        }
        Ok(())
    })
}
