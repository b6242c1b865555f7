//! A city's approval workload, generated deterministically from the matter catalogue: about
//! a dozen items per project across the four stages, earlier stages finished, the current
//! one running, some departments slower than others so that all three colours appear, with
//! corrections, expert reviews, extensions and withdrawals mixed in.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone};
use chrono_tz::Tz;

use super::random::Random;
use crate::calendar::{Calendar, CalendarError};
use crate::catalogue::Matter;
use crate::item::{Item, Pause, PauseKind, Status};

const DISTRICTS: &[&str] = &[
    "高新区",
    "经开区",
    "历下区",
    "市中区",
    "槐荫区",
    "天桥区",
    "历城区",
    "长清区",
];
const KINDS: &[&str] = &[
    "智能制造产业园",
    "人才公寓",
    "第三中学扩建工程",
    "污水处理厂提标改造",
    "商业综合体",
    "冷链物流园",
    "安置房",
    "人民医院门诊楼",
    "数据中心",
    "新能源汽车零部件厂房",
    "城市更新片区",
    "体育公园",
    "保障性租赁住房",
    "研发中心",
];
const PHASES: &[&str] = &["一期", "二期", "三期", ""];
/// Categories with the weights of a typical city's mix.
const CATEGORIES: &[(&str, u64)] = &[
    ("general_social", 50),
    ("government_investment", 25),
    ("simple_low_risk", 15),
    ("land_start", 10),
];
const PAUSE_KINDS: &[PauseKind] = &[
    PauseKind::Correction,
    PauseKind::Correction,
    PauseKind::ExpertReview,
    PauseKind::Inspection,
    PauseKind::Appraisal,
    PauseKind::Hearing,
];

/// Generates items as of `now`, handing each to a callback so that a million of them need
/// not be held at once.
pub struct Population<'a> {
    matters: &'a [Matter],
    tz: Tz,
    random: Random,
    /// Working days up to today, most recent first: `recent[k]` is k working days back.
    recent: Vec<NaiveDate>,
    today: NaiveDate,
    now: DateTime<FixedOffset>,
    next_item: u64,
    next_project: u64,
    /// Project names given so far: each project has its own, as in a real city.
    names: std::collections::HashSet<String>,
}

impl<'a> Population<'a> {
    pub fn new(
        matters: &'a [Matter],
        calendar: &'a Calendar,
        tz: Tz,
        now: DateTime<Tz>,
        seed: u64,
    ) -> Result<Self, CalendarError> {
        let today = now.date_naive();
        calendar.is_working_day(today)?;
        let mut recent = Vec::new();
        let mut day = today;
        // Half a year of history is plenty for items whose limits are at most 20 days.
        while recent.len() < 120 {
            match calendar.is_working_day(day) {
                Ok(true) => recent.push(day),
                Ok(false) => {}
                Err(_) => break,
            }
            match day.pred_opt() {
                Some(previous) => day = previous,
                None => break,
            }
        }
        if recent.is_empty() {
            // Only possible when today is a rest day at the very start of the loaded years.
            return Err(calendar.year_not_loaded(today.year() - 1));
        }
        let now = now.fixed_offset();
        Ok(Self {
            matters,
            tz,
            random: Random::new(seed),
            recent,
            today,
            now,
            next_item: 1,
            next_project: 1,
            names: Default::default(),
        })
    }

    /// Emits projects until `count` items have been emitted.
    pub fn generate(
        &mut self,
        count: u64,
        mut emit: impl FnMut(&Item),
    ) -> Result<(), CalendarError> {
        let mut emitted = 0;
        while emitted < count {
            for item in self.project()? {
                if emitted == count {
                    break;
                }
                emit(&item);
                emitted += 1;
            }
        }
        Ok(())
    }

    fn project(&mut self) -> Result<Vec<Item>, CalendarError> {
        let r = &mut self.random;
        let serial = self.next_project;
        self.next_project += 1;
        let mut name = String::new();
        for _ in 0..40 {
            name = format!("{}{}{}", r.pick(DISTRICTS), r.pick(KINDS), r.pick(PHASES));
            if !self.names.contains(&name) {
                break;
            }
        }
        if self.names.contains(&name) {
            // Past the combinations' count: a plot number tells them apart, as cities do.
            name = format!("{name}（{serial}号地块）");
        }
        self.names.insert(name.clone());
        let total: u64 = CATEGORIES.iter().map(|(_, w)| w).sum();
        let mut roll = r.below(total);
        let category = CATEGORIES
            .iter()
            .find(|(_, w)| {
                let hit = roll < *w;
                roll = roll.saturating_sub(*w);
                hit
            })
            .map_or("general_social", |(c, _)| c);
        let current_stage = 1 + r.below(4) as u8;
        // The current stage began this many working days ago; earlier stages before it.
        let mut stage_start = r.below(10) as usize;
        let mut items = Vec::new();
        for stage in (1..=current_stage).rev() {
            let candidates: Vec<&Matter> =
                self.matters.iter().filter(|m| m.stage == stage).collect();
            if candidates.is_empty() {
                continue;
            }
            // The running stage has most of the open work; earlier stages a few finished items.
            let take = if stage == current_stage {
                3 + self.random.below(3)
            } else {
                1 + self.random.below(3)
            } as usize;
            let mut chosen: Vec<&Matter> = Vec::new();
            for _ in 0..take * 2 {
                let m = *self.random.pick(&candidates);
                if chosen.len() < take && !chosen.iter().any(|c| c.name == m.name) {
                    chosen.push(m);
                }
            }
            for matter in chosen {
                let earlier = (stage < current_stage).then_some(stage_start);
                items.push(self.item(matter, &name, category, stage, earlier)?);
            }
            stage_start += 15 + self.random.below(15) as usize;
        }
        // The national project code (全国投资项目在线审批监管平台): the month the project was
        // registered, a little before its first item, then the area, the kind and a serial.
        let first = items
            .iter()
            .map(|i| i.accepted_at.date_naive())
            .min()
            .unwrap_or(self.today);
        let registered = first - Duration::days(5 + self.random.below(40) as i64);
        let code = format!(
            "{}-370102-04-01-{:06}",
            registered.format("%y%m"),
            100_000 + serial % 900_000
        );
        for item in &mut items {
            item.project_code = code.clone();
        }
        Ok(items)
    }

    #[allow(clippy::too_many_arguments)]
    fn item(
        &mut self,
        matter: &Matter,
        project_name: &str,
        category: &str,
        stage: u8,
        earlier_stage_start: Option<usize>,
    ) -> Result<Item, CalendarError> {
        let extension_days = if matter.legal_days > matter.limit_days && self.random.chance(0.06) {
            (5 + self.random.below(6) as u32).min(matter.legal_days - matter.limit_days)
        } else {
            0
        };
        let r = &mut self.random;
        let allowed = matter.limit_days + extension_days;
        let pace = slowness(&matter.department) * (0.2 + 1.5 * r.unit());
        let mut handling = (f64::from(allowed) * pace).round() as usize;
        let must_finish = earlier_stage_start.is_some();
        // Working days since acceptance: earlier stages are done; in the running stage most
        // items are still open (accepted less than their handling time ago).
        let back = match earlier_stage_start {
            Some(start) => start + r.below(4) as usize,
            None if r.chance(0.7) => ((handling as f64 * (0.3 + 0.7 * r.unit())) as usize)
                .min(handling.saturating_sub(1)),
            None => handling + r.below(4) as usize,
        }
        .min(self.recent.len() - 1);
        if must_finish {
            handling = handling.min(back);
        }
        let accepted_on = self.recent[back];
        let accepted_at = at(
            self.tz,
            self.now,
            accepted_on,
            9 * 60 + r.below(8 * 60) as i64,
        );
        let r = &mut self.random;
        let mut pauses = Vec::new();
        let mut status = Status::Pending;
        if allowed > 1 && r.chance(0.14) {
            let start = 1 + r.below(u64::from(allowed) / 2 + 1) as usize;
            let length = 2 + r.below(7) as usize;
            if start <= back {
                let from_on = self.recent[back - start];
                let from = at(self.tz, self.now, from_on, 10 * 60 + r.below(6 * 60) as i64);
                let kind = *r.pick(PAUSE_KINDS);
                if start + length <= back {
                    let to = at(
                        self.tz,
                        self.now,
                        self.recent[back - start - length],
                        9 * 60 + r.below(8 * 60) as i64,
                    );
                    pauses.push(Pause {
                        kind,
                        from,
                        to: Some(to),
                    });
                    handling += length;
                } else if !must_finish {
                    pauses.push(Pause {
                        kind,
                        from,
                        to: None,
                    });
                    status = Status::Paused;
                }
            }
        }
        let mut finished_at = None;
        let mut updated_at = pauses
            .last()
            .map_or(accepted_at, |p| p.to.unwrap_or(p.from));
        if status == Status::Pending && (must_finish || handling <= back) {
            let finished_on = self.recent[back - handling.min(back)];
            let minutes = 9 * 60 + self.random.below(8 * 60) as i64;
            let finished = at(self.tz, self.now, finished_on, minutes)
                .max(updated_at + Duration::minutes(30))
                .min(self.now);
            finished_at = Some(finished);
            updated_at = finished;
            status = if self.random.chance(0.03) {
                Status::Withdrawn
            } else {
                Status::Finished
            };
        }
        let id = self.next_item;
        self.next_item += 1;
        Ok(Item {
            item_id: format!("370102-{}-{:06}", accepted_on.format("%Y"), id),
            // Set by `project` once all its items are dated.
            project_code: String::new(),
            project_name: project_name.to_owned(),
            project_category: category.to_owned(),
            matter: matter.name.clone(),
            department: matter.department.clone(),
            stage,
            status,
            accepted_at,
            limit_days: matter.limit_days,
            legal_days: matter.legal_days,
            extension_days,
            pauses,
            // The applicants rate most finished items well; made from the id, not drawn,
            // so the rest of the city is what it was before ratings existed.
            rating: (status == Status::Finished).then_some(match id % 10 {
                0..=5 => 5,
                6..=8 => 4,
                _ => 3,
            }),
            finished_at,
            updated_at,
        })
    }
}

/// `minutes` after local midnight of `day` in `tz`, with the zone's offset, never after now.
fn at(tz: Tz, now: DateTime<FixedOffset>, day: NaiveDate, minutes: i64) -> DateTime<FixedOffset> {
    let local = day.and_time(chrono::NaiveTime::MIN) + Duration::minutes(minutes);
    let zoned = tz
        .from_local_datetime(&local)
        .earliest()
        .unwrap_or_else(|| tz.from_utc_datetime(&local));
    zoned.fixed_offset().min(now)
}

/// How slow a department is (1.0 typical): a fixed, seed-independent trait of the name, so
/// that the same departments lag in every run of the demo.
pub fn slowness(department: &str) -> f64 {
    let hash = department
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    [0.55, 0.7, 0.85, 1.0, 1.0, 1.25, 1.6][(hash % 7) as usize]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::calendar::tests::shipped;

    #[test]
    fn each_project_has_its_own_name_and_a_code_dated_before_its_first_item() {
        let matters = crate::catalogue::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/matters.csv"),
        )
        .unwrap();
        let calendar = shipped();
        let tz = chrono_tz::Asia::Shanghai;
        let now = tz.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
        let mut population = Population::new(&matters, &calendar, tz, now, 7).unwrap();
        let mut projects: BTreeMap<String, (String, NaiveDate)> = BTreeMap::new();
        population
            .generate(2400, |item| {
                let first = item.accepted_at.date_naive();
                let entry = projects
                    .entry(item.project_code.clone())
                    .or_insert((item.project_name.clone(), first));
                assert_eq!(entry.0, item.project_name, "one name per project");
                entry.1 = entry.1.min(first);
            })
            .unwrap();
        let mut names: Vec<&String> = projects.values().map(|(name, _)| name).collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "no two projects share a name");
        assert!(count > 200, "{count} projects");
        let months: std::collections::BTreeSet<&str> = projects.keys().map(|c| &c[..4]).collect();
        assert!(
            months.len() > 3,
            "registered over several months: {months:?}"
        );
        for (code, (_, first)) in &projects {
            // YYMM-area-kind-category-serial, registered in or before its first item's month.
            let parts: Vec<&str> = code.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [4, 6, 2, 2, 6],
                "{code}"
            );
            assert!(
                parts[0] <= first.format("%y%m").to_string().as_str(),
                "{code} {first}"
            );
        }
    }
}
