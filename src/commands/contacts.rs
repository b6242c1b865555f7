//! `duban contacts import FILE.csv`: validates every row, then replaces the stored contacts in
//! one transaction (nothing half-imported). `import_file` is the same import for whoever
//! else reads a contacts file (start-up, with `[warnings] contacts`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Config;
use crate::store::{Store, StoreError};
use crate::warnings::contacts::{self, BadRow, ContactsFileError, ImportSummary};

/// The largest contacts file read: a city's contacts are a few thousand rows, far under it;
/// a bigger file is not a contacts file.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ContactsError {
    #[error("reading the contacts file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the contacts file {} is {size} bytes, over the {} MiB a contacts file can be; is it \
         the right file?",
        path.display(),
        MAX_FILE_BYTES >> 20
    )]
    TooLarge { path: PathBuf, size: u64 },
    /// The file's rows or header are wrong: nothing was imported.
    #[error("the contacts file {}: {source}", path.display())]
    Invalid {
        path: PathBuf,
        source: ContactsFileError,
    },
    #[error("storing the contacts of {} (the stored contacts are as they were): {source}", path.display())]
    Store { path: PathBuf, source: StoreError },
}

impl ContactsError {
    /// The bad rows, when that is what is wrong.
    pub fn bad_rows(&self) -> &[BadRow] {
        match self {
            ContactsError::Invalid {
                source: ContactsFileError::Rows(rows),
                ..
            } => rows,
            _ => &[],
        }
    }
}

/// Reads, checks and imports the contacts file at `path`, replacing every stored contact;
/// with any bad row, nothing is changed.
pub async fn import_file(store: &Store, path: &Path) -> Result<ImportSummary, ContactsError> {
    let read = |source| ContactsError::Read {
        path: path.to_owned(),
        source,
    };
    let size = tokio::fs::metadata(path).await.map_err(read)?.len();
    if size > MAX_FILE_BYTES {
        return Err(ContactsError::TooLarge {
            path: path.to_owned(),
            size,
        });
    }
    let bytes = tokio::fs::read(path).await.map_err(read)?;
    let file = contacts::parse(&bytes).map_err(|source| ContactsError::Invalid {
        path: path.to_owned(),
        source,
    })?;
    let stored = |source| ContactsError::Store {
        path: path.to_owned(),
        source,
    };
    let known = store.department_names().await.map_err(stored)?;
    store
        .replace_contact_rows(&file.rows)
        .await
        .map_err(stored)?;
    let mut summary = ImportSummary::of(&file);
    summary.note_unknown_departments(&file, &known);
    // Counts only: the contacts' numbers never go to the log.
    tracing::info!(
        file = %path.display(),
        contacts = summary.imported,
        encoding = summary.encoding,
        "contacts imported"
    );
    Ok(summary)
}

/// What the command ended with: imported, or refused with the rows already printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Imported(ImportSummary),
    /// The file had bad rows, each printed as `FILE:LINE: reason`; nothing was changed.
    Refused {
        bad_rows: usize,
    },
}

/// `duban contacts import FILE`: the import on the configured store; the summary written to
/// `out`, or each bad row to `errors` as `FILE:LINE: reason` (as compilers write theirs, for
/// an editor to jump to).
pub async fn run(
    config: &Config,
    path: &Path,
    out: &mut impl Write,
    errors: &mut impl Write,
) -> anyhow::Result<Outcome> {
    if config.database_url.is_empty() {
        // Loaded without secrets, a `database_url_env` whose variable is unset reads empty.
        anyhow::bail!(
            "{}: [store] database_url_env names an environment variable that is not set; \
             export it as for `duban serve` (the import writes to the daemon's store)",
            config.path.display()
        );
    }
    let store = Store::open(&config.database_url).await.with_context(|| {
        format!(
            "opening the store {}",
            crate::store::redact(&config.database_url)
        )
    })?;
    let result = import_file(&store, path).await;
    store.close().await;
    match result {
        Ok(summary) => {
            writeln!(
                out,
                "{}: imported {} ({}); every earlier contact was replaced",
                path.display(),
                summary.describe(),
                summary.encoding
            )?;
            Ok(Outcome::Imported(summary))
        }
        Err(e) if !e.bad_rows().is_empty() => {
            for row in e.bad_rows() {
                writeln!(errors, "{}:{}: {}", path.display(), row.line, row.reason)?;
            }
            Ok(Outcome::Refused {
                bad_rows: e.bad_rows().len(),
            })
        }
        Err(e) => Err(e.into()),
    }
}
