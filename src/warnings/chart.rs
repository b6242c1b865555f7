//! The department's chart in a warning email: its open items by grade from the board, drawn
//! as a PNG (`charts::png`) with the CJK font found on the machine, attached inline as
//! `cid:chart`. Without a CJK font the email goes without the picture (said once in the
//! log), never with boxes for characters.

use std::sync::OnceLock;

use crate::charts::input::Counts;
use crate::charts::png::{self, ChartFont};
use crate::ingest::Shared;
use crate::warnings::message::Outgoing;

/// Loaded once: plotters keeps a font for the life of the process.
static FONT: OnceLock<Option<ChartFont>> = OnceLock::new();

fn font() -> Option<&'static ChartFont> {
    FONT.get_or_init(|| match ChartFont::load(None) {
        Ok(font) => Some(font),
        Err(e) => {
            tracing::warn!(error = %e, "warning emails go without the department's chart");
            None
        }
    })
    .as_ref()
}

/// Attaches `department`'s chart to `message` (nothing for a message of several
/// departments, whose list says it all).
pub fn attach(shared: &Shared, department: &str, message: &mut Outgoing) {
    if department.is_empty() {
        return;
    }
    let Some(font) = font() else { return };
    let mut counts = Counts::default();
    {
        let board = shared.board();
        let names = board.names();
        for entry in board.entries() {
            if entry.is_open() && names.department(entry.labels.department).as_ref() == department {
                counts.add(entry.grading.grade);
            }
        }
    }
    match png::department(department, &counts, font) {
        Ok(bytes) => message.chart_png = Some(bytes),
        Err(e) => {
            tracing::warn!(department, error = %e, "the department's chart could not be drawn")
        }
    }
}
