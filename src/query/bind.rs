//! From sqlparser's AST to the bound [`Expr`] tree: names resolved, types checked, implicit
//! casts inserted. Everything outside the subset is rejected here with an `Unsupported` error
//! naming the construct, so validation on empty tables catches it before a run.

use arrow_schema::{DataType, TimeUnit};
use sqlparser::ast::{
    self, BinaryOperator, CastKind, CeilFloorKind, DateTimeField, FunctionArg, FunctionArgExpr,
    FunctionArguments, UnaryOperator, Value,
};

use super::cast::{Rounding, float_to_int};
use super::error::{QueryError, Result, closest, expr_span};
use super::expr::{
    AggCall, AggFunc, ArithOp, CastTarget, CmpOp, Expr, ExprKind, Scalar, ScalarFunc, is_numeric,
    sql_type_name,
};
use super::rel::{RelField, resolve};

/// Names of every function the evaluator knows, for "did you mean" on unknown ones.
const FUNCTIONS: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "stddev",
    "stddev_samp",
    "stddev_pop",
    "variance",
    "var_samp",
    "var_pop",
    "percentile_cont",
    "percentile_disc",
    "quantile_cont",
    "quantile_disc",
    "median",
    "any_value",
    "round",
    "abs",
    "ceil",
    "ceiling",
    "floor",
    "coalesce",
    "lower",
    "upper",
    "length",
    "greatest",
    "least",
    "nullif",
    "concat",
    "substring",
    "substr",
];

/// Binds expressions against one relation's fields.
pub(crate) struct Binder<'a> {
    pub fields: &'a [RelField],
    /// Where aggregate calls go; `None` where aggregates are not allowed.
    pub aggs: Option<&'a mut Vec<AggCall>>,
    /// Where we are, for the error when an aggregate appears although `aggs` is `None`
    /// (e.g. "in WHERE").
    pub context: &'static str,
    /// `SELECT expr AS alias` pairs that a bare name may refer to when no column has it
    /// (DuckDB allows aliases in WHERE, GROUP BY, HAVING and ORDER BY).
    pub aliases: &'a [(String, &'a ast::Expr)],
    /// How many `bind` calls are active: bounded by [`MAX_EXPR_DEPTH`].
    depth: usize,
}

/// How deeply expressions may nest (each operator of a chain like `1+1+...+1` is a level;
/// chains of AND or of OR are not, they are bound flat). Binding, the bound tree and its
/// evaluation recurse once per level, so without a limit a long chain overflowed the stack.
/// DuckDB's own default limit (`max_expression_depth`) is 1000.
pub(crate) const MAX_EXPR_DEPTH: usize = 200;

impl<'a> Binder<'a> {
    pub(crate) fn new(fields: &'a [RelField], context: &'static str) -> Self {
        Binder {
            fields,
            aggs: None,
            context,
            aliases: &[],
            depth: 0,
        }
    }

    pub(crate) fn bind(&mut self, e: &ast::Expr) -> Result<Expr> {
        if self.depth >= MAX_EXPR_DEPTH {
            return Err(too_deep(e));
        }
        self.depth += 1;
        let bound = self.bind_level(e);
        self.depth -= 1;
        bound
    }

    fn bind_level(&mut self, e: &ast::Expr) -> Result<Expr> {
        use ast::Expr as E;
        match e {
            E::Identifier(ident) => self.column(std::slice::from_ref(ident)),
            E::CompoundIdentifier(parts) => self.column(parts),
            E::Value(v) => literal(&v.value, e),
            E::Nested(inner) => self.bind(inner),
            E::TypedString(_) => self.bind_typed_string(e),
            E::UnaryOp { .. } => self.bind_unary_op(e),
            E::BinaryOp {
                op: op @ (BinaryOperator::And | BinaryOperator::Or),
                ..
            } => self.logical_chain(op, e),
            E::BinaryOp { left, op, right } => self.binary(left, op, right, e),
            E::IsNull(x) => Ok(Expr::boolean(ExprKind::IsNull(Box::new(self.bind(x)?)))),
            E::IsNotNull(_) => self.bind_is_not_null(e),
            E::IsTrue(_) | E::IsNotTrue(_) | E::IsFalse(_) | E::IsNotFalse(_) => {
                self.bind_is_true(e)
            }
            E::IsDistinctFrom(_, _) | E::IsNotDistinctFrom(_, _) => self.bind_is_distinct_from(e),
            E::In { .. } => self.bind_in(e),
            E::Between { .. } => self.bind_between(e),
            E::Like { .. } | E::ILike { .. } => self.bind_like(e),
            E::Case { .. } => self.bind_case(e),
            E::Cast { .. } => self.bind_cast(e),
            E::Ceil { .. } | E::Floor { .. } => self.bind_ceil(e),
            E::Substring { .. } => self.bind_substring(e),
            E::Function(f) => self.function(f, e),
            E::Subquery(_) => Err(QueryError::unsupported_at(
                "subquery in an expression",
                expr_span(e),
            )),
            E::Exists { .. } => Err(QueryError::unsupported_at(
                "EXISTS (subquery)",
                expr_span(e),
            )),
            E::Wildcard(_) | E::QualifiedWildcard(..) => Err(QueryError::unsupported_at(
                format!("`{e}` inside an expression"),
                expr_span(e),
            )),
            other => Err(QueryError::unsupported_at(
                format!("expression `{other}`"),
                expr_span(e),
            )),
        }
    }

    /// `substring(s, start [, length])`, `substr(...)` and `substring(s FROM start [FOR
    /// length])`: DuckDB's semantics (characters, 1-based, a negative start counts from the
    /// end, a negative length takes the characters before the start).
    fn bind_substring(&mut self, e: &ast::Expr) -> Result<Expr> {
        let ast::Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } = e
        else {
            return Err(QueryError::Internal(
                "bind_substring on another expression".into(),
            ));
        };
        let Some(from) = substring_from else {
            return Err(QueryError::Type(format!("`{e}` needs a start position")));
        };
        let text = self.bind(expr)?;
        let mut args = vec![expect_string(text, "substring", e)?];
        for (what, x) in [("start", Some(from)), ("length", substring_for.as_ref())] {
            let Some(x) = x else { continue };
            let x = self.bind(x)?;
            if !matches!(x.ty, DataType::Int64 | DataType::Null) {
                return Err(QueryError::Type(format!(
                    "the {what} of `{e}` must be an integer, got {}",
                    sql_type_name(&x.ty)
                )));
            }
            args.push(cast_to(x, &DataType::Int64));
        }
        Ok(Expr::new(
            ExprKind::Func(ScalarFunc::Substring, args),
            DataType::Utf8,
        ))
    }

    fn bind_typed_string(&mut self, e: &ast::Expr) -> Result<Expr> {
        use ast::Expr as E;
        let E::TypedString(ts) = e else {
            return Err(QueryError::Internal(
                "bind_typed_string on another expression".into(),
            ));
        };
        let target = cast_target(&ts.data_type, e)?;
        let text = match &ts.value.value {
            Value::SingleQuotedString(s) => s.clone(),
            _ => {
                return Err(QueryError::unsupported_at(
                    format!("typed literal `{e}`"),
                    expr_span(e),
                ));
            }
        };
        Ok(Expr::new(
            ExprKind::Cast {
                expr: Box::new(Expr::literal(Scalar::Str(text))),
                to: target.clone(),
                try_cast: false,
            },
            target.data_type(),
        ))
    }

    fn bind_unary_op(&mut self, e: &ast::Expr) -> Result<Expr> {
        use ast::Expr as E;
        let E::UnaryOp { op, expr } = e else {
            return Err(QueryError::Internal(
                "bind_unary_op on another expression".into(),
            ));
        };
        // `-9223372036854775808` is BIGINT's minimum (DuckDB folds the sign into the literal).
        if *op == UnaryOperator::Minus
            && let E::Value(v) = expr.as_ref()
            && let Value::Number(text, _) = &v.value
            && text.as_str() == "9223372036854775808"
        {
            return Ok(Expr::literal(Scalar::Int(i64::MIN)));
        }
        let inner = self.bind(expr)?;
        match op {
            UnaryOperator::Minus => match inner.kind {
                ExprKind::Literal(Scalar::Int(i)) if i != i64::MIN => {
                    Ok(Expr::literal(Scalar::Int(-i)))
                }
                ExprKind::Literal(Scalar::Float(f)) => Ok(Expr::literal(Scalar::Float(-f))),
                _ => {
                    expect_numeric(&inner, "unary `-`", e)?;
                    let ty = numeric_result(&inner.ty);
                    let inner = cast_to(inner, &ty);
                    Ok(Expr::new(ExprKind::Neg(Box::new(inner)), ty))
                }
            },
            UnaryOperator::Plus => {
                expect_numeric(&inner, "unary `+`", e)?;
                Ok(inner)
            }
            UnaryOperator::Not => {
                let inner = expect_bool(inner, "NOT", e)?;
                Ok(Expr::boolean(ExprKind::Not(Box::new(inner))))
            }
            other => Err(QueryError::unsupported_at(
                format!("unary operator `{other}`"),
                expr_span(e),
            )),
        }
    }

    fn bind_is_not_null(&mut self, e: &ast::Expr) -> Result<Expr> {
        use ast::Expr as E;
        let E::IsNotNull(x) = e else {
            return Err(QueryError::Internal(
                "bind_is_not_null on another expression".into(),
            ));
        };
        let is_null = Expr::boolean(ExprKind::IsNull(Box::new(self.bind(x)?)));
        Ok(Expr::boolean(ExprKind::Not(Box::new(is_null))))
    }

    fn bind_is_true(&mut self, e: &ast::Expr) -> Result<Expr> {
        use ast::Expr as E;
        let (E::IsTrue(x) | E::IsNotTrue(x) | E::IsFalse(x) | E::IsNotFalse(x)) = e else {
            return Err(QueryError::Internal(
                "bind_is_true on another expression".into(),
            ));
        };
        let mut inner = expect_bool(self.bind(x)?, "IS TRUE/FALSE", e)?;
        if matches!(e, E::IsFalse(_) | E::IsNotFalse(_)) {
            inner = Expr::boolean(ExprKind::Not(Box::new(inner)));
        }
        let known = Expr::boolean(ExprKind::Func(
            ScalarFunc::Coalesce,
            vec![inner, Expr::literal(Scalar::Bool(false))],
        ));
        Ok(if matches!(e, E::IsNotTrue(_) | E::IsNotFalse(_)) {
            Expr::boolean(ExprKind::Not(Box::new(known)))
        } else {
            known
        })
    }

    fn bind_is_distinct_from(&mut self, e: &ast::Expr) -> Result<Expr> {
        use ast::Expr as E;
        let (E::IsDistinctFrom(l, r) | E::IsNotDistinctFrom(l, r)) = e else {
            return Err(QueryError::Internal(
                "bind_is_distinct_from on another expression".into(),
            ));
        };
        let op = if matches!(e, E::IsDistinctFrom(..)) {
            CmpOp::Distinct
        } else {
            CmpOp::NotDistinct
        };
        let (l, r) = (self.bind(l)?, self.bind(r)?);
        compare(op, l, r, e)
    }

    fn bind_in(&mut self, e: &ast::Expr) -> Result<Expr> {
        use ast::Expr as E;
        let E::In {
            expr,
            target,
            negated,
            ..
        } = e
        else {
            return Err(QueryError::Internal("bind_in on another expression".into()));
        };
        let list = match target {
            ast::InTarget::List(list) => list,
            ast::InTarget::Subquery(_) => {
                return Err(QueryError::unsupported_at("IN (subquery)", expr_span(e)));
            }
            _ => return Err(QueryError::unsupported_at(format!("`{e}`"), expr_span(e))),
        };
        let needle = self.bind(expr)?;
        let mut equalities = Vec::with_capacity(list.len());
        for item in list {
            let item = self.bind(item)?;
            equalities.push(compare(CmpOp::Eq, needle.clone(), item, e)?);
        }
        let any = balanced(equalities, ExprKind::Or)
            .unwrap_or_else(|| Expr::literal(Scalar::Bool(false)));
        Ok(negate_if(any, *negated))
    }

    fn bind_between(&mut self, e: &ast::Expr) -> Result<Expr> {
        use ast::Expr as E;
        let E::Between {
            expr,
            negated,
            low,
            high,
        } = e
        else {
            return Err(QueryError::Internal(
                "bind_between on another expression".into(),
            ));
        };
        let x = self.bind(expr)?;
        let ge = compare(CmpOp::GtEq, x.clone(), self.bind(low)?, e)?;
        let le = compare(CmpOp::LtEq, x, self.bind(high)?, e)?;
        let both = Expr::boolean(ExprKind::And(Box::new(ge), Box::new(le)));
        Ok(negate_if(both, *negated))
    }

    fn bind_like(&mut self, e: &ast::Expr) -> Result<Expr> {
        use ast::Expr as E;
        let (E::Like {
            negated,
            any,
            expr,
            pattern,
            escape_char,
        }
        | E::ILike {
            negated,
            any,
            expr,
            pattern,
            escape_char,
        }) = e
        else {
            return Err(QueryError::Internal(
                "bind_like on another expression".into(),
            ));
        };
        if *any {
            return Err(QueryError::unsupported_at("LIKE ANY", expr_span(e)));
        }
        let case_insensitive = matches!(e, E::ILike { .. });
        let what = if case_insensitive { "ILIKE" } else { "LIKE" };
        let x = expect_string(self.bind(expr)?, what, e)?;
        let p = expect_string(self.bind(pattern)?, what, e)?;
        let escape = match escape_char.as_deref() {
            None => None,
            Some(ast::Expr::Value(v)) => match &v.value {
                Value::SingleQuotedString(s) if s.chars().count() <= 1 => s.chars().next(),
                _ => {
                    return Err(QueryError::Invalid(format!(
                        "the ESCAPE of `{e}` must be a single character"
                    )));
                }
            },
            Some(other) => {
                return Err(QueryError::unsupported_at(
                    format!("ESCAPE expression `{other}`"),
                    expr_span(e),
                ));
            }
        };
        let like = Expr::boolean(ExprKind::Like {
            expr: Box::new(x),
            pattern: Box::new(p),
            case_insensitive,
            escape,
        });
        Ok(negate_if(like, *negated))
    }

    fn bind_case(&mut self, e: &ast::Expr) -> Result<Expr> {
        use ast::Expr as E;
        let E::Case {
            operand,
            conditions,
            else_result,
            ..
        } = e
        else {
            return Err(QueryError::Internal(
                "bind_case on another expression".into(),
            ));
        };
        let operand = operand.as_deref().map(|o| self.bind(o)).transpose()?;
        let mut conds = Vec::with_capacity(conditions.len());
        let mut values = Vec::with_capacity(conditions.len());
        for when in conditions {
            let c = self.bind(&when.condition)?;
            let c = match &operand {
                Some(op) => compare(CmpOp::Eq, op.clone(), c, e)?,
                None => expect_bool(c, "CASE WHEN", e)?,
            };
            conds.push(c);
            values.push(self.bind(&when.result)?);
        }
        let otherwise = else_result.as_deref().map(|x| self.bind(x)).transpose()?;
        let mut types: Vec<&DataType> = values.iter().map(|v| &v.ty).collect();
        if let Some(o) = &otherwise {
            types.push(&o.ty);
        }
        let ty = unify(types.iter().copied()).ok_or_else(|| {
            QueryError::Type(format!(
                "the branches of `{e}` have incompatible types {}",
                type_list(types.iter().copied())
            ))
        })?;
        let whens = conds
            .into_iter()
            .zip(values)
            .map(|(c, v)| (c, cast_to(v, &ty)))
            .collect();
        let otherwise = otherwise.map(|o| Box::new(cast_to(o, &ty)));
        Ok(Expr::new(ExprKind::Case { whens, otherwise }, ty))
    }

    fn bind_cast(&mut self, e: &ast::Expr) -> Result<Expr> {
        use ast::Expr as E;
        let E::Cast {
            kind,
            expr,
            data_type,
            format,
        } = e
        else {
            return Err(QueryError::Internal(
                "bind_cast on another expression".into(),
            ));
        };
        if format.is_some() {
            return Err(QueryError::unsupported_at("CAST ... FORMAT", expr_span(e)));
        }
        let inner = self.bind(expr)?;
        let to = cast_target(data_type, e)?;
        check_cast(&inner.ty, &to, e)?;
        let try_cast = matches!(kind, CastKind::TryCast | CastKind::SafeCast);
        let ty = to.data_type();
        // `2.5` is a DECIMAL literal in DuckDB, and DECIMAL -> integer rounds half away
        // from zero (DOUBLE -> integer rounds half to even): fold it here.
        if let (ExprKind::Literal(Scalar::Float(f)), CastTarget::Int { min, max, sql_name }) =
            (&inner.kind, &to)
        {
            return match float_to_int(*f, *min, *max, Rounding::HalfAway) {
                Some(i) => Ok(Expr::literal(Scalar::Int(i))),
                None if try_cast => Ok(Expr::new(ExprKind::Literal(Scalar::Null), ty)),
                None => Err(QueryError::Execution(format!(
                    "could not convert {f} to {sql_name} in `{e}`"
                ))),
            };
        }
        // `0.5::DOUBLE` stops being a DECIMAL literal: a later cast to an integer rounds half
        // to even, as DuckDB's DOUBLE does, so it is kept as a cast (a no-op at run time).
        let decimal_literal = matches!(inner.kind, ExprKind::Literal(Scalar::Float(_)));
        if inner.ty == ty && !matches!(to, CastTarget::Int { .. }) && !decimal_literal {
            return Ok(inner);
        }
        Ok(Expr::new(
            ExprKind::Cast {
                expr: Box::new(inner),
                to,
                try_cast,
            },
            ty,
        ))
    }

    fn bind_ceil(&mut self, e: &ast::Expr) -> Result<Expr> {
        use ast::Expr as E;
        let (E::Ceil { expr, field } | E::Floor { expr, field }) = e else {
            return Err(QueryError::Internal(
                "bind_ceil on another expression".into(),
            ));
        };
        if !matches!(
            field,
            CeilFloorKind::DateTimeField(DateTimeField::NoDateTime)
        ) {
            return Err(QueryError::unsupported_at(format!("`{e}`"), expr_span(e)));
        }
        let func = if matches!(e, E::Ceil { .. }) {
            ScalarFunc::Ceil
        } else {
            ScalarFunc::Floor
        };
        let x = self.bind(expr)?;
        self.scalar_func(func, vec![x], e)
    }
    fn column(&mut self, parts: &[ast::Ident]) -> Result<Expr> {
        match resolve(self.fields, parts) {
            Ok(i) => Ok(Expr::new(ExprKind::Column(i), self.fields[i].ty.clone())),
            Err(err @ QueryError::UnknownColumn { .. }) => {
                if let [name] = parts
                    && let Some((_, aliased)) = self
                        .aliases
                        .iter()
                        .find(|(a, _)| a.eq_ignore_ascii_case(&name.value))
                {
                    // The alias's expression cannot itself use aliases: no cycles.
                    let mut inner = Binder {
                        fields: self.fields,
                        aggs: self.aggs.as_deref_mut(),
                        context: self.context,
                        aliases: &[],
                        depth: self.depth,
                    };
                    return inner.bind(aliased);
                }
                Err(err)
            }
            Err(err) => Err(err),
        }
    }

    /// `a OR b OR c ...` (or AND) bound as a balanced tree: sqlparser nests a chain of n
    /// operators n levels deep, and a WHERE with thousands of ORs is plausible (generated SQL).
    /// Three-valued AND and OR are associative and both sides are always evaluated, so the
    /// grouping changes nothing but the depth.
    fn logical_chain(&mut self, op: &BinaryOperator, e: &ast::Expr) -> Result<Expr> {
        let name = if *op == BinaryOperator::And {
            "AND"
        } else {
            "OR"
        };
        // Collect the operands left to right without recursing: the chain leans left.
        let mut operands = Vec::new();
        let mut pending = vec![e];
        while let Some(x) = pending.pop() {
            match x {
                ast::Expr::BinaryOp {
                    left,
                    op: inner,
                    right,
                } if inner == op => {
                    pending.push(right);
                    pending.push(left);
                }
                other => operands.push(other),
            }
        }
        let mut bound = Vec::with_capacity(operands.len());
        for x in operands {
            bound.push(expect_bool(self.bind(x)?, name, e)?);
        }
        let kind = if *op == BinaryOperator::And {
            ExprKind::And
        } else {
            ExprKind::Or
        };
        balanced(bound, kind)
            .ok_or_else(|| QueryError::Internal(format!("{name} without operands")))
    }

    fn binary(
        &mut self,
        left: &ast::Expr,
        op: &BinaryOperator,
        right: &ast::Expr,
        e: &ast::Expr,
    ) -> Result<Expr> {
        let l = self.bind(left)?;
        let r = self.bind(right)?;
        match op {
            BinaryOperator::Plus => arithmetic(ArithOp::Add, l, r, e),
            BinaryOperator::Minus => arithmetic(ArithOp::Sub, l, r, e),
            BinaryOperator::Multiply => arithmetic(ArithOp::Mul, l, r, e),
            BinaryOperator::Divide => arithmetic(ArithOp::Div, l, r, e),
            BinaryOperator::DuckIntegerDivide => arithmetic(ArithOp::IntDiv, l, r, e),
            BinaryOperator::Modulo => arithmetic(ArithOp::Mod, l, r, e),
            BinaryOperator::Eq => compare(CmpOp::Eq, l, r, e),
            BinaryOperator::NotEq => compare(CmpOp::NotEq, l, r, e),
            BinaryOperator::Lt => compare(CmpOp::Lt, l, r, e),
            BinaryOperator::LtEq => compare(CmpOp::LtEq, l, r, e),
            BinaryOperator::Gt => compare(CmpOp::Gt, l, r, e),
            BinaryOperator::GtEq => compare(CmpOp::GtEq, l, r, e),
            BinaryOperator::StringConcat => {
                let l = to_string_expr(l, e)?;
                let r = to_string_expr(r, e)?;
                Ok(Expr::new(
                    ExprKind::Func(ScalarFunc::StrConcat, vec![l, r]),
                    DataType::Utf8,
                ))
            }
            other => Err(QueryError::unsupported_at(
                format!("operator `{other}`"),
                expr_span(e),
            )),
        }
    }

    fn function(&mut self, f: &ast::Function, e: &ast::Expr) -> Result<Expr> {
        let name = match f.name.0.as_slice() {
            [ast::ObjectNamePart::Identifier(ident)] => ident.value.to_ascii_lowercase(),
            _ => {
                return Err(QueryError::unsupported_at(
                    format!("function `{}`", f.name),
                    expr_span(e),
                ));
            }
        };
        if f.over.is_some() {
            return Err(QueryError::unsupported_at(
                format!("window function `{e}`"),
                expr_span(e),
            ));
        }
        if f.filter.is_some() {
            return Err(QueryError::unsupported_at(
                format!("aggregate FILTER clause in `{e}`"),
                expr_span(e),
            ));
        }
        if f.null_treatment.is_some() || !matches!(f.parameters, FunctionArguments::None) {
            return Err(QueryError::unsupported_at(format!("`{e}`"), expr_span(e)));
        }
        let (distinct, args): (bool, Vec<Option<&ast::Expr>>) = match &f.args {
            FunctionArguments::None => (false, vec![]),
            FunctionArguments::Subquery(_) => {
                return Err(QueryError::unsupported_at(
                    "subquery as a function argument",
                    expr_span(e),
                ));
            }
            FunctionArguments::List(list) => {
                if !list.clauses.is_empty() {
                    return Err(QueryError::unsupported_at(
                        format!("clauses inside the arguments of `{e}`"),
                        expr_span(e),
                    ));
                }
                let mut args = Vec::with_capacity(list.args.len());
                for arg in &list.args {
                    match arg {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => args.push(Some(x)),
                        FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => args.push(None),
                        _ => {
                            return Err(QueryError::unsupported_at(
                                format!("function argument `{arg}`"),
                                expr_span(e),
                            ));
                        }
                    }
                }
                let distinct = matches!(
                    list.duplicate_treatment,
                    Some(ast::DuplicateTreatment::Distinct)
                );
                (distinct, args)
            }
        };
        let is_percentile = matches!(name.as_str(), "percentile_cont" | "percentile_disc");
        if !f.within_group.is_empty() && !is_percentile {
            return Err(QueryError::unsupported_at(
                format!("WITHIN GROUP on `{name}`"),
                expr_span(e),
            ));
        }
        if let Some(func) = agg_func(&name) {
            return self.aggregate(&name, func, distinct, &args, &f.within_group, e);
        }
        if distinct {
            return Err(QueryError::unsupported_at(
                format!("DISTINCT in the arguments of `{name}`"),
                expr_span(e),
            ));
        }
        let func = match name.as_str() {
            "round" => ScalarFunc::Round,
            "abs" => ScalarFunc::Abs,
            "ceil" | "ceiling" => ScalarFunc::Ceil,
            "floor" => ScalarFunc::Floor,
            "coalesce" => ScalarFunc::Coalesce,
            "lower" => ScalarFunc::Lower,
            "upper" => ScalarFunc::Upper,
            "length" => ScalarFunc::Length,
            "greatest" => ScalarFunc::Greatest,
            "least" => ScalarFunc::Least,
            "nullif" => ScalarFunc::NullIf,
            "concat" => ScalarFunc::Concat,
            _ => {
                let hint = closest(&name, FUNCTIONS.iter().copied())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                return Err(QueryError::unsupported_at(
                    format!("function `{name}`{hint}"),
                    expr_span(e),
                ));
            }
        };
        let mut bound = Vec::with_capacity(args.len());
        for arg in args {
            let Some(arg) = arg else {
                return Err(QueryError::unsupported_at(
                    format!("`*` as an argument of `{name}`"),
                    expr_span(e),
                ));
            };
            bound.push(self.bind(arg)?);
        }
        self.scalar_func(func, bound, e)
    }

    fn scalar_func(&mut self, func: ScalarFunc, args: Vec<Expr>, e: &ast::Expr) -> Result<Expr> {
        let arity = |n: std::ops::RangeInclusive<usize>| {
            if n.contains(&args.len()) {
                Ok(())
            } else {
                Err(QueryError::Type(format!(
                    "`{e}` takes {} argument(s), got {}",
                    if n.start() == n.end() {
                        n.start().to_string()
                    } else if *n.end() == usize::MAX {
                        format!("at least {}", n.start())
                    } else {
                        format!("{} to {}", n.start(), n.end())
                    },
                    args.len()
                )))
            }
        };
        match func {
            ScalarFunc::Round => {
                arity(1..=2)?;
                let mut args = args.into_iter();
                let x = args.next().expect("arity");
                expect_numeric(&x, "round", e)?;
                let ty = numeric_result(&x.ty);
                let x = cast_to(x, &ty);
                let mut out = vec![x];
                if let Some(digits) = args.next() {
                    if !matches!(digits.ty, DataType::Int64 | DataType::Null) {
                        return Err(QueryError::Type(format!(
                            "the second argument of `{e}` must be an integer, got {}",
                            sql_type_name(&digits.ty)
                        )));
                    }
                    out.push(cast_to(digits, &DataType::Int64));
                }
                Ok(Expr::new(ExprKind::Func(func, out), ty))
            }
            ScalarFunc::Abs | ScalarFunc::Ceil | ScalarFunc::Floor => {
                arity(1..=1)?;
                let x = args.into_iter().next().expect("arity");
                expect_numeric(&x, "numeric function", e)?;
                // DuckDB has no integer ceil/floor: `floor(7)` is the DOUBLE 7.0.
                let ty = if func == ScalarFunc::Abs {
                    numeric_result(&x.ty)
                } else {
                    DataType::Float64
                };
                Ok(Expr::new(ExprKind::Func(func, vec![cast_to(x, &ty)]), ty))
            }
            ScalarFunc::Lower | ScalarFunc::Upper | ScalarFunc::Length => {
                arity(1..=1)?;
                let x = expect_string(
                    args.into_iter().next().expect("arity"),
                    "string function",
                    e,
                )?;
                let ty = if func == ScalarFunc::Length {
                    DataType::Int64
                } else {
                    DataType::Utf8
                };
                Ok(Expr::new(ExprKind::Func(func, vec![x]), ty))
            }
            ScalarFunc::Coalesce
            | ScalarFunc::Greatest
            | ScalarFunc::Least
            | ScalarFunc::NullIf => {
                if func == ScalarFunc::NullIf {
                    arity(2..=2)?;
                } else {
                    arity(1..=usize::MAX)?;
                }
                let ty = unify(args.iter().map(|a| &a.ty)).ok_or_else(|| {
                    QueryError::Type(format!(
                        "the arguments of `{e}` have incompatible types {}",
                        type_list(args.iter().map(|a| &a.ty))
                    ))
                })?;
                if matches!(func, ScalarFunc::Greatest | ScalarFunc::Least) && !is_orderable(&ty) {
                    return Err(QueryError::Type(format!(
                        "`{e}` cannot compare values of type {}",
                        sql_type_name(&ty)
                    )));
                }
                let args = args.into_iter().map(|a| cast_to(a, &ty)).collect();
                Ok(Expr::new(ExprKind::Func(func, args), ty))
            }
            ScalarFunc::Concat => {
                arity(1..=usize::MAX)?;
                let args = args
                    .into_iter()
                    .map(|a| to_string_expr(a, e))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Expr::new(ExprKind::Func(func, args), DataType::Utf8))
            }
            ScalarFunc::StrConcat => Err(QueryError::Internal("|| bound as a function".into())),
            ScalarFunc::Substring => Err(QueryError::Internal(
                "substring is bound from its own syntax".into(),
            )),
        }
    }

    fn aggregate(
        &mut self,
        name: &str,
        func: AggFunc,
        distinct: bool,
        args: &[Option<&ast::Expr>],
        within_group: &[ast::OrderByExpr],
        e: &ast::Expr,
    ) -> Result<Expr> {
        if self.aggs.is_none() {
            return Err(QueryError::Invalid(format!(
                "aggregate function `{name}` is not allowed {}",
                self.context
            )));
        }
        let mut inner = Binder {
            fields: self.fields,
            aggs: None,
            context: "inside another aggregate function",
            aliases: self.aliases,
            depth: self.depth,
        };
        let wrong_args = || QueryError::Type(format!("wrong arguments for aggregate `{e}`"));
        let mut descending = false;
        let (func, arg) = match func {
            AggFunc::Count => match args {
                [None] => (AggFunc::CountStar, None),
                [] => (AggFunc::CountStar, None),
                [Some(x)] => (AggFunc::Count, Some(inner.bind(x)?)),
                _ => return Err(wrong_args()),
            },
            AggFunc::PercentileCont(_) | AggFunc::PercentileDisc(_) => {
                let cont = matches!(func, AggFunc::PercentileCont(_));
                let (p, x) = match (name, args, within_group) {
                    ("percentile_cont" | "percentile_disc", [Some(p)], [order]) => {
                        if order.with_fill.is_some() {
                            return Err(wrong_args());
                        }
                        if is_non_integer_literal(&order.expr) {
                            return Err(non_integer_order_key(&order.expr));
                        }
                        descending = matches!(order.options.sort, Some(ast::OrderBySort::Desc));
                        (*p, &order.expr)
                    }
                    ("percentile_cont" | "percentile_disc", _, []) => {
                        return Err(QueryError::Invalid(format!(
                            "`{name}` needs WITHIN GROUP (ORDER BY column): `{e}`"
                        )));
                    }
                    ("quantile_cont" | "quantile_disc", [Some(x), Some(p)], []) => (*p, *x),
                    ("median", [Some(x)], []) => {
                        // A literal 0.5, bound like any other fraction below.
                        return self.finish_agg(AggCall {
                            func: AggFunc::PercentileCont(0.5),
                            arg: Some(expect_percentile_arg(inner.bind(x)?, true, e)?),
                            distinct,
                            descending: false,
                            ty: DataType::Float64,
                        });
                    }
                    _ => return Err(wrong_args()),
                };
                let mut fraction = inner.bind(p)?;
                // `0.5::DOUBLE` is still a constant fraction.
                while let ExprKind::Cast { expr, .. } = fraction.kind {
                    fraction = *expr;
                }
                let fraction = match fraction.kind {
                    ExprKind::Literal(Scalar::Int(i)) => i as f64,
                    ExprKind::Literal(Scalar::Float(f)) => f,
                    _ => {
                        return Err(QueryError::unsupported_at(
                            format!("a percentile that is not a number literal in `{e}`"),
                            expr_span(e),
                        ));
                    }
                };
                if !(0.0..=1.0).contains(&fraction) {
                    return Err(QueryError::Invalid(format!(
                        "percentile must be between 0 and 1 in `{e}`"
                    )));
                }
                let x = expect_percentile_arg(inner.bind(x)?, cont, e)?;
                let func = if cont {
                    AggFunc::PercentileCont(fraction)
                } else {
                    AggFunc::PercentileDisc(fraction)
                };
                (func, Some(x))
            }
            other => match args {
                [Some(x)] => (other, Some(inner.bind(x)?)),
                _ => return Err(wrong_args()),
            },
        };
        let (arg, ty) = match (&func, arg) {
            (AggFunc::CountStar | AggFunc::Count, arg) => (arg, DataType::Int64),
            (AggFunc::Sum, Some(x)) => {
                let x = if x.ty == DataType::Boolean {
                    cast_to(x, &DataType::Int64)
                } else {
                    x
                };
                expect_numeric(&x, name, e)?;
                let ty = numeric_result(&x.ty);
                (Some(cast_to(x, &ty)), ty)
            }
            (
                AggFunc::Avg
                | AggFunc::StddevSamp
                | AggFunc::StddevPop
                | AggFunc::VarSamp
                | AggFunc::VarPop,
                Some(x),
            ) => {
                expect_numeric(&x, name, e)?;
                let ty = numeric_result(&x.ty);
                (Some(cast_to(x, &ty)), DataType::Float64)
            }
            (AggFunc::Min | AggFunc::Max | AggFunc::AnyValue, Some(x)) => {
                if !is_orderable(&x.ty) {
                    return Err(QueryError::Type(format!(
                        "`{name}` does not accept {}",
                        sql_type_name(&x.ty)
                    )));
                }
                let ty = x.ty.clone();
                (Some(x), ty)
            }
            (AggFunc::PercentileCont(_), Some(x)) => (Some(x), DataType::Float64),
            (AggFunc::PercentileDisc(_), Some(x)) => {
                let ty = x.ty.clone();
                (Some(x), ty)
            }
            _ => return Err(wrong_args()),
        };
        self.finish_agg(AggCall {
            func,
            arg,
            distinct,
            descending,
            ty,
        })
    }

    fn finish_agg(&mut self, call: AggCall) -> Result<Expr> {
        let aggs = self
            .aggs
            .as_deref_mut()
            .ok_or_else(|| QueryError::Internal("aggregate without a collector".into()))?;
        let ty = call.ty.clone();
        let index = match aggs.iter().position(|a| *a == call) {
            Some(i) => i,
            None => {
                aggs.push(call);
                aggs.len() - 1
            }
        };
        Ok(Expr::new(ExprKind::Agg(index), ty))
    }
}

fn agg_func(name: &str) -> Option<AggFunc> {
    Some(match name {
        "count" => AggFunc::Count,
        "sum" => AggFunc::Sum,
        "avg" | "mean" => AggFunc::Avg,
        "min" => AggFunc::Min,
        "max" => AggFunc::Max,
        "stddev" | "stddev_samp" => AggFunc::StddevSamp,
        "stddev_pop" => AggFunc::StddevPop,
        "variance" | "var_samp" => AggFunc::VarSamp,
        "var_pop" => AggFunc::VarPop,
        "percentile_cont" | "quantile_cont" | "median" => AggFunc::PercentileCont(0.0),
        "percentile_disc" | "quantile_disc" => AggFunc::PercentileDisc(0.0),
        "any_value" => AggFunc::AnyValue,
        _ => return None,
    })
}

fn expect_percentile_arg(x: Expr, cont: bool, e: &ast::Expr) -> Result<Expr> {
    let ok = if cont {
        is_numeric(&x.ty)
    } else {
        is_numeric(&x.ty) || matches!(x.ty, DataType::Timestamp(..))
    };
    if !ok {
        return Err(QueryError::Type(format!(
            "`{e}` needs a numeric column, got {}",
            sql_type_name(&x.ty)
        )));
    }
    Ok(if x.ty == DataType::Null {
        cast_to(x, &DataType::Float64)
    } else {
        x
    })
}

fn literal(v: &Value, e: &ast::Expr) -> Result<Expr> {
    Ok(Expr::literal(match v {
        Value::Number(text, _) => {
            let text: &str = text.as_ref();
            if let Ok(i) = text.parse::<i64>() {
                Scalar::Int(i)
            } else if text.bytes().all(|b| b.is_ascii_digit()) {
                // DuckDB reads it as HUGEINT, which frontier does not have (a DOUBLE here
                // would print and compare differently).
                return Err(QueryError::unsupported_at(
                    format!("integer literal `{text}` beyond BIGINT"),
                    expr_span(e),
                ));
            } else if let Ok(f) = text.parse::<f64>() {
                Scalar::Float(f)
            } else {
                return Err(QueryError::unsupported_at(
                    format!("number `{text}`"),
                    expr_span(e),
                ));
            }
        }
        Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => Scalar::Str(s.clone()),
        Value::Boolean(b) => Scalar::Bool(*b),
        Value::Null => Scalar::Null,
        other => {
            return Err(QueryError::unsupported_at(
                format!("literal `{other}`"),
                expr_span(e),
            ));
        }
    }))
}

pub(crate) fn cast_target(ty: &ast::DataType, e: &ast::Expr) -> Result<CastTarget> {
    use ast::DataType as T;
    let int = |min: i64, max: i64, sql_name| CastTarget::Int { min, max, sql_name };
    Ok(match ty {
        T::BigInt(_) | T::Int8(_) | T::Int64 | T::Signed | T::SignedInteger => CastTarget::BIGINT,
        T::Int(_) | T::Integer(_) | T::Int4(_) | T::Int32 => {
            int(i32::MIN as i64, i32::MAX as i64, "INTEGER")
        }
        T::SmallInt(_) | T::Int2(_) | T::Int16 => int(i16::MIN as i64, i16::MAX as i64, "SMALLINT"),
        T::TinyInt(_) => int(i8::MIN as i64, i8::MAX as i64, "TINYINT"),
        T::Double(_) | T::DoublePrecision | T::Float8 | T::Float64 => CastTarget::Float64,
        T::Float(_) | T::Real | T::Float4 | T::Float32 => {
            // DuckDB computes in 32 bits on a FLOAT (`CAST(0.1 AS FLOAT) * 3` and its VARCHAR
            // form differ from DOUBLE math); frontier only has DOUBLE.
            return Err(QueryError::unsupported_at(
                format!("CAST to {ty} (a 32-bit float; frontier computes in DOUBLE)"),
                expr_span(e),
            ));
        }
        T::Varchar(_) | T::Text | T::String(_) | T::CharacterVarying(_) | T::Nvarchar(_) => {
            CastTarget::Utf8
        }
        T::Boolean | T::Bool => CastTarget::Boolean,
        T::Timestamp(_, ast::TimezoneInfo::WithTimeZone | ast::TimezoneInfo::Tz) => {
            CastTarget::Timestamp(Some("UTC".into()))
        }
        T::Custom(name, modifiers)
            if modifiers.is_empty() && name.to_string().eq_ignore_ascii_case("timestamptz") =>
        {
            CastTarget::Timestamp(Some("UTC".into()))
        }
        other => {
            return Err(QueryError::unsupported_at(
                format!("CAST to {other}"),
                expr_span(e),
            ));
        }
    })
}

fn check_cast(from: &DataType, to: &CastTarget, e: &ast::Expr) -> Result<()> {
    let ok = match (from, to) {
        (DataType::Null, _) => true,
        (
            DataType::Int64 | DataType::Float64 | DataType::Boolean | DataType::Utf8,
            CastTarget::Timestamp(_),
        ) => *from == DataType::Utf8,
        (DataType::Int64 | DataType::Float64 | DataType::Boolean | DataType::Utf8, _) => true,
        (DataType::Timestamp(..), CastTarget::Timestamp(_)) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(QueryError::unsupported_at(
            format!(
                "CAST from {} to {}",
                sql_type_name(from),
                sql_type_name(&to.data_type())
            ),
            expr_span(e),
        ))
    }
}

/// The common type two operands are cast to (numeric widening; NULL adopts the other type).
pub(crate) fn common_type(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType as D;
    match (a, b) {
        _ if a == b => Some(a.clone()),
        (D::Null, other) | (other, D::Null) => Some(other.clone()),
        (D::Int64, D::Float64) | (D::Float64, D::Int64) => Some(D::Float64),
        (D::Timestamp(_, _), D::Timestamp(_, _)) => Some(a.clone()),
        _ => None,
    }
}

fn unify<'t>(types: impl IntoIterator<Item = &'t DataType>) -> Option<DataType> {
    types
        .into_iter()
        .try_fold(DataType::Null, |acc, t| common_type(&acc, t))
}

fn type_list<'t>(types: impl IntoIterator<Item = &'t DataType>) -> String {
    types
        .into_iter()
        .map(sql_type_name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_orderable(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Null
            | DataType::Int64
            | DataType::Float64
            | DataType::Utf8
            | DataType::Boolean
            | DataType::Timestamp(TimeUnit::Microsecond, _)
    )
}

/// Integer stays integer (NULL becomes BIGINT), float stays float.
fn numeric_result(ty: &DataType) -> DataType {
    if *ty == DataType::Float64 {
        DataType::Float64
    } else {
        DataType::Int64
    }
}

/// Make `e` produce `ty`, inserting an implicit cast when needed.
pub(crate) fn cast_to(e: Expr, ty: &DataType) -> Expr {
    if e.ty == *ty {
        return e;
    }
    if let ExprKind::Literal(Scalar::Null) = e.kind {
        return Expr::new(ExprKind::Literal(Scalar::Null), ty.clone());
    }
    let to = match ty {
        DataType::Int64 => CastTarget::BIGINT,
        DataType::Float64 => CastTarget::Float64,
        DataType::Utf8 => CastTarget::Utf8,
        DataType::Boolean => CastTarget::Boolean,
        DataType::Timestamp(_, tz) => CastTarget::Timestamp(tz.clone()),
        _ => return e,
    };
    Expr::new(
        ExprKind::Cast {
            expr: Box::new(e),
            to,
            try_cast: false,
        },
        ty.clone(),
    )
}

fn expect_numeric(x: &Expr, what: &str, e: &ast::Expr) -> Result<()> {
    if is_numeric(&x.ty) {
        Ok(())
    } else {
        Err(QueryError::Type(format!(
            "{what} needs a number, got {} in `{e}`",
            sql_type_name(&x.ty)
        )))
    }
}

fn expect_bool(x: Expr, what: &str, e: &ast::Expr) -> Result<Expr> {
    match x.ty {
        DataType::Boolean => Ok(x),
        DataType::Null => Ok(cast_to(x, &DataType::Boolean)),
        _ => Err(QueryError::Type(format!(
            "{what} needs BOOLEAN operands, got {} in `{e}`",
            sql_type_name(&x.ty)
        ))),
    }
}

fn expect_string(x: Expr, what: &str, e: &ast::Expr) -> Result<Expr> {
    match x.ty {
        DataType::Utf8 => Ok(x),
        DataType::Null => Ok(cast_to(x, &DataType::Utf8)),
        _ => Err(QueryError::Type(format!(
            "{what} needs VARCHAR, got {} in `{e}`",
            sql_type_name(&x.ty)
        ))),
    }
}

fn to_string_expr(x: Expr, e: &ast::Expr) -> Result<Expr> {
    match x.ty {
        DataType::Utf8
        | DataType::Null
        | DataType::Int64
        | DataType::Float64
        | DataType::Boolean => Ok(cast_to(x, &DataType::Utf8)),
        _ => Err(QueryError::unsupported_at(
            format!("converting {} to VARCHAR", sql_type_name(&x.ty)),
            expr_span(e),
        )),
    }
}

/// Operands joined by an associative Boolean operator as a tree of depth log2(n).
fn balanced(mut operands: Vec<Expr>, join: fn(Box<Expr>, Box<Expr>) -> ExprKind) -> Option<Expr> {
    while operands.len() > 1 {
        let mut next = Vec::with_capacity(operands.len().div_ceil(2));
        let mut pairs = operands.into_iter();
        while let Some(l) = pairs.next() {
            next.push(match pairs.next() {
                Some(r) => Expr::boolean(join(Box::new(l), Box::new(r))),
                None => l,
            });
        }
        operands = next;
    }
    operands.pop()
}

/// The error for an expression nested beyond [`MAX_EXPR_DEPTH`], naming the operator that
/// nests (never displaying the whole expression, which may be thousands of levels deep).
fn too_deep(e: &ast::Expr) -> QueryError {
    let what = match e {
        ast::Expr::BinaryOp { op, .. } => format!("a chain of `{op}` operators"),
        ast::Expr::Nested(_) => "parentheses".to_string(),
        ast::Expr::Function(f) => format!("calls of `{}`", f.name),
        ast::Expr::Cast { .. } => "casts".to_string(),
        _ => "operators".to_string(),
    };
    QueryError::Unsupported {
        construct: format!("expression nested more than {MAX_EXPR_DEPTH} levels deep ({what})"),
        location: None,
    }
}

fn negate_if(x: Expr, negated: bool) -> Expr {
    if negated {
        Expr::boolean(ExprKind::Not(Box::new(x)))
    } else {
        x
    }
}

fn arithmetic(op: ArithOp, l: Expr, r: Expr, e: &ast::Expr) -> Result<Expr> {
    if !is_numeric(&l.ty) || !is_numeric(&r.ty) {
        return Err(QueryError::Type(format!(
            "cannot apply arithmetic to {} and {} in `{e}`",
            sql_type_name(&l.ty),
            sql_type_name(&r.ty)
        )));
    }
    let both_int = l.ty != DataType::Float64 && r.ty != DataType::Float64;
    let ty = if op == ArithOp::Div || !both_int {
        DataType::Float64
    } else {
        DataType::Int64
    };
    let (l, r) = (cast_to(l, &ty), cast_to(r, &ty));
    Ok(Expr::new(ExprKind::Arith(op, Box::new(l), Box::new(r)), ty))
}

/// A comparison with both sides brought to one type. A string literal compared with a
/// number, boolean or timestamp is cast to that type (as DuckDB does).
pub(crate) fn compare(op: CmpOp, l: Expr, r: Expr, e: &ast::Expr) -> Result<Expr> {
    let is_str_literal = |x: &Expr| matches!(x.kind, ExprKind::Literal(Scalar::Str(_)));
    let ty = match common_type(&l.ty, &r.ty) {
        Some(ty) => ty,
        None if is_str_literal(&r) && l.ty != DataType::Utf8 => l.ty.clone(),
        None if is_str_literal(&l) && r.ty != DataType::Utf8 => r.ty.clone(),
        None if l.ty == DataType::Utf8 && matches!(r.ty, DataType::Timestamp(..)) => r.ty.clone(),
        None if r.ty == DataType::Utf8 && matches!(l.ty, DataType::Timestamp(..)) => l.ty.clone(),
        None => {
            return Err(QueryError::Type(format!(
                "cannot compare {} with {} in `{e}`",
                sql_type_name(&l.ty),
                sql_type_name(&r.ty)
            )));
        }
    };
    if !is_orderable(&ty) {
        return Err(QueryError::Type(format!(
            "cannot compare values of type {} in `{e}`",
            sql_type_name(&ty)
        )));
    }
    let (l, r) = (cast_to(l, &ty), cast_to(r, &ty));
    Ok(Expr::boolean(ExprKind::Cmp(op, Box::new(l), Box::new(r))))
}

/// Parentheses around a whole expression do not change it: `ORDER BY (1)` is position 1 in
/// DuckDB, as `ORDER BY 1`.
pub(crate) fn strip_parens(mut e: &ast::Expr) -> &ast::Expr {
    while let ast::Expr::Nested(inner) = e {
        e = inner;
    }
    e
}

/// A literal other than an integer, possibly negated or in parentheses (`'a'`, `NULL`, `true`,
/// `1.5`, `-0.5`): DuckDB rejects it as an ORDER BY key, also in WITHIN GROUP, since sorting
/// by a constant has no effect.
pub(crate) fn is_non_integer_literal(e: &ast::Expr) -> bool {
    match strip_parens(e) {
        // DuckDB folds a negated number into the literal (`-0.5`), not `-NULL` or `-'a'`.
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => {
            matches!(strip_parens(expr), ast::Expr::Value(v)
            if matches!(&v.value, ast::Value::Number(..)))
                && is_non_integer_literal(expr)
        }
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n.parse::<u64>().is_err(),
            _ => true,
        },
        _ => false,
    }
}

pub(crate) fn non_integer_order_key(e: &ast::Expr) -> QueryError {
    QueryError::Invalid(format!(
        "ORDER BY `{e}`: sorting by a literal that is not an integer has no effect (DuckDB \
         rejects it too)"
    ))
}
