//! The layer and extractor over real HTTP: a server on an ephemeral port, a SQLite store, and
//! requests with exactly the headers a browser or an API client would send.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use lucia::{
    AdapterError, AllowedSubdomains, CreateSession, CreateUser, CsrfConfig, DatabaseSession, Lucia, SessionAdapter,
    SessionUpdate, SplitAdapter,
};
use lucia_adapter_sea_orm::{LuciaMigration, NoSessionTable, SeaOrmAdapter, Tables, WithSessions, entity};
use lucia_axum::{AuthError, AuthRequest, LuciaLayer};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN, SET_COOKIE};
use sea_orm_migration::{MigrationTrait, SchemaManager};

/// Sessions from the SeaORM adapter, counting lookups.
#[derive(Clone)]
struct CountingSessions {
    inner: Arc<SeaOrmAdapter<WithSessions>>,
    lookups: Arc<AtomicUsize>,
}

impl SessionAdapter for CountingSessions {
    async fn get_session(&self, session_id: &str) -> Result<Option<DatabaseSession>, AdapterError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.get_session(session_id).await
    }
    async fn get_sessions_by_user_id(&self, user_id: &str) -> Result<Vec<DatabaseSession>, AdapterError> {
        self.inner.get_sessions_by_user_id(user_id).await
    }
    async fn set_session(&self, session: DatabaseSession) -> Result<(), AdapterError> {
        self.inner.set_session(session).await
    }
    async fn update_session(&self, session_id: &str, update: SessionUpdate) -> Result<(), AdapterError> {
        self.inner.update_session(session_id, update).await
    }
    async fn delete_session(&self, session_id: &str) -> Result<(), AdapterError> {
        self.inner.delete_session(session_id).await
    }
    async fn delete_sessions_by_user_id(&self, user_id: &str) -> Result<(), AdapterError> {
        self.inner.delete_sessions_by_user_id(user_id).await
    }
    async fn delete_dead_sessions_by_user_id(&self, user_id: &str, now_ms: i64) -> Result<(), AdapterError> {
        self.inner.delete_dead_sessions_by_user_id(user_id, now_ms).await
    }
    async fn delete_dead_sessions(&self, now_ms: i64) -> Result<u64, AdapterError> {
        self.inner.delete_dead_sessions(now_ms).await
    }
}

type TestAdapter = SplitAdapter<SeaOrmAdapter<NoSessionTable>, CountingSessions>;
type Auth = AuthRequest<TestAdapter>;

struct Server {
    base: String,
    client: reqwest::Client,
    lucia: Lucia<TestAdapter>,
    clock: Arc<AtomicI64>,
    lookups: Arc<AtomicUsize>,
    user_id: String,
    db_path: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.db_path.display()));
        }
    }
}

const START: i64 = 1_795_655_076_154;

async fn me(auth: Auth) -> Result<String, AuthError> {
    Ok(auth.require().await?.user.user_id)
}

async fn bearer(auth: Auth) -> Result<String, AuthError> {
    Ok(auth.require_bearer().await?.user.user_id)
}

async fn twice(auth: Auth) -> Result<String, AuthError> {
    let first = auth.validate().await?.map(|s| s.session_id);
    let second = auth.clone().validate().await?.map(|s| s.session_id);
    assert_eq!(first, second);
    auth.validate_bearer().await?;
    auth.validate_bearer().await?;
    Ok(first.unwrap_or_default())
}

async fn sign_in(auth: Auth, Path(user_id): Path<String>) -> Result<String, AuthError> {
    let options = CreateSession { user_id, session_id: None, attributes: Default::default() };
    let session = auth.lucia().create_session(options).await?;
    auth.set_session(Some(&session)).await;
    Ok(session.session_id)
}

async fn sign_out(auth: Auth) -> Result<&'static str, AuthError> {
    auth.sign_out().await?;
    Ok("signed out")
}

async fn open(_auth: Auth) -> &'static str {
    "no session needed"
}

async fn start(
    configure: impl FnOnce(
        LuciaLayer<TestAdapter, lucia::NoAttributes, lucia::NoAttributes>,
    ) -> LuciaLayer<TestAdapter, lucia::NoAttributes, lucia::NoAttributes>,
    csrf: CsrfConfig,
) -> Server {
    let db_path = std::env::temp_dir().join(format!("lucia-axum-{}.db", lucia::generate_random_string(12)));
    let db = sea_orm::Database::connect(format!("sqlite://{}?mode=rwc", db_path.display())).await.unwrap();
    LuciaMigration::new().up(&SchemaManager::new(&db)).await.unwrap();
    let all = Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
    let users = Tables { user: entity::user::Entity, key: entity::key::Entity, session: NoSessionTable };
    let lookups = Arc::new(AtomicUsize::new(0));
    let sessions =
        CountingSessions { inner: Arc::new(SeaOrmAdapter::new(db.clone(), all).unwrap()), lookups: lookups.clone() };
    let clock = Arc::new(AtomicI64::new(START));
    let time = clock.clone();
    let lucia = Lucia::builder(SplitAdapter::new(SeaOrmAdapter::new(db, users).unwrap(), sessions))
        .clock(move || UNIX_EPOCH + Duration::from_millis(time.load(Ordering::SeqCst) as u64))
        .csrf(csrf)
        .build();
    let user_id = lucia
        .create_user(CreateUser { user_id: None, key: None, attributes: Default::default() })
        .await
        .unwrap()
        .user_id;

    let router = Router::new()
        .route("/me", get(me).post(me))
        .route("/bearer", get(bearer).post(bearer))
        .route("/twice", get(twice))
        .route("/login/{user_id}", post(sign_in))
        .route("/logout", post(sign_out))
        .route("/open", post(open))
        .layer(configure(LuciaLayer::new(lucia.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Server { base, client: reqwest::Client::new(), lucia, clock, lookups, user_id, db_path }
}

async fn default_server() -> Server {
    start(|layer| layer, CsrfConfig::default()).await
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Signs in through the API and returns the session id from the `Set-Cookie`.
    async fn sign_in(&self) -> String {
        let response = self
            .client
            .post(self.url(&format!("/login/{}", self.user_id)))
            .header(ORIGIN, &self.base)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = set_cookie(&response).expect("sign-in sets the cookie");
        let id = response.text().await.unwrap();
        assert!(cookie.starts_with(&format!("auth_session={id}; Path=/; Expires=")), "{cookie}");
        assert!(cookie.ends_with("; HttpOnly; SameSite=Lax"), "{cookie}");
        id
    }
}

fn set_cookie(response: &reqwest::Response) -> Option<String> {
    let mut values = response.headers().get_all(SET_COOKIE).iter();
    let first = values.next().map(|v| v.to_str().unwrap().to_owned());
    assert!(values.next().is_none(), "at most one Set-Cookie");
    first
}

fn cookie(id: &str) -> String {
    format!("theme=dark; auth_session={id}")
}

#[tokio::test]
async fn no_session_is_401_with_www_authenticate() {
    let server = default_server().await;
    let response = server.client.get(server.url("/me")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(set_cookie(&response), None);
}

#[tokio::test]
async fn sign_in_sets_the_cookie_and_the_cookie_authenticates() {
    let server = default_server().await;
    let id = server.sign_in().await;
    let response = server.client.get(server.url("/me")).header(COOKIE, cookie(&id)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(set_cookie(&response), None, "an active session needs no new cookie");
    assert_eq!(response.text().await.unwrap(), server.user_id);
}

#[tokio::test]
async fn an_unknown_or_dead_session_cookie_is_deleted() {
    let server = default_server().await;
    let response = server.client.get(server.url("/me")).header(COOKIE, cookie("nosuchsession")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        set_cookie(&response).unwrap(),
        "auth_session=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax"
    );
    let id = server.sign_in().await;
    server.clock.store(START + 16 * 86_400_000, Ordering::SeqCst);
    let response = server.client.get(server.url("/me")).header(COOKIE, cookie(&id)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&response).unwrap().contains("Expires=Thu, 01 Jan 1970"));
}

#[tokio::test]
async fn a_renewed_session_re_sends_the_cookie() {
    let server = default_server().await;
    let id = server.sign_in().await;
    server.clock.store(START + 2 * 86_400_000, Ordering::SeqCst);
    let response = server.client.get(server.url("/me")).header(COOKIE, cookie(&id)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Renewed at START + 2 days: idle period ends at START + 17 days (Lucia v2 sent nothing).
    let renewed = set_cookie(&response).expect("renewal re-sends the cookie");
    assert_eq!(
        renewed,
        format!("auth_session={id}; Path=/; Expires=Sun, 13 Dec 2026 01:04:36 GMT; HttpOnly; SameSite=Lax")
    );
}

#[tokio::test]
async fn the_session_is_validated_once_per_request() {
    let server = default_server().await;
    let id = server.sign_in().await;
    server.lookups.store(0, Ordering::SeqCst);
    let response = server
        .client
        .get(server.url("/twice"))
        .header(COOKIE, cookie(&id))
        .header(AUTHORIZATION, format!("Bearer {id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Two validate() and two validate_bearer() calls: one lookup each.
    assert_eq!(server.lookups.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn cross_origin_state_changes_are_refused_before_the_handler() {
    let server = default_server().await;
    let id = server.sign_in().await;
    for origin in ["https://evil.example", "null", "not an origin", "http://127.0.0.1:1", "https://127.0.0.1"] {
        let response = server
            .client
            .post(server.url(&format!("/login/{}", server.user_id)))
            .header(ORIGIN, origin)
            .header(COOKIE, cookie(&id))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin}");
        assert_eq!(set_cookie(&response), None);
    }
    // Only the sign-in above created a session.
    assert_eq!(server.lucia.get_all_user_sessions(&server.user_id).await.unwrap().len(), 1);
    // Safe methods are not checked.
    let response = server
        .client
        .get(server.url("/me"))
        .header(ORIGIN, "https://evil.example")
        .header(COOKIE, cookie(&id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_cookie_without_origin_is_not_trusted_but_bearer_tokens_are() {
    let server = default_server().await;
    let id = server.sign_in().await;
    let response = server.client.post(server.url("/me")).header(COOKIE, cookie(&id)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.unwrap().contains("no Origin header"));
    let response = server.client.post(server.url("/logout")).header(COOKIE, cookie(&id)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(server.lucia.get_session(&id).await.is_ok(), "the refused sign-out ended nothing");

    // Non-browser clients without Origin and without cookie go through; bearer tokens work.
    let response = server.client.post(server.url("/open")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response =
        server.client.post(server.url("/bearer")).header(AUTHORIZATION, format!("Bearer {id}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = server.client.get(server.url("/bearer")).header(AUTHORIZATION, "Bearer nope").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = server.client.get(server.url("/bearer")).header(COOKIE, cookie(&id)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "a cookie is not a bearer token");
}

#[tokio::test]
async fn sign_out_ends_the_session_and_deletes_the_cookie() {
    let server = default_server().await;
    let id = server.sign_in().await;
    let response = server
        .client
        .post(server.url("/logout"))
        .header(ORIGIN, &server.base)
        .header(COOKIE, cookie(&id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(set_cookie(&response).unwrap().starts_with("auth_session=; Path=/; Expires=Thu, 01 Jan 1970"));
    assert!(matches!(server.lucia.get_session(&id).await, Err(lucia::Error::InvalidSessionId)));
}

#[tokio::test]
async fn behind_a_proxy_the_public_origin_is_what_counts() {
    let server =
        start(|layer| layer.public_origin("https://example.com".parse().unwrap()), CsrfConfig::default()).await;
    let url = server.url(&format!("/login/{}", server.user_id));
    let response = server
        .client
        .post(&url)
        .header(HOST, "internal:8080")
        .header(ORIGIN, "https://example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = server.client.post(&url).header(ORIGIN, &server.base).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "the internal origin is not the public one");
}

#[tokio::test]
async fn allowed_subdomains_may_post() {
    let csrf = CsrfConfig {
        allowed_subdomains: AllowedSubdomains::Only { names: vec!["www".into()], apex: false },
        ..CsrfConfig::default()
    };
    let server = start(|layer| layer.public_origin("https://app.example.com".parse().unwrap()), csrf).await;
    let url = server.url(&format!("/login/{}", server.user_id));
    let response = server.client.post(&url).header(ORIGIN, "https://www.example.com").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = server.client.post(&url).header(ORIGIN, "https://api.example.com").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_handler_without_the_layer_is_a_server_error() {
    let router = Router::new().route("/me", get(me));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let response = reqwest::get(format!("{base}/me")).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.text().await.unwrap(), "internal server error");
}
