//! The conformance suite for lucia adapters: every case of Lucia v2's
//! `@lucia-auth/adapter-test` 4.1.1 (34 adapter cases, 10 session-adapter cases) plus what it
//! missed: duplicate ids, unique attribute columns on insert *and* update, partial updates
//! that merge, unknown columns, values that are not strings, NULLs in unique columns, dead
//! sessions that must still be read, sessions of users that are gone, case-sensitive ids, the
//! dead-session sweeps, compare-and-set of password hashes, the combined (transactional)
//! methods of [`lucia::Adapter`], foreign keys, and races run on a multi-threaded runtime.
//!
//! # Using the suite for your adapter
//!
//! 1. Create the suite's test tables in your store (below).
//! 2. Write a [`Fixture`]: a fresh, empty store per case, the adapter over it, raw access to
//!    its tables ([`TestDatabase`]) and the [`Capabilities`] the store declares.
//! 3. Expand [`adapter_tests!`] (a full [`Adapter`](lucia::Adapter)) and/or
//!    [`session_adapter_tests!`] (a [`SessionAdapter`](lucia::SessionAdapter) holding sessions
//!    of users it does not know) in an integration test, once per store, inside a module: they
//!    generate one `#[test]` per case, named after it (`mystore::get_user_returns_target_user`).
//!
//! ```ignore
//! // tests/conformance.rs of your adapter's crate, with `lucia-adapter-test` as a
//! // dev-dependency.
//! use lucia_adapter_test::{Capabilities, Fixture, TestDatabase};
//!
//! struct MyFixture {
//!     adapter: MyAdapter,   // your adapter, over a store made for this case only
//!     raw: MyRawTables,     // your `TestDatabase`: rows in and out without `MyAdapter`
//! }
//!
//! impl Fixture for MyFixture {
//!     type Adapter = MyAdapter;
//!     type Database = MyRawTables;
//!     fn adapter(&self) -> &MyAdapter { &self.adapter }
//!     fn database(&self) -> &MyRawTables { &self.raw }
//!     // What your store enforces; the suite checks it both ways (see below).
//!     fn capabilities(&self) -> Capabilities { Capabilities::sql() }
//!     // Runs after every case, passed or failed: drop the schema, database or file.
//!     async fn teardown(&self) { /* ... */ }
//! }
//!
//! /// A fresh store with the suite's tables, or `None` to skip (no server configured).
//! async fn my_fixture() -> Option<MyFixture> { /* ... */ }
//!
//! mod mystore {
//!     lucia_adapter_test::adapter_tests!(crate::my_fixture());
//! }
//! mod mystore_sessions {
//!     lucia_adapter_test::session_adapter_tests!(crate::my_session_fixture());
//! }
//! ```
//!
//! The macros' argument is an expression evaluating to a future of `Option<F>` (`None` skips
//! the case, for example when a server is not configured). Each case runs on its own
//! multi-threaded tokio runtime (4 workers, so the race cases really race: give the store at
//! least 4 connections) and tears the fixture down whatever happened. The test crate needs no
//! tokio of its own.
//!
//! Complete fixtures in this repository: `crates/lucia-adapter-sea-orm/tests/common/mod.rs`
//! (SQLite, PostgreSQL, MariaDB: a file, schema or database per case, raw access through
//! typed SeaORM entities) and this crate's `memory` module (behind its `memory` feature:
//! fixtures for `lucia::memory::MemoryAdapter`, a schemaless store whose raw access is its own
//! public API; run by `crates/lucia/tests/memory_conformance.rs`). How well the suite catches
//! bugs is measured in `MUTANTS.md` next to this crate's `Cargo.toml`.
//!
//! ## The test tables
//!
//! | table | column | type | |
//! |---|---|---|---|
//! | user | `id` | text | primary key |
//! | | `username` | text, `NOT NULL` | unique if [`Capabilities::unique_user_attribute`] says so |
//! | | `email` | text, nullable | unique if [`Capabilities::nullable_unique_user_attribute`] says so |
//! | | `age` | 64-bit integer, nullable | |
//! | | `admin` | boolean, nullable | |
//! | key | `id`, `user_id` | text | `id` primary key; foreign key to the user if [`Capabilities::foreign_keys`] |
//! | | `hashed_password` | text, nullable | |
//! | session | `id`, `user_id` | text | `id` primary key; foreign key to the user if [`Capabilities::foreign_keys`] |
//! | | `active_expires`, `idle_expires` | 64-bit integer | milliseconds |
//! | | `country` | text, `NOT NULL` | |
//! | | `ip` | text, nullable | |
//!
//! Ids must compare case-sensitively (on MySQL/MariaDB give them a binary collation). For
//! [`session_adapter_tests!`] the session table has no foreign key. A schemaless store needs
//! no tables: it must simply store what it is given.
//!
//! Rows are compared whole, with one rule: an attribute column holding `null` and an absent
//! attribute are the same (a SQL row has every column, a schemaless one only those written).
//!
//! ## Capabilities
//!
//! [`Fixture::capabilities`] says what the store enforces, and the suite checks it **both
//! ways**: a declared constraint must be enforced with the right typed error and no write; an
//! undeclared one must not be (a store without a schema must store an unknown column, one
//! without foreign keys must accept a key of an unknown user). So a store declares exactly
//! what it does; nothing is assumed to be SQL. A SQL store with the tables above declares
//! [`Capabilities::sql`].
//!
//! ## Raw access
//!
//! [`TestDatabase`] reads and writes rows without the adapter's code paths where the store
//! allows it (SQL: typed queries on the same tables), so the suite sees what the adapter
//! really wrote. A store with no other access can implement it over its own public API (the
//! memory fixture inserts through the adapter and reads its snapshots): nothing of the
//! adapter's internals needs to be public for the suite.

#![deny(missing_docs)]

use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use lucia::{AttributeMap, DatabaseKey, DatabaseSession, DatabaseUser};
use serde_json::json;

pub mod fault_proxy;
pub mod hashing_cgroup;
#[cfg(feature = "memory")]
pub mod memory;
#[cfg(feature = "oidc-provider")]
pub mod oidc_provider;
pub mod passkey_adapter;
pub mod second_factor_adapter;
pub mod session_adapter;
pub mod token_adapter;
pub mod user_adapter;

#[doc(hidden)]
pub mod __private {
    pub use tokio;

    /// Runs one case on a fresh multi-threaded runtime (4 workers: the race cases race).
    pub fn block_on<T>(future: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .expect("cannot build a tokio runtime")
            .block_on(future)
    }
}

/// Raw access to the test tables, written by the adapter's author without the adapter where
/// the store allows it (so the suite can check what the adapter really wrote). Methods panic
/// on failure. Rows read back may leave out attributes that are `null`.
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

/// What a store enforces, which selects what the suite expects (see the
/// [crate documentation](crate#capabilities)). Build it with [`Capabilities::none`] or
/// [`Capabilities::sql`] and the builder methods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The `NOT NULL` user column the store keeps unique (`Some("username")`): a taken value
    /// on insert or update is `DuplicateAttribute { column: Some("username") }` and writes
    /// nothing. `None`: duplicates are stored.
    pub unique_user_attribute: Option<&'static str>,
    /// The nullable user column the store keeps unique (`Some("email")`): taken values clash
    /// as above, `null`s never clash. `None`: duplicates are stored.
    pub nullable_unique_user_attribute: Option<&'static str>,
    /// The store has a schema: an attribute that names no column, or a value the column cannot
    /// hold (text in `age`), is `InvalidAttributes` and writes nothing. `false`: any attribute
    /// is stored and read back as given.
    pub schema: bool,
    /// Keys and sessions must belong to a stored user: one of an unknown user is
    /// `InvalidUserId` and writes nothing, and deleting a user that still has keys or
    /// sessions either fails and changes nothing or deletes them too. `false`: keys and
    /// sessions of unknown users are stored, and `delete_user` deletes only the user.
    pub foreign_keys: bool,
}

impl Capabilities {
    /// Nothing enforced beyond unique ids: a schemaless store without foreign keys.
    pub const fn none() -> Self {
        Self { unique_user_attribute: None, nullable_unique_user_attribute: None, schema: false, foreign_keys: false }
    }

    /// A SQL store with the suite's tables: `username` and `email` unique, a schema, foreign
    /// keys.
    pub const fn sql() -> Self {
        Self::none().unique_user_attribute("username").nullable_unique_user_attribute("email").schema().foreign_keys()
    }

    /// Declares `username` unique (the only `NOT NULL` text column of the suite's user table).
    ///
    /// # Panics
    /// If `column` is not `"username"`.
    #[must_use]
    pub const fn unique_user_attribute(mut self, column: &'static str) -> Self {
        assert!(eq(column, "username"), "the suite's NOT NULL unique user column is `username`");
        self.unique_user_attribute = Some(column);
        self
    }

    /// Declares `email` unique (the suite's nullable text column).
    ///
    /// # Panics
    /// If `column` is not `"email"`.
    #[must_use]
    pub const fn nullable_unique_user_attribute(mut self, column: &'static str) -> Self {
        assert!(eq(column, "email"), "the suite's nullable unique user column is `email`");
        self.nullable_unique_user_attribute = Some(column);
        self
    }

    /// Declares a schema.
    #[must_use]
    pub const fn schema(mut self) -> Self {
        self.schema = true;
        self
    }

    /// Declares foreign keys from keys and sessions to users.
    #[must_use]
    pub const fn foreign_keys(mut self) -> Self {
        self.foreign_keys = true;
        self
    }
}

const fn eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
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
    /// What the store enforces. The default declares nothing, which the suite checks too:
    /// declare what your store does.
    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
    }
    /// Removes the store (drop the schema, database or file); runs even if the case failed.
    fn teardown(&self) -> impl Future<Output = ()> + Send;
}

/// Runs one case on a fixture, tears the fixture down whatever happened, then re-raises a
/// failure. A `None` fixture (its backend is not configured) skips the case. Used by the
/// generated tests.
#[doc(hidden)]
pub async fn run_case<F, Fut>(fixture: Option<F>, case: impl FnOnce(Arc<F>) -> Fut)
where
    F: Fixture,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(fixture) = fixture else { return };
    let fixture = Arc::new(fixture);
    let outcome = tokio::spawn(case(Arc::clone(&fixture))).await;
    fixture.teardown().await;
    if let Err(error) = outcome {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("test case did not finish: {error}"),
        }
    }
}

/// Runs `contenders` attempts at once, each in its own task on the multi-threaded runtime,
/// released together, and returns their results in order.
pub(crate) async fn race<F, T, Fut>(
    fixture: &Arc<F>,
    contenders: usize,
    attempt: impl Fn(Arc<F>, usize) -> Fut,
) -> Vec<T>
where
    F: Fixture,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let start = Arc::new(tokio::sync::Barrier::new(contenders));
    let tasks: Vec<_> = (0..contenders)
        .map(|i| {
            let (start, attempt) = (Arc::clone(&start), attempt(Arc::clone(fixture), i));
            tokio::spawn(async move {
                start.wait().await;
                attempt.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(contenders);
    for task in tasks {
        results.push(task.await.expect("a contender panicked"));
    }
    results
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A test user: `{ id: 8 random chars, username: 8 random chars }` (Lucia's suite used 4
/// for the username, which two users of one case share once in a few hundred thousand: a
/// spurious unique clash). The other user columns are null.
pub fn generate_user() -> DatabaseUser {
    DatabaseUser {
        id: lucia::generate_random_string(8),
        attributes: attributes(json!({ "username": lucia::generate_random_string(8) })),
    }
}

/// A test session of `user_id` (or of a random, nonexistent user): active 8 hours, then idle
/// 24 hours, `country: "XX"` (`ip` null).
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

/// Rows as the suite compares them: attributes holding `null` left out (a SQL row has every
/// column, a schemaless row only those written), lists sorted by id (adapters return rows in
/// any order).
pub(crate) trait Normalize {
    fn normalize(self) -> Self;
}

fn without_nulls(mut attributes: AttributeMap) -> AttributeMap {
    attributes.retain(|_, value| !value.is_null());
    attributes
}

impl Normalize for DatabaseUser {
    fn normalize(self) -> Self {
        Self { attributes: without_nulls(self.attributes), ..self }
    }
}

impl Normalize for DatabaseSession {
    fn normalize(self) -> Self {
        Self { attributes: without_nulls(self.attributes), ..self }
    }
}

impl Normalize for DatabaseKey {
    fn normalize(self) -> Self {
        self
    }
}

impl<T: Normalize> Normalize for Option<T> {
    fn normalize(self) -> Self {
        self.map(Normalize::normalize)
    }
}

impl<A: Normalize, B: Normalize> Normalize for (A, B) {
    fn normalize(self) -> Self {
        (self.0.normalize(), self.1.normalize())
    }
}

/// A row's id, to sort lists by.
pub(crate) trait RowId {
    fn row_id(&self) -> &str;
}

impl RowId for DatabaseUser {
    fn row_id(&self) -> &str {
        &self.id
    }
}

impl RowId for DatabaseKey {
    fn row_id(&self) -> &str {
        &self.id
    }
}

impl RowId for DatabaseSession {
    fn row_id(&self) -> &str {
        &self.id
    }
}

impl<T: Normalize + RowId> Normalize for Vec<T> {
    fn normalize(self) -> Self {
        let mut rows: Vec<T> = self.into_iter().map(Normalize::normalize).collect();
        rows.sort_by(|a, b| a.row_id().cmp(b.row_id()));
        rows
    }
}

/// `assert_eq!` on rows, normalized (see [`Normalize`]).
macro_rules! assert_rows {
    ($left:expr, $right:expr $(,)?) => {
        assert_eq!($crate::Normalize::normalize($left), $crate::Normalize::normalize($right))
    };
    ($left:expr, $right:expr, $($message:tt)+) => {
        assert_eq!($crate::Normalize::normalize($left), $crate::Normalize::normalize($right), $($message)+)
    };
}
pub(crate) use assert_rows;

/// Matches a result against an error pattern, or panics showing what came instead.
macro_rules! assert_err {
    ($result:expr, $pattern:pat) => {
        match $result {
            Err($pattern) => {}
            other => panic!("expected {}, got {other:?}", stringify!($pattern)),
        }
    };
}
pub(crate) use assert_err;

/// Generates one `#[test]` per case for a full [`Adapter`](lucia::Adapter): every
/// user-adapter case of Lucia's suite and this suite's additions.
///
/// `$fixture` is an expression evaluating to a future of `Option<F>`, where `F` is a
/// [`Fixture`] whose `Adapter` implements [`lucia::Adapter`]; `None` skips the case (for
/// example when the backend's server is not configured). Expand it inside a module named
/// after the store.
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
                extra_update_user_errors_duplicate_attribute_and_changes_nothing,
                extra_update_user_rejects_unknown_column_and_changes_nothing,
                extra_update_user_merges_partial_update,
                extra_update_session_merges_partial_update,
                extra_values_that_do_not_fit_the_column,
                extra_attributes_that_are_not_strings_round_trip,
                extra_nulls_in_unique_columns_never_clash,
                extra_user_ids_are_case_sensitive,
                extra_dead_sessions_are_still_returned,
                extra_session_of_a_user_that_is_gone_yields_no_user,
                extra_foreign_keys_refuse_unknown_users,
                extra_delete_user_leaves_no_orphans,
                extra_replace_key_password_compares_and_sets,
                extra_delete_user_cascade_removes_only_that_user,
                extra_delete_user_and_keys_removes_only_that_user,
                extra_update_key_and_end_sessions_touches_only_that_user,
                extra_concurrent_sign_ups_for_one_user_id_have_one_winner,
                extra_concurrent_sign_ups_for_one_unique_attribute_have_one_winner,
                extra_concurrent_updates_to_one_unique_value_have_one_winner,
                extra_concurrent_password_replacements_have_one_winner,
                extra_concurrent_sessions_for_one_id_have_one_winner,
                extra_concurrent_inserts_against_delete_user_cascade,
                extra_concurrent_key_inserts_against_delete_user_and_keys,
                extra_delete_key_unless_last_keeps_the_last_sign_in_method,
                extra_concurrent_key_removals_keep_one_sign_in_method,
            ]
        );
    };
}

/// Generates one `#[test]` per case for a [`SessionAdapter`](lucia::SessionAdapter):
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
                extra_delete_dead_sessions_sweeps_every_user,
                extra_dead_sessions_are_still_returned,
                extra_update_session_sets_expiries,
                extra_update_session_merges_partial_update,
                extra_set_session_unknown_column,
                extra_session_ids_are_case_sensitive,
                extra_concurrent_sessions_for_one_id_have_one_winner,
            ]
        );
    };
}

/// Generates one `#[test]` per case for a [`TokenAdapter`](lucia::TokenAdapter): single-use
/// tokens beside users, keys and sessions (see [`token_adapter`] for the token table).
#[macro_export]
macro_rules! token_adapter_tests {
    ($fixture:expr) => {
        $crate::__generate_cases!(
            $fixture,
            token_adapter,
            [
                set_token_round_trips,
                get_token_returns_none_for_unknown,
                token_ids_are_case_sensitive,
                set_token_replaces_the_users_token_of_that_kind,
                set_token_of_unknown_user,
                count_token_attempt_counts,
                a_replacing_token_starts_uncounted,
                consume_token_deletes_it_and_updates_its_user_once,
                consume_token_without_attributes_only_deletes,
                consume_token_that_cannot_update_keeps_the_token,
                revoke_user_tokens_deletes_all_of_that_user,
                revoke_user_tokens_that_cannot_update_changes_nothing,
                delete_expired_tokens_keeps_live_and_boundary,
                deleting_a_user_deletes_its_tokens,
                concurrent_consumptions_have_one_winner,
                concurrent_attempt_counts_are_distinct,
                concurrent_issues_leave_one_token,
            ]
        );
    };
}

/// Generates one `#[test]` per case for a [`PasskeyAdapter`](lucia::PasskeyAdapter): passkeys
/// and ceremony challenges beside users, keys and sessions (see [`passkey_adapter`] for the
/// tables).
#[macro_export]
macro_rules! passkey_adapter_tests {
    ($fixture:expr) => {
        $crate::__generate_cases!(
            $fixture,
            passkey_adapter,
            [
                insert_passkey_round_trips,
                get_passkey_returns_none_for_unknown,
                insert_passkey_with_taken_id,
                insert_passkey_of_unknown_user,
                record_passkey_use_refuses_a_counter_that_does_not_advance,
                concurrent_uses_with_one_counter_have_one_winner,
                rename_passkey_renames_only_the_owners,
                delete_passkey_keeps_the_last_sign_in_method,
                concurrent_deletions_keep_one_sign_in_method,
                delete_key_racing_delete_passkey_acts_in_one_order,
                delete_key_unless_last_counts_passkeys,
                delete_key_unless_last_racing_delete_passkey_keeps_one,
                deleting_a_user_deletes_its_passkeys,
                take_passkey_challenge_is_single_use,
                concurrent_takes_of_a_challenge_have_one_winner,
                delete_expired_passkey_challenges_keeps_live_and_boundary,
            ]
        );
    };
}

/// Generates one `#[test]` per case for a [`SecondFactorAdapter`](lucia::SecondFactorAdapter):
/// TOTP rows and recovery codes beside users and tokens (see [`second_factor_adapter`] for the
/// tables).
#[macro_export]
macro_rules! second_factor_adapter_tests {
    ($fixture:expr) => {
        $crate::__generate_cases!(
            $fixture,
            second_factor_adapter,
            [
                totp_round_trips_and_is_replaced,
                totp_of_unknown_user,
                use_totp_step_only_moves_forward,
                recovery_codes_are_replaced_and_consumed_once,
                delete_totp_removes_row_and_codes_of_that_user,
                deleting_a_user_deletes_its_second_factor,
                pending_sign_in_tokens_round_trip,
                concurrent_uses_of_one_step_have_one_winner,
                concurrent_uses_of_one_recovery_code_have_one_winner,
                concurrent_regenerations_leave_one_set,
            ]
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __generate_cases {
    ($fixture:expr, $module:ident, [$($case:ident),* $(,)?]) => {
        $(
            #[test]
            fn $case() {
                $crate::__private::block_on(async {
                    $crate::run_case($fixture.await, $crate::$module::$case).await;
                });
            }
        )*
    };
}
