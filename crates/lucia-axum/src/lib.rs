//! axum integration for [lucia]: Lucia v2's `AuthRequest`, as a tower layer and an extractor.
//!
//! [`LuciaLayer`] runs on every request. It checks the `Origin` of state-changing requests
//! (CSRF), reads the session cookie and the `Authorization: Bearer` token, hands the handler an
//! [`AuthRequest`], and afterwards adds `Set-Cookie` whenever the session was created, renewed
//! or ended. [`AuthRequest`] validates the session at most once per request.
//!
//! ```
//! use axum::{Router, routing::{get, post}};
//! use lucia::{Adapter, CreateSession, Lucia};
//! use lucia_axum::{AuthError, AuthRequest, LuciaLayer};
//!
//! async fn me<A: Adapter + 'static>(auth: AuthRequest<A>) -> Result<String, AuthError> {
//!     let session = auth.require().await?; // 401 without a valid session
//!     Ok(format!("signed in as {}", session.user.user_id))
//! }
//!
//! async fn sign_out<A: Adapter + 'static>(auth: AuthRequest<A>) -> Result<&'static str, AuthError> {
//!     auth.sign_out().await?; // deletes the session and sends the deletion cookie
//!     Ok("bye")
//! }
//!
//! fn app<A: Adapter + 'static>(lucia: Lucia<A>) -> Router {
//!     Router::new()
//!         .route("/me", get(me::<A>))
//!         .route("/logout", post(sign_out::<A>))
//!         .layer(LuciaLayer::new(lucia))
//! }
//! ```
//!
//! ## CSRF
//!
//! For methods other than `GET`, `HEAD`, `OPTIONS` and `TRACE`:
//!
//! - a request with an `Origin` header that is not the server's own origin (or an allowed
//!   subdomain, [`lucia::CsrfConfig`]) is answered `403 Forbidden` before the handler runs,
//!   whether or not it carries a session cookie, so cross-site sign-in forms are refused too;
//!   a malformed or `null` `Origin` is refused the same way (Lucia v2 threw an exception);
//! - a request *without* `Origin` reaches the handler, but its session cookie is not trusted:
//!   [`AuthRequest::validate`] answers [`AuthError::Csrf`] (403). Browsers send `Origin` on
//!   every `POST`, so this only affects non-browser clients, which should use bearer tokens;
//! - bearer tokens are never subject to the check: browsers do not attach them by themselves.
//!
//! The server's own origin is the scheme and `Host` header of the request (`http` in
//! [`Env::Dev`](lucia::Env::Dev), `https` in [`Env::Prod`](lucia::Env::Prod)). **Behind a
//! reverse proxy**, which may rewrite `Host` or terminate TLS, give the public origin
//! explicitly with [`LuciaLayer::public_origin`]: `https://example.com`.

#![deny(missing_docs)]

mod error;
mod layer;
mod request;

pub use error::AuthError;
pub use layer::{LuciaLayer, LuciaService};
pub use request::AuthRequest;
