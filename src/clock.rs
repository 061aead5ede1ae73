//! The run's monotonic clock. Every timestamp in `requests.parquet` is nanoseconds since the
//! run's epoch on this clock, so differences are immune to wall-clock jumps.

use std::time::Instant;

/// A monotonic epoch shared by every task of a run.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    /// A clock whose epoch is now.
    pub fn start() -> Self {
        Clock {
            epoch: Instant::now(),
        }
    }

    /// The epoch.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Nanoseconds from the epoch to `t` (0 if `t` is before the epoch).
    pub fn ns(&self, t: Instant) -> i64 {
        t.saturating_duration_since(self.epoch).as_nanos() as i64
    }

    /// Nanoseconds from the epoch to now.
    pub fn now_ns(&self) -> i64 {
        self.ns(Instant::now())
    }
}
