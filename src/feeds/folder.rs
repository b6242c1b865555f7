//! The `folder` source: CSV files dropped into a folder (UTF-8, with or without a byte-order
//! mark, or GBK as Chinese office software exports them), with a header row that names the
//! columns (Chinese headers are fine: the mapping renames them). Each file, once read, moves
//! to `done/`, or to `failed/` with a `.error.txt` beside it saying why.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::spec::Folder;
use super::{FetchError, Page};

/// Walks the waiting files of one run, one page a file.
pub struct Pager<'a> {
    spec: &'a Folder,
    files: Vec<PathBuf>,
    current: Option<PathBuf>,
}

impl<'a> Pager<'a> {
    pub fn new(spec: &'a Folder) -> Result<Self, FetchError> {
        let mut files = waiting_files(&spec.path)
            .map_err(|e| FetchError::retry(format!("listing {}: {e}", spec.path.display())))?;
        // Oldest name last, so that `pop` takes files in name order.
        files.sort_by(|a, b| b.cmp(a));
        Ok(Self {
            spec,
            files,
            current: None,
        })
    }

    /// The rows of the next readable file; unreadable ones move to `failed/` on the way.
    pub fn next_page(&mut self) -> Result<Option<Page>, FetchError> {
        while let Some(file) = self.files.pop() {
            match read(&file, self.spec.gbk) {
                Ok(rows) => {
                    self.current = Some(file);
                    return Ok(Some(rows));
                }
                Err(reason) => settle(&self.spec.path, &file, Some(&reason))?,
            }
        }
        Ok(None)
    }

    /// The last page was stored: its file moves to `done/`. (A page that could not be
    /// stored leaves its file where it is, for the next run.)
    pub fn done(&mut self) -> Result<(), FetchError> {
        match self.current.take() {
            Some(file) => settle(&self.spec.path, &file, None),
            None => Ok(()),
        }
    }
}

fn waiting_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        // Files still being copied in are conventionally given a leading dot or a .part name;
        // a file written to in the last seconds may still be growing, and waits a run.
        if path.is_file()
            && !name.starts_with('.')
            && !name.ends_with(".part")
            && !name.ends_with(".error.txt")
            && settled(&path)
        {
            files.push(path);
        }
    }
    Ok(files)
}

/// How long a file must have been left alone before it is read.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

fn settled(path: &Path) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age >= SETTLE))
}

/// The rows of one file as JSON objects of text cells, or why the file cannot be read.
fn read(file: &Path, gbk: bool) -> Result<Page, String> {
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match extension.as_str() {
        "csv" => {}
        "xlsx" | "xls" => {
            return Err("XLSX files are not read yet: save the sheet as CSV (UTF-8 or GBK)".into());
        }
        other => {
            return Err(format!(
                "not a CSV file (.{other}); only .csv files are read"
            ));
        }
    }
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read the file: {e}"))?;
    let text = decode(&bytes, gbk)?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("no header row: {e}"))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("row {}: {e}", i + 2))?;
        let object: Map<String, Value> = headers
            .iter()
            .cloned()
            .zip(
                record
                    .iter()
                    .map(|cell| Value::String(cell.trim().to_owned())),
            )
            .collect();
        rows.push(Value::Object(object));
    }
    Ok(rows)
}

fn decode(bytes: &[u8], gbk: bool) -> Result<String, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if gbk {
        let (text, _, had_errors) = encoding_rs::GBK.decode(bytes);
        if had_errors {
            return Err("not valid GBK text".into());
        }
        Ok(text.into_owned())
    } else {
        String::from_utf8(bytes.to_vec()).map_err(|_| {
            "not valid UTF-8 text; if the file is from a GBK system, set encoding = \"gbk\"".into()
        })
    }
}

/// Moves a processed file to `done/` or `failed/` (with the reason beside it).
fn settle(dir: &Path, file: &Path, failure: Option<&str>) -> Result<(), FetchError> {
    let target = dir.join(if failure.is_some() { "failed" } else { "done" });
    let io = |e: std::io::Error| FetchError::retry(format!("moving {}: {e}", file.display()));
    std::fs::create_dir_all(&target).map_err(io)?;
    let name = file.file_name().unwrap_or_default();
    let mut destination = target.join(name);
    if destination.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f");
        destination = target.join(format!("{stamp}-{}", name.to_string_lossy()));
    }
    std::fs::rename(file, &destination).map_err(io)?;
    if let Some(reason) = failure {
        let mut note = destination.clone().into_os_string();
        note.push(".error.txt");
        std::fs::write(note, format!("{reason}\n")).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_with_chinese_headers_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        let (bytes, _, _) = encoding_rs::GBK.encode("办件编号,办件状态\nX-1,办理中\n");
        std::fs::write(&path, &bytes).unwrap();
        let rows = read(&path, true).unwrap();
        assert_eq!(rows[0]["办件编号"], "X-1");
        assert_eq!(rows[0]["办件状态"], "办理中");
        assert!(read(&path, false).unwrap_err().contains("GBK"));
    }
}
