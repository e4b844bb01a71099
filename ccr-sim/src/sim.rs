//! The public entry point: start simulated clusters, reach them, inject faults.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::action::{Action, DisconnectMode};
use crate::api::control;
use crate::api::reply::Req;
use crate::clock::Clock;
use crate::error::{EsError, SimError};
use crate::server::{self, Shared};
use crate::util::Rng;
use crate::version::{Version, DEFAULT_VERSION};
use crate::world::model::{Cluster, HttpFaults, License, RequestStats, Security, World};
use crate::world::scenario::Scenario;
use crate::world::settings::Flavor;

/// Gives each simulator of the process its own world id.
static NEXT_WORLD_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Stored documents per index (for `_search`); counts stay exact beyond it.
pub const DEFAULT_DOC_CAP: usize = 10_000;

/// How one simulated cluster is set up.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    name: String,
    addr: SocketAddr,
    version: Option<String>,
    license: License,
    security: Option<Security>,
    doc_cap: usize,
    remote_credentials: Vec<(String, crate::action::Secret)>,
    flavor: Flavor,
    http_compression: Option<bool>,
}

impl ClusterConfig {
    /// A cluster named `name` (its `cluster_name`) on `127.0.0.1:0`, the default version
    /// (8.15.0) and a trial license.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            version: None,
            license: License::trial(),
            security: None,
            doc_cap: DEFAULT_DOC_CAP,
            remote_credentials: Vec::new(),
            flavor: Flavor::Default,
            http_compression: None,
        }
    }

    /// Listen on this HTTP address (port 0 picks a free port). The transport address for
    /// `seeds` is the same host with the HTTP port + 100.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The Elasticsearch version to imitate, e.g. `"7.17.0"` (6.7 to 9.x). Checked by `start`.
    pub fn version(mut self, version: &str) -> Self {
        self.version = Some(version.to_string());
        self
    }

    /// The distribution to imitate (default Elastic's). [`Flavor::Aliyun`] exists for 6.7
    /// only: `start` refuses it with any other version.
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// The license (default trial).
    pub fn license(mut self, license: License) -> Self {
        self.license = license;
        self
    }

    /// Turn security on with these users and API keys.
    pub fn security(mut self, security: Security) -> Self {
        self.security = Some(security);
        self
    }

    /// Stored documents per index (default 10,000).
    pub fn doc_cap(mut self, cap: usize) -> Self {
        self.doc_cap = cap;
        self
    }

    /// Sets `http.compression` (ES's default: on, except that with HTTPS, which the simulator
    /// does not serve, an unset `http.compression` means off, per `SecurityHttpSettings`).
    pub fn http_compression(mut self, on: bool) -> Self {
        self.http_compression = Some(on);
        self
    }

    /// Pretend `cluster.remote.<alias>.credentials` is in this cluster's keystore at start, with
    /// no usable key (API-key remotes, 8.10+): `_remote/info` then shows `cluster_credentials`.
    pub fn remote_credentials(self, alias: &str) -> Self {
        self.remote_credentials_key(alias, "")
    }

    /// `cluster.remote.<alias>.credentials` in this cluster's keystore at start: the encoded
    /// cross-cluster API key (`encoded` of `POST /_security/cross_cluster/api_key`) it presents
    /// to the remote cluster server port of the cluster the alias points at.
    pub fn remote_credentials_key(mut self, alias: &str, encoded: &str) -> Self {
        self.remote_credentials.retain(|(a, _)| a != alias);
        self.remote_credentials
            .push((alias.to_string(), crate::action::Secret::new(encoded)));
        self
    }
}

/// Builds a [`Sim`].
#[derive(Debug, Default)]
pub struct SimBuilder {
    clusters: Vec<ClusterConfig>,
    deterministic: bool,
    seed: u64,
}

impl SimBuilder {
    /// Adds a cluster.
    pub fn cluster(mut self, c: ClusterConfig) -> Self {
        self.clusters.push(c);
        self
    }

    /// Time moves only by [`Sim::advance`] (or `POST /_sim/clock/advance`).
    pub fn deterministic_clock(mut self) -> Self {
        self.deterministic = true;
        self
    }

    /// Seed of the fault-injection dice (default fixed, so runs repeat).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Binds every cluster and starts serving. Must run inside a tokio runtime.
    pub async fn start(self) -> Result<Sim, SimError> {
        let clock = Clock::new(self.deterministic);
        let mut clusters = Vec::new();
        let mut listeners = Vec::new();
        for cfg in &self.clusters {
            if clusters.iter().any(|c: &Cluster| c.name == cfg.name) {
                return Err(SimError::DuplicateCluster(cfg.name.clone()));
            }
            let version: Version = match &cfg.version {
                Some(v) => v
                    .parse()
                    .map_err(|e: crate::version::VersionError| SimError::Invalid(e.to_string()))?,
                None => DEFAULT_VERSION,
            };
            cfg.flavor
                .check_version(version)
                .map_err(|e| SimError::Invalid(format!("cluster [{}]: {e}", cfg.name)))?;
            let (listener, local) =
                server::bind(cfg.addr)
                    .await
                    .map_err(|source| SimError::Bind {
                        addr: cfg.addr.to_string(),
                        source,
                    })?;
            let transport_addr = format!("{}:{}", local.ip(), u32::from(local.port()) + 100);
            let mut c = Cluster {
                name: cfg.name.clone(),
                version,
                flavor: cfg.flavor,
                http_addr: local,
                transport_addr,
                cluster_uuid: String::new(),
                node_id: String::new(),
                node_name: format!("{}-node-0", cfg.name),
                license: cfg.license.clone(),
                security: cfg.security.clone(),
                indices: Default::default(),
                persistent: Default::default(),
                transient: Default::default(),
                keystore: Default::default(),
                auto_follow: Default::default(),
                auto_follow_stats: Default::default(),
                index_templates: Default::default(),
                data_streams: Default::default(),
                faults: Default::default(),
                requests: Default::default(),
                writers: Default::default(),
                uuid_counter: u64::from(local.port()) << 32,
                doc_cap: cfg.doc_cap,
                metadata_version: 1,
                up: true,
                stopped: false,
                // No TLS in the simulator, so an unset `http.compression` is ES's plain-HTTP default.
                http_compression: cfg.http_compression.unwrap_or(true),
            };
            c.cluster_uuid = c.new_uuid();
            c.node_id = c.new_uuid();
            c.keystore.written = cfg
                .remote_credentials
                .iter()
                .map(|(a, v)| (a.clone(), v.expose().to_string()))
                .collect();
            c.keystore.load();
            clusters.push(c);
            listeners.push(listener);
        }
        let seed = if self.seed == 0 {
            0x5EED_CC25
        } else {
            self.seed
        };
        let world = World {
            id: NEXT_WORLD_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            clusters,
            last_tick_ms: clock.now_ms(),
            clock: clock.clone(),
            rng: Rng::new(seed),
            scenario: Vec::new(),
            scenario_log: Vec::new(),
        };
        let shared = Arc::new(Shared::new(world));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        for (ci, listener) in listeners.into_iter().enumerate() {
            let mut rx = stop_rx.clone();
            let shutdown = async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            tasks.push(tokio::spawn(server::serve(
                listener,
                shared.clone(),
                ci,
                shutdown,
            )));
        }
        if !self.deterministic {
            let shared = shared.clone();
            let mut rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let mut interval = tokio::time::interval(Duration::from_millis(
                    crate::world::replication::TICK_MS,
                ));
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = interval.tick() => {}
                        _ = rx.wait_for(|s| *s) => break,
                    }
                    let started = std::time::Instant::now();
                    control::step(&mut shared.lock());
                    // A step over thousands of shard tasks can take longer than the tick period;
                    // back-to-back steps would then hold the world (and a core) all the time and
                    // starve the requests. Idle as long as the step took instead: the next step
                    // scales its work by the time that passed, so nothing is lost, only seen a
                    // little later.
                    let took = started.elapsed();
                    if took > Duration::from_millis(crate::world::replication::TICK_MS) {
                        tokio::select! {
                            _ = tokio::time::sleep(took) => {}
                            _ = rx.wait_for(|s| *s) => break,
                        }
                        interval.reset();
                    }
                }
            }));
        }
        let names = self.clusters.iter().map(|c| c.name.clone()).collect();
        crate::world::foreign::register(shared.world());
        let world_id = shared.lock().id;
        Ok(Sim {
            shared,
            names,
            tasks,
            stop: stop_tx,
            world_id,
        })
    }
}

/// A running set of simulated Elasticsearch clusters.
///
/// Dropping it stops the servers too; [`Sim::shutdown`] also waits for them.
pub struct Sim {
    shared: Arc<Shared>,
    names: Vec<String>,
    tasks: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
    world_id: u64,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("clusters", &self.names)
            .finish()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        crate::world::foreign::unregister(self.world_id);
    }
}

impl Sim {
    /// Starts building a simulator.
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }

    /// The cluster names, in the order they were added.
    pub fn cluster_names(&self) -> &[String] {
        &self.names
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// `http://127.0.0.1:PORT` of a cluster, or None if there is no such cluster.
    pub fn try_url(&self, name: &str) -> Option<String> {
        let ci = self.index_of(name)?;
        Some(format!(
            "http://{}",
            self.shared.lock().clusters[ci].http_addr
        ))
    }

    /// `http://127.0.0.1:PORT` of a cluster.
    ///
    /// # Panics
    /// If no cluster has that name (a mistake in the calling test); see [`Sim::try_url`].
    pub fn url(&self, name: &str) -> String {
        self.try_url(name)
            .unwrap_or_else(|| panic!("no simulated cluster named [{name}]"))
    }

    /// The HTTP socket address of a cluster.
    pub fn http_addr(&self, name: &str) -> Option<SocketAddr> {
        let ci = self.index_of(name)?;
        Some(self.shared.lock().clusters[ci].http_addr)
    }

    /// `127.0.0.1:<HTTP port + 100>`: what `cluster.remote.<alias>.seeds` takes.
    ///
    /// # Panics
    /// If no cluster has that name.
    pub fn transport_address(&self, name: &str) -> String {
        let ci = self
            .index_of(name)
            .unwrap_or_else(|| panic!("no simulated cluster named [{name}]"));
        self.shared.lock().clusters[ci].transport_addr.clone()
    }

    /// `127.0.0.1:<HTTP port + 243>`: the remote cluster server address that API-key remotes
    /// name in `seeds` or `proxy_address` (8.10+, security on).
    ///
    /// # Panics
    /// If no cluster has that name.
    pub fn remote_cluster_address(&self, name: &str) -> String {
        self.cluster(name).remote_cluster_address()
    }

    /// A handle for controlling one cluster.
    ///
    /// # Panics
    /// If no cluster has that name; see [`Sim::try_cluster`].
    pub fn cluster(&self, name: &str) -> ClusterHandle {
        self.try_cluster(name).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A handle for controlling one cluster, or an error naming the unknown cluster.
    pub fn try_cluster(&self, name: &str) -> Result<ClusterHandle, SimError> {
        let ci = self
            .index_of(name)
            .ok_or_else(|| SimError::UnknownCluster(name.to_string()))?;
        Ok(ClusterHandle {
            shared: self.shared.clone(),
            ci,
            name: name.to_string(),
        })
    }

    /// True when time moves only by [`Sim::advance`].
    pub fn is_deterministic(&self) -> bool {
        self.shared.lock().clock.is_deterministic()
    }

    /// Moves a deterministic clock forward, running replication, writers, auto-follow and
    /// scenario events in 50 ms steps. Errors on a real-time simulator.
    pub fn advance(&self, by: Duration) -> Result<(), SimError> {
        control::advance(self.shared.world(), by.as_millis() as u64)
    }

    /// Milliseconds of simulated time since start.
    pub fn now_millis(&self) -> u64 {
        self.shared.lock().clock.now_ms()
    }

    /// The simulated time as Elasticsearch's timestamps show it (milliseconds since the Unix
    /// epoch): what retention lease timestamps and `_recovery` times are measured against.
    pub fn epoch_millis(&self) -> u64 {
        self.shared.lock().clock.epoch_ms()
    }

    /// Schedules a scenario's events relative to now.
    pub fn run_scenario(&self, scenario: &Scenario) -> Result<(), SimError> {
        crate::world::scenario::schedule(&mut self.shared.lock(), scenario)?;
        Ok(())
    }

    /// Stops every server and the ticker, and waits for them.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            if tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .is_err()
            {
                tracing::warn!("a simulated cluster server did not stop within 5s");
            }
        }
    }
}

/// Controls one simulated cluster: the `/_sim/` control API as Rust methods.
#[derive(Clone)]
pub struct ClusterHandle {
    shared: Arc<Shared>,
    ci: usize,
    name: String,
}

impl std::fmt::Debug for ClusterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterHandle")
            .field("name", &self.name)
            .finish()
    }
}

impl ClusterHandle {
    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.lock().clusters[self.ci].http_addr)
    }

    /// `127.0.0.1:<HTTP port + 100>`.
    pub fn transport_address(&self) -> String {
        self.shared.lock().clusters[self.ci].transport_addr.clone()
    }

    /// `127.0.0.1:<HTTP port + 243>`: the remote cluster server address that API-key remotes
    /// (8.10+, security on) name in `seeds` or `proxy_address`.
    pub fn remote_cluster_address(&self) -> String {
        crate::world::security::remote_cluster_address(&self.shared.lock().clusters[self.ci])
    }

    /// `bin/elasticsearch-keystore add cluster.remote.<alias>.credentials`: the node uses it
    /// after [`ClusterHandle::reload_secure_settings`] (8.13+) or a restart.
    pub fn keystore_add(&self, alias: &str, encoded: &str) -> Result<(), SimError> {
        self.apply(Action::Keystore {
            alias: alias.into(),
            credentials: Some(crate::action::Secret::new(encoded)),
        })
    }

    /// `bin/elasticsearch-keystore remove cluster.remote.<alias>.credentials`.
    pub fn keystore_remove(&self, alias: &str) -> Result<(), SimError> {
        self.apply(Action::Keystore {
            alias: alias.into(),
            credentials: None,
        })
    }

    /// Creates a cross-cluster API key on this cluster (what `POST /_security/cross_cluster/api_key`
    /// with `access.replication[].names` does, owned by `elastic`) and returns its `encoded`
    /// form, for a follower's keystore. Errors when the cluster has no security.
    pub fn create_cross_cluster_key(
        &self,
        name: &str,
        replication: &[&str],
    ) -> Result<String, SimError> {
        let mut w = self.shared.lock();
        let now = w.clock.epoch_ms();
        let c = &mut w.clusters[self.ci];
        let seed = c.name.clone();
        let sec = c
            .security
            .take()
            .ok_or_else(|| SimError::Invalid(format!("cluster [{}] has no security", self.name)))?;
        let mut sec = sec;
        let (id, key) = sec.next_key(&seed);
        let mut sec = sec.cross_cluster_key(&id, &key, replication);
        if let Some(k) = sec.api_keys.last_mut() {
            k.name = name.to_string();
            k.creation_ms = now;
        }
        c.security = Some(sec);
        Ok(crate::util::base64_encode(format!("{id}:{key}").as_bytes()))
    }

    /// `POST /_nodes/reload_secure_settings` (as the cluster itself): returns its JSON body.
    pub fn reload_secure_settings(&self) -> Value {
        self.request("POST", "/_nodes/reload_secure_settings", None)
            .1
    }

    /// Applies any control action.
    pub fn apply(&self, action: Action) -> Result<(), SimError> {
        control::apply(&mut self.shared.lock(), self.ci, &action)
    }

    /// Breaks this cluster's connection to the remote `alias`: connection attempts are refused.
    pub fn disconnect_remote(&self, alias: &str) -> Result<(), SimError> {
        self.disconnect_remote_with(alias, DisconnectMode::Refused)
    }

    /// Breaks this cluster's connection to the remote `alias`, refused or black-holed (requests
    /// through a black hole wait 30 s of simulated time for the connect timeout).
    pub fn disconnect_remote_with(
        &self,
        alias: &str,
        mode: DisconnectMode,
    ) -> Result<(), SimError> {
        self.apply(Action::DisconnectRemote {
            alias: alias.into(),
            mode,
        })
    }

    /// Makes the final resume of the follower's restore fail (the running one, or the next put
    /// follow of that name): the follower stays paused with no shard tasks.
    pub fn fail_start(&self, follower_index: &str) -> Result<(), SimError> {
        self.apply(Action::FailStart {
            index: follower_index.into(),
            reason: None,
        })
    }

    /// Restores this cluster's connection to the remote `alias`.
    pub fn connect_remote(&self, alias: &str) -> Result<(), SimError> {
        self.apply(Action::ConnectRemote {
            alias: alias.into(),
        })
    }

    /// A fatal exception on a follower shard task (it stops until pause + resume).
    pub fn fail_shard(&self, follower_index: &str, shard: usize) -> Result<(), SimError> {
        self.apply(Action::Fatal {
            index: follower_index.into(),
            shard: Some(shard),
            reason: None,
        })
    }

    /// `count` transient read failures on every shard task of a follower (retried).
    pub fn inject_read_exceptions(&self, follower_index: &str, count: u32) -> Result<(), SimError> {
        self.apply(Action::ReadExceptions {
            index: follower_index.into(),
            count,
            shard: None,
        })
    }

    /// The follower index's document count drifts by `docs` (negative: fewer) from what it
    /// replicated, without moving any checkpoint: `_count`, `_cat/indices` `docs.count`,
    /// `_stats/docs` and `_search` all show it, as when documents go missing on the follower side.
    /// 0 (or [`ClusterHandle::clear_faults`]) clears it. Errors when the index is not a follower.
    pub fn drift_docs(&self, follower_index: &str, docs: i64) -> Result<(), SimError> {
        self.apply(Action::Drift {
            index: follower_index.into(),
            docs,
        })
    }

    /// The leader index loses its history and leases: followers behind it fail fatally.
    pub fn lose_retention_leases(&self, leader_index: &str) -> Result<(), SimError> {
        self.apply(Action::RetentionLeaseLoss {
            index: leader_index.into(),
        })
    }

    /// Deletes an index.
    pub fn delete_index(&self, index: &str) -> Result<(), SimError> {
        self.apply(Action::DeleteIndex {
            index: index.into(),
        })
    }

    /// Changes the license.
    pub fn set_license(&self, license: License) -> Result<(), SimError> {
        self.apply(Action::License {
            kind: license.kind,
            status: license.status,
        })
    }

    /// Delays every Elasticsearch response.
    pub fn set_latency(&self, latency: Duration) -> Result<(), SimError> {
        self.apply(Action::Latency {
            ms: latency.as_millis() as u64,
        })
    }

    /// Makes a share of requests fail.
    pub fn set_http_faults(&self, f: HttpFaults) -> Result<(), SimError> {
        self.apply(Action::HttpFaults {
            error_rate: f.error_rate,
            reset_rate: f.reset_rate,
            malformed_rate: f.malformed_rate,
            truncated_rate: f.truncated_rate,
            error_status: f.error_status,
        })
    }

    /// Steady writes into an index (0 stops them).
    pub fn set_writes(&self, index: &str, docs_per_second: f64) -> Result<(), SimError> {
        self.apply(Action::Writes {
            index: index.into(),
            docs_per_second,
        })
    }

    /// Takes this cluster off the network as a remote (followers of it see it unreachable).
    pub fn isolate(&self) -> Result<(), SimError> {
        self.apply(Action::Isolate {})
    }

    /// Undoes [`ClusterHandle::isolate`].
    pub fn rejoin(&self) -> Result<(), SimError> {
        self.apply(Action::Rejoin {})
    }

    /// The whole cluster goes down: its HTTP connections are reset and followers of it see it
    /// unreachable (the control plane keeps answering).
    pub fn stop(&self) -> Result<(), SimError> {
        self.apply(Action::Stop {})
    }

    /// Undoes [`ClusterHandle::stop`].
    pub fn start(&self) -> Result<(), SimError> {
        self.apply(Action::Start {})
    }

    /// Clears every fault.
    pub fn clear_faults(&self) -> Result<(), SimError> {
        self.apply(Action::ClearFaults {})
    }

    /// Creates an index with `shards` primaries (soft deletes as the version defaults).
    pub fn create_index(&self, index: &str, shards: usize) -> Result<(), SimError> {
        self.apply(Action::CreateIndex {
            index: index.into(),
            shards: Some(shards),
        })
    }

    /// Writes `count` generated documents into an index (auto-created).
    pub fn index_docs(&self, index: &str, count: u64) -> Result<(), SimError> {
        self.apply(Action::IndexDocs {
            index: index.into(),
            count,
            bytes_per_doc: None,
        })
    }

    /// Writes `count` documents of `bytes_per_doc` bytes each without keeping their sources: the
    /// index's counts, sequence numbers and store size grow (a 2 GB leader for a restore costs
    /// nothing), `_search` does not show them.
    pub fn index_sized_docs(
        &self,
        index: &str,
        count: u64,
        bytes_per_doc: u64,
    ) -> Result<(), SimError> {
        self.apply(Action::IndexDocs {
            index: index.into(),
            count,
            bytes_per_doc: Some(bytes_per_doc),
        })
    }

    /// Bounds each shard follow task of follower `index` to `ops_per_second` operations read a
    /// second (0 removes the bound): a follower slower than its leader.
    pub fn throttle_follower(&self, index: &str, ops_per_second: f64) -> Result<(), SimError> {
        self.apply(Action::Throttle {
            index: index.into(),
            ops_per_second,
        })
    }

    /// Documents an index shows (as `_count` does, drift included), or None when it does not
    /// exist.
    pub fn doc_count(&self, index: &str) -> Option<u64> {
        let w = self.shared.lock();
        let c = &w.clusters[self.ci];
        c.indices.get(index).map(|i| c.visible_docs(i))
    }

    /// Sends an Elasticsearch request straight to the cluster's REST layer (no HTTP, no
    /// faults): handy for test setup. Returns the status and the JSON body. It never waits: a
    /// reply Elasticsearch sends only later is decided at once (put follow with
    /// `wait_for_active_shards` >= 1 answers as with `0` while its restore runs; a request
    /// through a black-holed remote gets its error without the connect timeout).
    pub fn request(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut req = Req::new(method, path, bytes, None);
        req.content_type = Some("application/json".into());
        let ci = self.ci;
        let reply = self.shared.with_remotes(ci, |w| {
            // Control calls bypass security: act as the cluster itself.
            let sec = w.clusters[ci].security.take();
            let mut reply = crate::api::rest::handle(w, ci, &req);
            w.clusters[ci].security = sec;
            if let crate::api::reply::ReplyBody::Deferred(d) = reply.body {
                reply = match *d {
                    crate::api::reply::Deferred::At { reply, .. } => *reply,
                    d => match crate::api::rest::poll_deferred(w, ci, d) {
                        r if matches!(r.body, crate::api::reply::ReplyBody::Deferred(_)) => {
                            crate::api::reply::Reply::json(serde_json::json!({
                                "follow_index_created": true,
                                "follow_index_shards_acked": false,
                                "index_following_started": false
                            }))
                        }
                        r => r,
                    },
                };
            }
            reply
        });
        (reply.status, reply.json_body())
    }

    /// Follows `leader_index` of remote `alias` as `follower_index` with default parameters.
    /// Like put follow with `wait_for_active_shards=0`, it returns once the restore has started:
    /// the follower is paused, without shard tasks, until the restore ends (on the real clock at
    /// the next 50 ms tick for a small leader; on the deterministic clock after an `advance`).
    pub fn follow(
        &self,
        follower_index: &str,
        alias: &str,
        leader_index: &str,
    ) -> Result<(), SimError> {
        let (status, body) = self.request(
            "PUT",
            &format!("/{follower_index}/_ccr/follow"),
            Some(serde_json::json!({"remote_cluster": alias, "leader_index": leader_index})),
        );
        if status == 200 {
            Ok(())
        } else {
            let reason = body["error"]["reason"]
                .as_str()
                .unwrap_or("follow failed")
                .to_string();
            let kind = body["error"]["type"]
                .as_str()
                .unwrap_or("exception")
                .to_string();
            Err(SimError::Es(EsError::new(status, &kind, reason)))
        }
    }

    /// A REST request whose 2xx body is returned; any other answer becomes [`SimError::Es`].
    fn request_ok(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, SimError> {
        let (status, body) = self.request(method, path, body);
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let reason = body["error"]["reason"]
            .as_str()
            .unwrap_or("request failed")
            .to_string();
        let kind = body["error"]["type"]
            .as_str()
            .unwrap_or("exception")
            .to_string();
        Err(SimError::Es(EsError::new(status, &kind, reason)))
    }

    /// `PUT /_index_template/{name}` with `index_patterns`, `priority` and `data_stream: {}`:
    /// a composable template that makes data streams of the names it matches.
    pub fn put_data_stream_template(
        &self,
        name: &str,
        index_patterns: &[&str],
        priority: i64,
    ) -> Result<(), SimError> {
        self.request_ok(
            "PUT",
            &format!("/_index_template/{name}"),
            Some(serde_json::json!({
                "index_patterns": index_patterns,
                "priority": priority,
                "data_stream": {}
            })),
        )
        .map(|_| ())
    }

    /// `PUT /_index_template/{name}` with any body.
    pub fn put_index_template(&self, name: &str, body: Value) -> Result<(), SimError> {
        self.request_ok("PUT", &format!("/_index_template/{name}"), Some(body))
            .map(|_| ())
    }

    /// `PUT /_data_stream/{name}` (needs a matching template with `data_stream`).
    pub fn create_data_stream(&self, name: &str) -> Result<(), SimError> {
        self.request_ok("PUT", &format!("/_data_stream/{name}"), None)
            .map(|_| ())
    }

    /// `POST /{stream}/_rollover`: returns the new write index.
    pub fn rollover(&self, stream: &str) -> Result<String, SimError> {
        let body = self.request_ok("POST", &format!("/{stream}/_rollover"), None)?;
        Ok(body["new_index"].as_str().unwrap_or_default().to_string())
    }

    /// `POST /_data_stream/_promote/{name}`.
    pub fn promote_data_stream(&self, name: &str) -> Result<(), SimError> {
        self.request_ok("POST", &format!("/_data_stream/_promote/{name}"), None)
            .map(|_| ())
    }

    /// `DELETE /_data_stream/{name}`.
    pub fn delete_data_stream(&self, name: &str) -> Result<(), SimError> {
        self.request_ok("DELETE", &format!("/_data_stream/{name}"), None)
            .map(|_| ())
    }

    /// The data stream's backing indices, oldest first (the last is the write index), or
    /// None when there is no such stream.
    pub fn backing_indices(&self, stream: &str) -> Option<Vec<String>> {
        let w = self.shared.lock();
        w.clusters[self.ci]
            .data_streams
            .get(stream)
            .map(|d| d.indices.clone())
    }

    /// Whether the data stream is a replicated one (a follower's copy not yet promoted), or
    /// None when there is no such stream.
    pub fn data_stream_replicated(&self, stream: &str) -> Option<bool> {
        let w = self.shared.lock();
        w.clusters[self.ci]
            .data_streams
            .get(stream)
            .map(|d| d.replicated)
    }

    /// `GET /_sim/state` as JSON.
    pub fn state(&self) -> Value {
        self.shared
            .with_remotes(self.ci, |w| control::state(w, self.ci))
    }

    /// `GET /_sim/requests`.
    pub fn requests(&self) -> RequestStats {
        self.shared.lock().clusters[self.ci].requests.clone()
    }

    /// `POST /_sim/requests/reset`.
    pub fn reset_requests(&self) {
        self.shared.lock().clusters[self.ci].requests = RequestStats::default();
    }
}
