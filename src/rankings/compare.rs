//! What differs between a published report and the same period computed from the data as
//! they are now (a feed that corrected an item after publication): per department, the
//! figures that would change and by how much. The published report itself is never
//! changed; this is what its page and its JSON say beside it. Pure.

use serde::Serialize;

use super::{DepartmentRow, Report};

/// One department whose figures would differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub department: String,
    pub published_score: Option<f64>,
    pub score_now: Option<f64>,
    /// score now − published score.
    pub score_change: f64,
    pub published_place: Option<u32>,
    pub place_now: Option<u32>,
    /// Each figure that differs: name, as published, now.
    pub figures: Vec<(String, String, String)>,
}

/// Whether the inputs changed at all, and the departments whose figures differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub inputs_changed: bool,
    pub differences: Vec<Difference>,
}

pub fn compare(published: &Report, now: &Report) -> Comparison {
    let mut names: Vec<&str> = published
        .rows()
        .chain(now.rows())
        .map(|r| r.department.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    let find = |report: &'_ Report, name: &str| -> Option<DepartmentRow> {
        report.rows().find(|r| r.department == name).cloned()
    };
    let differences = names
        .into_iter()
        .filter_map(|name| {
            let (then, now) = (find(published, name), find(now, name));
            let figures = figures(then.as_ref(), now.as_ref());
            if figures.is_empty() && then.as_ref().map(|r| r.place) == now.as_ref().map(|r| r.place)
            {
                return None;
            }
            let score = |r: &Option<DepartmentRow>| r.as_ref().map(|r| r.score);
            Some(Difference {
                department: name.to_owned(),
                published_score: score(&then),
                score_now: score(&now),
                score_change: super::score::round2(
                    score(&now).unwrap_or(0.0) - score(&then).unwrap_or(0.0),
                ),
                published_place: then.as_ref().and_then(|r| r.place),
                place_now: now.as_ref().and_then(|r| r.place),
                figures,
            })
        })
        .collect();
    Comparison {
        inputs_changed: published.digest != now.digest,
        differences,
    }
}

/// The figures of a department's row as text, named as the reports name them.
fn shown(row: &DepartmentRow) -> [(&'static str, String); 12] {
    let opt = |x: Option<f64>| x.map_or_else(|| "—".to_owned(), |x| format!("{x:.2}"));
    [
        ("综合得分", format!("{:.2}", row.score)),
        (
            "名次",
            row.place.map_or_else(|| "—".to_owned(), |p| p.to_string()),
        ),
        ("受理件", row.received.to_string()),
        ("办结件", row.finished.to_string()),
        ("按时办结率", super::percent(row.on_time_rate)),
        ("平均用时占比", super::percent(row.mean_share)),
        ("压缩率", super::percent(row.compression)),
        ("超期工作日", row.overdue_days.to_string()),
        ("期末红灯件", row.red_pending.to_string()),
        ("预警", row.warnings.to_string()),
        ("回告", row.answers.to_string()),
        ("满意度", opt(row.rating)),
    ]
}

fn figures(
    then: Option<&DepartmentRow>,
    now: Option<&DepartmentRow>,
) -> Vec<(String, String, String)> {
    let absent = || std::array::from_fn::<_, 12, _>(|_| ("", "—".to_owned()));
    let (a, b) = (
        then.map_or_else(absent, shown),
        now.map_or_else(absent, shown),
    );
    a.into_iter()
        .zip(b)
        .filter(|((_, x), (_, y))| x != y)
        .map(|((na, x), (nb, y))| (if na.is_empty() { nb } else { na }.to_owned(), x, y))
        .collect()
}
