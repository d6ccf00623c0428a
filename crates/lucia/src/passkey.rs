//! Storage of passkeys (WebAuthn credentials) and of their ceremonies' challenges: the
//! [`PasskeyAdapter`] capability of user stores.
//!
//! The core knows nothing of WebAuthn: a credential is stored as opaque text (the JSON the
//! relying-party library makes) beside the few fields a store must compare or list (its
//! signature counter, backup flags, name and times). The `lucia-passkey` crate runs the
//! ceremonies over it.
//!
//! Two promises make passkeys safe to store here:
//!
//! - **A counter never goes backwards**: [`PasskeyAdapter::record_passkey_use`] is one
//!   conditional update that refuses a counter not above the stored one (unless both are 0,
//!   for authenticators without a counter), so two sign-ins racing with one cloned
//!   credential cannot both be accepted.
//! - **A user keeps a way to sign in**: [`PasskeyAdapter::delete_passkey`] counts the user's
//!   keys and passkeys in the same transaction, under a lock of the user's row, and refuses to
//!   delete the last one. Keys are removed the same way with
//!   [`UserAdapter::delete_key_unless_last`] ([`Lucia::delete_key_unless_last`](crate::Lucia::delete_key_unless_last)),
//!   which takes the same lock, so removals of a user's keys and passkeys at once always leave
//!   one. [`UserAdapter::delete_key`] still deletes any key, the last one too, as in Lucia v2:
//!   it is not for removing a sign-in method.
//!
//! Challenges are single-use: [`PasskeyAdapter::take_passkey_challenge`] deletes the row it
//! returns, so of two requests that finish one ceremony, one gets it.
//!
//! ```
//! use lucia::{DatabasePasskey, PasskeyAdapter, SignInMethodDeletion, memory::MemoryAdapter};
//! use lucia::{CreateUser, Lucia, NewKey};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), lucia::Error> {
//! let auth = Lucia::builder(MemoryAdapter::new()).build();
//! let user = auth.create_user(CreateUser::new(Default::default())).await?;
//! let passkey = DatabasePasskey {
//!     id: "Y3JlZGVudGlhbA".into(),
//!     user_id: user.user_id.clone(),
//!     name: "Laptop".into(),
//!     credential: "{}".into(),
//!     counter: 0,
//!     backup_eligible: true,
//!     backup_state: true,
//!     created_at: 1_700_000_000_000,
//!     last_used_at: None,
//! };
//! auth.adapter().insert_passkey(passkey).await?;
//! // Its only way to sign in: deleting it is refused.
//! let deleted = auth.adapter().delete_passkey(&user.user_id, "Y3JlZGVudGlhbA", &[]).await?;
//! assert_eq!(deleted, SignInMethodDeletion::LastSignInMethod);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;

use crate::{AdapterError, SessionAdapter, SignInMethodDeletion, SplitAdapter, UserAdapter};

/// A row of the passkey table: one WebAuthn credential of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabasePasskey {
    /// The credential id, base64url without padding: the primary key.
    pub id: String,
    /// The owning user.
    pub user_id: String,
    /// A name the user gave it ("Laptop"), to tell passkeys apart in a list.
    pub name: String,
    /// The credential as the relying-party library serializes it (public key, counter, flags).
    /// It holds no secret.
    pub credential: String,
    /// The signature counter last seen (0 for authenticators that keep none).
    pub counter: u32,
    /// Whether the credential may be synced to other devices (the BE flag).
    pub backup_eligible: bool,
    /// Whether the credential was synced when last seen (the BS flag).
    pub backup_state: bool,
    /// When it was registered, in milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it was last used to sign in, in milliseconds since the Unix epoch.
    pub last_used_at: Option<i64>,
}

/// What a successful use of a passkey changes: see [`PasskeyAdapter::record_passkey_use`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyUse {
    /// The credential, updated by the relying-party library (its counter and flags).
    pub credential: String,
    /// The signature counter the authenticator sent.
    pub counter: u32,
    /// The backup state flag the authenticator sent.
    pub backup_state: bool,
    /// When it was used, in milliseconds since the Unix epoch.
    pub used_at: i64,
}

/// A row of the passkey challenge table: the server's half of a WebAuthn ceremony in progress.
/// `Debug` does not show the `id` or the state.
#[derive(Clone, PartialEq, Eq)]
pub struct PasskeyChallenge {
    /// Lowercase hex SHA-256 of the ceremony's random handle (the client holds the handle).
    pub id: String,
    /// The user the ceremony is for (registration, second factor), or `None` for a sign-in
    /// with a discoverable credential, where the user is not known yet.
    pub user_id: Option<String>,
    /// The ceremony state as the relying-party library serializes it (it holds the challenge).
    pub state: String,
    /// When it stops working, in milliseconds since the Unix epoch.
    pub expires: i64,
}

impl fmt::Debug for PasskeyChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasskeyChallenge")
            .field("id", &"<redacted>")
            .field("user_id", &self.user_id)
            .field("state", &"<redacted>")
            .field("expires", &self.expires)
            .finish()
    }
}

/// Storage of passkeys and their ceremonies' challenges, beside users and keys: a capability
/// of user stores.
///
/// Contract (checked by the `lucia-adapter-test` conformance suite's passkey cases): passkeys
/// refer to users (an unknown user is [`AdapterError::InvalidUserId`]) and are deleted with
/// them ([`UserAdapter::delete_user_and_keys`]); a taken credential id is
/// [`AdapterError::DuplicateKeyId`] (a passkey is a way to sign in, as a key is); lookups of
/// unknown ids return `None` or an empty list.
pub trait PasskeyAdapter: UserAdapter {
    /// Inserts a passkey.
    fn insert_passkey(&self, passkey: DatabasePasskey) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// The passkey with this credential id.
    fn get_passkey(
        &self,
        passkey_id: &str,
    ) -> impl Future<Output = Result<Option<DatabasePasskey>, AdapterError>> + Send;

    /// The user's passkeys, oldest first.
    fn get_user_passkeys(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<DatabasePasskey>, AdapterError>> + Send;

    /// Records a use of a passkey, in one conditional update: sets its credential, counter,
    /// backup state and last use only if the new counter is above the stored one, or both are
    /// 0. Returns whether it did: `false` for an unknown passkey or a counter that did not go
    /// up (a cloned credential, or another use of it that got there first).
    fn record_passkey_use(
        &self,
        passkey_id: &str,
        passkey_use: PasskeyUse,
    ) -> impl Future<Output = Result<bool, AdapterError>> + Send;

    /// Renames one of the user's passkeys; returns whether it had one with this id.
    fn rename_passkey(
        &self,
        user_id: &str,
        passkey_id: &str,
        name: &str,
    ) -> impl Future<Output = Result<bool, AdapterError>> + Send;

    /// Deletes one of the user's passkeys unless it is the user's last way to sign in: in one
    /// transaction, with the user's row locked as in
    /// [`delete_key_unless_last`](UserAdapter::delete_key_unless_last), counts the user's keys
    /// and passkeys and deletes only if there are two or more. Of two removals at once (two
    /// passkeys, or a passkey and a key removed with `delete_key_unless_last`), the second
    /// counts what the first left, so one way to sign in remains; the conformance suite races
    /// them. Every key counts here (there is no list of uncounted providers).
    ///
    /// [`delete_key`](UserAdapter::delete_key) is not part of this promise: it deletes even a
    /// user's last key, as in Lucia v2, so racing it a passkey deletion acts as if one ran
    /// after the other and may leave the user with no way in, as the two calls one after the
    /// other do. Remove keys with `delete_key_unless_last`.
    fn delete_passkey(
        &self,
        user_id: &str,
        passkey_id: &str,
        uncounted_providers: &[&str],
    ) -> impl Future<Output = Result<SignInMethodDeletion, AdapterError>> + Send;

    /// Stores a ceremony's challenge.
    fn insert_passkey_challenge(
        &self,
        challenge: PasskeyChallenge,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Deletes the challenge with this id and returns it, expired or not (the caller checks
    /// `expires`): of concurrent calls for one id, at most one gets it.
    fn take_passkey_challenge(
        &self,
        challenge_id: &str,
    ) -> impl Future<Output = Result<Option<PasskeyChallenge>, AdapterError>> + Send;

    /// Deletes every challenge whose `expires` is before `now_ms`, and returns how many.
    fn delete_expired_passkey_challenges(&self, now_ms: i64) -> impl Future<Output = Result<u64, AdapterError>> + Send;
}

impl<U: PasskeyAdapter, S: SessionAdapter> PasskeyAdapter for SplitAdapter<U, S> {
    fn insert_passkey(&self, passkey: DatabasePasskey) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.users().insert_passkey(passkey)
    }
    fn get_passkey(
        &self,
        passkey_id: &str,
    ) -> impl Future<Output = Result<Option<DatabasePasskey>, AdapterError>> + Send {
        self.users().get_passkey(passkey_id)
    }
    fn get_user_passkeys(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<DatabasePasskey>, AdapterError>> + Send {
        self.users().get_user_passkeys(user_id)
    }
    fn record_passkey_use(
        &self,
        passkey_id: &str,
        passkey_use: PasskeyUse,
    ) -> impl Future<Output = Result<bool, AdapterError>> + Send {
        self.users().record_passkey_use(passkey_id, passkey_use)
    }
    fn rename_passkey(
        &self,
        user_id: &str,
        passkey_id: &str,
        name: &str,
    ) -> impl Future<Output = Result<bool, AdapterError>> + Send {
        self.users().rename_passkey(user_id, passkey_id, name)
    }
    fn delete_passkey(
        &self,
        user_id: &str,
        passkey_id: &str,
        uncounted_providers: &[&str],
    ) -> impl Future<Output = Result<SignInMethodDeletion, AdapterError>> + Send {
        self.users().delete_passkey(user_id, passkey_id, uncounted_providers)
    }
    fn insert_passkey_challenge(
        &self,
        challenge: PasskeyChallenge,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.users().insert_passkey_challenge(challenge)
    }
    fn take_passkey_challenge(
        &self,
        challenge_id: &str,
    ) -> impl Future<Output = Result<Option<PasskeyChallenge>, AdapterError>> + Send {
        self.users().take_passkey_challenge(challenge_id)
    }
    fn delete_expired_passkey_challenges(&self, now_ms: i64) -> impl Future<Output = Result<u64, AdapterError>> + Send {
        self.users().delete_expired_passkey_challenges(now_ms)
    }
}

/// Whether a use with counter `new` may follow the stored counter `stored`: the rule every
/// store's [`PasskeyAdapter::record_passkey_use`] applies.
///
/// ```
/// assert!(lucia::passkey_counter_advances(0, 0));
/// assert!(lucia::passkey_counter_advances(4, 5));
/// assert!(!lucia::passkey_counter_advances(5, 5));
/// assert!(!lucia::passkey_counter_advances(5, 0));
/// ```
pub fn passkey_counter_advances(stored: u32, new: u32) -> bool {
    new > stored || (new == 0 && stored == 0)
}
