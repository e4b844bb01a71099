//! State-changing operations shared by the REST API, the control plane and the tick.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::EsError;
use crate::util::{fnv1a, validate_index_name};
use crate::world::model::{
    Cluster, DocStore, FollowMeta, FollowParams, FollowTasks, History, Index, Restore,
    ShardRecovery, ShardTask, World, RETAIN_ALL,
};
use crate::world::security;
use crate::world::settings::{self, Flavor};

/// How a follower cluster reaches a remote alias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RemoteLink {
    /// No such alias configured.
    Unknown,
    /// Configured, but no connection (fault, or nothing listens on the seeds).
    Unreachable { addr: String },
    /// Connected to the cluster at this position in the world.
    Connected(usize),
}

pub(crate) fn remote_link(w: &World, ci: usize, alias: &str) -> RemoteLink {
    let c = &w.clusters[ci];
    let Some(targets) = c.remote_targets(alias) else {
        return RemoteLink::Unknown;
    };
    let first = targets.first().cloned().unwrap_or_default();
    if c.faults.disconnected.contains(alias) {
        return RemoteLink::Unreachable { addr: first };
    }
    for t in &targets {
        let target = security::resolve_target(w, t);
        if let Some(li) = security::reachable(w, ci, alias, &target) {
            return RemoteLink::Connected(li);
        }
    }
    RemoteLink::Unreachable { addr: first }
}

/// What a connection attempt to a black-holed address gives after `transport.connect_timeout`
/// (TcpTransport's `ChannelsConnectedListener.onTimeout`).
pub(crate) fn connect_error(addr: &str) -> EsError {
    EsError::new(
        500,
        "connect_transport_exception",
        format!("[][{addr}] connect_timeout[30s]"),
    )
}

/// What a refused connection attempt gives at once: TcpTransport's `connect_exception` around
/// Netty's annotated `Connection refused` (the nested texts are Netty's and the JDK's).
pub(crate) fn connect_refused(addr: &str) -> EsError {
    EsError::new(
        500,
        "connect_transport_exception",
        format!("[][{addr}] connect_exception"),
    )
    .caused_by(
        EsError::new(
            500,
            "annotated_connect_exception",
            format!("Connection refused: /{addr}"),
        )
        .foreign()
        .caused_by(EsError::new(500, "connect_exception", "Connection refused").foreign()),
    )
}

/// True when cluster `c` reaches `alias` through a black hole: connection attempts hang for
/// `transport.connect_timeout` before they fail.
pub(crate) fn black_holed(c: &Cluster, alias: &str) -> bool {
    c.faults.disconnected.contains(alias) && c.faults.black_holed.contains(alias)
}

/// The transport error of an unreachable remote: a timeout for a black hole, else a refusal
/// (nothing listens: a stopped or isolated cluster, seeds that name no cluster, a disconnect).
pub(crate) fn unreachable_error(c: &Cluster, alias: &str, addr: &str) -> EsError {
    if black_holed(c, alias) {
        connect_error(addr)
    } else {
        connect_refused(addr)
    }
}

/// "license state could not be determined": what an unreachable remote looks like (§0.4).
pub(crate) fn remote_license_unknown(alias: &str, leader: Option<&str>, cause: EsError) -> EsError {
    let reason = match leader {
        Some(l) => format!(
            "can not fetch remote index [{alias}:{l}] metadata as the license state of the remote cluster [{alias}] could not be determined"
        ),
        None => format!(
            "can not fetch remote cluster state as the license state of the remote cluster [{alias}] could not be determined"
        ),
    };
    EsError::new(400, "status_exception", reason).caused_by(
        EsError::new(
            500,
            "exception",
            format!("could not determine the license type for cluster [{alias}]"),
        )
        .caused_by(cause),
    )
}

/// The remote's license does not allow CCR (§0.4).
pub(crate) fn remote_license_bad(alias: &str, leader: Option<&str>, remote: &Cluster) -> EsError {
    let head = match leader {
        Some(l) => format!("can not fetch remote index [{alias}:{l}] metadata"),
        None => "can not fetch remote cluster state".to_string(),
    };
    let tail = if remote.license.status != "active" {
        format!("the license on cluster [{alias}] is not active")
    } else {
        format!(
            "the license mode [{}] on cluster [{alias}] does not enable [ccr]",
            remote.license.kind.to_ascii_uppercase()
        )
    };
    EsError::new(
        400,
        "status_exception",
        format!("{head} as the remote cluster [{alias}] is not licensed for [ccr]; {tail}"),
    )
}

/// Resolves a remote for a CCR API: unknown alias, unreachable, bad license, or the leader cluster.
pub(crate) fn connected_remote(
    w: &World,
    ci: usize,
    alias: &str,
    leader: Option<&str>,
) -> Result<usize, EsError> {
    match remote_link(w, ci, alias) {
        RemoteLink::Unknown => Err(EsError::no_such_remote(alias)),
        RemoteLink::Unreachable { addr } => Err(remote_license_unknown(
            alias,
            leader,
            unreachable_error(&w.clusters[ci], alias, &addr),
        )),
        RemoteLink::Connected(li) => {
            if w.clusters[li].license.allows_ccr() {
                Ok(li)
            } else {
                Err(remote_license_bad(alias, leader, &w.clusters[li]))
            }
        }
    }
}

/// Normalises a settings object into flat `index.*` keys with string values; `null` values
/// (resets) are dropped, as a new index or a follower has nothing to reset.
pub(crate) fn flat_index_settings(v: &Value) -> Result<BTreeMap<String, String>, EsError> {
    Ok(settings::normalize_index_settings(v)
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}

fn as_update(settings: &BTreeMap<String, String>) -> settings::SettingsUpdate {
    settings
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect()
}

/// Creates an index (PUT /{index}, or auto-creation on first write), its settings checked
/// against the registry of the cluster's version and flavour. Returns the deprecation
/// warnings ES gives for the request.
pub(crate) fn create_index(
    c: &mut Cluster,
    name: &str,
    mut settings: BTreeMap<String, String>,
    now_epoch: u64,
) -> Result<Vec<String>, EsError> {
    validate_index_name(name, c.version.major)?;
    if let Some(existing) = c.indices.get(name) {
        return Err(EsError::new(
            400,
            "resource_already_exists_exception",
            format!("index [{}/{}] already exists", name, existing.uuid),
        )
        .meta("index_uuid", existing.uuid.clone())
        .meta("index", name));
    }
    let update = as_update(&settings);
    settings::validate_index_settings(&update, c.version, c.flavor, settings::Origin::Create)?;
    let (soft, warning) = settings::soft_deletes_on_create(&update, c.version, name)?;
    let shards = match settings.get("index.number_of_shards") {
        Some(s) => s.trim().parse::<usize>().unwrap_or(1),
        None => c.default_shards(),
    };
    if c.flavor == Flavor::Aliyun {
        settings
            .entry(settings::REPLICATION_TYPE.to_string())
            .or_insert_with(|| settings::REPLICATION_TYPE_PHYSICAL.to_string());
    }
    let uuid = c.new_uuid();
    settings.insert("index.number_of_shards".into(), shards.to_string());
    settings
        .entry("index.number_of_replicas".into())
        .or_insert_with(|| "1".into());
    settings.insert("index.uuid".into(), uuid.clone());
    settings.insert("index.provided_name".into(), name.into());
    settings.insert("index.creation_date".into(), now_epoch.to_string());
    settings.insert("index.version.created".into(), c.version.id());
    c.indices.insert(
        name.to_string(),
        Index {
            name: name.to_string(),
            uuid,
            open: true,
            settings,
            soft_deletes: soft,
            shards: vec![History::default(); shards],
            docs: DocStore::new(shards),
            follow: None,
            tasks: None,
            restore: None,
            leases: Default::default(),
            settings_version: 1,
            mapping_version: 1,
            aliases_version: 1,
            auto_id: 0,
        },
    );
    c.metadata_version += 1;
    Ok(warning.into_iter().collect())
}

/// What a document write did.
#[derive(Clone, Debug)]
pub(crate) struct WriteResult {
    pub index: String,
    pub id: String,
    pub version: u64,
    pub seq_no: i64,
    pub created: bool,
    pub found: bool,
}

/// The 403 a direct write into a follower index gets (from ES's FollowingEngine).
pub(crate) fn follower_write_rejected() -> EsError {
    EsError::new(
        403,
        "status_exception",
        "a following engine does not accept operations without an assigned sequence number",
    )
}

fn writable<'a>(c: &'a mut Cluster, index: &str, now_epoch: u64) -> Result<&'a mut Index, EsError> {
    if !c.indices.contains_key(index) {
        create_index(c, index, BTreeMap::new(), now_epoch)?;
    }
    let major = c.version.major;
    let idx = c
        .indices
        .get_mut(index)
        .ok_or_else(|| EsError::index_not_found(index))?;
    accepts_writes(idx, index, false, major)?;
    Ok(idx)
}

/// The description of block 12 (`IndexMetadata.INDEX_READ_ONLY_ALLOW_DELETE_BLOCK`).
pub(crate) const READ_ONLY_ALLOW_DELETE_BLOCK: &str =
    "disk usage exceeded flood-stage watermark, index has read-only-allow-delete block";

/// The index block a write meets, from the `index.blocks.*` settings (`IndexMetadata`'s
/// `INDEX_*_BLOCK`): id, description, and whether a delete passes it. 6.x reports the
/// read-only-allow-delete block as FORBIDDEN, 7.0+ as TOO_MANY_REQUESTS (429).
fn write_block(idx: &Index, index: &str, delete: bool, major: u32) -> Option<EsError> {
    let on = |k: &str| idx.settings.get(k).map(String::as_str) == Some("true");
    let (status, level, id, what) = if on("index.blocks.read_only") {
        (403, "FORBIDDEN", 5, "index read-only (api)")
    } else if on("index.blocks.write") {
        (403, "FORBIDDEN", 8, "index write (api)")
    } else if on("index.blocks.read_only_allow_delete") && !delete {
        read_only_allow_delete(major)
    } else {
        return None;
    };
    Some(block_error(index, status, level, id, what))
}

/// The block a settings update meets (`TransportUpdateSettingsAction.checkBlock`: the
/// METADATA_WRITE level, from `index.blocks.read_only`, `metadata` and
/// `read_only_allow_delete`).
pub(crate) fn metadata_write_block(idx: &Index, index: &str, major: u32) -> Option<EsError> {
    let on = |k: &str| idx.settings.get(k).map(String::as_str) == Some("true");
    let (status, level, id, what) = if on("index.blocks.read_only") {
        (403, "FORBIDDEN", 5, "index read-only (api)")
    } else if on("index.blocks.metadata") {
        (403, "FORBIDDEN", 9, "index metadata (api)")
    } else if on("index.blocks.read_only_allow_delete") {
        read_only_allow_delete(major)
    } else {
        return None;
    };
    Some(block_error(index, status, level, id, what))
}

/// The flood-stage block: 429 from 7.0 (`ClusterBlockLevel`'s status), 403 before.
fn read_only_allow_delete(major: u32) -> (u16, &'static str, u32, &'static str) {
    if major >= 7 {
        (429, "TOO_MANY_REQUESTS", 12, READ_ONLY_ALLOW_DELETE_BLOCK)
    } else {
        (403, "FORBIDDEN", 12, READ_ONLY_ALLOW_DELETE_BLOCK)
    }
}

/// `ClusterBlockException`'s answer for one index block.
fn block_error(index: &str, status: u16, level: &str, id: u32, what: &str) -> EsError {
    EsError::new(
        status,
        "cluster_block_exception",
        format!("index [{index}] blocked by: [{level}/{id}/{what}];"),
    )
}

/// Documents can be written to (or deleted from) an index only while it is open, not blocked
/// and not a follower.
fn accepts_writes(idx: &Index, index: &str, delete: bool, major: u32) -> Result<(), EsError> {
    if !idx.open {
        return Err(EsError::index_closed(index, &idx.uuid));
    }
    if let Some(e) = write_block(idx, index, delete, major) {
        return Err(e);
    }
    if idx.follow.is_some() {
        return Err(follower_write_rejected());
    }
    Ok(())
}

/// Indexes one document. `create_only` makes an existing id a version conflict.
pub(crate) fn index_doc(
    c: &mut Cluster,
    index: &str,
    id: Option<String>,
    source: Value,
    create_only: bool,
    now_epoch: u64,
) -> Result<WriteResult, EsError> {
    let cap = c.doc_cap;
    let idx = writable(c, index, now_epoch)?;
    let id = match id {
        Some(id) => id,
        None => {
            idx.auto_id += 1;
            crate::world::model::make_uuid(&idx.uuid, idx.auto_id)[..20].to_string()
        }
    };
    let shard = (fnv1a(&id) % idx.shards.len() as u64) as usize;
    let existing = idx.docs.docs.get(&id).map(|d| d.version);
    if let (true, Some(v)) = (create_only, existing) {
        return Err(EsError::new(
            409,
            "version_conflict_engine_exception",
            format!("[{id}]: version conflict, document already exists (current version [{v}])"),
        )
        .meta("index_uuid", idx.uuid.clone())
        .meta("shard", shard.to_string())
        .meta("index", index));
    }
    let bytes = source.to_string().len() as u64;
    let delta = if existing.is_some() { 0 } else { 1 };
    let seq_no = idx.shards[shard].append(1, delta, bytes);
    let version = existing.map(|v| v + 1).unwrap_or(1);
    idx.docs
        .put(&id, Arc::new(source), seq_no, shard, version, cap);
    Ok(WriteResult {
        index: index.to_string(),
        id,
        version,
        seq_no,
        created: existing.is_none(),
        found: existing.is_some(),
    })
}

/// Deletes one document by id.
pub(crate) fn delete_doc(c: &mut Cluster, index: &str, id: &str) -> Result<WriteResult, EsError> {
    let major = c.version.major;
    let idx = c
        .indices
        .get_mut(index)
        .ok_or_else(|| EsError::index_not_found_resolver(index))?;
    accepts_writes(idx, index, true, major)?;
    let shard = (fnv1a(id) % idx.shards.len() as u64) as usize;
    let existing = idx.docs.docs.get(id).map(|d| d.version);
    let delta = if existing.is_some() { -1 } else { 0 };
    let seq_no = idx.shards[shard].append(1, delta, 16);
    idx.docs.delete(id, seq_no, shard);
    Ok(WriteResult {
        index: index.to_string(),
        id: id.to_string(),
        version: existing.map(|v| v + 1).unwrap_or(1),
        seq_no,
        created: false,
        found: existing.is_some(),
    })
}

/// Writes `n` generated documents into an index (steady writes and the control API).
pub(crate) fn write_generated(
    c: &mut Cluster,
    index: &str,
    n: u64,
    now_epoch: u64,
) -> Result<(), EsError> {
    for _ in 0..n {
        let src = serde_json::json!({ "@timestamp": now_epoch, "message": "simulated write" });
        index_doc(c, index, None, src, false, now_epoch)?;
    }
    Ok(())
}

/// Writes `n` documents of `bytes_per_doc` bytes each, spread evenly over the shards, without
/// keeping their sources: histories, document counts and store size grow as if they were
/// indexed (a restore copies their bytes, followers replicate their operations), `_search`
/// does not show them.
pub(crate) fn write_sized(
    c: &mut Cluster,
    index: &str,
    n: u64,
    bytes_per_doc: u64,
    now_epoch: u64,
) -> Result<(), EsError> {
    let idx = writable(c, index, now_epoch)?;
    let shards = idx.shards.len().max(1) as u64;
    for (s, h) in idx.shards.iter_mut().enumerate() {
        let k = n / shards + u64::from((s as u64) < n % shards);
        if k > 0 {
            h.append(k, 1, k.saturating_mul(bytes_per_doc));
        }
    }
    Ok(())
}

/// Validates a follower's `settings` override (§1 errors): known settings with valid values,
/// and none of those replicated from the leader.
pub(crate) fn check_follow_settings(
    settings: &BTreeMap<String, String>,
    what: &str,
) -> Result<(), EsError> {
    let update = as_update(settings);
    settings::validate_any_version(&update)?;
    let overriding = settings::replicated_keys(&update);
    if overriding.is_empty() {
        return Ok(());
    }
    let rendered: Map<String, Value> = overriding
        .iter()
        .map(|k| ((*k).clone(), Value::String(settings[*k].clone())))
        .collect();
    Err(EsError::illegal_argument(format!(
        "can not put {what} that could override leader settings {}",
        Value::Object(rendered)
    )))
}

/// What `create_follower` needs.
pub(crate) struct NewFollower<'a> {
    pub follower: &'a str,
    pub alias: &'a str,
    pub leader: &'a str,
    pub params: FollowParams,
    pub overrides: BTreeMap<String, String>,
    /// The authenticated caller on the follower, whose privileges are checked on the leader
    /// when the leader has security (None: not checked).
    pub user: Option<&'a str>,
}

/// The leader-side privilege check of put follow and put auto-follow
/// (CcrLicenseChecker.hasPrivilegesToFollowIndices) for certificate remotes: the caller's user
/// name must exist on the leader with `read` and `monitor` on the leader index (or patterns).
pub(crate) fn check_leader_privileges(
    leader: &Cluster,
    user: Option<&str>,
    what: &str,
) -> Result<(), EsError> {
    let (Some(sec), Some(user)) = (&leader.security, user) else {
        return Ok(());
    };
    let v = leader.version;
    let allowed = sec.find_user(user).is_some_and(|u| {
        let perm = sec.permission(&security::Principal {
            user: u.name.clone(),
            roles: u.roles.clone(),
            api_key: None,
        });
        what.split(',').all(|i| {
            perm.index("indices:data/read/xpack/ccr/shard_changes", i, v)
                && perm.index("indices:monitor/stats", i, v)
        })
    });
    if allowed {
        return Ok(());
    }
    Err(insufficient_privileges(what))
}

fn insufficient_privileges(what: &str) -> EsError {
    EsError::new(
        403,
        "security_exception",
        format!(
            "insufficient privileges to follow index [{what}], privilege for action [indices:data/read/xpack/ccr/shard_changes] is missing, privilege for action [indices:monitor/stats] is missing"
        ),
    )
}

/// Through an API-key remote (8.10+), what the follower may read is the cross-cluster key's
/// `access.replication` names, intersected with the local user's `remote_indices` for the alias
/// (RemoteClusterSecurityCcrIT: 403 "insufficient privileges to follow index [..]"). Certificate
/// remotes are checked by [`check_leader_privileges`] instead.
pub(crate) fn check_remote_access(
    w: &World,
    ci: usize,
    alias: &str,
    li: usize,
    leader_index: &str,
    user: Option<&str>,
) -> Result<(), EsError> {
    let f = &w.clusters[ci];
    let Some(key) = security::remote_key(f, alias, &w.clusters[li], w.clock.epoch_ms()) else {
        return Ok(());
    };
    let by_key = key
        .replication_names()
        .iter()
        .any(|n| crate::util::wildcard_match(n, leader_index));
    let by_user = match (&f.security, user) {
        (Some(sec), Some(u)) => sec.find_user(u).is_some_and(|u| {
            sec.permission(&security::Principal {
                user: u.name.clone(),
                roles: u.roles.clone(),
                api_key: None,
            })
            .remote_replication(alias, leader_index)
        }),
        _ => true,
    };
    if by_key && by_user {
        Ok(())
    } else {
        Err(insufficient_privileges(leader_index))
    }
}

/// Creates a follower index by "restoring" the leader and starts its shard tasks.
/// The caller has checked the body and the local license.
pub(crate) fn create_follower(
    w: &mut World,
    ci: usize,
    spec: NewFollower<'_>,
) -> Result<(), EsError> {
    let NewFollower {
        follower,
        alias,
        leader,
        params,
        overrides,
        user,
    } = spec;
    let li = connected_remote(w, ci, alias, Some(leader))?;
    let now = w.clock.now_ms();
    let now_epoch = w.clock.epoch_ms();
    let lidx = w.clusters[li]
        .indices
        .get(leader)
        .ok_or_else(|| EsError::index_not_found(leader))?;
    if security::is_api_key_remote(w, ci, alias, li) {
        check_remote_access(w, ci, alias, li, leader, user)?;
    } else {
        check_leader_privileges(&w.clusters[li], user, leader)?;
    }
    if !lidx.soft_deletes {
        return Err(EsError::illegal_argument(format!(
            "leader index [{leader}] does not have soft deletes enabled"
        )));
    }
    if let Some(t) = lidx.settings.get(settings::REPLICATION_TYPE) {
        return Err(physical_replication_refused(leader, t));
    }
    if !overrides.is_empty() {
        check_follow_settings(&overrides, "follower index")?;
    }
    let fc = &w.clusters[ci];
    validate_index_name(follower, fc.version.major)?;
    // RestoreService before 7.0: one restore at a time per cluster, checked first.
    if fc.version.major < 7 && fc.indices.values().any(Index::restoring) {
        return Err(EsError::new(
            503,
            "concurrent_snapshot_execution_exception",
            format!(
                "[_ccr_{alias}:_latest_/_latest_] Restore process is already running in this cluster"
            ),
        ));
    }
    if let Some(existing) = fc.indices.get(follower) {
        if existing.open {
            return Err(EsError::new(
                500,
                "snapshot_restore_exception",
                format!(
                    "[_ccr_{alias}:_latest_/_latest_] cannot restore index [{follower}] because an open index with same name already exists in the cluster. Either close or delete the existing index or restore the index under a different name by providing a rename pattern and replacement name"
                ),
            ));
        }
        if existing.shard_count() != lidx.shard_count() {
            return Err(EsError::new(
                500,
                "snapshot_restore_exception",
                format!(
                    "[_ccr_{alias}:_latest_/_latest_] cannot restore index [{follower}] with [{}] shards from a snapshot of index [{leader}] with [{}] shards",
                    existing.shard_count(),
                    lidx.shard_count()
                ),
            ));
        }
    }
    let leader_uuid = lidx.uuid.clone();
    let shards = lidx.shards.clone();
    let docs = lidx.docs.clone();
    let mut settings: BTreeMap<String, String> = lidx
        .settings
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "index.uuid" | "index.provided_name" | "index.creation_date"
            )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let soft = lidx.soft_deletes;
    let mapping_version = lidx.mapping_version;
    settings.extend(overrides);
    settings.insert("index.xpack.ccr.following_index".into(), "true".into());
    let fc = &mut w.clusters[ci];
    let uuid = fc.new_uuid();
    settings.insert("index.uuid".into(), uuid.clone());
    settings.insert("index.provided_name".into(), follower.into());
    settings.insert("index.creation_date".into(), now_epoch.to_string());
    let recoveries = shards
        .iter()
        .map(|h| {
            let total_bytes = h.live() * h.avg_op_bytes() + SHARD_OVERHEAD_BYTES;
            ShardRecovery {
                total_bytes,
                recovered_bytes: 0,
                // A handful of segment files, one more per started MiB.
                files: 4 + total_bytes / (1 << 20),
                start: None,
                stop: None,
                throttle_ms: 0,
            }
        })
        .collect();
    let restore = Restore {
        restore_uuid: fc.new_uuid(),
        repository: format!("_ccr_{alias}"),
        leader_index: leader.to_string(),
        params,
        started: (now, now_epoch),
        shards: recoveries,
        finished_ms: None,
        outcome: None,
        lease_renewed_ms: now,
    };
    let lease = format!(
        "{}/{}/{}-following-{}/{}/{}",
        fc.name, follower, uuid, alias, leader, leader_uuid
    );
    fc.indices.insert(
        follower.to_string(),
        Index {
            name: follower.to_string(),
            uuid,
            open: true,
            settings,
            soft_deletes: soft,
            shards,
            docs,
            follow: Some(FollowMeta {
                remote_cluster: alias.to_string(),
                leader_index: leader.to_string(),
                leader_uuid,
            }),
            tasks: None,
            restore: Some(restore),
            leases: Default::default(),
            settings_version: 2,
            mapping_version,
            aliases_version: 1,
            auto_id: 0,
        },
    );
    fc.metadata_version += 1;
    // CcrRepository takes the retention lease on the leader when the restore starts, keeping
    // every operation until the shard tasks renew it with their checkpoint.
    if let Some(l) = w.clusters[li].indices.get_mut(leader) {
        l.put_lease(&lease, |_| RETAIN_ALL, now_epoch);
    }
    Ok(())
}

/// Alibaba Cloud's CCR refuses a leader that still has physical replication. Its text is not
/// documented anywhere we could read: this one is reconstructed (docs/es-contract.md §22).
pub(crate) fn physical_replication_refused(leader: &str, value: &str) -> EsError {
    EsError::illegal_argument(format!(
        "leader index [{leader}] uses physical replication [{}={value}]; cross-cluster replication requires [{}] to be null: close the leader index, set it to null and open it again",
        settings::REPLICATION_TYPE,
        settings::REPLICATION_TYPE
    ))
}

/// Bytes of an empty shard's store (segment infos and the like), so every restore copies something.
const SHARD_OVERHEAD_BYTES: u64 = 225;

/// The end of a follower's restore: the resume that starts its shard tasks
/// (TransportPutFollowAction.initiateFollowing). A failure leaves the follower paused with no
/// tasks, which only a put follow still waiting for the restore reports.
pub(crate) fn finish_restore(w: &mut World, ci: usize, index: &str, now: u64) {
    let Some(idx) = w.clusters[ci].indices.get_mut(index) else {
        return;
    };
    let Some(r) = idx.restore.as_mut() else {
        return;
    };
    if r.finished_ms.is_some() {
        return;
    }
    r.finished_ms = Some(now);
    let params = r.params.clone();
    let outcome = match w.clusters[ci].faults.fail_start.remove(index) {
        Some(reason) => Err(start_failure(reason)),
        None => resume_follow(w, ci, index, params),
    };
    if let Err(e) = &outcome {
        tracing::debug!(follower = %index, error = %e, "put follow failed after the restore");
    }
    if let Some(r) = w.clusters[ci]
        .indices
        .get_mut(index)
        .and_then(|i| i.restore.as_mut())
    {
        r.outcome = Some(outcome);
    }
}

/// The injected failure of a follower's final resume: by default the master timing out on the
/// persistent-task creation (reconstructed: any error of ResumeFollowAction has this effect).
fn start_failure(reason: Option<String>) -> EsError {
    match reason {
        Some(r) => EsError::new(500, "exception", r),
        None => EsError::new(
            503,
            "process_cluster_event_timeout_exception",
            "failed to process cluster event (create persistent task) within 30s",
        ),
    }
}

/// The retention lease id a follower holds on its leader.
pub(crate) fn lease_id(follower_cluster: &str, follower: &Index, meta: &FollowMeta) -> String {
    format!(
        "{}/{}/{}-following-{}/{}/{}",
        follower_cluster,
        follower.name,
        follower.uuid,
        meta.remote_cluster,
        meta.leader_index,
        meta.leader_uuid
    )
}

/// pause_follow (§2), with the message differences before 7.6.
pub(crate) fn pause_follow(c: &mut Cluster, index: &str) -> Result<(), EsError> {
    let before_7_6 = !c.version.at_least(7, 6);
    let no_tasks = || EsError::illegal_argument(format!("no shard follow tasks for [{index}]"));
    let Some(idx) = c.indices.get_mut(index) else {
        return Err(if before_7_6 {
            no_tasks()
        } else {
            EsError::index_not_found(index)
        });
    };
    if idx.follow.is_none() {
        return Err(if before_7_6 {
            no_tasks()
        } else {
            EsError::illegal_argument(format!("index [{index}] is not a follower index"))
        });
    }
    if idx.tasks.take().is_none() {
        return Err(no_tasks());
    }
    Ok(())
}

/// resume_follow (§3), checks in ES's order.
pub(crate) fn resume_follow(
    w: &mut World,
    ci: usize,
    index: &str,
    params: FollowParams,
) -> Result<(), EsError> {
    w.clusters[ci].ccr_allowed()?;
    let fidx = w.clusters[ci]
        .indices
        .get(index)
        .ok_or_else(|| EsError::index_not_found(index))?;
    let meta = fidx.follow.clone().ok_or_else(|| {
        EsError::illegal_argument(format!("follow index [{index}] does not have ccr metadata"))
    })?;
    let li = connected_remote(w, ci, &meta.remote_cluster, Some(&meta.leader_index))?;
    let fidx = &w.clusters[ci].indices[index];
    let lidx = w.clusters[li]
        .indices
        .get(&meta.leader_index)
        .ok_or_else(|| EsError::index_not_found(&meta.leader_index))?;
    if security::is_api_key_remote(w, ci, &meta.remote_cluster, li) {
        check_remote_access(w, ci, &meta.remote_cluster, li, &meta.leader_index, None)?;
    }
    if lidx.uuid != meta.leader_uuid {
        return Err(EsError::illegal_argument(format!(
            "follow index [{index}] should reference [{}] as leader index but instead reference [{}] as leader index",
            lidx.uuid, meta.leader_uuid
        )));
    }
    if !lidx.soft_deletes {
        return Err(EsError::illegal_argument(format!(
            "leader index [{}] does not have soft deletes enabled",
            meta.leader_index
        )));
    }
    if !fidx.soft_deletes {
        return Err(EsError::illegal_argument(format!(
            "follower index [{index}] does not have soft deletes enabled"
        )));
    }
    if lidx.shard_count() != fidx.shard_count() {
        return Err(EsError::illegal_argument(format!(
            "leader index primary shards [{}] does not match with the number of shards of the follow index [{}]",
            lidx.shard_count(),
            fidx.shard_count()
        )));
    }
    if !lidx.open || !fidx.open {
        return Err(EsError::illegal_argument(
            "leader and follow index must be open",
        ));
    }
    if !fidx.is_following_setting() {
        return Err(EsError::illegal_argument(format!(
            "the following index [{index}] is not ready to follow; the setting [index.xpack.ccr.following_index] must be enabled."
        )));
    }
    if fidx.tasks.is_some() {
        // One persistent-task start per shard; ResponseHandler answers the first failure and
        // adds the others as suppressed exceptions.
        let exists = |shard: usize| {
            EsError::new(
                400,
                "resource_already_exists_exception",
                format!("task with id {{{}-{shard}}} already exist", fidx.uuid),
            )
        };
        let mut e = exists(0);
        if fidx.shard_count() > 1 {
            let others: Vec<serde_json::Value> = (1..fidx.shard_count())
                .map(|s| exists(s).to_cause_json())
                .collect();
            e = e.meta("suppressed", others);
        }
        return Err(e);
    }
    let now = w.clock.now_ms();
    let fidx = w.clusters[ci]
        .indices
        .get_mut(index)
        .ok_or_else(|| EsError::index_not_found(index))?;
    let shards = fidx
        .shards
        .iter()
        .map(|h| ShardTask::new(h.max_seq_no(), now))
        .collect();
    // The tasks renew (or add again) their retention leases a renew interval from now
    // (ShardFollowTasksExecutor schedules the renewal with a fixed delay).
    fidx.tasks = Some(FollowTasks {
        params,
        shards,
        lease_renewed_ms: now,
    });
    Ok(())
}

/// unfollow (§4): checks missing, not a follower, not closed, not paused; then removes the
/// follower's retention leases on the leader (a 500 if the leader cannot be reached, after the
/// unfollow itself was applied, as ES does).
pub(crate) fn unfollow(w: &mut World, ci: usize, index: &str) -> Result<(), EsError> {
    let c = &mut w.clusters[ci];
    let cname = c.name.clone();
    let idx = c
        .indices
        .get_mut(index)
        .ok_or_else(|| EsError::index_not_found(index))?;
    let Some(meta) = idx.follow.clone() else {
        return Err(EsError::illegal_argument(format!(
            "index [{index}] is not a follower index"
        )));
    };
    if idx.open {
        return Err(EsError::illegal_argument(format!(
            "cannot convert the follower index [{index}] to a non-follower, because it has not been closed"
        )));
    }
    if idx.tasks.is_some() {
        return Err(EsError::illegal_argument(format!(
            "cannot convert the follower index [{index}] to a non-follower, because it has not been paused"
        )));
    }
    let lease = lease_id(&cname, idx, &meta);
    idx.follow = None;
    idx.settings.remove("index.xpack.ccr.following_index");
    idx.settings_version += 1;
    match remote_link(w, ci, &meta.remote_cluster) {
        RemoteLink::Connected(li) => {
            if let Some(l) = w.clusters[li].indices.get_mut(&meta.leader_index) {
                l.remove_lease(&lease);
            }
            Ok(())
        }
        RemoteLink::Unreachable { addr } => Err(lease_not_removed(
            &lease,
            unreachable_error(&w.clusters[ci], &meta.remote_cluster, &addr),
        )),
        RemoteLink::Unknown => Err(lease_not_removed(
            &lease,
            EsError::no_such_remote(&meta.remote_cluster),
        )),
    }
}

/// The error of an unfollow that applied locally but could not remove its retention lease on
/// the leader: TransportUnfollowAction.onLeaseRemovalFailure wraps the cause in a plain
/// `ElasticsearchException(cause)`, whose message is the cause's `toString()`
/// (`ClassName[message]`, with `; nested: ` for its own causes).
fn lease_not_removed(lease: &str, cause: EsError) -> EsError {
    EsError::new(500, "exception", throwable_to_string(&cause))
        .meta("failed_to_remove_retention_leases", lease)
        .caused_by(cause)
}

/// `ElasticsearchException.toString()` of an exception chain, i.e. `ExceptionsHelper.detailedMessage`:
/// `NoSuchRemoteClusterException[no such remote cluster: [leader]]`, or with causes
/// `A[..]; nested: B[..];`. Class names come back from the snake-case type.
pub(crate) fn throwable_to_string(e: &EsError) -> String {
    if e.caused_by.is_none() {
        return simple_name(e);
    }
    let mut out = String::new();
    let mut cur = Some(e);
    while let Some(t) = cur {
        out.push_str(&simple_name(t));
        out.push_str("; ");
        cur = t.caused_by.as_deref();
        if cur.is_some() {
            out.push_str("nested: ");
        }
    }
    out.trim_end().to_string()
}

fn simple_name(e: &EsError) -> String {
    let class: String = e
        .kind
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect();
    format!("{class}[{}]", e.reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_text_is_detailed_message() {
        assert_eq!(
            throwable_to_string(&EsError::no_such_remote("leader")),
            "NoSuchRemoteClusterException[no such remote cluster: [leader]]"
        );
        assert_eq!(
            throwable_to_string(&connect_refused("127.0.0.1:9300")),
            "ConnectTransportException[[][127.0.0.1:9300] connect_exception]; nested: \
AnnotatedConnectException[Connection refused: /127.0.0.1:9300]; nested: ConnectException[Connection refused];"
        );
        assert_eq!(
            throwable_to_string(&EsError::new(429, "es_rejected_execution_exception", "x")),
            "EsRejectedExecutionException[x]"
        );
    }
}
