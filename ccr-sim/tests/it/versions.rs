//! Response differences between Elasticsearch versions (contract §20).

use crate::common::*;
use ccr_sim::{Role, Security, Sim};
use serde_json::{json, Value};

/// A leader/follower pair on `version`, the follower knowing the leader as `leader`.
async fn pair(version: &str) -> (Sim, reqwest::Client, String, String) {
    pair_with_remote(Some(version), true).await
}

async fn follow_one(sim: &Sim, c: &reqwest::Client, l: &str, f: &str) {
    ok(
        c,
        "PUT",
        &format!("{l}/src"),
        Some(
            json!({"settings": {"index.soft_deletes.enabled": true, "index.number_of_shards": 1}}),
        ),
    )
    .await;
    ok(
        c,
        "PUT",
        &format!("{f}/dst/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": "src"})),
    )
    .await;
    // Past the restore window: the shard tasks exist from here on.
    sim.advance(std::time::Duration::from_millis(50)).unwrap();
}

#[tokio::test]
async fn product_header_from_7_14_and_content_type() {
    for (v, product, ctype) in [
        ("7.10.2", false, "application/json; charset=UTF-8"),
        ("7.14.0", true, "application/json; charset=UTF-8"),
        ("8.15.0", true, "application/json"),
        ("9.1.0", true, "application/json"),
    ] {
        let sim = start_one("a", Some(v)).await;
        let resp = client()
            .get(format!("{}/", sim.url("a")))
            .send()
            .await
            .unwrap();
        let h = resp.headers();
        assert_eq!(
            h.get("x-elastic-product")
                .map(|v| v.to_str().unwrap().to_string()),
            product.then(|| "Elasticsearch".to_string()),
            "{v}"
        );
        assert_eq!(
            h.get("content-type").unwrap().to_str().unwrap(),
            ctype,
            "{v}"
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn close_response_by_version() {
    for (v, full, warning) in [
        ("6.8.23", false, false),
        ("7.17.0", true, true),
        ("8.15.0", true, false),
    ] {
        let (sim, c, l, _f) = pair(v).await;
        call(&c, "PUT", &format!("{l}/x"), None).await;
        let resp = c.post(format!("{l}/x/_close")).send().await.unwrap();
        let has_warning = resp.headers().get("warning").is_some();
        let body: Value = resp.json().await.unwrap();
        if full {
            assert_eq!(
                body,
                json!({"acknowledged": true, "shards_acknowledged": true, "indices": {"x": {"closed": true}}}),
                "{v}"
            );
        } else {
            assert_eq!(body, json!({"acknowledged": true}), "{v}");
        }
        assert_eq!(has_warning, warning, "{v}");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn remote_info_by_version() {
    let (sim, c, _l, f) = pair("6.8.23").await;
    let (_, info) = call(&c, "GET", &format!("{f}/_remote/info"), None).await;
    let r = &info["leader"];
    assert_eq!(
        r["http_addresses"],
        json!([sim.http_addr("leader").unwrap().to_string()]),
        "{info}"
    );
    assert!(r.get("mode").is_none());
    assert_eq!(r["skip_unavailable"], false);
    sim.shutdown().await;

    let (sim, c, _l, f) = pair("7.6.2").await;
    let (_, info) = call(&c, "GET", &format!("{f}/_remote/info"), None).await;
    assert!(
        info["leader"].get("mode").is_none() && info["leader"].get("http_addresses").is_none(),
        "{info}"
    );
    let (st, b) = call(
        &c,
        "PUT",
        &format!("{f}/_cluster/settings"),
        Some(json!({"persistent": {"cluster.remote.p.mode": "proxy"}})),
    )
    .await;
    assert_eq!(
        (st, b["error"]["reason"].as_str()),
        (
            400,
            Some("persistent setting [cluster.remote.p.mode], not recognized")
        )
    );
    sim.shutdown().await;

    for (v, skip) in [("8.14.3", false), ("8.15.0", true)] {
        let (sim, c, _l, f) = pair(v).await;
        let (_, info) = call(&c, "GET", &format!("{f}/_remote/info"), None).await;
        assert_eq!(info["leader"]["mode"], "sniff");
        assert_eq!(info["leader"]["skip_unavailable"], skip, "{v}");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn follow_stats_fields_by_version() {
    for (v, aliases, lag) in [
        ("7.2.1", false, false),
        ("7.3.0", true, false),
        ("8.12.2", true, false),
        ("8.13.0", true, true),
    ] {
        let (sim, c, l, f) = pair(v).await;
        follow_one(&sim, &c, &l, &f).await;
        let (_, s) = call(&c, "GET", &format!("{f}/dst/_ccr/stats"), None).await;
        assert_eq!(
            s["indices"][0]["shards"][0]
                .get("follower_aliases_version")
                .is_some(),
            aliases,
            "{v}"
        );
        assert_eq!(
            s["indices"][0].get("total_global_checkpoint_lag").is_some(),
            lag,
            "{v}"
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn auto_follow_active_and_pause_from_7_5() {
    let (sim, c, _l, f) = pair("7.4.2").await;
    call(
        &c,
        "PUT",
        &format!("{f}/_ccr/auto_follow/p"),
        Some(json!({"remote_cluster": "leader", "leader_index_patterns": ["a*"]})),
    )
    .await;
    let (_, b) = call(&c, "GET", &format!("{f}/_ccr/auto_follow/p"), None).await;
    assert!(b["patterns"][0]["pattern"].get("active").is_none(), "{b}");
    let (st, b) = call(&c, "POST", &format!("{f}/_ccr/auto_follow/p/pause"), None).await;
    assert_eq!(st, 400);
    assert_eq!(
        b["error"],
        "no handler found for uri [/_ccr/auto_follow/p/pause] and method [POST]"
    );
    sim.shutdown().await;
    let (sim, c, _l, f) = pair("7.5.0").await;
    call(
        &c,
        "PUT",
        &format!("{f}/_ccr/auto_follow/p"),
        Some(json!({"remote_cluster": "leader", "leader_index_patterns": ["a*"]})),
    )
    .await;
    ok(&c, "POST", &format!("{f}/_ccr/auto_follow/p/pause"), None).await;
    let (_, b) = call(&c, "GET", &format!("{f}/_ccr/auto_follow/p"), None).await;
    assert_eq!(b["patterns"][0]["pattern"]["active"], false);
    assert!(
        b["patterns"][0]["pattern"]
            .get("leader_index_exclusion_patterns")
            .is_none(),
        "7.14+ only"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn pause_non_follower_message_before_7_6() {
    let (sim, c, l, _f) = pair("7.5.2").await;
    call(&c, "PUT", &format!("{l}/plain"), None).await;
    for idx in ["plain", "missing"] {
        expect_error(
            &c,
            "POST",
            &format!("{l}/{idx}/_ccr/pause_follow"),
            None,
            (
                400,
                "illegal_argument_exception",
                &format!("no shard follow tasks for [{idx}]"),
            ),
        )
        .await;
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn license_paths_by_version() {
    // On 6.x `GET /_license` falls to the `GET /{index}` handler: 404 index_not_found, one of
    // the answers the daemon's fallback to `/_xpack/license` must handle.
    for (v, license, xpack) in [
        ("6.8.23", 404, 200),
        ("7.17.0", 200, 200),
        ("8.15.0", 200, 400),
    ] {
        let (sim, c, u) = one_with_client(v).await;
        let (st, _) = call(&c, "GET", &format!("{u}/_license"), None).await;
        assert_eq!(st, license, "{v} /_license");
        let (st, _) = call(&c, "GET", &format!("{u}/_xpack/license"), None).await;
        assert_eq!(st, xpack, "{v} /_xpack/license");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn six_x_defaults() {
    let (sim, c, l, f) = pair("6.8.23").await;
    // Soft deletes are off unless set, and 6.x indices have 5 shards.
    call(&c, "PUT", &format!("{l}/old"), None).await;
    let (_, s) = call(&c, "GET", &format!("{l}/old/_settings"), None).await;
    assert_eq!(s["old"]["settings"]["index"]["number_of_shards"], "5");
    expect_error(
        &c,
        "PUT",
        &format!("{f}/old_copy/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": "old"})),
        (
            400,
            "illegal_argument_exception",
            "leader index [old] does not have soft deletes enabled",
        ),
    )
    .await;
    // Search totals are plain numbers, hits carry _type.
    call(&c, "PUT", &format!("{l}/old/_doc/1"), Some(json!({"a": 1}))).await;
    let (_, r) = call(&c, "GET", &format!("{l}/old/_search"), None).await;
    assert_eq!(r["hits"]["total"], 1);
    assert_eq!(r["hits"]["hits"][0]["_type"], "_doc");
    sim.shutdown().await;
}

#[tokio::test]
async fn follow_body_fields_by_version() {
    let (sim, c, l, f) = pair("7.8.1").await;
    call(&c, "PUT", &format!("{l}/src"), None).await;
    let (st, b) = call(&c, "PUT", &format!("{f}/dst/_ccr/follow"), Some(json!({"remote_cluster": "leader", "leader_index": "src", "settings": {"index.number_of_replicas": 0}}))).await;
    assert_error_type((st, &b), 400, "x_content_parse_exception");
    assert!(b["error"]["reason"]
        .as_str()
        .unwrap()
        .ends_with("unknown field [settings]"));
    sim.shutdown().await;
    let (sim, c, l, f) = pair("8.15.0").await;
    call(&c, "PUT", &format!("{l}/src"), None).await;
    ok(&c, "PUT", &format!("{f}/dst/_ccr/follow"), Some(json!({"remote_cluster": "leader", "leader_index": "src", "settings": {"index.number_of_replicas": 0}}))).await;
    let (_, s) = call(
        &c,
        "GET",
        &format!("{f}/dst/_settings?flat_settings=true"),
        None,
    )
    .await;
    assert_eq!(s["dst"]["settings"]["index.number_of_replicas"], "0");
    expect_error(
        &c,
        "PUT",
        &format!("{f}/dst2/_ccr/follow"),
        Some(json!({"remote_cluster": "leader", "leader_index": "src", "settings": {"index.number_of_shards": 3}})),
        (
            400,
            "illegal_argument_exception",
            "can not put follower index that could override leader settings {\"index.number_of_shards\":\"3\"}",
        ),
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn unauthorized_message_by_version() {
    for (v, expected) in [
        ("7.10.2", "action [cluster:admin/xpack/ccr/pause_follow] is unauthorized for user [viewer]"),
        ("7.12.0", "action [cluster:admin/xpack/ccr/pause_follow] is unauthorized for user [viewer], this action is granted by the cluster privileges [manage_ccr,manage,all]"),
        ("7.17.0", "action [cluster:admin/xpack/ccr/pause_follow] is unauthorized for user [viewer] with roles [monitor], this action is granted by the cluster privileges [manage_ccr,manage,all]"),
        ("8.4.0", "action [cluster:admin/xpack/ccr/pause_follow] is unauthorized for user [viewer] with roles [monitor], this action is granted by the cluster privileges [manage_ccr,manage,all]"),
        ("8.15.0", "action [cluster:admin/xpack/ccr/pause_follow] is unauthorized for user [viewer] with effective roles [monitor], this action is granted by the cluster privileges [manage_ccr,manage,all]"),
    ] {
        let sim = start([cluster("a", Some(v)).security(Security::new().user("viewer", "pw", Role::Monitor))]).await;
        let resp = client().post(format!("{}/x/_ccr/pause_follow", sim.url("a"))).basic_auth("viewer", Some("pw")).send().await.unwrap();
        let st = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert_error((st, &body), 403, "security_exception", expected);
        sim.shutdown().await;
    }
}
