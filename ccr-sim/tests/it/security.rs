//! Security: 401 for missing or wrong credentials, 403 for missing privileges.

use crate::common::*;
use ccr_sim::{base64_encode, Role, Security, Sim};
use serde_json::Value;

async fn secure(version: &str) -> Sim {
    start([cluster("es", Some(version)).security(
        Security::new()
            .user("elastic", "changeme", Role::Superuser)
            .user("viewer", "pw", Role::Monitor)
            .user("nobody", "pw", Role::None)
            .api_key("key1", "s3cret", "svc", Role::Superuser)
            .api_key("key2", "s3cret", "svc", Role::Monitor),
    )])
    .await
}

async fn send(url: &str, method: &str, auth: Option<String>) -> (u16, Value, Vec<String>) {
    crate::common::send_auth(method, url, auth.as_deref(), None).await
}

fn basic(u: &str, p: &str) -> Option<String> {
    Some(format!(
        "Basic {}",
        base64_encode(format!("{u}:{p}").as_bytes())
    ))
}

#[tokio::test]
async fn authentication() {
    let sim = secure("8.15.0").await;
    let u = sim.url("es");
    let (st, b, www) = send(&format!("{u}/_ccr/stats?pretty"), "GET", None).await;
    assert_error(
        (st, &b),
        401,
        "security_exception",
        "missing authentication credentials for REST request [/_ccr/stats?pretty]",
    );
    assert_eq!(www.len(), 3);
    let (st, b, _) = send(&format!("{u}/_ccr/stats"), "GET", basic("elastic", "wrong")).await;
    assert_error(
        (st, &b),
        401,
        "security_exception",
        "unable to authenticate user [elastic] for REST request [/_ccr/stats]",
    );
    let (st, _, _) = send(
        &format!("{u}/_ccr/stats"),
        "GET",
        basic("elastic", "changeme"),
    )
    .await;
    assert_eq!(st, 200);
    let key = Some(format!("ApiKey {}", base64_encode(b"key1:s3cret")));
    let (st, _, _) = send(&format!("{u}/_ccr/stats"), "GET", key).await;
    assert_eq!(st, 200);
    let bad_key = Some(format!("ApiKey {}", base64_encode(b"key1:nope")));
    let (st, b, _) = send(&format!("{u}/_ccr/stats"), "GET", bad_key).await;
    assert_error_type((st, &b), 401, "security_exception");
    // The control plane needs no credentials.
    let (st, _, _) = send(&format!("{u}/_sim/state"), "GET", None).await;
    assert_eq!(st, 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn authorization() {
    let sim = secure("8.15.0").await;
    let u = sim.url("es");
    let (st, _, _) = send(&format!("{u}/_ccr/stats"), "GET", basic("viewer", "pw")).await;
    assert_eq!(st, 200, "monitor may read");
    let (st, b, _) = send(
        &format!("{u}/x/_ccr/unfollow"),
        "POST",
        basic("viewer", "pw"),
    )
    .await;
    assert_error(
        (st, &b),
        403,
        "security_exception",
        "action [indices:admin/xpack/ccr/unfollow] is unauthorized for user [viewer] with effective roles [monitor], this action is granted by the index privileges [manage_follow_index,manage,all]",
    );
    let (st, b, _) = send(&format!("{u}/"), "GET", basic("nobody", "pw")).await;
    assert_error_type((st, &b), 403, "security_exception");
    let key2 = Some(format!("ApiKey {}", base64_encode(b"key2:s3cret")));
    let (st, b, _) = send(&format!("{u}/_cluster/settings"), "PUT", key2).await;
    assert_error(
        (st, &b),
        403,
        "security_exception",
        "action [cluster:admin/settings/update] is unauthorized for API key id [key2] of user [svc], this action is granted by the cluster privileges [manage,all]",
    );
    // A superuser gets past security to the real answer.
    let (st, b, _) = send(
        &format!("{u}/x/_ccr/unfollow"),
        "POST",
        basic("elastic", "changeme"),
    )
    .await;
    assert_error_type((st, &b), 404, "index_not_found_exception");
    sim.shutdown().await;
}
