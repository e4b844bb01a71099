//! Cluster-level endpoints: root, license, health, cluster settings, remote info, nodes.

use serde_json::{json, Map, Value};

use crate::api::reply::{Reply, ReplyBody, Req};
use crate::error::EsError;
use crate::util::{
    flatten_settings, nest_settings, parse_body_object, setting_string, wildcard_match,
};
use crate::world::model::{Cluster, World};
use crate::world::ops::{remote_link, RemoteLink};
use crate::world::settings;

pub(crate) fn root(c: &Cluster) -> Result<Reply, EsError> {
    Ok(Reply::json(json!({
        "name": c.node_name,
        "cluster_name": c.name,
        "cluster_uuid": c.cluster_uuid,
        "version": {
            "number": c.version.to_string(),
            "build_flavor": "default",
            "build_type": "docker",
            "build_hash": BUILD_HASH,
            "build_date": "2024-08-05T10:05:34.233336849Z",
            "build_snapshot": false,
            "lucene_version": c.version.lucene(),
            "minimum_wire_compatibility_version": c.version.min_wire(),
            "minimum_index_compatibility_version": c.version.min_index(),
        },
        "tagline": "You Know, for Search"
    })))
}

pub(crate) fn iso(epoch_ms: u64) -> String {
    // Civil-from-days (Howard Hinnant), to avoid a date dependency.
    let secs = epoch_ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        epoch_ms % 1000
    )
}

pub(crate) fn license(w: &World, ci: usize) -> Result<Reply, EsError> {
    let c = &w.clusters[ci];
    // The license was "issued" when the simulator started.
    let issued = w.clock.epoch_ms() - w.clock.now_ms();
    let mut l = Map::new();
    l.insert("status".into(), c.license.status.clone().into());
    l.insert("uid".into(), format!("{}-license", c.cluster_uuid).into());
    l.insert("type".into(), c.license.kind.clone().into());
    l.insert("issue_date".into(), iso(issued).into());
    l.insert("issue_date_in_millis".into(), issued.into());
    if c.license.kind != "basic" {
        let expiry = if c.license.status == "expired" {
            issued - 1000
        } else {
            issued + 30 * 86_400_000
        };
        l.insert("expiry_date".into(), iso(expiry).into());
        l.insert("expiry_date_in_millis".into(), expiry.into());
    }
    l.insert("max_nodes".into(), 1000.into());
    if c.version.major >= 8 {
        l.insert("max_resource_units".into(), Value::Null);
    }
    l.insert("issued_to".into(), c.name.clone().into());
    l.insert("issuer".into(), "elasticsearch".into());
    l.insert("start_date_in_millis".into(), (-1).into());
    Ok(Reply::json(json!({ "license": Value::Object(l) })))
}

pub(crate) fn health(c: &Cluster, index: Option<&str>) -> Result<Reply, EsError> {
    let names = match index {
        Some(expr) => super::indices::resolve(c, expr, true, false)?,
        None => c.indices.keys().cloned().collect(),
    };
    let (mut active_primaries, mut initializing, mut unassigned) = (0u64, 0u64, 0u64);
    let mut status = "green";
    for n in &names {
        if let Some(i) = c.indices.get(n) {
            let shards = i.shard_count() as u64;
            let active = i.active_primaries();
            active_primaries += active;
            // A restoring primary is initializing; replicas never get a second node.
            initializing += shards - active;
            unassigned += shards * i.replicas();
            status = match (status, i.health()) {
                ("red", _) | (_, "red") => "red",
                ("yellow", _) | (_, "yellow") => "yellow",
                _ => "green",
            };
        }
    }
    let total = active_primaries + initializing + unassigned;
    let pct = if total == 0 {
        100.0
    } else {
        active_primaries as f64 * 100.0 / total as f64
    };
    Ok(Reply::json(json!({
        "cluster_name": c.name,
        "status": status,
        "timed_out": false,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": active_primaries,
        "active_shards": active_primaries,
        "relocating_shards": 0,
        "initializing_shards": initializing,
        "unassigned_shards": unassigned,
        "delayed_unassigned_shards": 0,
        "number_of_pending_tasks": 0,
        "number_of_in_flight_fetch": 0,
        "task_max_waiting_in_queue_millis": 0,
        "active_shards_percent_as_number": pct
    })))
}

fn render_settings(flat: &std::collections::BTreeMap<String, Value>, flat_out: bool) -> Value {
    let strings: Vec<(String, Value)> = flat
        .iter()
        .map(|(k, v)| (k.clone(), setting_string(v)))
        .collect();
    if flat_out {
        Value::Object(strings.into_iter().collect())
    } else {
        nest_settings(strings.iter().map(|(k, v)| (k, v)))
    }
}

pub(crate) fn get_settings(c: &Cluster, req: &Req) -> Result<Reply, EsError> {
    let flat = req.flag("flat_settings");
    let mut out = Map::new();
    out.insert("persistent".into(), render_settings(&c.persistent, flat));
    out.insert("transient".into(), render_settings(&c.transient, flat));
    if req.flag("include_defaults") {
        let d: std::collections::BTreeMap<String, Value> = settings::CLUSTER_SETTINGS
            .iter()
            .filter(|d| !d.key.ends_with('.'))
            .filter(|d| !c.persistent.contains_key(d.key) && !c.transient.contains_key(d.key))
            .filter_map(|d| {
                settings::cluster_default(d.key, c.version).map(|v| (d.key.to_string(), json!(v)))
            })
            .collect();
        out.insert("defaults".into(), render_settings(&d, flat));
    }
    Ok(Reply::json(Value::Object(out)))
}

/// Per-alias remote settings and the version that introduced each.
fn remote_key_known(key: &str, c: &Cluster) -> bool {
    let v = c.version;
    match key {
        "seeds" | "skip_unavailable" | "transport.ping_schedule" | "transport.compress" => true,
        "mode"
        | "proxy_address"
        | "proxy_socket_connections"
        | "server_name"
        | "node_connections" => v.at_least(7, 7),
        "proxy" => !v.at_least(8, 0),
        "transport.compression_scheme" => v.at_least(7, 14),
        _ => false,
    }
}

fn validate_remote_value(key: &str, full: &str, v: &Value) -> Result<(), EsError> {
    match key {
        "skip_unavailable" | "transport.compress" => {
            let s = setting_string(v);
            let s = s.as_str().unwrap_or_default();
            if key == "skip_unavailable" && s != "true" && s != "false" {
                return Err(EsError::illegal_argument(format!(
                    "Failed to parse value [{s}] as only [true] or [false] are allowed."
                )));
            }
        }
        "mode" => {
            let s = setting_string(v);
            let s = s.as_str().unwrap_or_default().to_ascii_lowercase();
            if s != "sniff" && s != "proxy" {
                return Err(EsError::illegal_argument(format!(
                    "No enum constant org.elasticsearch.transport.RemoteConnectionStrategy.ConnectionStrategy.{}",
                    s.to_ascii_uppercase()
                )));
            }
        }
        "seeds" | "proxy_address" => {
            let list: Vec<String> = match v {
                Value::Array(items) => items
                    .iter()
                    .map(|i| setting_string(i).as_str().unwrap_or_default().to_string())
                    .collect(),
                other => setting_string(other)
                    .as_str()
                    .unwrap_or_default()
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .collect(),
            };
            for addr in list.iter().filter(|a| !a.is_empty()) {
                let port_ok = addr
                    .rsplit_once(':')
                    .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
                if !port_ok {
                    return Err(EsError::illegal_argument(format!(
                        "failed to parse port from [{addr}] for setting [{full}]"
                    )));
                }
            }
        }
        "node_connections" | "proxy_socket_connections" => {
            let s = setting_string(v);
            let s = s.as_str().unwrap_or_default();
            if s.parse::<u32>().map_or(true, |n| n < 1) {
                return Err(EsError::illegal_argument(format!(
                    "Failed to parse value [{s}] for setting [{full}] must be >= 1"
                )));
            }
        }
        _ => {}
    }
    Ok(())
}

pub(crate) fn put_settings(c: &mut Cluster, req: &Req) -> Result<Reply, EsError> {
    let body = parse_body_object(&req.body, true)?.unwrap_or_default();
    let mut updates: Vec<(&'static str, Vec<(String, Value)>)> = Vec::new();
    for (k, v) in &body {
        let scope: &'static str = match k.as_str() {
            "persistent" => "persistent",
            "transient" => "transient",
            other => {
                return Err(EsError::x_content(format!(
                    "[1:2] [cluster_update_settings_request] unknown field [{other}]"
                )))
            }
        };
        let mut flat = Vec::new();
        if !v.is_null() {
            flatten_settings("", v, &mut flat);
        }
        updates.push((scope, flat));
    }
    // Transient settings are deprecated from 7.16 (RestClusterUpdateSettingsAction).
    let transient_used = updates
        .iter()
        .any(|(scope, flat)| *scope == "transient" && !flat.is_empty());
    // Validate every key before applying any (ES applies a request atomically), transient
    // first as ES's SettingsUpdater does.
    updates.sort_by_key(|(scope, _)| *scope != "transient");
    for (scope, flat) in &updates {
        for (key, v) in flat {
            let node_level = settings::cluster_setting(key, c.version).is_some();
            if let Some(rest) = key.strip_prefix("cluster.remote.").filter(|_| !node_level) {
                let known = REMOTE_KEYS.iter().find(|k| {
                    rest.ends_with(&format!(".{k}")) || (rest.ends_with(".*") && **k == "*")
                });
                let alias_key = known.and_then(|k| {
                    if *k == "*" {
                        Some((rest.trim_end_matches(".*"), "*"))
                    } else {
                        rest.strip_suffix(&format!(".{k}")).map(|a| (a, *k))
                    }
                });
                match alias_key {
                    Some((alias, k))
                        if !alias.is_empty() && (k == "*" || remote_key_known(k, c)) =>
                    {
                        if k == "*" && !v.is_null() {
                            return Err(EsError::illegal_argument(format!(
                                "{scope} setting [{key}], not recognized"
                            )));
                        }
                        if !v.is_null() {
                            validate_remote_value(k, key, v)?;
                        }
                    }
                    _ => {
                        return Err(EsError::illegal_argument(format!(
                            "{scope} setting [{key}], not recognized"
                        )));
                    }
                }
            } else {
                settings::check_cluster_setting(scope, key, v, c.version)?;
            }
        }
    }
    let mut echo_p = Vec::new();
    let mut echo_t = Vec::new();
    let mut trial_p = c.persistent.clone();
    let mut trial_t = c.transient.clone();
    for (scope, flat) in updates {
        let (map, echo) = if scope == "persistent" {
            (&mut trial_p, &mut echo_p)
        } else {
            (&mut trial_t, &mut echo_t)
        };
        for (key, v) in flat {
            if v.is_null() {
                if let Some(prefix) = key.strip_suffix('*') {
                    map.retain(|k, _| !k.starts_with(prefix));
                } else {
                    map.remove(&key);
                }
            } else {
                map.insert(key.clone(), v.clone());
                echo.push((key, setting_string(&v)));
            }
        }
    }
    // Mode consistency, checked on the result like ES's RemoteConnectionStrategy validation.
    let old_p = std::mem::replace(&mut c.persistent, trial_p);
    let old_t = std::mem::replace(&mut c.transient, trial_t);
    if let Err(e) = check_modes(c) {
        c.persistent = old_p;
        c.transient = old_t;
        return Err(e);
    }
    let flat_out = req.flag("flat_settings");
    let render = |items: Vec<(String, Value)>| -> Value {
        if flat_out {
            Value::Object(items.into_iter().collect())
        } else {
            nest_settings(items.iter().map(|(k, v)| (k, v)))
        }
    };
    let mut reply = Reply::json(json!({
        "acknowledged": true,
        "persistent": render(echo_p),
        "transient": render(echo_t)
    }));
    if transient_used && c.version.at_least(7, 16) {
        reply
            .headers
            .push(deprecation_warning(c.version, TRANSIENT_DEPRECATION));
    }
    Ok(reply)
}

/// RestClusterUpdateSettingsAction.TRANSIENT_SETTINGS_DEPRECATION_MESSAGE.
const TRANSIENT_DEPRECATION: &str = "[transient settings removal] Updating cluster settings through transient settings is deprecated. Some Elastic products may make use of transient settings and those should not be changed. Any custom use of transient settings should be replaced by persistent settings.";

/// The build hash `GET /` shows, which ES's warning headers carry too.
const BUILD_HASH: &str = "0000000000000000000000000000000000000000";

/// A deprecation `Warning` header as ES's `HeaderWarning` formats it:
/// `299 Elasticsearch-<version>-<build hash> "<text>"`.
pub(crate) fn deprecation_warning(v: crate::version::Version, text: &str) -> (String, String) {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    (
        "Warning".to_string(),
        format!("299 Elasticsearch-{v}-{BUILD_HASH} \"{escaped}\""),
    )
}

const REMOTE_KEYS: &[&str] = &[
    "seeds",
    "mode",
    "proxy_address",
    "proxy_socket_connections",
    "server_name",
    "node_connections",
    "skip_unavailable",
    "transport.ping_schedule",
    "transport.compress",
    "transport.compression_scheme",
    "proxy",
    "*",
];

fn check_modes(c: &Cluster) -> Result<(), EsError> {
    let mut aliases = std::collections::BTreeSet::new();
    for k in c.persistent.keys().chain(c.transient.keys()) {
        if let Some(rest) = k.strip_prefix("cluster.remote.") {
            for rk in REMOTE_KEYS {
                if let Some(a) = rest.strip_suffix(&format!(".{rk}")) {
                    aliases.insert(a.to_string());
                }
            }
        }
    }
    for a in aliases {
        let mode = c.remote_mode(&a);
        let has = |k: &str| c.remote_setting(&a, k).is_some();
        if mode == "proxy" {
            for k in ["seeds", "node_connections"] {
                if has(k) {
                    return Err(EsError::illegal_argument(format!(
                        "Setting \"cluster.remote.{a}.{k}\" cannot be used with the configured \"cluster.remote.{a}.mode\" [required=SNIFF, configured=PROXY]"
                    )));
                }
            }
        } else {
            for k in ["proxy_address", "proxy_socket_connections", "server_name"] {
                if has(k) {
                    return Err(EsError::illegal_argument(format!(
                        "Setting \"cluster.remote.{a}.{k}\" cannot be used with the configured \"cluster.remote.{a}.mode\" [required=PROXY, configured=SNIFF]"
                    )));
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn remote_info(w: &World, ci: usize) -> Result<Reply, EsError> {
    let c = &w.clusters[ci];
    let v = c.version;
    let mut out = Map::new();
    for alias in c.remote_aliases() {
        let link = remote_link(w, ci, &alias);
        let connected = matches!(link, RemoteLink::Connected(_));
        let skip_default = v.at_least(8, 15);
        let skip = c
            .remote_setting(&alias, "skip_unavailable")
            .map(|s| setting_string(s).as_str() == Some("true"))
            .unwrap_or(skip_default);
        let timeout = c
            .persistent
            .get("cluster.remote.initial_connect_timeout")
            .or_else(|| c.transient.get("cluster.remote.initial_connect_timeout"))
            .and_then(|v| setting_string(v).as_str().map(String::from))
            .unwrap_or_else(|| "30s".to_string());
        let mut m = Map::new();
        let num = |k: &str, d: u64| {
            c.remote_setting(&alias, k)
                .and_then(|v| {
                    setting_string(v)
                        .as_str()
                        .and_then(|s| s.parse::<u64>().ok())
                })
                .unwrap_or(d)
        };
        if v.at_least(7, 7) && c.remote_mode(&alias) == "proxy" {
            let sockets = num("proxy_socket_connections", 18);
            m.insert("connected".into(), connected.into());
            m.insert("mode".into(), "proxy".into());
            m.insert(
                "proxy_address".into(),
                c.remote_targets(&alias)
                    .unwrap_or_default()
                    .join(",")
                    .into(),
            );
            let server_name = c
                .remote_setting(&alias, "server_name")
                .and_then(|s| s.as_str().map(String::from))
                .unwrap_or_default();
            m.insert("server_name".into(), server_name.into());
            m.insert(
                "num_proxy_sockets_connected".into(),
                (if connected { sockets } else { 0 }).into(),
            );
            m.insert("max_proxy_socket_connections".into(), sockets.into());
        } else {
            let seeds = c.remote_targets(&alias).unwrap_or_default();
            if v.major == 6 {
                m.insert("seeds".into(), json!(seeds));
                let http: Vec<String> = match link {
                    RemoteLink::Connected(li) => vec![w.clusters[li].http_addr.to_string()],
                    _ => Vec::new(),
                };
                m.insert("http_addresses".into(), json!(http));
                m.insert("connected".into(), connected.into());
            } else {
                m.insert("connected".into(), connected.into());
                if v.at_least(7, 7) {
                    m.insert("mode".into(), "sniff".into());
                }
                m.insert("seeds".into(), json!(seeds));
            }
            m.insert(
                "num_nodes_connected".into(),
                (if connected { 1 } else { 0 }).into(),
            );
            m.insert(
                "max_connections_per_cluster".into(),
                num("node_connections", 3).into(),
            );
        }
        m.insert("initial_connect_timeout".into(), timeout.into());
        m.insert("skip_unavailable".into(), skip.into());
        // RemoteConnectionInfo.toXContent: credentials are shown only as redacted.
        if v.at_least(8, 10) && c.keystore.loaded.contains_key(&alias) {
            m.insert("cluster_credentials".into(), "::es_redacted::".into());
        }
        out.insert(alias, Value::Object(m));
    }
    Ok(Reply::json(Value::Object(out)))
}

/// `POST /_nodes/reload_secure_settings` (RestReloadSecureSettingsAction): the single node
/// reloads its keystore; from 8.13 that includes `cluster.remote.*.credentials`
/// (RemoteClusterCredentialsManager, elastic/elasticsearch PR #102798), before it only at a
/// node start.
pub(crate) fn reload_secure_settings(c: &mut Cluster) -> Result<Reply, EsError> {
    if c.version.at_least(8, 13) {
        c.keystore.load();
    }
    let mut nodes = Map::new();
    nodes.insert(c.node_id.clone(), json!({"name": c.node_name}));
    Ok(Reply::json(json!({
        "_nodes": {"total": 1, "successful": 1, "failed": 0},
        "cluster_name": c.name,
        "nodes": nodes,
    })))
}

fn roles(c: &Cluster) -> &'static str {
    if c.version.major >= 8 {
        "cdfhilmrstw"
    } else if c.version.major == 7 {
        "dilmrt"
    } else {
        "mdi"
    }
}

pub(crate) fn cat_nodes(c: &Cluster, req: &Req) -> Result<Reply, EsError> {
    let ip = c.http_addr.ip().to_string();
    let port = c
        .transport_addr
        .rsplit_once(':')
        .map(|(_, p)| p.to_string())
        .unwrap_or_default();
    let all: Vec<(&str, String)> = vec![
        ("ip", ip.clone()),
        ("heap.percent", "32".into()),
        ("ram.percent", "61".into()),
        ("cpu", "3".into()),
        ("load_1m", "0.42".into()),
        ("load_5m", "0.38".into()),
        ("load_15m", "0.35".into()),
        ("node.role", roles(c).into()),
        ("master", "*".into()),
        ("name", c.node_name.clone()),
        ("id", c.node_id[..4].to_string()),
        ("port", port),
        ("http_address", c.http_addr.to_string()),
        ("version", c.version.to_string()),
    ];
    let default_cols = [
        "ip",
        "heap.percent",
        "ram.percent",
        "cpu",
        "load_1m",
        "load_5m",
        "load_15m",
        "node.role",
        "master",
        "name",
    ];
    cat_render(req, &all, &default_cols, std::slice::from_ref(&all))
}

/// Renders a `_cat` table: JSON with `format=json`, text otherwise; `h=` picks columns, `v` adds
/// a header line.
pub(crate) fn cat_render(
    req: &Req,
    columns: &[(&str, String)],
    defaults: &[&str],
    rows: &[Vec<(&str, String)>],
) -> Result<Reply, EsError> {
    let wanted: Vec<String> = match req.q("h") {
        Some(h) => h.split(',').map(|s| s.trim().to_string()).collect(),
        None => defaults.iter().map(|s| s.to_string()).collect(),
    };
    for w in &wanted {
        if !columns.iter().any(|(n, _)| n == w) {
            return Err(EsError::illegal_argument(format!(
                "header [{w}] does not exist"
            )));
        }
    }
    let pick = |row: &Vec<(&str, String)>| -> Vec<(String, Option<String>)> {
        wanted
            .iter()
            .map(|w| {
                let v = row.iter().find(|(n, _)| n == w).map(|(_, v)| v.clone());
                (w.clone(), v.filter(|s| !s.is_empty()))
            })
            .collect()
    };
    if req.q("format") == Some("json") {
        let arr: Vec<Value> = rows
            .iter()
            .map(|row| {
                Value::Object(
                    pick(row)
                        .into_iter()
                        .map(|(k, v)| (k, v.map(Value::String).unwrap_or(Value::Null)))
                        .collect(),
                )
            })
            .collect();
        return Ok(Reply::json(Value::Array(arr)));
    }
    let mut table: Vec<Vec<String>> = Vec::new();
    if req.flag("v") {
        table.push(wanted.clone());
    }
    for row in rows {
        table.push(
            pick(row)
                .into_iter()
                .map(|(_, v)| v.unwrap_or_default())
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..wanted.len())
        .map(|i| table.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in table {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{:w$}", s, w = widths[i]))
            .collect();
        out.push_str(line.join(" ").trim_end());
        out.push('\n');
    }
    Ok(Reply {
        status: 200,
        body: ReplyBody::Text(out),
        headers: Vec::new(),
    })
}

/// The roles a node shows in `GET /_nodes` and the cluster state (8.x), per version.
fn role_list(c: &Cluster) -> Vec<&'static str> {
    if c.version.major >= 8 {
        vec![
            "data",
            "data_cold",
            "data_content",
            "data_frozen",
            "data_hot",
            "data_warm",
            "ingest",
            "master",
            "ml",
            "remote_cluster_client",
            "transform",
        ]
    } else {
        vec!["data", "ingest", "master", "remote_cluster_client"]
    }
}

/// The metrics of `GET /_nodes/{metrics}` (`NodesInfoMetrics.Metric`).
const NODE_METRICS: &[&str] = &[
    "settings",
    "os",
    "process",
    "jvm",
    "thread_pool",
    "transport",
    "http",
    "remote_cluster_server",
    "plugins",
    "ingest",
    "aggregations",
    "indices",
];

/// True when the node filter of `GET /_nodes/{node_id}` selects the cluster's single node.
fn node_selected(c: &Cluster, filter: &str) -> bool {
    let ip = c.http_addr.ip().to_string();
    filter.split(',').map(str::trim).any(|f| {
        matches!(f, "_all" | "_local" | "_master" | "*" | "master:true")
            || f == c.node_id
            || f == ip
            || wildcard_match(f, &c.node_name)
    })
}

/// `GET /_nodes`, `/_nodes/{metrics}`, `/_nodes/{node_id}`, `/_nodes/{node_id}/{metrics}` and
/// `/_nodes/{node_id}/info/{metrics}` (`RestNodesInfoAction.prepareRequest`: a single path part
/// made only of metric names is metrics; unknown metrics are disregarded, as ES does).
pub(crate) fn nodes(c: &Cluster, req: &Req) -> Result<Reply, EsError> {
    let parts: Vec<&str> = req.segs.iter().skip(1).map(String::as_str).collect();
    let split = |s: &str| -> Vec<String> { s.split(',').map(|p| p.trim().to_string()).collect() };
    let (node_filter, metrics): (String, Vec<String>) = match parts.as_slice() {
        [] => ("_all".into(), vec!["_all".into()]),
        [one] => {
            let items = split(one);
            if items.iter().all(|m| NODE_METRICS.contains(&m.as_str())) {
                ("_all".into(), items)
            } else {
                ((*one).to_string(), vec!["_all".into()])
            }
        }
        [n, "info", m] | [n, m, ..] => ((*n).to_string(), split(m)),
    };
    let all = metrics.len() == 1 && metrics[0] == "_all";
    let want = |m: &str| all || metrics.iter().any(|x| x == m);
    let ip = c.http_addr.ip().to_string();
    let mut node = Map::new();
    node.insert("name".into(), c.node_name.clone().into());
    node.insert("transport_address".into(), c.transport_addr.clone().into());
    node.insert("host".into(), ip.clone().into());
    node.insert("ip".into(), ip.into());
    node.insert("version".into(), c.version.to_string().into());
    if c.version.at_least(8, 12) {
        // Wire and index format ids; the numbers are the simulator's, not ES's registry values.
        let id: u64 = c.version.id().parse().unwrap_or(0);
        node.insert("transport_version".into(), id.into());
        node.insert("index_version".into(), id.into());
        node.insert(
            "component_versions".into(),
            json!({"ml_config_version": id, "transform_config_version": id}),
        );
    }
    node.insert("build_flavor".into(), "default".into());
    node.insert("build_type".into(), "docker".into());
    node.insert("build_hash".into(), BUILD_HASH.into());
    node.insert("roles".into(), json!(role_list(c)));
    node.insert("attributes".into(), json!({}));
    if want("settings") {
        node.insert(
            "settings".into(),
            json!({"cluster": {"name": c.name}, "node": {"name": c.node_name}}),
        );
    }
    if want("transport") {
        node.insert(
            "transport".into(),
            json!({"bound_address": [c.transport_addr], "publish_address": c.transport_addr, "profiles": {}}),
        );
    }
    if want("http") {
        node.insert(
            "http".into(),
            json!({
                "bound_address": [c.http_addr.to_string()],
                "publish_address": c.http_addr.to_string(),
                "max_content_length_in_bytes": 104857600
            }),
        );
    }
    if want("plugins") {
        node.insert("plugins".into(), json!([]));
    }
    if want("plugins") {
        node.insert("modules".into(), json!([]));
    }
    let mut nodes = Map::new();
    if node_selected(c, &node_filter) {
        nodes.insert(c.node_id.clone(), Value::Object(node));
    }
    let n = nodes.len();
    Ok(Reply::json(json!({
        "_nodes": {"total": n, "successful": n, "failed": 0},
        "cluster_name": c.name,
        "nodes": Value::Object(nodes)
    })))
}

/// An index's blocks as the cluster state lists them (`ClusterBlock.toXContent`): the closed
/// block and those of the `index.blocks.*` settings.
fn index_blocks(i: &crate::world::model::Index) -> Map<String, Value> {
    let on = |k: &str| i.settings.get(k).map(String::as_str) == Some("true");
    let mut m = Map::new();
    let mut add = |id: &str, description: &str, levels: &[&str]| {
        m.insert(
            id.to_string(),
            json!({"description": description, "retryable": false, "levels": levels}),
        );
    };
    if !i.open {
        add("4", "index closed", &["read", "write"]);
    }
    if on("index.blocks.read_only") {
        add("5", "index read-only (api)", &["write", "metadata_write"]);
    }
    if on("index.blocks.read") {
        add("7", "index read (api)", &["read"]);
    }
    if on("index.blocks.write") {
        add("8", "index write (api)", &["write"]);
    }
    if on("index.blocks.metadata") {
        add(
            "9",
            "index metadata (api)",
            &["metadata_read", "metadata_write"],
        );
    }
    if on("index.blocks.read_only_allow_delete") {
        add(
            "12",
            crate::world::ops::READ_ONLY_ALLOW_DELETE_BLOCK,
            &["write", "metadata_write"],
        );
    }
    m
}

/// This node as the cluster state lists it (`DiscoveryNode.toXContent`).
fn state_node(c: &Cluster) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), c.node_name.clone().into());
    m.insert(
        "ephemeral_id".into(),
        crate::world::model::make_uuid(&c.node_id, 1).into(),
    );
    m.insert("transport_address".into(), c.transport_addr.clone().into());
    if c.version.major >= 8 {
        m.insert("external_id".into(), c.node_name.clone().into());
    }
    m.insert("attributes".into(), json!({}));
    if c.version.major >= 8 {
        m.insert("roles".into(), json!(role_list(c)));
        m.insert("version".into(), c.version.to_string().into());
    }
    Value::Object(m)
}

/// One index of `metadata.indices` (`IndexMetadata.toXContent` in the API context).
fn state_index(c: &Cluster, i: &crate::world::model::Index, flat: bool) -> Value {
    let v = c.version;
    let strings: Vec<(String, Value)> = i
        .settings
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let settings = if flat {
        Value::Object(strings.into_iter().collect())
    } else {
        nest_settings(strings.iter().map(|(k, v)| (k, v)))
    };
    let shards = i.shard_count();
    let mut m = Map::new();
    m.insert(
        "version".into(),
        (i.settings_version + i.mapping_version + i.aliases_version).into(),
    );
    m.insert("mapping_version".into(), i.mapping_version.into());
    m.insert("settings_version".into(), i.settings_version.into());
    if v.at_least(7, 3) {
        m.insert("aliases_version".into(), i.aliases_version.into());
    }
    let routing_shards = i
        .settings
        .get("index.number_of_routing_shards")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(shards as u64);
    m.insert("routing_num_shards".into(), routing_shards.into());
    m.insert("state".into(), if i.open { "open" } else { "close" }.into());
    m.insert("settings".into(), settings);
    m.insert("mappings".into(), json!({}));
    m.insert("aliases".into(), json!([]));
    let per_shard = |f: &dyn Fn(usize) -> Value| -> Value {
        Value::Object((0..shards).map(|s| (s.to_string(), f(s))).collect())
    };
    m.insert("primary_terms".into(), per_shard(&|_| json!(1)));
    m.insert(
        "in_sync_allocations".into(),
        per_shard(&|s| json!([crate::world::model::make_uuid(&i.uuid, s as u64 + 1)])),
    );
    if let Some(f) = &i.follow {
        m.insert(
            "ccr".into(),
            json!({
                "leader_index_shard_history_uuids": (0..shards)
                    .map(|s| crate::world::model::make_uuid(&f.leader_uuid, s as u64 + 100))
                    .collect::<Vec<_>>()
                    .join(","),
                "leader_index_uuid": f.leader_uuid,
                "leader_index_name": f.leader_index,
                "remote_cluster_name": f.remote_cluster
            }),
        );
    }
    m.insert("rollover_info".into(), json!({}));
    if v.at_least(7, 10) {
        m.insert("system".into(), false.into());
    }
    Value::Object(m)
}

/// One index of `routing_table.indices`: primaries started on the single node, replicas
/// unassigned.
fn state_routing(c: &Cluster, i: &crate::world::model::Index) -> Value {
    let mut shards = Map::new();
    for s in 0..i.shard_count() {
        let mut copies = vec![json!({
            "state": "STARTED", "primary": true, "node": c.node_id, "relocating_node": null,
            "shard": s, "index": i.name,
            "allocation_id": {"id": crate::world::model::make_uuid(&i.uuid, s as u64 + 1)}
        })];
        for _ in 0..i.replicas() {
            copies.push(json!({
                "state": "UNASSIGNED", "primary": false, "node": null, "relocating_node": null,
                "shard": s, "index": i.name, "recovery_source": {"type": "PEER"},
                "unassigned_info": {"reason": "INDEX_CREATED", "delayed": false, "allocation_status": "no_attempt"}
            }));
        }
        shards.insert(s.to_string(), Value::Array(copies));
    }
    json!({ "shards": shards })
}

/// `GET /_cluster/state[/{metrics}[/{indices}]]` (`RestClusterStateAction`,
/// `ClusterState.toXContent`). The index filter uses the request's lenient defaults
/// (`IndicesOptions.lenientExpandOpen`: missing names are skipped). A
/// `wait_for_metadata_version` the cluster has not reached is answered at once as timed out:
/// the simulator does not hold requests.
pub(crate) fn cluster_state(
    c: &Cluster,
    metrics: Option<&str>,
    indices: Option<&str>,
    req: &Req,
) -> Result<Reply, EsError> {
    // Unknown metric names are ignored, as `ClusterState.Metric.parseString(.., true)` does.
    let metrics: Vec<&str> = metrics
        .unwrap_or("_all")
        .split(',')
        .map(str::trim)
        .collect();
    let all = metrics.contains(&"_all");
    let want = |m: &str| all || metrics.contains(&m);
    let flat = req.flag("flat_settings");
    let mut out = Map::new();
    if let Some(raw) = req.q("wait_for_metadata_version") {
        let wanted: u64 = raw.parse().map_err(|_| {
            EsError::illegal_argument(format!(
                "Failed to parse long parameter [wait_for_metadata_version] with value [{raw}]"
            ))
        })?;
        let timed_out = c.metadata_version < wanted;
        out.insert("wait_for_timed_out".into(), timed_out.into());
        if timed_out {
            out.insert("cluster_name".into(), c.name.clone().into());
            return Ok(Reply::json(Value::Object(out)));
        }
    }
    out.insert("cluster_name".into(), c.name.clone().into());
    out.insert("cluster_uuid".into(), c.cluster_uuid.clone().into());
    let names: Vec<String> = match indices {
        None => c.indices.keys().cloned().collect(),
        Some(expr) => {
            let expand = req.q("expand_wildcards").unwrap_or("open");
            let closed = expand.split(',').any(|e| matches!(e, "closed" | "all"));
            let ignore = req.q("ignore_unavailable") != Some("false");
            super::indices::resolve_names(c, expr, closed, ignore)?
        }
    };
    if want("version") {
        out.insert("version".into(), c.metadata_version.into());
        out.insert(
            "state_uuid".into(),
            crate::world::model::make_uuid(&c.cluster_uuid, c.metadata_version).into(),
        );
    }
    if want("master_node") {
        out.insert("master_node".into(), c.node_id.clone().into());
    }
    if want("blocks") {
        let blocked: Map<String, Value> = names
            .iter()
            .filter_map(|n| c.indices.get(n))
            .filter_map(|i| {
                let b = index_blocks(i);
                (!b.is_empty()).then(|| (i.name.clone(), Value::Object(b)))
            })
            .collect();
        out.insert(
            "blocks".into(),
            if blocked.is_empty() {
                json!({})
            } else {
                json!({ "indices": blocked })
            },
        );
    }
    if want("nodes") {
        out.insert("nodes".into(), json!({ c.node_id.clone(): state_node(c) }));
    }
    if want("metadata") {
        let mut md = Map::new();
        md.insert("cluster_uuid".into(), c.cluster_uuid.clone().into());
        if c.version.major >= 7 {
            md.insert("cluster_uuid_committed".into(), true.into());
            md.insert(
                "cluster_coordination".into(),
                json!({"term": 1, "last_committed_config": [c.node_id], "last_accepted_config": [c.node_id], "voting_config_exclusions": []}),
            );
        }
        md.insert("templates".into(), json!({}));
        let idx: Map<String, Value> = names
            .iter()
            .filter_map(|n| c.indices.get(n))
            .map(|i| (i.name.clone(), state_index(c, i, flat)))
            .collect();
        md.insert("indices".into(), Value::Object(idx));
        md.insert("index-graveyard".into(), json!({"tombstones": []}));
        out.insert("metadata".into(), Value::Object(md));
    }
    if want("routing_table") {
        let rt: Map<String, Value> = names
            .iter()
            .filter_map(|n| c.indices.get(n))
            .filter(|i| i.open || c.version.at_least(7, 2))
            .map(|i| (i.name.clone(), state_routing(c, i)))
            .collect();
        out.insert("routing_table".into(), json!({ "indices": rt }));
    }
    if want("routing_nodes") {
        out.insert(
            "routing_nodes".into(),
            json!({"unassigned": [], "nodes": { c.node_id.clone(): [] }}),
        );
    }
    Ok(Reply::json(Value::Object(out)))
}
