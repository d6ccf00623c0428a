//! The lucia-rs demo: sign up, sign in and manage sessions in server-rendered pages, plus a
//! JSON API with bearer tokens, on axum and the SeaORM adapter.
//!
//! Contract (other tools drive the app through it): tables `user` (with `username`), `key`,
//! `session`; sign-in keys `username:<name>`; cookie `auth_session`; `POST /api/signup` and
//! `POST /api/login` taking `{"username","password"}` (login answers `{"token"}`),
//! `GET /api/me` with `Authorization: Bearer <token>` answering `{"user_id","username"}`,
//! `POST /api/logout`; HTML forms post `username` and `password`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use lucia::{Lucia, SessionExpiresIn};
use lucia_adapter_sea_orm::{SeaOrmAdapter, Tables, WithSessions};
use lucia_axum::LuciaLayer;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use sea_orm_migration::MigratorTrait;
use serde::{Deserialize, Serialize};

mod accounts;
mod api;
pub mod db;
mod html;
mod web;

/// User attribute columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAttributes {
    /// Unique, as typed at sign-up.
    pub username: String,
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

/// The adapter the demo runs on.
pub type Adapter = SeaOrmAdapter<WithSessions>;
/// The demo's lucia.
pub type Auth = Lucia<Adapter, UserAttributes, SessionAttributes>;
/// What handlers extract.
pub type AuthRequest = lucia_axum::AuthRequest<Adapter, UserAttributes, SessionAttributes>;

/// The default database: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://lucia-demo.db?mode=rwc";

/// How to run the demo.
#[derive(Debug, Clone)]
pub struct Config {
    /// SeaORM URL: `sqlite://...`, `postgres://...` or `mysql://...`.
    pub database_url: String,
    /// The origin browsers use, when behind a reverse proxy (`https://example.com`).
    pub public_origin: Option<lucia::Origin>,
    /// Production mode: `Secure` cookies and an `https` default origin.
    pub production: bool,
    /// Session periods (Lucia's defaults unless changed, for example by tests).
    pub session_expires_in: SessionExpiresIn,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            public_origin: None,
            production: false,
            session_expires_in: SessionExpiresIn::default(),
        }
    }
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
}

/// Connects, migrates, and returns the application's router and its lucia.
pub async fn build(config: &Config) -> Result<(Router, Auth), StartError> {
    let db = connect(&config.database_url).await?;
    db::Migrator::up(&db, None).await?;
    let tables = Tables {
        user: db::user::Entity,
        key: lucia_adapter_sea_orm::entity::key::Entity,
        session: db::session::Entity,
    };
    let env = if config.production { lucia::Env::Prod } else { lucia::Env::Dev };
    let auth = Lucia::builder(SeaOrmAdapter::new(db, tables)?)
        .env(env)
        .session_expires_in(config.session_expires_in)
        .user_attributes::<UserAttributes>()
        .session_attributes::<SessionAttributes>()
        .build();
    let mut layer = LuciaLayer::new(auth.clone());
    if let Some(origin) = &config.public_origin {
        layer = layer.public_origin(origin.clone());
    }
    Ok((router().layer(layer).layer(middleware::from_fn(log_and_harden)), auth))
}

async fn connect(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(url);
    options.sqlx_logging(false).test_before_acquire(false);
    Database::connect(options).await
}

fn router() -> Router {
    Router::new()
        .route("/", get(web::home))
        .route("/style.css", get(web::stylesheet))
        .route("/signup", get(web::signup_page).post(web::signup))
        .route("/login", get(web::login_page).post(web::login))
        .route("/logout", post(web::logout))
        .route("/account", get(web::account))
        .route("/account/sessions/revoke", post(web::revoke_session))
        .route("/account/sessions/revoke-others", post(web::revoke_other_sessions))
        .route("/account/password", post(web::change_password))
        .route("/account/delete", post(web::delete_account))
        .route("/api/signup", post(api::signup))
        .route("/api/login", post(api::login))
        .route("/api/me", get(api::me))
        .route("/api/logout", post(api::logout))
        .fallback(web::not_found)
}

/// Logs each request and adds security headers to each response.
async fn log_and_harden(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let started = Instant::now();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'self'; form-action 'self'"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    tracing::info!(%method, %path, status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request");
    response
}

/// Serves `router` on `listener` until `shutdown` completes, then finishes open requests.
/// Deletes dead sessions every hour meanwhile.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    auth: Auth,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(Duration::from_secs(60 * 60));
        loop {
            every_hour.tick().await;
            match auth.delete_dead_sessions().await {
                Ok(count) => tracing::info!(count, "deleted dead sessions"),
                Err(error) => tracing::warn!(%error, "could not delete dead sessions"),
            }
        }
    });
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
    sweeper.abort();
    result
}
