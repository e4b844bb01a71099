//! Fault injection through the `/_sim/` control API and the Rust API, on a deterministic clock
//! so every step is exact.

use std::time::{Duration, Instant};

use crate::common::*;
use ccr_sim::{HttpFaults, Scenario, Sim};
use serde_json::{json, Value};

struct Env {
    sim: Sim,
    c: reqwest::Client,
    l: String,
    f: String,
}

impl Env {
    /// Leader `logs` (given shards) followed as `logs_copy` through alias `leader`.
    async fn new(shards: usize, follow_body: Value) -> Self {
        let (sim, c, l, f) = pair_with_remote(None, true).await;
        sim.cluster("leader").create_index("logs", shards).unwrap();
        let mut body = follow_body;
        body["remote_cluster"] = json!("leader");
        body["leader_index"] = json!("logs");
        ok(&c, "PUT", &format!("{f}/logs_copy/_ccr/follow"), Some(body)).await;
        // Past the restore window: the shard tasks exist from here on.
        sim.advance(Duration::from_millis(50)).unwrap();
        Env { sim, c, l, f }
    }

    async fn post(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        call(&self.c, "POST", &format!("{}{path}", self.f), body).await
    }

    async fn stats(&self) -> Value {
        ok(
            &self.c,
            "GET",
            &format!("{}/logs_copy/_ccr/stats", self.f),
            None,
        )
        .await
    }

    async fn shard(&self, n: usize) -> Value {
        self.stats().await["indices"][0]["shards"][n].clone()
    }

    fn advance(&self, ms: u64) {
        self.sim.advance(Duration::from_millis(ms)).unwrap();
    }

    fn follower_docs(&self) -> u64 {
        self.sim.cluster("follower").doc_count("logs_copy").unwrap()
    }
}

#[tokio::test]
async fn disconnect_and_reconnect_remote() {
    let e = Env::new(1, json!({})).await;
    let (st, _) = e.post("/_sim/remote/leader/disconnect", None).await;
    assert_eq!(st, 200);
    let (_, info) = call(&e.c, "GET", &format!("{}/_remote/info", e.f), None).await;
    assert_eq!(info["leader"]["connected"], false);
    assert_eq!(info["leader"]["num_nodes_connected"], 0);
    e.sim.cluster("leader").index_docs("logs", 10).unwrap();
    e.advance(2_000);
    let s = e.shard(0).await;
    assert_eq!(s["follower_global_checkpoint"], -1, "{s}");
    assert!(s["failed_read_requests"].as_u64().unwrap() >= 2, "{s}");
    assert_eq!(
        s["read_exceptions"][0]["exception"]["type"], "connect_transport_exception",
        "{s}"
    );
    assert_eq!(s["read_exceptions"][0]["from_seq_no"], 0);
    assert!(
        s["time_since_last_read_millis"].as_i64().unwrap() >= 2_000,
        "{s}"
    );
    assert_eq!(e.follower_docs(), 0);
    // The follower only knows the last leader checkpoint it saw; the simulator knows the truth.
    let s = e.stats().await;
    assert_eq!(s["indices"][0]["total_global_checkpoint_lag"], 0);
    let state = e.sim.cluster("follower").state();
    assert_eq!(state["followers"]["logs_copy"]["lag"], 10, "{state}");
    assert_eq!(state["followers"]["logs_copy"]["leader_docs"], 10);
    assert_eq!(
        state["followers"]["logs_copy"]["shards"][0]["leader_max_seq_no"],
        9
    );
    // Resume while disconnected: the license state of the remote is unknown.
    let (st, b) = e.post("/logs_copy/_ccr/resume_follow", None).await;
    assert_error_type((st, &b), 400, "status_exception");

    let (st, _) = e.post("/_sim/remote/leader/connect", None).await;
    assert_eq!(st, 200);
    e.advance(500);
    let s = e.shard(0).await;
    assert_eq!(s["follower_global_checkpoint"], 9, "{s}");
    assert_eq!(s["read_exceptions"], json!([]));
    assert_eq!(e.follower_docs(), 10);
    let (_, info) = call(&e.c, "GET", &format!("{}/_remote/info", e.f), None).await;
    assert_eq!(info["leader"]["connected"], true);
}

#[tokio::test]
async fn isolated_leader_looks_unreachable() {
    let e = Env::new(1, json!({})).await;
    e.sim.cluster("leader").isolate().unwrap();
    let (_, info) = call(&e.c, "GET", &format!("{}/_remote/info", e.f), None).await;
    assert_eq!(info["leader"]["connected"], false);
    e.sim.cluster("leader").rejoin().unwrap();
    let (_, info) = call(&e.c, "GET", &format!("{}/_remote/info", e.f), None).await;
    assert_eq!(info["leader"]["connected"], true);
}

#[tokio::test]
async fn stopped_cluster_resets_connections_and_is_unreachable() {
    let e = Env::new(1, json!({})).await;
    ok(&e.c, "POST", &format!("{}/_sim/stop", e.l), None).await;
    assert!(
        e.c.get(format!("{}/", e.l)).send().await.is_err(),
        "requests to a stopped cluster fail"
    );
    let (_, info) = call(&e.c, "GET", &format!("{}/_remote/info", e.f), None).await;
    assert_eq!(info["leader"]["connected"], false);
    let (st, state) = call(&e.c, "GET", &format!("{}/_sim/state", e.l), None).await;
    assert_eq!(
        (st, state["cluster"]["stopped"].clone()),
        (200, json!(true))
    );
    e.sim.cluster("leader").start().unwrap();
    ok(&e.c, "GET", &format!("{}/", e.l), None).await;
    let (_, info) = call(&e.c, "GET", &format!("{}/_remote/info", e.f), None).await;
    assert_eq!(info["leader"]["connected"], true);
}

#[tokio::test]
async fn fatal_exception_stops_the_task_until_pause_and_resume() {
    let e = Env::new(2, json!({})).await;
    let (st, b) = e
        .post("/_sim/follower/logs_copy/fatal", Some(json!({"shard": 1})))
        .await;
    assert_eq!(st, 200, "{b}");
    e.sim.cluster("leader").index_docs("logs", 40).unwrap();
    e.advance(1_000);
    let s1 = e.shard(1).await;
    assert_eq!(
        s1["fatal_exception"]["type"], "illegal_state_exception",
        "{s1}"
    );
    assert_eq!(s1["operations_written"], 0);
    let s0 = e.shard(0).await;
    assert!(s0.get("fatal_exception").is_none());
    assert!(s0["operations_written"].as_u64().unwrap() > 0);
    assert!(e.follower_docs() < 40);
    // Still listed as active; only pause + resume clears it.
    let (_, info) = call(&e.c, "GET", &format!("{}/logs_copy/_ccr/info", e.f), None).await;
    assert_eq!(info["follower_indices"][0]["status"], "active");
    e.post("/logs_copy/_ccr/pause_follow", None).await;
    let (st, _) = e.post("/logs_copy/_ccr/resume_follow", None).await;
    assert_eq!(st, 200);
    e.advance(500);
    assert!(e.shard(1).await.get("fatal_exception").is_none());
    assert_eq!(e.follower_docs(), 40);
    // Unknown follower: a 404 from the control plane.
    let (st, _) = e.post("/_sim/follower/nope/fatal", None).await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn transient_read_exceptions_are_retried() {
    let e = Env::new(1, json!({})).await;
    let (st, _) = e
        .post(
            "/_sim/follower/logs_copy/read_exceptions",
            Some(json!({"count": 3})),
        )
        .await;
    assert_eq!(st, 200);
    e.sim.cluster("leader").index_docs("logs", 5).unwrap();
    e.advance(100);
    let s = e.shard(0).await;
    assert_eq!(s["read_exceptions"][0]["retries"], 1, "{s}");
    assert_eq!(
        s["read_exceptions"][0]["exception"]["type"],
        "es_rejected_execution_exception"
    );
    e.advance(3_000);
    let s = e.shard(0).await;
    assert_eq!(s["failed_read_requests"], 3, "{s}");
    assert_eq!(s["read_exceptions"], json!([]));
    assert_eq!(s["follower_global_checkpoint"], 4);
    assert!(s.get("fatal_exception").is_none());
}

impl Env {
    /// The follower's document count as each of its APIs shows it: `_count`, `_cat/indices`
    /// `docs.count`, `_stats/docs` (index and `_all`) and `_search` `hits.total`, with the
    /// number of `_search` hits.
    async fn follower_counts(&self) -> [u64; 6] {
        let get = |path: &str| {
            let url = format!("{}{path}", self.f);
            async move {
                let (st, b) = call(&self.c, "GET", &url, None).await;
                assert_eq!(st, 200, "{url}: {b}");
                b
            }
        };
        let count = get("/logs_copy/_count").await;
        let cat = get("/_cat/indices/logs_copy?format=json&h=index,docs.count").await;
        let stats = get("/logs_copy/_stats/docs").await;
        let search = get("/logs_copy/_search?size=100").await;
        let n = |v: &Value| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .unwrap_or_else(|| panic!("not a count: {v}"))
        };
        [
            n(&count["count"]),
            n(&cat[0]["docs.count"]),
            n(&stats["indices"]["logs_copy"]["primaries"]["docs"]["count"]),
            n(&stats["_all"]["primaries"]["docs"]["count"]),
            n(&search["hits"]["total"]["value"]),
            search["hits"]["hits"]
                .as_array()
                .map_or(0, |h| h.len() as u64),
        ]
    }
}

#[tokio::test]
async fn drift_moves_the_follower_counts_but_not_the_checkpoints() {
    let e = Env::new(2, json!({})).await;
    e.sim.cluster("leader").index_docs("logs", 10).unwrap();
    e.advance(500);
    assert_eq!(e.follower_counts().await, [10; 6]);
    let before = e.stats().await;

    let (st, b) = e
        .post("/_sim/follower/logs_copy/drift", Some(json!({"docs": -3})))
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(e.follower_counts().await, [7; 6]);
    assert_eq!(e.follower_docs(), 7);
    // CCR cannot see it: checkpoints, lag and the leader are as before.
    e.advance(500);
    let after = e.stats().await;
    for s in 0..2 {
        for k in ["follower_global_checkpoint", "leader_global_checkpoint"] {
            assert_eq!(
                after["indices"][0]["shards"][s][k], before["indices"][0]["shards"][s][k],
                "{k}"
            );
        }
    }
    assert_eq!(after["indices"][0]["total_global_checkpoint_lag"], 0);
    assert_eq!(e.sim.cluster("leader").doc_count("logs"), Some(10));
    let (_, state) = call(&e.c, "GET", &format!("{}/_sim/state", e.f), None).await;
    let fol = &state["followers"]["logs_copy"];
    assert_eq!(
        (
            fol["follower_docs"].clone(),
            fol["leader_docs"].clone(),
            fol["lag"].clone()
        ),
        (json!(7), json!(10), json!(0)),
        "{fol}"
    );
    assert_eq!(state["indices"]["logs_copy"]["docs"], 7);
    assert_eq!(state["faults"]["doc_drift"], json!({"logs_copy": -3}));

    // Replication goes on under the drift.
    e.sim.cluster("leader").index_docs("logs", 5).unwrap();
    e.advance(500);
    assert_eq!(e.follower_counts().await, [12; 6]);

    // More documents than replicated: counts only (the extra documents have no source to return).
    e.sim
        .cluster("follower")
        .drift_docs("logs_copy", 2)
        .unwrap();
    assert_eq!(e.follower_counts().await, [17, 17, 17, 17, 17, 15]);
    ok(&e.c, "DELETE", &format!("{}/_sim/faults", e.f), None).await;
    assert_eq!(e.follower_counts().await, [15; 6]);
    // Never below zero; `{"docs": 0}` clears.
    e.post(
        "/_sim/follower/logs_copy/drift",
        Some(json!({"docs": -100})),
    )
    .await;
    assert_eq!(e.follower_counts().await, [0; 6]);
    e.post("/_sim/follower/logs_copy/drift", Some(json!({"docs": 0})))
        .await;
    assert_eq!(e.follower_counts().await, [15; 6]);
    assert_eq!(
        e.sim.cluster("follower").state()["faults"]["doc_drift"],
        json!({})
    );

    // Only followers drift; bad bodies are refused.
    let (st, b) = call(
        &e.c,
        "POST",
        &format!("{}/_sim/follower/logs/drift", e.l),
        Some(json!({"docs": -1})),
    )
    .await;
    assert_eq!(st, 400, "{b}");
    assert!(
        b["error"].as_str().unwrap().contains("not a follower"),
        "{b}"
    );
    let (st, b) = e
        .post("/_sim/follower/nope/drift", Some(json!({"docs": -1})))
        .await;
    assert_error_type((st, &b), 404, "index_not_found_exception");
    for body in [
        json!({}),
        json!({"docs": "many"}),
        json!({"docs": -1, "shard": 0}),
    ] {
        let (st, b) = e.post("/_sim/follower/logs_copy/drift", Some(body)).await;
        assert_eq!(st, 400, "{b}");
    }
    assert!(e
        .sim
        .cluster("follower")
        .drift_docs("logs_copy", 2_000_000_000)
        .is_err());

    // A scenario drifts the same way.
    let scenario = Scenario::from_toml_str(
        "[[event]]\nat = \"1s\"\ncluster = \"follower\"\naction = \"drift\"\nindex = \"logs_copy\"\ndocs = -4\n",
    )
    .unwrap();
    e.sim.run_scenario(&scenario).unwrap();
    e.advance(1_000);
    assert_eq!(e.follower_docs(), 11);
    // A deleted follower takes its drift with it.
    e.sim.cluster("follower").delete_index("logs_copy").unwrap();
    assert_eq!(
        e.sim.cluster("follower").state()["faults"]["doc_drift"],
        json!({})
    );
}

#[tokio::test]
async fn retention_lease_loss_makes_a_lagging_follower_fail() {
    let e = Env::new(1, json!({})).await;
    e.sim
        .cluster("follower")
        .disconnect_remote("leader")
        .unwrap();
    e.sim.cluster("leader").index_docs("logs", 10).unwrap();
    ok(
        &e.c,
        "POST",
        &format!("{}/_sim/leader/logs/retention_lease_loss", e.l),
        None,
    )
    .await;
    e.sim.cluster("follower").connect_remote("leader").unwrap();
    e.advance(200);
    let s = e.shard(0).await;
    assert_eq!(
        s["fatal_exception"]["type"], "resource_not_found_exception",
        "{s}"
    );
    assert!(s["fatal_exception"]["reason"]
        .as_str()
        .unwrap()
        .starts_with("Operations are no longer available for replicating"));
    // The history is gone: resuming does not help.
    e.post("/logs_copy/_ccr/pause_follow", None).await;
    e.post("/logs_copy/_ccr/resume_follow", None).await;
    e.advance(200);
    assert_eq!(
        e.shard(0).await["fatal_exception"]["type"],
        "resource_not_found_exception"
    );
}

#[tokio::test]
async fn leader_deletion_is_fatal_for_followers() {
    let e = Env::new(1, json!({})).await;
    ok(
        &e.c,
        "POST",
        &format!("{}/_sim/leader/logs/delete", e.l),
        None,
    )
    .await;
    e.advance(100);
    let s = e.shard(0).await;
    assert_eq!(
        s["fatal_exception"]["type"], "index_not_found_exception",
        "{s}"
    );
    assert_eq!(s["fatal_exception"]["reason"], "no such index [logs]");
    // Recreating the leader does not revive the follower: the UUID changed.
    e.sim.cluster("leader").create_index("logs", 1).unwrap();
    e.post("/logs_copy/_ccr/pause_follow", None).await;
    let (st, b) = e.post("/logs_copy/_ccr/resume_follow", None).await;
    assert_eq!(st, 400);
    assert!(
        b["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("as leader index but instead reference"),
        "{b}"
    );
}

#[tokio::test]
async fn license_change() {
    let e = Env::new(1, json!({})).await;
    let (st, _) = e
        .post(
            "/_sim/license",
            Some(json!({"type": "basic", "status": "active"})),
        )
        .await;
    assert_eq!(st, 200);
    let (st, b) = call(&e.c, "GET", &format!("{}/_ccr/stats", e.f), None).await;
    assert_eq!(
        (st, b["error"]["reason"].as_str()),
        (403, Some("current license is non-compliant for [ccr]"))
    );
    let (_, lic) = call(&e.c, "GET", &format!("{}/_license", e.f), None).await;
    assert_eq!(lic["license"]["type"], "basic");
    assert!(lic["license"].get("expiry_date_in_millis").is_none());
    let (st, _) = e
        .post(
            "/_sim/license",
            Some(json!({"type": "nonsense-field-missing-status"})),
        )
        .await;
    assert_eq!(st, 200, "status defaults to active");
    let (st, _) = e
        .post("/_sim/license", Some(json!({"status": "active"})))
        .await;
    assert_eq!(st, 400, "type is required");
}

#[tokio::test]
async fn latency_and_http_faults() {
    let e = Env::new(1, json!({})).await;
    e.post("/_sim/latency", Some(json!({"ms": 150}))).await;
    let start = Instant::now();
    ok(&e.c, "GET", &format!("{}/", e.f), None).await;
    assert!(start.elapsed() >= Duration::from_millis(150));
    e.post("/_sim/latency", Some(json!({"ms": 0}))).await;

    e.post("/_sim/http_faults", Some(json!({"error_rate": 1.0})))
        .await;
    let (st, b) = call(&e.c, "GET", &format!("{}/_ccr/stats", e.f), None).await;
    assert_error_type((st, &b), 503, "cluster_block_exception");
    // The control plane is never faulted.
    ok(&e.c, "GET", &format!("{}/_sim/state", e.f), None).await;

    e.sim
        .cluster("follower")
        .set_http_faults(HttpFaults {
            reset_rate: 1.0,
            ..Default::default()
        })
        .unwrap();
    let err = e.c.get(format!("{}/_ccr/stats", e.f)).send().await;
    let failed = match err {
        Err(_) => true,
        Ok(r) => r.text().await.is_err(),
    };
    assert!(failed, "a reset connection must fail the request");

    e.post("/_sim/http_faults", Some(json!({"malformed_rate": 1.0})))
        .await;
    let text = get_text(&e.c, &format!("{}/_ccr/stats", e.f)).await;
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    e.post("/_sim/http_faults", Some(json!({"truncated_rate": 1.0})))
        .await;
    let resp = e.c.get(format!("{}/_ccr/stats", e.f)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    assert!(
        !text.is_empty() && serde_json::from_str::<Value>(&text).is_err(),
        "{text}"
    );

    let (st, _) = call(
        &e.c,
        "POST",
        &format!("{}/_sim/http_faults", e.f),
        Some(json!({"error_rate": 2.0})),
    )
    .await;
    assert_eq!(st, 400);
    ok(&e.c, "DELETE", &format!("{}/_sim/faults", e.f), None).await;
    ok(&e.c, "GET", &format!("{}/_ccr/stats", e.f), None).await;
}

#[tokio::test]
async fn steady_writes_replicate_over_time() {
    let e = Env::new(
        1,
        json!({"max_read_request_operation_count": 1, "max_outstanding_read_requests": 1}),
    )
    .await;
    ok(
        &e.c,
        "POST",
        &format!("{}/_sim/writes/logs", e.l),
        Some(json!({"docs_per_second": 100})),
    )
    .await;
    e.advance(2_000);
    assert_eq!(e.sim.cluster("leader").doc_count("logs"), Some(200));
    // One op per request, one request in flight, 50 ms per round trip: 20 ops/s.
    let s = e.stats().await;
    let written = s["indices"][0]["shards"][0]["operations_written"]
        .as_u64()
        .unwrap();
    assert!((38..=42).contains(&written), "written {written}: {s}");
    let lag = s["indices"][0]["total_global_checkpoint_lag"]
        .as_i64()
        .unwrap();
    assert!(lag >= 150, "lag {lag}");
    assert_eq!(s["indices"][0]["shards"][0]["outstanding_read_requests"], 1);
    call(
        &e.c,
        "POST",
        &format!("{}/_sim/writes/logs", e.l),
        Some(json!({"docs_per_second": 0})),
    )
    .await;
    e.advance(10_000);
    assert_eq!(e.follower_docs(), 200);
    let s = e.shard(0).await;
    assert_eq!(s["follower_global_checkpoint"], 199);
    assert_eq!(s["successful_read_requests"].as_u64().unwrap(), 200);
    // Idle: time since last read grows up to read_poll_timeout (1m), then a new poll is sent.
    e.advance(30_000);
    let t = e.shard(0).await["time_since_last_read_millis"]
        .as_i64()
        .unwrap();
    assert!((30_000..60_000).contains(&t), "{t}");
    e.advance(31_000);
    let t = e.shard(0).await["time_since_last_read_millis"]
        .as_i64()
        .unwrap();
    assert!(t < 31_000, "{t}");
}

#[tokio::test]
async fn clock_advance_over_http() {
    let e = Env::new(1, json!({})).await;
    e.sim.cluster("leader").index_docs("logs", 3).unwrap();
    let before = e.sim.now_millis();
    let (st, _) = e
        .post("/_sim/clock/advance", Some(json!({"ms": 1000})))
        .await;
    assert_eq!(st, 200);
    assert_eq!(e.sim.now_millis(), before + 1000);
    assert_eq!(e.follower_docs(), 3);
    let (st, _) = e.post("/_sim/clock/advance", Some(json!({}))).await;
    assert_eq!(st, 400);
    // A day at once stays quick (bounded number of steps) and still replicates everything.
    e.sim.cluster("leader").set_writes("logs", 2.0).unwrap();
    let (st, _) = e
        .post("/_sim/clock/advance", Some(json!({"ms": 86_400_000u64})))
        .await;
    assert_eq!(st, 200);
    let leader_docs = e.sim.cluster("leader").doc_count("logs").unwrap();
    assert!(leader_docs >= 172_000, "{leader_docs}");
    assert_eq!(e.follower_docs(), leader_docs);
    let (st, _) = e
        .post(
            "/_sim/clock/advance",
            Some(json!({"ms": 31u64 * 86_400_000})),
        )
        .await;
    assert_eq!(st, 400);
    // Rates and counts beyond what the simulator can hold are refused.
    for (path, body) in [
        ("_sim/writes/logs", json!({"docs_per_second": 1e12})),
        ("_sim/docs/logs", json!({"count": 10_000_000u64})),
    ] {
        let (st, b) = call(&e.c, "POST", &format!("{}/{path}", e.l), Some(body)).await;
        assert_eq!(st, 400, "{path}: {b}");
    }

    let real = start_one("a", None).await;
    let (st, _) = call(
        &e.c,
        "POST",
        &format!("{}/_sim/clock/advance", real.url("a")),
        Some(json!({"ms": 5})),
    )
    .await;
    assert_eq!(st, 409);
    assert!(real.advance(Duration::from_millis(5)).is_err());
}

#[tokio::test]
async fn scenario_events_fire_on_the_clock() {
    let e = Env::new(1, json!({})).await;
    let scenario = Scenario::from_toml_str(
        r#"
[[event]]
at = "1s"
cluster = "leader"
action = "writes"
index = "logs"
docs_per_second = 10.0

[[event]]
at = "3s"
cluster = "follower"
action = "disconnect_remote"
alias = "leader"

[[event]]
at = "5s"
cluster = "follower"
action = "connect_remote"
alias = "leader"

[[event]]
at = "6s"
cluster = "leader"
action = "clear_faults"
"#,
    )
    .unwrap();
    e.sim.run_scenario(&scenario).unwrap();
    e.advance(2_000);
    assert_eq!(e.sim.cluster("leader").doc_count("logs"), Some(10));
    e.advance(2_000);
    let (_, info) = call(&e.c, "GET", &format!("{}/_remote/info", e.f), None).await;
    assert_eq!(info["leader"]["connected"], false);
    e.advance(3_000);
    let (_, info) = call(&e.c, "GET", &format!("{}/_remote/info", e.f), None).await;
    assert_eq!(info["leader"]["connected"], true);
    let leader_docs = e.sim.cluster("leader").doc_count("logs").unwrap();
    assert_eq!(leader_docs, 50);
    e.advance(1_000);
    assert_eq!(e.follower_docs(), 50);
    let state = e.sim.cluster("follower").state();
    assert_eq!(state["scenario"]["pending_events"], 0);
    assert_eq!(
        state["scenario"]["applied_events"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let bad = Scenario::from_toml_str(
        "[[event]]\nat = \"1s\"\ncluster = \"nobody\"\naction = \"isolate\"\n",
    )
    .unwrap();
    assert!(e.sim.run_scenario(&bad).is_err());
}

#[tokio::test]
async fn state_and_request_counters() {
    let e = Env::new(2, json!({})).await;
    e.sim.cluster("leader").index_docs("logs", 7).unwrap();
    e.advance(200);
    let state = ok(&e.c, "GET", &format!("{}/_sim/state", e.f), None).await;
    let fol = &state["followers"]["logs_copy"];
    assert_eq!(fol["status"], "active");
    assert_eq!(fol["leader_docs"], 7);
    assert_eq!(fol["follower_docs"], 7);
    assert_eq!(fol["lag"], 0);
    assert_eq!(state["remotes"]["leader"]["connected"], true);
    assert_eq!(state["remotes"]["leader"]["target_cluster"], "leader");
    assert_eq!(state["indices"]["logs_copy"]["docs"], 7);

    e.post("/_sim/requests/reset", None).await;
    call(&e.c, "GET", &format!("{}/_ccr/stats", e.f), None).await;
    call(&e.c, "GET", &format!("{}/_ccr/stats", e.f), None).await;
    e.post("/logs_copy/_ccr/pause_follow", None).await;
    let (_, r) = call(&e.c, "GET", &format!("{}/_sim/requests", e.f), None).await;
    assert_eq!(
        r,
        json!({"total": 3, "mutating": 1, "by_endpoint": {"GET /_ccr/stats": 2, "POST /{index}/_ccr/pause_follow": 1}})
    );
    assert_eq!(e.sim.cluster("follower").requests().total, 3);
}

#[tokio::test]
async fn auto_follow_follows_new_leader_indices() {
    let (sim, c, l, f) = pair_with_remote(Some("7.17.0"), true).await;
    sim.cluster("leader")
        .create_index("metrics-old", 1)
        .unwrap();
    ok(&c, "PUT", &format!("{f}/_ccr/auto_follow/metrics"), Some(json!({"remote_cluster": "leader", "leader_index_patterns": ["metrics-*"], "follow_index_pattern": "{{leader_index}}-copy"}))).await;
    sim.cluster("leader")
        .create_index("metrics-new", 1)
        .unwrap();
    sim.cluster("leader").index_docs("metrics-new", 4).unwrap();
    call(
        &c,
        "PUT",
        &format!("{l}/metrics-nosoft"),
        Some(json!({"settings": {"index.soft_deletes.enabled": false}})),
    )
    .await;
    sim.advance(Duration::from_millis(500)).unwrap();
    let (_, info) = call(&c, "GET", &format!("{f}/_all/_ccr/info"), None).await;
    let names: Vec<&str> = info["follower_indices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["follower_index"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["metrics-new-copy"],
        "existing indices are not followed"
    );
    assert_eq!(
        sim.cluster("follower").doc_count("metrics-new-copy"),
        Some(4)
    );
    let (_, stats) = call(&c, "GET", &format!("{f}/_ccr/stats"), None).await;
    let a = &stats["auto_follow_stats"];
    assert_eq!(a["number_of_successful_follow_indices"], 1, "{a}");
    assert_eq!(a["number_of_failed_follow_indices"], 1, "{a}");
    assert_eq!(
        a["recent_auto_follow_errors"][0]["leader_index"],
        "metrics-nosoft"
    );
    assert_eq!(
        a["recent_auto_follow_errors"][0]["auto_follow_exception"]["reason"],
        "leader index [metrics-nosoft] does not have soft deletes enabled"
    );

    // Paused patterns do not follow; resuming picks up what was created meanwhile.
    call(
        &c,
        "POST",
        &format!("{f}/_ccr/auto_follow/metrics/pause"),
        None,
    )
    .await;
    sim.cluster("leader")
        .create_index("metrics-later", 1)
        .unwrap();
    sim.advance(Duration::from_millis(500)).unwrap();
    assert_eq!(
        sim.cluster("follower").doc_count("metrics-later-copy"),
        None
    );
    call(
        &c,
        "POST",
        &format!("{f}/_ccr/auto_follow/metrics/resume"),
        None,
    )
    .await;
    sim.advance(Duration::from_millis(500)).unwrap();
    assert_eq!(
        sim.cluster("follower").doc_count("metrics-later-copy"),
        Some(0)
    );

    // An unreachable remote counts failed cluster-state requests.
    sim.cluster("follower").disconnect_remote("leader").unwrap();
    sim.advance(Duration::from_millis(2_500)).unwrap();
    let (_, stats) = call(&c, "GET", &format!("{f}/_ccr/stats"), None).await;
    assert!(
        stats["auto_follow_stats"]["number_of_failed_remote_cluster_state_requests"]
            .as_u64()
            .unwrap()
            >= 2,
        "{stats}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn real_clock_replicates_without_advance() {
    let (sim, _c, _l, _f) = pair_with_remote(None, false).await;
    sim.cluster("leader").create_index("a", 3).unwrap();
    sim.cluster("follower")
        .follow("a_copy", "leader", "a")
        .unwrap();
    sim.cluster("leader").index_docs("a", 30).unwrap();
    eventually(Duration::from_secs(5), "30 docs on the follower", || {
        let n = sim.cluster("follower").doc_count("a_copy");
        async move { (n == Some(30)).then_some(()) }
    })
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn demo_scenario_file_runs_cleanly() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/demo.toml");
    let scenario = Scenario::from_file(path).unwrap();
    let (sim, _c, _l, _f) = pair_with_remote(None, true).await;
    sim.cluster("leader").create_index("logs", 2).unwrap();
    sim.cluster("follower")
        .follow("logs-copy", "leader", "logs")
        .unwrap();
    sim.run_scenario(&scenario).unwrap();
    sim.advance(Duration::from_secs(330)).unwrap();
    let mut applied = 0;
    for name in ["leader", "follower"] {
        let state = sim.cluster(name).state();
        for ev in state["scenario"]["applied_events"].as_array().unwrap() {
            assert_eq!(ev["outcome"], "applied", "{ev}");
            applied += 1;
        }
    }
    // Both clusters see the same (simulator-wide) log.
    assert_eq!(applied, 2 * scenario.events.len());
    let f = sim.cluster("follower").state();
    assert_eq!(
        f["followers"]["logs-copy"]["shards"][0]["fatal_exception"]["type"],
        "illegal_state_exception"
    );
    sim.shutdown().await;
}
