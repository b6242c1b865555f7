//! The approval-matter catalogue (审批事项): which matters exist, in which stage, handled by
//! which department, with their statutory and promised limits in working days. Read from
//! the CSV the config points at (`stage,matter,department,legal_days,limit_days`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Matter {
    pub stage: u8,
    #[serde(rename = "matter")]
    pub name: String,
    pub department: String,
    /// 法定时限, working days.
    pub legal_days: u32,
    /// 承诺时限, working days: what items are graded against.
    pub limit_days: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("{file}: cannot read the matter catalogue: {error}")]
    Read { file: PathBuf, error: csv::Error },
    #[error("{file}:{line}: {message}")]
    Row {
        file: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{file}: the matter catalogue is empty")]
    Empty { file: PathBuf },
}

pub fn load(path: &Path) -> Result<Vec<Matter>, CatalogueError> {
    let read_error = |error| CatalogueError::Read {
        file: path.to_path_buf(),
        error,
    };
    let mut reader = csv::Reader::from_path(path).map_err(read_error)?;
    let headers = reader.byte_headers().map_err(read_error)?.clone();
    let mut matters = Vec::new();
    for record in reader.byte_records() {
        let record = record.map_err(read_error)?;
        // The record's own position: the reader's has moved on to the next one.
        let line = record.position().map_or(0, csv::Position::line);
        let row_error = |message: String| CatalogueError::Row {
            file: path.to_path_buf(),
            line,
            message,
        };
        let matter: Matter = record
            .deserialize(Some(&headers))
            .map_err(|e| row_error(e.to_string()))?;
        if !(1..=4).contains(&matter.stage) {
            return Err(row_error(format!(
                "stage must be 1 to 4, got {}",
                matter.stage
            )));
        }
        matters.push(matter);
    }
    if matters.is_empty() {
        return Err(CatalogueError::Empty {
            file: path.to_path_buf(),
        });
    }
    Ok(matters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_row_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("matters.csv");
        std::fs::write(
            &path,
            "stage,matter,department,legal_days,limit_days\n1,a,b,20,5\n7,c,d,20,5\n1,e,f,20,5\n",
        )
        .unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.contains("matters.csv:3: stage must be 1 to 4, got 7"),
            "{err}"
        );
    }

    #[test]
    fn the_shipped_catalogue_loads() {
        let matters =
            load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/matters.csv")).unwrap();
        assert_eq!(matters.len(), 43);
        assert!(
            matters
                .iter()
                .any(|m| m.name == "建设工程规划许可证核发" && m.limit_days == 5)
        );
        let departments: std::collections::BTreeSet<_> =
            matters.iter().map(|m| &m.department).collect();
        assert_eq!(departments.len(), 14);
    }
}
