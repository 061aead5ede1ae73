//! A relation in flight: named, optionally qualified columns of equal length.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, UInt32Array};
use arrow_schema::DataType;
use sqlparser::ast::Ident;

use super::error::{QueryError, Result, SqlLocation, closest};

#[derive(Debug, Clone)]
pub(crate) struct RelField {
    /// Table name or alias the column can be qualified with.
    pub qualifier: Option<String>,
    pub name: String,
    pub ty: DataType,
    /// The right-hand copy of a `USING` column: reachable only qualified, not by `*`.
    pub hidden: bool,
}

impl RelField {
    pub(crate) fn display(&self) -> String {
        match &self.qualifier {
            Some(q) => format!("{q}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Rel {
    pub fields: Vec<RelField>,
    pub columns: Vec<ArrayRef>,
    /// Kept apart from the columns so a relation without columns (SELECT 1) has rows.
    pub num_rows: usize,
}

impl Rel {
    /// The relation of a query without FROM: one row, no columns.
    pub(crate) fn single_row() -> Rel {
        Rel {
            fields: vec![],
            columns: vec![],
            num_rows: 1,
        }
    }

    pub(crate) fn from_batch(batch: &RecordBatch, qualifier: Option<&str>) -> Rel {
        Rel {
            fields: batch
                .schema()
                .fields()
                .iter()
                .map(|f| RelField {
                    qualifier: qualifier.map(str::to_string),
                    name: f.name().clone(),
                    ty: f.data_type().clone(),
                    hidden: false,
                })
                .collect(),
            columns: batch.columns().to_vec(),
            num_rows: batch.num_rows(),
        }
    }

    /// Keep rows where `predicate` is true (NULL counts as false).
    pub(crate) fn filter(&self, predicate: &BooleanArray) -> Result<Rel> {
        let predicate = if predicate.null_count() > 0 {
            arrow_select::filter::prep_null_mask_filter(predicate)
        } else {
            predicate.clone()
        };
        let num_rows = predicate.true_count();
        if num_rows == self.num_rows {
            return Ok(self.clone());
        }
        let filter = arrow_select::filter::FilterBuilder::new(&predicate)
            .optimize()
            .build();
        let columns = self
            .columns
            .iter()
            .map(|c| filter.filter(c.as_ref()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Rel {
            fields: self.fields.clone(),
            columns,
            num_rows,
        })
    }
}

pub(crate) fn take_all(columns: &[ArrayRef], indices: &UInt32Array) -> Result<Vec<ArrayRef>> {
    Ok(columns
        .iter()
        .map(|c| arrow_select::take::take(c.as_ref(), indices, None))
        .collect::<std::result::Result<Vec<_>, _>>()?)
}

pub(crate) fn resolve(fields: &[RelField], parts: &[Ident]) -> Result<usize> {
    let location = parts.first().and_then(|p| SqlLocation::from_span(p.span));
    let (qualifier, name) = match parts {
        [name] => (None, name),
        [qualifier, name] => (Some(qualifier), name),
        _ => {
            return Err(QueryError::Unsupported {
                construct: format!(
                    "column reference with {} parts `{}`",
                    parts.len(),
                    parts
                        .iter()
                        .map(|p| p.value.as_str())
                        .collect::<Vec<_>>()
                        .join(".")
                ),
                location,
            });
        }
    };
    let matches: Vec<usize> = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            f.name.eq_ignore_ascii_case(&name.value)
                && match qualifier {
                    None => !f.hidden,
                    Some(q) => f
                        .qualifier
                        .as_deref()
                        .is_some_and(|fq| fq.eq_ignore_ascii_case(&q.value)),
                }
        })
        .map(|(i, _)| i)
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => {
            let wanted = match qualifier {
                Some(q) => format!("{}.{}", q.value, name.value),
                None => name.value.clone(),
            };
            let mut available: Vec<String> = Vec::new();
            for f in fields.iter().filter(|f| !f.hidden || qualifier.is_some()) {
                let shown = if qualifier.is_some() {
                    f.display()
                } else {
                    f.name.clone()
                };
                if !available.contains(&shown) {
                    available.push(shown);
                }
            }
            Err(QueryError::UnknownColumn {
                suggestion: closest(&wanted, available.iter().map(String::as_str)),
                name: wanted,
                available,
                location,
            })
        }
        many => Err(QueryError::AmbiguousColumn {
            name: name.value.clone(),
            candidates: many.iter().map(|&i| fields[i].display()).collect(),
            location,
        }),
    }
}

/// A relation's columns as a batch with the given output names (all fields nullable).
pub(crate) fn to_batch(
    names: &[String],
    columns: Vec<ArrayRef>,
    num_rows: usize,
) -> Result<RecordBatch> {
    let fields: Vec<arrow_schema::Field> = names
        .iter()
        .zip(&columns)
        .map(|(n, c)| arrow_schema::Field::new(n, c.data_type().clone(), true))
        .collect();
    Ok(RecordBatch::try_new_with_options(
        Arc::new(arrow_schema::Schema::new(fields)),
        columns,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(num_rows)),
    )?)
}
