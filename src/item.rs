//! The canonical item record (ARCHITECTURE.md) that every feed is mapped to: parsing one JSON
//! object, and validating it into an `Item` whose every field is known to be usable. A bad
//! record yields a `RecordError` naming the field and the problem, so it can be quarantined
//! while the rest of the batch goes on. Usable means consistent in itself and plausible:
//! texts of a bounded length (a name is shown on every screen), at most `MAX_PAUSES`
//! pauses, dates and day counts within the `[records]` bounds of the config (`Plausible`),
//! so that a typing mistake upstream is refused as what it is rather than graded against a
//! holiday year nobody will load.

use chrono::{DateTime, FixedOffset, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The four approval stages (审批阶段) by number, 1 to 4.
pub const STAGE_NAMES: [&str; 4] = ["立项用地规划许可", "工程建设许可", "施工许可", "竣工验收"];

/// The stage numbers a record may carry.
pub const STAGES: std::ops::RangeInclusive<i64> = 1..=4;

/// Limits in working days: whole, not negative, and at most 100,000 (some 400 years).
pub const DAYS: std::ops::RangeInclusive<i64> = 0..=100_000;

/// Where an item stands in its department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Paused,
    Finished,
    Withdrawn,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Pending,
        Status::Paused,
        Status::Finished,
        Status::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Paused => "paused",
            Status::Finished => "finished",
            Status::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Why the clock stopped (行政许可法 art. 45 special procedures, or a correction request).
/// The words are `as_str`'s; serde uses the same (snake_case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseKind {
    /// 补正: waiting for the applicant to complete the file.
    Correction,
    Hearing,
    Tender,
    Auction,
    Inspection,
    Testing,
    Quarantine,
    Appraisal,
    ExpertReview,
    /// Any other clock stop a feed reports.
    Other,
}

impl PauseKind {
    pub const ALL: [PauseKind; 10] = [
        PauseKind::Correction,
        PauseKind::Hearing,
        PauseKind::Tender,
        PauseKind::Auction,
        PauseKind::Inspection,
        PauseKind::Testing,
        PauseKind::Quarantine,
        PauseKind::Appraisal,
        PauseKind::ExpertReview,
        PauseKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PauseKind::Correction => "correction",
            PauseKind::Hearing => "hearing",
            PauseKind::Tender => "tender",
            PauseKind::Auction => "auction",
            PauseKind::Inspection => "inspection",
            PauseKind::Testing => "testing",
            PauseKind::Quarantine => "quarantine",
            PauseKind::Appraisal => "appraisal",
            PauseKind::ExpertReview => "expert_review",
            PauseKind::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub kind: PauseKind,
    pub from: DateTime<FixedOffset>,
    /// `None` while the pause is open.
    pub to: Option<DateTime<FixedOffset>>,
}

/// A validated item: every field present and consistent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub item_id: String,
    pub project_code: String,
    pub project_name: String,
    pub project_category: String,
    pub matter: String,
    pub department: String,
    pub stage: u8,
    pub status: Status,
    pub accepted_at: DateTime<FixedOffset>,
    pub limit_days: u32,
    pub legal_days: u32,
    pub extension_days: u32,
    pub pauses: Vec<Pause>,
    pub finished_at: Option<DateTime<FixedOffset>>,
    pub updated_at: DateTime<FixedOffset>,
    /// The applicant's rating of the finished item (好差评), 1 to 5, where the feed has it
    /// (0, which systems write for 未评价, reads as none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
}

impl Item {
    /// `limit_days + extension_days`: what the item is graded against.
    pub fn allowed_days(&self) -> u32 {
        self.limit_days + self.extension_days
    }
}

/// The longest `item_id` and `project_code`, in characters: ids are codes
/// (`370102-2026-000123`; a project code has 24 characters).
pub const MAX_ID_CHARS: usize = 64;

/// The longest name or word (project name and category, matter, department, status, pause
/// kind), in characters: every screen and list shows them, so one megabyte of department
/// made every snapshot of the screens megabytes long.
pub const MAX_TEXT_CHARS: usize = 200;

/// The most pauses one record may hold. An approval has a few (a 补正, an expert review);
/// the bound also keeps the canonical form of a record short enough for the quarantine to
/// keep whole (`store::feeds::MAX_RAW_BYTES`) when it waits for a holiday year.
pub const MAX_PAUSES: usize = 100;

/// The bounds of a plausible record beyond its own consistency (`[records]` in the config):
/// no date before `earliest`, none more than `years_ahead` years after the record is read,
/// no day count (limit, legal, extension) over `max_days`. Validation is pure: the instant
/// a record is read at comes in through `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plausible {
    pub earliest: NaiveDate,
    pub years_ahead: u32,
    pub max_days: u32,
}

impl Default for Plausible {
    /// No approval system in use holds records from before 2000; an item is accepted when
    /// it is sent, so a year ahead already allows for any clock; a year of working days is
    /// more than any matter in the catalogue is given.
    fn default() -> Self {
        Self {
            earliest: NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date"),
            years_ahead: 1,
            max_days: 365,
        }
    }
}

impl Plausible {
    /// The bounds for records read at `now`: a feed run's start, or the instant a command
    /// grades as of.
    pub fn as_of(self, now: DateTime<Utc>) -> Bounds {
        let read_on = now.date_naive();
        Bounds {
            plausible: self,
            read_on,
            latest: read_on
                .checked_add_months(Months::new(12 * self.years_ahead))
                .unwrap_or(NaiveDate::MAX),
        }
    }
}

/// `Plausible` for records read on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    plausible: Plausible,
    read_on: NaiveDate,
    /// The last date a record may hold.
    latest: NaiveDate,
}

impl Bounds {
    /// `time` for `field`, if its date is within the bounds.
    fn date(
        &self,
        field: &str,
        time: DateTime<FixedOffset>,
        item_id: Option<&str>,
    ) -> Result<DateTime<FixedOffset>, RecordError> {
        let day = time.date_naive();
        let problem = if day < self.plausible.earliest {
            format!(
                "{field} {} is before {}, the earliest date a record may hold ([records] \
                 earliest): the feed sent a wrong date",
                time.to_rfc3339(),
                self.plausible.earliest
            )
        } else if day > self.latest {
            let years = self.plausible.years_ahead;
            format!(
                "{field} {} is more than {years} year{} after {}, when the record was read \
                 ([records] years_ahead): the feed sent a wrong date",
                time.to_rfc3339(),
                if years == 1 { "" } else { "s" },
                self.read_on
            )
        } else {
            return Ok(time);
        };
        Err(RecordError {
            field: field.to_owned(),
            problem,
            item_id: item_id.map(str::to_owned),
        })
    }
}

/// A record that cannot be used: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {problem}")]
pub struct RecordError {
    /// Dotted path of the field (`pauses[0].from`); empty when the record as a whole is bad.
    pub field: String,
    pub problem: String,
    /// The item id, when the record got far enough to have one.
    pub item_id: Option<String>,
}

/// The record as it arrives: every field optional, times as text, numbers wide, so that
/// validation can say exactly which field is missing or out of range.
#[derive(Debug, Deserialize)]
struct RawItem {
    item_id: Option<String>,
    project_code: Option<String>,
    project_name: Option<String>,
    project_category: Option<String>,
    matter: Option<String>,
    department: Option<String>,
    stage: Option<i64>,
    status: Option<String>,
    accepted_at: Option<String>,
    limit_days: Option<i64>,
    legal_days: Option<i64>,
    extension_days: Option<i64>,
    #[serde(default)]
    pauses: Option<Vec<RawPause>>,
    finished_at: Option<String>,
    updated_at: Option<String>,
    #[serde(default)]
    rating: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct RawPause {
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// Parses and validates one canonical JSON record.
pub fn parse_record(json: &str, bounds: &Bounds) -> Result<Item, RecordError> {
    // Spreadsheet tools put a byte-order mark before the first line.
    let json = json.strip_prefix('\u{feff}').unwrap_or(json);
    if json.trim().is_empty() {
        return Err(RecordError {
            field: String::new(),
            problem: "empty line; expected one record".into(),
            item_id: None,
        });
    }
    // serde would also read a struct from a JSON array; a record is an object.
    if !json.trim_start().starts_with('{') {
        let problem = match serde_json::from_str::<serde::de::IgnoredAny>(json) {
            Ok(_) => "not a JSON object; each line must be one record {…}".to_owned(),
            Err(e) => not_json(&e),
        };
        return Err(RecordError {
            field: String::new(),
            problem,
            item_id: None,
        });
    }
    let raw: RawItem = match serde_json::from_str(json) {
        Ok(raw) => raw,
        Err(_) => return Err(describe_json_error(json)),
    };
    raw.validate(bounds)
}

/// Validates a JSON object as it came from a canonical feed.
pub fn from_object(
    object: &serde_json::Map<String, serde_json::Value>,
    bounds: &Bounds,
) -> Result<Item, RecordError> {
    use serde::de::IntoDeserializer;
    match RawItem::deserialize(object.into_deserializer()) {
        Ok(raw) => raw.validate(bounds),
        Err(_) => from_value(&serde_json::Value::Object(object.clone()), bounds),
    }
}

/// Validates a record that is already JSON (a feed's record after mapping).
pub fn from_value(value: &serde_json::Value, bounds: &Bounds) -> Result<Item, RecordError> {
    let item_id = value
        .get("item_id")
        .and_then(|id| id.as_str())
        .and_then(usable_id);
    if !value.is_object() {
        return Err(RecordError {
            field: String::new(),
            problem: "not a JSON object".into(),
            item_id,
        });
    }
    // Tracking the path costs time; only a record that fails is read again with it.
    if let Ok(raw) = RawItem::deserialize(value) {
        return raw.validate(bounds);
    }
    match serde_path_to_error::deserialize::<_, RawItem>(value) {
        Ok(raw) => raw.validate(bounds),
        Err(e) => {
            let field = e.path().to_string();
            let problem = plain_types(&e.into_inner().to_string());
            Err(RecordError {
                field,
                problem,
                item_id,
            })
        }
    }
}

/// Re-reads a record that failed to deserialize, this time tracking the path, so the
/// error names the field whose JSON type is wrong (the fast path does not pay for this).
fn describe_json_error(json: &str) -> RecordError {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let result: Result<RawItem, _> = serde_path_to_error::deserialize(&mut deserializer);
    let (field, problem) = match result.map(|_| deserializer.end()) {
        Ok(Ok(())) => (String::new(), "not a JSON object".to_owned()),
        Ok(Err(e)) => (String::new(), not_json(&e)),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                (String::new(), not_json(&inner))
            } else if path == "." {
                (
                    String::new(),
                    format!("not a record: {}", plain_types(&inner.to_string())),
                )
            } else {
                (path, plain_types(&inner.to_string()))
            }
        }
    };
    // The id is worth keeping when only another field is wrong.
    let item_id = serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| {
            v.get("item_id")
                .and_then(|id| id.as_str())
                .and_then(usable_id)
        });
    RecordError {
        field,
        problem,
        item_id,
    }
}

/// An id as a refused record's quarantine entry is keyed on: only one that would itself
/// pass, so that records with empty ids are not taken for one another, and a megabyte of
/// id is not a key.
pub(crate) fn usable_id(id: &str) -> Option<String> {
    (!id.trim().is_empty() && id.chars().count() <= MAX_ID_CHARS && !id.contains('\0'))
        .then(|| id.to_owned())
}

/// A JSON syntax error as the operator of a feed reads it: serde_json's words, with a lone
/// surrogate (`"\ud800"`, which it calls an unexpected end of hex escape) named as such,
/// and where in the record (its lines and columns are the record's text).
pub(crate) fn not_json(error: &serde_json::Error) -> String {
    let message = strip_position(&error.to_string());
    let what = match message.as_str() {
        "unexpected end of hex escape" | "lone leading surrogate in hex escape" => {
            "an invalid \\u escape (a lone surrogate: half of a UTF-16 pair)"
        }
        other => other,
    };
    match (error.line(), error.column()) {
        (0, _) => format!("not valid JSON: {what}"),
        (1, column) => format!("not valid JSON: {what} at column {column}"),
        (line, column) => format!("not valid JSON: {what} at line {line} column {column}"),
    }
}

/// serde names Rust types ("expected i64"); say what the record should hold. Its messages
/// quote the value (`invalid type: string "…"`), which may be any length: the middle of a
/// long one is left out.
fn plain_types(message: &str) -> String {
    let message = strip_position(message)
        .replace("expected i64", "expected a whole number")
        .replace("expected a sequence", "expected a list")
        .replace("expected struct RawPause", "expected a pause object")
        .replace("expected struct RawItem", "expected a record object");
    let chars = message.chars().count();
    if chars <= 2 * QUOTED_CHARS {
        return message;
    }
    let head: String = message.chars().take(QUOTED_CHARS).collect();
    let tail: String = message.chars().skip(chars - QUOTED_CHARS).collect();
    format!(
        "{head}… ({} characters left out) …{tail}",
        chars - 2 * QUOTED_CHARS
    )
}

/// How much of a value a message quotes.
const QUOTED_CHARS: usize = 64;

/// A value as a message quotes it: its first `QUOTED_CHARS` characters, and its length when
/// it is longer.
pub(crate) fn quoted(text: &str) -> String {
    let chars = text.chars().count();
    if chars <= QUOTED_CHARS {
        return format!("{text:?}");
    }
    let head: String = text.chars().take(QUOTED_CHARS).collect();
    format!("{head:?}… ({chars} characters)")
}

/// serde_json appends " at line 1 column 57" to its messages; a type error is placed by its
/// field instead, and a syntax error by `not_json`.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

impl RawItem {
    fn validate(self, bounds: &Bounds) -> Result<Item, RecordError> {
        let item_id = required_text("item_id", self.item_id, MAX_ID_CHARS, None)?;
        let id = Some(item_id.as_str());
        let fail = |field: &str, problem: String| RecordError {
            field: field.to_owned(),
            problem,
            item_id: Some(item_id.clone()),
        };
        let status_text = required_text("status", self.status, MAX_TEXT_CHARS, id)?;
        let status = Status::parse(&status_text).ok_or_else(|| {
            fail(
                "status",
                format!(
                    "unknown status {}; expected pending, paused, finished or withdrawn",
                    quoted(&status_text)
                ),
            )
        })?;
        let stage = required("stage", self.stage, id)?;
        if !STAGES.contains(&stage) {
            return Err(fail("stage", format!("must be 1, 2, 3 or 4, got {stage}")));
        }
        let time = |field: &str, text: &str| time(field, text, bounds, id);
        let accepted_at = time(
            "accepted_at",
            &required("accepted_at", self.accepted_at, id)?,
        )?;
        let updated_at = time("updated_at", &required("updated_at", self.updated_at, id)?)?;
        let finished_at = self
            .finished_at
            .map(|t| time("finished_at", &t))
            .transpose()?;
        match (status, finished_at) {
            (Status::Finished, None) => {
                return Err(fail(
                    "finished_at",
                    "required when status is finished".into(),
                ));
            }
            (Status::Pending | Status::Paused, Some(_)) => {
                return Err(fail(
                    "finished_at",
                    format!(
                        "is set but status is {}; a running item has no finish time",
                        status.as_str()
                    ),
                ));
            }
            (_, Some(finished)) if finished < accepted_at => {
                return Err(fail(
                    "finished_at",
                    format!("{finished} is before accepted_at {accepted_at}"),
                ));
            }
            _ => {}
        }
        let raw_pauses = self.pauses.unwrap_or_default();
        if raw_pauses.len() > MAX_PAUSES {
            return Err(fail(
                "pauses",
                format!(
                    "pauses has {} entries; at most {MAX_PAUSES}",
                    raw_pauses.len()
                ),
            ));
        }
        let mut pauses = Vec::new();
        for (i, raw) in raw_pauses.into_iter().enumerate() {
            let field = |name: &str| format!("pauses[{i}].{name}");
            let kind_text = required_text(&field("kind"), raw.kind, MAX_TEXT_CHARS, id)?;
            let kind = PauseKind::parse(&kind_text).ok_or_else(|| {
                fail(
                    &field("kind"),
                    format!(
                        "unknown pause kind {}; expected correction, hearing, tender, auction, \
                         inspection, testing, quarantine, appraisal, expert_review or other",
                        quoted(&kind_text)
                    ),
                )
            })?;
            let from = time(&field("from"), &required(&field("from"), raw.from, id)?)?;
            let to = raw.to.map(|t| time(&field("to"), &t)).transpose()?;
            // A pause that began before acceptance (a 补正 requested at the window) is kept:
            // the clock only counts days after acceptance anyway.
            if let Some(to) = to
                && to < from
            {
                return Err(fail(
                    &field("to"),
                    format!("{to} is before the pause's start {from}"),
                ));
            }
            pauses.push(Pause { kind, from, to });
        }
        // A finished or withdrawn item whose feed never closed its last pause: the pause
        // ended when the item did.
        if let (Status::Finished | Status::Withdrawn, end) =
            (status, finished_at.unwrap_or(updated_at))
        {
            for pause in pauses.iter_mut().filter(|p| p.to.is_none()) {
                pause.to = Some(end.max(pause.from));
            }
        }
        let open = pauses.iter().filter(|p| p.to.is_none()).count();
        match (status, open) {
            (Status::Paused, 0) => {
                return Err(fail(
                    "pauses",
                    "status is paused but no pause is open (to = null)".into(),
                ));
            }
            (Status::Paused, 1) => {}
            (_, 0) => {}
            (Status::Paused, _) => {
                return Err(fail(
                    "pauses",
                    format!("{open} pauses are open; at most one can be"),
                ));
            }
            (other, _) => {
                return Err(fail(
                    "pauses",
                    format!(
                        "a pause is open (to = null) but status is {}; expected paused",
                        other.as_str()
                    ),
                ));
            }
        }
        let text =
            |field: &str, value: Option<String>| required_text(field, value, MAX_TEXT_CHARS, id);
        let days = |field: &str, value: Option<i64>| days(field, value, bounds, id);
        Ok(Item {
            project_code: required_text("project_code", self.project_code, MAX_ID_CHARS, id)?,
            project_name: text("project_name", self.project_name)?,
            project_category: text("project_category", self.project_category)?,
            matter: text("matter", self.matter)?,
            department: text("department", self.department)?,
            stage: stage as u8,
            status,
            accepted_at,
            limit_days: days("limit_days", self.limit_days)?,
            legal_days: days("legal_days", self.legal_days)?,
            extension_days: days("extension_days", self.extension_days.or(Some(0)))?,
            pauses,
            finished_at,
            updated_at,
            rating: match self.rating {
                // Systems write 0 for 未评价 (not rated): no rating, not a bad record.
                None | Some(0) => None,
                Some(r @ 1..=5) => Some(r as u8),
                Some(other) => {
                    return Err(fail(
                        "rating",
                        format!(
                            "{other} is not a rating; the applicants' rating is 1 to 5 (or absent)"
                        ),
                    ));
                }
            },
            item_id,
        })
    }
}

fn required<T>(field: &str, value: Option<T>, item_id: Option<&str>) -> Result<T, RecordError> {
    value.ok_or_else(|| RecordError {
        field: field.to_owned(),
        problem: format!("{field} is missing (or null); it is required"),
        item_id: item_id.map(str::to_owned),
    })
}

/// A text field: present, not blank, at most `max` characters, no NUL.
fn required_text(
    field: &str,
    value: Option<String>,
    max: usize,
    item_id: Option<&str>,
) -> Result<String, RecordError> {
    let text = required(field, value, item_id)?;
    let chars = text.chars().count();
    let problem = if text.trim().is_empty() {
        format!("{field} is empty")
    } else if chars > max {
        format!("{field} is {chars} characters long; at most {max}")
    } else if text.contains('\0') {
        // PostgreSQL cannot store a NUL character, and no name or code holds one.
        format!("{field} contains a NUL character (\\u0000)")
    } else {
        return Ok(text);
    };
    Err(RecordError {
        field: field.to_owned(),
        problem,
        item_id: item_id.map(str::to_owned),
    })
}

/// Limits are working days: whole, not negative, and at most the bounds' `max_days`.
fn days(
    field: &str,
    value: Option<i64>,
    bounds: &Bounds,
    item_id: Option<&str>,
) -> Result<u32, RecordError> {
    let value = required(field, value, item_id)?;
    let max = bounds.plausible.max_days;
    let problem = if value < 0 {
        format!("{field} must be a whole number of working days, 0 or more, got {value}")
    } else if value > i64::from(max) {
        format!(
            "{field} is {value} working days; at most {max} ([records] max_limit_days): \
             the feed sent a wrong number, or another unit"
        )
    } else {
        return Ok(value as u32);
    };
    Err(RecordError {
        field: field.to_owned(),
        problem,
        item_id: item_id.map(str::to_owned),
    })
}

/// An RFC 3339 time with an offset, within the bounds.
fn time(
    field: &str,
    text: &str,
    bounds: &Bounds,
    item_id: Option<&str>,
) -> Result<DateTime<FixedOffset>, RecordError> {
    let time = DateTime::parse_from_rfc3339(text).map_err(|_| RecordError {
        field: field.to_owned(),
        problem: format!(
            "{} is not an RFC 3339 time with an offset, like 2026-11-02T09:30:00+08:00",
            quoted(text)
        ),
        item_id: item_id.map(str::to_owned),
    })?;
    bounds.date(field, time, item_id)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The bounds of the default `[records]` for records read on 25 November 2026.
    pub(crate) fn bounds() -> Bounds {
        let now = DateTime::parse_from_rfc3339("2026-11-25T10:00:00+08:00").unwrap();
        Plausible::default().as_of(now.to_utc())
    }

    /// `parse_record` within those bounds.
    pub(crate) fn parse(json: &str) -> Result<Item, RecordError> {
        parse_record(json, &bounds())
    }

    pub(crate) const SAMPLE: &str = r#"{"item_id":"370102-2026-000123","project_code":"2611-370102-04-01-123456","project_name":"某某产业园一期","project_category":"general_social","matter":"建设工程规划许可证核发","department":"市自然资源和规划局","stage":2,"status":"paused","accepted_at":"2026-11-02T09:30:00+08:00","limit_days":5,"legal_days":20,"extension_days":0,"pauses":[{"kind":"expert_review","from":"2026-11-04T10:00:00+08:00","to":null}],"finished_at":null,"updated_at":"2026-11-04T10:00:00+08:00"}"#;

    fn with(field: &str, value: serde_json::Value) -> String {
        let mut v: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
        v[field] = value;
        v.to_string()
    }

    fn without(field: &str) -> String {
        let mut v: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
        v.as_object_mut().unwrap().remove(field);
        v.to_string()
    }

    #[test]
    fn the_design_sample_parses() {
        let item = parse(SAMPLE).unwrap();
        assert_eq!(item.item_id, "370102-2026-000123");
        assert_eq!(item.status, Status::Paused);
        assert_eq!(item.pauses[0].kind, PauseKind::ExpertReview);
        assert_eq!(item.allowed_days(), 5);
    }

    #[track_caller]
    fn field_of(json: &str) -> (String, String) {
        let err = parse(json).unwrap_err();
        (err.field, err.problem)
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(
            field_of(&with("department", "市自然资源\u{0}局".into())),
            (
                "department".to_owned(),
                "department contains a NUL character (\\u0000)".to_owned()
            )
        );
        assert_eq!(field_of(&without("accepted_at")).0, "accepted_at");
        assert_eq!(
            field_of(&with("accepted_at", "2026-11-02 09:30".into())).0,
            "accepted_at"
        );
        assert_eq!(field_of(&with("limit_days", (-1).into())).0, "limit_days");
        let err = parse(&with("limit_days", "5".into())).unwrap_err();
        assert_eq!(err.field, "limit_days");
        assert_eq!(
            err.item_id.as_deref(),
            Some("370102-2026-000123"),
            "the id survives a type error"
        );
        assert!(
            err.problem.contains("expected a whole number"),
            "{}",
            err.problem
        );
        assert_eq!(field_of(&with("stage", 5.into())).0, "stage");
        assert_eq!(field_of(&with("status", "办理中".into())).0, "status");
        assert_eq!(field_of(&with("item_id", "".into())).0, "item_id");
        let bad_pause = with(
            "pauses",
            serde_json::json!([{"kind": "expert_review", "from": "yesterday", "to": null}]),
        );
        assert_eq!(field_of(&bad_pause).0, "pauses[0].from");
        let wrong_type = with("pauses", serde_json::json!([{"kind": 3, "from": "x"}]));
        assert_eq!(field_of(&wrong_type).0, "pauses[0].kind");
    }

    #[test]
    fn inconsistent_records_are_refused() {
        let (field, problem) = field_of(&with("status", "pending".into()));
        assert_eq!(field, "pauses");
        assert!(problem.contains("open"), "{problem}");
        let (field, _) = field_of(&with("status", "finished".into()));
        assert_eq!(field, "finished_at");
        let backwards = with(
            "pauses",
            serde_json::json!([{"kind": "correction", "from": "2026-11-05T10:00:00+08:00", "to": "2026-11-04T10:00:00+08:00"}]),
        );
        assert_eq!(field_of(&backwards).0, "pauses[0].to");
    }

    #[test]
    fn lenient_where_the_clock_is_not_harmed() {
        let mut v: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
        v["status"] = "finished".into();
        v["finished_at"] = "2026-11-06T16:00:00+08:00".into();
        let item = parse(&v.to_string()).unwrap();
        assert_eq!(
            item.pauses[0].to, item.finished_at,
            "an open pause ends with the item"
        );

        v["pauses"][0]["from"] = "2026-11-01T16:00:00+08:00".into();
        assert!(
            parse(&v.to_string()).is_ok(),
            "a pause before acceptance is kept"
        );
    }

    #[test]
    fn broken_json_is_a_whole_record_error() {
        let err = parse("{\"item_id\": ").unwrap_err();
        assert_eq!(err.field, "");
        assert!(err.problem.starts_with("not valid JSON"), "{}", err.problem);
        let err = parse("[1,2]").unwrap_err();
        assert_eq!(err.field, "");
        let err = parse(&format!("{SAMPLE} trailing")).unwrap_err();
        assert!(err.problem.contains("trailing"), "{}", err.problem);
        assert!(
            parse(&format!("\u{feff}{SAMPLE}")).is_ok(),
            "a byte-order mark is skipped"
        );
        assert!(parse("  ").unwrap_err().problem.starts_with("empty line"));
    }

    #[test]
    fn texts_are_bounded_and_long_values_are_not_quoted_whole() {
        let (field, problem) = field_of(&with("department", "x".repeat(1 << 20).into()));
        assert_eq!(
            (field.as_str(), problem.as_str()),
            (
                "department",
                "department is 1048576 characters long; at most 200"
            )
        );
        // Characters, not bytes: 200 Chinese characters are 600 bytes, and fit.
        assert!(parse(&with("project_name", "局".repeat(200).into())).is_ok());
        assert_eq!(
            field_of(&with("project_name", "局".repeat(201).into())).1,
            "project_name is 201 characters long; at most 200"
        );
        assert_eq!(
            field_of(&with("item_id", "1".repeat(65).into())).1,
            "item_id is 65 characters long; at most 64"
        );
        assert_eq!(
            field_of(&with("project_code", "1".repeat(65).into())).0,
            "project_code"
        );
        assert_eq!(
            field_of(&with("item_id", "".into())),
            ("item_id".to_owned(), "item_id is empty".to_owned())
        );
        assert_eq!(
            field_of(&without("matter")).1,
            "matter is missing (or null); it is required"
        );
        // A wrong value of any length is quoted by its start and its length.
        let (field, problem) = field_of(&with("status", "办".repeat(150).into()));
        assert_eq!(field, "status");
        assert!(
            problem.starts_with(&format!(
                "unknown status \"{}\"… (150 characters);",
                "办".repeat(64)
            )),
            "{problem}"
        );
        let long_time = format!("2026-11-02T09:30:00+08:00{}", " ".repeat(10_000));
        let problem = field_of(&with("accepted_at", long_time.into())).1;
        assert!(problem.len() < 300, "{problem}");
        let problem = field_of(&with("limit_days", "x".repeat(10_000).into())).1;
        assert!(
            problem.len() < 300 && problem.contains("expected a whole number"),
            "{problem}"
        );
        let many = serde_json::json!(
            (0..101)
                .map(|_| serde_json::json!({"kind": "correction", "from": "2026-11-03T10:00:00+08:00", "to": "2026-11-03T11:00:00+08:00"}))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            field_of(&with("pauses", many)),
            (
                "pauses".to_owned(),
                "pauses has 101 entries; at most 100".to_owned()
            )
        );
    }

    #[test]
    fn implausible_dates_and_day_counts_are_refused_for_what_they_are() {
        let (field, problem) = field_of(&with("accepted_at", "1900-01-02T09:30:00+08:00".into()));
        assert_eq!(field, "accepted_at");
        assert_eq!(
            problem,
            "accepted_at 1900-01-02T09:30:00+08:00 is before 2000-01-01, the earliest date a \
             record may hold ([records] earliest): the feed sent a wrong date"
        );
        // Read on 25 November 2026, a year ahead is the latest.
        assert!(parse(&with("updated_at", "2027-11-25T23:00:00+08:00".into())).is_ok());
        let (field, problem) = field_of(&with("updated_at", "2027-11-26T09:00:00+08:00".into()));
        assert_eq!(field, "updated_at");
        assert_eq!(
            problem,
            "updated_at 2027-11-26T09:00:00+08:00 is more than 1 year after 2026-11-25, when \
             the record was read ([records] years_ahead): the feed sent a wrong date"
        );
        let far = with(
            "pauses",
            serde_json::json!([{"kind": "correction", "from": "2026-11-04T10:00:00+08:00", "to": "2999-01-01T00:00:00+08:00"}]),
        );
        assert_eq!(field_of(&far).0, "pauses[0].to");
        let (field, problem) = field_of(&with("limit_days", 100_000.into()));
        assert_eq!(field, "limit_days");
        assert!(
            problem.starts_with(
                "limit_days is 100000 working days; at most 365 ([records] max_limit_days)"
            ),
            "{problem}"
        );
        assert!(parse(&with("legal_days", 365.into())).is_ok());
        assert_eq!(field_of(&with("legal_days", 366.into())).0, "legal_days");
        assert_eq!(
            field_of(&with("extension_days", (-1).into())).1,
            "extension_days must be a whole number of working days, 0 or more, got -1"
        );
        // The bounds are the config's.
        let now = DateTime::parse_from_rfc3339("2026-11-25T10:00:00+08:00").unwrap();
        let strict = Plausible {
            earliest: NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
            years_ahead: 2,
            max_days: 4,
        }
        .as_of(now.to_utc());
        let err = parse_record(SAMPLE, &strict).unwrap_err();
        assert_eq!(err.field, "accepted_at", "{err}");
        let later = with("accepted_at", "2026-11-03T09:30:00+08:00".into());
        assert_eq!(
            parse_record(&later, &strict).unwrap_err().field,
            "limit_days"
        );
        let ahead = with("updated_at", "2028-11-24T09:00:00+08:00".into());
        assert!(
            parse_record(
                &ahead,
                &Plausible {
                    years_ahead: 2,
                    ..Plausible::default()
                }
                .as_of(now.to_utc())
            )
            .is_ok()
        );
    }

    #[test]
    fn a_lone_surrogate_is_named_and_placed() {
        let json = SAMPLE.replace("某某产业园一期", "\\ud800一期");
        let column = json.find("\\ud800").unwrap() + 7;
        let err = parse(&json).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.problem),
            (
                "",
                format!(
                    "not valid JSON: an invalid \\u escape (a lone surrogate: half of a UTF-16 \
                     pair) at column {column}"
                )
            )
        );
        // A trailing half alone, on the second line of a record.
        let json = SAMPLE.replace("\"department\":\"", "\n\"department\":\"\\udc00");
        let problem = parse(&json).unwrap_err().problem;
        assert!(
            problem.contains("lone surrogate") && problem.contains(" at line 2 column "),
            "{problem}"
        );
        // A pair is a character.
        let json = SAMPLE.replace("某某产业园一期", "\\ud83c\\udfd7");
        assert_eq!(parse(&json).unwrap().project_name, "\u{1f3d7}");
    }
}
