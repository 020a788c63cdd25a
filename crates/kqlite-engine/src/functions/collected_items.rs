//! The items a `make_set`, `make_list`, `make_bag`, `dcount` or `hll`
//! accumulator holds, stored flat: their encodings end to end in one
//! buffer, with the end of each, which is how the `dynamic` array and object
//! encodings lay out their elements. A summarize over many groups holds a
//! few items per group in two allocations, instead of one per item, and
//! evaluates to its array or object by copying them once.

use crate::dynamic::{ARRAY_TAG, OBJECT_TAG};
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Sets up to this size are searched item by item: most sets are small (a
/// few hosts per account), and a hash table per group of a summarize over
/// many groups costs more than the search.
const SMALL: usize = 16;

/// Encoded items in insertion order. An item is a `dynamic` value, or for
/// bags an object entry (`keylen:u32 key value`); its identity, what makes
/// it distinct in a set, is the value's bytes, or the entry's key.
#[derive(Debug, Default)]
pub(crate) struct CollectedItems {
    data: Vec<u8>,
    /// Where each item ends in `data`.
    ends: Vec<u32>,
    /// Items by the hash of their identity, built once a set passes
    /// [`SMALL`] items.
    index: Option<Box<HashTable<u32>>>,
}

/// The identity of `item`: a bag entry's key, another item's whole bytes.
fn identity(entries: bool, item: &[u8]) -> &[u8] {
    if !entries {
        return item;
    }
    let len = item.get(..4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    item.get(4..4 + len).unwrap_or_default()
}

fn item_of<'a>(data: &'a [u8], ends: &[u32], i: usize) -> &'a [u8] {
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &data[start..ends[i] as usize]
}

fn hash(bytes: &[u8]) -> u64 {
    foldhash::fast::FixedState::default().hash_one(bytes)
}

impl CollectedItems {
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
        self.index = None;
    }

    /// Heap bytes held, for the memory pool's accounting.
    pub(crate) fn heap_size(&self) -> usize {
        self.data.capacity() + self.ends.capacity() * 4 + self.index.as_ref().map_or(0, |t| t.capacity() * 12)
    }

    /// Appends an item made of `parts`, without looking for an equal one.
    pub(crate) fn push(&mut self, parts: &[&[u8]]) {
        for part in parts {
            self.data.extend_from_slice(part);
        }
        self.ends.push(self.data.len() as u32);
    }

    /// Appends the item made of `parts` unless one with the same identity
    /// (`identity`, the value's bytes or a bag entry's key) is held;
    /// whether it was added. `entries` says the items are bag entries.
    pub(crate) fn insert_distinct(&mut self, entries: bool, key: &[u8], parts: &[&[u8]]) -> bool {
        let CollectedItems { data, ends, index } = self;
        if ends.len() < SMALL {
            if (0..ends.len()).any(|i| identity(entries, item_of(data, ends, i)) == key) {
                return false;
            }
            for part in parts {
                data.extend_from_slice(part);
            }
            ends.push(data.len() as u32);
            return true;
        }
        let table = index.get_or_insert_with(|| {
            let mut table = HashTable::with_capacity(ends.len() * 2);
            for i in 0..ends.len() {
                let hash_of = |&j: &u32| hash(identity(entries, item_of(data, ends, j as usize)));
                table.insert_unique(hash(identity(entries, item_of(data, ends, i))), i as u32, hash_of);
            }
            Box::new(table)
        });
        let key_hash = hash(key);
        if table.find(key_hash, |&j| identity(entries, item_of(data, ends, j as usize)) == key).is_some() {
            return false;
        }
        for part in parts {
            data.extend_from_slice(part);
        }
        ends.push(data.len() as u32);
        let (data, ends) = (&*data, &*ends);
        table.insert_unique(key_hash, (ends.len() - 1) as u32, |&j| {
            hash(identity(entries, item_of(data, ends, j as usize)))
        });
        true
    }

    /// Appends the items as the elements of an encoded array (`entries`
    /// false) or object (true).
    pub(crate) fn encode_into(&self, entries: bool, out: &mut Vec<u8>) {
        out.reserve(5 + 4 * self.ends.len() + self.data.len());
        out.push(if entries { OBJECT_TAG } else { ARRAY_TAG });
        out.extend_from_slice(&(self.ends.len() as u32).to_le_bytes());
        for end in &self.ends {
            out.extend_from_slice(&end.to_le_bytes());
        }
        out.extend_from_slice(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamic::{DynRef, DynValue, ObjectEncoder};

    fn long(v: i64) -> Vec<u8> {
        DynValue::Long(v).encode()
    }

    #[test]
    fn a_set_past_the_linear_search_still_keeps_one_of_each_in_first_seen_order() {
        let mut items = CollectedItems::default();
        for round in 0..3 {
            for v in (0..40).rev() {
                let bytes = long(v);
                assert_eq!(items.insert_distinct(false, &bytes, &[&bytes]), round == 0, "{v} in round {round}");
            }
        }
        let mut out = Vec::new();
        items.encode_into(false, &mut out);
        let expected = DynValue::Array((0..40).rev().map(DynValue::Long).collect()).encode();
        assert_eq!(out, expected);
    }

    #[test]
    fn bag_entries_are_distinct_by_key_and_encode_as_the_object_encoder_does() {
        let mut items = CollectedItems::default();
        for (k, v) in [("a", 1), ("b", 2), ("a", 3)].into_iter().chain((0..30).map(|i| ("k", i))) {
            let key = format!("{k}{}", if k == "k" { v.to_string() } else { String::new() });
            let value = long(v);
            let len = (key.len() as u32).to_le_bytes();
            items.insert_distinct(true, key.as_bytes(), &[&len, key.as_bytes(), &value]);
        }
        assert!(!items.insert_distinct(true, b"k7", &[&2u32.to_le_bytes(), b"k7", &long(99)]));
        let mut out = Vec::new();
        items.encode_into(true, &mut out);
        let mut expected = Vec::new();
        let mut encoder = ObjectEncoder::new(&mut expected);
        encoder.push_encoded("a", &long(1));
        encoder.push_encoded("b", &long(2));
        for i in 0..30 {
            encoder.push_encoded(&format!("k{i}"), &long(i));
        }
        encoder.finish();
        assert_eq!(out, expected);
        assert_eq!(DynRef::new(&out).entries().count(), 32);
    }
}
