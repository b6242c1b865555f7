//! An item's clock in local dates: the acceptance date, the allowed working days, the clock
//! stops, and where the clock ended. From these it counts used days and finds the
//! deadline exactly as docs/rules.md (and ARCHITECTURE.md, in short) state: the acceptance
//! day is not counted, a pause from P to R stops every working day d with P < d ≤ R, an
//! open pause is taken to end today.

use chrono::NaiveDate;
use chrono_tz::Tz;

use crate::calendar::{Calendar, CalendarError};
use crate::item::{Item, Status};

/// A clock stop over the dates `(from, to]`; `to` is `None` while the pause is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

/// What grading needs of an item, reduced to local dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockInput {
    pub accepted_on: NaiveDate,
    /// `limit_days + extension_days`.
    pub allowed: u32,
    /// Closed pauses as `(from, to]`, sorted and merged so no working day is subtracted
    /// twice.
    closed: Vec<(NaiveDate, NaiveDate)>,
    /// The start of the open pause, if the clock is stopped now. Kept apart from the closed
    /// pauses: how far it reaches depends on the day asked about.
    pub paused_since: Option<NaiveDate>,
    /// The date the clock ended: finished (or withdrawn) items are graded on it.
    pub ended_on: Option<NaiveDate>,
}

impl ClockInput {
    /// Local dates of `item` in `tz`.
    pub fn from_item(item: &Item, tz: Tz) -> Self {
        let local = |t: &chrono::DateTime<chrono::FixedOffset>| t.with_timezone(&tz).date_naive();
        let stops = item
            .pauses
            .iter()
            .map(|p| Stop {
                from: local(&p.from),
                to: p.to.as_ref().map(local),
            })
            .collect();
        let ended_on = match item.status {
            Status::Pending | Status::Paused => None,
            Status::Finished | Status::Withdrawn => {
                Some(local(item.finished_at.as_ref().unwrap_or(&item.updated_at)))
            }
        };
        Self::new(
            local(&item.accepted_at),
            item.allowed_days(),
            stops,
            ended_on,
        )
    }

    /// An item's clock; of several open stops (which validation refuses) the earliest counts.
    pub fn new(
        accepted_on: NaiveDate,
        allowed: u32,
        stops: Vec<Stop>,
        ended_on: Option<NaiveDate>,
    ) -> Self {
        let paused_since = stops
            .iter()
            .filter(|s| s.to.is_none())
            .map(|s| s.from)
            .min();
        let mut closed: Vec<(NaiveDate, NaiveDate)> = stops
            .iter()
            .filter_map(|s| s.to.map(|to| (s.from, to)))
            // A pause that ends on or before its start stops nothing.
            .filter(|(from, to)| to > from)
            .collect();
        closed.sort_unstable();
        let closed = Merged {
            closed: &closed,
            next: 0,
            open: None,
        }
        .collect();
        Self {
            accepted_on,
            allowed,
            closed,
            paused_since,
            ended_on,
        }
    }

    /// The clock as it stood at the end of `day`: pauses begun after it not yet known, one
    /// still running then open, and no end unless it ended by then. `None` if the item was
    /// not yet accepted on `day`. Used to redraw past days (the 30-day trend) from today's
    /// records.
    pub fn as_of(&self, day: NaiveDate) -> Option<Self> {
        if self.accepted_on > day {
            return None;
        }
        let mut paused_since = self.paused_since.filter(|from| *from <= day);
        let mut closed = Vec::new();
        for &(from, to) in &self.closed {
            if from > day {
                break;
            }
            if to <= day {
                closed.push((from, to));
            } else {
                paused_since = Some(paused_since.map_or(from, |p| p.min(from)));
            }
        }
        Some(Self {
            accepted_on: self.accepted_on,
            allowed: self.allowed,
            closed,
            paused_since,
            ended_on: self.ended_on.filter(|end| *end <= day),
        })
    }

    /// All pauses as merged `(from, to]` ranges in date order, the open one (if any) taken
    /// to end on `open_until` (never before it began).
    pub fn stops_until(
        &self,
        open_until: NaiveDate,
    ) -> impl Iterator<Item = (NaiveDate, NaiveDate)> + '_ {
        let open = self.paused_since.map(|from| (from, open_until.max(from)));
        Merged {
            closed: &self.closed,
            next: 0,
            open,
        }
    }

    /// Counted days `d` with acceptance < d ≤ `day`: working days not stopped by a pause.
    pub fn used_through(&self, calendar: &Calendar, day: NaiveDate) -> Result<u32, CalendarError> {
        // Nothing is counted up to the acceptance date, whichever year `day` is in (a pause
        // begun at the window the day before a year's first acceptance, say).
        if day <= self.accepted_on {
            return Ok(0);
        }
        let mut used = calendar.working_days_between(self.accepted_on, day)?;
        for (from, to) in self.stops_until(day) {
            let (start, end) = (from.max(self.accepted_on), to.min(day));
            if end > start {
                used -= calendar.working_days_between(start, end)?;
            }
        }
        Ok(used)
    }

    /// The `n`-th counted day (the acceptance date for `n = 0`), with an open stop taken
    /// to end on `open_until`.
    pub fn nth_counted_day(
        &self,
        calendar: &Calendar,
        n: u32,
        open_until: NaiveDate,
    ) -> Result<NaiveDate, CalendarError> {
        let mut need = n;
        let mut cursor = self.accepted_on;
        if need == 0 {
            return calendar.nth_working_day_after(cursor, 0);
        }
        for (from, to) in self.stops_until(open_until) {
            if to <= cursor {
                continue;
            }
            if from > cursor {
                // Looked up before counting to `from`, so a pause far beyond the deadline
                // (even in a year not loaded) does not matter.
                let without_stop = calendar.nth_working_day_after(cursor, need)?;
                if without_stop <= from {
                    return Ok(without_stop);
                }
                need -= calendar.working_days_between(cursor, from)?;
            }
            cursor = to;
        }
        calendar.nth_working_day_after(cursor, need)
    }

    /// The deadline date, with an open stop taken to end on `open_until`.
    pub fn deadline(
        &self,
        calendar: &Calendar,
        open_until: NaiveDate,
    ) -> Result<NaiveDate, CalendarError> {
        self.nth_counted_day(calendar, self.allowed, open_until)
    }
}

/// Merges sorted ranges `(from, to]`, plus one more range, into disjoint ones in order.
struct Merged<'a> {
    closed: &'a [(NaiveDate, NaiveDate)],
    next: usize,
    open: Option<(NaiveDate, NaiveDate)>,
}

impl Merged<'_> {
    /// Takes whichever remaining range starts first.
    fn take_first(&mut self) -> Option<(NaiveDate, NaiveDate)> {
        match (self.closed.get(self.next), self.open) {
            (Some(&closed), Some(open)) if open.0 < closed.0 => self.open.take(),
            (Some(&closed), _) => {
                self.next += 1;
                Some(closed)
            }
            (None, _) => self.open.take(),
        }
    }

    fn first_start(&self) -> Option<NaiveDate> {
        let closed = self.closed.get(self.next).map(|r| r.0);
        let open = self.open.map(|r| r.0);
        closed.into_iter().chain(open).min()
    }
}

impl Iterator for Merged<'_> {
    type Item = (NaiveDate, NaiveDate);

    fn next(&mut self) -> Option<Self::Item> {
        let (from, mut to) = self.take_first()?;
        // (a, b] and (c, d] with c ≤ b cover (a, max(b, d)].
        while self.first_start().is_some_and(|start| start <= to) {
            let (_, end) = self.take_first()?;
            to = to.max(end);
        }
        Some((from, to))
    }
}
