//! Behaviour of `Lucia` itself (every method and error path) over the SeaORM adapter, on each
//! backend: `sqlite::...`, `postgres::...`, `mysql::...`. Time is a test clock, so expiry
//! boundaries are exact.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use common::{Backend, EntityTables, Store, test_adapter};
use lucia::{
    AttributeMap, CreateSession, CreateUser, DatabaseKey, Env, Error, Lucia, NewKey, PasswordHashError, PasswordHasher,
    SameSite, SessionCookieConfig, SessionExpiresIn, SessionState,
};
use lucia_adapter_sea_orm::{SeaOrmAdapter, WithSessions};
use lucia_adapter_test::{Fixture, TestDatabase};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct UserAttributes {
    username: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SessionAttributes {
    country: String,
}

type Auth = Lucia<SeaOrmAdapter<WithSessions>, UserAttributes, SessionAttributes>;

const DAY: i64 = 86_400_000;
const START: i64 = 1_795_655_076_154;

/// A `Lucia` on a fresh store, with a clock the test moves.
struct Ctx {
    store: Store,
    auth: Auth,
    clock: Arc<AtomicI64>,
    tables: EntityTables,
}

impl Ctx {
    async fn new(backend: Backend) -> Option<Self> {
        let store = Store::new(backend).await?;
        store.migrate_test_tables().await;
        let clock = Arc::new(AtomicI64::new(START));
        let auth = configure(store.db.clone(), &clock).build();
        Some(Self { tables: EntityTables(store.db.clone()), store, auth, clock })
    }

    fn set_now(&self, ms: i64) {
        self.clock.store(ms, Ordering::SeqCst);
    }
}

fn configure(
    db: sea_orm::DatabaseConnection,
    clock: &Arc<AtomicI64>,
) -> lucia::LuciaBuilder<SeaOrmAdapter<WithSessions>, UserAttributes, SessionAttributes> {
    let clock = Arc::clone(clock);
    Lucia::builder(test_adapter(db))
        .clock(move || UNIX_EPOCH + Duration::from_millis(clock.load(Ordering::SeqCst) as u64))
        .user_attributes::<UserAttributes>()
        .session_attributes::<SessionAttributes>()
}

impl Fixture for Ctx {
    type Adapter = Ctx;
    type Database = EntityTables;
    fn adapter(&self) -> &Ctx {
        self
    }
    fn database(&self) -> &EntityTables {
        &self.tables
    }
    async fn teardown(&self) {
        self.store.drop_store().await;
    }
}

macro_rules! on_every_backend {
    ($($case:ident),* $(,)?) => {
        on_every_backend!(@backend sqlite, Sqlite, $($case),*);
        on_every_backend!(@backend postgres, Postgres, $($case),*);
        on_every_backend!(@backend mysql, MySql, $($case),*);
    };
    (@backend $module:ident, $backend:ident, $($case:ident),*) => {
        mod $module {
            $(
                #[tokio::test]
                async fn $case() {
                    lucia_adapter_test::run_case(super::Ctx::new(super::Backend::$backend).await, |ctx| async move {
                        super::$case(&ctx, &ctx.tables).await
                    })
                    .await;
                }
            )*
        }
    };
}

on_every_backend!(
    create_user_with_key_and_sign_in,
    use_key_rejects_wrong_missing_and_extra_passwords,
    create_user_without_key,
    create_user_duplicate_key_writes_nothing,
    create_user_duplicate_user_id_is_not_a_duplicate_key,
    create_user_taken_username_is_duplicate_attribute,
    create_user_invalid_provider_id_writes_nothing,
    custom_ids_are_kept_verbatim,
    get_user_unknown_is_invalid_user_id,
    update_user_attributes_partial_empty_and_errors,
    delete_user_removes_sessions_keys_and_user,
    keys_create_get_list_update_delete,
    key_ids_are_case_sensitive_and_split_on_first_colon,
    outdated_bcrypt_hash_is_outdated_password,
    custom_hasher_upgrades_outdated_hashes_on_sign_in,
    create_session_sets_lucia_expiries,
    create_session_for_unknown_user_writes_nothing,
    validate_active_session_does_not_write,
    validate_idle_session_renews_it_as_active,
    expiry_boundaries_are_inclusive,
    dead_sessions_are_rejected_and_kept,
    get_session_does_not_renew,
    get_all_user_sessions_hides_dead_ones,
    update_session_attributes_partial_and_dead,
    invalidate_sessions,
    delete_dead_sessions_waits_for_the_deletes,
    bad_session_ids_are_rejected_before_the_database,
    attributes_that_are_not_columns_are_rejected,
    session_cookies,
    custom_session_periods,
    ids_no_store_can_hold_are_typed_errors,
    hasher_failures_are_typed_errors_and_write_nothing,
    store_failures_are_database_errors,
);

fn email_key(address: &str, password: Option<&str>) -> NewKey {
    NewKey { provider_id: "email".into(), provider_user_id: address.into(), password: password.map(Into::into) }
}

fn user(username: &str) -> UserAttributes {
    UserAttributes { username: username.into() }
}

fn xx() -> SessionAttributes {
    SessionAttributes { country: "XX".into() }
}

async fn new_user(auth: &Auth, username: &str) -> String {
    let options = CreateUser { user_id: None, key: None, attributes: user(username) };
    auth.create_user(options).await.unwrap().user_id
}

async fn new_session(auth: &Auth, user_id: &str) -> lucia::Session<UserAttributes, SessionAttributes> {
    auth.create_session(CreateSession { user_id: user_id.into(), session_id: None, attributes: xx() }).await.unwrap()
}

macro_rules! assert_err {
    ($result:expr, $pattern:pat) => {
        match $result {
            Err($pattern) => {}
            other => panic!("expected {}, got {other:?}", stringify!($pattern)),
        }
    };
}

// ---- users ---------------------------------------------------------------------------------

async fn create_user_with_key_and_sign_in(t: &Ctx, db: &EntityTables) {
    let key = email_key("ada@example.com", Some("correct horse"));
    let created =
        t.auth.create_user(CreateUser { user_id: None, key: Some(key), attributes: user("ada") }).await.unwrap();
    assert_eq!(created.user_id.len(), 15);
    assert!(created.user_id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    assert_eq!(created.attributes, user("ada"));

    let rows = db.keys().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, "email:ada@example.com");
    let hash = rows[0].hashed_password.as_deref().unwrap();
    assert!(hash.starts_with("s2:") && hash.len() == 148, "{hash}");

    let key = t.auth.use_key("email", "ada@example.com", Some("correct horse")).await.unwrap();
    assert_eq!(key.user_id, created.user_id);
    assert!(key.password_defined);
    let session = new_session(&t.auth, &key.user_id).await;
    let validated = t.auth.validate_session(&session.session_id).await.unwrap();
    assert_eq!(validated.user, created);
}

async fn use_key_rejects_wrong_missing_and_extra_passwords(t: &Ctx, _db: &EntityTables) {
    let key = email_key("a@example.com", Some("secret"));
    let created =
        t.auth.create_user(CreateUser { user_id: None, key: Some(key), attributes: user("a") }).await.unwrap();
    assert_err!(t.auth.use_key("email", "a@example.com", Some("Secret")).await, Error::InvalidPassword);
    assert_err!(t.auth.use_key("email", "a@example.com", Some("")).await, Error::InvalidPassword);
    assert_err!(t.auth.use_key("email", "a@example.com", None).await, Error::InvalidPassword);
    assert_err!(t.auth.use_key("email", "b@example.com", Some("secret")).await, Error::InvalidKeyId);
    assert_err!(t.auth.use_key("email", "b@example.com", None).await, Error::InvalidKeyId);

    // A key without password (OAuth) takes no password.
    t.auth
        .create_key(
            &created.user_id,
            NewKey { provider_id: "github".into(), provider_user_id: "42".into(), password: None },
        )
        .await
        .unwrap();
    let key = t.auth.use_key("github", "42", None).await.unwrap();
    assert!(!key.password_defined);
    assert_err!(t.auth.use_key("github", "42", Some("")).await, Error::InvalidPassword);

    // An empty password is a password: hashed, and required afterwards (Lucia 2.6+).
    t.auth.create_key(&created.user_id, email_key("empty@example.com", Some(""))).await.unwrap();
    assert!(t.auth.use_key("email", "empty@example.com", Some("")).await.unwrap().password_defined);
    assert_err!(t.auth.use_key("email", "empty@example.com", None).await, Error::InvalidPassword);
}

async fn create_user_without_key(t: &Ctx, db: &EntityTables) {
    let id = new_user(&t.auth, "solo").await;
    assert_eq!(t.auth.get_user(&id).await.unwrap().attributes, user("solo"));
    assert_eq!(db.keys().await, vec![]);
    assert_eq!(t.auth.get_all_user_keys(&id).await.unwrap(), vec![]);
}

async fn create_user_duplicate_key_writes_nothing(t: &Ctx, db: &EntityTables) {
    let key = email_key("a@example.com", Some("one"));
    t.auth.create_user(CreateUser { user_id: None, key: Some(key.clone()), attributes: user("first") }).await.unwrap();
    let (users, keys) = (db.users().await, db.keys().await);
    let again = CreateUser { user_id: None, key: Some(key), attributes: user("second") };
    assert_err!(t.auth.create_user(again).await, Error::DuplicateKeyId);
    assert_eq!((db.users().await, db.keys().await), (users, keys));
}

async fn create_user_duplicate_user_id_is_not_a_duplicate_key(t: &Ctx, db: &EntityTables) {
    let first = CreateUser { user_id: Some("taken".into()), key: None, attributes: user("first") };
    t.auth.create_user(first).await.unwrap();
    let users = db.users().await;
    let second = CreateUser {
        user_id: Some("taken".into()),
        key: Some(email_key("new@example.com", None)),
        attributes: user("second"),
    };
    assert_err!(t.auth.create_user(second).await, Error::DuplicateUserId);
    assert_eq!(db.users().await, users);
    assert_eq!(db.keys().await, vec![]);
}

async fn create_user_taken_username_is_duplicate_attribute(t: &Ctx, db: &EntityTables) {
    new_user(&t.auth, "ada").await;
    let again = CreateUser { user_id: None, key: Some(email_key("x@example.com", None)), attributes: user("ada") };
    assert_err!(t.auth.create_user(again).await, Error::DuplicateAttribute(_));
    assert_eq!(db.users().await.len(), 1);
    assert_eq!(db.keys().await, vec![]);
}

async fn create_user_invalid_provider_id_writes_nothing(t: &Ctx, db: &EntityTables) {
    let key = NewKey { provider_id: "e:mail".into(), provider_user_id: "x".into(), password: None };
    let options = CreateUser { user_id: None, key: Some(key), attributes: user("x") };
    assert_err!(t.auth.create_user(options).await, Error::InvalidProviderId);
    assert_eq!(db.users().await, vec![]);
    assert_err!(t.auth.use_key("e:mail", "x", None).await, Error::InvalidProviderId);
}

async fn custom_ids_are_kept_verbatim(t: &Ctx, db: &EntityTables) {
    // Lucia v1 ids were mixed-case; ids from the database are never validated.
    let options = CreateUser { user_id: Some("laRZ8RgA34YYcgj".into()), key: None, attributes: user("v1") };
    t.auth.create_user(options).await.unwrap();
    let options = CreateSession {
        user_id: "laRZ8RgA34YYcgj".into(),
        session_id: Some("Custom-Session_ID".into()),
        attributes: xx(),
    };
    t.auth.create_session(options).await.unwrap();
    assert_eq!(db.sessions().await[0].id, "Custom-Session_ID");
    assert_eq!(t.auth.validate_session("Custom-Session_ID").await.unwrap().user.user_id, "laRZ8RgA34YYcgj");
}

async fn get_user_unknown_is_invalid_user_id(t: &Ctx, _db: &EntityTables) {
    assert_err!(t.auth.get_user("nobody").await, Error::InvalidUserId);
    assert_err!(t.auth.get_user("").await, Error::InvalidUserId);
}

async fn update_user_attributes_partial_empty_and_errors(t: &Ctx, db: &EntityTables) {
    let id = new_user(&t.auth, "old").await;
    let updated = t.auth.update_user_attributes(&id, &json!({ "username": "new" })).await.unwrap();
    assert_eq!(updated.attributes, user("new"));
    let unchanged = t.auth.update_user_attributes(&id, &json!({})).await.unwrap();
    assert_eq!(unchanged.attributes, user("new"));
    assert_err!(t.auth.update_user_attributes("nobody", &json!({ "username": "z" })).await, Error::InvalidUserId);
    let rows = db.users().await;
    assert_err!(t.auth.update_user_attributes(&id, &json!({ "nope": 1 })).await, Error::InvalidAttributes(_));
    assert_err!(t.auth.update_user_attributes(&id, &json!({ "username": 5 })).await, Error::InvalidAttributes(_));
    assert_err!(t.auth.update_user_attributes(&id, &json!({ "username": null })).await, Error::InvalidAttributes(_));
    assert_err!(t.auth.update_user_attributes(&id, &json!({ "id": "other" })).await, Error::InvalidAttributes(_));
    assert_err!(t.auth.update_user_attributes(&id, &json!(["username"])).await, Error::InvalidAttributes(_));
    assert_eq!(db.users().await, rows);
}

async fn delete_user_removes_sessions_keys_and_user(t: &Ctx, db: &EntityTables) {
    // The tables' foreign keys are ON DELETE NO ACTION: this only works in the right order.
    let key = email_key("gone@example.com", None);
    let gone =
        t.auth.create_user(CreateUser { user_id: None, key: Some(key), attributes: user("gone") }).await.unwrap();
    let kept = new_user(&t.auth, "kept").await;
    new_session(&t.auth, &gone.user_id).await;
    let kept_session = new_session(&t.auth, &kept).await;
    t.auth.delete_user(&gone.user_id).await.unwrap();
    assert_eq!(db.users().await.iter().map(|u| u.id.clone()).collect::<Vec<_>>(), vec![kept]);
    assert_eq!(db.keys().await, vec![]);
    assert_eq!(db.sessions().await.len(), 1);
    assert_eq!(db.sessions().await[0].id, kept_session.session_id);
    t.auth.delete_user("nobody").await.unwrap();
}

// ---- keys ----------------------------------------------------------------------------------

async fn keys_create_get_list_update_delete(t: &Ctx, db: &EntityTables) {
    let id = new_user(&t.auth, "keys").await;
    let key = t.auth.create_key(&id, email_key("k@example.com", Some("one"))).await.unwrap();
    assert_eq!(
        (key.provider_id.as_str(), key.provider_user_id.as_str(), key.password_defined),
        ("email", "k@example.com", true)
    );
    assert_err!(t.auth.create_key(&id, email_key("k@example.com", None)).await, Error::DuplicateKeyId);
    assert_err!(t.auth.create_key("nobody", email_key("other@example.com", None)).await, Error::InvalidUserId);
    assert_eq!(db.keys().await.len(), 1);

    assert_eq!(t.auth.get_key("email", "k@example.com").await.unwrap(), key);
    assert_err!(t.auth.get_key("email", "nope@example.com").await, Error::InvalidKeyId);
    t.auth
        .create_key(&id, NewKey { provider_id: "github".into(), provider_user_id: "7".into(), password: None })
        .await
        .unwrap();
    assert_eq!(t.auth.get_all_user_keys(&id).await.unwrap().len(), 2);
    assert_err!(t.auth.get_all_user_keys("nobody").await, Error::InvalidUserId);

    let changed = t.auth.update_key_password("email", "k@example.com", Some("two")).await.unwrap();
    assert!(changed.password_defined);
    assert_err!(t.auth.use_key("email", "k@example.com", Some("one")).await, Error::InvalidPassword);
    t.auth.use_key("email", "k@example.com", Some("two")).await.unwrap();
    let cleared = t.auth.update_key_password("email", "k@example.com", None).await.unwrap();
    assert!(!cleared.password_defined);
    t.auth.use_key("email", "k@example.com", None).await.unwrap();
    assert_err!(t.auth.update_key_password("email", "nope@example.com", Some("x")).await, Error::InvalidKeyId);

    t.auth.delete_key("email", "k@example.com").await.unwrap();
    t.auth.delete_key("email", "k@example.com").await.unwrap();
    assert_err!(t.auth.get_key("email", "k@example.com").await, Error::InvalidKeyId);
    assert_eq!(db.keys().await.len(), 1);
}

async fn key_ids_are_case_sensitive_and_split_on_first_colon(t: &Ctx, db: &EntityTables) {
    let id = new_user(&t.auth, "colon").await;
    let key = NewKey { provider_id: "a".into(), provider_user_id: "x:y:z".into(), password: None };
    t.auth.create_key(&id, key).await.unwrap();
    assert_eq!(db.keys().await[0].id, "a:x:y:z");
    let read = t.auth.get_key("a", "x:y:z").await.unwrap();
    assert_eq!((read.provider_id.as_str(), read.provider_user_id.as_str()), ("a", "x:y:z"));
    t.auth.create_key(&id, email_key("Alice@Example.com", None)).await.unwrap();
    assert_err!(t.auth.use_key("email", "alice@example.com", None).await, Error::InvalidKeyId);
}

async fn outdated_bcrypt_hash_is_outdated_password(t: &Ctx, db: &EntityTables) {
    let id = new_user(&t.auth, "beta").await;
    let hash = "$2a$10$abcdefghijklmnopqrstuuu5C3kq0n6n2z8d1Q6Zq2yP4rK7G2v1xW".to_owned();
    db.insert_key(&DatabaseKey { id: "email:beta@example.com".into(), user_id: id, hashed_password: Some(hash) }).await;
    assert_err!(t.auth.use_key("email", "beta@example.com", Some("x")).await, Error::OutdatedPassword);
}

/// Accepts `plain:<password>` (outdated) and `good:<password>`; new hashes are `good:`.
struct UpgradingHasher;

impl PasswordHasher for UpgradingHasher {
    fn hash(&self, password: &str) -> Result<String, PasswordHashError> {
        Ok(format!("good:{password}"))
    }
    fn verify(&self, password: &str, hash: &str) -> Result<bool, PasswordHashError> {
        Ok(hash.split_once(':').is_some_and(|(_, stored)| stored == password))
    }
    fn needs_rehash(&self, hash: &str) -> bool {
        hash.starts_with("plain:")
    }
}

async fn custom_hasher_upgrades_outdated_hashes_on_sign_in(t: &Ctx, db: &EntityTables) {
    let auth = configure(t.store.db.clone(), &t.clock).password_hasher(UpgradingHasher).build();
    let id = new_user(&auth, "upgrade").await;
    db.insert_key(&DatabaseKey {
        id: "email:u@example.com".into(),
        user_id: id,
        hashed_password: Some("plain:pw".into()),
    })
    .await;
    assert_err!(auth.use_key("email", "u@example.com", Some("wrong")).await, Error::InvalidPassword);
    assert_eq!(db.keys().await[0].hashed_password.as_deref(), Some("plain:pw"));
    auth.use_key("email", "u@example.com", Some("pw")).await.unwrap();
    assert_eq!(db.keys().await[0].hashed_password.as_deref(), Some("good:pw"));
    auth.use_key("email", "u@example.com", Some("pw")).await.unwrap();
}

// ---- sessions ------------------------------------------------------------------------------

async fn create_session_sets_lucia_expiries(t: &Ctx, db: &EntityTables) {
    let id = new_user(&t.auth, "s").await;
    let session = new_session(&t.auth, &id).await;
    assert_eq!(session.session_id.len(), 40);
    assert!(session.session_id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    assert!(session.fresh);
    assert_eq!(session.state, SessionState::Active);
    assert_eq!(session.attributes, xx());
    let row = &db.sessions().await[0];
    assert_eq!((row.active_expires, row.idle_expires), (START + DAY, START + 15 * DAY));
    assert_eq!(session.active_period_expires_at, UNIX_EPOCH + Duration::from_millis((START + DAY) as u64));
    assert_eq!(session.idle_period_expires_at, UNIX_EPOCH + Duration::from_millis((START + 15 * DAY) as u64));
    let duplicate = CreateSession { user_id: id, session_id: Some(session.session_id), attributes: xx() };
    assert_err!(t.auth.create_session(duplicate).await, Error::DuplicateSessionId);
}

async fn create_session_for_unknown_user_writes_nothing(t: &Ctx, db: &EntityTables) {
    let options = CreateSession { user_id: "nobody".into(), session_id: None, attributes: xx() };
    assert_err!(t.auth.create_session(options).await, Error::InvalidUserId);
    assert_eq!(db.sessions().await, vec![]);
}

async fn validate_active_session_does_not_write(t: &Ctx, db: &EntityTables) {
    let id = new_user(&t.auth, "a").await;
    let session = new_session(&t.auth, &id).await;
    let before = db.sessions().await;
    t.set_now(START + DAY / 2);
    let validated = t.auth.validate_session(&session.session_id).await.unwrap();
    assert!(!validated.fresh);
    assert_eq!(validated.state, SessionState::Active);
    assert_eq!(validated.attributes, xx());
    assert_eq!(validated.user.attributes, user("a"));
    assert_eq!(db.sessions().await, before);
}

async fn validate_idle_session_renews_it_as_active(t: &Ctx, db: &EntityTables) {
    let id = new_user(&t.auth, "i").await;
    let session = new_session(&t.auth, &id).await;
    let later = START + 3 * DAY;
    t.set_now(later);
    let renewed = t.auth.validate_session(&session.session_id).await.unwrap();
    assert!(renewed.fresh);
    assert_eq!(renewed.state, SessionState::Active, "Lucia v2 said idle here; fixed");
    assert_eq!(renewed.session_id, session.session_id, "the id is not rotated");
    let row = &db.sessions().await[0];
    assert_eq!((row.active_expires, row.idle_expires), (later + DAY, later + 15 * DAY));
    assert_eq!(row.attributes["country"], "XX");
    assert!(!t.auth.validate_session(&session.session_id).await.unwrap().fresh);
}

async fn expiry_boundaries_are_inclusive(t: &Ctx, _db: &EntityTables) {
    let id = new_user(&t.auth, "b").await;
    let session = new_session(&t.auth, &id).await;
    t.set_now(START + DAY);
    let at_active_end = t.auth.get_session(&session.session_id).await.unwrap();
    assert_eq!(at_active_end.state, SessionState::Active);
    t.set_now(START + DAY + 1);
    assert_eq!(t.auth.get_session(&session.session_id).await.unwrap().state, SessionState::Idle);
    t.set_now(START + 15 * DAY);
    assert_eq!(t.auth.get_session(&session.session_id).await.unwrap().state, SessionState::Idle);
    t.set_now(START + 15 * DAY + 1);
    assert_err!(t.auth.get_session(&session.session_id).await, Error::InvalidSessionId);
    assert_err!(t.auth.validate_session(&session.session_id).await, Error::InvalidSessionId);
}

async fn dead_sessions_are_rejected_and_kept(t: &Ctx, db: &EntityTables) {
    let id = new_user(&t.auth, "d").await;
    let session = new_session(&t.auth, &id).await;
    t.set_now(START + 16 * DAY);
    assert_err!(t.auth.validate_session(&session.session_id).await, Error::InvalidSessionId);
    assert_eq!(db.sessions().await.len(), 1, "Lucia v2 leaves dead rows for the sweeps");
}

async fn get_session_does_not_renew(t: &Ctx, db: &EntityTables) {
    let id = new_user(&t.auth, "g").await;
    let session = new_session(&t.auth, &id).await;
    let before = db.sessions().await;
    t.set_now(START + 2 * DAY);
    let read = t.auth.get_session(&session.session_id).await.unwrap();
    assert_eq!((read.state, read.fresh), (SessionState::Idle, false));
    assert_eq!(db.sessions().await, before);
}

async fn get_all_user_sessions_hides_dead_ones(t: &Ctx, db: &EntityTables) {
    let id = new_user(&t.auth, "all").await;
    let old = new_session(&t.auth, &id).await;
    t.set_now(START + 10 * DAY);
    let newer = new_session(&t.auth, &id).await;
    t.set_now(START + 16 * DAY);
    let live = t.auth.get_all_user_sessions(&id).await.unwrap();
    assert_eq!(live.iter().map(|s| s.session_id.as_str()).collect::<Vec<_>>(), vec![newer.session_id.as_str()]);
    assert_eq!(live[0].state, SessionState::Idle);
    assert_eq!(db.sessions().await.len(), 2);
    assert_ne!(old.session_id, newer.session_id);
    assert_err!(t.auth.get_all_user_sessions("nobody").await, Error::InvalidUserId);
}

async fn update_session_attributes_partial_and_dead(t: &Ctx, db: &EntityTables) {
    let id = new_user(&t.auth, "u").await;
    let session = new_session(&t.auth, &id).await;
    let updated = t.auth.update_session_attributes(&session.session_id, &json!({ "country": "YY" })).await.unwrap();
    assert_eq!(updated.attributes.country, "YY");
    assert_err!(
        t.auth.update_session_attributes(&session.session_id, &json!({ "idle_expires": 0 })).await,
        Error::InvalidAttributes(_)
    );
    assert_err!(t.auth.update_session_attributes("nope", &json!({ "country": "ZZ" })).await, Error::InvalidSessionId);
    assert_err!(t.auth.update_session_attributes("", &json!({ "country": "ZZ" })).await, Error::InvalidSessionId);
    t.set_now(START + 16 * DAY);
    assert_err!(t.auth.update_session_attributes(&session.session_id, &json!({})).await, Error::InvalidSessionId);
    assert_eq!(db.sessions().await.len(), 1);
}

async fn invalidate_sessions(t: &Ctx, db: &EntityTables) {
    let (a, b) = (new_user(&t.auth, "a").await, new_user(&t.auth, "b").await);
    let (a1, _a2, b1) =
        (new_session(&t.auth, &a).await, new_session(&t.auth, &a).await, new_session(&t.auth, &b).await);
    t.auth.invalidate_session(&a1.session_id).await.unwrap();
    t.auth.invalidate_session(&a1.session_id).await.unwrap();
    assert_err!(t.auth.invalidate_session("").await, Error::InvalidSessionId);
    assert_err!(t.auth.validate_session(&a1.session_id).await, Error::InvalidSessionId);
    assert_eq!(db.sessions().await.len(), 2);
    t.auth.invalidate_all_user_sessions(&a).await.unwrap();
    t.auth.invalidate_all_user_sessions("nobody").await.unwrap();
    assert_eq!(db.sessions().await.iter().map(|s| s.id.clone()).collect::<Vec<_>>(), vec![b1.session_id]);
}

async fn delete_dead_sessions_waits_for_the_deletes(t: &Ctx, db: &EntityTables) {
    let (a, b) = (new_user(&t.auth, "a").await, new_user(&t.auth, "b").await);
    new_session(&t.auth, &a).await;
    new_session(&t.auth, &b).await;
    t.set_now(START + 10 * DAY);
    let live = new_session(&t.auth, &a).await;
    t.set_now(START + 16 * DAY);
    t.auth.delete_dead_user_sessions(&a).await.unwrap();
    // Gone as soon as the call returns (Lucia v2 returned before its deletes ran).
    assert_eq!(db.sessions().await.len(), 2);
    assert_eq!(t.auth.delete_dead_sessions().await.unwrap(), 1);
    assert_eq!(db.sessions().await.iter().map(|s| s.id.clone()).collect::<Vec<_>>(), vec![live.session_id]);
}

async fn bad_session_ids_are_rejected_before_the_database(t: &Ctx, _db: &EntityTables) {
    let long = "x".repeat(lucia::MAX_SESSION_ID_LENGTH + 1);
    for id in ["", long.as_str(), "*", "'; DROP TABLE user_session; --", "\u{0}"] {
        assert_err!(t.auth.validate_session(id).await, Error::InvalidSessionId);
        assert_err!(t.auth.get_session(id).await, Error::InvalidSessionId);
    }
}

async fn attributes_that_are_not_columns_are_rejected(t: &Ctx, db: &EntityTables) {
    // With a JSON map as the attribute type, anything can be attempted.
    let auth: Lucia<_, AttributeMap, AttributeMap> = Lucia::builder(test_adapter(t.store.db.clone()))
        .user_attributes::<AttributeMap>()
        .session_attributes::<AttributeMap>()
        .build();
    let with = |value: serde_json::Value| value.as_object().cloned().unwrap();
    let options = CreateUser { user_id: None, key: None, attributes: with(json!({ "id": "x", "username": "x" })) };
    assert_err!(auth.create_user(options).await, Error::InvalidAttributes(_));
    let options = CreateUser { user_id: None, key: None, attributes: with(json!({ "username": "x", "extra": 1 })) };
    assert_err!(auth.create_user(options).await, Error::InvalidAttributes(_));
    let id = auth
        .create_user(CreateUser { user_id: None, key: None, attributes: with(json!({ "username": "ok" })) })
        .await
        .unwrap()
        .user_id;
    let options =
        CreateSession { user_id: id, session_id: None, attributes: with(json!({ "country": "X", "user_id": "y" })) };
    assert_err!(auth.create_session(options).await, Error::InvalidAttributes(_));
    assert_eq!(db.users().await.len(), 1);
    assert_eq!(db.sessions().await, vec![]);

    // A row that does not deserialize into the application's type is a typed error too.
    #[derive(Debug, Serialize, Deserialize)]
    struct Strict {
        username: u32,
    }
    let strict: Lucia<_, Strict> = Lucia::builder(test_adapter(t.store.db.clone())).user_attributes::<Strict>().build();
    let id = &db.users().await[0].id;
    assert_err!(strict.get_user(id).await, Error::InvalidAttributes(_));
}

async fn session_cookies(t: &Ctx, _db: &EntityTables) {
    let id = new_user(&t.auth, "c").await;
    let session = new_session(&t.auth, &id).await;
    let expires = "Fri, 11 Dec 2026 01:04:36 GMT"; // START + 15 days, as `Date.toUTCString` prints it
    assert_eq!(
        t.auth.create_session_cookie(Some(&session)).to_string(),
        format!("auth_session={}; Path=/; Expires={expires}; HttpOnly; SameSite=Lax", session.session_id)
    );
    assert_eq!(
        t.auth.create_session_cookie(None).to_string(),
        "auth_session=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax"
    );

    let prod = configure(t.store.db.clone(), &t.clock)
        .env(Env::Prod)
        .session_cookie(SessionCookieConfig {
            name: "sid".into(),
            domain: Some("example.com".into()),
            expires: false,
            ..SessionCookieConfig::default()
        })
        .build();
    let year_later = "Fri, 26 Nov 2027 01:04:36 GMT"; // START + 365 days
    assert_eq!(
        prod.create_session_cookie(Some(&session)).to_string(),
        format!(
            "sid={}; Domain=example.com; Path=/; Expires={year_later}; HttpOnly; Secure; SameSite=Lax",
            session.session_id
        )
    );
    let strict = configure(t.store.db.clone(), &t.clock)
        .session_cookie(SessionCookieConfig {
            same_site: SameSite::Strict,
            path: None,
            ..SessionCookieConfig::default()
        })
        .build();
    assert!(strict.create_session_cookie(Some(&session)).to_string().ends_with("; HttpOnly; SameSite=Strict"));

    assert_eq!(prod.read_session_cookie("auth_session=a; sid=b").as_deref(), Some("b"));
    assert_eq!(t.auth.read_session_cookie("sid=b"), None);
}

async fn custom_session_periods(t: &Ctx, db: &EntityTables) {
    let periods = SessionExpiresIn { active_period: Duration::from_secs(60), idle_period: Duration::from_secs(120) };
    let auth = configure(t.store.db.clone(), &t.clock).session_expires_in(periods).build();
    let id = new_user(&auth, "p").await;
    let options = CreateSession { user_id: id, session_id: None, attributes: xx() };
    let session = auth.create_session(options).await.unwrap();
    let row = &db.sessions().await[0];
    assert_eq!((row.active_expires, row.idle_expires), (START + 60_000, START + 180_000));
    t.set_now(START + 61_000);
    assert!(auth.validate_session(&session.session_id).await.unwrap().fresh);
    t.set_now(START + 61_000 + 180_001);
    assert_err!(auth.validate_session(&session.session_id).await, Error::InvalidSessionId);
}

async fn ids_no_store_can_hold_are_typed_errors(t: &Ctx, db: &EntityTables) {
    // NUL cannot be stored in PostgreSQL text: such ids can exist nowhere, so every backend
    // answers as for an unknown id instead of failing with a database error.
    let id = new_user(&t.auth, "nul").await;
    assert_err!(t.auth.get_user("a\0b").await, Error::InvalidUserId);
    assert_err!(t.auth.use_key("email", "a\0b", Some("x")).await, Error::InvalidKeyId);
    assert_err!(t.auth.get_key("email", "\0").await, Error::InvalidKeyId);
    assert_err!(t.auth.create_key(&id, email_key("x\0@example.com", None)).await, Error::InvalidKeyId);
    assert_err!(t.auth.create_key("a\0", email_key("y@example.com", None)).await, Error::InvalidUserId);
    let options = CreateSession { user_id: "a\0".into(), session_id: None, attributes: xx() };
    assert_err!(t.auth.create_session(options).await, Error::InvalidUserId);
    let options = CreateUser { user_id: Some("a\0".into()), key: None, attributes: user("z") };
    assert_err!(t.auth.create_user(options).await, Error::InvalidUserId);
    let options = CreateUser { user_id: None, key: None, attributes: user("bad\0name") };
    assert_err!(t.auth.create_user(options).await, Error::InvalidAttributes(_));
    t.auth.delete_user("a\0").await.unwrap();
    t.auth.invalidate_all_user_sessions("a\0").await.unwrap();
    t.auth.delete_dead_user_sessions("a\0").await.unwrap();
    assert_eq!(db.users().await.len(), 1);
    assert_eq!(db.keys().await, vec![]);
}

/// Fails, or panics, on every call.
struct BrokenHasher {
    panics: bool,
}

impl PasswordHasher for BrokenHasher {
    fn hash(&self, _password: &str) -> Result<String, PasswordHashError> {
        if self.panics {
            panic!("hasher bug");
        }
        Err(PasswordHashError::Failed("out of memory".into()))
    }
    fn verify(&self, password: &str, _hash: &str) -> Result<bool, PasswordHashError> {
        self.hash(password).map(|_| true)
    }
}

async fn hasher_failures_are_typed_errors_and_write_nothing(t: &Ctx, db: &EntityTables) {
    for panics in [false, true] {
        let auth = configure(t.store.db.clone(), &t.clock).password_hasher(BrokenHasher { panics }).build();
        let key = email_key("h@example.com", Some("pw"));
        let options = CreateUser { user_id: None, key: Some(key), attributes: user("h") };
        assert_err!(auth.create_user(options).await, Error::PasswordHash(_));
        assert_eq!(db.users().await, vec![]);
        let id = new_user(&t.auth, &format!("hasher{panics}")).await;
        t.auth.create_key(&id, email_key(&format!("{panics}@example.com"), Some("pw"))).await.unwrap();
        assert_err!(auth.use_key("email", &format!("{panics}@example.com"), Some("pw")).await, Error::PasswordHash(_));
        t.auth.delete_user(&id).await.unwrap();
    }
}

async fn store_failures_are_database_errors(t: &Ctx, _db: &EntityTables) {
    // A closed pool: every call fails in the store, and says so as a typed error. (How the pool
    // fails does not depend on the database, so one in-memory SQLite pool serves every backend.)
    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    let auth = configure(db.clone(), &t.clock).build();
    db.close_by_ref().await.unwrap();
    assert_err!(auth.get_user("x").await, Error::Database(_));
    assert_err!(auth.validate_session("x").await, Error::Database(_));
    assert_err!(auth.invalidate_all_user_sessions("x").await, Error::Database(_));
    let options = CreateUser { user_id: None, key: None, attributes: user("z") };
    assert_err!(auth.create_user(options).await, Error::Database(_));
}
