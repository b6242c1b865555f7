//! The `duban` binary as a user runs it: from the repository root, with the shipped config.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed; the panic says where

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

/// The shipped config's token variables, as an operator exports them.
const TOKENS: [(&str, &str); 2] = [
    ("DUBAN_VIEWER_TOKEN", "viewer-token"),
    ("DUBAN_SCREEN_TOKEN", "screen-token"),
];

fn duban(args: &[&str], stdin: Option<&str>) -> Output {
    duban_with(args, stdin, &TOKENS)
}

fn duban_with(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_duban"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DUBAN_CONFIG")
        .env_remove("DUBAN_VIEWER_TOKEN")
        .env_remove("DUBAN_SCREEN_TOKEN")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the duban binary starts");
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every output line is JSON"))
        .collect()
}

#[test]
fn calendar_prints_every_date_of_2025_and_2026() {
    let out = duban(
        &["calendar", "--from", "2025-01-01", "--to", "2026-12-31"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 730);
    assert_eq!(rows[0], "2025-01-01 rest");
    assert!(rows.contains(&"2026-02-14 workday"));
    assert!(rows.contains(&"2026-02-23 rest"));
    assert!(rows.contains(&"2025-09-28 workday"));
    for row in rows {
        let (date, kind) = row.split_once(' ').unwrap();
        let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        use chrono::Datelike;
        // From 20 December the 2027 notice, not out, may still arrange a day.
        let late_december = date >= chrono::NaiveDate::from_ymd_opt(2026, 12, 20).unwrap();
        let kind = match kind.strip_suffix(" provisional") {
            Some(kind) => {
                assert!(late_december, "{date} provisional");
                kind
            }
            None => {
                assert!(!late_december, "{date} not provisional");
                kind
            }
        };
        if date > chrono::NaiveDate::from_ymd_opt(2026, 12, 25).unwrap() {
            continue; // beyond what the reference crate covers; the unit test checks them
        }
        let reference = chinese_holiday::chinese_holiday(chinese_holiday::Ymd::new(
            date.year() as u16,
            date.month() as u8,
            date.day() as u8,
        ));
        let expected = if reference.is_workday() {
            "workday"
        } else {
            "rest"
        };
        assert_eq!(kind, expected, "{date}");
    }
}

#[test]
fn calendar_outside_the_loaded_years_names_the_year() {
    let out = duban(
        &["calendar", "--from", "2028-12-30", "--to", "2029-01-02"],
        None,
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing is printed half-way");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no holiday arrangement is loaded for 2029")
            && err.contains("2025–2026, 2027–2028 provisional")
            && err.contains("duban calendar --draft 2029"),
        "{err}"
    );
}

#[test]
fn the_years_after_the_files_are_provisional_and_their_draft_is_printed() {
    let out = duban(
        &["calendar", "--from", "2026-12-31", "--to", "2027-01-04"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "2026-12-31 workday provisional\n2027-01-01 rest provisional\n2027-01-02 rest provisional\n\
         2027-01-03 rest provisional\n2027-01-04 workday provisional\n"
    );
    let out = duban(&["calendar", "--draft", "2027"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let draft = String::from_utf8(out.stdout).unwrap();
    // 国庆 2027 is Friday to Sunday, its two weekend days made up on Monday and Tuesday.
    assert!(
        draft.contains("provisional = true\n")
            && draft
                .contains("name = \"国庆节\"\nfrom = 2027-10-01\nto = 2027-10-05\nworkdays = []\n"),
        "{draft}"
    );
}

#[test]
fn grade_the_shipped_example() {
    let out = duban(
        &[
            "grade",
            "--now",
            "2026-11-25T10:00:00+08:00",
            "examples/items.jsonl",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = lines(&out);
    assert!(rows.len() >= 200, "a few hundred items");
    let mut grades = std::collections::BTreeSet::new();
    for row in &rows {
        for field in [
            "item_id",
            "grade",
            "deadline_date",
            "allowed",
            "used",
            "remaining",
            "overdue",
            "paused",
            "next_change",
        ] {
            assert!(row.get(field).is_some(), "{field} in {row}");
        }
        grades.insert(row["grade"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        grades.into_iter().collect::<Vec<_>>(),
        ["blue", "red", "yellow"]
    );
}

const GOOD: &str = r#"{"item_id":"A-1","project_code":"2611-370102-04-01-123456","project_name":"某某产业园一期","project_category":"general_social","matter":"建设工程规划许可证核发","department":"市自然资源和规划局","stage":2,"status":"pending","accepted_at":"2026-11-02T09:30:00+08:00","limit_days":5,"legal_days":20,"extension_days":0,"pauses":[],"finished_at":null,"updated_at":"2026-11-02T09:30:00+08:00"}"#;

#[test]
fn grade_reads_standard_input_and_writes_the_documented_fields() {
    let out = duban(
        &["grade", "--now", "2026-11-03T08:00:00+08:00", "-"],
        Some(GOOD),
    );
    assert!(out.status.success());
    let rows = lines(&out);
    assert_eq!(
        rows[0],
        serde_json::json!({
            "item_id": "A-1", "grade": "blue", "deadline_date": "2026-11-09", "allowed": 5,
            "used": 1, "remaining": 4, "overdue": false, "paused": false,
            "next_change": "2026-11-05T00:00:00+08:00", "provisional": false
        })
    );
}

#[test]
fn malformed_lines_get_error_objects_and_the_rest_is_graded() {
    let bad_time = GOOD.replace(
        "2026-11-02T09:30:00+08:00\",\"limit",
        "2026-11-02 09:30\",\"limit",
    );
    let negative = GOOD.replace("\"limit_days\":5", "\"limit_days\":-5");
    let missing = GOOD.replace("\"department\":\"市自然资源和规划局\",", "");
    // Due in 2029: after 2025–2026 (files) and 2027–2028 (provisional). (Accepted within a
    // year of --now, and with a plausible limit: a record dated further ahead is refused as
    // implausible, before the calendar is asked.)
    let too_late = GOOD
        .replace(
            "2026-11-02T09:30:00+08:00\",\"limit",
            "2027-11-02T09:30:00+08:00\",\"limit",
        )
        .replace("\"limit_days\":5", "\"limit_days\":300");
    let input = [
        GOOD,
        "",
        &bad_time,
        "{not json",
        &negative,
        &missing,
        GOOD,
        &too_late,
    ]
    .join("\n");
    let out = duban(
        &["grade", "--now", "2026-11-03T08:00:00+08:00"],
        Some(&input),
    );
    assert_eq!(out.status.code(), Some(2));
    let rows = lines(&out);
    assert_eq!(rows.len(), 8, "one output line per input line");
    assert_eq!(rows[0]["grade"], "blue");
    assert_eq!(
        (rows[1]["line"].as_u64(), rows[1]["field"].as_str()),
        (Some(2), None)
    );
    assert_eq!(
        (rows[2]["line"].as_u64(), rows[2]["field"].as_str()),
        (Some(3), Some("accepted_at"))
    );
    assert!(rows[2]["error"].as_str().unwrap().contains("RFC 3339"));
    assert_eq!(rows[2]["item_id"], "A-1");
    assert_eq!(
        (rows[3]["line"].as_u64(), rows[3]["field"].as_str()),
        (Some(4), None)
    );
    assert_eq!(
        (rows[4]["line"].as_u64(), rows[4]["field"].as_str()),
        (Some(5), Some("limit_days"))
    );
    assert_eq!(
        (rows[5]["line"].as_u64(), rows[5]["field"].as_str()),
        (Some(6), Some("department"))
    );
    assert_eq!(rows[6]["grade"], "blue");
    assert_eq!(rows[7]["line"].as_u64(), Some(8));
    assert!(
        rows[7]["error"].as_str().unwrap().contains("2029"),
        "{}",
        rows[7]
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("6 could not be graded"), "{stderr}");
}

#[test]
fn check_config_accepts_the_shipped_file_and_locates_mistakes() {
    let out = duban(&["check-config"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Commands that serve need the tokens; the others do not.
    let out = duban_with(&["check-config"], None, &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("key `screens[0].token_env`")
            && stderr.contains("DUBAN_SCREEN_TOKEN is not set"),
        "{stderr}"
    );
    let out = duban_with(
        &["calendar", "--from", "2026-10-01", "--to", "2026-10-02"],
        None,
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let (path, broken) = shipped_with(
        dir.path(),
        "red_on_deadline_day = false",
        "red_on_deadline_day = \"no\"",
    );
    let out = duban(&["check-config", "--config", path.to_str().unwrap()], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = broken.lines().position(|l| l.contains("= \"no\"")).unwrap() + 1;
    assert!(
        err.contains(&format!(
            "duban.toml:{line}: key `grading.red_on_deadline_day`"
        )),
        "{err}"
    );

    let out = duban(
        &["check-config", "--config", "/nonexistent/duban.toml"],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the file"));
}

/// The shipped config written into `dir` with its first `replace` replaced by `by` (its
/// holiday folder and catalogue named by absolute paths); returns the file and its text.
fn shipped_with(dir: &Path, replace: &str, by: &str) -> (PathBuf, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let text = std::fs::read_to_string(root.join("duban.toml")).unwrap();
    assert!(text.contains(replace), "the shipped config has {replace:?}");
    let broken = text
        .replacen(replace, by, 1)
        .replace(
            "holidays_dir = \"holidays\"",
            &format!("holidays_dir = {:?}", root.join("holidays")),
        )
        .replace(
            "matters = \"matters.csv\"",
            &format!("matters = {:?}", root.join("matters.csv")),
        );
    let path = dir.join("duban.toml");
    std::fs::write(&path, &broken).unwrap();
    (path, broken)
}

/// The 1-based lines of `text` where `needle` starts, in order.
fn lines_of(text: &str, needle: &str) -> Vec<usize> {
    text.match_indices(needle)
        .map(|(at, _)| text[..at].matches('\n').count() + 1)
        .collect()
}

#[test]
fn check_config_refuses_mapping_mistakes_at_their_line() {
    // (what the shipped config says, the mistake, the key named, what the message says)
    let cases = [
        (
            "\"已撤回\" = \"withdrawn\"",
            "\"已撤回\" = \"cancelled\"",
            "feeds[1].values.status.已撤回",
            "\"cancelled\" is not a status; write one of pending, paused, finished or withdrawn",
        ),
        (
            "\"听证\" = \"hearing\"",
            "\"听证\" = \"public_hearing\"",
            "feeds[1].values.pause_kind.听证",
            "\"public_hearing\" is not a pause kind; write one of correction, hearing, tender, \
             auction, inspection, testing, quarantine, appraisal, expert_review or other",
        ),
        (
            "time_format = \"%Y-%m-%d %H:%M:%S\"",
            "time_format = \"%Y-%m-%d %H:%M:%Q\"",
            "feeds[1].time_format",
            "is not a chrono time format: chrono has no specifier \"%Q\"",
        ),
        (
            "time_format = \"%Y-%m-%d %H:%M:%S\"",
            "time_format = \"%H:%M:%S\"",
            "feeds[1].time_format",
            "writes 2026-11-02 21:07:09 as \"21:07:09\" and cannot read that back",
        ),
        (
            "department = \"办理部门\"",
            "departement = \"办理部门\"",
            "feeds[1].fields.departement",
            "\"departement\" is not a field of the canonical record; write one of item_id, \
             project_code, project_name, project_category, matter, department, stage, status, \
             accepted_at, limit_days, legal_days, extension_days, pauses, finished_at, updated_at or rating",
        ),
        (
            "[feeds.values.pause_kind]",
            "[feeds.values.pause_type]",
            "feeds[1].values.pause_type",
            "\"pause_type\" is not a field of the canonical record; words can be mapped for",
        ),
        (
            "kind = \"类型\"",
            "type = \"类型\"",
            "feeds[1].pause_fields.type",
            "\"type\" is not a field of a pause; pause_fields names the source fields of kind, \
             from or to",
        ),
    ];
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/duban.toml"))
            .unwrap();
    // Two feeds of one name: the second is refused, naming the first's line.
    let first = lines_of(&shipped, "name = \"city-canonical\"")[0];
    let twice = format!(
        "the feed at line {first} is named \"city-canonical\" too; give each feed a name of its own"
    );
    let cases = cases
        .iter()
        .map(|&(replace, by, key, says)| (replace, by, key, says, 0))
        .chain([(
            "name = \"city-provincial\"",
            "name = \"city-canonical\"",
            "feeds[1].name",
            twice.as_str(),
            1,
        )]);
    // Every case is tried, and every one that is not refused as it should be is reported.
    let mut failures = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    for (replace, by, key, says, occurrence) in cases {
        let (path, broken) = shipped_with(dir.path(), replace, by);
        let line = lines_of(&broken, by)[occurrence];
        let expected = format!("duban.toml:{line}: key `{key}`: ");
        // Refused at load: by check-config, and by serve before it starts anything (serve is
        // only tried once check-config refuses, so that a mistake let through cannot hang it).
        for command in ["check-config", "serve"] {
            let out = duban(&[command, "--config", path.to_str().unwrap()], None);
            let err = String::from_utf8_lossy(&out.stderr);
            if out.status.code() != Some(1) || !err.contains(&expected) || !err.contains(says) {
                failures.push(format!(
                    "{command} with {by}: exit {:?}, expected {expected}…{says}, got: {err}",
                    out.status.code()
                ));
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs the binary off the async threads (a feed server on this runtime answers it).
async fn duban_async(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        duban(&args, None)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn check_config_feed_shows_how_the_first_page_maps() {
    let dir = tempfile::tempdir().unwrap();
    let (server, url) = common::FeedServer::start().await;
    let mut good = common::record("A-1", "2026-11-02T09:30:00+08:00", 5);
    good["status"] = json!("办理中");
    good["pauses"] = json!([
        {"kind": "correction", "from": "2026-11-03T10:00:00+08:00", "to": "2026-11-04T10:00:00+08:00"}
    ]);
    let mut bad = common::record("A-2", "2026-11-03T09:30:00+08:00", 5);
    bad["status"] = json!("已取消");
    server.set(vec![good, bad]);
    let feeds = format!(
        "[[feeds]]\nname = \"main\"\nkind = \"http_json\"\nschedule = \"0 * * * * *\"\n\
         url = \"{url}\"\nrecords_path = \"items\"\nsince_param = \"since\"\n\
         pagination = {{ kind = \"page\", size = 500 }}\n\
         [feeds.values.status]\n\"办理中\" = \"pending\"\n\n\
         [[feeds]]\nname = \"plain\"\nkind = \"http_json\"\nschedule = \"0 * * * * *\"\n\
         url = \"{url}\"\nrecords_path = \"items\"\n"
    );
    let path = dir.path().join("duban.toml");
    let text = common::config_text(&common::sqlite_url(dir.path()), &feeds);
    std::fs::write(&path, text).unwrap();
    let config = path.display().to_string();
    let check = |feed: &str| {
        duban_async(
            ["check-config", "--config", &config, "--feed", feed]
                .map(str::to_owned)
                .to_vec(),
        )
    };

    let out = check("main").await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a record would be quarantined: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let from = lines
        .iter()
        .position(|l| l.starts_with("feed main "))
        .unwrap();
    assert_eq!(
        lines[from..],
        [
            format!("feed main (http_json): {url}: 2 records on the first page").as_str(),
            "record 1 (item_id \"A-1\"): maps",
            "  item_id \"A-1\", status pending, accepted_at 2026-11-02T09:30:00+08:00, \
             limit_days 5, extension_days 0, pauses correction 2026-11-03T10:00:00+08:00 to \
             2026-11-04T10:00:00+08:00, finished_at none, updated_at 2026-11-02T09:30:00+08:00",
            "  stage 2, matter \"建设工程规划许可证核发\", department \"市自然资源和规划局\", \
             legal_days 20, project_code \"2611-370102-04-01-123456\", project_name \
             \"某某产业园一期\", project_category \"general_social\"",
            "record 2 (item_id \"A-2\"): would be quarantined: field `status`: unknown status \
             \"已取消\"; expected pending, paused, finished or withdrawn",
            "feed main: 2 records fetched, 1 would be stored, 1 would be quarantined",
        ]
    );
    {
        let state = server.state.lock().unwrap();
        assert_eq!(state.requests, 1, "one page, asked for once");
        assert!(state.sinces.is_empty(), "from the start: no since");
    }

    // A canonical feed (no mapping) reads its page as the poller does; neither word is a
    // status there.
    let out = check("plain").await;
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("record 1 (item_id \"A-1\"): would be quarantined: field `status`")
            && stdout.ends_with(
                "feed plain: 2 records fetched, 0 would be stored, 2 would be quarantined\n"
            ),
        "{stdout}"
    );

    let out = check("mian").await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no feed named \"mian\" in ") && err.contains("its feeds are main, plain"),
        "{err}"
    );

    server.fail(true);
    let out = check("main").await;
    assert_eq!(out.status.code(), Some(1), "a fetch error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("feed main: fetching its first page: ") && err.contains("500"),
        "{err}"
    );
    assert_eq!(server.state.lock().unwrap().requests, 3, "no retries");
}

#[test]
fn check_config_feed_leaves_a_folder_file_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let drop = common::folder(dir.path(), "drop");
    let feeds = format!(
        "[[feeds]]\nname = \"drop\"\nkind = \"folder\"\nschedule = \"0 * * * * *\"\n\
         path = {:?}\n",
        drop.display().to_string()
    );
    let path = dir.path().join("duban.toml");
    std::fs::write(
        &path,
        common::config_text(&common::sqlite_url(dir.path()), &feeds),
    )
    .unwrap();
    let csv = drop.join("items.csv");
    std::fs::write(
        &csv,
        "item_id,project_code,project_name,project_category,matter,department,stage,status,\
         accepted_at,limit_days,legal_days,extension_days,finished_at,updated_at\n\
         F-1,2611-370102-04-01-123456,某某产业园一期,general_social,建设工程规划许可证核发,\
         市自然资源和规划局,2,pending,2026-11-02T09:30:00+08:00,5,20,0,,2026-11-02T09:30:00+08:00\n",
    )
    .unwrap();
    // Older than the seconds a file is given to finish being copied in.
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    let age = |file: &Path| {
        std::fs::File::options()
            .append(true)
            .open(file)
            .unwrap()
            .set_modified(old)
            .unwrap()
    };
    age(&csv);
    let check = || {
        duban(
            &[
                "check-config",
                "--config",
                path.to_str().unwrap(),
                "--feed",
                "drop",
            ],
            None,
        )
    };
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(&drop)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };

    let out = check();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "feed drop (folder): {}: 1 records on the first page\nrecord 1 (item_id \"F-1\"): maps\n",
            csv.display()
        )) && stdout.ends_with("feed drop: 1 records fetched, 1 would be stored, 0 would be quarantined\n"),
        "{stdout}"
    );
    assert_eq!(
        listing(),
        ["items.csv"],
        "the file stays, and no done/ is made"
    );

    // A file that cannot be read is an error naming it, and is not moved to failed/ either.
    let unreadable = drop.join("0-notes.txt");
    std::fs::write(&unreadable, "not a table").unwrap();
    age(&unreadable);
    let out = check();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("0-notes.txt: not a CSV or Excel file")
            && err.contains("a run of the feed would move it to failed/"),
        "{err}"
    );
    assert_eq!(listing(), ["0-notes.txt", "items.csv"]);
}

#[test]
fn projects_grades_government_time_against_the_category_target() {
    // Two items of one project: 3–6 Nov and 5–9 Nov run, overlapping: 5 working days.
    let second = GOOD
        .replace("\"A-1\"", "\"A-2\"")
        .replace("2026-11-02T09:30:00+08:00", "2026-11-04T09:30:00+08:00");
    let finished = GOOD
        .replace("\"status\":\"pending\"", "\"status\":\"finished\"")
        .replace(
            "\"finished_at\":null",
            "\"finished_at\":\"2026-11-06T16:00:00+08:00\"",
        );
    let unknown = GOOD
        .replace("2611-370102-04-01-123456", "2611-370102-04-01-999999")
        .replace("general_social", "space_station");
    let input = [finished.as_str(), &second, &unknown].join("\n");
    let out = duban(
        &["projects", "--now", "2026-11-09T12:00:00+08:00"],
        Some(&input),
    );
    assert_eq!(out.status.code(), Some(2), "one project has no target");
    let rows = lines(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["project_code"], "2611-370102-04-01-123456");
    assert_eq!(rows[0]["items"], 2);
    assert_eq!(rows[0]["government_days"], 5);
    assert_eq!(rows[0]["target_days"], 30);
    assert_eq!(rows[0]["grade"], "blue");
    assert!(rows[1]["error"].as_str().unwrap().contains("space_station"));
}

/// `duban warnings test` against a gateway on loopback: accepted (exit 0, the gateway's id
/// and answer printed, the number masked), and refused with a bad-number answer (exit 1, the
/// failure called permanent).
#[tokio::test(flavor = "multi_thread")]
async fn warnings_test_sends_one_message_and_prints_the_providers_answer() {
    use axum::routing::post;
    let refusing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let (r, s) = (refusing.clone(), seen.clone());
    let router = axum::Router::new().route(
        "/sms",
        post(move |headers: axum::http::HeaderMap, body: String| {
            let (r, s) = (r.clone(), s.clone());
            async move {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                s.lock().unwrap().push((key, body));
                if r.load(std::sync::atomic::Ordering::Relaxed) {
                    (
                        axum::http::StatusCode::BAD_REQUEST,
                        r#"{"error":"invalid mobile number"}"#,
                    )
                } else {
                    (axum::http::StatusCode::OK, r#"{"msgid":"GW-1"}"#)
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let dir = common::temp_dir();
    let feeds = format!(
        r#"
[warnings]
sms = "gw"
email = "mail"

[[warnings.senders]]
name = "gw"
kind = "gateway"
url = "http://{addr}/sms"
body = '{{"to": "{{mobile}}", "text": "{{text}}"}}'
id_pointer = "/msgid"

[[warnings.senders]]
name = "mail"
kind = "log"
channel = "email"
"#
    );
    let config = dir.path().join("duban.toml");
    std::fs::write(
        &config,
        common::config_text(&common::sqlite_url(dir.path()), &feeds),
    )
    .unwrap();
    let run = move |to: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_duban"))
            .arg("--config")
            .arg(&config)
            .args(["warnings", "test", "--sender", "gw", "--to", to])
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let (code, out) = tokio::task::spawn_blocking(move || run("13812345678"))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("accepted") && out.contains("GW-1"), "{out}");
    assert!(
        out.contains("138****5678") && !out.contains("13812345678"),
        "{out}"
    );
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert!(
            seen[0].1.contains("13812345678") && seen[0].1.contains("测试"),
            "{:?}",
            seen[0]
        );
        assert!(!seen[0].0.is_empty(), "an Idempotency-Key");
    }
    refusing.store(true, std::sync::atomic::Ordering::Relaxed);
    let config2 = dir.path().join("duban.toml");
    let (code, out) = tokio::task::spawn_blocking(move || {
        let output = Command::new(env!("CARGO_BIN_EXE_duban"))
            .arg("--config")
            .arg(&config2)
            .args(["warnings", "test", "--sender", "gw", "--to", "13812345678"])
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    })
    .await
    .unwrap();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("NOT sent")
            && out.contains("permanent")
            && out.contains("invalid mobile number"),
        "{out}"
    );
}
