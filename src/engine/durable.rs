//! The engine's side that outlives a tick: operator commands (answered, logged,
//! persisted), the per-group leases, and the fleet's store and decision log. Split from
//! `engine` by concern; these are `impl Engine` blocks over the same state.

use std::path::PathBuf;

use super::*;

impl Engine {
    /// Answers one command. Every command is answered and announced as an event.
    pub fn handle_command(&mut self, request: CommandRequest) -> Reply {
        let reply = if self.settings.readonly && request.command.is_mutating() {
            Reply::Refused {
                reason: "read-only: this fleetdeck changes nothing (started with --readonly)".into(),
            }
        } else {
            match &request.command {
                Command::Sim { action } => match &self.sim {
                    None => Reply::Refused {
                        reason: "this fleet is not simulated; :sim has nothing to act on".into(),
                    },
                    Some(fleet) => match lock_fleet(fleet) {
                        Err(error) => Reply::Failed { error },
                        Ok(mut fleet) => {
                            fleet.advance_to(self.clock.now());
                            match fleet.apply(action) {
                                Ok(description) => Reply::Ok { message: description },
                                Err(error) => Reply::Failed { error: error.to_string() },
                            }
                        }
                    },
                },
                Command::Pause { .. }
                | Command::Resume { .. }
                | Command::ForceScale { .. }
                | Command::Shadow { .. } => {
                    let autoscalers = self.groups.iter_mut().map(|g| &mut g.autoscaler);
                    operator::apply(autoscalers, &request, self.clock.now())
                }
                Command::ResetBreaker { target } => self.reset_breakers(target, &request.operator),
            }
        };
        let at = self.clock.now();
        tracing::info!(operator = %request.operator, command = %request.command, ?reply, "command");
        if matches!(reply, Reply::Ok { .. }) && !matches!(request.command, Command::Sim { .. }) {
            self.persist_operator_state(at);
        }
        if let Some(audit) = &mut self.audit
            && let Err(err) = audit.record_command(at, &request, &reply)
        {
            tracing::error!(%err, "writing the decision log");
        }
        if let (Command::Sim { .. }, Reply::Ok { message }) = (&request.command, &reply) {
            self.emit(Event::Sim { at, description: message.clone() });
        }
        self.emit(Event::CommandHandled {
            at,
            operator: request.operator.to_string(),
            command: request.command.to_string(),
            reply: reply.clone(),
        });
        reply
    }

    /// Starts writing the decision/audit log to `path` (replacing any log already open).
    pub fn set_audit_log(&mut self, path: PathBuf) {
        self.flush_audit();
        self.audit = open_audit_log(&path);
        self.settings.audit_log = Some(path);
    }

    /// Takes or renews each group's lease in the store (compare-and-swap); a lease held
    /// by another live engine is only recorded, for the snapshot. Leases last three poll
    /// intervals, so a holder that stops renewing is replaced within three ticks.
    pub(super) fn renew_leases(&mut self, now: Timestamp) {
        let Some(store) = &self.store else { return };
        let ttl = self.settings.poll_interval.saturating_mul(3).max(Duration::from_secs(5));
        let (holder, host) = &self.identity;
        for group in &mut self.groups {
            match store.try_acquire(&group.spec.name, holder, host, ttl, now) {
                Ok(outcome) => {
                    if let LeaseOutcome::Acquired { expired: Some(previous), .. } = &outcome {
                        tracing::warn!(group = %group.spec.name, previous = %previous.holder, "took over an expired lease");
                    }
                    group.lease = Some(outcome.lease().clone());
                }
                Err(err) => {
                    // Unknown ownership: act as an observer until the store answers.
                    tracing::error!(group = %group.spec.name, %err, "lease store");
                    group.lease = Some(LeaseRecord {
                        group: group.spec.name.clone(),
                        holder: "unknown (lease store unavailable)".into(),
                        host: String::new(),
                        acquired_at: now,
                        expires_at: now,
                    });
                }
            }
        }
    }

    /// Gives back the leases this engine holds, so another engine can act at once.
    pub fn release_leases(&mut self) {
        let Some(store) = &self.store else { return };
        for group in &mut self.groups {
            if group.lease.as_ref().is_some_and(|l| l.holder == self.identity.0) {
                if let Err(err) = store.release(&group.spec.name, &self.identity.0) {
                    tracing::error!(group = %group.spec.name, %err, "releasing the lease");
                }
                group.lease = None;
            }
        }
    }

    /// Keeps operator state (pauses, holds) in `store` from now on, and restores what it
    /// holds: a pause or hold set before a restart is in force again. A pause stored for
    /// every group ([`store::GLOBAL`]) applies to each group without one of its own.
    pub fn set_store(&mut self, store: Store) -> Result<(), StoreError> {
        let now = self.clock.now();
        let pauses = store.pauses(now)?;
        let holds = store.holds(now)?;
        for group in &mut self.groups {
            let state = &mut group.autoscaler.state;
            let own = pauses.iter().find(|p| p.group == state.name);
            let global = pauses.iter().find(|p| p.group == store::GLOBAL);
            if let Some(record) = own.or(global) {
                state.pause = Some(record.pause.clone());
            }
            if let Some(record) = holds.iter().find(|h| h.group == state.name) {
                state.hold = Some(record.hold.clone());
            }
        }
        let trips = store.trips()?;
        for group in &mut self.groups {
            group.autoscaler.breaker.restore(trips.iter().cloned());
        }
        self.store = Some(store);
        Ok(())
    }

    /// Writes every group's pause and hold to the store (set or cleared), after an
    /// operator command changed them. Store errors are logged: the command took effect in
    /// this engine either way.
    pub(super) fn persist_operator_state(&self, now: Timestamp) {
        let Some(store) = &self.store else { return };
        for group in &self.groups {
            let state = &group.autoscaler.state;
            let result = match &state.pause {
                Some(pause) => store.set_pause(&state.name, pause, now),
                None => store.clear_pause(&state.name, now).map(|_| ()),
            }
            .and_then(|()| match &state.hold {
                Some(hold) => store.set_hold(&state.name, hold, ""),
                None => store.clear_hold(&state.name, now).map(|_| ()),
            });
            if let Err(err) = result {
                tracing::error!(group = %state.name, %err, "saving pause and hold");
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
