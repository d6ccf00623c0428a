//! [`LuciaLayer`]: the CSRF check, credential parsing and `Set-Cookie` around every request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use governor::Quota;
use http::{HeaderMap, HeaderName, HeaderValue, Request, header};
use lucia::{CsrfConfig, Env, Lucia, Origin, OriginError, SessionToken};
use tower_layer::Layer;
use tower_service::Service;

use crate::AuthError;
use crate::rate_limit::{IpRateLimiter, client_ip, default_quota};
use crate::request::{ClientLimit, ContextSlot, CookieCredential, RequestContext};

/// A host [`LuciaLayer::allowed_hosts`] accepts requests for: a host name or an IP address
/// without a port (`example.com`, `127.0.0.1`, `[::1]`), or `.example.com` for the domain and
/// every subdomain of it. Compared without regard to case.
///
/// ```
/// let host: lucia_axum::AllowedHost = "Example.COM".parse().unwrap();
/// assert!("https://example.com".parse::<lucia_axum::AllowedHost>().is_err());
/// assert!("example.com:443".parse::<lucia_axum::AllowedHost>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost(String);

/// A string that is not an [`AllowedHost`]: empty, or with a scheme, port, path or user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a host name (no scheme, port or path): {0:?}")]
pub struct InvalidHost(pub String);

impl std::str::FromStr for AllowedHost {
    type Err = InvalidHost;

    fn from_str(host: &str) -> Result<Self, InvalidHost> {
        let name = host.strip_prefix('.').unwrap_or(host);
        let valid = !name.contains('@')
            && matches!(http::uri::Authority::try_from(name), Ok(authority) if authority.port().is_none() && authority.as_str() == name);
        if valid { Ok(Self(host.to_ascii_lowercase())) } else { Err(InvalidHost(host.to_owned())) }
    }
}

/// Runs around every request: applies the [CSRF rule](crate#csrf), reads the session cookie
/// and the bearer token, gives the request's extractors ([`AuthRequest`](crate::AuthRequest),
/// [`SignedIn`](crate::SignedIn)) a shared per-request state, and appends the `Set-Cookie`
/// they ask for to the response.
///
/// It is not generic: it takes the cookie name, the CSRF settings and the environment from
/// the `Lucia` it is built from, and the extractors take the `Lucia` itself from the router
/// state.
///
/// It also limits sign-ins and sign-ups per client IP address
/// ([`sign_in_rate_limit`](Self::sign_in_rate_limit), on by default), for which the app must
/// be served with connect info: `axum::serve(listener,
/// router.into_make_service_with_connect_info::<SocketAddr>())`.
///
/// ```
/// # fn demo(lucia: lucia::Lucia<lucia::memory::MemoryAdapter>) {
/// let layer = lucia_axum::LuciaLayer::new(&lucia)
///     .sign_in_url("/login")
///     .public_origin("https://example.com".parse().unwrap());
/// # }
/// ```
#[derive(Clone)]
pub struct LuciaLayer {
    settings: Arc<Settings>,
}

#[derive(Clone)]
struct Settings {
    cookie_name: String,
    csrf: CsrfConfig,
    env: Env,
    public_origin: Option<Origin>,
    sign_in_url: Option<HeaderValue>,
    /// The per-IP token bucket, shared by every clone of the layer.
    rate_limit: Option<Arc<IpRateLimiter>>,
    trusted_proxy_header: Option<HeaderName>,
    /// `None`: any host. Lowercase; `.example.com` stands for the domain and its subdomains.
    allowed_hosts: Option<Arc<[String]>>,
    /// Exact paths whose state-changing requests the CSRF check lets through when it would
    /// refuse them, with the cookie untrusted and cookie writes refused.
    csrf_exempt: Vec<String>,
}

impl std::fmt::Debug for LuciaLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuciaLayer")
            .field("cookie_name", &self.settings.cookie_name)
            .field("csrf", &self.settings.csrf)
            .field("public_origin", &self.settings.public_origin)
            .field("sign_in_url", &self.settings.sign_in_url)
            .field("sign_in_rate_limit", &self.settings.rate_limit)
            .field("trusted_proxy_header", &self.settings.trusted_proxy_header)
            .field("allowed_hosts", &self.settings.allowed_hosts)
            .field("csrf_exempt", &self.settings.csrf_exempt)
            .finish()
    }
}

impl LuciaLayer {
    /// A layer with `lucia`'s cookie, CSRF and environment settings.
    pub fn new<A, U, S>(lucia: &Lucia<A, U, S>) -> Self {
        let config = lucia.config();
        Self {
            settings: Arc::new(Settings {
                cookie_name: config.session_cookie.name.clone(),
                csrf: config.csrf.clone(),
                env: config.env,
                public_origin: None,
                sign_in_url: None,
                rate_limit: Some(Arc::new(IpRateLimiter::new(default_quota()))),
                trusted_proxy_header: None,
                allowed_hosts: None,
                csrf_exempt: Vec::new(),
            }),
        }
    }

    /// Limits sign-ins and sign-ups per client IP address ([`AuthRequest::sign_in`](crate::AuthRequest::sign_in),
    /// [`AuthRequest::sign_up`](crate::AuthRequest::sign_up) and [`AuthRequest::check_rate_limit`](crate::AuthRequest::check_rate_limit)) with a token bucket of
    /// this quota, kept in memory per IPv4 address and per IPv6 /64. Over the limit a request
    /// is [`AuthError::RateLimited`]: `429` with `Retry-After`.
    ///
    /// **On by default**, at a burst of 20 then one every 3 seconds (1,200 an hour): enough for
    /// a household or an office behind one address, while a single address cannot try more
    /// than 1,200 passwords an hour across all accounts. It works alongside lucia's per-key
    /// throttle, which bounds the attempts on each account whatever their addresses.
    ///
    /// The client address is the connection's (serve the app with
    /// `into_make_service_with_connect_info::<SocketAddr>()`; without it the request is a
    /// `500`, [`AuthError::NoClientAddress`], never an unlimited one), or behind a reverse proxy
    /// the one it writes in a header ([`trusted_proxy_header`](Self::trusted_proxy_header)).
    /// Clones of the layer share one limiter; each `LuciaLayer::new` has its own.
    ///
    /// ```
    /// # fn demo(lucia: lucia::Lucia<lucia::memory::MemoryAdapter>) {
    /// use std::num::NonZeroU32;
    /// use lucia_axum::Quota;
    ///
    /// let quota = Quota::per_minute(NonZeroU32::new(10).unwrap()); // 10 at once, then 10 a minute
    /// let layer = lucia_axum::LuciaLayer::new(&lucia).sign_in_rate_limit(quota);
    /// # }
    /// ```
    #[must_use]
    pub fn sign_in_rate_limit(mut self, quota: Quota) -> Self {
        Arc::make_mut(&mut self.settings).rate_limit = Some(Arc::new(IpRateLimiter::new(quota)));
        self
    }

    /// Turns the per-IP limit of [`sign_in_rate_limit`](Self::sign_in_rate_limit) off (for an
    /// application that limits requests in front of it). The per-key throttle of lucia stays.
    #[must_use]
    pub fn without_sign_in_rate_limit(mut self) -> Self {
        Arc::make_mut(&mut self.settings).rate_limit = None;
        self
    }

    /// Takes the client address for the per-IP limit from this header, such as
    /// `x-forwarded-for`, instead of from the connection: only behind a reverse proxy that
    /// **always** sets it, since clients can send any header. The right-most entry is used:
    /// the one your proxy appended (entries before it come from the client and are not
    /// trusted). A request without a readable entry falls back to the connection's address.
    ///
    /// # Panics
    ///
    /// If `name` is not a valid header name: a mistake in the program, reported when the
    /// router is built.
    #[must_use]
    pub fn trusted_proxy_header(mut self, name: &str) -> Self {
        let name = HeaderName::try_from(name)
            .unwrap_or_else(|_| panic!("LuciaLayer::trusted_proxy_header: {name:?} is not a valid header name"));
        Arc::make_mut(&mut self.settings).trusted_proxy_header = Some(name);
        self
    }

    /// The origin browsers see, such as `https://example.com`, instead of one built from each
    /// request's `Host` header. Set it behind a reverse proxy.
    #[must_use]
    pub fn public_origin(mut self, origin: Origin) -> Self {
        Arc::make_mut(&mut self.settings).public_origin = Some(origin);
        self
    }

    /// Answers every request whose host (its `Host` header, or the authority of an HTTP/2
    /// request) is not one of `hosts` with `400 unknown host` ([`AuthError::UnknownHost`])
    /// before anything else, whatever its method: a page of another site whose name an
    /// attacker points at this server (DNS rebinding) gets nothing. The request's port and
    /// the case of its host do not matter. The host of [`public_origin`](Self::public_origin),
    /// if set, is allowed too. Off by default (any host), since a reverse proxy may rewrite
    /// `Host`: list the names the proxy forwards.
    ///
    /// ```
    /// # fn demo(lucia: lucia::Lucia<lucia::memory::MemoryAdapter>) -> Result<(), lucia_axum::InvalidHost> {
    /// let layer = lucia_axum::LuciaLayer::new(&lucia).allowed_hosts(["example.com".parse()?, ".example.net".parse()?]);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn allowed_hosts(mut self, hosts: impl IntoIterator<Item = AllowedHost>) -> Self {
        Arc::make_mut(&mut self.settings).allowed_hosts = Some(hosts.into_iter().map(|host| host.0).collect());
        self
    }

    /// Where [`SignedIn`](crate::SignedIn) sends page requests without a session (`303 See
    /// Other`), such as `/login`. Without it, they are answered `401` like API requests.
    ///
    /// # Panics
    ///
    /// If `url` cannot be a header value (it contains control characters): a mistake in the
    /// program, reported when the router is built.
    #[must_use]
    pub fn sign_in_url(mut self, url: &str) -> Self {
        let value = HeaderValue::try_from(url)
            .unwrap_or_else(|_| panic!("LuciaLayer::sign_in_url: {url:?} is not a valid Location header value"));
        Arc::make_mut(&mut self.settings).sign_in_url = Some(value);
        self
    }
}

impl LuciaLayer {
    /// Lets through the state-changing requests to `path` (exactly: no prefix, no trailing
    /// `/` variant) that the [CSRF check](crate#csrf) would refuse, such as the cross-site
    /// `POST` of a provider's `form_post` callback (`OAuthRoutes::csrf_exempt_path`, feature
    /// `oauth`).
    ///
    /// **Such a request has no session cookie**: its cookie is untrusted (reading the session
    /// through it is [`AuthError::Csrf`], `403`) and it cannot set one (signing in, out or
    /// renewing is refused the same way), so a forged cross-site request to an exempt path
    /// can neither act as the signed-in user nor sign the browser into another account. A
    /// bearer token still authenticates it, as on any cross-origin request. A request that
    /// passes the check (same-origin) is not affected.
    ///
    /// # Panics
    ///
    /// If `path` does not start with `/`: a mistake in the program, reported when the router
    /// is built.
    ///
    /// ```
    /// # fn demo(lucia: lucia::Lucia<lucia::memory::MemoryAdapter>) {
    /// let layer = lucia_axum::LuciaLayer::new(&lucia).csrf_exempt("/login/apple/callback");
    /// # }
    /// ```
    #[must_use]
    pub fn csrf_exempt(mut self, path: &str) -> Self {
        assert!(path.starts_with('/'), "LuciaLayer::csrf_exempt: {path:?} is not a path");
        Arc::make_mut(&mut self.settings).csrf_exempt.push(path.to_owned());
        self
    }
}

impl Settings {
    /// The server's own origin for this request.
    fn target_origin(&self, request: &http::request::Parts) -> Option<Origin> {
        if let Some(origin) = &self.public_origin {
            return Some(origin.clone());
        }
        let host = match request.headers.get(header::HOST) {
            Some(value) => value.to_str().ok()?,
            None => request.uri.authority()?.as_str(),
        };
        let default = if self.env == Env::Prod { "https" } else { "http" };
        Origin::from_scheme_and_host(request.uri.scheme_str().unwrap_or(default), host).ok()
    }

    /// Whether the request's host is allowed ([`LuciaLayer::allowed_hosts`]).
    fn host_allowed(&self, request: &http::request::Parts) -> bool {
        let Some(allowed) = &self.allowed_hosts else { return true };
        let authority = match request.headers.get(header::HOST) {
            Some(value) => value.to_str().ok().and_then(|host| http::uri::Authority::try_from(host).ok()),
            None => request.uri.authority().cloned(),
        };
        let Some(host) = authority.map(|authority| authority.host().to_ascii_lowercase()) else { return false };
        self.public_origin.as_ref().is_some_and(|origin| origin.host() == host)
            || allowed.iter().any(|entry| match entry.strip_prefix('.') {
                Some(domain) => host == domain || host.strip_suffix(domain).is_some_and(|sub| sub.ends_with('.')),
                None => host == *entry,
            })
    }

    /// The request's `Origin` checked against the server's: `Ok` same-origin (or an allowed
    /// subdomain), `Err(Missing)` without `Origin`, another `Err` cross-origin or malformed.
    fn check_origin(&self, request: &http::request::Parts) -> Result<(), OriginError> {
        let Some(origin) = request.headers.get(header::ORIGIN) else {
            return Err(OriginError::Missing);
        };
        let origin = origin.to_str().map_err(|_| OriginError::Malformed)?;
        let target = self.target_origin(request).ok_or(OriginError::UnknownTarget)?;
        self.csrf.verify_request_origin(request.method.as_str(), Some(origin), &target)
    }

    /// Applies the CSRF rule (see the crate docs): `Err` refuses the request; `Ok` is its
    /// per-request state.
    fn context(&self, request: &http::request::Parts) -> Result<RequestContext, OriginError> {
        let cookie = session_cookies(&request.headers, &self.cookie_name);
        let bearer = read_bearer(&request.headers).map(SessionToken::from);
        let page_request = accepts_html(&request.headers);
        let build = |cookie: CookieCredential, bearer, writes| {
            let limit = self.rate_limit.as_ref().map(|limiter| ClientLimit {
                limiter: Arc::clone(limiter),
                ip: client_ip(request, self.trusted_proxy_header.as_ref()),
            });
            RequestContext::new(cookie, bearer, writes, page_request, self.sign_in_url.clone(), limit)
        };
        let safe = ["GET", "HEAD", "OPTIONS", "TRACE"].contains(&request.method.as_str());
        if !self.csrf.enabled || safe {
            return Ok(build(CookieCredential::trusted(cookie), bearer, Ok(())));
        }
        match self.check_origin(request) {
            Ok(()) => Ok(build(CookieCredential::trusted(cookie), bearer, Ok(()))),
            // An exempt path (`LuciaLayer::csrf_exempt`): let through, as if it were not a
            // browser's, with the cookie unused and no cookie set, whatever the failure.
            Err(refused) if self.csrf_exempt.iter().any(|path| path == request.uri.path()) => {
                let cookie = CookieCredential::untrusted(cookie, refused.clone());
                Ok(build(cookie, bearer, Err(refused)))
            }
            // Browsers send Origin on every state-changing request: a client without one is not a
            // browser, and its cookie is not trusted (it should use a bearer token).
            Err(OriginError::Missing) => {
                let cookie = CookieCredential::untrusted(cookie, OriginError::Missing);
                Ok(build(cookie, bearer, Ok(())))
            }
            // Cross-origin: only a bearer token makes it acceptable (browsers never attach one by
            // themselves). The cookie is then not used, and no cookie may be set.
            Err(refused) if bearer.is_some() => {
                let cookie = CookieCredential::untrusted(cookie, refused.clone());
                Ok(build(cookie, bearer, Err(refused)))
            }
            Err(refused) => Err(refused),
        }
    }
}

/// How many session cookies of one request are looked at: a request stuffed with more
/// costs no more lookups.
const MAX_SESSION_COOKIES: usize = 3;

/// The session cookies of all `Cookie` headers (HTTP/2 may send several), in order, at most
/// [`MAX_SESSION_COOKIES`].
fn session_cookies(headers: &HeaderMap, name: &str) -> Vec<SessionToken> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| lucia::read_cookies(value, name))
        .take(MAX_SESSION_COOKIES)
        .map(SessionToken::from)
        .collect()
}

fn read_bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    lucia::read_bearer_token(value).map(str::to_owned)
}

/// Whether an `Accept` header lists `text/html` (parameters and case ignored; `*/*` does not
/// count, so API clients that accept anything get `401`, not a redirect).
fn accepts_html(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|value| value.to_str().ok()).any(|value| {
        value
            .split(',')
            .any(|range| range.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("text/html")))
    })
}

impl<Svc> Layer<Svc> for LuciaLayer {
    type Service = LuciaService<Svc>;

    fn layer(&self, inner: Svc) -> Self::Service {
        LuciaService { inner, settings: Arc::clone(&self.settings) }
    }
}

/// The service [`LuciaLayer`] wraps around a router or handler.
#[derive(Clone)]
pub struct LuciaService<Svc> {
    inner: Svc,
    settings: Arc<Settings>,
}

impl<Svc: std::fmt::Debug> std::fmt::Debug for LuciaService<Svc> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LuciaService").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<Svc, Body> Service<Request<Body>> for LuciaService<Svc>
where
    Svc: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    Svc::Future: Send + 'static,
    Svc::Error: Send + 'static,
    Body: Send + 'static,
{
    type Response = Response;
    type Error = Svc::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Svc::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        if !self.settings.host_allowed(&parts) {
            tracing::info!(method = %parts.method, path = %parts.uri.path(), "a request for a host that is not allowed was refused");
            return Box::pin(std::future::ready(Ok(AuthError::UnknownHost.into_response())));
        }
        let context = match self.settings.context(&parts) {
            Ok(context) => Arc::new(context),
            Err(refused) => {
                tracing::info!(method = %parts.method, path = %parts.uri.path(), reason = %refused, "CSRF check refused a request");
                return Box::pin(std::future::ready(Ok(AuthError::Csrf(refused).into_response())));
            }
        };
        parts.extensions.insert(ContextSlot(Arc::clone(&context)));

        // The clone that was polled ready is the one to call (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let future = inner.call(Request::from_parts(parts, body));
        Box::pin(async move {
            let mut response = future.await?;
            if let Some(cookie) = context.take_pending_cookie() {
                match HeaderValue::try_from(cookie.to_string()) {
                    Ok(value) => {
                        response.headers_mut().append(header::SET_COOKIE, value);
                    }
                    Err(error) => tracing::error!(%error, "the session cookie is not a valid header value"),
                }
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_requests_are_those_that_accept_html() {
        let accepts = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::try_from(value).unwrap());
            accepts_html(&headers)
        };
        assert!(accepts("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
        assert!(accepts("Text/HTML; charset=utf-8"));
        assert!(!accepts("*/*"));
        assert!(!accepts("application/json"));
        assert!(!accepts("text/htmlx"));
        assert!(!accepts_html(&HeaderMap::new()));
    }
}
