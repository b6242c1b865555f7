//! `[[screens]]`, `[access]` and `[live]`: which big-screens exist and what each shows, the
//! tokens that open screens and pages (and the office's, which also act), the origins
//! allowed to open the websocket or to embed the pages in a frame, and the websocket's
//! heartbeat and lag limits.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::secret::Secret;
use super::toml_file::{FileError, TomlFile};

/// The panels a screen page can show, as `[[screens]] panels` names them.
pub const PANELS: [&str; 10] = [
    "headline",
    "ring",
    "departments",
    "stages",
    "trend",
    "projects",
    "red_list",
    "overdue_list",
    "warnings",
    "ranking",
];

/// One big-screen layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    /// In the URL: `/screen/{name}`.
    pub name: String,
    pub title: String,
    /// One or more pages of panel names; several rotate every `rotate_seconds`.
    pub pages: Vec<Vec<String>>,
    pub rotate_seconds: u32,
    /// The wall's shape as width and height (`aspect = "32:9"`), when its display does
    /// not say it: the page is laid out for it and stretched to the window. `None`: the
    /// window's shape.
    pub aspect: Option<(u32, u32)>,
    /// Tokens that open this screen (besides viewer tokens).
    pub tokens: Vec<Secret>,
}

#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Tokens for the pages, the API and every screen. Empty with no `[access]`: then
    /// everything is open (a warning is logged at start-up).
    pub viewer_tokens: Vec<Secret>,
    /// Tokens of the supervision office: they open all that a viewer token opens, and also
    /// act (import contacts, see numbers unmasked). None without `office_token_env`.
    pub office_tokens: Vec<Secret>,
    /// Whether `[access]` was configured at all.
    pub enforced: bool,
    /// Browser origins allowed on `/ws` besides the daemon's own.
    pub allowed_origins: Vec<String>,
    /// Origins (a portal) whose pages may show duban's pages in a frame; none by default.
    pub frame_ancestors: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    pub heartbeat: Duration,
    /// A client whose send has not completed in this long is closed.
    pub max_lag: Duration,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(20),
            max_lag: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScreen {
    name: Spanned<String>,
    title: String,
    panels: Option<Vec<Spanned<String>>>,
    pages: Option<Vec<Vec<Spanned<String>>>>,
    #[serde(default)]
    rotate_seconds: u32,
    aspect: Option<Spanned<String>>,
    token_env: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccess {
    viewer_token_env: Spanned<String>,
    office_token_env: Option<Spanned<String>>,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    frame_ancestors: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLive {
    heartbeat_seconds: Option<Spanned<u64>>,
    max_lag_seconds: Option<Spanned<u64>>,
}

/// Several tokens may be given in one variable, separated by commas, so one can be revoked
/// (removed) while the others stay valid.
fn tokens(file: &TomlFile, env: &Spanned<String>) -> Result<Vec<Secret>, FileError> {
    Ok(Secret::from_env(file, env)?.split(','))
}

/// The shortest carousel turn: a page must stay long enough to be read.
const MIN_ROTATE_SECONDS: u32 = 5;

/// A wall's shape, "width:height" in whole numbers, from 16:9 (an ordinary screen) to 64:9
/// (four of them side by side): the page lays out a stage 1080 high and up to 7680 wide.
fn aspect(file: &TomlFile, raw: &Spanned<String>) -> Result<(u32, u32), FileError> {
    let shape = raw
        .get_ref()
        .split_once(':')
        .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)));
    // w/h from 16/9 to 64/9, in whole numbers: 9w from 16h to 64h.
    let (nine_w, h) = shape.map_or((0, 0), |(w, h)| (9 * u64::from(w), u64::from(h)));
    match shape {
        Some(shape) if h > 0 && (16 * h..=64 * h).contains(&nine_w) => Ok(shape),
        _ => Err(file.error_at(
            raw.span(),
            format!(
                "aspect is the wall's width:height, from \"16:9\" to \"64:9\" (like \"32:9\" or \"48:9\"), not {:?}",
                raw.get_ref()
            ),
        )),
    }
}

pub(super) fn screens(
    file: &TomlFile,
    raw: Vec<RawScreen>,
    access_configured: bool,
) -> Result<Vec<Screen>, FileError> {
    let mut screens: Vec<Screen> = Vec::new();
    for s in raw {
        let name = s.name.get_ref();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(file.error_at(
                s.name.span(),
                "a screen name is letters, digits, - and _ (it goes in the URL)",
            ));
        }
        if screens.iter().any(|o| &o.name == name) {
            return Err(file.error_at(s.name.span(), format!("two screens are named {name:?}")));
        }
        let pages = match (s.panels, s.pages) {
            (Some(panels), None) => vec![panels],
            (None, Some(pages)) if !pages.is_empty() => pages,
            _ => {
                return Err(file.error_at(
                    s.name.span(),
                    "give the screen either panels = [...] (one page) or pages = [[...], [...]]",
                ));
            }
        };
        if pages.len() > 1 && s.rotate_seconds < MIN_ROTATE_SECONDS {
            return Err(file.error_at(
                s.name.span(),
                format!(
                    "a screen with several pages needs rotate_seconds = {MIN_ROTATE_SECONDS} or more, or its other pages are never shown"
                ),
            ));
        }
        if let Some(env) = &s.token_env
            && !access_configured
        {
            return Err(file.error_at(
                env.span(),
                "a screen token has no effect without an [access] table (everything is open); add [access] with viewer_token_env",
            ));
        }
        let mut checked = Vec::with_capacity(pages.len());
        for page in pages {
            if page.is_empty() {
                return Err(file.error_at(s.name.span(), "a page of this screen has no panels"));
            }
            let mut names = Vec::with_capacity(page.len());
            for panel in page {
                if !PANELS.contains(&panel.get_ref().as_str()) {
                    return Err(file.error_at(
                        panel.span(),
                        format!(
                            "no panel named {:?}; the panels are {}",
                            panel.get_ref(),
                            PANELS.join(", ")
                        ),
                    ));
                }
                names.push(panel.into_inner());
            }
            checked.push(names);
        }
        screens.push(Screen {
            name: name.clone(),
            title: s.title,
            pages: checked,
            rotate_seconds: s.rotate_seconds,
            aspect: s.aspect.as_ref().map(|a| aspect(file, a)).transpose()?,
            tokens: match &s.token_env {
                Some(env) => tokens(file, env)?,
                None => Vec::new(),
            },
        });
    }
    Ok(screens)
}

pub(super) fn access(file: &TomlFile, raw: Option<RawAccess>) -> Result<Access, FileError> {
    let Some(raw) = raw else {
        return Ok(Access::default());
    };
    origins(file, "access.allowed_origins", &raw.allowed_origins)?;
    origins(file, "access.frame_ancestors", &raw.frame_ancestors)?;
    Ok(Access {
        viewer_tokens: tokens(file, &raw.viewer_token_env)?,
        office_tokens: match &raw.office_token_env {
            Some(env) => tokens(file, env)?,
            None => Vec::new(),
        },
        enforced: true,
        allowed_origins: raw.allowed_origins,
        frame_ancestors: raw.frame_ancestors,
    })
}

/// Each of `list` is an origin: scheme, host and port, nothing else. (They are compared
/// with the browser's `Origin` and written into the Content-Security-Policy header, where a
/// space or a `;` would start another source or directive.)
fn origins(file: &TomlFile, key: &str, list: &[String]) -> Result<(), FileError> {
    for origin in list {
        let host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        let valid = host.is_some_and(is_host);
        if !valid {
            return Err(file.error(
                Some(key),
                format!("{origin:?} is not an origin like https://screen.example.gov.cn (scheme, host, port; no path)"),
            ));
        }
    }
    Ok(())
}

/// A host name or address with an optional port (`screen.gov.cn:8080`, `[::1]:8080`): the
/// characters an origin's host has, and none that separates sources in a policy.
pub fn is_host(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
}

pub(super) fn live(file: &TomlFile, raw: Option<RawLive>) -> Result<Live, FileError> {
    let mut live = Live::default();
    let Some(raw) = raw else { return Ok(live) };
    let seconds = |value: &Spanned<u64>, range: std::ops::RangeInclusive<u64>| {
        let v = *value.get_ref();
        if range.contains(&v) {
            Ok(Duration::from_secs(v))
        } else {
            Err(file.error_at(
                value.span(),
                format!("seconds from {} to {}, got {v}", range.start(), range.end()),
            ))
        }
    };
    if let Some(v) = &raw.heartbeat_seconds {
        live.heartbeat = seconds(v, 1..=300)?;
    }
    if let Some(v) = &raw.max_lag_seconds {
        live.max_lag = seconds(v, 1..=600)?;
    }
    Ok(live)
}
