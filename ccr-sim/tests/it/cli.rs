//! The `ccr-sim` binary as users run it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;

const BIN: &str = env!("CARGO_BIN_EXE_ccr-sim");

#[test]
fn help_documents_every_flag() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--cluster",
        "--version",
        "--license",
        "--scenario",
        "--deterministic",
        "--seed",
        "--security",
        "--user",
        "--api-key",
        "--security-file",
        "NAME=ADDR[@VERSION]",
        "trial",
        "basic",
        "expired",
    ] {
        assert!(
            text.contains(flag),
            "--help does not mention {flag}:\n{text}"
        );
    }
}

#[test]
fn bad_arguments_fail_with_a_message() {
    for args in [
        vec!["--cluster", "leader"],
        vec!["--cluster", "leader=not-an-address"],
        vec!["--cluster", "leader=127.0.0.1:0@5.0.0"],
        vec!["--cluster", "leader=127.0.0.1:0", "--version", "banana"],
        vec![
            "--cluster",
            "leader=127.0.0.1:0",
            "--scenario",
            "/nonexistent/scenario.toml",
        ],
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.trim().is_empty(), "{args:?}: no message");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn runs_clusters_with_per_cluster_versions_and_a_scenario() {
    let dir = std::env::temp_dir().join(format!("ccr-sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("scenario.toml");
    std::fs::write(&scenario, "[[event]]\nat = \"0s\"\ncluster = \"leader\"\naction = \"create_index\"\nindex = \"from-scenario\"\n").unwrap();
    let (lp, fp) = (free_port(), free_port());
    let mut child = Command::new(BIN)
        .args([
            "--cluster",
            &format!("leader=127.0.0.1:{lp}"),
            "--cluster",
            &format!("follower=127.0.0.1:{fp}@7.17.0"),
            "--license",
            "basic",
            "--scenario",
            scenario.to_str().unwrap(),
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    // Wait until both clusters say they listen.
    let mut listening = 0;
    while listening < 2 {
        let line = lines.next().expect("ccr-sim exited early").unwrap();
        if line.contains("simulated cluster listening") {
            listening += 1;
        }
    }
    let c = client();
    let root = ok(&c, "GET", &format!("http://127.0.0.1:{fp}/"), None).await;
    assert_eq!(root["version"]["number"], "7.17.0");
    assert_eq!(root["cluster_name"], "follower");
    let (_, lic) = call(&c, "GET", &format!("http://127.0.0.1:{lp}/_license"), None).await;
    assert_eq!(lic["license"]["type"], "basic");
    let (_, nodes) = call(&c, "GET", &format!("http://127.0.0.1:{lp}/_nodes"), None).await;
    let node = nodes["nodes"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert_eq!(node["transport_address"], format!("127.0.0.1:{}", lp + 100));
    eventually(Duration::from_secs(5), "the scenario's index", || {
        let c = c.clone();
        async move {
            let (st, _) = call(
                &c,
                "GET",
                &format!("http://127.0.0.1:{lp}/from-scenario/_count"),
                None,
            )
            .await;
            (st == 200).then_some(())
        }
    })
    .await;
    child.kill().unwrap();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn security_flags_are_checked() {
    for (args, needle) in [
        (
            vec!["--cluster", "a=127.0.0.1:0", "--security"],
            "at least one --user",
        ),
        (
            vec!["--cluster", "a=127.0.0.1:0", "--user", "u:p:superuser"],
            "need --security",
        ),
        (
            vec![
                "--cluster",
                "a=127.0.0.1:0",
                "--security",
                "--user",
                "u:p:wizard",
            ],
            "[wizard]",
        ),
        (
            vec![
                "--cluster",
                "a=127.0.0.1:0",
                "--security",
                "--user",
                "nopassword",
            ],
            "NAME:PASSWORD:ROLES",
        ),
        (
            vec![
                "--cluster",
                "a=127.0.0.1:0",
                "--security-file",
                "/nonexistent/security.toml",
            ],
            "cannot read security file",
        ),
    ] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn security_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("ccr-sim-cli-sec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("security.toml");
    std::fs::write(
        &file,
        "[role.reader]\ncluster = [\"monitor\"]\n\n[[user]]\nname = \"watcher\"\npassword = \"w-secret\"\nroles = [\"reader\"]\n",
    )
    .unwrap();
    let port = free_port();
    let mut child = Command::new(BIN)
        .args([
            "--cluster",
            &format!("es=127.0.0.1:{port}"),
            "--security-file",
            file.to_str().unwrap(),
            "--user",
            "admin:pa:ss:superuser",
            "--api-key",
            "k1:s1:admin:monitor",
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = lines.next().expect("ccr-sim exited early").unwrap();
        assert!(
            !line.contains("pa:ss") && !line.contains("w-secret"),
            "{line}"
        );
        if line.contains("simulated cluster listening") {
            break;
        }
    }
    let c = client();
    let u = format!("http://127.0.0.1:{port}");
    let (st, _) = call(&c, "GET", &format!("{u}/"), None).await;
    assert_eq!(st, 401);
    let resp = c
        .get(format!("{u}/_cluster/settings"))
        .basic_auth("admin", Some("pa:ss"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let resp = c
        .get(format!("{u}/_ccr/stats"))
        .basic_auth("watcher", Some("w-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let resp = c
        .put(format!("{u}/_cluster/settings"))
        .basic_auth("watcher", Some("w-secret"))
        .json(&serde_json::json!({"persistent": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let resp = c
        .get(format!("{u}/_ccr/stats"))
        .header(
            "authorization",
            format!("ApiKey {}", ccr_sim::base64_encode(b"k1:s1")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    child.kill().unwrap();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
