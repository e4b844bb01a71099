//! The key of one named thing on one cluster: a follower index, a remote alias or an auto-follow pattern.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `(cluster, name)`: a follower index (or remote alias, or auto-follow pattern) on a configured cluster.
///
/// Written (`Display`, serde) as `cluster/name`, the form `history.json` uses for its map keys, and ordered as
/// that text, so maps keyed by it keep the order those files have; read back by splitting at the first `/`
/// (index, alias and pattern names hold no `/`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ClusterKey {
    /// The configuration name of the cluster.
    pub cluster: String,
    /// The follower index, remote alias or pattern name.
    pub name: String,
}

impl ClusterKey {
    /// The key of `name` on `cluster`.
    pub fn new(cluster: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            cluster: cluster.into(),
            name: name.into(),
        }
    }

    /// Reads `cluster/name`; `None` without a `/`.
    pub fn parse(s: &str) -> Option<Self> {
        let (cluster, name) = s.split_once('/')?;
        Some(Self::new(cluster, name))
    }
}

/// The parts of a key, owned or borrowed: what maps keyed by [`ClusterKey`] are looked up with, so a lookup by
/// `(&str, &str)` builds no key (`map.get(ClusterKey::parts_of(&(cluster, name)))`).
pub trait KeyParts {
    /// `(cluster, name)`.
    fn parts(&self) -> (&str, &str);
}

impl KeyParts for ClusterKey {
    fn parts(&self) -> (&str, &str) {
        (&self.cluster, &self.name)
    }
}

impl KeyParts for (&str, &str) {
    fn parts(&self) -> (&str, &str) {
        *self
    }
}

impl ClusterKey {
    /// `parts` as the borrowed form of a key, for `get`, `get_mut`, `contains_key` and `remove` on maps and sets
    /// keyed by [`ClusterKey`].
    pub fn parts_of<'a>(parts: &'a (&'a str, &'a str)) -> &'a (dyn KeyParts + 'a) {
        parts
    }
}

/// Compares two keys as their `cluster/name` texts.
fn text_cmp<'a>((c1, n1): (&'a str, &'a str), (c2, n2): (&'a str, &'a str)) -> std::cmp::Ordering {
    // Almost every comparison in a map is between keys of one cluster: their texts compare as their names.
    if c1 == c2 {
        return n1.cmp(n2);
    }
    let text = |c: &'a str, n: &'a str| c.bytes().chain(std::iter::once(b'/')).chain(n.bytes());
    let (a, b) = (c1.as_bytes(), c2.as_bytes());
    let common = a.len().min(b.len());
    match a[..common].cmp(&b[..common]) {
        // One cluster name is a prefix of the other: the `/` after it decides, byte by byte.
        std::cmp::Ordering::Equal => text(c1, n1).cmp(text(c2, n2)),
        unequal => unequal,
    }
}

impl Ord for ClusterKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        text_cmp(self.parts(), other.parts())
    }
}

impl PartialOrd for ClusterKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<'a> std::borrow::Borrow<dyn KeyParts + 'a> for ClusterKey {
    fn borrow(&self) -> &(dyn KeyParts + 'a) {
        self
    }
}

impl PartialEq for dyn KeyParts + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn KeyParts + '_ {}

impl Ord for dyn KeyParts + '_ {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        text_cmp(self.parts(), other.parts())
    }
}

impl PartialOrd for dyn KeyParts + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ClusterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.cluster, self.name)
    }
}

impl Serialize for ClusterKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClusterKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not a `cluster/name` key")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_written_and_read_as_cluster_slash_name() {
        let k = ClusterKey::new("follower", "logs-copy");
        assert_eq!(k.to_string(), "follower/logs-copy");
        assert_eq!(serde_json::to_string(&k).unwrap(), "\"follower/logs-copy\"");
        let back: ClusterKey = serde_json::from_str("\"follower/logs-copy\"").unwrap();
        assert_eq!(back, k);
        assert!(serde_json::from_str::<ClusterKey>("\"no-slash\"").is_err());
    }

    #[test]
    fn is_a_json_map_key() {
        let m = std::collections::BTreeMap::from([(ClusterKey::new("a", "x"), 1)]);
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(s, r#"{"a/x":1}"#);
        let back: std::collections::BTreeMap<ClusterKey, i32> = serde_json::from_str(&s).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn orders_as_its_text() {
        let mut v = [
            ClusterKey::new("b", "a"),
            ClusterKey::new("a", "z"),
            ClusterKey::new("a-b", "x"),
            ClusterKey::new("a", "b"),
        ];
        v.sort();
        let s: Vec<String> = v.iter().map(|k| k.to_string()).collect();
        let mut text = s.clone();
        text.sort();
        assert_eq!(s, text);
        assert_eq!(s, ["a-b/x", "a/b", "a/z", "b/a"]);
    }

    #[test]
    fn is_looked_up_by_its_parts_in_text_order() {
        let keys = [
            ("a", "z"),
            ("a-b", "x"),
            ("a", "b"),
            ("b", "a"),
            ("ab", ""),
            ("a", "b/c"),
        ];
        let m: std::collections::BTreeMap<ClusterKey, usize> = keys
            .iter()
            .enumerate()
            .map(|(i, (c, n))| (ClusterKey::new(*c, *n), i))
            .collect();
        for (i, parts) in keys.iter().enumerate() {
            assert_eq!(m.get(ClusterKey::parts_of(parts)), Some(&i), "{parts:?}");
        }
        assert_eq!(m.get(ClusterKey::parts_of(&("a", "y"))), None);
        let order: Vec<String> = m.keys().map(|k| k.to_string()).collect();
        let mut text = order.clone();
        text.sort();
        assert_eq!(order, text);
    }
}
