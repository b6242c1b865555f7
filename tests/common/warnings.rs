//! Warnings for the tests: a `[warnings]` table whose senders only record (`log`), SMS and
//! robots held by the quiet hours at the suite's 10:00, and contacts for departments.

use duban::warnings::contacts::{Contact, Role};

use super::TestApp;

/// SMS and robots only from 10:30 (the suite's clock stands at 10:00, so they wait), email
/// at any time; every sender records instead of sending.
pub const WARNINGS: &str = r#"
[warnings]
quiet_hours = "10:30-20:00"
sms = "texts"
email = "mail"

[[warnings.senders]]
name = "texts"
kind = "log"
channel = "sms"

[[warnings.senders]]
name = "mail"
kind = "log"
channel = "email"

[[warnings.senders]]
name = "group"
kind = "log"
channel = "robot"
"#;

pub const LAND: &str = "市自然资源和规划局";
pub const HOUSING: &str = "市住房和城乡建设局";

/// The contacts, stored as `duban contacts import` stores them: a handler and a head for `LAND`, `HOUSING` and each of `more` departments, the office
/// and a leader.
pub async fn insert_contacts(app: &TestApp, more: &[String]) {
    let mut rows: Vec<(String, String, String, String, String)> = [
        (
            "handler",
            LAND,
            "张三",
            "13812341234",
            "zhang.san@zrj.example.cn",
        ),
        ("head", LAND, "李四", "13900001111", "li.si@zrj.example.cn"),
        (
            "handler",
            HOUSING,
            "王五",
            "13700002222",
            "wang.wu@zjj.example.cn",
        ),
        (
            "head",
            HOUSING,
            "赵六",
            "13500004444",
            "zhao.liu@zjj.example.cn",
        ),
        (
            "office",
            "",
            "周七",
            "13600003333",
            "zhou.qi@dbb.example.cn",
        ),
        ("leader", "", "吴八", "13300005555", "wu.ba@gov.example.cn"),
    ]
    .iter()
    .map(|(r, d, n, m, e)| {
        (
            r.to_string(),
            d.to_string(),
            n.to_string(),
            m.to_string(),
            e.to_string(),
        )
    })
    .collect();
    for (i, department) in more
        .iter()
        .filter(|d| *d != LAND && *d != HOUSING)
        .enumerate()
    {
        for (j, role) in ["handler", "head"].iter().enumerate() {
            rows.push((
                role.to_string(),
                department.clone(),
                format!("{department}{role}"),
                format!("137{:04}{:04}", i, j),
                format!("{role}{i}@dept.example.cn"),
            ));
        }
    }
    let contacts: Vec<Contact> = rows
        .into_iter()
        .map(|(role, department, name, mobile, email)| Contact {
            role: Role::parse(&role).unwrap(),
            department,
            project_code: String::new(),
            name,
            mobile,
            email,
        })
        .collect();
    app.running
        .shared
        .store
        .replace_contacts(&contacts)
        .await
        .unwrap();
}
