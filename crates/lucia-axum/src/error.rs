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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_are_4xx_and_store_failures_500_without_details() {
        use lucia::Error as E;
        let cases: Vec<(AuthError, StatusCode)> = vec![
            (AuthError::Csrf(OriginError::Missing), StatusCode::FORBIDDEN),
            (AuthError::Unauthenticated, StatusCode::UNAUTHORIZED),
            (E::InvalidSessionId.into(), StatusCode::UNAUTHORIZED),
            (E::InvalidPassword.into(), StatusCode::UNAUTHORIZED),
            (E::InvalidKeyId.into(), StatusCode::UNAUTHORIZED),
            (E::DuplicateKeyId.into(), StatusCode::CONFLICT),
            (E::DuplicateAttribute("username".into()).into(), StatusCode::CONFLICT),
            (E::InvalidProviderId.into(), StatusCode::BAD_REQUEST),
            (E::Database("connection refused at 10.0.0.5".into()).into(), StatusCode::INTERNAL_SERVER_ERROR),
            (AuthError::MissingLayer, StatusCode::INTERNAL_SERVER_ERROR),
        ];
        for (error, status) in cases {
            assert_eq!(error.status(), status, "{error}");
            let response = error.into_response();
            assert_eq!(response.status(), status);
        }
        let response = AuthError::from(E::Database("secret detail".into())).into_response();
        let body = body_text(response);
        assert_eq!(body, "internal server error");
    }

    /// The body of a small, already complete response.
    fn body_text(response: Response) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let bytes = runtime.block_on(axum::body::to_bytes(response.into_body(), 1024)).unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
