//! CCR endpoints: follow, pause/resume/unfollow, stats, info, auto-follow, forget_follower.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use super::human_bytes;
use crate::api::reply::{Deferred, Reply, ReplyBody, Req};
use crate::error::EsError;
use crate::util::{parse_body_object, wildcard_match};
use crate::world::model::{
    AutoFollowPattern, Cluster, FollowParams, Index, World, CONNECT_TIMEOUT_MS,
};
use crate::world::ops;

fn string_field(parser: &str, key: &str, v: &Value) -> Result<String, EsError> {
    v.as_str()
        .map(String::from)
        .ok_or_else(|| crate::world::model::field_error(parser, key, v))
}

fn unknown_field(parser: &str, key: &str) -> EsError {
    EsError::x_content(format!("[1:2] [{parser}] unknown field [{key}]"))
}

/// The requested `wait_for_active_shards`: None for 0, Some(None) for `all`, Some(Some(n)).
fn wait_for_active_shards(req: &Req) -> Result<Option<Option<u64>>, EsError> {
    match req.q("wait_for_active_shards") {
        None | Some("default") | Some("0") => Ok(None),
        Some("all") => Ok(Some(None)),
        Some(s) => match s.parse::<u64>() {
            Ok(n) => Ok(Some(Some(n))),
            Err(_) => Err(EsError::illegal_argument(format!(
                "cannot parse ActiveShardCount[{s}]"
            ))),
        },
    }
}

pub(crate) fn put_follow(
    w: &mut World,
    ci: usize,
    follower: &str,
    req: &Req,
    user: Option<&str>,
) -> Result<Reply, EsError> {
    const P: &str = "put_follow_request";
    let v = w.clusters[ci].version;
    let body = parse_body_object(&req.body, true)?.unwrap_or_default();
    let mut params = FollowParams::default();
    let (mut remote, mut leader, mut settings) = (None, None, BTreeMap::new());
    for (k, val) in &body {
        match k.as_str() {
            "remote_cluster" => remote = Some(string_field(P, k, val)?),
            "leader_index" => leader = Some(string_field(P, k, val)?),
            "settings" if v.at_least(7, 9) => settings = ops::flat_index_settings(val)?,
            "data_stream_name" if v.at_least(8, 4) => {
                string_field(P, k, val)?;
            }
            _ => {
                if !params.set(k, val, P)? {
                    return Err(unknown_field(P, k));
                }
            }
        }
    }
    let mut errors = params.validate();
    if remote.is_none() {
        errors.push("remote_cluster is missing".into());
    }
    if leader.is_none() {
        errors.push("leader_index is missing".into());
    }
    if !errors.is_empty() {
        return Err(EsError::validation(&errors));
    }
    let wait = wait_for_active_shards(req)?;
    w.clusters[ci].ccr_allowed()?;
    let (remote, leader) = (remote.unwrap_or_default(), leader.unwrap_or_default());
    let spec = ops::NewFollower {
        follower,
        alias: &remote,
        leader: &leader,
        params,
        overrides: settings,
        user,
    };
    let created = ops::create_follower(w, ci, spec);
    if let Err(e) = created {
        return through_remote(w, ci, &remote, Err(e));
    }
    // TransportPutFollowAction.afterRestoreStarted: with no shards to wait for, the answer goes
    // out as soon as the restore has started; otherwise after the restore and the resume.
    match wait {
        None => Ok(Reply::json(
            json!({"follow_index_created": true, "follow_index_shards_acked": false, "index_following_started": false}),
        )),
        Some(n) => {
            let uuid = w.clusters[ci]
                .indices
                .get(follower)
                .map(|i| i.uuid.clone())
                .unwrap_or_default();
            Ok(Reply::deferred(Deferred::PutFollow {
                follower: follower.to_string(),
                uuid,
                wait: n,
                timeout_ms: ACTIVE_SHARDS_TIMEOUT_MS,
            }))
        }
    }
}

/// The default `timeout` of put follow's request (AcknowledgedRequest, 30s): how long
/// ActiveShardsObserver waits for the shard copies after the resume.
const ACTIVE_SHARDS_TIMEOUT_MS: u64 = 30_000;

/// A request that failed because the remote is unreachable: through a black hole ES answers
/// only after the connect timeout, so the reply waits that long in simulated time.
fn through_remote(
    w: &World,
    ci: usize,
    alias: &str,
    result: Result<Reply, EsError>,
) -> Result<Reply, EsError> {
    match result {
        Err(e)
            if ops::black_holed(&w.clusters[ci], alias)
                && matches!(
                    ops::remote_link(w, ci, alias),
                    ops::RemoteLink::Unreachable { .. }
                ) =>
        {
            Ok(Reply::deferred(Deferred::At {
                at_ms: w.clock.now_ms() + CONNECT_TIMEOUT_MS,
                reply: Box::new(Reply::error(&e)),
            }))
        }
        other => other,
    }
}

/// Decides a deferred reply at the clock's current time: the final reply, or the same
/// deferral when ES would still be waiting.
pub(crate) fn poll_deferred(w: &World, ci: usize, d: Deferred) -> Reply {
    let now = w.clock.now_ms();
    let put_follow = |acked: bool, started: bool| {
        Reply::json(
            json!({"follow_index_created": true, "follow_index_shards_acked": acked, "index_following_started": started}),
        )
    };
    match d {
        Deferred::At { at_ms, reply } => {
            if now >= at_ms {
                *reply
            } else {
                Reply::deferred(Deferred::At { at_ms, reply })
            }
        }
        Deferred::PutFollow {
            follower,
            uuid,
            wait,
            timeout_ms,
        } => {
            let idx = w.clusters[ci]
                .indices
                .get(&follower)
                .filter(|i| i.uuid == uuid);
            // Deleted during the restore: the restore ends with failed shards.
            let Some((idx, r)) = idx.and_then(|i| i.restore.as_ref().map(|r| (i, r))) else {
                return put_follow(false, false);
            };
            let (Some(finished), Some(outcome)) = (r.finished_ms, &r.outcome) else {
                return Reply::deferred(Deferred::PutFollow {
                    follower,
                    uuid,
                    wait,
                    timeout_ms,
                });
            };
            if let Err(e) = outcome {
                return Reply::error(e);
            }
            // One node: each shard has one active copy, its primary.
            let enough = match wait {
                Some(n) => n <= 1,
                None => idx.replicas() == 0,
            };
            if enough {
                put_follow(true, true)
            } else if now >= finished + timeout_ms {
                put_follow(false, true)
            } else {
                Reply::deferred(Deferred::PutFollow {
                    follower,
                    uuid,
                    wait,
                    timeout_ms,
                })
            }
        }
    }
}

pub(crate) fn pause_follow(c: &mut Cluster, index: &str) -> Result<Reply, EsError> {
    ops::pause_follow(c, index)?;
    Ok(Reply::ack())
}

fn parse_params(body: Option<Map<String, Value>>, parser: &str) -> Result<FollowParams, EsError> {
    let mut params = FollowParams::default();
    for (k, v) in body.unwrap_or_default() {
        if !params.set(&k, &v, parser)? {
            return Err(unknown_field(parser, &k));
        }
    }
    let errors = params.validate();
    if !errors.is_empty() {
        return Err(EsError::validation(&errors));
    }
    Ok(params)
}

pub(crate) fn resume_follow(
    w: &mut World,
    ci: usize,
    index: &str,
    req: &Req,
) -> Result<Reply, EsError> {
    let params = parse_params(
        parse_body_object(&req.body, false)?,
        "resume_follow_request",
    )?;
    let alias = follower_remote(&w.clusters[ci], index);
    let result = ops::resume_follow(w, ci, index, params).map(|()| Reply::ack());
    through_remote(w, ci, &alias, result)
}

fn follower_remote(c: &Cluster, index: &str) -> String {
    c.indices
        .get(index)
        .and_then(|i| i.follow.as_ref())
        .map(|m| m.remote_cluster.clone())
        .unwrap_or_default()
}

pub(crate) fn unfollow(w: &mut World, ci: usize, index: &str) -> Result<Reply, EsError> {
    let alias = follower_remote(&w.clusters[ci], index);
    let result = ops::unfollow(w, ci, index).map(|()| Reply::ack());
    through_remote(w, ci, &alias, result)
}

/// The active followers a follower-stats request names (TransportFollowStatsAction): a single
/// `_all` or `*` means every one; anything else is a list of exact names, never patterns. When
/// names match no shard follow task, 404.
fn active_followers<'a>(c: &'a Cluster, expr: &str) -> Result<Vec<&'a Index>, EsError> {
    let parts: Vec<&str> = expr.split(',').map(str::trim).collect();
    let all = matches!(parts.as_slice(), [] | ["_all"] | ["*"]);
    let out: Vec<&Index> = c
        .indices
        .values()
        .filter(|i| i.tasks.is_some())
        .filter(|i| all || parts.contains(&i.name.as_str()))
        .collect();
    if out.is_empty() && !all {
        return Err(EsError::resource_not_found(format!(
            "No shard follow tasks for follower indices [{}]",
            parts.join(",")
        )));
    }
    Ok(out)
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Writes `"{name}_millis":ms` (no trailing comma), preceded by the readable
/// `"{name}":"1.5s",` when `human`: Elasticsearch's order for `?human` durations.
fn write_millis(out: &mut String, human: bool, name: &str, ms: i64) {
    if human {
        let _ = write!(out, "\"{name}\":\"{}\",", human_time(ms));
    }
    let _ = write!(out, "\"{name}_millis\":{ms}");
}

/// Writes `"{raw_name}":bytes` (no trailing comma), preceded by the readable
/// `"{human_name}":"1.5kb",` when `human`.
fn write_bytes(out: &mut String, human: bool, human_name: &str, raw_name: &str, bytes: u64) {
    if human {
        let _ = write!(out, "\"{human_name}\":\"{}\",", human_bytes(bytes));
    }
    let _ = write!(out, "\"{raw_name}\":{bytes}");
}

fn human_time(ms: i64) -> String {
    if ms < 0 {
        return "-1".into();
    }
    let (v, u) = if ms < 1000 {
        return format!("{ms}ms");
    } else if ms < 60_000 {
        (ms as f64 / 1000.0, "s")
    } else if ms < 3_600_000 {
        (ms as f64 / 60_000.0, "m")
    } else if ms < 86_400_000 {
        (ms as f64 / 3_600_000.0, "h")
    } else {
        (ms as f64 / 86_400_000.0, "d")
    };
    let s = format!("{v:.1}");
    format!("{}{u}", s.trim_end_matches(".0"))
}

/// Writes the follow stats body (`{"indices":[...]}`) directly as text: 10,000 shards must
/// serialise in milliseconds.
fn write_follow_stats(out: &mut String, c: &Cluster, followers: &[&Index], now: u64, human: bool) {
    let v = c.version;
    out.push_str("{\"indices\":[");
    for (n, idx) in followers.iter().enumerate() {
        let (Some(meta), Some(tasks)) = (&idx.follow, &idx.tasks) else {
            continue;
        };
        if n > 0 {
            out.push(',');
        }
        let name = json_str(&idx.name);
        let remote = json_str(&meta.remote_cluster);
        let leader = json_str(&meta.leader_index);
        let _ = write!(out, "{{\"index\":{name},");
        if v.at_least(8, 13) {
            let lag: i64 = tasks
                .shards
                .iter()
                .enumerate()
                .map(|(i, t)| (t.leader_gcp - idx.shards[i].max_seq_no()).max(0))
                .sum();
            let _ = write!(out, "\"total_global_checkpoint_lag\":{lag},");
        }
        out.push_str("\"shards\":[");
        for (i, t) in tasks.shards.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let fg = idx.shards[i].max_seq_no();
            let since = t
                .last_read_ms
                .map(|l| now.saturating_sub(l) as i64)
                .unwrap_or(-1);
            let buffer_bytes = 0u64;
            let _ = write!(
                out,
                "{{\"remote_cluster\":{remote},\"leader_index\":{leader},\"follower_index\":{name},\"shard_id\":{i},\
\"leader_global_checkpoint\":{},\"leader_max_seq_no\":{},\"follower_global_checkpoint\":{fg},\"follower_max_seq_no\":{fg},\
\"last_requested_seq_no\":{},\"outstanding_read_requests\":{},\"outstanding_write_requests\":{},\
\"write_buffer_operation_count\":0,",
                t.leader_gcp, t.leader_max, t.last_requested, t.outstanding_reads, t.outstanding_writes
            );
            write_bytes(
                out,
                human,
                "write_buffer_size",
                "write_buffer_size_in_bytes",
                buffer_bytes,
            );
            let _ = write!(
                out,
                ",\"follower_mapping_version\":{},\"follower_settings_version\":{},",
                idx.mapping_version, idx.settings_version
            );
            if v.at_least(7, 3) {
                let _ = write!(out, "\"follower_aliases_version\":{},", idx.aliases_version);
            }
            write_millis(out, human, "total_read_time", t.total_read_time_ms as i64);
            out.push(',');
            write_millis(
                out,
                human,
                "total_read_remote_exec_time",
                t.total_read_remote_exec_ms as i64,
            );
            let _ = write!(
                out,
                ",\"successful_read_requests\":{},\"failed_read_requests\":{},\"operations_read\":{},",
                t.successful_reads, t.failed_reads, t.ops_read
            );
            write_bytes(out, human, "total_read", "bytes_read", t.bytes_read);
            out.push(',');
            write_millis(out, human, "total_write_time", t.total_write_time_ms as i64);
            let _ = write!(
                out,
                ",\"successful_write_requests\":{},\"failed_write_requests\":{},\"operations_written\":{},\"read_exceptions\":[",
                t.successful_writes, t.failed_writes, t.ops_written
            );
            for (k, f) in t.read_failures.values().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                let _ = write!(
                    out,
                    "{{\"from_seq_no\":{},\"retries\":{},\"exception\":{}}}",
                    f.from_seq_no,
                    f.retries,
                    f.exception.to_cause_json()
                );
            }
            out.push_str("],");
            write_millis(out, human, "time_since_last_read", since);
            if let Some(fatal) = &t.fatal {
                let _ = write!(out, ",\"fatal_exception\":{}", fatal.to_cause_json());
            }
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push_str("]}");
}

pub(crate) fn follow_stats(w: &World, ci: usize, expr: &str, req: &Req) -> Result<Reply, EsError> {
    let c = &w.clusters[ci];
    c.ccr_allowed()?;
    let followers = active_followers(c, expr)?;
    let mut out = String::with_capacity(followers.len() * 1200 + 16);
    write_follow_stats(&mut out, c, &followers, w.clock.now_ms(), req.flag("human"));
    Ok(Reply {
        status: 200,
        body: ReplyBody::Raw(out),
        headers: Vec::new(),
    })
}

pub(crate) fn ccr_stats(w: &World, ci: usize, req: &Req) -> Result<Reply, EsError> {
    let c = &w.clusters[ci];
    c.ccr_allowed()?;
    let now = w.clock.now_ms();
    let s = &c.auto_follow_stats;
    let errors: Vec<Value> = s
        .recent_errors
        .iter()
        .map(|(k, ts, e)| {
            let mut m = Map::new();
            m.insert("leader_index".into(), k.clone().into());
            if c.version.at_least(7, 0) {
                m.insert("timestamp".into(), (*ts).into());
            }
            m.insert("auto_follow_exception".into(), e.to_cause_json());
            Value::Object(m)
        })
        .collect();
    let clusters: Vec<Value> = s
        .clusters
        .iter()
        .map(|(alias, (at, version))| {
            json!({"cluster_name": alias, "time_since_last_check_millis": now.saturating_sub(*at), "last_seen_metadata_version": version})
        })
        .collect();
    let auto = json!({
        "number_of_failed_follow_indices": s.failed_follow,
        "number_of_failed_remote_cluster_state_requests": s.failed_remote,
        "number_of_successful_follow_indices": s.successful_follow,
        "recent_auto_follow_errors": errors,
        "auto_followed_clusters": clusters,
    });
    let followers = active_followers(c, "_all")?;
    let mut out = String::with_capacity(followers.len() * 1200 + 512);
    out.push_str("{\"auto_follow_stats\":");
    out.push_str(&auto.to_string());
    out.push_str(",\"follow_stats\":");
    write_follow_stats(&mut out, c, &followers, now, req.flag("human"));
    out.push('}');
    Ok(Reply {
        status: 200,
        body: ReplyBody::Raw(out),
        headers: Vec::new(),
    })
}

pub(crate) fn follow_info(c: &Cluster, expr: &str) -> Result<Reply, EsError> {
    let names = super::indices::resolve(c, expr, true, false)?;
    let mut out = Vec::new();
    for n in names {
        let Some(i) = c.indices.get(&n) else { continue };
        let Some(meta) = &i.follow else { continue };
        let mut m = Map::new();
        m.insert("follower_index".into(), n.clone().into());
        m.insert("remote_cluster".into(), meta.remote_cluster.clone().into());
        m.insert("leader_index".into(), meta.leader_index.clone().into());
        match &i.tasks {
            Some(t) => {
                m.insert("status".into(), "active".into());
                m.insert("parameters".into(), t.params.effective_json());
            }
            None => {
                m.insert("status".into(), "paused".into());
            }
        }
        out.push(Value::Object(m));
    }
    Ok(Reply::json(json!({"follower_indices": out})))
}

pub(crate) fn forget_follower(c: &mut Cluster, leader: &str, req: &Req) -> Result<Reply, EsError> {
    const P: &str = "forget_follower_request";
    let body = parse_body_object(&req.body, true)?.unwrap_or_default();
    let mut f = BTreeMap::new();
    for (k, v) in &body {
        match k.as_str() {
            "follower_cluster"
            | "follower_index"
            | "follower_index_uuid"
            | "leader_remote_cluster" => {
                f.insert(k.clone(), string_field(P, k, v)?);
            }
            _ => return Err(unknown_field(P, k)),
        }
    }
    let missing: Vec<String> = [
        "follower_cluster",
        "follower_index",
        "follower_index_uuid",
        "leader_remote_cluster",
    ]
    .iter()
    .filter(|k| !f.contains_key(**k))
    .map(|k| format!("[{k}] is missing"))
    .collect();
    if !missing.is_empty() {
        return Err(EsError::parse(format!("Required {}", missing.join(", "))));
    }
    let idx = c
        .indices
        .get_mut(leader)
        .ok_or_else(|| EsError::index_not_found_resolver(leader))?;
    let lease = format!(
        "{}/{}/{}-following-{}/{}/{}",
        f["follower_cluster"],
        f["follower_index"],
        f["follower_index_uuid"],
        f["leader_remote_cluster"],
        leader,
        idx.uuid
    );
    let n = idx.shard_count();
    if idx.remove_lease(&lease) {
        return Ok(Reply::json(
            json!({"_shards": {"total": n, "successful": n, "failed": 0, "failures": []}}),
        ));
    }
    let failures: Vec<Value> = (0..n)
        .map(|shard| {
            json!({
                "shard": shard,
                "index": leader,
                "status": "NOT_FOUND",
                "reason": {
                    "type": "retention_lease_not_found_exception",
                    "reason": format!("retention lease with ID [{lease}] not found")
                }
            })
        })
        .collect();
    Ok(Reply::json(
        json!({"_shards": {"total": n, "successful": 0, "failed": n, "failures": failures}}),
    ))
}

fn pattern_missing(name: &str) -> EsError {
    EsError::resource_not_found(format!("auto-follow pattern [{name}] is missing"))
}

fn pattern_json(c: &Cluster, p: &AutoFollowPattern) -> Value {
    let v = c.version;
    let mut m = Map::new();
    if v.at_least(7, 5) {
        m.insert("active".into(), p.active.into());
    }
    m.insert("remote_cluster".into(), p.remote_cluster.clone().into());
    m.insert(
        "leader_index_patterns".into(),
        json!(p.leader_index_patterns),
    );
    if v.at_least(7, 14) {
        m.insert(
            "leader_index_exclusion_patterns".into(),
            json!(p.exclusion_patterns),
        );
    }
    if let Some(f) = &p.follow_index_pattern {
        m.insert("follow_index_pattern".into(), f.clone().into());
    }
    if let Some(s) = &p.settings {
        m.insert("settings".into(), Value::Object(s.clone()));
    }
    p.params.explicit_json(&mut m);
    Value::Object(m)
}

pub(crate) fn get_auto_follow(c: &Cluster, name: Option<&str>) -> Result<Reply, EsError> {
    let patterns: Vec<Value> = match name {
        Some(n) => {
            let p = c.auto_follow.get(n).ok_or_else(|| pattern_missing(n))?;
            vec![json!({"name": n, "pattern": pattern_json(c, p)})]
        }
        None => c
            .auto_follow
            .iter()
            .map(|(n, p)| json!({"name": n, "pattern": pattern_json(c, p)}))
            .collect(),
    };
    Ok(Reply::json(json!({"patterns": patterns})))
}

fn string_list(parser: &str, key: &str, v: &Value) -> Result<Vec<String>, EsError> {
    match v {
        Value::Array(items) => items.iter().map(|i| string_field(parser, key, i)).collect(),
        Value::String(s) => Ok(vec![s.clone()]),
        other => Err(crate::world::model::field_error(parser, key, other)),
    }
}

pub(crate) fn put_auto_follow(
    w: &mut World,
    ci: usize,
    name: &str,
    req: &Req,
    user: Option<&str>,
) -> Result<Reply, EsError> {
    const P: &str = "put_auto_follow_pattern_request";
    let v = w.clusters[ci].version;
    let body = parse_body_object(&req.body, true)?.unwrap_or_default();
    let mut params = FollowParams::default();
    let mut remote = None;
    let mut patterns: Option<Vec<String>> = None;
    let mut exclusions = Vec::new();
    let mut follow_pattern = None;
    let mut settings: Option<Map<String, Value>> = None;
    for (k, val) in &body {
        match k.as_str() {
            "remote_cluster" => remote = Some(string_field(P, k, val)?),
            "leader_index_patterns" => patterns = Some(string_list(P, k, val)?),
            "leader_index_exclusion_patterns" if v.at_least(7, 14) => {
                exclusions = string_list(P, k, val)?
            }
            "follow_index_pattern" => follow_pattern = Some(string_field(P, k, val)?),
            "settings" if v.at_least(7, 9) => match val {
                Value::Object(m) => settings = Some(m.clone()),
                other => return Err(crate::world::model::field_error(P, k, other)),
            },
            _ => {
                if !params.set(k, val, P)? {
                    return Err(unknown_field(P, k));
                }
            }
        }
    }
    let mut errors = Vec::new();
    if remote.is_none() {
        errors.push("[remote_cluster] is missing".to_string());
    }
    if patterns.as_ref().map_or(true, |p| p.is_empty()) {
        errors.push("[leader_index_patterns] is missing".to_string());
    }
    errors.extend(params.validate());
    if !errors.is_empty() {
        return Err(EsError::validation(&errors));
    }
    w.clusters[ci].ccr_allowed()?;
    let remote = remote.unwrap_or_default();
    let patterns = patterns.unwrap_or_default();
    let li = match ops::connected_remote(w, ci, &remote, None) {
        Ok(li) => li,
        Err(e) => return through_remote(w, ci, &remote, Err(e)),
    };
    // Through an API-key remote the key, not a leader user, limits what is followed.
    if !crate::world::security::is_api_key_remote(w, ci, &remote, li) {
        ops::check_leader_privileges(&w.clusters[li], user, &patterns.join(","))?;
    }
    if let Some(s) = &settings {
        let flat = ops::flat_index_settings(&Value::Object(s.clone()))?;
        ops::check_follow_settings(&flat, "auto-follow pattern")?;
    }
    let now = w.clock.now_ms();
    // Leader indices that already match are recorded as followed, so only new ones are followed.
    let followed = w.clusters[li]
        .indices
        .values()
        .filter(|i| patterns.iter().any(|p| wildcard_match(p, &i.name)))
        .map(|i| i.uuid.clone())
        .collect();
    let leader_version = w.clusters[li].metadata_version;
    let c = &mut w.clusters[ci];
    let active = c.auto_follow.get(name).map(|p| p.active).unwrap_or(true);
    c.auto_follow.insert(
        name.to_string(),
        AutoFollowPattern {
            remote_cluster: remote,
            leader_index_patterns: patterns,
            exclusion_patterns: exclusions,
            follow_index_pattern: follow_pattern,
            settings,
            params,
            active,
            followed,
            retry_at: Default::default(),
            seen_version: leader_version,
            last_check_ms: now,
        },
    );
    Ok(Reply::ack())
}

pub(crate) fn delete_auto_follow(c: &mut Cluster, name: &str) -> Result<Reply, EsError> {
    c.auto_follow
        .remove(name)
        .ok_or_else(|| pattern_missing(name))?;
    Ok(Reply::ack())
}

pub(crate) fn activate_auto_follow(
    c: &mut Cluster,
    name: &str,
    active: bool,
) -> Result<Reply, EsError> {
    let p = c
        .auto_follow
        .get_mut(name)
        .ok_or_else(|| pattern_missing(name))?;
    if p.active != active {
        p.active = active;
        // Resuming rescans the remote, so indices created while paused are followed.
        p.seen_version = 0;
    }
    Ok(Reply::ack())
}
