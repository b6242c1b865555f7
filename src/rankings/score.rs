//! The scores (pure): a `Tally` takes the stored items one at a time, with the warnings
//! and answers of the period, and counts each department's figures for a period and the
//! one before it; `finish` turns the counts into a `Report` with the composite score,
//! places, the change of place and the items behind every figure. It takes the calendar,
//! the grading policy and the weights, and reads no clock: `now` (the data's time) comes in.
//!
//! What counts, for a period from its first day to its last (local dates):
//! - received: accepted in the period; finished: finished in it (withdrawn items are
//!   neither finished nor late), graded on the finish date;
//! - on time: finished no later than the deadline; share used: used / allowed (items with
//!   no working days allowed are left out of the mean); compression: 1 − used / legal
//!   (items without a statutory limit left out);
//! - overdue working days: used − allowed of each item finished late in the period, plus
//!   of each item still pending at the period's end past its deadline, counted to that end;
//! - red at the end: pending on the last day and red then (a paused item keeps its grade);
//! - warnings: each item a rule warned in the period (once a rule and window, however many
//!   people were told); answers: the departments' answers (回告) in the period, and for
//!   each the working hours since the item's latest warning before it;
//! - rating: the mean applicants' rating (好差评, 1–5) of the items finished in the period.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::period::Period;
use super::{DepartmentRow, ItemLine, ProjectLine, Report};
use crate::calendar::Calendar;
use crate::grading::project::government_days;
use crate::grading::{self, ClockInput, Grade, GradingPolicy};
use crate::item::{Item, Status};

/// The composite score's weights (`[rankings.weights]`): points of each part out of the
/// parts that have data, and the points taken off per overdue working day and per item red
/// at the period's end.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    pub on_time: f64,
    pub speed: f64,
    pub compression: f64,
    pub answers: f64,
    pub rating: f64,
    pub overdue_day: f64,
    pub red_item: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            on_time: 40.0,
            speed: 20.0,
            compression: 20.0,
            answers: 10.0,
            rating: 10.0,
            overdue_day: 2.0,
            red_item: 20.0,
        }
    }
}

/// The assessment's cut-offs (`[rankings.grades]`): a score at or above `excellent` is
/// 优秀, at or above `good` 良好, at or above `pass` 合格, below it 不合格.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cutoffs {
    pub excellent: f64,
    pub good: f64,
    pub pass: f64,
}

impl Default for Cutoffs {
    fn default() -> Self {
        Self {
            excellent: 90.0,
            good: 80.0,
            pass: 60.0,
        }
    }
}

impl Cutoffs {
    pub fn grade(&self, score: f64) -> &'static str {
        if score >= self.excellent {
            "优秀"
        } else if score >= self.good {
            "良好"
        } else if score >= self.pass {
            "合格"
        } else {
            "不合格"
        }
    }
}

/// Everything a score depends on besides the data.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub calendar: &'a Calendar,
    pub policy: &'a GradingPolicy,
    pub tz: Tz,
    /// Government-time targets per project category ("3211").
    pub targets: &'a BTreeMap<String, u32>,
    pub weights: Weights,
    pub cutoffs: Cutoffs,
    /// The office hours an answer's delay is counted in, on working days.
    pub hours: (NaiveTime, NaiveTime),
}

/// The formula as every output prints it.
pub fn formula(weights: &Weights) -> String {
    format!(
        "综合得分 = 100 × (按时办结率×{} + (1−平均用时占比)×{} + 压缩率×{} + 回告率×{} + 满意度×{}) ÷ 有数据各项权重之和 \
         − (超期工作日 ÷ 计入件数)×{} − (期末红灯件 ÷ 计入件数)×{}（最低0分），计入件数 = 本期办结件 + 期末在办件。满意度 = (平均评分−1)÷4；没有数据的一项不计入，其余各项按权重折算。\
         同分时依次比较：按时办结率高者在前、超期工作日少者在前、办结件多者在前；仍相同者并列。本期没有办结件的部门不参加排名，另列。",
        weights.on_time,
        weights.speed,
        weights.compression,
        weights.answers,
        weights.rating,
        weights.overdue_day,
        weights.red_item
    )
}

/// A department's counts over one period.
#[derive(Debug, Clone, Default)]
struct Counts {
    received: u32,
    finished: u32,
    on_time: u32,
    share_sum: f64,
    share_count: u32,
    compression_sum: f64,
    compression_count: u32,
    overdue_days: u32,
    red_pending: u32,
    /// Pending (or paused) at the period's end.
    pending_end: u32,
    warnings: u32,
    answers: u32,
    answer_hours_sum: f64,
    answer_hours_count: u32,
    rating_sum: u32,
    rating_count: u32,
}

/// One item's part in a period, worked out once.
struct Part {
    line: ItemLine,
    share: Option<f64>,
    compression: Option<f64>,
}

/// The counts of a period and of the period before it, filled an item at a time.
pub struct Tally<'a> {
    rules: Rules<'a>,
    period: Period,
    previous: Period,
    current: HashMap<String, Counts>,
    before: HashMap<String, Counts>,
    lines: Vec<ItemLine>,
    /// Item id → its line in `lines`.
    line_index: HashMap<String, usize>,
    /// Project code → (name, category).
    projects: HashMap<String, (String, String)>,
    /// The clocks and departments of the items of projects that have a target.
    project_clocks: HashMap<String, Vec<(ClockInput, String)>>,
    /// Items left out: a day they count falls in a year the calendar does not hold.
    ungraded: Vec<String>,
    /// Items seen, and the digest of the inputs that counted.
    seen: u64,
    digest: sha2::Sha256,
}

impl<'a> Tally<'a> {
    pub fn new(rules: Rules<'a>, period: Period) -> Self {
        use sha2::Digest;
        let mut digest = sha2::Sha256::new();
        digest.update(period.key().as_bytes());
        digest.update(rules.calendar.fingerprint().as_bytes());
        digest.update(formula(&rules.weights).as_bytes());
        // Everything else a figure depends on: a changed target, threshold, cut-off or
        // office hours makes the same items score differently.
        digest.update(
            format!(
                "{:?}|{:?}|{:?}|{:?}|{}",
                rules.targets, rules.policy, rules.cutoffs, rules.hours, rules.tz
            )
            .as_bytes(),
        );
        Self {
            rules,
            period,
            previous: period.previous(),
            current: HashMap::new(),
            before: HashMap::new(),
            lines: Vec::new(),
            line_index: HashMap::new(),
            projects: HashMap::new(),
            project_clocks: HashMap::new(),
            ungraded: Vec::new(),
            seen: 0,
            digest,
        }
    }

    /// A project's name and category (before its items).
    pub fn project(&mut self, code: &str, name: &str, category: &str) {
        self.projects
            .insert(code.to_owned(), (name.to_owned(), category.to_owned()));
    }

    /// A department to list whether or not anything of it counts (the catalogue's).
    pub fn department(&mut self, name: &str) {
        use sha2::Digest;
        self.digest.update(b"d");
        self.digest.update(name.as_bytes());
        self.current.entry(name.to_owned()).or_default();
    }

    /// One stored item. The digest takes what the item counted as (its line, in this
    /// period and the one before), not its record: an item pending at the end that
    /// finishes later changes no figure of the period, nor its digest.
    pub fn item(&mut self, item: &Item) {
        self.seen += 1;
        let tz = self.rules.tz;
        let clock = ClockInput::from_item(item, tz);
        if clock.accepted_on > self.period.to() {
            return;
        }
        let targeted = self
            .projects
            .get(&item.project_code)
            .is_some_and(|(_, category)| self.rules.targets.contains_key(category));
        if targeted {
            self.project_clocks
                .entry(item.project_code.clone())
                .or_default()
                .push((clock.clone(), item.department.clone()));
        }
        let before = self.part(item, &clock, self.previous);
        let current = self.part(item, &clock, self.period);
        match (before, current) {
            (Ok(before), Ok(current)) => {
                if let Some(part) = before {
                    self.digest_line(b"p", &part.line);
                    add(
                        self.before.entry(item.department.clone()).or_default(),
                        &part,
                    );
                }
                if let Some(part) = current {
                    self.digest_line(b"c", &part.line);
                    add(
                        self.current.entry(item.department.clone()).or_default(),
                        &part,
                    );
                    self.line_index
                        .insert(item.item_id.clone(), self.lines.len());
                    self.lines.push(part.line);
                }
            }
            _ => self.ungraded.push(item.item_id.clone()),
        }
    }

    /// Every field of `line` that a figure or the drill-down shows, each text ended by a 0
    /// byte (up to a million lines: written field by field, not serialised).
    fn digest_line(&mut self, tag: &[u8], line: &ItemLine) {
        use chrono::Datelike;
        use sha2::Digest;
        let d = &mut self.digest;
        d.update(tag);
        for text in [
            line.item_id.as_str(),
            &line.department,
            &line.project_code,
            &line.project_name,
            &line.matter,
            line.status.as_str(),
            line.grade.as_str(),
        ] {
            d.update(text.as_bytes());
            d.update([0]);
        }
        for day in [
            Some(line.accepted_on),
            Some(line.deadline),
            line.finished_on,
        ] {
            d.update(day.map_or(0, |day| day.num_days_from_ce()).to_le_bytes());
        }
        for n in [line.used, line.allowed, line.legal, line.overdue_days] {
            d.update(n.to_le_bytes());
        }
        d.update([
            u8::from(line.received),
            u8::from(line.finished),
            u8::from(line.on_time),
            u8::from(line.red_at_end),
            line.rating.unwrap_or(0),
        ]);
    }

    /// An item a rule warned at `at` (its department as stored).
    pub fn warned(&mut self, item_id: &str, department: &str, at: DateTime<Utc>) {
        let day = at.with_timezone(&self.rules.tz).date_naive();
        for (period, counts) in [
            (self.period, &mut self.current),
            (self.previous, &mut self.before),
        ] {
            if period.contains(day) {
                counts.entry(department.to_owned()).or_default().warnings += 1;
            }
        }
        if self.period.contains(day) {
            use sha2::Digest;
            self.digest.update(b"w");
            self.digest.update(item_id.as_bytes());
            self.digest.update(at.timestamp_millis().to_le_bytes());
            if let Some(line) = self.line_mut(item_id) {
                line.warnings += 1;
            }
        }
    }

    /// A department's answer at `at` about an item, and the latest warning of that item
    /// before it (if any).
    pub fn answered(
        &mut self,
        item_id: &str,
        department: &str,
        at: DateTime<Utc>,
        warned_at: Option<DateTime<Utc>>,
    ) {
        let day = at.with_timezone(&self.rules.tz).date_naive();
        let hours = warned_at
            .map(|w| working_hours(self.rules.calendar, self.rules.tz, self.rules.hours, w, at));
        for (period, counts) in [
            (self.period, &mut self.current),
            (self.previous, &mut self.before),
        ] {
            if period.contains(day) {
                let counts = counts.entry(department.to_owned()).or_default();
                counts.answers += 1;
                if let Some(h) = hours {
                    counts.answer_hours_sum += h;
                    counts.answer_hours_count += 1;
                }
            }
        }
        if self.period.contains(day) {
            use sha2::Digest;
            self.digest.update(b"a");
            self.digest.update(item_id.as_bytes());
            self.digest.update(at.timestamp_millis().to_le_bytes());
            if let Some(line) = self.line_mut(item_id) {
                line.answers += 1;
            }
        }
    }

    fn line_mut(&mut self, item_id: &str) -> Option<&mut ItemLine> {
        let index = *self.line_index.get(item_id)?;
        self.lines.get_mut(index)
    }

    /// `item`'s part in `period`; `None` when it counts in none of the figures.
    fn part(
        &self,
        item: &Item,
        clock: &ClockInput,
        period: Period,
    ) -> Result<Option<Part>, crate::calendar::CalendarError> {
        let (from, to) = (period.from(), period.to());
        let Some(at_end) = clock.as_of(to) else {
            return Ok(None);
        };
        let received = period.contains(clock.accepted_on);
        let ended = at_end.ended_on;
        let finished = item.status == Status::Finished && ended.is_some_and(|d| d >= from);
        let withdrawn_in = item.status == Status::Withdrawn && ended.is_some_and(|d| d >= from);
        let pending_at_end = ended.is_none();
        if !(received || finished || pending_at_end || withdrawn_in) {
            return Ok(None);
        }
        let thresholds = self
            .rules
            .policy
            .thresholds_for(&item.matter, &item.department);
        let graded_on = ended.unwrap_or(to);
        let grading = grading::grade(&at_end, &thresholds, self.rules.calendar, graded_on)?;
        let late_days = if grading.overdue {
            grading.used.saturating_sub(grading.allowed)
        } else {
            0
        };
        let counts_overdue = (finished || pending_at_end) && grading.overdue;
        let share = (finished && grading.allowed > 0)
            .then(|| f64::from(grading.used) / f64::from(grading.allowed));
        let compression = (finished && item.legal_days > 0)
            .then(|| 1.0 - f64::from(grading.used) / f64::from(item.legal_days));
        let (project_name, _) = self
            .projects
            .get(&item.project_code)
            .cloned()
            .unwrap_or_default();
        Ok(Some(Part {
            line: ItemLine {
                item_id: item.item_id.clone(),
                department: item.department.clone(),
                project_code: item.project_code.clone(),
                project_name,
                matter: item.matter.clone(),
                accepted_on: clock.accepted_on,
                deadline: grading.deadline_date,
                used: grading.used,
                allowed: grading.allowed,
                legal: item.legal_days,
                finished_on: ended.filter(|_| finished),
                status: if finished {
                    Status::Finished
                } else if withdrawn_in {
                    Status::Withdrawn
                } else if grading.paused {
                    Status::Paused
                } else {
                    Status::Pending
                },
                grade: grading.grade,
                received,
                finished,
                on_time: finished && !grading.overdue,
                overdue_days: if counts_overdue { late_days } else { 0 },
                red_at_end: pending_at_end && grading.grade == Grade::Red,
                rating: item.rating.filter(|_| finished),
                warnings: 0,
                answers: 0,
            },
            share,
            compression,
        }))
    }

    /// The report: scores, places, the change from the period before, the projects that
    /// passed their target in the period, and the items behind the figures.
    pub fn finish(self, city: &str, now: DateTime<Utc>) -> Report {
        use sha2::Digest;
        let Tally {
            rules,
            period,
            previous,
            current,
            before,
            mut lines,
            line_index: _,
            projects,
            project_clocks,
            mut ungraded,
            seen,
            digest,
        } = self;
        let places_before: HashMap<String, u32> = rank(rows(&rules, before))
            .0
            .into_iter()
            .filter_map(|r| r.place.map(|p| (r.department, p)))
            .collect();
        let (mut ranked, unranked) = rank(rows(&rules, current));
        for row in &mut ranked {
            row.previous_place = places_before.get(&row.department).copied();
            row.change = row
                .place
                .zip(row.previous_place)
                .map(|(now, then)| i64::from(then) - i64::from(now));
            if period.span.is_assessment() {
                row.grade = Some(rules.cutoffs.grade(row.score).to_owned());
            }
        }
        let projects_over =
            projects_over(&rules, period, &projects, &project_clocks, &mut ungraded);
        lines.sort_by(|a, b| {
            (&a.department, b.overdue_days, &a.item_id).cmp(&(
                &b.department,
                a.overdue_days,
                &b.item_id,
            ))
        });
        ungraded.sort();
        ungraded.dedup();
        let today = now.with_timezone(&rules.tz).date_naive();
        Report {
            period: period.key(),
            span: period.span,
            title: period.title(),
            previous: previous.key(),
            from: period.from(),
            to: period.to(),
            city: city.to_owned(),
            so_far: today <= period.to(),
            data_time: {
                use chrono::SubsecRound;
                now.trunc_subsecs(0).with_timezone(&rules.tz).fixed_offset()
            },
            formula: formula(&rules.weights),
            weights: rules.weights,
            cutoffs: period.span.is_assessment().then_some(rules.cutoffs),
            ranked,
            unranked,
            projects_over,
            items: lines,
            items_read: seen,
            ungraded,
            digest: hex::encode(digest.finalize()),
        }
    }
}

/// Adds an item's part to its department's counts.
fn add(counts: &mut Counts, part: &Part) {
    let line = &part.line;
    counts.received += u32::from(line.received);
    counts.finished += u32::from(line.finished);
    counts.on_time += u32::from(line.on_time);
    if let Some(share) = part.share {
        counts.share_sum += share;
        counts.share_count += 1;
    }
    if let Some(c) = part.compression {
        counts.compression_sum += c;
        counts.compression_count += 1;
    }
    counts.overdue_days += line.overdue_days;
    counts.red_pending += u32::from(line.red_at_end);
    counts.pending_end += u32::from(matches!(line.status, Status::Pending | Status::Paused));
    if let Some(r) = line.rating {
        counts.rating_sum += u32::from(r);
        counts.rating_count += 1;
    }
}

fn ratio(sum: f64, count: u32) -> Option<f64> {
    (count > 0).then(|| sum / f64::from(count))
}

/// The departments' rows with their scores, not yet placed.
fn rows(rules: &Rules<'_>, counts: HashMap<String, Counts>) -> Vec<DepartmentRow> {
    let w = &rules.weights;
    counts
        .into_iter()
        .map(|(department, c)| {
            let on_time_rate = ratio(f64::from(c.on_time), c.finished);
            let mean_share = ratio(c.share_sum, c.share_count);
            let compression = ratio(c.compression_sum, c.compression_count);
            let answer_rate =
                (c.warnings > 0).then(|| (f64::from(c.answers) / f64::from(c.warnings)).min(1.0));
            let rating = ratio(f64::from(c.rating_sum), c.rating_count);
            let parts = [
                (w.on_time, on_time_rate),
                (w.speed, mean_share.map(|s| (1.0 - s).clamp(0.0, 1.0))),
                (w.compression, compression.map(|c| c.clamp(0.0, 1.0))),
                (w.answers, answer_rate),
                (w.rating, rating.map(|r| ((r - 1.0) / 4.0).clamp(0.0, 1.0))),
            ];
            let (points, weight) = parts
                .iter()
                .filter_map(|(w, v)| v.map(|v| (w * v, *w)))
                .fold((0.0, 0.0), |(p, t), (wp, w)| (p + wp, t + w));
            let base = if weight > 0.0 {
                100.0 * points / weight
            } else {
                0.0
            };
            // Per item the department had in hand (finished, or still open at the end), so a
            // large department is not marked down for its size.
            let load = f64::from((c.finished + c.pending_end).max(1));
            let score = (base
                - w.overdue_day * f64::from(c.overdue_days) / load
                - w.red_item * f64::from(c.red_pending) / load)
                .max(0.0);
            DepartmentRow {
                department,
                place: None,
                previous_place: None,
                change: None,
                received: c.received,
                finished: c.finished,
                on_time: c.on_time,
                on_time_rate,
                mean_share,
                compression,
                overdue_days: c.overdue_days,
                red_pending: c.red_pending,
                pending_end: c.pending_end,
                warnings: c.warnings,
                answers: c.answers,
                answer_hours: ratio(c.answer_hours_sum, c.answer_hours_count),
                rating,
                rating_count: c.rating_count,
                score: round2(score),
                grade: None,
            }
        })
        .collect()
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Places the departments with finished items (the rest are returned apart, by name): by
/// score, then on-time rate, then fewer overdue days, then more items finished; equal on
/// all of these, the same place (并列), listed by name.
fn rank(rows: Vec<DepartmentRow>) -> (Vec<DepartmentRow>, Vec<DepartmentRow>) {
    let (mut ranked, mut unranked): (Vec<_>, Vec<_>) =
        rows.into_iter().partition(|r| r.finished > 0);
    let key = |r: &DepartmentRow| {
        (
            std::cmp::Reverse(ordered(r.score)),
            std::cmp::Reverse(ordered(r.on_time_rate.unwrap_or(0.0))),
            r.overdue_days,
            std::cmp::Reverse(r.finished),
        )
    };
    ranked.sort_by(|a, b| {
        key(a)
            .cmp(&key(b))
            .then_with(|| a.department.cmp(&b.department))
    });
    let mut place = 0;
    for i in 0..ranked.len() {
        if i == 0 || key(&ranked[i]) != key(&ranked[i - 1]) {
            place = i as u32 + 1;
        }
        ranked[i].place = Some(place);
    }
    unranked.sort_by(|a, b| a.department.cmp(&b.department));
    (ranked, unranked)
}

/// A score or rate as an integer of ten-thousandths, to compare and sort on.
fn ordered(x: f64) -> i64 {
    (x * 10_000.0).round() as i64
}

/// The projects whose government time passed their category's target in the period: over
/// it at the period's end, not over it at the end of the day before the period began.
fn projects_over(
    rules: &Rules<'_>,
    period: Period,
    projects: &HashMap<String, (String, String)>,
    clocks: &HashMap<String, Vec<(ClockInput, String)>>,
    ungraded: &mut Vec<String>,
) -> Vec<ProjectLine> {
    let (from, to) = (period.from(), period.to());
    let eve = from.pred_opt().unwrap_or(from);
    let mut out = Vec::new();
    for (code, items) in clocks {
        let Some((name, category)) = projects.get(code) else {
            continue;
        };
        let Some(&target) = rules.targets.get(category) else {
            continue;
        };
        let as_of = |day: NaiveDate| -> Vec<ClockInput> {
            items.iter().filter_map(|(c, _)| c.as_of(day)).collect()
        };
        let (end, start) = (as_of(to), as_of(eve));
        match (
            government_days(&end, rules.calendar, to),
            government_days(&start, rules.calendar, eve),
        ) {
            (Ok(at_end), Ok(before)) if at_end > target && before <= target => {
                let mut departments: Vec<String> = items.iter().map(|(_, d)| d.clone()).collect();
                departments.sort();
                departments.dedup();
                out.push(ProjectLine {
                    project_code: code.clone(),
                    project_name: name.clone(),
                    category: category.clone(),
                    target_days: target,
                    government_days: at_end,
                    over_by: at_end - target,
                    departments,
                });
            }
            (Ok(_), Ok(_)) => {}
            _ => ungraded.push(format!("project {code}")),
        }
    }
    out.sort_by(|a, b| (b.over_by, &a.project_code).cmp(&(a.over_by, &b.project_code)));
    out
}

/// The office hours (`hours`, local) on working days between two instants: how long a
/// department took to answer, as the office counts it.
pub fn working_hours(
    calendar: &Calendar,
    tz: Tz,
    hours: (NaiveTime, NaiveTime),
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> f64 {
    if to <= from {
        return 0.0;
    }
    let (start_day, end_day) = (
        from.with_timezone(&tz).date_naive(),
        to.with_timezone(&tz).date_naive(),
    );
    let mut seconds = 0i64;
    let mut day = start_day;
    while day <= end_day {
        if calendar.is_working_day(day).unwrap_or(false) {
            let open = crate::warnings::quiet::at_local(day, hours.0, tz);
            let close = crate::warnings::quiet::at_local(day, hours.1, tz);
            let (a, b) = (open.max(from), close.min(to));
            if b > a {
                seconds += (b - a).num_seconds();
            }
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    round2(seconds as f64 / 3600.0)
}
