//! The JSON API for non-browser clients, authenticated with bearer tokens.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AuthRequest;
use crate::accounts::{self, Client, Credentials};

/// `{"error": message}` with a status; server errors are logged and not described.
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl std::fmt::Display) -> Self {
        Self { status, message: message.to_string() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = if self.status.is_server_error() {
            tracing::error!(message = %self.message, "API request failed");
            "internal server error".to_owned()
        } else {
            self.message
        };
        (self.status, Json(json!({ "error": message }))).into_response()
    }
}

impl From<lucia_axum::AuthError> for ApiError {
    fn from(error: lucia_axum::AuthError) -> Self {
        Self::new(error.status(), error)
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
    let user = accounts::sign_up(auth.lucia(), &credentials)
        .await
        .map_err(|failure| ApiError::new(failure.status(), failure))?;
    let body = json!({ "user_id": user.user_id, "username": user.attributes.username });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /api/login {"username","password"}` → `{"token"}`, a session id to send as
/// `Authorization: Bearer <token>`.
pub async fn login(
    auth: AuthRequest,
    client: Client,
    body: Result<Json<Credentials>, JsonRejection>,
) -> Result<Response, ApiError> {
    let credentials = credentials(body)?;
    let session = accounts::sign_in(auth.lucia(), &credentials, &client)
        .await
        .map_err(|failure| ApiError::new(failure.status(), failure))?;
    Ok(Json(json!({ "token": session.session_id })).into_response())
}

/// `GET /api/me` with a bearer token → `{"user_id","username"}`, or 401.
pub async fn me(auth: AuthRequest) -> Result<Response, ApiError> {
    let user = auth.require_bearer().await?.user;
    Ok(Json(json!({ "user_id": user.user_id, "username": user.attributes.username })).into_response())
}

/// `POST /api/logout` with a bearer token: ends that session → 204, or 401.
pub async fn logout(auth: AuthRequest) -> Result<Response, ApiError> {
    let session = auth.require_bearer().await?;
    auth.lucia().invalidate_session(&session.session_id).await.map_err(lucia_axum::AuthError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
