//! The heartbeat canary: the one write ccr-sentinel makes on a leader cluster. For every leader cluster of a
//! `heartbeat = true` remote, the `heartbeat` job writes `{"ts": <epoch ms>}` into the daemon's own index
//! [`HEARTBEAT_INDEX`] (created when missing, one primary, soft deletes; never deleted), one request per leader
//! cluster per run. Reconcile follows that index like a configured follower, and the `poll` job reads the
//! follower's copy: the delay between now and the newest timestamp there is the true end-to-end delay
//! (writes, replication and refresh), as pt-heartbeat measures it for MySQL.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use crate::config::{Config, HEARTBEAT_INDEX};
use crate::es::{Clients, EsError};
use crate::metrics::ActionMetrics;

/// The id of the one heartbeat document, overwritten by every write.
pub const HEARTBEAT_DOC: &str = "heartbeat";

/// Writes the heartbeats.
#[derive(Clone)]
pub struct Heartbeat {
    cfg: Arc<Config>,
    clients: Clients,
    metrics: Option<ActionMetrics>,
    /// Leader clusters whose heartbeat index is known to exist (created or found by this process).
    created: Arc<Mutex<BTreeSet<String>>>,
}

impl Heartbeat {
    /// The writer for `cfg`'s `heartbeat = true` remotes; contacts no cluster.
    pub fn new(cfg: Arc<Config>, clients: Clients) -> Self {
        Self {
            cfg,
            clients,
            metrics: None,
            created: Arc::default(),
        }
    }

    /// Counts writes in `ccr_sentinel_heartbeat_writes_total`.
    pub fn with_metrics(mut self, m: ActionMetrics) -> Self {
        self.metrics = Some(m);
        self
    }

    /// The leader clusters the canary writes to.
    pub fn leader_clusters(cfg: &Config) -> BTreeSet<String> {
        cfg.remotes
            .iter()
            .filter(|r| r.heartbeat)
            .map(|r| r.leader.clone())
            .collect()
    }

    /// One write per leader cluster, concurrently; with `dry_run` (`[reconcile]` or `[policy]`) nothing is sent.
    pub async fn beat(&self, now: DateTime<Utc>) -> Vec<(String, Result<(), EsError>)> {
        let dry_run = self.cfg.reconcile.dry_run || self.cfg.policy.dry_run;
        let writes = Self::leader_clusters(&self.cfg)
            .into_iter()
            .map(|cluster| async move {
                let result = if dry_run {
                    self.count(&cluster, "dry_run");
                    Ok(())
                } else {
                    let r = self.write(&cluster, now).await;
                    self.count(&cluster, if r.is_ok() { "success" } else { "failed" });
                    r
                };
                (cluster, result)
            });
        join_all(writes).await
    }

    async fn write(&self, cluster: &str, now: DateTime<Utc>) -> Result<(), EsError> {
        let Some(c) = self.clients.get(cluster) else {
            return Ok(());
        };
        let known = crate::sync::lock(&self.created).contains(cluster);
        if !known {
            match c.create_heartbeat_index(HEARTBEAT_INDEX).await {
                Ok(_) => {}
                Err(e) if e.es_type() == Some("resource_already_exists_exception") => {}
                Err(e) => return Err(e),
            }
            crate::sync::lock(&self.created).insert(cluster.to_string());
        }
        c.write_heartbeat(HEARTBEAT_INDEX, HEARTBEAT_DOC, now.timestamp_millis())
            .await
            .map(|_| ())
    }

    fn count(&self, cluster: &str, result: &str) {
        if let Some(m) = &self.metrics {
            m.heartbeat_writes
                .with_label_values(&[cluster, result])
                .inc();
        }
    }
}
