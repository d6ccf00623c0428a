//! Sign-up and sign-in rules shared by the HTML pages and the JSON API.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::{StatusCode, header, request::Parts};
use lucia::{CreateUser, EmailSettings, Error, NewKey, PasswordPolicy, PasswordRejection, User};
use serde::Deserialize;

use crate::mail::Mails;
use crate::{Auth, SessionAttributes, UserAttributes};

/// The key provider for usernames: keys are `username:<name>`, with the password.
pub const PROVIDER: &str = "username";

/// The key provider for addresses: keys are `email:<address>`, without a password. They find
/// a user by address for a password reset, which sets the password of the `username` key.
pub const EMAIL_PROVIDER: &str = "email";

/// The email flows' settings: the address in `email`, its flag in `email_verified`, users
/// found by `email:` keys, passwords reset on `username:` keys.
pub fn email_settings() -> EmailSettings {
    EmailSettings::default().key_provider(EMAIL_PROVIDER).password_key_provider(PROVIDER)
}

/// Username, password and (at sign-up) email address, from a form or JSON. Missing fields are
/// empty, so they get the same clear message as empty ones. `Debug` does not show the
/// password.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    pub email: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why sign-up failed, with a message for the person signing up. The messages are fixed
/// texts: nothing from the database reaches the page or the API.
#[derive(Debug, thiserror::Error)]
pub enum SignUpError {
    #[error("{0}")]
    InvalidUsername(&'static str),
    /// The password is the username (the demo's own rule).
    #[error("Your password must not be your username.")]
    PasswordIsUsername,
    /// The library's [`PasswordPolicy`] refused the password; its sentence is shown next to
    /// the password field.
    #[error("{0}")]
    PasswordRejected(PasswordRejection),
    #[error("That username is taken. Please choose another.")]
    UsernameTaken,
    #[error("Please enter a valid email address.")]
    InvalidEmail,
    #[error("That email address is already in use.")]
    EmailTaken,
    /// Too many sign-ups (or sign-ins) from this address: `429` with `Retry-After`.
    #[error("{}", too_many_attempts(*.0))]
    TooManyAttempts(u64),
    #[error(transparent)]
    Internal(#[from] Error),
}

/// Why sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown username or wrong password (or an account deleted while signing in):
    /// deliberately one message for all.
    #[error("Incorrect username or password.")]
    InvalidCredentials,
    #[error("This password can no longer be used. Please contact support to reset it.")]
    OutdatedPassword,
    /// Too many attempts on this account (lucia's per-key throttle) or from this address
    /// (lucia-axum's per-IP limit): `429` with `Retry-After`, in seconds.
    #[error("{}", too_many_attempts(*.0))]
    TooManyAttempts(u64),
    #[error(transparent)]
    Internal(Error),
}

impl From<Error> for SignInError {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidKeyId | Error::InvalidPassword => Self::InvalidCredentials,
            Error::OutdatedPassword => Self::OutdatedPassword,
            Error::Throttled { retry_after } => Self::TooManyAttempts(seconds(retry_after)),
            error => Self::Internal(error),
        }
    }
}

impl SignInError {
    /// A failure of [`lucia_axum::AuthRequest::sign_in`] or
    /// [`check_rate_limit`](lucia_axum::AuthRequest::check_rate_limit): a sign-in failure, or
    /// (`Err`) another error to answer as such.
    pub fn from_auth(error: lucia_axum::AuthError) -> Result<Self, lucia_axum::AuthError> {
        match error {
            lucia_axum::AuthError::Lucia(error) => Ok(Self::from(error)),
            lucia_axum::AuthError::RateLimited { retry_after } => Ok(Self::TooManyAttempts(seconds(retry_after))),
            other => Err(other),
        }
    }

    /// `Retry-After` in seconds, for a `429`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyAttempts(seconds) => Some(*seconds),
            _ => None,
        }
    }
}

/// "Too many attempts, try again in N seconds."
pub(crate) fn too_many_attempts(seconds: u64) -> String {
    let unit = if seconds == 1 { "second" } else { "seconds" };
    format!("Too many attempts, try again in {seconds} {unit}.")
}

/// A wait in whole seconds, rounded up, at least 1 (what `Retry-After` says).
pub(crate) fn seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs().saturating_add(u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl SignUpError {
    /// The key id and the username column are both unique; either taken means "taken". The
    /// database's own words (table, column, constraint) stay out of the answer.
    fn from_lucia(error: Error) -> Self {
        match error {
            Error::DuplicateAttribute { column: Some(column) } if column == "email" => Self::EmailTaken,
            Error::DuplicateKeyId | Error::DuplicateAttribute { .. } => Self::UsernameTaken,
            Error::PasswordRejected(rejection) => Self::PasswordRejected(rejection),
            error => Self::Internal(error),
        }
    }

    /// Whether the failure is about the password (shown next to the password field) rather
    /// than the username.
    pub fn is_about_the_password(&self) -> bool {
        matches!(self, Self::PasswordIsUsername | Self::PasswordRejected(_))
    }

    /// Whether the failure is about the email address (shown next to its field).
    pub fn is_about_the_email(&self) -> bool {
        matches!(self, Self::InvalidEmail | Self::EmailTaken)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidUsername(_) | Self::InvalidEmail | Self::PasswordIsUsername | Self::PasswordRejected(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::UsernameTaken | Self::EmailTaken => StatusCode::CONFLICT,
            Self::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(error) => internal_status(error),
        }
    }

    /// `Retry-After` in seconds, for a `429`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyAttempts(seconds) => Some(*seconds),
            _ => None,
        }
    }

    /// The per-IP limit's refusal as a sign-up failure (`Err`: another error).
    pub fn from_rate_limit(error: lucia_axum::AuthError) -> Result<Self, lucia_axum::AuthError> {
        match error {
            lucia_axum::AuthError::RateLimited { retry_after } => Ok(Self::TooManyAttempts(seconds(retry_after))),
            other => Err(other),
        }
    }
}

impl SignInError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidCredentials | Self::OutdatedPassword => StatusCode::UNAUTHORIZED,
            Self::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(error) => internal_status(error),
        }
    }
}

/// `503` for a store that could not be reached or too many sign-ins at once (try again), `500`
/// for anything else.
pub(crate) fn internal_status(error: &Error) -> StatusCode {
    match error {
        Error::Unavailable(_) | Error::Busy => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// 3 to 32 characters: ASCII letters, digits and `. _ - @ +`. Case is kept (Lucia does not
/// fold case: `Ada` and `ada` are different users).
pub fn check_username(username: &str) -> Result<(), SignUpError> {
    if !(3..=32).contains(&username.len()) {
        return Err(SignUpError::InvalidUsername("Usernames are 3 to 32 characters long."));
    }
    if !username.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-@+".contains(&b)) {
        return Err(SignUpError::InvalidUsername("Usernames may contain only letters, digits and . _ - @ +"));
    }
    Ok(())
}

/// The demo's password policy: the library's lengths (8 characters to 256 bytes) and a
/// `zxcvbn` strength of at least 3 of 4 (the username counts as a guessable word). Applied by
/// lucia to every new password (sign-up and password change), on a hashing thread.
pub fn password_policy() -> PasswordPolicy {
    PasswordPolicy::new().min_strength(3)
}

/// The demo's own rule on top of the [`password_policy`]: the password is not the username.
pub fn check_new_password(password: &str, username: &str) -> Result<(), SignUpError> {
    if password.eq_ignore_ascii_case(username) {
        return Err(SignUpError::PasswordIsUsername);
    }
    Ok(())
}

/// The client's address and browser, recorded on its sessions.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Client {
    /// The client of a request, from its head.
    pub fn from_parts(parts: &Parts) -> Self {
        let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|agent| agent.chars().take(255).collect());
        Self { ip, user_agent }
    }

    pub fn session_attributes(&self) -> SessionAttributes {
        SessionAttributes { ip: self.ip.clone(), user_agent: self.user_agent.clone(), created_at: Some(now_ms()) }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

/// An address as typed, trimmed and lowercased (the `email:` key and the unique `email`
/// column compare exactly), if it is one a mail can be sent to.
pub fn check_email(email: &str) -> Result<String, SignUpError> {
    let email = email.trim().to_lowercase();
    if email.len() > 254 || !lucia_mail::is_valid_address(&email) {
        return Err(SignUpError::InvalidEmail);
    }
    Ok(email)
}

/// Creates the user with a `username:<name>` password key and an `email:<address>` key, and
/// mails a verification code (no session: the caller starts one if it will hand it out).
pub async fn sign_up(
    auth: &Auth,
    mails: &Mails,
    credentials: &Credentials,
) -> Result<User<UserAttributes>, SignUpError> {
    check_username(&credentials.username)?;
    let email = check_email(&credentials.email)?;
    check_new_password(&credentials.password, &credentials.username)?;
    let key = NewKey::password(PROVIDER, &credentials.username, &credentials.password);
    let attributes =
        UserAttributes { username: credentials.username.clone(), email: Some(email.clone()), email_verified: false };
    let user = auth.create_user(CreateUser::new(attributes).with_key(key)).await.map_err(SignUpError::from_lucia)?;
    // The unique `email` column stopped a taken address above; the key can clash only with
    // an `email:` key made by another application on the same database.
    if let Err(error) = auth.create_key(&user.user_id, NewKey::passwordless(EMAIL_PROVIDER, &email)).await {
        if let Err(cleanup) = auth.delete_user(&user.user_id).await {
            tracing::warn!(user_id = %user.user_id, error = %cleanup, "could not remove a half-made sign-up");
        }
        return Err(match error {
            Error::DuplicateKeyId => SignUpError::EmailTaken,
            error => SignUpError::Internal(error),
        });
    }
    tracing::info!(user_id = %user.user_id, "signed up");
    // A code that cannot be issued now (the store failed) can be asked for again from the
    // verification page; the account stands.
    if let Err(failure) = send_verification_code(auth, mails, &user.user_id).await {
        tracing::warn!(user_id = %user.user_id, %failure, "no verification code sent at sign-up");
    }
    Ok(user)
}

/// Why an email verification or a password reset step failed, with a message for the user.
/// Fixed texts: nothing from the database reaches the page or the API.
#[derive(Debug, thiserror::Error)]
pub enum EmailFlowError {
    #[error("That code is not right. Check the mail we sent, or ask for a new code.")]
    WrongCode,
    #[error("That code has expired or was tried too often. Ask for a new one.")]
    ExpiredCode,
    #[error("This link is not valid: it was already used, or a newer one was sent. Ask for a new one.")]
    InvalidLink,
    #[error("This link has expired. Ask for a new one.")]
    ExpiredLink,
    #[error("Please enter a valid email address.")]
    InvalidEmail,
    #[error("{0}")]
    PasswordRejected(PasswordRejection),
    #[error("{}", too_many_attempts(*.0))]
    TooManyRequests(u64),
    #[error(transparent)]
    Internal(Error),
}

impl EmailFlowError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::WrongCode
            | Self::ExpiredCode
            | Self::InvalidLink
            | Self::ExpiredLink
            | Self::InvalidEmail
            | Self::PasswordRejected(_) => StatusCode::BAD_REQUEST,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(error) => internal_status(error),
        }
    }

    /// `Retry-After` in seconds, for a `429`.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyRequests(seconds) => Some(*seconds),
            _ => None,
        }
    }

    /// The per-IP limit's refusal as a flow failure (`Err`: another error).
    pub fn from_rate_limit(error: lucia_axum::AuthError) -> Result<Self, lucia_axum::AuthError> {
        match error {
            lucia_axum::AuthError::RateLimited { retry_after } => Ok(Self::TooManyRequests(seconds(retry_after))),
            other => Err(other),
        }
    }

    /// A lucia error of a code step (`link: false`) or a link step.
    fn from_lucia(error: Error, link: bool) -> Self {
        match error {
            Error::InvalidToken if link => Self::InvalidLink,
            Error::ExpiredToken if link => Self::ExpiredLink,
            Error::InvalidToken => Self::WrongCode,
            Error::ExpiredToken => Self::ExpiredCode,
            Error::PasswordRejected(rejection) => Self::PasswordRejected(rejection),
            Error::Throttled { retry_after } => Self::TooManyRequests(seconds(retry_after)),
            error => Self::Internal(error),
        }
    }
}

/// Issues a new verification code for the user's address and mails it (in the background).
/// Limited per user by lucia (`429` when asked too often).
pub async fn send_verification_code(auth: &Auth, mails: &Mails, user_id: &str) -> Result<(), EmailFlowError> {
    let code = auth.issue_email_verification(user_id).await.map_err(|e| EmailFlowError::from_lucia(e, false))?;
    mails.send_verification_code(&code);
    Ok(())
}

/// Checks a typed code (spaces in it ignored, as in "1234 5678") and marks the user's address
/// verified.
pub async fn verify_email(auth: &Auth, user_id: &str, code: &str) -> Result<(), EmailFlowError> {
    let code: String = code.split_whitespace().collect();
    auth.verify_email(user_id, &code).await.map_err(|e| EmailFlowError::from_lucia(e, false))?;
    tracing::info!(user_id, "email verified");
    Ok(())
}

/// "Forgot password": after the per-address limit (`429`), issues a reset link and mails it in
/// the background, so that the answer, the same whether or not the address has an account,
/// comes back before anything that depends on it has run.
pub async fn forgot_password(auth: &Auth, mails: &Mails, email: &str) -> Result<(), EmailFlowError> {
    let email = check_email(email).map_err(|_| EmailFlowError::InvalidEmail)?;
    let request = auth.request_password_reset(&email).await.map_err(|e| EmailFlowError::from_lucia(e, true))?;
    let mails = mails.clone();
    tokio::spawn(async move {
        match request.issue().await {
            Ok(Some(reset)) => mails.send_reset_link(&reset),
            Ok(None) => tracing::info!("password reset asked for an address without an account"),
            Err(error) => tracing::warn!(%error, "password reset link not issued"),
        }
    });
    Ok(())
}

/// Redeems a reset link with a new password: every session of the user ends.
pub async fn reset_password(auth: &Auth, token: &str, password: &str) -> Result<User<UserAttributes>, EmailFlowError> {
    let user = auth.reset_password(token, password).await.map_err(|e| EmailFlowError::from_lucia(e, true))?;
    tracing::info!(user_id = %user.user_id, "password reset");
    Ok(user)
}

/// Refuses input no account can have before any hashing, to bound the work an anonymous
/// request can cause.
pub fn check_sign_in_input(username: &str, password: &str) -> Result<(), SignInError> {
    if username.len() > 64 || password.len() > lucia::MAX_PASSWORD_BYTES {
        return Err(SignInError::InvalidCredentials);
    }
    Ok(())
}

/// The user id of `username` if `password` is theirs (to confirm a sensitive action; signing
/// in goes through `Lucia::sign_in`, which also starts the session safely).
pub async fn check_password(auth: &Auth, username: &str, password: &str) -> Result<String, SignInError> {
    check_sign_in_input(username, password)?;
    Ok(auth.use_key(PROVIDER, username, Some(password)).await?.user_id)
}

/// Milliseconds since the epoch, now.
fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_and_passwords() {
        for good in ["ada", "Ada.Lovelace", "a_b-c@d+e", &"x".repeat(32)] {
            assert!(check_username(good).is_ok(), "{good}");
        }
        for bad in ["", "ab", &"x".repeat(33), "a b", "ünï", "a/b", "a\0b", "a:b"] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
        assert!(check_new_password("correct horse", "ada").is_ok());
        assert!(check_new_password("adalovelace", "AdaLovelace").is_err());
        let policy = password_policy();
        for weak in ["short", "password123", "qwertyuiop", "AdaLovelace1"] {
            assert!(policy.check_password(weak, &["adalovelace"]).is_err(), "{weak}");
        }
        assert!(policy.check_password(&"x".repeat(257), &[]).is_err());
        // The passwords of the demo's tests pass.
        for good in ["correct horse battery", "brand new password", "a long enough password", "rust pässword"] {
            assert_eq!(policy.check_password(good, &["someone"]), Ok(()), "{good}");
        }
    }

    #[test]
    fn duplicates_are_a_fixed_message_and_sign_in_failures_one_message() {
        for error in [
            Error::DuplicateKeyId,
            Error::DuplicateAttribute { column: Some("username".into()) },
            Error::DuplicateAttribute { column: None },
        ] {
            let failure = SignUpError::from_lucia(error);
            assert!(matches!(failure, SignUpError::UsernameTaken));
            assert_eq!(failure.status(), StatusCode::CONFLICT);
            assert_eq!(failure.to_string(), "That username is taken. Please choose another.");
        }
        for error in [Error::InvalidKeyId, Error::InvalidPassword] {
            assert_eq!(SignInError::from(error).to_string(), "Incorrect username or password.");
        }
        let internal = SignInError::from(Error::Database("UNIQUE constraint failed: user.username".into()));
        assert_eq!(internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let unavailable = SignInError::from(Error::Unavailable("connection refused".into()));
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        let unavailable = SignUpError::from_lucia(Error::Unavailable("connection refused".into()));
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn too_many_attempts_say_when_to_retry() {
        use std::time::Duration;
        let throttled = SignInError::from(Error::Throttled { retry_after: Duration::from_millis(1_200) });
        assert_eq!((throttled.status(), throttled.retry_after()), (StatusCode::TOO_MANY_REQUESTS, Some(2)));
        assert_eq!(throttled.to_string(), "Too many attempts, try again in 2 seconds.");
        // An uncapped backoff's wait: no overflow rounding it up.
        assert_eq!(SignInError::from(Error::Throttled { retry_after: Duration::MAX }).retry_after(), Some(u64::MAX));
        let limited = lucia_axum::AuthError::RateLimited { retry_after: Duration::from_millis(10) };
        let limited = SignInError::from_auth(limited).unwrap();
        assert_eq!(limited.to_string(), "Too many attempts, try again in 1 second.");
        let limited = lucia_axum::AuthError::RateLimited { retry_after: Duration::from_secs(3) };
        let limited = SignUpError::from_rate_limit(limited).unwrap();
        assert_eq!((limited.status(), limited.retry_after()), (StatusCode::TOO_MANY_REQUESTS, Some(3)));
        assert!(SignUpError::from_rate_limit(lucia_axum::AuthError::NoClientAddress).is_err());
    }
}
