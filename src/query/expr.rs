//! The bound expression tree: sqlparser's AST after names are resolved to column positions,
//! implicit casts made explicit and types checked. Evaluation (`eval`) never has to look a
//! name up or guess a type; it can only fail on data (overflow, a failed CAST).

use arrow_schema::{DataType, TimeUnit};
use std::sync::Arc;

/// A constant.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    /// `/`: always floating division (DuckDB semantics), so operands are Float64.
    Div,
    /// `//`: truncating division on integers, plain division on floats (as DuckDB).
    IntDiv,
    Mod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    /// `IS DISTINCT FROM`: never null.
    Distinct,
    /// `IS NOT DISTINCT FROM`: never null.
    NotDistinct,
}

/// Target of an explicit CAST. Integer targets all produce Int64 but check the range of the
/// named SQL type, as DuckDB does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CastTarget {
    Int {
        min: i64,
        max: i64,
        sql_name: &'static str,
    },
    Float64,
    Utf8,
    Boolean,
    Timestamp(Option<Arc<str>>),
}

impl CastTarget {
    pub(crate) fn data_type(&self) -> DataType {
        match self {
            CastTarget::Int { .. } => DataType::Int64,
            CastTarget::Float64 => DataType::Float64,
            CastTarget::Utf8 => DataType::Utf8,
            CastTarget::Boolean => DataType::Boolean,
            CastTarget::Timestamp(tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        }
    }

    pub(crate) const BIGINT: CastTarget = CastTarget::Int {
        min: i64::MIN,
        max: i64::MAX,
        sql_name: "BIGINT",
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScalarFunc {
    Round,
    Abs,
    Ceil,
    Floor,
    Coalesce,
    Lower,
    Upper,
    Length,
    Greatest,
    Least,
    NullIf,
    /// `concat(...)`: NULL arguments are skipped.
    Concat,
    /// `a || b`: NULL if either side is NULL.
    StrConcat,
    /// `substring(s, start [, length])` (DuckDB's semantics).
    Substring,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum AggFunc {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    StddevSamp,
    StddevPop,
    VarSamp,
    VarPop,
    /// Continuous percentile, linear interpolation between closest ranks (NumPy's default).
    PercentileCont(f64),
    /// Discrete percentile: the value at rank ceil(n * p) (1-based), as DuckDB.
    PercentileDisc(f64),
    AnyValue,
}

/// One aggregate call in a query; `arg` is bound against the input relation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AggCall {
    pub func: AggFunc,
    pub arg: Option<Expr>,
    pub distinct: bool,
    /// For percentiles: `WITHIN GROUP (ORDER BY x DESC)`.
    pub descending: bool,
    pub ty: DataType,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub ty: DataType,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExprKind {
    Column(usize),
    Literal(Scalar),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    /// Operands have the same type.
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    IsNull(Box<Expr>),
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        case_insensitive: bool,
        escape: Option<char>,
    },
    /// Evaluated lazily: a branch only sees the rows that reach it.
    Case {
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Cast {
        expr: Box<Expr>,
        to: CastTarget,
        /// TRY_CAST: failures become NULL.
        try_cast: bool,
    },
    Func(ScalarFunc, Vec<Expr>),
    /// The i-th aggregate call of the query; replaced by a column before evaluation.
    Agg(usize),
}

impl Expr {
    pub(crate) fn new(kind: ExprKind, ty: DataType) -> Expr {
        Expr { kind, ty }
    }

    pub(crate) fn literal(value: Scalar) -> Expr {
        let ty = match &value {
            Scalar::Null => DataType::Null,
            Scalar::Int(_) => DataType::Int64,
            Scalar::Float(_) => DataType::Float64,
            Scalar::Str(_) => DataType::Utf8,
            Scalar::Bool(_) => DataType::Boolean,
        };
        Expr::new(ExprKind::Literal(value), ty)
    }

    pub(crate) fn boolean(kind: ExprKind) -> Expr {
        Expr::new(kind, DataType::Boolean)
    }

    pub(crate) fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Column(_) | ExprKind::Literal(_) | ExprKind::Agg(_) => vec![],
            ExprKind::Neg(e) | ExprKind::Not(e) | ExprKind::IsNull(e) => vec![e],
            ExprKind::Cast { expr, .. } => vec![expr],
            ExprKind::Arith(_, l, r)
            | ExprKind::Cmp(_, l, r)
            | ExprKind::And(l, r)
            | ExprKind::Or(l, r) => vec![l, r],
            ExprKind::Like { expr, pattern, .. } => vec![expr, pattern],
            ExprKind::Case { whens, otherwise } => {
                let mut out: Vec<&Expr> = whens.iter().flat_map(|(c, v)| [c, v]).collect();
                if let Some(e) = otherwise {
                    out.push(e);
                }
                out
            }
            ExprKind::Func(_, args) => args.iter().collect(),
        }
    }

    /// Rebuild the tree bottom-up with `f` applied to every child (not to `self`).
    pub(crate) fn try_map_children<E>(
        self,
        f: &mut impl FnMut(Expr) -> Result<Expr, E>,
    ) -> Result<Expr, E> {
        let mut b = |e: Box<Expr>| f(*e).map(Box::new);
        let kind = match self.kind {
            k @ (ExprKind::Column(_) | ExprKind::Literal(_) | ExprKind::Agg(_)) => k,
            ExprKind::Neg(e) => ExprKind::Neg(b(e)?),
            ExprKind::Not(e) => ExprKind::Not(b(e)?),
            ExprKind::IsNull(e) => ExprKind::IsNull(b(e)?),
            ExprKind::Cast { expr, to, try_cast } => ExprKind::Cast {
                expr: b(expr)?,
                to,
                try_cast,
            },
            ExprKind::Arith(op, l, r) => ExprKind::Arith(op, b(l)?, b(r)?),
            ExprKind::Cmp(op, l, r) => ExprKind::Cmp(op, b(l)?, b(r)?),
            ExprKind::And(l, r) => ExprKind::And(b(l)?, b(r)?),
            ExprKind::Or(l, r) => ExprKind::Or(b(l)?, b(r)?),
            ExprKind::Like {
                expr,
                pattern,
                case_insensitive,
                escape,
            } => ExprKind::Like {
                expr: b(expr)?,
                pattern: b(pattern)?,
                case_insensitive,
                escape,
            },
            ExprKind::Case { whens, otherwise } => ExprKind::Case {
                whens: whens
                    .into_iter()
                    .map(|(c, v)| Ok((*b(Box::new(c))?, *b(Box::new(v))?)))
                    .collect::<Result<_, E>>()?,
                otherwise: otherwise.map(&mut b).transpose()?,
            },
            ExprKind::Func(func, args) => ExprKind::Func(
                func,
                args.into_iter().map(&mut *f).collect::<Result<_, E>>()?,
            ),
        };
        Ok(Expr { kind, ty: self.ty })
    }

    pub(crate) fn contains_agg(&self) -> bool {
        matches!(self.kind, ExprKind::Agg(_)) || self.children().iter().any(|c| c.contains_agg())
    }

    pub(crate) fn columns_used(&self, out: &mut Vec<usize>) {
        if let ExprKind::Column(i) = self.kind {
            out.push(i);
        }
        for c in self.children() {
            c.columns_used(out);
        }
    }
}

/// DuckDB's name for a type, for messages.
pub(crate) fn sql_type_name(ty: &DataType) -> String {
    match ty {
        DataType::Null => "NULL".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Utf8 => "VARCHAR".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP WITH TIME ZONE".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        other => format!("{other}"),
    }
}

pub(crate) fn is_numeric(ty: &DataType) -> bool {
    matches!(ty, DataType::Int64 | DataType::Float64 | DataType::Null)
}
