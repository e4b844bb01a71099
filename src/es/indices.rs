//! Index-level calls: `_cat/indices`, `_recovery` and the leader's shard stats (polled), open / close,
//! `_settings` and the heartbeat index, with their response types.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use reqwest::Method;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::{seg, Acknowledged, Endpoint, EsClient, EsError, Filtered};

/// One row of `GET /_cat/indices?format=json&h=index,status,docs.count`; values are strings in every version.
/// `index` and `status` are always filled (RestIndicesAction); `docs.count` is empty for closed indices.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CatIndex {
    pub index: String,
    #[serde(deserialize_with = "super::required")]
    pub status: Option<String>,
    /// `null` or absent for closed indices.
    #[serde(rename = "docs.count", default, deserialize_with = "lenient_i64")]
    pub docs_count: Option<i64>,
}

/// `GET /{index}/_settings?flat_settings=true`: flat settings by index (values are strings).
pub type IndexSettingsResponse = BTreeMap<String, IndexSettings>;

/// The settings of one index.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct IndexSettings {
    #[serde(default)]
    pub settings: BTreeMap<String, Value>,
}

impl Filtered for IndexSettingsResponse {
    const FILTER_PATH: &'static str = "*.settings";
}

impl IndexSettings {
    /// A flat setting as a string.
    pub fn get(&self, key: &str) -> Option<String> {
        match self.settings.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

/// `GET /_data_stream`, narrowed by `filter_path` to each stream's name and backing index names
/// (ES `GetDataStreamAction.Response.DataStreamInfo#toXContent`: `name`, `indices[].index_name`, oldest generation
/// first, the last one the write index). A `filter_path` that matches nothing answers `{}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct DataStreamsResponse {
    #[serde(default)]
    pub data_streams: Vec<DataStreamInfo>,
}

impl Filtered for DataStreamsResponse {
    const FILTER_PATH: &'static str =
        "data_streams.name,data_streams.system,data_streams.indices.index_name";
}

/// One data stream of `GET /_data_stream`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct DataStreamInfo {
    pub name: String,
    /// A system data stream (7.11+; absent before, when there were none to report).
    #[serde(default)]
    pub system: bool,
    #[serde(default)]
    pub indices: Vec<DataStreamBackingIndex>,
}

/// One backing index of a data stream.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct DataStreamBackingIndex {
    pub index_name: String,
}

/// `GET /_data_stream/{name}`, narrowed by `filter_path` to what promoting a stream needs: its name, whether it
/// is `replicated` (7.11+; absent before, `None` here) and its backing indices, oldest generation first, the last
/// one the write index (ES `GetDataStreamAction.Response.DataStreamInfo#toXContent`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct DataStreamStateResponse {
    #[serde(default)]
    pub data_streams: Vec<DataStreamState>,
}

impl Filtered for DataStreamStateResponse {
    const FILTER_PATH: &'static str =
        "data_streams.name,data_streams.replicated,data_streams.indices.index_name";
}

/// One data stream of [`DataStreamStateResponse`].
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct DataStreamState {
    pub name: String,
    /// A follower's copy not yet promoted; `None` where the version does not say.
    #[serde(default)]
    pub replicated: Option<bool>,
    #[serde(default)]
    pub indices: Vec<DataStreamBackingIndex>,
}

impl DataStreamState {
    /// The write index: the last backing index.
    pub fn write_index(&self) -> Option<&str> {
        self.indices.last().map(|i| i.index_name.as_str())
    }
}

/// `GET /_index_template`, narrowed by `filter_path` to what [`IndexTemplatesResponse::find_v2_template`] needs
/// (ES `GetComposableIndexTemplateAction.Response#toXContent`). A `filter_path` that matches nothing (no
/// template) answers `{}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct IndexTemplatesResponse {
    #[serde(default)]
    pub index_templates: Vec<NamedIndexTemplate>,
}

impl Filtered for IndexTemplatesResponse {
    const FILTER_PATH: &'static str =
        "index_templates.name,index_templates.index_template.index_patterns,\
         index_templates.index_template.priority,index_templates.index_template.data_stream";
}

/// One composable index template.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct NamedIndexTemplate {
    pub name: String,
    #[serde(default)]
    pub index_template: IndexTemplateBody,
}

/// The parts of a composable index template that decide which one a new backing index comes from.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct IndexTemplateBody {
    #[serde(default)]
    pub index_patterns: Vec<String>,
    /// A missing priority counts as 0 (`ComposableIndexTemplate#priorityOrZero`).
    #[serde(default)]
    pub priority: Option<i64>,
    /// `data_stream: {..}`: the template creates data streams.
    #[serde(default)]
    pub data_stream: Option<Value>,
}

impl IndexTemplatesResponse {
    /// The template a new index named `name` comes from, as ES `MetadataIndexTemplateService.findV2Template`
    /// (`findV2CandidateTemplates`) picks it for a data stream (not hidden): of the templates with a pattern
    /// matching `name` (`Regex.simpleMatch`, `*` wildcards), the one of highest priority. Two overlapping
    /// templates of one priority cannot both exist (`addIndexTemplateV2` refuses the second).
    pub fn find_v2_template(&self, name: &str) -> Option<&NamedIndexTemplate> {
        self.index_templates
            .iter()
            .filter(|t| {
                t.index_template
                    .index_patterns
                    .iter()
                    .any(|p| crate::config::policy::wildcard_match(p, name))
            })
            .max_by_key(|t| t.index_template.priority.unwrap_or(0))
    }
}

/// The answer of `POST /{target}/_rollover` (ES `RolloverResponse#toXContent`), of which the indices are read.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct RolloverResponse {
    #[serde(default)]
    pub old_index: String,
    #[serde(default)]
    pub new_index: String,
    #[serde(default)]
    pub rolled_over: bool,
}

/// The leader setting the retention-lease margin counts against (ES `IndexSettings`
/// `INDEX_SOFT_DELETES_RETENTION_LEASE_PERIOD_SETTING`, dynamic, default 12h).
pub const RETENTION_LEASE_PERIOD_SETTING: &str = "index.soft_deletes.retention_lease.period";

/// `GET /{indices}/_settings/index.soft_deletes.retention_lease.period?include_defaults=true&flat_settings=true`:
/// by index, the setting under `settings` when the index sets it, otherwise under `defaults`. ES
/// `TransportGetSettingsAction#masterOperation` filters both maps by the name, and with `include_defaults`
/// `GetSettingsResponse#toXContent` writes every index with both objects, even an empty `settings`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct LeasePeriodsResponse(pub BTreeMap<String, IndexSettingsWithDefaults>);

/// One index of [`LeasePeriodsResponse`].
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct IndexSettingsWithDefaults {
    #[serde(default)]
    pub settings: BTreeMap<String, Value>,
    #[serde(default)]
    pub defaults: BTreeMap<String, Value>,
}

impl Filtered for LeasePeriodsResponse {
    const FILTER_PATH: &'static str = "*.settings,*.defaults";
}

impl LeasePeriodsResponse {
    /// The retention-lease period of every index that answered with a valid time value, in milliseconds. A value
    /// the daemon cannot parse is left out (the margin then counts against the default), never guessed.
    pub fn by_index(&self) -> BTreeMap<String, i64> {
        self.0
            .iter()
            .filter_map(|(index, s)| {
                let v = s
                    .settings
                    .get(RETENTION_LEASE_PERIOD_SETTING)
                    .or_else(|| s.defaults.get(RETENTION_LEASE_PERIOD_SETTING))?
                    .as_str()?;
                let d = crate::config::parse_es_time(v)?;
                Some((index.clone(), i64::try_from(d.as_millis()).ok()?))
            })
            .collect()
    }
}

/// The `filter_path` both shard-stats reads keep: per shard copy its `routing.primary` and
/// `seq_no.global_checkpoint`. A macro, so
/// the read with leases is this list plus one path and the two cannot drift apart.
macro_rules! shard_seq_no_paths {
    () => {
        "indices.*.shards.*.routing.primary,indices.*.shards.*.seq_no.global_checkpoint"
    };
}

/// `GET /{indices}/_stats/docs?level=shards`, narrowed by `filter_path` to what the lag in time and the retention-lease
/// margin need: per shard copy its `routing.primary`, `seq_no.global_checkpoint` and `retention_leases` (ES `ShardStats#toXContent`
/// writes them at `level=shards` whatever metrics are asked for; `SeqNoStats`, `RetentionLeaseStats`). A
/// `filter_path` that matches nothing answers `{}`, so `indices` defaults to empty. [`ShardSeqNos`] is the same
/// read without the leases.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ShardStatsResponse {
    pub indices: BTreeMap<String, IndexShardStats>,
}

impl Filtered for ShardStatsResponse {
    const FILTER_PATH: &'static str = concat!(
        shard_seq_no_paths!(),
        ",indices.*.shards.*.retention_leases.leases"
    );
}

impl<'de> Deserialize<'de> for ShardStatsResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        stats_body::<D, ShardCopyStats>(d)
    }
}

/// [`ShardStatsResponse`] without the retention leases: the leader's sequence numbers alone, for the polls on
/// which the leases are not due ([`crate::observe::LEASE_REFRESH`]). Every copy reads `retention_leases: None`;
/// a server that ignores `filter_path` still sends them, and they are skipped unread (never allocated).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(transparent)]
pub struct ShardSeqNos(pub ShardStatsResponse);

impl Filtered for ShardSeqNos {
    const FILTER_PATH: &'static str = shard_seq_no_paths!();
}

impl<'de> Deserialize<'de> for ShardSeqNos {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        stats_body::<D, SeqNoCopy>(d).map(ShardSeqNos)
    }
}

/// A shard copy without its retention leases (the field, when sent, is skipped unread).
#[derive(Deserialize)]
struct SeqNoCopy {
    #[serde(default)]
    routing: Option<ShardCopyRouting>,
    #[serde(default)]
    seq_no: Option<SeqNoStats>,
}

impl From<SeqNoCopy> for ShardCopyStats {
    fn from(c: SeqNoCopy) -> Self {
        Self {
            routing: c.routing,
            seq_no: c.seq_no,
            retention_leases: None,
        }
    }
}

/// Decodes a shard-stats body, each shard copy as `C`: `{"indices": {<index>: {"shards": {..}}}}`, every other
/// key skipped unread.
fn stats_body<'de, D, C>(d: D) -> Result<ShardStatsResponse, D::Error>
where
    D: Deserializer<'de>,
    C: Deserialize<'de> + Into<ShardCopyStats>,
{
    struct Body<C>(PhantomData<C>);
    impl<'de, C: Deserialize<'de> + Into<ShardCopyStats>> Visitor<'de> for Body<C> {
        type Value = ShardStatsResponse;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an indices stats response")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let mut out = ShardStatsResponse::default();
            while let Some(is_indices) = m.next_key_seed(KeyIs("indices"))? {
                match is_indices {
                    true => out.indices = m.next_value::<Indices<C>>()?.0,
                    false => {
                        m.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(out)
        }
    }
    d.deserialize_map(Body::<C>(PhantomData))
}

/// A map key, read as whether it is the one named (without copying it).
struct KeyIs(&'static str);

impl<'de> DeserializeSeed<'de> for KeyIs {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIs {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

/// `indices` of a shard-stats body, by index name, each shard copy decoded as `C`. A repeated name keeps the last.
struct Indices<C>(BTreeMap<String, IndexShardStats>, PhantomData<C>);

impl<'de, C: Deserialize<'de> + Into<ShardCopyStats>> Deserialize<'de> for Indices<C> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ByName<C>(PhantomData<C>);
        impl<'de, C: Deserialize<'de> + Into<ShardCopyStats>> Visitor<'de> for ByName<C> {
            type Value = Indices<C>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of indices by name")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(name) = m.next_key::<String>()? {
                    let IndexRead::<C>(index, _) = m.next_value()?;
                    out.insert(name, index);
                }
                Ok(Indices(out, PhantomData))
            }
        }
        d.deserialize_map(ByName::<C>(PhantomData))
    }
}

/// One index of a shard-stats body: its `shards`, each copy decoded as `C`; the other keys skipped unread.
struct IndexRead<C>(IndexShardStats, PhantomData<C>);

impl<'de, C: Deserialize<'de> + Into<ShardCopyStats>> Deserialize<'de> for IndexRead<C> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Index<C>(PhantomData<C>);
        impl<'de, C: Deserialize<'de> + Into<ShardCopyStats>> Visitor<'de> for Index<C> {
            type Value = IndexRead<C>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the stats of an index")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out = IndexShardStats::default();
                while let Some(is_shards) = m.next_key_seed(KeyIs("shards"))? {
                    match is_shards {
                        true => out.shards = m.next_value::<ShardCopies<C>>()?.0,
                        false => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(IndexRead(out, PhantomData))
            }
        }
        d.deserialize_map(Index::<C>(PhantomData))
    }
}

/// The shard copies of one index: of each shard only the copy [`ShardStatsResponse::primaries`] reads is kept,
/// with its shard id (a string key in the JSON), in ascending shard order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IndexShardStats {
    pub shards: Vec<(i64, ShardCopyStats)>,
}

/// Of the copies of each shard, the primary (the first copy when none says it is primary): every replica repeats
/// the primary's retention leases (ES `RetentionLeaseSyncAction` and `RetentionLeaseBackgroundSyncAction` copy
/// them to every replica), and a leader of thousands of shards with replicas would otherwise be kept several times
/// over between polls. Decoded copy by copy (each as `C`), so the other copies are dropped as they are read
/// instead of being collected first. A key that is not a shard id (ES writes none) is skipped; a repeated one
/// keeps the last.
struct ShardCopies<C>(Vec<(i64, ShardCopyStats)>, PhantomData<C>);

impl<'de, C: Deserialize<'de> + Into<ShardCopyStats>> Deserialize<'de> for ShardCopies<C> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Shards<C>(PhantomData<C>);
        impl<'de, C: Deserialize<'de> + Into<ShardCopyStats>> Visitor<'de> for Shards<C> {
            type Value = ShardCopies<C>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of shard copies by shard id")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(i64, ShardCopyStats)> = Vec::new();
                while let Some(ShardId(key)) = m.next_key()? {
                    let Some(id) = key else {
                        m.next_value::<IgnoredAny>()?;
                        continue;
                    };
                    let PrimaryCopy::<C>(kept, _) = m.next_value()?;
                    let Some(copy) = kept else {
                        continue;
                    };
                    // Elasticsearch writes the shards in order: the search only runs for a key out of order.
                    match out.last() {
                        Some((last, _)) if *last >= id => {
                            match out.binary_search_by_key(&id, |(i, _)| *i) {
                                Ok(i) => out[i].1 = copy,
                                Err(i) => out.insert(i, (id, copy)),
                            }
                        }
                        _ => out.push((id, copy)),
                    }
                }
                // No `shrink_to_fit`: the stats are dropped by the poll that read them.
                Ok(ShardCopies(out, PhantomData))
            }
        }
        d.deserialize_map(Shards::<C>(PhantomData))
    }
}

/// A key of a shard's copies: its shard id, `None` when the key is not one. Read without copying the key.
struct ShardId(Option<i64>);

impl<'de> Deserialize<'de> for ShardId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Key;
        impl Visitor<'_> for Key {
            type Value = ShardId;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a shard id")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ShardId, E> {
                Ok(ShardId(v.parse().ok()))
            }
        }
        d.deserialize_str(Key)
    }
}

/// The copy kept of one shard's list of copies (each decoded as `C`): the first primary, else the first copy.
struct PrimaryCopy<C>(Option<ShardCopyStats>, PhantomData<C>);

impl<'de, C: Deserialize<'de> + Into<ShardCopyStats>> Deserialize<'de> for PrimaryCopy<C> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Copies<C>(PhantomData<C>);
        impl<'de, C: Deserialize<'de> + Into<ShardCopyStats>> Visitor<'de> for Copies<C> {
            type Value = PrimaryCopy<C>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of shard copies")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let primary = |c: &ShardCopyStats| c.routing.as_ref().is_some_and(|r| r.primary);
                let mut kept: Option<ShardCopyStats> = None;
                while let Some(c) = seq.next_element::<C>()? {
                    let c = c.into();
                    if kept.as_ref().map_or(true, |k| !primary(k) && primary(&c)) {
                        kept = Some(c);
                    }
                }
                Ok(PrimaryCopy(kept, PhantomData))
            }
        }
        d.deserialize_seq(Copies::<C>(PhantomData))
    }
}

/// One copy of one shard.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ShardCopyStats {
    #[serde(default)]
    pub routing: Option<ShardCopyRouting>,
    #[serde(default)]
    pub seq_no: Option<SeqNoStats>,
    #[serde(default)]
    pub retention_leases: Option<RetentionLeaseStats>,
}

/// `routing`, of which only `primary` is read.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ShardCopyRouting {
    #[serde(default)]
    pub primary: bool,
}

/// `seq_no` (ES `SeqNoStats`), of which only the global checkpoint is read (the leader's own view the lag in time
/// compares the follower's with): `-1` while the shard holds no operation. `max_seq_no` and `local_checkpoint`
/// are left out by the `filter_path`, and skipped unread from a server that ignores it.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct SeqNoStats {
    pub global_checkpoint: i64,
}

/// `retention_leases` (ES `RetentionLeaseStats`), of which only CCR's leases (source `ccr`) are kept: nothing
/// reads another ([`RetentionLease::is_ccr_lease_of`]), and every copy has a peer-recovery lease (ES
/// `ReplicationTracker#addPeerRecoveryRetentionLease`) that would otherwise be kept between polls.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RetentionLeaseStats {
    #[serde(default, deserialize_with = "ccr_leases")]
    pub leases: Vec<RetentionLease>,
}

/// The leases with source `ccr`, without spare capacity; the others are decoded borrowed and dropped.
fn ccr_leases<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<RetentionLease>, D::Error> {
    /// A lease as it is read: its strings borrowed from the body where they hold no escape.
    #[derive(Deserialize)]
    struct Read<'a> {
        #[serde(borrow)]
        id: Cow<'a, str>,
        retaining_seq_no: i64,
        timestamp: i64,
        #[serde(borrow)]
        source: Cow<'a, str>,
    }
    struct Leases;
    impl<'de> Visitor<'de> for Leases {
        type Value = Vec<RetentionLease>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of retention leases")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(l) = seq.next_element::<Read<'de>>()? {
                if l.source == "ccr" {
                    out.push(RetentionLease {
                        id: l.id.into_owned(),
                        retaining_seq_no: l.retaining_seq_no,
                        timestamp: l.timestamp,
                        source: l.source.into_owned(),
                    });
                }
            }
            out.shrink_to_fit();
            Ok(out)
        }
    }
    d.deserialize_seq(Leases)
}

/// One retention lease (ES `RetentionLease#toXContent`). CCR's leases have source `ccr` and the id
/// `<follower cluster>/<follower index>/<follower uuid>-following-<remote alias>/<leader index>/<leader uuid>`
/// (`CcrRetentionLeases#retentionLeaseId`); `timestamp` is the leader's epoch millis of the last renewal.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct RetentionLease {
    pub id: String,
    pub retaining_seq_no: i64,
    pub timestamp: i64,
    pub source: String,
}

impl RetentionLease {
    /// True when this is the CCR lease of `follower_index` following `leader_index` through `remote_cluster`.
    /// The follower cluster's own name (the id's first part) is not compared: the daemon knows clusters by
    /// their configuration names, not by `cluster.name`.
    pub fn is_ccr_lease_of(
        &self,
        follower_index: &str,
        remote_cluster: &str,
        leader_index: &str,
    ) -> bool {
        self.source == "ccr"
            && contains_path(&self.id, "/", &[follower_index])
            && contains_path(&self.id, "-following-", &[remote_cluster, leader_index])
    }
}

/// True when `s` contains `prefix`, then each of `parts` followed by `/`: `contains(prefix + "a/" + "b/")`
/// without building the string (checked for every lease of every follower on each poll).
fn contains_path(s: &str, prefix: &str, parts: &[&str]) -> bool {
    let matches_at = |at: usize| {
        let mut rest = &s[at + prefix.len()..];
        parts.iter().all(
            |part| match rest.strip_prefix(part).and_then(|r| r.strip_prefix('/')) {
                Some(r) => {
                    rest = r;
                    true
                }
                None => false,
            },
        )
    };
    // Every occurrence, overlapping ones included, as `str::contains` would find them.
    let mut from = 0;
    while let Some(i) = s.get(from..).and_then(|r| r.find(prefix)) {
        let at = from + i;
        if matches_at(at) {
            return true;
        }
        from = at + s[at..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

impl ShardStatsResponse {
    /// The primary copy of every shard of `index`, by ascending shard id (the first copy when none says it is
    /// primary).
    pub fn primaries<'a>(
        &'a self,
        index: &str,
    ) -> impl Iterator<Item = (i64, &'a ShardCopyStats)> + 'a {
        self.shards_of(index).iter().map(|(id, copy)| (*id, copy))
    }

    /// [`ShardStatsResponse::primaries`] as a slice, sorted by shard id with no id twice (empty for an index not
    /// read), for a binary search.
    pub fn shards_of(&self, index: &str) -> &[(i64, ShardCopyStats)] {
        self.indices.get(index).map_or(&[], |i| i.shards.as_slice())
    }
}

/// `GET /_recovery`: the shard recoveries by index (`RestRecoveryAction`, `RecoveryState.toXContent`), narrowed
/// by [`Filtered::FILTER_PATH`] to what the initial copy of a follower needs.
pub type RecoveryResponse = BTreeMap<String, IndexRecovery>;

impl Filtered for RecoveryResponse {
    const FILTER_PATH: &'static str = "*.shards.id,*.shards.type,*.shards.stage,*.shards.source.repository,*.shards.index.size.total_in_bytes,*.shards.index.size.reused_in_bytes,*.shards.index.size.recovered_in_bytes,*.shards.index.files.total,*.shards.index.files.reused,*.shards.index.files.recovered";
}

/// The recoveries of one index's shards.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct IndexRecovery {
    #[serde(default)]
    pub shards: Vec<ShardRecovery>,
}

/// One shard's recovery. A follower's initial copy is a `SNAPSHOT` recovery from the repository
/// `_ccr_<remote_cluster>` (`CcrRepository`); its `stage` ends at `DONE`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ShardRecovery {
    #[serde(default)]
    pub id: i64,
    /// `SNAPSHOT`, `PEER`, `EMPTY_STORE`, `EXISTING_STORE`, `LOCAL_SHARDS`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `INIT`, `INDEX`, `VERIFY_INDEX`, `TRANSLOG`, `FINALIZE`, `DONE`.
    #[serde(default)]
    pub stage: String,
    #[serde(default)]
    pub source: RecoverySource,
    #[serde(default)]
    pub index: RecoveryIndex,
}

/// Where a recovery copies from; a snapshot recovery names its repository.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct RecoverySource {
    #[serde(default)]
    pub repository: Option<String>,
}

/// The file copy of a recovery.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct RecoveryIndex {
    #[serde(default)]
    pub size: RecoveryCounts<SizeFields>,
    #[serde(default)]
    pub files: RecoveryCounts<FileFields>,
}

/// Marker for the byte counters (`*_in_bytes`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SizeFields;
/// Marker for the file counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FileFields;

/// Totals of a recovery's bytes or files: total, reused (already present) and recovered (copied).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RecoveryCounts<K> {
    pub total: u64,
    pub reused: u64,
    pub recovered: u64,
    #[serde(skip)]
    kind: std::marker::PhantomData<K>,
}

impl<K> RecoveryCounts<K> {
    /// Counters from their values.
    pub fn new(total: u64, reused: u64, recovered: u64) -> Self {
        Self {
            total,
            reused,
            recovered,
            kind: std::marker::PhantomData,
        }
    }
}

impl<'de> Deserialize<'de> for RecoveryCounts<SizeFields> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            total_in_bytes: i64,
            #[serde(default)]
            reused_in_bytes: i64,
            #[serde(default)]
            recovered_in_bytes: i64,
        }
        let r = Raw::deserialize(d)?;
        Ok(Self::new(
            r.total_in_bytes.max(0) as u64,
            r.reused_in_bytes.max(0) as u64,
            r.recovered_in_bytes.max(0) as u64,
        ))
    }
}

impl<'de> Deserialize<'de> for RecoveryCounts<FileFields> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            total: i64,
            #[serde(default)]
            reused: i64,
            #[serde(default)]
            recovered: i64,
        }
        let r = Raw::deserialize(d)?;
        Ok(Self::new(
            r.total.max(0) as u64,
            r.reused.max(0) as u64,
            r.recovered.max(0) as u64,
        ))
    }
}

impl ShardRecovery {
    /// A follower's initial copy from `_ccr_<remote>`: a snapshot recovery from a CCR repository.
    pub fn ccr_restore_from(&self) -> Option<&str> {
        if !self.kind.eq_ignore_ascii_case("SNAPSHOT") {
            return None;
        }
        self.source.repository.as_deref()?.strip_prefix("_ccr_")
    }

    /// The recovery has finished.
    pub fn done(&self) -> bool {
        self.stage.eq_ignore_ascii_case("DONE")
    }
}

/// `GET /ccr-sentinel-heartbeat-*/_search`: the heartbeat documents the follower cluster holds.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct HeartbeatResponse {
    #[serde(default)]
    pub hits: HeartbeatHits,
}

impl Filtered for HeartbeatResponse {
    const FILTER_PATH: &'static str = "hits.hits._index,hits.hits._source.ts";
}

/// The hits of [`HeartbeatResponse`].
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct HeartbeatHits {
    #[serde(default)]
    pub hits: Vec<HeartbeatHit>,
}

/// One heartbeat document: the index holding it and when the daemon wrote it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct HeartbeatHit {
    #[serde(rename = "_index", default)]
    pub index: String,
    #[serde(rename = "_source", default)]
    pub source: HeartbeatSource,
}

/// The heartbeat document's body.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct HeartbeatSource {
    /// Milliseconds since the epoch, on the daemon's clock.
    #[serde(default)]
    pub ts: Option<i64>,
}

impl HeartbeatResponse {
    /// The newest heartbeat time by index.
    pub fn by_index(&self) -> BTreeMap<String, i64> {
        let mut out: BTreeMap<String, i64> = BTreeMap::new();
        for h in &self.hits.hits {
            if let Some(ts) = h.source.ts {
                let e = out.entry(h.index.clone()).or_insert(ts);
                *e = (*e).max(ts);
            }
        }
        out
    }
}

/// A count that is a string (`"1234"`), a number, or null.
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        N(i64),
        S(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::N(n)) => Ok(Some(n)),
        Some(Raw::S(s)) if s.trim().is_empty() => Ok(None),
        Some(Raw::S(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("docs.count `{s}` is not a number"))),
    }
}

impl EsClient {
    /// `GET /_cat/indices?format=json&h=index,status,docs.count`: every index with its document count, in one
    /// request. Closed indices are listed by default (and hidden ones from 7.7, where the default
    /// `expand_wildcards` is `all`). No `expand_wildcards` parameter is sent: 6.x and 7.0–7.6 reject it as
    /// unrecognized. No `filter_path` either: `h` is already the server-side field selection, and an include
    /// filter would turn an empty table (`[]`) into `{}`.
    pub async fn cat_indices(&self) -> Result<Vec<CatIndex>, EsError> {
        self.request(
            Method::GET,
            Endpoint::CatIndices,
            "_cat/indices?format=json&h=index,status,docs.count",
            None,
        )
        .await
    }

    /// `GET /_data_stream?expand_wildcards=all` with [`DataStreamsResponse`]'s `filter_path`: every data stream
    /// (hidden ones too) with its backing indices. Data streams are 7.9+; callers skip older clusters.
    pub async fn data_streams(&self) -> Result<DataStreamsResponse, EsError> {
        self.read(
            Method::GET,
            Endpoint::DataStreams,
            "_data_stream?expand_wildcards=all",
            None,
        )
        .await
    }

    /// `GET /_data_stream/{name}?expand_wildcards=all` with [`DataStreamStateResponse`]'s `filter_path`: one
    /// stream, replicated or not, with its backing indices (7.9+). A name that is no data stream: 404
    /// `index_not_found_exception`.
    pub async fn data_stream(&self, name: &str) -> Result<DataStreamStateResponse, EsError> {
        self.read(
            Method::GET,
            Endpoint::DataStreams,
            &format!("_data_stream/{}?expand_wildcards=all", seg(name)),
            None,
        )
        .await
    }

    /// `GET /_index_template` with [`IndexTemplatesResponse`]'s `filter_path`: every composable index template
    /// (7.8+), to find the one a data stream's next backing index would come from.
    pub async fn index_templates(&self) -> Result<IndexTemplatesResponse, EsError> {
        self.read(
            Method::GET,
            Endpoint::IndexTemplates,
            "_index_template",
            None,
        )
        .await
    }

    /// `POST /_data_stream/_promote/{name}` (7.9+, index privilege `manage_follow_index`).
    pub async fn promote_data_stream(&self, name: &str) -> Result<Acknowledged, EsError> {
        self.request(
            Method::POST,
            Endpoint::PromoteDataStream,
            &format!("_data_stream/_promote/{}", seg(name)),
            None,
        )
        .await
    }

    /// `POST /{name}/_rollover` of a data stream, without conditions: a new write index, always.
    pub async fn rollover_data_stream(&self, name: &str) -> Result<RolloverResponse, EsError> {
        self.request(
            Method::POST,
            Endpoint::Rollover,
            &format!("{}/_rollover", seg(name)),
            None,
        )
        .await
    }

    /// `GET /{indices}/_stats/docs?level=shards&ignore_unavailable=true` with [`ShardStatsResponse`]'s
    /// `filter_path` when `leases`, else [`ShardSeqNos`]'s: the leader's own sequence numbers of `indices` (a
    /// comma-separated list, or `_all`), with their retention leases when asked, in one request.
    /// `ignore_unavailable` keeps one deleted leader index from failing the read of the others. Only the `docs`
    /// metric is asked for: Elasticsearch adds the commit, sequence-number and retention-lease stats to every
    /// shard whatever the metrics (`TransportIndicesStatsAction.shardOperation`), so the leader computes no other
    /// section for every shard, and a server that ignores `filter_path` sends a fraction of the full body.
    pub async fn shard_stats(
        &self,
        indices: &str,
        leases: bool,
    ) -> Result<ShardStatsResponse, EsError> {
        let path = format!(
            "{}/_stats/docs?level=shards&ignore_unavailable=true",
            seg(indices)
        );
        match leases {
            true => {
                self.read(Method::GET, Endpoint::IndexStats, &path, None)
                    .await
            }
            false => self
                .read::<ShardSeqNos>(Method::GET, Endpoint::IndexStats, &path, None)
                .await
                .map(|s| s.0),
        }
    }

    /// `GET /{indices}/_settings/index.soft_deletes.retention_lease.period?include_defaults=true&flat_settings=true`
    /// with [`LeasePeriodsResponse`]'s `filter_path`: the leader's retention-lease period of `indices` (a
    /// comma-separated list, or `_all`) in one request, whether set or defaulted. `ignore_unavailable`, as for
    /// the shard stats, keeps one deleted leader index from failing the read of the others.
    pub async fn lease_periods(&self, indices: &str) -> Result<LeasePeriodsResponse, EsError> {
        self.read(
            Method::GET,
            Endpoint::IndexSettings,
            &format!(
                "{}/_settings/{RETENTION_LEASE_PERIOD_SETTING}?include_defaults=true&flat_settings=true&ignore_unavailable=true",
                seg(indices)
            ),
            None,
        )
        .await
    }

    /// `GET /_recovery` narrowed to the copy counters: every shard recovery of the cluster in one request.
    /// `active_only` is not sent: a follower's finished shards are needed both for the progress of the whole
    /// index and to see that its restore has finished (a follower that then never started following).
    pub async fn recovery(&self) -> Result<RecoveryResponse, EsError> {
        self.read(Method::GET, Endpoint::Recovery, "_recovery", None)
            .await
    }

    /// `PUT /{index}` with one primary and soft deletes (required to be followed before 7.0, the default
    /// after): the heartbeat index.
    pub async fn create_heartbeat_index(&self, index: &str) -> Result<Value, EsError> {
        let body = serde_json::json!({"settings": {"index.number_of_shards": 1, "index.soft_deletes.enabled": true}});
        self.request(Method::PUT, Endpoint::CreateIndex, &seg(index), Some(&body))
            .await
    }

    /// `PUT /{index}/_doc/{id}` with `{"ts": <epoch ms>}`: one heartbeat.
    pub async fn write_heartbeat(&self, index: &str, id: &str, ts: i64) -> Result<Value, EsError> {
        let body = serde_json::json!({ "ts": ts, "written_by": "ccr-sentinel" });
        self.request(
            Method::PUT,
            Endpoint::IndexDoc,
            &format!("{}/_doc/{}", seg(index), seg(id)),
            Some(&body),
        )
        .await
    }

    /// `GET /{pattern}/_search?size=100`: the heartbeat documents of the followers matching `pattern` (none
    /// when no index matches).
    pub async fn heartbeats(&self, pattern: &str) -> Result<HeartbeatResponse, EsError> {
        self.read(
            Method::GET,
            Endpoint::Search,
            &format!("{}/_search?size=100", seg(pattern)),
            None,
        )
        .await
    }

    /// `POST /{index}/_close`.
    pub async fn close_index(&self, index: &str) -> Result<Acknowledged, EsError> {
        self.request(
            Method::POST,
            Endpoint::CloseIndex,
            &format!("{}/_close", seg(index)),
            None,
        )
        .await
    }

    /// `POST /{index}/_open`.
    pub async fn open_index(&self, index: &str) -> Result<Acknowledged, EsError> {
        self.request(
            Method::POST,
            Endpoint::OpenIndex,
            &format!("{}/_open", seg(index)),
            None,
        )
        .await
    }

    /// `GET /{indices}/_settings?flat_settings=true` for a comma-separated list of indices.
    pub async fn index_settings(&self, indices: &str) -> Result<IndexSettingsResponse, EsError> {
        self.read(
            Method::GET,
            Endpoint::IndexSettings,
            &format!("{}/_settings?flat_settings=true", seg(indices)),
            None,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn data_streams_decode_an_8x_answer_whole_and_empty() {
        let body = r#"{"data_streams":[{"name":"logs-app","timestamp_field":{"name":"@timestamp"},
            "indices":[{"index_name":".ds-logs-app-2026.12.02-000001","index_uuid":"u1","prefer_ilm":true,
            "managed_by":"Unmanaged"},{"index_name":".ds-logs-app-2026.12.02-000002","index_uuid":"u2"}],
            "generation":2,"status":"GREEN","hidden":false,"system":false,"replicated":true}]}"#;
        let r: super::DataStreamsResponse = serde_json::from_str(body).unwrap();
        assert_eq!(r.data_streams.len(), 1);
        assert_eq!(r.data_streams[0].name, "logs-app");
        assert!(!r.data_streams[0].system);
        let names: Vec<&str> = r.data_streams[0]
            .indices
            .iter()
            .map(|i| i.index_name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                ".ds-logs-app-2026.12.02-000001",
                ".ds-logs-app-2026.12.02-000002"
            ]
        );
        // A filter_path that matches nothing (no data streams) answers `{}`.
        let none: super::DataStreamsResponse = serde_json::from_str("{}").unwrap();
        assert!(none.data_streams.is_empty());
    }

    use super::*;
    use crate::testing::fixture;

    #[test]
    fn the_template_of_a_stream_is_the_matching_one_of_highest_priority() {
        let body = r#"{"index_templates":[
            {"name":"catch-all","index_template":{"index_patterns":["*"],"priority":1}},
            {"name":"logs","index_template":{"index_patterns":["logs-*","audit"],"priority":100,
             "data_stream":{"hidden":false,"allow_custom_routing":false}}},
            {"name":"logs-app-plain","index_template":{"index_patterns":["logs-app*"],"priority":200}},
            {"name":"metrics","index_template":{"index_patterns":["metrics-*"],"data_stream":{"hidden":false}}}]}"#;
        let t: IndexTemplatesResponse = serde_json::from_str(body).unwrap();
        let pick = |n: &str| t.find_v2_template(n).map(|t| t.name.as_str());
        assert_eq!(pick("logs-web"), Some("logs"));
        assert_eq!(pick("logs-app-1"), Some("logs-app-plain"));
        assert!(t
            .find_v2_template("logs-app-1")
            .unwrap()
            .index_template
            .data_stream
            .is_none());
        assert_eq!(pick("audit"), Some("logs"));
        // A missing priority counts as 0, below the catch-all's 1.
        assert_eq!(pick("metrics-x"), Some("catch-all"));
        assert_eq!(pick("other"), Some("catch-all"));
        let none: IndexTemplatesResponse = serde_json::from_str("{}").unwrap();
        assert!(none.find_v2_template("logs-web").is_none());
    }

    #[test]
    fn one_data_stream_with_and_without_replicated() {
        let body = r#"{"data_streams":[{"name":"logs-app","replicated":true,"indices":[
            {"index_name":".ds-logs-app-2026.12.02-000001"},{"index_name":".ds-logs-app-2026.12.02-000002"}]}]}"#;
        let r: DataStreamStateResponse = serde_json::from_str(body).unwrap();
        assert_eq!(r.data_streams[0].replicated, Some(true));
        assert_eq!(
            r.data_streams[0].write_index(),
            Some(".ds-logs-app-2026.12.02-000002")
        );
        // 7.9 and 7.10 do not say.
        let old: DataStreamStateResponse =
            serde_json::from_str(r#"{"data_streams":[{"name":"logs-app","indices":[]}]}"#).unwrap();
        assert_eq!(old.data_streams[0].replicated, None);
        assert_eq!(old.data_streams[0].write_index(), None);
    }

    #[test]
    fn cat_indices_counts_are_strings() {
        let rows: Vec<CatIndex> = fixture("cat_indices_response_8x.json");
        assert!(rows.iter().all(|r| r.docs_count.is_some()));
    }

    #[test]
    fn lease_periods_read_the_set_value_or_the_default() {
        let r: LeasePeriodsResponse =
            fixture("indices_get_settings_lease_period.reconstructed.json");
        let by = r.by_index();
        assert_eq!(by.get("logs"), Some(&(12 * 3_600_000)));
        assert_eq!(by.get("orders"), Some(&3_600_000));
        // Neither object holds it, or a value that is no time: left out, never guessed.
        let odd: LeasePeriodsResponse = serde_json::from_str(
            r#"{"a":{"settings":{}},"b":{"settings":{"index.soft_deletes.retention_lease.period":"soon"}},"c":{}}"#,
        )
        .unwrap();
        assert!(odd.by_index().is_empty());
        let empty: LeasePeriodsResponse = serde_json::from_str("{}").unwrap();
        assert!(empty.by_index().is_empty());
    }

    #[test]
    fn lease_id_parts_match_as_the_formatted_string_would() {
        let ids = [
            "fc/logs-copy/u1-following-leader/logs/u2",
            "fc/logs-copy/u1-following--following-leader/logs/u2",
            "fc/logs-copy-2/u1-following-leader/logs-2/u2",
            "//logs-copy//-following-leader/logs/",
            "logs-copy/u-following-leader/logs",
            "",
        ];
        let parts = [
            ("/", vec!["logs-copy"]),
            ("-following-", vec!["leader", "logs"]),
            ("-following-", vec!["-following-leader", "logs"]),
            ("/", vec![""]),
        ];
        for id in ids {
            for (prefix, p) in &parts {
                let formatted = format!("{prefix}{}/", p.join("/"));
                assert_eq!(
                    contains_path(id, prefix, p),
                    id.contains(&formatted),
                    "{id:?} {formatted:?}"
                );
            }
        }
    }

    #[test]
    fn shard_stats_pick_the_primary_and_the_ccr_lease() {
        let body = crate::testing::LEADER_SHARDS_TWO_COPIES;
        let r: ShardStatsResponse = serde_json::from_str(body).unwrap();
        let p: Vec<_> = r.primaries("logs").collect();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].1.seq_no.unwrap().global_checkpoint, 9);
        let leases = &p[0].1.retention_leases.as_ref().unwrap().leases;
        let ccr: Vec<_> = leases
            .iter()
            .filter(|l| l.is_ccr_lease_of("logs-copy", "leader", "logs"))
            .collect();
        assert_eq!(ccr.len(), 1);
        assert_eq!(ccr[0].timestamp, 1_700_000_000_000);
        assert_eq!(leases.len(), 1, "only CCR's leases are kept: {leases:?}");
        assert!(!leases[0].is_ccr_lease_of("logs-cop", "leader", "logs"));
        assert!(serde_json::from_str::<ShardStatsResponse>("{}")
            .unwrap()
            .indices
            .is_empty());
    }

    #[test]
    fn shard_stats_without_leases_read_the_same_sequence_numbers_and_no_lease() {
        let copy = |primary: bool, gcp: i64| {
            format!(
                r#"{{"routing":{{"primary":{primary},"state":"STARTED"}},"docs":{{"count":3}},
                   "seq_no":{{"max_seq_no":{gcp},"local_checkpoint":{gcp},"global_checkpoint":{gcp}}},
                   "retention_leases":{{"primary_term":1,"version":4,"leases":[
                     {{"id":"peer_recovery/n","retaining_seq_no":1,"timestamp":2,"source":"peer recovery"}},
                     {{"id":"fc/logs-copy/u1-following-leader/logs/u2","retaining_seq_no":{gcp},
                       "timestamp":17,"source":"ccr"}}]}}}}"#
            )
        };
        // As a server that ignores `filter_path` sends it, leases, other sections and replicas included.
        let body = format!(
            r#"{{"_shards":{{"total":4}},"_all":{{"primaries":{{}}}},"indices":{{
                "logs":{{"uuid":"u","primaries":{{}},"shards":{{"0":[{},{}],"1":[{}],"x":[{}]}}}},
                "other":{{"shards":{{"0":[{}]}}}}}}}}"#,
            copy(false, 4),
            copy(true, 5),
            copy(true, 7),
            copy(true, 9),
            copy(false, 11),
        );
        let with: ShardStatsResponse = serde_json::from_str(&body).unwrap();
        let without = serde_json::from_str::<ShardSeqNos>(&body).unwrap().0;
        let seq_nos = |r: &ShardStatsResponse, index| -> Vec<(i64, Option<SeqNoStats>, bool)> {
            r.primaries(index)
                .map(|(id, c)| (id, c.seq_no, c.routing.as_ref().is_some_and(|r| r.primary)))
                .collect()
        };
        for index in ["logs", "other", "none"] {
            assert_eq!(seq_nos(&with, index), seq_nos(&without, index), "{index}");
        }
        assert_eq!(
            seq_nos(&without, "logs")
                .iter()
                .map(|(id, s, _)| (*id, s.unwrap().global_checkpoint))
                .collect::<Vec<_>>(),
            vec![(0, 5), (1, 7)]
        );
        assert_eq!(with.indices.len(), 2);
        assert_eq!(without.indices.len(), 2);
        assert!(with.primaries("logs").all(|(_, c)| c
            .retention_leases
            .as_ref()
            .is_some_and(|l| l.leases.len() == 1)));
        assert!(without
            .indices
            .values()
            .flat_map(|i| i.shards.iter())
            .all(|(_, c)| c.retention_leases.is_none()));
        // The two paths differ by the leases alone.
        assert_eq!(
            ShardStatsResponse::FILTER_PATH,
            format!(
                "{},indices.*.shards.*.retention_leases.leases",
                ShardSeqNos::FILTER_PATH
            )
        );
        assert!(serde_json::from_str::<ShardSeqNos>("{}")
            .unwrap()
            .0
            .indices
            .is_empty());
        // A body that is no stats object is an error either way.
        assert!(serde_json::from_str::<ShardSeqNos>("[]").is_err());
        assert!(serde_json::from_str::<ShardStatsResponse>(
            r#"{"indices":{"logs":{"shards":[]}}}"#
        )
        .is_err());
    }

    #[test]
    fn shard_stats_keep_one_copy_per_shard_in_shard_order() {
        let copy = |primary: bool, gcp: i64| {
            format!(
                r#"{{"routing":{{"primary":{primary}}},"seq_no":{{"max_seq_no":{gcp},"local_checkpoint":{gcp},"global_checkpoint":{gcp}}}}}"#
            )
        };
        // Out of order, a key that is not a shard id, a shard without a primary, a repeated key, no copies.
        let body = format!(
            r#"{{"indices":{{"logs":{{"shards":{{"10":[{}],"2":[{},{}],"x":[{}],"1":[{}],"2":[{},{}],"3":[]}}}}}}}}"#,
            copy(true, 10),
            copy(false, 1),
            copy(true, 2),
            copy(true, 99),
            copy(false, 5),
            copy(false, 20),
            copy(true, 21),
        );
        let r: ShardStatsResponse = serde_json::from_str(&body).unwrap();
        let got: Vec<(i64, i64)> = r
            .primaries("logs")
            .map(|(id, c)| (id, c.seq_no.unwrap().global_checkpoint))
            .collect();
        assert_eq!(got, vec![(1, 5), (2, 21), (10, 10)]);
        assert_eq!(r.primaries("other").count(), 0);
        // An escaped id is decoded, not borrowed; a lease of another source is dropped.
        let leases: RetentionLeaseStats = serde_json::from_str(
            r#"{"leases":[{"id":"a\/b","retaining_seq_no":1,"timestamp":2,"source":"ccr"},
                          {"id":"peer_recovery/n","retaining_seq_no":1,"timestamp":2,"source":"peer recovery"}]}"#,
        )
        .unwrap();
        assert_eq!(leases.leases.len(), 1);
        assert_eq!(leases.leases[0].id, "a/b");
        let bad = r#"{"leases":[{"id":"a","timestamp":2,"source":"ccr"}]}"#;
        assert!(serde_json::from_str::<RetentionLeaseStats>(bad).is_err());
    }

    #[test]
    fn recovery_of_a_ccr_restore() {
        let r: RecoveryResponse = fixture("recovery_response_ccr_restore.reconstructed.json");
        let sh = &r["logs_copy"].shards[0];
        assert_eq!(sh.ccr_restore_from(), Some("leader"));
        assert!(!sh.done());
        assert_eq!(sh.index.size, RecoveryCounts::new(57225, 0, 10240));
        assert_eq!(sh.index.files, RecoveryCounts::new(4, 0, 0));
    }
}
