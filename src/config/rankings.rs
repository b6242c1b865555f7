//! `[rankings]`: the city's name for the reports' titles, the composite score's weights
//! (`[rankings.weights]`), the assessment's cut-offs (`[rankings.grades]`), the office hours
//! an answer's delay is counted in, the monthly publication (a schedule that fires on the
//! first working day of each month only) and its mail, and the CJK font of the PNG charts.
//! Every key has a default, printed in every report. Without a `[rankings]` table nothing is
//! published on a schedule (reports are made on demand).

use std::path::{Path, PathBuf};

use chrono::NaiveTime;
use serde::Deserialize;
use toml::Spanned;

use super::toml_file::{FileError, TomlFile};
use crate::rankings::{Cutoffs, Weights};
use crate::warnings::schedule::WorkingSchedule;

#[derive(Debug, Clone)]
pub struct Rankings {
    pub city: String,
    pub weights: Weights,
    pub cutoffs: Cutoffs,
    pub office_hours: (NaiveTime, NaiveTime),
    /// When last month's report is published (and mailed): on the first working day of the
    /// month, at the expression's time.
    pub publish_at: WorkingSchedule,
    /// Whether the schedule publishes at all: by default when the config has a `[rankings]`
    /// table (without one, reports are made on demand only).
    pub publish: bool,
    /// Mail the published report to the office.
    pub mail: bool,
    /// Addresses to mail it to; empty: the contacts of role `office` that have an email.
    pub mail_to: Vec<String>,
    /// The `[[warnings.senders]]` email sender to send with; `None`: the first one.
    pub sender: Option<String>,
    pub font: Option<PathBuf>,
}

impl Default for Rankings {
    fn default() -> Self {
        Self {
            city: String::new(),
            weights: Weights::default(),
            cutoffs: Cutoffs::default(),
            office_hours: (time(8, 30), time(17, 30)),
            publish_at: first_working_day("0 0 8 * * *"),
            publish: false,
            mail: true,
            mail_to: Vec::new(),
            sender: None,
            font: None,
        }
    }
}

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

fn first_working_day(expression: &str) -> WorkingSchedule {
    match WorkingSchedule::parse(expression, true) {
        Ok(s) => s.first_working_day_of_month(),
        Err(e) => unreachable!("the default schedule {expression}: {e}"),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRankings {
    city: Option<String>,
    office_hours: Option<Spanned<String>>,
    publish_at: Option<Spanned<String>>,
    publish: Option<bool>,
    mail: Option<bool>,
    mail_to: Option<Vec<Spanned<String>>>,
    sender: Option<Spanned<String>>,
    font: Option<String>,
    #[serde(default)]
    weights: RawWeights,
    #[serde(default)]
    grades: RawGrades,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeights {
    on_time: Option<Spanned<f64>>,
    speed: Option<Spanned<f64>>,
    compression: Option<Spanned<f64>>,
    answers: Option<Spanned<f64>>,
    rating: Option<Spanned<f64>>,
    overdue_day: Option<Spanned<f64>>,
    red_item: Option<Spanned<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrades {
    excellent: Option<Spanned<f64>>,
    good: Option<Spanned<f64>>,
    pass: Option<Spanned<f64>>,
}

pub(super) fn rankings(
    file: &TomlFile,
    raw: Option<RawRankings>,
    base: &Path,
) -> Result<Rankings, FileError> {
    let mut out = Rankings::default();
    let Some(raw) = raw else { return Ok(out) };
    if let Some(city) = raw.city {
        out.city = city;
    }
    let weight = |value: &Option<Spanned<f64>>, default: f64, key: &str| match value {
        None => Ok(default),
        Some(v) if v.get_ref().is_finite() && *v.get_ref() >= 0.0 => Ok(*v.get_ref()),
        Some(v) => Err(file.error_at(
            v.span(),
            format!(
                "rankings.weights.{key} is a weight of 0 or more, not {}",
                v.get_ref()
            ),
        )),
    };
    let (w, d) = (&raw.weights, Weights::default());
    out.weights = Weights {
        on_time: weight(&w.on_time, d.on_time, "on_time")?,
        speed: weight(&w.speed, d.speed, "speed")?,
        compression: weight(&w.compression, d.compression, "compression")?,
        answers: weight(&w.answers, d.answers, "answers")?,
        rating: weight(&w.rating, d.rating, "rating")?,
        overdue_day: weight(&w.overdue_day, d.overdue_day, "overdue_day")?,
        red_item: weight(&w.red_item, d.red_item, "red_item")?,
    };
    let (g, d) = (&raw.grades, Cutoffs::default());
    let cut = |value: &Option<Spanned<f64>>, default: f64| {
        value.as_ref().map_or(default, |v| *v.get_ref())
    };
    out.cutoffs = Cutoffs {
        excellent: cut(&g.excellent, d.excellent),
        good: cut(&g.good, d.good),
        pass: cut(&g.pass, d.pass),
    };
    let c = out.cutoffs;
    if !(c.excellent > c.good && c.good > c.pass && c.pass >= 0.0 && c.excellent <= 100.0) {
        return Err(file.error(
            Some("rankings.grades"),
            format!(
                "the cut-offs must fall: 100 ≥ excellent > good > pass ≥ 0 (优秀 > 良好 > 合格); \
                 they are {}, {}, {}",
                c.excellent, c.good, c.pass
            ),
        ));
    }
    if let Some(hours) = &raw.office_hours {
        let parsed = hours.get_ref().split_once('-').and_then(|(a, b)| {
            let a = NaiveTime::parse_from_str(a.trim(), "%H:%M").ok()?;
            let b = NaiveTime::parse_from_str(b.trim(), "%H:%M").ok()?;
            (a < b).then_some((a, b))
        });
        out.office_hours = parsed.ok_or_else(|| {
            file.error_at(
                hours.span(),
                format!(
                    "office_hours is the working hours an answer's delay is counted in, like \
                     \"08:30-17:30\", not {:?}",
                    hours.get_ref()
                ),
            )
        })?;
    }
    if let Some(at) = &raw.publish_at {
        out.publish_at = WorkingSchedule::parse(at.get_ref(), true)
            .map(WorkingSchedule::first_working_day_of_month)
            .map_err(|e| file.error_at(at.span(), format!("rankings.publish_at: {e}")))?;
    }
    out.publish = raw.publish.unwrap_or(true);
    out.mail = raw.mail.unwrap_or(true);
    if let Some(to) = &raw.mail_to {
        for address in to {
            let text = address.get_ref().trim();
            if !text.contains('@') {
                return Err(file.error_at(
                    address.span(),
                    format!("rankings.mail_to holds email addresses; {text:?} is not one"),
                ));
            }
            out.mail_to.push(text.to_owned());
        }
    }
    out.sender = raw.sender.map(|s| s.into_inner());
    out.font = raw.font.map(|f| base.join(f));
    Ok(out)
}
