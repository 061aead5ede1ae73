//! The pacer: releases open-loop slots at their deadlines from a dedicated OS thread, finer
//! than the async runtime's millisecond timer.
//!
//! tokio's timer wheel has a 1 ms resolution and fires on the next tick after a deadline, so a
//! schedule driven by `sleep_until` is late by up to a millisecond on every send and bunches
//! sub-millisecond gaps together. The pacer thread instead sleeps with the OS (nanosecond
//! resolution, about 50-100 us of overshoot on Linux) until shortly before each deadline and
//! then yields in a loop until the deadline passes, so releases land within microseconds of
//! their deadlines while the thread stays mostly asleep at low rates. Slots whose deadlines
//! are already past are released at once, in order. The async side receives them on a channel
//! and starts their cases; the time from the deadline to the case actually starting is the
//! schedule lag every request records (`schedule_lag_ms`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::schedule::{Schedule, Slot};

/// Sleep with the OS only while more than this remains; yield for the rest. The pacer thread
/// asks for a 1 us timer slack (Linux's default is 50 us), so its sleeps end within a few
/// microseconds of their target and the yielding tail stays short.
const SPIN_WINDOW: Duration = Duration::from_micros(60);
/// Longest single sleep, so a stop request is noticed promptly.
const MAX_SLEEP: Duration = Duration::from_millis(20);

/// A running pacer; dropping it stops the thread.
pub struct Pacer {
    rx: mpsc::UnboundedReceiver<Slot>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<bool>>,
}

impl Pacer {
    /// Start releasing `schedule`'s slots. `stop` ends the pacer early (also set on drop).
    pub fn start(mut schedule: Schedule, stop: Arc<AtomicBool>) -> std::io::Result<Pacer> {
        let (tx, rx) = mpsc::unbounded_channel();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("frontier-pacer".into())
            .spawn(move || {
                set_timer_slack_ns(1000);
                while let Some(slot) = schedule.next_slot() {
                    if let Some(deadline) = slot.deadline
                        && !wait_until(deadline, &flag)
                    {
                        return false;
                    }
                    if flag.load(Ordering::Relaxed) || tx.send(slot).is_err() {
                        return false;
                    }
                }
                schedule.count_exhausted()
            })?;
        Ok(Pacer {
            rx,
            stop,
            thread: Some(thread),
        })
    }

    /// The next released slot; `None` when the schedule is exhausted or the pacer stopped.
    pub async fn next(&mut self) -> Option<Slot> {
        self.rx.recv().await
    }

    /// Stop (if still running) and say whether the schedule ended on its count limit (rather
    /// than its duration or a stop).
    pub fn finish(mut self) -> bool {
        self.stop.store(true, Ordering::Relaxed);
        self.rx.close();
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or(false)
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.rx.close();
        if let Some(t) = self.thread.take() {
            // The thread notices the flag within MAX_SLEEP; joining keeps threads from piling
            // up across trials.
            let _ = t.join();
        }
    }
}

/// Ask the OS to end this thread's sleeps within `ns` of their target (Linux; elsewhere a
/// no-op).
fn set_timer_slack_ns(ns: u64) {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and only affects this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, ns as libc::c_ulong, 0, 0, 0);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = ns;
}

/// Block until `deadline`; `false` if `stop` was set first.
pub fn wait_until(deadline: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        let left = deadline - now;
        if left > SPIN_WINDOW {
            std::thread::sleep((left - SPIN_WINDOW / 2).min(MAX_SLEEP));
        } else {
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Load, OpenProcess, Rate};

    #[test]
    fn releases_every_slot_in_order_and_never_early() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let load = Load::Open {
            process: OpenProcess::Poisson,
            rate: Rate::Fixed(2000.0),
            max_concurrency: None,
        };
        let t0 = Instant::now() + Duration::from_millis(5);
        let schedule = Schedule::new(&load, t0, 0, Some(200), None, 9);
        let stop = Arc::new(AtomicBool::new(false));
        let got = rt.block_on(async {
            let mut p = Pacer::start(schedule, stop).unwrap();
            let mut got = Vec::new();
            while let Some(s) = p.next().await {
                got.push((s, Instant::now()));
            }
            got
        });
        assert_eq!(got.len(), 200);
        for (i, (slot, at)) in got.iter().enumerate() {
            assert_eq!(slot.index, i as u64);
            // Released at or after its deadline (how late is a benchmark's business).
            assert!(*at >= slot.deadline.unwrap());
        }
    }

    #[test]
    fn stop_ends_a_long_wait_promptly() {
        let load = Load::Open {
            process: OpenProcess::Constant,
            rate: Rate::Fixed(0.01),
            max_concurrency: None,
        };
        // The second slot is 100 s away.
        let schedule = Schedule::new(&load, Instant::now(), 0, None, None, 1);
        let stop = Arc::new(AtomicBool::new(false));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut p = Pacer::start(schedule, stop.clone()).unwrap();
            assert_eq!(p.next().await.unwrap().index, 0);
            // Dropping joins the thread; it must notice the flag within MAX_SLEEP.
            drop(p);
        });
        assert!(stop.load(Ordering::Relaxed));
    }
}
