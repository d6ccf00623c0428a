//! Malformed requests to the demo on PostgreSQL, sent as raw bytes so that nothing filters
//! them on the way: bad session cookies, bearer tokens, `Origin` and `Host` headers (empty,
//! 10 KB, NUL and control bytes, non-UTF-8 bytes, look-alikes, duplicates) and bad JSON
//! fields. Each is a 4xx (or, for a page, the redirect to sign in: signed out), never a 5xx;
//! the database is unchanged; and no secret (password, stored hash, session token,
//! verification code, reset link, TOTP secret, recovery code, pending sign-in token, the
//! database's password) appears in a response or in
//! what `tracing` records meanwhile at TRACE from every target (`log` records included),
//! from every thread: this test binary's one global subscriber writes them all to a buffer.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use common::{App, BROWSER_ACCEPT, FreshDatabase, email_of, link_token, reset_link, server_url, unique_name};
use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "Bad-input correct horse 7";
const DATABASE_PASSWORD: &str = "Db-Secret-4f9c2e";

/// Everything logged in this process.
#[derive(Clone)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// The process's subscriber, at TRACE for every target, with `log` records forwarded.
    fn install() -> Self {
        static LOGS: OnceLock<Logs> = OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Logs(Arc::default());
            let writer = logs.clone();
            tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
                .try_init()
                .expect("no other subscriber in this test binary");
            logs
        })
        .clone()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Sends a request as raw bytes (so that headers no HTTP client sends reach the server) and
/// returns its status (0 if the connection closed without one) and the whole response.
async fn send_raw(app: &App, request: &[u8]) -> (u16, String) {
    let address = app.base.strip_prefix("http://").unwrap();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut response));
    // A reset after the answer (the server closing a connection it refused) is no failure.
    let _ = read.await.expect("the server answers within 10 s");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, text)
}

/// A request with these header lines (name, raw value) and a JSON body; `Host` is the app's
/// unless given.
fn request(app: &App, method: &str, path: &str, headers: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    let json: &[(&str, &[u8])] = if body.is_empty() { &[] } else { &[("Content-Type", b"application/json")] };
    request_with_body(app, method, path, &[headers, json].concat(), body)
}

/// A request with these header lines (the body's `Content-Type` among them) and body.
fn request_with_body(app: &App, method: &str, path: &str, headers: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        out.extend_from_slice(format!("Host: {}\r\n", app.base.strip_prefix("http://").unwrap()).as_bytes());
    }
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: ").as_bytes());
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// Malformed header values (or parts of one): a real value spoiled, and garbage.
fn bad_values(real: &str) -> Vec<(&'static str, Vec<u8>)> {
    let fullwidth: String = real
        .chars()
        .map(|c| if c.is_ascii_graphic() { char::from_u32(c as u32 + 0xFEE0).unwrap_or(c) } else { c })
        .collect();
    vec![
        ("empty", Vec::new()),
        ("10 KB", "x".repeat(10_240).into_bytes()),
        ("NUL inside", format!("{}\0{}", &real[..1], &real[1..]).into_bytes()),
        ("control bytes", b"\x01\x02\x7f".to_vec()),
        ("non-UTF-8", [real.as_bytes(), b"\xff\xfe\xfd"].concat()),
        ("Latin-1", b"caf\xe9".to_vec()),
        ("path", b"../../etc/passwd".to_vec()),
        ("percent-encoded NUL", format!("{real}%00").into_bytes()),
        ("fullwidth look-alike", fullwidth.into_bytes()),
        ("trailing space inside", format!("{real} x").into_bytes()),
        ("upper case", real.to_uppercase().into_bytes()),
        ("quote", b"\"".to_vec()),
        ("SQL", b"'; DROP TABLE \"user\"; --".to_vec()),
    ]
}

/// Every row of the demo's tables, as text.
async fn rows(db: &sea_orm::DatabaseConnection) -> Vec<String> {
    let mut rows = Vec::new();
    for table in ["user", "key", "session", "token", "totp", "recovery_code", "passkey", "passkey_challenge"] {
        let sql = format!(r#"SELECT coalesce(string_agg(t::text, '|' ORDER BY t::text), '') FROM "{table}" t"#);
        let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
        rows.push(row.try_get_by_index::<String>(0).unwrap());
    }
    rows
}

/// One malformed request and the statuses it may have.
struct Case {
    what: String,
    request: Vec<u8>,
    allowed: fn(u16) -> bool,
}

fn client_error(status: u16) -> bool {
    (400..500).contains(&status)
}

/// A page asked for without a valid session redirects to sign in (signed out), or the
/// request is refused.
fn signed_out_or_client_error(status: u16) -> bool {
    status == 303 || client_error(status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_4xx_change_nothing_and_leak_no_secret() {
    let logs = Logs::install();
    let Some(server) = server_url("LUCIA_TEST_POSTGRES_URL") else { return };
    // PostgreSQL trusts local connections here, so a password in the URL connects too: it
    // must then show up nowhere.
    let mut with_password = url::Url::parse(&server).unwrap();
    with_password.set_password(Some(DATABASE_PASSWORD)).unwrap();
    let fresh = FreshDatabase::create(with_password.as_str()).await;
    let config = lucia_demo::Config { database_url: fresh.url.clone(), sign_in_burst: 0, ..Default::default() };
    let config_debug = format!("{config:?}");
    let database_url = fresh.url.clone();
    let outcome = tokio::spawn(async move {
        let app = App::start_at(config).await;
        let api = app.api();
        let username = unique_name();
        let email = email_of(&username);
        let credentials = json!({ "username": username, "email": email, "password": PASSWORD });
        let signed_up = api.post(app.url("/api/signup")).json(&credentials).send().await.unwrap();
        assert_eq!(signed_up.status(), StatusCode::CREATED);
        let mut tokens = Vec::new();
        for _ in 0..2 {
            let response = api.post(app.url("/api/login")).json(&credentials).send().await.unwrap();
            tokens.push(response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned());
        }
        let (bearer, cookie) = (tokens[0].clone(), tokens[1].clone());
        let code = app.nth_code(&email, 1).await;
        let forgot = api.post(app.url("/api/forgot-password")).json(&json!({ "email": email })).send().await.unwrap();
        assert_eq!(forgot.status(), StatusCode::ACCEPTED);
        let reset_token = link_token(&reset_link(&app.nth_mail_to(&email, 2).await));
        // An authenticator app, set up in a browser session: its secret, a recovery code and a
        // pending sign-in's token are secrets too.
        let browser = app.browser();
        let form = [("username", username.as_str()), ("password", PASSWORD)];
        assert_eq!(browser.post(app.url("/login")).form(&form).send().await.unwrap().status(), StatusCode::SEE_OTHER);
        let enrolment = browser.post(app.url("/account/totp")).send().await.unwrap().text().await.unwrap();
        let totp_secret: String =
            enrolment.split(r#"id="totp-secret">"#).nth(1).unwrap().split('<').next().unwrap().into();
        let totp_secret: String = totp_secret.split_whitespace().collect();
        let code_now = common::totp_code(&totp_secret, common::now_seconds());
        let confirm = browser.post(app.url("/account/totp/confirm")).form(&[("code", &code_now)]).send().await.unwrap();
        let codes = confirm.text().await.unwrap();
        let recovery_code = codes.split("<li><code>").nth(1).unwrap().split('<').next().unwrap().to_owned();
        let pending = api.post(app.url("/api/login")).json(&credentials).send().await.unwrap();
        let pending_token = pending.json::<Value>().await.unwrap()["pending_token"].as_str().unwrap().to_owned();

        let db = sea_orm::Database::connect(database_url).await.unwrap();
        let before = rows(&db).await;
        let sql = r#"SELECT hashed_password FROM "key" WHERE hashed_password IS NOT NULL"#;
        let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
        let hash: String = row.try_get_by_index(0).unwrap();

        let mut cases = Vec::new();
        let mut add = |what: String, request: Vec<u8>, allowed: fn(u16) -> bool| {
            cases.push(Case { what, request, allowed });
        };
        let real_cookie = format!("auth_session={cookie}").into_bytes();
        let origin = app.base.clone().into_bytes();
        for (label, value) in bad_values(&cookie) {
            let session_cookie = [b"auth_session=".as_slice(), &value].concat();
            let page = [("Accept", BROWSER_ACCEPT.as_bytes()), ("Cookie", &session_cookie)];
            add(
                format!("page with a {label} cookie"),
                request(&app, "GET", "/account", &page, b""),
                signed_out_or_client_error,
            );
            // The second step of a sign-in with a bad pending sign-in cookie: its form may be
            // shown (it reveals and changes nothing; the cookie is checked when a code is sent),
            // and sending it is refused.
            let pending_cookie = [b"auth_session_pending=".as_slice(), &value].concat();
            let pending = [("Accept", BROWSER_ACCEPT.as_bytes()), ("Cookie", &pending_cookie), ("Origin", &origin)];
            add(
                format!("the second step's form with a {label} pending cookie"),
                request(&app, "GET", "/login/second-factor", &pending, b""),
                |status| status == 200 || signed_out_or_client_error(status),
            );
            let code =
                [pending.as_slice(), &[("Content-Type", b"application/x-www-form-urlencoded".as_slice())]].concat();
            add(
                format!("the second step with a {label} pending cookie"),
                request_with_body(&app, "POST", "/login/second-factor", &code, b"code=123456"),
                signed_out_or_client_error,
            );
            let api_cookie = [("Cookie", session_cookie.as_slice())];
            add(format!("API with a {label} cookie"), request(&app, "GET", "/api/me", &api_cookie, b""), client_error);
            let twice = [("Cookie", session_cookie.as_slice()), ("Cookie", &session_cookie)];
            add(format!("two {label} cookies"), request(&app, "GET", "/api/me", &twice, b""), client_error);
            let bearer_value = [b"Bearer ".as_slice(), &value].concat();
            let bearer_header = [("Authorization", bearer_value.as_slice())];
            add(format!("a {label} bearer token"), request(&app, "GET", "/api/me", &bearer_header, b""), client_error);
            let authorization = [("Authorization", value.as_slice())];
            add(format!("a {label} Authorization"), request(&app, "GET", "/api/me", &authorization, b""), client_error);
            // A signed-in browser's sign-out with a bad Origin or Host: refused, still signed in.
            let bad_origin = [("Cookie", real_cookie.as_slice()), ("Origin", &value)];
            add(
                format!("sign-out with a {label} Origin"),
                request(&app, "POST", "/logout", &bad_origin, b""),
                client_error,
            );
            let bad_host = [("Cookie", real_cookie.as_slice()), ("Origin", &origin), ("Host", &value)];
            add(
                format!("sign-out with a {label} Host"),
                request(&app, "POST", "/logout", &bad_host, b""),
                client_error,
            );
        }
        for (label, value) in bad_values(&username) {
            let text = String::from_utf8_lossy(&value);
            let fields = [
                ("sign-in username", "/api/login", json!({ "username": text, "password": PASSWORD }).to_string()),
                ("sign-in password", "/api/login", json!({ "username": username, "password": text }).to_string()),
                ("reset token", "/api/reset-password", json!({ "token": text, "password": PASSWORD }).to_string()),
                ("verification code", "/api/verify-email", json!({ "code": text }).to_string()),
                (
                    "pending sign-in token",
                    "/api/login/second-factor",
                    json!({ "pending_token": text, "code": "123456" }).to_string(),
                ),
                (
                    "passkey sign-in ceremony",
                    "/passkeys/sign-in/finish",
                    json!({ "ceremony": text, "credential": { "id": text, "rawId": text, "type": "public-key" } })
                        .to_string(),
                ),
                ("passkey name", "/passkeys/register/finish", json!({ "ceremony": text, "name": text }).to_string()),
            ];
            let authorized = format!("Bearer {bearer}").into_bytes();
            for (field, path, body) in fields {
                let headers = [("Authorization", authorized.as_slice())];
                add(format!("a {label} {field}"), request(&app, "POST", path, &headers, body.as_bytes()), client_error);
            }
            // The raw bytes in the JSON text itself: invalid JSON.
            let raw_body = [br#"{"username":""#.as_slice(), &value, br#"","password":"x"}"#].concat();
            add(format!("a raw {label} JSON field"), request(&app, "POST", "/api/login", &[], &raw_body), client_error);
        }

        let mut failures = Vec::new();
        let mut responses = Vec::new();
        for case in &cases {
            let (status, response) = send_raw(&app, &case.request).await;
            if !(case.allowed)(status) {
                failures.push(format!("{}: {status}\n{response:.300}", case.what));
            }
            responses.push((case.what.clone(), response));
        }
        assert!(failures.is_empty(), "{} of {} wrong:\n{}", failures.len(), cases.len(), failures.join("\n"));
        // Compared without printing: the rows hold the password hash.
        assert!(rows(&db).await == before, "a refused request wrote");
        let me = api.get(app.url("/api/me")).header(AUTHORIZATION, format!("Bearer {cookie}")).send().await.unwrap();
        assert_eq!(me.status(), StatusCode::OK, "the browser's session survived the refused sign-outs");

        let stored_ids: Vec<String> =
            [&bearer, &cookie].iter().map(|token| lucia::SessionTokens::Hashed.stored_id(token)).collect();
        let secrets = [
            ("password", PASSWORD.to_owned()),
            ("password hash", hash),
            ("bearer token", bearer),
            ("cookie token", cookie),
            ("stored session id", stored_ids[0].clone()),
            ("stored session id", stored_ids[1].clone()),
            ("verification code", code),
            ("reset token", reset_token),
            ("TOTP secret", totp_secret),
            ("recovery code", recovery_code),
            ("pending sign-in token", pending_token),
            ("database password", DATABASE_PASSWORD.to_owned()),
        ];
        (responses, secrets)
    })
    .await;
    let (responses, secrets) = fresh.drop_and_resume(outcome).await;
    let text = logs.text();
    // The demo's request lines come from the server's tasks, on any thread; TRACE lines show
    // the level is on.
    assert!(
        text.contains("lucia_demo: request") && text.contains(" TRACE "),
        "the logs hold the demo's requests at TRACE:\n{text:.2000}"
    );
    let mut texts = vec![("the logs".to_owned(), text), ("the config's Debug".to_owned(), config_debug)];
    texts.extend(responses.into_iter().map(|(what, response)| (format!("the answer to {what}"), response)));
    for (what, text) in &texts {
        for (name, secret) in &secrets {
            assert!(!text.contains(secret.as_str()), "{what} shows the {name}");
        }
    }
}
