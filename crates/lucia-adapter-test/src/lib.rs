//! The conformance suite for lucia adapters: every case of Lucia v2's
//! `@lucia-auth/adapter-test` 4.1.1 (34 adapter cases, 10 session-adapter cases) plus the
//! cases it missed (duplicate user and session ids, updates of missing rows, empty partial
//! updates, unknown columns, dead-session sweeps).
//!
//! An adapter's tests provide a [`Fixture`] (a fresh, empty store per case, with raw access to
//! its tables that does not go through the adapter) and expand [`adapter_tests!`] or
//! [`session_adapter_tests!`], which generate one `#[tokio::test]` per case, named after it:
//!
//! ```ignore
//! mod sqlite {
//!     lucia_adapter_test::adapter_tests!(crate::common::sqlite_fixture());
//! }
//! ```
//!
//! `crates/lucia-adapter-sea-orm/tests/common/mod.rs` in this repository is a complete
//! fixture: a SQLite file, PostgreSQL schema or MariaDB database per case, raw table access
//! through typed SeaORM entities, and teardown.
//!
//! The test tables must have exactly these columns (rows are compared whole):
//! user `id, username` (unique); key `id, user_id, hashed_password` (nullable);
//! session `id, user_id, active_expires, idle_expires, country`. For
//! [`session_adapter_tests!`], the session table must not have a foreign key to users.

#![deny(missing_docs)]

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use lucia::{AttributeMap, DatabaseKey, DatabaseSession, DatabaseUser};
use serde_json::json;

pub mod session_adapter;
pub mod user_adapter;

#[doc(hidden)]
pub mod __private {
    pub use tokio;
}

/// Raw access to the test tables, written by the adapter's author without the adapter (so
/// the suite can check what the adapter really wrote). Methods panic on failure.
pub trait TestDatabase: Send + Sync {
    /// Every row of the user table.
    fn users(&self) -> impl Future<Output = Vec<DatabaseUser>> + Send;
    /// Inserts a user row.
    fn insert_user(&self, user: &DatabaseUser) -> impl Future<Output = ()> + Send;
    /// Every row of the key table.
    fn keys(&self) -> impl Future<Output = Vec<DatabaseKey>> + Send;
    /// Inserts a key row.
    fn insert_key(&self, key: &DatabaseKey) -> impl Future<Output = ()> + Send;
    /// Every row of the session table.
    fn sessions(&self) -> impl Future<Output = Vec<DatabaseSession>> + Send;
    /// Inserts a session row.
    fn insert_session(&self, session: &DatabaseSession) -> impl Future<Output = ()> + Send;
}

/// A fresh, empty store for one test case.
pub trait Fixture: Send + Sync + 'static {
    /// The adapter under test.
    type Adapter: Send + Sync;
    /// Raw access to its tables.
    type Database: TestDatabase;
    /// The adapter under test.
    fn adapter(&self) -> &Self::Adapter;
    /// Raw access to its tables.
    fn database(&self) -> &Self::Database;
    /// Removes the store (drop the schema, database or file); runs even if the case failed.
    fn teardown(&self) -> impl Future<Output = ()> + Send;
}

/// Runs one case on a fixture, tears the fixture down whatever happened, then re-raises a
/// failure. A `None` fixture (its backend is not configured) skips the case. Used by the
/// generated tests.
#[doc(hidden)]
pub async fn run_case<F, Fut>(fixture: Option<F>, case: impl FnOnce(std::sync::Arc<F>) -> Fut)
where
    F: Fixture,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(fixture) = fixture else { return };
    let fixture = std::sync::Arc::new(fixture);
    let outcome = tokio::spawn(case(std::sync::Arc::clone(&fixture))).await;
    fixture.teardown().await;
    if let Err(error) = outcome {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("test case did not finish: {error}"),
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A test user: `{ id: 8 random chars, username: 4 random chars }`, as Lucia's suite makes.
pub fn generate_user() -> DatabaseUser {
    DatabaseUser {
        id: lucia::generate_random_string(8),
        attributes: attributes(json!({ "username": lucia::generate_random_string(4) })),
    }
}

/// A test session of `user_id` (or of a random, nonexistent user): active 8 hours, then idle
/// 24 hours, `country: "XX"`.
pub fn generate_session(user_id: Option<&str>) -> DatabaseSession {
    let active_expires = now_ms() + 8 * 60 * 60 * 1000;
    DatabaseSession {
        id: format!("at_{}", lucia::generate_random_string(40)),
        user_id: user_id.map_or_else(|| lucia::generate_random_string(8), str::to_owned),
        active_expires,
        idle_expires: active_expires + 24 * 60 * 60 * 1000,
        attributes: attributes(json!({ "country": "XX" })),
    }
}

/// A test key of `user_id` (or of a random, nonexistent user), without password.
pub fn generate_key(user_id: Option<&str>) -> DatabaseKey {
    DatabaseKey {
        id: lucia::generate_random_string(30),
        user_id: user_id.map_or_else(|| lucia::generate_random_string(8), str::to_owned),
        hashed_password: None,
    }
}

/// The id the suite looks up when it expects nothing.
pub const INVALID_ID: &str = "*";

fn attributes(value: serde_json::Value) -> AttributeMap {
    match value {
        serde_json::Value::Object(map) => map,
        _ => AttributeMap::new(),
    }
}

/// Sorts rows by id, so that table contents compare regardless of row order.
fn sorted<T>(mut rows: Vec<T>, id: impl Fn(&T) -> &str) -> Vec<T> {
    rows.sort_by(|a, b| id(a).cmp(id(b)));
    rows
}

/// Generates one `#[tokio::test]` per case for a full [`Adapter`](lucia::Adapter): every
/// user-adapter case of Lucia's suite and this suite's additions.
///
/// `$fixture` is an expression evaluating to a future of `Option<F>`, where `F` is a
/// [`Fixture`] whose `Adapter` implements [`lucia::Adapter`]; `None` skips the case (for
/// example when the backend's server is not configured). The calling crate needs `tokio` with the `macros` and `rt`
/// features as a dev-dependency.
#[macro_export]
macro_rules! adapter_tests {
    ($fixture:expr) => {
        $crate::__generate_cases!(
            $fixture,
            user_adapter,
            [
                get_user_returns_target_user,
                get_user_returns_none_if_invalid_target_user_id,
                set_user_inserts_user_only,
                set_user_inserts_user_and_key,
                set_user_errors_duplicate_key_id_on_duplicate_key_id,
                set_user_does_not_insert_key_if_errors,
                delete_user_deletes_target_user,
                delete_user_does_not_error_on_invalid_user_id,
                update_user_updates_user_username_field,
                get_key_returns_target_key,
                get_key_returns_none_if_invalid_target_key_id,
                set_key_inserts_key,
                set_key_errors_duplicate_key_id_on_duplicate_key_id,
                set_key_optionally_errors_invalid_user_id_on_invalid_user_id,
                update_key_updates_key_hashed_password_field,
                get_keys_by_user_id_returns_keys_with_target_user_id,
                get_keys_by_user_id_returns_empty_if_none_matches_target,
                delete_keys_by_user_id_deletes_keys_with_target_user_id,
                delete_keys_by_user_id_does_not_error_on_invalid_user_id,
                delete_key_deletes_target_key,
                delete_key_does_not_error_on_invalid_key_id,
                get_session_returns_target_session,
                get_session_returns_none_if_invalid_target_session_id,
                get_sessions_by_user_id_returns_sessions_with_target_user_id,
                get_sessions_by_user_id_returns_empty_if_none_matches_target,
                set_session_inserts_session,
                set_session_optionally_errors_invalid_user_id_on_invalid_user_id,
                delete_session_deletes_target_session,
                delete_session_does_not_error_on_invalid_session_id,
                delete_sessions_by_user_id_deletes_sessions_with_target_user_id,
                delete_sessions_by_user_id_does_not_error_on_invalid_user_id,
                update_session_updates_session_country_field,
                get_session_and_user_returns_target_session_and_user,
                get_session_and_user_returns_none_if_invalid_target_session_id,
                extra_set_user_errors_duplicate_user_id_without_key,
                extra_set_user_errors_duplicate_user_id_not_duplicate_key_id,
                extra_set_user_errors_duplicate_attribute_on_unique_attribute,
                extra_set_user_rejects_unknown_column_and_writes_nothing,
                extra_set_key_with_password_round_trips,
                extra_set_session_errors_duplicate_session_id,
                extra_updates_of_missing_rows_change_nothing,
                extra_empty_partial_updates_change_nothing,
                extra_update_session_sets_expiries,
                extra_delete_dead_sessions_by_user_id_keeps_live_and_boundary,
                extra_delete_dead_sessions_sweeps_every_user,
                extra_get_session_and_user_ignores_other_sessions,
                extra_ids_are_case_sensitive,
                extra_concurrent_sign_ups_for_one_key_have_one_winner,
            ]
        );
    };
}

/// Generates one `#[tokio::test]` per case for a [`SessionAdapter`](lucia::SessionAdapter):
/// every session-adapter case of Lucia's suite and this suite's additions. The session table
/// must accept sessions of users that do not exist.
#[macro_export]
macro_rules! session_adapter_tests {
    ($fixture:expr) => {
        $crate::__generate_cases!(
            $fixture,
            session_adapter,
            [
                get_session_returns_target_session,
                get_session_returns_none_if_invalid_target_session_id,
                get_sessions_by_user_id_returns_sessions_with_target_user_id,
                get_sessions_by_user_id_returns_empty_if_none_matches_target,
                set_session_inserts_session,
                delete_session_deletes_target_session,
                delete_session_does_not_error_on_invalid_session_id,
                delete_sessions_by_user_id_deletes_sessions_with_target_user_id,
                delete_sessions_by_user_id_does_not_error_on_invalid_user_id,
                update_session_updates_session_country_field,
                extra_set_session_errors_duplicate_session_id,
                extra_update_session_of_missing_row_changes_nothing,
                extra_empty_partial_update_changes_nothing,
                extra_delete_dead_sessions_by_user_id_keeps_live_and_boundary,
            ]
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __generate_cases {
    ($fixture:expr, $module:ident, [$($case:ident),* $(,)?]) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::run_case($fixture.await, |fixture| async move {
                    $crate::$module::$case($crate::Fixture::adapter(&*fixture), $crate::Fixture::database(&*fixture)).await
                })
                .await;
            }
        )*
    };
}
