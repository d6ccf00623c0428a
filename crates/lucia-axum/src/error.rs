//! [`AuthError`] and its HTTP responses.

use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use lucia::OriginError;

/// Why an authenticated request could not go on. Each variant becomes a proper HTTP response:
/// bad client input is a 4xx, never a 500.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The request failed the CSRF origin check: `403 Forbidden`.
    #[error("cross-site request refused: {0}")]
    Csrf(#[from] OriginError),
    /// No valid session: `401 Unauthorized`.
    #[error("not signed in")]
    Unauthenticated,
    /// A lucia operation failed. Client-caused errors (invalid ids, passwords, attributes,
    /// duplicates) map to 4xx; store failures to `500` (details are logged, not sent).
    #[error(transparent)]
    Lucia(#[from] lucia::Error),
    /// The handler runs without [`LuciaLayer`](crate::LuciaLayer): a programming error, `500`.
    #[error("the LuciaLayer is not installed on this route")]
    MissingLayer,
}

impl AuthError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        use lucia::Error as E;
        match self {
            Self::Csrf(_) => StatusCode::FORBIDDEN,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Lucia(E::InvalidSessionId | E::InvalidPassword | E::InvalidKeyId) => StatusCode::UNAUTHORIZED,
            Self::Lucia(E::InvalidRequest(_)) => StatusCode::FORBIDDEN,
            Self::Lucia(E::DuplicateKeyId | E::DuplicateUserId | E::DuplicateSessionId | E::DuplicateAttribute(_)) => {
                StatusCode::CONFLICT
            }
            Self::Lucia(E::InvalidUserId | E::InvalidProviderId | E::OutdatedPassword) => StatusCode::BAD_REQUEST,
            Self::Lucia(_) | Self::MissingLayer => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = if status.is_server_error() {
            tracing::error!(error = %self, "authentication failed");
            "internal server error".to_owned()
        } else {
            self.to_string()
        };
        let mut response = (status, body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
        }
        response
    }
}
