//! Evaluation of bound expressions over Arrow columns, one whole column at a time.
//!
//! Comparisons, filters, zips and takes use Arrow's kernels; arithmetic and three-valued
//! logic are written here over value buffers (arrow-arith is not a dependency), with integer
//! overflow reported as DuckDB does rather than wrapping.

use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, UInt32Array,
    new_empty_array, new_null_array,
};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use arrow_schema::DataType;

use super::cast::cast;
use super::error::{QueryError, Result};
use super::expr::{ArithOp, CmpOp, Expr, ExprKind, Scalar, ScalarFunc};
use super::like::LikePattern;

/// Evaluate `e` over `cols` (each `rows` long) into a column of `e.ty`.
pub(crate) fn eval(e: &Expr, cols: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    match &e.kind {
        ExprKind::Column(i) => Ok(cols[*i].clone()),
        ExprKind::Literal(s) => scalar_array(s, &e.ty, rows),
        ExprKind::Neg(x) => {
            let x = eval(x, cols, rows)?;
            match x.data_type() {
                DataType::Int64 => int_unary(x.as_primitive::<Int64Type>(), |v| {
                    v.checked_neg().ok_or_else(|| overflow("negation", v))
                }),
                DataType::Float64 => Ok(Arc::new(
                    x.as_primitive::<Float64Type>()
                        .unary::<_, Float64Type>(|v| -v),
                )),
                other => Err(internal_type("negation", other)),
            }
        }
        ExprKind::Not(x) => {
            let x = eval(x, cols, rows)?;
            let b = as_bool(&x, rows);
            Ok(Arc::new(BooleanArray::new(!b.values(), b.nulls().cloned())))
        }
        ExprKind::Arith(op, l, r) => {
            let l = eval(l, cols, rows)?;
            let r = eval(r, cols, rows)?;
            arithmetic(*op, &l, &r, &e.ty)
        }
        ExprKind::Cmp(op, l, r) => {
            // A constant side is evaluated once, as a scalar (unless both are constant).
            let (l_const, r_const) = (is_constant(l), is_constant(r));
            let scalar = |c: bool, other: bool| c && !other;
            let (ls, rs) = (scalar(l_const, r_const), scalar(r_const, l_const));
            let l = eval(l, cols, if ls { 1 } else { rows })?;
            let r = eval(r, cols, if rs { 1 } else { rows })?;
            compare_datums(*op, (&l, ls), (&r, rs), rows)
        }
        ExprKind::And(l, r) | ExprKind::Or(l, r) => {
            let l = eval(l, cols, rows)?;
            let r = eval(r, cols, rows)?;
            let and = matches!(e.kind, ExprKind::And(..));
            Ok(Arc::new(kleene(
                &as_bool(&l, rows),
                &as_bool(&r, rows),
                and,
            )))
        }
        ExprKind::IsNull(x) => {
            let x = eval(x, cols, rows)?;
            Ok(Arc::new(is_null(&x)))
        }
        ExprKind::Like {
            expr,
            pattern,
            case_insensitive,
            escape,
        } => {
            let text = eval(expr, cols, rows)?;
            like(&text, pattern, cols, rows, *case_insensitive, *escape)
        }
        ExprKind::Case { whens, otherwise } => case(whens, otherwise.as_deref(), &e.ty, cols, rows),
        ExprKind::Cast { expr, to, try_cast } => {
            let x = eval(expr, cols, rows)?;
            cast(&x, to, *try_cast)
        }
        ExprKind::Func(func, args) => {
            let args = args
                .iter()
                .map(|a| eval(a, cols, rows))
                .collect::<Result<Vec<_>>>()?;
            function(*func, &args, &e.ty, rows)
        }
        ExprKind::Agg(_) => Err(QueryError::Internal(
            "aggregate evaluated outside the aggregation step".into(),
        )),
    }
}

/// Row validity as SQL sees it. Arrow's `Array::is_valid`/`is_null` read the null buffer,
/// which a `NullArray` (the type of a bare `NULL` column) does not have, so by that test all
/// its rows are valid and `count(NULL)` counted them. `logical_nulls` knows better. Use this
/// wherever the array may be of any type; a downcast typed array is never a `NullArray`.
pub(crate) fn row_valid(a: &dyn Array) -> impl Fn(usize) -> bool + use<> {
    let nulls = a.logical_nulls();
    move |i| nulls.as_ref().is_none_or(|n| n.is_valid(i))
}

/// DuckDB's `upper`: one character to one (Unicode's simple case mapping, as utf8proc), so
/// `upper('straße')` is `STRAẞE`, where Rust's `to_uppercase` (the full mapping) gives
/// `STRASSE`. std only offers the full mapping; where it yields several characters the simple
/// one is ß -> ẞ, the Greek letters with ypogegrammeni (ᾳ -> ᾼ) or none (ﬁ stays ﬁ).
fn upper_simple(c: char) -> char {
    let mut full = c.to_uppercase();
    if let (Some(one), None) = (full.next(), full.next()) {
        return one;
    }
    let shifted = match c as u32 {
        0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => Some(c as u32 + 8),
        0x1FB3 | 0x1FC3 | 0x1FF3 => Some(c as u32 + 9),
        0xDF => Some(0x1E9E),
        _ => None,
    };
    shifted.and_then(char::from_u32).unwrap_or(c)
}

/// DuckDB's `lower`: one character to one, without context (Σ is always σ); the only character
/// whose full lowercase is longer is İ, whose simple lowercase is i.
fn lower_simple(c: char) -> char {
    let mut full = c.to_lowercase();
    match (full.next(), full.next()) {
        (Some(one), None) => one,
        _ if c == '\u{130}' => 'i',
        _ => c,
    }
}

/// Evaluate a predicate; the result is Boolean (a NULL-typed predicate becomes all NULL).
pub(crate) fn eval_predicate(e: &Expr, cols: &[ArrayRef], rows: usize) -> Result<BooleanArray> {
    let a = eval(e, cols, rows)?;
    Ok(as_bool(&a, rows))
}

fn overflow(what: &str, v: impl std::fmt::Display) -> QueryError {
    QueryError::Execution(format!("integer overflow in {what} (at value {v})"))
}

fn internal_type(what: &str, ty: &DataType) -> QueryError {
    QueryError::Internal(format!("{what} evaluated on {ty}"))
}

fn as_bool(a: &ArrayRef, rows: usize) -> BooleanArray {
    match a.data_type() {
        DataType::Boolean => a.as_boolean().clone(),
        _ => BooleanArray::new_null(rows),
    }
}

pub(crate) fn scalar_array(s: &Scalar, ty: &DataType, rows: usize) -> Result<ArrayRef> {
    Ok(match s {
        Scalar::Null => new_null_array(ty, rows),
        Scalar::Int(i) => Arc::new(Int64Array::from_value(*i, rows)),
        Scalar::Float(f) => Arc::new(Float64Array::from_value(*f, rows)),
        Scalar::Str(v) => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            v.as_str(),
            rows,
        ))),
        Scalar::Bool(b) => Arc::new(BooleanArray::from(vec![*b; rows])),
    })
}

fn is_null(x: &ArrayRef) -> BooleanArray {
    match x.logical_nulls() {
        Some(nulls) => BooleanArray::new(!nulls.inner(), None),
        None => BooleanArray::new(BooleanBuffer::new_unset(x.len()), None),
    }
}

fn validity(a: &BooleanArray) -> BooleanBuffer {
    match a.nulls() {
        Some(n) => n.inner().clone(),
        None => BooleanBuffer::new_set(a.len()),
    }
}

/// SQL three-valued AND/OR on whole bitmaps: FALSE AND NULL is FALSE, TRUE OR NULL is TRUE.
fn kleene(a: &BooleanArray, b: &BooleanArray, and: bool) -> BooleanArray {
    let (a_valid, b_valid) = (validity(a), validity(b));
    let a_true = &a_valid & a.values();
    let b_true = &b_valid & b.values();
    let a_false = &a_valid & &!a.values();
    let b_false = &b_valid & &!b.values();
    let (value, valid) = if and {
        let both = &a_true & &b_true;
        let valid = &(&a_false | &b_false) | &both;
        (both, valid)
    } else {
        let any = &a_true | &b_true;
        let valid = &any | &(&a_false & &b_false);
        (any, valid)
    };
    BooleanArray::new(value, Some(NullBuffer::new(valid)))
}

fn int_unary(a: &Int64Array, f: impl Fn(i64) -> Result<i64>) -> Result<ArrayRef> {
    let mut out = Vec::with_capacity(a.len());
    for i in 0..a.len() {
        out.push(if a.is_valid(i) { f(a.value(i))? } else { 0 });
    }
    Ok(Arc::new(Int64Array::new(out.into(), a.nulls().cloned())))
}

fn arithmetic(op: ArithOp, l: &ArrayRef, r: &ArrayRef, ty: &DataType) -> Result<ArrayRef> {
    if *l.data_type() == DataType::Null || *r.data_type() == DataType::Null {
        return Ok(new_null_array(ty, l.len()));
    }
    match ty {
        DataType::Int64 => {
            let (a, b) = (l.as_primitive::<Int64Type>(), r.as_primitive::<Int64Type>());
            let nulls = NullBuffer::union(a.nulls(), b.nulls());
            let (av, bv) = (a.values(), b.values());
            let mut out = Vec::with_capacity(a.len());
            let sym = match op {
                ArithOp::Add => "+",
                ArithOp::Sub => "-",
                ArithOp::Mul => "*",
                ArithOp::IntDiv => "//",
                ArithOp::Mod => "%",
                ArithOp::Div => "/",
            };
            for i in 0..a.len() {
                if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                    out.push(0);
                    continue;
                }
                let (x, y) = (av[i], bv[i]);
                let v = match op {
                    ArithOp::Add => x.checked_add(y),
                    ArithOp::Sub => x.checked_sub(y),
                    ArithOp::Mul => x.checked_mul(y),
                    ArithOp::IntDiv | ArithOp::Mod if y == 0 => {
                        return Err(QueryError::Execution(format!(
                            "division by zero in ({x} {sym} {y})"
                        )));
                    }
                    ArithOp::IntDiv => x.checked_div(y),
                    ArithOp::Mod => Some(x.checked_rem(y).unwrap_or(0)),
                    ArithOp::Div => return Err(internal_type("integer `/`", ty)),
                };
                out.push(v.ok_or_else(|| {
                    QueryError::Execution(format!("integer overflow in ({x} {sym} {y})"))
                })?);
            }
            Ok(Arc::new(Int64Array::new(out.into(), nulls)))
        }
        DataType::Float64 => {
            let (a, b) = (
                l.as_primitive::<Float64Type>(),
                r.as_primitive::<Float64Type>(),
            );
            let nulls = NullBuffer::union(a.nulls(), b.nulls());
            if op == ArithOp::IntDiv {
                // DuckDB: `/` by zero gives inf/NaN, but `//` by zero is an error.
                let zero = (0..a.len()).find(|&i| {
                    b.values()[i] == 0.0 && nulls.as_ref().is_none_or(|n| n.is_valid(i))
                });
                if let Some(i) = zero {
                    return Err(QueryError::Execution(format!(
                        "division by zero in ({} // 0)",
                        a.values()[i]
                    )));
                }
            }
            let f: fn(f64, f64) -> f64 = match op {
                ArithOp::Add => |x, y| x + y,
                ArithOp::Sub => |x, y| x - y,
                ArithOp::Mul => |x, y| x * y,
                ArithOp::Div | ArithOp::IntDiv => |x, y| x / y,
                ArithOp::Mod => |x, y| x % y,
            };
            let values: Vec<f64> = a
                .values()
                .iter()
                .zip(b.values().iter())
                .map(|(x, y)| f(*x, *y))
                .collect();
            Ok(Arc::new(Float64Array::new(values.into(), nulls)))
        }
        other => Err(internal_type("arithmetic", other)),
    }
}

pub(crate) fn compare(op: CmpOp, l: &ArrayRef, r: &ArrayRef) -> Result<ArrayRef> {
    compare_datums(op, (l, false), (r, false), l.len())
}

/// Compare where either side may be a one-row scalar (a constant), so a literal is never
/// broadcast to the column's length.
fn compare_datums(
    op: CmpOp,
    (l, l_scalar): (&ArrayRef, bool),
    (r, r_scalar): (&ArrayRef, bool),
    rows: usize,
) -> Result<ArrayRef> {
    use arrow_array::Scalar as Constant;
    use arrow_ord::cmp;
    if *l.data_type() == DataType::Null || *r.data_type() == DataType::Null {
        // Only when both sides are untyped NULLs.
        return Ok(Arc::new(match op {
            CmpOp::Distinct => BooleanArray::from(vec![false; rows]),
            CmpOp::NotDistinct => BooleanArray::from(vec![true; rows]),
            _ => BooleanArray::new_null(rows),
        }));
    }
    let (l, r) = (canonical_floats(l), canonical_floats(r));
    let ls = l_scalar.then(|| Constant::new(l.clone()));
    let rs = r_scalar.then(|| Constant::new(r.clone()));
    let ld: &dyn arrow_array::Datum = match &ls {
        Some(s) => s,
        None => &l,
    };
    let rd: &dyn arrow_array::Datum = match &rs {
        Some(s) => s,
        None => &r,
    };
    let out = match op {
        CmpOp::Eq => cmp::eq(ld, rd),
        CmpOp::NotEq => cmp::neq(ld, rd),
        CmpOp::Lt => cmp::lt(ld, rd),
        CmpOp::LtEq => cmp::lt_eq(ld, rd),
        CmpOp::Gt => cmp::gt(ld, rd),
        CmpOp::GtEq => cmp::gt_eq(ld, rd),
        CmpOp::Distinct => cmp::distinct(ld, rd),
        CmpOp::NotDistinct => cmp::not_distinct(ld, rd),
    }?;
    Ok(Arc::new(out))
}

/// No column or aggregate inside: the same value on every row.
pub(crate) fn is_constant(e: &Expr) -> bool {
    !matches!(e.kind, ExprKind::Column(_) | ExprKind::Agg(_))
        && e.children().into_iter().all(is_constant)
}

/// Floats as DuckDB compares and sorts them: -0.0 is 0.0, and every NaN is the one positive
/// NaN. Arrow's kernels order floats by `total_cmp`, where -0.0 < 0.0 and a NaN with the sign
/// bit set (what `inf - inf` or `0.0 / 0.0` produce on x86) sorts before -inf.
pub(crate) fn canonical_floats(a: &ArrayRef) -> ArrayRef {
    if let Some(f) = a.as_primitive_opt::<Float64Type>()
        && f.values()
            .iter()
            .any(|v| (*v == 0.0 || v.is_nan()) && v.is_sign_negative())
    {
        return Arc::new(f.unary::<_, Float64Type>(|v| {
            if v == 0.0 {
                0.0
            } else if v.is_nan() {
                f64::NAN
            } else {
                v
            }
        }));
    }
    a.clone()
}

fn like(
    text: &ArrayRef,
    pattern: &Expr,
    cols: &[ArrayRef],
    rows: usize,
    case_insensitive: bool,
    escape: Option<char>,
) -> Result<ArrayRef> {
    if *text.data_type() == DataType::Null {
        return Ok(Arc::new(BooleanArray::new_null(rows)));
    }
    let text = text.as_string::<i32>();
    let mut buf = Vec::new();
    // A constant pattern is compiled once; a per-row pattern once per row.
    if let ExprKind::Literal(lit) = &pattern.kind {
        let Scalar::Str(p) = lit else {
            return Ok(Arc::new(BooleanArray::new_null(rows)));
        };
        let compiled =
            LikePattern::new(p, escape, case_insensitive).map_err(QueryError::Execution)?;
        let out: BooleanArray = text
            .iter()
            .map(|t| t.map(|t| compiled.matches(t, &mut buf)))
            .collect();
        return Ok(Arc::new(out));
    }
    let patterns = eval(pattern, cols, rows)?;
    if *patterns.data_type() == DataType::Null {
        return Ok(Arc::new(BooleanArray::new_null(rows)));
    }
    let patterns = patterns.as_string::<i32>();
    let out = text
        .iter()
        .zip(patterns.iter())
        .map(|(t, p)| match (t, p) {
            (Some(t), Some(p)) => LikePattern::new(p, escape, case_insensitive)
                .map(|compiled| Some(compiled.matches(t, &mut buf)))
                .map_err(QueryError::Execution),
            _ => Ok(None),
        })
        .collect::<Result<BooleanArray>>()?;
    Ok(Arc::new(out))
}

/// CASE evaluated branch by branch on the rows still undecided, so a branch never sees (and
/// never fails on) rows an earlier condition took, e.g. `CASE WHEN n = 0 THEN 0 ELSE 10 % n END`.
fn case(
    whens: &[(Expr, Expr)],
    otherwise: Option<&Expr>,
    ty: &DataType,
    cols: &[ArrayRef],
    rows: usize,
) -> Result<ArrayRef> {
    if *ty == DataType::Null || rows == 0 {
        return Ok(new_null_array(ty, rows));
    }
    let mut used = Vec::new();
    for (c, v) in whens {
        c.columns_used(&mut used);
        v.columns_used(&mut used);
    }
    if let Some(o) = otherwise {
        o.columns_used(&mut used);
    }
    used.sort_unstable();
    used.dedup();
    // Only the referenced columns are gathered; the others are never read.
    let placeholder = new_empty_array(&DataType::Null);
    let subset = |rows_idx: &[u32]| -> Result<Vec<ArrayRef>> {
        let indices = UInt32Array::from(rows_idx.to_vec());
        let mut out = vec![placeholder.clone(); cols.len()];
        for &i in &used {
            out[i] = arrow_select::take::take(cols[i].as_ref(), &indices, None)?;
        }
        Ok(out)
    };
    let mut remaining: Vec<u32> = (0..rows as u32).collect();
    let mut pieces: Vec<ArrayRef> = Vec::new();
    let mut assign: Vec<(usize, usize)> = vec![(0, 0); rows];
    for (cond, value) in whens {
        if remaining.is_empty() {
            break;
        }
        let sub = subset(&remaining)?;
        let c = eval_predicate(cond, &sub, remaining.len())?;
        let mut hit_local = Vec::new();
        let mut hit_rows = Vec::new();
        let mut miss = Vec::new();
        for (j, &row) in remaining.iter().enumerate() {
            if c.is_valid(j) && c.value(j) {
                hit_local.push(j as u32);
                hit_rows.push(row);
            } else {
                miss.push(row);
            }
        }
        if !hit_rows.is_empty() {
            let sub = subset(&hit_rows)?;
            let v = eval(value, &sub, hit_rows.len())?;
            let k = pieces.len();
            pieces.push(v);
            for (m, &row) in hit_rows.iter().enumerate() {
                assign[row as usize] = (k, m);
            }
        }
        remaining = miss;
    }
    if !remaining.is_empty() {
        let v = match otherwise {
            Some(o) => eval(o, &subset(&remaining)?, remaining.len())?,
            None => new_null_array(ty, remaining.len()),
        };
        let k = pieces.len();
        pieces.push(v);
        for (m, &row) in remaining.iter().enumerate() {
            assign[row as usize] = (k, m);
        }
    }
    let refs: Vec<&dyn Array> = pieces.iter().map(|p| p.as_ref()).collect();
    Ok(arrow_select::interleave::interleave(&refs, &assign)?)
}

fn function(func: ScalarFunc, args: &[ArrayRef], ty: &DataType, rows: usize) -> Result<ArrayRef> {
    match func {
        ScalarFunc::Round => round(&args[0], args.get(1), ty, rows),
        ScalarFunc::Abs | ScalarFunc::Ceil | ScalarFunc::Floor => {
            let x = &args[0];
            match x.data_type() {
                DataType::Null => Ok(new_null_array(ty, rows)),
                DataType::Int64 => {
                    let a = x.as_primitive::<Int64Type>();
                    if func == ScalarFunc::Abs {
                        int_unary(a, |v| v.checked_abs().ok_or_else(|| overflow("abs", v)))
                    } else {
                        Ok(x.clone())
                    }
                }
                DataType::Float64 => {
                    let f: fn(f64) -> f64 = match func {
                        ScalarFunc::Abs => f64::abs,
                        ScalarFunc::Ceil => f64::ceil,
                        _ => f64::floor,
                    };
                    Ok(Arc::new(
                        x.as_primitive::<Float64Type>().unary::<_, Float64Type>(f),
                    ))
                }
                other => Err(internal_type("numeric function", other)),
            }
        }
        ScalarFunc::Lower | ScalarFunc::Upper => {
            if *args[0].data_type() == DataType::Null {
                return Ok(new_null_array(ty, rows));
            }
            let s = args[0].as_string::<i32>();
            let out: StringArray = s
                .iter()
                .map(|v| {
                    v.map(|v| {
                        if func == ScalarFunc::Lower {
                            v.chars().map(lower_simple).collect::<String>()
                        } else {
                            v.chars().map(upper_simple).collect::<String>()
                        }
                    })
                })
                .collect();
            Ok(Arc::new(out))
        }
        ScalarFunc::Length => {
            if *args[0].data_type() == DataType::Null {
                return Ok(new_null_array(ty, rows));
            }
            let s = args[0].as_string::<i32>();
            let out: Int64Array = s
                .iter()
                .map(|v| v.map(|v| v.chars().count() as i64))
                .collect();
            Ok(Arc::new(out))
        }
        ScalarFunc::Coalesce => {
            let mut acc = args.last().expect("coalesce has arguments").clone();
            for a in args.iter().rev().skip(1) {
                if *a.data_type() == DataType::Null {
                    continue;
                }
                let mask = BooleanArray::new(
                    a.logical_nulls()
                        .map(|n| n.inner().clone())
                        .unwrap_or_else(|| BooleanBuffer::new_set(rows)),
                    None,
                );
                acc = if *acc.data_type() == DataType::Null {
                    arrow_select::nullif::nullif(
                        a.as_ref(),
                        &BooleanArray::new(!mask.values(), None),
                    )?
                } else {
                    arrow_select::zip::zip(&mask, a, &acc)?
                };
            }
            Ok(if *acc.data_type() != *ty {
                new_null_array(ty, rows)
            } else {
                acc
            })
        }
        ScalarFunc::Greatest | ScalarFunc::Least => {
            let greatest = func == ScalarFunc::Greatest;
            let mut best: Option<ArrayRef> = None;
            for a in args.iter().filter(|a| *a.data_type() != DataType::Null) {
                let Some(current) = best.take() else {
                    best = Some(a.clone());
                    continue;
                };
                let better = compare(if greatest { CmpOp::Gt } else { CmpOp::Lt }, a, &current)?;
                let better = better.as_boolean();
                let mask: BooleanArray = (0..rows)
                    .map(|i| Some(a.is_valid(i) && (current.is_null(i) || better.value(i))))
                    .collect();
                best = Some(arrow_select::zip::zip(&mask, a, &current)?);
            }
            Ok(best.unwrap_or_else(|| new_null_array(ty, rows)))
        }
        ScalarFunc::NullIf => {
            let (a, b) = (&args[0], &args[1]);
            if *a.data_type() == DataType::Null || *b.data_type() == DataType::Null {
                return Ok(if *a.data_type() == DataType::Null {
                    new_null_array(ty, rows)
                } else {
                    a.clone()
                });
            }
            let eq = compare(CmpOp::Eq, a, b)?;
            Ok(arrow_select::nullif::nullif(a.as_ref(), eq.as_boolean())?)
        }
        ScalarFunc::Substring => {
            if args.iter().any(|a| *a.data_type() == DataType::Null) {
                return Ok(new_null_array(ty, rows));
            }
            let s = args[0].as_string::<i32>();
            let start = args[1].as_primitive::<Int64Type>();
            let len = args.get(2).map(|a| a.as_primitive::<Int64Type>());
            let mut b = StringBuilder::with_capacity(rows, rows * 8);
            for i in 0..rows {
                if s.is_null(i) || start.is_null(i) || len.is_some_and(|l| l.is_null(i)) {
                    b.append_null();
                    continue;
                }
                b.append_value(substring(
                    s.value(i),
                    start.value(i),
                    len.map(|l| l.value(i)),
                ));
            }
            Ok(Arc::new(b.finish()))
        }
        ScalarFunc::Concat | ScalarFunc::StrConcat => {
            let skip_nulls = func == ScalarFunc::Concat;
            let parts: Vec<Option<&StringArray>> =
                args.iter().map(|a| a.as_string_opt::<i32>()).collect();
            let mut b = StringBuilder::with_capacity(rows, rows * 16);
            let mut buf = String::new();
            'row: for i in 0..rows {
                buf.clear();
                for p in &parts {
                    match p {
                        Some(p) if p.is_valid(i) => buf.push_str(p.value(i)),
                        _ if skip_nulls => {}
                        _ => {
                            b.append_null();
                            continue 'row;
                        }
                    }
                }
                b.append_value(&buf);
            }
            Ok(Arc::new(b.finish()))
        }
    }
}

/// DuckDB's `substring(s, start, length)` over characters: `start` 1 is the first character,
/// 0 the position before it, -1 the last; the characters taken are `[p, p + length)` for a
/// length >= 0 and `[p + length, p)` for a negative one (`p` the 0-based position of `start`),
/// clipped to the string; without a length, from `p` to the end.
pub(crate) fn substring(s: &str, start: i64, length: Option<i64>) -> &str {
    let n = s.chars().count() as i128;
    let start = i128::from(start);
    let p = if start > 0 {
        start - 1
    } else if start == 0 {
        -1
    } else {
        n + start
    };
    let (lo, hi) = match length.map(i128::from) {
        None => (p, n),
        Some(l) if l >= 0 => (p, p + l),
        Some(l) => (p + l, p),
    };
    let (lo, hi) = (lo.clamp(0, n), hi.clamp(0, n));
    if lo >= hi {
        return "";
    }
    let byte = |c: i128| s.char_indices().nth(c as usize).map_or(s.len(), |(b, _)| b);
    &s[byte(lo)..byte(hi)]
}

/// DuckDB's round: half away from zero; with digits, scale by 10^digits, round, unscale (so
/// round(1.005, 2) is 1.0 as in DuckDB, the product being 100.49999...). Integers with
/// negative digits round to tens, hundreds, ...
fn round(x: &ArrayRef, digits: Option<&ArrayRef>, ty: &DataType, rows: usize) -> Result<ArrayRef> {
    if *x.data_type() == DataType::Null {
        return Ok(new_null_array(ty, rows));
    }
    let digits: Option<&Int64Array> = digits.and_then(|d| d.as_primitive_opt::<Int64Type>());
    let digit = |i: usize| -> Option<Option<i64>> {
        match digits {
            None => Some(None),
            Some(d) if d.is_valid(i) => Some(Some(d.value(i))),
            Some(_) => None,
        }
    };
    match x.data_type() {
        DataType::Float64 => {
            let a = x.as_primitive::<Float64Type>();
            let out: Float64Array = (0..rows)
                .map(|i| {
                    if a.is_null(i) {
                        return None;
                    }
                    let v = a.value(i);
                    Some(match digit(i)? {
                        None => v.round(),
                        // As DuckDB 2.x: infinities and NaN stay; a result that overflows
                        // keeps the input; 10^-d beyond f64 (0 * inf = NaN) gives 0.
                        Some(_) if !v.is_finite() => v,
                        Some(d) if d < 0 => {
                            let m = 10f64.powf(-d as f64);
                            let r = (v / m).round() * m;
                            if r.is_nan() {
                                0.0
                            } else if r.is_infinite() {
                                v
                            } else {
                                r
                            }
                        }
                        Some(d) => {
                            let m = 10f64.powf(d as f64);
                            let r = (v * m).round() / m;
                            if r.is_finite() { r } else { v }
                        }
                    })
                })
                .collect();
            Ok(Arc::new(out))
        }
        DataType::Int64 => {
            let a = x.as_primitive::<Int64Type>();
            let mut out = Vec::with_capacity(rows);
            for i in 0..rows {
                if a.is_null(i) {
                    out.push(None);
                    continue;
                }
                let v = a.value(i);
                out.push(match digit(i) {
                    None => None,
                    Some(Some(d)) if d < 0 => Some(round_int(v, -d)?),
                    Some(_) => Some(v),
                });
            }
            Ok(Arc::new(Int64Array::from(out)))
        }
        other => Err(internal_type("round", other)),
    }
}

fn round_int(v: i64, places: i64) -> Result<i64> {
    if places > 18 {
        return Ok(0);
    }
    let m = 10i64.pow(places as u32);
    let (q, r) = (v / m, v % m);
    let q = if r.unsigned_abs() * 2 >= m.unsigned_abs() {
        q + v.signum()
    } else {
        q
    };
    q.checked_mul(m).ok_or_else(|| overflow("round", v))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DuckDB 2.0.1's `substring('héllo', start[, length])` for every start from -7 to 7 and
    /// the lengths none, -3, -1, 0, 1, 2, 3, 7.
    #[test]
    fn substring_matches_duckdb_on_every_start_and_length() {
        let lengths = [
            None,
            Some(-3),
            Some(-1),
            Some(0),
            Some(1),
            Some(2),
            Some(3),
            Some(7),
        ];
        let table: [(i64, [&str; 8]); 15] = [
            (-7, ["héllo", "", "", "", "", "", "h", "héllo"]),
            (-6, ["héllo", "", "", "", "", "h", "hé", "héllo"]),
            (-5, ["héllo", "", "", "", "h", "hé", "hél", "héllo"]),
            (-4, ["éllo", "h", "h", "", "é", "él", "éll", "éllo"]),
            (-3, ["llo", "hé", "é", "", "l", "ll", "llo", "llo"]),
            (-2, ["lo", "hél", "l", "", "l", "lo", "lo", "lo"]),
            (-1, ["o", "éll", "l", "", "o", "o", "o", "o"]),
            (0, ["héllo", "", "", "", "", "h", "hé", "héllo"]),
            (1, ["héllo", "", "", "", "h", "hé", "hél", "héllo"]),
            (2, ["éllo", "h", "h", "", "é", "él", "éll", "éllo"]),
            (3, ["llo", "hé", "é", "", "l", "ll", "llo", "llo"]),
            (4, ["lo", "hél", "l", "", "l", "lo", "lo", "lo"]),
            (5, ["o", "éll", "l", "", "o", "o", "o", "o"]),
            (6, ["", "llo", "o", "", "", "", "", ""]),
            (7, ["", "lo", "", "", "", "", "", ""]),
        ];
        for (start, row) in table {
            for (len, want) in lengths.iter().zip(row) {
                assert_eq!(
                    substring("héllo", start, *len),
                    want,
                    "start {start} length {len:?}"
                );
            }
        }
        // Offsets far outside the string clip instead of overflowing.
        assert_eq!(substring("abc", i64::MAX, Some(i64::MAX)), "");
        assert_eq!(substring("abc", i64::MIN, Some(i64::MAX)), "ab");
        assert_eq!(substring("abc", i64::MIN, Some(i64::MIN)), "");
    }

    #[test]
    fn kleene_truth_tables() {
        let a = BooleanArray::from(vec![
            Some(true),
            Some(true),
            Some(true),
            Some(false),
            Some(false),
            None,
            None,
        ]);
        let b = BooleanArray::from(vec![
            Some(true),
            Some(false),
            None,
            Some(false),
            None,
            None,
            Some(false),
        ]);
        let and: Vec<Option<bool>> = kleene(&a, &b, true).iter().collect();
        assert_eq!(
            and,
            vec![
                Some(true),
                Some(false),
                None,
                Some(false),
                Some(false),
                None,
                Some(false)
            ]
        );
        let or: Vec<Option<bool>> = kleene(&a, &b, false).iter().collect();
        assert_eq!(
            or,
            vec![
                Some(true),
                Some(true),
                Some(true),
                Some(false),
                None,
                None,
                None
            ]
        );
    }

    #[test]
    fn integer_rounding_matches_duckdb() {
        assert_eq!(round_int(12345, 2).unwrap(), 12300);
        assert_eq!(round_int(12355, 1).unwrap(), 12360);
        assert_eq!(round_int(-15, 1).unwrap(), -20);
        assert_eq!(round_int(-14, 1).unwrap(), -10);
    }
}
