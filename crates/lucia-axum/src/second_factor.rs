//! Two-step sign-in over HTTP: [`AuthRequest::sign_in_with_second_factor`] and the
//! [`PendingSecondFactor`] extractor of the second step's routes.
//!
//! The pending sign-in travels in a cookie of its own
//! ([`Lucia::create_pending_sign_in_cookie`](lucia::Lucia::create_pending_sign_in_cookie),
//! `auth_session_pending`), never in the session cookie or a bearer header, and it is no
//! session: [`SignedIn`](crate::SignedIn) and [`AuthRequest::validate`] treat a request that
//! carries only it as signed out, everywhere. Only the routes whose handlers extract
//! [`PendingSecondFactor`] (the ones the application marks for the second step) read it.
//!
//! ```
//! use axum::{Form, Router, response::{IntoResponse, Redirect, Response}, routing::{get, post}};
//! use lucia::{Lucia, SecondFactorCode, memory::MemoryAdapter};
//! use lucia_axum::{AuthError, AuthRequest, LuciaLayer, PendingSecondFactor, SignInStep, SignedIn};
//!
//! type Auth = Lucia<MemoryAdapter>;
//!
//! #[derive(serde::Deserialize)]
//! struct Credentials { email: String, password: String }
//!
//! async fn sign_in(auth: AuthRequest<Auth>, Form(form): Form<Credentials>) -> Result<Response, AuthError> {
//!     match auth.sign_in_with_second_factor("email", &form.email, Some(&form.password), Default::default()).await? {
//!         SignInStep::SignedIn(_) => Ok(Redirect::to("/me").into_response()),
//!         // Sets the pending cookie; the code form is the next page.
//!         SignInStep::SecondFactorRequired(cookie) => Ok((cookie, Redirect::to("/second-factor")).into_response()),
//!     }
//! }
//!
//! #[derive(serde::Deserialize)]
//! struct Code { code: String }
//!
//! /// The one route marked for the step: it extracts the pending sign-in.
//! async fn second_factor(pending: PendingSecondFactor<Auth>, Form(form): Form<Code>) -> Result<Response, AuthError> {
//!     let (_session, cleared) = pending.complete(&SecondFactorCode::from_input(&form.code), Default::default()).await?;
//!     Ok((cleared, Redirect::to("/me")).into_response())
//! }
//!
//! async fn me(SignedIn { session, .. }: SignedIn<Auth>) -> String {
//!     session.user.user_id
//! }
//!
//! fn app(auth: Auth) -> Router {
//!     Router::new()
//!         .route("/sign-in", post(sign_in))
//!         .route("/second-factor", post(second_factor))
//!         .route("/me", get(me))
//!         .layer(LuciaLayer::new(&auth).sign_in_url("/sign-in"))
//!         .with_state(auth)
//! }
//! # let _ = app;
//! ```

use axum::extract::{FromRef, FromRequestParts};
use axum::response::{IntoResponseParts, ResponseParts};
use http::request::Parts;
use http::{HeaderValue, header};
use lucia::{SecondFactorAdapter, SecondFactorCode, SessionCookie, SignIn};

use crate::lucia_type::{LuciaType, SessionOf};
use crate::{AuthError, AuthRequest};

/// A `Set-Cookie` of the pending sign-in cookie (set, or deleted), to return with the
/// response: `(cookie, Redirect::to(...))`. `Debug` does not show the token.
#[derive(Debug, Clone)]
#[must_use = "the pending sign-in cookie must go out with the response"]
pub struct PendingCookie(SessionCookie);

impl IntoResponseParts for PendingCookie {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut parts: ResponseParts) -> Result<ResponseParts, Self::Error> {
        match HeaderValue::try_from(self.0.to_string()) {
            Ok(value) => {
                parts.headers_mut().append(header::SET_COOKIE, value);
            }
            Err(error) => tracing::error!(%error, "the pending sign-in cookie is not a valid header value"),
        }
        Ok(parts)
    }
}

/// What [`AuthRequest::sign_in_with_second_factor`] led to.
pub enum SignInStep<L: LuciaType> {
    /// Signed in: the session cookie is set.
    SignedIn(SessionOf<L>),
    /// The password was right and the user has a second factor: return this cookie with a
    /// redirect to the code form. No session exists yet.
    SecondFactorRequired(PendingCookie),
}

impl<L: LuciaType> std::fmt::Debug for SignInStep<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SignedIn(session) => f.debug_tuple("SignedIn").field(&session.handle).finish(),
            Self::SecondFactorRequired(cookie) => f.debug_tuple("SecondFactorRequired").field(cookie).finish(),
        }
    }
}

impl<L> AuthRequest<L>
where
    L: LuciaType,
    L::Adapter: SecondFactorAdapter,
{
    /// Signs in as [`sign_in`](Self::sign_in) does (same limits and errors), for applications
    /// whose users may have a second factor: such a user gets no session but
    /// [`SignInStep::SecondFactorRequired`] with the pending sign-in cookie; the second step's
    /// route completes it with [`PendingSecondFactor::complete`].
    ///
    /// ([`sign_in`](Self::sign_in) refuses those users with
    /// `AuthError::Lucia(lucia::Error::SecondFactorRequired)`, `401`.)
    pub async fn sign_in_with_second_factor(
        &self,
        provider_id: &str,
        provider_user_id: &str,
        password: Option<&str>,
        attributes: L::SessionAttributes,
    ) -> Result<SignInStep<L>, AuthError> {
        self.check_cookie_writes()?;
        self.check_rate_limit()?;
        let lucia = self.lucia().as_lucia();
        let outcome = lucia.sign_in_with_second_factor(provider_id, provider_user_id, password, attributes).await?;
        self.sign_in_step(outcome).await
    }
}

impl<L: LuciaType> AuthRequest<L> {
    /// Hands out what a two-step sign-in led to: the session as this request's cookie
    /// session, or the pending sign-in's cookie. The caller has checked
    /// [`check_cookie_writes`](Self::check_cookie_writes).
    pub(crate) async fn sign_in_step(
        &self,
        outcome: SignIn<L::UserAttributes, L::SessionAttributes>,
    ) -> Result<SignInStep<L>, AuthError> {
        match outcome {
            SignIn::SignedIn(new) => Ok(SignInStep::SignedIn(self.replace_cookie_session(new).await?)),
            SignIn::SecondFactorRequired(pending) => Ok(SignInStep::SecondFactorRequired(PendingCookie(
                self.lucia().as_lucia().create_pending_sign_in_cookie(&pending),
            ))),
        }
    }
}

/// The extractor of the second step's routes: the request's pending sign-in cookie. Without
/// one, the request is rejected as [`SignedIn`](crate::SignedIn) rejects a signed-out one
/// (`303` to the sign-in page for page requests, `401` otherwise). It authenticates nothing
/// but [`complete`](Self::complete). `Debug` does not show the token.
pub struct PendingSecondFactor<L: LuciaType> {
    token: String,
    /// The request.
    pub auth: AuthRequest<L>,
}

impl<L: LuciaType> std::fmt::Debug for PendingSecondFactor<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSecondFactor").finish_non_exhaustive()
    }
}

impl<L> PendingSecondFactor<L>
where
    L: LuciaType,
    L::Adapter: SecondFactorAdapter,
{
    /// Completes the sign-in with a TOTP or recovery code
    /// ([`Lucia::complete_sign_in`](lucia::Lucia::complete_sign_in)): a new session, whose
    /// cookie is set (ending any session the request came with), and the `Set-Cookie` that
    /// deletes the pending cookie, to return with the response.
    ///
    /// A wrong or replayed code is `AuthError::Lucia(InvalidSecondFactor)`, `401`, and the
    /// pending sign-in may be tried again (5 times in all); a used, expired or exhausted one
    /// is `400` (sign in again); too many codes for the user are `429`.
    pub async fn complete(
        self,
        code: &SecondFactorCode,
        attributes: L::SessionAttributes,
    ) -> Result<(SessionOf<L>, PendingCookie), AuthError> {
        self.auth.check_cookie_writes()?;
        let lucia = self.auth.lucia().as_lucia();
        let new = lucia.complete_sign_in(&self.token, code, attributes).await?;
        let session = self.auth.replace_cookie_session(new).await?;
        Ok((session, PendingCookie(lucia.create_blank_pending_sign_in_cookie())))
    }

    /// The `Set-Cookie` that deletes the pending cookie (to abandon the sign-in).
    pub fn clear_cookie(&self) -> PendingCookie {
        PendingCookie(self.auth.lucia().as_lucia().create_blank_pending_sign_in_cookie())
    }
}

impl<St, L> FromRequestParts<St> for PendingSecondFactor<L>
where
    St: Send + Sync,
    L: LuciaType + FromRef<St>,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, AuthError> {
        let auth = AuthRequest::<L>::from_request_parts(parts, state).await?;
        let name = auth.lucia().as_lucia().pending_sign_in_cookie_name();
        let token = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(|cookies| lucia::read_cookie(cookies, &name));
        match token {
            Some(token) => Ok(Self { token, auth }),
            None => Err(auth.sign_in_required()),
        }
    }
}
