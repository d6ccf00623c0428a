//! A second factor: TOTP codes (RFC 6238) with single-use recovery codes, and two-step
//! sign-in.
//!
//! - **Enrolment** ([`Lucia::enrol_totp`]): a random 160-bit secret, shown once as an
//!   `otpauth://` URI and a QR code (SVG) for an authenticator app, and stored encrypted. It
//!   works only once **confirmed** with a first code ([`Lucia::confirm_totp`]), which also
//!   hands out ten [recovery codes](RecoveryCodes), shown that once.
//! - **Codes** are SHA-1, 6 digits, 30-second steps (what authenticator apps support), accepted
//!   one step early or late, compared in constant time (by `totp-rs`). A code is refused in a
//!   step already used (no replay): the user's last used step is raised by a conditional
//!   update ("where last step < this step") whose outcome decides, so of two concurrent uses of
//!   one code exactly one succeeds.
//! - **Recovery codes**: ten codes of 16 characters of `[a-z0-9]` (82 bits each), stored as
//!   SHA-256 (a fast hash suffices: at 82 bits, guessing from a leaked hash is hopeless), each
//!   consumed by a conditional delete whose affected row decides; a new set
//!   ([`Lucia::regenerate_recovery_codes`]) replaces the old one in one transaction.
//! - **Throttling**: every code tried for a user (TOTP or recovery, in any flow) is counted per
//!   user in the sign-in throttle's store ([`SecondFactorSettings::backoff`]), before it is
//!   checked; a right code clears the count.
//! - **Secrets at rest**: AES-256-GCM under a 32-byte key the application supplies
//!   ([`TotpEncryptionKey`], required by [`SecondFactorSettings::new`]), a random nonce per
//!   secret, and the user id as associated data, so that a row copied to another user does not
//!   decrypt. A stolen database without the key gives no secret.
//!
//! # Two-step sign-in
//!
//! Once a user has a confirmed TOTP, a password no longer signs them in alone:
//! [`Lucia::sign_in`] refuses with [`Error::SecondFactorRequired`] (and starts nothing), so an
//! application that forgets the second step fails closed. [`Lucia::sign_in_with_second_factor`]
//! answers [`SignIn::SecondFactorRequired`] instead, with a [`PendingSignIn`]: a single-use
//! token (the "pending" credential, for a cookie or a bearer header) that
//! [`Lucia::complete_sign_in`] exchanges, with a TOTP or recovery code, for a **new** full
//! session.
//!
//! The pending credential is *not a session*: it is a token of the token table
//! ([`TokenKind::SecondFactor`]), stored as its SHA-256 with its own expiry (10 minutes) and
//! attempt count (5), consumed atomically on success. Why not a session row flagged pending:
//! the session table is shared with Lucia v2 applications in
//! [`lucia_v2_compat`](crate::LuciaBuilder::lucia_v2_compat) mode, which read session ids in
//! clear and know no such flag, so any session row would be a full session to them; and
//! sessions may live in Redis ([`SplitAdapter`](crate::SplitAdapter)), whose rows would need
//! the flag too. A token is outside the session store altogether, so
//! [`Lucia::validate_session`] cannot accept it in either token mode, a Lucia v2 application
//! never sees it, it works whatever stores the sessions, and the session table keeps its
//! schema. A user has at most one pending sign-in (one token per user and kind): a second
//! password sign-in replaces the first.
//!
//! A full session is made only by [`Lucia::sign_in`], [`Lucia::complete_sign_in`] and
//! [`Lucia::create_session`]: the last is the application's explicit choice (after an OAuth
//! sign-in, say) and does not ask for the second factor.
//!
//! ```
//! use lucia::{CreateUser, Error, Lucia, NewKey, SecondFactorCode, SecondFactorSettings, SignIn, TotpEncryptionKey};
//! use lucia::memory::MemoryAdapter;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! // The key comes from the application's secrets (32 bytes, base64), never from the database.
//! let key = TotpEncryptionKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").expect("a 32-byte key");
//! let auth = Lucia::builder(MemoryAdapter::new()).second_factor(SecondFactorSettings::new("Example", key)).build();
//! let password = "correct horse battery staple";
//! let user = auth.create_user(CreateUser::new(Default::default()).with_key(NewKey::password("email", "ada@example.com", password))).await?;
//!
//! // Enrol: show the QR code (or the URI) to the signed-in user ...
//! let enrolment = auth.enrol_totp(&user.user_id, "ada@example.com").await?;
//! let _svg = enrolment.qr_svg();
//! # let app = enrolment.authenticator_for_tests();
//! // ... who types the first code from the app: confirmed, and ten recovery codes to show once.
//! let recovery = auth.confirm_totp(&user.user_id, &app.code_now()).await?;
//! assert_eq!(recovery.codes().len(), 10);
//!
//! // A password alone no longer starts a session.
//! let plain = auth.sign_in("email", "ada@example.com", Some(password), Default::default()).await;
//! assert!(matches!(plain, Err(Error::SecondFactorRequired)));
//!
//! // Two steps: the password gives a pending sign-in ...
//! let SignIn::SecondFactorRequired(pending) =
//!     auth.sign_in_with_second_factor("email", "ada@example.com", Some(password), Default::default()).await?
//! else { unreachable!("the user has a confirmed TOTP") };
//! // ... which is no session ...
//! assert!(auth.validate_session(pending.token()).await.is_err());
//! // ... until a code (here a recovery code; a TOTP code works the same) completes it.
//! let code = SecondFactorCode::from_input(&recovery.codes()[0]);
//! let signed_in = auth.complete_sign_in(pending.token(), &code, Default::default()).await?;
//! auth.validate_session(signed_in.token.expose_secret()).await?;
//! assert_eq!(auth.recovery_codes_left(&user.user_id).await?, 9);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::PasswordSignIn;
use crate::deadline::Deadlined;
use crate::session::to_millis;
use crate::throttle::{Attempt, throttle_key};
use crate::token::sha256_hex;
use crate::{
    AdapterError, AttributeMap, Backoff, CreateSession, DatabaseToken, Error, Lucia, NewSession, SplitAdapter,
    TokenAdapter, TokenKind, generate_random_string,
};

/// Bytes of a TOTP secret (160 bits, RFC 4226's recommendation).
const SECRET_BYTES: usize = 20;
/// Digits of a TOTP code.
const TOTP_DIGITS: u8 = 6;
/// Seconds of a TOTP step.
const TOTP_STEP_SECONDS: u64 = 30;
/// Recovery codes in a set.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Characters of a recovery code (`[a-z0-9]`, about 82 bits).
const RECOVERY_CODE_LENGTH: usize = 16;
/// Characters of a pending sign-in token (`[a-z0-9]`, about 206 bits).
const PENDING_TOKEN_LENGTH: usize = 40;
/// Bytes of an AES-GCM nonce (96 bits, random: one message per enrolment keeps collisions
/// far below the 2⁻³² that NIST allows for random nonces).
const NONCE_BYTES: usize = 12;
/// Prefixes the associated data, so that the ciphertext is bound to this use and this user.
const AAD_CONTEXT: &str = "lucia-totp-secret\0";

// ---- storage --------------------------------------------------------------------------------

/// A user's TOTP row. `Debug` does not show the encrypted secret.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseTotp {
    /// The user (the primary key).
    pub user_id: String,
    /// The secret, encrypted: base64 of nonce and AES-256-GCM ciphertext.
    pub encrypted_secret: String,
    /// Whether a first code confirmed the enrolment (only then does the user need it to sign in).
    pub confirmed: bool,
    /// The last time step (Unix seconds / 30) a code was accepted in; 0 when none.
    pub last_step: i64,
}

impl fmt::Debug for DatabaseTotp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseTotp")
            .field("user_id", &self.user_id)
            .field("encrypted_secret", &"<redacted>")
            .field("confirmed", &self.confirmed)
            .field("last_step", &self.last_step)
            .finish()
    }
}

/// Storage of second factors, beside users, keys and tokens: a capability of user stores.
///
/// Contract (checked by the `lucia-adapter-test` conformance suite's second-factor cases): a
/// user has at most one TOTP row; rows and recovery codes refer to users (an unknown user is
/// [`AdapterError::InvalidUserId`]) and go when their user is deleted (SQL adapters: foreign
/// keys `ON DELETE CASCADE`, so that a Lucia v2 application sharing the database can still
/// delete users); the two single-use operations are atomic: of concurrent calls, exactly one
/// wins.
pub trait SecondFactorAdapter: TokenAdapter {
    /// The user's TOTP row.
    fn get_totp(&self, user_id: &str) -> impl Future<Output = Result<Option<DatabaseTotp>, AdapterError>> + Send;

    /// Stores a TOTP row, replacing the user's earlier one, in one atomic step (an upsert).
    fn set_totp(&self, totp: DatabaseTotp) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Accepts a code of time step `step` for the user's secret `encrypted_secret`: sets
    /// `last_step = step` (and `confirmed`, if `confirm`) where the row has this secret and
    /// `last_step < step`, as one conditional update. Returns whether a row was updated: of
    /// concurrent calls for one step, exactly one sees `true`.
    fn use_totp_step(
        &self,
        user_id: &str,
        encrypted_secret: &str,
        step: i64,
        confirm: bool,
    ) -> impl Future<Output = Result<bool, AdapterError>> + Send;

    /// Deletes the user's TOTP row and recovery codes, in one transaction.
    fn delete_totp(&self, user_id: &str) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Replaces the user's recovery codes by these hashes, in one transaction.
    fn set_recovery_codes(
        &self,
        user_id: &str,
        code_hashes: Vec<String>,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Deletes the user's recovery code with this hash. Returns whether it was there: of
    /// concurrent calls for one code, exactly one sees `true`.
    fn consume_recovery_code(
        &self,
        user_id: &str,
        code_hash: &str,
    ) -> impl Future<Output = Result<bool, AdapterError>> + Send;

    /// How many recovery codes the user has left.
    fn count_recovery_codes(&self, user_id: &str) -> impl Future<Output = Result<u64, AdapterError>> + Send;
}

/// Forwards to the user store: second factors live beside users.
impl<U: SecondFactorAdapter, S: crate::SessionAdapter> SecondFactorAdapter for SplitAdapter<U, S> {
    fn get_totp(&self, user_id: &str) -> impl Future<Output = Result<Option<DatabaseTotp>, AdapterError>> + Send {
        self.users().get_totp(user_id)
    }
    fn set_totp(&self, totp: DatabaseTotp) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.users().set_totp(totp)
    }
    fn use_totp_step(
        &self,
        user_id: &str,
        encrypted_secret: &str,
        step: i64,
        confirm: bool,
    ) -> impl Future<Output = Result<bool, AdapterError>> + Send {
        self.users().use_totp_step(user_id, encrypted_secret, step, confirm)
    }
    fn delete_totp(&self, user_id: &str) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.users().delete_totp(user_id)
    }
    fn set_recovery_codes(
        &self,
        user_id: &str,
        code_hashes: Vec<String>,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send {
        self.users().set_recovery_codes(user_id, code_hashes)
    }
    fn consume_recovery_code(
        &self,
        user_id: &str,
        code_hash: &str,
    ) -> impl Future<Output = Result<bool, AdapterError>> + Send {
        self.users().consume_recovery_code(user_id, code_hash)
    }
    fn count_recovery_codes(&self, user_id: &str) -> impl Future<Output = Result<u64, AdapterError>> + Send {
        self.users().count_recovery_codes(user_id)
    }
}

// ---- settings -------------------------------------------------------------------------------

/// The application's 32-byte key that encrypts TOTP secrets at rest. `Debug` shows nothing of
/// it. Keep it with the application's other secrets (an environment variable, a secret store),
/// never in the database; losing it disables every enrolled TOTP (recovery codes still work).
#[derive(Clone)]
pub struct TotpEncryptionKey([u8; 32]);

impl TotpEncryptionKey {
    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key from standard base64 of 32 bytes (`openssl rand -base64 32` makes one).
    ///
    /// ```
    /// use lucia::TotpEncryptionKey;
    /// assert!(TotpEncryptionKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").is_ok());
    /// assert!(TotpEncryptionKey::from_base64("c2hvcnQ=").is_err());
    /// let key = TotpEncryptionKey::from_bytes([7; 32]);
    /// assert_eq!(format!("{key:?}"), "TotpEncryptionKey(<redacted>)");
    /// ```
    pub fn from_base64(encoded: &str) -> Result<Self, InvalidEncryptionKey> {
        let bytes = BASE64.decode(encoded.trim()).map_err(|_| InvalidEncryptionKey)?;
        Ok(Self(bytes.try_into().map_err(|_| InvalidEncryptionKey)?))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&Key::<Aes256Gcm>::from(self.0))
    }
}

impl fmt::Debug for TotpEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpEncryptionKey(<redacted>)")
    }
}

/// A [`TotpEncryptionKey`] that is not standard base64 of exactly 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the TOTP encryption key must be standard base64 of exactly 32 bytes")]
pub struct InvalidEncryptionKey;

/// Settings of the second factor ([`LuciaBuilder::second_factor`](crate::LuciaBuilder::second_factor)).
/// The encryption key is required: there is no second factor without it.
///
/// ```
/// use std::time::Duration;
/// use lucia::{SecondFactorSettings, TotpEncryptionKey};
/// let settings = SecondFactorSettings::new("Example", TotpEncryptionKey::from_bytes([7; 32]))
///     .pending_expires_in(Duration::from_secs(5 * 60));
/// assert!(!format!("{settings:?}").contains("7, 7"));
/// ```
#[derive(Debug, Clone)]
pub struct SecondFactorSettings {
    issuer: String,
    key: TotpEncryptionKey,
    backoff: Backoff,
    pending_expires_in: Duration,
    max_pending_attempts: u32,
}

impl SecondFactorSettings {
    /// Settings with the issuer name authenticator apps show (the application's name; a `:`
    /// in it is dropped) and the key that encrypts secrets.
    pub fn new(issuer: impl Into<String>, key: TotpEncryptionKey) -> Self {
        Self {
            issuer: issuer.into().replace(':', ""),
            key,
            // 5 codes at once, then 1 s doubling to 15 minutes: a 6-digit code space of 10⁶
            // with 3 codes valid at a time needs ~330,000 guesses for even odds.
            backoff: Backoff::default(),
            pending_expires_in: Duration::from_secs(10 * 60),
            max_pending_attempts: 5,
        }
    }

    /// How codes tried per user are spaced out (default: 5 at once, then from 1 s doubling up
    /// to 15 minutes, as for passwords).
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How long a pending sign-in waits for its code: default 10 minutes, at most an hour.
    #[must_use]
    pub fn pending_expires_in(mut self, lifetime: Duration) -> Self {
        self.pending_expires_in = lifetime.min(Duration::from_secs(60 * 60));
        self
    }

    /// How many codes one pending sign-in may be tried with: default 5, from 1 to 10. Past it
    /// the password must be given again.
    #[must_use]
    pub fn max_pending_attempts(mut self, attempts: u32) -> Self {
        self.max_pending_attempts = attempts.clamp(1, 10);
        self
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Asks the store whether a user has a confirmed TOTP.
type HasConfirmedTotp<A> = for<'a> fn(&'a Deadlined<A>, &'a str) -> BoxFuture<'a, Result<bool, AdapterError>>;

/// The second factor as configured on a `Lucia`: its settings and how [`Lucia::sign_in`]
/// (which knows only [`Adapter`](crate::Adapter)) asks the store whether a user has one.
pub(crate) struct SecondFactor<A> {
    pub(crate) settings: SecondFactorSettings,
    pub(crate) has_confirmed_totp: HasConfirmedTotp<A>,
}

impl<A: SecondFactorAdapter> SecondFactor<A> {
    pub(crate) fn new(settings: SecondFactorSettings) -> Self {
        Self {
            settings,
            has_confirmed_totp: |adapter, user_id| {
                Box::pin(async move { Ok(adapter.get_totp(user_id).await?.is_some_and(|totp| totp.confirmed)) })
            },
        }
    }
}

// ---- public values --------------------------------------------------------------------------

/// A code the user typed for the second step. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub enum SecondFactorCode {
    /// A 6-digit code from the authenticator app.
    Totp(String),
    /// One of the user's recovery codes (dashes, spaces and case are ignored).
    Recovery(String),
}

impl SecondFactorCode {
    /// One input field for both: six digits (spaces ignored) are a TOTP code, anything else a
    /// recovery code.
    ///
    /// ```
    /// use lucia::SecondFactorCode;
    /// assert!(matches!(SecondFactorCode::from_input(" 123 456 "), SecondFactorCode::Totp(_)));
    /// assert!(matches!(SecondFactorCode::from_input("abcd-efgh-2345-6789"), SecondFactorCode::Recovery(_)));
    /// ```
    pub fn from_input(input: &str) -> Self {
        let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.len() == usize::from(TOTP_DIGITS) && compact.bytes().all(|b| b.is_ascii_digit()) {
            Self::Totp(compact)
        } else {
            Self::Recovery(input.to_owned())
        }
    }
}

impl fmt::Debug for SecondFactorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Totp(_) => f.write_str("Totp(<redacted>)"),
            Self::Recovery(_) => f.write_str("Recovery(<redacted>)"),
        }
    }
}

/// A secret for the user's eyes only. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A new, unconfirmed TOTP enrolment, from [`Lucia::enrol_totp`]: show the QR code (or the
/// URI, or the secret for typing in) to the user, then confirm with their first code. `Debug`
/// does not show the secret.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    secret: Secret,
    uri: Secret,
}

impl TotpEnrolment {
    /// The secret in base32, for typing into an app that cannot scan.
    pub fn secret_base32(&self) -> &str {
        &self.secret.0
    }

    /// The `otpauth://totp/...` URI (the QR code's content).
    pub fn uri(&self) -> &str {
        &self.uri.0
    }

    /// The URI as a QR code: an SVG document (black on white, at least 200 px), to embed in a
    /// page as it is (it holds the secret: send it once, with `Cache-Control: no-store`).
    pub fn qr_svg(&self) -> String {
        match qrcode::QrCode::new(self.uri.0.as_bytes()) {
            Ok(code) => code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build(),
            // An otpauth URI is far below a QR code's capacity; an issuer or account name so
            // long that it is not gets no picture, and the URI or secret is typed in instead.
            Err(_) => String::new(),
        }
    }

    /// An authenticator app for this enrolment, for tests and examples.
    #[doc(hidden)]
    pub fn authenticator_for_tests(&self) -> TestAuthenticator {
        TestAuthenticator { secret: self.secret.0.clone() }
    }
}

/// An authenticator app in tests: makes the codes of an enrolment. Not part of the API.
#[doc(hidden)]
#[derive(Clone)]
pub struct TestAuthenticator {
    secret: String,
}

impl TestAuthenticator {
    /// The code of the step `unix_seconds` falls in.
    pub fn code_at(&self, unix_seconds: u64) -> String {
        match totp_from_base32(&self.secret) {
            Some(totp) => totp.generate(unix_seconds).to_string(),
            None => String::new(),
        }
    }

    /// The code of the current step by the system clock.
    pub fn code_now(&self) -> String {
        self.code_at(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs()))
    }
}

/// A set of recovery codes, from [`Lucia::confirm_totp`] or
/// [`Lucia::regenerate_recovery_codes`]: show them once (they are stored only as hashes).
/// `Debug` does not show them.
#[derive(Clone)]
pub struct RecoveryCodes(Vec<String>);

impl RecoveryCodes {
    /// The codes, each `xxxx-xxxx-xxxx-xxxx` (dashes optional when typed back).
    pub fn codes(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryCodes(<{} redacted>)", self.0.len())
    }
}

/// A sign-in whose password was right and that waits for its second factor, from
/// [`Lucia::sign_in_with_second_factor`]. Its [`token`](Self::token) goes to the client (a
/// cookie of its own, or a bearer token) and back to [`Lucia::complete_sign_in`]; it is no
/// session and authenticates nothing else. `Debug` does not show the token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PendingSignIn {
    token: Secret,
    /// The user who is signing in.
    pub user_id: String,
    /// When the token stops working.
    pub expires_at: SystemTime,
}

impl PendingSignIn {
    /// The single-use token, for the client and nowhere else.
    pub fn token(&self) -> &str {
        &self.token.0
    }
}

/// What a password sign-in led to ([`Lucia::sign_in_with_second_factor`]).
#[derive(Debug)]
#[must_use]
pub enum SignIn<U, S> {
    /// Signed in: a full session (the user has no second factor).
    SignedIn(NewSession<U, S>),
    /// The password was right; the user must now give a TOTP or recovery code.
    SecondFactorRequired(PendingSignIn),
}

// ---- the flows ------------------------------------------------------------------------------

impl<A, U, S> Lucia<A, U, S>
where
    A: crate::Adapter + SecondFactorAdapter,
    U: Serialize + DeserializeOwned + Send + Sync,
    S: Serialize + DeserializeOwned + Send + Sync,
{
    /// Starts a TOTP enrolment for a signed-in user: a new secret, stored encrypted and
    /// unconfirmed (replacing an earlier unconfirmed one). `account_name` is what the app
    /// shows under the issuer (the user's address, say; a `:` in it is dropped).
    ///
    /// Errors: [`Error::SecondFactorNotConfigured`], [`Error::InvalidUserId`],
    /// [`Error::SecondFactorAlreadyEnabled`] (disable it first).
    pub async fn enrol_totp(&self, user_id: &str, account_name: &str) -> Result<TotpEnrolment, Error> {
        let settings = self.second_factor_settings()?;
        crate::auth::check_user_id(user_id)?;
        let adapter = &self.inner.adapter;
        if adapter.get_totp(user_id).await?.is_some_and(|totp| totp.confirmed) {
            return Err(Error::SecondFactorAlreadyEnabled);
        }
        let mut secret = [0u8; SECRET_BYTES];
        crate::id::fill_random(&mut secret);
        let totp = totp_rs::Builder::new()
            .with_secret(secret.to_vec())
            .with_digits(TOTP_DIGITS)
            .with_step_duration(TOTP_STEP_SECONDS)
            .with_skew(1)
            .with_issuer(Some(settings.issuer.as_str()))
            .with_account_name(account_name.replace(':', ""))
            .build()
            .map_err(|error| Error::InvalidAttributes(format!("TOTP enrolment: {error}")))?;
        let uri = totp.to_url().map_err(|error| Error::InvalidAttributes(format!("TOTP enrolment: {error}")))?;
        let row = DatabaseTotp {
            user_id: user_id.to_owned(),
            encrypted_secret: encrypt(&settings.key, user_id, &secret),
            confirmed: false,
            last_step: 0,
        };
        adapter.set_totp(row).await?;
        Ok(TotpEnrolment { secret: Secret(totp.secret().to_base32()), uri: Secret(uri) })
    }

    /// Confirms an enrolment with the first code from the app: from now on the user needs a
    /// second factor to sign in. Returns a new set of recovery codes, to show once.
    ///
    /// Errors: [`Error::InvalidSecondFactor`] (wrong code, no enrolment, or already confirmed),
    /// [`Error::Throttled`].
    pub async fn confirm_totp(&self, user_id: &str, code: &str) -> Result<RecoveryCodes, Error> {
        self.second_factor_settings()?;
        crate::auth::check_user_id(user_id)?;
        let row = self.inner.adapter.get_totp(user_id).await?.filter(|totp| !totp.confirmed);
        let row = row.ok_or(Error::InvalidSecondFactor)?;
        // Codes first: a confirmation that fails later leaves codes that nothing asks for yet.
        let codes = self.new_recovery_codes(user_id).await?;
        self.throttled_code(user_id, self.check_totp(&row, code, true)).await?;
        Ok(codes)
    }

    /// Checks a code of a user who has a confirmed TOTP (a TOTP code, once per step, or a
    /// recovery code, consumed): for re-authentication before a sensitive action.
    ///
    /// Errors: [`Error::InvalidSecondFactor`] (wrong, replayed or used code, or no TOTP),
    /// [`Error::Throttled`].
    pub async fn verify_second_factor(&self, user_id: &str, code: &SecondFactorCode) -> Result<(), Error> {
        self.second_factor_settings()?;
        crate::auth::check_user_id(user_id)?;
        self.throttled_code(user_id, self.check_code(user_id, code)).await
    }

    /// Turns the user's TOTP off, with a code to prove it is the user: deletes the secret and
    /// the recovery codes. Errors as [`verify_second_factor`](Self::verify_second_factor).
    pub async fn disable_totp(&self, user_id: &str, code: &SecondFactorCode) -> Result<(), Error> {
        self.verify_second_factor(user_id, code).await?;
        Ok(self.inner.adapter.delete_totp(user_id).await?)
    }

    /// A new set of recovery codes, with a code to prove it is the user; the old set stops
    /// working at once. Errors as [`verify_second_factor`](Self::verify_second_factor).
    pub async fn regenerate_recovery_codes(
        &self,
        user_id: &str,
        code: &SecondFactorCode,
    ) -> Result<RecoveryCodes, Error> {
        self.verify_second_factor(user_id, code).await?;
        self.new_recovery_codes(user_id).await
    }

    /// Whether the user has a confirmed TOTP (and so signs in in two steps).
    pub async fn has_second_factor(&self, user_id: &str) -> Result<bool, Error> {
        crate::auth::check_user_id(user_id)?;
        Ok(self.inner.adapter.get_totp(user_id).await?.is_some_and(|totp| totp.confirmed))
    }

    /// How many recovery codes the user has left.
    pub async fn recovery_codes_left(&self, user_id: &str) -> Result<u64, Error> {
        crate::auth::check_user_id(user_id)?;
        Ok(self.inner.adapter.count_recovery_codes(user_id).await?)
    }

    /// Signs in as [`sign_in`](Self::sign_in) does (same password checks, throttle and
    /// errors), but a user with a confirmed TOTP gets a [`SignIn::SecondFactorRequired`]
    /// instead of a session: a [`PendingSignIn`] for
    /// [`complete_sign_in`](Self::complete_sign_in). A new pending sign-in replaces the user's
    /// earlier one.
    pub async fn sign_in_with_second_factor(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        password: Option<&str>,
        attributes: S,
    ) -> Result<SignIn<U, S>, Error> {
        let settings = self.second_factor_settings()?;
        match self.password_sign_in(provider_id, provider_user_id, password, attributes).await? {
            PasswordSignIn::SignedIn(session) => Ok(SignIn::SignedIn(session)),
            PasswordSignIn::SecondFactorRequired { user_id } => {
                let token = generate_random_string(PENDING_TOKEN_LENGTH);
                let expires_at = self.inner.config.now() + settings.pending_expires_in;
                let row = DatabaseToken {
                    id: sha256_hex(token.as_bytes()),
                    user_id: user_id.clone(),
                    kind: TokenKind::SecondFactor,
                    email: String::new(),
                    expires: to_millis(expires_at),
                    attempts: 0,
                };
                self.inner.adapter.set_token(row).await?;
                Ok(SignIn::SecondFactorRequired(PendingSignIn { token: Secret(token), user_id, expires_at }))
            }
        }
    }

    /// The second step: exchanges a pending sign-in's token and a right code for a new full
    /// session (a new token: the pending one is consumed, never promoted). `attributes` are
    /// the new session's.
    ///
    /// Each code tried counts against the pending sign-in
    /// ([`max_pending_attempts`](SecondFactorSettings::max_pending_attempts), then it is
    /// deleted) and against the user's throttle. Errors: [`Error::InvalidToken`] (unknown or
    /// used pending token: sign in again), [`Error::ExpiredToken`] (expired or tried too often:
    /// sign in again), [`Error::InvalidSecondFactor`] (wrong, replayed or used code: try
    /// again), [`Error::Throttled`].
    pub async fn complete_sign_in(
        &self,
        pending_token: &str,
        code: &SecondFactorCode,
        attributes: S,
    ) -> Result<NewSession<U, S>, Error> {
        let settings = self.second_factor_settings()?;
        let adapter = &self.inner.adapter;
        if pending_token.len() != PENDING_TOKEN_LENGTH {
            return Err(Error::InvalidToken);
        }
        let row = adapter
            .get_token(&sha256_hex(pending_token.as_bytes()))
            .await?
            .filter(|row| row.kind == TokenKind::SecondFactor)
            .ok_or(Error::InvalidToken)?;
        if self.now_ms() > row.expires {
            let _ = adapter.consume_token(&row.id, AttributeMap::new()).await;
            return Err(Error::ExpiredToken);
        }
        match adapter.count_token_attempt(&row.id).await? {
            None => return Err(Error::InvalidToken),
            Some(attempts) if attempts > settings.max_pending_attempts => {
                adapter.consume_token(&row.id, AttributeMap::new()).await?;
                return Err(Error::ExpiredToken);
            }
            Some(_) => {}
        }
        self.throttled_code(&row.user_id, self.check_code(&row.user_id, code)).await?;
        if !adapter.consume_token(&row.id, AttributeMap::new()).await? {
            return Err(Error::InvalidToken);
        }
        self.create_session(CreateSession::new(row.user_id, attributes)).await
    }

    fn second_factor_settings(&self) -> Result<&SecondFactorSettings, Error> {
        self.inner.second_factor.as_ref().map(|factor| &factor.settings).ok_or(Error::SecondFactorNotConfigured)
    }

    /// Makes, stores (replacing the old set) and returns a new set of recovery codes.
    async fn new_recovery_codes(&self, user_id: &str) -> Result<RecoveryCodes, Error> {
        let codes: Vec<String> = (0..RECOVERY_CODE_COUNT).map(|_| new_recovery_code()).collect();
        let hashes = codes.iter().map(|code| recovery_code_hash(code)).collect();
        self.inner.adapter.set_recovery_codes(user_id, hashes).await?;
        Ok(RecoveryCodes(codes))
    }

    /// Runs a code check under the user's second-factor throttle: counted before, cleared
    /// after success.
    async fn throttled_code(&self, user_id: &str, check: impl Future<Output = Result<(), Error>>) -> Result<(), Error> {
        let settings = self.second_factor_settings()?;
        // NUL starts no key id: these records never share a name with a key's sign-in record.
        let key = throttle_key(&format!("\0second-factor:{user_id}")).into_owned();
        let store = &self.inner.token_throttle;
        let attempt = store.attempt(&key, &settings.backoff, self.inner.config.now());
        match self.inner.adapter.deadline().within(attempt).await? {
            Attempt::Allowed => {}
            Attempt::Throttled { retry_after } => return Err(Error::Throttled { retry_after }),
        }
        check.await?;
        if let Err(error) = self.inner.adapter.deadline().within(store.succeeded(&key)).await {
            tracing::warn!(%error, "lucia: could not clear the second-factor throttle of a user");
        }
        Ok(())
    }

    /// Checks a TOTP or recovery code of a user with a confirmed TOTP, using it up.
    async fn check_code(&self, user_id: &str, code: &SecondFactorCode) -> Result<(), Error> {
        let adapter = &self.inner.adapter;
        let row = adapter.get_totp(user_id).await?.filter(|totp| totp.confirmed);
        let row = row.ok_or(Error::InvalidSecondFactor)?;
        match code {
            SecondFactorCode::Totp(code) => self.check_totp(&row, code, false).await,
            SecondFactorCode::Recovery(code) => {
                let normalised = normalise_recovery_code(code);
                if normalised.len() != RECOVERY_CODE_LENGTH
                    || !adapter.consume_recovery_code(user_id, &recovery_code_hash(&normalised)).await?
                {
                    return Err(Error::InvalidSecondFactor);
                }
                Ok(())
            }
        }
    }

    /// Checks a TOTP code against a row's secret and uses its step (confirming the row if
    /// `confirm`).
    async fn check_totp(&self, row: &DatabaseTotp, code: &str, confirm: bool) -> Result<(), Error> {
        let settings = self.second_factor_settings()?;
        let secret = decrypt(&settings.key, &row.user_id, &row.encrypted_secret).ok_or_else(|| {
            tracing::warn!("lucia: a TOTP secret does not decrypt with the configured key");
            Error::InvalidSecondFactor
        })?;
        let totp = totp_with_secret(secret).ok_or(Error::InvalidSecondFactor)?;
        let now = self.inner.config.now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
        let step = totp.check(code.trim(), now).ok_or(Error::InvalidSecondFactor)?;
        let step = i64::try_from(step).map_err(|_| Error::InvalidSecondFactor)?;
        if !self.inner.adapter.use_totp_step(&row.user_id, &row.encrypted_secret, step, confirm).await? {
            // Used in this step already (a replay), or the secret changed meanwhile.
            return Err(Error::InvalidSecondFactor);
        }
        Ok(())
    }
}

impl<A, U, S> Lucia<A, U, S> {
    /// The cookie that carries a pending sign-in to the second step: named after the session
    /// cookie with `_pending` (`auth_session_pending`), scoped like it, `HttpOnly`, expiring
    /// with the pending sign-in. A cookie of its own, so that nothing that reads the session
    /// cookie ever sees it.
    ///
    /// ```
    /// # async fn demo<A: lucia::Adapter + lucia::SecondFactorAdapter>(auth: lucia::Lucia<A>, pending: lucia::PendingSignIn) {
    /// let set_cookie = auth.create_pending_sign_in_cookie(&pending).to_string();
    /// assert!(set_cookie.starts_with("auth_session_pending="));
    /// # }
    /// ```
    pub fn create_pending_sign_in_cookie(&self, pending: &PendingSignIn) -> crate::SessionCookie {
        let config = &self.inner.config;
        crate::SessionCookie::new(
            &self.pending_cookie_config(),
            pending.token(),
            pending.expires_at,
            config.env == crate::Env::Prod,
        )
    }

    /// The `Set-Cookie` that deletes the pending sign-in cookie (after the second step).
    pub fn create_blank_pending_sign_in_cookie(&self) -> crate::SessionCookie {
        crate::SessionCookie::blank(&self.pending_cookie_config(), self.inner.config.env == crate::Env::Prod)
    }

    /// The pending sign-in cookie's name: the session cookie's with `_pending`.
    pub fn pending_sign_in_cookie_name(&self) -> String {
        format!("{}_pending", self.inner.config.session_cookie.name)
    }

    fn pending_cookie_config(&self) -> crate::SessionCookieConfig {
        crate::SessionCookieConfig {
            name: self.pending_sign_in_cookie_name(),
            ..self.inner.config.session_cookie.clone()
        }
    }

    /// Whether a user must give a second factor to sign in (never when none is configured).
    pub(crate) async fn second_factor_required(&self, user_id: &str) -> Result<bool, Error> {
        match &self.inner.second_factor {
            Some(factor) => Ok((factor.has_confirmed_totp)(&self.inner.adapter, user_id).await?),
            None => Ok(false),
        }
    }
}

// ---- helpers --------------------------------------------------------------------------------

/// The TOTP of a secret with the fixed parameters (SHA-1, 6 digits, 30 s, ±1 step).
fn totp_with_secret(secret: Vec<u8>) -> Option<totp_rs::Totp> {
    totp_rs::Builder::new()
        .with_secret(secret)
        .with_digits(TOTP_DIGITS)
        .with_step_duration(TOTP_STEP_SECONDS)
        .with_skew(1)
        .build()
        .ok()
}

fn totp_from_base32(secret: &str) -> Option<totp_rs::Totp> {
    let secret = totp_rs::Secret::try_from_base32(secret).ok()?;
    totp_with_secret(secret.as_ref().to_vec())
}

/// The associated data of a user's secret.
fn associated_data(user_id: &str) -> Vec<u8> {
    [AAD_CONTEXT.as_bytes(), user_id.as_bytes()].concat()
}

/// base64(nonce ‖ ciphertext ‖ tag), bound to the user.
fn encrypt(key: &TotpEncryptionKey, user_id: &str, secret: &[u8]) -> String {
    let mut nonce = [0u8; NONCE_BYTES];
    crate::id::fill_random(&mut nonce);
    let aad = associated_data(user_id);
    let sealed = key
        .cipher()
        .encrypt(&Nonce::from(nonce), Payload { msg: secret, aad: &aad })
        .expect("AES-GCM encrypts any message of a few bytes");
    BASE64.encode([nonce.as_slice(), &sealed].concat())
}

/// The secret, if `stored` is the user's and was sealed by this key.
fn decrypt(key: &TotpEncryptionKey, user_id: &str, stored: &str) -> Option<Vec<u8>> {
    let bytes = BASE64.decode(stored).ok()?;
    let (nonce, sealed) = bytes.split_at_checked(NONCE_BYTES)?;
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
    let aad = associated_data(user_id);
    key.cipher().decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad: &aad }).ok()
}

/// `xxxx-xxxx-xxxx-xxxx` of `[a-z0-9]`.
fn new_recovery_code() -> String {
    let raw = generate_random_string(RECOVERY_CODE_LENGTH);
    let groups: Vec<&str> = (0..RECOVERY_CODE_LENGTH).step_by(4).map(|start| &raw[start..start + 4]).collect();
    groups.join("-")
}

/// A typed recovery code without dashes or spaces, in lowercase.
fn normalise_recovery_code(code: &str) -> String {
    code.chars().filter(|c| *c != '-' && !c.is_whitespace()).flat_map(char::to_lowercase).collect()
}

/// The stored form of a recovery code: SHA-256 of its normalised form.
fn recovery_code_hash(code: &str) -> String {
    sha256_hex(normalise_recovery_code(code).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_decrypt_only_for_their_user_and_key() {
        let key = TotpEncryptionKey::from_bytes([1; 32]);
        let sealed = encrypt(&key, "alice", b"0123456789abcdefghij");
        assert_eq!(decrypt(&key, "alice", &sealed).as_deref(), Some(&b"0123456789abcdefghij"[..]));
        // A row copied to another user does not decrypt: the user id is associated data.
        assert_eq!(decrypt(&key, "mallory", &sealed), None);
        assert_eq!(decrypt(&TotpEncryptionKey::from_bytes([2; 32]), "alice", &sealed), None);
        assert_eq!(decrypt(&key, "alice", "not base64!"), None);
        assert_eq!(decrypt(&key, "alice", "AAAA"), None);
        // Random nonces: the same secret seals differently each time.
        assert_ne!(sealed, encrypt(&key, "alice", b"0123456789abcdefghij"));
    }

    #[test]
    fn recovery_codes_are_long_distinct_and_normalised() {
        let codes: Vec<String> = (0..50).map(|_| new_recovery_code()).collect();
        assert!(codes.iter().all(|code| code.len() == 19 && code.matches('-').count() == 3));
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 50);
        let code = &codes[0];
        assert_eq!(recovery_code_hash(code), recovery_code_hash(&code.to_uppercase().replace('-', " ")));
    }

    #[test]
    fn secrets_are_not_in_debug() {
        let row =
            DatabaseTotp { user_id: "u".into(), encrypted_secret: "c2VjcmV0".into(), confirmed: true, last_step: 1 };
        assert!(!format!("{row:?}").contains("c2VjcmV0"));
        assert!(!format!("{:?}", SecondFactorCode::Totp("123456".into())).contains("123456"));
        assert!(!format!("{:?}", RecoveryCodes(vec!["abcd-efgh".into()])).contains("abcd"));
        let settings = SecondFactorSettings::new("Example", TotpEncryptionKey::from_bytes([42; 32]));
        assert!(!format!("{settings:?}").contains("42"));
    }
}
