//! The behaviour of `Lucia` itself (every method and error path, the races between sign-in
//! and revocation, the fixed differences from Lucia v2), written once and run on every store:
//! `crates/lucia/tests/behaviour_memory.rs` runs it on `lucia::memory::MemoryAdapter`, and
//! `crates/lucia-adapter-sea-orm/tests/lucia.rs` on SQLite, PostgreSQL and MariaDB/MySQL.
//!
//! A runner implements [`Fixture`] (a fresh, empty store per test, raw access to its rows, and
//! what the store can do) and expands [`behaviour_tests!`] in a module named after the store,
//! which generates one `#[tokio::test]` per case on a multi-threaded runtime.
//!
//! The store's tables are the conformance suite's: user `id, username` (unique), key
//! `id, user_id, hashed_password`, session `id, user_id, active_expires, idle_expires,
//! country`. Time is a test clock, so expiry boundaries are exact.

#![allow(dead_code)] // each runner uses its own part of the support code

pub mod bad_input;
pub mod differences;
pub mod keys;
pub mod races;
pub mod second_factor;
pub mod sessions;
pub mod support;
pub mod throttle;
pub mod tokens;
pub mod users;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use lucia::{
    Adapter, CreateSession, CreateUser, DatabaseSession, Lucia, LuciaBuilder, NewKey, NewSession, PasswordPolicy,
};
use lucia_adapter_test::TestDatabase;
use serde::{Deserialize, Serialize};

pub use support::{FastHasher, Probe};

/// A fresh, empty store for one test.
pub trait Fixture: Send + Sync + Sized + 'static {
    /// The adapter under test.
    type Adapter: Adapter + Clone + 'static;
    /// Raw access to the store's rows, not through the adapter.
    type Database: TestDatabase + 'static;

    /// A handle on the adapter (clones share the store).
    fn adapter(&self) -> Self::Adapter;
    /// Raw access to the rows.
    fn database(&self) -> &Self::Database;
    /// Whether the store has a schema that refuses unknown attribute columns, values of the
    /// wrong type, missing `NOT NULL` columns and text no column can hold (NUL).
    fn has_schema(&self) -> bool;
    /// Makes every delete from `table` fail inside the database (a trigger), to show that a
    /// multi-statement operation rolls back. Returns `false` if the store cannot (the memory
    /// store, whose every operation is atomic by construction).
    fn fail_deletes(&self, table: Table) -> impl Future<Output = bool> + Send;
    /// Undoes [`fail_deletes`](Self::fail_deletes).
    fn allow_deletes(&self, table: Table) -> impl Future<Output = ()> + Send;
    /// Removes the store; runs even if the test failed.
    fn teardown(&self) -> impl Future<Output = ()> + Send;
}

/// One of the three tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `test_user`.
    User,
    /// `user_key`.
    Key,
    /// `user_session`.
    Session,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserAttributes {
    pub username: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionAttributes {
    pub country: String,
}

/// `Lucia` with the test attribute types.
pub type Auth<A> = Lucia<A, UserAttributes, SessionAttributes>;
/// What `create_session` and `sign_in` return in these tests.
pub type Created = NewSession<UserAttributes, SessionAttributes>;

pub const DAY: i64 = 86_400_000;
pub const START: i64 = 1_795_655_076_154;

/// A test's store, a `Lucia` over it (hashed tokens, [`FastHasher`], a password policy of one
/// character at least) and the clock.
pub struct Ctx<F: Fixture> {
    pub fixture: Arc<F>,
    pub auth: Auth<F::Adapter>,
    clock: Arc<AtomicI64>,
}

impl<F: Fixture> Ctx<F> {
    fn new(fixture: Arc<F>) -> Self {
        let clock = Arc::new(AtomicI64::new(START));
        let auth = configure(fixture.adapter(), &clock).build();
        Self { fixture, auth, clock }
    }

    /// Raw access to the rows.
    pub fn db(&self) -> &F::Database {
        self.fixture.database()
    }

    /// Another handle on the store's adapter.
    pub fn adapter(&self) -> F::Adapter {
        self.fixture.adapter()
    }

    /// The adapter wrapped in a [`Probe`] (hooks, failures on demand).
    pub fn probe(&self) -> Probe<F::Adapter> {
        Probe::new(self.adapter())
    }

    /// A builder over any adapter with this test's clock and [`FastHasher`].
    pub fn builder<A: Adapter>(&self, adapter: A) -> LuciaBuilder<A, UserAttributes, SessionAttributes> {
        configure(adapter, &self.clock)
    }

    pub fn now(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }

    pub fn set_now(&self, ms: i64) {
        self.clock.store(ms, Ordering::SeqCst);
    }

    /// The session rows of one user.
    pub async fn sessions_of(&self, user_id: &str) -> Vec<DatabaseSession> {
        self.db().sessions().await.into_iter().filter(|s| s.user_id == user_id).collect()
    }
}

fn configure<A: Adapter>(adapter: A, clock: &Arc<AtomicI64>) -> LuciaBuilder<A, UserAttributes, SessionAttributes> {
    let clock = Arc::clone(clock);
    Lucia::builder(adapter)
        .clock(move || UNIX_EPOCH + Duration::from_millis(clock.load(Ordering::SeqCst) as u64))
        .password_hasher(FastHasher::default())
        // The cases use short passwords ("pw", "old", "new") to stay readable; the default
        // policy (8 characters) has cases of its own (`keys::password_policy_*`).
        .password_policy(PasswordPolicy::new().min_length(1))
        .user_attributes::<UserAttributes>()
        .session_attributes::<SessionAttributes>()
}

/// Runs one test on a fresh store (skipped when `fixture` is `None`: its server is not
/// configured), tears the store down whatever happened, then re-raises a failure. A test that
/// hangs (a deadlock) fails after two minutes instead of blocking the run.
pub async fn run<F, Test, Done>(fixture: Option<F>, test: Test)
where
    F: Fixture,
    Test: FnOnce(Arc<Ctx<F>>) -> Done,
    Done: Future<Output = ()> + Send + 'static,
{
    let Some(fixture) = fixture else { return };
    let fixture = Arc::new(fixture);
    let ctx = Arc::new(Ctx::new(Arc::clone(&fixture)));
    let case = test(ctx);
    let outcome = tokio::spawn(async move {
        if tokio::time::timeout(Duration::from_secs(120), case).await.is_err() {
            panic!("the test did not finish within two minutes (a deadlock?)");
        }
    })
    .await;
    fixture.teardown().await;
    if let Err(error) = outcome {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("the test did not finish: {error}"),
        }
    }
}

/// One `#[tokio::test]` per case, on a two-thread runtime, for the fixture that `$fixture`
/// (a future of `Option<impl Fixture>`) gives. Expand it in a module named after the store.
macro_rules! behaviour_tests {
    ($fixture:expr) => {
        crate::behaviour::behaviour_tests!(@cases $fixture;
            users::create_user_with_key_and_sign_in,
            users::create_user_without_key,
            users::create_user_duplicate_key_writes_nothing,
            users::create_user_duplicate_user_id_is_not_a_duplicate_key,
            users::create_user_taken_username_is_duplicate_attribute,
            users::create_user_invalid_provider_id_writes_nothing,
            users::custom_user_ids_are_kept_verbatim,
            users::get_user_unknown_is_invalid_user_id,
            users::update_user_attributes_partial_empty_and_errors,
            users::delete_user_removes_sessions_keys_and_user,
            users::attributes_that_are_not_columns_are_rejected,
            users::ids_no_store_can_hold_are_typed_errors,
            bad_input::bad_input_is_a_typed_error_and_writes_nothing,
            keys::use_key_rejects_wrong_missing_and_extra_passwords,
            keys::keys_create_get_list_update_delete,
            keys::key_ids_are_case_sensitive_and_split_on_first_colon,
            keys::outdated_bcrypt_hash_is_outdated_password,
            keys::custom_hasher_upgrades_outdated_hashes_on_sign_in,
            keys::hash_upgrade_does_not_undo_a_password_change,
            keys::concurrent_hash_upgrades_do_not_fail_sign_in,
            keys::change_password_sets_the_password_and_ends_every_session,
            keys::update_key_password_keeps_sessions,
            keys::hasher_failures_are_typed_errors_and_write_nothing,
            keys::default_hasher_upgrades_lucia_v2_hashes_on_sign_in,
            keys::wrong_password_leaves_an_outdated_hash_alone,
            keys::failed_hash_upgrade_does_not_fail_sign_in,
            keys::password_policy_applies_to_every_new_password,
            keys::oversized_passwords_are_refused_before_hashing,
            keys::busy_hashing_is_a_typed_error_and_writes_nothing,
            sessions::hashed_mode_stores_the_sha256_of_the_token,
            sessions::compat_mode_stores_the_token,
            sessions::debug_output_holds_no_credentials,
            sessions::sign_in_starts_a_live_session,
            sessions::create_session_sets_lucia_expiries,
            sessions::create_session_for_unknown_user_writes_nothing,
            sessions::validate_active_session_does_not_write,
            sessions::validate_idle_session_renews_it_as_active,
            sessions::expiry_boundaries_are_inclusive,
            sessions::dead_sessions_are_rejected_and_kept,
            sessions::get_session_does_not_renew,
            sessions::get_all_user_sessions_lists_live_sessions_by_handle,
            sessions::invalidate_user_session_only_for_the_owner,
            sessions::update_session_attributes_partial_and_dead,
            sessions::update_session_attributes_of_a_dead_session_writes_nothing,
            sessions::invalidate_sessions,
            sessions::sweeps_keep_sessions_dead_for_less_than_a_minute,
            sessions::bad_tokens_are_rejected_before_the_database,
            sessions::session_cookies,
            sessions::custom_session_periods,
            sessions::store_failures_are_database_errors,
            sessions::sign_in_removes_its_placeholder_when_the_store_fails,
            races::change_password_racing_sign_in_at_every_step,
            races::sign_out_everywhere_racing_sign_in_at_every_step,
            races::delete_user_racing_sign_in_at_every_step,
            races::sign_in_gives_up_after_three_revocations,
            races::sign_in_placeholder_survives_a_sweep,
            races::race_sign_ins_against_change_password,
            races::race_sign_ins_against_sign_out_everywhere,
            races::race_sign_ins_against_delete_user,
            races::race_new_sessions_and_keys_against_delete_user,
            races::race_validations_renewing_one_session,
            races::race_validations_against_invalidate_session,
            races::change_password_and_its_revocation_are_atomic,
            races::hashing_is_bounded_when_sign_ins_are_cancelled,
            differences::v2_update_user_attributes_to_a_taken_value_is_duplicate_attribute,
            differences::v2_empty_password_is_invalid_password,
            differences::v2_missing_not_null_attribute_is_invalid_attributes,
            differences::v2_oversized_tokens_are_invalid_session_id,
            differences::v2_invalidate_session_of_oversized_or_unknown_token_is_ok,
            differences::v2_create_key_for_unknown_user_is_invalid_user_id,
            differences::v2_delete_user_is_atomic,
            differences::v2_lucia_column_names_are_not_attributes,
            throttle::throttle_wrong_passwords_then_wait_without_hashing_or_lookup,
            throttle::throttle_unknown_keys_like_known_ones,
            throttle::throttle_is_not_sidestepped_by_ids_a_collation_equates,
            throttle::throttle_skips_keys_without_password,
            throttle::a_password_on_a_passwordless_key_costs_a_hash_like_an_unknown_key,
            throttle::throttle_holds_against_concurrent_guesses,
            throttle::throttle_is_cleared_by_a_password_change,
            throttle::throttle_can_be_configured_or_turned_off,
            throttle::throttle_store_failures_refuse_the_sign_in,
        );
    };
    (@cases $fixture:expr; $($group:ident :: $case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                crate::behaviour::run($fixture.await, |ctx| async move {
                    crate::behaviour::$group::$case(&ctx).await
                })
                .await;
            }
        )*
    };
}
pub(crate) use behaviour_tests;

/// The email verification and password-reset cases ([`tokens`]), for stores that hold
/// single-use tokens ([`lucia::TokenAdapter`]). Expand it next to [`behaviour_tests!`].
macro_rules! token_behaviour_tests {
    ($fixture:expr) => {
        crate::behaviour::behaviour_tests!(@cases $fixture;
            tokens::verify_email_sets_the_flag_and_consumes_the_code,
            tokens::verification_codes_expire,
            tokens::verification_tries_are_limited,
            tokens::concurrent_guesses_cannot_exceed_the_tries,
            tokens::a_new_code_replaces_the_old_one,
            tokens::issuing_codes_is_throttled_per_user,
            tokens::a_code_for_an_old_address_does_not_verify_the_new_one,
            tokens::change_email_revokes_tokens_moves_the_key_and_unverifies,
            tokens::password_reset_sets_the_password_ends_sessions_and_verifies,
            tokens::a_reset_verifies_only_the_address_it_was_sent_to,
            tokens::a_code_is_not_a_reset_link,
            tokens::password_reset_issues_nothing_for_unknown_or_passwordless_addresses,
            tokens::password_reset_can_set_a_username_key_found_by_address,
            tokens::a_reset_request_touches_no_store_before_the_answer,
            tokens::a_failed_change_of_address_takes_its_new_key_back,
            tokens::a_sent_link_cannot_be_replaced_for_15_minutes,
            tokens::a_stored_link_with_an_expiry_out_of_range_is_replaced,
            tokens::a_reset_that_fails_to_set_the_password_gives_the_link_back,
            tokens::a_reset_racing_a_change_of_address_sets_no_password,
            tokens::password_reset_is_throttled_per_address_known_or_not,
            tokens::reset_links_live_an_hour_at_most,
            tokens::a_rejected_new_password_leaves_the_link_usable,
            tokens::concurrent_redemptions_of_a_link_have_one_winner,
            tokens::expired_tokens_are_swept,
            tokens::deleting_a_user_with_tokens_removes_them,
            tokens::bad_input_is_a_typed_error,
            bad_input::bad_token_input_is_a_typed_error_and_writes_nothing,
        );
    };
}
pub(crate) use token_behaviour_tests;

/// The second-factor cases ([`second_factor`]), for stores that hold TOTP rows and recovery
/// codes ([`lucia::SecondFactorAdapter`]). Expand it next to [`behaviour_tests!`].
macro_rules! second_factor_behaviour_tests {
    ($fixture:expr) => {
        crate::behaviour::behaviour_tests!(@cases $fixture;
            second_factor::enrol_confirm_and_sign_in_in_two_steps,
            second_factor::a_pending_sign_in_is_no_session_in_compat_mode,
            second_factor::totp_codes_are_single_use_within_a_window_of_one_step,
            second_factor::recovery_codes_are_single_use_and_regeneration_voids_the_old_set,
            second_factor::second_factor_attempts_are_throttled_per_user,
            second_factor::pending_sign_ins_expire_and_are_limited_in_tries,
            second_factor::concurrent_completions_of_one_pending_sign_in_have_one_winner,
            second_factor::secrets_are_sealed_to_their_user_and_key,
            second_factor::disabling_needs_a_code_and_restores_password_sign_in,
            second_factor::deleting_a_user_removes_its_second_factor,
            second_factor::without_settings_second_factor_methods_are_a_typed_error,
        );
    };
}
pub(crate) use second_factor_behaviour_tests;

// ---- helpers shared by the cases ----------------------------------------------------------

/// Fails unless `$result` is `Err` matching `$pattern`.
macro_rules! assert_err {
    ($result:expr, $pattern:pat) => {
        match $result {
            Err($pattern) => {}
            other => panic!("expected {}, got {other:?}", stringify!($pattern)),
        }
    };
}
pub(crate) use assert_err;

pub fn user(username: &str) -> UserAttributes {
    UserAttributes { username: username.into() }
}

pub fn xx() -> SessionAttributes {
    SessionAttributes { country: "XX".into() }
}

pub fn email_key(address: &str, password: &str) -> NewKey {
    NewKey::password("email", address, password)
}

/// A user without key; returns its id.
pub async fn new_user<A: Adapter>(auth: &Auth<A>, username: &str) -> String {
    auth.create_user(CreateUser::new(user(username))).await.unwrap().user_id
}

/// A user with an `email` key `<username>@example.com` and this password; returns its id.
pub async fn new_user_with_password<A: Adapter>(auth: &Auth<A>, username: &str, password: &str) -> String {
    let key = email_key(&format!("{username}@example.com"), password);
    auth.create_user(CreateUser::new(user(username)).with_key(key)).await.unwrap().user_id
}

pub async fn new_session<A: Adapter>(auth: &Auth<A>, user_id: &str) -> Created {
    auth.create_session(CreateSession::new(user_id, xx())).await.unwrap()
}

/// The session table's id for a token in the default (hashed) mode.
pub fn stored_id(created: &Created) -> String {
    lucia::SessionTokens::Hashed.stored_id(created.token.expose_secret())
}

pub fn token(created: &Created) -> &str {
    created.token.expose_secret()
}

/// Lucia's rule: alive until `idle_expires` inclusive.
pub fn is_live(row: &DatabaseSession, now: i64) -> bool {
    now <= row.idle_expires
}

pub fn attribute_map(value: serde_json::Value) -> lucia::AttributeMap {
    value.as_object().cloned().expect("a JSON object")
}
