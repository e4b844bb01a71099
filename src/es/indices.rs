//! Index-level calls: `_cat/indices` (polled), the leader's shard stats (polled), open / close and `_settings`,
//! with their response types.

use std::collections::BTreeMap;

use reqwest::Method;
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

/// `GET /{indices}/_stats?level=shards`, narrowed by `filter_path` to what the lag in time and the retention-lease
/// margin need: per shard copy its `routing.primary`, `seq_no` and `retention_leases` (ES `ShardStats#toXContent`
/// writes them at `level=shards` whatever metrics are asked for; `SeqNoStats`, `RetentionLeaseStats`). A
/// `filter_path` that matches nothing answers `{}`, so `indices` defaults to empty.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ShardStatsResponse {
    #[serde(default)]
    pub indices: BTreeMap<String, IndexShardStats>,
}

impl Filtered for ShardStatsResponse {
    const FILTER_PATH: &'static str =
        "indices.*.shards.*.routing.primary,indices.*.shards.*.seq_no,\
                                       indices.*.shards.*.retention_leases.leases";
}

/// The shard copies of one index, by shard id (a string key in the JSON).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct IndexShardStats {
    #[serde(default)]
    pub shards: BTreeMap<String, Vec<ShardCopyStats>>,
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

/// `seq_no` (ES `SeqNoStats`): `-1` while the shard holds no operation.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct SeqNoStats {
    pub max_seq_no: i64,
    pub local_checkpoint: i64,
    pub global_checkpoint: i64,
}

/// `retention_leases` (ES `RetentionLeaseStats`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RetentionLeaseStats {
    #[serde(default)]
    pub leases: Vec<RetentionLease>,
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
            && self.id.contains(&format!("/{follower_index}/"))
            && self
                .id
                .contains(&format!("-following-{remote_cluster}/{leader_index}/"))
    }
}

impl ShardStatsResponse {
    /// The primary copy of every shard of `index`, by shard id (the first copy when none says it is primary).
    pub fn primaries<'a>(
        &'a self,
        index: &str,
    ) -> impl Iterator<Item = (i64, &'a ShardCopyStats)> + 'a {
        self.indices
            .get(index)
            .into_iter()
            .flat_map(|i| i.shards.iter())
            .filter_map(|(id, copies)| {
                let id = id.parse::<i64>().ok()?;
                let copy = copies
                    .iter()
                    .find(|c| c.routing.as_ref().is_some_and(|r| r.primary))
                    .or_else(|| copies.first())?;
                Some((id, copy))
            })
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

    /// `GET /{indices}/_stats?level=shards&ignore_unavailable=true` with [`ShardStatsResponse`]'s `filter_path`:
    /// the leader's own sequence numbers and retention leases of `indices` (a comma-separated list, or `_all`),
    /// in one request. `ignore_unavailable` keeps one deleted leader index from failing the read of the others.
    pub async fn shard_stats(&self, indices: &str) -> Result<ShardStatsResponse, EsError> {
        self.read(
            Method::GET,
            Endpoint::IndexStats,
            &format!(
                "{}/_stats?level=shards&ignore_unavailable=true",
                seg(indices)
            ),
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
    use super::*;
    use crate::testing::fixture;

    #[test]
    fn cat_indices_counts_are_strings() {
        let rows: Vec<CatIndex> = fixture("cat_indices_response_8x.json");
        assert!(rows.iter().all(|r| r.docs_count.is_some()));
    }

    #[test]
    fn shard_stats_pick_the_primary_and_the_ccr_lease() {
        let body = r#"{"indices":{"logs":{"shards":{"0":[
            {"routing":{"primary":false},"seq_no":{"max_seq_no":9,"local_checkpoint":9,"global_checkpoint":8}},
            {"routing":{"primary":true},"seq_no":{"max_seq_no":10,"local_checkpoint":10,"global_checkpoint":9},
             "retention_leases":{"leases":[
               {"id":"peer_recovery/abc","retaining_seq_no":11,"timestamp":5,"source":"peer recovery"},
               {"id":"fcluster/logs-copy/uuid1-following-leader/logs/uuid2","retaining_seq_no":7,
                "timestamp":1700000000000,"source":"ccr"}]}}]}}}}"#;
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
        assert!(!leases[1].is_ccr_lease_of("logs-cop", "leader", "logs"));
        assert!(serde_json::from_str::<ShardStatsResponse>("{}")
            .unwrap()
            .indices
            .is_empty());
    }
}
