//! Contacts (联系人): each department's handlers (经办人) and head (负责人), the supervision
//! office (督办办公室), the key projects' stewards (项目管家), and the rungs of the
//! escalation ladder; and the masking of their numbers and addresses wherever they are
//! shown to anyone but the office.
//!
//! - `file`: a contacts file (CSV, UTF-8 or GBK, Chinese or English headers) read and
//!   checked row by row; a file with any bad row is refused whole, every bad row named.
//! - `address`: what a valid mobile number and email address are.

mod address;
mod file;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use file::{BadRow, ContactRow, ContactsFile, ContactsFileError, parse};

/// Who a contact is to the warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// 经办人: handles the department's items.
    Handler,
    /// 负责人: heads the department.
    Head,
    /// 督办办公室: the supervision office.
    Office,
    /// 项目管家 / 服务专员: follows one key project's items across departments.
    Steward,
    /// 领导: the rung of the escalation ladder above the office.
    Leader,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Handler => "handler",
            Role::Head => "head",
            Role::Office => "office",
            Role::Steward => "steward",
            Role::Leader => "leader",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "handler" => Role::Handler,
            "head" => Role::Head,
            "office" => Role::Office,
            "steward" => Role::Steward,
            "leader" => Role::Leader,
            _ => return None,
        })
    }

    /// The role's name in the office's own words, for what people read.
    pub fn chinese(self) -> &'static str {
        match self {
            Role::Handler => "经办人",
            Role::Head => "负责人",
            Role::Office => "督办办公室",
            Role::Steward => "项目管家",
            Role::Leader => "领导",
        }
    }

    pub const ALL: [Role; 5] = [
        Role::Handler,
        Role::Head,
        Role::Office,
        Role::Steward,
        Role::Leader,
    ];
}

/// One contact as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub role: Role,
    /// The department (empty for the office and the ladder).
    pub department: String,
    /// The project a steward follows (empty for everyone else).
    pub project_code: String,
    pub name: String,
    /// A mainland mobile number, 11 digits (empty if the contact has none).
    pub mobile: String,
    pub email: String,
}

/// A number or address as shown to anyone but the office: `138****1234`, `z***@example.cn`.
pub fn mask(address: &str) -> String {
    if let Some((user, host)) = address.split_once('@') {
        let first: String = user.chars().take(1).collect();
        return format!("{first}***@{host}");
    }
    let chars: Vec<char> = address.chars().collect();
    if chars.len() < 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

impl Contact {
    /// The contact as shown to anyone but the office: number and address masked.
    pub fn masked(&self) -> Contact {
        Contact {
            mobile: mask(&self.mobile),
            email: mask(&self.email),
            ..self.clone()
        }
    }
}

/// What an import put in the store, for the line the command prints and the API's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub imported: usize,
    /// How many of each role (roles with none are left out).
    pub by_role: BTreeMap<Role, usize>,
    /// `UTF-8` or `GBK`: how the file was read.
    pub encoding: &'static str,
    /// Header cells that name no contact field (序号, 备注…), passed over.
    pub ignored_columns: Vec<String>,
    /// Departments of the file that no stored item names (see `note_unknown_departments`).
    pub unknown_departments: Vec<String>,
}

impl ImportSummary {
    pub fn of(file: &ContactsFile) -> Self {
        let mut by_role = BTreeMap::new();
        for row in &file.rows {
            *by_role.entry(row.contact.role).or_insert(0) += 1;
        }
        Self {
            imported: file.rows.len(),
            by_role,
            encoding: file.encoding,
            ignored_columns: file.ignored_columns.clone(),
            unknown_departments: Vec::new(),
        }
    }

    /// Notes the departments of `file` that are not among `known` (the departments the
    /// stored items name). Warnings find a department's contacts by its exact name, so
    /// `市水利局 ` or `水利局` for `市水利局` would never be told anything; it is not an
    /// error, as a department's contacts may come before its first item. With no known
    /// departments (a store no feed has filled yet) nothing is noted.
    pub fn note_unknown_departments(&mut self, file: &ContactsFile, known: &[String]) {
        if known.is_empty() {
            return;
        }
        let mut unknown: Vec<String> = file
            .rows
            .iter()
            .map(|r| &r.contact.department)
            .filter(|d| !d.is_empty() && !known.contains(d))
            .cloned()
            .collect();
        unknown.sort_unstable();
        unknown.dedup();
        self.unknown_departments = unknown;
    }

    /// `12 contacts: 5 handler (经办人), 5 head (负责人), 1 office (督办办公室), 1 steward (项目管家)`.
    pub fn describe(&self) -> String {
        let roles: Vec<String> = self
            .by_role
            .iter()
            .map(|(role, n)| format!("{n} {} ({})", role.as_str(), role.chinese()))
            .collect();
        let mut text = format!("{} contacts: {}", self.imported, roles.join(", "));
        if !self.unknown_departments.is_empty() {
            text.push_str(&format!(
                "; no item names the department{} {} yet (check the spelling: contacts are \
                 found by the department's exact name)",
                if self.unknown_departments.len() == 1 {
                    ""
                } else {
                    "s"
                },
                self.unknown_departments.join(", ")
            ));
        }
        if !self.ignored_columns.is_empty() {
            text.push_str(&format!(
                "; columns passed over: {}",
                self.ignored_columns.join(", ")
            ));
        }
        text
    }
}

/// Made-up contacts for the demo city: a handler and a head for each of `departments`, and
/// the office. Numbers are in 1380000xxxx and addresses at example.cn, so that nobody real
/// is ever texted or mailed by a demo. (Stewards need project codes, which the city only
/// has once it runs: see `demo_stewards`.)
pub fn demo_contacts(departments: &[String]) -> Vec<Contact> {
    let mut contacts = vec![Contact {
        role: Role::Office,
        department: String::new(),
        project_code: String::new(),
        name: "督办办公室值班".into(),
        mobile: "13800000000".into(),
        email: "duban-office@example.cn".into(),
    }];
    for (n, department) in departments.iter().enumerate() {
        // Two numbers a department, 1 to 9999 past the office's: room for 4,999 departments.
        let serial = 2 * (n % 4_999) + 1;
        for (role, offset, name, who) in [
            (Role::Handler, 0, "经办人", "handler"),
            (Role::Head, 1, "负责人", "head"),
        ] {
            contacts.push(Contact {
                role,
                department: department.clone(),
                project_code: String::new(),
                name: format!("{department}{name}"),
                mobile: format!("1380000{:04}", serial + offset),
                email: format!("{who}{:04}@example.cn", serial + offset),
            });
        }
    }
    contacts
}

/// Made-up stewards (项目管家) for the demo, one for each of `project_codes`, with numbers in
/// 1380001xxxx (beside `demo_contacts`' range) and addresses at example.cn.
pub fn demo_stewards(project_codes: &[String]) -> Vec<Contact> {
    project_codes
        .iter()
        .enumerate()
        .map(|(n, code)| Contact {
            role: Role::Steward,
            department: String::new(),
            project_code: code.clone(),
            name: format!("项目管家{}", n + 1),
            mobile: format!("1380001{:04}", n % 10_000),
            email: format!("steward{:04}@example.cn", n % 10_000),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_addresses_are_masked() {
        assert_eq!(mask("13812341234"), "138****1234");
        assert_eq!(mask("zhang.san@jsj.example.cn"), "z***@jsj.example.cn");
        assert_eq!(mask("12345"), "*****");
        assert_eq!(mask(""), "", "nothing to hide stays nothing");
    }

    #[test]
    fn a_masked_contact_shows_no_whole_number_or_address() {
        let contact = Contact {
            role: Role::Head,
            department: "市气象局".into(),
            project_code: String::new(),
            name: "王五".into(),
            mobile: "13912345678".into(),
            email: "wangwu@qxj.example.cn".into(),
        };
        let masked = contact.masked();
        assert_eq!(masked.mobile, "139****5678");
        assert_eq!(masked.email, "w***@qxj.example.cn");
        assert_eq!(
            (masked.name, masked.department),
            (contact.name, contact.department)
        );
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("boss"), None);
    }

    #[test]
    fn demo_contacts_are_valid_fake_and_distinct() {
        let departments = vec!["市气象局".to_owned(), "市水利局".to_owned()];
        let mut contacts = demo_contacts(&departments);
        contacts.extend(demo_stewards(&["2611-370102-04-01-123456".to_owned()]));
        assert_eq!(contacts.len(), 1 + 2 * 2 + 1);
        // Written out as a file, they pass the import's own checks.
        let mut csv = String::from("role,department,project_code,name,mobile,email\n");
        for c in &contacts {
            csv.push_str(&format!(
                "{},{},{},{},{},{}\n",
                c.role.as_str(),
                c.department,
                c.project_code,
                c.name,
                c.mobile,
                c.email
            ));
        }
        let file = parse(csv.as_bytes()).unwrap();
        let parsed: Vec<Contact> = file.rows.into_iter().map(|r| r.contact).collect();
        assert_eq!(parsed, contacts);
        for c in &contacts {
            assert!(c.mobile.starts_with("138000"), "{}", c.mobile);
            assert!(c.email.ends_with("@example.cn"), "{}", c.email);
        }
        let mut numbers: Vec<&str> = contacts.iter().map(|c| c.mobile.as_str()).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(
            numbers.len(),
            contacts.len(),
            "every demo contact has its own number"
        );
    }

    #[test]
    fn a_summary_counts_by_role() {
        let file = parse("角色,部门,姓名,手机\n经办人,市水利局,张三,13812345678\n负责人,市水利局,李四,13912345678\n经办人,市气象局,赵六,13712345678\n".as_bytes()).unwrap();
        let summary = ImportSummary::of(&file);
        assert_eq!(summary.imported, 3);
        assert_eq!(summary.by_role.get(&Role::Handler), Some(&2));
        assert_eq!(
            summary.describe(),
            "3 contacts: 2 handler (经办人), 1 head (负责人)"
        );
        let mut noted = summary.clone();
        noted.note_unknown_departments(&file, &[]);
        assert!(
            noted.unknown_departments.is_empty(),
            "no departments known yet"
        );
        noted.note_unknown_departments(&file, &["市水利局".to_owned(), "市公安局".to_owned()]);
        assert_eq!(noted.unknown_departments, ["市气象局"]);
        assert!(
            noted
                .describe()
                .contains("no item names the department 市气象局 yet"),
            "{}",
            noted.describe()
        );
    }
}
