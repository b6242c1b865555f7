//! Row batches: many rows written at once, as text the database unpacks itself. A statement
//! takes a JSON array of rows as one bound value (`jsonb_each` in SQLite,
//! `jsonb_array_elements` in PostgreSQL): binding every cell on its own cost more than the
//! rest of an ingest (each value was copied twice on its way through sqlx's `Any` driver,
//! SQLite bound and cleared each, and PostgreSQL allows only 65,535 of them a statement).
//! PostgreSQL's item rows are rendered in `COPY`'s text format (`Format::Copy`) and copied in.
//! The reads at start-up
//! come back as JSON (see `load::json_chunk`).

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};

use super::Dialect;

/// A column of a batch and the type the database gets it as.
#[derive(Clone, Copy)]
pub(crate) struct Column {
    pub name: &'static str,
    integer: bool,
}

impl Column {
    /// Its type in PostgreSQL.
    pub fn pg_type(self) -> &'static str {
        if self.integer { "bigint" } else { "text" }
    }
}

pub(crate) const fn text(name: &'static str) -> Column {
    Column {
        name,
        integer: false,
    }
}

pub(crate) const fn int(name: &'static str) -> Column {
    Column {
        name,
        integer: true,
    }
}

/// `SELECT <column i of each row> AS <name>, … FROM <the rows bound to $param>`.
pub(crate) fn select(dialect: Dialect, columns: &[Column], param: usize) -> String {
    let fields: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| match dialect {
            Dialect::Sqlite => format!("value ->> {i} AS {}", c.name),
            Dialect::Postgres => format!("(r ->> {i})::{} AS {}", c.pg_type(), c.name),
        })
        .collect();
    let source = match dialect {
        Dialect::Sqlite => format!("jsonb_each(${param})"),
        Dialect::Postgres => format!("jsonb_array_elements(${param}::jsonb) AS r"),
    };
    format!("SELECT {} FROM {source}", fields.join(", "))
}

/// `INSERT INTO table (columns) SELECT … <suffix>` for a batch bound to `$1`. (`WHERE true`
/// is how SQLite tells an upsert's `ON CONFLICT` from a join's `ON`.)
pub(crate) fn insert(dialect: Dialect, table: &str, columns: &[Column], suffix: &str) -> String {
    let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
    format!(
        "INSERT INTO {table} ({}) {} WHERE true {suffix}",
        names.join(", "),
        select(dialect, columns, 1)
    )
}

/// `sql` with its placeholders `$1…$n` numbered from `$(by+1)`, to be joined into a larger
/// statement after `by` values.
pub(crate) fn shift_placeholders(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut n = 0usize;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = n * 10 + d as usize;
                chars.next();
            }
            let _ = write!(out, "{}", n + by);
        }
    }
    out
}

/// How rows are written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// A JSON array of arrays, for the statements that unpack one (`select`).
    Json,
    /// PostgreSQL's `COPY … FROM STDIN` text format: a line a row, cells between tabs,
    /// `\N` for null, backslash escapes.
    Copy,
}

impl Format {
    /// Before the first cell of a row.
    fn open(self) -> &'static str {
        match self {
            Format::Json => "[",
            Format::Copy => "",
        }
    }

    /// After the last cell of a row.
    pub fn close(self) -> &'static str {
        match self {
            Format::Json => "]",
            Format::Copy => "\n",
        }
    }

    /// Between cells.
    pub fn separator(self) -> char {
        match self {
            Format::Json => ',',
            Format::Copy => '\t',
        }
    }

    /// A text cell (a time, a date, a word) that needs no escaping, as it is written.
    pub fn plain(self, value: &str) -> String {
        match self {
            Format::Json => format!("\"{value}\""),
            Format::Copy => value.to_owned(),
        }
    }
}

/// Rows written straight into text (no value per cell): for JSON one array of arrays, for
/// `COPY` lines.
pub(crate) struct Rows {
    text: String,
    rows: usize,
    format: Format,
}

impl Rows {
    pub fn new() -> Self {
        Self::with_capacity(Format::Json, 0, 0)
    }

    /// For about `rows` rows of about `row_bytes` each: a batch of megabytes grown by
    /// doubling is copied over and over.
    pub fn with_capacity(format: Format, rows: usize, row_bytes: usize) -> Self {
        let mut text = String::with_capacity(rows * row_bytes + 2);
        if format == Format::Json {
            text.push('[');
        }
        Self {
            text,
            rows: 0,
            format,
        }
    }

    /// Adds a row: `fill` writes its cells in column order.
    pub fn row(&mut self, fill: impl FnOnce(&mut Row<'_>)) {
        if self.rows > 0 && self.format == Format::Json {
            self.text.push(',');
        }
        self.text.push_str(self.format.open());
        fill(&mut Row {
            out: &mut self.text,
            cells: 0,
            format: self.format,
        });
        self.text.push_str(self.format.close());
        self.rows += 1;
    }

    /// Adds a row `open_row` rendered, closed with a number cell, `value`, and `rest` (the
    /// remaining cells, each with its separator before it, and the row's end).
    pub fn push_open_int(&mut self, open: &str, value: i64, rest: &str) {
        if self.rows > 0 && self.format == Format::Json {
            self.text.push(',');
        }
        self.text.push_str(open);
        self.text.push(self.format.separator());
        let _ = write!(self.text, "{value}");
        self.text.push_str(rest);
        self.rows += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn finish(mut self) -> String {
        if self.format == Format::Json {
            self.text.push(']');
        }
        self.text
    }
}

/// A row's first cells (`[a,b,…` in JSON), rendered ahead of a batch; whoever puts it in
/// one writes the remaining cells and the row's end (`Rows::push_open_int`).
pub(crate) fn open_row(format: Format, capacity: usize, fill: impl FnOnce(&mut Row<'_>)) -> String {
    let mut out = String::with_capacity(capacity);
    out.push_str(format.open());
    fill(&mut Row {
        out: &mut out,
        cells: 0,
        format,
    });
    out
}

/// The cells of one row being written.
pub(crate) struct Row<'a> {
    out: &'a mut String,
    cells: usize,
    format: Format,
}

impl Row<'_> {
    fn next(&mut self) -> &mut String {
        if self.cells > 0 {
            self.out.push(self.format.separator());
        }
        self.cells += 1;
        self.out
    }

    pub fn text(&mut self, value: &str) -> &mut Self {
        let format = self.format;
        let out = self.next();
        match format {
            Format::Json => escape_into(out, value),
            Format::Copy => copy_escape_into(out, value),
        }
        self
    }

    pub fn int(&mut self, value: i64) -> &mut Self {
        let _ = write!(self.next(), "{value}");
        self
    }

    pub fn null(&mut self) -> &mut Self {
        let null = match self.format {
            Format::Json => "null",
            Format::Copy => "\\N",
        };
        self.next().push_str(null);
        self
    }

    pub fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }

    /// An instant as the store keeps it: RFC 3339 in UTC to the second (`…Z`), as
    /// `items::utc` writes it.
    pub fn time<Tz: TimeZone>(&mut self, value: &DateTime<Tz>) -> &mut Self {
        // By hand: chrono's `format` parses its pattern on every call, a million times an
        // ingest.
        let t = value.with_timezone(&Utc);
        let quote = self.quote();
        let out = self.next();
        out.push_str(quote);
        push_date(out, t.date_naive());
        let _ = write!(
            out,
            "T{:02}:{:02}:{:02}Z{quote}",
            t.hour(),
            t.minute(),
            t.second()
        );
        self
    }

    /// A date as `YYYY-MM-DD`.
    pub fn date(&mut self, value: NaiveDate) -> &mut Self {
        let quote = self.quote();
        let out = self.next();
        out.push_str(quote);
        push_date(out, value);
        out.push_str(quote);
        self
    }

    /// Around a text cell that needs no escaping.
    fn quote(&self) -> &'static str {
        match self.format {
            Format::Json => "\"",
            Format::Copy => "",
        }
    }

    pub fn opt_time<Tz: TimeZone>(&mut self, value: Option<&DateTime<Tz>>) -> &mut Self {
        match value {
            Some(v) => self.time(v),
            None => self.null(),
        }
    }
}

fn push_date(out: &mut String, date: NaiveDate) {
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}",
        date.year(),
        date.month(),
        date.day()
    );
}

/// A JSON string literal for `value`.
fn escape_into(json: &mut String, value: &str) {
    json.push('"');
    for c in value.chars() {
        match c {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            '\n' => json.push_str("\\n"),
            '\r' => json.push_str("\\r"),
            '\t' => json.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(json, "\\u{:04x}", u32::from(c));
            }
            c => json.push(c),
        }
    }
    json.push('"');
}

/// A cell of `COPY`'s text format for `value`: backslash, tab, newline and carriage return
/// escaped (so no line can be the end marker `\.`); NUL cannot be stored and is refused
/// when a record is validated (`item::required_text`).
fn copy_escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_json_that_reads_back_cell_for_cell() {
        let mut rows = Rows::new();
        let awkward = "引号\"反斜杠\\换行\n\u{1}制表\t";
        let at = DateTime::parse_from_rfc3339("2026-11-25T10:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        rows.row(|r| {
            r.text(awkward)
                .int(-7)
                .null()
                .time(&at)
                .date(at.date_naive());
        });
        rows.row(|r| {
            r.opt_text(None).opt_time::<Utc>(None).int(0).text("");
        });
        let back: serde_json::Value = serde_json::from_str(&rows.finish()).unwrap();
        assert_eq!(
            back,
            serde_json::json!([
                [awkward, -7, null, "2026-11-25T02:00:00Z", "2026-11-25"],
                [null, null, 0, ""]
            ])
        );
        assert_eq!(super::super::items::utc(&at), "2026-11-25T02:00:00Z");
    }

    #[test]
    fn an_open_row_closed_by_its_batch_reads_back() {
        let mut rows = Rows::new();
        for text in ["a", "c"] {
            let open = open_row(Format::Json, 16, |r| {
                r.text(text).int(1);
            });
            rows.push_open_int(&open, 7, ",\"b\"]");
        }
        let back: serde_json::Value = serde_json::from_str(&rows.finish()).unwrap();
        assert_eq!(
            back,
            serde_json::json!([["a", 1, 7, "b"], ["c", 1, 7, "b"]])
        );
    }

    /// A `COPY` text line read back as PostgreSQL reads it: `\\N` is null, a backslash
    /// escapes the next character (`n`, `r`, `t` standing for their control characters).
    fn copy_cells(line: &str) -> Vec<Option<String>> {
        line.split('\t')
            .map(|cell| {
                if cell == "\\N" {
                    return None;
                }
                let mut out = String::new();
                let mut chars = cell.chars();
                while let Some(c) = chars.next() {
                    out.push(match c {
                        '\\' => match chars.next() {
                            Some('n') => '\n',
                            Some('r') => '\r',
                            Some('t') => '\t',
                            Some(other) => other,
                            None => panic!("a cell ends in a lone backslash: {cell:?}"),
                        },
                        c => c,
                    });
                }
                Some(out)
            })
            .collect()
    }

    #[test]
    fn copy_rows_escape_what_copy_reads_as_special_and_read_back() {
        let awkward = "制表\t换行\n回车\r反斜杠\\N\\.";
        let mut rows = Rows::with_capacity(Format::Copy, 1, 64);
        rows.row(|r| {
            r.text(awkward)
                .int(-7)
                .null()
                .text("")
                .text("\\N")
                .text("\\.");
        });
        let text = rows.finish();
        // One line: nothing in a cell ends it or splits a cell; text that reads as COPY's
        // null or end marker is escaped.
        assert_eq!(text.matches('\n').count(), 1);
        assert!(text.ends_with("\t\\\\N\t\\\\.\n"), "{text}");
        let cells = copy_cells(text.trim_end_matches('\n'));
        assert_eq!(
            cells,
            [
                Some(awkward.to_owned()),
                Some("-7".into()),
                None,
                Some(String::new()),
                Some("\\N".into()),
                Some("\\.".into())
            ]
        );
    }

    #[test]
    fn placeholders_shift_past_earlier_values() {
        assert_eq!(
            shift_placeholders("a = $1 AND b IN (SELECT x FROM f($2::json)) -- $", 3),
            "a = $4 AND b IN (SELECT x FROM f($5::json)) -- $"
        );
    }

    #[test]
    fn an_empty_batch_is_an_empty_array() {
        assert_eq!(Rows::new().finish(), "[]");
    }
}
