//! What GitHub and Discord share: OAuth 2.0 (not OpenID Connect) with `state` and PKCE, then
//! the account read from the provider's REST API with the access token.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use url::Url;

use crate::flow::{Callback, FlowCookie, Iss};
use crate::{Error, HttpClient, Start};

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// A provider's endpoints: authorization and token URLs, and the base URL of its REST API.
pub(crate) struct Endpoints<'a> {
    pub(crate) authorize: &'a str,
    pub(crate) token: &'a str,
    pub(crate) api: &'a str,
}

/// An OAuth 2.0 client whose account comes from a REST API. Its `Debug` shows no secret.
#[derive(Clone)]
pub(crate) struct RestOAuth {
    provider_id: String,
    scopes: &'static [&'static str],
    client: Client,
    api: Url,
}

impl RestOAuth {
    pub(crate) fn new(
        provider_id: &str,
        scopes: &'static [&'static str],
        client_id: String,
        client_secret: String,
        redirect_url: &str,
        endpoints: &Endpoints<'_>,
    ) -> Result<Self, Error> {
        let invalid = |what: &str, error: url::ParseError| Error::Configuration(format!("{what}: {error}"));
        let client = BasicClient::new(ClientId::new(client_id))
            .set_client_secret(ClientSecret::new(client_secret))
            .set_auth_uri(AuthUrl::new(endpoints.authorize.to_owned()).map_err(|e| invalid("authorize URL", e))?)
            .set_token_uri(TokenUrl::new(endpoints.token.to_owned()).map_err(|e| invalid("token URL", e))?)
            .set_redirect_uri(RedirectUrl::new(redirect_url.to_owned()).map_err(|e| invalid("redirect URL", e))?);
        let mut api = Url::parse(endpoints.api).map_err(|e| invalid("API URL", e))?;
        // Relative joins need the trailing slash (`https://ghe.example.com/api/v3/`).
        if !api.path().ends_with('/') {
            api.set_path(&format!("{}/", api.path()));
        }
        Ok(Self { provider_id: crate::check_provider_id(provider_id.to_owned())?, scopes, client, api })
    }

    pub(crate) fn provider_id(&self) -> &str {
        &self.provider_id
    }

    pub(crate) fn set_provider_id(&mut self, provider_id: String) -> Result<(), Error> {
        self.provider_id = crate::check_provider_id(provider_id)?;
        Ok(())
    }

    /// The `Debug` of a provider type named `name`: no secret.
    pub(crate) fn debug(&self, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(name)
            .field("provider_id", &self.provider_id)
            .field("client_id", &self.client.client_id().as_str())
            .field("api", &self.api.as_str())
            .finish_non_exhaustive()
    }

    /// The start of a sign-in: PKCE (S256), `state`, the scopes.
    pub(crate) fn start(&self, flow: &FlowCookie) -> Result<Start, Error> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.scopes.iter().map(|scope| Scope::new((*scope).to_owned())))
            .set_pkce_challenge(challenge)
            .url();
        flow.start(&self.provider_id, url, state.secret().clone(), verifier.secret().clone(), String::new())
    }

    /// Checks the callback against the flow cookie and exchanges its code (with the PKCE
    /// verifier) for the access token.
    pub(crate) async fn access_token(
        &self,
        http: &HttpClient,
        flow: &FlowCookie,
        callback: &str,
        cookie_header: Option<&str>,
    ) -> Result<String, Error> {
        let state = flow.open(&self.provider_id, cookie_header)?;
        let callback = Callback::parse(callback);
        // Neither GitHub nor Discord names itself in its answers (no RFC 9207 `iss`).
        let code = callback.check(&state, Iss::Unchecked)?;
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(state.pkce_verifier))
            .request_async(http)
            .await
            .map_err(crate::token_error)?;
        Ok(token.access_token().secret().clone())
    }

    /// A GET of the REST API at `path` (relative to the API's base URL) with the user's token,
    /// asking for `accept`; the JSON answer, or [`Error::UserInfo`].
    pub(crate) async fn get<T: serde::de::DeserializeOwned>(
        &self,
        http: &HttpClient,
        path: &str,
        token: &str,
        accept: &str,
    ) -> Result<T, Error> {
        let url = self.api.join(path).map_err(|error| Error::Configuration(error.to_string()))?;
        let mut response = http
            .reqwest()
            .get(url)
            .bearer_auth(token)
            .header(http::header::ACCEPT, accept)
            // GitHub refuses requests without a User-Agent.
            .header(http::header::USER_AGENT, "lucia-oauth")
            .send()
            .await
            .map_err(|error| Error::UserInfo(error.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(Error::UserInfo(format!("GET /{path}: HTTP {status}")));
        }
        // Bounded as every provider response is: not an allocation the provider chooses.
        let body = crate::http::read_body(&mut response).await.map_err(|error| match error {
            crate::HttpError::Request(error) => Error::UserInfo(format!("GET /{path}: {}", error.without_url())),
            other => Error::UserInfo(format!("GET /{path}: {other}")),
        })?;
        // The parser's message can quote the body: not repeated.
        serde_json::from_slice(&body).map_err(|_| Error::UserInfo(format!("GET /{path}: invalid JSON response")))
    }
}
