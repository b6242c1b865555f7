//! The big-screen in a real headless Chromium against the daemon on loopback, fed a
//! simulated city: at 1920×1080, 3840×2160 and 1280×720 the page fills with data, shows every
//! panel's title, nothing overflows, and screenshots land in `target/screens/`; a stale feed
//! raises 数据源异常, and stopping the daemon raises 连接中断，正在重连.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::path::PathBuf;
use std::time::Duration;

use chrono::DateTime;
use common::browser::Browser;
use common::*;
use duban::clock::Clock;
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

/// A simulated city's records as of now, in the canonical format.
fn city(config: &duban::config::Config, n: u64) -> Vec<Value> {
    let calendar = config.load_calendar().unwrap();
    let now = DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0)
        .unwrap()
        .with_timezone(&config.timezone);
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
async fn the_big_screen_at_three_resolutions_then_stale_then_disconnected() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    let config = live_config(dir.path(), &url, "");
    feed.set(city(&config, 600));
    let app = spawn_app(config, Clock::System).await;
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
        // Let the fonts settle and the list start scrolling.
        tokio::time::sleep(Duration::from_millis(700)).await;
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
        for word in ["在办件", "超期件", "本月按时办结率", "今日办结"] {
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
        let api = app
            .get(&format!("/api/summary?token={VIEWER_TOKEN}"))
            .await
            .1;
        assert!(!ring.as_str().unwrap().is_empty(), "{api}");
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
    app.stop().await;
    page.wait_for(
        "!document.getElementById('banner-connection').hidden && document.getElementById('banner-connection').innerText.includes('连接中断')",
        Duration::from_secs(15),
    )
    .await;
    page.screenshot(&out.join("overview-disconnected.png"))
        .await;
}
