//! Running a query: FROM (tables, CTEs, subqueries, joins, `pareto(...)`) -> WHERE ->
//! GROUP BY / aggregates -> HAVING -> SELECT list -> DISTINCT -> ORDER BY -> OFFSET/LIMIT.

use arrow_array::{Array, RecordBatch, UInt32Array};
use arrow_ord::sort::{SortColumn, SortOptions};
use arrow_schema::DataType;
use sqlparser::ast::{
    self, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, JoinConstraint,
    JoinOperator, LimitClause, OrderByKind, SelectItem, SelectItemQualifiedWildcardKind, SetExpr,
    TableFactor, Value,
};
use sqlparser::tokenizer::Span;

use super::aggregate::{Groups, SortedCache, accumulate};
use super::bind::{
    Binder, cast_to, common_type, is_non_integer_literal, non_integer_order_key, strip_parens,
};
use super::error::{QueryError, Result, SqlLocation, closest, expr_span, span_of};
use super::eval::{canonical_floats, eval, eval_predicate, is_constant};
use super::expr::{AggCall, Expr, ExprKind, Scalar, is_numeric, sql_type_name};
use super::join::{JoinKind, hash_join};
use super::pareto::{Direction, with_frontier_column};
use super::rel::{Rel, RelField, resolve, take_all, to_batch};
use super::tables::Tables;

/// What a query can read: the run's tables plus the CTEs in scope.
#[derive(Clone)]
pub(crate) struct Catalog<'a> {
    tables: &'a Tables,
    ctes: Vec<(String, RecordBatch)>,
}

impl<'a> Catalog<'a> {
    pub(crate) fn new(tables: &'a Tables) -> Self {
        Catalog {
            tables,
            ctes: Vec::new(),
        }
    }

    fn lookup(&self, name: &ast::Ident) -> Result<RecordBatch> {
        if let Some((_, batch)) = self
            .ctes
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name.value))
        {
            return Ok(batch.clone());
        }
        if let Some(batch) = self.tables.get(&name.value) {
            return batch;
        }
        let mut available: Vec<String> = self.ctes.iter().map(|(n, _)| n.clone()).collect();
        available.extend(self.tables.names());
        Err(QueryError::UnknownTable {
            suggestion: closest(&name.value, available.iter().map(String::as_str)),
            name: name.value.clone(),
            available,
            location: SqlLocation::from_span(name.span),
        })
    }
}

/// Where a query starts: its WITH or SELECT keyword (cheap, unlike sqlparser's `Spanned`).
fn query_span(q: &ast::Query) -> Span {
    match (&q.with, q.body.as_ref()) {
        (Some(with), _) => with.with_token.0.span,
        (None, SetExpr::Select(s)) => select_span(s),
        (None, _) => span_of(q),
    }
}

fn select_span(s: &ast::Select) -> Span {
    s.select_token.0.span
}

pub(crate) fn run_query(catalog: &Catalog<'_>, q: &ast::Query) -> Result<RecordBatch> {
    let span = query_span(q);
    if q.fetch.is_some() {
        return Err(QueryError::unsupported_at("FETCH", span));
    }
    if !q.locks.is_empty() {
        return Err(QueryError::unsupported_at("FOR UPDATE/SHARE", span));
    }
    if q.for_clause.is_some()
        || q.settings.is_some()
        || q.format_clause.is_some()
        || !q.pipe_operators.is_empty()
    {
        return Err(QueryError::unsupported_at(format!("`{q}`"), span));
    }
    let mut local;
    let catalog = match &q.with {
        None => catalog,
        Some(with) => {
            if with.recursive {
                return Err(QueryError::unsupported_at("WITH RECURSIVE", span));
            }
            local = catalog.clone();
            for cte in &with.cte_tables {
                let batch = run_query(&local, &cte.query)?;
                let batch = rename_columns(batch, &cte.alias.columns)?;
                local.ctes.push((cte.alias.name.value.clone(), batch));
            }
            &local
        }
    };
    match q.body.as_ref() {
        SetExpr::Select(select) => run_select(
            catalog,
            select,
            q.order_by.as_ref(),
            q.limit_clause.as_ref(),
        ),
        SetExpr::Query(inner) if q.order_by.is_none() && q.limit_clause.is_none() => {
            run_query(catalog, inner)
        }
        SetExpr::Query(_) => Err(QueryError::unsupported_at(
            "ORDER BY or LIMIT on a parenthesised query",
            span,
        )),
        SetExpr::SetOperation {
            op, set_quantifier, ..
        } => {
            let quantifier = match set_quantifier {
                ast::SetQuantifier::None => String::new(),
                q => format!(" {q}"),
            };
            Err(QueryError::unsupported_at(
                format!("{op}{quantifier} (set operations)"),
                span,
            ))
        }
        SetExpr::Values(_) => Err(QueryError::unsupported_at("VALUES", span)),
        other => Err(QueryError::unsupported_at(format!("`{other}`"), span)),
    }
}

fn rename_columns(batch: RecordBatch, names: &[ast::TableAliasColumnDef]) -> Result<RecordBatch> {
    if names.is_empty() {
        return Ok(batch);
    }
    if names.len() > batch.num_columns() {
        return Err(QueryError::Invalid(format!(
            "{} column aliases given for {} columns",
            names.len(),
            batch.num_columns()
        )));
    }
    let mut out: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    for (slot, alias) in out.iter_mut().zip(names) {
        *slot = alias.name.value.clone();
    }
    let rows = batch.num_rows();
    to_batch(&out, batch.columns().to_vec(), rows)
}

/// Where an ORDER BY key comes from.
enum SortSource {
    /// A column of the output (by alias, name or position).
    Output(usize),
    /// An expression over the relation the SELECT list is evaluated on.
    Expr(Expr),
}

fn run_select(
    catalog: &Catalog<'_>,
    s: &ast::Select,
    order_by: Option<&ast::OrderBy>,
    limit: Option<&LimitClause>,
) -> Result<RecordBatch> {
    reject_select_extras(s)?;
    let rel = from_clause(catalog, &s.from)?;
    // Borrowed, not cloned: cloning sqlparser's AST recurses once per level of a chain.
    let aliases: Vec<(String, &ast::Expr)> = s
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { expr, alias } => Some((alias.value.clone(), expr)),
            _ => None,
        })
        .collect();

    // WHERE
    let rel = match &s.selection {
        None => rel,
        Some(w) => {
            let mut b = Binder::new(&rel.fields, "in WHERE");
            b.aliases = &aliases;
            let predicate = expect_predicate(b.bind(w)?, "WHERE", w)?;
            let mask = eval_predicate(&predicate, &rel.columns, rel.num_rows)?;
            rel.filter(&mask)?
        }
    };

    // SELECT list, collecting aggregate calls.
    let mut aggs: Vec<AggCall> = Vec::new();
    let mut items: Vec<(String, Expr)> = Vec::new();
    // Items named by `AS`: a bare ORDER BY name matches these first (as DuckDB).
    let mut aliased: Vec<usize> = Vec::new();
    for item in &s.projection {
        let mut b = Binder::new(&rel.fields, "");
        b.aggs = Some(&mut aggs);
        match item {
            SelectItem::UnnamedExpr(e) => {
                let bound = b.bind(e)?;
                // A column is named as stored (`SELECT K FROM t` gives `k`), as DuckDB.
                let name = match (&bound.kind, e) {
                    (
                        ExprKind::Column(i),
                        ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_),
                    ) => rel.fields[*i].name.clone(),
                    _ => output_name(e),
                };
                items.push((name, bound))
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                aliased.push(items.len());
                items.push((alias.value.clone(), b.bind(expr)?))
            }
            SelectItem::Wildcard(options) => {
                reject_wildcard_options(options, item)?;
                for (i, f) in rel.fields.iter().enumerate().filter(|(_, f)| !f.hidden) {
                    items.push((f.name.clone(), column(i, f)));
                }
            }
            SelectItem::QualifiedWildcard(kind, options) => {
                reject_wildcard_options(options, item)?;
                let SelectItemQualifiedWildcardKind::ObjectName(name) = kind else {
                    return Err(QueryError::unsupported_at(
                        format!("`{item}`"),
                        span_of(item),
                    ));
                };
                let qualifier = name.to_string();
                let before = items.len();
                for (i, f) in rel.fields.iter().enumerate() {
                    if f.qualifier
                        .as_deref()
                        .is_some_and(|q| q.eq_ignore_ascii_case(&qualifier))
                    {
                        items.push((f.name.clone(), column(i, f)));
                    }
                }
                if items.len() == before {
                    let mut available: Vec<String> = rel
                        .fields
                        .iter()
                        .filter_map(|f| f.qualifier.clone())
                        .collect();
                    available.dedup();
                    return Err(QueryError::UnknownTable {
                        suggestion: closest(&qualifier, available.iter().map(String::as_str)),
                        name: qualifier,
                        available,
                        location: SqlLocation::from_span(span_of(item)),
                    });
                }
            }
            SelectItem::ExprWithAliases { .. } => {
                return Err(QueryError::unsupported_at(
                    format!("`{item}`"),
                    span_of(item),
                ));
            }
        }
    }

    // GROUP BY
    let grouped;
    let group_exprs: Vec<Expr> = match &s.group_by {
        GroupByExpr::All(modifiers) => {
            if !modifiers.is_empty() {
                return Err(QueryError::unsupported_at(
                    "GROUP BY ALL modifiers",
                    select_span(s),
                ));
            }
            // As DuckDB: constants (`1 AS one`, `lower('X')`) are not grouping keys, so a
            // SELECT of only aggregates and constants gives one row, also over no rows.
            let keys: Vec<Expr> = items
                .iter()
                .filter(|(_, e)| !e.contains_agg() && !is_constant(e))
                .map(|(_, e)| e.clone())
                .collect();
            grouped = !keys.is_empty();
            keys
        }
        GroupByExpr::Expressions(exprs, modifiers) => {
            if !modifiers.is_empty() {
                return Err(QueryError::unsupported_at(
                    "GROUP BY ROLLUP/CUBE/GROUPING SETS/TOTALS",
                    select_span(s),
                ));
            }
            grouped = !exprs.is_empty();
            let mut out = Vec::with_capacity(exprs.len());
            for g in exprs {
                if is_negative_position(g) {
                    return Err(QueryError::Invalid(format!(
                        "GROUP BY position `{g}` is not in the SELECT list (1 to {})",
                        items.len()
                    )));
                }
                if let Some(k) = position(g)? {
                    let (_, e) = items.get(k).ok_or_else(|| {
                        QueryError::Invalid(format!(
                            "GROUP BY position {} is not in the SELECT list (1 to {})",
                            k + 1,
                            items.len()
                        ))
                    })?;
                    if e.contains_agg() {
                        return Err(QueryError::Invalid(format!(
                            "GROUP BY position {} refers to an aggregate",
                            k + 1
                        )));
                    }
                    out.push(e.clone());
                } else {
                    let mut b = Binder::new(&rel.fields, "in GROUP BY");
                    b.aliases = &aliases;
                    out.push(b.bind(g)?);
                }
            }
            out
        }
    };

    // HAVING
    let having = match &s.having {
        None => None,
        Some(h) => {
            let mut b = Binder::new(&rel.fields, "");
            b.aggs = Some(&mut aggs);
            b.aliases = &aliases;
            Some(expect_predicate(b.bind(h)?, "HAVING", h)?)
        }
    };

    // ORDER BY keys
    let mut sort_keys: Vec<(SortSource, SortOptions)> = Vec::new();
    if let Some(order_by) = order_by {
        if order_by.interpolate.is_some() {
            return Err(QueryError::unsupported_at(
                "ORDER BY ... INTERPOLATE",
                select_span(s),
            ));
        }
        let list = match &order_by.kind {
            OrderByKind::Expressions(list) => list,
            OrderByKind::All(_) => {
                return Err(QueryError::unsupported_at("ORDER BY ALL", select_span(s)));
            }
        };
        for o in list {
            if o.with_fill.is_some() {
                return Err(QueryError::unsupported_at(
                    "ORDER BY ... WITH FILL",
                    select_span(s),
                ));
            }
            let descending = match o.options.sort {
                None | Some(ast::OrderBySort::Asc) => false,
                Some(ast::OrderBySort::Desc) => true,
                Some(_) => {
                    return Err(QueryError::unsupported_at(
                        format!("ORDER BY `{o}`"),
                        expr_span(&o.expr),
                    ));
                }
            };
            // DuckDB's default: NULLS LAST for both ASC and DESC.
            let options = SortOptions {
                descending,
                nulls_first: o.options.nulls_first.unwrap_or(false),
            };
            check_order_literal(&o.expr, items.len())?;
            let source = if let Some(k) = position(&o.expr)? {
                if k >= items.len() {
                    return Err(QueryError::Invalid(format!(
                        "ORDER BY position {} is not in the SELECT list (1 to {})",
                        k + 1,
                        items.len()
                    )));
                }
                SortSource::Output(k)
            } else if let Some(k) = output_by_name(&o.expr, &items, &aliased) {
                SortSource::Output(k)
            } else {
                let mut b = Binder::new(&rel.fields, "");
                b.aggs = Some(&mut aggs);
                b.aliases = &aliases;
                let bound = b.bind(&o.expr)?;
                match items.iter().position(|(_, e)| *e == bound) {
                    Some(k) => SortSource::Output(k),
                    None => SortSource::Expr(bound),
                }
            };
            sort_keys.push((source, options));
        }
    }

    // Aggregation: the SELECT list, HAVING and ORDER BY are rewritten to read the grouped
    // relation (group keys first, then one column per aggregate call).
    let aggregated = grouped || !aggs.is_empty() || having.is_some();
    let (pre, items, having, sort_keys) = if aggregated {
        let key_columns = group_exprs
            .iter()
            .map(|g| eval(g, &rel.columns, rel.num_rows))
            .collect::<Result<Vec<_>>>()?;
        let groups = if grouped {
            Groups::by_keys(&key_columns, rel.num_rows)?
        } else {
            Groups::single(rel.num_rows)
        };
        let first_rows = UInt32Array::from(groups.first_rows.clone());
        let mut columns = if grouped {
            take_all(&key_columns, &first_rows)?
        } else {
            vec![]
        };
        let mut fields: Vec<RelField> = group_exprs
            .iter()
            .enumerate()
            .map(|(k, g)| hidden_field(format!("#group{k}"), g.ty.clone()))
            .collect();
        let mut sorted_cache = SortedCache::default();
        for (k, call) in aggs.iter().enumerate() {
            let arg = call
                .arg
                .as_ref()
                .map(|x| eval(x, &rel.columns, rel.num_rows))
                .transpose()?;
            columns.push(accumulate(call, arg.as_ref(), &groups, &mut sorted_cache)?);
            fields.push(hidden_field(format!("#agg{k}"), call.ty.clone()));
        }
        let post = Rel {
            fields,
            columns,
            num_rows: groups.count,
        };
        let rewrite = |e: Expr| post_aggregate(e, &group_exprs, &rel.fields);
        let items = items
            .into_iter()
            .map(|(n, e)| Ok((n, rewrite(e)?)))
            .collect::<Result<Vec<_>>>()?;
        let having = having.map(rewrite).transpose()?;
        let sort_keys = sort_keys
            .into_iter()
            .map(|(src, o)| {
                Ok((
                    match src {
                        SortSource::Expr(e) => SortSource::Expr(rewrite(e)?),
                        out => out,
                    },
                    o,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        (post, items, having, sort_keys)
    } else {
        (rel, items, having, sort_keys)
    };
    let pre = match &having {
        None => pre,
        Some(h) => {
            let mask = eval_predicate(h, &pre.columns, pre.num_rows)?;
            pre.filter(&mask)?
        }
    };

    // SELECT list and sort keys, aligned row by row.
    let mut rows = pre.num_rows;
    let mut out = items
        .iter()
        .map(|(_, e)| eval(e, &pre.columns, rows))
        .collect::<Result<Vec<_>>>()?;
    let mut keys = sort_keys
        .iter()
        .map(|(src, _)| match src {
            SortSource::Output(k) => Ok(out[*k].clone()),
            SortSource::Expr(e) => eval(e, &pre.columns, rows),
        })
        .collect::<Result<Vec<_>>>()?;

    if matches!(s.distinct, Some(ast::Distinct::Distinct)) {
        let groups = Groups::by_keys(&out, rows)?;
        let first = UInt32Array::from(groups.first_rows);
        if out.is_empty() {
            rows = rows.min(1);
        } else {
            out = take_all(&out, &first)?;
            rows = first.len();
        }
        keys = take_all(&keys, &first)?;
    }

    let (offset, limit) = limit_offset(limit)?;
    let names: Vec<String> = items.into_iter().map(|(n, _)| n).collect();
    let sortable: Vec<SortColumn> = keys
        .into_iter()
        .zip(&sort_keys)
        .filter(|(k, _)| *k.data_type() != DataType::Null)
        .map(|(values, (_, options))| SortColumn {
            values: canonical_floats(&values),
            options: Some(*options),
        })
        .collect();
    let end = limit.map_or(rows, |l| offset.saturating_add(l).min(rows));
    let start = offset.min(end);
    if sortable.is_empty() {
        if start == 0 && end == rows {
            return to_batch(&names, out, rows);
        }
        let sliced = out.iter().map(|c| c.slice(start, end - start)).collect();
        return to_batch(&names, sliced, end - start);
    }
    let indices = arrow_ord::sort::lexsort_to_indices(&sortable, Some(end))?;
    let indices = indices.slice(start, end - start);
    let columns = take_all(&out, &indices)?;
    to_batch(&names, columns, indices.len())
}

fn hidden_field(name: String, ty: DataType) -> RelField {
    RelField {
        qualifier: None,
        name,
        ty,
        hidden: true,
    }
}

fn column(i: usize, f: &RelField) -> Expr {
    Expr::new(ExprKind::Column(i), f.ty.clone())
}

/// After grouping: group expressions and aggregate calls become columns of the grouped
/// relation; any other column reference is an error (it is neither grouped nor aggregated).
fn post_aggregate(e: Expr, group_exprs: &[Expr], input: &[RelField]) -> Result<Expr> {
    if let Some(k) = group_exprs.iter().position(|g| *g == e) {
        return Ok(Expr::new(ExprKind::Column(k), e.ty));
    }
    match e.kind {
        ExprKind::Agg(i) => Ok(Expr::new(ExprKind::Column(group_exprs.len() + i), e.ty)),
        ExprKind::Column(i) => Err(QueryError::Invalid(format!(
            "column `{}` must appear in the GROUP BY clause or be used in an aggregate function",
            input[i].display()
        ))),
        _ => e.try_map_children(&mut |c| post_aggregate(c, group_exprs, input)),
    }
}

fn expect_predicate(e: Expr, clause: &str, ast: &ast::Expr) -> Result<Expr> {
    match e.ty {
        DataType::Boolean => Ok(e),
        DataType::Null => Ok(cast_to(e, &DataType::Boolean)),
        _ => Err(QueryError::Type(format!(
            "{clause} needs a BOOLEAN condition, got {} in `{ast}`",
            sql_type_name(&e.ty)
        ))),
    }
}

/// ORDER BY keys DuckDB rejects rather than sort by a constant: a negative position
/// (`ORDER BY -1`, "ORDER term out of range") and a literal that is not an integer
/// (`ORDER BY 'a'`, `NULL`, `true`, `-1.5`: "non-integer literal has no effect").
fn check_order_literal(e: &ast::Expr, items: usize) -> Result<()> {
    if is_non_integer_literal(e) {
        return Err(non_integer_order_key(e));
    }
    if is_negative_position(e) {
        return Err(QueryError::Invalid(format!(
            "ORDER BY position `{e}` is not in the SELECT list (1 to {items})"
        )));
    }
    Ok(())
}

/// `-1`, `(-0)`: DuckDB reads a negated integer literal in ORDER BY or GROUP BY as a position
/// (always out of range), not as a constant.
fn is_negative_position(e: &ast::Expr) -> bool {
    matches!(
        strip_parens(e),
        ast::Expr::UnaryOp { op: ast::UnaryOperator::Minus, expr }
            if matches!(strip_parens(expr), ast::Expr::Value(v)
                if matches!(&v.value, Value::Number(n, _) if n.parse::<u64>().is_ok()))
    )
}

/// `ORDER BY 2` / `GROUP BY 1`: a 0-based position in the SELECT list.
fn position(e: &ast::Expr) -> Result<Option<usize>> {
    if let ast::Expr::Value(v) = strip_parens(e)
        && let Value::Number(n, _) = &v.value
    {
        let n: &str = n.as_ref();
        if n.parse::<u64>().is_err() && n.parse::<f64>().is_ok() {
            // `GROUP BY 1.5` groups by a constant in DuckDB (ORDER BY rejects it first).
            return Ok(None);
        }
        return match n.parse::<usize>() {
            Ok(k) if k >= 1 => Ok(Some(k - 1)),
            _ => Err(QueryError::Invalid(format!(
                "`{n}` is not a valid SELECT list position"
            ))),
        };
    }
    Ok(None)
}

/// A bare name matching an `AS` alias (the last such, as DuckDB: `SELECT k AS x, x FROM t
/// ORDER BY x` sorts by k), else exactly one output column (alias or column name).
fn output_by_name(e: &ast::Expr, items: &[(String, Expr)], aliased: &[usize]) -> Option<usize> {
    let ast::Expr::Identifier(ident) = e else {
        return None;
    };
    if let Some(&k) = aliased
        .iter()
        .rev()
        .find(|&&k| items[k].0.eq_ignore_ascii_case(&ident.value))
    {
        return Some(k);
    }
    let mut matches = items
        .iter()
        .enumerate()
        .filter(|(_, (n, _))| n.eq_ignore_ascii_case(&ident.value));
    match (matches.next(), matches.next()) {
        (Some((k, _)), None) => Some(k),
        _ => None,
    }
}

/// The name DuckDB would give an unaliased SELECT item.
fn output_name(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(i) => i.value.clone(),
        ast::Expr::CompoundIdentifier(parts) => {
            parts.last().map(|p| p.value.clone()).unwrap_or_default()
        }
        ast::Expr::Function(f)
            if f.name.to_string().eq_ignore_ascii_case("count")
                && matches!(&f.args, FunctionArguments::List(l)
                    if matches!(l.args.as_slice(), [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)])) =>
        {
            "count_star()".to_string()
        }
        other => other.to_string(),
    }
}

fn limit_offset(limit: Option<&LimitClause>) -> Result<(usize, Option<usize>)> {
    let constant = |e: &ast::Expr, what: &str| -> Result<Option<usize>> {
        let mut b = Binder::new(&[], "in LIMIT/OFFSET");
        let bound = b.bind(e)?;
        let v = eval(&bound, &[], 1)?;
        if v.logical_null_count() > 0 {
            return Ok(None);
        }
        match (&bound.ty, &bound.kind) {
            (DataType::Int64, _) => {
                let n = v
                    .as_any()
                    .downcast_ref::<arrow_array::Int64Array>()
                    .map(|a| a.value(0))
                    .unwrap_or(-1);
                usize::try_from(n).map(Some).map_err(|_| {
                    QueryError::Invalid(format!("{what} must not be negative, got {n}"))
                })
            }
            (_, ExprKind::Literal(Scalar::Null)) => Ok(None),
            _ => Err(QueryError::Type(format!(
                "{what} must be an integer, got {}",
                sql_type_name(&bound.ty)
            ))),
        }
    };
    match limit {
        None => Ok((0, None)),
        Some(LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) => {
            if !limit_by.is_empty() {
                return Err(QueryError::unsupported("LIMIT BY"));
            }
            let offset = match offset {
                Some(o) => constant(&o.value, "OFFSET")?.unwrap_or(0),
                None => 0,
            };
            let limit = match limit {
                Some(l) => constant(l, "LIMIT")?,
                None => None,
            };
            Ok((offset, limit))
        }
        Some(LimitClause::OffsetCommaLimit { offset, limit }) => Ok((
            constant(offset, "OFFSET")?.unwrap_or(0),
            constant(limit, "LIMIT")?,
        )),
    }
}

fn reject_select_extras(s: &ast::Select) -> Result<()> {
    let span = select_span(s);
    let unsupported = |what: &str| Err(QueryError::unsupported_at(what, span));
    if let Some(ast::Distinct::On(_)) = s.distinct {
        return unsupported("DISTINCT ON");
    }
    if s.top.is_some() {
        return unsupported("TOP");
    }
    if s.into.is_some() {
        return unsupported("SELECT INTO");
    }
    if !s.lateral_views.is_empty() {
        return unsupported("LATERAL VIEW");
    }
    if s.prewhere.is_some() {
        return unsupported("PREWHERE");
    }
    if !s.connect_by.is_empty() {
        return unsupported("CONNECT BY");
    }
    if !s.cluster_by.is_empty() || !s.distribute_by.is_empty() || !s.sort_by.is_empty() {
        return unsupported("CLUSTER/DISTRIBUTE/SORT BY");
    }
    if !s.named_window.is_empty() {
        return unsupported("WINDOW clause (window functions)");
    }
    if s.qualify.is_some() {
        return unsupported("QUALIFY (window functions)");
    }
    if s.value_table_mode.is_some() || s.select_modifiers.is_some() || s.exclude.is_some() {
        return unsupported("SELECT modifiers");
    }
    Ok(())
}

fn reject_wildcard_options(o: &ast::WildcardAdditionalOptions, item: &SelectItem) -> Result<()> {
    if o.opt_ilike.is_some()
        || o.opt_exclude.is_some()
        || o.opt_except.is_some()
        || o.opt_replace.is_some()
        || o.opt_rename.is_some()
        || o.opt_alias.is_some()
    {
        return Err(QueryError::unsupported_at(
            format!("`{item}` (EXCLUDE/REPLACE/RENAME on *)"),
            span_of(item),
        ));
    }
    Ok(())
}

fn from_clause(catalog: &Catalog<'_>, from: &[ast::TableWithJoins]) -> Result<Rel> {
    match from {
        [] => Ok(Rel::single_row()),
        [one] => {
            let mut rel = table_factor(catalog, &one.relation)?;
            for join in &one.joins {
                rel = join_with(catalog, rel, join)?;
            }
            Ok(rel)
        }
        [_, second, ..] => Err(QueryError::unsupported_at(
            "several tables in FROM separated by commas (a cross join); use JOIN ... ON",
            span_of(second),
        )),
    }
}

fn single_name(name: &ast::ObjectName) -> Result<&ast::Ident> {
    match name.0.as_slice() {
        [ast::ObjectNamePart::Identifier(ident)] => Ok(ident),
        _ => Err(QueryError::unsupported_at(
            format!("qualified table name `{name}`"),
            span_of(name),
        )),
    }
}

fn table_factor(catalog: &Catalog<'_>, factor: &TableFactor) -> Result<Rel> {
    match factor {
        TableFactor::Table {
            name,
            alias,
            args,
            with_hints,
            version,
            with_ordinality,
            partitions,
            json_path,
            sample,
            index_directives,
            inheritance,
        } => {
            if !with_hints.is_empty()
                || version.is_some()
                || *with_ordinality
                || !partitions.is_empty()
                || json_path.is_some()
                || sample.is_some()
                || !index_directives.is_empty()
                || inheritance.is_some()
            {
                return Err(QueryError::unsupported_at(
                    format!("`{factor}`"),
                    span_of(factor),
                ));
            }
            let ident = single_name(name)?;
            let rel = match args {
                Some(args) => table_function(catalog, ident, args, alias.as_ref())?,
                None => {
                    let batch = catalog.lookup(ident)?;
                    let qualifier = alias.as_ref().map_or(&ident.value, |a| &a.name.value);
                    Rel::from_batch(&batch, Some(qualifier))
                }
            };
            apply_alias_columns(rel, alias.as_ref())
        }
        TableFactor::Derived {
            lateral,
            subquery,
            alias,
            sample,
        } => {
            if *lateral || sample.is_some() {
                return Err(QueryError::unsupported_at(
                    format!("`{factor}`"),
                    span_of(factor),
                ));
            }
            let batch = run_query(catalog, subquery)?;
            let rel = Rel::from_batch(&batch, alias.as_ref().map(|a| a.name.value.as_str()));
            apply_alias_columns(rel, alias.as_ref())
        }
        TableFactor::NestedJoin { .. } => Err(QueryError::unsupported_at(
            "parenthesised joins in FROM",
            span_of(factor),
        )),
        other => Err(QueryError::unsupported_at(
            format!("`{other}` in FROM"),
            span_of(factor),
        )),
    }
}

fn apply_alias_columns(mut rel: Rel, alias: Option<&ast::TableAlias>) -> Result<Rel> {
    let Some(alias) = alias else { return Ok(rel) };
    if alias.columns.len() > rel.fields.len() {
        return Err(QueryError::Invalid(format!(
            "{} column aliases given for {} columns in `{alias}`",
            alias.columns.len(),
            rel.fields.len()
        )));
    }
    for (f, c) in rel.fields.iter_mut().zip(&alias.columns) {
        f.name = c.name.value.clone();
    }
    Ok(rel)
}

/// `pareto(source, min(expr) | max(expr), ...)`: every row of `source` (a table, CTE or
/// `(subquery)`) with `on_frontier` appended.
fn table_function(
    catalog: &Catalog<'_>,
    name: &ast::Ident,
    args: &ast::TableFunctionArgs,
    alias: Option<&ast::TableAlias>,
) -> Result<Rel> {
    if !name.value.eq_ignore_ascii_case("pareto") {
        let hint = closest(&name.value, ["pareto"])
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return Err(QueryError::unsupported_at(
            format!(
                "table function `{}`{hint} (the only table function is pareto())",
                name.value
            ),
            name.span,
        ));
    }
    let usage = "pareto(table_or_subquery, min(column), max(column), ...)";
    if args.settings.is_some() {
        return Err(QueryError::unsupported_at(
            "SETTINGS in pareto()",
            name.span,
        ));
    }
    let exprs = args
        .args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
            other => Err(QueryError::Invalid(format!(
                "unexpected argument `{other}`; write {usage}"
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    let Some((source, objectives)) = exprs.split_first() else {
        return Err(QueryError::Invalid(format!(
            "pareto() needs arguments: {usage}"
        )));
    };
    let (batch, source_name) = match source {
        ast::Expr::Identifier(ident) => (catalog.lookup(ident)?, ident.value.clone()),
        ast::Expr::Subquery(q) => (run_query(catalog, q)?, "pareto".to_string()),
        other => {
            return Err(QueryError::Invalid(format!(
                "the first argument of pareto() must be a table name or a (subquery), got `{other}`"
            )));
        }
    };
    if objectives.is_empty() {
        return Err(QueryError::Invalid(format!(
            "pareto() needs at least one objective: {usage}"
        )));
    }
    let rel = Rel::from_batch(&batch, Some(&source_name));
    let mut columns = Vec::with_capacity(objectives.len());
    let mut directions = Vec::with_capacity(objectives.len());
    for objective in objectives {
        let (direction, inner) = objective_parts(objective).ok_or_else(|| {
            QueryError::Invalid(format!(
                "pareto() objectives are written min(column) or max(column), got `{objective}`"
            ))
        })?;
        let mut b = Binder::new(&rel.fields, "in a pareto() objective");
        let bound = b.bind(inner)?;
        if !is_numeric(&bound.ty) {
            return Err(QueryError::Type(format!(
                "pareto() objective `{objective}` must be numeric, got {}",
                sql_type_name(&bound.ty)
            )));
        }
        let bound = cast_to(bound, &DataType::Float64);
        let values = eval(&bound, &rel.columns, rel.num_rows)?;
        let values = if *values.data_type() == DataType::Float64 {
            values
        } else {
            arrow_array::new_null_array(&DataType::Float64, rel.num_rows)
        };
        columns.push(values);
        directions.push(direction);
    }
    let marked = with_frontier_column(&batch, &columns, &directions)?;
    let qualifier = alias.map_or(source_name, |a| a.name.value.clone());
    Ok(Rel::from_batch(&marked, Some(&qualifier)))
}

pub(crate) fn objective_parts(e: &ast::Expr) -> Option<(Direction, &ast::Expr)> {
    let ast::Expr::Function(f) = e else {
        return None;
    };
    let direction = match f.name.to_string().to_ascii_lowercase().as_str() {
        "min" | "minimize" | "minimise" => Direction::Minimize,
        "max" | "maximize" | "maximise" => Direction::Maximize,
        _ => return None,
    };
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(inner))]
            if list.duplicate_treatment.is_none() && list.clauses.is_empty() =>
        {
            Some((direction, inner))
        }
        _ => None,
    }
}

fn join_with(catalog: &Catalog<'_>, left: Rel, join: &ast::Join) -> Result<Rel> {
    let span = span_of(&join.relation);
    let (kind, constraint) = match &join.join_operator {
        JoinOperator::Join(c) | JoinOperator::Inner(c) => (JoinKind::Inner, c),
        JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (JoinKind::Left, c),
        JoinOperator::Right(_) | JoinOperator::RightOuter(_) => {
            return Err(QueryError::unsupported_at("RIGHT JOIN", span));
        }
        JoinOperator::FullOuter(_) => return Err(QueryError::unsupported_at("FULL JOIN", span)),
        JoinOperator::CrossJoin(_) => return Err(QueryError::unsupported_at("CROSS JOIN", span)),
        JoinOperator::Semi(_)
        | JoinOperator::LeftSemi(_)
        | JoinOperator::RightSemi(_)
        | JoinOperator::Anti(_)
        | JoinOperator::LeftAnti(_)
        | JoinOperator::RightAnti(_) => {
            return Err(QueryError::unsupported_at("SEMI/ANTI JOIN", span));
        }
        JoinOperator::AsOf { .. } => return Err(QueryError::unsupported_at("ASOF JOIN", span)),
        _ => return Err(QueryError::unsupported_at(format!("join `{join}`"), span)),
    };
    if join.global {
        return Err(QueryError::unsupported_at("GLOBAL JOIN", span));
    }
    let mut right = table_factor(catalog, &join.relation)?;
    let (left_keys, right_keys): (Vec<Expr>, Vec<Expr>) = match constraint {
        JoinConstraint::On(on) => equi_keys(on, &left, &right)?,
        JoinConstraint::Using(names) => {
            let mut pairs = (Vec::new(), Vec::new());
            for name in names {
                let ident = single_name(name)?;
                let l = resolve(&left.fields, std::slice::from_ref(ident))?;
                let r = resolve(&right.fields, std::slice::from_ref(ident))?;
                // Unqualified references and `*` see the left copy only, as in DuckDB.
                right.fields[r].hidden = true;
                pairs.0.push(column(l, &left.fields[l]));
                pairs.1.push(column(r, &right.fields[r]));
            }
            pairs
        }
        JoinConstraint::Natural => return Err(QueryError::unsupported_at("NATURAL JOIN", span)),
        JoinConstraint::None => {
            return Err(QueryError::unsupported_at(
                "JOIN without ON or USING (a cross join)",
                span,
            ));
        }
        JoinConstraint::UsingAlias(..) => {
            return Err(QueryError::unsupported_at("USING ... AS", span));
        }
    };
    let mut left_columns = Vec::with_capacity(left_keys.len());
    let mut right_columns = Vec::with_capacity(right_keys.len());
    for (l, r) in left_keys.into_iter().zip(right_keys) {
        let ty = common_type(&l.ty, &r.ty).ok_or_else(|| {
            QueryError::Type(format!(
                "cannot join {} with {}",
                sql_type_name(&l.ty),
                sql_type_name(&r.ty)
            ))
        })?;
        left_columns.push(eval(&cast_to(l, &ty), &left.columns, left.num_rows)?);
        right_columns.push(eval(&cast_to(r, &ty), &right.columns, right.num_rows)?);
    }
    let (left_index, right_index) = hash_join(
        &left_columns,
        &right_columns,
        left.num_rows,
        right.num_rows,
        kind,
    )?;
    let mut columns = take_all(&left.columns, &left_index)?;
    columns.extend(take_all(&right.columns, &right_index)?);
    let mut fields = left.fields;
    fields.extend(right.fields);
    Ok(Rel {
        fields,
        columns,
        num_rows: left_index.len(),
    })
}

/// `ON a.x = b.y AND a.z = b.w`: pairs of key expressions, one per side.
fn equi_keys(on: &ast::Expr, left: &Rel, right: &Rel) -> Result<(Vec<Expr>, Vec<Expr>)> {
    let mut conjuncts = Vec::new();
    split_and(on, &mut conjuncts);
    let mut keys = (Vec::new(), Vec::new());
    for c in conjuncts {
        let ast::Expr::BinaryOp {
            left: a,
            op: ast::BinaryOperator::Eq,
            right: b,
        } = c
        else {
            return Err(QueryError::unsupported_at(
                format!(
                    "join condition `{c}`: only equalities between the two sides, joined with AND"
                ),
                expr_span(c),
            ));
        };
        let bind =
            |e: &ast::Expr, rel: &Rel| Binder::new(&rel.fields, "in a JOIN condition").bind(e);
        let pair = match (bind(a, left), bind(b, right)) {
            (Ok(l), Ok(r)) => (l, r),
            (first_l, first_r) => match (bind(b, left), bind(a, right)) {
                (Ok(l), Ok(r)) => (l, r),
                _ => {
                    // Report the first real problem (e.g. an unknown column).
                    first_l?;
                    first_r?;
                    unreachable!("one of the bindings failed");
                }
            },
        };
        keys.0.push(pair.0);
        keys.1.push(pair.1);
    }
    Ok(keys)
}

fn split_and<'e>(e: &'e ast::Expr, out: &mut Vec<&'e ast::Expr>) {
    // Iterative: a chain of n ANDs is n levels deep.
    let mut pending = vec![e];
    while let Some(e) = pending.pop() {
        match e {
            ast::Expr::BinaryOp {
                left,
                op: ast::BinaryOperator::And,
                right,
            } => {
                pending.push(right);
                pending.push(left);
            }
            ast::Expr::Nested(inner) => pending.push(inner),
            other => out.push(other),
        }
    }
}
