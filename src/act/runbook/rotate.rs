//! The key rotation runbook, `ccr-sentinel rotate-key <alias>`: replace the cross-cluster API key of an API-key
//! remote without disconnecting its followers.
//!
//! Steps ([`RotateStep`], decided by the pure [`rotation_next`] from a fresh look before every step):
//! 1. **mint** a new key on the leader with the old key's `access`, lifetime and metadata
//!    (`POST /_security/cross_cluster/api_key`), and hand its secret to the operator once (a 0600 file or
//!    stdout, as the command was asked); the secret is never stored, logged or audited;
//! 2. **operator step**: only a person can put it in every follower node's keystore
//!    (`bin/elasticsearch-keystore add cluster.remote.<alias>.credentials`); the runbook stops here and the
//!    operator re-runs it with `--installed`;
//! 3. **reload**: `POST /_nodes/reload_secure_settings` on the follower cluster (credentials are reloadable
//!    from 8.13, ES PR #102798; before, the nodes must be restarted);
//! 4. **await reconnect**: `_remote/info` shows the remote connected with `cluster_credentials`;
//! 5. **invalidate** the old key(s) (`DELETE /_security/api_key`), then look once more that the remote stayed
//!    connected.
//!
//! Elasticsearch shows no REST view of which key a connection uses, so the old key is invalidated only after the
//! operator confirmed the installation and the remote is connected after the reload. Until then both keys are
//! valid, and the followers keep replicating with whichever the nodes hold.
//!
//! Crash safety: the record `state_dir/runbooks/rotate-key/<cluster>__<alias>.json` is written before each step.
//! A key minted by a run that died before recording it is found by the nonce in its metadata
//! (`metadata.rotation`) and invalidated (its secret was never handed over), then a new one is minted; every
//! other step is a look-then-act that a re-run repeats safely.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{RotateStep, RotationView, RunbookError, StoreError};
use crate::act::history::{write_atomic, Rule};
use crate::act::{ActionResult, AuditEvent, Executor, Target};
use crate::config::Config;
use crate::es::{
    classify, key_of_remote, ApiKeyInfo, ApiKeyQuery, CrossClusterApiKeyRequest, EsClient, EsError,
};

/// The progress record of one rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationRecord {
    pub cluster: String,
    pub alias: String,
    pub leader_cluster: String,
    pub started_at: DateTime<Utc>,
    /// Written into the new key's `metadata.rotation`, so a key minted by a run that died is found.
    pub nonce: String,
    /// The new key, once minted (its id only: the secret is never kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_key_id: Option<String>,
    /// The operator confirmed the new key is in every follower node's keystore.
    #[serde(default)]
    pub installed: bool,
    /// The follower cluster reloaded its secure settings after that confirmation.
    #[serde(default)]
    pub reloaded: bool,
    #[serde(default)]
    pub done: Vec<RotateStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<RotateStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// Where rotation records live: `state_dir/runbooks/rotate-key/` (a directory of its own, so the unfollow
/// runbooks' listing never reads them), or nowhere without a state directory.
#[derive(Debug, Clone, Default)]
pub struct RotationStore {
    dir: Option<PathBuf>,
}

impl RotationStore {
    /// A store under `state_dir` (or a memory-only one).
    pub fn new(state_dir: Option<&Path>) -> Self {
        Self {
            dir: state_dir.map(|d| d.join("runbooks").join("rotate-key")),
        }
    }

    fn path(&self, cluster: &str, alias: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{cluster}__{alias}.json")))
    }

    /// The record of a rotation in progress, if any.
    pub fn load(&self, cluster: &str, alias: &str) -> Result<Option<RotationRecord>, StoreError> {
        let Some(path) = self.path(cluster, alias) else {
            return Ok(None);
        };
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|source| StoreError::Parse { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Read { path, source }),
        }
    }

    /// Writes a record atomically, owned by this process.
    pub fn save(&self, r: &RotationRecord) -> Result<(), StoreError> {
        let Some(path) = self.path(&r.cluster, &r.alias) else {
            return Ok(());
        };
        let mut r = r.clone();
        r.owner_pid = Some(std::process::id());
        r.updated_at = Some(Utc::now());
        let bytes = serde_json::to_vec_pretty(&r).map_err(|e| StoreError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        write_atomic(&path, &bytes).map_err(|source| StoreError::Write { path, source })
    }

    /// Removes a finished rotation's record.
    pub fn remove(&self, cluster: &str, alias: &str) -> Result<(), StoreError> {
        let Some(path) = self.path(cluster, alias) else {
            return Ok(());
        };
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Write { path, source }),
        }
    }
}

/// Writes a secret to a new file readable by its owner only (0600); an existing file is never overwritten.
pub fn write_secret_file(path: &Path, secret: &SecretString) -> std::io::Result<()> {
    use secrecy::ExposeSecret;
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(secret.expose_secret().as_bytes())?;
    f.sync_all()
}

/// One step as it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotateReport {
    pub step: RotateStep,
    /// `success`, `already_done`, `failed`, `dry_run`, `waiting`.
    pub result: String,
    pub detail: String,
}

/// How a rotation run ended.
#[derive(Debug, Clone, Serialize)]
pub struct RotationOutcome {
    pub cluster: String,
    pub alias: String,
    pub steps: Vec<RotateReport>,
    /// The old keys are invalidated and the remote is connected (or, in dry run, would be).
    pub finished: bool,
    /// The operator step the rotation waits for, when it stopped there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for_operator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Options of one run.
#[derive(Debug, Clone)]
pub struct RotateOptions {
    /// The operator says the new key is in every follower node's keystore.
    pub installed: bool,
    /// How long to wait for the remote to reconnect after the reload.
    pub reconnect_timeout: Duration,
    /// Time between looks while waiting.
    pub poll_interval: Duration,
    /// Where the secret was handed over, for the operator step text (`None`: printed on stdout).
    pub secret_file: Option<PathBuf>,
    /// The secret has somewhere to go (a file or stdout); without, nothing is minted.
    pub can_deliver: bool,
}

/// Called with the new key's encoded credential right after it is minted; returns where it went, or why it
/// could not be handed over (the key is then invalidated).
pub type Deliver<'a> = &'a mut (dyn FnMut(&SecretString) -> Result<String, String> + Send);

/// Called after every step; `ControlFlow::Break` stops the run there, as a crash would.
pub type RotateHook<'a> = &'a mut (dyn FnMut(&RotateReport) -> ControlFlow<()> + Send);

/// The most steps one run takes.
const MAX_STEPS: usize = 8;

/// The keystore commands of the operator step.
pub fn operator_step(cluster: &str, alias: &str, secret_file: Option<&Path>) -> String {
    let setting = format!("cluster.remote.{alias}.credentials");
    let source = match secret_file {
        Some(p) => format!(
            "`bin/elasticsearch-keystore add --stdin --force {setting} < {}` (delete the file afterwards)",
            p.display()
        ),
        None => format!(
            "`bin/elasticsearch-keystore add --force {setting}` and paste the encoded key printed when it was minted"
        ),
    };
    format!(
        "install the new key in the keystore of every node of `{cluster}`: on each node run {source}; then run \
         `ccr-sentinel rotate-key {alias} --cluster {cluster} --installed`, which reloads the secure settings, \
         waits for the remote to reconnect and invalidates the old key"
    )
}

struct Look {
    view: RotationView,
    /// Every key of the remote on the leader.
    keys: Vec<ApiKeyInfo>,
}

/// What a rotation works with: the executor (clients, dry run, audit), the configuration and its record store.
#[derive(Debug, Clone, Copy)]
pub struct RotateCtx<'a> {
    pub exec: &'a Executor,
    pub cfg: &'a Config,
    pub store: &'a RotationStore,
}

/// Runs (or continues) the rotation of `cluster`'s remote `alias`.
pub async fn rotate_key(
    ctx: RotateCtx<'_>,
    cluster: &str,
    alias: &str,
    opts: &RotateOptions,
    deliver: Deliver<'_>,
    hook: RotateHook<'_>,
) -> Result<RotationOutcome, RunbookError> {
    let RotateCtx { exec, cfg, store } = ctx;
    let leader = cfg
        .leader_cluster(cluster, alias)
        .ok_or_else(|| RunbookError::UnknownRemote(format!("{cluster}/{alias}")))?
        .to_string();
    let fc = exec
        .client(cluster)
        .ok_or_else(|| RunbookError::UnknownCluster(cluster.to_string()))?
        .clone();
    let lc = exec
        .client(&leader)
        .ok_or_else(|| RunbookError::UnknownCluster(leader.clone()))?
        .clone();
    let mut out = RotationOutcome {
        cluster: cluster.to_string(),
        alias: alias.to_string(),
        steps: Vec::new(),
        finished: false,
        waiting_for_operator: None,
        error: None,
    };
    let now = Utc::now();
    let mut rec = store.load(cluster, alias)?.unwrap_or(RotationRecord {
        cluster: cluster.to_string(),
        alias: alias.to_string(),
        leader_cluster: leader.clone(),
        started_at: now,
        nonce: format!(
            "{}-{}",
            now.format("%Y%m%dT%H%M%S%.3fZ"),
            std::process::id()
        ),
        new_key_id: None,
        installed: false,
        reloaded: false,
        done: Vec::new(),
        pending: None,
        owner_pid: None,
        updated_at: None,
    });
    if opts.installed && rec.new_key_id.is_some() && !rec.installed {
        // The confirmation: reload from here (a re-run after a crash keeps what was done after it).
        rec.installed = true;
        rec.reloaded = false;
    }
    let why = format!("`ccr-sentinel rotate-key {alias}` command");
    let rule = Rule::Manual.as_str();

    let mut seen = match look(&fc, &lc, cluster, alias, &rec).await {
        Ok(l) => l,
        Err(e) => {
            out.error = Some(e);
            return Ok(out);
        }
    };
    if seen.keys.is_empty() {
        out.error = Some(format!(
            "the leader `{leader}` has no cross-cluster API key of remote `{alias}` made by ccr-sentinel to rotate \
             (reconcile mints the first one)"
        ));
        return Ok(out);
    }

    if exec.is_dry_run() {
        // Nothing changes in dry run: walk the steps from what is there.
        let mut v = seen.view.clone();
        while let Some(step) = super::rotation_next(&v) {
            let detail = match step {
                RotateStep::Mint => {
                    v.new_key_usable = true;
                    v.installed = false;
                    v.reloaded = false;
                    format!("would mint a new key on `{leader}` with the access of the current one")
                }
                RotateStep::OperatorStep => {
                    v.installed = true;
                    operator_step(cluster, alias, opts.secret_file.as_deref())
                }
                RotateStep::Reload => {
                    v.reloaded = true;
                    format!("would send POST /_nodes/reload_secure_settings to `{cluster}`")
                }
                RotateStep::AwaitReconnect => {
                    v.connected = true;
                    format!("would wait for remote `{alias}` to reconnect")
                }
                RotateStep::Invalidate => {
                    let ids = std::mem::take(&mut v.old_keys_usable);
                    format!("would invalidate {}", quoted(&ids))
                }
            };
            let r = RotateReport {
                step,
                result: ActionResult::DryRun.as_str().into(),
                detail,
            };
            let _ = hook(&r);
            out.steps.push(r);
        }
        out.finished = true;
        return Ok(out);
    }

    for _ in 0..MAX_STEPS {
        let Some(step) = super::rotation_next(&seen.view) else {
            out.finished = true;
            store.remove(cluster, alias)?;
            return Ok(out);
        };
        let report = match step {
            RotateStep::Mint if !opts.can_deliver => {
                return Ok(failed(
                    out,
                    RotateStep::Mint,
                    "give --secret-file PATH or --show-secret to receive the new key's secret; nothing was minted"
                        .into(),
                ));
            }
            RotateStep::Mint => {
                let previous_pending = rec.pending;
                rec.pending = Some(RotateStep::Mint);
                store.save(&rec)?;
                // Keys minted under this record but not (or no longer) the recorded one: their secret was
                // never handed over, or the key is being replaced; none may stay usable.
                let orphans: Vec<String> = seen
                    .keys
                    .iter()
                    .filter(|k| k.metadata_str("rotation") == Some(rec.nonce.as_str()))
                    .filter(|k| !k.invalidated && Some(&k.id) != rec.new_key_id.as_ref())
                    .map(|k| k.id.clone())
                    .collect();
                if !orphans.is_empty() && previous_pending == Some(RotateStep::Mint) {
                    let r = lc.invalidate_api_keys(&orphans).await;
                    audit(exec, &leader, alias, "invalidate_api_key", rule, "a key minted by an interrupted rotate-key run (its secret was never handed over)", r.as_ref().err());
                }
                match mint(
                    exec, &lc, &leader, alias, &rec, &seen.keys, rule, &why, deliver,
                )
                .await
                {
                    Ok((id, detail)) => {
                        rec.new_key_id = Some(id);
                        rec.installed = false;
                        rec.reloaded = false;
                        ok(RotateStep::Mint, detail)
                    }
                    Err(e) => {
                        rec.pending = None;
                        store.save(&rec)?;
                        return Ok(failed(out, RotateStep::Mint, e));
                    }
                }
            }
            RotateStep::OperatorStep => {
                let text = operator_step(cluster, alias, opts.secret_file.as_deref());
                let r = RotateReport {
                    step,
                    result: "waiting".into(),
                    detail: text.clone(),
                };
                store.save(&rec)?;
                let _ = hook(&r);
                out.steps.push(r);
                out.waiting_for_operator = Some(text);
                return Ok(out);
            }
            RotateStep::Reload => {
                rec.pending = Some(step);
                store.save(&rec)?;
                let r = fc.reload_secure_settings().await;
                audit(
                    exec,
                    cluster,
                    alias,
                    "reload_secure_settings",
                    rule,
                    &why,
                    r.as_ref().err(),
                );
                match r {
                    Ok(resp) if resp.failed_nodes().is_empty() => {
                        rec.reloaded = true;
                        ok(step, format!("`{cluster}` reloaded its secure settings"))
                    }
                    Ok(resp) => {
                        rec.pending = None;
                        store.save(&rec)?;
                        let e = format!(
                            "nodes of `{cluster}` could not reload their secure settings: {}",
                            resp.failed_nodes().join(", ")
                        );
                        return Ok(failed(out, step, e));
                    }
                    Err(e) => {
                        rec.pending = None;
                        store.save(&rec)?;
                        return Ok(failed(out, step, e.to_string()));
                    }
                }
            }
            RotateStep::AwaitReconnect => {
                let deadline = tokio::time::Instant::now() + opts.reconnect_timeout;
                loop {
                    tokio::time::sleep(opts.poll_interval).await;
                    if connected(&fc, alias).await == Some(true) {
                        break;
                    }
                    if tokio::time::Instant::now() >= deadline {
                        // The record stays: a re-run with `--installed` reloads and waits again.
                        rec.reloaded = false;
                        store.save(&rec)?;
                        let e = format!(
                            "remote `{alias}` on `{cluster}` did not reconnect within {} after the reload: check that \
                             every node holds the new key (before 8.13 nodes read it only at start: restart them), then \
                             run again with --installed; the old key is still valid",
                            humantime::format_duration(opts.reconnect_timeout)
                        );
                        return Ok(failed(out, step, e));
                    }
                }
                ok(
                    step,
                    format!(
                        "remote `{alias}` on `{cluster}` is connected with cluster_credentials"
                    ),
                )
            }
            RotateStep::Invalidate => {
                rec.pending = Some(step);
                store.save(&rec)?;
                let ids = seen.view.old_keys_usable.clone();
                let r = lc.invalidate_api_keys(&ids).await;
                audit(
                    exec,
                    &leader,
                    alias,
                    "invalidate_api_key",
                    rule,
                    &why,
                    r.as_ref().err(),
                );
                if let Err(e) = r {
                    rec.pending = None;
                    store.save(&rec)?;
                    return Ok(failed(out, step, e.to_string()));
                }
                tokio::time::sleep(opts.poll_interval).await;
                if connected(&fc, alias).await == Some(false) {
                    let e = format!(
                        "invalidated {} but remote `{alias}` on `{cluster}` is now disconnected: the follower nodes do \
                         not hold the new key; install it and run again with --installed",
                        quoted(&ids)
                    );
                    rec.pending = None;
                    rec.installed = false;
                    rec.reloaded = false;
                    store.save(&rec)?;
                    return Ok(failed(out, step, e));
                }
                ok(step, format!("invalidated {} on `{leader}`", quoted(&ids)))
            }
        };
        rec.pending = None;
        rec.done.push(step);
        store.save(&rec)?;
        out.steps.push(report.clone());
        if hook(&report).is_break() {
            out.error = Some(format!("stopped after step `{}`", step.as_str()));
            return Ok(out);
        }
        seen = match look(&fc, &lc, cluster, alias, &rec).await {
            Ok(l) => l,
            Err(e) => {
                out.error = Some(e);
                return Ok(out);
            }
        };
    }
    out.error = Some(format!(
        "the rotation did not finish within {MAX_STEPS} steps"
    ));
    Ok(out)
}

fn ok(step: RotateStep, detail: String) -> RotateReport {
    RotateReport {
        step,
        result: ActionResult::Success.as_str().into(),
        detail,
    }
}

fn failed(mut out: RotationOutcome, step: RotateStep, e: String) -> RotationOutcome {
    out.steps.push(RotateReport {
        step,
        result: ActionResult::Failed.as_str().into(),
        detail: e.clone(),
    });
    out.error = Some(format!("step `{}` failed: {e}", step.as_str()));
    out
}

fn quoted(ids: &[String]) -> String {
    let q: Vec<String> = ids.iter().map(|i| format!("`{i}`")).collect();
    match q.len() {
        0 => "no key".into(),
        1 => format!("key {}", q[0]),
        _ => format!("keys {}", q.join(", ")),
    }
}

/// One audit event for a security request of the runbook (no secret: ids and names only).
#[allow(clippy::too_many_arguments)]
fn audit(
    exec: &Executor,
    cluster: &str,
    alias: &str,
    action: &'static str,
    rule: &str,
    why: &str,
    error: Option<&EsError>,
) {
    exec.record(&AuditEvent {
        time: Utc::now(),
        cluster: cluster.to_string(),
        target: Target::Alias(alias.to_string()),
        action,
        rule: rule.to_string(),
        why: why.to_string(),
        result: if error.is_some() {
            ActionResult::Failed
        } else {
            ActionResult::Success
        },
        reason: error.map(classify),
        error: error.map(ToString::to_string),
        duration_ms: 0,
        dry_run: false,
        principal: None,
    });
}

/// `Some(connected with cluster_credentials)`, `None` when `_remote/info` cannot be read.
async fn connected(fc: &EsClient, alias: &str) -> Option<bool> {
    let ri = fc.remote_info().await.ok()?;
    Some(
        ri.get(alias)
            .is_some_and(|r| r.connected && r.has_cluster_credentials),
    )
}

/// Looks at the remote's keys on the leader and its connection on the follower.
async fn look(
    fc: &EsClient,
    lc: &EsClient,
    cluster: &str,
    alias: &str,
    rec: &RotationRecord,
) -> Result<Look, String> {
    let owned = ApiKeyQuery {
        owner: true,
        ..Default::default()
    };
    let keys = lc
        .get_api_keys(&owned)
        .await
        .map_err(|e| format!("cannot read the keys of remote `{alias}`: {e}"))?
        .api_keys
        .into_iter()
        .filter(|k| key_of_remote(k, cluster, alias))
        .collect::<Vec<_>>();
    let now_ms = Utc::now().timestamp_millis();
    let new = rec.new_key_id.as_deref();
    let view = RotationView {
        new_key_usable: keys
            .iter()
            .any(|k| Some(k.id.as_str()) == new && k.usable_at(now_ms)),
        old_keys_usable: keys
            .iter()
            .filter(|k| Some(k.id.as_str()) != new && k.usable_at(now_ms))
            .map(|k| k.id.clone())
            .collect(),
        installed: rec.installed,
        reloaded: rec.reloaded,
        connected: connected(fc, alias)
            .await
            .ok_or_else(|| format!("cannot read _remote/info of `{cluster}`"))?,
    };
    Ok(Look { view, keys })
}

/// Mints the new key with the access, lifetime and metadata of the newest key of the remote, and hands the
/// secret over. Returns the new key's id and what happened.
#[allow(clippy::too_many_arguments)]
async fn mint(
    exec: &Executor,
    lc: &EsClient,
    leader: &str,
    alias: &str,
    rec: &RotationRecord,
    keys: &[ApiKeyInfo],
    rule: &str,
    why: &str,
    deliver: Deliver<'_>,
) -> Result<(String, String), String> {
    let template = keys
        .iter()
        .filter(|k| Some(&k.id) != rec.new_key_id.as_ref())
        .max_by_key(|k| (!k.invalidated, k.creation))
        .or_else(|| keys.iter().max_by_key(|k| k.creation))
        .ok_or_else(|| format!("no key of remote `{alias}` to copy the access from"))?;
    let access = template
        .access
        .clone()
        .ok_or_else(|| format!("key `{}` has no cross-cluster access to copy", template.id))?;
    let mut metadata = match &template.metadata {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    metadata.insert("rotation".into(), rec.nonce.clone().into());
    metadata.insert("rotated_from".into(), template.id.clone().into());
    let req = CrossClusterApiKeyRequest {
        name: template
            .name
            .clone()
            .unwrap_or_else(|| crate::es::key_name(&rec.cluster, alias)),
        access,
        expiration: super::same_lifetime(template.creation, template.expiration),
        metadata: Value::Object(metadata),
    };
    let created = lc.create_cross_cluster_api_key(&req).await;
    audit(
        exec,
        leader,
        alias,
        "create_cross_cluster_api_key",
        rule,
        why,
        created.as_ref().err(),
    );
    let created = created.map_err(|e| e.to_string())?;
    match deliver(&created.credentials()) {
        Ok(where_to) => Ok((
            created.id.clone(),
            format!(
                "minted key `{}` on `{leader}` (access and lifetime of `{}`); its secret {where_to}",
                created.id, template.id
            ),
        )),
        Err(e) => {
            let r = lc.invalidate_api_keys(std::slice::from_ref(&created.id)).await;
            audit(exec, leader, alias, "invalidate_api_key", rule, "its secret could not be handed over", r.as_ref().err());
            Err(format!(
                "the new key's secret could not be handed over ({e}); key `{}` was invalidated again",
                created.id
            ))
        }
    }
}
