//! The daemon's listener: each client gets its own task that reads its hello, checks
//! who it is and which protocol it speaks, then streams what it asked for and passes its
//! commands to the engine, answering each with the engine's reply.
//!
//! The Unix socket is owner-only twice over: the file is created `0600` in a `0700`
//! directory, and a peer whose uid (from the kernel, `SO_PEERCRED`) is not the socket's
//! owner is refused before its hello is read. On TCP ([`serve_tcp`]) every client must
//! present the listener's bearer token in its hello, over TLS when the daemon has a
//! certificate.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::codec::{Framed, LinesCodec};

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::protocol::{Connector, DecisionEntry, Event, PROTOCOL_VERSION, Reply};

use super::wire::{self, ClientMsg, Hello, MAX_LINE, ServerMsg, SnapshotWish, Welcome};

/// How long a client has to say hello.
const HELLO_WAIT: Duration = Duration::from_secs(10);

/// What every client of one daemon is told and checked against.
#[derive(Clone)]
pub struct ServerContext {
    pub connector: Connector,
    /// The engine's identity (`user@host:pid`).
    pub engine: String,
    pub readonly: bool,
    pub backlog: Backlog,
    /// The engine's raw points and minutes a series (told to clients that merge updates).
    pub raw_points: usize,
    pub minute_points: usize,
}

/// The decision log's recent entries, for clients that come later.
#[derive(Clone, Default)]
pub struct Backlog(Arc<Mutex<VecDeque<DecisionEntry>>>);

impl Backlog {
    /// A backlog kept by its own task from `connector`'s events, from now on.
    pub fn follow(connector: &Connector) -> Backlog {
        let backlog = Backlog::default();
        let mut events = connector.connect().events;
        let kept = backlog.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(Event::Decided(entry)) => kept.push(*entry),
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                }
            }
        });
        backlog
    }

    fn push(&self, entry: DecisionEntry) {
        let mut entries = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() == wire::BACKLOG {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    fn entries(&self) -> Vec<DecisionEntry> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
    }
}

/// A bound Unix socket and the uid allowed on it.
pub struct UnixServer {
    listener: UnixListener,
    path: PathBuf,
    owner: u32,
}

/// The socket could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("another fleetdeck daemon already listens at {0}")]
    InUse(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl UnixServer {
    /// Binds `path`: its directory is created owner-only, a socket file left behind by a
    /// daemon that died is replaced, one a live daemon answers on is not.
    pub async fn bind(path: &Path) -> Result<UnixServer, BindError> {
        let io = |source| BindError::Io { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
        if path.exists() {
            if UnixStream::connect(path).await.is_ok() {
                return Err(BindError::InUse(path.to_path_buf()));
            }
            std::fs::remove_file(path).map_err(io)?;
        }
        let listener = UnixListener::bind(path).map_err(io)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        let owner = std::fs::metadata(path).map_err(io)?.uid();
        Ok(UnixServer { listener, path: path.to_path_buf(), owner })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts clients until the task is dropped; each runs on its own task.
    pub async fn serve(self, context: ServerContext) {
        loop {
            let stream = match self.listener.accept().await {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(%err, "accepting a client");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let peer = stream.peer_cred().map(|c| c.uid());
            let context = context.clone();
            let owner = self.owner;
            tokio::spawn(async move {
                let refusal = match peer {
                    Ok(uid) if uid == owner => None,
                    Ok(uid) => Some(format!(
                        "this socket belongs to uid {owner}; connections from uid {uid} are refused"
                    )),
                    Err(err) => Some(format!("cannot tell who is connecting: {err}")),
                };
                serve_client(stream, &context, refusal, None).await;
            });
        }
    }
}

/// Serves clients on a TCP listener, each of which must present `token` in its hello;
/// with `tls`, every connection is a TLS one (a failed handshake is logged and dropped).
pub async fn serve_tcp(
    listener: tokio::net::TcpListener,
    context: ServerContext,
    token: Arc<str>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, peer)) => {
                tracing::debug!(%peer, "tcp client");
                stream
            }
            Err(err) => {
                tracing::warn!(%err, "accepting a tcp client");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (context, token, tls) = (context.clone(), token.clone(), tls.clone());
        tokio::spawn(async move {
            match tls {
                None => serve_client(stream, &context, None, Some(&token)).await,
                // A client that never finishes its handshake does not hold a task.
                Some(tls) => match tokio::time::timeout(HELLO_WAIT, tls.accept(stream)).await {
                    Ok(Ok(stream)) => serve_client(stream, &context, None, Some(&token)).await,
                    Ok(Err(err)) => tracing::warn!(%err, "TLS handshake failed"),
                    Err(_) => tracing::warn!("TLS handshake not finished in time"),
                },
            }
        });
    }
}

impl Drop for UnixServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One client, from its hello to its last line. `refusal`: refuse it whatever it says
/// (another user). `token`: the bearer token this listener requires, if any.
pub async fn serve_client<S>(stream: S, context: &ServerContext, refusal: Option<String>, token: Option<&str>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE));
    if let Some(reason) = refusal {
        tracing::warn!(%reason, "client refused");
        // Its hello is read first (briefly), so the refusal is not lost to a connection
        // reset while the client is still writing.
        let _ = tokio::time::timeout(Duration::from_secs(1), lines.next()).await;
        let _ = send(&mut lines, &ServerMsg::Refused { reason }).await;
        return;
    }
    let hello = match tokio::time::timeout(HELLO_WAIT, lines.next()).await {
        Ok(Some(Ok(line))) => match serde_json::from_str::<ClientMsg>(&line) {
            Ok(ClientMsg::Hello(hello)) => hello,
            Ok(ClientMsg::Command { .. }) | Err(_) => {
                let reason = "expected a hello as the first line".to_string();
                let _ = send(&mut lines, &ServerMsg::Refused { reason }).await;
                return;
            }
        },
        _ => return,
    };
    if let Err(reason) = admit(&hello, token) {
        tracing::warn!(%reason, "client refused");
        let _ = send(&mut lines, &ServerMsg::Refused { reason }).await;
        return;
    }
    let welcome = Welcome {
        version: PROTOCOL_VERSION,
        engine: context.engine.clone(),
        readonly: context.readonly,
        raw_points: context.raw_points,
        minute_points: context.minute_points,
    };
    if send(&mut lines, &ServerMsg::Welcome(welcome)).await.is_err() {
        return;
    }
    if let Err(err) = stream_to(lines, context, &hello).await {
        tracing::debug!(%err, "client gone");
    }
}

/// Whether the hello may go on: the same major version, and the token if one is needed.
fn admit(hello: &Hello, token: Option<&str>) -> Result<(), String> {
    wire::check_version(hello.version)?;
    match (token, hello.token.as_deref()) {
        (None, _) => Ok(()),
        (Some(want), Some(got)) if constant_time_eq(want.as_bytes(), got.as_bytes()) => Ok(()),
        (Some(_), Some(_)) => Err("wrong token".into()),
        (Some(_), None) => Err("this listener needs a token (--token-file or $FLEETDECK_TOKEN)".into()),
    }
}

/// Equal bytes, compared in a time that does not depend on where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

type Lines<S> = Framed<S, LinesCodec>;

async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    lines: &mut Lines<S>,
    msg: &ServerMsg,
) -> anyhow::Result<()> {
    lines.send(serde_json::to_string(msg)?).await?;
    Ok(())
}

/// After the welcome: the snapshots and events asked for, and a reply to each command.
async fn stream_to<S>(mut lines: Lines<S>, context: &ServerContext, hello: &Hello) -> anyhow::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut connection = context.connector.connect();
    let snapshot_msg = |snapshot: &crate::protocol::Snapshot| {
        let snapshot = if hello.summary { wire::summary(snapshot) } else { snapshot.clone() };
        ServerMsg::Snapshot(Box::new(snapshot))
    };
    let mut updates = (hello.updates && !hello.summary).then(wire::Sent::default);
    if hello.snapshots != SnapshotWish::None {
        let snapshot = connection.snapshots.borrow_and_update().clone();
        if let Some(updates) = &mut updates {
            updates.remember(&snapshot);
        }
        send(&mut lines, &snapshot_msg(&snapshot)).await?;
    }
    // Entries sent from the backlog that may also be queued on this connection's events
    // (those that arrived while the backlog was read), by group and time.
    let mut sent = std::collections::HashSet::new();
    if hello.backlog {
        for entry in context.backlog.entries() {
            sent.insert((entry.group.clone(), entry.at));
            send(&mut lines, &ServerMsg::Event(Box::new(Event::Decided(Box::new(entry))))).await?;
        }
    }
    let every = hello.snapshots == SnapshotWish::Every;
    let mut events_open = hello.events;
    let mut replies = FuturesUnordered::new();
    loop {
        tokio::select! {
            line = lines.next() => {
                let Some(line) = line else { return Ok(()) };
                let line = line?;
                match serde_json::from_str::<ClientMsg>(&line) {
                    Ok(ClientMsg::Command { id, request }) => {
                        let reply = connection.commands.send(request);
                        replies.push(async move {
                            let reply = reply.await.unwrap_or_else(|_| Reply::Failed {
                                error: "the engine stopped before answering".into(),
                            });
                            (id, reply)
                        });
                    }
                    Ok(ClientMsg::Hello(_)) => {
                        let reason = "a second hello: the connection is already open".into();
                        send(&mut lines, &ServerMsg::Reply { id: 0, reply: Reply::Refused { reason } }).await?;
                    }
                    Err(err) => {
                        // A newer client's command this daemon does not know: refuse it by
                        // its id, keep the connection.
                        let id = serde_json::from_str::<serde_json::Value>(&line)
                            .ok()
                            .and_then(|v| v.pointer("/command/id").and_then(|id| id.as_u64()))
                            .unwrap_or(0);
                        let reason = format!("not understood by this daemon (protocol {PROTOCOL_VERSION}): {err}");
                        send(&mut lines, &ServerMsg::Reply { id, reply: Reply::Refused { reason } }).await?;
                    }
                }
            }
            Some((id, reply)) = replies.next(), if !replies.is_empty() => {
                send(&mut lines, &ServerMsg::Reply { id, reply }).await?;
            }
            changed = connection.snapshots.changed(), if every => {
                if changed.is_err() {
                    return Ok(()); // the engine stopped
                }
                let snapshot = connection.snapshots.borrow_and_update().clone();
                let msg = match &mut updates {
                    Some(updates) => ServerMsg::Update(Box::new(updates.update(&snapshot))),
                    None => snapshot_msg(&snapshot),
                };
                send(&mut lines, &msg).await?;
            }
            event = connection.events.recv(), if events_open => match event {
                Ok(Event::Decided(entry)) if sent.remove(&(entry.group.clone(), entry.at)) => {}
                Ok(event) => send(&mut lines, &ServerMsg::Event(Box::new(event))).await?,
                Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "a client fell behind the events"),
                Err(RecvError::Closed) => events_open = false,
            },
        }
    }
}
