//! A tick's polling, as the engine records it: which source connections are due and what
//! to observe ([`PollPlan`]), then each answer into its connection's and group's health
//! (the one error policy, [`health`](super::health)) and the core's input, and who may act.

use super::*;
use crate::sources::SourceAlerts;

impl Engine {
    /// This tick's calls: each source connection whose slot has come polls, in one call,
    /// its groups that are due (not backing off alone), and each of its groups is observed
    /// unless its actuator is backing off. Returns the plan and the groups polled.
    pub(super) fn plan_polls(&mut self, now: Timestamp) -> (PollPlan, Vec<usize>) {
        let tick = self.settings.poll_interval;
        let mut plan = PollPlan::default();
        let mut polled = Vec::new();
        for (s, source) in self.sources.iter_mut().enumerate() {
            if !source.take_slot(now, tick) {
                continue;
            }
            let mut groups = Vec::new();
            for (index, (group, io)) in
                self.core.groups.iter().zip(&self.io).enumerate().filter(|(_, (_, io))| io.source == s)
            {
                polled.push(index);
                if source.health.due(now) && io.source_health.due(now) {
                    groups.push((index, group.spec.clone()));
                }
                let actuator = &self.actuators[io.actuator];
                if actuator.health.due(now) && io.actuator_health.due(now) {
                    plan.observes.push(ObserveOrder {
                        group: index,
                        conn: actuator.conn.clone(),
                        permits: actuator.permits.clone(),
                        spec: group.spec.clone(),
                    });
                }
            }
            if !groups.is_empty() {
                plan.polls.push(PollOrder { source: s, conn: source.conn.clone(), groups });
            }
        }
        polled.sort_unstable();
        (plan, polled)
    }

    /// Records each source call in its connection's and its groups' health (announcing
    /// failures and recoveries) and hands the samples to the groups' inputs. A failure of
    /// the whole call, or one that concerns the whole connection, backs the connection
    /// off; a group's own failure (a missing series) backs off that group alone.
    pub(super) fn record_polls(&mut self, calls: Vec<SourceCall>, inputs: &mut [GroupInput], now: Timestamp) {
        let max_backoff = self.settings.max_backoff;
        for SourceCall { source: s, groups, result, alerts } in calls {
            if let Some(alerts) = alerts {
                self.record_alerts(s, &groups, alerts, now);
            }
            let base = self.sources[s].conn.poll_interval;
            let (connection_recovered, mut answers): (bool, Vec<Option<crate::sources::GroupPoll>>) =
                match result {
                    Ok(answers) => {
                        (self.sources[s].health.succeeded(), answers.into_iter().map(Some).collect())
                    }
                    Err(error) => {
                        self.source_connection_failed(s, &groups, &error, now);
                        continue;
                    }
                };
            if answers.len() < groups.len() {
                answers.resize_with(groups.len(), || None);
            }
            let count = groups.len();
            for (index, answer) in groups.into_iter().zip(answers) {
                let answer = answer.unwrap_or_else(|| {
                    Err(BackendError::transient(format!(
                        "the source answered for fewer than the {count} groups asked"
                    )))
                });
                match answer {
                    Ok(samples) => {
                        inputs[index].samples = samples;
                        if self.io[index].source_health.succeeded() | connection_recovered {
                            self.announce(index, Backend::Source, None, now);
                        }
                    }
                    Err(error) if error.kind.is_connection_wide() => {
                        let all: Vec<usize> =
                            (0..self.io.len()).filter(|&i| self.io[i].source == s).collect();
                        self.source_connection_failed(s, &all, &error, now);
                    }
                    Err(error) => {
                        let retry_at = self.io[index].source_health.failed(now, &error, base, max_backoff);
                        self.announce(index, Backend::Source, Some((error.to_string(), retry_at)), now);
                    }
                }
            }
        }
    }

    /// The platform's own alerts on `groups` as read with their poll. Alerts that cannot
    /// be read are not shown as none: each group shows one "no data" entry saying why.
    fn record_alerts(&mut self, s: usize, groups: &[usize], alerts: SourceAlerts, now: Timestamp) {
        let source = &mut self.sources[s];
        let name = source.conn.source.name().to_string();
        match alerts {
            Ok(lists) => {
                if source.alerts_failing_since.take().is_some() {
                    tracing::info!(source = %name, "the source's alerts can be read again");
                }
                let mut lists = lists.into_iter();
                for &index in groups {
                    self.io[index].alerts = lists.next().unwrap_or_default();
                }
            }
            Err(error) => {
                let since = *source.alerts_failing_since.get_or_insert_with(|| {
                    tracing::warn!(source = %name, %error, "cannot read the source's alerts");
                    now
                });
                let unreadable = crate::sources::SourceAlert {
                    name: "alerts".to_string(),
                    state: crate::model::AlarmState::InsufficientData,
                    since: Some(since),
                    value: None,
                    summary: format!("{name}'s own alerts cannot be read: {error}"),
                };
                for &index in groups {
                    self.io[index].alerts = vec![unreadable.clone()];
                }
            }
        }
    }

    /// A source connection failed as a whole: it backs off, and each of its groups says so.
    fn source_connection_failed(&mut self, s: usize, groups: &[usize], error: &BackendError, now: Timestamp) {
        let source = &mut self.sources[s];
        if source.health.failing() && now < source.health.retry_at {
            return; // already recorded this tick
        }
        let retry_at = source.health.failed(now, error, source.conn.poll_interval, self.settings.max_backoff);
        for &index in groups {
            self.announce(index, Backend::Source, Some((error.to_string(), retry_at)), now);
        }
    }

    /// Records each observation in the actuator's health and hands the capacity to the
    /// group's input; what else it saw of the target is kept for the snapshot.
    pub(super) fn record_observations(
        &mut self,
        calls: Vec<ObserveCall>,
        inputs: &mut [GroupInput],
        now: Timestamp,
    ) {
        let max_backoff = self.settings.max_backoff;
        for ObserveCall { group: index, result } in calls {
            let a = self.io[index].actuator;
            let base = self.sources[self.io[index].source].conn.poll_interval;
            match result {
                Ok(observation) => {
                    inputs[index].capacity = Some(observation.capacity);
                    let marker = observation.marker.as_deref().map(crate::model::marker::read);
                    let mut warnings = observation.warnings.clone();
                    warnings.extend(marker.as_ref().and_then(|m| m.warning.clone()));
                    inputs[index].target = Some(tick::TargetInput {
                        bounds: observation.bounds.map(|b| (b.min, b.max)),
                        marker: marker.map(|m| m.pause),
                    });
                    let connection_recovered = self.actuators[a].health.succeeded();
                    self.io[index].warnings = warnings;
                    self.io[index].target = Some(observation);
                    if self.io[index].actuator_health.succeeded() | connection_recovered {
                        self.announce(index, Backend::Actuator, None, now);
                    }
                }
                Err(error) => {
                    let health = if error.kind.is_connection_wide() {
                        &mut self.actuators[a].health
                    } else {
                        &mut self.io[index].actuator_health
                    };
                    let retry_at = health.failed(now, &error, base, max_backoff);
                    self.announce(index, Backend::Actuator, Some((error.to_string(), retry_at)), now);
                }
            }
        }
    }

    /// Announces a group's backend failing (with its retry) or recovering.
    fn announce(&self, index: usize, backend: Backend, failure: Option<(String, Timestamp)>, now: Timestamp) {
        let group = self.core.groups[index].spec.name.clone();
        let event = match failure {
            Some((error, retry_at)) => {
                tracing::warn!(%group, %backend, %error, "backend call failed");
                Event::BackendFailed { at: now, group, backend, error, retry_at }
            }
            None => {
                tracing::info!(%group, %backend, "backend recovered");
                Event::BackendRecovered { at: now, group, backend }
            }
        };
        self.emit(event);
    }

    /// Who acts on a polled group this tick: without the lease this engine observes (it
    /// decides, shows and logs, but the holder acts); a failing actuator is left alone
    /// until its retry is due. Hands over the previous action's outcome.
    pub(super) fn authorise(&mut self, index: usize, input: &mut GroupInput, now: Timestamp) {
        let settings = &self.settings;
        let io = &mut self.io[index];
        input.action_outcome = io.action_outcome.take();
        let required = self.leases.is_some() || self.actuators[io.actuator].conn.actuator.needs_lease();
        let (authority, pages) = lease::authority(
            &io.lease,
            required,
            self.leases.is_some(),
            &self.identity,
            self.clock.monotonic(),
            &settings.lease,
            settings.call_timeout,
        );
        input.pages = pages;
        input.authority = match authority {
            Authority::Act if !io.write_health.due(now) => {
                Authority::BackingOff { until: io.write_health.retry_at }
            }
            authority => authority,
        };
    }
}
