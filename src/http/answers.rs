//! Answers and silences. A department answers (回告) through the signed link its warnings
//! carry: `GET /m/answer?d=&e=&s=` is a phone page of its open red and yellow items, each
//! with a form, and `POST /m/answer` records the answer. Neither needs a token: the
//! signature (`warnings::links`) is what lets them in, and it opens that one department's
//! items only. The office silences an item through `POST /api/items/{id}/silence`, behind
//! the API's guard. The pages are rendered here, every value escaped, with no script.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate};
use serde::Deserialize;

use super::ApiError;
use crate::grading::Grade;
use crate::ingest::Shared;
use crate::store::answers::{AnswerKind, NewAnswer};
use crate::warnings::links::{self, LinkError, LinkKey};
use crate::warnings::wording::escape;

/// The longest reason kept, in characters.
const MAX_REASON_CHARS: usize = 500;
/// The longest name kept, in characters.
const MAX_NAME_CHARS: usize = 50;
/// Bodies past this are refused (413) unread: an answer with the longest reason in Chinese
/// (500 × 3 bytes, percent-encoded × 3) fits, little more does.
pub const MAX_BODY_BYTES: usize = 6 * 1024;

/// The link's three values, as the query (or the form) carries them.
#[derive(Debug, Default, Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    d: String,
    #[serde(default)]
    e: String,
    #[serde(default)]
    s: String,
    /// The item just answered (after the form's redirect), to say so.
    #[serde(default)]
    done: Option<String>,
}

/// The answer form.
#[derive(Debug, Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    d: String,
    #[serde(default)]
    e: String,
    #[serde(default)]
    s: String,
    #[serde(default)]
    item_id: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    name: String,
}

/// Why a link does not open the page.
enum Refused {
    /// No `link_key` in `[warnings]`: no link is signed, so none can be checked.
    NotConfigured,
    Invalid,
    Expired(i64),
}

/// The department a link opens, with its expiry, or why it opens nothing.
fn check_link(shared: &Shared, d: &str, e: &str, s: &str) -> Result<(String, i64), Refused> {
    let Some(key) = shared
        .config
        .warnings
        .link_key
        .as_ref()
        .and_then(|k| LinkKey::new(k.expose().as_bytes()).ok())
    else {
        return Err(Refused::NotConfigured);
    };
    let expires: i64 = e.parse().map_err(|_| Refused::Invalid)?;
    match links::verify(&key, d, expires, s, shared.clock.now().timestamp()) {
        Ok(()) => Ok((d.to_owned(), expires)),
        Err(LinkError::Expired { expired_at }) => Err(Refused::Expired(expired_at)),
        Err(_) => Err(Refused::Invalid),
    }
}

fn today(shared: &Shared) -> NaiveDate {
    shared
        .clock
        .now()
        .with_timezone(&shared.config.timezone)
        .date_naive()
}

/// A local time in words, from unix seconds.
fn local_time(shared: &Shared, unix: i64) -> String {
    DateTime::from_timestamp(unix, 0).map_or_else(
        || unix.to_string(),
        |t| {
            t.with_timezone(&shared.config.timezone)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        },
    )
}

/// One open item of the department, as the page lists it.
struct Listed {
    item_id: String,
    project: String,
    matter: String,
    grade: Grade,
    deadline_date: NaiveDate,
    remaining: i64,
}

/// The department's open red and yellow items graded today, red first, then the least
/// time left.
fn department_items(shared: &Shared, department: &str, today: NaiveDate) -> Vec<Listed> {
    let board = shared.board();
    let names = board.names();
    let mut out: Vec<Listed> = board
        .entries()
        .iter()
        .filter(|e| e.is_open() && &**names.department(e.labels.department) == department)
        .filter_map(|e| {
            let g = e.grade_on(&shared.calendar, today)?;
            if g.grade == Grade::Blue {
                return None;
            }
            let project = names.project(e.labels.project);
            Some(Listed {
                item_id: e.item_id.clone(),
                project: if project.name.is_empty() {
                    project.code.to_string()
                } else {
                    project.name.to_string()
                },
                matter: names.matter(e.labels.matter).to_string(),
                grade: g.grade,
                deadline_date: g.deadline_date,
                remaining: g.remaining,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (a.grade != Grade::Red, a.remaining, &a.item_id).cmp(&(
            b.grade != Grade::Red,
            b.remaining,
            &b.item_id,
        ))
    });
    out
}

/// Whether `item_id` is an open item of `department` now.
fn is_open_item_of(shared: &Shared, item_id: &str, department: &str) -> bool {
    let board = shared.board();
    board.get(item_id).is_some_and(|e| {
        e.is_open() && &**board.names().department(e.labels.department) == department
    })
}

/// An HTML answer that is never cached: it shows a department's items without a token.
fn html_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn page_start(title: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1, viewport-fit=cover\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<meta name=\"robots\" content=\"noindex\">\n\
         <title>{} · 工程建设项目审批督办</title>\n<link rel=\"stylesheet\" href=\"/static/pages.css\">\n\
         </head>\n<body class=\"phone answer-page\">\n<header class=\"topbar\">\
         <div class=\"brand\">审批督办 <small>预警回告</small></div></header>\n",
        escape(title)
    )
}

const PAGE_END: &str = "</body>\n</html>\n";

/// The page a refused link gets: what is wrong, in words, and what to do.
fn refused_page(refused: &Refused, shared: &Shared) -> Response {
    let (status, title, text) = match refused {
        Refused::NotConfigured => (
            StatusCode::NOT_FOUND,
            "回告链接未启用".to_owned(),
            "本系统未配置回告链接的签名密钥（[warnings] link_key_env），无法通过链接回告。请联系督办办公室。".to_owned(),
        ),
        Refused::Invalid => (
            StatusCode::FORBIDDEN,
            "链接无效".to_owned(),
            "该回告链接不完整或已被改动，无法打开。请使用预警短信或邮件中的原始链接，或联系督办办公室重新发送。".to_owned(),
        ),
        Refused::Expired(at) => (
            StatusCode::FORBIDDEN,
            "链接已过期".to_owned(),
            format!(
                "该回告链接已于 {} 过期。请使用最新一条预警中的链接，或联系督办办公室。",
                local_time(shared, *at)
            ),
        ),
    };
    let mut body = page_start(&title);
    let _ = writeln!(
        body,
        "<main class=\"phone-wrap\"><div class=\"notice\"><h2>{}</h2><p>{}</p></div></main>",
        escape(&title),
        escape(&text)
    );
    body.push_str(PAGE_END);
    html_response(status, body)
}

/// The answer page of `department`, with `notice` (a done or error line) above the list.
async fn answer_page(
    shared: &Shared,
    link: (&str, &str, &str),
    department: &str,
    expires: i64,
    notice: Option<(&str, String)>,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let today = today(shared);
    let answered: HashMap<String, NaiveDate> = shared
        .store
        .answers_holding(today)
        .await?
        .into_iter()
        .filter(|(_, kind, _)| kind == AnswerKind::Answer.as_str())
        .map(|(item, _, until)| (item, until))
        .collect();
    let items = department_items(shared, department, today);
    let red = items.iter().filter(|i| i.grade == Grade::Red).count();
    let mut body = page_start(&format!("{department} 回告"));
    let _ = write!(
        body,
        "<main class=\"phone-wrap\" id=\"main\">\n<h1 class=\"dept-title\">{}</h1>\n\
         <div class=\"dept-sub\">今日 {today} · 链接有效至 {}</div>\n",
        escape(department),
        escape(&local_time(shared, expires))
    );
    if let Some((class, text)) = notice {
        let _ = writeln!(
            body,
            "<p class=\"answer-notice {class}\" role=\"status\">{}</p>",
            escape(&text)
        );
    }
    let _ = writeln!(
        body,
        "<div class=\"list-title\"><h2>需回告的办件</h2><span>红 {red} · 黄 {}</span></div>",
        items.len() - red
    );
    if items.is_empty() {
        body.push_str("<p class=\"answer-empty\">本部门目前没有红色或黄色的在办件。</p>\n");
    }
    body.push_str("<ul class=\"cards\">\n");
    let (d, e, s) = link;
    for item in &items {
        let (grade_class, grade_word) = match item.grade {
            Grade::Red => ("red", "红 超期"),
            _ => ("yellow", "黄 正常"),
        };
        let left = if item.remaining < 0 {
            format!("超期 {} 个工作日", -item.remaining)
        } else {
            format!("剩余 {} 个工作日", item.remaining)
        };
        let id = escape(&item.item_id);
        let _ = write!(
            body,
            "<li class=\"answer-card g-{grade_class}\" id=\"item-{id}\" data-item=\"{id}\">\n\
             <div class=\"top\"><span class=\"chip chip-{grade_class}\">{grade_word}</span>\
             <span class=\"proj\">{}</span></div>\n<div class=\"matter\">{}</div>\n\
             <div class=\"bottom\"><span class=\"num\">办件编号 {id}</span>\
             <span class=\"deadline\">截止 {}</span><span class=\"{}\">{left}</span></div>\n",
            escape(&item.project),
            escape(&item.matter),
            item.deadline_date,
            if item.remaining < 0 { "late" } else { "due" },
        );
        if let Some(until) = answered.get(&item.item_id) {
            let _ = writeln!(
                body,
                "<p class=\"answered\">已回告 · 预计 {until} 前办结（此前不再列入超期日报和督办升级）</p>"
            );
        }
        let _ = write!(
            body,
            "<details class=\"answer-form\"{open}><summary>{summary}</summary>\n\
             <form method=\"post\" action=\"/m/answer\">\n\
             <input type=\"hidden\" name=\"d\" value=\"{d}\"><input type=\"hidden\" name=\"e\" value=\"{e}\">\
             <input type=\"hidden\" name=\"s\" value=\"{s}\"><input type=\"hidden\" name=\"item_id\" value=\"{id}\">\n\
             <label>超期（临期）原因 <small>必填，{MAX_REASON_CHARS} 字以内</small>\
             <textarea name=\"reason\" required maxlength=\"{MAX_REASON_CHARS}\" rows=\"3\"></textarea></label>\n\
             <label>预计办结日期 <small>必填，不早于今日</small>\
             <input type=\"date\" name=\"until\" required min=\"{today}\"></label>\n\
             <label>回告人 <small>必填，姓名</small>\
             <input type=\"text\" name=\"name\" required maxlength=\"{MAX_NAME_CHARS}\" autocomplete=\"name\"></label>\n\
             <button type=\"submit\" class=\"primary\">提交回告</button>\n</form></details>\n</li>\n",
            open = if answered.contains_key(&item.item_id) {
                ""
            } else {
                " open"
            },
            summary = if answered.contains_key(&item.item_id) {
                "再次回告"
            } else {
                "回告"
            },
            d = escape(d),
            e = escape(e),
            s = escape(s),
        );
    }
    body.push_str(
        "</ul>\n<p class=\"answer-foot\">回告内容将记入督办台账（全程留痕）。</p>\n</main>\n",
    );
    body.push_str(PAGE_END);
    Ok(html_response(status, body))
}

/// `GET /m/answer?d=&e=&s=`: the department's page, if the link is good.
pub async fn page(
    State(shared): State<Arc<Shared>>,
    q: Result<Query<LinkQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let (department, expires) = match check_link(&shared, &q.d, &q.e, &q.s) {
        Ok(link) => link,
        Err(refused) => return refused_page(&refused, &shared),
    };
    let notice = q
        .done
        .as_deref()
        .map(|item| ("answer-done", format!("办件 {item} 的回告已记录，谢谢。")));
    answer_page(
        &shared,
        (&q.d, &q.e, &q.s),
        &department,
        expires,
        notice,
        StatusCode::OK,
    )
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// What is wrong with an answer's fields, in the page's words.
fn check_answer(
    form: &AnswerForm,
    today: NaiveDate,
) -> Result<(String, NaiveDate, String), String> {
    let reason = form.reason.trim();
    if reason.is_empty() {
        return Err("请填写原因。".to_owned());
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(format!(
            "原因不能超过 {MAX_REASON_CHARS} 字，请精简后再提交。"
        ));
    }
    let until = NaiveDate::parse_from_str(form.until.trim(), "%Y-%m-%d")
        .map_err(|_| "请填写预计办结日期（如 2026-12-31）。".to_owned())?;
    if until < today {
        return Err(format!("预计办结日期不能早于今日（{today}）。"));
    }
    let name = form.name.trim();
    if name.is_empty() {
        return Err("请填写回告人姓名。".to_owned());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("姓名不能超过 {MAX_NAME_CHARS} 字。"));
    }
    Ok((reason.to_owned(), until, name.to_owned()))
}

/// `POST /m/answer`: records an answer if the link is good, the item an open one of the
/// link's department and the fields complete; then back to the page (303), which says so.
pub async fn answer(
    State(shared): State<Arc<Shared>>,
    form: Result<Form<AnswerForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => {
            let status = rejection.status();
            let text = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!(
                    "提交的内容过长（上限 {} KB），请精简原因后再提交。",
                    MAX_BODY_BYTES / 1024
                )
            } else {
                "提交的内容无法读取，请从回告页面重新填写提交。".to_owned()
            };
            let mut body = page_start("无法提交");
            let _ = write!(
                body,
                "<main class=\"phone-wrap\"><div class=\"notice\"><h2>无法提交</h2><p>{}</p></div></main>\n{PAGE_END}",
                escape(&text)
            );
            return html_response(status, body);
        }
    };
    let (department, expires) = match check_link(&shared, &form.d, &form.e, &form.s) {
        Ok(link) => link,
        Err(refused) => return refused_page(&refused, &shared),
    };
    let link = (form.d.as_str(), form.e.as_str(), form.s.as_str());
    let today = today(&shared);
    if !is_open_item_of(&shared, &form.item_id, &department) {
        let text = format!(
            "办件 {} 不是本部门的在办件（可能已办结或撤回），未记录回告。",
            form.item_id
        );
        return not_recorded(
            &shared,
            link,
            &department,
            expires,
            text,
            StatusCode::NOT_FOUND,
        )
        .await;
    }
    let (reason, until, name) = match check_answer(&form, today) {
        Ok(fields) => fields,
        Err(text) => {
            let text = format!("办件 {} 的回告未记录：{text}", form.item_id);
            return not_recorded(
                &shared,
                link,
                &department,
                expires,
                text,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    let recorded = shared
        .store
        .add_answer(&NewAnswer {
            kind: AnswerKind::Answer,
            item_id: &form.item_id,
            until,
            reason: &reason,
            by_whom: &name,
            at: shared.clock.now(),
            message_id: None,
        })
        .await;
    match recorded {
        Ok(row) => {
            tracing::info!(
                item = %row.item_id,
                department = %department,
                until = %row.until,
                "answer recorded"
            );
            // The screens' red lists mark answered items: recount them now.
            shared.live.notify_one();
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("d", &form.d)
                .append_pair("e", &form.e)
                .append_pair("s", &form.s)
                .append_pair("done", &form.item_id)
                .finish();
            Redirect::to(&format!("/m/answer?{query}")).into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The page again, saying why the answer was not recorded.
async fn not_recorded(
    shared: &Shared,
    link: (&str, &str, &str),
    department: &str,
    expires: i64,
    text: String,
    status: StatusCode,
) -> Response {
    answer_page(
        shared,
        link,
        department,
        expires,
        Some(("answer-error", text)),
        status,
    )
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

/// A silence's body.
#[derive(Debug, Deserialize)]
pub struct SilenceBody {
    until: String,
    reason: String,
}

/// `POST /api/items/{id}/silence` `{"until": "YYYY-MM-DD", "reason": "…"}`: no repeat
/// warnings for the item until the date, on record as the office's. 201 with the row.
pub async fn silence(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    caller: Option<axum::Extension<super::access::Caller>>,
    body: Result<Json<SilenceBody>, JsonRejection>,
) -> Response {
    // `api_guard` says who asks: an office token (or anyone, without `[access]`) acts.
    if !matches!(caller, Some(axum::Extension(super::access::Caller::Office))) {
        return (
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({
                "error": "silencing an item needs an office token; a viewer token only reads (ask the supervision office)"
            })),
        )
            .into_response();
    }
    match silence_item(&shared, &id, body).await {
        Ok(row) => (StatusCode::CREATED, Json(row)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn silence_item(
    shared: &Shared,
    id: &str,
    body: Result<Json<SilenceBody>, JsonRejection>,
) -> Result<crate::store::answers::AnswerRow, ApiError> {
    let Json(body) = body.map_err(|e| {
        ApiError::BadRequest(format!(
            "the body must be JSON {{\"until\": \"YYYY-MM-DD\", \"reason\": \"…\"}}: {}",
            e.body_text()
        ))
    })?;
    let until = NaiveDate::parse_from_str(body.until.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::BadRequest(format!("until {:?} is not a date YYYY-MM-DD", body.until))
    })?;
    let today = today(shared);
    if until < today {
        return Err(ApiError::BadRequest(format!(
            "until {until} is before today ({today}): a silence runs to a date to come"
        )));
    }
    let reason = body.reason.trim();
    if reason.is_empty() {
        return Err(ApiError::BadRequest(
            "reason is empty: say why the item is silenced (it is on record)".to_owned(),
        ));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::BadRequest(format!(
            "reason has more than {MAX_REASON_CHARS} characters"
        )));
    }
    if shared.board().get(id).is_none() && shared.store.item(id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no item {id:?}")));
    }
    let row = shared
        .store
        .add_answer(&NewAnswer {
            kind: AnswerKind::Silence,
            item_id: id,
            until,
            reason,
            by_whom: "office",
            at: shared.clock.now(),
            message_id: None,
        })
        .await?;
    tracing::info!(item = %id, until = %row.until, "item silenced");
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(reason: &str, until: &str, name: &str) -> AnswerForm {
        AnswerForm {
            d: String::new(),
            e: String::new(),
            s: String::new(),
            item_id: "X".into(),
            reason: reason.into(),
            until: until.into(),
            name: name.into(),
        }
    }

    #[test]
    fn an_answer_needs_a_reason_a_date_to_come_and_a_name() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        assert!(check_answer(&form("材料待补正", "2026-11-25", "张三"), today).is_ok());
        assert!(check_answer(&form("  ", "2026-11-30", "张三"), today).is_err());
        assert!(check_answer(&form(&"长".repeat(501), "2026-11-30", "张三"), today).is_err());
        assert!(check_answer(&form(&"长".repeat(500), "2026-11-30", "张三"), today).is_ok());
        assert!(check_answer(&form("原因", "2026-11-24", "张三"), today).is_err());
        assert!(check_answer(&form("原因", "11/30/2026", "张三"), today).is_err());
        assert!(check_answer(&form("原因", "2026-11-30", ""), today).is_err());
    }
}
