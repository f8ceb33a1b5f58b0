//! Secrets in the config: never their value, only where to find it — an environment
//! variable's name or a file's path — so the config can be committed, printed and shared.
//! A [`Secret`] shows where it comes from; the value it resolves to ([`SecretValue`])
//! prints as `‹redacted›` everywhere (Debug included), so no log line, error or `config
//! check` can leak it.

use std::fmt;
use std::path::PathBuf;

/// Where a secret is read from.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// An environment variable's name.
    Env(String),
    /// A file whose whole content (less a trailing newline) is the secret.
    File(PathBuf),
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Env(name) => write!(f, "env ${name}"),
            Secret::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({self})")
    }
}

impl Secret {
    /// Reads the secret now; why not, in words that never include a value.
    pub fn resolve(&self) -> Result<SecretValue, String> {
        let value = match self {
            Secret::Env(name) => std::env::var(name).map_err(|_| format!("${name} is not set"))?,
            Secret::File(path) => std::fs::read_to_string(path)
                .map_err(|err| format!("cannot read {}: {err}", path.display()))?,
        };
        let value = value.trim_end_matches(['\n', '\r']).to_string();
        if value.trim().is_empty() {
            return Err(format!("{self} is empty"));
        }
        Ok(SecretValue(value))
    }
}

/// A secret's value: handed to the backend that sends it, printed by nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// The value itself, for the request that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("‹redacted›")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_shows_where_it_comes_from_and_its_value_never_prints() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routing-key");
        std::fs::write(&path, "R0UT1NGKEY\n").unwrap();
        let secret = Secret::File(path.clone());
        assert_eq!(secret.to_string(), format!("file {}", path.display()));
        let value = secret.resolve().unwrap();
        assert_eq!(value.expose(), "R0UT1NGKEY", "the trailing newline is not part of it");
        assert_eq!(format!("{value:?}"), "‹redacted›");
        assert!(!format!("{secret:?} {:?}", secret.resolve()).contains("R0UT1NGKEY"));
    }

    #[test]
    fn a_missing_or_empty_secret_says_where_it_looked() {
        let unset = Secret::Env("FLEETDECK_TEST_SURELY_UNSET_VARIABLE".into());
        assert_eq!(unset.resolve().unwrap_err(), "$FLEETDECK_TEST_SURELY_UNSET_VARIABLE is not set");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        assert!(Secret::File(empty).resolve().unwrap_err().ends_with("is empty"));
        let missing = Secret::File(dir.path().join("nope"));
        assert!(missing.resolve().unwrap_err().starts_with("cannot read"));
    }
}
