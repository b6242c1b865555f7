//! The charts as documents: well-formed SVG, every grade's word and count written beside
//! its colour, every bar's counts written, no text under 18 px, names from feeds escaped
//! and cut with the whole name as a title, and an empty board drawn without dividing by
//! zero.

use chrono::NaiveDate;

use super::input::{Counts, DepartmentRow, ProjectRow, StageRow, TrendDay};
use super::*;

fn counts(blue: u64, yellow: u64, red: u64) -> Counts {
    Counts { blue, yellow, red }
}

/// Whether `svg` has a text element whose whole text is `s` (before its title, if any).
fn has_text(svg: &str, s: &str) -> bool {
    svg.contains(&format!(">\n{s}\n</text>")) || svg.contains(&format!(">\n{s}\n<title>"))
}

/// The texts of `svg`, in order, as (text, font size).
fn texts(svg: &str) -> Vec<(String, f64)> {
    svg.split("<text ")
        .skip(1)
        .map(|t| {
            let size = t
                .split_once("font-size=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .and_then(|(n, _)| n.parse().ok())
                .unwrap_or(0.0);
            let body = t.split_once(">\n").map_or("", |(_, b)| b);
            (body.split('\n').next().unwrap_or("").to_owned(), size)
        })
        .collect()
}

fn department(name: &str, c: Counts) -> DepartmentRow {
    DepartmentRow {
        id: name.into(),
        name: name.into(),
        counts: c,
    }
}

fn stage_rows(c: [Counts; 4]) -> Vec<StageRow> {
    (1..=4)
        .zip(c)
        .map(|(s, counts)| StageRow {
            stage: s,
            name: crate::item::STAGE_NAMES[usize::from(s) - 1],
            counts,
        })
        .collect()
}

fn a_month(yellow: impl Fn(u64) -> u64, red: impl Fn(u64) -> u64) -> Vec<TrendDay> {
    let start = NaiveDate::from_ymd_opt(2026, 10, 27).unwrap();
    (0..30)
        .map(|i| TrendDay {
            date: start + chrono::Days::new(i),
            yellow: yellow(i),
            red: red(i),
        })
        .collect()
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
    .map(|name| department(name, counts(1, 1, 1)))
    .collect();
    let svg = bars::departments(&rows, bars::DEPARTMENTS[0].size).unwrap();
    for label in ["气象局", "市政公用服…", "市场监督管…"] {
        assert!(has_text(&svg, label), "{label} missing");
    }
    for wrong in ["政公用服务…", "场监督管理局"] {
        assert!(!has_text(&svg, wrong), "{wrong}");
    }
    // A cut name keeps its whole name (the city's 市 included) as its title.
    assert!(svg.contains(">\n市政公用服…\n<title>市政公用服务单位</title>\n</text>"));
    assert!(svg.contains(">\n市场监督管…\n<title>市市场监督管理局</title>\n</text>"));
    assert!(
        !svg.contains("<title>市气象局</title>"),
        "气象局 is not cut"
    );
}

#[test]
fn no_chart_has_text_under_18_px() {
    let c = counts(120, 45, 7);
    let month = a_month(|i| 100 + i, |i| 2 * i);
    let projects: Vec<ProjectRow> = (0..12)
        .map(|i| ProjectRow {
            code: format!("P{i}"),
            name: format!("历城区新能源汽车零部件厂房{i}期"),
            category: "general_social".into(),
            government_days: 20 + i,
            target_days: 30,
            grade: crate::grading::Grade::Yellow,
        })
        .collect();
    let departments: Vec<DepartmentRow> = (0..20)
        .map(|i| department(&format!("市第{i}局"), c))
        .collect();
    let mut drawn = vec![
        ("ring", ring::draw(&c, 7).unwrap()),
        ("stages", bars::stages(&stage_rows([c; 4])).unwrap()),
        ("projects", projects::draw(&projects).unwrap()),
    ];
    for d in bars::DEPARTMENTS {
        drawn.push((d.file, bars::departments(&departments, d.size).unwrap()));
    }
    for d in trend::DRAWINGS {
        drawn.push((d.file, trend::draw(&month, d.size).unwrap()));
    }
    for (chart, svg) in drawn {
        let texts = texts(&svg);
        assert!(!texts.is_empty(), "{chart}");
        let small: Vec<_> = texts.iter().filter(|(_, size)| *size < SMALL).collect();
        assert!(small.is_empty(), "{chart}: {small:?}");
    }
}

#[test]
fn every_bar_carries_its_counts_in_its_segments_or_at_its_end() {
    // Wide segments: each count inside its own. One thin segment: the bar's three counts
    // listed at its end, in the grades' order, with dots between.
    let svg = bars::departments(
        &[
            department("市气象局", counts(40, 30, 20)),
            department("市水务局", counts(60, 1, 2)),
        ],
        bars::DEPARTMENTS[0].size,
    )
    .unwrap();
    let shown: Vec<String> = texts(&svg).into_iter().map(|(t, _)| t).collect();
    let at = |s: &str| {
        shown
            .iter()
            .position(|t| t == s)
            .unwrap_or_else(|| panic!("{s} in {shown:?}"))
    };
    let first = at("气象局");
    assert_eq!(shown[first + 1..first + 4], ["40", "30", "20"]);
    let second = at("水务局");
    assert_eq!(shown[second + 1..second + 6], ["60", "·", "1", "·", "2"]);
    // The bars are scaled so that list still fits inside the chart.
    assert!(!svg.contains("NaN"));
    // Stages too, and an empty stage says its zeros.
    let svg = bars::stages(&stage_rows([
        counts(50, 40, 30),
        counts(0, 0, 0),
        counts(100, 2, 1),
        counts(20, 0, 0),
    ]))
    .unwrap();
    let shown: Vec<String> = texts(&svg).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        shown,
        [
            "立项用地",
            "50",
            "40",
            "30",
            "工程建设",
            "0",
            "·",
            "0",
            "·",
            "0",
            "施工许可",
            "100",
            "·",
            "2",
            "·",
            "1",
            "竣工验收",
            "20"
        ],
    );
}

#[test]
fn departments_past_what_fits_are_summed_into_one_bar() {
    let rows: Vec<DepartmentRow> = (1..=20)
        .map(|i| department(&format!("市第{i}局"), counts(i, 0, 0)))
        .collect();
    let svg = bars::departments(&rows, bars::DEPARTMENTS[0].size).unwrap();
    // 11 rows fit under the legend: ten departments, and the other ten summed (11 + … + 20).
    assert!(has_text(&svg, "第10局") && !has_text(&svg, "第11局"));
    assert!(has_text(&svg, "其他10个") && has_text(&svg, "155"), "{svg}");
    // The tall drawing for a wide wall has room for all twenty.
    let svg = bars::departments(&rows, bars::DEPARTMENTS[1].size).unwrap();
    assert!(has_text(&svg, "第20局") && !svg.contains("其他"), "{svg}");
}

#[test]
fn the_wide_trend_labels_as_many_days_and_spreads_them() {
    let month = a_month(|i| i, |i| 2 * i);
    let dates = |svg: &str| -> Vec<String> {
        texts(svg)
            .into_iter()
            .map(|(t, _)| t)
            .filter(|t| t.len() == 5 && t.as_bytes()[2] == b'-')
            .collect()
    };
    let narrow = trend::draw(&month, trend::DRAWINGS[0].size).unwrap();
    let wide = trend::draw(&month, trend::DRAWINGS[1].size).unwrap();
    assert_eq!(
        dates(&narrow),
        ["10-31", "11-05", "11-10", "11-15", "11-20", "11-25"]
    );
    assert_eq!(dates(&wide), dates(&narrow));
    assert!(wide.contains(r#"width="880""#), "{wide}");
}

#[test]
fn an_empty_board_draws_every_chart() {
    let stages = stage_rows([Counts::default(); 4]);
    for svg in [
        ring::draw(&Counts::default(), 0).unwrap(),
        bars::departments(&[], bars::DEPARTMENTS[0].size).unwrap(),
        bars::stages(&stages).unwrap(),
        trend::draw(&[], trend::DRAWINGS[0].size).unwrap(),
        projects::draw(&[]).unwrap(),
    ] {
        assert!(balanced(&svg));
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }
}

#[test]
fn names_from_feeds_are_escaped_and_cut() {
    let rows = vec![department(
        "<script>市自然资源和规划局局局局</script>",
        counts(1, 2, 3),
    )];
    let svg = bars::departments(&rows, bars::DEPARTMENTS[0].size).unwrap();
    assert!(!svg.contains("<scri"), "{svg}");
    assert!(svg.contains("&lt;scri"));
    assert!(svg.contains('…'));
    assert!(svg.contains("<title>&lt;script&gt;市自然资源和规划局局局局&lt;/script&gt;</title>"));
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
    let svg = trend::draw(&a_month(|i| i, |i| 2 * i), trend::DRAWINGS[0].size).unwrap();
    assert!(balanced(&svg));
    assert!(has_text(&svg, "11-25") && has_text(&svg, "11-20") && !has_text(&svg, "11-24"));
    assert!(has_text(&svg, "58"), "today's red count at the line's end");
    // Five ticks at most up the side (0 to 60 by 20 here), the top one the scale's.
    let ticks: Vec<String> = texts(&svg)
        .into_iter()
        .map(|(t, _)| t)
        .filter(|t| ["0", "20", "40", "60", "10", "30", "50"].contains(&t.as_str()))
        .collect();
    assert_eq!(ticks, ["0", "20", "40", "60"]);
}

#[test]
fn todays_two_values_are_kept_apart() {
    let svg = trend::draw(&a_month(|_| 50, |_| 49), trend::DRAWINGS[0].size).unwrap();
    let y = |s: &str| -> i32 {
        let at = svg.find(&format!(">\n{s}\n</text>")).unwrap();
        let tag = &svg[svg[..at].rfind("<text ").unwrap()..at];
        let y = tag
            .split_once(" y=\"")
            .unwrap()
            .1
            .split_once('"')
            .unwrap()
            .0;
        y.parse().unwrap()
    };
    assert!((y("50") - y("49")).abs() >= 20, "{svg}");
}

#[test]
fn axis_steps_are_round() {
    assert_eq!(axis_steps(0), (1, 1));
    assert_eq!(axis_steps(7), (2, 8));
    assert_eq!(axis_steps(95), (50, 100));
    assert_eq!(axis_steps(1234), (500, 1500));
}
