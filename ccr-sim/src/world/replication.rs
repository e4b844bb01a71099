//! The tick: time passes, writers write, auto-follow patterns follow new leader indices and
//! follower shard tasks read operations from their leaders.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::EsError;
use crate::world::data_stream;
use crate::world::foreign;
use crate::world::leases;
use crate::world::model::{
    FollowParams, Index, ReadFailure, ShardTask, World, CONCURRENT_RECOVERIES, CONNECT_TIMEOUT_MS,
    DEFAULT_OP_BYTES,
};
use crate::world::ops::{self, RemoteLink};

/// Simulated duration of one shard-changes round trip (read + write on the follower).
pub(crate) const ROUND_TRIP_MS: u64 = 50;
/// Granularity of simulated time: the real-time tick period, and the step of `advance`.
pub(crate) const TICK_MS: u64 = 50;
/// How often an auto-follow pattern with problems re-checks its remote.
const AUTO_FOLLOW_RETRY_MS: u64 = 1_000;

/// Advances the world to `now`, the clock's current time.
pub(crate) fn tick(w: &mut World, now: u64) {
    let dt = now.saturating_sub(w.last_tick_ms);
    w.last_tick_ms = now;
    run_writers(w, dt);
    // Only this world's clusters tick; remotes in other simulators are borrowed for the step.
    let own = w.clusters.len();
    for ci in 0..own {
        let imports = foreign::import(w, ci);
        run_auto_follow(w, ci, now);
        run_restores(w, ci, now, dt);
        replicate_cluster(w, ci, now, dt);
        leases::renew(w, ci, now);
        leases::expire_cluster(w, ci);
        foreign::restore(w, imports);
    }
}

fn run_writers(w: &mut World, dt: u64) {
    let epoch = w.clock.epoch_ms();
    for c in &mut w.clusters {
        let mut due: Vec<(String, u64)> = Vec::new();
        for (index, writer) in c.writers.iter_mut() {
            writer.carry += writer.docs_per_second * dt as f64 / 1000.0;
            let n = writer.carry.floor();
            writer.carry -= n;
            if n >= 1.0 {
                due.push((index.clone(), n as u64));
            }
        }
        for (index, n) in due {
            if let Err(e) = ops::write_generated(c, &index, n, epoch) {
                tracing::debug!(cluster = %c.name, %index, error = %e, "steady write rejected");
            }
        }
    }
}

/// Remote recoveries: the node copies at most `CONCURRENT_RECOVERIES` shards at once, sharing
/// `ccr.indices.recovery.max_bytes_per_sec` between them (one rate limiter per node, as
/// CcrRepository's); a restore whose shards are all copied runs its final resume.
fn run_restores(w: &mut World, ci: usize, now: u64, dt: u64) {
    let epoch = w.clock.epoch_ms();
    // Restores whose remote is unreachable make no progress (ES fails the shard recovery and
    // retries its allocation; the simulator only stalls it).
    let stalled: Vec<String> = w.clusters[ci]
        .indices
        .values()
        .filter(|i| i.restoring())
        .filter_map(|i| {
            i.follow
                .as_ref()
                .map(|m| (i.name.clone(), m.remote_cluster.clone()))
        })
        .filter(|(_, alias)| !matches!(ops::remote_link(w, ci, alias), RemoteLink::Connected(_)))
        .map(|(name, _)| name)
        .collect();
    let c = &mut w.clusters[ci];
    let rate = c.recovery_bytes_per_sec();
    let mut budget: u64 = if rate == 0 {
        u64::MAX
    } else {
        ((rate as u128 * dt as u128) / 1000).min(u64::MAX as u128) as u64
    };
    // Every shard still to copy, in index-name and shard order.
    let mut pending: Vec<(String, usize)> = Vec::new();
    let mut restoring: Vec<String> = Vec::new();
    for (name, idx) in &c.indices {
        if let Some(r) = idx.restore.as_ref().filter(|r| r.finished_ms.is_none()) {
            restoring.push(name.clone());
            if stalled.contains(name) {
                continue;
            }
            for (s, sh) in r.shards.iter().enumerate() {
                if sh.stop.is_none() {
                    pending.push((name.clone(), s));
                }
            }
        }
    }
    // The recoveries that hold a slot: those already copying first, then the next in order.
    pending.sort_by_key(|(n, s)| {
        let started = c.indices[n]
            .restore
            .as_ref()
            .map(|r| r.shards[*s].start.is_some());
        (started != Some(true), n.clone(), *s)
    });
    let mut next = 0usize;
    let mut slots: Vec<(String, usize)> = Vec::new();
    while slots.len() < CONCURRENT_RECOVERIES && next < pending.len() {
        slots.push(pending[next].clone());
        next += 1;
    }
    while !slots.is_empty() && budget > 0 {
        let share = (budget / slots.len() as u64).max(1);
        let mut finished = Vec::new();
        for (k, (name, s)) in slots.iter().enumerate() {
            let Some(sh) = c
                .indices
                .get_mut(name)
                .and_then(|i| i.restore.as_mut())
                .and_then(|r| r.shards.get_mut(*s))
            else {
                finished.push(k);
                continue;
            };
            sh.start.get_or_insert((now, epoch));
            let take = share.min(sh.total_bytes - sh.recovered_bytes).min(budget);
            sh.recovered_bytes += take;
            budget -= take;
            if sh.recovered_bytes >= sh.total_bytes {
                sh.stop = Some((now, epoch));
                finished.push(k);
            }
        }
        if finished.is_empty() {
            break;
        }
        for k in finished.into_iter().rev() {
            slots.remove(k);
        }
        while slots.len() < CONCURRENT_RECOVERIES && next < pending.len() {
            slots.push(pending[next].clone());
            next += 1;
        }
    }
    // Shards still copying were held back by the rate limiter for this whole step.
    for (name, s) in &slots {
        if let Some(sh) = c
            .indices
            .get_mut(name)
            .and_then(|i| i.restore.as_mut())
            .and_then(|r| r.shards.get_mut(*s))
        {
            if sh.start.is_some() {
                sh.throttle_ms += dt;
            }
        }
    }
    let done: Vec<String> = restoring
        .into_iter()
        .filter(|name| {
            c.indices
                .get(name)
                .and_then(|i| i.restore.as_ref())
                .is_some_and(|r| r.shards.iter().all(|sh| sh.stop.is_some()))
        })
        .collect();
    for name in done {
        ops::finish_restore(w, ci, &name, now);
    }
}

fn replicate_cluster(w: &mut World, ci: usize, now: u64, dt: u64) {
    // Each remote alias's link, resolved once per step: nothing a shard task does changes it.
    let mut links: BTreeMap<&str, RemoteLink> = BTreeMap::new();
    for idx in w.clusters[ci].indices.values() {
        if let (Some(meta), Some(_)) = (&idx.follow, &idx.tasks) {
            if !links.contains_key(meta.remote_cluster.as_str()) {
                links.insert(
                    &meta.remote_cluster,
                    ops::remote_link(w, ci, &meta.remote_cluster),
                );
            }
        }
    }
    let links: BTreeMap<String, RemoteLink> = links
        .into_iter()
        .map(|(alias, link)| (alias.to_string(), link))
        .collect();
    let follows_itself = links
        .values()
        .any(|l| matches!(l, RemoteLink::Connected(li) if *li == ci));
    if follows_itself {
        // A remote that names this very cluster: each follower reads its leaders from the same
        // index map, so the followers step one by one, in name order, out of the map.
        let names: Vec<String> = w.clusters[ci]
            .indices
            .iter()
            .filter(|(_, i)| i.tasks.is_some())
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            let Some(mut idx) = w.clusters[ci].indices.remove(&name) else {
                continue;
            };
            let link = idx
                .follow
                .as_ref()
                .and_then(|m| links.get(&m.remote_cluster).cloned())
                .unwrap_or(RemoteLink::Unknown);
            replicate_index(w, ci, &mut idx, &link, now, dt);
            w.clusters[ci].indices.insert(name, idx);
        }
        return;
    }
    // Leaders live in other clusters: the followers step in place, with the map taken out of the
    // world for the step (nothing in it is read through `w`).
    let mut indices = std::mem::take(&mut w.clusters[ci].indices);
    for idx in indices.values_mut().filter(|i| i.tasks.is_some()) {
        let link = idx
            .follow
            .as_ref()
            .and_then(|m| links.get(&m.remote_cluster))
            .unwrap_or(&RemoteLink::Unknown);
        replicate_index(w, ci, idx, link, now, dt);
    }
    w.clusters[ci].indices = indices;
}

fn replicate_index(w: &World, ci: usize, idx: &mut Index, link: &RemoteLink, now: u64, dt: u64) {
    let Index {
        name,
        uuid,
        open,
        shards,
        docs,
        follow,
        tasks,
        ..
    } = idx;
    let Some(meta) = follow.as_ref() else {
        return;
    };
    let cap = w.clusters[ci].doc_cap;
    let black_hole = ops::black_holed(&w.clusters[ci], &meta.remote_cluster);
    let follower_open = *open;
    let epoch = w.clock.epoch_ms();
    let leader_cluster = match link {
        RemoteLink::Connected(li) => Some(&w.clusters[*li]),
        _ => None,
    };
    let leader = leader_cluster.and_then(|lc| lc.indices.get(&meta.leader_index));
    let throttle = w.clusters[ci].faults.throttle.get(name.as_str()).copied();
    let Some(tasks) = tasks.as_mut() else {
        return;
    };
    let params = &tasks.params;
    for (shard, task) in tasks.shards.iter_mut().enumerate() {
        if task.fatal.is_some() {
            continue;
        }
        let follower_gcp = shards[shard].max_seq_no();
        // Transient problems: the task retries with back-off and keeps its counters.
        let transient = match (link, leader) {
            (RemoteLink::Unknown, _) => Some(EsError::no_such_remote(&meta.remote_cluster)),
            (RemoteLink::Unreachable { addr }, _) => Some(ops::unreachable_error(
                &w.clusters[ci],
                &meta.remote_cluster,
                addr,
            )),
            (RemoteLink::Connected(_), Some(l)) if !l.open => Some(EsError::new(
                403,
                "cluster_block_exception",
                format!(
                    "index [{}] blocked by: [FORBIDDEN/4/index closed];",
                    meta.leader_index
                ),
            )),
            _ if !follower_open => Some(EsError::index_closed(name, uuid)),
            _ => None,
        };
        let reachable = !matches!(link, RemoteLink::Unreachable { .. });
        if reachable || !black_hole {
            task.connecting_since = None;
        }
        if let Some(e) = transient {
            if !reachable && black_hole {
                // Each read first re-dials the remote and hangs until the connect timeout.
                if now < task.next_retry_ms {
                    continue;
                }
                let since = *task.connecting_since.get_or_insert(now);
                task.outstanding_reads = task.outstanding_reads.max(1);
                if now.saturating_sub(since) < CONNECT_TIMEOUT_MS {
                    continue;
                }
                task.connecting_since = None;
            }
            let reads = if task.read_failures.is_empty() {
                let available = (task.leader_max - follower_gcp).max(1);
                outstanding_for(available, params, DEFAULT_OP_BYTES) as u64
            } else {
                task.read_failures.len() as u64
            };
            fail_read(task, follower_gcp, e, params, now, reads);
            continue;
        }
        let Some(lidx) = leader.filter(|l| l.uuid == meta.leader_uuid) else {
            task.fatal = Some(EsError::index_not_found(&meta.leader_index));
            task.outstanding_reads = 0;
            continue;
        };
        let Some(lh) = lidx.shards.get(shard) else {
            task.fatal = Some(EsError::new(
                500,
                "shard_not_found_exception",
                format!("no such shard [{}][{shard}]", meta.leader_index),
            ));
            continue;
        };
        task.leader_gcp = lh.max_seq_no();
        task.leader_max = lh.max_seq_no();
        if task.injected_failures > 0 {
            if now >= task.next_retry_ms {
                task.injected_failures -= 1;
                let e = EsError::new(
                    429,
                    "es_rejected_execution_exception",
                    format!(
                        "rejected execution of shard changes request on [{}][{shard}] (simulated transient read failure)",
                        meta.leader_index
                    ),
                );
                fail_read(task, follower_gcp, e, params, now, 1);
            }
            continue;
        }
        let available = lh.max_seq_no() - follower_gcp;
        if available > 0 && follower_gcp + 1 < lh.min_retained {
            let to = (follower_gcp + per_request_ops(params, lh.avg_op_bytes()) as i64)
                .min(lh.max_seq_no());
            // The failed read is recorded like any other (fetchExceptions), then the task stops:
            // the error is not one ShardFollowNodeTask.shouldRetry retries.
            let e = leader_cluster
                .map(|lc| leases::operations_missing(lc, lidx, shard, follower_gcp + 1, to, epoch));
            task.read_failures.clear();
            if let Some(e) = &e {
                task.failed_reads += 1;
                task.read_failures.insert(
                    follower_gcp + 1,
                    ReadFailure {
                        from_seq_no: follower_gcp + 1,
                        retries: 0,
                        exception: e.clone(),
                    },
                );
            }
            task.fatal = e;
            task.outstanding_reads = 0;
            continue;
        }
        if available <= 0 {
            // Caught up: one long-poll read is outstanding and is renewed every read_poll_timeout.
            task.budget_ms = 0;
            task.outstanding_reads = 1;
            task.read_failures.clear();
            let poll = params.poll_timeout().millis().max(1) as u64;
            let last = task.last_read_ms.unwrap_or(now);
            if now.saturating_sub(last) >= poll {
                task.successful_reads += 1;
                task.total_read_time_ms += poll;
                task.last_read_ms = Some(now);
            }
            continue;
        }
        task.budget_ms += dt;
        match throttle {
            Some(rate) => task.throttle_carry += rate * dt as f64 / 1000.0,
            None => task.throttle_carry = 0.0,
        }
        let rounds = task.budget_ms / ROUND_TRIP_MS;
        if rounds == 0 {
            task.outstanding_reads = outstanding_for(available, params, lh.avg_op_bytes());
            continue;
        }
        task.budget_ms -= rounds * ROUND_TRIP_MS;
        let op_bytes = lh.avg_op_bytes();
        let per_request = per_request_ops(params, op_bytes);
        let per_round = per_request * params.outstanding_reads().max(1) as u64;
        let mut n = (available as u64).min(per_round.saturating_mul(rounds));
        if let Some(rate) = throttle {
            // A throttled task's reads deliver at most `rate` operations a second; what it
            // could not use is not saved up beyond a second's worth.
            n = n.min(task.throttle_carry.floor() as u64);
            task.throttle_carry = (task.throttle_carry - n as f64).min(rate.max(1.0));
            if n == 0 {
                task.outstanding_reads = outstanding_for(available, params, op_bytes);
                continue;
            }
        }
        let to = follower_gcp + n as i64;
        for (len, delta) in lh.pieces(follower_gcp, to) {
            shards[shard].append(len, delta, len * op_bytes);
        }
        copy_docs(&lidx.docs, docs, shard, follower_gcp, to, cap);
        let requests = n.div_ceil(per_request).max(1);
        let write_requests = n.div_ceil(params.write_ops().max(1) as u64).max(1);
        task.ops_read += n;
        task.ops_written += n;
        task.bytes_read += n * op_bytes;
        task.successful_reads += requests;
        task.successful_writes += write_requests;
        task.total_read_time_ms += requests * ROUND_TRIP_MS / 2;
        task.total_read_remote_exec_ms += requests * ROUND_TRIP_MS / 5;
        task.total_write_time_ms += write_requests * ROUND_TRIP_MS / 5;
        task.last_requested = to;
        task.last_read_ms = Some(now);
        task.read_failures.clear();
        let remaining = lh.max_seq_no() - to;
        task.outstanding_reads = if remaining > 0 {
            outstanding_for(remaining, params, op_bytes)
        } else {
            1
        };
        task.outstanding_writes = 0;
    }
}

fn per_request_ops(p: &FollowParams, op_bytes: u64) -> u64 {
    let by_size = (p.read_size().bytes().max(1) as u64 / op_bytes.max(1)).max(1);
    (p.read_ops().max(1) as u64).min(by_size)
}

fn outstanding_for(remaining: i64, p: &FollowParams, op_bytes: u64) -> u32 {
    let needed = (remaining as u64).div_ceil(per_request_ops(p, op_bytes));
    needed.min(p.outstanding_reads().max(1) as u64) as u32
}

/// Outstanding reads failed with a retryable error: ES keeps one entry per `from_seq_no`
/// (at most `max_outstanding_read_requests`), each retried with back-off up to `max_retry_delay`.
/// `reads` is how many reads were in flight, each from its own `from_seq_no`.
fn fail_read(
    task: &mut ShardTask,
    follower_gcp: i64,
    e: EsError,
    p: &FollowParams,
    now: u64,
    reads: u64,
) {
    if now < task.next_retry_ms {
        return;
    }
    let per_request = per_request_ops(p, DEFAULT_OP_BYTES) as i64;
    let cap = p.outstanding_reads().max(1) as u64;
    let first = follower_gcp + 1;
    // Entries behind the checkpoint were read by now.
    task.read_failures.retain(|from, _| *from >= first);
    let froms: Vec<i64> = if task.read_failures.is_empty() {
        (0..reads.clamp(1, cap) as i64)
            .map(|k| first + k * per_request)
            .collect()
    } else {
        task.read_failures.keys().copied().collect()
    };
    let mut max_retries = 0;
    for from in froms {
        task.failed_reads += 1;
        let retries = task.read_failures.get(&from).map_or(1, |f| f.retries + 1);
        max_retries = max_retries.max(retries);
        task.read_failures.insert(
            from,
            ReadFailure {
                from_seq_no: from,
                retries,
                exception: e.clone(),
            },
        );
    }
    while task.read_failures.len() as u64 > cap {
        task.read_failures.pop_first();
    }
    let backoff = (50u64 << max_retries.min(10)).min(p.retry_delay().millis().max(1) as u64);
    task.next_retry_ms = now + backoff;
    task.outstanding_reads = 0;
}

fn copy_docs(
    from: &crate::world::model::DocStore,
    to: &mut crate::world::model::DocStore,
    shard: usize,
    lo: i64,
    hi: i64,
    cap: usize,
) {
    let Some(ops) = from.by_seq.get(shard) else {
        return;
    };
    for (seq, (id, deleted)) in ops.range(lo + 1..=hi) {
        if *deleted {
            to.delete(id, *seq, shard);
        } else if let Some(doc) = from.docs.get(id) {
            to.put(id, Arc::clone(&doc.source), *seq, shard, doc.version, cap);
        }
    }
}

/// Auto-follow: each active pattern looks at its remote when the remote's indices changed (or
/// retries after a failure) and follows new matching leader indices.
fn run_auto_follow(w: &mut World, ci: usize, now: u64) {
    let epoch = w.clock.epoch_ms();
    {
        let names: Vec<String> = w.clusters[ci]
            .auto_follow
            .iter()
            .filter(|(_, p)| p.active)
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            let Some(p) = w.clusters[ci].auto_follow.get(&name).cloned() else {
                continue;
            };
            let li = match ops::remote_link(w, ci, &p.remote_cluster) {
                RemoteLink::Connected(li) => li,
                RemoteLink::Unknown | RemoteLink::Unreachable { .. } => {
                    // Against a black hole each check hangs for the connect timeout first.
                    let every = if ops::black_holed(&w.clusters[ci], &p.remote_cluster) {
                        CONNECT_TIMEOUT_MS
                    } else {
                        AUTO_FOLLOW_RETRY_MS
                    };
                    if now.saturating_sub(p.last_check_ms) >= every {
                        let e = match ops::remote_link(w, ci, &p.remote_cluster) {
                            RemoteLink::Unreachable { addr } => ops::remote_license_unknown(
                                &p.remote_cluster,
                                None,
                                ops::unreachable_error(&w.clusters[ci], &p.remote_cluster, &addr),
                            ),
                            _ => EsError::no_such_remote(&p.remote_cluster),
                        };
                        let c = &mut w.clusters[ci];
                        c.auto_follow_stats.failed_remote += 1;
                        c.auto_follow_stats.record_error(name.clone(), epoch, e);
                        if let Some(pm) = c.auto_follow.get_mut(&name) {
                            pm.last_check_ms = now;
                        }
                    }
                    continue;
                }
            };
            let leader_version = w.clusters[li].metadata_version;
            let retry_due = p.retry_at.values().any(|t| now >= *t);
            if leader_version == p.seen_version && !retry_due {
                continue;
            }
            let candidates: Vec<(String, String)> = w.clusters[li]
                .indices
                .values()
                .filter(|i| i.open && !p.followed.contains(&i.uuid))
                .filter(|i| {
                    data_stream::pattern_matches(
                        &w.clusters[li],
                        &p.leader_index_patterns,
                        &p.exclusion_patterns,
                        i,
                    )
                })
                .filter(|i| p.retry_at.get(&i.name).map_or(true, |t| now >= *t))
                .map(|i| (i.name.clone(), i.uuid.clone()))
                .collect();
            let mut followed = Vec::new();
            let mut failed = Vec::new();
            for (leader, uuid) in candidates {
                let (follower, stream) = data_stream::auto_follow_names(
                    &w.clusters[li],
                    &p,
                    &leader,
                    w.clusters[ci].version,
                );
                let overrides = p
                    .settings
                    .as_ref()
                    .map(|s| ops::flat_index_settings(&serde_json::Value::Object(s.clone())))
                    .transpose()
                    .unwrap_or_default()
                    .unwrap_or_default();
                let spec = ops::NewFollower {
                    follower: &follower,
                    alias: &p.remote_cluster,
                    leader: &leader,
                    params: p.params.clone(),
                    overrides,
                    user: None,
                    data_stream_name: stream.as_deref(),
                };
                match ops::create_follower(w, ci, spec) {
                    Ok(()) => followed.push(uuid),
                    Err(e) => failed.push((leader, e)),
                }
            }
            let c = &mut w.clusters[ci];
            c.auto_follow_stats.successful_follow += followed.len() as u64;
            c.auto_follow_stats
                .clusters
                .insert(p.remote_cluster.clone(), (now, leader_version));
            let mut errors = Vec::new();
            if let Some(pm) = c.auto_follow.get_mut(&name) {
                pm.seen_version = leader_version;
                pm.last_check_ms = now;
                for uuid in followed {
                    pm.followed.insert(uuid);
                }
                pm.retry_at.retain(|_, t| now < *t);
                for (leader, e) in failed {
                    pm.retry_at.insert(leader.clone(), now + 60_000);
                    errors.push((leader, e));
                }
            }
            for (leader, e) in errors {
                c.auto_follow_stats.failed_follow += 1;
                c.auto_follow_stats.record_error(leader, epoch, e);
            }
        }
    }
}

/// Leader-side fault: trims each shard's history so followers behind it cannot catch up.
pub(crate) fn lose_retention_leases(idx: &mut Index) {
    for h in &mut idx.shards {
        h.min_retained = h.max_seq_no() + 1;
    }
    leases::clear(idx);
}

/// Per-follower summary used by `/_sim/state`.
pub(crate) fn follower_lag(idx: &Index) -> BTreeMap<usize, i64> {
    let mut out = BTreeMap::new();
    if let Some(t) = &idx.tasks {
        for (i, task) in t.shards.iter().enumerate() {
            out.insert(i, (task.leader_gcp - idx.shards[i].max_seq_no()).max(0));
        }
    }
    out
}
