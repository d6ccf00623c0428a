//! [`SignedIn`]: the extractor that lets only signed-in requests through.

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;

use crate::lucia_type::{LuciaType, SessionOf};
use crate::{AuthError, AuthRequest};

/// A guard: extracts the request's session, or rejects the request before the handler runs.
///
/// The session is the bearer token's when the request carries `Authorization: Bearer`
/// (then the cookie is not looked at), otherwise the session cookie's. Without a valid one:
///
/// - **page requests** (the `Accept` header lists `text/html`, as browsers send when they
///   navigate), when the layer has a [sign-in URL](crate::LuciaLayer::sign_in_url):
///   `303 See Other` to it;
/// - **everything else** (API clients, requests with a bearer token, or no sign-in URL
///   configured): `401 Unauthorized` with `WWW-Authenticate: Bearer`.
///
/// A session cookie the CSRF rule does not trust is `403`. A store that cannot be reached is
/// `503` (to page requests too: an outage is not a reason to sign in again), and the cookie
/// is kept; another store failure is `500`.
///
/// ```
/// use lucia::{Lucia, memory::MemoryAdapter};
/// use lucia_axum::SignedIn;
///
/// type Auth = Lucia<MemoryAdapter>;
///
/// async fn dashboard(SignedIn { session, .. }: SignedIn<Auth>) -> String {
///     format!("hello, {}", session.user.user_id)
/// }
/// ```
#[non_exhaustive]
pub struct SignedIn<L: LuciaType> {
    /// The request's live session, with its user.
    pub session: SessionOf<L>,
    /// The request, for signing out or using [`Lucia`](lucia::Lucia) further.
    pub auth: AuthRequest<L>,
}

impl<L: LuciaType> Clone for SignedIn<L> {
    fn clone(&self) -> Self {
        Self { session: self.session.clone(), auth: self.auth.clone() }
    }
}

impl<L: LuciaType> std::fmt::Debug for SignedIn<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("handle", &self.session.handle)
            .field("user_id", &self.session.user.user_id)
            .finish_non_exhaustive()
    }
}

impl<St, L> FromRequestParts<St> for SignedIn<L>
where
    St: Send + Sync,
    L: LuciaType + FromRef<St>,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, AuthError> {
        let auth = AuthRequest::<L>::from_request_parts(parts, state).await?;
        let session = auth.require().await?;
        Ok(Self { session, auth })
    }
}
