//! A generic OpenID Connect provider, configured by discovery from its issuer URL.

use crate::flow::{Callback, FlowCookie, FlowState};
use crate::{Error, HttpClient, ProviderUser, Start};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};

type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// An OpenID Connect provider found by discovery from its issuer URL: the authorization-code
/// flow with PKCE (S256), `state` and `nonce`, and ID-token validation (signature by the
/// provider's published keys, issuer, audience, expiry, nonce, and the access-token hash when
/// present).
///
/// Register the application with the provider first: it gives a client id and (for a
/// confidential client such as a server) a client secret, and it must list the redirect URL
/// (the application's callback route, such as `https://example.com/login/oidc/callback`)
/// exactly. The scopes asked for are `openid email` unless [`scopes`](Self::scopes) says
/// otherwise.
///
/// ```no_run
/// use lucia_oauth::{FlowCookie, HttpClient, OidcProvider};
///
/// # async fn example() -> Result<(), lucia_oauth::Error> {
/// let http = HttpClient::new()?;
/// let provider = OidcProvider::discover(
///     &http,
///     "oidc",
///     "https://accounts.example.com",
///     "client-id",
///     Some("client-secret".into()),
///     "https://app.example.com/login/oidc/callback",
/// )
/// .await?;
/// let flow = FlowCookie::new(cookie::Key::generate());
///
/// // GET /login/oidc: redirect to `start.authorization_url`, with `start.cookie` set.
/// let start = provider.start(&flow)?;
///
/// // GET /login/oidc/callback?code=...&state=...: the query and the Cookie header.
/// # let (query, cookie_header) = ("", Some(""));
/// let user = provider.finish(&http, &flow, query, cookie_header).await?;
/// println!("{}:{} <{:?}>", user.provider_id, user.subject, user.email);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OidcProvider {
    provider_id: String,
    issuer: String,
    client: Client,
    scopes: Vec<String>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("provider_id", &self.provider_id)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client.client_id().as_str())
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl OidcProvider {
    /// Fetches the provider's discovery document (`<issuer>/.well-known/openid-configuration`)
    /// and its signing keys, and checks that the document names `issuer` as its issuer.
    ///
    /// `provider_id` names the provider in keys (`<provider_id>:<subject>`) and in the flow
    /// cookie; it must not contain `:`, and should not change once users have signed in with
    /// it. Errors: [`Error::Configuration`] (an invalid URL or provider id),
    /// [`Error::Discovery`].
    pub async fn discover(
        http: &HttpClient,
        provider_id: impl Into<String>,
        issuer: &str,
        client_id: impl Into<String>,
        client_secret: Option<String>,
        redirect_url: &str,
    ) -> Result<Self, Error> {
        let provider_id = crate::check_provider_id(provider_id.into())?;
        let issuer =
            IssuerUrl::new(issuer.to_owned()).map_err(|error| Error::Configuration(format!("issuer URL: {error}")))?;
        let redirect_url = RedirectUrl::new(redirect_url.to_owned())
            .map_err(|error| Error::Configuration(format!("redirect URL: {error}")))?;
        let issuer_text = issuer.as_str().to_owned();
        let metadata = CoreProviderMetadata::discover_async(issuer, http)
            .await
            .map_err(|error| Error::Discovery(error.to_string()))?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id.into()),
            client_secret.map(ClientSecret::new),
        )
        .set_redirect_uri(redirect_url);
        Ok(Self { provider_id, issuer: issuer_text, client, scopes: vec!["email".into()] })
    }

    /// The scopes asked for besides `openid` (default: `email`; add `profile` for names).
    #[must_use]
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The provider id used in keys.
    pub fn provider_id(&self) -> &str {
        &self.provider_id
    }

    /// Starts a sign-in: the URL to redirect the browser to, and the flow cookie to set with
    /// that redirect (see [`FlowCookie`]).
    pub fn start(&self, flow: &FlowCookie) -> Result<Start, Error> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let scopes = self.scopes.iter().cloned().map(Scope::new);
        let (url, state, nonce) = self
            .client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scopes(scopes)
            .set_pkce_challenge(challenge)
            .url();
        let state = FlowState {
            provider: self.provider_id.clone(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
            expires_at_ms: flow.expires_at_ms(),
        };
        Ok(Start { authorization_url: url, cookie: flow.seal(&self.provider_id, &state)? })
    }

    /// Finishes a sign-in at the callback URL: `query` is the callback's query string (with or
    /// without `?`), `cookie_header` the request's `Cookie` header, if any.
    ///
    /// In order: the flow cookie must be there ([`Error::MissingFlowCookie`]), decrypt
    /// ([`Error::TamperedFlowCookie`]) and be current ([`Error::ExpiredFlow`]); the `state`
    /// must match it ([`Error::StateMismatch`]); the provider must not have answered with an
    /// error ([`Error::Provider`], such as `access_denied`) and must have sent a code
    /// ([`Error::MissingCode`]); the code is exchanged with the PKCE verifier
    /// ([`Error::TokenExchange`]: a replayed code fails here); the ID token must be valid for
    /// this client and carry the flow's nonce ([`Error::IdToken`]). The email comes from the
    /// ID token or, when it has none, from the provider's user-info endpoint
    /// ([`Error::UserInfo`]).
    ///
    /// Remove the flow cookie in the answer whatever the outcome ([`FlowCookie::removal`]).
    pub async fn finish(
        &self,
        http: &HttpClient,
        flow: &FlowCookie,
        query: &str,
        cookie_header: Option<&str>,
    ) -> Result<ProviderUser, Error> {
        let state = flow.open(&self.provider_id, cookie_header)?;
        let callback = Callback::parse(query);
        let code = callback.check(&state)?;
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|error| Error::Configuration(error.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(state.pkce_verifier))
            .request_async(http)
            .await
            .map_err(crate::token_error)?;
        let id_token = token.id_token().ok_or_else(|| Error::IdToken("the token response has no ID token".into()))?;
        let verifier = self.client.id_token_verifier();
        let claims =
            id_token.claims(&verifier, &Nonce::new(state.nonce)).map_err(|error| Error::IdToken(error.to_string()))?;
        if let Some(expected) = claims.access_token_hash() {
            let algorithm = id_token.signing_alg().map_err(|error| Error::IdToken(error.to_string()))?;
            let key = id_token.signing_key(&verifier).map_err(|error| Error::IdToken(error.to_string()))?;
            let actual = AccessTokenHash::from_token(token.access_token(), algorithm, key)
                .map_err(|error| Error::IdToken(error.to_string()))?;
            if actual != *expected {
                return Err(Error::IdToken("the access token does not match the ID token's at_hash".into()));
            }
        }
        let subject = claims.subject().to_string();
        let (email, email_verified) = match claims.email() {
            Some(email) => (Some(email.as_str().to_owned()), claims.email_verified().unwrap_or(false)),
            None => self.user_info_email(http, &token, claims.subject()).await?,
        };
        Ok(ProviderUser { provider_id: self.provider_id.clone(), subject, email, email_verified })
    }

    /// The email and whether it is verified from the user-info endpoint (none without one).
    async fn user_info_email(
        &self,
        http: &HttpClient,
        token: &openidconnect::core::CoreTokenResponse,
        subject: &openidconnect::SubjectIdentifier,
    ) -> Result<(Option<String>, bool), Error> {
        let Ok(request) = self.client.user_info(token.access_token().clone(), Some(subject.clone())) else {
            return Ok((None, false));
        };
        let claims: CoreUserInfoClaims =
            request.request_async(http).await.map_err(|error| Error::UserInfo(error.to_string()))?;
        Ok((
            claims.email().map(|email| email.as_str().to_owned()),
            claims.email().is_some() && claims.email_verified() == Some(true),
        ))
    }
}
