//! [`LuciaLayer`]: the CSRF check, credential parsing and `Set-Cookie` around every request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Request, header};
use lucia::{Env, Lucia, Origin, OriginError};
use tower_layer::Layer;
use tower_service::Service;

use crate::request::CookieCredential;
use crate::{AuthError, AuthRequest};

/// Adds an [`AuthRequest`] to every request and the session cookie to every response that
/// needs one. See the [crate documentation](crate) for the CSRF rules.
pub struct LuciaLayer<A, U, S> {
    lucia: Lucia<A, U, S>,
    public_origin: Option<Origin>,
}

impl<A, U, S> Clone for LuciaLayer<A, U, S> {
    fn clone(&self) -> Self {
        Self { lucia: self.lucia.clone(), public_origin: self.public_origin.clone() }
    }
}

impl<A, U, S> LuciaLayer<A, U, S> {
    /// A layer for `lucia`, which supplies the cookie and CSRF settings.
    pub fn new(lucia: Lucia<A, U, S>) -> Self {
        Self { lucia, public_origin: None }
    }

    /// The origin browsers see, such as `https://example.com`, instead of one built from each
    /// request's `Host` header. Set it behind a reverse proxy.
    ///
    /// ```
    /// # fn demo<A: lucia::Adapter>(lucia: lucia::Lucia<A>) {
    /// let layer = lucia_axum::LuciaLayer::new(lucia).public_origin("https://example.com".parse().unwrap());
    /// # }
    /// ```
    pub fn public_origin(mut self, origin: Origin) -> Self {
        self.public_origin = Some(origin);
        self
    }

    /// The server's own origin for this request.
    fn target_origin(&self, request: &http::request::Parts) -> Option<Origin> {
        if let Some(origin) = &self.public_origin {
            return Some(origin.clone());
        }
        let host = match request.headers.get(header::HOST) {
            Some(value) => value.to_str().ok()?,
            None => request.uri.authority()?.as_str(),
        };
        let default = if self.lucia.config().env == Env::Prod { "https" } else { "http" };
        Origin::from_scheme_and_host(request.uri.scheme_str().unwrap_or(default), host).ok()
    }

    /// Applies the CSRF rule: `Err` refuses the request; `Ok` says how far its cookie may be
    /// trusted.
    fn check(&self, request: &http::request::Parts) -> Result<CookieCredential, OriginError> {
        let cookie = read_cookie(&request.headers, &self.lucia.config().session_cookie.name);
        let csrf = &self.lucia.config().csrf;
        let safe = ["GET", "HEAD", "OPTIONS", "TRACE"].contains(&request.method.as_str());
        if !csrf.enabled || safe {
            return Ok(cookie.map_or(CookieCredential::Absent, CookieCredential::Trusted));
        }
        let Some(origin) = request.headers.get(header::ORIGIN) else {
            return Ok(cookie.map_or(CookieCredential::Absent, |_| CookieCredential::Untrusted(OriginError::Missing)));
        };
        let origin = origin.to_str().map_err(|_| OriginError::Malformed)?;
        let target = self.target_origin(request).ok_or(OriginError::UnknownTarget)?;
        csrf.verify_request_origin(request.method.as_str(), Some(origin), &target)?;
        Ok(cookie.map_or(CookieCredential::Absent, CookieCredential::Trusted))
    }
}

/// The session cookie from all `Cookie` headers (HTTP/2 may send several).
fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| lucia::read_cookie(value, name))
}

fn read_bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    lucia::read_bearer_token(value).map(str::to_owned)
}

impl<Svc, A, U, S> Layer<Svc> for LuciaLayer<A, U, S> {
    type Service = LuciaService<Svc, A, U, S>;

    fn layer(&self, inner: Svc) -> Self::Service {
        LuciaService { inner, layer: self.clone() }
    }
}

/// The service [`LuciaLayer`] wraps around a router or handler.
pub struct LuciaService<Svc, A, U, S> {
    inner: Svc,
    layer: LuciaLayer<A, U, S>,
}

impl<Svc: Clone, A, U, S> Clone for LuciaService<Svc, A, U, S> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), layer: self.layer.clone() }
    }
}

impl<Svc, A, U, S, Body> Service<Request<Body>> for LuciaService<Svc, A, U, S>
where
    Svc: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    Svc::Future: Send + 'static,
    Svc::Error: Send + 'static,
    Body: Send + 'static,
    A: Send + Sync + 'static,
    U: Send + Sync + 'static,
    S: Send + Sync + 'static,
{
    type Response = Response;
    type Error = Svc::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Svc::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        let cookie = match self.layer.check(&parts) {
            Ok(cookie) => cookie,
            Err(refused) => {
                tracing::info!(method = %parts.method, uri = %parts.uri, reason = %refused, "CSRF check refused a request");
                return Box::pin(std::future::ready(Ok(AuthError::Csrf(refused).into_response())));
            }
        };
        let auth = AuthRequest::new(self.layer.lucia.clone(), cookie, read_bearer(&parts.headers));
        parts.extensions.insert(auth.clone());

        // The clone that was polled ready is the one to call (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let future = inner.call(Request::from_parts(parts, body));
        Box::pin(async move {
            let mut response = future.await?;
            if let Some(cookie) = auth.take_pending_cookie() {
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
