//! `duban demo`: the simulator and the daemon in one process, on SQLite under `data/demo`,
//! with the shipped config's feeds polling the simulator every few seconds.

use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::simulate::{self, CityOptions};
use crate::app;
use crate::calendar::Calendar;
use crate::clock::Clock;
use crate::config::Config;
use crate::feeds::spec::Source;

pub const DEMO_DATABASE_URL: &str = "sqlite://data/demo/duban.db";
/// The demo's tokens, kept so that an open screen reconnects after the demo restarts.
const TOKENS_FILE: &str = "data/demo/tokens.txt";
const TOKEN_VARIABLES: [&str; 2] = ["DUBAN_VIEWER_TOKEN", "DUBAN_SCREEN_TOKEN"];

/// Loads the config with tokens for the screens and pages: the environment's if set, else
/// the ones the demo made on its first run.
pub fn load(config: Option<&std::path::Path>) -> anyhow::Result<(Config, Calendar)> {
    let tokens = demo_tokens().context("keeping the demo's tokens in data/demo")?;
    super::load_with(config, |file| file.with_env_fallback(tokens))
}

/// `DUBAN_VIEWER_TOKEN=…` lines, as a shell would export them.
fn demo_tokens() -> std::io::Result<Vec<(String, String)>> {
    let kept = std::fs::read_to_string(TOKENS_FILE).unwrap_or_default();
    let known: Vec<(String, String)> = kept
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, v)| TOKEN_VARIABLES.contains(k) && v.len() >= 16)
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if known.len() == TOKEN_VARIABLES.len() {
        return Ok(known);
    }
    let made: Vec<(String, String)> = TOKEN_VARIABLES
        .iter()
        .map(|v| random_token().map(|t| ((*v).to_owned(), t)))
        .collect::<std::io::Result<_>>()?;
    std::fs::create_dir_all("data/demo")?;
    // Readable by the owner only: the tokens open the screens and the API.
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(TOKENS_FILE)?;
    for (k, v) in &made {
        writeln!(file, "{k}={v}")?;
    }
    Ok(made)
}

/// 128 random bits from the operating system, as hex.
fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The simulated city's departments get made-up contacts (1380000xxxx, example.cn), and a
/// few of its projects stewards, when the demo store has none: the `log` senders of the
/// shipped config then "send" its warnings, which the deliveries page shows.
async fn demo_contacts(shared: &crate::ingest::Shared) -> anyhow::Result<()> {
    use crate::warnings::contacts::{demo_contacts, demo_stewards};
    if !shared.store.contacts().await?.is_empty() {
        return Ok(());
    }
    let mut departments: Vec<String> = shared
        .config
        .matters
        .iter()
        .map(|m| m.department.clone())
        .collect();
    departments.sort();
    departments.dedup();
    let mut contacts = demo_contacts(&departments);
    let projects: Vec<String> = {
        let board = shared.board();
        let names = board.names();
        let mut codes: Vec<String> = board
            .entries()
            .iter()
            .map(|e| names.project(e.labels.project).code.to_string())
            .collect();
        codes.sort();
        codes.dedup();
        codes.into_iter().take(5).collect()
    };
    contacts.extend(demo_stewards(&projects));
    shared.store.replace_contacts(&contacts).await?;
    Ok(())
}

pub async fn run(mut config: Config, calendar: Calendar) -> anyhow::Result<()> {
    // The simulator listens where the config's feeds look for it.
    let simulator_addr = config
        .feeds
        .iter()
        .find_map(|f| match &f.source {
            Source::HttpJson(h) => h
                .url
                .strip_prefix("http://")
                .and_then(|rest| rest.split('/').next())
                .map(str::to_owned),
            _ => None,
        })
        .unwrap_or_else(|| "127.0.0.1:8090".to_owned());
    let simulator_addr = simulator_addr.parse().with_context(|| {
        format!("the demo feeds point at {simulator_addr}, which is not an address to listen on")
    })?;
    config.database_url = DEMO_DATABASE_URL.to_owned();
    let stop_simulator = CancellationToken::new();
    let options = CityOptions {
        epoch: chrono::Utc::now(),
        items: 2400,
        seed: 7,
        tick: Duration::from_secs(3),
        state: Some("data/demo/city.json".into()),
    };
    let (addr, simulator) = simulate::start(
        &config,
        &calendar,
        simulator_addr,
        options,
        stop_simulator.clone(),
    )
    .await?;
    let viewer = config
        .access
        .viewer_tokens
        .first()
        .map(|t| t.expose().to_owned())
        .unwrap_or_default();
    let screens: Vec<(String, String)> = config
        .screens
        .iter()
        .map(|s| {
            let token = s
                .tokens
                .first()
                .map_or(viewer.clone(), |t| t.expose().to_owned());
            (s.name.clone(), token)
        })
        .collect();
    let running = app::start(config, calendar, Clock::System).await?;
    let api = app::reachable_address(running.addr);
    demo_contacts(&running.shared).await?;
    println!();
    println!("duban demo: a simulated city of about 300 projects, polled every 5 seconds");
    for (name, token) in &screens {
        println!("  big-screen (F11):     http://{api}/screen/{name}?token={token}");
    }
    println!("  dashboard:            http://{api}/?token={viewer}");
    println!("  rankings (last month): http://{api}/rankings?token={viewer}");
    println!(
        "  a department's phone: http://{api}/m/dept/%E5%B8%82%E6%B0%94%E8%B1%A1%E5%B1%80?token={viewer}  (市气象局)"
    );
    println!("  items (worst first):  http://{api}/api/items?status=open&token={viewer}");
    println!("  open red items:       http://{api}/api/items?grade=red&status=open&token={viewer}");
    println!("  counts:               http://{api}/api/summary?token={viewer}");
    println!("  feeds:                http://{api}/api/feeds?token={viewer}");
    println!("  quarantine:           http://{api}/api/quarantine?token={viewer}");
    println!("  warnings (log sender): http://{api}/api/deliveries?token={viewer}");
    println!("  health, metrics:      http://{api}/healthz  http://{api}/metrics?token={viewer}");
    println!("  simulated systems:    http://{addr}/canonical/items  http://{addr}/cn/items");
    println!("  store:                {DEMO_DATABASE_URL}");
    println!("Ctrl-C stops it; running it again continues from the stored state.");
    app::stop_signal().await;
    running.stop(Duration::from_secs(10)).await;
    stop_simulator.cancel();
    let _ = simulator.await;
    Ok(())
}
