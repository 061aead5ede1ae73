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

/// Milliseconds as a duration; negative, NaN and infinite values count as zero.
fn ms(value: f64) -> Duration {
    if value.is_finite() && value > 0.0 {
        Duration::try_from_secs_f64(value / 1000.0).unwrap_or(Duration::ZERO)
    } else {
        Duration::ZERO
    }
}

impl EngineParams {
    /// From a profile. `prefill_tok_s <= 0` (or not finite) means prefill is free.
    pub(crate) fn from_profile(profile: &SimProfile) -> Self {
        let prefill_per_token = if profile.prefill_tok_s.is_finite() && profile.prefill_tok_s > 0.0
        {
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
        let deadline = start + step;
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
