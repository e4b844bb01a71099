//! The I/O half of preflight: read-only requests to every configured cluster, and a probe of every seed address.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures_util::future::join_all;

use crate::config::{Config, RemoteSecurity};
use crate::es::{
    ApiKeyQuery, EsClient, HasPrivilegesRequest, IndexPrivilegesCheck, RemoteInfoResponse,
};

use super::{ClusterFacts, Facts, ReadError, SecurityFacts, SeedProbe};

/// How long the seed probe waits for an HTTP answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

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

/// The facts of a cluster whose root could not be read: nothing else is asked.
fn unreached(http_address: Option<String>, root: ReadError) -> ClusterFacts {
    ClusterFacts {
        http_address,
        root: Err(root),
        license: None,
        remotes: None,
        indices: None,
        followers: None,
        leader_settings: None,
        privileges: None,
        security: Default::default(),
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
        let sec = security_reads(cfg, name);
        async move {
            let Some(c) = client else {
                let root = ReadError {
                    status: None,
                    message: format!("{name}: no client"),
                };
                return (name.clone(), unreached(http_address, root));
            };
            let root = match c.root_info().await {
                Ok(root) => Ok(root),
                Err(e) => return (name.clone(), unreached(http_address, ReadError::from(&e))),
            };
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
            let security = security_facts(&c, &sec).await;
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
                security,
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
    Facts {
        clusters,
        seeds,
        now_ms: chrono::Utc::now().timestamp_millis(),
    }
}

/// Which security reads a cluster needs.
#[derive(Debug, Default)]
struct SecurityReads {
    /// It is the follower of an `api_key` remote.
    remote_indices: bool,
    /// It is the leader of an `api_key` remote.
    api_keys: bool,
    /// Leader indices of its certificate remotes (for index `manage`).
    manage_on: Vec<String>,
}

fn security_reads(cfg: &Config, name: &str) -> SecurityReads {
    let mut out = SecurityReads::default();
    let mut manage_on = BTreeSet::new();
    for r in &cfg.remotes {
        match r.security {
            RemoteSecurity::ApiKey => {
                out.remote_indices |= r.cluster == name;
                out.api_keys |= r.leader == name;
            }
            RemoteSecurity::Certificate if r.leader == name => manage_on.extend(
                cfg.followers
                    .iter()
                    .filter(|f| f.cluster == r.cluster && f.remote == r.alias)
                    .map(|f| f.leader_index.clone()),
            ),
            RemoteSecurity::Certificate => {}
        }
    }
    out.manage_on = manage_on.into_iter().collect();
    out
}

async fn security_facts(c: &EsClient, reads: &SecurityReads) -> SecurityFacts {
    let err = |e: crate::es::EsError| ReadError::from(&e);
    let user_privileges = async {
        if reads.remote_indices {
            Some(c.user_privileges().await.map_err(err))
        } else {
            None
        }
    };
    let api_keys = async {
        if reads.api_keys {
            let q = ApiKeyQuery {
                name: Some("ccr-sentinel-*".into()),
                active_only: true,
                ..Default::default()
            };
            Some(c.get_api_keys(&q).await.map(|r| r.api_keys).map_err(err))
        } else {
            None
        }
    };
    let leader_manage = async {
        if reads.manage_on.is_empty() {
            None
        } else {
            let req = HasPrivilegesRequest {
                cluster: Vec::new(),
                index: vec![IndexPrivilegesCheck {
                    names: reads.manage_on.clone(),
                    privileges: vec!["manage".into()],
                }],
            };
            Some(c.has_privileges(&req).await.map_err(err))
        }
    };
    let (user_privileges, api_keys, leader_manage) =
        tokio::join!(user_privileges, api_keys, leader_manage);
    SecurityFacts {
        user_privileges,
        api_keys,
        leader_manage,
    }
}
