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
use crate::es::{find_managed_key, key_of_remote, uncovered, FailureReason};

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
    // Elasticsearch lists active keys only (`active_only`), by its own clock: a key it still lists that has
    // expired by the daemon's is checked, and fails for it, rather than passed over.
    let expired = || {
        keys.iter()
            .filter(|k| key_of_remote(k, &r.cluster, &r.alias) && !k.invalidated)
            .max_by_key(|k| k.creation.unwrap_or(0))
    };
    let Some(k) = find_managed_key(keys, &r.cluster, &r.alias, now_ms).or_else(expired) else {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::es::{
        ApiKeyInfo, HasPrivilegesResponse, RemoteInfo, RootInfo, RootVersion,
        UserPrivilegesResponse,
    };
    use crate::preflight::{ReadError, SecurityFacts};
    use serde_json::json;

    fn cfg(remote: &str) -> Config {
        crate::testing::config(&format!(
            "{remote}\n{}[[auto_follow]]\ncluster = \"follower\"\nname = \"m\"\nremote = \"leader\"\nleader_index_patterns = [\"metrics-*\"]\n",
            crate::testing::follower("logs", "logs-copy")
        ))
    }

    fn api_key_cfg() -> Config {
        cfg("security = \"api_key\"\nmode = \"proxy\"\nproxy_address = \"leader:9443\"")
    }

    fn facts(version: &str, remote: Option<RemoteInfo>) -> ClusterFacts {
        ClusterFacts {
            http_address: None,
            root: Ok(RootInfo {
                cluster_name: Some("c".into()),
                version: RootVersion {
                    number: Some(version.into()),
                    build_flavor: None,
                },
                ..Default::default()
            }),
            license: None,
            remotes: Some(Ok(remote
                .map(|r| BTreeMap::from([("leader".to_string(), r)]))
                .unwrap_or_default())),
            indices: None,
            followers: None,
            leader_settings: None,
            privileges: None,
            security: SecurityFacts::default(),
        }
    }

    fn info(connected: bool, creds: bool, addr: &str) -> RemoteInfo {
        RemoteInfo {
            connected,
            has_cluster_credentials: creds,
            mode: Some("proxy".into()),
            proxy_address: Some(addr.into()),
            ..Default::default()
        }
    }

    fn statuses(r: &[CheckResult]) -> Vec<CheckStatus> {
        r.iter().map(|c| c.status).collect()
    }

    #[test]
    fn the_model_in_use() {
        let api = api_key_cfg();
        let cert = cfg("seeds = [\"leader:9300\"]");
        let leader = facts("8.15.0", None);
        let table: Vec<(
            &str,
            &Config,
            ClusterFacts,
            &ClusterFacts,
            CheckStatus,
            &str,
        )> = vec![
            (
                "api key connected",
                &api,
                facts("8.15.0", Some(info(true, true, "leader:9443"))),
                &leader,
                PASS,
                "connected with `cluster_credentials`",
            ),
            (
                "api key not installed",
                &api,
                facts("8.15.0", Some(info(false, false, "leader:9443"))),
                &leader,
                Fail,
                "not in the follower nodes' keystores",
            ),
            (
                "api key on 9300",
                &api,
                facts("8.15.0", Some(info(false, true, "leader:9300"))),
                &leader,
                Fail,
                "port 9300 is the default transport port",
            ),
            (
                "api key rejected",
                &api,
                facts("8.15.0", Some(info(false, true, "leader:19443"))),
                &leader,
                Fail,
                "loaded `cluster_credentials` but the remote is not connected",
            ),
            (
                "api key remote connected by certificates",
                &api,
                facts("8.15.0", Some(info(true, false, "leader:19300"))),
                &leader,
                Fail,
                "uses the certificate model",
            ),
            (
                "api key, beta version",
                &api,
                facts("8.12.0", Some(info(true, true, "leader:9443"))),
                &leader,
                Warn,
                "beta before 8.14",
            ),
            (
                "api key, too old",
                &api,
                facts("8.9.0", None),
                &leader,
                Fail,
                "need 8.14 or later",
            ),
            (
                "certificate",
                &cert,
                facts("8.15.0", Some(info(true, false, "leader:9300"))),
                &leader,
                PASS,
                "certificate model",
            ),
            (
                "certificate on 9443",
                &cert,
                facts("8.15.0", Some(info(false, false, "leader:9443"))),
                &leader,
                Fail,
                "port 9443 is the default remote cluster server port",
            ),
            (
                "certificate with credentials",
                &cert,
                facts("8.15.0", Some(info(false, true, "leader:9300"))),
                &leader,
                Fail,
                "connects the remote as an API-key remote",
            ),
            (
                "certificate on 9.x",
                &cert,
                facts("9.1.0", Some(info(true, false, "leader:9300"))),
                &leader,
                PASS,
                "deprecated since 9.0",
            ),
        ];
        for (what, c, local, leader, status, needle) in table {
            let r = remote_security(&c.remotes[0], &local, leader);
            assert_eq!(statuses(&r), vec![status], "{what}: {r:#?}");
            assert!(r[0].message.contains(needle), "{what}: {}", r[0].message);
            if status == Fail {
                assert!(r[0].fix.is_some(), "{what}");
            }
        }
        let pending = remote_security(
            &api.remotes[0],
            &facts("8.15.0", Some(info(false, false, "leader:9443"))),
            &leader,
        );
        assert_eq!(pending[0].fix.as_deref(), FailureReason::OperatorStep.fix());
    }

    fn key(names: &[&str], expiration: Option<i64>) -> ApiKeyInfo {
        serde_json::from_value(json!({"id": "k1", "type": "cross_cluster", "creation": 1,
            "expiration": expiration, "invalidated": false,
            "metadata": {"managed_by": "ccr-sentinel", "remote_cluster": "leader", "follower_cluster": "follower"},
            "access": {"replication": [{"names": names}]}}))
        .unwrap()
    }

    #[test]
    fn the_key_covers_and_has_not_expired() {
        let c = api_key_cfg();
        let day = 86_400_000;
        let now = 1_000 * day;
        let with = |keys: Result<Vec<ApiKeyInfo>, ReadError>| {
            let mut f = facts("8.15.0", None);
            f.security.api_keys = Some(keys);
            f
        };
        type Row = (
            &'static str,
            Result<Vec<ApiKeyInfo>, ReadError>,
            CheckStatus,
            &'static str,
        );
        let table: Vec<Row> = vec![
            (
                "covers, 30 days left",
                Ok(vec![key(&["logs", "metrics-*"], Some(now + 30 * day))]),
                PASS,
                "expires in 30 day(s)",
            ),
            (
                "a wildcard covers, no expiry",
                Ok(vec![key(&["*"], None)]),
                PASS,
                "never expires",
            ),
            (
                "a pattern missing",
                Ok(vec![key(&["logs", "metrics-2024*"], None)]),
                Fail,
                "does not grant replication of `metrics-*`",
            ),
            (
                "expired",
                Ok(vec![key(&["*"], Some(now - 1))]),
                Fail,
                "expired",
            ),
            (
                "expires soon",
                Ok(vec![key(&["*"], Some(now + 3 * day))]),
                Warn,
                "expires in 3 day(s)",
            ),
            (
                "no key",
                Ok(vec![]),
                Warn,
                "no active cross-cluster API key made by ccr-sentinel",
            ),
            (
                "cannot list",
                Err(ReadError {
                    status: Some(403),
                    message: "denied".into(),
                }),
                Skip,
                "denied",
            ),
        ];
        for (what, keys, status, needle) in table {
            let r = api_key(&c, &c.remotes[0], &with(keys), now);
            assert_eq!(statuses(&r), vec![status], "{what}: {r:#?}");
            assert!(r[0].message.contains(needle), "{what}: {}", r[0].message);
        }
        // Certificate remotes have no key to check.
        let cert = cfg("seeds = [\"leader:9300\"]");
        assert!(api_key(&cert, &cert.remotes[0], &with(Ok(vec![])), now).is_empty());
    }

    #[test]
    fn remote_indices_privileges_of_the_follower_user() {
        let c = api_key_cfg();
        let with = |p: serde_json::Value| {
            let mut f = facts("8.15.0", None);
            f.security.user_privileges = Some(Ok(
                serde_json::from_value::<UserPrivilegesResponse>(p).unwrap(),
            ));
            f
        };
        let ok = with(json!({"cluster": ["manage_ccr"], "remote_indices": [
            {"clusters": ["leader"], "names": ["logs", "metrics-*"], "privileges": ["cross_cluster_replication"]}]}));
        assert_eq!(
            statuses(&remote_privileges(&c, &c.remotes[0], &ok)),
            vec![PASS]
        );
        let other_alias = with(json!({"remote_indices": [
            {"clusters": ["elsewhere"], "names": ["*"], "privileges": ["cross_cluster_replication"]}]}));
        let r = remote_privileges(&c, &c.remotes[0], &other_alias);
        assert_eq!(statuses(&r), vec![Fail]);
        assert!(
            r[0].fix
                .as_deref()
                .unwrap()
                .contains("\"clusters\":[\"leader\"],\"names\":[\"logs\",\"metrics-*\"]"),
            "{r:#?}"
        );
        let read_only = with(json!({"remote_indices": [
            {"clusters": ["*"], "names": ["*"], "privileges": ["read"]}]}));
        assert_eq!(
            statuses(&remote_privileges(&c, &c.remotes[0], &read_only)),
            vec![Fail]
        );
        let mut unreadable = facts("8.15.0", None);
        unreadable.security.user_privileges = Some(Err(ReadError {
            status: Some(400),
            message: "cannot retrieve privileges for API keys".into(),
        }));
        assert_eq!(
            statuses(&remote_privileges(&c, &c.remotes[0], &unreadable)),
            vec![Skip]
        );
    }

    #[test]
    fn leader_manage_for_certificate_remotes() {
        let c = cfg("seeds = [\"leader:9300\"]");
        let with = |granted: bool| {
            let mut f = facts("8.15.0", None);
            f.security.leader_manage = Some(Ok(HasPrivilegesResponse {
                username: Some("ccr".into()),
                has_all_requested: granted,
                cluster: BTreeMap::new(),
                index: BTreeMap::from([(
                    "logs".to_string(),
                    BTreeMap::from([("manage".to_string(), granted)]),
                )]),
            }));
            f
        };
        assert_eq!(
            statuses(&leader_manage(&c, &c.remotes[0], &with(true))),
            vec![PASS]
        );
        let r = leader_manage(&c, &c.remotes[0], &with(false));
        assert_eq!(statuses(&r), vec![Warn]);
        assert!(
            r[0].message.contains("#61308") && r[0].message.contains("`logs`"),
            "{r:#?}"
        );
        let api = api_key_cfg();
        assert!(leader_manage(&api, &api.remotes[0], &with(false)).is_empty());
    }
}
