//! Contacts (联系人): each department's handlers (经办人) and head (负责人), the supervision
//! office (督办办公室), the key projects' stewards (项目管家), and the rungs of the
//! escalation ladder; and the masking of their numbers and addresses wherever they are
//! shown to anyone but the office.

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_addresses_are_masked() {
        assert_eq!(mask("13812341234"), "138****1234");
        assert_eq!(mask("zhang.san@jsj.example.cn"), "z***@jsj.example.cn");
        assert_eq!(mask("12345"), "*****");
    }
}
