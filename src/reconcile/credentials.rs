//! API-key remotes (`security = "api_key"`): the cross-cluster API key on the leader cluster and the step only an
//! operator can do, installing it in every follower node's keystore.
//!
//! Per `api_key` remote with `manage = true`, each run:
//! 1. finds the key ccr-sentinel made for it on the leader (`GET /_security/api_key`, by name and by the
//!    `metadata` ccr-sentinel writes), so a second run never mints a second key; a key that has expired or was
//!    invalidated is never reused (the remote cannot authenticate with it): a new one is minted and the operator
//!    step reported again; a key whose
//!    `access.replication` misses a configured leader index or pattern is widened in place
//!    (`PUT /_security/cross_cluster/api_key/{id}`, which keeps its secret);
//! 2. when there is none, creates one (`POST /_security/cross_cluster/api_key`): only with leader credentials
//!    that are a user (Elasticsearch refuses an API key there, elastic/elasticsearch PR #96401) and only when the
//!    run has somewhere to put the secret ([`SecretSink`]: a 0600 file or the operator's terminal), since
//!    Elasticsearch shows a key's secret once, at creation;
//! 3. while `_remote/info` on the follower does not show the alias connected with `cluster_credentials`, sends
//!    `POST /_nodes/reload_secure_settings` (8.13+, elastic/elasticsearch PR #102798) and reports the item
//!    `blocked` with reason `operator_step` and the exact keystore commands.
//!
//! The reload is sent on every pass while the step is pending rather than on an operator's signal: ccr-sentinel
//! cannot see a node's keystore, the call is idempotent (nodes reload what their keystore holds, unchanged
//! settings included), it goes only to a cluster whose remote is waiting, and it makes "add the key to every
//! keystore" the whole operator step, with no second command to forget.
//!
//! The secret is never logged, audited, put in a report or an error: it goes only to the sink.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};

use crate::act::{ActionResult, AuditEvent, Target, RECONCILE_RULE};
use crate::config::{RemoteSecurity, RemoteSettings};
use crate::es::{
    classify, find_managed_key, key_metadata, key_name, uncovered, ApiKeyInfo, ApiKeyQuery,
    AuthenticateResponse, CrossClusterAccess, CrossClusterApiKeyRequest, FailureReason, RemoteInfo,
    UpdateCrossClusterApiKeyRequest,
};

/// What reconcile read for one `api_key` remote. `None` fields could not be read.
#[derive(Debug, Clone, Default)]
pub struct KeyObservation {
    /// `(major, minor)` of the leader cluster.
    pub leader_version: Option<(u32, u32)>,
    /// Who the daemon's leader credentials are.
    pub authenticate: Option<AuthenticateResponse>,
    /// The keys named [`key_name`]`*` on the leader (active ones).
    pub keys: Option<Vec<ApiKeyInfo>>,
    /// The first read error.
    pub error: Option<String>,
    /// When the keys were read (epoch milliseconds): a key expired by then is not reused.
    pub at_ms: i64,
}

/// What to do about a remote's key.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyPlan {
    /// The key exists and covers every configured name.
    Ready { id: String },
    /// The key exists but misses `missing`: replace its access with `access`.
    Widen {
        id: String,
        access: CrossClusterAccess,
        missing: Vec<String>,
    },
    /// No key yet: create this one.
    Create { request: CrossClusterApiKeyRequest },
    /// Nothing can be done now.
    Blocked {
        reason: FailureReason,
        message: String,
    },
}

/// Plans the key of one `api_key` remote. `can_deliver`: the run has a [`SecretSink`] for a new key's secret.
pub fn plan_key(
    r: &RemoteSettings,
    names: &[String],
    o: &KeyObservation,
    can_deliver: bool,
) -> KeyPlan {
    let blocked = |reason, message: String| KeyPlan::Blocked { reason, message };
    if let Some(e) = &o.error {
        return blocked(
            FailureReason::Unavailable,
            format!(
                "cannot read the cross-cluster API keys of `{}` on the leader cluster `{}`: {e}",
                r.alias, r.leader
            ),
        );
    }
    if let Some((major, minor)) = o.leader_version {
        if (major, minor) < (8, 10) {
            return blocked(
                FailureReason::Unsupported,
                format!(
                    "`security = \"api_key\"` needs Elasticsearch 8.14 or later (8.10 as beta) on both clusters; the leader `{}` is {major}.{minor}: use the certificate model (`security = \"certificate\"`, seeds on the transport port)",
                    r.leader
                ),
            );
        }
    }
    if names.is_empty() {
        return blocked(
            FailureReason::InvalidSettings,
            format!(
                "no `[[followers]]` or `[[auto_follow]]` entry uses remote `{}` on `{}`: a cross-cluster API key needs at least one leader index or pattern to grant",
                r.alias, r.cluster
            ),
        );
    }
    let user_only = |what: &str| {
        format!(
            "the credentials of cluster `{}` are an API key, and Elasticsearch {what} only for a user (elastic/elasticsearch PR #96401): give `{}` a `username` with `password_file` whose user has the `manage_security` cluster privilege",
            r.leader, r.leader
        )
    };
    let is_api_key = o.authenticate.as_ref().is_some_and(|a| a.is_api_key());
    let keys = o.keys.as_deref().unwrap_or_default();
    if let Some(k) = find_managed_key(keys, &r.cluster, &r.alias, o.at_ms) {
        let access = k.access.clone().unwrap_or_default();
        let missing: Vec<String> = uncovered(&access.replication_names(), names)
            .into_iter()
            .map(String::from)
            .collect();
        if missing.is_empty() {
            return KeyPlan::Ready { id: k.id.clone() };
        }
        if is_api_key {
            return blocked(
                FailureReason::Unsupported,
                format!(
                    "the cross-cluster API key `{}` of remote `{}` does not grant {}; {}",
                    k.id,
                    r.alias,
                    quoted(&missing),
                    user_only("updates a cross-cluster API key")
                ),
            );
        }
        let mut all: BTreeSet<String> = access
            .replication_names()
            .into_iter()
            .map(String::from)
            .collect();
        all.extend(missing.iter().cloned());
        let mut widened = CrossClusterAccess::replication(all.into_iter().collect());
        widened.search = access.search;
        return KeyPlan::Widen {
            id: k.id.clone(),
            access: widened,
            missing,
        };
    }
    if is_api_key {
        return blocked(
            FailureReason::Unsupported,
            format!(
                "remote `{}` on `{}` needs a cross-cluster API key on `{}`; {}",
                r.alias,
                r.cluster,
                r.leader,
                user_only("creates a cross-cluster API key")
            ),
        );
    }
    if !can_deliver {
        return blocked(
            FailureReason::OperatorStep,
            format!(
                "remote `{}` on `{}` needs a cross-cluster API key on `{}`, and its secret can be shown only once: create it with `ccr-sentinel reconcile --once --credentials-dir DIR` (writes DIR/{}, mode 0600) or `--show-credentials` (prints it once)",
                r.alias,
                r.cluster,
                r.leader,
                credentials_file_name(&r.cluster, &r.alias)
            ),
        );
    }
    KeyPlan::Create {
        request: CrossClusterApiKeyRequest {
            name: key_name(&r.cluster, &r.alias),
            access: CrossClusterAccess::replication(names.to_vec()),
            expiration: r.api_key_expiration.clone(),
            metadata: key_metadata(&r.cluster, &r.alias),
        },
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where an `api_key` remote stands on the follower, from its `_remote/info` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialsState {
    /// Connected with `cluster_credentials`: done.
    Connected,
    /// The nodes have not loaded credentials for the alias: the operator step is pending.
    NotInstalled,
    /// Credentials loaded, but not connected: wrong port, or a key that is expired, invalidated or another one.
    Rejected,
    /// Connected without credentials: the connection uses the certificate model.
    CertificateModel,
}

/// The state of an `api_key` remote given its `_remote/info` entry (none: not configured yet).
pub fn credentials_state(info: Option<&RemoteInfo>) -> CredentialsState {
    match info {
        Some(i) if i.has_cluster_credentials && i.connected => CredentialsState::Connected,
        Some(i) if i.has_cluster_credentials => CredentialsState::Rejected,
        Some(i) if i.connected => CredentialsState::CertificateModel,
        _ => CredentialsState::NotInstalled,
    }
}

/// The message of a pending operator step: the keystore commands for every follower node.
pub fn operator_step_message(
    r: &RemoteSettings,
    key_id: Option<&str>,
    secret_file: Option<&Path>,
    follower_version: Option<(u32, u32)>,
) -> String {
    let setting = format!("cluster.remote.{}.credentials", r.alias);
    let source = match secret_file {
        Some(p) => format!(
            "`bin/elasticsearch-keystore add --stdin --force {setting} < {}` (the file ccr-sentinel wrote, mode 0600; delete it afterwards)",
            p.display()
        ),
        None => format!(
            "`bin/elasticsearch-keystore add --force {setting}` and paste the encoded key shown when it was created (Elasticsearch never shows a key's secret again; if it is lost, invalidate the key with DELETE /_security/api_key on `{}` and the next run creates a new one)",
            r.leader
        ),
    };
    let reload = match follower_version {
        Some(v) if v < (8, 13) => format!(
            "then restart each node of `{}` (before 8.13 remote credentials load only at start)",
            r.cluster
        ),
        _ => "ccr-sentinel then sends POST /_nodes/reload_secure_settings on each pass until `_remote/info` shows the remote connected with `cluster_credentials`".to_string(),
    };
    let key = key_id
        .map(|id| format!(" (key id `{id}` on `{}`)", r.leader))
        .unwrap_or_default();
    format!(
        "remote `{}` on `{}` waits for its cross-cluster API key{key} in the keystore of every node of `{}`: on each node run {source}; {reload}",
        r.alias, r.cluster, r.cluster
    )
}

/// The file name a new key's secret is written to under `--credentials-dir`.
pub fn credentials_file_name(cluster: &str, alias: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("{}.{}.credentials", clean(cluster), clean(alias))
}

/// A key created in this run, for the operator: the one place its secret is held.
pub struct NewCredentials {
    pub cluster: String,
    pub alias: String,
    pub leader: String,
    pub key_id: String,
    /// `base64(id:api_key)`: the value of `cluster.remote.<alias>.credentials`.
    pub credentials: SecretString,
}

impl std::fmt::Debug for NewCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredentials")
            .field("cluster", &self.cluster)
            .field("alias", &self.alias)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Where the secret of a key reconcile creates goes. Without one, reconcile creates no key.
#[derive(Debug, Clone, Default)]
pub enum SecretSink {
    /// Nowhere (the daemon): the remote is reported with how to create the key.
    #[default]
    None,
    /// A new file per key, `<dir>/<cluster>.<alias>.credentials`, mode 0600, never overwritten.
    Dir(PathBuf),
    /// Kept for the caller to show once (`reconcile --once --show-credentials`).
    Collect(Arc<Mutex<Vec<NewCredentials>>>),
}

impl SecretSink {
    fn available(&self) -> bool {
        !matches!(self, SecretSink::None)
    }

    /// The file a new key for (`cluster`, `alias`) would be written to.
    fn file(&self, cluster: &str, alias: &str) -> Option<PathBuf> {
        match self {
            SecretSink::Dir(d) => Some(d.join(credentials_file_name(cluster, alias))),
            _ => None,
        }
    }
}

/// Writes `secret` to a new file readable by its owner only.
fn write_secret_file(path: &Path, secret: &SecretString) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(secret.expose_secret().as_bytes())?;
    f.sync_all()
}

/// The outcome of the key step for one remote, merged into its item report.
#[derive(Debug, Clone, Default)]
pub(super) struct KeyOutcome {
    /// Actions done (described), in order.
    pub actions: Vec<String>,
    /// Set when the item is blocked.
    pub blocked: Option<(FailureReason, String)>,
    /// The key in use, if any.
    pub key_id: Option<String>,
    /// Where this run wrote the new key's secret.
    pub secret_file: Option<PathBuf>,
    /// True when the step changed something (key created or widened, settings reloaded).
    pub changed: bool,
    /// True when this run created the key: the nodes hold an older one, if any.
    pub created: bool,
    /// The `_remote/info` entry after the step (re-read after a reload).
    pub remote: Option<RemoteInfo>,
    /// True when the step re-read `_remote/info` of the follower cluster.
    pub reread: bool,
}

impl super::Reconciler {
    /// The `api_key` remotes reconcile manages.
    pub(super) fn api_key_remotes(&self) -> Vec<RemoteSettings> {
        self.cfg
            .remotes
            .iter()
            .filter(|r| r.security == RemoteSecurity::ApiKey && r.manage)
            .cloned()
            .collect()
    }

    /// Reads what [`plan_key`] needs from the leader of `r`.
    async fn observe_key(&self, r: &RemoteSettings) -> KeyObservation {
        let Some(c) = self.client(&r.leader) else {
            return KeyObservation {
                error: Some(format!("cluster `{}` is not configured", r.leader)),
                ..Default::default()
            };
        };
        let query = ApiKeyQuery {
            name: Some(format!("{}*", key_name(&r.cluster, &r.alias))),
            active_only: true,
            ..Default::default()
        };
        let at_ms = Utc::now().timestamp_millis();
        let (root, auth, keys) =
            tokio::join!(c.root_info(), c.authenticate(), c.get_api_keys(&query));
        let error = [
            root.as_ref().err(),
            auth.as_ref().err(),
            keys.as_ref().err(),
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|e| e.to_string());
        KeyObservation {
            leader_version: root.ok().and_then(|r| r.major_minor()),
            authenticate: auth.ok(),
            keys: keys.ok().map(|k| k.api_keys),
            error,
            at_ms,
        }
    }

    /// Records an audit event for a security step (no secret in any field).
    fn audit_step(
        &self,
        cluster: &str,
        alias: &str,
        action: &'static str,
        why: &str,
        t0: Instant,
        outcome: Result<(), &crate::es::EsError>,
    ) -> AuditEvent {
        let (result, reason, error) = match outcome {
            Ok(()) if self.exec.is_dry_run() => (ActionResult::DryRun, None, None),
            Ok(()) => (ActionResult::Success, None, None),
            Err(e) => (ActionResult::Failed, Some(classify(e)), Some(e.to_string())),
        };
        let e = AuditEvent {
            time: Utc::now(),
            cluster: cluster.to_string(),
            target: Target::Alias(alias.to_string()),
            action,
            rule: RECONCILE_RULE.to_string(),
            why: why.to_string(),
            result,
            reason,
            error,
            duration_ms: t0.elapsed().as_millis() as u64,
            dry_run: self.exec.is_dry_run(),
            principal: None,
        };
        self.exec.record(&e);
        e
    }

    /// The key step and the operator step of one `api_key` remote (see the module docs). `seen` is the
    /// follower's `_remote/info` entry for the alias as last read.
    pub(super) async fn reconcile_credentials(
        &self,
        r: &RemoteSettings,
        seen: Option<&RemoteInfo>,
        follower_version: Option<(u32, u32)>,
        events: &mut Vec<AuditEvent>,
    ) -> KeyOutcome {
        let mut out = KeyOutcome {
            remote: seen.cloned(),
            ..Default::default()
        };
        let dry_run = self.exec.is_dry_run();
        let names = self.cfg.replication_names(&r.cluster, &r.alias);
        let obs = self.observe_key(r).await;
        let Some(leader) = self.client(&r.leader).cloned() else {
            out.blocked = Some((
                FailureReason::Other,
                format!("cluster `{}` is not configured", r.leader),
            ));
            return out;
        };
        match plan_key(r, &names, &obs, self.secret_sink.available()) {
            KeyPlan::Blocked { reason, message } => {
                // A remote connected with credentials replicates whatever the key step cannot do now (a key
                // made by hand, leader credentials that may not list keys): followers it does not cover get
                // their own 403, and `ccr-sentinel check` tells why.
                if credentials_state(seen) == CredentialsState::Connected {
                    tracing::debug!(cluster = %r.cluster, alias = %r.alias, reason = reason.as_str(),
                        "key step skipped on a connected remote: {message}");
                    return out;
                }
                out.blocked = Some((reason, message));
                return out;
            }
            KeyPlan::Ready { id } => out.key_id = Some(id),
            KeyPlan::Widen {
                id,
                access,
                missing,
            } => {
                let why = format!(
                    "the cross-cluster API key of remote `{}` does not grant {}",
                    r.alias,
                    quoted(&missing)
                );
                let granted: Vec<String> = access
                    .replication_names()
                    .into_iter()
                    .map(String::from)
                    .collect();
                out.actions.push(format!(
                    "widen cross-cluster API key `{id}` on `{}` to {}",
                    r.leader,
                    quoted(&granted)
                ));
                let t0 = Instant::now();
                let res = if dry_run {
                    Ok(())
                } else {
                    let req = UpdateCrossClusterApiKeyRequest {
                        access: Some(access),
                        ..Default::default()
                    };
                    leader
                        .update_cross_cluster_api_key(&id, &req)
                        .await
                        .map(|_| ())
                };
                events.push(self.audit_step(
                    &r.leader,
                    &r.alias,
                    "update_cross_cluster_api_key",
                    &why,
                    t0,
                    res.as_ref().map(|_| ()),
                ));
                if let Err(e) = res {
                    out.blocked = Some(failure(&e));
                    return out;
                }
                out.changed = true;
                out.key_id = Some(id);
            }
            KeyPlan::Create { request } => {
                let why = format!(
                    "remote `{}` on `{}` has no cross-cluster API key on `{}`",
                    r.alias, r.cluster, r.leader
                );
                out.actions.push(format!(
                    "create cross-cluster API key `{}` on `{}` (replication of {}, expiration {})",
                    request.name,
                    r.leader,
                    quoted(&names),
                    request.expiration.as_deref().unwrap_or("none")
                ));
                if dry_run {
                    events.push(self.audit_step(
                        &r.leader,
                        &r.alias,
                        "create_cross_cluster_api_key",
                        &why,
                        Instant::now(),
                        Ok(()),
                    ));
                    return out;
                }
                let file = self.secret_sink.file(&r.cluster, &r.alias);
                if let Some(f) = file.as_ref().filter(|f| f.exists()) {
                    out.blocked = Some((
                        FailureReason::OperatorStep,
                        format!(
                            "{} exists: ccr-sentinel never overwrites a credentials file; install the key it holds (or move it away to create a new key)",
                            f.display()
                        ),
                    ));
                    return out;
                }
                let t0 = Instant::now();
                let created = leader.create_cross_cluster_api_key(&request).await;
                events.push(self.audit_step(
                    &r.leader,
                    &r.alias,
                    "create_cross_cluster_api_key",
                    &why,
                    t0,
                    created.as_ref().map(|_| ()),
                ));
                let key = match created {
                    Ok(k) => k,
                    Err(e) => {
                        out.blocked = Some(failure(&e));
                        return out;
                    }
                };
                let secret = key.credentials();
                let delivered = match (&self.secret_sink, &file) {
                    (SecretSink::Dir(_), Some(path)) => write_secret_file(path, &secret)
                        .map(|()| out.secret_file = Some(path.clone()))
                        .map_err(|e| format!("cannot write {}: {e}", path.display())),
                    (SecretSink::Collect(v), _) => {
                        crate::sync::lock(v).push(NewCredentials {
                            cluster: r.cluster.clone(),
                            alias: r.alias.clone(),
                            leader: r.leader.clone(),
                            key_id: key.id.clone(),
                            credentials: secret,
                        });
                        Ok(())
                    }
                    _ => Err("no place for the secret".to_string()),
                };
                if let Err(message) = delivered {
                    // A key nobody can install is only a liability: take it back.
                    let t0 = Instant::now();
                    let res = leader
                        .invalidate_api_keys(std::slice::from_ref(&key.id))
                        .await;
                    events.push(self.audit_step(
                        &r.leader,
                        &r.alias,
                        "invalidate_api_key",
                        "its secret could not be delivered",
                        t0,
                        res.as_ref().map(|_| ()),
                    ));
                    out.blocked = Some((
                        FailureReason::Other,
                        format!("{message}; the new key `{}` was invalidated", key.id),
                    ));
                    return out;
                }
                tracing::info!(cluster = %r.cluster, alias = %r.alias, leader = %r.leader, key_id = %key.id,
                    "created the cross-cluster API key of the remote");
                out.changed = true;
                out.created = true;
                out.key_id = Some(key.id.clone());
            }
        }
        self.operator_step(r, seen, follower_version, &mut out, events)
            .await;
        out
    }

    /// Step 3: reload the follower's secure settings while the key is not loaded, and report the step.
    async fn operator_step(
        &self,
        r: &RemoteSettings,
        seen: Option<&RemoteInfo>,
        follower_version: Option<(u32, u32)>,
        out: &mut KeyOutcome,
        events: &mut Vec<AuditEvent>,
    ) {
        let mut state = credentials_state(seen);
        let mut reload_error = None;
        let reloadable = follower_version.map_or(true, |v| v >= (8, 13));
        // Credentials loaded but refused are reloaded too: the keystore may hold a replacement key the nodes
        // have not loaded yet (a key that expired or was invalidated and was minted anew).
        let waiting = matches!(
            state,
            CredentialsState::NotInstalled | CredentialsState::Rejected
        );
        if waiting && !self.exec.is_dry_run() && reloadable {
            if let Some(c) = self.client(&r.cluster) {
                let t0 = Instant::now();
                let res = c.reload_secure_settings().await;
                let failed_nodes = res.as_ref().map(|x| x.failed_nodes()).unwrap_or_default();
                if let Err(e) = &res {
                    reload_error = Some(e.to_string());
                }
                events.push(self.audit_step(
                    &r.cluster,
                    &r.alias,
                    "reload_secure_settings",
                    "load the remote's credentials from the keystore",
                    t0,
                    res.as_ref().map(|_| ()),
                ));
                if !failed_nodes.is_empty() {
                    tracing::warn!(cluster = %r.cluster, nodes = ?failed_nodes, "some nodes could not reload their secure settings");
                }
                if res.is_ok() {
                    if let Ok(info) = c.remote_info().await {
                        out.reread = true;
                        out.remote = info.get(&r.alias).cloned();
                        state = credentials_state(out.remote.as_ref());
                        if state == CredentialsState::Connected {
                            out.actions.push(format!(
                                "reload secure settings of `{}` (the remote's credentials)",
                                r.cluster
                            ));
                            out.changed = true;
                        }
                    }
                }
            }
        }
        out.blocked = match state {
            CredentialsState::Connected => None,
            CredentialsState::Rejected if !out.created => Some((
                FailureReason::RemoteNotConnected,
                format!(
                    "the nodes of `{}` have loaded credentials for remote `{}` but it is not connected: check that {} the leader's remote cluster server port (`remote_cluster.port`, default 9443, not the transport port 9300), and that the installed key is {} and neither expired nor invalidated",
                    r.cluster,
                    r.alias,
                    if r.proxy_address.is_some() { "`proxy_address` is" } else { "the seeds are" },
                    out.key_id.as_deref().map(|k| format!("`{k}`")).unwrap_or_else(|| "the current one".into())
                ),
            )),
            // Not loaded yet, or minted by this run in place of one that expired or was invalidated, which the
            // nodes still hold (`--force` in the commands replaces it).
            CredentialsState::NotInstalled | CredentialsState::Rejected => {
                let mut m = operator_step_message(
                    r,
                    out.key_id.as_deref(),
                    out.secret_file.as_deref(),
                    follower_version,
                );
                if let Some(e) = reload_error {
                    m.push_str(&format!(
                        " (the reload failed: {e}; it needs cluster `manage` on `{}`, else send it yourself after the keystore step)",
                        r.cluster
                    ));
                }
                Some((FailureReason::OperatorStep, m))
            }
            CredentialsState::CertificateModel => Some((
                FailureReason::InvalidSettings,
                format!(
                    "remote `{}` on `{}` is declared `security = \"api_key\"` but is connected without `cluster_credentials`: it uses the certificate model (the leader's transport port); point it at the remote cluster server port (default 9443), or declare `security = \"certificate\"`",
                    r.alias, r.cluster
                ),
            )),
        };
    }
}

fn failure(e: &crate::es::EsError) -> (FailureReason, String) {
    let reason = classify(e);
    let message = match reason.fix() {
        Some(h) => format!("{e}; {h}"),
        None => e.to_string(),
    };
    (reason, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RemoteMode;
    use serde_json::json;

    fn remote() -> RemoteSettings {
        RemoteSettings {
            cluster: "follower".into(),
            alias: "leader".into(),
            leader: "prod".into(),
            mode: RemoteMode::Proxy,
            seeds: vec![],
            proxy_address: Some("prod:9443".into()),
            server_name: None,
            skip_unavailable: None,
            manage: true,
            security: RemoteSecurity::ApiKey,
            api_key_expiration: Some("90d".into()),
            heartbeat: false,
        }
    }

    fn user() -> AuthenticateResponse {
        serde_json::from_value(json!({"username": "admin", "roles": ["superuser"],
            "authentication_type": "realm"}))
        .unwrap()
    }

    fn api_key_auth() -> AuthenticateResponse {
        serde_json::from_value(json!({"username": "admin", "roles": [],
            "authentication_type": "api_key", "api_key": {"id": "k"}}))
        .unwrap()
    }

    /// The time of the observations (epoch milliseconds).
    const NOW: i64 = 1_000_000;

    fn key(id: &str, created: i64, names: &[&str], meta: serde_json::Value) -> ApiKeyInfo {
        serde_json::from_value(json!({"id": id, "name": "ccr-sentinel-follower-leader",
            "type": "cross_cluster", "creation": created, "invalidated": false, "metadata": meta,
            "access": {"replication": [{"names": names}]}}))
        .unwrap()
    }

    fn obs(auth: AuthenticateResponse, keys: Vec<ApiKeyInfo>) -> KeyObservation {
        KeyObservation {
            leader_version: Some((8, 15)),
            authenticate: Some(auth),
            keys: Some(keys),
            error: None,
            at_ms: NOW,
        }
    }

    fn label(p: &KeyPlan) -> String {
        match p {
            KeyPlan::Ready { id } => format!("ready:{id}"),
            KeyPlan::Widen { id, missing, .. } => format!("widen:{id}:{}", missing.join(",")),
            KeyPlan::Create { request } => format!(
                "create:{}:{}",
                request.name,
                request.access.replication_names().join(",")
            ),
            KeyPlan::Blocked { reason, .. } => format!("blocked:{reason}"),
        }
    }

    #[test]
    fn key_plans() {
        let names: Vec<String> = vec!["logs-*".into(), "orders".into()];
        let ours = key_metadata("follower", "leader");
        let other_remote = key_metadata("follower", "other");
        let old = KeyObservation {
            leader_version: Some((8, 9)),
            ..obs(user(), vec![])
        };
        let unreadable = KeyObservation {
            error: Some("boom".into()),
            ..Default::default()
        };
        let table: Vec<(&str, KeyObservation, bool, &str)> = vec![
            (
                "no key, a user, a sink",
                obs(user(), vec![]),
                true,
                "create:ccr-sentinel-follower-leader:logs-*,orders",
            ),
            (
                "no key, no sink",
                obs(user(), vec![]),
                false,
                "blocked:operator_step",
            ),
            (
                "no key, an API key credential",
                obs(api_key_auth(), vec![]),
                true,
                "blocked:unsupported",
            ),
            (
                "our key covers",
                obs(
                    user(),
                    vec![key("k1", 1, &["orders", "logs-*"], ours.clone())],
                ),
                false,
                "ready:k1",
            ),
            (
                "a wildcard key covers",
                obs(api_key_auth(), vec![key("k1", 1, &["*"], ours.clone())]),
                false,
                "ready:k1",
            ),
            (
                "the newest of ours",
                obs(
                    user(),
                    vec![
                        key("k1", 1, &["*"], ours.clone()),
                        key("k2", 5, &["*"], ours.clone()),
                    ],
                ),
                false,
                "ready:k2",
            ),
            (
                "our key misses a pattern",
                obs(
                    user(),
                    vec![key("k1", 1, &["orders", "logs-2024*"], ours.clone())],
                ),
                false,
                "widen:k1:logs-*",
            ),
            (
                "a key missing names, an API key credential",
                obs(
                    api_key_auth(),
                    vec![key("k1", 1, &["orders"], ours.clone())],
                ),
                false,
                "blocked:unsupported",
            ),
            (
                "our only key expired: minted anew",
                obs(
                    user(),
                    vec![ApiKeyInfo {
                        expiration: Some(NOW),
                        ..key("k1", 1, &["*"], ours.clone())
                    }],
                ),
                true,
                "create:ccr-sentinel-follower-leader:logs-*,orders",
            ),
            (
                "our only key invalidated: minted anew",
                obs(
                    user(),
                    vec![ApiKeyInfo {
                        invalidated: true,
                        ..key("k1", 1, &["*"], ours.clone())
                    }],
                ),
                true,
                "create:ccr-sentinel-follower-leader:logs-*,orders",
            ),
            (
                "a newer key expired: the older usable one",
                obs(
                    user(),
                    vec![
                        key("k1", 1, &["*"], ours.clone()),
                        ApiKeyInfo {
                            expiration: Some(NOW - 1),
                            ..key("k2", 5, &["*"], ours.clone())
                        },
                    ],
                ),
                false,
                "ready:k1",
            ),
            (
                "an expired key, no sink: the operator is told how to mint",
                obs(
                    user(),
                    vec![ApiKeyInfo {
                        expiration: Some(NOW - 1),
                        ..key("k1", 1, &["*"], ours.clone())
                    }],
                ),
                false,
                "blocked:operator_step",
            ),
            (
                "another remote's key is not ours",
                obs(user(), vec![key("k1", 1, &["*"], other_remote)]),
                true,
                "create:ccr-sentinel-follower-leader:logs-*,orders",
            ),
            ("leader before 8.10", old, true, "blocked:unsupported"),
            ("leader unreadable", unreadable, true, "blocked:unavailable"),
        ];
        for (what, o, sink, want) in table {
            assert_eq!(
                label(&plan_key(&remote(), &names, &o, sink)),
                want,
                "{what}"
            );
        }
        assert_eq!(
            label(&plan_key(&remote(), &[], &obs(user(), vec![]), true)),
            "blocked:invalid_settings"
        );
        // The API-key refusal says what to do.
        let KeyPlan::Blocked { message, .. } =
            plan_key(&remote(), &names, &obs(api_key_auth(), vec![]), true)
        else {
            panic!()
        };
        assert!(
            message.contains("#96401") && message.contains("username"),
            "{message}"
        );
        // The created key's request: expiration and metadata.
        let KeyPlan::Create { request } = plan_key(&remote(), &names, &obs(user(), vec![]), true)
        else {
            panic!()
        };
        assert_eq!(request.expiration.as_deref(), Some("90d"));
        assert_eq!(request.metadata["managed_by"], "ccr-sentinel");
        assert_eq!(request.metadata["remote_cluster"], "leader");
    }

    #[test]
    fn widening_keeps_what_the_key_granted() {
        let names: Vec<String> = vec!["orders".into()];
        let o = obs(
            user(),
            vec![key(
                "k1",
                1,
                &["clicks"],
                key_metadata("follower", "leader"),
            )],
        );
        let KeyPlan::Widen { access, .. } = plan_key(&remote(), &names, &o, false) else {
            panic!()
        };
        assert_eq!(access.replication_names(), vec!["clicks", "orders"]);
    }

    #[test]
    fn credentials_states() {
        let info = |connected: bool, creds: bool| RemoteInfo {
            connected,
            has_cluster_credentials: creds,
            ..Default::default()
        };
        assert_eq!(credentials_state(None), CredentialsState::NotInstalled);
        assert_eq!(
            credentials_state(Some(&info(false, false))),
            CredentialsState::NotInstalled
        );
        assert_eq!(
            credentials_state(Some(&info(true, true))),
            CredentialsState::Connected
        );
        assert_eq!(
            credentials_state(Some(&info(false, true))),
            CredentialsState::Rejected
        );
        assert_eq!(
            credentials_state(Some(&info(true, false))),
            CredentialsState::CertificateModel
        );
    }

    #[test]
    fn operator_step_names_the_commands() {
        let m = operator_step_message(
            &remote(),
            Some("k1"),
            Some(Path::new("/tmp/x/follower.leader.credentials")),
            Some((8, 15)),
        );
        assert!(m.contains("bin/elasticsearch-keystore add --stdin --force cluster.remote.leader.credentials < /tmp/x/follower.leader.credentials"), "{m}");
        assert!(m.contains("POST /_nodes/reload_secure_settings"), "{m}");
        let old = operator_step_message(&remote(), None, None, Some((8, 12)));
        assert!(
            old.contains("restart")
                && old.contains(
                    "elasticsearch-keystore add --force cluster.remote.leader.credentials"
                ),
            "{old}"
        );
        assert_eq!(
            credentials_file_name("dr/1", "leader"),
            "dr_1.leader.credentials"
        );
    }

    #[test]
    fn secret_files_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.credentials");
        write_secret_file(&p, &SecretString::from("s3cr3t")).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "s3cr3t");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(write_secret_file(&p, &SecretString::from("other")).is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "s3cr3t");
    }
}
