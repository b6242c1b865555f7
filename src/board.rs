//! The board: every known item's clock, thresholds and current grading in memory, with a
//! time-ordered index of the instant each item's grade will next change. A record that did
//! not change is recognised by its hash and costs nothing; the grader asks the board what is
//! due and re-grades only that. It also knows each item's department, matter, project, stage
//! and status (as small interned ids), so the live figures are counted from memory. Pure
//! data: no clock, no I/O.

use std::collections::BTreeSet;
use std::hash::BuildHasher;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use foldhash::HashMap;

use crate::calendar::{Calendar, CalendarError};
use crate::grading::{self, ClockInput, Grade, Grading, Thresholds};
use crate::item::{Item, Status};
use crate::ledger::{Cause, GradeEvent};

/// What the board holds of one item.
#[derive(Debug, Clone)]
pub struct Entry {
    pub item_id: String,
    /// The record hash (`canonical::record_hash`): the same record again is recognised
    /// without a write.
    pub hash: u64,
    /// The record's `updated_at` (Unix seconds): an older version arriving later is ignored.
    pub updated_at: i64,
    pub clock: ClockInput,
    pub thresholds: Thresholds,
    pub grading: Grading,
    pub labels: Labels,
    /// The record's version in the ledger: 1 for the first record of the item, one more
    /// for each new or changed record after it.
    pub version: u32,
    /// When `grading.grade` will next change, in Unix seconds.
    next_change: Option<i64>,
}

impl Entry {
    /// Pending or paused: its clock has not ended.
    pub fn is_open(&self) -> bool {
        self.clock.ended_on.is_none()
    }

    /// The grading on `today` (used and remaining move every working day even when the
    /// grade does not); `None` when a date falls in a year not loaded.
    pub fn grade_on(&self, calendar: &Calendar, today: NaiveDate) -> Option<Grading> {
        grading::grade(&self.clock, &self.thresholds, calendar, today).ok()
    }
}

/// Who handles an item and where it stands, as ids into the board's `Names`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labels {
    pub department: u32,
    pub matter: u32,
    pub project: u32,
    pub stage: u8,
    pub status: Status,
}

/// A project as its newest record names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectName {
    pub code: Arc<str>,
    pub name: Arc<str>,
    pub category: Arc<str>,
}

/// Departments, matters and projects by id: each name is kept once however many items
/// carry it.
#[derive(Debug, Default)]
pub struct Names {
    departments: Interner,
    matters: Interner,
    project_codes: Interner,
    projects: Vec<ProjectName>,
}

#[derive(Debug, Default)]
struct Interner {
    ids: HashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

impl Interner {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        let name: Arc<str> = Arc::from(name);
        self.names.push(name.clone());
        self.ids.insert(name, id);
        id
    }
}

impl Names {
    pub fn department(&self, id: u32) -> &Arc<str> {
        &self.departments.names[id as usize]
    }

    pub fn departments(&self) -> &[Arc<str>] {
        &self.departments.names
    }

    pub fn matter(&self, id: u32) -> &Arc<str> {
        &self.matters.names[id as usize]
    }

    pub fn project(&self, id: u32) -> &ProjectName {
        &self.projects[id as usize]
    }

    pub fn project_count(&self) -> usize {
        self.projects.len()
    }

    /// Names a project (at start-up, from the store's projects table).
    pub fn name_project(&mut self, code: &str, name: &str, category: &str) {
        let id = self.project_codes.id(code);
        let named = ProjectName {
            code: self.project_codes.names[id as usize].clone(),
            name: Arc::from(name),
            category: Arc::from(category),
        };
        match self.projects.get_mut(id as usize) {
            Some(known) => *known = named,
            None => self.projects.push(named),
        }
    }

    fn labels(&mut self, item: &Item) -> Labels {
        let project = self.project_codes.id(&item.project_code);
        let known = self.projects.get(project as usize);
        // Most records name their project as before: compare first, allocate only on change.
        // Items read back from the store carry no names (each project was named once).
        let renamed = |k: &ProjectName| {
            !item.project_name.is_empty()
                && (*k.name != *item.project_name || *k.category != *item.project_category)
        };
        if known.is_none_or(renamed) {
            let newest = ProjectName {
                code: self.project_codes.names[project as usize].clone(),
                name: Arc::from(item.project_name.as_str()),
                category: Arc::from(item.project_category.as_str()),
            };
            match self.projects.get_mut(project as usize) {
                Some(known) => *known = newest,
                None => self.projects.push(newest),
            }
        }
        Labels {
            department: self.departments.id(&item.department),
            matter: self.matters.id(&item.matter),
            project,
            stage: item.stage,
            status: item.status,
        }
    }
}

#[derive(Default)]
pub struct Board {
    entries: Vec<Entry>,
    /// (hash of the id, slot in `entries`) of each item, found by the entry's own `item_id`
    /// (a million ids are not kept twice); the hash is kept so that growing the table does
    /// not read every entry again.
    slots: hashbrown::HashTable<(u64, u32)>,
    /// Seeded per process (ids come from feeds) and fast: with SipHash, hashing ids was a
    /// tenth of start-up.
    hasher: foldhash::fast::RandomState,
    /// (instant, slot) of every item whose grade will change by itself.
    index: BTreeSet<(i64, u32)>,
    names: Names,
    /// Grows with every commit: readers that cache what they computed from the board can
    /// tell whether it changed since.
    generation: u64,
}

/// An item's clock and grading as of a day, worked out without the board, so that a feed
/// can do it for a page off the async threads while the previous page is being written.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub hash: u64,
    clock: ClockInput,
    thresholds: Thresholds,
    pub grading: Grading,
    next_change: Option<i64>,
}

impl Assessment {
    pub fn new(
        item: &Item,
        hash: u64,
        thresholds: Thresholds,
        calendar: &Calendar,
        tz: Tz,
        today: NaiveDate,
    ) -> Result<Self, CalendarError> {
        let clock = ClockInput::from_item(item, tz);
        let grading = grading::grade(&clock, &thresholds, calendar, today)?;
        Ok(Self {
            hash,
            next_change: grading.next_change(tz).map(|t| t.timestamp()),
            clock,
            thresholds,
            grading,
        })
    }

    pub fn next_change(&self) -> Option<DateTime<Utc>> {
        self.next_change
            .and_then(|s| DateTime::from_timestamp(s, 0))
    }
}

/// How many open items of a department, in a stage, have a grade.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OpenCount {
    pub department: String,
    pub stage: u8,
    pub grade: Grade,
    pub count: u64,
}

/// An item graded now, ready to be written and then put on the board.
#[derive(Debug, Clone)]
pub struct Graded {
    pub entry: Entry,
    /// The grade before, if the item was on the board.
    pub previous: Option<Grade>,
    /// The grade events from `previous` to this grading, dated (see `grade_events`).
    pub events: Vec<GradeEvent>,
    /// For a re-grade at start-up, the stored deadline that a changed holiday arrangement
    /// moved.
    pub deadline_moved_from: Option<NaiveDate>,
}

impl Graded {
    pub fn next_change(&self) -> Option<DateTime<Utc>> {
        self.entry
            .next_change
            .and_then(|s| DateTime::from_timestamp(s, 0))
    }

    /// Works out the grade events that brought this item to its grading (`grade_events`),
    /// from `previous` and the grade's next change before, `from_next_on`.
    pub fn with_events(
        mut self,
        from_next_on: Option<NaiveDate>,
        trigger: Trigger<'_>,
        calendar: &Calendar,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Self {
        self.events = grade_events(
            &self.entry,
            self.previous,
            from_next_on,
            trigger,
            calendar,
            tz,
            now,
        );
        self
    }
}

/// What made an item's grading change, for `grade_events`.
#[derive(Debug, Clone, Copy)]
pub enum Trigger<'a> {
    /// A new or changed record from `feed`, which took effect at `took_effect`
    /// (`ledger::took_effect`).
    Feed {
        feed: &'a Arc<str>,
        took_effect: DateTime<Utc>,
    },
    /// Time passing: the grader on time, or start-up catching up after a downtime.
    Clock,
    /// Start-up with a holiday arrangement that changed since the last start.
    Calendar,
}

/// The grade events that took an item from `from` (its grade before; `None` when it is new),
/// next due to change on `from_next_on`, to `entry`, its grading as of `now`: the one place
/// where grade events are made, whatever changed the grade.
///
/// - A feed's record: one event at the instant it took effect, to the grade the record had
///   then. A record that took effect on an earlier day (a feed that was down over a
///   midnight) is graded as of that day, and the clock's changes since are walked from
///   there, each at its midnight, so a change falls in the month it happened.
/// - The clock: each change at the midnight it took effect (after a downtime there may be
///   several).
///
/// A change the walk does not end on (a year of holidays missing; thresholds or holidays
/// edited while duban was down) is dated `now`, when it was noticed, and is the calendar's
/// when the trigger is.
pub fn grade_events(
    entry: &Entry,
    from: Option<Grade>,
    from_next_on: Option<NaiveDate>,
    trigger: Trigger<'_>,
    calendar: &Calendar,
    tz: Tz,
    now: DateTime<Utc>,
) -> Vec<GradeEvent> {
    let today = now.with_timezone(&tz).date_naive();
    let midnight = |day| grading::start_of_day(day, tz).map_or(now, |t| t.with_timezone(&Utc));
    let event = |at, from, to, cause| GradeEvent {
        item_id: entry.item_id.clone(),
        version: entry.version,
        at,
        from,
        to,
        cause,
    };
    let mut events = Vec::new();
    let (walk_from, walk_next_on) = match trigger {
        Trigger::Feed { feed, took_effect } => {
            let day = took_effect.with_timezone(&tz).date_naive();
            // Graded as of the day it took effect; today's grading if that is today (or if
            // that day cannot be graded: then it counts from today).
            let then = (day < today)
                .then(|| grading::grade(&entry.clock, &entry.thresholds, calendar, day).ok())
                .flatten();
            let grade_then = then.map_or(entry.grading.grade, |g| g.grade);
            if from != Some(grade_then) {
                events.push(event(
                    took_effect,
                    from,
                    grade_then,
                    Cause::Feed(feed.clone()),
                ));
            }
            match then {
                Some(g) => (grade_then, g.next_change_on),
                None => return events,
            }
        }
        Trigger::Clock | Trigger::Calendar => match from {
            Some(from) => (from, from_next_on),
            None => return events,
        },
    };
    let noticed = match trigger {
        Trigger::Calendar => Cause::Calendar,
        _ => Cause::Clock,
    };
    if walk_next_on == Some(today) {
        // The grader on time, the usual case: today's grading is the only step, and `entry`
        // has it already (a midnight may re-grade a great many items under the board's lock).
        if walk_from != entry.grading.grade {
            events.push(event(
                midnight(today),
                Some(walk_from),
                entry.grading.grade,
                Cause::Clock,
            ));
        }
        return events;
    }
    let walked = grading::changes_through(
        &entry.clock,
        &entry.thresholds,
        calendar,
        walk_from,
        walk_next_on,
        today,
    )
    .unwrap_or_default();
    let mut walked_to = walk_from;
    for c in walked {
        events.push(event(midnight(c.on), Some(c.from), c.to, Cause::Clock));
        walked_to = c.to;
    }
    if walked_to != entry.grading.grade {
        events.push(event(now, Some(walked_to), entry.grading.grade, noticed));
    }
    events
}

impl Board {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, item_id: &str) -> Option<&Entry> {
        self.slot(item_id).map(|s| &self.entries[s as usize])
    }

    fn slot(&self, item_id: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(item_id);
        self.slots
            .find(hash, |&(h, s)| {
                h == hash && self.entries[s as usize].item_id == item_id
            })
            .map(|&(_, s)| s)
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn names(&self) -> &Names {
        &self.names
    }

    pub fn names_mut(&mut self) -> &mut Names {
        &mut self.names
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Grades `item` on `today` (not yet on the board; its names are).
    pub fn grade(
        &mut self,
        item: &Item,
        hash: u64,
        thresholds: Thresholds,
        calendar: &Calendar,
        tz: Tz,
        today: NaiveDate,
    ) -> Result<Graded, CalendarError> {
        let assessment = Assessment::new(item, hash, thresholds, calendar, tz, today)?;
        Ok(self.graded(item, assessment))
    }

    /// `item` with its assessment, named and compared with what the board holds: a record
    /// the board held takes the next version. No events yet (`Graded::with_events`).
    pub fn graded(&mut self, item: &Item, assessment: Assessment) -> Graded {
        let Assessment {
            hash,
            clock,
            thresholds,
            grading,
            next_change,
        } = assessment;
        let held = self
            .get(&item.item_id)
            .map(|e| (e.grading.grade, e.version));
        Graded {
            previous: held.map(|(grade, _)| grade),
            events: Vec::new(),
            deadline_moved_from: None,
            entry: Entry {
                item_id: item.item_id.clone(),
                hash,
                updated_at: item.updated_at.timestamp(),
                clock,
                thresholds,
                grading,
                version: held.map_or(1, |(_, version)| version + 1),
                labels: self.names.labels(item),
                next_change,
            },
        }
    }

    /// Re-grades the entries whose next change has come by `now`.
    pub fn due(
        &self,
        now: DateTime<Utc>,
        calendar: &Calendar,
        tz: Tz,
    ) -> Vec<Result<Graded, (String, CalendarError)>> {
        let today = now.with_timezone(&tz).date_naive();
        self.index
            .range(..=(now.timestamp(), u32::MAX))
            .map(|&(_, slot)| {
                let old = &self.entries[slot as usize];
                grading::grade(&old.clock, &old.thresholds, calendar, today)
                    .map(|grading| {
                        let entry = Entry {
                            grading,
                            next_change: grading.next_change(tz).map(|t| t.timestamp()),
                            ..old.clone()
                        };
                        Graded {
                            previous: Some(old.grading.grade),
                            events: Vec::new(),
                            deadline_moved_from: None,
                            entry,
                        }
                        .with_events(
                            old.grading.next_change_on,
                            Trigger::Clock,
                            calendar,
                            tz,
                            now,
                        )
                    })
                    .map_err(|e| (old.item_id.clone(), e))
            })
            .collect()
    }

    /// The earliest instant any grade will change.
    pub fn next_instant(&self) -> Option<DateTime<Utc>> {
        self.index
            .first()
            .and_then(|&(s, _)| DateTime::from_timestamp(s, 0))
    }

    /// Puts graded items on the board (after they were stored); at most one per item.
    pub fn commit(&mut self, graded: impl IntoIterator<Item = Graded>) {
        let mut graded = graded.into_iter().peekable();
        if graded.peek().is_some() {
            self.generation += 1;
        }
        // The index is changed in key order afterwards: a page's items mostly change grade at
        // the same few midnights, so sorted they touch the same few nodes of a large index
        // instead of a random one each.
        let mut gone = Vec::new();
        let mut due = Vec::new();
        for Graded { entry, .. } in graded {
            let next = entry.next_change;
            let hash = self.hasher.hash_one(entry.item_id.as_str());
            let entries = &self.entries;
            let found = self.slots.entry(
                hash,
                |&(h, s)| h == hash && entries[s as usize].item_id == entry.item_id,
                |&(h, _)| h,
            );
            let slot = match found {
                hashbrown::hash_table::Entry::Occupied(known) => {
                    let (_, slot) = *known.get();
                    let old = &mut self.entries[slot as usize];
                    if let Some(at) = old.next_change {
                        gone.push((at, slot));
                    }
                    *old = entry;
                    slot
                }
                hashbrown::hash_table::Entry::Vacant(free) => {
                    let slot = self.entries.len() as u32;
                    free.insert((hash, slot));
                    self.entries.push(entry);
                    slot
                }
            };
            if let Some(at) = next {
                due.push((at, slot));
            }
        }
        gone.sort_unstable();
        for key in &gone {
            self.index.remove(key);
        }
        due.sort_unstable();
        self.index.extend(due);
    }

    /// Drops an entry whose next change can no longer be computed (a date beyond the loaded
    /// calendar), so the grader does not wake for it again and again.
    pub fn unschedule(&mut self, item_id: &str) {
        if let Some(slot) = self.slot(item_id) {
            let entry = &mut self.entries[slot as usize];
            if let Some(at) = entry.next_change.take() {
                self.index.remove(&(at, slot));
            }
        }
    }

    /// Counts of items by grade, pending and paused only: [blue, yellow, red].
    pub fn open_counts(&self) -> [u64; 3] {
        let mut counts = [0; 3];
        for e in &self.entries {
            if e.is_open() {
                counts[e.grading.grade as usize] += 1;
            }
        }
        counts
    }

    /// Pending and paused items counted by department, stage and grade, in that order: what
    /// `/api/summary` answers, from memory (on a million items the same `GROUP BY` took the
    /// database over a second).
    pub fn open_summary(&self) -> Vec<OpenCount> {
        let mut counts: HashMap<(u32, u8, Grade), u64> = HashMap::default();
        for e in &self.entries {
            if e.is_open() {
                *counts
                    .entry((e.labels.department, e.labels.stage, e.grading.grade))
                    .or_default() += 1;
            }
        }
        let mut rows: Vec<OpenCount> = counts
            .into_iter()
            .map(|((department, stage, grade), count)| OpenCount {
                department: self.names.department(department).to_string(),
                stage,
                grade,
                count,
            })
            .collect();
        rows.sort_unstable_by(|a, b| {
            (&a.department, a.stage, a.grade).cmp(&(&b.department, b.stage, b.grade))
        });
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::tests::shipped;
    use crate::canonical::record_hash;

    fn item(id: &str, accepted: &str) -> Item {
        let json = format!(
            r#"{{"item_id":"{id}","project_code":"P","project_name":"N","project_category":"general_social","matter":"M","department":"D","stage":2,"status":"pending","accepted_at":"{accepted}","limit_days":5,"legal_days":20,"extension_days":0,"pauses":[],"finished_at":null,"updated_at":"{accepted}"}}"#
        );
        crate::item::tests::parse(&json).unwrap()
    }

    #[test]
    fn the_summary_counts_open_items_by_department_stage_and_grade() {
        let calendar = shipped();
        let tz = chrono_tz::Asia::Shanghai;
        let today = NaiveDate::from_ymd_opt(2026, 11, 12).unwrap();
        let mut board = Board::default();
        let mut items = vec![
            item("A", "2026-11-02T09:30:00+08:00"), // red by the 12th
            item("B", "2026-11-02T09:30:00+08:00"),
            item("C", "2026-11-11T09:30:00+08:00"), // blue
        ];
        items[1].department = "E".into();
        // Yellow on the 12th: 3 of 5 days used.
        items.push(item("Y", "2026-11-09T09:30:00+08:00"));
        // Paused since the 5th, when 3 of 5 days were used: yellow, and counted as open.
        let mut paused = item("P", "2026-11-02T09:30:00+08:00");
        paused.status = Status::Paused;
        paused.pauses.push(crate::item::Pause {
            kind: crate::item::PauseKind::Correction,
            from: chrono::DateTime::parse_from_rfc3339("2026-11-05T10:00:00+08:00").unwrap(),
            to: None,
        });
        items.push(paused);
        for (id, status) in [("F", Status::Finished), ("W", Status::Withdrawn)] {
            let mut ended = item(id, "2026-11-02T09:30:00+08:00");
            ended.status = status;
            ended.finished_at = Some(ended.accepted_at);
            items.push(ended);
        }
        let graded: Vec<Graded> = items
            .iter()
            .map(|i| {
                let hash = record_hash(i);
                board
                    .grade(i, hash, Thresholds::default(), &calendar, tz, today)
                    .unwrap()
            })
            .collect();
        board.commit(graded);
        let count = |department: &str, grade, count| OpenCount {
            department: department.into(),
            stage: 2,
            grade,
            count,
        };
        assert_eq!(
            board.open_summary(),
            [
                count("D", Grade::Blue, 1),
                count("D", Grade::Yellow, 2),
                count("D", Grade::Red, 1),
                count("E", Grade::Red, 1)
            ]
        );
    }

    #[test]
    fn due_items_are_regraded_and_rescheduled() {
        let calendar = shipped();
        let tz = chrono_tz::Asia::Shanghai;
        let mut board = Board::default();
        let a = item("A", "2026-11-02T09:30:00+08:00");
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let graded = board
            .grade(
                &a,
                record_hash(&a),
                Thresholds::default(),
                &calendar,
                tz,
                day("2026-11-03"),
            )
            .unwrap();
        assert_eq!(graded.entry.grading.grade, Grade::Blue);
        board.commit([graded]);
        assert_eq!(board.get("A").map(|e| e.hash), Some(record_hash(&a)));
        let next = board.next_instant().unwrap();
        assert_eq!(
            next.to_rfc3339(),
            "2026-11-04T16:00:00+00:00",
            "midnight of 5 Nov in Shanghai"
        );
        assert!(
            board
                .due(next - chrono::Duration::seconds(1), &calendar, tz)
                .is_empty()
        );
        let due = board.due(next, &calendar, tz);
        assert_eq!(due.len(), 1);
        let regraded = due.into_iter().next().unwrap().unwrap();
        assert_eq!(
            (regraded.previous, regraded.entry.grading.grade),
            (Some(Grade::Blue), Grade::Yellow)
        );
        assert_eq!(
            regraded.events,
            [GradeEvent {
                item_id: "A".into(),
                version: 1,
                at: next,
                from: Some(Grade::Blue),
                to: Grade::Yellow,
                cause: Cause::Clock,
            }]
        );
        board.commit([regraded]);
        assert_eq!(
            board.next_instant().unwrap().to_rfc3339(),
            "2026-11-09T16:00:00+00:00"
        );
        assert_eq!(board.open_counts(), [0, 1, 0]);
    }
}
