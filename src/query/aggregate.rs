//! Hash grouping and aggregate accumulators.
//!
//! Grouping gives every row a dense group id: each key column is mapped to dense value ids
//! (a hash map keyed by the native value, `&str` borrowed from the array, so no allocation per
//! row), then columns are combined pairwise. Accumulators are plain vectors indexed by
//! group id. Groups are numbered in order of first appearance.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, PrimitiveArray, UInt32Array,
    new_null_array,
};
use arrow_schema::DataType;

use super::error::{QueryError, Result};
use super::eval::row_valid;
use super::expr::{AggCall, AggFunc, Expr, sql_type_name};

/// FxHash (rustc's hasher): fast for the small keys grouping uses; not DoS-resistant, which
/// does not matter for local result files.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(buf));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(i as u64)
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64)
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64)
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Rows assigned to groups.
#[derive(Debug, Clone)]
pub(crate) struct Groups {
    /// Group id of every row.
    pub ids: Vec<u32>,
    pub count: usize,
    /// The first row of each group (to take the key values from).
    pub first_rows: Vec<u32>,
}

impl Groups {
    /// One group holding every row: aggregation without GROUP BY (one output row even when
    /// there are no input rows).
    pub(crate) fn single(rows: usize) -> Groups {
        Groups {
            ids: vec![0; rows],
            count: 1,
            first_rows: vec![],
        }
    }

    /// Group rows by the values of `keys` (NULLs form one group, as in SQL's GROUP BY).
    pub(crate) fn by_keys(keys: &[ArrayRef], rows: usize) -> Result<Groups> {
        let (mut ids, mut count) = (vec![0u32; rows], usize::from(rows > 0));
        for (i, key) in keys.iter().enumerate() {
            let (key_ids, key_count) = dense_ids(key)?;
            if i == 0 {
                (ids, count) = (key_ids, key_count);
            } else {
                (ids, count) = combine(&ids, count, &key_ids, key_count);
            }
        }
        let mut first_rows = Vec::with_capacity(count);
        let mut seen = 0u32;
        for (row, &id) in ids.iter().enumerate() {
            // Ids are assigned in order of first appearance, so a new id is always `seen`.
            if id == seen {
                first_rows.push(row as u32);
                seen += 1;
            }
        }
        Ok(Groups {
            ids,
            count,
            first_rows,
        })
    }
}

fn dense_by<K: Hash + Eq>(
    rows: usize,
    is_valid: impl Fn(usize) -> bool,
    key: impl Fn(usize) -> K,
) -> (Vec<u32>, usize) {
    let mut map: FxMap<K, u32> = FxMap::default();
    let mut null_id: Option<u32> = None;
    let mut next = 0u32;
    let mut ids = Vec::with_capacity(rows);
    for i in 0..rows {
        let id = if is_valid(i) {
            *map.entry(key(i)).or_insert_with(|| {
                next += 1;
                next - 1
            })
        } else {
            *null_id.get_or_insert_with(|| {
                next += 1;
                next - 1
            })
        };
        ids.push(id);
    }
    (ids, next as usize)
}

/// Dense ids for the values of one column, in order of first appearance; NULL gets an id too.
pub(crate) fn dense_ids(a: &ArrayRef) -> Result<(Vec<u32>, usize)> {
    let rows = a.len();
    let valid = row_valid(a.as_ref());
    Ok(match a.data_type() {
        DataType::Int64 => {
            let v = a.as_primitive::<Int64Type>().values();
            dense_by(rows, valid, |i| v[i])
        }
        DataType::Timestamp(..) => {
            let v = a.as_primitive::<TimestampMicrosecondType>().values();
            dense_by(rows, valid, |i| v[i])
        }
        DataType::Float64 => {
            let v = a.as_primitive::<Float64Type>().values();
            dense_by(rows, valid, |i| canonical_bits(v[i]))
        }
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            dense_by(rows, valid, |i| s.value(i))
        }
        DataType::Boolean => {
            let b = a.as_boolean();
            dense_by(rows, valid, |i| b.value(i))
        }
        DataType::Null => (vec![0; rows], usize::from(rows > 0)),
        other => {
            return Err(QueryError::Type(format!(
                "cannot group or compare by a column of type {}",
                sql_type_name(other)
            )));
        }
    })
}

/// -0.0 and 0.0 are one value; all NaNs are one value (as in DuckDB).
fn canonical_bits(v: f64) -> u64 {
    if v == 0.0 {
        0
    } else if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

/// Combine two id columns into ids of their pairs.
pub(crate) fn combine(a: &[u32], a_count: usize, b: &[u32], b_count: usize) -> (Vec<u32>, usize) {
    let rows = a.len();
    if a_count.saturating_mul(b_count) <= 1 << 20 {
        // Small key space: a direct table instead of a hash map.
        let mut table = vec![u32::MAX; a_count * b_count];
        let mut next = 0u32;
        let ids = (0..rows)
            .map(|i| {
                let slot = &mut table[a[i] as usize * b_count + b[i] as usize];
                if *slot == u32::MAX {
                    *slot = next;
                    next += 1;
                }
                *slot
            })
            .collect();
        (ids, next as usize)
    } else {
        dense_by(rows, |_| true, |i| ((a[i] as u64) << 32) | b[i] as u64)
    }
}

/// Per-group sorted values shared by the percentile calls of one query that read the same
/// argument in the same direction (p50, p95 and p99 of one column sort once).
#[derive(Default)]
pub(crate) struct SortedCache {
    entries: Vec<SortedEntry>,
}

type SortedEntry = (Expr, bool, Arc<(Vec<usize>, Vec<f64>)>);

/// Evaluate one aggregate call per group. `arg` is the evaluated argument (None for count(*)).
pub(crate) fn accumulate(
    call: &AggCall,
    arg: Option<&ArrayRef>,
    groups: &Groups,
    cache: &mut SortedCache,
) -> Result<ArrayRef> {
    let n_groups = groups.count;
    let (ids, arg): (std::borrow::Cow<'_, [u32]>, Option<ArrayRef>) = match arg {
        Some(a) if call.distinct => {
            let (ids, a) = distinct_rows(&groups.ids, n_groups, a)?;
            (ids.into(), Some(a))
        }
        a => ((&groups.ids[..]).into(), a.cloned()),
    };
    let ids: &[u32] = &ids;
    let Some(arg) = arg else {
        // count(*)
        let mut counts = vec![0i64; n_groups];
        for &g in ids {
            counts[g as usize] += 1;
        }
        return Ok(Arc::new(Int64Array::from(counts)));
    };
    let valid = row_valid(arg.as_ref());
    match call.func {
        AggFunc::CountStar | AggFunc::Count => {
            let mut counts = vec![0i64; n_groups];
            for (i, &g) in ids.iter().enumerate() {
                if valid(i) {
                    counts[g as usize] += 1;
                }
            }
            Ok(Arc::new(Int64Array::from(counts)))
        }
        AggFunc::Sum => match arg.data_type() {
            DataType::Int64 => {
                let v = arg.as_primitive::<Int64Type>().values();
                let mut sums: Vec<Option<i64>> = vec![None; n_groups];
                for (i, &g) in ids.iter().enumerate() {
                    if valid(i) {
                        let s = &mut sums[g as usize];
                        *s = Some(s.unwrap_or(0).checked_add(v[i]).ok_or_else(|| {
                            QueryError::Execution("integer overflow in sum".into())
                        })?);
                    }
                }
                Ok(Arc::new(Int64Array::from(sums)))
            }
            DataType::Float64 => {
                let v = arg.as_primitive::<Float64Type>().values();
                let mut sums: Vec<Option<f64>> = vec![None; n_groups];
                for (i, &g) in ids.iter().enumerate() {
                    if valid(i) {
                        let s = &mut sums[g as usize];
                        *s = Some(s.unwrap_or(0.0) + v[i]);
                    }
                }
                Ok(Arc::new(Float64Array::from(sums)))
            }
            _ => Ok(new_null_array(&call.ty, n_groups)),
        },
        AggFunc::Avg => {
            let mut counts = vec![0i64; n_groups];
            let out: Vec<Option<f64>> = match arg.data_type() {
                DataType::Int64 => {
                    // Exact integer sums, as DuckDB's (hugeint) average.
                    let v = arg.as_primitive::<Int64Type>().values();
                    let mut sums = vec![0i128; n_groups];
                    for (i, &g) in ids.iter().enumerate() {
                        if valid(i) {
                            sums[g as usize] += v[i] as i128;
                            counts[g as usize] += 1;
                        }
                    }
                    sums.iter()
                        .zip(&counts)
                        .map(|(s, &c)| (c > 0).then(|| *s as f64 / c as f64))
                        .collect()
                }
                DataType::Float64 => {
                    let v = arg.as_primitive::<Float64Type>().values();
                    let mut sums = vec![0f64; n_groups];
                    for (i, &g) in ids.iter().enumerate() {
                        if valid(i) {
                            sums[g as usize] += v[i];
                            counts[g as usize] += 1;
                        }
                    }
                    sums.iter()
                        .zip(&counts)
                        .map(|(s, &c)| (c > 0).then(|| s / c as f64))
                        .collect()
                }
                _ => vec![None; n_groups],
            };
            Ok(Arc::new(Float64Array::from(out)))
        }
        AggFunc::StddevSamp | AggFunc::StddevPop | AggFunc::VarSamp | AggFunc::VarPop => {
            let values = as_f64(&arg);
            // Welford's online algorithm, as DuckDB.
            let mut count = vec![0u64; n_groups];
            let mut mean = vec![0f64; n_groups];
            let mut m2 = vec![0f64; n_groups];
            if let Some(v) = &values {
                for (i, &g) in ids.iter().enumerate() {
                    if v.is_valid(i) {
                        let g = g as usize;
                        let x = v.value(i);
                        count[g] += 1;
                        let delta = x - mean[g];
                        mean[g] += delta / count[g] as f64;
                        m2[g] += delta * (x - mean[g]);
                    }
                }
            }
            let out: Float64Array = (0..n_groups)
                .map(|g| {
                    let c = count[g] as f64;
                    match call.func {
                        AggFunc::StddevSamp => (count[g] > 1).then(|| (m2[g] / (c - 1.0)).sqrt()),
                        AggFunc::VarSamp => (count[g] > 1).then(|| m2[g] / (c - 1.0)),
                        // One value: 0, even when it is inf or NaN (as DuckDB).
                        AggFunc::StddevPop if count[g] == 1 => Some(0.0),
                        AggFunc::StddevPop => (count[g] > 0).then(|| (m2[g] / c).sqrt()),
                        _ if count[g] == 1 => Some(0.0),
                        _ => (count[g] > 0).then(|| m2[g] / c),
                    }
                })
                .collect();
            Ok(Arc::new(out))
        }
        AggFunc::Min | AggFunc::Max | AggFunc::AnyValue => {
            let best = best_rows(call.func, &arg, ids, n_groups)?;
            Ok(arrow_select::take::take(arg.as_ref(), &best, None)?)
        }
        AggFunc::PercentileCont(p) => {
            let key = call.arg.as_ref().filter(|_| !call.distinct);
            let cached = key.and_then(|expr| {
                cache
                    .entries
                    .iter()
                    .find(|(e, d, _)| e == expr && *d == call.descending)
                    .map(|(_, _, sorted)| sorted.clone())
            });
            let sorted = match cached {
                Some(sorted) => sorted,
                None => {
                    let Some(values) = as_f64(&arg) else {
                        return Ok(new_null_array(&call.ty, n_groups));
                    };
                    let sorted = Arc::new(sorted_groups(ids, n_groups, &values, call.descending));
                    if let Some(expr) = key {
                        let entry = (expr.clone(), call.descending, sorted.clone());
                        cache.entries.push(entry);
                    }
                    sorted
                }
            };
            let (offsets, flat) = (&sorted.0, &sorted.1);
            let out: Float64Array = (0..n_groups)
                .map(|g| {
                    let s = &flat[offsets[g]..offsets[g + 1]];
                    percentile_cont(s, p)
                })
                .collect();
            Ok(Arc::new(out))
        }
        AggFunc::PercentileDisc(p) => match arg.data_type() {
            DataType::Int64 => {
                let a = arg.as_primitive::<Int64Type>();
                let (offsets, flat) = sorted_groups(ids, n_groups, a, call.descending);
                let out: Int64Array = (0..n_groups)
                    .map(|g| percentile_disc(&flat[offsets[g]..offsets[g + 1]], p))
                    .collect();
                Ok(Arc::new(out))
            }
            DataType::Timestamp(_, tz) => {
                let a = arg.as_primitive::<TimestampMicrosecondType>();
                let (offsets, flat) = sorted_groups(ids, n_groups, a, call.descending);
                let out: PrimitiveArray<TimestampMicrosecondType> = (0..n_groups)
                    .map(|g| percentile_disc(&flat[offsets[g]..offsets[g + 1]], p))
                    .collect();
                Ok(Arc::new(out.with_timezone_opt(tz.clone())))
            }
            DataType::Float64 => {
                let a = arg.as_primitive::<Float64Type>();
                let (offsets, flat) = sorted_groups(ids, n_groups, a, call.descending);
                let out: Float64Array = (0..n_groups)
                    .map(|g| percentile_disc(&flat[offsets[g]..offsets[g + 1]], p))
                    .collect();
                Ok(Arc::new(out))
            }
            _ => Ok(new_null_array(&call.ty, n_groups)),
        },
    }
}

fn as_f64(a: &ArrayRef) -> Option<Float64Array> {
    match a.data_type() {
        DataType::Float64 => Some(a.as_primitive::<Float64Type>().clone()),
        DataType::Int64 => Some(
            a.as_primitive::<Int64Type>()
                .unary::<_, Float64Type>(|v| v as f64),
        ),
        _ => None,
    }
}

/// Keep the first row of every (group, value) pair, for DISTINCT aggregates.
fn distinct_rows(ids: &[u32], n_groups: usize, arg: &ArrayRef) -> Result<(Vec<u32>, ArrayRef)> {
    let (value_ids, value_count) = dense_ids(arg)?;
    let (pair_ids, pair_count) = combine(ids, n_groups, &value_ids, value_count);
    let mut seen = vec![false; pair_count];
    let keep: BooleanArray = pair_ids
        .iter()
        .map(|&p| Some(!std::mem::replace(&mut seen[p as usize], true)))
        .collect();
    let kept_ids = ids
        .iter()
        .zip(keep.values().iter())
        .filter(|(_, k)| *k)
        .map(|(g, _)| *g)
        .collect();
    Ok((kept_ids, arrow_select::filter::filter(arg.as_ref(), &keep)?))
}

/// Per group, the row holding the min / max / first non-null value (null index if none).
fn best_rows(func: AggFunc, arg: &ArrayRef, ids: &[u32], n_groups: usize) -> Result<UInt32Array> {
    let mut best: Vec<Option<u32>> = vec![None; n_groups];
    let want_max = func == AggFunc::Max;
    let valid = row_valid(arg.as_ref());
    macro_rules! scan {
        ($value:expr, $cmp:expr) => {{
            for (i, &g) in ids.iter().enumerate() {
                if !valid(i) {
                    continue;
                }
                let slot = &mut best[g as usize];
                match *slot {
                    None => *slot = Some(i as u32),
                    Some(_) if func == AggFunc::AnyValue => {}
                    Some(b) => {
                        let ord = $cmp(&$value(i), &$value(b as usize));
                        if (want_max && ord == std::cmp::Ordering::Greater)
                            || (!want_max && ord == std::cmp::Ordering::Less)
                        {
                            *slot = Some(i as u32);
                        }
                    }
                }
            }
        }};
    }
    match arg.data_type() {
        DataType::Int64 => {
            let v = arg.as_primitive::<Int64Type>().values();
            scan!(|i: usize| v[i], i64::cmp)
        }
        DataType::Timestamp(..) => {
            let v = arg.as_primitive::<TimestampMicrosecondType>().values();
            scan!(|i: usize| v[i], i64::cmp)
        }
        DataType::Float64 => {
            let v = arg.as_primitive::<Float64Type>().values();
            scan!(|i: usize| v[i], sql_float_cmp)
        }
        DataType::Utf8 => {
            let s = arg.as_string::<i32>();
            scan!(|i: usize| s.value(i), |a: &&str, b: &&str| a.cmp(b))
        }
        DataType::Boolean => {
            let b = arg.as_boolean();
            scan!(|i: usize| b.value(i), bool::cmp)
        }
        DataType::Null => {}
        other => {
            return Err(QueryError::Type(format!(
                "min/max of {} is not supported",
                sql_type_name(other)
            )));
        }
    }
    Ok(UInt32Array::from(best))
}

/// DuckDB's float order: -0.0 equals 0.0, NaN is greater than every number.
fn sql_float_cmp(a: &f64, b: &f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(b).expect("not NaN"),
    }
}

trait SortKey: Copy {
    fn key_cmp(&self, other: &Self) -> std::cmp::Ordering;
}
impl SortKey for f64 {
    fn key_cmp(&self, other: &Self) -> std::cmp::Ordering {
        sql_float_cmp(self, other)
    }
}
impl SortKey for i64 {
    fn key_cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.cmp(other)
    }
}

/// The non-null values of each group, sorted: a counting sort by group, then one sort per
/// group. Returns offsets (n_groups + 1) into the flat value vector.
fn sorted_groups<T>(
    ids: &[u32],
    n_groups: usize,
    values: &PrimitiveArray<T>,
    descending: bool,
) -> (Vec<usize>, Vec<T::Native>)
where
    T: arrow_array::ArrowPrimitiveType,
    T::Native: SortKey,
{
    let mut offsets = vec![0usize; n_groups + 1];
    for (i, &g) in ids.iter().enumerate() {
        if values.is_valid(i) {
            offsets[g as usize + 1] += 1;
        }
    }
    for g in 0..n_groups {
        offsets[g + 1] += offsets[g];
    }
    let mut cursor = offsets.clone();
    let mut flat = vec![T::Native::default(); offsets[n_groups]];
    let v = values.values();
    for (i, &g) in ids.iter().enumerate() {
        if values.is_valid(i) {
            flat[cursor[g as usize]] = v[i];
            cursor[g as usize] += 1;
        }
    }
    for g in 0..n_groups {
        let slice = &mut flat[offsets[g]..offsets[g + 1]];
        if descending {
            slice.sort_unstable_by(|a, b| b.key_cmp(a));
        } else {
            slice.sort_unstable_by(|a, b| a.key_cmp(b));
        }
    }
    (offsets, flat)
}

/// Linear interpolation between the closest ranks (NumPy's default, DuckDB's
/// percentile_cont): position p * (n - 1) in the sorted values.
pub(crate) fn percentile_cont(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let position = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (position.floor() as usize, position.ceil() as usize);
    let (a, b) = (sorted[lo], sorted[hi]);
    if lo == hi || a == b {
        return Some(a);
    }
    // DuckDB's form, lo * (1 - d) + hi * d rather than lo + (hi - lo) * d: the same within
    // rounding, but between -inf and a number it is -inf (not NaN, from inf - inf).
    let d = position - lo as f64;
    Some(a * (1.0 - d) + b * d)
}

/// The value at 1-based rank ceil(n * p) (at least 1), DuckDB's percentile_disc.
fn percentile_disc<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() as f64 * p).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_match_numpy_linear() {
        let v = [1.0, 2.0, 4.0, 10.0];
        assert_eq!(percentile_cont(&v, 0.5), Some(3.0));
        assert_eq!(percentile_cont(&v, 0.0), Some(1.0));
        assert_eq!(percentile_cont(&v, 1.0), Some(10.0));
        assert_eq!(percentile_cont(&v, 0.25), Some(1.75));
        assert_eq!(percentile_cont(&[], 0.5), None);
        let d = [1i64, 2, 4, 10, 11];
        assert_eq!(percentile_disc(&d, 0.9), Some(11));
        assert_eq!(percentile_disc(&d, 0.25), Some(2));
        assert_eq!(percentile_disc(&d, 0.0), Some(1));
    }

    #[test]
    fn groups_in_first_appearance_order() {
        let a: ArrayRef = Arc::new(arrow_array::StringArray::from(vec![
            Some("b"),
            Some("a"),
            None,
            Some("b"),
            None,
        ]));
        let b: ArrayRef = Arc::new(Int64Array::from(vec![1, 1, 1, 2, 1]));
        let g = Groups::by_keys(&[a, b], 5).unwrap();
        assert_eq!(g.ids, vec![0, 1, 2, 3, 2]);
        assert_eq!(g.count, 4);
        assert_eq!(g.first_rows, vec![0, 1, 2, 3]);
    }
}
