//! Security endpoints over HTTP: `_authenticate`, `_has_privileges`, API keys and cross-cluster
//! API keys, key expiry on the deterministic clock, and API-key remotes (remote cluster server
//! port, keystore, reload, `_remote/info` redaction, replication limited to the key's names).

use std::time::Duration;

use crate::common::*;
use ccr_sim::{
    base64_encode, ClusterConfig, IndicesPrivileges, RemoteIndicesPrivileges, Role, RoleDescriptor,
    Security, Sim,
};
use serde_json::{json, Value};

fn basic(u: &str, p: &str) -> String {
    format!("Basic {}", base64_encode(format!("{u}:{p}").as_bytes()))
}

fn apikey(encoded: &str) -> String {
    format!("ApiKey {encoded}")
}

const ADMIN: &str = "elastic";
const PW: &str = "changeme";

fn realm() -> Security {
    Security::new()
        .user(ADMIN, PW, Role::Superuser)
        .user("viewer", "pw", Role::Monitor)
        .role(
            "logs_reader",
            RoleDescriptor {
                cluster: vec!["monitor".into()],
                indices: vec![IndicesPrivileges::new(&["logs-*"], &["read", "monitor"])],
                remote_indices: Vec::new(),
            },
        )
        .user_with_roles("reader", "pw", &["logs_reader", "ghost"])
}

async fn secure_one(version: &str, deterministic: bool) -> Sim {
    let mut b = Sim::builder().cluster(ClusterConfig::new("es").version(version).security(realm()));
    if deterministic {
        b = b.deterministic_clock();
    }
    b.start().await.unwrap()
}

#[tokio::test]
async fn challenges_per_version() {
    for (v, expected) in [
        ("7.17.0", vec!["Basic realm=\"security\" charset=\"UTF-8\""]),
        (
            "8.14.0",
            vec![
                "Basic realm=\"security\" charset=\"UTF-8\"",
                "Bearer realm=\"security\"",
                "ApiKey",
            ],
        ),
        (
            "9.1.0",
            vec![
                "Basic realm=\"security\", charset=\"UTF-8\"",
                "Bearer realm=\"security\"",
                "ApiKey",
            ],
        ),
    ] {
        let sim = secure_one(v, false).await;
        let (st, b, www) =
            send_auth("GET", &format!("{}/_ccr/stats", sim.url("es")), None, None).await;
        assert_error(
            (st, &b),
            401,
            "security_exception",
            "missing authentication credentials for REST request [/_ccr/stats]",
        );
        assert_eq!(www, expected, "{v}");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn index_denials_name_the_indices_from_7_12() {
    for (v, expected) in [
        ("7.10.2", "action [indices:data/read/search] is unauthorized for user [reader]"),
        ("7.17.0", "action [indices:data/read/search] is unauthorized for user [reader] with roles [logs_reader,ghost] on indices [secret], this action is granted by the index privileges [read,all]"),
        ("8.15.0", "action [indices:data/read/search] is unauthorized for user [reader] with effective roles [logs_reader] (assigned roles [ghost] were not found) on indices [secret], this action is granted by the index privileges [read,all]"),
    ] {
        let sim = secure_one(v, false).await;
        let u = sim.url("es");
        sim.cluster("es").create_index("secret", 1).unwrap();
        sim.cluster("es").create_index("logs-1", 1).unwrap();
        let r = basic("reader", "pw");
        let (st, b, _) = send_auth("GET", &format!("{u}/secret/_search"), Some(&r), None).await;
        assert_error((st, &b), 403, "security_exception", expected);
        let (st, b, _) = send_auth("GET", &format!("{u}/logs-1/_search"), Some(&r), None).await;
        assert_eq!(st, 200, "{v}: {b}");
        // Nothing in the role grants put follow anywhere: no index names in the text.
        let (st, b, _) = send_auth(
            "PUT",
            &format!("{u}/logs-copy/_ccr/follow"),
            Some(&r),
            Some(json!({"remote_cluster": "x", "leader_index": "y"})),
        )
        .await;
        assert_eq!(st, 403, "{b}");
        assert!(
            !b["error"]["reason"].as_str().unwrap().contains("on indices"),
            "{b}"
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn has_privileges_and_authenticate() {
    let sim = secure_one("8.15.0", false).await;
    let u = sim.url("es");
    let r = basic("reader", "pw");
    let (st, b, _) = send_auth(
        "POST",
        &format!("{u}/_security/user/_has_privileges"),
        Some(&r),
        Some(json!({
            "cluster": ["monitor", "manage_ccr"],
            "index": [{"names": ["logs-1", "secret"], "privileges": ["read", "monitor"]}]
        })),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        b,
        json!({
            "username": "reader",
            "has_all_requested": false,
            "cluster": {"monitor": true, "manage_ccr": false},
            "index": {"logs-1": {"read": true, "monitor": true}, "secret": {"read": false, "monitor": false}},
            "application": {}
        })
    );
    let (st, b, _) = send_auth(
        "GET",
        &format!("{u}/_security/user/_has_privileges"),
        Some(&basic(ADMIN, PW)),
        Some(json!({"cluster": ["manage_ccr", "read_ccr", "manage_security"], "index": [{"names": ["*"], "privileges": ["manage_follow_index", "view_index_metadata"]}]})),
    )
    .await;
    assert_eq!((st, &b["has_all_requested"]), (200, &json!(true)), "{b}");
    let (st, b, _) = send_auth(
        "POST",
        &format!("{u}/_security/user/_has_privileges"),
        Some(&r),
        Some(json!({})),
    )
    .await;
    assert_error(
        (st, &b),
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: must specify at least one privilege;",
    );
    let (st, b, _) = send_auth(
        "GET",
        &format!("{u}/_security/_authenticate"),
        Some(&r),
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(b["username"], "reader");
    assert_eq!(b["authentication_type"], "realm");
    assert_eq!(b["roles"], json!(["logs_reader", "ghost"]));
    // 8.x has no `_xpack/security`.
    let (st, _, _) = send_auth(
        "GET",
        &format!("{u}/_xpack/security/_authenticate"),
        Some(&r),
        None,
    )
    .await;
    assert_eq!(st, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn six_eight_answers_under_xpack() {
    let sim = secure_one("6.8.23", false).await;
    let u = sim.url("es");
    let v = basic("viewer", "pw");
    let (st, b, _) = send_auth(
        "POST",
        &format!("{u}/_xpack/security/user/_has_privileges"),
        Some(&v),
        Some(json!({"cluster": ["monitor"], "index": [{"names": ["x"], "privileges": ["read"]}]})),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["has_all_requested"], true);
    let (st, b, _) = send_auth(
        "GET",
        &format!("{u}/_xpack/security/_authenticate"),
        Some(&v),
        None,
    )
    .await;
    assert_eq!((st, &b["username"]), (200, &json!("viewer")));
    assert!(b.get("authentication_type").is_none(), "{b}");
    let (st, _, _) = send_auth(
        "GET",
        &format!("{u}/_security/_authenticate"),
        Some(&v),
        None,
    )
    .await;
    assert_eq!(st, 400, "no `_security` namespace on 6.x");
    sim.shutdown().await;
}

#[tokio::test]
async fn api_keys_expire_in_simulated_time() {
    let sim = secure_one("8.15.0", true).await;
    let u = sim.url("es");
    let admin = basic(ADMIN, PW);
    let (st, k, _) = send_auth(
        "POST",
        &format!("{u}/_security/api_key"),
        Some(&admin),
        Some(json!({"name": "daemon", "expiration": "1h", "metadata": {"owner": "ccr-sentinel"}})),
    )
    .await;
    assert_eq!(st, 200, "{k}");
    let encoded = k["encoded"].as_str().unwrap().to_string();
    assert_eq!(
        encoded,
        base64_encode(
            format!(
                "{}:{}",
                k["id"].as_str().unwrap(),
                k["api_key"].as_str().unwrap()
            )
            .as_bytes()
        )
    );
    let expiration = k["expiration"].as_u64().unwrap();
    let (st, me, _) = send_auth(
        "GET",
        &format!("{u}/_security/_authenticate"),
        Some(&apikey(&encoded)),
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(me["authentication_type"], "api_key");
    assert_eq!(me["api_key"], json!({"id": k["id"], "name": "daemon"}));
    let (st, list, _) = send_auth(
        "GET",
        &format!("{u}/_security/api_key?name=daemon"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(st, 200);
    let info = &list["api_keys"][0];
    assert_eq!(info["expiration"], expiration);
    assert_eq!(info["invalidated"], false);
    assert_eq!(info["type"], "rest");
    assert_eq!(info["username"], ADMIN);
    assert_eq!(info["metadata"], json!({"owner": "ccr-sentinel"}));
    assert_eq!(expiration - info["creation"].as_u64().unwrap(), 3_600_000);
    // A REST key may not mint a cross-cluster key.
    let (st, b, _) = send_auth(
        "POST",
        &format!("{u}/_security/cross_cluster/api_key"),
        Some(&apikey(&encoded)),
        Some(json!({"name": "x", "access": {"replication": [{"names": ["logs-*"]}]}})),
    )
    .await;
    assert_error(
        (st, &b),
        400,
        "illegal_argument_exception",
        "authentication via API key not supported: An API key cannot be used to create a cross-cluster API key",
    );
    sim.advance(Duration::from_secs(3601)).unwrap();
    let (st, b, www) = send_auth(
        "GET",
        &format!("{u}/_ccr/stats"),
        Some(&apikey(&encoded)),
        None,
    )
    .await;
    assert_error(
        (st, &b),
        401,
        "security_exception",
        "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
    );
    assert_eq!(
        b["error"]["additional_unsuccessful_credentials"],
        "API key: api key is expired"
    );
    assert_eq!(www.len(), 3);
    // `active_only` leaves the expired key out; without it the key is listed.
    let list = |q: &'static str| {
        let (u, admin) = (u.clone(), admin.clone());
        async move {
            let (st, b, _) = send_auth(
                "GET",
                &format!("{u}/_security/api_key?{q}"),
                Some(&admin),
                None,
            )
            .await;
            assert_eq!(st, 200, "{b}");
            b["api_keys"].as_array().unwrap().len()
        }
    };
    assert_eq!(list("name=daemon").await, 1);
    assert_eq!(list("name=daemon&active_only=true").await, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn user_privileges_list_the_callers_roles() {
    let remote = Security::new().role(
        "replicator",
        RoleDescriptor {
            cluster: vec!["manage_ccr".into()],
            indices: vec![IndicesPrivileges::new(
                &["logs-copy"],
                &["monitor", "write"],
            )],
            remote_indices: vec![RemoteIndicesPrivileges {
                clusters: vec!["leader".into()],
                names: vec!["logs".into()],
                privileges: vec!["cross_cluster_replication".into()],
            }],
        },
    );
    let sec = remote
        .user_with_roles("ccr", "pw", &["replicator"])
        .user(ADMIN, PW, Role::Superuser);
    for (v, remote_indices) in [("8.15.0", true), ("8.7.0", false)] {
        let sim = Sim::builder()
            .cluster(ClusterConfig::new("es").version(v).security(sec.clone()))
            .start()
            .await
            .unwrap();
        let u = sim.url("es");
        let (st, b, _) = send_auth(
            "GET",
            &format!("{u}/_security/user/_privileges"),
            Some(&basic("ccr", "pw")),
            None,
        )
        .await;
        assert_eq!(st, 200, "{v}: {b}");
        assert_eq!(b["cluster"], json!(["manage_ccr"]), "{v}");
        assert_eq!(b["indices"][0]["names"], json!(["logs-copy"]), "{v}");
        if remote_indices {
            assert_eq!(
                b["remote_indices"],
                json!([{"names": ["logs"], "privileges": ["cross_cluster_replication"],
                    "allow_restricted_indices": false, "clusters": ["leader"]}])
            );
        } else {
            assert!(b.get("remote_indices").is_none(), "{v}: {b}");
        }
        // An API key cannot list its privileges.
        let (_, k, _) = send_auth(
            "POST",
            &format!("{u}/_security/api_key"),
            Some(&basic(ADMIN, PW)),
            Some(json!({"name": "k"})),
        )
        .await;
        let (st, b, _) = send_auth(
            "GET",
            &format!("{u}/_security/user/_privileges"),
            Some(&apikey(k["encoded"].as_str().unwrap())),
            None,
        )
        .await;
        assert_eq!(st, 400, "{v}: {b}");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn invalidated_and_unknown_keys_are_refused() {
    let sim = secure_one("8.15.0", false).await;
    let u = sim.url("es");
    let admin = basic(ADMIN, PW);
    let (_, k, _) = send_auth(
        "POST",
        &format!("{u}/_security/api_key"),
        Some(&admin),
        Some(json!({"name": "short"})),
    )
    .await;
    let encoded = k["encoded"].as_str().unwrap().to_string();
    let (st, b, _) = send_auth(
        "DELETE",
        &format!("{u}/_security/api_key"),
        Some(&admin),
        Some(json!({"ids": [k["id"]]})),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(b["invalidated_api_keys"], json!([k["id"]]));
    let (_, b, _) = send_auth(
        "DELETE",
        &format!("{u}/_security/api_key"),
        Some(&admin),
        Some(json!({"ids": [k["id"]]})),
    )
    .await;
    assert_eq!(b["previously_invalidated_api_keys"], json!([k["id"]]));
    let (st, b, _) = send_auth("GET", &format!("{u}/"), Some(&apikey(&encoded)), None).await;
    assert_eq!(st, 401);
    assert_eq!(
        b["error"]["additional_unsuccessful_credentials"],
        format!(
            "API key: api key [{}] has been invalidated",
            k["id"].as_str().unwrap()
        )
    );
    let (_, b, _) = send_auth(
        "GET",
        &format!("{u}/"),
        Some(&apikey(&base64_encode(b"nope:x"))),
        None,
    )
    .await;
    assert_eq!(
        b["error"]["additional_unsuccessful_credentials"],
        "API key: unable to find apikey with id nope"
    );
    let (_, list, _) = send_auth(
        "GET",
        &format!("{u}/_security/api_key?id={}", k["id"].as_str().unwrap()),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(list["api_keys"][0]["invalidated"], true);
    sim.shutdown().await;
}

#[tokio::test]
async fn cross_cluster_keys_need_a_user_and_8_10() {
    let sim = Sim::builder()
        .cluster(
            ClusterConfig::new("new")
                .version("8.15.0")
                .security(realm()),
        )
        .cluster(ClusterConfig::new("old").version("8.9.0").security(realm()))
        .start()
        .await
        .unwrap();
    let admin = basic(ADMIN, PW);
    let body = json!({"name": "ccr", "expiration": "90d", "access": {"replication": [{"names": ["logs-*"]}]}});
    let (st, k, _) = send_auth(
        "POST",
        &format!("{}/_security/cross_cluster/api_key", sim.url("new")),
        Some(&admin),
        Some(body.clone()),
    )
    .await;
    assert_eq!(st, 200, "{k}");
    for f in ["id", "name", "expiration", "api_key", "encoded"] {
        assert!(k.get(f).is_some(), "{f}: {k}");
    }
    let (_, list, _) = send_auth(
        "GET",
        &format!("{}/_security/api_key?name=ccr", sim.url("new")),
        Some(&admin),
        None,
    )
    .await;
    let info = &list["api_keys"][0];
    assert_eq!(info["type"], "cross_cluster");
    assert_eq!(
        info["access"],
        json!({"replication": [{"names": ["logs-*"], "allow_restricted_indices": false}]})
    );
    assert_eq!(
        info["role_descriptors"]["cross_cluster"]["cluster"],
        json!(["cross_cluster_replication"])
    );
    // A cross-cluster key cannot call the REST API.
    let (st, b, _) = send_auth(
        "GET",
        &format!("{}/", sim.url("new")),
        Some(&apikey(k["encoded"].as_str().unwrap())),
        None,
    )
    .await;
    assert_error(
        (st, &b),
        401,
        "security_exception",
        &format!(
            "authentication expected API key type of [rest], but API key [{}] has type [cross_cluster]",
            k["id"].as_str().unwrap()
        ),
    );
    // A monitor user lacks manage_security.
    let (st, b, _) = send_auth(
        "POST",
        &format!("{}/_security/cross_cluster/api_key", sim.url("new")),
        Some(&basic("viewer", "pw")),
        Some(body.clone()),
    )
    .await;
    assert_error(
        (st, &b),
        403,
        "security_exception",
        "action [cluster:admin/xpack/security/cross_cluster/api_key/create] is unauthorized for user [viewer] with effective roles [monitor], this action is granted by the cluster privileges [manage_security,all]",
    );
    let (st, b, _) = send_auth(
        "POST",
        &format!("{}/_security/cross_cluster/api_key", sim.url("new")),
        Some(&admin),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(
        (st, b["error"]["reason"].as_str()),
        (400, Some("[1:2] Required [access]"))
    );
    let (st, b, _) = send_auth(
        "POST",
        &format!("{}/_security/cross_cluster/api_key", sim.url("old")),
        Some(&admin),
        Some(body),
    )
    .await;
    assert_eq!(st, 400, "{b}");
    assert!(
        b["error"].as_str().unwrap().starts_with("no handler found"),
        "{b}"
    );
    sim.shutdown().await;
}

/// A leader with security and a follower whose remote `leader` points at the leader's remote
/// cluster server port.
async fn api_key_pair(follower_version: &str) -> (Sim, String) {
    api_key_pair_on("8.15.0", follower_version).await
}

async fn api_key_pair_on(leader_version: &str, follower_version: &str) -> (Sim, String) {
    let sim = Sim::builder()
        .cluster(
            ClusterConfig::new("leader")
                .version(leader_version)
                .security(realm()),
        )
        .cluster(
            ClusterConfig::new("follower")
                .version(follower_version)
                .security(
                    Security::new()
                        .user(ADMIN, PW, Role::Superuser)
                        .role(
                            "replicator",
                            RoleDescriptor {
                                cluster: vec!["manage_ccr".into(), "monitor".into()],
                                indices: vec![IndicesPrivileges::new(
                                    &["*"],
                                    &[
                                        "monitor",
                                        "read",
                                        "manage_follow_index",
                                        "view_index_metadata",
                                    ],
                                )],
                                remote_indices: vec![RemoteIndicesPrivileges {
                                    clusters: vec!["leader".into()],
                                    names: vec!["logs-1".into()],
                                    privileges: vec!["cross_cluster_replication".into()],
                                }],
                            },
                        )
                        .user_with_roles("repl", "pw", &["replicator"]),
                ),
        )
        .start()
        .await
        .unwrap();
    let admin = basic(ADMIN, PW);
    for i in ["logs-1", "logs-2", "private"] {
        sim.cluster("leader").create_index(i, 1).unwrap();
    }
    let (st, k, _) = send_auth(
        "POST",
        &format!("{}/_security/cross_cluster/api_key", sim.url("leader")),
        Some(&admin),
        Some(json!({"name": "follower", "access": {"replication": [{"names": ["logs-*"]}]}})),
    )
    .await;
    assert_eq!(st, 200, "{k}");
    let rcs = sim.remote_cluster_address("leader");
    let (st, b, _) = send_auth(
        "PUT",
        &format!("{}/_cluster/settings", sim.url("follower")),
        Some(&admin),
        Some(json!({"persistent": {"cluster.remote.leader.seeds": [rcs]}})),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    (sim, k["encoded"].as_str().unwrap().to_string())
}

async fn remote_info(sim: &Sim) -> Value {
    let (st, b, _) = send_auth(
        "GET",
        &format!("{}/_remote/info", sim.url("follower")),
        Some(&basic(ADMIN, PW)),
        None,
    )
    .await;
    assert_eq!(st, 200);
    b["leader"].clone()
}

async fn follow(sim: &Sim, auth: &str, follower: &str, leader: &str) -> (u16, Value) {
    let (st, b, _) = send_auth(
        "PUT",
        &format!("{}/{follower}/_ccr/follow", sim.url("follower")),
        Some(auth),
        Some(json!({"remote_cluster": "leader", "leader_index": leader})),
    )
    .await;
    (st, b)
}

#[tokio::test]
async fn api_key_remote_connects_after_keystore_and_reload() {
    let (sim, encoded) = api_key_pair("8.15.0").await;
    let admin = basic(ADMIN, PW);
    let info = remote_info(&sim).await;
    assert_eq!(info["connected"], false, "no credentials yet: {info}");
    assert!(info.get("cluster_credentials").is_none());
    // The control call writes the keystore; the node does not use it before a reload.
    let c = client();
    ok(
        &c,
        "POST",
        &format!("{}/_sim/keystore/leader", sim.url("follower")),
        Some(json!({"credentials": encoded})),
    )
    .await;
    assert_eq!(remote_info(&sim).await["connected"], false);
    let state = ok(
        &c,
        "GET",
        &format!("{}/_sim/state", sim.url("follower")),
        None,
    )
    .await;
    assert_eq!(
        state["cluster"]["keystore"],
        json!({"written": ["leader"], "loaded": []})
    );
    assert!(
        !state.to_string().contains(&encoded),
        "the keystore value must not be shown"
    );
    let (st, reload, _) = send_auth(
        "POST",
        &format!("{}/_nodes/reload_secure_settings", sim.url("follower")),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        reload["_nodes"],
        json!({"total": 1, "successful": 1, "failed": 0})
    );
    assert_eq!(reload["cluster_name"], "follower");
    let info = remote_info(&sim).await;
    assert_eq!(info["connected"], true, "{info}");
    assert_eq!(info["cluster_credentials"], "::es_redacted::");
    // Replication is limited to the key's names (and the user's remote_indices).
    let (st, b) = follow(&sim, &admin, "logs-1-copy", "logs-1").await;
    assert_eq!(st, 200, "{b}");
    // Its shard tasks start once the remote recovery is done.
    let f = sim.cluster("follower");
    eventually(Duration::from_secs(10), "logs-1-copy following", || {
        let s = f.state();
        async move { (s["followers"]["logs-1-copy"]["status"] == "active").then_some(()) }
    })
    .await;
    let (st, b) = follow(&sim, &admin, "private-copy", "private").await;
    assert_error(
        (st, &b),
        403,
        "security_exception",
        "insufficient privileges to follow index [private], privilege for action [indices:data/read/xpack/ccr/shard_changes] is missing, privilege for action [indices:monitor/stats] is missing",
    );
    // Auto-follow patterns need no leader user either.
    let (st, b, _) = send_auth(
        "PUT",
        &format!("{}/_ccr/auto_follow/logs", sim.url("follower")),
        Some(&admin),
        Some(json!({"remote_cluster": "leader", "leader_index_patterns": ["logs-*"], "follow_index_pattern": "{{leader_index}}-af"})),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let repl = basic("repl", "pw");
    let (st, b) = follow(&sim, &repl, "logs-2-copy", "logs-2").await;
    assert_eq!(st, 403, "logs-2 is outside repl's remote_indices: {b}");
    // Invalidating the key on the leader disconnects the remote.
    let (_, list, _) = send_auth(
        "GET",
        &format!("{}/_security/api_key?name=follower", sim.url("leader")),
        Some(&admin),
        None,
    )
    .await;
    let id = list["api_keys"][0]["id"].clone();
    // Widening the key's access (the update replaces it) lets the follow through.
    let (st, b, _) = send_auth(
        "PUT",
        &format!(
            "{}/_security/cross_cluster/api_key/{}",
            sim.url("leader"),
            id.as_str().unwrap()
        ),
        Some(&admin),
        Some(json!({"access": {"replication": [{"names": ["logs-*", "private"]}]}})),
    )
    .await;
    assert_eq!((st, &b), (200, &json!({"updated": true})));
    let (st, b) = follow(&sim, &admin, "private-copy", "private").await;
    assert_eq!(st, 200, "{b}");
    let (st, _, _) = send_auth(
        "DELETE",
        &format!("{}/_security/api_key", sim.url("leader")),
        Some(&admin),
        Some(json!({"ids": [id]})),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(remote_info(&sim).await["connected"], false);
    // The follower's shard tasks now fail their reads and retry, as with any lost remote.
    eventually(
        Duration::from_secs(10),
        "failed reads after the key is gone",
        || {
            let s = f.state();
            async move {
                (s["followers"]["logs-1-copy"]["shards"][0]["failed_read_requests"]
                    .as_u64()
                    .unwrap_or(0)
                    > 0)
                .then_some(())
            }
        },
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn before_8_13_credentials_load_only_at_a_restart() {
    let (sim, encoded) = api_key_pair("8.12.0").await;
    let f = sim.cluster("follower");
    f.keystore_add("leader", &encoded).unwrap();
    f.reload_secure_settings();
    assert_eq!(remote_info(&sim).await["connected"], false);
    f.stop().unwrap();
    f.start().unwrap();
    let info = remote_info(&sim).await;
    assert_eq!(info["connected"], true, "{info}");
    sim.shutdown().await;
}

#[tokio::test]
async fn mixed_up_remotes_do_not_connect() {
    let (sim, encoded) = api_key_pair("8.15.0").await;
    let f = sim.cluster("follower");
    // Credentials for a remote on the transport port: the handshake wants the remote cluster
    // server's channel profile.
    f.keystore_add("leader", &encoded).unwrap();
    f.reload_secure_settings();
    let admin = basic(ADMIN, PW);
    let seeds = sim.transport_address("leader");
    send_auth(
        "PUT",
        &format!("{}/_cluster/settings", sim.url("follower")),
        Some(&admin),
        Some(json!({"persistent": {"cluster.remote.leader.seeds": [seeds]}})),
    )
    .await;
    let info = remote_info(&sim).await;
    assert_eq!(info["connected"], false, "{info}");
    let (st, b) = follow(&sim, &admin, "logs-1-copy", "logs-1").await;
    assert_eq!(st, 400, "{b}");
    assert!(
        b["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("could not be determined"),
        "{b}"
    );
    // Without credentials the certificate remote connects as before.
    f.keystore_remove("leader").unwrap();
    f.reload_secure_settings();
    assert_eq!(remote_info(&sim).await["connected"], true);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_cross_cluster_key_disconnects_the_remote() {
    let sim = Sim::builder()
        .cluster(ClusterConfig::new("leader").security(realm()))
        .cluster(ClusterConfig::new("follower"))
        .deterministic_clock()
        .start()
        .await
        .unwrap();
    let admin = basic(ADMIN, PW);
    let (_, k, _) = send_auth(
        "POST",
        &format!("{}/_security/cross_cluster/api_key", sim.url("leader")),
        Some(&admin),
        Some(
            json!({"name": "f", "expiration": "1d", "access": {"replication": [{"names": ["*"]}]}}),
        ),
    )
    .await;
    let f = sim.cluster("follower");
    f.keystore_add("leader", k["encoded"].as_str().unwrap())
        .unwrap();
    f.reload_secure_settings();
    let c = client();
    ok(&c, "PUT", &format!("{}/_cluster/settings", sim.url("follower")), Some(json!({"persistent": {"cluster.remote.leader.mode": "proxy", "cluster.remote.leader.proxy_address": sim.remote_cluster_address("leader")}}))).await;
    let info = ok(
        &c,
        "GET",
        &format!("{}/_remote/info", sim.url("follower")),
        None,
    )
    .await;
    assert_eq!(info["leader"]["connected"], true, "{info}");
    sim.advance(Duration::from_secs(86_401)).unwrap();
    let info = ok(
        &c,
        "GET",
        &format!("{}/_remote/info", sim.url("follower")),
        None,
    )
    .await;
    assert_eq!(info["leader"]["connected"], false, "{info}");
    assert_eq!(info["leader"]["cluster_credentials"], "::es_redacted::");
    sim.shutdown().await;
}

#[tokio::test]
async fn security_files_define_roles_users_and_keys() {
    let sec = Security::from_toml_str(
        r#"
[role.ccr]
cluster = ["manage_ccr", "monitor"]
indices = [{names = ["logs-*"], privileges = ["monitor", "read", "manage_follow_index", "view_index_metadata"]}]
remote_indices = [{clusters = ["leader"], names = ["logs-*"], privileges = ["cross_cluster_replication"]}]

[[user]]
name = "ccr-sentinel"
password = "pw"
roles = ["ccr"]

[[api_key]]
id = "k1"
key = "s1"
owner = "ccr-sentinel"
role = "monitor"
"#,
    )
    .unwrap();
    let sim = Sim::builder()
        .cluster(ClusterConfig::new("es").security(sec))
        .start()
        .await
        .unwrap();
    let u = sim.url("es");
    let (st, _, _) = send_auth(
        "GET",
        &format!("{u}/_ccr/auto_follow"),
        Some(&basic("ccr-sentinel", "pw")),
        None,
    )
    .await;
    assert_eq!(st, 200);
    let (st, _, _) = send_auth(
        "GET",
        &format!("{u}/_ccr/stats"),
        Some(&apikey(&base64_encode(b"k1:s1"))),
        None,
    )
    .await;
    assert_eq!(st, 200);
    let (st, _, _) = send_auth(
        "GET",
        &format!("{u}/_ccr/auto_follow"),
        Some(&apikey(&base64_encode(b"k1:s1"))),
        None,
    )
    .await;
    assert_eq!(st, 403, "monitor does not grant manage_ccr");
    sim.shutdown().await;
    for (text, needle) in [
        (
            "[[user]]\nname = \"a\"\npassword = \"p\"\nroles = [\"nope\"]\n",
            "[nope]",
        ),
        ("[role.x]\nclusterz = []\n", "clusterz"),
        (
            "[[user]]\nname = \"\"\npassword = \"p\"\nroles = []\n",
            "must not be empty",
        ),
    ] {
        let e = Security::from_toml_str(text).unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    }
}

#[tokio::test]
async fn api_key_remotes_by_version() {
    // 9.x on both sides: the same model.
    let (sim, encoded) = api_key_pair_on("9.1.0", "9.1.0").await;
    let f = sim.cluster("follower");
    f.keystore_add("leader", &encoded).unwrap();
    assert_eq!(f.reload_secure_settings()["_nodes"]["successful"], 1);
    let info = remote_info(&sim).await;
    assert_eq!(
        (&info["connected"], &info["cluster_credentials"]),
        (&json!(true), &json!("::es_redacted::"))
    );
    sim.shutdown().await;
    // A 7.17 follower has no remote cluster client: the port never answers it, credentials or not.
    let (sim, encoded) = api_key_pair_on("8.15.0", "7.17.0").await;
    let f = sim.cluster("follower");
    f.keystore_add("leader", &encoded).unwrap();
    f.stop().unwrap();
    f.start().unwrap();
    let info = remote_info(&sim).await;
    assert_eq!(info["connected"], false, "{info}");
    assert!(info.get("cluster_credentials").is_none(), "{info}");
    sim.shutdown().await;
}

/// `GET /_security/api_key` and `_has_privileges` against the specification: every field the
/// simulator writes is one `ApiKey.ts` defines, with the example's JSON type, and the fields
/// that type marks required are there.
#[tokio::test]
async fn security_answers_have_the_specifications_fields() {
    let sim = secure_one("8.15.0", false).await;
    let u = sim.url("es");
    let admin = basic(ADMIN, PW);
    let (st, _, _) = send_auth(
        "POST",
        &format!("{u}/_security/api_key"),
        Some(&admin),
        Some(json!({"name": "shape", "expiration": "1h", "metadata": {"owner": "ccr-sentinel"}})),
    )
    .await;
    assert_eq!(st, 200);
    let (st, list, _) = send_auth(
        "GET",
        &format!("{u}/_security/api_key?name=shape"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(st, 200, "{list}");
    let ours = list["api_keys"][0].as_object().unwrap().clone();
    let spec = fixture("security_get_api_key_response_8x.json");
    let example = spec["api_keys"][0].as_object().unwrap();
    // ApiKey.ts: the fields of the type (the example omits the 8.10+ ones).
    let defined = [
        "id",
        "name",
        "type",
        "creation",
        "expiration",
        "invalidated",
        "invalidation",
        "username",
        "realm",
        "realm_type",
        "metadata",
        "role_descriptors",
        "limited_by",
        "access",
        "profile_uid",
        "_sort",
    ];
    for (k, v) in &ours {
        assert!(
            defined.contains(&k.as_str()),
            "[{k}] is not an ApiKey field"
        );
        match example.get(k) {
            // Free-form objects: their keys are the user's.
            Some(e) if k == "metadata" || k == "role_descriptors" => {
                assert!(v.is_object() && e.is_object(), "[{k}]: {v}");
            }
            Some(e) => assert_same_shape(v, e, &format!("api_keys[0].{k}")),
            None => {}
        }
    }
    for required in [
        "id",
        "name",
        "type",
        "creation",
        "invalidated",
        "username",
        "realm",
        "metadata",
    ] {
        assert!(
            ours.contains_key(required),
            "[{required}] missing: {ours:?}"
        );
    }
    let (st, b, _) = send_auth(
        "POST",
        &format!("{u}/_security/user/_has_privileges"),
        Some(&admin),
        Some(json!({"cluster": ["monitor"], "index": [{"names": ["logs-1"], "privileges": ["read"]}]})),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let spec = fixture("security_has_privileges_response_8x.json");
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&b), keys(&spec));
    assert_same_shape(
        &b["cluster"]["monitor"],
        &spec["cluster"]["monitor"],
        "cluster.monitor",
    );
    assert_same_shape(
        &b["index"]["logs-1"]["read"],
        &spec["index"]["products"]["read"],
        "index.<name>.read",
    );
    sim.shutdown().await;
}
