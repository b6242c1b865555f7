//! `duban check-config`: loads the config and everything it points at (holiday files, the
//! matter catalogue) and says whether it is good.

use std::io::Write;
use std::path::Path;

pub fn run(config: Option<&Path>, out: &mut impl Write) -> anyhow::Result<()> {
    let (config, calendar) = super::load(config)?;
    let years = calendar.years();
    writeln!(
        out,
        "{}: ok (time zone {}, holidays {}–{}, {} matters, {} threshold overrides, {} project targets)",
        config.path.display(),
        config.timezone,
        years.start(),
        years.end(),
        config.matters.len(),
        config.grading.overrides.len(),
        config.project_targets.len(),
    )?;
    Ok(())
}
