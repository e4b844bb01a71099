//! API-key remotes end to end on the simulator with security on: from two empty clusters to healthy followers
//! through the operator step (the key installed with the simulator's keystore stand-in), with the key's secret
//! in no log line, no `/status`, no metric, no audit line and no error; one key however many runs; the
//! refusal to mint with an API-key credential; `--show-credentials`; preflight before and after the step.

use std::process::Stdio;
use std::time::{Duration, Instant};

use ccr_sentinel::es::FailureReason;
use ccr_sentinel::reconcile::credentials::SecretSink;
use ccr_sentinel::reconcile::{one_shot, ItemState};
use ccr_sim::{ClusterConfig, Role, Security, Sim};
use serde_json::{json, Value};

use crate::common::{
    bin_with_config, closed_port, create_leader_index, get, run_with_config, send_signal,
    wait_exit, write_config, LogCapture,
};

const PASSWORD: &str = "pw-admin-1";

/// A leader and a follower at 8.15 with security on (user `admin`, superuser, on both), the leader holding
/// `logs` (3 documents) and `metrics-1` (which the pattern, created later, leaves alone).
async fn secured_pair() -> Sim {
    let sec = || Security::new().user("admin", PASSWORD, Role::Superuser);
    let sim = Sim::builder()
        .cluster(
            ClusterConfig::new("leader")
                .version("8.15.0")
                .security(sec()),
        )
        .cluster(
            ClusterConfig::new("follower")
                .version("8.15.0")
                .security(sec()),
        )
        .start()
        .await
        .unwrap();
    create_leader_index(&sim, "logs", 3);
    create_leader_index(&sim, "metrics-1", 1);
    sim
}

/// The configuration: both clusters as `admin` (password file in `dir`), the API-key remote `leader` on the
/// leader's remote cluster server port, the follower `logs-copy`, the pattern `metrics-*`, the audit file.
fn config(sim: &Sim, dir: &std::path::Path, http_port: u16) -> String {
    std::fs::write(dir.join("pw"), PASSWORD).unwrap();
    let pw = dir.join("pw");
    format!(
        r#"
[http]
listen = "127.0.0.1:{http_port}"
[log]
level = "debug"
[schedule]
poll = "* * * * * *"
doc_counts = "* * * * * *"
reconcile = "* * * * * *"
[reconcile]
connect_timeout = "2s"
backoff_initial = "1s"
backoff_max = "2s"
[audit]
file = "{audit}"
[clusters.leader]
url = "{leader}"
username = "admin"
password_file = "{pw}"
[clusters.follower]
url = "{follower}"
username = "admin"
password_file = "{pw}"
[[remotes]]
cluster = "follower"
alias = "leader"
leader = "leader"
security = "api_key"
mode = "proxy"
proxy_address = "{proxy}"
api_key_expiration = "30d"
[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "logs"
follower_index = "logs-copy"
[[auto_follow]]
cluster = "follower"
name = "metrics"
remote = "leader"
leader_index_patterns = ["metrics-*"]
follow_index_pattern = "{{{{leader_index}}}}-copy"
"#,
        audit = dir.join("audit.jsonl").display(),
        leader = sim.url("leader"),
        follower = sim.url("follower"),
        pw = pw.display(),
        proxy = sim.remote_cluster_address("leader"),
    )
}

/// `GET path` on a simulated cluster as `admin`.
async fn admin_get(sim: &Sim, cluster: &str, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path}", sim.url(cluster)))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The cross-cluster keys ccr-sentinel made on the leader.
async fn managed_keys(sim: &Sim) -> Vec<Value> {
    let keys = admin_get(sim, "leader", "/_security/api_key?name=ccr-sentinel-*").await;
    keys["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["metadata"]["managed_by"] == "ccr-sentinel")
        .cloned()
        .collect()
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_two_empty_clusters_to_healthy_followers_through_the_operator_step() {
    let sim = secured_pair().await;
    let dir = tempfile::tempdir().unwrap();
    let keys_dir = dir.path().join("keys");
    std::fs::create_dir(&keys_dir).unwrap();
    let http_port = closed_port();
    let path = write_config(dir.path(), &config(&sim, dir.path(), http_port));
    let keys_arg = keys_dir.to_str().unwrap();

    // Preflight before anything: the remote is not there yet, no key exists.
    let before = run_with_config(&["check", "--format", "json"], &path);
    let report: Value = serde_json::from_slice(&before.stdout).unwrap();
    let status = |r: &Value, check: &str| -> Vec<String> {
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["check"] == check)
            .map(|c| c["status"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(status(&report, "api_key"), vec!["warn"], "{report:#}");
    assert_eq!(
        status(&report, "remote_privileges"),
        vec!["ok"],
        "{report:#}"
    );

    // 1. The first run sets the remote, creates the key, writes its secret and reports the operator step.
    let first = run_with_config(
        &["reconcile", "--once", "--credentials-dir", keys_arg],
        &path,
    );
    assert_eq!(first.status.code(), Some(1), "{}", text(&first));
    let out = String::from_utf8_lossy(&first.stdout).to_string();
    let file = keys_dir.join("follower.leader.credentials");
    assert!(out.contains("operator_step"), "{out}");
    assert!(
        out.contains(&format!(
            "bin/elasticsearch-keystore add --stdin --force cluster.remote.leader.credentials < {}",
            file.display()
        )),
        "{out}"
    );
    assert!(
        out.contains("create cross-cluster API key `ccr-sentinel-follower-leader`"),
        "{out}"
    );
    let secret = std::fs::read_to_string(&file).unwrap();
    assert!(secret.len() > 20, "{secret}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(!text(&first).contains(&secret), "the secret was printed");
    let keys = managed_keys(&sim).await;
    assert_eq!(keys.len(), 1, "{keys:#?}");
    let key = &keys[0];
    assert_eq!(key["type"], "cross_cluster");
    assert_eq!(key["metadata"]["remote_cluster"], "leader");
    assert_eq!(
        key["access"]["replication"][0]["names"],
        json!(["logs", "metrics-*"])
    );
    assert!(key["expiration"].as_u64().unwrap() > key["creation"].as_u64().unwrap());
    // The follower has the remote but no credentials: not connected.
    let info = admin_get(&sim, "follower", "/_remote/info").await;
    assert_eq!(info["leader"]["connected"], false, "{info}");
    assert!(
        info["leader"].get("cluster_credentials").is_none(),
        "{info}"
    );

    // 2. A second run finds the key: no second key, the same step reported.
    let second = run_with_config(
        &["reconcile", "--once", "--credentials-dir", keys_arg],
        &path,
    );
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    assert!(String::from_utf8_lossy(&second.stdout).contains("operator_step"));
    assert!(!text(&second).contains(&secret));
    assert_eq!(managed_keys(&sim).await.len(), 1);

    // Preflight names the missing keystore entry.
    let pending = run_with_config(&["check", "--format", "json"], &path);
    let report: Value = serde_json::from_slice(&pending.stdout).unwrap();
    assert_eq!(
        status(&report, "remote_security"),
        vec!["fail"],
        "{report:#}"
    );
    assert_eq!(status(&report, "api_key"), vec!["ok"], "{report:#}");
    assert!(!text(&pending).contains(&secret));

    // 3. The operator step, through the simulator's keystore stand-in (written, not loaded yet).
    let (code, _) = sim_post(
        &sim,
        "follower",
        "/_sim/keystore/leader",
        json!({ "credentials": secret }),
    )
    .await;
    assert_eq!(code, 200);

    // 4. The daemon reloads the secure settings, sees the remote connected with credentials, and follows.
    let mut child = bin_with_config(&["run"], &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drained while it runs, so a full pipe never stalls the daemon.
    let drain = |r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let mut r = r;
            let _ = std::io::Read::read_to_string(&mut r, &mut s);
            s
        })
    };
    let out_thread = drain(Box::new(child.stdout.take().unwrap()));
    let err_thread = drain(Box::new(child.stderr.take().unwrap()));
    let base = format!("http://127.0.0.1:{http_port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let healthy = |body: &str, name: &str| {
        body.lines().any(|l| {
            l.starts_with("ccr_sentinel_follower_state")
                && l.contains(&format!("follower_index=\"{name}\""))
                && l.contains("state=\"healthy\"")
                && l.ends_with(" 1")
        })
    };
    let metrics = loop {
        let body = match reqwest::get(format!("{base}/metrics")).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if healthy(&body, "logs-copy") {
            // Auto-follow takes indices created after the pattern: a new one goes through the key's `metrics-*`.
            if sim.cluster("leader").state()["indices"]
                .get("metrics-2")
                .is_none()
            {
                create_leader_index(&sim, "metrics-2", 1);
            }
            if healthy(&body, "metrics-2-copy") {
                break body;
            }
        }
        assert!(
            Instant::now() < deadline,
            "followers not healthy within 30s: {}",
            crate::common::current_states(&body).join("\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (_, status_body) = get(&format!("{base}/status")).await;
    send_signal(&child, "TERM");
    wait_exit(&mut child, Instant::now(), Duration::from_secs(10), "run");
    let logs = format!(
        "{}{}",
        out_thread.join().unwrap(),
        err_thread.join().unwrap()
    );
    assert!(
        logs.contains("reload"),
        "the daemon logged no reload: {logs}"
    );
    let info = admin_get(&sim, "follower", "/_remote/info").await;
    assert_eq!(info["leader"]["connected"], true, "{info}");
    assert_eq!(info["leader"]["cluster_credentials"], "::es_redacted::");
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(
        audit.contains("\"action\":\"reload_secure_settings\"")
            && audit.contains("\"action\":\"create_cross_cluster_api_key\""),
        "{audit}"
    );
    for (what, body) in [
        ("logs", &logs),
        ("/status", &status_body),
        ("/metrics", &metrics),
        ("audit", &audit),
    ] {
        assert!(!body.contains(&secret), "the secret is in {what}");
        // Nor its halves (`id:api_key` is what the encoded value holds).
        let decoded = String::from_utf8(
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, secret.trim())
                .unwrap(),
        )
        .unwrap();
        let (_, api_key) = decoded.split_once(':').unwrap();
        assert!(
            !body.contains(api_key),
            "the key's secret half is in {what}"
        );
    }
    assert!(!logs.contains(PASSWORD));
    assert_eq!(managed_keys(&sim).await.len(), 1);

    // Preflight after the step: the model, the key and the privileges pass.
    let after = run_with_config(&["check", "--format", "json"], &path);
    let report: Value = serde_json::from_slice(&after.stdout).unwrap();
    for check in ["remote_security", "api_key", "remote_privileges"] {
        assert_eq!(status(&report, check), vec!["ok"], "{check}: {report:#}");
    }
    assert!(!text(&after).contains(&secret));
    sim.shutdown().await;
}

/// POST to a simulated cluster (the `/_sim/` control plane needs no credentials).
async fn sim_post(sim: &Sim, cluster: &str, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", sim.url(cluster)))
        .json(&body)
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_credential_on_the_leader_cannot_mint_and_is_told_so() {
    let sec = Security::new()
        .user("admin", PASSWORD, Role::Superuser)
        .api_key("svc", "svc-secret-1", "admin", Role::Superuser);
    let sim = Sim::builder()
        .cluster(
            ClusterConfig::new("leader")
                .version("8.15.0")
                .security(sec.clone()),
        )
        .cluster(
            ClusterConfig::new("follower")
                .version("8.15.0")
                .security(sec),
        )
        .start()
        .await
        .unwrap();
    create_leader_index(&sim, "logs", 1);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key"), "c3ZjOnN2Yy1zZWNyZXQtMQ==").unwrap();
    let text = config(&sim, dir.path(), closed_port()).replacen(
        "username = \"admin\"",
        &format!("api_key_file = \"{}\"", dir.path().join("key").display()),
        1,
    );
    let text = text.replacen(
        &format!("password_file = \"{}\"\n", dir.path().join("pw").display()),
        "",
        1,
    );
    let cfg = ccr_sentinel::config::from_toml_str(&text).unwrap();
    let shown = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let r = one_shot(cfg, false)
        .unwrap()
        .with_secret_sink(SecretSink::Collect(shown.clone()));
    let report = r.run_once().await;
    let i = report.items.iter().find(|i| i.name == "leader").unwrap();
    assert_eq!(
        (i.state, i.reason),
        (ItemState::Blocked, Some(FailureReason::Unsupported)),
        "{i:#?}"
    );
    let m = i.message.as_deref().unwrap();
    assert!(
        m.contains("are an API key") && m.contains("PR #96401") && m.contains("username"),
        "{m}"
    );
    assert!(shown.lock().unwrap().is_empty());
    assert!(managed_keys(&sim).await.is_empty());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_credentials_prints_a_working_key_once() {
    let sim = secured_pair().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &config(&sim, dir.path(), closed_port()));
    // JSON output and the secret on stdout do not mix.
    let refused = run_with_config(
        &[
            "reconcile",
            "--once",
            "--show-credentials",
            "--format",
            "json",
        ],
        &path,
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(managed_keys(&sim).await.is_empty());
    let out = run_with_config(&["reconcile", "--once", "--show-credentials"], &path);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let keys = managed_keys(&sim).await;
    assert_eq!(keys.len(), 1);
    let id = keys[0]["id"].as_str().unwrap();
    let line = stdout
        .lines()
        .skip_while(|l| !l.contains(&format!("cross-cluster API key `{id}`")))
        .nth(1)
        .unwrap_or_else(|| panic!("no secret shown: {stdout}"))
        .to_string();
    assert_eq!(stdout.matches(&line).count(), 1, "{stdout}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&line));
    // It is the key: installed, the next run connects and follows.
    sim.cluster("follower")
        .keystore_add("leader", &line)
        .unwrap();
    let again = run_with_config(&["reconcile", "--once"], &path);
    let again_text = text(&again);
    assert!(!again_text.contains(&line));
    let info = admin_get(&sim, "follower", "/_remote/info").await;
    assert_eq!(info["leader"]["connected"], true, "{info}\n{again_text}");
    assert!(again_text.contains("logs-copy"), "{again_text}");
    assert_eq!(managed_keys(&sim).await.len(), 1);
    // A leader index added to the configuration widens the same key in place: nothing to reinstall.
    create_leader_index(&sim, "orders", 2);
    let widened = std::fs::read_to_string(&path).unwrap()
        + "[[followers]]\ncluster = \"follower\"\nremote = \"leader\"\nleader_index = \"orders\"\nfollower_index = \"orders-copy\"\n";
    std::fs::write(&path, widened).unwrap();
    let third = run_with_config(&["reconcile", "--once"], &path);
    let third_text = text(&third);
    assert_eq!(third.status.code(), Some(0), "{third_text}");
    assert!(
        third_text.contains(&format!("widen cross-cluster API key `{id}`")),
        "{third_text}"
    );
    let keys = managed_keys(&sim).await;
    assert_eq!(keys.len(), 1);
    assert_eq!(
        keys[0]["access"]["replication"][0]["names"],
        json!(["logs", "metrics-*", "orders"])
    );
    assert!(sim.cluster("follower").state()["followers"]
        .get("orders-copy")
        .is_some());
    assert!(!third_text.contains(&line));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_place_for_the_secret_no_key_is_made_and_a_dry_run_sends_nothing() {
    let sim = secured_pair().await;
    let dir = tempfile::tempdir().unwrap();
    let text = config(&sim, dir.path(), closed_port());
    // The daemon's reconciler has no secret sink: it says how to create the key, and creates none.
    let cfg = ccr_sentinel::config::from_toml_str(&text).unwrap();
    let report = one_shot(cfg, false).unwrap().run_once().await;
    let i = report.items.iter().find(|i| i.name == "leader").unwrap();
    assert_eq!(
        (i.state, i.reason),
        (ItemState::Blocked, Some(FailureReason::OperatorStep)),
        "{i:#?}"
    );
    assert!(
        i.message
            .as_deref()
            .unwrap()
            .contains("ccr-sentinel reconcile --once --credentials-dir DIR"),
        "{i:#?}"
    );
    assert!(managed_keys(&sim).await.is_empty());
    // A dry run with a sink plans the key and sends nothing.
    let sim2 = secured_pair().await;
    let cfg =
        ccr_sentinel::config::from_toml_str(&config(&sim2, dir.path(), closed_port())).unwrap();
    let shown = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let report = one_shot(cfg, true)
        .unwrap()
        .with_secret_sink(SecretSink::Collect(shown.clone()))
        .run_once()
        .await;
    let i = report.items.iter().find(|i| i.name == "leader").unwrap();
    assert_eq!(i.state, ItemState::Planned, "{i:#?}");
    assert!(
        i.actions
            .iter()
            .any(|a| a.starts_with("create cross-cluster API key `ccr-sentinel-follower-leader`")),
        "{i:#?}"
    );
    assert!(shown.lock().unwrap().is_empty());
    assert!(managed_keys(&sim2).await.is_empty());
    let info = admin_get(&sim2, "follower", "/_remote/info").await;
    assert!(info.get("leader").is_none(), "{info}");
    sim.shutdown().await;
    sim2.shutdown().await;
}

/// One reconcile pass of the daemon's reconciler with a sink that keeps new secrets; the pass's report of the
/// remote `leader` and the secrets it created.
async fn reconcile_leader(cfg_text: &str) -> (ccr_sentinel::reconcile::ItemReport, Vec<String>) {
    use secrecy::ExposeSecret;
    let cfg = ccr_sentinel::config::from_toml_str(cfg_text).unwrap();
    let shown = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let report = one_shot(cfg, false)
        .unwrap()
        .with_secret_sink(SecretSink::Collect(shown.clone()))
        .run_once()
        .await;
    let item = report
        .items
        .iter()
        .find(|i| i.name == "leader")
        .unwrap()
        .clone();
    let secrets = shown
        .lock()
        .unwrap()
        .iter()
        .map(|k| k.credentials.expose_secret().to_string())
        .collect();
    (item, secrets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_key_is_not_reused_a_new_one_is_minted_and_the_operator_step_reported_again() {
    let sec = || Security::new().user("admin", PASSWORD, Role::Superuser);
    let sim = Sim::builder()
        .cluster(
            ClusterConfig::new("leader")
                .version("8.15.0")
                .security(sec()),
        )
        .cluster(
            ClusterConfig::new("follower")
                .version("8.15.0")
                .security(sec()),
        )
        .deterministic_clock()
        .start()
        .await
        .unwrap();
    create_leader_index(&sim, "logs", 3);
    let dir = tempfile::tempdir().unwrap();
    let text = config(&sim, dir.path(), closed_port()).replace(
        r#"api_key_expiration = "30d""#,
        r#"api_key_expiration = "1d""#,
    );
    let connected =
        |sim: &Sim| sim.cluster("follower").state()["remotes"]["leader"]["connected"] == true;
    let logs = LogCapture::start();

    // The first key, installed: connected.
    let (first, secrets) = reconcile_leader(&text).await;
    assert_eq!(
        first.reason,
        Some(FailureReason::OperatorStep),
        "{first:#?}"
    );
    let [old] = secrets.as_slice() else {
        panic!("one key minted: {secrets:?}")
    };
    sim.cluster("follower").keystore_add("leader", old).unwrap();
    let (installed, _) = reconcile_leader(&text).await;
    assert_ne!(
        installed.reason,
        Some(FailureReason::OperatorStep),
        "{installed:#?}"
    );
    assert!(connected(&sim));
    let keys = managed_keys(&sim).await;
    assert_eq!(keys.len(), 1);
    let old_id = keys[0]["id"].as_str().unwrap().to_string();

    // A day later the key has expired and the remote cannot authenticate: the next pass mints a second key
    // and reports the operator step for it.
    sim.advance(Duration::from_secs(86_400 + 60)).unwrap();
    assert!(!connected(&sim));
    let (expired, secrets) = reconcile_leader(&text).await;
    let [new] = secrets.as_slice() else {
        panic!("one key minted again: {secrets:?} {expired:#?}")
    };
    assert_eq!(
        (expired.state, expired.reason),
        (ItemState::Blocked, Some(FailureReason::OperatorStep)),
        "{expired:#?}"
    );
    let keys = managed_keys(&sim).await;
    let new_id = keys
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .find(|id| *id != old_id)
        .expect("a second key")
        .to_string();
    let message = expired.message.clone().unwrap();
    assert!(
        message.contains(&format!("key id `{new_id}`"))
            && message.contains("keystore add --force cluster.remote.leader.credentials"),
        "{message}"
    );
    assert!(
        expired
            .actions
            .iter()
            .any(|a| a.starts_with("create cross-cluster API key")),
        "{expired:#?}"
    );

    // The operator replaces the key in the keystore; the next pass reloads it and the remote connects.
    sim.cluster("follower").keystore_add("leader", new).unwrap();
    let (replaced, secrets) = reconcile_leader(&text).await;
    assert!(secrets.is_empty(), "nothing minted once installed");
    assert_ne!(
        replaced.reason,
        Some(FailureReason::OperatorStep),
        "{replaced:#?}"
    );
    assert!(connected(&sim));
    let logged = logs.text();
    assert!(
        logged.contains("created the cross-cluster API key of the remote"),
        "the new keys are logged (by id)"
    );
    let reports: Vec<String> = [&first, &installed, &expired, &replaced]
        .iter()
        .map(|i| format!("{i:?}"))
        .collect();
    for text in reports.iter().chain(std::iter::once(&logged)) {
        for s in [old, new] {
            assert!(
                !text.contains(s.as_str()),
                "a secret in a report or the logs"
            );
        }
    }
    sim.shutdown().await;
}
