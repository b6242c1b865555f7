//! The `folder` source: files dropped into a folder, each read whole as one page of records,
//! with a header row that names the columns (Chinese headers are fine: the mapping renames
//! them). CSV files are UTF-8 (with or without a byte-order mark) or GBK as Chinese office
//! software exports them. Excel workbooks (.xlsx, .xlsm, and the older .xls) are read from
//! their first worksheet: the first non-empty row is the header row, empty rows are skipped,
//! numbers become text ("15", not "15.0"), error cells their text ("#N/A", which validation
//! refuses, naming the field, where a time, a number or a known word is expected), and date
//! cells local times in the feed's `time_format` (or, for a feed without one, RFC 3339 in
//! the feed's zone), so the mapping reads them as it reads the feed's other times. Workbooks over 64 MiB are refused before they are opened:
//! exports that big are better sent as CSV.
//! Each file, once read, moves to `done/`, or to `failed/` with a `.error.txt` beside it
//! saying why; a look at the first file (`peek`, for `check-config --feed`) moves nothing.
//! A CSV row with more or fewer cells than the header row is refused alone. Only regular
//! files with no other name are read: a symbolic link (which would bring whatever it points
//! at, any file duban may read, into the quarantine), a hard link (a second name of such a
//! file, which needs no more than write access to the folder on the same file system), a
//! FIFO or a device is passed over, left where it is, and said in the run's notes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, SheetType, Xls, Xlsx, XlsxError};
use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use serde_json::{Map, Value};

use super::spec::{Folder, Mapping};
use super::{FetchError, Page, PageRecords, Records};
use crate::store::feeds::Quarantined;

/// Walks the waiting files of one run, one page a file.
pub struct Pager<'a> {
    spec: &'a Folder,
    dates: DateCells<'a>,
    files: Vec<PathBuf>,
    /// The file of the last page, as it was when it was read.
    current: Option<(PathBuf, Option<Stamp>)>,
    /// Why each entry that is not a regular file was passed over, and each filed file that
    /// was written to after it was read, so came back to be read again.
    passed_over: Vec<String>,
}

/// What a file was when it was read: a writer still at work changes its length or time.
type Stamp = (u64, std::time::SystemTime);

fn stamp(path: &Path) -> Option<Stamp> {
    let metadata = std::fs::symlink_metadata(path).ok()?;
    Some((metadata.len(), metadata.modified().ok()?))
}

impl<'a> Pager<'a> {
    /// `mapping` is the feed's: a workbook's date cells are written as its times are.
    pub fn new(spec: &'a Folder, mapping: &'a Mapping) -> Result<Self, FetchError> {
        let listing =
            |e: std::io::Error| FetchError::retry(format!("listing {}: {e}", spec.path.display()));
        // A file filed in done/ and written to since (a writer that paused longer than
        // SETTLE, then went on through its open handle) comes back, so no row is lost; its
        // rows read before are unchanged records, stored once.
        let mut came_back = reclaim_grown(&spec.path).map_err(listing)?;
        let (mut files, mut passed_over) = waiting_files(&spec.path).map_err(listing)?;
        passed_over.append(&mut came_back);
        // Oldest name last, so that `pop` takes files in name order.
        files.sort_by(|a, b| b.cmp(a));
        Ok(Self {
            spec,
            dates: DateCells {
                format: mapping.time_format.as_deref(),
                zone: mapping.timezone,
            },
            files,
            current: None,
            passed_over,
        })
    }

    /// The next waiting file and its rows, or why it cannot be read.
    fn read_next(&mut self) -> Option<(PathBuf, Result<Page, String>)> {
        let file = self.files.pop()?;
        let before = stamp(&file);
        // A reader that trips over a malformed workbook (calamine has panicked on some)
        // must fail that file, not the feed: it would be first in line on every run.
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            read(&file, self.spec.gbk, self.dates)
        }))
        .unwrap_or_else(|_| Err("cannot read the file: the reader failed on it".to_owned()));
        self.current = Some((file.clone(), before));
        Some((file, read))
    }

    /// The folder's entries that are not read because they are not regular files, each
    /// with why: for the run's notes.
    pub fn passed_over(&self) -> &[String] {
        &self.passed_over
    }

    /// The rows of the next readable file; unreadable ones move to `failed/` on the way.
    pub fn next_page(&mut self) -> Result<Option<Page>, FetchError> {
        while let Some((file, read)) = self.read_next() {
            match read {
                Ok(page) => return Ok(Some(page)),
                Err(reason) => {
                    self.current = None;
                    settle(&self.spec.path, &file, Some(&reason))?;
                }
            }
        }
        Ok(None)
    }

    /// The first waiting file and its rows, for a look (`check-config --feed`): nothing is
    /// moved, and a file that cannot be read is an error naming it.
    pub fn peek(mut self) -> Result<Option<(PathBuf, Page)>, FetchError> {
        match self.read_next() {
            None => Ok(None),
            Some((file, Ok(page))) => Ok(Some((file, page))),
            Some((file, Err(reason))) => Err(FetchError::fatal(format!(
                "{}: {reason} (a run of the feed would move it to failed/)",
                file.display()
            ))),
        }
    }

    /// The last page was stored: its file moves to `done/`. (A page that could not be
    /// stored leaves its file where it is, for the next run.)
    pub fn done(&mut self) -> Result<(), FetchError> {
        let Some((file, read_as)) = self.current.take() else {
            return Ok(());
        };
        if stamp(&file) != read_as {
            // Written to while it was read: left for the next run, which reads it whole.
            tracing::warn!(file = %file.display(), "the file changed while it was read; it is read again at the next run");
            return Ok(());
        }
        let filed = settle(&self.spec.path, &file, None)?;
        if stamp(&filed) != read_as {
            // Written to between the look and the move: back it goes.
            std::fs::rename(&filed, &file)
                .map_err(|e| FetchError::retry(format!("moving {} back: {e}", filed.display())))?;
        }
        Ok(())
    }
}

/// The files waiting to be read, and a note for each entry passed over because it is not a
/// regular file. Folders (`done/`, `failed/`, the operator's own) are passed silently.
fn waiting_files(dir: &Path) -> std::io::Result<(Vec<PathBuf>, Vec<String>)> {
    use std::os::unix::fs::MetadataExt as _;
    let mut files = Vec::new();
    let mut passed_over = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        // Files still being copied in are conventionally given a leading dot or a .part name.
        if name.starts_with('.') || name.ends_with(".part") || name.ends_with(".error.txt") {
            continue;
        }
        // The entry itself: a link's own type, not that of what it points at.
        let kind = entry.file_type()?;
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            passed_over.push(format!(
                "{} is {}, not a regular file: not read, and left where it is; drop the file \
                 itself",
                path.display(),
                what_kind(kind)
            ));
            continue;
        }
        let names = entry.metadata()?.nlink();
        if names > 1 {
            passed_over.push(format!(
                "{} is a hard link (the file has {names} names), not a file of its own: not \
                 read, and left where it is; drop a copy of the file instead",
                path.display()
            ));
            continue;
        }
        // A file written to in the last seconds may still be growing, and waits a run.
        if settled(&path) {
            files.push(path);
        }
    }
    Ok((files, passed_over))
}

/// What a folder entry that is not a regular file is.
fn what_kind(kind: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "something else"
    }
}

/// Opens a dropped file only if it is a regular file of its own: not through a symbolic
/// link or as a hard link (either put in its place after the folder was listed), and not a
/// FIFO, whose opening would block.
fn open_regular(file: &Path) -> Result<std::fs::File, String> {
    use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(file)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                "it is a symbolic link, which is not followed; drop the file itself".to_owned()
            } else {
                format!("cannot read the file: {e}")
            }
        })?;
    let metadata = handle
        .metadata()
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if !metadata.is_file() {
        return Err("not a regular file; drop the file itself".into());
    }
    if metadata.nlink() > 1 {
        return Err(format!(
            "it is a hard link (the file has {} names), which is not read; drop a copy of the \
             file instead",
            metadata.nlink()
        ));
    }
    Ok(handle)
}

/// How long a file must have been left alone before it is read.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

fn settled(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age >= SETTLE))
}

/// The rows of one file as JSON objects of text cells (and the rows refused as they were
/// read), or why the file cannot be read.
fn read(file: &Path, gbk: bool, dates: DateCells<'_>) -> Result<Page, String> {
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match extension.as_str() {
        "csv" => read_csv(open_regular(file)?, gbk),
        "xlsx" | "xlsm" | "xls" => {
            read_workbook(open_regular(file)?, &extension, dates).map(Page::values)
        }
        other => Err(format!(
            "not a CSV or Excel file (.{other}); .csv, .xlsx, .xlsm and .xls files are read"
        )),
    }
}

/// A CSV file read at most (some 300,000 rows of a wide export): it is held whole.
const MAX_CSV_BYTES: u64 = 256 << 20;

fn read_csv(mut file: std::fs::File, gbk: bool) -> Result<Page, String> {
    use std::io::Read as _;
    let size = file
        .metadata()
        .map_err(|e| format!("cannot read the file: {e}"))?
        .len();
    if size > MAX_CSV_BYTES {
        return Err(format!(
            "the CSV file is over {} MiB ({size} bytes); split the export into smaller files",
            MAX_CSV_BYTES >> 20
        ));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    let text = decode(&bytes, gbk)?;
    // Rows of another width are refused one by one, below, not the file with them.
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("no header row: {e}"))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    unique_headers((0..).zip(headers.iter().map(String::as_str)))?;
    let (mut rows, mut refused) = (Vec::new(), Vec::new());
    let mut record = csv::StringRecord::new();
    while reader
        .read_record(&mut record)
        .map_err(|e| format!("cannot read the CSV: {e}"))?
    {
        if record.len() != headers.len() {
            refused.push(ragged(&text, &record, reader.position(), headers.len()));
            continue;
        }
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
    Ok(Page {
        records: PageRecords::Values(rows),
        refused,
        note: None,
    })
}

/// A row of another width than the header row, refused with its line and its text (from
/// the record's position to the reader's, after it).
fn ragged(
    text: &str,
    record: &csv::StringRecord,
    end: &csv::Position,
    width: usize,
) -> Quarantined {
    let start = record
        .position()
        .cloned()
        .unwrap_or_else(csv::Position::new);
    let raw = text
        .get(start.byte() as usize..end.byte() as usize)
        .unwrap_or_default();
    // After a CRLF, the reader's record begins at the LF: the row is on the next line.
    let row = raw.trim_start_matches(['\r', '\n']);
    let line = start.line() + raw[..raw.len() - row.len()].matches('\n').count() as u64;
    Quarantined {
        item_id: None,
        field: String::new(),
        reason: format!(
            "row {line} has {} cells; the header row has {width}",
            record.len()
        ),
        raw: row.trim_end_matches(['\r', '\n']).to_owned(),
    }
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

/// Workbooks over this size are refused before they are opened: a sheet is held in memory
/// while it is read, and an export this big is better sent as CSV.
const MAX_WORKBOOK_BYTES: u64 = 64 << 20;

/// Filled cells read from one sheet at most (about 100,000 rows of 20 columns): a workbook
/// compresses well, and the size limit alone does not bound what it unpacks to.
const MAX_CELLS: usize = 2_000_000;
/// Excel's own limit on the characters of one cell.
const MAX_CELL_CHARS: usize = 32_767;

/// How date cells are written when the feed's `time_format` cannot show them.
const DEFAULT_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// The rows of the first worksheet, as the CSV path gives them: one object a row after the
/// header row, every named column present, cells as trimmed text. The format is told by the
/// content, not the name: a system that saves an .xlsx as "report.xls" is not refused.
fn read_workbook(
    mut file: std::fs::File,
    extension: &str,
    dates: DateCells<'_>,
) -> Result<Records, String> {
    let size = file
        .metadata()
        .map_err(|e| format!("cannot read the file: {e}"))?
        .len();
    if size > MAX_WORKBOOK_BYTES {
        return Err(format!(
            "the workbook is over {} MiB ({size} bytes); export a sheet this big as CSV",
            MAX_WORKBOOK_BYTES >> 20
        ));
    }
    let unreadable = |e: &dyn std::fmt::Display| format!("cannot read the workbook: {e}");
    let mut grid = Grid::default();
    if compound_file(&mut file).map_err(|e| unreadable(&e))? {
        // The binary format of Excel 97–2003 (.xls), which calamine reads whole. An .xlsx
        // saved with a password is such a file too, holding the encrypted zip.
        let mut book = Xls::new(std::io::BufReader::new(file)).map_err(|e| {
            if extension == "xls" {
                unreadable(&e)
            } else {
                unreadable(&"it is password-protected; save it without a password")
            }
        })?;
        let sheet = first_worksheet(book.sheets_metadata())?;
        let range = book.worksheet_range(&sheet).map_err(|e| unreadable(&e))?;
        let (top, left) = range.start().unwrap_or_default();
        for (row, column, cell) in range.used_cells() {
            let position = (top + row as u32, left + column as u32);
            grid.put(position, cell_text(cell.clone(), dates))?;
        }
        grid.rows(&sheet)
    } else {
        // Office Open XML (.xlsx, .xlsm): a zip of XML, whose sheet is read as a stream of
        // cells.
        check_unpacked(&mut file)?;
        let mut book = Xlsx::new(std::io::BufReader::new(file)).map_err(|e| unreadable(&e))?;
        let sheet = first_worksheet(book.sheets_metadata())?;
        match book.worksheet_cells_reader(&sheet) {
            Ok(mut cells) => {
                while let Some(cell) = cells.next_cell().map_err(|e| unreadable(&e))? {
                    let text = cell_text(Data::from(cell.get_value().clone()), dates);
                    grid.put(cell.get_position(), text)?;
                }
            }
            // How calamine sees a sheet without a single cell (`<sheetData/>`).
            Err(XlsxError::NotAWorksheet(_)) => {}
            Err(e) => return Err(unreadable(&e)),
        }
        grid.rows(&sheet)
    }
}

/// The most a workbook may unpack to, in all and in its shared strings (which calamine
/// holds whole): far above what a sheet of MAX_CELLS cells needs, far below a zip bomb.
const MAX_UNPACKED_BYTES: u64 = 512 << 20;
const MAX_SHARED_STRINGS_BYTES: u64 = 128 << 20;

/// Refuses an .xlsx whose parts unpack to more than the bounds, by the sizes its zip
/// directory states (nothing is unpacked); the file is read again from its start after.
fn check_unpacked(file: &mut std::fs::File) -> Result<(), String> {
    use std::io::Seek as _;
    let unreadable = |e: &dyn std::fmt::Display| format!("cannot read the workbook: {e}");
    let mut zip = zip::ZipArchive::new(&mut *file).map_err(|e| unreadable(&e))?;
    let mut total = 0u64;
    for i in 0..zip.len() {
        let part = zip.by_index_raw(i).map_err(|e| unreadable(&e))?;
        let name = part.name().map_err(|e| unreadable(&e))?.into_owned();
        let size = part.size();
        total = total.saturating_add(size);
        let shared = name.eq_ignore_ascii_case("xl/sharedStrings.xml");
        if shared && size > MAX_SHARED_STRINGS_BYTES {
            return Err(format!(
                "the workbook's shared strings ({name}) unpack to {size} bytes, over {} MiB: \
                 no sheet of {MAX_CELLS} cells needs that; export the sheet as CSV",
                MAX_SHARED_STRINGS_BYTES >> 20
            ));
        }
    }
    if total > MAX_UNPACKED_BYTES {
        return Err(format!(
            "the workbook unpacks to {total} bytes, over {} MiB; export the sheet as CSV",
            MAX_UNPACKED_BYTES >> 20
        ));
    }
    drop(zip);
    file.rewind().map_err(|e| unreadable(&e))
}

/// Whether a file is an OLE compound file (an .xls workbook, or an encrypted .xlsx) rather
/// than a zip; the file is read again from its start after.
fn compound_file(file: &mut std::fs::File) -> std::io::Result<bool> {
    use std::io::{Read as _, Seek as _};
    let mut magic = [0u8; 8];
    let compound = match file.read_exact(&mut magic) {
        Ok(()) => magic == *b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => false,
        Err(e) => return Err(e),
    };
    file.rewind()?;
    Ok(compound)
}

/// The first worksheet in workbook order (chart and macro sheets are passed over).
fn first_worksheet(sheets: &[calamine::Sheet]) -> Result<String, String> {
    sheets
        .iter()
        .find(|s| s.typ == SheetType::WorkSheet)
        .map(|s| s.name.clone())
        .ok_or_else(|| "the workbook has no worksheet".to_owned())
}

/// The filled cells of a sheet as trimmed text, by row and column (from 0), whatever order
/// the file lists them in. Empty cells are left out, so a sheet with a stray cell far away
/// costs one cell, not the rectangle up to it.
#[derive(Default)]
struct Grid {
    cells: BTreeMap<u32, BTreeMap<u32, String>>,
    count: usize,
}

impl Grid {
    fn put(&mut self, (row, column): (u32, u32), text: String) -> Result<(), String> {
        let text = match text.trim() {
            "" => return Ok(()),
            trimmed if trimmed.len() == text.len() => text,
            trimmed => trimmed.to_owned(),
        };
        // Excel itself holds at most 32,767 characters in a cell: more is no export of it.
        let chars = text.chars().count();
        if chars > MAX_CELL_CHARS {
            return Err(format!(
                "the cell at row {}, column {} holds {chars} characters; Excel holds at most \
                 {MAX_CELL_CHARS} in a cell",
                row + 1,
                column + 1
            ));
        }
        if self.count >= MAX_CELLS {
            return Err(format!(
                "the first sheet has more than {MAX_CELLS} filled cells; export it as CSV"
            ));
        }
        if self
            .cells
            .entry(row)
            .or_default()
            .insert(column, text)
            .is_none()
        {
            self.count += 1;
        }
        Ok(())
    }

    /// The first row names the columns; each later row with a cell under a named column
    /// becomes an object. A column without a header is ignored; a header twice is an error.
    fn rows(self, sheet: &str) -> Result<Records, String> {
        let mut rows = self.cells.into_values();
        let Some(header_row) = rows.next() else {
            return Err(format!("the first sheet is empty (sheet {sheet:?})"));
        };
        unique_headers(
            header_row
                .iter()
                .map(|(column, name)| (*column, name.as_str())),
        )?;
        let mut page = Vec::new();
        for mut row in rows {
            if !header_row.keys().any(|column| row.contains_key(column)) {
                continue;
            }
            let object: Map<String, Value> = header_row
                .iter()
                .map(|(column, name)| {
                    let cell = row.remove(column).unwrap_or_default();
                    (name.clone(), Value::String(cell))
                })
                .collect();
            page.push(Value::Object(object));
        }
        Ok(page)
    }
}

/// Refuses a header row that names a column twice: one of the two columns' cells would be
/// lost. Columns are counted from 0, and named by their letters.
fn unique_headers<'a>(headers: impl Iterator<Item = (u32, &'a str)>) -> Result<(), String> {
    let mut first_column: BTreeMap<&str, u32> = BTreeMap::new();
    for (column, name) in headers.filter(|(_, name)| !name.is_empty()) {
        if let Some(first) = first_column.insert(name, column) {
            return Err(format!(
                "the header {name:?} is in two columns, {} and {}",
                column_letters(first),
                column_letters(column)
            ));
        }
    }
    Ok(())
}

/// A cell as the text a CSV export of it would hold.
fn cell_text(cell: Data, dates: DateCells<'_>) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(text) | Data::DurationIso(text) => text,
        Data::Int(n) => n.to_string(),
        Data::Float(x) => number_text(x),
        Data::Bool(b) => b.to_string(),
        Data::Error(e) => e.to_string(),
        Data::DateTime(t) if t.is_duration() => duration_text(t.as_f64()),
        Data::DateTime(t) => {
            let (year, month, day, hour, minute, second, milli) = t.to_ymd_hms_milli();
            NaiveDate::from_ymd_opt(year.into(), month.into(), day.into())
                .and_then(|d| {
                    d.and_hms_milli_opt(hour.into(), minute.into(), second.into(), milli.into())
                })
                // Excel's 1900-02-29 does not exist: left as its number, validation refuses it.
                .map_or_else(|| number_text(t.as_f64()), |t| dates.text(t))
        }
        Data::DateTimeIso(text) => NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
            .or_else(|_| {
                NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                    .map(|d| d.and_time(chrono::NaiveTime::MIN))
            })
            .map_or(text, |t| dates.text(t)),
    }
}

/// Whole numbers as integers ("15", not "15.0"), others in their shortest decimal form.
fn number_text(x: f64) -> String {
    if x == 0.0 {
        // Not "-0".
        "0".to_owned()
    } else {
        // `Display` for f64 writes the shortest text that reads back the same, with no
        // exponent and no ".0".
        x.to_string()
    }
}

/// A duration cell (`[h]:mm:ss`) as hours, minutes and seconds.
fn duration_text(days: f64) -> String {
    let seconds = (days * 86_400.0).round() as i64;
    let sign = if seconds < 0 { "-" } else { "" };
    let seconds = seconds.unsigned_abs();
    format!(
        "{sign}{}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// How a workbook's date cells (local times without an offset) become text that the feed's
/// mapping reads back: in its `time_format`, or as RFC 3339 in its zone when it has none.
#[derive(Clone, Copy)]
struct DateCells<'a> {
    format: Option<&'a str>,
    zone: chrono_tz::Tz,
}

impl DateCells<'_> {
    fn text(self, time: NaiveDateTime) -> String {
        let Some(format) = self.format else {
            return match self.zone.from_local_datetime(&time).earliest() {
                Some(t) => t.fixed_offset().to_rfc3339(),
                // A time that does not exist in the zone: validation refuses it, naming it.
                None => time.format(DEFAULT_TIME_FORMAT).to_string(),
            };
        };
        // A format that cannot show a time without an offset (a `%z` in it) gets the default.
        let mut text = String::new();
        match write!(text, "{}", time.format(format)) {
            Ok(()) => text,
            Err(_) => time.format(DEFAULT_TIME_FORMAT).to_string(),
        }
    }
}

/// "A" for the first column, "Z", "AA", … as Excel names them.
fn column_letters(column: u32) -> String {
    let mut letters = Vec::new();
    let mut n = column + 1;
    while n > 0 {
        letters.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    letters.iter().rev().map(|&b| char::from(b)).collect()
}

/// Moves a processed file to `done/` or `failed/` (with the reason beside it).
/// Files in `dir`/done/ written to after they were filed there, moved back into `dir`; a note
/// for each. The move set a file's change time, while its modification time stayed that of
/// its last write, at least SETTLE before: a write since has set both to its own time.
/// (A chmod or a copy in sets only the change time, and is no write.)
fn reclaim_grown(dir: &Path) -> std::io::Result<Vec<String>> {
    use std::os::unix::fs::MetadataExt as _;
    let done = dir.join("done");
    let Ok(entries) = std::fs::read_dir(&done) else {
        return Ok(Vec::new());
    };
    let mut notes = Vec::new();
    for entry in entries {
        let entry = entry?;
        let metadata = entry.metadata()?;
        let written_after_filing =
            (metadata.mtime(), metadata.mtime_nsec()) >= (metadata.ctime(), metadata.ctime_nsec());
        if !entry.file_type()?.is_file() || !written_after_filing {
            continue;
        }
        let mut back = dir.join(entry.file_name());
        if back.exists() {
            back = dir.join(format!("again-{}", entry.file_name().to_string_lossy()));
        }
        std::fs::rename(entry.path(), &back)?;
        notes.push(format!(
            "{} was written to after it was read and filed: back in the folder, to be read again",
            back.display()
        ));
    }
    Ok(notes)
}

/// Moves `file` into done/ (or failed/, with the reason beside it); returns where it went.
fn settle(dir: &Path, file: &Path, failure: Option<&str>) -> Result<PathBuf, FetchError> {
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
    Ok(destination)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The records of a page read whole.
    fn values(page: Page) -> Records {
        assert!(page.refused.is_empty(), "{:?}", page.refused);
        match page.records {
            PageRecords::Values(rows) => rows,
            PageRecords::Canonical { .. } => panic!("a folder's rows are values"),
        }
    }

    fn dates(format: Option<&str>) -> DateCells<'_> {
        DateCells {
            format,
            zone: chrono_tz::Asia::Shanghai,
        }
    }

    #[test]
    fn gbk_with_chinese_headers_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        let (bytes, _, _) = encoding_rs::GBK.encode("办件编号,办件状态\nX-1,办理中\n");
        std::fs::write(&path, &bytes).unwrap();
        let rows = values(read(&path, true, dates(None)).unwrap());
        assert_eq!(rows[0]["办件编号"], "X-1");
        assert_eq!(rows[0]["办件状态"], "办理中");
        assert!(read(&path, false, dates(None)).unwrap_err().contains("GBK"));
    }

    #[test]
    fn a_row_of_another_width_is_refused_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(
            &path,
            "办件编号,办件状态\r\nX-1,办理中\r\nX-2\r\n\"X-3\n续\",办理中,多,余\r\nX-4,已办结\r\n",
        )
        .unwrap();
        let page = read(&path, false, dates(None)).unwrap();
        let refused: Vec<(&str, &str)> = page
            .refused
            .iter()
            .map(|q| (q.reason.as_str(), q.raw.as_str()))
            .collect();
        assert_eq!(
            refused,
            [
                ("row 3 has 1 cells; the header row has 2", "X-2"),
                (
                    "row 4 has 4 cells; the header row has 2",
                    "\"X-3\n续\",办理中,多,余"
                ),
            ]
        );
        let PageRecords::Values(rows) = page.records else {
            panic!("values")
        };
        let ids: Vec<&Value> = rows.iter().map(|r| &r["办件编号"]).collect();
        assert_eq!(ids, ["X-1", "X-4"]);
    }

    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("secret.csv");
        std::fs::write(&target, "办件编号\nX-1\n").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("link.csv")).unwrap();
        std::fs::hard_link(&target, dir.path().join("hard.csv")).unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(dir.path().join("s.csv")).unwrap();
        std::fs::create_dir(dir.path().join("done")).unwrap();
        std::fs::write(dir.path().join(".hidden.csv"), "").unwrap();
        let (files, mut passed_over) = waiting_files(dir.path()).unwrap();
        assert!(files.is_empty(), "{files:?}");
        passed_over.sort();
        assert_eq!(passed_over.len(), 3, "{passed_over:?}");
        assert!(
            passed_over[0].ends_with(
                "hard.csv is a hard link (the file has 2 names), not a file of its own: not \
                 read, and left where it is; drop a copy of the file instead"
            ),
            "{passed_over:?}"
        );
        assert!(
            passed_over[1].ends_with(
                "link.csv is a symbolic link, not a regular file: not read, and left where it \
                 is; drop the file itself"
            ),
            "{passed_over:?}"
        );
        assert!(
            passed_over[2].contains("s.csv is a socket"),
            "{passed_over:?}"
        );
        // A link put in a file's place after the folder was listed is not followed either,
        // nor read through a second name.
        let err = read(&dir.path().join("link.csv"), false, dates(None)).unwrap_err();
        assert!(err.starts_with("it is a symbolic link"), "{err}");
        let err = read(&dir.path().join("hard.csv"), false, dates(None)).unwrap_err();
        assert!(err.starts_with("it is a hard link"), "{err}");
    }

    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

    /// An export as an approval system writes it: a blank first row, Chinese headers with
    /// stray spaces, a real date cell, numbers, a blank row, a column without a header; and a
    /// second sheet that is not read.
    fn export(path: &Path) {
        let mut book = Workbook::new();
        let date = Format::new().set_num_format("yyyy-mm-dd hh:mm");
        let day = Format::new().set_num_format("yyyy/m/d");
        let sheet = book.add_worksheet();
        sheet.set_name("办件").unwrap();
        for (column, header) in [" 办件编号 ", "受理时间", "承诺时限", "办件状态", "", "加急"]
            .into_iter()
            .enumerate()
        {
            sheet.write_string(1, column as u16, header).unwrap();
        }
        let accepted = ExcelDateTime::parse_from_str("2026-11-02 09:30:00").unwrap();
        sheet.write_string(2, 0, "X-1").unwrap();
        sheet
            .write_datetime_with_format(2, 1, &accepted, &date)
            .unwrap();
        sheet.write_number(2, 2, 15.0).unwrap();
        sheet.write_string(2, 3, "办理中").unwrap();
        sheet.write_string(2, 4, "a note under no header").unwrap();
        sheet.write_boolean(2, 5, false).unwrap();
        // Row 3 is empty; row 4 only has a cell under no header.
        sheet.write_string(4, 4, "ignored").unwrap();
        let day_only = ExcelDateTime::from_ymd(2026, 11, 3).unwrap();
        sheet.write_string(5, 0, " X-2 ").unwrap();
        sheet
            .write_datetime_with_format(5, 1, &day_only, &day)
            .unwrap();
        sheet.write_number(5, 2, 2.5).unwrap();
        sheet.write_boolean(5, 5, true).unwrap();
        let other = book.add_worksheet();
        other.write_string(0, 0, "不读这一页").unwrap();
        book.save(path).unwrap();
    }

    #[test]
    fn the_first_sheet_of_a_workbook_is_read_like_a_csv() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.xlsx");
        export(&path);
        let rows = values(read(&path, false, dates(None)).unwrap());
        assert_eq!(
            Value::Array(rows),
            serde_json::json!([
                {"办件编号": "X-1", "受理时间": "2026-11-02T09:30:00+08:00", "承诺时限": "15",
                 "办件状态": "办理中", "加急": "false"},
                {"办件编号": "X-2", "受理时间": "2026-11-03T00:00:00+08:00", "承诺时限": "2.5",
                 "办件状态": "", "加急": "true"},
            ])
        );
    }

    #[test]
    fn date_cells_are_written_in_the_feeds_time_format() {
        let dir = tempfile::tempdir().unwrap();
        // Upper case, and .xlsm, are read the same way.
        let path = dir.path().join("A.XLSM");
        export(&path);
        let rows = values(read(&path, false, dates(Some("%Y年%m月%d日 %H:%M"))).unwrap());
        assert_eq!(rows[0]["受理时间"], "2026年11月02日 09:30");
        assert_eq!(rows[1]["受理时间"], "2026年11月03日 00:00");
        // A format that cannot show a time without an offset falls back to the default.
        let rows = values(read(&path, false, dates(Some("%Y-%m-%d %H:%M %z"))).unwrap());
        assert_eq!(rows[0]["受理时间"], "2026-11-02 09:30:00");
    }

    #[test]
    fn a_header_in_two_columns_names_both() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dup.xlsx");
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        for (column, header) in ["办件编号", "受理时间", "x", "办件编号 "]
            .into_iter()
            .enumerate()
        {
            sheet.write_string(0, column as u16, header).unwrap();
        }
        book.save(&path).unwrap();
        let err = read(&path, false, dates(None)).unwrap_err();
        assert!(
            err.contains("\"办件编号\"") && err.contains("A and D"),
            "{err}"
        );
        // A CSV the same way (columns without a header, however many, are not names).
        let csv = dir.path().join("dup.csv");
        std::fs::write(
            &csv,
            "办件编号,受理时间,,,办件编号 \nX-1,2026-11-02,,,X-2\n",
        )
        .unwrap();
        let err = read(&csv, false, dates(None)).unwrap_err();
        assert!(
            err.contains("\"办件编号\"") && err.contains("A and E"),
            "{err}"
        );
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(16_383), "XFD");
    }

    #[test]
    fn empty_corrupt_and_oversized_workbooks_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.xlsx");
        let mut book = Workbook::new();
        book.add_worksheet();
        book.add_worksheet().write_string(0, 0, "办件编号").unwrap();
        book.save(&empty).unwrap();
        let err = read(&empty, false, dates(None)).unwrap_err();
        assert!(err.starts_with("the first sheet is empty"), "{err}");

        for name in ["corrupt.xlsx", "corrupt.xls"] {
            let corrupt = dir.path().join(name);
            std::fs::write(&corrupt, b"PK\x03\x04 this is no zip at all").unwrap();
            let err = read(&corrupt, false, dates(None)).unwrap_err();
            assert!(err.starts_with("cannot read the workbook: "), "{err}");
        }
        let locked = dir.path().join("locked.xlsx");
        std::fs::write(
            &locked,
            b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1 and then nothing",
        )
        .unwrap();
        let err = read(&locked, false, dates(None)).unwrap_err();
        assert!(err.contains("password"), "{err}");

        let big = dir.path().join("big.xlsx");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_WORKBOOK_BYTES + 1)
            .unwrap();
        let err = read(&big, false, dates(None)).unwrap_err();
        assert!(err.contains("64 MiB") && err.contains("CSV"), "{err}");

        // A workbook bomb: a small file whose shared strings unpack past the bound is refused
        // by its zip directory, before anything is unpacked.
        let bomb = dir.path().join("bomb.xlsx");
        {
            use std::io::Write as _;
            let mut zip = zip::ZipWriter::new(std::fs::File::create(&bomb).unwrap());
            let deflated = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            zip.start_file("xl/sharedStrings.xml", deflated).unwrap();
            let chunk = vec![b'A'; 1 << 20];
            for _ in 0..=(MAX_SHARED_STRINGS_BYTES >> 20) {
                zip.write_all(&chunk).unwrap();
            }
            zip.finish().unwrap();
        }
        assert!(
            std::fs::metadata(&bomb).unwrap().len() < 1 << 20,
            "a small file"
        );
        let err = read(&bomb, false, dates(None)).unwrap_err();
        assert!(
            err.contains("shared strings") && err.contains("over 128 MiB"),
            "{err}"
        );

        let other = dir.path().join("a.ods");
        std::fs::write(&other, b"").unwrap();
        assert!(
            read(&other, false, dates(None))
                .unwrap_err()
                .contains(".ods")
        );
    }

    #[test]
    fn cells_become_the_text_a_csv_would_hold() {
        use calamine::{CellErrorType, ExcelDateTime, ExcelDateTimeType};
        let text = |cell| cell_text(cell, dates(Some(DEFAULT_TIME_FORMAT)));
        assert_eq!(text(Data::Float(15.0)), "15");
        assert_eq!(text(Data::Float(-0.0)), "0");
        assert_eq!(text(Data::Float(0.1 + 0.2)), "0.30000000000000004");
        assert_eq!(text(Data::Float(1e20)), "100000000000000000000");
        assert_eq!(text(Data::Int(-3)), "-3");
        assert_eq!(text(Data::Error(CellErrorType::NA)), "#N/A");
        assert_eq!(text(Data::Error(CellErrorType::Value)), "#VALUE!");
        assert_eq!(text(Data::Empty), "");
        let noon = ExcelDateTime::new(45943.5, ExcelDateTimeType::DateTime, false);
        assert_eq!(text(Data::DateTime(noon)), "2025-10-13 12:00:00");
        let hours = ExcelDateTime::new(1.5, ExcelDateTimeType::TimeDelta, false);
        assert_eq!(text(Data::DateTime(hours)), "36:00:00");
        assert_eq!(
            text(Data::DateTimeIso("2026-11-02T09:30:00".into())),
            "2026-11-02 09:30:00"
        );
        assert_eq!(text(Data::DateTimeIso("09:30:00".into())), "09:30:00");
        // A feed without a time format reads RFC 3339: the cell gets the feed's offset.
        assert_eq!(
            cell_text(Data::DateTime(noon), dates(None)),
            "2025-10-13T12:00:00+08:00"
        );
    }
}
