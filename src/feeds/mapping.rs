//! Mapping one source record onto the canonical item record: renamed fields (办件编号 →
//! item_id), value words (已办结 → finished), numbers sent as text, local times without an
//! offset ("2026-11-02 09:30:00" in the feed's zone), pauses as a list of objects or as
//! flat columns. The result goes through the one validation every feed shares
//! (`item::from_value`), so a bad record is refused with its field and reason.

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use serde_json::{Map, Value};

use super::spec::Mapping;
use crate::item::{self, Bounds, Item, RecordError};

/// How a source value of a canonical field is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Text as sent; a number (an SQL integer key) becomes its text.
    Text,
    /// A whole number, also when sent as text ("5", "5.0").
    Number,
    /// RFC 3339, or a local time in the feed's `time_format` and zone.
    Time,
    /// A list of pause objects, or one pause in flat columns (`pause_fields`).
    Pauses,
}

/// The canonical record's fields, in the order ARCHITECTURE.md lists them.
pub const FIELDS: [(&str, FieldKind); 16] = [
    ("item_id", FieldKind::Text),
    ("project_code", FieldKind::Text),
    ("project_name", FieldKind::Text),
    ("project_category", FieldKind::Text),
    ("matter", FieldKind::Text),
    ("department", FieldKind::Text),
    ("stage", FieldKind::Number),
    ("status", FieldKind::Text),
    ("accepted_at", FieldKind::Time),
    ("limit_days", FieldKind::Number),
    ("legal_days", FieldKind::Number),
    ("extension_days", FieldKind::Number),
    ("pauses", FieldKind::Pauses),
    ("finished_at", FieldKind::Time),
    ("updated_at", FieldKind::Time),
    ("rating", FieldKind::Number),
];

/// The fields of a pause object.
pub const PAUSE_FIELDS: [&str; 3] = ["kind", "from", "to"];

/// How `field` of the canonical record is read; `None` when the record has no such field.
pub fn kind_of(field: &str) -> Option<FieldKind> {
    FIELDS.iter().find(|(f, _)| *f == field).map(|(_, k)| *k)
}

/// A local time in `format`; a format without a time of day gives midnight.
pub fn read_local(text: &str, format: &str) -> Result<NaiveDateTime, chrono::ParseError> {
    NaiveDateTime::parse_from_str(text, format).or_else(|_| {
        NaiveDate::parse_from_str(text, format).map(|d| d.and_time(chrono::NaiveTime::MIN))
    })
}

impl Mapping {
    /// The source name of a canonical field.
    pub fn source_name<'a>(&'a self, canonical: &'a str) -> &'a str {
        self.fields.get(canonical).map_or(canonical, String::as_str)
    }

    /// Maps and validates one record.
    pub fn to_item(
        &self,
        source: &Map<String, Value>,
        bounds: &Bounds,
    ) -> Result<Item, RecordError> {
        if self.is_identity()
            && let Ok(item) = item::from_object(source, bounds)
        {
            // A canonical feed: nothing to rename or convert.
            return Ok(item);
        }
        let canonical = self.to_canonical(source)?;
        item::from_value(&canonical, bounds)
    }

    /// Maps and validates one record as the source sent it, which may not be an object.
    pub fn record_to_item(&self, record: &Value, bounds: &Bounds) -> Result<Item, RecordError> {
        match record {
            Value::Object(object) => self.to_item(object, bounds),
            _ => Err(RecordError {
                field: String::new(),
                problem: "not a JSON object".into(),
                item_id: None,
            }),
        }
    }

    /// Whether the feed sends canonical records: nothing to rename or convert.
    pub fn is_identity(&self) -> bool {
        self.fields.is_empty()
            && self.values.is_empty()
            && self.pause_fields.is_empty()
            && self.time_format.is_none()
    }

    /// The canonical JSON object for `source`, before validation.
    pub fn to_canonical(&self, source: &Map<String, Value>) -> Result<Value, RecordError> {
        let id = source
            .get(self.source_name("item_id"))
            .and_then(text)
            .and_then(item::usable_id);
        let fail = |field: &str, problem: String| RecordError {
            field: field.to_owned(),
            problem,
            item_id: id.clone(),
        };
        let mut out = Map::new();
        for (field, kind) in FIELDS {
            if kind == FieldKind::Pauses {
                continue;
            }
            let name = self.source_name(field);
            // An empty cell is no value (no finish time, no extension), but an empty text
            // stays empty: validation says so, where "missing" would send the operator
            // looking for a column that is there.
            let value = match source.get(name) {
                None | Some(Value::Null) => Value::Null,
                Some(Value::String(s)) if s.trim().is_empty() && kind != FieldKind::Text => {
                    Value::Null
                }
                Some(value) => self.map_value(field, value.clone()),
            };
            let value = match (kind, value) {
                (FieldKind::Number, value) => number(value),
                // An integer key from an SQL table is an id like any other.
                (FieldKind::Text, Value::Number(n)) => Value::String(n.to_string()),
                (FieldKind::Time, value) => self
                    .time(value)
                    .map_err(|problem| fail(field, format!("{name}: {problem}")))?,
                (_, value) => value,
            };
            out.insert(field.to_owned(), value);
        }
        out.insert(
            "pauses".into(),
            self.pauses(source).map_err(|(f, p)| fail(&f, p))?,
        );
        Ok(Value::Object(out))
    }

    fn map_value(&self, field: &str, value: Value) -> Value {
        match (self.values.get(field), &value) {
            (Some(words), Value::String(s)) => words
                .get(s.trim())
                .map_or(value, |mapped| Value::String(mapped.clone())),
            _ => value,
        }
    }

    /// A time as RFC 3339 text: passed through when the feed sends RFC 3339, otherwise read
    /// with the feed's format (a date alone means midnight) in the feed's zone.
    pub(super) fn time(&self, value: Value) -> Result<Value, String> {
        let (Some(format), Value::String(text)) = (&self.time_format, &value) else {
            return Ok(value);
        };
        let text = text.trim();
        let local = read_local(text, format).map_err(|_| {
            format!(
                "{} does not match the time format {format:?}",
                item::quoted(text)
            )
        })?;
        let zoned = self
            .timezone
            .from_local_datetime(&local)
            .earliest()
            .ok_or_else(|| format!("{} does not exist in {}", item::quoted(text), self.timezone))?;
        Ok(Value::String(zoned.fixed_offset().to_rfc3339()))
    }

    /// Pauses: a list of objects under the `pauses` field, or one pause in flat columns
    /// named by `pause_fields` (CSV exports have no lists).
    fn pauses(&self, source: &Map<String, Value>) -> Result<Value, (String, String)> {
        let field = |key: &str| {
            self.pause_fields
                .get(key)
                .map_or(key, String::as_str)
                .to_owned()
        };
        let one = |object: &Map<String, Value>, i: usize| -> Result<Value, (String, String)> {
            let mut pause = Map::new();
            for key in PAUSE_FIELDS {
                let value = match object.get(&field(key)) {
                    None | Some(Value::Null) => Value::Null,
                    Some(Value::String(s)) if s.trim().is_empty() => Value::Null,
                    Some(v) => v.clone(),
                };
                let value = match key {
                    "kind" => self.map_value("pause_kind", value),
                    _ => self
                        .time(value)
                        .map_err(|p| (format!("pauses[{i}].{key}"), p))?,
                };
                pause.insert(key.to_owned(), value);
            }
            Ok(Value::Object(pause))
        };
        match source.get(self.source_name("pauses")) {
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, p)| match p {
                    Value::Object(object) => one(object, i),
                    _ => Err((format!("pauses[{i}]"), "expected a pause object".to_owned())),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Some(Value::Null) | None => {
                let flat_from = source
                    .get(&field("from"))
                    .is_some_and(|v| text(v).is_some_and(|t| !t.trim().is_empty()));
                if !self.pause_fields.is_empty() && flat_from {
                    Ok(Value::Array(vec![one(source, 0)?]))
                } else {
                    Ok(Value::Array(Vec::new()))
                }
            }
            Some(_) => Err(("pauses".into(), "expected a list of pauses".into())),
        }
    }
}

fn text(value: &Value) -> Option<&str> {
    value.as_str()
}

/// CSV cells and some feeds send numbers as text; "5" and "5.0" are 5.
pub(super) fn number(value: Value) -> Value {
    match &value {
        Value::String(s) => {
            let s = s.trim();
            if let Ok(n) = s.parse::<i64>() {
                Value::from(n)
            } else if let Some(n) = s
                .parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e9)
            {
                Value::from(n as i64)
            } else {
                value
            }
        }
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chinese() -> Mapping {
        let fields = [
            ("item_id", "办件编号"),
            ("project_code", "项目代码"),
            ("project_name", "项目名称"),
            ("project_category", "项目类别"),
            ("matter", "事项名称"),
            ("department", "办理部门"),
            ("stage", "审批阶段"),
            ("status", "办件状态"),
            ("accepted_at", "受理时间"),
            ("limit_days", "承诺时限"),
            ("legal_days", "法定时限"),
            ("extension_days", "延期天数"),
            ("pauses", "暂停记录"),
            ("finished_at", "办结时间"),
            ("updated_at", "更新时间"),
        ];
        let mut values = std::collections::BTreeMap::new();
        values.insert(
            "status".to_owned(),
            [
                ("办理中", "pending"),
                ("已办结", "finished"),
                ("暂停中", "paused"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect(),
        );
        values.insert(
            "pause_kind".to_owned(),
            [("补正", "correction"), ("专家评审", "expert_review")]
                .into_iter()
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect(),
        );
        Mapping {
            fields: fields
                .into_iter()
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect(),
            pause_fields: [("kind", "类型"), ("from", "开始时间"), ("to", "结束时间")]
                .into_iter()
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect(),
            values,
            time_format: Some("%Y-%m-%d %H:%M:%S".into()),
            timezone: chrono_tz::Asia::Shanghai,
        }
    }

    fn record(json: Value) -> Map<String, Value> {
        json.as_object().unwrap().clone()
    }

    #[test]
    fn chinese_names_words_and_local_times_map() {
        let source = record(serde_json::json!({
            "办件编号": "CN-1", "项目代码": "2611-370102-04-01-123456", "项目名称": "某某产业园一期",
            "项目类别": "general_social", "事项名称": "建设工程规划许可证核发", "办理部门": "市自然资源和规划局",
            "审批阶段": "2", "办件状态": "暂停中", "受理时间": "2026-11-02 09:30:00", "承诺时限": "5",
            "法定时限": 20, "延期天数": "", "办结时间": "",
            "暂停记录": [{"类型": "专家评审", "开始时间": "2026-11-04 10:00:00", "结束时间": null}],
            "更新时间": "2026-11-04 10:00:00"
        }));
        let item = chinese()
            .to_item(&source, &crate::item::tests::bounds())
            .unwrap();
        assert_eq!(item.item_id, "CN-1");
        assert_eq!(item.status, crate::item::Status::Paused);
        assert_eq!(item.accepted_at.to_rfc3339(), "2026-11-02T09:30:00+08:00");
        assert_eq!(
            (item.stage, item.limit_days, item.extension_days),
            (2, 5, 0)
        );
        assert_eq!(item.pauses[0].kind, crate::item::PauseKind::ExpertReview);
    }

    #[test]
    fn a_bad_time_names_the_canonical_and_the_source_field() {
        let source = record(serde_json::json!({"办件编号": "CN-2", "受理时间": "2026/11/02"}));
        let err = chinese()
            .to_item(&source, &crate::item::tests::bounds())
            .unwrap_err();
        assert_eq!(err.field, "accepted_at");
        assert!(err.problem.starts_with("受理时间: "), "{}", err.problem);
        assert_eq!(err.item_id.as_deref(), Some("CN-2"));
    }

    #[test]
    fn an_empty_text_cell_is_empty_not_missing() {
        let source =
            record(serde_json::json!({"办件编号": " ", "受理时间": "2026-11-02 09:30:00"}));
        let err = chinese()
            .to_item(&source, &crate::item::tests::bounds())
            .unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.problem.as_str(), err.item_id),
            ("item_id", "item_id is empty", None)
        );
        // An empty time is no time: a running item has no finish time.
        let canonical = chinese()
            .to_canonical(&record(serde_json::json!({"办结时间": ""})))
            .unwrap();
        assert_eq!(canonical["finished_at"], Value::Null);
    }

    #[test]
    fn flat_pause_columns_make_one_pause() {
        let mut mapping = chinese();
        mapping.fields.remove("pauses");
        mapping.fields.insert("pauses".into(), "无此列".into());
        let source = record(serde_json::json!({
            "办件编号": "CN-3", "类型": "补正", "开始时间": "2026-11-04 10:00:00", "结束时间": "2026-11-05 10:00:00"
        }));
        let canonical = mapping.to_canonical(&source).unwrap();
        assert_eq!(canonical["pauses"][0]["kind"], "correction");
        assert_eq!(canonical["pauses"][0]["to"], "2026-11-05T10:00:00+08:00");
    }
}
