//! Passkeys (feature `passkey`): JSON routes over [`lucia_passkey::Passkeys`], on the session
//! API of [`AuthRequest`].
//!
//! [`PasskeyRoutes`] gives a [`Router`] with these routes:
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /passkeys/register/start` | none | signed in recently: `{ "ceremony": id, "options": { "publicKey": … } }` for `navigator.credentials.create()`; `403 {"error":"reauthentication_required"}` otherwise |
//! | `POST /passkeys/register/finish` | `{ "ceremony", "credential", "name" }` | signed in recently: the new passkey ([`PasskeyInfo`]); `403 {"error":"reauthentication_required"}` otherwise |
//! | `POST /passkeys/sign-in/start` | none | `{ "ceremony", "options" }` for `navigator.credentials.get()` (discoverable: no user name) |
//! | `POST /passkeys/sign-in/finish` | `{ "ceremony", "credential" }` | `204`: signed in, the session cookie set (the browser's previous session ended) |
//! | `GET /passkeys` | | signed in: the user's passkeys, oldest first |
//! | `PATCH /passkeys/{id}` | `{ "name" }` | signed in: `204` |
//! | `DELETE /passkeys/{id}` | | signed in recently: `204`; `409` if it is the user's last way to sign in; `403 {"error":"reauthentication_required"}` if not signed in recently |
//!
//! Ids and binary fields are base64url, as `PublicKeyCredential.toJSON()` and
//! `PublicKeyCredential.parseCreationOptionsFromJSON()` use. The routes are behind
//! [`LuciaLayer`](crate::LuciaLayer), so its CSRF check applies to every `POST`, `PATCH` and
//! `DELETE`; starting a passkey sign-in counts against the client address's sign-in budget
//! ([`AuthRequest::check_rate_limit`]), as a password sign-in does (each finish needs a
//! ceremony of its own, so finishing is bounded by starting).
//!
//! **Registering and removing need a recent sign-in.** A passkey is a way in that outlives a
//! password reset: registered with a stolen session cookie, it would keep the thief signed in;
//! and a stolen cookie must not take the owner's passkeys away. So the registration and
//! removal routes ask the application when the request's session signed in
//! ([`PasskeyRoutes::new`]'s `signed_in_at`, such as a session attribute set at sign-in) and
//! refuse a session that did not within
//! [`reauthentication_max_age`](PasskeyRoutes::reauthentication_max_age) (default
//! [`DEFAULT_REAUTHENTICATION_MAX_AGE`], 10 minutes), or whose sign-in time is unknown, with
//! `403` and the JSON body `{"error":"reauthentication_required"}`: the page sends the user to
//! sign in again, then starts over. `finish` checks again. Listing and renaming need only a
//! session. The application's own routes that need the same check (deleting an account
//! without a password) use the routes' [`RecentSignIn`]
//! ([`PasskeyRoutes::recent_sign_in`]).
//!
//! Other failures answer with a fixed text that never carries stored data: `400` for a
//! response that did not verify, a ceremony that is unknown, used or expired (start again), or
//! a credential id longer than [`lucia_passkey::MAX_CREDENTIAL_ID_CHARS`] (`passkey credential
//! id too long`: register another authenticator), `401` for a sign-in refused (an unknown
//! passkey, or a counter that went backwards: [`lucia_passkey::PasskeyError::PossibleClone`],
//! also logged). A finished ceremony is used up whether its response verified or not; a
//! sign-in refused before that (a request that may not set the session cookie: cross-site,
//! let through for a bearer token) leaves the ceremony for a retry.
//!
//! ```
//! use std::time::{Duration, SystemTime, UNIX_EPOCH};
//!
//! use axum::Router;
//! use lucia::{Lucia, NoAttributes, memory::MemoryAdapter};
//! use lucia_axum::LuciaLayer;
//! use lucia_axum::passkey::PasskeyRoutes;
//! use lucia_axum::passkey::lucia_passkey::{Passkeys, RelyingParty, url::Url};
//!
//! /// Every sign-in (password, passkey, ...) records when it happened.
//! #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
//! struct SessionAttributes {
//!     signed_in_at: Option<i64>, // milliseconds since the Unix epoch
//! }
//!
//! impl SessionAttributes {
//!     fn now() -> Self {
//!         let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
//!         Self { signed_in_at: i64::try_from(now.as_millis()).ok() }
//!     }
//! }
//!
//! type Auth = Lucia<MemoryAdapter, NoAttributes, SessionAttributes>;
//!
//! fn app(auth: Auth) -> Result<Router, lucia_axum::passkey::lucia_passkey::PasskeyError> {
//!     let origin = Url::parse("https://example.com").expect("a URL");
//!     let passkeys = Passkeys::new(auth.clone(), RelyingParty::new("example.com", origin))?;
//!     let routes = PasskeyRoutes::<Auth>::new(
//!         passkeys,
//!         // What the authenticator shows for the user: a user name and a display name.
//!         |user| (user.user_id.clone(), "Account".into()),
//!         // When the session signed in: registering or removing a passkey needs a recent sign-in.
//!         |session| session.attributes.signed_in_at,
//!     )
//!     .session_attributes(|_| SessionAttributes::now()) // sessions a passkey starts
//!     .reauthentication_max_age(Duration::from_secs(5 * 60)); // default: 10 minutes
//!     Ok(Router::new().merge(routes.router()).layer(LuciaLayer::new(&auth)).with_state(auth))
//! }
//! # let auth = Lucia::builder(MemoryAdapter::new()).session_attributes::<SessionAttributes>().build();
//! # let _ = app(auth);
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, Path};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use http::StatusCode;
use http::request::Parts;
use lucia::{PasskeyAdapter, Session, User};
pub use lucia_passkey;
use lucia_passkey::webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};
use lucia_passkey::{PasskeyError, PasskeyInfo, Passkeys};
use serde::{Deserialize, Serialize};

use crate::lucia_type::{LuciaType, SessionOf};
pub use crate::recent_sign_in::DEFAULT_REAUTHENTICATION_MAX_AGE;
use crate::{AuthError, AuthRequest, RecentSignIn};

type PasskeysOf<L> =
    Passkeys<<L as LuciaType>::Adapter, <L as LuciaType>::UserAttributes, <L as LuciaType>::SessionAttributes>;
type UserNames<U> = dyn Fn(&User<U>) -> (String, String) + Send + Sync;
type SessionAttributes<S> = dyn Fn(&Parts) -> S + Send + Sync;

/// The body of the `403` that refuses a registration or removal without a recent sign-in.
const REAUTHENTICATION_REQUIRED: &str = "reauthentication_required";

/// The passkey routes (see the [module](self)). `L` is the application's `Lucia` type.
pub struct PasskeyRoutes<L: LuciaType> {
    passkeys: PasskeysOf<L>,
    user_names: Box<UserNames<L::UserAttributes>>,
    recent_sign_in: RecentSignIn<L>,
    session_attributes: Box<SessionAttributes<L::SessionAttributes>>,
}

impl<L: LuciaType> std::fmt::Debug for PasskeyRoutes<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyRoutes")
            .field("passkeys", &self.passkeys)
            .field("recent_sign_in", &self.recent_sign_in)
            .finish_non_exhaustive()
    }
}

/// A started ceremony, as the `start` routes answer it.
#[derive(Serialize)]
struct Started<T> {
    ceremony: String,
    options: T,
}

#[derive(Deserialize)]
struct FinishRegistration {
    ceremony: String,
    credential: RegisterPublicKeyCredential,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct FinishSignIn {
    ceremony: String,
    credential: PublicKeyCredential,
}

#[derive(Deserialize)]
struct Rename {
    name: String,
}

impl<L> PasskeyRoutes<L>
where
    L: LuciaType,
    L::Adapter: PasskeyAdapter,
    L::SessionAttributes: Default,
{
    /// The routes over `passkeys`.
    ///
    /// - `user_names` gives what an authenticator shows for a user registering a passkey: a
    ///   user name (an email address, a handle) and a display name.
    /// - `signed_in_at` says when a session signed in, in milliseconds since the Unix epoch
    ///   (typically a session attribute set at every sign-in), or `None` if unknown:
    ///   registering or removing a passkey needs a sign-in within
    ///   [`reauthentication_max_age`](Self::reauthentication_max_age), so that a stolen
    ///   session cookie cannot add a passkey that outlives a password reset, nor remove the
    ///   owner's. A session renewed since it signed in keeps its sign-in time: the renewal
    ///   is not a sign-in.
    ///
    /// Sessions started by a passkey get `Default` attributes unless
    /// [`session_attributes`](Self::session_attributes) says otherwise: set the sign-in time
    /// there too, or such sessions cannot register another passkey.
    pub fn new(
        passkeys: PasskeysOf<L>,
        user_names: impl Fn(&User<L::UserAttributes>) -> (String, String) + Send + Sync + 'static,
        signed_in_at: impl Fn(&Session<L::UserAttributes, L::SessionAttributes>) -> Option<i64> + Send + Sync + 'static,
    ) -> Self {
        Self {
            passkeys,
            user_names: Box::new(user_names),
            recent_sign_in: RecentSignIn::new(signed_in_at),
            session_attributes: Box::new(|_| L::SessionAttributes::default()),
        }
    }
}

impl<L> PasskeyRoutes<L>
where
    L: LuciaType,
    L::Adapter: PasskeyAdapter,
{
    /// How long after signing in a session may register or remove a passkey (default
    /// [`DEFAULT_REAUTHENTICATION_MAX_AGE`], 10 minutes): long enough to sign in and go to the
    /// account page, short enough that a session cookie stolen later is refused.
    #[must_use]
    pub fn reauthentication_max_age(mut self, max_age: Duration) -> Self {
        self.recent_sign_in = self.recent_sign_in.with_max_age(max_age);
        self
    }

    /// The routes' check of a recent sign-in (the `signed_in_at` of [`new`](Self::new), the
    /// [`reauthentication_max_age`](Self::reauthentication_max_age) set so far), for the
    /// application's own routes that need the same.
    pub fn recent_sign_in(&self) -> RecentSignIn<L> {
        self.recent_sign_in.clone()
    }

    /// The attributes of a session started by a passkey sign-in, from the request's head.
    #[must_use]
    pub fn session_attributes(
        mut self,
        attributes: impl Fn(&Parts) -> L::SessionAttributes + Send + Sync + 'static,
    ) -> Self {
        self.session_attributes = Box::new(attributes);
        self
    }

    /// The routes, for a router whose state holds the `Lucia` (`L: FromRef<St>`), behind a
    /// [`LuciaLayer`](crate::LuciaLayer).
    pub fn router<St>(self) -> Router<St>
    where
        St: Clone + Send + Sync + 'static,
        L: FromRef<St>,
    {
        let routes = Arc::new(self);
        let (register_start, register_finish, sign_in_start, sign_in_finish) =
            (Arc::clone(&routes), Arc::clone(&routes), Arc::clone(&routes), Arc::clone(&routes));
        let (list, rename, remove) = (Arc::clone(&routes), Arc::clone(&routes), routes);
        Router::new()
            .route(
                "/passkeys/register/start",
                post(move |auth: AuthRequest<L>| async move { register_start.start_registration(&auth).await }),
            )
            .route(
                "/passkeys/register/finish",
                post(move |auth: AuthRequest<L>, Json(body): Json<FinishRegistration>| async move {
                    register_finish.finish_registration(&auth, body).await
                }),
            )
            .route(
                "/passkeys/sign-in/start",
                post(move |auth: AuthRequest<L>| async move { sign_in_start.start_sign_in(&auth).await }),
            )
            .route(
                "/passkeys/sign-in/finish",
                post(move |auth: AuthRequest<L>, parts: Parts, Json(body): Json<FinishSignIn>| async move {
                    sign_in_finish.finish_sign_in(&auth, &parts, body).await
                }),
            )
            .route("/passkeys", get(move |auth: AuthRequest<L>| async move { list.list(&auth).await }))
            .route(
                "/passkeys/{id}",
                patch(move |auth: AuthRequest<L>, Path(id): Path<String>, Json(body): Json<Rename>| async move {
                    rename.rename(&auth, &id, &body.name).await
                })
                .delete(move |auth: AuthRequest<L>, Path(id): Path<String>| async move {
                    remove.remove(&auth, &id).await
                }),
            )
    }

    /// The request's session, if it signed in recently enough to register or remove a passkey.
    async fn recently_signed_in(&self, auth: &AuthRequest<L>) -> Result<SessionOf<L>, RouteError> {
        let session = auth.require().await?;
        if self.recent_sign_in.is_recent(auth.lucia(), &session) {
            Ok(session)
        } else {
            tracing::debug!("passkey registration or removal refused: the session did not sign in recently");
            Err(RouteError::ReauthenticationRequired)
        }
    }

    async fn start_registration(&self, auth: &AuthRequest<L>) -> Response {
        let result = async {
            let session = self.recently_signed_in(auth).await?;
            let (name, display_name) = (self.user_names)(&session.user);
            let ceremony = self.passkeys.start_registration(&session.user.user_id, &name, &display_name).await?;
            let (ceremony, options) = ceremony.into_parts();
            Ok::<_, RouteError>(Json(Started { ceremony, options }).into_response())
        };
        result.await.unwrap_or_else(IntoResponse::into_response)
    }

    async fn finish_registration(&self, auth: &AuthRequest<L>, body: FinishRegistration) -> Response {
        let result = async {
            // Again: the ceremony is the user's, not the session's, and time has passed.
            let session = self.recently_signed_in(auth).await?;
            let user_id = &session.user.user_id;
            let passkey =
                self.passkeys.finish_registration(user_id, &body.ceremony, &body.credential, &body.name).await?;
            Ok::<_, RouteError>(Json(passkey).into_response())
        };
        result.await.unwrap_or_else(IntoResponse::into_response)
    }

    async fn start_sign_in(&self, auth: &AuthRequest<L>) -> Response {
        let result = async {
            // Each ceremony is a stored row: anonymous clients start them at a limited rate.
            auth.check_rate_limit()?;
            let (ceremony, options) = self.passkeys.start_sign_in().await?.into_parts();
            Ok::<_, RouteError>(Json(Started { ceremony, options }).into_response())
        };
        result.await.unwrap_or_else(IntoResponse::into_response)
    }

    async fn finish_sign_in(&self, auth: &AuthRequest<L>, parts: &Parts, body: FinishSignIn) -> Response {
        let result = async {
            // A request that may not set the cookie is refused before the ceremony is used up
            // (and the passkey's use recorded): the browser's own retry can still finish it.
            auth.check_cookie_writes()?;
            let verified = self.passkeys.verify_sign_in(&body.ceremony, &body.credential).await?;
            auth.start_session(&verified.user_id, (self.session_attributes)(parts)).await?;
            Ok::<_, RouteError>(StatusCode::NO_CONTENT.into_response())
        };
        result.await.unwrap_or_else(IntoResponse::into_response)
    }

    async fn list(&self, auth: &AuthRequest<L>) -> Response {
        let result = async {
            let session = auth.require().await?;
            let passkeys: Vec<PasskeyInfo> = self.passkeys.list(&session.user.user_id).await?;
            Ok::<_, RouteError>(Json(passkeys).into_response())
        };
        result.await.unwrap_or_else(IntoResponse::into_response)
    }

    async fn rename(&self, auth: &AuthRequest<L>, passkey_id: &str, name: &str) -> Response {
        let result = async {
            let session = auth.require().await?;
            self.passkeys.rename(&session.user.user_id, passkey_id, name).await?;
            Ok::<_, RouteError>(StatusCode::NO_CONTENT.into_response())
        };
        result.await.unwrap_or_else(IntoResponse::into_response)
    }

    async fn remove(&self, auth: &AuthRequest<L>, passkey_id: &str) -> Response {
        let result = async {
            let session = self.recently_signed_in(auth).await?;
            self.passkeys.remove(&session.user.user_id, passkey_id).await?;
            Ok::<_, RouteError>(StatusCode::NO_CONTENT.into_response())
        };
        result.await.unwrap_or_else(IntoResponse::into_response)
    }
}

/// A route's failure: the session API's, or a passkey operation's.
enum RouteError {
    Auth(AuthError),
    Passkey(PasskeyError),
    /// Registering or removing a passkey without a recent sign-in.
    ReauthenticationRequired,
}

/// The JSON body of a failure a page acts on: `{"error": "<code>"}`.
#[derive(Serialize)]
struct ErrorCode {
    error: &'static str,
}

impl From<AuthError> for RouteError {
    fn from(error: AuthError) -> Self {
        Self::Auth(error)
    }
}

impl From<PasskeyError> for RouteError {
    fn from(error: PasskeyError) -> Self {
        match error {
            PasskeyError::Lucia(error) => Self::Auth(AuthError::Lucia(error)),
            error => Self::Passkey(error),
        }
    }
}

impl IntoResponse for RouteError {
    fn into_response(self) -> Response {
        let error = match self {
            Self::Auth(error) => return error.into_response(),
            Self::ReauthenticationRequired => {
                return (StatusCode::FORBIDDEN, Json(ErrorCode { error: REAUTHENTICATION_REQUIRED })).into_response();
            }
            Self::Passkey(error) => error,
        };
        let (status, message) = match &error {
            PasskeyError::UnknownCeremony | PasskeyError::CeremonyMismatch => {
                (StatusCode::BAD_REQUEST, "passkey ceremony unknown or expired: start again")
            }
            PasskeyError::Rejected(_) => (StatusCode::BAD_REQUEST, "passkey response rejected"),
            PasskeyError::CredentialIdTooLong => (StatusCode::BAD_REQUEST, "passkey credential id too long"),
            PasskeyError::UnknownPasskey | PasskeyError::PossibleClone { .. } => {
                (StatusCode::UNAUTHORIZED, "passkey not accepted")
            }
            PasskeyError::DuplicatePasskey => (StatusCode::CONFLICT, "passkey already registered"),
            PasskeyError::LastSignInMethod => (StatusCode::CONFLICT, "the last way to sign in cannot be removed"),
            PasskeyError::NotFound => (StatusCode::NOT_FOUND, "no such passkey"),
            _ => {
                tracing::error!(%error, "passkey operation failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        };
        if status == StatusCode::BAD_REQUEST {
            tracing::debug!(%error, "passkey request refused");
        }
        (status, message).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::tests::body_text;

    /// Passkey failures answer a fixed text: never the stored data some of them carry.
    #[test]
    fn failures_answer_fixed_texts_without_stored_data() {
        use lucia_passkey::webauthn_rs::prelude::WebauthnError;
        let cases = [
            (
                PasskeyError::PossibleClone { passkey_id: "c3RvcmVkLWNyZWRlbnRpYWwtaWQ".into() },
                StatusCode::UNAUTHORIZED,
                "passkey not accepted",
            ),
            (PasskeyError::UnknownPasskey, StatusCode::UNAUTHORIZED, "passkey not accepted"),
            (
                PasskeyError::InvalidData("stored credential at line 1".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error",
            ),
            (
                PasskeyError::Rejected(WebauthnError::InvalidRPOrigin),
                StatusCode::BAD_REQUEST,
                "passkey response rejected",
            ),
            (PasskeyError::CredentialIdTooLong, StatusCode::BAD_REQUEST, "passkey credential id too long"),
            (
                PasskeyError::UnknownCeremony,
                StatusCode::BAD_REQUEST,
                "passkey ceremony unknown or expired: start again",
            ),
            (PasskeyError::DuplicatePasskey, StatusCode::CONFLICT, "passkey already registered"),
            (
                PasskeyError::Lucia(lucia::Error::Database("passkey 'c3RvcmVk' at 10.0.0.5".into())),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal server error",
            ),
        ];
        for (error, status, text) in cases {
            let shown = format!("{error:?}");
            let response = RouteError::from(error).into_response();
            assert_eq!(response.status(), status, "{shown}");
            assert_eq!(body_text(response), text, "{shown}");
        }
        let response = RouteError::ReauthenticationRequired.into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()[http::header::CONTENT_TYPE], "application/json");
        assert_eq!(body_text(response), r#"{"error":"reauthentication_required"}"#);
    }
}
