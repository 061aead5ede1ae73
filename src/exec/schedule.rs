//! The schedule: which execution comes next and when it should be sent. One schedule object
//! drives the one worker loop for every arrival process; closed-loop slots have no deadline
//! (they go when a place frees up), open-loop slots carry absolute deadlines computed from the
//! trial start (start + sum of gaps), so timer drift never accumulates.

use std::time::{Duration, Instant};

use crate::plan::{Arrival, OpenProcess};
use crate::rng::Rng;

/// One execution to start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Slot {
    /// Execution index within the trial (0-based).
    pub index: u64,
    /// When to send (open loop); `None` for closed loop.
    pub deadline: Option<Instant>,
}

/// A trial's arrival schedule.
#[derive(Debug)]
pub struct Schedule {
    start: Instant,
    limit: Option<u64>,
    duration: Option<Duration>,
    next_index: u64,
    gaps: Option<Gaps>,
    offset_s: f64,
}

#[derive(Debug)]
struct Gaps {
    process: OpenProcess,
    mean_s: f64,
    rng: Rng,
}

impl Schedule {
    /// A schedule for `arrival` starting at `start`, with at most `limit` executions and no
    /// deadline later than `start + duration`.
    pub fn new(
        arrival: &Arrival,
        start: Instant,
        limit: Option<u64>,
        duration: Option<Duration>,
        seed: u64,
    ) -> Self {
        let gaps = match arrival {
            Arrival::Closed { .. } => None,
            Arrival::Open { process, rate, .. } => Some(Gaps {
                process: *process,
                mean_s: 1.0 / rate,
                rng: Rng::new(seed),
            }),
        };
        Schedule {
            start,
            limit,
            duration,
            next_index: 0,
            gaps,
            offset_s: 0.0,
        }
    }

    /// The next slot, or `None` when the trial has scheduled everything. For closed loops the
    /// duration is checked by the caller when the slot is about to start.
    pub fn next_slot(&mut self) -> Option<Slot> {
        if self.limit.is_some_and(|l| self.next_index >= l) {
            return None;
        }
        let deadline = match &mut self.gaps {
            None => None,
            Some(g) => {
                // The first arrival is at the start; later ones after a gap.
                if self.next_index > 0 {
                    self.offset_s += match g.process {
                        OpenProcess::Constant => g.mean_s,
                        OpenProcess::Poisson => g.rng.exponential(g.mean_s),
                    };
                }
                let at = Duration::from_secs_f64(self.offset_s);
                if self.duration.is_some_and(|d| at >= d) {
                    return None;
                }
                Some(self.start + at)
            }
        };
        let slot = Slot {
            index: self.next_index,
            deadline,
        };
        self.next_index += 1;
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(process: OpenProcess, rate: f64) -> Arrival {
        Arrival::Open {
            process,
            rate,
            max_concurrency: None,
        }
    }

    #[test]
    fn constant_is_evenly_spaced_from_start() {
        let t0 = Instant::now();
        let mut s = Schedule::new(&open(OpenProcess::Constant, 4.0), t0, Some(3), None, 1);
        let d: Vec<Duration> = std::iter::from_fn(|| s.next_slot())
            .map(|x| x.deadline.unwrap() - t0)
            .collect();
        assert_eq!(
            d,
            vec![
                Duration::ZERO,
                Duration::from_millis(250),
                Duration::from_millis(500)
            ]
        );
    }

    #[test]
    fn poisson_rate_and_determinism() {
        let t0 = Instant::now();
        let mk = || {
            Schedule::new(
                &open(OpenProcess::Poisson, 100.0),
                t0,
                Some(20_001),
                None,
                42,
            )
        };
        let a: Vec<Slot> = std::iter::from_fn({
            let mut s = mk();
            move || s.next_slot()
        })
        .collect();
        let b: Vec<Slot> = std::iter::from_fn({
            let mut s = mk();
            move || s.next_slot()
        })
        .collect();
        assert_eq!(a, b);
        let span = (a.last().unwrap().deadline.unwrap() - t0).as_secs_f64();
        let rate = 20_000.0 / span;
        assert!((rate - 100.0).abs() < 3.0, "{rate}");
        // Exponential gaps: the coefficient of variation is 1.
        let gaps: Vec<f64> = a
            .windows(2)
            .map(|w| (w[1].deadline.unwrap() - w[0].deadline.unwrap()).as_secs_f64())
            .collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        assert!((var.sqrt() / mean - 1.0).abs() < 0.05);
    }

    #[test]
    fn duration_bounds_open_loop_and_limit_bounds_closed_loop() {
        let t0 = Instant::now();
        let mut s = Schedule::new(
            &open(OpenProcess::Constant, 10.0),
            t0,
            None,
            Some(Duration::from_secs(1)),
            1,
        );
        assert_eq!(std::iter::from_fn(|| s.next_slot()).count(), 10);
        let mut s = Schedule::new(&Arrival::Closed { concurrency: 2 }, t0, Some(5), None, 1);
        let v: Vec<Slot> = std::iter::from_fn(|| s.next_slot()).collect();
        assert_eq!(v.len(), 5);
        assert!(v.iter().all(|x| x.deadline.is_none()));
    }
}
