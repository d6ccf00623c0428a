//! Two instances of the demo binary on different ports, sharing one PostgreSQL schema (users and
//! keys) and one Redis (sessions), as behind a load balancer: a session made on one is valid on
//! the other; signing out everywhere on one is seen by the other on its next request; a Redis
//! outage is answered `503` by both without touching the cookie, and once Redis is back (it
//! persists every write to its append-only file) the same cookie works again.
//!
//! Needs `LUCIA_TEST_POSTGRES_URL` (skipped without it, unless `LUCIA_TEST_REQUIRE_SERVERS=1`),
//! and `redis-server` and `redis-cli` on the `PATH` (this test starts its own Redis on a free
//! loopback port, with its data in a temporary directory).

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{BROWSER_ACCEPT, cookie_token, email_of, unique_name};
use reqwest::header::{ACCEPT, AUTHORIZATION, COOKIE, LOCATION, ORIGIN, RETRY_AFTER, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn server_url(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("LUCIA_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") => panic!("{variable} is not set"),
        _ => {
            eprintln!("SKIPPED: set {variable} to run two demo instances on that server and a local Redis");
            None
        }
    }
}

/// A free loopback port (released for the server about to take it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `redis-cli -p <port> <args>`: its output, or `None` if it could not run or failed.
fn redis_cli(port: u16, args: &[&str]) -> Option<String> {
    let output = Command::new("redis-cli").arg("-p").arg(port.to_string()).args(args).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// A `redis-server` of this test's own, persisting every write (`appendfsync always`) in its
/// directory. Killed, and its directory removed, on drop.
struct Redis {
    port: u16,
    dir: PathBuf,
    process: Option<Child>,
}

impl Redis {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("lucia-demo-redis-{}", lucia::generate_random_string(10)));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Self { port: free_port(), dir, process: None };
        redis.restart();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server on the same port and directory, and waits until it has loaded its
    /// data and answers.
    fn restart(&mut self) {
        assert!(self.process.is_none(), "already running");
        let process = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--appendonly", "yes", "--appendfsync", "always", "--save", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is needed for this test (with LUCIA_TEST_POSTGRES_URL set)");
        self.process = Some(process);
        let deadline = Instant::now() + Duration::from_secs(20);
        while redis_cli(self.port, &["ping"]).as_deref() != Some("PONG") {
            assert!(Instant::now() < deadline, "redis-server did not answer on port {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `SHUTDOWN`: the server writes what it has and exits.
    fn shutdown(&mut self) {
        // redis-cli reports the connection closing under it; the exit is what counts.
        let _ = redis_cli(self.port, &["shutdown"]);
        let mut process = self.process.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(20);
        while process.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "redis-server did not shut down");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The demo binary, as `lucia-demo --port 0` with `DATABASE_URL` and `REDIS_URL`. Killed on drop.
struct Demo {
    base: String,
    process: Child,
    /// Where the instance writes its mail (`MAIL_DIR`), removed on drop.
    mail_dir: PathBuf,
}

impl Demo {
    fn start(database_url: &str, redis_url: &str) -> Self {
        let mail_dir = std::env::temp_dir().join(format!("lucia-demo-mail-{}", lucia::generate_random_string(12)));
        let mut process = Command::new(env!("CARGO_BIN_EXE_lucia-demo"))
            .args(["--host", "127.0.0.1", "--port", "0"])
            .env("DATABASE_URL", database_url)
            .env("REDIS_URL", redis_url)
            .env("MAIL_DIR", &mail_dir)
            // One TOTP key for both instances, from the environment: no key file is made in
            // the working directory (the crate's, under `cargo test`).
            .env("LUCIA_TOTP_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
            .env_remove("TOTP_KEY_FILE")
            .env("RUST_LOG", "info")
            .env_remove("PUBLIC_ORIGIN")
            .env_remove("PRODUCTION")
            .env_remove("LUCIA_V2_COMPAT")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The log goes to stderr; read it to the end (so the pipe never fills), handing over
        // the address from "listening on http://...".
        let stderr = process.stderr.take().unwrap();
        let (address_tx, address_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut log = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some((_, rest)) = line.split_once("listening on http://") {
                    let address = rest.split_whitespace().next().unwrap_or_default().to_owned();
                    let _ = address_tx.send(Ok(address));
                }
                log.push(line);
            }
            let _ = address_tx.send(Err(log.join("\n")));
        });
        let mut demo = Self { base: String::new(), process, mail_dir };
        match address_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(address)) => demo.base = format!("http://{address}"),
            Ok(Err(log)) => panic!("the demo did not start:\n{log}"),
            Err(_) => panic!("the demo did not start within a minute"),
        }
        demo
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.mail_dir);
    }
}

/// A client without a cookie jar: the cookie is sent by hand, to whichever instance.
fn client() -> Client {
    Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn set_cookies(response: &Response) -> Vec<String> {
    response.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

fn location(response: &Response) -> String {
    response.headers().get(LOCATION).map_or(String::new(), |v| v.to_str().unwrap().to_owned())
}

/// A page request as a browser with the session cookie `token` sends it.
async fn get_page(client: &Client, demo: &Demo, path: &str, token: &str) -> Response {
    client
        .get(demo.url(path))
        .header(ACCEPT, BROWSER_ACCEPT)
        .header(COOKIE, format!("auth_session={token}"))
        .send()
        .await
        .unwrap()
}

/// A form post as a browser on `demo`'s page sends it; returns the new session cookie's token.
async fn post_form(client: &Client, demo: &Demo, path: &str, token: Option<&str>, form: &[(&str, &str)]) -> String {
    let mut request = client.post(demo.url(path)).header(ACCEPT, BROWSER_ACCEPT).header(ORIGIN, &demo.base).form(form);
    if let Some(token) = token {
        request = request.header(COOKIE, format!("auth_session={token}"));
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "POST {path}");
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 1, "POST {path} sets the session cookie: {cookies:?}");
    let token = cookie_token(&cookies[0]);
    assert_eq!(token.len(), 40, "{cookies:?}");
    token
}

/// `/account` on `demo` with `token`: the page of `username`, without cookie changes.
async fn assert_signed_in(client: &Client, demo: &Demo, token: &str, username: &str) {
    let response = get_page(client, demo, "/account", token).await;
    assert_eq!(response.status(), StatusCode::OK, "{}: {}", demo.base, location(&response));
    assert_eq!(set_cookies(&response), Vec::<String>::new());
    assert!(response.text().await.unwrap().contains(username));
}

/// `/account` on `demo` with `token`: sent to sign in, and the cookie deleted.
async fn assert_signed_out(client: &Client, demo: &Demo, token: &str) {
    let response = get_page(client, demo, "/account", token).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", demo.base);
    assert_eq!(location(&response), "/login");
    let cookies = set_cookies(&response);
    assert!(cookies.len() == 1 && cookies[0].starts_with("auth_session=;"), "{cookies:?}");
}

async fn me(client: &Client, demo: &Demo, bearer: &str) -> Response {
    client.get(demo.url("/api/me")).header(AUTHORIZATION, format!("Bearer {bearer}")).send().await.unwrap()
}

/// A `503` that neither signs out nor redirects.
async fn assert_unavailable(response: Response, what: &str) {
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    assert!(response.headers().contains_key(RETRY_AFTER), "{what}");
    assert_eq!(set_cookies(&response), Vec::<String>::new(), "{what}: the cookie is kept");
    assert_eq!(location(&response), "", "{what}: no redirect to sign in");
}

#[tokio::test]
async fn two_instances_share_sessions_in_redis_and_survive_its_restart() {
    let Some(url) = server_url("LUCIA_TEST_POSTGRES_URL") else { return };
    assert!(url.starts_with("postgres"), "LUCIA_TEST_POSTGRES_URL is not a postgres:// URL");
    let admin = sea_orm::Database::connect(&url).await.unwrap();
    let schema = format!("lucia_two_{}", lucia::generate_random_string(10));
    admin.execute_unprepared(&format!(r#"CREATE SCHEMA "{schema}""#)).await.unwrap();
    let database_url = format!("{url}?options=-c%20search_path%3D{schema}");
    // The processes belong to the task: a failing check unwinds it and their guards kill them.
    let outcome = tokio::spawn(two_instances(database_url.clone())).await;
    admin.execute_unprepared(&format!(r#"DROP SCHEMA "{schema}" CASCADE"#)).await.unwrap();
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

async fn two_instances(database_url: String) {
    let mut redis = Redis::start();
    // One after the other: the first creates the tables.
    let a = Demo::start(&database_url, &redis.url());
    let b = Demo::start(&database_url, &redis.url());
    assert_ne!(a.base, b.base);
    let (client, username) = (client(), unique_name());
    let email = email_of(&username);
    let credentials = [("username", username.as_str()), ("email", email.as_str()), ("password", PASSWORD)];

    // Signed up on A, with the code A mailed entered on B: the session is valid on B, and on A.
    let first = post_form(&client, &a, "/signup", None, &credentials).await;
    let code = common::verification_code(&common::nth_mail_in(&a.mail_dir, &email, 1).await);
    let verified = client
        .post(b.url("/verify-email"))
        .header(ORIGIN, &b.base)
        .header(COOKIE, format!("auth_session={first}"))
        .form(&[("code", code)])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&verified), "/account?notice=email-verified");
    assert_signed_in(&client, &b, &first, &username).await;
    assert_signed_in(&client, &a, &first, &username).await;
    // A second device signs in on B; an API client gets a token from A.
    let second = post_form(&client, &b, "/login", None, &credentials).await;
    assert_signed_in(&client, &a, &second, &username).await;
    let login = client.post(a.url("/api/login")).json(&json!({ "username": username, "password": PASSWORD }));
    let token = login.send().await.unwrap().json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let on_b = me(&client, &b, &token).await;
    assert_eq!(on_b.status(), StatusCode::OK);
    assert_eq!(on_b.json::<Value>().await.unwrap()["username"], username.as_str());

    // The second device signs out everywhere else, on B: A sees it on its next request.
    let current = post_form(&client, &b, "/account/sessions/revoke-others", Some(&second), &[]).await;
    assert_signed_out(&client, &a, &first).await;
    assert_signed_out(&client, &a, &second).await;
    assert_eq!(me(&client, &a, &token).await.status(), StatusCode::UNAUTHORIZED);
    assert_signed_in(&client, &a, &current, &username).await;
    assert_signed_in(&client, &b, &current, &username).await;
    let login = client.post(b.url("/api/login")).json(&json!({ "username": username, "password": PASSWORD }));
    let token = login.send().await.unwrap().json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();

    // Redis goes down: both answer 503, and nobody is signed out.
    redis.shutdown();
    for demo in [&a, &b] {
        assert_unavailable(get_page(&client, demo, "/account", &current).await, "a guarded page").await;
        assert_unavailable(get_page(&client, demo, "/", &current).await, "the home page").await;
        assert_unavailable(me(&client, demo, &token).await, "the API").await;
        let sign_in = client.post(demo.url("/api/login")).json(&json!({ "username": username, "password": PASSWORD }));
        assert_unavailable(sign_in.send().await.unwrap(), "a sign-in").await;
    }

    // Redis is back with what it persisted: the same cookie and token work on both, and the
    // sessions ended before the outage stay ended.
    redis.restart();
    for demo in [&a, &b] {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let response = get_page(&client, demo, "/account", &current).await;
            if response.status() == StatusCode::OK {
                break;
            }
            // Reconnecting: still 503 meanwhile, never a sign-out.
            assert_unavailable(response, "while reconnecting").await;
            assert!(Instant::now() < deadline, "{} did not reconnect to Redis", demo.base);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_signed_in(&client, demo, &current, &username).await;
        assert_eq!(me(&client, demo, &token).await.status(), StatusCode::OK);
        assert_signed_out(&client, demo, &first).await;
    }
}
