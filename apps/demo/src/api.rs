//! The JSON API for non-browser clients, authenticated with bearer tokens.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lucia::{SecondFactorCode, SignIn};
use serde_json::json;

use crate::accounts::{self, Client, Credentials, EmailFlowError, PROVIDER, SignInError, SignUpError};
use crate::mail::Mails;
use crate::second_factor::SecondFactorError;
use crate::{AuthRequest, UserAttributes};

/// `{"error": message}` with a status; server errors are logged and not described (`503`,
/// a store that could not be reached, says `service unavailable` and when to retry).
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// `Retry-After` of a `429`, in seconds.
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl std::fmt::Display) -> Self {
        Self { status, message: message.to_string(), retry_after: None }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = if self.status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(message = %self.message, "API request failed: store unavailable");
            "service unavailable".to_owned()
        } else if self.status.is_server_error() {
            tracing::error!(message = %self.message, "API request failed");
            "internal server error".to_owned()
        } else {
            self.message
        };
        let mut response = (self.status, Json(json!({ "error": message }))).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(crate::RETRY_AFTER_SECONDS));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<lucia_axum::AuthError> for ApiError {
    fn from(error: lucia_axum::AuthError) -> Self {
        let status = error.status();
        // The fixed public text for clients; the detail only in the log of a server error.
        let message = if status.is_server_error() { error.to_string() } else { error.public_message().to_owned() };
        Self { retry_after: error.retry_after_seconds(), ..Self::new(status, message) }
    }
}

impl From<SignInError> for ApiError {
    fn from(failure: SignInError) -> Self {
        Self { retry_after: failure.retry_after(), ..Self::new(failure.status(), &failure) }
    }
}

impl From<SignUpError> for ApiError {
    fn from(failure: SignUpError) -> Self {
        Self { retry_after: failure.retry_after(), ..Self::new(failure.status(), &failure) }
    }
}

impl From<SecondFactorError> for ApiError {
    fn from(failure: SecondFactorError) -> Self {
        Self { retry_after: failure.retry_after(), ..Self::new(failure.status(), &failure) }
    }
}

impl From<EmailFlowError> for ApiError {
    fn from(failure: EmailFlowError) -> Self {
        Self { retry_after: failure.retry_after(), ..Self::new(failure.status(), &failure) }
    }
}

/// The JSON body, or `400` with what is wrong with it.
fn body<T>(request: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    request.map(|Json(value)| value).map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))
}

/// What the API shows of a user.
fn user_json(user_id: &str, attributes: &UserAttributes) -> serde_json::Value {
    json!({
        "user_id": user_id,
        "username": attributes.username,
        "email": attributes.email,
        "email_verified": attributes.email_verified,
    })
}

/// `POST /api/signup {"username","email","password"}` → `201 {"user_id","username","email",
/// "email_verified"}`, and a verification code mailed to the address; sign in with
/// `/api/login` to get a token, then `POST /api/verify-email`.
pub async fn signup(
    auth: AuthRequest,
    State(mails): State<Mails>,
    request: Result<Json<Credentials>, JsonRejection>,
) -> Result<Response, ApiError> {
    let credentials = body(request)?;
    auth.check_rate_limit()?;
    let user = accounts::sign_up(auth.lucia(), &mails, &credentials).await.map_err(ApiError::from)?;
    Ok((StatusCode::CREATED, Json(user_json(&user.user_id, &user.attributes))).into_response())
}

#[derive(serde::Deserialize)]
pub struct CodeBody {
    code: String,
}

#[derive(serde::Deserialize)]
pub struct EmailBody {
    email: String,
}

/// `{"token","password"}`.
#[derive(serde::Deserialize)]
pub struct ResetBody {
    token: String,
    password: String,
}

/// `POST /api/verify-email {"code"}` with a bearer token → `{"email","email_verified":true}`,
/// or `400` (wrong or expired code).
pub async fn verify_email(
    auth: AuthRequest,
    request: Result<Json<CodeBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let session = auth.require_bearer().await?;
    let CodeBody { code } = body(request)?;
    accounts::verify_email(auth.lucia(), &session.user.user_id, &code).await?;
    Ok(Json(json!({ "email": session.user.attributes.email, "email_verified": true })).into_response())
}

/// `POST /api/verify-email/resend` with a bearer token → `202`: a new code is mailed (the
/// old one stops working); `429` when asked too often.
pub async fn resend_code(auth: AuthRequest, State(mails): State<Mails>) -> Result<Response, ApiError> {
    let session = auth.require_bearer().await?;
    accounts::send_verification_code(auth.lucia(), &mails, &session.user.user_id).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `POST /api/forgot-password {"email"}` → `202`, the same whether or not the address has an
/// account (a link is mailed if it has); `429` when asked too often for the address or from
/// the client's.
pub async fn forgot_password(
    auth: AuthRequest,
    State(mails): State<Mails>,
    request: Result<Json<EmailBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let EmailBody { email } = body(request)?;
    auth.check_rate_limit()?;
    accounts::forgot_password(auth.lucia(), &mails, &email).await?;
    let status = "if the address has an account, a link to reset its password is on its way";
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": status }))).into_response())
}

/// `POST /api/reset-password {"token","password"}` → `204`: the password is set and every
/// session of the account has ended (sign in again); `400` for a used, replaced or expired
/// link, or a password the policy refuses.
pub async fn reset_password(
    auth: AuthRequest,
    request: Result<Json<ResetBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let ResetBody { token, password } = body(request)?;
    auth.check_rate_limit()?;
    accounts::reset_password(auth.lucia(), &token, &password).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/login {"username","password"}` → `{"token"}`: the new session's token, to send
/// as `Authorization: Bearer <token>`. The only time the server hands it out. A user with an
/// authenticator app gets `{"second_factor_required": true, "pending_token"}` instead, for
/// `/api/login/second-factor`.
pub async fn login(
    auth: AuthRequest,
    client: Client,
    request: Result<Json<Credentials>, JsonRejection>,
) -> Result<Response, ApiError> {
    let credentials = body(request)?;
    // The per-IP limit, as `AuthRequest::sign_in` applies it; then lucia's per-account one.
    auth.check_rate_limit()?;
    accounts::check_sign_in_input(&credentials.username, &credentials.password)?;
    let signed_in = auth
        .lucia()
        .sign_in_with_second_factor(
            PROVIDER,
            &credentials.username,
            Some(&credentials.password),
            client.session_attributes(),
        )
        .await
        .map_err(SignInError::from)?;
    match signed_in {
        SignIn::SignedIn(signed_in) => Ok(Json(json!({ "token": signed_in.token.expose_secret() })).into_response()),
        SignIn::SecondFactorRequired(pending) => {
            Ok(Json(json!({ "second_factor_required": true, "pending_token": pending.token() })).into_response())
        }
    }
}

/// `{"pending_token","code"}`.
#[derive(serde::Deserialize)]
pub struct SecondFactorBody {
    pending_token: String,
    code: String,
}

/// `POST /api/login/second-factor {"pending_token","code"}` (a code from the authenticator
/// app, or a recovery code) → `{"token"}`; `400` for a wrong code (try again) or a pending
/// sign-in that expired or was tried too often (sign in again), `429` with `Retry-After`.
pub async fn login_second_factor(
    auth: AuthRequest,
    client: Client,
    request: Result<Json<SecondFactorBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let SecondFactorBody { pending_token, code } = body(request)?;
    let code = SecondFactorCode::from_input(&code);
    let signed_in = auth
        .lucia()
        .complete_sign_in(&pending_token, &code, client.session_attributes())
        .await
        .map_err(SecondFactorError::from_lucia)?;
    Ok(Json(json!({ "token": signed_in.token.expose_secret() })).into_response())
}

/// `GET /api/me` with a bearer token → `{"user_id","username","email","email_verified"}`,
/// or 401.
pub async fn me(auth: AuthRequest) -> Result<Response, ApiError> {
    let user = auth.require_bearer().await?.user;
    Ok(Json(user_json(&user.user_id, &user.attributes)).into_response())
}

/// `POST /api/logout` with a bearer token: ends that session → 204, or 401.
pub async fn logout(auth: AuthRequest) -> Result<Response, ApiError> {
    auth.require_bearer().await?;
    auth.sign_out().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
