//! Prometheus's own alerts ([`MetricSource::alerts`], with `alerts = true`): the active
//! ones of `/api/v1/alerts`, each the group its labels name.

use super::*;

impl PrometheusSource {
    /// [`MetricSource::alerts`]: every active alert (`/api/v1/alerts`) that is one of
    /// `groups`' ([`alert_group`](Self::alert_group)), firing first.
    pub(super) async fn read_alerts(&self, groups: &[GroupSpec]) -> SourceAlerts {
        let body = self.call("alerts", Vec::new()).await?;
        let (alerts, warnings) = response::parse_alerts(body.as_ref())
            .map_err(|failure| failure.into_backend_error(&self.what()))?;
        for warning in &warnings {
            tracing::warn!(source = %self.name, %warning, "Prometheus warning on its alerts");
        }
        let mut out: Vec<Vec<SourceAlert>> = vec![Vec::new(); groups.len()];
        for alert in &alerts {
            if let (Some(i), Some(read)) = (self.alert_group(&alert.labels, groups), source_alert(alert)) {
                out[i].push(read);
            }
        }
        for list in &mut out {
            list.sort_by(|a, b| {
                (b.state == AlarmState::Firing, &a.name).cmp(&(a.state == AlarmState::Firing, &b.name))
            });
        }
        Ok(out)
    }

    /// Whose an alert is: the group its `fleetdeck_group` label names, else the one the
    /// source's `group_label` names, else the one a pod label names a pod of (`llm-chat-…`,
    /// the longest name, a later pod label winning) — the rules the queries group series
    /// by. The source's `matchers` do not apply: the alerts API has no selector.
    fn alert_group(&self, labels: &response::Labels, groups: &[GroupSpec]) -> Option<usize> {
        let named = |label: &str| {
            let value = labels.get(label)?;
            groups.iter().position(|g| g.name == *value)
        };
        if let Some(i) = named(queries::GROUP_LABEL) {
            return Some(i);
        }
        if let Some(label) = &self.settings.group_label {
            return named(label);
        }
        let pod_of = |pod: &str| {
            let owners = groups.iter().enumerate().filter(|(_, g)| {
                pod.strip_prefix(g.name.as_str()).is_some_and(|rest| rest.len() > 1 && rest.starts_with('-'))
            });
            owners.max_by_key(|(_, g)| g.name.len()).map(|(i, _)| i)
        };
        let mut pods = self.settings.pod_labels.iter().rev().filter_map(|label| labels.get(label));
        pods.find_map(|pod| pod_of(pod))
    }
}

/// An alert as fleetdeck shows it; None for a state other than pending or firing.
fn source_alert(alert: &response::Alert) -> Option<SourceAlert> {
    let state = match alert.state.as_str() {
        "firing" => AlarmState::Firing,
        "pending" => AlarmState::Pending,
        _ => return None,
    };
    let since = alert.active_at.as_deref().and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok());
    let name = alert.labels.get("alertname").cloned().unwrap_or_else(|| "(no alertname)".to_string());
    let summary = match alert.annotations.get("summary").or_else(|| alert.annotations.get("description")) {
        Some(text) => text.clone(),
        None => {
            let labels = alert.labels.iter().filter(|(k, _)| k.as_str() != "alertname");
            labels.map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
        }
    };
    Some(SourceAlert {
        name,
        state,
        since: since.map(|t| Timestamp::from_millis(t.timestamp_millis())),
        value: alert.value.as_deref().and_then(|v| response::value(v).ok()),
        summary,
    })
}
