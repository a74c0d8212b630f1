//! `/stats`: a page that polls `/stats.json` and draws, over the last five
//! minutes, the active connections and the upgrades per second, accepted
//! against refused by reason.
//!
//! The numbers are the ones `/metrics` shows: a task renders the
//! Prometheus registry once a second and keeps the differences.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use tower_upgrade::Connections;

/// One point a second…
const EVERY: Duration = Duration::from_secs(1);
/// …for five minutes.
const KEEP: usize = 300;

#[derive(Clone, Serialize)]
struct Sample {
    /// Unix time, milliseconds.
    t: u64,
    /// Upgraded connections open.
    active: usize,
    /// Upgrades accepted per second since the previous sample.
    accepted: f64,
    /// Upgrades refused per second since the previous sample, by reason.
    refused: BTreeMap<String, f64>,
}

/// The counters of the crate, summed over protocols.
#[derive(Default)]
struct Totals {
    accepted: f64,
    refused: BTreeMap<String, f64>,
}

impl Totals {
    /// Reads them from the Prometheus text format.
    fn parse(text: &str) -> Self {
        let mut totals = Totals::default();
        for line in text.lines() {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            if series.starts_with("tower_upgrade_accepted_total") {
                totals.accepted += value;
            } else if series.starts_with("tower_upgrade_rejected_total{") {
                let reason = series
                    .split_once("reason=\"")
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map_or("unknown", |(reason, _)| reason);
                *totals.refused.entry(reason.to_owned()).or_default() += value;
            }
        }
        totals
    }
}

#[derive(Clone)]
pub(crate) struct Stats {
    samples: Arc<Mutex<VecDeque<Sample>>>,
    /// The instance these numbers are of (they are per instance).
    instance: Arc<str>,
}

impl Stats {
    /// Starts sampling once a second.
    pub(crate) fn start(
        prometheus: PrometheusHandle,
        connections: Connections,
        instance: &str,
    ) -> Self {
        let stats = Stats {
            samples: Arc::new(Mutex::new(VecDeque::with_capacity(KEEP))),
            instance: instance.into(),
        };
        let samples = stats.samples.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut before = Totals::parse(&prometheus.render());
            let mut then = Instant::now();
            loop {
                every.tick().await;
                let now = Totals::parse(&prometheus.render());
                let seconds = then.elapsed().as_secs_f64().max(0.001);
                then = Instant::now();
                let refused = now
                    .refused
                    .iter()
                    .map(|(reason, &n)| {
                        let was = before.refused.get(reason).copied().unwrap_or(0.0);
                        (reason.clone(), (n - was) / seconds)
                    })
                    .collect();
                let sample = Sample {
                    t: SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as u64),
                    active: connections.active(),
                    accepted: (now.accepted - before.accepted) / seconds,
                    refused,
                };
                before = now;
                let mut samples = samples.lock().unwrap();
                if samples.len() == KEEP {
                    samples.pop_front();
                }
                samples.push_back(sample);
            }
        });
        stats
    }

    /// The body of `/stats.json`.
    pub(crate) fn json(&self) -> serde_json::Value {
        let samples: Vec<Sample> = self.samples.lock().unwrap().iter().cloned().collect();
        serde_json::json!({
            "instance": &*self.instance,
            "interval_ms": EVERY.as_millis() as u64,
            "samples": samples,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Totals;

    #[test]
    fn parses_the_exporter_text() {
        let text = "# TYPE tower_upgrade_accepted_total counter\n\
            tower_upgrade_accepted_total{protocol=\"websocket\"} 3\n\
            tower_upgrade_rejected_total{protocol=\"websocket\",reason=\"forbidden_origin\"} 2\n\
            tower_upgrade_rejected_total{reason=\"forbidden_origin\",protocol=\"other\"} 1\n\
            tower_upgrade_rejected_total{protocol=\"websocket\",reason=\"missing_host\"} 1\n\
            tower_upgrade_active{protocol=\"websocket\"} 7\n";
        let totals = Totals::parse(text);
        assert_eq!(totals.accepted, 3.0);
        assert_eq!(totals.refused["forbidden_origin"], 3.0);
        assert_eq!(totals.refused["missing_host"], 1.0);
        assert_eq!(totals.refused.len(), 2);
    }
}
