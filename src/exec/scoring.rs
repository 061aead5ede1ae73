//! Scoring a trial's measured cases (README, "Scores").
//!
//! Without LLM judges, cases are scored as they finish, on one thread beside the trial (not on
//! the I/O tasks; the backlog still queued when the trial ends goes to the rayon pool), their
//! `scores` rows are written at once, and only what the statistics need is kept ([`Kept`]:
//! per case and scorer the status and score, a hash of the answer that majority votes compare,
//! the extraction flag, and for `bleu` the n-gram counts). So a trial's memory no longer holds
//! every answer and score row until it ends: about 40 bytes per case and scorer remain.
//!
//! With LLM judges, the answers are kept until the trial ends ([`Scored::Held`]): the judges
//! grade them then, while the trial's engines are still up, so that judging does not load the
//! system under test while it is measured; the rows follow the verdicts.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use crate::error::Error;
use crate::eval::stats::CaseScore;
use crate::eval::{Answer, BleuStats, Normalizer, Outcome, Score, score_all, score_each};
use crate::plan::Plan;
use crate::store::{Record, ScoreRow, ScoreStatRow};

/// Cases scored at a time while the trial runs (on one thread).
const LIVE_BATCH: usize = 1024;
/// How long the thread waits before looking for finished cases again while the trial runs
/// (also the longest a row waits to be written, at low rates).
const IDLE_WAIT: std::time::Duration = std::time::Duration::from_millis(10);
/// Cases scored at a time once the trial has ended (on the rayon pool).
const BACKLOG_BATCH: usize = 65_536;

/// A measured case's answer, on its way to the scorers.
#[derive(Debug)]
pub(crate) struct MeasuredCase {
    pub case_index: u64,
    pub stage: usize,
    pub row: usize,
    pub repeat: u64,
    pub answer: String,
    pub error: Option<&'static str>,
}

/// What the statistics keep of one case's score once its row is written (24 bytes).
#[derive(Debug)]
pub struct Kept {
    /// The score (meaningful when `status` is scored).
    value: f64,
    /// Hash of what majority votes compare: the extracted answer, else the SQuAD-normalised
    /// answer (SipHash with fixed keys, compared only within one run).
    answer_key: u64,
    status: Status,
    /// Whether extraction failed (`None` without extraction, or when the case failed).
    pub extraction_failed: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Status {
    Scored,
    Unscored,
    Error,
}

impl Kept {
    /// Status and score.
    pub fn score(&self) -> CaseScore {
        match self.status {
            Status::Scored => CaseScore::Scored(self.value),
            Status::Unscored => CaseScore::Unscored,
            Status::Error => CaseScore::Error,
        }
    }
}

/// Where a kept case belongs (16 bytes).
#[derive(Debug)]
pub(crate) struct KeptCase {
    pub case_index: u64,
    row: u32,
    stage: u32,
}

impl KeptCase {
    pub fn stage(&self) -> usize {
        self.stage as usize
    }

    fn row(&self) -> usize {
        self.row as usize
    }
}

/// A trial's kept scores: `outcomes` holds `scorers` entries per case, in the order of
/// `cases` (the order cases were scored in; [`TrialScores::order`] gives case-index order).
#[derive(Debug, Default)]
pub(crate) struct TrialScores {
    pub cases: Vec<KeptCase>,
    outcomes: Vec<Kept>,
    scorers: usize,
    /// LLM judges' agreement per case and scorer (empty without judges).
    agreements: Vec<Option<f64>>,
    /// `bleu` scorers' n-gram counts of scored cases, for corpus BLEU: (position in `cases`,
    /// scorer, counts).
    bleu: Vec<(usize, usize, BleuStats)>,
    /// SQuAD normalisation, for the answers majority votes compare when nothing was extracted.
    squad: Option<Normalizer>,
}

impl TrialScores {
    /// Room for `cases` cases up front when the trial's count is known, so that the vectors
    /// never double past it.
    fn new(scorers: usize, cases: usize) -> Self {
        TrialScores {
            cases: Vec::with_capacity(cases),
            outcomes: Vec::with_capacity(cases.saturating_mul(scorers)),
            scorers,
            squad: Normalizer::from_spec(&Default::default()).ok(),
            ..Default::default()
        }
    }

    /// Keep one case's outcomes (and, with judges, its agreements).
    fn push(
        &mut self,
        case: &MeasuredCase,
        outcomes: Vec<Outcome>,
        agreements: Option<&[Option<f64>]>,
    ) {
        let mut normalised: Option<u64> = None;
        let position = self.cases.len();
        for (si, o) in outcomes.into_iter().enumerate() {
            let answer_key = match &o.extracted {
                Some(x) => key_of(x),
                None => *normalised.get_or_insert_with(|| match &self.squad {
                    Some(n) => key_of(&n.apply(&case.answer)),
                    None => key_of(&case.answer),
                }),
            };
            let (status, value) = match o.score {
                Score::Scored { value, .. } => (Status::Scored, value),
                Score::Unscored(_) => (Status::Unscored, f64::NAN),
                Score::Error(_) => (Status::Error, f64::NAN),
            };
            if let (Status::Scored, Some(b)) = (status, o.bleu) {
                self.bleu.push((position, si, *b));
            }
            self.outcomes.push(Kept {
                value,
                answer_key,
                status,
                extraction_failed: o.extraction_failed,
            });
        }
        if let Some(a) = agreements {
            self.agreements.extend_from_slice(a);
        }
        self.cases.push(KeptCase {
            case_index: case.case_index,
            row: case.row as u32,
            stage: case.stage as u32,
        });
    }

    /// The outcomes of the case at `position` (in `cases`), one per scorer.
    pub fn outcomes(&self, position: usize) -> &[Kept] {
        &self.outcomes[position * self.scorers..(position + 1) * self.scorers]
    }

    fn agreement(&self, position: usize, scorer: usize) -> Option<f64> {
        self.agreements
            .get(position * self.scorers + scorer)
            .copied()
            .flatten()
    }

    /// Positions in `cases` in case-index order (the order statistics see, so that intervals
    /// drawn with the run's seed do not depend on the order cases finished in).
    pub fn order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.cases.len()).collect();
        order.sort_unstable_by_key(|&p| self.cases[p].case_index);
        order
    }
}

fn key_of(text: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// What the scoring thread hands back when the trial ends.
#[derive(Debug)]
pub(crate) enum Scored {
    /// Scored and written as the cases finished.
    Streamed(TrialScores),
    /// Kept for the LLM judges, in case-index order: scored, judged and written after the
    /// trial.
    Held(Vec<MeasuredCase>),
}

/// Where score rows go.
#[derive(Clone)]
pub(crate) struct RowSink {
    pub tx: tokio::sync::mpsc::Sender<Record>,
    pub trial_id: Arc<str>,
    pub trial_index: i64,
}

/// A trial's scoring thread: measured cases go in through [`Scoring::sender`]; [`Scoring::finish`]
/// (once every case has been sent) returns what was kept.
pub(crate) struct Scoring {
    tx: Option<mpsc::Sender<MeasuredCase>>,
    ended: Arc<AtomicBool>,
    thread: tokio::task::JoinHandle<Result<Scored, Error>>,
}

impl Scoring {
    /// Start the thread (on tokio's blocking pool), with room for `capacity` cases.
    pub fn start(plan: Arc<Plan>, sink: RowSink, capacity: usize) -> Self {
        let (tx, rx) = mpsc::channel();
        let ended = Arc::new(AtomicBool::new(false));
        let flag = ended.clone();
        let thread = tokio::task::spawn_blocking(move || work(&plan, &rx, &flag, &sink, capacity));
        Scoring {
            tx: Some(tx),
            ended,
            thread,
        }
    }

    /// A sender for the trial's tasks (dropped with them).
    pub fn sender(&self) -> Option<mpsc::Sender<MeasuredCase>> {
        self.tx.clone()
    }

    /// The trial has ended and every sender is dropped: score the backlog and return.
    pub async fn finish(mut self) -> Result<Scored, Error> {
        self.ended.store(true, Ordering::Release);
        drop(self.tx.take());
        self.thread
            .await
            .map_err(|e| Error::Internal(format!("scoring task failed: {e}")))?
    }
}

fn work(
    plan: &Plan,
    rx: &mpsc::Receiver<MeasuredCase>,
    ended: &AtomicBool,
    sink: &RowSink,
    capacity: usize,
) -> Result<Scored, Error> {
    if !plan.judges.is_empty() {
        let mut held: Vec<MeasuredCase> = rx.iter().collect();
        held.sort_unstable_by_key(|c| c.case_index);
        return Ok(Scored::Held(held));
    }
    let mut kept = TrialScores::new(plan.scorers.len(), capacity);
    let mut batch: Vec<MeasuredCase> = Vec::new();
    loop {
        let backlog = ended.load(Ordering::Acquire);
        match rx.try_recv() {
            Ok(case) => batch.push(case),
            Err(mpsc::TryRecvError::Disconnected) => break,
            Err(mpsc::TryRecvError::Empty) if backlog => match rx.recv() {
                Ok(case) => batch.push(case),
                Err(_) => break,
            },
            // Nothing queued while the trial runs: look again shortly, rather than wait on
            // the channel and have every finished case wake this thread.
            Err(mpsc::TryRecvError::Empty) => {
                std::thread::sleep(IDLE_WAIT);
                continue;
            }
        }
        let most = if backlog { BACKLOG_BATCH } else { LIVE_BATCH };
        batch.extend(rx.try_iter().take(most - 1));
        batch.sort_unstable_by_key(|c| c.case_index);
        let outcomes = {
            let answers: Vec<Answer<'_>> = batch.iter().map(|c| answer(plan, c)).collect();
            if backlog {
                score_all(&plan.scorers, &answers)
            } else {
                score_each(&plan.scorers, &answers)
            }
        };
        for (case, outcomes) in batch.drain(..).zip(outcomes) {
            for row in rows(plan, sink, &case, &outcomes, None) {
                sink.tx
                    .blocking_send(Record::Score(Box::new(row)))
                    .map_err(|_| writer_stopped())?;
            }
            kept.push(&case, outcomes, None);
        }
    }
    Ok(Scored::Streamed(kept))
}

fn writer_stopped() -> Error {
    Error::Run("the results writer stopped (see the error above)".into())
}

fn answer<'a>(plan: &'a Plan, case: &'a MeasuredCase) -> Answer<'a> {
    Answer {
        text: &case.answer,
        references: &plan.dataset.rows[case.row].references,
        error: case.error,
    }
}

/// Score held cases on the rayon pool (`[case][scorer]`).
pub(crate) fn score_held(plan: &Plan, held: &[MeasuredCase]) -> Vec<Vec<Outcome>> {
    let answers: Vec<Answer<'_>> = held.iter().map(|c| answer(plan, c)).collect();
    score_all(&plan.scorers, &answers)
}

/// Write the rows of held cases once judged, and keep what the statistics need.
pub(crate) async fn write_held(
    plan: &Plan,
    sink: &RowSink,
    held: Vec<MeasuredCase>,
    scores: Vec<Vec<Outcome>>,
    agreements: Vec<Vec<Option<f64>>>,
) -> Result<TrialScores, Error> {
    let mut kept = TrialScores::new(plan.scorers.len(), held.len());
    for ((case, outcomes), agreements) in held.into_iter().zip(scores).zip(agreements) {
        for row in rows(plan, sink, &case, &outcomes, Some(&agreements)) {
            sink.tx
                .send(Record::Score(Box::new(row)))
                .await
                .map_err(|_| writer_stopped())?;
        }
        kept.push(&case, outcomes, Some(&agreements));
    }
    Ok(kept)
}

/// One case's `scores` rows, one per scorer.
fn rows<'a>(
    plan: &'a Plan,
    sink: &'a RowSink,
    case: &'a MeasuredCase,
    outcomes: &'a [Outcome],
    agreements: Option<&'a [Option<f64>]>,
) -> impl Iterator<Item = ScoreRow> + 'a {
    // One copy of the answer per case, shared by its scorers' rows.
    let answer: Option<Arc<str>> = case
        .error
        .is_none()
        .then(|| Arc::from(case.answer.as_str()));
    let case_id: Arc<str> = Arc::from(plan.dataset.rows[case.row].id.as_str());
    plan.scorers
        .iter()
        .zip(outcomes)
        .enumerate()
        .map(move |(si, (scorer, outcome))| {
            let (status, value, raw, reason) = match &outcome.score {
                Score::Scored { value, raw } => ("scored", Some(*value), *raw, None),
                Score::Unscored(r) => ("unscored", None, None, Some(r.to_string())),
                Score::Error(k) => ("error", None, None, Some(k.clone())),
            };
            ScoreRow {
                trial_id: sink.trial_id.clone(),
                trial_index: sink.trial_index,
                case_index: case.case_index as i64,
                case_id: case_id.clone(),
                repeat: case.repeat as i64,
                scorer: Arc::from(scorer.name.as_str()),
                status,
                score: value,
                raw,
                reason,
                normalizer: scorer.normalizer_label().cloned(),
                answer: answer.clone(),
                extracted: outcome.extracted.clone(),
                extraction_failed: outcome.extraction_failed,
                agreement: agreements.and_then(|a| a.get(si).copied().flatten()),
            }
        })
}

/// Per stage and scorer: intervals and repeat statistics (`score_stats` rows), over the
/// cases in case-index order. CPU work (bootstrap intervals, grouping repeats): call it on a
/// blocking thread.
pub(crate) fn score_stats(
    plan: &Plan,
    scores: &TrialScores,
    stages: &[usize],
    trial_id: &Arc<str>,
    trial_index: usize,
) -> Vec<ScoreStatRow> {
    let order = scores.order();
    let mut rows = Vec::new();
    for &stage in stages {
        let in_stage: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&p| scores.cases[p].stage() == stage)
            .collect();
        for (si, scorer) in plan.scorers.iter().enumerate() {
            let kept = |p: usize| &scores.outcomes(p)[si];
            let cases: Vec<(&str, u64, CaseScore)> = in_stage
                .iter()
                .map(|&p| {
                    (
                        plan.dataset.rows[scores.cases[p].row()].id.as_str(),
                        kept(p).answer_key,
                        kept(p).score(),
                    )
                })
                .collect();
            let seed = plan.seed ^ (trial_index as u64).rotate_left(32) ^ si as u64;
            let summary = crate::eval::stats::summarise_scores(&cases, plan.repeats, seed);
            let agreement: Vec<f64> = in_stage
                .iter()
                .filter_map(|&p| scores.agreement(p, si))
                .collect();
            // Corpus BLEU sums the n-gram counts the `bleu` scorer kept per case.
            let corpus_bleu = scorer.is_bleu().then(|| {
                let mut counts: Vec<(u64, BleuStats)> = scores
                    .bleu
                    .iter()
                    .filter(|(p, s, _)| *s == si && scores.cases[*p].stage() == stage)
                    .map(|(p, _, b)| (scores.cases[*p].case_index, *b))
                    .collect();
                counts.sort_unstable_by_key(|(case_index, _)| *case_index);
                let counts: Vec<BleuStats> = counts.into_iter().map(|(_, b)| b).collect();
                crate::eval::stats::corpus_bleu_of(&counts, seed)
            });
            // Extraction ran on every case that produced an answer (not on failed cases).
            let extraction = scorer.has_extraction().then(|| {
                let ran: Vec<bool> = in_stage
                    .iter()
                    .filter_map(|&p| kept(p).extraction_failed)
                    .collect();
                (ran.iter().filter(|f| **f).count() as i64, ran.len() as i64)
            });
            rows.push(ScoreStatRow {
                corpus_bleu: corpus_bleu.flatten(),
                extraction,
                trial_id: trial_id.clone(),
                trial_index: trial_index as i64,
                stage: stage as i64,
                scorer: Arc::from(scorer.name.as_str()),
                summary,
                agreement_mean: (!agreement.is_empty())
                    .then(|| agreement.iter().sum::<f64>() / agreement.len() as f64),
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::eval::stats::summarise_scores;

    const PIPELINE: &str = r#"
version: 1
name: t
endpoints:
  sim: { kind: simulated }
datasets:
  qa: { path: datasets/qa-mini.jsonl, input: question, reference: answers }
workload: { arrival: { concurrency: 1 }, seed: 5 }
flow:
  - id: ask
    llm: { endpoint: sim, prompt: "{{ item.question }}" }
grid: { repeats: 3 }
evaluators:
  - exact: {}
  - token_f1: {}
  - contains: { extract: { after: "ANSWER:" } }
  - bleu: {}
"#;

    fn plan() -> Arc<Plan> {
        let loaded = crate::spec::load::load_str(Path::new("t.yaml"), PIPELINE.into(), &[])
            .unwrap_or_else(|e| panic!("{}", e.render()));
        Arc::new(crate::plan::build(&loaded).unwrap_or_else(|e| panic!("{}", e.render())))
    }

    /// Executions of every row, 3 repeats each, with answers that differ between repeats
    /// (right, wrong, differently cased, with and without the extraction marker) and a failed
    /// call now and then.
    fn cases(plan: &Plan) -> Vec<MeasuredCase> {
        let rows = plan.dataset.rows.len();
        (0..rows as u64 * 3)
            .map(|i| {
                let row = (i / 3) as usize % rows;
                let right = &plan.dataset.rows[row].references[0];
                let answer = match (i * 7 + row as u64) % 5 {
                    0 => right.clone(),
                    1 => format!("ANSWER: {}", right.to_uppercase()),
                    2 => "something else".to_string(),
                    3 => format!("The {right}."),
                    _ => String::new(),
                };
                MeasuredCase {
                    case_index: i,
                    stage: 0,
                    row,
                    repeat: i % 3,
                    error: (i % 11 == 10).then_some("http_500"),
                    answer,
                }
            })
            .collect()
    }

    fn sink() -> (RowSink, tokio::sync::mpsc::Receiver<Record>) {
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let sink = RowSink {
            tx,
            trial_id: Arc::from("t0"),
            trial_index: 0,
        };
        (sink, rx)
    }

    fn streamed(scored: Scored) -> TrialScores {
        match scored {
            Scored::Streamed(s) => s,
            Scored::Held(_) => panic!("held without judges"),
        }
    }

    /// Score `cases` through the thread in the given order, draining the rows as they come.
    async fn score_in_order(plan: &Arc<Plan>, cases: Vec<MeasuredCase>) -> (TrialScores, usize) {
        let (sink, mut rx) = sink();
        let scoring = Scoring::start(plan.clone(), sink, 0);
        let tx = scoring.sender().unwrap();
        let drain = tokio::spawn(async move {
            let mut n = 0;
            while let Some(r) = rx.recv().await {
                assert!(matches!(r, Record::Score(_)));
                n += 1;
            }
            n
        });
        for c in cases {
            tx.send(c).unwrap();
        }
        drop(tx);
        let kept = streamed(scoring.finish().await.unwrap());
        (kept, drain.await.unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rows_are_written_while_the_trial_runs() {
        let plan = plan();
        let (sink, mut rx) = sink();
        let scoring = Scoring::start(plan.clone(), sink, 0);
        let tx = scoring.sender().unwrap();
        let mut sent = cases(&plan);
        sent.truncate(4);
        for c in sent {
            tx.send(c).unwrap();
        }
        // The trial has not ended (a sender is alive, `finish` not called): the rows of the
        // cases sent so far arrive anyway, one per scorer, in case order.
        let mut got = Vec::new();
        while got.len() < 4 * plan.scorers.len() {
            let rec = tokio::time::timeout(Duration::from_secs(20), rx.recv())
                .await
                .expect("rows written before the trial ended")
                .unwrap();
            let Record::Score(row) = rec else {
                panic!("not a score row")
            };
            got.push((row.case_index, row.scorer.to_string()));
        }
        let want: Vec<(i64, String)> = (0..4)
            .flat_map(|i| plan.scorers.iter().map(move |s| (i, s.name.clone())))
            .collect();
        assert_eq!(got, want);
        drop(tx);
        let kept = streamed(scoring.finish().await.unwrap());
        assert_eq!(kept.cases.len(), 4);
        assert_eq!(kept.outcomes.len(), 4 * plan.scorers.len());
        assert!(rx.recv().await.is_none(), "no row twice");
    }

    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn statistics_do_not_depend_on_the_order_cases_finish_in() {
        let plan = plan();
        let n = cases(&plan).len();
        let (in_order, rows) = score_in_order(&plan, cases(&plan)).await;
        assert_eq!(rows, n * plan.scorers.len());
        // Reversed, and shuffled, one case per batch: the order a slow trial's cases may
        // finish in and reach the scorers.
        let kept_in = |order: Vec<MeasuredCase>| {
            let mut kept = TrialScores::new(plan.scorers.len(), 0);
            for c in order {
                let outcomes = score_each(&plan.scorers, &[answer(&plan, &c)]);
                kept.push(&c, outcomes.into_iter().next().unwrap(), None);
            }
            kept
        };
        let mut reversed = cases(&plan);
        reversed.reverse();
        let backwards = kept_in(reversed);
        let mut shuffled = cases(&plan);
        let mut x = 99u64;
        for i in (1..shuffled.len()).rev() {
            let j = (crate::rng::splitmix64(&mut x) % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        let mixed = kept_in(shuffled);
        let tid: Arc<str> = Arc::from("t0");
        let stats = |s: &TrialScores| score_stats(&plan, s, &[0], &tid, 0);
        let want = stats(&in_order);
        assert_eq!(want.len(), plan.scorers.len());
        for other in [&backwards, &mixed] {
            let got = stats(other);
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.summary, w.summary, "{}", w.scorer);
                assert_eq!(g.extraction, w.extraction);
                assert_eq!(g.corpus_bleu, w.corpus_bleu);
            }
        }
        // The same as the statistics over the texts themselves: hashing the answers that
        // majority votes compare changes nothing.
        let squad = Normalizer::from_spec(&Default::default()).unwrap();
        let all = cases(&plan);
        let answers: Vec<Answer<'_>> = all.iter().map(|c| answer(&plan, c)).collect();
        let outcomes = score_all(&plan.scorers, &answers);
        let normalised: Vec<String> = all.iter().map(|c| squad.apply(&c.answer)).collect();
        for (si, w) in want.iter().enumerate() {
            let by_text: Vec<(&str, &str, CaseScore)> = all
                .iter()
                .enumerate()
                .map(|(c, case)| {
                    let o = &outcomes[c][si];
                    let score = match o.score {
                        Score::Scored { value, .. } => CaseScore::Scored(value),
                        Score::Unscored(_) => CaseScore::Unscored,
                        Score::Error(_) => CaseScore::Error,
                    };
                    let key = o.extracted.as_deref().unwrap_or(&normalised[c]);
                    (plan.dataset.rows[case.row].id.as_str(), key, score)
                })
                .collect();
            let seed = plan.seed ^ si as u64;
            assert_eq!(
                summarise_scores(&by_text, plan.repeats, seed),
                w.summary,
                "{}",
                w.scorer
            );
        }
        // The case mix exercises what it should: every status, repeats that disagree.
        let s = &want[0].summary;
        assert!(s.scored > 0 && s.errors > 0, "{s:?}");
        assert!(s.flip_rate.is_some_and(|f| f > 0.0), "{s:?}");
        assert!(
            want[2]
                .extraction
                .is_some_and(|(failed, ran)| failed > 0 && failed < ran)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stopped_writer_is_an_error_not_a_hang() {
        let plan = plan();
        let (sink, rx) = sink();
        drop(rx);
        let scoring = Scoring::start(plan.clone(), sink, 0);
        let tx = scoring.sender().unwrap();
        for c in cases(&plan) {
            // The thread may already have stopped: sending then fails, as in a trial.
            let _ = tx.send(c);
        }
        drop(tx);
        let err = scoring.finish().await.unwrap_err();
        assert!(err.to_string().contains("results writer stopped"), "{err}");
    }
}
