//! Elasticsearch 8.x bodies the simulator serves only in part, built for the canned double: the full shard-level
//! `_stats`, `_nodes/{node}/stats` and `_cat/shards`. The section and field names follow
//! `CommonStats.toXContent` (the 8.x `CommonStatsFlags.Flag` list: docs, shard_stats, store, indexing, get, search,
//! merges, refresh, flush, warmer, query_cache, fielddata, completion, segments, translog, request_cache, recovery,
//! bulk, dense_vector, sparse_vector), `ShardStats.toXContent` (routing, commit, seq_no, retention_leases,
//! shard_path, search_idle, search_idle_time), `IndexStats` (uuid, health, status, primaries, total, shards) and
//! `NodeStats.toXContent`; `GET /_alias` lists every index (`GetAliasesResponse`). The numbers are reconstructed: derived from each shard's document count and store size
//! so that every shard differs, with the magnitudes of a small logging index; only their shape and size matter
//! here.

use serde_json::{json, Map, Value};

/// One shard copy as the simulator's `_stats?level=shards` lists it: what the full body is built around.
pub struct ShardFacts {
    pub shard: usize,
    /// The simulator's `ShardStats` fields (`routing`, `docs`, `store`, `commit`, `seq_no`, `retention_leases`,
    /// `shard_path`), kept as served.
    pub own: Map<String, Value>,
}

/// One index of the simulator's `_stats?level=shards`.
pub struct IndexFacts {
    pub name: String,
    pub uuid: String,
    pub health: String,
    pub status: String,
    pub shards: Vec<ShardFacts>,
}

impl ShardFacts {
    fn docs(&self) -> u64 {
        self.own["docs"]["count"].as_u64().unwrap_or(0)
    }

    fn store(&self) -> u64 {
        self.own["store"]["size_in_bytes"].as_u64().unwrap_or(0)
    }
}

/// Reads the indices and shards out of the simulator's `GET /_all/_stats?level=shards` body.
pub fn index_facts(stats: &Value) -> Vec<IndexFacts> {
    let Some(indices) = stats["indices"].as_object() else {
        return Vec::new();
    };
    indices
        .iter()
        .map(|(name, i)| {
            let mut shards: Vec<ShardFacts> = i["shards"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(id, copies)| {
                    let own = copies.as_array()?.first()?.as_object()?.clone();
                    Some(ShardFacts {
                        shard: id.parse().ok()?,
                        own,
                    })
                })
                .collect();
            shards.sort_by_key(|s| s.shard);
            IndexFacts {
                name: name.clone(),
                uuid: i["uuid"].as_str().unwrap_or("").to_string(),
                health: i["health"].as_str().unwrap_or("green").to_string(),
                status: i["status"].as_str().unwrap_or("open").to_string(),
                shards,
            }
        })
        .collect()
}

/// The `CommonStats` sections of one shard copy (`count` = 1) or of a sum of `count` copies. `metrics` limits the
/// sections as `GET /{index}/_stats/{metric}` does (`None`: all of them).
fn common(docs: u64, store: u64, count: u64, metrics: Option<&[String]>) -> Map<String, Value> {
    let want = |flag: &str| match metrics {
        None => true,
        Some(m) => m.iter().any(|x| x == flag || x == "_all"),
    };
    let ops = docs + docs / 7;
    let segments = 3 * count + docs / 5_000;
    let mut m = Map::new();
    if want("docs") {
        m.insert("docs".into(), json!({"count": docs, "deleted": docs / 50}));
    }
    if want("shard_stats") {
        m.insert("shard_stats".into(), json!({"total_count": count}));
    }
    if want("store") {
        m.insert(
            "store".into(),
            json!({"size_in_bytes": store, "total_data_set_size_in_bytes": store, "reserved_in_bytes": 0}),
        );
    }
    if want("indexing") {
        m.insert(
            "indexing".into(),
            json!({
                "index_total": ops, "index_time_in_millis": ops / 9, "index_current": 0, "index_failed": 0,
                "delete_total": 0, "delete_time_in_millis": 0, "delete_current": 0, "noop_update_total": 0,
                "is_throttled": false, "throttle_time_in_millis": 0,
                "write_load": 0.000_412 * count as f64
            }),
        );
    }
    if want("get") {
        m.insert(
            "get".into(),
            json!({
                "total": 0, "time_in_millis": 0, "exists_total": 0, "exists_time_in_millis": 0,
                "missing_total": 0, "missing_time_in_millis": 0, "current": 0
            }),
        );
    }
    if want("search") {
        let q = 40 * count + docs / 100;
        m.insert(
            "search".into(),
            json!({
                "open_contexts": 0, "query_total": q, "query_time_in_millis": q / 3, "query_current": 0,
                "fetch_total": q / 2, "fetch_time_in_millis": q / 11, "fetch_current": 0,
                "scroll_total": count, "scroll_time_in_millis": 48 * count, "scroll_current": 0,
                "suggest_total": 0, "suggest_time_in_millis": 0, "suggest_current": 0
            }),
        );
    }
    if want("merge") {
        m.insert(
            "merges".into(),
            json!({
                "current": 0, "current_docs": 0, "current_size_in_bytes": 0,
                "total": segments / 3, "total_time_in_millis": segments * 17, "total_docs": docs / 2,
                "total_size_in_bytes": store / 2, "total_stopped_time_in_millis": 0,
                "total_throttled_time_in_millis": 0, "total_auto_throttle_in_bytes": 20_971_520 * count
            }),
        );
    }
    if want("refresh") {
        m.insert(
            "refresh".into(),
            json!({
                "total": 21 * count + ops / 200, "total_time_in_millis": 117 * count,
                "external_total": 18 * count, "external_total_time_in_millis": 108 * count, "listeners": 0
            }),
        );
    }
    if want("flush") {
        m.insert(
            "flush".into(),
            json!({"total": 4 * count, "periodic": count, "total_time_in_millis": 310 * count,
                   "total_time_excluding_waiting_on_lock_in_millis": 300 * count}),
        );
    }
    if want("warmer") {
        m.insert(
            "warmer".into(),
            json!({"current": 0, "total": 14 * count, "total_time_in_millis": count}),
        );
    }
    if want("query_cache") {
        m.insert(
            "query_cache".into(),
            json!({
                "memory_size_in_bytes": 0, "total_count": 0, "hit_count": 0, "miss_count": 0,
                "cache_size": 0, "cache_count": 0, "evictions": 0
            }),
        );
    }
    if want("fielddata") {
        m.insert(
            "fielddata".into(),
            json!({"memory_size_in_bytes": 0, "evictions": 0, "global_ordinals": {"build_time_in_millis": 0}}),
        );
    }
    if want("completion") {
        m.insert("completion".into(), json!({"size_in_bytes": 0}));
    }
    if want("segments") {
        m.insert(
            "segments".into(),
            json!({
                "count": segments, "memory_in_bytes": 0, "terms_memory_in_bytes": 0,
                "stored_fields_memory_in_bytes": 0, "term_vectors_memory_in_bytes": 0,
                "norms_memory_in_bytes": 0, "points_memory_in_bytes": 0, "doc_values_memory_in_bytes": 0,
                "index_writer_memory_in_bytes": docs * 3, "version_map_memory_in_bytes": 0,
                "fixed_bit_set_memory_in_bytes": 0, "max_unsafe_auto_id_timestamp": -1, "file_sizes": {}
            }),
        );
    }
    if want("translog") {
        m.insert(
            "translog".into(),
            json!({
                "operations": ops / 10, "size_in_bytes": 55 * count + ops * 60,
                "uncommitted_operations": ops / 10, "uncommitted_size_in_bytes": 55 * count + ops * 60,
                "earliest_last_modified_age": 113_316
            }),
        );
    }
    if want("request_cache") {
        m.insert(
            "request_cache".into(),
            json!({"memory_size_in_bytes": 0, "evictions": 0, "hit_count": 0, "miss_count": 0}),
        );
    }
    if want("recovery") {
        m.insert(
            "recovery".into(),
            json!({"current_as_source": 0, "current_as_target": 0, "throttle_time_in_millis": 0}),
        );
    }
    if want("bulk") {
        m.insert(
            "bulk".into(),
            json!({
                "total_operations": ops / 50, "total_time_in_millis": ops / 9,
                "total_size_in_bytes": ops * 400, "avg_time_in_millis": 0, "avg_size_in_bytes": 20_000
            }),
        );
    }
    if want("dense_vector") {
        m.insert("dense_vector".into(), json!({"value_count": 0}));
    }
    if want("sparse_vector") {
        m.insert("sparse_vector".into(), json!({"value_count": 0}));
    }
    m
}

/// The shard's full `ShardStats`: its routing first, then every `CommonStats` section, then the simulator's
/// engine-level fields (commit, seq_no, retention_leases, shard_path) and the search-idle flags.
fn shard_body(s: &ShardFacts, metrics: Option<&[String]>) -> Value {
    let mut m = Map::new();
    if let Some(r) = s.own.get("routing") {
        m.insert("routing".into(), r.clone());
    }
    m.extend(common(s.docs(), s.store(), 1, metrics));
    for (k, v) in &s.own {
        if !matches!(k.as_str(), "routing" | "docs" | "store") {
            m.insert(k.clone(), v.clone());
        }
    }
    m.insert("search_idle".into(), false.into());
    m.insert("search_idle_time".into(), 0.into());
    Value::Object(m)
}

/// `GET /{indices}/_stats[/{metric}]?level=...` (`IndicesStatsResponse.toXContent`) for the named indices.
pub fn indices_stats(indices: &[&IndexFacts], level: &str, metrics: Option<&[String]>) -> Value {
    let mut out = Map::new();
    let mut all_docs = 0;
    let mut all_store = 0;
    let mut all_count = 0;
    for i in indices {
        let docs: u64 = i.shards.iter().map(ShardFacts::docs).sum();
        let store: u64 = i.shards.iter().map(ShardFacts::store).sum();
        let count = i.shards.len() as u64;
        all_docs += docs;
        all_store += store;
        all_count += count;
        if level == "cluster" {
            continue;
        }
        let mut m = Map::new();
        m.insert("uuid".into(), i.uuid.clone().into());
        m.insert("health".into(), i.health.clone().into());
        m.insert("status".into(), i.status.clone().into());
        m.insert(
            "primaries".into(),
            Value::Object(common(docs, store, count, metrics)),
        );
        m.insert(
            "total".into(),
            Value::Object(common(docs, store, count, metrics)),
        );
        if level == "shards" {
            let shards: Map<String, Value> = i
                .shards
                .iter()
                .map(|s| (s.shard.to_string(), json!([shard_body(s, metrics)])))
                .collect();
            m.insert("shards".into(), Value::Object(shards));
        }
        out.insert(i.name.clone(), Value::Object(m));
    }
    let all = Value::Object(common(all_docs, all_store, all_count, metrics));
    let mut body = Map::new();
    body.insert(
        "_shards".into(),
        json!({"total": all_count, "successful": all_count, "failed": 0}),
    );
    body.insert("_all".into(), json!({"primaries": all, "total": all}));
    if level != "cluster" {
        body.insert("indices".into(), Value::Object(out));
    }
    Value::Object(body)
}

/// `GET /_cat/shards?format=json` (`RestShardsAction`'s default columns): one row per started shard copy.
pub fn cat_shards(indices: &[IndexFacts], node_name: &str) -> Value {
    let rows: Vec<Value> = indices
        .iter()
        .flat_map(|i| {
            i.shards.iter().map(move |s| {
                json!({
                    "index": i.name, "shard": s.shard.to_string(), "prirep": "p", "state": "STARTED",
                    "docs": s.docs().to_string(), "store": format!("{:.1}kb", s.store() as f64 / 1024.0),
                    "dataset": format!("{:.1}kb", s.store() as f64 / 1024.0),
                    "ip": "127.0.0.1", "node": node_name
                })
            })
        })
        .collect();
    Value::Array(rows)
}

/// `GET /_alias` (`GetAliasesResponse`): every index, with its aliases (none here).
pub fn aliases(indices: &[IndexFacts]) -> Value {
    Value::Object(
        indices
            .iter()
            .map(|i| (i.name.clone(), json!({"aliases": {}})))
            .collect(),
    )
}

/// `GET /_nodes/{node}/stats` of the one node (`NodesStatsResponse`): the node-level sums of every index's common
/// stats, and the OS, process, JVM, thread pool, file system, transport, HTTP and breaker sections.
pub fn node_stats(
    indices: &[IndexFacts],
    cluster_name: &str,
    node_id: &str,
    node_name: &str,
) -> Value {
    let docs: u64 = indices
        .iter()
        .flat_map(|i| &i.shards)
        .map(ShardFacts::docs)
        .sum();
    let store: u64 = indices
        .iter()
        .flat_map(|i| &i.shards)
        .map(ShardFacts::store)
        .sum();
    let count: u64 = indices.iter().map(|i| i.shards.len() as u64).sum();
    let mut idx = common(docs, store, count, None);
    idx.insert(
        "mappings".into(),
        json!({"total_count": indices.len() * 12, "total_estimated_overhead_in_bytes": indices.len() * 12 * 1024}),
    );
    let pool = |threads: u64| json!({"threads": threads, "queue": 0, "active": 0, "rejected": 0, "largest": threads, "completed": 1234});
    let pools: Map<String, Value> = [
        "analyze",
        "auto_complete",
        "azure_event_loop",
        "ccr",
        "cluster_coordination",
        "fetch_shard_started",
        "fetch_shard_store",
        "flush",
        "force_merge",
        "generic",
        "get",
        "management",
        "refresh",
        "repository_azure",
        "rollup_indexing",
        "search",
        "search_coordination",
        "search_throttled",
        "searchable_snapshots_cache_fetch_async",
        "searchable_snapshots_cache_prewarming",
        "security-crypto",
        "security-token-key",
        "snapshot",
        "snapshot_meta",
        "system_critical_read",
        "system_critical_write",
        "system_read",
        "system_write",
        "warmer",
        "watcher",
        "write",
    ]
    .iter()
    .enumerate()
    .map(|(k, name)| (name.to_string(), pool(1 + k as u64 % 4)))
    .collect();
    let gc =
        |count: u64| json!({"collection_count": count, "collection_time_in_millis": count * 7});
    let breaker = |limit: u64| {
        json!({"limit_size_in_bytes": limit, "limit_size": "1gb", "estimated_size_in_bytes": 0,
               "estimated_size": "0b", "overhead": 1.0, "tripped": 0})
    };
    json!({
        "_nodes": {"total": 1, "successful": 1, "failed": 0},
        "cluster_name": cluster_name,
        "nodes": {
            node_id: {
                "timestamp": 1_764_633_600_000u64,
                "name": node_name,
                "transport_address": "127.0.0.1:9300",
                "host": "127.0.0.1",
                "ip": "127.0.0.1:9300",
                "roles": ["data", "data_cold", "data_content", "data_frozen", "data_hot", "data_warm", "ingest",
                          "master", "ml", "remote_cluster_client", "transform"],
                "attributes": {"ml.machine_memory": "8589934592", "xpack.installed": "true",
                               "ml.allocated_processors": "2", "ml.max_jvm_size": "4294967296"},
                "indices": Value::Object(idx),
                "os": {
                    "timestamp": 1_764_633_600_000u64,
                    "cpu": {"percent": 12, "load_average": {"1m": 0.8, "5m": 0.7, "15m": 0.6}},
                    "mem": {"total_in_bytes": 8_589_934_592u64, "adjusted_total_in_bytes": 8_589_934_592u64,
                            "free_in_bytes": 1_073_741_824u64, "used_in_bytes": 7_516_192_768u64,
                            "free_percent": 12, "used_percent": 88},
                    "swap": {"total_in_bytes": 0, "free_in_bytes": 0, "used_in_bytes": 0},
                    "cgroup": {
                        "cpuacct": {"control_group": "/", "usage_nanos": 123_456_789_000u64},
                        "cpu": {"control_group": "/", "cfs_period_micros": 100_000, "cfs_quota_micros": -1,
                                "stat": {"number_of_elapsed_periods": 0, "number_of_times_throttled": 0,
                                         "time_throttled_nanos": 0}},
                        "memory": {"control_group": "/", "limit_in_bytes": "max", "usage_in_bytes": "4294967296"}
                    }
                },
                "process": {
                    "timestamp": 1_764_633_600_000u64, "open_file_descriptors": 900 + count,
                    "max_file_descriptors": 1_048_576,
                    "cpu": {"percent": 3, "total_in_millis": 987_654},
                    "mem": {"total_virtual_in_bytes": 12_884_901_888u64}
                },
                "jvm": {
                    "timestamp": 1_764_633_600_000u64, "uptime_in_millis": 86_400_000u64,
                    "mem": {
                        "heap_used_in_bytes": 1_073_741_824u64, "heap_used_percent": 25,
                        "heap_committed_in_bytes": 4_294_967_296u64, "heap_max_in_bytes": 4_294_967_296u64,
                        "non_heap_used_in_bytes": 268_435_456u64, "non_heap_committed_in_bytes": 283_115_520u64,
                        "pools": {
                            "young": {"used_in_bytes": 100_663_296u64, "max_in_bytes": 0,
                                      "peak_used_in_bytes": 2_516_582_400u64, "peak_max_in_bytes": 0},
                            "old": {"used_in_bytes": 960_495_616u64, "max_in_bytes": 4_294_967_296u64,
                                    "peak_used_in_bytes": 1_200_000_000u64, "peak_max_in_bytes": 4_294_967_296u64},
                            "survivor": {"used_in_bytes": 12_582_912u64, "max_in_bytes": 0,
                                         "peak_used_in_bytes": 100_000_000u64, "peak_max_in_bytes": 0}
                        }
                    },
                    "threads": {"count": 80, "peak_count": 90},
                    "gc": {"collectors": {"young": gc(345), "G1 Concurrent GC": gc(12), "old": gc(0)}},
                    "buffer_pools": {
                        "mapped": {"count": count * 4, "used_in_bytes": store, "total_capacity_in_bytes": store},
                        "direct": {"count": 40, "used_in_bytes": 8_000_000, "total_capacity_in_bytes": 8_000_000},
                        "mapped - 'non-volatile memory'": {"count": 0, "used_in_bytes": 0, "total_capacity_in_bytes": 0}
                    },
                    "classes": {"current_loaded_count": 30_000, "total_loaded_count": 30_500, "total_unloaded_count": 500}
                },
                "thread_pool": Value::Object(pools),
                "fs": {
                    "timestamp": 1_764_633_600_000u64,
                    "total": {"total_in_bytes": 107_374_182_400u64, "free_in_bytes": 53_687_091_200u64,
                              "available_in_bytes": 53_687_091_200u64},
                    "data": [{"path": "/usr/share/elasticsearch/data", "mount": "/ (overlay)", "type": "overlay",
                              "total_in_bytes": 107_374_182_400u64, "free_in_bytes": 53_687_091_200u64,
                              "available_in_bytes": 53_687_091_200u64}],
                    "io_stats": {"devices": [{"device_name": "sda", "operations": 100_000, "read_operations": 40_000,
                                              "write_operations": 60_000, "read_kilobytes": 4_000_000,
                                              "write_kilobytes": 6_000_000, "io_time_in_millis": 70_000}],
                                 "total": {"operations": 100_000, "read_operations": 40_000,
                                           "write_operations": 60_000, "read_kilobytes": 4_000_000,
                                           "write_kilobytes": 6_000_000, "io_time_in_millis": 70_000}}
                },
                "transport": {"server_open": 26, "total_outbound_connections": 13, "rx_count": 1_000_000,
                              "rx_size_in_bytes": 900_000_000u64, "tx_count": 1_000_000,
                              "tx_size_in_bytes": 800_000_000u64},
                "http": {"current_open": 3, "total_opened": 400},
                "breakers": {
                    "model_inference": breaker(2_147_483_648),
                    "eql_sequence": breaker(2_147_483_648),
                    "fielddata": breaker(1_717_986_918),
                    "request": breaker(2_576_980_377),
                    "inflight_requests": breaker(4_294_967_296),
                    "parent": breaker(4_080_218_931)
                },
                "script": {"compilations": 1, "cache_evictions": 0, "compilation_limit_triggered": 0},
                "discovery": {"cluster_state_queue": {"total": 0, "pending": 0, "committed": 0}},
                "ingest": {"total": {"count": 0, "time_in_millis": 0, "current": 0, "failed": 0}, "pipelines": {}},
                "indexing_pressure": {"memory": {"current": {"all_in_bytes": 0}, "total": {"all_in_bytes": 0},
                                                 "limit_in_bytes": 429_496_729}}
            }
        }
    })
}
