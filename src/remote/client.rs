//! The client side of the socket protocol, for `fleetdeck ctl` (and, later, an attached
//! console): connect, say hello, read what the daemon sends, send commands and wait for
//! their replies.

use std::path::{Path, PathBuf};

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio_util::codec::{Framed, LinesCodec};

use crate::protocol::{CommandRequest, Reply};

use super::wire::{self, ClientMsg, Hello, MAX_LINE, ServerMsg, Welcome};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach a fleetdeck daemon at {path}: {source} (is `fleetdeck --auto` running? --socket names another)"
    )]
    Connect {
        path: Endpoint,
        #[source]
        source: std::io::Error,
    },
    #[error("the daemon refused the connection: {0}")]
    Refused(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("the daemon closed the connection")]
    Closed,
    #[error("unexpected from the daemon: {0}")]
    Protocol(String),
    #[error("talking to the daemon: {0}")]
    Io(#[from] tokio_util::codec::LinesCodecError),
}

/// Where a daemon listens: its Unix socket, `tcp://HOST:PORT` (which needs a token), or
/// `tls://HOST:PORT` (a token, and the CA to trust: `--tls-ca` or `$FLEETDECK_TLS_CA`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(String),
    Tls { addr: String, ca: Option<PathBuf> },
}

impl Endpoint {
    /// `tcp://HOST:PORT` or `tls://HOST:PORT`, else a socket path.
    pub fn parse(text: &std::ffi::OsStr) -> Endpoint {
        let url = text.to_str().unwrap_or_default();
        if let Some(addr) = url.strip_prefix("tcp://") {
            Endpoint::Tcp(addr.trim_end_matches('/').to_string())
        } else if let Some(addr) = url.strip_prefix("tls://") {
            Endpoint::Tls { addr: addr.trim_end_matches('/').to_string(), ca: None }
        } else {
            Endpoint::Unix(PathBuf::from(text))
        }
    }

    /// The CA a `tls://` endpoint trusts.
    pub fn with_ca(self, ca: Option<PathBuf>) -> Endpoint {
        match self {
            Endpoint::Tls { addr, .. } => Endpoint::Tls { addr, ca },
            other => other,
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "{}", path.display()),
            Endpoint::Tcp(addr) => write!(f, "tcp://{addr}"),
            Endpoint::Tls { addr, .. } => write!(f, "tls://{addr}"),
        }
    }
}

/// A byte stream either kind of endpoint gives.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open, welcomed connection to a daemon.
pub struct Client {
    lines: Framed<Box<dyn Io>, LinesCodec>,
    pub welcome: Welcome,
    next_id: u64,
}

impl Client {
    /// Connects to the daemon at `path` and says `hello`; fails with the daemon's words
    /// if it refuses.
    pub async fn connect(path: &Path, hello: Hello) -> Result<Client, ClientError> {
        Client::connect_to(&Endpoint::Unix(path.to_path_buf()), hello).await
    }

    /// Connects to `endpoint` and says `hello` (with the token, for TCP).
    pub async fn connect_to(endpoint: &Endpoint, hello: Hello) -> Result<Client, ClientError> {
        let failed = |source| ClientError::Connect { path: endpoint.clone(), source };
        let stream: Box<dyn Io> = match endpoint {
            Endpoint::Unix(path) => Box::new(UnixStream::connect(path).await.map_err(failed)?),
            Endpoint::Tcp(addr) => Box::new(TcpStream::connect(addr).await.map_err(failed)?),
            Endpoint::Tls { addr, ca } => {
                let ca = ca.as_deref().ok_or_else(|| {
                    ClientError::Tls(format!(
                        "tls://{addr} needs the CA to trust: --tls-ca FILE or $FLEETDECK_TLS_CA"
                    ))
                })?;
                let connector = super::tls::connector(ca).map_err(ClientError::Tls)?;
                let name = super::tls::server_name(addr).map_err(ClientError::Tls)?;
                let tcp = TcpStream::connect(addr).await.map_err(failed)?;
                let tls =
                    connector.connect(name, tcp).await.map_err(|err| ClientError::Tls(err.to_string()))?;
                Box::new(tls)
            }
        };
        let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE));
        let hello = serde_json::to_string(&ClientMsg::Hello(hello)).expect("a hello serialises");
        // A refusal may already be waiting even if writing the hello failed.
        let sent = lines.send(hello).await;
        let answer = match (read(&mut lines).await, sent) {
            (Ok(answer), _) => answer,
            (Err(_), Err(err)) => return Err(err.into()),
            (Err(err), Ok(())) => return Err(err),
        };
        let welcome = match answer {
            ServerMsg::Welcome(welcome) => welcome,
            ServerMsg::Refused { reason } => return Err(ClientError::Refused(reason)),
            other => return Err(ClientError::Protocol(format!("expected a welcome, got {other:?}"))),
        };
        wire::check_version(welcome.version).map_err(ClientError::Refused)?;
        Ok(Client { lines, welcome, next_id: 1 })
    }

    /// The next line from the daemon.
    pub async fn next(&mut self) -> Result<ServerMsg, ClientError> {
        read(&mut self.lines).await
    }

    /// Sends `request` without waiting; its reply comes later as a [`ServerMsg::Reply`]
    /// with the id returned.
    pub async fn send_command(&mut self, request: CommandRequest) -> Result<u64, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let line = serde_json::to_string(&ClientMsg::Command { id, request }).expect("a command serialises");
        self.lines.send(line).await?;
        Ok(id)
    }

    /// Sends `request` and waits for its reply; whatever else arrives meanwhile is passed
    /// to `meanwhile`.
    pub async fn command(
        &mut self,
        request: CommandRequest,
        mut meanwhile: impl FnMut(ServerMsg),
    ) -> Result<Reply, ClientError> {
        let id = self.send_command(request).await?;
        loop {
            match self.next().await? {
                ServerMsg::Reply { id: got, reply } if got == id => return Ok(reply),
                other => meanwhile(other),
            }
        }
    }
}

async fn read(lines: &mut Framed<Box<dyn Io>, LinesCodec>) -> Result<ServerMsg, ClientError> {
    let line = lines.next().await.ok_or(ClientError::Closed)??;
    serde_json::from_str(&line).map_err(|err| ClientError::Protocol(format!("{err}: {line:.200}")))
}
