//! The control plane: fault injection and inspection, shared by the Rust API
//! ([`crate::ClusterHandle`]), the `/_sim/` HTTP endpoints and scenario files, and the
//! simulation step, which fires the scenario events that are due before each tick.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::action::{Action, DisconnectMode};
use crate::api::reply::Reply;
use crate::error::{EsError, SimError};
use crate::world::foreign::{self, WorldLock};
use crate::world::model::{Cluster, FollowTasks, HttpFaults, License, World, Writer};
use crate::world::{ops, replication, scenario};

/// The shard follow tasks of follower `index`, for the actions that fault them.
fn follow_tasks<'a>(c: &'a mut Cluster, index: &str) -> Result<&'a mut FollowTasks, SimError> {
    let idx = c
        .indices
        .get_mut(index)
        .ok_or_else(|| EsError::index_not_found(index))?;
    idx.tasks.as_mut().ok_or_else(|| {
        SimError::Invalid(format!(
            "index [{index}] has no shard follow tasks (not an active follower)"
        ))
    })
}

/// Applies an action to cluster `ci`.
pub(crate) fn apply(w: &mut World, ci: usize, action: &Action) -> Result<(), SimError> {
    let epoch = w.clock.epoch_ms();
    let c = &mut w.clusters[ci];
    match action {
        Action::DisconnectRemote { alias, mode } => {
            c.faults.disconnected.insert(alias.clone());
            if *mode == DisconnectMode::BlackHole {
                c.faults.black_holed.insert(alias.clone());
            } else {
                c.faults.black_holed.remove(alias);
            }
        }
        Action::ConnectRemote { alias } => {
            c.faults.disconnected.remove(alias);
            c.faults.black_holed.remove(alias);
        }
        Action::FailStart { index, reason } => {
            c.faults.fail_start.insert(index.clone(), reason.clone());
        }
        Action::Fatal {
            index,
            shard,
            reason,
        } => {
            let shard = shard.unwrap_or(0);
            let tasks = follow_tasks(c, index)?;
            let task = tasks.shards.get_mut(shard).ok_or_else(|| {
                SimError::Invalid(format!("index [{index}] has no shard [{shard}]"))
            })?;
            let reason = reason.clone().unwrap_or_else(|| {
                format!("simulated fatal failure of the shard follow task [{index}][{shard}]")
            });
            task.fatal = Some(EsError::new(500, "illegal_state_exception", reason));
            task.outstanding_reads = 0;
        }
        Action::ReadExceptions {
            index,
            count,
            shard,
        } => {
            let tasks = follow_tasks(c, index)?;
            let n = tasks.shards.len();
            let targets: Vec<usize> = match shard {
                Some(s) if *s < n => vec![*s],
                Some(s) => {
                    return Err(SimError::Invalid(format!(
                        "index [{index}] has no shard [{s}]"
                    )))
                }
                None => (0..n).collect(),
            };
            for s in targets {
                tasks.shards[s].injected_failures += count;
            }
        }
        Action::Drift { index, docs } => {
            let idx = c
                .indices
                .get(index)
                .ok_or_else(|| EsError::index_not_found(index))?;
            if idx.follow.is_none() {
                return Err(SimError::Invalid(format!(
                    "index [{index}] is not a follower index"
                )));
            }
            if docs.unsigned_abs() > MAX_DOC_DRIFT {
                return Err(SimError::Invalid(format!(
                    "docs must be between -{MAX_DOC_DRIFT} and {MAX_DOC_DRIFT}, got {docs}"
                )));
            }
            if *docs == 0 {
                c.faults.doc_drift.remove(index);
            } else {
                c.faults.doc_drift.insert(index.clone(), *docs);
            }
        }
        Action::RetentionLeaseLoss { index } => {
            let idx = c
                .indices
                .get_mut(index)
                .ok_or_else(|| EsError::index_not_found(index))?;
            replication::lose_retention_leases(idx);
        }
        Action::DeleteIndex { index } => {
            if c.remove_index(index).is_none() {
                return Err(EsError::index_not_found(index).into());
            }
            c.metadata_version += 1;
        }
        Action::License { kind, status } => {
            c.license = License {
                kind: kind.clone(),
                status: status.clone(),
            };
        }
        Action::Latency { ms } => c.faults.latency_ms = *ms,
        Action::HttpFaults {
            error_rate,
            reset_rate,
            malformed_rate,
            truncated_rate,
            error_status,
        } => {
            for r in [error_rate, reset_rate, malformed_rate, truncated_rate] {
                if !(0.0..=1.0).contains(r) {
                    return Err(SimError::Invalid(format!(
                        "rates must be between 0 and 1, got {r}"
                    )));
                }
            }
            c.faults.http = HttpFaults {
                error_rate: *error_rate,
                reset_rate: *reset_rate,
                malformed_rate: *malformed_rate,
                truncated_rate: *truncated_rate,
                error_status: *error_status,
            };
        }
        Action::Writes {
            index,
            docs_per_second,
        } => {
            if !docs_per_second.is_finite()
                || !(0.0..=MAX_DOCS_PER_SECOND).contains(docs_per_second)
            {
                return Err(SimError::Invalid(format!(
                    "docs_per_second must be between 0 and {MAX_DOCS_PER_SECOND}, got {docs_per_second}"
                )));
            }
            if *docs_per_second == 0.0 {
                c.writers.remove(index);
            } else {
                c.writers.insert(
                    index.clone(),
                    Writer {
                        docs_per_second: *docs_per_second,
                        carry: 0.0,
                    },
                );
            }
        }
        Action::IndexDocs {
            index,
            count,
            bytes_per_doc: None,
        } => {
            if *count > MAX_DOCS_PER_CALL {
                return Err(SimError::Invalid(format!(
                    "count must be at most {MAX_DOCS_PER_CALL} per call, got {count}"
                )));
            }
            ops::write_generated(c, index, *count, epoch)?
        }
        Action::IndexDocs {
            index,
            count,
            bytes_per_doc: Some(bytes),
        } => {
            if *count > MAX_SIZED_DOCS_PER_CALL {
                return Err(SimError::Invalid(format!(
                    "count must be at most {MAX_SIZED_DOCS_PER_CALL} per call with bytes_per_doc, got {count}"
                )));
            }
            if !(1..=MAX_BYTES_PER_DOC).contains(bytes) {
                return Err(SimError::Invalid(format!(
                    "bytes_per_doc must be between 1 and {MAX_BYTES_PER_DOC}, got {bytes}"
                )));
            }
            let stored = c.indices.get(index).map_or(0, |i| i.store_bytes());
            if stored.saturating_add(count.saturating_mul(*bytes)) > MAX_STORE_BYTES {
                return Err(SimError::Invalid(format!(
                    "an index may hold at most {MAX_STORE_BYTES} bytes of sized documents (1 PiB)"
                )));
            }
            ops::write_sized(c, index, *count, *bytes, epoch)?
        }
        Action::Throttle {
            index,
            ops_per_second,
        } => {
            if !ops_per_second.is_finite() || !(0.0..=MAX_OPS_PER_SECOND).contains(ops_per_second) {
                return Err(SimError::Invalid(format!(
                    "ops_per_second must be between 0 and {MAX_OPS_PER_SECOND}, got {ops_per_second}"
                )));
            }
            let idx = c
                .indices
                .get(index)
                .ok_or_else(|| EsError::index_not_found(index))?;
            if idx.follow.is_none() {
                return Err(SimError::Invalid(format!(
                    "index [{index}] is not a follower index"
                )));
            }
            if *ops_per_second == 0.0 {
                c.faults.throttle.remove(index);
            } else {
                c.faults.throttle.insert(index.clone(), *ops_per_second);
            }
        }
        Action::CreateIndex { index, shards } => {
            let mut settings = BTreeMap::new();
            if let Some(n) = shards {
                settings.insert("index.number_of_shards".to_string(), n.to_string());
            }
            ops::create_index(c, index, settings, epoch)?;
        }
        Action::Isolate {} => c.up = false,
        Action::Rejoin {} => c.up = true,
        Action::Stop {} => c.stopped = true,
        Action::Start {} => {
            // A node start reads the keystore.
            if c.stopped {
                c.keystore.load();
            }
            c.stopped = false;
        }
        Action::Keystore { alias, credentials } => match credentials {
            Some(v) => {
                c.keystore
                    .written
                    .insert(alias.clone(), v.expose().to_string());
            }
            None => {
                c.keystore.written.remove(alias);
            }
        },
        Action::ClearFaults {} => {
            c.faults = Default::default();
            c.writers.clear();
            c.up = true;
            c.stopped = false;
        }
    }
    Ok(())
}

/// The simulator's truth about one cluster (`GET /_sim/state`).
pub(crate) fn state(w: &World, ci: usize) -> Value {
    let c = &w.clusters[ci];
    let mut indices = Map::new();
    let mut followers = Map::new();
    for (name, i) in &c.indices {
        let checkpoints: Vec<i64> = i.shards.iter().map(|h| h.max_seq_no()).collect();
        indices.insert(
            name.clone(),
            json!({
                "uuid": i.uuid,
                "status": if i.open { "open" } else { "close" },
                "shards": i.shard_count(),
                "docs": c.visible_docs(i),
                "stored_docs": i.docs.docs.len(),
                "soft_deletes": i.soft_deletes,
                "global_checkpoints": checkpoints,
                "follower": i.follow.is_some(),
                "retention_leases": i.lease_ids().len(),
                "store_size_in_bytes": i.store_bytes(),
            }),
        );
        let Some(meta) = &i.follow else { continue };
        // The truth about the leader, whether or not a fault hides it from the follower.
        let leader = c.remote_targets(&meta.remote_cluster).and_then(|targets| {
            targets.iter().find_map(|t| {
                let t = t.trim().replace("localhost:", "127.0.0.1:");
                w.clusters.iter().find(|o| o.transport_addr == t)
            })
        });
        let leader_idx = leader
            .and_then(|l| l.indices.get(&meta.leader_index))
            .filter(|l| l.uuid == meta.leader_uuid);
        let leader_docs = leader.zip(leader_idx).map(|(l, i)| l.visible_docs(i));
        let leader_max = |s: usize| {
            leader_idx
                .and_then(|l| l.shards.get(s))
                .map(|h| h.max_seq_no())
        };
        let shards: Vec<Value> = match &i.tasks {
            Some(t) => t
                .shards
                .iter()
                .enumerate()
                .map(|(s, task)| {
                    let follower_gcp = i.shards[s].max_seq_no();
                    json!({
                        "shard": s,
                        "follower_global_checkpoint": follower_gcp,
                        "leader_global_checkpoint": task.leader_gcp,
                        "leader_max_seq_no": leader_max(s),
                        "lag": (leader_max(s).unwrap_or(task.leader_gcp) - follower_gcp).max(0),
                        "operations_read": task.ops_read,
                        "failed_read_requests": task.failed_reads,
                        "read_exception": task.read_failures.values().next().map(|f| f.exception.to_cause_json()),
                        "read_exceptions": task.read_failures.len(),
                        "fatal_exception": task.fatal.as_ref().map(EsError::to_cause_json),
                        "pending_injected_read_failures": task.injected_failures,
                    })
                })
                .collect(),
            None => Vec::new(),
        };
        let seen = replication::follower_lag(i);
        let lag: i64 = (0..i.shard_count())
            .map(|s| match leader_max(s) {
                Some(m) => (m - i.shards[s].max_seq_no()).max(0),
                None => seen.get(&s).copied().unwrap_or(0),
            })
            .sum();
        followers.insert(
            name.clone(),
            json!({
                "remote_cluster": meta.remote_cluster,
                "leader_index": meta.leader_index,
                "status": if i.tasks.is_some() { "active" } else { "paused" },
                "restoring": i.restoring(),
                "open": i.open,
                "lag": lag,
                "follower_docs": c.visible_docs(i),
                "leader_docs": leader_docs,
                "shards": shards,
            }),
        );
    }
    let mut remotes = Map::new();
    for alias in c.remote_aliases() {
        let link = ops::remote_link(w, ci, &alias);
        let target = match link {
            ops::RemoteLink::Connected(li) => Value::String(w.clusters[li].name.clone()),
            _ => Value::Null,
        };
        remotes.insert(
            alias.clone(),
            json!({
                "connected": matches!(link, ops::RemoteLink::Connected(_)),
                "mode": c.remote_mode(&alias),
                "addresses": c.remote_targets(&alias).unwrap_or_default(),
                "target_cluster": target,
                "disconnected_by_fault": c.faults.disconnected.contains(&alias),
                // Seeds naming a cluster of another Sim: unreachable by design.
                "points_at_another_sim": matches!(link, ops::RemoteLink::Unreachable { .. })
                    && c.remote_targets(&alias).unwrap_or_default().iter().any(|t| foreign::in_other_sim(t, w.id)),
            }),
        );
    }
    let patterns: Map<String, Value> = c
        .auto_follow
        .iter()
        .map(|(n, p)| (n.clone(), json!({"active": p.active, "remote_cluster": p.remote_cluster, "followed_leader_indices": p.followed.len()})))
        .collect();
    let writers: Map<String, Value> = c
        .writers
        .iter()
        .map(|(n, wr)| (n.clone(), json!(wr.docs_per_second)))
        .collect();
    json!({
        "cluster": {
            "name": c.name,
            "version": c.version.to_string(),
            "http_address": c.http_addr.to_string(),
            "transport_address": c.transport_addr,
            "license": c.license,
            "security": c.security.is_some(),
            // Aliases only: keystore values are secrets.
            "keystore": {
                "written": c.keystore.written.keys().collect::<Vec<_>>(),
                "loaded": c.keystore.loaded.keys().collect::<Vec<_>>(),
            },
            "isolated": !c.up,
            "stopped": c.stopped,
        },
        "clock": {
            "mode": if w.clock.is_deterministic() { "deterministic" } else { "real" },
            "now_millis": w.clock.now_ms(),
            // The clock as timestamps show it (lease timestamps, `_recovery` times).
            "epoch_millis": w.clock.epoch_ms(),
        },
        "indices": indices,
        "followers": followers,
        "remotes": remotes,
        "auto_follow_patterns": patterns,
        "faults": {
            "disconnected_remotes": c.faults.disconnected,
            "black_holed_remotes": c.faults.black_holed,
            "fail_start": c.faults.fail_start.keys().collect::<Vec<_>>(),
            "latency_ms": c.faults.latency_ms,
            "http_faults": c.faults.http,
            "writes": writers,
            "doc_drift": c.faults.doc_drift,
            "throttle": c.faults.throttle,
        },
        "scenario": {
            "pending_events": w.scenario.len(),
            "applied_events": w.scenario_log,
        },
        "requests": c.requests,
    })
}

/// The longest single clock step accepted.
const MAX_ADVANCE_MS: u64 = 30 * 86_400_000;
/// Limits that keep one control call from holding the world lock for long.
const MAX_DOCS_PER_CALL: u64 = 1_000_000;
const MAX_DOCS_PER_SECOND: f64 = 100_000.0;
/// Documents without sources cost nothing per document; bounded so store sizes cannot overflow.
const MAX_SIZED_DOCS_PER_CALL: u64 = 1_000_000_000;
const MAX_BYTES_PER_DOC: u64 = 16 << 20;
const MAX_STORE_BYTES: u64 = 1 << 50;
const MAX_OPS_PER_SECOND: f64 = 1_000_000.0;
/// Bounds a drift so sums of counts over many indices cannot overflow.
const MAX_DOC_DRIFT: u64 = 1_000_000_000;

/// Advances a deterministic clock in tick-sized steps, running the simulation at each step.
pub(crate) fn advance(world: &WorldLock, ms: u64) -> Result<(), SimError> {
    let mut w = world.lock();
    if !w.clock.is_deterministic() {
        return Err(SimError::NotDeterministic);
    }
    if ms > MAX_ADVANCE_MS {
        return Err(SimError::Invalid(format!(
            "cannot advance the clock by {ms} ms at once (at most {MAX_ADVANCE_MS} ms, 30 days)"
        )));
    }
    // 50 ms steps, but at most 2,000 steps per call so a long jump stays quick; the tick scales
    // replication, writers and retries by the elapsed time, so larger steps lose no work.
    let step_size = (ms / 2_000).max(replication::TICK_MS);
    let mut left = ms;
    while left > 0 {
        let by = left.min(step_size);
        w.clock.step(by);
        step(&mut w);
        left -= by;
    }
    Ok(())
}

/// One simulation step at the clock's current time: the scenario events that are due, then the
/// tick. Both tick drivers (the real-time ticker and `advance`) call this, so scripted events
/// fire at the same point of a step however time passes.
pub(crate) fn step(w: &mut World) {
    let now = w.clock.now_ms();
    for ev in scenario::take_due(w, now) {
        let result = apply(w, ev.cluster, &ev.action);
        let outcome = match &result {
            Ok(()) => "applied".to_string(),
            Err(e) => format!("failed: {e}"),
        };
        tracing::info!(event = %ev.label, action = ?ev.action, %outcome, "scenario event");
        let action = serde_json::to_value(&ev.action).unwrap_or_default();
        w.scenario_log.push(json!({
            "at_millis": ev.at_ms,
            "event": ev.label,
            "cluster": w.clusters[ev.cluster].name,
            "action": action,
            "outcome": outcome,
        }));
    }
    replication::tick(w, now);
}

fn ok() -> Reply {
    Reply::json(json!({"acknowledged": true}))
}

fn bad(status: u16, msg: String) -> Reply {
    Reply::with_status(status, json!({"error": msg, "status": status}))
}

fn sim_error(e: SimError) -> Reply {
    match e {
        SimError::Es(es) => Reply::with_status(es.status, es.to_body()),
        SimError::NotDeterministic => bad(409, e.to_string()),
        other => bad(400, other.to_string()),
    }
}

fn body_json(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(bad(400, "the body must be a JSON object".into())),
        Err(e) => Err(bad(400, format!("malformed JSON body: {e}"))),
    }
}

/// Parses a body into an action by adding the tag and path parameters.
fn action_from(
    tag: &str,
    mut body: Map<String, Value>,
    extra: &[(&str, &str)],
) -> Result<Action, Reply> {
    body.insert("action".into(), Value::String(tag.into()));
    for (k, v) in extra {
        body.insert((*k).into(), Value::String((*v).into()));
    }
    serde_json::from_value(Value::Object(body))
        .map_err(|e| bad(400, format!("bad [{tag}] request: {e}")))
}

/// Handles `/_sim/...` requests.
pub(crate) fn handle_http(
    world: &WorldLock,
    ci: usize,
    method: &str,
    target: &str,
    body: &[u8],
) -> Reply {
    let path = target.split('?').next().unwrap_or("");
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(crate::util::percent_decode)
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let body = match body_json(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let action = match (method, s.as_slice()) {
        ("GET", ["_sim", "state"]) => {
            return Reply::json(foreign::with_remotes(world, ci, |w| state(w, ci)))
        }
        ("GET", ["_sim", "requests"]) => {
            let w = world.lock();
            return Reply::json(
                serde_json::to_value(&w.clusters[ci].requests).unwrap_or(Value::Null),
            );
        }
        ("POST", ["_sim", "requests", "reset"]) => {
            world.lock().clusters[ci].requests = Default::default();
            return ok();
        }
        ("POST", ["_sim", "clock", "advance"]) => {
            let Some(ms) = body.get("ms").and_then(Value::as_u64) else {
                return bad(400, "body must be {\"ms\": <milliseconds>}".into());
            };
            return match advance(world, ms) {
                Ok(()) => ok(),
                Err(e) => sim_error(e),
            };
        }
        ("POST", ["_sim", "remote", alias, "disconnect"]) => {
            match action_from("disconnect_remote", body, &[("alias", alias)]) {
                Ok(a) => a,
                Err(r) => return r,
            }
        }
        ("POST", ["_sim", "follower", index, "fail_start"]) => {
            match action_from("fail_start", body, &[("index", index)]) {
                Ok(a) => a,
                Err(r) => return r,
            }
        }
        ("POST", ["_sim", "remote", alias, "connect"]) => Action::ConnectRemote {
            alias: (*alias).into(),
        },
        ("POST", ["_sim", "follower", index, "fatal"]) => {
            match action_from("fatal", body, &[("index", index)]) {
                Ok(a) => a,
                Err(r) => return r,
            }
        }
        ("POST", ["_sim", "follower", index, "read_exceptions"]) => {
            match action_from("read_exceptions", body, &[("index", index)]) {
                Ok(a) => a,
                Err(r) => return r,
            }
        }
        ("POST", ["_sim", "follower", index, "drift"]) => {
            match action_from("drift", body, &[("index", index)]) {
                Ok(a) => a,
                Err(r) => return r,
            }
        }
        ("POST", ["_sim", "leader", index, "retention_lease_loss"]) => Action::RetentionLeaseLoss {
            index: (*index).into(),
        },
        ("POST", ["_sim", "leader", index, "delete"]) => Action::DeleteIndex {
            index: (*index).into(),
        },
        ("POST", ["_sim", "license"]) => match action_from("license", body, &[]) {
            Ok(a) => a,
            Err(r) => return r,
        },
        ("POST", ["_sim", "latency"]) => match action_from("latency", body, &[]) {
            Ok(a) => a,
            Err(r) => return r,
        },
        ("POST", ["_sim", "http_faults"]) => match action_from("http_faults", body, &[]) {
            Ok(a) => a,
            Err(r) => return r,
        },
        ("POST", ["_sim", "writes", index]) => {
            match action_from("writes", body, &[("index", index)]) {
                Ok(a) => a,
                Err(r) => return r,
            }
        }
        ("POST", ["_sim", "follower", index, "throttle"]) => {
            match action_from("throttle", body, &[("index", index)]) {
                Ok(a) => a,
                Err(r) => return r,
            }
        }
        ("POST", ["_sim", "docs", index]) => {
            match action_from("index_docs", body, &[("index", index)]) {
                Ok(a) => a,
                Err(r) => return r,
            }
        }
        ("POST" | "PUT", ["_sim", "keystore", alias]) => {
            if !body.get("credentials").is_some_and(Value::is_string) {
                return bad(
                    400,
                    "bad [keystore] request: [credentials] must be a string (the encoded cross-cluster API key)".into(),
                );
            }
            match action_from("keystore", body, &[("alias", alias)]) {
                Ok(a) => a,
                Err(r) => return r,
            }
        }
        ("DELETE", ["_sim", "keystore", alias]) => Action::Keystore {
            alias: alias.to_string(),
            credentials: None,
        },
        ("POST", ["_sim", "isolate"]) => Action::Isolate {},
        ("POST", ["_sim", "rejoin"]) => Action::Rejoin {},
        ("POST", ["_sim", "stop"]) => Action::Stop {},
        ("POST", ["_sim", "start"]) => Action::Start {},
        ("DELETE", ["_sim", "faults"]) => Action::ClearFaults {},
        _ => {
            return bad(
                404,
                format!("no simulator control endpoint [{method} {path}]"),
            )
        }
    };
    let mut w = world.lock();
    match apply(&mut w, ci, &action) {
        Ok(()) => ok(),
        Err(e) => sim_error(e),
    }
}
