//! Configuration: `config/duban.toml` (raw TOML) → a validated `Config`. Unknown keys are
//! rejected; every error names the file, the line and the key and says what is expected.
//! Relative paths in the file are relative to the file's own folder, so the shipped config
//! works from any working directory. Secrets never live in the file: keys that need one
//! name a `DUBAN_…` environment variable instead (see `secret`).

pub mod rankings;
pub mod screens;
pub mod secret;
pub mod toml_file;
pub mod warnings;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Datelike;
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use crate::calendar::{Calendar, CalendarError};
use crate::catalogue::{self, Matter};
use crate::feeds::spec::{FeedSpec, RawFeed, check_feeds};
use crate::grading::{GradingPolicy, ThresholdOverride, Thresholds};
use crate::item::Plausible;
pub use screens::{Access, Live, Screen};
pub use toml_file::FileError as ConfigError;
use toml_file::TomlFile;

/// Where the config is looked for when neither `--config` nor `DUBAN_CONFIG` names one.
pub const DEFAULT_PATH: &str = "config/duban.toml";
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The embedded default store, relative to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/duban.db";

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// Local dates (acceptance, deadlines, midnights) are taken in this zone.
    pub timezone: Tz,
    /// Folder of `<year>.toml` holiday arrangements.
    pub holidays_dir: PathBuf,
    /// Years after the last file counted on the provisional arrangement.
    pub provisional_years: u32,
    /// The day of the year (month, day) from which next year's missing file is reminded of.
    pub remind_from: (u32, u32),
    /// The approval-matter catalogue (CSV: stage, matter, department, legal_days, limit_days).
    pub matters_file: PathBuf,
    /// Its rows, loaded with the config so that overrides can be checked against them.
    pub matters: Vec<Matter>,
    pub grading: GradingPolicy,
    /// What a feed's record may plausibly hold (`[records]`): refused otherwise.
    pub records: Plausible,
    /// Government-time targets in working days, per project category ("3211").
    pub project_targets: BTreeMap<String, u32>,
    /// Where the HTTP API listens.
    pub listen: std::net::SocketAddr,
    /// How many connections the HTTP server holds, how long one may take to ask, and how
    /// long a kept-alive one may sit idle.
    pub connections: Connections,
    /// `sqlite://…` (default `sqlite://data/duban.db`) or `postgres://…`.
    pub database_url: String,
    pub feeds: Vec<FeedSpec>,
    pub screens: Vec<Screen>,
    pub access: Access,
    pub live: Live,
    pub warnings: warnings::Warnings,
    pub rankings: rankings::Rankings,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    timezone: Spanned<String>,
    calendar: RawCalendar,
    catalogue: RawCatalogue,
    #[serde(default)]
    grading: RawGrading,
    #[serde(default)]
    records: RawRecords,
    #[serde(default)]
    project_targets: BTreeMap<String, Spanned<i64>>,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    feeds: Vec<RawFeed>,
    #[serde(default)]
    screens: Vec<screens::RawScreen>,
    access: Option<screens::RawAccess>,
    live: Option<screens::RawLive>,
    warnings: Option<Spanned<warnings::RawWarnings>>,
    rankings: Option<rankings::RawRankings>,
}

/// `[server]`'s limits on the HTTP connections (see `http::server`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connections {
    /// Open at once, websockets included; the ones beyond wait in the listen queue.
    pub max: usize,
    /// A connection that has not sent a complete request head this long after opening, or
    /// after the first byte of a later request, is closed (a slowloris client).
    pub header_timeout: std::time::Duration,
    /// A kept-alive connection that sends no byte of a next request this long after its
    /// previous response is closed: a browser reuses it within seconds, and one left open
    /// by a client that went quiet holds a place under `max` and a file descriptor.
    pub idle_timeout: std::time::Duration,
}

impl Default for Connections {
    fn default() -> Self {
        Self {
            max: 4096,
            header_timeout: std::time::Duration::from_secs(10),
            idle_timeout: std::time::Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Spanned<String>,
    max_connections: Option<Spanned<i64>>,
    header_timeout_seconds: Option<Spanned<i64>>,
    idle_timeout_seconds: Option<Spanned<i64>>,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: Spanned::new(0..0, DEFAULT_LISTEN.to_owned()),
            max_connections: None,
            header_timeout_seconds: None,
            idle_timeout_seconds: None,
        }
    }
}

impl RawServer {
    fn connections(&self, file: &TomlFile) -> Result<Connections, ConfigError> {
        let mut connections = Connections::default();
        if let Some(n) = &self.max_connections {
            connections.max = usize::try_from(*n.get_ref())
                .ok()
                .filter(|n| (8..=1_000_000).contains(n))
                .ok_or_else(|| {
                    file.error_at(
                        n.span(),
                        format!(
                            "max_connections is 8 to 1000000 (open HTTP connections, each \
                             screen's websocket included), not {}",
                            n.get_ref()
                        ),
                    )
                })?;
        }
        if let Some(s) = &self.header_timeout_seconds {
            connections.header_timeout = timeout_seconds(
                file,
                s,
                300,
                "header_timeout_seconds",
                "seconds a client has to send its request head",
            )?;
        }
        if let Some(s) = &self.idle_timeout_seconds {
            connections.idle_timeout = timeout_seconds(
                file,
                s,
                3600,
                "idle_timeout_seconds",
                "seconds a kept-alive connection may wait for its next request",
            )?;
        }
        Ok(connections)
    }
}

/// A `[server]` number of seconds `key`, 1 to `max`; `what` says what it is in the error.
fn timeout_seconds(
    file: &TomlFile,
    value: &Spanned<i64>,
    max: u64,
    key: &str,
    what: &str,
) -> Result<std::time::Duration, ConfigError> {
    u64::try_from(*value.get_ref())
        .ok()
        .filter(|s| (1..=max).contains(s))
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| {
            file.error_at(
                value.span(),
                format!("{key} is 1 to {max} ({what}), not {}", value.get_ref()),
            )
        })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    database_url: Option<String>,
    database_url_env: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    holidays_dir: Spanned<String>,
    provisional_years: Option<Spanned<i64>>,
    remind_from: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    matters: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrading {
    blue_max_share: Option<Spanned<f64>>,
    red_on_deadline_day: Option<bool>,
    #[serde(default)]
    overrides: Vec<Spanned<RawOverride>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecords {
    earliest: Option<Spanned<String>>,
    years_ahead: Option<Spanned<i64>>,
    max_limit_days: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    matter: Option<Spanned<String>>,
    department: Option<Spanned<String>>,
    blue_max_share: Option<Spanned<f64>>,
    red_on_deadline_day: Option<bool>,
}

impl Config {
    /// The path to read: `--config`, else `DUBAN_CONFIG`, else `config/duban.toml`.
    pub fn resolve_path(flag: Option<&Path>) -> PathBuf {
        flag.map(Path::to_path_buf)
            .or_else(|| std::env::var_os("DUBAN_CONFIG").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::from_file(&TomlFile::read(path)?)
    }

    pub fn from_file(file: &TomlFile) -> Result<Self, ConfigError> {
        let raw: RawConfig = file.parse()?;
        let timezone: Tz = raw.timezone.get_ref().parse().map_err(|_| {
            file.error_at(
                raw.timezone.span(),
                format!(
                    "unknown time zone {:?}; expected an IANA name like \"Asia/Shanghai\"",
                    raw.timezone.get_ref()
                ),
            )
        })?;
        let base = file.path().parent().unwrap_or(Path::new("."));
        let provisional_years = match &raw.calendar.provisional_years {
            None => 2,
            Some(n) if (0..=5).contains(n.get_ref()) => *n.get_ref() as u32,
            Some(n) => {
                return Err(file.error_at(
                    n.span(),
                    format!(
                        "provisional_years is 0 to 5 (years after the last holiday file \
                         counted on the provisional arrangement), not {}",
                        n.get_ref()
                    ),
                ));
            }
        };
        let remind_from = match &raw.calendar.remind_from {
            None => (11, 1),
            Some(text) => {
                chrono::NaiveDate::parse_from_str(&format!("2000-{}", text.get_ref()), "%Y-%m-%d")
                    .map(|d| (d.month(), d.day()))
                    .map_err(|_| {
                        file.error_at(
                            text.span(),
                            format!(
                                "remind_from is a month and day like \"11-01\", not {:?}",
                                text.get_ref()
                            ),
                        )
                    })?
            }
        };
        let holidays_dir = base.join(raw.calendar.holidays_dir.get_ref());
        if !holidays_dir.is_dir() {
            return Err(file.error_at(
                raw.calendar.holidays_dir.span(),
                format!(
                    "the holiday folder {} does not exist",
                    holidays_dir.display()
                ),
            ));
        }
        let matters_file = base.join(raw.catalogue.matters.get_ref());
        let matters = catalogue::load(&matters_file)
            .map_err(|e| file.error_at(raw.catalogue.matters.span(), e.to_string()))?;
        let records = records(file, &raw.records, &matters, &matters_file)?;
        let default = Thresholds {
            blue_max_share: share(file, raw.grading.blue_max_share.as_ref())?.unwrap_or(0.5),
            red_on_deadline_day: raw.grading.red_on_deadline_day.unwrap_or(false),
        };
        let mut overrides = Vec::new();
        for spanned in &raw.grading.overrides {
            let o = spanned.get_ref();
            if o.matter.is_none() && o.department.is_none() {
                return Err(file.error_at(
                    spanned.span(),
                    "an override must name a matter, a department or both",
                ));
            }
            // A misspelt name would silently switch the override off.
            if let Some(matter) = &o.matter
                && !matters.iter().any(|m| &m.name == matter.get_ref())
            {
                return Err(file.error_at(
                    matter.span(),
                    format!(
                        "no matter named {:?} in the catalogue {}",
                        matter.get_ref(),
                        matters_file.display()
                    ),
                ));
            }
            if let Some(department) = &o.department
                && !matters
                    .iter()
                    .any(|m| &m.department == department.get_ref())
            {
                return Err(file.error_at(
                    department.span(),
                    format!(
                        "no department named {:?} in the catalogue {}",
                        department.get_ref(),
                        matters_file.display()
                    ),
                ));
            }
            let matter = o.matter.as_ref().map(|m| m.get_ref().clone());
            let department = o.department.as_ref().map(|d| d.get_ref().clone());
            // Two overrides for the same items: which one applies would depend on the order.
            if overrides
                .iter()
                .any(|e: &ThresholdOverride| e.matter == matter && e.department == department)
            {
                return Err(file.error_at(
                    spanned.span(),
                    "another override above names the same matter and department",
                ));
            }
            overrides.push(ThresholdOverride {
                matter,
                department,
                thresholds: Thresholds {
                    blue_max_share: share(file, o.blue_max_share.as_ref())?
                        .unwrap_or(default.blue_max_share),
                    red_on_deadline_day: o
                        .red_on_deadline_day
                        .unwrap_or(default.red_on_deadline_day),
                },
            });
        }
        let mut project_targets = BTreeMap::new();
        for (category, days) in &raw.project_targets {
            let value = *days.get_ref();
            if !(1..=10_000).contains(&value) {
                return Err(file.error_at(
                    days.span(),
                    format!("a target is a number of working days from 1 to 10000, got {value}"),
                ));
            }
            project_targets.insert(category.clone(), value as u32);
        }
        let listen = raw.server.listen.get_ref().parse().map_err(|_| {
            file.error_at(
                raw.server.listen.span(),
                format!(
                    "expected an address like 127.0.0.1:8080, got {:?}",
                    raw.server.listen.get_ref()
                ),
            )
        })?;
        let database_url = match (raw.store.database_url, &raw.store.database_url_env) {
            (Some(_), Some(env)) => {
                return Err(file.error_at(
                    env.span(),
                    "give database_url or database_url_env, not both",
                ));
            }
            (Some(url), None) if crate::store::redact(&url) != url => {
                return Err(file.error(
                    Some("store.database_url"),
                    "the URL carries a password; put it in an environment variable and name it \
                     with database_url_env = \"DUBAN_DATABASE_URL\"",
                ));
            }
            (Some(url), None) => url,
            (None, Some(env)) => secret::Secret::from_env(file, env)?.expose().to_owned(),
            (None, None) => DEFAULT_DATABASE_URL.to_owned(),
        };
        let feeds = check_feeds(raw.feeds, file, base, timezone)?;
        let connections = raw.server.connections(file)?;
        Ok(Self {
            screens: screens::screens(file, raw.screens, raw.access.is_some())?,
            access: screens::access(file, raw.access)?,
            live: screens::live(file, raw.live)?,
            warnings: warnings::warnings(file, raw.warnings, base)?,
            rankings: rankings::rankings(file, raw.rankings, base)?,
            path: file.path().to_path_buf(),
            listen,
            connections,
            database_url,
            feeds,
            timezone,
            holidays_dir,
            provisional_years,
            remind_from,
            matters_file,
            matters,
            grading: GradingPolicy { default, overrides },
            records,
            project_targets,
        })
    }

    /// Loads the holiday arrangements the config points at.
    pub fn load_calendar(&self) -> Result<Calendar, CalendarError> {
        Calendar::load_dir(&self.holidays_dir, self.provisional_years)
    }
}

/// `[records]`: each key within its range, and a ceiling on days that every matter of the
/// catalogue is within (its records would all be refused).
fn records(
    file: &TomlFile,
    raw: &RawRecords,
    matters: &[Matter],
    matters_file: &Path,
) -> Result<Plausible, ConfigError> {
    let default = Plausible::default();
    let earliest = match &raw.earliest {
        None => default.earliest,
        Some(text) => {
            chrono::NaiveDate::parse_from_str(text.get_ref(), "%Y-%m-%d").map_err(|_| {
                file.error_at(
                    text.span(),
                    format!(
                        "earliest is a date like \"2000-01-01\" (no record may be dated \
                         before it), not {:?}",
                        text.get_ref()
                    ),
                )
            })?
        }
    };
    let number = |value: &Option<Spanned<i64>>,
                  range: std::ops::RangeInclusive<i64>,
                  what: &str| {
        match value {
            None => Ok(None),
            Some(n) if range.contains(n.get_ref()) => Ok(Some(*n.get_ref() as u32)),
            Some(n) => Err(file.error_at(
                n.span(),
                format!(
                    "{what} is {} to {}, not {}",
                    range.start(),
                    range.end(),
                    n.get_ref()
                ),
            )),
        }
    };
    let years_ahead = number(
        &raw.years_ahead,
        1..=10,
        "years_ahead (how many years after it is read a record may be dated)",
    )?
    .unwrap_or(default.years_ahead);
    let max_days = number(
        &raw.max_limit_days,
        1..=10_000,
        "max_limit_days (the most working days a limit, legal or extension may be)",
    )?
    .unwrap_or(default.max_days);
    if let Some(matter) = matters
        .iter()
        .find(|m| m.legal_days.max(m.limit_days) > max_days)
    {
        let message = format!(
            "max_limit_days = {max_days}, but the matter {:?} in {} is given {} working days: \
             every record of it would be refused",
            matter.name,
            matters_file.display(),
            matter.legal_days.max(matter.limit_days)
        );
        return Err(match &raw.max_limit_days {
            Some(n) => file.error_at(n.span(), message),
            None => file.error(Some("records.max_limit_days"), message),
        });
    }
    Ok(Plausible {
        earliest,
        years_ahead,
        max_days,
    })
}

fn share(file: &TomlFile, value: Option<&Spanned<f64>>) -> Result<Option<f64>, ConfigError> {
    let Some(value) = value else { return Ok(None) };
    let share = *value.get_ref();
    if !(0.0..=1.0).contains(&share) {
        return Err(file.error_at(
            value.span(),
            format!("a share of the allowed days, from 0.0 to 1.0, got {share}"),
        ));
    }
    Ok(Some(share))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_PATH)
    }

    fn tokens() -> Vec<(String, String)> {
        vec![
            ("DUBAN_VIEWER_TOKEN".into(), "viewer-1, viewer-2".into()),
            ("DUBAN_SCREEN_TOKEN".into(), "screen-1".into()),
        ]
    }

    #[test]
    fn the_shipped_config_loads() {
        let file = TomlFile::read(&shipped_path())
            .unwrap()
            .with_env_fallback(tokens());
        let config = Config::from_file(&file).unwrap();
        assert_eq!(config.screens.len(), 2);
        assert_eq!(config.screens[1].pages.len(), 2);
        assert_eq!(config.screens[0].tokens[0].expose(), "screen-1");
        assert_eq!(config.access.viewer_tokens.len(), 2, "comma-separated");
        assert!(config.access.enforced);
        assert_eq!(config.timezone, chrono_tz::Asia::Shanghai);
        assert_eq!(config.grading.default.blue_max_share, 0.5);
        assert_eq!(config.project_targets.get("general_social"), Some(&30));
        assert_eq!(config.connections, Connections::default());
        assert!(config.access.frame_ancestors.is_empty());
        config.load_calendar().unwrap();
        assert!(config.matters_file.exists());
    }

    #[test]
    fn screens_and_access_are_checked() {
        let e = load_with(r#""stages", "trend""#, r#""stages", "pie""#).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("screens[0].panels[4]"));
        assert!(
            e.message.contains("no panel named \"pie\""),
            "{}",
            e.message
        );
        let e = load_with(
            "allowed_origins = []",
            r#"allowed_origins = ["portal.gov.cn/"]"#,
        )
        .unwrap_err();
        assert!(e.message.contains("is not an origin"), "{}", e.message);
        let e = load_with("rotate_seconds = 30", "rotate_seconds = 30\ncolour = 1").unwrap_err();
        assert!(e.message.contains("colour"), "{}", e.message);
        let e = load_with("rotate_seconds = 30", "rotate_seconds = 0").unwrap_err();
        assert!(
            e.message.contains("rotate_seconds = 5 or more"),
            "{}",
            e.message
        );
        // A wall's shape: from 16:9 to 64:9, width:height in whole numbers.
        let config = load_with(
            "rotate_seconds = 30",
            "rotate_seconds = 30\naspect = \"32:9\"",
        )
        .unwrap();
        assert_eq!(config.screens[1].aspect, Some((32, 9)));
        assert_eq!(config.screens[0].aspect, None, "the window's shape");
        for wrong in ["4:3", "80:9", "32x9", "0:9", "32:0", "3.5:1"] {
            let e = load_with(
                "rotate_seconds = 30",
                &format!("rotate_seconds = 30\naspect = \"{wrong}\""),
            )
            .unwrap_err();
            assert_eq!(e.key.as_deref(), Some("screens[1].aspect"), "{wrong}");
            assert!(
                e.message.contains(r#"from "16:9" to "64:9""#),
                "{}",
                e.message
            );
        }
        let e = load_with("[access]", "[no_access]").unwrap_err();
        assert!(
            e.message.contains("no_access"),
            "unknown table: {}",
            e.message
        );
        let without_access = {
            let text = std::fs::read_to_string(shipped_path()).unwrap();
            let start = text.find("[access]").unwrap();
            let end = text.find("[live]").unwrap();
            format!("{}{}", &text[..start], &text[end..])
        };
        let e = Config::from_file(
            &TomlFile::from_text(&shipped_path(), without_access).with_env_fallback(tokens()),
        )
        .unwrap_err();
        assert!(
            e.message.contains("without an [access] table"),
            "{}",
            e.message
        );
        let text = std::fs::read_to_string(shipped_path()).unwrap();
        let e = Config::from_file(&TomlFile::from_text(&shipped_path(), text.clone())).unwrap_err();
        assert!(
            e.message.contains("DUBAN_SCREEN_TOKEN is not set"),
            "{}",
            e.message
        );
        let offline =
            Config::from_file(&TomlFile::from_text(&shipped_path(), text).with_secrets_unused())
                .unwrap();
        assert!(
            !crate::http::access::allows(&offline.access, Some(""), None),
            "an unset token opens nothing"
        );
    }

    #[test]
    fn office_tokens_are_read_like_viewer_tokens() {
        let text = std::fs::read_to_string(shipped_path()).unwrap().replacen(
            "viewer_token_env = \"DUBAN_VIEWER_TOKEN\"",
            "viewer_token_env = \"DUBAN_VIEWER_TOKEN\"\noffice_token_env = \"DUBAN_OFFICE_TOKEN\"",
            1,
        );
        let file = |office: Option<&str>| {
            let mut env = tokens();
            env.extend(office.map(|v| ("DUBAN_OFFICE_TOKEN".to_owned(), v.to_owned())));
            TomlFile::from_text(&shipped_path(), text.clone()).with_env_fallback(env)
        };
        let config = Config::from_file(&file(Some("office-1, office-2"))).unwrap();
        let office: Vec<&str> = config
            .access
            .office_tokens
            .iter()
            .map(|t| t.expose())
            .collect();
        assert_eq!(office, ["office-1", "office-2"]);
        let shipped = load_with("[access]", "[access]").unwrap();
        assert!(
            shipped.access.office_tokens.is_empty(),
            "none unless configured"
        );
        let e = Config::from_file(&file(None)).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("access.office_token_env"), "{e}");
        assert!(
            e.message.contains("DUBAN_OFFICE_TOKEN is not set"),
            "{}",
            e.message
        );
    }

    fn load_with(replace: &str, by: &str) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(shipped_path()).unwrap();
        assert!(text.contains(replace), "the shipped config has {replace:?}");
        let file = TomlFile::from_text(&shipped_path(), text.replacen(replace, by, 1))
            .with_env_fallback(tokens());
        Config::from_file(&file)
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let err = load_with("blue_max_share = 0.5", "blue_max_share = 1.5").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("grading.blue_max_share"));
        assert!(err.line.is_some());
        assert!(err.to_string().contains("duban.toml:"), "{err}");

        let err = load_with(
            "timezone = \"Asia/Shanghai\"",
            "timezone = \"Asia/Beijing\"",
        )
        .unwrap_err();
        assert_eq!(err.key.as_deref(), Some("timezone"));
        assert_eq!(err.line, Some(text_line("timezone = ")));

        let err = load_with("[grading]", "[grading]\nblue_share = 0.4").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("grading.blue_share"));
        assert!(err.message.contains("unknown field"), "{}", err.message);

        let err = load_with("general_social = 30", "general_social = 0").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("project_targets.general_social"));

        let err =
            load_with("department = \"市生态环境局\"", "department = \"市环保局\"").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("grading.overrides[1].department"));
        assert!(
            err.message.contains("no department named"),
            "{}",
            err.message
        );

        let err =
            load_with("holidays_dir = \"holidays\"", "holidays_dir = \"holiday\"").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("calendar.holidays_dir"));

        let err = load_with("matters = \"matters.csv\"", "matters = \"matter.csv\"").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("catalogue.matters"));

        let err = load_with("max_connections = 4096", "max_connections = 2").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("server.max_connections"));
        assert!(err.message.contains("8 to 1000000"), "{}", err.message);
        let err =
            load_with("header_timeout_seconds = 10", "header_timeout_seconds = 0").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("server.header_timeout_seconds"));
        let config =
            load_with("header_timeout_seconds = 10", "header_timeout_seconds = 3").unwrap();
        assert_eq!(
            config.connections,
            Connections {
                header_timeout: std::time::Duration::from_secs(3),
                ..Connections::default()
            }
        );
        let err =
            load_with("idle_timeout_seconds = 60", "idle_timeout_seconds = 3601").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("server.idle_timeout_seconds"));
        assert!(err.message.contains("1 to 3600"), "{}", err.message);
        let config = load_with("idle_timeout_seconds = 60", "idle_timeout_seconds = 5").unwrap();
        assert_eq!(
            config.connections.idle_timeout,
            std::time::Duration::from_secs(5)
        );
    }

    #[test]
    fn framing_origins_are_plain_origins() {
        let config = load_with(
            "frame_ancestors = []",
            r#"frame_ancestors = ["https://portal.city.gov.cn", "http://[::1]:8000"]"#,
        )
        .unwrap();
        assert_eq!(config.access.frame_ancestors.len(), 2);
        // Written into the pages' policy, where a space or a ';' would add sources.
        for bad in [
            "portal.city.gov.cn",
            "https://portal.city.gov.cn/",
            "https://a.cn https://b.cn",
            "https://a.cn; script-src *",
            "https://",
        ] {
            let err = load_with(
                "frame_ancestors = []",
                &format!("frame_ancestors = [{bad:?}]"),
            )
            .unwrap_err();
            assert_eq!(err.key.as_deref(), Some("access.frame_ancestors"), "{bad}");
            assert!(err.message.contains("is not an origin"), "{}", err.message);
        }
    }

    #[test]
    fn records_bounds_are_read_and_checked() {
        let config = load_with("max_limit_days = 365", "max_limit_days = 200").unwrap();
        assert_eq!(config.records.max_days, 200);
        assert_eq!(config.records.years_ahead, 1);
        assert_eq!(
            config.records.earliest,
            chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()
        );
        let err = load_with("earliest = \"2000-01-01\"", "earliest = \"2000\"").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("records.earliest"));
        let err = load_with("years_ahead = 1", "years_ahead = 0").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("records.years_ahead"));
        assert!(err.message.contains("1 to 10, not 0"), "{}", err.message);
        // The catalogue's longest legal limit is 60 days.
        let err = load_with("max_limit_days = 365", "max_limit_days = 59").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("records.max_limit_days"));
        assert!(
            err.message.contains("every record of it would be refused"),
            "{}",
            err.message
        );
    }

    fn text_line(needle: &str) -> usize {
        let text = std::fs::read_to_string(shipped_path()).unwrap();
        text.lines().position(|l| l.starts_with(needle)).unwrap() + 1
    }
}
