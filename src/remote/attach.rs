//! `fleetdeck --attach`: the console on a daemon's engine. A bridge task turns the socket
//! into the same [`Connection`] the console has in-process — snapshots (the first in
//! full, then updates merged here), events, commands with their replies — plus the
//! link's state, which the header shows.
//!
//! When the daemon goes away (restart, crash), the console keeps its last data and says
//! "DISCONNECTED"; the bridge reconnects with backoff (1 s, doubling, at most 30 s), and
//! a command typed meanwhile is answered at once with "not sent". Replies the daemon
//! never gave before the link broke are failed the same way: the operator knows it may
//! or may not have been applied, and `ctl status` tells.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, oneshot, watch};

use crate::clock::{Clock, SystemClock};
use crate::protocol::{
    CommandReceiver, CommandSender, Connection, DecisionEntry, EntryKey, Event, LinkState, Reply, Snapshot,
};

use super::client::{Client, Endpoint};
use super::wire::{self, Hello, ServerMsg, SnapshotWish};

const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(30);

/// A connection to the daemon at `endpoint`, kept up by a background task.
pub fn attach(endpoint: Endpoint, token: Option<String>) -> Connection {
    let empty = Snapshot::empty(false, Duration::from_secs(1), Duration::from_secs(3));
    let (snapshot_tx, snapshots) = watch::channel(Arc::new(empty));
    let (events_tx, events) = broadcast::channel(256);
    let (commands, command_rx) = CommandSender::channel(64);
    let (link_tx, link) = watch::channel(LinkState::Connecting);
    let bridge = Bridge { endpoint, token, snapshot_tx, events_tx, link_tx };
    tokio::spawn(bridge.run(command_rx));
    Connection { snapshots, events, commands, link: Some(link) }
}

struct Bridge {
    endpoint: Endpoint,
    token: Option<String>,
    snapshot_tx: watch::Sender<Arc<Snapshot>>,
    events_tx: broadcast::Sender<crate::protocol::Event>,
    link_tx: watch::Sender<LinkState>,
}

/// Decision-log entries already passed on, by group, time and words: after a reconnect to a
/// daemon that kept running, its backlog repeats them.
#[derive(Default)]
struct Seen {
    order: VecDeque<EntryKey>,
    keys: HashSet<EntryKey>,
}

impl Seen {
    /// False for an entry passed on before; remembers it otherwise.
    fn first_time(&mut self, entry: &DecisionEntry) -> bool {
        let key = entry.key();
        if !self.keys.insert(key.clone()) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > 2 * wire::BACKLOG
            && let Some(old) = self.order.pop_front()
        {
            self.keys.remove(&old);
        }
        true
    }
}

impl Bridge {
    async fn run(self, mut commands: CommandReceiver) {
        let mut retry = FIRST_RETRY;
        let mut seen = Seen::default();
        loop {
            let hello = Hello {
                token: self.token.clone(),
                backlog: true,
                updates: true,
                ..Hello::new(SnapshotWish::Every, true)
            };
            let error = match Client::connect_to(&self.endpoint, hello).await {
                Ok(client) => {
                    retry = FIRST_RETRY;
                    let engine = client.welcome.engine.clone();
                    self.link_tx.send_replace(LinkState::Connected { engine });
                    match self.serve(client, &mut commands, &mut seen).await {
                        Some(error) => error,
                        None => return, // the console is gone
                    }
                }
                Err(error) => error.to_string(),
            };
            let retry_at = SystemClock.now().plus(retry);
            tracing::warn!(%error, "disconnected from the daemon");
            self.link_tx.send_replace(LinkState::Disconnected { error, retry_at });
            let wait = tokio::time::sleep(retry);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    _ = &mut wait => break,
                    command = commands.recv() => match command {
                        Some((_, reply)) => {
                            let error = "disconnected from the daemon: not sent".to_string();
                            let _ = reply.send(Reply::Failed { error });
                        }
                        None => return,
                    },
                }
            }
            retry = (retry * 2).min(MAX_RETRY);
            self.link_tx.send_replace(LinkState::Connecting);
        }
    }

    /// Relays until the link breaks (Some(why)) or the console is gone (None).
    async fn serve(
        &self,
        mut client: Client,
        commands: &mut CommandReceiver,
        seen: &mut Seen,
    ) -> Option<String> {
        let (raw_points, minute_points) = (client.welcome.raw_points, client.welcome.minute_points);
        let mut pending: HashMap<u64, oneshot::Sender<Reply>> = HashMap::new();
        let error = loop {
            tokio::select! {
                msg = client.next() => match msg {
                    Ok(ServerMsg::Snapshot(snapshot)) => {
                        self.snapshot_tx.send_replace(Arc::new(*snapshot));
                    }
                    Ok(ServerMsg::Update(update)) => {
                        let previous = self.snapshot_tx.borrow().clone();
                        let merged = wire::merge(&previous, *update, raw_points, minute_points);
                        self.snapshot_tx.send_replace(Arc::new(merged));
                    }
                    Ok(ServerMsg::Event(event)) => {
                        let repeated = matches!(&*event, Event::Decided(entry) if !seen.first_time(entry));
                        if !repeated {
                            let _ = self.events_tx.send(*event);
                        }
                    }
                    Ok(ServerMsg::Reply { id, reply }) => {
                        if let Some(waiting) = pending.remove(&id) {
                            let _ = waiting.send(reply);
                        }
                    }
                    Ok(ServerMsg::Welcome(_) | ServerMsg::Refused { .. }) => {}
                    Err(error) => break error.to_string(),
                },
                command = commands.recv() => match command {
                    Some((request, reply)) => match client.send_command(request).await {
                        Ok(id) => {
                            pending.insert(id, reply);
                        }
                        Err(error) => {
                            let _ = reply.send(Reply::Failed { error: format!("not sent: {error}") });
                            break error.to_string();
                        }
                    },
                    None => return None,
                },
            }
        };
        for (_, waiting) in pending {
            let error = format!(
                "the link to the daemon broke before it answered ({error}); check with `fleetdeck ctl status`"
            );
            let _ = waiting.send(Reply::Failed { error });
        }
        Some(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Timestamp;

    #[test]
    fn an_entry_is_passed_on_once_and_the_memory_stays_bounded() {
        let mut seen = Seen::default();
        let entry = |group: &str, at: i64, reason: &str| DecisionEntry {
            group: group.into(),
            at: Timestamp(at),
            reason: reason.into(),
            ..crate::ui::fixtures::decisions().remove(0)
        };
        assert!(seen.first_time(&entry("vision", 1_000, "no change at 3")));
        assert!(!seen.first_time(&entry("vision", 1_000, "no change at 3")), "the backlog's repeat");
        assert!(
            seen.first_time(&entry("llm-chat", 1_000, "no change at 3")),
            "another group at the same tick"
        );
        assert!(
            seen.first_time(&entry("vision", 1_000, "breaker tripped")),
            "the breaker's entry of that tick"
        );
        for n in 0..3 * wire::BACKLOG as i64 {
            seen.first_time(&entry("g", n, "no change"));
        }
        assert!(seen.keys.len() <= 2 * wire::BACKLOG + 1 && seen.order.len() == seen.keys.len());
    }
}
