//! `duban ledger export --from D --to D --out F.xlsx [--project …] [--department …]`: the
//! ledger table (电子台账) of a period as a workbook an office files or prints. Sheet 台账:
//! a header block (period, graded-on day, when exported, filters), then one row per item
//! with its project's code and name, the page's columns, dates as dates; sheet 等级变化: one
//! row per grade event of the period. Rows come from `ledger_view::page`, the same as
//! `/ledger`'s, read a page of projects at a time from the configured store.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, Worksheet};

use crate::calendar::Calendar;
use crate::config::Config;
use crate::item::Status;
use crate::ledger::table::{EventLine, ItemLine, Period, ProjectBlock};
use crate::ledger::words::{category_word, excel_date, grade_word, status_word};
use crate::ledger_view::{self, Rules};
use crate::store::Store;
use crate::store::ledger::LedgerFilter;

/// What to export.
pub struct ExportOptions {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub out: PathBuf,
    pub filter: LedgerFilter,
}

/// What was written, for the line the command prints.
#[derive(Debug)]
pub struct Exported {
    pub period: Period,
    pub projects: usize,
    pub items: usize,
    pub events: usize,
    /// Items left out: their days fall in a year the calendar does not hold.
    pub ungraded: Vec<String>,
}

/// Projects read from the store at a time: the export never holds one query's worth of the
/// whole store.
const PROJECTS_A_PAGE: u32 = 200;

/// The row of the 台账 sheet that names the columns (the rows above state the period).
const HEADER_ROW: u32 = 3;

/// 台账's columns: header, width (characters).
const ITEM_COLUMNS: [(&str, f64); 17] = [
    ("项目代码", 26.0),
    ("项目名称", 24.0),
    ("项目类别", 13.0),
    ("阶段", 17.0),
    ("事项", 28.0),
    ("部门", 20.0),
    ("办件编号", 18.0),
    ("受理日期", 11.5),
    ("截止日", 11.5),
    ("已用（工作日）", 9.0),
    ("允许（工作日）", 9.0),
    ("暂停", 30.0),
    ("办结日期", 11.5),
    ("状态", 9.0),
    ("预警等级", 9.0),
    ("期限暂定", 8.0),
    ("本期等级变化（次）", 10.0),
];

/// 等级变化's columns.
const EVENT_COLUMNS: [(&str, f64); 5] = [
    ("办件编号", 18.0),
    ("时间", 17.0),
    ("由", 10.0),
    ("至", 10.0),
    ("原因", 24.0),
];

pub async fn export(
    config: &Config,
    calendar: &Calendar,
    options: &ExportOptions,
    now: DateTime<Utc>,
) -> anyhow::Result<Exported> {
    let tz = config.timezone;
    let today = now.with_timezone(&tz).date_naive();
    let period = ledger_view::period(options.from, options.to, today)?;
    if options
        .out
        .extension()
        .is_none_or(|e| !e.eq_ignore_ascii_case("xlsx"))
    {
        bail!(
            "--out {}: name the workbook F.xlsx (Excel opens a workbook by that ending)",
            options.out.display()
        );
    }
    if config.database_url.is_empty() {
        bail!(
            "the store's URL is not set: [store] database_url_env in {} names a variable \
             that is not exported",
            config.path.display()
        );
    }
    // Made first, so that a path that cannot be written is said before the store is read.
    let mut file = std::fs::File::create(&options.out)
        .with_context(|| format!("creating the workbook {}", options.out.display()))?;
    let (bytes, exported) = match write_workbook(config, calendar, options, period, now).await {
        Ok(written) => written,
        Err(e) => {
            drop(file);
            // No empty workbook left behind to be mistaken for an export.
            let _ = std::fs::remove_file(&options.out);
            return Err(e);
        }
    };
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing the workbook {}", options.out.display()))?;
    Ok(exported)
}

async fn write_workbook(
    config: &Config,
    calendar: &Calendar,
    options: &ExportOptions,
    period: Period,
    now: DateTime<Utc>,
) -> anyhow::Result<(Vec<u8>, Exported)> {
    let tz = config.timezone;
    let store = Store::open(&config.database_url).await.with_context(|| {
        format!(
            "opening the store {}",
            crate::store::redact(&config.database_url)
        )
    })?;
    let rules = Rules {
        calendar,
        policy: &config.grading,
        tz,
    };
    let mut sheets = Sheets::new(&period, options, now.with_timezone(&tz))?;
    let mut exported = Exported {
        period,
        projects: 0,
        items: 0,
        events: 0,
        ungraded: Vec::new(),
    };
    let mut after = String::new();
    loop {
        let page = ledger_view::page(
            &store,
            rules,
            &options.filter,
            period,
            &after,
            PROJECTS_A_PAGE,
        )
        .await
        .context("reading the ledger from the store")?;
        for block in &page.blocks {
            sheets.project(block, tz)?;
            exported.projects += 1;
            exported.items += block.items.len();
            exported.events += block.items.iter().map(|i| i.events.len()).sum::<usize>();
        }
        exported.ungraded.extend(page.ungraded);
        match page.next_after {
            Some(next) => after = next,
            None => break,
        }
    }
    store.close().await;
    let bytes = sheets.finish().context("laying out the workbook")?;
    Ok((bytes, exported))
}

/// The two sheets being filled, with the next row of each.
struct Sheets {
    items: Worksheet,
    events: Worksheet,
    item_row: u32,
    event_row: u32,
    date: Format,
    time: Format,
    text: Format,
    number: Format,
}

impl Sheets {
    fn new(
        period: &Period,
        options: &ExportOptions,
        exported_at: DateTime<Tz>,
    ) -> Result<Self, rust_xlsxwriter::XlsxError> {
        let cell = Format::new()
            .set_border(FormatBorder::Thin)
            .set_align(FormatAlign::VerticalCenter);
        let header = cell
            .clone()
            .set_bold()
            .set_background_color("#DDE5F0")
            .set_text_wrap()
            .set_align(FormatAlign::Center);
        let mut items = Worksheet::new();
        items.set_name("台账")?;
        items.write_string_with_format(
            0,
            0,
            "工程建设项目审批电子台账（挂图作战）",
            &Format::new().set_bold().set_font_size(14),
        )?;
        let mut stated = format!(
            "统计期间：{} 至 {}　评定日：{}（各办件按期间末的记录、于该日评定）　导出时间：{}",
            period.from,
            period.to,
            period.graded_on,
            exported_at.format("%Y-%m-%d %H:%M:%S")
        );
        if let Some(project) = &options.filter.project {
            stated.push_str(&format!("　项目：{project}"));
        }
        if let Some(department) = &options.filter.department {
            stated.push_str(&format!("　部门：{department}"));
        }
        items.write_string(1, 0, stated)?;
        for (col, (name, width)) in ITEM_COLUMNS.iter().enumerate() {
            let col = col as u16;
            items.write_string_with_format(HEADER_ROW, col, *name, &header)?;
            items.set_column_width(col, *width)?;
        }
        items.set_freeze_panes(HEADER_ROW + 1, 0)?;
        items.set_repeat_rows(HEADER_ROW, HEADER_ROW)?;
        items.set_landscape().set_print_fit_to_pages(1, 0);

        let mut events = Worksheet::new();
        events.set_name("等级变化")?;
        for (col, (name, width)) in EVENT_COLUMNS.iter().enumerate() {
            let col = col as u16;
            events.write_string_with_format(0, col, *name, &header)?;
            events.set_column_width(col, *width)?;
        }
        events.set_freeze_panes(1, 0)?;
        events.set_repeat_rows(0, 0)?;
        Ok(Self {
            items,
            events,
            item_row: HEADER_ROW + 1,
            event_row: 1,
            date: cell.clone().set_num_format("yyyy-mm-dd"),
            time: cell.clone().set_num_format("yyyy-mm-dd hh:mm"),
            number: cell.clone().set_align(FormatAlign::Right),
            text: cell,
        })
    }

    fn project(&mut self, block: &ProjectBlock, tz: Tz) -> Result<(), rust_xlsxwriter::XlsxError> {
        for item in &block.items {
            self.item(block, item)?;
            for event in &item.events {
                self.event(event, tz)?;
            }
        }
        Ok(())
    }

    fn item(
        &mut self,
        block: &ProjectBlock,
        item: &ItemLine,
    ) -> Result<(), rust_xlsxwriter::XlsxError> {
        let row = self.item_row;
        let project = &block.project;
        let texts: [(u16, String); 10] = [
            (0, project.code.clone()),
            (1, project.name.clone()),
            (2, category_word(&project.category).to_owned()),
            (3, format!("{} {}", item.stage, stage_name(item.stage))),
            (4, item.matter.clone()),
            (5, item.department.clone()),
            (6, item.item_id.clone()),
            (11, pauses_text(item)),
            (13, status_word(item.status).to_owned()),
            (
                14,
                if item.status == Status::Withdrawn {
                    "已撤回".to_owned()
                } else {
                    grade_word(item.grade).to_owned()
                },
            ),
        ];
        let sheet = &mut self.items;
        for (col, text) in texts {
            sheet.write_string_with_format(row, col, text, &self.text)?;
        }
        sheet.write_datetime_with_format(row, 7, excel_date(item.accepted_on)?, &self.date)?;
        sheet.write_datetime_with_format(row, 8, excel_date(item.deadline)?, &self.date)?;
        sheet.write_number_with_format(row, 9, item.used, &self.number)?;
        sheet.write_number_with_format(row, 10, item.allowed, &self.number)?;
        match item.finished_on {
            Some(day) => sheet.write_datetime_with_format(row, 12, excel_date(day)?, &self.date)?,
            None => sheet.write_string_with_format(row, 12, "", &self.text)?,
        };
        sheet.write_string_with_format(
            row,
            15,
            if item.provisional { "暂定" } else { "" },
            &self.text,
        )?;
        sheet.write_number_with_format(row, 16, item.events.len() as f64, &self.number)?;
        self.item_row += 1;
        Ok(())
    }

    fn event(&mut self, event: &EventLine, tz: Tz) -> Result<(), rust_xlsxwriter::XlsxError> {
        let row = self.event_row;
        let local = event.at.with_timezone(&tz);
        let at = excel_date(local.date_naive())?.and_hms(
            local.hour() as u16,
            local.minute() as u8,
            local.second(),
        )?;
        let sheet = &mut self.events;
        sheet.write_string_with_format(row, 0, &event.item_id, &self.text)?;
        sheet.write_datetime_with_format(row, 1, at, &self.time)?;
        let from = event.from.map_or("—（首次）", grade_word);
        sheet.write_string_with_format(row, 2, from, &self.text)?;
        sheet.write_string_with_format(row, 3, grade_word(event.to), &self.text)?;
        sheet.write_string_with_format(row, 4, cause_word(&event.cause), &self.text)?;
        self.event_row += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        let last_col = (ITEM_COLUMNS.len() - 1) as u16;
        self.items
            .autofilter(HEADER_ROW, 0, (self.item_row - 1).max(HEADER_ROW), last_col)?;
        self.events.autofilter(
            0,
            0,
            self.event_row.saturating_sub(1),
            (EVENT_COLUMNS.len() - 1) as u16,
        )?;
        let mut workbook = Workbook::new();
        workbook.push_worksheet(self.items);
        workbook.push_worksheet(self.events);
        workbook.save_to_buffer()
    }
}

fn stage_name(stage: u8) -> &'static str {
    match stage {
        1 => "立项用地规划许可",
        2 => "工程建设许可",
        3 => "施工许可",
        4 => "竣工验收",
        _ => "",
    }
}

fn pause_word(kind: &str) -> &str {
    match kind {
        "correction" => "补正材料",
        "hearing" => "听证",
        "tender" => "招标",
        "auction" => "拍卖",
        "inspection" => "现场勘查",
        "testing" => "检验检测",
        "quarantine" => "检疫",
        "appraisal" => "鉴定",
        "expert_review" => "专家评审",
        "other" => "其他",
        other => other,
    }
}

fn cause_word(cause: &str) -> String {
    match cause {
        "clock" => "计时推进".to_owned(),
        "calendar" => "节假日安排更新".to_owned(),
        _ => match cause.strip_prefix("feed:") {
            Some(feed) => format!("数据更新（{feed}）"),
            None => cause.to_owned(),
        },
    }
}

/// An item's pauses in one cell: `补正材料 2026-11-03 至 2026-11-04；专家评审 2026-11-10 起`.
fn pauses_text(item: &ItemLine) -> String {
    let pauses: Vec<String> = item
        .pauses
        .iter()
        .map(|p| match p.to {
            Some(to) => format!("{} {} 至 {to}", pause_word(p.kind), p.from),
            None => format!("{} {} 起（进行中）", pause_word(p.kind), p.from),
        })
        .collect();
    pauses.join("；")
}

/// The line the command prints on stderr.
pub fn summary(exported: &Exported, out: &Path) -> String {
    let p = exported.period;
    let mut line = format!(
        "wrote {} projects, {} items and {} grade events ({} to {}, graded on {}) to {}",
        exported.projects,
        exported.items,
        exported.events,
        p.from,
        p.to,
        p.graded_on,
        out.display()
    );
    if !exported.ungraded.is_empty() {
        line.push_str(&format!(
            "; left out {} items whose days fall in a year the holiday calendar does not hold \
             (first: {})",
            exported.ungraded.len(),
            exported.ungraded[0]
        ));
    }
    line
}
