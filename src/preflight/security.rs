//! The remote security checks (pure): which model a remote uses and whether what it needs is in place.
//!
//! - `remote_security`: the model `_remote/info` shows (`cluster_credentials` present: API key) against the
//!   configured one, port mix-ups in the observed seeds or proxy address (9300 for an API-key remote, 9443 for a
//!   certificate remote), and the versions the API-key model needs (8.14 GA, 8.10 beta).
//! - `api_key`: the cross-cluster API key ccr-sentinel made for the remote on the leader: its
//!   `access.replication[].names` cover every configured leader index and pattern, and its expiry.
//! - `remote_privileges`: the follower user's `remote_indices` for the alias (`cross_cluster_replication`), since
//!   what CCR may read is the key's access intersected with them.
//! - `leader_manage`: for certificate remotes, index `manage` on the leader indices, which retention-lease
//!   renewal needs although the documented role lacks it (elastic/elasticsearch#61308, PR #84467).

use crate::config::policy::wildcard_match;
use crate::config::{port_mixup, Config, RemoteSecurity, RemoteSettings};
use crate::es::{find_managed_key, uncovered, FailureReason};

use super::evaluate::{result, version_of};
use super::{Check, CheckResult, CheckStatus, ClusterFacts};

use CheckStatus::{Fail, Skip, Warn};
const PASS: CheckStatus = CheckStatus::Ok;

/// Warn when a key expires within this many days (the key-expiry alert's horizon).
const EXPIRY_WARN_DAYS: i64 = 14;

fn target(r: &RemoteSettings) -> String {
    format!("{}/{}", r.cluster, r.alias)
}

fn port_of(addr: &str) -> Option<u16> {
    addr.rsplit_once(':')
        .and_then(|(_, p)| p.trim().parse().ok())
}

/// The model in use, its versions and port mix-ups.
pub(super) fn remote_security(
    r: &RemoteSettings,
    local: &ClusterFacts,
    leader: &ClusterFacts,
) -> Vec<CheckResult> {
    let t = target(r);
    let mut fails = Vec::new();
    let mut warns = Vec::new();
    let observed = match &local.remotes {
        Some(Ok(m)) => m.get(&r.alias),
        _ => None,
    };
    if let Some(i) = observed {
        for a in i.seeds.iter().chain(i.proxy_address.iter()) {
            if let Some(problem) = port_of(a).and_then(|p| port_mixup(r.security, p)) {
                fails.push(format!("`_remote/info` shows `{a}`: {problem}"));
            }
        }
    }
    let mut fix = None;
    match r.security {
        RemoteSecurity::ApiKey => {
            for (which, name, f) in [
                ("leader", &r.leader, leader),
                ("follower", &r.cluster, local),
            ] {
                match version_of(f) {
                    Some(v) if v < (8, 10) => fails.push(format!(
                        "the {which} `{name}` is {}.{}: API-key remotes need 8.14 or later (8.10 as beta)",
                        v.0, v.1
                    )),
                    Some(v) if v < (8, 14) => warns.push(format!(
                        "the {which} `{name}` is {}.{}: API-key remotes are beta before 8.14",
                        v.0, v.1
                    )),
                    _ => {}
                }
            }
            match observed {
                None => {}
                Some(i) if i.has_cluster_credentials && i.connected => {}
                Some(i) if i.connected => fails.push(
                    "connected without `cluster_credentials`: the connection uses the certificate model (the leader's transport port), not the configured API key".into(),
                ),
                Some(i) if i.has_cluster_credentials => fails.push(
                    "the follower nodes have loaded `cluster_credentials` but the remote is not connected: the seeds or proxy address must be the leader's remote cluster server port (`remote_cluster.port`, default 9443, not the transport port 9300), and the key must be valid (not expired or invalidated)".into(),
                ),
                Some(_) => {
                    fails.push(format!(
                        "no `cluster_credentials` for `{}` on `{}`: the cross-cluster API key is not in the follower nodes' keystores",
                        r.alias, r.cluster
                    ));
                    fix = FailureReason::OperatorStep.fix();
                }
            }
        }
        RemoteSecurity::Certificate => {
            if observed.is_some_and(|i| i.has_cluster_credentials) {
                fails.push(format!(
                    "the follower nodes hold `cluster.remote.{}.credentials`, so Elasticsearch connects the remote as an API-key remote (the remote cluster server port), not with certificates",
                    r.alias
                ));
                fix = Some("declare `security = \"api_key\"` with the leader's remote cluster server port, or remove the keystore entry (bin/elasticsearch-keystore remove) and reload the secure settings");
            }
        }
    }
    let fix = fix.or(Some(
        "certificate remotes use the leader's transport port (default 9300); `security = \"api_key\"` remotes use its remote cluster server port (default 9443) and a cross-cluster API key in every follower node's keystore",
    ));
    let model = match r.security {
        RemoteSecurity::ApiKey => {
            "API-key model (cross-cluster API key, remote cluster server port)"
        }
        RemoteSecurity::Certificate => "certificate model (TLS certificates, transport port)",
    };
    if !fails.is_empty() {
        fails.extend(warns);
        return result(Check::RemoteSecurity, &t, Fail, fails.join("; "), fix);
    }
    if !warns.is_empty() {
        return result(Check::RemoteSecurity, &t, Warn, warns.join("; "), None);
    }
    let deprecated =
        r.security == RemoteSecurity::Certificate && version_of(local).is_some_and(|v| v.0 >= 9);
    let message = match observed {
        Some(i) if i.connected && r.security == RemoteSecurity::ApiKey => {
            format!("{model}: connected with `cluster_credentials`")
        }
        _ if deprecated => format!("{model}; deprecated since 9.0 in favour of API-key remotes"),
        _ => model.to_string(),
    };
    result(Check::RemoteSecurity, &t, PASS, message, None)
}

/// The key on the leader: coverage and expiry.
pub(super) fn api_key(
    cfg: &Config,
    r: &RemoteSettings,
    leader: &ClusterFacts,
    now_ms: i64,
) -> Vec<CheckResult> {
    if r.security != RemoteSecurity::ApiKey {
        return Vec::new();
    }
    let t = target(r);
    let keys = match &leader.security.api_keys {
        None => return Vec::new(),
        Some(Err(e)) => {
            return result(
                Check::ApiKey,
                &t,
                Skip,
                format!(
                    "cannot list the API keys of `{}` (it needs `manage_security`, `manage_api_key` or `read_security`): {}",
                    r.leader, e.message
                ),
                None,
            )
        }
        Some(Ok(k)) => k,
    };
    let Some(k) = find_managed_key(keys, &r.cluster, &r.alias) else {
        return result(
            Check::ApiKey,
            &t,
            Warn,
            format!(
                "`{}` has no active cross-cluster API key made by ccr-sentinel for this remote (a key made by hand cannot be checked)",
                r.leader
            ),
            Some("run `ccr-sentinel reconcile --once --credentials-dir DIR`: it creates the key and writes its secret to DIR (mode 0600)"),
        );
    };
    let names = cfg.replication_names(&r.cluster, &r.alias);
    let granted = k
        .access
        .as_ref()
        .map(|a| a.replication_names())
        .unwrap_or_default();
    let missing = uncovered(&granted, &names);
    let mut fails = Vec::new();
    let mut warns = Vec::new();
    if !missing.is_empty() {
        fails.push(format!(
            "key `{}` does not grant replication of {} (follow requests answer 403 `insufficient privileges to follow index`)",
            k.id,
            missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let expiry = match k.expiration {
        None => "never expires".to_string(),
        Some(e) if e <= now_ms => {
            fails.push(format!(
                "key `{}` expired: the remote cannot authenticate",
                k.id
            ));
            "expired".into()
        }
        Some(e) => {
            let days = (e - now_ms) / 86_400_000;
            if days < EXPIRY_WARN_DAYS {
                warns.push(format!(
                    "key `{}` expires in {days} day(s): every follower through `{}` disconnects then",
                    k.id, r.alias
                ));
            }
            format!("expires in {days} day(s)")
        }
    };
    if !fails.is_empty() {
        return result(
            Check::ApiKey,
            &t,
            Fail,
            fails.join("; "),
            Some("`ccr-sentinel reconcile --once` widens a key that misses names (PUT /_security/cross_cluster/api_key/<id>); an expired key must be replaced: invalidate it and create a new one (reconcile --once --credentials-dir DIR), then install it on the follower nodes"),
        );
    }
    if !warns.is_empty() {
        return result(
            Check::ApiKey,
            &t,
            Warn,
            warns.join("; "),
            Some("rotate the key before it expires: create a new one, install it in the follower keystores, then invalidate the old one"),
        );
    }
    result(
        Check::ApiKey,
        &t,
        PASS,
        format!(
            "key `{}` grants every configured leader index and pattern; {expiry}",
            k.id
        ),
        None,
    )
}

/// The follower user's `remote_indices` for the alias.
pub(super) fn remote_privileges(
    cfg: &Config,
    r: &RemoteSettings,
    local: &ClusterFacts,
) -> Vec<CheckResult> {
    if r.security != RemoteSecurity::ApiKey {
        return Vec::new();
    }
    let t = target(r);
    let p = match &local.security.user_privileges {
        None => return Vec::new(),
        Some(Err(e)) => {
            return result(
                Check::RemotePrivileges,
                &t,
                Skip,
                format!(
                    "cannot read the privileges of ccr-sentinel's user on `{}` (an API key cannot list them): {}",
                    r.cluster, e.message
                ),
                None,
            )
        }
        Some(Ok(p)) => p,
    };
    let granted: Vec<&str> = p
        .remote_indices
        .iter()
        .filter(|ri| ri.clusters.iter().any(|c| wildcard_match(c, &r.alias)))
        .filter(|ri| {
            ri.privileges
                .iter()
                .any(|x| x == "cross_cluster_replication" || x == "all")
        })
        .flat_map(|ri| ri.names.iter().map(String::as_str))
        .collect();
    let names = cfg.replication_names(&r.cluster, &r.alias);
    let missing = uncovered(&granted, &names);
    if missing.is_empty() {
        return result(
            Check::RemotePrivileges,
            &t,
            PASS,
            format!(
                "the user's `remote_indices` grant `cross_cluster_replication` on every configured leader index and pattern of `{}`",
                r.alias
            ),
            None,
        );
    }
    let list = missing
        .iter()
        .map(|m| format!("\"{m}\""))
        .collect::<Vec<_>>()
        .join(",");
    result(
        Check::RemotePrivileges,
        &t,
        Fail,
        format!(
            "the user lacks `remote_indices` privilege `cross_cluster_replication` on {} for remote `{}` (Elasticsearch answers `no remote indices privileges apply for the target cluster`)",
            missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", "),
            r.alias
        ),
        Some(&format!(
            "give the user on `{}` a role such as POST /_security/role/remote-replication {{\"cluster\":[\"manage_ccr\"],\"remote_indices\":[{{\"clusters\":[\"{}\"],\"names\":[{list}],\"privileges\":[\"cross_cluster_replication\"]}}]}}",
            r.cluster, r.alias
        )),
    )
}

/// Index `manage` on the leader indices of a certificate remote.
pub(super) fn leader_manage(
    cfg: &Config,
    r: &RemoteSettings,
    leader: &ClusterFacts,
) -> Vec<CheckResult> {
    if r.security != RemoteSecurity::Certificate {
        return Vec::new();
    }
    let t = target(r);
    let p = match &leader.security.leader_manage {
        None => return Vec::new(),
        Some(Err(e)) => {
            return result(
                Check::LeaderManage,
                &t,
                Skip,
                format!("`{}` cannot tell: {}", r.leader, e.message),
                None,
            )
        }
        Some(Ok(p)) => p,
    };
    let lacking: Vec<String> = cfg
        .followers
        .iter()
        .filter(|f| f.cluster == r.cluster && f.remote == r.alias)
        .map(|f| f.leader_index.clone())
        .filter(|i| {
            p.index
                .get(i)
                .and_then(|m| m.get("manage"))
                .is_some_and(|ok| !ok)
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if lacking.is_empty() {
        return result(
            Check::LeaderManage,
            &t,
            PASS,
            format!(
                "user `{}` has index `manage` on the leader indices (retention-lease renewal)",
                p.username.as_deref().unwrap_or("?")
            ),
            None,
        );
    }
    result(
        Check::LeaderManage,
        &t,
        Warn,
        format!(
            "user `{}` lacks index `manage` on {} on `{}`: the followers' background retention-lease renewal fails (logged on the follower only, elastic/elasticsearch#61308), and once a lease expires the leader may discard history a follower still needs",
            p.username.as_deref().unwrap_or("?"),
            lacking
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", "),
            r.leader
        ),
        Some("on the leader cluster, grant the CCR user index `manage` (besides `monitor` and `read`) on the leader indices, as Elasticsearch's own CCR security tests do (elastic/elasticsearch PR #84467)"),
    )
}
