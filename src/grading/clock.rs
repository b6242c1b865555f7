//! An item's clock in local dates: the acceptance date, the allowed working days, the clock
//! stops, and where the clock ended. From these it counts used days and finds the
//! deadline exactly as DESIGN.md states: the acceptance day is not counted, a pause from P
//! to R stops every working day d with P < d ≤ R, an open pause is taken to end today.

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
    /// Sorted by start and merged, so no working day is subtracted twice; an open stop,
    /// if any, is the last.
    pub stops: Vec<Stop>,
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

    pub fn new(
        accepted_on: NaiveDate,
        allowed: u32,
        mut stops: Vec<Stop>,
        ended_on: Option<NaiveDate>,
    ) -> Self {
        stops.sort_by_key(|s| s.from);
        let mut merged: Vec<Stop> = Vec::with_capacity(stops.len());
        for stop in stops {
            match merged.last_mut() {
                // Overlapping or touching: (a, b] and (c, d] with c ≤ b make (a, max(b, d)].
                Some(last) if last.to.is_none_or(|end| stop.from <= end) => {
                    last.to = match (last.to, stop.to) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                }
                _ => merged.push(stop),
            }
        }
        Self {
            accepted_on,
            allowed,
            stops: merged,
            ended_on,
        }
    }

    /// The start of the open stop, if the clock is stopped now.
    pub fn open_stop(&self) -> Option<NaiveDate> {
        self.stops.last().filter(|s| s.to.is_none()).map(|s| s.from)
    }

    /// Stops as closed ranges, an open one ending on `open_until` (never before it began).
    fn closed_stops(
        &self,
        open_until: NaiveDate,
    ) -> impl Iterator<Item = (NaiveDate, NaiveDate)> + '_ {
        self.stops
            .iter()
            .map(move |s| (s.from, s.to.unwrap_or(open_until.max(s.from))))
    }

    /// Counted days `d` with acceptance < d ≤ `day`: working days not stopped by a pause.
    pub fn used_through(&self, calendar: &Calendar, day: NaiveDate) -> Result<u32, CalendarError> {
        // Zero when `day` is not after the acceptance date; the stops below then cover nothing.
        let mut used = calendar.working_days_between(self.accepted_on, day)?;
        for (from, to) in self.closed_stops(day) {
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
        for (from, to) in self.closed_stops(open_until) {
            if to <= cursor {
                continue;
            }
            if from > cursor {
                let before_stop = calendar.working_days_between(cursor, from)?;
                if need <= before_stop {
                    return calendar.nth_working_day_after(cursor, need);
                }
                need -= before_stop;
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
