//! Discord: OAuth 2.0 (not OpenID Connect), the account from `GET /users/@me`.

use serde::Deserialize;

use crate::flow::FlowCookie;
use crate::rest::{Endpoints, RestOAuth};
use crate::{Error, HttpClient, Provider, ProviderUser, Start};

/// Discord: the authorization-code flow with `state` and PKCE, then the account from Discord's
/// API (`GET /users/@me`). The subject is the account's id (a snowflake, stable; user names
/// change), the email is the account's, verified as Discord's `verified` field says (no email
/// when the user has none). Asks for the `identify email` scopes.
///
/// Register an application at <https://discord.com/developers/applications> ("New
/// Application"); under "OAuth2", add the callback route (such as
/// `https://app.example.com/login/discord/callback`) to its "Redirects" exactly; the same page
/// gives the client id and the client secret.
///
/// ```
/// use lucia_oauth::Provider;
///
/// let discord = lucia_oauth::DiscordProvider::new(
///     "client-id",
///     "client-secret",
///     "https://app.example.com/login/discord/callback",
/// )?;
/// assert_eq!(discord.provider_id(), "discord");
/// # Ok::<(), lucia_oauth::Error>(())
/// ```
#[derive(Clone)]
pub struct DiscordProvider {
    oauth: RestOAuth,
}

impl std::fmt::Debug for DiscordProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.oauth.debug("DiscordProvider", f)
    }
}

/// The fields of `GET /users/@me` used; `email` and `verified` come with the `email` scope.
#[derive(Deserialize)]
struct DiscordUser {
    id: String,
    email: Option<String>,
    verified: Option<bool>,
}

impl DiscordProvider {
    /// Discord, with the provider id `discord`.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_url: &str,
    ) -> Result<Self, Error> {
        let (api, token) = ("https://discord.com/api/", "https://discord.com/api/oauth2/token");
        Self::with_endpoints(client_id, client_secret, redirect_url, "https://discord.com/oauth2/authorize", token, api)
    }

    /// Discord at other URLs (a local fake in tests): the authorization URL, the token URL and
    /// the base URL of the API (`users/@me` is read relative to it).
    pub fn with_endpoints(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_url: &str,
        authorize_url: &str,
        token_url: &str,
        api_url: &str,
    ) -> Result<Self, Error> {
        let endpoints = Endpoints { authorize: authorize_url, token: token_url, api: api_url };
        let scopes = &["identify", "email"];
        let oauth =
            RestOAuth::new("discord", scopes, client_id.into(), client_secret.into(), redirect_url, &endpoints)?;
        Ok(Self { oauth })
    }
}

impl Provider for DiscordProvider {
    /// The provider id used in keys: `discord`.
    fn provider_id(&self) -> &str {
        self.oauth.provider_id()
    }

    /// Starts a sign-in, as [`OidcProvider::start`](crate::OidcProvider::start) does.
    fn start(&self, flow: &FlowCookie) -> Result<Start, Error> {
        self.oauth.start(flow)
    }

    /// Finishes a sign-in, as [`OidcProvider::finish`](crate::OidcProvider::finish) does up to
    /// the code exchange (Discord's refusal of a code, `invalid_grant`, is
    /// [`Error::TokenExchange`]); then reads the account from `GET /users/@me`
    /// ([`Error::UserInfo`]).
    async fn finish(
        &self,
        http: &HttpClient,
        flow: &FlowCookie,
        callback: &str,
        cookie_header: Option<&str>,
    ) -> Result<ProviderUser, Error> {
        let token = self.oauth.access_token(http, flow, callback, cookie_header).await?;
        let user: DiscordUser = self.oauth.get(http, "users/@me", &token, "application/json").await?;
        let email = user.email.filter(|email| !email.is_empty());
        Ok(ProviderUser {
            provider_id: self.oauth.provider_id().to_owned(),
            subject: user.id,
            email_verified: email.is_some() && user.verified == Some(true),
            email,
        })
    }
}
