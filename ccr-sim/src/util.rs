//! Small parsing helpers: ES byte sizes and time values, wildcards, base64, JSON bodies.

use serde_json::{Map, Value};

use crate::error::EsError;

/// An ES byte-size value as given, rendered back as ES's `getStringRep` does (`1024k` -> `1024kb`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ByteSize {
    pub size: i64,
    pub unit: &'static str,
}

impl ByteSize {
    pub(crate) const fn new(size: i64, unit: &'static str) -> Self {
        Self { size, unit }
    }

    pub(crate) fn bytes(self) -> i64 {
        let mult: i64 = match self.unit {
            "kb" => 1 << 10,
            "mb" => 1 << 20,
            "gb" => 1 << 30,
            "tb" => 1 << 40,
            "pb" => 1 << 50,
            _ => 1,
        };
        self.size.saturating_mul(mult)
    }

    pub(crate) fn render(self) -> String {
        format!("{}{}", self.size, self.unit)
    }

    /// Parses `32mb`, `1024k`, `9223372036854775807b`.
    pub(crate) fn parse(field: &str, raw: &str) -> Result<Self, EsError> {
        let s = raw.trim().to_ascii_lowercase();
        let units: [(&str, &'static str); 11] = [
            ("kb", "kb"),
            ("mb", "mb"),
            ("gb", "gb"),
            ("tb", "tb"),
            ("pb", "pb"),
            ("k", "kb"),
            ("m", "mb"),
            ("g", "gb"),
            ("t", "tb"),
            ("p", "pb"),
            ("b", "b"),
        ];
        for (suffix, unit) in units {
            if let Some(num) = s.strip_suffix(suffix) {
                if let Ok(n) = num.trim().parse::<i64>() {
                    return Ok(Self::new(n, unit));
                }
                break;
            }
        }
        Err(EsError::parse(format!(
            "failed to parse setting [{field}] with value [{raw}] as a size in bytes: unit is missing or unrecognized"
        )))
    }
}

/// An ES time value as given (`500ms`, `1m`), rendered back unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimeValue {
    pub n: i64,
    pub unit: &'static str,
}

impl TimeValue {
    pub(crate) const fn new(n: i64, unit: &'static str) -> Self {
        Self { n, unit }
    }

    pub(crate) fn millis(self) -> i64 {
        let mult: f64 = match self.unit {
            "nanos" => 1e-6,
            "micros" => 1e-3,
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 6e4,
            "h" => 3.6e6,
            _ => 8.64e7,
        };
        (self.n as f64 * mult) as i64
    }

    pub(crate) fn render(self) -> String {
        format!("{}{}", self.n, self.unit)
    }

    pub(crate) fn parse(field: &str, raw: &str) -> Result<Self, EsError> {
        let s = raw.trim().to_ascii_lowercase();
        for unit in ["nanos", "micros", "ms", "s", "m", "h", "d"] {
            if let Some(num) = s.strip_suffix(unit) {
                if let Ok(n) = num.trim().parse::<i64>() {
                    return Ok(Self::new(n, unit));
                }
            }
        }
        Err(EsError::parse(format!(
            "failed to parse setting [{field}] with value [{raw}] as a time value: unit is missing or unrecognized"
        )))
    }
}

/// Simple ES wildcard matching (`*` only), as index patterns use.
pub(crate) fn wildcard_match(pattern: &str, text: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == text;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut pos = 0usize;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            if !text.starts_with(part) {
                return false;
            }
            pos = part.len();
        } else if i == parts.len() - 1 {
            return text.len() >= pos + part.len() && text[pos..].ends_with(part);
        } else {
            match text[pos..].find(part) {
                Some(at) => pos += at + part.len(),
                None => return false,
            }
        }
    }
    true
}

/// Standard base64 decoding (for `Authorization` headers), tolerant of missing padding.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut buf = 0u32;
    let mut bits = 0u32;
    for c in s.trim().bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        buf = (buf << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Standard base64 encoding (for the tests' and clients' convenience).
pub fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Percent-decodes one URL path segment or query value.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A tiny deterministic PRNG (xorshift64*), so fault injection is reproducible per seed.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Parses a request body as a JSON object the way ES reports bad bodies.
///
/// An empty body gives `parse_exception: request body is required`; malformed JSON gives
/// `x_content_parse_exception` with ES's `[line:col]` prefix; a non-object gives ES's
/// "expected START_OBJECT" form.
pub(crate) fn parse_body_object(
    body: &[u8],
    required: bool,
) -> Result<Option<Map<String, Value>>, EsError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        if required {
            return Err(EsError::parse("request body is required"));
        }
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(other) => Err(EsError::x_content(format!(
            "[1:1] Unexpected token [{}], expected START_OBJECT",
            token_name(&other)
        ))),
        Err(e) => Err(json_error(&e)),
    }
}

pub(crate) fn json_error(e: &serde_json::Error) -> EsError {
    EsError::x_content(format!(
        "[{}:{}] Unexpected character: {}",
        e.line(),
        e.column(),
        e
    ))
    .caused_by(EsError::new(500, "json_parse_exception", e.to_string()).foreign())
}

pub(crate) fn token_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "VALUE_NULL",
        Value::Bool(_) => "VALUE_BOOLEAN",
        Value::Number(_) => "VALUE_NUMBER",
        Value::String(_) => "VALUE_STRING",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
    }
}

/// Flattens nested settings objects into dotted keys (`{"a":{"b":1}}` -> `a.b`). Values keep their
/// JSON form; `null` stays `null` (it means "remove").
pub(crate) fn flatten_settings(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_settings(&key, child, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

/// Nests dotted keys into objects (`a.b` -> `{"a":{"b":..}}`), as ES renders settings by default.
pub(crate) fn nest_settings<'a>(flat: impl IntoIterator<Item = (&'a String, &'a Value)>) -> Value {
    let mut root = Map::new();
    for (key, value) in flat {
        let parts: Vec<&str> = key.split('.').collect();
        let mut cur = &mut root;
        for (i, part) in parts.iter().enumerate() {
            if i == parts.len() - 1 {
                cur.insert((*part).to_string(), value.clone());
            } else {
                let entry = cur
                    .entry((*part).to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                match entry {
                    Value::Object(m) => cur = m,
                    _ => break,
                }
            }
        }
    }
    Value::Object(root)
}

/// A setting value as ES renders it in settings APIs: everything is a string.
pub(crate) fn setting_string(v: &Value) -> Value {
    match v {
        Value::String(_) | Value::Null => v.clone(),
        Value::Array(items) => Value::Array(items.iter().map(setting_string).collect()),
        other => Value::String(other.to_string()),
    }
}

/// Applies ES's `filter_path`: comma-separated dotted paths with `*` and `**` wildcards; a
/// leading `-` makes a path an exclusion. As ES's XContent generators stack them (the include
/// filter outside the exclude filter), the result is the included part minus the excluded
/// subtrees; `{}` when nothing is left.
pub(crate) fn filter_path(v: &Value, filters: &str) -> Value {
    let mut includes: Vec<Vec<&str>> = Vec::new();
    let mut excludes: Vec<Vec<&str>> = Vec::new();
    for p in filters.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match p.strip_prefix('-') {
            Some(e) if !e.is_empty() => excludes.push(e.split('.').collect()),
            Some(_) => {}
            None => includes.push(p.split('.').collect()),
        }
    }
    let empty = || Value::Object(Map::new());
    let mut out = if includes.is_empty() {
        v.clone()
    } else {
        let refs: Vec<&[&str]> = includes.iter().map(Vec::as_slice).collect();
        filter_value(v, &refs).unwrap_or_else(empty)
    };
    if !excludes.is_empty() {
        let refs: Vec<&[&str]> = excludes.iter().map(Vec::as_slice).collect();
        out = exclude_value(&out, &refs).unwrap_or_else(empty);
    }
    out
}

/// [`filter_path`] with include paths only, written straight as compact JSON: the same bytes as
/// serialising `filter_path(v, filters)`, without building the filtered tree (ES filters in its
/// XContent generator too, as the body is written). None when `filters` holds an exclusion.
pub(crate) fn filter_path_json(v: &Value, filters: &str) -> Option<Vec<u8>> {
    let mut includes: Vec<Vec<&str>> = Vec::new();
    for p in filters.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if p.starts_with('-') {
            return None;
        }
        includes.push(p.split('.').collect());
    }
    let mut out = Vec::new();
    if includes.is_empty() {
        serde_json::to_writer(&mut out, v).ok()?;
        return Some(out);
    }
    let refs: Vec<&[&str]> = includes.iter().map(Vec::as_slice).collect();
    if !write_filtered(v, &refs, &mut out) {
        out.clear();
        out.extend_from_slice(b"{}");
    }
    Some(out)
}

/// Writes what [`filter_value`] keeps of `v`; false (and nothing written) when it keeps nothing.
fn write_filtered(v: &Value, paths: &[&[&str]], out: &mut Vec<u8>) -> bool {
    if paths.iter().any(|p| p.is_empty()) {
        return serde_json::to_writer(&mut *out, v).is_ok();
    }
    let start = out.len();
    let mut wrote = false;
    match v {
        Value::Object(m) => {
            out.push(b'{');
            for (k, child) in m {
                if !paths
                    .iter()
                    .any(|p| p[0] == "**" || wildcard_match(p[0], k))
                {
                    continue;
                }
                let next = advance(paths, k);
                let before = out.len();
                if wrote {
                    out.push(b',');
                }
                if serde_json::to_writer(&mut *out, k).is_err() {
                    out.truncate(before);
                    continue;
                }
                out.push(b':');
                if write_filtered(child, &next, out) {
                    wrote = true;
                } else {
                    out.truncate(before);
                }
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for item in items {
                let before = out.len();
                if wrote {
                    out.push(b',');
                }
                if write_filtered(item, paths, out) {
                    wrote = true;
                } else {
                    out.truncate(before);
                }
            }
            out.push(b']');
        }
        _ => {}
    }
    if !wrote {
        out.truncate(start);
    }
    wrote
}

/// The paths that continue below key `k` (`**` matches any depth, itself included).
fn advance<'a>(paths: &[&'a [&'a str]], k: &str) -> Vec<&'a [&'a str]> {
    let mut next = Vec::new();
    for p in paths {
        if p[0] == "**" {
            next.push(*p);
            if p.len() > 1 && wildcard_match(p[1], k) {
                next.push(&p[2..]);
            }
        } else if wildcard_match(p[0], k) {
            next.push(&p[1..]);
        }
    }
    next
}

fn filter_value(v: &Value, paths: &[&[&str]]) -> Option<Value> {
    if paths.iter().any(|p| p.is_empty()) {
        return Some(v.clone());
    }
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, child) in m {
                let next = advance(paths, k);
                if next.is_empty() {
                    continue;
                }
                if let Some(f) = filter_value(child, &next) {
                    out.insert(k.clone(), f);
                }
            }
            if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            }
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .iter()
                .filter_map(|i| filter_value(i, paths))
                .collect();
            if kept.is_empty() {
                None
            } else {
                Some(Value::Array(kept))
            }
        }
        _ => None,
    }
}

/// The exclusion side (`FilterPathBasedFilter` with `inclusive == false`): a matched subtree
/// is dropped, and so is an object or array that only filtering emptied (`includeEmptyObject`
/// and `includeEmptyArray` keep the ones that were empty to begin with). `None` = dropped.
fn exclude_value(v: &Value, paths: &[&[&str]]) -> Option<Value> {
    if paths.iter().any(|p| p.is_empty()) {
        return None;
    }
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            let mut filtered = false;
            for (k, child) in m {
                let next = advance(paths, k);
                if next.is_empty() {
                    out.insert(k.clone(), child.clone());
                    continue;
                }
                match exclude_value(child, &next) {
                    Some(c) => {
                        out.insert(k.clone(), c);
                    }
                    None => filtered = true,
                }
            }
            if out.is_empty() && filtered {
                None
            } else {
                Some(Value::Object(out))
            }
        }
        Value::Array(items) => {
            let before = items.len();
            let kept: Vec<Value> = items
                .iter()
                .filter_map(|i| exclude_value(i, paths))
                .collect();
            if kept.is_empty() && before > 0 {
                None
            } else {
                Some(Value::Array(kept))
            }
        }
        other => Some(other.clone()),
    }
}

/// Lucene's `LevenshteinDistance.getDistance`, a similarity in [0, 1]: one minus the edit
/// distance over the longer length (ES's "did you mean" keeps candidates above 0.5).
pub(crate) fn levenshtein_similarity(target: &str, other: &str) -> f32 {
    let a: Vec<char> = target.chars().collect();
    let b: Vec<char> = other.chars().collect();
    let (n, m) = (a.len(), b.len());
    if n == 0 || m == 0 {
        return if n == m { 1.0 } else { 0.0 };
    }
    let mut prev: Vec<usize> = (0..=n).collect();
    let mut cur = vec![0usize; n + 1];
    for j in 1..=m {
        cur[0] = j;
        for i in 1..=n {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[i] = (cur[i - 1] + 1).min(prev[i] + 1).min(prev[i - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    1.0 - prev[n] as f32 / n.max(m) as f32
}

/// ES's `BaseRestHandler.unrecognized`: `request [path] contains unrecognized parameter: [x]`
/// (plural for several, in sorted order), each with ` -> did you mean [y]?` (or `any of [..]`)
/// for the candidates more than half similar, most similar first, then by name.
pub(crate) fn unrecognized<'a>(
    path: &str,
    invalid: impl IntoIterator<Item = &'a str>,
    candidates: &[&str],
    detail: &str,
) -> String {
    let invalid: std::collections::BTreeSet<&str> = invalid.into_iter().collect();
    let plural = if invalid.len() > 1 { "s" } else { "" };
    let mut msg = format!("request [{path}] contains unrecognized {detail}{plural}: ");
    for (n, bad) in invalid.iter().enumerate() {
        let mut scored: Vec<(f32, &str)> = candidates
            .iter()
            .map(|c| (levenshtein_similarity(bad, c), *c))
            .filter(|(d, _)| *d > 0.5)
            .collect();
        scored.sort_by(|x, y| y.0.total_cmp(&x.0).then_with(|| x.1.cmp(y.1)));
        scored.dedup_by(|x, y| x.1 == y.1);
        if n > 0 {
            msg.push_str(", ");
        }
        msg.push_str(&format!("[{bad}]"));
        match scored.as_slice() {
            [] => {}
            [(_, one)] => msg.push_str(&format!(" -> did you mean [{one}]?")),
            many => {
                let names: Vec<&str> = many.iter().map(|(_, c)| *c).collect();
                msg.push_str(&format!(" -> did you mean any of [{}]?", names.join(", ")));
            }
        }
    }
    msg
}

/// ES's `RestRequest.paramAsBoolean`: absent is `default`, present and empty is true, and
/// otherwise only `true` and `false` (`Booleans.parseBoolean`).
pub(crate) fn param_as_boolean(raw: Option<&str>, default: bool) -> Result<bool, EsError> {
    match raw {
        None => Ok(default),
        Some("") => Ok(true),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) if v.trim().is_empty() => Ok(default),
        Some(v) => Err(EsError::illegal_argument(format!(
            "Failed to parse value [{v}] as only [true] or [false] are allowed."
        ))),
    }
}

/// FNV-1a, for routing document ids to shards deterministically.
pub(crate) fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Validates an index name with ES's rules and messages.
pub(crate) fn validate_index_name(name: &str, major: u32) -> Result<(), EsError> {
    let bad = |why: &str| {
        Err(EsError::new(
            400,
            "invalid_index_name_exception",
            format!("Invalid index name [{name}], {why}"),
        )
        .meta("index_uuid", "_na_")
        .meta("index", name))
    };
    if name.is_empty() {
        return bad("must not be empty");
    }
    if name != name.to_lowercase() {
        return bad("must be lowercase");
    }
    if name.chars().any(|c| " \"*\\<|,>/?".contains(c)) {
        return bad("must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]");
    }
    if name.contains('#') {
        return bad("must not contain '#'");
    }
    if major >= 7 && name.contains(':') {
        return bad("must not contain ':'");
    }
    if name.starts_with(['_', '-', '+']) {
        return bad("must not start with '_', '-', or '+'");
    }
    if name == "." || name == ".." {
        return bad("must not be '.' or '..'");
    }
    if name.len() > 255 {
        return bad(&format!("index name is too long, ({} > 255)", name.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn byte_sizes_and_times_render_like_es() {
        assert_eq!(ByteSize::parse("f", "1024k").unwrap().render(), "1024kb");
        assert_eq!(ByteSize::parse("f", "32mb").unwrap().bytes(), 32 << 20);
        assert_eq!(
            ByteSize::parse("f", "9223372036854775807b")
                .unwrap()
                .bytes(),
            i64::MAX
        );
        assert!(ByteSize::parse("f", "12").is_err());
        assert_eq!(TimeValue::parse("f", "500ms").unwrap().millis(), 500);
        assert_eq!(TimeValue::parse("f", "1m").unwrap().millis(), 60_000);
        assert_eq!(TimeValue::parse("f", "10s").unwrap().render(), "10s");
        assert!(TimeValue::parse("f", "ten").is_err());
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("leader*", "leader-1"));
        assert!(wildcard_match("*-1", "leader-1"));
        assert!(wildcard_match("l*d*1", "leader-1"));
        assert!(!wildcard_match("l*x", "leader-1"));
        assert!(wildcard_match("*", "a"));
        assert!(!wildcard_match("a", "ab"));
    }

    #[test]
    fn base64_round_trip() {
        let s = base64_encode(b"elastic:changeme");
        assert_eq!(base64_decode(&s).unwrap(), b"elastic:changeme");
        assert_eq!(base64_decode("YQ").unwrap(), b"a");
    }

    #[test]
    fn filter_path_keeps_matching_leaves() {
        let v = json!({"indices":[{"index":"a","shards":[{"shard_id":0,"x":1}]}],"other":2});
        assert_eq!(
            filter_path(&v, "indices.shards.shard_id"),
            json!({"indices":[{"shards":[{"shard_id":0}]}]})
        );
        assert_eq!(
            filter_path(&v, "**.x"),
            json!({"indices":[{"shards":[{"x":1}]}]})
        );
    }

    #[test]
    fn filter_path_json_writes_what_filter_path_keeps() {
        let v = json!({"indices":[{"index":"a","shards":[{"shard_id":0,"x":1},{"y":2}]},{"index":"b"}],
            "other":2,"empty":{},"list":[],"nested":{"a":{"b":[1,{"c":"\"q\""}]}}});
        for f in [
            "indices.shards.shard_id",
            "**.x",
            "indices.index,other",
            "nothing",
            "empty,list",
            "nested.*.b",
            "nested.**",
            "**.c,indices.*",
            "",
            "*",
        ] {
            let want = serde_json::to_vec(&filter_path(&v, f)).unwrap();
            assert_eq!(
                String::from_utf8(filter_path_json(&v, f).unwrap()).unwrap(),
                String::from_utf8(want).unwrap(),
                "filter_path={f}"
            );
        }
        assert_eq!(filter_path_json(&v, "indices,-other"), None);
    }

    #[test]
    fn filter_path_exclusions_and_mixes() {
        let v = json!({"a":{"b":1,"c":2},"d":[{"e":1,"f":2}],"g":{},"h":{"i":1}});
        assert_eq!(
            filter_path(&v, "-a.b,-h.i"),
            json!({"a":{"c":2},"d":[{"e":1,"f":2}],"g":{}})
        );
        assert_eq!(
            filter_path(&v, "-d.e"),
            json!({"a":{"b":1,"c":2},"d":[{"f":2}],"g":{},"h":{"i":1}})
        );
        assert_eq!(filter_path(&v, "a,-a.b"), json!({"a":{"c":2}}));
        assert_eq!(filter_path(&v, "-**.b,d"), json!({"d":[{"e":1,"f":2}]}));
        assert_eq!(filter_path(&v, "-*"), json!({}));
    }

    #[test]
    fn did_you_mean_like_es() {
        assert!((levenshtein_similarity("kitten", "sitting") - (1.0 - 3.0 / 7.0)).abs() < 1e-6);
        assert_eq!(
            unrecognized("/_ccr/stats", ["foo"], &["pretty", "human"], "parameter"),
            "request [/_ccr/stats] contains unrecognized parameter: [foo]"
        );
        assert_eq!(
            unrecognized("/x", ["prety", "zzz"], &["pretty", "human"], "parameter"),
            "request [/x] contains unrecognized parameters: [prety] -> did you mean [pretty]?, [zzz]"
        );
        assert_eq!(
            unrecognized("/x", ["timeou"], &["timeout", "master_timeout", "timeouts"], "parameter"),
            "request [/x] contains unrecognized parameter: [timeou] -> did you mean any of [timeout, timeouts]?"
        );
        assert!(param_as_boolean(Some("1"), false).is_err());
        assert!(param_as_boolean(Some(""), false).unwrap());
    }

    #[test]
    fn settings_nesting() {
        let mut flat = Vec::new();
        flatten_settings(
            "",
            &json!({"cluster":{"remote":{"a":{"seeds":["x"]}}}}),
            &mut flat,
        );
        assert_eq!(flat[0].0, "cluster.remote.a.seeds");
        let m: Vec<(String, Value)> = vec![("a.b".into(), json!("1")), ("a.c".into(), json!("2"))];
        assert_eq!(
            nest_settings(m.iter().map(|(k, v)| (k, v))),
            json!({"a":{"b":"1","c":"2"}})
        );
    }

    #[test]
    fn index_names() {
        assert!(validate_index_name("myindex", 8).is_ok());
        assert_eq!(
            validate_index_name("My", 8).unwrap_err().reason,
            "Invalid index name [My], must be lowercase"
        );
        assert!(validate_index_name("_x", 8).is_err());
        assert!(validate_index_name("a b", 8).is_err());
    }
}
