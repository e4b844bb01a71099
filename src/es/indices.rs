//! Index-level calls: `_cat/indices` (polled), open / close and `_settings`, with their response types.

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
}
