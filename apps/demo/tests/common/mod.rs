//! Starts the demo on an ephemeral port with its own SQLite file, as `cargo run -p lucia-demo`
//! would, and stops it (gracefully) when dropped.

#![allow(dead_code)] // each test binary uses part of this

use std::path::PathBuf;

use lucia_demo::Config;
use tokio::sync::oneshot;

pub struct App {
    pub base: String,
    /// The SQLite file, removed on drop (`None` for a server database).
    pub db_path: Option<PathBuf>,
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

    /// The demo on `config.database_url` as given.
    pub async fn start_at(config: Config) -> Self {
        let (router, auth) = lucia_demo::build(&config).await.expect("the demo starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(lucia_demo::serve(listener, router, auth, async move {
            let _ = stopped.await;
        }));
        Self { base, db_path: None, stop: Some(stop) }
    }

    /// The URL of the app's SQLite file, for another app on the same database.
    pub fn sqlite_url(&self) -> String {
        let path = self.db_path.as_ref().expect("a SQLite app");
        format!("sqlite://{}?mode=rwc", path.display())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
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
    }
}

/// What Chromium sends in `Accept` when it navigates.
pub const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// The session token of a `Set-Cookie: auth_session=<token>; ...` (empty for a removal).
pub fn cookie_token(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().strip_prefix("auth_session=").expect("the session cookie").to_owned()
}

pub fn unique_name() -> String {
    format!("user_{}", lucia::generate_random_string(8))
}
