//! Sign in with OAuth 2.0 and OpenID Connect providers, as Lucia keys.
//!
//! A provider account is the key `<provider id>:<subject>` with no password, so one user can
//! sign in with a password and with any number of providers. This crate runs the provider
//! side on the field's maintained crates (`openidconnect` for discovery, PKCE, `state`,
//! `nonce` and ID tokens; `oauth2` underneath) and turns the result into a Lucia user and
//! session ([`ProviderKeys`]).
//!
//! A sign-in has two steps, each one HTTP request of the browser:
//!
//! 1. **Start** (such as `GET /login/oidc`): [`OidcProvider::start`] gives the provider's
//!    authorization URL to redirect to, and a flow cookie to set on that redirect. The cookie
//!    holds the `state`, the PKCE verifier and the nonce, encrypted and authenticated with
//!    the application's [`cookie::Key`] ([`FlowCookie`]); nothing is stored on the server.
//! 2. **Callback** (such as `GET /login/oidc/callback?code=…&state=…`, the redirect URL
//!    registered with the provider): [`OidcProvider::finish`] checks the cookie and the
//!    `state`, exchanges the code with the PKCE verifier, validates the ID token and its
//!    nonce, and returns a [`ProviderUser`]: the provider's stable user id (`subject`), its
//!    email, and whether the provider says the email is verified. [`ProviderKeys::sign_in`]
//!    then signs the user in (or creates them).
//!
//! [`GitHubProvider`] does the same for GitHub, which is OAuth 2.0 without OpenID Connect:
//! the account's numeric id and its primary email come from GitHub's REST API.
//! [`DiscordProvider`] does it for Discord (`GET /users/@me`).
//!
//! Presets of [`OidcProvider`]: [`OidcProvider::google`], [`OidcProvider::microsoft`] (any
//! Microsoft Entra tenant or personal accounts) and [`OidcProvider::apple`] (Sign in with
//! Apple, whose callback is a cross-site `POST`: see [`OidcProvider::uses_form_post`]).
//!
//! Every failure is an [`Error`] variant the caller can match on; input never panics.
//! Secrets (client secret, code, tokens, PKCE verifier, nonce) appear in no `Debug` output
//! and no error message.
//!
//! # Registering the application with a provider
//!
//! At the provider's developer console, create an OAuth or OpenID Connect client ("web
//! application"), and register the redirect URL: the full URL of the callback route, such as
//! `https://app.example.com/login/oidc/callback` (providers compare it exactly, scheme, port
//! and path included). The console gives a client id and a client secret; keep the secret
//! out of the source. The issuer URL is the provider's (for example
//! `https://accounts.google.com`); discovery reads the rest from
//! `<issuer>/.well-known/openid-configuration`.
//!
//! # HTTPS
//!
//! The `rustls-ring` feature gives [`HttpClient::new`] HTTPS: rustls with the `ring`
//! provider and Mozilla's root certificates (no aws-lc, no OpenSSL; reqwest 0.13's own
//! `rustls` feature would pull aws-lc). Without it, only `http://` providers can be reached,
//! which is enough for tests on loopback; or bring a configured client with
//! [`HttpClient::from_reqwest`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod apple;
mod discord;
mod flow;
mod github;
mod http;
mod keys;
mod microsoft;
mod oidc;
mod rest;

pub use apple::AppleClientSecret;
pub use cookie;
pub use discord::DiscordProvider;
pub use flow::FlowCookie;
pub use github::GitHubProvider;
pub use http::{HttpClient, HttpError};
pub use keys::{ProviderKeys, SignIn, SignInCase, TwoStepSignIn};
pub use oidc::OidcProvider;

use std::future::Future;

use url::Url;

/// A provider account, as the callback established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderUser {
    /// The provider's id in keys, such as `oidc` or `github`.
    pub provider_id: String,
    /// The provider's stable, unique id of the account (OpenID Connect's `sub`).
    pub subject: String,
    /// The account's email address, if the provider shared one.
    pub email: Option<String>,
    /// Whether the provider says it verified `email` (false without an email).
    pub email_verified: bool,
}

/// A provider an application signs users in with: its id in keys and the two steps of a
/// sign-in. [`OidcProvider`], [`GitHubProvider`] and [`DiscordProvider`] implement it; so can an application's own.
pub trait Provider: Send + Sync {
    /// The provider id used in keys (`<provider id>:<subject>`) and in the flow cookie's name.
    fn provider_id(&self) -> &str;

    /// Starts a sign-in: the URL to redirect the browser to, and the flow cookie to set with
    /// that redirect (see [`FlowCookie`]).
    fn start(&self, flow: &FlowCookie) -> Result<Start, Error>;

    /// Finishes a sign-in at the callback URL: `callback` is the callback's parameters,
    /// URL-encoded (the query string, with or without `?`), `cookie_header` the request's
    /// `Cookie` header, if any. Remove the flow cookie in the answer whatever the outcome
    /// ([`FlowCookie::removal`]).
    fn finish(
        &self,
        http: &HttpClient,
        flow: &FlowCookie,
        callback: &str,
        cookie_header: Option<&str>,
    ) -> impl Future<Output = Result<ProviderUser, Error>> + Send;

    /// Whether the provider sends the browser back with a cross-site `POST` whose
    /// URL-encoded body holds the callback's parameters (`response_mode=form_post`, as Sign in
    /// with Apple does), instead of a `GET` with a query string. Default: `false`.
    ///
    /// The callback route must then accept that `POST` (lucia-axum's `OAuthRoutes` turns it
    /// into a `GET` of the callback), and the flow cookie must be `SameSite=None`, as a `Lax`
    /// cookie is not sent with a cross-site `POST`.
    ///
    /// ```
    /// use lucia_oauth::{GitHubProvider, Provider};
    /// let github = GitHubProvider::new("client-id", "client-secret", "https://app.example.com/login/github/callback")?;
    /// assert!(!github.uses_form_post());
    /// # Ok::<(), lucia_oauth::Error>(())
    /// ```
    fn uses_form_post(&self) -> bool {
        false
    }
}

/// The start of a sign-in: redirect the browser to `authorization_url` (303 See Other), with
/// `cookie` in a `Set-Cookie` header of that answer. Its `Debug` shows the URL without its
/// query (which holds the flow's `state` and nonce) and the cookie's name only.
pub struct Start {
    /// The provider's authorization URL, with this flow's `state`, PKCE challenge and nonce.
    pub authorization_url: Url,
    /// The encrypted flow cookie ([`FlowCookie`]).
    pub cookie: cookie::Cookie<'static>,
}

impl std::fmt::Debug for Start {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut url = self.authorization_url.clone();
        url.set_query(None);
        f.debug_struct("Start")
            .field("authorization_url", &url.as_str())
            .field("cookie", &self.cookie.name())
            .finish_non_exhaustive()
    }
}

/// Why a sign-in with a provider failed.
///
/// The messages name no secret: codes, tokens, the PKCE verifier and the client secret never
/// appear in them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The provider or the client is misconfigured: an invalid URL or provider id, a missing
    /// endpoint.
    #[error("OAuth configuration: {0}")]
    Configuration(String),
    /// The provider's discovery document or its signing keys could not be fetched or are
    /// invalid (such as naming another issuer).
    #[error("OpenID Connect discovery failed: {0}")]
    Discovery(String),
    /// The callback came without the flow cookie: it expired in the browser, was never set
    /// (the flow was not started in this browser), or was removed after an earlier callback.
    #[error("the sign-in flow cookie is missing")]
    MissingFlowCookie,
    /// The flow cookie did not decrypt with the key, or was made for another provider.
    #[error("the sign-in flow cookie is invalid")]
    TamperedFlowCookie,
    /// The flow cookie is older than its lifetime.
    #[error("the sign-in flow expired; start again")]
    ExpiredFlow,
    /// The callback's `state` is missing or not the flow's: a forged or crossed callback.
    #[error("the callback's state does not match the sign-in flow")]
    StateMismatch,
    /// The callback's `iss` names another issuer than the provider's, or is missing from the
    /// answer of a provider that says it always sends one (RFC 9207): the answer of another
    /// provider, sent to this provider's callback (a "mix-up" attack).
    #[error("the callback comes from another issuer")]
    IssuerMismatch,
    /// The provider answered the authorization request with an error, such as
    /// `access_denied` when the user declined.
    #[error("the provider refused the sign-in: {error}")]
    Provider {
        /// The OAuth error code, such as `access_denied` (at most 200 characters).
        error: String,
        /// The provider's `error_description`, if any (at most 200 characters).
        description: Option<String>,
    },
    /// The callback has neither a code nor an error.
    #[error("the callback has no authorization code")]
    MissingCode,
    /// Exchanging the code for tokens failed. A replayed, expired or foreign code is refused
    /// by the provider with `invalid_grant`.
    #[error("exchanging the authorization code failed: {}", error.as_deref().unwrap_or(detail))]
    TokenExchange {
        /// The provider's OAuth error code, such as `invalid_grant`, when it sent one.
        error: Option<String>,
        /// What went wrong otherwise (the request, the response's format).
        detail: String,
    },
    /// The ID token is missing or invalid: signature, issuer, audience, expiry, nonce or
    /// access-token hash.
    #[error("invalid ID token: {0}")]
    IdToken(String),
    /// The provider's user-info endpoint failed or answered for another subject.
    #[error("the provider's user info could not be read: {0}")]
    UserInfo(String),
    /// [`ProviderKeys::link`]: the provider account already belongs to another user.
    #[error("this provider account is linked to another user")]
    AccountTaken,
    /// Lucia refused an operation on users, keys or sessions.
    #[error(transparent)]
    Lucia(#[from] lucia::Error),
}

/// A provider id usable in keys (no `:`) and cookie names: ASCII letters, digits, `-`, `_`.
fn check_provider_id(provider_id: String) -> Result<String, Error> {
    let valid = !provider_id.is_empty()
        && provider_id.len() <= 64
        && provider_id.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if valid { Ok(provider_id) } else { Err(Error::Configuration(format!("invalid provider id {provider_id:?}"))) }
}

/// A token request's failure, keeping the provider's error code but no response body.
fn token_error<T: oauth2::ErrorResponse>(error: oauth2::RequestTokenError<HttpError, T>) -> Error {
    match error {
        oauth2::RequestTokenError::ServerResponse(response) => {
            let code = serde_json::to_value(&response)
                .ok()
                .and_then(|value| value.get("error").and_then(|code| code.as_str()).map(str::to_owned));
            Error::TokenExchange { error: code, detail: "the provider refused the code".into() }
        }
        // GitHub refuses a code with `200 OK` and an error object, which does not parse as a
        // token response: keep its error code.
        oauth2::RequestTokenError::Parse(_, body) => {
            let code = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|value| value.get("error").and_then(|code| code.as_str()).map(str::to_owned));
            Error::TokenExchange { error: code, detail: "the provider's token response is invalid".into() }
        }
        // The request's own error says more than oauth2's "Request failed".
        oauth2::RequestTokenError::Request(error) => Error::TokenExchange { error: None, detail: error.to_string() },
        other => Error::TokenExchange { error: None, detail: other.to_string() },
    }
}
