//! Security calls: `_security/_authenticate`, cross-cluster API keys (create, update, get, invalidate), the
//! caller's own privileges (`_security/user/_privileges`) and `POST /_nodes/reload_secure_settings`, with their
//! response types (docs/es-contract.md §27).
//!
//! A created key's secret ([`CreatedApiKey::api_key`], [`CreatedApiKey::encoded`]) is a [`SecretString`]: it has
//! no `Serialize`, and `Debug` redacts it, so it cannot reach `/status`, logs or errors by accident. Every other
//! type here holds no secret (`GET /_security/api_key` never returns one).

use std::collections::BTreeMap;

use reqwest::Method;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{null_as_default, seg, Endpoint, EsClient, EsError, Filtered};
use crate::config::policy::wildcard_match;

/// `GET /_security/_authenticate` (RestAuthenticateAction, `Authentication#toXContent`): who the client's
/// credentials authenticate as.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AuthenticateResponse {
    pub username: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub roles: Vec<String>,
    /// `realm`, `api_key`, `token`, `anonymous` or `internal` (7.10+, ES PR #61247).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_realm: Option<AuthenticationRealm>,
    /// The key's id and name when authenticated by an API key (8.x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<AuthenticatedApiKey>,
}

impl Filtered for AuthenticateResponse {
    const FILTER_PATH: &'static str = concat!(
        "username,roles,authentication_type,authentication_realm.name,authentication_realm.type,",
        "api_key.id,api_key.name"
    );
}

/// `authentication_realm` of `_authenticate`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AuthenticationRealm {
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// `api_key` of `_authenticate`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AuthenticatedApiKey {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl AuthenticateResponse {
    /// True when the credentials are an API key. Read from `authentication_type` (7.10+), else from the
    /// `_es_api_key` realm that API-key authentication reports on every version with API keys.
    pub fn is_api_key(&self) -> bool {
        match self.authentication_type.as_deref() {
            Some(t) => t == "api_key",
            None => {
                self.api_key.is_some()
                    || self
                        .authentication_realm
                        .as_ref()
                        .is_some_and(|r| r.kind == "_es_api_key")
            }
        }
    }
}

/// One `access.replication` or `access.search` entry of a cross-cluster API key.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct AccessEntry {
    #[serde(deserialize_with = "names_or_name")]
    pub names: Vec<String>,
}

/// `names` may be one string or a list (ES's `IndicesPrivileges` parser accepts both).
fn names_or_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// `access` of a cross-cluster API key (`CrossClusterApiKeyRoleDescriptorBuilder`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct CrossClusterAccess {
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub replication: Vec<AccessEntry>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub search: Vec<AccessEntry>,
}

impl CrossClusterAccess {
    /// Replication access to `names` (index names and patterns).
    pub fn replication(names: Vec<String>) -> Self {
        Self {
            replication: vec![AccessEntry { names }],
            search: Vec::new(),
        }
    }

    /// Every index name or pattern the key lets followers replicate.
    pub fn replication_names(&self) -> Vec<&str> {
        self.replication
            .iter()
            .flat_map(|e| e.names.iter().map(String::as_str))
            .collect()
    }
}

/// The body of `POST /_security/cross_cluster/api_key` (8.10+; RestCreateCrossClusterApiKeyAction).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CrossClusterApiKeyRequest {
    pub name: String,
    pub access: CrossClusterAccess,
    /// A time value (`90d`); none: the key never expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub metadata: Value,
}

/// The body of `PUT /_security/cross_cluster/api_key/{id}`: `access` replaces the key's access whole.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct UpdateCrossClusterApiKeyRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<CrossClusterAccess>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
}

/// The answer of a key creation (`CreateApiKeyResponse#toXContent`): the secret is shown this once only.
#[derive(Clone, Deserialize)]
pub struct CreatedApiKey {
    pub id: String,
    pub name: String,
    /// Epoch milliseconds; present only when the request set an expiration.
    #[serde(default)]
    pub expiration: Option<i64>,
    /// The secret half of the key.
    pub api_key: SecretString,
    /// `base64(id:api_key)` (7.16+): what `cluster.remote.<alias>.credentials` holds.
    #[serde(default)]
    pub encoded: Option<SecretString>,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

impl CreatedApiKey {
    /// The encoded credential (`base64(id:api_key)`), built from the parts when the version does not send
    /// `encoded` (before 7.16).
    pub fn credentials(&self) -> SecretString {
        use base64::Engine as _;
        use secrecy::ExposeSecret;
        match &self.encoded {
            Some(e) => e.clone(),
            None => SecretString::from(base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                self.id,
                self.api_key.expose_secret()
            ))),
        }
    }
}

/// `{"updated": bool}` of a key update.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct UpdatedApiKey {
    #[serde(default)]
    pub updated: bool,
}

/// What `GET /_security/api_key` selects; every set field narrows the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiKeyQuery {
    pub id: Option<String>,
    /// A key name; `*` wildcards are allowed.
    pub name: Option<String>,
    /// Only the caller's own keys.
    pub owner: bool,
    /// Leave out invalidated (and expired) keys (8.10+; older versions reject the parameter).
    pub active_only: bool,
}

impl ApiKeyQuery {
    fn query_string(&self) -> String {
        let mut parts = Vec::new();
        if let Some(id) = &self.id {
            parts.push(format!("id={}", seg(id)));
        }
        if let Some(name) = &self.name {
            parts.push(format!("name={}", seg(name)));
        }
        if self.owner {
            parts.push("owner=true".to_string());
        }
        if self.active_only {
            parts.push("active_only=true".to_string());
        }
        if parts.is_empty() {
            "_security/api_key".to_string()
        } else {
            format!("_security/api_key?{}", parts.join("&"))
        }
    }
}

/// `GET /_security/api_key` (RestGetApiKeyAction).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ApiKeysResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    pub api_keys: Vec<ApiKeyInfo>,
}

impl Filtered for ApiKeysResponse {
    const FILTER_PATH: &'static str = concat!(
        "api_keys.id,api_keys.name,api_keys.type,api_keys.creation,api_keys.expiration,",
        "api_keys.invalidated,api_keys.username,api_keys.realm,api_keys.metadata,api_keys.access"
    );
}

/// One key of `GET /_security/api_key` (`ApiKey#toXContent`); never holds the secret.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ApiKeyInfo {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `rest` or `cross_cluster` (8.10+; absent before: every key is `rest`).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Epoch milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation: Option<i64>,
    /// Epoch milliseconds; none: the key never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i64>,
    #[serde(default)]
    pub invalidated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// 7.13+.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Value::is_null"
    )]
    pub metadata: Value,
    /// Cross-cluster keys only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<CrossClusterAccess>,
}

impl ApiKeyInfo {
    /// True for a cross-cluster key (8.10+ `type`).
    pub fn is_cross_cluster(&self) -> bool {
        self.kind.as_deref() == Some("cross_cluster")
    }

    /// True when the key is neither invalidated nor expired at `now_ms` (epoch milliseconds).
    pub fn usable_at(&self, now_ms: i64) -> bool {
        !self.invalidated && self.expiration.map_or(true, |e| now_ms < e)
    }

    /// A metadata value as a string (`metadata.<field>`).
    pub fn metadata_str(&self, field: &str) -> Option<&str> {
        self.metadata.get(field).and_then(Value::as_str)
    }
}

/// `DELETE /_security/api_key` (RestInvalidateApiKeyAction).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct InvalidateApiKeyResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    pub invalidated_api_keys: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub previously_invalidated_api_keys: Vec<String>,
    #[serde(default)]
    pub error_count: u64,
    /// Per-key failures when `error_count > 0`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub error_details: Vec<Value>,
}

/// `GET /_security/user/_privileges` (RestGetUserPrivilegesAction): the caller's own privileges.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct UserPrivilegesResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    pub cluster: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub indices: Vec<UserIndicesPrivileges>,
    /// 8.8+: privileges on the indices of API-key remotes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub remote_indices: Vec<UserRemoteIndicesPrivileges>,
}

impl Filtered for UserPrivilegesResponse {
    const FILTER_PATH: &'static str = concat!(
        "cluster,indices.names,indices.privileges,",
        "remote_indices.clusters,remote_indices.names,remote_indices.privileges"
    );
}

/// One `indices` entry of `_security/user/_privileges`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct UserIndicesPrivileges {
    #[serde(default, deserialize_with = "names_or_name")]
    pub names: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub privileges: Vec<String>,
}

/// One `remote_indices` entry of `_security/user/_privileges`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct UserRemoteIndicesPrivileges {
    #[serde(default, deserialize_with = "names_or_name")]
    pub clusters: Vec<String>,
    #[serde(default, deserialize_with = "names_or_name")]
    pub names: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub privileges: Vec<String>,
}

/// `POST /_nodes/reload_secure_settings` (RestReloadSecureSettingsAction, `NodesReloadSecureSettingsResponse`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ReloadSecureSettingsResponse {
    #[serde(rename = "_nodes", default)]
    pub nodes_header: NodesHeader,
    #[serde(default)]
    pub cluster_name: Option<String>,
    /// Node id → its outcome.
    #[serde(default, deserialize_with = "null_as_default")]
    pub nodes: BTreeMap<String, NodeReload>,
}

/// `_nodes` of a nodes response.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct NodesHeader {
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub successful: u64,
    #[serde(default)]
    pub failed: u64,
}

/// One node of the reload answer; `reload_exception` is set when that node could not reload.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct NodeReload {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload_exception: Option<Value>,
}

impl ReloadSecureSettingsResponse {
    /// Names (else ids) of the nodes that failed to reload.
    pub fn failed_nodes(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.reload_exception.is_some())
            .map(|(id, n)| n.name.clone().unwrap_or_else(|| id.clone()))
            .collect()
    }
}

/// `metadata.managed_by` of the cross-cluster API keys ccr-sentinel creates.
pub const MANAGED_BY: &str = "ccr-sentinel";

/// The name of the cross-cluster API key for remote `alias` on follower cluster `cluster`; keys of one remote
/// share this prefix (a rotation may add a suffix).
pub fn key_name(cluster: &str, alias: &str) -> String {
    format!("ccr-sentinel-{cluster}-{alias}")
}

/// The `metadata` of the key for remote `alias` on `cluster`.
pub fn key_metadata(cluster: &str, alias: &str) -> serde_json::Value {
    json!({"managed_by": MANAGED_BY, "remote_cluster": alias, "follower_cluster": cluster})
}

/// True when `k` is the cross-cluster key ccr-sentinel minted for remote `alias` on follower cluster `cluster`,
/// usable or not: its `metadata` is [`key_metadata`]'s. The one test of "ccr-sentinel's key of this remote",
/// for watching, reconcile, preflight and rotation alike.
pub fn key_of_remote(k: &ApiKeyInfo, cluster: &str, alias: &str) -> bool {
    k.is_cross_cluster()
        && k.metadata_str("managed_by") == Some(MANAGED_BY)
        && k.metadata_str("remote_cluster") == Some(alias)
        && k.metadata_str("follower_cluster") == Some(cluster)
}

/// The newest of ccr-sentinel's keys of remote `alias` on `cluster` among `keys` that is usable at `now_ms`
/// (epoch milliseconds): an expired or invalidated key is never reused, since the remote cannot authenticate
/// with it (`ApiKeyService#validateApiKeyCredentials`, `#validateApiKeyTypeAndExpiration`: usable while `now < expiration`).
pub fn find_managed_key<'a>(
    keys: &'a [ApiKeyInfo],
    cluster: &str,
    alias: &str,
    now_ms: i64,
) -> Option<&'a ApiKeyInfo> {
    keys.iter()
        .filter(|k| key_of_remote(k, cluster, alias) && k.usable_at(now_ms))
        .max_by_key(|k| k.creation.unwrap_or(0))
}

/// The wanted names (indices or patterns) that no name of `granted` covers. A key pattern covers a wanted
/// pattern only when it matches the pattern's text (`*` covers `logs-*`; `logs-2024*` does not).
pub fn uncovered<'a>(granted: &[&str], wanted: &'a [String]) -> Vec<&'a str> {
    wanted
        .iter()
        .filter(|w| !granted.iter().any(|g| wildcard_match(g, w)))
        .map(String::as_str)
        .collect()
}

fn encode<T: Serialize>(client: &EsClient, what: &str, body: &T) -> Result<Value, EsError> {
    serde_json::to_value(body).map_err(|e| EsError::Client {
        cluster: client.name().to_string(),
        message: format!("cannot encode the {what} request: {e}"),
    })
}

impl EsClient {
    /// `GET /_security/_authenticate`, falling back to `GET /_xpack/security/_authenticate` (6.x) when the
    /// first answers 400 or 404.
    pub async fn authenticate(&self) -> Result<AuthenticateResponse, EsError> {
        let first = self
            .read(
                Method::GET,
                Endpoint::Authenticate,
                "_security/_authenticate",
                None,
            )
            .await;
        match first {
            Err(e) if matches!(e.status(), Some(400 | 404)) => {
                self.read(
                    Method::GET,
                    Endpoint::Authenticate,
                    "_xpack/security/_authenticate",
                    None,
                )
                .await
            }
            other => other,
        }
    }

    /// `POST /_security/cross_cluster/api_key` (8.10+). Needs `manage_security` and a user (not API key)
    /// credential. The answer holds the secret: pass it to the operator once, never log it.
    pub async fn create_cross_cluster_api_key(
        &self,
        req: &CrossClusterApiKeyRequest,
    ) -> Result<CreatedApiKey, EsError> {
        let body = encode(self, "cross-cluster API key", req)?;
        self.request(
            Method::POST,
            Endpoint::CreateCrossClusterApiKey,
            "_security/cross_cluster/api_key",
            Some(&body),
        )
        .await
    }

    /// `PUT /_security/cross_cluster/api_key/{id}` (8.10+): only the owner user may update the key.
    pub async fn update_cross_cluster_api_key(
        &self,
        id: &str,
        req: &UpdateCrossClusterApiKeyRequest,
    ) -> Result<UpdatedApiKey, EsError> {
        let body = encode(self, "cross-cluster API key update", req)?;
        self.request(
            Method::PUT,
            Endpoint::UpdateCrossClusterApiKey,
            &format!("_security/cross_cluster/api_key/{}", seg(id)),
            Some(&body),
        )
        .await
    }

    /// `GET /_security/api_key` with the selection of `query`.
    pub async fn get_api_keys(&self, query: &ApiKeyQuery) -> Result<ApiKeysResponse, EsError> {
        self.read(
            Method::GET,
            Endpoint::GetApiKey,
            &query.query_string(),
            None,
        )
        .await
    }

    /// `DELETE /_security/api_key` `{"ids": [...]}`: invalidates the keys (idempotent: a key invalidated
    /// before is listed under `previously_invalidated_api_keys`).
    pub async fn invalidate_api_keys(
        &self,
        ids: &[String],
    ) -> Result<InvalidateApiKeyResponse, EsError> {
        let body = serde_json::json!({ "ids": ids });
        self.request(
            Method::DELETE,
            Endpoint::InvalidateApiKey,
            "_security/api_key",
            Some(&body),
        )
        .await
    }

    /// `GET /_security/user/_privileges`: the caller's own cluster, index and remote index privileges.
    pub async fn user_privileges(&self) -> Result<UserPrivilegesResponse, EsError> {
        self.read(
            Method::GET,
            Endpoint::UserPrivileges,
            "_security/user/_privileges",
            None,
        )
        .await
    }

    /// `POST /_nodes/reload_secure_settings`: every node re-reads its keystore; from 8.13 that includes
    /// `cluster.remote.<alias>.credentials` (ES PR #102798). Needs cluster `manage`.
    pub async fn reload_secure_settings(&self) -> Result<ReloadSecureSettingsResponse, EsError> {
        self.request(
            Method::POST,
            Endpoint::ReloadSecureSettings,
            "_nodes/reload_secure_settings",
            None,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn authenticate_tells_users_from_api_keys() {
        let user: AuthenticateResponse = serde_json::from_str(
            r#"{"username":"elastic","roles":["superuser"],"full_name":null,"authentication_realm":
                {"name":"reserved","type":"reserved"},"authentication_type":"realm"}"#,
        )
        .unwrap();
        assert!(!user.is_api_key());
        let key: AuthenticateResponse = serde_json::from_str(
            r#"{"username":"svc","roles":[],"authentication_realm":{"name":"_es_api_key","type":"_es_api_key"},
                "authentication_type":"api_key","api_key":{"id":"abc","name":"k"}}"#,
        )
        .unwrap();
        assert!(key.is_api_key());
        // Before 7.10 only the realm tells.
        let old: AuthenticateResponse = serde_json::from_str(
            r#"{"username":"svc","roles":[],"authentication_realm":{"name":"_es_api_key","type":"_es_api_key"}}"#,
        )
        .unwrap();
        assert!(old.is_api_key());
        assert!(serde_json::from_str::<AuthenticateResponse>("{}").is_err());
    }

    #[test]
    fn created_key_never_shows_its_secret() {
        let k: CreatedApiKey = serde_json::from_str(
            r#"{"id":"VuaCfGcBCdbkQm-e5aOx","name":"n","expiration":1735689600000,
                "api_key":"ui2lp2axTNmsyakw9tvNnw","encoded":"VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="}"#,
        )
        .unwrap();
        let dbg = format!("{k:?}");
        assert!(
            !dbg.contains("ui2lp2axTNmsyakw9tvNnw") && !dbg.contains("VnVhQ2Z"),
            "{dbg}"
        );
        assert_eq!(
            k.credentials().expose_secret(),
            "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
        );
        // Before 7.16 there is no `encoded`: built from id and secret, the same value.
        let old: CreatedApiKey = serde_json::from_str(
            r#"{"id":"VuaCfGcBCdbkQm-e5aOx","name":"n","api_key":"ui2lp2axTNmsyakw9tvNnw"}"#,
        )
        .unwrap();
        assert_eq!(
            old.credentials().expose_secret(),
            k.credentials().expose_secret()
        );
    }

    #[test]
    fn api_key_info_reads_a_cross_cluster_key() {
        let r: ApiKeysResponse = serde_json::from_str(
            r#"{"api_keys":[{"id":"k1","name":"ccr-sentinel-leader","type":"cross_cluster","creation":1,
                "expiration":1000,"invalidated":false,"username":"elastic","realm":"reserved",
                "metadata":{"managed_by":"ccr-sentinel","remote_cluster":"leader"},
                "role_descriptors":{"cross_cluster":{"cluster":["cross_cluster_replication"]}},
                "access":{"replication":[{"names":["orders","logs-*"],"allow_restricted_indices":false}]}},
                {"id":"k2","invalidated":true,"metadata":null}]}"#,
        )
        .unwrap();
        let k = &r.api_keys[0];
        assert!(k.is_cross_cluster());
        assert!(k.usable_at(999) && !k.usable_at(1000));
        assert_eq!(k.metadata_str("remote_cluster"), Some("leader"));
        assert_eq!(
            k.access.as_ref().unwrap().replication_names(),
            vec!["orders", "logs-*"]
        );
        assert!(!r.api_keys[1].is_cross_cluster() && !r.api_keys[1].usable_at(0));
    }

    #[test]
    fn the_managed_key_is_the_newest_usable_one_of_the_remote() {
        let key =
            |id: &str, created: i64, expiration: Option<i64>, invalidated: bool, meta: Value| {
                serde_json::from_value::<ApiKeyInfo>(json!({"id": id, "type": "cross_cluster",
                "creation": created, "expiration": expiration, "invalidated": invalidated,
                "metadata": meta}))
                .unwrap()
            };
        let ours = || key_metadata("follower", "leader");
        let now = 10_000;
        // (case, keys, the key found)
        let table: Vec<(&str, Vec<ApiKeyInfo>, Option<&str>)> = vec![
            ("none", vec![], None),
            (
                "one usable",
                vec![key("a", 1, Some(now + 1), false, ours())],
                Some("a"),
            ),
            (
                "no expiry",
                vec![key("a", 1, None, false, ours())],
                Some("a"),
            ),
            ("expired", vec![key("a", 1, Some(now), false, ours())], None),
            ("invalidated", vec![key("a", 1, None, true, ours())], None),
            (
                "the newest usable, not a newer expired or invalidated one",
                vec![
                    key("old", 1, None, false, ours()),
                    key("expired", 5, Some(now - 1), false, ours()),
                    key("invalidated", 6, None, true, ours()),
                ],
                Some("old"),
            ),
            (
                "the newest of two usable",
                vec![
                    key("a", 1, None, false, ours()),
                    key("b", 2, None, false, ours()),
                ],
                Some("b"),
            ),
            (
                "another remote, another follower cluster, by hand",
                vec![
                    key("r", 1, None, false, key_metadata("follower", "other")),
                    key("c", 1, None, false, key_metadata("elsewhere", "leader")),
                    key("h", 1, None, false, json!({"remote_cluster": "leader"})),
                ],
                None,
            ),
        ];
        for (what, keys, want) in table {
            let got = find_managed_key(&keys, "follower", "leader", now).map(|k| k.id.as_str());
            assert_eq!(got, want, "{what}");
        }
        // A REST key with ccr-sentinel's metadata is not a cross-cluster key of a remote.
        let rest: ApiKeyInfo = serde_json::from_value(json!({"id": "x", "type": "rest",
            "metadata": ours()}))
        .unwrap();
        assert!(!key_of_remote(&rest, "follower", "leader"));
        assert!(key_of_remote(
            &key("e", 1, Some(0), true, ours()),
            "follower",
            "leader"
        ));
    }

    #[test]
    fn requests_serialize_as_elasticsearch_reads_them() {
        let req = CrossClusterApiKeyRequest {
            name: "n".into(),
            access: CrossClusterAccess::replication(vec!["orders".into()]),
            expiration: Some("90d".into()),
            metadata: serde_json::json!({"managed_by": "ccr-sentinel"}),
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            serde_json::json!({"name":"n","access":{"replication":[{"names":["orders"]}]},
                "expiration":"90d","metadata":{"managed_by":"ccr-sentinel"}})
        );
        let q = ApiKeyQuery {
            name: Some("ccr-sentinel-*".into()),
            active_only: true,
            ..Default::default()
        };
        assert_eq!(
            q.query_string(),
            "_security/api_key?name=ccr-sentinel-*&active_only=true"
        );
        assert_eq!(ApiKeyQuery::default().query_string(), "_security/api_key");
    }

    #[test]
    fn privileges_and_reload_answers() {
        let p: UserPrivilegesResponse = serde_json::from_str(
            r#"{"cluster":["manage_ccr"],"global":[],"indices":[{"names":["*"],"privileges":["read"],
                "allow_restricted_indices":false}],"applications":[],"run_as":[],
                "remote_indices":[{"names":["orders"],"privileges":["cross_cluster_replication"],
                "allow_restricted_indices":false,"clusters":["leader"]}]}"#,
        )
        .unwrap();
        assert_eq!(p.remote_indices[0].clusters, vec!["leader"]);
        let r: ReloadSecureSettingsResponse = serde_json::from_str(
            r#"{"_nodes":{"total":2,"successful":2,"failed":0},"cluster_name":"f",
                "nodes":{"a":{"name":"n1"},"b":{"name":"n2","reload_exception":{"type":"x"}}}}"#,
        )
        .unwrap();
        assert_eq!(r.nodes_header.total, 2);
        assert_eq!(r.failed_nodes(), vec!["n2".to_string()]);
    }
}
