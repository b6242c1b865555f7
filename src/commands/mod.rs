//! The subcommands behind the CLI, one file each. Each takes its parsed arguments and the
//! output to write to; `records` is the JSON-lines input that `grade` and `projects` share.

pub mod calendar;
pub mod check_config;
pub mod contacts;
pub mod demo;
pub mod grade;
pub mod ledger;
pub mod projects;
pub mod records;
pub mod report;
pub mod sample;
pub mod serve;
pub mod simulate;
pub mod warnings;

use std::path::Path;

use anyhow::Context;

use crate::calendar::Calendar;
use crate::config::Config;
use crate::config::toml_file::TomlFile;

/// Loads the config and the calendar it names, with the errors an operator can act on.
pub fn load(config: Option<&Path>) -> anyhow::Result<(Config, Calendar)> {
    load_with(config, |file| file)
}

/// Loads the config for a command that uses no secret: unset `DUBAN_…` variables are fine.
pub fn load_offline(config: Option<&Path>) -> anyhow::Result<(Config, Calendar)> {
    load_with(config, TomlFile::with_secrets_unused)
}

/// Loads the config after `adjust` (secrets unused, or the demo's generated tokens).
pub fn load_with(
    config: Option<&Path>,
    adjust: impl FnOnce(TomlFile) -> TomlFile,
) -> anyhow::Result<(Config, Calendar)> {
    let path = Config::resolve_path(config);
    let config = TomlFile::read(&path)
        .map(adjust)
        .and_then(|file| Config::from_file(&file))
        .map_err(|mut e| {
            if config.is_none() && e.line.is_none() {
                e.message
                    .push_str(" (name another with --config PATH or DUBAN_CONFIG)");
            }
            e
        })?;
    let calendar = config
        .load_calendar()
        .with_context(|| format!("loading the holiday calendar named in {}", path.display()))?;
    Ok((config, calendar))
}
