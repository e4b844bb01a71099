//! The index and cluster settings the simulated clusters know, per version and flavour: one
//! registry that create index, `PUT /{index}/_settings`, `GET /{index}/_settings`, put follow
//! and `PUT /_cluster/settings` all validate against.
//!
//! Scopes and texts follow Elasticsearch's `Setting.Property` and `AbstractScopedSettings`
//! (`validate`, `updateSettings`), `MetadataUpdateSettingsService.updateSettings` and
//! `MetadataCreateIndexService` (`validatePrivateSettingsNotExplicitlySet`,
//! `validateSoftDeleteSettings`). The list is the settings a CCR user meets, not all of ES's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::EsError;
use crate::util::{flatten_settings, ByteSize, TimeValue};
use crate::version::Version;

/// The distribution a simulated cluster imitates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flavor {
    /// Elasticsearch as Elastic ships it.
    #[default]
    Default,
    /// Alibaba Cloud Elasticsearch 6.7: new indices carry the physical-replication setting
    /// `index.replication.type`, and CCR refuses to follow a leader that still has it.
    Aliyun,
}

impl Flavor {
    /// Checks that the flavour exists for this version (Alibaba Cloud's flavour is 6.7 only).
    pub(crate) fn check_version(self, v: Version) -> Result<(), String> {
        match self {
            Flavor::Aliyun if !(v.major == 6 && v.minor == 7) => Err(format!(
                "the aliyun flavour imitates Alibaba Cloud Elasticsearch 6.7; version [{v}] is not one of its versions (use 6.7.0 or 6.7.2)"
            )),
            _ => Ok(()),
        }
    }
}

/// The physical-replication setting of the Alibaba Cloud flavour.
pub(crate) const REPLICATION_TYPE: &str = "index.replication.type";
/// The value the Alibaba Cloud flavour gives new indices.
pub(crate) const REPLICATION_TYPE_PHYSICAL: &str = "physical";

/// How a setting may change (ES's `Setting.Property`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// `Property.Dynamic`: updatable on open indices.
    Dynamic,
    /// Neither dynamic nor final: updatable only while the index is closed.
    Static,
    /// `Property.Final`: set at creation, never changed.
    Final,
    /// `Property.PrivateIndex`: managed by Elasticsearch, refused from users.
    Private,
    /// `Property.InternalIndex`: managed by a dedicated API (CCR's following flag).
    Internal,
}

/// The value type of a setting, with the checks ES's parser makes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    /// `Booleans.parseBoolean`: exactly `true` or `false`.
    Bool,
    /// An integer in `[min, max]`.
    Int { min: i64, max: i64 },
    /// A time value (`-1` and `0` accepted as ES does).
    Time,
    /// A byte size value (`-1` accepted).
    Bytes,
    /// One of a fixed list; the message is ES's parser's, `{}` standing for the value.
    Enum(&'static [&'static str], &'static str),
    /// `false` or `N-M` / `N-all`.
    AutoExpand,
    /// Any string.
    Text,
}

/// One known setting (or group of settings: `key` ends with `.`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SettingDef {
    pub key: &'static str,
    pub scope: Scope,
    pub kind: Kind,
    /// First version that has it.
    pub since: (u32, u32),
    /// First version that no longer has it.
    pub until: Option<(u32, u32)>,
    /// Default as `GET _settings?include_defaults` shows it (None: no default shown).
    pub default: Option<&'static str>,
    /// Replicated from the leader: a follower may not override it (CCR's
    /// `TransportResumeFollowAction.NON_REPLICATED_SETTINGS` lists the others).
    pub replicated: bool,
    /// Only on this flavour (a plugin setting).
    pub flavor: Option<Flavor>,
}

impl SettingDef {
    fn is_group(&self) -> bool {
        self.key.ends_with('.')
    }

    fn matches(&self, key: &str) -> bool {
        if self.is_group() {
            key.starts_with(self.key) && key.len() > self.key.len()
        } else {
            key == self.key
        }
    }

    fn exists(&self, v: Version, flavor: Flavor) -> bool {
        v.at_least(self.since.0, self.since.1)
            && self.until.map_or(true, |(a, b)| !v.at_least(a, b))
            && self.flavor.map_or(true, |f| f == flavor)
    }

    /// The default on this version.
    pub(crate) fn default_on(&self, v: Version) -> Option<&'static str> {
        match self.key {
            "index.number_of_shards" => Some(if v.major >= 7 { "1" } else { "5" }),
            "index.soft_deletes.enabled" => Some(if v.major >= 7 { "true" } else { "false" }),
            "index.translog.retention.size" => Some(if v.major >= 7 { "-1" } else { "512mb" }),
            "index.translog.retention.age" => Some(if v.major >= 7 { "-1" } else { "12h" }),
            "index.translog.flush_threshold_size" => {
                Some(if v.at_least(8, 5) { "10gb" } else { "512mb" })
            }
            "action.destructive_requires_name" => Some(if v.major >= 8 { "true" } else { "false" }),
            _ => self.default,
        }
    }
}

const fn def(
    key: &'static str,
    scope: Scope,
    kind: Kind,
    since: (u32, u32),
    default: Option<&'static str>,
    replicated: bool,
) -> SettingDef {
    SettingDef {
        key,
        scope,
        kind,
        since,
        until: None,
        default,
        replicated,
        flavor: None,
    }
}

use Kind as K;
use Scope as S;

const ANY_INT: Kind = K::Int {
    min: i64::MIN,
    max: i64::MAX,
};
const NON_NEG: Kind = K::Int {
    min: 0,
    max: i64::MAX,
};
const POSITIVE: Kind = K::Int {
    min: 1,
    max: i64::MAX,
};
const V6_0: (u32, u32) = (6, 0);
const ALLOCATION_ENABLE: Kind = K::Enum(
    &["all", "primaries", "new_primaries", "none"],
    "Illegal allocation.enable value [{}]",
);
const REBALANCE_ENABLE: Kind = K::Enum(
    &["all", "primaries", "replicas", "none"],
    "Illegal rebalance.enable value [{}]",
);

/// Index settings a CCR user meets.
pub(crate) const INDEX_SETTINGS: &[SettingDef] = &[
    // Shards and replicas.
    def("index.number_of_shards", S::Final, K::Int { min: 1, max: 1024 }, V6_0, None, true),
    def("index.number_of_replicas", S::Dynamic, NON_NEG, V6_0, Some("1"), false),
    def("index.auto_expand_replicas", S::Dynamic, K::AutoExpand, V6_0, Some("false"), false),
    def("index.number_of_routing_shards", S::Final, POSITIVE, (6, 1), None, true),
    def("index.routing_partition_size", S::Final, POSITIVE, V6_0, Some("1"), true),
    // Soft deletes and history retention.
    def("index.soft_deletes.enabled", S::Final, K::Bool, (6, 5), None, true),
    def("index.soft_deletes.retention.operations", S::Dynamic, NON_NEG, (6, 5), Some("0"), true),
    def("index.soft_deletes.retention_lease.period", S::Dynamic, K::Time, (6, 7), Some("12h"), false),
    // Search and refresh.
    def("index.refresh_interval", S::Dynamic, K::Time, V6_0, Some("1s"), false),
    def("index.search.idle.after", S::Dynamic, K::Time, (7, 0), Some("30s"), false),
    def("index.max_result_window", S::Dynamic, POSITIVE, V6_0, Some("10000"), false),
    def("index.max_inner_result_window", S::Dynamic, POSITIVE, V6_0, Some("100"), false),
    def("index.max_rescore_window", S::Dynamic, POSITIVE, V6_0, Some("10000"), false),
    def("index.max_docvalue_fields_search", S::Dynamic, NON_NEG, V6_0, Some("100"), false),
    def("index.max_script_fields", S::Dynamic, NON_NEG, V6_0, Some("32"), false),
    def("index.max_ngram_diff", S::Dynamic, NON_NEG, V6_0, Some("1"), true),
    def("index.max_shingle_diff", S::Dynamic, NON_NEG, V6_0, Some("3"), true),
    def("index.max_refresh_listeners", S::Dynamic, NON_NEG, V6_0, Some("1000"), false),
    def("index.max_terms_count", S::Dynamic, POSITIVE, V6_0, Some("65536"), false),
    def("index.max_regex_length", S::Dynamic, POSITIVE, V6_0, Some("1000"), false),
    def("index.max_slices_per_scroll", S::Dynamic, POSITIVE, V6_0, Some("1024"), false),
    def("index.requests.cache.enable", S::Dynamic, K::Bool, V6_0, Some("true"), true),
    def("index.queries.cache.enabled", S::Static, K::Bool, V6_0, Some("true"), true),
    def("index.search.slowlog.", S::Dynamic, K::Text, V6_0, None, false),
    def("index.indexing.slowlog.", S::Dynamic, K::Text, V6_0, None, false),
    // Allocation and routing.
    def("index.routing.allocation.include.", S::Dynamic, K::Text, V6_0, None, false),
    def("index.routing.allocation.exclude.", S::Dynamic, K::Text, V6_0, None, false),
    def("index.routing.allocation.require.", S::Dynamic, K::Text, V6_0, None, false),
    def("index.routing.allocation.enable", S::Dynamic, ALLOCATION_ENABLE, V6_0, Some("all"), false),
    def("index.routing.rebalance.enable", S::Dynamic, REBALANCE_ENABLE, V6_0, Some("all"), false),
    def(
        "index.routing.allocation.total_shards_per_node",
        S::Dynamic,
        K::Int { min: -1, max: i64::MAX },
        V6_0,
        Some("-1"),
        false,
    ),
    def("index.unassigned.node_left.delayed_timeout", S::Dynamic, K::Time, V6_0, Some("1m"), false),
    def("index.priority", S::Dynamic, NON_NEG, V6_0, Some("1"), false),
    def("index.write.wait_for_active_shards", S::Dynamic, K::Text, V6_0, Some("1"), false),
    // Blocks.
    def("index.blocks.read_only", S::Dynamic, K::Bool, V6_0, Some("false"), false),
    def("index.blocks.read_only_allow_delete", S::Dynamic, K::Bool, V6_0, Some("false"), false),
    def("index.blocks.read", S::Dynamic, K::Bool, V6_0, Some("false"), false),
    def("index.blocks.write", S::Dynamic, K::Bool, V6_0, Some("false"), false),
    def("index.blocks.metadata", S::Dynamic, K::Bool, V6_0, Some("false"), false),
    def("index.hidden", S::Dynamic, K::Bool, (7, 7), Some("false"), false),
    // Index lifecycle management.
    def("index.lifecycle.name", S::Dynamic, K::Text, (6, 6), Some(""), false),
    def("index.lifecycle.rollover_alias", S::Dynamic, K::Text, (6, 6), Some(""), false),
    def("index.lifecycle.indexing_complete", S::Dynamic, K::Bool, (6, 6), Some("false"), false),
    def("index.lifecycle.origination_date", S::Dynamic, K::Int { min: -1, max: i64::MAX }, (7, 8), Some("-1"), false),
    def("index.lifecycle.parse_origination_date", S::Dynamic, K::Bool, (7, 8), Some("false"), false),
    // Storage, codec, translog, merges.
    def(
        "index.codec",
        S::Static,
        K::Enum(
            &["default", "best_compression", "lucene_default"],
            "unknown value for [index.codec] must be one of [default, best_compression] but was: {}",
        ),
        V6_0,
        Some("default"),
        true,
    ),
    def("index.store.type", S::Static, K::Text, V6_0, Some(""), true),
    def(
        "index.translog.durability",
        S::Dynamic,
        K::Enum(
            &["request", "async", "REQUEST", "ASYNC"],
            "No enum constant org.elasticsearch.index.translog.Translog.Durability.{}",
        ),
        V6_0,
        Some("REQUEST"),
        false,
    ),
    def("index.translog.sync_interval", S::Static, K::Time, V6_0, Some("5s"), false),
    def("index.translog.flush_threshold_size", S::Dynamic, K::Bytes, V6_0, None, false),
    def("index.translog.generation_threshold_size", S::Dynamic, K::Bytes, V6_0, Some("64mb"), false),
    def("index.translog.retention.age", S::Dynamic, K::Time, V6_0, None, false),
    def("index.translog.retention.size", S::Dynamic, K::Bytes, V6_0, None, false),
    def("index.merge.", S::Dynamic, K::Text, V6_0, None, false),
    def("index.gc_deletes", S::Dynamic, K::Time, V6_0, Some("60s"), false),
    def("index.sort.", S::Final, K::Text, V6_0, None, true),
    // Mappings and analysis.
    def("index.mapping.total_fields.limit", S::Dynamic, NON_NEG, V6_0, Some("1000"), true),
    def("index.mapping.depth.limit", S::Dynamic, POSITIVE, V6_0, Some("20"), true),
    def("index.mapping.nested_fields.limit", S::Dynamic, NON_NEG, V6_0, Some("50"), true),
    def("index.mapping.nested_objects.limit", S::Dynamic, NON_NEG, V6_0, Some("10000"), true),
    def("index.mapping.field_name_length.limit", S::Dynamic, POSITIVE, (7, 0), None, true),
    def("index.mapping.ignore_malformed", S::Static, K::Bool, V6_0, Some("false"), true),
    def("index.mapping.coerce", S::Static, K::Bool, V6_0, Some("false"), true),
    def("index.analysis.", S::Static, K::Text, V6_0, None, true),
    def("index.similarity.", S::Static, K::Text, V6_0, None, true),
    def("index.default_pipeline", S::Dynamic, K::Text, (6, 5), Some("_none"), false),
    def("index.final_pipeline", S::Dynamic, K::Text, (7, 5), Some("_none"), false),
    // Managed by Elasticsearch.
    def("index.uuid", S::Private, K::Text, V6_0, None, true),
    def("index.version.created", S::Private, K::Text, V6_0, None, true),
    def("index.version.upgraded", S::Private, K::Text, V6_0, None, true),
    def("index.provided_name", S::Private, K::Text, V6_0, None, true),
    def("index.creation_date", S::Private, ANY_INT, V6_0, None, true),
    def("index.xpack.ccr.following_index", S::Internal, K::Bool, (6, 5), Some("false"), false),
    // Alibaba Cloud's physical replication plugin.
    SettingDef {
        key: REPLICATION_TYPE,
        scope: S::Static,
        kind: K::Text,
        since: (6, 7),
        until: None,
        default: None,
        replicated: false,
        flavor: Some(Flavor::Aliyun),
    },
];

/// Flat index settings of a request: `index.`-prefixed keys, string values, `None` for `null`
/// (reset to default).
pub(crate) type SettingsUpdate = BTreeMap<String, Option<String>>;

/// Normalises a settings object into flat `index.*` keys as ES's
/// `Settings.Builder.normalizePrefix("index.")` does.
pub(crate) fn normalize_index_settings(v: &Value) -> SettingsUpdate {
    let mut flat = Vec::new();
    flatten_settings("", v, &mut flat);
    flat.into_iter()
        .map(|(k, v)| {
            let key = if k.starts_with("index.") {
                k
            } else {
                format!("index.{k}")
            };
            let val = match v {
                Value::Null => None,
                Value::String(s) => Some(s),
                Value::Array(items) => Some(
                    items
                        .iter()
                        .map(|i| {
                            i.as_str()
                                .map(String::from)
                                .unwrap_or_else(|| i.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                other => Some(other.to_string()),
            };
            (key, val)
        })
        .collect()
}

/// The index setting `key` on this version and flavour, if it exists there.
pub(crate) fn index_setting(key: &str, v: Version, flavor: Flavor) -> Option<&'static SettingDef> {
    INDEX_SETTINGS
        .iter()
        .find(|d| d.matches(key) && d.exists(v, flavor))
}

/// Lucene's `LevenshteinDistance.getDistance`: 1 - edits / longest length.
fn similarity(a: &str, b: &str) -> f32 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost);
        }
        prev = cur;
    }
    1.0 - prev[b.len()] as f32 / a.len().max(b.len()) as f32
}

/// ES's unknown-setting error, with its "did you mean" suggestions (keys more than 70% alike).
pub(crate) fn unknown_setting<'a>(key: &str, known: impl Iterator<Item = &'a str>) -> EsError {
    let mut scored: Vec<(f32, &str)> = known
        .map(|k| (similarity(key, k), k))
        .filter(|(s, _)| *s > 0.7)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let keys: Vec<&str> = scored.into_iter().map(|(_, k)| k).collect();
    let tail = match keys.len() {
        0 => " please check that any required plugins are installed, or check the breaking changes documentation for removed settings".to_string(),
        1 => format!(" did you mean [{}]?", keys[0]),
        _ => format!(" did you mean any of [{}]?", keys.join(", ")),
    };
    EsError::illegal_argument(format!("unknown setting [{key}]{tail}"))
}

fn unknown_index_setting(key: &str, v: Version, flavor: Flavor) -> EsError {
    unknown_setting(
        key,
        INDEX_SETTINGS
            .iter()
            .filter(|d| !d.is_group() && d.exists(v, flavor))
            .map(|d| d.key),
    )
}

fn parse_failure(value: &str, key: &str) -> EsError {
    EsError::illegal_argument(format!(
        "Failed to parse value [{value}] for setting [{key}]"
    ))
}

/// Checks a value as the setting's parser does (`Setting.get`).
pub(crate) fn check_value(kind: Kind, key: &str, value: &str) -> Result<(), EsError> {
    match kind {
        K::Bool => {
            if value != "true" && value != "false" {
                return Err(EsError::illegal_argument(format!(
                    "Failed to parse value [{value}] as only [true] or [false] are allowed."
                )));
            }
        }
        K::Int { min, max } => {
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|_| parse_failure(value, key))?;
            if n < min {
                return Err(EsError::illegal_argument(format!(
                    "Failed to parse value [{value}] for setting [{key}] must be >= {min}"
                )));
            }
            if n > max {
                return Err(EsError::illegal_argument(format!(
                    "Failed to parse value [{value}] for setting [{key}] must be <= {max}"
                )));
            }
        }
        K::Time => {
            if value != "-1" && value != "0" {
                TimeValue::parse(key, value).map_err(wrap_parse)?;
            }
        }
        K::Bytes => {
            if value != "-1" && value != "0" {
                ByteSize::parse(key, value).map_err(wrap_parse)?;
            }
        }
        K::Enum(values, message) => {
            if !values.contains(&value) {
                let shown = if message.starts_with("No enum constant") {
                    value.to_ascii_uppercase()
                } else {
                    value.to_string()
                };
                return Err(EsError::illegal_argument(message.replace("{}", &shown)));
            }
        }
        K::AutoExpand => {
            let ok = value == "false"
                || value.split_once('-').is_some_and(|(a, b)| {
                    a.parse::<u32>().is_ok() && (b == "all" || b.parse::<u32>().is_ok())
                });
            if !ok {
                return Err(EsError::illegal_argument(format!(
                    "failed to parse [index.auto_expand_replicas] from value: [{value}] at index {}",
                    value.find('-').map_or(-1, |i| i as i64)
                )));
            }
        }
        K::Text => {}
    }
    Ok(())
}

/// ES wraps a value parser's `ElasticsearchParseException` in an `IllegalArgumentException`
/// with the same message.
fn wrap_parse(e: EsError) -> EsError {
    EsError::illegal_argument(e.reason.clone()).caused_by(e)
}

/// Where index settings come from: the checks differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// `PUT /{index}` (private settings are a validation error; internal ones pass).
    Create,
    /// `PUT /{index}/_settings` (private and internal settings are refused).
    Update,
}

/// Validates keys and values in key order; the first problem is the error, as ES's
/// `AbstractScopedSettings.validate` rethrows the first of its exceptions.
pub(crate) fn validate_index_settings(
    update: &SettingsUpdate,
    v: Version,
    flavor: Flavor,
    origin: Origin,
) -> Result<(), EsError> {
    let mut private = Vec::new();
    for (key, value) in update {
        let Some(d) = index_setting(key, v, flavor) else {
            return Err(unknown_index_setting(key, v, flavor));
        };
        if origin == Origin::Update {
            match d.scope {
                S::Internal => {
                    return Err(EsError::illegal_argument(format!(
                        "can not update internal setting [{key}]; this setting is managed via a dedicated API"
                    )))
                }
                S::Private => {
                    return Err(EsError::illegal_argument(format!(
                        "can not update private setting [{key}]; this setting is managed by Elasticsearch"
                    )))
                }
                _ => {}
            }
        }
        if let Some(value) = value {
            check_value(d.kind, key, value)?;
        }
        if origin == Origin::Create && d.scope == S::Private {
            private.push(format!(
                "private index setting [{key}] can not be set explicitly"
            ));
        }
    }
    if !private.is_empty() {
        // A plain `ValidationException` (not an action request's): type `validation_exception`.
        let mut e = EsError::validation(&private);
        e.kind = "validation_exception".into();
        return Err(e);
    }
    Ok(())
}

/// The keys of `update` a follower may not set itself (they are replicated from the leader).
/// Unknown keys count as replicated; a version-independent view, as patterns outlive versions.
pub(crate) fn replicated_keys(update: &SettingsUpdate) -> Vec<&String> {
    update
        .keys()
        .filter(|k| {
            INDEX_SETTINGS
                .iter()
                .find(|d| d.matches(k))
                .map_or(true, |d| d.replicated)
        })
        .collect()
}

/// Checks follower settings keys against every version's registry (auto-follow patterns are
/// checked without a version in mind).
pub(crate) fn validate_any_version(update: &SettingsUpdate) -> Result<(), EsError> {
    for (key, value) in update {
        let Some(d) = INDEX_SETTINGS.iter().find(|d| d.matches(key)) else {
            return Err(unknown_setting(
                key,
                INDEX_SETTINGS
                    .iter()
                    .filter(|d| !d.is_group())
                    .map(|d| d.key),
            ));
        };
        if let Some(value) = value {
            check_value(d.kind, key, value)?;
        }
    }
    Ok(())
}

/// What soft deletes a new index gets, and the warning or error ES gives for disabling them
/// (`MetadataCreateIndexService.validateSoftDeleteSettings`: deprecated from 7.6, refused
/// from 8.0).
pub(crate) fn soft_deletes_on_create(
    update: &SettingsUpdate,
    v: Version,
    index: &str,
) -> Result<(bool, Option<String>), EsError> {
    match update.get("index.soft_deletes.enabled").cloned().flatten() {
        Some(s) if s == "false" => {
            if v.major >= 8 {
                Err(EsError::illegal_argument(
                    "Creating indices with soft-deletes disabled is no longer supported. Please do not specify a value for setting [index.soft_deletes.enabled].",
                ))
            } else if v.at_least(7, 6) {
                Ok((false, Some(format!(
                    "Creating indices with soft-deletes disabled is deprecated and will be removed in future Elasticsearch versions. Please do not specify value for setting [index.soft_deletes.enabled] of index [{index}]."
                ))))
            } else {
                Ok((false, None))
            }
        }
        Some(_) => Ok((true, None)),
        None => Ok((v.major >= 7, None)),
    }
}

/// The defaults `include_defaults` shows for an index: every concrete setting of the version
/// and flavour with a default, except those the index sets.
pub(crate) fn index_defaults(
    set: &BTreeMap<String, String>,
    v: Version,
    flavor: Flavor,
) -> Vec<(String, String)> {
    INDEX_SETTINGS
        .iter()
        .filter(|d| !d.is_group() && d.exists(v, flavor) && !set.contains_key(d.key))
        .filter_map(|d| d.default_on(v).map(|x| (d.key.to_string(), x.to_string())))
        .collect()
}

/// One known cluster setting (or group: `key` ends with `.`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClusterSettingDef {
    pub key: &'static str,
    /// False for node settings (`elasticsearch.yml` only).
    pub dynamic: bool,
    pub kind: Kind,
    pub since: (u32, u32),
    pub default: Option<&'static str>,
}

const fn cdef(
    key: &'static str,
    dynamic: bool,
    kind: Kind,
    since: (u32, u32),
    default: Option<&'static str>,
) -> ClusterSettingDef {
    ClusterSettingDef {
        key,
        dynamic,
        kind,
        since,
        default,
    }
}

/// The cluster settings a CCR user meets, besides the per-alias `cluster.remote.<alias>.*`
/// (checked with the remote's own rules).
pub(crate) const CLUSTER_SETTINGS: &[ClusterSettingDef] = &[
    // Remote cluster node settings (RemoteClusterService): not dynamic.
    cdef(
        "cluster.remote.initial_connect_timeout",
        false,
        K::Time,
        V6_0,
        Some("30s"),
    ),
    cdef("cluster.remote.connect", false, K::Bool, V6_0, Some("true")),
    cdef("cluster.remote.node.attr", false, K::Text, V6_0, Some("")),
    cdef(
        "cluster.remote.connections_per_cluster",
        false,
        POSITIVE,
        V6_0,
        Some("3"),
    ),
    // CCR (CcrSettings).
    cdef(
        "ccr.indices.recovery.max_bytes_per_sec",
        true,
        K::Bytes,
        (6, 7),
        Some("40mb"),
    ),
    cdef(
        "ccr.indices.recovery.max_concurrent_file_chunks",
        true,
        K::Int { min: 1, max: 10 },
        (6, 7),
        Some("5"),
    ),
    cdef(
        "ccr.indices.recovery.chunk_size",
        true,
        K::Bytes,
        (6, 7),
        Some("1mb"),
    ),
    cdef(
        "ccr.indices.recovery.recovery_activity_timeout",
        true,
        K::Time,
        (6, 7),
        Some("60s"),
    ),
    cdef(
        "ccr.indices.recovery.internal_action_timeout",
        true,
        K::Time,
        (6, 7),
        Some("60s"),
    ),
    cdef(
        "ccr.wait_for_metadata_timeout",
        true,
        K::Time,
        (6, 7),
        Some("60s"),
    ),
    cdef(
        "ccr.auto_follow.wait_for_metadata_timeout",
        true,
        K::Time,
        (6, 7),
        Some("60s"),
    ),
    // Allocation and recovery.
    cdef(
        "cluster.routing.allocation.enable",
        true,
        ALLOCATION_ENABLE,
        V6_0,
        Some("all"),
    ),
    cdef(
        "cluster.routing.rebalance.enable",
        true,
        REBALANCE_ENABLE,
        V6_0,
        Some("all"),
    ),
    cdef(
        "cluster.routing.allocation.allow_rebalance",
        true,
        K::Enum(
            &["always", "indices_primaries_active", "indices_all_active"],
            "Illegal allow_rebalance value [{}]",
        ),
        V6_0,
        Some("indices_all_active"),
    ),
    cdef(
        "cluster.routing.allocation.cluster_concurrent_rebalance",
        true,
        K::Int {
            min: -1,
            max: i64::MAX,
        },
        V6_0,
        Some("2"),
    ),
    cdef(
        "cluster.routing.allocation.node_concurrent_recoveries",
        true,
        NON_NEG,
        V6_0,
        Some("2"),
    ),
    cdef(
        "cluster.routing.allocation.node_concurrent_incoming_recoveries",
        true,
        NON_NEG,
        V6_0,
        Some("2"),
    ),
    cdef(
        "cluster.routing.allocation.node_concurrent_outgoing_recoveries",
        true,
        NON_NEG,
        V6_0,
        Some("2"),
    ),
    cdef(
        "cluster.routing.allocation.node_initial_primaries_recoveries",
        true,
        NON_NEG,
        V6_0,
        Some("4"),
    ),
    cdef(
        "cluster.routing.allocation.total_shards_per_node",
        true,
        K::Int {
            min: -1,
            max: i64::MAX,
        },
        V6_0,
        Some("-1"),
    ),
    cdef(
        "cluster.routing.allocation.disk.threshold_enabled",
        true,
        K::Bool,
        V6_0,
        Some("true"),
    ),
    cdef(
        "cluster.routing.allocation.disk.watermark.low",
        true,
        K::Text,
        V6_0,
        Some("85%"),
    ),
    cdef(
        "cluster.routing.allocation.disk.watermark.high",
        true,
        K::Text,
        V6_0,
        Some("90%"),
    ),
    cdef(
        "cluster.routing.allocation.disk.watermark.flood_stage",
        true,
        K::Text,
        V6_0,
        Some("95%"),
    ),
    cdef(
        "cluster.routing.allocation.awareness.attributes",
        true,
        K::Text,
        V6_0,
        Some(""),
    ),
    cdef(
        "cluster.routing.allocation.include.",
        true,
        K::Text,
        V6_0,
        None,
    ),
    cdef(
        "cluster.routing.allocation.exclude.",
        true,
        K::Text,
        V6_0,
        None,
    ),
    cdef(
        "cluster.routing.allocation.require.",
        true,
        K::Text,
        V6_0,
        None,
    ),
    cdef(
        "indices.recovery.max_bytes_per_sec",
        true,
        K::Bytes,
        V6_0,
        Some("40mb"),
    ),
    cdef(
        "cluster.max_shards_per_node",
        true,
        POSITIVE,
        (6, 5),
        Some("1000"),
    ),
    cdef(
        "cluster.blocks.read_only",
        true,
        K::Bool,
        V6_0,
        Some("false"),
    ),
    cdef(
        "cluster.blocks.read_only_allow_delete",
        true,
        K::Bool,
        V6_0,
        Some("false"),
    ),
    cdef(
        "cluster.indices.close.enable",
        true,
        K::Bool,
        V6_0,
        Some("true"),
    ),
    // Actions, monitoring, logging.
    cdef(
        "action.auto_create_index",
        true,
        K::Text,
        V6_0,
        Some("true"),
    ),
    cdef(
        "action.destructive_requires_name",
        true,
        K::Bool,
        V6_0,
        None,
    ),
    cdef(
        "xpack.monitoring.collection.enabled",
        true,
        K::Bool,
        V6_0,
        Some("false"),
    ),
    cdef("logger.", true, K::Text, V6_0, None),
];

impl ClusterSettingDef {
    fn matches(&self, key: &str) -> bool {
        if self.key.ends_with('.') {
            key.starts_with(self.key) && key.len() > self.key.len()
        } else {
            key == self.key
        }
    }
}

/// The cluster setting `key` on this version, if it exists there.
pub(crate) fn cluster_setting(key: &str, v: Version) -> Option<&'static ClusterSettingDef> {
    CLUSTER_SETTINGS
        .iter()
        .find(|d| d.matches(key) && v.at_least(d.since.0, d.since.1))
}

/// Checks one key of `PUT _cluster/settings` (`AbstractScopedSettings.updateSettings`):
/// unknown, node-only, or a bad value. `scope` is `persistent` or `transient`.
pub(crate) fn check_cluster_setting(
    scope: &str,
    key: &str,
    value: &Value,
    v: Version,
) -> Result<(), EsError> {
    let Some(d) = cluster_setting(key, v) else {
        return Err(EsError::illegal_argument(format!(
            "{scope} setting [{key}], not recognized"
        )));
    };
    if !d.dynamic {
        return Err(EsError::illegal_argument(format!(
            "{scope} setting [{key}], not dynamically updateable"
        )));
    }
    let text = match value {
        Value::Null => return Ok(()),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    check_value(d.kind, key, &text)
}

/// The default of a cluster setting on a version (None when the key is unknown).
pub(crate) fn cluster_default(key: &str, v: Version) -> Option<&'static str> {
    if key == "action.destructive_requires_name" {
        // The default is true from 8.0 (DestructiveOperations.REQUIRES_NAME_SETTING).
        return Some(if v.major >= 8 { "true" } else { "false" });
    }
    cluster_setting(key, v).and_then(|d| d.default)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V8: Version = Version::new(8, 15, 0);

    #[test]
    fn seed_runbook_settings_are_known() {
        let u = normalize_index_settings(&serde_json::json!({
            "index.soft_deletes.retention.operations": 1024,
            "index.soft_deletes.enabled": true
        }));
        validate_index_settings(&u, V8, Flavor::Default, Origin::Create).unwrap();
        validate_index_settings(&u, Version::new(6, 7, 0), Flavor::Aliyun, Origin::Create).unwrap();
    }

    #[test]
    fn unknown_settings_suggest_close_keys() {
        let u =
            normalize_index_settings(&serde_json::json!({"soft_deletes.retention.operation": 1}));
        let e = validate_index_settings(&u, V8, Flavor::Default, Origin::Create).unwrap_err();
        assert_eq!(
            e.reason,
            "unknown setting [index.soft_deletes.retention.operation] did you mean any of [index.soft_deletes.retention.operations, index.soft_deletes.retention_lease.period]?"
        );
        let u = normalize_index_settings(&serde_json::json!({"index.refresh_intervl": "1s"}));
        let e = validate_index_settings(&u, V8, Flavor::Default, Origin::Update).unwrap_err();
        assert_eq!(
            e.reason,
            "unknown setting [index.refresh_intervl] did you mean [index.refresh_interval]?"
        );
        let u = normalize_index_settings(&serde_json::json!({"index.replication.type": null}));
        let e = validate_index_settings(&u, V8, Flavor::Default, Origin::Update).unwrap_err();
        assert!(e
            .reason
            .starts_with("unknown setting [index.replication.type]"));
    }

    #[test]
    fn values_are_checked_as_es_parses_them() {
        let bad = |k: &str, v: &str| {
            let u = SettingsUpdate::from([(k.to_string(), Some(v.to_string()))]);
            validate_index_settings(&u, V8, Flavor::Default, Origin::Update)
                .unwrap_err()
                .reason
        };
        assert_eq!(
            bad("index.blocks.write", "yes"),
            "Failed to parse value [yes] as only [true] or [false] are allowed."
        );
        assert_eq!(
            bad("index.number_of_replicas", "-1"),
            "Failed to parse value [-1] for setting [index.number_of_replicas] must be >= 0"
        );
        assert_eq!(
            bad("index.codec", "zstd"),
            "unknown value for [index.codec] must be one of [default, best_compression] but was: zstd"
        );
        assert_eq!(
            bad("index.uuid", "x"),
            "can not update private setting [index.uuid]; this setting is managed by Elasticsearch"
        );
        assert!(bad("index.refresh_interval", "soon").contains("as a time value"));
    }

    #[test]
    fn versions_bound_settings() {
        assert!(index_setting("index.hidden", Version::new(7, 6, 0), Flavor::Default).is_none());
        assert!(index_setting("index.hidden", Version::new(7, 7, 0), Flavor::Default).is_some());
        assert!(index_setting(REPLICATION_TYPE, Version::new(6, 7, 0), Flavor::Aliyun).is_some());
        assert!(Flavor::Aliyun.check_version(Version::new(6, 8, 0)).is_err());
        assert_eq!(
            cluster_default("action.destructive_requires_name", V8),
            Some("true")
        );
        assert_eq!(
            check_cluster_setting("persistent", "cluster.remote.initial_connect_timeout", &Value::from("10s"), V8)
                .unwrap_err()
                .reason,
            "persistent setting [cluster.remote.initial_connect_timeout], not dynamically updateable"
        );
    }
}
