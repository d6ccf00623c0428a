//! The layer and extractors over real HTTP: a server on an ephemeral port, a SQLite store, and
//! requests with exactly the headers a browser or an API client would send.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use axum::Router;
use axum::extract::Path;
use axum::routing::{get, post};
use lucia::{
    AdapterError, AllowedSubdomains, CreateUser, CsrfConfig, DatabaseSession, Lucia, LuciaScrypt, NewKey, NoAttributes,
    PasswordHashError, PasswordHasher, SameSite, SessionAdapter, SessionCookieConfig, SessionUpdate, SplitAdapter,
};
use lucia_adapter_sea_orm::{LuciaMigration, NoSessionTable, SeaOrmAdapter, SeaOrmUserAdapter, Tables, entity};
use lucia_axum::{AuthError, AuthRequest, LuciaLayer, Quota, SignedIn};
use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, COOKIE, HOST, LOCATION, ORIGIN, RETRY_AFTER, SET_COOKIE, WWW_AUTHENTICATE,
};
use sea_orm::ConnectionTrait;
use sea_orm_migration::{MigrationTrait, SchemaManager};

/// Sessions from the SeaORM adapter, counting lookups; while `down` is set, every call fails as
/// an unreachable store does.
#[derive(Clone)]
struct CountingSessions {
    inner: Arc<SeaOrmAdapter>,
    lookups: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
}

impl CountingSessions {
    fn reachable(&self) -> Result<(), AdapterError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(AdapterError::unavailable("connection refused (test)"));
        }
        Ok(())
    }
}

impl SessionAdapter for CountingSessions {
    async fn get_session(&self, session_id: &str) -> Result<Option<DatabaseSession>, AdapterError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.reachable()?;
        self.inner.get_session(session_id).await
    }
    async fn get_sessions_by_user_id(&self, user_id: &str) -> Result<Vec<DatabaseSession>, AdapterError> {
        self.reachable()?;
        self.inner.get_sessions_by_user_id(user_id).await
    }
    async fn set_session(&self, session: DatabaseSession) -> Result<(), AdapterError> {
        self.reachable()?;
        self.inner.set_session(session).await
    }
    async fn update_session(&self, session_id: &str, update: SessionUpdate) -> Result<(), AdapterError> {
        self.reachable()?;
        self.inner.update_session(session_id, update).await
    }
    async fn delete_session(&self, session_id: &str) -> Result<(), AdapterError> {
        self.reachable()?;
        self.inner.delete_session(session_id).await
    }
    async fn delete_sessions_by_user_id(&self, user_id: &str) -> Result<(), AdapterError> {
        self.reachable()?;
        self.inner.delete_sessions_by_user_id(user_id).await
    }
    async fn delete_dead_sessions_by_user_id(&self, user_id: &str, now_ms: i64) -> Result<(), AdapterError> {
        self.reachable()?;
        self.inner.delete_dead_sessions_by_user_id(user_id, now_ms).await
    }
    async fn delete_dead_sessions(&self, now_ms: i64) -> Result<u64, AdapterError> {
        self.reachable()?;
        self.inner.delete_dead_sessions(now_ms).await
    }
}

type TestAdapter = SplitAdapter<SeaOrmUserAdapter, CountingSessions>;
/// The one type the application names.
type Auth = Lucia<TestAdapter>;

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";

/// Lucia v2's scrypt, counting the passwords it checks.
#[derive(Clone, Default)]
struct CountingScrypt {
    verified: Arc<AtomicUsize>,
}

impl PasswordHasher for CountingScrypt {
    fn hash(&self, password: &str) -> Result<String, PasswordHashError> {
        LuciaScrypt.hash(password)
    }
    fn verify(&self, password: &str, hash: &str) -> Result<bool, PasswordHashError> {
        self.verified.fetch_add(1, Ordering::SeqCst);
        LuciaScrypt.verify(password, hash)
    }
}

struct Server {
    base: String,
    client: reqwest::Client,
    lucia: Auth,
    /// Passwords checked (scrypt runs) so far.
    verified: Arc<AtomicUsize>,
    db: sea_orm::DatabaseConnection,
    clock: Arc<AtomicI64>,
    lookups: Arc<AtomicUsize>,
    /// Set: the session store is unreachable.
    down: Arc<AtomicBool>,
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

/// The guard: the session's user id.
async fn me(SignedIn { session, .. }: SignedIn<Auth>) -> String {
    session.user.user_id
}

/// The cookie session only.
async fn cookie_session(auth: AuthRequest<Auth>) -> Result<String, AuthError> {
    Ok(auth.validate().await?.map(|s| s.user.user_id).unwrap_or_default())
}

async fn bearer(auth: AuthRequest<Auth>) -> Result<String, AuthError> {
    Ok(auth.require_bearer().await?.user.user_id)
}

/// Every way of asking for the session, several times, in one request.
async fn twice(auth: AuthRequest<Auth>, signed_in: SignedIn<Auth>) -> Result<String, AuthError> {
    let first = auth.validate().await?.map(|s| s.handle);
    let second = auth.clone().validate().await?.map(|s| s.handle);
    assert_eq!(first, second);
    auth.validate_bearer().await?;
    auth.validate_bearer().await?;
    auth.require().await?;
    Ok(signed_in.session.handle.to_string())
}

/// One-call sign-in with the request body as the password.
async fn sign_in(auth: AuthRequest<Auth>, password: String) -> Result<String, AuthError> {
    let session = auth.sign_in("email", EMAIL, Some(&password), NoAttributes {}).await?;
    // Later calls in the request see the new session.
    assert_eq!(auth.validate().await?.map(|s| s.handle), Some(session.handle.clone()));
    Ok(session.handle.to_string())
}

/// One-call sign-up of `email`, the request body as the password: the new user's id.
async fn sign_up_as(auth: AuthRequest<Auth>, Path(email): Path<String>, password: String) -> Result<String, AuthError> {
    let user = CreateUser::new(NoAttributes {}).with_key(NewKey::password("email", email, password));
    Ok(auth.sign_up(user, NoAttributes {}).await?.user.user_id)
}

/// Sign-in of `email`, the request body as the password.
async fn sign_in_as(auth: AuthRequest<Auth>, Path(email): Path<String>, password: String) -> Result<String, AuthError> {
    Ok(auth.sign_in("email", &email, Some(&password), NoAttributes {}).await?.handle.to_string())
}

async fn start_session(auth: AuthRequest<Auth>, Path(user_id): Path<String>) -> Result<String, AuthError> {
    Ok(auth.start_session(&user_id, NoAttributes {}).await?.handle.to_string())
}

async fn sign_out(auth: AuthRequest<Auth>) -> Result<&'static str, AuthError> {
    auth.sign_out().await?;
    Ok("signed out")
}

async fn open(_auth: AuthRequest<Auth>) -> &'static str {
    "no session needed"
}

async fn create_user(auth: AuthRequest<Auth>, Path(user_id): Path<String>) -> Result<&'static str, AuthError> {
    let user = CreateUser { user_id: Some(user_id), key: None, attributes: NoAttributes {} };
    auth.lucia().create_user(user).await?;
    Ok("created")
}

async fn start_with(
    configure: impl FnOnce(LuciaLayer) -> LuciaLayer,
    csrf: CsrfConfig,
    cookie: SessionCookieConfig,
) -> Server {
    let db_path = std::env::temp_dir().join(format!("lucia-axum-{}.db", lucia::generate_random_string(12)));
    let db = sea_orm::Database::connect(format!("sqlite://{}?mode=rwc", db_path.display())).await.unwrap();
    LuciaMigration::new().up(&SchemaManager::new(&db)).await.unwrap();
    let all = Tables { user: entity::user::Entity, key: entity::key::Entity, session: entity::session::Entity };
    let users = Tables { user: entity::user::Entity, key: entity::key::Entity, session: NoSessionTable };
    let lookups = Arc::new(AtomicUsize::new(0));
    let down = Arc::new(AtomicBool::new(false));
    let sessions = CountingSessions {
        inner: Arc::new(SeaOrmAdapter::new(db.clone(), all).unwrap()),
        lookups: lookups.clone(),
        down: down.clone(),
    };
    let clock = Arc::new(AtomicI64::new(START));
    let time = clock.clone();
    let hasher = CountingScrypt::default();
    let verified = Arc::clone(&hasher.verified);
    let lucia = Lucia::builder(SplitAdapter::new(SeaOrmAdapter::new(db.clone(), users).unwrap(), sessions))
        .clock(move || UNIX_EPOCH + Duration::from_millis(time.load(Ordering::SeqCst) as u64))
        .password_hasher(hasher)
        .csrf(csrf)
        .session_cookie(cookie)
        .build();
    let user = CreateUser::new(NoAttributes {}).with_key(NewKey::password("email", EMAIL, PASSWORD));
    let user_id = lucia.create_user(user).await.unwrap().user_id;

    let router = Router::new()
        .route("/me", get(me).post(me))
        .route("/cookie", get(cookie_session).post(cookie_session))
        .route("/bearer", get(bearer).post(bearer))
        .route("/twice", get(twice))
        .route("/login", post(sign_in))
        .route("/start/{user_id}", post(start_session))
        .route("/logout", post(sign_out))
        .route("/open", post(open))
        .route("/users/{user_id}", post(create_user))
        .route("/signup/{email}", post(sign_up_as))
        .route("/login/{email}", post(sign_in_as))
        .layer(configure(LuciaLayer::new(&lucia).sign_in_url("/sign-in?from=guard")))
        .with_state(lucia.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // With the client's address, which the per-IP sign-in limit needs.
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
    Server { base, client: reqwest::Client::new(), lucia, verified, db, clock, lookups, down, user_id, db_path }
}

async fn start(configure: impl FnOnce(LuciaLayer) -> LuciaLayer, csrf: CsrfConfig) -> Server {
    start_with(configure, csrf, SessionCookieConfig::default()).await
}

async fn default_server() -> Server {
    start(|layer| layer, CsrfConfig::default()).await
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Signs in as a same-origin browser would and returns the session token of the cookie.
    async fn sign_in(&self) -> String {
        self.sign_in_with(&[]).await
    }

    async fn sign_in_with(&self, cookie_header: &[&str]) -> String {
        let mut request = self.client.post(self.url("/login")).header(ORIGIN, &self.base).body(PASSWORD);
        for value in cookie_header {
            request = request.header(COOKIE, *value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = set_cookie(&response).expect("sign-in sets the cookie");
        let token = cookie_token(&cookie);
        assert_eq!(token.len(), 40, "{cookie}");
        assert!(cookie.contains("; HttpOnly") && cookie.contains("; SameSite=Lax") && cookie.contains("; Path=/"));
        assert!(cookie.contains("; Expires=") && !cookie.contains("Secure"), "{cookie}");
        let handle = response.text().await.unwrap();
        assert!(!handle.contains(&token), "a handle is not the token");
        token
    }

    async fn live_sessions(&self) -> usize {
        self.lucia.get_all_user_sessions(&self.user_id).await.unwrap().len()
    }
}

fn set_cookie(response: &reqwest::Response) -> Option<String> {
    let mut values = response.headers().get_all(SET_COOKIE).iter();
    let first = values.next().map(|v| v.to_str().unwrap().to_owned());
    assert!(values.next().is_none(), "at most one Set-Cookie");
    first
}

fn cookie_token(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().strip_prefix("auth_session=").unwrap().to_owned()
}

fn cookie(token: &str) -> String {
    format!("theme=dark; auth_session={token}")
}

fn is_removal(set_cookie: &str) -> bool {
    set_cookie.starts_with("auth_session=;") && set_cookie.contains("Max-Age=0")
}

#[tokio::test]
async fn the_guard_answers_401_to_apis_and_redirects_pages() {
    let server = default_server().await;
    // An API client (no Accept, or one that takes anything): 401 with WWW-Authenticate.
    for accept in [None, Some("*/*"), Some("application/json")] {
        let mut request = server.client.get(server.url("/me"));
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{accept:?}");
        assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer");
        assert_eq!(set_cookie(&response), None);
        assert_eq!(response.text().await.unwrap(), "not signed in");
    }
    // A page request: 303 to the sign-in URL configured on the layer.
    let browser_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = no_redirects.get(server.url("/me")).header(ACCEPT, browser_accept).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/sign-in?from=guard");
    // A page request with a bad bearer token is an API request: 401.
    let response = no_redirects
        .get(server.url("/me"))
        .header(ACCEPT, browser_accept)
        .header(AUTHORIZATION, "Bearer nope")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Signed in, the guard lets the request through, by cookie or by bearer token.
    let token = server.sign_in().await;
    let response = server.client.get(server.url("/me")).header(COOKIE, cookie(&token)).send().await.unwrap();
    assert_eq!((response.status(), response.text().await.unwrap()), (StatusCode::OK, server.user_id.clone()));
    let response =
        server.client.get(server.url("/me")).header(AUTHORIZATION, format!("Bearer {token}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The bearer token takes precedence: a bad one is 401 even next to a good cookie.
    let response = server
        .client
        .get(server.url("/me"))
        .header(COOKIE, cookie(&token))
        .header(AUTHORIZATION, "Bearer nope")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_in_sets_the_cookie_and_the_cookie_authenticates() {
    let server = default_server().await;
    let token = server.sign_in().await;
    let response = server.client.get(server.url("/me")).header(COOKIE, cookie(&token)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(set_cookie(&response), None, "an active session needs no new cookie");
    assert_eq!(response.text().await.unwrap(), server.user_id);
    // The session table holds the token's hash, not the token.
    let rows = server.lucia.adapter().sessions().inner.get_sessions_by_user_id(&server.user_id).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, lucia::SessionTokens::Hashed.stored_id(&token));

    // A wrong password is 401 with a fixed text, and no cookie.
    let response =
        server.client.post(server.url("/login")).header(ORIGIN, &server.base).body("wrong").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(set_cookie(&response), None);
    assert_eq!(response.text().await.unwrap(), "invalid credentials");
}

#[tokio::test]
async fn signing_in_replaces_the_session_the_request_came_with() {
    let server = default_server().await;
    let first = server.sign_in().await;
    let second = server.sign_in_with(&[&cookie(&first)]).await;
    assert_ne!(first, second, "a fresh token, never the one the request brought (no fixation)");
    assert!(matches!(server.lucia.get_session(&first).await, Err(lucia::Error::InvalidSessionId)));
    assert!(server.lucia.get_session(&second).await.is_ok());
    assert_eq!(server.live_sessions().await, 1);

    // A session the attacker planted in the cookie is replaced the same way.
    let planted = server.sign_in().await;
    let victim = server.sign_in_with(&[&cookie(&planted)]).await;
    assert_ne!(victim, planted);
    assert!(server.lucia.get_session(&planted).await.is_err());

    // start_session (after sign-up) replaces it too.
    let response = server
        .client
        .post(server.url(&format!("/start/{}", server.user_id)))
        .header(ORIGIN, &server.base)
        .header(COOKIE, cookie(&victim))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let started = cookie_token(&set_cookie(&response).unwrap());
    assert!(server.lucia.get_session(&victim).await.is_err());
    assert!(server.lucia.get_session(&started).await.is_ok());
    assert_eq!(server.live_sessions().await, 2, "the second sign-in's session and the started one");
}

#[tokio::test]
async fn an_unknown_or_dead_session_cookie_is_deleted() {
    let server = default_server().await;
    let response =
        server.client.get(server.url("/cookie")).header(COOKIE, cookie("nosuchsession")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(is_removal(&set_cookie(&response).unwrap()));
    let token = server.sign_in().await;
    server.clock.store(START + 16 * 86_400_000, Ordering::SeqCst);
    let response = server.client.get(server.url("/me")).header(COOKIE, cookie(&token)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(is_removal(&set_cookie(&response).unwrap()), "the guard's rejection still deletes the cookie");
}

/// A `503` for an unreachable store: no cookie change, no redirect, no `401`.
async fn assert_unavailable(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    assert_eq!(response.headers().get(RETRY_AFTER).map(|v| v.to_str().unwrap()), Some("5"), "{what}");
    assert_eq!(set_cookie(&response), None, "{what}: the cookie is not touched");
    assert!(response.headers().get(LOCATION).is_none(), "{what}: no redirect to sign in");
    assert!(response.headers().get(WWW_AUTHENTICATE).is_none(), "{what}: not a 401");
    assert_eq!(response.text().await.unwrap(), "service unavailable", "{what}");
}

/// An outage of the session store is `503` with `Retry-After`, never a sign-out: the cookie is
/// kept (no `Set-Cookie` at all), pages are not redirected to the sign-in page, and once the
/// store is back the same cookie works.
#[tokio::test]
async fn an_unreachable_session_store_is_503_and_keeps_the_cookie() {
    let server = default_server().await;
    let token = server.sign_in().await;
    server.down.store(true, Ordering::SeqCst);

    let page = server.client.get(server.url("/me")).header(COOKIE, cookie(&token)).header(ACCEPT, "text/html");
    assert_unavailable(page.send().await.unwrap(), "a guarded page").await;
    let api = server.client.get(server.url("/me")).header(COOKIE, cookie(&token));
    assert_unavailable(api.send().await.unwrap(), "a guarded API").await;
    let optional = server.client.get(server.url("/cookie")).header(COOKIE, cookie(&token));
    assert_unavailable(optional.send().await.unwrap(), "an optional session").await;
    let bearer = server.client.get(server.url("/bearer")).header(AUTHORIZATION, format!("Bearer {token}"));
    assert_unavailable(bearer.send().await.unwrap(), "a bearer token").await;
    let sign_out =
        server.client.post(server.url("/logout")).header(ORIGIN, &server.base).header(COOKIE, cookie(&token));
    assert_unavailable(sign_out.send().await.unwrap(), "a sign-out").await;
    let sign_in = server.client.post(server.url("/login")).header(ORIGIN, &server.base).body(PASSWORD);
    assert_unavailable(sign_in.send().await.unwrap(), "a sign-in").await;

    server.down.store(false, Ordering::SeqCst);
    let response = server.client.get(server.url("/me")).header(COOKIE, cookie(&token)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the same cookie works once the store is back");
    assert_eq!(set_cookie(&response), None);
    assert_eq!(response.text().await.unwrap(), server.user_id);
    assert_eq!(server.live_sessions().await, 1, "nothing was signed in or out during the outage");
}

#[tokio::test]
async fn a_renewed_session_re_sends_the_cookie() {
    let server = default_server().await;
    let token = server.sign_in().await;
    server.clock.store(START + 2 * 86_400_000, Ordering::SeqCst);
    let response = server.client.get(server.url("/me")).header(COOKIE, cookie(&token)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Renewed at START + 2 days: idle period ends at START + 17 days (Lucia v2 sent nothing).
    let renewed = set_cookie(&response).expect("renewal re-sends the cookie");
    assert_eq!(
        renewed,
        format!("auth_session={token}; HttpOnly; SameSite=Lax; Path=/; Expires=Sun, 13 Dec 2026 01:04:36 GMT")
    );
}

#[tokio::test]
async fn the_session_is_validated_once_per_request() {
    let server = default_server().await;
    let token = server.sign_in().await;
    server.lookups.store(0, Ordering::SeqCst);
    let response = server
        .client
        .get(server.url("/twice"))
        .header(COOKIE, cookie(&token))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The guard, two validate(), two validate_bearer() and require(): one lookup per credential.
    assert_eq!(server.lookups.load(Ordering::SeqCst), 2);
}

/// Origins that are not the server's: another site, `null`, garbage, another port or scheme.
const CROSS_ORIGINS: [&str; 5] =
    ["https://evil.example", "null", "not an origin", "http://127.0.0.1:1", "https://127.0.0.1"];

#[tokio::test]
async fn csrf_bearer_only_requests_are_never_refused() {
    let server = default_server().await;
    let token = server.sign_in().await;
    for origin in CROSS_ORIGINS.iter().map(Some).chain([None]) {
        let mut request = server.client.post(server.url("/bearer")).header(AUTHORIZATION, format!("Bearer {token}"));
        if let Some(origin) = origin {
            request = request.header(ORIGIN, *origin);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{origin:?}");
        assert_eq!(response.text().await.unwrap(), server.user_id);
    }
    // The guard too, and a sign-out by bearer token ends that session, cross-origin, without cookies.
    let response = server
        .client
        .post(server.url("/me"))
        .header(ORIGIN, "https://api-client.example")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = server
        .client
        .post(server.url("/logout"))
        .header(ORIGIN, "https://api-client.example")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(set_cookie(&response), None, "no cookie for a bearer-only client");
    assert!(server.lucia.get_session(&token).await.is_err());
}

#[tokio::test]
async fn csrf_cross_origin_requests_without_credentials_are_refused() {
    let server = default_server().await;
    // Login CSRF: another site's form signing the browser in to the attacker's account.
    for origin in CROSS_ORIGINS {
        let response =
            server.client.post(server.url("/login")).header(ORIGIN, origin).body(PASSWORD).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin}");
        assert_eq!(set_cookie(&response), None);
        assert_eq!(response.text().await.unwrap(), "cross-site request refused");
    }
    assert_eq!(server.live_sessions().await, 0, "the handler never ran");
    // Same-origin, and clients that send no Origin at all (not browsers), go through.
    let response = server.client.post(server.url("/open")).header(ORIGIN, &server.base).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = server.client.post(server.url("/open")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn csrf_cookie_requests_must_be_same_origin() {
    let server = default_server().await;
    let token = server.sign_in().await;
    for origin in CROSS_ORIGINS {
        let response = server
            .client
            .post(server.url("/logout"))
            .header(ORIGIN, origin)
            .header(COOKIE, cookie(&token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin}");
        assert_eq!(set_cookie(&response), None);
    }
    assert!(server.lucia.get_session(&token).await.is_ok(), "no refused sign-out ended anything");
    let response = server
        .client
        .post(server.url("/me"))
        .header(ORIGIN, &server.base)
        .header(COOKIE, cookie(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Safe methods are not checked (SameSite=Lax cookies come with top-level navigations).
    let response = server
        .client
        .get(server.url("/me"))
        .header(ORIGIN, "https://evil.example")
        .header(COOKIE, cookie(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn csrf_with_a_cookie_and_a_bearer_token_cross_origin_only_the_bearer_counts() {
    let server = default_server().await;
    let cookie_token = server.sign_in().await;
    let bearer_token = server.sign_in().await;
    let cross = |path: &str| {
        server
            .client
            .post(server.url(path))
            .header(ORIGIN, "https://evil.example")
            .header(COOKIE, cookie(&cookie_token))
            .header(AUTHORIZATION, format!("Bearer {bearer_token}"))
    };
    // The guard uses the bearer token; the cookie is not used.
    let response = cross("/me").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = cross("/cookie").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "the cookie is not trusted");
    // Such a request cannot set the session cookie either.
    let response = cross("/login").body(PASSWORD).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(set_cookie(&response), None);
    // Signing out ends the bearer session and leaves the cookie's alone.
    let response = cross("/logout").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(set_cookie(&response), None);
    assert!(server.lucia.get_session(&bearer_token).await.is_err());
    assert!(server.lucia.get_session(&cookie_token).await.is_ok());
}

#[tokio::test]
async fn csrf_a_cookie_without_origin_is_not_trusted() {
    let server = default_server().await;
    let token = server.sign_in().await;
    let response = server.client.post(server.url("/me")).header(COOKIE, cookie(&token)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.text().await.unwrap(), "cross-site request refused");
    let response = server.client.post(server.url("/logout")).header(COOKIE, cookie(&token)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(server.lucia.get_session(&token).await.is_ok(), "the refused sign-out ended nothing");
    // Without Origin, a bearer token works, and a cookie next to it is not used.
    let response = server
        .client
        .post(server.url("/bearer"))
        .header(COOKIE, cookie("someone-elses"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = server.client.get(server.url("/bearer")).header(COOKIE, cookie(&token)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "a cookie is not a bearer token");
}

#[tokio::test]
async fn sign_out_ends_the_session_and_deletes_the_cookie() {
    let server = default_server().await;
    let token = server.sign_in().await;
    let response = server
        .client
        .post(server.url("/logout"))
        .header(ORIGIN, &server.base)
        .header(COOKIE, cookie(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(is_removal(&set_cookie(&response).unwrap()));
    assert!(matches!(server.lucia.get_session(&token).await, Err(lucia::Error::InvalidSessionId)));
}

#[tokio::test]
async fn behind_a_proxy_the_public_origin_is_what_counts() {
    let server =
        start(|layer| layer.public_origin("https://example.com".parse().unwrap()), CsrfConfig::default()).await;
    let response = server
        .client
        .post(server.url("/login"))
        .header(HOST, "internal:8080")
        .header(ORIGIN, "https://example.com")
        .body(PASSWORD)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response =
        server.client.post(server.url("/login")).header(ORIGIN, &server.base).body(PASSWORD).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "the internal origin is not the public one");
}

#[tokio::test]
async fn allowed_subdomains_may_post() {
    let csrf = CsrfConfig {
        allowed_subdomains: AllowedSubdomains::Only { names: vec!["www".into()], apex: false },
        ..CsrfConfig::default()
    };
    let server = start(|layer| layer.public_origin("https://app.example.com".parse().unwrap()), csrf).await;
    let token = server.sign_in_via("https://www.example.com").await;
    let response = server
        .client
        .post(server.url("/me"))
        .header(ORIGIN, "https://www.example.com")
        .header(COOKIE, cookie(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    for origin in ["https://api.example.com", "https://example.com", "http://www.example.com"] {
        let response = server
            .client
            .post(server.url("/me"))
            .header(ORIGIN, origin)
            .header(COOKIE, cookie(&token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{origin}");
    }
}

impl Server {
    async fn sign_in_via(&self, origin: &str) -> String {
        let response = self.client.post(self.url("/login")).header(ORIGIN, origin).body(PASSWORD).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        cookie_token(&set_cookie(&response).unwrap())
    }
}

#[tokio::test]
async fn same_site_none_cookies_are_secure_even_in_development() {
    let config = SessionCookieConfig { same_site: SameSite::None, ..SessionCookieConfig::default() };
    let server = start_with(|layer| layer, CsrfConfig::default(), config).await;
    let response =
        server.client.post(server.url("/login")).header(ORIGIN, &server.base).body(PASSWORD).send().await.unwrap();
    let cookie = set_cookie(&response).unwrap();
    assert!(cookie.contains("; SameSite=None") && cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn error_bodies_carry_no_database_text() {
    let server = default_server().await;
    let create = |id: &str| server.client.post(server.url(&format!("/users/{id}"))).header(ORIGIN, &server.base).send();
    assert_eq!(create("taken-id").await.unwrap().status(), StatusCode::OK);
    let response = create("taken-id").await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(response.text().await.unwrap(), "already taken");

    // A store failure: its message names the table; the client sees none of it.
    let token = server.sign_in().await;
    server.db.execute_unprepared(r#"DROP TABLE "session""#).await.unwrap();
    let response = server.client.get(server.url("/me")).header(COOKIE, cookie(&token)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.text().await.unwrap(), "internal server error");
    let response =
        server.client.post(server.url("/login")).header(ORIGIN, &server.base).body(PASSWORD).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.text().await.unwrap(), "internal server error");
}

/// Log lines, captured.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// Single-threaded, so the server task logs to this thread's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn a_handler_without_the_layer_is_a_logged_server_error() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let lucia: Auth = default_server().await.lucia.clone();
    let router = Router::new().route("/me", get(me)).route("/cookie", get(cookie_session)).with_state(lucia);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    for path in ["/me", "/cookie"] {
        let response = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.text().await.unwrap(), "internal server error");
    }
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = logged.lines().filter(|line| line.contains("without LuciaLayer")).collect();
    assert_eq!(lines.len(), 2, "{logged}");
    assert!(lines[0].contains("ERROR") && lines[0].contains("path=/me"), "{logged}");
}

// ---- brute force: the per-account throttle and the per-IP limit ---------------------------

/// A same-origin browser's POST of `password` to `path`.
async fn post_password(server: &Server, path: &str, password: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = server.client.post(server.url(path)).header(ORIGIN, &server.base).body(password.to_owned());
    if let Some(forwarded_for) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded_for);
    }
    request.send().await.unwrap()
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap()
}

/// The issue's acceptance test: twenty wrong passwords for one account are throttled (429
/// with `Retry-After`, no hashing) while another account signs in normally; then the right
/// password is refused too until the wait is over.
#[tokio::test]
async fn twenty_wrong_passwords_for_one_account_are_throttled_while_another_signs_in() {
    // All from one address: a per-IP budget above the thirty-odd attempts, so that only the
    // per-account throttle answers here.
    let server = start(|layer| layer.sign_in_rate_limit(quota(100)), CsrfConfig::default()).await;
    let other = post_password(&server, "/signup/bob@example.com", "bob's password", None).await;
    assert_eq!(other.status(), StatusCode::OK);
    let before = server.verified.load(Ordering::SeqCst);
    let mut statuses = Vec::new();
    for attempt in 0..20 {
        let response = post_password(&server, &format!("/login/{EMAIL}"), "wrong password", None).await;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(retry_after(&response), 1, "the first wait is one second");
            assert!(response.headers().get(SET_COOKIE).is_none());
            assert_eq!(response.text().await.unwrap(), "too many attempts");
        }
        statuses.push(status);
        // Meanwhile, the other account signs in normally.
        if attempt % 5 == 4 {
            let bob = post_password(&server, "/login/bob@example.com", "bob's password", None).await;
            assert_eq!(bob.status(), StatusCode::OK, "another account is not throttled");
        }
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5], "five free attempts");
    assert_eq!(statuses[5..], [StatusCode::TOO_MANY_REQUESTS; 15]);
    // Five wrong passwords and Bob's four sign-ins were hashed; the fifteen refused ones not.
    assert_eq!(server.verified.load(Ordering::SeqCst) - before, 5 + 4);
    // The right password is refused until the wait is over ...
    let right = post_password(&server, &format!("/login/{EMAIL}"), PASSWORD, None).await;
    assert_eq!((right.status(), retry_after(&right)), (StatusCode::TOO_MANY_REQUESTS, 1));
    server.clock.fetch_add(999, Ordering::SeqCst);
    let right = post_password(&server, &format!("/login/{EMAIL}"), PASSWORD, None).await;
    assert_eq!((right.status(), retry_after(&right)), (StatusCode::TOO_MANY_REQUESTS, 1), "1 ms left rounds up");
    // ... then signs in, and clears the count.
    server.clock.fetch_add(1, Ordering::SeqCst);
    assert_eq!(post_password(&server, &format!("/login/{EMAIL}"), PASSWORD, None).await.status(), StatusCode::OK);
    let wrong = post_password(&server, &format!("/login/{EMAIL}"), "wrong password", None).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // An unknown account is throttled the same way.
    for attempt in 0..6 {
        let response = post_password(&server, "/login/nobody@example.com", "guess", None).await;
        let expected = if attempt < 5 { StatusCode::UNAUTHORIZED } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(response.status(), expected, "attempt {attempt}");
    }
}

fn quota(burst: u32) -> Quota {
    Quota::per_hour(std::num::NonZeroU32::new(burst).unwrap())
}

#[tokio::test]
async fn sign_ins_and_sign_ups_are_limited_per_client_address() {
    let server = start(|layer| layer.sign_in_rate_limit(quota(4)), CsrfConfig::default()).await;
    // Sign-ups and sign-ins share the address's budget, whatever the account.
    let up = post_password(&server, "/signup/c@example.com", "c's password", None).await;
    assert_eq!(up.status(), StatusCode::OK);
    assert_eq!(post_password(&server, "/login/c@example.com", "c's password", None).await.status(), StatusCode::OK);
    assert_eq!(post_password(&server, "/login/x@example.com", "guess", None).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(post_password(&server, &format!("/login/{EMAIL}"), PASSWORD, None).await.status(), StatusCode::OK);
    let verified = server.verified.load(Ordering::SeqCst);
    for path in [format!("/login/{EMAIL}"), "/signup/d@example.com".to_owned()] {
        let refused = post_password(&server, &path, PASSWORD, None).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        // One token per 15 minutes: the wait, rounded up (less the seconds this test has run,
        // on the limiter's real clock: a loaded machine took two).
        assert!((850..=900).contains(&retry_after(&refused)), "{}", retry_after(&refused));
        assert_eq!(refused.text().await.unwrap(), "too many attempts");
    }
    assert_eq!(server.verified.load(Ordering::SeqCst), verified, "refused before any hashing");
    assert!(server.lucia.get_key("email", "d@example.com").await.is_err(), "no user created");
    // Other routes are not limited, and a forwarded-for header is ignored unless trusted.
    let spoofed = post_password(&server, &format!("/login/{EMAIL}"), PASSWORD, Some("203.0.113.9")).await;
    assert_eq!(spoofed.status(), StatusCode::TOO_MANY_REQUESTS);
    let token = server.lucia.sign_in("email", EMAIL, Some(PASSWORD), NoAttributes {}).await.unwrap().token;
    let me = server.client.get(server.url("/me")).header(COOKIE, cookie(token.expose_secret())).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_right_most_forwarded_address_counts() {
    let configure = |layer: LuciaLayer| layer.sign_in_rate_limit(quota(2)).trusted_proxy_header("x-forwarded-for");
    let server = start(configure, CsrfConfig::default()).await;
    let login = format!("/login/{EMAIL}");
    for _ in 0..2 {
        let response = post_password(&server, &login, PASSWORD, Some("10.0.0.1, 198.51.100.7")).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    // A client cannot escape by prepending addresses: the proxy's entry is the last one.
    let response = post_password(&server, &login, PASSWORD, Some("192.0.2.99, 198.51.100.7")).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the proxy has its own budget; one IPv6 /64 shares one.
    assert_eq!(post_password(&server, &login, PASSWORD, Some("198.51.100.8")).await.status(), StatusCode::OK);
    for (address, status) in [
        ("2001:db8:1:2::1", StatusCode::OK),
        ("2001:db8:1:2:ffff::2", StatusCode::OK),
        ("2001:db8:1:2::3", StatusCode::TOO_MANY_REQUESTS),
        ("2001:db8:1:3::1", StatusCode::OK),
    ] {
        assert_eq!(post_password(&server, &login, PASSWORD, Some(address)).await.status(), status, "{address}");
    }
    // Without the header, the connection's address (the proxy's) counts.
    for _ in 0..2 {
        assert_eq!(post_password(&server, &login, PASSWORD, None).await.status(), StatusCode::OK);
    }
    assert_eq!(post_password(&server, &login, PASSWORD, Some("garbage")).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_limit_can_be_turned_off() {
    let server = start(|layer| layer.without_sign_in_rate_limit(), CsrfConfig::default()).await;
    for _ in 0..25 {
        assert_eq!(post_password(&server, &format!("/login/{EMAIL}"), PASSWORD, None).await.status(), StatusCode::OK);
    }
}

// Single-threaded, so the handler logs to this thread's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn without_connect_info_sign_in_is_a_logged_server_error_naming_the_fix() {
    use tower::ServiceExt as _;
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let lucia = Lucia::builder(lucia::memory::MemoryAdapter::new()).build();
    let user = CreateUser::new(NoAttributes {}).with_key(NewKey::password("email", EMAIL, PASSWORD));
    lucia.create_user(user).await.unwrap();
    let router = |layer: LuciaLayer| {
        Router::new()
            .route(
                "/login",
                post(|auth: AuthRequest<Lucia<lucia::memory::MemoryAdapter>>| async move {
                    auth.sign_in("email", EMAIL, Some(PASSWORD), NoAttributes {}).await.map(|_| "signed in")
                }),
            )
            .layer(layer)
            .with_state(lucia.clone())
    };
    let request = || axum::http::Request::post("/login").body(axum::body::Body::empty()).unwrap();
    let response = router(LuciaLayer::new(&lucia)).oneshot(request()).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
    assert_eq!(body, "internal server error");
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("ERROR")
            && logged.contains("into_make_service_with_connect_info")
            && logged.contains("MockConnectInfo"),
        "{logged}"
    );
    // With MockConnectInfo (tests), or the limit off, it works.
    let mock = axum::extract::connect_info::MockConnectInfo(std::net::SocketAddr::from(([192, 0, 2, 1], 1)));
    let response = router(LuciaLayer::new(&lucia)).layer(mock).oneshot(request()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = router(LuciaLayer::new(&lucia).without_sign_in_rate_limit()).oneshot(request()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// Duplicate session cookies (one planted from a sibling subdomain, sent first): the first
/// that validates is the request's, and none is deleted, so a planted cookie cannot sign the
/// user out; a single dead cookie is still deleted.
#[tokio::test]
async fn a_planted_session_cookie_cannot_sign_the_user_out() {
    let server = default_server().await;
    let token = server.sign_in().await;
    let get = |header: String| server.client.get(server.url("/me")).header(COOKIE, header).send();

    let response = get(format!("auth_session=planted; theme=dark; auth_session={token}")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(set_cookie(&response), None, "neither cookie is deleted");
    assert_eq!(response.text().await.unwrap(), server.user_id);

    // Two cookie headers (HTTP/2 sends one per cookie) count the same.
    let response = server
        .client
        .get(server.url("/me"))
        .header(COOKIE, "auth_session=planted")
        .header(COOKIE, format!("auth_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Several, none valid: not signed in, and nothing deleted.
    let response = get("auth_session=planted; auth_session=another".into()).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(set_cookie(&response), None);

    // Only the first three are looked at.
    let stuffed = format!("auth_session=a; auth_session=b; auth_session=c; auth_session={token}");
    let response = get(stuffed).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.live_sessions().await, 1, "the real session is untouched");

    // Signing out with several cookies ends the one that validated (and deletes the cookie).
    let response = server
        .client
        .post(server.url("/logout"))
        .header(ORIGIN, &server.base)
        .header(COOKIE, format!("auth_session=planted; auth_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(is_removal(&set_cookie(&response).unwrap()));
    assert_eq!(server.live_sessions().await, 0);
}

/// `allowed_hosts`: a request for another host is `400 unknown host` before anything runs,
/// whatever its method; ports and case do not matter; `.domain` allows subdomains; the
/// public origin's host is allowed.
#[tokio::test]
async fn requests_for_hosts_not_allowed_are_refused() {
    let server = start(
        |layer| {
            layer
                .allowed_hosts(["127.0.0.1".parse().unwrap(), ".example.net".parse().unwrap()])
                .public_origin("https://app.example.com".parse().unwrap())
        },
        CsrfConfig::default(),
    )
    .await;
    let status = |host: &'static str| {
        let request = server.client.get(server.url("/cookie")).header(HOST, host);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.text().await.unwrap())
        }
    };
    assert_eq!(status("127.0.0.1:1234").await.0, StatusCode::OK);
    assert_eq!(status("EXAMPLE.net").await.0, StatusCode::OK);
    assert_eq!(status("a.b.example.net:8443").await.0, StatusCode::OK);
    assert_eq!(status("app.example.com").await.0, StatusCode::OK);
    for refused in ["evil.example", "example.net.evil.example", "badexample.net", "127.0.0.2", "localhost"] {
        assert_eq!(status(refused).await, (StatusCode::BAD_REQUEST, "unknown host".to_owned()), "{refused}");
    }
    // A refused host never reaches the store: not even a sign-in is attempted.
    let response = server
        .client
        .post(server.url("/login"))
        .header(HOST, "evil.example")
        .header(ORIGIN, "http://evil.example")
        .body(PASSWORD)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(server.live_sessions().await, 0);
}

#[test]
fn allowed_hosts_are_host_names_only() {
    for invalid in ["", ".", "https://example.com", "example.com:443", "example.com/path", "user@example.com"] {
        assert!(invalid.parse::<lucia_axum::AllowedHost>().is_err(), "{invalid:?}");
    }
    for valid in ["example.com", ".example.com", "127.0.0.1", "[::1]", "localhost"] {
        assert!(valid.parse::<lucia_axum::AllowedHost>().is_ok(), "{valid:?}");
    }
}

/// `LuciaLayer::csrf_exempt`: a request the exemption lets through (cross-site, or without
/// `Origin`) has no session: its cookie is not used, and it cannot set, renew or remove one.
/// So a forged request to an exempt path can neither act as the signed-in user nor sign the
/// browser in (login CSRF).
#[tokio::test]
async fn csrf_an_exempt_path_has_no_session_and_cannot_set_one() {
    let exempt = ["/me", "/cookie", "/login", "/logout", "/open", "/signup/eve@example.com"];
    let server =
        start(|layer| exempt.iter().fold(layer, |layer, path| layer.csrf_exempt(path)), CsrfConfig::default()).await;
    // Same-origin requests to an exempt path are as before: this one signs in.
    let token = server.sign_in().await;
    let before = server.live_sessions().await;
    let post = |path: &str, origin: Option<&str>, with_cookie: bool| {
        let mut request = server.client.post(server.url(path));
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        if with_cookie {
            request = request.header(COOKIE, cookie(&token));
        }
        request
    };
    for origin in [Some("https://appleid.apple.com"), Some("null"), None] {
        // Let through: a handler that needs no session runs.
        let response = post("/open", origin, true).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{origin:?}");
        // The cookie is not the request's session.
        for path in ["/me", "/cookie"] {
            let response = post(path, origin, true).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path} {origin:?}");
            assert_eq!(set_cookie(&response), None);
            assert!(!response.text().await.unwrap().contains(&server.user_id));
        }
        // No sign-in, sign-up or sign-out through it, with or without the cookie.
        for with_cookie in [false, true] {
            let response = post("/login", origin, with_cookie).body(PASSWORD).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "sign-in {origin:?} {with_cookie}");
            assert_eq!(set_cookie(&response), None, "sign-in {origin:?} {with_cookie}");
            let response = post("/signup/eve@example.com", origin, with_cookie).body(PASSWORD).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "sign-up {origin:?} {with_cookie}");
            assert_eq!(set_cookie(&response), None);
            let response = post("/logout", origin, with_cookie).send().await.unwrap();
            assert_eq!(set_cookie(&response), None, "not even a removal: sign-out {origin:?} {with_cookie}");
        }
        assert!(server.lucia.get_session(&token).await.is_ok(), "nothing ended the session");
        assert_eq!(server.live_sessions().await, before, "no session started");
        assert!(server.lucia.get_key("email", "eve@example.com").await.is_err(), "no user created");
    }
    // Paths not exempted keep the rule: cross-site is refused before the handler.
    let response =
        post(&format!("/start/{}", server.user_id), Some("https://appleid.apple.com"), true).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.text().await.unwrap(), "cross-site request refused");
    // Exact paths only.
    let response = post("/open/", Some("https://appleid.apple.com"), false).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(server.live_sessions().await, before);
}
