//! A config reloaded into the running engine (SIGHUP): what changes in place and what
//! needs a restart.

use super::*;

impl Engine {
    /// Applies a reloaded config to the running engine: the groups' bounds, policies and
    /// alarms ([`TickCore::reconfigure`]); call timeout, backoff, lease timing and breaker
    /// thresholds; which notifiers the engine and each group queue for; each source connection's poll interval and staleness limit and each
    /// actuator connection's concurrency. What cannot change while running — the set of
    /// groups or connections, a group's connections, the engine's tick — is named in
    /// `restart_needed`.
    pub fn reload(&mut self, config: &Config) -> Reconfigured {
        let groups: Vec<_> =
            config.groups.iter().map(|g| (g.spec.clone(), g.policy.clone(), g.alarms.clone())).collect();
        let mut out = self.core.reconfigure(&groups, self.clock.now());
        let next = EngineSettings::from_config(config);
        let mut changed = Vec::new();
        let text = crate::model::format_duration;
        let settings = &mut self.settings;
        for (name, old, new) in [
            ("call timeout", &mut settings.call_timeout, next.call_timeout),
            ("max backoff", &mut settings.max_backoff, next.max_backoff),
            ("lease ttl", &mut settings.lease.ttl, next.lease.ttl),
            ("lease skew margin", &mut settings.lease.skew_margin, next.lease.skew_margin),
        ] {
            if *old != new {
                changed.push(format!("{name} {} → {}", text(*old), text(new)));
                *old = new;
            }
        }
        if next.poll_interval != settings.poll_interval {
            out.restart_needed.push(format!(
                "the engine's tick {} → {} (its fastest source's poll interval)",
                text(settings.poll_interval),
                text(next.poll_interval)
            ));
        }
        // Only which notifiers a message is queued for: their senders read the outbox.
        let list = |names: &[String]| if names.is_empty() { "none".to_string() } else { names.join(", ") };
        if settings.notifiers != next.notifiers {
            changed.push(format!("notifiers {} → {}", list(&settings.notifiers), list(&next.notifiers)));
            settings.notifiers = next.notifiers.clone();
        }
        for group in &config.groups {
            let Some(i) = self.core.index_of(&group.spec.name) else { continue };
            let own = (group.notifiers != next.notifiers).then(|| group.notifiers.clone());
            if self.io[i].notifiers != own {
                let name = &group.spec.name;
                changed.push(format!("{name}: notifiers {}", list(&group.notifiers)));
                self.io[i].notifiers = own;
            }
        }
        let breaker_changed =
            self.core.groups.iter().any(|g| *g.autoscaler.breaker.settings() != config.breaker);
        if breaker_changed {
            for group in &mut self.core.groups {
                group.autoscaler.breaker.set_settings(config.breaker.clone());
            }
            changed.push("breaker thresholds".to_string());
        }
        self.reload_connections(config, &mut changed, &mut out.restart_needed);
        if !changed.is_empty() {
            out.applied.push(changed.join(", "));
        }
        out
    }

    /// The connection part of [`Engine::reload`]: timings and limits change in place,
    /// matched by name; a connection added or gone needs a restart.
    fn reload_connections(&mut self, config: &Config, changed: &mut Vec<String>, restart: &mut Vec<String>) {
        let text = crate::model::format_duration;
        for source in &mut self.sources {
            let name = source.conn.source.name().to_string();
            let Some(new) = config.source(&name) else {
                restart.push(format!("source {name} removed"));
                continue;
            };
            if (source.conn.poll_interval, source.conn.stale_after) != (new.poll_interval, new.stale_after) {
                changed.push(format!(
                    "source {name}: poll {} → {}, stale after {} → {}",
                    text(source.conn.poll_interval),
                    text(new.poll_interval),
                    text(source.conn.stale_after),
                    text(new.stale_after)
                ));
                (source.conn.poll_interval, source.conn.stale_after) = (new.poll_interval, new.stale_after);
            }
        }
        for (group, io) in self.core.groups.iter_mut().zip(&self.io) {
            group.stale_after = self.sources[io.source].conn.stale_after;
        }
        for actuator in &mut self.actuators {
            let name = actuator.conn.actuator.name().to_string();
            let Some(new) = config.actuator(&name) else {
                restart.push(format!("actuator {name} removed"));
                continue;
            };
            if actuator.conn.max_concurrency != new.max_concurrency {
                changed.push(format!(
                    "actuator {name}: max concurrency {} → {}",
                    actuator.conn.max_concurrency, new.max_concurrency
                ));
                actuator.conn.max_concurrency = new.max_concurrency;
                actuator.permits = Arc::new(tokio::sync::Semaphore::new(new.max_concurrency.max(1)));
            }
        }
        let known = |name: &str| self.sources.iter().any(|s| s.conn.source.name() == name);
        restart.extend(
            config.sources.iter().filter(|s| !known(&s.name)).map(|s| format!("new source {}", s.name)),
        );
        let known = |name: &str| self.actuators.iter().any(|a| a.conn.actuator.name() == name);
        restart.extend(
            config.actuators.iter().filter(|a| !known(&a.name)).map(|a| format!("new actuator {}", a.name)),
        );
    }
}
