//! Composable index templates and data streams over REST: `_index_template`, `_data_stream`
//! (create, get, delete, `_stats`, `_promote`) and `/{target}/_rollover`.
//!
//! Handlers: `RestPutComposableIndexTemplateAction`, `RestGetComposableIndexTemplateAction`,
//! `RestDeleteComposableIndexTemplateAction`, `RestCreateDataStreamAction`,
//! `RestGetDataStreamsAction`, `RestDeleteDataStreamAction`, `RestDataStreamsStatsAction`,
//! `RestPromoteDataStreamAction`, `RestRolloverIndexAction`.

use serde_json::{json, Map, Value};

use super::{b, human_bytes, p, r, Param, Route, RouteKind, INDEX, NAME};
use crate::api::reply::{Reply, Req};
use crate::error::EsError;
use crate::util::parse_body_object;
use crate::version::Version;
use crate::world::data_stream::{self, IndexTemplate};
use crate::world::model::{Cluster, World};
use crate::world::ops;

/// One data-stream or template endpoint.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DsRoute {
    PutTemplate(String),
    GetTemplate(Option<String>),
    DeleteTemplate(String),
    CreateStream(String),
    GetStreams(Option<String>),
    DeleteStreams(String),
    Stats(Option<String>),
    Promote(String),
    Rollover(String),
}

const PUT_TEMPLATE: &[Param] = &[b("create"), p("master_timeout"), p("cause")];
const GET_TEMPLATE: &[Param] = &[
    b("local"),
    p("master_timeout"),
    b("flat_settings"),
    b("include_defaults").since(8, 11),
];
const MASTER_ACK: &[Param] = &[p("timeout"), p("master_timeout")];
const EXPAND: &[Param] = &[p("expand_wildcards")];
const MASTER: &[Param] = &[p("master_timeout")];
const GET_STREAMS: &[Param] = &[
    p("expand_wildcards"),
    b("include_defaults").since(8, 11),
    p("master_timeout").since(8, 15),
    b("verbose").since(8, 17),
];
const ROLLOVER: &[Param] = &[
    p("new_index"),
    b("dry_run"),
    p("wait_for_active_shards"),
    p("timeout"),
    p("master_timeout"),
    b("include_type_name").since(7, 0).until(8, 0),
    b("lazy").since(8, 13),
];
const MANAGE_TEMPLATES: &str = "cluster privileges [manage_index_templates,manage,all]";
const INDEX_MANAGE: &str = "index privileges [manage,all]";
const INDEX_MONITOR: &str = "index privileges [monitor,manage,all]";
const CREATE_INDEX: &str = "index privileges [create_index,manage,all]";
const DELETE_INDEX: &str = "index privileges [delete_index,manage,all]";
const FOLLOW_INDEX: &str = "index privileges [manage_follow_index,manage,all]";

/// The routes of this module (composable templates from 7.8, data streams from 7.9).
pub(crate) fn route(req: &Req, v: Version) -> Option<Route> {
    use DsRoute as D;
    let s: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    let own = |x: &str| x.to_string();
    let k = RouteKind::DataStream;
    if !v.at_least(7, 8) {
        return None;
    }
    let streams = v.at_least(7, 9);
    match (s.as_slice(), m) {
        (["_index_template", n], "PUT" | "POST") => r(
            k(D::PutTemplate(own(n))),
            "PUT /_index_template/{name}",
            "indices:admin/index_template/put",
            MANAGE_TEMPLATES,
            true,
            &[NAME, PUT_TEMPLATE],
            true,
        ),
        (["_index_template"], "GET") => r(
            k(D::GetTemplate(None)),
            "GET /_index_template",
            "indices:admin/index_template/get",
            MANAGE_TEMPLATES,
            false,
            &[GET_TEMPLATE],
            false,
        ),
        (["_index_template", n], "GET") => r(
            k(D::GetTemplate(Some(own(n)))),
            "GET /_index_template/{name}",
            "indices:admin/index_template/get",
            MANAGE_TEMPLATES,
            false,
            &[NAME, GET_TEMPLATE],
            false,
        ),
        (["_index_template", n], "DELETE") => r(
            k(D::DeleteTemplate(own(n))),
            "DELETE /_index_template/{name}",
            "indices:admin/index_template/delete",
            MANAGE_TEMPLATES,
            true,
            &[NAME, MASTER_ACK],
            false,
        ),
        (["_data_stream", "_stats"], "GET") if streams => r(
            k(D::Stats(None)),
            "GET /_data_stream/_stats",
            "indices:monitor/data_stream/stats",
            INDEX_MONITOR,
            false,
            &[EXPAND],
            false,
        ),
        (["_data_stream", n, "_stats"], "GET") if streams => r(
            k(D::Stats(Some(own(n)))),
            "GET /_data_stream/{name}/_stats",
            "indices:monitor/data_stream/stats",
            INDEX_MONITOR,
            false,
            &[NAME, EXPAND],
            false,
        ),
        (["_data_stream", "_promote", n], "POST") if streams => r(
            k(D::Promote(own(n))),
            "POST /_data_stream/_promote/{name}",
            "indices:admin/data_stream/promote",
            FOLLOW_INDEX,
            true,
            &[NAME, MASTER],
            false,
        ),
        (["_data_stream"], "GET") if streams => r(
            k(D::GetStreams(None)),
            "GET /_data_stream",
            "indices:admin/data_stream/get",
            INDEX_MONITOR,
            false,
            &[GET_STREAMS],
            false,
        ),
        (["_data_stream", n], "GET") if streams => r(
            k(D::GetStreams(Some(own(n)))),
            "GET /_data_stream/{name}",
            "indices:admin/data_stream/get",
            INDEX_MONITOR,
            false,
            &[NAME, GET_STREAMS],
            false,
        ),
        (["_data_stream", n], "PUT") if streams => r(
            k(D::CreateStream(own(n))),
            "PUT /_data_stream/{name}",
            "indices:admin/data_stream/create",
            CREATE_INDEX,
            true,
            &[NAME, MASTER_ACK],
            false,
        ),
        (["_data_stream", n], "DELETE") if streams => r(
            k(D::DeleteStreams(own(n))),
            "DELETE /_data_stream/{name}",
            "indices:admin/data_stream/delete",
            DELETE_INDEX,
            true,
            &[NAME, EXPAND, MASTER],
            false,
        ),
        ([i, "_rollover"] | [i, "_rollover", _], "POST") if !i.starts_with('_') => r(
            k(D::Rollover(own(i))),
            "POST /{index}/_rollover",
            "indices:admin/rollover",
            INDEX_MANAGE,
            true,
            &[INDEX, ROLLOVER],
            true,
        ),
        _ => None,
    }
}

/// Runs one endpoint of this module.
pub(crate) fn dispatch(
    w: &mut World,
    ci: usize,
    req: &Req,
    route: &DsRoute,
) -> Result<Reply, EsError> {
    use DsRoute as D;
    let epoch = w.clock.epoch_ms();
    let c = &mut w.clusters[ci];
    match route {
        D::PutTemplate(n) => put_template(c, n, req),
        D::GetTemplate(n) => get_templates(c, n.as_deref()),
        D::DeleteTemplate(n) => {
            data_stream::delete_index_template(c, n)?;
            Ok(Reply::ack())
        }
        D::CreateStream(n) => {
            data_stream::create_data_stream(c, n, epoch)?;
            Ok(Reply::ack())
        }
        D::GetStreams(n) => get_streams(c, n.as_deref(), req),
        D::DeleteStreams(n) => delete_streams(c, n, req),
        D::Stats(n) => stats(c, n.as_deref(), req),
        D::Promote(n) => {
            data_stream::promote(c, n)?;
            Ok(Reply::ack())
        }
        D::Rollover(target) => rollover(c, target, req, epoch),
    }
}

fn i64_field(parser: &str, key: &str, v: &Value) -> Result<i64, EsError> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| crate::world::model::field_error(parser, key, v)),
        Value::String(s) => s
            .parse()
            .map_err(|_| crate::world::model::field_error(parser, key, v)),
        other => Err(crate::world::model::field_error(parser, key, other)),
    }
}

fn string_list(parser: &str, key: &str, v: &Value) -> Result<Vec<String>, EsError> {
    let one = |x: &Value| {
        x.as_str()
            .map(String::from)
            .ok_or_else(|| crate::world::model::field_error(parser, key, x))
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

/// `ComposableIndexTemplate.PARSER`.
fn put_template(c: &mut Cluster, name: &str, req: &Req) -> Result<Reply, EsError> {
    const P: &str = "index_template";
    let body = parse_body_object(&req.body, true)?.unwrap_or_default();
    let mut t = IndexTemplate {
        index_patterns: Vec::new(),
        priority: None,
        version: None,
        data_stream: None,
        template: None,
        settings: Default::default(),
        composed_of: Vec::new(),
        meta: None,
    };
    let mut patterns = None;
    for (k, val) in &body {
        match k.as_str() {
            "index_patterns" => patterns = Some(string_list(P, k, val)?),
            "priority" => t.priority = Some(i64_field(P, k, val)?),
            "version" => t.version = Some(i64_field(P, k, val)?),
            "composed_of" => t.composed_of = string_list(P, k, val)?,
            "_meta" => t.meta = Some(val.clone()),
            "data_stream" if c.version.at_least(7, 9) => match val {
                Value::Object(m) => {
                    for key in m.keys() {
                        if !matches!(
                            key.as_str(),
                            "hidden" | "allow_custom_routing" | "failure_store"
                        ) {
                            return Err(EsError::x_content(format!(
                                "[1:2] [data_stream_template] unknown field [{key}]"
                            )));
                        }
                    }
                    t.data_stream = Some(m.clone());
                }
                other => return Err(crate::world::model::field_error(P, k, other)),
            },
            "template" => match val {
                Value::Object(m) => {
                    if let Some(s) = m.get("settings") {
                        let update = crate::world::settings::normalize_index_settings(s);
                        crate::world::settings::validate_index_settings(
                            &update,
                            c.version,
                            c.flavor,
                            crate::world::settings::Origin::Create,
                        )?;
                        t.settings = ops::flat_index_settings(s)?;
                    }
                    t.template = Some(m.clone());
                }
                other => return Err(crate::world::model::field_error(P, k, other)),
            },
            "allow_auto_create" | "ignore_missing_component_templates" | "deprecated" => {}
            other => {
                return Err(EsError::x_content(format!(
                    "[1:2] [{P}] unknown field [{other}]"
                )))
            }
        }
    }
    let Some(patterns) = patterns.filter(|p| !p.is_empty()) else {
        return Err(EsError::illegal_argument("Required [index_patterns]"));
    };
    t.index_patterns = patterns;
    data_stream::put_index_template(c, name, t, req.flag("create"))?;
    Ok(Reply::ack())
}

fn template_json(t: &IndexTemplate, v: Version) -> Value {
    let mut m = Map::new();
    m.insert("index_patterns".into(), json!(t.index_patterns));
    if let Some(tpl) = &t.template {
        m.insert("template".into(), Value::Object(tpl.clone()));
    }
    m.insert("composed_of".into(), json!(t.composed_of));
    if let Some(p) = t.priority {
        m.insert("priority".into(), json!(p));
    }
    if let Some(x) = t.version {
        m.insert("version".into(), json!(x));
    }
    if let Some(x) = &t.meta {
        m.insert("_meta".into(), x.clone());
    }
    if let Some(ds) = &t.data_stream {
        let hidden = ds.get("hidden").and_then(Value::as_bool).unwrap_or(false);
        let mut d = Map::new();
        d.insert("hidden".into(), json!(hidden));
        if v.at_least(8, 0) {
            let routing = ds
                .get("allow_custom_routing")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            d.insert("allow_custom_routing".into(), json!(routing));
        }
        m.insert("data_stream".into(), Value::Object(d));
    }
    Value::Object(m)
}

fn get_templates(c: &Cluster, expr: Option<&str>) -> Result<Reply, EsError> {
    let list: Vec<Value> = c
        .index_templates
        .iter()
        .filter(|(n, _)| {
            expr.map_or(true, |e| {
                e.split(',')
                    .any(|p| crate::util::wildcard_match(p.trim(), n))
            })
        })
        .map(|(n, t)| json!({"name": n, "index_template": template_json(t, c.version)}))
        .collect();
    if let Some(e) = expr {
        if list.is_empty() && !e.contains('*') {
            return Err(EsError::resource_not_found(format!(
                "index template matching [{e}] not found"
            )));
        }
    }
    Ok(Reply::json(json!({"index_templates": list})))
}

/// `expand_wildcards` includes hidden ones.
fn expand_hidden(req: &Req) -> bool {
    req.q("expand_wildcards")
        .is_some_and(|e| e.split(',').any(|x| matches!(x.trim(), "hidden" | "all")))
}

/// The streams an expression names; a concrete name that is no stream is ES's 404.
fn streams_for(c: &Cluster, expr: &str, req: &Req) -> Result<Vec<String>, EsError> {
    let names = data_stream::matching_streams(c, expr, expand_hidden(req));
    for part in expr.split(',').map(str::trim) {
        if !part.is_empty()
            && part != "_all"
            && !part.contains('*')
            && !names.iter().any(|n| n == part)
        {
            return Err(EsError::index_not_found(part));
        }
    }
    Ok(names)
}

fn health_status(c: &Cluster, ds: &data_stream::DataStream) -> &'static str {
    let worst = ds
        .indices
        .iter()
        .filter_map(|i| c.indices.get(i))
        .map(|i| match i.health() {
            "red" => 2,
            "yellow" => 1,
            _ => 0,
        })
        .max()
        .unwrap_or(0);
    ["GREEN", "YELLOW", "RED"][worst]
}

/// `GetDataStreamAction.Response.DataStreamInfo.toXContent`, per version.
fn stream_json(c: &Cluster, ds: &data_stream::DataStream) -> Value {
    let v = c.version;
    let lifecycle_fields = v.at_least(8, 11);
    let indices: Vec<Value> = ds
        .indices
        .iter()
        .map(|n| {
            let uuid = c.indices.get(n).map(|i| i.uuid.clone()).unwrap_or_default();
            let mut m = Map::new();
            m.insert("index_name".into(), json!(n));
            m.insert("index_uuid".into(), json!(uuid));
            if lifecycle_fields {
                m.insert("prefer_ilm".into(), json!(true));
                m.insert("managed_by".into(), json!("Unmanaged"));
            }
            Value::Object(m)
        })
        .collect();
    let mut m = Map::new();
    m.insert("name".into(), json!(ds.name));
    m.insert(
        "timestamp_field".into(),
        json!({"name": ds.timestamp_field}),
    );
    m.insert("indices".into(), Value::Array(indices));
    m.insert("generation".into(), json!(ds.generation));
    m.insert("status".into(), json!(health_status(c, ds)));
    // Looked up now, on this cluster: a follower without a matching template shows none.
    if let Some(t) = data_stream::template_of(c, &ds.name) {
        m.insert("template".into(), json!(t));
    }
    if lifecycle_fields {
        m.insert("next_generation_managed_by".into(), json!("Unmanaged"));
        m.insert("prefer_ilm".into(), json!(true));
    }
    if v.at_least(7, 11) {
        m.insert("hidden".into(), json!(ds.hidden));
        m.insert("system".into(), json!(false));
    }
    if v.at_least(8, 0) {
        m.insert("allow_custom_routing".into(), json!(false));
    }
    if v.at_least(7, 11) {
        m.insert("replicated".into(), json!(ds.replicated));
    }
    if v.at_least(8, 13) {
        m.insert("rollover_on_write".into(), json!(false));
    }
    Value::Object(m)
}

fn get_streams(c: &Cluster, expr: Option<&str>, req: &Req) -> Result<Reply, EsError> {
    let names = streams_for(c, expr.unwrap_or("*"), req)?;
    let list: Vec<Value> = names
        .iter()
        .filter_map(|n| c.data_streams.get(n))
        .map(|ds| stream_json(c, ds))
        .collect();
    Ok(Reply::json(json!({"data_streams": list})))
}

/// `DeleteDataStreamTransportAction`: `action.destructive_requires_name` refuses wildcards
/// (`DestructiveOperations.failDestructive`); a missing concrete name is 404.
fn delete_streams(c: &mut Cluster, expr: &str, req: &Req) -> Result<Reply, EsError> {
    let wildcard = expr
        .split(',')
        .any(|p| p.trim() == "_all" || p.contains('*'));
    if wildcard && c.destructive_requires_name() {
        return Err(EsError::illegal_argument(
            "Wildcard expressions or all indices are not allowed",
        ));
    }
    let names = streams_for(c, expr, req)?;
    data_stream::delete_data_streams(c, &names);
    Ok(Reply::ack())
}

/// `DataStreamsStatsAction.Response`.
fn stats(c: &Cluster, expr: Option<&str>, req: &Req) -> Result<Reply, EsError> {
    let names = streams_for(c, expr.unwrap_or("*"), req)?;
    let human = req.flag("human");
    let (mut shards, mut backing, mut total) = (0u64, 0u64, 0u64);
    let mut list = Vec::new();
    for ds in names.iter().filter_map(|n| c.data_streams.get(n)) {
        let idx: Vec<_> = ds.indices.iter().filter_map(|i| c.indices.get(i)).collect();
        let size: u64 = idx.iter().map(|i| i.store_bytes()).sum();
        shards += idx.iter().map(|i| i.shard_count() as u64).sum::<u64>();
        backing += idx.len() as u64;
        total += size;
        let mut m = Map::new();
        m.insert("data_stream".into(), json!(ds.name));
        m.insert("backing_indices".into(), json!(idx.len()));
        if human {
            m.insert("store_size".into(), json!(human_bytes(size)));
        }
        m.insert("store_size_bytes".into(), json!(size));
        m.insert(
            "maximum_timestamp".into(),
            json!(data_stream::maximum_timestamp(c, ds)),
        );
        list.push(Value::Object(m));
    }
    let mut m = Map::new();
    m.insert(
        "_shards".into(),
        json!({"total": shards, "successful": shards, "failed": 0}),
    );
    m.insert("data_stream_count".into(), json!(list.len()));
    m.insert("backing_indices".into(), json!(backing));
    if human {
        m.insert("total_store_size".into(), json!(human_bytes(total)));
    }
    m.insert("total_store_size_bytes".into(), json!(total));
    m.insert("data_streams".into(), Value::Array(list));
    Ok(Reply::json(Value::Object(m)))
}

/// Rollover conditions the simulator evaluates (`max_docs`, `max_primary_shard_docs`,
/// `max_age`); the others are refused so no test believes it was evaluated.
fn conditions_met(
    c: &Cluster,
    write_index: &str,
    conditions: &Map<String, Value>,
    now_epoch: u64,
) -> Result<(Map<String, Value>, bool), EsError> {
    let idx = c.indices.get(write_index);
    let docs = idx.map(|i| i.doc_count()).unwrap_or(0);
    let max_shard_docs = idx
        .map(|i| i.shards.iter().map(|h| h.live()).max().unwrap_or(0))
        .unwrap_or(0);
    let created: u64 = idx
        .and_then(|i| i.settings.get("index.creation_date"))
        .and_then(|s| s.parse().ok())
        .unwrap_or(now_epoch);
    let mut results = Map::new();
    let mut any = conditions.is_empty();
    for (k, v) in conditions {
        let met = match k.as_str() {
            "max_docs" => docs >= i64_field("conditions", k, v)?.max(0) as u64,
            "max_primary_shard_docs" => {
                max_shard_docs >= i64_field("conditions", k, v)?.max(0) as u64
            }
            "max_age" => {
                let t = crate::util::TimeValue::parse(k, v.as_str().unwrap_or_default())?;
                now_epoch.saturating_sub(created) as i64 >= t.millis()
            }
            other => {
                return Err(EsError::illegal_argument(format!(
                    "ccr-sim does not evaluate the rollover condition [{other}]"
                )))
            }
        };
        let shown = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        results.insert(format!("[{k}: {shown}]"), json!(met));
        any |= met;
    }
    Ok((results, any))
}

/// `MetadataRolloverService.rollover` for a data stream target; an alias or index target is
/// refused as ES refuses targets that are neither.
fn rollover(c: &mut Cluster, target: &str, req: &Req, now_epoch: u64) -> Result<Reply, EsError> {
    let body = parse_body_object(&req.body, false)?.unwrap_or_default();
    let mut conditions = Map::new();
    for (k, v) in &body {
        match k.as_str() {
            "conditions" => match v {
                Value::Object(m) => conditions = m.clone(),
                other => return Err(crate::world::model::field_error("rollover", k, other)),
            },
            "settings" | "mappings" | "aliases" => {}
            other => {
                return Err(EsError::x_content(format!(
                    "[1:2] [rollover] unknown field [{other}]"
                )))
            }
        }
    }
    if !c.data_streams.contains_key(target) {
        if c.indices.contains_key(target) {
            return Err(EsError::illegal_argument(
                "rollover target is a [concrete index] but one of [alias,data_stream] was expected",
            ));
        }
        return Err(EsError::illegal_argument(format!(
            "rollover target [{target}] does not exist"
        )));
    }
    if req.segs.len() == 3 {
        return Err(EsError::illegal_argument(
            "new index name may not be specified when rolling over a data stream",
        ));
    }
    let write = c
        .data_streams
        .get(target)
        .and_then(|d| d.write_index())
        .unwrap_or_default()
        .to_string();
    let (results, met) = conditions_met(c, &write, &conditions, now_epoch)?;
    let dry_run = req.flag("dry_run") || !met;
    let done = data_stream::rollover(c, target, now_epoch, dry_run)?;
    let mut m = Map::new();
    m.insert("acknowledged".into(), json!(!dry_run));
    m.insert("shards_acknowledged".into(), json!(!dry_run));
    m.insert("old_index".into(), json!(done.old_index));
    m.insert("new_index".into(), json!(done.new_index));
    m.insert("rolled_over".into(), json!(!dry_run));
    m.insert("dry_run".into(), json!(req.flag("dry_run")));
    if c.version.at_least(8, 13) {
        m.insert("lazy".into(), json!(false));
    }
    m.insert("conditions".into(), Value::Object(results));
    Ok(Reply::json(Value::Object(m)))
}
