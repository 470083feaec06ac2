//! The campaign worker's counters for the metrics endpoint. They cost nothing when no
//! recorder is installed (metrics off).

use candour_core::campaign::{DeliveryResult, FinishedDelivery};

/// Count outcomes once they are recorded in the database: messages by outcome (`sent`,
/// `retry`, `failed`, `skipped`), and the times a message's final `.` went to the relay
/// (more hand-overs than sent messages means copies the relay may hold twice).
pub(crate) fn recorded(finished: &[FinishedDelivery]) {
    for f in finished {
        let outcome = match f.result {
            DeliveryResult::Sent { .. } => "sent",
            DeliveryResult::Retry { .. } => "retry",
            DeliveryResult::Failed { .. } => "failed",
            DeliveryResult::Skipped { .. } => "skipped",
        };
        metrics::counter!("candour_campaign_messages_total", "outcome" => outcome).increment(1);
        metrics::counter!("candour_campaign_handovers_total").increment(u64::from(f.handed_over));
    }
}
