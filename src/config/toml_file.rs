//! Reading one TOML file into a typed value, with errors that point at the file, the line
//! and the dotted key, so an operator can go straight to the mistake. Shared by the main
//! config and the holiday files.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};

/// A problem in a TOML file: where it is and what is expected instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FileError {
    /// The file as the operator named it.
    pub file: PathBuf,
    /// 1-based line, when the problem is at a place in the file.
    pub line: Option<usize>,
    /// Dotted key (`grading.overrides[0].blue_max_share`), when one is concerned.
    pub key: Option<String>,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The text of one TOML file, kept so that later validation can still say where a value is.
pub struct TomlFile {
    path: PathBuf,
    text: String,
    /// Values for `DUBAN_…` variables that are not set (the demo's generated tokens).
    env_fallback: std::collections::BTreeMap<String, String>,
    /// For commands that never use a secret (grading a file, printing the calendar): an
    /// unset variable is then an empty secret instead of an error.
    pub secrets_unused: bool,
}

impl TomlFile {
    pub fn read(path: &Path) -> Result<Self, FileError> {
        let text = std::fs::read_to_string(path).map_err(|e| FileError {
            file: path.to_path_buf(),
            line: None,
            key: None,
            message: format!("cannot read the file: {e}"),
        })?;
        Ok(Self::from_text(path, text))
    }

    pub fn from_text(path: &Path, text: String) -> Self {
        Self {
            path: path.to_path_buf(),
            text,
            env_fallback: Default::default(),
            secrets_unused: false,
        }
    }

    /// Supplies values for environment variables the environment does not set.
    pub fn with_env_fallback(mut self, values: impl IntoIterator<Item = (String, String)>) -> Self {
        self.env_fallback.extend(values);
        self
    }

    /// Marks the file as read by a command that uses no secret.
    pub fn with_secrets_unused(mut self) -> Self {
        self.secrets_unused = true;
        self
    }

    pub fn env_fallback(&self, variable: &str) -> Option<String> {
        self.env_fallback.get(variable).cloned()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Deserializes the whole file; a syntax or type error names its line and key.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, FileError> {
        toml::from_str(&self.text).map_err(|e| {
            let span = e.span();
            let message = tidy_message(e.message());
            match span {
                Some(span) => self.error_at(span, message),
                None => self.error(None, message),
            }
        })
    }

    /// The 1-based line where `span` (from a `toml::Spanned`) starts.
    pub fn line(&self, span: Range<usize>) -> usize {
        line_of(&self.text, span.start)
    }

    /// An error about the value at `span` (from a `toml::Spanned`).
    pub fn error_at(&self, span: Range<usize>, message: impl Into<String>) -> FileError {
        FileError {
            file: self.path.clone(),
            line: Some(self.line(span.clone())),
            key: key_path_at(&self.text, span.start),
            message: message.into(),
        }
    }

    /// An error about the file as a whole, or about a key that is absent.
    pub fn error(&self, key: Option<&str>, message: impl Into<String>) -> FileError {
        FileError {
            file: self.path.clone(),
            line: None,
            key: key.map(str::to_owned),
            message: message.into(),
        }
    }
}

/// serde's messages end with "\n" and sometimes carry the whole expected list on one line;
/// keep them, but on one line.
fn tidy_message(message: &str) -> String {
    message.trim().replace('\n', "; ")
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The dotted path of the innermost key whose key or value covers `offset`.
fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let table = DeTable::parse(text).ok()?;
    let mut path = String::new();
    find_in_table(table.get_ref(), offset, &mut path).then_some(path)
}

fn find_in_table(table: &DeTable<'_>, offset: usize, path: &mut String) -> bool {
    for (key, value) in table.iter() {
        let covers_key = key.span().contains(&offset);
        let covers_value = value.span().contains(&offset) || value.span().end == offset;
        if !(covers_key || covers_value) {
            continue;
        }
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key.get_ref());
        if covers_value {
            find_in_value(value.get_ref(), offset, path);
        }
        return true;
    }
    // Array-of-tables headers (`[[x]]`) give the array a span that may not cover the body;
    // look inside every value for a match.
    for (key, value) in table.iter() {
        let mut inner = String::new();
        if find_in_value(value.get_ref(), offset, &mut inner) {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key.get_ref());
            path.push_str(&inner);
            return true;
        }
    }
    false
}

fn find_in_value(value: &DeValue<'_>, offset: usize, path: &mut String) -> bool {
    match value {
        DeValue::Table(table) => {
            let mut inner = String::new();
            if find_in_table(table, offset, &mut inner) {
                path.push('.');
                path.push_str(&inner);
                return true;
            }
            false
        }
        DeValue::Array(array) => {
            for (i, element) in array.iter().enumerate() {
                let mut inner = String::new();
                let inside = find_in_value(element.get_ref(), offset, &mut inner);
                if inside || element.span().contains(&offset) {
                    path.push_str(&format!("[{i}]"));
                    path.push_str(&inner);
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        #[serde(default)]
        rules: Vec<Rule>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Rule {
        share: f64,
    }

    fn parse(text: &str) -> Result<Sample, FileError> {
        TomlFile::from_text(Path::new("x.toml"), text.to_owned()).parse()
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let err = parse("name = \"a\"\n\n[[rules]]\nshare = 0.5\n\n[[rules]]\nshaer = 0.5\n")
            .unwrap_err();
        assert_eq!(err.line, Some(7));
        assert_eq!(err.key.as_deref(), Some("rules[1].shaer"));
        assert!(
            err.message.contains("unknown field `shaer`"),
            "{}",
            err.message
        );
        assert!(
            err.to_string()
                .starts_with("x.toml:7: key `rules[1].shaer`: ")
        );
    }

    #[test]
    fn wrong_type_names_line_and_key() {
        let err = parse("name = \"a\"\n[[rules]]\nshare = \"half\"\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert_eq!(err.key.as_deref(), Some("rules[0].share"));
    }

    #[test]
    fn syntax_error_names_line() {
        let err = parse("name = \"a\"\nrules = [\n").unwrap_err();
        assert!(err.line.is_some());
    }

    #[test]
    fn missing_file_says_so() {
        let err = TomlFile::read(Path::new("/nonexistent/duban.toml"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("cannot read the file"));
    }
}
