//! Every store call of a [`Lucia`](crate::Lucia), its throttle store's too, within a deadline
//! ([`LuciaBuilder::store_timeout`](crate::LuciaBuilder::store_timeout)): a store that stalls
//! (a dead connection, a locked row, a partitioned network) costs a request at most the
//! deadline, then [`AdapterError::Unavailable`], which lucia-axum answers `503` with
//! `Retry-After` and never as a sign-out.
//!
//! A call cut off by the deadline is dropped: SQL drivers roll back its open transaction when
//! the connection is returned; a write already sent may still commit, as with any timeout, and
//! every operation that writes more than one row does it in one atomic call, so the store is
//! never left half-written.

use std::future::Future;
use std::time::Duration;

use crate::adapter::{
    Adapter, AttributeMap, DatabaseKey, DatabaseSession, DatabaseUser, SessionAdapter, SessionUpdate,
    SignInMethodDeletion, UserAdapter,
};
use crate::error::AdapterError;
use crate::second_factor::{DatabaseTotp, SecondFactorAdapter};
use crate::verification::{DatabaseToken, TokenAdapter, TokenKind};

/// The default deadline of a store call.
pub(crate) const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest deadline [`LuciaBuilder::store_timeout`](crate::LuciaBuilder::store_timeout)
/// accepts: a request waiting longer on its store is an outage, better answered `503`.
pub(crate) const MAX_STORE_TIMEOUT: Duration = Duration::from_secs(10);

/// An adapter whose calls each end within `timeout`.
pub(crate) struct Deadlined<A> {
    adapter: A,
    timeout: Duration,
}

impl<A> Deadlined<A> {
    pub(crate) fn new(adapter: A, timeout: Duration) -> Self {
        Self { adapter, timeout }
    }

    /// The application's adapter.
    pub(crate) fn inner(&self) -> &A {
        &self.adapter
    }
}

/// `call`, or [`AdapterError::Unavailable`] if it has not answered within `timeout`.
pub(crate) async fn within<T>(
    timeout: Duration,
    call: impl Future<Output = Result<T, AdapterError>>,
) -> Result<T, AdapterError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result,
        Err(_) => Err(AdapterError::unavailable(format!("the store did not answer within {timeout:?}"))),
    }
}

/// Trait methods that forward to the wrapped adapter within the deadline.
macro_rules! within_deadline {
    ($(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $out:ty;)*) => {
        $(fn $name(&self $(, $arg: $ty)*) -> impl Future<Output = Result<$out, AdapterError>> + Send {
            within(self.timeout, self.adapter.$name($($arg),*))
        })*
    };
}

impl<A: UserAdapter> UserAdapter for Deadlined<A> {
    within_deadline! {
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
        fn delete_user_and_keys(&self, user_id: &str) -> ();
    }

    /// A background sweep in batches, which may rightly take longer on a large table: no
    /// deadline.
    fn delete_expired_tokens(&self, now_ms: i64) -> impl Future<Output = Result<u64, AdapterError>> + Send {
        self.adapter.delete_expired_tokens(now_ms)
    }

    fn new_user_id(&self) -> String {
        self.adapter.new_user_id()
    }
}

impl<A: SessionAdapter> SessionAdapter for Deadlined<A> {
    within_deadline! {
        fn get_session(&self, session_id: &str) -> Option<DatabaseSession>;
        fn get_sessions_by_user_id(&self, user_id: &str) -> Vec<DatabaseSession>;
        fn set_session(&self, session: DatabaseSession) -> ();
        fn update_session(&self, session_id: &str, update: SessionUpdate) -> ();
        fn delete_session(&self, session_id: &str) -> ();
        fn delete_sessions_by_user_id(&self, user_id: &str) -> ();
        fn delete_dead_sessions_by_user_id(&self, user_id: &str, now_ms: i64) -> ();
    }

    /// A background sweep, as [`delete_expired_tokens`](UserAdapter::delete_expired_tokens):
    /// no deadline.
    fn delete_dead_sessions(&self, now_ms: i64) -> impl Future<Output = Result<u64, AdapterError>> + Send {
        self.adapter.delete_dead_sessions(now_ms)
    }
}

impl<A: Adapter> Adapter for Deadlined<A> {
    within_deadline! {
        fn get_session_and_user(&self, session_id: &str) -> Option<(DatabaseSession, DatabaseUser)>;
        fn delete_user_cascade(&self, user_id: &str) -> ();
        fn update_key_and_end_sessions(&self, key_id: &str, hashed_password: Option<&str>, user_id: &str) -> ();
    }
}

impl<A: TokenAdapter> TokenAdapter for Deadlined<A> {
    within_deadline! {
        fn set_token(&self, token: DatabaseToken) -> ();
        fn get_token(&self, token_id: &str) -> Option<DatabaseToken>;
        fn get_user_token(&self, user_id: &str, kind: TokenKind) -> Option<DatabaseToken>;
        fn count_token_attempt(&self, token_id: &str) -> Option<u32>;
        fn consume_token(&self, token_id: &str, attributes: AttributeMap) -> bool;
        fn revoke_user_tokens(&self, user_id: &str, attributes: AttributeMap) -> ();
    }
}

impl<A: SecondFactorAdapter> SecondFactorAdapter for Deadlined<A> {
    within_deadline! {
        fn get_totp(&self, user_id: &str) -> Option<DatabaseTotp>;
        fn set_totp(&self, totp: DatabaseTotp) -> ();
        fn use_totp_step(&self, user_id: &str, encrypted_secret: &str, step: i64, confirm: bool) -> bool;
        fn delete_totp(&self, user_id: &str) -> ();
        fn set_recovery_codes(&self, user_id: &str, code_hashes: Vec<String>) -> ();
        fn consume_recovery_code(&self, user_id: &str, code_hash: &str) -> bool;
        fn count_recovery_codes(&self, user_id: &str) -> u64;
    }
}
