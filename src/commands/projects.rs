//! `duban projects --now T [FILE|-]`: each project's government time (the working days on
//! which at least one of its items ran) graded against its category's target. Reads the
//! same canonical records as `duban grade`; bad lines and projects whose category has no
//! target become error objects, and the exit code is then 2.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::records::{Tally, for_each_record, today, write_error};
use crate::calendar::Calendar;
use crate::config::Config;
use crate::grading::ClockInput;
use crate::grading::project::{
    ProjectGrading, government_days, government_provisional, grade_project,
};

#[derive(Serialize)]
struct ProjectLine<'a> {
    project_code: &'a str,
    project_name: &'a str,
    project_category: &'a str,
    items: usize,
    #[serde(flatten)]
    grading: ProjectGrading,
    /// Days of a year without its holiday notice are counted (暂定).
    provisional: bool,
}

struct Project {
    name: String,
    category: String,
    clocks: Vec<ClockInput>,
    /// Why the project cannot be graded, when its items contradict each other.
    conflict: Option<String>,
}

pub fn run(
    config: &Config,
    calendar: &Calendar,
    now: DateTime<FixedOffset>,
    input: impl BufRead,
    out: &mut impl Write,
) -> anyhow::Result<Tally> {
    let today = today(config, calendar, now)?;
    let mut tally = Tally::default();
    let mut projects: BTreeMap<String, Project> = BTreeMap::new();
    let bounds = config.records.as_of(now.to_utc());
    for_each_record(input, &bounds, |line, record| {
        match record {
            Ok(item) => {
                let project = projects
                    .entry(item.project_code.clone())
                    .or_insert_with(|| Project {
                        name: item.project_name.clone(),
                        category: item.project_category.clone(),
                        clocks: Vec::new(),
                        conflict: None,
                    });
                if project.category != item.project_category && project.conflict.is_none() {
                    project.conflict = Some(format!(
                        "its items disagree on the category: {:?} and {:?} (item {})",
                        project.category, item.project_category, item.item_id
                    ));
                }
                project
                    .clocks
                    .push(ClockInput::from_item(&item, config.timezone));
            }
            Err(e) => {
                tally.errors += 1;
                write_error(out, line, &e)?;
            }
        }
        Ok(())
    })?;
    for (code, project) in &projects {
        let graded = match &project.conflict {
            Some(conflict) => Err(conflict.clone()),
            None => Ok(()),
        }
        .and_then(|()| {
            config.project_targets.get(&project.category).ok_or_else(|| {
                format!(
                    "no government-time target is configured for category {:?} (see [project_targets] in {})",
                    project.category,
                    config.path.display()
                )
            })
        })
        .and_then(|&target| {
            let days = government_days(&project.clocks, calendar, today).map_err(|e| e.to_string())?;
            Ok(grade_project(days, target, &config.grading.default))
        });
        match graded {
            Ok(grading) => {
                tally.graded += 1;
                serde_json::to_writer(
                    &mut *out,
                    &ProjectLine {
                        project_code: code,
                        project_name: &project.name,
                        project_category: &project.category,
                        items: project.clocks.len(),
                        grading,
                        provisional: government_provisional(&project.clocks, calendar, today),
                    },
                )?;
            }
            Err(error) => {
                tally.errors += 1;
                serde_json::to_writer(
                    &mut *out,
                    &serde_json::json!({ "project_code": code, "error": error }),
                )?;
            }
        }
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(tally)
}
