//! The JSON API for non-browser clients, authenticated with bearer tokens.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AuthRequest;
use crate::accounts::{self, Client, Credentials, PROVIDER, SignInError, SignUpError};

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

fn credentials(body: Result<Json<Credentials>, JsonRejection>) -> Result<Credentials, ApiError> {
    body.map(|Json(credentials)| credentials)
        .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text()))
}

/// `POST /api/signup {"username","password"}` → `201 {"user_id","username"}`; sign in with
/// `/api/login` to get a token.
pub async fn signup(auth: AuthRequest, body: Result<Json<Credentials>, JsonRejection>) -> Result<Response, ApiError> {
    let credentials = credentials(body)?;
    auth.check_rate_limit()?;
    let user = accounts::sign_up(auth.lucia(), &credentials).await.map_err(ApiError::from)?;
    let body = json!({ "user_id": user.user_id, "username": user.attributes.username });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /api/login {"username","password"}` → `{"token"}`: the new session's token, to send
/// as `Authorization: Bearer <token>`. The only time the server hands it out.
pub async fn login(
    auth: AuthRequest,
    client: Client,
    body: Result<Json<Credentials>, JsonRejection>,
) -> Result<Response, ApiError> {
    let credentials = credentials(body)?;
    // The per-IP limit, as `AuthRequest::sign_in` applies it; then lucia's per-account one.
    auth.check_rate_limit()?;
    accounts::check_sign_in_input(&credentials.username, &credentials.password)?;
    let signed_in = auth
        .lucia()
        .sign_in(PROVIDER, &credentials.username, Some(&credentials.password), client.session_attributes())
        .await
        .map_err(SignInError::from)?;
    Ok(Json(json!({ "token": signed_in.token.expose_secret() })).into_response())
}

/// `GET /api/me` with a bearer token → `{"user_id","username"}`, or 401.
pub async fn me(auth: AuthRequest) -> Result<Response, ApiError> {
    let user = auth.require_bearer().await?.user;
    Ok(Json(json!({ "user_id": user.user_id, "username": user.attributes.username })).into_response())
}

/// `POST /api/logout` with a bearer token: ends that session → 204, or 401.
pub async fn logout(auth: AuthRequest) -> Result<Response, ApiError> {
    auth.require_bearer().await?;
    auth.sign_out().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
