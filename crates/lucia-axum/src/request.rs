//! [`AuthRequest`]: the per-request view of authentication that handlers extract.

use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use http::request::Parts;
use lucia::{Adapter, Lucia, NoAttributes, OriginError, Session, SessionCookie};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::AuthError;

/// What the session cookie of this request may be used for.
#[derive(Debug, Clone)]
pub(crate) enum CookieCredential {
    /// No session cookie.
    Absent,
    /// A session cookie that passed the CSRF check (or did not need to).
    Trusted(String),
    /// A session cookie on a state-changing request without `Origin`: not used.
    Untrusted(OriginError),
}

/// Authentication for one request (Lucia v2's `AuthRequest`), extracted by handlers behind a
/// [`LuciaLayer`](crate::LuciaLayer).
///
/// Cheap to clone; clones share the request's state. `A`, `U`, `S` are the adapter and the
/// attribute types of the [`Lucia`] the layer was built with; applications usually name it
/// once: `type Auth = AuthRequest<MyAdapter, UserAttributes, SessionAttributes>;`.
pub struct AuthRequest<A, U = NoAttributes, S = NoAttributes> {
    inner: Arc<Inner<A, U, S>>,
}

struct Inner<A, U, S> {
    lucia: Lucia<A, U, S>,
    cookie: CookieCredential,
    bearer: Option<String>,
    /// `None` until validated; then the cookie's session, if any.
    cookie_session: tokio::sync::Mutex<Option<Option<Session<U, S>>>>,
    bearer_session: tokio::sync::Mutex<Option<Option<Session<U, S>>>>,
    /// The `Set-Cookie` the layer adds to the response.
    pending_cookie: Mutex<Option<SessionCookie>>,
}

impl<A, U, S> Clone for AuthRequest<A, U, S> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner) }
    }
}

impl<A, U, S> std::fmt::Debug for AuthRequest<A, U, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRequest")
            .field("cookie", &matches!(self.inner.cookie, CookieCredential::Trusted(_)))
            .field("bearer", &self.inner.bearer.is_some())
            .finish_non_exhaustive()
    }
}

impl<A, U, S> AuthRequest<A, U, S> {
    pub(crate) fn new(lucia: Lucia<A, U, S>, cookie: CookieCredential, bearer: Option<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                lucia,
                cookie,
                bearer,
                cookie_session: tokio::sync::Mutex::new(None),
                bearer_session: tokio::sync::Mutex::new(None),
                pending_cookie: Mutex::new(None),
            }),
        }
    }

    /// The [`Lucia`] instance, for signing up and in (`create_user`, `use_key`, ...).
    pub fn lucia(&self) -> &Lucia<A, U, S> {
        &self.inner.lucia
    }

    /// The bearer token of the `Authorization` header, if any (not validated).
    pub fn bearer_token(&self) -> Option<&str> {
        self.inner.bearer.as_deref()
    }

    /// The cookie to send, taken by the layer once the handler is done.
    pub(crate) fn take_pending_cookie(&self) -> Option<SessionCookie> {
        self.inner.pending_cookie.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
    }

    fn send_cookie(&self, cookie: SessionCookie) {
        *self.inner.pending_cookie.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(cookie);
    }
}

impl<A, U, S> AuthRequest<A, U, S>
where
    A: Adapter,
    U: Serialize + DeserializeOwned + Clone + Send + Sync,
    S: Serialize + DeserializeOwned + Clone + Send + Sync,
{
    /// The session of the request's cookie, validated once per request (later calls return
    /// the same result without a query).
    ///
    /// - no cookie: `Ok(None)`;
    /// - unknown or dead session: `Ok(None)`, and the response deletes the cookie;
    /// - idle session: renewed, and the response re-sends the cookie with its new expiry
    ///   (Lucia v2 forgot to);
    /// - cookie on a state-changing request without `Origin`: [`AuthError::Csrf`].
    pub async fn validate(&self) -> Result<Option<Session<U, S>>, AuthError> {
        let mut cached = self.inner.cookie_session.lock().await;
        if let Some(session) = &*cached {
            return Ok(session.clone());
        }
        let session = match &self.inner.cookie {
            CookieCredential::Absent => None,
            CookieCredential::Untrusted(reason) => return Err(AuthError::Csrf(reason.clone())),
            CookieCredential::Trusted(session_id) => match self.inner.lucia.validate_session(session_id).await {
                Ok(session) => {
                    if session.fresh {
                        self.send_cookie(self.inner.lucia.create_session_cookie(Some(&session)));
                    }
                    Some(session)
                }
                Err(lucia::Error::InvalidSessionId) => {
                    self.send_cookie(self.inner.lucia.create_session_cookie(None));
                    None
                }
                Err(error) => return Err(error.into()),
            },
        };
        *cached = Some(session.clone());
        Ok(session)
    }

    /// The session of the request's `Authorization: Bearer` token, validated once per request
    /// (Lucia v2 re-validated on every call). Idle sessions are renewed; no cookie is set.
    pub async fn validate_bearer(&self) -> Result<Option<Session<U, S>>, AuthError> {
        let mut cached = self.inner.bearer_session.lock().await;
        if let Some(session) = &*cached {
            return Ok(session.clone());
        }
        let session = match &self.inner.bearer {
            None => None,
            Some(token) => match self.inner.lucia.validate_session(token).await {
                Ok(session) => Some(session),
                Err(lucia::Error::InvalidSessionId) => None,
                Err(error) => return Err(error.into()),
            },
        };
        *cached = Some(session.clone());
        Ok(session)
    }

    /// The cookie session, or [`AuthError::Unauthenticated`] (401).
    pub async fn require(&self) -> Result<Session<U, S>, AuthError> {
        self.validate().await?.ok_or(AuthError::Unauthenticated)
    }

    /// The bearer session, or [`AuthError::Unauthenticated`] (401).
    pub async fn require_bearer(&self) -> Result<Session<U, S>, AuthError> {
        self.validate_bearer().await?.ok_or(AuthError::Unauthenticated)
    }

    /// Makes `session` the request's cookie session and sends its cookie (sign in), or with
    /// `None`, sends the cookie that deletes it (the session itself is not deleted: see
    /// [`sign_out`](Self::sign_out)).
    pub async fn set_session(&self, session: Option<&Session<U, S>>) {
        *self.inner.cookie_session.lock().await = Some(session.cloned());
        self.send_cookie(self.inner.lucia.create_session_cookie(session));
    }

    /// Signs out: deletes the cookie's session from the store (if the cookie may be trusted)
    /// and sends the deletion cookie.
    pub async fn sign_out(&self) -> Result<(), AuthError> {
        match &self.inner.cookie {
            CookieCredential::Trusted(session_id) => match self.inner.lucia.invalidate_session(session_id).await {
                Ok(()) | Err(lucia::Error::InvalidSessionId) => {}
                Err(error) => return Err(error.into()),
            },
            CookieCredential::Untrusted(reason) => return Err(AuthError::Csrf(reason.clone())),
            CookieCredential::Absent => {}
        }
        self.set_session(None).await;
        Ok(())
    }
}

impl<St, A, U, S> FromRequestParts<St> for AuthRequest<A, U, S>
where
    St: Send + Sync,
    A: Send + Sync + 'static,
    U: Send + Sync + 'static,
    S: Send + Sync + 'static,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, AuthError> {
        parts.extensions.get::<Self>().cloned().ok_or(AuthError::MissingLayer)
    }
}
