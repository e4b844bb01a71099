//! Preflight (`ccr-sentinel check`): the prerequisites of the CCR setup runbook, checked and explained before
//! anything is changed. [`gather`] reads the clusters (read-only requests only); [`evaluate`] is pure and turns
//! the facts into [`CheckResult`]s, each with a how-to-fix.
//!
//! Checks (the `check` label of `ccr_sentinel_preflight_problems`): `reachable`, `version`, `version_compat`,
//! `license`, `remote`, `seeds`, `leader_index`, `soft_deletes`, `replication_type`, `follower_index`,
//! `privileges`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use serde::Serialize;

use crate::config::{Config, RemoteMode};
use crate::es::{EsClient, EsError};
use crate::es::{FollowerInfo, RemoteInfoResponse, RootInfo};
use crate::es::{
    HasPrivilegesRequest, HasPrivilegesResponse, IndexPrivilegesCheck, IndexSettings, LicenseInfo,
};

/// How long the seed probe waits for an HTTP answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    /// Not blocking, but against the runbook's advice.
    Warn,
    /// Blocks CCR.
    Fail,
    /// Could not be checked (the note says why).
    Skip,
}

impl CheckStatus {
    /// The table word.
    pub fn as_str(&self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "FAIL",
            CheckStatus::Skip => "skip",
        }
    }
}

/// One check of one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// The check (`license`, `soft_deletes`, ...).
    pub check: &'static str,
    /// What was checked: `cluster leader`, `follower/leader`, `leader:logs`, ...
    pub target: String,
    pub status: CheckStatus,
    pub message: String,
    /// How to fix it, when it is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// Every check of a run.
#[derive(Debug, Clone, Serialize)]
pub struct PreflightReport {
    pub ok: bool,
    pub problems: usize,
    pub warnings: usize,
    pub checks: Vec<CheckResult>,
}

impl PreflightReport {
    /// Wraps results.
    pub fn new(checks: Vec<CheckResult>) -> Self {
        let problems = checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .count();
        let warnings = checks
            .iter()
            .filter(|c| c.status == CheckStatus::Warn)
            .count();
        Self {
            ok: problems == 0,
            problems,
            warnings,
            checks,
        }
    }

    /// Failed checks by check name (every check name present, 0 when it passed), for the gauge.
    pub fn problems_by_check(&self) -> BTreeMap<&'static str, usize> {
        let mut m: BTreeMap<&'static str, usize> = ALL_CHECKS.iter().map(|c| (*c, 0)).collect();
        for c in self.checks.iter().filter(|c| c.status == CheckStatus::Fail) {
            *m.entry(c.check).or_default() += 1;
        }
        m
    }
}

/// Every check name.
pub const ALL_CHECKS: &[&str] = &[
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
];

/// A failed read, reduced to what the checks need.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadError {
    pub status: Option<u16>,
    pub message: String,
}

impl From<&EsError> for ReadError {
    fn from(e: &EsError) -> Self {
        Self {
            status: e.status(),
            message: e.to_string(),
        }
    }
}

type Read<T> = Result<T, ReadError>;

/// What was read from one configured cluster. Reads a cluster does not need are `None`.
#[derive(Debug, Clone)]
pub struct ClusterFacts {
    /// `host:port` of the configured URL.
    pub http_address: Option<String>,
    pub root: Read<RootInfo>,
    pub license: Option<Read<LicenseInfo>>,
    pub remotes: Option<Read<RemoteInfoResponse>>,
    /// `_cat/indices`: name -> open.
    pub indices: Option<Read<BTreeMap<String, bool>>>,
    pub followers: Option<Read<BTreeMap<String, FollowerInfo>>>,
    /// Flat settings of the configured leader indices that exist.
    pub leader_settings: Option<Read<BTreeMap<String, IndexSettings>>>,
    pub privileges: Option<Read<HasPrivilegesResponse>>,
}

/// What a seed address answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedProbe {
    /// It answered an HTTP request: an HTTP port, not a transport port.
    AnswersHttp,
    /// No HTTP answer (refused, timed out, or not HTTP).
    NoHttp,
    /// Elasticsearch's transport port: it answers HTTP with "This is not an HTTP port".
    TransportPort,
}

/// Everything [`evaluate`] needs.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub clusters: BTreeMap<String, ClusterFacts>,
    pub seeds: BTreeMap<String, SeedProbe>,
}

fn url_address(u: &reqwest::Url) -> Option<String> {
    Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?))
}

/// Every seed or proxy address to probe: configured ones and those the clusters report for configured aliases.
fn seed_addresses(
    cfg: &Config,
    facts_remotes: &BTreeMap<String, RemoteInfoResponse>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for r in &cfg.remotes {
        out.extend(r.seeds.iter().cloned());
        out.extend(r.proxy_address.iter().cloned());
        if let Some(info) = facts_remotes.get(&r.cluster).and_then(|m| m.get(&r.alias)) {
            out.extend(info.seeds.iter().cloned());
            out.extend(info.proxy_address.iter().cloned());
        }
    }
    out
}

/// Probes whether `addr` answers HTTP.
async fn probe(client: &reqwest::Client, addr: &str) -> SeedProbe {
    match client.get(format!("http://{addr}/")).send().await {
        Ok(resp) => {
            // Elasticsearch's transport port answers an HTTP request with "This is not an HTTP port": that is the
            // right kind of port, not a mistake.
            let body = resp.text().await.unwrap_or_default();
            if body.contains("not an HTTP port") {
                SeedProbe::TransportPort
            } else {
                SeedProbe::AnswersHttp
            }
        }
        Err(_) => SeedProbe::NoHttp,
    }
}

/// Reads the clusters: read-only requests only.
pub async fn gather(cfg: &Config, clients: &BTreeMap<String, EsClient>) -> Facts {
    let follower_clusters: BTreeSet<&str> = cfg
        .remotes
        .iter()
        .map(|r| r.cluster.as_str())
        .chain(cfg.followers.iter().map(|f| f.cluster.as_str()))
        .chain(cfg.auto_follow.iter().map(|a| a.cluster.as_str()))
        .collect();
    // Leader indices per leader cluster, and follower indices per follower cluster.
    let mut leader_indices: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut follower_indices: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &cfg.followers {
        if let Some(l) = cfg.leader_cluster(&f.cluster, &f.remote) {
            leader_indices
                .entry(l.to_string())
                .or_default()
                .insert(f.leader_index.clone());
        }
        follower_indices
            .entry(f.cluster.clone())
            .or_default()
            .insert(f.follower_index.clone());
    }
    let leader_clusters: BTreeSet<&str> = cfg.remotes.iter().map(|r| r.leader.as_str()).collect();

    let reads = cfg.clusters.iter().map(|(name, settings)| {
        let client = clients.get(name).cloned();
        let is_follower = follower_clusters.contains(name.as_str());
        let is_leader = leader_clusters.contains(name.as_str());
        let leaders: Vec<String> = leader_indices
            .get(name)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let followers: Vec<String> = follower_indices
            .get(name)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let http_address = url_address(&settings.url);
        async move {
            let Some(c) = client else {
                let facts = ClusterFacts {
                    http_address,
                    root: Err(ReadError {
                        status: None,
                        message: format!("{name}: no client"),
                    }),
                    license: None,
                    remotes: None,
                    indices: None,
                    followers: None,
                    leader_settings: None,
                    privileges: None,
                };
                return (name.clone(), facts);
            };
            let root = c.root_info().await.map_err(|e| ReadError::from(&e));
            if root.is_err() {
                let facts = ClusterFacts {
                    http_address,
                    root,
                    license: None,
                    remotes: None,
                    indices: None,
                    followers: None,
                    leader_settings: None,
                    privileges: None,
                };
                return (name.clone(), facts);
            }
            let license = Some(c.license().await.map_err(|e| ReadError::from(&e)));
            let remotes = if is_follower {
                Some(c.remote_info().await.map_err(|e| ReadError::from(&e)))
            } else {
                None
            };
            let indices = if is_follower || is_leader {
                Some(
                    c.cat_indices()
                        .await
                        .map(|rows| {
                            rows.into_iter()
                                .map(|r| {
                                    let open = r.status.as_deref() != Some("close");
                                    (r.index, open)
                                })
                                .collect::<BTreeMap<_, _>>()
                        })
                        .map_err(|e| ReadError::from(&e)),
                )
            } else {
                None
            };
            let followers_read = if is_follower {
                Some(
                    c.follow_info_all()
                        .await
                        .map(|r| {
                            r.follower_indices
                                .into_iter()
                                .map(|f| (f.follower_index.clone(), f))
                                .collect()
                        })
                        .map_err(|e| ReadError::from(&e)),
                )
            } else {
                None
            };
            let existing: Vec<String> = match &indices {
                Some(Ok(m)) => leaders
                    .iter()
                    .filter(|l| m.contains_key(*l))
                    .cloned()
                    .collect(),
                _ => Vec::new(),
            };
            let leader_settings = if existing.is_empty() {
                None
            } else {
                Some(
                    c.index_settings(&existing.join(","))
                        .await
                        .map_err(|e| ReadError::from(&e)),
                )
            };
            let mut req = HasPrivilegesRequest::default();
            if is_follower {
                req.cluster
                    .extend(["manage_ccr".to_string(), "monitor".to_string()]);
                if !followers.is_empty() {
                    req.index.push(IndexPrivilegesCheck {
                        names: followers.clone(),
                        privileges: ["monitor", "read", "write", "manage_follow_index"]
                            .map(String::from)
                            .to_vec(),
                    });
                }
            }
            if is_leader {
                req.cluster.push("read_ccr".to_string());
                if !leaders.is_empty() {
                    req.index.push(IndexPrivilegesCheck {
                        names: leaders.clone(),
                        privileges: ["monitor", "read"].map(String::from).to_vec(),
                    });
                }
            }
            let privileges = if req.cluster.is_empty() && req.index.is_empty() {
                None
            } else {
                Some(
                    c.has_privileges(&req)
                        .await
                        .map_err(|e| ReadError::from(&e)),
                )
            };
            let facts = ClusterFacts {
                http_address,
                root,
                license,
                remotes,
                indices,
                followers: followers_read,
                leader_settings,
                privileges,
            };
            (name.clone(), facts)
        }
    });
    let clusters: BTreeMap<String, ClusterFacts> = join_all(reads).await.into_iter().collect();
    let remotes: BTreeMap<String, RemoteInfoResponse> = clusters
        .iter()
        .filter_map(|(n, f)| match &f.remotes {
            Some(Ok(r)) => Some((n.clone(), r.clone())),
            _ => None,
        })
        .collect();
    let addrs = seed_addresses(cfg, &remotes);
    let seeds = match reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .connect_timeout(PROBE_TIMEOUT)
        .build()
    {
        Ok(http) => join_all(addrs.into_iter().map(|a| {
            let http = http.clone();
            async move {
                let p = probe(&http, &a).await;
                (a, p)
            }
        }))
        .await
        .into_iter()
        .collect(),
        Err(_) => BTreeMap::new(),
    };
    Facts { clusters, seeds }
}

fn result(
    check: &'static str,
    target: impl Into<String>,
    status: CheckStatus,
    message: impl Into<String>,
    fix: Option<&str>,
) -> CheckResult {
    CheckResult {
        check,
        target: target.into(),
        status,
        message: message.into(),
        fix: fix.map(str::to_string),
    }
}

fn version_of(f: &ClusterFacts) -> Option<(u32, u32)> {
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

/// Turns the facts into check results. Pure.
pub fn evaluate(cfg: &Config, facts: &Facts) -> Vec<CheckResult> {
    use CheckStatus::{Fail, Skip, Warn};
    let pass = CheckStatus::Ok;
    let mut out = Vec::new();
    for (name, f) in &facts.clusters {
        let target = format!("cluster {name}");
        match &f.root {
            Ok(r) => out.push(result(
                "reachable",
                &target,
                pass,
                format!(
                    "reachable and authenticated (cluster_name `{}`, version {})",
                    r.cluster_name.as_deref().unwrap_or("?"),
                    version_text(f)
                ),
                None,
            )),
            Err(e) => {
                let fix = match e.status {
                    Some(401) => "the credentials were rejected: check `username` with `password_file`, or `api_key_file`",
                    Some(403) => "the user may not call `GET /`: give it the `monitor` cluster privilege",
                    _ => "check `url`, the network path and TLS (`ca_cert`), and that the cluster is up",
                };
                out.push(result(
                    "reachable",
                    &target,
                    Fail,
                    e.message.clone(),
                    Some(fix),
                ));
                continue;
            }
        }
        match version_of(f) {
            Some(v) if v >= (6, 7) => out.push(result(
                "version",
                &target,
                pass,
                format!("version {} supports CCR", version_text(f)),
                None,
            )),
            Some(_) => out.push(result(
                "version",
                &target,
                Fail,
                format!("version {} is older than 6.7", version_text(f)),
                Some("upgrade to 6.7 or later (CCR follow info, remote recovery and this tool need it)"),
            )),
            None => out.push(result(
                "version",
                &target,
                Warn,
                format!("version `{}` could not be parsed", version_text(f)),
                None,
            )),
        }
        match &f.license {
            None => {}
            Some(Ok(l)) if l.allows_ccr() => out.push(result(
                "license",
                &target,
                pass,
                format!("license `{}` ({}) allows CCR", l.kind, l.status),
                None,
            )),
            Some(Ok(l)) => out.push(result(
                "license",
                &target,
                Fail,
                format!("license `{}` ({}) does not allow CCR", l.kind, l.status),
                Some("CCR needs an active platinum, enterprise or trial license on both clusters: install one or start a trial (POST /_license/start_trial?acknowledge=true)"),
            )),
            Some(Err(e)) => out.push(result(
                "license",
                &target,
                Warn,
                format!("cannot read the license: {}", e.message),
                Some("give the user the `monitor` cluster privilege to read the license"),
            )),
        }
        match &f.privileges {
            None => {}
            Some(Ok(p)) => {
                let missing = p.missing();
                if missing.is_empty() {
                    out.push(result(
                        "privileges",
                        &target,
                        pass,
                        format!(
                            "user `{}` has the CCR privileges",
                            p.username.as_deref().unwrap_or("?")
                        ),
                        None,
                    ));
                } else {
                    out.push(result(
                        "privileges",
                        &target,
                        Fail,
                        format!(
                            "user `{}` lacks: {}",
                            p.username.as_deref().unwrap_or("?"),
                            missing.join(", ")
                        ),
                        Some("follower side: cluster `manage_ccr`, `monitor`; index `monitor`, `read`, `write`, `manage_follow_index` on the followers. Leader side: cluster `read_ccr`; index `monitor`, `read` on the leader indices"),
                    ));
                }
            }
            Some(Err(e)) if e.status == Some(401) => out.push(result(
                "privileges",
                &target,
                Fail,
                e.message.clone(),
                Some("the credentials were rejected"),
            )),
            Some(Err(e)) => out.push(result(
                "privileges",
                &target,
                Skip,
                format!(
                    "the cluster cannot tell (security disabled or `_has_privileges` unavailable): {}",
                    e.message
                ),
                None,
            )),
        }
    }

    let http_addresses: BTreeMap<String, &str> = facts
        .clusters
        .iter()
        .filter_map(|(n, f)| Some((f.http_address.clone()?, n.as_str())))
        .collect();
    for r in &cfg.remotes {
        let target = format!("{}/{}", r.cluster, r.alias);
        let (Some(local), Some(leader)) = (
            facts.clusters.get(&r.cluster),
            facts.clusters.get(&r.leader),
        ) else {
            continue;
        };
        if let (Some(lv), Some(fv)) = (version_of(leader), version_of(local)) {
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
                    pass,
                    format!(
                        "leader and follower versions match ({})",
                        version_text(local)
                    ),
                    None,
                )
            };
            out.push(result("version_compat", &target, status, message, fix));
        }
        match &local.remotes {
            None => {}
            Some(Err(e)) => out.push(result(
                "remote",
                &target,
                Warn,
                format!("cannot read _remote/info: {}", e.message),
                None,
            )),
            Some(Ok(m)) => match m.get(&r.alias) {
                None if r.manage && !(r.mode == RemoteMode::Sniff && r.seeds.is_empty()) => out.push(result(
                    "remote",
                    &target,
                    Warn,
                    format!("remote `{}` is not configured on `{}` yet; reconcile will set it", r.alias, r.cluster),
                    Some("run `ccr-sentinel reconcile --once` (or let the daemon do it)"),
                )),
                None => out.push(result(
                    "remote",
                    &target,
                    Fail,
                    format!("remote `{}` is not configured on `{}` and this remote is not managed", r.alias, r.cluster),
                    Some("add it with PUT /_cluster/settings {\"persistent\":{\"cluster.remote.<alias>.seeds\":[\"<leader transport host>:9300\"]}}, or configure `seeds` and `manage = true`"),
                )),
                Some(i) if i.connected => out.push(result(
                    "remote",
                    &target,
                    pass,
                    format!("remote `{}` is connected ({} mode)", r.alias, i.mode()),
                    None,
                )),
                Some(i) => out.push(result(
                    "remote",
                    &target,
                    Fail,
                    format!("remote `{}` is configured but not connected (seeds {:?})", r.alias, i.seeds),
                    Some("check that the seeds are the leader's transport addresses (port 9300, not 9200), reachable from every follower node"),
                )),
            },
        }
        // Seeds: configured and observed.
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
            out.push(result(
                "seeds",
                &target,
                Fail,
                format!("{}: an HTTP port in seeds never connects", bad.join("; ")),
                Some(fix),
            ));
        } else if !suspicious.is_empty() {
            out.push(result(
                "seeds",
                &target,
                Warn,
                suspicious.join("; "),
                Some(fix),
            ));
        } else if !addrs.is_empty() {
            out.push(result(
                "seeds",
                &target,
                pass,
                format!("{} address(es), none is an HTTP port", addrs.len()),
                None,
            ));
        }
    }

    let mut seen_leaders = BTreeSet::new();
    for fcfg in &cfg.followers {
        let leader_target = format!("{}:{}", fcfg.remote, fcfg.leader_index);
        let leader = cfg
            .leader_cluster(&fcfg.cluster, &fcfg.remote)
            .and_then(|l| facts.clusters.get(l).map(|f| (l, f)));
        // Each leader index once, however many followers it has.
        let leader_key = (
            cfg.leader_cluster(&fcfg.cluster, &fcfg.remote)
                .unwrap_or(&fcfg.remote)
                .to_string(),
            fcfg.leader_index.clone(),
        );
        if seen_leaders.insert(leader_key) {
            match leader {
                None => out.push(result(
                    "leader_index",
                    &leader_target,
                    Skip,
                    format!(
                        "remote `{}` is not mapped to a configured leader cluster",
                        fcfg.remote
                    ),
                    None,
                )),
                Some((_, lf)) => match &lf.indices {
                    Some(Ok(idx)) => match idx.get(&fcfg.leader_index) {
                        None => out.push(result(
                            "leader_index",
                            &leader_target,
                            Fail,
                            format!("leader index `{}` does not exist", fcfg.leader_index),
                            Some(
                                "create the leader index (or fix `leader_index` in the configuration)",
                            ),
                        )),
                        Some(false) => out.push(result(
                            "leader_index",
                            &leader_target,
                            Fail,
                            format!("leader index `{}` is closed", fcfg.leader_index),
                            Some("open it: POST /<index>/_open"),
                        )),
                        Some(true) => {
                            out.push(result(
                                "leader_index",
                                &leader_target,
                                pass,
                                format!("leader index `{}` exists and is open", fcfg.leader_index),
                                None,
                            ));
                            let settings = match &lf.leader_settings {
                                Some(Ok(s)) => s.get(&fcfg.leader_index),
                                _ => None,
                            };
                            match settings {
                                None => out.push(result(
                                    "soft_deletes",
                                    &leader_target,
                                    Skip,
                                    "the index settings could not be read",
                                    None,
                                )),
                                Some(s) => {
                                    let explicit = s.get("index.soft_deletes.enabled");
                                    let enabled = match explicit.as_deref() {
                                        Some(v) => v == "true",
                                        // Default: on for indices created on 7.0+, off on 6.x.
                                        None => created_major(s)
                                            .map_or(version_of(lf).map_or(true, |v| v.0 >= 7), |m| {
                                                m >= 7
                                            }),
                                    };
                                    if enabled {
                                        out.push(result(
                                            "soft_deletes",
                                            &leader_target,
                                            pass,
                                            "soft deletes are enabled",
                                            None,
                                        ));
                                    } else {
                                        out.push(result(
                                            "soft_deletes",
                                            &leader_target,
                                            Fail,
                                            format!("leader index `{}` does not have soft deletes enabled", fcfg.leader_index),
                                            Some("soft deletes cannot be turned on for an existing index: create a new index with `index.soft_deletes.enabled: true`, reindex into it (POST /_reindex), and follow the new index"),
                                        ));
                                    }
                                    match s.get("index.replication.type") {
                                        Some(t) => out.push(result(
                                            "replication_type",
                                            &leader_target,
                                            Fail,
                                            format!("leader index `{}` has the physical-replication setting `index.replication.type` = `{t}`", fcfg.leader_index),
                                            Some("it must be null before CCR: POST /<index>/_close, PUT /<index>/_settings {\"index.replication.type\": null}, POST /<index>/_open"),
                                        )),
                                        None => out.push(result("replication_type", &leader_target, pass, "no `index.replication.type` setting", None)),
                                    }
                                }
                            }
                        }
                    },
                    Some(Err(e)) => out.push(result(
                        "leader_index",
                        &leader_target,
                        Skip,
                        format!("cannot list the leader's indices: {}", e.message),
                        None,
                    )),
                    None => out.push(result(
                        "leader_index",
                        &leader_target,
                        Skip,
                        "the leader cluster was not read",
                        None,
                    )),
                },
            }
        }

        let target = format!("{}/{}", fcfg.cluster, fcfg.follower_index);
        let Some(ff) = facts.clusters.get(&fcfg.cluster) else {
            continue;
        };
        match (&ff.followers, &ff.indices) {
            (Some(Ok(followers)), Some(Ok(indices))) => match followers.get(&fcfg.follower_index) {
                Some(i) if i.remote_cluster == fcfg.remote && i.leader_index == fcfg.leader_index => out.push(result(
                    "follower_index",
                    &target,
                    pass,
                    format!("already follows `{}:{}` ({:?})", i.remote_cluster, i.leader_index, i.status).to_lowercase(),
                    None,
                )),
                Some(i) => out.push(result(
                    "follower_index",
                    &target,
                    Fail,
                    format!("`{}` already follows `{}:{}`, not `{}:{}`", fcfg.follower_index, i.remote_cluster, i.leader_index, fcfg.remote, fcfg.leader_index),
                    Some("choose another `follower_index`, or unfollow and remove the existing follower yourself"),
                )),
                None if indices.contains_key(&fcfg.follower_index) => out.push(result(
                    "follower_index",
                    &target,
                    Fail,
                    format!("index `{}` already exists and is not a follower", fcfg.follower_index),
                    Some("choose another `follower_index`; ccr-sentinel never deletes or overwrites an index"),
                )),
                None => out.push(result("follower_index", &target, pass, "the name is free", None)),
            },
            _ => out.push(result("follower_index", &target, Skip, "the follower cluster's indices could not be read", None)),
        }
    }
    out
}

/// Reads the clusters and evaluates every check.
pub async fn run(cfg: &Config, clients: &BTreeMap<String, EsClient>) -> PreflightReport {
    let facts = gather(cfg, clients).await;
    PreflightReport::new(evaluate(cfg, &facts))
}

/// Clients for every configured cluster.
pub fn clients(cfg: &Config) -> Result<BTreeMap<String, EsClient>, EsError> {
    cfg.clusters
        .iter()
        .map(|(n, c)| Ok((n.clone(), EsClient::new(c)?)))
        .collect()
}

/// Runs the checks at daemon start-up: logs every problem and sets `ccr_sentinel_preflight_problems`.
pub async fn at_startup(
    cfg: Arc<Config>,
    clients: BTreeMap<String, EsClient>,
    gauge: prometheus::GaugeVec,
) -> PreflightReport {
    let report = run(&cfg, &clients).await;
    for (check, n) in report.problems_by_check() {
        gauge.with_label_values(&[check]).set(n as f64);
    }
    for c in &report.checks {
        match c.status {
            CheckStatus::Fail => {
                tracing::warn!(check = c.check, target = %c.target, fix = c.fix.as_deref().unwrap_or(""), "preflight: {}", c.message)
            }
            CheckStatus::Warn => {
                tracing::info!(check = c.check, target = %c.target, fix = c.fix.as_deref().unwrap_or(""), "preflight warning: {}", c.message)
            }
            _ => {
                tracing::debug!(check = c.check, target = %c.target, "preflight {}: {}", c.status.as_str(), c.message)
            }
        }
    }
    tracing::info!(
        problems = report.problems,
        warnings = report.warnings,
        "preflight finished"
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::es::{FollowerStatus, RemoteInfo, RootVersion};

    fn cfg() -> Config {
        crate::config::from_toml_str(
            r#"
[clusters.leader]
url = "http://127.0.0.1:9200"
[clusters.follower]
url = "http://127.0.0.1:9201"
[[remotes]]
cluster = "follower"
alias = "leader"
leader = "leader"
seeds = ["10.0.0.1:9300"]
[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "logs"
follower_index = "logs-copy"
"#,
        )
        .unwrap()
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
        };
        Facts {
            clusters: BTreeMap::from([("leader".into(), leader), ("follower".into(), follower)]),
            seeds: BTreeMap::from([("10.0.0.1:9300".to_string(), SeedProbe::NoHttp)]),
        }
    }

    fn leader(f: &mut Facts) -> &mut ClusterFacts {
        f.clusters.get_mut("leader").unwrap()
    }

    fn status_of(results: &[CheckResult], check: &str) -> Vec<CheckStatus> {
        results
            .iter()
            .filter(|r| r.check == check)
            .map(|r| r.status)
            .collect()
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
                .find(|r| r.check == check && r.status == want)
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
