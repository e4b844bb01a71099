//! `ccr-sentinel config check` as a process: the shipped example is valid, bad files get every problem listed
//! and exit status 2, and secrets never reach the output.

use std::path::Path;

use crate::common::{assert_success, bin, bin_with_config, run_with_config};

/// The example with its secret paths pointed at files in `dir`.
fn example_in(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/ccr-sentinel.example.toml"
    ))
    .unwrap();
    for f in ["leader-password", "follower-password"] {
        std::fs::write(dir.join(f), "not-a-real-password\n").unwrap();
    }
    let text = text.replace(
        "/run/credentials/ccr-sentinel.service/",
        &format!("{}/", dir.display()),
    );
    let path = dir.join("ccr-sentinel.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn example_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = example_in(dir.path());
    let out = run_with_config(&["config", "check"], &path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_success(&out);
    assert!(
        stdout.contains(
            "is valid: 2 cluster(s), 1 remote(s), 1 follower(s), 1 auto-follow pattern(s)"
        ),
        "{stdout}"
    );
}

#[test]
fn relative_secret_files_resolve_against_credentials_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = example_in(dir.path());
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(&format!("{}/", dir.path().display()), "");
    std::fs::write(&path, text).unwrap();
    let out = bin_with_config(&["config", "check"], &path)
        .env("CREDENTIALS_DIRECTORY", dir.path())
        .output()
        .unwrap();
    assert_success(&out);
    let out = bin_with_config(&["config", "check"], &path)
        .current_dir("/")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "without CREDENTIALS_DIRECTORY the relative file is not found"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read secret file leader-password")
    );
}

#[test]
fn environment_overrides_apply_and_unknown_variables_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = example_in(dir.path());
    let out = bin()
        .args(["config", "check"])
        .env("CCR_SENTINEL_CONFIG", &path)
        .env("CCR_SENTINEL_HTTP__LISTEN", "not an address")
        .env("CCR_SENTINEL_HTTP__COLOUR", "blue")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`http.listen` = `not an address`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unknown key `http.colour` (from the environment)"),
        "{stderr}"
    );
}

#[test]
fn bad_config_lists_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r#"
[schedule]
poll = "*/15 * * *"
doc_counts = "0 * * * * * * *"
[clusters.leader]
url = "https://leader:9200"
username = "u"
password = "hunter2-inline"
api_key = "also-secret"
[clusters.follower]
url = "ftp://follower"
password_file = "/does/not/exist"
username = "u"
[[remotes]]
cluster = "follower"
alias = "leader"
leader = "leader"
mode = "proxy"
seeds = ["x:9300"]
[[followers]]
cluster = "follower"
remote = "elsewhere"
leader_index = "a"
follower_index = "a-copy"
[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "b"
follower_index = "a-copy"
[[auto_follow]]
cluster = "nowhere"
name = "p"
remote = "leader"
[health]
max_time_since_last_read = "soon"
flavour = "vanilla"
"#,
    )
    .unwrap();
    let out = run_with_config(&["config", "check"], &path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for needle in [
        "unknown key `health.flavour`",
        "`schedule.poll`: `*/15 * * *` has 4 fields",
        "`schedule.doc_counts`",
        "use either username/password or api_key",
        "`clusters.follower.url` must start with http:// or https://",
        "cannot read secret file /does/not/exist",
        "`mode = \"proxy\"` needs `proxy_address`",
        "`remotes[0].seeds` cannot be used with `mode = \"proxy\"`",
        "`followers[0].remote` = `elsewhere`",
        "already configured by followers[0]",
        "`auto_follow[0].cluster` = `nowhere`",
        "`auto_follow[0].leader_index_patterns` is empty",
        "`health.max_time_since_last_read` = `soon`",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    assert!(
        !stderr.contains("hunter2") && !stderr.contains("also-secret"),
        "secret leaked:\n{stderr}"
    );
}

#[test]
fn missing_file_and_bad_arguments_exit_2() {
    let out = bin()
        .args(["config", "check", "--config", "/nonexistent/ccr.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ccr.toml does not exist"));
    let out = bin().args(["status", "--format", "yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
