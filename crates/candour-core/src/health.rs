//! What the health and metrics endpoints report about the database.

/// One connection pool's use at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// Which pool: `main` on PostgreSQL; `writer` and `reader` on SQLite.
    pub pool: &'static str,
    /// Connections open, busy or idle.
    pub size: u32,
    /// Connections open and waiting for work.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}
