//! Index endpoints: create/delete/open/close, settings, documents, bulk, search, count, stats.

use serde_json::{json, Map, Value};

use super::human_bytes;
use crate::api::reply::{Reply, Req};
use crate::error::EsError;
use crate::util::{nest_settings, parse_body_object, wildcard_match};
use crate::world::data_stream;
use crate::world::model::{Cluster, World};
use crate::world::ops;
use crate::world::settings::{self, Scope};

/// Resolves an index expression (comma list, wildcards, `_all`, `-exclusions`).
///
/// Concrete names that do not exist give the resolver's 404. Wildcards expand to open indices,
/// and to closed ones too when `include_closed`. With `forbid_closed`, a concrete closed index
/// gives `index_closed_exception`.
pub(crate) fn resolve(
    c: &Cluster,
    expr: &str,
    include_closed: bool,
    forbid_closed: bool,
) -> Result<Vec<String>, EsError> {
    resolve_opts(c, expr, include_closed, forbid_closed, false, false)
}

/// [`resolve`] honouring `ignore_unavailable=true`: missing or closed concrete names are skipped.
pub(crate) fn resolve_req(
    c: &Cluster,
    expr: &str,
    include_closed: bool,
    forbid_closed: bool,
    req: &Req,
) -> Result<Vec<String>, EsError> {
    let hidden = req
        .q("expand_wildcards")
        .is_some_and(|e| e.split(',').any(|x| matches!(x.trim(), "hidden" | "all")));
    resolve_opts(
        c,
        expr,
        include_closed,
        forbid_closed,
        req.flag("ignore_unavailable"),
        hidden,
    )
}

/// [`resolve`] for lenient readers (the cluster state): wildcards expand to open indices, and
/// to closed ones with `include_closed`; missing names are skipped with `ignore_unavailable`.
pub(crate) fn resolve_names(
    c: &Cluster,
    expr: &str,
    include_closed: bool,
    ignore_unavailable: bool,
) -> Result<Vec<String>, EsError> {
    resolve_opts(c, expr, include_closed, false, ignore_unavailable, false)
}

/// `IndexNameExpressionResolver`: wildcards skip hidden indices (data streams' backing indices
/// among them) unless `expand_wildcards` has `hidden` or `all`, or the pattern and the index
/// both start with a dot; a data stream's name, or a wildcard matching it, stands for its
/// backing indices.
fn resolve_opts(
    c: &Cluster,
    expr: &str,
    include_closed: bool,
    forbid_closed: bool,
    ignore_unavailable: bool,
    hidden: bool,
) -> Result<Vec<String>, EsError> {
    let mut out: Vec<String> = Vec::new();
    // The names in `out`, so a wildcard over thousands of indices stays linear.
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for part in expr.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some(excl) = part.strip_prefix('-').filter(|_| !out.is_empty()) {
            out.retain(|n| {
                let keep = !wildcard_match(excl, n)
                    && !data_stream::parent_stream(c, n)
                        .is_some_and(|d| wildcard_match(excl, &d.name));
                if !keep {
                    seen.remove(n);
                }
                keep
            });
            continue;
        }
        if part == "_all" || part.contains('*') {
            let pat = if part == "_all" { "*" } else { part };
            for (n, i) in &c.indices {
                let is_hidden = i.settings.get("index.hidden").map(String::as_str) == Some("true");
                let shown = !is_hidden || hidden || (pat.starts_with('.') && n.starts_with('.'));
                if shown
                    && wildcard_match(pat, n)
                    && (i.open || include_closed)
                    && !seen.contains(n)
                {
                    seen.insert(n.clone());
                    out.push(n.clone());
                }
            }
            for ds in data_stream::matching_streams(c, part, hidden) {
                for n in &c.data_streams[&ds].indices {
                    let open = c.indices.get(n).is_some_and(|i| i.open || include_closed);
                    if open && !seen.contains(n) {
                        seen.insert(n.clone());
                        out.push(n.clone());
                    }
                }
            }
            continue;
        }
        if let Some(ds) = c
            .data_streams
            .get(part)
            .filter(|_| !c.indices.contains_key(part))
        {
            for n in &ds.indices {
                if !seen.contains(n) && c.indices.contains_key(n) {
                    seen.insert(n.clone());
                    out.push(n.clone());
                }
            }
            continue;
        }
        match c.indices.get(part) {
            Some(i) => {
                if forbid_closed && !i.open {
                    if ignore_unavailable {
                        continue;
                    }
                    return Err(EsError::index_closed(part, &i.uuid));
                }
                if !seen.contains(part) {
                    seen.insert(part.to_string());
                    out.push(part.to_string());
                }
            }
            None if ignore_unavailable => continue,
            None => return Err(EsError::index_not_found_resolver(part)),
        }
    }
    Ok(out)
}

/// Every `_cat/indices` column, in Elasticsearch's order.
const CAT_INDICES_COLUMNS: [&str; 11] = [
    "health",
    "status",
    "index",
    "uuid",
    "pri",
    "rep",
    "docs.count",
    "docs.deleted",
    "store.size",
    "pri.store.size",
    "dataset.size",
];

pub(crate) fn cat_indices(c: &Cluster, expr: Option<&str>, req: &Req) -> Result<Reply, EsError> {
    let names = resolve_req(c, expr.unwrap_or("*"), true, false, req)?;
    let mut rows = Vec::new();
    let mut columns_template = Vec::new();
    for n in names {
        let Some(i) = c.indices.get(&n) else { continue };
        let health = i.health();
        let size = human_bytes(i.store_bytes());
        let open = i.open;
        let row: Vec<(&str, String)> = vec![
            ("health", health.into()),
            ("status", if open { "open" } else { "close" }.into()),
            ("index", i.name.clone()),
            ("uuid", i.uuid.clone()),
            ("pri", i.shard_count().to_string()),
            ("rep", i.replicas().to_string()),
            (
                "docs.count",
                if open {
                    c.visible_docs(i).to_string()
                } else {
                    String::new()
                },
            ),
            (
                "docs.deleted",
                if open { "0".into() } else { String::new() },
            ),
            (
                "store.size",
                if open { size.clone() } else { String::new() },
            ),
            (
                "pri.store.size",
                if open { size.clone() } else { String::new() },
            ),
            ("dataset.size", if open { size } else { String::new() }),
        ];
        columns_template = row.clone();
        rows.push(row);
    }
    if columns_template.is_empty() {
        columns_template = CAT_INDICES_COLUMNS
            .iter()
            .map(|n| (*n, String::new()))
            .collect();
    }
    // `dataset.size` (the last column) is shown by default from 8.11.
    let shown = if c.version.at_least(8, 11) {
        CAT_INDICES_COLUMNS.len()
    } else {
        CAT_INDICES_COLUMNS.len() - 1
    };
    let defaults = CAT_INDICES_COLUMNS[..shown].to_vec();
    super::cluster::cat_render(req, &columns_template, &defaults, &rows)
}

pub(crate) fn create(w: &mut World, ci: usize, name: &str, req: &Req) -> Result<Reply, EsError> {
    let body = parse_body_object(&req.body, false)?.unwrap_or_default();
    let mut update = settings::SettingsUpdate::new();
    for (k, v) in &body {
        match k.as_str() {
            "settings" => update = settings::normalize_index_settings(v),
            "mappings" | "aliases" => {}
            other => {
                return Err(EsError::parse(format!(
                    "unknown key [{other}] for create index"
                )))
            }
        }
    }
    let c = &w.clusters[ci];
    settings::validate_index_settings(&update, c.version, c.flavor, settings::Origin::Create)?;
    let given = update
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    let epoch = w.clock.epoch_ms();
    let c = &mut w.clusters[ci];
    data_stream::check_plain_index_allowed(c, name)?;
    let warnings = ops::create_index(c, name, given, epoch)?;
    let mut r =
        Reply::json(json!({"acknowledged": true, "shards_acknowledged": true, "index": name}));
    for text in warnings {
        r.headers
            .push(super::cluster::deprecation_warning(c.version, &text));
    }
    Ok(r)
}

/// ES's `DestructiveOperations.failDestructive`: with `action.destructive_requires_name`
/// (default true from 8.0), `_all` and wildcard expressions are refused.
fn fail_destructive(c: &Cluster, expr: &str) -> Result<(), EsError> {
    // "*,-*" matches nothing, so it is never destructive.
    if expr.replace(' ', "") == "*,-*" {
        return Ok(());
    }
    let wildcard = expr
        .split(',')
        .any(|p| p.trim() == "_all" || p.contains('*'));
    if c.destructive_requires_name() && (wildcard || expr.trim().is_empty()) {
        return Err(EsError::illegal_argument(
            "Wildcard expressions or all indices are not allowed",
        ));
    }
    Ok(())
}

pub(crate) fn delete(c: &mut Cluster, expr: &str) -> Result<Reply, EsError> {
    fail_destructive(c, expr)?;
    let names = resolve(c, expr, true, false)?;
    for n in &names {
        data_stream::check_index_deletable(c, n)?;
    }
    for n in names {
        c.remove_index(&n);
    }
    c.metadata_version += 1;
    Ok(Reply::ack())
}

/// An index's settings as `GET _settings` renders them: strings, nested unless `flat`;
/// `defaults` adds the registry's defaults for the settings the index does not set.
fn settings_json(
    c: &Cluster,
    i: &crate::world::model::Index,
    flat: bool,
    defaults: bool,
    names: Option<&str>,
) -> Value {
    let wanted = |k: &str| {
        names.map_or(true, |n| {
            n.split(',').any(|p| {
                let p = p.trim();
                wildcard_match(p, k) || p == "_all"
            })
        })
    };
    let render = |items: Vec<(String, Value)>| {
        if flat {
            Value::Object(items.into_iter().collect())
        } else {
            nest_settings(items.iter().map(|(k, v)| (k, v)))
        }
    };
    let strings: Vec<(String, Value)> = i
        .settings
        .iter()
        .filter(|(k, _)| wanted(k))
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut m = Map::new();
    m.insert("settings".into(), render(strings));
    if defaults {
        let mut d: Vec<(String, Value)> =
            settings::index_defaults(&i.settings, c.version, c.flavor)
                .into_iter()
                .filter(|(k, _)| wanted(k))
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
        if !i.settings.contains_key("index.soft_deletes.enabled") {
            d.retain(|(k, _)| k != "index.soft_deletes.enabled");
            if wanted("index.soft_deletes.enabled") {
                d.push((
                    "index.soft_deletes.enabled".to_string(),
                    Value::String(i.soft_deletes.to_string()),
                ));
            }
        }
        m.insert("defaults".into(), render(d));
    }
    Value::Object(m)
}

pub(crate) fn get_index(c: &Cluster, expr: &str, req: &Req) -> Result<Reply, EsError> {
    let names = resolve(c, expr, true, false)?;
    let mut out = Map::new();
    for n in names {
        if let Some(i) = c.indices.get(&n) {
            let mut m = Map::new();
            m.insert("aliases".into(), json!({}));
            m.insert("mappings".into(), json!({}));
            let s = settings_json(
                c,
                i,
                req.flag("flat_settings"),
                req.flag("include_defaults"),
                None,
            );
            if let Value::Object(s) = s {
                m.extend(s);
            }
            out.insert(n, Value::Object(m));
        }
    }
    Ok(Reply::json(Value::Object(out)))
}

/// `warn_default`: 7.x warns when `wait_for_active_shards` is not given.
pub(crate) fn close(c: &mut Cluster, expr: &str, warn_default: bool) -> Result<Reply, EsError> {
    fail_destructive(c, expr)?;
    let names = resolve(c, expr, true, false)?;
    data_stream::check_closable(c, &names)?;
    // RestoreService.checkIndexClosing: a follower still in its restore window cannot be closed.
    let restoring: Vec<String> = names
        .iter()
        .filter_map(|n| c.indices.get(n))
        .filter(|i| i.restoring())
        .map(|i| format!("[{}/{}]", i.name, i.uuid))
        .collect();
    if !restoring.is_empty() {
        return Err(EsError::illegal_argument(format!(
            "Cannot close indices that are being restored: [{}]",
            restoring.join(", ")
        )));
    }
    let mut indices = Map::new();
    for n in &names {
        if let Some(i) = c.indices.get_mut(n) {
            i.open = false;
            indices.insert(n.clone(), json!({"closed": true}));
        }
    }
    let mut r = if c.version.at_least(7, 2) {
        Reply::json(json!({"acknowledged": true, "shards_acknowledged": true, "indices": indices}))
    } else {
        Reply::ack()
    };
    if c.version.major == 7 && warn_default {
        r.headers.push((
            "Warning".into(),
            "299 Elasticsearch-7 \"the default value for the ?wait_for_active_shards parameter will change from '0' to 'index-setting' in version 8; specify '?wait_for_active_shards=index-setting' to adopt the future default behaviour, or '?wait_for_active_shards=0' to preserve today's behaviour\"".into(),
        ));
    }
    Ok(r)
}

pub(crate) fn open(c: &mut Cluster, expr: &str) -> Result<Reply, EsError> {
    let names = resolve(c, expr, true, false)?;
    for n in &names {
        if let Some(i) = c.indices.get_mut(n) {
            i.open = true;
        }
    }
    Ok(Reply::json(
        json!({"acknowledged": true, "shards_acknowledged": true}),
    ))
}

/// `GET /_settings`, `/{index}/_settings` and `/{index}/_settings/{name}` (`name`: setting
/// names or wildcards). Both `settings` and `defaults` are filtered by the names
/// (`TransportGetSettingsAction#masterOperation`); without `include_defaults` an index left with
/// no setting is omitted, with it every index is written with both objects
/// (`GetSettingsResponse#toXContent`, `omitEmptySettings`).
pub(crate) fn get_settings(c: &Cluster, expr: Option<&str>, req: &Req) -> Result<Reply, EsError> {
    let names = resolve_req(c, expr.unwrap_or("_all"), true, false, req)?;
    let filter = match req.segs.as_slice() {
        [_, s, name] if s == "_settings" => Some(name.as_str()),
        _ => None,
    };
    let defaults = req.flag("include_defaults");
    let mut out = Map::new();
    for n in names {
        if let Some(i) = c.indices.get(&n) {
            let s = settings_json(c, i, req.flag("flat_settings"), defaults, filter);
            let empty = s["settings"].as_object().is_some_and(|m| m.is_empty());
            if empty && !defaults {
                continue;
            }
            out.insert(n, s);
        }
    }
    Ok(Reply::json(Value::Object(out)))
}

/// `PUT /{index}/_settings`, as `MetadataUpdateSettingsService.updateSettings` checks it:
/// the indices resolve first, then every key is validated, then static settings are refused
/// on open indices and final ones on any index; `null` resets a setting to its default.
pub(crate) fn put_settings(c: &mut Cluster, expr: &str, req: &Req) -> Result<Reply, EsError> {
    let body = parse_body_object(&req.body, true)?.unwrap_or_default();
    let inner = match body.get("settings") {
        Some(s) if body.len() == 1 => s.clone(),
        _ => Value::Object(body),
    };
    let mut update = settings::normalize_index_settings(&inner);
    let names = resolve(c, expr, true, false)?;
    // `"index.routing.allocation.include.*": null` resets every matching setting; wildcards
    // are not validated as keys (Regex.isSimpleMatchPattern in updateSettings).
    let wildcard_resets: Vec<String> = update
        .iter()
        .filter(|(k, v)| k.contains('*') && v.is_none())
        .map(|(k, _)| k.clone())
        .collect();
    update.retain(|k, _| !wildcard_resets.contains(k));
    // A metadata-write block refuses the update, unless the request touches the settings that
    // lift it (else a blocked index could never be unblocked).
    let unblocking = [
        "index.blocks.metadata",
        "index.blocks.read_only",
        "index.blocks.read_only_allow_delete",
    ]
    .iter()
    .any(|k| update.contains_key(*k));
    if !unblocking {
        for n in &names {
            if let Some(e) = c
                .indices
                .get(n)
                .and_then(|i| ops::metadata_write_block(i, n, c.version.major))
            {
                return Err(e);
            }
        }
    }
    settings::validate_index_settings(&update, c.version, c.flavor, settings::Origin::Update)?;
    let scope_of = |k: &str| {
        settings::index_setting(k, c.version, c.flavor).map_or(Scope::Dynamic, |d| d.scope)
    };
    let skipped: Vec<&str> = update
        .keys()
        .map(String::as_str)
        .filter(|k| scope_of(k) != Scope::Dynamic)
        .collect();
    let open: Vec<String> = names
        .iter()
        .filter_map(|n| c.indices.get(n))
        .filter(|i| i.open)
        .map(|i| format!("[{}/{}]", i.name, i.uuid))
        .collect();
    if !skipped.is_empty() && !open.is_empty() {
        return Err(EsError::illegal_argument(format!(
            "Can't update non dynamic settings [[{}]] for open indices [{}]",
            skipped.join(", "),
            open.join(", ")
        )));
    }
    if let Some(key) = skipped.iter().find(|k| scope_of(k) == Scope::Final) {
        // 6.x names the index where 7.0 and later say "index".
        let kind = if c.version.major >= 7 {
            "index"
        } else {
            names.first().map(String::as_str).unwrap_or("index")
        };
        return Err(EsError::illegal_argument(format!(
            "final {kind} setting [{key}], not updateable"
        )));
    }
    // `preserve_existing=true` only adds settings an index does not have yet.
    let preserve = req.flag("preserve_existing");
    for n in &names {
        if let Some(i) = c.indices.get_mut(n) {
            let before = i.settings.clone();
            for (k, v) in &update {
                if preserve && before.contains_key(k) {
                    continue;
                }
                match v {
                    Some(v) => {
                        i.settings.insert(k.clone(), v.clone());
                    }
                    None => {
                        i.settings.remove(k);
                    }
                }
            }
            let (version, flavor, open) = (c.version, c.flavor, i.open);
            i.settings.retain(|k, _| {
                let resettable = settings::index_setting(k, version, flavor).is_some_and(|d| {
                    d.scope == Scope::Dynamic || (!open && d.scope == Scope::Static)
                });
                !(resettable && wildcard_resets.iter().any(|p| wildcard_match(p, k)))
            });
            if i.settings != before {
                i.settings_version += 1;
            }
        }
    }
    Ok(Reply::ack())
}

fn shards_header(total: u64) -> Value {
    json!({"total": total, "successful": total, "skipped": 0, "failed": 0})
}

/// Parses an optional search/count body (only to reject malformed JSON as ES does).
fn search_body(req: &Req) -> Result<Map<String, Value>, EsError> {
    Ok(parse_body_object(&req.body, false)?.unwrap_or_default())
}

pub(crate) fn count(c: &Cluster, expr: Option<&str>, req: &Req) -> Result<Reply, EsError> {
    let _ = search_body(req)?;
    let names = resolve_req(c, expr.unwrap_or("_all"), false, true, req)?;
    let mut total = 0;
    let mut shards = 0;
    for n in names {
        if let Some(i) = c.indices.get(&n) {
            total += c.visible_docs(i);
            shards += i.shard_count() as u64;
        }
    }
    Ok(Reply::json(
        json!({"count": total, "_shards": shards_header(shards)}),
    ))
}

/// `GET /_stats` and `GET /{index}/_stats` (IndicesStatsResponse): `_all`, then per index with
/// `level=indices` (the default) or `shards`; `level=cluster` stops after `_all`. Each index
/// shows `docs` and `store`; its shards (ShardStats.toXContent) add `routing`, `commit`, `seq_no`,
/// `retention_leases` and `shard_path`, whatever the metric. Unassigned replicas (one node) are
/// not listed; a shard still being restored is INITIALIZING, without engine stats.
pub(crate) fn stats(
    c: &Cluster,
    expr: Option<&str>,
    req: &Req,
    now_epoch: u64,
) -> Result<Reply, EsError> {
    let names = resolve_req(c, expr.unwrap_or("_all"), false, false, req)?;
    let level = req.q("level").unwrap_or("indices");
    let (with_indices, with_shards) = match level.to_ascii_lowercase().as_str() {
        "cluster" => (false, false),
        "indices" => (true, false),
        "shards" => (true, true),
        _ => {
            return Err(EsError::illegal_argument(format!(
            "level parameter must be one of [cluster] or [indices] or [shards] but was [{level}]"
        )))
        }
    };
    let mut indices = Map::new();
    let mut all_docs = 0;
    let mut all_store = 0;
    let mut shards = 0;
    for n in names {
        if let Some(i) = c.indices.get(&n) {
            let count = c.visible_docs(i);
            let docs = json!({"docs": {"count": count, "deleted": 0}, "store": {"size_in_bytes": i.store_bytes()}});
            all_docs += count;
            all_store += i.store_bytes();
            shards += i.shard_count() as u64;
            if !with_indices {
                continue;
            }
            let mut m = Map::new();
            m.insert("uuid".into(), i.uuid.clone().into());
            m.insert("health".into(), i.health().into());
            m.insert("status".into(), "open".into());
            m.insert("primaries".into(), docs.clone());
            m.insert("total".into(), docs);
            if with_shards {
                let per_shard: Map<String, Value> = (0..i.shard_count())
                    .map(|s| (s.to_string(), json!([shard_stats(c, i, s, now_epoch)])))
                    .collect();
                m.insert("shards".into(), Value::Object(per_shard));
            }
            indices.insert(n, Value::Object(m));
        }
    }
    let all =
        json!({"docs": {"count": all_docs, "deleted": 0}, "store": {"size_in_bytes": all_store}});
    let mut body = Map::new();
    body.insert(
        "_shards".into(),
        json!({"total": shards, "successful": shards, "failed": 0}),
    );
    body.insert("_all".into(), json!({"primaries": all, "total": all}));
    if with_indices {
        body.insert("indices".into(), Value::Object(indices));
    }
    Ok(Reply::json(Value::Object(body)))
}

/// The node's data path as the stats show it (reconstructed: the path of the official image).
const DATA_PATH: &str = "/usr/share/elasticsearch/data";

/// One shard copy's `ShardStats.toXContent`: `routing`, the common stats (`docs`, `store`),
/// `commit` (CommitStats), `seq_no` (SeqNoStats), `retention_leases` (RetentionLeaseStats) and
/// `shard_path`. A shard without an engine (a restore still copying it) has no commit, sequence
/// number or lease stats, as TransportIndicesStatsAction leaves them null.
fn shard_stats(c: &Cluster, i: &crate::world::model::Index, s: usize, now_epoch: u64) -> Value {
    let h = &i.shards[s];
    let copying = i
        .restore
        .as_ref()
        .filter(|r| r.finished_ms.is_none())
        .and_then(|r| r.shards.get(s))
        .is_some_and(|r| r.stop.is_none());
    let drift = if s == 0 {
        c.faults.doc_drift.get(&i.name).copied().unwrap_or(0)
    } else {
        0
    };
    let docs = if copying {
        0
    } else {
        h.live().saturating_add_signed(drift)
    };
    let store = if copying {
        0
    } else {
        h.live() * h.avg_op_bytes() + 225
    };
    let mut m = Map::new();
    m.insert(
        "routing".into(),
        json!({
            "state": if copying { "INITIALIZING" } else { "STARTED" },
            "primary": true,
            "node": c.node_id,
            "relocating_node": null,
        }),
    );
    m.insert("docs".into(), json!({"count": docs, "deleted": 0}));
    m.insert("store".into(), json!({"size_in_bytes": store}));
    if !copying {
        let max = h.max_seq_no();
        let shard_uuid =
            |what: &str| crate::world::model::make_uuid(&format!("{}/{what}", i.uuid), s as u64);
        // Lucene's commit user data (Engine's keys); the values are strings, as ES writes them.
        m.insert(
            "commit".into(),
            json!({
                "id": shard_uuid("commit"),
                "generation": 3,
                "user_data": {
                    "local_checkpoint": max.to_string(),
                    "max_unsafe_auto_id_timestamp": "-1",
                    "min_retained_seq_no": h.min_retained.to_string(),
                    "translog_uuid": shard_uuid("translog"),
                    "history_uuid": shard_uuid("history"),
                    "max_seq_no": max.to_string(),
                },
                "num_docs": h.live(),
            }),
        );
        m.insert(
            "seq_no".into(),
            json!({"max_seq_no": max, "local_checkpoint": max, "global_checkpoint": max}),
        );
        let (version, shown) = crate::world::leases::shown(c, i, s, now_epoch);
        let leases: Vec<Value> = shown
            .iter()
            .map(|l| {
                json!({
                    "id": l.id,
                    "retaining_seq_no": l.retaining_seq_no,
                    "timestamp": l.timestamp,
                    "source": l.source,
                })
            })
            .collect();
        m.insert(
            "retention_leases".into(),
            json!({"primary_term": 1, "version": version, "leases": leases}),
        );
    }
    m.insert(
        "shard_path".into(),
        json!({
            "state_path": DATA_PATH,
            "data_path": DATA_PATH,
            "is_custom_data_path": false,
        }),
    );
    Value::Object(m)
}

fn doc_parse_error(c: &Cluster, e: EsError) -> EsError {
    let kind = if c.version.at_least(8, 8) {
        "document_parsing_exception"
    } else {
        "mapper_parsing_exception"
    };
    let reason = if c.version.at_least(8, 8) {
        "[1:1] failed to parse".to_string()
    } else {
        "failed to parse".to_string()
    };
    EsError::new(400, kind, reason).caused_by(e)
}

/// The answer to a single-document write: the bulk item body without its `status` (that is
/// the HTTP status here).
fn write_reply(c: &Cluster, r: &ops::WriteResult, result: &str, status: u16) -> Reply {
    let mut body = write_json(c, r, result, status);
    if let Value::Object(m) = &mut body {
        m.remove("status");
    }
    Reply::with_status(status, body)
}

fn write_json(c: &Cluster, r: &ops::WriteResult, result: &str, status: u16) -> Value {
    let mut m = Map::new();
    m.insert("_index".into(), r.index.clone().into());
    if c.version.major < 8 {
        m.insert("_type".into(), "_doc".into());
    }
    m.insert("_id".into(), r.id.clone().into());
    m.insert("_version".into(), r.version.into());
    m.insert("result".into(), result.into());
    m.insert(
        "_shards".into(),
        json!({"total": 2, "successful": 1, "failed": 0}),
    );
    m.insert("_seq_no".into(), r.seq_no.into());
    m.insert("_primary_term".into(), 1.into());
    m.insert("status".into(), status.into());
    Value::Object(m)
}

pub(crate) fn index_doc(
    w: &mut World,
    ci: usize,
    index: &str,
    id: Option<String>,
    create: bool,
    req: &Req,
) -> Result<Reply, EsError> {
    let c = &w.clusters[ci];
    let source = match parse_body_object(&req.body, true) {
        Ok(Some(m)) => Value::Object(m),
        Ok(None) => return Err(EsError::parse("request body is required")),
        Err(e) if e.kind == "parse_exception" => return Err(e),
        Err(e) => return Err(doc_parse_error(c, e)),
    };
    let epoch = w.clock.epoch_ms();
    let c = &mut w.clusters[ci];
    let r = ops::index_doc(c, index, id, source, create, epoch)?;
    let (result, status) = if r.created {
        ("created", 201)
    } else {
        ("updated", 200)
    };
    Ok(write_reply(c, &r, result, status))
}

pub(crate) fn get_doc(c: &Cluster, index: &str, id: &str) -> Result<Reply, EsError> {
    let i = c
        .indices
        .get(index)
        .ok_or_else(|| EsError::index_not_found_resolver(index))?;
    if !i.open {
        return Err(EsError::index_closed(index, &i.uuid));
    }
    let mut m = Map::new();
    m.insert("_index".into(), index.into());
    if c.version.major < 8 {
        m.insert("_type".into(), "_doc".into());
    }
    m.insert("_id".into(), id.into());
    match i.docs.docs.get(id) {
        Some(d) => {
            m.insert("_version".into(), d.version.into());
            m.insert("_seq_no".into(), d.seq_no.into());
            m.insert("_primary_term".into(), 1.into());
            m.insert("found".into(), true.into());
            m.insert("_source".into(), (*d.source).clone());
            Ok(Reply::json(Value::Object(m)))
        }
        None => {
            m.insert("found".into(), false.into());
            Ok(Reply::with_status(404, Value::Object(m)))
        }
    }
}

pub(crate) fn delete_doc(c: &mut Cluster, index: &str, id: &str) -> Result<Reply, EsError> {
    let r = ops::delete_doc(c, index, id)?;
    let (result, status) = if r.found {
        ("deleted", 200)
    } else {
        ("not_found", 404)
    };
    Ok(write_reply(c, &r, result, status))
}

/// One parsed bulk line pair: operation, index, id, source.
type BulkAction = (String, Option<String>, Option<String>, Option<Value>);

pub(crate) fn bulk(
    w: &mut World,
    ci: usize,
    default_index: Option<&str>,
    req: &Req,
) -> Result<Reply, EsError> {
    let text = String::from_utf8_lossy(&req.body).into_owned();
    if text.trim().is_empty() {
        return Err(EsError::validation(&["no requests added".to_string()]));
    }
    if !text.ends_with('\n') {
        return Err(EsError::illegal_argument(
            "The bulk request must be terminated by a newline [\\n]",
        ));
    }
    // Parse everything first: a malformed line fails the whole request, as in ES.
    let lines: Vec<&str> = text.lines().collect();
    let mut actions: Vec<BulkAction> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() {
            continue;
        }
        let action: Value = serde_json::from_str(line).map_err(|e| {
            EsError::illegal_argument(format!(
                "Malformed action/metadata line [{i}], expected START_OBJECT or END_OBJECT but found [{}]",
                if e.is_eof() { "null" } else { "VALUE_STRING" }
            ))
        })?;
        let Some((op, meta)) = action.as_object().and_then(|o| o.iter().next()) else {
            return Err(EsError::illegal_argument(format!(
                "Malformed action/metadata line [{i}], expected FIELD_NAME but found [END_OBJECT]"
            )));
        };
        let op = op.clone();
        if !matches!(op.as_str(), "index" | "create" | "delete" | "update") {
            return Err(EsError::illegal_argument(format!(
                "Malformed action/metadata line [{i}], expected field [create], [delete], [index] or [update] but found [{op}]"
            )));
        }
        let index = meta
            .get("_index")
            .and_then(|v| v.as_str())
            .map(String::from)
            .or(default_index.map(String::from));
        let id = meta.get("_id").and_then(|v| {
            v.as_str()
                .map(String::from)
                .or_else(|| v.as_u64().map(|n| n.to_string()))
        });
        let source = if op == "delete" {
            None
        } else {
            let src_line = lines.get(i).copied().unwrap_or("");
            i += 1;
            Some(serde_json::from_str::<Value>(src_line).unwrap_or(Value::Null))
        };
        actions.push((op, index, id, source));
    }
    let missing: Vec<String> = actions
        .iter()
        .enumerate()
        .filter(|(_, a)| a.1.is_none())
        .map(|_| "index is missing".to_string())
        .collect();
    if !missing.is_empty() {
        return Err(EsError::validation(&missing));
    }
    let epoch = w.clock.epoch_ms();
    let c = &mut w.clusters[ci];
    let mut items = Vec::new();
    let mut errors = false;
    for (op, index, id, source) in actions {
        let index = index.unwrap_or_default();
        let res = match op.as_str() {
            "delete" => match id.clone() {
                Some(id) => ops::delete_doc(c, &index, &id).map(|r| {
                    let (res, st) = if r.found {
                        ("deleted", 200)
                    } else {
                        ("not_found", 404)
                    };
                    write_json(c, &r, res, st)
                }),
                None => Err(EsError::validation(&["id is missing".to_string()])),
            },
            "update" => Err(EsError::illegal_argument(
                "the simulator does not support bulk [update] actions",
            )),
            _ => match source {
                Some(Value::Object(m)) => ops::index_doc(
                    c,
                    &index,
                    id.clone(),
                    Value::Object(m),
                    op == "create",
                    epoch,
                )
                .map(|r| {
                    let (res, st) = if r.created {
                        ("created", 201)
                    } else {
                        ("updated", 200)
                    };
                    write_json(c, &r, res, st)
                }),
                _ => Err(doc_parse_error(
                    c,
                    EsError::x_content("[1:1] source is not a JSON object"),
                )),
            },
        };
        let item = match res {
            Ok(v) => v,
            Err(e) => {
                errors = true;
                let mut m = Map::new();
                m.insert("_index".into(), index.clone().into());
                if c.version.major < 8 {
                    m.insert("_type".into(), "_doc".into());
                }
                m.insert("_id".into(), id.map(Value::String).unwrap_or(Value::Null));
                m.insert("status".into(), e.status.into());
                m.insert("error".into(), e.to_cause_json());
                Value::Object(m)
            }
        };
        let mut wrap = Map::new();
        wrap.insert(op, item);
        items.push(Value::Object(wrap));
    }
    Ok(Reply::json(
        json!({"took": 1, "errors": errors, "items": items}),
    ))
}

pub(crate) fn search(c: &Cluster, expr: Option<&str>, req: &Req) -> Result<Reply, EsError> {
    let body = search_body(req)?;
    let num = |k: &str, d: u64| -> Result<u64, EsError> {
        if let Some(q) = req.q(k) {
            return q.parse().map_err(|_| {
                EsError::illegal_argument(format!(
                    "Failed to parse int parameter [{k}] with value [{q}]"
                ))
            });
        }
        Ok(body.get(k).and_then(Value::as_u64).unwrap_or(d))
    };
    let size = num("size", 10)?;
    let from = num("from", 0)?;
    if from.saturating_add(size) > 10_000 {
        return Err(EsError::illegal_argument(format!(
            "Result window is too large, from + size must be less than or equal to: [10000] but was [{}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.",
            from.saturating_add(size)
        )));
    }
    let names = resolve_req(c, expr.unwrap_or("_all"), false, true, req)?;
    let mut total = 0u64;
    let mut shards = 0u64;
    let mut hits = Vec::new();
    let mut skipped = 0u64;
    for n in &names {
        let Some(i) = c.indices.get(n) else { continue };
        let visible = c.visible_docs(i);
        total += visible;
        shards += i.shard_count() as u64;
        // Documents a negative drift hides are neither hits nor skipped.
        let mut live = 0u64;
        'docs: for shard in &i.docs.by_seq {
            for (id, deleted) in shard.values() {
                if *deleted {
                    continue;
                }
                if live >= visible {
                    break 'docs;
                }
                live += 1;
                if skipped < from {
                    skipped += 1;
                    continue;
                }
                if hits.len() as u64 >= size {
                    break;
                }
                if let Some(d) = i.docs.docs.get(id) {
                    let mut h = Map::new();
                    h.insert("_index".into(), n.clone().into());
                    if c.version.major < 8 {
                        h.insert("_type".into(), "_doc".into());
                    }
                    h.insert("_id".into(), id.clone().into());
                    h.insert("_score".into(), 1.0.into());
                    h.insert("_source".into(), (*d.source).clone());
                    hits.push(Value::Object(h));
                }
            }
        }
    }
    let total_json = if c.version.major >= 7 {
        json!({"value": total, "relation": "eq"})
    } else {
        json!(total)
    };
    Ok(Reply::json(json!({
        "took": 1,
        "timed_out": false,
        "_shards": shards_header(shards),
        "hits": {"total": total_json, "max_score": if hits.is_empty() { Value::Null } else { json!(1.0) }, "hits": hits}
    })))
}

pub(crate) fn refresh(c: &Cluster, expr: Option<&str>, req: &Req) -> Result<Reply, EsError> {
    let names = resolve_req(c, expr.unwrap_or("_all"), false, true, req)?;
    let shards: u64 = names
        .iter()
        .filter_map(|n| c.indices.get(n))
        .map(|i| i.shard_count() as u64)
        .sum();
    Ok(Reply::json(
        json!({"_shards": {"total": shards * 2, "successful": shards, "failed": 0}}),
    ))
}
