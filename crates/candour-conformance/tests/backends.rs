#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
//! Runs every conformance case on SQLite (always) and PostgreSQL (when
//! `CANDOUR_TEST_POSTGRES_URL` names a server when the tests are built; each test gets a
//! database of its own). Without one, the PostgreSQL cases are listed as ignored, with the
//! reason, and the summary line counts them (see `build.rs`).

use candour_store_postgres::PgStore;
use candour_store_sqlite::SqliteStore;

struct SqliteDb {
    _dir: tempfile::TempDir,
    store: SqliteStore,
}

async fn sqlite() -> SqliteDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    SqliteDb { _dir: dir, store }
}

/// A fresh database on the server named by `CANDOUR_TEST_POSTGRES_URL`, dropped afterwards.
struct PgDb {
    admin_url: String,
    name: String,
    store: PgStore,
}

fn postgres_url() -> Option<String> {
    match std::env::var("CANDOUR_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            // In CI the PostgreSQL run must really happen; a silent skip would hide a gap.
            assert!(
                std::env::var("CANDOUR_REQUIRE_POSTGRES").is_err(),
                "CANDOUR_REQUIRE_POSTGRES is set but CANDOUR_TEST_POSTGRES_URL is not"
            );
            None
        }
    }
}

async fn postgres(admin_url: String) -> PgDb {
    use rand::Rng;
    let name = format!("candour_test_{:016x}", rand::rng().random::<u64>());
    let admin = PgStore::admin(&admin_url).await.unwrap();
    admin.create_database(&name).await.unwrap();
    admin.close().await;
    let url = PgStore::url_with_database(&admin_url, &name);
    let store = PgStore::connect(&url).await.unwrap();
    PgDb {
        admin_url,
        name,
        store,
    }
}

impl PgDb {
    async fn drop_database(self) {
        self.store.close().await;
        let admin = PgStore::admin(&self.admin_url).await.unwrap();
        admin.drop_database(&self.name).await.unwrap();
        admin.close().await;
    }
}

/// A fresh PostgreSQL database, or `None` (saying so) when no server is named.
async fn postgres_db() -> Option<PgDb> {
    let Some(url) = postgres_url() else {
        eprintln!("CANDOUR_TEST_POSTGRES_URL is not set: PostgreSQL case not run");
        return None;
    };
    Some(postgres(url).await)
}

impl SqliteDb {
    /// A second store on the same file, as another process would open it.
    async fn another(&self) -> SqliteStore {
        let url = format!("sqlite://{}", self._dir.path().join("test.db").display());
        SqliteStore::open(&url).await.unwrap()
    }
}

impl PgDb {
    /// A second store on the same database, as another instance would open it.
    async fn another(&self) -> PgStore {
        PgStore::connect(&PgStore::url_with_database(&self.admin_url, &self.name))
            .await
            .unwrap()
    }
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = super::sqlite().await;
                    candour_conformance::$case(&db.store.stores()).await;
                    db.store.close().await;
                }
            )*
        }
        mod postgres_backend {
            $(
                #[tokio::test]
                #[cfg_attr(not(postgres_tests), ignore = "set CANDOUR_TEST_POSTGRES_URL to run it on PostgreSQL")]
                async fn $case() {
                    let Some(db) = super::postgres_db().await else { return };
                    candour_conformance::$case(&db.store.stores()).await;
                    db.drop_database().await;
                }
            )*
        }
    };
}

/// Cases for two instances on one database.
macro_rules! conformance_two_instances {
    ($($case:ident),* $(,)?) => {
        mod sqlite_two_instances {
            $(
                #[tokio::test]
                async fn $case() {
                    let db = super::sqlite().await;
                    let other = db.another().await;
                    candour_conformance::$case(&db.store.stores(), &other.stores()).await;
                    other.close().await;
                    db.store.close().await;
                }
            )*
        }
        mod postgres_two_instances {
            $(
                #[tokio::test]
                #[cfg_attr(not(postgres_tests), ignore = "set CANDOUR_TEST_POSTGRES_URL to run it on PostgreSQL")]
                async fn $case() {
                    let Some(db) = super::postgres_db().await else { return };
                    let other = db.another().await;
                    candour_conformance::$case(&db.store.stores(), &other.stores()).await;
                    other.close().await;
                    db.drop_database().await;
                }
            )*
        }
    };
}

conformance_two_instances!(instances_recognise_each_others_voters);

conformance!(
    health_ping_answers,
    health_write_check_writes_and_can_be_repeated,
    keys_are_stored_once_and_then_kept,
    racing_instances_agree_on_one_key,
    receipts_round_trip,
    a_receipt_id_is_never_reused,
    tally_counts_each_category_since_a_time,
    purge_removes_only_receipts_past_their_time,
    accounts_are_unique_by_email,
    profiles_round_trip,
    email_changes_and_verification,
    sessions_live_until_ended,
    a_password_change_ends_every_session,
    stale_sessions_are_purged,
    links_work_once_before_they_expire_for_their_purpose,
    racing_requests_use_a_link_once,
    deleting_an_account_removes_its_sessions_and_links,
    roles_and_the_staff_list,
    second_factor_steps_and_recovery_codes_are_single_use,
    the_audit_log_reads_newest_first,
    the_audit_log_filters_by_target_staff_action_and_time_in_pages,
    rate_limit_counters_count_per_key_and_window,
    rate_limit_events_can_be_taken_back,
    polls_round_trip_with_their_options_in_order,
    one_vote_per_account_and_per_anonymous_voter_per_day,
    votes_for_closed_polls_or_foreign_options_are_refused,
    options_are_locked_once_there_are_votes,
    concurrent_votes_are_counted_exactly,
    each_vote_of_a_batch_gets_its_own_outcome,
    voter_hashes_and_salts_are_forgotten_after_their_day,
    a_deleted_polls_voters_do_not_carry_over,
    repeats_are_found_across_many_days,
    the_data_map_lists_every_table,
    people_are_unique_by_email_and_editable,
    the_ledger_derives_state_from_appended_events,
    an_objection_is_absolute_except_to_the_person,
    a_submission_is_stored_whole_or_not_at_all,
    concurrent_submissions_for_one_address_make_one_person,
    imports_happen_once_and_never_override_an_objection,
    a_forms_grants_count_only_once_confirmed_from_the_address,
    preference_links_work_once_before_they_expire,
    a_person_is_linked_to_their_account,
    export_and_erasure_follow_the_data_map,
    people_out_of_touch_are_found_for_erasure,
    campaigns_change_only_as_drafts,
    a_started_campaign_queues_its_audience_once,
    racing_instances_start_a_campaign_once,
    claims_are_leased_retried_and_finished,
    the_send_time_check_reads_the_ledger_as_it_stands,
    concurrent_claims_never_share_a_message,
    tracking_is_recorded_with_consent_and_reduced_to_totals,
    withdrawing_tracking_consent_turns_the_persons_events_into_totals,
    a_large_tracking_batch_is_recorded_whole,
    a_follow_up_goes_to_tracked_recipients_who_did_not_click,
    unsubscribing_through_a_message_is_noted_once,
    erasing_a_person_unlinks_their_messages,
    a_message_sent_again_after_an_unanswered_end_is_a_possible_duplicate,
    plain_refusals_suppress_after_two_campaigns_in_a_row,
);
