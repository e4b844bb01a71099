//! The simulated security realm: users, roles and API keys, Elasticsearch's mapping from
//! privilege names to the actions they grant (`ClusterPrivilegeResolver`, `IndexPrivilege`),
//! the simulated keystore, and API-key remotes (the remote cluster server port).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::util::{base64_decode, wildcard_match};
use crate::version::Version;
use crate::world::model::{Cluster, World};

/// The port offset of the remote cluster server (API-key remotes): HTTP 9200 gives 9443.
pub const REMOTE_CLUSTER_PORT_OFFSET: u32 = 243;

/// `cluster:admin/xpack/security/user/has_privileges`, which every user may call about itself.
pub(crate) const HAS_PRIVILEGES: &str = "cluster:admin/xpack/security/user/has_privileges";
/// `cluster:admin/xpack/security/user/list_privileges` (`GET /_security/user/_privileges`), which
/// every user may call about itself.
pub(crate) const LIST_PRIVILEGES: &str = "cluster:admin/xpack/security/user/list_privileges";
/// `cluster:admin/xpack/security/user/authenticate`, always allowed.
pub(crate) const AUTHENTICATE: &str = "cluster:admin/xpack/security/user/authenticate";

/// A built-in role shorthand of the simulated realm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Elasticsearch's `superuser`: cluster `all`, `all` on every index and remote index.
    Superuser,
    /// The simulator's `monitor` role: cluster `monitor`, and `monitor`, `read` and
    /// `view_index_metadata` on every index (enough to follow from this cluster as a leader).
    Monitor,
    /// The `no_privileges` role: nothing, not even `GET /`.
    None,
}

impl Role {
    /// The role's name as 403 messages show it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Superuser => "superuser",
            Role::Monitor => "monitor",
            Role::None => "no_privileges",
        }
    }

    /// The role as Elasticsearch would define it.
    pub fn descriptor(self) -> RoleDescriptor {
        match self {
            Role::Superuser => RoleDescriptor {
                cluster: vec!["all".into()],
                indices: vec![IndicesPrivileges::new(&["*"], &["all"])],
                remote_indices: vec![RemoteIndicesPrivileges {
                    clusters: vec!["*".into()],
                    names: vec!["*".into()],
                    privileges: vec!["all".into()],
                }],
            },
            Role::Monitor => RoleDescriptor {
                cluster: vec!["monitor".into()],
                indices: vec![IndicesPrivileges::new(
                    &["*"],
                    &["monitor", "read", "view_index_metadata"],
                )],
                remote_indices: Vec::new(),
            },
            Role::None => RoleDescriptor::default(),
        }
    }
}

/// A role as Elasticsearch's role descriptor defines it (the parts the simulator enforces).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoleDescriptor {
    /// Cluster privileges (`monitor`, `manage_ccr`, `read_ccr`, `manage`, `all`, ...) or action
    /// patterns (`cluster:monitor/*`).
    pub cluster: Vec<String>,
    /// Index privileges on index patterns.
    pub indices: Vec<IndicesPrivileges>,
    /// Privileges on the indices of remote clusters reached through API-key remotes (8.10+).
    pub remote_indices: Vec<RemoteIndicesPrivileges>,
}

/// Index privileges on some index patterns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicesPrivileges {
    /// Index names or patterns.
    pub names: Vec<String>,
    /// `read`, `monitor`, `view_index_metadata`, `manage_follow_index`, `manage`, `all`, ...
    pub privileges: Vec<String>,
}

impl IndicesPrivileges {
    /// Privileges on index patterns.
    pub fn new(names: &[&str], privileges: &[&str]) -> Self {
        Self {
            names: names.iter().map(|s| s.to_string()).collect(),
            privileges: privileges.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Index privileges on the indices of remote clusters (API-key remotes).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteIndicesPrivileges {
    /// Remote cluster aliases or patterns.
    pub clusters: Vec<String>,
    /// Index names or patterns on those clusters.
    pub names: Vec<String>,
    /// Usually `cross_cluster_replication` (or `read`, `read_cross_cluster`).
    pub privileges: Vec<String>,
}

/// A user of the simulated realm.
#[derive(Clone)]
pub struct User {
    pub(crate) name: String,
    pub(crate) password: String,
    pub(crate) roles: Vec<String>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("password", &"::es_redacted::")
            .field("roles", &self.roles)
            .finish()
    }
}

/// `rest` (`POST /_security/api_key`) or `cross_cluster` (`POST /_security/cross_cluster/api_key`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyType {
    Rest,
    CrossCluster,
}

impl KeyType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KeyType::Rest => "rest",
            KeyType::CrossCluster => "cross_cluster",
        }
    }
}

/// An API key of the simulated realm (sent as `Authorization: ApiKey base64(id:key)`).
#[derive(Clone)]
pub struct ApiKey {
    pub(crate) id: String,
    pub(crate) key: String,
    pub(crate) name: String,
    pub(crate) owner: String,
    pub(crate) kind: KeyType,
    /// Epoch milliseconds of the simulated clock.
    pub(crate) creation_ms: u64,
    pub(crate) expiration_ms: Option<u64>,
    pub(crate) invalidated: bool,
    /// The key's own role descriptors (empty: the owner's privileges).
    pub(crate) role_descriptors: BTreeMap<String, RoleDescriptor>,
    /// The owner's roles when the key was made: the key never exceeds them.
    pub(crate) limited_by: Vec<RoleDescriptor>,
    /// `access` of a cross-cluster key, as given.
    pub(crate) access: Value,
    pub(crate) metadata: Value,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("key", &"::es_redacted::")
            .field("name", &self.name)
            .field("owner", &self.owner)
            .field("kind", &self.kind)
            .field("expiration_ms", &self.expiration_ms)
            .field("invalidated", &self.invalidated)
            .finish()
    }
}

impl ApiKey {
    /// The index patterns a cross-cluster key lets followers replicate (`access.replication`).
    pub(crate) fn replication_names(&self) -> Vec<String> {
        names_of(&self.access["replication"])
    }

    /// True when the key may authenticate at `now_ms` (epoch).
    pub(crate) fn usable(&self, now_ms: u64) -> bool {
        !self.invalidated && self.expiration_ms.map_or(true, |e| now_ms < e)
    }
}

fn names_of(entries: &Value) -> Vec<String> {
    entries
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["names"].as_array().cloned().unwrap_or_default())
        .filter_map(|n| n.as_str().map(String::from))
        .collect()
}

/// Security settings of a simulated cluster: when present, every Elasticsearch request must
/// authenticate (the `/_sim/` control plane never does).
#[derive(Clone, Debug)]
pub struct Security {
    pub(crate) users: Vec<User>,
    pub(crate) roles: BTreeMap<String, RoleDescriptor>,
    pub(crate) api_keys: Vec<ApiKey>,
    pub(crate) key_counter: u64,
}

impl Default for Security {
    fn default() -> Self {
        let roles = [Role::Superuser, Role::Monitor, Role::None]
            .into_iter()
            .map(|r| (r.name().to_string(), r.descriptor()))
            .collect();
        Self {
            users: Vec::new(),
            roles,
            api_keys: Vec::new(),
            key_counter: 0,
        }
    }
}

impl Security {
    /// Security on, with the built-in roles (`superuser`, `monitor`, `no_privileges`) and no users.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a user with one built-in role.
    pub fn user(self, name: &str, password: &str, role: Role) -> Self {
        self.user_with_roles(name, password, &[role.name()])
    }

    /// Adds a user with named roles (built-in or defined by [`Security::role`]). A role that is
    /// not defined counts as not found, as in Elasticsearch: it grants nothing and 403 messages
    /// say `(assigned roles [x] were not found)`.
    pub fn user_with_roles(mut self, name: &str, password: &str, roles: &[&str]) -> Self {
        self.users.retain(|u| u.name != name);
        self.users.push(User {
            name: name.into(),
            password: password.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        });
        self
    }

    /// Defines (or replaces) a role.
    pub fn role(mut self, name: &str, descriptor: RoleDescriptor) -> Self {
        self.roles.insert(name.into(), descriptor);
        self
    }

    /// Adds a REST API key owned by `owner`, with the privileges of `role`.
    pub fn api_key(self, id: &str, key: &str, owner: &str, role: Role) -> Self {
        self.api_key_with_descriptor(id, key, owner, role.descriptor())
    }

    /// Adds a REST API key owned by `owner`, limited to a role descriptor.
    pub fn api_key_with_descriptor(
        mut self,
        id: &str,
        key: &str,
        owner: &str,
        descriptor: RoleDescriptor,
    ) -> Self {
        self.api_keys.retain(|k| k.id != id);
        self.api_keys.push(ApiKey {
            id: id.into(),
            key: key.into(),
            name: id.into(),
            owner: owner.into(),
            kind: KeyType::Rest,
            creation_ms: 0,
            expiration_ms: None,
            invalidated: false,
            role_descriptors: BTreeMap::new(),
            limited_by: vec![descriptor],
            access: Value::Null,
            metadata: json!({}),
        });
        self
    }

    /// Adds a cross-cluster API key (8.10+) whose `access.replication` covers `replication`
    /// index patterns; a follower holding `base64(id:key)` in its keystore reaches this cluster
    /// through its remote cluster server port.
    pub fn cross_cluster_key(mut self, id: &str, key: &str, replication: &[&str]) -> Self {
        self.api_keys.retain(|k| k.id != id);
        self.api_keys.push(ApiKey {
            id: id.into(),
            key: key.into(),
            name: id.into(),
            owner: "elastic".into(),
            kind: KeyType::CrossCluster,
            creation_ms: 0,
            expiration_ms: None,
            invalidated: false,
            role_descriptors: BTreeMap::new(),
            limited_by: Vec::new(),
            access: json!({"replication": [{"names": replication}]}),
            metadata: json!({}),
        });
        self
    }

    /// True when at least one user is defined.
    pub fn has_users(&self) -> bool {
        !self.users.is_empty()
    }

    pub(crate) fn find_user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The next generated API key id and secret (20 and 22 characters, as Elasticsearch's).
    pub(crate) fn next_key(&mut self, seed: &str) -> (String, String) {
        self.key_counter += 1;
        let id = crate::world::model::make_uuid(&format!("{seed}-id"), self.key_counter);
        let key = crate::world::model::make_uuid(&format!("{seed}-key"), self.key_counter);
        (id[..20].to_string(), key)
    }
}

/// A problem in a security file (`ccr-sim --security-file`) or a `--user`/`--api-key` flag.
#[derive(Debug, thiserror::Error)]
pub enum SecurityFileError {
    /// The file could not be read.
    #[error("cannot read security file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown fields.
    #[error("security file: {0}")]
    Toml(String),
    /// A user or key names a role that is not defined.
    #[error("{what} names the role [{role}], which is neither built in (superuser, monitor, no_privileges) nor defined under [role.*]")]
    UnknownRole {
        /// The user or key.
        what: String,
        /// The role name.
        role: String,
    },
    /// A name, password, id or key is empty.
    #[error("{0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUser {
    name: String,
    password: String,
    roles: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKey {
    id: String,
    key: String,
    owner: String,
    role: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCrossClusterKey {
    id: String,
    key: String,
    replication: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecurityFile {
    #[serde(default)]
    role: BTreeMap<String, RoleDescriptor>,
    #[serde(default)]
    user: Vec<FileUser>,
    #[serde(default)]
    api_key: Vec<FileKey>,
    #[serde(default)]
    cross_cluster_key: Vec<FileCrossClusterKey>,
}

impl Security {
    /// Reads a security file (TOML): `[role.NAME]` tables (`cluster`, `indices`,
    /// `remote_indices`), `[[user]]` (`name`, `password`, `roles`), `[[api_key]]` (`id`, `key`,
    /// `owner`, `role`) and `[[cross_cluster_key]]` (`id`, `key`, `replication`).
    pub fn from_toml_str(text: &str) -> Result<Self, SecurityFileError> {
        let file: SecurityFile =
            toml::from_str(text).map_err(|e| SecurityFileError::Toml(e.to_string()))?;
        let mut sec = Security::new();
        for (name, d) in file.role {
            sec = sec.role(&name, d);
        }
        for u in file.user {
            let roles: Vec<&str> = u.roles.iter().map(String::as_str).collect();
            sec = sec.add_user(&u.name, &u.password, &roles)?;
        }
        for k in file.api_key {
            sec = sec.add_api_key(&k.id, &k.key, &k.owner, &k.role)?;
        }
        for k in file.cross_cluster_key {
            if k.id.is_empty() || k.key.is_empty() {
                return Err(SecurityFileError::Invalid(
                    "a cross_cluster_key needs a non-empty id and key".into(),
                ));
            }
            let names: Vec<&str> = k.replication.iter().map(String::as_str).collect();
            sec = sec.cross_cluster_key(&k.id, &k.key, &names);
        }
        Ok(sec)
    }

    /// Reads a security file from disk (see [`Security::from_toml_str`]).
    pub fn from_file(path: &std::path::Path) -> Result<Self, SecurityFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| SecurityFileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text)
    }

    /// Adds a user whose roles must be defined (built in or by [`Security::role`]).
    pub fn add_user(
        self,
        name: &str,
        password: &str,
        roles: &[&str],
    ) -> Result<Self, SecurityFileError> {
        if name.is_empty() || password.is_empty() {
            return Err(SecurityFileError::Invalid(format!(
                "user [{name}]: the name and the password must not be empty"
            )));
        }
        for r in roles {
            if !self.roles.contains_key(*r) {
                return Err(SecurityFileError::UnknownRole {
                    what: format!("user [{name}]"),
                    role: r.to_string(),
                });
            }
        }
        Ok(self.user_with_roles(name, password, roles))
    }

    /// Adds a REST API key with the privileges of a defined role.
    pub fn add_api_key(
        self,
        id: &str,
        key: &str,
        owner: &str,
        role: &str,
    ) -> Result<Self, SecurityFileError> {
        if id.is_empty() || key.is_empty() || owner.is_empty() {
            return Err(SecurityFileError::Invalid(format!(
                "api key [{id}]: the id, the key and the owner must not be empty"
            )));
        }
        let Some(d) = self.roles.get(role).cloned() else {
            return Err(SecurityFileError::UnknownRole {
                what: format!("api key [{id}]"),
                role: role.to_string(),
            });
        };
        Ok(self.api_key_with_descriptor(id, key, owner, d))
    }
}

/// Who an authenticated request runs as.
#[derive(Clone, Debug)]
pub(crate) struct Principal {
    pub user: String,
    /// Assigned role names (empty for API keys).
    pub roles: Vec<String>,
    /// `(id, name)` when authenticated by an API key.
    pub api_key: Option<(String, String)>,
}

/// What a principal may do: allowed only when every set allows (an API key's descriptors are
/// intersected with its owner's, as Elasticsearch limits keys).
#[derive(Clone, Debug, Default)]
pub(crate) struct Permission {
    pub sets: Vec<Vec<RoleDescriptor>>,
    /// Sorted names of the roles found (users only), for "effective roles".
    pub effective: Vec<String>,
    /// Assigned roles that are not defined.
    pub missing: Vec<String>,
}

impl Security {
    /// The permission of a principal.
    pub(crate) fn permission(&self, p: &Principal) -> Permission {
        if let Some((id, _)) = &p.api_key {
            let Some(k) = self.api_keys.iter().find(|k| &k.id == id) else {
                return Permission {
                    sets: vec![Vec::new()],
                    ..Default::default()
                };
            };
            let mut sets = vec![k.limited_by.clone()];
            if !k.role_descriptors.is_empty() {
                sets.push(k.role_descriptors.values().cloned().collect());
            }
            return Permission {
                sets,
                ..Default::default()
            };
        }
        let mut found = Vec::new();
        let mut effective = Vec::new();
        let mut missing = Vec::new();
        for r in &p.roles {
            match self.roles.get(r) {
                Some(d) => {
                    found.push(d.clone());
                    effective.push(r.clone());
                }
                None => missing.push(r.clone()),
            }
        }
        effective.sort();
        missing.sort();
        Permission {
            sets: vec![found],
            effective,
            missing,
        }
    }
}

impl Permission {
    fn all(&self, f: impl Fn(&RoleDescriptor) -> bool) -> bool {
        self.sets.iter().all(|set| set.iter().any(&f))
    }

    /// The cluster privileges allow `action`.
    pub(crate) fn cluster(&self, action: &str, v: Version) -> bool {
        self.all(|d| {
            d.cluster
                .iter()
                .any(|p| cluster_privilege_grants(p, action, v))
        })
    }

    /// Some index privilege of the role allows `action` on some index (Elasticsearch's
    /// short-circuit before resolving index names).
    pub(crate) fn index_anywhere(&self, action: &str, v: Version) -> bool {
        self.all(|d| {
            d.indices.iter().any(|ip| {
                ip.privileges
                    .iter()
                    .any(|p| index_privilege_grants(p, action, v))
            })
        })
    }

    /// The role allows `action` on the concrete index `index`.
    pub(crate) fn index(&self, action: &str, index: &str, v: Version) -> bool {
        self.all(|d| {
            d.indices.iter().any(|ip| {
                ip.names.iter().any(|n| wildcard_match(n, index))
                    && ip
                        .privileges
                        .iter()
                        .any(|p| index_privilege_grants(p, action, v))
            })
        })
    }

    /// The role's `remote_indices` allow replicating `index` from remote `alias`.
    pub(crate) fn remote_replication(&self, alias: &str, index: &str) -> bool {
        self.all(|d| {
            d.remote_indices.iter().any(|ri| {
                ri.clusters.iter().any(|c| wildcard_match(c, alias))
                    && ri.names.iter().any(|n| wildcard_match(n, index))
                    && ri
                        .privileges
                        .iter()
                        .any(|p| p == "cross_cluster_replication" || p == "all")
            })
        })
    }
}

/// Cluster privileges, from the narrowest to the broadest (the order Elasticsearch lists them
/// in "this action is granted by the cluster privileges [..]"): name, patterns, exclusions.
/// From `ClusterPrivilegeResolver` (the ones a CCR setup meets).
const CLUSTER_PRIVILEGES: &[(&str, &[&str], &[&str])] = &[
    ("read_ccr", &["cluster:monitor/state", HAS_PRIVILEGES], &[]),
    (
        "manage_ccr",
        &[
            "cluster:admin/xpack/ccr/*",
            "cluster:monitor/state",
            HAS_PRIVILEGES,
        ],
        &[],
    ),
    (
        "monitor",
        &[
            "cluster:monitor/*",
            "indices:admin/template/get",
            "indices:admin/index_template/get",
            "cluster:admin/component_template/get",
        ],
        &[],
    ),
    (
        "manage_own_api_key",
        &["cluster:admin/xpack/security/api_key/*"],
        &[],
    ),
    (
        "manage_api_key",
        &["cluster:admin/xpack/security/api_key/*"],
        &[],
    ),
    (
        "read_security",
        &[
            "cluster:admin/xpack/security/api_key/get",
            "cluster:admin/xpack/security/api_key/query",
            "cluster:admin/xpack/security/role/get",
            "cluster:admin/xpack/security/user/get",
            HAS_PRIVILEGES,
        ],
        &[],
    ),
    ("manage_security", &["cluster:admin/xpack/security/*"], &[]),
    (
        "manage",
        &[
            "cluster:*",
            "indices:admin/template/*",
            "indices:admin/index_template/*",
        ],
        &["cluster:admin/xpack/security/*"],
    ),
    (
        "all",
        &[
            "cluster:*",
            "indices:admin/template/*",
            "indices:admin/index_template/*",
        ],
        &[],
    ),
];

/// Index privileges, narrowest first, from `IndexPrivilege` (the ones a CCR setup meets). The
/// third field is the version that introduced the privilege.
const INDEX_PRIVILEGES: &[(&str, &[&str], (u32, u32))] = &[
    (
        "view_index_metadata",
        &[
            "indices:admin/aliases/get",
            "indices:admin/get",
            "indices:admin/mappings/get",
            "indices:admin/mappings/fields/get",
            "indices:monitor/settings/get",
            "indices:admin/resolve/index",
            "indices:admin/ilm/explain",
            "indices:admin/data_stream/get",
        ],
        (6, 0),
    ),
    (
        "read",
        &["indices:data/read/*", "indices:admin/resolve/index"],
        (6, 0),
    ),
    ("monitor", &["indices:monitor/*"], (6, 0)),
    (
        "create_index",
        &["indices:admin/create", "indices:admin/auto_create"],
        (6, 0),
    ),
    ("delete_index", &["indices:admin/delete"], (6, 0)),
    (
        "create_doc",
        &["indices:data/write/index*", "indices:data/write/bulk*"],
        (7, 5),
    ),
    (
        "create",
        &["indices:data/write/index*", "indices:data/write/bulk*"],
        (6, 0),
    ),
    (
        "index",
        &[
            "indices:data/write/index*",
            "indices:data/write/update*",
            "indices:data/write/bulk*",
        ],
        (6, 0),
    ),
    (
        "delete",
        &["indices:data/write/delete*", "indices:data/write/bulk*"],
        (6, 0),
    ),
    ("write", &["indices:data/write/*"], (6, 0)),
    (
        "manage_follow_index",
        &[
            "indices:admin/xpack/ccr/put_follow",
            "indices:admin/xpack/ccr/unfollow",
            "indices:admin/close*",
            "indices:admin/data_stream/promote",
            "indices:admin/rollover",
        ],
        (6, 5),
    ),
    (
        "manage_leader_index",
        &[
            "indices:admin/xpack/ccr/forget_follower*",
            "indices:admin/seq_no/*",
        ],
        (6, 7),
    ),
    (
        "cross_cluster_replication",
        &[
            "indices:data/read/xpack/ccr/shard_changes*",
            "indices:monitor/stats*",
            "indices:admin/seq_no/add_retention_lease*",
            "indices:admin/seq_no/remove_retention_lease*",
            "indices:admin/seq_no/renew_retention_lease*",
        ],
        (8, 8),
    ),
    ("manage", &["indices:monitor/*", "indices:admin/*"], (6, 0)),
    ("all", &["indices:*"], (6, 0)),
];

fn matches_any(patterns: &[&str], action: &str) -> bool {
    patterns.iter().any(|p| wildcard_match(p, action))
}

/// True when the cluster privilege `name` (or action pattern) grants `action`.
pub(crate) fn cluster_privilege_grants(name: &str, action: &str, _v: Version) -> bool {
    if name.contains(':') {
        return wildcard_match(name, action);
    }
    CLUSTER_PRIVILEGES
        .iter()
        .find(|(n, _, _)| *n == name)
        .is_some_and(|(_, grants, except)| {
            matches_any(grants, action) && !matches_any(except, action)
        })
}

/// True when the index privilege `name` (or action pattern) grants `action`.
pub(crate) fn index_privilege_grants(name: &str, action: &str, v: Version) -> bool {
    if name.contains(':') {
        return wildcard_match(name, action);
    }
    INDEX_PRIVILEGES
        .iter()
        .find(|(n, _, _)| *n == name)
        .is_some_and(|(_, grants, since)| {
            v.at_least(since.0, since.1) && matches_any(grants, action)
        })
}

/// Whether Elasticsearch treats an action as a cluster action (`ClusterPrivilegeResolver.isClusterAction`).
pub(crate) fn is_cluster_action(action: &str) -> bool {
    action.starts_with("cluster:")
        || action.starts_with("indices:admin/template/")
        || action.starts_with("indices:admin/index_template/")
}

/// The privileges that grant `action`, narrowest first, as 403 messages list them.
pub(crate) fn privileges_granting(action: &str, v: Version) -> Vec<&'static str> {
    if is_cluster_action(action) {
        CLUSTER_PRIVILEGES
            .iter()
            .filter(|(n, _, _)| cluster_privilege_grants(n, action, v))
            .map(|(n, _, _)| *n)
            .collect()
    } else {
        INDEX_PRIVILEGES
            .iter()
            .filter(|(n, _, _)| index_privilege_grants(n, action, v))
            .map(|(n, _, _)| *n)
            .collect()
    }
}

/// The names a request body's privilege list may hold: known privilege names and action
/// patterns (`has_privileges` answers false for unknown names, as ES does for action names it
/// does not know).
pub(crate) fn is_known_privilege(name: &str, cluster: bool) -> bool {
    name.contains(':')
        || if cluster {
            CLUSTER_PRIVILEGES.iter().any(|(n, _, _)| *n == name)
        } else {
            INDEX_PRIVILEGES.iter().any(|(n, _, _)| *n == name)
        }
}

/// True when granting `privilege` (a name) is implied by the permission: every action the
/// privilege grants is allowed. Checked on the privilege's own patterns.
pub(crate) fn cluster_privilege_held(perm: &Permission, privilege: &str, v: Version) -> bool {
    let probes: Vec<String> = if privilege.contains(':') {
        vec![privilege.replace('*', "x")]
    } else {
        match CLUSTER_PRIVILEGES.iter().find(|(n, _, _)| *n == privilege) {
            Some((_, grants, _)) => grants.iter().map(|g| g.replace('*', "x")).collect(),
            None => return false,
        }
    };
    perm.all(|d| {
        probes.iter().all(|a| {
            d.cluster.iter().any(|p| {
                if p == privilege {
                    return true;
                }
                cluster_privilege_grants(p, a, v)
            })
        })
    })
}

/// Index counterpart of [`cluster_privilege_held`] for one index name.
pub(crate) fn index_privilege_held(
    perm: &Permission,
    privilege: &str,
    index: &str,
    v: Version,
) -> bool {
    let probes: Vec<String> = if privilege.contains(':') {
        vec![privilege.replace('*', "x")]
    } else {
        match INDEX_PRIVILEGES.iter().find(|(n, _, _)| *n == privilege) {
            Some((_, grants, _)) => grants.iter().map(|g| g.replace('*', "x")).collect(),
            None => return false,
        }
    };
    perm.all(|d| {
        d.indices.iter().any(|ip| {
            ip.names.iter().any(|n| wildcard_match(n, index))
                && probes.iter().all(|a| {
                    ip.privileges
                        .iter()
                        .any(|p| p == privilege || index_privilege_grants(p, a, v))
                })
        })
    })
}

/// The simulated keystore of a cluster: `cluster.remote.<alias>.credentials` entries written
/// (`bin/elasticsearch-keystore add`) and the ones the node has loaded (at start, or on
/// `POST /_nodes/reload_secure_settings` from 8.13).
#[derive(Clone, Default)]
pub(crate) struct Keystore {
    pub written: BTreeMap<String, String>,
    pub loaded: BTreeMap<String, String>,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystore")
            .field("written", &self.written.keys().collect::<Vec<_>>())
            .field("loaded", &self.loaded.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Keystore {
    /// Loads what was written, as a node start or a reload does.
    pub(crate) fn load(&mut self) {
        self.loaded = self.written.clone();
    }
}

/// How a remote alias's target address resolves.
pub(crate) enum Target {
    /// The transport port (+100) of a cluster: a certificate remote.
    Transport(usize),
    /// The remote cluster server port (+243) of a cluster: an API-key remote.
    RemoteClusterServer(usize),
    /// Nothing simulated listens there.
    Nothing,
}

/// The remote cluster server address of a cluster (HTTP port + 243).
pub(crate) fn remote_cluster_address(c: &Cluster) -> String {
    format!(
        "{}:{}",
        c.http_addr.ip(),
        u32::from(c.http_addr.port()) + REMOTE_CLUSTER_PORT_OFFSET
    )
}

/// What a seed or proxy address names.
pub(crate) fn resolve_target(w: &World, addr: &str) -> Target {
    if let Some(li) = w.cluster_by_transport(addr) {
        return Target::Transport(li);
    }
    let addr = addr.trim().replace("localhost:", "127.0.0.1:");
    match w
        .clusters
        .iter()
        .position(|c| c.up && !c.stopped && remote_cluster_address(c) == addr)
    {
        // The remote cluster server exists only from 8.10 and with security on.
        Some(li) if w.clusters[li].version.at_least(8, 10) && w.clusters[li].security.is_some() => {
            Target::RemoteClusterServer(li)
        }
        _ => Target::Nothing,
    }
}

/// The cross-cluster key a follower's loaded keystore credentials for `alias` name on `leader`,
/// when it is usable now.
pub(crate) fn remote_key<'a>(
    follower: &Cluster,
    alias: &str,
    leader: &'a Cluster,
    now_ms: u64,
) -> Option<&'a ApiKey> {
    let encoded = follower.keystore.loaded.get(alias)?;
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    leader.security.as_ref()?.api_keys.iter().find(|k| {
        k.id == id && k.key == secret && k.kind == KeyType::CrossCluster && k.usable(now_ms)
    })
}

/// Whether the follower `ci` can reach a target as its remote `alias`: a certificate remote
/// only without credentials for the alias (with them, the handshake asks for the
/// `_remote_cluster` channel profile and fails), an API-key remote only with loaded
/// credentials of a usable cross-cluster key of that cluster (from 8.10 on the follower).
pub(crate) fn reachable(w: &World, ci: usize, alias: &str, target: &Target) -> Option<usize> {
    let c = &w.clusters[ci];
    match *target {
        Target::Transport(li) => {
            let has_credentials =
                c.version.at_least(8, 10) && c.keystore.loaded.contains_key(alias);
            (!has_credentials).then_some(li)
        }
        Target::RemoteClusterServer(li) => {
            if !c.version.at_least(8, 10) {
                return None;
            }
            remote_key(c, alias, &w.clusters[li], w.clock.epoch_ms()).map(|_| li)
        }
        Target::Nothing => None,
    }
}

/// True when the follower `ci` reaches `li` as `alias` through its remote cluster server port.
pub(crate) fn is_api_key_remote(w: &World, ci: usize, alias: &str, li: usize) -> bool {
    w.clusters[ci]
        .remote_targets(alias)
        .unwrap_or_default()
        .iter()
        .any(|t| matches!(resolve_target(w, t), Target::RemoteClusterServer(i) if i == li))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileges_grant_as_elasticsearch_lists_them() {
        let v = Version::new(8, 15, 0);
        assert_eq!(
            privileges_granting("indices:admin/xpack/ccr/unfollow", v),
            vec!["manage_follow_index", "manage", "all"]
        );
        assert_eq!(
            privileges_granting("cluster:admin/xpack/ccr/auto_follow_pattern/put", v),
            vec!["manage_ccr", "manage", "all"]
        );
        assert_eq!(
            privileges_granting(
                "cluster:admin/xpack/security/cross_cluster/api_key/create",
                v
            ),
            vec!["manage_security", "all"]
        );
        assert_eq!(
            privileges_granting("indices:data/read/search", v),
            vec!["read", "all"]
        );
        let old = Version::new(7, 17, 0);
        assert_eq!(
            privileges_granting("indices:monitor/stats", old),
            vec!["monitor", "manage", "all"]
        );
        assert!(
            privileges_granting("indices:monitor/stats", v).contains(&"cross_cluster_replication")
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let sec = Security::new()
            .user("u", "hunter2", Role::Superuser)
            .api_key("k", "topsecret", "u", Role::Monitor);
        let text = format!("{sec:?}");
        assert!(
            !text.contains("hunter2") && !text.contains("topsecret"),
            "{text}"
        );
        assert!(text.contains("::es_redacted::"));
    }

    #[test]
    fn api_keys_are_limited_by_their_owner() {
        let sec = Security::new().api_key("k", "s", "svc", Role::Monitor);
        let p = Principal {
            user: "svc".into(),
            roles: Vec::new(),
            api_key: Some(("k".into(), "k".into())),
        };
        let perm = sec.permission(&p);
        let v = Version::new(8, 15, 0);
        assert!(perm.cluster("cluster:monitor/health", v));
        assert!(!perm.cluster("cluster:admin/settings/update", v));
        assert!(perm.index("indices:data/read/search", "logs", v));
        assert!(!perm.index("indices:admin/xpack/ccr/put_follow", "logs", v));
    }
}
