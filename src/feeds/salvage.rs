//! Finding the records of a page that is not valid JSON as a whole: one `NaN`, one stray
//! byte or a few GBK bytes in one record must not lose the page's other records. The page
//! is walked by its brackets and strings alone, what lies between is not checked, so that
//! the list of records at a dotted path of object keys, and each element of it, can be cut
//! out and parsed on its own (by serde_json, as ever). Only a list whose closing bracket is
//! found is cut up: a page cut off half-way is not taken for a short one.

use std::ops::Range;

/// Where the value at `path` (dotted object keys; empty for the whole page) is in `text`.
pub fn value_at(text: &str, path: &str) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let start = skip_space(bytes, 0);
    let mut value = start..value_end(bytes, start)?;
    for key in path.split('.').filter(|k| !k.is_empty()) {
        value = member(text, value.start, key)?;
    }
    Some(value)
}

/// Where each element of the array at `list` is (trimmed; empty ones, as a trailing comma
/// leaves, are skipped), if the array is closed. An element that is not one JSON value (a
/// record with text after it) runs to the next comma or bracket of its level.
pub fn elements(text: &str, list: Range<usize>) -> Option<Vec<Range<usize>>> {
    let bytes = text.as_bytes();
    if bytes.get(list.start) != Some(&b'[') {
        return None;
    }
    let mut found = Vec::new();
    let mut at = list.start + 1;
    let mut start = at;
    let mut depth = 0usize;
    while at < list.end {
        match bytes[at] {
            b'"' => {
                at = string_end(bytes, at)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth > 0 => depth -= 1,
            b',' | b']' if depth == 0 => {
                let element = trim(bytes, start..at);
                if !element.is_empty() {
                    found.push(element);
                }
                if bytes[at] == b']' {
                    return Some(found);
                }
                start = at + 1;
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// The value of member `key` of the object starting at `start`.
fn member(text: &str, start: usize, key: &str) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    if bytes.get(start) != Some(&b'{') {
        return None;
    }
    let mut at = start + 1;
    loop {
        at = skip_space(bytes, at);
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let name_end = string_end(bytes, at)?;
        let name: Option<String> = serde_json::from_str(&text[at..name_end]).ok();
        at = skip_space(bytes, name_end);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        let value_start = skip_space(bytes, at + 1);
        let value = value_start..value_end(bytes, value_start)?;
        if name.as_deref() == Some(key) {
            return Some(value);
        }
        at = skip_space(bytes, value.end);
        match bytes.get(at) {
            Some(b',') => at += 1,
            _ => return None,
        }
    }
}

/// The end of the value starting at `start`: past its closing bracket or quote, or, for
/// anything else (a number, `true`, `NaN`), at the next delimiter.
fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    match bytes.get(start)? {
        b'"' => string_end(bytes, start),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut at = start;
            while at < bytes.len() {
                match bytes[at] {
                    b'"' => {
                        at = string_end(bytes, at)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(at + 1);
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
            None
        }
        _ => Some(
            (start..bytes.len())
                .find(|&i| matches!(bytes[i], b',' | b'}' | b']') || bytes[i].is_ascii_whitespace())
                .unwrap_or(bytes.len()),
        ),
    }
}

/// Past the closing quote of the string whose opening quote is at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut at = start + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return Some(at + 1),
            _ => at += 1,
        }
    }
    None
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

fn trim(bytes: &[u8], range: Range<usize>) -> Range<usize> {
    let start = skip_space(bytes, range.start).min(range.end);
    let end = (start..range.end)
        .rev()
        .find(|&i| !bytes[i].is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut<'a>(text: &'a str, path: &str) -> Option<Vec<&'a str>> {
        let list = value_at(text, path)?;
        Some(
            elements(text, list)?
                .into_iter()
                .map(|r| &text[r])
                .collect(),
        )
    }

    #[test]
    fn the_elements_of_a_broken_list_are_cut_out() {
        let text = r#"{"total": NaN, "data": {"note": "a ] and a \" in a string", "list": [
            {"id": 1, "x": [1, 2]},
            {"id": 2, "x": NaN},
            {"id": 3} trailing,
            "a string, with a comma",
        ]}, "next": "c2"} and then <html>"#;
        assert_eq!(
            cut(text, "data.list").unwrap(),
            [
                r#"{"id": 1, "x": [1, 2]}"#,
                r#"{"id": 2, "x": NaN}"#,
                r#"{"id": 3} trailing"#,
                r#""a string, with a comma""#,
            ]
        );
        let next = value_at(text, "next").unwrap();
        assert_eq!(&text[next], r#""c2""#);
        let top = value_at(text, "").unwrap();
        assert_eq!(&text[top.end..], " and then <html>");
        // A top-level list; a key escaped in the page is the same key.
        assert_eq!(
            cut(r#"[1, x, {"a": "}"}]"#, "").unwrap(),
            ["1", "x", r#"{"a": "}"}"#]
        );
        assert_eq!(cut(r#"{"it\u0065ms": [1]}"#, "items").unwrap(), ["1"]);
    }

    #[test]
    fn a_page_cut_off_or_without_the_list_is_not_salvaged() {
        assert_eq!(cut(r#"{"items": [{"id": 1}, {"id": 2"#, "items"), None);
        assert_eq!(cut(r#"{"items": [{"id": 1}, {"id": "2]"#, "items"), None);
        assert_eq!(cut(r#"{"data": [1]}"#, "items"), None);
        assert_eq!(cut(r#"{"items": {"id": 1}}"#, "items"), None);
        assert_eq!(cut("<html>502 Bad Gateway</html>", "items"), None);
        assert_eq!(cut("", ""), None);
    }
}
