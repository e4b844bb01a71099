//! The pure half of preflight: facts in, [`CheckResult`]s out. One function per [`Check`]; [`evaluate`] runs them
//! per cluster, per remote and per follower, in the order of the report.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, FollowerSettings, RemoteMode, RemoteSettings};
use crate::es::{FailureReason, IndexSettings};

use super::{Check, CheckResult, CheckStatus, ClusterFacts, Facts, SeedProbe};

use CheckStatus::{Fail, Skip, Warn};
const PASS: CheckStatus = CheckStatus::Ok;

/// What one check function looks at.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// One configured cluster.
    Cluster { name: &'a str, f: &'a ClusterFacts },
    /// One remote: its follower (`local`) and leader clusters, both read.
    Remote {
        r: &'a RemoteSettings,
        local: &'a ClusterFacts,
        leader: &'a ClusterFacts,
    },
    /// One configured follower.
    Follower(&'a FollowerSettings),
}

/// The checks in report order, by what they look at.
const PER_CLUSTER: [Check; 4] = [
    Check::Reachable,
    Check::Version,
    Check::License,
    Check::Privileges,
];
const PER_REMOTE: [Check; 7] = [
    Check::VersionCompat,
    Check::Remote,
    Check::Seeds,
    Check::RemoteSecurity,
    Check::ApiKey,
    Check::RemotePrivileges,
    Check::LeaderManage,
];
const PER_LEADER: [Check; 3] = [
    Check::LeaderIndex,
    Check::SoftDeletes,
    Check::ReplicationType,
];

/// Turns the facts into check results. Pure.
pub fn evaluate(cfg: &Config, facts: &Facts) -> Vec<CheckResult> {
    let mut out = Vec::new();
    for (name, f) in &facts.clusters {
        // An unreachable cluster gets only its `reachable` failure.
        let checks: &[Check] = if f.root.is_ok() {
            &PER_CLUSTER
        } else {
            &PER_CLUSTER[..1]
        };
        for c in checks {
            out.extend(run(*c, cfg, facts, Scope::Cluster { name, f }));
        }
    }
    for r in &cfg.remotes {
        let (Some(local), Some(leader)) = (
            facts.clusters.get(&r.cluster),
            facts.clusters.get(&r.leader),
        ) else {
            continue;
        };
        for c in PER_REMOTE {
            out.extend(run(c, cfg, facts, Scope::Remote { r, local, leader }));
        }
    }
    let mut seen_leaders = BTreeSet::new();
    for fcfg in &cfg.followers {
        // Each leader index once, however many followers it has.
        let leader_key = (
            cfg.leader_cluster(&fcfg.cluster, &fcfg.remote)
                .unwrap_or(&fcfg.remote)
                .to_string(),
            fcfg.leader_index.clone(),
        );
        if seen_leaders.insert(leader_key) {
            for c in PER_LEADER {
                out.extend(run(c, cfg, facts, Scope::Follower(fcfg)));
            }
        }
        out.extend(run(Check::FollowerIndex, cfg, facts, Scope::Follower(fcfg)));
    }
    out
}

/// Runs one check on one scope (nothing when the check does not apply to that scope).
fn run(check: Check, cfg: &Config, facts: &Facts, scope: Scope<'_>) -> Vec<CheckResult> {
    match (check, scope) {
        (Check::Reachable, Scope::Cluster { name, f }) => reachable(name, f),
        (Check::Version, Scope::Cluster { name, f }) => version(name, f),
        (Check::License, Scope::Cluster { name, f }) => license(name, f),
        (Check::Privileges, Scope::Cluster { name, f }) => privileges(name, f),
        (Check::VersionCompat, Scope::Remote { r, local, leader }) => {
            version_compat(r, local, leader)
        }
        (Check::Remote, Scope::Remote { r, local, .. }) => remote(r, local),
        (Check::Seeds, Scope::Remote { r, local, .. }) => seeds(r, local, facts),
        (Check::RemoteSecurity, Scope::Remote { r, local, leader }) => {
            super::security::remote_security(r, local, leader)
        }
        (Check::ApiKey, Scope::Remote { r, leader, .. }) => {
            super::security::api_key(cfg, r, leader, facts.now_ms)
        }
        (Check::RemotePrivileges, Scope::Remote { r, local, .. }) => {
            super::security::remote_privileges(cfg, r, local)
        }
        (Check::LeaderManage, Scope::Remote { r, leader, .. }) => {
            super::security::leader_manage(cfg, r, leader)
        }
        (Check::LeaderIndex, Scope::Follower(fcfg)) => leader_index(cfg, facts, fcfg),
        (Check::SoftDeletes, Scope::Follower(fcfg)) => soft_deletes(cfg, facts, fcfg),
        (Check::ReplicationType, Scope::Follower(fcfg)) => replication_type(cfg, facts, fcfg),
        (Check::FollowerIndex, Scope::Follower(fcfg)) => follower_index(facts, fcfg),
        _ => Vec::new(),
    }
}

pub(super) fn result(
    check: Check,
    target: impl Into<String>,
    status: CheckStatus,
    message: impl Into<String>,
    fix: Option<&str>,
) -> Vec<CheckResult> {
    vec![CheckResult {
        check,
        target: target.into(),
        status,
        message: message.into(),
        fix: fix.map(str::to_string),
    }]
}

fn reachable(name: &str, f: &ClusterFacts) -> Vec<CheckResult> {
    let target = format!("cluster {name}");
    match &f.root {
        Ok(r) => result(
            Check::Reachable,
            &target,
            PASS,
            format!(
                "reachable and authenticated (cluster_name `{}`, version {})",
                r.cluster_name.as_deref().unwrap_or("?"),
                version_text(f)
            ),
            None,
        ),
        Err(e) => {
            let fix = match e.status {
                Some(401) => FailureReason::Unauthenticated.fix(),
                Some(403) => {
                    Some("the user may not call `GET /`: give it the `monitor` cluster privilege")
                }
                _ => Some(
                    "check `url`, the network path and TLS (`ca_cert`), and that the cluster is up",
                ),
            };
            result(Check::Reachable, &target, Fail, e.message.clone(), fix)
        }
    }
}

fn version(name: &str, f: &ClusterFacts) -> Vec<CheckResult> {
    let target = format!("cluster {name}");
    match version_of(f) {
        Some(v) if v >= (6, 7) => result(
            Check::Version,
            &target,
            PASS,
            format!("version {} supports CCR", version_text(f)),
            None,
        ),
        Some(_) => result(
            Check::Version,
            &target,
            Fail,
            format!("version {} is older than 6.7", version_text(f)),
            Some(
                "upgrade to 6.7 or later (CCR follow info, remote recovery and this tool need it)",
            ),
        ),
        None => result(
            Check::Version,
            &target,
            Warn,
            format!("version `{}` could not be parsed", version_text(f)),
            None,
        ),
    }
}

fn license(name: &str, f: &ClusterFacts) -> Vec<CheckResult> {
    let target = format!("cluster {name}");
    match &f.license {
        None => Vec::new(),
        Some(Ok(l)) if l.allows_ccr() => result(
            Check::License,
            &target,
            PASS,
            format!("license `{}` ({}) allows CCR", l.kind, l.status),
            None,
        ),
        Some(Ok(l)) => result(
            Check::License,
            &target,
            Fail,
            format!("license `{}` ({}) does not allow CCR", l.kind, l.status),
            FailureReason::License.fix(),
        ),
        Some(Err(e)) => result(
            Check::License,
            &target,
            Warn,
            format!("cannot read the license: {}", e.message),
            Some("give the user the `monitor` cluster privilege to read the license"),
        ),
    }
}

fn privileges(name: &str, f: &ClusterFacts) -> Vec<CheckResult> {
    let target = format!("cluster {name}");
    match &f.privileges {
        None => Vec::new(),
        Some(Ok(p)) => {
            let missing = p.missing();
            if missing.is_empty() {
                result(
                    Check::Privileges,
                    &target,
                    PASS,
                    format!(
                        "user `{}` has the CCR privileges",
                        p.username.as_deref().unwrap_or("?")
                    ),
                    None,
                )
            } else {
                result(
                    Check::Privileges,
                    &target,
                    Fail,
                    format!(
                        "user `{}` lacks: {}",
                        p.username.as_deref().unwrap_or("?"),
                        missing.join(", ")
                    ),
                    FailureReason::Unauthorized.fix(),
                )
            }
        }
        Some(Err(e)) if e.status == Some(401) => result(
            Check::Privileges,
            &target,
            Fail,
            e.message.clone(),
            FailureReason::Unauthenticated.fix(),
        ),
        Some(Err(e)) => result(
            Check::Privileges,
            &target,
            Skip,
            format!(
                "the cluster cannot tell (security disabled or `_has_privileges` unavailable): {}",
                e.message
            ),
            None,
        ),
    }
}

fn version_compat(
    r: &RemoteSettings,
    local: &ClusterFacts,
    leader: &ClusterFacts,
) -> Vec<CheckResult> {
    let target = format!("{}/{}", r.cluster, r.alias);
    let (Some(lv), Some(fv)) = (version_of(leader), version_of(local)) else {
        return Vec::new();
    };
    let rule = "the runbook asks for equal versions on leader and follower";
    let (status, message, fix) = if fv < lv {
        (Fail, format!("follower cluster `{}` ({}) is older than leader cluster `{}` ({}): a follower cannot follow an index of a newer version", r.cluster, version_text(local), r.leader, version_text(leader)), Some("upgrade the follower cluster first (always upgrade followers before leaders)"))
    } else if fv.0 > lv.0 + 1 {
        (Fail, format!("follower cluster `{}` ({}) is more than one major version newer than leader `{}` ({})", r.cluster, version_text(local), r.leader, version_text(leader)), Some("upgrade the leader cluster; CCR works across at most one major version"))
    } else if fv.0 == lv.0 + 1 && !cross_major_leader_ok(lv) {
        (Fail, format!("follower cluster `{}` ({}) is a major version newer than leader `{}` ({}): across majors the leader must be on the last minor of its major (6.7/6.8 -> 7.x, 7.17 -> 8.x, 8.18+ -> 9.x)", r.cluster, version_text(local), r.leader, version_text(leader)), Some("upgrade the leader to the last minor of its major first"))
    } else if fv > lv {
        (Warn, format!("follower cluster `{}` ({}) is newer than leader `{}` ({}); it can follow, but {rule}", r.cluster, version_text(local), r.leader, version_text(leader)), Some("upgrade the leader to the follower's version when you can"))
    } else {
        (
            PASS,
            format!(
                "leader and follower versions match ({})",
                version_text(local)
            ),
            None,
        )
    };
    result(Check::VersionCompat, &target, status, message, fix)
}

fn remote(r: &RemoteSettings, local: &ClusterFacts) -> Vec<CheckResult> {
    let target = format!("{}/{}", r.cluster, r.alias);
    match &local.remotes {
        None => Vec::new(),
        Some(Err(e)) => result(
            Check::Remote,
            &target,
            Warn,
            format!("cannot read _remote/info: {}", e.message),
            None,
        ),
        Some(Ok(m)) => match m.get(&r.alias) {
            None if r.manage && !(r.mode == RemoteMode::Sniff && r.seeds.is_empty()) => result(
                Check::Remote,
                &target,
                Warn,
                format!("remote `{}` is not configured on `{}` yet; reconcile will set it", r.alias, r.cluster),
                Some("run `ccr-sentinel reconcile --once` (or let the daemon do it)"),
            ),
            None => result(
                Check::Remote,
                &target,
                Fail,
                format!("remote `{}` is not configured on `{}` and this remote is not managed", r.alias, r.cluster),
                Some("add it with PUT /_cluster/settings {\"persistent\":{\"cluster.remote.<alias>.seeds\":[\"<leader transport host>:9300\"]}}, or configure `seeds` and `manage = true`"),
            ),
            Some(i) if i.connected => result(
                Check::Remote,
                &target,
                PASS,
                format!("remote `{}` is connected ({} mode)", r.alias, i.mode()),
                None,
            ),
            Some(i) => result(
                Check::Remote,
                &target,
                Fail,
                format!("remote `{}` is configured but not connected (seeds {:?})", r.alias, i.seeds),
                FailureReason::RemoteNotConnected.fix(),
            ),
        },
    }
}

fn seeds(r: &RemoteSettings, local: &ClusterFacts, facts: &Facts) -> Vec<CheckResult> {
    let target = format!("{}/{}", r.cluster, r.alias);
    let http_addresses: BTreeMap<String, &str> = facts
        .clusters
        .iter()
        .filter_map(|(n, f)| Some((f.http_address.clone()?, n.as_str())))
        .collect();
    // Configured and observed.
    let mut addrs: BTreeSet<String> = r
        .seeds
        .iter()
        .chain(r.proxy_address.iter())
        .cloned()
        .collect();
    if let Some(Ok(m)) = &local.remotes {
        if let Some(i) = m.get(&r.alias) {
            addrs.extend(i.seeds.iter().cloned());
            addrs.extend(i.proxy_address.iter().cloned());
        }
    }
    let mut bad = Vec::new();
    let mut suspicious = Vec::new();
    for a in &addrs {
        if let Some(c) = http_addresses.get(a) {
            bad.push(format!("`{a}` is the HTTP address of cluster `{c}`"));
        } else if facts.seeds.get(a) == Some(&SeedProbe::AnswersHttp) {
            bad.push(format!("`{a}` answers HTTP"));
        } else if facts.seeds.get(a) != Some(&SeedProbe::TransportPort)
            && a.rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .is_some_and(|p| (9200..=9299).contains(&p))
        {
            suspicious.push(format!("`{a}` uses an HTTP-style port (92xx)"));
        }
    }
    let fix = "seeds take the leader's transport address (port 9300 by default, or 9443 for the API-key remote port), not its HTTP port (9200)";
    if !bad.is_empty() {
        result(
            Check::Seeds,
            &target,
            Fail,
            format!("{}: an HTTP port in seeds never connects", bad.join("; ")),
            Some(fix),
        )
    } else if !suspicious.is_empty() {
        result(
            Check::Seeds,
            &target,
            Warn,
            suspicious.join("; "),
            Some(fix),
        )
    } else if !addrs.is_empty() {
        result(
            Check::Seeds,
            &target,
            PASS,
            format!("{} address(es), none is an HTTP port", addrs.len()),
            None,
        )
    } else {
        Vec::new()
    }
}

fn leader_target(fcfg: &FollowerSettings) -> String {
    format!("{}:{}", fcfg.remote, fcfg.leader_index)
}

/// The facts of a follower's leader cluster, when its remote maps to a configured cluster.
fn leader_facts<'a>(
    cfg: &Config,
    facts: &'a Facts,
    fcfg: &FollowerSettings,
) -> Option<&'a ClusterFacts> {
    cfg.leader_cluster(&fcfg.cluster, &fcfg.remote)
        .and_then(|l| facts.clusters.get(l))
}

/// The leader cluster's facts and the leader index's settings (`None` when unreadable), when the leader index
/// exists and is open: the settings checks only judge such an index.
fn open_leader<'a>(
    cfg: &Config,
    facts: &'a Facts,
    fcfg: &FollowerSettings,
) -> Option<(&'a ClusterFacts, Option<&'a IndexSettings>)> {
    let lf = leader_facts(cfg, facts, fcfg)?;
    match &lf.indices {
        Some(Ok(idx)) if idx.get(&fcfg.leader_index) == Some(&true) => {}
        _ => return None,
    }
    let settings = match &lf.leader_settings {
        Some(Ok(s)) => s.get(&fcfg.leader_index),
        _ => None,
    };
    Some((lf, settings))
}

fn leader_index(cfg: &Config, facts: &Facts, fcfg: &FollowerSettings) -> Vec<CheckResult> {
    let target = leader_target(fcfg);
    let Some(lf) = leader_facts(cfg, facts, fcfg) else {
        return result(
            Check::LeaderIndex,
            &target,
            Skip,
            format!(
                "remote `{}` is not mapped to a configured leader cluster",
                fcfg.remote
            ),
            None,
        );
    };
    match &lf.indices {
        Some(Ok(idx)) => match idx.get(&fcfg.leader_index) {
            None => result(
                Check::LeaderIndex,
                &target,
                Fail,
                format!("leader index `{}` does not exist", fcfg.leader_index),
                FailureReason::LeaderMissing.fix(),
            ),
            Some(false) => result(
                Check::LeaderIndex,
                &target,
                Fail,
                format!("leader index `{}` is closed", fcfg.leader_index),
                Some("open it: POST /<index>/_open"),
            ),
            Some(true) => result(
                Check::LeaderIndex,
                &target,
                PASS,
                format!("leader index `{}` exists and is open", fcfg.leader_index),
                None,
            ),
        },
        Some(Err(e)) => result(
            Check::LeaderIndex,
            &target,
            Skip,
            format!("cannot list the leader's indices: {}", e.message),
            None,
        ),
        None => result(
            Check::LeaderIndex,
            &target,
            Skip,
            "the leader cluster was not read",
            None,
        ),
    }
}

fn soft_deletes(cfg: &Config, facts: &Facts, fcfg: &FollowerSettings) -> Vec<CheckResult> {
    let target = leader_target(fcfg);
    let Some((lf, settings)) = open_leader(cfg, facts, fcfg) else {
        return Vec::new();
    };
    let Some(s) = settings else {
        return result(
            Check::SoftDeletes,
            &target,
            Skip,
            "the index settings could not be read",
            None,
        );
    };
    let enabled = match s.get("index.soft_deletes.enabled").as_deref() {
        Some(v) => v == "true",
        // Default: on for indices created on 7.0+, off on 6.x.
        None => created_major(s).map_or(version_of(lf).map_or(true, |v| v.0 >= 7), |m| m >= 7),
    };
    if enabled {
        result(
            Check::SoftDeletes,
            &target,
            PASS,
            "soft deletes are enabled",
            None,
        )
    } else {
        result(
            Check::SoftDeletes,
            &target,
            Fail,
            format!(
                "leader index `{}` does not have soft deletes enabled",
                fcfg.leader_index
            ),
            FailureReason::SoftDeletesDisabled.fix(),
        )
    }
}

fn replication_type(cfg: &Config, facts: &Facts, fcfg: &FollowerSettings) -> Vec<CheckResult> {
    let target = leader_target(fcfg);
    let Some((_, Some(s))) = open_leader(cfg, facts, fcfg) else {
        return Vec::new();
    };
    match s.get("index.replication.type") {
        Some(t) => result(
            Check::ReplicationType,
            &target,
            Fail,
            format!("leader index `{}` has the physical-replication setting `index.replication.type` = `{t}`", fcfg.leader_index),
            Some("it must be null before CCR: POST /<index>/_close, PUT /<index>/_settings {\"index.replication.type\": null}, POST /<index>/_open"),
        ),
        None => result(
            Check::ReplicationType,
            &target,
            PASS,
            "no `index.replication.type` setting",
            None,
        ),
    }
}

fn follower_index(facts: &Facts, fcfg: &FollowerSettings) -> Vec<CheckResult> {
    let target = format!("{}/{}", fcfg.cluster, fcfg.follower_index);
    let Some(ff) = facts.clusters.get(&fcfg.cluster) else {
        return Vec::new();
    };
    match (&ff.followers, &ff.indices) {
        (Some(Ok(followers)), Some(Ok(indices))) => match followers.get(&fcfg.follower_index) {
            Some(i) if i.remote_cluster == fcfg.remote && i.leader_index == fcfg.leader_index => {
                result(
                    Check::FollowerIndex,
                    &target,
                    PASS,
                    format!(
                        "already follows `{}:{}` ({:?})",
                        i.remote_cluster, i.leader_index, i.status
                    )
                    .to_lowercase(),
                    None,
                )
            }
            Some(i) => result(
                Check::FollowerIndex,
                &target,
                Fail,
                format!(
                    "`{}` already follows `{}:{}`, not `{}:{}`",
                    fcfg.follower_index,
                    i.remote_cluster,
                    i.leader_index,
                    fcfg.remote,
                    fcfg.leader_index
                ),
                FailureReason::NameConflict.fix(),
            ),
            None if indices.contains_key(&fcfg.follower_index) => result(
                Check::FollowerIndex,
                &target,
                Fail,
                format!(
                    "index `{}` already exists and is not a follower",
                    fcfg.follower_index
                ),
                FailureReason::NameConflict.fix(),
            ),
            None => result(
                Check::FollowerIndex,
                &target,
                PASS,
                "the name is free",
                None,
            ),
        },
        _ => result(
            Check::FollowerIndex,
            &target,
            Skip,
            "the follower cluster's indices could not be read",
            None,
        ),
    }
}

pub(super) fn version_of(f: &ClusterFacts) -> Option<(u32, u32)> {
    f.root.as_ref().ok().and_then(|r| r.major_minor())
}

fn version_text(f: &ClusterFacts) -> String {
    f.root
        .as_ref()
        .ok()
        .and_then(|r| r.version.number.clone())
        .unwrap_or_else(|| "unknown".into())
}

/// The major version an index was created with, from `index.version.created` (e.g. `6080099` -> 6).
fn created_major(s: &IndexSettings) -> Option<u64> {
    s.get("index.version.created")?
        .parse::<u64>()
        .ok()
        .map(|id| id / 1_000_000)
}

/// Whether a leader at `v` can be followed by a cluster one major version newer (the CCR compatibility
/// matrix: 6.7/6.8 -> 7.x, 7.17 -> 8.x, 8.18+ -> 9.x; later majors are not judged).
fn cross_major_leader_ok(v: (u32, u32)) -> bool {
    match v.0 {
        6 => v.1 >= 7,
        7 => v.1 >= 17,
        8 => v.1 >= 18,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::es::{FollowerStatus, RemoteInfo, RootVersion};
    use crate::preflight::*;

    /// The standard pair with the remote's seeds and `logs-copy`.
    fn cfg() -> Config {
        crate::testing::config(&format!(
            "seeds = [\"10.0.0.1:9300\"]\n{}",
            crate::testing::follower("logs", "logs-copy")
        ))
    }

    fn root(v: &str) -> Read<RootInfo> {
        Ok(RootInfo {
            cluster_name: Some("c".into()),
            version: RootVersion {
                number: Some(v.into()),
                build_flavor: None,
            },
            ..Default::default()
        })
    }

    fn settings(pairs: &[(&str, &str)]) -> IndexSettings {
        IndexSettings {
            settings: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
                .collect(),
        }
    }

    fn trial() -> Option<Read<LicenseInfo>> {
        Some(Ok(LicenseInfo {
            kind: "trial".into(),
            status: "active".into(),
        }))
    }

    /// A clean pair: 8.15 both, trial, connected remote, leader `logs` with soft deletes, name free.
    fn clean() -> Facts {
        let leader = ClusterFacts {
            http_address: Some("127.0.0.1:9200".into()),
            root: root("8.15.0"),
            license: trial(),
            remotes: None,
            indices: Some(Ok(BTreeMap::from([("logs".to_string(), true)]))),
            followers: None,
            leader_settings: Some(Ok(BTreeMap::from([(
                "logs".to_string(),
                settings(&[("index.version.created", "8150099")]),
            )]))),
            privileges: Some(Err(ReadError {
                status: Some(400),
                message: "no handler".into(),
            })),
            security: Default::default(),
        };
        let follower = ClusterFacts {
            http_address: Some("127.0.0.1:9201".into()),
            root: root("8.15.0"),
            license: trial(),
            remotes: Some(Ok(BTreeMap::from([(
                "leader".to_string(),
                RemoteInfo {
                    connected: true,
                    seeds: vec!["10.0.0.1:9300".into()],
                    ..Default::default()
                },
            )]))),
            indices: Some(Ok(BTreeMap::new())),
            followers: Some(Ok(BTreeMap::new())),
            leader_settings: None,
            privileges: Some(Ok(HasPrivilegesResponse {
                username: Some("ccr".into()),
                has_all_requested: true,
                cluster: BTreeMap::from([("manage_ccr".to_string(), true)]),
                index: BTreeMap::new(),
            })),
            security: Default::default(),
        };
        Facts {
            clusters: BTreeMap::from([("leader".into(), leader), ("follower".into(), follower)]),
            seeds: BTreeMap::from([("10.0.0.1:9300".to_string(), SeedProbe::NoHttp)]),
            now_ms: 0,
        }
    }

    fn leader(f: &mut Facts) -> &mut ClusterFacts {
        f.clusters.get_mut("leader").unwrap()
    }

    fn status_of(results: &[CheckResult], check: &str) -> Vec<CheckStatus> {
        results
            .iter()
            .filter(|r| r.check.as_str() == check)
            .map(|r| r.status)
            .collect()
    }

    #[test]
    fn the_status_view_counts_the_passed_checks_and_lists_the_others() {
        let r = PreflightReport::new(evaluate(&cfg(), &clean()));
        let v = r.status_view();
        let passed = r
            .checks
            .iter()
            .filter(|c| c.status == CheckStatus::Ok)
            .count();
        assert!(passed > 0);
        assert_eq!(v.passed, passed);
        assert_eq!(v.checks.len(), r.checks.len() - passed);
        assert!(v.checks.iter().all(|c| c.status != CheckStatus::Ok));
        assert_eq!(
            (v.ok, v.problems, v.warnings),
            (r.ok, r.problems, r.warnings)
        );
    }

    #[test]
    fn a_clean_pair_passes() {
        let r = PreflightReport::new(evaluate(&cfg(), &clean()));
        assert!(r.ok, "{r:#?}");
        for check in [
            "reachable",
            "version",
            "version_compat",
            "license",
            "remote",
            "seeds",
            "leader_index",
            "soft_deletes",
            "replication_type",
            "follower_index",
            "privileges",
        ] {
            assert!(
                !status_of(&r.checks, check).is_empty(),
                "{check} not evaluated"
            );
        }
        // follower (granted), then leader (cannot tell).
        assert_eq!(
            status_of(&r.checks, "privileges"),
            [CheckStatus::Ok, CheckStatus::Skip]
        );
    }

    type Plant = Box<dyn Fn(&mut Facts)>;

    #[test]
    fn each_planted_problem_is_found_with_a_fix() {
        let table: Vec<(&str, Plant, &str, CheckStatus)> = vec![
            (
                "soft deletes explicitly off",
                Box::new(|f| {
                    leader(f).leader_settings = Some(Ok(BTreeMap::from([(
                        "logs".to_string(),
                        settings(&[("index.soft_deletes.enabled", "false")]),
                    )])));
                }),
                "soft_deletes",
                CheckStatus::Fail,
            ),
            (
                "6.8 leader index created without soft deletes",
                Box::new(|f| {
                    leader(f).root = root("6.8.0");
                    f.clusters.get_mut("follower").unwrap().root = root("6.8.0");
                    leader(f).leader_settings = Some(Ok(BTreeMap::from([(
                        "logs".to_string(),
                        settings(&[("index.version.created", "6080099")]),
                    )])));
                }),
                "soft_deletes",
                CheckStatus::Fail,
            ),
            (
                "physical replication setting",
                Box::new(|f| {
                    leader(f).leader_settings = Some(Ok(BTreeMap::from([(
                        "logs".to_string(),
                        settings(&[("index.replication.type", "SEGMENT")]),
                    )])));
                }),
                "replication_type",
                CheckStatus::Fail,
            ),
            (
                "basic license",
                Box::new(|f| {
                    leader(f).license = Some(Ok(LicenseInfo {
                        kind: "basic".into(),
                        status: "active".into(),
                    }));
                }),
                "license",
                CheckStatus::Fail,
            ),
            (
                "expired platinum",
                Box::new(|f| {
                    leader(f).license = Some(Ok(LicenseInfo {
                        kind: "platinum".into(),
                        status: "expired".into(),
                    }));
                }),
                "license",
                CheckStatus::Fail,
            ),
            (
                "the leader's HTTP address in the observed seeds",
                Box::new(|f| {
                    if let Some(Ok(m)) = &mut f.clusters.get_mut("follower").unwrap().remotes {
                        m.get_mut("leader").unwrap().seeds = vec!["127.0.0.1:9200".into()];
                    }
                }),
                "seeds",
                CheckStatus::Fail,
            ),
            (
                "a seed answering HTTP",
                Box::new(|f| {
                    f.seeds
                        .insert("10.0.0.1:9300".into(), SeedProbe::AnswersHttp);
                }),
                "seeds",
                CheckStatus::Fail,
            ),
            (
                "a 92xx seed",
                Box::new(|f| {
                    if let Some(Ok(m)) = &mut f.clusters.get_mut("follower").unwrap().remotes {
                        m.get_mut("leader")
                            .unwrap()
                            .seeds
                            .push("10.0.0.2:9201".into());
                    }
                }),
                "seeds",
                CheckStatus::Warn,
            ),
            (
                "name taken by a regular index",
                Box::new(|f| {
                    f.clusters.get_mut("follower").unwrap().indices =
                        Some(Ok(BTreeMap::from([("logs-copy".to_string(), true)])));
                }),
                "follower_index",
                CheckStatus::Fail,
            ),
            (
                "name taken by a follower of another leader",
                Box::new(|f| {
                    f.clusters.get_mut("follower").unwrap().followers =
                        Some(Ok(BTreeMap::from([(
                            "logs-copy".to_string(),
                            FollowerInfo {
                                follower_index: "logs-copy".into(),
                                remote_cluster: "leader".into(),
                                leader_index: "other".into(),
                                status: FollowerStatus::Active,
                                parameters: None,
                            },
                        )])));
                }),
                "follower_index",
                CheckStatus::Fail,
            ),
            (
                "follower older than leader",
                Box::new(|f| {
                    f.clusters.get_mut("follower").unwrap().root = root("7.10.2");
                    leader(f).root = root("7.17.0");
                }),
                "version_compat",
                CheckStatus::Fail,
            ),
            (
                "follower newer than leader",
                Box::new(|f| {
                    f.clusters.get_mut("follower").unwrap().root = root("8.15.0");
                    leader(f).root = root("7.17.0");
                }),
                "version_compat",
                CheckStatus::Warn,
            ),
            (
                "7.10 leader, 8.x follower: not across majors",
                Box::new(|f| {
                    f.clusters.get_mut("follower").unwrap().root = root("8.15.0");
                    leader(f).root = root("7.10.2");
                }),
                "version_compat",
                CheckStatus::Fail,
            ),
            (
                "6.8 leader, 7.x follower: allowed, warned",
                Box::new(|f| {
                    f.clusters.get_mut("follower").unwrap().root = root("7.17.0");
                    leader(f).root = root("6.8.0");
                }),
                "version_compat",
                CheckStatus::Warn,
            ),
            (
                "two majors apart",
                Box::new(|f| {
                    f.clusters.get_mut("follower").unwrap().root = root("8.15.0");
                    leader(f).root = root("6.8.0");
                }),
                "version_compat",
                CheckStatus::Fail,
            ),
            (
                "older than 6.7",
                Box::new(|f| {
                    leader(f).root = root("6.6.2");
                }),
                "version",
                CheckStatus::Fail,
            ),
            (
                "leader index missing",
                Box::new(|f| {
                    leader(f).indices = Some(Ok(BTreeMap::new()));
                }),
                "leader_index",
                CheckStatus::Fail,
            ),
            (
                "leader index closed",
                Box::new(|f| {
                    leader(f).indices = Some(Ok(BTreeMap::from([("logs".to_string(), false)])));
                }),
                "leader_index",
                CheckStatus::Fail,
            ),
            (
                "remote not connected",
                Box::new(|f| {
                    if let Some(Ok(m)) = &mut f.clusters.get_mut("follower").unwrap().remotes {
                        m.get_mut("leader").unwrap().connected = false;
                    }
                }),
                "remote",
                CheckStatus::Fail,
            ),
            (
                "remote missing (reconcile will set it)",
                Box::new(|f| {
                    f.clusters.get_mut("follower").unwrap().remotes = Some(Ok(BTreeMap::new()));
                }),
                "remote",
                CheckStatus::Warn,
            ),
            (
                "missing privileges",
                Box::new(|f| {
                    f.clusters.get_mut("follower").unwrap().privileges =
                        Some(Ok(HasPrivilegesResponse {
                            username: Some("ccr".into()),
                            has_all_requested: false,
                            cluster: BTreeMap::from([("manage_ccr".to_string(), false)]),
                            index: BTreeMap::new(),
                        }));
                }),
                "privileges",
                CheckStatus::Fail,
            ),
            (
                "unreachable",
                Box::new(|f| {
                    leader(f).root = Err(ReadError {
                        status: Some(401),
                        message: "leader: root: HTTP 401".into(),
                    });
                }),
                "reachable",
                CheckStatus::Fail,
            ),
        ];
        for (what, plant, check, want) in table {
            let mut facts = clean();
            plant(&mut facts);
            let results = evaluate(&cfg(), &facts);
            let got = status_of(&results, check);
            assert!(
                got.contains(&want),
                "{what}: {check} is {got:?}\n{results:#?}"
            );
            let bad = results
                .iter()
                .find(|r| r.check.as_str() == check && r.status == want)
                .unwrap();
            assert!(bad.fix.is_some(), "{what}: no fix given");
            let report = PreflightReport::new(results);
            assert_eq!(report.ok, want != CheckStatus::Fail, "{what}");
            if want == CheckStatus::Fail {
                assert!(report.problems_by_check()[check] >= 1, "{what}");
            }
        }
    }
}
