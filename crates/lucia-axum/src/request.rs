//! [`AuthRequest`]: the per-request view of authentication that handlers extract.

use std::any::Any;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{FromRef, FromRequestParts};
use http::HeaderValue;
use http::request::Parts;
use lucia::{CreateSession, CreateUser, NewSession, OriginError, SessionCookie, SessionToken};

use crate::AuthError;
use crate::lucia_type::{LuciaType, SessionOf};
use crate::rate_limit::IpRateLimiter;

/// The per-IP limit as it applies to one request: the layer's limiter and the client's address
/// (`None` when the app is not served with connect info).
pub(crate) struct ClientLimit {
    pub(crate) limiter: Arc<IpRateLimiter>,
    pub(crate) ip: Option<IpAddr>,
}

/// What the session cookie of this request may be used for.
#[derive(Debug, Clone)]
pub(crate) enum CookieCredential {
    /// No session cookie.
    Absent,
    /// A session cookie that passed the CSRF check (or did not need to).
    Trusted(SessionToken),
    /// Several session cookies (at most three), trusted: a browser sends more than one when
    /// another was set for a parent domain or a longer path, such as one planted from a
    /// sibling subdomain. The first that validates is the request's
    /// ([`AuthRequest::validate`]); when none does, none is deleted, since a deletion could
    /// hit the real one and not the planted one.
    Several(Vec<SessionToken>),
    /// A session cookie the CSRF rule says not to use: on a state-changing request without
    /// `Origin`, or cross-origin next to a bearer token.
    Untrusted(OriginError),
}

impl CookieCredential {
    /// The credential of a request's session cookies that passed the CSRF check.
    pub(crate) fn trusted(mut cookies: Vec<SessionToken>) -> Self {
        match cookies.len() {
            0 => Self::Absent,
            1 => cookies.pop().map_or(Self::Absent, Self::Trusted),
            _ => Self::Several(cookies),
        }
    }

    /// The credential of session cookies the CSRF rule says not to use.
    pub(crate) fn untrusted(cookies: Vec<SessionToken>, reason: OriginError) -> Self {
        if cookies.is_empty() { Self::Absent } else { Self::Untrusted(reason) }
    }

    /// The trusted tokens, in order.
    fn tokens(&self) -> &[SessionToken] {
        match self {
            Self::Trusted(token) => std::slice::from_ref(token),
            Self::Several(tokens) => tokens,
            Self::Absent | Self::Untrusted(_) => &[],
        }
    }
}

/// One validation result, of whatever session type the extractor has: `Option<Session<U, S>>`.
type Cached = Option<Box<dyn Any + Send + Sync>>;

/// The per-request state the layer puts in the request's extensions and every extractor of
/// the request shares: the credentials, the validation results, and the slot for the
/// `Set-Cookie` the layer appends to the response.
pub(crate) struct RequestContext {
    cookie: Mutex<CookieCredential>,
    bearer: Option<SessionToken>,
    /// `Err` when this request must not set the session cookie: a cross-origin state-changing
    /// request let through for its bearer token.
    cookie_writes: Result<(), OriginError>,
    /// The client asked for HTML (`Accept` includes `text/html`).
    page_request: bool,
    sign_in_url: Option<HeaderValue>,
    cookie_session: tokio::sync::Mutex<Cached>,
    bearer_session: tokio::sync::Mutex<Cached>,
    pending_cookie: Mutex<Option<SessionCookie>>,
    /// `None` when the layer's per-IP limit is off.
    limit: Option<ClientLimit>,
}

impl RequestContext {
    pub(crate) fn new(
        cookie: CookieCredential,
        bearer: Option<SessionToken>,
        cookie_writes: Result<(), OriginError>,
        page_request: bool,
        sign_in_url: Option<HeaderValue>,
        limit: Option<ClientLimit>,
    ) -> Self {
        Self {
            cookie: Mutex::new(cookie),
            bearer,
            cookie_writes,
            page_request,
            sign_in_url,
            cookie_session: tokio::sync::Mutex::new(None),
            bearer_session: tokio::sync::Mutex::new(None),
            pending_cookie: Mutex::new(None),
            limit,
        }
    }

    /// The cookie to send, taken by the layer once the handler is done.
    pub(crate) fn take_pending_cookie(&self) -> Option<SessionCookie> {
        lock(&self.pending_cookie).take()
    }

    /// Queues the session cookie for the response, unless this request may not set it (then
    /// nothing is sent, not even a removal).
    fn send_cookie(&self, cookie: SessionCookie) {
        if self.cookie_writes.is_ok() {
            *lock(&self.pending_cookie) = Some(cookie);
        }
    }

    fn cookie(&self) -> CookieCredential {
        lock(&self.cookie).clone()
    }
}

/// The request context in the extensions; a newtype so no one else's type collides with it.
#[derive(Clone)]
pub(crate) struct ContextSlot(pub(crate) Arc<RequestContext>);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn cached<T: Clone + 'static>(slot: &Cached) -> Option<T> {
    slot.as_ref().and_then(|value| value.downcast_ref::<T>()).cloned()
}

/// Authentication for one request (Lucia v2's `AuthRequest`), extracted by handlers behind a
/// [`LuciaLayer`](crate::LuciaLayer).
///
/// `L` is the application's `Lucia` type (`type Auth = Lucia<MyAdapter, UserAttributes,
/// SessionAttributes>;`, then `AuthRequest<Auth>`). The extractor takes the `Lucia` from the
/// router state with [`FromRef`], so naming a `Lucia` type the state does not hold is a
/// compile error, not a 500 at run time.
///
/// Each credential is validated at most once per request, whichever extractors and methods
/// ask (later calls return the same result without a query). Cheap to clone; clones share the
/// request's state.
pub struct AuthRequest<L> {
    lucia: L,
    context: Arc<RequestContext>,
}

impl<L: Clone> Clone for AuthRequest<L> {
    fn clone(&self) -> Self {
        Self { lucia: self.lucia.clone(), context: Arc::clone(&self.context) }
    }
}

impl<L> std::fmt::Debug for AuthRequest<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRequest")
            .field("cookie", &!self.context.cookie().tokens().is_empty())
            .field("bearer", &self.context.bearer.is_some())
            .finish_non_exhaustive()
    }
}

impl<L: LuciaType> AuthRequest<L> {
    /// The [`Lucia`](lucia::Lucia) instance, for everything this type does not wrap
    /// (`create_user`, `get_all_user_sessions`, ...).
    pub fn lucia(&self) -> &L {
        &self.lucia
    }

    /// Whether the request carries an `Authorization: Bearer` token (not validated).
    pub fn has_bearer_token(&self) -> bool {
        self.context.bearer.is_some()
    }

    /// The session of the request's cookie, validated once per request.
    ///
    /// - no cookie: `Ok(None)`;
    /// - unknown or dead session: `Ok(None)`, and the response deletes the cookie;
    /// - the store cannot be reached: `Err` ([`lucia::Error::Unavailable`], answered `503`),
    ///   and the cookie is kept: nothing is known about the session;
    /// - idle session: renewed, and the response re-sends the cookie with its new expiry
    ///   (Lucia v2 forgot to);
    /// - a cookie the CSRF rule does not trust (a state-changing request without `Origin`, or
    ///   cross-origin next to a bearer token): [`AuthError::Csrf`].
    pub async fn validate(&self) -> Result<Option<SessionOf<L>>, AuthError> {
        let mut slot = self.context.cookie_session.lock().await;
        if let Some(session) = cached::<Option<SessionOf<L>>>(&slot) {
            return Ok(session);
        }
        let lucia = self.lucia.as_lucia();
        let credential = self.context.cookie();
        if let CookieCredential::Untrusted(reason) = credential {
            return Err(AuthError::Csrf(reason));
        }
        let mut session = None;
        for token in credential.tokens() {
            match lucia.validate_session(token.expose_secret()).await {
                Ok(valid) => {
                    if valid.fresh {
                        self.context.send_cookie(lucia.create_session_cookie(token, &valid));
                    }
                    // The request's cookie session from now on (sign-out, a new sign-in).
                    *lock(&self.context.cookie) = CookieCredential::Trusted(token.clone());
                    session = Some(valid);
                    break;
                }
                Err(lucia::Error::InvalidSessionId) => {}
                Err(error) => return Err(error.into()),
            }
        }
        if session.is_none() {
            // One dead cookie is deleted; of several, none is (see `CookieCredential::Several`).
            if let CookieCredential::Trusted(_) = credential {
                self.context.send_cookie(lucia.create_blank_session_cookie());
            }
            *lock(&self.context.cookie) = CookieCredential::Absent;
        }
        *slot = Some(Box::new(session.clone()));
        Ok(session)
    }

    /// The session of the request's `Authorization: Bearer` token, validated once per request
    /// (Lucia v2 re-validated on every call). Idle sessions are renewed; no cookie is set.
    pub async fn validate_bearer(&self) -> Result<Option<SessionOf<L>>, AuthError> {
        let mut slot = self.context.bearer_session.lock().await;
        if let Some(session) = cached::<Option<SessionOf<L>>>(&slot) {
            return Ok(session);
        }
        let session = match &self.context.bearer {
            None => None,
            Some(token) => match self.lucia.as_lucia().validate_session(token.expose_secret()).await {
                Ok(session) => Some(session),
                Err(lucia::Error::InvalidSessionId) => None,
                Err(error) => return Err(error.into()),
            },
        };
        *slot = Some(Box::new(session.clone()));
        Ok(session)
    }

    /// The request's session: its bearer token's when it carries one (then the cookie is not
    /// looked at), otherwise its cookie's ([`validate`](Self::validate)).
    pub async fn session(&self) -> Result<Option<SessionOf<L>>, AuthError> {
        if self.has_bearer_token() { self.validate_bearer().await } else { self.validate().await }
    }

    /// The request's [`session`](Self::session), or the rejection [`SignedIn`](crate::SignedIn)
    /// answers without one: `401` for API requests, a `303` redirect to the layer's sign-in
    /// URL for page requests.
    pub async fn require(&self) -> Result<SessionOf<L>, AuthError> {
        match self.session().await? {
            Some(session) => Ok(session),
            None => Err(self.sign_in_required()),
        }
    }

    /// The bearer session, or [`AuthError::Unauthenticated`] (401).
    pub async fn require_bearer(&self) -> Result<SessionOf<L>, AuthError> {
        self.validate_bearer().await?.ok_or(AuthError::Unauthenticated)
    }

    /// The rejection for a request without a session; see [`SignedIn`](crate::SignedIn).
    pub(crate) fn sign_in_required(&self) -> AuthError {
        match &self.context.sign_in_url {
            Some(location) if self.context.page_request && !self.has_bearer_token() => {
                AuthError::SignInRequired { location: location.clone() }
            }
            _ => AuthError::Unauthenticated,
        }
    }

    /// Takes one attempt from the client address's sign-in budget (the layer's
    /// [`sign_in_rate_limit`](crate::LuciaLayer::sign_in_rate_limit)):
    /// [`AuthError::RateLimited`] (`429` with `Retry-After`) when it is spent.
    /// [`sign_in`](Self::sign_in) and [`sign_up`](Self::sign_up) call it; call it yourself
    /// before other work an anonymous client can repeat at will, such as an API sign-in
    /// through [`Lucia::sign_in`](lucia::Lucia::sign_in) that returns a token, a "forgot
    /// password" request ([`Lucia::request_password_reset`](lucia::Lucia::request_password_reset),
    /// which also limits each address) or a reset link's redemption.
    ///
    /// Without a client address (the app is not served with
    /// `into_make_service_with_connect_info::<SocketAddr>()`) it is
    /// [`AuthError::NoClientAddress`], logged with the fix, rather than no limit. With the
    /// limit turned off it always succeeds.
    pub fn check_rate_limit(&self) -> Result<(), AuthError> {
        let Some(limit) = &self.context.limit else { return Ok(()) };
        let Some(ip) = limit.ip else {
            tracing::error!(
                "lucia_axum: the sign-in rate limit has no client address: serve the app with \
                 `router.into_make_service_with_connect_info::<std::net::SocketAddr>()` (in tests, add \
                 `axum::extract::connect_info::MockConnectInfo`), or call `LuciaLayer::without_sign_in_rate_limit`"
            );
            return Err(AuthError::NoClientAddress);
        };
        limit.limiter.check(ip).map_err(|retry_after| AuthError::RateLimited { retry_after })
    }

    /// Signs in with a key and its password (`None` for a key without one): checks the
    /// password and starts a session with [`Lucia::sign_in`](lucia::Lucia::sign_in) (safe
    /// against a password change racing it), ends the session the request came with (if its
    /// cookie is trusted), and sends the new session's cookie. Later calls in this request see
    /// the new session.
    ///
    /// A wrong password and an unknown key are both `AuthError::Lucia(InvalidPassword |
    /// InvalidKeyId)`, answered `401 invalid credentials`. A cross-origin request let through
    /// for its bearer token cannot set a cookie: [`AuthError::Csrf`]. For API clients that
    /// want a token rather than a cookie, call [`Lucia::sign_in`](lucia::Lucia::sign_in) on
    /// [`lucia()`](Self::lucia) and return its token (after
    /// [`check_rate_limit`](Self::check_rate_limit)).
    ///
    /// Limited twice over: per client address first ([`check_rate_limit`](Self::check_rate_limit),
    /// [`AuthError::RateLimited`]), then per key by lucia's throttle
    /// ([`lucia::Error::Throttled`]); both are answered `429 too many attempts` with
    /// `Retry-After`.
    pub async fn sign_in(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        password: Option<&str>,
        attributes: L::SessionAttributes,
    ) -> Result<SessionOf<L>, AuthError> {
        self.context.cookie_writes.clone()?;
        self.check_rate_limit()?;
        let new = self.lucia.as_lucia().sign_in(provider_id, provider_user_id, password, attributes).await?;
        self.replace_cookie_session(new).await
    }

    /// Signs up: creates the user (and its first key) with
    /// [`Lucia::create_user`](lucia::Lucia::create_user), starts its session and sends the
    /// cookie, as [`start_session`](Self::start_session) does. Counted against the client
    /// address's budget first ([`check_rate_limit`](Self::check_rate_limit)), so that one
    /// address cannot create accounts (and hash their passwords) at will.
    ///
    /// A taken key or unique attribute is `AuthError::Lucia(DuplicateKeyId |
    /// DuplicateAttribute { .. })`, answered `409 already taken`; nothing is written then.
    pub async fn sign_up(
        &self,
        user: CreateUser<L::UserAttributes>,
        attributes: L::SessionAttributes,
    ) -> Result<SessionOf<L>, AuthError> {
        self.context.cookie_writes.clone()?;
        self.check_rate_limit()?;
        let user = self.lucia.as_lucia().create_user(user).await?;
        self.start_session(&user.user_id, attributes).await
    }

    /// Starts a session for `user_id` (after sign-up, or after
    /// [`Lucia::change_password`](lucia::Lucia::change_password) ended every session), ends
    /// the session the request came with, and sends the new session's cookie, as
    /// [`sign_in`](Self::sign_in) does without checking a password.
    pub async fn start_session(
        &self,
        user_id: &str,
        attributes: L::SessionAttributes,
    ) -> Result<SessionOf<L>, AuthError> {
        self.context.cookie_writes.clone()?;
        let new = self.lucia.as_lucia().create_session(CreateSession::new(user_id, attributes)).await?;
        self.replace_cookie_session(new).await
    }

    /// Whether the request asked for a page (`Accept` lists `text/html`).
    #[cfg(feature = "oauth")]
    pub(crate) fn is_page_request(&self) -> bool {
        self.context.page_request
    }

    /// Makes `new` this request's cookie session: the previous cookie session (if trusted) is
    /// ended, so no session outlives the browser's move to another one (no fixation).
    pub(crate) async fn replace_cookie_session(
        &self,
        new: NewSession<L::UserAttributes, L::SessionAttributes>,
    ) -> Result<SessionOf<L>, AuthError> {
        let lucia = self.lucia.as_lucia();
        let mut slot = self.context.cookie_session.lock().await;
        let previous =
            std::mem::replace(&mut *lock(&self.context.cookie), CookieCredential::Trusted(new.token.clone()));
        for old in previous.tokens() {
            if let Err(error) = lucia.invalidate_session(old.expose_secret()).await {
                // Neither session is left behind: the new one was never handed out.
                *lock(&self.context.cookie) = CookieCredential::Absent;
                let _ = lucia.invalidate_session(new.token.expose_secret()).await;
                *slot = None;
                return Err(error.into());
            }
        }
        self.context.send_cookie(lucia.create_session_cookie(&new.token, &new.session));
        *slot = Some(Box::new(Some(new.session.clone())));
        Ok(new.session)
    }

    /// `Err` when this request may not set cookies (a cross-origin request let through for
    /// its bearer token).
    pub(crate) fn check_cookie_writes(&self) -> Result<(), AuthError> {
        Ok(self.context.cookie_writes.clone()?)
    }

    /// Signs out: ends the session of the request's bearer token, if any, and of its cookie,
    /// if trusted, and sends the cookie that deletes it (unless the request is authenticated
    /// by a bearer token alone).
    ///
    /// A cookie the CSRF rule does not trust, on a request without a bearer token, is
    /// [`AuthError::Csrf`] and nothing is ended.
    pub async fn sign_out(&self) -> Result<(), AuthError> {
        let lucia = self.lucia.as_lucia();
        let mut cookie_slot = self.context.cookie_session.lock().await;
        let cookie = self.context.cookie();
        if let (CookieCredential::Untrusted(reason), None) = (&cookie, &self.context.bearer) {
            return Err(AuthError::Csrf(reason.clone()));
        }
        if let Some(token) = &self.context.bearer {
            lucia.invalidate_session(token.expose_secret()).await?;
            *self.context.bearer_session.lock().await = Some(Box::new(None::<SessionOf<L>>));
        }
        match cookie {
            CookieCredential::Trusted(_) | CookieCredential::Several(_) => {
                for token in cookie.tokens() {
                    lucia.invalidate_session(token.expose_secret()).await?;
                }
                *lock(&self.context.cookie) = CookieCredential::Absent;
                self.context.send_cookie(lucia.create_blank_session_cookie());
            }
            CookieCredential::Absent if self.context.bearer.is_none() => {
                self.context.send_cookie(lucia.create_blank_session_cookie());
            }
            CookieCredential::Absent | CookieCredential::Untrusted(_) => {}
        }
        if !matches!(self.context.cookie(), CookieCredential::Untrusted(_)) {
            *cookie_slot = Some(Box::new(None::<SessionOf<L>>));
        }
        Ok(())
    }
}

impl<St, L> FromRequestParts<St> for AuthRequest<L>
where
    St: Send + Sync,
    L: LuciaType + FromRef<St>,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, AuthError> {
        match parts.extensions.get::<ContextSlot>() {
            Some(ContextSlot(context)) => Ok(Self { lucia: L::from_ref(state), context: Arc::clone(context) }),
            None => {
                tracing::error!(
                    method = %parts.method,
                    path = %parts.uri.path(),
                    "lucia_axum::AuthRequest used on a route without LuciaLayer: add `.layer(LuciaLayer::new(&lucia))` to the router"
                );
                Err(AuthError::MissingLayer)
            }
        }
    }
}
