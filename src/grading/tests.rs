//! Every clause of the clock and grading rules (docs/rules.md; ARCHITECTURE.md sums them
//! up), pinned with real 2025 and 2026 dates, and properties checked against a day-by-day
//! reference count.

use chrono::{Datelike, NaiveDate};
use proptest::prelude::*;

use super::project::{government_days, grade_project};
use super::*;
use crate::calendar::tests::{d, shipped};
use crate::calendar::{Calendar, CalendarError};
use crate::item::Item;
use crate::item::tests::parse;

const DEFAULT: Thresholds = Thresholds {
    blue_max_share: 0.5,
    red_on_deadline_day: false,
};

fn running(accepted: &str, allowed: u32, stops: &[(&str, Option<&str>)]) -> ClockInput {
    let stops = stops
        .iter()
        .map(|(from, to)| Stop {
            from: d(from),
            to: to.map(d),
        })
        .collect();
    ClockInput::new(d(accepted), allowed, stops, None)
}

fn finished(accepted: &str, allowed: u32, stops: &[(&str, Option<&str>)], on: &str) -> ClockInput {
    let mut clock = running(accepted, allowed, stops);
    clock.ended_on = Some(d(on));
    clock
}

fn on(input: &ClockInput, today: &str) -> Grading {
    grade(input, &DEFAULT, &shipped(), d(today)).unwrap()
}

#[test]
fn the_acceptance_day_is_not_counted() {
    // Monday 2 Nov 2026, 5 days: 3, 4, 5, 6, 9 November.
    let item = running("2026-11-02", 5, &[]);
    let g = on(&item, "2026-11-02");
    assert_eq!(
        (g.used, g.remaining, g.deadline_date),
        (0, 5, d("2026-11-09"))
    );
    assert_eq!(on(&item, "2026-11-03").used, 1);
    assert_eq!(on(&item, "2026-11-08").used, 4, "the weekend adds nothing");
}

#[test]
fn acceptance_on_a_saturday() {
    // A plain Saturday: counting starts on Monday.
    let item = running("2026-11-07", 1, &[]);
    assert_eq!(on(&item, "2026-11-08").used, 0);
    assert_eq!(on(&item, "2026-11-09").deadline_date, d("2026-11-09"));
    // A worked Saturday before the Spring Festival: the next working day is 24 February.
    let item = running("2026-02-14", 3, &[]);
    assert_eq!(on(&item, "2026-02-14").deadline_date, d("2026-02-26"));
}

#[test]
fn the_2026_spring_festival() {
    // Friday 13 Feb; Saturday 14 worked; 15–23 off; Saturday 28 worked.
    let deadline = |allowed| on(&running("2026-02-13", allowed, &[]), "2026-02-13").deadline_date;
    assert_eq!(deadline(1), d("2026-02-14"));
    assert_eq!(deadline(2), d("2026-02-24"));
    assert_eq!(deadline(5), d("2026-02-27"));
    assert_eq!(deadline(6), d("2026-02-28"));
    assert_eq!(deadline(7), d("2026-03-02"));
    let item = running("2026-02-13", 5, &[]);
    assert_eq!(
        on(&item, "2026-02-23").used,
        1,
        "only the worked Saturday is counted"
    );
    assert_eq!(on(&item, "2026-02-23").grade, Grade::Blue);
}

#[test]
fn national_day_2025() {
    // Friday 26 Sep 2025; Sunday 28 worked; 1–8 Oct off; Saturday 11 Oct worked.
    let deadline = |allowed| on(&running("2025-09-26", allowed, &[]), "2025-09-26").deadline_date;
    assert_eq!(deadline(1), d("2025-09-28"));
    assert_eq!(deadline(3), d("2025-09-30"));
    assert_eq!(deadline(4), d("2025-10-09"));
    assert_eq!(deadline(6), d("2025-10-11"));
    assert_eq!(deadline(7), d("2025-10-13"));
}

#[test]
fn a_pause_across_a_holiday() {
    // Monday 28 Sep 2026, 5 days, correction from 29 Sep to 12 Oct: 29 Sep counts (the
    // day a pause starts still counts), then nothing until 13 Oct.
    let item = running("2026-09-28", 5, &[("2026-09-29", Some("2026-10-12"))]);
    let g = on(&item, "2026-10-14");
    assert_eq!(g.used, 3, "29 Sep, 13 Oct, 14 Oct");
    assert_eq!(g.deadline_date, d("2026-10-16"));
    let without = on(&running("2026-09-28", 5, &[]), "2026-09-28");
    assert_eq!(
        without.deadline_date,
        d("2026-10-10"),
        "the worked Saturday after National Day"
    );
}

#[test]
fn an_extension_is_added_to_the_limit() {
    let item = Item {
        limit_days: 5,
        extension_days: 3,
        ..parse(crate::item::tests::SAMPLE).unwrap()
    };
    assert_eq!(item.allowed_days(), 8);
    let input = running("2026-11-02", item.allowed_days(), &[]);
    assert_eq!(on(&input, "2026-11-02").deadline_date, d("2026-11-12"));
}

#[test]
fn an_immediate_item_is_blue_on_its_acceptance_date_and_red_after() {
    let item = running("2026-11-06", 0, &[]);
    let g = on(&item, "2026-11-06");
    assert_eq!(
        (g.grade, g.deadline_date, g.used, g.remaining),
        (Grade::Blue, d("2026-11-06"), 0, 0)
    );
    assert_eq!(g.next_change_on, Some(d("2026-11-07")));
    let g = on(&item, "2026-11-07");
    assert_eq!(
        (g.grade, g.overdue),
        (Grade::Red, true),
        "a Saturday is still after the deadline date"
    );
    let strict = Thresholds {
        red_on_deadline_day: true,
        ..DEFAULT
    };
    let g = grade(&item, &strict, &shipped(), d("2026-11-06")).unwrap();
    assert_eq!(
        g.grade,
        Grade::Blue,
        "the deadline-day policy never applies to 即办件"
    );
}

#[test]
fn grades_blue_yellow_red_and_the_deadline_day_policy() {
    let item = running("2026-11-02", 5, &[]);
    assert_eq!(on(&item, "2026-11-04").grade, Grade::Blue, "2 of 5");
    assert_eq!(on(&item, "2026-11-05").grade, Grade::Yellow, "3 of 5");
    assert_eq!(
        on(&item, "2026-11-09").grade,
        Grade::Yellow,
        "on the deadline date"
    );
    let g = on(&item, "2026-11-10");
    assert_eq!(
        (g.grade, g.overdue, g.used, g.remaining),
        (Grade::Red, true, 6, -1)
    );
    let strict = Thresholds {
        red_on_deadline_day: true,
        ..DEFAULT
    };
    assert_eq!(
        grade(&item, &strict, &shipped(), d("2026-11-09"))
            .unwrap()
            .grade,
        Grade::Red
    );
    assert_eq!(
        grade(&item, &strict, &shipped(), d("2026-11-06"))
            .unwrap()
            .next_change_on,
        Some(d("2026-11-09"))
    );
}

#[test]
fn an_open_pause_keeps_the_grade_of_its_start_and_moves_the_deadline() {
    // Accepted 2 Nov, 5 days, expert review from 4 Nov still open.
    let item = running("2026-11-02", 5, &[("2026-11-04", None)]);
    let g = on(&item, "2026-11-10");
    assert!(g.paused);
    assert_eq!(g.used, 2, "3 and 4 Nov");
    assert_eq!(g.grade, Grade::Blue, "2 of 5 on 4 Nov");
    assert_eq!(
        g.deadline_date,
        d("2026-11-13"),
        "as if the pause ended today: 11, 12, 13 Nov"
    );
    assert_eq!(g.next_change_on, None);
    assert_eq!(
        on(&item, "2026-11-11").deadline_date,
        d("2026-11-16"),
        "one working day later each day"
    );
    // Yellow when paused stays yellow; red when paused stays red and overdue.
    let late = running("2026-11-02", 5, &[("2026-11-05", None)]);
    assert_eq!(on(&late, "2026-11-20").grade, Grade::Yellow);
    let red = running("2026-11-02", 5, &[("2026-11-11", None)]);
    let g = on(&red, "2026-11-20");
    assert_eq!(
        (g.grade, g.overdue, g.deadline_date),
        (Grade::Red, true, d("2026-11-09"))
    );
}

#[test]
fn a_pause_reopened_the_day_the_last_one_ended_keeps_its_own_start_date() {
    // Counted: 12, 13, 16 June 2025, so the deadline is 16 June. A correction from 16 to
    // 23 June, then an expert review from 23 June still open: on 23 June it was overdue.
    let item = running(
        "2025-06-11",
        3,
        &[("2025-06-16", Some("2025-06-23")), ("2025-06-23", None)],
    );
    let g = on(&item, "2025-06-25");
    assert_eq!(
        (g.grade, g.deadline_date, g.used, g.overdue, g.paused),
        (Grade::Red, d("2025-06-16"), 3, true, true)
    );
    let overlapping = running(
        "2025-06-11",
        3,
        &[("2025-06-16", Some("2025-06-23")), ("2025-06-20", None)],
    );
    assert_eq!(on(&overlapping, "2025-06-25").grade, Grade::Red);
}

#[test]
fn finished_items_are_graded_on_their_finish_date() {
    let late = finished("2026-11-02", 5, &[], "2026-11-11");
    let g = on(&late, "2026-11-25");
    assert_eq!(
        (g.grade, g.overdue, g.used, g.remaining),
        (Grade::Red, true, 7, -2)
    );
    assert_eq!(g.next_change_on, None);
    assert_eq!(
        on(&finished("2026-11-02", 5, &[], "2026-11-04"), "2026-11-25").grade,
        Grade::Blue
    );
    assert_eq!(
        on(&finished("2026-11-02", 5, &[], "2026-11-09"), "2026-11-25").grade,
        Grade::Yellow
    );
    let strict = Thresholds {
        red_on_deadline_day: true,
        ..DEFAULT
    };
    let on_time = finished("2026-11-02", 5, &[], "2026-11-09");
    assert_eq!(
        grade(&on_time, &strict, &shipped(), d("2026-11-25"))
            .unwrap()
            .grade,
        Grade::Yellow
    );
}

#[test]
fn next_change_is_local_midnight_of_the_day_the_grade_changes() {
    let item = running("2026-11-02", 5, &[]);
    let g = on(&item, "2026-11-03");
    assert_eq!(g.next_change_on, Some(d("2026-11-05")));
    let tz = chrono_tz::Asia::Shanghai;
    assert_eq!(
        g.next_change(tz).unwrap().to_rfc3339(),
        "2026-11-05T00:00:00+08:00"
    );
    assert_eq!(
        on(&item, "2026-11-05").next_change_on,
        Some(d("2026-11-10"))
    );
    assert_eq!(on(&item, "2026-11-10").next_change_on, None);
}

#[test]
fn changes_missed_while_down_are_each_dated_the_day_they_took_effect() {
    let item = running("2026-11-02", 5, &[]);
    let before = on(&item, "2026-11-03");
    let walk_to = |today: &str| {
        changes_through(
            &item,
            &DEFAULT,
            &shipped(),
            before.grade,
            before.next_change_on,
            d(today),
        )
        .unwrap()
    };
    assert_eq!(
        walk_to("2026-11-12"),
        [
            Change {
                on: d("2026-11-05"),
                from: Grade::Blue,
                to: Grade::Yellow
            },
            Change {
                on: d("2026-11-10"),
                from: Grade::Yellow,
                to: Grade::Red
            },
        ]
    );
    // Back the next morning: only the change of that midnight.
    assert_eq!(walk_to("2026-11-05").len(), 1);
}

#[test]
fn acceptance_dates_are_local_dates() {
    // 23:30 UTC on 2 Nov is 07:30 on 3 Nov in Shanghai.
    let json = crate::item::tests::SAMPLE
        .replace("2026-11-02T09:30:00+08:00", "2026-11-02T23:30:00+00:00")
        .replace("\"status\":\"paused\"", "\"status\":\"pending\"")
        .replace("\"to\":null", "\"to\":\"2026-11-04T12:00:00+08:00\"");
    let item = parse(&json).unwrap();
    let input = ClockInput::from_item(&item, chrono_tz::Asia::Shanghai);
    assert_eq!(input.accepted_on, d("2026-11-03"));
}

#[test]
fn dates_beyond_the_loaded_years_are_errors_naming_the_year() {
    let item = running("2026-12-21", 10, &[]);
    let err = grade(&item, &DEFAULT, &shipped(), d("2026-12-22")).unwrap_err();
    assert!(err.to_string().contains("2027"), "{err}");
}

#[test]
fn project_government_time_counts_days_any_item_ran() {
    let items = [
        finished("2026-11-02", 5, &[], "2026-11-06"),
        running("2026-11-04", 10, &[("2026-11-09", Some("2026-11-12"))]),
    ];
    assert_eq!(
        government_days(&items, &shipped(), d("2026-11-16")).unwrap(),
        7
    );
    let paused = [running("2026-11-02", 5, &[("2026-11-04", None)])];
    assert_eq!(
        government_days(&paused, &shipped(), d("2026-11-16")).unwrap(),
        2
    );
    let g = grade_project(7, 10, &DEFAULT);
    assert_eq!((g.grade, g.remaining), (Grade::Yellow, 3));
    assert_eq!(grade_project(5, 10, &DEFAULT).grade, Grade::Blue);
    assert_eq!(grade_project(11, 10, &DEFAULT).grade, Grade::Red);
}

/// An item as generated: its clock, the pauses and finish as given (for the reference
/// count), and the thresholds it is graded by.
#[derive(Debug, Clone)]
struct Case {
    input: ClockInput,
    stops: Vec<Stop>,
    ended_on: Option<NaiveDate>,
    thresholds: Thresholds,
}

/// The clock counted the slow way, one date at a time, straight from the rule's words and
/// the pauses as given: a day after acceptance counts if it is a working day that no pause
/// stops (the callers start on the day after acceptance); a pause (P, R] stops d with P < d ≤ R; an open one ends on `open_until`, never
/// before it began. Only dates the rule needs are looked up, so an error here means the
/// answer really depends on a year that is not loaded.
fn is_counted(
    calendar: &Calendar,
    case: &Case,
    day: NaiveDate,
    open_until: NaiveDate,
) -> Result<bool, CalendarError> {
    let stopped = case
        .stops
        .iter()
        .any(|s| s.from < day && day <= s.to.unwrap_or(open_until.max(s.from)));
    Ok(!stopped && calendar.is_working_day(day)?)
}

fn reference_used(
    calendar: &Calendar,
    case: &Case,
    through: NaiveDate,
    open_until: NaiveDate,
) -> Result<u32, CalendarError> {
    let mut used = 0;
    let mut day = case.input.accepted_on;
    while day < through {
        day = day.succ_opt().unwrap();
        used += u32::from(is_counted(calendar, case, day, open_until)?);
    }
    Ok(used)
}

fn reference_deadline(
    calendar: &Calendar,
    case: &Case,
    open_until: NaiveDate,
) -> Result<NaiveDate, CalendarError> {
    let mut day = case.input.accepted_on;
    let mut counted = 0;
    while counted < case.input.allowed {
        day = day.succ_opt().unwrap();
        counted += u32::from(is_counted(calendar, case, day, open_until)?);
    }
    Ok(day)
}

/// Blue by the rule's words: at most the blue share of the allowed days used (with none
/// allowed, none used).
fn reference_is_blue(case: &Case, used: u32) -> bool {
    let allowed = case.input.allowed;
    if allowed == 0 {
        used == 0
    } else {
        f64::from(used) / f64::from(allowed) <= case.thresholds.blue_max_share
    }
}

/// The grade of a pending item on `day`, by the rule's words: red once overdue (under the
/// policy option already on the deadline date, never for 即办件), blue ahead of time,
/// yellow otherwise.
fn reference_pending_grade(
    calendar: &Calendar,
    case: &Case,
    day: NaiveDate,
) -> Result<Grade, CalendarError> {
    let used = reference_used(calendar, case, day, day)?;
    let deadline = reference_deadline(calendar, case, day)?;
    let strict = case.thresholds.red_on_deadline_day && case.input.allowed > 0;
    Ok(if day > deadline || (strict && day == deadline) {
        Grade::Red
    } else if reference_is_blue(case, used) {
        Grade::Blue
    } else {
        Grade::Yellow
    })
}

/// What grading `case` on `today` must give, figured day by day: used, deadline, grade and
/// overdue. A finished item is graded on its finish date (late red, whatever the pending
/// policy; early blue; else yellow); a paused one keeps the grade of the day its pause
/// began, or today's if it begins later.
fn reference(
    calendar: &Calendar,
    case: &Case,
    today: NaiveDate,
) -> Result<(u32, NaiveDate, Grade, bool), CalendarError> {
    if let Some(ended) = case.ended_on {
        let used = reference_used(calendar, case, ended, ended)?;
        let deadline = reference_deadline(calendar, case, ended)?;
        let grade = if ended > deadline {
            Grade::Red
        } else if reference_is_blue(case, used) {
            Grade::Blue
        } else {
            Grade::Yellow
        };
        return Ok((used, deadline, grade, ended > deadline));
    }
    let used = reference_used(calendar, case, today, today)?;
    let deadline = reference_deadline(calendar, case, today)?;
    let paused_since = case
        .stops
        .iter()
        .filter(|s| s.to.is_none())
        .map(|s| s.from)
        .min();
    let graded_on = paused_since.map_or(today, |p| p.min(today));
    let grade = reference_pending_grade(calendar, case, graded_on)?;
    Ok((used, deadline, grade, today > deadline))
}

/// Items around the loaded years (2025–2026), so that some need 2024 or 2027: accepted on
/// any day, with up to three closed pauses and an open one that may start before
/// acceptance, maybe finished, graded on a day that may precede acceptance, by the default
/// thresholds or any others.
fn arb_case() -> impl Strategy<Value = (Case, NaiveDate)> {
    let start = d("2025-01-01");
    let thresholds = (
        prop_oneof![Just(0.5), Just(0.0), Just(1.0), 0.0f64..=1.0],
        any::<bool>(),
    )
        .prop_map(|(blue_max_share, red_on_deadline_day)| Thresholds {
            blue_max_share,
            red_on_deadline_day,
        });
    (
        // 即办件 (none allowed) often enough to meet each rule's special case for them.
        (0i64..720, prop_oneof![1 => Just(0u32), 5 => 0u32..25]),
        proptest::collection::vec((-5i64..40, 0i64..25), 0..4),
        proptest::option::of(-5i64..30),
        proptest::option::of(0i64..60),
        // The acceptance day itself and the days around it are where the rules' edges are.
        prop_oneof![1 => -1i64..=1, 4 => -8i64..70],
        prop_oneof![3 => Just(DEFAULT), 2 => thresholds],
    )
        .prop_map(
            move |((accepted, allowed), pauses, open, ended, today, thresholds)| {
                let accepted_on = start + chrono::Duration::days(accepted);
                let day = |offset: i64| accepted_on + chrono::Duration::days(offset);
                let mut stops: Vec<Stop> = pauses
                    .into_iter()
                    .map(|(from, length)| Stop {
                        from: day(from),
                        to: Some(day(from + length)),
                    })
                    .collect();
                stops.extend(open.map(|from| Stop {
                    from: day(from),
                    to: None,
                }));
                let ended_on = ended.map(day);
                let input = ClockInput::new(accepted_on, allowed, stops.clone(), ended_on);
                let case = Case {
                    input,
                    stops,
                    ended_on,
                    thresholds,
                };
                (case, day(today))
            },
        )
}

/// Grading's error, where there is one, can only be a year not loaded (2025 and 2026 are),
/// and only a year the reference would have looked into: one it also fails on, or one
/// between the earliest and latest day it looks at.
fn assert_only_a_missing_year(
    error: &CalendarError,
    calendar: &Calendar,
    case: &Case,
    today: NaiveDate,
) -> Result<(), TestCaseError> {
    let CalendarError::YearNotLoaded { year, .. } = error else {
        return Err(TestCaseError::fail(format!("not a missing year: {error}")));
    };
    prop_assert!(!(2025..=2026).contains(year), "{error}");
    let first = case.input.accepted_on.min(today);
    let last = case.ended_on.unwrap_or(today).max(today);
    let looked_into = match reference(calendar, case, today) {
        Err(CalendarError::YearNotLoaded { year: needed, .. }) => needed == *year,
        Err(other) => return Err(TestCaseError::fail(format!("the reference: {other}"))),
        Ok((_, deadline, ..)) => (first.year()..=last.max(deadline).year()).contains(year),
    };
    prop_assert!(looked_into, "{error}, for a case the reference grades");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn used_deadline_and_grade_match_a_day_by_day_count((case, today) in arb_case()) {
        let calendar = shipped();
        let g = match grade(&case.input, &case.thresholds, &calendar, today) {
            Ok(g) => g,
            Err(e) => return assert_only_a_missing_year(&e, &calendar, &case, today),
        };
        let expected = reference(&calendar, &case, today);
        prop_assert!(expected.is_ok(), "graded {:?}, but the reference needs {:?}", g, expected);
        let (used, deadline, grade, overdue) = expected.unwrap();
        prop_assert_eq!(
            (g.used, g.deadline_date, g.grade, g.overdue),
            (used, deadline, grade, overdue)
        );
        prop_assert_eq!(g.remaining, i64::from(g.allowed) - i64::from(g.used));
        prop_assert_eq!(g.allowed, case.input.allowed);
        let open = case.stops.iter().any(|s| s.to.is_none());
        prop_assert_eq!(g.paused, open && case.ended_on.is_none());
        if case.ended_on.is_some() {
            prop_assert_eq!(g.next_change_on, None);
        }
    }

    #[test]
    fn the_changes_walked_are_the_days_the_grade_differs_from_the_day_before(
        (case, today) in arb_case(),
        days in 1i64..60,
    ) {
        let (input, thresholds, calendar) = (case.input, case.thresholds, shipped());
        let later = today + chrono::Duration::days(days);
        let Ok(start) = grade(&input, &thresholds, &calendar, today) else { return Ok(()) };
        let Ok(changes) = changes_through(&input, &thresholds, &calendar, start.grade, start.next_change_on, later) else { return Ok(()) };
        let mut expected = Vec::new();
        let mut from = start.grade;
        for n in 1..=days {
            let on = today + chrono::Duration::days(n);
            let Ok(then) = grade(&input, &thresholds, &calendar, on) else { return Ok(()) };
            let to = then.grade;
            if to != from {
                expected.push(Change { on, from, to });
                from = to;
            }
        }
        prop_assert_eq!(changes, expected);
    }

    #[test]
    fn used_never_decreases_as_now_grows((case, today) in arb_case(), step in 1i64..30) {
        let (input, thresholds, calendar) = (case.input, case.thresholds, shipped());
        let later = today + chrono::Duration::days(step);
        if let (Ok(a), Ok(b)) = (grade(&input, &thresholds, &calendar, today), grade(&input, &thresholds, &calendar, later)) {
            prop_assert!(a.used <= b.used, "{} then {}", a.used, b.used);
        }
    }

    #[test]
    fn a_pause_never_makes_a_deadline_earlier((case, today) in arb_case()) {
        let (input, calendar) = (&case.input, shipped());
        let Ok(with) = grade(input, &case.thresholds, &calendar, today) else { return Ok(()) };
        for skip in 0..case.stops.len() {
            let mut fewer = case.stops.clone();
            fewer.remove(skip);
            let without = ClockInput::new(input.accepted_on, input.allowed, fewer, case.ended_on);
            if let Ok(g) = grade(&without, &case.thresholds, &calendar, today) {
                prop_assert!(g.deadline_date <= with.deadline_date);
            }
        }
    }

    #[test]
    fn the_deadline_is_a_working_day_after_acceptance((case, today) in arb_case()) {
        let (input, calendar) = (case.input, shipped());
        let Ok(g) = grade(&input, &case.thresholds, &calendar, today) else { return Ok(()) };
        if input.allowed > 0 {
            prop_assert!(g.deadline_date > input.accepted_on);
            prop_assert!(calendar.is_working_day(g.deadline_date).unwrap());
        } else {
            prop_assert_eq!(g.deadline_date, input.accepted_on);
        }
    }

    #[test]
    fn next_change_is_the_first_day_the_grade_differs((case, today) in arb_case()) {
        let (input, thresholds, calendar) = (case.input, case.thresholds, shipped());
        let Ok(now) = grade(&input, &thresholds, &calendar, today) else { return Ok(()) };
        // Without outside events the grade only changes while the clock runs.
        let horizon = now.next_change_on.unwrap_or(today + chrono::Duration::days(40));
        let mut day = today;
        while day < horizon {
            day = day.succ_opt().unwrap();
            let Ok(then) = grade(&input, &thresholds, &calendar, day) else { return Ok(()) };
            if day < horizon || now.next_change_on.is_none() {
                prop_assert_eq!(then.grade, now.grade, "changed on {} before next_change", day);
            } else {
                prop_assert_ne!(then.grade, now.grade, "unchanged on next_change {}", day);
            }
        }
        // Only a red, paused or finished item has nothing more to change into.
        if now.next_change_on.is_none() && !now.paused && input.ended_on.is_none() {
            prop_assert_eq!(now.grade, Grade::Red);
        }
    }
}

#[test]
fn a_clock_as_of_a_past_day_knows_only_what_had_happened_by_then() {
    let today = finished(
        "2026-11-02",
        5,
        &[("2026-11-04", Some("2026-11-09"))],
        "2026-11-20",
    );
    assert_eq!(today.as_of(d("2026-11-01")), None, "not yet accepted");
    assert_eq!(
        on(&today.as_of(d("2026-11-06")).unwrap(), "2026-11-06"),
        on(
            &running("2026-11-02", 5, &[("2026-11-04", None)]),
            "2026-11-06"
        ),
        "the pause was still open"
    );
    assert_eq!(
        on(&today.as_of(d("2026-11-12")).unwrap(), "2026-11-12"),
        on(
            &running("2026-11-02", 5, &[("2026-11-04", Some("2026-11-09"))]),
            "2026-11-12"
        ),
        "the pause had ended, the item was still running"
    );
    assert_eq!(
        today.as_of(d("2026-11-20")),
        Some(today.clone()),
        "finished"
    );
    assert_eq!(
        running("2026-11-02", 5, &[("2026-11-10", None)]).as_of(d("2026-11-05")),
        Some(running("2026-11-02", 5, &[])),
        "a pause begun later was not known"
    );
}

#[test]
fn grades_read_back_from_their_words() {
    for g in Grade::ALL {
        assert_eq!(Grade::parse(g.as_str()), Some(g));
    }
    assert_eq!(Grade::parse("green"), None);
}

#[test]
fn a_projects_time_through_a_year_without_its_notice_is_provisional() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/holidays");
    let calendar = Calendar::load_dir(&dir, 2).unwrap();
    let items = [running("2026-12-01", 20, &[])];
    let provisional =
        |today: &str| super::project::government_provisional(&items, &calendar, d(today));
    assert!(!provisional("2026-12-10"));
    // From 20 December the 2027 notice may arrange the days; in January they are 2027's.
    assert!(provisional("2026-12-21"));
    assert!(provisional("2027-01-10"));
    let finished = [finished("2026-12-01", 5, &[], "2026-12-08")];
    assert!(!super::project::government_provisional(
        &finished,
        &calendar,
        d("2027-01-10")
    ));
}
