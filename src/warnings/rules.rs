//! The warning rules, as pure decisions: given `now`, the calendar, the open items as graded
//! today, the items that turned red since the last run (from the ledger's grade events),
//! which scheduled rules are due, and what was already warned, they say what to send about
//! which items, to whom and why. No I/O: the engine (`warnings::engine`) reads and writes.
//!
//! - 临期 `near`: a yellow item with at most `days_left` working days left.
//! - 超期 `overdue`: an item that turned red.
//! - `digest`: each scheduled morning, a department's red items (answered and silenced
//!   ones left out), one message a department.
//! - 督办单 `escalation-N`: an item red for at least the rung's working days.
//! - `forecast`: each scheduled morning, a department's items that turn red within the
//!   next `days` working days unless finished.
//!
//! An item is warned once a rule and deadline (its `window`): a deadline moved by an
//! extension is a new window. The digest and the forecast are once a rule, department and
//! day. A silenced item gets nothing until its date; an answered one no digest.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::contacts::Role;
use super::message::Channel;
use crate::calendar::Calendar;
use crate::grading::Grade;

/// Who a rule tells, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// The contacts of this role (of the items' department for handlers and heads; of the
    /// items' projects for stewards; everyone of the role for the office and the ladder).
    Contact(Role, Channel),
    /// The chat robots serving the items' department.
    Robot,
}

impl Target {
    /// `handler:sms`, `head:email`, `office:sms`, `steward:email`, `robot`.
    pub fn parse(text: &str) -> Option<Self> {
        if text == "robot" {
            return Some(Target::Robot);
        }
        let (role, channel) = text.split_once(':')?;
        let channel = Channel::parse(channel).filter(|c| *c != Channel::Robot)?;
        Some(Target::Contact(Role::parse(role)?, channel))
    }

    pub fn channel(self) -> Channel {
        match self {
            Target::Contact(_, channel) => channel,
            Target::Robot => Channel::Robot,
        }
    }
}

/// The configured rules; a rule that is `None` (or a ladder that is empty) is off.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub near: Option<Near>,
    pub overdue: Option<Vec<Target>>,
    pub digest: Option<Vec<Target>>,
    pub forecast: Option<Forecast>,
    /// Rungs in rising order of `after_days`.
    pub escalation: Vec<Rung>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Near {
    pub days_left: u32,
    pub to: Vec<Target>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    pub days: u32,
    pub to: Vec<Target>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rung {
    /// Red for at least this many working days.
    pub after_days: u32,
    pub to: Vec<Target>,
}

impl Default for Rules {
    /// The defaults of DESIGN.md: 临期 to the handlers by SMS; 超期 to the handlers and
    /// the head by SMS and the head by email, the project's steward copied; the daily
    /// digest to the head; escalation to the office after 3 working days and to the
    /// leadership after 5; the forecast of the next 3 working days to the handlers.
    fn default() -> Self {
        use Channel::{Email, Sms};
        use Role::{Handler, Head, Leader, Office, Steward};
        let t = Target::Contact;
        Self {
            near: Some(Near {
                days_left: 1,
                to: vec![t(Handler, Sms)],
            }),
            overdue: Some(vec![
                t(Handler, Sms),
                t(Head, Sms),
                t(Head, Email),
                t(Steward, Sms),
                Target::Robot,
            ]),
            digest: Some(vec![t(Head, Sms), t(Head, Email), t(Steward, Email)]),
            forecast: Some(Forecast {
                days: 3,
                to: vec![t(Handler, Sms), t(Head, Email)],
            }),
            escalation: vec![
                Rung {
                    after_days: 3,
                    to: vec![t(Office, Sms), t(Office, Email), t(Head, Email)],
                },
                Rung {
                    after_days: 5,
                    to: vec![t(Leader, Email), t(Office, Email)],
                },
            ],
        }
    }
}

/// A rule's name as recorded (`escalation-2` is the ladder's second rung).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum RuleName {
    Near,
    Overdue,
    Digest,
    Forecast,
    Escalation(u8),
    /// The monthly rankings report mailed to the office (`rankings::schedule`).
    Report,
}

impl RuleName {
    pub fn as_string(self) -> String {
        match self {
            RuleName::Near => "near".into(),
            RuleName::Overdue => "overdue".into(),
            RuleName::Digest => "digest".into(),
            RuleName::Forecast => "forecast".into(),
            RuleName::Escalation(n) => format!("escalation-{n}"),
            RuleName::Report => "report".into(),
        }
    }

    /// What the rule is called on a message and a page.
    pub fn title(self) -> &'static str {
        match self {
            RuleName::Near => "临期预警",
            RuleName::Overdue => "超期预警",
            RuleName::Digest => "超期日报",
            RuleName::Forecast => "超期预报",
            RuleName::Escalation(1) => "督办单",
            RuleName::Escalation(_) => "督办升级",
            RuleName::Report => "月度通报",
        }
    }
}

/// An open (pending or paused) item as graded today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub item_id: String,
    pub department: String,
    pub matter: String,
    pub project_code: String,
    pub project_name: String,
    pub grade: Grade,
    pub deadline_date: NaiveDate,
    /// Working days left today: negative once overdue (then `-remaining` days over).
    pub remaining: i64,
    pub paused: bool,
    /// When the grade next changes (a yellow item's: the day it turns red).
    pub next_change_on: Option<NaiveDate>,
    pub provisional: bool,
}

impl Open {
    /// Working days past the deadline (0 when not past it).
    pub fn days_over(&self) -> u32 {
        u32::try_from(-self.remaining).unwrap_or(0)
    }
}

/// What the rules know of the past: the (rule, item, window) already warned, and the items'
/// answers and silences, each until a date.
pub trait History {
    fn warned(&self, rule: RuleName, item_id: &str, window: &str) -> bool;
    /// The last day an answer (回告) covers the item, if any.
    fn answered_until(&self, item_id: &str) -> Option<NaiveDate>;
    /// The last day the office silenced the item until, if any.
    fn silenced_until(&self, item_id: &str) -> Option<NaiveDate>;
}

/// What this run is asked to look at.
pub struct Run<'a> {
    /// The local date of the run.
    pub today: NaiveDate,
    pub calendar: &'a Calendar,
    /// Items that turned red since the last run (grade events in the log).
    pub turned_red: &'a dyn Fn(&str) -> bool,
    /// The scheduled rules due in this run (`Digest`, `Forecast`).
    pub scheduled: &'a [RuleName],
}

/// One rule's finding about one department's items.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub rule: RuleName,
    pub department: String,
    pub targets: Vec<Target>,
    /// The items with their windows, worst first (most working days over, then least left).
    pub items: Vec<(Open, String)>,
    /// Why, in words (for the audit).
    pub reason: String,
}

/// The decisions of one run over `items`.
pub fn decide(rules: &Rules, run: &Run, history: &dyn History, items: &[Open]) -> Vec<Decision> {
    let mut found: BTreeMap<(RuleName, &str), Vec<(Open, String)>> = BTreeMap::new();
    let silenced = |item: &Open| {
        history
            .silenced_until(&item.item_id)
            .is_some_and(|until| until >= run.today)
    };
    let answered = |item: &Open| {
        history
            .answered_until(&item.item_id)
            .is_some_and(|until| until >= run.today)
    };
    let deadline_window = |item: &Open| item.deadline_date.to_string();
    let day_window = run.today.to_string();
    let forecast_horizon = rules
        .forecast
        .as_ref()
        .and_then(|f| run.calendar.nth_working_day_after(run.today, f.days).ok());
    for item in items {
        if silenced(item) {
            continue;
        }
        let mut add = |rule: RuleName, window: String| {
            if !history.warned(rule, &item.item_id, &window) {
                found
                    .entry((rule, item.department.as_str()))
                    .or_default()
                    .push((item.clone(), window));
            }
        };
        let running = !item.paused;
        if let Some(near) = &rules.near
            && running
            && item.grade == Grade::Yellow
            && (0..=i64::from(near.days_left)).contains(&item.remaining)
        {
            add(RuleName::Near, deadline_window(item));
        }
        if rules.overdue.is_some() && item.grade == Grade::Red && (run.turned_red)(&item.item_id) {
            add(RuleName::Overdue, deadline_window(item));
        }
        if item.grade == Grade::Red {
            for (n, rung) in rules.escalation.iter().enumerate() {
                if item.days_over() >= rung.after_days && !answered(item) {
                    add(RuleName::Escalation(n as u8 + 1), deadline_window(item));
                }
            }
        }
        if run.scheduled.contains(&RuleName::Digest)
            && rules.digest.is_some()
            && item.grade == Grade::Red
            && !answered(item)
        {
            add(RuleName::Digest, day_window.clone());
        }
        if run.scheduled.contains(&RuleName::Forecast)
            && running
            && item.grade != Grade::Red
            && let Some(horizon) = forecast_horizon
        {
            // Red from the day after the deadline (or from `next_change_on` for a yellow
            // item, which says when the policy makes it red): red by the horizon.
            let red_from = match item.grade {
                Grade::Yellow => item.next_change_on,
                _ => item.deadline_date.succ_opt(),
            };
            if red_from.is_some_and(|day| day <= horizon) {
                add(RuleName::Forecast, day_window.clone());
            }
        }
    }
    found
        .into_iter()
        .filter_map(|((rule, department), mut items)| {
            let targets = match rule {
                RuleName::Near => rules.near.as_ref()?.to.clone(),
                RuleName::Overdue => rules.overdue.clone()?,
                RuleName::Digest => rules.digest.clone()?,
                RuleName::Forecast => rules.forecast.as_ref()?.to.clone(),
                RuleName::Escalation(n) => rules.escalation.get(usize::from(n) - 1)?.to.clone(),
                // Not a rule over items: `rankings::schedule` writes its messages.
                RuleName::Report => return None,
            };
            items.sort_by(|(a, _), (b, _)| {
                a.remaining
                    .cmp(&b.remaining)
                    .then_with(|| a.item_id.cmp(&b.item_id))
            });
            let reason = reason(rules, rule, items.len());
            Some(Decision {
                rule,
                department: department.to_owned(),
                targets,
                items,
                reason,
            })
        })
        .collect()
}

fn reason(rules: &Rules, rule: RuleName, count: usize) -> String {
    match rule {
        RuleName::Report => format!("{count} 份月度通报"),
        RuleName::Near => format!(
            "{count} 件黄色事项剩余不超过 {} 个工作日",
            rules.near.as_ref().map_or(0, |n| n.days_left)
        ),
        RuleName::Overdue => format!("{count} 件事项转为红色（超期）"),
        RuleName::Digest => format!("{count} 件红色事项（未回告、未暂停预警）"),
        RuleName::Forecast => format!(
            "{count} 件事项将在 {} 个工作日内超期",
            rules.forecast.as_ref().map_or(0, |f| f.days)
        ),
        RuleName::Escalation(n) => format!(
            "{count} 件事项超期已达 {} 个工作日",
            rules
                .escalation
                .get(usize::from(n) - 1)
                .map_or(0, |r| r.after_days)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn calendar() -> Calendar {
        Calendar::load_dir(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/holidays"),
            2,
        )
        .expect("the shipped holiday files")
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn item(id: &str, department: &str, grade: Grade, remaining: i64, deadline: NaiveDate) -> Open {
        Open {
            item_id: id.into(),
            department: department.into(),
            matter: "建设工程规划许可证核发".into(),
            project_code: "P1".into(),
            project_name: "产业园".into(),
            grade,
            deadline_date: deadline,
            remaining,
            paused: false,
            next_change_on: (grade == Grade::Yellow).then(|| deadline.succ_opt().expect("day")),
            provisional: false,
        }
    }

    #[derive(Default)]
    struct Past {
        warned: HashSet<(RuleName, String, String)>,
        answered: HashMap<String, NaiveDate>,
        silenced: HashMap<String, NaiveDate>,
    }

    impl History for Past {
        fn warned(&self, rule: RuleName, item_id: &str, window: &str) -> bool {
            self.warned
                .contains(&(rule, item_id.to_owned(), window.to_owned()))
        }
        fn answered_until(&self, item_id: &str) -> Option<NaiveDate> {
            self.answered.get(item_id).copied()
        }
        fn silenced_until(&self, item_id: &str) -> Option<NaiveDate> {
            self.silenced.get(item_id).copied()
        }
    }

    fn run<'a>(
        calendar: &'a Calendar,
        today: NaiveDate,
        red: &'a dyn Fn(&str) -> bool,
        scheduled: &'a [RuleName],
    ) -> Run<'a> {
        Run {
            today,
            calendar,
            turned_red: red,
            scheduled,
        }
    }

    #[test]
    fn two_hundred_red_items_of_one_department_are_one_decision() {
        let calendar = calendar();
        let today = day(2026, 12, 3);
        let items: Vec<Open> = (0..200)
            .map(|n| {
                item(
                    &format!("I{n:03}"),
                    "市住建局",
                    Grade::Red,
                    -1 - (n % 7),
                    day(2026, 12, 1),
                )
            })
            .collect();
        let red = |_: &str| true;
        let decisions = decide(
            &Rules::default(),
            &run(&calendar, today, &red, &[]),
            &Past::default(),
            &items,
        );
        let overdue: Vec<_> = decisions
            .iter()
            .filter(|d| d.rule == RuleName::Overdue)
            .collect();
        assert_eq!(overdue.len(), 1);
        assert_eq!(overdue[0].items.len(), 200);
        // Worst first: 7 working days over.
        assert_eq!(overdue[0].items[0].0.remaining, -7);
        // The ones over 3 and 5 days are escalated, each on its rung.
        let rung = |n| {
            decisions
                .iter()
                .find(|d| d.rule == RuleName::Escalation(n))
                .map(|d| d.items.len())
        };
        let over = |days| items.iter().filter(|i| i.days_over() >= days).count();
        assert_eq!(rung(1), Some(over(3)));
        assert_eq!(rung(2), Some(over(5)));
    }

    #[test]
    fn warned_once_a_deadline_and_again_after_an_extension() {
        let calendar = calendar();
        let today = day(2026, 12, 3);
        let red = |_: &str| true;
        let late = item("A", "市住建局", Grade::Red, -1, day(2026, 12, 2));
        let mut past = Past::default();
        past.warned
            .insert((RuleName::Overdue, "A".into(), "2026-12-02".into()));
        let decisions = decide(
            &Rules::default(),
            &run(&calendar, today, &red, &[]),
            &past,
            std::slice::from_ref(&late),
        );
        assert!(decisions.iter().all(|d| d.rule != RuleName::Overdue));
        // Extended to a new deadline, then red again: a new window.
        let again = Open {
            deadline_date: day(2026, 12, 9),
            ..late
        };
        let decisions = decide(
            &Rules::default(),
            &run(&calendar, day(2026, 12, 10), &red, &[]),
            &past,
            &[again],
        );
        assert!(decisions.iter().any(|d| d.rule == RuleName::Overdue));
    }

    #[test]
    fn near_takes_yellow_items_with_a_day_left_and_not_paused_ones() {
        let calendar = calendar();
        let today = day(2026, 12, 3);
        let no = |_: &str| false;
        let mut paused = item("P", "市住建局", Grade::Yellow, 1, day(2026, 12, 4));
        paused.paused = true;
        let items = [
            item("A", "市住建局", Grade::Yellow, 1, day(2026, 12, 4)),
            item("B", "市住建局", Grade::Yellow, 0, day(2026, 12, 3)),
            item("C", "市住建局", Grade::Yellow, 2, day(2026, 12, 7)),
            item("D", "市住建局", Grade::Blue, 1, day(2026, 12, 4)),
            paused,
        ];
        let decisions = decide(
            &Rules::default(),
            &run(&calendar, today, &no, &[]),
            &Past::default(),
            &items,
        );
        let near: Vec<&str> = decisions
            .iter()
            .filter(|d| d.rule == RuleName::Near)
            .flat_map(|d| d.items.iter().map(|(i, _)| i.item_id.as_str()))
            .collect();
        assert_eq!(near, ["B", "A"]);
    }

    #[test]
    fn escalation_counts_working_days_over_across_a_holiday() {
        // Deadline Thursday 24 September 2026; 中秋 (25 September) and the National Day
        // holiday (1–7 October) are rest. Over: 1 on the 28th, 2 on the 29th, 3 on the
        // 30th; the holiday adds none: 4 on Thursday 8 October, 5 on Friday the 9th.
        let calendar = calendar();
        let deadline = day(2026, 9, 24);
        let over = |today: NaiveDate| {
            calendar
                .working_days_between(deadline, today)
                .expect("loaded") as i64
        };
        let no = |_: &str| false;
        let on = |today: NaiveDate| {
            let open = item("A", "市住建局", Grade::Red, -over(today), deadline);
            decide(
                &Rules::default(),
                &run(&calendar, today, &no, &[]),
                &Past::default(),
                &[open],
            )
            .into_iter()
            .map(|d| d.rule)
            .collect::<Vec<_>>()
        };
        assert_eq!(on(day(2026, 9, 29)), Vec::<RuleName>::new());
        assert_eq!(on(day(2026, 9, 30)), [RuleName::Escalation(1)]);
        assert_eq!(on(day(2026, 10, 8)), [RuleName::Escalation(1)]);
        assert_eq!(
            on(day(2026, 10, 9)),
            [RuleName::Escalation(1), RuleName::Escalation(2)]
        );
    }

    #[test]
    fn the_digest_leaves_out_answered_and_silenced_items() {
        let calendar = calendar();
        let today = day(2026, 12, 3);
        let no = |_: &str| false;
        let items = [
            item("A", "市住建局", Grade::Red, -1, day(2026, 12, 2)),
            item("B", "市住建局", Grade::Red, -1, day(2026, 12, 2)),
            item("C", "市住建局", Grade::Red, -1, day(2026, 12, 2)),
            item("D", "市住建局", Grade::Red, -1, day(2026, 12, 2)),
        ];
        let mut past = Past::default();
        past.answered.insert("A".into(), day(2026, 12, 10));
        past.answered.insert("B".into(), day(2026, 12, 2)); // ran out yesterday
        past.silenced.insert("C".into(), day(2026, 12, 3));
        let decisions = decide(
            &Rules::default(),
            &run(&calendar, today, &no, &[RuleName::Digest]),
            &past,
            &items,
        );
        let digest: Vec<&str> = decisions
            .iter()
            .filter(|d| d.rule == RuleName::Digest)
            .flat_map(|d| d.items.iter().map(|(i, _)| i.item_id.as_str()))
            .collect();
        assert_eq!(digest, ["B", "D"]);
        // Not scheduled: no digest.
        let decisions = decide(
            &Rules::default(),
            &run(&calendar, today, &no, &[]),
            &past,
            &items,
        );
        assert!(decisions.iter().all(|d| d.rule != RuleName::Digest));
    }

    #[test]
    fn the_forecast_names_what_turns_red_within_three_working_days() {
        // Thursday 3 December 2026: three working days on is Tuesday 8 December.
        let calendar = calendar();
        let today = day(2026, 12, 3);
        let no = |_: &str| false;
        let items = [
            // Deadline Friday: red on Saturday the 5th.
            item("A", "市住建局", Grade::Yellow, 1, day(2026, 12, 4)),
            // Deadline Monday the 7th: red on the 8th, within.
            item("B", "市住建局", Grade::Yellow, 2, day(2026, 12, 7)),
            // Deadline Tuesday the 8th: red on the 9th, outside.
            item("C", "市住建局", Grade::Yellow, 3, day(2026, 12, 8)),
            // Blue, deadline the 4th (a 即办 item with a short limit): within.
            item("D", "市规划局", Grade::Blue, 1, day(2026, 12, 4)),
        ];
        let decisions = decide(
            &Rules::default(),
            &run(&calendar, today, &no, &[RuleName::Forecast]),
            &Past::default(),
            &items,
        );
        let forecast: Vec<(&str, Vec<&str>)> = decisions
            .iter()
            .filter(|d| d.rule == RuleName::Forecast)
            .map(|d| {
                (
                    d.department.as_str(),
                    d.items.iter().map(|(i, _)| i.item_id.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            forecast,
            [("市住建局", vec!["A", "B"]), ("市规划局", vec!["D"])]
        );
    }

    #[test]
    fn targets_parse_as_written_in_the_config() {
        assert_eq!(
            Target::parse("head:email"),
            Some(Target::Contact(Role::Head, Channel::Email))
        );
        assert_eq!(Target::parse("robot"), Some(Target::Robot));
        assert_eq!(Target::parse("head:robot"), None);
        assert_eq!(Target::parse("boss:sms"), None);
    }
}
