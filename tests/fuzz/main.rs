//! Property tests ("fuzzing" on stable Rust) of every parser of Elasticsearch answers and of config loading:
//! arbitrary bytes, arbitrary JSON values, mutations of the real fixtures in `tests/fixtures/es/`, arbitrary
//! TOML text and structured mutations of the example configuration. The properties: nothing panics (debug
//! builds included, so arithmetic overflow counts), what parses is processed by the code that consumes it
//! (verdict inputs, classification) without panicking, and the bounded body reader never holds more than its
//! limit.
//!
//! CI runs each property for proptest's default 256 cases; `scripts/fuzz` (or `PROPTEST_CASES=1000000 cargo
//! test --release --test fuzz`) runs as many as wanted.

use std::path::{Path, PathBuf};

use ccr_sentinel::es::{
    classify, AutoFollowPatternsResponse, BoundedBody, CatIndex, CcrStatsResponse,
    ClusterSettingsResponse, Endpoint, ErrorResponse, EsError, FollowInfoResponse,
    FollowStatsResponse, HasPrivilegesResponse, IndexSettingsResponse, LicenseResponse,
    PutFollowResponse, RemoteInfoResponse, RootInfo,
};
use ccr_sentinel::observe::ShardSummary;
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::Value;

/// Proptest's configuration: cases from `PROPTEST_CASES` (default 256), no regression files in the tree.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Parses `bytes` as every response type the daemon reads and runs what consumes each one that parses.
fn parse_everything(bytes: &[u8]) {
    if let Ok(s) = serde_json::from_slice::<CcrStatsResponse>(bytes) {
        consume_follow_stats(&s.follow_stats);
    }
    if let Ok(s) = serde_json::from_slice::<FollowStatsResponse>(bytes) {
        consume_follow_stats(&s);
    }
    if let Ok(i) = serde_json::from_slice::<FollowInfoResponse>(bytes) {
        let _ = serde_json::to_string(&i).unwrap();
    }
    if let Ok(r) = serde_json::from_slice::<RemoteInfoResponse>(bytes) {
        for info in r.values() {
            let _ = (info.mode(), info.nodes_connected());
        }
    }
    if let Ok(rows) = serde_json::from_slice::<Vec<CatIndex>>(bytes) {
        let _: i64 = rows
            .iter()
            .filter_map(|r| r.docs_count)
            .fold(0, i64::saturating_add);
    }
    if let Ok(l) = serde_json::from_slice::<LicenseResponse>(bytes) {
        let _ = l.license.allows_ccr();
    }
    if let Ok(r) = serde_json::from_slice::<RootInfo>(bytes) {
        let _ = r.major_minor();
    }
    if let Ok(s) = serde_json::from_slice::<ClusterSettingsResponse>(bytes) {
        let _ = s.get("cluster.remote.leader.seeds");
    }
    if let Ok(s) = serde_json::from_slice::<IndexSettingsResponse>(bytes) {
        for i in s.values() {
            let _ = i.get("index.xpack.ccr.following_index");
        }
    }
    if let Ok(p) = serde_json::from_slice::<HasPrivilegesResponse>(bytes) {
        let _ = p.missing();
    }
    let _ = serde_json::from_slice::<AutoFollowPatternsResponse>(bytes);
    let _ = serde_json::from_slice::<PutFollowResponse>(bytes);
    for status in [400u16, 401, 403, 404, 429, 500, 503] {
        let error = serde_json::from_slice::<ErrorResponse>(bytes)
            .ok()
            .and_then(|e| e.error);
        if let Some(c) = &error {
            let _ = (c.summary(), c.operations_missing(), c.mentions("license"));
        }
        let e = EsError::Status {
            cluster: "follower".into(),
            endpoint: Endpoint::PutFollow,
            status,
            error,
        };
        let _ = (classify(&e), e.reason(), e.to_string(), e.es_type());
    }
}

/// What the observer does with follow stats: the per-follower summary (lag sums, maxima) and per-shard lag.
fn consume_follow_stats(s: &FollowStatsResponse) {
    for idx in &s.indices {
        let summary = ShardSummary::from_stats(idx);
        assert!(summary.global_checkpoint_lag >= 0, "{summary:?}");
        for sh in &idx.shards {
            assert!(sh.lag() >= 0);
        }
    }
}

/// Every JSON fixture of the Elasticsearch answers, as (name, bytes), read once.
fn fixtures() -> &'static [(String, Vec<u8>)] {
    static ALL: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();
    ALL.get_or_init(read_fixtures)
}

fn read_fixtures() -> Vec<(String, Vec<u8>)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    let mut paths = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/es"),
        &mut paths,
    );
    paths.sort();
    paths
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

/// Field names of the answers, so generated objects often have the shapes the types look for.
const KEYS: &[&str] = &[
    "auto_follow_stats",
    "follow_stats",
    "indices",
    "index",
    "shards",
    "remote_cluster",
    "leader_index",
    "follower_index",
    "shard_id",
    "leader_global_checkpoint",
    "leader_max_seq_no",
    "follower_global_checkpoint",
    "follower_max_seq_no",
    "operations_written",
    "time_since_last_read_millis",
    "fatal_exception",
    "read_exceptions",
    "total_global_checkpoint_lag",
    "follower_indices",
    "status",
    "parameters",
    "connected",
    "mode",
    "seeds",
    "num_nodes_connected",
    "num_proxy_sockets_connected",
    "license",
    "type",
    "reason",
    "caused_by",
    "error",
    "version",
    "number",
    "cluster_name",
    "docs.count",
    "patterns",
    "name",
    "pattern",
    "requested_operations_missing",
    "settings",
    "cluster",
    "has_all_requested",
];

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(KEYS).prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

fn arb_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(-1i64), Just(0i64)].prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        any::<String>().prop_map(Value::from),
        proptest::sample::select(
            &["active", "paused", "sniff", "proxy", "-1", "12", "", "open", "close"][..]
        )
        .prop_map(Value::from),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    arb_leaf().prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((arb_key(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A change to one node of a JSON document.
#[derive(Debug, Clone)]
enum Edit {
    Remove,
    Replace(Value),
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        1 => Just(Edit::Remove),
        3 => arb_json().prop_map(Edit::Replace),
    ]
}

/// Applies `edit` to the `target`-th node (pre-order, the root excluded) of `v`; `target` counts down.
fn edit_nth(v: &mut Value, target: &mut usize, edit: &Edit) -> bool {
    match v {
        Value::Array(items) => {
            for i in 0..items.len() {
                if *target == 0 {
                    match edit {
                        Edit::Remove => drop(items.remove(i)),
                        Edit::Replace(x) => items[i] = x.clone(),
                    }
                    return true;
                }
                *target -= 1;
                if edit_nth(&mut items[i], target, edit) {
                    return true;
                }
            }
            false
        }
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if *target == 0 {
                    match edit {
                        Edit::Remove => drop(map.remove(&k)),
                        Edit::Replace(x) => drop(map.insert(k, x.clone())),
                    }
                    return true;
                }
                *target -= 1;
                if edit_nth(map.get_mut(&k).unwrap(), target, edit) {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

fn node_count(v: &Value) -> usize {
    match v {
        Value::Array(items) => items.iter().map(|x| 1 + node_count(x)).sum(),
        Value::Object(map) => map.values().map(|x| 1 + node_count(x)).sum(),
        _ => 0,
    }
}

/// A well-formed `_ccr/stats` answer with arbitrary checkpoints, for the arithmetic properties.
fn arb_shard() -> impl Strategy<Value = (i64, i64, i64)> {
    let cp = prop_oneof![
        any::<i64>(),
        Just(i64::MAX),
        Just(i64::MIN),
        Just(-1i64),
        0i64..1000
    ];
    (cp.clone(), cp.clone(), cp)
}

fn ccr_stats_with(shards: &[(i64, i64, i64)], reported: Option<i64>) -> Value {
    let shards: Vec<Value> = shards
        .iter()
        .enumerate()
        .map(|(i, (leader, follower, read))| {
            serde_json::json!({"remote_cluster": "leader", "leader_index": "l", "follower_index": "f",
                "shard_id": i, "leader_global_checkpoint": leader, "leader_max_seq_no": leader,
                "follower_global_checkpoint": follower, "follower_max_seq_no": follower,
                "operations_written": read, "bytes_read": read, "failed_read_requests": read,
                "time_since_last_read_millis": read})
        })
        .collect();
    let mut index = serde_json::json!({"index": "f", "shards": shards});
    if let Some(r) = reported {
        index["total_global_checkpoint_lag"] = r.into();
    }
    serde_json::json!({"auto_follow_stats": {}, "follow_stats": {"indices": [index]}})
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fuzz_arbitrary_bytes_never_panic_a_parser(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        parse_everything(&bytes);
    }

    #[test]
    fn fuzz_arbitrary_json_never_panics_a_parser(v in arb_json()) {
        parse_everything(&serde_json::to_vec(&v).unwrap());
    }

    #[test]
    fn fuzz_mutated_fixtures_never_panic_a_parser(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), arb_edit()), 1..4),
    ) {
        let all = fixtures();
        let (_, bytes) = &all[pick.index(all.len())];
        let Ok(mut v) = serde_json::from_slice::<Value>(bytes) else { return Ok(()) };
        for (at, edit) in &edits {
            let n = node_count(&v);
            if n == 0 {
                break;
            }
            let mut target = at.index(n);
            edit_nth(&mut v, &mut target, edit);
        }
        parse_everything(&serde_json::to_vec(&v).unwrap());
    }

    #[test]
    fn fuzz_byte_mutations_of_fixtures_never_panic_a_parser(
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        truncate in any::<bool>(),
    ) {
        let all = fixtures();
        let (_, bytes) = &all[pick.index(all.len())];
        let mut bytes = bytes.clone();
        let i = at.index(bytes.len().max(1)).min(bytes.len());
        if truncate {
            bytes.truncate(i);
        } else if i < bytes.len() {
            bytes[i] = byte;
        }
        parse_everything(&bytes);
    }

    #[test]
    fn fuzz_extreme_checkpoints_give_a_lag_never_zero_when_behind(
        shards in proptest::collection::vec(arb_shard(), 1..6),
        reported in proptest::option::of(any::<i64>()),
    ) {
        let s: CcrStatsResponse = serde_json::from_value(ccr_stats_with(&shards, reported)).unwrap();
        let idx = &s.follow_stats.indices[0];
        let summary = ShardSummary::from_stats(idx);
        prop_assert!(summary.global_checkpoint_lag >= 0);
        if shards.iter().any(|(l, f, _)| *l >= 0 && l > f) {
            prop_assert!(summary.global_checkpoint_lag > 0, "{shards:?} -> {summary:?}");
        }
    }

    #[test]
    fn fuzz_the_bounded_body_never_holds_more_than_its_limit(
        limit in 0usize..4096,
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1024), 0..16),
    ) {
        let mut body = BoundedBody::new(limit);
        let mut fed = Vec::new();
        let mut complete = true;
        for c in &chunks {
            fed.extend_from_slice(c);
            if !body.push(c) {
                complete = false;
                break;
            }
        }
        let got = body.into_inner();
        prop_assert!(got.len() <= limit);
        prop_assert!(got.capacity() <= limit, "capacity {} over limit {limit}", got.capacity());
        prop_assert_eq!(complete, fed.len() <= limit);
        prop_assert_eq!(&got[..], &fed[..got.len()]);
    }

    #[test]
    fn fuzz_arbitrary_text_never_panics_the_config_loader(text in any::<String>()) {
        let _ = ccr_sentinel::config::from_toml_str(&text);
    }

    #[test]
    fn fuzz_structured_config_mutations_never_panic_the_loader(
        lines in proptest::collection::vec(arb_config_line(), 0..24),
    ) {
        let _ = ccr_sentinel::config::from_toml_str(&lines.join("\n"));
    }

    #[test]
    fn fuzz_example_config_with_values_replaced_never_panics_the_loader(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), arb_toml_value()), 1..6),
    ) {
        let example = example_config();
        let mut lines: Vec<String> = example.lines().map(str::to_string).collect();
        let assignments: Vec<usize> = (0..lines.len())
            .filter(|&i| is_mutable_assignment(&lines[i]))
            .collect();
        for (at, value) in &edits {
            let i = assignments[at.index(assignments.len())];
            let key = lines[i].split('=').next().unwrap().trim().to_string();
            lines[i] = format!("{key} = {value}");
        }
        let _ = ccr_sentinel::config::from_toml_str(&lines.join("\n"));
    }
}

fn example_config() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config/ccr-sentinel.example.toml"),
        )
        .unwrap()
    })
}

/// A `key = value` line of the example that may be rewritten: not one that names a directory the loader would
/// create (`state_dir`) or a file outside the test.
fn is_mutable_assignment(line: &str) -> bool {
    let t = line.trim_start();
    !t.starts_with('#')
        && t.contains(" = ")
        && !t.starts_with("state_dir")
        && !t.starts_with("file")
}

/// Every key the configuration knows, except `state_dir` (validation creates that directory).
fn config_keys() -> Vec<&'static str> {
    ccr_sentinel::config::schema::all_keys()
        .into_iter()
        .filter(|k| *k != "state_dir")
        .collect()
}

/// Every table header the configuration knows, plus two it does not (a table where named tables belong, a
/// nested one).
fn sections() -> Vec<String> {
    let mut out: Vec<String> = ccr_sentinel::config::schema::TABLES
        .iter()
        .filter(|t| !t.is_empty())
        .flat_map(|t| match (t.strip_suffix(".*"), t.strip_suffix("[]")) {
            (Some(named), _) => vec![format!("[{named}.leader]"), format!("[{named}.follower]")],
            (_, Some(array)) => vec![format!("[[{array}]]")],
            _ => vec![format!("[{t}]")],
        })
        .collect();
    out.extend([
        "[clusters]".to_string(),
        "[followers.parameters]".to_string(),
    ]);
    out
}

fn arb_toml_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<String>().prop_map(|s| format!("{s:?}")),
        proptest::sample::select(
            &[
                "\"10s\"",
                "\"0s\"",
                "\"99999999999999999999h\"",
                "\"*/15 * * * * *\"",
                "\"bad cron\"",
                "\"64mb\"",
                "\"0b\"",
                "\"18446744073709551615pb\"",
                "\"http://127.0.0.1:1\"",
                "\"https://u:p@h\"",
                "\"/dev/zero\"",
                "\"\"",
                "\"follower\"",
                "\"leader\"",
                "\"sniff\"",
                "\"proxy\"",
                "\"127.0.0.1:9300\"",
                "1e400",
                "-0",
                "nan",
                "inf",
                "\"{{leader_index}}\"",
            ][..]
        )
        .prop_map(str::to_string),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| format!("[{}]", v.join(", "))),
            proptest::collection::vec((proptest::sample::select(config_keys()), inner), 0..4)
                .prop_map(|kv| {
                    let kv: Vec<String> =
                        kv.into_iter().map(|(k, v)| format!("{k} = {v}")).collect();
                    format!("{{ {} }}", kv.join(", "))
                }),
        ]
    })
}

fn arb_config_line() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => proptest::sample::select(sections()),
        3 => (proptest::sample::select(config_keys()), arb_toml_value())
            .prop_map(|(k, v)| format!("{k} = {v}")),
    ]
}

#[test]
fn fuzz_deep_nesting_and_huge_numbers_are_errors_not_crashes() {
    let deep = "[".repeat(100_000);
    assert!(serde_json::from_str::<CcrStatsResponse>(&deep).is_err());
    let deep_obj = format!(
        "{}{}",
        r#"{"follow_stats":"#.repeat(50_000),
        "}".repeat(50_000)
    );
    assert!(serde_json::from_str::<CcrStatsResponse>(&deep_obj).is_err());
    let huge = String::from_utf8(serde_json::to_vec(&ccr_stats_with(&[(0, 0, 0)], None)).unwrap())
        .unwrap()
        .replace(
            r#""leader_global_checkpoint":0"#,
            &format!(r#""leader_global_checkpoint":1{}"#, "0".repeat(400)),
        );
    assert!(serde_json::from_str::<CcrStatsResponse>(&huge).is_err());
    let deep_toml = format!("[health]\nmax_lag_operations = {}", "[".repeat(100_000));
    assert!(ccr_sentinel::config::from_toml_str(&deep_toml).is_err());
    let deep_inline = format!("x = {}", "{ a = ".repeat(20_000));
    assert!(ccr_sentinel::config::from_toml_str(&deep_inline).is_err());
}
