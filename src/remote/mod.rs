//! The protocol over a socket: the daemon's listener ([`server`]), its clients
//! ([`client`]), the lines they exchange ([`wire`]), the TCP listener's tokens and who
//! each speaks for ([`token`]), and where a fleet's daemon listens.
//!
//! A fleet's socket is `$XDG_RUNTIME_DIR/fleetdeck/<fleet>.sock`, or
//! `/tmp/fleetdeck-<uid>/<fleet>.sock` where there is no runtime dir; `--socket` names
//! another. The daemon also records where it listens in `<state dir>/daemon.json`
//! (`--listen 127.0.0.1:0` picks a port: that file and the daemon's first line say which).

pub mod attach;
pub mod client;
pub mod server;
pub mod tls;
pub mod token;
pub mod wire;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The fleet's default socket path.
pub fn default_socket(fleet: &str) -> PathBuf {
    let name = format!("{fleet}.sock");
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("fleetdeck").join(name),
        None => {
            // The process's own uid, as /proc shows it (no unsafe call needed).
            let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
            std::env::temp_dir().join(format!("fleetdeck-{uid}")).join(name)
        }
    }
}

/// Where a running daemon listens, as it records it for `ctl` and consoles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listening {
    pub socket: PathBuf,
    /// Where `/metrics` and `/healthz` are served, if they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<std::net::SocketAddr>,
    /// The TCP address, with `--listen` (clients need the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<std::net::SocketAddr>,
    pub pid: u32,
    pub engine: String,
}

/// `<state dir>/daemon.json` of the fleet.
pub fn discovery_path(fleet: &str) -> Option<PathBuf> {
    crate::config::state_dir(fleet).map(|dir| dir.join("daemon.json"))
}

/// The socket of the fleet's running daemon: the one it recorded, else the default.
pub fn find_socket(fleet: &str) -> PathBuf {
    discovery_path(fleet)
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| serde_json::from_str::<Listening>(&text).ok())
        .map(|l| l.socket)
        .unwrap_or_else(|| default_socket(fleet))
}

/// The socket to reach when no config named the fleet (the demo's is assumed): the
/// `fleet`'s daemon, or, when it has none and exactly one other fleet's daemon listens in
/// the default socket directory, that one's. Several others: an error naming them, for
/// there is no telling which was meant.
pub fn find_socket_unnamed(fleet: &str) -> Result<PathBuf, String> {
    let own = find_socket(fleet);
    if own.exists() {
        return Ok(own);
    }
    let dir = default_socket(fleet).parent().map(PathBuf::from).unwrap_or_default();
    match other_fleets(&dir, fleet).as_slice() {
        [] => Ok(own),
        [only] => Ok(find_socket(only)),
        many => Err(format!(
            "no daemon for the {fleet} fleet, and daemons of {} listen here: say which with --config FILE or --socket PATH",
            many.join(", ")
        )),
    }
}

/// Fleets other than `fleet` with a socket in `dir`, sorted.
fn other_fleets(dir: &std::path::Path, fleet: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut fleets: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_socket()))
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".sock").map(str::to_string))
        .filter(|name| name != fleet)
        .collect();
    fleets.sort();
    fleets
}

/// The bearer token a client presents over TCP: the first token of the file (format in
/// [`token`]; a file of one bare token is the simplest), else `$FLEETDECK_TOKEN`; never
/// logged or printed.
pub fn read_token(file: Option<&std::path::Path>) -> Result<Option<String>, String> {
    if let Some(file) = file {
        let tokens = token::Tokens::read(file).map_err(|err| err.to_string())?;
        return Ok(Some(tokens.first().to_string()));
    }
    Ok(std::env::var("FLEETDECK_TOKEN").ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()))
}

/// The tokens the daemon's TCP listener accepts: every token of the file, each naming
/// its operator or none ([`token`]), else `$FLEETDECK_TOKEN` as one anonymous token.
pub fn read_tokens(file: Option<&std::path::Path>) -> Result<Option<token::Tokens>, String> {
    if let Some(file) = file {
        return token::Tokens::read(file).map(Some).map_err(|err| err.to_string());
    }
    Ok(read_token(None)?.map(|t| token::Tokens::anonymous(&t, "$FLEETDECK_TOKEN")))
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixListener;

    use super::*;

    #[test]
    fn other_fleets_are_the_sockets_in_the_directory_but_this_fleets() {
        let dir = tempfile::tempdir().unwrap();
        assert!(other_fleets(dir.path(), "demo").is_empty());
        let _gpu = UnixListener::bind(dir.path().join("gpu-prod.sock")).unwrap();
        let _demo = UnixListener::bind(dir.path().join("demo.sock")).unwrap();
        std::fs::write(dir.path().join("notes.sock"), "a file, not a socket").unwrap();
        std::fs::write(dir.path().join("x.txt"), "").unwrap();
        assert_eq!(other_fleets(dir.path(), "demo"), ["gpu-prod"]);
        let _staging = UnixListener::bind(dir.path().join("staging.sock")).unwrap();
        assert_eq!(other_fleets(dir.path(), "demo"), ["gpu-prod", "staging"]);
        assert!(other_fleets(&dir.path().join("missing"), "demo").is_empty());
    }
}
