//! A report as a printable HTML document (A4, print CSS, a page break between sections,
//! the city's title and the period in the header of every section): the ranking with its
//! chart, each department's overdue and red items, the projects over target, and the
//! formula. The charts are SVG drawn here (bars of the score and the on-time rate), so
//! the document needs no script and no font beyond the reader's, and it carries its own
//! CSS (`report.css`): it is a file saved and printed, not a page of the daemon's. Pure: a
//! report in, text out.

use super::compare::Comparison;
use super::workbook::change_text;
use super::{DepartmentRow, Report, percent};
use crate::ledger::words::{category_word, grade_word, status_word};
use crate::warnings::wording::escape;

pub const CSS: &str = include_str!("report.css");

/// What a published report's document says above its figures.
pub struct Published<'a> {
    pub published_at: &'a str,
    pub published_by: &'a str,
    pub comparison: Option<&'a Comparison>,
}

pub fn document(report: &Report, tz: chrono_tz::Tz, published: Option<&Published<'_>>) -> String {
    let title = format!("{}{}部门审批效能排名", report.city, report.title);
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">");
    out.push_str(&format!("<title>{}</title>", escape(&title)));
    out.push_str(&format!("<style>{CSS}</style>"));
    out.push_str("</head><body>");
    let stated = format!(
        "统计期间：{} 至 {}{}　数据时间：{}",
        report.from,
        report.to,
        if report.so_far {
            "（本期截至目前，非最终结果）"
        } else {
            ""
        },
        report.data_time.with_timezone(&tz).format("%Y-%m-%d %H:%M")
    );
    let header = |out: &mut String, section: &str| {
        out.push_str(&format!(
            "<header><h1>{}</h1><p class=\"section\">{}</p><p class=\"stated\">{}</p></header>",
            escape(&title),
            escape(section),
            escape(&stated)
        ));
    };

    out.push_str("<section class=\"ranking\">");
    header(&mut out, "一、部门排名");
    if let Some(p) = published {
        out.push_str(&format!(
            "<p class=\"published\">已发布：{}，发布人：{}。以下为发布时的结果。</p>",
            escape(p.published_at),
            escape(p.published_by)
        ));
        if let Some(c) = p.comparison {
            out.push_str(&differences(c));
        }
    }
    out.push_str(&ranking_table(report));
    out.push_str(&chart(report));
    out.push_str("</section>");

    out.push_str("<section class=\"overdue\">");
    header(&mut out, "二、各部门超期及期末红灯办件");
    let mut any = false;
    for row in report.rows() {
        let items: Vec<_> = report
            .items_of(&row.department)
            .filter(|i| i.is_late())
            .collect();
        if items.is_empty() {
            continue;
        }
        any = true;
        out.push_str(&format!(
            "<h2>{}（{} 件，超期 {} 个工作日）</h2><table><thead><tr><th>办件编号</th><th>项目</th><th>事项</th><th>受理</th><th>截止</th><th>已用/允许</th><th>超期</th><th>办结</th><th>状态</th><th>等级</th></tr></thead><tbody>",
            escape(&row.department),
            items.len(),
            row.overdue_days
        ));
        for i in items {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}/{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&i.item_id),
                escape(&i.project_name),
                escape(&i.matter),
                i.accepted_on,
                i.deadline,
                i.used,
                i.allowed,
                i.overdue_days,
                i.finished_on.map(|d| d.to_string()).unwrap_or_default(),
                status_word(i.status),
                grade_word(i.grade)
            ));
        }
        out.push_str("</tbody></table>");
    }
    if !any {
        out.push_str("<p>本期没有超期或期末红灯的办件。</p>");
    }
    out.push_str("</section>");

    out.push_str("<section class=\"projects\">");
    header(&mut out, "三、政府审批时间超过“3211”目标的项目");
    if report.projects_over.is_empty() {
        out.push_str("<p>本期没有项目超过目标。</p>");
    } else {
        out.push_str("<table><thead><tr><th>项目代码</th><th>项目名称</th><th>类别</th><th>目标</th><th>政府审批时间</th><th>超出</th><th>涉及部门</th></tr></thead><tbody>");
        for p in &report.projects_over {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                escape(&p.project_code),
                escape(&p.project_name),
                escape(category_word(&p.category)),
                p.target_days,
                p.government_days,
                p.over_by,
                escape(&p.departments.join("、"))
            ));
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");

    out.push_str("<section class=\"formula\">");
    header(&mut out, "四、计分公式与数据说明");
    out.push_str(&format!("<p>{}</p>", escape(&report.formula)));
    if let Some(c) = &report.cutoffs {
        out.push_str(&format!(
            "<p>考核等次：优秀 ≥ {}，良好 ≥ {}，合格 ≥ {}，低于 {} 为不合格；本期没有办结件的部门不评等次。</p>",
            c.excellent, c.good, c.pass, c.pass
        ));
    }
    out.push_str(&format!(
        "<p>名次变化与 {} 比较。读取办件 {} 件，计入 {} 件。数据摘要（SHA-256）：<code>{}</code></p>",
        escape(&report.previous),
        report.items_read,
        report.items.len(),
        escape(&report.digest)
    ));
    if !report.ungraded.is_empty() {
        out.push_str(&format!(
            "<p>未计入（其计时日期所在年份的节假日安排未载入）：{}</p>",
            escape(&super::ungraded_text(&report.ungraded))
        ));
    }
    out.push_str("</section></body></html>\n");
    out
}

fn ranking_table(report: &Report) -> String {
    let mut out = String::from(
        "<table class=\"rank\"><thead><tr><th>名次</th><th>部门</th><th>综合得分</th><th>变化</th><th>受理</th><th>办结</th><th>按时办结率</th><th>平均用时占比</th><th>压缩率</th><th>超期工作日</th><th>期末红灯</th><th>预警/回告</th><th>回告用时（工作小时）</th><th>满意度</th>",
    );
    if report.cutoffs.is_some() {
        out.push_str("<th>等次</th>");
    }
    out.push_str("</tr></thead><tbody>");
    let assessed = report.cutoffs.is_some();
    for r in &report.ranked {
        out.push_str(&row(r, assessed));
    }
    if !report.unranked.is_empty() {
        out.push_str(&format!(
            "<tr class=\"apart\"><td colspan=\"{}\">未参加排名（本期没有办结件）</td></tr>",
            if assessed { 15 } else { 14 }
        ));
        for r in &report.unranked {
            out.push_str(&row(r, assessed));
        }
    }
    out.push_str("</tbody></table>");
    out
}

fn row(r: &DepartmentRow, assessed: bool) -> String {
    let opt = |x: Option<f64>| x.map_or_else(|| "—".to_owned(), |x| format!("{x:.2}"));
    let mut out = format!(
        "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}/{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
        r.place.map_or_else(|| "—".to_owned(), |p| p.to_string()),
        escape(&r.department),
        // Not placed, not scored: listed for its figures.
        r.place
            .map_or_else(|| "—".to_owned(), |_| format!("{:.2}", r.score)),
        change_text(r),
        r.received,
        r.finished,
        percent(r.on_time_rate),
        percent(r.mean_share),
        percent(r.compression),
        r.overdue_days,
        r.red_pending,
        r.warnings,
        r.answers,
        opt(r.answer_hours),
        opt(r.rating),
    );
    if assessed {
        out.push_str(&format!("<td>{}</td>", r.grade.as_deref().unwrap_or("—")));
    }
    out.push_str("</tr>");
    out
}

/// The departments' scores and on-time rates as horizontal bars (SVG: attributes, not styles).
fn chart(report: &Report) -> String {
    let rows: Vec<&DepartmentRow> = report.ranked.iter().collect();
    if rows.is_empty() {
        return String::new();
    }
    let (label, bar, gap) = (190.0, 420.0, 22.0);
    let height = 30.0 + gap * rows.len() as f64;
    let mut svg = format!(
        "<figure><svg class=\"chart\" viewBox=\"0 0 {w} {height}\" width=\"{w}\" height=\"{height}\" role=\"img\" aria-label=\"各部门综合得分与按时办结率\">\
         <text x=\"{label}\" y=\"14\" class=\"legend\">■ 综合得分（满分100）　▬ 按时办结率</text>",
        w = label + bar + 70.0
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 24.0 + gap * i as f64;
        let score_w = bar * (r.score / 100.0).clamp(0.0, 1.0);
        let rate_w = bar * r.on_time_rate.unwrap_or(0.0).clamp(0.0, 1.0);
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"label\">{}</text>\
             <rect x=\"{label}\" y=\"{y}\" width=\"{score_w:.1}\" height=\"11\" class=\"score\"/>\
             <rect x=\"{label}\" y=\"{}\" width=\"{rate_w:.1}\" height=\"4\" class=\"rate\"/>\
             <text x=\"{}\" y=\"{}\" class=\"value\">{:.1}</text>",
            label - 6.0,
            y + 10.0,
            escape(&r.department),
            y + 13.0,
            label + score_w + 4.0,
            y + 10.0,
            r.score
        ));
    }
    svg.push_str("</svg><figcaption>各部门综合得分与按时办结率</figcaption></figure>");
    svg
}

fn differences(c: &Comparison) -> String {
    if c.differences.is_empty() {
        return if c.inputs_changed {
            "<p class=\"changed\">发布后数据有更新，但各部门的结果不变。</p>".to_owned()
        } else {
            "<p class=\"same\">发布后数据未变。</p>".to_owned()
        };
    }
    let mut out = String::from(
        "<div class=\"changed\"><p>发布后数据有更正，按现在的数据，以下部门的结果会不同（已发布的结果不变）：</p><ul>",
    );
    for d in &c.differences {
        let figures: Vec<String> = d
            .figures
            .iter()
            .map(|(name, then, now)| {
                format!("{}：{} → {}", escape(name), escape(then), escape(now))
            })
            .collect();
        out.push_str(&format!(
            "<li><b>{}</b>：得分变化 {:+.2}；{}</li>",
            escape(&d.department),
            d.score_change,
            figures.join("，")
        ));
    }
    out.push_str("</ul></div>");
    out
}
