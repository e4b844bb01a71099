//! Cross-cluster API keys and the daemon's own credentials: what the leaders' `GET /_security/api_key` and the
//! follower clusters' `GET /_security/_authenticate` say, kept in the snapshot, and the pure judgement of it at a
//! given time ([`remote_keys`], [`credentials`]).
//!
//! Request budget: a key read is one `GET /_security/api_key?owner=true` per leader cluster of an API-key remote
//! and one `GET /_security/_authenticate` per follower cluster (plus, when that credential is an API key, one
//! `GET /_security/api_key?id=<its id>`, which `ManageOwnApiKeyClusterPrivilege` lets a key do for itself). Keys
//! expire in days, so the read is not sent with every poll: the `poll` job sends it when it is
//! [`KEYS_REFRESH`] old, and at once when the connection of an API-key remote changes (a key that expired or
//! was invalidated shows over REST only as `_remote/info` `connected: false`, docs/es-contract.md §27.4; reading
//! the key then explains the disconnect within one poll). The seconds until expiry are recomputed from the
//! stored `expiration` at every report, at the report's time on the daemon's clock ([`super::Clock`]), so they
//! stay current between reads and follow a simulator's clock in tests.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use super::snapshot::Snapshot;
use crate::config::{ClusterKey, Config};
use crate::es::{key_of_remote, ApiKeyInfo, ApiKeysResponse, AuthenticateResponse, EsError};

/// How old the key information may get before the `poll` job reads it again.
pub const KEYS_REFRESH: std::time::Duration = std::time::Duration::from_secs(300);

/// The answers of one key read.
#[derive(Debug)]
pub struct KeysResult {
    pub at: DateTime<Utc>,
    /// `GET /_security/api_key?owner=true`, by leader cluster.
    pub leaders: BTreeMap<String, Result<ApiKeysResponse, EsError>>,
    /// `_authenticate` (and the own key's information), by follower cluster.
    pub credentials: BTreeMap<String, CredentialRead>,
    /// The connection of every API-key remote when the read was decided, by `cluster/alias`.
    pub connectivity: BTreeMap<ClusterKey, bool>,
}

impl KeysResult {
    /// The errors of this read, with the cluster they came from, for counting.
    pub fn errors(&self) -> impl Iterator<Item = (&str, &EsError)> {
        self.leaders
            .iter()
            .filter_map(|(c, r)| r.as_ref().err().map(|e| (c.as_str(), e)))
            .chain(self.credentials.iter().flat_map(|(c, r)| {
                [
                    r.authenticate.as_ref().err(),
                    r.own_key.as_ref().and_then(|k| k.as_ref().err()),
                ]
                .into_iter()
                .flatten()
                .map(move |e| (c.as_str(), e))
            }))
    }
}

/// What one follower cluster says about the daemon's credential.
#[derive(Debug)]
pub struct CredentialRead {
    pub authenticate: Result<AuthenticateResponse, EsError>,
    /// `GET /_security/api_key?id=<own id>` when the credential is an API key.
    pub own_key: Option<Result<ApiKeysResponse, EsError>>,
}

/// The keys of one leader cluster, as last read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KeysState {
    pub at: Option<DateTime<Utc>>,
    /// The last good answer (kept when a later read fails).
    pub keys: Option<Vec<ApiKeyInfo>>,
    /// The latest read's error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The daemon's credential on one cluster, as last read.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Credential {
    pub at: Option<DateTime<Utc>>,
    /// The principal, as the audit records it (see [`principal`]).
    pub principal: Option<String>,
    /// The API key's id, when the credential is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    /// Epoch milliseconds of the API key's expiry, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where the poll job stands with key reads.
#[derive(Debug, Clone, Default)]
pub struct KeysMark {
    pub at: Option<DateTime<Utc>>,
    pub connectivity: BTreeMap<ClusterKey, bool>,
}

/// How a principal is written in the audit and `/status`: `user "name" (realm "r")` or
/// `API key "id" ("name") of user "owner"`. Never a secret: `_authenticate` returns none.
pub fn principal(a: &AuthenticateResponse) -> String {
    match (&a.api_key, a.is_api_key()) {
        (Some(k), _) => match &k.name {
            Some(n) => format!("API key `{}` (`{n}`) of user `{}`", k.id, a.username),
            None => format!("API key `{}` of user `{}`", k.id, a.username),
        },
        (None, true) => format!("an API key of user `{}`", a.username),
        (None, false) => match &a.authentication_realm {
            Some(r) if !r.name.is_empty() => format!("user `{}` (realm `{}`)", a.username, r.name),
            _ => format!("user `{}`", a.username),
        },
    }
}

impl Snapshot {
    /// Records a key read; failed reads keep the previous answers and record the error.
    pub fn apply_keys(&mut self, r: KeysResult) {
        for (cluster, res) in r.leaders {
            let cs = self.clusters.entry(cluster).or_default();
            let st = cs.api_keys.get_or_insert_with(Default::default);
            st.at = Some(r.at);
            match res {
                Ok(k) => {
                    st.keys = Some(k.api_keys);
                    st.error = None;
                }
                Err(e) => st.error = Some(e.to_string()),
            }
        }
        for (cluster, read) in r.credentials {
            let cs = self.clusters.entry(cluster).or_default();
            let mut c = cs.credential.clone().unwrap_or_default();
            c.at = Some(r.at);
            match read.authenticate {
                Ok(a) => {
                    c.principal = Some(principal(&a));
                    c.api_key_id = a.api_key.as_ref().map(|k| k.id.clone());
                    c.error = None;
                    match read.own_key {
                        Some(Ok(k)) => {
                            c.expiration = k
                                .api_keys
                                .iter()
                                .find(|k| Some(&k.id) == c.api_key_id.as_ref())
                                .and_then(|k| k.expiration)
                        }
                        Some(Err(e)) => c.error = Some(e.to_string()),
                        None => c.expiration = None,
                    }
                }
                Err(e) => c.error = Some(e.to_string()),
            }
            cs.credential = Some(c);
        }
        self.keys_mark = KeysMark {
            at: Some(r.at),
            connectivity: r.connectivity,
        };
    }

    /// The connection of every API-key remote of the follower clusters, by `cluster/alias`: configured with
    /// `security = "api_key"`, or an alias whose `_remote/info` shows `cluster_credentials`, which ES writes
    /// whenever the node holds credentials for it, connected or not (`RemoteConnectionInfo#toXContent`).
    pub fn api_key_remotes(&self, cfg: &Config) -> BTreeMap<ClusterKey, bool> {
        let mut out = BTreeMap::new();
        for cluster in cfg.follower_clusters() {
            let Some(ri) = self
                .clusters
                .get(&cluster)
                .and_then(|c| c.remote_info.as_ref())
            else {
                continue;
            };
            for (alias, r) in &ri.data {
                let configured = cfg
                    .remote(&cluster, alias)
                    .is_some_and(|r| r.security == crate::config::RemoteSecurity::ApiKey);
                if r.has_cluster_credentials || configured {
                    out.insert(ClusterKey::new(&cluster, alias), r.connected);
                }
            }
        }
        out
    }

    /// True when the `poll` job should read the keys now: never read, older than [`KEYS_REFRESH`], or an
    /// API-key remote connected or disconnected since the last read.
    pub fn keys_due(&self, cfg: &Config, now: DateTime<Utc>) -> bool {
        let Some(at) = self.keys_mark.at else {
            return true;
        };
        let refresh = chrono::Duration::from_std(KEYS_REFRESH).unwrap_or(chrono::Duration::MAX);
        now - at >= refresh || self.api_key_remotes(cfg) != self.keys_mark.connectivity
    }
}

/// The leader clusters whose keys a read asks for: the configured leaders of the API-key remotes.
pub fn key_leaders(cfg: &Config, snap: &Snapshot) -> Vec<String> {
    let mut out: Vec<String> = snap
        .api_key_remotes(cfg)
        .keys()
        .filter_map(|k| cfg.leader_cluster(&k.cluster, &k.name).map(str::to_string))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What is wrong with a remote's key, when something is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyProblem {
    /// Every key of the remote has expired; `id` expired last, at `at`.
    Expired { id: String, at: DateTime<Utc> },
    /// Every key of the remote is invalidated (or expired); `id` is the one invalidated.
    Invalidated { id: String },
    /// The leader has no key for the remote.
    NoKey,
}

impl KeyProblem {
    /// The reason, in words.
    pub fn describe(&self) -> String {
        match self {
            KeyProblem::Expired { id, at } => format!(
                "its cross-cluster API key `{id}` expired at {}",
                at.format("%Y-%m-%dT%H:%M:%SZ")
            ),
            KeyProblem::Invalidated { id } => {
                format!("its cross-cluster API key `{id}` was invalidated")
            }
            KeyProblem::NoKey => "the leader has no cross-cluster API key for it".into(),
        }
    }
}

/// The key of one API-key remote, judged at a time.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RemoteKey {
    pub follower_cluster: String,
    pub remote_cluster: String,
    pub leader_cluster: Option<String>,
    /// The usable keys of the remote (ids); which one the follower nodes hold is not visible over REST.
    pub usable_keys: Vec<String>,
    /// When the soonest-expiring usable key expires: while the follower's key cannot be told, the remote is
    /// judged by the one that ends first; once every key has expired, when the last one did. `None`: no usable
    /// key expires (or the keys are invalidated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Seconds from the judgement until `expires_at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<KeyProblem>,
    /// When the leader's keys were read.
    pub as_of: Option<DateTime<Utc>>,
    /// The latest key read's error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn at_ms(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

/// The key of every API-key remote whose leader is configured, judged at `now`.
pub fn remote_keys(cfg: &Config, snap: &Snapshot, now: DateTime<Utc>) -> Vec<RemoteKey> {
    let now_ms = now.timestamp_millis();
    let mut out = Vec::new();
    for k in snap.api_key_remotes(cfg).keys() {
        let (cluster, alias) = (k.cluster.as_str(), k.name.as_str());
        let leader = cfg.leader_cluster(cluster, alias).map(str::to_string);
        let state = leader
            .as_ref()
            .and_then(|l| snap.clusters.get(l))
            .and_then(|c| c.api_keys.as_ref());
        let mut r = RemoteKey {
            follower_cluster: cluster.to_string(),
            remote_cluster: alias.to_string(),
            leader_cluster: leader,
            usable_keys: Vec::new(),
            expires_at: None,
            expiry_seconds: None,
            problem: None,
            as_of: state.and_then(|s| s.at),
            error: state.and_then(|s| s.error.clone()),
        };
        if let Some(keys) = state.and_then(|s| s.keys.as_ref()) {
            let mine: Vec<&ApiKeyInfo> = keys
                .iter()
                .filter(|k| key_of_remote(k, cluster, alias))
                .collect();
            let usable: Vec<&&ApiKeyInfo> = mine.iter().filter(|k| k.usable_at(now_ms)).collect();
            r.usable_keys = usable.iter().map(|k| k.id.clone()).collect();
            let soonest = usable.iter().filter_map(|k| k.expiration).min();
            r.expires_at = soonest.and_then(at_ms);
            r.expiry_seconds = soonest.map(|e| (e - now_ms).div_euclid(1000));
            if usable.is_empty() {
                let expired = mine
                    .iter()
                    .filter(|k| !k.invalidated)
                    .filter_map(|k| Some((k.expiration?, &k.id)))
                    .max();
                r.problem = Some(match (expired, mine.iter().find(|k| k.invalidated)) {
                    (Some((e, id)), _) => {
                        // Kept, negative: an alert on the time left keeps firing once the key has run out.
                        r.expires_at = at_ms(e);
                        r.expiry_seconds = Some((e - now_ms).div_euclid(1000));
                        KeyProblem::Expired {
                            id: id.clone(),
                            at: at_ms(e).unwrap_or(now),
                        }
                    }
                    (None, Some(k)) => KeyProblem::Invalidated { id: k.id.clone() },
                    (None, None) => KeyProblem::NoKey,
                });
            }
        }
        out.push(r);
    }
    out
}

/// The daemon's credential on one follower cluster, judged at a time.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CredentialStatus {
    pub cluster: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_seconds: Option<i64>,
    pub as_of: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The daemon's credential on every follower cluster that has been read, judged at `now`.
pub fn credentials(cfg: &Config, snap: &Snapshot, now: DateTime<Utc>) -> Vec<CredentialStatus> {
    cfg.follower_clusters()
        .into_iter()
        .filter_map(|cluster| {
            let c = snap.clusters.get(&cluster)?.credential.as_ref()?;
            Some(CredentialStatus {
                principal: c.principal.clone(),
                api_key_id: c.api_key_id.clone(),
                expires_at: c.expiration.and_then(at_ms),
                expiry_seconds: c
                    .expiration
                    .map(|e| (e - now.timestamp_millis()).div_euclid(1000)),
                as_of: c.at,
                error: c.error.clone(),
                cluster,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::es::{AuthenticatedApiKey, AuthenticationRealm};

    fn key(id: &str, alias: &str, expiration: Option<i64>, invalidated: bool) -> ApiKeyInfo {
        ApiKeyInfo {
            id: id.into(),
            kind: Some("cross_cluster".into()),
            expiration,
            invalidated,
            metadata: crate::es::key_metadata("follower", alias),
            ..Default::default()
        }
    }

    fn judged(keys: Vec<ApiKeyInfo>, now_ms: i64) -> RemoteKey {
        let cfg = crate::testing::config(&crate::testing::follower("logs", "logs-copy"));
        let mut snap = Snapshot::default();
        let ri: crate::es::RemoteInfoResponse = serde_json::from_value(serde_json::json!({
            "leader": {"connected": false, "mode": "proxy", "proxy_address": "l:9443",
                "num_proxy_sockets_connected": 0, "max_proxy_socket_connections": 18,
                "initial_connect_timeout": "30s", "skip_unavailable": false,
                "cluster_credentials": "::es_redacted::"}
        }))
        .unwrap();
        let now = at_ms(now_ms).unwrap();
        snap.clusters
            .entry("follower".into())
            .or_default()
            .remote_info = Some(crate::observe::Observed { at: now, data: ri });
        snap.apply_keys(KeysResult {
            at: now,
            leaders: BTreeMap::from([(
                "leader".to_string(),
                Ok(ApiKeysResponse { api_keys: keys }),
            )]),
            credentials: BTreeMap::new(),
            connectivity: BTreeMap::new(),
        });
        let mut all = remote_keys(&cfg, &snap, now);
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    #[test]
    fn a_remote_is_judged_by_its_soonest_expiring_usable_key() {
        let day = 86_400_000;
        let r = judged(
            vec![
                key("a", "leader", Some(30 * day), false),
                key("b", "leader", Some(10 * day), false),
                key("c", "leader", Some(2 * day), true),
                key("other", "elsewhere", Some(day), false),
            ],
            0,
        );
        assert_eq!(r.usable_keys, vec!["a", "b"]);
        assert_eq!(r.expiry_seconds, Some(10 * 86_400));
        assert_eq!(r.problem, None);
        // Keys without expiry: no expiry.
        let r = judged(vec![key("a", "leader", None, false)], 0);
        assert_eq!((r.expiry_seconds, r.problem), (None, None));
    }

    #[test]
    fn expired_invalidated_and_missing_keys_are_told_apart() {
        let r = judged(vec![key("a", "leader", Some(1000), false)], 5000);
        assert_eq!(
            r.problem,
            Some(KeyProblem::Expired {
                id: "a".into(),
                at: at_ms(1000).unwrap()
            })
        );
        assert_eq!(r.expiry_seconds, Some(-4));
        assert!(r.problem.unwrap().describe().contains("expired at 1970"));
        let r = judged(vec![key("a", "leader", Some(9000), true)], 5000);
        assert_eq!(r.problem, Some(KeyProblem::Invalidated { id: "a".into() }));
        let r = judged(vec![key("x", "elsewhere", None, false)], 5000);
        assert_eq!(r.problem, Some(KeyProblem::NoKey));
        assert_eq!(r.expiry_seconds, None);
    }

    #[test]
    fn principals_are_written_without_secrets() {
        let user = AuthenticateResponse {
            username: "ccr".into(),
            authentication_realm: Some(AuthenticationRealm {
                name: "native1".into(),
                kind: "native".into(),
            }),
            authentication_type: Some("realm".into()),
            ..Default::default()
        };
        assert_eq!(principal(&user), "user `ccr` (realm `native1`)");
        let key = AuthenticateResponse {
            username: "svc".into(),
            authentication_type: Some("api_key".into()),
            api_key: Some(AuthenticatedApiKey {
                id: "k1".into(),
                name: Some("sentinel".into()),
            }),
            ..Default::default()
        };
        assert_eq!(principal(&key), "API key `k1` (`sentinel`) of user `svc`");
    }
}
