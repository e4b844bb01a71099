//! Control actions: the faults and inspections a test, a `/_sim/` request or a scenario event
//! can apply to one simulated cluster. Plain data, so every layer can name them.

use serde::{Deserialize, Serialize};

/// One control action on a simulated cluster. Scenario files use the same names
/// (`action = "disconnect_remote"`, with the fields below).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Break this (follower) cluster's connection to a remote alias.
    DisconnectRemote {
        /// The remote alias.
        alias: String,
        /// How connection attempts fail (default: refused).
        #[serde(default)]
        mode: DisconnectMode,
    },
    /// Restore the connection to a remote alias.
    ConnectRemote {
        /// The remote alias.
        alias: String,
    },
    /// A fatal exception on a follower shard task: it stops until pause + resume.
    Fatal {
        /// The follower index.
        index: String,
        /// The shard (default 0).
        #[serde(default)]
        shard: Option<usize>,
        /// The exception reason (default: a simulated failure message).
        #[serde(default)]
        reason: Option<String>,
    },
    /// The final resume of a follower's restore fails (now, or at its next restore): the
    /// follower stays paused with no shard tasks, paused by nobody.
    FailStart {
        /// The follower index.
        index: String,
        /// The exception reason (default: the master timing out on the persistent task).
        #[serde(default)]
        reason: Option<String>,
    },
    /// Transient read failures on a follower's shard tasks (retried by the task).
    ReadExceptions {
        /// The follower index.
        index: String,
        /// How many consecutive reads fail.
        count: u32,
        /// One shard, or every shard when absent.
        #[serde(default)]
        shard: Option<usize>,
    },
    /// The follower index's document count drifts from what it replicated, without moving any
    /// checkpoint: `_count`, `_cat/indices`, `_stats` and `_search` show `docs` more (negative:
    /// fewer) documents. Models what CCR's checkpoints cannot reveal: documents lost on the
    /// follower side, or a follower restored from an old snapshot. 0 clears it.
    Drift {
        /// The follower index.
        index: String,
        /// Documents shown beyond (negative: short of) the replicated count.
        docs: i64,
    },
    /// The leader index loses its history and retention leases: followers behind it get a fatal
    /// "Operations are no longer available for replicating" when they next need operations.
    RetentionLeaseLoss {
        /// The leader index.
        index: String,
    },
    /// Delete an index (typically a leader: its followers fail with index_not_found).
    DeleteIndex {
        /// The index.
        index: String,
    },
    /// Change the license (`type`: trial, basic, platinum, enterprise; `status`: active, expired).
    License {
        /// License type.
        #[serde(rename = "type")]
        kind: String,
        /// License status (default active).
        #[serde(default = "active")]
        status: String,
    },
    /// Delay every Elasticsearch response.
    Latency {
        /// Milliseconds.
        ms: u64,
    },
    /// Make a share of requests fail.
    HttpFaults {
        /// Share answered with a 5xx.
        #[serde(default)]
        error_rate: f64,
        /// Share whose connection is reset.
        #[serde(default)]
        reset_rate: f64,
        /// Share answered with a non-JSON body.
        #[serde(default)]
        malformed_rate: f64,
        /// Share answered with a truncated body.
        #[serde(default)]
        truncated_rate: f64,
        /// Status of injected errors (default 503).
        #[serde(default)]
        error_status: u16,
    },
    /// Steady writes into an index (0 stops them).
    Writes {
        /// The index.
        index: String,
        /// Documents per second.
        docs_per_second: f64,
    },
    /// Write a number of generated documents at once.
    IndexDocs {
        /// The index (auto-created).
        index: String,
        /// How many documents.
        count: u64,
        /// The size of each document in bytes. When given, the documents count in the shards'
        /// histories, document counts and store size (what a restore copies) but their sources are
        /// not kept (`_search` does not show them), so a leader of gigabytes costs nothing.
        #[serde(default)]
        bytes_per_doc: Option<u64>,
    },
    /// Bound how fast a follower's shard follow tasks read: each reads at most `ops_per_second`
    /// operations a second (0 removes the bound). Its reads keep their round trips, batches and
    /// counters; they just deliver fewer operations, as a slow link or a busy leader would.
    Throttle {
        /// The follower index.
        index: String,
        /// Operations per second per shard follow task.
        ops_per_second: f64,
    },
    /// Create an index.
    CreateIndex {
        /// The index.
        index: String,
        /// Primary shards (default: the version's default).
        #[serde(default)]
        shards: Option<usize>,
    },
    /// Take the cluster off the network as a remote: followers of it see it as unreachable.
    /// (Its own HTTP API keeps answering.)
    Isolate {},
    /// Undo `Isolate`.
    Rejoin {},
    /// The whole cluster goes down: every Elasticsearch request has its connection reset and
    /// followers of it see it as unreachable (the `/_sim/` control plane keeps answering).
    Stop {},
    /// Undo `Stop`.
    Start {},
    /// Clear every fault (disconnects, latency, HTTP faults, steady writes, drift, throttles, isolation, stop).
    ClearFaults {},
    /// `bin/elasticsearch-keystore add cluster.remote.<alias>.credentials` (or `remove` when
    /// `credentials` is absent): written to the keystore, used by the node only after
    /// `POST /_nodes/reload_secure_settings` (8.13+) or a restart (`Stop` then `Start`).
    Keystore {
        /// The remote alias.
        alias: String,
        /// The encoded cross-cluster API key (`encoded` of its creation response).
        #[serde(default)]
        credentials: Option<Secret>,
    },
}

/// A secret value: never shown by `Debug` or serialised back (scenario logs, `/_sim/state`).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("::es_redacted::")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("::es_redacted::")
    }
}

/// How a disconnected remote fails connection attempts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisconnectMode {
    /// Nothing listens: each attempt fails at once with `connect_exception` ("Connection refused").
    #[default]
    Refused,
    /// Packets are dropped: each attempt hangs for `transport.connect_timeout` (30 s of simulated
    /// time), then fails with `connect_timeout[30s]`.
    BlackHole,
}

fn active() -> String {
    "active".into()
}
