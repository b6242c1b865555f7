//! A report in one of its formats, the one place that turns a `Report` into the bytes of
//! an html, xlsx, png or json file: `duban report` writes them, `/api/rankings/download`
//! serves them.

use std::path::Path;

use anyhow::Context;

use super::{Report, html, schedule, workbook};
use crate::charts::png::ChartFont;
use crate::config::Config;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Html,
    Xlsx,
    Png,
    Json,
}

impl Format {
    /// The format `path`'s ending names.
    pub fn of(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "html" | "htm" => Some(Format::Html),
            "xlsx" => Some(Format::Xlsx),
            "png" => Some(Format::Png),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// A report in `format`; a published one's page says so (and what the data now would change).
pub fn render(
    report: &Report,
    format: Format,
    config: &Config,
    published: Option<&html::Published<'_>>,
) -> anyhow::Result<Vec<u8>> {
    Ok(match format {
        Format::Json => serde_json::to_vec_pretty(report)?,
        Format::Html => html::document(report, config.timezone, published).into_bytes(),
        Format::Xlsx => {
            workbook::workbook(report, config.timezone).context("laying out the workbook")?
        }
        Format::Png => {
            let font = ChartFont::load(config.rankings.font.as_deref()).context(
                "the PNG needs a CJK font ([rankings] font); the html, xlsx and json formats work without one",
            )?;
            schedule::chart(report, config.timezone, &font).map_err(|e| anyhow::anyhow!("{e}"))?
        }
    })
}
