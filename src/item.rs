//! The canonical item record (DESIGN.md) that every feed is mapped to: parsing one JSON
//! object, and validating it into an `Item` whose every field is known to be usable. A bad
//! record yields a `RecordError` naming the field and the problem, so it can be quarantined
//! while the rest of the batch goes on.

use chrono::{DateTime, FixedOffset};
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

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pause {
    pub kind: PauseKind,
    pub from: DateTime<FixedOffset>,
    /// `None` while the pause is open.
    pub to: Option<DateTime<FixedOffset>>,
}

/// A validated item: every field present and consistent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
}

impl Item {
    /// `limit_days + extension_days`: what the item is graded against.
    pub fn allowed_days(&self) -> u32 {
        self.limit_days + self.extension_days
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
}

#[derive(Debug, Deserialize)]
struct RawPause {
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// Parses and validates one canonical JSON record.
pub fn parse_record(json: &str) -> Result<Item, RecordError> {
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
            Err(e) => format!("not valid JSON: {}", strip_position(&e.to_string())),
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
    raw.validate()
}

/// Validates a JSON object as it came from a canonical feed.
pub fn from_object(
    object: &serde_json::Map<String, serde_json::Value>,
) -> Result<Item, RecordError> {
    use serde::de::IntoDeserializer;
    match RawItem::deserialize(object.into_deserializer()) {
        Ok(raw) => raw.validate(),
        Err(_) => from_value(&serde_json::Value::Object(object.clone())),
    }
}

/// Validates a record that is already JSON (a feed's record after mapping).
pub fn from_value(value: &serde_json::Value) -> Result<Item, RecordError> {
    let item_id = value
        .get("item_id")
        .and_then(|id| id.as_str())
        .map(str::to_owned);
    if !value.is_object() {
        return Err(RecordError {
            field: String::new(),
            problem: "not a JSON object".into(),
            item_id,
        });
    }
    // Tracking the path costs time; only a record that fails is read again with it.
    if let Ok(raw) = RawItem::deserialize(value) {
        return raw.validate();
    }
    match serde_path_to_error::deserialize::<_, RawItem>(value) {
        Ok(raw) => raw.validate(),
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
        Ok(Err(e)) => (
            String::new(),
            format!("not valid JSON: {}", strip_position(&e.to_string())),
        ),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                (
                    String::new(),
                    format!("not valid JSON: {}", strip_position(&inner.to_string())),
                )
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
                .map(str::to_owned)
        });
    RecordError {
        field,
        problem,
        item_id,
    }
}

/// serde names Rust types ("expected i64"); say what the record should hold.
fn plain_types(message: &str) -> String {
    strip_position(message)
        .replace("expected i64", "expected a whole number")
        .replace("expected a sequence", "expected a list")
        .replace("expected struct RawPause", "expected a pause object")
        .replace("expected struct RawItem", "expected a record object")
}

/// serde_json appends " at line 1 column 57"; the caller reports its own line numbers.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

impl RawItem {
    fn validate(self) -> Result<Item, RecordError> {
        let item_id = required_text("item_id", self.item_id, None)?;
        let id = Some(item_id.as_str());
        let fail = |field: &str, problem: String| RecordError {
            field: field.to_owned(),
            problem,
            item_id: Some(item_id.clone()),
        };
        let status_text = required_text("status", self.status, id)?;
        let status = Status::parse(&status_text).ok_or_else(|| {
            fail(
                "status",
                format!("unknown status {status_text:?}; expected pending, paused, finished or withdrawn"),
            )
        })?;
        let stage = required("stage", self.stage, id)?;
        if !STAGES.contains(&stage) {
            return Err(fail("stage", format!("must be 1, 2, 3 or 4, got {stage}")));
        }
        let accepted_at = time(
            "accepted_at",
            &required("accepted_at", self.accepted_at, id)?,
            id,
        )?;
        let updated_at = time(
            "updated_at",
            &required("updated_at", self.updated_at, id)?,
            id,
        )?;
        let finished_at = self
            .finished_at
            .map(|t| time("finished_at", &t, id))
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
        let mut pauses = Vec::new();
        for (i, raw) in self.pauses.unwrap_or_default().into_iter().enumerate() {
            let field = |name: &str| format!("pauses[{i}].{name}");
            let kind_text = required_text(&field("kind"), raw.kind, id)?;
            let kind = PauseKind::parse(&kind_text).ok_or_else(|| {
                fail(
                    &field("kind"),
                    format!(
                        "unknown pause kind {kind_text:?}; expected correction, hearing, tender, \
                         auction, inspection, testing, quarantine, appraisal, expert_review or other"
                    ),
                )
            })?;
            let from = time(&field("from"), &required(&field("from"), raw.from, id)?, id)?;
            let to = raw.to.map(|t| time(&field("to"), &t, id)).transpose()?;
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
        Ok(Item {
            project_code: required_text("project_code", self.project_code, id)?,
            project_name: required_text("project_name", self.project_name, id)?,
            project_category: required_text("project_category", self.project_category, id)?,
            matter: required_text("matter", self.matter, id)?,
            department: required_text("department", self.department, id)?,
            stage: stage as u8,
            status,
            accepted_at,
            limit_days: days("limit_days", self.limit_days, id)?,
            legal_days: days("legal_days", self.legal_days, id)?,
            extension_days: days("extension_days", self.extension_days.or(Some(0)), id)?,
            pauses,
            finished_at,
            updated_at,
            item_id,
        })
    }
}

fn required<T>(field: &str, value: Option<T>, item_id: Option<&str>) -> Result<T, RecordError> {
    value.ok_or_else(|| RecordError {
        field: field.to_owned(),
        problem: "missing (or null); it is required".into(),
        item_id: item_id.map(str::to_owned),
    })
}

fn required_text(
    field: &str,
    value: Option<String>,
    item_id: Option<&str>,
) -> Result<String, RecordError> {
    let text = required(field, value, item_id)?;
    // PostgreSQL cannot store a NUL character, and no name or code holds one.
    let problem = if text.trim().is_empty() {
        "is empty"
    } else if text.contains('\0') {
        "contains a NUL character (\\u0000)"
    } else {
        return Ok(text);
    };
    Err(RecordError {
        field: field.to_owned(),
        problem: problem.into(),
        item_id: item_id.map(str::to_owned),
    })
}

/// Limits are working days, within `DAYS`.
fn days(field: &str, value: Option<i64>, item_id: Option<&str>) -> Result<u32, RecordError> {
    let value = required(field, value, item_id)?;
    if !DAYS.contains(&value) {
        return Err(RecordError {
            field: field.to_owned(),
            problem: format!(
                "must be a whole number of working days from 0 to 100000, got {value}"
            ),
            item_id: item_id.map(str::to_owned),
        });
    }
    Ok(value as u32)
}

fn time(
    field: &str,
    text: &str,
    item_id: Option<&str>,
) -> Result<DateTime<FixedOffset>, RecordError> {
    DateTime::parse_from_rfc3339(text).map_err(|_| RecordError {
        field: field.to_owned(),
        problem: format!(
            "{text:?} is not an RFC 3339 time with an offset, like 2026-11-02T09:30:00+08:00"
        ),
        item_id: item_id.map(str::to_owned),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

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
        let item = parse_record(SAMPLE).unwrap();
        assert_eq!(item.item_id, "370102-2026-000123");
        assert_eq!(item.status, Status::Paused);
        assert_eq!(item.pauses[0].kind, PauseKind::ExpertReview);
        assert_eq!(item.allowed_days(), 5);
    }

    #[track_caller]
    fn field_of(json: &str) -> (String, String) {
        let err = parse_record(json).unwrap_err();
        (err.field, err.problem)
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(
            field_of(&with("department", "市自然资源\u{0}局".into())),
            (
                "department".to_owned(),
                "contains a NUL character (\\u0000)".to_owned()
            )
        );
        assert_eq!(field_of(&without("accepted_at")).0, "accepted_at");
        assert_eq!(
            field_of(&with("accepted_at", "2026-11-02 09:30".into())).0,
            "accepted_at"
        );
        assert_eq!(field_of(&with("limit_days", (-1).into())).0, "limit_days");
        let err = parse_record(&with("limit_days", "5".into())).unwrap_err();
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
        let item = parse_record(&v.to_string()).unwrap();
        assert_eq!(
            item.pauses[0].to, item.finished_at,
            "an open pause ends with the item"
        );

        v["pauses"][0]["from"] = "2026-11-01T16:00:00+08:00".into();
        assert!(
            parse_record(&v.to_string()).is_ok(),
            "a pause before acceptance is kept"
        );
    }

    #[test]
    fn broken_json_is_a_whole_record_error() {
        let err = parse_record("{\"item_id\": ").unwrap_err();
        assert_eq!(err.field, "");
        assert!(err.problem.starts_with("not valid JSON"), "{}", err.problem);
        let err = parse_record("[1,2]").unwrap_err();
        assert_eq!(err.field, "");
        let err = parse_record(&format!("{SAMPLE} trailing")).unwrap_err();
        assert!(err.problem.contains("trailing"), "{}", err.problem);
        assert!(
            parse_record(&format!("\u{feff}{SAMPLE}")).is_ok(),
            "a byte-order mark is skipped"
        );
        assert!(
            parse_record("  ")
                .unwrap_err()
                .problem
                .starts_with("empty line")
        );
    }
}
