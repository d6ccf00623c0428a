//! Database faults through a TCP proxy (`lucia_adapter_test::fault_proxy`) between the adapter
//! and PostgreSQL or MariaDB, with `Lucia`'s store deadline set to one second (issue 13):
//!
//! - a stalled connection: every call is `Error::Unavailable` within the deadline plus a
//!   margin, and the next call after the stall succeeds;
//! - refused connections (the pool's connections cut, new ones closed at once): the same;
//! - connections cut again and again while users are created and passwords changed: each call
//!   succeeds or is `Unavailable`, and nothing is half-written (checked on another pool, not
//!   through the proxy): every user has its key, and a key holds its new password only if its
//!   user's sessions are gone;
//! - idle pooled connections cut: the next calls succeed, reads and writes (the pool's
//!   `test_before_acquire`, SeaORM's default, and the adapter's rerun of reads and idempotent
//!   writes when it is off).
//!
//! `postgres::<case>` and `mysql::<case>`, each on a schema or database of its own.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Backend, Store, test_adapter};
use lucia::{CreateSession, CreateUser, Error, Lucia, NewKey, PasswordHashError, PasswordHasher, PasswordPolicy};
use lucia_adapter_sea_orm::{SeaOrmAdapter, WithSessions};
use lucia_adapter_test::fault_proxy::{FaultProxy, proxied_url, url_address};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use serde::{Deserialize, Serialize};

/// `Lucia`'s store deadline in these tests.
const DEADLINE: Duration = Duration::from_secs(1);
/// What a call may take beyond the deadline (scheduling on a loaded machine); not a speed
/// requirement.
const MARGIN: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct UserAttributes {
    username: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionAttributes {
    country: String,
}

type Auth = Lucia<SeaOrmAdapter<WithSessions>, UserAttributes, SessionAttributes>;

/// `plain:<password>`: hashing costs nothing, and the tests can read which password a key holds.
struct PlainHasher;

impl PasswordHasher for PlainHasher {
    fn hash(&self, password: &str) -> Result<String, PasswordHashError> {
        Ok(format!("plain:{password}"))
    }
    fn verify(&self, password: &str, hash: &str) -> Result<bool, PasswordHashError> {
        Ok(hash == self.hash(password)?)
    }
}

/// A store with the test tables, a proxy to its server, and a `Lucia` whose pool connects
/// through the proxy.
struct Faulty {
    /// The store's own pool, not through the proxy: what is really in the tables.
    direct: DatabaseConnection,
    proxy: FaultProxy,
    /// The pool through the proxy.
    proxied: DatabaseConnection,
    auth: Auth,
}

/// Runs `test` on a fresh store of `backend` whose `Lucia` goes through a proxy, with a pool
/// of 4 connections that pings them before handing them out if `test_before_acquire`. Then
/// closes the pool and the proxy and drops the store, even if `test` panicked.
async fn run<Test, Done>(backend: Backend, test_before_acquire: bool, test: Test)
where
    Test: FnOnce(Arc<Faulty>) -> Done,
    Done: Future<Output = ()> + Send + 'static,
{
    let Some(store) = Store::new(backend).await else { return };
    store.migrate_test_tables().await;
    let (url, schema) = store.url_and_schema();
    let proxy = FaultProxy::start(&url_address(url)).await;
    let mut options = ConnectOptions::new(proxied_url(url, proxy.addr()));
    options.max_connections(4).min_connections(0).sqlx_logging(false).test_before_acquire(test_before_acquire);
    if let Some(schema) = schema {
        options.set_schema_search_path(schema);
    }
    let proxied = Database::connect(options).await.unwrap_or_else(|e| panic!("cannot connect through the proxy: {e}"));
    let auth = Lucia::builder(test_adapter(proxied.clone()))
        .store_timeout(DEADLINE)
        .password_hasher(PlainHasher)
        .password_policy(PasswordPolicy::new().min_length(1))
        .without_sign_in_throttle()
        .user_attributes::<UserAttributes>()
        .session_attributes::<SessionAttributes>()
        .build();
    let faulty = Arc::new(Faulty { direct: store.db.clone(), proxy, proxied, auth });
    let outcome = tokio::spawn(test(Arc::clone(&faulty))).await;
    // Nothing of the test may hold a lock on the server when the store is dropped.
    faulty.proxy.pass();
    faulty.proxy.cut();
    let _ = faulty.proxied.close_by_ref().await;
    store.drop_store().await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

impl Faulty {
    /// A user `name` with the key `email:<name>`, password `old`, created directly (not
    /// through the proxy).
    async fn user(&self, name: &str) -> String {
        let direct = direct_auth(&self.direct);
        let user =
            CreateUser::new(UserAttributes { username: name.into() }).with_key(NewKey::password("email", name, "old"));
        direct.create_user(user).await.unwrap().user_id
    }

    /// A session of `user_id`, created directly; returns its token.
    async fn session(&self, user_id: &str) -> String {
        let direct = direct_auth(&self.direct);
        let created = direct
            .create_session(CreateSession::new(user_id, SessionAttributes { country: "nl".into() }))
            .await
            .unwrap();
        created.token.expose_secret().to_owned()
    }

    /// A session attribute value.
    fn attributes() -> SessionAttributes {
        SessionAttributes { country: "nl".into() }
    }

    /// Every call the tests make, once: a read, a sign-in and a user creation. Returns their
    /// outcomes.
    async fn calls(&self, token: &str, name: &str) -> Vec<Result<(), Error>> {
        vec![
            self.auth.validate_session(token).await.map(drop),
            self.auth.sign_in("email", name, Some("old"), Self::attributes()).await.map(drop),
            self.create_user().await,
        ]
    }

    /// Creates a user of a new name, with a key.
    async fn create_user(&self) -> Result<(), Error> {
        let name = format!("new-{}", lucia::generate_random_string(10));
        let create =
            CreateUser::new(UserAttributes { username: name.clone() }).with_key(NewKey::password("email", name, "pw"));
        self.auth.create_user(create).await.map(drop)
    }
}

fn direct_auth(db: &DatabaseConnection) -> Auth {
    Lucia::builder(test_adapter(db.clone()))
        .password_hasher(PlainHasher)
        .password_policy(PasswordPolicy::new().min_length(1))
        .user_attributes::<UserAttributes>()
        .session_attributes::<SessionAttributes>()
        .build()
}

/// Runs `call`, asserts it is `Error::Unavailable` and returned within the deadline plus the
/// margin.
async fn assert_unavailable_in_time<T: std::fmt::Debug>(what: &str, call: impl Future<Output = Result<T, Error>>) {
    let start = Instant::now();
    let outcome = call.await;
    let took = start.elapsed();
    assert!(matches!(outcome, Err(Error::Unavailable(_))), "{what}: {outcome:?}");
    assert!(took < DEADLINE + MARGIN, "{what} took {took:?}, beyond the deadline of {DEADLINE:?}");
}

/// The proxy stalls: a read, a sign-in and a user creation each give up as `Unavailable` in
/// time, on connections stalled mid-statement and on new ones; once bytes flow again, they
/// succeed.
async fn stall_is_unavailable_then_recovers(backend: Backend) {
    run(backend, true, |f| async move {
        let user_id = f.user("ada").await;
        let token = f.session(&user_id).await;
        assert!(f.calls(&token, "ada").await.iter().all(Result::is_ok), "before the stall");

        f.proxy.stall();
        assert_unavailable_in_time("validate_session", f.auth.validate_session(&token)).await;
        assert_unavailable_in_time("sign_in", f.auth.sign_in("email", "ada", Some("old"), Faulty::attributes())).await;
        let create =
            CreateUser::new(UserAttributes { username: "bob".into() }).with_key(NewKey::password("email", "bob", "pw"));
        assert_unavailable_in_time("create_user", f.auth.create_user(create)).await;
        // All at once, more than the pool holds: those waiting for a connection too.
        let calls = (0..6).map(|_| {
            let f = Arc::clone(&f);
            let token = token.clone();
            tokio::spawn(async move {
                assert_unavailable_in_time("validate_session", f.auth.validate_session(&token)).await
            })
        });
        for call in calls.collect::<Vec<_>>() {
            call.await.unwrap();
        }

        f.proxy.pass();
        let outcomes = f.calls(&token, "ada").await;
        assert!(outcomes.iter().all(Result::is_ok), "after the stall: {outcomes:?}");
    })
    .await;
}

/// The pool's connections are cut and new ones refused: each call is `Unavailable` in time;
/// when the server accepts connections again, they succeed.
async fn refused_is_unavailable_then_recovers(backend: Backend) {
    run(backend, true, |f| async move {
        let user_id = f.user("ada").await;
        let token = f.session(&user_id).await;
        assert!(f.calls(&token, "ada").await.iter().all(Result::is_ok), "before");

        f.proxy.refuse();
        f.proxy.cut();
        let connections = f.proxy.connections();
        assert_unavailable_in_time("validate_session", f.auth.validate_session(&token)).await;
        assert_unavailable_in_time("sign_in", f.auth.sign_in("email", "ada", Some("old"), Faulty::attributes())).await;
        let create =
            CreateUser::new(UserAttributes { username: "bob".into() }).with_key(NewKey::password("email", "bob", "pw"));
        assert_unavailable_in_time("create_user", f.auth.create_user(create)).await;
        assert_eq!(f.proxy.connections(), connections, "no connection got through");

        f.proxy.pass();
        let outcomes = f.calls(&token, "ada").await;
        assert!(outcomes.iter().all(Result::is_ok), "after: {outcomes:?}");
    })
    .await;
}

/// Users created and passwords changed (with the revocation of their sessions) on 4 tasks
/// while the proxy cuts every connection every few milliseconds: each call succeeds or is
/// `Unavailable`, and the tables, read on another pool, hold whole operations only.
async fn cut_mid_flight_leaves_nothing_half_written(backend: Backend) {
    run(backend, true, |f| async move {
        const TASKS: usize = 4;
        const ROUNDS: usize = 12;
        // Users whose password changes, with two sessions each.
        let mut changing = Vec::new();
        for i in 0..TASKS * ROUNDS {
            let name = format!("old-{i}");
            let user_id = f.user(&name).await;
            f.session(&user_id).await;
            f.session(&user_id).await;
            changing.push(name);
        }
        let changing = Arc::new(changing);

        // Cuts at uneven intervals of 3 to 47 ms (opening a connection takes some), until
        // the tasks are done.
        let done = Arc::new(AtomicBool::new(false));
        let cutter = tokio::spawn({
            let (f, done) = (Arc::clone(&f), Arc::clone(&done));
            async move {
                let mut cut = 0u64;
                while !done.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(3 + (cut * 17) % 45)).await;
                    f.proxy.cut();
                    cut += 1;
                }
            }
        });
        let tasks = (0..TASKS).map(|task| {
            let (f, changing) = (Arc::clone(&f), Arc::clone(&changing));
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                for round in 0..ROUNDS {
                    let name = format!("new-{task}-{round}");
                    let create = CreateUser::new(UserAttributes { username: name.clone() })
                        .with_key(NewKey::password("email", name, "pw"));
                    outcomes.push(f.auth.create_user(create).await.map(drop));
                    let name = &changing[task * ROUNDS + round];
                    outcomes.push(f.auth.change_password("email", name, "new").await.map(drop));
                }
                outcomes
            })
        });
        let mut outcomes = Vec::new();
        for task in tasks.collect::<Vec<_>>() {
            outcomes.extend(task.await.unwrap());
        }
        done.store(true, Ordering::SeqCst);
        cutter.await.unwrap();
        for outcome in &outcomes {
            assert!(matches!(outcome, Ok(()) | Err(Error::Unavailable(_))), "{outcome:?}");
        }
        let failed = outcomes.iter().filter(|outcome| outcome.is_err()).count();
        eprintln!("{} calls, {failed} unavailable", outcomes.len());
        assert!(failed > 0 && failed < outcomes.len(), "the cuts hit some calls, not all: {failed} failed");

        let direct = direct_auth(&f.direct);
        let adapter = test_adapter(f.direct.clone());
        // Every user has its key.
        let users = common::EntityTables(f.direct.clone());
        let (users, keys) = (lucia_adapter_test::TestDatabase::users(&users).await, {
            lucia_adapter_test::TestDatabase::keys(&common::EntityTables(f.direct.clone())).await
        });
        for user in &users {
            assert!(keys.iter().any(|key| key.user_id == user.id), "user {} has no key", user.attributes["username"]);
        }
        for key in &keys {
            assert!(users.iter().any(|user| user.id == key.user_id), "key {} has no user", key.id);
        }
        // A key holds its new password only with its user's sessions gone, its old one with
        // both sessions left.
        let (mut changed, mut unchanged) = (0, 0);
        for name in changing.iter() {
            let key = direct.get_key("email", name).await.unwrap();
            let sessions = lucia::SessionAdapter::get_sessions_by_user_id(&adapter, &key.user_id).await.unwrap();
            let hash = lucia::UserAdapter::get_key(&adapter, &format!("email:{name}")).await.unwrap().unwrap();
            match hash.hashed_password.as_deref() {
                Some("plain:new") => {
                    assert!(sessions.is_empty(), "{name}: new password, {} sessions left", sessions.len());
                    changed += 1;
                }
                Some("plain:old") => {
                    assert_eq!(sessions.len(), 2, "{name}: old password, sessions gone");
                    unchanged += 1;
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        eprintln!("{changed} passwords changed, {unchanged} not");

        f.proxy.pass();
        let outcomes = f.calls(&f.session(&f.user("ada").await).await, "ada").await;
        assert!(outcomes.iter().all(Result::is_ok), "after the cuts: {outcomes:?}");
    })
    .await;
}

/// The pool's idle connections are cut (a restarted server, a NAT timeout): the next call
/// succeeds, on a new connection, whether it is a read (round 0), a user creation (round 1: a
/// transaction), a sign-in (round 2), or starts with a write: a sign-out (round 3, a delete)
/// or new attributes (round 4, an update); so do the calls after it.
async fn cut_idle_connections_cost_no_request(backend: Backend, test_before_acquire: bool) {
    run(backend, test_before_acquire, |f| async move {
        let user_id = f.user("ada").await;
        let token = f.session(&user_id).await;
        let signed_out = f.session(&user_id).await;
        for round in 0..5 {
            // Fill the pool with idle connections.
            let warm = (0..4).map(|_| {
                let (f, token) = (Arc::clone(&f), token.clone());
                tokio::spawn(async move { f.auth.validate_session(&token).await.map(drop) })
            });
            for call in warm.collect::<Vec<_>>() {
                call.await.unwrap().unwrap();
            }
            let connections = f.proxy.connections();
            f.proxy.cut();
            // The client's sockets have seen the close.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let outcome = match round {
                0 => f.auth.validate_session(&token).await.map(drop),
                1 => f.create_user().await,
                2 => f.auth.sign_in("email", "ada", Some("old"), Faulty::attributes()).await.map(drop),
                3 => f.auth.invalidate_session(&signed_out).await,
                _ => {
                    let attributes = UserAttributes { username: "ada lovelace".into() };
                    f.auth.update_user_attributes(&user_id, &attributes).await.map(drop)
                }
            };
            assert!(outcome.is_ok(), "round {round}: the first call after the cut: {outcome:?}");
            let outcomes = f.calls(&token, "ada").await;
            assert!(outcomes.iter().all(Result::is_ok), "round {round}: after the cut: {outcomes:?}");
            assert!(f.proxy.connections() > connections, "new connections served");
        }
        let direct = direct_auth(&f.direct);
        assert!(matches!(direct.validate_session(&signed_out).await, Err(Error::InvalidSessionId)), "signed out");
        assert_eq!(direct.get_user(&user_id).await.unwrap().attributes.username, "ada lovelace");
    })
    .await;
}

macro_rules! fault_tests {
    ($backend:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn stall_is_unavailable_then_recovers() {
            super::stall_is_unavailable_then_recovers($backend).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn refused_is_unavailable_then_recovers() {
            super::refused_is_unavailable_then_recovers($backend).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn cut_mid_flight_leaves_nothing_half_written() {
            super::cut_mid_flight_leaves_nothing_half_written($backend).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn cut_idle_connections_cost_no_request_with_test_before_acquire() {
            super::cut_idle_connections_cost_no_request($backend, true).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn cut_idle_connections_cost_no_request_without_test_before_acquire() {
            super::cut_idle_connections_cost_no_request($backend, false).await;
        }
    };
}

mod postgres {
    fault_tests!(crate::Backend::Postgres);
}

mod mysql {
    fault_tests!(crate::Backend::MySql);
}
