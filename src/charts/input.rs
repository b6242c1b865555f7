//! What the charts are drawn from: counts by grade, and the rows of departments, stages,
//! trend days and projects. The live task counts them from the board (`crate::live::figures`)
//! and sends them in the websocket JSON, so their serde names are the protocol's; the charts
//! take them as plain values and depend on nothing else of the daemon (pure).

use chrono::NaiveDate;
use serde::Serialize;

use crate::grading::Grade;

/// Items by grade: the ring, and each bar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub blue: u64,
    pub yellow: u64,
    pub red: u64,
}

impl Counts {
    /// Counts one item of `grade`.
    pub fn add(&mut self, grade: Grade) {
        match grade {
            Grade::Blue => self.blue += 1,
            Grade::Yellow => self.yellow += 1,
            Grade::Red => self.red += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.blue + self.yellow + self.red
    }
}

/// One department's open items by grade.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepartmentRow {
    /// What `/m/dept/{id}` takes: the department's name.
    pub id: String,
    pub name: String,
    #[serde(flatten)]
    pub counts: Counts,
}

/// One stage's open items by grade (stages 1–4, `crate::item::STAGE_NAMES`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageRow {
    pub stage: u8,
    pub name: &'static str,
    #[serde(flatten)]
    pub counts: Counts,
}

/// One day of the trend: the items yellow and red at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TrendDay {
    pub date: NaiveDate,
    pub yellow: u64,
    pub red: u64,
}

/// A project's government time against its "3211" target, and its grade.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectRow {
    pub code: String,
    pub name: String,
    pub category: String,
    pub government_days: u32,
    pub target_days: u32,
    pub grade: Grade,
}
