//! Equi-join by hashing: both sides' key columns are mapped to shared dense ids, the right side
//! is bucketed by id (a counting sort, so each bucket keeps the right table's order), and each
//! left row emits its matches. Output order: left rows in order, matches in right order.

use arrow_array::{ArrayRef, UInt32Array};

use super::aggregate::{combine, dense_ids};
use super::error::Result;
use super::eval::row_valid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinKind {
    Inner,
    /// Left rows without a match are kept once, with NULLs on the right.
    Left,
}

/// Row indices into the left and right relations (right is NULL for unmatched LEFT rows).
/// Keys must already have one type per pair. A NULL key matches nothing.
pub(crate) fn hash_join(
    left_keys: &[ArrayRef],
    right_keys: &[ArrayRef],
    left_rows: usize,
    right_rows: usize,
    kind: JoinKind,
) -> Result<(UInt32Array, UInt32Array)> {
    let total = left_rows + right_rows;
    let mut ids = vec![0u32; total];
    let mut count = usize::from(total > 0);
    let mut valid = vec![true; total];
    for (k, (l, r)) in left_keys.iter().zip(right_keys).enumerate() {
        let both = arrow_select::concat::concat(&[l.as_ref(), r.as_ref()])?;
        let both_valid = row_valid(both.as_ref());
        for (i, v) in valid.iter_mut().enumerate() {
            *v &= both_valid(i);
        }
        let (key_ids, key_count) = dense_ids(&both)?;
        (ids, count) = if k == 0 {
            (key_ids, key_count)
        } else {
            combine(&ids, count, &key_ids, key_count)
        };
    }
    // Bucket the right rows by id.
    let mut offsets = vec![0usize; count + 1];
    for r in 0..right_rows {
        if valid[left_rows + r] {
            offsets[ids[left_rows + r] as usize + 1] += 1;
        }
    }
    for g in 0..count {
        offsets[g + 1] += offsets[g];
    }
    let mut cursor = offsets.clone();
    let mut bucketed = vec![0u32; offsets[count]];
    for r in 0..right_rows {
        if valid[left_rows + r] {
            let id = ids[left_rows + r] as usize;
            bucketed[cursor[id]] = r as u32;
            cursor[id] += 1;
        }
    }
    let mut left_out: Vec<u32> = Vec::with_capacity(left_rows);
    let mut right_out: Vec<Option<u32>> = Vec::with_capacity(left_rows);
    for l in 0..left_rows {
        let matches = if valid[l] {
            let id = ids[l] as usize;
            &bucketed[offsets[id]..offsets[id + 1]]
        } else {
            &[][..]
        };
        if matches.is_empty() {
            if kind == JoinKind::Left {
                left_out.push(l as u32);
                right_out.push(None);
            }
            continue;
        }
        for &r in matches {
            left_out.push(l as u32);
            right_out.push(Some(r));
        }
    }
    Ok((UInt32Array::from(left_out), UInt32Array::from(right_out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::StringArray;
    use std::sync::Arc;

    #[test]
    fn inner_and_left_joins() {
        let l: ArrayRef = Arc::new(StringArray::from(vec![
            Some("a"),
            Some("b"),
            None,
            Some("c"),
        ]));
        let r: ArrayRef = Arc::new(StringArray::from(vec![
            Some("b"),
            Some("a"),
            Some("b"),
            None,
        ]));
        let (li, ri) = hash_join(
            std::slice::from_ref(&l),
            std::slice::from_ref(&r),
            4,
            4,
            JoinKind::Inner,
        )
        .unwrap();
        assert_eq!(li.values().to_vec(), vec![0, 1, 1]);
        assert_eq!(
            ri.iter().collect::<Vec<_>>(),
            vec![Some(1), Some(0), Some(2)]
        );
        let (li, ri) = hash_join(&[l], &[r], 4, 4, JoinKind::Left).unwrap();
        assert_eq!(li.values().to_vec(), vec![0, 1, 1, 2, 3]);
        assert_eq!(
            ri.iter().collect::<Vec<_>>(),
            vec![Some(1), Some(0), Some(2), None, None]
        );
    }
}
