//! Authentication in the Lucia v2 model: users with typed attributes, keys
//! (`provider_id:provider_user_id` with an optional password) so one user can sign in several
//! ways, and database sessions with an active and an idle period, renewed on validation.
//!
//! This crate holds the rules and no database code; storage comes from an [`Adapter`], such
//! as `lucia-adapter-sea-orm`. It can share a database with a running Lucia v2 (Node)
//! application: same tables, ids, `s2:` scrypt hashes and millisecond expiries.
//!
//! ```
//! use lucia::{CreateSession, CreateUser, Lucia, NewKey};
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
//! let user = auth
//!     .create_user(CreateUser {
//!         user_id: None,
//!         key: Some(NewKey {
//!             provider_id: "email".into(),
//!             provider_user_id: "ada@example.com".into(),
//!             password: Some("correct horse battery staple".into()),
//!         }),
//!         attributes: UserAttributes { username: "ada".into() },
//!     })
//!     .await?;
//!
//! // Sign in: check the password, then start a session.
//! let key = auth.use_key("email", "ada@example.com", Some("correct horse battery staple")).await?;
//! let session = auth
//!     .create_session(CreateSession { user_id: key.user_id, session_id: None, attributes: Default::default() })
//!     .await?;
//! let set_cookie = auth.create_session_cookie(Some(&session)).to_string();
//!
//! // On each request: validate (renewing idle sessions), then sign out.
//! let session = auth.validate_session(&session.session_id).await?;
//! assert_eq!(session.user.attributes.username, "ada");
//! auth.invalidate_session(&session.session_id).await?;
//! # let _ = (user, set_cookie);
//! # Ok(())
//! # }
//! ```
//!
//! `Lucia` is cheap to clone (one shared adapter and configuration) and its futures are
//! `Send`, so it fits in any framework's state. Password hashing (32 MiB of scrypt per call)
//! runs on tokio's blocking threads, a few at a time ([`LuciaBuilder::hashing_threads`]), never
//! on an async worker; outside a tokio runtime it runs in place.
//!
//! Differences from Lucia v2, where v2 was buggy or weak, are listed on each method; the
//! main ones: a renewed session is `Active` (not `Idle`); a duplicate user id is
//! [`Error::DuplicateUserId`], not a duplicate key; `create_session` never leaves an orphan
//! row; `delete_dead_user_sessions` waits for its deletes; cookie attributes merge with the
//! defaults; CSRF checks the scheme and uses the public suffix list.

#![deny(missing_docs)]

mod adapter;
mod auth;
mod config;
mod cookie;
pub mod csrf;
mod error;
mod id;
mod key;
mod password;
mod session;
mod user;

pub use adapter::{
    Adapter, AttributeMap, DatabaseKey, DatabaseSession, DatabaseUser, SessionAdapter, SessionUpdate, SplitAdapter,
    UserAdapter,
};
pub use auth::{CreateSession, CreateUser, Lucia, MAX_SESSION_ID_LENGTH, NewKey, NoAttributes};
pub use config::{Clock, Config, Env, LuciaBuilder, SessionExpiresIn};
pub use cookie::{
    DEFAULT_SESSION_COOKIE_NAME, SameSite, SessionCookie, SessionCookieConfig, read_bearer_token, read_cookie,
};
pub use csrf::{AllowedSubdomains, CsrfConfig, Origin, OriginError};
pub use error::{AdapterError, BoxError, Error};
pub use id::{ALPHABET, SESSION_ID_LENGTH, USER_ID_LENGTH, generate_random_string};
pub use key::{Key, create_key_id};
pub use password::{LuciaScrypt, PasswordHashError, PasswordHasher};
pub use session::{Session, SessionState};
pub use user::User;
