//! [`AuthError`] and its HTTP responses.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use lucia::OriginError;

/// Why an authenticated request could not go on. Each variant becomes a proper HTTP response
/// ([`IntoResponse`]): bad client input is a 4xx, never a 500.
///
/// The response body is a fixed text per kind ([`AuthError::public_message`]): it never
/// carries a database message, a table or column name, or which of the username and password
/// was wrong. The typed error still tells the application everything: match
/// `AuthError::Lucia(lucia::Error::DuplicateAttribute { column })` to learn which unique
/// column was taken. Server errors (5xx) are logged with their detail and answered
/// `internal server error`, or `service unavailable` when the store could not be reached.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The request failed the CSRF origin check: `403 Forbidden`.
    #[error("cross-site request refused: {0}")]
    Csrf(#[from] OriginError),
    /// The request's `Host` is not one of the layer's
    /// [`allowed_hosts`](crate::LuciaLayer::allowed_hosts) (a DNS-rebinding page, or a
    /// misrouted request): `400 Bad Request`, before the handler runs.
    #[error("the request's host is not an allowed host")]
    UnknownHost,
    /// No valid session: `401 Unauthorized` with `WWW-Authenticate: Bearer`.
    #[error("not signed in")]
    Unauthenticated,
    /// No valid session on a page request, with a sign-in URL configured on the layer
    /// ([`LuciaLayer::sign_in_url`](crate::LuciaLayer::sign_in_url)): `303 See Other` to it.
    #[error("not signed in: redirecting to {location:?}")]
    SignInRequired {
        /// Where to sign in.
        location: HeaderValue,
    },
    /// A lucia operation failed. Client-caused errors (invalid session, password or key,
    /// duplicates, a new password the policy refuses) map to 4xx; a store that could not be
    /// reached ([`lucia::Error::Unavailable`]) or a full password hashing queue
    /// ([`lucia::Error::Busy`]) to `503` with `Retry-After`; other store and configuration
    /// failures to `500`.
    #[error(transparent)]
    Lucia(#[from] lucia::Error),
    /// The handler runs without [`LuciaLayer`](crate::LuciaLayer): a programming error, `500`.
    #[error("no LuciaLayer on this route: add `.layer(LuciaLayer::new(&lucia))` to the router")]
    MissingLayer,
    /// Too many sign-ins or sign-ups from this client's IP address (the layer's
    /// [`sign_in_rate_limit`](crate::LuciaLayer::sign_in_rate_limit)): `429 Too Many
    /// Requests` with `Retry-After`.
    #[error("too many sign-in attempts from this address: retry after {retry_after:?}")]
    RateLimited {
        /// How long until this address may try again.
        retry_after: Duration,
    },
    /// The per-IP rate limit needs the client's address, and the request has none: the
    /// application is not served with connect info. A programming error, `500`; serve the
    /// router with `into_make_service_with_connect_info::<SocketAddr>()` (or, in tests that
    /// call the router directly, add `axum::extract::connect_info::MockConnectInfo`), or turn
    /// the limit off with [`LuciaLayer::without_sign_in_rate_limit`](crate::LuciaLayer::without_sign_in_rate_limit).
    #[error(
        "no client address for the sign-in rate limit: serve the app with \
         `router.into_make_service_with_connect_info::<std::net::SocketAddr>()` (tests: add \
         `axum::extract::connect_info::MockConnectInfo`), or call `LuciaLayer::without_sign_in_rate_limit`"
    )]
    NoClientAddress,
}

impl AuthError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        use lucia::Error as E;
        match self {
            Self::Csrf(_) | Self::Lucia(E::InvalidRequest(_)) => StatusCode::FORBIDDEN,
            Self::Unauthenticated
            | Self::Lucia(
                E::InvalidSessionId
                | E::InvalidPassword
                | E::InvalidKeyId
                | E::InvalidSecondFactor
                | E::SecondFactorRequired,
            ) => StatusCode::UNAUTHORIZED,
            Self::SignInRequired { .. } => StatusCode::SEE_OTHER,
            Self::Lucia(
                E::DuplicateKeyId
                | E::DuplicateUserId
                | E::DuplicateSessionId
                | E::DuplicateAttribute { .. }
                | E::SecondFactorAlreadyEnabled,
            ) => StatusCode::CONFLICT,
            Self::UnknownHost
            | Self::Lucia(
                E::InvalidUserId | E::InvalidProviderId | E::OutdatedPassword | E::InvalidToken | E::ExpiredToken,
            ) => StatusCode::BAD_REQUEST,
            Self::Lucia(E::PasswordRejected(_)) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Lucia(E::Unavailable(_) | E::Busy) => StatusCode::SERVICE_UNAVAILABLE,
            Self::RateLimited { .. } | Self::Lucia(E::Throttled { .. }) => StatusCode::TOO_MANY_REQUESTS,
            Self::Lucia(_) | Self::MissingLayer | Self::NoClientAddress => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// For a `429`, how long the client should wait: the per-key throttle's
    /// ([`lucia::Error::Throttled`]) or the per-IP limit's ([`AuthError::RateLimited`]).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } | Self::Lucia(lucia::Error::Throttled { retry_after }) => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// [`retry_after`](Self::retry_after) in whole seconds, rounded up (at least 1): the
    /// `Retry-After` of a `429`.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        self.retry_after().map(|wait| wait.as_secs().saturating_add(u64::from(wait.subsec_nanos() > 0)).max(1))
    }

    /// The text the response body carries: one fixed text per kind, never a detail.
    ///
    /// | status | text |
    /// |---|---|
    /// | 401 | `not signed in`, or `invalid credentials` for a wrong password or unknown key (the same text for both), `invalid code` (a wrong, replayed or used second-factor code), `second factor required` ([`lucia::Error::SecondFactorRequired`]: sign in with [`AuthRequest::sign_in_with_second_factor`](crate::AuthRequest::sign_in_with_second_factor)) |
    /// | 409 | `second factor already enabled` |
    /// | 403 | `cross-site request refused` |
    /// | 409 | `already taken` (a duplicate key, user id or unique attribute) |
    /// | 429 | `too many attempts`, with `Retry-After` in seconds (rounded up): too many sign-in attempts on the key ([`lucia::Error::Throttled`]) or from the client's address ([`AuthError::RateLimited`]) |
    /// | 400 | `unknown host` (a `Host` not in [`allowed_hosts`](crate::LuciaLayer::allowed_hosts)), `unknown user`, `invalid provider id`, `password must be reset`, `invalid code or link` ([`lucia::Error::InvalidToken`]: wrong, used or replaced), `expired code or link` ([`lucia::Error::ExpiredToken`]: expired or tried too often; ask for a new one) |
    /// | 422 | `password rejected` (a new password the [`PasswordPolicy`](lucia::PasswordPolicy) refuses: [`lucia::Error::PasswordRejected`]; its [`PasswordRejection`](lucia::PasswordRejection) is the sentence to show next to the field) |
    /// | 303 | empty (the `Location` header says where to sign in) |
    /// | 500 | `internal server error` |
    /// | 503 | `service unavailable`, with `Retry-After: 5` (the store could not be reached: [`lucia::Error::Unavailable`]) |
    /// | 503 | `too many sign-ins at once, try again`, with `Retry-After: 1` (the password hashing threads and their queue are full: [`lucia::Error::Busy`]) |
    ///
    /// A `503` is not a sign-out: the session cookie is kept (it is deleted only for a session
    /// that is unknown or dead), and [`SignedIn`](crate::SignedIn) answers it to page requests
    /// too instead of redirecting them to the sign-in page.
    pub fn public_message(&self) -> &'static str {
        use lucia::Error as E;
        match self {
            Self::Csrf(_) | Self::Lucia(E::InvalidRequest(_)) => "cross-site request refused",
            Self::Unauthenticated | Self::Lucia(E::InvalidSessionId) => "not signed in",
            Self::Lucia(E::InvalidPassword | E::InvalidKeyId) => "invalid credentials",
            Self::Lucia(E::InvalidSecondFactor) => "invalid code",
            Self::Lucia(E::SecondFactorRequired) => "second factor required",
            Self::Lucia(E::SecondFactorAlreadyEnabled) => "second factor already enabled",
            Self::SignInRequired { .. } => "",
            Self::Lucia(
                E::DuplicateKeyId | E::DuplicateUserId | E::DuplicateSessionId | E::DuplicateAttribute { .. },
            ) => "already taken",
            Self::UnknownHost => "unknown host",
            Self::Lucia(E::InvalidUserId) => "unknown user",
            Self::Lucia(E::InvalidProviderId) => "invalid provider id",
            Self::Lucia(E::OutdatedPassword) => "password must be reset",
            Self::Lucia(E::InvalidToken) => "invalid code or link",
            Self::Lucia(E::ExpiredToken) => "expired code or link",
            Self::Lucia(E::PasswordRejected(_)) => "password rejected",
            Self::Lucia(E::Unavailable(_)) => "service unavailable",
            Self::Lucia(E::Busy) => "too many sign-ins at once, try again",
            Self::RateLimited { .. } | Self::Lucia(E::Throttled { .. }) => "too many attempts",
            Self::Lucia(_) | Self::MissingLayer | Self::NoClientAddress => "internal server error",
        }
    }
}

/// The `Retry-After` of a `503`: long enough for a reconnect or a failover, short enough that
/// a user retrying by hand is not turned away for long.
const RETRY_AFTER_SECONDS: &str = "5";

/// The `Retry-After` of a busy hashing pool: a hash takes tens of milliseconds, so the queue
/// drains within a second.
const BUSY_RETRY_AFTER_SECONDS: &str = "1";

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let status = self.status();
        // A missing layer or client address was logged where it was found, with its route.
        if matches!(self, Self::Lucia(lucia::Error::Busy)) {
            // Expected under a burst of sign-ins (or an attack): not a failure of the server.
            tracing::debug!("password hashing queue full: answered 503");
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(error = %self, "authentication store unavailable");
        } else if status.is_server_error() && !matches!(self, Self::MissingLayer | Self::NoClientAddress) {
            tracing::error!(error = %self, "authentication failed");
        }
        let mut response = (status, self.public_message()).into_response();
        if let Some(seconds) = self.retry_after_seconds() {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        match self {
            Self::SignInRequired { location } => {
                response.headers_mut().insert(header::LOCATION, location);
            }
            _ if status == StatusCode::UNAUTHORIZED => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Lucia(lucia::Error::Busy) => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(BUSY_RETRY_AFTER_SECONDS));
            }
            _ if status == StatusCode::SERVICE_UNAVAILABLE => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn client_errors_are_4xx_and_store_failures_500_without_details() {
        use lucia::Error as E;
        let cases: Vec<(AuthError, StatusCode, &str)> = vec![
            (
                AuthError::Csrf(OriginError::CrossOrigin("https://evil.example".into())),
                StatusCode::FORBIDDEN,
                "cross-site request refused",
            ),
            (AuthError::Unauthenticated, StatusCode::UNAUTHORIZED, "not signed in"),
            (E::InvalidSessionId.into(), StatusCode::UNAUTHORIZED, "not signed in"),
            (E::InvalidPassword.into(), StatusCode::UNAUTHORIZED, "invalid credentials"),
            (E::InvalidKeyId.into(), StatusCode::UNAUTHORIZED, "invalid credentials"),
            (E::DuplicateKeyId.into(), StatusCode::CONFLICT, "already taken"),
            (E::DuplicateAttribute { column: Some("email".into()) }.into(), StatusCode::CONFLICT, "already taken"),
            (E::DuplicateAttribute { column: None }.into(), StatusCode::CONFLICT, "already taken"),
            (E::InvalidProviderId.into(), StatusCode::BAD_REQUEST, "invalid provider id"),
            (E::InvalidToken.into(), StatusCode::BAD_REQUEST, "invalid code or link"),
            (E::ExpiredToken.into(), StatusCode::BAD_REQUEST, "expired code or link"),
            (
                E::Database("UNIQUE constraint failed: app_users.email at 10.0.0.5".into()).into(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal server error",
            ),
            (
                E::InvalidAttributes("unknown column `app_users.secret`".into()).into(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal server error",
            ),
            (AuthError::MissingLayer, StatusCode::INTERNAL_SERVER_ERROR, "internal server error"),
            (AuthError::NoClientAddress, StatusCode::INTERNAL_SERVER_ERROR, "internal server error"),
            (
                E::Unavailable("connection refused: redis://:hunter2@10.0.0.5".into()).into(),
                StatusCode::SERVICE_UNAVAILABLE,
                "service unavailable",
            ),
        ];
        for (error, status, text) in cases {
            let shown = error.to_string();
            assert_eq!(error.status(), status, "{shown}");
            let response = error.into_response();
            assert_eq!(response.status(), status);
            let unauthorized = status == StatusCode::UNAUTHORIZED;
            assert_eq!(response.headers().contains_key(header::WWW_AUTHENTICATE), unauthorized, "{shown}");
            let unavailable = status == StatusCode::SERVICE_UNAVAILABLE;
            // (`Busy`, also a 503, has its own test: `Retry-After: 1`.)
            assert_eq!(response.headers().get(header::RETRY_AFTER).is_some_and(|v| v == "5"), unavailable, "{shown}");
            assert!(!response.headers().contains_key(header::SET_COOKIE), "{shown}");
            assert_eq!(body_text(response), text, "{shown}");
        }
    }

    #[test]
    fn busy_is_503_retry_after_1_and_rejected_passwords_422_without_detail() {
        let busy = AuthError::from(lucia::Error::Busy);
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        let response = busy.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(body_text(response), "too many sign-ins at once, try again");

        let rejection = lucia::PasswordRejection::Refused("not hunter22, seen in a breach".into());
        let rejected = AuthError::from(lucia::Error::PasswordRejected(rejection));
        assert_eq!(rejected.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let response = rejected.into_response();
        assert!(!response.headers().contains_key(header::RETRY_AFTER));
        assert!(!response.headers().contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(body_text(response), "password rejected");
    }

    #[test]
    fn too_many_attempts_are_429_with_retry_after_in_whole_seconds() {
        let cases: Vec<(AuthError, &str)> = vec![
            (lucia::Error::Throttled { retry_after: Duration::from_secs(1) }.into(), "1"),
            (lucia::Error::Throttled { retry_after: Duration::from_millis(1_001) }.into(), "2"),
            (lucia::Error::Throttled { retry_after: Duration::from_millis(3) }.into(), "1"),
            (lucia::Error::Throttled { retry_after: Duration::ZERO }.into(), "1"),
            (AuthError::RateLimited { retry_after: Duration::from_millis(2_500) }, "3"),
            (AuthError::RateLimited { retry_after: Duration::from_secs(900) }, "900"),
            // A backoff without a cap (`Duration::MAX`): no overflow in the rounding up.
            (lucia::Error::Throttled { retry_after: Duration::MAX }.into(), "18446744073709551615"),
        ];
        for (error, seconds) in cases {
            let shown = error.to_string();
            assert_eq!(error.status(), StatusCode::TOO_MANY_REQUESTS, "{shown}");
            let response = error.into_response();
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(response.headers()[header::RETRY_AFTER], seconds, "{shown}");
            assert!(!response.headers().contains_key(header::WWW_AUTHENTICATE));
            assert_eq!(body_text(response), "too many attempts", "{shown}");
        }
    }

    #[test]
    fn sign_in_required_redirects() {
        let error = AuthError::SignInRequired { location: HeaderValue::from_static("/login") };
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[header::LOCATION], "/login");
    }

    /// The body of a small, already complete response.
    pub(crate) fn body_text(response: Response) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let bytes = runtime.block_on(axum::body::to_bytes(response.into_body(), 1024)).unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
