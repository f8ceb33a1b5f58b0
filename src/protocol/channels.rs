//! The in-process transport: tokio channels bundled in a [`Connection`] for a front end,
//! a [`Connector`] for front ends that come and go, and the [`LinkState`] an attached
//! console shows.

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::model::Timestamp;

use super::{CommandRequest, Event, Reply, Snapshot};

/// A front end's end of the in-process channels to one engine.
pub struct Connection {
    /// Always holds the newest snapshot; front ends redraw when it changes.
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub events: broadcast::Receiver<Event>,
    pub commands: CommandSender,
    /// For a console attached to a daemon: whether the link is up. None in-process.
    pub link: Option<watch::Receiver<LinkState>>,
}

/// The state of an attached console's link to its daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    /// Welcomed by the daemon whose engine is `engine`.
    Connected {
        engine: String,
    },
    /// Down: why, and when the next attempt is made.
    Disconnected {
        error: String,
        retry_at: Timestamp,
    },
}

/// Makes [`Connection`]s to a running engine for front ends that come and go (the
/// daemon's clients); cheap to clone.
#[derive(Clone)]
pub struct Connector {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub events: broadcast::Sender<Event>,
    pub commands: CommandSender,
}

impl Connector {
    /// A new connection: the newest snapshot, events from now on, a command sender.
    pub fn connect(&self) -> Connection {
        Connection {
            snapshots: self.snapshots.clone(),
            events: self.events.subscribe(),
            commands: self.commands.clone(),
            link: None,
        }
    }
}

/// Sends commands to the engine; cheap to clone.
#[derive(Clone)]
pub struct CommandSender {
    tx: mpsc::Sender<(CommandRequest, oneshot::Sender<Reply>)>,
}

/// The engine's end of the command channel.
pub type CommandReceiver = mpsc::Receiver<(CommandRequest, oneshot::Sender<Reply>)>;

impl CommandSender {
    pub fn channel(capacity: usize) -> (CommandSender, CommandReceiver) {
        let (tx, rx) = mpsc::channel(capacity);
        (CommandSender { tx }, rx)
    }

    /// Sends a command without waiting; the reply arrives on the returned receiver.
    pub fn send(&self, request: CommandRequest) -> oneshot::Receiver<Reply> {
        let (reply_tx, reply_rx) = oneshot::channel();
        if let Err(err) = self.tx.try_send((request, reply_tx)) {
            let (_, reply_tx) = match err {
                mpsc::error::TrySendError::Full(pair) | mpsc::error::TrySendError::Closed(pair) => pair,
            };
            let _ = reply_tx.send(Reply::Failed { error: "the engine is not accepting commands".into() });
        }
        reply_rx
    }
}
