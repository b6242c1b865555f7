//! The simulator's HTTP side. `/canonical/items` serves canonical records; `/cn/items`
//! serves the other system's records as a typical provincial platform exports them: Chinese
//! field names, local times without an offset, status words, nested under `data.list`. Both
//! take `since` (only records updated after it), `page` and `page_size`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::city::{City, in_chinese_system};
use crate::item::{Item, PauseKind, Status};

pub type SharedCity = Arc<Mutex<City>>;

pub fn router(city: SharedCity) -> Router {
    Router::new()
        .route("/canonical/items", get(canonical))
        .route("/cn/items", get(chinese))
        .with_state(city)
}

/// Keeps the city changing every `tick` until shutdown, saving it to `state` after each step.
pub async fn run_ticks(
    city: SharedCity,
    tick: Duration,
    state: Option<std::path::PathBuf>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(tick) => {}
        }
        let mut city = city.lock().unwrap_or_else(|e| e.into_inner());
        let changed = city.tick(Utc::now());
        if let Some(path) = &state
            && let Err(e) = city.save(path)
        {
            tracing::warn!(error = %e, path = %path.display(), "cannot save the simulated city");
        }
        tracing::debug!(changed, "simulated city moved");
    }
}

struct Paging {
    since: Option<String>,
    page: usize,
    size: usize,
}

fn paging(q: &HashMap<String, String>) -> Paging {
    Paging {
        since: q.get("since").filter(|s| !s.is_empty()).cloned(),
        page: q
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
            .max(1),
        size: q
            .get("page_size")
            .and_then(|p| p.parse().ok())
            .unwrap_or(500)
            .clamp(1, 5000),
    }
}

/// The items of one system updated after `since`, oldest change first, one page of them.
fn select(
    city: &City,
    chinese: bool,
    paging: &Paging,
    stamp: impl Fn(&Item) -> String,
) -> Vec<Item> {
    let mut items: Vec<(String, &Item)> = city
        .items
        .iter()
        .filter(|i| in_chinese_system(i) == chinese)
        .map(|i| (stamp(i), i))
        // Inclusive, as most platforms do: a record changed in the same second as the last
        // one seen is sent again rather than missed (duban recognises it as unchanged).
        .filter(|(s, _)| paging.since.as_ref().is_none_or(|since| s >= since))
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.item_id.cmp(&b.1.item_id)));
    items
        .into_iter()
        .skip((paging.page - 1) * paging.size)
        .take(paging.size)
        .map(|(_, i)| i.clone())
        .collect()
}

async fn canonical(
    State(city): State<SharedCity>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let paging = paging(&q);
    let city = city.lock().unwrap_or_else(|e| e.into_inner());
    let items = select(&city, false, &paging, |i| i.updated_at.to_rfc3339());
    Json(json!({ "items": items }))
}

const LOCAL: &str = "%Y-%m-%d %H:%M:%S";

async fn chinese(
    State(city): State<SharedCity>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let paging = paging(&q);
    let city = city.lock().unwrap_or_else(|e| e.into_inner());
    let items = select(&city, true, &paging, |i| {
        i.updated_at.format(LOCAL).to_string()
    });
    let list: Vec<Value> = items.iter().map(to_chinese).collect();
    Json(json!({ "code": 0, "msg": "成功", "data": { "list": list } }))
}

fn to_chinese(item: &Item) -> Value {
    let status = match item.status {
        Status::Pending => "办理中",
        Status::Paused => "暂停中",
        Status::Finished => "已办结",
        Status::Withdrawn => "已撤回",
    };
    let pauses: Vec<Value> = item
        .pauses
        .iter()
        .map(|p| {
            let kind = match p.kind {
                PauseKind::Correction => "补正",
                PauseKind::ExpertReview => "专家评审",
                PauseKind::Hearing => "听证",
                PauseKind::Inspection => "现场勘验",
                PauseKind::Appraisal => "鉴定",
                _ => "其他",
            };
            json!({
                "类型": kind,
                "开始时间": p.from.format(LOCAL).to_string(),
                "结束时间": p.to.map(|t| t.format(LOCAL).to_string()),
            })
        })
        .collect();
    json!({
        "办件编号": item.item_id,
        "项目代码": item.project_code,
        "项目名称": item.project_name,
        "项目类别": item.project_category,
        "事项名称": item.matter,
        "办理部门": item.department,
        "审批阶段": item.stage.to_string(),
        "办件状态": status,
        "受理时间": item.accepted_at.format(LOCAL).to_string(),
        "承诺时限": item.limit_days,
        "法定时限": item.legal_days,
        "延期天数": item.extension_days,
        "暂停记录": pauses,
        "办结时间": item.finished_at.map(|t| t.format(LOCAL).to_string()).unwrap_or_default(),
        "更新时间": item.updated_at.format(LOCAL).to_string(),
    })
}
