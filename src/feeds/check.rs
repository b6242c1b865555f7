//! The checks a feed's mapping passes when the config is loaded, against the canonical record
//! it produces: fields only onto fields the record has, pause fields only onto a pause's,
//! value words only onto values the record accepts (a status, a pause kind, a stage, a number
//! of days, a time, a non-empty text), and a time format that chrono can write and read back.
//! A mistake here would pass start-up and quarantine every record it touches; found here, it
//! stops `serve`, `demo` and `check-config` at its line. Each check says what to write
//! instead; `spec` adds the file, the line and the key.

use std::fmt::Write as _;

use chrono::format::{Item as FormatItem, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use serde_json::Value;

use super::mapping::{self, FIELDS, FieldKind, PAUSE_FIELDS};
use super::spec::Mapping;
use crate::item::{self, PauseKind, Status};

/// The key of `values` that holds the words of a pause's kind (pauses are lists, not words).
const PAUSE_KIND: &str = "pause_kind";

/// "a, b or c".
fn one_of<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    let words: Vec<&str> = words.into_iter().collect();
    match words.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// A key of `fields`: a field of the canonical record.
pub fn field(name: &str) -> Result<(), String> {
    if mapping::kind_of(name).is_some() {
        return Ok(());
    }
    if name == PAUSE_KIND {
        return Err(
            "pause_kind is not a field of the record: name a pause's source fields in \
             [feeds.pause_fields] (kind = \"类型\", from = …, to = …) and map its words in \
             [feeds.values.pause_kind]"
                .into(),
        );
    }
    Err(format!(
        "{name:?} is not a field of the canonical record; write one of {}",
        one_of(FIELDS.iter().map(|(f, _)| *f))
    ))
}

/// A key of `pause_fields`: a field of a pause object.
pub fn pause_field(name: &str) -> Result<(), String> {
    if PAUSE_FIELDS.contains(&name) {
        return Ok(());
    }
    Err(format!(
        "{name:?} is not a field of a pause; pause_fields names the source fields of {}",
        one_of(PAUSE_FIELDS)
    ))
}

/// A source name in `fields` or `pause_fields`.
pub fn source_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err(
            "an empty name matches no source field; write the source's name of the \
                    field, or leave the line out to read the field under its canonical name"
                .into(),
        );
    }
    Ok(())
}

/// A key of `values`: a field whose words can be mapped (every field but `pauses`), or
/// `pause_kind`.
pub fn values_field(name: &str) -> Result<(), String> {
    match mapping::kind_of(name) {
        Some(FieldKind::Pauses) => Err(
            "pauses is a list, not a word; map the words of a pause's kind in \
             [feeds.values.pause_kind]"
                .into(),
        ),
        Some(_) => Ok(()),
        None if name == PAUSE_KIND => Ok(()),
        None => Err(format!(
            "{name:?} is not a field of the canonical record; words can be mapped for {}",
            one_of(
                FIELDS
                    .iter()
                    .filter(|(_, kind)| *kind != FieldKind::Pauses)
                    .map(|(f, _)| *f)
                    .chain([PAUSE_KIND])
            )
        )),
    }
}

/// A source word in `values`: the mapping looks a value up without the spaces around it,
/// and reads an empty value as missing, so a word with spaces, or none, would never match.
pub fn source_word(word: &str) -> Result<(), String> {
    if word.trim().is_empty() {
        return Err(
            "an empty source value is read as missing and never mapped; \
                    leave the line out"
                .into(),
        );
    }
    if word.trim() != word {
        return Err(format!(
            "{word:?} never matches: source values are looked up without the spaces around \
             them; write {:?}",
            word.trim()
        ));
    }
    Ok(())
}

/// The canonical word that a source word of `field` (a key `values_field` accepts) is mapped
/// onto, checked as the record's validation will check it.
pub fn value(mapping: &Mapping, field: &str, word: &str) -> Result<(), String> {
    if field == PAUSE_KIND {
        return match PauseKind::parse(word) {
            Some(_) => Ok(()),
            None => Err(format!(
                "{word:?} is not a pause kind; write one of {}",
                one_of(PauseKind::ALL.map(PauseKind::as_str))
            )),
        };
    }
    match (field, mapping::kind_of(field)) {
        ("status", _) => match Status::parse(word) {
            Some(_) => Ok(()),
            None => Err(format!(
                "{word:?} is not a status; write one of {}",
                one_of(Status::ALL.map(Status::as_str))
            )),
        },
        ("stage", _) => whole(word, item::STAGES, "a stage number"),
        (_, Some(FieldKind::Number)) => whole(word, item::DAYS, "a number of working days"),
        (_, Some(FieldKind::Time)) => time(mapping, word),
        _ if word.trim().is_empty() || word.contains('\0') => Err(format!(
            "{word:?} would leave {field} empty, and a record without one is quarantined; \
             write the {field} the source word stands for"
        )),
        _ => Ok(()),
    }
}

/// A word onto a number field: a whole number in `range`, as the mapping reads numbers.
fn whole(word: &str, range: std::ops::RangeInclusive<i64>, what: &str) -> Result<(), String> {
    match mapping::number(Value::String(word.to_owned())).as_i64() {
        Some(n) if range.contains(&n) => Ok(()),
        _ => Err(format!(
            "{word:?} is not {what}; write a whole number from {} to {}",
            range.start(),
            range.end()
        )),
    }
}

/// A word onto a time field: a time the feed's mapping reads into RFC 3339.
fn time(mapping: &Mapping, word: &str) -> Result<(), String> {
    let read = mapping.time(Value::String(word.to_owned())).ok();
    if read
        .as_ref()
        .and_then(Value::as_str)
        .is_some_and(|t| DateTime::parse_from_rfc3339(t).is_ok())
    {
        return Ok(());
    }
    Err(match &mapping.time_format {
        // The format was checked before the words (`time_format`): it writes the sample.
        Some(format) => format!(
            "{word:?} is not a time in the feed's time_format {format:?}; write one like {:?}",
            write_local(SAMPLE, format).unwrap_or_default()
        ),
        None => format!(
            "{word:?} is not an RFC 3339 time; write one like \"2026-11-02T09:30:00+08:00\" \
             (or set the feed's time_format to read local times)"
        ),
    })
}

/// The instant a time format is tried on: every part differs from the others (the day from
/// the month, the hour past noon from the minute and the second), so that a format that
/// drops or confuses one does not read it back.
const SAMPLE: NaiveDateTime = match (
    NaiveDate::from_ymd_opt(2026, 11, 2),
    NaiveTime::from_hms_opt(21, 7, 9),
) {
    (Some(date), Some(time)) => NaiveDateTime::new(date, time),
    _ => panic!("the sample instant exists"),
};

const FORMAT_EXAMPLE: &str = "write e.g. \"%Y-%m-%d %H:%M:%S\" for 2026-11-02 21:07:09, \
     \"%Y年%m月%d日 %H:%M\", or \"rfc3339\" (the default) for times with an offset";

/// A `time_format`: chrono knows every specifier in it, and a local time it writes reads back
/// as the same date and time (a format without a time of day reads as midnight).
pub fn time_format(format: &str) -> Result<(), String> {
    if let Some(specifier) = unknown_specifier(format) {
        return Err(format!(
            "{format:?} is not a chrono time format: chrono has no specifier {specifier:?} \
             (see https://docs.rs/chrono/latest/chrono/format/strftime/); {FORMAT_EXAMPLE}"
        ));
    }
    // Writing a local time fails only on what it does not have: an offset or a zone name.
    let Some(written) = write_local(SAMPLE, format) else {
        return Err(format!(
            "{format:?} has an offset or a zone (%z, %Z, %+), but time_format reads local times \
             in the feed's timezone; for times with an offset leave time_format out (RFC 3339), \
             otherwise take the offset out and set the feed's timezone"
        ));
    };
    let read = mapping::read_local(&written, format).map_err(|e| {
        format!(
            "{format:?} writes 2026-11-02 21:07:09 as {written:?} and cannot read that back \
             ({e}): a time format holds the year, month and day, and the hour and minute if \
             the times have them; {FORMAT_EXAMPLE}"
        )
    })?;
    if write_local(read, format).as_ref() != Some(&written) {
        return Err(format!(
            "{format:?} writes 2026-11-02 21:07:09 as {written:?}, which reads back as {read}: \
             part of the time is lost (an hour needs its minutes, %I needs %p); {FORMAT_EXAMPLE}"
        ));
    }
    Ok(())
}

/// `time` written in `format`; `None` when the format needs what a local time does not have.
fn write_local(time: NaiveDateTime, format: &str) -> Option<String> {
    let mut text = String::new();
    write!(text, "{}", time.format(format)).ok().map(|()| text)
}

/// The first `%` specifier in `format` that chrono does not know, as written ("%Q", "%-Q").
fn unknown_specifier(format: &str) -> Option<&str> {
    if !StrftimeItems::new(format).any(|item| item == FormatItem::Error) {
        return None;
    }
    // Each specifier alone, with the text up to the next one: the first that fails is it.
    let mut starts = Vec::new();
    let mut chars = format.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '%' {
            if chars.peek().is_some_and(|(_, next)| *next == '%') {
                chars.next();
            } else {
                starts.push(i);
            }
        }
    }
    starts.iter().enumerate().find_map(|(n, &start)| {
        let end = starts.get(n + 1).copied().unwrap_or(format.len());
        let piece = &format[start..end];
        StrftimeItems::new(piece)
            .any(|item| item == FormatItem::Error)
            .then(|| {
                // The specifier: its modifiers (padding, width, colons, a dot) and one letter.
                let length = piece[1..]
                    .char_indices()
                    .find(|(_, c)| !matches!(c, '-' | '_' | '0'..='9' | '.' | ':' | '#'))
                    .map_or(piece.len(), |(i, c)| 1 + i + c.len_utf8());
                &piece[..length]
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(format: Option<&str>) -> Mapping {
        Mapping {
            time_format: format.map(str::to_owned),
            timezone: chrono_tz::Asia::Shanghai,
            ..Mapping::default()
        }
    }

    #[test]
    fn time_formats_that_read_back_pass() {
        for format in [
            "%Y-%m-%d %H:%M:%S",
            "%Y/%m/%d %H:%M",
            "%Y年%m月%d日 %H时%M分",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%d.%m.%Y %I:%M:%S %p",
            "%Y%m%d%H%M%S",
            "%s",
            // A date alone reads as midnight, as the mapping documents.
            "%Y-%m-%d",
            "%Y-%m-%d 100%% %H:%M",
        ] {
            assert_eq!(time_format(format), Ok(()), "{format}");
        }
    }

    #[test]
    fn time_formats_that_cannot_be_used_say_why() {
        let refused = |format: &str| time_format(format).unwrap_err();
        let e = refused("%Y-%m-%d %Q:%M");
        assert!(
            e.contains("not a chrono time format") && e.contains("\"%Q\""),
            "{e}"
        );
        assert!(refused("%Y-%m-%d %-Q").contains("\"%-Q\""));
        assert!(refused("%Y-%m-%d %").contains("\"%\""));
        let e = refused("%Y-%m-%d %H:%M:%S %z");
        assert!(e.contains("offset") && e.contains("timezone"), "{e}");
        assert!(refused("%+").contains("offset"));
        for no_date in ["%H:%M:%S", "%m-%d %H:%M", "", "yyyy-MM-dd HH:mm:ss"] {
            assert!(
                refused(no_date).contains("cannot read that back"),
                "{no_date}: {}",
                refused(no_date)
            );
        }
        // The hour without its minutes, and a 12-hour clock without am/pm, lose the time.
        for lossy in ["%Y-%m-%d %H", "%Y-%m-%d %I:%M:%S"] {
            assert!(
                refused(lossy).contains("part of the time is lost"),
                "{lossy}"
            );
        }
        assert!(refused("%Y-%m-%d %H").contains("\"2026-11-02 21\""));
    }

    #[test]
    fn value_words_only_onto_what_the_record_accepts() {
        let mapping = local(Some("%Y-%m-%d %H:%M:%S"));
        let ok = |field: &str, word: &str| value(&mapping, field, word);
        assert_eq!(ok("status", "withdrawn"), Ok(()));
        let e = ok("status", "cancelled").unwrap_err();
        assert!(
            e.contains("\"cancelled\" is not a status")
                && e.contains("pending, paused, finished or withdrawn"),
            "{e}"
        );
        assert!(ok("status", "Finished").is_err(), "words are exact");
        assert_eq!(ok("pause_kind", "expert_review"), Ok(()));
        let e = ok("pause_kind", "expert review").unwrap_err();
        assert!(
            e.contains("correction, hearing") && e.contains("expert_review or other"),
            "{e}"
        );
        assert_eq!(ok("stage", "4"), Ok(()));
        assert!(ok("stage", "5").unwrap_err().contains("from 1 to 4"));
        assert_eq!(ok("limit_days", "20"), Ok(()));
        assert_eq!(ok("extension_days", "0"), Ok(()));
        assert!(ok("legal_days", "-1").unwrap_err().contains("0 to 100000"));
        assert!(ok("limit_days", "twenty").is_err());
        assert_eq!(ok("finished_at", "2026-11-02 09:30:00"), Ok(()));
        let e = ok("finished_at", "2026-11-02T09:30:00+08:00").unwrap_err();
        assert!(e.contains("\"2026-11-02 21:07:09\""), "{e}");
        let rfc3339 = local(None);
        assert_eq!(
            value(&rfc3339, "updated_at", "2026-11-02T09:30:00+08:00"),
            Ok(())
        );
        assert!(
            value(&rfc3339, "updated_at", "2026-11-02 09:30:00")
                .unwrap_err()
                .contains("RFC 3339")
        );
        assert_eq!(ok("department", "市自然资源和规划局"), Ok(()));
        assert!(ok("department", " ").unwrap_err().contains("empty"));
    }

    #[test]
    fn keys_only_onto_fields_the_record_has() {
        assert_eq!(field("accepted_at"), Ok(()));
        assert_eq!(field("pauses"), Ok(()));
        let e = field("accept_time").unwrap_err();
        assert!(
            e.contains("\"accept_time\" is not a field")
                && e.contains("item_id, project_code")
                && e.contains("updated_at or rating"),
            "{e}"
        );
        assert!(field("pause_kind").unwrap_err().contains("pause_fields"));
        assert_eq!(pause_field("from"), Ok(()));
        assert!(
            pause_field("start")
                .unwrap_err()
                .contains("kind, from or to")
        );
        assert_eq!(values_field("status"), Ok(()));
        assert_eq!(values_field("pause_kind"), Ok(()));
        assert!(
            values_field("pauses")
                .unwrap_err()
                .contains("values.pause_kind")
        );
        let e = values_field("state").unwrap_err();
        assert!(e.contains("rating or pause_kind"), "{e}");
        assert!(source_name("").is_err());
        assert_eq!(source_name("办件编号"), Ok(()));
        assert!(source_word("已办结 ").unwrap_err().contains("\"已办结\""));
        assert!(source_word("").is_err());
        assert_eq!(one_of(["a"]), "a");
        assert_eq!(one_of(["a", "b", "c"]), "a, b or c");
    }
}
