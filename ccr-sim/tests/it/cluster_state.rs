//! What Elasticsearch's own CCR REST tests rely on: `GET /_cluster/state` with its metric and
//! index filters, `GET /_nodes` with each node's addresses, and a cluster that follows itself
//! through a remote alias pointing at its own transport address (the classic `local` remote).

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

const VERSIONS: [&str; 5] = ["6.8.23", "7.10.2", "7.17.0", "8.15.0", "9.1.0"];

#[tokio::test]
async fn cluster_state_shows_nodes_and_metadata() {
    for v in VERSIONS {
        let (sim, c, u) = one_with_client(v).await;
        ok(
            &c,
            "PUT",
            &format!("{u}/myindex"),
            Some(json!({"settings": {"index.soft_deletes.enabled": true, "number_of_shards": 2}})),
        )
        .await;
        ok(&c, "PUT", &format!("{u}/shut"), None).await;
        ok(&c, "POST", &format!("{u}/shut/_close"), None).await;

        let s = ok(&c, "GET", &format!("{u}/_cluster/state"), None).await;
        assert_eq!(s["cluster_name"], "a", "{v}: {s}");
        let uuid = s["cluster_uuid"].as_str().unwrap();
        assert_eq!(s["metadata"]["cluster_uuid"], uuid);
        assert!(s["version"].as_u64().is_some(), "{s}");
        let master = s["master_node"].as_str().unwrap().to_string();
        let node = &s["nodes"][&master];
        assert_eq!(node["transport_address"], sim.transport_address("a"), "{s}");
        assert_eq!(node["name"], "a-node-0");
        assert!(node["ephemeral_id"].is_string() && node["attributes"].is_object());
        assert_eq!(
            node["roles"].is_array(),
            !v.starts_with(['6', '7']),
            "{v}: {node}"
        );
        let idx = &s["metadata"]["indices"]["myindex"];
        assert_eq!(idx["state"], "open", "{s}");
        // Settings nested, as the cluster state renders them.
        assert_eq!(
            idx["settings"]["index"]["soft_deletes"]["enabled"], "true",
            "{s}"
        );
        assert_eq!(idx["settings"]["index"]["number_of_shards"], "2");
        assert!(
            idx["mappings"].is_object() && idx["aliases"].is_array(),
            "{idx}"
        );
        assert_eq!(s["metadata"]["indices"]["shut"]["state"], "close");
        assert_eq!(
            s["blocks"]["indices"]["shut"]["4"]["description"], "index closed",
            "{s}"
        );
        let shards = &s["routing_table"]["indices"]["myindex"]["shards"];
        assert_eq!(shards["1"][0]["state"], "STARTED", "{s}");
        assert_eq!(shards["1"][0]["node"], master.as_str());

        // Metric and index filters; flat settings.
        let s = ok(
            &c,
            "GET",
            &format!("{u}/_cluster/state/metadata/myindex?flat_settings=true"),
            None,
        )
        .await;
        let keys: Vec<&String> = s.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            vec!["cluster_name", "cluster_uuid", "metadata"],
            "{v}: {s}"
        );
        let indices: Vec<&String> = s["metadata"]["indices"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(indices, vec!["myindex"]);
        assert_eq!(
            s["metadata"]["indices"]["myindex"]["settings"]["index.soft_deletes.enabled"],
            "true"
        );
        let s = ok(
            &c,
            "GET",
            &format!("{u}/_cluster/state/master_node,nodes"),
            None,
        )
        .await;
        let keys: Vec<&String> = s.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            vec!["cluster_name", "cluster_uuid", "master_node", "nodes"],
            "{v}: {s}"
        );
        // Wildcards expand to open indices unless expand_wildcards says otherwise; missing
        // names are skipped (the request's lenient defaults).
        let s = ok(
            &c,
            "GET",
            &format!("{u}/_cluster/state/metadata/*,missing"),
            None,
        )
        .await;
        let indices: Vec<&String> = s["metadata"]["indices"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(indices, vec!["myindex"], "{v}: {s}");
        let s = ok(
            &c,
            "GET",
            &format!("{u}/_cluster/state/metadata/*?expand_wildcards=all"),
            None,
        )
        .await;
        assert_eq!(
            s["metadata"]["indices"].as_object().unwrap().len(),
            2,
            "{s}"
        );

        // wait_for_metadata_version: reached answers with the state, beyond answers timed out.
        let version = ok(&c, "GET", &format!("{u}/_cluster/state/version"), None).await["version"]
            .as_u64()
            .unwrap();
        let s = ok(
            &c,
            "GET",
            &format!("{u}/_cluster/state/metadata?wait_for_metadata_version={version}"),
            None,
        )
        .await;
        assert_eq!(s["wait_for_timed_out"], false, "{s}");
        assert!(s["metadata"].is_object());
        let s = ok(
            &c,
            "GET",
            &format!(
                "{u}/_cluster/state/metadata?wait_for_metadata_version={}&wait_for_timeout=1s",
                version + 100
            ),
            None,
        )
        .await;
        assert_eq!(s, json!({"wait_for_timed_out": true, "cluster_name": "a"}));
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn nodes_info_shows_addresses_and_filters() {
    for v in VERSIONS {
        let (sim, c, u) = one_with_client(v).await;
        let all = ok(&c, "GET", &format!("{u}/_nodes"), None).await;
        assert_eq!(all["_nodes"]["total"], 1);
        let (id, node) = all["nodes"].as_object().unwrap().iter().next().unwrap();
        assert_eq!(node["transport_address"], sim.transport_address("a"));
        assert_eq!(
            node["http"]["publish_address"],
            sim.http_addr("a").unwrap().to_string(),
            "{v}: {node}"
        );
        assert_eq!(
            node["transport"]["publish_address"],
            sim.transport_address("a")
        );

        // A metric filter keeps the node's identity and only that section.
        let http = ok(&c, "GET", &format!("{u}/_nodes/http"), None).await;
        let n = &http["nodes"][id];
        assert!(
            n["http"].is_object() && n.get("transport").is_none(),
            "{v}: {n}"
        );
        assert_eq!(n["transport_address"], sim.transport_address("a"));
        let tr = ok(&c, "GET", &format!("{u}/_nodes/transport"), None).await;
        assert!(tr["nodes"][id]["transport"].is_object() && tr["nodes"][id].get("http").is_none());

        // Node filters.
        for filter in ["_local", "_master", "_all", id.as_str(), "a-node-*"] {
            let b = ok(&c, "GET", &format!("{u}/_nodes/{filter}/http"), None).await;
            assert_eq!(b["_nodes"]["total"], 1, "{filter}: {b}");
        }
        let none = ok(&c, "GET", &format!("{u}/_nodes/other-node"), None).await;
        assert_eq!(none["_nodes"]["total"], 0, "{none}");
        assert_eq!(none["nodes"], json!({}));
        // Unknown metrics are disregarded (RestNodesInfoAction's lenience).
        let b = ok(&c, "GET", &format!("{u}/_nodes/_all/bogus,http"), None).await;
        let n = &b["nodes"][id];
        assert!(
            n["http"].is_object() && n.get("settings").is_none(),
            "{v}: {b}"
        );
        let b = ok(
            &c,
            "GET",
            &format!("{u}/_nodes/_local/info/transport"),
            None,
        )
        .await;
        assert!(b["nodes"][id]["transport"].is_object(), "{v}: {b}");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn nodes_info_has_the_shape_of_the_spec_example() {
    let (sim, c, u) = one_with_client("9.1.0").await;
    let b = ok(&c, "GET", &format!("{u}/_nodes/plugins"), None).await;
    let ours = b["nodes"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    let spec = fixture("nodes_info_plugins_response_9x.json");
    let theirs = spec["nodes"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert_same_shape(&ours, &theirs, "nodes.<id>");
    sim.shutdown().await;
}

/// Registers the cluster's own transport address as remote `local`, the way ES's CCR REST
/// tests find it: `master_node` from the cluster state, its `transport_address` from `_nodes`.
async fn register_local(c: &reqwest::Client, u: &str) {
    let state = ok(c, "GET", &format!("{u}/_cluster/state"), None).await;
    let master = state["master_node"].as_str().unwrap().to_string();
    let nodes = ok(c, "GET", &format!("{u}/_nodes"), None).await;
    let addr = nodes["nodes"][&master]["transport_address"]
        .as_str()
        .unwrap()
        .to_string();
    add_remote(c, u, "local", &addr).await;
}

async fn put_doc(c: &reqwest::Client, u: &str, index: &str, id: &str) {
    let (st, b) = call(
        c,
        "PUT",
        &format!("{u}/{index}/_doc/{id}"),
        Some(json!({"n": id})),
    )
    .await;
    assert_eq!(st, 201, "{b}");
}

async fn count(c: &reqwest::Client, u: &str, index: &str) -> Value {
    ok(c, "GET", &format!("{u}/{index}/_count"), None).await["count"].clone()
}

#[tokio::test]
async fn a_cluster_follows_itself_through_the_local_remote() {
    for v in ["6.8.23", "7.17.0", "8.15.0", "9.1.0"] {
        let (sim, c, u) = one_with_client(v).await;
        register_local(&c, &u).await;
        let info = ok(&c, "GET", &format!("{u}/_remote/info"), None).await;
        assert_eq!(info["local"]["connected"], true, "{v}: {info}");

        ok(
            &c,
            "PUT",
            &format!("{u}/leader_index"),
            Some(json!({"settings": {"index.soft_deletes.enabled": true}})),
        )
        .await;
        for i in 0..3 {
            put_doc(&c, &u, "leader_index", &i.to_string()).await;
        }
        let r = ok(
            &c,
            "PUT",
            &format!("{u}/follower_index/_ccr/follow?wait_for_active_shards=1"),
            Some(json!({"remote_cluster": "local", "leader_index": "leader_index"})),
        )
        .await;
        assert_eq!(r["index_following_started"], true, "{v}: {r}");
        put_doc(&c, &u, "leader_index", "3").await;
        eventually(Duration::from_secs(20), "the local follower", || {
            let (c, u) = (c.clone(), u.clone());
            async move { (count(&c, &u, "follower_index").await == json!(4)).then_some(()) }
        })
        .await;
        let stats = ok(&c, "GET", &format!("{u}/follower_index/_ccr/stats"), None).await;
        let shard = &stats["indices"][0]["shards"][0];
        assert_eq!(shard["remote_cluster"], "local", "{stats}");
        assert_eq!(shard["leader_index"], "leader_index");
        let info = ok(&c, "GET", &format!("{u}/follower_index/_ccr/info"), None).await;
        assert_eq!(info["follower_indices"][0]["status"], "active", "{info}");

        // The follower holds a retention lease on its leader in the same cluster; pause,
        // close, unfollow, and forget_follower removes it.
        let leases = |c: reqwest::Client, u: String| async move {
            ok(&c, "GET", &format!("{u}/_sim/state"), None).await["indices"]["leader_index"]
                ["retention_leases"]
                .clone()
        };
        assert_eq!(leases(c.clone(), u.clone()).await, 1);
        let follower_uuid = ok(
            &c,
            "GET",
            &format!("{u}/follower_index/_settings?flat_settings=true"),
            None,
        )
        .await["follower_index"]["settings"]["index.uuid"]
            .as_str()
            .unwrap()
            .to_string();
        ok(
            &c,
            "POST",
            &format!("{u}/follower_index/_ccr/pause_follow"),
            None,
        )
        .await;
        ok(&c, "POST", &format!("{u}/follower_index/_close"), None).await;
        // Forget first (the lease of a paused follower stays until forgotten or unfollowed).
        let forgot = ok(
            &c,
            "POST",
            &format!("{u}/leader_index/_ccr/forget_follower"),
            Some(json!({
                "follower_cluster": "a",
                "follower_index": "follower_index",
                "follower_index_uuid": follower_uuid,
                "leader_remote_cluster": "local"
            })),
        )
        .await;
        assert_eq!(forgot["_shards"]["failed"], 0, "{v}: {forgot}");
        assert_eq!(forgot["_shards"]["successful"], forgot["_shards"]["total"]);
        assert_eq!(leases(c.clone(), u.clone()).await, 0);
        ok(
            &c,
            "POST",
            &format!("{u}/follower_index/_ccr/unfollow"),
            None,
        )
        .await;
        ok(&c, "POST", &format!("{u}/follower_index/_open"), None).await;
        let (st, b) = call(
            &c,
            "PUT",
            &format!("{u}/follower_index/_doc/own"),
            Some(json!({"n": 9})),
        )
        .await;
        assert_eq!(st, 201, "{v}: {b}");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn auto_follow_through_the_local_remote() {
    for v in ["7.17.0", "8.15.0"] {
        let (sim, c, u) = one_with_client(v).await;
        register_local(&c, &u).await;
        ok(
            &c,
            "PUT",
            &format!("{u}/_ccr/auto_follow/logs"),
            Some(json!({
                "remote_cluster": "local",
                "leader_index_patterns": ["logs-*"],
                "follow_index_pattern": "copy-{{leader_index}}"
            })),
        )
        .await;
        ok(&c, "PUT", &format!("{u}/logs-1"), None).await;
        put_doc(&c, &u, "logs-1", "1").await;
        eventually(Duration::from_secs(20), "the auto-followed copy", || {
            let (c, u) = (c.clone(), u.clone());
            async move {
                let (st, b) = call(&c, "GET", &format!("{u}/copy-logs-1/_count"), None).await;
                (st == 200 && b["count"] == 1).then_some(())
            }
        })
        .await;
        let stats = ok(&c, "GET", &format!("{u}/_ccr/stats"), None).await;
        assert_eq!(
            stats["auto_follow_stats"]["number_of_successful_follow_indices"], 1,
            "{v}: {stats}"
        );
        // The copy does not match the pattern, so nothing follows it in turn.
        let s = ok(&c, "GET", &format!("{u}/_cluster/state/metadata"), None).await;
        let mut names: Vec<&String> = s["metadata"]["indices"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        names.sort();
        assert_eq!(names, vec!["copy-logs-1", "logs-1"], "{s}");
        // The follower shows its CCR metadata in the cluster state.
        let ccr = &s["metadata"]["indices"]["copy-logs-1"]["ccr"];
        assert_eq!(ccr["leader_index_name"], "logs-1", "{s}");
        assert_eq!(ccr["remote_cluster_name"], "local");
        sim.shutdown().await;
    }
}
