//! The HTML pages. Forms post back and redirect (303) on success; failures re-render the
//! form with the error and a 4xx status.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use lucia_axum::SignInStep;
use serde::Deserialize;

use crate::accounts::{self, Client, Credentials, EmailFlowError, PROVIDER, SignInError, SignUpError};
use crate::mail::Mails;
use crate::oauth::{self, Providers, UnlinkError};

/// What the pages offer to sign in with besides a password (in the router's state): the
/// providers, and passkeys, which work at one origin only; and what counts as a recent
/// sign-in.
#[derive(Debug, Clone)]
pub struct SignInOptions {
    pub providers: Providers,
    /// The passkeys' origin (`http://localhost:3000`), as `window.location.origin` says it.
    pub passkey_origin: std::sync::Arc<str>,
    /// The passkey routes' check of a recent sign-in (the session's `created_at`, ten
    /// minutes), which removing a passkey and deleting an account without a password need.
    pub recent_sign_in: lucia_axum::RecentSignIn<crate::Auth>,
}
use crate::{AuthRequest, SessionAttributes, SignedIn, html};

/// A failure shown as a page.
pub struct PageError(StatusCode, String);

impl From<lucia_axum::AuthError> for PageError {
    fn from(error: lucia_axum::AuthError) -> Self {
        let status = error.status();
        if matches!(error, lucia_axum::AuthError::Lucia(lucia::Error::Busy)) {
            return Self(status, "Too many people are signing in right now. Please try again in a moment.".into());
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Not a sign-out: the cookie stays, and the same page works once the store is back.
            tracing::warn!(%error, "page failed: store unavailable");
            return Self(status, "The service is briefly unavailable. Please try again in a few seconds.".into());
        }
        if status.is_server_error() {
            tracing::error!(%error, "page failed");
            return Self(status, "Something went wrong on our side. Please try again.".into());
        }
        let message = match error {
            lucia_axum::AuthError::Csrf(_) => "This request came from another site and was refused.".into(),
            // A fixed text per kind: never the database's words.
            other => other.public_message().to_owned(),
        };
        Self(status, message)
    }
}

impl From<lucia::Error> for PageError {
    fn from(error: lucia::Error) -> Self {
        lucia_axum::AuthError::from(error).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = self.0.canonical_reason().unwrap_or("Error");
        let mut response = page(self.0, &html::ErrorPage { signed_in: None, title, message: &self.1 });
        if self.0 == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(crate::RETRY_AFTER_SECONDS));
        }
        response
    }
}

pub(crate) type PageResult = Result<Response, PageError>;

/// `?notice=<code>`: fixed messages, so nothing from the URL is echoed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Notice {
    notice: Option<String>,
    /// A failed sign-in or link with a provider ([`lucia_axum::oauth::OAuthError::code`]).
    oauth_error: Option<String>,
}

impl Notice {
    fn message(&self) -> Option<&'static str> {
        Some(match self.notice.as_deref()? {
            "deleted" => "Your account has been deleted.",
            "signed-out" => "You have signed out.",
            "revoked" => "That session has been signed out.",
            "others-revoked" => "You have been signed out everywhere else.",
            "password-changed" => "Your password has been changed and your other sessions signed out.",
            "gone" => "That session had already ended.",
            "email-verified" => "Thank you: your email address is verified.",
            "code-sent" => "We sent you a new code. Earlier codes no longer work.",
            "password-reset" => {
                "Your password has been reset, and you were signed out everywhere. Sign in with the new one."
            }
            "linked" => "The provider account is linked: you can sign in with it now.",
            "unlinked" => "That sign-in method has been removed.",
            "passkey-added" => "Your passkey has been added: you can sign in with it now.",
            "passkey-renamed" => "The passkey has been renamed.",
            "passkey-removed" => {
                "The passkey has been removed. It may stay on your device, where it no longer works here."
            }
            "totp-off" => "Your authenticator app is turned off: your password alone signs you in now.",
            "totp-already-on" => "Your authenticator app is already set up.",
            "sign-in-expired" => "That sign-in took too long or was tried too often. Please sign in again.",
            _ => return None,
        })
    }

    /// The failure of a sign-in or link with a provider, in words.
    fn error(&self) -> Option<&'static str> {
        Some(match self.oauth_error.as_deref()? {
            "flow" => "That sign-in took too long or was not started here. Please try again.",
            "denied" => "The provider did not sign you in.",
            "taken" => "That provider account is already linked to another account here.",
            "wrong-user" => "That link was started by another account. Please try again.",
            "provider" => "The provider could not be reached or answered wrongly. Please try again later.",
            "too-many" => "Too many sign-in attempts from your address. Please wait a moment.",
            "unavailable" => "The service is briefly unavailable. Please try again in a few seconds.",
            _ => "The sign-in with the provider failed.",
        })
    }
}

pub(crate) fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        // Only a failing `Display` of a value can get here: nothing a request controls.
        Err(error) => {
            tracing::error!(%error, "page failed to render");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A form page again with a failure next to the form; a `429` says when to retry.
pub(crate) fn form_page(status: StatusCode, retry_after: Option<u64>, form: &impl Template) -> Response {
    let mut response = page(status, form);
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

pub async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("style.css")).into_response()
}

/// The script of "Add a passkey" and "Sign in with a passkey" (a file: the pages' CSP allows
/// no inline script).
pub async fn passkey_script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("passkeys.js")).into_response()
}

pub async fn not_found(auth: AuthRequest) -> PageResult {
    let session = auth.validate().await.ok().flatten();
    let username = session.as_ref().map(|s| s.user.attributes.username.as_str());
    Ok(page(StatusCode::NOT_FOUND, &html::NotFound { signed_in: username }))
}

pub async fn home(auth: AuthRequest, Query(notice): Query<Notice>) -> PageResult {
    let session = auth.validate().await?;
    let username = session.as_ref().map(|s| s.user.attributes.username.as_str());
    Ok(page(StatusCode::OK, &html::Home { signed_in: username, notice: notice.message() }))
}

pub async fn signup_page(auth: AuthRequest) -> PageResult {
    if auth.validate().await?.is_some() {
        return Ok(Redirect::to("/account").into_response());
    }
    Ok(page(StatusCode::OK, &html::Credentials::sign_up(html::SignUpForm::default())))
}

/// Creates the account, mails a verification code, signs in and asks for the code.
pub async fn signup(
    auth: AuthRequest,
    client: Client,
    State(mails): State<Mails>,
    Form(credentials): Form<Credentials>,
) -> PageResult {
    // Sign-ups count against the address's sign-in budget (each hashes a password).
    let checked = match auth.check_rate_limit() {
        Ok(()) => Ok(()),
        Err(error) => Err(SignUpError::from_rate_limit(error)?),
    };
    let created = match checked {
        Ok(()) => accounts::sign_up(auth.lucia(), &mails, &credentials).await,
        Err(failure) => Err(failure),
    };
    match created {
        Ok(user) => {
            // A new session for this browser; one it already had is ended.
            auth.start_session(&user.user_id, client.session_attributes()).await?;
            Ok(Redirect::to("/verify-email").into_response())
        }
        Err(SignUpError::Internal(error)) => Err(error.into()),
        Err(failure) => {
            // The password policy's sentence goes under the password field, an address
            // failure under the address field.
            let message = failure.to_string();
            let mut form =
                html::SignUpForm { username: &credentials.username, email: &credentials.email, ..Default::default() };
            if failure.is_about_the_password() {
                form.password_error = Some(&message);
            } else if failure.is_about_the_email() {
                form.email_error = Some(&message);
            } else {
                form.error = Some(&message);
            }
            Ok(form_page(failure.status(), failure.retry_after(), &html::Credentials::sign_up(form)))
        }
    }
}

pub async fn login_page(
    auth: AuthRequest,
    State(options): State<SignInOptions>,
    Query(notice): Query<Notice>,
) -> PageResult {
    if auth.validate().await?.is_some() {
        // A failed link (started from the account page) is explained there.
        let location = match notice.oauth_error.as_deref().filter(|_| notice.error().is_some()) {
            Some(code) => format!("/account?oauth_error={code}"),
            None => "/account".to_owned(),
        };
        return Ok(Redirect::to(&location).into_response());
    }
    let form = html::Credentials::sign_in(notice.message(), "", notice.error())
        .with_providers(options.providers.list())
        .with_passkeys(&options.passkey_origin);
    Ok(page(StatusCode::OK, &form))
}

/// Checks the password and starts a session in one step (safe against a password change
/// racing it), ends the session this browser had, and sets the new cookie; a user with an
/// authenticator app gets no session yet but the pending sign-in's cookie, and the code form.
pub async fn login(
    auth: AuthRequest,
    client: Client,
    State(options): State<SignInOptions>,
    Form(credentials): Form<Credentials>,
) -> PageResult {
    match try_sign_in(&auth, &client, &credentials).await? {
        Ok(SignInStep::SignedIn(_)) => Ok(Redirect::to("/account").into_response()),
        Ok(SignInStep::SecondFactorRequired(pending)) => {
            Ok((pending, Redirect::to(crate::second_factor::SECOND_STEP_PAGE)).into_response())
        }
        Err(failure) => {
            let message = failure.to_string();
            let form = html::Credentials::sign_in(None, &credentials.username, Some(&message))
                .with_providers(options.providers.list())
                .with_passkeys(&options.passkey_origin);
            Ok(form_page(failure.status(), failure.retry_after(), &form))
        }
    }
}

/// `Ok(Err(_))` is a failure to show on the form; `Err(_)` one to answer as an error page.
async fn try_sign_in(
    auth: &AuthRequest,
    client: &Client,
    credentials: &Credentials,
) -> Result<Result<SignInStep<crate::Auth>, SignInError>, PageError> {
    if let Err(failure) = accounts::check_sign_in_input(&credentials.username, &credentials.password) {
        return Ok(Err(failure));
    }
    let attributes = client.session_attributes();
    let signed_in =
        auth.sign_in_with_second_factor(PROVIDER, &credentials.username, Some(&credentials.password), attributes);
    match signed_in.await {
        Ok(step) => Ok(Ok(step)),
        Err(error) => match SignInError::from_auth(error)? {
            SignInError::Internal(error) => Err(error.into()),
            failure => Ok(Err(failure)),
        },
    }
}

pub async fn logout(auth: AuthRequest) -> PageResult {
    auth.sign_out().await?;
    Ok(Redirect::to("/login?notice=signed-out").into_response())
}

/// Signed-in users only: [`SignedIn`] sends everyone else to `/login`, and a user whose
/// address is not verified yet goes to `/verify-email` first.
pub async fn account(
    SignedIn { session, auth, .. }: SignedIn,
    State(options): State<SignInOptions>,
    Query(notice): Query<Notice>,
) -> PageResult {
    if session.user.attributes.needs_verification() {
        return Ok(Redirect::to("/verify-email").into_response());
    }
    account_page(&auth, &options, &session, StatusCode::OK, notice.message(), notice.error(), None).await
}

/// The code form, for a signed-in user whose address is not verified yet (others go to their
/// account).
pub async fn verify_email_page(
    SignedIn { session, .. }: SignedIn,
    State(mails): State<Mails>,
    Query(notice): Query<Notice>,
) -> PageResult {
    verify_email_form(&session, &mails, StatusCode::OK, notice.message(), None)
}

fn verify_email_form(
    session: &lucia::Session<crate::UserAttributes, crate::SessionAttributes>,
    mails: &Mails,
    status: StatusCode,
    notice: Option<&str>,
    failure: Option<&EmailFlowError>,
) -> PageResult {
    let attributes = &session.user.attributes;
    let Some(email) = attributes.email.as_deref().filter(|_| attributes.needs_verification()) else {
        return Ok(Redirect::to("/account").into_response());
    };
    let error = failure.map(ToString::to_string);
    let form = html::VerifyEmail {
        signed_in: Some(&attributes.username),
        email,
        notice,
        error: error.as_deref(),
        mail_folder: mail_folder(mails),
    };
    Ok(form_page(status, failure.and_then(EmailFlowError::retry_after), &form))
}

/// Where the mail went, for the pages that say so (no mail server configured).
fn mail_folder(mails: &Mails) -> Option<String> {
    mails.folder().map(|folder| folder.display().to_string())
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct CodeForm {
    pub code: String,
}

pub async fn verify_email(
    SignedIn { session, auth, .. }: SignedIn,
    State(mails): State<Mails>,
    Form(form): Form<CodeForm>,
) -> PageResult {
    match accounts::verify_email(auth.lucia(), &session.user.user_id, &form.code).await {
        Ok(()) => Ok(Redirect::to("/account?notice=email-verified").into_response()),
        Err(EmailFlowError::Internal(error)) => Err(error.into()),
        Err(failure) => verify_email_form(&session, &mails, failure.status(), None, Some(&failure)),
    }
}

/// "Send a new code" (limited per account: `429` when asked too often).
pub async fn resend_code(SignedIn { session, auth, .. }: SignedIn, State(mails): State<Mails>) -> PageResult {
    if !session.user.attributes.needs_verification() {
        return Ok(Redirect::to("/account").into_response());
    }
    match accounts::send_verification_code(auth.lucia(), &mails, &session.user.user_id).await {
        Ok(()) => Ok(Redirect::to("/verify-email?notice=code-sent").into_response()),
        Err(EmailFlowError::Internal(error)) => Err(error.into()),
        Err(failure) => verify_email_form(&session, &mails, failure.status(), None, Some(&failure)),
    }
}

pub async fn forgot_password_page() -> Response {
    let form = html::ForgotPassword { signed_in: None, email: "", sent: false, error: None, mail_folder: None };
    page(StatusCode::OK, &form)
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct EmailForm {
    email: String,
}

/// Mails a reset link if the address has an account; the answer is the same either way, and
/// comes before the lookup (see [`accounts::forgot_password`]). Limited per client address
/// and per address: `429`.
pub async fn forgot_password(auth: AuthRequest, State(mails): State<Mails>, Form(form): Form<EmailForm>) -> PageResult {
    let outcome = match auth.check_rate_limit() {
        Ok(()) => accounts::forgot_password(auth.lucia(), &mails, &form.email).await,
        Err(error) => Err(EmailFlowError::from_rate_limit(error)?),
    };
    let (status, failure) = match outcome {
        Ok(()) => (StatusCode::OK, None),
        Err(EmailFlowError::Internal(error)) => return Err(error.into()),
        Err(failure) => (failure.status(), Some(failure)),
    };
    let error = failure.as_ref().map(ToString::to_string);
    let page = html::ForgotPassword {
        signed_in: None,
        email: &form.email,
        sent: failure.is_none(),
        error: error.as_deref(),
        mail_folder: mail_folder(&mails),
    };
    Ok(form_page(status, failure.as_ref().and_then(EmailFlowError::retry_after), &page))
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct TokenQuery {
    token: String,
}

/// The page a reset link opens. The token is checked when the form is sent, not here: opening
/// the link (or a mail scanner fetching it) uses nothing up.
pub async fn reset_password_page(Query(query): Query<TokenQuery>) -> Response {
    let form = html::ResetPassword { signed_in: None, token: &query.token, error: None, password_error: None };
    page(StatusCode::OK, &form)
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ResetForm {
    token: String,
    password: String,
}

/// Sets the new password and ends every session of the account; the user signs in again.
pub async fn reset_password(auth: AuthRequest, Form(form): Form<ResetForm>) -> PageResult {
    let outcome = match auth.check_rate_limit() {
        Ok(()) => accounts::reset_password(auth.lucia(), &form.token, &form.password).await,
        Err(error) => Err(EmailFlowError::from_rate_limit(error)?),
    };
    let failure = match outcome {
        Ok(user) => {
            // This browser's session (if any) ended with the others: drop its cookie.
            auth.sign_out().await?;
            return Ok(after_password_reset(&auth, &user.user_id).await);
        }
        Err(EmailFlowError::Internal(error)) => return Err(error.into()),
        Err(failure) => failure,
    };
    let message = failure.to_string();
    let about_the_password = matches!(failure, EmailFlowError::PasswordRejected(_));
    let page = html::ResetPassword {
        signed_in: None,
        token: &form.token,
        error: (!about_the_password).then_some(message.as_str()),
        password_error: about_the_password.then_some(message.as_str()),
    };
    Ok(form_page(failure.status(), failure.retry_after(), &page))
}

/// After a password reset: the sign-in page, or, for an account with passkeys, the list of
/// them to review (whoever had the account may have added one; a password reset does not
/// remove passkeys). Could the list not be read, the sign-in page all the same: the password
/// is reset.
async fn after_password_reset(auth: &AuthRequest, user_id: &str) -> Response {
    match crate::passkeys::rows(auth.lucia(), user_id).await {
        Ok(passkeys) if !passkeys.is_empty() => {
            page(StatusCode::OK, &html::PasswordReset { signed_in: None, passkeys: &passkeys })
        }
        Ok(_) => Redirect::to("/login?notice=password-reset").into_response(),
        Err(error) => {
            tracing::warn!(%error, user_id, "passkeys not listed after a password reset");
            Redirect::to("/login?notice=password-reset").into_response()
        }
    }
}

pub(crate) async fn account_page(
    auth: &AuthRequest,
    options: &SignInOptions,
    session: &lucia::Session<crate::UserAttributes, crate::SessionAttributes>,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
    password_error: Option<&str>,
) -> PageResult {
    // Sessions by handle: the page names each session without holding its token.
    let mut sessions = auth.lucia().get_all_user_sessions(&session.user.user_id).await?;
    // This device first, then the most recent.
    sessions.sort_by_key(|s| (s.handle != session.handle, std::cmp::Reverse(s.attributes.created_at)));
    let user_id = &session.user.user_id;
    let methods = oauth::methods(auth.lucia(), user_id, &options.providers).await?;
    let second_factor = match auth.lucia().has_second_factor(user_id).await? {
        true => Some(auth.lucia().recovery_codes_left(user_id).await?),
        false => None,
    };
    let recent = &options.recent_sign_in;
    let account = html::Account::new(session, &sessions, notice, error, password_error)
        .with_methods(&methods, options.providers.list())
        .with_sign_in_age(
            recent.since_sign_in(auth.lucia(), session),
            recent.is_recent(auth.lucia(), session),
            recent.max_age(),
        )
        .with_second_factor(second_factor)
        .with_passkeys(crate::passkeys::rows(auth.lucia(), user_id).await?, &options.passkey_origin);
    Ok(page(status, &account))
}

/// The account page with a `429` for a current password the per-account throttle refused,
/// and `Retry-After` saying when to try again.
async fn throttled_account_page(
    auth: &AuthRequest,
    options: &SignInOptions,
    session: &lucia::Session<crate::UserAttributes, crate::SessionAttributes>,
    failure: &SignInError,
) -> PageResult {
    let mut response =
        account_page(auth, options, session, failure.status(), None, Some(&failure.to_string()), None).await?;
    if let Some(seconds) = failure.retry_after() {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    Ok(response)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RevokeForm {
    /// A [`lucia::SessionHandle`] from the account page.
    session: String,
}

/// "Sign out this one": revokes one of the user's sessions by its handle.
pub async fn revoke_session(
    SignedIn { session: current, auth, .. }: SignedIn,
    Form(form): Form<RevokeForm>,
) -> PageResult {
    let Ok(handle) = form.session.parse::<lucia::SessionHandle>() else {
        return Ok(Redirect::to("/account?notice=gone").into_response());
    };
    if handle == current.handle {
        auth.sign_out().await?;
        return Ok(Redirect::to("/login?notice=signed-out").into_response());
    }
    // Only the user's own sessions; anything else looks like an ended session.
    if auth.lucia().invalidate_user_session(&current.user.user_id, &handle).await? {
        Ok(Redirect::to("/account?notice=revoked").into_response())
    } else {
        Ok(Redirect::to("/account?notice=gone").into_response())
    }
}

/// "Sign out everywhere else": ends every session of the user in one statement (a sign-in
/// racing it does not survive), then starts a fresh one for this browser.
pub async fn revoke_other_sessions(SignedIn { session: current, auth, .. }: SignedIn, client: Client) -> PageResult {
    let user_id = &current.user.user_id;
    auth.lucia().invalidate_all_user_sessions(user_id).await?;
    // The fresh session keeps the time of the sign-in it replaces: no credential was given, so
    // it must not count as a recent sign-in (adding a passkey asks for one).
    let attributes = SessionAttributes { created_at: current.attributes.created_at, ..client.session_attributes() };
    auth.start_session(user_id, attributes).await?;
    Ok(Redirect::to("/account?notice=others-revoked").into_response())
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

/// Checks the signed-in user's password before a change that needs it: `None` if it is right,
/// else the page to answer with (the throttle's, or `400` with `wrong` as the page's error).
async fn refuse_wrong_password(
    auth: &AuthRequest,
    options: &SignInOptions,
    current: &lucia::Session<crate::UserAttributes, crate::SessionAttributes>,
    password: &str,
    wrong: &str,
) -> Result<Option<Response>, PageError> {
    match accounts::check_password(auth.lucia(), &current.user.attributes.username, password).await {
        Ok(_) => Ok(None),
        Err(SignInError::Internal(error)) => Err(error.into()),
        Err(failure @ SignInError::TooManyAttempts(_)) => {
            throttled_account_page(auth, options, current, &failure).await.map(Some)
        }
        Err(_) => {
            account_page(auth, options, current, StatusCode::BAD_REQUEST, None, Some(wrong), None).await.map(Some)
        }
    }
}

pub async fn change_password(
    SignedIn { session: current, auth, .. }: SignedIn,
    State(options): State<SignInOptions>,
    client: Client,
    Form(form): Form<PasswordForm>,
) -> PageResult {
    let wrong = "Your current password is not correct.";
    if let Some(refusal) = refuse_wrong_password(&auth, &options, &current, &form.current_password, wrong).await? {
        return Ok(refusal);
    }
    let lucia = auth.lucia();
    let username = &current.user.attributes.username;
    if let Err(failure) = accounts::check_new_password(&form.new_password, username) {
        return account_page(&auth, &options, &current, failure.status(), None, None, Some(&failure.to_string())).await;
    }
    // The new password (if the password policy takes it) and the end of every session (this
    // one included), atomically; no sign-in that checked the old password survives it.
    match lucia.change_password(PROVIDER, username, &form.new_password).await {
        Ok(_) => {}
        Err(lucia::Error::PasswordRejected(rejection)) => {
            let message = rejection.to_string();
            return account_page(&auth, &options, &current, StatusCode::BAD_REQUEST, None, None, Some(&message)).await;
        }
        Err(error) => return Err(error.into()),
    }
    auth.start_session(&current.user.user_id, client.session_attributes()).await?;
    Ok(Redirect::to("/account?notice=password-changed").into_response())
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct DeleteForm {
    password: String,
}

/// Deletes the account: a user with a password confirms with it (the per-account throttle
/// counts wrong ones); a user without one (passkeys or providers only) by having signed in
/// within the last ten minutes, as adding a passkey needs, else `403` and the account page
/// says to sign in again.
pub async fn delete_account(
    SignedIn { session: current, auth, .. }: SignedIn,
    State(options): State<SignInOptions>,
    Form(form): Form<DeleteForm>,
) -> PageResult {
    let user_id = &current.user.user_id;
    let methods = oauth::methods(auth.lucia(), user_id, &options.providers).await?;
    if methods.iter().any(oauth::Method::is_password) {
        let wrong = "That password is not correct; your account was not deleted.";
        if let Some(refusal) = refuse_wrong_password(&auth, &options, &current, &form.password, wrong).await? {
            return Ok(refusal);
        }
    } else if !options.recent_sign_in.is_recent(auth.lucia(), &current) {
        let error = Some("To delete your account, sign in again first: your account was not deleted.");
        return account_page(&auth, &options, &current, StatusCode::FORBIDDEN, None, error, None).await;
    }
    auth.lucia().delete_user(user_id).await?;
    auth.sign_out().await?;
    tracing::info!(user_id = %current.user.user_id, "deleted account");
    Ok(Redirect::to("/?notice=deleted").into_response())
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct UnlinkForm {
    /// The sign-in method's key, `provider:subject`, from the account page.
    key: String,
}

/// "Remove" on a sign-in method: deletes the key, unless it is the user's last way to sign
/// in (then the account page says so, `409`).
pub async fn unlink_method(
    SignedIn { session: current, auth, .. }: SignedIn,
    State(options): State<SignInOptions>,
    Form(form): Form<UnlinkForm>,
) -> PageResult {
    match oauth::unlink(auth.lucia(), &current.user.user_id, &form.key).await {
        Ok(()) => Ok(Redirect::to("/account?notice=unlinked").into_response()),
        Err(UnlinkError::Internal(error)) => Err(error.into()),
        Err(failure) => {
            let status = match failure {
                UnlinkError::LastMethod => StatusCode::CONFLICT,
                _ => StatusCode::NOT_FOUND,
            };
            let message = failure.to_string();
            account_page(&auth, &options, &current, status, None, Some(&message), None).await
        }
    }
}
