//! The rankings end to end on SQLite (the scenario is tests/common/rankings.rs; on
//! PostgreSQL it runs in tests/services.rs).

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_month_is_published_mailed_frozen_and_written() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = common::sqlite_url(dir.path());
    common::rankings::published_mailed_frozen_and_written(&url, dir.path()).await;
}

/// Without a CJK font the PNG is refused with what to install; the other formats still work.
#[test]
fn without_a_font_the_png_says_what_to_install_and_the_rest_works() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut text = common::config_text(&common::sqlite_url(dir.path()), "");
    text.push_str("\n[rankings]\nfont = \"/no/such/font.ttc\"\n");
    let config = dir.path().join("duban.toml");
    std::fs::write(&config, text).unwrap_or_else(|e| panic!("{e}"));
    let run = |format: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_duban"))
            .args([
                "--config",
                &config.display().to_string(),
                "report",
                "monthly",
            ])
            .args(["--month", "2025-10", "--format", format, "--out"])
            .arg(dir.path().join(format!("out.{format}")))
            .args(["--now", "2025-11-04T09:00:00+08:00"])
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let png = run("png");
    let said = String::from_utf8_lossy(&png.stderr);
    assert!(!png.status.success());
    assert!(
        said.contains("/no/such/font.ttc") && said.contains("fonts-wqy-microhei"),
        "{said}"
    );
    for format in ["html", "xlsx", "json"] {
        let out = run(format);
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A month asked of the quarterly report is refused, naming the right flag.
    let wrong = std::process::Command::new(env!("CARGO_BIN_EXE_duban"))
        .args([
            "--config",
            &config.display().to_string(),
            "report",
            "quarterly",
        ])
        .args(["--quarter", "2025-10", "--out"])
        .arg(dir.path().join("q.json"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("--quarter 2026Q3"));
}
