//! Running LLM judges over a trial's measured answers (README, "LLM judges"): every case is
//! sent to each judge `samples` times with the rubric, every call is a `judgements` row, and
//! the grades are voted on ([`crate::eval::judge::vote`]).

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::client::{Api, CallError, CallOutcome, ErrorKind, LlmClient, LlmRequest};
use crate::clock::Clock;
use crate::eval::Score;
use crate::eval::judge::{block, nonce, parse_grade, to_unit, vote};
use crate::plan::{JudgePlan, Plan};
use crate::store::{JudgementRow, Record};

/// Where a judge endpoint is served, resolved for a trial.
#[derive(Clone, Debug)]
pub(crate) struct JudgeTarget {
    pub endpoint: Arc<str>,
    pub model: Arc<str>,
    pub url: reqwest::Url,
    pub api_key: Option<String>,
    pub token_prices: Option<(f64, f64)>,
    /// Served by frontier's own engine: never through a proxy (`LlmRequest::direct`).
    pub direct: bool,
}

/// One measured case to judge.
pub(crate) struct JudgeCase<'a> {
    pub case_index: u64,
    pub row: usize,
    pub repeat: u64,
    pub stage: usize,
    pub answer: &'a str,
    pub error: Option<&'static str>,
}

/// A judged case: its score, the voted grade on the judge's scale and the panel's agreement.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Judged {
    pub score: Score,
    pub grade: Option<f64>,
    pub agreement: Option<f64>,
}

/// Judge calls of one stage (for `configs`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JudgeUsage {
    /// Calls made.
    pub calls: i64,
    /// Calls that failed or gave no grade.
    pub errors: i64,
    /// Prompt tokens (null if a successful call lacked usage).
    pub input_tokens: Option<i64>,
    /// Completion tokens (likewise).
    pub output_tokens: Option<i64>,
    /// Token-priced cost (null when a judge has no token pricing or usage is missing).
    pub cost_usd: Option<f64>,
}

impl JudgeUsage {
    fn new() -> Self {
        JudgeUsage {
            input_tokens: Some(0),
            output_tokens: Some(0),
            cost_usd: Some(0.0),
            ..Default::default()
        }
    }

    /// The sum of two stages' or two judges' usage (an unknown part makes a total unknown).
    pub fn add(&self, other: &JudgeUsage) -> JudgeUsage {
        JudgeUsage {
            calls: self.calls + other.calls,
            errors: self.errors + other.errors,
            input_tokens: self
                .input_tokens
                .zip(other.input_tokens)
                .map(|(a, b)| a + b),
            output_tokens: self
                .output_tokens
                .zip(other.output_tokens)
                .map(|(a, b)| a + b),
            cost_usd: self.cost_usd.zip(other.cost_usd).map(|(a, b)| a + b),
        }
    }
}

/// Everything a trial's judging needs.
pub(crate) struct JudgeRun<'a> {
    pub plan: &'a Plan,
    pub judge: &'a JudgePlan,
    pub targets: &'a [JudgeTarget],
    pub client: &'a LlmClient,
    pub clock: Clock,
    pub trial_id: Arc<str>,
    pub trial_index: i64,
    pub tx: &'a tokio::sync::mpsc::Sender<Record>,
    pub stages: usize,
    /// Raised on Ctrl-C / SIGTERM: calls in flight and still to come end as `cancelled` (those
    /// still to come are not sent).
    pub cancel: tokio::sync::watch::Receiver<bool>,
}

/// Judge every case; returns one [`Judged`] per case (in order) and the usage per stage.
pub(crate) async fn judge_all(
    run: &JudgeRun<'_>,
    cases: &[JudgeCase<'_>],
) -> (Vec<Judged>, Vec<JudgeUsage>) {
    let permits = Arc::new(Semaphore::new(run.judge.concurrency.max(1) as usize));
    let futures = cases.iter().map(|case| {
        let permits = permits.clone();
        async move { judge_case(run, case, &permits).await }
    });
    let results = futures_util::future::join_all(futures).await;
    let mut usage = vec![JudgeUsage::new(); run.stages.max(1)];
    let mut judged = Vec::with_capacity(cases.len());
    for (case, (j, rows, sent)) in cases.iter().zip(results) {
        let u = &mut usage[case.stage.min(run.stages.max(1) - 1)];
        // Calls the interruption kept from being sent are rows, but not calls made (as
        // `configs.requests` leaves out the system under test's unsent calls).
        for (row, _) in rows.iter().zip(&sent).filter(|(_, sent)| **sent) {
            u.calls += 1;
            if row.grade.is_none() {
                u.errors += 1;
            }
            if row.ok {
                u.input_tokens = u.input_tokens.zip(row.prompt_tokens).map(|(a, b)| a + b);
                u.output_tokens = u
                    .output_tokens
                    .zip(row.completion_tokens)
                    .map(|(a, b)| a + b);
            }
            u.cost_usd = match (u.cost_usd, row.cost_usd, row.ok) {
                (Some(t), Some(c), _) => Some(t + c),
                (Some(t), None, false) if row.prompt_tokens.is_none() => Some(t),
                _ => None,
            };
        }
        for row in rows {
            let _ = run.tx.send(Record::Judgement(Box::new(row))).await;
        }
        judged.push(j);
    }
    if run.targets.iter().any(|t| t.token_prices.is_none()) {
        for u in &mut usage {
            u.cost_usd = None;
        }
    }
    (judged, usage)
}

/// A judge call that was never sent because the run had been interrupted.
fn not_sent(clock: &Clock) -> CallOutcome {
    CallOutcome {
        end_ns: Some(clock.now_ns()),
        error: Some(CallError {
            kind: ErrorKind::Cancelled,
            message: "run interrupted before this judge call was sent".into(),
        }),
        ..Default::default()
    }
}

/// The rubric's context for one case: untrusted text in nonce-tagged blocks.
pub(crate) fn rubric_context(plan: &Plan, case: &JudgeCase<'_>, seed: u64) -> Value {
    let row = &plan.dataset.rows[case.row];
    let n = nonce(seed, &format!("{}/{}", row.id, case.repeat), case.answer);
    let references: Vec<String> = row
        .references
        .iter()
        .map(|r| block("reference", &n, r))
        .collect();
    let contexts = match row.item.get("contexts") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|c| block("context", &n, c.as_str().unwrap_or(&c.to_string())))
            .collect::<Vec<_>>()
            .join("\n"),
        Some(Value::String(c)) => block("context", &n, c),
        _ => String::new(),
    };
    json!({
        "question": block("question", &n, &row.input),
        "answer": block("answer", &n, case.answer),
        "reference": references.first().cloned().unwrap_or_default(),
        "references": references.join("\n"),
        "contexts": contexts,
        "item": row.item,
    })
}

async fn judge_case(
    run: &JudgeRun<'_>,
    case: &JudgeCase<'_>,
    permits: &Semaphore,
) -> (Judged, Vec<JudgementRow>, Vec<bool>) {
    let judge = run.judge;
    if let Some(kind) = case.error {
        // The system under test failed: nothing to judge, and no judge call is made.
        return (
            Judged {
                score: Score::Error(kind.to_string()),
                grade: None,
                agreement: None,
            },
            Vec::new(),
            Vec::new(),
        );
    }
    let row = &run.plan.dataset.rows[case.row];
    let ctx = rubric_context(run.plan, case, run.plan.seed);
    let rubric = match run.plan.templates.render(&judge.template, &ctx) {
        Ok(r) => r,
        Err(e) => {
            return (
                Judged {
                    score: Score::Error(format!("judge_template: {e}")),
                    grade: None,
                    agreement: None,
                },
                Vec::new(),
                Vec::new(),
            );
        }
    };
    let mut rows = Vec::new();
    let mut sent = Vec::new();
    let mut grades = Vec::new();
    for target in run.targets {
        for sample in 0..judge.samples {
            let body = json!({
                "model": &*target.model,
                "messages": [{"role": "user", "content": &rubric}],
                "temperature": judge.temperature,
                "seed": judge.seed.wrapping_add(i64::from(sample)),
                "max_tokens": judge.max_tokens,
                "stream": true,
                "stream_options": {"include_usage": true},
            });
            let req = LlmRequest {
                url: target.url.clone(),
                api_key: target.api_key.clone(),
                body: Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
                api: Api::Chat,
                timeout: run.plan.timeout,
                direct: target.direct,
            };
            let o = {
                let _permit = permits.acquire().await;
                let interrupted = *run.cancel.borrow();
                sent.push(!interrupted);
                if interrupted {
                    // Interrupted before this call started: it is not sent (a call made now
                    // could reach the judge, and be billed, before the interruption ends it).
                    not_sent(&run.clock)
                } else {
                    let interrupted = super::cancelled(&run.cancel);
                    run.client.call_until(&req, &run.clock, interrupted).await
                }
            };
            let grade = if o.error.is_none() {
                parse_grade(&judge.pattern, &o.text)
                    .filter(|g| to_unit(*g, judge.scale.0, judge.scale.1).is_some())
            } else {
                None
            };
            grades.push(grade);
            let (error_kind, error_message) = match (&o.error, grade) {
                (Some(e), _) => (Some(e.kind.as_str()), Some(e.message.clone())),
                (None, None) => (
                    Some("no_grade"),
                    Some(format!(
                        "no match of `{}` on the scale [{}, {}] in the judge's output",
                        judge.pattern.as_str(),
                        judge.scale.0,
                        judge.scale.1
                    )),
                ),
                (None, Some(_)) => (None, None),
            };
            let ok = o.error.is_none();
            let cost_usd = match (
                target.token_prices,
                o.usage.prompt_tokens,
                o.usage.completion_tokens,
            ) {
                (Some((i, out)), Some(p), Some(c)) => {
                    Some(p as f64 * i / 1e6 + c as f64 * out / 1e6)
                }
                _ => None,
            };
            rows.push(JudgementRow {
                trial_id: run.trial_id.clone(),
                trial_index: run.trial_index,
                case_index: case.case_index as i64,
                case_id: Arc::from(row.id.as_str()),
                repeat: case.repeat as i64,
                scorer: Arc::from(judge.name.as_str()),
                judge: target.endpoint.clone(),
                model: target.model.clone(),
                sample: i64::from(sample),
                grade,
                ok,
                error_kind,
                error_message,
                prompt_tokens: o.usage.prompt_tokens,
                completion_tokens: o.usage.completion_tokens,
                cost_usd,
                e2e_ms: match (o.sent_ns, o.last_token_ns) {
                    (Some(a), Some(b)) if ok => Some((b - a) as f64 / 1e6),
                    _ => None,
                },
                output_text: o.text,
            });
        }
    }
    let verdict = vote(&grades);
    // The run's interruption cancelled some of the panel's calls: the votes that came in are
    // not the panel's verdict (nor the judges' failure), so the case is an error for it.
    if rows
        .iter()
        .any(|r| r.error_kind == Some(ErrorKind::Cancelled.as_str()))
    {
        return (
            Judged {
                score: Score::Error(ErrorKind::Cancelled.as_str().into()),
                grade: None,
                agreement: None,
            },
            rows,
            sent,
        );
    }
    let score = match verdict.grade {
        Some(g) => {
            let unit = to_unit(g, judge.scale.0, judge.scale.1).unwrap_or(0.0);
            Score::Scored {
                value: match judge.pass {
                    Some(p) => f64::from(u8::from(unit >= p)),
                    None => unit,
                },
                raw: Some(g),
            }
        }
        None if rows.iter().all(|r| !r.ok) => Score::Error("judge_failed".into()),
        None => Score::Unscored("no_grade"),
    };
    (
        Judged {
            score,
            grade: verdict.grade,
            agreement: verdict.agreement,
        },
        rows,
        sent,
    )
}
