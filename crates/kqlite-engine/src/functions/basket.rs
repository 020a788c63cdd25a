//! The pattern mining behind `evaluate basket()` and `evaluate
//! autocluster()`: Apriori over the rows'
//! (column, value) items, keeping the frequent item sets that no larger
//! frequent set with the same support contains (Kusto's output lists
//! `State=*, Damage=NO, DamageCrops=0` but not `Damage=NO` alone when every
//! undamaged row also has no crop damage).
//!
//! The binder groups the input by every dimension column, collects the
//! groups into one dynamic array of `[v1, …, vn, weight]` rows and calls
//! [`basket_kernel`] or [`autocluster_kernel`]; it expands the patterns
//! they return into rows. `autocluster` chooses among basket's patterns
//! the few that summarise the rows best ([`cluster_patterns`]).

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

/// Patterns that summarise the rows, as `evaluate autocluster()` returns
/// them: greedily, the candidate (a closed frequent set covering at least
/// `MIN_SHARE` of the weight) that scores best on the rows no chosen
/// pattern covers yet, until none covers `MIN_SHARE` of the weight there.
/// A pattern's score is the reference's weighted geometric mean of how
/// generic it is (its share of the rows) and how informative (its share of
/// the columns), weighted `size_weight` and `1 - size_weight`.
pub fn cluster_patterns(rows: &[(Vec<u32>, f64)], size_weight: f64) -> Vec<Pattern> {
    const MIN_SHARE: f64 = 0.05;
    let Some(columns) = rows.first().map(|r| r.0.len()).filter(|&c| c > 0) else { return Vec::new() };
    let total: f64 = rows.iter().map(|r| r.1).sum();
    let mut candidates = frequent_patterns(rows, MIN_SHARE, columns);
    let covers = |p: &Pattern, values: &[u32]| p.items.iter().all(|(c, v)| values[*c] == *v);
    let mut covered = vec![false; rows.len()];
    let mut chosen = Vec::new();
    loop {
        let best = candidates
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let fresh: f64 = rows
                    .iter()
                    .zip(&covered)
                    .filter(|((values, _), done)| !**done && covers(p, values))
                    .map(|r| r.0 .1)
                    .sum();
                let generic = fresh / total;
                let informative = p.items.len() as f64 / columns as f64;
                (i, fresh, generic.powf(size_weight) * informative.powf(1.0 - size_weight))
            })
            .filter(|(_, fresh, _)| *fresh >= MIN_SHARE * total)
            .max_by(|a, b| a.2.total_cmp(&b.2).then(b.0.cmp(&a.0)));
        let Some((i, _, _)) = best else { break };
        let pattern = candidates.remove(i);
        for ((values, _), done) in rows.iter().zip(covered.iter_mut()) {
            *done |= covers(&pattern, values);
        }
        chosen.push(pattern);
    }
    chosen
}

/// A dynamic array of `[v1, …, vn, weight]` rows as value ids per column,
/// numbered in the order of their encodings so results do not depend on
/// the order rows arrived in, and each column's values by id.
type Table = (Vec<(Vec<u32>, f64)>, Vec<Vec<DynValue>>);

fn read_table(d: DynRef<'_>, kernel: &str) -> Result<Table> {
    let mut ids: Vec<HashMap<Vec<u8>, u32>> = Vec::new();
    let mut values: Vec<Vec<DynValue>> = Vec::new();
    let mut table: Vec<(Vec<u32>, f64)> = Vec::new();
    if d.kind() != DynKind::Array {
        return Ok((table, values));
    }
    for row in d.array_items() {
        let items: Vec<DynRef<'_>> = row.array_items().collect();
        let Some((weight, dims)) = items.split_last() else {
            return exec_err!("{kernel}: a row must end with its weight");
        };
        if ids.is_empty() {
            ids = vec![HashMap::new(); dims.len()];
            values = vec![Vec::new(); dims.len()];
        }
        if dims.len() != ids.len() {
            return exec_err!("{kernel}: rows have {} and {} columns", ids.len(), dims.len());
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
    Ok((table, values))
}

/// Patterns as `[segment_id, count, percent, [is_set…], v1, …, vn]`, an
/// unset column (a wildcard) holding null.
fn encode_patterns(patterns: Vec<Pattern>, values: &[Vec<DynValue>], total: f64) -> DynValue {
    let columns = values.len();
    let encoded = patterns
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
    DynValue::Array(encoded)
}

/// Runs `mine` over each row's table (argument 0, a dynamic array of
/// `[v1, …, vn, weight]`) and encodes the patterns it returns.
fn patterns_kernel(
    args: &[ColumnarValue],
    rows: usize,
    kernel: &str,
    mine: impl Fn(&[(Vec<u32>, f64)], usize) -> Result<Vec<Pattern>>,
) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let list = args[0].to_array(n)?;
    let list = as_binary_array(&list)?;
    let mut out = BinaryBuilder::with_capacity(n, 256);
    for i in 0..n {
        let d = DynRef::new(if list.is_null(i) { ENCODED_NULL } else { list.value(i) });
        let (table, values) = read_table(d, kernel)?;
        let total: f64 = table.iter().map(|r| r.1).sum();
        let patterns = mine(&table, i)?;
        out.append_value(encode_patterns(patterns, &values, total).encode());
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `kql_basket(rows, threshold, max_dims)`: `rows` is a dynamic array of
/// `[v1, …, vn, weight]`; the result is a dynamic array of patterns
/// `[segment_id, count, percent, [is_set…], v1, …, vn]`, where an unset
/// column (a wildcard) holds null.
pub fn basket_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let thresholds = args[1].to_array(n)?;
    let thresholds = as_float64_array(&thresholds)?;
    let dims = args[2].to_array(n)?;
    let dims = as_int64_array(&dims)?;
    patterns_kernel(args, rows, "kql_basket", |table, i| {
        let threshold = if thresholds.is_null(i) { 0.05 } else { thresholds.value(i) };
        let max_dims = if dims.is_null(i) { 5 } else { dims.value(i).max(1) as usize };
        Ok(frequent_patterns(table, threshold, max_dims))
    })
}

/// `kql_autocluster(rows, size_weight)`: as [`basket_kernel`], with the
/// patterns of [`cluster_patterns`].
pub fn autocluster_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let weights = args[1].to_array(n)?;
    let weights = as_float64_array(&weights)?;
    patterns_kernel(args, rows, "kql_autocluster", |table, i| {
        let size_weight = if weights.is_null(i) { 0.5 } else { weights.value(i) };
        Ok(cluster_patterns(table, size_weight))
    })
}

/// A pattern that tells two data sets apart: its items (columns of the
/// rows without the split column) and the weight it covers in each set.
#[derive(Clone, Debug, PartialEq)]
pub struct DiffPattern {
    pub items: Vec<(usize, u32)>,
    pub count_a: f64,
    pub count_b: f64,
    pub percent_a: f64,
    pub percent_b: f64,
}

impl DiffPattern {
    /// The difference of the two shares, in percentage points.
    pub fn percent_diff(&self) -> f64 {
        (self.percent_a - self.percent_b).abs()
    }
}

/// The patterns of `diffpatterns`: the closed frequent item sets of either
/// set (at least `threshold` of its weight, at most `max_dims` items) whose
/// shares of set A and set B differ by at least `threshold`, largest
/// difference first; a pattern is left out when one of its subsets already
/// shows at least as large a difference (it adds nothing).
pub fn diff_patterns(
    a: &[(Vec<u32>, f64)],
    b: &[(Vec<u32>, f64)],
    threshold: f64,
    max_dims: usize,
) -> Vec<DiffPattern> {
    let total_a: f64 = a.iter().map(|r| r.1).sum();
    let total_b: f64 = b.iter().map(|r| r.1).sum();
    if total_a <= 0.0 || total_b <= 0.0 {
        return Vec::new();
    }
    let support = |rows: &[(Vec<u32>, f64)], items: &[(usize, u32)]| -> f64 {
        rows.iter().filter(|(values, _)| items.iter().all(|(c, v)| values[*c] == *v)).map(|r| r.1).sum()
    };
    let mut candidates: Vec<Vec<(usize, u32)>> = Vec::new();
    for p in frequent_patterns(a, threshold, max_dims).into_iter().chain(frequent_patterns(b, threshold, max_dims)) {
        if !candidates.contains(&p.items) {
            candidates.push(p.items);
        }
    }
    let mut scored: Vec<DiffPattern> = candidates
        .into_iter()
        .map(|items| {
            let (count_a, count_b) = (support(a, &items), support(b, &items));
            DiffPattern {
                count_a,
                count_b,
                percent_a: 100.0 * count_a / total_a,
                percent_b: 100.0 * count_b / total_b,
                items,
            }
        })
        .filter(|p| p.percent_diff() >= 100.0 * threshold)
        .collect();
    scored.sort_by(|x, y| {
        y.percent_diff()
            .total_cmp(&x.percent_diff())
            .then(x.items.len().cmp(&y.items.len()))
            .then(x.items.cmp(&y.items))
    });
    let mut kept: Vec<DiffPattern> = Vec::new();
    for p in scored {
        let explained = kept.iter().any(|q| {
            q.items.len() < p.items.len()
                && q.items.iter().all(|i| p.items.contains(i))
                && q.percent_diff() >= p.percent_diff()
        });
        if !explained {
            kept.push(p);
        }
    }
    kept
}

/// `kql_diffpatterns(rows, split_index, value_a, value_b, threshold, max_dims)`:
/// `rows` as for [`basket_kernel`]; the column at `split_index` tells the
/// sets apart (its value as text equal to `value_a` or `value_b`; other
/// rows are in neither). The result is a dynamic array of
/// `[segment_id, count_a, count_b, percent_a, percent_b, percent_diff,
/// [is_set…], v1, …, vn]` (the split column never set).
pub fn diffpatterns_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    use datafusion::common::cast::as_string_array;
    let n = rows_to_compute(args, rows);
    let arrays: Vec<_> = args.iter().map(|a| a.to_array(n)).collect::<Result<_>>()?;
    let list = as_binary_array(&arrays[0])?;
    let split = as_int64_array(&arrays[1])?;
    let (value_a, value_b) = (as_string_array(&arrays[2])?, as_string_array(&arrays[3])?);
    let thresholds = as_float64_array(&arrays[4])?;
    let dims = as_int64_array(&arrays[5])?;
    let round2 = |x: f64| (x * 100.0).round() / 100.0;
    let mut out = BinaryBuilder::with_capacity(n, 256);
    for i in 0..n {
        let d = DynRef::new(if list.is_null(i) { ENCODED_NULL } else { list.value(i) });
        let (table, values) = read_table(d, "kql_diffpatterns")?;
        let columns = values.len();
        let split_at = split.value(i) as usize;
        if split_at >= columns {
            out.append_value(DynValue::Array(Vec::new()).encode());
            continue;
        }
        let sides: Vec<String> = values[split_at].iter().map(|v| DynRef::new(&v.encode()).to_kql_string()).collect();
        let side = |id: u32| sides[id as usize].as_str();
        let without_split = |row: &Vec<u32>| -> Vec<u32> {
            row.iter().enumerate().filter(|(c, _)| *c != split_at).map(|(_, v)| *v).collect()
        };
        let pick = |wanted: &str| -> Vec<(Vec<u32>, f64)> {
            table
                .iter()
                .filter(|(row, _)| side(row[split_at]) == wanted)
                .map(|(row, w)| (without_split(row), *w))
                .collect()
        };
        let (a, b) = (pick(value_a.value(i)), pick(value_b.value(i)));
        let threshold = if thresholds.is_null(i) { 0.05 } else { thresholds.value(i) };
        let max_dims = if dims.is_null(i) { columns.max(1) } else { dims.value(i).max(1) as usize };
        // Item columns skip the split column: map them back.
        let original = |c: usize| if c >= split_at { c + 1 } else { c };
        let encoded = diff_patterns(&a, &b, threshold, max_dims)
            .into_iter()
            .enumerate()
            .map(|(segment, p)| {
                let mut set = vec![DynValue::Bool(false); columns];
                let mut cells = vec![DynValue::Null; columns];
                for (c, v) in &p.items {
                    set[original(*c)] = DynValue::Bool(true);
                    cells[original(*c)] = values[original(*c)][*v as usize].clone();
                }
                let mut pattern = vec![
                    DynValue::Long(segment as i64),
                    DynValue::Long(p.count_a.round() as i64),
                    DynValue::Long(p.count_b.round() as i64),
                    DynValue::Real(round2(p.percent_a)),
                    DynValue::Real(round2(p.percent_b)),
                    DynValue::Real(round2(p.percent_diff())),
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
    fn autocluster_summarises_with_few_patterns() {
        // 60 rows of (state, event 0, damage 0) across many states, 30 of
        // (state 9, event 1, damage 1), 10 scattered: with a balanced
        // weight the two groups are the patterns, the first leaving the
        // state open.
        let mut table = Vec::new();
        for s in 0..6 {
            table.extend(rows(&[(s, 0, 0, 10)]));
        }
        table.extend(rows(&[(9, 1, 1, 30)]));
        for k in 0..10 {
            table.extend(rows(&[(20 + k, 2 + k, 2 + k, 1)]));
        }
        let got = cluster_patterns(&table, 0.5);
        let sets: Vec<(Vec<(usize, u32)>, f64)> = got.into_iter().map(|p| (p.items, p.support)).collect();
        assert_eq!(sets, vec![(vec![(1, 0), (2, 0)], 60.0), (vec![(0, 9), (1, 1), (2, 1)], 30.0)]);
        // All weight on generality: the most common single value first.
        let generic = cluster_patterns(&table, 1.0);
        assert_eq!(generic[0].support, 60.0);
        assert!(cluster_patterns(&[], 0.5).is_empty());
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

    #[test]
    fn diff_patterns_find_what_tells_the_sets_apart() {
        // Set A: 8 rows of event 0, 2 of event 1; set B: 2 of event 0, 8 of
        // event 1. State (column 0) is 0 everywhere and tells nothing.
        let a: Vec<(Vec<u32>, f64)> = [(vec![0, 0], 8.0), (vec![0, 1], 2.0)].into();
        let b: Vec<(Vec<u32>, f64)> = [(vec![0, 0], 2.0), (vec![0, 1], 8.0)].into();
        let got = diff_patterns(&a, &b, 0.05, 5);
        type Summary = (Vec<(usize, u32)>, f64, f64);
        let summary: Vec<Summary> = got.iter().map(|p| (p.items.clone(), p.percent_a, p.percent_b)).collect();
        // Closed sets: every row has state 0, so it is in each pattern.
        assert_eq!(summary, vec![(vec![(0, 0), (1, 0)], 80.0, 20.0), (vec![(0, 0), (1, 1)], 20.0, 80.0)]);
    }
}
