//! The demo with sessions in Redis (`--redis-url`) on a SQLite database: no session table is
//! made, moving sessions back to SQL gives the database one, two instances share the
//! per-account sign-in throttle through Redis, and a two-step sign-in ends in a session in
//! Redis. Needs `LUCIA_TEST_REDIS_URL` (skipped without it, unless
//! `LUCIA_TEST_REQUIRE_SERVERS=1`).

mod common;

use common::{App, unique_name};
use lucia_demo::Config;
use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn redis_url() -> Option<String> {
    match std::env::var("LUCIA_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("LUCIA_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") => {
            panic!("LUCIA_TEST_REDIS_URL is not set")
        }
        _ => {
            eprintln!("SKIPPED: set LUCIA_TEST_REDIS_URL to run the demo with sessions in Redis");
            None
        }
    }
}

async fn tables(app: &App) -> Vec<String> {
    let db = app.database().await;
    let statement = Statement::from_string(
        db.get_database_backend(),
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    );
    let rows = db.query_all_raw(statement).await.unwrap();
    rows.iter().map(|row| row.try_get::<String>("", "name").unwrap()).collect()
}

/// Signs `username` in through the API and returns its token after checking `/api/me`.
async fn api_sign_in(app: &App, username: &str) -> String {
    let credentials = json!({ "username": username, "password": PASSWORD });
    let response = app.api().post(app.url("/api/login")).json(&credentials).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let token = response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let me = app.api().get(app.url("/api/me")).header(AUTHORIZATION, format!("Bearer {token}")).send().await.unwrap();
    assert_eq!(me.json::<Value>().await.unwrap()["username"], username);
    token
}

#[tokio::test]
async fn sessions_in_redis_need_no_session_table_and_can_move_back_to_sql() {
    let Some(redis_url) = redis_url() else { return };
    let in_redis = App::start_with(Config { redis_url: Some(redis_url), ..Config::default() }).await;
    let username = unique_name();
    let credentials = json!({ "username": username, "email": common::email_of(&username), "password": PASSWORD });
    let signed_up = in_redis.api().post(in_redis.url("/api/signup")).json(&credentials).send().await.unwrap();
    assert_eq!(signed_up.status(), StatusCode::CREATED);
    let token = api_sign_in(&in_redis, &username).await;
    assert_eq!(
        tables(&in_redis).await,
        ["key", "passkey", "passkey_challenge", "recovery_code", "seaql_migrations", "token", "totp", "user"],
        "no session table"
    );

    // Back to sessions in SQL on the same database: it gets a session table; the session
    // kept in Redis is not carried over (its user signs in again).
    let database_url = in_redis.sqlite_url();
    let in_sql = App::start_at(Config { database_url, ..Config::default() }).await;
    let old = in_sql.api().get(in_sql.url("/api/me")).header(AUTHORIZATION, format!("Bearer {token}"));
    assert_eq!(old.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    api_sign_in(&in_sql, &username).await;
    let mut db_tables = tables(&in_redis).await;
    db_tables.retain(|table| table == "session");
    assert_eq!(db_tables, ["session"]);
    drop(in_sql);
}

/// The acceptance test on two instances over one SQLite file and one Redis: the attempts
/// alternate between them, and both count every one of them (the throttle is in Redis).
#[tokio::test]
async fn two_instances_share_the_sign_in_throttle_in_redis() {
    let Some(redis_url) = redis_url() else { return };
    // Every request comes from 127.0.0.1: a per-IP budget above the test's sign-ins.
    let config = Config { redis_url: Some(redis_url), sign_in_burst: 100, ..Config::default() };
    let first = App::start_with(config.clone()).await;
    let second = App::start_at(Config { database_url: first.sqlite_url(), ..config }).await;
    common::twenty_wrong_passwords_are_throttled_while_another_account_signs_in(&[&first, &second]).await;
    drop(second);
}

/// The second factor with sessions in Redis: the TOTP row lives in the user store (SQL), and
/// the session the second step makes in Redis.
#[tokio::test]
async fn two_step_sign_in_with_sessions_in_redis() {
    let Some(redis_url) = redis_url() else { return };
    let app = App::start_with(Config { redis_url: Some(redis_url), ..Config::default() }).await;
    let username = unique_name();
    let credentials = json!({ "username": username, "email": common::email_of(&username), "password": PASSWORD });
    let signed_up = app.api().post(app.url("/api/signup")).json(&credentials).send().await.unwrap();
    assert_eq!(signed_up.status(), StatusCode::CREATED);
    let browser = app.browser();
    let form = [("username", username.as_str()), ("password", PASSWORD)];
    assert_eq!(browser.post(app.url("/login")).form(&form).send().await.unwrap().status(), StatusCode::SEE_OTHER);
    let enrolment = browser.post(app.url("/account/totp")).send().await.unwrap().text().await.unwrap();
    let secret = enrolment.split(r#"id="totp-secret">"#).nth(1).unwrap().split('<').next().unwrap().to_owned();
    let code = common::totp_code(&secret, common::now_seconds());
    let confirmed = browser.post(app.url("/account/totp/confirm")).form(&[("code", &code)]).send().await.unwrap();
    assert!(confirmed.text().await.unwrap().contains(r#"id="recovery-codes""#));

    let response = app.api().post(app.url("/api/login")).json(&credentials).send().await.unwrap();
    let pending = response.json::<Value>().await.unwrap()["pending_token"].as_str().unwrap().to_owned();
    let code = common::totp_code(&secret, common::now_seconds() + 30);
    let body = json!({ "pending_token": pending, "code": code });
    let response = app.api().post(app.url("/api/login/second-factor")).json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let token = response.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let me = app.api().get(app.url("/api/me")).header(AUTHORIZATION, format!("Bearer {token}")).send().await.unwrap();
    assert_eq!(me.json::<Value>().await.unwrap()["username"], username.as_str());
}
