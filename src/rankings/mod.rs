//! Rankings (月度通报, 季度考核): each department's figures over a period, the composite
//! score and place, the projects over their "3211" target, and the items behind every
//! figure — a `Report`, the one value that the page, the workbook, the PNG, the printed
//! page, the JSON and the published (frozen) copy are all made from.
//!
//! - `period`: the periods (month, two months, quarter, year) and their keys;
//! - `score`: the figures, the score and the places (pure);
//! - `compare`: what differs between a published report and the data now (pure);
//! - `gather`: reading a period's inputs from the store into a `score::Tally` (I/O);
//! - `workbook`, `html`: the outputs (pure: a report in, bytes or text out); the PNG is
//!   `charts::png::ranking`; `output` picks one by format.
//! - `schedule`: the monthly publication and its mail; `panel`: the screens' ranking.

pub mod compare;
pub mod gather;
pub mod html;
pub mod output;
pub mod panel;
pub mod period;
pub mod schedule;
pub mod score;
pub mod workbook;

use chrono::{DateTime, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::grading::Grade;
pub use period::{Period, Span};
pub use score::{Cutoffs, Weights};

/// A period's rankings as computed (or as published). Every field has a default, so an
/// edition published by an older release still reads back when fields are added.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Report {
    /// The period's key (`2026-10`).
    pub period: String,
    pub span: Span,
    /// 2026年10月.
    pub title: String,
    /// The key of the period the change of place is measured from.
    pub previous: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The city's (or office's) name, for the title.
    pub city: String,
    /// Computed before the period ended: figures so far (本期截至目前).
    pub so_far: bool,
    /// When the data were read, in the configured zone (as the pages show times).
    pub data_time: DateTime<chrono::FixedOffset>,
    pub formula: String,
    pub weights: Weights,
    /// The assessment's cut-offs (quarter and year).
    pub cutoffs: Option<Cutoffs>,
    /// Departments with finished items, in place order.
    pub ranked: Vec<DepartmentRow>,
    /// Departments without finished items in the period: listed apart, not placed.
    pub unranked: Vec<DepartmentRow>,
    /// Projects whose government time passed their category's target in the period.
    pub projects_over: Vec<ProjectLine>,
    /// Every item that counted in a figure, by department, most overdue first.
    pub items: Vec<ItemLine>,
    /// Items read from the store.
    pub items_read: u64,
    /// Items (and projects) left out: a day they count is in a year the calendar lacks.
    pub ungraded: Vec<String>,
    /// SHA-256 of the inputs that counted (items' record hashes, warnings, answers, the
    /// calendar, the formula): a published report whose inputs changed since says so.
    pub digest: String,
}

impl Report {
    /// Every department's row, ranked first.
    pub fn rows(&self) -> impl Iterator<Item = &DepartmentRow> {
        self.ranked.iter().chain(&self.unranked)
    }

    pub fn items_of<'a>(&'a self, department: &'a str) -> impl Iterator<Item = &'a ItemLine> {
        self.items
            .iter()
            .filter(move |i| i.department == department)
    }

    /// Takes the places of the period before from its published edition, so that a change
    /// of place is measured against what was announced.
    pub fn measure_from(&mut self, previous: &Report) {
        for row in &mut self.ranked {
            row.previous_place = previous
                .ranked
                .iter()
                .find(|p| p.department == row.department)
                .and_then(|p| p.place);
            row.change = row
                .place
                .zip(row.previous_place)
                .map(|(now, then)| i64::from(then) - i64::from(now));
        }
    }
}

impl ItemLine {
    /// Late: finished after its deadline, over it at the period's end, or red then (the
    /// lists of overdue items).
    pub fn is_late(&self) -> bool {
        (self.finished && !self.on_time) || self.overdue_days > 0 || self.red_at_end
    }
}

/// A department's figures over the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DepartmentRow {
    pub department: String,
    /// `None` for a department without finished items.
    pub place: Option<u32>,
    pub previous_place: Option<u32>,
    /// Places gained since the period before (negative: lost).
    pub change: Option<i64>,
    pub received: u32,
    pub finished: u32,
    pub on_time: u32,
    pub on_time_rate: Option<f64>,
    /// Mean of used / allowed over the items finished.
    pub mean_share: Option<f64>,
    /// Mean of 1 − used / legal over the items finished.
    pub compression: Option<f64>,
    pub overdue_days: u32,
    pub red_pending: u32,
    /// Open (pending or paused) at the period's end.
    pub pending_end: u32,
    pub warnings: u32,
    pub answers: u32,
    /// Mean working hours from an item's warning to its answer.
    pub answer_hours: Option<f64>,
    /// Mean applicants' rating (1–5) of the items finished.
    pub rating: Option<f64>,
    pub rating_count: u32,
    pub score: f64,
    /// 优秀 / 良好 / 合格 / 不合格 (quarter and year).
    pub grade: Option<String>,
}

/// An item as it counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemLine {
    pub item_id: String,
    pub department: String,
    pub project_code: String,
    pub project_name: String,
    pub matter: String,
    pub accepted_on: NaiveDate,
    pub deadline: NaiveDate,
    pub used: u32,
    pub allowed: u32,
    pub legal: u32,
    pub finished_on: Option<NaiveDate>,
    /// Finished or withdrawn in the period, or paused or pending at its end.
    pub status: crate::item::Status,
    /// On its finish date, or at the period's end.
    pub grade: Grade,
    pub received: bool,
    pub finished: bool,
    pub on_time: bool,
    pub overdue_days: u32,
    pub red_at_end: bool,
    pub rating: Option<u8>,
    pub warnings: u32,
    pub answers: u32,
}

/// A project over its target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProjectLine {
    pub project_code: String,
    pub project_name: String,
    pub category: String,
    pub target_days: u32,
    pub government_days: u32,
    pub over_by: u32,
    pub departments: Vec<String>,
}

/// The items left out, as a cell or a paragraph says them: the first 50 ids and the count
/// (a spreadsheet cell holds at most 32,767 characters).
pub fn ungraded_text(ids: &[String]) -> String {
    const SHOWN: usize = 50;
    if ids.len() <= SHOWN {
        ids.join("、")
    } else {
        format!("{} 等 {} 件", ids[..SHOWN].join("、"), ids.len())
    }
}

/// A share as a percentage with one decimal (`87.5%`), or a dash.
pub fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_owned(), |x| format!("{:.1}%", x * 100.0))
}

#[cfg(test)]
mod tests;
