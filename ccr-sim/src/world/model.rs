//! The simulator's state: clusters, indices with sequence-number histories, follower tasks.
//!
//! Everything lives in one [`World`] behind a mutex, so a follower cluster reads its leader
//! cluster's shards with plain in-memory calls.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::action::Action;
use crate::clock::Clock;
use crate::error::EsError;
use crate::util::{ByteSize, Rng, TimeValue};
use crate::version::Version;
use crate::world::security::Keystore;
pub use crate::world::security::{Role, Security};
use crate::world::settings::{self, Flavor};

/// Average size in bytes of a simulated operation when the leader has not seen any document.
pub(crate) const DEFAULT_OP_BYTES: u64 = 64;

/// The dynamic cluster setting that throttles remote recovery (CcrSettings.RECOVERY_MAX_BYTES_PER_SECOND).
pub(crate) const RECOVERY_MAX_BYTES_SETTING: &str = "ccr.indices.recovery.max_bytes_per_sec";
/// Its default, 40mb.
pub(crate) const DEFAULT_RECOVERY_BYTES_PER_SEC: u64 = 40 << 20;
/// Shard recoveries one node runs at once
/// (`cluster.routing.allocation.node_concurrent_incoming_recoveries`, default 2); they share the rate.
pub(crate) const CONCURRENT_RECOVERIES: usize = 2;
/// `transport.connect_timeout` (TransportSettings.CONNECT_TIMEOUT, 30s): how long a connection attempt to a
/// black-holed address waits before `connect_timeout[30s]`.
pub(crate) const CONNECT_TIMEOUT_MS: u64 = 30_000;
/// How often a follower renews its retention leases on the leader: CcrRetentionLeases'
/// `index.ccr.retention_lease.renew_interval` (30s; a test-only node setting, not registered).
pub(crate) const LEASE_RENEW_INTERVAL_MS: u64 = 30_000;
/// The leader setting after which an unrenewed retention lease expires (ReplicationTracker).
pub(crate) const LEASE_PERIOD_SETTING: &str = "index.soft_deletes.retention_lease.period";
/// Its default, 12h (IndexSettings.INDEX_SOFT_DELETES_RETENTION_LEASE_PERIOD_SETTING).
pub(crate) const DEFAULT_LEASE_PERIOD_MS: u64 = 12 * 3_600_000;
/// `RetentionLeaseActions.RETAIN_ALL`: the retaining sequence number of a restore's lease.
pub(crate) const RETAIN_ALL: i64 = -1;
/// The source of the retention leases followers take (`CcrRetentionLeases`).
pub(crate) const CCR_LEASE_SOURCE: &str = "ccr";

/// An event waiting for its time.
#[derive(Clone, Debug)]
pub(crate) struct Scheduled {
    pub at_ms: u64,
    pub cluster: usize,
    pub action: Action,
    pub label: String,
}

/// All clusters of one simulator.
pub(crate) struct World {
    /// Unique per simulator in this process (see `foreign`).
    pub id: u64,
    pub clusters: Vec<Cluster>,
    pub clock: Clock,
    pub rng: Rng,
    pub last_tick_ms: u64,
    pub scenario: Vec<Scheduled>,
    pub scenario_log: Vec<Value>,
}

impl World {
    pub(crate) fn cluster_index(&self, name: &str) -> Option<usize> {
        self.clusters.iter().position(|c| c.name == name)
    }

    /// The cluster whose transport address is `addr` (`localhost` is taken as `127.0.0.1`).
    pub(crate) fn cluster_by_transport(&self, addr: &str) -> Option<usize> {
        let addr = addr.trim().replace("localhost:", "127.0.0.1:");
        self.clusters
            .iter()
            .position(|c| c.transport_addr == addr && c.up && !c.stopped)
    }
}

/// License type and status of a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct License {
    /// `trial`, `basic`, `platinum`, `enterprise`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `active`, `expired`, ...
    pub status: String,
}

impl License {
    /// A 30-day trial (the default).
    pub fn trial() -> Self {
        Self {
            kind: "trial".into(),
            status: "active".into(),
        }
    }

    /// A basic license: no CCR.
    pub fn basic() -> Self {
        Self {
            kind: "basic".into(),
            status: "active".into(),
        }
    }

    /// An expired platinum license: no CCR.
    pub fn expired() -> Self {
        Self {
            kind: "platinum".into(),
            status: "expired".into(),
        }
    }

    /// True when this license allows CCR (platinum, enterprise or trial, and active).
    pub fn allows_ccr(&self) -> bool {
        matches!(self.kind.as_str(), "platinum" | "enterprise" | "trial") && self.status == "active"
    }
}

/// Faults that shape HTTP answers: a share of requests fail in one of four ways.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpFaults {
    /// Share of requests answered with a 5xx error body (`error_status`, default 503).
    pub error_rate: f64,
    /// Share of requests whose connection is reset without an answer.
    pub reset_rate: f64,
    /// Share of requests answered 200 with a body that is not JSON.
    pub malformed_rate: f64,
    /// Share of requests answered with the JSON body cut in half.
    pub truncated_rate: f64,
    /// The status of injected errors (500-599); 0 means 503.
    pub error_status: u16,
}

/// Injected faults of one cluster.
#[derive(Clone, Debug, Default)]
pub(crate) struct Faults {
    /// Remote aliases whose connection is broken.
    pub disconnected: BTreeSet<String>,
    /// The disconnected aliases whose address is a black hole (connection attempts hang until
    /// `transport.connect_timeout`) rather than refused.
    pub black_holed: BTreeSet<String>,
    /// Follower index -> the reason the final resume of its next (or running) restore fails.
    pub fail_start: BTreeMap<String, Option<String>>,
    pub latency_ms: u64,
    pub http: HttpFaults,
    /// Follower index -> documents its counts show beyond (or, negative, short of) what it replicated.
    pub doc_drift: BTreeMap<String, i64>,
    /// Follower index -> operations per second each of its shard follow tasks reads at most.
    pub throttle: BTreeMap<String, f64>,
}

/// Request counters exposed by `GET /_sim/requests`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RequestStats {
    /// Elasticsearch requests seen (control-plane requests are not counted).
    pub total: u64,
    /// Requests that change state (create, follow, pause, writes, settings...).
    pub mutating: u64,
    /// Counts per endpoint, keyed like `"GET /_ccr/stats"` or `"PUT /{index}/_ccr/follow"`.
    pub by_endpoint: BTreeMap<String, u64>,
}

/// Steady writes into an index.
#[derive(Clone, Debug)]
pub(crate) struct Writer {
    pub docs_per_second: f64,
    pub carry: f64,
}

/// One simulated cluster (a single node).
pub(crate) struct Cluster {
    pub name: String,
    pub version: Version,
    /// The distribution imitated (Elastic's, or Alibaba Cloud's 6.7).
    pub flavor: Flavor,
    pub http_addr: SocketAddr,
    pub transport_addr: String,
    pub cluster_uuid: String,
    pub node_id: String,
    pub node_name: String,
    pub license: License,
    pub security: Option<Security>,
    pub indices: BTreeMap<String, Index>,
    /// Flat cluster settings as given (values keep their JSON form).
    pub persistent: BTreeMap<String, Value>,
    pub transient: BTreeMap<String, Value>,
    /// The simulated keystore (`cluster.remote.<alias>.credentials` of API-key remotes).
    pub keystore: Keystore,
    pub auto_follow: BTreeMap<String, AutoFollowPattern>,
    pub auto_follow_stats: AutoFollowStats,
    pub faults: Faults,
    pub requests: RequestStats,
    pub writers: BTreeMap<String, Writer>,
    pub uuid_counter: u64,
    pub doc_cap: usize,
    /// Bumped on index creation/deletion, so auto-follow only rescans on change.
    pub metadata_version: u64,
    /// False while isolated: remotes cannot reach it.
    pub up: bool,
    /// True while stopped: HTTP connections are reset and remotes cannot reach it.
    pub stopped: bool,
    /// `http.compression`: answer `Accept-Encoding: gzip`/`deflate` with a compressed body.
    pub http_compression: bool,
}

impl Cluster {
    /// An empty stand-in left in a world while its cluster is borrowed by another simulator.
    pub(crate) fn placeholder_of(c: &Cluster) -> Cluster {
        Cluster {
            name: c.name.clone(),
            version: c.version,
            flavor: c.flavor,
            http_addr: c.http_addr,
            transport_addr: String::new(),
            cluster_uuid: String::new(),
            node_id: String::new(),
            node_name: String::new(),
            license: c.license.clone(),
            security: None,
            indices: BTreeMap::new(),
            persistent: BTreeMap::new(),
            transient: BTreeMap::new(),
            keystore: Keystore::default(),
            auto_follow: BTreeMap::new(),
            auto_follow_stats: AutoFollowStats::default(),
            faults: Faults::default(),
            requests: RequestStats::default(),
            writers: BTreeMap::new(),
            uuid_counter: 0,
            doc_cap: 0,
            metadata_version: 0,
            up: false,
            stopped: true,
            http_compression: c.http_compression,
        }
    }

    /// The documents an index shows (`_count`, `_cat/indices`, `_stats`, `_search`): what its active shards
    /// replicated or were written (a shard still being restored shows none), moved by an injected drift and
    /// never below zero. Checkpoints do not see the drift, as in
    /// Elasticsearch when documents go missing on the follower side.
    pub(crate) fn visible_docs(&self, i: &Index) -> u64 {
        let drift = self.faults.doc_drift.get(&i.name).copied().unwrap_or(0);
        i.active_doc_count().saturating_add_signed(drift)
    }

    /// Removes an index with what hangs on its name (steady writes, drift), so a later index of the same
    /// name starts clean.
    pub(crate) fn remove_index(&mut self, name: &str) -> Option<Index> {
        self.writers.remove(name);
        self.faults.doc_drift.remove(name);
        self.faults.throttle.remove(name);
        self.indices.remove(name)
    }

    /// A fresh, ES-looking 22-character id.
    pub(crate) fn new_uuid(&mut self) -> String {
        self.uuid_counter += 1;
        make_uuid(&self.name, self.uuid_counter)
    }

    /// Effective remote-cluster settings for an alias (transient overrides persistent).
    pub(crate) fn remote_setting(&self, alias: &str, key: &str) -> Option<&Value> {
        let full = format!("cluster.remote.{alias}.{key}");
        self.transient
            .get(&full)
            .or_else(|| self.persistent.get(&full))
            .filter(|v| !v.is_null())
    }

    /// A cluster setting as in effect: transient over persistent over the version's default.
    pub(crate) fn cluster_setting(&self, key: &str) -> Option<String> {
        self.transient
            .get(key)
            .or_else(|| self.persistent.get(key))
            .filter(|v| !v.is_null())
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .or_else(|| settings::cluster_default(key, self.version).map(String::from))
    }

    /// `action.destructive_requires_name`: wildcard and `_all` deletes and closes are refused.
    pub(crate) fn destructive_requires_name(&self) -> bool {
        self.cluster_setting("action.destructive_requires_name")
            .is_some_and(|s| s == "true")
    }

    /// Aliases of configured remotes: those with seeds or a proxy address.
    pub(crate) fn remote_aliases(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        for key in self.persistent.keys().chain(self.transient.keys()) {
            if let Some(rest) = key.strip_prefix("cluster.remote.") {
                if let Some((alias, _)) = rest.rsplit_once('.') {
                    let alias = alias.to_string();
                    if self.remote_targets(&alias).is_some() {
                        out.insert(alias);
                    }
                }
            }
        }
        out.into_iter().collect()
    }

    pub(crate) fn remote_mode(&self, alias: &str) -> String {
        self.remote_setting(alias, "mode")
            .and_then(|v| v.as_str())
            .unwrap_or("sniff")
            .to_ascii_lowercase()
    }

    /// The addresses a remote alias points at, or None when the alias is not configured.
    pub(crate) fn remote_targets(&self, alias: &str) -> Option<Vec<String>> {
        if self.remote_mode(alias) == "proxy" {
            let addr = self
                .remote_setting(alias, "proxy_address")?
                .as_str()?
                .to_string();
            if addr.is_empty() {
                return None;
            }
            return Some(vec![addr]);
        }
        let seeds = self.remote_setting(alias, "seeds")?;
        let list: Vec<String> = match seeds {
            Value::Array(items) => items
                .iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect(),
            Value::String(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
            _ => Vec::new(),
        };
        let list: Vec<String> = list.into_iter().filter(|s| !s.is_empty()).collect();
        if list.is_empty() {
            None
        } else {
            Some(list)
        }
    }

    /// `ccr.indices.recovery.max_bytes_per_sec` in bytes (transient over persistent over the
    /// default, 40mb); 0 means unthrottled, as in Elasticsearch.
    pub(crate) fn recovery_bytes_per_sec(&self) -> u64 {
        self.cluster_setting(RECOVERY_MAX_BYTES_SETTING)
            .and_then(|s| ByteSize::parse(RECOVERY_MAX_BYTES_SETTING, &s).ok())
            .map(|b| b.bytes().max(0) as u64)
            .unwrap_or(DEFAULT_RECOVERY_BYTES_PER_SEC)
    }

    pub(crate) fn ccr_allowed(&self) -> Result<(), EsError> {
        if self.license.allows_ccr() {
            Ok(())
        } else {
            Err(EsError::license_noncompliant())
        }
    }

    pub(crate) fn default_shards(&self) -> usize {
        if self.version.major >= 7 {
            1
        } else {
            5
        }
    }
}

pub(crate) fn make_uuid(seed: &str, n: u64) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut h = crate::util::fnv1a(seed) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut out = String::with_capacity(22);
    for _ in 0..22 {
        h ^= h >> 29;
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        out.push(ALPHA[(h >> 58) as usize] as char);
    }
    out
}

/// A run of operations with the same effect on the live document count.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Run {
    /// Last sequence number of the run (inclusive).
    pub end: i64,
    /// +1 new document, 0 update or no-op delete, -1 delete.
    pub delta: i8,
    /// Live documents after the run.
    pub live_after: u64,
}

/// A shard's sequence-number history, kept as runs: counters, not per-operation records.
#[derive(Clone, Debug, Default)]
pub(crate) struct History {
    pub runs: Vec<Run>,
    pub bytes: u64,
    /// Operations older than this were trimmed (retention-lease loss).
    pub min_retained: i64,
}

impl History {
    pub(crate) fn max_seq_no(&self) -> i64 {
        self.runs.last().map(|r| r.end).unwrap_or(-1)
    }

    pub(crate) fn live(&self) -> u64 {
        self.runs.last().map(|r| r.live_after).unwrap_or(0)
    }

    pub(crate) fn ops(&self) -> u64 {
        (self.max_seq_no() + 1) as u64
    }

    pub(crate) fn avg_op_bytes(&self) -> u64 {
        if self.ops() == 0 {
            DEFAULT_OP_BYTES
        } else {
            (self.bytes / self.ops()).max(1)
        }
    }

    /// Appends `len` operations with one delta; returns the first new sequence number.
    pub(crate) fn append(&mut self, len: u64, delta: i8, bytes: u64) -> i64 {
        let first = self.max_seq_no() + 1;
        if len == 0 {
            return first;
        }
        let live_before = self.live() as i64;
        let live_after = (live_before + delta as i64 * len as i64).max(0) as u64;
        let end = first + len as i64 - 1;
        self.bytes += bytes;
        match self.runs.last_mut() {
            Some(last) if last.delta == delta => {
                last.end = end;
                last.live_after = live_after;
            }
            _ => self.runs.push(Run {
                end,
                delta,
                live_after,
            }),
        }
        first
    }

    /// The operations in `(from, to]` as (length, delta) pieces, for copying to a follower.
    pub(crate) fn pieces(&self, from: i64, to: i64) -> Vec<(u64, i8)> {
        let mut out = Vec::new();
        if to <= from {
            return out;
        }
        let start = self.runs.partition_point(|r| r.end <= from);
        let mut prev_end = if start == 0 {
            -1
        } else {
            self.runs[start - 1].end
        };
        for r in &self.runs[start..] {
            let lo = (prev_end + 1).max(from + 1);
            let hi = r.end.min(to);
            if hi >= lo {
                out.push(((hi - lo + 1) as u64, r.delta));
            }
            if r.end >= to {
                break;
            }
            prev_end = r.end;
        }
        out
    }
}

/// One stored document.
#[derive(Clone, Debug)]
pub(crate) struct StoredDoc {
    pub source: Arc<Value>,
    pub seq_no: i64,
    pub version: u64,
    pub shard: usize,
}

/// Stored documents of an index, capped; enough for `_search` and `GET _doc`.
#[derive(Clone, Debug, Default)]
pub(crate) struct DocStore {
    pub docs: HashMap<String, StoredDoc>,
    /// Per shard: seq_no -> (id, deleted). Lets followers copy the operations of a range.
    pub by_seq: Vec<BTreeMap<i64, (String, bool)>>,
}

impl DocStore {
    pub(crate) fn new(shards: usize) -> Self {
        Self {
            docs: HashMap::new(),
            by_seq: vec![BTreeMap::new(); shards],
        }
    }

    pub(crate) fn put(
        &mut self,
        id: &str,
        source: Arc<Value>,
        seq_no: i64,
        shard: usize,
        version: u64,
        cap: usize,
    ) {
        if let Some(old) = self.docs.get(id) {
            if let Some(m) = self.by_seq.get_mut(old.shard) {
                m.remove(&old.seq_no);
            }
        } else if self.docs.len() >= cap {
            return;
        }
        self.docs.insert(
            id.to_string(),
            StoredDoc {
                source,
                seq_no,
                version,
                shard,
            },
        );
        if let Some(m) = self.by_seq.get_mut(shard) {
            m.insert(seq_no, (id.to_string(), false));
        }
    }

    pub(crate) fn delete(&mut self, id: &str, seq_no: i64, shard: usize) {
        if let Some(old) = self.docs.remove(id) {
            if let Some(m) = self.by_seq.get_mut(old.shard) {
                m.remove(&old.seq_no);
            }
            if let Some(m) = self.by_seq.get_mut(shard) {
                m.insert(seq_no, (id.to_string(), true));
            }
        }
    }
}

/// The ten follow parameters, as explicitly given (None = server default).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FollowParams {
    pub max_read_request_operation_count: Option<i64>,
    pub max_outstanding_read_requests: Option<i64>,
    pub max_read_request_size: Option<ByteSize>,
    pub max_write_request_operation_count: Option<i64>,
    pub max_write_request_size: Option<ByteSize>,
    pub max_outstanding_write_requests: Option<i64>,
    pub max_write_buffer_count: Option<i64>,
    pub max_write_buffer_size: Option<ByteSize>,
    pub max_retry_delay: Option<TimeValue>,
    pub read_poll_timeout: Option<TimeValue>,
}

impl FollowParams {
    pub(crate) fn read_ops(&self) -> i64 {
        self.max_read_request_operation_count.unwrap_or(5120)
    }
    pub(crate) fn outstanding_reads(&self) -> i64 {
        self.max_outstanding_read_requests.unwrap_or(12)
    }
    pub(crate) fn read_size(&self) -> ByteSize {
        self.max_read_request_size
            .unwrap_or(ByteSize::new(32, "mb"))
    }
    pub(crate) fn write_ops(&self) -> i64 {
        self.max_write_request_operation_count.unwrap_or(5120)
    }
    pub(crate) fn write_size(&self) -> ByteSize {
        self.max_write_request_size
            .unwrap_or(ByteSize::new(i64::MAX, "b"))
    }
    pub(crate) fn outstanding_writes(&self) -> i64 {
        self.max_outstanding_write_requests.unwrap_or(9)
    }
    pub(crate) fn buffer_count(&self) -> i64 {
        self.max_write_buffer_count.unwrap_or(i32::MAX as i64)
    }
    pub(crate) fn buffer_size(&self) -> ByteSize {
        self.max_write_buffer_size
            .unwrap_or(ByteSize::new(512, "mb"))
    }
    pub(crate) fn retry_delay(&self) -> TimeValue {
        self.max_retry_delay.unwrap_or(TimeValue::new(500, "ms"))
    }
    pub(crate) fn poll_timeout(&self) -> TimeValue {
        self.read_poll_timeout.unwrap_or(TimeValue::new(1, "m"))
    }

    /// Effective values in follow-info server order.
    pub(crate) fn effective_json(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "max_read_request_operation_count".into(),
            self.read_ops().into(),
        );
        m.insert(
            "max_write_request_operation_count".into(),
            self.write_ops().into(),
        );
        m.insert(
            "max_outstanding_read_requests".into(),
            self.outstanding_reads().into(),
        );
        m.insert(
            "max_outstanding_write_requests".into(),
            self.outstanding_writes().into(),
        );
        m.insert(
            "max_read_request_size".into(),
            self.read_size().render().into(),
        );
        m.insert(
            "max_write_request_size".into(),
            self.write_size().render().into(),
        );
        m.insert("max_write_buffer_count".into(), self.buffer_count().into());
        m.insert(
            "max_write_buffer_size".into(),
            self.buffer_size().render().into(),
        );
        m.insert("max_retry_delay".into(), self.retry_delay().render().into());
        m.insert(
            "read_poll_timeout".into(),
            self.poll_timeout().render().into(),
        );
        Value::Object(m)
    }

    /// Only the explicitly set parameters (auto-follow patterns show these).
    pub(crate) fn explicit_json(&self, m: &mut Map<String, Value>) {
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.into(), v);
            }
        };
        put(
            "max_read_request_operation_count",
            self.max_read_request_operation_count.map(Into::into),
        );
        put(
            "max_write_request_operation_count",
            self.max_write_request_operation_count.map(Into::into),
        );
        put(
            "max_outstanding_read_requests",
            self.max_outstanding_read_requests.map(Into::into),
        );
        put(
            "max_outstanding_write_requests",
            self.max_outstanding_write_requests.map(Into::into),
        );
        put(
            "max_read_request_size",
            self.max_read_request_size.map(|b| b.render().into()),
        );
        put(
            "max_write_request_size",
            self.max_write_request_size.map(|b| b.render().into()),
        );
        put(
            "max_write_buffer_count",
            self.max_write_buffer_count.map(Into::into),
        );
        put(
            "max_write_buffer_size",
            self.max_write_buffer_size.map(|b| b.render().into()),
        );
        put(
            "max_retry_delay",
            self.max_retry_delay.map(|t| t.render().into()),
        );
        put(
            "read_poll_timeout",
            self.read_poll_timeout.map(|t| t.render().into()),
        );
    }

    /// FollowParameters.validate messages, in ES order.
    pub(crate) fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        let pos = |errs: &mut Vec<String>, name: &str, v: Option<i64>| {
            if matches!(v, Some(n) if n < 1) {
                errs.push(format!("{name} must be larger than 0"));
            }
        };
        pos(
            &mut errs,
            "max_read_request_operation_count",
            self.max_read_request_operation_count,
        );
        pos(
            &mut errs,
            "max_read_request_size",
            self.max_read_request_size.map(|b| b.bytes()),
        );
        pos(
            &mut errs,
            "max_outstanding_read_requests",
            self.max_outstanding_read_requests,
        );
        pos(
            &mut errs,
            "max_write_request_operation_count",
            self.max_write_request_operation_count,
        );
        pos(
            &mut errs,
            "max_write_request_size",
            self.max_write_request_size.map(|b| b.bytes()),
        );
        pos(
            &mut errs,
            "max_outstanding_write_requests",
            self.max_outstanding_write_requests,
        );
        pos(
            &mut errs,
            "max_write_buffer_count",
            self.max_write_buffer_count,
        );
        pos(
            &mut errs,
            "max_write_buffer_size",
            self.max_write_buffer_size.map(|b| b.bytes()),
        );
        if let Some(d) = self.max_retry_delay {
            if d.millis() <= 0 {
                errs.push(format!(
                    "[max_retry_delay] must be positive but was [{}]",
                    d.render()
                ));
            } else if d.millis() > 300_000 {
                errs.push(format!(
                    "[max_retry_delay] must be less than [5m] but was [{}]",
                    d.render()
                ));
            }
        }
        errs
    }

    /// Reads a follow parameter from a body key; returns false when the key is not one.
    pub(crate) fn set(&mut self, key: &str, v: &Value, parser: &str) -> Result<bool, EsError> {
        let as_int = |v: &Value| -> Result<i64, EsError> {
            match v {
                Value::Number(n) => n.as_i64().ok_or_else(|| field_error(parser, key, v)),
                Value::String(s) => s.trim().parse().map_err(|_| field_error(parser, key, v)),
                _ => Err(field_error(parser, key, v)),
            }
        };
        let as_text = |v: &Value| -> Result<String, EsError> {
            match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(field_error(parser, key, v)),
            }
        };
        let wrap = |e: EsError| {
            EsError::x_content(format!("[1:2] [{parser}] failed to parse field [{key}]"))
                .caused_by(e)
        };
        match key {
            "max_read_request_operation_count" => {
                self.max_read_request_operation_count = Some(as_int(v)?)
            }
            "max_outstanding_read_requests" => {
                self.max_outstanding_read_requests = Some(as_int(v)?)
            }
            "max_write_request_operation_count" => {
                self.max_write_request_operation_count = Some(as_int(v)?)
            }
            "max_outstanding_write_requests" => {
                self.max_outstanding_write_requests = Some(as_int(v)?)
            }
            "max_write_buffer_count" => self.max_write_buffer_count = Some(as_int(v)?),
            "max_read_request_size" => {
                self.max_read_request_size = Some(ByteSize::parse(key, &as_text(v)?).map_err(wrap)?)
            }
            "max_write_request_size" => {
                self.max_write_request_size =
                    Some(ByteSize::parse(key, &as_text(v)?).map_err(wrap)?)
            }
            "max_write_buffer_size" => {
                self.max_write_buffer_size = Some(ByteSize::parse(key, &as_text(v)?).map_err(wrap)?)
            }
            "max_retry_delay" => {
                self.max_retry_delay = Some(TimeValue::parse(key, &as_text(v)?).map_err(wrap)?)
            }
            "read_poll_timeout" => {
                self.read_poll_timeout = Some(TimeValue::parse(key, &as_text(v)?).map_err(wrap)?)
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

pub(crate) fn field_error(parser: &str, key: &str, v: &Value) -> EsError {
    EsError::x_content(format!(
        "[1:2] [{parser}] {key} doesn't support values of type: {}",
        crate::util::token_name(v)
    ))
}

/// The `ccr` custom metadata of a follower index.
#[derive(Clone, Debug)]
pub(crate) struct FollowMeta {
    pub remote_cluster: String,
    pub leader_index: String,
    pub leader_uuid: String,
}

/// The shard follow tasks of an active follower.
#[derive(Clone, Debug)]
pub(crate) struct FollowTasks {
    pub params: FollowParams,
    pub shards: Vec<ShardTask>,
    /// When the tasks last renewed their retention leases on the leader (clock ms).
    pub lease_renewed_ms: u64,
}

/// A read failure being retried.
#[derive(Clone, Debug)]
pub(crate) struct ReadFailure {
    pub from_seq_no: i64,
    pub retries: u32,
    pub exception: EsError,
}

/// The state of one shard follow task: counters only.
#[derive(Clone, Debug, Default)]
pub(crate) struct ShardTask {
    pub leader_gcp: i64,
    pub leader_max: i64,
    pub last_requested: i64,
    pub outstanding_reads: u32,
    pub outstanding_writes: u32,
    pub total_read_time_ms: u64,
    pub total_read_remote_exec_ms: u64,
    pub successful_reads: u64,
    pub failed_reads: u64,
    pub ops_read: u64,
    pub bytes_read: u64,
    pub total_write_time_ms: u64,
    pub successful_writes: u64,
    pub failed_writes: u64,
    pub ops_written: u64,
    /// Failed reads being retried, keyed by `from_seq_no` (ShardFollowNodeTask.fetchExceptions).
    pub read_failures: BTreeMap<i64, ReadFailure>,
    /// When the last read request was sent (clock ms); None before the first one.
    pub last_read_ms: Option<u64>,
    pub fatal: Option<EsError>,
    /// Injected transient read failures still to happen.
    pub injected_failures: u32,
    /// Simulated time available for read round trips, carried between ticks.
    pub budget_ms: u64,
    pub next_retry_ms: u64,
    /// When the current read started re-dialling a black-holed remote.
    pub connecting_since: Option<u64>,
    /// Operations a throttled task may still read, carried between ticks.
    pub throttle_carry: f64,
}

impl ShardTask {
    pub(crate) fn new(follower_gcp: i64, now: u64) -> Self {
        Self {
            leader_gcp: follower_gcp,
            leader_max: follower_gcp,
            last_requested: follower_gcp,
            last_read_ms: Some(now),
            outstanding_reads: 1,
            ..Default::default()
        }
    }
}

/// One shard's part of a remote recovery (what `_recovery` reports as `RecoveryState`).
#[derive(Clone, Debug)]
pub(crate) struct ShardRecovery {
    pub total_bytes: u64,
    pub recovered_bytes: u64,
    pub files: u64,
    /// When copying started (clock ms, epoch ms); None while waiting for a recovery slot.
    pub start: Option<(u64, u64)>,
    /// When the shard finished (clock ms, epoch ms).
    pub stop: Option<(u64, u64)>,
    /// Simulated time the rate limiter held this shard back.
    pub throttle_ms: u64,
}

/// The remote recovery (a snapshot restore from `_ccr_<alias>`, snapshot `_latest_`) that put
/// follow starts, and the resume that follows it.
#[derive(Clone, Debug)]
pub(crate) struct Restore {
    pub restore_uuid: String,
    pub repository: String,
    pub leader_index: String,
    /// The parameters the final resume starts the shard tasks with.
    pub params: FollowParams,
    pub started: (u64, u64),
    pub shards: Vec<ShardRecovery>,
    /// When every shard finished (clock ms).
    pub finished_ms: Option<u64>,
    /// The final resume's result once it ran (what a waiting put follow answers).
    pub outcome: Option<Result<(), EsError>>,
    /// When the restore last renewed its retention leases on the leader (clock ms).
    pub lease_renewed_ms: u64,
}

/// A simulated index.
#[derive(Clone, Debug)]
pub(crate) struct Index {
    pub name: String,
    pub uuid: String,
    pub open: bool,
    /// Flat index settings as strings (`index.number_of_shards`, ...).
    pub settings: BTreeMap<String, String>,
    pub soft_deletes: bool,
    pub shards: Vec<History>,
    pub docs: DocStore,
    pub follow: Option<FollowMeta>,
    pub tasks: Option<FollowTasks>,
    /// The remote recovery that created this follower: running, or kept (stage DONE) for `_recovery`.
    pub restore: Option<Restore>,
    /// Retention leases held on each shard of this (leader) index.
    pub leases: Vec<ShardLeases>,
    pub settings_version: u64,
    pub mapping_version: u64,
    pub aliases_version: u64,
    pub auto_id: u64,
}

impl Index {
    pub(crate) fn doc_count(&self) -> u64 {
        self.shards.iter().map(History::live).sum()
    }

    /// Documents of the shards that are active: a shard still being restored shows none, as
    /// a red primary answers no count or search.
    pub(crate) fn active_doc_count(&self) -> u64 {
        match &self.restore {
            Some(r) if r.finished_ms.is_none() => self
                .shards
                .iter()
                .zip(&r.shards)
                .filter(|(_, rec)| rec.stop.is_some())
                .map(|(h, _)| h.live())
                .sum(),
            _ => self.doc_count(),
        }
    }

    pub(crate) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    pub(crate) fn replicas(&self) -> u64 {
        self.settings
            .get("index.number_of_replicas")
            .and_then(|s| s.parse().ok())
            .unwrap_or(1)
    }

    /// True while the remote recovery that creates this follower runs.
    pub(crate) fn restoring(&self) -> bool {
        self.restore
            .as_ref()
            .is_some_and(|r| r.finished_ms.is_none())
    }

    /// Primary shards that are active (all of them, unless a restore is still copying some).
    pub(crate) fn active_primaries(&self) -> u64 {
        match &self.restore {
            Some(r) if r.finished_ms.is_none() => {
                r.shards.iter().filter(|s| s.stop.is_some()).count() as u64
            }
            _ => self.shard_count() as u64,
        }
    }

    /// Index health on a one-node cluster: red while a primary is not active, yellow while
    /// replicas (never assigned on one node) are configured, else green.
    pub(crate) fn health(&self) -> &'static str {
        if self.active_primaries() < self.shard_count() as u64 {
            "red"
        } else if self.replicas() > 0 {
            "yellow"
        } else {
            "green"
        }
    }

    pub(crate) fn is_following_setting(&self) -> bool {
        self.settings
            .get("index.xpack.ccr.following_index")
            .map(String::as_str)
            == Some("true")
    }

    /// Distinct retention lease ids held on this index's shards.
    pub(crate) fn lease_ids(&self) -> BTreeSet<&str> {
        self.leases
            .iter()
            .flat_map(|s| s.leases.keys().map(String::as_str))
            .collect()
    }

    /// Adds retention lease `id` to every shard, or renews it: `retaining(shard)` is the retaining
    /// sequence number (never moved backwards: ReplicationTracker refuses a lower one), the
    /// timestamp becomes `now_epoch`.
    pub(crate) fn put_lease(&mut self, id: &str, retaining: impl Fn(usize) -> i64, now_epoch: u64) {
        for s in 0..self.shard_count() {
            self.put_shard_lease(id, s, retaining(s), now_epoch);
        }
    }

    /// [`Index::put_lease`] on one shard.
    pub(crate) fn put_shard_lease(&mut self, id: &str, shard: usize, seq: i64, now_epoch: u64) {
        let shards = self.shard_count();
        self.leases.resize_with(shards, Default::default);
        let Some(sl) = self.leases.get_mut(shard) else {
            return;
        };
        let lease = sl
            .leases
            .entry(id.to_string())
            .or_insert_with(|| RetentionLease {
                retaining_seq_no: seq,
                timestamp: now_epoch,
                source: CCR_LEASE_SOURCE.to_string(),
            });
        lease.retaining_seq_no = lease.retaining_seq_no.max(seq);
        lease.timestamp = now_epoch;
        sl.version += 1;
    }

    /// Removes a retention lease from every shard; false when no shard held it.
    pub(crate) fn remove_lease(&mut self, id: &str) -> bool {
        let mut found = false;
        for s in &mut self.leases {
            if s.leases.remove(id).is_some() {
                s.version += 1;
                found = true;
            }
        }
        found
    }

    /// `index.soft_deletes.retention_lease.period` in milliseconds (default 12h).
    pub(crate) fn lease_period_ms(&self) -> u64 {
        self.settings
            .get(LEASE_PERIOD_SETTING)
            .and_then(|v| TimeValue::parse(LEASE_PERIOD_SETTING, v).ok())
            .map(|t| t.millis().max(0) as u64)
            .unwrap_or(DEFAULT_LEASE_PERIOD_MS)
    }

    pub(crate) fn store_bytes(&self) -> u64 {
        self.shards
            .iter()
            .map(|h| h.live() * h.avg_op_bytes())
            .sum::<u64>()
            + 225 * self.shards.len() as u64
    }
}

/// One retention lease on one shard (ReplicationTracker's `RetentionLease`).
#[derive(Clone, Debug)]
pub(crate) struct RetentionLease {
    /// Operations from this sequence number on are kept (-1: all, `RETAIN_ALL`).
    pub retaining_seq_no: i64,
    /// When it was added or last renewed (epoch ms).
    pub timestamp: u64,
    /// Who holds it (`ccr` for followers).
    pub source: String,
}

/// The retention leases of one shard (ReplicationTracker's `RetentionLeases`), by id.
#[derive(Clone, Debug, Default)]
pub(crate) struct ShardLeases {
    /// Bumped by every add, renewal, removal and expiry.
    pub version: u64,
    pub leases: BTreeMap<String, RetentionLease>,
}

/// An auto-follow pattern.
#[derive(Clone, Debug)]
pub(crate) struct AutoFollowPattern {
    pub remote_cluster: String,
    pub leader_index_patterns: Vec<String>,
    pub exclusion_patterns: Vec<String>,
    pub follow_index_pattern: Option<String>,
    pub settings: Option<Map<String, Value>>,
    pub params: FollowParams,
    pub active: bool,
    /// Leader index UUIDs already followed (or present when the pattern was created).
    pub followed: BTreeSet<String>,
    /// Leader index name -> time after which a failed follow is retried.
    pub retry_at: HashMap<String, u64>,
    /// Leader metadata version seen at the last successful check.
    pub seen_version: u64,
    pub last_check_ms: u64,
}

/// Counters of `auto_follow_stats`.
#[derive(Clone, Debug, Default)]
pub(crate) struct AutoFollowStats {
    pub failed_follow: u64,
    pub failed_remote: u64,
    pub successful_follow: u64,
    /// (key, epoch ms, exception), newest last, capped.
    pub recent_errors: Vec<(String, u64, EsError)>,
    /// alias -> (last check ms, metadata version)
    pub clusters: BTreeMap<String, (u64, u64)>,
}

impl AutoFollowStats {
    pub(crate) fn record_error(&mut self, key: String, at_epoch_ms: u64, e: EsError) {
        self.recent_errors.retain(|(k, _, _)| *k != key);
        self.recent_errors.push((key, at_epoch_ms, e));
        if self.recent_errors.len() > 64 {
            self.recent_errors.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_runs_and_pieces() {
        let mut h = History::default();
        assert_eq!(h.max_seq_no(), -1);
        h.append(3, 1, 300);
        h.append(2, 1, 200);
        h.append(1, -1, 10);
        h.append(2, 0, 20);
        assert_eq!(h.runs.len(), 3);
        assert_eq!(h.max_seq_no(), 7);
        assert_eq!(h.live(), 4);
        assert_eq!(h.pieces(-1, 7), vec![(5, 1), (1, -1), (2, 0)]);
        assert_eq!(h.pieces(3, 5), vec![(1, 1), (1, -1)]);
        assert_eq!(h.pieces(5, 5), vec![]);
        let mut f = History::default();
        for (len, d) in h.pieces(-1, 5) {
            f.append(len, d, 0);
        }
        assert_eq!(f.live(), 4);
        assert_eq!(f.max_seq_no(), 5);
    }

    #[test]
    fn params_defaults_and_validation() {
        let p = FollowParams::default();
        assert_eq!(
            p.effective_json()["max_write_request_size"],
            "9223372036854775807b"
        );
        let mut bad = FollowParams::default();
        bad.set("max_read_request_operation_count", &Value::from(0), "p")
            .unwrap();
        bad.set("max_retry_delay", &Value::from("10m"), "p")
            .unwrap();
        assert_eq!(
            bad.validate(),
            vec![
                "max_read_request_operation_count must be larger than 0".to_string(),
                "[max_retry_delay] must be less than [5m] but was [10m]".to_string()
            ]
        );
    }
}
