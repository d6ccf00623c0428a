//! [`DemoAdapter`]: the store the demo runs on, chosen at start-up: everything in SQL, or users
//! and keys in SQL with sessions in Redis. One type either way, so the handlers name one
//! `Lucia` type.

use lucia::{
    Adapter, AdapterError, AttributeMap, DatabaseKey, DatabaseSession, DatabaseToken, DatabaseTotp, DatabaseUser,
    SecondFactorAdapter, SessionAdapter, SessionUpdate, SignInMethodDeletion, SplitAdapter, TokenAdapter, TokenKind,
    UserAdapter,
};
use lucia::{DatabasePasskey, PasskeyAdapter, PasskeyChallenge, PasskeyUse};
use lucia_adapter_redis::RedisSessionAdapter;
use lucia_adapter_sea_orm::{SeaOrmAdapterWithSecondFactorAndPasskeys, SeaOrmUserAdapterWithSecondFactorAndPasskeys};
use lucia_adapter_sqlite::{SqliteAdapter, WithPasskeys};

/// Where the demo keeps users, keys, sessions, single-use tokens (verification codes, reset
/// links, pending two-step sign-ins), second factors (TOTP secrets, recovery codes) and
/// passkeys (with their ceremonies); all but sessions always beside the users.
#[derive(Clone)]
pub enum DemoAdapter {
    /// Everything in a SQLite file (the default): `lucia-adapter-sqlite`, whose session lookup
    /// runs in place on a reader connection.
    Sqlite(SqliteAdapter<WithPasskeys>),
    /// Everything in PostgreSQL, MySQL/MariaDB or an in-memory SQLite database.
    Sql(SeaOrmAdapterWithSecondFactorAndPasskeys),
    /// Users, keys, tokens, second factors and passkeys in SQL, sessions in Redis
    /// (`--redis-url`): several instances of the demo can share one Redis.
    Split(SplitAdapter<SeaOrmUserAdapterWithSecondFactorAndPasskeys, RedisSessionAdapter>),
}

impl std::fmt::Debug for DemoAdapter {
    // Which stores only: nothing of their connections, whose URLs may hold passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(_) => f.write_str("DemoAdapter::Sqlite"),
            Self::Sql(_) => f.write_str("DemoAdapter::Sql"),
            Self::Split(split) => f.debug_tuple("DemoAdapter::Split").field(split.sessions()).finish(),
        }
    }
}

/// Implements trait methods by calling the same method of the chosen store, provided methods
/// included: each store keeps its own versions of them (SQL's one-query session lookup and
/// transactions, the split store's checks across its two stores).
macro_rules! delegate {
    ($(fn $method:ident(&self $(, $arg:ident: $type:ty)*) -> $output:ty;)*) => {$(
        async fn $method(&self $(, $arg: $type)*) -> Result<$output, AdapterError> {
            match self {
                Self::Sqlite(store) => store.$method($($arg),*).await,
                Self::Sql(store) => store.$method($($arg),*).await,
                Self::Split(store) => store.$method($($arg),*).await,
            }
        }
    )*};
}

impl UserAdapter for DemoAdapter {
    delegate! {
        fn get_user(&self, user_id: &str) -> Option<DatabaseUser>;
        fn set_user(&self, user: DatabaseUser, key: Option<DatabaseKey>) -> ();
        fn update_user(&self, user_id: &str, attributes: AttributeMap) -> ();
        fn delete_user(&self, user_id: &str) -> ();
        fn get_key(&self, key_id: &str) -> Option<DatabaseKey>;
        fn get_key_latest(&self, key_id: &str) -> Option<DatabaseKey>;
        fn get_keys_by_user_id(&self, user_id: &str) -> Vec<DatabaseKey>;
        fn set_key(&self, key: DatabaseKey) -> ();
        fn update_key(&self, key_id: &str, hashed_password: Option<&str>) -> ();
        fn replace_key_password(&self, key_id: &str, current: &str, new: &str) -> bool;
        fn delete_key(&self, key_id: &str) -> ();
        fn delete_key_unless_last(&self, user_id: &str, key_id: &str, uncounted_providers: &[&str]) -> SignInMethodDeletion;
        fn delete_keys_by_user_id(&self, user_id: &str) -> ();
        fn delete_expired_tokens(&self, now_ms: i64) -> u64;
    }
}

impl TokenAdapter for DemoAdapter {
    delegate! {
        fn set_token(&self, token: DatabaseToken) -> ();
        fn get_token(&self, token_id: &str) -> Option<DatabaseToken>;
        fn get_user_token(&self, user_id: &str, kind: TokenKind) -> Option<DatabaseToken>;
        fn count_token_attempt(&self, token_id: &str) -> Option<u32>;
        fn consume_token(&self, token_id: &str, attributes: AttributeMap) -> bool;
        fn revoke_user_tokens(&self, user_id: &str, attributes: AttributeMap) -> ();
    }
}

impl SessionAdapter for DemoAdapter {
    delegate! {
        fn get_session(&self, session_id: &str) -> Option<DatabaseSession>;
        fn get_sessions_by_user_id(&self, user_id: &str) -> Vec<DatabaseSession>;
        fn set_session(&self, session: DatabaseSession) -> ();
        fn update_session(&self, session_id: &str, update: SessionUpdate) -> ();
        fn delete_session(&self, session_id: &str) -> ();
        fn delete_sessions_by_user_id(&self, user_id: &str) -> ();
        fn delete_dead_sessions_by_user_id(&self, user_id: &str, now_ms: i64) -> ();
        fn delete_dead_sessions(&self, now_ms: i64) -> u64;
    }
}

impl Adapter for DemoAdapter {
    delegate! {
        fn get_session_and_user(&self, session_id: &str) -> Option<(DatabaseSession, DatabaseUser)>;
        fn delete_user_cascade(&self, user_id: &str) -> ();
        fn update_key_and_end_sessions(&self, key_id: &str, hashed_password: Option<&str>, user_id: &str) -> ();
    }
}

impl SecondFactorAdapter for DemoAdapter {
    delegate! {
        fn get_totp(&self, user_id: &str) -> Option<DatabaseTotp>;
        fn set_totp(&self, totp: DatabaseTotp) -> ();
        fn use_totp_step(&self, user_id: &str, encrypted_secret: &str, step: i64, confirm: bool) -> bool;
        fn delete_totp(&self, user_id: &str) -> ();
        fn set_recovery_codes(&self, user_id: &str, code_hashes: Vec<String>) -> ();
        fn consume_recovery_code(&self, user_id: &str, code_hash: &str) -> bool;
        fn count_recovery_codes(&self, user_id: &str) -> u64;
    }
}

impl PasskeyAdapter for DemoAdapter {
    delegate! {
        fn insert_passkey(&self, passkey: DatabasePasskey) -> ();
        fn get_passkey(&self, passkey_id: &str) -> Option<DatabasePasskey>;
        fn get_user_passkeys(&self, user_id: &str) -> Vec<DatabasePasskey>;
        fn record_passkey_use(&self, passkey_id: &str, passkey_use: PasskeyUse) -> bool;
        fn rename_passkey(&self, user_id: &str, passkey_id: &str, name: &str) -> bool;
        fn delete_passkey(&self, user_id: &str, passkey_id: &str, uncounted_providers: &[&str]) -> SignInMethodDeletion;
        fn insert_passkey_challenge(&self, challenge: PasskeyChallenge) -> ();
        fn take_passkey_challenge(&self, challenge_id: &str) -> Option<PasskeyChallenge>;
        fn delete_expired_passkey_challenges(&self, now_ms: i64) -> u64;
    }
}
