//! What a contact is reached at: a mainland mobile number, normalised to its 11 digits, and
//! an email address a mail server would take. Reasons for a bad one show it masked: a
//! file's errors can end up in a log.

use super::mask;

/// A mainland mobile number as 11 digits: spaces, dashes, brackets and a `+86`, `0086` or
/// `86` in front taken off, full-width digits (typed with a Chinese input method) made
/// ASCII. The reason for a bad one shows it masked: a file's errors can end up in a log.
pub(super) fn normalise_mobile(cell: &str) -> Result<String, String> {
    let compact: String = cell
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            '＋' => '+',
            other => other,
        })
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '－' | '(' | ')' | '（' | '）'))
        .collect();
    if compact.contains(['E', 'e']) && compact.contains('.') {
        return Err(format!(
            "mobile {} looks like a number Excel wrote in scientific notation; format the \
             column as text (文本) and type the numbers again",
            mask(&compact)
        ));
    }
    let digits = compact
        .strip_prefix("+86")
        .or_else(|| compact.strip_prefix("0086"))
        .or_else(|| compact.strip_prefix("86").filter(|rest| rest.len() == 11))
        .unwrap_or(&compact);
    let bytes = digits.as_bytes();
    let valid = bytes.len() == 11
        && bytes.iter().all(u8::is_ascii_digit)
        && bytes[0] == b'1'
        && (b'3'..=b'9').contains(&bytes[1]);
    if valid {
        return Ok(digits.to_owned());
    }
    let count = digits.chars().filter(char::is_ascii_digit).count();
    let what = if digits.chars().any(|c| !c.is_ascii_digit()) {
        "has characters other than digits".to_owned()
    } else if count != 11 {
        format!("has {count} digits")
    } else {
        "does not start with 13 to 19".to_owned()
    };
    Err(format!(
        "mobile {} {what}: a mainland mobile number is 11 digits starting with 13 to 19 \
         (+86 in front is fine; a landline cannot receive texts)",
        mask(digits)
    ))
}

/// An email address that a mail server would take: one `@`, something before it, a domain
/// of dotted labels after it, no spaces; the domain made lower-case (it is not
/// case-sensitive, the part before the `@` may be).
pub(super) fn check_email(cell: &str) -> Result<String, String> {
    let shown = mask(cell);
    if cell.contains([';', ',', '，', '；', '、']) {
        return Err(format!(
            "email {shown} holds more than one address; give each person one row"
        ));
    }
    if cell.contains('＠') {
        return Err(format!(
            "email {shown} has a full-width ＠; type it again with a half-width @"
        ));
    }
    let bad =
        |why: &str| format!("email {shown} is not an address like zhang.san@example.cn: {why}");
    if cell
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>\"()[]\\".contains(c))
    {
        return Err(bad("it has a space or a bracket"));
    }
    let Some((local, domain)) = cell.split_once('@') else {
        return Err(bad("no @"));
    };
    if domain.contains('@') {
        return Err(bad("more than one @"));
    }
    if local.is_empty() || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(bad("nothing or a stray dot before the @"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let labels_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.chars().count() >= 2);
    if !labels_ok {
        return Err(bad("the part after the @ is not a domain like example.cn"));
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_numbers_are_normalised_or_refused_with_the_reason() {
        for (cell, expected) in [
            ("13812345678", Ok("13812345678")),
            ("138 1234 5678", Ok("13812345678")),
            ("138-1234-5678", Ok("13812345678")),
            ("+86 138 1234 5678", Ok("13812345678")),
            ("+8613812345678", Ok("13812345678")),
            ("8613812345678", Ok("13812345678")),
            ("0086-13812345678", Ok("13812345678")),
            ("(+86) 19912345678", Ok("19912345678")),
            ("１３８１２３４５６７８", Ok("13812345678")),
            ("1381234567", Err("has 10 digits")),
            ("138123456789", Err("has 12 digits")),
            ("12812345678", Err("does not start with 13 to 19")),
            ("0531-88881234", Err("has 12 digits")),
            ("1381234567a", Err("characters other than digits")),
            ("1.38123E+10", Err("scientific notation")),
            ("86138123456", Err("does not start with 13 to 19")),
        ] {
            let got = normalise_mobile(cell);
            match expected {
                Ok(number) => assert_eq!(got.as_deref(), Ok(number), "{cell}"),
                Err(part) => {
                    let reason = got.expect_err(cell);
                    assert!(reason.contains(part), "{cell}: {reason}");
                    assert!(
                        !reason.contains(cell.trim()) || cell.len() < 7,
                        "{cell} masked: {reason}"
                    );
                }
            }
        }
    }

    #[test]
    fn email_addresses_are_checked() {
        for (cell, expected) in [
            (
                "zhang.san@zrzyj.example.cn",
                Ok("zhang.san@zrzyj.example.cn"),
            ),
            (
                "Zhang.San@ZRZYJ.Example.CN",
                Ok("Zhang.San@zrzyj.example.cn"),
            ),
            ("li+warnings@example.cn", Ok("li+warnings@example.cn")),
            ("王五@政务.中国", Ok("王五@政务.中国")),
            ("zhang.san", Err("no @")),
            ("zhang@example", Err("not a domain")),
            ("zhang@example.c", Err("not a domain")),
            ("zhang@@example.cn", Err("more than one @")),
            ("@example.cn", Err("before the @")),
            ("zhang.@example.cn", Err("before the @")),
            ("zhang@-example.cn", Err("not a domain")),
            ("zhang@example..cn", Err("not a domain")),
            ("zhang san@example.cn", Err("a space")),
            ("a@example.cn;b@example.cn", Err("more than one address")),
            ("zhang＠example.cn", Err("full-width")),
        ] {
            let got = check_email(cell);
            match expected {
                Ok(address) => assert_eq!(got.as_deref(), Ok(address), "{cell}"),
                Err(part) => {
                    let reason = got.expect_err(cell);
                    assert!(reason.contains(part), "{cell}: {reason}");
                }
            }
        }
    }
}
