//! GitHub: OAuth 2.0 (not OpenID Connect), the user's id from its REST API and the verified
//! email from `/user/emails`.

use serde::Deserialize;

use crate::flow::FlowCookie;
use crate::rest::{Endpoints, RestOAuth};
use crate::{Error, HttpClient, Provider, ProviderUser, Start};

/// GitHub's OAuth apps and GitHub Apps: the authorization-code flow with `state` and PKCE,
/// then the account from GitHub's REST API. The subject is the numeric user id (stable; a
/// login name can be renamed and reused), the email is the account's primary address from
/// `/user/emails`, verified as GitHub says. Asks for the `user:email` scope.
///
/// Register an OAuth app at <https://github.com/settings/developers> ("New OAuth app"), with
/// the callback route (such as `https://app.example.com/login/github/callback`) as its
/// "Authorization callback URL"; it gives the client id and secret.
///
/// ```
/// use lucia_oauth::Provider;
///
/// let github = lucia_oauth::GitHubProvider::new(
///     "client-id",
///     "client-secret",
///     "https://app.example.com/login/github/callback",
/// )?;
/// assert_eq!(github.provider_id(), "github");
/// # Ok::<(), lucia_oauth::Error>(())
/// ```
#[derive(Clone)]
pub struct GitHubProvider {
    oauth: RestOAuth,
}

impl std::fmt::Debug for GitHubProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.oauth.debug("GitHubProvider", f)
    }
}

#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

impl GitHubProvider {
    /// GitHub.com, with the provider id `github`.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_url: &str,
    ) -> Result<Self, Error> {
        Self::with_endpoints(
            client_id,
            client_secret,
            redirect_url,
            "https://github.com/login/oauth/authorize",
            "https://github.com/login/oauth/access_token",
            "https://api.github.com/",
        )
    }

    /// Another GitHub (GitHub Enterprise Server, or a local fake in tests): its authorization
    /// and token URLs and the base URL of its REST API.
    pub fn with_endpoints(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_url: &str,
        authorize_url: &str,
        token_url: &str,
        api_url: &str,
    ) -> Result<Self, Error> {
        let endpoints = Endpoints { authorize: authorize_url, token: token_url, api: api_url };
        let oauth = RestOAuth::new(
            "github",
            &["user:email"],
            client_id.into(),
            client_secret.into(),
            redirect_url,
            &endpoints,
        )?;
        Ok(Self { oauth })
    }

    /// Another provider id than `github` (such as `github-enterprise`).
    pub fn provider_id_as(mut self, provider_id: impl Into<String>) -> Result<Self, Error> {
        self.oauth.set_provider_id(provider_id.into())?;
        Ok(self)
    }
}

impl Provider for GitHubProvider {
    /// The provider id used in keys.
    fn provider_id(&self) -> &str {
        self.oauth.provider_id()
    }

    /// Starts a sign-in, as [`OidcProvider::start`](crate::OidcProvider::start) does.
    fn start(&self, flow: &FlowCookie) -> Result<Start, Error> {
        self.oauth.start(flow)
    }

    /// Finishes a sign-in, as [`OidcProvider::finish`](crate::OidcProvider::finish) does up to
    /// the code exchange (GitHub's refusal of a code, such as `bad_verification_code`, is
    /// [`Error::TokenExchange`]); then reads the account from the API ([`Error::UserInfo`]).
    async fn finish(
        &self,
        http: &HttpClient,
        flow: &FlowCookie,
        callback: &str,
        cookie_header: Option<&str>,
    ) -> Result<ProviderUser, Error> {
        let token = self.oauth.access_token(http, flow, callback, cookie_header).await?;
        let user: GitHubUser = self.oauth.get(http, "user", &token, GITHUB_JSON).await?;
        let emails: Vec<GitHubEmail> = self.oauth.get(http, "user/emails", &token, GITHUB_JSON).await?;
        let primary = emails.into_iter().find(|email| email.primary);
        Ok(ProviderUser {
            provider_id: self.oauth.provider_id().to_owned(),
            subject: user.id.to_string(),
            email_verified: primary.as_ref().is_some_and(|email| email.verified),
            email: primary.map(|email| email.email),
        })
    }
}

/// The media type of GitHub's REST API.
const GITHUB_JSON: &str = "application/vnd.github+json";
