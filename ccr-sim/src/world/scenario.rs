//! Scenario files: control actions scripted over time (TOML), for demos and long tests.
//!
//! ```toml
//! [[event]]
//! at = "30s"                    # after the scenario starts (humantime: 500ms, 2m, 1h 5m)
//! cluster = "follower"          # the cluster the action applies to
//! action = "disconnect_remote"  # any control action (see `Action`)
//! alias = "leader"
//!
//! [[event]]
//! at = "1m"
//! cluster = "follower"
//! action = "connect_remote"
//! alias = "leader"
//! ```
//!
//! Events fire on the simulator's clock, so a deterministic simulator fires them during
//! `advance`.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::action::Action;
use crate::error::ScenarioError;
use crate::world::model::{Scheduled, World};

/// One scripted event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// When, relative to the scenario's start.
    pub at: String,
    /// The cluster the action applies to.
    pub cluster: String,
    /// What happens.
    pub action: Action,
}

impl<'de> Deserialize<'de> for Event {
    // By hand rather than `#[serde(flatten)]`, which would silently accept misspelt fields.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut t = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let mut text = |k: &str| match t.remove(k) {
            Some(serde_json::Value::String(s)) => Ok(s),
            Some(_) => Err(D::Error::custom(format!("`{k}` must be a string"))),
            None => Err(D::Error::missing_field(if k == "at" {
                "at"
            } else {
                "cluster"
            })),
        };
        let at = text("at")?;
        let cluster = text("cluster")?;
        let action =
            serde_json::from_value(serde_json::Value::Object(t)).map_err(D::Error::custom)?;
        Ok(Event {
            at,
            cluster,
            action,
        })
    }
}

/// A parsed scenario.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The events, in any order (they are sorted by time when scheduled).
    #[serde(default, rename = "event")]
    pub events: Vec<Event>,
}

impl Scenario {
    /// Parses scenario TOML and checks every event's time.
    pub fn from_toml_str(text: &str) -> Result<Self, ScenarioError> {
        let s: Scenario = toml::from_str(text).map_err(|e| ScenarioError::Parse(e.to_string()))?;
        for (i, e) in s.events.iter().enumerate() {
            parse_at(i + 1, &e.at)?;
        }
        Ok(s)
    }

    /// Reads and parses a scenario file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ScenarioError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text)
    }

    /// The events with their parsed times, sorted by time.
    pub fn timeline(&self) -> Result<Vec<(Duration, &Event)>, ScenarioError> {
        let mut out = Vec::with_capacity(self.events.len());
        for (i, e) in self.events.iter().enumerate() {
            out.push((parse_at(i + 1, &e.at)?, e));
        }
        out.sort_by_key(|(d, _)| *d);
        Ok(out)
    }
}

fn parse_at(index: usize, at: &str) -> Result<Duration, ScenarioError> {
    let at_trim = at.trim();
    if at_trim == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(at_trim).map_err(|e| ScenarioError::Time {
        index,
        at: at.to_string(),
        reason: e.to_string(),
    })
}

/// Schedules a scenario's events relative to now.
pub(crate) fn schedule(w: &mut World, s: &Scenario) -> Result<(), ScenarioError> {
    let now = w.clock.now_ms();
    let mut new = Vec::new();
    for (i, e) in s.events.iter().enumerate() {
        let at = parse_at(i + 1, &e.at)?;
        let cluster = w
            .cluster_index(&e.cluster)
            .ok_or_else(|| ScenarioError::UnknownCluster {
                index: i + 1,
                cluster: e.cluster.clone(),
            })?;
        new.push(Scheduled {
            at_ms: now + at.as_millis() as u64,
            cluster,
            action: e.action.clone(),
            label: format!("{} on {}", e.at, e.cluster),
        });
    }
    w.scenario.extend(new);
    w.scenario.sort_by_key(|s| s.at_ms);
    Ok(())
}

/// Removes and returns, in time order, every event whose time has come.
pub(crate) fn take_due(w: &mut World, now: u64) -> Vec<Scheduled> {
    let n = w.scenario.iter().take_while(|s| s.at_ms <= now).count();
    w.scenario.drain(..n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_and_rejects_bad_ones() {
        let s = Scenario::from_toml_str(
            r#"
[[event]]
at = "30s"
cluster = "follower"
action = "disconnect_remote"
alias = "leader"

[[event]]
at = "5s"
cluster = "leader"
action = "writes"
index = "logs"
docs_per_second = 20.0
"#,
        )
        .unwrap();
        assert_eq!(s.events.len(), 2);
        assert_eq!(
            s.events[0].action,
            Action::DisconnectRemote {
                alias: "leader".into(),
                mode: crate::action::DisconnectMode::Refused,
            }
        );
        let t = s.timeline().unwrap();
        assert_eq!(t[0].0, Duration::from_secs(5));

        let bad_action = Scenario::from_toml_str(
            "[[event]]\nat = \"1s\"\ncluster = \"a\"\naction = \"explode\"\n",
        );
        assert!(matches!(bad_action, Err(ScenarioError::Parse(_))));
        let bad_time = Scenario::from_toml_str(
            "[[event]]\nat = \"soon\"\ncluster = \"a\"\naction = \"isolate\"\n",
        );
        assert!(matches!(
            bad_time,
            Err(ScenarioError::Time { index: 1, .. })
        ));
        let bad_field = Scenario::from_toml_str(
            "[[event]]\nat = \"1s\"\ncluster = \"a\"\naction = \"isolate\"\nfoo = 1\n",
        );
        assert!(bad_field.is_err());
    }
}
