//! The figures the screens show, counted from the board on one day: headline numbers, open
//! items by grade (in all, per department, per stage), the 30-day trend, the projects
//! furthest into their "3211" targets, and the newest red items. Open items are re-graded on
//! the day asked about, so used days, days over and paused deadlines are today's, not those
//! of the last grade change. Pure: the board, the calendar and the day in, values out.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::board::{Board, Entry, ProjectName};
use crate::calendar::Calendar;
use crate::charts::input::{Counts, DepartmentRow, ProjectRow, StageRow, TrendDay};
use crate::grading::project::{government_days, grade_project};
use crate::grading::{self, ClockInput, Grade, Thresholds};
use crate::item::{STAGE_NAMES, Status};

/// How many projects and red items a screen lists.
pub const PROJECT_ROWS: usize = 10;
pub const RED_ROWS: usize = 30;
/// Days in the trend, today included.
pub const TREND_DAYS: usize = 30;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Headline {
    /// Open items: pending or paused.
    pub pending: u64,
    pub paused: u64,
    /// Open items past their deadline date.
    pub overdue: u64,
    pub finished_today: u64,
    pub finished_this_month: u64,
    /// Share of this month's finished items finished on time; `None` before the first.
    pub on_time_rate: Option<f64>,
    /// Open items that cannot be graded today (a date in a year whose holidays are not
    /// loaded): left out of the other figures, so they are counted here.
    pub ungradable: u64,
    /// Open items whose deadline or days used depend on a provisional year (暂定).
    pub provisional: u64,
    /// Why some figures are provisional, or that next year's holiday file is missing: the
    /// line the screens' calendar banner shows (set by the caller, which knows the config).
    pub calendar: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedRow {
    pub item_id: String,
    pub department: String,
    pub project_name: String,
    pub matter: String,
    /// The first day the item was red.
    pub red_since: NaiveDate,
    /// Working days used beyond those allowed.
    pub days_over: u32,
    /// Its department answered (回告) and the answer holds today. The counting here is
    /// pure and has no store: the caller sets it from the answers it read.
    pub answered: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub today: NaiveDate,
    pub headline: Headline,
    pub ring: Counts,
    pub departments: Vec<DepartmentRow>,
    pub stages: Vec<StageRow>,
    pub trend: Vec<TrendDay>,
    pub projects: Vec<ProjectRow>,
    pub red_list: Vec<RedRow>,
    /// The red items longest overdue (most working days over first).
    pub overdue_list: Vec<RedRow>,
}

/// A red item as counted: the day it turned red, working days over, its entry.
type Red<'a> = (NaiveDate, u32, &'a Entry);

/// The first `RED_ROWS` of `red` in `order`, as rows. Only they are shown: they are picked
/// in linear time, and only they are sorted (a large board has hundreds of thousands of
/// red items).
fn first_rows(
    names: &crate::board::Names,
    mut red: Vec<Red<'_>>,
    order: impl Fn(&Red<'_>, &Red<'_>) -> std::cmp::Ordering,
) -> Vec<RedRow> {
    if red.len() > RED_ROWS {
        red.select_nth_unstable_by(RED_ROWS - 1, &order);
        red.truncate(RED_ROWS);
    }
    red.sort_by(&order);
    red.into_iter()
        .map(|(red_since, days_over, entry)| RedRow {
            item_id: entry.item_id.clone(),
            department: names.department(entry.labels.department).to_string(),
            project_name: names.project(entry.labels.project).name.to_string(),
            matter: names.matter(entry.labels.matter).to_string(),
            red_since,
            days_over,
            answered: false,
        })
        .collect()
}

/// Counts everything on `today`, projects included: [`count`], then [`ProjectClocks`] and
/// [`rank_projects`] over the whole board at once.
pub fn count_all(
    board: &Board,
    calendar: &Calendar,
    targets: &BTreeMap<String, u32>,
    project_thresholds: &Thresholds,
    today: NaiveDate,
    past_days: &[TrendDay],
) -> Figures {
    let (mut figures, open) = count(board, calendar, today, past_days);
    let mut clocks = ProjectClocks::default();
    clocks.add(board, board.entries(), &open);
    figures.projects = rank_projects(clocks, calendar, targets, project_thresholds, today);
    figures
}

/// Counts everything but the projects on `today`, and returns the projects that have open
/// items. `past_days` is the trend before today (see [`trend_before`]); today's point is
/// added from the live counts. Only red and paused items are re-graded: a running item's
/// stored grade is kept current by the grader at its next-change instant, and only red
/// items need today's days over.
pub fn count(
    board: &Board,
    calendar: &Calendar,
    today: NaiveDate,
    past_days: &[TrendDay],
) -> (Figures, HashSet<u32>) {
    let names = board.names();
    let mut headline = Headline::default();
    let mut ring = Counts::default();
    let mut departments = vec![Counts::default(); names.departments().len()];
    let mut stages = [Counts::default(); 4];
    let mut on_time_this_month = 0u64;
    let mut open_projects: HashSet<u32> = HashSet::new();
    let mut red: Vec<Red<'_>> = Vec::new();

    for entry in board.entries() {
        let labels = entry.labels;
        if let Some(ended) = entry.clock.ended_on {
            if labels.status == Status::Finished && same_month(ended, today) && ended <= today {
                headline.finished_this_month += 1;
                on_time_this_month += u64::from(!entry.grading.overdue);
                headline.finished_today += u64::from(ended == today);
            }
            continue;
        }
        if entry.clock.accepted_on > today {
            continue;
        }
        let live = if entry.grading.grade == Grade::Red || entry.clock.paused_since.is_some() {
            match entry.grade_on(calendar, today) {
                Some(live) => live,
                None => {
                    headline.ungradable += 1;
                    continue;
                }
            }
        } else {
            entry.grading
        };
        headline.pending += 1;
        headline.paused += u64::from(live.paused);
        headline.provisional += u64::from(live.provisional);
        // A stopped clock is overdue only if the item was already red when it stopped.
        let overdue = if live.paused {
            live.grade == Grade::Red
        } else {
            live.overdue
        };
        headline.overdue += u64::from(overdue);
        ring.add(live.grade);
        departments[labels.department as usize].add(live.grade);
        if let Some(stage) = stages.get_mut(usize::from(labels.stage).wrapping_sub(1)) {
            stage.add(live.grade);
        }
        open_projects.insert(labels.project);
        if live.grade == Grade::Red {
            let red_since = entry
                .thresholds
                .first_red_day(live.deadline_date, live.allowed);
            let days_over = u32::try_from(-live.remaining).unwrap_or(0);
            red.push((red_since, days_over, entry));
        }
    }
    headline.on_time_rate = (headline.finished_this_month > 0)
        .then(|| on_time_this_month as f64 / headline.finished_this_month as f64);

    let mut department_rows: Vec<DepartmentRow> = departments
        .into_iter()
        .enumerate()
        .filter(|(_, c)| c.total() > 0)
        .map(|(id, counts)| {
            let name = names.department(id as u32).to_string();
            DepartmentRow {
                id: name.clone(),
                name,
                counts,
            }
        })
        .collect();
    department_rows.sort_by(|a, b| {
        (b.counts.red, b.counts.yellow, &a.name).cmp(&(a.counts.red, a.counts.yellow, &b.name))
    });

    // Newest red first (then the fewer days over, then the id); and the longest overdue
    // (most days over, then red longest, then the id), the items that need the office most.
    let red_list = first_rows(names, red.clone(), |a, b| {
        (b.0, a.1, &a.2.item_id).cmp(&(a.0, b.1, &b.2.item_id))
    });
    let overdue_list = first_rows(names, red, |a, b| {
        (b.1, a.0, &a.2.item_id).cmp(&(a.1, b.0, &b.2.item_id))
    });

    let mut trend = past_days.to_vec();
    trend.push(TrendDay {
        date: today,
        yellow: ring.yellow,
        red: ring.red,
    });

    let figures = Figures {
        today,
        headline,
        ring,
        departments: department_rows,
        stages: stages
            .iter()
            .enumerate()
            .map(|(i, counts)| StageRow {
                stage: i as u8 + 1,
                name: STAGE_NAMES[i],
                counts: *counts,
            })
            .collect(),
        trend,
        projects: Vec::new(),
        red_list,
        overdue_list,
    };
    (figures, open_projects)
}

/// The trend's days before `today`: for each, the items open at its end, graded on it with
/// the clock as it then stood.
pub fn trend_before(board: &Board, calendar: &Calendar, today: NaiveDate) -> Vec<TrendDay> {
    let mut tally = TrendTally::new(today);
    tally.add(board.entries(), calendar);
    tally.finish()
}

/// The trend's past days counted a slice of entries at a time, so a caller can let go of the
/// board between slices (29 gradings per item take a while on a large board).
pub struct TrendTally {
    days: Vec<NaiveDate>,
    counts: Vec<Counts>,
}

impl TrendTally {
    pub fn new(today: NaiveDate) -> Self {
        let days: Vec<NaiveDate> = (1..TREND_DAYS as u64)
            .rev()
            .filter_map(|back| today.checked_sub_days(chrono::Days::new(back)))
            .collect();
        Self {
            counts: vec![Counts::default(); days.len()],
            days,
        }
    }

    pub fn add(&mut self, entries: &[Entry], calendar: &Calendar) {
        let (Some(&first), Some(&last)) = (self.days.first(), self.days.last()) else {
            return;
        };
        for entry in entries {
            // Items that ended before the window or were accepted after it add nothing.
            if entry.clock.ended_on.is_some_and(|end| end <= first)
                || entry.clock.accepted_on > last
            {
                continue;
            }
            for (day, count) in self.days.iter().zip(self.counts.iter_mut()) {
                let Some(then) = entry.clock.as_of(*day) else {
                    continue;
                };
                if then.ended_on.is_some() {
                    continue;
                }
                if let Ok(grading) = grading::grade(&then, &entry.thresholds, calendar, *day) {
                    count.add(grading.grade);
                }
            }
        }
    }

    pub fn finish(self) -> Vec<TrendDay> {
        self.days
            .into_iter()
            .zip(self.counts)
            .map(|(date, c)| TrendDay {
                date,
                yellow: c.yellow,
                red: c.red,
            })
            .collect()
    }
}

fn same_month(a: NaiveDate, b: NaiveDate) -> bool {
    a.year() == b.year() && a.month() == b.month()
}

/// The clocks of every item of the projects that have open items, gathered a slice of the
/// board at a time; the government days are counted from them without the board.
#[derive(Default)]
pub struct ProjectClocks {
    projects: HashMap<u32, (ProjectName, Vec<ClockInput>)>,
}

impl ProjectClocks {
    pub fn add(&mut self, board: &Board, entries: &[Entry], open: &HashSet<u32>) {
        for entry in entries {
            let id = entry.labels.project;
            if open.contains(&id) {
                self.projects
                    .entry(id)
                    .or_insert_with(|| (board.names().project(id).clone(), Vec::new()))
                    .1
                    .push(entry.clock.clone());
            }
        }
    }
}

/// The projects that have used the largest share of their category's target, worst first.
pub fn rank_projects(
    clocks: ProjectClocks,
    calendar: &Calendar,
    targets: &BTreeMap<String, u32>,
    thresholds: &Thresholds,
    today: NaiveDate,
) -> Vec<ProjectRow> {
    let mut rows: Vec<(f64, ProjectRow)> = clocks
        .projects
        .into_values()
        .filter_map(|(project, clocks)| {
            let target = *targets.get(&*project.category)?;
            let days = government_days(&clocks, calendar, today).ok()?;
            let graded = grade_project(days, target, thresholds);
            Some((
                f64::from(days) / f64::from(target),
                ProjectRow {
                    code: project.code.to_string(),
                    name: project.name.to_string(),
                    category: project.category.to_string(),
                    government_days: days,
                    target_days: target,
                    grade: graded.grade,
                },
            ))
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.code.cmp(&b.1.code)));
    rows.into_iter()
        .take(PROJECT_ROWS)
        .map(|(_, row)| row)
        .collect()
}

#[cfg(test)]
mod tests;
