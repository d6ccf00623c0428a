//! "Sign in with …": the OAuth 2.0 and OpenID Connect providers configured by
//! environment variables, their routes (`/login/<id>`, `/login/<id>/link`,
//! `/login/<id>/callback`, from `lucia_axum::oauth`), and the account page's sign-in methods.

use std::sync::Arc;

use axum::Router;
use axum::http::request::Parts;
use lucia::{Key, SignInMethodDeletion};
use lucia_axum::oauth::OAuthRoutes;
use lucia_axum::oauth::lucia_oauth::{
    self, AppleClientSecret, DiscordProvider, FlowCookie, GitHubProvider, HttpClient, OidcProvider, Provider,
    ProviderUser, cookie,
};
use sha2::Digest as _;

use crate::accounts::{self, Client};
use crate::{AppState, Auth, Config, UserAttributes};

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
    /// A preset of lucia-oauth, with the values of its variables ([`Preset::variables`], in
    /// that order; defaults filled in).
    Preset {
        /// Which one.
        preset: Preset,
        /// The values of [`Preset::variables`], in their order.
        values: Vec<String>,
    },
}

/// The presets of lucia-oauth the demo configures from `<PREFIX>_…` variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Preset {
    /// GitHub: `GITHUB_CLIENT_ID`, `GITHUB_CLIENT_SECRET`.
    GitHub,
    /// Google: `GOOGLE_CLIENT_ID`, `GOOGLE_CLIENT_SECRET`.
    Google,
    /// Microsoft: `MICROSOFT_CLIENT_ID`, `MICROSOFT_CLIENT_SECRET`, `MICROSOFT_TENANT`
    /// (default `common`: any work, school or personal account).
    Microsoft,
    /// Discord: `DISCORD_CLIENT_ID`, `DISCORD_CLIENT_SECRET`.
    Discord,
    /// Sign in with Apple: `APPLE_CLIENT_ID` (the Services ID), `APPLE_TEAM_ID`,
    /// `APPLE_KEY_ID`, `APPLE_PRIVATE_KEY_FILE` (the path of the key's `.p8` file).
    Apple,
}

/// One environment variable of a preset.
#[derive(Debug)]
pub struct Variable {
    /// Its name, such as `GOOGLE_CLIENT_ID`.
    pub name: &'static str,
    /// The value when unset; `None`: required.
    pub default: Option<&'static str>,
    /// Whether its value is a secret (never in `Debug`).
    pub secret: bool,
}

const fn required(name: &'static str) -> Variable {
    Variable { name, default: None, secret: false }
}

const fn secret(name: &'static str) -> Variable {
    Variable { name, default: None, secret: true }
}

impl Preset {
    /// Every preset, in the order of the sign-in page's buttons.
    pub const ALL: [Self; 5] = [Self::GitHub, Self::Google, Self::Microsoft, Self::Discord, Self::Apple];

    /// Its id in routes and keys.
    pub fn id(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::Google => "google",
            Self::Microsoft => "microsoft",
            Self::Discord => "discord",
            Self::Apple => "apple",
        }
    }

    /// Its name on buttons.
    pub fn label(self) -> &'static str {
        match self {
            Self::GitHub => "GitHub",
            Self::Google => "Google",
            Self::Microsoft => "Microsoft",
            Self::Discord => "Discord",
            Self::Apple => "Apple",
        }
    }

    /// Its environment variables; [`ProviderSetting::Preset`]'s values are in this order.
    pub fn variables(self) -> &'static [Variable] {
        match self {
            Self::GitHub => const { &[required("GITHUB_CLIENT_ID"), secret("GITHUB_CLIENT_SECRET")] },
            Self::Google => const { &[required("GOOGLE_CLIENT_ID"), secret("GOOGLE_CLIENT_SECRET")] },
            Self::Microsoft => {
                const {
                    &[
                        required("MICROSOFT_CLIENT_ID"),
                        secret("MICROSOFT_CLIENT_SECRET"),
                        Variable { name: "MICROSOFT_TENANT", default: Some("common"), secret: false },
                    ]
                }
            }
            Self::Discord => const { &[required("DISCORD_CLIENT_ID"), secret("DISCORD_CLIENT_SECRET")] },
            Self::Apple => {
                const {
                    &[
                        required("APPLE_CLIENT_ID"),
                        required("APPLE_TEAM_ID"),
                        required("APPLE_KEY_ID"),
                        required("APPLE_PRIVATE_KEY_FILE"),
                    ]
                }
            }
        }
    }

    /// The preset's setting, if any of its variables is set: `Err` names a required one that
    /// is not.
    fn setting(self, env: &impl Fn(&str) -> Option<String>) -> Result<Option<ProviderSetting>, String> {
        let variables = self.variables();
        if !variables.iter().any(|variable| env(variable.name).is_some()) {
            return Ok(None);
        }
        let values = variables
            .iter()
            .map(|variable| {
                env(variable.name).or_else(|| variable.default.map(str::to_owned)).ok_or_else(|| {
                    let others: Vec<&str> =
                        variables.iter().filter(|other| other.default.is_none()).map(|other| other.name).collect();
                    format!("{} is required with {}", variable.name, others.join(", "))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Some(ProviderSetting::Preset { preset: self, values }))
    }
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
            Self::Preset { preset, values } => {
                let mut shown = f.debug_struct(preset.label());
                for (variable, value) in preset.variables().iter().zip(values) {
                    shown.field(variable.name, if variable.secret { &"<secret>" } else { value });
                }
                shown.finish()
            }
        }
    }
}

impl ProviderSetting {
    /// The providers configured in the environment (`env` reads a variable, `None` when
    /// unset or empty): each preset any of whose variables is set. A preset with some of its
    /// required variables but not all is an error naming the missing one.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Vec<Self>, String> {
        let mut providers = Vec::new();
        if env("OIDC_ISSUER").is_some() || env("OIDC_CLIENT_ID").is_some() {
            let required = |name: &str| env(name).ok_or(format!("{name} is required with the other OIDC_ settings"));
            providers.push(Self::Oidc {
                name: env("OIDC_NAME").unwrap_or_else(|| "oidc".into()),
                issuer: required("OIDC_ISSUER")?,
                client_id: required("OIDC_CLIENT_ID")?,
                client_secret: env("OIDC_CLIENT_SECRET"),
            });
        }
        for preset in Preset::ALL {
            providers.extend(preset.setting(&env)?);
        }
        Ok(providers)
    }

    /// The provider's id in routes and keys.
    pub fn id(&self) -> &str {
        match self {
            Self::Oidc { name, .. } => name,
            Self::Preset { preset, .. } => preset.id(),
        }
    }

    /// The provider's name on buttons ("Sign in with …").
    pub fn label(&self) -> &str {
        match self {
            Self::Oidc { name, .. } => name,
            Self::Preset { preset, .. } => preset.label(),
        }
    }
}

/// The configured providers' ids and labels, for the pages (in the router's state), and the
/// origins of their authorization pages.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    links: Arc<Vec<ProviderLink>>,
    origins: Arc<Vec<String>>,
    csrf_exempt: Arc<Vec<String>>,
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

    /// The callback paths to exempt from the CSRF check (`LuciaLayer::csrf_exempt`): those of
    /// providers whose callback is a cross-site form `POST` (Apple).
    pub fn csrf_exempt_paths(&self) -> &[String] {
        &self.csrf_exempt
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
    /// A provider's id would put its sign-in route on one of the demo's own pages.
    #[error("a sign-in provider cannot be named {0:?}: /login/{0} is the demo's own page")]
    ReservedName(String),
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
pub(crate) async fn routes(config: &Config) -> Result<(Router<AppState>, Providers), OAuthSetupError> {
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
    let mut csrf_exempt = Vec::new();
    for setting in &config.oauth_providers {
        let id = setting.id().to_owned();
        if links.iter().any(|link: &ProviderLink| link.id == id) {
            return Err(OAuthSetupError::DuplicateName(id));
        }
        // Its routes are /login/<id>[/...]: on an own page, the router would panic at start.
        if format!("/login/{id}") == crate::second_factor::SECOND_STEP_PAGE {
            return Err(OAuthSetupError::ReservedName(id));
        }
        let redirect_url = format!("{origin}/login/{id}/callback");
        let mounted = mount(setting, &redirect_url, &flows)
            .await
            .map_err(|error| OAuthSetupError::Provider { provider: id.clone(), error })?;
        router = router.merge(mounted.router);
        origins.push(mounted.authorization_origin);
        csrf_exempt.extend(mounted.csrf_exempt);
        tracing::info!(provider = %id, %redirect_url, "sign-in provider ready");
        links.push(ProviderLink { id, label: setting.label().to_owned() });
    }
    let providers =
        Providers { links: Arc::new(links), origins: Arc::new(origins), csrf_exempt: Arc::new(csrf_exempt) };
    Ok((router, providers))
}

/// One provider's routes, the origin of its authorization page, its path to exempt from the
/// CSRF check.
struct Mounted {
    router: Router<AppState>,
    authorization_origin: String,
    csrf_exempt: Option<String>,
}

/// The provider `setting` says, set up (discovery for OpenID Connect ones), and its routes.
async fn mount(
    setting: &ProviderSetting,
    redirect_url: &str,
    flows: &FlowCookie,
) -> Result<Mounted, lucia_oauth::Error> {
    let http = HttpClient::new()?;
    let (preset, values) = match setting {
        ProviderSetting::Oidc { name, issuer, client_id, client_secret } => {
            let provider =
                OidcProvider::discover(&http, name, issuer, client_id, client_secret.clone(), redirect_url).await?;
            return mounted(provider, http, flows);
        }
        ProviderSetting::Preset { preset, values } => (preset, values.as_slice()),
    };
    match (preset, values) {
        (Preset::GitHub, [id, secret]) => mounted(GitHubProvider::new(id, secret, redirect_url)?, http, flows),
        (Preset::Discord, [id, secret]) => mounted(DiscordProvider::new(id, secret, redirect_url)?, http, flows),
        (Preset::Google, [id, secret]) => {
            let provider = OidcProvider::google(&http, id, secret, redirect_url).await?;
            mounted(provider, http, flows)
        }
        (Preset::Microsoft, [id, secret, tenant]) => {
            let provider = OidcProvider::microsoft(&http, tenant, id, secret, redirect_url).await?;
            mounted(provider, http, flows)
        }
        (Preset::Apple, [client_id, team_id, key_id, key_file]) => {
            let pem = std::fs::read_to_string(key_file).map_err(|error| {
                lucia_oauth::Error::Configuration(format!(
                    "APPLE_PRIVATE_KEY_FILE {key_file:?} cannot be read: {error}"
                ))
            })?;
            let secret = AppleClientSecret::new(team_id, key_id, client_id, &pem)?;
            mounted(OidcProvider::apple(&http, secret, redirect_url).await?, http, flows)
        }
        (preset, _) => Err(lucia_oauth::Error::Configuration(format!("wrong number of settings for {preset:?}"))),
    }
}

/// [`Mounted`] for `provider`: new users named after their email or subject, sessions
/// recorded with the client's address and browser, failures explained on the sign-in page,
/// and a user with an authenticator app sent on to its code at `/login/second-factor`, as a
/// password sign-in is.
fn mounted<P: Provider + 'static>(
    provider: P,
    http: HttpClient,
    flows: &FlowCookie,
) -> Result<Mounted, lucia_oauth::Error> {
    // The origin of its authorization page, from a flow started and thrown away.
    let authorization_origin = provider.start(flows)?.authorization_url.origin().ascii_serialization();
    let routes = OAuthRoutes::<Auth, _>::new(provider, http, flows.clone(), new_user)?
        .session_attributes(|parts: &Parts| Client::from_parts(parts).session_attributes())
        .redirect_to("/account")
        .link_redirect_to("/account?notice=linked")
        .failure_redirect_to("/login")
        .second_step_page(crate::second_factor::SECOND_STEP_PAGE);
    let csrf_exempt = routes.csrf_exempt_path();
    Ok(Mounted { router: routes.router(), authorization_origin, csrf_exempt })
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

impl Method {
    /// Whether this is the password (the `username:` key).
    pub fn is_password(&self) -> bool {
        self.key.split_once(':').is_some_and(|(provider, _)| provider == accounts::PROVIDER)
    }
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
/// one, in one atomic call ([`lucia::Lucia::delete_key_unless_last`]): of two removals at once,
/// the second sees what the first left. The `email:` key is no sign-in method: it cannot be
/// removed here and does not count as one.
pub async fn unlink(auth: &Auth, user_id: &str, key: &str) -> Result<(), UnlinkError> {
    let (provider, subject) = key.split_once(':').ok_or(UnlinkError::Unknown)?;
    if provider == accounts::EMAIL_PROVIDER {
        return Err(UnlinkError::Unknown);
    }
    match auth.delete_key_unless_last(user_id, provider, subject, &[accounts::EMAIL_PROVIDER]).await {
        Ok(SignInMethodDeletion::Deleted) => Ok(()),
        Ok(SignInMethodDeletion::LastSignInMethod) => Err(UnlinkError::LastMethod),
        Ok(SignInMethodDeletion::NotFound) | Err(lucia::Error::InvalidKeyId) => Err(UnlinkError::Unknown),
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

    fn vars(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name: &str| vars.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone())
    }

    /// Every preset's variables set, the secrets `<name>-value`.
    fn all_presets() -> Vec<(&'static str, String)> {
        Preset::ALL
            .iter()
            .flat_map(|preset| preset.variables())
            .filter(|variable| variable.default.is_none())
            .map(|variable| (variable.name, format!("{}-value", variable.name)))
            .collect()
    }

    #[test]
    fn presets_come_from_their_variables_and_hide_their_secrets() {
        let all = all_presets();
        let pairs: Vec<(&str, &str)> = all.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let providers = ProviderSetting::from_env(vars(&pairs)).unwrap();
        let ids: Vec<&str> = providers.iter().map(ProviderSetting::id).collect();
        assert_eq!(ids, ["github", "google", "microsoft", "discord", "apple"]);
        let labels: Vec<&str> = providers.iter().map(ProviderSetting::label).collect();
        assert_eq!(labels, ["GitHub", "Google", "Microsoft", "Discord", "Apple"]);
        let ProviderSetting::Preset { values, .. } = &providers[2] else { panic!("{:?}", providers[2]) };
        assert_eq!(values[2], "common", "MICROSOFT_TENANT's default");
        let apple = &providers[4];
        let ProviderSetting::Preset { values, .. } = apple else { panic!("{apple:?}") };
        assert_eq!(
            values,
            &["APPLE_CLIENT_ID-value", "APPLE_TEAM_ID-value", "APPLE_KEY_ID-value", "APPLE_PRIVATE_KEY_FILE-value"]
        );
        // Debug shows ids, never a secret.
        let shown = format!("{providers:?}");
        for variable in Preset::ALL.iter().flat_map(|preset| preset.variables()) {
            let value = format!("{}-value", variable.name);
            if variable.secret {
                assert!(!shown.contains(&value), "{} in {shown}", variable.name);
            } else if variable.default.is_none() {
                assert!(shown.contains(&value), "{} not in {shown}", variable.name);
            }
        }
        let tenant = ProviderSetting::from_env(vars(&[
            ("MICROSOFT_CLIENT_ID", "i"),
            ("MICROSOFT_CLIENT_SECRET", "s"),
            ("MICROSOFT_TENANT", "contoso.onmicrosoft.com"),
        ]))
        .unwrap();
        assert_eq!(
            tenant,
            vec![ProviderSetting::Preset {
                preset: Preset::Microsoft,
                values: vec!["i".into(), "s".into(), "contoso.onmicrosoft.com".into()]
            }]
        );
    }

    #[test]
    fn a_preset_missing_a_required_variable_is_a_start_up_error_naming_it() {
        for preset in Preset::ALL {
            for missing in preset.variables().iter().filter(|variable| variable.default.is_none()) {
                let set: Vec<(&str, &str)> = preset
                    .variables()
                    .iter()
                    .filter(|variable| variable.name != missing.name)
                    .map(|variable| (variable.name, "x"))
                    .collect();
                let error = ProviderSetting::from_env(vars(&set)).unwrap_err();
                assert!(error.starts_with(&format!("{} is required", missing.name)), "{error}");
            }
        }
        // An optional variable alone configures its preset too, so the missing ones are named.
        let error = ProviderSetting::from_env(vars(&[("MICROSOFT_TENANT", "common")])).unwrap_err();
        assert!(error.starts_with("MICROSOFT_CLIENT_ID is required"), "{error}");
    }

    #[tokio::test]
    async fn an_unreadable_or_invalid_apple_key_is_a_start_up_error_without_the_key() {
        let dir = std::env::temp_dir().join(format!("lucia-demo-apple-{}", lucia::generate_random_string(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let invalid = dir.join("key.p8");
        std::fs::write(&invalid, "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYBYTES\n-----END PRIVATE KEY-----\n")
            .unwrap();
        let missing = dir.join("missing.p8");
        for file in [&missing, &invalid] {
            let apple = ProviderSetting::Preset {
                preset: Preset::Apple,
                values: vec!["com.example.web".into(), "TEAM".into(), "KEY".into(), file.display().to_string()],
            };
            let config = Config {
                oauth_providers: vec![apple],
                public_origin: Some("https://app.example".parse().unwrap()),
                ..Config::default()
            };
            let Err(error) = routes(&config).await else { panic!("{file:?} accepted") };
            let message = error.to_string();
            assert!(matches!(&error, OAuthSetupError::Provider { provider, .. } if provider == "apple"), "{message}");
            assert!(!message.contains("TOPSECRET"), "{message}");
            if file == &missing {
                assert!(message.contains("APPLE_PRIVATE_KEY_FILE") && message.contains("missing.p8"), "{message}");
            }
        }
        std::fs::remove_dir_all(dir).unwrap();
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

    #[tokio::test]
    async fn a_provider_cannot_take_the_second_step_page() {
        let named = |name: &str| ProviderSetting::Oidc {
            name: name.into(),
            issuer: "http://127.0.0.1:9".into(),
            client_id: "id".into(),
            client_secret: None,
        };
        let config = Config {
            oauth_providers: vec![named("second-factor")],
            public_origin: Some("https://app.example".parse().unwrap()),
            ..Config::default()
        };
        let Err(error) = routes(&config).await else { panic!("a provider named second-factor was mounted") };
        assert!(matches!(&error, OAuthSetupError::ReservedName(name) if name == "second-factor"), "{error}");
        assert_eq!(
            error.to_string(),
            "a sign-in provider cannot be named \"second-factor\": /login/second-factor is the demo's own page"
        );
    }

    #[test]
    fn flow_keys_come_from_a_long_enough_secret() {
        assert!(matches!(flow_key(Some("short")), Err(OAuthSetupError::ShortKey)));
        let secret = "a secret of at least thirty-two characters";
        assert_eq!(flow_key(Some(secret)).unwrap().master(), flow_key(Some(secret)).unwrap().master());
        assert_ne!(flow_key(None).unwrap().master(), flow_key(None).unwrap().master());
    }
}
