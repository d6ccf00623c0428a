//! `http_me`: the demo's `GET /api/me` over HTTP, against a minimal axum handler doing the
//! same work by hand.
//!
//! Both servers run in this process on `127.0.0.1:0`, served alike (`axum::serve` with
//! connect info, as `lucia_demo::serve` does), over the same database: the demo's own
//! (`lucia_demo::build`, migrated by the demo, sessions made through its lucia). The minimal
//! handler reads `Authorization: Bearer <token>`, hashes the token with SHA-256 (the default
//! `hashed` mode), sends the statement the SeaORM adapter sends for `get_session_and_user`
//! over the demo's tables through its own `sqlx` pool (10 connections, the pool size the demo
//! gets), checks the expiries and answers the same JSON. A second floor, `axum+lucia`, is the
//! same handler with the demo's `Lucia::validate_session` in place of the query: what the
//! demo's stack (lucia-axum's layer, the demo's middleware) costs beyond lucia itself. The
//! load is one `reqwest` client (HTTP/1.1, keep-alive), 1 and 32 requests in flight, in
//! alternating slices (see `Scenario::run`).
//!
//! No log subscriber is installed, so the demo's per-request `tracing::info!` costs next to
//! nothing; with `LUCIA_BENCH_HTTP_LOG=1` the demo's own subscriber (`fmt`, level INFO, as its
//! `main` installs) is installed for the whole process, writing to a sink: the cost of
//! formatting each request's log line, without the I/O.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lucia::{CreateSession, CreateUser};
use lucia_demo::{Config, UserAttributes};
use serde_json::json;
use sha2::Digest;
use sqlx::ConnectOptions as _;
use tokio::sync::oneshot;

use crate::backend::SqlBackend;
use crate::measure::op;
use crate::scenarios::{Record, Scenario, Settings};

/// What the SeaORM adapter sends for `get_session_and_user` over the demo's tables (`user`
/// with `username`, `email`, `email_verified`; `session` with `ip`, `user_agent`,
/// `created_at`), in entity column order.
macro_rules! select {
    ($placeholder:literal) => {
        concat!(r#"SELECT "s"."id" AS "s__id", "s"."user_id" AS "s__user_id", "s"."active_expires" AS "s__active_expires", "s"."idle_expires" AS "s__idle_expires", "s"."ip" AS "s__ip", "s"."user_agent" AS "s__user_agent", "s"."created_at" AS "s__created_at", "u"."id" AS "u__id", "u"."username" AS "u__username", "u"."email" AS "u__email", "u"."email_verified" AS "u__email_verified" FROM "session" AS "s" INNER JOIN "user" AS "u" ON "u"."id" = "s"."user_id" WHERE "s"."id" = "#, $placeholder)
    };
}

type Row =
    (String, String, i64, i64, Option<String>, Option<String>, Option<i64>, String, String, Option<String>, bool);

/// The minimal handler's database.
#[derive(Clone)]
enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Db {
    async fn session_and_user(&self, stored_id: &str) -> Result<Option<Row>, sqlx::Error> {
        match self {
            Self::Sqlite(pool) => sqlx::query_as(select!("?")).bind(stored_id).fetch_optional(pool).await,
            Self::Postgres(pool) => sqlx::query_as(select!("$1")).bind(stored_id).fetch_optional(pool).await,
        }
    }

    async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// Lowercase hex of SHA-256, as lucia stores hashed session ids.
fn sha256_hex(token: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = sha2::Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(HEX[usize::from(byte >> 4)] as char);
        out.push(HEX[usize::from(byte & 15)] as char);
    }
    out
}

/// What both handlers of the minimal server share: the database, and the demo's lucia.
#[derive(Clone)]
struct MinimalState {
    db: Db,
    auth: lucia_demo::Auth,
}

/// The `Authorization: Bearer <token>` of a request, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .filter(|token| !token.is_empty())
}

fn unauthenticated() -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({ "error": "unauthenticated" }))).into_response()
}

fn me_json(user_id: &str, username: &str, email: Option<&str>, email_verified: bool) -> Response {
    Json(json!({ "user_id": user_id, "username": username, "email": email, "email_verified": email_verified }))
        .into_response()
}

/// `GET /api/me` by hand: the bearer token, its session and user in one statement, `401`
/// without a live session. (The benchmark's sessions are all in their active period, so the
/// renewal lucia does for an idle session is not needed here.)
async fn minimal_me(State(state): State<MinimalState>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else { return unauthenticated() };
    match state.db.session_and_user(&sha256_hex(token)).await {
        Ok(Some(row)) => {
            let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
            if now_ms > row.3 {
                return unauthenticated();
            }
            me_json(&row.7, &row.8, row.9.as_deref(), row.10)
        }
        Ok(None) => unauthenticated(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "error": "service unavailable" }))).into_response(),
    }
}

/// `GET /api/me-lucia`: the minimal handler with the demo's `Lucia::validate_session` in
/// place of the hand-written query, without lucia-axum or the demo's middleware: what lucia
/// itself costs, apart from the demo's stack.
async fn lucia_me(State(state): State<MinimalState>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else { return unauthenticated() };
    match state.auth.validate_session(token).await {
        Ok(session) => {
            let (user, attributes) = (&session.user, &session.user.attributes);
            me_json(&user.user_id, &attributes.username, attributes.email.as_deref(), attributes.email_verified)
        }
        Err(_) => unauthenticated(),
    }
}

/// A server on `127.0.0.1:0`: its base URL, and what stops it.
struct Server {
    base: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

async fn listener() -> std::io::Result<(tokio::net::TcpListener, String)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    Ok((listener, base))
}

/// The database the demo and the minimal handler share: a SQLite file or a PostgreSQL
/// schema of its own, and its removal.
struct Store {
    /// The URL the demo is given.
    demo_url: String,
    db: Db,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Schema { admin: sqlx::PgPool, schema: String },
}

impl Store {
    async fn open(backend: SqlBackend, url: &str) -> Result<Self, String> {
        let name = format!("lucia_bench_http_{}", lucia::generate_random_string(10));
        let failed = |e: &dyn std::fmt::Display| format!("http_me: {e}");
        match backend {
            SqlBackend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                let demo_url = format!("sqlite://{}?mode=rwc", path.display());
                let connect = sqlx::sqlite::SqliteConnectOptions::from_str(&demo_url).map_err(|e| failed(&e))?;
                // Lazily: the demo creates the file and its tables first.
                let pool = sqlx::pool::PoolOptions::new().max_connections(10).test_before_acquire(false);
                let db = Db::Sqlite(pool.connect_lazy_with(connect.disable_statement_logging()));
                Ok(Self { demo_url, db, cleanup: Cleanup::File(path) })
            }
            SqlBackend::Postgres => {
                let admin = sqlx::PgPool::connect(url).await.map_err(|e| failed(&e))?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{name}\"")))
                    .execute(&admin)
                    .await
                    .map_err(|e| failed(&e))?;
                let separator = if url.contains('?') { '&' } else { '?' };
                let demo_url = format!("{url}{separator}options[search_path]={name}");
                let connect = sqlx::postgres::PgConnectOptions::from_str(url).map_err(|e| failed(&e))?;
                let connect = connect.options([("search_path", name.as_str())]).disable_statement_logging();
                let pool = sqlx::pool::PoolOptions::new().max_connections(10).test_before_acquire(false);
                let db = Db::Postgres(pool.connect_lazy_with(connect));
                Ok(Self { demo_url, db, cleanup: Cleanup::Schema { admin, schema: name } })
            }
            SqlBackend::MySql => Err("http_me runs on SQLite and PostgreSQL".into()),
        }
    }

    async fn remove(self) {
        self.db.close().await;
        match self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Schema { admin, schema } => {
                if let Err(e) =
                    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE"))).execute(&admin).await
                {
                    eprintln!("lucia-bench: could not remove the http_me schema {schema}: {e}");
                }
                admin.close().await;
            }
        }
    }
}

/// Runs `http_me` on `backend` (for PostgreSQL, at `url`), at 1 and 32 in flight.
pub async fn run(backend: SqlBackend, name: &str, url: &str, settings: &Settings, emit: &mut dyn FnMut(Record)) {
    if !settings.wants("http_me") {
        return;
    }
    if std::env::var_os("LUCIA_BENCH_HTTP_LOG").is_some_and(|v| v == "1") {
        // Once per process; a second call (the next backend) finds it installed.
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
            .with_ansi(false)
            .with_writer(std::io::sink)
            .try_init();
    }
    let store = match Store::open(backend, url).await {
        Ok(store) => store,
        Err(e) => return eprintln!("lucia-bench: skipping http_me on {name}: {e}"),
    };
    crate::unless_stopped(async {
        if let Err(e) = measure(name, &store, settings, emit).await {
            eprintln!("lucia-bench: http_me on {name} failed: {e}");
        }
    })
    .await;
    store.remove().await;
    crate::exit_if_stopped();
}

async fn measure(name: &str, store: &Store, settings: &Settings, emit: &mut dyn FnMut(Record)) -> Result<(), String> {
    // The benchmark sends no mail; the demo's mail folder goes to the temporary directory. Nor
    // does it use TOTP: a key of its own, so that no key file is made beside the database or
    // in the working directory.
    let mail_dir = std::env::temp_dir().join(format!("lucia-bench-mail-{}", std::process::id()));
    let totp_key = <[u8; 32]>::try_from(lucia::generate_random_string(32).into_bytes())
        .map(lucia::TotpEncryptionKey::from_bytes)
        .map_err(|_| "32 random characters are 32 bytes".to_owned())?;
    let config = Config {
        database_url: store.demo_url.clone(),
        mail_dir: mail_dir.clone(),
        totp_key: Some(totp_key),
        ..Config::default()
    };
    let built = lucia_demo::build(&config).await.map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir(&mail_dir);
    let auth = built.auth.clone();

    // Users and active sessions, made through the demo's lucia.
    let prefix = lucia::generate_random_string(6);
    let mut users = Vec::with_capacity(settings.users);
    for i in 0..settings.users {
        let attributes = UserAttributes { username: format!("bench{prefix}{i}"), email: None, email_verified: false };
        users.push(auth.create_user(CreateUser::new(attributes)).await.map_err(|e| e.to_string())?.user_id);
    }
    let mut tokens = Vec::with_capacity(settings.sessions);
    for i in 0..settings.sessions {
        let new =
            auth.create_session(CreateSession::for_user(&users[i % users.len()])).await.map_err(|e| e.to_string())?;
        tokens.push(new.token.expose_secret().to_owned());
    }
    let tokens = Arc::new(tokens);

    let (demo_listener, demo_base) = listener().await.map_err(|e| e.to_string())?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(e) = lucia_demo::serve(demo_listener, built, shutdown).await {
            eprintln!("lucia-bench: the demo stopped: {e}");
        }
    });
    let demo = Server { base: demo_base, stop, task };

    let (minimal_listener, minimal_base) = listener().await.map_err(|e| e.to_string())?;
    let minimal_router = axum::Router::new()
        .route("/api/me", axum::routing::get(minimal_me))
        .route("/api/me-lucia", axum::routing::get(lucia_me))
        .with_state(MinimalState { db: store.db.clone(), auth: auth.clone() });
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let service = minimal_router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(e) = axum::serve(minimal_listener, service).with_graceful_shutdown(shutdown).await {
            eprintln!("lucia-bench: the minimal server stopped: {e}");
        }
    });
    let minimal = Server { base: minimal_base, stop, task };

    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(64).build().map_err(|e| e.to_string())?;
    let result = compare(name, &client, &demo.base, &minimal.base, &tokens, settings, emit).await;
    drop(client);
    demo.stop().await;
    minimal.stop().await;
    result
}

/// `GET url` with `token` as the bearer: the body of a `200`.
async fn get_me(client: &reqwest::Client, url: &str, token: &str) -> Result<Vec<u8>, String> {
    let response = client.get(url).bearer_auth(token).send().await.map_err(|e| e.to_string())?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(format!("{url}: {}", response.status()));
    }
    response.bytes().await.map(|body| body.to_vec()).map_err(|e| e.to_string())
}

async fn compare(
    name: &str,
    client: &reqwest::Client,
    demo_base: &str,
    minimal_base: &str,
    tokens: &Arc<Vec<String>>,
    settings: &Settings,
    emit: &mut dyn FnMut(Record),
) -> Result<(), String> {
    let (demo_url, minimal_url) = (format!("{demo_base}/api/me"), format!("{minimal_base}/api/me"));
    let lucia_url = format!("{minimal_base}/api/me-lucia");
    // All three answer the same bytes for the same token.
    let demo_body = get_me(client, &demo_url, &tokens[0]).await?;
    if !demo_body.windows(11).any(|window| window == br#""user_id":""#) {
        return Err(format!("the demo answers no user: {}", String::from_utf8_lossy(&demo_body)));
    }
    for url in [&minimal_url, &lucia_url] {
        let body = get_me(client, url, &tokens[0]).await?;
        if demo_body != body {
            return Err(format!(
                "different answers: demo {}, {url} {}",
                String::from_utf8_lossy(&demo_body),
                String::from_utf8_lossy(&body)
            ));
        }
    }
    let requester = |url: String| {
        let (client, tokens) = (client.clone(), Arc::clone(tokens));
        op(move |i| {
            let (client, tokens, url) = (client.clone(), Arc::clone(&tokens), url.clone());
            async move {
                get_me(&client, &url, &tokens[i % tokens.len()]).await.expect("GET /api/me");
            }
        })
    };
    for in_flight in [1, 32] {
        let scenario = Scenario {
            name: "http_me",
            in_flight,
            op: requester(demo_url.clone()),
            floors: vec![
                ("axum+sqlx".to_owned(), requester(minimal_url.clone())),
                ("axum+lucia".to_owned(), requester(lucia_url.clone())),
            ],
            peer: None,
        };
        emit(scenario.run(name, settings).await);
    }
    Ok(())
}
