//! Grid expansion: `product` lists crossed, `zip` lists in lockstep, crossed with each other.
//! Trial ids are stable hashes of the resolved grid point, so the same parameters get the same
//! id in every run (and `compare` can match trials across runs).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::spec::GridSpec;

/// One combination of grid values.
pub type GridPoint = BTreeMap<String, Value>;

/// Why a grid cannot be expanded (each names the offending key).
#[derive(Clone, Debug, PartialEq)]
pub enum GridError {
    /// A list with no values: the grid would have no trials.
    Empty {
        /// `product` or `zip`.
        section: &'static str,
        /// The key.
        key: String,
    },
    /// `zip` lists of different lengths.
    ZipLength {
        /// The key whose length differs from the first.
        key: String,
        /// Its length.
        len: usize,
        /// The first list (in name order).
        first: String,
        /// The first list's length.
        expected: usize,
    },
    /// The same value twice in a `product` list, or the same row twice in `zip`: two trials
    /// would be the same grid point, with the same trial id.
    Repeated {
        /// `product` or `zip`.
        section: &'static str,
        /// The key (a product list, or the first zip list).
        key: String,
        /// The repeated value (a product value, or a zip row as a JSON object).
        value: String,
        /// 0-based positions of the two occurrences.
        at: (usize, usize),
    },
    /// The same key in `product` and `zip`.
    Duplicate {
        /// The key.
        key: String,
    },
    /// More than [`MAX_TRIALS`] grid points (`None`: more than `u64` counts).
    TooMany {
        /// The number of grid points.
        trials: Option<u64>,
    },
}

/// The most trials a grid may expand to. Each trial is planned (its templates rendered, its
/// prompts checked) before anything is sent, so a grid of millions of points would take
/// minutes and gigabytes before the first request; far more trials than any sweep needs.
pub const MAX_TRIALS: u64 = 10_000;

/// Every grid point, in a stable order (product keys in name order, the last varying fastest;
/// then zip rows). No grid means one empty point.
pub fn expand(grid: Option<&GridSpec>) -> Result<Vec<GridPoint>, Vec<GridError>> {
    let Some(grid) = grid else {
        return Ok(vec![GridPoint::new()]);
    };
    let mut errors = Vec::new();
    for (section, map) in [("product", &grid.product), ("zip", &grid.zip)] {
        for (k, v) in map {
            if v.is_empty() {
                errors.push(GridError::Empty {
                    section,
                    key: k.clone(),
                });
            }
        }
    }
    let (first, zip_len) = grid
        .zip
        .iter()
        .next()
        .map_or((String::new(), 1), |(k, v)| (k.clone(), v.len()));
    for (k, v) in &grid.zip {
        if v.len() != zip_len {
            errors.push(GridError::ZipLength {
                key: k.clone(),
                len: v.len(),
                first: first.clone(),
                expected: zip_len,
            });
        }
        if grid.product.contains_key(k) {
            errors.push(GridError::Duplicate { key: k.clone() });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // A repeated value or row would run the same grid point twice under one trial id.
    for (k, values) in &grid.product {
        if let Some((i, j)) = first_repeat(values) {
            errors.push(GridError::Repeated {
                section: "product",
                key: k.clone(),
                value: values[i].to_string(),
                at: (i, j),
            });
        }
    }
    let rows: Vec<serde_json::Value> = (0..if grid.zip.is_empty() { 0 } else { zip_len })
        .map(|i| {
            serde_json::Value::Object(
                grid.zip
                    .iter()
                    .map(|(k, v)| (k.clone(), v[i].clone()))
                    .collect(),
            )
        })
        .collect();
    if let Some((i, j)) = first_repeat(&rows) {
        errors.push(GridError::Repeated {
            section: "zip",
            key: first,
            value: rows[i].to_string(),
            at: (i, j),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Counted before any point is built.
    let trials = grid.product.values().try_fold(
        if grid.zip.is_empty() {
            1
        } else {
            zip_len as u64
        },
        |n, v| n.checked_mul(v.len() as u64),
    );
    if trials.is_none_or(|n| n > MAX_TRIALS) {
        return Err(vec![GridError::TooMany { trials }]);
    }
    let mut points = vec![GridPoint::new()];
    for (k, values) in &grid.product {
        let mut next = Vec::with_capacity(points.len() * values.len());
        for p in &points {
            for v in values {
                let mut q = p.clone();
                q.insert(k.clone(), v.clone());
                next.push(q);
            }
        }
        points = next;
    }
    if !grid.zip.is_empty() {
        let mut next = Vec::with_capacity(points.len() * zip_len);
        for p in &points {
            for i in 0..zip_len {
                let mut q = p.clone();
                for (k, values) in &grid.zip {
                    q.insert(k.clone(), values[i].clone());
                }
                next.push(q);
            }
        }
        points = next;
    }
    Ok(points)
}

/// Where each value of the `index`-th point of [`expand`] is listed: (key, `product` or
/// `zip`, position in that key's list), in key order. Follows `expand`'s order: product keys
/// in name order with the last varying fastest, then zip rows fastest of all.
pub fn sources(grid: &GridSpec, index: usize) -> Vec<(&str, &'static str, usize)> {
    let mut rest = index;
    let mut out = Vec::with_capacity(grid.product.len() + grid.zip.len());
    if let Some(len) = grid.zip.values().next().map(Vec::len).filter(|&n| n > 0) {
        let row = rest % len;
        rest /= len;
        out.extend(grid.zip.keys().map(|k| (k.as_str(), "zip", row)));
    }
    for (k, values) in grid.product.iter().rev() {
        let len = values.len().max(1);
        out.push((k.as_str(), "product", rest % len));
        rest /= len;
    }
    out.sort_by_key(|(k, _, _)| *k);
    out
}

/// The positions of the first value that appears twice (in one pass: lists may be long).
fn first_repeat(values: &[serde_json::Value]) -> Option<(usize, usize)> {
    // Equal values have equal JSON text (object keys are sorted), and the reverse holds too.
    let mut seen = std::collections::HashMap::with_capacity(values.len());
    values
        .iter()
        .enumerate()
        .find_map(|(j, v)| seen.insert(v.to_string(), j).map(|i| (i, j)))
}

/// The trial id of a grid point: 12 hex digits of a 64-bit hash (FNV-1a, then one splitmix64
/// round) of its canonical JSON (keys sorted, compact).
pub fn trial_id(point: &GridPoint) -> String {
    let canonical = serde_json::to_string(point).unwrap_or_default();
    // FNV alone barely changes for similar inputs; a splitmix64 round spreads the bits.
    let mut h = crate::rng::fnv1a64(canonical.as_bytes());
    format!("{:016x}", crate::rng::splitmix64(&mut h))[..12].to_string()
}

/// `key=value` pairs for display, e.g. `endpoint=sim-small temperature=0.7`.
pub fn describe(point: &GridPoint) -> String {
    if point.is_empty() {
        return "(no grid)".into();
    }
    point
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn grid(product: Value, zip: Value) -> GridSpec {
        GridSpec {
            product: serde_json::from_value(product).unwrap(),
            zip: serde_json::from_value(zip).unwrap(),
            repeats: 1,
        }
    }

    #[test]
    fn product_times_zip() {
        let g = grid(
            json!({"a": [1, 2], "b": ["x", "y", "z"]}),
            json!({"c": [0.1, 0.2], "d": [true, false]}),
        );
        let pts = expand(Some(&g)).unwrap();
        assert_eq!(pts.len(), 12);
        assert_eq!(describe(&pts[0]), "a=1 b=x c=0.1 d=true");
        assert_eq!(describe(&pts[1]), "a=1 b=x c=0.2 d=false");
        assert_eq!(describe(&pts[11]), "a=2 b=z c=0.2 d=false");
        let ids: std::collections::BTreeSet<String> = pts.iter().map(trial_id).collect();
        assert_eq!(ids.len(), 12);
    }

    #[test]
    fn sources_name_where_each_points_values_are_listed() {
        for g in [
            grid(
                json!({"a": [1, 2], "b": ["x", "y", "z"]}),
                json!({"c": [0.1, 0.2], "d": [true, false]}),
            ),
            grid(json!({"b": ["x", "y", "z"], "a": [1, 2]}), json!({})),
            grid(json!({}), json!({"c": [0.1, 0.2, 0.3]})),
        ] {
            for (index, point) in expand(Some(&g)).unwrap().iter().enumerate() {
                let sources = sources(&g, index);
                assert_eq!(sources.len(), point.len());
                for (key, section, at) in sources {
                    let list = if section == "zip" { &g.zip } else { &g.product };
                    assert_eq!(list[key][at], point[key], "point {index}, {key}");
                }
            }
        }
    }

    #[test]
    fn ids_are_stable() {
        let mut p = GridPoint::new();
        p.insert("temperature".into(), json!(0.7));
        p.insert("endpoint".into(), json!("sim"));
        assert_eq!(trial_id(&p), trial_id(&p.clone()));
        assert_eq!(trial_id(&p).len(), 12);
    }

    #[test]
    fn errors() {
        let g = grid(
            json!({"a": []}),
            json!({"c": [1, 2], "d": [1], "a": [1, 2]}),
        );
        let e = expand(Some(&g)).unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!(expand(None).unwrap(), vec![GridPoint::new()]);
    }

    #[test]
    fn grids_past_max_trials_are_refused_before_expansion() {
        let ten: Vec<u64> = (0..10).collect();
        let product: serde_json::Map<String, Value> =
            (0..4).map(|i| (format!("k{i}"), json!(ten))).collect();
        assert_eq!(
            expand(Some(&grid(Value::Object(product.clone()), json!({}))))
                .unwrap()
                .len(),
            10_000
        );
        let mut five = product.clone();
        five.insert("k4".into(), json!([1, 2]));
        assert_eq!(
            expand(Some(&grid(Value::Object(five), json!({})))).unwrap_err(),
            vec![GridError::TooMany {
                trials: Some(20_000)
            }]
        );
        // Twenty lists of ten: 10^20 points, more than u64 counts.
        let huge: serde_json::Map<String, Value> =
            (0..20).map(|i| (format!("k{i}"), json!(ten))).collect();
        assert_eq!(
            expand(Some(&grid(Value::Object(huge), json!({"z": [1, 2]})))).unwrap_err(),
            vec![GridError::TooMany { trials: None }]
        );
    }

    #[test]
    fn long_lists_are_checked_in_linear_time() {
        let many: Vec<u64> = (0..200_000).collect();
        let started = std::time::Instant::now();
        let e = expand(Some(&grid(json!({"t": many}), json!({})))).unwrap_err();
        assert_eq!(
            e,
            vec![GridError::TooMany {
                trials: Some(200_000)
            }]
        );
        let mut repeated = many.clone();
        repeated.push(199_999);
        let e = expand(Some(&grid(json!({"t": repeated}), json!({})))).unwrap_err();
        assert!(
            matches!(
                e.as_slice(),
                [GridError::Repeated {
                    at: (199_999, 200_000),
                    ..
                }]
            ),
            "{e:?}"
        );
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    }

    #[test]
    fn repeated_points_are_errors() {
        let g = grid(json!({"t": [0.5, 1, 0.5]}), json!({}));
        assert_eq!(
            expand(Some(&g)).unwrap_err(),
            vec![GridError::Repeated {
                section: "product",
                key: "t".into(),
                value: "0.5".into(),
                at: (0, 2),
            }]
        );
        // Zip rows repeat only when every list repeats at the same positions.
        let g = grid(json!({}), json!({"a": [1, 2, 1], "b": ["x", "y", "z"]}));
        assert!(expand(Some(&g)).is_ok());
        let g = grid(json!({}), json!({"a": [1, 2, 1], "b": ["x", "y", "x"]}));
        assert!(matches!(
            expand(Some(&g)).unwrap_err().as_slice(),
            [GridError::Repeated {
                section: "zip",
                at: (0, 2),
                ..
            }]
        ));
    }
}
