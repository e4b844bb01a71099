//! `_ccr/*`: follow stats and info (polled), follow / pause / resume / unfollow / forget_follower, and auto-follow
//! patterns, with their response types.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::Arc;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    null_as_default, required, seg, shrunk, Acknowledged, Endpoint, ErrorCause, EsClient, EsError,
    Filtered,
};

/// `GET /_ccr/stats`. Both sections are written by every version (CcrStatsAction.Response#toXContent).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CcrStatsResponse {
    #[serde(deserialize_with = "required")]
    pub auto_follow_stats: Option<AutoFollowStats>,
    pub follow_stats: FollowStatsResponse,
}

/// `auto_follow_stats` of `GET /_ccr/stats`.
/// Every field of [`AutoFollowStats`] by name; `follow_stats.indices` whole, as the type models every field of a
/// shard task and an include below it would drop an empty `indices` array (ES drops arrays that only the include
/// emptied), turning "no followers" into a decode error.
impl Filtered for CcrStatsResponse {
    const FILTER_PATH: &'static str = concat!(
        "auto_follow_stats.number_of_failed_follow_indices,",
        "auto_follow_stats.number_of_failed_remote_cluster_state_requests,",
        "auto_follow_stats.number_of_successful_follow_indices,",
        "auto_follow_stats.recent_auto_follow_errors,",
        "auto_follow_stats.auto_followed_clusters.cluster_name,",
        "auto_follow_stats.auto_followed_clusters.time_since_last_check_millis,",
        "auto_follow_stats.auto_followed_clusters.last_seen_metadata_version,",
        "follow_stats.indices"
    );
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AutoFollowStats {
    #[serde(default)]
    pub number_of_failed_follow_indices: i64,
    #[serde(default)]
    pub number_of_failed_remote_cluster_state_requests: i64,
    #[serde(default)]
    pub number_of_successful_follow_indices: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub recent_auto_follow_errors: Vec<AutoFollowError>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub auto_followed_clusters: Vec<AutoFollowedCluster>,
}

/// One entry of `recent_auto_follow_errors` (`timestamp` is missing in early 6.x).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AutoFollowError {
    #[serde(default)]
    pub leader_index: Option<String>,
    #[serde(default)]
    pub timestamp: Option<i64>,
    #[serde(default)]
    pub auto_follow_exception: Option<ErrorCause>,
}

/// One entry of `auto_followed_clusters`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AutoFollowedCluster {
    #[serde(default)]
    pub cluster_name: Option<String>,
    #[serde(default)]
    pub time_since_last_check_millis: Option<i64>,
    #[serde(default)]
    pub last_seen_metadata_version: Option<i64>,
}

/// `GET /{index}/_ccr/stats`, and `follow_stats` of `GET /_ccr/stats`. Paused followers are absent; `indices`
/// is always written (FollowStatsAction.StatsResponses#toXContent).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FollowStatsResponse {
    pub indices: Vec<FollowerIndexStats>,
}

/// The follow stats of one follower index.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FollowerIndexStats {
    /// The follower index; its shards' `follower_index` shares it.
    pub index: SharedName,
    /// Sum over shards of leader minus follower global checkpoint; ES 8.13+ only.
    #[serde(default)]
    pub total_global_checkpoint_lag: Option<i64>,
    #[serde(deserialize_with = "shrunk")]
    pub shards: Vec<ShardFollowStats>,
}

/// The follow task status of one shard (ShardFollowNodeTaskStatus). Counters reset when the task restarts.
/// The names, shard id, checkpoints, `operations_written` and `time_since_last_read_millis` decide the verdict
/// and are written by every version from 6.5 (ShardFollowNodeTaskStatus#toXContentFragment), so they are
/// required; the other counters only feed metrics and default to 0 when absent.
///
/// Only the fields the daemon reads are decoded: the snapshot keeps every shard's stats until the next poll
/// (10,000 at 2,000 followers of 5 shards), and the other counters of the server's object (see
/// `docs/es-contract.md`) would triple what each takes.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ShardFollowStats {
    pub remote_cluster: SharedName,
    pub leader_index: SharedName,
    pub follower_index: SharedName,
    pub shard_id: i64,
    pub leader_global_checkpoint: i64,
    pub leader_max_seq_no: i64,
    pub follower_global_checkpoint: i64,
    #[serde(default)]
    pub failed_read_requests: i64,
    #[serde(default)]
    pub bytes_read: i64,
    pub operations_written: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub read_exceptions: Vec<ReadException>,
    /// `-1` when the task has not read yet.
    pub time_since_last_read_millis: i64,
    /// Present only when the shard task failed fatally; it then needs pause + resume (or more). Boxed: almost
    /// no shard has one, and every shard pays for the field.
    #[serde(default)]
    pub fatal_exception: Option<Box<ErrorCause>>,
}

/// A name that every shard of a follower repeats (`remote_cluster`, `leader_index`, `follower_index`), stored
/// once: decoding looks the name up among the last few decoded on this thread and shares it when found, so
/// the shards of one follower, decoded one after the other, hold one copy of each of its names.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedName(Arc<str>);

/// How many recently decoded names [`SharedName`] looks among: a follower's three names and the next one's.
const RECENT_NAMES: usize = 8;

thread_local! {
    /// The names decoded last on this thread, with when each was last used.
    static RECENT: RefCell<[(Option<Arc<str>>, u64); RECENT_NAMES]> = RefCell::new(Default::default());
    static TICK: Cell<u64> = const { Cell::new(0) };
}

impl SharedName {
    /// The name, shared with a recently decoded equal one when there is one.
    pub fn intern(name: &str) -> Self {
        let tick = TICK.with(|t| {
            t.set(t.get().wrapping_add(1));
            t.get()
        });
        RECENT.with(|recent| {
            let mut recent = recent.borrow_mut();
            if let Some((Some(n), used)) =
                recent.iter_mut().find(|(n, _)| n.as_deref() == Some(name))
            {
                *used = tick;
                return Self(n.clone());
            }
            let n: Arc<str> = Arc::from(name);
            if let Some(oldest) = recent.iter_mut().min_by_key(|(_, used)| *used) {
                *oldest = (Some(n.clone()), tick);
            }
            Self(n)
        })
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for SharedName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SharedName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for SharedName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SharedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for SharedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for SharedName {
    fn from(s: &str) -> Self {
        Self(Arc::from(s))
    }
}

impl From<String> for SharedName {
    fn from(s: String) -> Self {
        Self(Arc::from(s))
    }
}

impl PartialEq<str> for SharedName {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for SharedName {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for SharedName {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl Serialize for SharedName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SharedName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = SharedName;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SharedName, E> {
                Ok(SharedName::intern(v))
            }
        }
        d.deserialize_str(V)
    }
}

impl ShardFollowStats {
    /// Operations the follower shard still has to replicate; never negative, `-1` checkpoints included.
    pub fn lag(&self) -> i64 {
        if self.leader_global_checkpoint < 0 {
            return 0;
        }
        // Saturating: hostile extremes (i64::MAX against -1) must give a huge lag, not wrap to "caught up".
        self.leader_global_checkpoint
            .saturating_sub(self.follower_global_checkpoint.max(-1))
            .max(0)
    }
}

/// A transient read failure that the shard task retries.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ReadException {
    #[serde(default)]
    pub from_seq_no: Option<i64>,
    #[serde(default)]
    pub retries: Option<i64>,
    #[serde(default)]
    pub exception: Option<ErrorCause>,
}

/// `GET /{index}/_ccr/info` (6.7+); every field but `parameters` is always written
/// (FollowInfoAction.Response#toXContent).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FollowInfoResponse {
    pub follower_indices: Vec<FollowerInfo>,
}

/// One follower index of `GET /{index}/_ccr/info`.
/// `follower_indices` whole: reconcile compares the `parameters` object, and an empty array must stay.
impl Filtered for FollowInfoResponse {
    const FILTER_PATH: &'static str = "follower_indices";
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FollowerInfo {
    pub follower_index: String,
    pub remote_cluster: String,
    pub leader_index: String,
    /// `active` or `paused` (closed followers count as paused).
    pub status: FollowerStatus,
    /// The effective follow parameters; only present while active. Kept raw: values are strings or numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `GET /_all/_ccr/info` as the `poll` reads it: every follower's names and status, without the follow
/// `parameters` (only reconcile compares them, from its own read), so thousands of followers' parameter objects
/// are neither sent nor kept in the snapshot. Decodes to a [`FollowInfoResponse`] whose `parameters` are
/// `None`. Elasticsearch drops an array its `filter_path` emptied, so no follower at all arrives as `{}`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(transparent)]
pub struct FollowStatuses(pub FollowInfoResponse);

impl Filtered for FollowStatuses {
    const FILTER_PATH: &'static str = concat!(
        "follower_indices.follower_index,follower_indices.remote_cluster,",
        "follower_indices.leader_index,follower_indices.status"
    );
}

impl<'de> Deserialize<'de> for FollowStatuses {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// `FollowerInfo` without `parameters`: the field is skipped unread.
        #[derive(Deserialize)]
        struct Status {
            follower_index: String,
            remote_cluster: String,
            leader_index: String,
            status: FollowerStatus,
        }
        #[derive(Deserialize)]
        struct Statuses {
            #[serde(default)]
            follower_indices: Vec<Status>,
        }
        let s = Statuses::deserialize(d)?;
        Ok(Self(FollowInfoResponse {
            follower_indices: s
                .follower_indices
                .into_iter()
                .map(|f| FollowerInfo {
                    follower_index: f.follower_index,
                    remote_cluster: f.remote_cluster,
                    leader_index: f.leader_index,
                    status: f.status,
                    parameters: None,
                })
                .collect(),
        }))
    }
}

/// Follower status as `GET /{index}/_ccr/info` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FollowerStatus {
    Active,
    Paused,
    /// A value this version of the daemon does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

/// The answer of `PUT /{index}/_ccr/follow`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PutFollowResponse {
    #[serde(default)]
    pub follow_index_created: bool,
    #[serde(default)]
    pub follow_index_shards_acked: bool,
    #[serde(default)]
    pub index_following_started: bool,
}

/// `GET /_ccr/auto_follow`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AutoFollowPatternsResponse {
    #[serde(default)]
    pub patterns: Vec<NamedAutoFollowPattern>,
}

/// One entry of `GET /_ccr/auto_follow`.
/// An empty `patterns` array is dropped by the filter; `patterns` defaults to empty, so that reads the same.
impl Filtered for AutoFollowPatternsResponse {
    const FILTER_PATH: &'static str = "patterns.name,patterns.pattern";
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct NamedAutoFollowPattern {
    pub name: String,
    #[serde(default)]
    pub pattern: AutoFollowPattern,
}

/// An auto-follow pattern as the cluster reports it. `active` is absent before 7.5; follow parameters appear
/// only when set explicitly.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AutoFollowPattern {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default)]
    pub remote_cluster: String,
    #[serde(default)]
    pub leader_index_patterns: Vec<String>,
    #[serde(default)]
    pub leader_index_exclusion_patterns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_index_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Value>,
    /// Follow parameters and any field this version does not know.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl EsClient {
    /// `GET /_ccr/stats`: follow stats of every active follower plus auto-follow stats, in one request.
    pub async fn ccr_stats(&self) -> Result<CcrStatsResponse, EsError> {
        self.read(Method::GET, Endpoint::CcrStats, "_ccr/stats", None)
            .await
    }

    /// `GET /_all/_ccr/info`: every follower index, paused ones included.
    pub async fn follow_info_all(&self) -> Result<FollowInfoResponse, EsError> {
        self.read(Method::GET, Endpoint::FollowInfo, "_all/_ccr/info", None)
            .await
    }

    /// `GET /_all/_ccr/info` without the follow parameters ([`FollowStatuses`]): the `poll`'s read.
    pub async fn follow_statuses_all(&self) -> Result<FollowInfoResponse, EsError> {
        self.read::<FollowStatuses>(Method::GET, Endpoint::FollowInfo, "_all/_ccr/info", None)
            .await
            .map(|s| s.0)
    }

    /// `PUT /{follower_index}/_ccr/follow?wait_for_active_shards=0` with `body` (remote_cluster, leader_index,
    /// settings, follow parameters).
    ///
    /// `0` (`ActiveShardCount.NONE`, the default of `PutFollowAction.Request` on every version since 6.7, where
    /// the parameter appeared) answers as soon as the restore has started
    /// (`TransportPutFollowAction.afterRestoreStarted`); any other value holds the request until the whole remote
    /// recovery has finished, which for a large leader outlasts every request timeout. The copy is then watched
    /// through `_recovery` (the `bootstrapping` state), not through this request.
    pub async fn put_follow(
        &self,
        follower_index: &str,
        body: &Value,
    ) -> Result<PutFollowResponse, EsError> {
        self.request(
            Method::PUT,
            Endpoint::PutFollow,
            &format!(
                "{}/_ccr/follow?wait_for_active_shards=0",
                seg(follower_index)
            ),
            Some(body),
        )
        .await
    }

    /// `POST /{index}/_ccr/pause_follow`.
    pub async fn pause_follow(&self, follower_index: &str) -> Result<Acknowledged, EsError> {
        self.request(
            Method::POST,
            Endpoint::PauseFollow,
            &format!("{}/_ccr/pause_follow", seg(follower_index)),
            None,
        )
        .await
    }

    /// `POST /{index}/_ccr/resume_follow`, with follow parameters or none (the defaults).
    pub async fn resume_follow(
        &self,
        follower_index: &str,
        parameters: Option<&Value>,
    ) -> Result<Acknowledged, EsError> {
        self.request(
            Method::POST,
            Endpoint::ResumeFollow,
            &format!("{}/_ccr/resume_follow", seg(follower_index)),
            parameters,
        )
        .await
    }

    /// `POST /{index}/_ccr/unfollow` (the follower must be paused and closed).
    pub async fn unfollow(&self, follower_index: &str) -> Result<Acknowledged, EsError> {
        self.request(
            Method::POST,
            Endpoint::Unfollow,
            &format!("{}/_ccr/unfollow", seg(follower_index)),
            None,
        )
        .await
    }

    /// `POST /{leader_index}/_ccr/forget_follower`, sent to the **leader** cluster. `follower_cluster` is the
    /// follower's `cluster_name` (from `GET /`), not its configuration name.
    pub async fn forget_follower(
        &self,
        leader_index: &str,
        follower_cluster: &str,
        follower_index: &str,
        follower_index_uuid: &str,
        leader_remote_cluster: &str,
    ) -> Result<Value, EsError> {
        let body = serde_json::json!({
            "follower_cluster": follower_cluster,
            "follower_index": follower_index,
            "follower_index_uuid": follower_index_uuid,
            "leader_remote_cluster": leader_remote_cluster,
        });
        self.request(
            Method::POST,
            Endpoint::ForgetFollower,
            &format!("{}/_ccr/forget_follower", seg(leader_index)),
            Some(&body),
        )
        .await
    }

    /// `GET /{index}/_ccr/info` of one index (`follower_indices` is empty when it is not a follower).
    pub async fn follow_info(&self, index: &str) -> Result<FollowInfoResponse, EsError> {
        self.read(
            Method::GET,
            Endpoint::FollowInfo,
            &format!("{}/_ccr/info", seg(index)),
            None,
        )
        .await
    }

    /// `GET /_ccr/auto_follow`: every pattern by name. Some versions answer 404 when there is none; that is an
    /// empty map here.
    pub async fn get_auto_follow_patterns(
        &self,
    ) -> Result<BTreeMap<String, AutoFollowPattern>, EsError> {
        let r: Result<AutoFollowPatternsResponse, EsError> = self
            .read(
                Method::GET,
                Endpoint::AutoFollowGet,
                "_ccr/auto_follow",
                None,
            )
            .await;
        match r {
            Ok(r) => Ok(r
                .patterns
                .into_iter()
                .map(|p| (p.name, p.pattern))
                .collect()),
            Err(e) if e.status() == Some(404) => Ok(BTreeMap::new()),
            Err(e) => Err(e),
        }
    }

    /// `GET /_ccr/auto_follow/{name}`; `None` when the pattern does not exist.
    pub async fn get_auto_follow_pattern(
        &self,
        name: &str,
    ) -> Result<Option<AutoFollowPattern>, EsError> {
        let r: Result<AutoFollowPatternsResponse, EsError> = self
            .read(
                Method::GET,
                Endpoint::AutoFollowGet,
                &format!("_ccr/auto_follow/{}", seg(name)),
                None,
            )
            .await;
        match r {
            Ok(r) => Ok(r
                .patterns
                .into_iter()
                .find(|p| p.name == name)
                .map(|p| p.pattern)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `PUT /_ccr/auto_follow/{name}` (creates or overwrites).
    pub async fn put_auto_follow_pattern(
        &self,
        name: &str,
        body: &Value,
    ) -> Result<Acknowledged, EsError> {
        self.request(
            Method::PUT,
            Endpoint::AutoFollowPut,
            &format!("_ccr/auto_follow/{}", seg(name)),
            Some(body),
        )
        .await
    }

    /// `DELETE /_ccr/auto_follow/{name}` (followers it created stay).
    pub async fn delete_auto_follow_pattern(&self, name: &str) -> Result<Acknowledged, EsError> {
        self.request(
            Method::DELETE,
            Endpoint::AutoFollowDelete,
            &format!("_ccr/auto_follow/{}", seg(name)),
            None,
        )
        .await
    }

    /// `POST /_ccr/auto_follow/{name}/pause` (7.5+; idempotent).
    pub async fn pause_auto_follow_pattern(&self, name: &str) -> Result<Acknowledged, EsError> {
        self.request(
            Method::POST,
            Endpoint::AutoFollowPause,
            &format!("_ccr/auto_follow/{}/pause", seg(name)),
            None,
        )
        .await
    }

    /// `POST /_ccr/auto_follow/{name}/resume` (7.5+; idempotent).
    pub async fn resume_auto_follow_pattern(&self, name: &str) -> Result<Acknowledged, EsError> {
        self.request(
            Method::POST,
            Endpoint::AutoFollowResume,
            &format!("_ccr/auto_follow/{}/resume", seg(name)),
            None,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixture;

    #[test]
    fn ccr_stats_8x_parses_with_lag_field() {
        let s: CcrStatsResponse = fixture("ccr_stats_response_8x.json");
        let afs = s.auto_follow_stats.unwrap();
        assert_eq!(afs.number_of_failed_follow_indices, 0);
        let idx = &s.follow_stats.indices[0];
        assert_eq!(idx.index, "follower_index");
        assert_eq!(idx.shards[0].operations_written, 832);
        assert!(idx.total_global_checkpoint_lag.is_some());
    }

    #[test]
    fn the_shards_of_a_follower_share_its_names() {
        let shard = |id: i64, follower: &str| {
            format!(
                r#"{{"remote_cluster":"leader","leader_index":"{follower}-src","follower_index":"{follower}","shard_id":{id},"leader_global_checkpoint":5,"leader_max_seq_no":5,"follower_global_checkpoint":4,"operations_written":4,"time_since_last_read_millis":10}}"#
            )
        };
        let index = |name: &str| {
            let shards: Vec<String> = (0..3).map(|i| shard(i, name)).collect();
            format!(r#"{{"index":"{name}","shards":[{}]}}"#, shards.join(","))
        };
        let body = format!(r#"{{"indices":[{},{}]}}"#, index("a"), index("b"));
        let s: FollowStatsResponse = serde_json::from_str(&body).unwrap();
        for i in &s.indices {
            let first = &i.shards[0];
            assert_eq!(first.follower_index, i.index);
            assert_eq!(first.leader_index, format!("{}-src", i.index));
            for sh in &i.shards[1..] {
                for (a, b) in [
                    (&first.remote_cluster, &sh.remote_cluster),
                    (&first.leader_index, &sh.leader_index),
                    (&first.follower_index, &sh.follower_index),
                ] {
                    assert!(Arc::ptr_eq(&a.0, &b.0), "{a} is not shared");
                }
            }
        }
        assert_eq!(s.indices[1].shards[0].remote_cluster, "leader");
        assert_eq!(
            serde_json::to_value(&s.indices[0].shards[0]).unwrap()["follower_index"],
            "a"
        );
    }

    #[test]
    fn follow_stats_7x_parses_without_lag_field() {
        let s: FollowStatsResponse = fixture("ccr_follow_stats_response_7x.json");
        let idx = &s.indices[0];
        assert_eq!(idx.total_global_checkpoint_lag, None);
        let shard = &idx.shards[0];
        assert_eq!(
            shard.lag(),
            shard.leader_global_checkpoint - shard.follower_global_checkpoint
        );
    }

    #[test]
    fn follow_info_active_and_paused() {
        let a: FollowInfoResponse = fixture("ccr_follow_info_response_active_8x.json");
        assert_eq!(a.follower_indices[0].status, FollowerStatus::Active);
        assert!(a.follower_indices[0].parameters.is_some());
        let p: FollowInfoResponse = fixture("ccr_follow_info_response_paused_8x.json");
        assert_eq!(p.follower_indices[0].status, FollowerStatus::Paused);
        assert!(p.follower_indices[0].parameters.is_none());
    }

    #[test]
    fn minus_one_checkpoints_and_missing_fields() {
        let body = r#"{"indices":[{"index":"f","shards":[{"remote_cluster":"l","leader_index":"a",
            "follower_index":"f","shard_id":0,"leader_global_checkpoint":-1,"leader_max_seq_no":-1,
            "follower_global_checkpoint":-1,"follower_max_seq_no":-1,"operations_written":0,
            "time_since_last_read_millis":-1,"brand_new_field":{"x":1}}]}]}"#;
        let s: FollowStatsResponse = serde_json::from_str(body).unwrap();
        assert_eq!(s.indices[0].shards[0].lag(), 0);
        assert!(s.indices[0].shards[0].read_exceptions.is_empty());
    }

    #[test]
    fn answers_missing_required_sections_or_fields_are_errors() {
        let full: serde_json::Value =
            serde_json::from_str(&crate::testing::fixture_text("ccr_stats_response_8x.json"))
                .unwrap();
        assert!(serde_json::from_value::<CcrStatsResponse>(full.clone()).is_ok());
        for bad in [
            serde_json::json!({}),
            serde_json::json!({"auto_follow_stats": full["auto_follow_stats"]}),
            serde_json::json!({"follow_stats": full["follow_stats"]}),
            serde_json::json!({"auto_follow_stats": null, "follow_stats": full["follow_stats"]}),
            serde_json::json!({"auto_follow_stats": full["auto_follow_stats"], "follow_stats": {}}),
        ] {
            assert!(
                serde_json::from_value::<CcrStatsResponse>(bad.clone()).is_err(),
                "accepted {bad}"
            );
        }
        // Each field that decides a verdict, removed from a shard, makes the answer invalid.
        for field in [
            "leader_global_checkpoint",
            "follower_global_checkpoint",
            "time_since_last_read_millis",
            "follower_index",
            "shard_id",
        ] {
            let mut v = full.clone();
            v["follow_stats"]["indices"][0]["shards"][0]
                .as_object_mut()
                .unwrap()
                .remove(field);
            assert!(
                serde_json::from_value::<CcrStatsResponse>(v).is_err(),
                "{field} missing was accepted"
            );
        }
        assert!(serde_json::from_str::<FollowInfoResponse>("{}").is_err());
        assert!(serde_json::from_str::<FollowInfoResponse>(
            r#"{"follower_indices":[{"follower_index":"f"}]}"#
        )
        .is_err());
    }

    #[test]
    fn lag_saturates_at_extreme_checkpoints() {
        let shard = |leader, follower| ShardFollowStats {
            leader_global_checkpoint: leader,
            follower_global_checkpoint: follower,
            ..Default::default()
        };
        assert_eq!(shard(i64::MAX, -1).lag(), i64::MAX);
        assert_eq!(shard(i64::MAX, i64::MIN).lag(), i64::MAX);
        assert_eq!(shard(-1, i64::MAX).lag(), 0);
        assert_eq!(shard(0, i64::MAX).lag(), 0);
        assert_eq!(shard(i64::MIN, i64::MIN).lag(), 0);
        assert_eq!(shard(10, 4).lag(), 6);
    }

    #[test]
    fn auto_follow_patterns_parse_with_and_without_active() {
        for (f, active) in [
            ("ccr_auto_follow_get_response_8x.json", Some(true)),
            ("ccr_auto_follow_get_response_6x.json", None),
        ] {
            let r: AutoFollowPatternsResponse = fixture(f);
            assert!(!r.patterns.is_empty(), "{f}");
            assert_eq!(r.patterns[0].pattern.active, active, "{f}");
            assert!(!r.patterns[0].pattern.remote_cluster.is_empty(), "{f}");
        }
    }
}
