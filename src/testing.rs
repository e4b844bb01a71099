//! Builders shared by the unit tests: the standard two-cluster configuration, Elasticsearch fixture bodies,
//! polls of them, and the observation of a healthy follower.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};

use crate::config::{Config, CronSchedule};
use crate::es::{CatIndex, CcrStatsResponse, EsError, FollowerStatus};
use crate::evaluate::report::{ClusterReport, FollowerReport, Report};
use crate::observe::{
    DocCountResult, DocParity, FollowerObservation, Freshness, PollResult, RemoteObservation,
    ShardSummary, Snapshot,
};

/// The leader's `_stats?level=shards` of one index `logs` with one shard in two copies: a replica first, then the
/// primary holding a peer-recovery lease and a CCR lease.
pub(crate) const LEADER_SHARDS_TWO_COPIES: &str = r#"{"indices":{"logs":{"shards":{"0":[
    {"routing":{"primary":false},"seq_no":{"max_seq_no":9,"local_checkpoint":9,"global_checkpoint":8}},
    {"routing":{"primary":true},"seq_no":{"max_seq_no":10,"local_checkpoint":10,"global_checkpoint":9},
     "retention_leases":{"leases":[
       {"id":"peer_recovery/abc","retaining_seq_no":11,"timestamp":5,"source":"peer recovery"},
       {"id":"fcluster/logs-copy/uuid1-following-leader/logs/uuid2","retaining_seq_no":7,
        "timestamp":1700000000000,"source":"ccr"}]}}]}}}}"#;

/// Two clusters, `leader` and `follower`, and on `follower` the remote alias `leader` for the leader cluster.
/// The text ends inside the `[[remotes]]` entry, so keys appended before the next table header (`seeds = [...]`)
/// belong to that remote.
pub(crate) const CLUSTERS: &str = r#"
[clusters.leader]
url = "http://127.0.0.1:1"
[clusters.follower]
url = "http://127.0.0.1:2"
[[remotes]]
cluster = "follower"
alias = "leader"
leader = "leader"
"#;

/// Two clusters `a` and `b` that can swap roles (a DR pair): each has a remote on the other (alias = the other's
/// name), and `b` follows `a`'s `logs` under the same name, the declared direction (`a` writes). Tests append
/// their own `[[auto_follow]]` entries.
pub(crate) const DR_PAIR: &str = r#"
[clusters.a]
url = "http://127.0.0.1:1"
[clusters.b]
url = "http://127.0.0.1:2"
[[remotes]]
cluster = "b"
alias = "a"
leader = "a"
seeds = ["127.0.0.1:9300"]
[[remotes]]
cluster = "a"
alias = "b"
leader = "b"
seeds = ["127.0.0.1:9301"]
[[followers]]
cluster = "b"
remote = "a"
leader_index = "logs"
follower_index = "logs"
"#;

/// [`CLUSTERS`] followed by `extra`, validated.
pub(crate) fn config(extra: &str) -> Config {
    crate::config::from_toml_str(&format!("{CLUSTERS}{extra}")).unwrap()
}

/// A `[[followers]]` entry on `follower` through the alias `leader`.
pub(crate) fn follower(leader_index: &str, follower_index: &str) -> String {
    format!(
        "[[followers]]\ncluster = \"follower\"\nremote = \"leader\"\nleader_index = \"{leader_index}\"\nfollower_index = \"{follower_index}\"\n"
    )
}

/// The configuration the fixture bodies are read against: `orders-copy` (in the fixtures) and `gone-copy` (in
/// none of them) are configured, the fixtures' `paused-copy` is not.
pub(crate) fn fixture_config() -> Config {
    config(&(follower("orders", "orders-copy") + &follower("gone", "gone-copy")))
}

/// The text of a response body from `tests/fixtures/es/`.
pub(crate) fn fixture_text(name: &str) -> String {
    let path = format!("{}/tests/fixtures/es/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A response body from `tests/fixtures/es/`, decoded.
pub(crate) fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&fixture_text(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A successful poll of `follower` that answered with these fixture bodies.
pub(crate) fn poll(stats: &str, info: &str, remote: &str) -> PollResult {
    PollResult {
        cluster: "follower".into(),
        at: Utc::now(),
        ccr_stats: Ok(fixture(stats)),
        follow_info: Ok(fixture(info)),
        remote_info: Ok(fixture(remote)),
        recovery: Some(Ok(Default::default())),
        heartbeats: None,
    }
}

/// A snapshot after one successful poll of `follower` that answered with the 6.8 bodies.
pub(crate) fn polled_6_8() -> Snapshot {
    let mut snap = Snapshot::default();
    snap.apply_poll(poll(
        "versions/ccr_stats_response_6.8.json",
        "versions/follow_info_response_6.8.json",
        "versions/remote_info_response_6.8.json",
    ));
    snap
}

/// A poll of `follower` answering with the 6.8 bodies, its stats replaced by `stats`.
pub(crate) fn poll_with_stats(stats: CcrStatsResponse) -> PollResult {
    let mut p = poll(
        "versions/ccr_stats_response_6.8.json",
        "versions/follow_info_response_6.8.json",
        "versions/remote_info_response_6.8.json",
    );
    p.ccr_stats = Ok(stats);
    p
}

/// One `doc_counts` run that read `indices` after `snap`'s latest poll, then the poll `after`, which started
/// once the run was applied: the order in which the daemon runs them.
pub(crate) fn count_then_poll(
    cfg: &Config,
    snap: &mut Snapshot,
    indices: BTreeMap<String, Result<Vec<CatIndex>, EsError>>,
    after: PollResult,
) {
    let before = snap.counts_before();
    snap.apply_doc_counts(
        cfg,
        before,
        DocCountResult {
            at: Utc::now(),
            indices,
        },
    );
    let mark = snap.poll_mark();
    snap.apply_polled(after, mark);
}

/// The 6.8 stats fixture with every shard of its first follower at the given checkpoints.
pub(crate) fn stats_with(lgc: i64, lmax: i64, fgc: i64) -> CcrStatsResponse {
    let mut s: CcrStatsResponse = fixture("versions/ccr_stats_response_6.8.json");
    for sh in &mut s.follow_stats.indices[0].shards {
        sh.leader_global_checkpoint = lgc;
        sh.leader_max_seq_no = lmax;
        sh.follower_global_checkpoint = fgc;
    }
    s
}

/// The report of follower index `index`.
pub(crate) fn find<'a>(r: &'a Report, index: &str) -> &'a FollowerReport {
    r.followers
        .iter()
        .find(|f| f.observation.follower_index == index)
        .unwrap_or_else(|| panic!("no follower {index} in {:?}", r.followers))
}

/// A fixed instant, for data whose age does not matter.
pub(crate) fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 0, 0, 0).unwrap()
}

/// A healthy, managed follower `follower_index` on `follower` of the leader index named like it without
/// `-copy`: active, one shard that read a second ago, remote connected, 10 documents on both sides, compared.
pub(crate) fn observation(follower_index: &str) -> FollowerObservation {
    FollowerObservation {
        follower_cluster: "follower".into(),
        follower_index: follower_index.into(),
        remote_cluster: "leader".into(),
        leader_index: follower_index.trim_end_matches("-copy").into(),
        leader_cluster: Some("leader".into()),
        managed: true,
        freshness: Freshness::Fresh,
        status: Some(FollowerStatus::Active),
        follower_index_exists: Some(true),
        shards: Some(ShardSummary {
            shards: 1,
            global_checkpoint_lag: 0,
            max_time_since_last_read_millis: Some(1_000),
            ..Default::default()
        }),
        remote: RemoteObservation::Seen {
            connected: true,
            mode: "sniff".into(),
            nodes_connected: 1,
        },
        leader_index_exists: Some(true),
        bootstrap: None,
        following_seen: true,
        copy_seen: true,
        remote_key: None,
        docs: Some(DocParity {
            at: epoch(),
            leader_docs: Some(10),
            follower_docs: Some(10),
            comparable: true,
            not_compared_because: None,
        }),
    }
}

/// A cron schedule whose period is measured from now, for tests that build jobs by hand (configuration loading
/// measures it from the clock it is given).
pub(crate) fn parse_cron(expr: &str) -> Result<CronSchedule, String> {
    CronSchedule::parse(expr, Utc::now())
}

/// The report of a cluster that answered its last poll, with no errors.
pub(crate) fn cluster_up(name: &str) -> ClusterReport {
    ClusterReport {
        name: name.to_string(),
        up: true,
        stale: false,
        last_attempt: None,
        last_success: None,
        errors: Default::default(),
        insecure_skip_verify: false,
    }
}
