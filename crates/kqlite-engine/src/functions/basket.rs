//! The pattern mining behind `evaluate basket()`: Apriori over the rows'
//! (column, value) items, keeping the frequent item sets that no larger
//! frequent set with the same support contains (Kusto's output lists
//! `State=*, Damage=NO, DamageCrops=0` but not `Damage=NO` alone when every
//! undamaged row also has no crop damage).
//!
//! The binder groups the input by every dimension column, collects the
//! groups into one dynamic array of `[v1, …, vn, weight]` rows and calls
//! [`basket_kernel`]; it expands the patterns it returns into rows.

use crate::dynamic::{DynKind, DynRef, DynValue, ENCODED_NULL};
use crate::udf::{maybe_scalar, rows_to_compute};
use datafusion::arrow::array::{Array, BinaryBuilder};
use datafusion::common::cast::{as_binary_array, as_float64_array, as_int64_array};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::ColumnarValue;
use std::collections::HashMap;
use std::sync::Arc;

/// A frequent item set: (column, value id) pairs in column order, and the
/// total weight of the rows it covers.
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    pub items: Vec<(usize, u32)>,
    pub support: f64,
}

/// Closed frequent item sets of at most `max_dims` items, each covering at
/// least `threshold` of the total weight; sorted by support (largest first),
/// then fewer items first, then items.
pub fn frequent_patterns(rows: &[(Vec<u32>, f64)], threshold: f64, max_dims: usize) -> Vec<Pattern> {
    let total: f64 = rows.iter().map(|r| r.1).sum();
    if total <= 0.0 {
        return Vec::new();
    }
    let min_support = threshold * total;
    let support_of = |items: &[(usize, u32)]| -> f64 {
        rows.iter().filter(|(values, _)| items.iter().all(|(c, v)| values[*c] == *v)).map(|r| r.1).sum()
    };
    // Single items.
    let mut singles: HashMap<(usize, u32), f64> = HashMap::new();
    for (values, weight) in rows {
        for (c, v) in values.iter().enumerate() {
            *singles.entry((c, *v)).or_default() += weight;
        }
    }
    let mut level: Vec<Pattern> = singles
        .into_iter()
        .filter(|(_, s)| *s >= min_support)
        .map(|(item, support)| Pattern { items: vec![item], support })
        .collect();
    level.sort_by(|a, b| a.items.cmp(&b.items));
    let mut all: Vec<Pattern> = Vec::new();
    while !level.is_empty() {
        all.extend(level.iter().cloned());
        if level[0].items.len() >= max_dims {
            break;
        }
        // Join sets that share all but their last item, on a later column.
        let mut next = Vec::new();
        for (i, a) in level.iter().enumerate() {
            let prefix = &a.items[..a.items.len() - 1];
            for b in &level[i + 1..] {
                if &b.items[..b.items.len() - 1] != prefix {
                    break;
                }
                let (last_a, last_b) = (a.items[a.items.len() - 1], b.items[b.items.len() - 1]);
                if last_b.0 <= last_a.0 {
                    continue;
                }
                let mut items = a.items.clone();
                items.push(last_b);
                let support = support_of(&items);
                if support >= min_support {
                    next.push(Pattern { items, support });
                }
            }
        }
        next.sort_by(|a, b| a.items.cmp(&b.items));
        level = next;
    }
    // Closed sets only: drop a set when a superset has the same support.
    let closed: Vec<Pattern> = all
        .iter()
        .filter(|p| {
            !all.iter().any(|q| {
                q.items.len() == p.items.len() + 1
                    && (q.support - p.support).abs() < 1e-9
                    && p.items.iter().all(|i| q.items.contains(i))
            })
        })
        .cloned()
        .collect();
    let mut closed = closed;
    closed.sort_by(|a, b| {
        b.support.total_cmp(&a.support).then(a.items.len().cmp(&b.items.len())).then(a.items.cmp(&b.items))
    });
    closed
}

/// `kql_basket(rows, threshold, max_dims)`: `rows` is a dynamic array of
/// `[v1, …, vn, weight]`; the result is a dynamic array of patterns
/// `[segment_id, count, percent, [is_set…], v1, …, vn]`, where an unset
/// column (a wildcard) holds null.
pub fn basket_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let list = args[0].to_array(n)?;
    let list = as_binary_array(&list)?;
    let thresholds = args[1].to_array(n)?;
    let thresholds = as_float64_array(&thresholds)?;
    let dims = args[2].to_array(n)?;
    let dims = as_int64_array(&dims)?;
    let mut out = BinaryBuilder::with_capacity(n, 256);
    for i in 0..n {
        let d = DynRef::new(if list.is_null(i) { ENCODED_NULL } else { list.value(i) });
        if d.kind() != DynKind::Array {
            out.append_value(DynValue::Array(Vec::new()).encode());
            continue;
        }
        // Intern each column's values; remember one encoding per id.
        let mut ids: Vec<HashMap<Vec<u8>, u32>> = Vec::new();
        let mut values: Vec<Vec<DynValue>> = Vec::new();
        let mut table: Vec<(Vec<u32>, f64)> = Vec::new();
        for row in d.array_items() {
            let items: Vec<DynRef<'_>> = row.array_items().collect();
            let Some((weight, dims)) = items.split_last() else {
                return exec_err!("kql_basket: a row must end with its weight");
            };
            if ids.is_empty() {
                ids = vec![HashMap::new(); dims.len()];
                values = vec![Vec::new(); dims.len()];
            }
            if dims.len() != ids.len() {
                return exec_err!("kql_basket: rows have {} and {} columns", ids.len(), dims.len());
            }
            let weight = weight.as_real().unwrap_or(0.0);
            let mut row_ids = Vec::with_capacity(dims.len());
            for (c, v) in dims.iter().enumerate() {
                let next = ids[c].len() as u32;
                let id = *ids[c].entry(v.bytes().to_vec()).or_insert_with(|| {
                    values[c].push(v.to_value());
                    next
                });
                row_ids.push(id);
            }
            table.push((row_ids, weight));
        }
        // Number each column's values in the order of their encodings, so
        // the output order does not depend on the order rows arrived in.
        for (c, column_ids) in ids.iter().enumerate() {
            let mut order: Vec<(&Vec<u8>, u32)> = column_ids.iter().map(|(bytes, id)| (bytes, *id)).collect();
            order.sort();
            let mut renumber = vec![0u32; order.len()];
            let mut sorted_values = vec![DynValue::Null; order.len()];
            for (new, (_, old)) in order.iter().enumerate() {
                renumber[*old as usize] = new as u32;
                sorted_values[new] = values[c][*old as usize].clone();
            }
            values[c] = sorted_values;
            for (row, _) in &mut table {
                row[c] = renumber[row[c] as usize];
            }
        }
        let total: f64 = table.iter().map(|r| r.1).sum();
        let threshold = if thresholds.is_null(i) { 0.05 } else { thresholds.value(i) };
        let max_dims = if dims.is_null(i) { 5 } else { dims.value(i).max(1) as usize };
        let patterns = frequent_patterns(&table, threshold, max_dims);
        let columns = ids.len();
        let encoded: Vec<DynValue> = patterns
            .into_iter()
            .enumerate()
            .map(|(segment, p)| {
                let mut set = vec![DynValue::Bool(false); columns];
                let mut cells = vec![DynValue::Null; columns];
                for (c, v) in &p.items {
                    set[*c] = DynValue::Bool(true);
                    cells[*c] = values[*c][*v as usize].clone();
                }
                let mut pattern = vec![
                    DynValue::Long(segment as i64),
                    DynValue::Long(p.support.round() as i64),
                    DynValue::Real(100.0 * p.support / total),
                    DynValue::Array(set),
                ];
                pattern.extend(cells);
                DynValue::Array(pattern)
            })
            .collect();
        out.append_value(DynValue::Array(encoded).encode());
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of (state, event, damage) as value ids, weight 1.
    fn rows(spec: &[(u32, u32, u32, usize)]) -> Vec<(Vec<u32>, f64)> {
        spec.iter().flat_map(|&(a, b, c, n)| std::iter::repeat_n((vec![a, b, c], 1.0), n)).collect()
    }

    #[test]
    fn closed_frequent_sets_above_the_threshold() {
        // 10 rows: event 0 with damage 0 (6), event 1 with damage 0 (2),
        // event 1 with damage 1 (2); state 0 everywhere but one row.
        let table = rows(&[(0, 0, 0, 5), (1, 0, 0, 1), (0, 1, 0, 2), (0, 1, 1, 2)]);
        let got = frequent_patterns(&table, 0.2, 5);
        let sets: Vec<(Vec<(usize, u32)>, f64)> = got.into_iter().map(|p| (p.items, p.support)).collect();
        assert_eq!(
            sets,
            vec![
                (vec![(0, 0)], 9.0),
                (vec![(2, 0)], 8.0),
                (vec![(0, 0), (2, 0)], 7.0),
                (vec![(1, 0), (2, 0)], 6.0),
                (vec![(0, 0), (1, 0), (2, 0)], 5.0),
                (vec![(0, 0), (1, 1)], 4.0),
                (vec![(0, 0), (1, 1), (2, 0)], 2.0),
                (vec![(0, 0), (1, 1), (2, 1)], 2.0),
            ]
        );
        // {event 1} (4 rows) is left out: {state 0, event 1} covers the same rows;
        // {damage 1} likewise for {state 0, event 1, damage 1}.
    }

    #[test]
    fn max_dims_and_threshold_bound_the_sets() {
        let table = rows(&[(0, 0, 0, 5), (1, 1, 1, 5)]);
        let two = frequent_patterns(&table, 0.5, 2);
        assert!(two.iter().all(|p| p.items.len() <= 2));
        // With three dimensions allowed, each half is one closed set.
        let three = frequent_patterns(&table, 0.5, 3);
        assert_eq!(three.len(), 2);
        assert!(frequent_patterns(&table, 0.6, 3).is_empty());
    }
}
