//! `duban check-config`: loads the config and everything it points at (holiday files, the
//! matter catalogue) and says whether it is good.

use std::io::Write;
use std::path::Path;

pub fn run(config: Option<&Path>, out: &mut impl Write) -> anyhow::Result<()> {
    let (config, calendar) = super::load(config)?;
    let official: Vec<i32> = calendar
        .years()
        .filter(|y| calendar.is_official(*y))
        .collect();
    let provisional: Vec<i32> = calendar
        .years()
        .filter(|y| !calendar.is_official(*y))
        .collect();
    let span = |years: &[i32]| match years {
        [] => "none".to_owned(),
        [one] => one.to_string(),
        [first, .., last] => format!("{first}–{last}"),
    };
    writeln!(
        out,
        "{}: ok (time zone {}, holidays {}{}, {} matters, {} threshold overrides, {} project targets)",
        config.path.display(),
        config.timezone,
        span(&official),
        if provisional.is_empty() {
            String::new()
        } else {
            format!(" and {} provisional", span(&provisional))
        },
        config.matters.len(),
        config.grading.overrides.len(),
        config.project_targets.len(),
    )?;
    // The reminder is the machine's today: check-config is run by an operator, now.
    let today = chrono::Utc::now()
        .with_timezone(&config.timezone)
        .date_naive();
    if let Some(reminder) = calendar.reminder(today, config.remind_from) {
        writeln!(out, "reminder: {reminder}")?;
    }
    Ok(())
}
