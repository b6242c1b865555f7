//! The rule runs: the thin I/O around the pure rules. Woken when changes are written to the
//! ledger's log (and at least once a second for the schedules), a run reads the grade
//! events after the position it last read, looks at the board as graded today, asks the
//! rules what to send, words it, holds what the quiet hours hold, and writes the messages,
//! the warned items and the new position in one transaction (`Store::write_run`). The
//! first run on a store starts at the log's end: a store's past is not warned about (the
//! next digest names what is red).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};
use tokio_util::sync::CancellationToken;

use super::contacts::Contact;
use super::links::{self, LinkKey};
use super::message::Channel;
use super::rules::{self, History, Open, RuleName};
use super::wording;
use crate::grading::Grade;
use crate::ingest::Shared;
use crate::store::StoreError;
use crate::store::warnings::{Queued, RunWrite};

/// How far back the warned items are kept in memory (windows are deadlines and days).
const REMEMBERED_DAYS: u64 = 400;

/// What the engine keeps between runs.
pub struct Engine {
    warned: HashSet<(String, String, String)>,
    answered: HashMap<String, NaiveDate>,
    silenced: HashMap<String, NaiveDate>,
    /// The local day the whole board was last looked at: the clock moves `remaining` at
    /// midnight, so each day's first run looks at every open item, and later runs at the
    /// items that changed.
    scanned_on: Option<NaiveDate>,
    /// The log position read up to, and each schedule's last instant run: what the store's
    /// `warning_marks` hold, read once at load and kept here after each write (the engine
    /// is their one writer), so an idle second costs no query for them.
    position: i64,
    schedule_marks: HashMap<String, DateTime<Utc>>,
}

impl History for Engine {
    fn warned(&self, rule: RuleName, item_id: &str, window: &str) -> bool {
        self.warned
            .contains(&(rule.as_string(), item_id.to_owned(), window.to_owned()))
    }

    fn answered_until(&self, item_id: &str) -> Option<NaiveDate> {
        self.answered.get(item_id).copied()
    }

    fn silenced_until(&self, item_id: &str) -> Option<NaiveDate> {
        self.silenced.get(item_id).copied()
    }
}

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunReport {
    pub decisions: usize,
    pub messages: usize,
    pub held: usize,
}

impl Engine {
    /// Loads what was warned and answered, and sets the start position on a new store.
    pub async fn load(shared: &Shared) -> Result<Self, StoreError> {
        let store = &shared.store;
        let position = match store.warning_mark("log").await? {
            Some((position, _)) => position,
            None => {
                let end = store.last_change().await?;
                store.start_warnings_at(end).await?;
                tracing::info!(
                    position = end,
                    "warnings start at the end of the change log"
                );
                end
            }
        };
        let mut schedule_marks = HashMap::new();
        for rule in [RuleName::Digest, RuleName::Forecast] {
            let name = rule.as_string();
            if let Some((_, Some(at))) = store.warning_mark(&format!("schedule:{name}")).await? {
                schedule_marks.insert(name, at);
            }
        }
        let today = shared
            .clock
            .now()
            .with_timezone(&shared.config.timezone)
            .date_naive();
        let since = today
            .checked_sub_days(Days::new(REMEMBERED_DAYS))
            .unwrap_or(today);
        let warned = store.warned_since(since).await?.into_iter().collect();
        let mut engine = Self {
            warned,
            answered: HashMap::new(),
            silenced: HashMap::new(),
            scanned_on: None,
            position,
            schedule_marks,
        };
        engine.reload_answers(shared, today).await?;
        Ok(engine)
    }

    async fn reload_answers(
        &mut self,
        shared: &Shared,
        today: NaiveDate,
    ) -> Result<(), StoreError> {
        self.answered.clear();
        self.silenced.clear();
        for (item, kind, until) in shared.store.answers_holding(today).await? {
            let map = if kind == "silence" {
                &mut self.silenced
            } else {
                &mut self.answered
            };
            map.insert(item, until);
        }
        Ok(())
    }

    /// One run at `now`.
    pub async fn run_once(&mut self, shared: &Shared) -> Result<RunReport, StoreError> {
        let config = &shared.config.warnings;
        let tz = shared.config.timezone;
        let now = shared.clock.now();
        let today = now.with_timezone(&tz).date_naive();
        let store = &shared.store;
        let mut position = self.position;
        let mut turned_red: HashSet<String> = HashSet::new();
        let mut touched: HashSet<String> = HashSet::new();
        loop {
            let page = store.changes_after(position, 10_000).await?;
            let Some(last) = page.last() else { break };
            position = last.seq;
            for change in page {
                let Some(item) = change.item_id else { continue };
                if change.kind == "grade" && change.to.as_deref() == Some(Grade::Red.as_str()) {
                    turned_red.insert(item.clone());
                }
                touched.insert(item);
            }
        }
        let mut scheduled = Vec::new();
        let mut schedules = Vec::new();
        for (rule, schedule, on) in [
            (
                RuleName::Digest,
                &config.digest_at,
                config.rules.digest.is_some(),
            ),
            (
                RuleName::Forecast,
                &config.forecast_at,
                config.rules.forecast.is_some(),
            ),
        ] {
            if !on {
                continue;
            }
            let name = rule.as_string();
            let last = self
                .schedule_marks
                .get(&name)
                .copied()
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            if let Some(at) = schedule.due(last, now, tz, &shared.calendar) {
                scheduled.push(rule);
                schedules.push((name, at));
            }
        }
        let whole = self.scanned_on != Some(today) || !scheduled.is_empty();
        if !whole && touched.is_empty() {
            return Ok(RunReport::default());
        }
        // An answer or a silence given since the last run counts in this one.
        self.reload_answers(shared, today).await?;
        let forecasting = scheduled.contains(&RuleName::Forecast);
        let items = open_items(
            shared,
            today,
            if whole { None } else { Some(&touched) },
            forecasting,
        );
        let decisions = {
            let red = |id: &str| turned_red.contains(id);
            let run = rules::Run {
                today,
                calendar: &shared.calendar,
                turned_red: &red,
                scheduled: &scheduled,
            };
            rules::decide(&config.rules, &run, self, &items)
        };
        let contacts: Vec<Contact> = if decisions.is_empty() {
            Vec::new()
        } else {
            store.contacts().await?
        };
        let base = config.link_base.clone();
        let key = signing_key(config.link_key.as_ref());
        let expires = now.timestamp() + i64::from(config.link_days) * 86_400;
        let link = |department: &str| phone_link(&base, key.as_ref(), expires, department);
        let drafts = wording::draft(
            &decisions,
            &contacts,
            &config.routes,
            &link,
            &today.to_string(),
        );
        let mut messages = Vec::with_capacity(drafts.len());
        let mut held = 0;
        for draft in &drafts {
            let not_before = if draft.channel == Channel::Email && config.email_any_time {
                now
            } else {
                config
                    .window
                    .next_open(now, tz, &shared.calendar)
                    .unwrap_or(now)
            };
            messages.push(Queued {
                draft,
                not_before,
                held: not_before > now,
            });
        }
        let warned: Vec<(String, String, String)> = decisions
            .iter()
            .flat_map(|d| {
                d.items.iter().map(|(item, window)| {
                    (d.rule.as_string(), item.item_id.clone(), window.clone())
                })
            })
            .collect();
        let messages_written: Vec<(Channel, bool)> =
            messages.iter().map(|q| (q.draft.channel, q.held)).collect();
        let written = store
            .write_run(&RunWrite {
                log_position: position,
                schedules: schedules.clone(),
                warned: warned.clone(),
                messages,
                now,
            })
            .await?;
        // Counted once written: a message whose dedup key was already there is not new.
        for &(index, _) in &written {
            let queued = &messages_written[index];
            shared.metrics.count_warning(queued.0, "queued");
            if queued.1 {
                held += 1;
                shared.metrics.count_warning(queued.0, "held");
            }
        }
        self.position = position;
        self.schedule_marks.extend(schedules);
        self.warned.extend(warned);
        if whole {
            self.scanned_on = Some(today);
        }
        for d in &decisions {
            tracing::info!(
                rule = %d.rule.as_string(),
                department = %d.department,
                items = d.items.len(),
                reason = %d.reason,
                "warning decided"
            );
        }
        if !written.is_empty() {
            shared.outbox.notify_one();
        }
        Ok(RunReport {
            decisions: decisions.len(),
            messages: written.len(),
            held,
        })
    }
}

/// Where a message sends its recipients: with a link key, the signed answer page of the
/// department (`/m/answer`, no token needed, good until `expires`, unix seconds); without
/// one, the phone page of its late items, which needs a viewer token.
pub fn phone_link(base: &str, key: Option<&LinkKey>, expires: i64, department: &str) -> String {
    match key {
        Some(key) => links::answer_link(base, key, department, expires),
        None => {
            let name: String = form_urlencoded::byte_serialize(department.as_bytes()).collect();
            format!("{base}/m/dept/{name}")
        }
    }
}

/// The configured link key, if it can sign. The config refuses a short key at start-up;
/// should one get here all the same (a command that reads no secrets), the messages carry
/// the plain phone link rather than none, and the log says why.
fn signing_key(secret: Option<&crate::config::secret::Secret>) -> Option<LinkKey> {
    let secret = secret?;
    match LinkKey::new(secret.expose().as_bytes()) {
        Ok(key) => Some(key),
        Err(e) => {
            tracing::warn!(error = %e, "the answer links cannot be signed; messages link the phone page instead");
            None
        }
    }
}

/// The open items the rules look at, graded today: all of them (`only` = `None`), or the
/// ones named. Blue items only matter to the forecast.
fn open_items(
    shared: &Shared,
    today: NaiveDate,
    only: Option<&HashSet<String>>,
    forecasting: bool,
) -> Vec<Open> {
    let board = shared.board();
    let names = board.names();
    let mut out = Vec::new();
    let mut look = |entry: &crate::board::Entry| {
        if !entry.is_open() {
            return;
        }
        if !forecasting && entry.grading.grade == Grade::Blue && only.is_none() {
            return;
        }
        let Some(grading) = entry.grade_on(&shared.calendar, today) else {
            return;
        };
        let project = names.project(entry.labels.project);
        out.push(Open {
            item_id: entry.item_id.clone(),
            department: names.department(entry.labels.department).to_string(),
            matter: names.matter(entry.labels.matter).to_string(),
            project_code: project.code.to_string(),
            project_name: project.name.to_string(),
            grade: grading.grade,
            deadline_date: grading.deadline_date,
            remaining: grading.remaining,
            paused: grading.paused,
            next_change_on: grading.next_change_on,
            provisional: grading.provisional,
        });
    };
    match only {
        Some(ids) => ids
            .iter()
            .filter_map(|id| board.get(id))
            .for_each(&mut look),
        None => board.entries().iter().for_each(&mut look),
    }
    out
}

/// The engine's task: a run whenever changes are logged, and every second for the
/// schedules; a failed run is tried again after a pause, its position unmoved.
pub async fn run(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut engine = loop {
        match Engine::load(&shared).await {
            Ok(engine) => break engine,
            Err(e) => {
                tracing::error!(error = %e, "cannot load the warnings' history; trying again in 5 s");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
        }
    };
    loop {
        match engine.run_once(&shared).await {
            Ok(report) if report.messages > 0 => {
                tracing::info!(
                    messages = report.messages,
                    held = report.held,
                    "warnings queued"
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "a warnings run failed; nothing of it was written, trying again in 5 s");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
                continue;
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = shared.logged.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
