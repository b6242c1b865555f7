//! The charts as documents: well-formed SVG, every grade's word and count written beside
//! its colour, names from feeds escaped, and an empty board drawn without dividing by zero.

use chrono::NaiveDate;

use super::*;
use crate::live::figures::{Counts, DepartmentRow, ProjectRow, StageRow, TrendDay};

fn counts(blue: u64, yellow: u64, red: u64) -> Counts {
    Counts { blue, yellow, red }
}

/// Whether `svg` has a text element whose whole text is `s`.
fn has_text(svg: &str, s: &str) -> bool {
    svg.contains(&format!(">\n{s}\n</text>"))
}

fn balanced(svg: &str) -> bool {
    svg.starts_with("<svg")
        && svg.trim_end().ends_with("</svg>")
        && svg.matches("<text").count() == svg.matches("</text>").count()
}

#[test]
fn the_ring_writes_each_grade_with_its_count_and_share() {
    let svg = ring::draw(&counts(60, 30, 10), 7).unwrap();
    assert!(balanced(&svg));
    for expected in [
        "蓝 超前",
        "黄 正常",
        "红 超期",
        "60  60.0%",
        "30  30.0%",
        "10  10.0%",
        "100",
        "7",
    ] {
        assert!(has_text(&svg, expected), "{expected} missing from the ring");
    }
    // One arc per grade present, in its colour.
    for c in ["#4AA3F0", "#F5D033", "#E8483F"] {
        assert!(svg.contains(c), "{c}");
    }
}

#[test]
fn department_labels_drop_the_citys_prefix_but_not_a_word() {
    let rows: Vec<DepartmentRow> = [
        "市气象局",
        "市政公用服务单位",
        "市市场监督管理局",
        "市场监督管理局",
    ]
    .iter()
    .map(|name| DepartmentRow {
        id: (*name).into(),
        name: (*name).into(),
        counts: counts(1, 1, 1),
    })
    .collect();
    let svg = bars::departments(&rows).unwrap();
    for label in ["气象局", "市政公用服…", "市场监督管…"] {
        assert!(has_text(&svg, label), "{label} missing");
    }
    for wrong in ["政公用服务…", "场监督管理局"] {
        assert!(!has_text(&svg, wrong), "{wrong}");
    }
}

#[test]
fn an_empty_board_draws_every_chart() {
    let stages: Vec<StageRow> = (1..=4)
        .map(|s| StageRow {
            stage: s,
            name: crate::item::STAGE_NAMES[usize::from(s) - 1],
            counts: Counts::default(),
        })
        .collect();
    for svg in [
        ring::draw(&Counts::default(), 0).unwrap(),
        bars::departments(&[]).unwrap(),
        bars::stages(&stages).unwrap(),
        trend::draw(&[]).unwrap(),
        projects::draw(&[]).unwrap(),
    ] {
        assert!(balanced(&svg));
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }
}

#[test]
fn names_from_feeds_are_escaped_and_cut() {
    let rows = vec![DepartmentRow {
        id: "x".into(),
        name: "<script>市自然资源和规划局局局局</script>".into(),
        counts: counts(1, 2, 3),
    }];
    let svg = bars::departments(&rows).unwrap();
    assert!(!svg.contains("<scri"), "{svg}");
    assert!(svg.contains("&lt;scri"));
    assert!(svg.contains('…'));
    let rows = vec![ProjectRow {
        code: "P".into(),
        name: "A & B 园".into(),
        category: "general_social".into(),
        government_days: 33,
        target_days: 30,
        grade: crate::grading::Grade::Red,
    }];
    let svg = projects::draw(&rows).unwrap();
    assert!(has_text(&svg, "A &amp; B 园") && has_text(&svg, "33/30"));
}

#[test]
fn the_trend_labels_today_and_every_fifth_day() {
    let start = NaiveDate::from_ymd_opt(2026, 10, 27).unwrap();
    let days: Vec<TrendDay> = (0..30)
        .map(|i| TrendDay {
            date: start + chrono::Days::new(i),
            yellow: i,
            red: 2 * i,
        })
        .collect();
    let svg = trend::draw(&days).unwrap();
    assert!(balanced(&svg));
    assert!(has_text(&svg, "11-25") && has_text(&svg, "11-20") && !has_text(&svg, "11-24"));
    assert!(has_text(&svg, "58"), "today's red count at the line's end");
}

#[test]
fn axis_steps_are_round() {
    assert_eq!(axis_steps(0), (1, 1));
    assert_eq!(axis_steps(7), (2, 8));
    assert_eq!(axis_steps(95), (50, 100));
    assert_eq!(axis_steps(1234), (500, 1500));
}
