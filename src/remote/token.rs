//! The bearer tokens of the daemon's TCP listener, and who each one speaks for.
//!
//! # The token file (`--token-file FILE`)
//!
//! One token a line; blank lines and lines starting with `#` are ignored:
//!
//! ```text
//! # TOKEN            [NAME …]    [<EMAIL>]
//! 9f6c1e…            Ana Ops     <ana@example.com>
//! 3b0d7a…            bob
//! 77e2c4…
//! ```
//!
//! A token is one word (no spaces). A token with a name is **named**: every command sent
//! with it is recorded as that operator, whatever the client claims (the claim is kept
//! beside it in the audit line when it differs). A token without a name is
//! **anonymous**: the operator is only what the client claims, and is recorded as claimed
//! ([`OperatorAuth::Claimed`], shown "name (claimed)"), with which token (its line, never
//! its text) and the client's address. A file with one bare token — the format before
//! names existed — is one anonymous token. `$FLEETDECK_TOKEN` is one anonymous token too.
//!
//! A client (`--attach tcp://…`, `ctl --socket tcp://…`) presents the first token of its
//! file, so a one-line named file works on both sides.
//!
//! Tokens are secrets: nothing here prints one (errors name the line, [`Tokens`]'
//! `Debug` hides them), and a presented token is compared with every known one in a
//! time that depends neither on where it differs nor on which one matches.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::protocol::{Operator, OperatorAuth};

/// A token's text; never shown.
#[derive(Clone, PartialEq, Eq)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// One accepted token.
#[derive(Clone, Debug)]
struct Entry {
    secret: Secret,
    /// Who the token speaks for; None for an anonymous token.
    operator: Option<Operator>,
    /// Which token it is, in words that reveal nothing of it: "line 3 of FILE".
    label: String,
}

/// The tokens a TCP listener accepts (at least one).
#[derive(Clone, Debug)]
pub struct Tokens {
    entries: Vec<Entry>,
}

/// The token file cannot be used. Messages name the file and line, never a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: the token file has no token", path.display())]
    Empty { path: PathBuf },
    #[error("{}:{line}: {message} (expected `TOKEN [NAME] [<EMAIL>]`)", path.display())]
    BadLine { path: PathBuf, line: usize, message: String },
    #[error("{}:{line}: the same token as line {first}: each token must be different", path.display())]
    Duplicate { path: PathBuf, line: usize, first: usize },
}

/// Who a connection was admitted as: what its commands are recorded with.
#[derive(Clone, Debug, PartialEq)]
pub enum Caller {
    /// The owner-only Unix socket: the peer's uid is the socket owner's (checked by the
    /// kernel), so its claim is that user's own word.
    Owner { uid: u32 },
    /// A TCP client with a token, from `peer`.
    Token { label: String, peer: String, operator: Option<Operator> },
}

impl Caller {
    /// The operator a command of this caller is recorded as, from the one it claims.
    /// A named token replaces the claim; any `auth` the client sent is replaced.
    pub fn identify(&self, claimed: Operator) -> Operator {
        match self {
            Caller::Owner { uid } => Operator { auth: Some(OperatorAuth::Socket { uid: *uid }), ..claimed },
            Caller::Token { label, peer, operator: Some(named) } => {
                let differs = claimed.name != named.name;
                Operator {
                    name: named.name.clone(),
                    email: named.email.clone(),
                    auth: Some(OperatorAuth::Token {
                        token: label.clone(),
                        peer: peer.clone(),
                        claimed: differs.then_some(claimed.name),
                    }),
                }
            }
            Caller::Token { label, peer, operator: None } => Operator {
                auth: Some(OperatorAuth::Claimed { token: label.clone(), peer: peer.clone() }),
                ..claimed
            },
        }
    }
}

impl Tokens {
    /// One anonymous token (`$FLEETDECK_TOKEN`, or a test's).
    pub fn anonymous(token: &str, label: &str) -> Tokens {
        Tokens {
            entries: vec![Entry {
                secret: Secret(token.to_string()),
                operator: None,
                label: label.to_string(),
            }],
        }
    }

    /// Reads a token file (format in the [module doc](self)).
    pub fn read(path: &Path) -> Result<Tokens, TokenFileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| TokenFileError::Io { path: path.to_path_buf(), source })?;
        Tokens::parse(&text, path)
    }

    /// Parses a token file's text; `path` names it in labels and errors.
    pub fn parse(text: &str, path: &Path) -> Result<Tokens, TokenFileError> {
        let bad = |line: usize, message: &str| TokenFileError::BadLine {
            path: path.to_path_buf(),
            line,
            message: message.to_string(),
        };
        let mut entries: Vec<(usize, Entry)> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words: Vec<&str> = line.split_whitespace().collect();
            let secret = words.remove(0);
            let email = match words.last() {
                Some(last) if last.starts_with('<') => {
                    let email = last
                        .strip_prefix('<')
                        .and_then(|e| e.strip_suffix('>'))
                        .filter(|e| !e.is_empty() && !e.contains(['<', '>']))
                        .ok_or_else(|| bad(number, "an email is written <name@example.com>"))?;
                    words.pop();
                    Some(email.to_string())
                }
                _ => None,
            };
            if words.iter().any(|w| w.contains(['<', '>'])) {
                return Err(bad(number, "the email comes last, written <name@example.com>"));
            }
            let name = words.join(" ");
            let operator = match (name.is_empty(), email) {
                (true, None) => None,
                (true, Some(_)) => return Err(bad(number, "an email needs a name before it")),
                (false, email) => Some(Operator { name, email, auth: None }),
            };
            if let Some((first, _)) = entries.iter().find(|(_, e)| e.secret.0 == secret) {
                return Err(TokenFileError::Duplicate {
                    path: path.to_path_buf(),
                    line: number,
                    first: *first,
                });
            }
            let label = format!("line {number} of {}", path.display());
            entries.push((number, Entry { secret: Secret(secret.to_string()), operator, label }));
        }
        if entries.is_empty() {
            return Err(TokenFileError::Empty { path: path.to_path_buf() });
        }
        Ok(Tokens { entries: entries.into_iter().map(|(_, e)| e).collect() })
    }

    /// The token a client presents: the first one.
    pub fn first(&self) -> &str {
        &self.entries[0].secret.0
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether any token names an operator (the daemon says so at start).
    pub fn named(&self) -> usize {
        self.entries.iter().filter(|e| e.operator.is_some()).count()
    }

    /// Who `presented` speaks for, if it is one of the tokens: compared with every token,
    /// each in constant time, so neither the time nor the work tells which one matched.
    pub fn admit(&self, presented: &str, peer: String) -> Option<Caller> {
        let mut found = None;
        for entry in &self.entries {
            let equal = constant_time_eq(entry.secret.0.as_bytes(), presented.as_bytes());
            if equal && found.is_none() {
                found = Some(entry);
            }
        }
        found.map(|e| Caller::Token { label: e.label.clone(), peer, operator: e.operator.clone() })
    }
}

/// Equal bytes, compared in a time that does not depend on where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Tokens, TokenFileError> {
        Tokens::parse(text, Path::new("/etc/fleetdeck/tokens"))
    }

    fn operator(name: &str) -> Operator {
        Operator { name: name.into(), email: None, auth: None }
    }

    #[test]
    fn a_file_names_each_tokens_operator_or_none() {
        let tokens = parse(
            "# on-call tokens\n\ns3cret-alice  Alice Ops <alice@example.com>\ns3cret-bob bob\n  s3cret-ci  \n",
        )
        .unwrap();
        assert_eq!((tokens.len(), tokens.named()), (3, 2));
        assert_eq!(tokens.first(), "s3cret-alice");
        let alice = tokens.admit("s3cret-alice", "127.0.0.1:5000".into()).unwrap();
        assert_eq!(
            alice,
            Caller::Token {
                label: "line 3 of /etc/fleetdeck/tokens".into(),
                peer: "127.0.0.1:5000".into(),
                operator: Some(Operator {
                    name: "Alice Ops".into(),
                    email: Some("alice@example.com".into()),
                    auth: None
                }),
            }
        );
        let bob = tokens.admit("s3cret-bob", "p".into()).unwrap();
        assert!(
            matches!(bob, Caller::Token { operator: Some(ref o), .. } if o.name == "bob" && o.email.is_none())
        );
        let ci = tokens.admit("s3cret-ci", "p".into()).unwrap();
        assert!(
            matches!(ci, Caller::Token { operator: None, ref label, .. } if label.starts_with("line 5 "))
        );
        for wrong in ["s3cret-alic", "s3cret-alicee", "", "Alice", "s3cret-alice Alice Ops"] {
            assert!(tokens.admit(wrong, "p".into()).is_none(), "{wrong:?}");
        }
    }

    #[test]
    fn a_file_of_one_bare_token_is_one_anonymous_token() {
        let tokens = parse("s3cret-token\n").unwrap();
        assert_eq!((tokens.len(), tokens.named(), tokens.first()), (1, 0, "s3cret-token"));
    }

    #[test]
    fn bad_files_name_the_line_and_never_the_token() {
        for (text, want) in [
            ("", "/etc/fleetdeck/tokens: the token file has no token"),
            ("# only a comment\n\n", "/etc/fleetdeck/tokens: the token file has no token"),
            ("s3cret-x <x@example.com>\n", "/etc/fleetdeck/tokens:1: an email needs a name before it"),
            (
                "s3cret-x x <x@example.com\n",
                "/etc/fleetdeck/tokens:1: an email is written <name@example.com>",
            ),
            ("\ns3cret-x <x@example.com> x\n", "/etc/fleetdeck/tokens:2: the email comes last"),
            ("s3cret-x a\ns3cret-y b\ns3cret-x c\n", "/etc/fleetdeck/tokens:3: the same token as line 1"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.starts_with(want), "{text:?}: {err}");
            assert!(!err.contains("s3cret"), "a token in an error: {err}");
        }
    }

    #[test]
    fn debug_output_hides_every_token() {
        let tokens = parse("s3cret-alice alice\ns3cret-anon\n").unwrap();
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("alice") && shown.contains("<secret>"), "{shown}");
    }

    #[test]
    fn a_named_token_overrides_the_claim_and_keeps_it_when_it_differs() {
        let tokens = parse("s3cret-alice alice <alice@example.com>\n").unwrap();
        let caller = tokens.admit("s3cret-alice", "10.0.0.7:40000".into()).unwrap();
        let forged = Operator { name: "mallory".into(), email: Some("m@example.com".into()), auth: None };
        let recorded = caller.identify(forged);
        assert_eq!((recorded.name.as_str(), recorded.email.as_deref()), ("alice", Some("alice@example.com")));
        assert_eq!(
            recorded.auth,
            Some(OperatorAuth::Token {
                token: "line 1 of /etc/fleetdeck/tokens".into(),
                peer: "10.0.0.7:40000".into(),
                claimed: Some("mallory".into()),
            })
        );
        assert_eq!(recorded.to_string(), "alice <alice@example.com>");
        // Claiming the token's own name records no claim.
        let honest = caller.identify(operator("alice"));
        assert!(matches!(honest.auth, Some(OperatorAuth::Token { claimed: None, .. })));
    }

    #[test]
    fn an_anonymous_token_records_the_claim_as_claimed_with_token_and_peer() {
        let caller = Tokens::anonymous("s3cret", "$FLEETDECK_TOKEN").admit("s3cret", "10.0.0.7:40000".into());
        let recorded = caller.unwrap().identify(operator("mallory"));
        assert_eq!(recorded.name, "mallory");
        assert_eq!(
            recorded.auth,
            Some(OperatorAuth::Claimed { token: "$FLEETDECK_TOKEN".into(), peer: "10.0.0.7:40000".into() })
        );
        assert_eq!(recorded.to_string(), "mallory (claimed)");
    }

    #[test]
    fn whatever_auth_a_client_sends_is_replaced() {
        let forged = Operator {
            auth: Some(OperatorAuth::Token { token: "x".into(), peer: "y".into(), claimed: None }),
            ..operator("mallory")
        };
        let recorded = Caller::Owner { uid: 1000 }.identify(forged.clone());
        assert_eq!(recorded.auth, Some(OperatorAuth::Socket { uid: 1000 }));
        let anonymous = Caller::Token { label: "l".into(), peer: "p".into(), operator: None };
        assert_eq!(
            anonymous.identify(forged).auth,
            Some(OperatorAuth::Claimed { token: "l".into(), peer: "p".into() })
        );
    }
}
