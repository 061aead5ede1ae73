//! The pacer: releases open-loop slots at their deadlines, finer than the async runtime's
//! millisecond timer.
//!
//! tokio's timer wheel has a 1 ms resolution and fires on the next tick after a deadline, so a
//! schedule driven by `sleep_until` is late by up to a millisecond on every send and bunches
//! sub-millisecond gaps together. Two pacers avoid it:
//!
//! - On Linux (the default there), a `timerfd` armed for each deadline with the kernel's
//!   high-resolution timer and registered with the runtime's I/O driver: the worker that runs
//!   the stage loop wakes at the deadline itself and starts the case. No thread of its own, no
//!   hand-off between threads.
//! - Elsewhere, or with `FRONTIER_PACER=thread`, a dedicated OS thread that sleeps (1 us timer
//!   slack) until shortly before each deadline, yields until it passes, and sends the slot to
//!   the stage loop over a channel.
//!
//! Measured side by side on 2 cores against `frontier sim-server` in its own process (open-loop
//! Poisson at 10,000 requests/s, 16-token streams, three interleaved runs each, over reqwest):
//! schedule-lag p99 0.7-1.9 ms and 81-87 us of client CPU per request with the timer, against
//! 24-36 ms and 88-93 us with the thread, whose every release costs a sleep and wake of the
//! pacer thread, a wake of the worker, and a thread competing with them both for the two cores.
//!
//! Either way slots whose deadlines are already past are released at once, in order, and the
//! time from the deadline to the case actually starting is the schedule lag every request
//! records (`schedule_lag_ms`).

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

/// A running pacer. Dropping it stops it.
pub struct Pacer {
    inner: Inner,
}

enum Inner {
    Thread(ThreadPacer),
    #[cfg(target_os = "linux")]
    Timer(timer::TimerPacer),
}

/// Which pacer releases the slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacerKind {
    /// A `timerfd` on the runtime's I/O driver (Linux).
    Timer,
    /// A dedicated OS thread.
    Thread,
}

impl PacerKind {
    /// `timer` or `thread` (as in `manifest.json` and `frontier calibrate --json`).
    pub fn as_str(self) -> &'static str {
        match self {
            PacerKind::Timer => "timer",
            PacerKind::Thread => "thread",
        }
    }

    /// The timer on Linux unless `FRONTIER_PACER=thread`; the thread elsewhere, and outside a
    /// tokio runtime.
    pub fn from_env() -> PacerKind {
        let in_runtime = tokio::runtime::Handle::try_current().is_ok();
        let thread_asked = std::env::var_os("FRONTIER_PACER").is_some_and(|v| v == "thread");
        if cfg!(target_os = "linux") && in_runtime && !thread_asked {
            PacerKind::Timer
        } else {
            PacerKind::Thread
        }
    }
}

impl Pacer {
    /// Start releasing `schedule`'s slots with the pacer [`PacerKind::from_env`] picks. `stop`
    /// ends the pacer early (also set on drop).
    pub fn start(schedule: Schedule, stop: Arc<AtomicBool>) -> std::io::Result<Pacer> {
        Pacer::start_with(PacerKind::from_env(), schedule, stop)
    }

    /// Start with a given pacer (the timer needs Linux and a tokio runtime with I/O enabled;
    /// without them it falls back to the thread).
    pub fn start_with(
        kind: PacerKind,
        schedule: Schedule,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<Pacer> {
        #[cfg(target_os = "linux")]
        if kind == PacerKind::Timer && tokio::runtime::Handle::try_current().is_ok() {
            return Ok(Pacer {
                inner: Inner::Timer(timer::TimerPacer::new(schedule, stop)?),
            });
        }
        let _ = kind;
        Ok(Pacer {
            inner: Inner::Thread(ThreadPacer::start(schedule, stop)?),
        })
    }

    /// The next released slot; `None` when the schedule is exhausted or the pacer stopped.
    /// Cancel-safe: a slot is never lost when the returned future is dropped.
    pub async fn next(&mut self) -> Option<Slot> {
        match &mut self.inner {
            Inner::Thread(p) => p.rx.recv().await,
            #[cfg(target_os = "linux")]
            Inner::Timer(p) => p.next().await,
        }
    }

    /// Stop (if still running) and say whether the schedule ended on its count limit (rather
    /// than its duration or a stop).
    pub fn finish(self) -> bool {
        match self.inner {
            Inner::Thread(p) => p.finish(),
            #[cfg(target_os = "linux")]
            Inner::Timer(p) => p.finish(),
        }
    }
}

/// The portable pacer: an OS thread that sleeps to each deadline and sends the slot on a
/// channel.
struct ThreadPacer {
    rx: mpsc::UnboundedReceiver<Slot>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<bool>>,
}

impl ThreadPacer {
    fn start(mut schedule: Schedule, stop: Arc<AtomicBool>) -> std::io::Result<ThreadPacer> {
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
        Ok(ThreadPacer {
            rx,
            stop,
            thread: Some(thread),
        })
    }

    fn finish(mut self) -> bool {
        self.stop.store(true, Ordering::Relaxed);
        self.rx.close();
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or(false)
    }
}

impl Drop for ThreadPacer {
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

#[cfg(target_os = "linux")]
mod timer {
    //! The Linux pacer: a `timerfd` armed for each deadline and registered with the async
    //! runtime, so the I/O worker itself wakes at the deadline (the kernel's high-resolution
    //! timer, no slack) and starts the case, with no thread of its own and no hand-off.

    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    use tokio::io::unix::AsyncFd;

    use super::{Schedule, Slot};

    pub(super) struct TimerPacer {
        schedule: Schedule,
        /// The slot being waited for (kept here so a dropped `next` future loses nothing).
        pending: Option<Slot>,
        timer: AsyncFd<OwnedFd>,
        stop: Arc<AtomicBool>,
        /// `next_slot` returned `None`.
        exhausted: bool,
    }

    impl TimerPacer {
        pub(super) fn new(schedule: Schedule, stop: Arc<AtomicBool>) -> std::io::Result<Self> {
            // SAFETY: timerfd_create takes two integer arguments and returns a new descriptor
            // (owned from here on) or -1.
            let fd = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: `fd` is a fresh descriptor nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            // SAFETY: an `OwnedFd` keeps its descriptor open, and always the same one, until
            // dropped, and the `AsyncFd` owns it.
            let timer =
                unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
                    .map_err(std::io::Error::from)?;
            Ok(TimerPacer {
                schedule,
                pending: None,
                timer,
                stop,
                exhausted: false,
            })
        }

        pub(super) async fn next(&mut self) -> Option<Slot> {
            loop {
                if self.stop.load(Ordering::Relaxed) || self.exhausted {
                    return None;
                }
                let slot = match self.pending {
                    Some(slot) => slot,
                    None => match self.schedule.next_slot() {
                        Some(slot) => *self.pending.insert(slot),
                        None => {
                            self.exhausted = true;
                            return None;
                        }
                    },
                };
                if let Some(deadline) = slot.deadline {
                    let now = Instant::now();
                    if now < deadline {
                        if self.sleep(deadline - now).await.is_err() {
                            // No timer (should not happen): the runtime's, 1 ms resolution.
                            tokio::time::sleep_until(deadline.into()).await;
                        }
                        continue;
                    }
                }
                // Released slots go one per call; a schedule far behind must still let the
                // worker's other tasks run between them.
                tokio::task::coop::consume_budget().await;
                return self.pending.take();
            }
        }

        /// Arm the timer `left` from now and wait for it to fire. It never fires early:
        /// `Instant` is `CLOCK_MONOTONIC` on Linux, and the timer counts from the arming.
        async fn sleep(&self, left: std::time::Duration) -> std::io::Result<()> {
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: left.as_secs() as libc::time_t,
                    // A zero value would disarm the timer.
                    tv_nsec: left.subsec_nanos().max(1) as libc::c_long,
                },
            };
            let fd = self.timer.get_ref().as_raw_fd();
            // SAFETY: `fd` is our open timerfd; `spec` is a valid itimerspec; the old value
            // is not asked for.
            if unsafe { libc::timerfd_settime(fd, 0, &spec, std::ptr::null_mut()) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            loop {
                let mut guard = self.timer.readable().await?;
                let read = guard.try_io(|inner| {
                    let mut expirations = [0u8; 8];
                    // SAFETY: reads at most 8 bytes into an 8-byte buffer.
                    let n = unsafe {
                        libc::read(inner.as_raw_fd(), expirations.as_mut_ptr().cast(), 8)
                    };
                    if n < 0 {
                        Err(std::io::Error::last_os_error())
                    } else {
                        Ok(())
                    }
                });
                match read {
                    Ok(result) => return result,
                    // Not expired yet (or a stale readiness from an earlier arming).
                    Err(_would_block) => continue,
                }
            }
        }

        pub(super) fn finish(self) -> bool {
            self.exhausted && self.schedule.count_exhausted()
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

    const KINDS: [PacerKind; 2] = [PacerKind::Timer, PacerKind::Thread];

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn open(process: OpenProcess, rate: f64) -> Load {
        Load::Open {
            process,
            rate: Rate::Fixed(rate),
            max_concurrency: None,
        }
    }

    #[test]
    fn releases_every_slot_in_order_and_never_early() {
        for kind in KINDS {
            let t0 = Instant::now() + Duration::from_millis(5);
            let load = open(OpenProcess::Poisson, 2000.0);
            let schedule = Schedule::new(&load, t0, 0, Some(200), None, 9);
            let stop = Arc::new(AtomicBool::new(false));
            let (got, exhausted) = runtime().block_on(async {
                let mut p = Pacer::start_with(kind, schedule, stop).unwrap();
                let mut got = Vec::new();
                while let Some(s) = p.next().await {
                    got.push((s, Instant::now()));
                }
                (got, p.finish())
            });
            assert_eq!(got.len(), 200, "{kind:?}");
            assert!(exhausted, "{kind:?}: the count limit ended it");
            for (i, (slot, at)) in got.iter().enumerate() {
                assert_eq!(slot.index, i as u64, "{kind:?}");
                // Released at or after its deadline (how late is a benchmark's business).
                assert!(
                    *at >= slot.deadline.unwrap(),
                    "{kind:?}: slot {i} released early"
                );
            }
        }
    }

    #[test]
    fn slots_already_due_are_released_at_once_in_order() {
        for kind in KINDS {
            // Every deadline is a second in the past.
            let t0 = Instant::now() - Duration::from_secs(1);
            let load = open(OpenProcess::Constant, 100.0);
            let schedule = Schedule::new(&load, t0, 0, Some(50), None, 1);
            let indices = runtime().block_on(async {
                let mut p = Pacer::start_with(kind, schedule, Arc::default()).unwrap();
                let mut indices = Vec::new();
                while let Some(s) = p.next().await {
                    indices.push(s.index);
                }
                indices
            });
            assert_eq!(indices, (0..50).collect::<Vec<_>>(), "{kind:?}");
        }
    }

    #[test]
    fn a_dropped_wait_loses_no_slot() {
        for kind in KINDS {
            // Slots every 20 ms from half a second on; the first waits are abandoned early.
            let t0 = Instant::now() + Duration::from_millis(500);
            let load = open(OpenProcess::Constant, 50.0);
            let schedule = Schedule::new(&load, t0, 0, Some(3), None, 1);
            let indices = runtime().block_on(async {
                let mut p = Pacer::start_with(kind, schedule, Arc::default()).unwrap();
                for _ in 0..3 {
                    let abandoned = tokio::time::timeout(Duration::from_millis(2), p.next()).await;
                    assert!(abandoned.is_err(), "{kind:?}: released before its deadline");
                }
                let mut indices = Vec::new();
                while let Some(s) = p.next().await {
                    indices.push(s.index);
                }
                indices
            });
            assert_eq!(indices, vec![0, 1, 2], "{kind:?}");
        }
    }

    #[test]
    fn stop_ends_a_long_wait_promptly() {
        for kind in KINDS {
            // The second slot is 100 s away.
            let load = open(OpenProcess::Constant, 0.01);
            let schedule = Schedule::new(&load, Instant::now(), 0, None, None, 1);
            let stop = Arc::new(AtomicBool::new(false));
            let started = Instant::now();
            runtime().block_on(async {
                let mut p = Pacer::start_with(kind, schedule, stop.clone()).unwrap();
                assert_eq!(p.next().await.unwrap().index, 0);
                // Waiting for the second slot, then dropped: the thread pacer must notice
                // the flag within MAX_SLEEP for the join to return.
                let _ = tokio::time::timeout(Duration::from_millis(5), p.next()).await;
                assert!(!p.finish(), "{kind:?}: stopped, not exhausted");
            });
            assert!(started.elapsed() < Duration::from_secs(10), "{kind:?}");
        }
    }

    #[test]
    fn the_timer_is_the_default_on_linux_inside_a_runtime() {
        let in_rt = runtime().block_on(async { PacerKind::from_env() });
        let thread_asked = std::env::var_os("FRONTIER_PACER").is_some_and(|v| v == "thread");
        if cfg!(target_os = "linux") && !thread_asked {
            assert_eq!(in_rt, PacerKind::Timer);
        }
        assert_eq!(PacerKind::from_env(), PacerKind::Thread, "no runtime here");
    }
}
