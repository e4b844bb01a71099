//! One cursor for looking names up in a collection sorted by name when the names are asked mostly in ascending
//! order (the followers of a report, walked by cluster and index): an answer moves the cursor forward instead of
//! searching the collection, and a name at or below one the cursor already passed is searched for, so every
//! answer is the collection's own.

use std::collections::{btree_map, btree_set, BTreeMap, BTreeSet};
use std::iter::Peekable;

use crate::es::SharedName;

/// A collection sorted by name that a [`Seek`] walks: its items in name order, and a search for one name.
pub(crate) trait ByName<'a>: Copy {
    type Item: Copy;
    type Walk: Iterator<Item = Self::Item>;
    /// The items in ascending name order.
    fn walk(self) -> Self::Walk;
    fn name(item: &Self::Item) -> &'a str;
    fn search(self, name: &str) -> Option<Self::Item>;
}

impl<'a, V> ByName<'a> for &'a BTreeMap<String, V> {
    type Item = (&'a String, &'a V);
    type Walk = btree_map::Iter<'a, String, V>;

    fn walk(self) -> Self::Walk {
        self.iter()
    }

    fn name(item: &Self::Item) -> &'a str {
        item.0
    }

    fn search(self, name: &str) -> Option<Self::Item> {
        self.get_key_value(name)
    }
}

impl<'a> ByName<'a> for &'a BTreeSet<String> {
    type Item = &'a String;
    type Walk = btree_set::Iter<'a, String>;

    fn walk(self) -> Self::Walk {
        self.iter()
    }

    fn name(item: &Self::Item) -> &'a str {
        item
    }

    fn search(self, name: &str) -> Option<Self::Item> {
        self.get(name)
    }
}

/// An entry of a list sorted by its name (the list holds each name once).
pub(crate) trait Named {
    fn name(&self) -> &str;
}

impl<X> Named for (&str, X) {
    fn name(&self) -> &str {
        self.0
    }
}

impl<X> Named for (SharedName, X) {
    fn name(&self) -> &str {
        self.0.as_str()
    }
}

impl<'a, T: Named> ByName<'a> for &'a [T] {
    type Item = &'a T;
    type Walk = std::slice::Iter<'a, T>;

    fn walk(self) -> Self::Walk {
        self.iter()
    }

    fn name(item: &Self::Item) -> &'a str {
        T::name(item)
    }

    fn search(self, name: &str) -> Option<Self::Item> {
        let at = self.binary_search_by(|t| t.name().cmp(name)).ok()?;
        self.get(at)
    }
}

/// The cursor through one collection.
pub(crate) struct Seek<'a, C: ByName<'a>> {
    all: C,
    rest: Peekable<C::Walk>,
    /// The greatest name the cursor went past.
    passed: Option<&'a str>,
}

impl<'a, C: ByName<'a>> Seek<'a, C> {
    pub(crate) fn new(all: C) -> Self {
        Self {
            all,
            rest: all.walk().peekable(),
            passed: None,
        }
    }

    /// The item named `name`, as the collection's own search finds it.
    pub(crate) fn find(&mut self, name: &str) -> Option<C::Item> {
        if self.passed.is_some_and(|p| name <= p) {
            return self.all.search(name);
        }
        while let Some(item) = self.rest.peek() {
            let at = C::name(item);
            match at.cmp(name) {
                std::cmp::Ordering::Less => {
                    self.passed = Some(at);
                    self.rest.next();
                }
                std::cmp::Ordering::Equal => return Some(*item),
                std::cmp::Ordering::Greater => return None,
            }
        }
        None
    }
}

/// The cursor through a map by name.
pub(crate) type MapSeek<'a, V> = Seek<'a, &'a BTreeMap<String, V>>;

/// The cursor through a set of names.
pub(crate) type SetSeek<'a> = Seek<'a, &'a BTreeSet<String>>;

impl<'a, V> MapSeek<'a, V> {
    /// The map's `get`.
    pub(crate) fn get(&mut self, name: &str) -> Option<&'a V> {
        self.find(name).map(|(_, v)| v)
    }
}

impl SetSeek<'_> {
    /// The set's `contains`.
    pub(crate) fn contains(&mut self, name: &str) -> bool {
        self.find(name).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ascending, repeated, backwards, past the end and back.
    const ASKED: [&str; 16] = [
        "a", "b", "b", "c", "d", "b", "a", "e", "f", "d", "h", "i", "b", "h", "z", "a",
    ];

    #[test]
    fn a_cursor_answers_as_the_map_whatever_the_order_of_the_names() {
        let map: BTreeMap<String, usize> = ["b", "d", "f", "h"]
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), i))
            .collect();
        let set: BTreeSet<String> = map.keys().cloned().collect();
        let (mut seek, mut seek_set) = (Seek::new(&map), Seek::new(&set));
        for name in ASKED {
            assert_eq!(seek.get(name), map.get(name), "{name}");
            assert_eq!(seek_set.contains(name), set.contains(name), "{name}");
        }
    }

    #[test]
    fn a_sorted_cursor_answers_as_a_search_whatever_the_order_of_the_names() {
        let items = [("b", 0), ("d", 1), ("f", 2), ("h", 3)];
        let mut seek = Seek::new(&items[..]);
        for name in ASKED {
            let searched = items
                .binary_search_by(|(n, _)| n.cmp(&name))
                .ok()
                .map(|i| &items[i]);
            assert_eq!(seek.find(name), searched, "{name}");
        }
    }
}
