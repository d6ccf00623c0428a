//! A generic OpenID Connect provider, configured by discovery from its issuer URL, and what
//! the presets (Google, Microsoft, Apple) change in it.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use cookie::SameSite;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
    CoreGenderClaim, CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType, CoreTokenResponse,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AdditionalProviderMetadata, AuthType, AuthorizationCode,
    ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdToken,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SignatureVerificationError, SubjectIdentifier, TokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::apple::AppleClientSecret;
use crate::flow::{Callback, FlowCookie, Iss};
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
    discovered: Arc<RwLock<Discovered>>,
    /// When the keys were last fetched again, to do it at most once a minute.
    refreshed: Arc<Mutex<Option<Instant>>>,
}

/// What discovery needs, kept to discover again when the provider's keys rotate.
struct Registration {
    /// The issuer URL discovery starts from (for Microsoft, the tenant's authority).
    issuer: IssuerUrl,
    client_id: String,
    client_secret: Option<String>,
    redirect_url: RedirectUrl,
    dialect: Dialect,
}

/// What a provider does differently from plain OpenID Connect.
pub(crate) enum Dialect {
    /// OpenID Connect as specified (and Google).
    Standard,
    /// Microsoft: the discovery document's issuer may be the `{tenantid}` template, checked
    /// against each ID token's `tid` instead ([`crate::microsoft`]); `email` is not verified.
    Microsoft,
    /// Apple: the client secret is a JWT signed for each token request; the callback is a
    /// cross-site `POST` (`response_mode=form_post`).
    Apple(AppleClientSecret),
}

/// The provider's metadata as the client uses it, fetched again when its keys rotate.
#[derive(Clone)]
struct Discovered {
    client: Client,
    /// The discovery document's `issuer` (for Microsoft, possibly the `{tenantid}` template).
    issuer: String,
    /// Whether the provider says it names itself in every authorization response (RFC 9207's
    /// `authorization_response_iss_parameter_supported`).
    iss_required: bool,
}

/// The discovery document's fields this crate reads beyond OpenID Connect Discovery's: RFC
/// 9207's `authorization_response_iss_parameter_supported`. Lenient: a value that is not a
/// boolean counts as false.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ExtraMetadata {
    authorization_response_iss_parameter_supported: Option<serde_json::Value>,
}

impl AdditionalProviderMetadata for ExtraMetadata {}

/// A provider's metadata as discovery reads it.
pub(crate) type ProviderMetadata = openidconnect::ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The ID token's claims this crate reads beyond the standard ones: Microsoft's tenant id and
/// its "email domain owner verified" signal. Lenient, as every provider's ID tokens are read
/// with them: a claim of an unexpected type is ignored (no tenant, not verified).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ExtraClaims {
    pub(crate) tid: Option<serde_json::Value>,
    pub(crate) xms_edov: Option<serde_json::Value>,
}

impl AdditionalClaims for ExtraClaims {}

type ExtraIdToken = IdToken<ExtraClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

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
            .field("form_post", &self.uses_form_post())
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
        let client = (client_id.into(), client_secret);
        Self::discover_dialect(http, provider_id.into(), issuer, client, redirect_url, Dialect::Standard).await
    }

    /// [`discover`](Self::discover) for a preset: `client` is the client id and secret.
    pub(crate) async fn discover_dialect(
        http: &HttpClient,
        provider_id: String,
        issuer: &str,
        client: (String, Option<String>),
        redirect_url: &str,
        dialect: Dialect,
    ) -> Result<Self, Error> {
        let provider_id = crate::check_provider_id(provider_id)?;
        let issuer =
            IssuerUrl::new(issuer.to_owned()).map_err(|error| Error::Configuration(format!("issuer URL: {error}")))?;
        let redirect_url = RedirectUrl::new(redirect_url.to_owned())
            .map_err(|error| Error::Configuration(format!("redirect URL: {error}")))?;
        let (client_id, client_secret) = client;
        let registration = Registration { issuer, client_id, client_secret, redirect_url, dialect };
        let discovered = registration.discover(http).await?;
        Ok(Self {
            provider_id,
            scopes: vec!["email".into()],
            registration: Arc::new(registration),
            discovered: Arc::new(RwLock::new(discovered)),
            refreshed: Arc::new(Mutex::new(None)),
        })
    }

    /// Whether the provider sends the user back with a cross-site `POST` whose URL-encoded
    /// body holds the callback's parameters (`response_mode=form_post`), instead of a `GET`
    /// with a query string: true for [Apple](Self::apple) only. The callback route must then
    /// accept `POST` (a form body, from the provider's origin, with no CSRF token of the
    /// application: the flow's `state` is its CSRF protection) and give the body to
    /// [`finish`](Provider::finish) as `callback`. The flow cookie is then `SameSite=None` and
    /// `Secure` ([`flow_same_site`](Self::flow_same_site)), as a `Lax` cookie is not sent with
    /// a cross-site `POST`.
    pub fn uses_form_post(&self) -> bool {
        matches!(self.registration.dialect, Dialect::Apple(_))
    }

    /// The `SameSite` attribute of this provider's flow cookie: `None` when the callback is a
    /// cross-site `POST` ([`uses_form_post`](Self::uses_form_post)), `Lax` otherwise.
    pub fn flow_same_site(&self) -> SameSite {
        if self.uses_form_post() { SameSite::None } else { SameSite::Lax }
    }

    /// The scopes asked for besides `openid` (default: `email`; add `profile` for names).
    #[must_use]
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
}

impl OidcProvider {
    /// Google's issuer.
    pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

    /// Google accounts, with the provider id `google`: [`discover`](Self::discover) with the
    /// issuer `https://accounts.google.com`. The subject is Google's `sub` (stable; not the
    /// email), the email and `email_verified` are the ID token's.
    ///
    /// Register the application in the Google Cloud console
    /// (<https://console.cloud.google.com/apis/credentials>): configure the OAuth consent
    /// screen, then "Create credentials", "OAuth client ID", application type "Web
    /// application", and add the callback route (such as
    /// `https://app.example.com/login/google/callback`) to its "Authorized redirect URIs". It
    /// gives the client id (`….apps.googleusercontent.com`) and the client secret.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), lucia_oauth::Error> {
    /// let http = lucia_oauth::HttpClient::new()?;
    /// let google = lucia_oauth::OidcProvider::google(
    ///     &http,
    ///     "client-id.apps.googleusercontent.com",
    ///     "client-secret",
    ///     "https://app.example.com/login/google/callback",
    /// )
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn google(
        http: &HttpClient,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_url: &str,
    ) -> Result<Self, Error> {
        Self::discover(http, "google", Self::GOOGLE_ISSUER, client_id, Some(client_secret.into()), redirect_url).await
    }
}

impl Provider for OidcProvider {
    /// The provider id used in keys.
    fn provider_id(&self) -> &str {
        &self.provider_id
    }

    /// [`OidcProvider::uses_form_post`]: true for [Apple](OidcProvider::apple) only.
    fn uses_form_post(&self) -> bool {
        // The inherent method (inherent methods come first in path resolution).
        OidcProvider::uses_form_post(self)
    }

    /// Starts a sign-in: the URL to redirect the browser to, and the flow cookie to set with
    /// that redirect (see [`FlowCookie`]).
    fn start(&self, flow: &FlowCookie) -> Result<Start, Error> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let scopes = self.scopes.iter().cloned().map(Scope::new);
        let client = self.discovered().client;
        let mut request = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scopes(scopes)
            .set_pkce_challenge(challenge);
        if self.uses_form_post() {
            request = request.add_extra_param("response_mode", "form_post");
        }
        let (url, state, nonce) = request.url();
        let (state, verifier, nonce) = (state.secret().clone(), verifier.secret().clone(), nonce.secret().clone());
        flow.start_same_site(&self.provider_id, url, state, verifier, nonce, self.flow_same_site())
    }

    /// Finishes a sign-in at the callback URL: `query` is the callback's query string (with or
    /// without `?`), `cookie_header` the request's `Cookie` header, if any.
    ///
    /// In order: the flow cookie must be there ([`Error::MissingFlowCookie`]), decrypt
    /// ([`Error::TamperedFlowCookie`]) and be current ([`Error::ExpiredFlow`]); the `state`
    /// must match it ([`Error::StateMismatch`]); an `iss` parameter, if any, must name this
    /// provider, and must be there if its discovery document says
    /// `authorization_response_iss_parameter_supported` (RFC 9207; [`Error::IssuerMismatch`]);
    /// the provider must not have answered with an error
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
        let mut discovered = self.discovered();
        let code = callback.check(&state, discovered.callback_issuer())?;
        let mut client = discovered.client.clone();
        if let Dialect::Apple(secret) = &self.registration.dialect {
            client = client.set_client_secret(ClientSecret::new(secret.jwt()?));
        }
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|error| Error::Configuration(error.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(state.pkce_verifier))
            .request_async(http)
            .await
            .map_err(crate::token_error)?;
        let nonce = Nonce::new(state.nonce);
        let dialect = &self.registration.dialect;
        let user = match id_token_user(&discovered, dialect, &token, &nonce) {
            Ok(user) => user,
            Err(IdTokenFailure::UnknownKey) if self.may_refresh() => {
                discovered = self.registration.discover(http).await?;
                *self.discovered.write().unwrap_or_else(PoisonError::into_inner) = discovered.clone();
                id_token_user(&discovered, dialect, &token, &nonce).map_err(IdTokenFailure::into_error)?
            }
            Err(failure) => return Err(failure.into_error()),
        };
        let (email, email_verified) = match user.email {
            Some(email) => (Some(email), user.email_verified),
            // Microsoft's user-info endpoint is Graph's and says nothing verified; Apple has none.
            None if matches!(dialect, Dialect::Standard) => {
                user_info_email(&discovered.client, http, &token, &user.subject).await?
            }
            None => (None, false),
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
    fn discovered(&self) -> Discovered {
        self.discovered.read().unwrap_or_else(PoisonError::into_inner).clone()
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
    async fn discover(&self, http: &HttpClient) -> Result<Discovered, Error> {
        let metadata = match self.dialect {
            Dialect::Microsoft => crate::microsoft::discover(http, &self.issuer).await?,
            Dialect::Standard | Dialect::Apple(_) => ProviderMetadata::discover_async(self.issuer.clone(), http)
                .await
                .map_err(|error| Error::Discovery(error.to_string()))?,
        };
        let issuer = metadata.issuer().as_str().to_owned();
        let iss_required = metadata.additional_metadata().authorization_response_iss_parameter_supported
            == Some(serde_json::Value::Bool(true));
        // A provider that takes the client secret in the request body only (Apple).
        let post_only = metadata.token_endpoint_auth_methods_supported().is_some_and(|methods| {
            methods.contains(&CoreClientAuthMethod::ClientSecretPost)
                && !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
        });
        let client_id = ClientId::new(self.client_id.clone());
        let client_secret = self.client_secret.clone().map(ClientSecret::new);
        let mut client = CoreClient::from_provider_metadata(metadata, client_id, client_secret)
            .set_redirect_uri(self.redirect_url.clone());
        if post_only {
            client = client.set_auth_type(AuthType::RequestBody);
        }
        Ok(Discovered { client, issuer, iss_required })
    }
}

impl Discovered {
    /// The issuer a callback's RFC 9207 `iss` must name, if it can be known before the ID
    /// token (not for Microsoft's `{tenantid}` template), and whether it must be there.
    fn callback_issuer(&self) -> Iss<'_> {
        if self.issuer.contains(crate::microsoft::TENANT_ID_TEMPLATE) {
            Iss::Unchecked
        } else if self.iss_required {
            Iss::Required(&self.issuer)
        } else {
            Iss::IfPresent(&self.issuer)
        }
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

/// The ID token of `token`, validated for the provider with `nonce`, and its access-token hash.
fn id_token_user(
    discovered: &Discovered,
    dialect: &Dialect,
    token: &CoreTokenResponse,
    nonce: &Nonce,
) -> Result<IdTokenUser, IdTokenFailure> {
    let invalid = |error: &dyn std::fmt::Display| IdTokenFailure::Invalid(error.to_string());
    let id_token = token.id_token().ok_or_else(|| invalid(&"the token response has no ID token"))?;
    // The same token, read with the extra claims (already parsed once, so this cannot fail
    // but for a claim of the wrong type).
    let id_token: ExtraIdToken = id_token.to_string().parse().map_err(|error| invalid(&error))?;
    let microsoft = matches!(dialect, Dialect::Microsoft);
    // Microsoft's issuer may be a template: checked below against the token's tenant.
    let verifier = discovered.client.id_token_verifier().require_issuer_match(!microsoft);
    let claims = id_token.claims(&verifier, nonce).map_err(|error| match error {
        ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey) => {
            IdTokenFailure::UnknownKey
        }
        other => invalid(&other),
    })?;
    if microsoft {
        let tid = claims.additional_claims().tid.as_ref().and_then(serde_json::Value::as_str);
        crate::microsoft::check_issuer(&discovered.issuer, claims.issuer().as_str(), tid)
            .map_err(|reason| invalid(&reason))?;
    }
    if let Some(expected) = claims.access_token_hash() {
        let algorithm = id_token.signing_alg().map_err(|error| invalid(&error))?;
        let key = id_token.signing_key(&verifier).map_err(|error| invalid(&error))?;
        let actual =
            AccessTokenHash::from_token(token.access_token(), algorithm, key).map_err(|error| invalid(&error))?;
        if actual != *expected {
            return Err(invalid(&"the access token does not match the ID token's at_hash"));
        }
    }
    let email = claims.email().map(|email| email.as_str().to_owned());
    let verified = if microsoft {
        crate::microsoft::email_verified(claims.additional_claims())
    } else {
        claims.email_verified() == Some(true)
    };
    Ok(IdTokenUser { subject: claims.subject().clone(), email_verified: email.is_some() && verified, email })
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
