//! The ledger table (挂图作战): a period's projects, each with its items in stage order —
//! acceptance, deadline, working days used of those allowed, pauses, finish and grade — and
//! the grade events of the period. Every item is shown as its record stood at the end of the
//! period (or today, for a period not yet over) and graded as of that day, so last month's
//! table does not change when an extension is granted this month. Pure: the store's
//! versions and events come in, rows go out.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::calendar::Calendar;
use crate::grading::{self, Grade, GradingPolicy};
use crate::item::{Item, Status};

/// The days a table covers, both included, and the day its items are graded on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// `to`, or today when the period is not over yet.
    pub graded_on: NaiveDate,
}

impl Period {
    pub fn new(from: NaiveDate, to: NaiveDate, today: NaiveDate) -> Self {
        Self {
            from,
            to,
            graded_on: to.min(today),
        }
    }

    /// The period's instants: from its first midnight to the midnight after its last day.
    pub fn bounds(&self, tz: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let start = grading::start_of_day(self.from, tz)?.with_timezone(&Utc);
        Some((start, super::end_of_day(self.to, tz)?))
    }
}

/// A project as the store names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectName {
    pub code: String,
    pub name: String,
    pub category: String,
}

/// A grade event as the table lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventLine {
    pub item_id: String,
    pub at: DateTime<Utc>,
    pub from: Option<Grade>,
    pub to: Grade,
    pub cause: String,
}

/// A pause as the table lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PauseLine {
    pub kind: &'static str,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

/// One item's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemLine {
    pub item_id: String,
    pub stage: u8,
    pub matter: String,
    pub department: String,
    pub status: Status,
    pub accepted_on: NaiveDate,
    pub deadline: NaiveDate,
    pub used: u32,
    pub allowed: u32,
    pub pauses: Vec<PauseLine>,
    pub finished_on: Option<NaiveDate>,
    pub grade: Grade,
    pub overdue: bool,
    /// Counted on a provisional holiday arrangement (暂定).
    pub provisional: bool,
    /// The record version shown.
    pub version: u32,
    /// The item's grade events in the period, oldest first.
    pub events: Vec<EventLine>,
}

/// A project's block of the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectBlock {
    pub project: ProjectName,
    pub items: Vec<ItemLine>,
}

/// An item's record versions, as the ledger keeps them: (version, took effect, record).
pub type Versions = Vec<(u32, DateTime<Utc>, Item)>;

/// Lays out one project's block: each of `items` (with its versions) that had a record by
/// the end of the period and had not ended before it began, as it stood then, with its
/// events of the period (`events`, any order). Items whose days fall in a year the calendar
/// does not hold are left out (`Err` lists their ids) rather than shown with wrong figures.
pub fn block(
    project: ProjectName,
    items: &[(String, Versions)],
    events: &[EventLine],
    period: Period,
    calendar: &Calendar,
    policy: &GradingPolicy,
    tz: Tz,
) -> (ProjectBlock, Vec<String>) {
    let mut lines = Vec::new();
    let mut ungraded = Vec::new();
    for (item_id, versions) in items {
        let standing = super::graded_as_of(
            versions.iter().map(|(v, at, item)| (*v, *at, item)),
            period.graded_on,
            calendar,
            policy,
            tz,
        );
        let (version, item, g) = match standing {
            None => continue,
            Some(Ok(graded)) => graded,
            Some(Err(_)) => {
                ungraded.push(item_id.clone());
                continue;
            }
        };
        let local = |t: &DateTime<chrono::FixedOffset>| t.with_timezone(&tz).date_naive();
        let finished_on = item.finished_at.as_ref().map(local);
        if finished_on.is_some_and(|d| d < period.from) {
            continue;
        }
        let mut item_events: Vec<EventLine> = events
            .iter()
            .filter(|e| e.item_id == *item_id)
            .cloned()
            .collect();
        item_events.sort_by_key(|e| e.at);
        lines.push(ItemLine {
            item_id: item_id.clone(),
            stage: item.stage,
            matter: item.matter.clone(),
            department: item.department.clone(),
            status: item.status,
            accepted_on: local(&item.accepted_at),
            deadline: g.deadline_date,
            used: g.used,
            allowed: g.allowed,
            pauses: item
                .pauses
                .iter()
                .map(|p| PauseLine {
                    kind: p.kind.as_str(),
                    from: local(&p.from),
                    to: p.to.as_ref().map(local),
                })
                .collect(),
            finished_on,
            grade: g.grade,
            overdue: g.overdue,
            provisional: g.provisional,
            version,
            events: item_events,
        });
    }
    lines.sort_by(|a, b| {
        (a.stage, a.accepted_on, &a.item_id).cmp(&(b.stage, b.accepted_on, &b.item_id))
    });
    (
        ProjectBlock {
            project,
            items: lines,
        },
        ungraded,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::tests::shipped;

    fn item(id: &str, stage: u8, extension: u32, updated: &str) -> Item {
        let json = format!(
            r#"{{"item_id":"{id}","project_code":"P","project_name":"N","project_category":"general_social","matter":"M","department":"D","stage":{stage},"status":"pending","accepted_at":"2026-11-02T09:30:00+08:00","limit_days":5,"legal_days":20,"extension_days":{extension},"pauses":[],"finished_at":null,"updated_at":"{updated}"}}"#
        );
        crate::item::tests::parse(&json).unwrap()
    }

    /// An extension granted on 12 Nov does not change the table of 1–10 Nov: the item stood
    /// at 5 days then, and was red from the 10th; the table of November shows it with 10.
    #[test]
    fn a_past_period_shows_the_record_that_stood_then() {
        let tz = chrono_tz::Asia::Shanghai;
        let calendar = shipped();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let v1 = item("E-1", 2, 0, "2026-11-02T09:30:00+08:00");
        let v2 = item("E-1", 2, 5, "2026-11-12T10:00:00+08:00");
        let early = item("E-0", 1, 0, "2026-11-02T09:30:00+08:00");
        let items = vec![
            (
                "E-1".to_owned(),
                vec![
                    (1, at("2026-11-02T09:30:00+08:00"), v1),
                    (2, at("2026-11-12T10:00:00+08:00"), v2),
                ],
            ),
            (
                "E-0".to_owned(),
                vec![(1, at("2026-11-02T09:30:00+08:00"), early)],
            ),
        ];
        let red = EventLine {
            item_id: "E-1".into(),
            at: at("2026-11-10T00:00:00+08:00"),
            from: Some(Grade::Yellow),
            to: Grade::Red,
            cause: "clock".into(),
        };
        let project = ProjectName {
            code: "P".into(),
            name: "N".into(),
            category: "general_social".into(),
        };
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let policy = GradingPolicy::default();
        let today = day(20);
        let (past, _) = block(
            project.clone(),
            &items,
            std::slice::from_ref(&red),
            Period::new(day(1), day(10), today),
            &calendar,
            &policy,
            tz,
        );
        let e1 = &past.items[1];
        assert_eq!(past.items[0].item_id, "E-0", "stage order");
        assert_eq!(
            (e1.version, e1.allowed, e1.grade, e1.deadline),
            (1, 5, Grade::Red, day(9))
        );
        assert_eq!(e1.events, std::slice::from_ref(&red));
        let (now, _) = block(
            project,
            &items,
            &[red],
            Period::new(day(1), day(30), today),
            &calendar,
            &policy,
            tz,
        );
        let e1 = &now.items[1];
        assert_eq!((e1.version, e1.allowed, e1.deadline), (2, 10, day(16)));
        assert_eq!(now.items.len(), 2);
    }
}
