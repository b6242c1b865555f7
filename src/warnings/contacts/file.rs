//! A contacts file as an office keeps it: a CSV saved from Excel or a government system,
//! in UTF-8 (with or without Excel's BOM) or GBK, with Chinese or English headers and role
//! words. Every row is checked, and every bad row is reported with its line and what is
//! wrong with it; a file with any bad row yields no contacts at all, so an import never
//! leaves half a list in place of a whole one.

use std::borrow::Cow;

use serde::Serialize;

use super::address::{check_email, normalise_mobile};
use super::{Contact, Role};

/// A contact and the line of the file it came from (kept in the store, so that a message's
/// audit can say which row of which import named its recipient).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRow {
    pub line: u64,
    pub contact: Contact,
}

/// A contacts file that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactsFile {
    /// In the file's order.
    pub rows: Vec<ContactRow>,
    /// `UTF-8` or `GBK`: how the bytes were read.
    pub encoding: &'static str,
    /// Header cells that name no field (序号, 备注…): passed over, and said so.
    pub ignored_columns: Vec<String>,
}

/// One bad row: its line in the file (the header is line 1) and what to correct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRow {
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactsFileError {
    #[error(
        "the file is neither UTF-8 nor GBK text{hint}; save it from Excel as \"CSV UTF-8 (逗号分隔)\""
    )]
    Encoding { hint: &'static str },
    #[error("line {line} (the header row): {reason}")]
    Header { line: u64, reason: String },
    #[error(
        "the file has a header row but no contacts; an import replaces every contact, so an \
         empty one is refused (to remove everyone, ask for it on purpose)"
    )]
    Empty,
    #[error(
        "{} bad row{} (nothing was imported; correct them and import the file again): {}",
        .0.len(),
        if .0.len() == 1 { "" } else { "s" },
        .0.iter().map(|r| format!("line {}: {}", r.line, r.reason)).collect::<Vec<_>>().join("; ")
    )]
    Rows(Vec<BadRow>),
}

/// The fields a contact has, as columns of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Role,
    Department,
    ProjectCode,
    Name,
    Mobile,
    Email,
}

impl Field {
    const ALL: [Field; 6] = [
        Field::Role,
        Field::Department,
        Field::ProjectCode,
        Field::Name,
        Field::Mobile,
        Field::Email,
    ];

    /// How the header names it in messages: both the Chinese and the English.
    fn label(self) -> &'static str {
        match self {
            Field::Role => "角色 (role)",
            Field::Department => "部门 (department)",
            Field::ProjectCode => "项目代码 (project_code)",
            Field::Name => "姓名 (name)",
            Field::Mobile => "手机 (mobile)",
            Field::Email => "邮箱 (email)",
        }
    }

    /// The header words that name it, compared after `header_key`: the offices' usual
    /// column titles, from their own sheets and from the systems they export from.
    fn words(self) -> &'static [&'static str] {
        match self {
            Field::Role => &[
                "角色",
                "类型",
                "人员类型",
                "联系人类型",
                "身份",
                "role",
                "type",
            ],
            Field::Department => &[
                "部门",
                "单位",
                "部门名称",
                "单位名称",
                "所属部门",
                "所在部门",
                "所属单位",
                "审批部门",
                "department",
                "dept",
                "unit",
            ],
            Field::ProjectCode => &[
                "项目代码",
                "项目编码",
                "项目编号",
                "项目统一代码",
                "projectcode",
                "project",
            ],
            Field::Name => &["姓名", "名字", "联系人", "联系人姓名", "name"],
            Field::Mobile => &[
                "手机",
                "手机号",
                "手机号码",
                "移动电话",
                "联系电话",
                "电话",
                "mobile",
                "mobilephone",
                "phone",
                "cell",
            ],
            Field::Email => &[
                "邮箱",
                "电子邮箱",
                "电子邮件",
                "邮件",
                "邮箱地址",
                "email",
                "mail",
                "emailaddress",
            ],
        }
    }
}

/// A header cell as compared: trimmed, lower-case, without spaces, `_` and `-` (so
/// `Project Code`, `project_code` and `E-mail` are found), and without a note in brackets
/// after it (`手机号码（必填）`).
fn header_key(cell: &str) -> String {
    let cell = cell.trim();
    let cell = cell
        .find(['(', '（'])
        .filter(|&at| at > 0)
        .map_or(cell, |at| &cell[..at]);
    cell.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The role a cell's word names: Chinese as offices write it, or the English of the config.
fn role_of(word: &str) -> Option<Role> {
    let word: String = word
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    Some(match word.as_str() {
        "经办人" | "经办" | "承办人" | "handler" => Role::Handler,
        "负责人" | "部门负责人" | "head" => Role::Head,
        "督办办公室" | "督办" | "督办办" | "审改办" | "office" => Role::Office,
        "项目管家" | "管家" | "服务专员" | "steward" => Role::Steward,
        "领导" | "leader" => Role::Leader,
        _ => return None,
    })
}

const ROLE_WORDS: &str = "经办人, 负责人, 督办办公室 (督办), 项目管家 (服务专员), 领导, \
                          or handler, head, office, steward, leader";

/// The file's text: UTF-8 when the bytes are valid UTF-8 (a BOM taken off), else GBK.
/// Valid UTF-8 is tried first because GBK accepts almost any bytes, while Chinese GBK text
/// is hardly ever valid UTF-8 by chance.
fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, &'static str), ContactsFileError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(ContactsFileError::Encoding {
            hint: " (it is UTF-16, as Excel's \"Unicode text\" saves)",
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok((Cow::Borrowed(text), "UTF-8"));
    }
    encoding_rs::GBK
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| (text, "GBK"))
        .ok_or(ContactsFileError::Encoding { hint: "" })
}

/// Reads and checks a contacts file. Rows whose cells are all empty (the tail Excel leaves)
/// are passed over; every other row must be a valid contact.
pub fn parse(bytes: &[u8]) -> Result<ContactsFile, ContactsFileError> {
    let (text, encoding) = decode(bytes)?;
    let lines = Lines::of(&text);
    // Rows of another width are reported one by one, below, not as the reader's error.
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = loop {
        match records.next() {
            None => {
                return Err(ContactsFileError::Header {
                    line: 1,
                    reason: "the file is empty: the first row names the columns (角色, 部门, \
                             项目代码, 姓名, 手机, 邮箱)"
                        .into(),
                });
            }
            Some(Err(e)) => {
                return Err(ContactsFileError::Header {
                    line: lines.line(e.position()),
                    reason: format!("cannot be read as CSV: {e}"),
                });
            }
            Some(Ok(record)) if is_blank(&record) => continue,
            Some(Ok(record)) => break record,
        }
    };
    let header_line = lines.line(header.position());
    let columns = Columns::of(&header).map_err(|reason| ContactsFileError::Header {
        line: header_line,
        reason,
    })?;
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for record in records {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                // A broken quote runs on to the end of the file: nothing after it can be
                // trusted to start where it seems to.
                bad.push(BadRow {
                    line: lines.line(e.position()),
                    reason: format!(
                        "cannot be read as CSV ({e}); the rows after it were not checked"
                    ),
                });
                break;
            }
        };
        if is_blank(&record) {
            continue;
        }
        let line = lines.line(record.position());
        if record.len() > header.len() && !record.iter().skip(header.len()).all(is_empty) {
            bad.push(BadRow {
                line,
                reason: format!(
                    "the row has {} cells and the header row {}: a comma inside a name or \
                     address needs the cell in double quotes",
                    record.len(),
                    header.len()
                ),
            });
            continue;
        }
        match columns.contact(&record) {
            Ok(contact) => rows.push(ContactRow { line, contact }),
            Err(reasons) => bad.push(BadRow {
                line,
                reason: reasons.join("; "),
            }),
        }
    }
    repeated(&rows, &mut bad);
    if !bad.is_empty() {
        bad.sort_by_key(|b| b.line);
        return Err(ContactsFileError::Rows(bad));
    }
    if rows.is_empty() {
        return Err(ContactsFileError::Empty);
    }
    Ok(ContactsFile {
        rows,
        encoding,
        ignored_columns: columns.ignored,
    })
}

fn is_empty(cell: &str) -> bool {
    cell.trim().is_empty()
}

fn is_blank(record: &csv::StringRecord) -> bool {
    record.iter().all(is_empty)
}

/// Lines of the text by where they start, for the line of a record. (The reader's own line
/// count is not the file's: it counts a CRLF's LF and a passed-over blank line otherwise.)
struct Lines<'t> {
    text: &'t [u8],
    /// Byte offsets of every `\n`.
    newlines: Vec<usize>,
}

impl<'t> Lines<'t> {
    fn of(text: &'t str) -> Self {
        let text = text.as_bytes();
        let newlines = (0..text.len()).filter(|&i| text[i] == b'\n').collect();
        Self { text, newlines }
    }

    /// The line (from 1) of what starts at `position`: a record the reader says begins at
    /// the line break before it (a CRLF's LF) begins after it.
    fn line(&self, position: Option<&csv::Position>) -> u64 {
        let Some(position) = position else { return 0 };
        let mut at = usize::try_from(position.byte()).unwrap_or(usize::MAX);
        while self
            .text
            .get(at)
            .is_some_and(|b| matches!(b, b'\r' | b'\n'))
        {
            at += 1;
        }
        1 + self.newlines.partition_point(|&n| n < at) as u64
    }
}

/// The longest cell taken: more than any name, department, code or address is long.
const MAX_CELL_CHARS: usize = 200;

/// Where each field is in the rows, from the header row.
struct Columns {
    at: [Option<usize>; 6],
    ignored: Vec<String>,
}

impl Columns {
    fn of(header: &csv::StringRecord) -> Result<Self, String> {
        let mut at = [None; 6];
        let mut ignored = Vec::new();
        for (index, cell) in header.iter().enumerate() {
            let key = header_key(cell);
            if key.is_empty() {
                continue;
            }
            let found = Field::ALL
                .iter()
                .position(|f| f.words().iter().any(|w| *w == key));
            match found {
                Some(field) => {
                    if let Some(first) = at[field] {
                        return Err(format!(
                            "columns {} ({:?}) and {} ({:?}) both name {}; keep one",
                            first + 1,
                            header.get(first).unwrap_or_default().trim(),
                            index + 1,
                            cell.trim(),
                            Field::ALL[field].label()
                        ));
                    }
                    at[field] = Some(index);
                }
                None => ignored.push(cell.trim().to_owned()),
            }
        }
        let missing: Vec<&str> = [Field::Role, Field::Name]
            .into_iter()
            .filter(|f| at[*f as usize].is_none())
            .map(Field::label)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "no column {} (the header row has: {}); the columns are 角色, 部门, 项目代码, \
                 姓名, 手机, 邮箱 or role, department, project_code, name, mobile, email",
                missing.join(" or "),
                header.iter().map(str::trim).collect::<Vec<_>>().join(", ")
            ));
        }
        if at[Field::Mobile as usize].is_none() && at[Field::Email as usize].is_none() {
            return Err(format!(
                "neither a {} nor an {} column: a contact is reached by one of them",
                Field::Mobile.label(),
                Field::Email.label()
            ));
        }
        Ok(Self { at, ignored })
    }

    fn cell<'r>(&self, record: &'r csv::StringRecord, field: Field) -> &'r str {
        self.at[field as usize]
            .and_then(|i| record.get(i))
            .map_or("", str::trim)
    }

    /// The row as a contact, or every reason it is not one.
    fn contact(&self, record: &csv::StringRecord) -> Result<Contact, Vec<String>> {
        let mut reasons = Vec::new();
        for field in Field::ALL {
            let cell = self.cell(record, field);
            if cell.chars().any(char::is_control) {
                reasons.push(format!(
                    "{} has a control character (a tab, a stray NUL…); type the cell again",
                    field.label()
                ));
            } else if cell.chars().count() > MAX_CELL_CHARS {
                reasons.push(format!(
                    "{} is over {MAX_CELL_CHARS} characters; is the column right?",
                    field.label()
                ));
            }
        }
        let role_word = self.cell(record, Field::Role);
        let role = role_of(role_word);
        match (role, role_word.is_empty()) {
            (Some(_), _) => {}
            (None, true) => reasons.push(format!("no role; write one of {ROLE_WORDS}")),
            (None, false) => reasons.push(format!(
                "unknown role {role_word:?}; write one of {ROLE_WORDS}"
            )),
        }
        let name = self.cell(record, Field::Name);
        if name.is_empty() {
            reasons.push("no name (姓名)".into());
        }
        let department = self.cell(record, Field::Department);
        if matches!(role, Some(Role::Handler | Role::Head)) && department.is_empty() {
            reasons.push(format!(
                "a {} needs the department it works in (部门){}",
                role.map_or("", Role::chinese),
                self.absent(Field::Department)
            ));
        }
        let project_code = self.cell(record, Field::ProjectCode);
        if role == Some(Role::Steward) && project_code.is_empty() {
            reasons.push(format!(
                "a 项目管家 (steward) needs the code of the project they follow (项目代码){}",
                self.absent(Field::ProjectCode)
            ));
        }
        let mobile = self.cell(record, Field::Mobile);
        let mobile = if mobile.is_empty() {
            String::new()
        } else {
            normalise_mobile(mobile).unwrap_or_else(|reason| {
                reasons.push(reason);
                String::new()
            })
        };
        let email = self.cell(record, Field::Email);
        let email = if email.is_empty() {
            String::new()
        } else {
            check_email(email).unwrap_or_else(|reason| {
                reasons.push(reason);
                String::new()
            })
        };
        if self.cell(record, Field::Mobile).is_empty() && self.cell(record, Field::Email).is_empty()
        {
            reasons.push("neither a mobile number (手机) nor an email (邮箱): give one".into());
        }
        match role {
            Some(role) if reasons.is_empty() => Ok(Contact {
                role,
                department: department.to_owned(),
                project_code: project_code.to_owned(),
                name: name.to_owned(),
                mobile,
                email,
            }),
            _ => Err(reasons),
        }
    }

    /// A note for a reason about an empty cell, when the file has no such column at all.
    fn absent(&self, field: Field) -> &'static str {
        if self.at[field as usize].is_none() {
            match field {
                Field::Department => "; the file has no 部门 (department) column",
                Field::ProjectCode => "; the file has no 项目代码 (project_code) column",
                _ => "",
            }
        } else {
            ""
        }
    }
}

/// Each row that repeats an earlier one (the same role, department and project, and the same
/// number or address) is reported: the person would be told everything twice.
fn repeated(rows: &[ContactRow], bad: &mut Vec<BadRow>) {
    for (i, row) in rows.iter().enumerate() {
        let a = &row.contact;
        let earlier = rows[..i].iter().find(|other| {
            let b = &other.contact;
            a.role == b.role
                && a.department == b.department
                && a.project_code == b.project_code
                && ((!a.mobile.is_empty() && a.mobile == b.mobile)
                    || (!a.email.is_empty() && a.email == b.email))
        });
        if let Some(earlier) = earlier {
            bad.push(BadRow {
                line: row.line,
                reason: format!(
                    "repeats line {} (the same {} with the same number or address); keep one",
                    earlier.line,
                    a.role.chinese()
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(
        role: Role,
        department: &str,
        code: &str,
        name: &str,
        mobile: &str,
        email: &str,
    ) -> Contact {
        Contact {
            role,
            department: department.into(),
            project_code: code.into(),
            name: name.into(),
            mobile: mobile.into(),
            email: email.into(),
        }
    }

    fn rows(text: &str) -> Vec<BadRow> {
        match parse(text.as_bytes()) {
            Err(ContactsFileError::Rows(rows)) => rows,
            other => panic!("expected bad rows, got {other:?}"),
        }
    }

    #[test]
    fn role_words_in_chinese_and_english() {
        for (word, role) in [
            ("经办人", Some(Role::Handler)),
            (" Handler ", Some(Role::Handler)),
            ("负责人", Some(Role::Head)),
            ("HEAD", Some(Role::Head)),
            ("督办办公室", Some(Role::Office)),
            ("督办", Some(Role::Office)),
            ("office", Some(Role::Office)),
            ("项目管家", Some(Role::Steward)),
            ("服务专员", Some(Role::Steward)),
            ("steward", Some(Role::Steward)),
            ("领导", Some(Role::Leader)),
            ("leader", Some(Role::Leader)),
            ("局长", None),
            ("", None),
        ] {
            assert_eq!(role_of(word), role, "{word:?}");
        }
    }

    #[test]
    fn headers_in_chinese_english_and_variants() {
        for (header, row) in [
            (
                "角色,部门,项目代码,姓名,手机,邮箱",
                "经办人,市水利局,,张三,13812345678,zs@example.cn",
            ),
            (
                "role,department,project_code,name,mobile,email",
                "handler,市水利局,,张三,13812345678,zs@example.cn",
            ),
            (
                "Role, Department , Project Code,Name,Mobile,E-mail",
                "handler,市水利局,,张三,13812345678,zs@example.cn",
            ),
            (
                "序号,类型,单位,项目编码,姓名,手机号码（必填）,电子邮箱",
                "1,经办人,市水利局,,张三,138 1234 5678,zs@example.cn",
            ),
            (
                "人员类型,所属部门,联系人,联系电话,电子邮件,备注",
                "经办,市水利局,张三,+86 13812345678,zs@example.cn,",
            ),
        ] {
            let file = parse(format!("{header}\n{row}\n").as_bytes())
                .unwrap_or_else(|e| panic!("{header}: {e}"));
            assert_eq!(
                file.rows,
                vec![ContactRow {
                    line: 2,
                    contact: contact(
                        Role::Handler,
                        "市水利局",
                        "",
                        "张三",
                        "13812345678",
                        "zs@example.cn"
                    ),
                }],
                "{header}"
            );
        }
        let file = parse(
            "序号,角色,部门,姓名,手机,备注\n1,经办人,市水利局,张三,13812345678,\n".as_bytes(),
        )
        .unwrap();
        assert_eq!(file.ignored_columns, ["序号", "备注"]);
    }

    #[test]
    fn a_header_row_without_the_needed_columns_is_refused() {
        for (text, part) in [
            ("", "the file is empty"),
            ("部门,姓名,手机\n", "no column 角色 (role)"),
            ("角色,部门,手机\n", "no column 姓名 (name)"),
            (
                "角色,部门,姓名\n",
                "neither a 手机 (mobile) nor an 邮箱 (email) column",
            ),
            (
                "角色,姓名,手机,手机号码\n",
                "columns 3 (\"手机\") and 4 (\"手机号码\") both name 手机",
            ),
        ] {
            match parse(text.as_bytes()) {
                Err(ContactsFileError::Header { line: 1, reason }) => {
                    assert!(reason.contains(part), "{text:?}: {reason}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        assert_eq!(
            parse("角色,姓名,手机\n,,\n".as_bytes()),
            Err(ContactsFileError::Empty)
        );
    }

    #[test]
    fn utf8_with_bom_and_crlf_lines() {
        let text = "\u{feff}角色,部门,姓名,手机\r\n负责人,市气象局,李四,13912345678\r\n\r\n督办,,王主任,13712345678\r\n";
        let file = parse(text.as_bytes()).unwrap();
        assert_eq!(file.encoding, "UTF-8");
        assert_eq!(
            file.rows
                .iter()
                .map(|r| (r.line, r.contact.role))
                .collect::<Vec<_>>(),
            [(2, Role::Head), (4, Role::Office)],
            "the BOM is no part of the first header, and the blank line 3 is passed over"
        );
    }

    #[test]
    fn gbk_bytes_are_read() {
        let text = "角色,部门,项目代码,姓名,手机号码,电子邮箱\r\n经办人,市自然资源和规划局,,张三,13812345678,\r\n项目管家,,2611-370102-04-01-123456,赵六,,zhaoliu@example.cn\r\n";
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
        assert!(!unmappable);
        assert!(
            std::str::from_utf8(&bytes).is_err(),
            "the test's bytes are not UTF-8"
        );
        let file = parse(&bytes).unwrap();
        assert_eq!(file.encoding, "GBK");
        assert_eq!(
            file.rows
                .iter()
                .map(|r| r.contact.clone())
                .collect::<Vec<_>>(),
            [
                contact(
                    Role::Handler,
                    "市自然资源和规划局",
                    "",
                    "张三",
                    "13812345678",
                    ""
                ),
                contact(
                    Role::Steward,
                    "",
                    "2611-370102-04-01-123456",
                    "赵六",
                    "",
                    "zhaoliu@example.cn"
                ),
            ]
        );
    }

    #[test]
    fn bytes_that_are_no_text_are_refused() {
        assert!(matches!(
            parse(b"\xFF\xFEr\x00o\x00"),
            Err(ContactsFileError::Encoding { hint }) if hint.contains("UTF-16")
        ));
        // 0x81 0x20 is no GBK pair, and no UTF-8 either.
        assert!(matches!(
            parse(b"role,name\n\x81\x20,x\n"),
            Err(ContactsFileError::Encoding { .. })
        ));
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line_and_nothing_is_kept() {
        let text = "\
角色,部门,项目代码,姓名,手机,邮箱
经办人,市水利局,,张三,13812345678,
局长,市水利局,,李四,13912345678,
负责人,,,王五,13712345678,
经办人,市水利局,,赵六,,

项目管家,,,钱七,13612345678,
督办,,,孙八,1381234567,sun@
经办人,市水利局,,张三,138-1234-5678,
,,,,,
领导,,,周九,13512345678,zhou@example.cn,多余
\"经办人,市气象局\",,吴十,13412345678,
";
        let bad = rows(text);
        let lines: Vec<u64> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, [3, 4, 5, 7, 8, 9, 11, 12], "{bad:#?}");
        let reason = |line: u64| &bad.iter().find(|b| b.line == line).unwrap().reason;
        for (line, part) in [
            (3, "unknown role \"局长\""),
            (4, "a 负责人 needs the department"),
            (5, "neither a mobile number (手机) nor an email (邮箱)"),
            (7, "a 项目管家 (steward) needs the code of the project"),
            (8, "mobile 138****4567 has 10 digits"),
            (8, "email s***@ is not an address"),
            (9, "repeats line 2"),
            (11, "the row has 7 cells and the header row 6"),
            (12, "unknown role \"经办人,市气象局\""),
        ] {
            assert!(reason(line).contains(part), "line {line}: {}", reason(line));
        }
        let message = ContactsFileError::Rows(bad).to_string();
        assert!(
            message.starts_with("8 bad rows (nothing was imported"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_column_is_named_in_the_reason() {
        let bad = rows("角色,姓名,手机\n经办人,张三,13812345678\n项目管家,赵六,13612345678\n");
        assert_eq!(bad.len(), 2);
        assert!(
            bad[0]
                .reason
                .contains("the file has no 部门 (department) column"),
            "{}",
            bad[0].reason
        );
        assert!(
            bad[1].reason.contains("no 项目代码 (project_code) column"),
            "{}",
            bad[1].reason
        );
    }

    #[test]
    fn a_broken_quote_is_reported_at_its_line() {
        let bad = rows(
            "角色,部门,姓名,手机\n经办人,市水利局,张三,13812345678\n经办人,\"市气象局,李四,13912345678\n",
        );
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert_eq!(bad[0].line, 3, "{bad:?}");
    }

    #[test]
    fn control_characters_and_overlong_cells_are_refused() {
        let long = "局".repeat(201);
        let bad = rows(&format!(
            "角色,部门,姓名,手机\n经办人,市水利局,张\u{0}三,13812345678\n经办人,{long},李四,13912345678\n经办人,市水利局,\"王\t五\",13712345678\n"
        ));
        let found: Vec<(u64, bool)> = bad
            .iter()
            .map(|b| {
                (
                    b.line,
                    b.reason.contains("control character")
                        || b.reason.contains("over 200 characters"),
                )
            })
            .collect();
        assert_eq!(found, [(2, true), (3, true), (4, true)], "{bad:#?}");
    }

    #[test]
    fn cells_in_quotes_and_trailing_empty_cells_are_fine() {
        let file = parse(
            "角色,部门,姓名,手机\n经办人,\"市住房和城乡建设局\",\"张 三\",13812345678,,\n"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(file.rows[0].contact.department, "市住房和城乡建设局");
        assert_eq!(file.rows[0].contact.name, "张 三");
    }
}
