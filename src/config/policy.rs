//! `[policy]` and `[[policy.windows]]`: what the daemon may do on its own, and how carefully.
//!
//! Kept in its own file so the policy schema can grow without touching the rest of the configuration.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::values::{parse_duration, CronSchedule};

/// `[policy]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default = "yes")]
    pub recover_fatal: bool,
    #[serde(default = "default_attempts")]
    pub recover_fatal_max_attempts: u32,
    #[serde(default = "default_attempt_window")]
    pub recover_fatal_window: String,
    #[serde(default = "yes")]
    pub recover_not_started: bool,
    #[serde(default = "default_backoff_initial")]
    pub backoff_initial: String,
    #[serde(default = "default_backoff_max")]
    pub backoff_max: String,
    #[serde(default)]
    pub resume_unexpected_pause: bool,
    #[serde(default = "default_pause_grace")]
    pub resume_unexpected_pause_grace: String,
    #[serde(default)]
    pub pause_on_remote_outage: bool,
    #[serde(default = "default_outage_after")]
    pub remote_outage_after: String,
    #[serde(default = "default_recovered_after")]
    pub remote_recovered_after: String,
    #[serde(default = "default_on_leader_deleted")]
    pub on_leader_deleted: String,
    #[serde(default = "default_rate")]
    pub max_actions_per_minute: u32,
    pub state_dir: Option<PathBuf>,
    #[serde(default = "default_stable_polls")]
    pub promote_stable_polls: u32,
    #[serde(default = "default_promote_interval")]
    pub promote_poll_interval: String,
    #[serde(default = "default_promote_timeout")]
    pub promote_timeout: String,
    #[serde(default = "default_credential_margin")]
    pub credential_expiry_margin: String,
    #[serde(default)]
    pub windows: Vec<RawWindow>,
}

// The same values as the serde defaults, so `[policy]` absent and `[policy]` empty mean the same.
impl Default for RawPolicy {
    fn default() -> Self {
        RawPolicy {
            dry_run: false,
            recover_fatal: true,
            recover_fatal_max_attempts: default_attempts(),
            recover_fatal_window: default_attempt_window(),
            recover_not_started: true,
            backoff_initial: default_backoff_initial(),
            backoff_max: default_backoff_max(),
            resume_unexpected_pause: false,
            resume_unexpected_pause_grace: default_pause_grace(),
            pause_on_remote_outage: false,
            remote_outage_after: default_outage_after(),
            remote_recovered_after: default_recovered_after(),
            on_leader_deleted: default_on_leader_deleted(),
            max_actions_per_minute: default_rate(),
            state_dir: None,
            promote_stable_polls: default_stable_polls(),
            promote_poll_interval: default_promote_interval(),
            promote_timeout: default_promote_timeout(),
            credential_expiry_margin: default_credential_margin(),
            windows: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_attempts() -> u32 {
    3
}
fn default_attempt_window() -> String {
    "1h".into()
}
fn default_backoff_initial() -> String {
    "30s".into()
}
fn default_backoff_max() -> String {
    "10m".into()
}
fn default_pause_grace() -> String {
    "5m".into()
}
fn default_outage_after() -> String {
    "5m".into()
}
fn default_recovered_after() -> String {
    "2m".into()
}
fn default_on_leader_deleted() -> String {
    "alert".into()
}
fn default_rate() -> u32 {
    10
}
fn default_stable_polls() -> u32 {
    3
}
fn default_promote_interval() -> String {
    "5s".into()
}
fn default_promote_timeout() -> String {
    "30m".into()
}
fn default_credential_margin() -> String {
    "7d".into()
}

/// `[[policy.windows]]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub start: String,
    #[serde(default)]
    pub duration: String,
    #[serde(default)]
    pub clusters: Vec<String>,
    #[serde(default)]
    pub remotes: Vec<String>,
    #[serde(default)]
    pub followers: Vec<String>,
    #[serde(default)]
    pub auto_follow: Vec<String>,
}

/// Keys of `[policy]`, for reporting unknown keys.
pub(super) const POLICY_KEYS: &[&str] = &[
    "dry_run",
    "recover_fatal",
    "recover_fatal_max_attempts",
    "recover_fatal_window",
    "recover_not_started",
    "backoff_initial",
    "backoff_max",
    "resume_unexpected_pause",
    "resume_unexpected_pause_grace",
    "pause_on_remote_outage",
    "remote_outage_after",
    "remote_recovered_after",
    "on_leader_deleted",
    "max_actions_per_minute",
    "state_dir",
    "promote_stable_polls",
    "promote_poll_interval",
    "promote_timeout",
    "credential_expiry_margin",
    "windows",
];

/// Keys of one `[[policy.windows]]` entry.
pub(super) const WINDOW_KEYS: &[&str] = &[
    "name",
    "start",
    "duration",
    "clusters",
    "remotes",
    "followers",
    "auto_follow",
];

/// What to do when a follower's leader index was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnLeaderDeleted {
    /// Report it (state `leader_missing`, a log line once); do nothing.
    Alert,
    /// Turn the follower into a regular index (pause, close, unfollow, open).
    Unfollow,
}

/// `index.soft_deletes.retention_lease.period` unless a leader index sets it (Elasticsearch's default, 12h).
pub const DEFAULT_RETENTION_LEASE_PERIOD: Duration = Duration::from_secs(12 * 3600);

impl PolicySettings {
    /// Pauses that can outlast the leaders' retention leases, one sentence each: a follower paused longer than
    /// `index.soft_deletes.retention_lease.period` loses its lease and can only be rebuilt (ES
    /// `ReplicationTracker` expires leases not renewed within the period; a paused follower renews none).
    pub fn lease_warnings(&self) -> Vec<String> {
        let period = humantime::format_duration(DEFAULT_RETENTION_LEASE_PERIOD);
        let mut out: Vec<String> = self
            .windows
            .iter()
            .filter(|w| w.duration >= DEFAULT_RETENTION_LEASE_PERIOD)
            .map(|w| {
                format!(
                    "maintenance window `{}` pauses followers for {}, as long as or longer than the leaders' \
                     retention leases last ({period} by default): they would have to be rebuilt afterwards",
                    w.name,
                    humantime::format_duration(w.duration)
                )
            })
            .collect();
        if self.pause_on_remote_outage {
            out.push(format!(
                "`policy.pause_on_remote_outage = true`: a follower stays paused for as long as its remote is down; \
                 past the leader's retention lease period ({period} by default) it can only be rebuilt \
                 (watch ccr_sentinel_follower_retention_lease_margin_seconds)"
            ));
        }
        out
    }
}

/// A maintenance window: from each `start` occurrence for `duration`, the selected followers are paused.
#[derive(Debug, Clone)]
pub struct Window {
    /// The window name (in logs, metrics and the audit).
    pub name: String,
    /// When each occurrence starts (UTC).
    pub start: CronSchedule,
    /// How long each occurrence lasts.
    pub duration: Duration,
    /// Selectors; an empty list matches everything. Follower selectors accept `*` wildcards.
    pub clusters: Vec<String>,
    /// Remote cluster aliases the window selects.
    pub remotes: Vec<String>,
    /// Follower indices the window selects (wildcards allowed).
    pub followers: Vec<String>,
    /// Auto-follow pattern names (wildcards allowed) to pause during the window.
    pub auto_follow: Vec<String>,
}

/// `[policy]`, validated.
#[derive(Debug, Clone)]
pub struct PolicySettings {
    /// Decide and log, send nothing.
    pub dry_run: bool,
    /// Recover followers whose shard tasks failed fatally.
    pub recover_fatal: bool,
    /// Recoveries allowed per follower within `recover_fatal_window`.
    pub recover_fatal_max_attempts: u32,
    /// The window over which recovery attempts are counted.
    pub recover_fatal_window: Duration,
    /// Resume followers whose initial copy finished but whose following never started (`not_started`), with
    /// their configured parameters; attempts capped as `recover_fatal`'s.
    pub recover_not_started: bool,
    /// Wait after a failed action; doubles per consecutive failure up to `backoff_max`.
    pub backoff_initial: Duration,
    /// The longest wait after failed actions.
    pub backoff_max: Duration,
    /// Resume followers paused by someone else.
    pub resume_unexpected_pause: bool,
    /// How long a foreign pause is left alone before it is resumed.
    pub resume_unexpected_pause_grace: Duration,
    /// Pause followers while their remote cluster is unreachable.
    pub pause_on_remote_outage: bool,
    /// How long a remote must be unreachable before its followers are paused.
    pub remote_outage_after: Duration,
    /// How long a remote must be back before its followers are resumed.
    pub remote_recovered_after: Duration,
    /// What to do when a leader index was deleted.
    pub on_leader_deleted: OnLeaderDeleted,
    /// The most actions the policy sends per minute.
    pub max_actions_per_minute: u32,
    /// Where what the policies remember (pauses, attempts, back-off, runbooks) is kept across restarts; `None`
    /// keeps it in memory only.
    pub state_dir: Option<PathBuf>,
    /// Consecutive caught-up looks a follower needs before it is promoted.
    pub promote_stable_polls: u32,
    /// Time between the looks of the `promote` command.
    pub promote_poll_interval: Duration,
    /// How long `promote --wait` keeps looking for the follower to be caught up.
    pub promote_timeout: Duration,
    /// A follower task runs as the credential that last created or resumed it: no resume is sent with a
    /// credential (an API key) that expires within this margin.
    pub credential_expiry_margin: Duration,
    /// The maintenance windows.
    pub windows: Vec<Window>,
}

impl Default for PolicySettings {
    fn default() -> Self {
        let mut p = Vec::new();
        // The defaults always validate (and have no window, so no cron period depends on the time); the
        // fallback keeps this free of panics.
        validate(RawPolicy::default(), DateTime::UNIX_EPOCH, &mut p).unwrap_or(PolicySettings {
            dry_run: false,
            recover_fatal: true,
            recover_fatal_max_attempts: 3,
            recover_fatal_window: Duration::from_secs(3600),
            recover_not_started: true,
            backoff_initial: Duration::from_secs(30),
            backoff_max: Duration::from_secs(600),
            resume_unexpected_pause: false,
            resume_unexpected_pause_grace: Duration::from_secs(300),
            pause_on_remote_outage: false,
            remote_outage_after: Duration::from_secs(300),
            remote_recovered_after: Duration::from_secs(120),
            on_leader_deleted: OnLeaderDeleted::Alert,
            max_actions_per_minute: 10,
            state_dir: None,
            promote_stable_polls: 3,
            promote_poll_interval: Duration::from_secs(5),
            promote_timeout: Duration::from_secs(1800),
            credential_expiry_margin: Duration::from_secs(7 * 86_400),
            windows: Vec::new(),
        })
    }
}

/// Validates `[policy]`, pushing every problem to `p`; `None` when there was one. Window periods are measured
/// from `now`.
pub(super) fn validate(
    r: RawPolicy,
    now: DateTime<Utc>,
    p: &mut Vec<String>,
) -> Option<PolicySettings> {
    let before = p.len();
    let mut dur = |key: &str, v: &str| parse_duration(&format!("policy.{key}"), v, p);
    let recover_fatal_window = dur("recover_fatal_window", &r.recover_fatal_window);
    let backoff_initial = dur("backoff_initial", &r.backoff_initial);
    let backoff_max = dur("backoff_max", &r.backoff_max);
    let grace = dur(
        "resume_unexpected_pause_grace",
        &r.resume_unexpected_pause_grace,
    );
    let outage = dur("remote_outage_after", &r.remote_outage_after);
    let recovered = dur("remote_recovered_after", &r.remote_recovered_after);
    let promote_interval = dur("promote_poll_interval", &r.promote_poll_interval);
    let promote_timeout = dur("promote_timeout", &r.promote_timeout);
    let credential_margin = dur("credential_expiry_margin", &r.credential_expiry_margin);
    if let (Some(a), Some(b)) = (backoff_initial, backoff_max) {
        if a > b {
            p.push(format!(
                "`policy.backoff_initial` ({}) is longer than `policy.backoff_max` ({})",
                r.backoff_initial, r.backoff_max
            ));
        }
    }
    let on_leader_deleted = match r.on_leader_deleted.as_str() {
        "alert" => OnLeaderDeleted::Alert,
        "unfollow" => OnLeaderDeleted::Unfollow,
        other => {
            p.push(format!(
                "`policy.on_leader_deleted` = `{other}`: expected \"alert\" or \"unfollow\""
            ));
            OnLeaderDeleted::Alert
        }
    };
    if r.recover_fatal_max_attempts == 0 {
        p.push(
            "`policy.recover_fatal_max_attempts` must be at least 1 (turn the rule off with `recover_fatal = false`)"
                .into(),
        );
    }
    if r.max_actions_per_minute == 0 {
        p.push("`policy.max_actions_per_minute` must be at least 1".into());
    }
    if r.promote_stable_polls < 2 {
        p.push(format!(
            "`policy.promote_stable_polls` = {} must be at least 2 (stability needs more than one look)",
            r.promote_stable_polls
        ));
    }
    if let Some(dir) = &r.state_dir {
        if let Err(e) = check_state_dir(dir) {
            p.push(format!("`policy.state_dir` = `{}`: {e}", dir.display()));
        }
    }
    let mut windows = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, w) in r.windows.into_iter().enumerate() {
        let at = format!("policy.windows[{i}]");
        if w.name.is_empty() {
            p.push(format!("`{at}.name` is missing"));
        } else if !names.insert(w.name.clone()) {
            p.push(format!("`{at}`: window `{}` is defined twice", w.name));
        }
        let start = if w.start.is_empty() {
            p.push(format!("`{at}.start` is missing (a cron expression)"));
            None
        } else {
            match CronSchedule::parse(&w.start, now) {
                Ok(c) => Some(c),
                Err(e) => {
                    p.push(format!("`{at}.start`: {e}"));
                    None
                }
            }
        };
        let duration = if w.duration.is_empty() {
            p.push(format!("`{at}.duration` is missing (e.g. \"8h\")"));
            None
        } else {
            parse_duration(&format!("{at}.duration"), &w.duration, p)
        };
        if let (Some(s), Some(d)) = (&start, duration) {
            if d > s.period && s.period > Duration::ZERO {
                p.push(format!(
                    "`{at}`: duration {} is longer than the time between starts ({}); the window would never end",
                    w.duration,
                    humantime::format_duration(s.period)
                ));
            }
        }
        if let (Some(start), Some(duration)) = (start, duration) {
            windows.push(Window {
                name: w.name,
                start,
                duration,
                clusters: w.clusters,
                remotes: w.remotes,
                followers: w.followers,
                auto_follow: w.auto_follow,
            });
        }
    }
    if p.len() != before {
        return None;
    }
    Some(PolicySettings {
        dry_run: r.dry_run,
        recover_fatal: r.recover_fatal,
        recover_fatal_max_attempts: r.recover_fatal_max_attempts,
        recover_fatal_window: recover_fatal_window?,
        recover_not_started: r.recover_not_started,
        backoff_initial: backoff_initial?,
        backoff_max: backoff_max?,
        resume_unexpected_pause: r.resume_unexpected_pause,
        resume_unexpected_pause_grace: grace?,
        pause_on_remote_outage: r.pause_on_remote_outage,
        remote_outage_after: outage?,
        remote_recovered_after: recovered?,
        on_leader_deleted,
        max_actions_per_minute: r.max_actions_per_minute,
        state_dir: r.state_dir,
        promote_stable_polls: r.promote_stable_polls,
        promote_poll_interval: promote_interval?,
        promote_timeout: promote_timeout?,
        credential_expiry_margin: credential_margin?,
        windows,
    })
}

/// The state directory must be a directory the daemon can write, as `run` writes it before every action:
/// created when missing (as `run` would), then a probe file is written and removed. Checking here turns what
/// would be a failure at start (and a restart loop under systemd) into a configuration error.
fn check_state_dir(dir: &std::path::Path) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => return Err("exists but is not a directory".into()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir)
            .map_err(|e| format!("the directory cannot be created: {e}"))?,
        Err(e) => return Err(format!("cannot be read: {e}")),
    }
    let probe = dir.join(format!(".ccr-sentinel-probe-{}", std::process::id()));
    std::fs::write(&probe, b"probe").map_err(|e| format!("is not writable: {e}"))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Window selectors without a wildcard must name something configured: a typo would otherwise silently select
/// nothing (and pause nothing).
pub(super) fn check_window_selectors(
    windows: &[Window],
    clusters: &std::collections::BTreeSet<String>,
    remotes: &[super::RemoteSettings],
    patterns: &[super::AutoFollowSettings],
    p: &mut Vec<String>,
) {
    for (i, w) in windows.iter().enumerate() {
        let at = format!("policy.windows[{i}]");
        let literal = |s: &String| !s.contains('*');
        for c in w.clusters.iter().filter(|c| literal(c)) {
            if !clusters.contains(c) {
                p.push(format!(
                    "`{at}.clusters`: `{c}` is not a configured cluster"
                ));
            }
        }
        for r in w.remotes.iter().filter(|r| literal(r)) {
            if !remotes.iter().any(|x| &x.alias == r) {
                p.push(format!(
                    "`{at}.remotes`: no [[remotes]] entry has alias `{r}`"
                ));
            }
        }
        for a in w.auto_follow.iter().filter(|a| literal(a)) {
            if !patterns.iter().any(|x| &x.name == a) {
                p.push(format!(
                    "`{at}.auto_follow`: `{a}` is not a configured [[auto_follow]] pattern"
                ));
            }
        }
    }
}

/// `*` matches any run of characters; everything else literally.
pub fn wildcard_match(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let p = PolicySettings::default();
        assert!(p.recover_fatal);
        assert!(!p.resume_unexpected_pause);
        assert!(!p.pause_on_remote_outage);
        assert_eq!(p.on_leader_deleted, OnLeaderDeleted::Alert);
        assert_eq!(p.max_actions_per_minute, 10);
        assert_eq!(p.recover_fatal_max_attempts, 3);
    }

    #[test]
    fn window_problems_are_reported() {
        let base = "[clusters.a]\nurl = \"http://127.0.0.1:1\"\n[policy]\npromote_stable_polls = 1\nrecover_fatal_max_attempts = 0\n";
        let text = format!(
            "{base}[[policy.windows]]\nname = \"w\"\nstart = \"0 22 * * *\"\nduration = \"25h\"\n[[policy.windows]]\nstart = \"nope\"\n"
        );
        let e = crate::config::from_toml_str(&text)
            .unwrap_err()
            .problems
            .join("\n");
        for needle in [
            "promote_stable_polls",
            "recover_fatal_max_attempts",
            "the window would never end",
            "`policy.windows[1].name` is missing",
            "`policy.windows[1].start`",
            "`policy.windows[1].duration` is missing",
        ] {
            assert!(e.contains(needle), "missing {needle:?} in:\n{e}");
        }
        let text = "[clusters.a]\nurl = \"http://127.0.0.1:1\"\n[[policy.windows]]\nname = \"w\"\nstart = \"0 22 * * *\"\nduration = \"8h\"\nclusters = [\"b\", \"a*\"]\nremotes = [\"x\"]\nauto_follow = [\"p\"]\ncolour = 1\n";
        let e = crate::config::from_toml_str(text)
            .unwrap_err()
            .problems
            .join("\n");
        for needle in [
            "`b` is not a configured cluster",
            "alias `x`",
            "`p` is not a configured [[auto_follow]] pattern",
            "unknown key `policy.windows[0].colour`",
        ] {
            assert!(e.contains(needle), "missing {needle:?} in:\n{e}");
        }
    }

    #[test]
    fn pauses_that_outlast_the_retention_lease_warn() {
        let base = "[clusters.a]\nurl = \"http://127.0.0.1:1\"\n";
        let window = |d: &str| {
            format!(
                "[[policy.windows]]\nname = \"w\"\nstart = \"0 22 * * *\"\nduration = \"{d}\"\n"
            )
        };
        let short = crate::config::from_toml_str(&format!("{base}{}", window("8h"))).unwrap();
        assert!(short.warnings().is_empty(), "{:?}", short.warnings());
        let long = crate::config::from_toml_str(&format!("{base}{}", window("12h"))).unwrap();
        let w = long.warnings();
        assert!(
            w.len() == 1 && w[0].contains("maintenance window `w`"),
            "{w:?}"
        );
        let outage = crate::config::from_toml_str(&format!(
            "{base}[policy]\npause_on_remote_outage = true\n"
        ))
        .unwrap();
        let w = outage.warnings();
        assert!(w.len() == 1 && w[0].contains("retention lease"), "{w:?}");
    }

    #[test]
    fn wildcards() {
        for (p, s, m) in [
            ("logs-*", "logs-1", true),
            ("logs-*", "log-1", false),
            ("*", "", true),
            ("a*c", "abbc", true),
            ("a*c", "abcd", false),
            ("exact", "exact", true),
            ("*-copy", "orders-copy", true),
        ] {
            assert_eq!(wildcard_match(p, s), m, "{p} vs {s}");
        }
    }
}

#[cfg(test)]
mod doc_tests {
    /// The `[policy]` example of the README and the commented window of the example configuration are valid.
    #[test]
    fn documented_examples_are_valid() {
        let base = r#"
[clusters.leader]
url = "http://127.0.0.1:1"
[clusters.dr]
url = "http://127.0.0.1:2"
[[remotes]]
cluster = "dr"
alias = "eu-west"
leader = "leader"
[[auto_follow]]
cluster = "dr"
name = "logs"
remote = "eu-west"
leader_index_patterns = ["logs-*"]
"#;
        let readme = include_str!("../../README.md");
        let start = readme
            .find("```toml\n[policy]")
            .expect("README has a [policy] example");
        let block = &readme[start + 8..];
        let block = &block[..block.find("```").unwrap()];
        let cfg = crate::config::from_toml_str(&format!("{base}{block}")).unwrap();
        assert_eq!(cfg.policy.windows.len(), 1);
        assert!(cfg.follower("dr", "orders").unwrap().promote);

        let example = include_str!("../../config/ccr-sentinel.example.toml");
        let window: String = example
            .lines()
            .skip_while(|l| !l.starts_with("# [[policy.windows]]"))
            .map(|l| l.trim_start_matches("# ").to_string() + "\n")
            .collect();
        let text = format!(
            "{}\n[[remotes]]\ncluster = \"dr\"\nalias = \"leader\"\nleader = \"leader\"\n{window}",
            base.replace(
                "[clusters.dr]",
                "[clusters.follower]\nurl = \"http://127.0.0.1:3\"\n[clusters.dr]"
            )
        );
        let cfg = crate::config::from_toml_str(&text).unwrap();
        assert_eq!(cfg.policy.windows[0].name, "business-hours");
    }
}
