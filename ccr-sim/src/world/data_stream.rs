//! Composable index templates and data streams: creation (explicit and by a first write),
//! backing indices, rollover, promotion, and the data-stream side of following a backing index.
//!
//! Sources: `MetadataIndexTemplateService` (templates and their overlap check),
//! `MetadataCreateDataStreamService` (creation), `DataStream` (backing index names, rollover),
//! `MetadataRolloverService`, `PromoteDataStreamTransportAction`, `TransportPutFollowAction`
//! (`updateLocalDataStream`) and `AutoFollowCoordinator` (`AutoFollowPattern.match`,
//! `getFollowerIndexName`). See docs/es-contract.md, "Data streams".

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::EsError;
use crate::util::wildcard_match;
use crate::version::Version;
use crate::world::model::{AutoFollowPattern, Cluster, Index};
use crate::world::ops;

/// `DataStream.BACKING_INDEX_PREFIX`.
pub(crate) const BACKING_INDEX_PREFIX: &str = ".ds-";

/// A composable index template (`PUT /_index_template/{name}`).
#[derive(Clone, Debug)]
pub(crate) struct IndexTemplate {
    pub index_patterns: Vec<String>,
    /// `priority`; ES treats a missing one as 0 when comparing.
    pub priority: Option<i64>,
    pub version: Option<i64>,
    /// `data_stream: {...}` as given (`hidden`, `allow_custom_routing`).
    pub data_stream: Option<Map<String, Value>>,
    /// `template` as given (settings, mappings, aliases), rendered back by GET.
    pub template: Option<Map<String, Value>>,
    /// `template.settings`, flat, applied to indices the template creates.
    pub settings: BTreeMap<String, String>,
    pub composed_of: Vec<String>,
    pub meta: Option<Value>,
}

impl IndexTemplate {
    fn effective_priority(&self) -> i64 {
        self.priority.unwrap_or(0)
    }

    fn data_stream_hidden(&self) -> bool {
        self.data_stream
            .as_ref()
            .and_then(|d| d.get("hidden"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// A data stream.
#[derive(Clone, Debug)]
pub(crate) struct DataStream {
    pub name: String,
    pub timestamp_field: String,
    /// Backing index names, oldest first; the last is the write index.
    pub indices: Vec<String>,
    pub generation: u64,
    pub hidden: bool,
    /// A follower's copy of a leader's stream: no rollover until promoted.
    pub replicated: bool,
}

impl DataStream {
    /// The write index: the last backing index.
    pub(crate) fn write_index(&self) -> Option<&str> {
        self.indices.last().map(String::as_str)
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `DataStream.getDefaultBackingIndexName`: `.ds-<stream>-<yyyy.MM.dd>-<generation, 6 digits>`
/// from 7.11 (the date is the creation day, UTC); 7.9 and 7.10 have no date.
pub(crate) fn backing_index_name(
    stream: &str,
    generation: u64,
    epoch_ms: u64,
    v: Version,
) -> String {
    if !v.at_least(7, 11) {
        return format!("{BACKING_INDEX_PREFIX}{stream}-{generation:06}");
    }
    let (y, m, d) = civil_from_days((epoch_ms / 86_400_000) as i64);
    format!("{BACKING_INDEX_PREFIX}{stream}-{y:04}.{m:02}.{d:02}-{generation:06}")
}

/// The stream a backing index name belongs to by ES's naming scheme
/// (`.ds-<stream>-<date>-<generation>` or `.ds-<stream>-<generation>`), if any.
pub(crate) fn stream_of_backing_name(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(BACKING_INDEX_PREFIX)?;
    let (head, generation) = rest.rsplit_once('-')?;
    if generation.len() < 6 || !generation.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match head.rsplit_once('-') {
        Some((stream, date)) if is_date(date) => Some(stream),
        _ => Some(head),
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'.'
        && b[7] == b'.'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// The data stream a (local) index backs, if any.
pub(crate) fn parent_stream<'a>(c: &'a Cluster, index: &str) -> Option<&'a DataStream> {
    c.data_streams
        .values()
        .find(|d| d.indices.iter().any(|i| i == index))
}

/// Whether two index patterns can match a common name (`MetadataIndexTemplateService`
/// intersects their automatons; `*` is the only wildcard here, as in index patterns).
pub(crate) fn patterns_overlap(a: &str, b: &str) -> bool {
    fn go(a: &[u8], b: &[u8]) -> bool {
        match (a.first(), b.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&a[1..], b) || (!b.is_empty() && go(a, &b[1..])),
            (_, Some(b'*')) => go(a, &b[1..]) || (!a.is_empty() && go(&a[1..], b)),
            (Some(x), Some(y)) => x == y && go(&a[1..], &b[1..]),
            _ => false,
        }
    }
    go(a.as_bytes(), b.as_bytes())
}

/// `MetadataIndexTemplateService.addIndexTemplateV2` checks: a template whose patterns overlap
/// another's at the same priority is refused, naming every such template.
pub(crate) fn put_index_template(
    c: &mut Cluster,
    name: &str,
    t: IndexTemplate,
    create_only: bool,
) -> Result<(), EsError> {
    if create_only && c.index_templates.contains_key(name) {
        return Err(EsError::illegal_argument(format!(
            "index template [{name}] already exists"
        )));
    }
    let clashes: Vec<(&String, &IndexTemplate)> = c
        .index_templates
        .iter()
        .filter(|(n, o)| {
            n.as_str() != name
                && o.effective_priority() == t.effective_priority()
                && o.index_patterns
                    .iter()
                    .any(|op| t.index_patterns.iter().any(|tp| patterns_overlap(op, tp)))
        })
        .collect();
    if !clashes.is_empty() {
        let names: Vec<&str> = clashes.iter().map(|(n, _)| n.as_str()).collect();
        let with: Vec<String> = clashes
            .iter()
            .map(|(n, o)| format!("{n} => [{}]", o.index_patterns.join(", ")))
            .collect();
        return Err(EsError::illegal_argument(format!(
            "index template [{name}] has index patterns [{}] matching patterns from existing templates [{}] with patterns ({}) that have the same priority [{}], multiple index templates may not match during index creation, please use a different priority",
            t.index_patterns.join(", "),
            names.join(","),
            with.join(","),
            t.effective_priority()
        )));
    }
    if !t.composed_of.is_empty() {
        // The simulator has no component templates, so every one named is missing.
        return Err(EsError::new(
            400,
            "invalid_index_template_exception",
            format!(
                "index_template [{name}] invalid, cause [index template [{name}] specifies component templates [{}] that do not exist]",
                t.composed_of.join(", ")
            ),
        ));
    }
    // A template may not be removed or changed away from data streams while a stream uses it
    // (`MetadataIndexTemplateService.validateDataStreamsStillReferenced`).
    if t.data_stream.is_none() {
        let using: Vec<&str> = c
            .data_streams
            .values()
            .filter(|d| template_of(c, &d.name) == Some(name))
            .map(|d| d.name.as_str())
            .collect();
        if !using.is_empty() {
            return Err(EsError::illegal_argument(format!(
                "composable template [{name}] with index patterns [{}], priority [{}] and no data stream configuration would cause data streams [{}] to no longer match a data stream template",
                t.index_patterns.join(", "),
                t.priority.map_or("null".into(), |p| p.to_string()),
                using.join(", ")
            )));
        }
    }
    c.index_templates.insert(name.to_string(), t);
    Ok(())
}

/// `MetadataIndexTemplateService.findV2Template`: the matching template of highest priority.
pub(crate) fn find_template<'a>(
    c: &'a Cluster,
    name: &str,
) -> Option<(&'a str, &'a IndexTemplate)> {
    c.index_templates
        .iter()
        .filter(|(_, t)| t.index_patterns.iter().any(|p| wildcard_match(p, name)))
        .max_by_key(|(_, t)| t.effective_priority())
        .map(|(n, t)| (n.as_str(), t))
}

/// The template a stream's next backing index would come from (`findV2Template` on the
/// stream's name, as `GET /_data_stream` reports it): None on a follower that has none.
pub(crate) fn template_of<'a>(c: &'a Cluster, stream: &str) -> Option<&'a str> {
    find_template(c, stream).map(|(n, _)| n)
}

/// `MetadataIndexTemplateService.removeIndexTemplateV2`: a template in use by a data stream
/// cannot be removed.
pub(crate) fn delete_index_template(c: &mut Cluster, expr: &str) -> Result<(), EsError> {
    let names: Vec<String> = c
        .index_templates
        .keys()
        .filter(|n| expr.split(',').any(|p| wildcard_match(p.trim(), n)))
        .cloned()
        .collect();
    if names.is_empty() {
        return Err(EsError::resource_not_found(format!(
            "index_template [{expr}] missing"
        )));
    }
    for n in &names {
        let using: Vec<&str> = c
            .data_streams
            .values()
            .filter(|d| template_of(c, &d.name) == Some(n.as_str()))
            .map(|d| d.name.as_str())
            .collect();
        if !using.is_empty() {
            return Err(EsError::illegal_argument(format!(
                "unable to remove composable templates [{n}] as they are in use by a data streams [{}]",
                using.join(", ")
            )));
        }
    }
    for n in names {
        c.index_templates.remove(&n);
    }
    Ok(())
}

/// `MetadataCreateDataStreamService.lookupTemplateForDataStream`: the template a stream's
/// backing indices are made from, which must have `data_stream`.
fn lookup_template_for_data_stream(c: &Cluster, name: &str) -> Result<String, EsError> {
    let Some((tname, t)) = find_template(c, name) else {
        return Err(EsError::illegal_argument(format!(
            "no matching index template found for data stream [{name}]"
        )));
    };
    if t.data_stream.is_none() {
        return Err(EsError::illegal_argument(format!(
            "matching index template [{tname}] for data stream [{name}] has no data stream template"
        )));
    }
    Ok(tname.to_string())
}

/// `MetadataCreateIndexService.applyCreateIndexRequestWithV2Template`: an index (not a
/// backing index) whose name a data-stream template matches cannot be created directly.
pub(crate) fn check_plain_index_allowed(c: &Cluster, name: &str) -> Result<(), EsError> {
    match find_template(c, name) {
        Some((tname, t)) if t.data_stream.is_some() => Err(EsError::illegal_argument(format!(
            "cannot create index with name [{name}], because it matches with template [{tname}] that creates data streams only, use create data stream api instead"
        ))),
        _ => Ok(()),
    }
}

/// The settings the matching composable template gives a new index (under the request's own).
pub(crate) fn template_settings(c: &Cluster, name: &str) -> BTreeMap<String, String> {
    find_template(c, name)
        .map(|(_, t)| t.settings.clone())
        .unwrap_or_default()
}

/// `MetadataCreateDataStreamService.validateDataStreamName` and the template lookup, in ES's
/// order; returns the template's name.
fn check_new_stream(c: &Cluster, name: &str) -> Result<String, EsError> {
    if name.contains('#') || name.contains(':') {
        return Err(EsError::illegal_argument(format!(
            "data_stream [{name}] must not contain '#' or ':'"
        )));
    }
    if name.starts_with(['_', '-', '+']) {
        return Err(EsError::illegal_argument(format!(
            "data_stream [{name}] must not start with '_', '-', or '+'"
        )));
    }
    if name != name.to_lowercase() {
        return Err(EsError::illegal_argument(format!(
            "data_stream [{name}] must be lowercase"
        )));
    }
    if name.starts_with(BACKING_INDEX_PREFIX) {
        return Err(EsError::illegal_argument(format!(
            "data_stream [{name}] must not start with '{BACKING_INDEX_PREFIX}'"
        )));
    }
    if c.data_streams.contains_key(name) {
        return Err(EsError::new(
            400,
            "resource_already_exists_exception",
            format!("data_stream [{name}] already exists"),
        ));
    }
    let tname = lookup_template_for_data_stream(c, name)?;
    if c.indices.contains_key(name) {
        return Err(EsError::new(
            400,
            "resource_already_exists_exception",
            format!("index [{name}] already exists"),
        ));
    }
    Ok(tname.to_string())
}

/// Creates a backing index: hidden, with the template's settings.
fn create_backing_index(
    c: &mut Cluster,
    backing: &str,
    template: &str,
    now_epoch: u64,
) -> Result<(), EsError> {
    let mut settings = c
        .index_templates
        .get(template)
        .map(|t| t.settings.clone())
        .unwrap_or_default();
    settings.insert("index.hidden".into(), "true".into());
    ops::create_index(c, backing, settings, now_epoch)?;
    Ok(())
}

/// `PUT /_data_stream/{name}`, and the first write to a name a data-stream template matches:
/// the stream and its first backing index (generation 1).
pub(crate) fn create_data_stream(
    c: &mut Cluster,
    name: &str,
    now_epoch: u64,
) -> Result<(), EsError> {
    let template = check_new_stream(c, name)?;
    let hidden = c
        .index_templates
        .get(&template)
        .is_some_and(IndexTemplate::data_stream_hidden);
    let backing = backing_index_name(name, 1, now_epoch, c.version);
    create_backing_index(c, &backing, &template, now_epoch)?;
    c.data_streams.insert(
        name.to_string(),
        DataStream {
            name: name.to_string(),
            timestamp_field: "@timestamp".into(),
            indices: vec![backing],
            generation: 1,
            hidden,
            replicated: false,
        },
    );
    Ok(())
}

/// What `POST /{stream}/_rollover` did.
pub(crate) struct Rollover {
    pub old_index: String,
    pub new_index: String,
}

/// `MetadataRolloverService.rolloverDataStream`: the next generation becomes the write index.
/// The local template is looked up first (a promoted stream without one cannot roll over),
/// then a replicated stream is refused (`DataStream.nextWriteIndexAndGeneration`).
pub(crate) fn rollover(
    c: &mut Cluster,
    name: &str,
    now_epoch: u64,
    dry_run: bool,
) -> Result<Rollover, EsError> {
    let Some(ds) = c.data_streams.get(name).cloned() else {
        return Err(EsError::illegal_argument(format!(
            "rollover target [{name}] does not exist"
        )));
    };
    let template = lookup_template_for_data_stream(c, name)?;
    if ds.replicated {
        return Err(EsError::illegal_argument(format!(
            "data stream [{name}] cannot be rolled over, because it is a replicated data stream"
        )));
    }
    let old_index = ds.write_index().unwrap_or_default().to_string();
    let mut generation = ds.generation;
    let new_index = loop {
        generation += 1;
        let n = backing_index_name(name, generation, now_epoch, c.version);
        if !c.indices.contains_key(&n) {
            break n;
        }
    };
    if dry_run {
        return Ok(Rollover {
            old_index,
            new_index,
        });
    }
    create_backing_index(c, &new_index, &template, now_epoch)?;
    if let Some(d) = c.data_streams.get_mut(name) {
        d.indices.push(new_index.clone());
        d.generation = generation;
    }
    Ok(Rollover {
        old_index,
        new_index,
    })
}

/// `PromoteDataStreamTransportAction.promoteDataStream`: the stream must exist; it stops being
/// replicated (a stream that is not replicated stays as it is).
pub(crate) fn promote(c: &mut Cluster, name: &str) -> Result<(), EsError> {
    let Some(ds) = c.data_streams.get_mut(name) else {
        return Err(EsError::resource_not_found(format!(
            "data stream [{name}] does not exist"
        )));
    };
    ds.replicated = false;
    c.metadata_version += 1;
    Ok(())
}

/// Deletes data streams and their backing indices (`MetadataDataStreamsService.removeDataStream`).
pub(crate) fn delete_data_streams(c: &mut Cluster, names: &[String]) {
    for n in names {
        c.writers.remove(n);
        if let Some(ds) = c.data_streams.remove(n) {
            for i in ds.indices {
                c.remove_index(&i);
            }
        }
    }
    c.metadata_version += 1;
}

/// Where a document sent to `target` goes: the write index of the data stream of that name
/// (created first when a data-stream template matches a name nothing holds), or `target`
/// itself. Only `op_type=create` may target a data stream (`TransportBulkAction`).
pub(crate) fn write_target(
    c: &mut Cluster,
    target: &str,
    create: bool,
    now_epoch: u64,
) -> Result<String, EsError> {
    if c.version.at_least(7, 9)
        && !c.indices.contains_key(target)
        && !c.data_streams.contains_key(target)
        && find_template(c, target).is_some_and(|(_, t)| t.data_stream.is_some())
    {
        if !create {
            return Err(op_type_refused());
        }
        create_data_stream(c, target, now_epoch)?;
    }
    match c.data_streams.get(target) {
        Some(_) if !create => Err(op_type_refused()),
        Some(ds) => Ok(ds.write_index().unwrap_or(target).to_string()),
        None => Ok(target.to_string()),
    }
}

/// A delete or an index operation sent to a data stream's name.
pub(crate) fn op_type_refused() -> EsError {
    EsError::illegal_argument(
        "only write ops with an op_type of create are allowed in data streams",
    )
}

/// A document written to a data stream must carry its timestamp field
/// (`DataStreamTimestampFieldMapper`). The exact wording of the 400 is reconstructed.
pub(crate) fn check_timestamp(c: &Cluster, backing: &str, source: &Value) -> Result<(), EsError> {
    let Some(ds) = parent_stream(c, backing) else {
        return Ok(());
    };
    if source
        .get(&ds.timestamp_field)
        .is_some_and(|v| !v.is_null())
    {
        return Ok(());
    }
    let kind = if c.version.at_least(8, 8) {
        "document_parsing_exception"
    } else {
        "mapper_parsing_exception"
    };
    Err(EsError::new(
        400,
        kind,
        format!(
            "data stream timestamp field [{}] is missing",
            ds.timestamp_field
        ),
    ))
}

/// A `@timestamp` value as epoch milliseconds: a number, or an RFC 3339 date string.
fn timestamp_millis(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse::<i64>().ok().or_else(|| {
            humantime::parse_rfc3339_weak(s.trim_end_matches('Z'))
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as i64)
        }),
        _ => None,
    }
}

/// The largest timestamp among the stored documents of a stream's backing indices (what
/// `DataStreamsStatsTransportAction` reads from the shards' `@timestamp` points), 0 if none.
pub(crate) fn maximum_timestamp(c: &Cluster, ds: &DataStream) -> i64 {
    ds.indices
        .iter()
        .filter_map(|i| c.indices.get(i))
        .flat_map(|i| i.docs.docs.values())
        .filter_map(|d| d.source.get(&ds.timestamp_field).and_then(timestamp_millis))
        .max()
        .unwrap_or(0)
}

/// `AutoFollowPattern.match`: an index matches by its own name, or by the name of the data
/// stream it backs; exclusions apply to both, and system indices never match.
pub(crate) fn pattern_matches(
    leader: &Cluster,
    patterns: &[String],
    exclusions: &[String],
    index: &Index,
) -> bool {
    let hit = |name: &str| {
        patterns.iter().any(|p| wildcard_match(p, name))
            && !exclusions.iter().any(|p| wildcard_match(p, name))
    };
    if hit(&index.name) {
        return true;
    }
    parent_stream(leader, &index.name).is_some_and(|ds| hit(&ds.name))
}

/// `AutoFollower.getFollowerIndexName` with its data stream (8.4+, `data_stream_name` of the
/// put follow it sends): a backing index keeps the `.ds-` scheme, the pattern renaming the
/// stream part (`.ds-logs-x-2022.02.02-000001` with `{{leader_index}}_copy` gives
/// `.ds-logs-x_copy-2022.02.02-000001`).
pub(crate) fn auto_follow_names(
    leader: &Cluster,
    p: &AutoFollowPattern,
    leader_index: &str,
    follower_version: Version,
) -> (String, Option<String>) {
    const REPLACE: &str = "{{leader_index}}";
    let Some(pattern) = p.follow_index_pattern.as_deref() else {
        return (leader_index.to_string(), None);
    };
    if follower_version.at_least(8, 4) && parent_stream(leader, leader_index).is_some() {
        if let Some(stream) = stream_of_backing_name(leader_index) {
            let renamed = pattern.replace(REPLACE, stream);
            let suffix = &leader_index[BACKING_INDEX_PREFIX.len() + stream.len()..];
            return (
                format!("{BACKING_INDEX_PREFIX}{renamed}{suffix}"),
                Some(renamed),
            );
        }
    }
    (pattern.replace(REPLACE, leader_index), None)
}

/// The local data stream a follower of a backing index joins: checked before the restore,
/// applied with it (`TransportPutFollowAction.createFollowerIndex` and `updateLocalDataStream`).
#[derive(Clone, Debug)]
pub(crate) struct FollowedStream {
    pub local_name: String,
    pub remote: DataStream,
}

/// For a follower of `leader_index`: None if the leader is no backing index, else the local
/// stream it will join. Before 8.4 a backing index must keep its name; a local stream of that
/// name that was promoted takes no more followers.
pub(crate) fn plan_follow(
    leader: &Cluster,
    follower_cluster: &Cluster,
    leader_index: &str,
    follower_index: &str,
    data_stream_name: Option<&str>,
) -> Result<Option<FollowedStream>, EsError> {
    let Some(remote) = parent_stream(leader, leader_index) else {
        return Ok(None);
    };
    if !follower_cluster.version.at_least(8, 4) && leader_index != follower_index {
        return Err(EsError::illegal_argument(
            "a backing index name in the local and remote cluster must remain the same",
        ));
    }
    let local_name = data_stream_name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or(&remote.name)
        .to_string();
    if let Some(local) = follower_cluster.data_streams.get(&local_name) {
        if !local.replicated && !local.indices.iter().any(|i| i == follower_index) {
            return Err(EsError::illegal_argument(format!(
                "cannot follow backing index [{follower_index}], because local data stream [{local_name}] is no longer marked as replicated"
            )));
        }
    }
    Ok(Some(FollowedStream {
        local_name,
        remote: remote.clone(),
    }))
}

/// `updateLocalDataStream`: the follower joins (or founds) the replicated local stream, backing
/// indices sorted by name so the newest generation stays the write index.
pub(crate) fn attach_follower(c: &mut Cluster, follower_index: &str, plan: FollowedStream) {
    if let Some(idx) = c.indices.get_mut(follower_index) {
        idx.settings.insert("index.hidden".into(), "true".into());
    }
    match c.data_streams.get_mut(&plan.local_name) {
        None => {
            c.data_streams.insert(
                plan.local_name.clone(),
                DataStream {
                    name: plan.local_name,
                    indices: vec![follower_index.to_string()],
                    replicated: true,
                    ..plan.remote
                },
            );
        }
        Some(local) => {
            if !local.indices.iter().any(|i| i == follower_index) {
                local.indices.push(follower_index.to_string());
                let base = format!("{BACKING_INDEX_PREFIX}{}", local.name);
                local.indices.sort_by(|a, b| {
                    let key = |n: &String| {
                        let pos = n.find(BACKING_INDEX_PREFIX).unwrap_or(0);
                        (n.contains(&base), n[pos..].to_string())
                    };
                    key(a).cmp(&key(b))
                });
            }
            local.generation = plan.remote.generation;
        }
    }
}

/// `MetadataIndexStateService.closeIndices`: no data stream's write index may be closed (checked
/// before the close is submitted).
pub(crate) fn check_closable(c: &Cluster, names: &[String]) -> Result<(), EsError> {
    let writes: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| parent_stream(c, n).is_some_and(|d| d.write_index() == Some(*n)))
        .collect();
    if writes.is_empty() {
        return Ok(());
    }
    Err(EsError::illegal_argument(format!(
        "cannot close the following data stream write indices [{}]",
        writes.join(",")
    )))
}

/// `MetadataDeleteIndexService`: a data stream's write index cannot be deleted.
pub(crate) fn check_index_deletable(c: &Cluster, index: &str) -> Result<(), EsError> {
    match parent_stream(c, index) {
        Some(ds) if ds.write_index() == Some(index) => Err(EsError::illegal_argument(format!(
            "index [{index}] is the write index for data stream [{}] and cannot be deleted",
            ds.name
        ))),
        _ => Ok(()),
    }
}

/// Streams named by an expression (names, `*` wildcards, `_all`); hidden streams only by
/// name or with `include_hidden`.
pub(crate) fn matching_streams(c: &Cluster, expr: &str, include_hidden: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in expr.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let wildcard = part == "_all" || part.contains('*');
        let pat = if part == "_all" { "*" } else { part };
        for (n, ds) in &c.data_streams {
            let ok = if wildcard {
                wildcard_match(pat, n) && (!ds.hidden || include_hidden)
            } else {
                n == part
            };
            if ok && !out.contains(n) {
                out.push(n.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backing_index_names_follow_es_scheme() {
        // 2026-11-30T00:00:00Z
        let ms = 1_795_996_800_000;
        assert_eq!(
            backing_index_name("logs-app", 3, ms, Version::new(8, 15, 0)),
            ".ds-logs-app-2026.11.30-000003"
        );
        assert_eq!(
            backing_index_name("logs-app", 1, ms, Version::new(7, 10, 0)),
            ".ds-logs-app-000001"
        );
        assert_eq!(
            stream_of_backing_name(".ds-logs-app-2026.12.02-000003"),
            Some("logs-app")
        );
        assert_eq!(
            stream_of_backing_name(".ds-logs-app-000001"),
            Some("logs-app")
        );
        assert_eq!(stream_of_backing_name("logs-app"), None);
    }

    #[test]
    fn overlapping_patterns() {
        assert!(patterns_overlap("logs-*", "logs-app-*"));
        assert!(patterns_overlap("*-prod", "logs-*"));
        assert!(!patterns_overlap("logs-*", "metrics-*"));
        assert!(patterns_overlap("a", "a"));
        assert!(!patterns_overlap("a", "b"));
    }
}
