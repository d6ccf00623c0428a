//! axum integration for [lucia]: session cookies, bearer tokens, the CSRF origin check, a
//! sign-in guard, and one-call sign-in and sign-out.
//!
//! - The application names **one type**, its `Lucia` alias (`type Auth = Lucia<MyAdapter,
//!   UserAttributes, SessionAttributes>;`), and puts that `Lucia` in the router state.
//! - [`LuciaLayer`] runs around every request: the [CSRF check](#csrf), reading the session
//!   cookie and the bearer token, and the `Set-Cookie` of the response.
//! - Handlers extract [`AuthRequest<Auth>`](AuthRequest) (validate, sign up, sign in, start a
//!   session, sign out) or the guard [`SignedIn<Auth>`](SignedIn) (the session, or 401 / a
//!   redirect to the sign-in page). Each credential is validated at most once per request.
//! - With the `oauth` feature, `oauth::OAuthRoutes` adds "Sign in with …" and
//!   "link a provider" routes for any [`lucia_oauth`](https://docs.rs/lucia-oauth) provider.
//! - With the `passkey` feature, `passkey::PasskeyRoutes` adds JSON routes to register
//!   passkeys, sign in with one, and list, rename and remove them
//!   ([`lucia_passkey`](https://docs.rs/lucia-passkey)).
//! - [`RecentSignIn`] says whether a session signed in within the last minutes (10 by
//!   default), for what a stolen session cookie must not do: the passkey routes' registration
//!   and removal use it, and an application's own routes can (deleting an account).
//! - Sign-ins and sign-ups are [limited](#brute-force) per client IP address here and per
//!   account by lucia, both on by default; serve the app with connect info
//!   (`into_make_service_with_connect_info::<SocketAddr>()`).
//!
//! # Example: sign-up, sign-in, a protected route, sign-out
//!
//! ```
//! use axum::{Form, Router, response::Redirect, routing::{get, post}};
//! use lucia::{CreateUser, Lucia, NewKey, memory::MemoryAdapter};
//! use lucia_axum::{AuthError, AuthRequest, LuciaLayer, SignedIn};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Clone, Serialize, Deserialize)]
//! struct UserAttributes {
//!     username: String,
//! }
//!
//! /// The one type the application names.
//! type Auth = Lucia<MemoryAdapter, UserAttributes>;
//!
//! #[derive(Deserialize)]
//! struct Credentials {
//!     username: String,
//!     password: String,
//! }
//!
//! async fn sign_up(auth: AuthRequest<Auth>, Form(form): Form<Credentials>) -> Result<Redirect, AuthError> {
//!     let key = NewKey::password("username", &form.username, &form.password);
//!     let user = CreateUser::new(UserAttributes { username: form.username }).with_key(key);
//!     // Creates the user and its session, sets the cookie; 409 if taken, 429 if this address
//!     // signed up or in too often.
//!     auth.sign_up(user, Default::default()).await?;
//!     Ok(Redirect::to("/me"))
//! }
//!
//! async fn sign_in(auth: AuthRequest<Auth>, Form(form): Form<Credentials>) -> Result<Redirect, AuthError> {
//!     // Checks the password, starts the session, ends the one the browser had, sets the cookie.
//!     // 401 if wrong; 429 after too many attempts on this account or from this address.
//!     auth.sign_in("username", &form.username, Some(&form.password), Default::default()).await?;
//!     Ok(Redirect::to("/me"))
//! }
//!
//! async fn me(SignedIn { session, .. }: SignedIn<Auth>) -> String {
//!     format!("signed in as {}", session.user.attributes.username)
//! }
//!
//! async fn sign_out(auth: AuthRequest<Auth>) -> Result<Redirect, AuthError> {
//!     auth.sign_out().await?; // ends the session and deletes the cookie
//!     Ok(Redirect::to("/sign-in"))
//! }
//!
//! fn app(auth: Auth) -> Router {
//!     Router::new()
//!         .route("/sign-up", post(sign_up))
//!         .route("/sign-in", post(sign_in))
//!         .route("/me", get(me))
//!         .route("/sign-out", post(sign_out))
//!         .layer(LuciaLayer::new(&auth).sign_in_url("/sign-in"))
//!         .with_state(auth)
//! }
//!
//! /// Served with the client's address, which the per-IP limit needs.
//! async fn serve(auth: Auth) -> std::io::Result<()> {
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     let service = app(auth).into_make_service_with_connect_info::<std::net::SocketAddr>();
//!     axum::serve(listener, service).await
//! }
//! # use axum::body::Body;
//! # use axum::http::{Request, StatusCode, header};
//! # use tower::ServiceExt as _;
//! # /// Sends a request as a browser on http://localhost would.
//! # async fn send(app: &Router, method: &str, path: &str, cookie: &str, form: &str) -> axum::response::Response {
//! #     let request = Request::builder().method(method).uri(path)
//! #         .header(header::HOST, "localhost").header(header::ORIGIN, "http://localhost")
//! #         .header(header::ACCEPT, "text/html").header(header::COOKIE, cookie)
//! #         .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
//! #         .body(Body::from(form.to_owned())).unwrap();
//! #     app.clone().oneshot(request).await.unwrap()
//! # }
//! # async fn text(response: axum::response::Response) -> String {
//! #     String::from_utf8(axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap().to_vec()).unwrap()
//! # }
//! # fn cookie(response: &axum::response::Response) -> String {
//! #     response.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned()
//! # }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let auth = Lucia::builder(MemoryAdapter::new()).user_attributes::<UserAttributes>().build();
//! # let _ = serve;
//! // Tests that call the router directly give it a client address this way.
//! let app = app(auth).layer(axum::extract::connect_info::MockConnectInfo(std::net::SocketAddr::from(([192, 0, 2, 1], 4321))));
//! # let form = "username=ada&password=correct+horse+battery";
//! # let signed_up = send(&app, "POST", "/sign-up", "", form).await;
//! # assert_eq!(signed_up.status(), StatusCode::SEE_OTHER);
//! # let first = cookie(&signed_up);
//! # assert_eq!(send(&app, "POST", "/sign-up", "", form).await.status(), StatusCode::CONFLICT);
//! # let page = send(&app, "GET", "/me", &first, "").await;
//! # assert_eq!(text(page).await, "signed in as ada");
//! # let signed_in = send(&app, "POST", "/sign-in", &first, form).await;
//! # assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
//! # let second = cookie(&signed_in);
//! # assert_ne!(first, second, "a new session, and the old one ended");
//! # assert_eq!(send(&app, "GET", "/me", &first, "").await.headers()[header::LOCATION], "/sign-in");
//! # let wrong = send(&app, "POST", "/sign-in", "", "username=ada&password=nope").await;
//! # assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
//! # for _ in 0..4 { send(&app, "POST", "/sign-in", "", "username=ada&password=nope").await; }
//! # let throttled = send(&app, "POST", "/sign-in", "", form).await;
//! # assert_eq!((throttled.status(), &throttled.headers()[header::RETRY_AFTER]), (StatusCode::TOO_MANY_REQUESTS, &"1".parse::<axum::http::HeaderValue>().unwrap()));
//! # tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
//! # assert_eq!(send(&app, "POST", "/sign-in", "", form).await.status(), StatusCode::SEE_OTHER);
//! # let signed_out = send(&app, "POST", "/sign-out", &second, "").await;
//! # assert!(signed_out.headers()[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
//! # let page = send(&app, "GET", "/me", &second, "").await;
//! # assert_eq!((page.status(), page.headers()[header::LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/sign-in"));
//! # }
//! ```
//!
//! With more in the state than the `Lucia`, implement [`FromRef`](axum::extract::FromRef)
//! for it: `impl FromRef<AppState> for Auth { fn from_ref(state: &AppState) -> Auth {
//! state.auth.clone() } }`.
//!
//! # Naming the wrong type does not compile
//!
//! The extractors take the `Lucia` from the router state, so a handler must name the `Lucia`
//! type the state holds. This compiles:
//!
//! ```
//! use axum::{Router, routing::get};
//! use lucia::{Lucia, memory::MemoryAdapter};
//! use lucia_axum::{AuthRequest, LuciaLayer};
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct UserAttributes { username: String }
//! type Auth = Lucia<MemoryAdapter, UserAttributes>;
//!
//! async fn handler(auth: AuthRequest<Auth>) {}
//!
//! fn app(auth: Auth) -> Router {
//!     Router::new().route("/", get(handler)).layer(LuciaLayer::new(&auth)).with_state(auth)
//! }
//! ```
//!
//! and this, whose handler forgot the attribute types, does not:
//!
//! ```compile_fail,E0308
//! use axum::{Router, routing::get};
//! use lucia::{Lucia, memory::MemoryAdapter};
//! use lucia_axum::{AuthRequest, LuciaLayer};
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct UserAttributes { username: String }
//! type Auth = Lucia<MemoryAdapter, UserAttributes>;
//!
//! async fn handler(auth: AuthRequest<Lucia<MemoryAdapter>>) {}
//!
//! fn app(auth: Auth) -> Router {
//!     Router::new().route("/", get(handler)).layer(LuciaLayer::new(&auth)).with_state(auth)
//! }
//! ```
//!
//! A handler behind no [`LuciaLayer`] answers `500 internal server error` and logs an error
//! naming the missing layer.
//!
//! # CSRF
//!
//! The rule, for state-changing methods (all but `GET`, `HEAD`, `OPTIONS`, `TRACE`), with
//! [`CsrfConfig::enabled`](lucia::CsrfConfig::enabled) (the default). "Same-origin" means an
//! `Origin` header equal to the server's own origin or an allowed subdomain of it
//! ([`CsrfConfig::allowed_subdomains`](lucia::CsrfConfig::allowed_subdomains)); a malformed
//! or `null` `Origin` counts as cross-origin.
//!
//! | the request carries | same-origin | cross-origin | no `Origin` header |
//! |---|---|---|---|
//! | a bearer token only | allowed | allowed (CORS APIs work) | allowed |
//! | nothing | allowed | **403** (login CSRF) | allowed |
//! | the session cookie | allowed | **403** | allowed, but the cookie is not used ([`AuthError::Csrf`] if asked for) |
//! | the cookie and a bearer token | allowed | allowed; the cookie is not used, the bearer token works | allowed; the cookie is not used |
//!
//! Browsers attach cookies to cross-site requests by themselves, never a bearer token, so a
//! bearer token is proof the request did not come from another site's form. Browsers send
//! `Origin` on every state-changing request, so a request without it is not from a browser;
//! its cookie is not trusted and such clients should use bearer tokens. A request let through
//! cross-origin for its bearer token cannot set the session cookie ([`AuthRequest::sign_in`]
//! and [`AuthRequest::start_session`] answer [`AuthError::Csrf`]). A refused request is
//! answered `403 cross-site request refused` before the handler runs.
//!
//! **Exempt paths.** [`LuciaLayer::csrf_exempt`] names exact paths whose state-changing
//! requests are let through where the table says `403` or "not used", for a cross-site `POST`
//! the application cannot avoid: a provider's `form_post` callback (Sign in with Apple; with
//! the `oauth` feature, `OAuthRoutes::csrf_exempt_path` gives its path). The rule on them:
//! **such a request has no session cookie**. Its cookie is not used ([`AuthError::Csrf`] if
//! asked for) and it cannot set, renew or remove one ([`AuthRequest::sign_in`],
//! [`AuthRequest::sign_up`], [`AuthRequest::start_session`] answer [`AuthError::Csrf`];
//! nothing is sent), as on a cross-origin request let through for its bearer token. So an
//! exempt route gives a forged request nothing to act with: not the user's session, not a
//! sign-in (login CSRF). A same-origin request to an exempt path is treated as any other.
//!
//! The server's own origin is the scheme and `Host` header of the request (`http` in
//! [`Env::Dev`](lucia::Env::Dev), `https` in [`Env::Prod`](lucia::Env::Prod)). **Behind a
//! reverse proxy**, which may rewrite `Host` or terminate TLS, give the public origin
//! explicitly with [`LuciaLayer::public_origin`]: `https://example.com`.
//!
//! # Hosts and duplicate cookies
//!
//! [`LuciaLayer::allowed_hosts`] refuses every request for a host not on its list (`400
//! unknown host`, before the CSRF check and the handler): a DNS-rebinding page, served from
//! the attacker's name but resolving to this server, gets nothing. It is off by default,
//! because a reverse proxy may rewrite `Host`.
//!
//! A browser sends several session cookies when one was set for a parent domain or a longer
//! path, such as a cookie planted from a sibling subdomain (`Domain=example.com` set by
//! `evil.example.com`); the planted one usually comes first. The rule: the first three
//! session cookies are validated in order and the first valid one is the request's session;
//! when none is valid, **none is deleted** (a deletion could hit the real cookie and leave the
//! planted one: signing the user out), and the request is simply not signed in. With one
//! cookie, a dead session's cookie is deleted as usual. A planted cookie can still carry the
//! attacker's own valid session ("cookie tossing"); name the cookie with the `__Host-` prefix
//! in production ([`SessionCookieConfig::name`](lucia::SessionCookieConfig)), which browsers
//! refuse to set from another subdomain or with a `Domain`.
//!
//! # Signed in or not
//!
//! [`SignedIn`] (and [`AuthRequest::require`]) use the bearer token when the request has one,
//! otherwise the cookie. Without a valid session, page requests (`Accept` lists `text/html`)
//! are redirected (`303`) to the layer's [`sign_in_url`](LuciaLayer::sign_in_url), and
//! everything else gets `401` with `WWW-Authenticate: Bearer`.
//!
//! # Brute force
//!
//! Two limits, both on by default, answer `429 too many attempts` with `Retry-After` (in
//! whole seconds, rounded up):
//!
//! - **per account**, in lucia ([`lucia::Backoff`]): after 5 attempts on one key, each further
//!   attempt waits twice as long as the one before, from 1 s up to 15 minutes, until the right
//!   password ([`lucia::Error::Throttled`]); nothing is hashed while an account waits;
//! - **per client address**, here ([`LuciaLayer::sign_in_rate_limit`]): a token bucket on
//!   [`AuthRequest::sign_in`], [`AuthRequest::sign_up`] and
//!   [`AuthRequest::check_rate_limit`], a burst of 20 then one every 3 seconds per IPv4
//!   address or IPv6 /64 ([`AuthError::RateLimited`]).
//!
//! The address is the connection's, so the app must be served with
//! `into_make_service_with_connect_info::<SocketAddr>()` (a sign-in without it is a `500`
//! that names the fix, [`AuthError::NoClientAddress`]); behind a reverse proxy, name the
//! header it sets with [`LuciaLayer::trusted_proxy_header`].
//!
//! The per-account limit lets anyone slow down one account's sign-ins by guessing its
//! password: at most 15 minutes between two attempts, and each address can keep that up
//! only within its own budget. That is the price of stopping password guessing from many
//! addresses at once.
//!
//! # Errors
//!
//! [`AuthError`] answers with a fixed text per kind: never a database message, a table or a
//! column name. Match the typed error for details, such as which unique column was taken.
//! See [`AuthError::public_message`] for the status and text of each kind.
//!
//! A session store that cannot be reached (connection refused or lost, a timeout:
//! [`lucia::Error::Unavailable`]) is answered `503 service unavailable` with `Retry-After`,
//! to pages and APIs alike. It is not a sign-out: the session cookie is deleted only when the
//! store says the session is unknown or dead, so once the store is back the same cookie works.
//!
//! A sign-in or sign-up refused because too many passwords are being hashed
//! ([`lucia::Error::Busy`]) is answered `503` with `Retry-After: 1`; a new password the
//! [`PasswordPolicy`](lucia::PasswordPolicy) refuses ([`lucia::Error::PasswordRejected`]) is
//! `422 password rejected`, and the application shows the rejection's sentence next to the
//! password field.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod guard;
mod layer;
mod lucia_type;
#[cfg(feature = "oauth")]
pub mod oauth;
#[cfg(feature = "passkey")]
pub mod passkey;
mod rate_limit;
mod recent_sign_in;
mod request;
pub mod second_factor;

pub use error::AuthError;
/// The quota of [`LuciaLayer::sign_in_rate_limit`] (from the `governor` crate).
pub use governor::Quota;
pub use guard::SignedIn;
pub use layer::{AllowedHost, InvalidHost, LuciaLayer, LuciaService};
pub use lucia_type::LuciaType;
pub use recent_sign_in::{DEFAULT_REAUTHENTICATION_MAX_AGE, RecentSignIn};
pub use request::AuthRequest;
pub use second_factor::{PendingCookie, PendingSecondFactor, SignInStep};

/// The README's Rust examples, compiled (and run) as doctests so the quick start cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
