//! The state of `make_set`, `make_list`, `make_bag`, `dcount` and `hll`:
//! encoded items stored flat, their bytes end to end in one buffer, as the
//! `dynamic` array and object encodings lay out their elements, so that a
//! collection evaluates to its array or object by copying them once.
//!
//! [`CollectedItems`] holds one collection (DataFusion's per-group
//! `Accumulator`, and one row's state). [`GroupedItems`] holds every group
//! of a summarize in one buffer, a list of items per group: a summarize by
//! account and source over logons has nearly a group per row, and a
//! structure per group, allocated and grown on its own, cost more than the
//! rest of the query (profiled on the T1021 rule: 400,000 groups).
//!
//! What each kind keeps ([`add_value`], [`merge_partial`]): lists every
//! value (`make_list_with_nulls` nulls too), sets one of each distinct
//! value (`make_set` of an array unions its elements), bags one entry per
//! key (first seen wins), each up to its size limit.

use crate::dynamic::{DynKind, DynRef, ARRAY_TAG, ENCODED_NULL, OBJECT_TAG};
use datafusion::common::{DataFusionError, Result};
use hashbrown::HashTable;
use std::collections::HashMap;
use std::hash::BuildHasher;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Collect {
    Set,
    List,
    ListWithNulls,
    Bag,
    /// `hll`: a set whose values are kept whole (arrays are not unioned).
    Hll,
    /// `dcount`: the size of such a set. Exact, and with a groups
    /// accumulator: DataFusion's own distinct count falls back to a slow
    /// per-group path when other aggregates sit beside it.
    Distinct,
}

impl Collect {
    /// Whether the items are bag entries (`keylen:u32 key value`), distinct
    /// by key, rather than values, distinct by their bytes.
    pub(crate) fn entries(self) -> bool {
        self == Collect::Bag
    }
}

/// Collections up to this size are searched item by item for an equal
/// one: most are small (a few hosts per account), and a hash table each
/// costs more than the search.
const SMALL: usize = 16;

/// What a collection's items are added to: one collection, or one group
/// of [`GroupedItems`].
pub(crate) trait Items {
    fn len(&self) -> usize;
    /// Appends an item made of `parts`, without looking for an equal one.
    fn push(&mut self, parts: &[&[u8]]) -> Result<()>;
    /// Appends the item made of `parts` unless one with the same identity
    /// (`key`: the value's bytes, or a bag entry's key) is held.
    fn insert_distinct(&mut self, entries: bool, key: &[u8], parts: &[&[u8]]) -> Result<()>;
}

fn full(items: &impl Items, limit: Option<usize>) -> bool {
    limit.is_some_and(|l| items.len() >= l)
}

fn add_set_item(items: &mut impl Items, limit: Option<usize>, item: DynRef<'_>) -> Result<()> {
    if item.is_null() || full(items, limit) {
        return Ok(());
    }
    let bytes = item.bytes();
    items.insert_distinct(false, bytes, &[bytes])
}

fn add_entry(items: &mut impl Items, key: &str, value: DynRef<'_>) -> Result<()> {
    let len = (key.len() as u32).to_le_bytes();
    items.insert_distinct(true, key.as_bytes(), &[&len, key.as_bytes(), value.bytes()])
}

/// Adds one input value (`None`: a null row).
pub(crate) fn add_value(
    kind: Collect,
    items: &mut impl Items,
    limit: Option<usize>,
    value: Option<DynRef<'_>>,
) -> Result<()> {
    let value = match value {
        Some(value) => value,
        None if kind == Collect::ListWithNulls => DynRef::new(ENCODED_NULL),
        None => return Ok(()),
    };
    match kind {
        Collect::List | Collect::ListWithNulls => {
            if (!value.is_null() || kind == Collect::ListWithNulls) && !full(items, limit) {
                items.push(&[value.bytes()])?;
            }
        }
        Collect::Hll | Collect::Distinct => add_set_item(items, limit, value)?,
        Collect::Set if value.kind() == DynKind::Array => {
            for item in value.array_items() {
                add_set_item(items, limit, item)?;
            }
        }
        Collect::Set => add_set_item(items, limit, value)?,
        Collect::Bag => {
            for (key, v) in value.entries() {
                if full(items, limit) {
                    break;
                }
                add_entry(items, key, v)?;
            }
        }
    }
    Ok(())
}

/// Folds in a partial state's collection (an encoded array, or object for
/// bags).
pub(crate) fn merge_partial(
    kind: Collect,
    items: &mut impl Items,
    limit: Option<usize>,
    partial: DynRef<'_>,
) -> Result<()> {
    match kind {
        Collect::Bag => add_value(kind, items, limit, Some(partial))?,
        Collect::Set | Collect::Hll | Collect::Distinct => {
            for item in partial.array_items() {
                add_set_item(items, limit, item)?;
            }
        }
        Collect::List | Collect::ListWithNulls => {
            for item in partial.array_items() {
                if !full(items, limit) {
                    items.push(&[item.bytes()])?;
                }
            }
        }
    }
    Ok(())
}

/// The identity of `item`: a bag entry's key, another item's whole bytes.
fn identity(entries: bool, item: &[u8]) -> &[u8] {
    if !entries {
        return item;
    }
    let len = item.get(..4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    item.get(4..4 + len).unwrap_or_default()
}

fn hash(bytes: &[u8]) -> u64 {
    foldhash::fast::FixedState::default().hash_one(bytes)
}

/// The header of an encoded array (`entries` false) or object of `count`
/// items whose lengths are `lens`.
fn write_header(out: &mut Vec<u8>, entries: bool, count: usize, lens: impl Iterator<Item = usize>) {
    out.push(if entries { OBJECT_TAG } else { ARRAY_TAG });
    out.extend_from_slice(&(count as u32).to_le_bytes());
    let mut end = 0u32;
    for len in lens {
        end += len as u32;
        out.extend_from_slice(&end.to_le_bytes());
    }
}

/// One collection's items in insertion order.
#[derive(Debug, Default)]
pub(crate) struct CollectedItems {
    data: Vec<u8>,
    /// Where each item ends in `data`.
    ends: Vec<u32>,
    /// Items by the hash of their identity, once past [`SMALL`] items.
    index: Option<HashTable<u32>>,
}

fn item_of<'a>(data: &'a [u8], ends: &[u32], i: usize) -> &'a [u8] {
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &data[start..ends[i] as usize]
}

/// Appends an item made of `parts` to a collection's `data` and `ends`.
fn push_item(data: &mut Vec<u8>, ends: &mut Vec<u32>, parts: &[&[u8]]) -> Result<()> {
    for part in parts {
        data.extend_from_slice(part);
    }
    ends.push(u32::try_from(data.len()).map_err(|_| too_large())?);
    Ok(())
}

impl CollectedItems {
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

    /// Appends the collection's encoding, an array or (`entries`) an object.
    pub(crate) fn encode_into(&self, entries: bool, out: &mut Vec<u8>) {
        out.reserve(5 + 4 * self.ends.len() + self.data.len());
        write_header(
            out,
            entries,
            self.ends.len(),
            (0..self.ends.len()).map(|i| item_of(&self.data, &self.ends, i).len()),
        );
        out.extend_from_slice(&self.data);
    }
}

impl Items for CollectedItems {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn push(&mut self, parts: &[&[u8]]) -> Result<()> {
        push_item(&mut self.data, &mut self.ends, parts)
    }

    fn insert_distinct(&mut self, entries: bool, key: &[u8], parts: &[&[u8]]) -> Result<()> {
        let CollectedItems { data, ends, index } = self;
        let held = |j: &u32| identity(entries, item_of(data, ends, *j as usize)) == key;
        if ends.len() < SMALL {
            if (0..ends.len() as u32).any(|j| held(&j)) {
                return Ok(());
            }
            return self.push(parts);
        }
        let table = index.get_or_insert_with(|| {
            let mut table = HashTable::with_capacity(ends.len() * 2);
            for i in 0..ends.len() as u32 {
                let rehash = |j: &u32| hash(identity(entries, item_of(data, ends, *j as usize)));
                table.insert_unique(rehash(&i), i, rehash);
            }
            table
        });
        let key_hash = hash(key);
        if table.find(key_hash, held).is_some() {
            return Ok(());
        }
        let slot = ends.len() as u32;
        push_item(data, ends, parts)?;
        let (data, ends) = (&*data, &*ends);
        table.insert_unique(key_hash, slot, |j| hash(identity(entries, item_of(data, ends, *j as usize))));
        Ok(())
    }
}

/// A collection past what the `dynamic` encoding's 32-bit offsets hold.
fn too_large() -> DataFusionError {
    DataFusionError::ResourcesExhausted(
        "make_set/make_list/make_bag: a collection of more than 4 GiB, the most a dynamic value holds".to_string(),
    )
}

/// No item: the end of a group's list.
const NONE: u32 = u32::MAX;

/// One item of [`GroupedItems`]: its bytes in the buffer and the next item
/// of its group.
#[derive(Clone, Copy, Debug)]
struct Node {
    start: usize,
    len: u32,
    next: u32,
}

/// The bytes of item `node`, or (`entries`) its identity.
fn node_item<'a>(data: &'a [u8], nodes: &[Node], node: u32, entries: bool) -> &'a [u8] {
    let Node { start, len, .. } = nodes[node as usize];
    identity(entries, &data[start..start + len as usize])
}

/// One group's list of items and its size limit (as the states carry it).
#[derive(Clone, Copy, Debug)]
struct GroupList {
    first: u32,
    last: u32,
    len: u32,
    limit: Option<usize>,
}

const EMPTY_GROUP: GroupList = GroupList { first: NONE, last: NONE, len: 0, limit: None };

/// Every group's collection: items end to end in one buffer, each group a
/// linked list of them.
#[derive(Debug, Default)]
pub(crate) struct GroupedItems {
    data: Vec<u8>,
    nodes: Vec<Node>,
    groups: Vec<GroupList>,
    /// The groups past [`SMALL`] items: their items by the hash of their
    /// identity.
    indexes: HashMap<usize, HashTable<u32>>,
}

impl GroupedItems {
    pub(crate) fn num_groups(&self) -> usize {
        self.groups.len()
    }

    /// Makes room for groups up to `total` (DataFusion's group indices).
    pub(crate) fn grow(&mut self, total: usize) {
        if self.groups.len() < total {
            self.groups.resize(total, EMPTY_GROUP);
        }
    }

    pub(crate) fn limit(&self, group: usize) -> Option<usize> {
        self.groups[group].limit
    }

    /// Sets a group's limit unless it has one.
    pub(crate) fn set_limit_once(&mut self, group: usize, limit: Option<usize>) {
        let list = &mut self.groups[group];
        if list.limit.is_none() {
            list.limit = limit;
        }
    }

    pub(crate) fn len(&self, group: usize) -> usize {
        self.groups[group].len as usize
    }

    /// The items of a group in insertion order.
    fn items(&self, group: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let mut next = self.groups[group].first;
        std::iter::from_fn(move || {
            if next == NONE {
                return None;
            }
            let item = node_item(&self.data, &self.nodes, next, false);
            next = self.nodes[next as usize].next;
            Some(item)
        })
    }

    /// Appends a group's encoding, an array or (`entries`) an object.
    pub(crate) fn encode_into(&self, group: usize, entries: bool, out: &mut Vec<u8>) {
        write_header(out, entries, self.len(group), self.items(group).map(<[u8]>::len));
        for item in self.items(group) {
            out.extend_from_slice(item);
        }
    }

    /// Heap bytes held, for the memory pool's accounting.
    pub(crate) fn heap_size(&self) -> usize {
        self.data.capacity()
            + self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.groups.capacity() * std::mem::size_of::<GroupList>()
            + self.indexes.values().map(|t| t.capacity() * 12 + 64).sum::<usize>()
    }

    /// Keeps the groups from `n` on, as groups `0..`, and drops the others
    /// (DataFusion emits the first `n` groups). Their items are copied into
    /// fresh buffers.
    pub(crate) fn drop_first(&mut self, n: usize) {
        let mut kept = GroupedItems::default();
        kept.groups.reserve(self.groups.len().saturating_sub(n));
        for group in n..self.groups.len() {
            kept.groups.push(GroupList { limit: self.groups[group].limit, ..EMPTY_GROUP });
            let at = kept.groups.len() - 1;
            for item in self.items(group) {
                // Only an item count past u32 fails, and these fit already.
                let _ = kept.view(at).push(&[item]);
            }
        }
        *self = kept;
    }

    /// Drops every group.
    pub(crate) fn clear(&mut self) {
        *self = GroupedItems::default();
    }

    /// One group, to add items to.
    pub(crate) fn view(&mut self, group: usize) -> GroupView<'_> {
        GroupView { all: self, group }
    }
}

/// One group of [`GroupedItems`].
pub(crate) struct GroupView<'a> {
    all: &'a mut GroupedItems,
    group: usize,
}

impl Items for GroupView<'_> {
    fn len(&self) -> usize {
        self.all.groups[self.group].len as usize
    }

    fn push(&mut self, parts: &[&[u8]]) -> Result<()> {
        let all = &mut *self.all;
        let start = all.data.len();
        for part in parts {
            all.data.extend_from_slice(part);
        }
        let len = u32::try_from(all.data.len() - start).map_err(|_| too_large())?;
        let node = u32::try_from(all.nodes.len()).ok().filter(|&n| n != NONE).ok_or_else(|| {
            DataFusionError::ResourcesExhausted(
                "make_set/make_list/make_bag: more than 4,294,967,294 items in one summarize".to_string(),
            )
        })?;
        all.nodes.push(Node { start, len, next: NONE });
        let list = &mut all.groups[self.group];
        match list.last {
            NONE => list.first = node,
            last => all.nodes[last as usize].next = node,
        }
        list.last = node;
        list.len += 1;
        Ok(())
    }

    fn insert_distinct(&mut self, entries: bool, key: &[u8], parts: &[&[u8]]) -> Result<()> {
        let group = self.group;
        if self.len() < SMALL {
            if self.all.items(group).any(|item| identity(entries, item) == key) {
                return Ok(());
            }
            return self.push(parts);
        }
        let GroupedItems { data, nodes, indexes, groups } = &mut *self.all;
        let item = |j: u32| node_item(data, nodes, j, entries);
        let table = indexes.entry(group).or_insert_with(|| {
            let mut table = HashTable::with_capacity(SMALL * 2);
            let mut next = groups[group].first;
            while next != NONE {
                table.insert_unique(hash(item(next)), next, |&j| hash(item(j)));
                next = nodes[next as usize].next;
            }
            table
        });
        let key_hash = hash(key);
        if table.find(key_hash, |&j| item(j) == key).is_some() {
            return Ok(());
        }
        self.push(parts)?;
        let GroupedItems { data, nodes, indexes, .. } = &mut *self.all;
        let node = (nodes.len() - 1) as u32;
        let table = indexes.get_mut(&group).expect("made above");
        table.insert_unique(key_hash, node, |&j| hash(node_item(data, nodes, j, entries)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamic::{DynValue, ObjectEncoder};

    fn long(v: i64) -> Vec<u8> {
        DynValue::Long(v).encode()
    }

    fn encoded(kind: Collect, values: &[DynValue], limit: Option<usize>) -> (Vec<u8>, Vec<u8>) {
        let mut one = CollectedItems::default();
        let mut grouped = GroupedItems::default();
        grouped.grow(3);
        for value in values {
            let bytes = value.encode();
            add_value(kind, &mut one, limit, Some(DynRef::new(&bytes))).unwrap();
            // Groups 0 and 2 get other items in between.
            for group in 0..3 {
                let item = if group == 1 { bytes.clone() } else { long(1000 + group as i64) };
                add_value(kind, &mut grouped.view(group), limit, Some(DynRef::new(&item))).unwrap();
            }
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        one.encode_into(kind.entries(), &mut a);
        grouped.encode_into(1, kind.entries(), &mut b);
        (a, b)
    }

    #[test]
    fn a_set_past_the_linear_search_keeps_one_of_each_in_first_seen_order_in_both_stores() {
        let values: Vec<DynValue> = (0..3).flat_map(|_| (0..40).rev().map(DynValue::Long)).collect();
        let expected = DynValue::Array((0..40).rev().map(DynValue::Long).collect()).encode();
        let (one, grouped) = encoded(Collect::Set, &values, None);
        assert_eq!(one, expected);
        assert_eq!(grouped, expected);
    }

    #[test]
    fn lists_keep_every_value_up_to_the_limit() {
        let values: Vec<DynValue> = [1, 1, 2, 1, 3].into_iter().map(DynValue::Long).collect();
        let expected = DynValue::Array([1, 1, 2, 1].into_iter().map(DynValue::Long).collect()).encode();
        let (one, grouped) = encoded(Collect::List, &values, Some(4));
        assert_eq!(one, expected);
        assert_eq!(grouped, expected);
    }

    #[test]
    fn bags_keep_the_first_value_of_each_key_and_encode_as_the_object_encoder_does() {
        let bag = |pairs: &[(&str, i64)]| {
            DynValue::Object(pairs.iter().map(|(k, v)| (k.to_string(), DynValue::Long(*v))).collect())
        };
        let mut values = vec![bag(&[("a", 1), ("b", 2)]), bag(&[("a", 3)])];
        values.extend((0..30).map(|i| bag(&[(&format!("k{i}"), i), ("a", 9)])));
        let mut expected = Vec::new();
        let mut encoder = ObjectEncoder::new(&mut expected);
        encoder.push_encoded("a", &long(1));
        encoder.push_encoded("b", &long(2));
        for i in 0..30 {
            encoder.push_encoded(&format!("k{i}"), &long(i));
        }
        encoder.finish();
        let (one, grouped) = encoded(Collect::Bag, &values, None);
        assert_eq!(one, expected);
        assert_eq!(grouped, expected);
    }

    #[test]
    fn dropping_the_first_groups_keeps_the_others_items_and_limits() {
        let mut grouped = GroupedItems::default();
        grouped.grow(3);
        for group in 0..3 {
            grouped.set_limit_once(group, Some(10 + group));
            for v in 0..20 {
                let bytes = long(v * (group as i64 + 1));
                add_value(Collect::Set, &mut grouped.view(group), None, Some(DynRef::new(&bytes))).unwrap();
            }
        }
        let before: Vec<Vec<u8>> = (1..3)
            .map(|g| {
                let mut out = Vec::new();
                grouped.encode_into(g, false, &mut out);
                out
            })
            .collect();
        grouped.drop_first(1);
        assert_eq!(grouped.num_groups(), 2);
        for (g, expected) in before.iter().enumerate() {
            let mut out = Vec::new();
            grouped.encode_into(g, false, &mut out);
            assert_eq!(&out, expected);
            assert_eq!(grouped.limit(g), Some(11 + g));
        }
        // Still distinct past the linear search after the copy.
        add_value(Collect::Set, &mut grouped.view(0), None, Some(DynRef::new(&long(2)))).unwrap();
        assert_eq!(grouped.len(0), 20);
    }
}
