//! What a feed is, as configured in `[[feeds]]`: where the records come from (HTTP JSON, a
//! folder of CSV or Excel files, an SQL query), when to poll (a cron schedule with seconds),
//! and how their fields, values and times map onto the canonical item record. Raw TOML is
//! checked here into a `FeedSpec` whose every part is known to be usable (the mapping against
//! the canonical record it produces, by `check`), and feed names are checked to be unique.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use super::check;
use crate::config::secret::Secret;
use crate::config::toml_file::{FileError, TomlFile};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeed {
    name: Spanned<String>,
    /// The name people read (the approval system's own, e.g. 省投资项目在线审批监管平台).
    title: Option<String>,
    kind: Spanned<String>,
    /// Cron with seconds: `sec min hour day-of-month month day-of-week`.
    schedule: Spanned<String>,
    #[serde(default = "yes")]
    enabled: bool,
    // http_json
    url: Option<Spanned<String>>,
    method: Option<Spanned<String>>,
    auth: Option<RawAuth>,
    pagination: Option<RawPagination>,
    records_path: Option<String>,
    since_param: Option<String>,
    timeout_seconds: Option<u64>,
    max_body_bytes: Option<u64>,
    // folder
    path: Option<Spanned<String>>,
    encoding: Option<Spanned<String>>,
    // sql
    dsn_env: Option<Spanned<String>>,
    query: Option<Spanned<String>>,
    // mapping (keys spanned too, so that a wrong one is reported at its line)
    time_format: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    fields: Names,
    #[serde(default)]
    pause_fields: Names,
    #[serde(default)]
    values: BTreeMap<Spanned<String>, Names>,
    retries: Option<u32>,
    stale_after_missed_runs: Option<u32>,
}

fn yes() -> bool {
    true
}

/// A table of names or words onto names or words, as written.
type Names = BTreeMap<Spanned<String>, Spanned<String>>;

/// Checks every `[[feeds]]` table; feed names must be unique, since a feed's runs, `since`
/// and quarantine are kept under its name.
pub(crate) fn check_feeds(
    raw: Vec<RawFeed>,
    file: &TomlFile,
    base: &Path,
    default_tz: Tz,
) -> Result<Vec<FeedSpec>, FileError> {
    let mut feeds: Vec<FeedSpec> = Vec::with_capacity(raw.len());
    let mut lines = Vec::with_capacity(raw.len());
    for raw_feed in raw {
        let span = raw_feed.name.span();
        if let Some(first) = feeds
            .iter()
            .position(|f| &f.name == raw_feed.name.get_ref())
        {
            return Err(file.error_at(
                span,
                format!(
                    "the feed at line {} is named {:?} too; give each feed a name of its own \
                     (its runs, since and quarantine are kept under it)",
                    lines[first],
                    raw_feed.name.get_ref()
                ),
            ));
        }
        lines.push(file.line(span));
        feeds.push(raw_feed.check(file, base, default_tz)?);
    }
    Ok(feeds)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    kind: Spanned<String>,
    token_env: Option<Spanned<String>>,
    username: Option<String>,
    password_env: Option<Spanned<String>>,
    header: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPagination {
    kind: Spanned<String>,
    page_param: Option<String>,
    size_param: Option<String>,
    size: Option<u32>,
    first_page: Option<u32>,
    cursor_param: Option<String>,
    next_field: Option<String>,
}

/// A checked feed.
#[derive(Debug, Clone)]
pub struct FeedSpec {
    pub name: String,
    /// Shown to people for the feed (its name when none is configured).
    pub title: String,
    pub schedule: cron::Schedule,
    pub enabled: bool,
    pub source: Source,
    pub mapping: Mapping,
    /// Attempts after a failed fetch before the run counts as failed.
    pub retries: u32,
    /// Failed runs in a row after which the feed is reported stale.
    pub stale_after_missed_runs: u32,
}

#[derive(Debug, Clone)]
pub enum Source {
    HttpJson(HttpJson),
    Folder(Folder),
    Sql(SqlSource),
}

impl Source {
    /// The kind's name, as `kind = "…"` in `[[feeds]]` writes it (shown by `/api/feeds`
    /// and `check-config`).
    pub fn kind(&self) -> &'static str {
        match self {
            Source::HttpJson(_) => "http_json",
            Source::Folder(_) => "folder",
            Source::Sql(_) => "sql",
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpJson {
    pub url: String,
    pub post: bool,
    pub auth: Auth,
    pub pagination: Pagination,
    /// Dotted path to the array of records in the response ("" = the response is the array).
    pub records_path: String,
    /// Query parameter that carries the newest `updated_at` seen, for incremental runs.
    pub since_param: Option<String>,
    pub timeout: Duration,
    pub max_body_bytes: u64,
}

#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Bearer(Secret),
    Basic { username: String, password: Secret },
    Header { name: String, value: Secret },
}

#[derive(Debug, Clone)]
pub enum Pagination {
    None,
    Page {
        page_param: String,
        size_param: String,
        size: u32,
        first_page: u32,
    },
    Cursor {
        cursor_param: String,
        next_field: String,
    },
}

#[derive(Debug, Clone)]
pub struct Folder {
    pub path: PathBuf,
    pub gbk: bool,
}

#[derive(Debug, Clone)]
pub struct SqlSource {
    pub dsn: Secret,
    pub query: String,
}

/// How a source record becomes a canonical one.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    /// canonical field → source field; fields not named keep their canonical name.
    pub fields: BTreeMap<String, String>,
    /// For a pause object: canonical (kind, from, to) → source field.
    pub pause_fields: BTreeMap<String, String>,
    /// canonical field → (source value → canonical value), e.g. status 已办结 → finished.
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// `None`: times are RFC 3339. Otherwise a chrono format for local times without offset.
    pub time_format: Option<String>,
    /// The zone of local times.
    pub timezone: Tz,
}

impl RawFeed {
    pub(crate) fn check(
        self,
        file: &TomlFile,
        base: &Path,
        default_tz: Tz,
    ) -> Result<FeedSpec, FileError> {
        let name = self.name.get_ref().clone();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        {
            return Err(file.error_at(self.name.span(), "a feed name is letters, digits, - and _"));
        }
        let schedule = cron::Schedule::from_str(self.schedule.get_ref()).map_err(|e| {
            file.error_at(
                self.schedule.span(),
                format!(
                    "not a cron schedule with seconds ({e}); e.g. \"0 */5 * * * *\" for every \
                     five minutes, \"0 0 8 * * Mon-Fri\" for 08:00 on weekdays (write day names)"
                ),
            )
        })?;
        let mapping = self.mapping(file, default_tz)?;
        let need = |value: Option<Spanned<String>>, key: &str| {
            value.ok_or_else(|| {
                file.error_at(
                    self.kind.span(),
                    format!("a {} feed needs `{key}`", self.kind.get_ref()),
                )
            })
        };
        let source = match self.kind.get_ref().as_str() {
            "http_json" => {
                let url = need(self.url, "url")?;
                if !(url.get_ref().starts_with("http://") || url.get_ref().starts_with("https://"))
                {
                    return Err(file.error_at(url.span(), "expected an http:// or https:// URL"));
                }
                let post = match self
                    .method
                    .as_ref()
                    .map(|m| m.get_ref().to_ascii_uppercase())
                {
                    None => false,
                    Some(m) if m == "GET" => false,
                    Some(m) if m == "POST" => true,
                    Some(_) => {
                        let span = self.method.as_ref().map(Spanned::span).unwrap_or_default();
                        return Err(file.error_at(span, "method is GET or POST"));
                    }
                };
                Source::HttpJson(HttpJson {
                    url: url.into_inner(),
                    post,
                    auth: self
                        .auth
                        .map(|a| a.check(file))
                        .transpose()?
                        .unwrap_or(Auth::None),
                    pagination: self
                        .pagination
                        .map(|p| p.check(file))
                        .transpose()?
                        .unwrap_or(Pagination::None),
                    records_path: self.records_path.unwrap_or_default(),
                    since_param: self.since_param,
                    timeout: Duration::from_secs(self.timeout_seconds.unwrap_or(30).max(1)),
                    max_body_bytes: self.max_body_bytes.unwrap_or(32 << 20),
                })
            }
            "folder" => {
                let path = need(self.path, "path")?;
                let gbk = match self
                    .encoding
                    .as_ref()
                    .map(|e| e.get_ref().to_ascii_lowercase())
                {
                    None => false,
                    Some(e) if e == "utf-8" || e == "utf8" => false,
                    Some(e) if e == "gbk" || e == "gb18030" || e == "gb2312" => true,
                    Some(_) => {
                        let span = self
                            .encoding
                            .as_ref()
                            .map(Spanned::span)
                            .unwrap_or_default();
                        return Err(file.error_at(span, "encoding is utf-8 or gbk"));
                    }
                };
                Source::Folder(Folder {
                    path: base.join(path.get_ref()),
                    gbk,
                })
            }
            "sql" => {
                let dsn = Secret::from_env(file, &need(self.dsn_env, "dsn_env")?)?;
                let query = need(self.query, "query")?;
                let text = query.get_ref().trim_start().to_ascii_lowercase();
                if !(text.starts_with("select") || text.starts_with("with")) {
                    return Err(file.error_at(query.span(), "the query must be a read-only SELECT"));
                }
                Source::Sql(SqlSource {
                    dsn,
                    query: query.into_inner(),
                })
            }
            other => {
                return Err(file.error_at(
                    self.kind.span(),
                    format!("unknown feed kind {other:?}; expected http_json, folder or sql"),
                ));
            }
        };
        Ok(FeedSpec {
            title: self
                .title
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| name.clone()),
            name,
            schedule,
            enabled: self.enabled,
            source,
            mapping,
            retries: self.retries.unwrap_or(2),
            stale_after_missed_runs: self.stale_after_missed_runs.unwrap_or(3).max(1),
        })
    }

    /// The feed's mapping, every part checked against the canonical record it produces
    /// (see `check`): a mistake in it would otherwise quarantine every record it touches.
    fn mapping(&self, file: &TomlFile, default_tz: Tz) -> Result<Mapping, FileError> {
        let at = |spanned: &Spanned<String>, checked: Result<(), String>| {
            checked.map_err(|message| file.error_at(spanned.span(), message))
        };
        for (canonical, source) in &self.fields {
            at(canonical, check::field(canonical.get_ref()))?;
            at(source, check::source_name(source.get_ref()))?;
        }
        for (key, source) in &self.pause_fields {
            at(key, check::pause_field(key.get_ref()))?;
            at(source, check::source_name(source.get_ref()))?;
        }
        for (field, words) in &self.values {
            at(field, check::values_field(field.get_ref()))?;
            for word in words.keys() {
                at(word, check::source_word(word.get_ref()))?;
            }
        }
        let time_format = match &self.time_format {
            Some(format) if format.get_ref() == "rfc3339" => None,
            Some(format) => {
                at(format, check::time_format(format.get_ref()))?;
                Some(format.get_ref().clone())
            }
            None => None,
        };
        let timezone = match &self.timezone {
            Some(tz) => tz.get_ref().parse().map_err(|_| {
                file.error_at(
                    tz.span(),
                    format!(
                        "unknown time zone {:?}; expected an IANA name like \"Asia/Shanghai\"",
                        tz.get_ref()
                    ),
                )
            })?,
            None => default_tz,
        };
        let plain = |names: &Names| -> BTreeMap<String, String> {
            names
                .iter()
                .map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone()))
                .collect()
        };
        let mapping = Mapping {
            fields: plain(&self.fields),
            pause_fields: plain(&self.pause_fields),
            values: self
                .values
                .iter()
                .map(|(field, words)| (field.get_ref().clone(), plain(words)))
                .collect(),
            time_format,
            timezone,
        };
        // Words onto times are read with the feed's format and zone: checked on the mapping.
        for (field, words) in &self.values {
            for target in words.values() {
                at(
                    target,
                    check::value(&mapping, field.get_ref(), target.get_ref()),
                )?;
            }
        }
        Ok(mapping)
    }
}

impl RawAuth {
    fn check(self, file: &TomlFile) -> Result<Auth, FileError> {
        let need = |value: Option<Spanned<String>>, key: &str| {
            value.ok_or_else(|| file.error_at(self.kind.span(), format!("this auth needs `{key}`")))
        };
        Ok(match self.kind.get_ref().as_str() {
            "bearer" => Auth::Bearer(Secret::from_env(file, &need(self.token_env, "token_env")?)?),
            "basic" => Auth::Basic {
                username: self.username.unwrap_or_default(),
                password: Secret::from_env(file, &need(self.password_env, "password_env")?)?,
            },
            "header" => Auth::Header {
                name: self.header.unwrap_or_else(|| "X-Api-Key".into()),
                value: Secret::from_env(file, &need(self.token_env, "token_env")?)?,
            },
            other => {
                return Err(file.error_at(
                    self.kind.span(),
                    format!("unknown auth kind {other:?}; expected bearer, basic or header"),
                ));
            }
        })
    }
}

impl RawPagination {
    fn check(self, file: &TomlFile) -> Result<Pagination, FileError> {
        Ok(match self.kind.get_ref().as_str() {
            "page" => Pagination::Page {
                page_param: self.page_param.unwrap_or_else(|| "page".into()),
                size_param: self.size_param.unwrap_or_else(|| "page_size".into()),
                size: self.size.unwrap_or(500).max(1),
                first_page: self.first_page.unwrap_or(1),
            },
            "cursor" => Pagination::Cursor {
                cursor_param: self.cursor_param.unwrap_or_else(|| "cursor".into()),
                next_field: self.next_field.unwrap_or_else(|| "next_cursor".into()),
            },
            other => {
                return Err(file.error_at(
                    self.kind.span(),
                    format!("unknown pagination {other:?}; expected page or cursor"),
                ));
            }
        })
    }
}
