//! "Sign in with …": the OAuth 2.0 and OpenID Connect providers configured by
//! environment variables, their routes (`/login/<id>`, `/login/<id>/link`,
//! `/login/<id>/callback`, from `lucia_axum::oauth`), and the account page's sign-in methods.

use std::sync::Arc;

use axum::Router;
use axum::http::request::Parts;
use lucia::Key;
use lucia_axum::oauth::OAuthRoutes;
use lucia_axum::oauth::lucia_oauth::{
    self, FlowCookie, GitHubProvider, HttpClient, OidcProvider, Provider, ProviderUser, cookie,
};
use sha2::Digest as _;

use crate::accounts::{self, Client};
use crate::{Auth, Config, UserAttributes};

/// A provider the demo signs in with, as configured.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderSetting {
    /// A generic OpenID Connect provider, found by discovery from its issuer URL
    /// (`OIDC_ISSUER`, `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET`, `OIDC_NAME`).
    Oidc {
        /// Its id in routes and keys (`OIDC_NAME`, default `oidc`).
        name: String,
        /// The issuer URL.
        issuer: String,
        /// The client id registered with it.
        client_id: String,
        /// The client secret (`None` for a public client).
        client_secret: Option<String>,
    },
    /// GitHub (`GITHUB_CLIENT_ID`, `GITHUB_CLIENT_SECRET`).
    GitHub {
        /// The OAuth app's client id.
        client_id: String,
        /// Its client secret.
        client_secret: String,
    },
}

impl std::fmt::Debug for ProviderSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Oidc { name, issuer, client_id, .. } => f
                .debug_struct("Oidc")
                .field("name", name)
                .field("issuer", issuer)
                .field("client_id", client_id)
                .finish_non_exhaustive(),
            Self::GitHub { client_id, .. } => {
                f.debug_struct("GitHub").field("client_id", client_id).finish_non_exhaustive()
            }
        }
    }
}

impl ProviderSetting {
    /// The providers configured in the environment (`env` reads a variable, `None` when
    /// unset or empty): each preset whose variables are set. A preset with some of its
    /// variables but not all is an error naming the missing one.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Vec<Self>, String> {
        let required =
            |name: &str| env(name).ok_or(format!("{name} is required with the other OIDC_/GITHUB_ settings"));
        let mut providers = Vec::new();
        if env("OIDC_ISSUER").is_some() || env("OIDC_CLIENT_ID").is_some() {
            providers.push(Self::Oidc {
                name: env("OIDC_NAME").unwrap_or_else(|| "oidc".into()),
                issuer: required("OIDC_ISSUER")?,
                client_id: required("OIDC_CLIENT_ID")?,
                client_secret: env("OIDC_CLIENT_SECRET"),
            });
        }
        // Further presets (Google, Microsoft, Discord, ...) follow GitHub's pattern:
        // `<NAME>_CLIENT_ID` and `<NAME>_CLIENT_SECRET`.
        if env("GITHUB_CLIENT_ID").is_some() || env("GITHUB_CLIENT_SECRET").is_some() {
            providers.push(Self::GitHub {
                client_id: required("GITHUB_CLIENT_ID")?,
                client_secret: required("GITHUB_CLIENT_SECRET")?,
            });
        }
        Ok(providers)
    }

    /// The provider's id in routes and keys.
    pub fn id(&self) -> &str {
        match self {
            Self::Oidc { name, .. } => name,
            Self::GitHub { .. } => "github",
        }
    }

    /// The provider's name on buttons ("Sign in with …").
    pub fn label(&self) -> &str {
        match self {
            Self::Oidc { name, .. } => name,
            Self::GitHub { .. } => "GitHub",
        }
    }
}

/// The configured providers' ids and labels, for the pages (a request extension), and the
/// origins of their authorization pages.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    links: Arc<Vec<ProviderLink>>,
    origins: Arc<Vec<String>>,
}

/// One configured provider, as the pages show it.
#[derive(Debug, Clone)]
pub struct ProviderLink {
    /// Its id, in `/login/<id>`.
    pub id: String,
    /// Its name on buttons.
    pub label: String,
}

impl Providers {
    /// The providers, in configuration order.
    pub fn list(&self) -> &[ProviderLink] {
        &self.links
    }

    /// The origins of the providers' authorization pages: the link form's `POST` is
    /// redirected there, so the pages' `Content-Security-Policy` must allow them in
    /// `form-action`.
    pub fn authorization_origins(&self) -> &[String] {
        &self.origins
    }

    /// The label of the provider `id`, if configured.
    fn label(&self, id: &str) -> Option<&str> {
        self.links.iter().find(|provider| provider.id == id).map(|provider| provider.label.as_str())
    }
}

/// Why the providers could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OAuthSetupError {
    /// Providers need the public origin: their redirect URL is built from it.
    #[error("sign-in providers need --public-origin: the redirect URL is <public origin>/login/<provider>/callback")]
    NoPublicOrigin,
    /// The flow cookie key is too short.
    #[error("OAUTH_COOKIE_KEY must be at least 32 characters")]
    ShortKey,
    /// Two providers have the same id.
    #[error("two sign-in providers are named {0:?}")]
    DuplicateName(String),
    /// A provider's settings are wrong, or its discovery failed.
    #[error("sign-in provider {provider}: {error}")]
    Provider {
        /// The provider's id.
        provider: String,
        /// What failed (no secret in it).
        error: lucia_oauth::Error,
    },
}

/// The flow cookie key: derived from `secret` (SHA-512 of it; at least 32 characters), or a
/// fresh random key when none is configured, which flows in progress do not survive a restart
/// with, and which several instances do not share.
fn flow_key(secret: Option<&str>) -> Result<cookie::Key, OAuthSetupError> {
    match secret {
        None => Ok(cookie::Key::generate()),
        Some(secret) if secret.len() < 32 => Err(OAuthSetupError::ShortKey),
        Some(secret) => Ok(cookie::Key::from(sha2::Sha512::digest(secret.as_bytes()).as_slice())),
    }
}

/// The routes of every configured provider, and their list for the pages. No provider: no
/// routes, an empty list.
pub async fn routes(config: &Config) -> Result<(Router<Auth>, Providers), OAuthSetupError> {
    let mut router = Router::new();
    let mut links = Vec::new();
    let mut origins = Vec::new();
    if config.oauth_providers.is_empty() {
        return Ok((router, Providers::default()));
    }
    let origin = config.public_origin.as_ref().ok_or(OAuthSetupError::NoPublicOrigin)?;
    let flows = FlowCookie::new(flow_key(config.oauth_cookie_key.as_deref())?).secure(config.production);
    if config.oauth_cookie_key.is_none() {
        tracing::warn!("no OAUTH_COOKIE_KEY: sign-ins with a provider use a key made at start (one instance only)");
    }
    for setting in &config.oauth_providers {
        let id = setting.id().to_owned();
        if links.iter().any(|link: &ProviderLink| link.id == id) {
            return Err(OAuthSetupError::DuplicateName(id));
        }
        let failed = |error| OAuthSetupError::Provider { provider: id.clone(), error };
        let redirect_url = format!("{origin}/login/{id}/callback");
        let http = HttpClient::new().map_err(failed)?;
        router = match setting {
            ProviderSetting::Oidc { issuer, client_id, client_secret, .. } => {
                let provider =
                    OidcProvider::discover(&http, &id, issuer, client_id, client_secret.clone(), &redirect_url)
                        .await
                        .map_err(failed)?;
                origins.push(authorization_origin(&provider, &flows).map_err(failed)?);
                router.merge(provider_routes(provider, http, flows.clone()).map_err(failed)?)
            }
            ProviderSetting::GitHub { client_id, client_secret } => {
                let provider = GitHubProvider::new(client_id, client_secret, &redirect_url).map_err(failed)?;
                origins.push(authorization_origin(&provider, &flows).map_err(failed)?);
                router.merge(provider_routes(provider, http, flows.clone()).map_err(failed)?)
            }
        };
        tracing::info!(provider = %id, %redirect_url, "sign-in provider ready");
        links.push(ProviderLink { id, label: setting.label().to_owned() });
    }
    Ok((router, Providers { links: Arc::new(links), origins: Arc::new(origins) }))
}

/// The origin of `provider`'s authorization page (from a flow started and thrown away).
fn authorization_origin(provider: &impl Provider, flows: &FlowCookie) -> Result<String, lucia_oauth::Error> {
    Ok(provider.start(flows)?.authorization_url.origin().ascii_serialization())
}

/// One provider's routes: new users named after their email or subject, sessions recorded
/// with the client's address and browser, failures explained on the sign-in page.
fn provider_routes<P: Provider + 'static>(
    provider: P,
    http: HttpClient,
    flows: FlowCookie,
) -> Result<Router<Auth>, lucia_oauth::Error> {
    let routes = OAuthRoutes::<Auth, _>::new(provider, http, flows, new_user)?
        .session_attributes(|parts: &Parts| Client::from_parts(parts).session_attributes())
        .redirect_to("/account")
        .link_redirect_to("/account?notice=linked")
        .failure_redirect_to("/login");
    Ok(routes.router())
}

/// A new user for a provider account: a username from the email's local part (or the
/// subject), then the same with a random suffix when it is taken, then also without the email
/// (another account holds it). The email counts as verified only if the provider says so.
fn new_user(account: &ProviderUser, attempt: u32) -> UserAttributes {
    let email = account.email.as_deref().map(str::to_lowercase);
    let base = email.as_deref().and_then(|email| email.split('@').next()).unwrap_or(&account.subject);
    let mut username: String =
        base.chars().filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c)).take(24).collect();
    if username.len() < 3 {
        username = format!("{}-{username}", account.provider_id).chars().take(24).collect();
    }
    if attempt > 0 {
        username = format!("{username}-{}", lucia::generate_random_string(6));
    }
    let email = if attempt < 2 { email } else { None };
    UserAttributes { username, email_verified: email.is_some() && account.email_verified, email }
}

/// One way to sign in, on the account page: the password (the `username:` key) or a provider
/// account.
#[derive(Debug, Clone)]
pub struct Method {
    /// "Password", or the provider's label.
    pub label: String,
    /// The username, or the provider account's id.
    pub detail: String,
    /// The key id, `provider:subject`, that the unlink form sends.
    pub key: String,
}

/// The user's sign-in methods: its password key and its provider keys (not the `email:` key,
/// which finds an account for a password reset but signs no one in).
pub async fn methods(auth: &Auth, user_id: &str, providers: &Providers) -> Result<Vec<Method>, lucia::Error> {
    let keys = auth.get_all_user_keys(user_id).await?;
    Ok(keys.iter().filter_map(|key| method(key, providers)).collect())
}

fn method(key: &Key, providers: &Providers) -> Option<Method> {
    let label = match key.provider_id.as_str() {
        accounts::EMAIL_PROVIDER => return None,
        accounts::PROVIDER => "Password".to_owned(),
        other => providers.label(other).unwrap_or(other).to_owned(),
    };
    Some(Method {
        label,
        detail: key.provider_user_id.clone(),
        key: format!("{}:{}", key.provider_id, key.provider_user_id),
    })
}

/// Why a sign-in method was not removed.
#[derive(Debug, thiserror::Error)]
pub enum UnlinkError {
    /// It is the user's only way to sign in.
    #[error("This is your only way to sign in. Link another one before removing it.")]
    LastMethod,
    /// Not one of the user's methods (already removed, or someone else's).
    #[error("That sign-in method is not linked to your account.")]
    Unknown,
    /// The store failed.
    #[error(transparent)]
    Internal(#[from] lucia::Error),
}

/// Removes the sign-in method `key` (`provider:subject`) of `user_id`, unless it is the last
/// one. Two removals at once can each see the other method still there; the account page
/// sends one at a time.
pub async fn unlink(auth: &Auth, user_id: &str, key: &str, providers: &Providers) -> Result<(), UnlinkError> {
    let methods = methods(auth, user_id, providers).await?;
    if !methods.iter().any(|method| method.key == key) {
        return Err(UnlinkError::Unknown);
    }
    if methods.len() < 2 {
        return Err(UnlinkError::LastMethod);
    }
    let (provider, subject) = key.split_once(':').ok_or(UnlinkError::Unknown)?;
    match auth.delete_key(provider, subject).await {
        Ok(()) | Err(lucia::Error::InvalidKeyId) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_come_from_the_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
        };
        assert_eq!(ProviderSetting::from_env(env(&[])).unwrap(), vec![]);
        let both = ProviderSetting::from_env(env(&[
            ("OIDC_ISSUER", "https://op.example"),
            ("OIDC_CLIENT_ID", "id"),
            ("OIDC_CLIENT_SECRET", "oidc-secret"),
            ("GITHUB_CLIENT_ID", "gh"),
            ("GITHUB_CLIENT_SECRET", "gh-secret"),
        ]))
        .unwrap();
        assert_eq!(both.iter().map(ProviderSetting::id).collect::<Vec<_>>(), ["oidc", "github"]);
        let shown = format!("{both:?}");
        assert!(!shown.contains("oidc-secret") && !shown.contains("gh-secret"), "{shown}");
        let named =
            ProviderSetting::from_env(env(&[("OIDC_ISSUER", "x"), ("OIDC_CLIENT_ID", "i"), ("OIDC_NAME", "corp")]));
        assert_eq!(named.unwrap()[0].id(), "corp");
        let missing = ProviderSetting::from_env(env(&[("GITHUB_CLIENT_ID", "gh")])).unwrap_err();
        assert!(missing.contains("GITHUB_CLIENT_SECRET"), "{missing}");
    }

    #[test]
    fn new_users_are_named_after_their_email_or_subject() {
        let account = |subject: &str, email: Option<&str>, verified: bool| ProviderUser {
            provider_id: "oidc".into(),
            subject: subject.into(),
            email: email.map(Into::into),
            email_verified: verified,
        };
        let ada = new_user(&account("248289761001", Some("Ada.L@Example.com"), true), 0);
        assert_eq!(
            (ada.username.as_str(), ada.email.as_deref(), ada.email_verified),
            ("ada.l", Some("ada.l@example.com"), true)
        );
        let unverified = new_user(&account("1", Some("bob@example.com"), false), 0);
        assert!(!unverified.email_verified);
        let short = new_user(&account("7", None, false), 0);
        assert_eq!((short.username.as_str(), short.email.as_deref()), ("oidc-7", None));
        let taken = new_user(&account("x", Some("ada@example.com"), true), 1);
        assert!(taken.username.starts_with("ada-") && taken.email.is_some());
        let email_taken = new_user(&account("x", Some("ada@example.com"), true), 2);
        assert_eq!((email_taken.email.as_deref(), email_taken.email_verified), (None, false));
        for user in [ada, short, taken, email_taken] {
            accounts::check_username(&user.username).unwrap();
        }
    }

    #[tokio::test]
    async fn providers_need_the_public_origin_and_keep_their_secrets() {
        let oidc = ProviderSetting::Oidc {
            name: "oidc".into(),
            issuer: "http://127.0.0.1:9".into(),
            client_id: "id".into(),
            client_secret: Some("the-client-secret".into()),
        };
        let config = Config {
            oauth_providers: vec![oidc],
            oauth_cookie_key: Some("the cookie key, thirty-two characters or more".into()),
            ..Config::default()
        };
        assert!(matches!(routes(&config).await, Err(OAuthSetupError::NoPublicOrigin)));
        let shown = format!("{config:?}");
        assert!(!shown.contains("the-client-secret") && !shown.contains("the cookie key"), "{shown}");
        // No provider, no origin needed.
        let (_, providers) = routes(&Config::default()).await.unwrap();
        assert!(providers.list().is_empty() && providers.authorization_origins().is_empty());
    }

    #[test]
    fn flow_keys_come_from_a_long_enough_secret() {
        assert!(matches!(flow_key(Some("short")), Err(OAuthSetupError::ShortKey)));
        let secret = "a secret of at least thirty-two characters";
        assert_eq!(flow_key(Some(secret)).unwrap().master(), flow_key(Some(secret)).unwrap().master());
        assert_ne!(flow_key(None).unwrap().master(), flow_key(None).unwrap().master());
    }
}
