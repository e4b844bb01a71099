//! Prometheus metrics (the tikv `prometheus` crate, text format only): every metric family the daemon exports,
//! defined here and registered once in one [`Metrics`] registry.
//!
//! Two kinds of metrics live in that registry:
//! - counters and gauges updated as things happen: the daemon's own ([`SelfMetrics`]), the actions
//!   ([`ActionMetrics`]) and reconcile and preflight ([`ReconcileMetrics`]);
//! - everything about followers, remotes and clusters, rendered by [`ReportCollector`] at scrape time from the
//!   latest [`Report`]. Nothing is cached in metric vectors, so a follower that disappears from the clusters
//!   disappears from `/metrics` at the next job, and a scrape never waits for a cluster.
//!
//! A failed request to Elasticsearch is one [`RequestFailed`] event, which counts and logs together.
//!
//! Every metric, its type and labels are listed in `docs/metrics.md`; keep both in step.

use std::sync::{Arc, RwLock};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

use crate::es::EsError;
use crate::evaluate::health::FollowerState;
use crate::evaluate::report::{FollowerReport, Report};

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
            &["job"],
        )
        .expect("static metric definition");
        let job_last_success = gauge_vec(
            "ccr_sentinel_job_last_success_timestamp_seconds",
            "Unix time of the end of the last run of a job in which every request succeeded.",
            &["job"],
        );
        let job_skipped = counter_vec(
            "ccr_sentinel_job_skipped_total",
            "Runs of a job skipped because the previous run was still going.",
            &["job"],
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
        Self {
            reconcile_actions,
            actions,
        }
    }

    /// Registers both counters in `registry`.
    pub fn register(&self, registry: &Registry) -> Result<(), prometheus::Error> {
        registry.register(Box::new(self.reconcile_actions.clone()))?;
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

/// The registry and every metric family registered in it, once per process.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub own: SelfMetrics,
    pub actions: ActionMetrics,
    pub reconcile: ReconcileMetrics,
    pub lifecycle: LifecycleMetrics,
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
            Box::new(ReportCollector::new(report)),
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
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        TextEncoder::new().encode_to_string(&self.registry.gather())
    }
}

const FOLLOWER_LABELS: [&str; 4] = [
    "follower_cluster",
    "remote_cluster",
    "leader_index",
    "follower_index",
];

/// The families rendered from the report: (name, help, type, label names).
const REPORT_FAMILIES: &[(&str, &str, MetricType, &[&str])] = &[
    ("elasticsearch_ccr_follower_global_checkpoint_lag", "Operations the follower is behind: sum over shards of leader_global_checkpoint - follower_global_checkpoint (total_global_checkpoint_lag on 8.13+), as of the last poll.", MetricType::GAUGE, &FOLLOWER_LABELS),
    ("elasticsearch_ccr_follower_time_since_last_read_seconds", "Max over shards of time_since_last_read_millis, in seconds, as of the last poll.", MetricType::GAUGE, &FOLLOWER_LABELS),
    ("elasticsearch_ccr_follower_paused", "1 when _ccr/info reports the follower paused, else 0.", MetricType::GAUGE, &FOLLOWER_LABELS),
    ("elasticsearch_ccr_follower_fatal_exception", "Number of shards of the follower whose task has a fatal_exception.", MetricType::GAUGE, &FOLLOWER_LABELS),
    ("elasticsearch_ccr_follower_read_exceptions", "Number of pending read_exceptions over all shards of the follower.", MetricType::GAUGE, &FOLLOWER_LABELS),
    ("elasticsearch_ccr_follower_shards", "Number of shard follow tasks reported for the follower.", MetricType::GAUGE, &FOLLOWER_LABELS),
    ("elasticsearch_ccr_follower_operations_written_total", "Sum over shards of operations_written (resets when the follow tasks restart).", MetricType::COUNTER, &FOLLOWER_LABELS),
    ("elasticsearch_ccr_follower_failed_read_requests_total", "Sum over shards of failed_read_requests (resets when the follow tasks restart).", MetricType::COUNTER, &FOLLOWER_LABELS),
    ("elasticsearch_ccr_follower_bytes_read_total", "Sum over shards of bytes_read (resets when the follow tasks restart).", MetricType::COUNTER, &FOLLOWER_LABELS),
    ("elasticsearch_ccr_leader_index_docs", "Document count of the leader index (_cat/indices docs.count), as of the last doc_counts run.", MetricType::GAUGE, &FOLLOWER_LABELS),
    ("elasticsearch_ccr_follower_index_docs", "Document count of the follower index (_cat/indices docs.count), as of the last doc_counts run.", MetricType::GAUGE, &FOLLOWER_LABELS),
    ("elasticsearch_ccr_docs_difference", "Leader minus follower document count, as of the last doc_counts run.", MetricType::GAUGE, &FOLLOWER_LABELS),
    ("ccr_sentinel_follower_state", "1 for the current verdict of the follower, 0 for the other states.", MetricType::GAUGE, &["follower_cluster", "remote_cluster", "leader_index", "follower_index", "state"]),
    ("ccr_sentinel_follower_managed", "1 when the follower is in the configuration, 0 when it is only observed (auto-follow or foreign).", MetricType::GAUGE, &FOLLOWER_LABELS),
    ("elasticsearch_ccr_remote_cluster_connected", "1 when _remote/info on the follower cluster reports the remote connected.", MetricType::GAUGE, &["follower_cluster", "remote_cluster", "mode"]),
    ("elasticsearch_ccr_remote_cluster_nodes_connected", "num_nodes_connected (sniff) or num_proxy_sockets_connected (proxy) of the remote.", MetricType::GAUGE, &["follower_cluster", "remote_cluster"]),
    ("elasticsearch_ccr_auto_follow_failed_follow_indices_total", "auto_follow_stats.number_of_failed_follow_indices of the follower cluster.", MetricType::COUNTER, &["follower_cluster"]),
    ("elasticsearch_ccr_auto_follow_successful_follow_indices_total", "auto_follow_stats.number_of_successful_follow_indices of the follower cluster.", MetricType::COUNTER, &["follower_cluster"]),
    ("elasticsearch_ccr_auto_follow_failed_remote_cluster_state_requests_total", "auto_follow_stats.number_of_failed_remote_cluster_state_requests of the follower cluster.", MetricType::COUNTER, &["follower_cluster"]),
    ("elasticsearch_ccr_auto_follow_recent_errors", "Number of entries in auto_follow_stats.recent_auto_follow_errors of the follower cluster.", MetricType::GAUGE, &["follower_cluster"]),
    ("elasticsearch_ccr_follower_shard_global_checkpoint_lag", "Per shard: leader_global_checkpoint - follower_global_checkpoint. Only with [metrics] per_shard = true.", MetricType::GAUGE, &["follower_cluster", "remote_cluster", "leader_index", "follower_index", "shard"]),
    ("elasticsearch_ccr_follower_shard_time_since_last_read_seconds", "Per shard: time_since_last_read_millis in seconds. Only with [metrics] per_shard = true.", MetricType::GAUGE, &["follower_cluster", "remote_cluster", "leader_index", "follower_index", "shard"]),
    ("ccr_sentinel_cluster_up", "1 when the cluster was reached and its latest requests all succeeded.", MetricType::GAUGE, &["cluster"]),
    ("ccr_sentinel_cluster_stale", "1 when some data shown for the cluster is older than a failed refresh.", MetricType::GAUGE, &["cluster"]),
    ("ccr_sentinel_cluster_insecure_tls", "1 when the cluster's TLS certificate is not verified (insecure_skip_verify = true), else 0.", MetricType::GAUGE, &["cluster"]),
];

/// Renders the follower, remote, auto-follow and cluster families from the latest report at scrape time.
pub struct ReportCollector {
    report: SharedReport,
    descs: Vec<Desc>,
}

impl ReportCollector {
    fn new(report: SharedReport) -> Self {
        let descs = REPORT_FAMILIES
            .iter()
            .map(|(name, help, _, labels)| {
                Desc::new(
                    name.to_string(),
                    help.to_string(),
                    labels.iter().map(|l| l.to_string()).collect(),
                    Default::default(),
                )
                .expect("static metric definition")
            })
            .collect();
        Self { report, descs }
    }
}

/// Builds families in [`REPORT_FAMILIES`] order.
struct Families(Vec<MetricFamily>);

impl Families {
    fn new() -> Self {
        Self(
            REPORT_FAMILIES
                .iter()
                .map(|(name, help, kind, _)| {
                    let mut mf = MetricFamily::default();
                    mf.set_name(name.to_string());
                    mf.set_help(help.to_string());
                    mf.set_field_type(*kind);
                    mf
                })
                .collect(),
        )
    }

    fn push(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let Some(idx) = REPORT_FAMILIES.iter().position(|f| f.0 == name) else {
            debug_assert!(false, "unknown family {name}");
            return;
        };
        let mf = &mut self.0[idx];
        let mut m = Metric::default();
        m.set_label(
            labels
                .iter()
                .map(|(k, v)| {
                    let mut lp = LabelPair::default();
                    lp.set_name(k.to_string());
                    lp.set_value(v.to_string());
                    lp
                })
                .collect(),
        );
        if mf.get_field_type() == MetricType::COUNTER {
            let mut c = Counter::default();
            c.set_value(value);
            m.set_counter(c);
        } else {
            let mut g = Gauge::default();
            g.set_value(value);
            m.set_gauge(g);
        }
        mf.mut_metric().push(m);
    }

    /// One sample per `(family, value)`, all with the same `labels`.
    fn push_each<const N: usize>(&mut self, labels: &[(&str, &str)], samples: [(&str, f64); N]) {
        for (name, value) in samples {
            self.push(name, labels, value);
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

fn follower_families(fam: &mut Families, f: &FollowerReport, per_shard: bool) {
    let o = &f.observation;
    let l = [
        ("follower_cluster", o.follower_cluster.as_str()),
        ("remote_cluster", o.remote_cluster.as_str()),
        ("leader_index", o.leader_index.as_str()),
        ("follower_index", o.follower_index.as_str()),
    ];
    for s in FollowerState::ALL {
        let mut with_state = l.to_vec();
        with_state.push(("state", s.as_str()));
        fam.push(
            "ccr_sentinel_follower_state",
            &with_state,
            flag(s == f.state),
        );
    }
    fam.push("ccr_sentinel_follower_managed", &l, flag(o.managed));
    if let Some(status) = o.status {
        let paused = status == crate::es::FollowerStatus::Paused;
        fam.push("elasticsearch_ccr_follower_paused", &l, flag(paused));
    }
    if let Some(sh) = &o.shards {
        fam.push(
            "elasticsearch_ccr_follower_global_checkpoint_lag",
            &l,
            sh.global_checkpoint_lag as f64,
        );
        if let Some(ms) = sh.max_time_since_last_read_millis {
            fam.push(
                "elasticsearch_ccr_follower_time_since_last_read_seconds",
                &l,
                ms as f64 / 1000.0,
            );
        }
        fam.push_each(
            &l,
            [
                (
                    "elasticsearch_ccr_follower_fatal_exception",
                    sh.fatal_exceptions.len() as f64,
                ),
                (
                    "elasticsearch_ccr_follower_read_exceptions",
                    sh.read_exceptions as f64,
                ),
                ("elasticsearch_ccr_follower_shards", f64::from(sh.shards)),
                (
                    "elasticsearch_ccr_follower_operations_written_total",
                    count(sh.operations_written),
                ),
                (
                    "elasticsearch_ccr_follower_failed_read_requests_total",
                    count(sh.failed_read_requests),
                ),
                (
                    "elasticsearch_ccr_follower_bytes_read_total",
                    count(sh.bytes_read),
                ),
            ],
        );
        if per_shard {
            for d in &sh.per_shard {
                let shard = d.shard_id.to_string();
                let mut with_shard = l.to_vec();
                with_shard.push(("shard", shard.as_str()));
                fam.push(
                    "elasticsearch_ccr_follower_shard_global_checkpoint_lag",
                    &with_shard,
                    d.global_checkpoint_lag as f64,
                );
                if let Some(ms) = d.time_since_last_read_millis {
                    fam.push(
                        "elasticsearch_ccr_follower_shard_time_since_last_read_seconds",
                        &with_shard,
                        ms as f64 / 1000.0,
                    );
                }
            }
        }
    } else if o.status.is_some() {
        // A paused follower has no shard tasks; say so rather than leaving the series absent.
        fam.push("elasticsearch_ccr_follower_shards", &l, 0.0);
    }
    if let Some(d) = &o.docs {
        let docs = [
            (
                "elasticsearch_ccr_leader_index_docs",
                d.leader_docs.map(|n| n as f64),
            ),
            (
                "elasticsearch_ccr_follower_index_docs",
                d.follower_docs.map(|n| n as f64),
            ),
            (
                "elasticsearch_ccr_docs_difference",
                d.difference().map(|n| n as f64),
            ),
        ];
        for (name, value) in docs {
            if let Some(value) = value {
                fam.push(name, &l, value);
            }
        }
    }
}

/// Renders the report families; pure, so tests can check exposition without a registry.
pub fn report_families(report: &Report) -> Vec<MetricFamily> {
    let mut fam = Families::new();
    for f in &report.followers {
        follower_families(&mut fam, f, report.per_shard_metrics);
    }
    for r in &report.remotes {
        let l = [
            ("follower_cluster", r.follower_cluster.as_str()),
            ("remote_cluster", r.remote_cluster.as_str()),
        ];
        let with_mode = [l[0], l[1], ("mode", r.mode.as_str())];
        fam.push(
            "elasticsearch_ccr_remote_cluster_connected",
            &with_mode,
            flag(r.connected),
        );
        fam.push(
            "elasticsearch_ccr_remote_cluster_nodes_connected",
            &l,
            r.nodes_connected as f64,
        );
    }
    for a in &report.auto_follow {
        let s = &a.stats;
        fam.push_each(
            &[("follower_cluster", a.follower_cluster.as_str())],
            [
                (
                    "elasticsearch_ccr_auto_follow_failed_follow_indices_total",
                    count(s.number_of_failed_follow_indices),
                ),
                (
                    "elasticsearch_ccr_auto_follow_successful_follow_indices_total",
                    count(s.number_of_successful_follow_indices),
                ),
                (
                    "elasticsearch_ccr_auto_follow_failed_remote_cluster_state_requests_total",
                    count(s.number_of_failed_remote_cluster_state_requests),
                ),
                (
                    "elasticsearch_ccr_auto_follow_recent_errors",
                    s.recent_auto_follow_errors.len() as f64,
                ),
            ],
        );
    }
    for c in &report.clusters {
        fam.push_each(
            &[("cluster", c.name.as_str())],
            [
                ("ccr_sentinel_cluster_up", flag(c.up)),
                ("ccr_sentinel_cluster_stale", flag(c.stale)),
                (
                    "ccr_sentinel_cluster_insecure_tls",
                    flag(c.insecure_skip_verify),
                ),
            ],
        );
    }
    fam.0
}

impl Collector for ReportCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        // Clone the Arc and release the lock at once: rendering never blocks a job that publishes a report.
        let report = Arc::clone(&crate::sync::read(&self.report));
        report_families(&report)
    }
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
        let l = r#"follower_cluster="follower",remote_cluster="leader",leader_index="orders",follower_index="orders-copy""#;
        for line in [
            format!("elasticsearch_ccr_follower_global_checkpoint_lag{{{l}}} 60"),
            format!("elasticsearch_ccr_follower_fatal_exception{{{l}}} 1"),
            format!("elasticsearch_ccr_follower_read_exceptions{{{l}}} 1"),
            format!("elasticsearch_ccr_follower_shards{{{l}}} 2"),
            format!("elasticsearch_ccr_follower_paused{{{l}}} 0"),
            format!("elasticsearch_ccr_follower_time_since_last_read_seconds{{{l}}} 0.12"),
            format!("ccr_sentinel_follower_state{{{l},state=\"failed\"}} 1"),
            format!("ccr_sentinel_follower_state{{{l},state=\"healthy\"}} 0"),
            format!("ccr_sentinel_follower_managed{{{l}}} 1"),
            "# TYPE elasticsearch_ccr_follower_operations_written_total counter".to_string(),
            r#"elasticsearch_ccr_remote_cluster_connected{follower_cluster="follower",remote_cluster="leader",mode="sniff"} 0"#.to_string(),
            r#"elasticsearch_ccr_auto_follow_failed_remote_cluster_state_requests_total{follower_cluster="follower"} 2"#.to_string(),
            r#"ccr_sentinel_cluster_up{cluster="follower"} 1"#.to_string(),
            r#"ccr_sentinel_cluster_up{cluster="leader"} 0"#.to_string(),
            r#"ccr_sentinel_job_skipped_total{job="poll"} 0"#.to_string(),
            r#"ccr_sentinel_build_info{version=""#.to_string(),
            "# TYPE ccr_sentinel_poll_duration_seconds histogram".to_string(),
        ] {
            assert!(text.contains(&line), "missing `{line}` in:\n{text}");
        }
        promtool_check(&text);
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
        let l = r#"follower_cluster="follower",remote_cluster="leader",leader_index="orders",follower_index="orders-copy""#;
        for line in [
            format!("elasticsearch_ccr_follower_shard_global_checkpoint_lag{{{l},shard=\"0\"}} 20"),
            format!("elasticsearch_ccr_follower_shard_global_checkpoint_lag{{{l},shard=\"1\"}} 40"),
            format!("elasticsearch_ccr_follower_shard_time_since_last_read_seconds{{{l},shard=\"1\"}} 0.12"),
        ] {
            assert!(text.contains(&line), "missing `{line}` in:\n{text}");
        }
        // A shard that never read (-1) has no time-since-last-read series.
        assert!(!text.contains(r#"elasticsearch_ccr_follower_shard_time_since_last_read_seconds{follower_cluster="follower",remote_cluster="leader",leader_index="fresh""#));
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
