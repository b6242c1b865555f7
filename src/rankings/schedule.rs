//! Publishing a report (stored as it was, with its inputs' digest, so that opening it later
//! shows what was announced) and the monthly schedule: at `[rankings] publish_at` on the
//! first working day of each month, last month's report is published and mailed to the
//! supervision office through the warnings outbox (so it is in the delivery audit like any
//! message), the workbook attached and the chart inline, both made at send time from the
//! published copy. A daemon down at the instant catches up once when it is back; a crash
//! between publishing and queueing the mail publishes nothing twice (a published period is
//! not published again by the schedule) and queues nothing twice (the mail's dedup key).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::Report;
use super::period::{Period, Span};
use crate::calendar::Calendar;
use crate::charts::png::{self, ChartFont, RankBar};
use crate::config::Config;
use crate::ingest::Shared;
use crate::store::reports::Published;
use crate::store::warnings::Queued;
use crate::store::{Store, StoreError};
use crate::warnings::contacts::Role;
use crate::warnings::message::{Attached, Channel, Outgoing};
use crate::warnings::rules::RuleName;
use crate::warnings::wording::{Draft, escape};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("reading the store for the report: {0}")]
    Store(#[from] StoreError),
    #[error("the published report {period} (edition {id}) cannot be read back: {reason}")]
    Unreadable {
        period: String,
        id: i64,
        reason: String,
    },
    #[error(
        "{period} ends on {ends}: a period is published once it is over (until then its figures are so far, see /rankings?period={period})"
    )]
    NotOver {
        period: String,
        ends: chrono::NaiveDate,
    },
}

/// Computes `period`'s report from the data now and stores it as published by `by_whom`.
pub async fn publish(
    store: &Store,
    config: &Config,
    calendar: &Calendar,
    period: Period,
    by_whom: &str,
    now: DateTime<Utc>,
) -> Result<(Published, Report), PublishError> {
    if now.with_timezone(&config.timezone).date_naive() <= period.to() {
        return Err(PublishError::NotOver {
            period: period.key(),
            ends: period.to(),
        });
    }
    let report = super::gather::report(store, config, calendar, period, now).await?;
    let body = serde_json::to_string(&report).map_err(|e| PublishError::Unreadable {
        period: period.key(),
        id: 0,
        reason: e.to_string(),
    })?;
    let id = store
        .publish_report(&report.period, &report.digest, &body, by_whom, now)
        .await?;
    let latest = store
        .published(&report.period)
        .await?
        .into_iter()
        .find(|edition| edition.id == id)
        .ok_or_else(|| PublishError::Unreadable {
            period: period.key(),
            id: 0,
            reason: "it was not found after it was written".into(),
        })?;
    Ok((latest, report))
}

/// The latest published edition of `period`, with its report as it was published.
pub async fn latest(
    store: &Store,
    period: &str,
) -> Result<Option<(Published, Report)>, PublishError> {
    let Some(edition) = store.published(period).await?.into_iter().next() else {
        return Ok(None);
    };
    let report = serde_json::from_str(&edition.body).map_err(|e| PublishError::Unreadable {
        period: period.to_owned(),
        id: edition.id,
        reason: e.to_string(),
    })?;
    Ok(Some((edition, report)))
}

/// The report's chart as a PNG, with the data's time and the weights beneath (the formula
/// in words is the workbook's and the printed page's).
pub fn chart(
    report: &Report,
    tz: chrono_tz::Tz,
    font: &ChartFont,
) -> Result<Vec<u8>, crate::charts::ChartError> {
    let w = &report.weights;
    let footer = format!(
        "数据时间 {} · 权重：按时办结率 {}、用时 {}、压缩率 {}、回告率 {}、满意度 {}；每超期工作日 −{}，每期末红灯件 −{} · 公式见“计分公式”",
        report.data_time.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
        w.on_time,
        w.speed,
        w.compression,
        w.answers,
        w.rating,
        w.overdue_day,
        w.red_item
    );
    let bars: Vec<RankBar<'_>> = report
        .ranked
        .iter()
        .map(|r| RankBar {
            department: &r.department,
            score: r.score,
            on_time_rate: r.on_time_rate,
        })
        .collect();
    png::ranking(
        &format!("{}{} 部门审批效能排名", report.city, report.title),
        &format!(
            "综合得分与按时办结率 · 统计期间 {} 至 {}{}",
            report.from,
            report.to,
            if report.so_far {
                "（截至目前）"
            } else {
                ""
            }
        ),
        &footer,
        &bars,
        font,
    )
}

/// Puts the published report's workbook and chart on an email that names it.
pub async fn attach(shared: &Shared, message: &mut Outgoing) {
    let Some(period) = message.report.clone() else {
        return;
    };
    let report = match latest(&shared.store, &period).await {
        Ok(Some((_, report))) => report,
        Ok(None) => {
            tracing::warn!(
                period,
                "the report mail names a report that is not published; it goes without files"
            );
            return;
        }
        Err(e) => {
            tracing::warn!(period, error = %e, "the report mail goes without files");
            return;
        }
    };
    match super::workbook::workbook(&report, shared.config.timezone) {
        Ok(bytes) => message.attachments.push(Attached {
            file_name: format!("部门审批效能排名-{period}.xlsx"),
            content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                .into(),
            bytes,
        }),
        Err(e) => tracing::warn!(period, error = %e, "the report's workbook could not be made"),
    }
    match font(shared) {
        Some(font) => match chart(&report, shared.config.timezone, font) {
            Ok(bytes) => message.chart_png = Some(bytes),
            Err(e) => tracing::warn!(period, error = %e, "the report's chart could not be drawn"),
        },
        None => tracing::warn!(
            period,
            "no CJK font: the report mail goes without its chart"
        ),
    }
}

/// The configured font (`[rankings] font`), else the usual places; loaded once.
pub fn font(shared: &Shared) -> Option<&'static ChartFont> {
    static FONT: std::sync::OnceLock<Option<ChartFont>> = std::sync::OnceLock::new();
    FONT.get_or_init(
        || match ChartFont::load(shared.config.rankings.font.as_deref()) {
            Ok(font) => Some(font),
            Err(e) => {
                tracing::warn!(error = %e, "the rankings' PNG charts cannot be drawn");
                None
            }
        },
    )
    .as_ref()
}

/// The mail of a published report to each of the office's addresses.
pub async fn queue_mail(
    shared: &Shared,
    report: &Report,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let config = &shared.config;
    let Some(sender) = config
        .warnings
        .senders
        .iter()
        .filter(|s| s.channel == Channel::Email)
        .find(|s| {
            config
                .rankings
                .sender
                .as_ref()
                .is_none_or(|name| *name == s.name)
        })
    else {
        tracing::warn!(
            period = report.period,
            "the report is published but not mailed: no email sender in [[warnings.senders]]"
        );
        return Ok(0);
    };
    let mut to: Vec<(String, String)> = config
        .rankings
        .mail_to
        .iter()
        .map(|a| (String::new(), a.clone()))
        .collect();
    if to.is_empty() {
        to = shared
            .store
            .contacts_in_role(Role::Office)
            .await?
            .into_iter()
            .filter(|c| !c.email.is_empty())
            .map(|c| (c.name, c.email))
            .collect();
    }
    if to.is_empty() {
        tracing::warn!(
            period = report.period,
            "the report is published but not mailed: no office contact with an email, and no [rankings] mail_to"
        );
        return Ok(0);
    }
    let (subject, text, html) = wording(report, config.timezone, font(shared).is_some());
    let drafts: Vec<Draft> = to
        .into_iter()
        .map(|(name, address)| Draft {
            dedup_key: format!("report:{}:{}", report.period, address),
            rule: RuleName::Report,
            department: String::new(),
            channel: Channel::Email,
            sender: sender.name.clone(),
            role: "office".into(),
            recipient: name,
            address,
            items: Vec::new(),
            subject: subject.clone(),
            text: text.clone(),
            params: Vec::new(),
            html: Some(html.clone()),
            markdown: None,
        })
        .collect();
    let queued: Vec<Queued<'_>> = drafts
        .iter()
        .map(|draft| Queued {
            draft,
            not_before: now,
            held: false,
        })
        .collect();
    let written = shared
        .store
        .queue_messages(&queued, Some(&report.period), now)
        .await?;
    shared.outbox.notify_one();
    Ok(written.len())
}

/// The mail's subject, text and HTML: the top and the bottom of the ranking, the formula's
/// place, and the chart inline.
fn wording(report: &Report, tz: chrono_tz::Tz, chart: bool) -> (String, String, String) {
    let subject = format!(
        "{}{}部门审批效能排名（月度通报）",
        report.city, report.title
    );
    let mut lines = vec![
        format!(
            "{}，统计期间 {} 至 {}，数据时间 {}。",
            subject,
            report.from,
            report.to,
            report.data_time.with_timezone(&tz).format("%Y-%m-%d %H:%M")
        ),
        String::new(),
    ];
    for r in &report.ranked {
        lines.push(format!(
            "第{}名 {}：{:.2} 分，按时办结率 {}，超期 {} 个工作日，期末红灯 {} 件",
            r.place.unwrap_or(0),
            r.department,
            r.score,
            super::percent(r.on_time_rate),
            r.overdue_days,
            r.red_pending
        ));
    }
    if !report.unranked.is_empty() {
        let names: Vec<&str> = report
            .unranked
            .iter()
            .map(|r| r.department.as_str())
            .collect();
        lines.push(format!("未参加排名（本期无办结件）：{}", names.join("、")));
    }
    lines.push(String::new());
    lines.push(format!(
        "超过“3211”目标的项目：{} 个。明细、超期办件与计分公式见附件工作簿。",
        report.projects_over.len()
    ));
    let text = lines.join("\n");
    // Without a CJK font there is no chart to show (the sender attaches none).
    let picture = if chart {
        "<p><img src=\"cid:chart\" alt=\"各部门综合得分与按时办结率\"></p>"
    } else {
        ""
    };
    let html = format!(
        "<p>{}</p>{picture}<pre>{}</pre>",
        escape(&subject),
        escape(&text)
    );
    (subject, text, html)
}

/// The month whose report the schedule publishes at `at`: the one before.
pub fn period_for(at: DateTime<Utc>, tz: chrono_tz::Tz) -> Period {
    Period::containing(Span::Month, at.with_timezone(&tz).date_naive()).previous()
}

/// The schedule's task.
pub async fn run(shared: Arc<Shared>, shutdown: CancellationToken) {
    loop {
        if let Err(e) = run_once(&shared).await {
            tracing::error!(error = %e, "the monthly report could not be published; trying again in a minute");
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(60)) => {}
            }
            continue;
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

/// Publishes and mails the report of each month whose instant has come since the last run,
/// in order (a daemon down over two first working days catches up both). A fresh store
/// starts from a day before now: it does not publish the months before it was installed.
async fn run_once(shared: &Shared) -> Result<(), PublishError> {
    let config = &shared.config;
    let tz = config.timezone;
    let now = shared.clock.now();
    let mut cursor = shared
        .store
        .warning_mark("schedule:report")
        .await?
        .and_then(|(_, at)| at)
        .unwrap_or(now - chrono::Duration::days(1));
    while let Some(at) = config
        .rankings
        .publish_at
        .next_after(cursor, tz, &shared.calendar)
        .filter(|at| *at <= now)
    {
        let period = period_for(at, tz);
        let report = match latest(&shared.store, &period.key()).await? {
            Some((_, report)) => report,
            None => {
                let (_, report) = publish(
                    &shared.store,
                    config,
                    &shared.calendar,
                    period,
                    "schedule",
                    now,
                )
                .await?;
                tracing::info!(period = %period, "the monthly report is published");
                report
            }
        };
        // The mail goes through the warnings' outbox, which runs only with warnings on.
        if config.rankings.mail && config.warnings.enabled {
            let queued = queue_mail(shared, &report, now).await?;
            tracing::info!(period = %period, queued, "the monthly report mail is queued");
        }
        shared.store.set_schedule_mark("report", at).await?;
        cursor = at;
    }
    Ok(())
}
