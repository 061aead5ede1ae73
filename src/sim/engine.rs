//! The performance model: a continuous-batching scheduler, one task per server.
//!
//! The engine advances in steps, like vLLM's scheduler loop. At the start of a step it admits
//! waiting sequences in FIFO order while a slot is free and (with a KV capacity) their
//! reservation fits; the step then lasts
//!
//! ```text
//! decode_ms + decode_ms_per_seq * (running - 1)      // one decode for the whole batch
//!   + 1000 * admitted_prompt_tokens / prefill_tok_s  // prefill of the sequences admitted now
//! ```
//!
//! and at its end every running sequence, new ones included, emits one token. Sequences that
//! have emitted all their tokens leave, freeing their slot and KV reservation for the next step.
//! Step deadlines are absolute instants, each computed from the previous one, so timer
//! lateness never accumulates; an idle engine parks on its channel and restarts its clock when
//! work arrives.
//!
//! Tokens are published through a `watch` channel per sequence (a counter, so a slow reader
//! never blocks the engine and nothing is allocated per token). A sequence whose reader is gone
//! (client disconnected) is dropped at the next step, as vLLM aborts a request whose
//! connection closed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::spec::SimProfile;

/// The scheduler's parameters, sanitised from a [`SimProfile`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct EngineParams {
    /// Maximum running sequences (at least 1).
    pub slots: usize,
    /// KV capacity in tokens (0: unlimited).
    pub kv_tokens: u64,
    /// Prefill time per prompt token (0 when prefill is free).
    pub prefill_per_token: Duration,
    /// Decode step time with one sequence.
    pub decode: Duration,
    /// Extra decode step time per additional sequence.
    pub decode_per_seq: Duration,
}

/// The longest step component [`ms`] gives: an hour, the profile's bound on step times
/// (`MAX_STEP_MS`), so every in-range value converts exactly.
const MAX_STEP: Duration = Duration::from_secs(3600);
const _: () = assert!(crate::spec::MAX_STEP_MS == 3_600_000.0);
/// A deadline for a step too long for the clock (30 years: never, for a benchmark).
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// Milliseconds as a duration, saturating: NaN and values of 0 or less are zero; a positive
/// value is at least a nanosecond (a positive time that rounded to zero would turn stepping
/// into the zero-cost burst) and at most [`MAX_STEP`] (a value beyond a `Duration`, such as
/// `1e300`, saturates there instead of failing the conversion into zero, and a huge one such
/// as `1e20` cannot park the engine for ages). Validation keeps profile values in range; this
/// keeps a profile built in code harmless too.
pub(crate) fn ms(value: f64) -> Duration {
    if value.is_nan() || value <= 0.0 {
        return Duration::ZERO;
    }
    let secs = (value / 1000.0).min(MAX_STEP.as_secs_f64());
    Duration::from_secs_f64(secs).clamp(Duration::from_nanos(1), MAX_STEP)
}

impl EngineParams {
    /// From a profile. `prefill_tok_s <= 0` (or NaN) means prefill is free.
    pub(crate) fn from_profile(profile: &SimProfile) -> Self {
        let prefill_per_token = if profile.prefill_tok_s > 0.0 {
            // An infinite rate is free; a rate so low that a token would take longer than the
            // longest step saturates there.
            ms(1000.0 / profile.prefill_tok_s)
        } else {
            Duration::ZERO
        };
        EngineParams {
            slots: (profile.slots as usize).max(1),
            kv_tokens: profile.kv_tokens,
            prefill_per_token,
            decode: ms(profile.decode_ms),
            decode_per_seq: ms(profile.decode_ms_per_seq),
        }
    }

    /// Duration of a step with `running` sequences of which the admitted ones bring
    /// `prefill_tokens` prompt tokens.
    pub(crate) fn step(&self, running: usize, prefill_tokens: u64) -> Duration {
        let extra = u32::try_from(running.saturating_sub(1)).unwrap_or(u32::MAX);
        let prefill = u32::try_from(prefill_tokens).unwrap_or(u32::MAX);
        self.decode
            .saturating_add(self.decode_per_seq.saturating_mul(extra))
            .saturating_add(self.prefill_per_token.saturating_mul(prefill))
    }
}

/// A sequence handed to the engine.
struct Job {
    prompt_tokens: u64,
    output_tokens: u32,
    kv_reserve: u64,
    progress: watch::Sender<u32>,
}

/// A running sequence.
struct Running {
    job: Job,
    emitted: u32,
}

/// Submits sequences to a running engine. Cloneable; the engine ends once every handle is
/// dropped and its work is done.
#[derive(Clone, Debug)]
pub(crate) struct EngineHandle {
    tx: mpsc::UnboundedSender<Job>,
    steps: Arc<AtomicU64>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("prompt_tokens", &self.prompt_tokens)
            .field("output_tokens", &self.output_tokens)
            .finish()
    }
}

impl EngineHandle {
    /// Steps run so far.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn steps(&self) -> u64 {
        self.steps.load(Ordering::Relaxed)
    }

    /// Queue a sequence that will emit `output_tokens` tokens (at least 1). The receiver's value
    /// is the number of tokens emitted so far; it closes without reaching `output_tokens` only
    /// if the engine stopped. Dropping the receiver cancels the sequence. `None` if the engine
    /// has stopped.
    pub(crate) fn submit(
        &self,
        prompt_tokens: u64,
        output_tokens: u32,
        kv_reserve: u64,
    ) -> Option<watch::Receiver<u32>> {
        let (progress, rx) = watch::channel(0);
        let job = Job {
            prompt_tokens,
            output_tokens: output_tokens.max(1),
            kv_reserve,
            progress,
        };
        self.tx.send(job).ok().map(|()| rx)
    }
}

/// Start the scheduler task on the current runtime.
pub(crate) fn spawn(params: EngineParams) -> (EngineHandle, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let steps = Arc::new(AtomicU64::new(0));
    let task = tokio::spawn(run(params, rx, steps.clone()));
    (EngineHandle { tx, steps }, task)
}

async fn run(params: EngineParams, mut rx: mpsc::UnboundedReceiver<Job>, steps: Arc<AtomicU64>) {
    let mut waiting: VecDeque<Job> = VecDeque::new();
    let mut running: Vec<Running> = Vec::with_capacity(params.slots.min(1024));
    let mut kv_used: u64 = 0;
    // End of the previous step while the engine is busy; None when idle.
    let mut clock: Option<Instant> = None;
    loop {
        if running.is_empty() && waiting.is_empty() {
            match rx.try_recv() {
                Ok(job) => waiting.push_back(job),
                Err(mpsc::error::TryRecvError::Disconnected) => return,
                Err(mpsc::error::TryRecvError::Empty) => {
                    // Idle: park until work arrives, then start the clock afresh.
                    clock = None;
                    match rx.recv().await {
                        Some(job) => waiting.push_back(job),
                        None => return,
                    }
                }
            }
        }
        while let Ok(job) = rx.try_recv() {
            waiting.push_back(job);
        }

        // Admission, strictly first come first served (the head blocks the queue, as in vLLM).
        let mut prefill_tokens = 0u64;
        while running.len() < params.slots {
            let Some(head) = waiting.front() else { break };
            if head.progress.is_closed() {
                waiting.pop_front(); // cancelled while queued
                continue;
            }
            if params.kv_tokens > 0
                && !running.is_empty()
                && kv_used.saturating_add(head.kv_reserve) > params.kv_tokens
            {
                break;
            }
            let job = waiting.pop_front().expect("head");
            kv_used = kv_used.saturating_add(job.kv_reserve);
            prefill_tokens = prefill_tokens.saturating_add(job.prompt_tokens);
            running.push(Running { job, emitted: 0 });
        }
        if running.is_empty() {
            continue; // everything queued had been cancelled
        }

        let start = clock.unwrap_or_else(Instant::now);
        let step = params.step(running.len(), prefill_tokens);
        // A step that costs nothing emits every remaining token at once: with no time between
        // tokens there is nothing to simulate, and a zero-delay engine (`frontier calibrate`)
        // should spend its CPU on serving, not on stepping.
        let burst = step.is_zero();
        // Steps are bounded (each component is at most an hour per sequence or token), but a
        // deadline past the clock's range must still not panic.
        let deadline = start
            .checked_add(step)
            .or_else(|| start.checked_add(FAR_FUTURE))
            .unwrap_or(start);
        if deadline > Instant::now() {
            tokio::time::sleep_until(deadline).await;
        } else {
            // Zero-cost (or late) step: let other tasks run before the next one.
            tokio::task::yield_now().await;
        }
        clock = Some(deadline);
        steps.fetch_add(1, Ordering::Relaxed);

        running.retain_mut(|seq| {
            seq.emitted = if burst {
                seq.job.output_tokens.max(1)
            } else {
                seq.emitted + 1
            };
            let delivered = seq.job.progress.send(seq.emitted).is_ok();
            let keep = delivered && seq.emitted < seq.job.output_tokens;
            if !keep {
                kv_used -= seq.job.kv_reserve;
            }
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_time_grows_with_batch_and_prefill() {
        let params = EngineParams::from_profile(&SimProfile {
            decode_ms: 20.0,
            decode_ms_per_seq: 2.0,
            prefill_tok_s: 1000.0,
            ..SimProfile::default()
        });
        assert_eq!(params.step(1, 0), Duration::from_millis(20));
        assert_eq!(params.step(5, 0), Duration::from_millis(28));
        assert_eq!(params.step(1, 100), Duration::from_millis(120));
    }

    #[test]
    fn degenerate_profiles_are_free_not_panics() {
        let params = EngineParams::from_profile(&SimProfile {
            slots: 0,
            decode_ms: -1.0,
            decode_ms_per_seq: f64::NAN,
            prefill_tok_s: 0.0,
            ..SimProfile::default()
        });
        assert_eq!(params.slots, 1);
        assert_eq!(params.step(10, 1_000_000), Duration::ZERO);
    }

    #[test]
    fn step_times_saturate_and_never_vanish() {
        // Huge values saturate at the longest step instead of failing the conversion into
        // zero (1e300 ms used to give a zero-cost engine, 1e20 ms a step of three billion
        // years).
        for v in [1e20, 1e300, f64::MAX, f64::INFINITY, 3_600_000.5] {
            assert_eq!(ms(v), MAX_STEP, "{v}");
        }
        // A positive time is never zero (that would turn stepping into the burst).
        assert_eq!(ms(1e-9), Duration::from_nanos(1));
        assert_eq!(ms(f64::MIN_POSITIVE), Duration::from_nanos(1));
        for v in [0.0, -0.0, -1.0, f64::NEG_INFINITY, f64::NAN] {
            assert_eq!(ms(v), Duration::ZERO, "{v}");
        }
        // In range: exact.
        assert_eq!(ms(crate::spec::MAX_STEP_MS), Duration::from_secs(3600));
        assert_eq!(ms(6.0), Duration::from_millis(6));
        assert_eq!(ms(0.25), Duration::from_micros(250));

        // The reproducers as profiles: slow, never free.
        let params = EngineParams::from_profile(&SimProfile {
            decode_ms: 1e300,
            decode_ms_per_seq: 1e20,
            prefill_tok_s: 1e-300,
            ..SimProfile::default()
        });
        assert_eq!(params.decode, MAX_STEP);
        assert_eq!(params.decode_per_seq, MAX_STEP);
        assert_eq!(params.prefill_per_token, MAX_STEP);
        // The bounds of a valid profile: prefill from 1 ns to 1000 s per token.
        let fastest = EngineParams::from_profile(&SimProfile {
            prefill_tok_s: crate::spec::MAX_PREFILL_TOK_S,
            ..SimProfile::default()
        });
        assert_eq!(fastest.prefill_per_token, Duration::from_nanos(1));
        let slowest = EngineParams::from_profile(&SimProfile {
            decode_ms: crate::spec::MAX_STEP_MS,
            decode_ms_per_seq: crate::spec::MAX_STEP_MS,
            prefill_tok_s: crate::spec::MIN_PREFILL_TOK_S,
            ..SimProfile::default()
        });
        assert_eq!(slowest.prefill_per_token, Duration::from_secs(1000));
        // The longest step there can be still makes a deadline (no overflow, no panic).
        let longest = slowest.step(usize::MAX, u64::MAX);
        assert!(longest > Duration::from_secs(3600));
        assert!(Instant::now().checked_add(longest).is_some());
    }

    /// Arrival time of each token of a sequence from the last one already emitted, read until
    /// it closes.
    async fn token_times(mut rx: watch::Receiver<u32>) -> Vec<Instant> {
        let mut last = *rx.borrow_and_update();
        // The token already seen counts as arriving now (it was just observed).
        let mut times = if last > 0 {
            vec![Instant::now()]
        } else {
            Vec::new()
        };
        while rx.changed().await.is_ok() {
            let now = *rx.borrow_and_update();
            for _ in last..now {
                times.push(Instant::now());
            }
            last = now;
        }
        times
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_admitted_prefill_stalls_running_decodes() {
        // No chunked prefill (README, "Scheduler"): a sequence admitted while another decodes
        // puts its whole prefill into a step the running one waits for too.
        let params = EngineParams::from_profile(&SimProfile {
            decode_ms: 10.0,
            decode_ms_per_seq: 0.0,
            prefill_tok_s: 1000.0,
            ..SimProfile::default()
        });
        let (engine, task) = spawn(params);
        let mut running = engine.submit(0, 30, 0).expect("running");
        // Wait for its fifth token, then admit a 200-token prompt: 200 ms of prefill, in the
        // step that gives the sixth or the seventh token.
        while *running.borrow_and_update() < 5 {
            running.changed().await.expect("tokens");
        }
        let waiting = engine.submit(200, 1, 0).expect("running");
        let (times, newcomer) = tokio::join!(token_times(running), token_times(waiting));
        assert_eq!(times.len(), 26);
        let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
        let stall = *gaps.iter().max().expect("gaps");
        // Modelled: one gap of 210 ms (decode plus the newcomer's prefill), the others 10 ms.
        assert!(stall >= Duration::from_millis(150), "{gaps:?}");
        let stalled = gaps
            .iter()
            .filter(|&&g| g >= Duration::from_millis(150))
            .count();
        assert!(stalled <= 2, "{gaps:?}");
        // The newcomer's only token comes with the running sequence's stalled one.
        let with = times
            .iter()
            .map(|&t| {
                if t > newcomer[0] {
                    t - newcomer[0]
                } else {
                    newcomer[0] - t
                }
            })
            .min()
            .expect("times");
        assert!(with < Duration::from_millis(50), "{with:?}");
        drop(engine);
        task.await.expect("engine ends");
    }

    #[tokio::test]
    async fn emits_every_token_then_closes() {
        let params = EngineParams::from_profile(&SimProfile {
            decode_ms: 0.0,
            decode_ms_per_seq: 0.0,
            prefill_tok_s: 0.0,
            ..SimProfile::default()
        });
        let (engine, task) = spawn(params);
        let mut rx = engine.submit(10, 50, 60).expect("running");
        let mut last = 0;
        while rx.changed().await.is_ok() {
            let now = *rx.borrow_and_update();
            assert!(now > last);
            last = now;
        }
        assert_eq!(last, 50);
        // Zero-cost steps emit everything at once; then the idle engine parks instead of
        // stepping.
        let steps = engine.steps();
        assert_eq!(steps, 1);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(engine.steps(), steps);
        drop(engine);
        task.await.expect("engine ends when its handles are gone");
    }
}
