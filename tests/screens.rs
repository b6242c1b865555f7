//! The big-screen in a real headless Chromium against the daemon on loopback, fed a
//! simulated city: at 1920×1080, 3840×2160 and 1280×720 the page fills with data, shows every
//! panel's title, nothing overflows, and screenshots land in `target/screens/`; a stale feed
//! raises 数据源异常, stopping the daemon raises 连接中断，正在重连, and starting it again
//! brings the page back by itself.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::browser::Browser;
use common::*;
use duban::simulator::population::Population;
use serde_json::Value;

const TITLES: [(&str, &str); 6] = [
    ("ring", "三色预警总览"),
    ("departments", "各部门办件情况"),
    ("stages", "四个审批阶段"),
    ("trend", "近30天黄红件趋势"),
    ("projects", "3211"),
    ("red_list", "最新超期件"),
];

fn screens_dir() -> PathBuf {
    let dir = root().join("target/screens");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A simulated city's records as of the suite's `NOW` (the daemon's clock stands there too),
/// in the canonical format.
fn city(config: &duban::config::Config, n: u64) -> Vec<Value> {
    let calendar = config.load_calendar().unwrap();
    let now = at(NOW).with_timezone(&config.timezone);
    let mut population =
        Population::new(&config.matters, &calendar, config.timezone, now, 11).unwrap();
    let mut records = Vec::new();
    population
        .generate(n, |item| records.push(serde_json::to_value(item).unwrap()))
        .unwrap();
    records
}

/// JavaScript: what overflows, as a list of descriptions (empty when all fits).
const OVERFLOW: &str = r#"(() => {
  const problems = [];
  const de = document.documentElement;
  if (de.scrollWidth > innerWidth + 1 || de.scrollHeight > innerHeight + 1)
    problems.push(`page scrolls: ${de.scrollWidth}x${de.scrollHeight} in ${innerWidth}x${innerHeight}`);
  for (const panel of document.querySelectorAll('[data-panel]')) {
    const r = panel.getBoundingClientRect();
    if (r.left < -1 || r.top < -1 || r.right > innerWidth + 1 || r.bottom > innerHeight + 1)
      problems.push(`${panel.dataset.panel} outside the window: ${JSON.stringify(r)}`);
    if (panel.scrollHeight > panel.clientHeight + 2 || panel.scrollWidth > panel.clientWidth + 2)
      problems.push(`${panel.dataset.panel} content overflows: ${panel.scrollWidth}x${panel.scrollHeight} in ${panel.clientWidth}x${panel.clientHeight}`);
  }
  return problems;
})()"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_big_screen_at_three_resolutions_then_stale_then_disconnected_then_back() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    let config = live_config(dir.path(), &url, "");
    feed.set(city(&config, 600));
    let app = spawn_app(config, fixed_clock().1).await;
    eventually(20, "the city stored", || async {
        app.get(&format!("/api/items?token={VIEWER_TOKEN}&limit=1"))
            .await
            .1["total"]
            .as_u64()
            .unwrap_or(0)
            > 500
    })
    .await;
    let screen = format!("{}/screen/overview?token={SCREEN_TOKEN}", app.base);
    let out = screens_dir();

    for (w, h) in [(1920, 1080), (3840, 2160), (1280, 720)] {
        let page = browser.new_page(w, h).await;
        page.goto(&screen).await;
        page.wait_for(
            "Number(document.body.dataset.seq) > 0 && document.querySelector('[data-panel=ring] svg') !== null",
            Duration::from_secs(15),
        )
        .await;
        // Every panel has its data, the projects included (drawn from the first load too).
        page.wait_for(
            "!document.querySelector('[data-panel=projects]').innerText.includes('暂无在办项目')",
            Duration::from_secs(5),
        )
        .await;
        // Shot once the page's fonts are in (a fallback font's wider glyphs would overflow).
        assert_eq!(
            page.eval("document.fonts.ready.then(() => document.fonts.status)")
                .await,
            "loaded",
            "fonts at {w}x{h}"
        );
        page.screenshot(&out.join(format!("overview-{w}x{h}.png")))
            .await;
        for (panel, title) in TITLES {
            let text = page
                .eval(&format!(
                    "document.querySelector('[data-panel={panel}]')?.innerText ?? ''"
                ))
                .await;
            assert!(
                text.as_str().unwrap().contains(title),
                "{panel} at {w}x{h}: {text}"
            );
        }
        let headline = page
            .eval("document.querySelector('[data-panel=headline]').innerText")
            .await;
        for word in ["在办件", "逾期未办结", "本月按时办结率", "今日办结"] {
            assert!(
                headline.as_str().unwrap().contains(word),
                "{word} at {w}x{h}: {headline}"
            );
        }
        let clock = page
            .eval("document.getElementById('clock').innerText")
            .await;
        assert!(clock.as_str().unwrap().contains('年'), "{clock}");
        let data_time = page
            .eval("document.getElementById('data-time').innerText")
            .await;
        assert!(data_time.as_str().unwrap().contains(':'), "{data_time}");
        // The counts shown are the server's.
        let ring = page
            .eval("document.querySelector('[data-panel=ring]').innerText")
            .await;
        // The page has shown every update up to the server's newest seq (the clock stands
        // still and the feed is unchanged, so the server stays there): its grade counts
        // are the board's, as /api/summary gives them.
        let seq = app
            .get(&format!("/live/snapshot?token={VIEWER_TOKEN}"))
            .await
            .1["seq"]
            .as_u64()
            .unwrap();
        page.wait_for(
            &format!("Number(document.body.dataset.seq) === {seq}"),
            Duration::from_secs(10),
        )
        .await;
        let api = app
            .get(&format!("/api/summary?token={VIEWER_TOKEN}"))
            .await
            .1;
        for grade in ["blue", "yellow", "red"] {
            let shown = page
                .eval(&format!(
                    "document.querySelector('[data-panel=ring] .ring-cell.g-{grade} .count').innerText"
                ))
                .await;
            assert_eq!(
                shown,
                api["totals"][grade].to_string(),
                "{grade} at {w}x{h}: ring {ring}, server {api}"
            );
        }
        let problems = page.eval(OVERFLOW).await;
        assert_eq!(problems, Value::Array(vec![]), "at {w}x{h}");
        for banner in ["banner-stale", "banner-connection"] {
            assert_eq!(
                page.eval(&format!("document.getElementById('{banner}').hidden"))
                    .await,
                Value::Bool(true),
                "{banner} at {w}x{h}"
            );
        }
    }

    // The feed goes down: after two missed runs the screen says so, naming it.
    let page = browser.new_page(1920, 1080).await;
    page.goto(&screen).await;
    page.wait_for(
        "Number(document.body.dataset.seq) > 0",
        Duration::from_secs(15),
    )
    .await;
    feed.fail(true);
    page.wait_for(
        "!document.getElementById('banner-stale').hidden && document.getElementById('banner-stale').innerText.includes('main')",
        Duration::from_secs(15),
    )
    .await;
    page.screenshot(&out.join("overview-stale.png")).await;
    feed.fail(false);
    page.wait_for(
        "document.getElementById('banner-stale').hidden",
        Duration::from_secs(15),
    )
    .await;

    // The daemon stops: the connection banner shows, and the page keeps trying.
    let addr = app.running.addr;
    let before = page.eval("Number(document.body.dataset.seq)").await;
    app.stop().await;
    page.wait_for(
        "!document.getElementById('banner-connection').hidden && document.getElementById('banner-connection').innerText.includes('连接中断')",
        Duration::from_secs(15),
    )
    .await;
    page.screenshot(&out.join("overview-disconnected.png"))
        .await;

    // It comes back on the same address and store: the page reconnects by itself, its
    // `since` from the last run is answered with a fresh snapshot, and the banner goes.
    let mut config = live_config(dir.path(), &url, "");
    config.listen = addr;
    let app = spawn_app(config, fixed_clock().1).await;
    page.wait_for(
        &format!(
            "document.getElementById('banner-connection').hidden && Number(document.body.dataset.seq) > {before}"
        ),
        Duration::from_secs(40),
    )
    .await;
    let ring = page
        .eval("document.querySelector('[data-panel=ring]').innerText")
        .await;
    assert!(ring.as_str().unwrap().contains("在办"), "{ring}");
    page.screenshot(&out.join("overview-reconnected.png")).await;
    app.stop().await;
}

/// The text of `selector`, or "" if absent.
fn inner_text(selector: &str) -> String {
    format!("document.querySelector({selector:?})?.innerText ?? ''")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_item_and_phone_pages_stay_live() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    let config = live_config(dir.path(), &url, "");
    let mut records = city(&config, 400);
    feed.set(records.clone());
    let app = spawn_app(config, fixed_clock().1).await;
    let api_total = |query: &'static str| {
        let app = &app;
        async move {
            app.get(&format!("/api/items?token={VIEWER_TOKEN}&limit=1&{query}"))
                .await
                .1["total"]
                .as_u64()
                .unwrap()
        }
    };
    eventually(20, "the city stored", || async {
        api_total("").await > 300
    })
    .await;
    let out = screens_dir();

    // The dashboard lists the open items, worst first; a filter narrows it.
    let page = browser.new_page(1440, 900).await;
    page.goto(&format!("{}/?token={VIEWER_TOKEN}", app.base))
        .await;
    page.wait_for(
        "document.body.dataset.list === 'ready' && document.querySelectorAll('#items tbody tr[data-item-id]').length > 0",
        Duration::from_secs(15),
    )
    .await;
    let open = api_total("status=open").await;
    page.wait_for(
        &format!("{} === '共 {open} 件'", inner_text("#total")),
        Duration::from_secs(5),
    )
    .await;
    let first_row_class = page
        .eval("document.querySelector('#items tbody tr[data-item-id]').className")
        .await;
    assert!(
        first_row_class.as_str().unwrap().contains("is-red"),
        "worst first: {first_row_class}"
    );
    page.eval(
        "(() => { const s = document.querySelector('#filters [name=grade]'); s.value = 'red'; s.dispatchEvent(new Event('change', {bubbles: true})); })()",
    )
    .await;
    let red = api_total("status=open&grade=red").await;
    page.wait_for(
        &format!("{} === '共 {red} 件'", inner_text("#total")),
        Duration::from_secs(5),
    )
    .await;
    page.wait_for(
        "[...document.querySelectorAll('#items tbody tr[data-item-id]')].every(r => r.className.includes('is-red'))",
        Duration::from_secs(5),
    )
    .await;
    page.screenshot(&out.join("dashboard.png")).await;

    // A new red item arrives through the feed: the filtered list follows without a reload.
    let mut late = record("LIVE-1", "2026-10-09T09:30:00+08:00", 5);
    late["department"] = serde_json::json!("市气象局");
    records.push(late);
    feed.set(records.clone());
    page.wait_for(
        &format!("{} === '共 {} 件'", inner_text("#total"), red + 1),
        Duration::from_secs(10),
    )
    .await;

    // Its item page: deadline, used/allowed, grade history.
    page.goto(&format!("{}/item/LIVE-1?token={VIEWER_TOKEN}", app.base))
        .await;
    page.wait_for(
        "document.body.dataset.loaded === 'ready'",
        Duration::from_secs(10),
    )
    .await;
    // Worked out by hand on the 2026 arrangement: accepted Friday 9 October, counted from
    // Saturday 10 October (a make-up working day after 国庆) — 10, 12, 13, 14, 15 — so due
    // 15 October; by Wednesday 25 November 1 + 6 × 5 + 3 = 34 working days used.
    assert_eq!(page.eval(&inner_text("#deadline")).await, "2026-10-15");
    assert_eq!(page.eval(&inner_text("#used-allowed")).await, "34 / 5");
    let history = page
        .eval("document.querySelectorAll('#history tbody tr').length")
        .await;
    assert!(history.as_u64().unwrap() >= 1, "{history}");
    // Back goes to the list it came from, with its filter.
    let back = page
        .eval("document.getElementById('back').getAttribute('href')")
        .await;
    assert!(
        back.as_str().unwrap().starts_with("/?") && back.as_str().unwrap().contains("grade=red"),
        "{back}"
    );
    page.screenshot(&out.join("item.png")).await;

    // The department's phone page: its open items, nothing wider than the phone.
    let phone = browser.new_page(390, 844).await;
    phone
        .goto(&format!(
            "{}/m/dept/%E5%B8%82%E6%B0%94%E8%B1%A1%E5%B1%80?token={VIEWER_TOKEN}",
            app.base
        ))
        .await;
    phone
        .wait_for(
            "document.body.dataset.list === 'ready'",
            Duration::from_secs(15),
        )
        .await;
    assert_eq!(phone.eval(&inner_text("#dept-name")).await, "市气象局");
    let shown = phone
        .eval("document.querySelectorAll('#items a[data-item-id]').length")
        .await;
    let expected = api_total("status=open&department=%E5%B8%82%E6%B0%94%E8%B1%A1%E5%B1%80").await;
    // The page shows the first 50 and offers more.
    assert_eq!(
        shown.as_u64().unwrap(),
        expected.min(50),
        "{shown} of {expected}"
    );
    let counts = ["#count-red", "#count-yellow", "#count-blue"].map(inner_text);
    let mut sum = 0;
    for js in counts {
        sum += phone
            .eval(&js)
            .await
            .as_str()
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap();
    }
    assert_eq!(sum, expected, "the counts add up to the list");
    let first = phone
        .eval("document.querySelector('#items a[data-item-id]').dataset.itemId")
        .await;
    assert_eq!(first, "LIVE-1", "the reddest first");
    let wide = phone.eval("document.documentElement.scrollWidth").await;
    assert!(wide.as_u64().unwrap() <= 390, "{wide}");
    phone.screenshot(&out.join("phone.png")).await;

    // A wrong token: the 401 page, no data.
    let denied = browser.new_page(1280, 720).await;
    denied.goto(&format!("{}/?token=wrong", app.base)).await;
    let text = denied.eval("document.body.innerText").await;
    assert!(
        text.as_str().unwrap().contains("令牌") && !text.as_str().unwrap().contains("市气象局"),
        "{text}"
    );
    app.stop().await;
}
