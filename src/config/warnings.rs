//! `[warnings]`: whether warnings are sent, the rules (who is told what and when), the
//! quiet hours, the answer links, and the senders (`[[warnings.senders]]`, one table per
//! configured way of sending, its secrets named by `DUBAN_…` variables). No `[warnings]`
//! table: no warnings (and start-up says so).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveTime;
use serde::Deserialize;
use toml::Spanned;

use super::secret::Secret;
use super::toml_file::{FileError, TomlFile};
use crate::warnings::message::Channel;
use crate::warnings::quiet::SendWindow;
use crate::warnings::rules::{Forecast, Near, Rules, Rung, Target};
use crate::warnings::schedule::WorkingSchedule;
use crate::warnings::wording::{RobotRoute, Routes};

/// The validated `[warnings]`.
#[derive(Debug, Clone)]
pub struct Warnings {
    pub enabled: bool,
    pub rules: Rules,
    pub digest_at: WorkingSchedule,
    pub forecast_at: WorkingSchedule,
    pub routes: Routes,
    pub senders: Vec<SenderSpec>,
    pub window: SendWindow,
    /// Email outside the send window too (the default: mail waits in an inbox).
    pub email_any_time: bool,
    /// A contacts CSV imported at start-up (`duban contacts import` does it by hand).
    pub contacts: Option<PathBuf>,
    /// The start of the links in the messages (`https://duban.example.gov.cn`); empty in
    /// the file, the address the daemon is reached at (set when it starts listening).
    pub link_base: String,
    /// The key that signs the answer links; without it the links open the phone page
    /// only for someone with a token.
    pub link_key: Option<Secret>,
    /// How long an answer link stays good.
    pub link_days: u32,
    /// Attempts at a message before it is given up as failed.
    pub max_attempts: u32,
}

impl Default for Warnings {
    fn default() -> Self {
        Self {
            enabled: false,
            rules: Rules::default(),
            digest_at: schedule("0 0 9 * * *"),
            forecast_at: schedule("0 30 8 * * *"),
            routes: Routes::default(),
            senders: Vec::new(),
            window: SendWindow::default(),
            email_any_time: true,
            contacts: None,
            link_base: String::new(),
            link_key: None,
            link_days: 7,
            max_attempts: 8,
        }
    }
}

fn schedule(expression: &str) -> WorkingSchedule {
    match WorkingSchedule::parse(expression, true) {
        Ok(s) => s,
        Err(e) => unreachable!("the default schedule {expression}: {e}"),
    }
}

/// One configured sender.
#[derive(Debug, Clone)]
pub struct SenderSpec {
    pub name: String,
    pub channel: Channel,
    pub kind: SenderKind,
    /// A robot's departments (empty: every department's warnings).
    pub departments: Vec<String>,
    pub timeout: Duration,
    /// The secret that the provider's delivery reports must carry in the hook's path
    /// (`/hooks/sms/{name}?key=…`), where the provider signs nothing itself.
    pub hook_key: Option<Secret>,
}

#[derive(Debug, Clone)]
pub enum SenderKind {
    /// Records what would be sent (the demo's).
    Log,
    Aliyun {
        endpoint: String,
        access_key_id: Secret,
        access_key_secret: Secret,
        sign_name: String,
        template_code: String,
    },
    Tencent {
        endpoint: String,
        secret_id: Secret,
        secret_key: Secret,
        region: String,
        sdk_app_id: String,
        sign_name: String,
        template_id: String,
    },
    Gateway {
        url: String,
        body: String,
        content_type: String,
        token: Option<Secret>,
        id_pointer: Option<String>,
    },
    Smtp {
        host: String,
        port: u16,
        security: String,
        username: Option<String>,
        password: Option<Secret>,
        from: String,
        /// Certificate authorities (PEM) to trust besides the public ones.
        ca_file: Option<PathBuf>,
    },
    DingTalk {
        webhook: Secret,
        secret: Option<Secret>,
    },
    WeCom {
        webhook: Secret,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWarnings {
    enabled: Option<bool>,
    contacts: Option<Spanned<String>>,
    link_base: Option<Spanned<String>>,
    link_key_env: Option<Spanned<String>>,
    link_days: Option<Spanned<i64>>,
    quiet_hours: Option<Spanned<String>>,
    email_any_time: Option<bool>,
    max_attempts: Option<Spanned<i64>>,
    sms: Option<Spanned<String>>,
    email: Option<Spanned<String>>,
    #[serde(default)]
    rules: RawRules,
    #[serde(default)]
    senders: Vec<Spanned<RawSender>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    near: Option<RawRule>,
    overdue: Option<RawRule>,
    digest: Option<RawRule>,
    forecast: Option<RawRule>,
    escalation: Option<Vec<RawRule>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    enabled: Option<bool>,
    to: Option<Vec<Spanned<String>>>,
    days_left: Option<Spanned<i64>>,
    days: Option<Spanned<i64>>,
    after_days: Option<Spanned<i64>>,
    schedule: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSender {
    name: Spanned<String>,
    kind: Spanned<String>,
    /// For `log`: the channel it stands in for.
    channel: Option<Spanned<String>>,
    endpoint: Option<String>,
    timeout_seconds: Option<Spanned<i64>>,
    hook_key_env: Option<Spanned<String>>,
    // Aliyun
    access_key_id_env: Option<Spanned<String>>,
    access_key_secret_env: Option<Spanned<String>>,
    template_code: Option<Spanned<String>>,
    // Aliyun and Tencent
    sign_name: Option<Spanned<String>>,
    // Tencent
    secret_id_env: Option<Spanned<String>>,
    secret_key_env: Option<Spanned<String>>,
    region: Option<String>,
    sdk_app_id: Option<Spanned<String>>,
    template_id: Option<Spanned<String>>,
    // Gateway
    url: Option<Spanned<String>>,
    body: Option<Spanned<String>>,
    content_type: Option<String>,
    token_env: Option<Spanned<String>>,
    id_pointer: Option<String>,
    // SMTP
    host: Option<Spanned<String>>,
    port: Option<Spanned<i64>>,
    security: Option<Spanned<String>>,
    username: Option<String>,
    password_env: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    ca_file: Option<Spanned<String>>,
    // Robots
    webhook_env: Option<Spanned<String>>,
    secret_env: Option<Spanned<String>>,
    departments: Option<Vec<String>>,
}

pub(super) fn warnings(
    file: &TomlFile,
    raw: Option<Spanned<RawWarnings>>,
    base: &Path,
) -> Result<Warnings, FileError> {
    let mut out = Warnings::default();
    let Some(raw) = raw else {
        return Ok(out);
    };
    let table = raw.span();
    let raw = raw.into_inner();
    out.enabled = raw.enabled.unwrap_or(true);
    out.contacts = raw.contacts.as_ref().map(|c| base.join(c.get_ref()));
    if let Some(link) = &raw.link_base {
        let text = link.get_ref().trim_end_matches('/');
        if !(text.starts_with("http://") || text.starts_with("https://")) {
            return Err(file.error_at(
                link.span(),
                format!("link_base is the address the recipients open duban at, like \"https://duban.example.gov.cn\", not {:?}", link.get_ref()),
            ));
        }
        out.link_base = text.to_owned();
    }
    out.link_key = raw
        .link_key_env
        .as_ref()
        .map(|name| Secret::from_env(file, name))
        .transpose()?;
    // A short key is refused here, at start-up, rather than the links quietly going out
    // unsigned. (Empty is a command that reads no secrets.)
    if let (Some(key), Some(name)) = (&out.link_key, &raw.link_key_env) {
        let len = key.expose().len();
        if len > 0 && len < crate::warnings::links::MIN_KEY_BYTES {
            return Err(file.error_at(
                name.span(),
                format!(
                    "the link key in {} has {len} bytes; at least {} are needed: make one with `openssl rand -hex 32`",
                    name.get_ref(),
                    crate::warnings::links::MIN_KEY_BYTES
                ),
            ));
        }
    }
    if let Some(days) = &raw.link_days {
        out.link_days = bounded(
            file,
            days,
            1,
            90,
            "link_days",
            "days an answer link stays good",
        )?;
    }
    if let Some(n) = &raw.max_attempts {
        out.max_attempts = bounded(
            file,
            n,
            1,
            50,
            "max_attempts",
            "attempts at a message before it is given up",
        )?;
    }
    if let Some(hours) = &raw.quiet_hours {
        out.window = window(hours.get_ref()).ok_or_else(|| {
            file.error_at(
                hours.span(),
                format!(
                    "quiet_hours is the send window, like \"08:00-20:00\" (SMS and robots only \
                     inside it, on working days), not {:?}",
                    hours.get_ref()
                ),
            )
        })?;
    }
    out.email_any_time = raw.email_any_time.unwrap_or(true);
    out.rules = rules(file, &raw.rules, &mut out)?;
    for sender in &raw.senders {
        out.senders.push(sender_spec(file, sender)?);
    }
    for (i, s) in out.senders.iter().enumerate() {
        if out.senders[..i].iter().any(|t| t.name == s.name) {
            return Err(file.error_at(
                raw.senders[i].get_ref().name.span(),
                format!(
                    "a second sender named {:?}; each needs its own name",
                    s.name
                ),
            ));
        }
    }
    let pick = |key: &Option<Spanned<String>>,
                channel: Channel,
                what: &str|
     -> Result<Option<String>, FileError> {
        let Some(name) = key else { return Ok(None) };
        match out.senders.iter().find(|s| &s.name == name.get_ref()) {
            Some(s) if s.channel == channel => Ok(Some(s.name.clone())),
            Some(s) => Err(file.error_at(
                name.span(),
                format!(
                    "{what} names the sender {:?}, which sends by {}, not {}",
                    s.name,
                    s.channel.as_str(),
                    channel.as_str()
                ),
            )),
            None => Err(file.error_at(
                name.span(),
                format!(
                    "{what} names no configured sender {:?}; the [[warnings.senders]] are: {}",
                    name.get_ref(),
                    names(&out.senders)
                ),
            )),
        }
    };
    out.routes = Routes {
        sms: pick(&raw.sms, Channel::Sms, "sms")?,
        email: pick(&raw.email, Channel::Email, "email")?,
        robots: out
            .senders
            .iter()
            .filter(|s| s.channel == Channel::Robot)
            .map(|s| RobotRoute {
                sender: s.name.clone(),
                departments: s.departments.clone(),
            })
            .collect(),
    };
    // A rule that sends by a channel nobody serves would be silent: say so now.
    if out.enabled {
        for (channel, served) in [
            (Channel::Sms, out.routes.sms.is_some()),
            (Channel::Email, out.routes.email.is_some()),
        ] {
            if !served && uses(&out.rules, channel) {
                return Err(file.error_at(
                    table,
                    format!(
                        "the rules send by {c} but [warnings] names no {c} sender: add \
                         {c} = \"NAME\" naming one of the [[warnings.senders]] ({}), or take \
                         \"…:{c}\" out of the rules' `to`",
                        names(&out.senders),
                        c = channel.as_str()
                    ),
                ));
            }
        }
    }
    Ok(out)
}

fn names(senders: &[SenderSpec]) -> String {
    if senders.is_empty() {
        "none yet".into()
    } else {
        senders
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn uses(rules: &Rules, channel: Channel) -> bool {
    let lists = rules
        .near
        .iter()
        .map(|n| &n.to)
        .chain(rules.overdue.iter())
        .chain(rules.digest.iter())
        .chain(rules.forecast.iter().map(|f| &f.to))
        .chain(rules.escalation.iter().map(|r| &r.to));
    lists
        .flatten()
        .any(|t| matches!(t, Target::Contact(_, c) if *c == channel))
}

fn window(text: &str) -> Option<SendWindow> {
    let (a, b) = text.split_once('-')?;
    let opens = NaiveTime::parse_from_str(a.trim(), "%H:%M").ok()?;
    let closes = NaiveTime::parse_from_str(b.trim(), "%H:%M").ok()?;
    (opens < closes).then_some(SendWindow { opens, closes })
}

fn bounded(
    file: &TomlFile,
    value: &Spanned<i64>,
    min: i64,
    max: i64,
    key: &str,
    what: &str,
) -> Result<u32, FileError> {
    let n = *value.get_ref();
    if (min..=max).contains(&n) {
        Ok(n as u32)
    } else {
        Err(file.error_at(
            value.span(),
            format!("{key} is {min} to {max} ({what}), not {n}"),
        ))
    }
}

fn targets(file: &TomlFile, raw: &RawRule, default: Vec<Target>) -> Result<Vec<Target>, FileError> {
    let Some(to) = &raw.to else {
        return Ok(default);
    };
    to.iter()
        .map(|t| {
            Target::parse(t.get_ref()).ok_or_else(|| {
                file.error_at(
                    t.span(),
                    format!(
                        "{:?} is not a recipient: write ROLE:CHANNEL with ROLE one of handler, \
                         head, office, steward, leader and CHANNEL sms or email, or \"robot\"",
                        t.get_ref()
                    ),
                )
            })
        })
        .collect()
}

fn rules(file: &TomlFile, raw: &RawRules, out: &mut Warnings) -> Result<Rules, FileError> {
    let defaults = Rules::default();
    let on = |r: &Option<RawRule>| r.as_ref().is_none_or(|r| r.enabled.unwrap_or(true));
    let mut rules = Rules {
        near: None,
        overdue: None,
        digest: None,
        forecast: None,
        escalation: Vec::new(),
    };
    if on(&raw.near) {
        let empty = RawRule::default();
        let r = raw.near.as_ref().unwrap_or(&empty);
        let d = defaults.near.clone().unwrap_or(Near {
            days_left: 1,
            to: vec![],
        });
        rules.near = Some(Near {
            days_left: match &r.days_left {
                Some(v) => bounded(
                    file,
                    v,
                    0,
                    30,
                    "days_left",
                    "working days left that make a yellow item 临期",
                )?,
                None => d.days_left,
            },
            to: targets(file, r, d.to)?,
        });
    }
    if on(&raw.overdue) {
        let empty = RawRule::default();
        rules.overdue = Some(targets(
            file,
            raw.overdue.as_ref().unwrap_or(&empty),
            defaults.overdue.clone().unwrap_or_default(),
        )?);
    }
    if on(&raw.digest) {
        let empty = RawRule::default();
        let r = raw.digest.as_ref().unwrap_or(&empty);
        rules.digest = Some(targets(
            file,
            r,
            defaults.digest.clone().unwrap_or_default(),
        )?);
        if let Some(s) = &r.schedule {
            out.digest_at = WorkingSchedule::parse(s.get_ref(), true)
                .map_err(|e| file.error_at(s.span(), e))?;
        }
    }
    if on(&raw.forecast) {
        let empty = RawRule::default();
        let r = raw.forecast.as_ref().unwrap_or(&empty);
        let d = defaults.forecast.clone().unwrap_or(Forecast {
            days: 3,
            to: vec![],
        });
        rules.forecast = Some(Forecast {
            days: match &r.days {
                Some(v) => bounded(
                    file,
                    v,
                    1,
                    30,
                    "days",
                    "working days ahead the forecast looks",
                )?,
                None => d.days,
            },
            to: targets(file, r, d.to)?,
        });
        if let Some(s) = &r.schedule {
            out.forecast_at = WorkingSchedule::parse(s.get_ref(), true)
                .map_err(|e| file.error_at(s.span(), e))?;
        }
    }
    match &raw.escalation {
        None => rules.escalation = defaults.escalation.clone(),
        Some(rungs) => {
            for r in rungs.iter().filter(|r| r.enabled.unwrap_or(true)) {
                let Some(after) = &r.after_days else {
                    return Err(file.error_at(
                        r.to.as_ref().and_then(|t| t.first()).map_or(0..0, |t| t.span()),
                        "each [[warnings.rules.escalation]] needs after_days (working days red before it is escalated)",
                    ));
                };
                let after_days = bounded(
                    file,
                    after,
                    1,
                    60,
                    "after_days",
                    "working days red before the escalation",
                )?;
                if rules
                    .escalation
                    .last()
                    .is_some_and(|prev: &Rung| prev.after_days >= after_days)
                {
                    return Err(file.error_at(
                        after.span(),
                        "the escalation rungs go up: each after_days more than the one before",
                    ));
                }
                rules.escalation.push(Rung {
                    after_days,
                    to: targets(file, r, vec![])?,
                });
            }
        }
    }
    Ok(rules)
}

fn sender_spec(file: &TomlFile, spanned: &Spanned<RawSender>) -> Result<SenderSpec, FileError> {
    let raw = spanned.get_ref();
    let name = raw.name.get_ref().clone();
    let need_text = |field: &Option<Spanned<String>>, key: &str| -> Result<String, FileError> {
        field.as_ref().map(|v| v.get_ref().clone()).ok_or_else(|| {
            file.error_at(
                raw.kind.span(),
                format!("a {} sender needs {key}", raw.kind.get_ref()),
            )
        })
    };
    let need_secret = |field: &Option<Spanned<String>>, key: &str| -> Result<Secret, FileError> {
        match field {
            Some(v) => Secret::from_env(file, v),
            None => Err(file.error_at(
                raw.kind.span(),
                format!("a {} sender needs {key} (the name of a DUBAN_… environment variable holding it)", raw.kind.get_ref()),
            )),
        }
    };
    let secret = |field: &Option<Spanned<String>>| {
        field
            .as_ref()
            .map(|v| Secret::from_env(file, v))
            .transpose()
    };
    let endpoint = |default: &str| raw.endpoint.clone().unwrap_or_else(|| default.to_owned());
    let (channel, kind) = match raw.kind.get_ref().as_str() {
        "log" => {
            let channel = match &raw.channel {
                None => Channel::Sms,
                Some(c) => Channel::parse(c.get_ref()).ok_or_else(|| {
                    file.error_at(
                        c.span(),
                        format!("channel is sms, email or robot, not {:?}", c.get_ref()),
                    )
                })?,
            };
            (channel, SenderKind::Log)
        }
        "aliyun" => (
            Channel::Sms,
            SenderKind::Aliyun {
                endpoint: endpoint("https://dysmsapi.aliyuncs.com"),
                access_key_id: need_secret(&raw.access_key_id_env, "access_key_id_env")?,
                access_key_secret: need_secret(
                    &raw.access_key_secret_env,
                    "access_key_secret_env",
                )?,
                sign_name: need_text(&raw.sign_name, "sign_name (the approved 短信签名)")?,
                template_code: need_text(
                    &raw.template_code,
                    "template_code (the approved template, SMS_…)",
                )?,
            },
        ),
        "tencent" => (
            Channel::Sms,
            SenderKind::Tencent {
                endpoint: endpoint("https://sms.tencentcloudapi.com"),
                secret_id: need_secret(&raw.secret_id_env, "secret_id_env")?,
                secret_key: need_secret(&raw.secret_key_env, "secret_key_env")?,
                region: raw.region.clone().unwrap_or_else(|| "ap-guangzhou".into()),
                sdk_app_id: need_text(&raw.sdk_app_id, "sdk_app_id")?,
                sign_name: need_text(&raw.sign_name, "sign_name (the approved 短信签名)")?,
                template_id: need_text(&raw.template_id, "template_id (the approved template)")?,
            },
        ),
        "gateway" => (
            Channel::Sms,
            SenderKind::Gateway {
                url: need_text(&raw.url, "url")?,
                body: need_text(
                    &raw.body,
                    "body (a template with {mobile}, {text}, {id}, {param:NAME})",
                )?,
                content_type: raw
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "application/json".into()),
                token: secret(&raw.token_env)?,
                id_pointer: raw.id_pointer.clone(),
            },
        ),
        "smtp" => {
            let port = match &raw.port {
                None => 587,
                Some(p) => u16::try_from(*p.get_ref())
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| {
                        file.error_at(p.span(), format!("port is 1 to 65535, not {}", p.get_ref()))
                    })?,
            };
            let security = match &raw.security {
                None => "starttls".to_owned(),
                Some(s) if ["starttls", "tls", "plain"].contains(&s.get_ref().as_str()) => {
                    s.get_ref().clone()
                }
                Some(s) => {
                    return Err(file.error_at(
                        s.span(),
                        format!("security is \"starttls\", \"tls\" (implicit, port 465) or \"plain\" (an intranet relay), not {:?}", s.get_ref()),
                    ));
                }
            };
            (
                Channel::Email,
                SenderKind::Smtp {
                    host: need_text(&raw.host, "host")?,
                    port,
                    security,
                    username: raw.username.clone(),
                    password: secret(&raw.password_env)?,
                    from: need_text(&raw.from, "from (\"督办办公室 <duban@example.gov.cn>\")")?,
                    ca_file: match &raw.ca_file {
                        None => None,
                        Some(ca) => {
                            let base = file.path().parent().unwrap_or(Path::new("."));
                            let path = base.join(ca.get_ref());
                            if !path.is_file() {
                                return Err(file.error_at(
                                    ca.span(),
                                    format!(
                                        "ca_file {} is not a file: give the PEM file of the certificate authority that signed the SMTP server's certificate",
                                        path.display()
                                    ),
                                ));
                            }
                            Some(path)
                        }
                    },
                },
            )
        }
        "dingtalk" => (
            Channel::Robot,
            SenderKind::DingTalk {
                webhook: need_secret(
                    &raw.webhook_env,
                    "webhook_env (the robot's webhook URL carries its token)",
                )?,
                secret: secret(&raw.secret_env)?,
            },
        ),
        "wecom" => (
            Channel::Robot,
            SenderKind::WeCom {
                webhook: need_secret(
                    &raw.webhook_env,
                    "webhook_env (the robot's webhook URL carries its key)",
                )?,
            },
        ),
        other => {
            return Err(file.error_at(
                raw.kind.span(),
                format!("unknown sender kind {other:?}; expected aliyun, tencent, gateway, smtp, dingtalk, wecom or log"),
            ));
        }
    };
    let timeout = match &raw.timeout_seconds {
        None => Duration::from_secs(10),
        Some(t) => Duration::from_secs(u64::from(bounded(
            file,
            t,
            1,
            120,
            "timeout_seconds",
            "seconds a send may take",
        )?)),
    };
    Ok(SenderSpec {
        name,
        channel,
        kind,
        departments: raw.departments.clone().unwrap_or_default(),
        timeout,
        hook_key: secret(&raw.hook_key_env)?,
    })
}
