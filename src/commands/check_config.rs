//! `duban check-config`: loads the config and everything it points at (holiday files, the
//! matter catalogue, every feed's mapping) and says whether it is good. With `--feed NAME` it
//! then fetches one page of that feed and shows how its first records map, and which would
//! be quarantined and why, without storing anything or moving a file.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use crate::calendar::years_span;
use crate::clock::Clock;
use crate::config::Config;
use crate::feeds::{FeedSpec, preview};
use crate::item::{Item, Pause, RecordError};

/// Checks the config and prints what it holds, with the calendar's reminder for `clock`'s
/// today; returns it for `--feed`.
pub fn run(config: Option<&Path>, clock: &Clock, out: &mut impl Write) -> anyhow::Result<Config> {
    let (config, calendar) = super::load(config)?;
    let (official, provisional) = calendar.official_and_provisional();
    writeln!(
        out,
        "{}: ok (time zone {}, holidays {}{}, {} matters, {} threshold overrides, {} project targets, {} feeds)",
        config.path.display(),
        config.timezone,
        years_span(&official),
        if provisional.is_empty() {
            String::new()
        } else {
            format!(" and {} provisional", years_span(&provisional))
        },
        config.matters.len(),
        config.grading.overrides.len(),
        config.project_targets.len(),
        config.feeds.len(),
    )?;
    writeln!(out, "{}", warnings_line(&config))?;
    // The reminder is the clock's today (the machine's: check-config is run by an
    // operator, now).
    let today = clock.now().with_timezone(&config.timezone).date_naive();
    if let Some(reminder) = calendar.reminder(today, config.remind_from) {
        writeln!(out, "reminder: {reminder}")?;
    }
    Ok(config)
}

/// How the first page of a feed mapped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    pub fetched: usize,
    pub stored: usize,
    pub quarantined: usize,
}

/// Records shown one by one; the rest are counted.
const SHOWN: usize = 5;

/// `--feed NAME`: fetches the first page of the feed and prints how its first records map,
/// through the validation the poller uses (`Mapping::record_to_item`), then the counts.
/// Records are held to the bounds a run at `clock`'s now would use.
pub async fn feed(
    config: &Config,
    name: &str,
    clock: &Clock,
    out: &mut impl Write,
) -> anyhow::Result<Look> {
    let spec = config
        .feeds
        .iter()
        .find(|f| f.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = config.feeds.iter().map(|f| f.name.as_str()).collect();
            if names.is_empty() {
                anyhow::anyhow!(
                    "no feed named {name:?}: {} has no [[feeds]]",
                    config.path.display()
                )
            } else {
                anyhow::anyhow!(
                    "no feed named {name:?} in {}; its feeds are {}",
                    config.path.display(),
                    names.join(", ")
                )
            }
        })?;
    let sample = preview::first_page(spec)
        .await
        .with_context(|| format!("feed {name}: fetching its first page"))?;
    let records = &sample.records;
    let bounds = config.records.as_of(clock.now());
    writeln!(
        out,
        "feed {name} ({}{}): {}: {} records on the first page{}",
        spec.source.kind(),
        if spec.enabled { "" } else { ", disabled" },
        sample.origin,
        records.len(),
        if records.len() > SHOWN {
            format!(", the first {SHOWN} shown")
        } else {
            String::new()
        },
    )?;
    let mut look = Look {
        fetched: records.len(),
        ..Look::default()
    };
    for (i, record) in records.iter().enumerate() {
        let mapped = spec.mapping.record_to_item(record, &bounds);
        match &mapped {
            Ok(_) => look.stored += 1,
            Err(_) => look.quarantined += 1,
        }
        if i < SHOWN {
            let id = source_id(spec, record);
            match mapped {
                Ok(item) => {
                    writeln!(out, "record {} ({id}): maps", i + 1)?;
                    write_item(out, &item)?;
                }
                Err(e) => writeln!(
                    out,
                    "record {} ({id}): would be quarantined: {}",
                    i + 1,
                    refusal(&e)
                )?,
            }
        }
    }
    writeln!(
        out,
        "feed {name}: {} records fetched, {} would be stored, {} would be quarantined",
        look.fetched, look.stored, look.quarantined
    )?;
    out.flush()?;
    Ok(look)
}

/// The record's id as the source sent it, under the source's name for it.
fn source_id(spec: &FeedSpec, record: &Value) -> String {
    let field = spec.mapping.source_name("item_id");
    match record {
        Value::Object(object) => match object.get(field) {
            Some(id) => format!("{field} {id}"),
            None => format!("no {field}"),
        },
        _ => "not an object".to_owned(),
    }
}

fn refusal(e: &RecordError) -> String {
    if e.field.is_empty() {
        e.problem.clone()
    } else {
        e.to_string()
    }
}

/// The canonical fields of a mapped record: the ones the deadline rests on, then the rest.
fn write_item(out: &mut impl Write, item: &Item) -> std::io::Result<()> {
    let time = |t: Option<&chrono::DateTime<chrono::FixedOffset>>| {
        t.map_or_else(|| "none".to_owned(), |t| t.to_rfc3339())
    };
    let pauses = if item.pauses.is_empty() {
        "none".to_owned()
    } else {
        item.pauses
            .iter()
            .map(|Pause { kind, from, to }| {
                format!(
                    "{} {} to {}",
                    kind.as_str(),
                    from.to_rfc3339(),
                    to.map_or_else(|| "open".to_owned(), |t| t.to_rfc3339())
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    writeln!(
        out,
        "  item_id {:?}, status {}, accepted_at {}, limit_days {}, extension_days {}, pauses {pauses}, finished_at {}, updated_at {}",
        item.item_id,
        item.status.as_str(),
        item.accepted_at.to_rfc3339(),
        item.limit_days,
        item.extension_days,
        time(item.finished_at.as_ref()),
        item.updated_at.to_rfc3339(),
    )?;
    writeln!(
        out,
        "  stage {}, matter {:?}, department {:?}, legal_days {}, project_code {:?}, project_name {:?}, project_category {:?}",
        item.stage,
        item.matter,
        item.department,
        item.legal_days,
        item.project_code,
        item.project_name,
        item.project_category,
    )
}

/// What `[warnings]` will do: off, or the senders serving each channel (a `log` sender
/// sends nothing anywhere, which an operator going live must see).
fn warnings_line(config: &Config) -> String {
    let w = &config.warnings;
    if !w.enabled {
        return "warnings: off (no [warnings] table, or enabled = false): nobody is warned".into();
    }
    let senders: Vec<String> = w
        .senders
        .iter()
        .map(|s| {
            let kind = match &s.kind {
                crate::config::warnings::SenderKind::Log => "log: sends nothing, only logs",
                crate::config::warnings::SenderKind::Aliyun { .. } => "aliyun",
                crate::config::warnings::SenderKind::Tencent { .. } => "tencent",
                crate::config::warnings::SenderKind::Gateway { .. } => "gateway",
                crate::config::warnings::SenderKind::Smtp { .. } => "smtp",
                crate::config::warnings::SenderKind::DingTalk { .. } => "dingtalk",
                crate::config::warnings::SenderKind::WeCom { .. } => "wecom",
            };
            format!("{} ({}, {kind})", s.name, s.channel.as_str())
        })
        .collect();
    format!(
        "warnings: on; senders {}; contacts {}; send window {}–{} on working days; try a sender with `duban warnings test --sender NAME --to ADDRESS`",
        if senders.is_empty() {
            "none".to_owned()
        } else {
            senders.join(", ")
        },
        w.contacts
            .as_ref()
            .map_or("as stored (duban contacts import)".to_owned(), |p| p
                .display()
                .to_string()),
        w.window.opens.format("%H:%M"),
        w.window.closes.format("%H:%M"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    /// `check-config` on the shipped calendar (2025 and 2026) with the clock at `instant`.
    fn checked_at(instant: &str) -> String {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("duban.toml");
        std::fs::write(
            &path,
            format!(
                "timezone = \"Asia/Shanghai\"\n[calendar]\nholidays_dir = {:?}\n\
                 [catalogue]\nmatters = {:?}\n[store]\ndatabase_url = \"sqlite::memory:\"\n",
                root.join("config/holidays").display().to_string(),
                root.join("config/matters.csv").display().to_string(),
            ),
        )
        .unwrap();
        let at = chrono::DateTime::parse_from_rfc3339(instant)
            .unwrap()
            .to_utc();
        let mut out = Vec::new();
        run(Some(&path), &Clock::Manual(ManualClock::new(at)), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_reminder_is_for_the_clocks_today() {
        assert!(!checked_at("2026-06-01T10:00:00+08:00").contains("reminder"));
        let late = checked_at("2026-11-25T10:00:00+08:00");
        assert!(late.contains("reminder: 2027"), "{late}");
    }
}
