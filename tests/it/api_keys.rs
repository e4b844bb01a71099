//! API-key remotes on the simulator with security on: the key's expiry watched (metric, alert condition, the
//! follower's reason), the daemon's own credential (metric, the policy that refuses to resume with it, the
//! principal in the audit), and `rotate-key` (the operator step through the simulator's keystore stand-in, no
//! disconnect, interrupted after every step and re-run). No secret appears in `/status`, `/metrics`, the audit
//! file or the command's output in any of them.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ccr_sim::{ClusterConfig, Role, Security, Sim};
use serde_json::{json, Value};

use super::common::{
    must, run_cli, sample, wait_until, write_config, LogCapture, Running, SimTime,
};

const PASSWORD: &str = "s3cret-password";

/// A `leader` and a `follower` (8.15, security on, user `elastic` superuser on both), the leader holding `logs`.
async fn secured_pair() -> Sim {
    secured_pair_on(false).await
}

/// [`secured_pair`], on a deterministic clock (time moves only by `Sim::advance`) when `deterministic`.
async fn secured_pair_on(deterministic: bool) -> Sim {
    let sec = || Security::new().user("elastic", PASSWORD, Role::Superuser);
    let mut builder = Sim::builder()
        .cluster(ClusterConfig::new("leader").security(sec()))
        .cluster(ClusterConfig::new("follower").security(sec()));
    if deterministic {
        builder = builder.deterministic_clock();
    }
    let sim = builder.start().await.unwrap();
    must(
        sim.cluster("leader").request(
            "PUT",
            "/logs",
            Some(json!({"settings": {"index.number_of_shards": 1}})),
        ),
        "leader index",
    );
    sim.cluster("leader").index_docs("logs", 5).unwrap();
    sim
}

/// A request as `elastic` over HTTP (the security endpoints need an authenticated caller).
async fn es(sim: &Sim, cluster: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let c = reqwest::Client::new();
    let mut r = c
        .request(
            method.parse().unwrap(),
            format!("{}{path}", sim.url(cluster)),
        )
        .basic_auth("elastic", Some(PASSWORD));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    v
}

/// Mints the remote's cross-cluster key on the leader as ccr-sentinel's reconcile does (its metadata); returns
/// the id and the encoded credential.
async fn mint(sim: &Sim, expiration: &str) -> (String, String) {
    let v = es(
        sim,
        "leader",
        "POST",
        "/_security/cross_cluster/api_key",
        Some(json!({"name": "ccr-sentinel-leader", "access": {"replication": [{"names": ["logs"]}]},
            "expiration": expiration,
            "metadata": {"managed_by": "ccr-sentinel", "remote_cluster": "leader", "follower_cluster": "follower"}})),
    )
    .await;
    (
        v["id"].as_str().unwrap().to_string(),
        v["encoded"].as_str().unwrap().to_string(),
    )
}

/// The operator step through the keystore stand-in: the key in the follower's keystore, then reloaded.
fn install(sim: &Sim, encoded: &str) {
    sim.cluster("follower")
        .keystore_add("leader", encoded)
        .unwrap();
    sim.cluster("follower").reload_secure_settings();
}

/// The follower connected to the leader's remote cluster server with `encoded`, following `logs` as `logs-copy`.
async fn api_key_remote(sim: &Sim, encoded: &str) {
    install(sim, encoded);
    must(
        sim.cluster("follower").request(
            "PUT",
            "/_cluster/settings",
            Some(json!({"persistent": {"cluster.remote.leader.seeds": [sim.remote_cluster_address("leader")]}})),
        ),
        "remote settings",
    );
    sim.cluster("follower")
        .follow("logs-copy", "leader", "logs")
        .unwrap();
    if sim.is_deterministic() {
        // The restore ends, and the shard tasks start, as simulated time passes.
        sim.advance(Duration::from_secs(2)).unwrap();
    }
    let f = sim.cluster("follower");
    wait_until("logs-copy following", Duration::from_secs(10), || {
        f.state()["followers"]["logs-copy"]["status"] == "active"
    })
    .await;
}

fn remote_connected(sim: &Sim) -> bool {
    sim.cluster("follower").state()["remotes"]["leader"]["connected"] == true
}

/// The daemon's configuration: both clusters as `elastic` (or the follower with `follower_api_key`), the
/// API-key remote, `logs-copy`, the state and audit in `dir`, and `extra`.
fn config(sim: &Sim, dir: &Path, follower_api_key: Option<&str>, extra: &str) -> String {
    let follower_auth = match follower_api_key {
        Some(k) => format!("api_key = \"{k}\""),
        None => format!("username = \"elastic\"\npassword = \"{PASSWORD}\""),
    };
    format!(
        r#"
[http]
listen = "127.0.0.1:0"
[schedule]
poll = "* * * * * *"
doc_counts = "* * * * * *"
[clusters.leader]
url = "{leader}"
timeout = "2s"
username = "elastic"
password = "{PASSWORD}"
[clusters.follower]
url = "{follower}"
timeout = "2s"
{follower_auth}
[[remotes]]
cluster = "follower"
alias = "leader"
leader = "leader"
security = "api_key"
seeds = ["{seeds}"]
[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "logs"
follower_index = "logs-copy"
[audit]
file = "{audit}"
[policy]
state_dir = "{state}"
{extra}
"#,
        leader = sim.url("leader"),
        follower = sim.url("follower"),
        seeds = sim.remote_cluster_address("leader"),
        audit = dir.join("audit.jsonl").display(),
        state = dir.join("state").display(),
    )
}

/// None of `secrets` (nor the password) appears in `text`.
fn no_secret(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets.iter().chain(std::iter::once(&PASSWORD)) {
        assert!(!text.contains(s), "{what} shows a secret");
    }
}

/// The secret half of an encoded key (`base64(id:secret)`), so the check also catches it decoded.
fn secret_of(encoded: &str) -> String {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let s = String::from_utf8(raw).unwrap();
    s.split_once(':').unwrap().1.to_string()
}

/// The metric of the remote's key, in seconds, once the daemon shows one satisfying `pred`.
async fn key_seconds(d: &Running, what: &str, pred: impl Fn(f64) -> bool) -> f64 {
    let body = d
        .wait_for("/metrics", 15, |b| sample(b, KEY_SERIES).is_some_and(&pred))
        .await;
    let left = sample(&body, KEY_SERIES).unwrap();
    assert!(pred(left), "{what}: {left}");
    left
}

const KEY_SERIES: &str = r#"ccr_sentinel_remote_api_key_expiry_seconds{follower_cluster="follower",remote_cluster="leader"}"#;

/// Below this many seconds `CcrRemoteApiKeyExpiring` fires ([`ALERT_EXPR`]).
const ALERT_BELOW: f64 = 14.0 * 86_400.0;
const ALERT_EXPR: &str = "ccr_sentinel_remote_api_key_expiry_seconds < 14 * 86400";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_expiry_in_simulated_time_counts_down_then_names_the_expired_key() {
    const DAY: f64 = 86_400.0;
    let rules = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("prometheus/ccr-sentinel.rules.yml"),
    )
    .unwrap();
    assert!(rules.contains(ALERT_EXPR), "the alert rule changed");
    let sim = secured_pair_on(true).await;
    let (id, encoded) = mint(&sim, "1d").await;
    api_key_remote(&sim, &encoded).await;
    // The daemon judges the key on the simulator's time: stepping both moves days in milliseconds.
    let t = SimTime::new(&sim);
    let dir = tempfile::tempdir().unwrap();
    let cfg = ccr_sentinel::config::from_toml_str(&config(&sim, dir.path(), None, "")).unwrap();
    let stages = ccr_sentinel::daemon::Stages {
        policy: true,
        reconcile: false,
    };
    let daemon = ccr_sentinel::daemon::build_with(cfg, stages)
        .unwrap()
        .with_clock(t.clock());
    let logs = LogCapture::start();
    let d = Running::serve(daemon).await;

    // A day left (less the seconds the set-up took): the alert condition holds from the start.
    let left = key_seconds(&d, "about a day", |s| s > DAY - 60.0 && s <= DAY).await;
    assert!(left < ALERT_BELOW, "{left}");
    let status = d
        .wait_for("/status", 10, |b| b.contains(r#""state":"healthy""#))
        .await;

    // Twelve hours later the metric has counted down by them; the remote is still connected.
    t.advance(&sim, Duration::from_secs(12 * 3600));
    let half = key_seconds(&d, "half a day", |s| s > DAY / 2.0 - 60.0 && s <= DAY / 2.0).await;
    assert!(half < left && remote_connected(&sim));

    // Ten minutes past the day the key has expired: the remote disconnects, and the follower says why (well
    // inside the 12h retention lease period, after which it would need re-following).
    t.advance(&sim, Duration::from_secs(12 * 3600 + 600));
    let expired = d
        .wait_for("/status", 15, |b| b.contains("expired at"))
        .await;
    assert!(!remote_connected(&sim));
    let v: Value = serde_json::from_str(&expired).unwrap();
    let f = v["followers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["follower_index"] == "logs-copy")
        .unwrap()
        .clone();
    assert_eq!(f["state"], "remote_disconnected", "{f}");
    let reason = f["reasons"].to_string();
    assert!(
        reason.contains(&format!("its cross-cluster API key `{id}` expired at")),
        "{reason}"
    );
    assert_eq!(f["remote_key"]["kind"], "expired");
    // Negative by the time since it ran out: the alert keeps firing.
    let after = key_seconds(&d, "past expiry", |s| s > -660.0 && s <= -600.0).await;
    assert!(after < ALERT_BELOW);
    let (_, metrics) = d.get("/metrics").await;
    d.stop().await;
    let logged = logs.text();
    assert!(
        logged.contains(&format!("its cross-cluster API key `{id}` expired at")),
        "the state change is logged with its reason"
    );
    let secrets = [encoded.as_str(), &secret_of(&encoded)];
    for (what, text) in [
        ("/status", &status),
        ("/status", &expired),
        ("/metrics", &metrics),
        ("logs", &logged),
    ] {
        no_secret(what, text, &secrets);
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidated_key_is_named_in_the_reason() {
    let sim = secured_pair().await;
    let (id, encoded) = mint(&sim, "30d").await;
    api_key_remote(&sim, &encoded).await;
    let dir = tempfile::tempdir().unwrap();
    let logs = LogCapture::start();
    let d = Running::start(&config(&sim, dir.path(), None, "")).await;
    let series = r#"ccr_sentinel_remote_api_key_expiry_seconds{follower_cluster="follower",remote_cluster="leader"}"#;
    let metrics = d
        .wait_for("/metrics", 10, |b| sample(b, series).is_some())
        .await;
    // 30 days: no alert.
    assert!(sample(&metrics, series).unwrap() > 14.0 * 86_400.0);
    es(
        &sim,
        "leader",
        "DELETE",
        "/_security/api_key",
        Some(json!({"ids": [id.clone()]})),
    )
    .await;
    let status = d
        .wait_for("/status", 10, |b| b.contains("was invalidated"))
        .await;
    assert!(status.contains(&format!("its cross-cluster API key `{id}` was invalidated")));
    d.stop().await;
    for (what, text) in [("/status", &status), ("logs", &logs.text())] {
        no_secret(what, text, &[&encoded, &secret_of(&encoded)]);
    }
    sim.shutdown().await;
}

/// An API key on the follower for ccr-sentinel itself (owner `elastic`, its privileges), expiring as given.
async fn daemon_key(sim: &Sim, expiration: &str) -> (String, String) {
    let v = es(
        sim,
        "follower",
        "POST",
        "/_security/api_key",
        Some(json!({"name": "ccr-sentinel", "expiration": expiration})),
    )
    .await;
    (
        v["id"].as_str().unwrap().to_string(),
        v["encoded"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_resume_with_a_credential_inside_the_margin_and_the_principal_is_audited() {
    let sim = secured_pair().await;
    let (_, encoded) = mint(&sim, "30d").await;
    api_key_remote(&sim, &encoded).await;
    let (own_id, own) = daemon_key(&sim, "2d").await;
    let logs = LogCapture::start();
    let policy = "resume_unexpected_pause = true\nresume_unexpected_pause_grace = \"1s\"\n";
    // Inside the default 7-day margin: the pause someone made is left, and /status says why.
    let dir = tempfile::tempdir().unwrap();
    let d = Running::start(&config(&sim, dir.path(), Some(&own), policy)).await;
    let series = r#"ccr_sentinel_credential_expiry_seconds{cluster="follower"}"#;
    let metrics = d
        .wait_for("/metrics", 10, |b| sample(b, series).is_some())
        .await;
    let left = sample(&metrics, series).unwrap();
    assert!(left > 86_400.0 && left <= 2.0 * 86_400.0, "{left}");
    must(
        sim.cluster("follower")
            .request("POST", "/logs-copy/_ccr/pause_follow", None),
        "pause",
    );
    let status = d
        .wait_for("/status", 15, |b| b.contains("credential_expiry_margin"))
        .await;
    assert!(status.contains(&format!("API key `{own_id}`")), "{status}");
    assert_eq!(
        sim.cluster("follower").state()["followers"]["logs-copy"]["status"],
        "paused"
    );
    no_secret("/status", &status, &[&own, &secret_of(&own), &encoded]);
    d.stop().await;

    // A margin of one day: resumed, and the audit names the key the follower now runs as.
    let dir = tempfile::tempdir().unwrap();
    let d = Running::start(&config(
        &sim,
        dir.path(),
        Some(&own),
        &format!("{policy}credential_expiry_margin = \"1d\"\n"),
    ))
    .await;
    let f = sim.cluster("follower");
    wait_until("logs-copy resumed", Duration::from_secs(15), || {
        f.state()["followers"]["logs-copy"]["status"] == "active"
    })
    .await;
    let status = d
        .wait_for("/status", 10, |b| {
            b.contains("started_as") && b.contains("resume_follow")
        })
        .await;
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let resume: Value = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["action"] == "resume_follow" && e["result"] == "success")
        .expect("a resume in the audit");
    assert!(
        resume["principal"]
            .as_str()
            .unwrap()
            .starts_with(&format!("API key `{own_id}`")),
        "{resume}"
    );
    d.stop().await;
    for (what, text) in [
        ("/status", &status),
        ("audit", &audit),
        ("logs", &logs.text()),
    ] {
        no_secret(what, text, &[&own, &secret_of(&own), &encoded]);
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_key_replaces_the_key_without_a_disconnect() {
    let sim = Arc::new(secured_pair().await);
    let (old_id, old) = mint(&sim, "10d").await;
    api_key_remote(&sim, &old).await;
    let logs = LogCapture::start();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &config(&sim, dir.path(), None, ""));
    let d = Running::start(&config(&sim, dir.path(), None, "")).await;
    d.wait_for("/status", 10, |b| b.contains(r#""state":"healthy""#))
        .await;
    // Watch the connection all along, much more often than a poll.
    let dropped = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let watch = {
        let (sim, dropped, stop) = (sim.clone(), dropped.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if !remote_connected(&sim) {
                    dropped.store(true, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let cli = |extra: &[&str]| {
        let mut a: Vec<String> = vec!["rotate-key".into(), "leader".into(), "--config".into()];
        a.push(path.display().to_string());
        a.extend(extra.iter().map(|s| s.to_string()));
        run_cli(a)
    };
    // Dry run: every step, nothing sent.
    let out = cli(&["--dry-run"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("would mint") && text.contains("would invalidate key"),
        "{text}"
    );

    // Without a place for the secret nothing is minted.
    let out = cli(&[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--secret-file"));
    let keys = es(&sim, "leader", "GET", "/_security/api_key?owner=true", None).await;
    assert_eq!(
        keys["api_keys"].as_array().unwrap().len(),
        1,
        "nothing minted"
    );

    let secret_file = dir.path().join("new.key");
    let out = cli(&["--secret-file", secret_file.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(1), "waits for the operator");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains(
            "bin/elasticsearch-keystore add --stdin --force cluster.remote.leader.credentials"
        ),
        "{text}"
    );
    let new = std::fs::read_to_string(&secret_file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(dir
        .path()
        .join("state/runbooks/rotate-key/follower__leader.json")
        .exists());
    // Re-running before the operator step mints nothing more: it shows the step again.
    let out = cli(&["--secret-file", secret_file.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("waiting"));

    // The operator step, through the keystore stand-in; rotate-key reloads.
    sim.cluster("follower")
        .keystore_add("leader", &new)
        .unwrap();
    let out = cli(&["--installed"]).await;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("invalidated key `{old_id}`")),
        "{text}"
    );
    let keys = es(&sim, "leader", "GET", "/_security/api_key?owner=true", None).await;
    let keys = keys["api_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "one key minted: {keys:?}");
    assert!(keys
        .iter()
        .any(|k| k["id"] == old_id.as_str() && k["invalidated"] == true));
    let fresh = keys.iter().find(|k| k["id"] != old_id.as_str()).unwrap();
    assert_eq!(fresh["invalidated"], false);
    assert_eq!(fresh["access"]["replication"][0]["names"], json!(["logs"]));
    assert!(!dir
        .path()
        .join("state/runbooks/rotate-key/follower__leader.json")
        .exists());
    // Healthy on the new key, never disconnected.
    d.wait_for("/status", 10, |b| b.contains(r#""state":"healthy""#))
        .await;
    stop.store(true, Ordering::Relaxed);
    watch.await.unwrap();
    assert!(!dropped.load(Ordering::Relaxed), "the remote disconnected");
    assert!(remote_connected(&sim));

    let (_, status) = d.get("/status").await;
    let (_, metrics) = d.get("/metrics").await;
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("create_cross_cluster_api_key") && audit.contains("invalidate_api_key"));
    let secrets = [
        old.as_str(),
        new.as_str(),
        &secret_of(&old),
        &secret_of(&new),
    ];
    for (what, t) in [
        ("/status", &status),
        ("/metrics", &metrics),
        ("audit", &audit),
        ("output", &text),
        ("logs", &logs.text()),
    ] {
        no_secret(what, t, &secrets);
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_key_interrupted_after_every_step_converges() {
    use ccr_sentinel::act::runbook::{rotate_key, RotateCtx, RotateOptions, RotationStore};
    let sim = secured_pair().await;
    let (old_id, old) = mint(&sim, "10d").await;
    api_key_remote(&sim, &old).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = ccr_sentinel::config::from_toml_str(&config(&sim, dir.path(), None, "")).unwrap();
    let exec =
        ccr_sentinel::act::Executor::new(ccr_sentinel::es::Clients::from_config(&cfg).unwrap());
    let store = RotationStore::new(cfg.policy.state_dir.as_deref());
    let secret: Arc<Mutex<Option<String>>> = Arc::default();
    let mut steps = Vec::new();
    let (mut finished, mut installed) = (false, false);
    for _ in 0..10 {
        let opts = RotateOptions {
            installed,
            reconnect_timeout: Duration::from_secs(5),
            poll_interval: Duration::from_millis(50),
            secret_file: None,
            can_deliver: true,
        };
        let s = secret.clone();
        let mut deliver = move |k: &secrecy::SecretString| {
            use secrecy::ExposeSecret;
            *s.lock().unwrap() = Some(k.expose_secret().to_string());
            Ok("was kept by the test".to_string())
        };
        // Every run stops after its first step, as a crash there would.
        let mut hook = |r: &ccr_sentinel::act::runbook::RotateReport| {
            steps.push(r.step.as_str().to_string());
            ControlFlow::Break(())
        };
        let ctx = RotateCtx {
            exec: &exec,
            cfg: &cfg,
            store: &store,
        };
        let out = rotate_key(ctx, "follower", "leader", &opts, &mut deliver, &mut hook)
            .await
            .unwrap();
        if out.finished {
            finished = true;
            break;
        }
        if out.waiting_for_operator.is_some() {
            // The operator installs the key and confirms it.
            let k = secret.lock().unwrap().clone().unwrap();
            sim.cluster("follower").keystore_add("leader", &k).unwrap();
            installed = true;
        }
        assert!(remote_connected(&sim), "disconnected after {steps:?}");
    }
    assert!(finished, "{steps:?}");
    // Each step once; the wait for the reconnect is a look, skipped as the remote never dropped.
    assert_eq!(
        steps,
        ["mint", "operator_step", "reload", "invalidate"],
        "each step once"
    );
    let keys = es(&sim, "leader", "GET", "/_security/api_key?owner=true", None).await;
    let usable: Vec<&Value> = keys["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["invalidated"] == false)
        .collect();
    assert_eq!(usable.len(), 1, "{keys}");
    assert_ne!(usable[0]["id"], old_id.as_str());
    assert!(remote_connected(&sim));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_minted_by_a_run_that_died_is_invalidated_and_minted_again() {
    use ccr_sentinel::act::runbook::{rotate_key, RotateCtx, RotateOptions, RotationStore};
    let sim = secured_pair().await;
    let (old_id, old) = mint(&sim, "10d").await;
    api_key_remote(&sim, &old).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = ccr_sentinel::config::from_toml_str(&config(&sim, dir.path(), None, "")).unwrap();
    // A run died after the leader created its key and before the record named it.
    let orphan = es(
        &sim,
        "leader",
        "POST",
        "/_security/cross_cluster/api_key",
        Some(json!({"name": "ccr-sentinel-leader", "access": {"replication": [{"names": ["logs"]}]},
            "metadata": {"managed_by": "ccr-sentinel", "remote_cluster": "leader", "follower_cluster": "follower",
                "rotation": "n1"}})),
    )
    .await["id"]
    .as_str()
    .unwrap()
    .to_string();
    let records = dir.path().join("state/runbooks/rotate-key");
    std::fs::create_dir_all(&records).unwrap();
    std::fs::write(
        records.join("follower__leader.json"),
        json!({"cluster": "follower", "alias": "leader", "leader_cluster": "leader",
            "started_at": "2026-01-01T00:00:00Z", "nonce": "n1", "pending": "mint"})
        .to_string(),
    )
    .unwrap();
    let exec =
        ccr_sentinel::act::Executor::new(ccr_sentinel::es::Clients::from_config(&cfg).unwrap());
    let store = RotationStore::new(cfg.policy.state_dir.as_deref());
    let opts = RotateOptions {
        installed: false,
        reconnect_timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(50),
        secret_file: None,
        can_deliver: true,
    };
    let mut deliver = |_: &secrecy::SecretString| Ok("was kept by the test".to_string());
    let mut hook = |_: &ccr_sentinel::act::runbook::RotateReport| ControlFlow::Continue(());
    let ctx = RotateCtx {
        exec: &exec,
        cfg: &cfg,
        store: &store,
    };
    let out = rotate_key(ctx, "follower", "leader", &opts, &mut deliver, &mut hook)
        .await
        .unwrap();
    assert!(out.waiting_for_operator.is_some(), "{out:?}");
    let keys = es(&sim, "leader", "GET", "/_security/api_key?owner=true", None).await;
    let keys = keys["api_keys"].as_array().unwrap();
    let usable: Vec<&str> = keys
        .iter()
        .filter(|k| k["invalidated"] == false)
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(usable.len(), 2, "the old key and one new key: {keys:?}");
    assert!(usable.contains(&old_id.as_str()) && !usable.contains(&orphan.as_str()));
}
