//! `/api/contacts`: the contacts warnings go to. `GET` lists them, numbers and addresses
//! masked (138****1234) unless the caller holds an office token; `POST` (office token only)
//! takes a contacts CSV as the body and replaces every contact with its rows, or, with any
//! bad row, answers 422 with every bad row's line and reason and changes nothing.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::ApiError;
use super::access::Caller;
use crate::ingest::Shared;
use crate::warnings::contacts::{self, Contact, ContactsFileError, ImportSummary};

pub async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let stored = shared.store.contacts().await?;
    let masked = caller != Caller::Office;
    let shown: Vec<Contact> = if masked {
        stored.iter().map(Contact::masked).collect()
    } else {
        stored
    };
    Ok(Json(json!({ "contacts": shown, "masked": masked })))
}

pub async fn import(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if caller != Caller::Office {
        let why = if shared.config.access.office_tokens.is_empty() {
            "importing contacts needs an office token, and none is configured: add \
             office_token_env to [access], or run `duban contacts import FILE.csv` on the \
             daemon's machine"
        } else {
            "importing contacts needs an office token (this is a viewer token)"
        };
        return Ok((StatusCode::FORBIDDEN, Json(json!({ "error": why }))).into_response());
    }
    let file = match contacts::parse(&body) {
        Ok(file) => file,
        Err(ContactsFileError::Rows(rows)) => {
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({
                    "error": format!(
                        "{} bad row{}; nothing was imported (the stored contacts are as they \
                         were): correct them and send the file again",
                        rows.len(),
                        if rows.len() == 1 { "" } else { "s" }
                    ),
                    "rows": rows,
                })),
            )
                .into_response());
        }
        Err(other) => {
            // The encoding, the header row or an empty file: one reason for the whole file
            // (the header's with its line, as a bad row's).
            let rows = match &other {
                ContactsFileError::Header { line, reason } => {
                    vec![json!({ "line": line, "reason": reason })]
                }
                _ => Vec::new(),
            };
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "error": other.to_string(), "rows": rows })),
            )
                .into_response());
        }
    };
    let known = shared.store.department_names().await?;
    shared.store.replace_contact_rows(&file.rows).await?;
    let mut summary = ImportSummary::of(&file);
    summary.note_unknown_departments(&file, &known);
    // Counts only: the contacts' numbers never go to the log.
    tracing::info!(
        contacts = summary.imported,
        encoding = summary.encoding,
        "contacts imported over HTTP"
    );
    Ok(Json(summary).into_response())
}
