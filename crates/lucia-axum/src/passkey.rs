//! Passkeys (feature `passkey`): JSON routes over [`lucia_passkey::Passkeys`], on the session
//! API of [`AuthRequest`].
//!
//! [`PasskeyRoutes`] gives a [`Router`] with these routes:
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /passkeys/register/start` | none | signed in: `{ "ceremony": id, "options": { "publicKey": … } }` for `navigator.credentials.create()` |
//! | `POST /passkeys/register/finish` | `{ "ceremony", "credential", "name" }` | signed in: the new passkey ([`PasskeyInfo`]) |
//! | `POST /passkeys/sign-in/start` | none | `{ "ceremony", "options" }` for `navigator.credentials.get()` (discoverable: no user name) |
//! | `POST /passkeys/sign-in/finish` | `{ "ceremony", "credential" }` | `204`: signed in, the session cookie set (the browser's previous session ended) |
//! | `GET /passkeys` | | signed in: the user's passkeys, oldest first |
//! | `PATCH /passkeys/{id}` | `{ "name" }` | signed in: `204` |
//! | `DELETE /passkeys/{id}` | | signed in: `204`; `409` if it is the user's last way to sign in |
//!
//! Ids and binary fields are base64url, as `PublicKeyCredential.toJSON()` and
//! `PublicKeyCredential.parseCreationOptionsFromJSON()` use. The routes are behind
//! [`LuciaLayer`](crate::LuciaLayer), so its CSRF check applies to every `POST`, `PATCH` and
//! `DELETE`; starting a passkey sign-in counts against the client address's sign-in budget
//! ([`AuthRequest::check_rate_limit`]), as a password sign-in does. Failures answer with a fixed
//! text: `400` for a response that did not verify or a ceremony that is unknown, used or
//! expired (start again), `401` for a sign-in refused (an unknown passkey, or a counter that
//! went backwards: [`lucia_passkey::PasskeyError::PossibleClone`], also logged).
//!
//! ```
//! use axum::Router;
//! use lucia::{Lucia, memory::MemoryAdapter};
//! use lucia_axum::LuciaLayer;
//! use lucia_axum::passkey::PasskeyRoutes;
//! use lucia_axum::passkey::lucia_passkey::{Passkeys, RelyingParty, url::Url};
//!
//! type Auth = Lucia<MemoryAdapter>;
//!
//! fn app(auth: Auth) -> Result<Router, lucia_axum::passkey::lucia_passkey::PasskeyError> {
//!     let origin = Url::parse("https://example.com").expect("a URL");
//!     let passkeys = Passkeys::new(auth.clone(), RelyingParty::new("example.com", origin))?;
//!     // What the authenticator shows for the user: a user name and a display name.
//!     let routes = PasskeyRoutes::<Auth>::new(passkeys, |user| (user.user_id.clone(), "Account".into()));
//!     Ok(Router::new().merge(routes.router()).layer(LuciaLayer::new(&auth)).with_state(auth))
//! }
//! # let _ = app(Lucia::builder(MemoryAdapter::new()).build());
//! ```

use std::sync::Arc;

use axum::extract::{FromRef, Path};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use http::StatusCode;
use http::request::Parts;
use lucia::{PasskeyAdapter, User};
pub use lucia_passkey;
use lucia_passkey::webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};
use lucia_passkey::{PasskeyError, PasskeyInfo, Passkeys};
use serde::{Deserialize, Serialize};

use crate::lucia_type::LuciaType;
use crate::{AuthError, AuthRequest};

type PasskeysOf<L> =
    Passkeys<<L as LuciaType>::Adapter, <L as LuciaType>::UserAttributes, <L as LuciaType>::SessionAttributes>;
type UserNames<U> = dyn Fn(&User<U>) -> (String, String) + Send + Sync;
type SessionAttributes<S> = dyn Fn(&Parts) -> S + Send + Sync;

/// The passkey routes (see the [module](self)). `L` is the application's `Lucia` type.
pub struct PasskeyRoutes<L: LuciaType> {
    passkeys: PasskeysOf<L>,
    user_names: Box<UserNames<L::UserAttributes>>,
    session_attributes: Box<SessionAttributes<L::SessionAttributes>>,
}

impl<L: LuciaType> std::fmt::Debug for PasskeyRoutes<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyRoutes").field("passkeys", &self.passkeys).finish_non_exhaustive()
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
    /// The routes over `passkeys`. `user_names` gives what an authenticator shows for a user
    /// registering a passkey: a user name (an email address, a handle) and a display name.
    /// Sessions get `Default` attributes unless
    /// [`session_attributes`](Self::session_attributes) says otherwise.
    pub fn new(
        passkeys: PasskeysOf<L>,
        user_names: impl Fn(&User<L::UserAttributes>) -> (String, String) + Send + Sync + 'static,
    ) -> Self {
        Self {
            passkeys,
            user_names: Box::new(user_names),
            session_attributes: Box::new(|_| L::SessionAttributes::default()),
        }
    }
}

impl<L> PasskeyRoutes<L>
where
    L: LuciaType,
    L::Adapter: PasskeyAdapter,
{
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

    async fn start_registration(&self, auth: &AuthRequest<L>) -> Response {
        let result = async {
            let session = auth.require().await?;
            let (name, display_name) = (self.user_names)(&session.user);
            let ceremony = self.passkeys.start_registration(&session.user.user_id, &name, &display_name).await?;
            let (ceremony, options) = ceremony.into_parts();
            Ok::<_, RouteError>(Json(Started { ceremony, options }).into_response())
        };
        result.await.unwrap_or_else(IntoResponse::into_response)
    }

    async fn finish_registration(&self, auth: &AuthRequest<L>, body: FinishRegistration) -> Response {
        let result = async {
            let session = auth.require().await?;
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
            let session = auth.require().await?;
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
            Self::Passkey(error) => error,
        };
        let (status, message) = match &error {
            PasskeyError::UnknownCeremony | PasskeyError::CeremonyMismatch => {
                (StatusCode::BAD_REQUEST, "passkey ceremony unknown or expired: start again")
            }
            PasskeyError::Rejected(_) => (StatusCode::BAD_REQUEST, "passkey response rejected"),
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
