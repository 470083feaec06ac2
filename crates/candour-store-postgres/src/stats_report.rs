//! Site statistics on PostgreSQL, the reading side.
//!
//! PLACEHOLDER on the `stats-core` branch only: every method answers an error until the
//! dashboard's implementation replaces this file.

use async_trait::async_trait;
use candour_core::stats::{Dimension, Filter, Grain, HistoryRow, Range, Row, Summary};
use candour_core::store::{StatsReportStore, StoreError, StoreResult};

use crate::PgStore;

fn not_yet() -> StoreError {
    StoreError::Refused("statistics reports are not implemented yet".to_owned())
}

#[async_trait]
impl StatsReportStore for PgStore {
    async fn stats_summary(
        &self,
        _range: Range,
        _grain: Grain,
        _filter: Option<&Filter>,
    ) -> StoreResult<Summary> {
        Err(not_yet())
    }

    async fn stats_breakdown(
        &self,
        _range: Range,
        _dimension: Dimension,
        _filter: Option<&Filter>,
        _limit: u32,
    ) -> StoreResult<Vec<Row>> {
        Err(not_yet())
    }

    async fn import_history(&self, _rows: &[HistoryRow]) -> StoreResult<u64> {
        Err(not_yet())
    }
}
