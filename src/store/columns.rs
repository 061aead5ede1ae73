//! A small columnar row builder over Arrow builders, so each table's row type only lists its
//! values in schema order.

use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, SchemaRef, TimeUnit};

/// One column under construction.
pub enum Col {
    /// 64-bit integers.
    I64(Int64Builder),
    /// Doubles.
    F64(Float64Builder),
    /// UTF-8 strings.
    Str(StringBuilder),
    /// Booleans.
    Bool(BooleanBuilder),
    /// Microsecond timestamps in UTC.
    Ts(TimestampMicrosecondBuilder),
    /// Lists of 64-bit integers (never null; possibly empty).
    I64List(ListBuilder<Int64Builder>),
}

/// Builders for every column of a schema.
pub struct Columns {
    schema: SchemaRef,
    cols: Vec<Col>,
    rows: usize,
    cursor: usize,
    /// Bytes of string and list values buffered since the last [`Columns::finish`].
    bytes: usize,
}

impl Columns {
    /// Empty builders for `schema` (types: Int64, Float64, Utf8, Boolean, Timestamp(µs, UTC),
    /// List(Int64) with the default nullable `item` field).
    pub fn new(schema: SchemaRef) -> Self {
        let cols = schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Int64 => Col::I64(Int64Builder::new()),
                DataType::Float64 => Col::F64(Float64Builder::new()),
                DataType::Boolean => Col::Bool(BooleanBuilder::new()),
                DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                    Col::Ts(TimestampMicrosecondBuilder::new().with_timezone_opt(tz.clone()))
                }
                DataType::List(_) => Col::I64List(ListBuilder::new(Int64Builder::new())),
                _ => Col::Str(StringBuilder::new()),
            })
            .collect();
        Columns {
            schema,
            cols,
            rows: 0,
            cursor: 0,
            bytes: 0,
        }
    }

    /// Bytes of string and list values buffered since the last [`Columns::finish`] (what can
    /// outgrow a row group: Arrow's string offsets are 32-bit).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Rows appended since the last [`Columns::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no rows are buffered.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    fn next(&mut self) -> &mut Col {
        let c = &mut self.cols[self.cursor];
        self.cursor += 1;
        c
    }

    /// Append the next column's integer.
    pub fn i64(&mut self, v: Option<i64>) -> &mut Self {
        match self.next() {
            Col::I64(b) => b.append_option(v),
            _ => panic!("column type mismatch: expected Int64"),
        }
        self
    }

    /// Append the next column's double (NaN and infinities become null: they are never data).
    pub fn f64(&mut self, v: Option<f64>) -> &mut Self {
        match self.next() {
            Col::F64(b) => b.append_option(v.filter(|x| x.is_finite())),
            _ => panic!("column type mismatch: expected Float64"),
        }
        self
    }

    /// Append the next column's string.
    pub fn str(&mut self, v: Option<&str>) -> &mut Self {
        match self.next() {
            Col::Str(b) => b.append_option(v),
            _ => panic!("column type mismatch: expected Utf8"),
        }
        if let Some(v) = v {
            self.bytes += v.len();
        }
        self
    }

    /// Append the next column's boolean.
    pub fn bool(&mut self, v: Option<bool>) -> &mut Self {
        match self.next() {
            Col::Bool(b) => b.append_option(v),
            _ => panic!("column type mismatch: expected Boolean"),
        }
        self
    }

    /// Append the next column's timestamp (microseconds since the Unix epoch).
    pub fn ts(&mut self, v: Option<i64>) -> &mut Self {
        match self.next() {
            Col::Ts(b) => b.append_option(v),
            _ => panic!("column type mismatch: expected Timestamp"),
        }
        self
    }

    /// Append the next column's list of integers (`None`: a null list).
    pub fn i64_list(&mut self, values: Option<impl IntoIterator<Item = i64>>) -> &mut Self {
        let added = match self.next() {
            Col::I64List(b) => match values {
                Some(values) => {
                    let before = b.values().len();
                    b.values().extend(values.into_iter().map(Some));
                    b.append(true);
                    b.values().len() - before
                }
                None => {
                    b.append(false);
                    0
                }
            },
            _ => panic!("column type mismatch: expected List(Int64)"),
        };
        self.bytes += added * 8;
        self
    }

    /// Close the current row (every column must have been appended once).
    pub fn end_row(&mut self) {
        debug_assert_eq!(
            self.cursor,
            self.cols.len(),
            "row of {} has a wrong column count",
            self.schema.fields().len()
        );
        self.cursor = 0;
        self.rows += 1;
    }

    /// The buffered rows as a batch; the builders are reset.
    pub fn finish(&mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self
            .cols
            .iter_mut()
            .map(|c| -> ArrayRef {
                match c {
                    Col::I64(b) => Arc::new(b.finish()),
                    Col::F64(b) => Arc::new(b.finish()),
                    Col::Str(b) => Arc::new(b.finish()),
                    Col::Bool(b) => Arc::new(b.finish()),
                    Col::Ts(b) => Arc::new(b.finish()),
                    Col::I64List(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.rows = 0;
        self.bytes = 0;
        RecordBatch::try_new(self.schema.clone(), arrays).expect("builders match the schema")
    }
}
