//! Sign in with OAuth 2.0 and OpenID Connect providers (feature `oauth`): the routes of one
//! [`Provider`] of [`lucia_oauth`], on the session API of [`AuthRequest`].
//!
//! [`OAuthRoutes`] gives a [`Router`] with these routes for a provider whose id is `<id>`:
//!
//! | route | what it does |
//! |---|---|
//! | `GET /login/<id>` | starts a **sign-in**: `303` to the provider, with the encrypted flow cookie |
//! | `POST /login/<id>/link` | starts a **link** of a provider account to the signed-in user (a form on the account page; the layer's CSRF check applies): `303` to the provider, or to the sign-in page without a session |
//! | `GET /login/<id>/callback` | the redirect URL registered with the provider: finishes the flow, then signs in (a new session, its cookie, the browser's previous session ended; or, for a user with a second factor, the [second step](#users-with-a-second-factor)) or links, and redirects |
//! | `POST /login/<id>/callback` | only for a provider whose callback is a form `POST` ([`Provider::uses_form_post`], such as Apple): `303` to the `GET` callback with the form's `code`, `state`, `iss`, `error` and `error_description` ([below](#a-callback-sent-as-a-post-response_modeform_post)) |
//!
//! What the flow is for (sign-in, or link to user `U`) is sealed into the encrypted flow
//! cookie when it starts ([`FlowCookie::bind`]), so nobody can turn a callback into a link, and
//! a link's callback is refused unless the same user is signed in. The callback removes the
//! flow cookie in its answer, whatever the outcome, and counts against the client address's
//! sign-in budget first ([`AuthRequest::check_rate_limit`]), as password sign-ins do.
//!
//! Register `<public origin>/login/<id>/callback` as the redirect URL at the provider, and
//! give the provider the same URL. Failures are [`OAuthError`]s: a fixed text per kind and a
//! fitting status, or, with [`OAuthRoutes::failure_redirect_to`], a `303` to a page with
//! `?oauth_error=<code>` ([`OAuthError::code`]). No code, token, secret or provider response
//! body is in an answer or a log line.
//!
//! # Example
//!
//! ```no_run
//! use axum::Router;
//! use lucia::{Lucia, memory::MemoryAdapter};
//! use lucia_axum::LuciaLayer;
//! use lucia_axum::oauth::OAuthRoutes;
//! use lucia_axum::oauth::lucia_oauth::{FlowCookie, HttpClient, OidcProvider, cookie};
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct UserAttributes {
//!     username: String,
//! }
//! type Auth = Lucia<MemoryAdapter, UserAttributes>;
//!
//! async fn app(auth: Auth) -> Result<Router, lucia_axum::oauth::lucia_oauth::Error> {
//!     let http = HttpClient::new()?;
//!     let provider = OidcProvider::discover(
//!         &http,
//!         "oidc",
//!         "https://accounts.example.com",
//!         "client-id",
//!         Some("client-secret".into()),
//!         "https://app.example.com/login/oidc/callback",
//!     )
//!     .await?;
//!     // The same key on every instance of the app (a flow may start on one, end on another).
//!     let flows = FlowCookie::new(cookie::Key::generate());
//!     // A new user's attributes; `attempt` counts the tries after a unique column was taken.
//!     let routes = OAuthRoutes::<Auth, _>::new(provider, http, flows, |account, attempt| UserAttributes {
//!         username: if attempt == 0 { account.subject.clone() } else { format!("{}-{attempt}", account.subject) },
//!     })?
//!     .redirect_to("/account");
//!     Ok(Router::new().merge(routes.router()).layer(LuciaLayer::new(&auth)).with_state(auth))
//! }
//! ```
//!
//! # Users with a second factor
//!
//! A sign-in with a provider does not skip a user's second factor: by default the callback
//! refuses a user with a confirmed TOTP (`AuthError::Lucia(lucia::Error::SecondFactorRequired)`,
//! `401`, or the failure page with `oauth_error=error`), with no session. For an adapter with
//! [`SecondFactorAdapter`], [`OAuthRoutes::second_step_page`] sends such a user on to the
//! application's second step as [`AuthRequest::sign_in_with_second_factor`] does for a
//! password: no session, the pending sign-in cookie, and a `303` to that page, whose route
//! completes the sign-in with [`PendingSecondFactor`](crate::PendingSecondFactor).
//!
//! ```no_run
//! # use lucia::{Lucia, memory::MemoryAdapter};
//! # type Auth = Lucia<MemoryAdapter>;
//! # fn routes<P: lucia_oauth::Provider + 'static>(routes: lucia_axum::oauth::OAuthRoutes<Auth, P>) -> lucia_axum::oauth::OAuthRoutes<Auth, P> {
//! routes.redirect_to("/account").second_step_page("/login/second-factor")
//! # }
//! ```
//!
//! # A callback sent as a POST (`response_mode=form_post`)
//!
//! Providers such as Apple ([`Provider::uses_form_post`]) send the browser back with a
//! cross-site `POST` of a URL-encoded form, from the provider's origin. For them the router
//! also has `POST /login/<id>/callback`, which does nothing but answer `303 See Other` to
//! `GET /login/<id>/callback?<params>`, keeping only the form's `code`, `state`, `iss`, `error`
//! and `error_description` (the body is read up to 16 KiB and never logged; Apple's `id_token`
//! and `user` are dropped: the code is exchanged instead). The `GET` callback then does
//! everything, as for any provider. Why the detour: the session cookie is `SameSite=Lax`, so
//! the browser does not send it with the provider's cross-site `POST`, but does with the
//! top-level `GET` that follows the `303`; the flow cookie is `SameSite=None` and comes with
//! both. A link's callback thus sees who is signed in, and a sign-in replaces the browser's
//! session as it should.
//!
//! The `POST` carries the provider's `Origin`, so [`LuciaLayer`](crate::LuciaLayer)'s CSRF
//! check would refuse it with `403`: exempt its path with
//! [`LuciaLayer::csrf_exempt`](crate::LuciaLayer::csrf_exempt), given by
//! [`OAuthRoutes::csrf_exempt_path`] (the layer runs before routing, so it takes a list of
//! exact paths). A request the exemption lets through has no session cookie: its cookie is
//! not used and it cannot set one, so the exemption gives a forged cross-site request
//! nothing to act with.
//!
//! ```no_run
//! # use lucia::{Lucia, memory::MemoryAdapter};
//! # type Auth = Lucia<MemoryAdapter>;
//! # fn app<P: lucia_oauth::Provider + 'static>(auth: Auth, routes: lucia_axum::oauth::OAuthRoutes<Auth, P>) -> axum::Router {
//! use lucia_axum::LuciaLayer;
//!
//! let mut layer = LuciaLayer::new(&auth);
//! if let Some(path) = routes.csrf_exempt_path() {
//!     layer = layer.csrf_exempt(&path);
//! }
//! axum::Router::new().merge(routes.router()).layer(layer).with_state(auth)
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRef, RawQuery};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use lucia::{Lucia, SecondFactorAdapter, SignIn};
pub use lucia_oauth;
use lucia_oauth::{FlowCookie, HttpClient, Provider, ProviderKeys, ProviderUser};

use crate::lucia_type::LuciaType;
use crate::{AuthError, AuthRequest, SignInStep};

/// How many users [`OAuthRoutes`] tries to create for one new provider account when a unique
/// attribute (such as a username) is taken.
pub const NEW_USER_ATTEMPTS: u32 = 4;

/// The largest body of a `form_post` callback read (an Apple callback, with its ID token and
/// the user's name, is a few KiB).
pub const FORM_POST_LIMIT: usize = 16 * 1024;

/// The parameters of a `form_post` callback passed on to the `GET` callback.
const FORM_POST_PARAMS: [&str; 5] = ["code", "state", "iss", "error", "error_description"];

/// The binding of a sign-in flow in the flow cookie ([`FlowCookie::bind`]).
const SIGN_IN: &str = "sign-in";
/// The prefix of a link flow's binding, before the user id.
const LINK: &str = "link:";

type NewUser<U> = dyn Fn(&ProviderUser, u32) -> U + Send + Sync;
type SessionAttributes<S> = dyn Fn(&Parts) -> S + Send + Sync;

/// The `Lucia` of a [`LuciaType`].
type LuciaOf<L> =
    Lucia<<L as LuciaType>::Adapter, <L as LuciaType>::UserAttributes, <L as LuciaType>::SessionAttributes>;
/// What a sign-in with the second factor led to, as the store gives it.
type SignInOutcome<L> = SignIn<<L as LuciaType>::UserAttributes, <L as LuciaType>::SessionAttributes>;
type BoxedFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// [`ProviderKeys::sign_in_with_second_factor`] for an `L` whose adapter has second factors,
/// erased so that [`OAuthRoutes`] keeps no such bound: set by
/// [`OAuthRoutes::second_step_page`].
type TwoStepSignIn<L> = for<'a> fn(
    &'a ProviderKeys<<L as LuciaType>::UserAttributes>,
    &'a LuciaOf<L>,
    &'a ProviderUser,
    &'a (dyn Fn(&ProviderUser) -> <L as LuciaType>::UserAttributes + Send + Sync),
    <L as LuciaType>::SessionAttributes,
) -> BoxedFuture<'a, Result<SignInOutcome<L>, lucia_oauth::Error>>;

/// Where a sign-in of a user with a second factor goes on ([`OAuthRoutes::second_step_page`]).
struct SecondStep<L: LuciaType> {
    page: String,
    sign_in: TwoStepSignIn<L>,
}

/// The sign-in and link routes of one provider (see the [module](self)).
///
/// `L` is the application's `Lucia` type, `P` the provider.
pub struct OAuthRoutes<L: LuciaType, P> {
    provider: P,
    http: HttpClient,
    flows: FlowCookie,
    keys: ProviderKeys<L::UserAttributes>,
    new_user: Box<NewUser<L::UserAttributes>>,
    session_attributes: Box<SessionAttributes<L::SessionAttributes>>,
    signed_in: String,
    linked: String,
    failed: Option<String>,
    second_step: Option<SecondStep<L>>,
}

impl<L: LuciaType, P: Provider> std::fmt::Debug for OAuthRoutes<L, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthRoutes")
            .field("provider_id", &self.provider.provider_id())
            .field("redirect_to", &self.signed_in)
            .field("link_redirect_to", &self.linked)
            .field("failure_redirect_to", &self.failed)
            .field("second_step_page", &self.second_step.as_ref().map(|step| &step.page))
            .finish_non_exhaustive()
    }
}

/// What a flow was started for, as sealed in its cookie.
enum Intent {
    SignIn,
    Link(String),
}

impl<L, P> OAuthRoutes<L, P>
where
    L: LuciaType,
    L::SessionAttributes: Default,
    P: Provider + 'static,
{
    /// The routes of `provider`, calling it with `http`, keeping flows in cookies made by
    /// `flows` (the same key on every instance of the application). A provider account seen
    /// for the first time becomes a new user with the attributes `new_user(account, attempt)`
    /// gives: `attempt` is 0, then, each time a unique attribute was taken
    /// (`lucia::Error::DuplicateAttribute`), 1, 2, ... up to [`NEW_USER_ATTEMPTS`] tries, so
    /// that it can pick another username. Sessions get `Default` attributes unless
    /// [`session_attributes`](Self::session_attributes) says otherwise; provider accounts are
    /// matched by key only unless [`keys`](Self::keys) says otherwise.
    ///
    /// A provider id outside `[A-Za-z0-9_-]` cannot be a route: [`lucia_oauth::Error::Configuration`].
    pub fn new(
        provider: P,
        http: HttpClient,
        flows: FlowCookie,
        new_user: impl Fn(&ProviderUser, u32) -> L::UserAttributes + Send + Sync + 'static,
    ) -> Result<Self, lucia_oauth::Error> {
        let id = provider.provider_id();
        if id.is_empty() || !id.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_') {
            return Err(lucia_oauth::Error::Configuration(format!("provider id {id:?} cannot be a route")));
        }
        Ok(Self {
            provider,
            http,
            flows,
            keys: ProviderKeys::new(),
            new_user: Box::new(new_user),
            session_attributes: Box::new(|_| L::SessionAttributes::default()),
            signed_in: "/".into(),
            linked: "/".into(),
            failed: None,
            second_step: None,
        })
    }
}

impl<L, P> OAuthRoutes<L, P>
where
    L: LuciaType,
    L::Adapter: SecondFactorAdapter,
    P: Provider + 'static,
{
    /// Opts into two-step sign-ins, for an application whose users may have a second factor
    /// (its `Lucia` has [`SecondFactorSettings`](lucia::SecondFactorSettings)): a user with a
    /// confirmed TOTP who signs in with the provider gets no session, but the pending sign-in
    /// cookie and a `303` to `path`, the second step's page, as a password sign-in with
    /// [`AuthRequest::sign_in_with_second_factor`] does; the page's route completes it with
    /// [`PendingSecondFactor::complete`](crate::PendingSecondFactor::complete) (see
    /// [`second_factor`](crate::second_factor)).
    ///
    /// Without it such a user's provider sign-in is refused
    /// (`AuthError::Lucia(lucia::Error::SecondFactorRequired)`, `401`, or the failure page with
    /// `oauth_error=error`): the provider account alone never skips the code.
    #[must_use]
    pub fn second_step_page(mut self, path: impl Into<String>) -> Self {
        self.second_step = Some(SecondStep { page: path.into(), sign_in: two_step_sign_in::<L> });
        self
    }
}

/// [`TwoStepSignIn`] for an `L` whose adapter has second factors.
fn two_step_sign_in<'a, L>(
    keys: &'a ProviderKeys<L::UserAttributes>,
    lucia: &'a LuciaOf<L>,
    account: &'a ProviderUser,
    new_user: &'a (dyn Fn(&ProviderUser) -> L::UserAttributes + Send + Sync),
    attributes: L::SessionAttributes,
) -> BoxedFuture<'a, Result<SignInOutcome<L>, lucia_oauth::Error>>
where
    L: LuciaType,
    L::Adapter: SecondFactorAdapter,
{
    Box::pin(async move { Ok(keys.sign_in_with_second_factor(lucia, account, new_user, attributes).await?.outcome) })
}

impl<L: LuciaType, P: Provider + 'static> OAuthRoutes<L, P> {
    /// How provider accounts become users ([`ProviderKeys`]), such as
    /// [`ProviderKeys::link_by_verified_email`].
    #[must_use]
    pub fn keys(mut self, keys: ProviderKeys<L::UserAttributes>) -> Self {
        self.keys = keys;
        self
    }

    /// The attributes of a session started by a sign-in, from the callback's request (its
    /// headers, its extensions such as the client's address).
    #[must_use]
    pub fn session_attributes(
        mut self,
        attributes: impl Fn(&Parts) -> L::SessionAttributes + Send + Sync + 'static,
    ) -> Self {
        self.session_attributes = Box::new(attributes);
        self
    }

    /// Where a sign-in ends (default `/`); also where a link ends unless
    /// [`link_redirect_to`](Self::link_redirect_to) says otherwise.
    #[must_use]
    pub fn redirect_to(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        if self.linked == self.signed_in {
            self.linked.clone_from(&path);
        }
        self.signed_in = path;
        self
    }

    /// Where a link ends (default: [`redirect_to`](Self::redirect_to)'s page).
    #[must_use]
    pub fn link_redirect_to(mut self, path: impl Into<String>) -> Self {
        self.linked = path.into();
        self
    }

    /// On failure, answer page requests (`Accept` lists `text/html`) with a `303` to `path`,
    /// with `?oauth_error=<code>` ([`OAuthError::code`]) for the page to explain, instead of the
    /// error's status and text.
    #[must_use]
    pub fn failure_redirect_to(mut self, path: impl Into<String>) -> Self {
        self.failed = Some(path.into());
        self
    }

    /// The provider.
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// The callback's path, `/login/<id>/callback`, when its provider sends it as a
    /// cross-site `POST` ([`Provider::uses_form_post`]): give it to
    /// [`LuciaLayer::csrf_exempt`](crate::LuciaLayer::csrf_exempt), or that `POST` is refused
    /// by the CSRF check. `None` for other providers: nothing to exempt.
    pub fn csrf_exempt_path(&self) -> Option<String> {
        self.provider.uses_form_post().then(|| self.callback_path())
    }

    fn callback_path(&self) -> String {
        format!("/login/{}/callback", self.provider.provider_id())
    }

    /// The routes, for a router whose state holds the `Lucia` (`L: FromRef<St>`), behind a
    /// [`LuciaLayer`](crate::LuciaLayer).
    pub fn router<St>(self) -> Router<St>
    where
        St: Clone + Send + Sync + 'static,
        L: FromRef<St>,
    {
        Arc::new(self).shared_router()
    }

    /// [`router`](Self::router), for routes the application keeps a handle to, such as to
    /// call [`finish_callback`](Self::finish_callback) from a callback route of its own.
    pub fn shared_router<St>(self: Arc<Self>) -> Router<St>
    where
        St: Clone + Send + Sync + 'static,
        L: FromRef<St>,
    {
        let routes = self;
        let id = routes.provider.provider_id();
        let (sign_in, link, callback) = (Arc::clone(&routes), Arc::clone(&routes), Arc::clone(&routes));
        let mut callback_route = get(move |auth: AuthRequest<L>, parts: Parts, RawQuery(query): RawQuery| async move {
            callback.finish_callback(&auth, &parts, query.as_deref().unwrap_or_default()).await
        });
        if routes.provider.uses_form_post() {
            let location = routes.callback_path();
            callback_route = callback_route
                .post(move |body: Bytes| async move { form_post_redirect(&location, &body) })
                .layer(DefaultBodyLimit::max(FORM_POST_LIMIT));
        }
        Router::new()
            .route(
                &format!("/login/{id}"),
                get(move |auth: AuthRequest<L>| async move { sign_in.start(&auth, false).await }),
            )
            .route(
                &format!("/login/{id}/link"),
                post(move |auth: AuthRequest<L>| async move { link.start(&auth, true).await }),
            )
            .route(&routes.callback_path(), callback_route)
    }

    /// Starts a flow: a sign-in, or with `link` a link to the signed-in user (without a
    /// session: the sign-in page or `401`, as [`AuthRequest::require`]).
    async fn start(&self, auth: &AuthRequest<L>, link: bool) -> Response {
        let result = async {
            let binding = if link { format!("{LINK}{}", auth.require().await?.user.user_id) } else { SIGN_IN.into() };
            let start = self.provider.start(&self.flows.bind(binding))?;
            let cookie = header_value(&start.cookie)?;
            let mut response = Redirect::to(start.authorization_url.as_str()).into_response();
            response.headers_mut().append(header::SET_COOKIE, cookie);
            Ok::<_, OAuthError>(response)
        };
        result.await.unwrap_or_else(|error| self.failure(error, auth))
    }

    /// Finishes a flow at the callback: `params` are the provider's parameters, URL-encoded
    /// (the query of a `GET` callback, or the body of a `form_post` one), `parts` the
    /// request's head (its `Cookie` header holds the flow). Signs in or links as the flow
    /// was started for, and answers with the redirect or the failure, removing the flow
    /// cookie in either case. The `GET` route of [`router`](Self::router) calls it.
    pub async fn finish_callback(&self, auth: &AuthRequest<L>, parts: &Parts, params: &str) -> Response {
        let cookies = cookie_header(parts);
        let result = match self.flow_intent(cookies.as_deref()) {
            Ok(intent) => self.complete(auth, parts, params, cookies.as_deref(), intent).await,
            Err(error) => Err(error),
        };
        let mut response = result.unwrap_or_else(|error| self.failure(error, auth));
        let removal = self.flows.removal(self.provider.provider_id());
        match header_value(&removal) {
            Ok(value) => {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            Err(error) => tracing::error!(%error, "the flow cookie's removal is not a header value"),
        }
        response
    }

    fn flow_intent(&self, cookies: Option<&str>) -> Result<Intent, OAuthError> {
        let binding = self.flows.binding(self.provider.provider_id(), cookies)?;
        match binding.as_deref() {
            Some(SIGN_IN) => Ok(Intent::SignIn),
            Some(bound) => match bound.strip_prefix(LINK) {
                Some(user_id) => Ok(Intent::Link(user_id.to_owned())),
                None => Err(lucia_oauth::Error::TamperedFlowCookie.into()),
            },
            None => Err(lucia_oauth::Error::TamperedFlowCookie.into()),
        }
    }

    async fn complete(
        &self,
        auth: &AuthRequest<L>,
        parts: &Parts,
        params: &str,
        cookies: Option<&str>,
        intent: Intent,
    ) -> Result<Response, OAuthError> {
        auth.check_rate_limit()?;
        // A link is refused before the code is redeemed unless its user is the one signed in.
        if let Intent::Link(user_id) = &intent
            && auth.session().await?.is_none_or(|session| &session.user.user_id != user_id)
        {
            return Err(OAuthError::WrongUser);
        }
        let account = self.provider.finish(&self.http, &self.flows, params, cookies).await?;
        let lucia = auth.lucia().as_lucia();
        match intent {
            Intent::Link(user_id) => {
                self.keys.link(lucia, &user_id, &account).await?;
                Ok(Redirect::to(&self.linked).into_response())
            }
            Intent::SignIn => {
                // Checked before signing in: a request that cannot set the cookie starts nothing.
                auth.check_cookie_writes()?;
                let attributes = (self.session_attributes)(parts);
                let mut attempt = 0;
                let outcome = loop {
                    let new_user = |account: &ProviderUser| (self.new_user)(account, attempt);
                    match self.sign_in(lucia, &account, &new_user, attributes.clone()).await {
                        Err(lucia_oauth::Error::Lucia(lucia::Error::DuplicateAttribute { .. }))
                            if attempt + 1 < NEW_USER_ATTEMPTS =>
                        {
                            attempt += 1;
                        }
                        other => break other?,
                    }
                };
                match (auth.sign_in_step(outcome).await?, &self.second_step) {
                    (SignInStep::SignedIn(_), _) => Ok(Redirect::to(&self.signed_in).into_response()),
                    (SignInStep::SecondFactorRequired(cookie), Some(step)) => {
                        Ok((cookie, Redirect::to(&step.page)).into_response())
                    }
                    // Only a two-step sign-in pends, and only with a second step to go to.
                    (SignInStep::SecondFactorRequired(_), None) => Err(lucia::Error::SecondFactorRequired.into()),
                }
            }
        }
    }

    /// One try at signing in with `account`: in two steps if opted in
    /// ([`second_step_page`](OAuthRoutes::second_step_page)), else in one, which refuses a
    /// user with a second factor.
    async fn sign_in(
        &self,
        lucia: &LuciaOf<L>,
        account: &ProviderUser,
        new_user: &(dyn Fn(&ProviderUser) -> L::UserAttributes + Send + Sync),
        attributes: L::SessionAttributes,
    ) -> Result<SignInOutcome<L>, lucia_oauth::Error> {
        match &self.second_step {
            Some(step) => (step.sign_in)(&self.keys, lucia, account, new_user, attributes).await,
            None => Ok(SignIn::SignedIn(self.keys.sign_in(lucia, account, new_user, attributes).await?.session)),
        }
    }

    /// The answer to a failure: logged (server-side failures only with their detail), then
    /// its status and text, or the failure page's redirect.
    fn failure(&self, error: OAuthError, auth: &AuthRequest<L>) -> Response {
        let provider = self.provider.provider_id();
        let status = error.status();
        if status.is_server_error() {
            tracing::error!(provider, %error, "OAuth sign-in failed");
        } else {
            tracing::info!(provider, code = error.code(), "OAuth sign-in refused");
        }
        if let OAuthError::Auth(error @ AuthError::SignInRequired { .. }) = error {
            return error.into_response();
        }
        match &self.failed {
            Some(page) if auth.is_page_request() => {
                let separator = if page.contains('?') { '&' } else { '?' };
                Redirect::to(&format!("{page}{separator}oauth_error={}", error.code())).into_response()
            }
            _ => error.into_response(),
        }
    }
}

/// The answer to a `form_post` callback: `303` to the `GET` callback at `location`, with only
/// the body's parameters the flow needs (in their order; anything else, such as Apple's
/// `id_token` and `user`, dropped).
fn form_post_redirect(location: &str, body: &[u8]) -> Response {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in url::form_urlencoded::parse(body) {
        if FORM_POST_PARAMS.contains(&name.as_ref()) {
            query.append_pair(&name, &value);
        }
    }
    Redirect::to(&format!("{location}?{}", query.finish())).into_response()
}

/// The request's cookies as one `Cookie` header value (HTTP/2 clients may send several).
fn cookie_header(parts: &Parts) -> Option<String> {
    let values: Vec<&str> =
        parts.headers.get_all(header::COOKIE).iter().filter_map(|value| value.to_str().ok()).collect();
    (!values.is_empty()).then(|| values.join("; "))
}

fn header_value(cookie: &lucia_oauth::cookie::Cookie<'_>) -> Result<HeaderValue, OAuthError> {
    HeaderValue::try_from(cookie.to_string())
        .map_err(|_| lucia_oauth::Error::Configuration("the flow cookie is not a header value".into()).into())
}

/// Why an OAuth route failed. Each variant answers with a fixed text and a fitting status
/// ([`IntoResponse`]); the typed error (in logs for server-side failures, or for the
/// application) has the detail, never a secret or a provider's response body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// The flow or the provider failed ([`lucia_oauth::Error`]; its `Lucia` variant becomes
    /// [`OAuthError::Auth`]).
    #[error(transparent)]
    Flow(lucia_oauth::Error),
    /// Sessions, the CSRF check or the rate limit refused ([`AuthError`]).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A link flow's callback without the user who started it signed in: `403`.
    #[error("the link was started by another user, or its user is not signed in")]
    WrongUser,
}

impl From<lucia::Error> for OAuthError {
    fn from(error: lucia::Error) -> Self {
        Self::Auth(AuthError::Lucia(error))
    }
}

/// Lucia's errors inside the flow's become [`OAuthError::Auth`], answered as lucia-axum answers
/// them.
impl From<lucia_oauth::Error> for OAuthError {
    fn from(error: lucia_oauth::Error) -> Self {
        match error {
            lucia_oauth::Error::Lucia(error) => error.into(),
            other => Self::Flow(other),
        }
    }
}

impl OAuthError {
    /// The HTTP status: `400` for a flow that is missing, expired, forged or replayed
    /// (including a code the provider refuses as `invalid_grant`), `403` when the provider
    /// refused (such as the user declining) or for [`OAuthError::WrongUser`], `409` for a
    /// provider account linked to another user, `502` when the provider failed (discovery,
    /// the token exchange, the ID token, user info), `500` for configuration; [`AuthError`]'s
    /// own otherwise (`429` for the rate limit).
    pub fn status(&self) -> StatusCode {
        use lucia_oauth::Error as E;
        match self {
            Self::Flow(
                E::MissingFlowCookie
                | E::TamperedFlowCookie
                | E::ExpiredFlow
                | E::StateMismatch
                | E::IssuerMismatch
                | E::MissingCode,
            ) => StatusCode::BAD_REQUEST,
            Self::Flow(E::TokenExchange { error: Some(code), .. }) if code == "invalid_grant" => {
                StatusCode::BAD_REQUEST
            }
            Self::Flow(E::Provider { .. }) | Self::WrongUser => StatusCode::FORBIDDEN,
            Self::Flow(E::AccountTaken) => StatusCode::CONFLICT,
            Self::Flow(E::Discovery(_) | E::TokenExchange { .. } | E::IdToken(_) | E::UserInfo(_)) => {
                StatusCode::BAD_GATEWAY
            }
            Self::Flow(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Auth(error) => error.status(),
        }
    }

    /// A short code for the failure, for a page to explain it (the
    /// [`failure_redirect_to`](OAuthRoutes::failure_redirect_to) page's `oauth_error`):
    /// `flow` (start again), `denied` (the provider refused), `wrong-user`, `taken` (the
    /// provider account belongs to another user), `provider` (the provider failed),
    /// `too-many` (rate limit), `unavailable` (the store), `error` (anything else).
    pub fn code(&self) -> &'static str {
        use lucia_oauth::Error as E;
        match (self, self.status()) {
            (Self::Flow(E::Provider { .. }), _) => "denied",
            (Self::WrongUser, _) => "wrong-user",
            (Self::Flow(E::AccountTaken), _) => "taken",
            (_, StatusCode::BAD_REQUEST) => "flow",
            (_, StatusCode::BAD_GATEWAY) => "provider",
            (_, StatusCode::TOO_MANY_REQUESTS) => "too-many",
            (_, StatusCode::SERVICE_UNAVAILABLE) => "unavailable",
            _ => "error",
        }
    }

    /// The response body: one fixed text per kind.
    pub fn public_message(&self) -> &'static str {
        match self.code() {
            "flow" => "sign-in flow invalid or expired, start again",
            "denied" => "the provider refused the sign-in",
            "wrong-user" => "the link was started by another user",
            "taken" => "this provider account is linked to another user",
            "provider" => "the provider failed",
            _ => "",
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        match self {
            Self::Auth(error) => error.into_response(),
            other => {
                let text = match other.public_message() {
                    "" => "internal server error",
                    text => text,
                };
                (other.status(), text).into_response()
            }
        }
    }
}
