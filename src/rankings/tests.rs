//! A fixed history with scores and places worked out by hand (October 2025, with the
//! National Day holiday of 1–8 October and the worked Saturday 11 October; February 2026,
//! with the Spring Festival of 15–23 February and the worked Saturday 14 February).

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveTime, TimeZone, Utc};

use super::period::Period;
use super::score::{Rules, Tally, Weights, working_hours};
use super::{Cutoffs, Report};
use crate::calendar::Calendar;
use crate::grading::{Grade, GradingPolicy};
use crate::item::{Item, Pause, PauseKind, Status};

fn calendar() -> Calendar {
    Calendar::load_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/holidays"),
        2,
    )
    .expect("the shipped holiday files")
}

/// Local time in Shanghai.
fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<FixedOffset> {
    FixedOffset::east_opt(8 * 3600)
        .expect("offset")
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .expect("time")
}

fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    at(y, m, d, h).with_timezone(&Utc)
}

struct Record<'a> {
    id: &'a str,
    project: &'a str,
    department: &'a str,
    accepted: DateTime<FixedOffset>,
    limit: u32,
    legal: u32,
    finished: Option<DateTime<FixedOffset>>,
    pauses: Vec<Pause>,
    rating: Option<u8>,
}

fn item(r: Record<'_>) -> Item {
    Item {
        item_id: r.id.into(),
        project_code: r.project.into(),
        project_name: format!("项目{}", r.project),
        project_category: String::new(),
        matter: "事项".into(),
        department: r.department.into(),
        stage: 2,
        status: if r.finished.is_some() {
            Status::Finished
        } else if r.pauses.iter().any(|p| p.to.is_none()) {
            Status::Paused
        } else {
            Status::Pending
        },
        accepted_at: r.accepted,
        limit_days: r.limit,
        legal_days: r.legal,
        extension_days: 0,
        pauses: r.pauses,
        finished_at: r.finished,
        updated_at: r.finished.unwrap_or(r.accepted),
        rating: r.rating,
    }
}

fn history() -> Vec<Item> {
    let rec = |id, project, department, accepted, limit, legal, finished, rating| Record {
        id,
        project,
        department,
        accepted,
        limit,
        legal,
        finished,
        pauses: Vec::new(),
        rating,
    };
    vec![
        // 甲局: on time (Oct 9, 10 counted: 2 of 3), late by 3 (5 of 2), and one still
        // pending on Oct 31, 16 days over (17 counted of 1) and red.
        item(rec(
            "a1",
            "PB",
            "甲局",
            at(2025, 9, 30, 10),
            3,
            0,
            Some(at(2025, 10, 10, 16)),
            None,
        )),
        item(rec(
            "a2",
            "PB",
            "甲局",
            at(2025, 10, 9, 10),
            2,
            0,
            Some(at(2025, 10, 15, 16)),
            None,
        )),
        item(rec(
            "a3",
            "PA",
            "甲局",
            at(2025, 10, 9, 10),
            1,
            0,
            None,
            None,
        )),
        // 乙局 and 丙局: the same item each (3 of 5 days used, 3 of 10 legal), rated 5: a tie.
        item(rec(
            "b1",
            "PB",
            "乙局",
            at(2025, 10, 13, 10),
            5,
            10,
            Some(at(2025, 10, 16, 16)),
            Some(5),
        )),
        item(rec(
            "c1",
            "PB",
            "丙局",
            at(2025, 10, 13, 10),
            5,
            10,
            Some(at(2025, 10, 16, 16)),
            Some(5),
        )),
        // 乙局 alone finished in September: first then.
        item(rec(
            "b0",
            "PB",
            "乙局",
            at(2025, 9, 1, 10),
            5,
            0,
            Some(at(2025, 9, 3, 16)),
            None,
        )),
        // 戊局: paused from Oct 29 across the month's end; nothing finished: listed apart.
        item(Record {
            pauses: vec![Pause {
                kind: PauseKind::ExpertReview,
                from: at(2025, 10, 29, 15),
                to: Some(at(2025, 11, 4, 9)),
            }],
            ..rec("e1", "PB", "戊局", at(2025, 10, 27, 10), 5, 0, None, None)
        }),
        // February 2026: accepted Thursday the 12th, limit 3: the 13th, the worked Saturday
        // 14th, then Tuesday the 24th (after the holiday) and the 25th: 4 of 3, late by 1.
        item(rec(
            "f1",
            "PB",
            "乙局",
            at(2026, 2, 12, 10),
            3,
            0,
            Some(at(2026, 2, 25, 11)),
            None,
        )),
    ]
}

fn report(period: &str, calendar: &Calendar) -> Report {
    let policy = GradingPolicy::default();
    let targets = BTreeMap::from([("land_start".to_owned(), 10)]);
    let rules = Rules {
        calendar,
        policy: &policy,
        tz: chrono_tz::Asia::Shanghai,
        targets: &targets,
        weights: Weights::default(),
        cutoffs: Cutoffs::default(),
        hours: (
            NaiveTime::from_hms_opt(8, 30, 0).expect("time"),
            NaiveTime::from_hms_opt(17, 30, 0).expect("time"),
        ),
    };
    let mut tally = Tally::new(rules, Period::parse(period).expect("period"));
    for name in ["甲局", "乙局", "丙局", "丁局", "戊局"] {
        tally.department(name);
    }
    tally.project("PA", "拿地即开工项目", "land_start");
    tally.project("PB", "一般项目", "general_social");
    for item in &history() {
        tally.item(item);
    }
    // 甲局 warned about a3 on Monday Oct 20 at 09:00 and answered on Tuesday at 10:00:
    // 8.5 office hours that day (09:00–17:30) and 1.5 the next (08:30–10:00).
    tally.warned("a3", "甲局", utc(2025, 10, 20, 9));
    tally.answered(
        "a3",
        "甲局",
        utc(2025, 10, 21, 10),
        Some(utc(2025, 10, 20, 9)),
    );
    tally.finish("示范市", utc(2025, 11, 3, 8))
}

fn row<'a>(report: &'a Report, name: &str) -> &'a super::DepartmentRow {
    report
        .rows()
        .find(|r| r.department == name)
        .unwrap_or_else(|| panic!("{name} is listed"))
}

#[test]
fn october_2025_scores_and_places_are_the_hand_computed_ones() {
    let calendar = calendar();
    let r = report("2025-10", &calendar);
    let names: Vec<(&str, Option<u32>)> = r
        .ranked
        .iter()
        .map(|r| (r.department.as_str(), r.place))
        .collect();
    // 乙局 and 丙局 tie on every key and share first place, listed by name; 甲局 is third.
    assert_eq!(
        names,
        [("丙局", Some(1)), ("乙局", Some(1)), ("甲局", Some(3))]
    );
    let unranked: Vec<&str> = r.unranked.iter().map(|r| r.department.as_str()).collect();
    assert_eq!(
        unranked,
        ["丁局", "戊局"],
        "no finished items: listed apart"
    );

    // 乙局: 100 × (40×1 + 20×(1−0.6) + 20×0.7 + 10×(5−1)/4) ÷ 90 = 80.
    let b = row(&r, "乙局");
    assert_eq!((b.finished, b.on_time, b.received), (1, 1, 1));
    assert_eq!(b.score, 80.0);
    assert_eq!(b.mean_share, Some(0.6));
    assert!((b.compression.expect("compression") - 0.7).abs() < 1e-9);
    assert_eq!(b.rating, Some(5.0));
    // First in September too (alone).
    assert_eq!((b.previous_place, b.change), (Some(1), Some(0)));

    // 甲局: on-time 1 of 2; mean share (2/3 + 5/2) / 2 > 1, so no points for speed;
    // answered 1 of 1 warnings: 100 × (40×0.5 + 0 + 10×1) ÷ 70 = 42.857…; in hand 3 items
    // (2 finished, 1 open at the end): less 2 × 19 overdue days (3 finished late, 16 still
    // pending) ÷ 3 = 12.667 and 20 × 1 red at the end ÷ 3 = 6.667: 23.52.
    let a = row(&r, "甲局");
    assert_eq!((a.finished, a.on_time, a.received), (2, 1, 2));
    assert_eq!(a.on_time_rate, Some(0.5));
    assert_eq!((a.overdue_days, a.red_pending, a.pending_end), (19, 1, 1));
    assert_eq!((a.warnings, a.answers), (1, 1));
    assert_eq!(a.answer_hours, Some(10.0));
    assert_eq!(a.score, 23.52);
    assert_eq!(
        a.previous_place, None,
        "not ranked in September (nothing finished)"
    );

    // 丁局 has no items at all; 戊局's item, paused from Oct 29, is pending at the end, blue
    // as it was when its pause began (2 of 5 used).
    let d = row(&r, "丁局");
    assert_eq!((d.received, d.finished, d.place), (0, 0, None));
    let e = row(&r, "戊局");
    assert_eq!((e.received, e.red_pending), (1, 0));
    let e1 = r
        .items
        .iter()
        .find(|i| i.item_id == "e1")
        .expect("e1 counted");
    assert_eq!(
        (e1.status, e1.grade, e1.used),
        (Status::Paused, Grade::Blue, 2)
    );

    // Items behind the figures: a2 late by 3, a3 pending 16 over and red.
    let a2 = r.items.iter().find(|i| i.item_id == "a2").expect("a2");
    assert_eq!(
        (a2.used, a2.allowed, a2.overdue_days, a2.on_time),
        (5, 2, 3, false)
    );
    let a3 = r.items.iter().find(|i| i.item_id == "a3").expect("a3");
    assert_eq!(
        (
            a3.used,
            a3.overdue_days,
            a3.red_at_end,
            a3.warnings,
            a3.answers
        ),
        (17, 16, true, 1, 1)
    );

    // PA (拿地即开工, target 10): 17 government days at the month's end, 0 before it.
    assert_eq!(r.projects_over.len(), 1);
    let p = &r.projects_over[0];
    assert_eq!(
        (p.project_code.as_str(), p.government_days, p.over_by),
        ("PA", 17, 7)
    );
    assert!(!r.so_far);
    assert!(r.formula.contains("按时办结率×40"));
}

#[test]
fn february_2026_counts_the_worked_saturday_and_skips_the_spring_festival() {
    let calendar = calendar();
    let r = report("2026-02", &calendar);
    let b = row(&r, "乙局");
    assert_eq!((b.finished, b.on_time, b.overdue_days), (1, 0, 1));
    let f1 = r.items.iter().find(|i| i.item_id == "f1").expect("f1");
    assert_eq!(
        (f1.used, f1.deadline.to_string().as_str()),
        (4, "2026-02-24")
    );
    // Nothing on time and no speed: 0, less 2 points for the day over, floored at 0.
    assert_eq!(b.score, 0.0);
    assert_eq!(b.place, Some(1));
}

#[test]
fn the_quarter_grades_by_the_cut_offs() {
    let calendar = calendar();
    let r = report("2025Q4", &calendar);
    assert_eq!(r.cutoffs, Some(Cutoffs::default()));
    // Over the quarter the same October items count (nothing else happened).
    assert_eq!(row(&r, "乙局").grade.as_deref(), Some("良好"), "80 is 良好");
    assert_eq!(row(&r, "甲局").grade.as_deref(), Some("不合格"));
    assert_eq!(
        row(&r, "丁局").grade,
        None,
        "not assessed without finished items"
    );
}

#[test]
fn office_hours_skip_nights_and_rest_days() {
    let calendar = calendar();
    let hours = (
        NaiveTime::from_hms_opt(8, 30, 0).expect("time"),
        NaiveTime::from_hms_opt(17, 30, 0).expect("time"),
    );
    let tz = chrono_tz::Asia::Shanghai;
    // Friday Sep 30 2025 16:30 → Thursday Oct 9 09:30 (the holiday between): 1 + 1 hours.
    assert_eq!(
        working_hours(
            &calendar,
            tz,
            hours,
            utc(2025, 9, 30, 16) + chrono::Duration::minutes(30),
            utc(2025, 10, 9, 9) + chrono::Duration::minutes(30)
        ),
        2.0
    );
    assert_eq!(
        working_hours(
            &calendar,
            tz,
            hours,
            utc(2025, 10, 21, 10),
            utc(2025, 10, 20, 9)
        ),
        0.0
    );
}

#[test]
fn a_correction_after_publication_is_reported_beside_the_published_figures() {
    let calendar = calendar();
    let published = report("2025-10", &calendar);
    let mut corrected = published.clone();
    // As if a feed corrected 甲局's a2 to finished on time: recompute with it changed.
    corrected.digest = "other".into();
    let a = corrected
        .ranked
        .iter_mut()
        .find(|r| r.department == "甲局")
        .expect("甲局");
    a.on_time = 2;
    a.score = 50.0;
    let c = super::compare::compare(&published, &corrected);
    assert!(c.inputs_changed);
    assert_eq!(c.differences.len(), 1);
    let d = &c.differences[0];
    assert_eq!(d.department, "甲局");
    assert_eq!(d.score_change, 26.48);
    assert!(
        d.figures
            .iter()
            .any(|(name, then, now)| name == "综合得分" && then == "23.52" && now == "50.00")
    );
}
