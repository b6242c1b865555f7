//! Row batches: many rows written by one statement with one bound value, a JSON array of
//! rows that the database unpacks itself (`jsonb_each` in SQLite, `jsonb_array_elements` in
//! PostgreSQL). Binding every cell on its own cost more than the rest of an ingest: each
//! value was copied twice on its way through sqlx's `Any` driver, SQLite bound and cleared
//! each, and PostgreSQL allows only 65,535 of them a statement. The reads at start-up come
//! back the same way (see `load::json_chunk`).

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};

use super::Dialect;

/// A column of a batch and the type the database gets it as.
#[derive(Clone, Copy)]
pub(crate) struct Column {
    pub name: &'static str,
    integer: bool,
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
            Dialect::Postgres => {
                let kind = if c.integer { "bigint" } else { "text" };
                format!("(r ->> {i})::{kind} AS {}", c.name)
            }
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

/// Rows as one JSON array of arrays, written straight into text (no value per cell).
pub(crate) struct JsonRows {
    json: String,
    rows: usize,
}

impl JsonRows {
    pub fn new() -> Self {
        Self::with_capacity(0, 0)
    }

    /// For about `rows` rows of about `row_bytes` each: a batch of megabytes grown by
    /// doubling is copied over and over.
    pub fn with_capacity(rows: usize, row_bytes: usize) -> Self {
        let mut json = String::with_capacity(rows * row_bytes + 2);
        json.push('[');
        Self { json, rows: 0 }
    }

    /// Adds a row: `fill` writes its cells in column order.
    pub fn row(&mut self, fill: impl FnOnce(&mut Row<'_>)) {
        if self.rows > 0 {
            self.json.push(',');
        }
        self.json.push('[');
        fill(&mut Row {
            json: &mut self.json,
            cells: 0,
        });
        self.json.push(']');
        self.rows += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn finish(mut self) -> String {
        self.json.push(']');
        self.json
    }
}

/// A row's first cells (`[a,b,…`), rendered ahead of a batch; whoever puts it in one
/// writes the remaining cells and the closing `]`.
pub(crate) fn open_row(capacity: usize, fill: impl FnOnce(&mut Row<'_>)) -> String {
    let mut json = String::with_capacity(capacity);
    json.push('[');
    fill(&mut Row {
        json: &mut json,
        cells: 0,
    });
    json
}

/// The cells of one row being written.
pub(crate) struct Row<'a> {
    json: &'a mut String,
    cells: usize,
}

impl Row<'_> {
    fn next(&mut self) -> &mut String {
        if self.cells > 0 {
            self.json.push(',');
        }
        self.cells += 1;
        self.json
    }

    pub fn text(&mut self, value: &str) -> &mut Self {
        escape_into(self.next(), value);
        self
    }

    pub fn int(&mut self, value: i64) -> &mut Self {
        let _ = write!(self.next(), "{value}");
        self
    }

    pub fn null(&mut self) -> &mut Self {
        self.next().push_str("null");
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
        let json = self.next();
        json.push('"');
        push_date(json, t.date_naive());
        let _ = write!(
            json,
            "T{:02}:{:02}:{:02}Z\"",
            t.hour(),
            t.minute(),
            t.second()
        );
        self
    }

    /// A date as `YYYY-MM-DD`.
    pub fn date(&mut self, value: NaiveDate) -> &mut Self {
        let json = self.next();
        json.push('"');
        push_date(json, value);
        json.push('"');
        self
    }

    pub fn opt_time<Tz: TimeZone>(&mut self, value: Option<&DateTime<Tz>>) -> &mut Self {
        match value {
            Some(v) => self.time(v),
            None => self.null(),
        }
    }
}

fn push_date(json: &mut String, date: NaiveDate) {
    let _ = write!(
        json,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_json_that_reads_back_cell_for_cell() {
        let mut rows = JsonRows::new();
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
        let mut batch = String::from("[");
        batch.push_str(&open_row(16, |r| {
            r.text("a").int(1);
        }));
        batch.push_str(",\"b\"]]");
        let back: serde_json::Value = serde_json::from_str(&batch).unwrap();
        assert_eq!(back, serde_json::json!([["a", 1, "b"]]));
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
        assert_eq!(JsonRows::new().finish(), "[]");
    }
}
