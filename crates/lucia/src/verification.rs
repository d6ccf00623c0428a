//! Single-use tokens: email verification codes and password-reset links.
//!
//! Both are random secrets from the operating system's CSPRNG, handed out once (to be mailed)
//! and stored only as a SHA-256, bound to a user and an email address, short-lived, and
//! consumed atomically: of two requests that present the same token at once, one succeeds.
//! A user has at most one outstanding token of each kind; issuing a new one replaces it, and
//! [`Lucia::change_email`] revokes both.
//!
//! - **Email verification**: [`Lucia::issue_email_verification`] makes an 8-digit code for the
//!   user's email address (15 minutes by default); [`Lucia::verify_email`] checks it, in
//!   constant time, at most [`EmailSettings::max_code_attempts`] times, and sets the user's
//!   "verified" attribute.
//! - **Password reset**: [`Lucia::request_password_reset`] takes an email address, throttles
//!   it, and gives a [`PasswordResetRequest`] whose [`issue`](PasswordResetRequest::issue)
//!   makes a link token if the address has a password key (one hour at most);
//!   [`Lucia::reset_password`] redeems it with a new password, ends all the user's sessions,
//!   and counts the address as verified.
//!
//! Issuing is throttled per user (codes) and per address (resets), in the sign-in throttle's
//! store ([`EmailSettings::issue_backoff`]); a refused issue is [`Error::Throttled`].
//!
//! What the hashes protect against: a reset token has about 206 bits, so its SHA-256 in a
//! leaked table gives nothing away. A code has 8 digits, so anyone who can read the token
//! table (a backup, a replica) can find an outstanding code by trying all 10⁸; codes live
//! minutes and are tried 5 times, and verifying an address is all they do. A link that was
//! sent keeps working for at least 15 minutes: asking for another one meanwhile sends
//! nothing, so nobody can keep a user's link from working by asking for new ones. Requests
//! for one address share one throttle, so someone asking for links to another's address many
//! times makes its owner wait too (up to an hour); per-IP limits in front
//! (`lucia-axum`) bound how fast anyone can do that.
//!
//! Tokens live in the user store: an adapter that implements [`TokenAdapter`] (the memory
//! adapter, `lucia-adapter-sea-orm` with a token entity, `lucia-adapter-sqlite`).
//!
//! ```
//! use lucia::{CreateUser, Error, Lucia, NewKey, memory::MemoryAdapter};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct UserAttributes {
//!     email: String,
//!     email_verified: bool,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let auth = Lucia::builder(MemoryAdapter::new()).user_attributes::<UserAttributes>().build();
//! let email = "ada@example.com";
//! let key = NewKey::password("email", email, "correct horse battery staple");
//! let user = auth
//!     .create_user(CreateUser::new(UserAttributes { email: email.into(), email_verified: false }).with_key(key))
//!     .await?;
//!
//! // Sign-up: mail a code to the address, and ask for it.
//! let code = auth.issue_email_verification(&user.user_id).await?;
//! # let mail_body = code.code().to_owned();
//! // send `code.code()` to `code.email`, then, when the user types it in:
//! auth.verify_email(&user.user_id, &mail_body).await?;
//! assert!(auth.get_user(&user.user_id).await?.attributes.email_verified);
//!
//! // "Forgot password": throttle first, then issue and mail off the request's path, so that
//! // the response says nothing (in content or timing) about whether the address exists.
//! let request = auth.request_password_reset(email).await?;
//! let issued = tokio::spawn(request.issue());
//! // ... answer the client, the same way whatever `issue` finds ...
//! if let Ok(Ok(Some(reset))) = issued.await {
//!     // mail a link with `reset.token()` to `reset.email`
//! # let link_token = reset.token().to_owned();
//!     // ... and when the link is opened and a new password chosen:
//!     auth.reset_password(&link_token, "a new and better passphrase").await?;
//! }
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::session::to_millis;
use crate::throttle::Attempt;
use crate::token::sha256_hex;
use crate::{
    Adapter, AdapterError, AttributeMap, Backoff, DatabaseUser, Error, Lucia, SplitAdapter, User, UserAdapter,
    create_key_id, generate_random_string,
};

/// Digits in an email verification code.
pub const VERIFICATION_CODE_DIGITS: usize = 8;
/// Characters in a password-reset token (`[a-z0-9]`, about 206 bits).
const RESET_TOKEN_LENGTH: usize = 40;
/// The longest a code or a reset link may live.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// How long a reset link works at least once sent: a new request for the address within that
/// time sends no new link, so that nobody can keep a user's link from working by asking for
/// another one (a live link is replaced only once it is this old).
const RESET_LINK_GUARANTEED: Duration = Duration::from_secs(15 * 60);

/// What a single-use token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenKind {
    /// A code that proves the user received mail at an address.
    EmailVerification,
    /// A link token that lets the user set a new password.
    PasswordReset,
    /// A pending two-step sign-in: the password was right, a second factor is awaited
    /// ([`Lucia::sign_in_with_second_factor`]). Its `email` is empty.
    SecondFactor,
}

impl TokenKind {
    /// The value of the token table's `kind` column.
    ///
    /// ```
    /// use lucia::TokenKind;
    /// assert_eq!(TokenKind::PasswordReset.as_str(), "password_reset");
    /// assert_eq!(TokenKind::parse("email_verification"), Some(TokenKind::EmailVerification));
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmailVerification => "email_verification",
            Self::PasswordReset => "password_reset",
            Self::SecondFactor => "second_factor",
        }
    }

    /// The kind a `kind` column value names, if any.
    pub fn parse(kind: &str) -> Option<Self> {
        match kind {
            "email_verification" => Some(Self::EmailVerification),
            "password_reset" => Some(Self::PasswordReset),
            "second_factor" => Some(Self::SecondFactor),
            _ => None,
        }
    }
}

/// A row of the token table. `Debug` does not show the `id` (a hash of the secret).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseToken {
    /// Lowercase hex SHA-256 of the secret (and, for a code, of its user): the primary key.
    pub id: String,
    /// The user the token was issued to.
    pub user_id: String,
    /// What the token is for.
    pub kind: TokenKind,
    /// The email address the token was sent to.
    pub email: String,
    /// When the token stops working, in milliseconds since the Unix epoch.
    pub expires: i64,
    /// How many times a code was tried (always 0 for reset tokens).
    pub attempts: u32,
}

impl fmt::Debug for DatabaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseToken")
            .field("id", &"<redacted>")
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .field("email", &self.email)
            .field("expires", &self.expires)
            .field("attempts", &self.attempts)
            .finish()
    }
}

/// Storage of single-use tokens, beside users and keys: a capability of user stores.
///
/// Contract (checked by the `lucia-adapter-test` conformance suite's token cases): a user has
/// at most one token of each kind; tokens refer to users (a token of an unknown user is
/// [`AdapterError::InvalidUserId`]), and [`UserAdapter::delete_user`] deletes the user's
/// tokens with it; [`UserAdapter::delete_expired_tokens`] must be implemented (its default
/// deletes nothing); lookups of unknown ids return `None`.
pub trait TokenAdapter: UserAdapter {
    /// Stores a token, replacing the user's token of the same kind if there is one, in one
    /// atomic step (an upsert on `(user_id, kind)`).
    fn set_token(&self, token: DatabaseToken) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// The token with this id.
    fn get_token(&self, token_id: &str) -> impl Future<Output = Result<Option<DatabaseToken>, AdapterError>> + Send;

    /// The user's token of this kind.
    fn get_user_token(
        &self,
        user_id: &str,
        kind: TokenKind,
    ) -> impl Future<Output = Result<Option<DatabaseToken>, AdapterError>> + Send;

    /// Adds one to a token's `attempts` and returns the new count, atomically (concurrent
    /// calls get distinct counts), or `None` if the token is gone.
    fn count_token_attempt(&self, token_id: &str) -> impl Future<Output = Result<Option<u32>, AdapterError>> + Send;

    /// Deletes a token and, if it was there, sets `attributes` on its user (nothing when
    /// empty), in one transaction. Returns whether the token was there: of concurrent calls
    /// for one token, exactly one sees `true`.
    fn consume_token(
        &self,
        token_id: &str,
        attributes: AttributeMap,
    ) -> impl Future<Output = Result<bool, AdapterError>> + Send;

    /// Deletes all the user's tokens and sets `attributes` on the user (nothing when empty), in
    /// one transaction, tokens first (the order [`consume_token`](Self::consume_token) takes
    /// its locks in).
    fn revoke_user_tokens(
        &self,
        user_id: &str,
        attributes: AttributeMap,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send;
}

impl<U: TokenAdapter, S: crate::SessionAdapter> TokenAdapter for SplitAdapter<U, S> {
    fn set_token(&self, token: DatabaseToken) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.users().set_token(token)
    }
    fn get_token(&self, token_id: &str) -> impl Future<Output = Result<Option<DatabaseToken>, AdapterError>> + Send {
        self.users().get_token(token_id)
    }
    fn get_user_token(
        &self,
        user_id: &str,
        kind: TokenKind,
    ) -> impl Future<Output = Result<Option<DatabaseToken>, AdapterError>> + Send {
        self.users().get_user_token(user_id, kind)
    }
    fn count_token_attempt(&self, token_id: &str) -> impl Future<Output = Result<Option<u32>, AdapterError>> + Send {
        self.users().count_token_attempt(token_id)
    }
    fn consume_token(
        &self,
        token_id: &str,
        attributes: AttributeMap,
    ) -> impl Future<Output = Result<bool, AdapterError>> + Send {
        self.users().consume_token(token_id, attributes)
    }
    fn revoke_user_tokens(
        &self,
        user_id: &str,
        attributes: AttributeMap,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.users().revoke_user_tokens(user_id, attributes)
    }
}

/// Settings of the email verification and password-reset flows
/// ([`LuciaBuilder::email`](crate::LuciaBuilder::email)). The defaults follow Lucia v2's
/// guides: the address in the user attribute `email`, a boolean attribute `email_verified`,
/// and a password key `email:<address>`.
///
/// ```
/// use std::time::Duration;
/// let settings = lucia::EmailSettings::default()
///     .attributes("email_address", "verified")
///     .code_expires_in(Duration::from_secs(10 * 60));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSettings {
    email_attribute: String,
    verified_attribute: String,
    key_provider: String,
    /// `None`: the address key itself.
    password_key_provider: Option<String>,
    code_expires_in: Duration,
    reset_expires_in: Duration,
    max_code_attempts: u32,
    issue_backoff: Backoff,
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            email_attribute: "email".into(),
            verified_attribute: "email_verified".into(),
            key_provider: "email".into(),
            password_key_provider: None,
            code_expires_in: Duration::from_secs(15 * 60),
            reset_expires_in: MAX_TOKEN_LIFETIME,
            max_code_attempts: 5,
            issue_backoff: Backoff::default()
                .free_attempts(3)
                .base_delay(Duration::from_secs(60))
                .max_delay(Duration::from_secs(60 * 60))
                .forget_after(Duration::from_secs(60 * 60)),
        }
    }
}

impl EmailSettings {
    /// Names the user attribute columns of the address (default `email`) and of its boolean
    /// verified flag (default `email_verified`).
    #[must_use]
    pub fn attributes(mut self, email: impl Into<String>, verified: impl Into<String>) -> Self {
        self.email_attribute = email.into();
        self.verified_attribute = verified.into();
        self
    }

    /// Names the provider id of the keys that name users by address (default `email`): a reset
    /// for an address finds its user by the key `email:<address>`, and
    /// [`Lucia::change_email`] moves that key. Unless
    /// [`password_key_provider`](Self::password_key_provider) names another, a reset sets the
    /// password of that key itself.
    #[must_use]
    pub fn key_provider(mut self, provider_id: impl Into<String>) -> Self {
        self.key_provider = provider_id.into();
        self
    }

    /// Names the provider id of the password key a reset sets, when it is not the address key:
    /// an application that signs in with `username:<name>` keys keeps a passwordless
    /// `email:<address>` key to find users by address, and names `username` here.
    #[must_use]
    pub fn password_key_provider(mut self, provider_id: impl Into<String>) -> Self {
        self.password_key_provider = Some(provider_id.into());
        self
    }

    /// How long a verification code works: default 15 minutes, at most an hour (longer is cut
    /// to an hour).
    #[must_use]
    pub fn code_expires_in(mut self, lifetime: Duration) -> Self {
        self.code_expires_in = lifetime.min(MAX_TOKEN_LIFETIME);
        self
    }

    /// How long a reset link works: default and at most an hour (longer is cut to an hour).
    #[must_use]
    pub fn reset_expires_in(mut self, lifetime: Duration) -> Self {
        self.reset_expires_in = lifetime.min(MAX_TOKEN_LIFETIME);
        self
    }

    /// How many times a code may be tried before it stops working: default 5, from 1 to 10.
    #[must_use]
    pub fn max_code_attempts(mut self, attempts: u32) -> Self {
        self.max_code_attempts = attempts.clamp(1, 10);
        self
    }

    /// How issuing is spaced out, per user for codes and per address for reset links
    /// (default: 3 at once, then 1 minute doubling up to an hour, forgotten after an hour).
    #[must_use]
    pub fn issue_backoff(mut self, backoff: Backoff) -> Self {
        self.issue_backoff = backoff;
        self
    }

    /// The provider id of the password key a reset sets.
    fn password_provider(&self) -> &str {
        self.password_key_provider.as_deref().unwrap_or(&self.key_provider)
    }
}

/// A secret to mail: a verification code or a reset-link token. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A new email verification code, from [`Lucia::issue_email_verification`]: mail
/// [`code`](Self::code) to [`email`](Self::email). `Debug` does not show the code.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EmailVerificationCode {
    code: Secret,
    /// The address to send it to (the user's, when it was issued).
    pub email: String,
    /// When the code stops working.
    pub expires_at: SystemTime,
}

impl EmailVerificationCode {
    /// The code: [`VERIFICATION_CODE_DIGITS`] decimal digits. Put it in the mail and nowhere
    /// else.
    pub fn code(&self) -> &str {
        &self.code.0
    }
}

/// A new password-reset token, from [`PasswordResetRequest::issue`]: mail a link holding
/// [`token`](Self::token) to [`email`](Self::email). `Debug` does not show the token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PasswordReset {
    token: Secret,
    /// The user whose password it resets.
    pub user_id: String,
    /// The address to send it to.
    pub email: String,
    /// When the token stops working.
    pub expires_at: SystemTime,
}

impl PasswordReset {
    /// The token, for the link in the mail (`https://app.example/reset-password?token=...`)
    /// and nowhere else.
    pub fn token(&self) -> &str {
        &self.token.0
    }
}

/// A password reset that passed the per-address throttle, from
/// [`Lucia::request_password_reset`]; [`issue`](Self::issue) it off the request's path.
#[must_use = "a reset request does nothing until issued"]
pub struct PasswordResetRequest<A, U, S> {
    auth: Lucia<A, U, S>,
    email: String,
}

impl<A, U, S> fmt::Debug for PasswordResetRequest<A, U, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordResetRequest").field("email", &self.email).finish_non_exhaustive()
    }
}

impl<A, U, S> PasswordResetRequest<A, U, S>
where
    A: Adapter + TokenAdapter,
    U: Serialize + DeserializeOwned + Send + Sync,
    S: Serialize + DeserializeOwned + Send + Sync,
{
    /// Makes a reset token if the address names a user (by the key
    /// `<key_provider>:<address>`) who has a password key (of
    /// [`password_key_provider`](EmailSettings::password_key_provider)), replacing the user's
    /// earlier one; `None` otherwise: no such user, only keys without a password (such as an
    /// OAuth account's), or a link sent less than 15 minutes ago that still works (so that
    /// nobody can keep a user's link from working by asking for new ones; it is replaced once
    /// it is older).
    ///
    /// Its duration depends on the answer (a write, or none): run it, and send the mail, after
    /// the response has gone or in a task of its own (`tokio::spawn`), so that clients cannot
    /// tell which addresses have accounts.
    pub async fn issue(self) -> Result<Option<PasswordReset>, Error> {
        let auth = &self.auth;
        let settings = &auth.inner.email;
        let Some(key) = auth.password_key_for(&self.email).await? else {
            return Ok(None);
        };
        let now = auth.inner.config.now();
        if let Some(live) = auth.inner.adapter.get_user_token(&key.user_id, TokenKind::PasswordReset).await? {
            let guaranteed = RESET_LINK_GUARANTEED.min(settings.reset_expires_in);
            // Saturating: `expires` is a stored column, and may hold anything.
            let young_until =
                live.expires.saturating_sub(millis(settings.reset_expires_in)).saturating_add(millis(guaranteed));
            if to_millis(now) <= live.expires.min(young_until) {
                return Ok(None);
            }
        }
        let token = generate_random_string(RESET_TOKEN_LENGTH);
        let expires_at = now + settings.reset_expires_in;
        auth.inner
            .adapter
            .set_token(DatabaseToken {
                id: sha256_hex(token.as_bytes()),
                user_id: key.user_id.clone(),
                kind: TokenKind::PasswordReset,
                email: self.email.clone(),
                expires: to_millis(expires_at),
                attempts: 0,
            })
            .await?;
        Ok(Some(PasswordReset { token: Secret(token), user_id: key.user_id, email: self.email, expires_at }))
    }
}

impl<A, U, S> Lucia<A, U, S>
where
    A: Adapter + TokenAdapter,
    U: Serialize + DeserializeOwned + Send + Sync,
    S: Serialize + DeserializeOwned + Send + Sync,
{
    /// Issues an email verification code for the user's address (the
    /// [`email_attribute`](EmailSettings::attributes)), replacing the user's earlier
    /// code. Mail it to [`EmailVerificationCode::email`].
    ///
    /// Errors: [`Error::InvalidUserId`]; [`Error::InvalidAttributes`] if the user has no
    /// address; [`Error::Throttled`] when codes were issued to this user too often
    /// ([`EmailSettings::issue_backoff`]).
    pub async fn issue_email_verification(&self, user_id: &str) -> Result<EmailVerificationCode, Error> {
        crate::auth::check_user_id(user_id)?;
        let user = self.inner.adapter.get_user(user_id).await?.ok_or(Error::InvalidUserId)?;
        let email = self.email_of(&user)?.to_owned();
        self.throttle_issue("verify", user_id).await?;
        let code = random_digits(VERIFICATION_CODE_DIGITS);
        let expires_at = self.inner.config.now() + self.inner.email.code_expires_in;
        self.inner
            .adapter
            .set_token(DatabaseToken {
                id: code_id(user_id, &code),
                user_id: user_id.to_owned(),
                kind: TokenKind::EmailVerification,
                email: email.clone(),
                expires: to_millis(expires_at),
                attempts: 0,
            })
            .await?;
        Ok(EmailVerificationCode { code: Secret(code), email, expires_at })
    }

    /// Checks a verification code and, if right, sets the user's
    /// [`verified_attribute`](EmailSettings::attributes) to `true` and consumes the
    /// code. Returns the verified address.
    ///
    /// Every try of [`VERIFICATION_CODE_DIGITS`] digits counts, right or wrong, before the code
    /// is compared (in constant time); past
    /// [`max_code_attempts`](EmailSettings::max_code_attempts) tries the code is deleted. Text
    /// of another form cannot be a code: it is [`Error::InvalidToken`] at once, and spends no
    /// try.
    /// Errors: [`Error::InvalidToken`] (wrong code, none outstanding, already used, or the
    /// user's address is no longer the one the code was sent to), [`Error::ExpiredToken`]
    /// (expired, or too many tries: issue a new one).
    ///
    /// Change addresses with [`change_email`](Self::change_email), which revokes the code in
    /// the same transaction: an address changed by other means (`update_user_attributes`) is
    /// compared when the code is entered, but a change landing between that comparison and
    /// the flag being set is not seen.
    pub async fn verify_email(&self, user_id: &str, code: &str) -> Result<String, Error> {
        crate::auth::check_user_id(user_id)?;
        // No code has another form: refused before the store, without spending a try.
        if code.len() != VERIFICATION_CODE_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidToken);
        }
        let adapter = &self.inner.adapter;
        let settings = &self.inner.email;
        let token = adapter
            .get_user_token(user_id, TokenKind::EmailVerification)
            .await?
            .filter(|token| token.user_id == user_id)
            .ok_or(Error::InvalidToken)?;
        self.check_expiry(&token).await?;
        match adapter.count_token_attempt(&token.id).await? {
            None => return Err(Error::InvalidToken),
            Some(attempts) if attempts > settings.max_code_attempts => {
                adapter.consume_token(&token.id, AttributeMap::new()).await?;
                return Err(Error::ExpiredToken);
            }
            Some(_) => {}
        }
        let presented = code_id(user_id, code);
        if !bool::from(presented.as_bytes().ct_eq(token.id.as_bytes())) {
            return Err(Error::InvalidToken);
        }
        let user = adapter.get_user(user_id).await?.ok_or(Error::InvalidUserId)?;
        if self.email_of(&user)? != token.email {
            adapter.consume_token(&token.id, AttributeMap::new()).await?;
            return Err(Error::InvalidToken);
        }
        if !adapter.consume_token(&token.id, self.verified()).await? {
            return Err(Error::InvalidToken);
        }
        Ok(token.email)
    }

    /// Starts a password reset for an address: checks the per-address throttle
    /// ([`EmailSettings::issue_backoff`]; [`Error::Throttled`]), which counts addresses with
    /// and without accounts alike, and returns the request to
    /// [`issue`](PasswordResetRequest::issue). Answer the client the same way whatever
    /// `issue` finds.
    pub async fn request_password_reset(&self, email: &str) -> Result<PasswordResetRequest<A, U, S>, Error> {
        // The key id is checked first so that `issue` cannot fail on it after the answer.
        create_key_id(&self.inner.email.key_provider, email)?;
        self.throttle_issue("reset", email).await?;
        Ok(PasswordResetRequest { auth: self.clone(), email: email.to_owned() })
    }

    /// Redeems a reset token: sets the new password of the user's password key (see
    /// [`PasswordResetRequest::issue`]),
    /// ends every session of the user, counts the address as verified (if it is still the
    /// user's), consumes the token, and clears the key's sign-in throttle. Returns the user.
    ///
    /// A password that fails the [`PasswordPolicy`](crate::PasswordPolicy) is
    /// [`Error::PasswordRejected`] and leaves the token usable. Errors: [`Error::InvalidToken`]
    /// (unknown, used, replaced, or its key is gone), [`Error::ExpiredToken`],
    /// [`Error::Busy`].
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<User<U>, Error> {
        self.check_new_password_length(Some(new_password))?;
        let adapter = &self.inner.adapter;
        let row = adapter
            .get_token(&sha256_hex(token.as_bytes()))
            .await?
            .filter(|row| row.kind == TokenKind::PasswordReset)
            .ok_or(Error::InvalidToken)?;
        self.check_expiry(&row).await?;
        // The address must still name the same user, who must still have a password key.
        let key = self.password_key_for(&row.email).await?.filter(|key| key.user_id == row.user_id);
        let key = key.ok_or(Error::InvalidToken)?;
        // The key's own name (a username, say) is what a strength check should not find in it.
        let name = key.id.split_once(':').map_or(row.email.as_str(), |(_, name)| name);
        let hash = self.hash_password(Some(new_password), name).await?;
        let user = adapter.get_user(&row.user_id).await?.ok_or(Error::InvalidToken)?;
        let verified =
            if self.email_of(&user).ok() == Some(row.email.as_str()) { self.verified() } else { AttributeMap::new() };
        if !adapter.consume_token(&row.id, verified).await? {
            return Err(Error::InvalidToken);
        }
        if let Err(error) = adapter.update_key_and_end_sessions(&key.id, hash.as_deref(), &key.user_id).await {
            // The password did not change: give the link back, so that it can be used again.
            if let Err(restore) = adapter.set_token(row).await {
                tracing::warn!(error = %restore, "lucia: a reset link used by a failed reset could not be restored");
            }
            return Err(error.into());
        }
        // A key moved away meanwhile (`change_email`) took no new password: the link is spent.
        match adapter.get_key(&key.id).await? {
            Some(current) if current.user_id == key.user_id && current.hashed_password == hash => {}
            _ => return Err(Error::InvalidToken),
        }
        self.forget_sign_in_attempts(&key.id).await;
        self.get_user(&row.user_id).await
    }

    /// Changes a user's address: sets the
    /// [`email_attribute`](EmailSettings::attributes), clears the verified flag, and
    /// revokes the user's outstanding codes and reset links, in one transaction. If the user
    /// has a key `<key_provider>:<old address>`, it moves to the new address with its
    /// password: the new key is added first and the old one removed last, so a failure part-way
    /// leaves the user able to sign in, and a failed change takes its new key back.
    ///
    /// Errors: [`Error::InvalidUserId`]; [`Error::DuplicateKeyId`] if another user's key
    /// holds the new address; [`Error::DuplicateAttribute`] if the address column is unique
    /// and taken. Nothing changes then.
    ///
    /// Addresses are stored and compared exactly as given: normalise them first (the demo
    /// trims and lowercases). The user's sessions stay; end them
    /// ([`invalidate_all_user_sessions`](Self::invalidate_all_user_sessions)) and tell the old
    /// address, if the application's policy wants it.
    pub async fn change_email(&self, user_id: &str, new_email: &str) -> Result<User<U>, Error> {
        crate::auth::check_user_id(user_id)?;
        let adapter = &self.inner.adapter;
        let settings = &self.inner.email;
        let user = adapter.get_user(user_id).await?.ok_or(Error::InvalidUserId)?;
        let old_email = user.attributes.get(&settings.email_attribute).and_then(Value::as_str).map(str::to_owned);
        let old_key = match &old_email {
            Some(old) if old != new_email => {
                let old_id = create_key_id(&settings.key_provider, old)?;
                adapter.get_key(&old_id).await?.filter(|key| key.user_id == user_id && key.id == old_id)
            }
            _ => None,
        };
        let moved_id = create_key_id(&settings.key_provider, new_email)?;
        if let Some(key) = &old_key {
            let moved = crate::DatabaseKey {
                id: moved_id.clone(),
                user_id: user_id.to_owned(),
                hashed_password: key.hashed_password.clone(),
            };
            adapter.set_key(moved).await?;
        }
        let mut attributes = AttributeMap::new();
        attributes.insert(settings.email_attribute.clone(), Value::String(new_email.to_owned()));
        attributes.insert(settings.verified_attribute.clone(), Value::Bool(false));
        if let Err(error) = adapter.revoke_user_tokens(user_id, attributes).await {
            // The address did not change (its column is taken, say): the key made for it must
            // not stay, or it would find this user by another's address.
            if old_key.is_some()
                && let Err(cleanup) = adapter.delete_key(&moved_id).await
            {
                tracing::warn!(error = %cleanup, "lucia: a key made for a failed address change could not be removed");
            }
            return Err(error.into());
        }
        if let Some(key) = old_key {
            adapter.delete_key(&key.id).await?;
        }
        self.get_user(user_id).await
    }

    /// Refuses an expired token, deleting it.
    async fn check_expiry(&self, token: &DatabaseToken) -> Result<(), Error> {
        if self.now_ms() > token.expires {
            // Best effort: the sweeps delete it anyway.
            let _ = self.inner.adapter.consume_token(&token.id, AttributeMap::new()).await;
            return Err(Error::ExpiredToken);
        }
        Ok(())
    }

    /// The issue throttle, per user (codes) or per address (reset links).
    async fn throttle_issue(&self, kind: &str, subject: &str) -> Result<(), Error> {
        // NUL starts no key id: these records never share a name with a key's sign-in record.
        let key = crate::throttle::throttle_key(&format!("\0{kind}:{subject}")).into_owned();
        let now = self.inner.config.now();
        let attempt = self.inner.token_throttle.attempt(&key, &self.inner.email.issue_backoff, now);
        match self.inner.adapter.deadline().within(attempt).await? {
            Attempt::Allowed => Ok(()),
            Attempt::Throttled { retry_after } => Err(Error::Throttled { retry_after }),
        }
    }

    /// The password key of the user the address names, if both exist: the address key itself,
    /// or the user's key of [`password_key_provider`](EmailSettings::password_key_provider).
    async fn password_key_for(&self, email: &str) -> Result<Option<crate::DatabaseKey>, Error> {
        let settings = &self.inner.email;
        let adapter = &self.inner.adapter;
        let key_id = create_key_id(&settings.key_provider, email)?;
        let Some(key) = adapter.get_key(&key_id).await?.filter(|key| key.id == key_id) else {
            return Ok(None);
        };
        if settings.password_provider() == settings.key_provider {
            return Ok(key.hashed_password.is_some().then_some(key));
        }
        let prefix = format!("{}:", settings.password_provider());
        let keys = adapter.get_keys_by_user_id(&key.user_id).await?;
        Ok(keys.into_iter().find(|other| other.id.starts_with(&prefix) && other.hashed_password.is_some()))
    }

    /// The user's address, or [`Error::InvalidAttributes`].
    fn email_of<'u>(&self, user: &'u DatabaseUser) -> Result<&'u str, Error> {
        let column = &self.inner.email.email_attribute;
        user.attributes
            .get(column)
            .and_then(Value::as_str)
            .ok_or_else(|| Error::InvalidAttributes(format!("the user has no address in `{column}`")))
    }

    /// `{verified_attribute: true}`.
    fn verified(&self) -> AttributeMap {
        let mut attributes = AttributeMap::new();
        attributes.insert(self.inner.email.verified_attribute.clone(), Value::Bool(true));
        attributes
    }
}

/// Whole milliseconds of a duration, saturating.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The stored id of a code: bound to its user, so that two users' equal codes differ.
fn code_id(user_id: &str, code: &str) -> String {
    sha256_hex(format!("{user_id}\0{code}").as_bytes())
}

/// `digits` decimal digits, each uniform, from the operating system's CSPRNG.
fn random_digits(digits: usize) -> String {
    // 250 = 25 × 10: bytes at or above it are dropped so every digit is equally likely.
    const LIMIT: u8 = 250;
    let mut out = String::with_capacity(digits);
    let mut buffer = [0u8; 16];
    while out.len() < digits {
        crate::id::fill_random(&mut buffer);
        for &byte in buffer.iter().filter(|&&byte| byte < LIMIT) {
            if out.len() == digits {
                break;
            }
            out.push(char::from(b'0' + byte % 10));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_digits_of_the_right_length_and_vary() {
        let codes: Vec<String> = (0..50).map(|_| random_digits(VERIFICATION_CODE_DIGITS)).collect();
        assert!(codes.iter().all(|code| code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit())));
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert!(distinct.len() > 45);
    }

    #[test]
    fn settings_keep_their_limits() {
        let hour = Duration::from_secs(3600);
        let settings = EmailSettings::default()
            .password_key_provider("username")
            .key_provider("mail")
            .reset_expires_in(30 * 24 * hour)
            .code_expires_in(2 * hour)
            .max_code_attempts(0);
        assert_eq!((settings.reset_expires_in, settings.code_expires_in), (hour, hour));
        assert_eq!(settings.max_code_attempts, 1);
        assert_eq!(EmailSettings::default().max_code_attempts(1_000).max_code_attempts, 10);
        // Naming the address key keeps a password key named before it.
        assert_eq!(settings.password_provider(), "username");
        assert_eq!(EmailSettings::default().key_provider("mail").password_provider(), "mail");
    }

    #[test]
    fn code_ids_differ_by_user() {
        assert_ne!(code_id("a", "12345678"), code_id("b", "12345678"));
        assert_eq!(code_id("a", "12345678").len(), 64);
    }

    #[test]
    fn secrets_are_not_in_debug() {
        let code = EmailVerificationCode {
            code: Secret("12345678".into()),
            email: "a@example.com".into(),
            expires_at: SystemTime::UNIX_EPOCH,
        };
        assert!(!format!("{code:?}").contains("12345678"));
        let row = DatabaseToken {
            id: "feedface".into(),
            user_id: "u".into(),
            kind: TokenKind::PasswordReset,
            email: "a@example.com".into(),
            expires: 0,
            attempts: 0,
        };
        assert!(!format!("{row:?}").contains("feedface"));
    }
}
