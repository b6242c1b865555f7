//! The figures of a small board whose every count was worked out by hand (November 2026,
//! no holidays after National Day).

use super::*;
use crate::calendar::tests::{d, shipped};
use crate::canonical::record_hash;

struct Spec<'a> {
    id: &'a str,
    department: &'a str,
    project: &'a str,
    accepted: &'a str,
    limit: u32,
    finished: Option<&'a str>,
    paused_from: Option<&'a str>,
}

fn board(specs: &[Spec]) -> Board {
    let calendar = shipped();
    let tz = chrono_tz::Asia::Shanghai;
    let mut board = Board::default();
    for s in specs {
        let status = match (s.finished, s.paused_from) {
            (Some(_), _) => "finished",
            (None, Some(_)) => "paused",
            _ => "pending",
        };
        let time = |day: &str| format!("\"{day}T10:00:00+08:00\"");
        let finished = s.finished.map_or("null".to_owned(), time);
        let pauses = s.paused_from.map_or(String::new(), |from| {
            format!(r#"{{"kind":"correction","from":{},"to":null}}"#, time(from))
        });
        let json = format!(
            r#"{{"item_id":"{id}","project_code":"{project}","project_name":"项目{project}","project_category":"general_social","matter":"建设工程规划许可证核发","department":"{dept}","stage":2,"status":"{status}","accepted_at":{accepted},"limit_days":{limit},"legal_days":20,"extension_days":0,"pauses":[{pauses}],"finished_at":{finished},"updated_at":{accepted}}}"#,
            id = s.id,
            project = s.project,
            dept = s.department,
            accepted = time(s.accepted),
            limit = s.limit,
        );
        let item = crate::item::tests::parse(&json).unwrap();
        let graded = board
            .grade(
                &item,
                record_hash(&item),
                Thresholds::default(),
                &calendar,
                tz,
                d("2026-11-25"),
            )
            .unwrap();
        board.commit([graded]);
    }
    board
}

fn spec<'a>(id: &'a str, department: &'a str, accepted: &'a str, limit: u32) -> Spec<'a> {
    Spec {
        id,
        department,
        project: "P1",
        accepted,
        limit,
        finished: None,
        paused_from: None,
    }
}

fn sample() -> Board {
    board(&[
        // 17 working days used of 5 by the 25th: red since the 10th, 12 days over.
        spec("A", "市自然资源和规划局", "2026-11-02", 5),
        spec("B", "市住房和城乡建设局", "2026-11-24", 10),
        // 5 of 5 used on its deadline day: yellow.
        spec("C", "市住房和城乡建设局", "2026-11-18", 5),
        Spec {
            finished: Some("2026-11-25"),
            project: "P2",
            ..spec("D", "市住房和城乡建设局", "2026-11-02", 20)
        },
        // Finished late: 6 days used of 3.
        Spec {
            finished: Some("2026-11-10"),
            project: "P2",
            ..spec("E", "市自然资源和规划局", "2026-11-02", 3)
        },
        // Paused on the 18th with 2 of 5 used: blue, frozen.
        Spec {
            paused_from: Some("2026-11-18"),
            ..spec("F", "市自然资源和规划局", "2026-11-16", 5)
        },
    ])
}

fn figures(board: &Board, today: &str) -> Figures {
    let targets = BTreeMap::from([("general_social".to_owned(), 30)]);
    let past = trend_before(board, &shipped(), d(today));
    count_all(
        board,
        &shipped(),
        &targets,
        &Thresholds::default(),
        d(today),
        &past,
    )
}

#[test]
fn headline_ring_departments_and_stages() {
    let f = figures(&sample(), "2026-11-25");
    assert_eq!(
        f.headline,
        Headline {
            pending: 4,
            paused: 1,
            overdue: 1,
            finished_today: 1,
            finished_this_month: 2,
            on_time_rate: Some(0.5),
            ungradable: 0,
            provisional: 0,
            calendar: None,
        }
    );
    assert_eq!(
        f.ring,
        Counts {
            blue: 2,
            yellow: 1,
            red: 1
        }
    );
    let departments: Vec<(&str, [u64; 3])> = f
        .departments
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                [r.counts.blue, r.counts.yellow, r.counts.red],
            )
        })
        .collect();
    assert_eq!(
        departments,
        [
            ("市自然资源和规划局", [1, 0, 1]),
            ("市住房和城乡建设局", [1, 1, 0])
        ],
        "sorted by red"
    );
    assert_eq!(f.stages.len(), 4);
    assert_eq!(f.stages[1].counts.total(), 4);
    assert_eq!(f.stages[1].name, "工程建设许可");
}

#[test]
fn the_newest_red_items_with_days_over() {
    let f = figures(&sample(), "2026-11-25");
    assert_eq!(f.red_list.len(), 1);
    let a = &f.red_list[0];
    assert_eq!(
        (a.item_id.as_str(), a.red_since, a.days_over),
        ("A", d("2026-11-10"), 12)
    );
    assert_eq!(a.project_name, "项目P1");
    // A day later C has passed its deadline: the newest red item comes first, and A is one
    // more day over. (At midnight the grader re-grades what is due; the figures trust it.)
    let mut board = sample();
    let midnight = chrono::DateTime::parse_from_rfc3339("2026-11-26T00:00:00+08:00")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let due: Vec<_> = board
        .due(midnight, &shipped(), chrono_tz::Asia::Shanghai)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    board.commit(due);
    let f = figures(&board, "2026-11-26");
    let rows: Vec<(&str, u32)> = f
        .red_list
        .iter()
        .map(|r| (r.item_id.as_str(), r.days_over))
        .collect();
    assert_eq!(rows, [("C", 1), ("A", 13)]);
    // The longest overdue first: A, then C.
    let longest: Vec<(&str, u32)> = f
        .overdue_list
        .iter()
        .map(|r| (r.item_id.as_str(), r.days_over))
        .collect();
    assert_eq!(longest, [("A", 13), ("C", 1)]);
}

#[test]
fn the_trend_redraws_past_days_from_the_clocks() {
    let f = figures(&sample(), "2026-11-25");
    assert_eq!(f.trend.len(), TREND_DAYS);
    assert_eq!(f.trend.last().map(|t| (t.yellow, t.red)), Some((1, 1)));
    let on = |day: &str| {
        let t = f.trend.iter().find(|t| t.date == d(day)).unwrap();
        (t.yellow, t.red)
    };
    // The 9th: A on its deadline day (yellow), E already late (red).
    assert_eq!(on("2026-11-09"), (1, 1));
    // The 10th: E finished that day, A turned red.
    assert_eq!(on("2026-11-10"), (0, 1));
    // Before anything was accepted.
    assert_eq!(on("2026-10-30"), (0, 0));
}

#[test]
fn projects_are_ranked_by_the_share_of_their_target_used() {
    let f = figures(&sample(), "2026-11-25");
    // P1 has open items; P2 has only finished ones and is not shown.
    assert_eq!(f.projects.len(), 1);
    let p = &f.projects[0];
    assert_eq!((p.code.as_str(), p.target_days), ("P1", 30));
    // Running since the 2nd, F's pause never stops the project while A runs: 17 days.
    assert_eq!(p.government_days, 17);
    assert_eq!(p.grade, Grade::Yellow);
}

#[test]
fn a_clock_stopped_on_its_deadline_day_is_not_counted_overdue() {
    // One day allowed, due on the 17th; a correction was asked for that day. Its clock is
    // stopped with nothing over: yellow, not overdue, not on the red list.
    let board = board(&[Spec {
        paused_from: Some("2026-11-17"),
        ..spec("G", "市自然资源和规划局", "2026-11-16", 1)
    }]);
    let f = figures(&board, "2026-11-25");
    assert_eq!(
        (f.headline.pending, f.headline.paused, f.headline.overdue),
        (1, 1, 0)
    );
    assert_eq!(f.ring.yellow, 1);
    assert!(f.red_list.is_empty());
}
