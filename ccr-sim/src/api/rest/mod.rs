//! The Elasticsearch REST surface: the route table (with each handler's parameters and whether
//! it reads a body), the REST layer's checks, security, dispatch.

pub(crate) mod ccr;
pub(crate) mod cluster;
pub(crate) mod indices;
pub(crate) mod recovery;

pub(crate) use ccr::poll_deferred;
pub(crate) mod security;

use serde_json::json;

use crate::api::reply::{Reply, ReplyBody, Req};
use crate::api::xcontent::{self, Media, XContent};
use crate::error::EsError;
use crate::util::{param_as_boolean, unrecognized};
use crate::world::model::World;

/// What a route needs and is, for counters, security and the REST layer's checks.
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
    /// The query parameters the ES handler consumes (its path parameters included, as ES puts
    /// them in the same map): anything else is ES's 400 `unrecognized parameter`.
    pub params: &'static [&'static [Param]],
    /// Whether the ES handler reads the request body; if not, a body is ES's 400 `does not
    /// support having a body` (`BaseRestHandler.handleRequest`).
    pub reads_body: bool,
}

/// A query parameter a handler consumes, on the versions that consume it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Param {
    pub name: &'static str,
    /// First version that consumes it (`(0, 0)`: every version).
    pub since: (u32, u32),
    /// First version that no longer consumes it, if any.
    pub until: Option<(u32, u32)>,
    /// Parsed with `paramAsBoolean` (strict `true`/`false`, empty means true).
    pub boolean: bool,
}

impl Param {
    /// Consumed on every version.
    pub(crate) const fn new(name: &'static str) -> Self {
        Self {
            name,
            since: (0, 0),
            until: None,
            boolean: false,
        }
    }

    /// A boolean parameter (`paramAsBoolean`).
    pub(crate) const fn boolean(name: &'static str) -> Self {
        Self {
            boolean: true,
            ..Self::new(name)
        }
    }

    /// Consumed from `major.minor` on.
    pub(crate) const fn since(self, major: u32, minor: u32) -> Self {
        Self {
            since: (major, minor),
            ..self
        }
    }

    /// No longer consumed from `major.minor` on.
    pub(crate) const fn until(self, major: u32, minor: u32) -> Self {
        Self {
            until: Some((major, minor)),
            ..self
        }
    }

    /// Whether version `v` consumes it.
    pub(crate) fn applies(&self, v: crate::version::Version) -> bool {
        v.at_least(self.since.0, self.since.1)
            && !matches!(self.until, Some((ma, mi)) if v.at_least(ma, mi))
    }
}

const fn p(name: &'static str) -> Param {
    Param::new(name)
}

const fn b(name: &'static str) -> Param {
    Param::boolean(name)
}

/// Consumed on every request, whatever the handler: by the channel (`AbstractRestChannel`:
/// `format`, `filter_path`, `pretty`, `human`) and by `RestController` (`error_trace`).
pub(crate) const ALWAYS: &[Param] = &[
    p("format"),
    p("filter_path"),
    b("pretty"),
    b("human"),
    b("error_trace"),
];

/// The `{index}` path parameter.
pub(crate) const INDEX: &[Param] = &[p("index")];
/// The `{name}` path parameter.
pub(crate) const NAME: &[Param] = &[p("name")];
/// `IndicesOptions.fromRequest`.
pub(crate) const INDICES_OPTIONS: &[Param] = &[
    p("expand_wildcards"),
    b("ignore_unavailable"),
    b("allow_no_indices"),
    b("ignore_throttled"),
];
/// Acknowledged master-node actions (`timeout`, `master_timeout`).
pub(crate) const MASTER_ACK: &[Param] = &[p("timeout"), p("master_timeout")];
/// `master_timeout` on the CCR APIs: ES PR #105168 (Feb 2024). Pinned to 8.13; the exact minor
/// (8.13 or 8.14) is not confirmed.
pub(crate) const CCR_MASTER_TIMEOUT: &[Param] = &[p("master_timeout").since(8, 13)];
/// `RestCcrStatsAction`: `timeout` is in today's `ccr.stats.json`; pinned to 8.14 (unconfirmed).
const CCR_STATS: &[Param] = &[p("timeout").since(8, 14)];
/// `RestFollowStatsAction`: the path only; `timeout` in today's spec, pinned like `_ccr/stats`.
const FOLLOW_STATS: &[Param] = &[p("timeout").since(8, 14)];
/// `RestPutFollowAction`.
const PUT_FOLLOW: &[Param] = &[p("wait_for_active_shards")];
/// `RestGetLicenseAction`.
const LICENSE: &[Param] = &[b("local"), b("accept_enterprise").since(7, 6)];
/// `RestClusterHealthAction.fromRequest`.
const HEALTH: &[Param] = &[
    p("index"),
    b("local"),
    p("master_timeout"),
    p("timeout"),
    p("wait_for_status"),
    b("wait_for_no_relocating_shards"),
    b("wait_for_no_initializing_shards").since(7, 2),
    p("wait_for_active_shards"),
    p("wait_for_nodes"),
    p("wait_for_events"),
    p("level"),
    b("return_200_for_cluster_health_timeout")
        .since(7, 16)
        .until(9, 0),
];
/// `RestClusterGetSettingsAction`.
const GET_CLUSTER_SETTINGS: &[Param] = &[
    b("local"),
    p("master_timeout"),
    b("include_defaults"),
    b("flat_settings"),
];
/// `RestClusterUpdateSettingsAction`.
const PUT_CLUSTER_SETTINGS: &[Param] = &[p("timeout"), p("master_timeout"), b("flat_settings")];
/// `AbstractCatAction.RESPONSE_PARAMS` and `RestTable`.
pub(crate) const CAT: &[Param] = &[
    p("h"),
    b("help"),
    b("v"),
    b("ts"),
    b("pri"),
    p("bytes"),
    p("size"),
    p("time"),
    p("s"),
];
/// `RestNodesAction`.
const CAT_NODES: &[Param] = &[
    b("full_id"),
    b("local"),
    p("master_timeout"),
    b("include_unloaded_segments").since(7, 7),
];
/// `RestIndicesAction`.
const CAT_INDICES: &[Param] = &[
    p("index"),
    p("expand_wildcards"),
    p("health"),
    b("include_unloaded_segments").since(7, 7),
    b("local"),
    p("master_timeout"),
];
/// `RestNodesInfoAction`.
const NODES_INFO: &[Param] = &[p("nodeId"), p("metrics"), b("flat_settings"), p("timeout")];
/// `RestBulkAction`.
const BULK: &[Param] = &[
    p("type").until(8, 0),
    p("wait_for_active_shards"),
    p("routing"),
    p("pipeline"),
    p("refresh"),
    p("timeout"),
    p("_source"),
    p("_source_includes"),
    p("_source_excludes"),
    b("require_alias").since(7, 10),
    b("require_data_stream").since(8, 13),
    b("list_executed_pipelines").since(8, 16),
];
/// `RestSearchAction.parseSearchRequest`.
const SEARCH: &[Param] = &[
    p("type").until(8, 0),
    p("q"),
    p("df"),
    p("analyzer"),
    b("analyze_wildcard"),
    p("default_operator"),
    b("lenient"),
    b("explain"),
    p("stored_fields"),
    p("docvalue_fields"),
    p("from"),
    p("size"),
    p("sort"),
    p("_source"),
    p("_source_includes"),
    p("_source_excludes"),
    p("terminate_after"),
    p("stats"),
    p("suggest_field"),
    p("suggest_text"),
    p("suggest_mode"),
    p("suggest_size"),
    p("timeout"),
    b("track_scores"),
    p("track_total_hits"),
    b("rest_total_hits_as_int"),
    b("version"),
    b("seq_no_primary_term"),
    b("request_cache"),
    p("batched_reduce_size"),
    p("max_concurrent_shard_requests"),
    p("pre_filter_shard_size"),
    b("allow_partial_search_results"),
    p("search_type"),
    p("scroll"),
    p("routing"),
    p("preference"),
    b("typed_keys"),
    b("ccs_minimize_roundtrips"),
];
/// `RestCountAction`.
const COUNT: &[Param] = &[
    p("type").until(8, 0),
    p("q"),
    p("df"),
    p("analyzer"),
    b("analyze_wildcard"),
    p("default_operator"),
    b("lenient"),
    p("min_score"),
    p("terminate_after"),
    p("routing"),
    p("preference"),
];
/// `RestIndicesStatsAction`.
const STATS: &[Param] = &[
    p("metric"),
    p("level"),
    p("types"),
    p("groups"),
    p("fields"),
    p("fielddata_fields"),
    p("completion_fields"),
    b("include_segment_file_sizes"),
    b("include_unloaded_segments").since(7, 7),
    b("forbid_closed_indices"),
];
/// `RestGetSettingsAction`.
const GET_SETTINGS: &[Param] = &[
    p("name"),
    b("local"),
    p("master_timeout"),
    b("include_defaults"),
    b("flat_settings"),
];
/// `RestRecoveryAction`: its own two and the indices options.
const RECOVERY: &[Param] = &[b("active_only"), b("detailed")];
/// `RestClusterStateAction`.
const CLUSTER_STATE: &[Param] = &[
    p("metric"),
    b("local"),
    p("master_timeout"),
    b("flat_settings"),
    p("wait_for_metadata_version"),
    p("wait_for_timeout"),
];
/// `RestUpdateSettingsAction`.
const PUT_SETTINGS: &[Param] = &[
    p("timeout"),
    p("master_timeout"),
    b("preserve_existing"),
    b("flat_settings"),
];
/// `RestCreateIndexAction`.
const CREATE_INDEX: &[Param] = &[
    p("wait_for_active_shards"),
    p("timeout"),
    p("master_timeout"),
    b("include_type_name").since(6, 7).until(8, 0),
];
/// `RestGetIndicesAction` (and `RestIndicesExistsAction` for HEAD).
const GET_INDEX: &[Param] = &[
    b("local"),
    p("master_timeout"),
    b("include_defaults"),
    b("flat_settings"),
    b("include_type_name").since(6, 7).until(8, 0),
    p("features").since(8, 1),
];
/// `RestCloseIndexAction`: `wait_for_active_shards` came with the replicated close (7.2).
const CLOSE: &[Param] = &[p("wait_for_active_shards").since(7, 2)];
/// `RestOpenIndexAction`.
const OPEN: &[Param] = &[p("wait_for_active_shards")];
/// `RestIndexAction`.
const INDEX_DOC: &[Param] = &[
    p("id"),
    p("type").until(8, 0),
    p("routing"),
    p("pipeline"),
    p("timeout"),
    p("refresh"),
    p("version"),
    p("version_type"),
    p("if_seq_no"),
    p("if_primary_term"),
    p("op_type"),
    p("wait_for_active_shards"),
    b("require_alias").since(7, 10),
    b("require_data_stream").since(8, 13),
];
/// `RestGetAction`.
const GET_DOC: &[Param] = &[
    p("id"),
    p("type").until(8, 0),
    b("refresh"),
    p("routing"),
    p("preference"),
    b("realtime"),
    p("stored_fields"),
    p("_source"),
    p("_source_includes"),
    p("_source_excludes"),
    p("version"),
    p("version_type"),
];
/// `RestDeleteAction`.
const DELETE_DOC: &[Param] = &[
    p("id"),
    p("type").until(8, 0),
    p("routing"),
    p("refresh"),
    p("timeout"),
    p("version"),
    p("version_type"),
    p("if_seq_no"),
    p("if_primary_term"),
    p("wait_for_active_shards"),
];

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
    params: &'static [&'static [Param]],
    reads_body: bool,
) -> Option<Route> {
    Some(Route {
        kind,
        template,
        action,
        grant,
        mutating,
        params,
        reads_body,
    })
}

/// Maps a method and path to a route; None means ES has no handler for it. HEAD is a route of
/// its own where ES registers one (`/`, `/{index}`, `/{index}/_doc/{id}`): `RestController`
/// has no HEAD-to-GET fallback.
pub(crate) fn route(req: &Req, v: crate::version::Version) -> Option<Route> {
    use RouteKind as K;
    let s: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    let get = m == "GET";
    let get_head = m == "GET" || m == "HEAD";
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
            &[RECOVERY, INDICES_OPTIONS],
            false,
        ),
        ([i, "_recovery"], "GET") if !i.starts_with('_') || *i == "_all" => r(
            K::Recovery(Some(own(i))),
            "GET /{index}/_recovery",
            "indices:monitor/recovery",
            INDEX_MONITOR,
            false,
            &[INDEX, RECOVERY, INDICES_OPTIONS],
            false,
        ),
        ([], _) if get_head => r(
            K::Root,
            "GET /",
            "cluster:monitor/main",
            CLUSTER_MONITOR,
            false,
            &[],
            false,
        ),
        (["_license"], _) if get && v.major >= 7 => r(
            K::License,
            "GET /_license",
            "cluster:monitor/xpack/license/get",
            CLUSTER_MONITOR,
            false,
            &[LICENSE],
            false,
        ),
        (["_xpack", "license"], _) if get && v.major < 8 => r(
            K::XpackLicense,
            "GET /_xpack/license",
            "cluster:monitor/xpack/license/get",
            CLUSTER_MONITOR,
            false,
            &[LICENSE],
            false,
        ),
        (["_cluster", "health"], _) if get => r(
            K::ClusterHealth(None),
            "GET /_cluster/health",
            "cluster:monitor/health",
            CLUSTER_MONITOR,
            false,
            &[HEALTH, INDICES_OPTIONS],
            false,
        ),
        (["_cluster", "health", i], _) if get => r(
            K::ClusterHealth(Some(own(i))),
            "GET /_cluster/health/{index}",
            "cluster:monitor/health",
            CLUSTER_MONITOR,
            false,
            &[HEALTH, INDICES_OPTIONS],
            false,
        ),
        (["_cluster", "settings"], "GET") => r(
            K::GetClusterSettings,
            "GET /_cluster/settings",
            "cluster:monitor/settings",
            CLUSTER_MONITOR,
            false,
            &[GET_CLUSTER_SETTINGS],
            false,
        ),
        (["_cluster", "settings"], "PUT") => r(
            K::PutClusterSettings,
            "PUT /_cluster/settings",
            "cluster:admin/settings/update",
            CLUSTER_MANAGE,
            true,
            &[PUT_CLUSTER_SETTINGS],
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
            &[CLUSTER_STATE, INDICES_OPTIONS],
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
            &[CLUSTER_STATE, INDICES_OPTIONS],
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
            &[INDEX, CLUSTER_STATE, INDICES_OPTIONS],
            false,
        ),
        (["_remote", "info"], _) if get => r(
            K::RemoteInfo,
            "GET /_remote/info",
            "cluster:monitor/remote/info",
            CLUSTER_MONITOR,
            false,
            &[],
            false,
        ),
        (["_cat", "nodes"], _) if get => r(
            K::CatNodes,
            "GET /_cat/nodes",
            "cluster:monitor/nodes/info",
            CLUSTER_MONITOR,
            false,
            &[CAT, CAT_NODES],
            false,
        ),
        (["_nodes", ..], _) if get => r(
            K::Nodes,
            "GET /_nodes",
            "cluster:monitor/nodes/info",
            CLUSTER_MONITOR,
            false,
            &[NODES_INFO],
            false,
        ),
        (["_cat", "indices"], _) if get => r(
            K::CatIndices(None),
            "GET /_cat/indices",
            "indices:monitor/stats",
            INDEX_MONITOR,
            false,
            &[CAT, CAT_INDICES],
            false,
        ),
        (["_cat", "indices", i], _) if get => r(
            K::CatIndices(Some(own(i))),
            "GET /_cat/indices/{index}",
            "indices:monitor/stats",
            INDEX_MONITOR,
            false,
            &[CAT, CAT_INDICES],
            false,
        ),
        (["_ccr", "stats"], _) if get => r(
            K::CcrStats,
            "GET /_ccr/stats",
            "cluster:monitor/ccr/stats",
            CLUSTER_MONITOR,
            false,
            &[CCR_MASTER_TIMEOUT, CCR_STATS],
            false,
        ),
        (["_ccr", "auto_follow"], _) if get => r(
            K::GetAutoFollow(None),
            "GET /_ccr/auto_follow",
            "cluster:admin/xpack/ccr/auto_follow_pattern/get",
            MANAGE_CCR,
            false,
            &[CCR_MASTER_TIMEOUT],
            false,
        ),
        (["_ccr", "auto_follow", n], _) if get => r(
            K::GetAutoFollow(Some(own(n))),
            "GET /_ccr/auto_follow/{name}",
            "cluster:admin/xpack/ccr/auto_follow_pattern/get",
            MANAGE_CCR,
            false,
            &[NAME, CCR_MASTER_TIMEOUT],
            false,
        ),
        (["_ccr", "auto_follow", n], "PUT") => r(
            K::PutAutoFollow(own(n)),
            "PUT /_ccr/auto_follow/{name}",
            "cluster:admin/xpack/ccr/auto_follow_pattern/put",
            MANAGE_CCR,
            true,
            &[NAME, CCR_MASTER_TIMEOUT],
            true,
        ),
        (["_ccr", "auto_follow", n], "DELETE") => r(
            K::DeleteAutoFollow(own(n)),
            "DELETE /_ccr/auto_follow/{name}",
            "cluster:admin/xpack/ccr/auto_follow_pattern/delete",
            MANAGE_CCR,
            true,
            &[NAME, CCR_MASTER_TIMEOUT],
            false,
        ),
        (["_ccr", "auto_follow", n, "pause"], "POST") if v.at_least(7, 5) => r(
            K::PauseAutoFollow(own(n)),
            "POST /_ccr/auto_follow/{name}/pause",
            "cluster:admin/xpack/ccr/auto_follow_pattern/activate",
            MANAGE_CCR,
            true,
            &[NAME, CCR_MASTER_TIMEOUT],
            false,
        ),
        (["_ccr", "auto_follow", n, "resume"], "POST") if v.at_least(7, 5) => r(
            K::ResumeAutoFollow(own(n)),
            "POST /_ccr/auto_follow/{name}/resume",
            "cluster:admin/xpack/ccr/auto_follow_pattern/activate",
            MANAGE_CCR,
            true,
            &[NAME, CCR_MASTER_TIMEOUT],
            false,
        ),
        (["_bulk"], "POST" | "PUT") => r(
            K::Bulk(None),
            "POST /_bulk",
            "indices:data/write/bulk",
            INDEX_WRITE,
            true,
            &[INDEX, BULK],
            true,
        ),
        (["_search"], _) if search_m => r(
            K::Search(None),
            "GET /_search",
            "indices:data/read/search",
            INDEX_READ,
            false,
            &[INDEX, SEARCH, INDICES_OPTIONS],
            true,
        ),
        (["_count"], _) if search_m => r(
            K::Count(None),
            "GET /_count",
            "indices:data/read/search",
            INDEX_READ,
            false,
            &[INDEX, COUNT, INDICES_OPTIONS],
            true,
        ),
        (["_stats"] | ["_stats", _], _) if get => r(
            K::Stats(None),
            "GET /_stats",
            "indices:monitor/stats",
            INDEX_MONITOR,
            false,
            &[INDEX, STATS, INDICES_OPTIONS],
            false,
        ),
        (["_settings"], _) if get => r(
            K::GetSettings(None),
            "GET /_settings",
            "indices:monitor/settings/get",
            INDEX_MONITOR,
            false,
            &[INDEX, GET_SETTINGS, INDICES_OPTIONS],
            false,
        ),
        (["_refresh"], "POST" | "GET") => r(
            K::Refresh(None),
            "POST /_refresh",
            "indices:admin/refresh",
            INDEX_MANAGE,
            false,
            &[INDEX, INDICES_OPTIONS],
            false,
        ),
        ([i], "PUT") if *i != "_all" => r(
            K::CreateIndex(own(i)),
            "PUT /{index}",
            "indices:admin/create",
            "index privileges [create_index,manage,all]",
            true,
            &[INDEX, CREATE_INDEX],
            true,
        ),
        ([i], "DELETE") => r(
            K::DeleteIndex(own(i)),
            "DELETE /{index}",
            "indices:admin/delete",
            "index privileges [delete_index,manage,all]",
            true,
            &[INDEX, MASTER_ACK, INDICES_OPTIONS],
            false,
        ),
        ([i], _) if get_head => r(
            K::GetIndex(own(i)),
            "GET /{index}",
            "indices:admin/get",
            INDEX_MONITOR,
            false,
            &[INDEX, GET_INDEX, INDICES_OPTIONS],
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
            &[INDEX, MASTER_ACK, CLOSE, INDICES_OPTIONS],
            false,
        ),
        ([i, "_open"], "POST") => r(
            K::OpenIndex(own(i)),
            "POST /{index}/_open",
            "indices:admin/open",
            INDEX_MANAGE,
            true,
            &[INDEX, MASTER_ACK, OPEN, INDICES_OPTIONS],
            false,
        ),
        ([i, "_settings"] | [i, "_settings", _], _) if get => r(
            K::GetSettings(Some(own(i))),
            "GET /{index}/_settings",
            "indices:monitor/settings/get",
            INDEX_MONITOR,
            false,
            &[INDEX, GET_SETTINGS, INDICES_OPTIONS],
            false,
        ),
        ([i, "_settings"], "PUT") => r(
            K::PutSettings(own(i)),
            "PUT /{index}/_settings",
            "indices:admin/settings/update",
            INDEX_MANAGE,
            true,
            &[INDEX, PUT_SETTINGS, INDICES_OPTIONS],
            true,
        ),
        ([i, "_count"], _) if search_m => r(
            K::Count(Some(own(i))),
            "GET /{index}/_count",
            "indices:data/read/search",
            INDEX_READ,
            false,
            &[INDEX, COUNT, INDICES_OPTIONS],
            true,
        ),
        ([i, "_search"], _) if search_m => r(
            K::Search(Some(own(i))),
            "GET /{index}/_search",
            "indices:data/read/search",
            INDEX_READ,
            false,
            &[INDEX, SEARCH, INDICES_OPTIONS],
            true,
        ),
        ([i, "_stats"] | [i, "_stats", _], _) if get => r(
            K::Stats(Some(own(i))),
            "GET /{index}/_stats",
            "indices:monitor/stats",
            INDEX_MONITOR,
            false,
            &[INDEX, STATS, INDICES_OPTIONS],
            false,
        ),
        ([i, "_refresh"], "POST" | "GET") => r(
            K::Refresh(Some(own(i))),
            "POST /{index}/_refresh",
            "indices:admin/refresh",
            INDEX_MANAGE,
            false,
            &[INDEX, INDICES_OPTIONS],
            false,
        ),
        ([i, "_bulk"], "POST" | "PUT") => r(
            K::Bulk(Some(own(i))),
            "POST /{index}/_bulk",
            "indices:data/write/bulk",
            INDEX_WRITE,
            true,
            &[INDEX, BULK],
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
            &[INDEX, INDEX_DOC],
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
            &[INDEX, INDEX_DOC],
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
            &[INDEX, INDEX_DOC],
            true,
        ),
        ([i, "_doc", id], _) if get_head => r(
            K::GetDoc {
                index: own(i),
                id: own(id),
            },
            "GET /{index}/_doc/{id}",
            "indices:data/read/get",
            INDEX_READ,
            false,
            &[INDEX, GET_DOC],
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
            &[INDEX, DELETE_DOC],
            false,
        ),
        ([i, "_ccr", "follow"], "PUT") => r(
            K::Follow(own(i)),
            "PUT /{index}/_ccr/follow",
            "indices:admin/xpack/ccr/put_follow",
            FOLLOW_INDEX,
            true,
            &[INDEX, PUT_FOLLOW, CCR_MASTER_TIMEOUT],
            true,
        ),
        ([i, "_ccr", "pause_follow"], "POST") => r(
            K::PauseFollow(own(i)),
            "POST /{index}/_ccr/pause_follow",
            "cluster:admin/xpack/ccr/pause_follow",
            MANAGE_CCR,
            true,
            &[INDEX, CCR_MASTER_TIMEOUT],
            false,
        ),
        ([i, "_ccr", "resume_follow"], "POST") => r(
            K::ResumeFollow(own(i)),
            "POST /{index}/_ccr/resume_follow",
            "cluster:admin/xpack/ccr/resume_follow",
            MANAGE_CCR,
            true,
            &[INDEX, CCR_MASTER_TIMEOUT],
            true,
        ),
        ([i, "_ccr", "unfollow"], "POST") => r(
            K::Unfollow(own(i)),
            "POST /{index}/_ccr/unfollow",
            "indices:admin/xpack/ccr/unfollow",
            FOLLOW_INDEX,
            true,
            &[INDEX, CCR_MASTER_TIMEOUT],
            false,
        ),
        ([i, "_ccr", "stats"], _) if get => r(
            K::FollowStats(own(i)),
            "GET /{index}/_ccr/stats",
            "cluster:monitor/ccr/follow_stats",
            CLUSTER_MONITOR,
            false,
            &[INDEX, FOLLOW_STATS],
            false,
        ),
        ([i, "_ccr", "info"], _) if get => r(
            K::FollowInfo(own(i)),
            "GET /{index}/_ccr/info",
            "cluster:monitor/ccr/follow_info",
            CLUSTER_MONITOR,
            false,
            &[INDEX, CCR_MASTER_TIMEOUT],
            false,
        ),
        ([i, "_ccr", "forget_follower"], "POST") => r(
            K::ForgetFollower(own(i)),
            "POST /{index}/_ccr/forget_follower",
            "indices:admin/xpack/ccr/forget_follower",
            FOLLOW_INDEX,
            true,
            &[INDEX],
            true,
        ),
        _ => None,
    }
}

/// `RestRequest.Method` in declaration order, the order the simulator lists allowed methods
/// in (ES's set has no stable order).
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "HEAD"];

/// ES's answer for a path/method it has no handler for (`RestController.handleNoHandlerFound`):
/// OPTIONS is 200 with an empty `text/plain` body and `Allow`; a path registered with other
/// methods is 405 listing them, with the query string in the uri and an `Allow` header; anything
/// else is 400 `{"error": "no handler found …"}` with no `status` field.
fn no_handler(req: &Req, version: crate::version::Version) -> Reply {
    let allowed: Vec<&str> = METHODS
        .into_iter()
        .filter(|m| {
            let probe = Req {
                method: (*m).to_string(),
                ..req.clone()
            };
            route(&probe, version).is_some()
        })
        .collect();
    let allow_header = || ("Allow".to_string(), allowed.join(","));
    if req.method == "OPTIONS" {
        let mut reply = Reply {
            status: 200,
            body: ReplyBody::Text(String::new()),
            headers: Vec::new(),
        };
        if !allowed.is_empty() {
            reply.headers.push(allow_header());
        }
        return reply;
    }
    if !allowed.is_empty() {
        let mut reply = Reply::error_body(
            405,
            json!({
                "error": format!(
                    "Incorrect HTTP method for uri [{}] and method [{}], allowed: [{}]",
                    req.uri,
                    req.method,
                    allowed.join(", ")
                ),
                "status": 405
            }),
        );
        reply.headers.push(allow_header());
        return reply;
    }
    Reply::error_body(
        400,
        json!({
            "error": format!("no handler found for uri [{}] and method [{}]", req.uri, req.method),
        }),
    )
}

/// What `RestController.dispatchRequest` checks before the handler: a body must have a type ES
/// can read (406), and the streaming handlers (bulk) read only JSON and SMILE.
fn check_content(req: &Req, media: Option<&Media>, route: &Route) -> Option<Reply> {
    if req.body.is_empty() {
        return None;
    }
    let Some(media) = media else {
        return Some(xcontent::unsupported_content_type(req));
    };
    if media.kind == XContent::Smile {
        // The simulator has no SMILE codec (see `xcontent`).
        return Some(xcontent::unsupported_content_type(req));
    }
    if matches!(route.kind, RouteKind::Bulk(_)) && media.kind != XContent::Json {
        return Some(Reply::error_body(
            406,
            json!({
                "error": format!(
                    "Content-Type [{}] does not support stream parsing. Use JSON or SMILE instead",
                    media.kind.short_name()
                ),
                "status": 406
            }),
        ));
    }
    None
}

/// The channel's own parameters (`AbstractRestChannel` parses `pretty` and `human` with
/// `paramAsBoolean`; `RestController` parses `error_trace`): a bad value fails every request.
fn check_channel_params(req: &Req) -> Result<(), EsError> {
    for k in ["error_trace", "pretty", "human"] {
        param_as_boolean(req.q(k), false)?;
    }
    Ok(())
}

/// `BaseRestHandler.handleRequest` after `prepareRequest`: the handler's boolean parameters are
/// strict, every query parameter must be one it (or the channel) consumes, and a body it does
/// not read is refused.
fn check_handler_params(
    req: &Req,
    route: &Route,
    v: crate::version::Version,
) -> Result<(), EsError> {
    let consumed: Vec<&Param> = route
        .params
        .iter()
        .flat_map(|set| set.iter())
        .chain(ALWAYS.iter())
        .filter(|p| p.applies(v))
        .collect();
    for param in consumed.iter().filter(|p| p.boolean) {
        param_as_boolean(req.q(param.name), false)?;
    }
    let names: Vec<&str> = consumed.iter().map(|p| p.name).collect();
    let unknown: Vec<&str> = req
        .query
        .keys()
        .map(String::as_str)
        .filter(|k| !names.contains(k))
        .collect();
    if !unknown.is_empty() {
        return Err(EsError::illegal_argument(unrecognized(
            req.path(),
            unknown,
            &names,
            "parameter",
        )));
    }
    if !req.body.is_empty() && !route.reads_body {
        return Err(EsError::illegal_argument(format!(
            "request [{} {}] does not support having a body",
            req.method,
            req.path()
        )));
    }
    Ok(())
}

/// Handles one Elasticsearch request against cluster `ci`: the REST layer's checks (media
/// types, parameters, bodies), security, routing, dispatch.
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
    // The request and its channel are built before anything is dispatched.
    let media = match xcontent::check_headers(req, version) {
        Ok(m) => m,
        Err(e) => return Reply::error(&e),
    };
    if let Err(e) = check_channel_params(req) {
        return Reply::error(&e);
    }
    if xcontent::response_media(req, version).0 == XContent::Smile {
        // ES would answer in SMILE; the simulator has no SMILE codec and says so.
        return Reply::error_body(
            406,
            json!({"error": "ccr-sim cannot write SMILE responses; ask for JSON, YAML or CBOR", "status": 406}),
        );
    }
    let now = w.clock.epoch_ms();
    let caller = match security::authenticate(&w.clusters[ci], req, now) {
        Ok(c) => c,
        Err(e) => return Reply::error(&e),
    };
    let Some(route) = route else {
        return no_handler(req, version);
    };
    if let Some(reply) = check_content(req, media.as_ref(), &route) {
        return reply;
    }
    if let Err(e) = check_handler_params(req, &route, version) {
        return Reply::error(&e);
    }
    // Authorization happens when the transport action runs, after the REST handler's checks.
    if let Some(caller) = &caller {
        if let Err(e) = security::authorize(&w.clusters[ci], caller, &route, req) {
            return Reply::error(&e);
        }
    }
    let transcoded = match media.as_ref().map(|m| xcontent::body_as_json(m, &req.body)) {
        Some(Err(e)) => return Reply::error(&e),
        Some(Ok(Some(json))) => Some(Req {
            body: json,
            ..req.clone()
        }),
        _ => None,
    };
    let req = transcoded.as_ref().unwrap_or(req);
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
        K::Stats(i) => indices::stats(&w.clusters[ci], i.as_deref(), req, w.clock.epoch_ms()),
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
