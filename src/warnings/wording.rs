//! Grouping and wording: the rules' decisions become one message a recipient, channel and
//! rule run — never one text an item — naming the count, the worst items and a link. The
//! SMS text fills the provider's template variables and is counted in segments; the email
//! is HTML with a plain-text part listing the items; robots get markdown. Pure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::contacts::{Contact, Role};
use super::message::Channel;
use super::rules::{Decision, Open, RuleName, Target};

/// Which sender serves each channel, and which robots serve which departments.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Routes {
    pub sms: Option<String>,
    pub email: Option<String>,
    pub robots: Vec<RobotRoute>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RobotRoute {
    /// The robot sender's name.
    pub sender: String,
    /// The departments whose warnings go to its group; empty: every department's (the
    /// supervision office's own group).
    pub departments: Vec<String>,
}

/// A message ready for the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// (recipient, channel, rule, items, window): the same message cannot be written twice.
    pub dedup_key: String,
    pub rule: RuleName,
    /// The items' department, or empty when they are of several (the office's messages).
    pub department: String,
    pub channel: Channel,
    pub sender: String,
    /// `handler`, `head`, … or `robot`.
    pub role: String,
    pub recipient: String,
    pub address: String,
    /// The items with the windows they are warned for.
    pub items: Vec<(String, String)>,
    pub subject: String,
    pub text: String,
    pub params: Vec<(String, String)>,
    pub html: Option<String>,
    pub markdown: Option<String>,
}

/// The length of an SMS in segments: 70 characters fit one; a longer text is sent in parts
/// of 67 (the rest of each part carries the header that joins them).
pub fn sms_segments(text: &str) -> usize {
    let n = text.chars().count();
    if n <= 70 { 1 } else { n.div_ceil(67) }
}

/// The messages for `decisions`, grouped by recipient, channel and rule. `link` gives the
/// page a department's recipients open (its late items and the answer form); `window` is
/// the run's day.
pub fn draft(
    decisions: &[Decision],
    contacts: &[Contact],
    routes: &Routes,
    link: &dyn Fn(&str) -> String,
    window: &str,
) -> Vec<Draft> {
    // (rule, channel, address) → (recipient, role, sender, items by department).
    type Group<'a> = (
        &'a str,
        String,
        String,
        BTreeMap<&'a str, Vec<&'a (Open, String)>>,
    );
    let mut groups: BTreeMap<(RuleName, Channel, String), Group> = BTreeMap::new();
    for decision in decisions {
        for target in &decision.targets {
            let channel = target.channel();
            let sender = match channel {
                Channel::Sms => routes.sms.clone(),
                Channel::Email => routes.email.clone(),
                Channel::Robot => None,
            };
            match *target {
                Target::Robot => {
                    for robot in routes.robots.iter().filter(|r| {
                        r.departments.is_empty() || r.departments.contains(&decision.department)
                    }) {
                        let group = groups
                            .entry((decision.rule, channel, robot.sender.clone()))
                            .or_insert_with(|| {
                                (
                                    robot.sender.as_str(),
                                    "robot".into(),
                                    robot.sender.clone(),
                                    BTreeMap::new(),
                                )
                            });
                        group
                            .3
                            .entry(decision.department.as_str())
                            .or_default()
                            .extend(decision.items.iter());
                    }
                }
                Target::Contact(role, _) => {
                    let Some(sender) = sender else { continue };
                    for contact in contacts.iter().filter(|c| c.role == role) {
                        let items: Vec<&(Open, String)> = match role {
                            Role::Handler | Role::Head
                                if contact.department != decision.department =>
                            {
                                continue;
                            }
                            Role::Steward => decision
                                .items
                                .iter()
                                .filter(|(item, _)| item.project_code == contact.project_code)
                                .collect(),
                            _ => decision.items.iter().collect(),
                        };
                        let address = match channel {
                            Channel::Sms => &contact.mobile,
                            _ => &contact.email,
                        };
                        if items.is_empty() || address.is_empty() {
                            continue;
                        }
                        let group = groups
                            .entry((decision.rule, channel, address.clone()))
                            .or_insert_with(|| {
                                (
                                    contact.name.as_str(),
                                    role.as_str().into(),
                                    sender.clone(),
                                    BTreeMap::new(),
                                )
                            });
                        group
                            .3
                            .entry(decision.department.as_str())
                            .or_default()
                            .extend(items);
                    }
                }
            }
        }
    }
    groups
        .into_iter()
        .map(
            |((rule, channel, address), (recipient, role, sender, by_department))| {
                let mut items: Vec<&(Open, String)> =
                    by_department.values().flatten().copied().collect();
                items.sort_by(|(a, _), (b, _)| {
                    a.remaining
                        .cmp(&b.remaining)
                        .then_with(|| a.item_id.cmp(&b.item_id))
                });
                items.dedup_by(|a, b| a.0.item_id == b.0.item_id && a.1 == b.1);
                let departments: Vec<&str> = by_department.keys().copied().collect();
                let department = if departments.len() == 1 {
                    departments[0]
                } else {
                    ""
                };
                let words = Words::new(rule, &departments, &items, link(department));
                let mut keyed: Vec<String> = items
                    .iter()
                    .map(|(i, w)| format!("{}@{w}", i.item_id))
                    .collect();
                keyed.sort();
                let digest = Sha256::digest(keyed.join("\n").as_bytes());
                let dedup_key = format!(
                    "{}|{}|{address}|{window}|{}",
                    rule.as_string(),
                    channel.as_str(),
                    hex::encode(&digest[..12])
                );
                Draft {
                    dedup_key,
                    rule,
                    department: department.to_owned(),
                    channel,
                    sender,
                    role,
                    recipient: recipient.to_owned(),
                    address,
                    items: items
                        .iter()
                        .map(|(i, w)| (i.item_id.clone(), w.clone()))
                        .collect(),
                    subject: words.subject(),
                    text: if channel == Channel::Email {
                        words.plain()
                    } else {
                        words.text()
                    },
                    params: words.params(),
                    html: (channel == Channel::Email).then(|| words.html()),
                    markdown: (channel == Channel::Robot).then(|| words.markdown()),
                }
            },
        )
        .collect()
}

/// How many items a message lists by name (the rest are counted).
const LISTED: usize = 10;

/// The words of one message.
struct Words<'a> {
    rule: RuleName,
    departments: &'a [&'a str],
    items: &'a [&'a (Open, String)],
    link: String,
}

impl<'a> Words<'a> {
    fn new(
        rule: RuleName,
        departments: &'a [&'a str],
        items: &'a [&'a (Open, String)],
        link: String,
    ) -> Self {
        Self {
            rule,
            departments,
            items,
            link,
        }
    }

    /// "市住建局" or "市住建局等3个部门".
    fn who(&self) -> String {
        match self.departments {
            [one] => (*one).to_owned(),
            [first, rest @ ..] => format!("{first}等{}个部门", rest.len() + 1),
            [] => String::new(),
        }
    }

    /// What the items have in common, in a few words.
    fn detail(&self) -> String {
        match self.rule {
            RuleName::Near => "即将到期".into(),
            RuleName::Overdue => "已超期".into(),
            RuleName::Digest => "超期未办结".into(),
            RuleName::Forecast => "将于近日超期".into(),
            RuleName::Escalation(_) => "超期已久".into(),
            RuleName::Report => "月度通报".into(),
        }
    }

    /// The worst item in a few words: "最久超期5个工作日" / "最紧剩余0个工作日".
    fn worst(&self) -> String {
        match self.items.first() {
            Some((item, _)) if item.remaining < 0 => {
                format!("最久超期{}个工作日", item.days_over())
            }
            Some((item, _)) => format!("最紧剩余{}个工作日", item.remaining.max(0)),
            None => String::new(),
        }
    }

    /// The SMS template's variables, in the order the template names them.
    fn params(&self) -> Vec<(String, String)> {
        vec![
            ("title".into(), self.rule.title().into()),
            ("department".into(), self.who()),
            ("count".into(), self.items.len().to_string()),
            (
                "detail".into(),
                format!("{}，{}", self.detail(), self.worst()),
            ),
            ("link".into(), self.link.clone()),
        ]
    }

    fn subject(&self) -> String {
        format!(
            "【{}】{} {}件审批事项{}",
            self.rule.title(),
            self.who(),
            self.items.len(),
            self.detail()
        )
    }

    /// The SMS as it reads on the phone (the text part of an email starts with it too).
    fn text(&self) -> String {
        format!(
            "【{}】{}有{}件审批事项{}，{}。请及时办理并回告：{}",
            self.rule.title(),
            self.who(),
            self.items.len(),
            self.detail(),
            self.worst(),
            self.link
        )
    }

    fn state(item: &Open) -> String {
        if item.remaining < 0 {
            format!("超期{}个工作日", item.days_over())
        } else {
            format!("剩余{}个工作日", item.remaining)
        }
    }

    fn provisional(item: &Open) -> &'static str {
        if item.provisional { "（暂定）" } else { "" }
    }

    fn more(&self) -> Option<String> {
        (self.items.len() > LISTED).then(|| format!("另有{}件未列出", self.items.len() - LISTED))
    }

    /// The email's plain-text part: the text, then the items.
    fn plain(&self) -> String {
        let mut out = self.text();
        out.push_str("\n\n");
        for (item, _) in self.items.iter().take(LISTED) {
            let _ = writeln!(
                out,
                "- {} {} {}：截止 {}{}，{}",
                item.item_id,
                item.project_name,
                item.matter,
                item.deadline_date,
                Self::provisional(item),
                Self::state(item)
            );
        }
        if let Some(more) = self.more() {
            let _ = writeln!(out, "{more}");
        }
        out
    }

    fn html(&self) -> String {
        let mut rows = String::new();
        for (item, _) in self.items.iter().take(LISTED) {
            let _ = write!(
                rows,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td></tr>",
                escape(&item.item_id),
                escape(&item.department),
                escape(&item.project_name),
                escape(&item.matter),
                item.deadline_date,
                Self::provisional(item),
                Self::state(item)
            );
        }
        let more = self
            .more()
            .map(|m| format!("<p>{m}，请打开链接查看全部。</p>"))
            .unwrap_or_default();
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{subject}</title></head>\
             <body style=\"font-family:sans-serif\"><h2>{subject}</h2><p>{worst}。</p>\
             <table border=\"1\" cellpadding=\"4\" style=\"border-collapse:collapse\">\
             <tr><th>办件编号</th><th>部门</th><th>项目</th><th>事项</th><th>截止日期</th><th>状态</th></tr>\
             {rows}</table>{more}<p><img src=\"cid:chart\" alt=\"部门办件情况\"></p>\
             <p><a href=\"{link}\">查看详情并回告</a></p></body></html>",
            subject = escape(&self.subject()),
            worst = escape(&self.worst()),
            link = escape(&self.link),
        )
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### {}\n**{}** {}件审批事项{}，{}\n\n",
            self.rule.title(),
            self.who(),
            self.items.len(),
            self.detail(),
            self.worst()
        );
        for (item, _) in self.items.iter().take(LISTED) {
            let _ = writeln!(
                out,
                "- {} {}：{}",
                item.project_name,
                item.matter,
                Self::state(item)
            );
        }
        if let Some(more) = self.more() {
            let _ = writeln!(out, "- {more}");
        }
        let _ = write!(out, "\n[查看详情并回告]({})", self.link);
        out
    }
}

/// Text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grading::Grade;
    use chrono::NaiveDate;

    fn contact(
        role: Role,
        department: &str,
        project: &str,
        name: &str,
        mobile: &str,
        email: &str,
    ) -> Contact {
        Contact {
            role,
            department: department.into(),
            project_code: project.into(),
            name: name.into(),
            mobile: mobile.into(),
            email: email.into(),
        }
    }

    fn red(id: &str, department: &str, project: &str, over: i64) -> (Open, String) {
        (
            Open {
                item_id: id.into(),
                department: department.into(),
                matter: "施工许可".into(),
                project_code: project.into(),
                project_name: "产业园".into(),
                grade: Grade::Red,
                deadline_date: NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"),
                remaining: -over,
                paused: false,
                next_change_on: None,
                provisional: false,
            },
            "2026-12-01".into(),
        )
    }

    fn routes() -> Routes {
        Routes {
            sms: Some("aliyun".into()),
            email: Some("mail".into()),
            robots: vec![RobotRoute {
                sender: "ding".into(),
                departments: vec![],
            }],
        }
    }

    #[test]
    fn two_hundred_items_make_one_message_a_recipient_and_channel() {
        let items: Vec<(Open, String)> = (0..200)
            .map(|n| red(&format!("I{n:03}"), "市住建局", "P1", 1 + n % 5))
            .collect();
        let decision = Decision {
            rule: RuleName::Overdue,
            department: "市住建局".into(),
            targets: crate::warnings::rules::Rules::default()
                .overdue
                .expect("default"),
            items,
            reason: String::new(),
        };
        let contacts = [
            contact(Role::Handler, "市住建局", "", "张三", "13800000001", ""),
            contact(Role::Handler, "市住建局", "", "李四", "13800000002", ""),
            contact(
                Role::Head,
                "市住建局",
                "",
                "王五",
                "13800000003",
                "wang@example.cn",
            ),
            contact(Role::Handler, "市规划局", "", "赵六", "13800000004", ""),
            contact(Role::Steward, "", "P1", "钱七", "13800000005", ""),
            contact(Role::Steward, "", "P2", "孙八", "13800000006", ""),
        ];
        let drafts = draft(
            &[decision],
            &contacts,
            &routes(),
            &|d| format!("https://duban.example.cn/m/{d}"),
            "2026-12-03",
        );
        let to: Vec<(&str, Channel, usize)> = drafts
            .iter()
            .map(|d| (d.recipient.as_str(), d.channel, d.items.len()))
            .collect();
        // Handlers and the head by SMS, the head by email, the P1 steward by SMS, the
        // robot; nobody of the other department, not the P2 steward.
        assert_eq!(to.len(), 6, "{to:?}");
        for who in ["张三", "李四", "王五", "钱七"] {
            assert!(to.contains(&(who, Channel::Sms, 200)), "{who}: {to:?}");
        }
        assert!(to.contains(&("王五", Channel::Email, 200)));
        assert!(to.contains(&("ding", Channel::Robot, 200)));
        let sms = drafts
            .iter()
            .find(|d| d.channel == Channel::Sms)
            .expect("sms");
        assert!(sms.text.contains("200件"), "{}", sms.text);
        assert!(sms.text.contains("最久超期5个工作日"), "{}", sms.text);
        assert_eq!(sms.params.len(), 5);
        let email = drafts
            .iter()
            .find(|d| d.channel == Channel::Email)
            .expect("email");
        let html = email.html.as_deref().expect("html");
        assert!(html.contains("cid:chart") && html.contains("另有190件未列出"));
        // Dedup keys differ by recipient, and are stable for the same message.
        let again = draft(
            &drafts_decision(),
            &contacts,
            &routes(),
            &|d| d.to_owned(),
            "2026-12-03",
        );
        assert_eq!(again.len(), 6);
        let mut keys: Vec<&str> = drafts.iter().map(|d| d.dedup_key.as_str()).collect();
        keys.dedup();
        assert_eq!(keys.len(), 6);
    }

    fn drafts_decision() -> Vec<Decision> {
        let items: Vec<(Open, String)> = (0..200)
            .map(|n| red(&format!("I{n:03}"), "市住建局", "P1", 1 + n % 5))
            .collect();
        vec![Decision {
            rule: RuleName::Overdue,
            department: "市住建局".into(),
            targets: crate::warnings::rules::Rules::default()
                .overdue
                .expect("default"),
            items,
            reason: String::new(),
        }]
    }

    #[test]
    fn the_office_gets_one_message_for_all_departments() {
        let decisions: Vec<Decision> = ["市住建局", "市规划局", "市环保局"]
            .iter()
            .map(|d| Decision {
                rule: RuleName::Escalation(1),
                department: (*d).into(),
                targets: vec![Target::Contact(Role::Office, Channel::Sms)],
                items: vec![red(&format!("{d}-1"), d, "P1", 4)],
                reason: String::new(),
            })
            .collect();
        let contacts = [contact(Role::Office, "", "", "督办办", "13800000009", "")];
        let drafts = draft(
            &decisions,
            &contacts,
            &routes(),
            &|_| "L".into(),
            "2026-12-03",
        );
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0].items.len(), 3);
        assert_eq!(drafts[0].department, "");
        assert!(drafts[0].text.contains("等3个部门"), "{}", drafts[0].text);
    }

    #[test]
    fn segments_are_counted_as_the_operators_do() {
        assert_eq!(sms_segments(&"字".repeat(70)), 1);
        assert_eq!(sms_segments(&"字".repeat(71)), 2);
        assert_eq!(sms_segments(&"字".repeat(134)), 2);
        assert_eq!(sms_segments(&"字".repeat(135)), 3);
    }
}
