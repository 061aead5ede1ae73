//! frontier's `pareto(...)` table function rewritten into plain SQL for DuckDB, so the
//! fallback command printed for unsupported constructs ([`super::duckdb_command`]) also runs
//! queries that use it (DuckDB has no such function and failed with "Table Function with name
//! pareto does not exist").
//!
//! `pareto(src, min(a), max(b)) AS p` becomes a subquery with the same rows and columns plus
//! `on_frontier`, by the rules in [`super::pareto`]: a row is on the frontier when its
//! objectives are all non-NULL and non-NaN and no such row is at least as good in every
//! objective and strictly better in one (a `NOT EXISTS` dominance test):
//!
//! ```sql
//! (WITH __pareto_src AS (SELECT *, CAST(a AS DOUBLE) AS __pareto_o1, ... FROM src),
//!       __pareto_ok AS (SELECT * FROM __pareto_src WHERE <every objective non-NULL, non-NaN>)
//!  SELECT s.* EXCLUDE (__pareto_o1, ...),
//!         (<s's objectives non-NULL, non-NaN> AND NOT EXISTS (SELECT 1 FROM __pareto_ok d
//!           WHERE d.__pareto_o1 <= s.__pareto_o1 AND ... AND (d.__pareto_o1 < s.__pareto_o1 OR ...)))
//!         AS on_frontier
//!  FROM __pareto_src s) AS p
//! ```

use sqlparser::ast::{self, FunctionArg, FunctionArgExpr, SetExpr, Statement, TableFactor};
use sqlparser::dialect::DuckDbDialect;
use sqlparser::parser::Parser;

use super::pareto::Direction;
use super::select::objective_parts;

/// `sql` with every `pareto(...)` in FROM (also in CTEs, subqueries and joins) replaced by
/// DuckDB SQL; `sql` itself when it has none or cannot be rewritten (the command is then
/// printed as written).
pub(crate) fn rewrite_pareto(sql: &str) -> String {
    let Ok(mut statements) = Parser::parse_sql(&DuckDbDialect {}, sql) else {
        return sql.to_string();
    };
    let [Statement::Query(query)] = statements.as_mut_slice() else {
        return sql.to_string();
    };
    match rewrite_query(query) {
        Ok(true) => query.to_string(),
        Ok(false) | Err(()) => sql.to_string(),
    }
}

/// Rewrites in place; `Ok(true)` when something was rewritten.
fn rewrite_query(q: &mut ast::Query) -> Result<bool, ()> {
    let mut changed = false;
    if let Some(with) = &mut q.with {
        for cte in &mut with.cte_tables {
            changed |= rewrite_query(&mut cte.query)?;
        }
    }
    changed |= rewrite_set_expr(&mut q.body)?;
    Ok(changed)
}

fn rewrite_set_expr(body: &mut SetExpr) -> Result<bool, ()> {
    Ok(match body {
        SetExpr::Select(select) => {
            let mut changed = false;
            for from in &mut select.from {
                changed |= rewrite_factor(&mut from.relation)?;
                for join in &mut from.joins {
                    changed |= rewrite_factor(&mut join.relation)?;
                }
            }
            changed
        }
        SetExpr::Query(q) => rewrite_query(q)?,
        SetExpr::SetOperation { left, right, .. } => {
            rewrite_set_expr(left)? | rewrite_set_expr(right)?
        }
        _ => false,
    })
}

fn rewrite_factor(factor: &mut TableFactor) -> Result<bool, ()> {
    match factor {
        TableFactor::Table {
            name,
            alias,
            args: Some(args),
            ..
        } if name.to_string().eq_ignore_ascii_case("pareto") => {
            let subquery = pareto_subquery(&args.args)?;
            *factor = TableFactor::Derived {
                lateral: false,
                subquery: Box::new(subquery),
                alias: Some(alias.clone().unwrap_or_else(|| ast::TableAlias {
                    explicit: true,
                    name: ast::Ident::new("pareto"),
                    columns: vec![],
                    at: None,
                })),
                sample: None,
            };
            Ok(true)
        }
        TableFactor::Derived { subquery, .. } => rewrite_query(subquery),
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => {
            let mut changed = rewrite_factor(&mut table_with_joins.relation)?;
            for join in &mut table_with_joins.joins {
                changed |= rewrite_factor(&mut join.relation)?;
            }
            Ok(changed)
        }
        _ => Ok(false),
    }
}

/// The subquery for `pareto(source, objectives...)`.
fn pareto_subquery(args: &[FunctionArg]) -> Result<ast::Query, ()> {
    let exprs = args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
            _ => Err(()),
        })
        .collect::<Result<Vec<_>, ()>>()?;
    let Some((source, objectives)) = exprs.split_first() else {
        return Err(());
    };
    if objectives.is_empty() {
        return Err(());
    }
    let source = match source {
        ast::Expr::Identifier(ident) => ident.to_string(),
        ast::Expr::Subquery(q) => {
            let mut q = q.clone();
            rewrite_query(&mut q)?;
            format!("({q})")
        }
        _ => return Err(()),
    };
    let mut computed = Vec::new();
    let (mut s_ok, mut d_ok, mut no_worse, mut better) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, objective) in objectives.iter().enumerate() {
        let (direction, inner) = objective_parts(objective).ok_or(())?;
        let column = format!("__pareto_o{}", i + 1);
        computed.push(format!("CAST({inner} AS DOUBLE) AS {column}"));
        s_ok.push(format!("s.{column} IS NOT NULL AND NOT isnan(s.{column})"));
        d_ok.push(format!("{column} IS NOT NULL AND NOT isnan({column})"));
        let (weak, strict) = match direction {
            Direction::Minimize => ("<=", "<"),
            Direction::Maximize => (">=", ">"),
        };
        no_worse.push(format!("d.{column} {weak} s.{column}"));
        better.push(format!("d.{column} {strict} s.{column}"));
    }
    // The source's columns without the objectives and without an `on_frontier` it may already
    // have (a saved Pareto result): like frontier's `mark`, the new column replaces it rather
    // than making the name ambiguous. `EXCLUDE (on_frontier)` fails when there is none, so the
    // columns are chosen by name (DuckDB's `lambda` syntax, 1.3 and later).
    let text = format!(
        "WITH __pareto_src AS (SELECT *, {computed} FROM {source}), \
         __pareto_ok AS (SELECT * FROM __pareto_src WHERE {d_ok}) \
         SELECT COLUMNS(lambda c: NOT starts_with(c, '__pareto_o') AND lower(c) <> 'on_frontier'), \
         ({s_ok} AND NOT EXISTS (SELECT 1 FROM __pareto_ok AS d \
         WHERE {no_worse} AND ({better}))) AS on_frontier FROM __pareto_src AS s",
        computed = computed.join(", "),
        d_ok = d_ok.join(" AND "),
        s_ok = s_ok.join(" AND "),
        no_worse = no_worse.join(" AND "),
        better = better.join(" OR "),
    );
    match Parser::parse_sql(&DuckDbDialect {}, &text)
        .map_err(|_| ())?
        .pop()
    {
        Some(Statement::Query(q)) => Ok(*q),
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_becomes_a_dominance_subquery() {
        let out = rewrite_pareto(
            "SELECT trial_id FROM pareto(configs, min(ttft_p95_ms), max(accuracy)) AS p WHERE on_frontier",
        );
        assert!(
            !out.to_ascii_lowercase().contains("pareto(configs"),
            "{out}"
        );
        assert!(out.contains("NOT EXISTS"), "{out}");
        assert!(out.contains("d.__pareto_o1 <= s.__pareto_o1"), "{out}");
        assert!(out.contains("d.__pareto_o2 > s.__pareto_o2"), "{out}");
        assert!(out.contains(") AS p WHERE on_frontier"), "{out}");
        // An `on_frontier` already in the source is left out, not duplicated.
        assert!(out.contains("lower(c) <> 'on_frontier'"), "{out}");
        // Nothing to rewrite: the text is kept as written.
        let plain = "SELECT  1 -- comment";
        assert_eq!(rewrite_pareto(plain), plain);
    }
}
