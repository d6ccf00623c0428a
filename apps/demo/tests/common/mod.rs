//! Starts the demo on an ephemeral port with its own SQLite file, as `cargo run -p lucia-demo`
//! would, and stops it (gracefully) when dropped.

#![allow(dead_code)] // each test binary uses part of this

pub mod browser;
pub mod smtp;

use std::path::PathBuf;

use lucia_adapter_test::oidc_provider::{CLIENT_ID, CLIENT_SECRET, OidcTestProvider};
use lucia_demo::Config;
use lucia_demo::oauth::ProviderSetting;
use sea_orm::ConnectionTrait;
use tokio::sync::oneshot;

pub struct App {
    pub base: String,
    /// The SQLite file, removed on drop (`None` for a server database).
    pub db_path: Option<PathBuf>,
    /// Where the demo writes its mail (no SMTP configured), removed on drop.
    pub mail_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
}

impl App {
    pub async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    /// The demo on a fresh SQLite file.
    pub async fn start_with(mut config: Config) -> Self {
        let db_path = std::env::temp_dir().join(format!("lucia-demo-test-{}.db", lucia::generate_random_string(12)));
        config.database_url = format!("sqlite://{}?mode=rwc", db_path.display());
        let mut app = Self::start_at(config).await;
        app.db_path = Some(db_path);
        app
    }

    /// The demo on `config.database_url` as given, writing its mail to a folder of its own.
    pub async fn start_at(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve_on(listener, config).await
    }

    /// The demo on a fresh SQLite file with "Sign in with oidc": the local OpenID Connect
    /// provider of `interop/oidc-provider`, registered with the demo's callback URL. `None`
    /// (test skipped) without node or its packages, unless `LUCIA_TEST_REQUIRE_SERVERS=1`.
    pub async fn start_with_oidc() -> Option<(Self, OidcTestProvider)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let provider = OidcTestProvider::start(&format!("{base}/login/oidc/callback")).await?;
        let db_path = std::env::temp_dir().join(format!("lucia-demo-test-{}.db", lucia::generate_random_string(12)));
        let config = Config {
            database_url: format!("sqlite://{}?mode=rwc", db_path.display()),
            public_origin: Some(base.parse().unwrap()),
            oauth_providers: vec![ProviderSetting::Oidc {
                name: "oidc".into(),
                issuer: provider.issuer.clone(),
                client_id: CLIENT_ID.into(),
                client_secret: Some(CLIENT_SECRET.into()),
            }],
            ..Config::default()
        };
        let mut app = Self::serve_on(listener, config).await;
        app.db_path = Some(db_path);
        Some((app, provider))
    }

    /// The demo built from `config` and served on `listener`: a TOTP key of its own (no key
    /// file) unless the test gives one, and passkeys at `http://localhost:<port>`.
    async fn serve_on(listener: tokio::net::TcpListener, mut config: Config) -> Self {
        let mail_dir = std::env::temp_dir().join(format!("lucia-demo-mail-{}", lucia::generate_random_string(12)));
        config.mail_dir = mail_dir.clone();
        if config.totp_key.is_none() && config.totp_key_file.is_none() {
            config.totp_key = Some(test_totp_key());
        }
        let port = listener.local_addr().unwrap().port();
        config.passkey_origin.get_or_insert_with(|| url::Url::parse(&format!("http://localhost:{port}")).unwrap());
        let demo = lucia_demo::build(&config).await.expect("the demo starts");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(lucia_demo::serve(listener, demo, async move {
            let _ = stopped.await;
        }));
        Self { base, db_path: None, mail_dir, stop: Some(stop) }
    }

    /// The URL of the app's SQLite file, for another app on the same database.
    pub fn sqlite_url(&self) -> String {
        let path = self.db_path.as_ref().expect("a SQLite app");
        format!("sqlite://{}?mode=rwc", path.display())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The URL at `localhost` rather than `127.0.0.1`: the origin passkeys work at (a
    /// relying-party id is a domain, never an IP address).
    pub fn localhost_url(&self, path: &str) -> String {
        self.url(path).replacen("127.0.0.1", "localhost", 1)
    }

    /// A browser-like client: a cookie jar, `Origin` on every request (browsers send it on
    /// POST), `Accept: text/html` as browsers send when they navigate, and no automatic
    /// redirects so tests see each 303.
    pub fn browser(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::ORIGIN, self.base.parse().unwrap());
        headers.insert(reqwest::header::ACCEPT, BROWSER_ACCEPT.parse().unwrap());
        reqwest::Client::builder()
            .cookie_store(true)
            .default_headers(headers)
            .user_agent("Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36")
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// An API client: no cookies, no `Origin`.
    pub fn api(&self) -> reqwest::Client {
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
    }

    /// The mail the demo has written to `address` so far (no SMTP configured: its folder),
    /// oldest first, decoded.
    pub fn mails_to(&self, address: &str) -> Vec<String> {
        mails_in(&self.mail_dir, address)
    }

    /// The `n`-th mail (from 1) to `address`, waiting for it: mail is sent in the background.
    pub async fn nth_mail_to(&self, address: &str, n: usize) -> String {
        nth_mail_in(&self.mail_dir, address, n).await
    }

    /// The code in the `n`-th mail to `address`.
    pub async fn nth_code(&self, address: &str, n: usize) -> String {
        verification_code(&self.nth_mail_to(address, n).await)
    }

    pub async fn database(&self) -> sea_orm::DatabaseConnection {
        let path = self.db_path.as_ref().expect("a SQLite app");
        sea_orm::Database::connect(format!("sqlite://{}", path.display())).await.unwrap()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(path) = &self.db_path {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        let _ = std::fs::remove_dir_all(&self.mail_dir);
    }
}

/// A random TOTP encryption key.
pub fn test_totp_key() -> lucia::TotpEncryptionKey {
    let bytes: [u8; 32] = lucia::generate_random_string(32).into_bytes().try_into().unwrap();
    lucia::TotpEncryptionKey::from_bytes(bytes)
}

/// The code an authenticator app shows at `unix_seconds` for a secret in base32 (spaces
/// ignored, as typed from the page): SHA-1, 6 digits, 30-second steps.
pub fn totp_code(secret_base32: &str, unix_seconds: u64) -> String {
    let secret: String = secret_base32.split_whitespace().collect();
    let secret = totp_rs::Secret::try_from_base32(&secret).expect("a base32 secret");
    let totp = totp_rs::Builder::new()
        .with_secret(secret.as_ref().to_vec())
        .with_digits(6)
        .with_step_duration(30)
        .build()
        .expect("a TOTP");
    totp.generate(unix_seconds).to_string()
}

/// Seconds since the Unix epoch, now.
pub fn now_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// What Chromium sends in `Accept` when it navigates.
pub const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// The session token of a `Set-Cookie: auth_session=<token>; ...` (empty for a removal).
pub fn cookie_token(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().strip_prefix("auth_session=").expect("the session cookie").to_owned()
}

/// The mail to `address` in the folder `dir` (one file per message: the development mailer's
/// `.eml` files, or a maildir's `new/`), oldest first, decoded.
pub fn mails_in(dir: &std::path::Path, address: &str) -> Vec<String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect())
        .unwrap_or_default();
    // Names sort by time: the development mailer's start with microseconds, a maildir's with
    // seconds and a sequence number.
    paths.sort();
    let mails = paths.iter().filter_map(|path| std::fs::read_to_string(path).ok()).map(|raw| decode_mail(&raw));
    mails.filter(|mail| mail.lines().any(|line| line.eq_ignore_ascii_case(&format!("to: {address}")))).collect()
}

/// The `n`-th mail (from 1) to `address` in `dir`, waiting up to five seconds for it.
pub async fn nth_mail_in(dir: &std::path::Path, address: &str, n: usize) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if let Some(mail) = mails_in(dir, address).into_iter().nth(n - 1) {
            return mail;
        }
        assert!(std::time::Instant::now() < deadline, "no mail #{n} to {address} in {}", dir.display());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The address the tests sign `name` up with.
pub fn email_of(name: &str) -> String {
    format!("{}@example.com", name.to_lowercase())
}

/// A raw message with its quoted-printable soft line breaks and `=XX` escapes decoded (lettre
/// encodes long lines so), and CRLF as LF.
pub fn decode_mail(raw: &str) -> String {
    let text = raw.replace("\r\n", "\n").replace("=\n", "");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at + 1..at + 3).and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[at + 3..];
            }
            None => {
                out.push('=');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The 8-digit verification code in a mail.
pub fn verification_code(mail: &str) -> String {
    let after = mail.split("verification code is ").nth(1).expect("a verification code mail");
    let code: String = after.chars().take_while(char::is_ascii_digit).collect();
    assert_eq!(code.len(), 8, "{mail}");
    code
}

/// The reset link in a mail.
pub fn reset_link(mail: &str) -> String {
    let start = mail.find("http").expect("a link in the mail");
    mail[start..].split_whitespace().next().expect("the link").to_owned()
}

/// The token in a reset link.
pub fn link_token(link: &str) -> String {
    link.split("token=").nth(1).expect("a token in the link").to_owned()
}

pub fn unique_name() -> String {
    format!("user_{}", lucia::generate_random_string(8))
}

/// The issue's acceptance test, over HTTP: twenty wrong passwords for one account through the
/// sign-in form are answered `401` five times, then `429` with `Retry-After` and the message
/// next to the form, without hashing (a refused attempt costs a fraction of a checked one);
/// meanwhile another account signs in normally; the right password is refused too until the
/// wait is over, then signs in. Attempts go to `apps` in turn (instances sharing one store).
pub async fn twenty_wrong_passwords_are_throttled_while_another_account_signs_in(apps: &[&App]) {
    const PASSWORD: &str = "correct horse battery";
    let (victim, other) = (unique_name(), unique_name());
    for name in [&victim, &other] {
        let email = email_of(name);
        let form = [("username", name.as_str()), ("email", email.as_str()), ("password", PASSWORD)];
        let response = apps[0].browser().post(apps[0].url("/signup")).form(&form).send().await.unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER, "sign-up of {name}");
    }
    // One browser per instance: each sends its own instance's origin.
    let attackers: Vec<reqwest::Client> = apps.iter().map(|app| app.browser()).collect();
    let (mut checked, mut refused) = (Vec::new(), Vec::new());
    for attempt in 0..20 {
        let (app, attacker) = (apps[attempt % apps.len()], &attackers[attempt % apps.len()]);
        let form = [("username", victim.as_str()), ("password", "wrong password")];
        let started = std::time::Instant::now();
        let response = attacker.post(app.url("/login")).form(&form).send().await.unwrap();
        let status = response.status();
        let retry_after = response.headers().get(reqwest::header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
        let body = response.text().await.unwrap();
        let elapsed = started.elapsed();
        if attempt < 5 {
            assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED, "attempt {attempt} is free");
            assert!(body.contains("Incorrect username or password."));
            checked.push(elapsed);
        } else {
            assert_eq!(status, reqwest::StatusCode::TOO_MANY_REQUESTS, "attempt {attempt} is throttled");
            assert_eq!(retry_after.as_deref(), Some("1"), "the first wait is one second");
            assert!(body.contains("Too many attempts, try again in 1 second."), "{body}");
            assert!(body.contains(&format!(r#"value="{victim}""#)), "the form is shown again");
            refused.push(elapsed);
        }
        // Meanwhile, another account signs in normally (on every instance).
        if [2, 10, 19].contains(&attempt) {
            let form = [("username", other.as_str()), ("password", PASSWORD)];
            let response = app.browser().post(app.url("/login")).form(&form).send().await.unwrap();
            assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER, "the other account signs in");
        }
    }
    // Fifteen refusals cost less than five password checks: no hashing while throttled.
    let (checked, refused): (std::time::Duration, std::time::Duration) = (checked.iter().sum(), refused.iter().sum());
    assert!(refused < checked, "15 refused attempts took {refused:?}, 5 checked ones {checked:?}");
    // The right password waits too ...
    let form = [("username", victim.as_str()), ("password", PASSWORD)];
    let app = apps[apps.len() - 1];
    let response = app.browser().post(app.url("/login")).form(&form).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::TOO_MANY_REQUESTS, "the right password waits too");
    let wait: u64 = response.headers()[reqwest::header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    // ... until the wait is over.
    tokio::time::sleep(std::time::Duration::from_millis(wait * 1000 + 50)).await;
    let response = app.browser().post(app.url("/login")).form(&form).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER, "signed in after the wait");
    assert_eq!(response.headers()[reqwest::header::LOCATION], "/account");
}

/// A fresh PostgreSQL schema or MariaDB database on a test server, for one test.
pub struct FreshDatabase {
    admin: sea_orm::DatabaseConnection,
    name: String,
    postgres: bool,
    /// The URL of the fresh schema or database.
    pub url: String,
}

impl FreshDatabase {
    pub async fn create(server_url: &str) -> Self {
        let admin = sea_orm::Database::connect(server_url).await.unwrap();
        let name = format!("lucia_demo_{}", lucia::generate_random_string(10));
        let postgres = server_url.starts_with("postgres");
        let url = if postgres {
            admin.execute_unprepared(&format!(r#"CREATE SCHEMA "{name}""#)).await.unwrap();
            format!("{server_url}?options=-c%20search_path%3D{name}")
        } else {
            admin.execute_unprepared(&format!("CREATE DATABASE `{name}`")).await.unwrap();
            format!("{}/{name}", server_url.rsplit_once('/').unwrap().0)
        };
        Self { admin, name, postgres, url }
    }

    /// Drops the schema or database, then re-raises the test's panic, if any, or returns
    /// what the test gave.
    pub async fn drop_and_resume<T>(self, outcome: Result<T, tokio::task::JoinError>) -> T {
        let name = &self.name;
        let drop =
            if self.postgres { format!(r#"DROP SCHEMA "{name}" CASCADE"#) } else { format!("DROP DATABASE `{name}`") };
        self.admin.execute_unprepared(&drop).await.unwrap();
        outcome.unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))
    }
}

/// The test server URL in `variable`; `None` (the test skipped) when unset, unless
/// `LUCIA_TEST_REQUIRE_SERVERS=1`.
pub fn server_url(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("LUCIA_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") => panic!("{variable} is not set"),
        _ => {
            eprintln!("SKIPPED: set {variable} to run the demo on that server");
            None
        }
    }
}
