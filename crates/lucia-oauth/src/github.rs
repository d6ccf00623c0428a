//! GitHub: OAuth 2.0 (not OpenID Connect), the user's id from its REST API and the verified
//! email from `/user/emails`.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde::Deserialize;
use url::Url;

use crate::flow::{Callback, FlowCookie};
use crate::{Error, HttpClient, Provider, ProviderUser, Start};

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

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
    provider_id: String,
    client: Client,
    api: Url,
}

impl std::fmt::Debug for GitHubProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubProvider")
            .field("provider_id", &self.provider_id)
            .field("client_id", &self.client.client_id().as_str())
            .field("api", &self.api.as_str())
            .finish_non_exhaustive()
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
        let invalid = |what: &str, error: url::ParseError| Error::Configuration(format!("{what}: {error}"));
        let client = BasicClient::new(ClientId::new(client_id.into()))
            .set_client_secret(ClientSecret::new(client_secret.into()))
            .set_auth_uri(AuthUrl::new(authorize_url.to_owned()).map_err(|e| invalid("authorize URL", e))?)
            .set_token_uri(TokenUrl::new(token_url.to_owned()).map_err(|e| invalid("token URL", e))?)
            .set_redirect_uri(RedirectUrl::new(redirect_url.to_owned()).map_err(|e| invalid("redirect URL", e))?);
        let mut api = Url::parse(api_url).map_err(|e| invalid("API URL", e))?;
        // Relative joins need the trailing slash (`https://ghe.example.com/api/v3/`).
        if !api.path().ends_with('/') {
            api.set_path(&format!("{}/", api.path()));
        }
        Ok(Self { provider_id: "github".into(), client, api })
    }

    /// Another provider id than `github` (such as `github-enterprise`).
    pub fn provider_id_as(mut self, provider_id: impl Into<String>) -> Result<Self, Error> {
        self.provider_id = crate::check_provider_id(provider_id.into())?;
        Ok(self)
    }
}

impl Provider for GitHubProvider {
    /// The provider id used in keys.
    fn provider_id(&self) -> &str {
        &self.provider_id
    }

    /// Starts a sign-in, as [`OidcProvider::start`](crate::OidcProvider::start) does.
    fn start(&self, flow: &FlowCookie) -> Result<Start, Error> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("user:email".into()))
            .set_pkce_challenge(challenge)
            .url();
        flow.start(&self.provider_id, url, state.secret().clone(), verifier.secret().clone(), String::new())
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
        let state = flow.open(&self.provider_id, cookie_header)?;
        let callback = Callback::parse(callback);
        // GitHub does not name itself in its answers (no RFC 9207 `iss`).
        let code = callback.check(&state, None)?;
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(state.pkce_verifier))
            .request_async(http)
            .await
            .map_err(crate::token_error)?;
        let access_token = token.access_token().secret();
        let user: GitHubUser = self.get(http, "user", access_token).await?;
        let emails: Vec<GitHubEmail> = self.get(http, "user/emails", access_token).await?;
        let primary = emails.into_iter().find(|email| email.primary);
        Ok(ProviderUser {
            provider_id: self.provider_id.clone(),
            subject: user.id.to_string(),
            email_verified: primary.as_ref().is_some_and(|email| email.verified),
            email: primary.map(|email| email.email),
        })
    }
}

impl GitHubProvider {
    /// A GET of GitHub's REST API with the user's token.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        http: &HttpClient,
        path: &str,
        token: &str,
    ) -> Result<T, Error> {
        let url = self.api.join(path).map_err(|error| Error::Configuration(error.to_string()))?;
        let response = http
            .reqwest()
            .get(url)
            .bearer_auth(token)
            .header(http::header::ACCEPT, "application/vnd.github+json")
            // GitHub refuses requests without a User-Agent.
            .header(http::header::USER_AGENT, "lucia-oauth")
            .send()
            .await
            .map_err(|error| Error::UserInfo(error.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(Error::UserInfo(format!("GET /{path}: HTTP {status}")));
        }
        response.json().await.map_err(|error| Error::UserInfo(format!("GET /{path}: {}", error.without_url())))
    }
}
