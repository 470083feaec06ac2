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
