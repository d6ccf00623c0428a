//! Authentication in the Lucia v2 model: users with typed attributes, keys
//! (`provider_id:provider_user_id` with an optional password) so one user can sign in several
//! ways, and database sessions with an active and an idle period, renewed on validation.
//!
//! This crate holds the rules and no database code; storage comes from an [`Adapter`], such
//! as `lucia-adapter-sea-orm`. It can share a database with a running Lucia v2 (Node)
//! application: same tables, ids, `s2:` scrypt hashes and millisecond expiries
//! ([`LuciaBuilder::lucia_v2_compat`]).
//!
//! ```
//! use lucia::{CreateUser, Lucia, NewKey};
//! # use lucia::{Adapter, Error};
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct UserAttributes {
//!     username: String,
//! }
//!
//! # async fn demo<A: Adapter>(adapter: A) -> Result<(), Error> {
//! let auth = Lucia::builder(adapter).user_attributes::<UserAttributes>().build();
//!
//! // Sign up: a user and an email + password key, in one transaction.
//! let attributes = UserAttributes { username: "ada".into() };
//! let key = NewKey::password("email", "ada@example.com", "correct horse battery staple");
//! let user = auth.create_user(CreateUser::new(attributes).with_key(key)).await?;
//!
//! // Sign in: check the password and start a session, safe against a password change racing
//! // it. The token is the credential: it goes into the cookie, and nowhere else.
//! let signed_in = auth.sign_in("email", "ada@example.com", Some("correct horse battery staple"), Default::default()).await?;
//! let set_cookie = auth.create_session_cookie(&signed_in.token, &signed_in.session).to_string();
//!
//! // On each request: validate the token (renewing idle sessions), then sign out.
//! let token = signed_in.token.expose_secret();
//! let session = auth.validate_session(token).await?;
//! assert_eq!(session.user.attributes.username, "ada");
//!
//! // List sessions by handle (no token in them), and revoke one.
//! let sessions = auth.get_all_user_sessions(&user.user_id).await?;
//! assert!(auth.invalidate_user_session(&user.user_id, &sessions[0].handle).await?);
//! # let _ = set_cookie;
//! # Ok(())
//! # }
//! ```
//!
//! `Lucia` is cheap to clone (one shared adapter and configuration) and its futures are
//! `Send`, so it fits in any framework's state.
//!
//! **Passwords** are hashed with [`Argon2id`] (OWASP's parameters) by default; Lucia v2's `s2:`
//! scrypt hashes still verify and are upgraded to Argon2id on the next sign-in. Hashing runs on
//! threads of its own, a few at a time ([`LuciaBuilder::hashing_threads`]) with a bounded queue
//! ([`LuciaBuilder::hashing_queue`], then [`Error::Busy`]), never on an async worker, and in
//! the background ([`HashingPriority`]): requests that arrive during sign-ins are served first.
//! Where Redis or a database shares the cores, an idle cgroup ([`HashingCgroup`]) beside
//! theirs puts the hashes behind those processes too.
//! New passwords must pass a [`PasswordPolicy`] (8 characters by default; a `zxcvbn` strength
//! estimate and the application's own check on demand).
//!
//! **Session tokens** are stored as their SHA-256 by default ([`SessionTokens::Hashed`]), so a
//! leaked session table yields no live session; [`LuciaBuilder::lucia_v2_compat`] stores them
//! in clear, as Lucia v2 does, to share a database with a Lucia v2 application. Sessions are
//! listed and revoked by [`SessionHandle`]s, which cannot authenticate.
//!
//! **Sign-ins are throttled per key**, on by default: after five attempts on one key (right
//! or wrong, counted before the password is checked), each further attempt must wait twice as
//! long as the one before, from 1 s up to 15 minutes, until the right password clears the
//! count ([`Backoff`], [`LuciaBuilder::sign_in_throttle`]). A throttled attempt is
//! [`Error::Throttled`] and costs no hashing. The count is kept in memory
//! ([`MemoryThrottleStore`]) unless the application shares a store between its instances
//! (`lucia-adapter-redis`'s `RedisThrottleStore`).
//!
//! **Email verification and password reset** run over single-use tokens, when the adapter
//! also stores them ([`TokenAdapter`]): [`Lucia::issue_email_verification`] and
//! [`Lucia::verify_email`] (8-digit codes, 15 minutes, 5 tries), [`Lucia::request_password_reset`]
//! and [`Lucia::reset_password`] (links of an hour at most; a reset ends every session), and
//! [`Lucia::change_email`]. Tokens are random, stored as SHA-256, one per user and kind, used
//! up atomically, and issued at a limited rate ([`EmailSettings`]).
//!
//! **Passkeys** are stored through [`PasskeyAdapter`] (credentials as opaque text, a signature
//! counter that never goes backwards, the last way to sign in never removed, single-use
//! ceremony challenges); the `lucia-passkey` crate runs the WebAuthn ceremonies over it.
//!
//! **A second factor**, when the adapter also stores one ([`SecondFactorAdapter`]) and the
//! builder has its settings ([`LuciaBuilder::second_factor`], which require the application's
//! [`TotpEncryptionKey`]): TOTP codes (RFC 6238) with ten single-use recovery codes, and a
//! two-step sign-in whose pending step authenticates nothing else; see
//! [`Lucia::enrol_totp`] and [`Lucia::sign_in_with_second_factor`]. Once a user has confirmed
//! a TOTP, [`Lucia::sign_in`] refuses them ([`Error::SecondFactorRequired`]).
//!
//! **Dead sessions** are deleted by a sweep: [`Lucia::spawn_session_sweeper`] runs one
//! periodically in the background (expired codes and links too), reports each through
//! `tracing`, and stops at shutdown.
//!
//! The `memory` feature adds `memory::MemoryAdapter`, an in-memory store for tests and
//! prototypes. Differences from Lucia v2 are listed in the README and on each method.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz;
mod adapter;
mod auth;
mod config;
mod cookie;
pub mod csrf;
mod deadline;
mod error;
mod hashing_cgroup;
mod id;
mod key;
#[cfg(feature = "memory")]
pub mod memory;
mod passkey;
mod password;
mod policy;
mod second_factor;
mod session;
mod sweeper;
mod throttle;
mod token;
mod user;
mod verification;

/// The `cookie` crate, whose [`Cookie`](::cookie::Cookie) [`SessionCookie::into_cookie`] returns.
pub use ::cookie as cookie_crate;
pub use adapter::{
    Adapter, AttributeMap, DatabaseKey, DatabaseSession, DatabaseUser, SessionAdapter, SessionUpdate,
    SignInMethodDeletion, SplitAdapter, UserAdapter, counts_as_sign_in_method,
};
pub use auth::{CreateSession, CreateUser, DEAD_SESSION_GRACE_MS, Lucia, NewKey, NoAttributes};
pub use config::{Clock, Config, Env, LuciaBuilder, SessionExpiresIn};
pub use cookie::{
    DEFAULT_SESSION_COOKIE_NAME, SameSite, SessionCookie, SessionCookieConfig, read_bearer_token, read_cookie,
    read_cookies,
};
pub use csrf::{AllowedSubdomains, CsrfConfig, Origin, OriginError};
pub use error::{AdapterError, BoxError, Error};
pub use hashing_cgroup::{HashingCgroup, HashingCgroupError};
pub use id::{ALPHABET, SESSION_ID_LENGTH, USER_ID_LENGTH, generate_random_string};
pub use key::{Key, create_key_id};
pub use passkey::{DatabasePasskey, PasskeyAdapter, PasskeyChallenge, PasskeyUse, passkey_counter_advances};
pub use password::{Argon2id, HashingPriority, LuciaScrypt, MAX_PASSWORD_BYTES, PasswordHashError, PasswordHasher};
pub use policy::{PasswordPolicy, PasswordRejection};
pub use second_factor::{
    DatabaseTotp, InvalidEncryptionKey, PendingSignIn, RECOVERY_CODE_COUNT, RecoveryCodes, SecondFactorAdapter,
    SecondFactorCode, SecondFactorSettings, SignIn, TestAuthenticator, TotpEncryptionKey, TotpEnrolment,
};
pub use session::{NewSession, Session, SessionState};
pub use sweeper::SessionSweeper;
pub use throttle::{Attempt, Backoff, MAX_THROTTLE_KEY_LENGTH, MemoryThrottleStore, ThrottleStore};
pub use token::{InvalidSessionHandle, MAX_SESSION_TOKEN_LENGTH, SessionHandle, SessionToken, SessionTokens};
pub use user::User;
pub use verification::{
    DatabaseToken, EmailSettings, EmailVerificationCode, PasswordReset, PasswordResetRequest, TokenAdapter, TokenKind,
    VERIFICATION_CODE_DIGITS,
};
