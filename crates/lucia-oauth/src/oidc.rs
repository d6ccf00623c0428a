//! A generic OpenID Connect provider, configured by discovery from its issuer URL.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, SignatureVerificationError, SubjectIdentifier, TokenResponse,
};

use crate::flow::{Callback, FlowCookie};
use crate::{Error, HttpClient, Provider, ProviderUser, Start};

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
/// use lucia_oauth::{FlowCookie, HttpClient, OidcProvider, Provider};
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
    scopes: Vec<String>,
    registration: Arc<Registration>,
    /// Replaced when the provider's signing keys rotate (see [`OidcProvider::finish`]).
    client: Arc<RwLock<Client>>,
    /// When the keys were last fetched again, to do it at most once a minute.
    refreshed: Arc<Mutex<Option<Instant>>>,
}

/// What discovery needs, kept to discover again when the provider's keys rotate.
struct Registration {
    issuer: IssuerUrl,
    client_id: String,
    client_secret: Option<String>,
    redirect_url: RedirectUrl,
}

/// The least time between two fetches of a provider's keys after an unknown key.
const KEYS_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// The account as the ID token says.
struct IdTokenUser {
    subject: SubjectIdentifier,
    email: Option<String>,
    email_verified: bool,
}

/// Why an ID token was refused: signed with a key the client does not know (the provider may
/// have rotated its keys), or anything else.
enum IdTokenFailure {
    UnknownKey,
    Invalid(String),
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("provider_id", &self.provider_id)
            .field("issuer", &self.registration.issuer.as_str())
            .field("client_id", &self.registration.client_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl OidcProvider {
    /// Fetches the provider's discovery document (`<issuer>/.well-known/openid-configuration`)
    /// and its signing keys, and checks that the document names `issuer` as its issuer.
    ///
    /// `provider_id` names the provider in keys (`<provider_id>:<subject>`) and in the flow
    /// cookie: 1 to 64 ASCII letters, digits, `-` or `_`; it should not change once users have
    /// signed in with it. Errors: [`Error::Configuration`] (an invalid URL or provider id),
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
        let registration = Registration { issuer, client_id: client_id.into(), client_secret, redirect_url };
        let client = registration.discover(http).await?;
        Ok(Self {
            provider_id,
            scopes: vec!["email".into()],
            registration: Arc::new(registration),
            client: Arc::new(RwLock::new(client)),
            refreshed: Arc::new(Mutex::new(None)),
        })
    }

    /// The scopes asked for besides `openid` (default: `email`; add `profile` for names).
    #[must_use]
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
}

impl Provider for OidcProvider {
    /// The provider id used in keys.
    fn provider_id(&self) -> &str {
        &self.provider_id
    }

    /// Starts a sign-in: the URL to redirect the browser to, and the flow cookie to set with
    /// that redirect (see [`FlowCookie`]).
    fn start(&self, flow: &FlowCookie) -> Result<Start, Error> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let scopes = self.scopes.iter().cloned().map(Scope::new);
        let (url, state, nonce) = self
            .client()
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scopes(scopes)
            .set_pkce_challenge(challenge)
            .url();
        flow.start(&self.provider_id, url, state.secret().clone(), verifier.secret().clone(), nonce.secret().clone())
    }

    /// Finishes a sign-in at the callback URL: `query` is the callback's query string (with or
    /// without `?`), `cookie_header` the request's `Cookie` header, if any.
    ///
    /// In order: the flow cookie must be there ([`Error::MissingFlowCookie`]), decrypt
    /// ([`Error::TamperedFlowCookie`]) and be current ([`Error::ExpiredFlow`]); the `state`
    /// must match it ([`Error::StateMismatch`]); an `iss` parameter, if any, must name this
    /// provider ([`Error::IssuerMismatch`]); the provider must not have answered with an error
    /// ([`Error::Provider`], such as `access_denied`) and must have sent a code
    /// ([`Error::MissingCode`]); the code is exchanged with the PKCE verifier
    /// ([`Error::TokenExchange`]: a replayed code fails here); the ID token must be valid for
    /// this client and carry the flow's nonce ([`Error::IdToken`]). An ID token signed with a
    /// key that discovery did not see makes the provider's metadata and keys be fetched again
    /// (providers rotate their keys), at most once a minute, and is checked again with them.
    /// The email comes from the ID token or, when it has none, from the provider's user-info
    /// endpoint ([`Error::UserInfo`]).
    ///
    /// Remove the flow cookie in the answer whatever the outcome ([`FlowCookie::removal`]).
    async fn finish(
        &self,
        http: &HttpClient,
        flow: &FlowCookie,
        callback: &str,
        cookie_header: Option<&str>,
    ) -> Result<ProviderUser, Error> {
        let state = flow.open(&self.provider_id, cookie_header)?;
        let callback = Callback::parse(callback);
        let code = callback.check(&state, Some(self.registration.issuer.as_str()))?;
        let mut client = self.client();
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|error| Error::Configuration(error.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(state.pkce_verifier))
            .request_async(http)
            .await
            .map_err(crate::token_error)?;
        let nonce = Nonce::new(state.nonce);
        let user = match id_token_user(&client, &token, &nonce) {
            Ok(user) => user,
            Err(IdTokenFailure::UnknownKey) if self.may_refresh() => {
                client = self.registration.discover(http).await?;
                *self.client.write().unwrap_or_else(PoisonError::into_inner) = client.clone();
                id_token_user(&client, &token, &nonce).map_err(IdTokenFailure::into_error)?
            }
            Err(failure) => return Err(failure.into_error()),
        };
        let (email, email_verified) = match user.email {
            Some(email) => (Some(email), user.email_verified),
            None => user_info_email(&client, http, &token, &user.subject).await?,
        };
        Ok(ProviderUser {
            provider_id: self.provider_id.clone(),
            subject: user.subject.to_string(),
            email,
            email_verified,
        })
    }
}

impl OidcProvider {
    /// The current client (its keys may be replaced by [`finish`](Self::finish)).
    fn client(&self) -> Client {
        self.client.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Whether the keys may be fetched again now, counting this fetch if so.
    fn may_refresh(&self) -> bool {
        let mut refreshed = self.refreshed.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if refreshed.is_some_and(|last| now.duration_since(last) < KEYS_REFRESH_INTERVAL) {
            return false;
        }
        *refreshed = Some(now);
        true
    }
}

impl Registration {
    /// The provider's metadata and keys, as a client of this registration.
    async fn discover(&self, http: &HttpClient) -> Result<Client, Error> {
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), http)
            .await
            .map_err(|error| Error::Discovery(error.to_string()))?;
        let client_id = ClientId::new(self.client_id.clone());
        let client_secret = self.client_secret.clone().map(ClientSecret::new);
        Ok(CoreClient::from_provider_metadata(metadata, client_id, client_secret)
            .set_redirect_uri(self.redirect_url.clone()))
    }
}

impl IdTokenFailure {
    fn into_error(self) -> Error {
        match self {
            Self::UnknownKey => Error::IdToken("signed with a key the provider does not publish".into()),
            Self::Invalid(reason) => Error::IdToken(reason),
        }
    }
}

/// The ID token of `token`, validated for `client` with `nonce`, and its access-token hash.
fn id_token_user(client: &Client, token: &CoreTokenResponse, nonce: &Nonce) -> Result<IdTokenUser, IdTokenFailure> {
    let invalid = |error: &dyn std::fmt::Display| IdTokenFailure::Invalid(error.to_string());
    let id_token = token.id_token().ok_or_else(|| invalid(&"the token response has no ID token"))?;
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, nonce).map_err(|error| match error {
        ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey) => {
            IdTokenFailure::UnknownKey
        }
        other => invalid(&other),
    })?;
    if let Some(expected) = claims.access_token_hash() {
        let algorithm = id_token.signing_alg().map_err(|error| invalid(&error))?;
        let key = id_token.signing_key(&verifier).map_err(|error| invalid(&error))?;
        let actual =
            AccessTokenHash::from_token(token.access_token(), algorithm, key).map_err(|error| invalid(&error))?;
        if actual != *expected {
            return Err(invalid(&"the access token does not match the ID token's at_hash"));
        }
    }
    Ok(IdTokenUser {
        subject: claims.subject().clone(),
        email: claims.email().map(|email| email.as_str().to_owned()),
        email_verified: claims.email().is_some() && claims.email_verified() == Some(true),
    })
}

/// The email and whether it is verified from the user-info endpoint (none without one).
async fn user_info_email(
    client: &Client,
    http: &HttpClient,
    token: &CoreTokenResponse,
    subject: &SubjectIdentifier,
) -> Result<(Option<String>, bool), Error> {
    let Ok(request) = client.user_info(token.access_token().clone(), Some(subject.clone())) else {
        return Ok((None, false));
    };
    let claims: CoreUserInfoClaims =
        request.request_async(http).await.map_err(|error| Error::UserInfo(error.to_string()))?;
    let email = claims.email().map(|email| email.as_str().to_owned());
    let verified = email.is_some() && claims.email_verified() == Some(true);
    Ok((email, verified))
}
