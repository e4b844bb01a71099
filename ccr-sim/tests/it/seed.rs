//! The seed runbook word for word, over real HTTP: on Elastic's Elasticsearch, and on Alibaba
//! Cloud's 6.7 flavour where the leader index must lose its physical-replication setting
//! (close, set `index.replication.type` to null, open) before CCR follows it.

use std::process::Command;
use std::time::Duration;

use ccr_sim::{ClusterConfig, Flavor, Sim};
use serde_json::{json, Value};

use crate::common::*;

/// The runbook's leader index settings.
fn runbook_settings() -> Value {
    json!({"settings": {"index.soft_deletes.retention.operations": 1024, "index.soft_deletes.enabled": true}})
}

async fn start_flavoured(version: &str, flavor: Flavor) -> Sim {
    Sim::builder()
        .cluster(ClusterConfig::new("leader").version(version).flavor(flavor))
        .cluster(
            ClusterConfig::new("follower")
                .version(version)
                .flavor(flavor),
        )
        .start()
        .await
        .expect("start the simulator")
}

/// Both clusters hold a CCR license: trial or platinum, active.
async fn check_license(c: &reqwest::Client, url: &str, major: u32) {
    let path = if major == 6 {
        "_xpack/license"
    } else {
        "_license"
    };
    let body = ok(c, "GET", &format!("{url}/{path}"), None).await;
    let kind = body["license"]["type"].as_str().unwrap_or_default();
    assert!(matches!(kind, "trial" | "platinum"), "{body}");
    assert_eq!(body["license"]["status"], "active", "{body}");
}

/// The runbook from `PUT myindex` to the follower taking writes after the cut-over.
async fn seed_walkthrough(version: &str, flavor: Flavor) {
    let sim = start_flavoured(version, flavor).await;
    let c = client();
    let (l, f) = (sim.url("leader"), sim.url("follower"));
    let major: u32 = version.split('.').next().unwrap().parse().unwrap();

    // Same version on both sides, and licenses that allow CCR.
    let lv = ok(&c, "GET", &format!("{l}/"), None).await;
    let fv = ok(&c, "GET", &format!("{f}/"), None).await;
    assert_eq!(lv["version"]["number"], version);
    assert_eq!(fv["version"]["number"], version);
    check_license(&c, &l, major).await;
    check_license(&c, &f, major).await;

    // The leader index, exactly as the runbook creates it.
    let created = ok(&c, "PUT", &format!("{l}/myindex"), Some(runbook_settings())).await;
    assert_eq!(created["acknowledged"], true, "{created}");
    let s = ok(
        &c,
        "GET",
        &format!("{l}/myindex/_settings?flat_settings=true"),
        None,
    )
    .await;
    let flat = &s["myindex"]["settings"];
    assert_eq!(flat["index.soft_deletes.retention.operations"], "1024");
    assert_eq!(flat["index.soft_deletes.enabled"], "true");

    // Register the leader on the follower and write documents.
    add_remote(&c, &f, "leader", &sim.transport_address("leader")).await;
    let info = ok(&c, "GET", &format!("{f}/_remote/info"), None).await;
    assert_eq!(info["leader"]["connected"], true, "{info}");
    for i in 0..5 {
        let (st, b) = call(
            &c,
            "PUT",
            &format!("{l}/myindex/_doc/{i}"),
            Some(json!({"name": "Jack", "age": 40 + i})),
        )
        .await;
        assert_eq!(st, 201, "{b}");
    }

    let follow_body = json!({"remote_cluster": "leader", "leader_index": "myindex"});
    let follow_url = format!("{f}/myindex_follow/_ccr/follow?wait_for_active_shards=1");
    if flavor == Flavor::Aliyun {
        // New indices carry physical replication, as the follower's preflight reads it.
        assert_eq!(flat["index.replication.type"], "physical", "{s}");
        // Following now is refused (a reconstructed text: the platform documents none).
        expect_error(
            &c,
            "PUT",
            &follow_url,
            Some(follow_body.clone()),
            (
                400,
                "illegal_argument_exception",
                "leader index [myindex] uses physical replication [index.replication.type=physical]; cross-cluster replication requires [index.replication.type] to be null: close the leader index, set it to null and open it again",
            ),
        )
        .await;
        // The setting is static: refused on the open index.
        let (st, b) = call(
            &c,
            "PUT",
            &format!("{l}/myindex/_settings"),
            Some(json!({"index.replication.type": null})),
        )
        .await;
        assert_eq!(st, 400, "{b}");
        let reason = b["error"]["reason"].as_str().unwrap_or_default();
        assert!(
            reason.starts_with(
                "Can't update non dynamic settings [[index.replication.type]] for open indices [[myindex/"
            ),
            "{b}"
        );
        // The runbook: close, set it to null, open.
        ok(&c, "POST", &format!("{l}/myindex/_close"), None).await;
        ok(
            &c,
            "PUT",
            &format!("{l}/myindex/_settings"),
            Some(json!({"index.replication.type": null})),
        )
        .await;
        ok(&c, "POST", &format!("{l}/myindex/_open"), None).await;
        let s = ok(
            &c,
            "GET",
            &format!("{l}/myindex/_settings?flat_settings=true"),
            None,
        )
        .await;
        assert!(
            s["myindex"]["settings"]
                .get("index.replication.type")
                .is_none(),
            "{s}"
        );
    } else {
        assert!(flat.get("index.replication.type").is_none(), "{s}");
    }

    // Follow, and the documents arrive.
    let started = ok(&c, "PUT", &follow_url, Some(follow_body)).await;
    assert_eq!(started["follow_index_created"], true, "{started}");
    let leader_count = ok(&c, "GET", &format!("{l}/myindex/_count"), None).await["count"].clone();
    assert_eq!(leader_count, 5);
    eventually(Duration::from_secs(20), "the follower count", || {
        let (c, f) = (c.clone(), f.clone());
        let want = leader_count.clone();
        async move {
            let b = ok(&c, "GET", &format!("{f}/myindex_follow/_count"), None).await;
            (b["count"] == want).then_some(())
        }
    })
    .await;

    // The cut-over: pause, close, unfollow, open; the follower takes writes.
    ok(
        &c,
        "POST",
        &format!("{f}/myindex_follow/_ccr/pause_follow"),
        None,
    )
    .await;
    ok(&c, "POST", &format!("{f}/myindex_follow/_close"), None).await;
    ok(
        &c,
        "POST",
        &format!("{f}/myindex_follow/_ccr/unfollow"),
        None,
    )
    .await;
    ok(&c, "POST", &format!("{f}/myindex_follow/_open"), None).await;
    let (st, b) = call(
        &c,
        "PUT",
        &format!("{f}/myindex_follow/_doc/after-cutover"),
        Some(json!({"name": "Jill"})),
    )
    .await;
    assert_eq!(st, 201, "{b}");
    let n = ok(&c, "GET", &format!("{f}/myindex_follow/_count"), None).await;
    assert_eq!(n["count"], 6, "{n}");
    sim.shutdown().await;
}

#[tokio::test]
async fn seed_runbook_on_alibaba_cloud_6_7() {
    seed_walkthrough("6.7.0", Flavor::Aliyun).await;
}

#[tokio::test]
async fn seed_runbook_on_elasticsearch() {
    for v in ["6.7.2", "6.8.23", "7.17.0", "8.15.0", "9.1.0"] {
        seed_walkthrough(v, Flavor::Default).await;
    }
}

#[tokio::test]
async fn the_aliyun_flavour_exists_for_6_7_only() {
    let err = Sim::builder()
        .cluster(
            ClusterConfig::new("a")
                .version("7.10.2")
                .flavor(Flavor::Aliyun),
        )
        .start()
        .await
        .expect_err("aliyun on 7.10 is refused");
    let text = err.to_string();
    assert!(text.contains("aliyun") && text.contains("7.10.2"), "{text}");

    let out = Command::new(env!("CARGO_BIN_EXE_ccr-sim"))
        .args([
            "--cluster",
            "a=127.0.0.1:0",
            "--version",
            "6.8.0",
            "--flavor",
            "aliyun",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("aliyun") && err.contains("6.8.0"), "{err}");
}

#[tokio::test]
async fn physical_replication_is_a_plugin_setting_of_the_flavour_only() {
    // Elsewhere the setting is unknown.
    let (sim, c, u) = one_with_client("6.7.0").await;
    let (st, b) = call(
        &c,
        "PUT",
        &format!("{u}/x"),
        Some(json!({"settings": {"index.replication.type": "physical"}})),
    )
    .await;
    assert_error(
        (st, &b),
        400,
        "illegal_argument_exception",
        "unknown setting [index.replication.type] please check that any required plugins are installed, or check the breaking changes documentation for removed settings",
    );
    sim.shutdown().await;
}
