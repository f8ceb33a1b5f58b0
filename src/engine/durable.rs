//! The engine's side that outlives a tick: operator commands (answered, logged,
//! persisted), the per-group leases, and the fleet's store and decision log. Split from
//! `engine` by concern; these are `impl Engine` blocks over the same state.

use std::path::PathBuf;

use super::history::MinutePoint;
use super::pager::{Notification, NotificationKind, Paged};
use super::tick::CommandOutcome;
use super::*;
use crate::model::{MetricKind, Pause};
use crate::store::{MinuteAggregate, NewMessage, OpenPage};

/// How long delivered (and undeliverable) outbox rows are kept.
pub const OUTBOX_RETENTION: Duration = Duration::from_secs(7 * 86_400);

/// Replaces a group's paging state with the episodes the store has open for it: at start,
/// and when this engine takes over the group's lease from another.
pub(super) fn adopt_pages(group: &mut CoreGroup, store: &Store) -> Result<(), StoreError> {
    let open = store.open_pages(&group.spec.name)?;
    group.pager.adopt(open.into_iter().map(|p| {
        let paged =
            Paged { dedup_key: p.dedup_key, summary: p.summary, severity: p.severity, since: p.since };
        (p.alarm, paged)
    }));
    Ok(())
}

/// A `:sim` command's outcome: the simulator's reply, announced (and, when done, the
/// incident as a sim event).
fn sim_outcome(request: &CommandRequest, reply: Reply, at: Timestamp) -> CommandOutcome {
    let mut events = Vec::new();
    if let Reply::Ok { message } = &reply {
        events.push(Event::Sim { at, description: message.clone() });
    }
    events.push(Event::CommandHandled {
        at,
        operator: request.operator.to_string(),
        command: request.command.to_string(),
        reply: reply.clone(),
    });
    CommandOutcome { reply, events, breaker_changes: Vec::new(), operator_state_changed: false }
}

impl Engine {
    /// Answers one command as [`Engine::handle_command`] does, and a `:sim` command for a
    /// simulator in a `sim serve` process through its control API (bounded by the call
    /// timeout; other commands wait meanwhile, as they wait for a tick's bookkeeping).
    pub async fn answer(&mut self, request: CommandRequest) -> Reply {
        if let Command::Sim { action } = &request.command
            && !self.core.settings.readonly
            && self.sim.is_none()
            && let Some(remote) = self.sim_http.clone()
        {
            let at = self.clock.now();
            let reply = match super::io::timed(self.settings.call_timeout, remote.apply(action)).await {
                Ok(message) => Reply::Ok { message },
                Err(err) => Reply::Failed { error: err.to_string() },
            };
            let outcome = sim_outcome(&request, reply, at);
            return self.finish_command(&request, outcome, at);
        }
        self.handle_command(request)
    }

    /// Answers one command. Every command is answered, logged and announced as an event;
    /// operator state it changed is saved in the store.
    pub fn handle_command(&mut self, request: CommandRequest) -> Reply {
        let at = self.clock.now();
        // The simulator is a backend, not the autoscaler's state: it is answered here.
        let outcome = match &request.command {
            Command::Sim { action } if !self.core.settings.readonly => {
                sim_outcome(&request, self.sim_command(action, at), at)
            }
            Command::Acknowledge { target } if !self.core.settings.readonly => {
                let reply = self.acknowledge(&request, target, at);
                let handled = Event::CommandHandled {
                    at,
                    operator: request.operator.to_string(),
                    command: request.command.to_string(),
                    reply: reply.clone(),
                };
                CommandOutcome {
                    reply,
                    events: vec![handled],
                    breaker_changes: Vec::new(),
                    operator_state_changed: false,
                }
            }
            Command::Pause { .. } | Command::Resume { .. } => {
                let before = self.pauses();
                let outcome = self.core.command(&request, at);
                if matches!(outcome.reply, Reply::Ok { .. }) {
                    self.queue_marker_writes(&before, at);
                }
                outcome
            }
            _ => self.core.command(&request, at),
        };
        self.finish_command(&request, outcome, at)
    }

    /// Logs, saves, records and announces a command's outcome; its reply.
    fn finish_command(&mut self, request: &CommandRequest, outcome: CommandOutcome, at: Timestamp) -> Reply {
        tracing::info!(operator = %request.operator, command = %request.command, reply = %outcome.reply, "operator command");
        if outcome.operator_state_changed {
            self.persist_operator_state(at, request);
        }
        self.store_breaker_changes(&outcome.breaker_changes);
        if let Some(audit) = &mut self.audit
            && let Err(err) = audit.record_command(at, request, &outcome.reply)
        {
            tracing::error!(%err, "writing the decision log");
        }
        for event in outcome.events {
            trace_event(&event);
            self.emit(event);
        }
        outcome.reply
    }

    /// Each group's own pause and the pause its target's marker holds.
    fn pauses(&self) -> Vec<(Option<Pause>, Option<Pause>)> {
        let groups = self.core.groups.iter();
        groups.map(|g| (g.autoscaler.state.pause.clone(), g.autoscaler.marker_pause.clone())).collect()
    }

    /// A pause or resume changes the marker on each target it touched: written with the
    /// group's pause, or cleared (so the holder of the lease, wherever it runs, and every
    /// other console honour it). The writes are made at the start of the next tick.
    fn queue_marker_writes(&mut self, before: &[(Option<Pause>, Option<Pause>)], now: Timestamp) {
        for (index, (group, before)) in self.core.groups.iter().zip(before).enumerate() {
            let autoscaler = &group.autoscaler;
            if (&autoscaler.state.pause, &autoscaler.marker_pause) != (&before.0, &before.1) {
                let pause = autoscaler.state.pause.as_ref().filter(|p| p.is_active(now));
                self.marker_writes.insert(index, pause.map(crate::model::marker::encode));
            }
        }
    }

    /// Applies a `:sim` command to the simulated fleet, if there is one.
    fn sim_command(&self, action: &crate::protocol::SimCommand, at: Timestamp) -> Reply {
        match &self.sim {
            None => {
                Reply::Refused { reason: "this fleet is not simulated; :sim has nothing to act on".into() }
            }
            Some(sim) => match sim.apply(action, at) {
                Ok(description) => Reply::Ok { message: description },
                Err(error) => Reply::Failed { error },
            },
        }
    }

    /// Starts writing the decision/audit log to `path` (replacing any log already open).
    pub fn set_audit_log(&mut self, path: PathBuf) {
        self.flush_audit();
        self.audit = open_audit_log(&path);
        self.core.settings.record_states = self.audit.is_some();
        self.settings.audit_log = Some(path);
    }

    /// One lease round for every group at once ([`lease`](super::lease)): each takes or
    /// renews its lease — shadow-mode groups too, since their autoscaler on trial pages —
    /// or, in a read-only engine, only reads who holds it. The clocks are read per group
    /// right before its store call.
    pub(super) async fn renew_leases(&mut self) {
        let Some(store) = self.leases.clone() else { return };
        let take = !self.core.settings.readonly;
        let (identity, timing, clock) = (&self.identity, &self.settings.lease, &self.clock);
        let rounds = self.core.groups.iter().zip(&mut self.io).map(|(group, io)| {
            let (store, name) = (store.clone(), &group.spec.name);
            async move {
                let at = lease::Reading::of(clock.as_ref());
                match io.lease.round(store.as_ref(), name, identity, timing, take, at).await {
                    Ok(lease::Round::Ours { taken: true, taken_from }) => {
                        match taken_from {
                            Some(previous) => {
                                tracing::warn!(group = %name, %previous, "took over a lease its holder stopped renewing")
                            }
                            None => tracing::info!(group = %name, "took the lease"),
                        }
                        true
                    }
                    Ok(_) => false,
                    Err(err) => {
                        tracing::error!(group = %name, %err, "lease round failed");
                        false
                    }
                }
            }
        });
        let taken = join_all(rounds).await;
        // A new holder pages from what the store says is open, not from what it saw while
        // it only observed.
        if let Some(store) = &self.store {
            for (group, _) in self.core.groups.iter_mut().zip(taken).filter(|(_, taken)| *taken) {
                if let Err(err) = adopt_pages(group, store) {
                    tracing::error!(group = %group.spec.name, %err, "reading the open pages");
                }
            }
        }
    }

    /// Gives back the leases this engine holds, so another engine can act at once.
    pub async fn release_leases(&mut self) {
        let Some(store) = self.leases.clone() else { return };
        let now = self.clock.now();
        for (group, io) in self.core.groups.iter().zip(&mut self.io) {
            if let Err(err) = io.lease.release(store.as_ref(), &self.identity, now).await {
                tracing::error!(group = %group.spec.name, %err, "releasing the lease");
            }
        }
    }

    /// Keeps operator state in `store` from now on, and restores what it holds: pauses,
    /// holds, silences, shadow modes set by operators and breaker trips from before a
    /// restart are in force again, the last 24 hours of 1-minute history are back in the
    /// charts, and predictive groups get their load profiles. A pause stored for every
    /// group ([`store::GLOBAL`]) applies to each group without one of its own.
    pub fn set_store(&mut self, store: Store) -> Result<(), StoreError> {
        let now = self.clock.now();
        let pauses = store.pauses(now)?;
        let holds = store.holds(now)?;
        let silences = store.silences(now)?;
        let shadows = store.shadow_modes()?;
        let trips = store.trips()?;
        for group in &mut self.core.groups {
            let name = group.spec.name.clone();
            let autoscaler = &mut group.autoscaler;
            let own = pauses.iter().find(|p| p.group == name);
            let global = pauses.iter().find(|p| p.group == store::GLOBAL);
            if let Some(record) = own.or(global) {
                autoscaler.state.pause = Some(record.pause.clone());
            }
            if let Some(record) = holds.iter().find(|h| h.group == name) {
                autoscaler.state.hold = Some(record.hold.clone());
            }
            if let Some((_, shadow)) = shadows.iter().find(|(g, _)| *g == name)
                && !self.core.settings.readonly
            {
                autoscaler.mode = if *shadow { AutoscaleMode::Shadow } else { AutoscaleMode::Act };
            }
            group.silence = silences.iter().find(|s| s.group == name).cloned();
            autoscaler.breaker.restore(trips.iter().cloned());
        }
        self.restore_history(&store, now)?;
        self.restore_pages(&store)?;
        // Leases on a connection of their own, used off the async task. An in-memory store
        // (tests) has no file to share: its leases are this process's alone.
        let leases = match store.path() {
            Some(path) => Store::open(path)?,
            None => Store::open_in_memory()?,
        };
        self.leases = Some(Arc::new(crate::store::SqliteLeaseStore::new(leases)));
        self.store = Some(store);
        Ok(())
    }

    /// Alarms that paged before a restart and never resolved: their pagers remember them,
    /// so a resolve follows when they stop firing (or they stay paged while they fire).
    fn restore_pages(&mut self, store: &Store) -> Result<(), StoreError> {
        for index in 0..self.core.groups.len() {
            adopt_pages(&mut self.core.groups[index], store)?;
        }
        Ok(())
    }

    /// Loads the last 24 hours of 1-minute history and the load profiles.
    fn restore_history(&mut self, store: &Store, now: Timestamp) -> Result<(), StoreError> {
        let since = now.minus(super::backfill::CHART_SPAN);
        for index in 0..self.core.groups.len() {
            let name = self.core.groups[index].spec.name.clone();
            for (kind, minutes) in store.load_group_minutes(&name, since)? {
                self.restore_series(index, &kind, &minutes);
            }
        }
        refresh_load_profiles(&mut self.core, store, now);
        Ok(())
    }

    /// Writes every 1-minute aggregate not yet on disk, and the minute still open (so a
    /// crash loses at most a tick of it), in one transaction; prunes what is older than
    /// the retention once an hour, and refreshes the load profiles then.
    pub(super) fn persist_history(&mut self, now: Timestamp) {
        let Some(store) = &self.store else { return };
        let aggregate = |(minute, p): (Timestamp, MinutePoint)| MinuteAggregate {
            minute,
            mean: f64::from(p.mean),
            max: f64::from(p.max),
        };
        let mut batch = Vec::new();
        for (index, (group, io)) in self.core.groups.iter().zip(&self.io).enumerate() {
            for (kind, history) in &group.series {
                let after = io.persisted_minute.get(kind).copied();
                // From the newest back to the last one written: a tick closes at most one.
                let mut minutes: Vec<MinuteAggregate> = history
                    .minutes()
                    .rev()
                    .take_while(|(at, _)| after.is_none_or(|a| *at >= a))
                    .filter(|(_, p)| !p.is_gap())
                    .map(aggregate)
                    .collect();
                minutes.reverse();
                minutes.extend(history.open_minute().map(aggregate));
                if !minutes.is_empty() {
                    batch.push((index, kind, minutes));
                }
            }
        }
        let rows: Vec<(&str, &MetricKind, &[MinuteAggregate])> = batch
            .iter()
            .map(|(index, kind, minutes)| {
                (self.core.groups[*index].spec.name.as_str(), *kind, minutes.as_slice())
            })
            .collect();
        match store.record_minutes_batch(&rows) {
            // Only what is on disk counts as written: after a failure it is tried again.
            Ok(_) => {
                for (index, kind, minutes) in &batch {
                    if let Some(newest) = minutes.last() {
                        self.io[*index].persisted_minute.insert((*kind).clone(), newest.minute);
                    }
                }
            }
            Err(err) => tracing::error!(%err, "saving 1-minute history"),
        }
        let hour = now.as_millis().div_euclid(3_600_000);
        if self.history_hour != Some(hour) {
            self.history_hour = Some(hour);
            if let Err(err) = store.prune_history(now.minus(store::HISTORY_RETENTION)) {
                tracing::error!(%err, "pruning 1-minute history");
            }
            match store.prune_outbox(now.minus(OUTBOX_RETENTION)) {
                Ok((_, 0)) => {}
                Ok((_, given_up)) => {
                    tracing::warn!(given_up, "outbox: dropped messages never delivered within 7 days")
                }
                Err(err) => tracing::error!(%err, "pruning the outbox"),
            }
            refresh_load_profiles(&mut self.core, store, now);
        }
    }

    /// Writes every group's pause, hold, silence and shadow mode to the store (set or
    /// cleared) after an operator command changed them. Store errors are logged: the
    /// command took effect in this engine either way.
    pub(super) fn persist_operator_state(&self, now: Timestamp, request: &CommandRequest) {
        let Some(store) = &self.store else { return };
        let by = request.operator.to_string();
        for group in &self.core.groups {
            let state = &group.autoscaler.state;
            let result = match &state.pause {
                Some(pause) => store.set_pause(&state.name, pause, now),
                None => store.clear_pause(&state.name, now).map(|_| ()),
            }
            .and_then(|()| match &state.hold {
                Some(hold) => store.set_hold(&state.name, hold, request.reason.as_deref().unwrap_or("")),
                None => store.clear_hold(&state.name, now).map(|_| ()),
            })
            .and_then(|()| match &group.silence {
                Some(silence) => store.set_silence(silence),
                None => store.clear_silence(&state.name, now).map(|_| ()),
            })
            .and_then(|()| match &request.command {
                Command::Shadow { target, on } if target.includes(&state.name) => {
                    store.set_shadow(&state.name, *on, &by, now)
                }
                _ => Ok(()),
            });
            if let Err(err) = result {
                tracing::error!(group = %state.name, %err, "saving operator state");
            }
        }
    }

    /// Saves trips opened and closed.
    pub(super) fn store_breaker_changes(&self, changes: &[BreakerEvent]) {
        let Some(store) = &self.store else { return };
        for change in changes {
            let result = match change {
                BreakerEvent::Tripped { trip } => store.set_trip(trip),
                BreakerEvent::Reset { group, kind, .. } => store.clear_trip(group, *kind).map(|_| ()),
            };
            if let Err(err) = result {
                tracing::error!(%err, "saving the breaker state");
            }
        }
    }

    /// Records each page's episode as open or closed, and queues the page or resolve in
    /// the outbox once per notifier, for them to deliver (in order per dedup key).
    pub(super) fn enqueue_notifications(&self, notifications: &[Notification], now: Timestamp) {
        for n in notifications {
            tracing::warn!(group = %n.group, alarm = %n.alarm, kind = n.kind.word(), summary = %n.summary, "notification");
        }
        let Some(store) = &self.store else { return };
        for n in notifications {
            let group = self.core.index_of(&n.group).and_then(|i| self.io[i].notifiers.as_ref());
            let notifiers: Vec<&str> =
                group.unwrap_or(&self.settings.notifiers).iter().map(String::as_str).collect();
            let episode = match n.kind {
                NotificationKind::Trigger => {
                    let since = self
                        .core
                        .index_of(&n.group)
                        .and_then(|i| self.core.groups[i].pager.paged(&n.alarm))
                        .map_or(n.at, |p| p.since);
                    let page = OpenPage {
                        group: n.group.clone(),
                        alarm: n.alarm.clone(),
                        dedup_key: n.dedup_key.clone(),
                        summary: n.summary.clone(),
                        since,
                        severity: n.severity,
                    };
                    store.open_page(&page)
                }
                NotificationKind::Resolve => store.close_page(&n.dedup_key).map(|_| ()),
            };
            if let Err(err) = episode {
                tracing::error!(%err, "recording a page");
            }
            if notifiers.is_empty() {
                continue;
            }
            let payload = match serde_json::to_value(n) {
                Ok(mut payload) => {
                    self.page_context(&mut payload, n);
                    payload
                }
                Err(err) => {
                    tracing::error!(%err, "encoding a notification");
                    continue;
                }
            };
            let (message_key, order_key) = (n.message_key(), n.order_key());
            let message = NewMessage {
                group: &n.group,
                message_key: &message_key,
                order_key: &order_key,
                payload: &payload,
            };
            if let Err(err) = store.enqueue(&notifiers, &message, now) {
                tracing::error!(%err, "queueing a notification");
            }
        }
    }

    /// Writes every pending line of the decision log (coalesced runs) and syncs it.
    pub fn flush_audit(&mut self) {
        if let Some(audit) = &mut self.audit
            && let Err(err) = audit.flush()
        {
            tracing::error!(%err, "flushing the decision log");
        }
    }
}

/// Recomputes predictive groups' daily and weekly load profiles from the minutes stored.
pub(super) fn refresh_load_profiles(core: &mut TickCore, store: &Store, now: Timestamp) {
    for index in 0..core.groups.len() {
        let group = &core.groups[index];
        let Some(predictive) = &group.autoscaler.state.policy.predictive else { continue };
        // The store returns the minutes; the policy's own builder makes the profile.
        let profile = match store.profile_minutes(&group.spec.name, &predictive.metric, now) {
            Ok(points) => crate::policy::predictive::build_load_profile(
                &points,
                crate::policy::predictive::PROFILE_SLOT,
            )
            .map_err(|err| err.to_string()),
            Err(err) => Err(err.to_string()),
        };
        match profile {
            Ok(profile) => core.set_load_profile(index, Some(profile)),
            Err(err) => tracing::error!(group = %group.spec.name, %err, "computing the load profile"),
        }
    }
}
