//! The ledger's pure part (电子台账, 全程留痕): the one grade event type, the causes of a
//! change, when a feed's change took effect, what changed between two versions of a record,
//! and which version of a record stood on a past day. The store keeps all of it in one
//! ordered log (`store::ledger`); the events themselves are worked out by the board
//! (`board::grade_events`), on the one path by which grades change. `table` lays a period's
//! projects out as the office prints them. No clock, no I/O.

pub mod table;
pub mod words;

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::calendar::{Calendar, CalendarError};
use crate::grading::{self, Grade, Grading, GradingPolicy};
use crate::item::Item;

/// What changed an item's grade or deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// A new or changed record from the named feed.
    Feed(Arc<str>),
    /// Time passing: a working day used up, a deadline passed.
    Clock,
    /// A holiday file added or corrected (next year's notice replacing its provisional
    /// arrangement).
    Calendar,
}

impl Cause {
    /// As the store and the API write it: `feed:<name>`, `clock`, `calendar`.
    pub fn as_text(&self) -> Cow<'static, str> {
        match self {
            Cause::Feed(name) => Cow::Owned(format!("feed:{name}")),
            Cause::Clock => Cow::Borrowed("clock"),
            Cause::Calendar => Cow::Borrowed("calendar"),
        }
    }
}

/// A change of an item's grade: from what (`None` for an item seen for the first time), to
/// what, the instant it took effect, why, and the record version it was worked out from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradeEvent {
    pub item_id: String,
    /// The item's record version (1 for its first record) the new grade was graded from.
    pub version: u32,
    /// When it took effect: a clock change at the midnight it happened, a feed change at the
    /// record's own `updated_at` (no later than when the record was seen).
    pub at: DateTime<Utc>,
    pub from: Option<Grade>,
    pub to: Grade,
    pub cause: Cause,
}

/// When a feed's change took effect: the record's `updated_at`, but never later than when
/// duban saw it (a source clock running fast must not date a change in the future).
pub fn took_effect(updated_at: DateTime<Utc>, seen: DateTime<Utc>) -> DateTime<Utc> {
    updated_at.min(seen)
}

/// One field that differs between two versions of a record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    /// `null` for the first version.
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// The fields of `after` (a record as JSON, as the ledger keeps it) that differ from
/// `before`, in `after`'s order; every field for a first version. Times are compared as
/// instants, so the same moment written in another offset is no change.
pub fn differences(
    before: Option<&serde_json::Value>,
    after: &serde_json::Value,
) -> Vec<FieldChange> {
    let empty = serde_json::Map::new();
    let old = before.and_then(|b| b.as_object()).unwrap_or(&empty);
    let Some(new) = after.as_object() else {
        return Vec::new();
    };
    new.iter()
        .filter(|(field, value)| {
            before.is_none() || !old.get(*field).is_some_and(|o| same_value(o, value))
        })
        .map(|(field, value)| FieldChange {
            field: field.clone(),
            before: old.get(field).cloned().unwrap_or(serde_json::Value::Null),
            after: value.clone(),
        })
        .collect()
}

fn same_value(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::String(x), Value::String(y)) => match (
            DateTime::parse_from_rfc3339(x),
            DateTime::parse_from_rfc3339(y),
        ) {
            (Ok(x), Ok(y)) => x == y,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

/// The end of `day` in `tz` (its next midnight): a version took effect on or before the
/// day when it took effect before this instant.
pub fn end_of_day(day: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    grading::start_of_day(day.succ_opt()?, tz).map(|t| t.with_timezone(&Utc))
}

/// Of an item's versions (each with the instant it took effect), the one that stood at the
/// end of `day`: the latest to take effect before the next midnight; on a tie, the later
/// version. `None` when the item had no record yet.
pub fn standing_on<T>(
    versions: impl IntoIterator<Item = (u32, DateTime<Utc>, T)>,
    day: NaiveDate,
    tz: Tz,
) -> Option<T> {
    let end = end_of_day(day, tz)?;
    versions
        .into_iter()
        .filter(|(_, at, _)| *at < end)
        .max_by_key(|(version, at, _)| (*at, *version))
        .map(|(_, _, record)| record)
}

/// The record version that stood at the end of `day`, graded as of that day: what an
/// item's figures were then, whatever was granted since. `None` when it had no record yet;
/// an error when the day's year is not in the calendar.
pub fn graded_as_of<'a>(
    versions: impl IntoIterator<Item = (u32, DateTime<Utc>, &'a Item)>,
    day: NaiveDate,
    calendar: &Calendar,
    policy: &GradingPolicy,
    tz: Tz,
) -> Option<Result<(u32, &'a Item, Grading), CalendarError>> {
    let (version, item) = standing_on(
        versions.into_iter().map(|(v, at, item)| (v, at, (v, item))),
        day,
        tz,
    )?;
    let thresholds = policy.thresholds_for(&item.matter, &item.department);
    let clock = grading::ClockInput::from_item(item, tz);
    Some(grading::grade(&clock, &thresholds, calendar, day).map(|g| (version, item, g)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_feed_change_is_dated_at_its_record_but_never_after_it_was_seen() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let seen = at("2026-11-02T10:00:00+08:00");
        assert_eq!(
            took_effect(at("2026-10-31T16:00:00+08:00"), seen),
            at("2026-10-31T16:00:00+08:00")
        );
        assert_eq!(took_effect(at("2026-11-03T09:00:00+08:00"), seen), seen);
    }

    #[test]
    fn differences_name_each_changed_field_and_ignore_another_offset() {
        let v1 = json!({"item_id": "A", "extension_days": 0, "updated_at": "2026-10-30T09:00:00+08:00",
                        "pauses": []});
        let v2 = json!({"item_id": "A", "extension_days": 5, "updated_at": "2026-10-30T01:00:00Z",
                        "pauses": [{"kind": "expert_review", "from": "2026-10-29T09:00:00+08:00", "to": null}]});
        let changed: Vec<(String, serde_json::Value, serde_json::Value)> =
            differences(Some(&v1), &v2)
                .into_iter()
                .map(|c| (c.field, c.before, c.after))
                .collect();
        assert_eq!(
            changed,
            [
                ("extension_days".to_owned(), json!(0), json!(5)),
                ("pauses".to_owned(), json!([]), v2["pauses"].clone()),
            ]
        );
        assert_eq!(
            differences(None, &v1).len(),
            4,
            "a first version: every field"
        );
    }

    #[test]
    fn the_version_standing_on_a_day_is_the_last_to_take_effect_before_its_end() {
        let tz = chrono_tz::Asia::Shanghai;
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let (v1, v2, v3) = ("v1", "v2", "v3");
        let versions = [
            (1, at("2026-10-20T09:00:00+08:00"), &v1),
            (2, at("2026-10-31T23:59:59+08:00"), &v2),
            (3, at("2026-11-01T00:00:00+08:00"), &v3),
        ];
        let day = |d| NaiveDate::from_ymd_opt(2026, 10, d).unwrap();
        assert_eq!(standing_on(versions, day(19), tz), None);
        assert_eq!(standing_on(versions, day(20), tz), Some(&v1));
        assert_eq!(standing_on(versions, day(30), tz), Some(&v1));
        assert_eq!(standing_on(versions, day(31), tz), Some(&v2));
        assert_eq!(
            standing_on(versions, NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), tz),
            Some(&v3)
        );
    }
}
