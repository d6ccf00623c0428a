//! The lucia-rs demo: sign up, sign in and manage sessions in server-rendered pages, plus a
//! JSON API with bearer tokens, on axum and the SeaORM adapter; with a Redis URL, sessions
//! live in Redis and several instances of the demo can serve the same users.
//!
//! Contract (other tools drive the app through it): tables `user` (with `username`), `key`,
//! `session` (not used with sessions in Redis, where keys start with `lucia-demo:`); sign-in
//! keys `username:<name>`; cookie `auth_session`; `POST /api/signup` and `POST /api/login`
//! taking `{"username","password"}` (login answers `{"token"}`, or for a user with an
//! authenticator app `{"second_factor_required": true, "pending_token"}`, which
//! `POST /api/login/second-factor {"pending_token","code"}` turns into `{"token"}`),
//! `GET /api/me` with `Authorization: Bearer <token>` answering `{"user_id","username"}`,
//! `POST /api/logout`; HTML forms post `username` and `password`; a second factor and passkeys
//! in the tables `totp`, `recovery_code`, `passkey` and `passkey_challenge`, passkeys at the
//! routes of `lucia_axum::passkey::PasskeyRoutes`. A store that cannot be reached is `503` with
//! `Retry-After`, never a sign-out. Too many sign-in attempts on one account (lucia's per-key
//! throttle, in Redis with `--redis-url` so that every instance counts them) or sign-ins and
//! sign-ups from one address (lucia-axum's per-IP limit) are `429` with `Retry-After`.
//!
//! Session tokens leave the server only in their owner's own cookie or `/api/login` (or
//! `/api/login/second-factor`) response: the account page lists sessions by
//! [`lucia::SessionHandle`], and revokes them by handle.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub use adapter::DemoAdapter;

use axum::Router;
use axum::extract::FromRef;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use lucia::{Lucia, SecondFactorSettings, SessionExpiresIn, SplitAdapter, TotpEncryptionKey};
use lucia_adapter_redis::{RedisSessionAdapter, RedisThrottleStore};
use lucia_adapter_sea_orm::{NoSessionTable, SeaOrmAdapter, Tables};
use lucia_axum::{LuciaLayer, Quota};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use sea_orm_migration::MigratorTrait;
use serde::{Deserialize, Serialize};

mod accounts;
mod adapter;
mod api;
pub mod db;
mod html;
pub mod mail;
pub mod oauth;
mod passkeys;
pub mod second_factor;
mod web;

/// User attribute columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAttributes {
    /// Unique, as typed at sign-up.
    pub username: String,
    /// Unique, lowercased; `None` for users made by a Lucia v2 application sharing the
    /// database, which has no such column.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the user proved they receive mail at `email` (a code, or a reset link).
    #[serde(default)]
    pub email_verified: bool,
}

impl UserAttributes {
    /// Whether the user must enter a code before using the account: an address not yet
    /// verified.
    pub fn needs_verification(&self) -> bool {
        self.email.is_some() && !self.email_verified
    }
}

/// Session attribute columns: where and when the session started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAttributes {
    /// Client IP address.
    pub ip: Option<String>,
    /// Client `User-Agent`.
    pub user_agent: Option<String>,
    /// Start, in milliseconds since the Unix epoch.
    pub created_at: Option<i64>,
}

/// The demo's lucia: the one type the handlers name, kept in the router state, whichever
/// store [`DemoAdapter`] is.
pub type Auth = Lucia<DemoAdapter, UserAttributes, SessionAttributes>;
/// What handlers extract to authenticate a request.
pub type AuthRequest = lucia_axum::AuthRequest<Auth>;
/// The guard for pages and actions of signed-in users (others go to `/login`).
pub type SignedIn = lucia_axum::SignedIn<Auth>;
/// What the second step of a two-step sign-in extracts: the pending sign-in's cookie.
pub type PendingSecondFactor = lucia_axum::PendingSecondFactor<Auth>;

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://lucia-demo.db?mode=rwc";

/// The passkey origin without `--passkey-origin` or a public origin: the demo's default
/// address under the name `localhost`, a secure context with a domain (an IP address cannot
/// be a WebAuthn relying-party id).
pub const DEFAULT_PASSKEY_ORIGIN: &str = "http://localhost:3000";

/// The prefix of the demo's keys in Redis.
pub const REDIS_KEY_PREFIX: &str = "lucia-demo";

/// How often dead sessions are deleted ([`Lucia::spawn_session_sweeper`]).
pub const SWEEP_EVERY: Duration = Duration::from_secs(60 * 60);

/// `Retry-After` of the demo's own `503` pages and API errors (as lucia-axum's).
const RETRY_AFTER_SECONDS: &str = "5";

/// How long shutdown waits for a sweep in progress.
const SWEEP_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How to run the demo.
#[derive(Clone)]
pub struct Config {
    /// SeaORM URL: `sqlite://...`, `postgres://...` or `mysql://...`. It may hold a password:
    /// log it only through [`redact_database_url`].
    pub database_url: String,
    /// Redis URL (`redis://[:password@]host:port[/db]`): sessions in Redis, users and keys in
    /// the database. `None` keeps sessions in the database. It may hold a password: log it
    /// only through [`redact_database_url`].
    pub redis_url: Option<String>,
    /// The origin browsers use, when behind a reverse proxy (`https://example.com`).
    pub public_origin: Option<lucia::Origin>,
    /// The hosts the demo answers for (`LuciaLayer::allowed_hosts`); empty: any host.
    pub allowed_hosts: Vec<lucia_axum::AllowedHost>,
    /// Production mode: `Secure` cookies, an `https` default origin, and
    /// `Strict-Transport-Security`; [`public_origin`](Self::public_origin) and
    /// [`smtp_url`](Self::smtp_url) are then required.
    pub production: bool,
    /// Share the database with a Lucia v2 application: session ids in clear and `s2:` hashes
    /// ([`lucia::LuciaBuilder::lucia_v2_compat`]). Off by default: session tokens are stored
    /// as their SHA-256.
    pub lucia_v2_compat: bool,
    /// Session periods (Lucia's defaults unless changed, for example by tests).
    pub session_expires_in: SessionExpiresIn,
    /// The header a trusted reverse proxy writes the client address in (`x-forwarded-for`),
    /// for the per-IP sign-in limit; `None` (the default) takes the connection's address.
    pub trusted_proxy_header: Option<String>,
    /// Sign-ins and sign-ups per client address: a burst of this many, then one more every
    /// [`SIGN_IN_REFILL`] (lucia-axum's default: 20). `0` turns the per-IP limit off (the
    /// per-account throttle stays).
    pub sign_in_burst: u32,
    /// SMTP server for verification codes and reset links (`smtp://host:port` plain,
    /// `smtp://user:password@host?tls=required` STARTTLS, `smtps://user:password@host` TLS;
    /// see `lucia_mail::SmtpMailer::from_url`). It may hold a
    /// password: log it only through [`redact_database_url`]. `None` writes each message to
    /// [`mail_dir`](Self::mail_dir) instead.
    pub smtp_url: Option<String>,
    /// Where mail goes without an SMTP server: one `.eml` file per message.
    pub mail_dir: std::path::PathBuf,
    /// The sender of the demo's mail.
    pub mail_from: String,
    /// The providers users can sign in with ("Sign in with …"); they need
    /// [`public_origin`](Self::public_origin), the origin of their redirect URLs.
    pub oauth_providers: Vec<oauth::ProviderSetting>,
    /// The secret the OAuth flow cookie's key is derived from (at least 32 characters; the
    /// same on every instance). `None`: a random key per start.
    pub oauth_cookie_key: Option<String>,
    /// The key that encrypts TOTP secrets at rest (`LUCIA_TOTP_KEY`: base64 of 32 bytes; the
    /// same on every instance). `None`: the key in [`totp_key_file`](Self::totp_key_file).
    pub totp_key: Option<TotpEncryptionKey>,
    /// Where the TOTP key is kept when [`totp_key`](Self::totp_key) is not given, made on the
    /// first start if missing (32 random bytes in base64, readable by its owner only). `None`:
    /// [`second_factor::DEFAULT_TOTP_KEY_FILE`] beside the SQLite file, or in the working
    /// directory with a server database. Production mode needs one of the two set.
    pub totp_key_file: Option<std::path::PathBuf>,
    /// The exact origin passkeys are used from (`http://localhost:3000`,
    /// `https://example.com`). `None`: the [public origin](Self::public_origin), else
    /// [`DEFAULT_PASSKEY_ORIGIN`].
    pub passkey_origin: Option<url::Url>,
    /// The WebAuthn relying-party id passkeys are bound to: the origin's host or a registrable
    /// domain above it (it cannot change later without losing every passkey). `None`: the
    /// passkey origin's host.
    pub passkey_rp_id: Option<String>,
    /// An idle cgroup for lucia's password hashing threads (Linux; see
    /// [`lucia::HashingCgroup`]): with Redis or the database on the same cores, and the
    /// cgroup a peer of theirs, requests then wait for no hash. `None`: the hashes run in
    /// the background of this process only.
    pub hashing_cgroup: Option<lucia::HashingCgroup>,
}

/// The default [`Config::mail_from`].
pub const DEFAULT_MAIL_FROM: &str = "lucia demo <no-reply@localhost>";

/// How often a client address gets one more sign-in or sign-up once its burst is spent.
pub const SIGN_IN_REFILL: Duration = Duration::from_secs(3);

/// The default [`Config::sign_in_burst`].
pub const DEFAULT_SIGN_IN_BURST: u32 = 20;

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            redis_url: None,
            public_origin: None,
            allowed_hosts: Vec::new(),
            production: false,
            lucia_v2_compat: false,
            session_expires_in: SessionExpiresIn::default(),
            trusted_proxy_header: None,
            sign_in_burst: DEFAULT_SIGN_IN_BURST,
            smtp_url: None,
            mail_dir: mail::default_folder(),
            mail_from: DEFAULT_MAIL_FROM.to_owned(),
            oauth_providers: Vec::new(),
            oauth_cookie_key: None,
            totp_key: None,
            totp_key_file: None,
            passkey_origin: None,
            passkey_rp_id: None,
            hashing_cgroup: None,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_database_url(&self.database_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_database_url))
            .field("public_origin", &self.public_origin)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("production", &self.production)
            .field("lucia_v2_compat", &self.lucia_v2_compat)
            .field("session_expires_in", &self.session_expires_in)
            .field("trusted_proxy_header", &self.trusted_proxy_header)
            .field("sign_in_burst", &self.sign_in_burst)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_database_url))
            .field("mail_dir", &self.mail_dir)
            .field("mail_from", &self.mail_from)
            .field("oauth_providers", &self.oauth_providers)
            .field("oauth_cookie_key", &self.oauth_cookie_key.as_ref().map(|_| REDACTED))
            .field("totp_key", &self.totp_key.as_ref().map(|_| REDACTED))
            .field("totp_key_file", &self.totp_key_file)
            .field("passkey_origin", &self.passkey_origin)
            .field("passkey_rp_id", &self.passkey_rp_id)
            .field("hashing_cgroup", &self.hashing_cgroup)
            .finish()
    }
}

/// What stands for a password in logs.
const REDACTED: &str = "REDACTED";

/// The database (or Redis) URL with its password (in the user-info part or a `password=` or
/// `pass=` query parameter) replaced by `REDACTED`, fit for a log line. A URL that does not
/// parse is not shown beyond its scheme.
pub fn redact_database_url(database_url: &str) -> String {
    let Ok(mut url) = url::Url::parse(database_url) else {
        return match database_url.split_once(':') {
            Some((scheme, _)) if scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) => {
                format!("{scheme}:<unparseable URL, not shown>")
            }
            _ => "<unparseable URL, not shown>".to_owned(),
        };
    };
    let mut changed = false;
    if url.password().is_some() {
        changed |= url.set_password(Some(REDACTED)).is_ok();
    }
    let secret_query = url.query_pairs().any(|(name, _)| is_password_parameter(&name));
    if secret_query {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let value = if is_password_parameter(&name) { REDACTED.to_owned() } else { value.into_owned() };
                (name.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        changed = true;
    }
    if changed { url.to_string() } else { database_url.to_owned() }
}

fn is_password_parameter(name: &str) -> bool {
    name.eq_ignore_ascii_case("password") || name.eq_ignore_ascii_case("pass")
}

/// `text` (an error message, say) with every occurrence of the database (or Redis) URL's
/// password replaced by `REDACTED`, in case a driver echoes it.
pub fn redact_password_in(text: &str, database_url: &str) -> String {
    let Ok(url) = url::Url::parse(database_url) else {
        return text.to_owned();
    };
    let mut secrets: Vec<String> = Vec::new();
    if let Some(password) = url.password() {
        secrets.push(password.to_owned());
        if let Ok(decoded) = percent_decode(password) {
            secrets.push(decoded);
        }
    }
    secrets
        .extend(url.query_pairs().filter(|(name, _)| is_password_parameter(name)).map(|(_, value)| value.into_owned()));
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
        text = text.replace(secret.as_str(), REDACTED);
    }
    text
}

/// Percent-decodes a URL component.
fn percent_decode(text: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) =
                (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b)))
        {
            out.push((high * 16 + low) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
}

/// Errors starting the demo.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be reached or migrated.
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// The entities do not fit the adapter (a bug in the demo).
    #[error("schema: {0}")]
    Schema(#[from] lucia_adapter_sea_orm::SchemaError),
    /// The database's tables do not match the entities (the start-up check): a table, column
    /// or foreign key missing, or a column of the wrong type.
    #[error("database schema: {0}")]
    Check(#[from] lucia_adapter_sea_orm::CheckError),
    /// The SQLite file could not be opened by `lucia-adapter-sqlite`.
    #[error("sqlite: {0}")]
    Sqlite(#[from] lucia_adapter_sqlite::OpenError),
    /// Redis could not be reached, or its URL is wrong.
    #[error("redis: {0}")]
    Redis(#[from] lucia_adapter_redis::ConnectError),
    /// The trusted proxy header is not a valid header name.
    #[error("invalid trusted proxy header name {0:?}")]
    TrustedProxyHeader(String),
    /// The mailer's settings are wrong (SMTP URL, sender) or its folder cannot be created.
    #[error("mail: {0}")]
    Mail(#[from] lucia_mail::MailError),
    /// Production mode without what it needs: a public origin for the links in mails, and an
    /// SMTP server (the development mailer would leave codes and links in files).
    #[error("production mode needs {0}")]
    Production(&'static str),
    /// A sign-in provider could not be set up (its settings, or its discovery).
    #[error(transparent)]
    OAuth(#[from] oauth::OAuthSetupError),
    /// The passkey origin has no host.
    #[error("the passkey origin must be an http(s) origin with a host, such as http://localhost:3000")]
    PasskeyOrigin,
    /// The passkeys' relying party does not fit its origin (an id that is not the origin's
    /// host or a domain above it, or an origin neither https nor localhost).
    #[error("passkeys: {0}")]
    Passkey(#[from] lucia_axum::passkey::lucia_passkey::PasskeyError),
    /// The TOTP encryption key could not be read or made.
    #[error(transparent)]
    TotpKey(#[from] second_factor::TotpKeyError),
}

/// What the handlers share. Each takes the part it needs (`State<Mails>`; lucia-axum's
/// extractors find the [`Auth`]), so a handler asking for something the demo does not hold
/// fails to compile rather than answering 500, as a missing request extension would; and no
/// request pays for copying them into its extensions.
#[derive(Clone, FromRef)]
struct AppState {
    auth: Auth,
    mails: mail::Mails,
    passkeys: passkeys::DemoPasskeys,
    sign_in_options: web::SignInOptions,
}

/// The demo, built and not yet serving: what [`serve`] runs.
pub struct Demo {
    /// The routes, with lucia's layer and the demo's own.
    pub router: Router,
    /// The demo's lucia (for tests and the benchmark: users, sessions).
    pub auth: Auth,
    /// The mailer (its link origin is set by [`serve`] unless configured).
    pub mails: mail::Mails,
    /// The passkey ceremonies (their abandoned ones are swept by [`serve`]).
    passkeys: passkeys::DemoPasskeys,
}

/// Connects, migrates, and returns the application: its router, lucia and mailer.
pub async fn build(config: &Config) -> Result<Demo, StartError> {
    if let Some(name) = &config.trusted_proxy_header
        && axum::http::HeaderName::try_from(name.as_str()).is_err()
    {
        return Err(StartError::TrustedProxyHeader(name.clone()));
    }
    if config.production {
        if config.public_origin.is_none() {
            return Err(StartError::Production("--public-origin: the origin of the links in mails"));
        }
        if config.smtp_url.is_none() {
            return Err(StartError::Production("--smtp-url: mail is written to files only in development"));
        }
        if config.totp_key.is_none() && config.totp_key_file.is_none() {
            return Err(StartError::Production(
                "LUCIA_TOTP_KEY or --totp-key-file: a TOTP key made beside the database is easily lost",
            ));
        }
    }
    let mails = mail::Mails::new(config.smtp_url.as_deref(), &config.mail_dir, &config.mail_from)?;
    if let Some(origin) = &config.public_origin {
        mails.set_link_origin(&origin.to_string());
    }
    let totp_key = second_factor::encryption_key(config)?;
    let adapter = connect_stores(config).await?;
    let env = if config.production { lucia::Env::Prod } else { lucia::Env::Dev };
    // With sessions in Redis, sign-in attempts are counted there too, so that every instance
    // sees them; otherwise in this instance's memory (lucia's default).
    let throttle: Option<RedisThrottleStore> = match &adapter {
        DemoAdapter::Split(split) => Some(split.sessions().throttle_store()),
        DemoAdapter::Sqlite(_) | DemoAdapter::Sql(_) => None,
    };
    let mut builder = Lucia::builder(adapter)
        .env(env)
        .session_expires_in(config.session_expires_in)
        .password_policy(accounts::password_policy())
        .email(accounts::email_settings())
        .second_factor(SecondFactorSettings::new(second_factor::ISSUER, totp_key));
    if let Some(store) = throttle {
        builder = builder.sign_in_throttle(store);
    }
    if config.lucia_v2_compat {
        builder = builder.lucia_v2_compat();
    }
    if let Some(cgroup) = &config.hashing_cgroup {
        builder = builder.hashing_cgroup(cgroup.clone());
    }
    let auth: Auth = builder.user_attributes::<UserAttributes>().session_attributes::<SessionAttributes>().build();
    let mut layer = LuciaLayer::new(&auth).sign_in_url("/login");
    if let Some(origin) = &config.public_origin {
        layer = layer.public_origin(origin.clone());
    }
    layer = match std::num::NonZeroU32::new(config.sign_in_burst) {
        Some(burst) => layer.sign_in_rate_limit(
            Quota::with_period(SIGN_IN_REFILL).map_or(Quota::per_minute(burst), |quota| quota.allow_burst(burst)),
        ),
        None => layer.without_sign_in_rate_limit(),
    };
    if let Some(name) = &config.trusted_proxy_header {
        layer = layer.trusted_proxy_header(name);
    }
    if !config.allowed_hosts.is_empty() {
        layer = layer.allowed_hosts(config.allowed_hosts.iter().cloned());
    }
    let (provider_routes, providers) = oauth::routes(config).await?;
    // Apple's callback is a cross-site POST: exempt (it then has no session cookie; the GET
    // it redirects to does the sign-in).
    for path in providers.csrf_exempt_paths() {
        layer = layer.csrf_exempt(path);
    }
    let hardening = Hardening::new(config.production, providers.authorization_origins());
    let (passkey_rp_id, passkey_origin) = passkey_relying_party(config)?;
    let passkeys::PasskeySetup { passkeys, recent_sign_in, routes: passkey_routes } =
        passkeys::routes(&auth, &passkey_rp_id, passkey_origin.clone())?;
    let passkey_origin = passkey_origin.origin().ascii_serialization();
    let router = router()
        .merge(provider_routes)
        .merge(passkey_routes)
        .layer(layer)
        .with_state(AppState {
            auth: auth.clone(),
            mails: mails.clone(),
            passkeys: passkeys.clone(),
            sign_in_options: web::SignInOptions { providers, passkey_origin: passkey_origin.into(), recent_sign_in },
        })
        .layer(middleware::from_fn_with_state(hardening, log_and_harden));
    Ok(Demo { router, auth, mails, passkeys })
}

/// The passkeys' relying party: its id and origin, from the settings (see
/// [`Config::passkey_origin`]).
fn passkey_relying_party(config: &Config) -> Result<(String, url::Url), StartError> {
    let origin = match (&config.passkey_origin, &config.public_origin) {
        (Some(origin), _) => origin.clone(),
        (None, Some(public)) => url::Url::parse(&public.to_string()).map_err(|_| StartError::PasskeyOrigin)?,
        (None, None) => url::Url::parse(DEFAULT_PASSKEY_ORIGIN).map_err(|_| StartError::PasskeyOrigin)?,
    };
    let id = match &config.passkey_rp_id {
        Some(id) => id.clone(),
        None => origin.host_str().ok_or(StartError::PasskeyOrigin)?.to_owned(),
    };
    Ok((id, origin))
}

/// The database, migrated, and Redis if configured: everything in SQL, or users and keys in
/// SQL and sessions in Redis. A database keeps its session table when sessions move to Redis
/// (its sessions are not moved: their users sign in again); one set up with sessions in Redis
/// gets a session table when they move back.
async fn connect_stores(config: &Config) -> Result<DemoAdapter, StartError> {
    let db = connect(&config.database_url).await?;
    let (user, key) = (db::user::Entity, lucia_adapter_sea_orm::entity::key::Entity);
    let token = lucia_adapter_sea_orm::entity::token::Entity;
    let (totp, recovery_code) =
        (lucia_adapter_sea_orm::entity::totp::Entity, lucia_adapter_sea_orm::entity::recovery_code::Entity);
    let (passkey, passkey_challenge) =
        (lucia_adapter_sea_orm::entity::passkey::Entity, lucia_adapter_sea_orm::entity::passkey_challenge::Entity);
    match &config.redis_url {
        None => {
            db::Migrator::up(&db, None).await?;
            db::ensure_session_table(&db).await?;
            let tables = Tables { user, key, session: db::session::Entity };
            let adapter = SeaOrmAdapter::new(db, tables)?
                .with_tokens(token)?
                .with_second_factor(totp, recovery_code)?
                .with_passkeys(passkey, passkey_challenge)?;
            // The tables against the entities, now rather than as a 500 on the first request.
            adapter.check().await?;
            // A SQLite file: the tables SeaORM migrated, through lucia-adapter-sqlite (reads
            // in place, no thread hop per query). Opening it is a few milliseconds of file I/O.
            if let Some(path) = sqlite_file(&config.database_url) {
                let tables = lucia_adapter_sqlite::Tables::new("user", "key", "session");
                let builder = lucia_adapter_sqlite::SqliteAdapter::builder().tables(tables).token_table("token");
                let builder = builder.second_factor_tables("totp", "recovery_code");
                let sqlite = builder.passkey_tables("passkey", "passkey_challenge").open(path)?;
                drop(adapter);
                return Ok(DemoAdapter::Sqlite(sqlite));
            }
            Ok(DemoAdapter::Sql(adapter))
        }
        Some(redis_url) => {
            db::UserMigrator::up(&db, None).await?;
            let users = SeaOrmAdapter::new(db, Tables { user, key, session: NoSessionTable })?
                .with_tokens(token)?
                .with_second_factor(totp, recovery_code)?
                .with_passkeys(passkey, passkey_challenge)?;
            users.check().await?;
            let sessions = RedisSessionAdapter::builder().key_prefix(REDIS_KEY_PREFIX).connect(redis_url).await?;
            Ok(DemoAdapter::Split(SplitAdapter::new(users, sessions)))
        }
    }
}

/// The file of a `sqlite://path` or `sqlite:path` URL, or `None` for another database or an
/// in-memory one (which `lucia-adapter-sqlite` cannot share with SeaORM's pool).
fn sqlite_file(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = percent_decode(path).ok()?;
    let in_memory = path.is_empty()
        || path.contains(":memory:")
        || query.split('&').any(|pair| pair == "mode=memory" || pair.starts_with("vfs="));
    (!in_memory).then_some(path)
}

async fn connect(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(url);
    // SeaORM gives SQLite a pool of one connection unless told otherwise, which serialises
    // every request on it (lucia-bench's http_me at 32 in flight: 0.46x a minimal handler
    // with 10 connections, 0.88x with these); 10 is sqlx's default, which PostgreSQL and
    // MySQL get anyway.
    // A free connection or a new one within lucia's store deadline (5 s), not SeaORM's 30 s:
    // past it the request is a 503, not a long hang. Dead pooled connections are found by the
    // adapter's retry of reads rather than a ping before every statement.
    options
        .sqlx_logging(false)
        .test_before_acquire(false)
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(5));
    Database::connect(options).await
}

fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(web::home))
        .route("/style.css", get(web::stylesheet))
        .route("/passkeys.js", get(web::passkey_script))
        .route("/signup", get(web::signup_page).post(web::signup))
        .route("/login", get(web::login_page).post(web::login))
        .route(second_factor::SECOND_STEP_PAGE, get(second_factor::second_step_page).post(second_factor::second_step))
        .route("/logout", post(web::logout))
        .route("/account", get(web::account))
        .route("/account/sessions/revoke", post(web::revoke_session))
        .route("/account/sessions/revoke-others", post(web::revoke_other_sessions))
        .route("/account/password", post(web::change_password))
        .route("/account/delete", post(web::delete_account))
        .route("/account/methods/unlink", post(web::unlink_method))
        .route("/account/totp", post(second_factor::enrol))
        .route("/account/totp/confirm", post(second_factor::confirm))
        .route("/account/totp/disable", post(second_factor::disable))
        .route("/account/recovery-codes", post(second_factor::regenerate_recovery_codes))
        .route("/account/passkeys/rename", post(passkeys::rename))
        .route("/account/passkeys/remove", post(passkeys::remove))
        .route("/verify-email", get(web::verify_email_page).post(web::verify_email))
        .route("/verify-email/resend", post(web::resend_code))
        .route("/forgot-password", get(web::forgot_password_page).post(web::forgot_password))
        .route("/reset-password", get(web::reset_password_page).post(web::reset_password))
        .route("/api/signup", post(api::signup))
        .route("/api/login", post(api::login))
        .route("/api/login/second-factor", post(api::login_second_factor))
        .route("/api/me", get(api::me))
        .route("/api/verify-email", post(api::verify_email))
        .route("/api/verify-email/resend", post(api::resend_code))
        .route("/api/forgot-password", post(api::forgot_password))
        .route("/api/reset-password", post(api::reset_password))
        .route("/api/logout", post(api::logout))
        .fallback(web::not_found)
}

/// What [`log_and_harden`] adds.
#[derive(Debug, Clone)]
struct Hardening {
    /// Adds `Strict-Transport-Security` (production runs behind https).
    production: bool,
    /// The `Content-Security-Policy`.
    policy: HeaderValue,
}

impl Hardening {
    /// Forms post to the demo only, and may be redirected to the sign-in providers'
    /// authorization pages (the account page's "Link" buttons).
    fn new(production: bool, authorization_origins: &[String]) -> Self {
        let mut policy = "default-src 'self'; form-action 'self'".to_owned();
        for origin in authorization_origins {
            policy.push(' ');
            policy.push_str(origin);
        }
        let policy =
            HeaderValue::try_from(policy).unwrap_or(HeaderValue::from_static("default-src 'self'; form-action 'self'"));
        Self { production, policy }
    }
}

/// Logs each request and adds security headers to each response.
async fn log_and_harden(State(hardening): State<Hardening>, request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let started = Instant::now();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::CONTENT_SECURITY_POLICY, hardening.policy.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if hardening.production {
        // Two years, subdomains too: browsers then refuse plain http for the whole site.
        headers
            .insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000; includeSubDomains"));
    }
    tracing::info!(%method, %path, status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request");
    response
}

/// Serves the demo on `listener` until `shutdown` completes, then finishes open requests.
/// Deletes dead sessions, expired codes and links, and abandoned passkey ceremonies at start
/// and every [`SWEEP_EVERY`] meanwhile (each instance of the demo sweeps; sweeps are
/// idempotent), and stops sweeping at shutdown. Links in mails point to `--public-origin`, or
/// else to the listener's address.
pub async fn serve(
    listener: tokio::net::TcpListener,
    demo: Demo,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Demo { router, auth, mails, passkeys } = demo;
    if let Ok(address) = listener.local_addr() {
        mails.set_link_origin(&format!("http://{address}"));
    }
    let sweeper = auth.spawn_session_sweeper(SWEEP_EVERY);
    let ceremony_sweeper = tokio::spawn(passkeys::sweep_ceremonies(passkeys, SWEEP_EVERY));
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
    // A sweep in progress finishes first, within reason: a store that does not answer must
    // not hold the process.
    if tokio::time::timeout(SWEEP_STOP_TIMEOUT, sweeper.stop()).await.is_err() {
        tracing::warn!("a session sweep was still running at shutdown; not waiting for it");
    }
    // One statement, idempotent: stopping it midway loses nothing.
    ceremony_sweeper.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_files_are_told_from_other_databases() {
        assert_eq!(sqlite_file("sqlite://lucia-demo.db?mode=rwc").as_deref(), Some("lucia-demo.db"));
        assert_eq!(sqlite_file("sqlite:///tmp/a%20b.db").as_deref(), Some("/tmp/a b.db"));
        assert_eq!(sqlite_file("sqlite:data.db").as_deref(), Some("data.db"));
        for url in ["sqlite::memory:", "sqlite://file.db?mode=memory&cache=shared", "postgres://db/app", "sqlite://"] {
            assert_eq!(sqlite_file(url), None, "{url}");
        }
    }

    #[test]
    fn database_url_passwords_are_redacted() {
        let cases = [
            ("postgres://app:s3cret@db.internal:5432/app", "postgres://app:REDACTED@db.internal:5432/app"),
            ("mysql://root:p%40ss%3Aword@127.0.0.1:3306/test", "mysql://root:REDACTED@127.0.0.1:3306/test"),
            (
                "postgres://app@db/app?password=s3cret&sslmode=require",
                "postgres://app@db/app?password=REDACTED&sslmode=require",
            ),
            ("redis://:s3cret@cache.internal:6379/0", "redis://:REDACTED@cache.internal:6379/0"),
            ("rediss://default:s3cret@cache:6380", "rediss://default:REDACTED@cache:6380"),
            ("redis+unix:///run/redis.sock?db=1&pass=s3cret", "redis+unix:///run/redis.sock?db=1&pass=REDACTED"),
            // Nothing secret: shown as given.
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("postgres://postgres@127.0.0.1:5432/test", "postgres://postgres@127.0.0.1:5432/test"),
            ("sqlite://lucia-demo.db?mode=rwc", "sqlite://lucia-demo.db?mode=rwc"),
            ("sqlite::memory:", "sqlite::memory:"),
            // Unparseable: only the scheme.
            ("postgres://app:s3cret@[bad/app", "postgres:<unparseable URL, not shown>"),
            ("s3cret", "<unparseable URL, not shown>"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact_database_url(url), shown, "{url}");
            assert!(!redact_database_url(url).contains("s3cret") && !redact_database_url(url).contains("p%40ss"));
        }
        let config = Config {
            database_url: "postgres://app:s3cret@db/app".into(),
            redis_url: Some("redis://:s3cret@cache:6379".into()),
            totp_key: Some(TotpEncryptionKey::from_bytes([0x5a; 32])),
            ..Config::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret") && shown.contains("redis://:REDACTED@cache:6379"), "{shown}");
        assert!(shown.contains(r#"totp_key: Some("REDACTED")"#) && !shown.contains("90, 90"), "{shown}");
    }

    #[test]
    fn passwords_echoed_in_errors_are_redacted() {
        let url = "mysql://root:p%40ss@127.0.0.1/test";
        let error = "access denied for root (using password p@ss) at mysql://root:p%40ss@127.0.0.1/test";
        let shown = redact_password_in(error, url);
        assert!(!shown.contains("p@ss") && !shown.contains("p%40ss"), "{shown}");
        assert_eq!(redact_password_in("no secret here", "sqlite://x.db"), "no secret here");
    }
}
