//! Cluster-level reads and writes: `GET /`, `_remote/info`, `_cluster/settings`, `_license` and
//! `_has_privileges`, with their response types.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{null_as_default, required, Endpoint, EsClient, EsError, Filtered};

/// `GET /`: the cluster's name and version. `cluster_name` and `version.number` are written by every version
/// (RestMainAction / MainResponse#toXContent) and required; `cluster_uuid` is absent before 5.x.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RootInfo {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(deserialize_with = "required")]
    pub cluster_name: Option<String>,
    #[serde(default)]
    pub cluster_uuid: Option<String>,
    pub version: RootVersion,
}

/// `version` of `GET /`.
impl Filtered for RootInfo {
    const FILTER_PATH: &'static str =
        "name,cluster_name,cluster_uuid,version.number,version.build_flavor";
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RootVersion {
    #[serde(deserialize_with = "required")]
    pub number: Option<String>,
    #[serde(default)]
    pub build_flavor: Option<String>,
}

impl RootInfo {
    /// `(major, minor)` parsed from `version.number`.
    pub fn major_minor(&self) -> Option<(u32, u32)> {
        let n = self.version.number.as_deref()?;
        let mut it = n.split(['.', '-']);
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    }
}

/// `GET /_remote/info`: remote connections by alias.
pub type RemoteInfoResponse = BTreeMap<String, RemoteInfo>;

/// One remote connection of `GET /_remote/info`, sniff or proxy mode, any version; `connected` is written by
/// every version (RemoteConnectionInfo#toXContent) and required.
/// Keyed by remote alias, hence `*`; `connected` is always written, so no remote is dropped.
impl Filtered for RemoteInfoResponse {
    const FILTER_PATH: &'static str = concat!(
        "*.connected,*.mode,*.seeds,*.num_nodes_connected,*.max_connections_per_cluster,",
        "*.proxy_address,*.server_name,*.num_proxy_sockets_connected,*.max_proxy_socket_connections,",
        "*.initial_connect_timeout,*.skip_unavailable,*.http_addresses,*.cluster_credentials"
    );
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RemoteInfo {
    pub connected: bool,
    /// `sniff` or `proxy`; absent before 7.7 (sniff only then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub seeds: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_nodes_connected: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections_per_cluster: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_proxy_sockets_connected: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_proxy_socket_connections: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_connect_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_unavailable: Option<bool>,
    /// 6.x only.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub http_addresses: Vec<String>,
    /// True when the node has loaded `cluster.remote.<alias>.credentials` (an API-key remote, 8.10+): ES writes
    /// `"cluster_credentials": "::es_redacted::"` then (RemoteConnectionInfo#toXContent), nothing otherwise.
    #[serde(
        rename(deserialize = "cluster_credentials"),
        default,
        deserialize_with = "present",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub has_cluster_credentials: bool,
}

/// True for any value, so that a field's presence is what counts.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

impl RemoteInfo {
    /// The connection mode, `sniff` when the version does not say (before 7.7 only sniff existed).
    pub fn mode(&self) -> &str {
        self.mode.as_deref().unwrap_or("sniff")
    }

    /// Connected nodes (sniff) or proxy sockets (proxy).
    pub fn nodes_connected(&self) -> i64 {
        if self.mode() == "proxy" {
            self.num_proxy_sockets_connected.unwrap_or(0)
        } else {
            self.num_nodes_connected.unwrap_or(0)
        }
    }
}

/// `GET /_cluster/settings?flat_settings=true`: flat keys, values as Elasticsearch renders them (strings or
/// string arrays).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ClusterSettingsResponse {
    #[serde(default)]
    pub persistent: BTreeMap<String, Value>,
    #[serde(default)]
    pub transient: BTreeMap<String, Value>,
}

impl Filtered for ClusterSettingsResponse {
    const FILTER_PATH: &'static str = "persistent,transient";
}

impl ClusterSettingsResponse {
    /// The effective value of a flat key (transient wins, as in Elasticsearch).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.transient.get(key).or_else(|| self.persistent.get(key))
    }
}

/// `GET /_license` (or `/_xpack/license` on 6.x). `license`, its `type` and `status` are always written
/// (RestGetLicenseAction, License#toInnerXContent).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LicenseResponse {
    pub license: LicenseInfo,
}

/// The license of a cluster.
impl Filtered for LicenseResponse {
    const FILTER_PATH: &'static str = "license.type,license.status";
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct LicenseInfo {
    /// `basic`, `trial`, `platinum`, `enterprise`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `active`, `expired`, ...
    pub status: String,
}

impl LicenseInfo {
    /// True when the license allows CCR (platinum, enterprise or trial, and active; contract §0.4).
    pub fn allows_ccr(&self) -> bool {
        matches!(
            self.kind.to_ascii_lowercase().as_str(),
            "platinum" | "enterprise" | "trial"
        ) && self.status.eq_ignore_ascii_case("active")
    }
}

/// The request of `_security/user/_has_privileges`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HasPrivilegesRequest {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cluster: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub index: Vec<IndexPrivilegesCheck>,
}

/// Index privileges to check.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IndexPrivilegesCheck {
    pub names: Vec<String>,
    pub privileges: Vec<String>,
}

/// The answer of `_security/user/_has_privileges`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct HasPrivilegesResponse {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub has_all_requested: bool,
    #[serde(default)]
    pub cluster: BTreeMap<String, bool>,
    /// index name -> privilege -> granted.
    #[serde(default)]
    pub index: BTreeMap<String, BTreeMap<String, bool>>,
}

impl Filtered for HasPrivilegesResponse {
    const FILTER_PATH: &'static str = "username,has_all_requested,cluster,index";
}

impl HasPrivilegesResponse {
    /// Every privilege that was not granted, as `cluster:<p>` or `<index>:<p>`.
    pub fn missing(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .cluster
            .iter()
            .filter(|(_, ok)| !**ok)
            .map(|(p, _)| format!("cluster:{p}"))
            .collect();
        for (index, privs) in &self.index {
            out.extend(
                privs
                    .iter()
                    .filter(|(_, ok)| !**ok)
                    .map(|(p, _)| format!("{index}:{p}")),
            );
        }
        out
    }
}

impl EsClient {
    /// `GET /`: cluster name and version.
    pub async fn root_info(&self) -> Result<RootInfo, EsError> {
        self.read(Method::GET, Endpoint::Root, "", None).await
    }

    /// `GET /_remote/info`: remote connections by alias.
    pub async fn remote_info(&self) -> Result<RemoteInfoResponse, EsError> {
        self.read(Method::GET, Endpoint::RemoteInfo, "_remote/info", None)
            .await
    }

    /// `PUT /_cluster/settings` with `body` (`{"persistent": {...}}`).
    pub async fn put_cluster_settings(&self, body: &Value) -> Result<Value, EsError> {
        self.request(
            Method::PUT,
            Endpoint::PutClusterSettings,
            "_cluster/settings?flat_settings=true",
            Some(body),
        )
        .await
    }

    /// `GET /_cluster/settings?flat_settings=true`.
    pub async fn get_cluster_settings(&self) -> Result<ClusterSettingsResponse, EsError> {
        self.read(
            Method::GET,
            Endpoint::ClusterSettings,
            "_cluster/settings?flat_settings=true",
            None,
        )
        .await
    }

    /// `GET /_license`, falling back to `GET /_xpack/license` (6.x) when the first answers 400 or 404.
    pub async fn license(&self) -> Result<LicenseInfo, EsError> {
        let first: Result<LicenseResponse, EsError> = self
            .read(Method::GET, Endpoint::License, "_license", None)
            .await;
        match first {
            Ok(r) => Ok(r.license),
            Err(e) if matches!(e.status(), Some(400 | 404)) => {
                let r: LicenseResponse = self
                    .read(Method::GET, Endpoint::License, "_xpack/license", None)
                    .await?;
                Ok(r.license)
            }
            Err(e) => Err(e),
        }
    }

    /// `GET /_security/user/_has_privileges` (6.x: `/_xpack/security/user/_has_privileges`, tried when the
    /// first answers 400 or 404). An error means the cluster cannot tell (security off, no such API).
    pub async fn has_privileges(
        &self,
        req: &HasPrivilegesRequest,
    ) -> Result<HasPrivilegesResponse, EsError> {
        let body = serde_json::to_value(req).map_err(|e| EsError::Client {
            cluster: self.name().to_string(),
            message: format!("cannot encode the privileges request: {e}"),
        })?;
        let first: Result<HasPrivilegesResponse, EsError> = self
            .read(
                Method::POST,
                Endpoint::HasPrivileges,
                "_security/user/_has_privileges",
                Some(&body),
            )
            .await;
        match first {
            Err(e) if matches!(e.status(), Some(400 | 404)) => {
                self.read(
                    Method::POST,
                    Endpoint::HasPrivileges,
                    "_xpack/security/user/_has_privileges",
                    Some(&body),
                )
                .await
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixture;

    #[test]
    fn remote_info_sniff_and_proxy() {
        let s: RemoteInfoResponse = fixture("remote_info_response_sniff_8x.json");
        let (_, r) = s.iter().next().unwrap();
        assert_eq!(r.mode(), "sniff");
        let p: RemoteInfoResponse = fixture("remote_info_response_proxy_apikey_8x.json");
        let (_, r) = p.iter().next().unwrap();
        assert_eq!(r.mode(), "proxy");
        assert!(r.has_cluster_credentials);
        assert!(!serde_json::to_string(&p).unwrap().contains("es_redacted"));
        assert!(!s.values().any(|r| r.has_cluster_credentials));
        let o: RemoteInfoResponse = fixture("remote_info_response_proxy_apikey_observed_8x.json");
        assert!(!o.is_empty());
    }

    #[test]
    fn root_version_parses() {
        let root: RootInfo = fixture("root_info_response_9x.json");
        assert!(root.major_minor().is_some());
    }

    #[test]
    fn license_and_privileges_helpers() {
        let l: LicenseResponse = fixture("license_get_response_trial.json");
        assert!(l.license.allows_ccr());
        let basic = LicenseInfo {
            kind: "basic".into(),
            status: "active".into(),
        };
        assert!(!basic.allows_ccr());
        let expired = LicenseInfo {
            kind: "platinum".into(),
            status: "expired".into(),
        };
        assert!(!expired.allows_ccr());
        let hp: HasPrivilegesResponse = serde_json::from_str(
            r#"{"username":"u","has_all_requested":false,"cluster":{"manage_ccr":false,"monitor":true},
                "index":{"logs":{"read":true,"manage_follow_index":false}},"application":{}}"#,
        )
        .unwrap();
        assert_eq!(
            hp.missing(),
            vec![
                "cluster:manage_ccr".to_string(),
                "logs:manage_follow_index".to_string()
            ]
        );
    }
}
