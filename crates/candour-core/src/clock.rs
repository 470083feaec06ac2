//! Time is passed in, never read, so expiries and deadlines can be tested.

use time::OffsetDateTime;

/// A source of the current time. The binary supplies the system clock; tests supply
/// [`FixedClock`].
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// A clock that always answers the same instant (for tests and reproducible documents).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

/// A clock that tests move forward by hand, to reach expiries without waiting.
#[derive(Debug)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn starting_at(t: OffsetDateTime) -> ManualClock {
        ManualClock(std::sync::atomic::AtomicI64::new(t.unix_timestamp()))
    }

    pub fn now_at(&self) -> OffsetDateTime {
        self.now()
    }

    pub fn now_unix(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn advance(&self, by: time::Duration) {
        self.0
            .fetch_add(by.whole_seconds(), std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        let secs = self.0.load(std::sync::atomic::Ordering::SeqCst);
        OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}
