//! Secrets (tokens, passwords, signing keys) come from the environment, never from the
//! config file: a key that needs one is written `<name>_env = "DUBAN_…"` and names the
//! variable. The value is resolved at start-up, so a missing variable stops start-up with the
//! file, line and key, and it never appears in `Debug` output or logs.

use std::fmt;

use toml::Spanned;

use super::toml_file::{FileError, TomlFile};

/// A secret value read from a `DUBAN_…` environment variable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    variable: String,
    value: String,
}

impl Secret {
    /// Reads the variable that `name` (a config value) names.
    pub fn from_env(file: &TomlFile, name: &Spanned<String>) -> Result<Self, FileError> {
        Self::lookup(file, name, |variable| {
            std::env::var(variable)
                .ok()
                .or_else(|| file.env_fallback(variable))
        })
    }

    fn lookup(
        file: &TomlFile,
        name: &Spanned<String>,
        read: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, FileError> {
        let variable = name.get_ref();
        if !variable.starts_with("DUBAN_") {
            return Err(file.error_at(
                name.span(),
                format!(
                    "{variable:?} is not an environment variable name starting with DUBAN_; \
                     write the variable's name here and put the secret in the environment"
                ),
            ));
        }
        match read(variable) {
            Some(value) if !value.is_empty() => Ok(Self { variable: variable.clone(), value }),
            _ if file.secrets_unused => Ok(Self { variable: variable.clone(), value: String::new() }),
            _ => Err(file.error_at(
                name.span(),
                format!("the environment variable {variable} is not set (or empty); export it before starting duban"),
            )),
        }
    }

    /// One secret per comma-separated part (a list of tokens in one variable).
    pub fn split(&self, separator: char) -> Vec<Secret> {
        self.value
            .split(separator)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|value| Self {
                variable: self.variable.clone(),
                value: value.to_owned(),
            })
            .collect()
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(${} = ***)", self.variable)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[derive(serde::Deserialize)]
    struct Sample {
        token_env: Spanned<String>,
    }

    fn resolve(text: &str, env: Option<&str>) -> Result<Secret, FileError> {
        let file = TomlFile::from_text(Path::new("duban.toml"), text.to_owned());
        let sample: Sample = file.parse().unwrap();
        Secret::lookup(&file, &sample.token_env, |_| env.map(str::to_owned))
    }

    #[test]
    fn a_set_variable_resolves_and_stays_hidden() {
        let secret = resolve("token_env = \"DUBAN_FEED_TOKEN\"\n", Some("s3cret")).unwrap();
        assert_eq!(secret.expose(), "s3cret");
        assert!(!format!("{secret:?}").contains("s3cret"));
    }

    #[test]
    fn a_missing_variable_or_a_literal_secret_is_refused_with_its_place() {
        let err = resolve("\ntoken_env = \"DUBAN_FEED_TOKEN\"\n", None).unwrap_err();
        assert_eq!((err.line, err.key.as_deref()), (Some(2), Some("token_env")));
        assert!(err.message.contains("DUBAN_FEED_TOKEN is not set"));
        let err = resolve("token_env = \"hunter2\"\n", Some("x")).unwrap_err();
        assert!(err.message.contains("starting with DUBAN_"));
    }
}
