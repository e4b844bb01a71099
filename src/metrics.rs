//! Prometheus metrics (text format only): every metric family the daemon exports, defined here and served by one
//! [`Metrics`].
//!
//! Two kinds of metrics:
//! - counters and gauges updated as things happen, in the registry of the tikv `prometheus` crate: the daemon's
//!   own ([`SelfMetrics`]), the actions ([`ActionMetrics`]) and reconcile and preflight ([`ReconcileMetrics`]);
//! - everything about followers, remotes and clusters, written in the text format straight from the latest
//!   [`Report`] at scrape time, with each follower's escaped labels kept while they stay the same; a scrape of
//!   the report the previous scrape rendered reuses its text or, for gzip, its compression. Nothing is
//!   cached in metric vectors, so a follower that disappears from the clusters disappears from `/metrics` at the
//!   next job, and a scrape never waits for a cluster.
//!
//! A failed request to Elasticsearch is one [`RequestFailed`] event, which counts and logs together.
//!
//! Every metric, its type and labels are listed in `docs/metrics.md`; keep both in step.

use std::sync::{Arc, Mutex, RwLock, Weak};

use bytes::Bytes;

use prometheus::core::Collector;
use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

use crate::es::{AutoFollowStats, EsError};
use crate::evaluate::data_streams::DataStreamReport;
use crate::evaluate::health::FollowerState;
use crate::evaluate::report::{ClusterReport, FollowerReport, RemoteReport, Report};
use crate::observe::FollowerObservation;

/// The report shared between the jobs (writers) and the HTTP handlers and collector (readers).
pub type SharedReport = Arc<RwLock<Arc<Report>>>;

/// A counter family of the registry (the name, help and labels are static).
fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("static metric definition")
}

/// A gauge family of the registry (the name, help and labels are static).
fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    GaugeVec::new(Opts::new(name, help), labels).expect("static metric definition")
}

/// The daemon's own metrics, updated as things happen.
#[derive(Clone)]
pub struct SelfMetrics {
    pub request_errors: IntCounterVec,
    pub poll_duration: HistogramVec,
    pub job_last_success: GaugeVec,
    pub job_skipped: IntCounterVec,
    build_info: GaugeVec,
}

impl Default for SelfMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl SelfMetrics {
    /// Creates the metrics (not registered: [`Metrics::new`] registers the ones it serves).
    pub fn new() -> Self {
        let request_errors = counter_vec(
            "ccr_sentinel_request_errors_total",
            "Failed requests to Elasticsearch, by cluster, endpoint and bounded reason.",
            &["cluster", "endpoint", "reason"],
        );
        let poll_duration = HistogramVec::new(
            HistogramOpts::new(
                "ccr_sentinel_poll_duration_seconds",
                "Duration of each run of a job (all clusters, concurrently).",
            )
            .buckets(vec![
                0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            ]),
            &["job_name"],
        )
        .expect("static metric definition");
        let job_last_success = gauge_vec(
            "ccr_sentinel_job_last_success_timestamp_seconds",
            "Unix time of the end of the last run of a job in which every request succeeded.",
            &["job_name"],
        );
        let job_skipped = counter_vec(
            "ccr_sentinel_job_skipped_total",
            "Runs of a job skipped because the previous run was still going.",
            &["job_name"],
        );
        let build_info = gauge_vec(
            "ccr_sentinel_build_info",
            "Always 1; the version of the running daemon.",
            &["version"],
        );
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1.0);
        Self {
            request_errors,
            poll_duration,
            job_last_success,
            job_skipped,
            build_info,
        }
    }

    /// Makes the per-job series exist (at zero) before the first run, so alerts on them work from the start.
    pub fn init_job(&self, job: &str) {
        self.job_skipped.with_label_values(&[job]);
        self.poll_duration.with_label_values(&[job]);
    }
}

/// A request to Elasticsearch failed: one count in `ccr_sentinel_request_errors_total{cluster,endpoint,reason}`
/// and one log line, written together by [`RequestFailed::emit`].
#[derive(Debug, Clone, Copy)]
pub struct RequestFailed<'a> {
    /// The configuration name of the cluster the request went to.
    pub cluster: &'a str,
    /// What went wrong; its endpoint and bounded reason are the labels.
    pub error: &'a EsError,
    /// The stage that sent the request (`reconcile`), prefixed to the message; `None` for the polling jobs.
    pub stage: Option<&'static str>,
    /// The same error was logged last time for this cluster and endpoint: log at `debug`, not `warn`, so a
    /// cluster that stays down logs once instead of every run.
    pub repeated: bool,
}

impl RequestFailed<'_> {
    /// Counts the failed request in `metrics` and logs it.
    pub fn emit(&self, metrics: &SelfMetrics) {
        let e = self.error;
        let endpoint = e.endpoint().map(|e| e.as_str()).unwrap_or("client");
        metrics
            .request_errors
            .with_label_values(&[self.cluster, endpoint, e.reason()])
            .inc();
        let cluster = self.cluster;
        let message = match self.stage {
            Some(stage) => format!("{stage}: {e}"),
            None => e.to_string(),
        };
        if self.repeated {
            tracing::debug!(%cluster, endpoint = ?e.endpoint(), reason = e.reason(), "{message}");
        } else {
            tracing::warn!(%cluster, endpoint = ?e.endpoint(), reason = e.reason(), "{message}");
        }
    }
}

/// The action counters, shared by every executor of a process.
#[derive(Clone)]
pub struct ActionMetrics {
    /// `ccr_sentinel_reconcile_actions_total{action,result}`.
    pub reconcile_actions: IntCounterVec,
    /// `ccr_sentinel_actions_total{action,rule,result}`.
    pub actions: IntCounterVec,
    /// `ccr_sentinel_heartbeat_writes_total{cluster,result}`.
    pub heartbeat_writes: IntCounterVec,
}

impl Default for ActionMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ActionMetrics {
    /// Creates the counters (not registered).
    pub fn new() -> Self {
        let reconcile_actions = counter_vec("ccr_sentinel_reconcile_actions_total", "Actions taken by reconcile, by action and result (success, already_done, failed, dry_run).", &["action", "result"]);
        let actions = counter_vec("ccr_sentinel_actions_total", "Actions taken by policy rules, by action, rule and result (success, already_done, failed, dry_run).", &["action", "rule", "result"]);
        let heartbeat_writes = counter_vec("ccr_sentinel_heartbeat_writes_total", "Heartbeat canary writes into the leader cluster's ccr-sentinel-heartbeat index, by result (success, failed, dry_run).", &["cluster", "result"]);
        Self {
            reconcile_actions,
            actions,
            heartbeat_writes,
        }
    }

    /// Registers both counters in `registry`.
    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.reconcile_actions.clone()))?;
        registry.register(Box::new(self.heartbeat_writes.clone()))?;
        registry.register(Box::new(self.actions.clone()))
    }

    /// Counts one action of reconcile.
    pub fn count_reconcile(&self, action: &str, result: &str) {
        self.reconcile_actions
            .with_label_values(&[action, result])
            .inc();
    }

    /// Counts one action of the policy rule `rule`.
    pub fn count_rule(&self, action: &str, rule: &str, result: &str) {
        self.actions
            .with_label_values(&[action, rule, result])
            .inc();
    }
}

/// The `ccr_sentinel_reconcile_blocked` and `ccr_sentinel_preflight_problems` gauges.
#[derive(Clone)]
pub struct ReconcileMetrics {
    pub blocked: GaugeVec,
    pub preflight_problems: GaugeVec,
}

impl Default for ReconcileMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ReconcileMetrics {
    /// Creates the gauges (not registered).
    pub fn new() -> Self {
        let blocked = gauge_vec("ccr_sentinel_reconcile_blocked", "1 for each configured item (remote, follower, auto_follow) that reconcile cannot bring to the desired state, with the reason.", &["cluster", "kind", "name", "reason"]);
        let preflight_problems = gauge_vec(
            "ccr_sentinel_preflight_problems",
            "Number of failed preflight checks at start-up, by check.",
            &["check"],
        );
        Self {
            blocked,
            preflight_problems,
        }
    }

    /// Registers both gauges in `registry`.
    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.blocked.clone()))?;
        registry.register(Box::new(self.preflight_problems.clone()))
    }

    /// Replaces the blocked series with these `[cluster, kind, name, reason]` label values (items that are no
    /// longer blocked disappear).
    pub fn publish_blocked<'a>(&self, blocked: impl IntoIterator<Item = [&'a str; 4]>) {
        self.blocked.reset();
        for labels in blocked {
            self.blocked.with_label_values(&labels).set(1.0);
        }
    }
}

/// The daemon's life-cycle metrics: configuration reloads and abandoned runbooks.
#[derive(Clone)]
pub struct LifecycleMetrics {
    reloads: IntCounterVec,
    last_success: prometheus::Gauge,
    last_successful: prometheus::IntGauge,
    generation: prometheus::IntGauge,
    /// Unfollow runbooks in `state_dir` whose process is gone.
    pub runbooks_abandoned: prometheus::IntGauge,
}

impl LifecycleMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let reloads = IntCounterVec::new(
            Opts::new(
                "ccr_sentinel_config_reloads_total",
                "Configuration reloads (SIGHUP), by result: success or failure (the old configuration stays).",
            ),
            &["result"],
        )?;
        for r in ["success", "failure"] {
            reloads.with_label_values(&[r]);
        }
        let last_success = prometheus::Gauge::new(
            "ccr_sentinel_config_last_reload_success_timestamp_seconds",
            "Unix time the running configuration was loaded (start-up or the last successful reload).",
        )?;
        let last_successful = prometheus::IntGauge::new(
            "ccr_sentinel_config_last_reload_successful",
            "1 when the last reload (or the start-up load) succeeded, 0 when the file it read was refused.",
        )?;
        let generation = prometheus::IntGauge::new(
            "ccr_sentinel_config_generation",
            "1 at start-up, one more at each successful configuration reload.",
        )?;
        registry.register(Box::new(reloads.clone()))?;
        registry.register(Box::new(last_success.clone()))?;
        registry.register(Box::new(last_successful.clone()))?;
        registry.register(Box::new(generation.clone()))?;
        let runbooks_abandoned = prometheus::IntGauge::new(
            "ccr_sentinel_runbooks_abandoned",
            "Unfollow runbooks in state_dir whose process is gone before they finished (an interrupted or \
             killed command): the follower may be paused or closed.",
        )?;
        registry.register(Box::new(runbooks_abandoned.clone()))?;
        last_successful.set(1);
        generation.set(1);
        last_success.set(chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
        Ok(Self {
            reloads,
            last_success,
            last_successful,
            generation,
            runbooks_abandoned,
        })
    }

    /// A successful reload to `generation` at `at`.
    pub fn succeeded(&self, generation: u64, at: chrono::DateTime<chrono::Utc>) {
        self.reloads.with_label_values(&["success"]).inc();
        self.last_successful.set(1);
        self.generation
            .set(i64::try_from(generation).unwrap_or(i64::MAX));
        self.last_success.set(at.timestamp_millis() as f64 / 1000.0);
    }

    /// A refused reload.
    pub fn failed(&self) {
        self.reloads.with_label_values(&["failure"]).inc();
        self.last_successful.set(0);
    }
}

/// The registry and every metric family registered in it, once per process, and the renderer of the report
/// families.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub own: SelfMetrics,
    pub actions: ActionMetrics,
    pub reconcile: ReconcileMetrics,
    pub lifecycle: LifecycleMetrics,
    report: SharedReport,
    renderer: Arc<Mutex<ReportRenderer>>,
}

impl Metrics {
    /// Creates the registry with every metric family, the report families collected from `report`.
    pub fn new(report: SharedReport) -> Self {
        let registry = Registry::new();
        let own = SelfMetrics::new();
        let actions = ActionMetrics::new();
        let reconcile = ReconcileMetrics::new();
        let boxed: Vec<Box<dyn Collector>> = vec![
            Box::new(own.request_errors.clone()),
            Box::new(own.poll_duration.clone()),
            Box::new(own.job_last_success.clone()),
            Box::new(own.job_skipped.clone()),
            Box::new(own.build_info.clone()),
        ];
        for c in boxed {
            registry.register(c).expect("metric names are unique");
        }
        actions
            .register(&registry)
            .expect("metric names are unique");
        reconcile
            .register(&registry)
            .expect("metric names are unique");
        let lifecycle = LifecycleMetrics::register(&registry).expect("metric names are unique");
        Self {
            registry,
            own,
            actions,
            reconcile,
            lifecycle,
            report,
            renderer: Default::default(),
        }
    }

    /// The text exposition of every metric: the report families written from the latest report, then the
    /// registry's. A copy in one string, for callers in the process; `/metrics` uses [`Metrics::scrape`].
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let x = self.scrape(false)?;
        Ok(String::from_utf8(x.to_vec())
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    /// The body of one scrape: the exposition, gzipped (at the fastest level: the text repeats its label
    /// strings, so more effort buys little) when `gzip`. The report's families are kept between scrapes in the
    /// form scrapes ask for (the text, or its compression: a gzipped scrape never holds the whole text), and
    /// the body shares them, so a scrape of the same report copies nothing but the registry's families. The
    /// report lock is held only to clone its `Arc`, so rendering never blocks a job publishing a report;
    /// concurrent scrapes take turns on the renderer.
    pub fn scrape(&self, gzip: bool) -> Result<Exposition, prometheus::Error> {
        let report = Arc::clone(&crate::sync::read(&self.report));
        let families = self.registry.gather();
        crate::sync::lock(&self.renderer).scrape(&report, &families, gzip)
    }
}

/// The body of a `/metrics` answer: a few buffers sent one after the other, most of them shared with the
/// renderer (cloning one is a reference count, not a copy).
#[derive(Debug, Clone)]
pub struct Exposition {
    parts: Vec<Bytes>,
    /// The parts are one gzip stream (`Content-Encoding: gzip`), else the text exposition (0.0.4).
    pub gzipped: bool,
}

impl Exposition {
    /// The buffers of the body, in order.
    pub fn into_parts(self) -> Vec<Bytes> {
        self.parts
    }

    /// The length of the body in bytes.
    pub fn len(&self) -> usize {
        self.parts.iter().map(Bytes::len).sum()
    }

    /// The body is empty (never, in practice: the registry always has `ccr_sentinel_build_info`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The body in one buffer (a copy).
    pub fn to_vec(&self) -> Vec<u8> {
        self.parts.concat()
    }
}

/// The families rendered from the report, in exposition order: (name, type, help). Their labels are listed in
/// `docs/metrics.md`.
const REPORT_FAMILIES: &[(&str, &str, &str)] = &[
    ("ccr_sentinel_follower_info", "gauge", "1 per follower, with its remote_cluster and leader_index and whether it is in the configuration (managed); the other follower series carry only follower_cluster and follower_index, join on those."),
    ("elasticsearch_ccr_follower_global_checkpoint_lag", "gauge", "Operations the follower is behind: sum over shards of leader_global_checkpoint - follower_global_checkpoint (total_global_checkpoint_lag on 8.13+), as of the last poll."),
    ("elasticsearch_ccr_follower_time_since_last_read_seconds", "gauge", "Max over shards of time_since_last_read_millis, in seconds, as of the last poll."),
    ("elasticsearch_ccr_follower_paused", "gauge", "1 when _ccr/info reports the follower paused, else 0. Only with [metrics] detailed = true."),
    ("elasticsearch_ccr_follower_fatal_exception", "gauge", "Number of shards of the follower whose task has a fatal_exception."),
    ("elasticsearch_ccr_follower_read_exceptions", "gauge", "Number of pending read_exceptions over all shards of the follower. Only with [metrics] detailed = true."),
    ("elasticsearch_ccr_follower_shards", "gauge", "Number of shard follow tasks reported for the follower. Only with [metrics] detailed = true."),
    ("elasticsearch_ccr_follower_operations_written_total", "counter", "Sum over shards of operations_written (resets when the follow tasks restart)."),
    ("elasticsearch_ccr_follower_failed_read_requests_total", "counter", "Sum over shards of failed_read_requests (resets when the follow tasks restart)."),
    ("elasticsearch_ccr_follower_bytes_read_total", "counter", "Sum over shards of bytes_read (resets when the follow tasks restart)."),
    ("elasticsearch_ccr_leader_index_docs", "gauge", "Document count of the leader index (_cat/indices docs.count), as of the last doc_counts run."),
    ("elasticsearch_ccr_follower_index_docs", "gauge", "Document count of the follower index (_cat/indices docs.count), as of the last doc_counts run."),
    ("ccr_sentinel_follower_lag_seconds", "gauge", "Lag in time of the follower's worst shard: newest poll minus when the leader's global checkpoint reached the follower's + 1, interpolated between polls; 0 when caught up."),
    ("ccr_sentinel_follower_lag_lower_bound", "gauge", "1 when ccr_sentinel_follower_lag_seconds is a lower bound (the operation is older than the kept history), else 0. Only with [metrics] detailed = true."),
    ("ccr_sentinel_follower_catchup_eta_seconds", "gauge", "Seconds until the follower catches up at the rates of the grading window; only while every lagging shard closes its gap. Only with [metrics] detailed = true."),
    ("ccr_sentinel_follower_rpo_seconds", "gauge", "Seconds of leader writes lost if the leader died now: worst shard lag plus the time since its newest poll."),
    ("ccr_sentinel_follower_ops_at_risk", "gauge", "Operations up to the leader's global checkpoint that the follower has not got, summed over shards. Only with [metrics] detailed = true."),
    ("ccr_sentinel_follower_retention_lease_margin_seconds", "gauge", "Seconds before the earliest of the follower's retention leases on the leader expires (negative once expired); from the leader's shard stats."),
    ("ccr_sentinel_follower_retention_lease_period_seconds", "gauge", "The leader's index.soft_deletes.retention_lease.period the margin is counted against, in seconds; with the margin only."),
    ("ccr_sentinel_follower_grade_completeness", "gauge", "Share of the follower's shards with a full grading window; below 1 the grade has not seen enough polls."),
    ("ccr_sentinel_follower_bootstrap_progress_ratio", "gauge", "0..1: bytes of the follower's initial copy (its restore from _ccr_<remote>, from _recovery) copied over bytes to copy; 1 once every shard is restored. Only while _recovery lists the restore."),
    ("ccr_sentinel_follower_bootstrap_bytes_recovered", "gauge", "Bytes of the initial copy copied so far, summed over shards."),
    ("ccr_sentinel_follower_bootstrap_bytes_total", "gauge", "Bytes the initial copy has to copy, summed over shards (0 while the file lists are not known yet)."),
    ("ccr_sentinel_follower_bootstrap_eta_seconds", "gauge", "Seconds left in the initial copy at the rate between the two latest polls; absent without a rate."),
    ("ccr_sentinel_follower_state", "gauge", "1, with the current verdict of the follower in the state label (one series per follower)."),
    ("ccr_sentinel_follower_grade", "gauge", "1, with the follower's graded status over the window (worst shard) in the grade label (one series per follower)."),
    ("elasticsearch_ccr_remote_cluster_connected", "gauge", "1 when _remote/info on the follower cluster reports the remote connected."),
    ("elasticsearch_ccr_remote_cluster_nodes_connected", "gauge", "num_nodes_connected (sniff) or num_proxy_sockets_connected (proxy) of the remote."),
    ("ccr_sentinel_remote_heartbeat_delay_seconds", "gauge", "Seconds between now and the newest heartbeat the follower cluster holds for this remote (heartbeat = true): the end-to-end replication delay."),
    ("elasticsearch_ccr_auto_follow_failed_follow_indices_total", "counter", "auto_follow_stats.number_of_failed_follow_indices of the follower cluster."),
    ("elasticsearch_ccr_auto_follow_successful_follow_indices_total", "counter", "auto_follow_stats.number_of_successful_follow_indices of the follower cluster."),
    ("elasticsearch_ccr_auto_follow_failed_remote_cluster_state_requests_total", "counter", "auto_follow_stats.number_of_failed_remote_cluster_state_requests of the follower cluster."),
    ("elasticsearch_ccr_auto_follow_recent_errors", "gauge", "Number of entries in auto_follow_stats.recent_auto_follow_errors of the follower cluster."),
    ("elasticsearch_ccr_follower_shard_global_checkpoint_lag", "gauge", "Per shard: leader_global_checkpoint - follower_global_checkpoint. Only with [metrics] per_shard = true."),
    ("elasticsearch_ccr_follower_shard_time_since_last_read_seconds", "gauge", "Per shard: time_since_last_read_millis in seconds. Only with [metrics] per_shard = true."),
    ("ccr_sentinel_cluster_up", "gauge", "1 when the cluster was reached and its latest requests all succeeded."),
    ("ccr_sentinel_cluster_stale", "gauge", "1 when some data shown for the cluster is older than a failed refresh."),
    ("ccr_sentinel_cluster_insecure_tls", "gauge", "1 when the cluster's TLS certificate is not verified (insecure_skip_verify = true), else 0."),
    ("ccr_sentinel_remote_api_key_expiry_seconds", "gauge", "Seconds until the soonest-expiring usable cross-cluster API key of an API-key remote expires (GET /_security/api_key on the leader); absent for certificate remotes and keys without expiry, negative once expired."),
    ("ccr_sentinel_credential_expiry_seconds", "gauge", "Seconds until ccr-sentinel's own credential on a follower cluster expires (an API key with an expiration); follower tasks it creates or resumes run as it."),
    ("ccr_sentinel_data_stream_followers", "gauge", "Followers of the data stream's backing indices on the follower cluster, by state (every state, 0 when none)."),
    ("ccr_sentinel_data_stream_backing_indices", "gauge", "Backing indices of the data stream on the follower cluster (GET /_data_stream)."),
    ("ccr_sentinel_data_stream_lag_seconds", "gauge", "The highest lag in seconds among the data stream's followers; absent until measured."),
    ("ccr_sentinel_data_stream_docs_difference", "gauge", "Leader minus follower documents summed over the data stream's followers whose counts are known."),
    ("ccr_sentinel_data_stream_unfollowed_matches", "gauge", "Leader backing indices of the data stream that match an auto-follow pattern, are newer than one it followed, and have no follower (unfollowed_match)."),
    ("ccr_sentinel_dr_active", "gauge", "1 on the cluster of a pair that takes the writes (after switchovers, from state_dir/topology.json), 0 on the other."),
    ("ccr_sentinel_dr_last_switchover_timestamp_seconds", "gauge", "Unix time the last switchover or failover of the pair finished; absent before the first one."),
    ("ccr_sentinel_dr_switchover_in_progress", "gauge", "1 while a switchover or failover of the pair has started and not finished (running or interrupted), else 0; only for pairs a switchover touched."),
    ("ccr_sentinel_dr_replicating_followers", "gauge", "Follower indices on the pair's passive cluster that follow its active cluster, any state, as last polled."),
    ("ccr_sentinel_dr_topology_problems", "gauge", "Problems of state_dir/topology.json: entries that do not fit the configuration, or 1 when it cannot be read (reconcile is suspended then)."),
];

/// Writes the follower, remote, auto-follow and cluster families of a report in the text exposition format
/// (0.0.4), straight from the report, so a scrape of thousands of followers builds no metric objects. The escaped
/// label string of each follower is kept, and rebuilt only when that follower's labels change. What a scrape
/// asks for is kept for the scrapes of the same report that follow (two Prometheus servers, a scrape interval
/// shorter than the poll): the text for plain scrapes; for gzipped ones (Prometheus always asks) only the
/// compressed families, written a chunk at a time, so the whole text is never held. Both are shared with the
/// answers, and those scrapes write only the registry's families after them. The jobs publish a new
/// `Arc<Report>` each time, so the `Arc` tells a new report from the one rendered.
#[derive(Default)]
struct ReportRenderer {
    /// The report whose families `text` and `deflated` hold. Weak, so a scrape never keeps an old report alive;
    /// and its allocation stays while this points at it, so a new report never has its address.
    rendered: Weak<Report>,
    /// The text of the report's families, once a plain scrape of that report asked for it.
    text: Option<Bytes>,
    /// The report's families compressed, once a gzipped scrape of that report asked for them.
    deflated: Option<Deflated>,
    /// The text buffer of the report before, taken back once no answer held it, for the next plain scrape;
    /// dropped by a gzipped one, so scrapers that only ask for gzip never keep a whole text.
    spare_text: Option<String>,
    /// The compressed buffer of the report before, taken back the same way.
    spare_deflated: Vec<u8>,
    /// The length of the last report's text and of its compression: the next buffers are reserved at about
    /// that size once instead of grown by doubling.
    text_len: usize,
    deflated_len: usize,
    /// The text of a gzipped scrape being written, a chunk at a time.
    chunk: String,
    /// The compressor, kept for its tables.
    compress: Option<flate2::Compress>,
    /// The registry's families of this scrape.
    own: String,
    /// The label strings of the followers of the last rendered report, in its order.
    followers: Vec<FollowerLabels>,
    /// The list before that, kept for its allocation.
    spare: Vec<FollowerLabels>,
    /// Label strings of the few remote, auto-follow and cluster series.
    scratch: String,
}

/// The report's families as a raw deflate stream that ends in a sync flush (on a byte boundary, no final
/// block), so the registry's families compressed after it by a fresh compressor complete one valid stream
/// (RFC 1951 3.2.3: a stream is any sequence of blocks, the last one marked final); with the CRC-32 and length
/// of the text that went in, for the gzip trailer (RFC 1952 2.3.1).
struct Deflated {
    bytes: Bytes,
    crc: flate2::Crc,
}

/// How much text a gzipped scrape writes before compressing it.
const CHUNK: usize = 64 * 1024;

/// The gzip member header (RFC 1952 2.3): deflate, no flags, no modification time, XFL 4 (fastest) and OS 255
/// (unknown), as flate2's `GzEncoder` writes it at `Compression::fast()`.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];

/// A raw deflate stream being written, with the CRC-32 and length of its input.
struct Deflater {
    compress: flate2::Compress,
    out: Vec<u8>,
    crc: flate2::Crc,
    failed: Option<flate2::CompressError>,
}

impl Deflater {
    fn new(compress: flate2::Compress, out: Vec<u8>) -> Self {
        Self {
            compress,
            out,
            crc: flate2::Crc::new(),
            failed: None,
        }
    }

    /// Compresses `input` into `out`, growing it by small steps (about its expected size is reserved before).
    fn feed(&mut self, mut input: &[u8], flush: flate2::FlushCompress) {
        if self.failed.is_some() {
            return;
        }
        self.crc.update(input);
        loop {
            if self.out.capacity() - self.out.len() < 1024 {
                self.out.reserve_exact(CHUNK.max(self.out.len() / 8));
            }
            let before = self.compress.total_in();
            let status = match self.compress.compress_vec(input, &mut self.out, flush) {
                Ok(s) => s,
                Err(e) => {
                    self.failed = Some(e);
                    return;
                }
            };
            input = &input[(self.compress.total_in() - before) as usize..];
            // All output is out once the compressor leaves room in the buffer (or ends the stream).
            let done = match flush {
                flate2::FlushCompress::Finish => status == flate2::Status::StreamEnd,
                _ => self.out.len() < self.out.capacity(),
            };
            if input.is_empty() && done {
                return;
            }
        }
    }
}

/// Where the report's families are written: a text buffer that, in a gzipped scrape, is compressed and emptied
/// each time it fills a chunk.
struct Out<'z> {
    buf: String,
    z: Option<&'z mut Deflater>,
}

impl Out<'_> {
    /// After each sample (never in a family without one, which [`Family::end`] may still take back out).
    fn written(&mut self) {
        if let Some(z) = &mut self.z {
            if self.buf.len() >= CHUNK {
                z.feed(self.buf.as_bytes(), flate2::FlushCompress::None);
                self.buf.clear();
            }
        }
    }
}

/// The labels of one follower and their escaped forms.
struct FollowerLabels {
    follower_cluster: String,
    follower_index: String,
    remote_cluster: String,
    leader_index: String,
    managed: bool,
    /// `follower_cluster="…",follower_index="…"`, escaped: the key of every follower series.
    escaped: String,
    /// The labels of the follower's `ccr_sentinel_follower_info` series: the key, then
    /// `remote_cluster="…",leader_index="…",managed="…"`, escaped.
    info: String,
}

impl FollowerLabels {
    fn new(o: &FollowerObservation) -> Self {
        let mut escaped = String::new();
        label(&mut escaped, "follower_cluster", &o.follower_cluster);
        escaped.push(',');
        label(&mut escaped, "follower_index", &o.follower_index);
        let mut info = escaped.clone();
        info.push(',');
        label(&mut info, "remote_cluster", &o.remote_cluster);
        info.push(',');
        label(&mut info, "leader_index", &o.leader_index);
        info.push_str(if o.managed {
            ",managed=\"true\""
        } else {
            ",managed=\"false\""
        });
        Self {
            follower_cluster: o.follower_cluster.clone(),
            follower_index: o.follower_index.clone(),
            remote_cluster: o.remote_cluster.clone(),
            leader_index: o.leader_index.clone(),
            managed: o.managed,
            escaped,
            info,
        }
    }

    /// The order of the report's followers: (follower_cluster, follower_index).
    fn key(&self) -> (&str, &str) {
        (&self.follower_cluster, &self.follower_index)
    }

    fn labels_of(&self, o: &FollowerObservation) -> bool {
        self.follower_cluster == o.follower_cluster
            && self.follower_index == o.follower_index
            && self.remote_cluster == o.remote_cluster
            && self.leader_index == o.leader_index
            && self.managed == o.managed
    }
}

/// Appends `name="value"` with the value escaped as the text format requires (`\\`, `\"`, `\n`).
fn label(buf: &mut String, name: &str, value: &str) {
    buf.push_str(name);
    buf.push_str("=\"");
    escape(buf, value, true);
    buf.push('"');
}

/// Appends `s` escaped for a label value (`quotes`) or a HELP text.
fn escape(buf: &mut String, s: &str, quotes: bool) {
    let mut rest = s;
    while let Some(i) = rest.find(|c| c == '\\' || c == '\n' || (quotes && c == '"')) {
        buf.push_str(&rest[..i]);
        buf.push_str(match rest.as_bytes()[i] {
            b'\\' => "\\\\",
            b'\n' => "\\n",
            _ => "\\\"",
        });
        rest = &rest[i + 1..];
    }
    buf.push_str(rest);
}

/// One family being written: its HELP and TYPE lines, then its samples. A family without samples is taken back
/// out, as the registry leaves out empty families.
struct Family<'o, 'z> {
    out: &'o mut Out<'z>,
    name: &'static str,
    start: usize,
    samples: usize,
}

impl<'o, 'z> Family<'o, 'z> {
    fn begin(out: &'o mut Out<'z>, name: &'static str) -> Self {
        let buf = &mut out.buf;
        let start = buf.len();
        let (_, kind, help) = REPORT_FAMILIES
            .iter()
            .find(|f| f.0 == name)
            .copied()
            .unwrap_or((name, "gauge", ""));
        debug_assert!(!help.is_empty(), "unknown family {name}");
        buf.push_str("# HELP ");
        buf.push_str(name);
        buf.push(' ');
        escape(buf, help, false);
        buf.push_str("\n# TYPE ");
        buf.push_str(name);
        buf.push(' ');
        buf.push_str(kind);
        buf.push('\n');
        Self {
            out,
            name,
            start,
            samples: 0,
        }
    }

    /// One sample; `labels` is already escaped, `extra` is a label whose value needs no escaping (a state name,
    /// a shard number).
    fn sample(&mut self, labels: &str, extra: Option<(&str, &dyn std::fmt::Display)>, value: f64) {
        use std::fmt::Write;
        let buf = &mut self.out.buf;
        buf.push_str(self.name);
        if labels.is_empty() && extra.is_none() {
            buf.push(' ');
        } else {
            buf.push('{');
            buf.push_str(labels);
            if let Some((name, v)) = extra {
                if !labels.is_empty() {
                    buf.push(',');
                }
                let _ = write!(buf, "{name}=\"{v}\"");
            }
            buf.push_str("} ");
        }
        // Integral values (nearly all of them) print as integers, as `f64`'s own formatting does, only faster.
        if value.fract() == 0.0 && value.abs() < 1e15 {
            let _ = write!(buf, "{}", value as i64);
        } else {
            let _ = write!(buf, "{value}");
        }
        buf.push('\n');
        self.samples += 1;
        self.out.written();
    }

    fn end(self) {
        if self.samples == 0 {
            self.out.buf.truncate(self.start);
        }
    }
}

/// A 0/1 sample.
fn flag(on: bool) -> f64 {
    if on {
        1.0
    } else {
        0.0
    }
}

/// A counter sample from an Elasticsearch count, which is never shown below 0.
fn count(n: i64) -> f64 {
    n.max(0) as f64
}

/// The per-follower families, labelled with the follower's key only (`follower_cluster`, `follower_index`), and
/// how each takes its value from a follower (`None`: no series for that follower).
type FollowerValue = fn(&FollowerReport) -> Option<f64>;
const FOLLOWER_FAMILIES: &[(&str, FollowerValue)] = &[
    ("elasticsearch_ccr_follower_global_checkpoint_lag", |f| {
        Some(f.observation.shards.as_ref()?.global_checkpoint_lag as f64)
    }),
    (
        "elasticsearch_ccr_follower_time_since_last_read_seconds",
        |f| {
            let ms = f
                .observation
                .shards
                .as_ref()?
                .max_time_since_last_read_millis?;
            Some(ms as f64 / 1000.0)
        },
    ),
    ("elasticsearch_ccr_follower_paused", |f| {
        Some(flag(
            f.observation.status? == crate::es::FollowerStatus::Paused,
        ))
    }),
    ("elasticsearch_ccr_follower_fatal_exception", |f| {
        Some(f.observation.shards.as_ref()?.fatal_exceptions.len() as f64)
    }),
    ("elasticsearch_ccr_follower_read_exceptions", |f| {
        Some(f.observation.shards.as_ref()?.read_exceptions as f64)
    }),
    ("elasticsearch_ccr_follower_shards", |f| {
        match &f.observation.shards {
            Some(sh) => Some(f64::from(sh.shards)),
            // A paused follower has no shard tasks; say so rather than leaving the series absent.
            None => f.observation.status.map(|_| 0.0),
        }
    }),
    ("elasticsearch_ccr_follower_operations_written_total", |f| {
        Some(count(f.observation.shards.as_ref()?.operations_written))
    }),
    (
        "elasticsearch_ccr_follower_failed_read_requests_total",
        |f| Some(count(f.observation.shards.as_ref()?.failed_read_requests)),
    ),
    ("elasticsearch_ccr_follower_bytes_read_total", |f| {
        Some(count(f.observation.shards.as_ref()?.bytes_read))
    }),
    ("elasticsearch_ccr_leader_index_docs", |f| {
        Some(f.observation.docs.as_ref()?.leader_docs? as f64)
    }),
    ("elasticsearch_ccr_follower_index_docs", |f| {
        Some(f.observation.docs.as_ref()?.follower_docs? as f64)
    }),
    ("ccr_sentinel_follower_lag_seconds", |f| {
        Some(f.time.as_ref()?.lag_seconds)
    }),
    ("ccr_sentinel_follower_lag_lower_bound", |f| {
        Some(flag(f.time.as_ref()?.lag_lower_bound))
    }),
    ("ccr_sentinel_follower_catchup_eta_seconds", |f| {
        f.time.as_ref()?.catchup_eta_seconds
    }),
    ("ccr_sentinel_follower_rpo_seconds", |f| {
        Some(f.time.as_ref()?.rpo_seconds)
    }),
    ("ccr_sentinel_follower_ops_at_risk", |f| {
        Some(count(f.time.as_ref()?.ops_at_risk))
    }),
    (
        "ccr_sentinel_follower_retention_lease_margin_seconds",
        |f| f.time.as_ref()?.retention_lease_margin_seconds,
    ),
    (
        "ccr_sentinel_follower_retention_lease_period_seconds",
        |f| {
            let t = f.time.as_ref()?;
            t.retention_lease_margin_seconds?;
            Some(t.retention_lease_period_seconds)
        },
    ),
    ("ccr_sentinel_follower_grade_completeness", |f| {
        Some(f.time.as_ref()?.completeness)
    }),
    ("ccr_sentinel_follower_bootstrap_progress_ratio", |f| {
        Some(f.observation.bootstrap.as_ref()?.progress_ratio())
    }),
    ("ccr_sentinel_follower_bootstrap_bytes_recovered", |f| {
        Some(f.observation.bootstrap.as_ref()?.bytes_recovered as f64)
    }),
    ("ccr_sentinel_follower_bootstrap_bytes_total", |f| {
        Some(f.observation.bootstrap.as_ref()?.bytes_total as f64)
    }),
    ("ccr_sentinel_follower_bootstrap_eta_seconds", |f| {
        f.observation.bootstrap.as_ref()?.eta_seconds
    }),
];

/// The follower families outside the default set, rendered only with `[metrics] detailed = true`: no shipped
/// alert or recording rule needs them, `/status` shows the same values, and each costs a series per follower
/// (docs/metrics.md, "Size and cost", has the measured reason for each).
const DETAILED_FAMILIES: &[&str] = &[
    "elasticsearch_ccr_follower_paused",
    "elasticsearch_ccr_follower_read_exceptions",
    "elasticsearch_ccr_follower_shards",
    "ccr_sentinel_follower_lag_lower_bound",
    "ccr_sentinel_follower_catchup_eta_seconds",
    "ccr_sentinel_follower_ops_at_risk",
];

impl ReportRenderer {
    /// Makes `followers` hold the label strings of the report's followers, reusing those whose labels did not
    /// change. The report lists followers in key order, so one merge pass pairs old and new.
    fn refresh_labels(&mut self, report: &[FollowerReport]) {
        let mut next = std::mem::take(&mut self.spare);
        next.clear();
        let mut old = std::mem::take(&mut self.followers);
        {
            let mut old_iter = old.drain(..).peekable();
            for f in report {
                let o = &f.observation;
                let key = (o.follower_cluster.as_str(), o.follower_index.as_str());
                while old_iter.next_if(|e| e.key() < key).is_some() {}
                let entry = old_iter
                    .next_if(|e| e.labels_of(o))
                    .unwrap_or_else(|| FollowerLabels::new(o));
                next.push(entry);
            }
        }
        self.spare = old;
        self.followers = next;
    }

    /// The body of a scrape of `report` with the registry's `families` after its own, gzipped when `gzip` (and
    /// compression works).
    fn scrape(
        &mut self,
        report: &Arc<Report>,
        families: &[prometheus::proto::MetricFamily],
        gzip: bool,
    ) -> Result<Exposition, prometheus::Error> {
        self.own.clear();
        TextEncoder::new().encode_utf8(families, &mut self.own)?;
        if !std::ptr::eq(self.rendered.as_ptr(), Arc::as_ptr(report)) {
            self.rendered = Weak::new();
            // The buffers of the report before come back unless an answer still holds them.
            self.spare_text = self
                .text
                .take()
                .and_then(|t| t.try_into_mut().ok())
                .map(|mut m| {
                    m.clear();
                    String::from_utf8(m.into()).unwrap_or_default()
                });
            if let Some(Ok(mut m)) = self.deflated.take().map(|d| d.bytes.try_into_mut()) {
                m.clear();
                self.spare_deflated = m.into();
            }
            self.refresh_labels(&report.followers);
            self.rendered = Arc::downgrade(report);
        }
        if gzip {
            match self.gzipped(report) {
                Ok(x) => return Ok(x),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot gzip /metrics; sending it uncompressed")
                }
            }
        }
        Ok(Exposition {
            parts: vec![
                self.text(report),
                Bytes::copy_from_slice(self.own.as_bytes()),
            ],
            gzipped: false,
        })
    }

    /// The bytes this renderer keeps between scrapes (the compressor's tables aside).
    #[cfg(test)]
    fn kept_bytes(&self) -> usize {
        let labels = |l: &FollowerLabels| {
            std::mem::size_of::<FollowerLabels>()
                + [
                    &l.follower_cluster,
                    &l.follower_index,
                    &l.remote_cluster,
                    &l.leader_index,
                    &l.escaped,
                    &l.info,
                ]
                .iter()
                .map(|s| s.capacity())
                .sum::<usize>()
        };
        self.text.as_ref().map_or(0, Bytes::len)
            + self.deflated.as_ref().map_or(0, |d| d.bytes.len())
            + self.spare_text.as_ref().map_or(0, String::capacity)
            + self.spare_deflated.capacity()
            + self.chunk.capacity()
            + self.own.capacity()
            + self.scratch.capacity()
            + self.followers.iter().map(labels).sum::<usize>()
            + self.spare.capacity() * std::mem::size_of::<FollowerLabels>()
    }

    /// The text of the report's families, written now unless a scrape of that report wrote it before.
    fn text(&mut self, report: &Report) -> Bytes {
        if let Some(t) = &self.text {
            return t.clone();
        }
        let mut buf = self.spare_text.take().unwrap_or_default();
        buf.reserve(self.text_len + self.text_len / 16);
        let mut out = Out { buf, z: None };
        write_report(&mut out, report, &self.followers, &mut self.scratch);
        let mut buf = out.buf;
        // Kept while scrapes of that report come, but not at the size of a report of many more followers.
        if buf.capacity() > buf.len() + buf.len() / 8 + CHUNK {
            buf.shrink_to(buf.len() + buf.len() / 16);
        }
        self.text_len = buf.len();
        let t = Bytes::from(buf.into_bytes());
        self.text = Some(t.clone());
        t
    }

    /// The compressor, ready for a new stream.
    fn compressor(&mut self) -> flate2::Compress {
        match self.compress.take() {
            Some(mut c) => {
                c.reset();
                c
            }
            None => flate2::Compress::new(flate2::Compression::fast(), false),
        }
    }

    /// The gzipped body: the report's families compressed (written now, a chunk at a time, unless a scrape of
    /// that report did it before), then the registry's and the gzip trailer, compressed now.
    fn gzipped(&mut self, report: &Report) -> Result<Exposition, flate2::CompressError> {
        let report_part = match self.deflated.take() {
            Some(d) => d,
            None => self.deflate_report(report)?,
        };
        let tail = self.gzip_tail(&report_part.crc);
        let body = report_part.bytes.clone();
        self.deflated = Some(report_part);
        Ok(Exposition {
            parts: vec![Bytes::from_static(&GZIP_HEADER), body, tail?],
            gzipped: true,
        })
    }

    /// The report's families compressed: from the text when a plain scrape wrote it, else written a chunk at a
    /// time.
    fn deflate_report(&mut self, report: &Report) -> Result<Deflated, flate2::CompressError> {
        let mut out = std::mem::take(&mut self.spare_deflated);
        out.clear();
        out.reserve(self.deflated_len + self.deflated_len / 8);
        let mut z = Deflater::new(self.compressor(), out);
        if let Some(text) = &self.text {
            z.feed(text, flate2::FlushCompress::Sync);
        } else {
            self.spare_text = None;
            let mut chunk = std::mem::take(&mut self.chunk);
            chunk.clear();
            let mut out = Out {
                buf: chunk,
                z: Some(&mut z),
            };
            write_report(&mut out, report, &self.followers, &mut self.scratch);
            let mut chunk = out.buf;
            z.feed(chunk.as_bytes(), flate2::FlushCompress::Sync);
            chunk.clear();
            self.chunk = chunk;
            self.text_len = z.crc.amount() as usize;
        }
        let Deflater {
            compress,
            out,
            crc,
            failed,
        } = z;
        self.compress = Some(compress);
        if let Some(e) = failed {
            return Err(e);
        }
        self.deflated_len = out.len();
        Ok(Deflated {
            bytes: Bytes::from(out),
            crc,
        })
    }

    /// The registry's families compressed from a fresh state, the final block, and the gzip trailer of the
    /// whole text (`report_crc` is the report's families').
    fn gzip_tail(&mut self, report_crc: &flate2::Crc) -> Result<Bytes, flate2::CompressError> {
        let mut z = Deflater::new(
            self.compressor(),
            Vec::with_capacity(self.own.len() / 2 + 64),
        );
        z.feed(self.own.as_bytes(), flate2::FlushCompress::Finish);
        let Deflater {
            compress,
            mut out,
            crc: own_crc,
            failed,
        } = z;
        self.compress = Some(compress);
        if let Some(e) = failed {
            return Err(e);
        }
        let mut crc = flate2::Crc::new();
        crc.combine(report_crc);
        crc.combine(&own_crc);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&crc.amount().to_le_bytes());
        Ok(Bytes::from(out))
    }
}

/// Writes the report's families into `out`.
fn write_report(
    out: &mut Out<'_>,
    report: &Report,
    followers: &[FollowerLabels],
    scratch: &mut String,
) {
    let rows = || report.followers.iter().zip(followers.iter());
    // What does not change for a follower is written once, on its info series: repeated on each of its
    // series, remote_cluster and leader_index would be a third of the exposition (docs/metrics.md, "Size and
    // cost").
    let mut fam = Family::begin(out, "ccr_sentinel_follower_info");
    for (_, l) in rows() {
        fam.sample(&l.info, None, 1.0);
    }
    fam.end();
    for (name, value) in FOLLOWER_FAMILIES {
        if !report.detailed_metrics && DETAILED_FAMILIES.contains(name) {
            continue;
        }
        let mut fam = Family::begin(out, name);
        for (f, l) in rows() {
            if let Some(v) = value(f) {
                fam.sample(&l.escaped, None, v);
            }
        }
        fam.end();
    }
    // One series per follower, the current verdict's: with 13 states, one 0/1 series per state was 13
    // times the labels of every follower, half the exposition at 2,000 followers (docs/metrics.md).
    let mut fam = Family::begin(out, "ccr_sentinel_follower_state");
    for (f, l) in rows() {
        fam.sample(&l.escaped, Some(("state", &f.state.as_str())), 1.0);
    }
    fam.end();
    let mut fam = Family::begin(out, "ccr_sentinel_follower_grade");
    for (f, l) in rows() {
        if let Some(t) = &f.time {
            fam.sample(&l.escaped, Some(("grade", &t.grade.as_str())), 1.0);
        }
    }
    fam.end();
    if report.per_shard_metrics {
        let mut fam = Family::begin(
            out,
            "elasticsearch_ccr_follower_shard_global_checkpoint_lag",
        );
        for (f, l) in rows() {
            for d in f.observation.shards.iter().flat_map(|sh| &sh.per_shard) {
                let v = d.global_checkpoint_lag as f64;
                fam.sample(&l.escaped, Some(("shard", &d.shard_id)), v);
            }
        }
        fam.end();
        let mut fam = Family::begin(
            out,
            "elasticsearch_ccr_follower_shard_time_since_last_read_seconds",
        );
        for (f, l) in rows() {
            for d in f.observation.shards.iter().flat_map(|sh| &sh.per_shard) {
                if let Some(ms) = d.time_since_last_read_millis {
                    fam.sample(&l.escaped, Some(("shard", &d.shard_id)), ms as f64 / 1000.0);
                }
            }
        }
        fam.end();
    }
    let remote_labels = |scratch: &mut String, r: &RemoteReport| {
        scratch.clear();
        label(scratch, "follower_cluster", &r.follower_cluster);
        scratch.push(',');
        label(scratch, "remote_cluster", &r.remote_cluster);
    };
    let mut fam = Family::begin(out, "elasticsearch_ccr_remote_cluster_connected");
    for r in &report.remotes {
        remote_labels(scratch, r);
        scratch.push(',');
        label(scratch, "mode", &r.mode);
        fam.sample(scratch, None, flag(r.connected));
    }
    fam.end();
    let mut fam = Family::begin(out, "elasticsearch_ccr_remote_cluster_nodes_connected");
    for r in &report.remotes {
        remote_labels(scratch, r);
        fam.sample(scratch, None, r.nodes_connected as f64);
    }
    fam.end();
    let mut fam = Family::begin(out, "ccr_sentinel_remote_heartbeat_delay_seconds");
    for r in &report.remotes {
        if let Some(d) = r.heartbeat_delay_seconds {
            remote_labels(scratch, r);
            fam.sample(scratch, None, d);
        }
    }
    fam.end();
    type AutoFollowValue = fn(&AutoFollowStats) -> f64;
    let auto_follow: [(&'static str, AutoFollowValue); 4] = [
        (
            "elasticsearch_ccr_auto_follow_failed_follow_indices_total",
            |s| count(s.number_of_failed_follow_indices),
        ),
        (
            "elasticsearch_ccr_auto_follow_successful_follow_indices_total",
            |s| count(s.number_of_successful_follow_indices),
        ),
        (
            "elasticsearch_ccr_auto_follow_failed_remote_cluster_state_requests_total",
            |s| count(s.number_of_failed_remote_cluster_state_requests),
        ),
        ("elasticsearch_ccr_auto_follow_recent_errors", |s| {
            s.recent_auto_follow_errors.len() as f64
        }),
    ];
    for (name, value) in auto_follow {
        let mut fam = Family::begin(out, name);
        for a in &report.auto_follow {
            scratch.clear();
            label(scratch, "follower_cluster", &a.follower_cluster);
            fam.sample(scratch, None, value(&a.stats));
        }
        fam.end();
    }
    type ClusterValue = fn(&ClusterReport) -> bool;
    let clusters: [(&'static str, ClusterValue); 3] = [
        ("ccr_sentinel_cluster_up", |c| c.up),
        ("ccr_sentinel_cluster_stale", |c| c.stale),
        ("ccr_sentinel_cluster_insecure_tls", |c| {
            c.insecure_skip_verify
        }),
    ];
    for (name, value) in clusters {
        let mut fam = Family::begin(out, name);
        for c in &report.clusters {
            scratch.clear();
            label(scratch, "cluster", &c.name);
            fam.sample(scratch, None, flag(value(c)));
        }
        fam.end();
    }
    let mut fam = Family::begin(out, "ccr_sentinel_remote_api_key_expiry_seconds");
    for k in &report.remote_keys {
        if let Some(secs) = k.expiry_seconds {
            scratch.clear();
            label(scratch, "follower_cluster", &k.follower_cluster);
            scratch.push(',');
            label(scratch, "remote_cluster", &k.remote_cluster);
            fam.sample(scratch, None, secs as f64);
        }
    }
    fam.end();
    let mut fam = Family::begin(out, "ccr_sentinel_credential_expiry_seconds");
    for c in &report.credentials {
        if let Some(secs) = c.expiry_seconds {
            scratch.clear();
            label(scratch, "cluster", &c.cluster);
            fam.sample(scratch, None, secs as f64);
        }
    }
    fam.end();
    let stream_labels = |scratch: &mut String, d: &DataStreamReport| {
        scratch.clear();
        label(scratch, "follower_cluster", &d.follower_cluster);
        scratch.push(',');
        label(scratch, "data_stream", &d.data_stream);
    };
    let mut fam = Family::begin(out, "ccr_sentinel_data_stream_followers");
    for d in &report.data_streams {
        stream_labels(scratch, d);
        for s in FollowerState::ALL {
            let n = d.followers.get(&s).copied().unwrap_or(0);
            fam.sample(scratch, Some(("state", &s.as_str())), n as f64);
        }
    }
    fam.end();
    type StreamValue = fn(&DataStreamReport) -> Option<f64>;
    let streams: [(&'static str, StreamValue); 4] = [
        ("ccr_sentinel_data_stream_backing_indices", |d| {
            Some(d.backing_indices.len() as f64)
        }),
        ("ccr_sentinel_data_stream_lag_seconds", |d| {
            d.max_lag_seconds
        }),
        ("ccr_sentinel_data_stream_docs_difference", |d| {
            d.docs_difference.map(|v| v as f64)
        }),
        ("ccr_sentinel_data_stream_unfollowed_matches", |d| {
            Some(d.unfollowed_matches as f64)
        }),
    ];
    for (name, value) in streams {
        let mut fam = Family::begin(out, name);
        for d in &report.data_streams {
            if let Some(v) = value(d) {
                stream_labels(scratch, d);
                fam.sample(scratch, None, v);
            }
        }
        fam.end();
    }
    render_dr(out, scratch, &report.dr);
}

/// The DR families: one series set per pair of the report's `dr` section.
fn render_dr(out: &mut Out<'_>, scratch: &mut String, dr: &crate::evaluate::dr::DrReport) {
    let pair_cluster = |scratch: &mut String, pair: &str, cluster: &str| {
        scratch.clear();
        label(scratch, "pair", pair);
        scratch.push(',');
        label(scratch, "cluster", cluster);
    };
    let mut fam = Family::begin(out, "ccr_sentinel_dr_active");
    for p in &dr.pairs {
        for c in &p.clusters {
            pair_cluster(scratch, &p.pair, c);
            fam.sample(scratch, None, flag(*c == p.active));
        }
    }
    fam.end();
    let mut fam = Family::begin(out, "ccr_sentinel_dr_last_switchover_timestamp_seconds");
    for p in &dr.pairs {
        if let Some(at) = p.last.as_ref().and_then(|m| m.finished_at) {
            scratch.clear();
            label(scratch, "pair", &p.pair);
            fam.sample(scratch, None, at.timestamp() as f64);
        }
    }
    fam.end();
    let mut fam = Family::begin(out, "ccr_sentinel_dr_switchover_in_progress");
    for p in dr.pairs.iter().filter(|p| p.switched) {
        scratch.clear();
        label(scratch, "pair", &p.pair);
        fam.sample(scratch, None, flag(p.in_progress));
    }
    fam.end();
    let mut fam = Family::begin(out, "ccr_sentinel_dr_replicating_followers");
    for p in &dr.pairs {
        pair_cluster(scratch, &p.pair, &p.passive);
        fam.sample(scratch, None, p.replicating_followers as f64);
    }
    fam.end();
    let mut fam = Family::begin(out, "ccr_sentinel_dr_topology_problems");
    fam.sample("", None, dr.problems.len() as f64);
    fam.end();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::Snapshot;
    use crate::testing::{fixture_config, poll, polled_6_8};
    use chrono::Utc;

    fn publish(shared: &SharedReport, snap: &Snapshot) {
        *shared.write().unwrap() = Arc::new(Report::build(&fixture_config(), snap, Utc::now()));
    }

    fn promtool_check(text: &str) {
        use std::io::Write;
        let child = std::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn();
        let Ok(mut child) = child else {
            eprintln!("promtool not installed; skipping the lint (apt-get install prometheus)");
            return;
        };
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool check metrics failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn exposition_has_the_documented_families_and_passes_promtool() {
        let shared = SharedReport::default();
        let metrics = Metrics::new(shared.clone());
        metrics.own.init_job("poll");
        let mut snap = Snapshot::default();
        snap.apply_poll(poll(
            "versions/ccr_stats_response_7.10.json",
            "versions/follow_info_response_6.8.json",
            "versions/remote_info_response_7.10.json",
        ));
        publish(&shared, &snap);
        let text = metrics.render().unwrap();
        let l = r#"follower_cluster="follower",follower_index="orders-copy""#;
        for line in [
            format!("ccr_sentinel_follower_info{{{l},remote_cluster=\"leader\",leader_index=\"orders\",managed=\"true\"}} 1"),
            format!("elasticsearch_ccr_follower_global_checkpoint_lag{{{l}}} 60"),
            format!("elasticsearch_ccr_follower_fatal_exception{{{l}}} 1"),
            format!("elasticsearch_ccr_follower_time_since_last_read_seconds{{{l}}} 0.12"),
            format!("ccr_sentinel_follower_state{{{l},state=\"failed\"}} 1"),
            "# TYPE elasticsearch_ccr_follower_operations_written_total counter".to_string(),
            r#"elasticsearch_ccr_remote_cluster_connected{follower_cluster="follower",remote_cluster="leader",mode="sniff"} 0"#.to_string(),
            r#"elasticsearch_ccr_auto_follow_failed_remote_cluster_state_requests_total{follower_cluster="follower"} 2"#.to_string(),
            r#"ccr_sentinel_cluster_up{cluster="follower"} 1"#.to_string(),
            r#"ccr_sentinel_cluster_up{cluster="leader"} 0"#.to_string(),
            r#"ccr_sentinel_job_skipped_total{job_name="poll"} 0"#.to_string(),
            r#"ccr_sentinel_build_info{version=""#.to_string(),
            "# TYPE ccr_sentinel_poll_duration_seconds histogram".to_string(),
        ] {
            assert!(text.contains(&line), "missing `{line}` in:\n{text}");
        }
        // The current verdict only: no 0 series for the other states.
        let states: Vec<&str> = text
            .lines()
            .filter(|s| s.starts_with(&format!("ccr_sentinel_follower_state{{{l},")))
            .collect();
        assert_eq!(
            states,
            [format!(
                "ccr_sentinel_follower_state{{{l},state=\"failed\"}} 1"
            )]
        );
        promtool_check(&text);
        for name in DETAILED_FAMILIES {
            assert!(!text.contains(name), "{name} in the default set:\n{text}");
        }
        let mut report = Report::build(&fixture_config(), &snap, Utc::now());
        report.detailed_metrics = true;
        *shared.write().unwrap() = Arc::new(report);
        let text = metrics.render().unwrap();
        for line in [
            format!("elasticsearch_ccr_follower_read_exceptions{{{l}}} 1"),
            format!("elasticsearch_ccr_follower_shards{{{l}}} 2"),
            format!("elasticsearch_ccr_follower_paused{{{l}}} 0"),
        ] {
            assert!(text.contains(&line), "missing `{line}` in:\n{text}");
        }
        promtool_check(&text);
    }

    /// The text of a body, gunzipped when it is gzipped (which checks the CRC and length of the trailer).
    fn text_of(x: &Exposition) -> String {
        let body = x.to_vec();
        if !x.gzipped {
            return String::from_utf8(body).unwrap();
        }
        let mut plain = String::new();
        let mut z = flate2::read::GzDecoder::new(&body[..]);
        std::io::Read::read_to_string(&mut z, &mut plain).unwrap();
        // One gzip member, nothing after it.
        assert_eq!(
            std::io::Read::read(&mut z.into_inner(), &mut [0; 1]).unwrap(),
            0
        );
        plain
    }

    #[test]
    fn a_kept_text_is_the_text_a_fresh_renderer_writes() {
        let metrics = Metrics::new(SharedReport::default());
        metrics.own.init_job("poll");
        let families = metrics.registry.gather();
        let fresh = |r: &Arc<Report>| {
            let mut renderer = ReportRenderer::default();
            text_of(&renderer.scrape(r, &families, false).unwrap())
        };
        // Enough followers for the gzipped text to be written in many chunks.
        let first = Arc::new(super::scale::big_report(400));
        let mut changed = (*first).clone();
        changed.followers[2].observation.leader_index = "elsewhere".into();
        changed.followers[2].state = FollowerState::Paused;
        changed.followers.remove(0);
        let changed = Arc::new(changed);
        let same_content = Arc::new((*changed).clone());
        let mut kept = ReportRenderer::default();
        for (step, (r, gzip)) in [
            (&first, true),
            (&first, false),
            (&first, true),
            (&changed, false),
            (&changed, true),
            (&same_content, true),
            (&same_content, false),
            (&first, false),
            (&first, false),
        ]
        .into_iter()
        .enumerate()
        {
            let x = kept.scrape(r, &families, gzip).unwrap();
            assert_eq!(x.gzipped, gzip, "step {step}");
            assert_eq!(text_of(&x), fresh(r), "step {step}");
        }
        let text = fresh(&first);
        assert!(text.contains(
            r#"{follower_cluster="follower",follower_index="index-000002",state="healthy"} 1"#
        ));
        assert!(text.len() > 10 * CHUNK, "{}", text.len());
        let gone = fresh(&changed);
        assert!(gone.contains(
            r#"{follower_cluster="follower",follower_index="index-000002",state="paused"} 1"#
        ));
        assert!(gone.contains(
            r#"ccr_sentinel_follower_info{follower_cluster="follower",follower_index="index-000002",remote_cluster="leader",leader_index="elsewhere",managed="true"} 1"#
        ));
        assert!(!gone.contains(r#"follower_index="index-000000""#));
    }

    #[test]
    fn scrapes_of_the_same_report_share_its_kept_families() {
        let metrics = Metrics::new(SharedReport::default());
        let families = metrics.registry.gather();
        let report = Arc::new(super::scale::big_report(400));
        let mut r = ReportRenderer::default();
        let start = |x: &Exposition, part: usize| x.clone().into_parts()[part].as_ptr();
        let gz = r.scrape(&report, &families, true).unwrap();
        // Only the compressed families are kept: a scraper that asks for gzip never has the text held.
        assert!(r.text.is_none());
        assert!(r.deflated.is_some());
        let text_len = text_of(&gz).len();
        assert!(
            r.kept_bytes() < text_len / 2,
            "{} of {text_len}",
            r.kept_bytes()
        );
        let again = r.scrape(&report, &families, true).unwrap();
        assert_eq!(start(&gz, 1), start(&again, 1));
        assert_eq!(text_of(&gz), text_of(&again));
        let plain = r.scrape(&report, &families, false).unwrap();
        let again = r.scrape(&report, &families, false).unwrap();
        assert_eq!(start(&plain, 0), start(&again, 0));
        assert_eq!(text_of(&plain), text_of(&gz));
        // A new report: nothing of the old one is answered.
        let mut next = (*report).clone();
        next.followers.truncate(10);
        let next = Arc::new(next);
        let x = r.scrape(&next, &families, true).unwrap();
        assert_ne!(text_of(&x), text_of(&gz));
        assert!(x.gzipped);
        assert!(r.text.is_none());
        assert_eq!(
            text_of(&x).matches("ccr_sentinel_follower_info{").count(),
            10
        );
    }

    #[test]
    fn a_scrape_of_the_same_report_shows_the_registry_as_it_is_now() {
        let shared = SharedReport::default();
        *shared.write().unwrap() = Arc::new(super::scale::big_report(2));
        let metrics = Metrics::new(shared);
        metrics.own.init_job("poll");
        assert!(metrics
            .render()
            .unwrap()
            .contains(r#"ccr_sentinel_job_skipped_total{job_name="poll"} 0"#));
        metrics.own.job_skipped.with_label_values(&["poll"]).inc();
        let text = metrics.render().unwrap();
        assert!(
            text.contains(r#"ccr_sentinel_job_skipped_total{job_name="poll"} 1"#),
            "{text}"
        );
        assert_eq!(
            text.matches("# TYPE ccr_sentinel_follower_state ").count(),
            1
        );
        promtool_check(&text);
    }

    #[test]
    fn a_gzipped_scrape_is_the_text_gzipped() {
        let shared = SharedReport::default();
        *shared.write().unwrap() = Arc::new(super::scale::big_report(3));
        let metrics = Metrics::new(shared);
        let gunzip = |x: Exposition| {
            assert!(x.gzipped);
            text_of(&x)
        };
        let text = metrics.render().unwrap();
        for _ in 0..2 {
            assert_eq!(gunzip(metrics.scrape(true).unwrap()), text);
        }
        // A counter moved since: the same report, a new answer.
        metrics.lifecycle.failed();
        let now = gunzip(metrics.scrape(true).unwrap());
        assert_ne!(now, text);
        assert!(now.contains(r#"ccr_sentinel_config_reloads_total{result="failure"} 1"#));
        assert_eq!(now, metrics.render().unwrap());
        // A new report with the same content: the same text.
        let same = (**metrics.report.read().unwrap()).clone();
        *metrics.report.write().unwrap() = Arc::new(same);
        assert_eq!(gunzip(metrics.scrape(true).unwrap()), now);
        let x = metrics.scrape(false).unwrap();
        assert!(!x.gzipped);
        assert_eq!(text_of(&x), now);
    }

    #[test]
    fn every_registered_family_is_documented_and_every_documented_one_registered() {
        let m = Metrics::new(SharedReport::default());
        m.own
            .request_errors
            .with_label_values(&["c", "root", "other"])
            .inc();
        m.own.init_job("poll");
        m.own.job_last_success.with_label_values(&["poll"]).set(1.0);
        m.actions.count_reconcile("follow", "success");
        m.actions.count_rule("pause_follow", "stalled", "success");
        m.actions
            .heartbeat_writes
            .with_label_values(&["leader", "success"])
            .inc();
        m.reconcile
            .publish_blocked([["c", "follower", "x", "other"]]);
        m.reconcile
            .preflight_problems
            .with_label_values(&["license"])
            .set(1.0);
        let mut registered: std::collections::BTreeSet<String> = m
            .registry
            .gather()
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        registered.extend(REPORT_FAMILIES.iter().map(|f| f.0.to_string()));
        let rendered: std::collections::BTreeSet<&str> =
            FOLLOWER_FAMILIES.iter().map(|f| f.0).collect();
        assert!(rendered
            .iter()
            .all(|n| REPORT_FAMILIES.iter().any(|f| f.0 == *n)));
        let documented: std::collections::BTreeSet<String> = include_str!("../docs/metrics.md")
            .lines()
            .filter_map(|l| Some(l.strip_prefix("| `")?.split_once('`')?.0))
            .filter(|n| n.starts_with("ccr_sentinel_") || n.starts_with("elasticsearch_ccr_"))
            .map(String::from)
            .collect();
        assert_eq!(registered, documented);
    }

    #[test]
    fn a_request_failure_is_counted_by_cluster_endpoint_and_reason() {
        let m = SelfMetrics::new();
        let error = crate::es::EsError::Client {
            cluster: "a".into(),
            message: "bad header".into(),
        };
        for repeated in [false, true] {
            RequestFailed {
                cluster: "a",
                error: &error,
                stage: Some("reconcile"),
                repeated,
            }
            .emit(&m);
        }
        let endpoint = error.endpoint().map(|e| e.as_str()).unwrap_or("client");
        assert_eq!(
            m.request_errors
                .with_label_values(&["a", endpoint, error.reason()])
                .get(),
            2
        );
    }

    #[test]
    fn per_shard_series_only_when_enabled() {
        let shared = SharedReport::default();
        let metrics = Metrics::new(shared.clone());
        let mut snap = Snapshot::default();
        snap.apply_poll(poll(
            "versions/ccr_stats_response_7.10.json",
            "versions/follow_info_response_6.8.json",
            "versions/remote_info_response_7.10.json",
        ));
        publish(&shared, &snap);
        assert!(!metrics.render().unwrap().contains("_shard_"));
        let mut report = Report::build(&fixture_config(), &snap, Utc::now());
        report.per_shard_metrics = true;
        *shared.write().unwrap() = Arc::new(report);
        let text = metrics.render().unwrap();
        let l = r#"follower_cluster="follower",follower_index="orders-copy""#;
        for line in [
            format!("elasticsearch_ccr_follower_shard_global_checkpoint_lag{{{l},shard=\"0\"}} 20"),
            format!("elasticsearch_ccr_follower_shard_global_checkpoint_lag{{{l},shard=\"1\"}} 40"),
            format!("elasticsearch_ccr_follower_shard_time_since_last_read_seconds{{{l},shard=\"1\"}} 0.12"),
        ] {
            assert!(text.contains(&line), "missing `{line}` in:\n{text}");
        }
        // A shard that never read (-1) has no time-since-last-read series.
        assert!(!text.contains(r#"elasticsearch_ccr_follower_shard_time_since_last_read_seconds{follower_cluster="follower",follower_index="fresh-copy""#));
        promtool_check(&text);
    }

    #[test]
    fn detailed_families_only_when_enabled() {
        let shared = SharedReport::default();
        let metrics = Metrics::new(shared.clone());
        let mut report = super::scale::big_report(2);
        *shared.write().unwrap() = Arc::new(report.clone());
        let text = metrics.render().unwrap();
        for name in DETAILED_FAMILIES {
            assert!(!text.contains(name), "{name} in the default set:\n{text}");
        }
        assert!(
            text.contains("ccr_sentinel_follower_lag_seconds{"),
            "{text}"
        );
        report.detailed_metrics = true;
        *shared.write().unwrap() = Arc::new(report);
        let text = metrics.render().unwrap();
        let l = r#"follower_cluster="follower",follower_index="index-000001""#;
        for line in [
            format!("elasticsearch_ccr_follower_paused{{{l}}} 0"),
            format!("elasticsearch_ccr_follower_read_exceptions{{{l}}} 0"),
            format!("elasticsearch_ccr_follower_shards{{{l}}} 5"),
            format!("ccr_sentinel_follower_lag_lower_bound{{{l}}} 0"),
            format!("ccr_sentinel_follower_catchup_eta_seconds{{{l}}} 3"),
            format!("ccr_sentinel_follower_ops_at_risk{{{l}}} 12"),
        ] {
            assert!(text.contains(&line), "missing `{line}` in:\n{text}");
        }
        promtool_check(&text);
    }

    #[test]
    fn follower_series_carry_the_key_and_the_info_series_the_rest() {
        let shared = SharedReport::default();
        let metrics = Metrics::new(shared.clone());
        let mut report = super::scale::big_report(3);
        report.detailed_metrics = true;
        report.per_shard_metrics = true;
        report.followers[2].observation.managed = false;
        *shared.write().unwrap() = Arc::new(report);
        let text = metrics.render().unwrap();
        let follower_lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains("follower_index=\""))
            .collect();
        // Every follower family of the set, detailed and per-shard ones included, for 3 followers.
        assert!(follower_lines.len() > 3 * 25, "{text}");
        for l in &follower_lines {
            let labels = l.split_once('{').unwrap().1;
            if l.starts_with("ccr_sentinel_follower_info{") {
                assert!(
                    labels
                        .starts_with(r#"follower_cluster="follower",follower_index="index-00000"#),
                    "{l}"
                );
                continue;
            }
            assert!(
                labels.starts_with(r#"follower_cluster="follower",follower_index="index-00000"#)
                    && !labels.contains("remote_cluster=")
                    && !labels.contains("leader_index=")
                    && !labels.contains("managed="),
                "{l}"
            );
        }
        let info: Vec<&str> = follower_lines
            .iter()
            .copied()
            .filter(|l| l.starts_with("ccr_sentinel_follower_info{"))
            .collect();
        assert_eq!(
            info,
            [
                r#"ccr_sentinel_follower_info{follower_cluster="follower",follower_index="index-000000",remote_cluster="leader",leader_index="index-000000",managed="true"} 1"#,
                r#"ccr_sentinel_follower_info{follower_cluster="follower",follower_index="index-000001",remote_cluster="leader",leader_index="index-000001",managed="true"} 1"#,
                r#"ccr_sentinel_follower_info{follower_cluster="follower",follower_index="index-000002",remote_cluster="leader",leader_index="index-000002",managed="false"} 1"#,
            ]
        );
        assert!(!text.contains("ccr_sentinel_follower_managed"));
        promtool_check(&text);
    }

    #[test]
    fn kept_labels_follow_changes_of_the_report_and_are_escaped() {
        let shared = SharedReport::default();
        let metrics = Metrics::new(shared.clone());
        let mut report = super::scale::big_report(3);
        *shared.write().unwrap() = Arc::new(report.clone());
        let first = metrics.render().unwrap();
        assert_eq!(
            metrics.render().unwrap(),
            first,
            "an unchanged report renders the same"
        );
        // The middle follower now reads from another remote under an odd alias, and a follower is added before it.
        report.followers[1].observation.remote_cluster = "dc\\3 \"x\"\nnew".into();
        report.followers[1].observation.leader_index = "renamed".into();
        report.followers[1].observation.managed = false;
        let mut added = report.followers[0].clone();
        added.observation.follower_index = "index-000000a".into();
        report.followers.insert(1, added);
        *shared.write().unwrap() = Arc::new(report);
        let text = metrics.render().unwrap();
        let moved = r#"{follower_cluster="follower",follower_index="index-000001",remote_cluster="dc\\3 \"x\"\nnew",leader_index="renamed",managed="false"}"#;
        assert!(
            text.contains(&format!("ccr_sentinel_follower_info{moved} 1")),
            "{text}"
        );
        assert!(
            !text.contains(r#"follower_index="index-000001",remote_cluster="leader""#),
            "{text}"
        );
        // The other series of a follower whose info changed keep their key.
        assert!(text.contains(
            r#"ccr_sentinel_follower_lag_seconds{follower_cluster="follower",follower_index="index-000001"} 1.5"#
        ));
        assert!(text.contains(r#"follower_index="index-000000a",remote_cluster="leader",leader_index="index-000000",managed="true"}"#));
        assert!(text.contains(r#"follower_index="index-000002",remote_cluster="leader",leader_index="index-000002",managed="true"}"#));
        assert_eq!(text.matches("ccr_sentinel_follower_info{").count(), 4);
        promtool_check(&text);
    }

    #[test]
    fn followers_that_disappear_lose_their_series() {
        let shared = SharedReport::default();
        let metrics = Metrics::new(shared.clone());
        let mut snap = polled_6_8();
        publish(&shared, &snap);
        assert!(metrics
            .render()
            .unwrap()
            .contains(r#"follower_index="paused-copy""#));
        let mut p = poll(
            "versions/ccr_stats_response_6.8.json",
            "versions/follow_info_response_6.8.json",
            "versions/remote_info_response_6.8.json",
        );
        if let Ok(info) = &mut p.follow_info {
            info.follower_indices
                .retain(|f| f.follower_index != "paused-copy");
        }
        snap.apply_poll(p);
        publish(&shared, &snap);
        let text = metrics.render().unwrap();
        assert!(!text.contains("paused-copy"), "{text}");
        assert!(text.contains(r#"follower_index="orders-copy""#));
    }
}

#[cfg(test)]
mod scale {
    use super::*;
    use crate::observe::{
        DocParity, FollowerObservation, Freshness, RemoteObservation, ShardDetail, ShardSummary,
    };

    /// A report of `n` followers × 5 shards, every family present.
    pub(super) fn big_report(n: usize) -> Report {
        let followers = (0..n)
            .map(|i| FollowerReport {
                observation: FollowerObservation {
                    follower_cluster: "follower".into(),
                    follower_index: format!("index-{i:06}"),
                    remote_cluster: "leader".into(),
                    leader_index: format!("index-{i:06}"),
                    leader_cluster: Some("leader".into()),
                    managed: true,
                    remote_key: None,
                    freshness: Freshness::Fresh,
                    status: Some(crate::es::FollowerStatus::Active),
                    follower_index_exists: Some(true),
                    shards: Some(ShardSummary {
                        shards: 5,
                        global_checkpoint_lag: 12,
                        max_time_since_last_read_millis: Some(1234),
                        fatal_exceptions: vec![],
                        read_exceptions: 0,
                        operations_written: 123_456_789,
                        failed_read_requests: 3,
                        bytes_read: 987_654_321,
                        per_shard: (0..5)
                            .map(|s| ShardDetail {
                                shard_id: s,
                                global_checkpoint_lag: 2,
                                time_since_last_read_millis: Some(1234),
                                ..Default::default()
                            })
                            .collect(),
                    }),
                    remote: RemoteObservation::Seen {
                        connected: true,
                        mode: "sniff".into(),
                        nodes_connected: 3,
                    },
                    leader_index_exists: Some(true),
                    docs: Some(DocParity {
                        at: chrono::Utc::now(),
                        leader_docs: Some(1_000_000),
                        follower_docs: Some(999_990),
                        comparable: true,
                        not_compared_because: None,
                    }),
                    bootstrap: None,
                    following_seen: true,
                    copy_seen: false,
                },
                state: crate::evaluate::health::FollowerState::Healthy,
                reasons: vec![],
                time: Some(crate::evaluate::lag::FollowerTime {
                    lag_seconds: 1.5,
                    lag_lower_bound: false,
                    lag_source: crate::observe::LagSource::LeaderShardStats,
                    catchup_eta_seconds: Some(3.0),
                    rpo_seconds: 2.5,
                    ops_at_risk: 12,
                    grade: crate::evaluate::lag::Grade::Ok,
                    completeness: 1.0,
                    retention_lease_margin_seconds: Some(43_000.0),
                    retention_lease_period_seconds: 43_200.0,
                }),
            })
            .collect();
        Report {
            generated_at: Some(chrono::Utc::now()),
            clusters: ["follower", "leader"]
                .into_iter()
                .map(crate::testing::cluster_up)
                .collect(),
            followers,
            ..Default::default()
        }
    }

    /// `cargo test --release --lib metrics::scale -- --ignored --nocapture`: the size of the exposition at 2,000
    /// followers with every follower family present, per family, for the default set, `[metrics] detailed` and
    /// `per_shard`, and the cost of a scrape (printed, not asserted;
    /// docs/metrics.md has the numbers).
    #[test]
    #[ignore]
    fn render_cost_at_2000_followers() {
        for (per_shard, detailed) in [(false, false), (false, true), (true, false)] {
            let shared = SharedReport::default();
            let metrics = Metrics::new(shared.clone());
            metrics.own.init_job("poll");
            let mut report = big_report(2000);
            // The index names of `cargo bench --bench scale`, so the sizes compare with its table.
            for (i, f) in report.followers.iter_mut().enumerate() {
                f.observation.leader_index = format!("logs-{i:05}");
                f.observation.follower_index = format!("logs-{i:05}-copy");
            }
            report.per_shard_metrics = per_shard;
            report.detailed_metrics = detailed;
            // Each run gets a report the renderer has not seen (a job published it), as at a scrape after a poll.
            let best = |gzip: bool, new_report: bool| {
                let mut best = std::time::Duration::MAX;
                let mut len = 0;
                for _ in 0..5 {
                    if new_report {
                        *shared.write().unwrap() = Arc::new(report.clone());
                    }
                    let t = std::time::Instant::now();
                    let x = metrics.scrape(gzip).unwrap();
                    best = best.min(t.elapsed());
                    len = x.len();
                }
                (len, best)
            };
            let kept = || crate::sync::lock(&metrics.renderer).kept_bytes() as f64 / 1e6;
            let (z, t) = best(true, true);
            eprintln!(
                "per_shard={per_shard} detailed={detailed}: gzipped (fast) {:.2} MB, best of 5 {:.1} ms (new \
                 report); {:.2} MB kept",
                z as f64 / 1e6,
                t.as_secs_f64() * 1e3,
                kept()
            );
            let (_, t) = best(true, false);
            eprintln!(
                "  gzipped, same report again: {:.2} ms",
                t.as_secs_f64() * 1e3
            );
            let (len, t) = best(false, true);
            eprintln!(
                "  plain: {:.2} MB, best of 5 {:.1} ms (new report); {:.2} MB kept",
                len as f64 / 1e6,
                t.as_secs_f64() * 1e3,
                kept()
            );
            let (_, t) = best(false, false);
            eprintln!(
                "  plain, same report again: {:.2} ms",
                t.as_secs_f64() * 1e3
            );
            let text = metrics.render().unwrap();
            // (series, bytes) per family, HELP and TYPE lines counted with their family.
            let mut by_family: std::collections::BTreeMap<&str, (usize, usize)> =
                Default::default();
            for line in text.lines() {
                let (name, series) = match line.strip_prefix("# ") {
                    Some(meta) => (meta.split(' ').nth(1).unwrap_or_default(), 0),
                    None => (line.split(['{', ' ']).next().unwrap_or_default(), 1),
                };
                let e = by_family.entry(name).or_default();
                e.0 += series;
                e.1 += line.len() + 1;
            }
            let mut by_size: Vec<_> = by_family.into_iter().collect();
            by_size.sort_by_key(|(_, (_, n))| std::cmp::Reverse(*n));
            for (name, (series, n)) in &by_size {
                eprintln!(
                    "  {name}: {series} series, {n} bytes ({:.1} %)",
                    100.0 * *n as f64 / len as f64
                );
            }
        }
    }
}
