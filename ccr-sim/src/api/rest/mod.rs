//! The Elasticsearch REST surface: request parsing, routing, security, dispatch.

pub(crate) mod ccr;
pub(crate) mod cluster;
pub(crate) mod indices;
pub(crate) mod recovery;

pub(crate) use ccr::poll_deferred;
pub(crate) mod security;

use serde_json::json;

use crate::api::reply::{Reply, Req};
use crate::error::EsError;
use crate::world::model::World;

/// What a route needs and is, for counters and security.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub kind: RouteKind,
    /// Counter key, e.g. `PUT /{index}/_ccr/follow`.
    pub template: &'static str,
    /// ES action name, for 403 messages.
    pub action: &'static str,
    /// The privileges ES names in 403 messages.
    pub grant: &'static str,
    pub mutating: bool,
}

/// Every Elasticsearch endpoint the simulator answers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RouteKind {
    Root,
    License,
    XpackLicense,
    ClusterHealth(Option<String>),
    GetClusterSettings,
    PutClusterSettings,
    RemoteInfo,
    CatNodes,
    Nodes,
    ClusterState {
        metrics: Option<String>,
        indices: Option<String>,
    },
    CatIndices(Option<String>),
    CreateIndex(String),
    DeleteIndex(String),
    GetIndex(String),
    CloseIndex(String),
    OpenIndex(String),
    GetSettings(Option<String>),
    PutSettings(String),
    Count(Option<String>),
    Stats(Option<String>),
    IndexDoc {
        index: String,
        id: Option<String>,
        create: bool,
    },
    GetDoc {
        index: String,
        id: String,
    },
    DeleteDoc {
        index: String,
        id: String,
    },
    Bulk(Option<String>),
    Search(Option<String>),
    Refresh(Option<String>),
    Follow(String),
    PauseFollow(String),
    ResumeFollow(String),
    Unfollow(String),
    FollowStats(String),
    CcrStats,
    FollowInfo(String),
    ForgetFollower(String),
    GetAutoFollow(Option<String>),
    PutAutoFollow(String),
    DeleteAutoFollow(String),
    PauseAutoFollow(String),
    ResumeAutoFollow(String),
    Recovery(Option<String>),
    /// `_security` endpoints and `POST /_nodes/reload_secure_settings`.
    Security(security::SecurityRoute),
}

const CLUSTER_MONITOR: &str = "cluster privileges [monitor,manage,all]";
const CLUSTER_MANAGE: &str = "cluster privileges [manage,all]";
const MANAGE_CCR: &str = "cluster privileges [manage_ccr,all]";
const INDEX_MONITOR: &str = "index privileges [monitor,manage,all]";
const INDEX_MANAGE: &str = "index privileges [manage,all]";
const INDEX_READ: &str = "index privileges [read,all]";
const INDEX_WRITE: &str = "index privileges [write,all]";
const FOLLOW_INDEX: &str = "index privileges [manage_follow_index,manage,all]";

fn r(
    kind: RouteKind,
    template: &'static str,
    action: &'static str,
    grant: &'static str,
    mutating: bool,
) -> Option<Route> {
    Some(Route {
        kind,
        template,
        action,
        grant,
        mutating,
    })
}

/// Maps a method and path to a route; None means ES has no handler for it.
pub(crate) fn route(req: &Req, v: crate::version::Version) -> Option<Route> {
    use RouteKind as K;
    let s: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    let get = m == "GET" || m == "HEAD";
    let search_m = get || m == "POST";
    let own = |x: &str| x.to_string();
    if let Some(r) = security::route(req, v) {
        return Some(r);
    }
    match (s.as_slice(), m) {
        // Shard recoveries (RestRecoveryAction).
        (["_recovery"], "GET") => r(
            K::Recovery(None),
            "GET /_recovery",
            "indices:monitor/recovery",
            INDEX_MONITOR,
            false,
        ),
        ([i, "_recovery"], "GET") if !i.starts_with('_') || *i == "_all" => r(
            K::Recovery(Some(own(i))),
            "GET /{index}/_recovery",
            "indices:monitor/recovery",
            INDEX_MONITOR,
            false,
        ),
        ([], _) if get => r(
            K::Root,
            "GET /",
            "cluster:monitor/main",
            CLUSTER_MONITOR,
            false,
        ),
        (["_license"], _) if get && v.major >= 7 => r(
            K::License,
            "GET /_license",
            "cluster:monitor/xpack/license/get",
            CLUSTER_MONITOR,
            false,
        ),
        (["_xpack", "license"], _) if get && v.major < 8 => r(
            K::XpackLicense,
            "GET /_xpack/license",
            "cluster:monitor/xpack/license/get",
            CLUSTER_MONITOR,
            false,
        ),
        (["_cluster", "health"], _) if get => r(
            K::ClusterHealth(None),
            "GET /_cluster/health",
            "cluster:monitor/health",
            CLUSTER_MONITOR,
            false,
        ),
        (["_cluster", "health", i], _) if get => r(
            K::ClusterHealth(Some(own(i))),
            "GET /_cluster/health/{index}",
            "cluster:monitor/health",
            CLUSTER_MONITOR,
            false,
        ),
        (["_cluster", "settings"], "GET") => r(
            K::GetClusterSettings,
            "GET /_cluster/settings",
            "cluster:monitor/settings",
            CLUSTER_MONITOR,
            false,
        ),
        (["_cluster", "settings"], "PUT") => r(
            K::PutClusterSettings,
            "PUT /_cluster/settings",
            "cluster:admin/settings/update",
            CLUSTER_MANAGE,
            true,
        ),
        // Cluster state (RestClusterStateAction).
        (["_cluster", "state"], _) if get => r(
            K::ClusterState {
                metrics: None,
                indices: None,
            },
            "GET /_cluster/state",
            "cluster:monitor/state",
            CLUSTER_MONITOR,
            false,
        ),
        (["_cluster", "state", m], _) if get => r(
            K::ClusterState {
                metrics: Some(own(m)),
                indices: None,
            },
            "GET /_cluster/state/{metric}",
            "cluster:monitor/state",
            CLUSTER_MONITOR,
            false,
        ),
        (["_cluster", "state", m, i], _) if get => r(
            K::ClusterState {
                metrics: Some(own(m)),
                indices: Some(own(i)),
            },
            "GET /_cluster/state/{metric}/{index}",
            "cluster:monitor/state",
            CLUSTER_MONITOR,
            false,
        ),
        (["_remote", "info"], _) if get => r(
            K::RemoteInfo,
            "GET /_remote/info",
            "cluster:monitor/remote/info",
            CLUSTER_MONITOR,
            false,
        ),
        (["_cat", "nodes"], _) if get => r(
            K::CatNodes,
            "GET /_cat/nodes",
            "cluster:monitor/nodes/info",
            CLUSTER_MONITOR,
            false,
        ),
        (["_nodes", ..], _) if get => r(
            K::Nodes,
            "GET /_nodes",
            "cluster:monitor/nodes/info",
            CLUSTER_MONITOR,
            false,
        ),
        (["_cat", "indices"], _) if get => r(
            K::CatIndices(None),
            "GET /_cat/indices",
            "indices:monitor/stats",
            INDEX_MONITOR,
            false,
        ),
        (["_cat", "indices", i], _) if get => r(
            K::CatIndices(Some(own(i))),
            "GET /_cat/indices/{index}",
            "indices:monitor/stats",
            INDEX_MONITOR,
            false,
        ),
        (["_ccr", "stats"], _) if get => r(
            K::CcrStats,
            "GET /_ccr/stats",
            "cluster:monitor/ccr/stats",
            CLUSTER_MONITOR,
            false,
        ),
        (["_ccr", "auto_follow"], _) if get => r(
            K::GetAutoFollow(None),
            "GET /_ccr/auto_follow",
            "cluster:admin/xpack/ccr/auto_follow_pattern/get",
            MANAGE_CCR,
            false,
        ),
        (["_ccr", "auto_follow", n], _) if get => r(
            K::GetAutoFollow(Some(own(n))),
            "GET /_ccr/auto_follow/{name}",
            "cluster:admin/xpack/ccr/auto_follow_pattern/get",
            MANAGE_CCR,
            false,
        ),
        (["_ccr", "auto_follow", n], "PUT") => r(
            K::PutAutoFollow(own(n)),
            "PUT /_ccr/auto_follow/{name}",
            "cluster:admin/xpack/ccr/auto_follow_pattern/put",
            MANAGE_CCR,
            true,
        ),
        (["_ccr", "auto_follow", n], "DELETE") => r(
            K::DeleteAutoFollow(own(n)),
            "DELETE /_ccr/auto_follow/{name}",
            "cluster:admin/xpack/ccr/auto_follow_pattern/delete",
            MANAGE_CCR,
            true,
        ),
        (["_ccr", "auto_follow", n, "pause"], "POST") if v.at_least(7, 5) => r(
            K::PauseAutoFollow(own(n)),
            "POST /_ccr/auto_follow/{name}/pause",
            "cluster:admin/xpack/ccr/auto_follow_pattern/activate",
            MANAGE_CCR,
            true,
        ),
        (["_ccr", "auto_follow", n, "resume"], "POST") if v.at_least(7, 5) => r(
            K::ResumeAutoFollow(own(n)),
            "POST /_ccr/auto_follow/{name}/resume",
            "cluster:admin/xpack/ccr/auto_follow_pattern/activate",
            MANAGE_CCR,
            true,
        ),
        (["_bulk"], "POST" | "PUT") => r(
            K::Bulk(None),
            "POST /_bulk",
            "indices:data/write/bulk",
            INDEX_WRITE,
            true,
        ),
        (["_search"], _) if search_m => r(
            K::Search(None),
            "GET /_search",
            "indices:data/read/search",
            INDEX_READ,
            false,
        ),
        (["_count"], _) if search_m => r(
            K::Count(None),
            "GET /_count",
            "indices:data/read/search",
            INDEX_READ,
            false,
        ),
        (["_stats"] | ["_stats", _], _) if get => r(
            K::Stats(None),
            "GET /_stats",
            "indices:monitor/stats",
            INDEX_MONITOR,
            false,
        ),
        (["_settings"], _) if get => r(
            K::GetSettings(None),
            "GET /_settings",
            "indices:monitor/settings/get",
            INDEX_MONITOR,
            false,
        ),
        (["_refresh"], "POST" | "GET") => r(
            K::Refresh(None),
            "POST /_refresh",
            "indices:admin/refresh",
            INDEX_MANAGE,
            false,
        ),
        ([i], "PUT") if *i != "_all" => r(
            K::CreateIndex(own(i)),
            "PUT /{index}",
            "indices:admin/create",
            "index privileges [create_index,manage,all]",
            true,
        ),
        ([i], "DELETE") => r(
            K::DeleteIndex(own(i)),
            "DELETE /{index}",
            "indices:admin/delete",
            "index privileges [delete_index,manage,all]",
            true,
        ),
        ([i], _) if get => r(
            K::GetIndex(own(i)),
            "GET /{index}",
            "indices:admin/get",
            INDEX_MONITOR,
            false,
        ),
        // Single-segment paths are index names for ES's `/{index}` handlers; longer unknown
        // `_`-paths have no handler.
        ([i, ..], _) if i.starts_with('_') && *i != "_all" => None,
        ([i, "_close"], "POST") => r(
            K::CloseIndex(own(i)),
            "POST /{index}/_close",
            "indices:admin/close",
            INDEX_MANAGE,
            true,
        ),
        ([i, "_open"], "POST") => r(
            K::OpenIndex(own(i)),
            "POST /{index}/_open",
            "indices:admin/open",
            INDEX_MANAGE,
            true,
        ),
        ([i, "_settings"] | [i, "_settings", _], _) if get => r(
            K::GetSettings(Some(own(i))),
            "GET /{index}/_settings",
            "indices:monitor/settings/get",
            INDEX_MONITOR,
            false,
        ),
        ([i, "_settings"], "PUT") => r(
            K::PutSettings(own(i)),
            "PUT /{index}/_settings",
            "indices:admin/settings/update",
            INDEX_MANAGE,
            true,
        ),
        ([i, "_count"], _) if search_m => r(
            K::Count(Some(own(i))),
            "GET /{index}/_count",
            "indices:data/read/search",
            INDEX_READ,
            false,
        ),
        ([i, "_search"], _) if search_m => r(
            K::Search(Some(own(i))),
            "GET /{index}/_search",
            "indices:data/read/search",
            INDEX_READ,
            false,
        ),
        ([i, "_stats"] | [i, "_stats", _], _) if get => r(
            K::Stats(Some(own(i))),
            "GET /{index}/_stats",
            "indices:monitor/stats",
            INDEX_MONITOR,
            false,
        ),
        ([i, "_refresh"], "POST" | "GET") => r(
            K::Refresh(Some(own(i))),
            "POST /{index}/_refresh",
            "indices:admin/refresh",
            INDEX_MANAGE,
            false,
        ),
        ([i, "_bulk"], "POST" | "PUT") => r(
            K::Bulk(Some(own(i))),
            "POST /{index}/_bulk",
            "indices:data/write/bulk",
            INDEX_WRITE,
            true,
        ),
        ([i, "_doc"], "POST") => r(
            K::IndexDoc {
                index: own(i),
                id: None,
                create: false,
            },
            "POST /{index}/_doc",
            "indices:data/write/index",
            INDEX_WRITE,
            true,
        ),
        ([i, "_doc", id], "PUT" | "POST") => r(
            K::IndexDoc {
                index: own(i),
                id: Some(own(id)),
                create: req.q("op_type") == Some("create"),
            },
            "PUT /{index}/_doc/{id}",
            "indices:data/write/index",
            INDEX_WRITE,
            true,
        ),
        ([i, "_create", id], "PUT" | "POST") => r(
            K::IndexDoc {
                index: own(i),
                id: Some(own(id)),
                create: true,
            },
            "PUT /{index}/_create/{id}",
            "indices:data/write/index",
            INDEX_WRITE,
            true,
        ),
        ([i, "_doc", id], _) if get => r(
            K::GetDoc {
                index: own(i),
                id: own(id),
            },
            "GET /{index}/_doc/{id}",
            "indices:data/read/get",
            INDEX_READ,
            false,
        ),
        ([i, "_doc", id], "DELETE") => r(
            K::DeleteDoc {
                index: own(i),
                id: own(id),
            },
            "DELETE /{index}/_doc/{id}",
            "indices:data/write/delete",
            INDEX_WRITE,
            true,
        ),
        ([i, "_ccr", "follow"], "PUT") => r(
            K::Follow(own(i)),
            "PUT /{index}/_ccr/follow",
            "indices:admin/xpack/ccr/put_follow",
            FOLLOW_INDEX,
            true,
        ),
        ([i, "_ccr", "pause_follow"], "POST") => r(
            K::PauseFollow(own(i)),
            "POST /{index}/_ccr/pause_follow",
            "cluster:admin/xpack/ccr/pause_follow",
            MANAGE_CCR,
            true,
        ),
        ([i, "_ccr", "resume_follow"], "POST") => r(
            K::ResumeFollow(own(i)),
            "POST /{index}/_ccr/resume_follow",
            "cluster:admin/xpack/ccr/resume_follow",
            MANAGE_CCR,
            true,
        ),
        ([i, "_ccr", "unfollow"], "POST") => r(
            K::Unfollow(own(i)),
            "POST /{index}/_ccr/unfollow",
            "indices:admin/xpack/ccr/unfollow",
            FOLLOW_INDEX,
            true,
        ),
        ([i, "_ccr", "stats"], _) if get => r(
            K::FollowStats(own(i)),
            "GET /{index}/_ccr/stats",
            "cluster:monitor/ccr/follow_stats",
            CLUSTER_MONITOR,
            false,
        ),
        ([i, "_ccr", "info"], _) if get => r(
            K::FollowInfo(own(i)),
            "GET /{index}/_ccr/info",
            "cluster:monitor/ccr/follow_info",
            CLUSTER_MONITOR,
            false,
        ),
        ([i, "_ccr", "forget_follower"], "POST") => r(
            K::ForgetFollower(own(i)),
            "POST /{index}/_ccr/forget_follower",
            "indices:admin/xpack/ccr/forget_follower",
            FOLLOW_INDEX,
            true,
        ),
        _ => None,
    }
}

/// ES's answer for a path/method it has no handler for: 405 listing the allowed methods when
/// the path exists with other methods, else 400.
fn no_handler(req: &Req, version: crate::version::Version) -> Reply {
    let path = req.uri.split('?').next().unwrap_or("/");
    let allowed: Vec<&str> = ["GET", "PUT", "POST", "DELETE", "HEAD"]
        .into_iter()
        .filter(|m| {
            let probe = Req {
                method: (*m).to_string(),
                ..req.clone()
            };
            route(&probe, version).is_some()
        })
        .collect();
    if !allowed.is_empty() {
        return Reply::with_status(
            405,
            json!({
                "error": format!(
                    "Incorrect HTTP method for uri [{}] and method [{}], allowed: [{}]",
                    path,
                    req.method,
                    allowed.join(", ")
                ),
                "status": 405
            }),
        );
    }
    Reply::with_status(
        400,
        json!({
            "error": format!("no handler found for uri [{}] and method [{}]", path, req.method),
            "status": 400
        }),
    )
}

/// ES only reads bodies whose `Content-Type` it knows (JSON, NDJSON, the versioned
/// `application/vnd.elasticsearch+json` forms, YAML, CBOR, Smile); anything else is a 406.
fn check_content_type(req: &Req) -> Option<Reply> {
    if req.body.is_empty() {
        return None;
    }
    let ct = req.content_type.as_deref().unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let known = [
        "application/json",
        "application/x-ndjson",
        "application/vnd.elasticsearch+json",
        "application/vnd.elasticsearch+x-ndjson",
        "application/yaml",
        "application/cbor",
        "application/smile",
    ];
    if known.contains(&mime.as_str()) {
        return None;
    }
    Some(Reply::with_status(
        406,
        json!({"error": format!("Content-Type header [{ct}] is not supported"), "status": 406}),
    ))
}

/// Handles one Elasticsearch request against cluster `ci`: security, routing, dispatch.
pub(crate) fn handle(w: &mut World, ci: usize, req: &Req) -> Reply {
    let version = w.clusters[ci].version;
    let route = route(req, version);
    {
        let c = &mut w.clusters[ci];
        c.requests.total += 1;
        let key = match &route {
            Some(r) => r.template.to_string(),
            None => format!("{} (no handler)", req.method),
        };
        if route.as_ref().is_some_and(|r| r.mutating) {
            c.requests.mutating += 1;
        }
        *c.requests.by_endpoint.entry(key).or_insert(0) += 1;
    }
    if let Some(reply) = check_content_type(req) {
        return reply;
    }
    let now = w.clock.epoch_ms();
    let caller = match security::authenticate(&w.clusters[ci], req, now) {
        Ok(c) => c,
        Err(e) => return Reply::error(&e),
    };
    let Some(route) = route else {
        return no_handler(req, version);
    };
    if let Some(caller) = &caller {
        if let Err(e) = security::authorize(&w.clusters[ci], caller, &route, req) {
            return Reply::error(&e);
        }
    }
    if let RouteKind::Security(sr) = &route.kind {
        return security::dispatch(w, ci, req, sr, caller.as_ref())
            .unwrap_or_else(|e| Reply::error(&e));
    }
    let user = caller.as_ref().map(|c| c.user.as_str());
    let result = dispatch(w, ci, req, &route.kind, user);
    if route.kind == RouteKind::PutClusterSettings && result.is_ok() {
        crate::world::foreign::warn_foreign_remotes(w, ci);
    }
    match result {
        Ok(r) => r,
        Err(e) => Reply::error(&e),
    }
}

fn dispatch(
    w: &mut World,
    ci: usize,
    req: &Req,
    kind: &RouteKind,
    user: Option<&str>,
) -> Result<Reply, EsError> {
    use RouteKind as K;
    match kind {
        K::Root => cluster::root(&w.clusters[ci]),
        K::License | K::XpackLicense => cluster::license(w, ci),
        K::ClusterHealth(i) => cluster::health(&w.clusters[ci], i.as_deref()),
        K::GetClusterSettings => cluster::get_settings(&w.clusters[ci], req),
        K::PutClusterSettings => cluster::put_settings(&mut w.clusters[ci], req),
        K::RemoteInfo => cluster::remote_info(w, ci),
        K::CatNodes => cluster::cat_nodes(&w.clusters[ci], req),
        K::Nodes => cluster::nodes(&w.clusters[ci], req),
        K::ClusterState { metrics, indices } => {
            cluster::cluster_state(&w.clusters[ci], metrics.as_deref(), indices.as_deref(), req)
        }
        K::CatIndices(i) => indices::cat_indices(&w.clusters[ci], i.as_deref(), req),
        K::CreateIndex(i) => indices::create(w, ci, i, req),
        K::DeleteIndex(i) => indices::delete(&mut w.clusters[ci], i),
        K::GetIndex(i) => indices::get_index(&w.clusters[ci], i, req),
        K::CloseIndex(i) => indices::close(
            &mut w.clusters[ci],
            i,
            req.q("wait_for_active_shards").is_none(),
        ),
        K::OpenIndex(i) => indices::open(&mut w.clusters[ci], i),
        K::GetSettings(i) => indices::get_settings(&w.clusters[ci], i.as_deref(), req),
        K::PutSettings(i) => indices::put_settings(&mut w.clusters[ci], i, req),
        K::Count(i) => indices::count(&w.clusters[ci], i.as_deref(), req),
        K::Stats(i) => indices::stats(&w.clusters[ci], i.as_deref(), req),
        K::IndexDoc { index, id, create } => {
            indices::index_doc(w, ci, index, id.clone(), *create, req)
        }
        K::GetDoc { index, id } => indices::get_doc(&w.clusters[ci], index, id),
        K::DeleteDoc { index, id } => indices::delete_doc(&mut w.clusters[ci], index, id),
        K::Bulk(i) => indices::bulk(w, ci, i.as_deref(), req),
        K::Search(i) => indices::search(&w.clusters[ci], i.as_deref(), req),
        K::Refresh(i) => indices::refresh(&w.clusters[ci], i.as_deref(), req),
        K::Follow(i) => ccr::put_follow(w, ci, i, req, user),
        K::PauseFollow(i) => ccr::pause_follow(&mut w.clusters[ci], i),
        K::ResumeFollow(i) => ccr::resume_follow(w, ci, i, req),
        K::Unfollow(i) => ccr::unfollow(w, ci, i),
        K::FollowStats(i) => ccr::follow_stats(w, ci, i, req),
        K::CcrStats => ccr::ccr_stats(w, ci, req),
        K::FollowInfo(i) => ccr::follow_info(&w.clusters[ci], i),
        K::ForgetFollower(i) => ccr::forget_follower(&mut w.clusters[ci], i, req),
        K::GetAutoFollow(n) => ccr::get_auto_follow(&w.clusters[ci], n.as_deref()),
        K::PutAutoFollow(n) => ccr::put_auto_follow(w, ci, n, req, user),
        K::DeleteAutoFollow(n) => ccr::delete_auto_follow(&mut w.clusters[ci], n),
        K::PauseAutoFollow(n) => ccr::activate_auto_follow(&mut w.clusters[ci], n, false),
        K::ResumeAutoFollow(n) => ccr::activate_auto_follow(&mut w.clusters[ci], n, true),
        K::Recovery(i) => {
            recovery::recovery(&w.clusters[ci], i.as_deref(), req, w.clock.epoch_ms())
        }
        K::Security(sr) => security::dispatch(w, ci, req, sr, None),
    }
}

/// A byte count the way Elasticsearch prints it with `?human`: `512b`, `1.5kb`, `2gb`.
pub(crate) fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["b", "kb", "mb", "gb", "tb"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        return format!("{b}b");
    }
    let s = format!("{v:.1}");
    format!("{}{}", s.trim_end_matches(".0"), UNITS[u])
}
