//! The big-screen in a real headless Chromium against the daemon on loopback, fed a
//! simulated city as of the suite's `NOW`: at 1920×1080, 1366×768, 1280×720, 3840×2160 and
//! 2560×1080, and on 5760×1080 and 7680×2160 walls, every figure it shows is the server's at
//! the seq it shows, nothing overflows, the page fills the window (more columns on a wide
//! wall, no black bars), no text is smaller than 18 px at 1920×1080 nor than that scaled at
//! any other size, and the screenshots that land in `target/screens/` are pictures of a
//! page, not blank (and worth a look); a wall whose config names its shape is laid out for
//! it; a stale feed raises 数据源异常, stopping the daemon raises 连接中断，正在重连, and
//! starting it again brings the page back by itself, with the same figures.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use common::browser::{Browser, Page};
use common::*;
use duban::simulator::population::Population;
use serde_json::{Value, json};

const TITLES: [(&str, &str); 6] = [
    ("ring", "三色预警总览"),
    ("departments", "各部门办件情况"),
    ("stages", "四个审批阶段"),
    ("trend", "近30天黄红件趋势"),
    ("projects", "项目\"3211\"用时"),
    ("red_list", "最新超期件"),
];

const GRADES: [&str; 3] = ["blue", "yellow", "red"];

/// Two more screens: one for the office's chase (the red items longest overdue), and one for
/// a wall whose config names its shape.
const MORE_SCREENS: &str = r#"
[[screens]]
name = "worst"
title = "超期督办"
panels = ["headline", "departments", "overdue_list"]
token_env = "DUBAN_SCREEN_TOKEN"

[[screens]]
name = "wall"
title = "测试大屏 · 拼接墙"
panels = ["headline", "ring", "departments", "stages", "trend", "projects", "red_list"]
aspect = "32:9"
token_env = "DUBAN_SCREEN_TOKEN"
"#;

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

/// Saves a screenshot of `page` in `target/screens/` and checks that it is a picture of a
/// page at the window's size: a blank or background-only shot has no edges, or one colour.
async fn shoot(browser: &Browser, page: &Page, name: &str, (width, height): (u32, u32)) {
    let png = page.screenshot(&screens_dir().join(name)).await;
    let picture = browser.picture(&png).await;
    assert_eq!(
        (picture.width, picture.height),
        (width, height),
        "{name}: {picture:?}"
    );
    assert!(
        picture.colours >= 64 && picture.dominant <= 0.9 && picture.edges >= 0.004,
        "{name} looks blank: {picture:?}"
    );
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

async fn assert_nothing_overflows(page: &Page, when: &str) {
    assert_eq!(page.eval(OVERFLOW).await, json!([]), "{when}");
}

/// The stage covers the whole window, with no black bars beside or above it (a window of
/// 16:9 or wider, as all the tests' are), and holds `across` columns of panels.
async fn assert_fills_the_window(page: &Page, across: u32, when: &str) {
    let shown = page
        .eval("(() => { const r = document.getElementById('stage').getBoundingClientRect(); return [r.left, r.top, innerWidth - r.right, innerHeight - r.bottom]; })()")
        .await;
    assert!(
        shown
            .as_array()
            .unwrap()
            .iter()
            .all(|margin| margin.as_f64().unwrap().abs() <= 1.0),
        "{when}: the stage leaves bars of (left, top, right, bottom) {shown}"
    );
    let columns = page
        .eval("getComputedStyle(document.getElementById('grid')).gridTemplateColumns.split(' ').length")
        .await;
    assert_eq!(columns, across, "{when}: columns of panels");
}

/// JavaScript: the rendered size in window pixels of every text the page shows, HTML text
/// nodes and the charts' inline SVG `<text>` alike, with the stage's scale (window pixels
/// per stage pixel). An HTML text's size is its computed font size times the stage's scale;
/// an SVG text's is its font size in the chart's units times the vertical scale of the
/// element's screen CTM, which takes in the chart's viewBox, its box and the stage.
const FONT_SIZES: &str = r#"(() => {
  const stage = document.getElementById('stage');
  const scale = stage.getBoundingClientRect().height / stage.offsetHeight;
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.data.trim();
    const element = node.parentElement;
    // A <title> is a tooltip, never drawn.
    if (!text || element.closest('title, script, style')) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const shown = [...range.getClientRects()].some((r) => r.width > 0 && r.height > 0
      && r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.top < innerHeight);
    if (!shown) continue;
    const px = parseFloat(getComputedStyle(element).fontSize);
    let size;
    if (element instanceof SVGElement) {
      const m = element.getScreenCTM();
      size = px * Math.hypot(m.c, m.d);
    } else {
      size = px * scale;
    }
    const where = element.closest('[data-panel]')?.dataset.panel ?? element.closest('[id]')?.id ?? '';
    texts.push({ text: text.slice(0, 24), where, svg: element instanceof SVGElement, size: Math.round(size * 100) / 100 });
  }
  texts.sort((a, b) => a.size - b.size);
  return { scale, texts };
})()"#;

/// The smallest text must be 18 px at 1920×1080, read from 5–10 m, and as large relative to
/// the window at any other size: 18 px times the stage's scale (0.71 at 1366×768, 2 at
/// 3840×2160 and on a 7680×2160 wall), the scale worked out here from the window alone (the
/// stage is 1080 stage pixels high, and at least 1920 wide). Returns the smallest size.
async fn assert_text_readable(page: &Page, when: &str) -> f64 {
    let measured = page.eval(FONT_SIZES).await;
    let (width, height) = (
        page.eval("innerWidth").await.as_f64().unwrap(),
        page.eval("innerHeight").await.as_f64().unwrap(),
    );
    let scale = (width / 1920.0).min(height / 1080.0);
    let shown = measured["scale"].as_f64().unwrap();
    assert!(
        (shown - scale).abs() < 0.002,
        "{when}: the stage is scaled {shown}, expected {scale}"
    );
    let texts = measured["texts"].as_array().unwrap();
    assert!(texts.len() > 100, "{when}: only {} texts seen", texts.len());
    assert!(
        texts.iter().filter(|t| t["svg"] == true).count() > 20,
        "{when}: the charts' texts are measured too: {texts:?}"
    );
    let floor = 18.0 * scale;
    let small: Vec<String> = texts
        .iter()
        .filter(|t| t["size"].as_f64().unwrap() < floor - 0.01)
        .map(|t| {
            let chart = if t["svg"] == true { " chart" } else { "" };
            format!("{} px {} ({}{chart})", t["size"], t["text"], t["where"])
        })
        .collect();
    assert!(
        small.is_empty(),
        "{when}: {} texts smaller than {floor:.2} px:\n  {}",
        small.len(),
        small.join("\n  ")
    );
    texts[0]["size"].as_f64().unwrap()
}

/// JavaScript: whether every chart the page shows has its drawing in place.
const CHARTS_PLACED: &str = "[...document.querySelectorAll('[data-panel]:not([hidden]) .chart')].every(c => c.querySelector('svg') !== null || c.offsetParent === null)";

/// JavaScript: the figures the big-screen shows, as text, with the seq of the last message
/// applied. One evaluation, so all of one seq: the page applies a message in one task.
const SHOWN: &str = r#"(() => {
  const text = (selector) => document.querySelector(selector)?.innerText ?? null;
  const rows = (panel) => [...document.querySelectorAll(`[data-panel=${panel}] .gt-rows .gt-row`)]
    .map((row) => [...row.children].map((cell) => cell.innerText));
  const headline = {};
  for (const node of document.querySelectorAll('[data-panel=headline] [data-field]'))
    headline[node.dataset.field] = node.innerText;
  const ring = {};
  for (const grade of ['blue', 'yellow', 'red'])
    ring[grade] = {
      count: text(`[data-panel=ring] .ring-cell.g-${grade} .count`),
      share: text(`[data-panel=ring] .ring-cell.g-${grade} .share`),
    };
  return {
    seq: Number(document.body.dataset.seq),
    headline,
    ring,
    ring_total: text('[data-panel=ring] .panel-extra'),
    departments: rows('departments'),
    departments_total: text('[data-panel=departments] .panel-extra'),
    stages: rows('stages'),
    trend_today: [
      text('[data-panel=trend] .legend-item.g-yellow .count'),
      text('[data-panel=trend] .legend-item.g-red .count'),
    ],
    trend_days: text('[data-panel=trend] .panel-extra'),
    red_list_total: text('[data-panel=red_list] .panel-extra'),
  };
})()"#;

/// What the server says at one seq: `/api/summary` (grades of the open items by department
/// and stage) and the item lists for what the summary does not count.
struct Server {
    seq: u64,
    summary: Value,
    paused: u64,
    finished: Vec<Value>,
}

async fn snapshot_seq(app: &TestApp) -> u64 {
    app.get(&format!("/live/snapshot?token={VIEWER_TOKEN}"))
        .await
        .1["seq"]
        .as_u64()
        .unwrap()
}

async fn total(app: &TestApp, query: &str) -> u64 {
    app.get(&format!("/api/items?token={VIEWER_TOKEN}&limit=1&{query}"))
        .await
        .1["total"]
        .as_u64()
        .unwrap()
}

/// The page's figures and the server's at the same seq: the server's answers are taken
/// between two snapshots at the seq the page shows, and taken again if an update (the
/// half-minute keep-alive, say) comes in between.
async fn at_one_seq(app: &TestApp, page: &Page) -> (Value, Server) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let shown = page.eval(SHOWN).await;
        let seq = snapshot_seq(app).await;
        if shown["seq"] == seq {
            let summary = app
                .get(&format!("/api/summary?token={VIEWER_TOKEN}"))
                .await
                .1;
            let paused = total(app, "status=paused").await;
            let finished = app
                .get(&format!(
                    "/api/items?token={VIEWER_TOKEN}&limit=1000&status=finished"
                ))
                .await
                .1["items"]
                .as_array()
                .unwrap()
                .clone();
            if snapshot_seq(app).await == seq {
                let server = Server {
                    seq,
                    summary,
                    paused,
                    finished,
                };
                return (shown, server);
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page never stood at the server's seq: it shows {}, the server is at {seq}",
            shown["seq"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A count as the pages show it (zh-CN: digits grouped by three with commas).
fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `shown` is `prefix`, `percent` rounded to one decimal, `%`. (Either neighbour of an exact
/// half is accepted: the page rounds the way JavaScript's `toFixed` does.)
fn assert_percent(shown: &Value, prefix: &str, percent: f64, what: &str) {
    let text = shown.as_str().unwrap_or_default();
    let number = text
        .strip_prefix(prefix)
        .and_then(|t| t.strip_suffix('%'))
        .filter(|t| {
            t.split_once('.')
                .is_some_and(|(_, tenths)| tenths.len() == 1)
        })
        .and_then(|t| t.parse::<f64>().ok());
    assert!(
        number.is_some_and(|n| (n - percent).abs() <= 0.05 + 1e-9),
        "{what}: shown {shown}, expected {prefix}{percent:.3}% to one decimal"
    );
}

/// Every figure of the page (see `SHOWN`) against the server's at the same seq.
fn assert_figures(shown: &Value, server: &Server, when: &str) {
    let when = format!("{when}, seq {}", server.seq);
    let summary = &server.summary;
    let rows = summary["by_department_stage_grade"].as_array().unwrap();
    let count = |grade: &str| summary["totals"][grade].as_u64().unwrap();
    let open: u64 = GRADES.iter().map(|g| count(g)).sum();
    assert!(
        count("blue") > 0 && count("yellow") > 0 && count("red") > 0,
        "a city with every grade: {summary}"
    );

    // The headline: the open items are the summary's; overdue are its red ones (the
    // policy here makes an item red exactly when it is past its deadline).
    let headline = &shown["headline"];
    let finished_on = |day: &str| {
        server
            .finished
            .iter()
            .filter(|item| {
                let finished =
                    chrono::DateTime::parse_from_rfc3339(item["finished_at"].as_str().unwrap())
                        .unwrap()
                        .with_timezone(&chrono_tz::Asia::Shanghai);
                finished.format("%Y-%m-%d").to_string().starts_with(day)
            })
            .collect::<Vec<_>>()
    };
    let this_month = finished_on("2026-11");
    let on_time = this_month
        .iter()
        .filter(|item| item["overdue"] == false)
        .count();
    assert!(!this_month.is_empty(), "{when}: items finished in November");
    let expected = json!({
        "pending": int(open),
        "overdue": int(count("red")),
        "paused": int(server.paused),
        "finished_today": int(finished_on("2026-11-25").len() as u64),
        "finished_this_month": int(this_month.len() as u64),
        // (to one decimal: below)
        "on_time_rate": headline["on_time_rate"],
    });
    assert_eq!(headline, &expected, "headline at {when}");
    assert_percent(
        &headline["on_time_rate"],
        "",
        on_time as f64 * 100.0 / this_month.len() as f64,
        &format!("on-time rate at {when}"),
    );

    // The ring's three cards: count and share of each grade.
    for grade in GRADES {
        let card = &shown["ring"][grade];
        assert_eq!(card["count"], int(count(grade)), "{grade} card at {when}");
        assert_percent(
            &card["share"],
            "占 ",
            count(grade) as f64 * 100.0 / open as f64,
            &format!("{grade} share at {when}"),
        );
    }
    assert_eq!(
        shown["ring_total"],
        format!("合计 {} 件 · 超期 {} 件", int(open), int(count("red"))),
        "{when}"
    );

    // Departments, worst first (red, then yellow, then name), each with its three counts
    // (red, yellow, blue, as the table's columns go).
    let mut departments: BTreeMap<&str, [u64; 3]> = BTreeMap::new();
    let mut stages = [[0u64; 3]; 4];
    for row in rows {
        let column = match row["grade"].as_str().unwrap() {
            "red" => 0,
            "yellow" => 1,
            _ => 2,
        };
        let n = row["count"].as_u64().unwrap();
        departments
            .entry(row["department"].as_str().unwrap())
            .or_default()[column] += n;
        stages[row["stage"].as_u64().unwrap() as usize - 1][column] += n;
    }
    let mut worst_first: Vec<(&str, [u64; 3])> = departments.into_iter().collect();
    worst_first.sort_by(|(a, x), (b, y)| (y[0], y[1], a).cmp(&(x[0], x[1], b)));
    let department_rows: Vec<Value> = worst_first
        .iter()
        .map(|(name, [red, yellow, blue])| json!([name, int(*red), int(*yellow), int(*blue)]))
        .collect();
    assert_eq!(
        shown["departments"],
        json!(department_rows),
        "department rows at {when}"
    );
    let with_red = worst_first.iter().filter(|(_, [red, ..])| *red > 0).count();
    assert_eq!(
        shown["departments_total"],
        format!("共 {} 个部门 · 有超期件 {with_red} 个", worst_first.len()),
        "{when}"
    );

    let names = ["立项用地规划许可", "工程建设许可", "施工许可", "竣工验收"];
    let stage_rows: Vec<Value> = stages
        .iter()
        .zip(names)
        .enumerate()
        .map(|(i, ([red, yellow, blue], name))| {
            json!([
                (i + 1).to_string(),
                name,
                int(*red),
                int(*yellow),
                int(*blue)
            ])
        })
        .collect();
    assert_eq!(shown["stages"], json!(stage_rows), "stage rows at {when}");

    // The trend's last point is today's open yellow and red items; its 30 days end on NOW.
    assert_eq!(
        shown["trend_today"],
        json!([int(count("yellow")), int(count("red"))]),
        "{when}"
    );
    assert_eq!(shown["trend_days"], "10-27 至 11-25", "{when}");
    assert_eq!(
        shown["red_list_total"],
        format!("最新 {} 件", count("red").min(30)),
        "{when}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_big_screen_at_every_size_then_stale_then_disconnected_then_back() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    let config = live_config(dir.path(), &url, MORE_SCREENS);
    let records = city(&config, 600);
    feed.set(records.clone());
    let app = spawn_app(config, fixed_clock().1).await;
    // The clock stands still and the feed does not change, so once the screens have
    // counted the whole city the figures stay as they are.
    eventually(20, "the whole city stored and counted", || async {
        let pending = app
            .get(&format!("/live/snapshot?token={VIEWER_TOKEN}"))
            .await
            .1["panels"]["headline"]["pending"]
            .clone();
        total(&app, "").await == records.len() as u64 && pending == total(&app, "status=open").await
    })
    .await;
    let screen = format!("{}/screen/overview?token={SCREEN_TOKEN}", app.base);

    // The smallest text at 1920×1080, which every other 16:9 window shows scaled.
    let mut smallest = None;
    // The window, and the columns of panels across it: three on a 16:9 screen, more on a
    // wide wall (the stage 5760×1080 at 48:9, 3840×1080 at 32:9).
    for (w, h, across) in [
        (1920, 1080, 3),
        (1366, 768, 3),
        (1280, 720, 3),
        (3840, 2160, 3),
        (2560, 1080, 3),
        (5760, 1080, 6),
        (7680, 2160, 4),
    ] {
        let page = browser.new_page(w, h).await;
        page.goto(&screen).await;
        page.wait_for(
            &format!("Number(document.body.dataset.seq) > 0 && {CHARTS_PLACED}"),
            Duration::from_secs(15),
        )
        .await;
        // Every panel has its data, the projects included (drawn from the first load too).
        page.wait_for(
            "!document.querySelector('[data-panel=projects]').innerText.includes('暂无在办项目')",
            Duration::from_secs(5),
        )
        .await;
        // Measured and shot once the page's fonts are in (a fallback font's wider glyphs
        // would overflow).
        assert_eq!(
            page.eval("document.fonts.ready.then(() => document.fonts.status)")
                .await,
            "loaded",
            "fonts at {w}x{h}"
        );
        for (panel, title) in TITLES {
            let shown = page
                .eval(&format!(
                    "document.querySelector('[data-panel={panel}] .panel-title')?.innerText ?? ''"
                ))
                .await;
            assert_eq!(shown, title, "{panel} at {w}x{h}");
        }
        // The page's clock and data time are the daemon's (standing at NOW), whatever the
        // machine's date: from its first tick after the server's hello the clock shows the
        // server's time, its seconds running on from there.
        page.wait_for(
            r"(() => { const t = document.getElementById('clock').innerText; if (!/^2026年11月25日 星期三 10:00:\d\d$/.test(t)) throw t; return true; })()",
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(
            page.eval("document.getElementById('data-time').innerText")
                .await,
            "10:00:00",
            "data time at {w}x{h}"
        );
        let (shown, server) = at_one_seq(&app, &page).await;
        assert_figures(&shown, &server, &format!("{w}x{h}"));
        assert_nothing_overflows(&page, &format!("{w}x{h}")).await;
        assert_fills_the_window(&page, across, &format!("{w}x{h}")).await;
        let least = assert_text_readable(&page, &format!("{w}x{h}")).await;
        let at_1920 = *smallest.get_or_insert(least);
        if w * 9 == h * 16 {
            let scaled = at_1920 * f64::from(h) / 1080.0;
            assert!(
                (least - scaled).abs() < 0.05,
                "{w}x{h}: the smallest text is {least} px, the 1920×1080 one ({at_1920} px) scaled is {scaled}"
            );
        }
        for banner in ["banner-stale", "banner-connection"] {
            assert_eq!(
                page.eval(&format!("document.getElementById('{banner}').hidden"))
                    .await,
                Value::Bool(true),
                "{banner} at {w}x{h}"
            );
        }
        shoot(&browser, &page, &format!("overview-{w}x{h}.png"), (w, h)).await;
    }

    // A wall whose player puts out 1920×1080 for the wall's controller to stretch onto a
    // 32:9 wall: its config says so, and the page is laid out in four columns and squeezed
    // into the window (the controller undoes that), its figures the server's as ever.
    let page = browser.new_page(1920, 1080).await;
    page.goto(&format!("{}/screen/wall?token={SCREEN_TOKEN}", app.base))
        .await;
    page.wait_for(
        &format!("document.getElementById('stage').dataset.across === '4' && {CHARTS_PLACED}"),
        Duration::from_secs(15),
    )
    .await;
    let (shown, server) = at_one_seq(&app, &page).await;
    let wall = "a 32:9 wall at 1920x1080";
    assert_figures(&shown, &server, wall);
    assert_nothing_overflows(&page, wall).await;
    assert_fills_the_window(&page, 4, wall).await;
    assert_eq!(
        page.eval("document.getElementById('stage').offsetWidth")
            .await,
        3840
    );
    // Its text is 18 px high, as on the wall, where the controller stretches it wide again.
    assert_text_readable(&page, wall).await;
    // The trend's box is wider there, the departments' taller: each has its own drawing.
    assert_eq!(
        page.eval("['trend', 'departments'].map(p => { const b = document.querySelector(`[data-panel=${p}] svg`).viewBox.baseVal; return [b.width, b.height]; })")
            .await,
        json!([[880, 284], [416, 736]])
    );
    shoot(&browser, &page, "wall-32x9-in-1920x1080.png", (1920, 1080)).await;

    // The chase screen lists the red items longest overdue, as the server counts them: the
    // open red items by working days over (then the earlier deadline, then the id), the
    // first 30. (The list ticks upwards when it is longer than its panel: what it shows is
    // that order turned round by some rows.)
    let page = browser.new_page(1920, 1080).await;
    page.goto(&format!("{}/screen/worst?token={SCREEN_TOKEN}", app.base))
        .await;
    let (_, server) = at_one_seq(&app, &page).await;
    let mut red: Vec<Value> = app
        .get(&format!(
            "/api/items?token={VIEWER_TOKEN}&limit=1000&status=open&grade=red"
        ))
        .await
        .1["items"]
        .as_array()
        .unwrap()
        .clone();
    red.sort_by(|a, b| {
        let key = |i: &Value| {
            (
                i["remaining"].as_i64().unwrap(),
                i["deadline_date"].as_str().unwrap().to_owned(),
                i["item_id"].as_str().unwrap().to_owned(),
            )
        };
        key(a).cmp(&key(b))
    });
    let expected: Vec<Value> = red
        .iter()
        .take(30)
        .map(|i| {
            json!([
                i["department"],
                i["matter"],
                int((-i["remaining"].as_i64().unwrap()) as u64)
            ])
        })
        .collect();
    assert!(
        expected.len() > 1,
        "red items in the city: {}",
        server.summary
    );
    let shown = page
        .eval("[...document.querySelectorAll('[data-panel=overdue_list] .rl-track .rl-row')].map(r => [r.children[0].innerText, r.children[2].innerText, r.children[3].innerText])")
        .await;
    let shown = shown.as_array().unwrap().clone();
    assert!(
        (0..expected.len()).any(|turn| {
            let mut turned = expected.clone();
            turned.rotate_left(turn);
            turned == shown
        }),
        "longest overdue shown {shown:?}, expected (turned round) {expected:?}"
    );
    assert_eq!(
        page.eval("document.querySelector('[data-panel=overdue_list] .panel-extra').innerText")
            .await,
        format!("最久 {} 个工作日", expected[0][2].as_str().unwrap())
    );
    assert_nothing_overflows(&page, "worst").await;
    assert_text_readable(&page, "worst").await;
    shoot(&browser, &page, "worst-1920x1080.png", (1920, 1080)).await;

    // The feed goes down: after two missed runs the screen says so, naming it and its last
    // success (at NOW, where the clock stands).
    let page = browser.new_page(1920, 1080).await;
    page.goto(&screen).await;
    page.wait_for(
        "Number(document.body.dataset.seq) > 0",
        Duration::from_secs(15),
    )
    .await;
    feed.fail(true);
    page.wait_for(
        "!document.getElementById('banner-stale').hidden",
        Duration::from_secs(15),
    )
    .await;
    assert_eq!(
        page.eval("document.getElementById('banner-stale').innerText")
            .await,
        "数据源异常 main（最近成功 10:00:00）"
    );
    assert_nothing_overflows(&page, "stale").await;
    shoot(&browser, &page, "overview-stale.png", (1920, 1080)).await;
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
        "!document.getElementById('banner-connection').hidden",
        Duration::from_secs(15),
    )
    .await;
    assert_eq!(
        page.eval("document.getElementById('banner-connection').innerText")
            .await,
        "连接中断，正在重连"
    );
    assert_nothing_overflows(&page, "disconnected").await;
    shoot(&browser, &page, "overview-disconnected.png", (1920, 1080)).await;

    // It comes back on the same address and store: the page reconnects by itself, its
    // `since` from the last run is answered with a fresh snapshot, and the banner goes; the
    // figures are the new run's, the same city's.
    let mut config = live_config(dir.path(), &url, MORE_SCREENS);
    config.listen = addr;
    let app = spawn_app(config, fixed_clock().1).await;
    page.wait_for(
        &format!(
            "document.getElementById('banner-connection').hidden && Number(document.body.dataset.seq) > {before}"
        ),
        Duration::from_secs(40),
    )
    .await;
    eventually(20, "the city counted again", || async {
        app.get(&format!("/live/snapshot?token={VIEWER_TOKEN}"))
            .await
            .1["panels"]["headline"]["pending"]
            == total(&app, "status=open").await
    })
    .await;
    let (shown, server) = at_one_seq(&app, &page).await;
    assert_figures(&shown, &server, "reconnected");
    assert_nothing_overflows(&page, "reconnected").await;
    shoot(&browser, &page, "overview-reconnected.png", (1920, 1080)).await;
    app.stop().await;
}

/// The text of `selector`, or "" if absent.
/// JavaScript: the text of `selector`'s element, or "". Parenthesised, so that it can be
/// compared: `a ?? '' === b` would compare '' with b, and be true whenever a is not empty.
fn inner_text(selector: &str) -> String {
    format!("(document.querySelector({selector:?})?.innerText ?? '')")
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
    eventually(20, "the city stored", || async {
        total(&app, "").await == records.len() as u64
    })
    .await;

    // The dashboard lists the open items, worst first; a filter narrows it.
    let page = browser.new_page(1440, 900).await;
    page.goto(&format!("{}/?token={VIEWER_TOKEN}", app.base))
        .await;
    page.wait_for(
        "document.body.dataset.list === 'ready' && document.querySelectorAll('#items tbody tr[data-item-id]').length > 0",
        Duration::from_secs(15),
    )
    .await;
    let open = total(&app, "status=open").await;
    page.wait_for(
        &format!("{} === '共 {} 件'", inner_text("#total"), int(open)),
        Duration::from_secs(5),
    )
    .await;
    let classes = page
        .eval(
            "[...document.querySelectorAll('#items tbody tr[data-item-id]')].map(r => r.className)",
        )
        .await;
    let severity: Vec<usize> = classes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            ["is-red", "is-yellow", "is-blue"]
                .iter()
                .position(|known| c == known)
                .unwrap_or_else(|| panic!("a row of class {c}"))
        })
        .collect();
    assert!(
        severity.first() == Some(&0) && severity.is_sorted(),
        "worst first: {classes}"
    );
    assert_page_is_no_wider_than_its_window(&page, "dashboard").await;
    page.eval(
        "(() => { const s = document.querySelector('#filters [name=grade]'); s.value = 'red'; s.dispatchEvent(new Event('change', {bubbles: true})); })()",
    )
    .await;
    let red = total(&app, "status=open&grade=red").await;
    page.wait_for(
        &format!("{} === '共 {} 件'", inner_text("#total"), int(red)),
        Duration::from_secs(5),
    )
    .await;
    page.wait_for(
        "[...document.querySelectorAll('#items tbody tr[data-item-id]')].every(r => r.className === 'is-red')",
        Duration::from_secs(5),
    )
    .await;
    shoot(&browser, &page, "dashboard.png", (1440, 900)).await;

    // The withdrawn items: newest ended first, with their finish time, said 已撤回 (not the
    // red 超期 their clock would show).
    let withdrawn = total(&app, "status=withdrawn").await;
    assert!(withdrawn > 1, "a city with withdrawn items");
    let list = browser.new_page(1440, 900).await;
    list.goto(&format!(
        "{}/?token={VIEWER_TOKEN}&status=withdrawn",
        app.base
    ))
    .await;
    list.wait_for(
        &format!(
            "{} === '共 {} 件' && document.querySelectorAll('#items tbody tr[data-item-id]').length === {}",
            inner_text("#total"),
            int(withdrawn),
            withdrawn.min(50)
        ),
        Duration::from_secs(10),
    )
    .await;
    let rows = list
        .eval("[...document.querySelectorAll('#items tbody tr[data-item-id]')].map(r => [r.cells[0].innerText, r.cells[5].innerText, r.cells[8].innerText])")
        .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len() as u64, withdrawn.min(50));
    let ended: Vec<&str> = rows.iter().map(|r| r[1].as_str().unwrap()).collect();
    assert!(
        rows.iter().all(|r| r[0] == "已撤回" && r[2] == "已撤回")
            && ended.iter().all(|t| t.len() == "2026-11-25 10:00".len())
            && ended.is_sorted_by(|a, b| a >= b),
        "{rows:?}"
    );
    assert_eq!(
        list.eval("getComputedStyle(document.querySelector('#items th.col-ended')).display")
            .await,
        "table-cell"
    );

    // A new red item arrives through the feed: the filtered list follows without a reload.
    let mut late = record("LIVE-1", "2026-10-09T09:30:00+08:00", 5);
    late["department"] = json!("市气象局");
    records.push(late);
    // And one due next year, whose holiday notice is not out: a provisional deadline.
    let mut next_year = record("PROV-1", "2026-11-23T09:30:00+08:00", 30);
    next_year["department"] = json!("市气象局");
    next_year["legal_days"] = json!(60);
    records.push(next_year);
    feed.set(records.clone());
    page.wait_for(
        &format!("{} === '共 {} 件'", inner_text("#total"), int(red + 1)),
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
    // 15 October; by Wednesday 25 November 1 + 6 × 5 + 3 = 34 working days used, 29 over.
    assert_eq!(page.eval(&inner_text("#deadline")).await, "2026-10-15");
    assert_eq!(page.eval(&inner_text("#used-allowed")).await, "34 / 5");
    assert_eq!(
        page.eval(&inner_text("#remaining")).await,
        "超期 29 个工作日"
    );
    assert_eq!(page.eval(&inner_text("#item-grade")).await, "红 超期");
    // Its grades dated when they happened, newest first, though the feed brought the record
    // only on 25 November: blue when it was accepted, yellow on the 13th (3 of 5 days used:
    // 10, 12, 13), red from the 16th, the day after its deadline.
    let history = page
        .eval("[...document.querySelectorAll('#history tbody tr')].map(r => [...r.cells].map(c => c.innerText))")
        .await;
    assert_eq!(
        history,
        json!([
            ["2026-10-16 00:00", "红 超期", "黄 正常", "计时推进"],
            ["2026-10-13 00:00", "黄 正常", "蓝 超前", "计时推进"],
            [
                "2026-10-09 09:30",
                "蓝 超前",
                "—（首次）",
                "数据更新（main）"
            ]
        ])
    );
    // Back goes to the list it came from, with its filter.
    assert_eq!(
        page.eval("document.getElementById('back').getAttribute('href')")
            .await,
        format!("/?token={VIEWER_TOKEN}&grade=red")
    );
    // Its deadline is official: nothing says 暂定.
    assert_eq!(page.eval(&inner_text("#deadline-provisional")).await, "");
    assert_eq!(
        page.eval("document.getElementById('provisional-note').hidden")
            .await,
        true
    );
    assert_page_is_no_wider_than_its_window(&page, "item").await;
    shoot(&browser, &page, "item.png", (1440, 900)).await;

    // The item due next year: worked out by hand, accepted Monday 23 November, counted
    // 24–27 and 30 November (5), the 23 weekdays of December (28), then on the provisional
    // 2027 (1 January 元旦, 2–3 a weekend) 4 and 5 January: due 5 January 2027, 暂定, why said.
    page.goto(&format!("{}/item/PROV-1?token={VIEWER_TOKEN}", app.base))
        .await;
    page.wait_for(
        "document.body.dataset.loaded === 'ready'",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(page.eval(&inner_text("#deadline")).await, "2027-01-05");
    assert_eq!(
        page.eval(&inner_text("#deadline-provisional")).await,
        "暂定"
    );
    assert_eq!(
        page.eval(&inner_text("#provisional-note")).await,
        "暂定：2027 年的节假日安排（国务院办公厅通知）尚未加载，其中的工作日按《全国年节及纪念日放假办法》推算，\
         未含调休，期限和已用工作日在通知发布后可能变动"
    );
    assert_page_is_no_wider_than_its_window(&page, "provisional item").await;
    shoot(&browser, &page, "item-provisional.png", (1440, 900)).await;

    // The department's phone page: its open items and their counts by grade, nothing wider
    // than the phone.
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
    let department = "status=open&department=%E5%B8%82%E6%B0%94%E8%B1%A1%E5%B1%80";
    let expected = total(&app, department).await;
    let shown = phone
        .eval("document.querySelectorAll('#items a[data-item-id]').length")
        .await;
    // The page shows the first 50 and offers more.
    assert_eq!(shown, expected.min(50), "{shown} of {expected}");
    for grade in ["red", "yellow", "blue"] {
        let count = total(&app, &format!("{department}&grade={grade}")).await;
        assert_eq!(
            phone.eval(&inner_text(&format!("#count-{grade}"))).await,
            int(count),
            "{grade}"
        );
    }
    let first = phone
        .eval("document.querySelector('#items a[data-item-id]').dataset.itemId")
        .await;
    assert_eq!(first, "LIVE-1", "the reddest first");
    assert_eq!(
        phone
            .eval("document.querySelector('#items a[data-item-id=\"PROV-1\"] .deadline').innerText")
            .await,
        "截止 2027-01-05暂定"
    );
    assert_page_is_no_wider_than_its_window(&phone, "phone").await;
    shoot(&browser, &phone, "phone.png", (390, 844)).await;

    // A wrong token: the 401 page, no data.
    let denied = browser.new_page(1280, 720).await;
    denied.goto(&format!("{}/?token=wrong", app.base)).await;
    assert_eq!(
        denied
            .eval("performance.getEntriesByType('navigation')[0].responseStatus")
            .await,
        401
    );
    assert_eq!(denied.eval(&inner_text("h1")).await, "访问令牌缺失或无效");
    let text = denied.eval("document.body.innerText").await;
    assert!(!text.as_str().unwrap().contains("市气象局"), "{text}");
    app.stop().await;
}

/// A page that may scroll down (a long list) but never sideways.
async fn assert_page_is_no_wider_than_its_window(page: &Page, what: &str) {
    let (wide, window) = (
        page.eval("document.documentElement.scrollWidth").await,
        page.eval("innerWidth").await,
    );
    assert!(
        wide.as_u64().unwrap() <= window.as_u64().unwrap(),
        "{what}: {wide} in {window}"
    );
}

/// A screen with the warnings panel, for the duty office.
const DUTY_SCREEN: &str = r#"
[[screens]]
name = "duty"
title = "预警督办"
panels = ["headline", "ring", "departments", "stages", "warnings"]
token_env = "DUBAN_SCREEN_TOKEN"
"#;

/// JavaScript: the warnings panel as shown.
const WARNINGS_SHOWN: &str = r#"(() => {
  const panel = document.querySelector('[data-panel=warnings]');
  if (!panel || panel.hidden) return null;
  const rows = [...panel.querySelectorAll('.gt-rows .gt-row')]
    .map((row) => [row.dataset.channel, ...[...row.children].map((c) => c.innerText)]);
  const cell = (cls) => [...panel.querySelectorAll(`.${cls} div`)].map((d) => d.innerText);
  return { rows, escalations: cell('warn-escalations'), answered: cell('warn-answered'),
    total: panel.querySelector('.panel-extra').innerText };
})()"#;

/// The warnings panel, worked out from the audit's API (another path through the store
/// than the panel's count): each channel's messages of the day as sent / waiting / held by
/// the quiet hours / failed, the escalations and their items, and the answered share of
/// the items warned today.
async fn warnings_expected(app: &TestApp) -> Value {
    let list = app
        .get(&format!(
            "/api/deliveries?token={VIEWER_TOKEN}&from=2026-11-25&limit=10000"
        ))
        .await
        .1["deliveries"]
        .as_array()
        .unwrap()
        .clone();
    let mut total = 0;
    let rows: Vec<Value> = [("sms", "短信"), ("email", "邮件"), ("robot", "群机器人")]
        .iter()
        .map(|(channel, word)| {
            let of: Vec<&Value> = list.iter().filter(|d| d["channel"] == *channel).collect();
            let count = |f: &dyn Fn(&Value) -> bool| of.iter().filter(|d| f(d)).count() as u64;
            let counts = [
                count(&|d| d["status"] == "sent" || d["status"] == "delivered"),
                count(&|d| d["status"] == "pending" && d["held"] == false),
                count(&|d| d["status"] == "pending" && d["held"] == true),
                count(&|d| d["status"] == "failed" || d["status"] == "undelivered"),
            ];
            total += counts.iter().sum::<u64>();
            let mut row = vec![json!(channel), json!(word)];
            row.extend(counts.iter().map(|n| json!(int(*n))));
            Value::Array(row)
        })
        .collect();
    let items = |rule: &dyn Fn(&str) -> bool| {
        list.iter()
            .filter(|d| rule(d["rule"].as_str().unwrap()))
            .flat_map(|d| d["items"].as_array().unwrap().iter().cloned())
            .map(|i| i.as_str().unwrap().to_owned())
            .collect::<std::collections::BTreeSet<String>>()
    };
    let escalations = list
        .iter()
        .filter(|d| d["rule"].as_str().unwrap().starts_with("escalation-"))
        .count() as u64;
    let escalated = items(&|r| r.starts_with("escalation-")).len() as u64;
    let warned = items(&|_| true).len() as u64;
    json!({
        "rows": rows,
        "escalations": ["督办单及升级", format!("{} 条", int(escalations)), format!("涉及 {} 件办件", int(escalated))],
        "warned": warned,
        "total": format!("合计 {} 条", int(total)),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_warnings_panel_counts_todays_messages_and_answers() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    let extra = format!("{}{DUTY_SCREEN}", common::warnings::WARNINGS);
    let config = live_config(dir.path(), &url, &extra);
    let records = city(&config, 300);
    let app = spawn_app(config, fixed_clock().1).await;
    let mut departments: Vec<String> = records
        .iter()
        .map(|r| r["department"].as_str().unwrap().to_owned())
        .collect();
    departments.sort();
    departments.dedup();
    common::warnings::insert_contacts(&app, &departments).await;
    feed.set(records);
    eventually(30, "warnings written and the emails sent", || async {
        let list = app
            .get(&format!("/api/deliveries?token={VIEWER_TOKEN}&limit=10000"))
            .await
            .1["deliveries"]
            .as_array()
            .unwrap()
            .clone();
        list.iter().any(|d| d["rule"] == "escalation-1")
            && list.iter().any(|d| d["channel"] == "email")
            && list
                .iter()
                .filter(|d| d["channel"] == "email")
                .all(|d| d["status"] == "sent")
    })
    .await;

    // A department answers one warned item after its warning; another item was answered
    // before today's warning (yesterday's answer), a third only silenced by the office:
    // neither of those two counts.
    let list = app
        .get(&format!(
            "/api/deliveries?token={VIEWER_TOKEN}&rule=escalation-1&limit=10000"
        ))
        .await
        .1["deliveries"]
        .clone();
    let warned: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["items"].as_array().unwrap().iter())
        .map(|i| i.as_str().unwrap().to_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(warned.len() >= 3, "escalated items: {warned:?}");
    let pool = app.running.shared.store.pool();
    for (kind, item, answered_at) in [
        ("answer", &warned[0], "2026-11-25T02:00:30.000Z"),
        ("answer", &warned[1], "2026-11-24T08:00:00.000Z"),
        ("silence", &warned[2], "2026-11-25T02:00:40.000Z"),
    ] {
        sqlx::Executor::execute(
            pool,
            sqlx::AssertSqlSafe(format!(
                "INSERT INTO answers (kind, item_id, until, reason, by_whom, at) \
                 VALUES ('{kind}', '{item}', '2026-11-30', '已联系申请人补正', '测试', '{answered_at}')"
            )),
        )
        .await
        .unwrap();
    }

    let page = browser.new_page(1920, 1080).await;
    page.goto(&format!("{}/screen/duty?token={SCREEN_TOKEN}", app.base))
        .await;
    page.wait_for(
        &format!("Number(document.body.dataset.seq) > 0 && {CHARTS_PLACED}"),
        Duration::from_secs(15),
    )
    .await;
    assert_eq!(
        page.eval("document.querySelector('[data-panel=warnings] .panel-title').innerText")
            .await,
        "今日预警发送"
    );
    // The panel is recounted with the live figures (at the latest every 15 s): it settles
    // on the audit's counts, the answer included.
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    let (shown, expected) = loop {
        let expected = warnings_expected(&app).await;
        let shown = page.eval(WARNINGS_SHOWN).await;
        let warned = expected["warned"].as_u64().unwrap();
        let matches = !shown.is_null()
            && shown["rows"] == expected["rows"]
            && shown["escalations"] == expected["escalations"]
            && shown["total"] == expected["total"]
            && shown["answered"][2] == format!("已回告 1 / 预警 {} 件", int(warned));
        if matches || std::time::Instant::now() > deadline {
            break (shown, expected);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let warned = expected["warned"].as_u64().unwrap();
    assert_eq!(shown["rows"], expected["rows"], "{shown} vs {expected}");
    assert_eq!(shown["escalations"], expected["escalations"]);
    assert_eq!(shown["total"], expected["total"]);
    assert_eq!(
        shown["answered"][2],
        format!("已回告 1 / 预警 {} 件", int(warned))
    );
    assert_percent(&shown["answered"][1], "", 100.0 / warned as f64, "回告率");
    // Held SMS and sent email are both on show (the quiet hours hold SMS until 10:30).
    let sms = &shown["rows"][0];
    assert!(sms[4] != "0" && shown["rows"][1][2] != "0", "{shown}");
    assert_nothing_overflows(&page, "duty").await;
    assert_text_readable(&page, "duty 1920x1080").await;
    shoot(&browser, &page, "duty-warnings-1920x1080.png", (1920, 1080)).await;
    app.stop().await;
}
