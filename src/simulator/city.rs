//! A living city for the simulator: the generated population, then every tick a few new
//! acceptances, completions (slow departments finish later), corrections and expert reviews
//! that pause the clock, resumptions, extensions and the odd withdrawal. Items belong to one
//! of two approval systems that the simulator serves in different formats.

use chrono::{DateTime, FixedOffset, Utc};
use chrono_tz::Tz;

use super::population::{Population, slowness};
use super::random::Random;
use crate::calendar::{Calendar, CalendarError};
use crate::catalogue::Matter;
use crate::item::{Item, Pause, PauseKind, Status};

pub struct City {
    pub items: Vec<Item>,
    matters: Vec<Matter>,
    random: Random,
    tz: Tz,
    next_id: u64,
}

/// Which system an item is in: half the projects report in the canonical format, half in the
/// Chinese export format.
pub fn in_chinese_system(item: &Item) -> bool {
    item.project_code.bytes().last().is_some_and(|b| b % 2 == 1)
}

impl City {
    pub fn new(
        matters: Vec<Matter>,
        calendar: &Calendar,
        tz: Tz,
        now: DateTime<Utc>,
        items: u64,
        seed: u64,
    ) -> Result<Self, CalendarError> {
        let mut generated = Vec::new();
        // A city needs at least one item to take its next acceptances after.
        let items = items.max(1);
        Population::new(&matters, calendar, tz, now.with_timezone(&tz), seed)?
            .generate(items, |item| generated.push(item.clone()))?;
        let next_id = generated.len() as u64 + 1;
        Ok(Self {
            items: generated,
            matters,
            random: Random::new(seed ^ 0x5EED),
            tz,
            next_id,
        })
    }

    /// Writes the city's items to `path` (whole, or not at all), so a later run can go on
    /// from here instead of from its first day.
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        let partial = path.with_extension("partial");
        let state = serde_json::json!({ "next_id": self.next_id, "items": self.items });
        std::fs::write(&partial, serde_json::to_vec(&state)?)?;
        std::fs::rename(partial, path)
    }

    /// Takes the items of a saved city, if `path` holds one; false when it does not.
    pub fn restore(&mut self, path: &std::path::Path) -> bool {
        #[derive(serde::Deserialize)]
        struct Saved {
            next_id: u64,
            items: Vec<Item>,
        }
        let Some(saved) = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Saved>(&b).ok())
        else {
            return false;
        };
        if saved.items.is_empty() {
            return false;
        }
        self.items = saved.items;
        self.next_id = saved.next_id;
        true
    }

    /// One step of the city at `now`; returns how many items changed.
    pub fn tick(&mut self, now: DateTime<Utc>) -> usize {
        let now = now.with_timezone(&self.tz).fixed_offset();
        // At the demo's 3-second tick: about two items accepted and two finished a minute
        // (some 120 an hour, a busy city's pace, which keeps the open count steady), and a
        // change of some kind every eight seconds or so, enough to watch the wall move.
        let mut changed = 0;
        if self.random.chance(0.1) {
            self.accept(now);
            changed += 1;
        }
        let open: Vec<usize> = (0..self.items.len())
            .filter(|&i| matches!(self.items[i].status, Status::Pending | Status::Paused))
            .collect();
        if open.is_empty() {
            return changed;
        }
        for _ in 0..2 {
            let i = *self.random.pick(&open);
            if self.step(i, now) {
                changed += 1;
            }
        }
        changed
    }

    fn accept(&mut self, now: DateTime<FixedOffset>) {
        let template = self.random.pick(&self.items).clone();
        let candidates: Vec<&Matter> = self
            .matters
            .iter()
            .filter(|m| m.stage == template.stage)
            .collect();
        let Some(&matter) =
            candidates.get(self.random.below(candidates.len().max(1) as u64) as usize)
        else {
            return;
        };
        let id = self.next_id;
        self.next_id += 1;
        self.items.push(Item {
            item_id: format!("370102-{}-{id:06}", now.format("%Y")),
            matter: matter.name.clone(),
            department: matter.department.clone(),
            status: Status::Pending,
            accepted_at: now,
            limit_days: matter.limit_days,
            legal_days: matter.legal_days,
            extension_days: 0,
            pauses: Vec::new(),
            finished_at: None,
            updated_at: now,
            ..template
        });
    }

    /// Moves one open item along; false when nothing happened to it this time.
    fn step(&mut self, i: usize, now: DateTime<FixedOffset>) -> bool {
        let r = &mut self.random;
        let item = &mut self.items[i];
        let fast = 1.0 / slowness(&item.department);
        match item.status {
            Status::Paused => {
                if !r.chance(0.5) {
                    return false;
                }
                for pause in item.pauses.iter_mut().filter(|p| p.to.is_none()) {
                    pause.to = Some(now);
                }
                item.status = Status::Pending;
            }
            Status::Pending => {
                let roll = r.unit();
                if roll < 0.05 * fast {
                    item.status = if r.chance(0.03) {
                        Status::Withdrawn
                    } else {
                        Status::Finished
                    };
                    item.finished_at = Some(now);
                } else if roll < 0.1 {
                    let kind = if r.chance(0.6) {
                        PauseKind::Correction
                    } else {
                        PauseKind::ExpertReview
                    };
                    item.pauses.push(Pause {
                        kind,
                        from: now,
                        to: None,
                    });
                    item.status = Status::Paused;
                } else if roll < 0.12
                    && item.extension_days == 0
                    && item.legal_days > item.limit_days
                {
                    item.extension_days = (item.legal_days - item.limit_days).min(5);
                } else {
                    return false;
                }
            }
            Status::Finished | Status::Withdrawn => return false,
        }
        item.updated_at = now;
        true
    }
}
