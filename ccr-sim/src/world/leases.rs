//! Retention leases in time. A follower holds one lease per leader shard, with the id
//! `CcrRetentionLeases.retentionLeaseId` builds and source `ccr`: its restore adds it retaining
//! everything (CcrRepository), then renews it every `index.ccr.retention_lease.renew_interval`
//! (30s); once following, its shard follow tasks renew it with the follower's global checkpoint
//! plus one, and add it again when it is gone (ShardFollowTasksExecutor's background renewal).
//! Nothing renews it while the follower is paused or cannot reach its leader. The leader expires
//! a lease whose last renewal is older than `index.soft_deletes.retention_lease.period` (12h by
//! default; ReplicationTracker.getRetentionLeases), after which it may merge away the operations
//! the lease kept: the simulator discards them at once, so a follower still behind them meets
//! "Operations are no longer available for replicating" on its next read.

use std::collections::BTreeMap;

use crate::error::EsError;
use crate::world::model::{Cluster, Index, World, LEASE_RENEW_INTERVAL_MS, RETAIN_ALL};
use crate::world::ops::{self, RemoteLink};

/// Expires the leases of `idx` not renewed within its retention lease period. A shard that lost
/// a lease discards the operations no remaining lease retains (a merge may do so at any time
/// after the expiry; the simulator does it at once, so the outcome does not hang on chance).
pub(crate) fn expire(idx: &mut Index, now_epoch: u64) {
    let period = idx.lease_period_ms();
    for (s, sl) in idx.leases.iter_mut().enumerate() {
        let before = sl.leases.len();
        sl.leases
            .retain(|_, l| now_epoch.saturating_sub(l.timestamp) <= period);
        if sl.leases.len() == before {
            continue;
        }
        sl.version += 1;
        let Some(h) = idx.shards.get_mut(s) else {
            continue;
        };
        let kept = sl
            .leases
            .values()
            .map(|l| l.retaining_seq_no.max(0))
            .min()
            .unwrap_or(h.max_seq_no() + 1);
        h.min_retained = h.min_retained.max(kept);
    }
}

/// Clears every lease of `idx` (the retention-lease-loss fault).
pub(crate) fn clear(idx: &mut Index) {
    for sl in &mut idx.leases {
        if !sl.leases.is_empty() {
            sl.leases.clear();
            sl.version += 1;
        }
    }
}

/// One renewal a follower of cluster `ci` is due to send: lease `id` on `leader_index` of the
/// cluster at `li`, retaining `retaining[shard]` (None: that shard renews nothing).
struct Renewal {
    li: usize,
    leader_index: String,
    leader_uuid: String,
    id: String,
    retaining: Vec<Option<i64>>,
}

/// The renewals of cluster `ci`'s followers that are due at `now`: restores renew with
/// `RETAIN_ALL` (CcrRepository), shard follow tasks with the follower's global checkpoint + 1,
/// except a task stopped by a fatal error (ShardFollowNodeTask.onFatalFailure cancels its
/// renewal). A renewal that cannot reach the leader is lost; the next comes an interval later.
pub(crate) fn renew(w: &mut World, ci: usize, now: u64) {
    let epoch = w.clock.epoch_ms();
    let cname = w.clusters[ci].name.clone();
    let mut due: Vec<(String, String)> = Vec::new();
    for (name, idx) in &w.clusters[ci].indices {
        let Some(meta) = &idx.follow else { continue };
        let last = match (&idx.restore, &idx.tasks) {
            (Some(r), _) if r.finished_ms.is_none() => r.lease_renewed_ms,
            (_, Some(t)) => t.lease_renewed_ms,
            _ => continue,
        };
        if now.saturating_sub(last) >= LEASE_RENEW_INTERVAL_MS {
            due.push((name.clone(), meta.remote_cluster.clone()));
        }
    }
    let mut renewals = Vec::new();
    // Every follower of an alias renews through the same link; resolve it once.
    let mut links: BTreeMap<String, RemoteLink> = BTreeMap::new();
    for (name, alias) in due {
        let link = match links.get(&alias) {
            Some(link) => link.clone(),
            None => {
                let link = ops::remote_link(w, ci, &alias);
                links.insert(alias, link.clone());
                link
            }
        };
        let Some(idx) = w.clusters[ci].indices.get_mut(&name) else {
            continue;
        };
        let restoring = idx.restoring();
        match (&mut idx.restore, &mut idx.tasks) {
            (Some(r), _) if restoring => r.lease_renewed_ms = now,
            (_, Some(t)) => t.lease_renewed_ms = now,
            _ => continue,
        }
        let RemoteLink::Connected(li) = link else {
            continue;
        };
        let Some(meta) = idx.follow.clone() else {
            continue;
        };
        let retaining = match (&idx.tasks, restoring) {
            (Some(t), false) => idx
                .shards
                .iter()
                .zip(&t.shards)
                .map(|(h, task)| task.fatal.is_none().then(|| h.max_seq_no() + 1))
                .collect(),
            _ => vec![Some(RETAIN_ALL); idx.shard_count()],
        };
        renewals.push(Renewal {
            li,
            id: ops::lease_id(&cname, idx, &meta),
            leader_index: meta.leader_index,
            leader_uuid: meta.leader_uuid,
            retaining,
        });
    }
    for r in renewals {
        if let Some(l) = w.clusters[r.li]
            .indices
            .get_mut(&r.leader_index)
            .filter(|l| l.uuid == r.leader_uuid)
        {
            for (s, seq) in r.retaining.iter().enumerate() {
                if let Some(seq) = seq {
                    l.put_shard_lease(&r.id, s, *seq, epoch);
                }
            }
        }
    }
}

/// Expires the leases of every index of cluster `ci` that holds some.
pub(crate) fn expire_cluster(w: &mut World, ci: usize) {
    let epoch = w.clock.epoch_ms();
    for idx in w.clusters[ci].indices.values_mut() {
        // Nothing expires while the oldest renewal is within the period: a read-only look first,
        // as a leader of thousands of followers runs this every step.
        let oldest = idx
            .leases
            .iter()
            .flat_map(|s| s.leases.values())
            .map(|l| l.timestamp)
            .min();
        if oldest.is_some_and(|t| epoch.saturating_sub(t) > idx.lease_period_ms()) {
            expire(idx, epoch);
        }
    }
}

/// One lease as a shard shows it (`_stats?level=shards`, the missing-operations error).
pub(crate) struct LeaseView<'a> {
    pub id: std::borrow::Cow<'a, str>,
    pub retaining_seq_no: i64,
    pub timestamp: u64,
    pub source: &'a str,
}

/// Shard `s` of `idx` on cluster `c`: its retention leases version and leases. Since 7.4 every
/// shard copy also holds a peer-recovery lease (ReplicationTracker's `peer_recovery/<node id>`,
/// source `peer recovery`) retaining from its global checkpoint + 1; it is created with the shard,
/// so it comes first, and the simulator shows it renewed now (ES renews it at each retention lease
/// sync once the checkpoint moved: reconstructed).
pub(crate) fn shown<'a>(
    c: &'a Cluster,
    idx: &'a Index,
    s: usize,
    now_epoch: u64,
) -> (u64, Vec<LeaseView<'a>>) {
    let peer = c.version.at_least(7, 4);
    let mut out = Vec::new();
    if peer {
        out.push(LeaseView {
            id: format!("peer_recovery/{}", c.node_id).into(),
            retaining_seq_no: idx.shards.get(s).map_or(0, |h| h.max_seq_no() + 1),
            timestamp: now_epoch,
            source: "peer recovery",
        });
    }
    let held = idx.leases.get(s);
    for (id, l) in held.map(|h| &h.leases).into_iter().flatten() {
        out.push(LeaseView {
            id: id.as_str().into(),
            retaining_seq_no: l.retaining_seq_no,
            timestamp: l.timestamp,
            source: &l.source,
        });
    }
    (held.map_or(0, |h| h.version) + u64::from(peer), out)
}

/// What a shard changes read of `from..=to` gets once the leader no longer has those operations
/// (ShardChangesAction.getOperations on a `MissingHistoryOperationsException`): from 7.4 the
/// message lists the shard's leases (`RetentionLease.toString`) and names the lease period
/// (elastic/elasticsearch#45681); before, it names `index.soft_deletes.retention.operations`.
/// The metadata `requested_operations_missing` is what ShardFollowNodeTask recognises.
pub(crate) fn operations_missing(
    leader: &Cluster,
    idx: &Index,
    s: usize,
    from: i64,
    to: i64,
    now_epoch: u64,
) -> EsError {
    let reason = if leader.version.at_least(7, 4) {
        let (_, leases) = shown(leader, idx, s, now_epoch);
        let list: Vec<String> = leases
            .iter()
            .map(|l| {
                format!(
                    "RetentionLease{{id='{}', retainingSequenceNumber={}, timestamp={}, source='{}'}}",
                    l.id, l.retaining_seq_no, l.timestamp, l.source
                )
            })
            .collect();
        format!(
            "Operations are no longer available for replicating. Existing retention leases [[{}]]; maybe increase the retention lease period setting [index.soft_deletes.retention_lease.period]?",
            list.join(", ")
        )
    } else {
        "Operations are no longer available for replicating. Maybe increase the retention setting [index.soft_deletes.retention.operations]?".to_string()
    };
    EsError::resource_not_found(reason)
        .meta(
            "requested_operations_missing",
            serde_json::json!([from.to_string(), to.to_string()]),
        )
        .caused_by(EsError::new(
            500,
            "missing_history_operations_exception",
            format!("Not all operations between from_seqno [{from}] and to_seqno [{to}] found"),
        ))
}
