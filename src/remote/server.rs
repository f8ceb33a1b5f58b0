//! The daemon's listener: each client gets its own task that reads its hello, checks
//! who it is and which protocol it speaks, then streams what it asked for and passes its
//! commands to the engine, answering each with the engine's reply.
//!
//! The Unix socket is owner-only twice over: the file is created `0600` in a `0700`
//! directory, and a peer whose uid (from the kernel, `SO_PEERCRED`) is not the socket's
//! owner is refused before its hello is read. On TCP ([`serve_tcp`]) every client must
//! present one of the listener's bearer tokens in its hello, over TLS when the daemon has
//! a certificate.
//!
//! Who a command is recorded as (the audit log, "paused by …", the reply) is decided
//! here, not by the client ([`Caller::identify`]): over TCP a token that names an operator
//! replaces whatever operator the client claims (a differing claim is kept beside it and
//! logged as a warning); an anonymous token keeps the claim, marked as claimed with the
//! token's line and the client's address; over the Unix socket the claim stands, since
//! the peer is the socket owner's own user — the same trust as a shell of that user.

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

use crate::protocol::{Connector, DecisionEntry, Event, OperatorAuth, PROTOCOL_VERSION, Reply};

use super::token::{Caller, Tokens};
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
                let access = match peer {
                    Ok(uid) if uid == owner => Access::Owner { uid },
                    Ok(uid) => Access::Refused(format!(
                        "this socket belongs to uid {owner}; connections from uid {uid} are refused"
                    )),
                    Err(err) => Access::Refused(format!("cannot tell who is connecting: {err}")),
                };
                serve_client(stream, &context, access).await;
            });
        }
    }
}

/// Serves clients on a TCP listener, each of which must present one of `tokens` in its
/// hello; with `tls`, every connection is a TLS one (a failed handshake is logged and
/// dropped).
pub async fn serve_tcp(
    listener: tokio::net::TcpListener,
    context: ServerContext,
    tokens: Arc<Tokens>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok((stream, peer)) => {
                tracing::debug!(%peer, "tcp client");
                (stream, peer)
            }
            Err(err) => {
                tracing::warn!(%err, "accepting a tcp client");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (context, tokens, tls) = (context.clone(), tokens.clone(), tls.clone());
        tokio::spawn(async move {
            let access = Access::Tokens { tokens: &tokens, peer: peer.to_string() };
            match tls {
                None => serve_client(stream, &context, access).await,
                // A client that never finishes its handshake does not hold a task.
                Some(tls) => match tokio::time::timeout(HELLO_WAIT, tls.accept(stream)).await {
                    Ok(Ok(stream)) => serve_client(stream, &context, access).await,
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

/// Who may connect, and how a connection's commands are attributed.
pub enum Access<'a> {
    /// Refuse it whatever it says (another user on the Unix socket), with this reason.
    Refused(String),
    /// The owner-only Unix socket, the peer being the owner (`uid`): no token needed.
    Owner { uid: u32 },
    /// TCP: the hello must carry one of `tokens`; `peer` is the client's address.
    Tokens { tokens: &'a Tokens, peer: String },
}

/// One client, from its hello to its last line.
pub async fn serve_client<S>(stream: S, context: &ServerContext, access: Access<'_>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE));
    if let Access::Refused(reason) = access {
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
    let caller = match admit(&hello, access) {
        Ok(caller) => caller,
        Err(reason) => {
            tracing::warn!(%reason, "client refused");
            let _ = send(&mut lines, &ServerMsg::Refused { reason }).await;
            return;
        }
    };
    if let Caller::Token { label, peer, operator } = &caller {
        let operator =
            operator.as_ref().map_or("anonymous (operators as claimed)".to_string(), |o| o.to_string());
        tracing::info!(%peer, token = %label, %operator, "tcp client admitted");
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
    if let Err(err) = stream_to(lines, context, &hello, &caller).await {
        tracing::debug!(%err, "client gone");
    }
}

/// Whether the hello may go on — the same major version, and a known token where one is
/// needed — and who its commands are from.
fn admit(hello: &Hello, access: Access<'_>) -> Result<Caller, String> {
    wire::check_version(hello.version)?;
    match (access, hello.token.as_deref()) {
        (Access::Refused(reason), _) => Err(reason),
        (Access::Owner { uid }, _) => Ok(Caller::Owner { uid }),
        (Access::Tokens { tokens, peer }, Some(got)) => {
            tokens.admit(got, peer).ok_or_else(|| "wrong token".into())
        }
        (Access::Tokens { .. }, None) => {
            Err("this listener needs a token (--token-file or $FLEETDECK_TOKEN)".into())
        }
    }
}

type Lines<S> = Framed<S, LinesCodec>;

async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    lines: &mut Lines<S>,
    msg: &ServerMsg,
) -> anyhow::Result<()> {
    lines.send(serde_json::to_string(msg)?).await?;
    Ok(())
}

/// After the welcome: the snapshots and events asked for, and a reply to each command,
/// each command attributed to its operator as `caller` establishes it.
async fn stream_to<S>(
    mut lines: Lines<S>,
    context: &ServerContext,
    hello: &Hello,
    caller: &Caller,
) -> anyhow::Result<()>
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
    // (those that arrived while the backlog was read), by group, time and words.
    let mut sent = std::collections::HashSet::new();
    if hello.backlog {
        for entry in context.backlog.entries() {
            sent.insert(entry.key());
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
                    Ok(ClientMsg::Command { id, mut request }) => {
                        let claimed = request.operator.name.clone();
                        request.operator = caller.identify(request.operator);
                        if let Some(OperatorAuth::Token { claimed: Some(_), peer, .. }) = &request.operator.auth {
                            tracing::warn!(
                                %peer, %claimed, operator = %request.operator,
                                "a client claimed another operator than its token names; recorded as the token's"
                            );
                        }
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
                Ok(Event::Decided(entry)) if sent.remove(&entry.key()) => {}
                Ok(event) => send(&mut lines, &ServerMsg::Event(Box::new(event))).await?,
                Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "a client fell behind the events"),
                Err(RecvError::Closed) => events_open = false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use tokio::sync::{broadcast, watch};

    use super::*;
    use crate::protocol::{Command, CommandReceiver, CommandRequest, CommandSender, Operator, Target};

    /// A context on channels the test holds the engine's end of.
    fn context() -> (ServerContext, CommandReceiver) {
        let (_, snapshots) = watch::channel(Arc::new(crate::ui::fixtures::fleet()));
        let (events, _) = broadcast::channel(4);
        let (commands, received) = CommandSender::channel(4);
        let context = ServerContext {
            connector: Connector { snapshots, events, commands },
            engine: "test@host:1".into(),
            readonly: false,
            backlog: Backlog::default(),
            raw_points: 60,
            minute_points: 60,
        };
        (context, received)
    }

    /// Says hello with `token`, sends one pause claimed by mallory, and returns the
    /// request as the engine receives it and the reply line the client reads.
    async fn mallory_pauses(access: Access<'_>, token: Option<&str>) -> (CommandRequest, String) {
        let (context, mut engine) = context();
        let (client, server) = tokio::io::duplex(64 * 1024);
        let mut client = Framed::new(client, LinesCodec::new());
        let hello =
            ClientMsg::Hello(Hello { token: token.map(Into::into), ..Hello::new(SnapshotWish::None, false) });
        let forged = Operator { name: "mallory".into(), email: Some("m@example.com".into()), auth: None };
        let request = CommandRequest {
            operator: forged,
            reason: Some("drill".into()),
            command: Command::Pause { target: Target::All, duration: None, mode: Default::default() },
        };
        for msg in [hello, ClientMsg::Command { id: 7, request }] {
            client.send(serde_json::to_string(&msg).unwrap()).await.unwrap();
        }
        let engine_and_client = async move {
            let welcome = client.next().await.unwrap().unwrap();
            assert!(welcome.starts_with(r#"{"welcome""#), "{welcome}");
            let (request, reply) = engine.recv().await.expect("the command reaches the engine");
            reply.send(Reply::Ok { message: format!("paused all by {}", request.operator) }).unwrap();
            let line = client.next().await.unwrap().unwrap();
            (request, line) // the client hangs up here
        };
        let ((), out) = tokio::join!(serve_client(server, &context, access), engine_and_client);
        out
    }

    #[tokio::test]
    async fn a_named_token_overrides_the_operator_the_client_claims() {
        let tokens = Tokens::parse("alice-s3cret alice <alice@example.com>\n", Path::new("tokens")).unwrap();
        let access = Access::Tokens { tokens: &tokens, peer: "127.0.0.1:40000".into() };
        let (request, reply) = mallory_pauses(access, Some("alice-s3cret")).await;
        assert_eq!(
            (request.operator.name.as_str(), request.operator.email.as_deref()),
            ("alice", Some("alice@example.com"))
        );
        assert_eq!(
            request.operator.auth,
            Some(OperatorAuth::Token {
                token: "line 1 of tokens".into(),
                peer: "127.0.0.1:40000".into(),
                claimed: Some("mallory".into())
            })
        );
        assert_eq!(
            reply,
            r#"{"reply":{"id":7,"reply":{"reply":"ok","message":"paused all by alice <alice@example.com>"}}}"#
        );
    }

    #[tokio::test]
    async fn an_anonymous_token_passes_the_claim_on_marked_as_claimed() {
        let tokens = Tokens::anonymous("s3cret", "$FLEETDECK_TOKEN");
        let access = Access::Tokens { tokens: &tokens, peer: "127.0.0.1:40001".into() };
        let (request, reply) = mallory_pauses(access, Some("s3cret")).await;
        assert_eq!(request.operator.name, "mallory");
        assert_eq!(
            request.operator.auth,
            Some(OperatorAuth::Claimed { token: "$FLEETDECK_TOKEN".into(), peer: "127.0.0.1:40001".into() })
        );
        assert!(reply.contains("paused all by mallory <m@example.com> (claimed)"), "{reply}");
    }

    #[tokio::test]
    async fn on_the_owners_socket_the_claim_is_the_owners_own() {
        let (request, _) = mallory_pauses(Access::Owner { uid: 1000 }, None).await;
        assert_eq!(request.operator.name, "mallory");
        assert_eq!(request.operator.auth, Some(OperatorAuth::Socket { uid: 1000 }));
    }

    #[tokio::test]
    async fn a_token_not_in_the_file_is_refused_before_any_command() {
        let (context, mut engine) = context();
        let tokens = Tokens::parse("alice-s3cret alice\n", Path::new("tokens")).unwrap();
        let (client, server) = tokio::io::duplex(64 * 1024);
        let mut client = Framed::new(client, LinesCodec::new());
        let hello = Hello { token: Some("alice-s3cre".into()), ..Hello::new(SnapshotWish::None, false) };
        client.send(serde_json::to_string(&ClientMsg::Hello(hello)).unwrap()).await.unwrap();
        serve_client(server, &context, Access::Tokens { tokens: &tokens, peer: "p".into() }).await;
        assert_eq!(client.next().await.unwrap().unwrap(), r#"{"refused":{"reason":"wrong token"}}"#);
        drop(context);
        assert!(engine.recv().await.is_none(), "nothing reached the engine");
    }
}
