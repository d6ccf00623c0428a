//! The second factor: an authenticator app (TOTP) with recovery codes, set up on the account
//! page, and the second step of a password sign-in for users who have one. The TOTP
//! encryption key comes from the settings, or from a key file made on the first start.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use axum::Form;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lucia::{Error, SecondFactorCode, TotpEncryptionKey};

use crate::accounts::{Client, seconds, too_many_attempts};
use crate::web::{CodeForm, PageResult, SignInOptions, account_page, form_page, page};
use crate::{Config, PendingSecondFactor, SignedIn, html};

/// The name authenticator apps show above the account.
pub const ISSUER: &str = "lucia-rs demo";

/// The page of a password or provider sign-in's second step.
pub(crate) const SECOND_STEP_PAGE: &str = "/login/second-factor";

/// The TOTP key file's name when none is configured: beside the SQLite file, or in the
/// working directory with a server database.
pub const DEFAULT_TOTP_KEY_FILE: &str = "lucia-demo-totp.key";

/// Why the TOTP encryption key could not be had. Never shows the key or the file's content.
#[derive(Debug, thiserror::Error)]
pub enum TotpKeyError {
    /// The key file could not be read or made.
    #[error("TOTP key file {}: {error}", path.display())]
    Io { path: PathBuf, error: std::io::Error },
    /// The key file holds something other than base64 of 32 bytes.
    #[error("TOTP key file {}: not base64 of 32 bytes (make one with `openssl rand -base64 32`)", path.display())]
    Invalid { path: PathBuf },
}

/// The key of the settings, or the key file's (made if missing).
pub fn encryption_key(config: &Config) -> Result<TotpEncryptionKey, TotpKeyError> {
    if let Some(key) = &config.totp_key {
        return Ok(key.clone());
    }
    let path = match &config.totp_key_file {
        Some(path) => path.clone(),
        None => default_key_file(&config.database_url),
    };
    load_or_create_key(&path)
}

/// [`DEFAULT_TOTP_KEY_FILE`] in the SQLite file's folder, or in the working directory.
fn default_key_file(database_url: &str) -> PathBuf {
    let folder = crate::sqlite_file(database_url)
        .and_then(|file| Path::new(&file).parent().map(Path::to_path_buf))
        .unwrap_or_default();
    folder.join(DEFAULT_TOTP_KEY_FILE)
}

/// Reads the key in `path`, or makes a new one there: 32 random bytes in base64, in a file
/// created exclusively (of two instances starting at once, one writes and both read it) and
/// readable by its owner only. A file that holds no key is an error, never overwritten: the
/// TOTP secrets sealed under it would be lost.
pub fn load_or_create_key(path: &Path) -> Result<TotpEncryptionKey, TotpKeyError> {
    let io = |error| TotpKeyError::Io { path: path.to_owned(), error };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|error| io(std::io::Error::other(error.to_string())))?;
            file.write_all(format!("{}\n", BASE64.encode(bytes)).as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            tracing::info!(path = %path.display(), "made a new TOTP encryption key file: keep it safe, without it authenticator apps stop working");
            Ok(TotpEncryptionKey::from_bytes(bytes))
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(io)?;
            TotpEncryptionKey::from_base64(&text).map_err(|_| TotpKeyError::Invalid { path: path.to_owned() })
        }
        Err(error) => Err(io(error)),
    }
}

/// Why a second-factor step failed, with a message for the user. Fixed texts: nothing from the
/// database, and never the code, reaches the page or the API.
#[derive(Debug, thiserror::Error)]
pub enum SecondFactorError {
    /// A wrong, replayed or used code (or no authenticator app set up).
    #[error("That code is not right. Enter the current code from your authenticator app, or a recovery code.")]
    WrongCode,
    /// Too many codes tried for this account: `429` with `Retry-After`.
    #[error("{}", too_many_attempts(*.0))]
    TooManyAttempts(u64),
    /// The pending sign-in is unknown, used, expired or was tried too often.
    #[error("That sign-in took too long or was tried too often. Please sign in again.")]
    SignInExpired,
    #[error("Your authenticator app is already set up.")]
    AlreadyEnabled,
    #[error(transparent)]
    Internal(Error),
}

impl SecondFactorError {
    pub fn from_lucia(error: Error) -> Self {
        match error {
            Error::InvalidSecondFactor => Self::WrongCode,
            Error::Throttled { retry_after } => Self::TooManyAttempts(seconds(retry_after)),
            Error::InvalidToken | Error::ExpiredToken => Self::SignInExpired,
            Error::SecondFactorAlreadyEnabled => Self::AlreadyEnabled,
            error => Self::Internal(error),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::WrongCode | Self::SignInExpired => StatusCode::BAD_REQUEST,
            Self::AlreadyEnabled => StatusCode::CONFLICT,
            Self::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(error) => crate::accounts::internal_status(error),
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

/// "Set up an authenticator app": a new secret (replacing one not confirmed yet), shown this
/// once as a QR code and as text, with the form for the app's first code.
pub async fn enrol(SignedIn { session, auth, .. }: SignedIn) -> PageResult {
    let user = &session.user;
    let username = &user.attributes.username;
    match auth.lucia().enrol_totp(&user.user_id, username).await {
        Ok(enrolment) => {
            let svg = enrolment.qr_svg();
            Ok(page(StatusCode::OK, &html::TotpEnrolment::new(username, Some((&svg, enrolment.secret_base32())), None)))
        }
        Err(Error::SecondFactorAlreadyEnabled) => Ok(Redirect::to("/account?notice=totp-already-on").into_response()),
        Err(error) => Err(error.into()),
    }
}

/// The app's first code: the authenticator is on, and the recovery codes are shown, once.
/// A wrong code shows the form again (the QR code is not shown twice; "start again" makes a
/// new one).
pub async fn confirm(SignedIn { session, auth, .. }: SignedIn, Form(form): Form<CodeForm>) -> PageResult {
    let user = &session.user;
    let code: String = form.code.split_whitespace().collect();
    match auth.lucia().confirm_totp(&user.user_id, &code).await {
        Ok(codes) => {
            tracing::info!(user_id = %user.user_id, "authenticator app set up");
            Ok(page(StatusCode::OK, &html::RecoveryCodes::new(&user.attributes.username, codes.codes(), true)))
        }
        Err(error) => match SecondFactorError::from_lucia(error) {
            SecondFactorError::Internal(error) => Err(error.into()),
            failure => {
                let message = failure.to_string();
                let form = html::TotpEnrolment::new(&user.attributes.username, None, Some(&message));
                Ok(form_page(failure.status(), failure.retry_after(), &form))
            }
        },
    }
}

/// "Turn off", with a code: deletes the secret and the recovery codes.
pub async fn disable(
    SignedIn { session, auth, .. }: SignedIn,
    axum::extract::State(options): axum::extract::State<SignInOptions>,
    Form(form): Form<CodeForm>,
) -> PageResult {
    let user_id = &session.user.user_id;
    match auth.lucia().disable_totp(user_id, &SecondFactorCode::from_input(&form.code)).await {
        Ok(()) => {
            tracing::info!(%user_id, "authenticator app turned off");
            Ok(Redirect::to("/account?notice=totp-off").into_response())
        }
        Err(error) => account_failure(&auth, &options, &session, SecondFactorError::from_lucia(error)).await,
    }
}

/// "New recovery codes", with a code: the old set stops working, the new one is shown once.
pub async fn regenerate_recovery_codes(
    SignedIn { session, auth, .. }: SignedIn,
    axum::extract::State(options): axum::extract::State<SignInOptions>,
    Form(form): Form<CodeForm>,
) -> PageResult {
    let user = &session.user;
    match auth.lucia().regenerate_recovery_codes(&user.user_id, &SecondFactorCode::from_input(&form.code)).await {
        Ok(codes) => {
            tracing::info!(user_id = %user.user_id, "new recovery codes");
            Ok(page(StatusCode::OK, &html::RecoveryCodes::new(&user.attributes.username, codes.codes(), false)))
        }
        Err(error) => account_failure(&auth, &options, &session, SecondFactorError::from_lucia(error)).await,
    }
}

/// The account page with a second-factor failure (and `Retry-After` for a `429`).
async fn account_failure(
    auth: &crate::AuthRequest,
    options: &SignInOptions,
    session: &lucia::Session<crate::UserAttributes, crate::SessionAttributes>,
    failure: SecondFactorError,
) -> PageResult {
    if let SecondFactorError::Internal(error) = failure {
        return Err(error.into());
    }
    let message = failure.to_string();
    let mut response = account_page(auth, options, session, failure.status(), None, Some(&message), None).await?;
    if let Some(seconds) = failure.retry_after() {
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
    }
    Ok(response)
}

/// The second step's form, for a browser with a pending sign-in (others go to `/login`).
pub async fn second_step_page(_pending: PendingSecondFactor) -> Response {
    page(StatusCode::OK, &html::SecondStep { signed_in: None, error: None })
}

/// A TOTP or recovery code completes the pending sign-in: a new session, the pending cookie
/// deleted. A wrong code shows the form again (`401`, as a wrong password); a pending sign-in
/// that expired or was tried too often goes back to `/login`.
pub async fn second_step(pending: PendingSecondFactor, client: Client, Form(form): Form<CodeForm>) -> PageResult {
    let clear = pending.clear_cookie();
    let code = SecondFactorCode::from_input(&form.code);
    let error = match pending.complete(&code, client.session_attributes()).await {
        Ok((_session, cleared)) => return Ok((cleared, Redirect::to("/account")).into_response()),
        Err(lucia_axum::AuthError::Lucia(error)) => SecondFactorError::from_lucia(error),
        Err(error) => return Err(error.into()),
    };
    match error {
        SecondFactorError::Internal(error) => Err(error.into()),
        SecondFactorError::SignInExpired => Ok((clear, Redirect::to("/login?notice=sign-in-expired")).into_response()),
        failure => {
            let status = match failure {
                SecondFactorError::WrongCode => StatusCode::UNAUTHORIZED,
                _ => failure.status(),
            };
            let message = failure.to_string();
            Ok(form_page(status, failure.retry_after(), &html::SecondStep { signed_in: None, error: Some(&message) }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_made_once_private_and_kept() {
        let dir = std::env::temp_dir().join(format!("lucia-demo-key-{}", lucia::generate_random_string(8)));
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join(DEFAULT_TOTP_KEY_FILE);
        load_or_create_key(&path).unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(TotpEncryptionKey::from_base64(&written).is_ok(), "base64 of 32 bytes");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // Read again, not replaced.
        load_or_create_key(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
        // A file that holds no key stops the start, and stays as it was.
        std::fs::write(&path, "not a key").unwrap();
        let error = load_or_create_key(&path).unwrap_err();
        assert!(matches!(error, TotpKeyError::Invalid { .. }), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a key");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_default_key_file_is_beside_the_sqlite_file() {
        assert_eq!(
            default_key_file("sqlite:///var/lib/demo/app.db?mode=rwc"),
            Path::new("/var/lib/demo/lucia-demo-totp.key")
        );
        assert_eq!(default_key_file("sqlite://lucia-demo.db?mode=rwc"), Path::new("lucia-demo-totp.key"));
        assert_eq!(default_key_file("postgres://db/app"), Path::new("lucia-demo-totp.key"));
    }

    #[test]
    fn failures_are_fixed_texts() {
        let wrong = SecondFactorError::from_lucia(Error::InvalidSecondFactor);
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
        let throttled =
            SecondFactorError::from_lucia(Error::Throttled { retry_after: std::time::Duration::from_millis(1_500) });
        assert_eq!((throttled.status(), throttled.retry_after()), (StatusCode::TOO_MANY_REQUESTS, Some(2)));
        assert!(matches!(SecondFactorError::from_lucia(Error::ExpiredToken), SecondFactorError::SignInExpired));
        let internal = SecondFactorError::from_lucia(Error::Unavailable("connection refused".into()));
        assert_eq!(internal.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
