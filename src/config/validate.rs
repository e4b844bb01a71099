//! The semantic checks of the configuration: [`RawConfig::validate`] turns the file schema into [`Config`],
//! one function per section. Every function pushes its problems into one shared list, and they run in a fixed
//! order so the problems come out in the order a user reads the file; secret files and index names are
//! checked beside the sections that use them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::schema::{
    RawAutoFollow, RawCluster, RawConfig, RawDr, RawFollower, RawHealth, RawHttp, RawLog,
    RawReconcile, RawRemote, RawSchedule,
};
use super::values::{
    flat_index_settings, parse_byte_size, parse_duration, parse_es_time, CronSchedule,
};
use super::{
    policy, AuditSettings, Auth, AutoFollowSettings, ClusterSettings, Config, DrSettings,
    FollowerSettings, HealthThresholds, HttpLimits, HttpSettings, LogFormat, LogSettings,
    MetricsSettings, ReconcileSettings, RemoteMode, RemoteSecurity, RemoteSettings, Schedules,
    DEFAULT_API_KEY_EXPIRATION, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_SECRET_FILE_BYTES,
    HTTP_PORT, MAX_CA_CERT_BYTES, REMOTE_CLUSTER_PORT, TRANSPORT_PORT,
};

impl RawConfig {
    /// Checks every semantic rule and returns the validated configuration, or every problem found. Secret
    /// files are read (relative paths under `credentials_dir`); cron periods are measured from `now`.
    pub fn validate(
        self,
        credentials_dir: Option<&Path>,
        now: DateTime<Utc>,
    ) -> Result<Config, Vec<String>> {
        let mut p = Vec::new();
        let listen = http(&self.http, &mut p);
        let http_limits = http_limits(&self.http, &mut p);
        let log = log(self.log, &mut p);
        let schedule = schedule(&self.schedule, now, &mut p);
        // Names as written, so references are checked even when a cluster itself had problems.
        let names: BTreeSet<String> = self.clusters.keys().cloned().collect();
        let clusters = clusters(self.clusters, credentials_dir, &mut p);
        let remotes = remotes(self.remotes, &names, &mut p);
        let mut followers = followers(self.followers, &names, &remotes, &mut p);
        heartbeat_followers(&remotes, &mut followers, &mut p);
        let auto_follow = auto_follow(self.auto_follow, &names, &remotes, &mut p);
        // `[health]`'s read threshold is reported before `[reconcile]` and its job check after it.
        let max_read = parse_duration(
            "health.max_time_since_last_read",
            &self.health.max_time_since_last_read,
            &mut p,
        );
        let reconcile = reconcile(&self.reconcile, &mut p);
        let health = health(&self.health, max_read, &mut p);
        let policy = policy::validate(self.policy, now, &mut p);
        let dr = dr(&self.dr, &mut p);
        if let Some(pol) = &policy {
            policy::check_window_selectors(&pol.windows, &names, &remotes, &auto_follow, &mut p);
        }

        if !p.is_empty() {
            return Err(p);
        }
        // Every Option below is Some when no problem was recorded; the fallback is unreachable but keeps this
        // function free of panics.
        let (Some(listen), Some(schedule), Some(health), Some(reconcile), Some(policy), Some(dr)) =
            (listen, schedule, health, reconcile, policy, dr)
        else {
            return Err(vec!["internal error: incomplete validation".into()]);
        };
        Ok(Config {
            http: HttpSettings {
                listen,
                limits: http_limits,
            },
            log,
            schedule,
            clusters,
            remotes,
            followers,
            auto_follow,
            health,
            reconcile,
            audit: AuditSettings {
                file: self.audit.file,
            },
            policy,
            metrics: MetricsSettings {
                per_shard: self.metrics.per_shard,
                detailed: self.metrics.detailed,
            },
            dr,
            topology: Default::default(),
            topology_problems: Vec::new(),
            topology_error: None,
        })
    }
}

/// `[http]`: the listen address.
fn http(h: &RawHttp, p: &mut Vec<String>) -> Option<SocketAddr> {
    match h.listen.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            p.push(format!(
                "`http.listen` = `{}` is not an address like 127.0.0.1:9725",
                h.listen
            ));
            None
        }
    }
}

/// `[http]` limits; an absent key keeps its default.
fn http_limits(h: &RawHttp, p: &mut Vec<String>) -> HttpLimits {
    let mut l = HttpLimits::default();
    match h.max_connections {
        Some(0) => p.push("`http.max_connections` must be at least 1".into()),
        Some(n) => l.max_connections = usize::try_from(n).unwrap_or(usize::MAX),
        None => {}
    }
    let mut duration = |key: &str, v: &Option<String>, slot: &mut Duration| {
        if let Some(d) = v.as_deref().and_then(|s| parse_duration(key, s, p)) {
            *slot = d;
        }
    };
    duration(
        "http.header_read_timeout",
        &h.header_read_timeout,
        &mut l.header_read_timeout,
    );
    duration(
        "http.request_timeout",
        &h.request_timeout,
        &mut l.request_timeout,
    );
    l
}

/// `[log]`: the output format and the filter syntax. A bad format falls back to text so the level is
/// still checked.
fn log(l: RawLog, p: &mut Vec<String>) -> LogSettings {
    let format = match l.format.as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            p.push(format!(
                "`log.format` = `{other}`: expected \"text\" or \"json\""
            ));
            LogFormat::Text
        }
    };
    if let Some(level) = &l.level {
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(level) {
            p.push(format!("`log.level` = `{level}` is not a log filter: {e}"));
        }
    }
    LogSettings {
        level: l.level,
        format,
    }
}

/// `[schedule]`: the three job schedules, each checked even when another one is bad.
fn schedule(s: &RawSchedule, now: DateTime<Utc>, p: &mut Vec<String>) -> Option<Schedules> {
    let mut cron = |key: &str, expr: &str| match CronSchedule::parse(expr, now) {
        Ok(c) => Some(c),
        Err(e) => {
            p.push(format!("`schedule.{key}`: {e}"));
            None
        }
    };
    let poll = cron("poll", &s.poll);
    let doc_counts = cron("doc_counts", &s.doc_counts);
    let reconcile = cron("reconcile", &s.reconcile);
    let heartbeat = cron("heartbeat", &s.heartbeat);
    Some(Schedules {
        poll: poll?,
        doc_counts: doc_counts?,
        reconcile: reconcile?,
        heartbeat: heartbeat?,
    })
}

/// `[clusters.NAME]`: at least one cluster; the clusters without problems, by name.
fn clusters(
    raw: BTreeMap<String, RawCluster>,
    credentials_dir: Option<&Path>,
    p: &mut Vec<String>,
) -> BTreeMap<String, ClusterSettings> {
    if raw.is_empty() {
        p.push("no clusters are configured: add at least one [clusters.NAME] table".into());
    }
    let mut clusters = BTreeMap::new();
    for (name, c) in raw {
        if let Some(cs) = validate_cluster(&name, c, credentials_dir, p) {
            clusters.insert(name, cs);
        }
    }
    clusters
}

/// `[[remotes]]`: references to configured clusters, no duplicates, mode-specific addresses.
fn remotes(
    raw: Vec<RawRemote>,
    names: &BTreeSet<String>,
    p: &mut Vec<String>,
) -> Vec<RemoteSettings> {
    let mut remotes = Vec::new();
    let mut seen_remotes = BTreeSet::new();
    for (i, r) in raw.into_iter().enumerate() {
        let at = format!("remotes[{i}]");
        if r.cluster.is_empty() {
            p.push(format!("`{at}.cluster` is missing"));
        } else if !names.contains(&r.cluster) {
            p.push(format!(
                "`{at}.cluster` = `{}` is not a configured cluster",
                r.cluster
            ));
        }
        if r.alias.is_empty() {
            p.push(format!("`{at}.alias` is missing"));
        }
        if r.leader.is_empty() {
            p.push(format!("`{at}.leader` is missing"));
        } else if !names.contains(&r.leader) {
            p.push(format!(
                "`{at}.leader` = `{}` is not a configured cluster",
                r.leader
            ));
        } else if r.leader == r.cluster {
            p.push(format!(
                "`{at}`: remote `{}` on cluster `{}` points at the cluster itself",
                r.alias, r.cluster
            ));
        }
        if !seen_remotes.insert((r.cluster.clone(), r.alias.clone())) {
            p.push(format!(
                "`{at}`: remote `{}` on cluster `{}` is defined twice",
                r.alias, r.cluster
            ));
        }
        let mode = match r.mode.as_deref() {
            None | Some("sniff") => RemoteMode::Sniff,
            Some("proxy") => RemoteMode::Proxy,
            Some(other) => {
                p.push(format!(
                    "`{at}.mode` = `{other}`: expected \"sniff\" or \"proxy\""
                ));
                RemoteMode::Sniff
            }
        };
        match mode {
            RemoteMode::Sniff => {
                if r.proxy_address.is_some() {
                    p.push(format!(
                        "`{at}.proxy_address` needs `mode = \"proxy\"` (sniff mode uses `seeds`)"
                    ));
                }
                if r.server_name.is_some() {
                    p.push(format!("`{at}.server_name` needs `mode = \"proxy\"`"));
                }
            }
            RemoteMode::Proxy => {
                if r.proxy_address.is_none() {
                    p.push(format!("`{at}`: `mode = \"proxy\"` needs `proxy_address`"));
                }
                if !r.seeds.is_empty() {
                    p.push(format!(
                        "`{at}.seeds` cannot be used with `mode = \"proxy\"` (use `proxy_address`)"
                    ));
                }
            }
        }
        let security = match r.security.as_deref() {
            None | Some("certificate") => RemoteSecurity::Certificate,
            Some("api_key") => RemoteSecurity::ApiKey,
            Some(other) => {
                p.push(format!(
                    "`{at}.security` = `{other}`: expected \"certificate\" (TLS certificates, the transport port) or \"api_key\" (a cross-cluster API key, the remote cluster server port)"
                ));
                RemoteSecurity::Certificate
            }
        };
        for s in r.seeds.iter().chain(r.proxy_address.iter()) {
            match s
                .rsplit_once(':')
                .and_then(|(h, port)| (!h.is_empty()).then(|| port.parse::<u16>().ok()))
                .flatten()
            {
                None => p.push(format!(
                    "`{at}`: `{s}` is not a host:port transport address"
                )),
                Some(port) => {
                    if let Some(problem) = port_mixup(security, port) {
                        p.push(format!("`{at}`: `{s}`: {problem}"));
                    }
                }
            }
        }
        let api_key_expiration = match (security, r.api_key_expiration) {
            (RemoteSecurity::Certificate, Some(_)) => {
                p.push(format!(
                    "`{at}.api_key_expiration` needs `security = \"api_key\"` (a certificate remote has no API key)"
                ));
                None
            }
            (RemoteSecurity::Certificate, None) => None,
            (RemoteSecurity::ApiKey, None) => Some(DEFAULT_API_KEY_EXPIRATION.to_string()),
            (RemoteSecurity::ApiKey, Some(e)) if e == "none" => None,
            (RemoteSecurity::ApiKey, Some(e)) => {
                if !parse_es_time(&e).is_some_and(|d| !d.is_zero()) {
                    p.push(format!(
                        "`{at}.api_key_expiration` = `{e}`: expected a positive Elasticsearch time value such as `90d` or `12h`, or \"none\""
                    ));
                }
                Some(e)
            }
        };
        remotes.push(RemoteSettings {
            cluster: r.cluster,
            alias: r.alias,
            leader: r.leader,
            mode,
            seeds: r.seeds,
            proxy_address: r.proxy_address,
            server_name: r.server_name,
            skip_unavailable: r.skip_unavailable,
            manage: r.manage.unwrap_or(true),
            security,
            api_key_expiration,
            heartbeat: r.heartbeat.unwrap_or(false),
        });
    }
    remotes
}

/// The port mix-up a remote address shows, if its port is one of Elasticsearch's defaults for another purpose:
/// certificate remotes connect to the transport port (9300), API-key remotes to the remote cluster server port
/// (9443, `remote_cluster.port`), and no remote to the HTTP port (9200). Other ports are the operator's choice.
pub fn port_mixup(security: RemoteSecurity, port: u16) -> Option<String> {
    match (security, port) {
        (_, HTTP_PORT) => Some(format!(
            "port {HTTP_PORT} is the default HTTP port; remote connections use the transport port ({TRANSPORT_PORT}, certificate remotes) or the remote cluster server port ({REMOTE_CLUSTER_PORT}, `security = \"api_key\"`)"
        )),
        (RemoteSecurity::ApiKey, TRANSPORT_PORT) => Some(format!(
            "port {TRANSPORT_PORT} is the default transport port, which certificate remotes use; a `security = \"api_key\"` remote connects to the leader's remote cluster server port (`remote_cluster.port`, default {REMOTE_CLUSTER_PORT}); there the handshake fails with `requires channel profile to be [_remote_cluster], but got [default]`"
        )),
        (RemoteSecurity::Certificate, REMOTE_CLUSTER_PORT) => Some(format!(
            "port {REMOTE_CLUSTER_PORT} is the default remote cluster server port, which API-key remotes use: set `security = \"api_key\"` for a cross-cluster API key, or use the leader's transport port (default {TRANSPORT_PORT}) for the certificate model"
        )),
        _ => None,
    }
}

/// The follower of the heartbeat index of every `heartbeat = true` remote, followed like a configured follower.
/// The name must be a valid index name and must not be taken by a configured follower.
fn heartbeat_followers(
    remotes: &[RemoteSettings],
    followers: &mut Vec<FollowerSettings>,
    p: &mut Vec<String>,
) {
    for r in remotes.iter().filter(|r| r.heartbeat) {
        let at = format!("remotes `{}` on `{}`", r.alias, r.cluster);
        let name = super::heartbeat_follower_index(&r.alias);
        if !name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"-_".contains(&c))
        {
            p.push(format!(
                "`{at}`: `heartbeat = true` needs an alias of letters, digits, `-` and `_` (the heartbeat follower is named `{name}`)"
            ));
            continue;
        }
        if followers
            .iter()
            .any(|f| f.cluster == r.cluster && f.follower_index == name)
        {
            p.push(format!(
                "`{at}`: `heartbeat = true` follows `{}` as `{name}`, which a [[followers]] entry already uses",
                super::HEARTBEAT_INDEX
            ));
            continue;
        }
        followers.push(FollowerSettings {
            cluster: r.cluster.clone(),
            remote: r.alias.clone(),
            leader_index: super::HEARTBEAT_INDEX.to_string(),
            follower_index: name,
            ..Default::default()
        });
    }
}

/// True when a `[[remotes]]` entry defines `alias` on `cluster`.
fn remote_known(remotes: &[RemoteSettings], cluster: &str, alias: &str) -> bool {
    remotes
        .iter()
        .any(|r| r.cluster == cluster && r.alias == alias)
}

/// `[[followers]]`: references, index names, one entry per follower index, follow parameters.
fn followers(
    raw: Vec<RawFollower>,
    names: &BTreeSet<String>,
    remotes: &[RemoteSettings],
    p: &mut Vec<String>,
) -> Vec<FollowerSettings> {
    let mut followers = Vec::new();
    let mut seen_followers = BTreeMap::new();
    for (i, f) in raw.into_iter().enumerate() {
        let at = format!("followers[{i}]");
        if f.cluster.is_empty() {
            p.push(format!("`{at}.cluster` is missing"));
        } else if !names.contains(&f.cluster) {
            p.push(format!(
                "`{at}.cluster` = `{}` is not a configured cluster",
                f.cluster
            ));
        }
        if f.remote.is_empty() {
            p.push(format!("`{at}.remote` is missing"));
        } else if names.contains(&f.cluster) && !remote_known(remotes, &f.cluster, &f.remote) {
            p.push(format!(
                "`{at}.remote` = `{}`: no [[remotes]] entry defines alias `{}` on cluster `{}`",
                f.remote, f.remote, f.cluster
            ));
        }
        check_index_name(&format!("{at}.leader_index"), &f.leader_index, p);
        check_index_name(&format!("{at}.follower_index"), &f.follower_index, p);
        if !f.follower_index.is_empty() {
            if let Some(first) =
                seen_followers.insert((f.cluster.clone(), f.follower_index.clone()), i)
            {
                p.push(format!(
                    "`{at}`: follower_index `{}` on cluster `{}` is already configured by followers[{first}]",
                    f.follower_index, f.cluster
                ));
            }
        }
        if let Some(params) = &f.parameters {
            params.validate(&at, p);
        }
        followers.push(FollowerSettings {
            cluster: f.cluster,
            remote: f.remote,
            leader_index: f.leader_index,
            follower_index: f.follower_index,
            settings: flat_index_settings(f.settings.as_ref()),
            parameters: f.parameters.unwrap_or_default(),
            promote: f.promote,
        });
    }
    followers
}

/// `[[auto_follow]]`: references, unique names per cluster, at least one leader pattern, follow parameters.
fn auto_follow(
    raw: Vec<RawAutoFollow>,
    names: &BTreeSet<String>,
    remotes: &[RemoteSettings],
    p: &mut Vec<String>,
) -> Vec<AutoFollowSettings> {
    let mut auto_follow = Vec::new();
    let mut seen_patterns = BTreeSet::new();
    for (i, a) in raw.into_iter().enumerate() {
        let at = format!("auto_follow[{i}]");
        if a.cluster.is_empty() {
            p.push(format!("`{at}.cluster` is missing"));
        } else if !names.contains(&a.cluster) {
            p.push(format!(
                "`{at}.cluster` = `{}` is not a configured cluster",
                a.cluster
            ));
        }
        if a.name.is_empty() {
            p.push(format!("`{at}.name` is missing"));
        } else if !seen_patterns.insert((a.cluster.clone(), a.name.clone())) {
            p.push(format!(
                "`{at}`: auto-follow pattern `{}` on cluster `{}` is defined twice",
                a.name, a.cluster
            ));
        }
        if a.remote.is_empty() {
            p.push(format!("`{at}.remote` is missing"));
        } else if names.contains(&a.cluster) && !remote_known(remotes, &a.cluster, &a.remote) {
            p.push(format!(
                "`{at}.remote` = `{}`: no [[remotes]] entry defines alias `{}` on cluster `{}`",
                a.remote, a.remote, a.cluster
            ));
        }
        if a.leader_index_patterns.is_empty() {
            p.push(format!("`{at}.leader_index_patterns` is empty"));
        }
        if let Some(params) = &a.parameters {
            params.validate(&at, p);
        }
        auto_follow.push(AutoFollowSettings {
            cluster: a.cluster,
            name: a.name,
            remote: a.remote,
            leader_index_patterns: a.leader_index_patterns,
            leader_index_exclusion_patterns: a.leader_index_exclusion_patterns,
            follow_index_pattern: a.follow_index_pattern,
            settings: flat_index_settings(a.settings.as_ref()),
            parameters: a.parameters.unwrap_or_default(),
            active: a.active,
        });
    }
    auto_follow
}

/// `[reconcile]`: the durations, and a back-off that does not shrink.
fn reconcile(r: &RawReconcile, p: &mut Vec<String>) -> Option<ReconcileSettings> {
    let backoff_initial = parse_duration("reconcile.backoff_initial", &r.backoff_initial, p);
    let backoff_max = parse_duration("reconcile.backoff_max", &r.backoff_max, p);
    let connect_timeout = parse_duration("reconcile.connect_timeout", &r.connect_timeout, p);
    if let (Some(a), Some(b)) = (backoff_initial, backoff_max) {
        if b < a {
            p.push(format!(
                "`reconcile.backoff_max` ({}) is shorter than `reconcile.backoff_initial` ({})",
                r.backoff_max, r.backoff_initial
            ));
        }
    }
    Some(ReconcileSettings {
        enabled: r.enabled,
        dry_run: r.dry_run,
        apply_parameter_changes: r.apply_parameter_changes,
        backoff_initial: backoff_initial?,
        backoff_max: backoff_max?,
        connect_timeout: connect_timeout?,
    })
}

/// `[health]`: the thresholds, given the already parsed `max_time_since_last_read`.
fn health(
    h: &RawHealth,
    max_time_since_last_read: Option<Duration>,
    p: &mut Vec<String>,
) -> Option<HealthThresholds> {
    if h.job_overdue_periods < 2 {
        p.push(format!(
            "`health.job_overdue_periods` = {} must be at least 2",
            h.job_overdue_periods
        ));
    }
    let max_promote_lag = parse_duration("health.max_promote_lag", &h.max_promote_lag, p);
    Some(HealthThresholds {
        max_lag_operations: h.max_lag_operations,
        max_time_since_last_read: max_time_since_last_read?,
        max_docs_difference: h.max_docs_difference,
        job_overdue_periods: h.job_overdue_periods,
        max_promote_lag: max_promote_lag?,
    })
}

/// `[dr]`: the anti-flap period (zero allowed: no anti-flap) and a suffix that keeps the reverse direction's
/// follower names valid index names and free of the `{{leader_index}}` placeholder's braces.
fn dr(d: &RawDr, p: &mut Vec<String>) -> Option<DrSettings> {
    let anti_flap_period = match humantime::parse_duration(d.anti_flap_period.trim()) {
        Ok(v) => Some(v),
        Err(e) => {
            p.push(format!(
                "`dr.anti_flap_period` = `{}` is not a duration like \"1h\" or \"30m\": {e}",
                d.anti_flap_period
            ));
            None
        }
    };
    let suffix = &d.replicated_suffix;
    if suffix.is_empty() {
        p.push("`dr.replicated_suffix` is empty: the reverse direction's followers would take the leader's names".into());
    } else if suffix.contains(['{', '}']) {
        p.push(format!(
            "`dr.replicated_suffix` = `{suffix}` must not contain `{{` or `}}` (the follow_index_pattern's placeholder is `{{{{leader_index}}}}`)"
        ));
    } else if let Err(why) = index_name(&format!("logs{suffix}cluster")) {
        p.push(format!(
            "`dr.replicated_suffix` = `{suffix}` does not make valid index names: {why}"
        ));
    }
    Some(DrSettings {
        anti_flap_period: anti_flap_period?,
        replicated_suffix: suffix.clone(),
    })
}

/// One `[clusters.NAME]` table: URL, credentials (inline or from secret files), CA certificate, timeout.
/// `None` when it had a problem.
fn validate_cluster(
    name: &str,
    c: RawCluster,
    credentials_dir: Option<&Path>,
    p: &mut Vec<String>,
) -> Option<ClusterSettings> {
    let at = format!("clusters.{name}");
    let before = p.len();
    let url = match c.url.as_deref() {
        None => {
            p.push(format!("`{at}.url` is missing"));
            None
        }
        Some(u) => match reqwest::Url::parse(u) {
            Err(e) => {
                p.push(format!("`{at}.url` is not a URL: {e}"));
                None
            }
            Ok(url) if url.scheme() != "http" && url.scheme() != "https" => {
                p.push(format!("`{at}.url` must start with http:// or https://"));
                None
            }
            Ok(url) if !url.username().is_empty() || url.password().is_some() => {
                // Never echo the URL: it holds a credential.
                p.push(format!(
                    "`{at}.url` contains credentials; use `username` with `password_file` (or `api_key_file`) instead"
                ));
                None
            }
            Ok(url) if url.query().is_some() || url.fragment().is_some() => {
                p.push(format!("`{at}.url` must not have a query or fragment"));
                None
            }
            Ok(url) if url.host_str().is_none() => {
                p.push(format!("`{at}.url` has no host"));
                None
            }
            Ok(url) => Some(url),
        },
    };

    let max_secret_bytes = match c.max_secret_file_size.as_deref() {
        None => DEFAULT_MAX_SECRET_FILE_BYTES,
        Some(v) => match parse_byte_size(v) {
            Some(n) if n >= 1 => n,
            _ => {
                p.push(format!(
                    "`{at}.max_secret_file_size` = `{v}` must be a byte size, like \"64kb\""
                ));
                DEFAULT_MAX_SECRET_FILE_BYTES
            }
        },
    };
    let secret = |key: &str,
                  inline: Option<SecretString>,
                  file: Option<PathBuf>,
                  p: &mut Vec<String>| {
        match (inline, file) {
            (Some(_), Some(_)) => {
                p.push(format!(
                    "`{at}`: set either `{key}` or `{key}_file`, not both"
                ));
                None
            }
            (Some(s), None) if s.expose_secret().is_empty() => {
                p.push(format!("`{at}.{key}` is empty"));
                None
            }
            (Some(s), None) => Some(s),
            (None, Some(path)) => read_secret_file(
                &format!("{at}.{key}_file"),
                &path,
                credentials_dir,
                max_secret_bytes,
                p,
            ),
            (None, None) => None,
        }
    };
    let has_password = c.password.is_some() || c.password_file.is_some();
    let has_api_key = c.api_key.is_some() || c.api_key_file.is_some();
    let password = secret("password", c.password, c.password_file, p);
    let api_key = secret("api_key", c.api_key, c.api_key_file, p).filter(|k| {
        // Sent as `Authorization: ApiKey <key>`: an encoded key is base64, so anything outside visible ASCII
        // (CR/LF, spaces, control or non-ASCII characters) is a copy-and-paste accident and cannot be sent.
        let ok = k.expose_secret().bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            p.push(format!(
                "`{at}.api_key`: the key contains characters not allowed in an HTTP header (line breaks, spaces, control or non-ASCII characters); the key is not shown"
            ));
        }
        ok
    });
    let auth = match (c.username, has_password, has_api_key) {
        (_, true, true) => {
            p.push(format!(
                "`{at}`: use either username/password or api_key, not both"
            ));
            Auth::None
        }
        (Some(_), false, true) => {
            p.push(format!("`{at}.username` is not used with api_key"));
            Auth::None
        }
        (Some(u), true, false) => match password {
            Some(password) => Auth::Basic {
                username: u,
                password,
            },
            None => Auth::None,
        },
        (Some(_), false, false) => {
            p.push(format!(
                "`{at}.username` is set but `password` / `password_file` is not"
            ));
            Auth::None
        }
        (None, true, false) => {
            p.push(format!("`{at}`: a password needs `username`"));
            Auth::None
        }
        (None, false, true) => api_key.map(Auth::ApiKey).unwrap_or_default(),
        (None, false, false) => Auth::None,
    };

    let ca_cert_pem = c.ca_cert.as_ref().and_then(|path| {
        let bytes = match read_small_file("certificate file", path, MAX_CA_CERT_BYTES) {
            Ok(b) => b,
            Err(e) => {
                p.push(format!("`{at}.ca_cert`: {e}"));
                return None;
            }
        };
        match reqwest::Certificate::from_pem_bundle(&bytes) {
            Ok(certs) if !certs.is_empty() => Some(bytes),
            _ => {
                p.push(format!(
                    "`{at}.ca_cert`: {} holds no PEM certificate (expected a -----BEGIN CERTIFICATE----- block)",
                    path.display()
                ));
                None
            }
        }
    });
    if c.insecure_skip_verify && c.ca_cert.is_some() {
        p.push(format!(
            "`{at}`: `ca_cert` has no effect with `insecure_skip_verify = true`; remove one"
        ));
    }
    let timeout = match c.timeout.as_deref() {
        None => Some(Duration::from_secs(10)),
        Some(t) => parse_duration(&format!("{at}.timeout"), t, p),
    };
    let max_response_bytes = match c.max_response_size.as_deref() {
        None => Some(DEFAULT_MAX_RESPONSE_BYTES),
        Some(v) => match parse_byte_size(v).and_then(|n| usize::try_from(n).ok()) {
            Some(n) if n >= MIN_RESPONSE_BYTES => Some(n),
            _ => {
                p.push(format!(
                    "`{at}.max_response_size` = `{v}` must be a byte size of at least 64kb, like \"64mb\""
                ));
                None
            }
        },
    };
    if p.len() != before {
        return None;
    }
    Some(ClusterSettings {
        name: name.to_string(),
        url: url?,
        auth,
        ca_cert_pem,
        insecure_skip_verify: c.insecure_skip_verify,
        timeout: timeout?,
        max_response_bytes: max_response_bytes?,
    })
}

/// Reads a secret file; relative paths are resolved against `$CREDENTIALS_DIRECTORY` (systemd
/// `LoadCredential=`) when it is set. One trailing newline is removed.
fn read_secret_file(
    key: &str,
    path: &Path,
    credentials_dir: Option<&Path>,
    max_bytes: u64,
    problems: &mut Vec<String>,
) -> Option<SecretString> {
    let full = match credentials_dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    };
    let text = read_small_file("secret file", &full, max_bytes).and_then(|bytes| {
        String::from_utf8(bytes).map_err(|_| format!("secret file {} is not UTF-8", full.display()))
    });
    match text {
        Ok(s) => {
            let s = s.strip_suffix('\n').unwrap_or(&s);
            let s = s.strip_suffix('\r').unwrap_or(s);
            if s.is_empty() {
                problems.push(format!("`{key}`: secret file {} is empty", full.display()));
                None
            } else {
                Some(SecretString::from(s.to_string()))
            }
        }
        Err(e) => {
            problems.push(format!("`{key}`: {e}"));
            None
        }
    }
}

/// The smallest `max_response_size`: below it even an error envelope or `GET /` would not fit.
const MIN_RESPONSE_BYTES: usize = 64 << 10;

/// Reads a small regular file whole: a FIFO, device (`/dev/zero`), socket or directory is refused before it is
/// opened (reading one could block or never end), and at most `max` bytes are accepted. Errors name the file
/// as `what` and its path.
pub(crate) fn read_small_file(what: &str, path: &Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let shown = format!("{what} {}", path.display());
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "{shown} is not a regular file (a directory, FIFO or device cannot be read as a file)"
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "{shown} is larger than {} bytes: a secret or certificate file is refused above that size",
            max
        ));
    }
    Ok(bytes)
}

/// A follower or leader index name: present and acceptable to Elasticsearch.
fn check_index_name(key: &str, name: &str, problems: &mut Vec<String>) {
    if name.is_empty() {
        problems.push(format!("`{key}` is missing"));
    } else if let Err(why) = index_name(name) {
        problems.push(format!("`{key}` = {why}"));
    }
}

/// Why Elasticsearch would refuse `name` as a concrete index name, the rules of
/// `MetadataCreateIndexService.validateIndexOrAliasName` and `validateIndexName`: not empty, lowercase, none of
/// `\ / * ? " < > | , # :` or a space, not starting with `_`, `-` or `+`, not `.` or `..`, at most 255 bytes.
/// Wildcards, `_all` and comma lists are refused too, so a name never addresses more than one index.
pub fn index_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("`{name}` is not a valid index name: {why}"));
    if name.is_empty() {
        return Err("the index name is empty".into());
    }
    if let Some(c) = name.chars().find(|c| {
        matches!(
            c,
            '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ',' | '#' | ':' | ' '
        ) || c.is_control()
    }) {
        return bad(&format!(
            "it contains `{}` (not allowed: \\ / * ? \" < > | , # : space)",
            c.escape_default()
        ));
    }
    if name.starts_with(['_', '-', '+']) {
        return bad("it must not start with `_`, `-` or `+`");
    }
    if name == "." || name == ".." {
        return bad("`.` and `..` are not index names");
    }
    if name != name.to_lowercase() {
        return bad("it must be lowercase");
    }
    if name.len() > 255 {
        return bad(&format!("it is {} bytes long (at most 255)", name.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::from_toml_str;
    use std::path::Path;
    use std::time::Duration;

    /// The `[[remotes]]` entry of `CLUSTERS` with `lines` added.
    fn remote_with(lines: &str) -> String {
        format!("{}{lines}\n", crate::testing::CLUSTERS)
    }

    #[test]
    fn remote_security_models_and_port_mixups() {
        use crate::config::RemoteSecurity;
        let ok: &[(&str, RemoteSecurity, Option<&str>)] = &[
            ("", RemoteSecurity::Certificate, None),
            (
                "seeds = [\"10.0.0.1:9300\"]",
                RemoteSecurity::Certificate,
                None,
            ),
            (
                "security = \"api_key\"\nseeds = [\"10.0.0.1:9443\"]",
                RemoteSecurity::ApiKey,
                Some("90d"),
            ),
            (
                "security = \"api_key\"\nmode = \"proxy\"\nproxy_address = \"leader.example:9443\"\napi_key_expiration = \"7d\"",
                RemoteSecurity::ApiKey,
                Some("7d"),
            ),
            (
                "security = \"api_key\"\nseeds = [\"10.0.0.1:19443\"]\napi_key_expiration = \"none\"",
                RemoteSecurity::ApiKey,
                None,
            ),
        ];
        for (lines, security, expiration) in ok {
            let cfg = from_toml_str(&remote_with(lines)).unwrap_or_else(|e| panic!("{lines}: {e}"));
            assert_eq!(cfg.remotes[0].security, *security, "{lines}");
            assert_eq!(
                cfg.remotes[0].api_key_expiration.as_deref(),
                *expiration,
                "{lines}"
            );
        }
        let bad: &[(&str, &[&str])] = &[
            (
                "security = \"api_key\"\nseeds = [\"10.0.0.1:9300\"]",
                &["`remotes[0]`: `10.0.0.1:9300`: port 9300 is the default transport port", "default 9443", "requires channel profile to be [_remote_cluster]"],
            ),
            (
                "seeds = [\"10.0.0.1:9443\"]",
                &["`remotes[0]`: `10.0.0.1:9443`: port 9443 is the default remote cluster server port", "set `security = \"api_key\"`"],
            ),
            (
                "security = \"api_key\"\nmode = \"proxy\"\nproxy_address = \"leader:9200\"",
                &["`leader:9200`: port 9200 is the default HTTP port"],
            ),
            (
                "security = \"tls\"",
                &["`remotes[0].security` = `tls`: expected \"certificate\""],
            ),
            (
                "api_key_expiration = \"30d\"",
                &["`remotes[0].api_key_expiration` needs `security = \"api_key\"`"],
            ),
            (
                "security = \"api_key\"\napi_key_expiration = \"soon\"",
                &["`remotes[0].api_key_expiration` = `soon`: expected a positive Elasticsearch time value"],
            ),
        ];
        for (lines, needles) in bad {
            let err = from_toml_str(&remote_with(lines))
                .unwrap_err()
                .problems
                .join("\n");
            for n in *needles {
                assert!(err.contains(n), "{lines}: no `{n}` in:\n{err}");
            }
        }
        // Every problem at once: two mixed-up seeds and a bad expiration.
        let err = from_toml_str(&remote_with(
            "security = \"api_key\"\nseeds = [\"a:9300\", \"b:9200\"]\napi_key_expiration = \"0s\"",
        ))
        .unwrap_err()
        .problems;
        assert_eq!(err.len(), 3, "{err:#?}");
    }

    #[test]
    fn reconcile_sections_settings_and_parameters() {
        let text = format!(
            r#"{}manage = false
{}settings = {{ "index.number_of_replicas" = 0, index = {{ priority = 5 }} }}
parameters = {{ max_read_request_operation_count = 1000, read_poll_timeout = "30s" }}
[[auto_follow]]
cluster = "follower"
name = "p"
remote = "leader"
leader_index_patterns = ["a-*"]
active = false
[reconcile]
dry_run = true
apply_parameter_changes = true
backoff_initial = "5s"
backoff_max = "1m"
[audit]
file = "/tmp/audit.jsonl"
"#,
            crate::testing::CLUSTERS,
            crate::testing::follower("logs", "logs-copy"),
        );
        let cfg = from_toml_str(&text).unwrap();
        assert!(!cfg.remotes[0].manage);
        let f = &cfg.followers[0];
        assert_eq!(
            f.settings
                .get("index.number_of_replicas")
                .map(String::as_str),
            Some("0")
        );
        assert_eq!(
            f.settings.get("index.priority").map(String::as_str),
            Some("5")
        );
        assert_eq!(f.parameters.max_read_request_operation_count, Some(1000));
        assert_eq!(f.parameters.read_poll_timeout.as_deref(), Some("30s"));
        assert_eq!(cfg.auto_follow[0].active, Some(false));
        assert!(
            cfg.reconcile.dry_run && cfg.reconcile.apply_parameter_changes && cfg.reconcile.enabled
        );
        assert_eq!(cfg.reconcile.backoff_initial, Duration::from_secs(5));
        assert_eq!(
            cfg.audit.file.as_deref(),
            Some(Path::new("/tmp/audit.jsonl"))
        );

        let bad = text
            .replace(
                "read_poll_timeout = \"30s\"",
                "max_retry_delay = \"10m\", max_write_buffer_size = \"lots\"",
            )
            .replace("backoff_max = \"1m\"", "backoff_max = \"1s\"");
        let err = from_toml_str(&bad).unwrap_err().problems.join("\n");
        for needle in [
            "`followers[0].parameters.max_retry_delay` = `10m` must be positive and at most 5m",
            "`followers[0].parameters.max_write_buffer_size` = `lots` is not a positive byte size",
            "`reconcile.backoff_max` (1s) is shorter than `reconcile.backoff_initial` (5s)",
        ] {
            assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
        }
        let unknown = text.replace("read_poll_timeout", "read_pol_timeout");
        assert!(from_toml_str(&unknown).is_err());
    }

    #[test]
    fn heartbeat_remotes_follow_the_heartbeat_index() {
        let base = crate::testing::CLUSTERS.replace(
            "leader = \"leader\"\n",
            "leader = \"leader\"\nheartbeat = true\n",
        );
        let cfg = from_toml_str(&base).unwrap();
        assert!(cfg.remotes[0].heartbeat);
        let f = cfg
            .followers
            .iter()
            .find(|f| f.follower_index == "ccr-sentinel-heartbeat-leader")
            .expect("the heartbeat follower");
        assert_eq!(
            (
                f.cluster.as_str(),
                f.remote.as_str(),
                f.leader_index.as_str()
            ),
            ("follower", "leader", crate::config::HEARTBEAT_INDEX)
        );
        let taken = format!(
            "{base}{}",
            crate::testing::follower("logs", "ccr-sentinel-heartbeat-leader")
        );
        let err = from_toml_str(&taken).unwrap_err().problems.join("\n");
        assert!(
            err.contains("which a [[followers]] entry already uses"),
            "{err}"
        );
        let odd = base.replace("alias = \"leader\"", "alias = \"lead.er\"");
        let err = from_toml_str(&odd).unwrap_err().problems.join("\n");
        assert!(
            err.contains("`heartbeat = true` needs an alias of letters"),
            "{err}"
        );
        assert!(!from_toml_str(crate::testing::CLUSTERS).unwrap().remotes[0].heartbeat);
    }

    #[test]
    fn dr_section_defaults_and_problems() {
        let cfg = from_toml_str(crate::testing::CLUSTERS).unwrap();
        assert_eq!(cfg.dr.anti_flap_period, Duration::from_secs(3600));
        assert_eq!(cfg.dr.replicated_suffix, "-replicated_from_");
        assert_eq!(
            cfg.dr.follow_index_pattern("ClusterA"),
            "{{leader_index}}-replicated_from_clustera"
        );
        assert_eq!(cfg.dr.replicated_exclusion_pattern(), "*-replicated_from_*");
        let off = format!(
            "{}[dr]\nanti_flap_period = \"0s\"\nreplicated_suffix = \"-from-\"\n",
            crate::testing::CLUSTERS
        );
        let cfg = from_toml_str(&off).unwrap();
        assert_eq!(cfg.dr.anti_flap_period, Duration::ZERO);
        assert_eq!(cfg.dr.follow_index_pattern("b"), "{{leader_index}}-from-b");
        for (value, needle) in [
            (
                "anti_flap_period = \"soon\"",
                "`dr.anti_flap_period` = `soon` is not a duration",
            ),
            (
                "replicated_suffix = \"\"",
                "`dr.replicated_suffix` is empty",
            ),
            (
                "replicated_suffix = \"-{{x}}\"",
                "must not contain `{` or `}`",
            ),
            ("replicated_suffix = \"-From-\"", "it must be lowercase"),
            (
                "replicated_suffix = \"-a b\"",
                "does not make valid index names",
            ),
        ] {
            let text = format!("{}[dr]\n{value}\n", crate::testing::CLUSTERS);
            let err = from_toml_str(&text).unwrap_err().problems.join("\n");
            assert!(
                err.contains(needle),
                "{value}: missing {needle:?} in:\n{err}"
            );
        }
    }
}
