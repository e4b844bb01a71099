//! `GET /_recovery` and `GET /{index}/_recovery`: each shard's recovery as
//! `RecoveryState.toXContent` renders it. A follower shows the remote recovery (a snapshot restore
//! from `_ccr_<alias>`) that created it; other indices show their empty-store recovery.

use serde_json::{json, Map, Value};

use super::human_bytes;
use crate::api::reply::{Reply, Req};
use crate::error::EsError;
use crate::world::model::{Cluster, Index, ShardRecovery};

/// `{"<index>":{"shards":[RecoveryState...]}}` for the indices `expr` names (all when None).
/// `detailed` is consumed; the simulator has no per-file list to add.
pub(crate) fn recovery(
    c: &Cluster,
    expr: Option<&str>,
    req: &Req,
    now_epoch: u64,
) -> Result<Reply, EsError> {
    let names: Vec<String> = match expr {
        Some(e) => super::indices::resolve(c, e, true, false)?,
        None => c
            .indices
            .values()
            .filter(|i| i.open)
            .map(|i| i.name.clone())
            .collect(),
    };
    let active_only = req.flag("active_only");
    let human = req.flag("human");
    let mut out = Map::new();
    for n in names {
        let Some(idx) = c.indices.get(&n) else {
            continue;
        };
        let shards: Vec<Value> = (0..idx.shard_count())
            .filter(|s| !active_only || shard_active(idx, *s))
            .map(|s| shard_json(c, idx, s, human, now_epoch))
            .collect();
        if active_only && shards.is_empty() {
            continue;
        }
        out.insert(n, json!({ "shards": shards }));
    }
    Ok(Reply::json(Value::Object(out)))
}

fn shard_active(idx: &Index, shard: usize) -> bool {
    idx.restore
        .as_ref()
        .and_then(|r| r.shards.get(shard))
        .is_some_and(|s| s.stop.is_none())
}

/// RecoveryState.Stage of a restoring shard: INIT until it holds a recovery slot, INDEX while
/// its files are copied, DONE after (the verify, translog and finalize steps of a snapshot
/// restore take no simulated time).
fn stage(s: &ShardRecovery) -> &'static str {
    match (s.start, s.stop) {
        (_, Some(_)) => "DONE",
        (Some(_), None) => "INDEX",
        (None, None) => "INIT",
    }
}

/// `RecoveryIndex.recoveredBytesPercent` as `%1.1f%%`: 0% while the file list is unknown (INIT),
/// 100% once everything is copied.
fn percent(done: u64, total: u64, known: bool) -> String {
    if !known {
        return "0.0%".into();
    }
    if done >= total {
        return "100.0%".into();
    }
    format!("{:.1}%", done as f64 * 100.0 / total as f64)
}

/// Adds `"{readable}":"..."` (with `human`) then `"{raw}":value`: XContentBuilder.humanReadableField.
fn human_field(
    m: &mut Map<String, Value>,
    human: bool,
    raw: &str,
    readable: &str,
    text: String,
    v: u64,
) {
    if human {
        m.insert(readable.into(), text.into());
    }
    m.insert(raw.into(), v.into());
}

/// `TimeValue.toString()`: `0s`, `175ms`, `2.9s`.
fn time_text(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = format!("{:.1}", ms as f64 / 1000.0);
    format!("{}s", s.trim_end_matches(".0"))
}

fn shard_json(c: &Cluster, idx: &Index, shard: usize, human: bool, now_epoch: u64) -> Value {
    let created: u64 = idx
        .settings
        .get("index.creation_date")
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let restore = idx.restore.as_ref();
    let sh = restore.and_then(|r| r.shards.get(shard));
    let (kind, stage_name) = match sh {
        Some(s) => ("SNAPSHOT", stage(s)),
        None => ("EMPTY_STORE", "DONE"),
    };
    let start_epoch = match (restore, sh) {
        (Some(r), Some(s)) => s.start.map(|(_, e)| e).unwrap_or(r.started.1),
        _ => created,
    };
    let stop_epoch = match sh {
        Some(s) => s.stop.map(|(_, e)| e),
        None => Some(created),
    };
    let total_time = stop_epoch.unwrap_or(now_epoch).saturating_sub(start_epoch);
    let mut m = Map::new();
    m.insert("id".into(), shard.into());
    m.insert("type".into(), kind.into());
    m.insert("stage".into(), stage_name.into());
    m.insert("primary".into(), true.into());
    if human {
        m.insert("start_time".into(), super::cluster::iso(start_epoch).into());
    }
    m.insert("start_time_in_millis".into(), start_epoch.into());
    if let Some(stop) = stop_epoch {
        if human {
            m.insert("stop_time".into(), super::cluster::iso(stop).into());
        }
        m.insert("stop_time_in_millis".into(), stop.into());
    }
    human_field(
        &mut m,
        human,
        "total_time_in_millis",
        "total_time",
        time_text(total_time),
        total_time,
    );
    let source = match restore {
        Some(r) => {
            let mut s = Map::new();
            s.insert("repository".into(), r.repository.clone().into());
            s.insert("snapshot".into(), "_latest_".into());
            s.insert("version".into(), c.version.to_string().into());
            s.insert("index".into(), r.leader_index.clone().into());
            s.insert("restoreUUID".into(), r.restore_uuid.clone().into());
            Value::Object(s)
        }
        None => json!({}),
    };
    m.insert("source".into(), source);
    let ip = c.http_addr.ip().to_string();
    m.insert(
        "target".into(),
        json!({
            "id": c.node_id,
            "host": ip,
            "transport_address": c.transport_addr,
            "ip": ip,
            "name": c.node_name,
        }),
    );
    // The file list is known once the shard's copy started (INIT shows zeros).
    let known = sh.map_or(true, |s| s.start.is_some());
    let (total, recovered, files, files_done, throttle) = match sh {
        Some(s) if s.start.is_none() => (0, 0, 0, 0, 0),
        Some(s) => {
            let files_done = if s.stop.is_some() {
                s.files
            } else {
                (s.files * s.recovered_bytes)
                    .checked_div(s.total_bytes)
                    .unwrap_or(0)
            };
            (
                s.total_bytes,
                s.recovered_bytes,
                s.files,
                files_done,
                s.throttle_ms,
            )
        }
        None => (0, 0, 0, 0, 0),
    };
    let mut size = Map::new();
    human_field(
        &mut size,
        human,
        "total_in_bytes",
        "total",
        human_bytes(total),
        total,
    );
    human_field(
        &mut size,
        human,
        "reused_in_bytes",
        "reused",
        human_bytes(0),
        0,
    );
    human_field(
        &mut size,
        human,
        "recovered_in_bytes",
        "recovered",
        human_bytes(recovered),
        recovered,
    );
    size.insert("percent".into(), percent(recovered, total, known).into());
    let mut index = Map::new();
    index.insert("size".into(), Value::Object(size));
    index.insert(
        "files".into(),
        json!({"total": files, "reused": 0, "recovered": files_done, "percent": percent(files_done, files, known)}),
    );
    human_field(
        &mut index,
        human,
        "total_time_in_millis",
        "total_time",
        time_text(total_time),
        total_time,
    );
    human_field(
        &mut index,
        human,
        "source_throttle_time_in_millis",
        "source_throttle_time",
        time_text(0),
        0,
    );
    human_field(
        &mut index,
        human,
        "target_throttle_time_in_millis",
        "target_throttle_time",
        time_text(throttle),
        throttle,
    );
    m.insert("index".into(), Value::Object(index));
    // A snapshot restore replays no translog; its size stays unknown (-1) until that stage.
    let done = sh.map_or(true, |s| s.stop.is_some());
    let (ops, ops_percent) = if done {
        (0i64, "100.0%")
    } else {
        (-1, "-1.0%")
    };
    let mut translog = Map::new();
    translog.insert("recovered".into(), 0.into());
    translog.insert("total".into(), ops.into());
    translog.insert("percent".into(), ops_percent.into());
    translog.insert("total_on_start".into(), ops.into());
    human_field(
        &mut translog,
        human,
        "total_time_in_millis",
        "total_time",
        time_text(0),
        0,
    );
    m.insert("translog".into(), Value::Object(translog));
    let mut verify = Map::new();
    human_field(
        &mut verify,
        human,
        "check_index_time_in_millis",
        "check_index_time",
        time_text(0),
        0,
    );
    human_field(
        &mut verify,
        human,
        "total_time_in_millis",
        "total_time",
        time_text(0),
        0,
    );
    m.insert("verify_index".into(), Value::Object(verify));
    Value::Object(m)
}
