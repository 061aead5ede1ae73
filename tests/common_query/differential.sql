-- Golden differential queries: each runs in frontier's evaluator and in DuckDB over the same
-- Parquet files (tests/query_duckdb.rs); rows must match (in order when the query has a
-- top-level ORDER BY, as a multiset otherwise; floats within 1e-9 relative).
--
-- Format: `-- name: <name>` starts an entry; `-- duckdb:` starts DuckDB's own formulation
-- (for pareto()); `-- error: <text>` means both engines must reject the query and frontier's
-- message must contain <text>.

-- ===== projection, literals, arithmetic =====

-- name: select_star
SELECT * FROM configs;

-- name: projection_aliases_arithmetic
SELECT trial_id, ttft_p95_ms * 2 + 1 AS x, requests - 10 AS r, requests * temperature AS rt,
       max_num_seqs + requests AS int32_plus_int64
FROM configs;

-- name: division_is_floating_modulo_integer
SELECT trial_id, requests / 7 AS q, requests % 7 AS m, requests // 7 AS d, -requests AS neg,
       ttft_p95_ms % 7 AS fm, max_num_seqs / 3 AS i32_div
FROM configs;

-- name: float_division_by_zero
-- `/` is IEEE division (inf, NaN) as in DuckDB 2.x; `%` by zero on doubles is NaN.
SELECT trial_id, requests / 0 AS a, -requests / 0 AS b, ttft_p95_ms % 0 AS c, 0 / requests AS d
FROM configs WHERE requests IN (0, 10, 500);

-- name: string_literals_compared_with_numbers
SELECT trial_id FROM configs WHERE requests = '500' AND temperature < '0.5' AND requests > '4e2';

-- name: float_modulo_and_integer_division
SELECT trial_id, -ttft_p95_ms % 7 AS m, ttft_p95_ms // 7 AS d FROM configs;

-- name: select_without_from
SELECT 1 + 2 AS three, 7 / 2 AS half, 'a' || 'b' AS ab, NULL IS NULL AS n, 2.5::BIGINT AS r,
       round(1.005::DOUBLE, 2) AS rd, -7 % 3 AS m, 7 // 2 AS d, -7 // 2 AS nd, 1e3 AS e;

-- ===== WHERE and three-valued logic =====

-- name: where_or_with_nulls
SELECT trial_id FROM configs WHERE accuracy > 0.8 OR cost_per_1k_requests_usd < 0.05;

-- name: boolean_ops_null_logic
SELECT trial_id, NOT (accuracy > 0.8) AS n, (accuracy > 0.8) AND (ttft_p95_ms < 200) AS a,
       (accuracy > 0.8) OR (ttft_p95_ms < 200) AS o
FROM configs;

-- name: is_null_is_not_null
SELECT trial_id, accuracy IS NULL AS a, ttft_p95_ms IS NOT NULL AS t,
       (accuracy > 0.9) IS TRUE AS it, (accuracy > 0.9) IS NOT FALSE AS nf
FROM configs;

-- name: in_list
SELECT trial_id FROM configs WHERE endpoint IN ('sim', 'openai') AND requests NOT IN (0, 10);

-- name: in_list_with_null
SELECT trial_id, temperature IN (0.7, NULL) AS x, requests NOT IN (500, NULL) AS y,
       accuracy IN (0.78, 0.93) AS z
FROM configs;

-- name: between
SELECT trial_id, ttft_p95_ms NOT BETWEEN 100 AND 400 AS outside
FROM configs WHERE ttft_p95_ms BETWEEN 95.25 AND 1999 OR accuracy BETWEEN 0.9 AND NULL;

-- name: like_patterns
SELECT trial_id, endpoint LIKE '%vllm' AS a, endpoint LIKE 's_m' AS b, endpoint NOT LIKE 'o%' AS c,
       endpoint ILIKE 'LOCAL%' AS d, endpoint LIKE '%' AS e, endpoint LIKE '_' AS f
FROM configs;

-- name: like_escape_on_nullable
SELECT request_index, trial_id, error_kind FROM requests
WHERE error_kind LIKE 'http!_5%' ESCAPE '!' OR error_kind LIKE '%out';

-- name: is_distinct_from
SELECT trial_id, accuracy IS DISTINCT FROM 0.78 AS a,
       cost_per_1k_requests_usd IS NOT DISTINCT FROM NULL AS b
FROM configs;

-- name: where_select_alias
SELECT trial_id, ttft_p95_ms / 1000 AS ttft_s FROM configs WHERE ttft_s < 0.2;

-- name: where_on_timestamp_and_boolean
SELECT trial_id, request_index, sent_at, ok FROM requests
WHERE sent_at < TIMESTAMPTZ '2024-05-01T00:16:40.5Z' AND ok AND request_index % 25 = 0;

-- name: nan_comparisons
SELECT trial_id, accuracy > 0.9 AS gt, accuracy = accuracy AS self_eq FROM configs;

-- ===== CASE, CAST, functions =====

-- name: case_when_searched
SELECT trial_id,
       CASE WHEN accuracy >= 0.9 THEN 'high' WHEN accuracy >= 0.8 THEN 'mid' ELSE 'low' END AS band,
       CASE WHEN requests = 0 THEN NULL ELSE ttft_p95_ms / requests END AS per_req
FROM configs;

-- name: case_with_operand_no_else
SELECT trial_id, CASE endpoint WHEN 'sim' THEN 0 WHEN 'openai' THEN 2 END AS tier,
       CASE WHEN requests > 100 THEN requests ELSE 0.5 END AS mixed
FROM configs;

-- name: casts
SELECT trial_id, CAST(requests AS DOUBLE) / 3 AS a, CAST(ttft_p95_ms AS BIGINT) AS b,
       ttft_p95_ms::INTEGER AS c, CAST(requests AS VARCHAR) AS d, CAST(temperature AS VARCHAR) AS e,
       CAST(requests > 100 AS INTEGER) AS f, CAST('12' AS BIGINT) + requests AS g,
       CAST(CAST(requests AS VARCHAR) AS DOUBLE) AS h, CAST(requests AS BOOLEAN) AS i,
       CAST(ttft_p95_ms AS VARCHAR) AS j, TRY_CAST(endpoint AS DOUBLE) AS k, max_num_seqs::DOUBLE AS l
FROM configs;

-- name: numeric_functions
SELECT trial_id, round(ttft_p95_ms) AS r0, round(ttft_p95_ms, 1) AS r1, round(accuracy, 2) AS r2,
       round(requests, -2) AS ri, round(ttft_p95_ms, -1) AS rneg, abs(temperature - 0.5) AS ab,
       abs(requests - 300) AS abi, floor(ttft_p95_ms) AS fl, ceil(ttft_p95_ms) AS ce
FROM configs;

-- name: null_and_choice_functions
SELECT trial_id, coalesce(cost_per_1k_requests_usd, -1) AS c1,
       coalesce(NULL, accuracy, ttft_p95_ms) AS c2, nullif(requests, 500) AS ni,
       greatest(ttft_p95_ms, 100, requests) AS g, least(ttft_p95_ms, requests) AS l,
       greatest(endpoint, 'p') AS gs
FROM configs;

-- name: string_functions
SELECT trial_id, lower(endpoint) AS lo, upper(endpoint) AS up, length(endpoint) AS len,
       trial_id || '/' || endpoint AS k, concat(endpoint, '-', temperature, NULL) AS c,
       endpoint || NULL AS nul
FROM configs;

-- ===== aggregates =====

-- name: aggregates_without_group_by
SELECT count(*), count(accuracy), sum(requests), avg(ttft_p95_ms), min(endpoint), max(ttft_p95_ms),
       stddev(ttft_p95_ms), sum(max_num_seqs), min(started_at), max(temperature)
FROM configs;

-- name: aggregates_on_empty_input
SELECT count(*), count(accuracy), sum(requests), avg(accuracy), min(trial_id), stddev(ttft_p95_ms),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ttft_p95_ms) AS p50
FROM configs WHERE requests < 0;

-- name: aggregates_on_empty_table
SELECT count(*), max(latency_ms), sum(case_index) FROM cases;

-- name: empty_table_rows
SELECT * FROM cases;

-- name: empty_table_group_by
SELECT trial_id, count(*) FROM cases GROUP BY trial_id;

-- name: group_by_trial
SELECT trial_id, count(*) AS n, count(ttft_ms) AS ok, avg(ttft_ms) AS mean_ttft, min(e2e_ms),
       max(e2e_ms), sum(completion_tokens), stddev(ttft_ms), avg(completion_tokens), sum(queue_us)
FROM requests GROUP BY trial_id;

-- name: percentiles
SELECT trial_id,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ttft_ms) AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY ttft_ms) AS p95,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY e2e_ms DESC) AS p99_desc,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY completion_tokens) AS p90_int,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY completion_tokens) AS d90,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY e2e_ms) AS d50,
       median(e2e_ms) AS med, quantile_cont(ttft_ms, 0.25) AS q25
FROM requests WHERE phase = 'measure' GROUP BY trial_id;

-- name: variance_family
SELECT trial_id, var_samp(e2e_ms), var_pop(e2e_ms), stddev_pop(e2e_ms), stddev_samp(completion_tokens),
       variance(queue_us)
FROM requests GROUP BY trial_id;

-- name: stddev_single_row_groups
SELECT trial_id, stddev(ttft_p95_ms), stddev_pop(ttft_p95_ms) FROM configs GROUP BY trial_id;

-- name: group_by_two_keys
SELECT trial_id, phase, count(*), avg(e2e_ms) FROM requests GROUP BY trial_id, phase;

-- name: group_by_expression_and_alias
SELECT endpoint, temperature > 0 AS hot, count(*) AS n, max(accuracy) AS best
FROM configs GROUP BY endpoint, hot;

-- name: group_by_position
SELECT round(ttft_ms / 100) AS bucket, count(*) AS n FROM requests GROUP BY 1;

-- name: group_by_all
SELECT endpoint, temperature, max(accuracy), count(*) FROM configs GROUP BY ALL;

-- name: group_by_null_key
SELECT error_kind, count(*), avg(e2e_ms), count(ttft_ms) FROM requests GROUP BY error_kind;

-- name: upper_lower_map_one_character_to_one
SELECT upper('straße') AS a, upper('ﬁ ᾳ ᾀ ῳ ŉ ǰ ﬀ') AS b, lower('İSTANBUL ΟΔΟΣ ẞ') AS c,
       upper(lower('ΆΣ ᾈ')) AS d, length(upper('straße')) AS n;

-- name: substring_every_start_and_length
SELECT trial_id, substring(endpoint, 2) AS a, substr(endpoint, 2, 3) AS b,
       substring(endpoint, -3) AS c, substring(endpoint, 0, 2) AS d,
       substring(endpoint, -2, -3) AS e, substring(endpoint, 3, -2) AS f,
       substring(endpoint FROM 2 FOR 4) AS g, substring(endpoint FROM 3) AS h,
       substr(endpoint, 100, 2) AS i, substr(endpoint, -100, 102) AS j,
       substr(endpoint, 1, 0) AS k, substr(endpoint, NULL, 1) AS l, substr(NULL, 1, 1) AS m
FROM configs ORDER BY trial_id;

-- name: substring_counts_characters_not_bytes
SELECT substring('héllo wörld', 2, 4) AS a, substring('héllo', -4, 2) AS b,
       substr('日本語テキスト', 3) AS c, substring('ab', 2, -5) AS d, length(substr('ǅx', 1, 1)) AS n;

-- name: count_of_null_typed_values_is_zero
SELECT count(NULL) AS n, count(DISTINCT NULL) AS d, sum(NULL) AS s, min(NULL) AS lo,
       any_value(NULL) AS a, count(*) AS rows FROM configs;

-- name: count_of_null_typed_column_from_subquery
SELECT count(x) AS n, count(DISTINCT x) AS d, max(x) AS m, count(*) AS rows
FROM (SELECT NULL AS x FROM configs) AS t;

-- name: count_of_null_typed_column_per_group
SELECT endpoint, count(x) AS n, count(DISTINCT x) AS d, count(*) AS rows
FROM (SELECT endpoint, NULL AS x FROM configs) AS t GROUP BY endpoint;

-- name: null_typed_join_keys_match_nothing
SELECT count(*) AS n
FROM (SELECT NULL AS k, trial_id FROM configs) AS a
JOIN (SELECT NULL AS k FROM configs) AS b ON a.k = b.k;

-- name: group_by_null_typed_column
SELECT x, count(*) AS rows, count(x) AS n FROM (SELECT NULL AS x FROM configs) AS t GROUP BY x;

-- name: group_by_boolean_and_timestamp
SELECT ok, count(*), min(sent_at), max(sent_at) FROM requests GROUP BY ok;

-- name: group_by_expression_reused
SELECT lower(endpoint) AS e, count(*) FROM configs GROUP BY lower(endpoint);

-- name: expressions_over_aggregates
SELECT endpoint, round(avg(accuracy) * 100, 1) AS pct, max(ttft_p95_ms) - min(ttft_p95_ms) AS spread,
       sum(requests) / count(*) AS mean_requests
FROM configs GROUP BY endpoint;

-- name: aggregate_over_expressions
SELECT trial_id, sum(completion_tokens) / (max(e2e_ms) / 1000) AS tok_s,
       avg(CASE WHEN ttft_ms < 200 THEN 1.0 ELSE 0.0 END) AS slo_ok,
       sum(CASE WHEN error_kind IS NULL THEN 0 ELSE 1 END) AS errors
FROM requests WHERE phase = 'measure' GROUP BY trial_id;

-- name: count_distinct
SELECT count(DISTINCT trial_id), count(DISTINCT error_kind), sum(DISTINCT completion_tokens % 10),
       count(DISTINCT phase)
FROM requests;

-- name: count_distinct_per_group
SELECT trial_id, count(DISTINCT completion_tokens) AS tok_values, avg(DISTINCT request_index % 5)
FROM requests GROUP BY trial_id;

-- name: any_value_constant_per_group
SELECT trial_id, any_value(phase) FROM requests WHERE phase = 'warmup' GROUP BY trial_id;

-- name: having
SELECT trial_id, count(*) AS errors FROM requests WHERE error_kind IS NOT NULL
GROUP BY trial_id HAVING count(*) >= 3;

-- name: having_on_aggregates_not_selected
SELECT trial_id FROM requests GROUP BY trial_id HAVING avg(ttft_ms) > 150 AND max(e2e_ms) < 5000;

-- name: having_uses_select_alias
SELECT trial_id, avg(e2e_ms) AS mean_e2e FROM requests GROUP BY trial_id HAVING mean_e2e > 900;

-- name: having_without_group_by
SELECT count(*) AS n FROM configs HAVING count(*) > 100;

-- name: distinct_over_aggregates
SELECT DISTINCT count(*) > 240 AS big FROM requests GROUP BY trial_id;

-- ===== ORDER BY, LIMIT, DISTINCT =====

-- name: order_asc_default_nulls_last
SELECT trial_id, accuracy FROM configs ORDER BY accuracy, trial_id;

-- name: order_desc_default_nulls_last
SELECT trial_id, ttft_p95_ms FROM configs ORDER BY ttft_p95_ms DESC, trial_id;

-- name: order_nulls_first
SELECT trial_id, cost_per_1k_requests_usd FROM configs
ORDER BY cost_per_1k_requests_usd NULLS FIRST, trial_id DESC;

-- name: order_desc_nulls_first
SELECT trial_id, accuracy FROM configs ORDER BY accuracy DESC NULLS FIRST, trial_id;

-- name: order_by_position_and_expression
SELECT trial_id, ttft_p95_ms FROM configs ORDER BY 2 DESC NULLS LAST, requests * -1, trial_id;

-- name: order_by_unselected_columns
SELECT trial_id FROM configs ORDER BY endpoint, temperature DESC, trial_id;

-- name: order_by_alias_shadowing_column
SELECT trial_id AS endpoint, endpoint AS trial_id FROM configs ORDER BY trial_id, endpoint;

-- name: order_by_string_and_boolean
SELECT trial_id, endpoint, temperature > 0 AS hot FROM configs ORDER BY hot DESC, endpoint, trial_id;

-- name: order_by_timestamp_desc_limit
SELECT trial_id, request_index, sent_at FROM requests ORDER BY sent_at DESC, trial_id LIMIT 5;

-- name: limit_offset
SELECT trial_id FROM configs ORDER BY trial_id LIMIT 4 OFFSET 3;

-- name: offset_past_end
SELECT trial_id FROM configs ORDER BY trial_id LIMIT 5 OFFSET 20;

-- name: limit_zero
SELECT trial_id FROM configs ORDER BY trial_id LIMIT 0;

-- name: order_by_aggregate_alias_limit
SELECT trial_id, avg(e2e_ms) AS mean_e2e FROM requests GROUP BY trial_id ORDER BY mean_e2e DESC LIMIT 3;

-- name: order_by_aggregate_not_selected
SELECT trial_id FROM requests GROUP BY trial_id ORDER BY count(ttft_ms) DESC, trial_id;

-- name: distinct_rows
SELECT DISTINCT endpoint, temperature FROM configs;

-- name: distinct_with_nulls_ordered
SELECT DISTINCT error_kind FROM requests ORDER BY error_kind DESC;

-- name: distinct_order_by_expression
SELECT DISTINCT phase FROM requests ORDER BY length(phase), phase;

-- ===== joins, CTEs, subqueries =====

-- name: inner_join_on
SELECT c.trial_id, c.endpoint, s.scorer, s.score, s.case_index
FROM configs c JOIN scores s ON c.trial_id = s.trial_id WHERE s.case_index < 3;

-- name: inner_join_reversed_condition
SELECT s.trial_id, c.requests, s.score FROM scores s INNER JOIN configs c ON c.trial_id = s.trial_id
WHERE s.scorer = 'exact' AND s.case_index = 7;

-- name: left_join_keeps_unmatched
SELECT c.trial_id, count(s.score) AS n, avg(s.score) AS acc
FROM configs c LEFT JOIN (SELECT * FROM scores WHERE scorer = 'exact') s ON c.trial_id = s.trial_id
GROUP BY c.trial_id;

-- name: join_using_star
SELECT * FROM configs JOIN scores USING (trial_id) WHERE case_index = 0;

-- name: left_join_using
SELECT trial_id, endpoint, score, scorer FROM configs LEFT OUTER JOIN scores USING (trial_id)
WHERE score IS NULL OR (case_index = 1 AND scorer = 'token_f1');

-- name: join_qualified_star
SELECT s.*, c.endpoint FROM configs c JOIN scores s ON c.trial_id = s.trial_id WHERE s.case_index = 19;

-- name: join_group_by_percentile
SELECT c.endpoint, c.temperature, count(*) AS n,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY r.ttft_ms) AS p95
FROM requests r JOIN configs c ON r.trial_id = c.trial_id GROUP BY c.endpoint, c.temperature;

-- name: three_way_join_two_keys
SELECT c.trial_id, s.case_index, s.score, r.ttft_ms
FROM configs c
JOIN scores s ON c.trial_id = s.trial_id
JOIN requests r ON r.trial_id = c.trial_id AND r.request_index = s.case_index
WHERE s.scorer = 'token_f1' AND c.endpoint = 'sim';

-- name: self_join_on_nullable_keys
SELECT a.trial_id, a.request_index, b.request_index AS other, a.error_kind
FROM requests a JOIN requests b ON a.error_kind = b.error_kind AND a.trial_id = b.trial_id
WHERE a.request_index < b.request_index;

-- name: left_join_null_keys_kept
SELECT a.request_index, a.error_kind, b.one
FROM requests a LEFT JOIN (SELECT DISTINCT error_kind, 1 AS one FROM requests) b
  ON a.error_kind = b.error_kind
WHERE a.trial_id = 't03';

-- name: cte_join
WITH acc AS (
  SELECT trial_id, avg(score) AS accuracy FROM scores WHERE scorer = 'exact' GROUP BY trial_id
)
SELECT c.trial_id, a.accuracy, c.ttft_p95_ms FROM configs c JOIN acc a ON c.trial_id = a.trial_id;

-- name: subquery_in_from
SELECT endpoint, max(p) AS worst FROM (SELECT endpoint, ttft_p95_ms / accuracy AS p FROM configs) t
GROUP BY endpoint;

-- name: subquery_with_column_aliases
SELECT a, b FROM (SELECT trial_id, requests FROM configs) AS t(a, b) WHERE b > 100;

-- ===== Pareto =====

-- name: pareto_two_objectives
SELECT trial_id, on_frontier FROM pareto(configs, min(ttft_p95_ms), max(accuracy));
-- duckdb:
SELECT c.trial_id,
  (c.ttft_p95_ms IS NOT NULL AND NOT isnan(c.ttft_p95_ms) AND c.accuracy IS NOT NULL AND NOT isnan(c.accuracy)
   AND NOT EXISTS (
     SELECT 1 FROM configs d
     WHERE d.ttft_p95_ms IS NOT NULL AND NOT isnan(d.ttft_p95_ms) AND d.accuracy IS NOT NULL AND NOT isnan(d.accuracy)
       AND d.ttft_p95_ms <= c.ttft_p95_ms AND d.accuracy >= c.accuracy
       AND (d.ttft_p95_ms < c.ttft_p95_ms OR d.accuracy > c.accuracy))) AS on_frontier
FROM configs c;

-- name: pareto_three_objectives_constrained
SELECT trial_id, on_frontier
FROM pareto((SELECT * FROM configs WHERE ttft_p95_ms < 1000), min(ttft_p95_ms),
            min(cost_per_1k_requests_usd), max(accuracy))
ORDER BY trial_id;
-- duckdb:
WITH k AS (SELECT * FROM configs WHERE ttft_p95_ms < 1000),
ok AS (SELECT * FROM k WHERE ttft_p95_ms IS NOT NULL AND cost_per_1k_requests_usd IS NOT NULL
       AND accuracy IS NOT NULL AND NOT isnan(accuracy))
SELECT k.trial_id,
  (k.trial_id IN (SELECT trial_id FROM ok) AND NOT EXISTS (
     SELECT 1 FROM ok d
     WHERE d.ttft_p95_ms <= k.ttft_p95_ms AND d.cost_per_1k_requests_usd <= k.cost_per_1k_requests_usd
       AND d.accuracy >= k.accuracy
       AND (d.ttft_p95_ms < k.ttft_p95_ms OR d.cost_per_1k_requests_usd < k.cost_per_1k_requests_usd
            OR d.accuracy > k.accuracy))) AS on_frontier
FROM k ORDER BY k.trial_id;

-- name: pareto_filter_frontier_rows
SELECT p.trial_id, p.endpoint FROM pareto(configs, min(ttft_p95_ms), max(accuracy)) p
WHERE p.on_frontier ORDER BY p.trial_id;
-- duckdb:
SELECT c.trial_id, c.endpoint FROM configs c
WHERE c.ttft_p95_ms IS NOT NULL AND c.accuracy IS NOT NULL AND NOT isnan(c.accuracy)
  AND NOT EXISTS (
     SELECT 1 FROM configs d
     WHERE d.ttft_p95_ms IS NOT NULL AND d.accuracy IS NOT NULL AND NOT isnan(d.accuracy)
       AND d.ttft_p95_ms <= c.ttft_p95_ms AND d.accuracy >= c.accuracy
       AND (d.ttft_p95_ms < c.ttft_p95_ms OR d.accuracy > c.accuracy))
ORDER BY c.trial_id;

-- name: pareto_over_aggregated_requests
SELECT trial_id, p95, tokens, on_frontier FROM pareto(
  (SELECT trial_id, percentile_cont(0.95) WITHIN GROUP (ORDER BY ttft_ms) AS p95,
          sum(completion_tokens) AS tokens
   FROM requests WHERE phase = 'measure' GROUP BY trial_id),
  min(p95), max(tokens));
-- duckdb:
WITH a AS (SELECT trial_id, percentile_cont(0.95) WITHIN GROUP (ORDER BY ttft_ms) AS p95,
                  sum(completion_tokens) AS tokens
           FROM requests WHERE phase = 'measure' GROUP BY trial_id)
SELECT x.trial_id, x.p95, x.tokens, NOT EXISTS (
  SELECT 1 FROM a y WHERE y.p95 <= x.p95 AND y.tokens >= x.tokens AND (y.p95 < x.p95 OR y.tokens > x.tokens))
  AS on_frontier
FROM a x;

-- name: pareto_expression_objective_counts
SELECT endpoint, count(*) AS n, sum(CASE WHEN on_frontier THEN 1 ELSE 0 END) AS frontier
FROM pareto(configs, min(ttft_p95_ms * cost_per_1k_requests_usd), max(requests)) GROUP BY endpoint;
-- duckdb:
WITH k AS (SELECT *, ttft_p95_ms * cost_per_1k_requests_usd AS o1, requests AS o2 FROM configs),
f AS (SELECT k.*, (o1 IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM k d WHERE d.o1 IS NOT NULL AND d.o1 <= k.o1 AND d.o2 >= k.o2
          AND (d.o1 < k.o1 OR d.o2 > k.o2))) AS on_frontier FROM k)
SELECT endpoint, count(*) AS n, sum(CASE WHEN on_frontier THEN 1 ELSE 0 END) AS frontier
FROM f GROUP BY endpoint;

-- ===== errors both engines report =====

-- name: error_ungrouped_column
-- error: must appear in the GROUP BY clause
SELECT trial_id, count(*) FROM configs;

-- name: error_ambiguous_join_column
-- error: ambiguous column `trial_id`
SELECT trial_id FROM configs c JOIN scores s ON c.trial_id = s.trial_id;

-- name: error_unknown_column
-- error: did you mean `accuracy`
SELECT acuracy FROM configs;

-- name: error_unknown_table
-- error: did you mean `configs`
SELECT * FROM config;

-- name: error_like_pattern_ending_in_its_escape
-- DuckDB raises it when matching reaches the end of the pattern; frontier when it compiles it.
-- error: ends with its escape character
SELECT trial_id, endpoint LIKE '%!' ESCAPE '!' AS m FROM configs;

-- name: error_bad_cast
-- error: could not convert
SELECT CAST(endpoint AS DOUBLE) FROM configs;

-- name: error_type_mismatch
-- error: type error
SELECT sum(endpoint) FROM configs;

-- name: error_aggregate_in_where
-- error: not allowed in WHERE
SELECT trial_id FROM configs WHERE max(requests) > 1;

-- name: error_integer_division_by_zero
-- error: division by zero
SELECT requests // (requests - requests) FROM configs;

-- name: error_double_integer_division_by_zero
-- error: division by zero
SELECT ttft_p95_ms // 0 FROM configs;

-- name: error_integer_overflow
-- error: overflow
SELECT 9223372036854775807 + requests FROM configs;

-- ===== late additions =====

-- name: quantile_disc_and_desc_percentiles
SELECT trial_id, quantile_disc(completion_tokens, 0.75) AS q75,
       percentile_disc(0.1) WITHIN GROUP (ORDER BY ttft_ms DESC) AS d10_desc,
       percentile_cont(0.1) WITHIN GROUP (ORDER BY ttft_ms DESC) AS c10_desc
FROM requests GROUP BY trial_id;

-- ===== randomised differential audit (each a minimal reproducer of a fixed mismatch) =====

-- name: round_negative_digits_keeps_infinities
-- DuckDB 2.x: inf and NaN stay; a result that overflows keeps the input; 10^400 gives 0.
SELECT trial_id, round(ttft_p95_ms / 0, -1) AS a, round(-ttft_p95_ms / 0, -2) AS b,
       round(-1.7e308, -308) AS c, round(1e300, -400) AS d, round(ttft_p95_ms, -1) AS e
FROM configs;

-- name: nan_from_arithmetic_compares_greatest
-- inf - inf is a NaN with the sign bit set on x86; it is still greater than every number.
SELECT trial_id, ttft_p95_ms / 0 - ttft_p95_ms / 0 AS n, ttft_p95_ms / 0 - ttft_p95_ms / 0 <= 0 AS le,
       ttft_p95_ms / 0 - ttft_p95_ms / 0 > 1e308 AS gt, greatest(ttft_p95_ms / 0 - ttft_p95_ms / 0, 1) AS g,
       least(ttft_p95_ms / 0 - ttft_p95_ms / 0, 1) AS l
FROM configs ORDER BY n DESC, trial_id;

-- name: nan_from_arithmetic_in_having_and_order_by
-- 0 / 0 is a NaN with the sign bit set on x86 (Arrow's total order puts it before -inf).
SELECT endpoint, avg((requests - 500) / 0) AS a, min((requests - 500) / 0) AS lo
FROM configs GROUP BY endpoint
HAVING avg((requests - 500) / 0) <= 0 OR endpoint = 'openai' ORDER BY a DESC, endpoint;

-- name: order_by_negative_zero_ties_with_zero
SELECT trial_id, CASE WHEN requests >= 500 THEN temperature * -1 ELSE temperature END AS t
FROM configs ORDER BY t, trial_id DESC;

-- name: percentile_cont_next_to_infinity
SELECT endpoint, percentile_cont(0.5) WITHIN GROUP (ORDER BY v) AS p50, median(v) AS m,
       quantile_cont(v, 0.25) AS q25, quantile_cont(v, 0.75) AS q75,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY v DESC) AS p50d,
       percentile_cont(0.25) WITHIN GROUP (ORDER BY v DESC) AS p25d
FROM (SELECT endpoint, CASE WHEN temperature = 0 THEN -ttft_p95_ms / 0 ELSE ttft_p95_ms END AS v
      FROM configs) AS t
GROUP BY endpoint;

-- name: variance_of_one_value_is_zero
SELECT trial_id, var_pop(ttft_p95_ms / 0) AS a, stddev_pop(accuracy) AS b, var_pop(accuracy) AS c,
       var_samp(accuracy) AS d, stddev_pop(cost_per_1k_requests_usd) AS e
FROM configs GROUP BY trial_id;

-- name: order_by_parenthesised_position
SELECT trial_id, requests FROM configs ORDER BY (2) DESC, (1);

-- name: group_by_parenthesised_position_and_decimal_constant
SELECT endpoint, count(*) AS n FROM configs GROUP BY (1), 1.5;

-- name: floor_and_ceil_of_integers_are_double
SELECT trial_id, CAST(floor(requests) AS VARCHAR) AS f, CAST(ceil(max_num_seqs) AS VARCHAR) AS c,
       CAST(round(requests) AS VARCHAR) AS r
FROM configs;

-- name: group_by_all_skips_constants
SELECT 'x' AS k, 1 + 1 AS two, count(*) AS n, max(latency_ms) AS m FROM cases GROUP BY ALL;

-- name: doubles_print_as_duckdb
-- The shortest digits, a tie going to the correctly rounded one; a NaN's sign is printed.
SELECT CAST(1000000000000000.25::DOUBLE AS VARCHAR) AS tie,
       CAST(ttft_p95_ms + 1000000000000000 AS VARCHAR) AS big,
       CAST((ttft_p95_ms / 0) * 0 AS VARCHAR) AS nan_product, CAST(accuracy AS VARCHAR) AS nan_column
FROM configs;

-- name: error_order_by_string_literal
-- error: has no effect
SELECT trial_id FROM configs ORDER BY 'trial_id';

-- name: error_order_by_negative_position
-- error: is not in the SELECT list
SELECT trial_id FROM configs ORDER BY -1;

-- name: error_order_by_null_within_group
-- error: has no effect
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY NULL) FROM configs;

-- name: error_group_by_negative_position
-- error: is not in the SELECT list
SELECT endpoint, count(*) FROM configs GROUP BY -1;

-- name: order_by_name_prefers_select_alias
-- `ttft_p95_ms` is both an alias (of requests) and a column: DuckDB sorts by the alias.
SELECT requests AS ttft_p95_ms, ttft_p95_ms, trial_id FROM configs ORDER BY ttft_p95_ms, 2, 3;

-- name: decimal_literal_cast_to_double_rounds_half_even
-- `2.5::DOUBLE` is a DOUBLE (half to even into an integer); `2.5` alone is a DECIMAL (half away).
SELECT CAST(2.5::DOUBLE AS BIGINT) AS a, CAST(2.5 AS BIGINT) AS b,
       TRY_CAST((-2147483648.5)::DOUBLE AS INTEGER) AS c, CAST(0.5::DOUBLE AS SMALLINT) AS d,
       percentile_cont(0.5::DOUBLE) WITHIN GROUP (ORDER BY requests) AS p,
       -9223372036854775808 AS min_bigint
FROM configs;

-- name: strings_to_integers_booleans_as_duckdb
SELECT TRY_CAST('0x1f' AS BIGINT) AS a, TRY_CAST('1_000' AS INTEGER) AS b,
       TRY_CAST('1.4999999999999999' AS BIGINT) AS c, TRY_CAST('1.5e1' AS SMALLINT) AS d,
       TRY_CAST('.5' AS BIGINT) AS e, TRY_CAST('_1' AS BIGINT) AS f, TRY_CAST('0b101' AS BIGINT) AS g,
       TRY_CAST('1_000.5' AS DOUBLE) AS h, TRY_CAST('on' AS BOOLEAN) AS i,
       TRY_CAST(' true ' AS BOOLEAN) AS j, TRY_CAST('Yes' AS BOOLEAN) AS k;
