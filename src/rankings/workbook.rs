//! A report as a workbook (rust_xlsxwriter): sheets 排名 (the ranking, with the departments
//! not ranked below it), 超期办件 (each department's overdue and red items), 超目标项目
//! (projects over their "3211" target), 明细 (every item that counted, the drill-down) and
//! 计分公式 (the formula, the weights, the cut-offs, the data's time and the digest).
//! Chinese headers, dates as dates, rates as percentages, frozen header rows, widths a
//! reader can read. Pure: a report in, the file's bytes out.

use chrono::NaiveDate;
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};

use super::{DepartmentRow, ItemLine, Report};
use crate::item::Status;
use crate::ledger::words::{category_word, excel_date, grade_word, status_word};

/// The ranking's columns: header, width.
pub const RANKING_COLUMNS: [(&str, f64); 17] = [
    ("名次", 6.0),
    ("部门", 24.0),
    ("综合得分", 9.0),
    ("名次变化", 9.0),
    ("受理件", 8.0),
    ("办结件", 8.0),
    ("按时办结件", 9.0),
    ("按时办结率", 10.0),
    ("平均用时占比", 10.0),
    ("压缩率", 9.0),
    ("超期工作日", 9.0),
    ("期末红灯件", 9.0),
    ("收到预警", 9.0),
    ("回告", 7.0),
    ("平均回告用时（工作小时）", 12.0),
    ("满意度（1–5）", 10.0),
    ("考核等次", 9.0),
];

const ITEM_COLUMNS: [(&str, f64); 15] = [
    ("部门", 22.0),
    ("办件编号", 20.0),
    ("项目代码", 26.0),
    ("项目名称", 24.0),
    ("事项", 28.0),
    ("受理日期", 11.5),
    ("截止日", 11.5),
    ("已用（工作日）", 9.0),
    ("允许（工作日）", 9.0),
    ("超期工作日", 9.0),
    ("办结日期", 11.5),
    ("状态", 9.0),
    ("等级", 9.0),
    ("本期计入", 22.0),
    ("评分", 6.0),
];

const PROJECT_COLUMNS: [(&str, f64); 7] = [
    ("项目代码", 26.0),
    ("项目名称", 26.0),
    ("项目类别", 14.0),
    ("目标（工作日）", 10.0),
    ("政府审批时间（工作日）", 12.0),
    ("超出（工作日）", 10.0),
    ("涉及部门", 40.0),
];

/// The row that names the columns in every sheet but the formula's (rows above it title
/// the sheet and state the period and the data's time).
pub const HEADER_ROW: u32 = 2;

struct Formats {
    title: Format,
    header: Format,
    text: Format,
    number: Format,
    decimal: Format,
    percent: Format,
    date: Format,
}

impl Formats {
    fn new() -> Self {
        let cell = Format::new()
            .set_border(FormatBorder::Thin)
            .set_align(FormatAlign::VerticalCenter);
        Self {
            title: Format::new().set_bold().set_font_size(14),
            header: cell
                .clone()
                .set_bold()
                .set_background_color("#DDE5F0")
                .set_text_wrap()
                .set_align(FormatAlign::Center),
            number: cell.clone().set_num_format("0"),
            decimal: cell.clone().set_num_format("0.00"),
            percent: cell.clone().set_num_format("0.0%"),
            date: cell.clone().set_num_format("yyyy-mm-dd"),
            text: cell,
        }
    }
}

/// The report's workbook.
pub fn workbook(report: &Report, tz: chrono_tz::Tz) -> Result<Vec<u8>, XlsxError> {
    let f = Formats::new();
    let mut book = Workbook::new();
    let stated = format!(
        "统计期间：{} 至 {}{}　数据时间：{}",
        report.from,
        report.to,
        if report.so_far {
            "（本期截至目前）"
        } else {
            ""
        },
        report.data_time.with_timezone(&tz).format("%Y-%m-%d %H:%M")
    );
    let title = format!("{}{}部门审批效能排名", report.city, report.title);

    let mut ranking = sheet("排名", &title, &stated, &RANKING_COLUMNS, &f)?;
    let mut row = HEADER_ROW + 1;
    for r in &report.ranked {
        department_row(&mut ranking, row, r, &f)?;
        row += 1;
    }
    if !report.unranked.is_empty() {
        row += 1;
        ranking.write_string_with_format(row, 1, "未参加排名（本期无办结件）", &f.header)?;
        row += 1;
        for r in &report.unranked {
            department_row(&mut ranking, row, r, &f)?;
            row += 1;
        }
    }
    book.push_worksheet(ranking);

    let mut late = sheet(
        "超期办件",
        &format!("{title}·超期办件"),
        &stated,
        &ITEM_COLUMNS,
        &f,
    )?;
    let overdue = report.items.iter().filter(|i| i.is_late());
    write_items(&mut late, overdue, &f)?;
    book.push_worksheet(late);

    let mut projects = sheet(
        "超目标项目",
        &format!("{title}·政府审批时间超过“3211”目标的项目"),
        &stated,
        &PROJECT_COLUMNS,
        &f,
    )?;
    for (i, p) in report.projects_over.iter().enumerate() {
        let row = HEADER_ROW + 1 + i as u32;
        projects.write_string_with_format(row, 0, &p.project_code, &f.text)?;
        projects.write_string_with_format(row, 1, &p.project_name, &f.text)?;
        projects.write_string_with_format(row, 2, category_word(&p.category), &f.text)?;
        projects.write_number_with_format(row, 3, p.target_days, &f.number)?;
        projects.write_number_with_format(row, 4, p.government_days, &f.number)?;
        projects.write_number_with_format(row, 5, p.over_by, &f.number)?;
        projects.write_string_with_format(row, 6, p.departments.join("、"), &f.text)?;
    }
    book.push_worksheet(projects);

    let mut all = sheet(
        "明细",
        &format!("{title}·计入的办件"),
        &stated,
        &ITEM_COLUMNS,
        &f,
    )?;
    write_items(&mut all, report.items.iter(), &f)?;
    book.push_worksheet(all);

    book.push_worksheet(formula_sheet(report, &title, &stated, &f)?);
    book.save_to_buffer()
}

fn sheet(
    name: &str,
    title: &str,
    stated: &str,
    columns: &[(&str, f64)],
    f: &Formats,
) -> Result<Worksheet, XlsxError> {
    let mut sheet = Worksheet::new();
    sheet.set_name(name)?;
    sheet.write_string_with_format(0, 0, title, &f.title)?;
    sheet.write_string(1, 0, stated)?;
    for (col, (header, width)) in columns.iter().enumerate() {
        let col = col as u16;
        sheet.write_string_with_format(HEADER_ROW, col, *header, &f.header)?;
        sheet.set_column_width(col, *width)?;
    }
    sheet.set_freeze_panes(HEADER_ROW + 1, 0)?;
    sheet.set_repeat_rows(HEADER_ROW, HEADER_ROW)?;
    sheet.set_landscape().set_print_fit_to_pages(1, 0);
    Ok(sheet)
}

fn department_row(
    sheet: &mut Worksheet,
    row: u32,
    r: &DepartmentRow,
    f: &Formats,
) -> Result<(), XlsxError> {
    match r.place {
        Some(p) => sheet.write_number_with_format(row, 0, p, &f.number)?,
        None => sheet.write_string_with_format(row, 0, "—", &f.text)?,
    };
    sheet.write_string_with_format(row, 1, &r.department, &f.text)?;
    match r.place {
        Some(_) => sheet.write_number_with_format(row, 2, r.score, &f.decimal)?,
        // Not placed, not scored.
        None => sheet.write_string_with_format(row, 2, "—", &f.text)?,
    };
    sheet.write_string_with_format(row, 3, change_text(r), &f.text)?;
    for (col, n) in [(4, r.received), (5, r.finished), (6, r.on_time)] {
        sheet.write_number_with_format(row, col, n, &f.number)?;
    }
    for (col, x) in [(7, r.on_time_rate), (8, r.mean_share), (9, r.compression)] {
        match x {
            Some(x) => sheet.write_number_with_format(row, col, x, &f.percent)?,
            None => sheet.write_string_with_format(row, col, "—", &f.text)?,
        };
    }
    for (col, n) in [
        (10, r.overdue_days),
        (11, r.red_pending),
        (12, r.warnings),
        (13, r.answers),
    ] {
        sheet.write_number_with_format(row, col, n, &f.number)?;
    }
    for (col, x) in [(14, r.answer_hours), (15, r.rating)] {
        match x {
            Some(x) => sheet.write_number_with_format(row, col, x, &f.decimal)?,
            None => sheet.write_string_with_format(row, col, "—", &f.text)?,
        };
    }
    sheet.write_string_with_format(row, 16, r.grade.as_deref().unwrap_or("—"), &f.text)?;
    Ok(())
}

/// The change of place as the bulletin writes it: ↑2, ↓1, 持平, 新上榜.
pub fn change_text(r: &DepartmentRow) -> String {
    match (r.place, r.change) {
        (None, _) => "—".to_owned(),
        (Some(_), None) => "新上榜".to_owned(),
        (Some(_), Some(0)) => "持平".to_owned(),
        (Some(_), Some(n)) if n > 0 => format!("↑{n}"),
        (Some(_), Some(n)) => format!("↓{}", -n),
    }
}

/// What an item counted in, as the drill-down says it.
pub fn counted_text(i: &ItemLine) -> String {
    let mut parts = Vec::new();
    if i.received {
        parts.push("受理");
    }
    if i.finished {
        parts.push(if i.on_time {
            "按时办结"
        } else {
            "超期办结"
        });
    }
    if matches!(i.status, Status::Pending | Status::Paused) {
        parts.push(if i.overdue_days > 0 {
            "期末在办超期"
        } else {
            "期末在办"
        });
    }
    if i.red_at_end {
        parts.push("期末红灯");
    }
    if i.warnings > 0 {
        parts.push("收到预警");
    }
    if i.answers > 0 {
        parts.push("已回告");
    }
    parts.join("、")
}

fn write_items<'a>(
    sheet: &mut Worksheet,
    items: impl Iterator<Item = &'a ItemLine>,
    f: &Formats,
) -> Result<(), XlsxError> {
    let date = |sheet: &mut Worksheet, row: u32, col: u16, day: Option<NaiveDate>| match day {
        Some(day) => sheet
            .write_datetime_with_format(row, col, excel_date(day)?, &f.date)
            .map(|_| ()),
        None => sheet
            .write_string_with_format(row, col, "", &f.text)
            .map(|_| ()),
    };
    for (n, i) in items.enumerate() {
        let row = HEADER_ROW + 1 + n as u32;
        for (col, text) in [
            (0, i.department.as_str()),
            (1, &i.item_id),
            (2, &i.project_code),
            (3, &i.project_name),
            (4, &i.matter),
        ] {
            sheet.write_string_with_format(row, col, text, &f.text)?;
        }
        date(sheet, row, 5, Some(i.accepted_on))?;
        date(sheet, row, 6, Some(i.deadline))?;
        for (col, n) in [(7, i.used), (8, i.allowed), (9, i.overdue_days)] {
            sheet.write_number_with_format(row, col, n, &f.number)?;
        }
        date(sheet, row, 10, i.finished_on)?;
        sheet.write_string_with_format(row, 11, status_word(i.status), &f.text)?;
        sheet.write_string_with_format(row, 12, grade_word(i.grade), &f.text)?;
        sheet.write_string_with_format(row, 13, counted_text(i), &f.text)?;
        match i.rating {
            Some(r) => sheet.write_number_with_format(row, 14, r, &f.number)?,
            None => sheet.write_string_with_format(row, 14, "", &f.text)?,
        };
    }
    Ok(())
}

fn formula_sheet(
    report: &Report,
    title: &str,
    stated: &str,
    f: &Formats,
) -> Result<Worksheet, XlsxError> {
    let mut sheet = Worksheet::new();
    sheet.set_name("计分公式")?;
    sheet.set_column_width(0, 22.0)?;
    sheet.set_column_width(1, 100.0)?;
    sheet.write_string_with_format(0, 0, format!("{title}·计分公式"), &f.title)?;
    sheet.write_string(1, 0, stated)?;
    let w = &report.weights;
    let mut lines: Vec<(String, String)> = vec![
        ("公式".into(), report.formula.clone()),
        ("权重·按时办结率".into(), w.on_time.to_string()),
        ("权重·用时（1−平均用时占比）".into(), w.speed.to_string()),
        ("权重·压缩率".into(), w.compression.to_string()),
        ("权重·回告率".into(), w.answers.to_string()),
        ("权重·满意度".into(), w.rating.to_string()),
        ("每超期工作日扣分".into(), w.overdue_day.to_string()),
        ("每期末红灯件扣分".into(), w.red_item.to_string()),
    ];
    if let Some(c) = &report.cutoffs {
        lines.push((
            "考核等次".into(),
            format!(
                "优秀 ≥ {}，良好 ≥ {}，合格 ≥ {}，低于 {} 为不合格",
                c.excellent, c.good, c.pass, c.pass
            ),
        ));
    }
    lines.push(("上期（名次变化的比较期）".into(), report.previous.clone()));
    lines.push(("读取办件数".into(), report.items_read.to_string()));
    lines.push(("计入办件数".into(), report.items.len().to_string()));
    if !report.ungraded.is_empty() {
        lines.push((
            "未计入（节假日安排缺年份）".into(),
            super::ungraded_text(&report.ungraded),
        ));
    }
    lines.push(("数据摘要（SHA-256）".into(), report.digest.clone()));
    let wrap = f.text.clone().set_text_wrap();
    for (i, (name, value)) in lines.iter().enumerate() {
        let row = 3 + i as u32;
        sheet.write_string_with_format(row, 0, name, &f.header)?;
        sheet.write_string_with_format(row, 1, value, &wrap)?;
    }
    Ok(sheet)
}
