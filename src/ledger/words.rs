//! The words the office's outputs use for grades, statuses and project categories (the
//! same as the pages', `web/static/common.js`), and a date as a workbook cell: shared by the
//! ledger's workbook and the rankings' workbook and printed page. Pure.

use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::ExcelDateTime;

use crate::grading::Grade;
use crate::item::Status;

pub fn excel_date(day: NaiveDate) -> Result<ExcelDateTime, rust_xlsxwriter::XlsxError> {
    ExcelDateTime::from_ymd(day.year() as u16, day.month() as u8, day.day() as u8)
}

/// The words the pages use (`web/static/common.js`), so the workbook reads like the page.
pub fn grade_word(grade: Grade) -> &'static str {
    match grade {
        Grade::Blue => "蓝 超前",
        Grade::Yellow => "黄 正常",
        Grade::Red => "红 超期",
    }
}

pub fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pending => "在办",
        Status::Paused => "暂停计时",
        Status::Finished => "已办结",
        Status::Withdrawn => "已撤回",
    }
}

pub fn category_word(category: &str) -> &str {
    match category {
        "government_investment" => "政府投资",
        "general_social" => "一般社会投资",
        "simple_low_risk" => "简易低风险",
        "land_start" => "拿地即开工",
        other => other,
    }
}
