//! CAST with DuckDB's rules where they differ from Arrow's: DOUBLE -> integer rounds half to
//! even while strings (and decimal literals, see `bind`) round half away from zero (Arrow
//! truncates); strings are trimmed before parsing numbers; integer targets check the SQL type's
//! range; DOUBLE -> VARCHAR prints like DuckDB (`1.0`, `1e+16`).

use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, new_null_array};
use arrow_schema::DataType;

use super::error::{QueryError, Result};
use super::expr::{CastTarget, sql_type_name};

pub(crate) fn cast(array: &ArrayRef, to: &CastTarget, try_cast: bool) -> Result<ArrayRef> {
    let n = array.len();
    let target = to.data_type();
    let from = array.data_type();
    if *from == DataType::Null {
        return Ok(new_null_array(&target, n));
    }
    let fail = |value: String| -> QueryError {
        QueryError::Execution(format!(
            "could not convert {} {value} to {}",
            sql_type_name(from),
            match to {
                CastTarget::Int { sql_name, .. } => (*sql_name).to_string(),
                other => sql_type_name(&other.data_type()),
            }
        ))
    };
    match to {
        CastTarget::Int { min, max, .. } => {
            let in_range = |v: i64| v >= *min && v <= *max;
            let convert = |i: usize| -> Result<Option<i64>, String> {
                match from {
                    DataType::Int64 => {
                        let v = array.as_primitive::<Int64Type>().value(i);
                        if in_range(v) {
                            Ok(Some(v))
                        } else {
                            Err(v.to_string())
                        }
                    }
                    DataType::Float64 => {
                        let v = array.as_primitive::<Float64Type>().value(i);
                        float_to_int(v, *min, *max, Rounding::HalfEven)
                            .map(Some)
                            .ok_or_else(|| format_double(v))
                    }
                    DataType::Boolean => Ok(Some(array.as_boolean().value(i) as i64)),
                    DataType::Utf8 => {
                        let s = array.as_string::<i32>().value(i);
                        let parsed = parse_int(s)
                            .and_then(|v| i64::try_from(v).ok())
                            .filter(|v| in_range(*v));
                        parsed.map(Some).ok_or_else(|| format!("'{s}'"))
                    }
                    _ => Err(String::new()),
                }
            };
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                if array.is_null(i) {
                    out.push(None);
                    continue;
                }
                match convert(i) {
                    Ok(v) => out.push(v),
                    Err(_) if try_cast => out.push(None),
                    Err(v) => return Err(fail(v)),
                }
            }
            Ok(Arc::new(Int64Array::from(out)))
        }
        CastTarget::Float64 => {
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                if array.is_null(i) {
                    out.push(None);
                    continue;
                }
                let v = match from {
                    DataType::Int64 => Some(array.as_primitive::<Int64Type>().value(i) as f64),
                    DataType::Float64 => Some(array.as_primitive::<Float64Type>().value(i)),
                    DataType::Boolean => Some(array.as_boolean().value(i) as i64 as f64),
                    DataType::Utf8 => parse_f64(array.as_string::<i32>().value(i)),
                    _ => None,
                };
                match v {
                    Some(v) => out.push(Some(v)),
                    None if try_cast => out.push(None),
                    None => return Err(fail(format!("'{}'", array.as_string::<i32>().value(i)))),
                }
            }
            Ok(Arc::new(Float64Array::from(out)))
        }
        CastTarget::Utf8 => {
            let mut b = StringBuilder::with_capacity(n, n * 8);
            let mut buf = String::new();
            for i in 0..n {
                if array.is_null(i) {
                    b.append_null();
                    continue;
                }
                buf.clear();
                match from {
                    DataType::Int64 => {
                        use std::fmt::Write;
                        let _ = write!(buf, "{}", array.as_primitive::<Int64Type>().value(i));
                    }
                    DataType::Float64 => {
                        buf.push_str(&format_double(array.as_primitive::<Float64Type>().value(i)))
                    }
                    DataType::Boolean => buf.push_str(if array.as_boolean().value(i) {
                        "true"
                    } else {
                        "false"
                    }),
                    DataType::Utf8 => buf.push_str(array.as_string::<i32>().value(i)),
                    other => {
                        return Err(QueryError::unsupported(format!(
                            "CAST from {} to VARCHAR",
                            sql_type_name(other)
                        )));
                    }
                }
                b.append_value(&buf);
            }
            Ok(Arc::new(b.finish()))
        }
        CastTarget::Boolean => {
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                if array.is_null(i) {
                    out.push(None);
                    continue;
                }
                let v = match from {
                    DataType::Int64 => Some(array.as_primitive::<Int64Type>().value(i) != 0),
                    DataType::Float64 => Some(array.as_primitive::<Float64Type>().value(i) != 0.0),
                    DataType::Boolean => Some(array.as_boolean().value(i)),
                    DataType::Utf8 => parse_bool(array.as_string::<i32>().value(i)),
                    _ => None,
                };
                match v {
                    Some(v) => out.push(Some(v)),
                    None if try_cast => out.push(None),
                    None => return Err(fail(format!("'{}'", array.as_string::<i32>().value(i)))),
                }
            }
            Ok(Arc::new(BooleanArray::from(out)))
        }
        CastTarget::Timestamp(tz) => {
            // Parse (or convert) to UTC microseconds without a zone, then attach the zone:
            // Arrow's parser only knows offset zones ("+00:00") without chrono-tz, and a zone
            // is metadata on UTC values anyway.
            let options = arrow_cast::CastOptions {
                safe: try_cast,
                ..Default::default()
            };
            let naive = DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, None);
            let utc = match from {
                DataType::Timestamp(..) => arrow_cast::cast_with_options(
                    array,
                    &DataType::Timestamp(
                        arrow_schema::TimeUnit::Microsecond,
                        Some("+00:00".into()),
                    ),
                    &options,
                )?,
                _ => arrow_cast::cast_with_options(array, &naive, &options).map_err(|e| {
                    QueryError::Execution(format!("could not convert to TIMESTAMP: {e}"))
                })?,
            };
            let micros = utc.as_primitive::<TimestampMicrosecondType>().clone();
            Ok(Arc::new(micros.with_timezone_opt(tz.clone())))
        }
    }
}

/// How a fractional value becomes an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rounding {
    /// DuckDB's DOUBLE -> integer cast (nearbyint): 2.5 -> 2, 3.5 -> 4.
    HalfEven,
    /// DuckDB's DECIMAL (and so decimal literal and string) -> integer cast: 2.5 -> 3.
    HalfAway,
}

/// `None` if out of range or NaN.
pub(crate) fn float_to_int(v: f64, min: i64, max: i64, rounding: Rounding) -> Option<i64> {
    let r = match rounding {
        Rounding::HalfEven => v.round_ties_even(),
        Rounding::HalfAway => v.round(),
    };
    // i64::MAX as f64 rounds up to 2^63, which is already out of range.
    if r.is_nan() || r < min as f64 || r >= (max as f64) + 1.0 {
        return None;
    }
    let i = r as i64;
    (i >= min && i <= max).then_some(i)
}

/// `1_000` is 1000 in DuckDB: an underscore between two digits is dropped.
fn without_digit_separators(s: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !s.contains('_') {
        return Some(s.into());
    }
    let b = s.as_bytes();
    let ok = b.iter().enumerate().all(|(i, &c)| {
        c != b'_'
            || (i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
    });
    ok.then(|| s.replace('_', "").into())
}

fn parse_f64(s: &str) -> Option<f64> {
    without_digit_separators(s.trim())?.parse::<f64>().ok()
}

/// VARCHAR to an integer as DuckDB reads it: `0x1f` and `0b101`, `1_000`, and a decimal
/// (`2.5`, `1.5e1`) rounded half away from zero on its exact digits (`1.4999999999999999` is
/// 1, though it is 1.5 as a DOUBLE).
fn parse_int(s: &str) -> Option<i128> {
    let t = s.trim();
    let (negative, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let radix = match body.get(..2) {
        Some("0x" | "0X") => Some(16),
        Some("0b" | "0B") => Some(2),
        _ => None,
    };
    let magnitude = if let Some(radix) = radix {
        i128::from_str_radix(&without_digit_separators(&body[2..])?, radix).ok()?
    } else {
        let body = without_digit_separators(body)?;
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(k) => (&body[..k], body[k + 1..].parse::<i32>().ok()?),
            None => (&body[..], 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit())
        {
            return None;
        }
        // All digits, and where the decimal point falls in them after the exponent.
        let digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|c| c - b'0').collect();
        let point = int.len() as i64 + exponent as i64;
        if point > 40 && digits.iter().any(|&d| d != 0) {
            return None;
        }
        let mut value: i128 = 0;
        for k in 0..point.clamp(0, 40) {
            let d = digits.get(k as usize).copied().unwrap_or(0);
            value = value.checked_mul(10)?.checked_add(d as i128)?;
        }
        // The first digit after the point (an implicit 0 when the point is before the digits):
        // 5 or more rounds the magnitude up, half away from zero.
        let first_dropped = usize::try_from(point)
            .ok()
            .and_then(|p| digits.get(p).copied())
            .unwrap_or(0);
        value + i128::from(first_dropped >= 5)
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// DuckDB's spellings, case-insensitive and without surrounding spaces (`' true '` is not a
/// BOOLEAN there); `on`/`off` are not accepted either.
fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" => Some(true),
        "false" | "f" | "0" | "no" | "n" => Some(false),
        _ => None,
    }
}

/// A DOUBLE as DuckDB prints it (the shortest repr that round-trips, Python's layout):
/// fixed notation for exponents -4..16 with at least one decimal, else `1.5e+16`, `1e-05`.
pub(crate) fn format_double(x: f64) -> String {
    if x.is_nan() {
        // DuckDB prints the sign bit: `0 * inf` (a negative NaN on x86) is `-nan`.
        return if x.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let sci = shortest_sci(x);
    let (mantissa, exponent) = sci.split_once('e').expect("LowerExp has an exponent");
    let exponent: i32 = exponent.parse().expect("LowerExp exponent is an integer");
    if (-4..16).contains(&exponent) {
        let (sign, unsigned) = match mantissa.strip_prefix('-') {
            Some(m) => ("-", m),
            None => ("", mantissa),
        };
        let digits: String = unsigned.chars().filter(char::is_ascii_digit).collect();
        let point = exponent + 1;
        if point <= 0 {
            format!(
                "{sign}0.{}{digits}",
                "0".repeat(point.unsigned_abs() as usize)
            )
        } else {
            let point = point as usize;
            if digits.len() <= point {
                format!("{sign}{digits}{}.0", "0".repeat(point - digits.len()))
            } else {
                format!("{sign}{}.{}", &digits[..point], &digits[point..])
            }
        }
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

/// The shortest digits that read back as `x` (Rust's `{:e}`), where a tie between two
/// shortest candidates goes to the correctly rounded one, as DuckDB and Python print:
/// 1000000000000000.25 (exactly representable) is `1000000000000000.2`, Rust's `{}` gives
/// `1000000000000000.3`.
fn shortest_sci(x: f64) -> String {
    let sci = format!("{x:e}");
    let digits = sci
        .split_once('e')
        .map_or(0, |(m, _)| m.chars().filter(char::is_ascii_digit).count());
    let rounded = format!("{x:.*e}", digits.saturating_sub(1));
    if rounded.parse::<f64>() == Ok(x) {
        rounded
    } else {
        sci
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_read_as_integers_like_duckdb() {
        // Expected values are DuckDB 2.0's TRY_CAST(s AS BIGINT).
        let cases = [
            ("0x10", Some(16)),
            ("0X1f", Some(31)),
            ("0b101", Some(5)),
            ("1_000", Some(1000)),
            ("_1", None),
            ("1__0", None),
            ("0o17", None),
            ("1.4999999999999999", Some(1)),
            ("1.45", Some(1)),
            ("1.5", Some(2)),
            ("-1.5", Some(-2)),
            ("2.5", Some(3)),
            ("1e2", Some(100)),
            ("1.5e1", Some(15)),
            ("+3", Some(3)),
            (" 4 ", Some(4)),
            ("5.", Some(5)),
            (".5", Some(1)),
            ("0x", None),
            ("1_000.5", Some(1001)),
            ("0x10.5", None),
            ("", None),
            (".", None),
            ("abc", None),
            ("1e-1", Some(0)),
            ("5e-1", Some(1)),
        ];
        for (s, want) in cases {
            assert_eq!(parse_int(s), want, "{s:?}");
        }
        assert_eq!(parse_f64("1_000.5"), Some(1000.5));
        assert_eq!(parse_f64("0x10"), None);
        assert_eq!(parse_bool(" true "), None);
        assert_eq!(parse_bool("on"), None);
        assert_eq!(parse_bool("Yes"), Some(true));
    }

    #[test]
    fn doubles_print_like_duckdb() {
        // Expected strings are DuckDB 2.0's CAST(x AS VARCHAR).
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (0.00012345, "0.00012345"),
            (-2.5, "-2.5"),
            (1.0 / 3.0, "0.3333333333333333"),
            (100.0, "100.0"),
            (1e21, "1e+21"),
            (f64::NAN, "nan"),
            (-f64::NAN, "-nan"),
            (f64::INFINITY, "inf"),
            (1e15 + 0.25, "1000000000000000.2"),
            (-(1e15 + 0.25), "-1000000000000000.2"),
            (0.000123, "0.000123"),
            (-0.00012345, "-0.00012345"),
            (123.456, "123.456"),
            (9007199254740992.0, "9007199254740992.0"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ];
        for (x, want) in cases {
            assert_eq!(format_double(x), want, "{x}");
        }
    }

    #[test]
    fn fractions_round_like_duckdb() {
        let (lo, hi) = (i64::MIN, i64::MAX);
        // DOUBLE -> BIGINT: half to even.
        assert_eq!(float_to_int(2.5, lo, hi, Rounding::HalfEven), Some(2));
        assert_eq!(float_to_int(3.5, lo, hi, Rounding::HalfEven), Some(4));
        assert_eq!(float_to_int(-2.5, lo, hi, Rounding::HalfEven), Some(-2));
        // DECIMAL / VARCHAR -> BIGINT: half away from zero.
        assert_eq!(float_to_int(2.5, lo, hi, Rounding::HalfAway), Some(3));
        assert_eq!(float_to_int(-2.5, lo, hi, Rounding::HalfAway), Some(-3));
        assert_eq!(float_to_int(1.7, lo, hi, Rounding::HalfEven), Some(2));
        let (i32_lo, i32_hi) = (i32::MIN as i64, i32::MAX as i64);
        assert_eq!(float_to_int(3e9, i32_lo, i32_hi, Rounding::HalfEven), None);
        assert_eq!(float_to_int(f64::NAN, lo, hi, Rounding::HalfEven), None);
        assert_eq!(float_to_int(9.3e18, lo, hi, Rounding::HalfEven), None);
    }
}
